"""Benchmark: ``envmon export`` of each ``--what``, streamed, against the whole-range export.

Run from the checkout: ``.venv/bin/python -m benchmarks.bench_export [--stations 300]
[--days 10] [--start 2026-02-26] [--repeat 2] [--ledger PATH --from D --to D]
[--baseline-commit 079958a | --baseline-tree DIR | --no-baseline]``.

Synthetic national archive day files (``benchmarks/make_archive.py``, nothing downloaded)
are imported into a fresh ledger and evaluated with the Hunnan settings
(``config/hunnan.toml``: station and area rows, both rule sets), as ``bench_evaluate``
builds its ledger; ``--ledger`` exports an existing ledger instead (``--from``/``--to``).
Then ``envmon export --what observations|hourly-aqi|daily-aqi`` over the whole range runs
in a fresh process (``python -m monitor``, standard output to a file) for the new code and
for the baseline, alternating, ``--repeat`` times each: wall seconds, CPU seconds (user +
system) and peak RSS of the child. Every output is compared byte for byte
(size and SHA-256) with the baseline's in the same run. The ledger file is read once
before the runs, so none of them reads it from the disk. Needs GNU ``time``
(``/usr/bin/time``, Debian package ``time``).

Baseline (named, measured in the same run): **commit 079958a**, the export that read the
whole range into one pandas frame (observations sorted by SQLite over the whole range, the
flags merged per row in Python) and wrote it with one ``to_csv``. Its ``monitor`` package is
taken from git (``git archive 079958a monitor config``) into a scratch folder;
``--baseline-tree DIR`` uses a copy made by hand, ``--no-baseline`` skips it.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from benchmarks.bench_evaluate import ROOT, baseline_tree, build_ledger, evaluate, load
from benchmarks.bench_ledger_import import machine

#: The whole-range export (the named baseline).
BASELINE_COMMIT = "079958a"
WHAT = ("observations", "hourly-aqi", "daily-aqi")


def export(
    tree: Path, ledger: Path, what: str, first: date, last: date, out: Path
) -> dict[str, Any]:
    """``envmon export`` with the code in ``tree`` in a fresh process: wall and CPU seconds,
    peak RSS [MB], and the output's size and SHA-256.

    CPU and peak RSS come from GNU ``/usr/bin/time`` (a small parent: Linux keeps a child's
    ``ru_maxrss`` across ``execve``, so one forked from this process would report at least
    this process's own resident size)."""
    usage = out.with_suffix(".time")
    command = ["/usr/bin/time", "-o", str(usage), "-f", "%U %S %M", sys.executable, "-m"]
    command += ["monitor", "--ledger", str(ledger), "export", "--from", first.isoformat()]
    command += ["--to", last.isoformat(), "--what", what]
    begin = time.perf_counter()
    with out.open("wb") as sink:
        done = subprocess.run(command, cwd=tree, stdout=sink, stderr=subprocess.PIPE)
    seconds = time.perf_counter() - begin
    if done.returncode != 0:
        raise SystemExit(f"export failed in {tree} ({done.returncode}): {done.stderr.decode()}")
    user, system, peak_kib = usage.read_text().split()[-3:]
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    return {
        "seconds": seconds,
        "cpu": float(user) + float(system),
        "rss": int(peak_kib) / 1024,
        "bytes": out.stat().st_size,
        "sha256": digest,
    }


def main() -> None:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stations", type=int, default=300)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--start", type=date.fromisoformat, default=date(2026, 2, 26))
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--ledger", type=Path, help="an evaluated ledger to export instead")
    parser.add_argument("--from", dest="first", type=date.fromisoformat)
    parser.add_argument("--to", dest="last", type=date.fromisoformat)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--baseline-commit", default=BASELINE_COMMIT)
    group.add_argument("--baseline-tree", type=Path)
    group.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory(prefix="bench_export_") as scratch:
        folder = Path(scratch)
        if args.no_baseline:
            base = None
        elif args.baseline_tree:
            base = args.baseline_tree
        else:
            base = baseline_tree(args.baseline_commit, folder / "baseline")
        if args.ledger:
            ledger = args.ledger
            first = args.first or args.start
            last = args.last or first + timedelta(days=args.days - 1)
        else:
            first, last = args.start, args.start + timedelta(days=args.days - 1)
            print(f"building: {args.stations} stations × {args.days} days from {first} …")
            dirty = build_ledger(folder / "template.sqlite", folder / "archive", args.days,
                                 args.stations, first, base or ROOT)  # fmt: skip
            ledger = folder / "ledger.sqlite"
            counts, seconds, _, _ = evaluate(
                base or ROOT, folder / "template.sqlite", ledger, ROOT / "config/hunnan.toml"
            )
            print(f"{dirty} site-days imported; evaluated in {seconds:.1f} s: {counts[1]:,} "
                  f"hourly and {counts[2]:,} daily AQI rows, {counts[3]:,} QC flags")  # fmt: skip
        trees = {"new": ROOT, **({"baseline": base} if base else {})}
        with ledger.open("rb") as file:  # (into the OS's cache first: no run reads it cold)
            while file.read(1 << 24):
                pass
        for what in WHAT:
            runs: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
            for repeat in range(args.repeat):
                for name, tree in trees.items() if repeat % 2 == 0 else reversed(trees.items()):
                    result = export(tree, ledger, what, first, last, folder / f"{name}.csv")
                    runs[name].append(result)
                    print(
                        f"  {what:12} {name:8} {result['seconds']:6.2f} s, CPU "
                        f"{result['cpu']:6.2f} s, peak RSS {result['rss']:7.1f} MB, "
                        f"{result['bytes']:,} bytes ({load()})"
                    )
            new = runs["new"]
            rows = (folder / "new.csv").read_bytes().count(b"\n") - 1
            line = f"{what}: {rows:,} rows; new best {min(r['seconds'] for r in new):.2f} s"
            if "baseline" in runs:
                old = runs["baseline"]
                same = {r["sha256"] for r in new} == {r["sha256"] for r in old}
                ratio = min(r["seconds"] for r in old) / min(r["seconds"] for r in new)
                cpu = min(r["cpu"] for r in old) / min(r["cpu"] for r in new)
                rss = max(r["rss"] for r in old) / max(r["rss"] for r in new)
                line += (
                    f"; baseline {args.baseline_tree or args.baseline_commit} best "
                    f"{min(r['seconds'] for r in old):.2f} s: wall {ratio:.2f}×, CPU "
                    f"{cpu:.2f}×, peak RSS {max(r['rss'] for r in old):.0f} → "
                    f"{max(r['rss'] for r in new):.0f} MB (baseline/new {rss:.2f}×); output "
                    + ("byte-identical" if same else "DIFFERS")
                )
                if not same:
                    print(line)
                    raise SystemExit(f"{what}: the output differs from the baseline's")
            print(line)


if __name__ == "__main__":
    main()
