"""Where an evaluation run's time goes: per-stage timers of one ``evaluate_dirty`` run.

Run from the checkout: ``.venv/bin/python -m benchmarks.bench_evaluate_stages [--days 7]
[--stations 1600] [--overlap auto|on|off] [--tree DIR]``.

The ledger of ``bench_evaluate`` (synthetic national archive days, every site-day dirty) is
evaluated once in a child process whose stages are wrapped with timers (wall seconds and
the CPU seconds of the thread that ran them): on the evaluating thread the read of each
chunk's observations, QC (``checked_flags``), the AQI work (``_air``) and its parts, the
time it waits for the lock the writing thread holds and for the last writes; on the writing
thread each write (``write_derived``, ``delete_qc_flags``, the outbox queue); on the read-ahead
thread the SQLite read of the next chunk. ``--tree`` measures another copy of the code (for
example ``git archive 28153f6 monitor config | tar -x -C DIR``) on the same kind of ledger.
Only for looking: the figures to compare are ``bench_evaluate``'s.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.bench_evaluate import ROOT, build_ledger

#: Run in a code tree (argv: ledger, config, overlap): wrap the stages, evaluate, print.
STAGES_SCRIPT = """
import sys, threading, time
from collections import defaultdict
from pathlib import Path
import monitor.ledger.evaluation_input as ei
import monitor.ledger.evaluation_output as eo
import monitor.service.evaluate as ev
from monitor.ledger import Ledger
from monitor.settings import load_settings

T = defaultdict(lambda: [0.0, 0.0, 0])

def timed(name, f):
    def wrapper(*a, **k):
        w, c = time.perf_counter(), time.thread_time()
        try:
            return f(*a, **k)
        finally:
            t = T[name]
            t[0] += time.perf_counter() - w
            t[1] += time.thread_time() - c
            t[2] += 1
    return wrapper

def thread():
    return threading.current_thread().name.split("_")[0]

class TimedLock:
    def __init__(self):
        self.lock = threading.Lock()
    def acquire(self, blocking=True):
        w = time.perf_counter()
        got = self.lock.acquire(blocking)
        T["lock wait: " + thread()][0] += time.perf_counter() - w
        return got
    def release(self):
        self.lock.release()
    def __enter__(self):
        self.acquire()
    def __exit__(self, *exc):
        self.release()

ev.threading = type("Threading", (), {"Lock": TimedLock})
for name in ("checked_flags", "_air", "_water", "_latest_per_key", "_local_days",
             "_hourly_rows", "_daily_rows", "_area_values", "daily_statistics", "_wide"):
    if hasattr(ev, name):
        setattr(ev, name, timed("evaluating: " + name, getattr(ev, name)))
for name in ("write_derived", "delete_qc_flags"):
    setattr(ev, name, timed("writing: " + name, getattr(ev, name)))
eo._queue = timed("writing: outbox queue", eo._queue)
ei.fetch_snapshot = timed("reading ahead: fetch_snapshot", ei.fetch_snapshot)
ei.EvaluationInput.observations = timed(
    "evaluating: read observations", ei.EvaluationInput.observations)
eo.BackgroundWrites.submit = timed("evaluating: submit (queue full)", eo.BackgroundWrites.submit)
eo.BackgroundWrites.wait = timed("evaluating: wait for the last writes", eo.BackgroundWrites.wait)
overlap = {"auto": None, "on": True, "off": False}[sys.argv[3]]
with Ledger.open(Path(sys.argv[1])) as ledger:
    settings = load_settings(Path(sys.argv[2]), {})
    w, c, o = time.perf_counter(), time.process_time(), time.thread_time()
    report = ev.evaluate_dirty(ledger, settings, overlap=overlap)
    w, c, o = time.perf_counter() - w, time.process_time() - c, time.thread_time() - o
print(f"{report.site_days:,} site-days in {w:.2f} s, {c:.2f} s CPU ({o:.2f} s on the "
      f"evaluating thread; {c / w:.2f} cores busy on average)")
for name in sorted(T):
    wall, cpu, calls = T[name]
    print(f"  {name:45s} {wall:6.2f} s wall {cpu:6.2f} s CPU  ({calls} calls)")
"""


def main() -> None:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--stations", type=int, default=1600)
    parser.add_argument("--overlap", choices=("auto", "on", "off"), default="on")
    parser.add_argument("--tree", type=Path, default=ROOT, help="the code to measure")
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "hunnan.toml")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_evaluate_stages_") as scratch:
        ledger = Path(scratch) / "ledger.sqlite"
        tree = args.tree.resolve()
        build_ledger(ledger, Path(scratch) / "archive", args.days, args.stations, tree=tree)
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                STAGES_SCRIPT,
                str(ledger),
                str(args.config.resolve()),
                args.overlap,
            ],
            cwd=tree,
            check=True,
            capture_output=True,
            text=True,
        )
        print(done.stdout, end="")


if __name__ == "__main__":
    main()
