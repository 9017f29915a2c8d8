"""The daemon runs the HJ 212 receiver: packets stored and evaluated, /healthz and /metrics."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.ledger import Ledger
from monitor.redact import MASK
from monitor.service.daemon import Daemon
from monitor.settings import load_settings
from tests.hj212.conftest import Client, packet, wait_for
from tests.metrics import parse, types, value

CONFIG = """\
[district]
name = "Hunnan District"
name_zh = "浑南区"

[ledger]
path = "ledger.sqlite"

[service]
http_port = 0

[[areas]]
id = "hunnan"
name = "Hunnan District"
name_zh = "浑南区"

[hj212]
enabled = true
port = 0

[[hj212.stations]]
mn = "ABCDEF0123456789ABCDEF01"
site = "hn01"
password_env = "ENVMON_HJ212_PW_HN01"
"""


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Daemon]:
    path = tmp_path / "envmon.toml"
    path.write_text(CONFIG, encoding="utf-8")
    settings = load_settings(path, {"ENVMON_HJ212_PW_HN01": "123456"})
    daemon = Daemon(settings, tmp_path / "ledger.sqlite")
    thread = threading.Thread(target=daemon.run, daemon=True)
    thread.start()
    assert wait_for(lambda: daemon.receiver is not None and daemon.receiver.port is not None)
    assert wait_for(lambda: daemon.server is not None)
    yield daemon
    daemon.stop_event.set()
    thread.join(timeout=20)
    assert not thread.is_alive()


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        body: str = response.read().decode()
        return body


def test_daemon_receives_stores_evaluates_and_reports(running: Daemon, tmp_path: Path) -> None:
    assert running.receiver is not None and running.server is not None
    client = Client(running.receiver.port or 0)
    for hour in range(8, 12):
        cp = f"DataTime=20250101{hour:02d}0000"
        client.send(
            packet(
                cp=cp + ";a34004-Avg=80,a34004-Flag=N;a34002-Avg=120,a34002-Flag=N",
                qn=f"202501010900001{hour:02d}",
            )
        )
    assert len(client.replies_until(4)) == 4
    client.close()
    running.evaluate_received()  # what the scheduled job does every few minutes
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        hourly = ledger.query(
            "SELECT period_end, aqi FROM hourly_aqi WHERE site = 'hn01' AND standard = "
            "'hj633-2012' ORDER BY period_end"
        )
        dirty = ledger.dirty_days()
    # 2025-01-01 08:00 Beijing start → labelled 09:00 Beijing = 01:00 UTC
    assert hourly["period_end"].tolist()[0] == 1735693200
    # PM2.5 80 µg/m³ on the 24-hour breakpoints (75→100, 115→150): IAQI 107 (HJ 633-2012)
    assert hourly["aqi"].tolist()[0] == 107
    assert dirty.empty

    base = f"http://127.0.0.1:{running.server.server_port}"
    health = json.loads(get(base + "/healthz"))
    assert health["status"] == "ok"
    assert health["hj212"]["packets"]["accepted"] == 4
    assert health["hj212"]["stations"]["ABCDEF0123456789ABCDEF01"]["site"] == "hn01"
    assert health["hj212"]["stations"]["ABCDEF0123456789ABCDEF01"]["late"] is False
    text = get(base + "/metrics")
    families, kinds = parse(text), types(text)
    assert kinds["envmon_hj212_packets"] == "counter"
    packets = families["envmon_hj212_packets"]
    assert value(packets, "envmon_hj212_packets_total", result="accepted") == 4
    assert [s.labels for s in packets] == [{"result": "accepted"}]
    # 4 packets × 2 hourly averages (PM2.5 and PM10)
    written = families["envmon_hj212_observations_written"]
    assert value(written, "envmon_hj212_observations_written_total") == 8
    assert value(families["envmon_hj212_connections"], "envmon_hj212_connections_total") == 1
    assert value(families["envmon_hj212_write_failures"], "envmon_hj212_write_failures_total") == 0
    assert kinds["envmon_hj212_commit_latency_seconds"] == "summary"
    latency = families["envmon_hj212_commit_latency_seconds"]
    p50 = value(latency, "envmon_hj212_commit_latency_seconds", quantile="0.5")
    p99 = value(latency, "envmon_hj212_commit_latency_seconds", quantile="0.99")
    assert value(latency, "envmon_hj212_commit_latency_seconds_count") == 4  # the 4 packets
    total = value(latency, "envmon_hj212_commit_latency_seconds_sum")
    # a quantile of 4 waits is at most the largest, which is at most their sum
    assert p50 is not None and p99 is not None and total is not None
    assert 0 < p50 <= p99 <= total
    last = families["envmon_hj212_station_last_packet_timestamp_seconds"]
    assert [s.labels for s in last] == [{"mn": "ABCDEF0123456789ABCDEF01", "site": "hn01"}]
    assert "process_cpu_seconds" in families  # the standard process metrics beside


def test_a_secret_sent_as_a_factor_code_is_masked_in_metrics(running: Daemon) -> None:
    """Factor codes in /metrics are read from the packet as sent: one equal to the
    station's password (a registered secret) is masked, the others are kept."""
    assert running.receiver is not None and running.server is not None
    client = Client(running.receiver.port or 0)
    client.send(packet(cp="DataTime=20250101080000;x99999-Avg=1.5;123456-Avg=2"))
    assert client.replies_until(1)[0].cn == "9014"
    client.close()
    text = get(f"http://127.0.0.1:{running.server.server_port}/metrics")
    assert not re.search(r"(?<![0-9A-Za-z])123456(?![0-9A-Za-z])", text)  # (inside the MN: ok)
    unknown = parse(text)["envmon_hj212_unknown_code_readings"]
    assert value(unknown, "envmon_hj212_unknown_code_readings_total", code="x99999") == 1
    assert value(unknown, "envmon_hj212_unknown_code_readings_total", code=MASK) == 1


def test_stop_signal_stops_the_receiver(running: Daemon) -> None:
    assert running.receiver is not None
    port = running.receiver.port or 0
    client = Client(port)
    client.send(packet())  # an established connection, with a packet in
    assert len(client.replies_until(1)) == 1
    running.stop_event.set()
    assert client.closed_by_server(timeout=10)
    assert running.receiver.stats.connections_closed["shutdown"] == 1
    client.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            Client(port).close()
        except OSError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the receiver still accepts connections after the stop")


def test_poison_packet_refused_and_the_other_stations_evaluated(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 14: an hourly packet with DataTime=…080500 was acknowledged, stored as 09:05,
    and every evaluation cycle then failed for every station. It is refused now; the other
    station's hour is evaluated in the next cycle."""
    other = "ABCDEF0123456789ABCDEF02"
    path = tmp_path / "envmon.toml"
    path.write_text(
        CONFIG
        + f'\n[[hj212.stations]]\nmn = "{other}"\nsite = "hn02"\n'
        + 'password_env = "ENVMON_HJ212_PW_HN02"\n',
        encoding="utf-8",
    )
    env = {"ENVMON_HJ212_PW_HN01": "123456", "ENVMON_HJ212_PW_HN02": "123456"}
    daemon = Daemon(load_settings(path, env), tmp_path / "ledger.sqlite")
    thread = threading.Thread(target=daemon.run, daemon=True)
    thread.start()
    try:
        assert wait_for(lambda: daemon.receiver is not None and daemon.receiver.port is not None)
        assert daemon.receiver is not None
        client = Client(daemon.receiver.port or 0)
        poison = "DataTime=20250101080500;a34004-Avg=80,a34004-Flag=N"
        client.send(packet(cp=poison))
        client.send(packet(cp="DataTime=20250101080000;a34004-Avg=80,a34004-Flag=N", mn=other))
        refusal, ack = client.replies_until(2)
        assert (refusal.mn, refusal.cn, refusal.fields) == (
            "ABCDEF0123456789ABCDEF01",
            "9011",
            {"QnRtn": "2"},
        )
        assert (ack.mn, ack.cn) == (other, "9014")
        client.close()
        caplog.set_level("WARNING")
        daemon.evaluate_received()  # one cycle
        assert not [r for r in caplog.records if "evaluation failed" in r.getMessage()]
    finally:
        daemon.stop_event.set()
        thread.join(timeout=20)
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        stored = ledger.connection.execute("SELECT site, period_end FROM observations")
        assert stored.fetchall() == [("hn02", 1735693200)]
        hourly = ledger.query(
            "SELECT site, aqi FROM hourly_aqi WHERE standard = 'hj633-2012' ORDER BY site"
        )
    # PM2.5 80 µg/m³ on the 24-hour breakpoints (75→100, 115→150): IAQI 107 (HJ 633-2012)
    assert hourly.values.tolist() == [["hn02", 107]]
