"""Benchmark: peak memory of ``envmon import --format long-csv|xlsx`` against the file's size.

Run from the checkout: ``.venv/bin/python -m benchmarks.bench_import_memory [--rows 5000000]
[--small 500000] [--chunk-rows N] [--folder DIR] [--format xlsx [--layout long|wide]]``
(files already in ``--folder``, by name, are reused).

A synthetic long CSV (``site,time,parameter,value,unit``: 100 stations × 6 air parameters,
hour after hour back from 2026-03-01, values with a unit to convert on a sixth of the rows;
nothing downloaded) of ``--rows`` rows and one of ``--small`` rows are written to a
temporary folder. Each is imported by ``python -m monitor --config … import --format
long-csv FILE`` in a fresh subprocess into a fresh ledger (evaluation included: it is part
of the command); the child's peak resident set (``ru_maxrss`` from ``os.wait4``) and its
wall time are reported, with rows/s.

Baselines measured in the same run, the same way:

a. **floor**: ``python -c "import monitor.cli, pandas, …"`` — the interpreter with the
   modules the import loads, doing nothing;
b. **whole file** (the path before issue 16): ``parse_long_csv(path.read_bytes())`` and one
   ``write_observations`` of the whole frame, on the small file only (it grew by about
   830 bytes a row: 5 M rows took 4.16 GB); its bytes/row are extrapolated to ``--rows``.

Aim (issue 16): the ``--rows`` = 5 M import peaks below 500 MB, and the peak does not grow
with the file (large − small ≈ 0). Linux or macOS (``ru_maxrss`` in KiB on Linux).

``--format xlsx``: the same measurement for an Excel workbook written by openpyxl in
write-only mode (:func:`write_xlsx`; the same stations, parameters and hours, times as Excel
date cells), ``--rows`` and ``--small`` counting **value cells** (default 2,000,000 and
500,000). ``--layout long`` (default): ``site, time, parameter, value, unit``, one value a
row, in sheets of at most 1,000,000 rows (Excel's limit is 1,048,576); ``--layout wide``:
``site, time, pm2_5, pm10, so2, no2, o3, co``, six values a row in canonical units. The
whole-file baseline (b) is ``parse_xlsx(path.read_bytes())`` and one write, the path of
``envmon import --format xlsx`` before it was streamed (commit 8671a41: 2 M cells took
2,305 MB in the long layout and 1,725 MB in the wide one, growing 1,059 and 784 bytes a
cell). Aim: the 2 M-cell import peaks well below 500 MB and does not grow with the workbook.

``--format daily-aqi-csv``: the reader of the bureau's audited daily AQI files
(:func:`monitor.collectors.bureau_csv.parse_daily_aqi_csv`, what ``envmon import --format
daily-aqi-csv`` runs before writing), on a **quoted** file (every cell in quotes, CRLF, 10
areas, Chinese category and pollutant texts) of ``--rows`` rows (default 200,000) and one
of ``--small`` (default 100,000), each read in a fresh subprocess: peak RSS, wall and CPU
time, and the peak's growth per row. The floor is the interpreter with pandas and the
reader's module imported and the file's bytes read. The rows it returns (one frame row
each) are part of the peak; what the reading itself holds is in
``tests/collectors/test_bureau_csv_read.py`` (tracemalloc).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import openpyxl  # type: ignore[import-untyped, unused-ignore]
import pandas as pd

from monitor.collectors.long_csv import CHUNK_ROWS

CONFIG = """\
[district]
name = "Benchmark District"
name_zh = "基准区"

[ledger]
path = "{ledger}"

[[areas]]
id = "bench"
name = "Benchmark District"
name_zh = "基准区"
"""
PARAMETERS = ("pm2_5", "pm10", "so2", "no2", "o3", "co")
STATIONS = 100
FLOOR = "import monitor.cli, monitor.service.pipeline, monitor.service.evaluate, pandas"


def whole_file_import(module: str, parser: str, file_format: str) -> str:
    """The baseline script: ``parser`` (of ``monitor.collectors.<module>``) reads the whole
    file's bytes, then one intake check and one write, as before streaming."""
    source = f"import_{file_format.replace('-', '_')}"
    return f"""\
{FLOOR}
import sys
from pathlib import Path
from monitor.collectors.intake import admit
from monitor.collectors.{module} import {parser}
from monitor.ledger import Ledger
path = Path(sys.argv[1])
frame, warnings = {parser}(path.read_bytes(), str(path))
frame, refused = admit(frame)
with Ledger.open(Path(sys.argv[2])) as ledger:
    ledger.register_source("{source}", "{file_format}", "measured")
    ledger.write_observations(frame, "{source}", requested=f"import {{path}}")
"""


#: Data rows per sheet of the long-layout workbook (Excel holds 1,048,576 rows a sheet).
SHEET_ROWS = 1_000_000


def write_long_csv(path: Path, rows: int, block_hours: int = 2000) -> None:
    """``rows`` rows of hourly air values, written block by block (bounded memory here too)."""
    per_hour = STATIONS * len(PARAMETERS)
    hours = -(-rows // per_hour)
    first = pd.Timestamp("2026-03-01 00:00") - pd.Timedelta(hours=hours)
    sites = np.array([f"B{i:04d}" for i in range(STATIONS)])
    rng = np.random.default_rng(16)
    written = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("site,time,parameter,value,unit\n")
        for start in range(0, hours, block_hours):
            n_hours = min(block_hours, hours - start)
            times = pd.date_range(first + pd.Timedelta(hours=start), periods=n_hours, freq="h")
            labels = np.repeat(times.strftime("%Y-%m-%dT%H:%M").to_numpy(), per_hour)
            site = np.tile(np.repeat(sites, len(PARAMETERS)), n_hours)
            parameter = np.tile(np.array(PARAMETERS), STATIONS * n_hours)
            values = rng.gamma(2.0, 20.0, len(labels)).round(1)
            co = parameter == "co"
            unit = np.where(co, "ug/m3", "")  # CO in µg/m³: converted to mg/m³
            values[co] = (values[co] * 20).round(0)
            take = min(len(labels), rows - written)
            frame = pd.DataFrame(
                {
                    "site": site[:take],
                    "time": labels[:take],
                    "parameter": parameter[:take],
                    "value": values[:take],
                    "unit": unit[:take],
                }
            )
            frame.to_csv(out, header=False, index=False)
            written += take
            if written >= rows:
                break


def write_xlsx(path: Path, cells: int, layout: str = "long") -> None:
    """``cells`` value cells of hourly air values in an .xlsx workbook (openpyxl write-only,
    streamed to disk): ``layout`` ``"long"`` (one value a row, sheets of :data:`SHEET_ROWS`
    rows) or ``"wide"`` (one row per station and hour, a column per parameter)."""
    per_hour = STATIONS * len(PARAMETERS)
    hours = -(-cells // per_hour)
    first = datetime(2026, 3, 1) - timedelta(hours=hours)
    sites = [f"B{i:04d}" for i in range(STATIONS)]
    rng = np.random.default_rng(16)
    book = openpyxl.Workbook(write_only=True)
    sheet = None
    written = rows = 0
    for hour in range(hours):
        moment = first + timedelta(hours=hour)
        values = rng.gamma(2.0, 20.0, per_hour).round(1).tolist()
        for s, site in enumerate(sites):
            if layout == "wide":
                if sheet is None:
                    sheet = book.create_sheet("data")
                    sheet.append(["site", "time", *PARAMETERS])
                row = values[s * len(PARAMETERS) : (s + 1) * len(PARAMETERS)]
                take = min(len(row), cells - written)
                row[-1] = round(row[-1] / 50, 3)  # co in mg/m³ (canonical in the wide layout)
                sheet.append([site, moment, *row[:take]])
                written += take
            else:
                for p, parameter in enumerate(PARAMETERS):
                    if written >= cells:
                        break
                    if sheet is None or rows == SHEET_ROWS:
                        sheet = book.create_sheet(f"data{len(book.worksheets) + 1}")
                        sheet.append(["site", "time", "parameter", "value", "unit"])
                        rows = 0
                    value = values[s * len(PARAMETERS) + p]
                    if parameter == "co":  # CO in µg/m³: converted to mg/m³
                        sheet.append([site, moment, parameter, round(value * 20), "ug/m3"])
                    else:
                        sheet.append([site, moment, parameter, value, None])
                    written += 1
                    rows += 1
            if written >= cells:
                break
    book.save(path)


def peak(command: list[str], cwd: Path) -> tuple[float, float, int]:
    """Run ``command``; its peak RSS (MB), wall time (s) and exit code."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    assert process.stdout is not None and process.stderr is not None
    out, err = process.stdout.read(), process.stderr.read()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        print(out.decode(errors="replace"), err.decode(errors="replace")[-2000:], file=sys.stderr)
    scale = 1024 if sys.platform != "darwin" else 1024 * 1024  # Linux: KiB; macOS: bytes
    return usage.ru_maxrss * scale / 1e6, elapsed, code


def import_peak(
    folder: Path, csv: Path, name: str, chunk_rows: int, file_format: str = "long-csv"
) -> tuple[float, float]:
    config = folder / f"{name}.toml"
    config.write_text(CONFIG.format(ledger=folder / f"{name}.sqlite"), encoding="utf-8")
    env_code = (
        "import sys, monitor.service.pipeline as p;"
        f"p.import_files.__kwdefaults__['chunk_rows'] = {chunk_rows};"
        "from monitor.cli import main; sys.exit(main())"
    )
    command = [sys.executable, "-c", env_code, "--config", str(config)]
    command += ["import", "--format", file_format, str(csv)]
    mb, seconds, code = peak(command, Path.cwd())
    if code != 0:
        raise SystemExit(f"envmon import of {csv} failed with exit code {code}")
    return mb, seconds


def write_quoted_daily_aqi(path: Path, rows: int) -> None:
    """``rows`` rows of a quoted daily-AQI file: 10 areas a day, back from 2026-02-28."""
    first = datetime(2026, 3, 1) - timedelta(days=-(-rows // 10))
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write('"area","date","aqi","category","primary_pollutants","dust"\r\n')
        for i in range(rows):
            day = first + timedelta(days=i // 10)
            out.write(
                f'"a{i % 10}","{day:%Y-%m-%d}","{i % 300}","良",'
                '"细颗粒物(PM2.5),颗粒物(PM10)","false"\r\n'
            )


_READ_DAILY_AQI = """\
import resource, sys, time
from pathlib import Path
import pandas
from monitor.collectors.bureau_csv import parse_daily_aqi_csv
data = Path(sys.argv[1]).read_bytes()
if sys.argv[2] == "read":
    started, cpu = time.perf_counter(), time.process_time()
    frame, warnings = parse_daily_aqi_csv(data, "q.csv", [f"a{i}" for i in range(10)])
    print(len(frame), len(warnings), time.perf_counter() - started, time.process_time() - cpu)
else:
    print(0, 0, 0.0, 0.0)
"""


def daily_aqi_peaks(folder: Path, rows: int, small: int) -> None:
    """:func:`parse_daily_aqi_csv` of quoted files of ``small`` and ``rows`` rows: peak RSS,
    times and growth per row (see the module's docstring)."""
    files = {n: folder / f"daily_aqi_{n}.csv" for n in (small, rows)}
    for n, path in files.items():
        if not path.exists():
            write_quoted_daily_aqi(path, n)
    print(
        f"quoted daily-AQI files: {small:,} and {rows:,} rows "
        f"({files[rows].stat().st_size / 1e6:,.0f} MB)"
    )
    floor, _, _ = peak([sys.executable, "-c", _READ_DAILY_AQI, str(files[rows]), "floor"], folder)
    print(f"floor (modules imported, the {rows:,}-row file's bytes read): peak {floor:,.0f} MB")
    peaks = {}
    for n, path in files.items():
        command = [sys.executable, "-c", _READ_DAILY_AQI, str(path), "read"]
        started = time.perf_counter()
        done = subprocess.run(command, check=True, capture_output=True, text=True, cwd=Path.cwd())
        kept, warned, wall, cpu = done.stdout.split()
        mb, _, _ = peak(command, Path.cwd())
        peaks[n] = mb
        print(
            f"{n:,} rows: {kept} kept, {warned} warnings; {float(wall):.2f} s wall, "
            f"{float(cpu):.2f} s CPU ({n / float(cpu):,.0f} rows per CPU-second; "
            f"{time.perf_counter() - started:.1f} s with start-up), peak {mb:,.0f} MB"
        )
    growth = peaks[rows] - peaks[small]
    print(
        f"growth from {small:,} to {rows:,} rows: {growth:+,.0f} MB "
        f"({growth * 1e6 / (rows - small):,.0f} bytes/row, the returned rows included)"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--format", choices=["long-csv", "xlsx", "daily-aqi-csv"], default="long-csv"
    )
    parser.add_argument("--layout", choices=["long", "wide"], default="long")
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--small", type=int, default=500_000)
    parser.add_argument("--chunk-rows", type=int, default=CHUNK_ROWS)
    parser.add_argument("--folder", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.format == "daily-aqi-csv":
        with tempfile.TemporaryDirectory() as tmp:
            folder = args.folder or Path(tmp)
            folder.mkdir(parents=True, exist_ok=True)
            small = args.small if args.small != 500_000 else 100_000
            daily_aqi_peaks(folder, args.rows or 200_000, small)
        return
    xlsx = args.format == "xlsx"
    aim = 2_000_000 if xlsx else 5_000_000
    if args.rows is None:
        args.rows = aim
    unit = "value cells" if xlsx else "rows"
    per = "cell" if xlsx else "row"
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.folder or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        suffix = f"{args.layout}.xlsx" if xlsx else "csv"
        large = folder / f"long_{args.rows}.{suffix}"
        small = folder / f"long_{args.small}.{suffix}"
        started = time.perf_counter()
        # In a child: the peak of this process would show in the children's ru_maxrss
        # (a forked child starts with its parent's resident pages).
        for path, rows in ((large, args.rows), (small, args.small)):
            if args.folder is not None and path.exists():  # from an earlier run: reused
                continue
            writer = "write_xlsx" if xlsx else "write_long_csv"
            write = f"from benchmarks.bench_import_memory import {writer} as w; import sys"
            extra = f", {args.layout!r}" if xlsx else ""
            call = f"w(__import__('pathlib').Path(sys.argv[1]), {rows}{extra})"
            subprocess.run([sys.executable, "-c", f"{write}; {call}", str(path)], check=True)
        print(
            f"files ({args.format}{f', {args.layout} layout' if xlsx else ''}): "
            f"{args.rows:,} {unit} ({large.stat().st_size / 1e6:,.0f} MB) and "
            f"{args.small:,} {unit} ({small.stat().st_size / 1e6:,.0f} MB), written in "
            f"{time.perf_counter() - started:.0f} s; chunk {args.chunk_rows:,} rows"
        )
        print(f"python {platform.python_version()}, pandas {pd.__version__}, {platform.machine()}")
        floor, _, _ = peak([sys.executable, "-c", FLOOR], folder)
        print(f"a. floor (interpreter + modules, doing nothing): peak {floor:,.0f} MB")
        baseline = (
            whole_file_import("xlsx_import", "parse_xlsx", "xlsx")
            if xlsx
            else whole_file_import("long_csv", "parse_long_csv", "long-csv")
        )
        whole, whole_s, code = peak(
            [sys.executable, "-c", baseline, str(small), str(folder / "whole.sqlite")], Path.cwd()
        )
        per_row = (whole - floor) * 1e6 / args.small
        print(
            f"b. whole-file path, {args.small:,} {unit}: peak {whole:,.0f} MB (exit {code}, "
            f"{whole_s:,.0f} s without evaluation), "
            f"{per_row:,.0f} bytes/{per} above the floor → about "
            f"{(floor + per_row * args.rows / 1e6) / 1e3:,.1f} GB for {args.rows:,} {unit}"
        )
        results = {}
        for name, path, rows in (("small", small, args.small), ("large", large, args.rows)):
            mb, seconds = import_peak(folder, path, name, args.chunk_rows, args.format)
            results[name] = mb
            print(
                f"envmon import, {rows:,} {unit}: peak {mb:,.0f} MB ({mb - floor:,.0f} MB above "
                f"the floor), {seconds:,.0f} s, {rows / seconds:,.0f} {unit}/s (evaluation "
                "included)"
            )
        growth = results["large"] - results["small"]
        print(
            f"growth from {args.small:,} to {args.rows:,} {unit}: {growth:+,.0f} MB "
            f"({growth * 1e6 / (args.rows - args.small):,.1f} bytes/{per}; whole file: "
            f"{per_row:,.0f}); aim < 500 MB at {aim / 1e6:,.0f} M {unit}: "
            + (
                ("met" if results["large"] < 500 else "NOT met")
                if args.rows >= aim
                else f"not measured (use --rows {aim})"
            )
        )


if __name__ == "__main__":
    main()
