"""The daemon publishes to a real VictoriaMetrics: after collecting, through an outage, and
once more when it stops."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from monitor.ledger import Ledger
from monitor.service.daemon import Daemon
from monitor.settings import load_settings
from tests.conftest import RecordedServer
from tests.engines import VictoriaMetrics
from tests.influxdb.fault_proxy import Fault, fault_proxy
from tests.metrics import parse, types, value
from tests.service.test_daemon import CONFIG, get, serve_archive


def start(
    tmp_path: Path, server: RecordedServer, influx_url: str
) -> tuple[Daemon, threading.Thread]:
    path = tmp_path / "envmon.toml"
    path.write_text(
        CONFIG.replace("{url}", server.url)
        + f'\n[influxdb]\nenabled = true\nurl = "{influx_url}"\ninterval_seconds = 5\n'
        "max_backoff_seconds = 5\n",
        encoding="utf-8",
    )
    settings = load_settings(path, {"ENVMON_INFLUXDB_TOKEN": "test-token"})
    daemon = Daemon(
        settings,
        tmp_path / "ledger.sqlite",
        clock=lambda: datetime(2026, 3, 1, 16, 30, tzinfo=UTC),
    )
    thread = threading.Thread(target=daemon.run, daemon=True)
    thread.start()
    return daemon, thread


def wait_for(condition: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def stop(daemon: Daemon, thread: threading.Thread) -> None:
    daemon.stop_event.set()
    thread.join(timeout=60)
    assert not thread.is_alive()


def outbox(tmp_path: Path) -> int:
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        return ledger.outbox_stats()[0]


def test_the_daemon_publishes_what_it_collects(
    tmp_path: Path, recorded_server: RecordedServer, victoria: VictoriaMetrics
) -> None:
    serve_archive(recorded_server)
    daemon, thread = start(tmp_path, recorded_server, victoria.url)
    try:
        wait_for(
            lambda: (
                daemon.health.get("archive") is not None and daemon.health["archive"].state == "ok"
            )
        )
        wait_for(
            lambda: (
                daemon.publish is not None
                and daemon.publish.state == "ok"
                and outbox(tmp_path) == 0
            )
        )
        assert daemon.server is not None
        health = json.loads(get(f"http://127.0.0.1:{daemon.server.server_port}/healthz")[1])
        assert health["publish"]["state"] == "ok"
        assert health["publish"]["pending_site_days"] == 0
    finally:
        stop(daemon, thread)
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        rows = ledger.query(
            "SELECT count(*) AS n FROM observations WHERE site = '1099A' AND value IS NOT NULL"
        )["n"].iloc[0]
    stored = victoria.export('{__name__="air_observation_value",site="1099A",source="archive"}')
    assert sum(len(s["values"]) for s in stored) == rows > 0
    assert victoria.export('{__name__="heartbeat_up"}')
    assert victoria.export('{__name__="source_health_last_fetch_ok",source="broken"}')


def test_collection_goes_on_while_influxdb_is_down_and_shutdown_flushes(
    tmp_path: Path, recorded_server: RecordedServer, victoria: VictoriaMetrics
) -> None:
    serve_archive(recorded_server)
    with fault_proxy(victoria.url) as proxy:
        proxy.script = [Fault(status=503, body="down")] * 10_000
        daemon, thread = start(tmp_path, recorded_server, proxy.url)
        try:
            wait_for(
                lambda: (
                    daemon.health.get("archive") is not None
                    and daemon.health["archive"].state == "ok"
                )
            )
            wait_for(lambda: daemon.publish is not None and daemon.publish.state == "failing")
            assert outbox(tmp_path) > 0  # collected and kept for later
            assert daemon.server is not None
            text = get(f"http://127.0.0.1:{daemon.server.server_port}/metrics")[1]
            families, kinds = parse(text), types(text)
            pending = value(
                families["envmon_publish_pending_site_days"], "envmon_publish_pending_site_days"
            )
            assert pending is not None and pending > 0  # the outbox, waiting for InfluxDB
            assert kinds["envmon_publish_failures"] == "counter"
            failures = value(families["envmon_publish_failures"], "envmon_publish_failures_total")
            assert failures is not None and failures >= 1
            points = value(families["envmon_publish_points"], "envmon_publish_points_total")
            assert points == 0  # InfluxDB has answered 503 from the start
            lag = value(families["envmon_publish_lag_seconds"], "envmon_publish_lag_seconds")
            assert lag is not None and lag >= 0
            # no successful round yet: the family is there, without a sample
            assert families["envmon_publish_last_success_timestamp_seconds"] == []
            proxy.script.clear()  # InfluxDB is back; stop right away: the final drain sends
        finally:
            stop(daemon, thread)
    assert outbox(tmp_path) == 0
    assert victoria.export('{__name__="air_observation_value",site="1099A",source="archive"}')
