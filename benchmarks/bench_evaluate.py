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

Baseline: the evaluation as it was before issue 17 (row-by-row read, pandas pivot and a
per-site ``groupby`` lambda, chunks of 4,000 site-days). With ``--baseline-tree DIR`` (a copy
of that code: ``git archive 28943bf monitor config | tar -x -C DIR``) each repetition also
evaluates a fresh copy of the same ledger with that code, in a child process whose
``monitor`` package comes from DIR, and the ratio is printed; its figure is also recorded in
README *Performance* with its date. ``--profile`` writes a cProfile of the first repetition.
"""

from __future__ import annotations

import argparse
import cProfile
import shutil
import subprocess
import sys
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


#: Run in the baseline tree: evaluate a ledger, print site-days and seconds.
BASELINE_SCRIPT = """
import sys, time
from pathlib import Path
from monitor.ledger import Ledger
from monitor.service.evaluate import evaluate_dirty
from monitor.settings import load_settings
settings = load_settings(Path(sys.argv[2]), {})
with Ledger.open(Path(sys.argv[1])) as ledger:
    begin = time.perf_counter()
    report = evaluate_dirty(ledger, settings)
    print(report.site_days, time.perf_counter() - begin)
"""


def baseline(tree: Path, ledger: Path, config: Path) -> float:
    """Site-days/s of the code in ``tree`` evaluating ``ledger`` (a child process)."""
    done = subprocess.run(
        [sys.executable, "-c", BASELINE_SCRIPT, str(ledger), str(config)],
        cwd=tree,
        check=True,
        capture_output=True,
        text=True,
    )
    site_days, seconds = done.stdout.split()
    return int(site_days) / float(seconds)


def main() -> None:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--stations", type=int, default=1600)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "hunnan.toml")
    parser.add_argument("--profile", type=Path, help="cProfile of the first repetition")
    parser.add_argument(
        "--baseline-tree", type=Path, help="the code before issue 17, evaluated in each run"
    )
    args = parser.parse_args()
    args.config = args.config.resolve()  # the baseline runs in another folder
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
        baselines = []
        for run in range(args.repeat):
            if args.baseline_tree is not None:
                copy = work / f"baseline{run}.sqlite"
                shutil.copyfile(template, copy)
                baselines.append(baseline(args.baseline_tree.resolve(), copy, args.config))
                copy.unlink()
                print(f"run {run + 1}, baseline: {baselines[-1]:,.0f} site-days/s", flush=True)
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
                f"{seconds:.2f} s = {rate:,.0f} site-days/s ({left} dirty left)",
                flush=True,
            )
            if profiler is not None and args.profile is not None:
                profiler.dump_stats(args.profile)
                print(f"  profile: {args.profile}")
    print(f"evaluation: best {max(rates):,.0f} site-days/s")
    if baselines:
        print(
            f"baseline (code before issue 17): best {max(baselines):,.0f} site-days/s; "
            f"ratio {max(rates) / max(baselines):.1f}×"
        )
    print(f"peak RSS of this process: {peak_rss_mb():,.0f} MB")


if __name__ == "__main__":
    main()
