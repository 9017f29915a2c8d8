"""Benchmark: ``envmon calc aqi --scale hour`` on irregular files, CSV in, CSV out.

Run: ``.venv/bin/python -m benchmarks.bench_calc_irregular [--rows 576000] [--repeat 3]``

Writes the platform-style export of :mod:`benchmarks.bench_calc` and two irregular copies
of it, and times each in a fresh process (start-up and writing included), with its peak
resident memory:

* the **baseline**: the export with one blank line (any irregular layout is read by
  pandas' C reader, not the columnar one);
* ``long rows``: the export with five rows holding a cell more than the header (a stray
  separator). Before they were read by pandas' Python reader: at 576,000 rows 4.1 s and
  836 MB against 1.3 s and 433 MB for the baseline (issue "Speed where users feel it").

Ratios are the long-row file's time and memory over the baseline's, measured in the same
run; ``--repeat N`` keeps the best of N runs of each (wall clock and CPU time separately,
the CPU time being less disturbed by the others' load on a shared machine). The aim: a
ratio of about 1 (no worse than other irregular files).
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.bench_calc import _installed_env, compile_envmon, write_air

#: Where the long rows go (fractions of the file) and the cell each gets too many.
LONG_AT = (0.0, 0.17, 0.5, 0.78, 0.99)

_CHILD = """
import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def write_irregular(source: Path, blank: Path, long: Path) -> None:
    """``blank``: ``source`` with a blank line after its 1,000th row; ``long``: ``source``
    with a cell too many in the rows at :data:`LONG_AT`."""
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    rows = len(lines) - 1
    blank.write_text("".join([*lines[:1001], "\n", *lines[1001:]]), encoding="utf-8")
    for at in LONG_AT:
        k = 1 + min(int(at * rows), rows - 1)
        lines[k] = lines[k].rstrip("\n") + ",7\n"
    long.write_text("".join(lines), encoding="utf-8")


def time_envmon(*argv: str) -> tuple[float, float, float]:
    """Wall-clock and CPU seconds (user + system, all threads) and peak resident memory
    (MB) of one ``envmon`` run in a fresh process (its own parent reports the memory: the
    children's peak of this process would be the largest of all runs)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, sys.executable, "-m", "monitor", *argv],
        check=True,
        env=_installed_env(),
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, int(done.stdout.strip()) / 1024


def main() -> None:
    """Run the benchmark and print the times, memory and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=576_000)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_calc_irregular_") as tmp:
        folder = Path(tmp)
        source, out = folder / "air.csv", folder / "out.csv"
        blank, long = folder / "blank.csv", folder / "long.csv"
        write_air(source, args.rows)
        write_irregular(source, blank, long)
        compile_envmon()
        found = {}
        for label, path in (("baseline (a blank line)", blank), ("long rows", long)):
            runs = [
                time_envmon("calc", "aqi", "--scale", "hour", str(path), "-o", str(out))
                for _ in range(args.repeat)
            ]
            wall, cpu, rss = (min(r[i] for r in runs) for i in range(3))
            found[label] = wall, cpu, rss
            print(
                f"{label}: {args.rows:,} rows in {wall:.2f} s (CPU {cpu:.2f} s), "
                f"peak RSS {rss:.0f} MB"
            )
        base, mine = found["baseline (a blank line)"], found["long rows"]
        print(
            f"long rows / baseline: wall {mine[0] / base[0]:.2f}, CPU {mine[1] / base[1]:.2f}, "
            f"peak RSS {mine[2] / base[2]:.2f}"
        )


if __name__ == "__main__":
    main()
