"""Benchmark: dirty-day evaluation (hourly and daily AQI, both rule sets) in site-days/s.

Run from the checkout: ``.venv/bin/python -m benchmarks.bench_evaluate [--days 7]
[--stations 1600] [--repeat 2] [--profile OUT.prof]``.

Synthetic national archive day files (``benchmarks/make_archive.py``, nothing downloaded) are
imported into a fresh ledger once (``Ledger.write_observations``, as ``envmon import
--format cnemc-sites-csv`` does), which leaves every imported site-day dirty. That ledger is
kept as a template; each repetition evaluates a fresh copy of it with
:func:`~monitor.service.evaluate.evaluate_dirty` and the Hunnan settings
(``config/hunnan.toml``: areas ``hunnan`` and ``shenyang`` average some of the generated
stations, so area rows are written too), and reports site-days/s (best of the repetitions,
and each one).

Baseline: the evaluation as it was before issue 17 (pandas pivot and groupby per chunk,
row-wise writes), measured with this benchmark on the same machine; its figure is recorded
in README *Performance* with its date. ``--profile`` writes a cProfile of the first
repetition.
"""

from __future__ import annotations

import argparse
import cProfile
import shutil
import tempfile
import time
from datetime import date
from pathlib import Path

from benchmarks.bench_ledger_import import SOURCE, machine, peak_rss_mb
from benchmarks.make_archive import write_archive
from monitor.collectors.cnemc_sites_archive import parse_sites_csv
from monitor.ledger import Ledger
from monitor.service.evaluate import evaluate_dirty
from monitor.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent


def build_ledger(path: Path, archive: Path, days: int, stations: int) -> int:
    """Generate and import ``days`` day files; return the dirty site-days."""
    paths = write_archive(archive, days, stations, date(2025, 1, 1), 2026)
    with Ledger.open(path) as ledger:
        ledger.register_source(SOURCE, "cnemc-sites-csv", "measured")
        for file in paths:
            frame = parse_sites_csv(file.read_bytes(), name=file.name)
            ledger.write_observations(frame, SOURCE, requested=f"import {file}")
        ledger.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return len(ledger.dirty_days())


def main() -> None:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--stations", type=int, default=1600)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "hunnan.toml")
    parser.add_argument("--profile", type=Path, help="cProfile of the first repetition")
    args = parser.parse_args()
    settings = load_settings(args.config, {})
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="bench_evaluate_") as scratch:
        work = Path(scratch)
        template = work / "template.sqlite"
        begin = time.perf_counter()
        dirty = build_ledger(template, work / "archive", args.days, args.stations)
        print(
            f"{args.days} days × {args.stations} stations imported in "
            f"{time.perf_counter() - begin:.0f} s: {dirty:,} dirty site-days"
        )
        rates = []
        for run in range(args.repeat):
            copy = work / f"run{run}.sqlite"
            shutil.copyfile(template, copy)
            profiler = cProfile.Profile() if args.profile and run == 0 else None
            with Ledger.open(copy) as ledger:
                begin = time.perf_counter()
                if profiler is not None:
                    profiler.enable()
                report = evaluate_dirty(ledger, settings)
                if profiler is not None:
                    profiler.disable()
                seconds = time.perf_counter() - begin
                left = len(ledger.dirty_days())
            copy.unlink()
            rate = report.site_days / seconds
            rates.append(rate)
            print(
                f"run {run + 1}: {report.site_days:,} site-days, {report.hourly_rows:,} hourly"
                f" + {report.daily_rows:,} daily AQI rows, {report.qc_flagged:,} QC flags in "
                f"{seconds:.2f} s = {rate:,.0f} site-days/s ({left} dirty left)"
            )
            if profiler is not None and args.profile is not None:
                profiler.dump_stats(args.profile)
                print(f"  profile: {args.profile}")
    print(f"evaluation: best {max(rates):,.0f} site-days/s")
    print(f"peak RSS of this process: {peak_rss_mb():,.0f} MB")


if __name__ == "__main__":
    main()
