"""The daemon against hostile upstreams on 127.0.0.1 (issue 16): a slow source does not
delay the others, SIGTERM ends `envmon run` in < 5 s whatever the upstream does, and no
secret reaches a message, a log line or /healthz.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.ledger import Ledger
from monitor.service.daemon import Daemon
from monitor.settings import load_settings
from tests.conftest import DATA, ONE_STATION_DAEMON, RecordedServer
from tests.hostile import HostileServer
from tests.service.test_daemon import serve_archive

BASE = ONE_STATION_DAEMON

#: The bound issue 16 sets from SIGTERM to exit, whatever the upstream does.
SIGTERM_BOUND_S = 5.0


def hostile_source(url: str, *, timeout: float = 60.0, cap: int = 32 * 1024 * 1024) -> str:
    return (
        f'\n[[sources]]\nname = "hostile"\ncollector = "cnemc_air"\nurl = "{url}"\n'
        f"retries = 3\ntimeout_seconds = {timeout}\nmax_response_bytes = {cap}\n"
        "max_history_hours = 0\n"
    )


def archive_source(url: str) -> str:
    return (
        f'\n[[sources]]\nname = "archive"\ncollector = "cnemc_sites_archive"\n'
        f'url = "{url}/air"\ninterval_minutes = 60\ncatch_up_hours = 48\n'
    )


@pytest.fixture
def hostile() -> Iterator[HostileServer]:
    with HostileServer(drip_every=0.5) as server:
        yield server


def test_a_dripping_source_does_not_delay_the_others(
    tmp_path: Path, recorded_server: RecordedServer, hostile: HostileServer
) -> None:
    """The archive source collects and evaluates while the drip source's request is still
    in flight (60 s deadline); /healthz calls the drip run overdue once it is past its
    interval; stopping abandons it and keeps its window for the next start."""
    serve_archive(recorded_server)
    config = tmp_path / "envmon.toml"
    config.write_text(
        BASE + archive_source(recorded_server.url) + hostile_source(hostile.url + "/drip"),
        encoding="utf-8",
    )
    daemon = Daemon(
        load_settings(config, {}),
        tmp_path / "ledger.sqlite",
        clock=lambda: datetime(2026, 3, 1, 16, 30, tzinfo=UTC),
    )
    thread = threading.Thread(target=daemon.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (
            "archive" not in daemon.health or daemon.health["archive"].state == "pending"
        ):
            time.sleep(0.05)
        archive, drip = daemon.health["archive"], daemon.health["hostile"]
        assert archive.state == "ok"
        assert archive.rows_ingested_total > 0
        assert drip.running_since is not None  # still dripping: it did not hold archive up
        while time.monotonic() < deadline and hostile.sent["/drip"] < 2:
            time.sleep(0.05)
        assert hostile.sent["/drip"] >= 2  # the drip goes on
        assert drip.running_since is not None
        assert daemon.healthz()["sources"]["hostile"]["state"] == "pending"
        later = drip.running_since + 60 * 60 + 1  # past its 60-minute interval
        health = daemon.healthz(now=later)
        assert health["sources"]["hostile"]["state"] == "overdue"
        assert health["status"] == "degraded"
    finally:
        daemon.stop_event.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        assert ledger.watermark("hostile") is None  # its window is collected next start
        assert ledger.watermark("archive") is not None


class Run:
    """`envmon run` as a real process; its stderr collected by a thread."""

    def __init__(self, config: Path, env: dict[str, str] | None = None) -> None:
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", str(config), "run"],
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)

    def wait_for(self, pattern: str, timeout: float = 30) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                found = re.search(pattern, line)
                if found:
                    return found
            time.sleep(0.05)
        raise AssertionError(f"no {pattern!r} in:\n{''.join(self.lines)}")

    def terminate(self) -> tuple[int, float]:
        """SIGTERM; the exit code and the seconds it took."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=60)
        finally:
            if self.process.poll() is None:
                self.process.kill()
        took = time.monotonic() - started
        self._reader.join(timeout=5)
        assert self.process.stderr is not None
        self.process.stderr.close()
        return code, took


def import_archive(tmp_path: Path, config: Path) -> int:
    """Observations imported before the daemon starts (what must not be lost)."""
    files = [str(DATA / "cnemc_sites_archive" / "china_sites_20260301.csv")]
    code = main(["--config", str(config), "import", "--format", "cnemc-sites-csv", *files])
    assert code == 0
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        return int(ledger.query("SELECT count(*) AS n FROM observations")["n"].iloc[0])


@pytest.mark.parametrize("path", ["/drip", "/drip-headers", "/silent", "/huge-stream"])
def test_sigterm_exits_promptly_whatever_the_upstream_does(
    tmp_path: Path, hostile: HostileServer, path: str
) -> None:
    """SIGTERM while the only source's request is in flight (60 s deadline, 3 retries,
    a 1 GiB cap for the 200 MB answer): exit 0 in under 5 s, the ledger intact, nothing
    stored lost, the source's watermark not advanced."""
    config = tmp_path / "envmon.toml"
    config.write_text(BASE + hostile_source(hostile.url + path, cap=1 << 30), encoding="utf-8")
    stored = import_archive(tmp_path, config)
    run = Run(config)
    try:
        run.wait_for(r"health on http://127\.0\.0\.1:\d+/healthz")  # the daemon is up
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not hostile.requests[path]:
            time.sleep(0.05)
        assert hostile.requests[path] == 1
        if path == "/huge-stream":
            while time.monotonic() < deadline and hostile.sent[path] < 4_000_000:
                time.sleep(0.05)  # the body is being read
    finally:
        code, took = run.terminate()
    log = "".join(run.lines)
    assert code == 0, log
    assert took < SIGTERM_BOUND_S, log
    assert "1 request(s) in flight abandoned" in log, log
    assert hostile.requests[path] == 1  # no retry after the stop
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        assert ledger.query("PRAGMA integrity_check").iloc[0, 0] == "ok"
        count = ledger.query("SELECT count(*) AS n FROM observations")["n"].iloc[0]
        assert count == stored
        assert ledger.watermark("hostile") is None


TOKEN = "tok-3f9a1c5e7b2d4068a1b2c3d4e5f60718"  # a made-up InfluxDB token


def test_publish_masks_an_echoed_token(
    tmp_path: Path,
    hostile: HostileServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A proxy answering 401 with the request headers (Authorization: Token …) in its
    body: `envmon publish` says the request was refused, without the token."""
    config = tmp_path / "envmon.toml"
    config.write_text(
        BASE + f'\n[influxdb]\nenabled = true\nurl = "{hostile.url}/echo/401"\n',
        encoding="utf-8",
    )
    import_archive(tmp_path, config)
    capsys.readouterr()
    monkeypatch.setenv("ENVMON_INFLUXDB_TOKEN", TOKEN)
    code = main(["--config", str(config), "publish"])
    out, err = capsys.readouterr()
    assert code == 1
    assert hostile.requests, "the echoing server was asked"
    assert "HTTP 401" in err
    assert "Authorization: Token ********" in err
    assert TOKEN not in out + err


GRAFANA_TOKEN = "glsa_Zx81kQ2mVb7pL0aN4wR6tY9uE3iO5sD1_8c7b6a5f"  # made up


@pytest.mark.parametrize("command", ["check", "provision"])
def test_grafana_commands_mask_an_echoed_token(
    tmp_path: Path,
    hostile: HostileServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    command: str,
) -> None:
    """`envmon grafana check`/`provision` against a proxy echoing the Bearer token."""
    config = tmp_path / "envmon.toml"
    config.write_text(BASE, encoding="utf-8")
    monkeypatch.setenv("ENVMON_GRAFANA_TOKEN", GRAFANA_TOKEN)
    monkeypatch.setenv("ENVMON_INFLUXDB_TOKEN", TOKEN)
    code = main(["--config", str(config), "grafana", command, "--url", hostile.url + "/echo/500"])
    out, err = capsys.readouterr()
    assert code != 0
    assert sum(hostile.requests.values()) >= 1
    assert "HTTP 500" in out + err
    assert GRAFANA_TOKEN not in out + err
    assert "********" in out + err


def test_daemon_log_and_healthz_mask_an_echoed_token(
    tmp_path: Path, hostile: HostileServer
) -> None:
    """`envmon run` publishing through the echoing proxy: the failure is in the log and in
    /healthz publish.last_error, the token in neither."""
    config = tmp_path / "envmon.toml"
    config.write_text(
        BASE + f'\n[influxdb]\nenabled = true\nurl = "{hostile.url}/echo/503"\n'
        "interval_seconds = 5\nmax_backoff_seconds = 5\n",
        encoding="utf-8",
    )
    run = Run(config, {"ENVMON_INFLUXDB_TOKEN": TOKEN})
    try:
        port = int(run.wait_for(r"health on http://127\.0\.0\.1:(\d+)/healthz").group(1))
        run.wait_for(r"publishing is failing")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
            text = answer.read().decode()
    finally:
        code, _ = run.terminate()
    health = json.loads(text)
    log = "".join(run.lines)
    assert code == 0
    assert "HTTP 503" in health["publish"]["last_error"]
    assert "********" in health["publish"]["last_error"]
    assert TOKEN not in text
    assert "Authorization: Token ********" in log
    assert TOKEN not in log


def test_sigterm_with_a_dripping_influxdb(tmp_path: Path) -> None:
    """SIGTERM while a write drips (InfluxDB answering one byte every 0.5 s, under its 20 s
    timeout_seconds for ever): the write in flight is abandoned at once, the final drain is
    bounded by its grace (FINAL_DRAIN_S) however the server drips, the publisher ends on
    its own (it used to be left hanging and cut by the process exit), exit 0, and the
    outbox keeps every point (nothing was acknowledged)."""
    with HostileServer(drip_every=0.5, fallback="/drip") as dripping:
        config = tmp_path / "envmon.toml"
        config.write_text(
            BASE + f'\n[influxdb]\nenabled = true\nurl = "{dripping.url}"\n', encoding="utf-8"
        )
        import_archive(tmp_path, config)
        with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
            queued = ledger.outbox_stats()[0]
        assert queued > 0  # site-days waiting to be published
        run = Run(config, {"ENVMON_INFLUXDB_TOKEN": TOKEN})
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not dripping.sent["/drip"]:
                time.sleep(0.05)
            assert dripping.sent["/drip"] >= 1  # a write is in flight, dripping
        finally:
            code, took = run.terminate()
    log = "".join(run.lines)
    assert code == 0, log
    assert took < 5.0, log  # issue 16: SIGTERM → exit in < 5 s with any upstream
    assert "publisher stopped;" in log, log
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        assert ledger.outbox_stats()[0] == queued
