"""Benchmark: dirty-day evaluation (hourly and daily AQI, both rule sets) in site-days/s.

Run from the checkout: ``.venv/bin/python -m benchmarks.bench_evaluate [--days 7]
[--stations 1600] [--start 2026-02-26] [--repeat 3] [--baseline-commit 0e1012a |
--baseline-tree DIR | --no-baseline] [--profile OUT.prof] [--overlap auto|on|off]``.

Synthetic national archive day files (``benchmarks/make_archive.py``, nothing downloaded) are
imported into a fresh ledger once (``Ledger.write_observations``, as ``envmon import
--format cnemc-sites-csv`` does), which leaves every imported site-day dirty. That ledger is
kept as a template; each repetition evaluates a fresh copy of it with
:func:`~monitor.service.evaluate.evaluate_dirty` and the Hunnan settings
(``config/hunnan.toml``: areas ``hunnan`` and ``shenyang`` average some of the generated
stations, so area rows are written too), and reports site-days/s (best of the repetitions,
and each one, with the load average and the CPU seconds of the evaluation: the machine is
shared). Every site-day gets hourly and daily AQI under both rule sets (HJ 633-2012 and
HJ 633-2026); the default dates straddle 2026-03-01, so each is the official one on some
days. The rows written per table and rule set are printed.

Baseline (named, measured in the same run, alternating with the new code on copies of the
same ledger): **commit 0e1012a**, the evaluation before the read-ahead and background
writes (issue 17): one thread reads each chunk's window (column-wise ``group_concat``,
overlap reused), evaluates it and writes its rows (column-wise, 64 rows to a statement).
Its ``monitor`` package is taken from git (``git archive 0e1012a monitor config``) into a
scratch folder and run in a child process; ``--baseline-tree DIR`` uses a copy made by
hand, ``--no-baseline`` skips it. Earlier baselines: commit 6ab6cca (before the issue 17
evaluation work), commit 28943bf (before issue 17).
The first repetition's results are compared row for row with the baseline's (every derived
table, the publishing outbox, the dirty days and the evaluation failures; ``computed_at``
aside). ``--profile`` writes a cProfile of the first repetition of the new code.
``--overlap on`` (or ``off``) has both the new code and the baseline read ahead and write
in background threads (or not) whatever the load (``evaluate_dirty(overlap=…)``; default
``auto``: each run decides by :func:`~monitor.service.evaluate.core_free`, so on a busy
machine the two may differ in whether they overlap; a baseline without the option, as
commit 0e1012a, runs as it is).
``--floor`` then measures, in a child process on copies of the same ledger, what SQLite
alone costs the evaluation (its read queries, its writes of the rows the first repetition
wrote, the same hourly rows written one row per site, day and rule set) and the ceiling
that leaves: :mod:`benchmarks.evaluate_floor`.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from benchmarks.bench_ledger_import import SOURCE, machine, peak_rss_mb
from benchmarks.make_archive import write_archive
from monitor.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent


#: The evaluation before the read-ahead and background writes (the named baseline).
BASELINE_COMMIT = "0e1012a"


def build_ledger(
    path: Path,
    archive: Path,
    days: int,
    stations: int,
    start: date = date(2026, 2, 26),
    tree: Path = ROOT,
) -> int:
    """Generate ``days`` day files from ``start`` and import them with the code in ``tree``
    (a child process): the ledger then has the schema of the oldest code that evaluates it,
    since a newer envmon migrates a copy when it opens it (before the timing), while an older
    one refuses a newer schema. Return the dirty site-days."""
    paths = write_archive(archive, days, stations, start, 2026)
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_SCRIPT, str(path), SOURCE, *map(str, paths)],
        cwd=tree,
        check=True,
        capture_output=True,
        text=True,
    )
    return int(done.stdout.split()[-1])


#: Run in a code tree: import day files of the national archive into a new ledger (argv[1]),
#: source argv[2]; print the dirty site-days.
IMPORT_SCRIPT = """
import sys
from pathlib import Path
from monitor.collectors.cnemc_sites_archive import parse_sites_csv
from monitor.ledger import Ledger
with Ledger.open(Path(sys.argv[1])) as ledger:
    ledger.register_source(sys.argv[2], "cnemc-sites-csv", "measured")
    for name in sys.argv[3:]:
        file = Path(name)
        frame = parse_sites_csv(file.read_bytes(), name=file.name)
        ledger.write_observations(frame, sys.argv[2], requested=f"import {file}")
    ledger.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    print(len(ledger.dirty_days()))
"""


#: Run in a code tree: evaluate a ledger (argv[3]: overlap auto, on or off; cProfile to
#: argv[4] if given); print site-days,
#: hourly rows, daily rows, QC flags, seconds, CPU seconds (every thread) and CPU seconds of
#: the calling thread (the rest ran in the read-ahead and writing threads).
EVALUATE_SCRIPT = """
import cProfile, inspect, sys, time
from pathlib import Path
from monitor.ledger import Ledger
from monitor.service.evaluate import evaluate_dirty
from monitor.settings import load_settings
settings = load_settings(Path(sys.argv[2]), {})
overlap = {"auto": None, "on": True, "off": False}[sys.argv[3]]
profiler = cProfile.Profile() if len(sys.argv) > 4 else None
with Ledger.open(Path(sys.argv[1])) as ledger:
    begin, cpu, own = time.perf_counter(), time.process_time(), time.thread_time()
    if profiler is not None:
        profiler.enable()
    # (a baseline older than the read-ahead has no ``overlap``: it never overlaps)
    takes = "overlap" in inspect.signature(evaluate_dirty).parameters
    report = evaluate_dirty(ledger, settings, **({"overlap": overlap} if takes else {}))
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(sys.argv[4])
    seconds, cpu = time.perf_counter() - begin, time.process_time() - cpu
    own = time.thread_time() - own
    left = len(ledger.dirty_days())
    print(report.site_days, report.hourly_rows, report.daily_rows, report.qc_flagged, left,
          seconds, cpu, own)
"""


def evaluate(
    tree: Path,
    template: Path,
    copy: Path,
    config: Path,
    profile: Path | None = None,
    overlap: str = "auto",
) -> tuple[list[int], float, float, float]:
    """Evaluate a fresh copy of ``template`` with the code in ``tree`` (a child process, so
    the new code and the baseline run alike): (site-days, hourly rows, daily rows, QC
    flags, dirty left), seconds, CPU seconds, CPU seconds of the calling thread."""
    shutil.copyfile(template, copy)
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            EVALUATE_SCRIPT,
            str(copy),
            str(config),
            overlap,
            *([str(profile)] if profile else []),
        ],
        cwd=tree,
        check=True,
        capture_output=True,
        text=True,
    )
    *counts, seconds, cpu, own = done.stdout.split()
    return [int(c) for c in counts], float(seconds), float(cpu), float(own)


def baseline_tree(commit: str, into: Path) -> Path | None:
    """The ``monitor`` package and ``config`` of ``commit`` extracted into ``into`` (None,
    with a message, when this is not a git checkout)."""
    into.mkdir(parents=True, exist_ok=True)
    try:
        archive = subprocess.run(
            ["git", "archive", commit, "monitor", "config"],
            cwd=ROOT,
            check=True,
            capture_output=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    except (OSError, subprocess.CalledProcessError) as err:
        print(f"baseline {commit} not measured: cannot extract it with git ({err})")
        return None
    return into


def load() -> str:
    """The 1-minute load average (the machine is shared)."""
    return f"load {os.getloadavg()[0]:.2f}"


#: What an evaluation writes, in key order (``computed_at``, the time of writing, aside).
DERIVED_QUERIES = {
    "hourly_aqi": "SELECT * FROM hourly_aqi ORDER BY site, period_end, standard",
    "daily_aqi": "SELECT * FROM daily_aqi ORDER BY site, date, standard",
    "qc_flags": "SELECT * FROM qc_flags ORDER BY site, parameter, period_end",
    "water_classes": "SELECT * FROM water_classes ORDER BY site, period_end",
    "outbox": "SELECT kind, key, day FROM outbox ORDER BY kind, key, day",
    "dirty_days": "SELECT site, date FROM dirty_days ORDER BY site, date",
    "evaluation_failures": "SELECT site, date, scope, error FROM evaluation_failures "
    "ORDER BY site, date",
}


def differences(baseline: Path, new: Path) -> list[str]:
    """Tables whose rows differ between two evaluated ledgers (empty: identical), compared
    row by row as the two cursors go (never a table in memory)."""
    different = []
    with sqlite3.connect(baseline) as old, sqlite3.connect(new) as db:
        for table, query in DERIVED_QUERIES.items():
            first, second = old.execute(query), db.execute(query)
            names = [d[0] for d in first.description]
            keep = [i for i, name in enumerate(names) if name != "computed_at"]
            for a, b in itertools.zip_longest(first, second):
                if a is None or b is None or [a[i] for i in keep] != [b[i] for i in keep]:
                    different.append(f"{table} (first: {a} vs {b})")
                    break
    return different


def written(path: Path) -> str:
    """Rows of each derived table per rule set (and how many are the official ones)."""
    with sqlite3.connect(path) as db:
        parts = []
        for table in ("hourly_aqi", "daily_aqi"):
            rows = db.execute(
                f"SELECT standard, count(*), sum(official) FROM {table} GROUP BY standard"
            ).fetchall()
            parts += [f"{table} {s}: {n:,} ({o:,} official)" for s, n, o in rows]
    return "; ".join(parts)


def floor(
    template: Path, evaluated: Path, config: Path, repeat: int, rate: float, cpu: float
) -> None:
    """What SQLite alone costs the evaluation of ``template`` (``evaluated``: a copy the new
    code evaluated), in a child process (:mod:`benchmarks.evaluate_floor`); printed."""
    print(f"floor: measuring on copies of the same ledger ({load()})", flush=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.evaluate_floor",
            str(template),
            str(evaluated),
            "--config",
            str(config),
            "--repeat",
            str(repeat),
            "--rate",
            str(rate),
            "--cpu",
            str(cpu),
        ],
        cwd=ROOT,
        check=True,
    )


def main() -> None:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--stations", type=int, default=1600)
    parser.add_argument("--start", type=date.fromisoformat, default=date(2026, 2, 26))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "hunnan.toml")
    parser.add_argument("--profile", type=Path, help="cProfile of the first repetition")
    parser.add_argument("--baseline-commit", default=BASELINE_COMMIT)
    parser.add_argument("--baseline-tree", type=Path, help="a copy of the baseline's code")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--overlap", choices=("auto", "on", "off"), default="auto")
    parser.add_argument("--floor", action="store_true", help="also what SQLite alone costs")
    args = parser.parse_args()
    args.config = args.config.resolve()  # the baseline runs in another folder
    load_settings(args.config, {})  # a bad config fails here, before the import
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="bench_evaluate_") as scratch:
        work = Path(scratch)
        tree: Path | None = None
        if not args.no_baseline:
            tree = args.baseline_tree or baseline_tree(args.baseline_commit, work / "baseline")
        name = f"baseline (commit {args.baseline_commit})" if tree else ""
        if args.baseline_tree:
            name = f"baseline ({args.baseline_tree})"
        template = work / "template.sqlite"
        begin = time.perf_counter()
        dirty = build_ledger(
            template,
            work / "archive",
            args.days,
            args.stations,
            args.start,
            (tree or ROOT).resolve(),
        )
        print(
            f"{args.days} days × {args.stations} stations from {args.start} imported in "
            f"{time.perf_counter() - begin:.0f} s: {dirty:,} dirty site-days"
        )
        rates = []
        cpus = []
        baselines = []
        for run in range(args.repeat):
            if tree is not None:
                copy = work / f"baseline{run}.sqlite"
                counts, seconds, cpu, own = evaluate(
                    tree.resolve(), template, copy, args.config, overlap=args.overlap
                )
                if run:
                    copy.unlink()  # the first is compared with the new code's result
                baselines.append(counts[0] / seconds)
                print(
                    f"run {run + 1}, {name}: {baselines[-1]:,.0f} site-days/s "
                    f"({seconds:.2f} s, {cpu:.2f} s CPU, {own:.2f} s of it on the calling "
                    f"thread; {load()})",
                    flush=True,
                )
            copy = work / f"run{run}.sqlite"
            profile = args.profile.resolve() if args.profile and run == 0 else None
            counts, seconds, cpu, own = evaluate(
                ROOT, template, copy, args.config, profile, args.overlap
            )
            site_days, hourly, daily, flags, left = counts
            rows = written(copy)
            if run == 0 and tree is not None:
                different = differences(work / "baseline0.sqlite", copy)
                print(
                    "  derived tables, ledger outbox and dirty days: "
                    + ("identical to the baseline's" if not different else "DIFFERENT: ")
                    + ", ".join(different),
                    flush=True,
                )
            if run or not args.floor:
                copy.unlink()  # (the first is the floor's evaluated ledger)
            rates.append(site_days / seconds)
            cpus.append(cpu)
            print(
                f"run {run + 1}: {site_days:,} site-days, {hourly:,} hourly + {daily:,} daily "
                f"AQI rows, {flags:,} QC flags in {seconds:.2f} s ({cpu:.2f} s CPU, {own:.2f} s "
                f"of it on the calling thread) = "
                f"{rates[-1]:,.0f} site-days/s ({left} dirty left; {load()})",
                flush=True,
            )
            if run == 0:
                print(f"  written: {rows}")
            if profile is not None:
                print(f"  profile: {profile}")
        if args.floor:
            floor(template, work / "run0.sqlite", args.config, args.repeat, max(rates), min(cpus))
    print(f"evaluation: best {max(rates):,.0f} site-days/s")
    if baselines:
        print(
            f"{name}: best {max(baselines):,.0f} site-days/s; "
            f"ratio {max(rates) / max(baselines):.2f}× (best against best)"
        )
    print(f"peak RSS of this process (the import): {peak_rss_mb():,.0f} MB")


if __name__ == "__main__":
    main()
