"""``envmon hj212 listen``: the receiver alone, in a real process, stopped by SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from monitor.cli import listen_and_evaluate
from monitor.hj212.server import Receiver
from monitor.ledger import Ledger
from monitor.settings import load_settings
from tests.hj212.conftest import Client, packet, wait_for
from tests.hj212.test_daemon_integration import CONFIG


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_listen_receives_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "envmon.toml"
    config.write_text(CONFIG.replace("port = 0\n\n[[hj212", f"port = {port}\n\n[[hj212"))
    env = {**os.environ, "ENVMON_HJ212_PW_HN01": "123456"}
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor", "--config", str(config), "hj212", "listen"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        for line in process.stderr:  # wait for the receiver to listen
            if "listening for HJ 212" in line:
                break
        client = Client(port)
        client.send(packet())
        assert [r.cn for r in client.replies_until(1)] == ["9014"]
        client.close()
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        assert time.monotonic() - started < 10
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        count = ledger.connection.execute("SELECT count(*) FROM observations").fetchone()
        aqi = ledger.connection.execute(
            "SELECT period_end FROM hourly_aqi WHERE site = 'hn01' AND standard = 'hj633-2012'"
        ).fetchall()
        dirty = ledger.dirty_days()
    assert count == (1,)
    # evaluated before exiting: 2025-01-01 08:00 Beijing start → labelled 01:00 UTC
    assert aqi == [(1735693200,)]
    assert dirty.empty


def test_listen_evaluates_on_the_interval_while_running(tmp_path: Path) -> None:
    """`envmon hj212 listen` evaluates every `evaluate_interval_minutes` as the daemon does
    (here the loop of the command with a 0.2 s interval)."""
    config = tmp_path / "envmon.toml"
    config.write_text(CONFIG)
    settings = load_settings(config, {"ENVMON_HJ212_PW_HN01": "123456"})
    receiver = Receiver(settings.hj212, tmp_path / "ledger.sqlite")
    port = receiver.start()
    stop = threading.Event()
    loop = threading.Thread(
        target=listen_and_evaluate,
        args=(receiver, settings, tmp_path / "ledger.sqlite", stop, 0.2),
    )
    loop.start()
    try:
        client = Client(port)
        client.send(packet())
        assert [r.cn for r in client.replies_until(1)] == ["9014"]
        client.close()

        def evaluated() -> bool:
            with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
                rows = ledger.connection.execute("SELECT count(*) FROM hourly_aqi").fetchone()
                return bool(rows[0]) and ledger.dirty_days().empty

        assert wait_for(evaluated)  # while the receiver still runs
        assert loop.is_alive()
    finally:
        stop.set()
        loop.join(timeout=20)
    assert not loop.is_alive()


def test_listen_without_password_is_a_config_error(tmp_path: Path) -> None:
    config = tmp_path / "envmon.toml"
    config.write_text(CONFIG)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENVMON_HJ212")}
    result = subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(config), "hj212", "listen"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "ENVMON_HJ212_PW_HN01 is not set" in result.stderr
    assert "Traceback" not in result.stderr
