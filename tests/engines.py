"""Real time-series engines for the tests, started on free loopback ports.

* VictoriaMetrics (Debian package ``victoria-metrics``): takes InfluxDB's v2 write API, so
  ``influxdb-client`` writes to it exactly as to InfluxDB 2.x; read back with
  ``/api/v1/export`` (exact values and millisecond timestamps).
* InfluxDB 1.x (Debian package ``influxdb``): runs the InfluxQL the dashboards and alert
  rules use, over ``/query``; loaded with the same line protocol through ``/write``.

A missing binary skips the tests that need it, naming the package; ``.ci/run`` installs
both, so CI skips nothing.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_http(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"{url}: exited with {process.returncode}: {log.read_text()[-2000:]}"
            )
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout} s: {log.read_text()[-2000:]}")


def _binary(name: str, package: str) -> str:
    path = shutil.which(name) or (
        f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None
    )
    if path is None:
        pytest.skip(f"{name} is not installed (Debian package {package}; .ci/run installs it)")
    return path


@dataclass
class VictoriaMetrics:
    """A running VictoriaMetrics; ``url`` is what ``[influxdb] url`` points at."""

    url: str
    process: subprocess.Popen[bytes]
    data: Path
    log: Path
    port: int

    def flush(self) -> None:
        """Make everything written so far visible to queries."""
        requests.get(f"{self.url}/internal/force_flush", timeout=10).raise_for_status()

    def export(self, match: str = '{__name__=~".+"}') -> list[dict[str, Any]]:
        """Every stored series matching ``match`` with its raw samples."""
        self.flush()
        reply = requests.post(f"{self.url}/api/v1/export", data={"match[]": match}, timeout=60)
        reply.raise_for_status()
        return [json.loads(line) for line in reply.text.splitlines() if line.strip()]

    def samples(self, match: str = '{__name__=~".+"}') -> dict[tuple[Any, ...], float]:
        """``{(metric name, sorted labels…, time in s): value}`` of every stored sample."""
        out: dict[tuple[Any, ...], float] = {}
        for series in self.export(match):
            metric = dict(series["metric"])
            name = metric.pop("__name__")
            labels = tuple(sorted(metric.items()))
            for value, stamp in zip(series["values"], series["timestamps"], strict=True):
                out[(name, labels, stamp // 1000)] = value
        return out

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)

    def start(self) -> None:
        """Start (again) on the same port and data folder."""
        self.process = _start_victoria(self.data, self.log, self.port)
        _wait_http(f"{self.url}/health", self.process, self.log)


def _start_victoria(data: Path, log: Path, port: int) -> subprocess.Popen[bytes]:
    binary = _binary("victoria-metrics", "victoria-metrics")
    with log.open("ab") as out:  # the child keeps its own descriptor
        return subprocess.Popen(
            [
                binary,
                f"-storageDataPath={data}",
                f"-httpListenAddr=127.0.0.1:{port}",
                "-retentionPeriod=100y",
                "-dedup.minScrapeInterval=1ms",  # one sample per series and time, as InfluxDB
                "-search.latencyOffset=0s",
                "-loggerLevel=ERROR",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def start_victoria_metrics(folder: Path) -> VictoriaMetrics:
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = folder / "victoria.log"
    process = _start_victoria(folder / "data", log, port)
    server = VictoriaMetrics(f"http://127.0.0.1:{port}", process, folder / "data", log, port)
    _wait_http(f"{server.url}/health", process, log)
    return server


@dataclass
class Influx1:
    """A running InfluxDB 1.x; ``query`` runs InfluxQL, ``write`` loads line protocol."""

    url: str
    process: subprocess.Popen[bytes]

    def query(self, text: str, database: str = "envmon") -> list[dict[str, Any]]:
        """The ``series`` of the first statement's result (``[]`` when empty); errors raise."""
        reply = requests.post(
            f"{self.url}/query",
            params={"db": database, "epoch": "s"},
            data={"q": text},
            timeout=60,
        )
        reply.raise_for_status()
        result = reply.json()["results"][0]
        if "error" in result:
            raise AssertionError(f"InfluxQL error for {text!r}: {result['error']}")
        return list(result.get("series", []))

    def write(self, lines: Sequence[str], database: str = "envmon") -> None:
        body = "\n".join(line for line in lines if line).encode()
        reply = requests.post(
            f"{self.url}/write", params={"db": database, "precision": "s"}, data=body, timeout=60
        )
        if reply.status_code != 204:
            raise AssertionError(f"write refused ({reply.status_code}): {reply.text}")

    def reset(self, database: str = "envmon") -> None:
        """Drop and create the database."""
        for statement in (f'DROP DATABASE "{database}"', f'CREATE DATABASE "{database}"'):
            requests.post(
                f"{self.url}/query", data={"q": statement}, timeout=30
            ).raise_for_status()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def start_influx1(folder: Path) -> Influx1:
    binary = _binary("influxd", "influxdb")
    folder.mkdir(parents=True, exist_ok=True)
    port, rpc = free_port(), free_port()
    config = folder / "influxdb.conf"
    config.write_text(
        f"""reporting-disabled = true
bind-address = "127.0.0.1:{rpc}"
[meta]
  dir = "{folder}/meta"
[data]
  dir = "{folder}/data"
  wal-dir = "{folder}/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:{port}"
  log-enabled = false
[logging]
  level = "error"
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
"""
    )
    log = folder / "influxd.log"
    with log.open("ab") as out:  # the child keeps its own descriptor
        process = subprocess.Popen(
            [binary, "-config", str(config)], stdout=out, stderr=subprocess.STDOUT
        )
    server = Influx1(f"http://127.0.0.1:{port}", process)
    _wait_http(f"{server.url}/ping", process, log)
    server.reset()
    return server


@pytest.fixture(scope="session")
def victoria(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VictoriaMetrics]:
    """One VictoriaMetrics for the session (tests use their own site names or time ranges
    when they need a clean slate)."""
    server = start_victoria_metrics(tmp_path_factory.mktemp("victoria"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def influx1(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Influx1]:
    """One InfluxDB 1.x for the session; call ``reset()`` for an empty database."""
    server = start_influx1(tmp_path_factory.mktemp("influx1"))
    yield server
    server.stop()
