"""Benchmark: peak resident memory of the daemon when a source answers 200 MB (issue 16).

Run from the checkout: ``.venv/bin/python -m benchmarks.bench_daemon_big_answer``.

Two runs of ``python -m monitor --config … run`` as subprocesses, with the same settings
(one ``cnemc_air`` source, default ``max_response_bytes`` = 32 MiB, no retries) except the
source's URL, which points at a loopback server in this process:

* **baseline** — the source answers ``503`` at once: the daemon's own peak RSS (imports,
  scheduler, one failed run) in the same conditions;
* **big answer** — the source answers 200 MB: with ``Content-Length`` (``/huge``), then, in
  a third run, with no length (``/huge-stream``: the cap is only found while reading).

After the source's first run is over (``/healthz`` no longer says ``pending``) VmHWM (peak
resident) is read from ``/proc/PID/status``; the daemon then gets SIGTERM and the time to
exit is reported. The figure is the ratio peak(big answer) / peak(baseline); the issue's
measurement before the cap was 679 MB for a 200 MB answer read whole. Aim: the ratio stays
near 1 (the cap, 32 MiB, bounds what one answer can add). Linux only (``/proc``).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from benchmarks.bench_daemon_rss import memory_mb
from tests.hostile import HostileServer

ROOT = Path(__file__).resolve().parent.parent

SETTINGS = """\
[district]
name = "Hunnan District"
name_zh = "浑南区"

[ledger]
path = "{ledger}"

[service]
http_port = 0

[[areas]]
id = "hunnan"
name = "Hunnan District"
name_zh = "浑南区"

[[air_stations]]
code = "1099A"
name_zh = "浑南东路"
role = "evaluation"
areas = ["hunnan"]

[[sources]]
name = "big"
collector = "cnemc_air"
url = "{url}"
retries = 0
timeout_seconds = 120
max_history_hours = 0
"""


def run_daemon(folder: Path, url: str) -> dict[str, float | str]:
    """Start the daemon on ``url``, wait for the source's first run, measure, stop."""
    config = folder / f"settings-{abs(hash(url))}.toml"
    ledger = folder / f"ledger-{abs(hash(url))}.sqlite"
    config.write_text(SETTINGS.format(ledger=ledger, url=url), encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor", "--config", str(config), "run"],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stderr is not None
    health = None
    while health is None:
        line = process.stderr.readline()
        if not line:
            raise SystemExit("the daemon ended before serving /healthz")
        found = re.search(r"health on (http://[^/\s]+)/healthz", line)
        health = found.group(1) + "/healthz" if found else None
    started = time.monotonic()
    state = "pending"
    error = ""
    while state == "pending" and time.monotonic() - started < 300:
        time.sleep(0.2)
        with urllib.request.urlopen(health, timeout=5) as answer:
            source = json.loads(answer.read())["sources"]["big"]
        state, error = source["state"], source["last_error"]
    memory = memory_mb(process.pid)
    stop = time.monotonic()
    process.send_signal(signal.SIGTERM)
    code = process.wait(timeout=60)
    took = time.monotonic() - stop
    process.stderr.close()
    return {
        "peak_mb": memory["VmHWM"],
        "rss_mb": memory["VmRSS"],
        "run_s": time.monotonic() - started - took,
        "exit": float(code),
        "stop_s": took,
        "error": error,
    }


def main() -> None:
    if not Path("/proc/self/status").exists():
        raise SystemExit("this benchmark reads /proc: Linux only")
    with HostileServer() as server, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        runs = {
            "baseline (503 at once)": run_daemon(folder, server.url + "/echo/503"),
            "200 MB with Content-Length": run_daemon(folder, server.url + "/huge"),
            "200 MB without length": run_daemon(folder, server.url + "/huge-stream"),
        }
    base = float(runs["baseline (503 at once)"]["peak_mb"])
    print("daemon peak RSS with one source answering 200 MB (default cap 32 MiB)")
    print(f"{'run':<28} {'peak MB':>8} {'× baseline':>10} {'RSS MB':>7} {'stop s':>7} exit")
    for name, run in runs.items():
        peak = float(run["peak_mb"])
        print(
            f"{name:<28} {peak:8.1f} {peak / base:10.2f} {float(run['rss_mb']):7.1f} "
            f"{float(run['stop_s']):7.2f} {int(float(run['exit']))}"
        )
    for name, run in runs.items():
        print(f"  {name}: {str(run['error'])[:160]}")
    print("before the cap (issue 16): 679 MB peak for a 200 MB answer read whole")


if __name__ == "__main__":
    main()
