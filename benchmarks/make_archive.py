"""Generate synthetic ``china_sites_YYYYMMDD.csv`` day files in the national layout.

Run: ``.venv/bin/python benchmarks/make_archive.py OUT_DIR [--days 365] [--stations 1600]
[--start 2025-01-01] [--seed 2026]``.

The files follow data-sources.md §4b: header ``date,hour,type,<station codes…>``, one row per
(hour, type) for the 15 types, hours 0–23. Values are invented but shaped like platform data:
log-normal 1-hour concentrations around typical northern-Chinese city levels (integers in
µg/m³, CO in mg/m³ with one decimal), ``*_24h`` and ``O3_8h`` running means over the hours of
the day so far, an AQI-like column, and about 2 % empty cells (missing hours) plus whole
stations missing for some days. Nothing here is downloaded.
"""

from __future__ import annotations

import argparse
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from monitor.collectors.cnemc_sites_archive import LAYOUT_TYPES

TYPES = LAYOUT_TYPES
#: 1-hour medians [µg/m³; CO mg/m³] and the file's decimals.
MEDIANS = {"PM2.5": 35.0, "PM10": 70.0, "SO2": 12.0, "NO2": 35.0, "O3": 65.0, "CO": 0.8}
MISSING_SHARE = 0.02


def station_codes(count: int) -> list[str]:
    """Codes in the platform's style: 1001A, 1002A, …"""
    return [f"{1001 + i}A" for i in range(count)]


def archive_columns(hourly: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every ``TYPES`` column of a day (24 hours × stations) from the hourly values: running
    24-hour means, O3 8-hour means and running maxima, and a rough AQI."""
    counts = np.arange(1, 25)[:, None]
    rows: dict[str, np.ndarray] = {}
    for kind, values in hourly.items():
        rows[kind] = values
        rows[f"{kind}_24h"] = np.cumsum(values, axis=0) / counts
    o3 = hourly["O3"]
    o3_8h = np.array([o3[max(0, h - 7) : h + 1].mean(axis=0) for h in range(24)])
    rows["O3_24h"] = np.maximum.accumulate(o3, axis=0)
    rows["O3_8h"] = o3_8h
    rows["O3_8h_24h"] = np.maximum.accumulate(o3_8h, axis=0)
    rows["AQI"] = np.maximum(hourly["PM2.5"] * 1.3, hourly["PM10"] * 0.7)
    return rows


def day_table(day: date, stations: int, rng: np.random.Generator) -> list[str]:
    """The lines of one day file (without header)."""
    hourly = {
        kind: rng.lognormal(np.log(median), 0.5, (24, stations))
        for kind, median in MEDIANS.items()
    }
    rows = archive_columns(hourly)
    missing_hour = rng.random((24, stations)) < MISSING_SHARE
    missing_station = rng.random(stations) < 0.005
    stamp = f"{day:%Y%m%d}"
    lines = []
    for hour in range(24):
        gone = missing_hour[hour] | missing_station
        for kind in TYPES:
            decimals = 1 if kind.startswith("CO") else 0
            texts = np.char.mod(f"%.{decimals}f", rows[kind][hour])
            texts[gone] = ""
            lines.append(f"{stamp},{hour},{kind}," + ",".join(texts.tolist()))
    return lines


def write_archive(out: Path, days: int, stations: int, start: date, seed: int) -> list[Path]:
    """Write ``days`` day files for ``stations`` stations into ``out``; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    header = "date,hour,type," + ",".join(station_codes(stations))
    paths = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        path = out / f"china_sites_{day:%Y%m%d}.csv"
        path.write_text("\n".join([header, *day_table(day, stations, rng)]) + "\n", "utf-8")
        paths.append(path)
    return paths


def main() -> None:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--stations", type=int, default=1600)
    parser.add_argument("--start", type=date.fromisoformat, default=date(2025, 1, 1))
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    paths = write_archive(args.out, args.days, args.stations, args.start, args.seed)
    size = sum(p.stat().st_size for p in paths) / 1e6
    print(f"wrote {len(paths)} files ({size:.0f} MB) to {args.out}")


if __name__ == "__main__":
    main()
