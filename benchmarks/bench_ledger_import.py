"""Benchmark: importing national archive day files into the ledger, against a bare SQLite upsert.

Run from the checkout: ``.venv/bin/python -m benchmarks.bench_ledger_import [--days 365]
[--stations 1600] [--corrected-days 3] [--folder DIR] [--profile OUT.prof]``.

Synthetic ``china_sites_YYYYMMDD.csv`` day files (``benchmarks/make_archive.py``, nothing
downloaded) are written to a temporary folder, then imported the way ``envmon import
--format cnemc-sites-csv`` does it, one day file at a time (memory stays bounded by one day):

a. **ingest**: read + :func:`~monitor.collectors.cnemc_sites_archive.parse_sites_csv` +
   :meth:`~monitor.ledger.Ledger.write_observations` per file, into a fresh ledger, without
   evaluation (observations/s; parse and write are also timed apart);
b. **evaluation**: :func:`~monitor.service.evaluate.evaluate_dirty` of everything ingested,
   with the Hunnan settings (``config/hunnan.toml``), in site-days/s and seconds — the
   ``envmon import`` command does a + b;
c. **baseline** "bare SQLite upsert", measured in the same run on the same rows: the same
   observation tuples (built from the same frame, the way the ledger builds them) go through
   one ``executemany("INSERT OR REPLACE …")`` per file, one transaction per file, into a
   table with the same columns and primary key (``WITHOUT ROWID``, same pragmas) but without
   the ledger's time index, revisions, fetch log, watermark and dirty days: the floor cost of
   getting rows into SQLite from Python. Reported as the ratio of write times ledger/baseline;
d. the **second import of the same files** (all unchanged; the baseline replaces them all
   again) and the import of **corrected files** (PM2.5 and PM10 of every station and hour
   raised by 1 µg/m³: a third of the rows revised), each followed by its evaluation.

Both databases live in the temporary folder; the run is single-threaded.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import platform
import resource
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.make_archive import write_archive
from monitor.collectors.cnemc_sites_archive import parse_sites_csv
from monitor.ledger import Ledger, to_epoch
from monitor.service.evaluate import evaluate_dirty
from monitor.service.pipeline import IMPORT_FORMATS
from monitor.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
SOURCE = IMPORT_FORMATS["cnemc-sites-csv"]
#: Types rewritten in the corrected files (a third of the hourly concentrations).
CORRECTED_TYPES = (b"PM2.5", b"PM10")

BASELINE_SCHEMA = """CREATE TABLE observations (
    site TEXT NOT NULL,
    parameter TEXT NOT NULL,
    period_end INTEGER NOT NULL,
    source TEXT NOT NULL,
    period_start INTEGER NOT NULL,
    unit TEXT NOT NULL,
    value REAL,
    flags TEXT NOT NULL DEFAULT '',
    ingested_at INTEGER NOT NULL,
    revision INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (site, parameter, period_end, source)
) WITHOUT ROWID"""
BASELINE_INSERT = (
    "INSERT OR REPLACE INTO observations (site, parameter, period_end, source, period_start, "
    "unit, value, flags, ingested_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


@dataclass
class Pass:
    """Timings of one pass over a list of files."""

    name: str
    files: int = 0
    rows: int = 0
    read_parse_s: float = 0.0
    ledger_s: float = 0.0
    baseline_s: float = 0.0
    inserted: int = 0
    revised: int = 0
    unchanged: int = 0

    @property
    def ingest_s(self) -> float:
        """Read + parse + ledger write: what ``envmon import`` spends before evaluating."""
        return self.read_parse_s + self.ledger_s

    def report(self) -> None:
        """Print the pass's lines."""
        rate = self.rows / self.ingest_s
        print(
            f"{self.name}: {self.files} files, {self.rows:,} observations "
            f"({self.inserted:,} new, {self.revised:,} revised, {self.unchanged:,} unchanged)"
        )
        print(
            f"  ingest (read+parse+write_observations): {self.ingest_s:.2f} s = "
            f"{rate:,.0f} observations/s"
        )
        print(
            f"    read+parse_sites_csv {self.read_parse_s:.2f} s "
            f"({self.rows / self.read_parse_s:,.0f}/s); Ledger.write_observations "
            f"{self.ledger_s:.2f} s ({self.rows / self.ledger_s:,.0f}/s)"
        )
        if self.revised:
            print(f"    revisions recorded: {self.revised / self.ingest_s:,.0f} revisions/s")
        if self.baseline_s:
            print(
                f"  baseline bare SQLite upsert: {self.baseline_s:.2f} s = "
                f"{self.rows / self.baseline_s:,.0f} observations/s"
            )
            print(
                f"  ratio write time ledger/baseline: {self.ledger_s / self.baseline_s:.2f}× "
                f"(ingest incl. parse / baseline: {self.ingest_s / self.baseline_s:.2f}×)"
            )


def machine() -> str:
    """One line about the machine and the libraries."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if "model name" in line)
    except (OSError, StopIteration):
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GiB; python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, pandas {pd.__version__}, numpy {np.__version__}"
    )


def baseline_open(path: Path) -> sqlite3.Connection:
    """The bare table, with the ledger's pragmas."""
    db = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "cache_size=-65536"):
        db.execute(f"PRAGMA {pragma}")
    db.execute(BASELINE_SCHEMA)
    return db


def baseline_rows(frame: pd.DataFrame, now: int) -> Iterable[tuple[Any, ...]]:
    """The observation tuples, built from the frame the way the ledger builds them."""
    values = frame["value"].to_numpy(dtype=float).tolist()
    return zip(
        frame["site"].astype(str).tolist(),
        frame["parameter"].astype(str).tolist(),
        to_epoch(frame["period_end"]).tolist(),
        [SOURCE] * len(frame),
        to_epoch(frame["period_start"]).tolist(),
        frame["unit"].astype(str).tolist(),
        [None if np.isnan(v) else v for v in values],
        frame["flags"].astype(str).tolist(),
        [now] * len(frame),
        strict=True,
    )


def baseline_write(db: sqlite3.Connection, frame: pd.DataFrame) -> None:
    """One transaction, one executemany."""
    now = int(time.time())
    db.execute("BEGIN IMMEDIATE")
    db.executemany(BASELINE_INSERT, baseline_rows(frame, now))
    db.execute("COMMIT")


def import_pass(
    name: str,
    paths: list[Path],
    ledger: Ledger,
    baseline: sqlite3.Connection | None,
    profiler: cProfile.Profile | None = None,
) -> Pass:
    """Import files one by one into the ledger (and the baseline), timing each step."""
    result = Pass(name)
    for path in paths:
        begin = time.perf_counter()
        frame = parse_sites_csv(path.read_bytes(), name=path.name)
        parsed = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        written = ledger.write_observations(frame, SOURCE, requested=f"import {path}")
        if profiler is not None:
            profiler.disable()
        done = time.perf_counter()
        result.read_parse_s += parsed - begin
        result.ledger_s += done - parsed
        if baseline is not None:
            begin = time.perf_counter()
            baseline_write(baseline, frame)
            result.baseline_s += time.perf_counter() - begin
        result.files += 1
        result.rows += len(frame)
        result.inserted += written.inserted
        result.revised += written.revised
        result.unchanged += written.unchanged
        del frame
    return result


def evaluate(ledger: Ledger, settings: Settings, label: str) -> float:
    """Evaluate the dirty days, print the rate, return the seconds."""
    pending = len(ledger.dirty_days())
    begin = time.perf_counter()
    report = evaluate_dirty(ledger, settings)
    seconds = time.perf_counter() - begin
    rate = f" = {report.site_days / seconds:,.0f} site-days/s" if report.site_days else ""
    print(
        f"  evaluation ({label}): {pending:,} dirty site-days → {report.site_days:,} "
        f"site-day(s), {report.hourly_rows:,} hourly + {report.daily_rows:,} daily AQI rows, "
        f"{report.qc_flagged:,} QC flags, in {seconds:.2f} s{rate}"
    )
    return seconds


def corrected_file(path: Path, out: Path) -> Path:
    """A copy of a day file with every PM2.5 and PM10 cell raised by 1 (empty cells kept)."""
    lines = path.read_bytes().split(b"\n")
    for i, line in enumerate(lines):
        cells = line.split(b",")
        if len(cells) > 3 and cells[2] in CORRECTED_TYPES:
            cells[3:] = [b"%d" % (int(c) + 1) if c else c for c in cells[3:]]
            lines[i] = b",".join(cells)
    target = out / path.name
    target.write_bytes(b"\n".join(lines))
    return target


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far [MB]."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365, help="day files to generate/import")
    parser.add_argument("--stations", type=int, default=1600)
    parser.add_argument(
        "--corrected-days", type=int, default=3, help="corrected day files imported last"
    )
    parser.add_argument("--folder", type=Path, help="use these china_sites_*.csv files instead")
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "hunnan.toml")
    parser.add_argument(
        "--profile", type=Path, help="write a cProfile of the first pass's ledger writes here"
    )
    args = parser.parse_args()
    settings = load_settings(args.config, {})
    print(f"machine: {machine()}")

    with tempfile.TemporaryDirectory(prefix="bench_ledger_") as scratch:
        work = Path(scratch)
        if args.folder is not None:
            paths = sorted(args.folder.glob("china_sites_*.csv"))[: args.days]
        else:
            begin = time.perf_counter()
            paths = write_archive(
                work / "archive", args.days, args.stations, date(2025, 1, 1), 2026
            )
            print(f"generated {len(paths)} day files in {time.perf_counter() - begin:.0f} s")
        if not paths:
            raise SystemExit("no china_sites_*.csv files")
        megabytes = sum(p.stat().st_size for p in paths) / 1e6
        print(f"archive: {len(paths)} day files × {args.stations} stations, {megabytes:,.0f} MB")

        ledger = Ledger.open(work / "ledger.sqlite")
        ledger.register_source(SOURCE, "cnemc-sites-csv", "measured")
        baseline = baseline_open(work / "baseline.sqlite")
        profiler = cProfile.Profile() if args.profile else None

        first = import_pass("first import (fresh ledger)", paths, ledger, baseline, profiler)
        first.report()
        if profiler is not None and args.profile is not None:
            profiler.dump_stats(args.profile)
            print(f"  profile of the ledger writes: {args.profile}")
        evaluation_s = evaluate(ledger, settings, "first import")
        print(
            f"  envmon import total (ingest + evaluation): {first.ingest_s + evaluation_s:.1f} s"
            f" = {first.rows / (first.ingest_s + evaluation_s):,.0f} observations/s"
        )
        sizes = {p.name: p.stat().st_size / 1e6 for p in work.glob("*.sqlite*")}
        print(f"  database files [MB]: {', '.join(f'{k} {v:,.0f}' for k, v in sizes.items())}")

        second = import_pass("second import (same files)", paths, ledger, baseline)
        second.report()
        evaluate(ledger, settings, "second import")

        out = work / "corrected"
        out.mkdir()
        fixes = [corrected_file(p, out) for p in paths[: args.corrected_days]]
        if fixes:
            third = import_pass("corrected files", fixes, ledger, baseline)
            third.report()
            evaluate(ledger, settings, "corrected files")
        ledger.close()
        baseline.close()
    print(f"peak RSS of this process: {peak_rss_mb():,.0f} MB")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
