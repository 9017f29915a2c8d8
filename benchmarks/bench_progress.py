"""Benchmark: `envmon progress` on a ledger with a year of hourly data for 11 stations.

Run: ``.venv/bin/python -m benchmarks.bench_progress [--keep DIR]``.

Builds a ledger with synthetic hourly data of the 11 Shenyang stations of
``config/hunnan.toml`` for 2025 (history) and 2026 up to 26 November, evaluates it (hourly
and daily AQI per station and area, both rule sets), then measures:

* ``envmon progress --as-of 2026-11-26`` as a user runs it (a fresh process, wall time);
* ``compute_progress`` in process (all targets and variants);
* the stored daily series recomputed for every day of 2026 so far (what a correction of
  1 January costs), against the same series computed one as-of date at a time with nothing
  kept between them (each day reading and counting its area days, indicator values and
  river readings and rating its river sections again: what ``refresh_progress`` did before
  it kept them); wall and CPU seconds (the machine may be shared);
* the named baseline: reading the area's daily rows for the same years straight from SQLite
  (``SELECT … FROM daily_aqi``), the floor any progress computation pays.

Aim (issue "Targets"): the command answers in under 2 s.

``--automatic-sections N`` measures instead a river target over N sections read by
automatic stations (every ``--automatic-hours`` hours, default 4, six items: pH, DO,
CODMn, COD, NH3-N, TP) for the whole of 2026, with spikes, source-invalid and
below-detection readings and a three-day gap: the daily series refreshed for every as-of
date of the year (365), by this code and by the code of ``--baseline-commit`` (default
8c521ac, before a refresh cut each set of readings from the year's readings checked once;
``none``: this code only), each in a subprocess (the baseline on a ``git archive`` of its
commit) on a copy of the same ledger; CPU seconds of each and their ratio, and whether the
stored ``target_progress`` rows (every column but ``computed_at``) are identical.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from monitor.collectors.base import observations
from monitor.ledger import Ledger
from monitor.service.evaluate import evaluate_dirty
from monitor.service.progress_targets import compute_progress
from monitor.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent
STATIONS = [
    "1098A",
    "1099A",
    "1100A",
    "1102A",
    "1103A",
    "1104A",
    "1105A",
    "1106A",
    "1108A",
    "2897A",
    "2900A",
]
MEDIANS = {"so2": 12.0, "no2": 35.0, "co": 0.8, "o3": 65.0, "pm10": 70.0, "pm2_5": 38.0}


def build(folder: Path) -> tuple[Path, Path]:
    """A config and a ledger with the synthetic data, evaluated."""
    text = (ROOT / "config" / "hunnan.toml").read_text(encoding="utf-8")
    config = folder / "envmon.toml"
    config.write_text(text.replace('path = "../data/envmon.sqlite"', 'path = "ledger.sqlite"'))
    settings = load_settings(config, {})
    rng = np.random.default_rng(7)
    end = pd.date_range("2025-01-01 00:00", "2026-11-26 23:00", freq="h", tz="Asia/Shanghai")
    season = 1 + 0.5 * np.cos((end.day_of_year.to_numpy() - 15) / 365 * 2 * np.pi)
    with Ledger.open(folder / "ledger.sqlite") as ledger:
        for station in STATIONS:
            frames = []
            for parameter, median in MEDIANS.items():
                values = median * season * rng.lognormal(0, 0.45, len(end))
                values = np.round(values, 1 if parameter == "co" else 0)
                frames.append(
                    observations(station, parameter, end - pd.Timedelta(hours=1), end, values)
                )
            ledger.write_observations(pd.concat(frames, ignore_index=True), "synthetic")
        # The river target's sections, sampled by hand twice a month in 2026 (GB 3838 items).
        river = next(t for t in settings.targets if t.kind == "river_class")
        taken = pd.DatetimeIndex(
            [
                pd.Timestamp(f"2026-{month:02d}-{day:02d} 10:00", tz="Asia/Shanghai")
                for month in range(1, 12)
                for day in (5, 20)
            ]
        )
        items = {"ph": 7.5, "do": 6.0, "codmn": 5.0, "nh3n": 0.9, "tp": 0.15, "cod": 18.0}
        for section in river.sections:
            frames = [
                observations(section, item, taken, taken, mean * rng.lognormal(0, 0.2, len(taken)))
                for item, mean in items.items()
            ]
            ledger.write_observations(pd.concat(frames, ignore_index=True), "water")
        evaluate_dirty(ledger, settings)
    return config, folder / "ledger.sqlite"


#: The automatic-station items of ``--automatic-sections`` and their typical values [mg/L;
#: pH 1] (GB 3838-2002 Table 1 classes II–III).
AUTOMATIC_ITEMS = {
    "ph": 7.6,
    "do": 7.0,
    "codmn": 4.0,
    "nh3n": 0.6,
    "tp": 0.12,
    "cod": 15.0,
}

#: The refresh a ``--automatic-sections`` run measures, run by this code and by the
#: baseline commit's (``sys.argv``: config, ledger; prints CPU seconds and the rows' digest).
REFRESH = """
import hashlib, json, sys, time
from datetime import date
from pathlib import Path
from monitor.ledger import Ledger
from monitor.service.progress_targets import refresh_progress
from monitor.settings import load_settings
settings = load_settings(Path(sys.argv[1]), {})
with Ledger.open(Path(sys.argv[2])) as ledger:
    cpu, wall = time.process_time(), time.perf_counter()
    rows = refresh_progress(ledger, settings, ("2026-01-01",), date(2027, 1, 1))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    stored = ledger.query("SELECT * FROM target_progress ORDER BY target, as_of, variant")
stored = stored.drop(columns="computed_at").astype(object)
stored = stored.where(stored.notna(), None)
text = json.dumps(stored.to_dict("records"), ensure_ascii=False, default=str)
print(json.dumps({"cpu": cpu, "wall": wall, "rows": rows,
                  "digest": hashlib.sha256(text.encode()).hexdigest()}))
"""


def build_automatic(folder: Path, sections: int, hours: int) -> tuple[Path, Path]:
    """A config with one river target over ``sections`` sections and a ledger with their
    automatic-station readings of 2026 (every ``hours`` hours)."""
    text = '[district]\nname = "Hunnan District"\nname_zh = "浑南区"\n\n'
    text += '[ledger]\npath = "ledger.sqlite"\n\n'
    text += '[[areas]]\nid = "hunnan"\nname = "Hunnan District"\nname_zh = "浑南区"\n'
    ids = [f"auto_{i + 1}" for i in range(sections)]
    for i, section in enumerate(ids):
        text += (
            f'\n[[water_sections]]\nid = "{section}"\nname_zh = "自动站{i + 1}"\n'
            f'river = "浑河"\ntarget_class = "{("II", "III", "III", "IV")[i % 4]}"\n'
        )
    text += (
        '\n[[targets]]\nkind = "river_class"\nid = "automatic"\nname = "自动站断面达标"\n'
        f"year = 2026\nsections = {json.dumps(ids)}\n"
    )
    config = folder / "envmon.toml"
    config.write_text(text, encoding="utf-8")
    rng = np.random.default_rng(11)
    ends = pd.date_range(
        "2026-01-01 00:00", "2026-12-31 23:59", freq=f"{hours}h", tz="Asia/Shanghai"
    )
    # a three-day gap in every section's readings (an outage), a different one each
    with Ledger.open(folder / "ledger.sqlite") as ledger:
        for i, section in enumerate(ids):
            gap = pd.Timestamp("2026-03-10", tz="Asia/Shanghai") + pd.Timedelta(days=29 * i)
            mine = ends[(ends < gap) | (ends >= gap + pd.Timedelta(days=3))]
            frames = []
            for item, typical in AUTOMATIC_ITEMS.items():
                values = np.round(typical * rng.lognormal(0, 0.25, len(mine)), 3)
                flags = np.full(len(mine), "", dtype=object)
                if item == "nh3n":  # spikes (an isolated reading 8× its neighbours)
                    values[rng.integers(1, len(mine) - 1, 40)] *= 8
                if item == "tp":  # below the detection limit (0.01 mg/L) now and then
                    low = rng.random(len(mine)) < 0.03
                    values[low], flags[low] = 0.01, "below_detection_limit"
                if item == "codmn":  # the source marks some readings invalid
                    flags[rng.random(len(mine)) < 0.02] = "source_invalid"
                frames.append(
                    observations(
                        section, item, mine - pd.Timedelta(hours=hours), mine, values, flags=flags
                    )
                )
            ledger.write_observations(pd.concat(frames, ignore_index=True), "automatic")
    return config, folder / "ledger.sqlite"


def automatic(args: argparse.Namespace, folder: Path) -> None:
    """The ``--automatic-sections`` case: a year's refresh, this code against the
    baseline commit's, on copies of one ledger."""
    started = time.perf_counter()
    config, ledger_path = build_automatic(folder, args.automatic_sections, args.automatic_hours)
    readings = len(AUTOMATIC_ITEMS) * args.automatic_sections
    print(
        f"built {args.automatic_sections} automatic sections × {len(AUTOMATIC_ITEMS)} items "
        f"every {args.automatic_hours} h over 2026 ({readings} series) in "
        f"{time.perf_counter() - started:.1f} s"
    )

    def run(code: Path, ledger: Path) -> dict[str, object]:
        env = {**os.environ, "PYTHONPATH": str(code)}
        done = subprocess.run(
            [sys.executable, "-c", REFRESH, str(config), str(ledger)],
            check=False,
            capture_output=True,
            text=True,
            cwd=code,
            env=env,
        )
        if done.returncode:
            raise SystemExit(f"the refresh by {code} failed:\n{done.stderr}")
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
        result["peak_rss_mb"] = after.ru_maxrss / 1024
        return result

    pristine = folder / "pristine.sqlite"  # (the baseline refreshes the same ledger)
    shutil.copyfile(ledger_path, pristine)
    now = run(ROOT, ledger_path)
    print(
        f"refresh of 365 as-of dates, this code: CPU {now['cpu']:.2f} s, wall "
        f"{now['wall']:.2f} s ({now['rows']} rows), peak RSS {now['peak_rss_mb']:.0f} MB"
    )
    if args.baseline_commit == "none":
        return
    baseline_copy = folder / "baseline.sqlite"
    shutil.copyfile(pristine, baseline_copy)
    source = folder / "baseline-code"
    source.mkdir(exist_ok=True)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", args.baseline_commit, "monitor"],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(source)], input=archive, check=True)

    before = run(source, baseline_copy)
    print(
        f"baseline {args.baseline_commit}: CPU {before['cpu']:.2f} s, wall "
        f"{before['wall']:.2f} s ({before['rows']} rows), peak RSS of both runs "
        f"{before['peak_rss_mb']:.0f} MB"
    )
    cpu_now, cpu_before = float(now["cpu"]), float(before["cpu"])  # type: ignore[arg-type]
    print(
        f"ratio (CPU): {cpu_before / cpu_now:.1f}x less; per as-of date "
        f"{cpu_now / 365 * 1000:.1f} ms against {cpu_before / 365 * 1000:.1f} ms"
    )
    same = now["digest"] == before["digest"]
    print(f"stored target_progress rows identical to the baseline's: {same}")
    if not same:
        raise SystemExit("the refreshed rows differ from the baseline commit's")


def main() -> None:
    """Build, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="build in DIR and keep it")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--automatic-sections",
        type=int,
        default=0,
        help="measure a river target over N automatic-station sections instead",
    )
    parser.add_argument("--automatic-hours", type=int, default=4)
    parser.add_argument(
        "--baseline-commit", default="8c521ac", help="'none': this code only (no ratio)"
    )
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="envmon-progress-"))
    folder.mkdir(parents=True, exist_ok=True)
    if args.automatic_sections:
        try:
            automatic(args, folder)
        finally:
            if args.keep is None:
                shutil.rmtree(folder)
        return
    started = time.perf_counter()
    config, ledger_path = build(folder)
    print(
        f"built 11 stations × {len(MEDIANS)} pollutants, 2025-01-01 … 2026-11-26, evaluated "
        f"in {time.perf_counter() - started:.1f} s"
    )
    settings = load_settings(config, {})
    as_of = date(2026, 11, 26)

    def best(run: object) -> float:
        times = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            run()  # type: ignore[operator]
            times.append(time.perf_counter() - t)
        return min(times)

    def in_process() -> None:
        with Ledger.open(ledger_path) as ledger:
            rows = compute_progress(ledger, settings, as_of=as_of)
            assert rows

    def baseline() -> None:
        with Ledger.open(ledger_path) as ledger:
            frame = ledger.query(
                "SELECT date, standard, official, aqi FROM daily_aqi WHERE site = 'hunnan' "
                "AND is_area = 1 AND date >= '2023-01-01' AND date <= '2026-12-31'"
            )
            assert len(frame)

    command = [
        sys.executable,
        "-m",
        "monitor",
        "--config",
        str(config),
        "progress",
        "--as-of",
        as_of.isoformat(),
    ]

    def cli() -> None:
        subprocess.run(command, check=True, capture_output=True)

    def series() -> None:
        from monitor.service.progress_targets import refresh_progress

        with Ledger.open(ledger_path) as ledger:
            refresh_progress(ledger, settings, ("2026-01-01",), date(2026, 11, 27))

    def series_day_by_day() -> None:
        with Ledger.open(ledger_path) as ledger:
            day = date(2026, 1, 1)
            while day <= as_of:
                assert compute_progress(ledger, settings, as_of=day)
                day += timedelta(days=1)

    started, cpu = time.perf_counter(), time.process_time()
    series()
    series_s, series_cpu = time.perf_counter() - started, time.process_time() - cpu
    started, cpu = time.perf_counter(), time.process_time()
    series_day_by_day()
    day_by_day_s, day_by_day_cpu = time.perf_counter() - started, time.process_time() - cpu
    cli_s = best(cli)
    compute_s = best(in_process)
    base_s = best(baseline)
    print(f"envmon progress (fresh process, wall): {cli_s:.3f} s  (aim < 2 s)")
    print(f"compute_progress in process: {compute_s * 1000:.0f} ms")
    print(f"baseline: read the area's daily rows from SQLite: {base_s * 1000:.1f} ms")
    print(f"ratio compute_progress / baseline: {compute_s / base_s:.1f}x")
    print(
        f"daily progress series recomputed for 2026-01-01 … 2026-11-26: {series_s:.1f} s "
        f"(CPU {series_cpu:.1f} s)"
    )
    print(
        f"baseline: the same as-of dates one at a time, nothing kept: {day_by_day_s:.1f} s "
        f"(CPU {day_by_day_cpu:.1f} s; the series {day_by_day_s / series_s:.1f}x faster, "
        f"{day_by_day_cpu / series_cpu:.1f}x less CPU)"
    )
    if args.keep is None:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
