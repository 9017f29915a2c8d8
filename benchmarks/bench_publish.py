"""Benchmark: publishing to a real VictoriaMetrics on loopback.

Run: ``.venv/bin/python -m benchmarks.bench_publish [--sites 20] [--days 365] [--keep DIR]``
(needs the Debian package ``victoria-metrics``).

Builds a ledger with a year of hourly data of 20 sites (six pollutants each), evaluated
(hourly and daily AQI per site and area under both rule sets), then measures, each against
a VictoriaMetrics of its own started for the run:

* **replay**: ``Publisher.replay`` of the whole year (what ``envmon publish --replay``
  does), every measurement, in points per second and total seconds;
* **drain**: the same year queued in the outbox and sent (the daemon after an outage);
* **ledger to lines, no server**: the replay with a writer that takes everything at once,
  i.e. what envmon's own side costs; **outbox to lines, no server**: the same for the drain;
  both also in envmon's CPU seconds (all threads; what the other engineers' load on the
  shared machine does not change much, unlike the wall time);
* the named **baseline**: observations written the way influxdb-client documents, one
  ``Point`` per value through the synchronous write API in batches of the same size.

For replay and drain it also reports the CPU time per point of envmon (all its threads)
and of the VictoriaMetrics process: on the shared 2-core machine the server's own CPU per
point bounds what any client can reach. The load average (other work on the machine) is
printed before and after.

Aims (issue 17): ≥ 60,000 points/s for replay and drain; a year of 20 sites replayed in
under a minute.

``--formats`` (with ``--sites 1600 --days 3``: the national shape) measures instead whether
VictoriaMetrics' JSON-line import would take the same points with less CPU than line
protocol (:mod:`benchmarks.victoria_formats`).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.client.write.point import Point
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.domain.write_precision import WritePrecision

from monitor.influxdb.writer import InfluxWriter
from monitor.ledger import Ledger
from monitor.service.evaluate import evaluate_dirty
from monitor.service.publish import Publisher
from monitor.settings import Settings, load_settings
from tests.engines import start_victoria_metrics

MEDIANS = {"so2": 12.0, "no2": 35.0, "co": 0.8, "o3": 65.0, "pm10": 70.0, "pm2_5": 38.0}
UNITS = {p: ("mg/m³" if p == "co" else "µg/m³") for p in MEDIANS}


def build(folder: Path, sites: int, days: int) -> tuple[Path, Path]:
    names = [f"{1000 + i}A" for i in range(sites)]
    stations = "".join(
        f'\n[[air_stations]]\ncode = "{n}"\nname_zh = "站点{i}"\nrole = "evaluation"\n'
        'areas = ["hunnan"]\n'
        for i, n in enumerate(names)
    )
    config = folder / "envmon.toml"
    config.write_text(
        '[district]\nname = "Hunnan District"\nname_zh = "浑南区"\n\n[[areas]]\nid = "hunnan"\n'
        'name = "Hunnan District"\nname_zh = "浑南区"\n'
        + stations
        + '\n[influxdb]\nurl = "http://127.0.0.1:9"\nbucket = "envmon"\n',
        encoding="utf-8",
    )
    settings = load_settings(config, {"ENVMON_INFLUXDB_TOKEN": "bench"})
    ledger_path = folder / "ledger.sqlite"
    rng = np.random.default_rng(7)
    start = pd.Timestamp("2025-01-01 01:00", tz="Asia/Shanghai").tz_convert("UTC")
    with Ledger.open(ledger_path) as ledger:
        for month_start in range(0, days, 30):
            span = min(30, days - month_start)
            ends = start + pd.to_timedelta(
                np.arange(month_start * 24, (month_start + span) * 24), "h"
            )
            frames = []
            for site in names:
                for parameter, median in MEDIANS.items():
                    values = np.round(rng.lognormal(np.log(median), 0.5, len(ends)), 1)
                    frames.append(
                        pd.DataFrame(
                            {
                                "site": site,
                                "parameter": parameter,
                                "unit": UNITS[parameter],
                                "period_start": ends - pd.Timedelta(hours=1),
                                "period_end": ends,
                                "value": values,
                                "flags": "",
                            }
                        )
                    )
            ledger.write_observations(pd.concat(frames, ignore_index=True), "bench")
            evaluate_dirty(ledger, settings)
    return config, ledger_path


class _Sink:
    """A writer that takes everything at once: what the ledger-to-lines side alone costs."""

    def write(self, lines: object) -> None:
        pass


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pointing_at(settings: Settings, url: str) -> Settings:
    return dataclasses.replace(settings, influxdb=dataclasses.replace(settings.influxdb, url=url))


def _queue_everything(ledger: Ledger) -> int:
    """Queue every site-day, as after an outage that lasted the whole period."""
    with ledger.transaction() as db:
        for table, day in (
            ("observations", "date(period_end + 28800, 'unixepoch')"),
            ("hourly_aqi", "date(period_end + 28800, 'unixepoch')"),
            ("daily_aqi", "date"),
        ):
            db.execute(
                "INSERT OR REPLACE INTO outbox (kind, key, day, queued_at) "
                f"SELECT DISTINCT '{table}', site, {day}, 0 FROM {table}"
            )
    return ledger.outbox_stats()[0]


def _baseline(url: str, rows: pd.DataFrame, size: int) -> float:
    """influxdb-client as documented: a Point per value, synchronous writes; points/s."""
    client = InfluxDBClient(url=url, token="bench", org="envmon")
    api = client.write_api(write_options=SYNCHRONOUS)
    started = time.perf_counter()
    batch: list[Point] = []
    for r in rows.to_dict("records"):
        batch.append(
            Point("air_observation")
            .tag("site", r["site"])
            .tag("parameter", r["parameter"])
            .tag("source", r["source"])
            .tag("unit", r["unit"])
            .field("value", None if pd.isna(r["value"]) else float(r["value"]))
            .field("revision", float(r["revision"]))
            .field("flags", r["flags"])
            .time(int(r["period_end"]), WritePrecision.S)
        )
        if len(batch) == size:
            api.write(bucket="envmon", record=batch)
            batch = []
    if batch:
        api.write(bucket="envmon", record=batch)
    seconds = time.perf_counter() - started
    api.close()
    client.close()
    return len(rows) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=20)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--keep", type=Path, help="keep (or reuse) the ledger in this folder")
    parser.add_argument(
        "--formats",
        action="store_true",
        help="line protocol against VictoriaMetrics' JSON-line import (victoria_formats.py)",
    )
    parser.add_argument("--repeat", type=int, default=2, help="rounds of --formats")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench_publish_"))
    folder.mkdir(parents=True, exist_ok=True)
    if args.formats:
        from benchmarks.victoria_formats import run_formats  # imports this module

        try:
            run_formats(folder, args.days, args.sites, args.repeat)
        finally:
            if args.keep is None:
                shutil.rmtree(folder, ignore_errors=True)
        return
    config = folder / "envmon.toml"
    ledger_path = folder / "ledger.sqlite"
    if not ledger_path.exists():
        t0 = time.perf_counter()
        config, ledger_path = build(folder, args.sites, args.days)
        print(f"built the ledger in {time.perf_counter() - t0:.0f} s")
    settings = load_settings(config, {"ENVMON_INFLUXDB_TOKEN": "bench"})
    print("load average before: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))
    first, last = date(2025, 1, 1), date(2025, 1, 1) + timedelta(days=args.days - 1)
    try:
        with Ledger.open(ledger_path) as ledger:
            ledger.connection.execute("DELETE FROM outbox")
            n_obs = int(ledger.query("SELECT count(*) AS n FROM observations")["n"].iloc[0])
            print(f"{args.sites} sites × {args.days} days: {n_obs:,} observations")
            results: dict[str, tuple[int, float]] = {}
            cpu: dict[str, tuple[float, float]] = {}  # envmon, server CPU seconds
            # Each measurement writes to a VictoriaMetrics of its own: its first write of a
            # series-day costs more than a rewrite, so a shared one would favour the later.
            for name in ("replay", "drain"):
                victoria = start_victoria_metrics(folder / f"victoria-{time.time_ns()}")
                try:
                    mine = _pointing_at(settings, victoria.url)
                    with InfluxWriter(mine.influxdb, mine.secrets.influxdb_token) as writer:
                        publisher = Publisher(ledger, mine, writer)
                        if name == "drain":
                            queued = _queue_everything(ledger)
                            print(f"queued {queued:,} site-days")
                        t = time.perf_counter()
                        own, server = time.process_time(), _cpu_seconds(victoria.process.pid)
                        report = (
                            publisher.replay(first, last)
                            if name == "replay"
                            else (publisher.drain())
                        )
                        results[name] = (report.points, time.perf_counter() - t)
                        cpu[name] = (
                            time.process_time() - own,
                            _cpu_seconds(victoria.process.pid) - server,
                        )
                finally:
                    victoria.stop()
            t, own = time.perf_counter(), time.process_time()
            lines_only = Publisher(ledger, settings, _Sink()).replay(first, last)
            results["ledger to lines, no server"] = (lines_only.points, time.perf_counter() - t)
            cpu["ledger to lines, no server"] = (time.process_time() - own, 0.0)
            _queue_everything(ledger)
            t, own = time.perf_counter(), time.process_time()
            lines_only = Publisher(ledger, settings, _Sink()).drain()
            results["outbox to lines, no server"] = (lines_only.points, time.perf_counter() - t)
            cpu["outbox to lines, no server"] = (time.process_time() - own, 0.0)
            rows = ledger.query(
                "SELECT site, parameter, source, unit, period_end, value, flags, revision "
                "FROM observations LIMIT 200000"
            )
        victoria = start_victoria_metrics(folder / f"victoria-{time.time_ns()}")
        try:
            base_rate = _baseline(victoria.url, rows, settings.influxdb.batch_points)
        finally:
            victoria.stop()
        print(f"baseline, influxdb-client Point per value: {base_rate:,.0f} points/s")
        for name, (points, seconds) in results.items():
            rate = points / seconds
            print(
                f"{name}: {points:,} points in {seconds:.1f} s = {rate:,.0f} points/s "
                f"({rate / base_rate:.1f}× the baseline)"
            )
            if name in cpu and not cpu[name][1]:  # no server: envmon's side alone
                own = cpu[name][0]
                print(f"  CPU: envmon {own:.1f} s = {own / points * 1e6:.2f} µs/point")
            elif name in cpu:
                own, server = cpu[name]
                print(
                    f"  CPU: envmon {own / points * 1e6:.1f} µs/point, VictoriaMetrics "
                    f"{server / points * 1e6:.1f} µs/point (one free core each: at most "
                    f"{points / max(own, server):,.0f} points/s)"
                )
        print("load average after: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
