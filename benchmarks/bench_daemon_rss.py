"""Benchmark: resident memory of the idle daemon, against the import cost of its modules.

Run from the checkout: ``.venv/bin/python -m benchmarks.bench_daemon_rss [--idle 20]
[--config config/hunnan.toml]``.

The daemon (``python -m monitor --config CONFIG run``) is started as a subprocess with a
copy of the district's settings in a temporary folder: ``[ledger] path`` points at a
temporary file, ``[service] http_port = 0`` (the port is read from the log line
``health on http://HOST:PORT/healthz``), and every ``[[sources]]`` URL points at a loopback
``http.server`` in this process that answers 503 (``Retry-After: 0``) to everything, so
nothing leaves the machine and each source fails quickly after its retries. A settings file
without sources gets one source per HTTP collector (``cnemc_air``, ``cnemc_sites_archive``,
``cnemc_water``, ``open_meteo``, ``usgs_water``), so the first runs exercise every adapter.

When ``/healthz`` answers and no source is ``pending`` any more (the first runs are done),
the daemon is left idle for ``--idle`` seconds, then ``VmRSS`` (resident now) and ``VmHWM``
(peak resident) are read from ``/proc/PID/status``. The **baseline** is a bare
``python -c "import monitor.service.daemon; …; time.sleep(…)"`` process measured the same
way (the import cost floor). Finally the daemon gets SIGTERM; its exit code and the time to
exit are reported. Aim: idle RSS < 150 MB. Linux only (``/proc``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
AIM_MB = 150.0
HEALTH_LINE = re.compile(r"health on (http://[^/\s]+)/healthz")
BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


# --------------------------------------------------------------------------- loopback source


class Unavailable(BaseHTTPRequestHandler):
    """Answers 503 to every request and counts them."""

    requests = 0
    lock = threading.Lock()

    def do_GET(self) -> None:
        with Unavailable.lock:
            Unavailable.requests += 1
        body = b"benchmark: service unavailable\n"
        self.send_response(503)
        self.send_header("Retry-After", "0")
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def start_unavailable() -> ThreadingHTTPServer:
    """The loopback 503 server, serving on a daemon thread."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Unavailable)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="503", daemon=True).start()
    return server


# --------------------------------------------------------------------------- settings copy


def toml_value(value: Any) -> str:
    """A scalar or array of scalars in TOML (JSON string escapes are valid TOML)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def toml_key(key: str) -> str:
    """A key, quoted when it is not bare."""
    return key if BARE_KEY.match(key) else json.dumps(key, ensure_ascii=False)


def is_table_array(value: Any) -> bool:
    """A non-empty list of tables."""
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def dump_toml(table: dict[str, Any], path: tuple[str, ...] = ()) -> list[str]:
    """Lines of a TOML document for what :func:`tomllib.loads` returned."""
    lines = [
        f"{toml_key(k)} = {toml_value(v)}"
        for k, v in table.items()
        if not isinstance(v, dict) and not is_table_array(v)
    ]
    for key, value in table.items():
        name = ".".join(toml_key(p) for p in (*path, key))
        if isinstance(value, dict):
            lines += ["", f"[{name}]", *dump_toml(value, (*path, key))]
        elif is_table_array(value):
            for item in value:
                lines += ["", f"[[{name}]]", *dump_toml(item, (*path, key))]
    return lines


def default_sources() -> list[dict[str, Any]]:
    """One source per HTTP collector, for a settings file without sources."""
    return [
        {"name": "cnemc_air", "collector": "cnemc_air", "stations": ["1099A", "2900A"]},
        {"name": "cnemc_archive", "collector": "cnemc_sites_archive", "catch_up_hours": 48},
        {"name": "cnemc_water", "collector": "cnemc_water"},
        {
            "name": "open_meteo",
            "collector": "open_meteo",
            "points": [{"site": "om_hunnan", "latitude": 41.72, "longitude": 123.45}],
        },
        {"name": "usgs_water", "collector": "usgs_water", "stations": ["USGS-01646500"]},
    ]


def prepare_config(source: Path, folder: Path, loopback: str) -> tuple[Path, int, bool]:
    """Copy the settings into ``folder`` with the benchmark's ledger, port and URLs.

    Returns the new file, the number of enabled sources and whether sources were added.
    """
    settings = tomllib.loads(source.read_text(encoding="utf-8"))
    settings["ledger"] = {"path": str(folder / "ledger.sqlite")}
    service = settings.setdefault("service", {})
    service["http_port"] = 0
    service["http_host"] = "127.0.0.1"
    added = not settings.get("sources")
    if added:
        settings["sources"] = default_sources()
    for entry in settings["sources"]:
        entry.pop("folder", None)  # a folder source would read local files: use the URL too
        entry["url"] = f"{loopback}/{entry['name']}"
    # Tables must come after plain keys of the same level: dump_toml orders them.
    target = folder / "settings.toml"
    target.write_text("\n".join(dump_toml(settings)) + "\n", encoding="utf-8")
    enabled = sum(1 for s in settings["sources"] if s.get("enabled", True))
    return target, enabled, added


# --------------------------------------------------------------------------- measuring


def proc_status(pid: int) -> dict[str, str]:
    """Fields of /proc/PID/status."""
    with open(f"/proc/{pid}/status", encoding="utf-8") as status:
        return dict(line.rstrip("\n").split(":\t", 1) for line in status if ":\t" in line)


def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS, VmHWM and the anonymous/file split [MB], and the thread count."""
    status = proc_status(pid)

    def mb(key: str) -> float:
        return int(status.get(key, "0 kB").split()[0]) / 1024

    return {
        "VmRSS": mb("VmRSS"),
        "VmHWM": mb("VmHWM"),
        "RssAnon": mb("RssAnon"),
        "RssFile": mb("RssFile"),
        "Threads": float(status.get("Threads", "0")),
    }


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll ``condition`` every 0.1 s; seconds waited, or SystemExit after ``timeout``."""
    begin = time.monotonic()
    while not condition():
        if time.monotonic() - begin > timeout:
            raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)
    return time.monotonic() - begin


def get_json(url: str) -> dict[str, Any] | None:
    """The JSON document at ``url``, or None if it does not answer yet."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            document: dict[str, Any] = json.load(response)
            return document
    except (OSError, urllib.error.URLError, ValueError):
        return None


class LogReader:
    """Collects a subprocess's stderr lines on a thread and finds the health URL."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self.base_url: str | None = None
        assert process.stderr is not None
        self.thread = threading.Thread(target=self._read, args=(process.stderr,), daemon=True)
        self.thread.start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))
            match = HEALTH_LINE.search(line)
            if match and self.base_url is None:
                self.base_url = match.group(1)


def describe(name: str, memory: dict[str, float]) -> str:
    """One line of memory figures."""
    return (
        f"{name}: VmRSS {memory['VmRSS']:.1f} MB, VmHWM {memory['VmHWM']:.1f} MB "
        f"(anon {memory['RssAnon']:.1f} MB, file {memory['RssFile']:.1f} MB), "
        f"{memory['Threads']:.0f} threads"
    )


def measure_baseline(idle: float, env: dict[str, str]) -> dict[str, float]:
    """RSS of a bare process that only imports the daemon module, after the same idle time."""
    code = (
        "import monitor.service.daemon; import sys, time; "
        "print('imported', flush=True); time.sleep(600)"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        begin = time.monotonic()
        line = process.stdout.readline()
        if line.strip() != "imported":
            raise SystemExit(f"baseline process failed (exit {process.wait()})")
        print(f"baseline: import monitor.service.daemon took {time.monotonic() - begin:.2f} s")
        time.sleep(idle)
        return memory_mb(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=10)


def main() -> None:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "hunnan.toml")
    parser.add_argument("--idle", type=float, default=20.0, help="idle seconds before reading")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds for the first runs")
    args = parser.parse_args()
    if not Path("/proc/self/status").exists():
        raise SystemExit("needs Linux /proc")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores; python "
        f"{platform.python_version()} ({sys.executable})"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENVMON_")}
    env["PYTHONUNBUFFERED"] = "1"

    loopback = start_unavailable()
    loopback_url = f"http://127.0.0.1:{loopback.server_port}"
    with tempfile.TemporaryDirectory(prefix="bench_daemon_") as scratch:
        config, sources, added = prepare_config(args.config, Path(scratch), loopback_url)
        print(
            f"settings: copy of {args.config} with {sources} enabled source(s)"
            + (" (none configured: one per HTTP collector added)" if added else "")
            + f", every URL → {loopback_url} (503)"
        )
        command = [sys.executable, "-m", "monitor", "--config", str(config), "run"]
        begin = time.monotonic()
        daemon = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
        )
        log = LogReader(daemon)
        code: int | None = None
        stopped_s = float("nan")
        try:
            wait_for(lambda: log.base_url is not None or daemon.poll() is not None, 60, "the log")
            if log.base_url is None:
                raise SystemExit(f"daemon exited {daemon.returncode}:\n" + "\n".join(log.lines))
            health_url = f"{log.base_url}/healthz"
            wait_for(lambda: get_json(health_url) is not None, 30, "/healthz")
            print(
                f"daemon: pid {daemon.pid}, /healthz answers after "
                f"{time.monotonic() - begin:.2f} s"
            )

            def first_runs_done() -> bool:
                document = get_json(health_url)
                return document is not None and all(
                    s["state"] != "pending" for s in document["sources"].values()
                )

            wait_for(first_runs_done, args.timeout, "the first runs")
            health = get_json(health_url) or {}
            states = {n: s["state"] for n, s in health.get("sources", {}).items()}
            print(
                f"daemon: first runs done after {time.monotonic() - begin:.2f} s "
                f"(status {health.get('status')}; {states}); "
                f"{Unavailable.requests} request(s) to the loopback 503 server"
            )
            time.sleep(args.idle)
            if daemon.poll() is not None:
                raise SystemExit(f"daemon exited {daemon.returncode} while idle")
            idle = memory_mb(daemon.pid)
        finally:
            if daemon.poll() is None:
                stop = time.monotonic()
                daemon.send_signal(signal.SIGTERM)
                try:
                    code = daemon.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    daemon.kill()
                    code = None
                stopped_s = time.monotonic() - stop
        log.thread.join(timeout=5)
        loopback.shutdown()

    baseline = measure_baseline(args.idle, env)
    print(describe(f"daemon idle {args.idle:.0f} s after the first runs", idle))
    print(describe(f"baseline bare import, {args.idle:.0f} s idle", baseline))
    print(
        f"daemon − baseline: VmRSS {idle['VmRSS'] - baseline['VmRSS']:+.1f} MB, "
        f"VmHWM {idle['VmHWM'] - baseline['VmHWM']:+.1f} MB; ratio VmRSS daemon/baseline "
        f"{idle['VmRSS'] / baseline['VmRSS']:.2f}×"
    )
    verdict = "met" if idle["VmRSS"] < AIM_MB else "NOT met"
    print(f"aim idle VmRSS < {AIM_MB:.0f} MB: {verdict} ({idle['VmRSS']:.1f} MB)")
    stopped = "stopped" in log.lines[-1] if log.lines else False
    print(
        f"SIGTERM: exit code {code}, exited after {stopped_s:.2f} s"
        + ("; last log line 'stopped'" if stopped else f"; last log line {log.lines[-1:]}")
    )


if __name__ == "__main__":
    main()
