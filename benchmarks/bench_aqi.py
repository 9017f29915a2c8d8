"""Benchmark: hourly AQI throughput, as a ratio against python-aqi's per-value loop.

Run: ``.venv/bin/python benchmarks/bench_aqi.py [--rows 10000000] [--baseline-rows 20000]``
(``pip install -e '.[bench]'`` brings python-aqi 0.6.1).

Both sides rate the same synthetic station-hours (six pollutants, log-normal around typical
Shenyang values, kept inside python-aqi's tables because it crashes above them). The
baseline rates the first ``--baseline-rows`` of them one value at a time, as that package
is used; its results differ from HJ 633 (EPA-style segments, truncation, banker's rounding;
standards.md §6), so only speed is compared. envmon rates all rows in one vectorised call
of :func:`monitor.domain.aqi.hourly_aqi` (HJ 633-2026 rules, the platform method). Both run
on one core in the same process, so the ratio is measured under the same conditions.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import pandas as pd

from monitor.domain.aqi import AqiStandard, hourly_aqi

# Typical medians [µg/m³; CO mg/m³] and caps inside python-aqi's MEP tables.
MEDIANS = {"so2": 10.0, "no2": 35.0, "co": 0.8, "o3": 70.0, "pm10": 70.0, "pm2_5": 35.0}
CAPS = {"so2": 790.0, "no2": 3800.0, "co": 149.0, "o3": 1190.0, "pm10": 590.0, "pm2_5": 490.0}


def make_hours(rows: int, seed: int = 2026) -> pd.DataFrame:
    """Synthetic 1-hour concentrations, rounded like platform data."""
    rng = np.random.default_rng(seed)
    data = {}
    for name, median in MEDIANS.items():
        values = np.minimum(rng.lognormal(np.log(median), 0.6, rows), CAPS[name])
        data[name] = np.round(values, 1 if name == "co" else 0)
    return pd.DataFrame(data)


def time_envmon(hours: pd.DataFrame, repeats: int) -> float:
    """Best-of-``repeats`` seconds for one vectorised call over all rows."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        result = hourly_aqi(hours, AqiStandard.HJ633_2026)
        best = min(best, time.perf_counter() - start)
        assert len(result) == len(hours)
    return best


def time_python_aqi(hours: pd.DataFrame) -> float:
    """Seconds for python-aqi's per-value loop over the given rows."""
    import aqi  # python-aqi 0.6.1
    from aqi import constants as c

    names = [
        (c.POLLUTANT_SO2_1H, "so2"),
        (c.POLLUTANT_NO2_1H, "no2"),
        (c.POLLUTANT_CO_1H, "co"),
        (c.POLLUTANT_O3_1H, "o3"),
        (c.POLLUTANT_PM10, "pm10"),
        (c.POLLUTANT_PM25, "pm2_5"),
    ]
    columns = [(code, hours[name].astype(str).tolist()) for code, name in names]
    start = time.perf_counter()
    for i in range(len(hours)):
        aqi.to_aqi([(code, values[i]) for code, values in columns], algo="aqi.algos.mep")
    return time.perf_counter() - start


def main() -> None:
    """Run the benchmark and print station-hours per second and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--baseline-rows", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    hours = make_hours(args.rows)
    envmon_s = time_envmon(hours, args.repeats)
    envmon_rate = args.rows / envmon_s
    print(
        f"machine: {platform.machine()} {platform.python_implementation()} "
        f"{platform.python_version()}, {os.cpu_count()} cores (numpy on one core)"
    )
    print(
        f"envmon hourly_aqi: {args.rows:,} station-hours in {envmon_s:.3f} s "
        f"= {envmon_rate / 1e6:.2f} M station-hours/s"
    )
    try:
        baseline_s = time_python_aqi(hours.head(args.baseline_rows))
    except ImportError:
        print("baseline python-aqi not installed: pip install -e '.[bench]'")
        return
    baseline_rate = args.baseline_rows / baseline_s
    print(
        f"baseline python-aqi 0.6.1 loop: {args.baseline_rows:,} station-hours in "
        f"{baseline_s:.3f} s = {baseline_rate:,.0f} station-hours/s"
    )
    print(f"ratio envmon / python-aqi: {envmon_rate / baseline_rate:,.0f}x")


if __name__ == "__main__":
    main()
