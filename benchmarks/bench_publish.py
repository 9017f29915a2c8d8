"""Benchmark: publishing to a real VictoriaMetrics on loopback.

Run: ``.venv/bin/python -m benchmarks.bench_publish [--sites 20] [--days 365] [--keep DIR]``
(needs the Debian package ``victoria-metrics``).

Builds a ledger with a year of hourly data of 20 sites (six pollutants each), evaluated
(hourly and daily AQI per site and area under both rule sets), then measures against one
VictoriaMetrics started for the run:

* **replay**: ``Publisher.replay`` of the whole year (what ``envmon publish --replay``
  does), every measurement, in points per second and total seconds;
* **drain**: the same year sent through the outbox (what the daemon does after an outage);
* the named **baseline**: the same observations written the way influxdb-client documents,
  one ``Point`` per value through the synchronous write API in batches of the same size.

Aims (issue "Publish to InfluxDB"): ≥ 50,000 points/s; a year of 20 sites replayed in under
a minute.
"""

from __future__ import annotations

import argparse
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
from monitor.settings import load_settings
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=20)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--keep", type=Path, help="keep (or reuse) the ledger in this folder")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench_publish_"))
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "envmon.toml"
    ledger_path = folder / "ledger.sqlite"
    if not ledger_path.exists():
        t0 = time.perf_counter()
        config, ledger_path = build(folder, args.sites, args.days)
        print(f"built the ledger in {time.perf_counter() - t0:.0f} s")
    victoria = start_victoria_metrics(folder / f"victoria-{time.time_ns()}")
    try:
        settings = load_settings(config, {"ENVMON_INFLUXDB_TOKEN": "bench"})
        settings = settings.__class__(
            **{
                **settings.__dict__,
                "influxdb": settings.influxdb.__class__(
                    **{**settings.influxdb.__dict__, "url": victoria.url}
                ),
            }
        )
        first, last = date(2025, 1, 1), date(2025, 1, 1) + timedelta(days=args.days - 1)
        with (
            Ledger.open(ledger_path) as ledger,
            InfluxWriter(settings.influxdb, settings.secrets.influxdb_token) as writer,
        ):
            n_obs = int(ledger.query("SELECT count(*) AS n FROM observations")["n"].iloc[0])
            print(f"{args.sites} sites × {args.days} days: {n_obs:,} observations")
            t = time.perf_counter()
            replay = Publisher(ledger, settings, writer).replay(first, last)
            replay_s = time.perf_counter() - t
            print(
                f"replay: {replay.points:,} points in {replay_s:.1f} s = "
                f"{replay.points / replay_s:,.0f} points/s ({replay.requests} requests)"
            )
            pending = ledger.outbox_stats()[0]
            t = time.perf_counter()
            drain = Publisher(ledger, settings, writer).drain()
            drain_s = time.perf_counter() - t
            print(
                f"drain of {pending:,} site-days: {drain.points:,} points in {drain_s:.1f} s = "
                f"{drain.points / drain_s:,.0f} points/s"
            )
            rows = ledger.query(
                "SELECT site, parameter, source, unit, period_end, value, flags, revision "
                "FROM observations LIMIT 200000"
            )
        client = InfluxDBClient(url=victoria.url, token="bench", org="envmon")
        api = client.write_api(write_options=SYNCHRONOUS)
        t = time.perf_counter()
        batch: list[Point] = []
        size = settings.influxdb.batch_points
        for r in rows.itertuples(index=False):
            point = (
                Point("air_observation")
                .tag("site", r.site)
                .tag("parameter", r.parameter)
                .tag("source", r.source)
                .tag("unit", r.unit)
                .field("value", None if pd.isna(r.value) else float(r.value))
                .field("revision", float(r.revision))
                .field("flags", r.flags)
                .time(int(r.period_end), WritePrecision.S)
            )
            batch.append(point)
            if len(batch) == size:
                api.write(bucket="envmon", record=batch)
                batch = []
        if batch:
            api.write(bucket="envmon", record=batch)
        base_s = time.perf_counter() - t
        api.close()
        client.close()
        base_rate = len(rows) / base_s
        print(
            f"baseline (influxdb-client Point per value, same batches): {len(rows):,} points "
            f"in {base_s:.1f} s = {base_rate:,.0f} points/s"
        )
        print(
            f"ratio replay / baseline: {replay.points / replay_s / base_rate:.1f}×; "
            f"drain / baseline: {drain.points / drain_s / base_rate:.1f}×"
        )
    finally:
        victoria.stop()
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
