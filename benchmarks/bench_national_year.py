"""Benchmark: a year of the national network on one machine, import → progress.

Run from the checkout: ``.venv/bin/python -m benchmarks.bench_national_year [--days 365]
[--stations 1600] [--area-size 10] [--keep DIR]`` (needs the Debian package
``victoria-metrics``). ``--days 7 --stations 200`` runs in about a minute.

1. **generate** (not counted in the total): synthetic ``china_sites_YYYYMMDD.csv`` day files
   in the national archive layout (``monitor/collectors/cnemc_sites_archive.py``, the layout
   of ``benchmarks/make_archive.py``), 2025-01-01 on, with seasonal levels (winter PM and
   SO2 high, summer O3 high) and realistic gaps: about 2 % of station-hours empty, outages
   of whole stations for 1–10 days (about 1.5 a station and year), analysers of one
   pollutant down for a day (1 % of station-days), network-wide missing hours (0.3 %) and
   missing day files (0.5 %). Nothing is downloaded.
2. **import**: each file read, parsed and written to a fresh ledger the way ``envmon import
   --format cnemc-sites-csv`` does it (observations/s);
3. **evaluation**: :func:`~monitor.service.evaluate.evaluate_dirty` of everything imported:
   QC, hourly and daily AQI per station and area under both rule sets (site-days/s);
4. **publish**: the outbox the import and the evaluation filled, drained to a
   VictoriaMetrics of its own on a free loopback port (``Publisher.drain``, what the daemon
   does; points/s);
5. **progress**: ``compute_progress`` (what ``envmon progress`` prints) for every target of
   every area as of the last day (areas/s).

The configuration is generated too: the stations in areas (cities) of ``--area-size``
evaluation stations, each area with a good-day-ratio and a PM2.5 annual-mean target for
2025. Reported: each stage's time and rate, the total of stages 2–5, the peak RSS of this
process after each stage and that of VictoriaMetrics. Aims (issue 17): the whole year under
15 minutes on the 2-core machine, peak RSS under 2 GB. The machine is shared: the load
average is printed with the figures.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import shutil
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt

from benchmarks.bench_ledger_import import machine
from benchmarks.make_archive import MEDIANS, TYPES, archive_columns, station_codes
from monitor.influxdb.writer import InfluxWriter
from monitor.ledger import Ledger
from monitor.service.evaluate import evaluate_dirty
from monitor.service.pipeline import IMPORT_FORMATS, parse_import_file
from monitor.service.progress_targets import compute_progress
from monitor.service.publish import Publisher
from monitor.settings import load_settings
from tests.engines import start_victoria_metrics

FORMAT = "cnemc-sites-csv"
SOURCE = IMPORT_FORMATS[FORMAT]
FIRST_DAY = date(2025, 1, 1)
#: Shares of the gaps (see the module docstring).
MISSING_CELL = 0.02
OUTAGES_PER_YEAR = 1.5
ANALYSER_DOWN = 0.01
NETWORK_HOUR_MISSING = 0.003
FILE_MISSING = 0.005
#: Pollutants whose level is high in winter (heating season); O3 peaks in summer.
WINTER_HIGH = ("PM2.5", "PM10", "SO2", "NO2", "CO")


def peak_rss_mb() -> float:
    """Peak resident memory [MB] of this process."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def process_peak_mb(pid: int) -> float:
    """Peak resident memory [MB] of a running process (Linux ``VmHWM``), NaN if unknown."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    except OSError:
        return float("nan")
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def load() -> str:
    """The 1-minute load average: how busy the shared machine was."""
    return f"{os.getloadavg()[0]:.1f}"


def _texts(values: npt.NDArray[np.float64], decimals: int) -> npt.NDArray[np.str_]:
    """Numbers as the archive writes them (integers; CO with one decimal)."""
    if decimals == 0:
        return np.round(values).astype(np.int64).astype(str)
    tenths = np.round(values * 10).astype(np.int64)
    return np.char.add(np.char.add((tenths // 10).astype(str), "."), (tenths % 10).astype(str))


def day_lines(
    day: date, codes: list[str], rng: np.random.Generator, out_today: npt.NDArray[np.bool_]
) -> list[str]:
    """The lines of one day file (header first); ``out_today``: stations in an outage."""
    stations = len(codes)
    phase = np.cos((day.timetuple().tm_yday - 15) / 365 * 2 * np.pi)  # 1 mid-January
    hourly = {}
    for kind, median in MEDIANS.items():
        season = 1 + 0.5 * phase if kind in WINTER_HIGH else 1 - 0.4 * phase
        hourly[kind] = rng.lognormal(np.log(median * season), 0.55, (24, stations))
    rows = archive_columns(hourly)
    gone = rng.random((24, stations)) < MISSING_CELL
    gone |= out_today[None, :]
    gone |= (rng.random(24) < NETWORK_HOUR_MISSING)[:, None]
    analyser = {kind: rng.random(stations) < ANALYSER_DOWN for kind in MEDIANS}
    stamp = f"{day:%Y%m%d}"
    lines = ["date,hour,type," + ",".join(codes)]
    texts = {kind: _texts(rows[kind], 1 if kind.startswith("CO") else 0) for kind in TYPES}
    for hour in range(24):
        for kind in TYPES:
            cells = texts[kind][hour].astype(object)
            base = kind.split("_")[0]
            cells[gone[hour] | analyser.get(base, np.zeros(stations, dtype=bool))] = ""
            lines.append(f"{stamp},{hour},{kind}," + ",".join(cells.tolist()))
    return lines


def generate(folder: Path, days: int, stations: int, seed: int = 2026) -> list[Path]:
    """Write the day files (some days missing); return the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    codes = station_codes(stations)
    # Outages: each station about OUTAGES_PER_YEAR times a year, 1–10 days each.
    out = np.zeros((days, stations), dtype=bool)
    for station in range(stations):
        for _ in range(rng.poisson(OUTAGES_PER_YEAR * days / 365)):
            first = int(rng.integers(0, days))
            out[first : first + int(rng.integers(1, 11)), station] = True
    paths = []
    for offset in range(days):
        lines = day_lines(FIRST_DAY + timedelta(days=offset), codes, rng, out[offset])
        if offset and rng.random() < FILE_MISSING:
            continue  # the platform's archive lacks this day
        path = folder / f"china_sites_{FIRST_DAY + timedelta(days=offset):%Y%m%d}.csv"
        path.write_text("\n".join(lines) + "\n", "utf-8")
        paths.append(path)
    return paths


def write_config(folder: Path, stations: int, area_size: int) -> Path:
    """A national configuration: stations in areas of ``area_size``, two targets each."""
    codes = station_codes(stations)
    areas = [codes[i : i + area_size] for i in range(0, stations, area_size)]
    parts = [
        '[district]\nname = "National network (synthetic)"\nname_zh = "全国（合成）"\n',
        '[ledger]\npath = "ledger.sqlite"\n',
        '[influxdb]\nurl = "http://127.0.0.1:9"\nbucket = "envmon"\n',
    ]
    for number, members in enumerate(areas):
        area = f"city{number:03d}"
        parts.append(
            f'[[areas]]\nid = "{area}"\nname = "City {number}"\nname_zh = "城市{number}"\n'
        )
        parts += [
            f'[[air_stations]]\ncode = "{code}"\nname_zh = "站点{code}"\nrole = "evaluation"\n'
            f'areas = ["{area}"]\n'
            for code in members
        ]
        parts.append(
            f'[[targets]]\nkind = "good_day_ratio"\nid = "good_days_{area}"\n'
            f'name = "优良天数比例 {area}"\narea = "{area}"\nyear = {FIRST_DAY.year}\n'
            'goal = 0.80\nrules = "hj633-2012"\nconfirmed = true\n'
        )
        parts.append(
            f'[[targets]]\nkind = "annual_mean"\nid = "pm25_{area}"\nname = "PM2.5 {area}"\n'
            f'area = "{area}"\npollutant = "pm2_5"\nlimit = 35\nyear = {FIRST_DAY.year}\n'
            "confirmed = true\n"
        )
    config = folder / "envmon.toml"
    config.write_text("\n".join(parts), encoding="utf-8")
    return config


def stage(name: str, seconds: float, count: int, unit: str) -> None:
    """Print one stage's line."""
    print(
        f"{name}: {count:,} {unit} in {seconds:,.1f} s = {count / max(seconds, 1e-9):,.0f} "
        f"{unit}/s; peak RSS so far {peak_rss_mb():,.0f} MB; load {load()}",
        flush=True,
    )


def run(folder: Path, days: int, stations: int, area_size: int) -> None:
    """Generate, then time the four stages."""
    begin = time.perf_counter()
    paths = generate(folder / "archive", days, stations)
    megabytes = sum(p.stat().st_size for p in paths) / 1e6
    print(
        f"generated {len(paths)} day files ({days - len(paths)} missing) × {stations} stations,"
        f" {megabytes:,.0f} MB, in {time.perf_counter() - begin:.0f} s (not counted)",
        flush=True,
    )
    config = write_config(folder, stations, area_size)
    settings = load_settings(config, {"ENVMON_INFLUXDB_TOKEN": "bench"})
    times: dict[str, float] = {}
    with Ledger.open(folder / "ledger.sqlite") as ledger:
        ledger.register_source(SOURCE, FORMAT, "measured")
        begin = time.perf_counter()
        observations = 0
        for path in paths:
            frame, _ = parse_import_file(path, FORMAT)
            ledger.write_observations(frame, SOURCE, requested=f"import {path}")
            observations += len(frame)
            del frame
        times["import"] = time.perf_counter() - begin
        stage("import", times["import"], observations, "observations")

        begin = time.perf_counter()
        report = evaluate_dirty(ledger, settings)
        times["evaluation"] = time.perf_counter() - begin
        stage("evaluation", times["evaluation"], report.site_days, "site-days")
        print(
            f"  {report.hourly_rows:,} hourly + {report.daily_rows:,} daily AQI rows, "
            f"{report.qc_flagged:,} QC flags, {len(report.failed)} failed"
        )

        queued = ledger.outbox_stats()[0]
        victoria = start_victoria_metrics(folder / "victoria")
        try:
            mine = dataclasses.replace(
                settings, influxdb=dataclasses.replace(settings.influxdb, url=victoria.url)
            )
            with InfluxWriter(mine.influxdb, mine.secrets.influxdb_token) as writer:
                begin = time.perf_counter()
                published = Publisher(ledger, mine, writer).drain()
                times["publish"] = time.perf_counter() - begin
            victoria_mb = process_peak_mb(victoria.process.pid)
        finally:
            victoria.stop()
        stage("publish", times["publish"], published.points, "points")
        print(f"  {queued:,} outbox site-days drained, {ledger.outbox_stats()[0]:,} left")

        as_of = FIRST_DAY + timedelta(days=days - 1)
        begin = time.perf_counter()
        rows = compute_progress(ledger, settings, as_of=as_of)
        times["progress"] = time.perf_counter() - begin
        stage("progress", times["progress"], len(settings.areas), "areas")
        print(f"  {len(rows)} target rows as of {as_of}")
    total = sum(times.values())
    print(
        f"total import → evaluation → publish → progress: {total:,.1f} s "
        f"({total / 60:.1f} min; aim < 15 min for 365 days × 1,600 stations); "
        f"peak RSS {peak_rss_mb():,.0f} MB (aim < 2 GB), VictoriaMetrics {victoria_mb:,.0f} MB"
    )


def main() -> None:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--stations", type=int, default=1600)
    parser.add_argument("--area-size", type=int, default=10, help="stations per area")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()
    if args.days < 1 or args.stations < 1 or args.area_size < 1:
        raise SystemExit("--days, --stations and --area-size must be at least 1")
    print(f"machine: {machine()}; load {load()}")
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench_national_"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        run(folder, args.days, args.stations, args.area_size)
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
