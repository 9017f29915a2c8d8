"""Benchmark: ``envmon calc aqi`` and ``envmon calc water-class`` end to end, CSV in, CSV out.

Run: ``.venv/bin/python -m benchmarks.bench_calc [--rows 1000000] [--baseline-rows 20000]
[--repeat 3] [--floor]``
(``pip install -e '.[bench]'`` brings python-aqi 0.6.1, the named baseline).

Writes a platform-style export (``site,time,so2,no2,co,o3,pm10,pm2_5``; 1-hour values of
synthetic stations, a few empty cells, ``NA`` and a bad cell now and then) and a
surface-water export of the same number of rows, then times, each in a fresh process
(what a user runs, start-up and file writing included):

* ``envmon calc aqi --scale hour IN.csv -o OUT.csv``, ``--scale day``, and
  ``envmon calc water-class IN.csv -o OUT.csv``, in rows per second;
* the named **baseline**: python-aqi's per-value loop (``aqi.to_aqi``, the MEP algorithm)
  reading the same air file with :mod:`csv` and writing the AQI with :mod:`csv`, on the first
  ``--baseline-rows`` rows; its results differ from HJ 633 (standards.md §6), so only speed
  is compared.

``--floor`` also times, per calculator, what no columnar implementation can avoid: a fresh
Python with numpy and polars imported, reading the input as text and writing a file of the
same output cells with polars, nothing else; its ratio is the most any such engine could
reach in that run. It is timed for each way of writing (:data:`FLOOR_STYLES`): quoting
the cells that need it (``necessary``, the floor before envmon wrote files without quotes
so), looking for none to quote (``never``: the input has no quote, so envmon writes so),
and for ``calc water-class`` writing each input line as it is, then the computed cells
(``lines``: what envmon writes for such a file).

Ratios are envmon's rows/s over the baseline's, measured in the same run, by the wall clock
and by CPU time (user + system of the process, all threads): on a shared machine the wall
clock depends on the others' load at each moment, CPU time much less; ``--repeat N`` keeps
the best of N runs of each side. The aim (issue "Speed where users feel it"): ≥ 20× at
1,000,000 rows for each calculator.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

MEDIANS = {"so2": 10.0, "no2": 35.0, "co": 0.8, "o3": 70.0, "pm10": 70.0, "pm2_5": 35.0}
# python-aqi crashes above its tables; keep the values inside them.
CAPS = {"so2": 790.0, "no2": 3800.0, "co": 149.0, "o3": 1190.0, "pm10": 590.0, "pm2_5": 490.0}
WATER = {
    "ph": (7.4, 0.05),
    "do": (6.5, 0.2),
    "codmn": (4.0, 0.4),
    "cod": (18.0, 0.4),
    "bod5": (3.5, 0.4),
    "nh3n": (0.6, 0.6),
    "tp": (0.12, 0.5),
    "tn": (1.4, 0.4),
    "f": (0.6, 0.3),
}


def _cells(values: np.ndarray, decimals: int, rng: np.random.Generator) -> np.ndarray:
    text = np.char.mod(f"%.{decimals}f", values).astype(object)
    gaps = rng.random(len(values))
    text[gaps < 0.01] = ""
    text[(gaps >= 0.01) & (gaps < 0.012)] = "NA"
    text[(gaps >= 0.012) & (gaps < 0.0121)] = "-1"
    return text


def write_air(path: Path, rows: int, seed: int = 17) -> None:
    """A platform-style hourly export: stations × hours, six pollutants."""
    rng = np.random.default_rng(seed)
    sites = 200
    hours = -(-rows // sites)
    start = np.datetime64("2025-06-01T01:00")
    times = np.datetime_as_string(start + np.arange(hours).astype("timedelta64[h]"), unit="m")
    site_col = np.repeat([f"{1001 + i}A" for i in range(sites)], hours)[:rows]
    time_col = np.tile(times, sites)[:rows]
    columns = [site_col.astype(object), time_col.astype(object)]
    for name, median in MEDIANS.items():
        values = np.minimum(rng.lognormal(np.log(median), 0.6, rows), CAPS[name])
        columns.append(_cells(values, 1 if name == "co" else 0, rng))
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("site,time," + ",".join(MEDIANS) + "\n")
        out.writelines(",".join(row) + "\n" for row in zip(*columns, strict=True))


def write_water(path: Path, rows: int, seed: int = 18) -> None:
    """A surface-water export: sections × sampling days, nine items."""
    rng = np.random.default_rng(seed)
    sites = 500
    days = -(-rows // sites)
    dates = np.datetime_as_string(
        np.datetime64("2020-01-01T08:00") + np.arange(days).astype("timedelta64[D]"), unit="m"
    )
    columns = [
        np.repeat([f"S{i:04d}" for i in range(sites)], days)[:rows].astype(object),
        np.tile(dates, sites)[:rows].astype(object),
        np.where(rng.random(rows) < 0.8, "river", "lake").astype(object),
    ]
    for median, sigma in WATER.values():
        columns.append(_cells(rng.lognormal(np.log(median), sigma, rows), 3, rng))
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("site,time,water_body," + ",".join(WATER) + "\n")
        out.writelines(",".join(row) + "\n" for row in zip(*columns, strict=True))


def _installed_env() -> dict[str, str]:
    """The environment of a run as installed: ``pip install`` compiles the package's
    bytecode, so a user's ``envmon`` does not compile its modules at each start; with
    ``PYTHONDONTWRITEBYTECODE`` set (as in some shells) every run would compile them again
    (about 50 ms), which the benchmark must not count."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def compile_envmon() -> None:
    """Write the bytecode of the ``monitor`` package, as installing it does."""
    import monitor

    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(Path(monitor.__file__).parent)],
        check=True,
        env=_installed_env(),
        stdout=subprocess.DEVNULL,
    )


def time_envmon(*argv: str) -> tuple[float, float]:
    """Wall-clock and CPU seconds (user + system, all threads) of one ``envmon`` run in a
    fresh process (bytecode compiled, as installed: :func:`compile_envmon`)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "monitor", *argv],
        check=True,
        env=_installed_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


_FLOOR = """
import resource, sys, time
import numpy, polars as pl

def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime

source, output, target, style = sys.argv[1:]
wall_0, cpu_0 = time.perf_counter(), cpu()
cells = pl.read_csv(source, infer_schema=False)
if style == "lines":  # each input line as one cell (no quote in the file)
    lines = pl.read_csv(
        source, has_header=False, separator="\\x1f", quote_char=None, infer_schema=False
    ).to_series().slice(1)
wall_1, cpu_1 = time.perf_counter(), cpu()
done = pl.read_csv(output, infer_schema=False)  # not counted: envmon computes it
if style == "lines":  # the input cells as the lines, then the computed columns
    done = pl.DataFrame(
        [lines.alias(",".join(cells.columns))] + done.get_columns()[cells.width:]
    )
wall_2, cpu_2 = time.perf_counter(), cpu()
done.write_csv(
    target,
    quote_style="necessary" if style == "necessary" else "never",
    null_value="",
    line_terminator="\\n",
)
wall_3, cpu_3 = time.perf_counter(), cpu()
print(wall_2 - wall_1, cpu_2 - cpu_1)
"""


#: The floors ``--floor`` times: how the output is written.
FLOOR_STYLES = {
    "necessary": "polars writes every cell, quoting those that need it",
    "never": "polars writes every cell, looking for none to quote (a file without quotes)",
    "lines": "polars writes each input line as one cell, then the computed cells (a file "
    "without quotes; the lines read as one column, counted)",
}


def time_floor(
    source: Path, output: Path, target: Path, style: str = "necessary"
) -> tuple[float, float]:
    """Wall-clock and CPU seconds of what any polars-based ``envmon calc`` must do, in a
    fresh process: start Python, import numpy and polars, read ``source`` as text, write
    a file of the ``output``'s cells (``output`` itself is read too, not counted), as
    :data:`FLOOR_STYLES` says."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _FLOOR, str(source), str(output), str(target), style],
        check=True,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    not_counted_wall, not_counted_cpu = (float(v) for v in done.stdout.split())
    return wall - not_counted_wall, cpu - not_counted_cpu


def time_python_aqi(source: Path, target: Path, rows: int) -> tuple[float, float]:
    """Wall-clock and CPU seconds of python-aqi's loop: read ``rows`` rows with csv, rate,
    write with csv."""
    import aqi  # python-aqi 0.6.1
    from aqi import constants as c

    codes = {
        "so2": c.POLLUTANT_SO2_1H,
        "no2": c.POLLUTANT_NO2_1H,
        "co": c.POLLUTANT_CO_1H,
        "o3": c.POLLUTANT_O3_1H,
        "pm10": c.POLLUTANT_PM10,
        "pm2_5": c.POLLUTANT_PM25,
    }
    start, cpu = time.perf_counter(), time.process_time()
    with (
        source.open(encoding="utf-8", newline="") as fin,
        target.open("w", encoding="utf-8", newline="") as fout,
    ):
        reader = csv.DictReader(fin)
        writer = csv.writer(fout, lineterminator="\n")
        writer.writerow(["site", "time", "aqi"])
        for i, row in enumerate(reader):
            if i >= rows:
                break
            pairs = []
            for name, code in codes.items():
                cell = row[name].strip()
                try:
                    if float(cell) >= 0:
                        pairs.append((code, cell))
                except ValueError:
                    continue
            value = aqi.to_aqi(pairs, algo="aqi.algos.mep") if pairs else ""
            writer.writerow([row["site"], row["time"], value])
    return time.perf_counter() - start, time.process_time() - cpu


def _best(runs: list[tuple[float, float]]) -> tuple[float, float]:
    """The shortest wall-clock and the shortest CPU time of several runs."""
    return min(w for w, _ in runs), min(c for _, c in runs)


def main() -> None:
    """Run the benchmark and print rows per second and the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--baseline-rows", type=int, default=20_000)
    parser.add_argument("--only", choices=["hour", "day", "water"], action="append")
    parser.add_argument(
        "--floor",
        action="store_true",
        help="also time the floor of each calculator: start-up with numpy and polars, reading "
        "the input and writing the same output, nothing else (the most a columnar engine "
        "could reach)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run each measurement N times and keep the fastest (wall and CPU separately); "
        "on a shared machine the best of a few runs is the least disturbed by others' load",
    )
    args = parser.parse_args()

    print(
        f"machine: {platform.machine()} {platform.python_implementation()} "
        f"{platform.python_version()}, {os.cpu_count()} cores"
    )
    with tempfile.TemporaryDirectory(prefix="bench_calc_") as tmp:
        folder = Path(tmp)
        air, water, out = folder / "air.csv", folder / "water.csv", folder / "out.csv"
        write_air(air, args.rows)
        try:
            baseline_s, baseline_cpu = _best(
                [time_python_aqi(air, out, args.baseline_rows) for _ in range(args.repeat)]
            )
        except ImportError:
            print("baseline python-aqi not installed: pip install -e '.[bench]'")
            return
        baseline = args.baseline_rows / baseline_s
        baseline_per_cpu = args.baseline_rows / baseline_cpu
        print(
            f"baseline python-aqi 0.6.1 loop, csv in and out: {args.baseline_rows:,} rows in "
            f"{baseline_s:.2f} s = {baseline:,.0f} rows/s (CPU {baseline_cpu:.2f} s = "
            f"{baseline_per_cpu:,.0f} rows per CPU-second)"
        )
        runs = {
            "hour": ("calc aqi --scale hour", ["calc", "aqi", "--scale", "hour"], air),
            "day": ("calc aqi --scale day", ["calc", "aqi", "--scale", "day"], air),
            "water": ("calc water-class", ["calc", "water-class"], water),
        }
        compile_envmon()
        for key in args.only or list(runs):
            label, argv, source = runs[key]
            if key == "water":
                write_water(water, args.rows)
            seconds, cpu = _best(
                [time_envmon(*argv, str(source), "-o", str(out)) for _ in range(args.repeat)]
            )
            rate, per_cpu = args.rows / seconds, args.rows / cpu
            print(
                f"envmon {label}: {args.rows:,} rows in {seconds:.2f} s = {rate:,.0f} rows/s "
                f"= {rate / baseline:.1f}x baseline; CPU {cpu:.2f} s = {per_cpu:,.0f} rows "
                f"per CPU-second = {per_cpu / baseline_per_cpu:.1f}x baseline"
            )
            if args.floor:
                # the file has no quote: envmon writes it without looking for any to quote,
                # calc water-class writes the input lines as they are
                styles = ["necessary", "never"] + (["lines"] if key == "water" else [])
                for style in styles:
                    floor_s, floor_cpu = _best(
                        [
                            time_floor(source, out, folder / "floor.csv", style)
                            for _ in range(args.repeat)
                        ]
                    )
                    print(
                        f"  floor {style} (start-up, read, write the same output: "
                        f"{FLOOR_STYLES[style]}): {floor_s:.2f} s = "
                        f"{args.rows / floor_s / baseline:.1f}x baseline at most; CPU "
                        f"{floor_cpu:.2f} s = {args.rows / floor_cpu / baseline_per_cpu:.1f}x"
                    )


if __name__ == "__main__":
    main()
