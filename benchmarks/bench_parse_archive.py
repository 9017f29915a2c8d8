"""Benchmark: parsing ``china_sites_YYYYMMDD.csv`` day files, against a per-row csv loop.

Run from the checkout: ``.venv/bin/python -m benchmarks.bench_parse_archive [--folder DIR]
[--days 30] [--stations 1600] [--baseline-days 5]``. Without ``--folder``, synthetic day files are
generated with ``benchmarks/make_archive.py`` into a temporary folder first.

Both sides turn the same file bytes (read into memory beforehand, so disk speed does not
count) into the same observations frame (checked equal on the baseline's files). The
baseline is the straightforward way: ``csv.reader`` row by row, ``float()`` per cell, lists
of Python objects, one DataFrame at the end. envmon is
:func:`monitor.collectors.cnemc_sites_archive.parse_sites_csv`. Both run on one core in the
same process; the ratio is the speed-up in observations per second.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import platform
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd

from benchmarks.make_archive import write_archive
from monitor.collectors.cnemc_sites_archive import FIELD_MAP, parse_sites_csv
from monitor.domain.units import CANONICAL_UNITS

BEIJING = timedelta(hours=8)


def baseline_parse(data: bytes) -> pd.DataFrame:
    """The straightforward parser: csv.reader, a Python loop over every cell."""
    reader = csv.reader(io.StringIO(data.decode("utf-8-sig")))
    header = next(reader)
    codes = header[3:]
    site, parameter, unit, start, end, value = [], [], [], [], [], []
    for row in reader:
        if not row or row[2] not in FIELD_MAP:
            continue
        name = FIELD_MAP[row[2]][0]
        label = datetime.strptime(row[0], "%Y%m%d") + timedelta(hours=int(row[1])) - BEIJING
        for code, cell in zip(codes, row[3:], strict=True):
            if not cell:
                continue
            try:
                number = float(cell)
            except ValueError:
                continue
            if number < 0:
                continue
            site.append(code)
            parameter.append(name)
            unit.append(CANONICAL_UNITS[name])
            start.append(label - timedelta(hours=1))
            end.append(label)
            value.append(number)
    return pd.DataFrame(
        {
            "site": pd.array(site, dtype="str"),
            "parameter": pd.array(parameter, dtype="str"),
            "unit": pd.array(unit, dtype="str"),
            "period_start": pd.to_datetime(start).as_unit("ns").tz_localize("UTC"),
            "period_end": pd.to_datetime(end).as_unit("ns").tz_localize("UTC"),
            "value": value,
            "flags": pd.array([""] * len(value), dtype="str"),
        }
    )


def timed(parse: object, files: list[bytes]) -> tuple[float, int]:
    """Seconds and observation count for parsing every file once."""
    assert callable(parse)
    count = 0
    begin = time.perf_counter()
    for data in files:
        count += len(parse(data))
    return time.perf_counter() - begin, count


def main() -> None:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, help="folder of china_sites_*.csv files")
    parser.add_argument("--days", type=int, default=30, help="files to generate/parse")
    parser.add_argument("--stations", type=int, default=1600)
    parser.add_argument("--baseline-days", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        folder = args.folder
        if folder is None:
            folder = Path(scratch)
            write_archive(folder, args.days, args.stations, date(2025, 1, 1), 2026)
        paths = sorted(folder.glob("china_sites_*.csv"))[: args.days]
        files = [p.read_bytes() for p in paths]
    if not files:
        raise SystemExit(f"no china_sites_*.csv files in {folder}")
    checked = files[: args.baseline_days]
    for data in checked:
        pd.testing.assert_frame_equal(parse_sites_csv(data), baseline_parse(data))

    envmon = min(timed(parse_sites_csv, files) for _ in range(args.repeats))
    baseline = min(timed(baseline_parse, checked) for _ in range(args.repeats))
    envmon_rate = envmon[1] / envmon[0]
    baseline_rate = baseline[1] / baseline[0]
    megabytes = sum(len(f) for f in files) / 1e6
    print(f"python {platform.python_version()}, pandas {pd.__version__}, cpus {os.cpu_count()}")
    print(f"files: {len(files)} days ({megabytes:.0f} MB), {envmon[1]:,} observations")
    print(
        f"envmon parse_sites_csv: {envmon[0]:.2f} s, {envmon_rate / 1e6:.2f} M observations/s, "
        f"{envmon[0] / len(files) * 1000:.0f} ms per day file"
    )
    print(
        f"baseline csv.reader loop ({len(checked)} files): {baseline[0]:.2f} s, "
        f"{baseline_rate / 1e6:.2f} M observations/s"
    )
    print(f"ratio: {envmon_rate / baseline_rate:.1f}× (identical frames on the baseline's files)")


if __name__ == "__main__":
    main()
