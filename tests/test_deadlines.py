"""Total deadlines on envmon's other network waits (issue 16): the InfluxDB writer, the
Grafana API client and SMTP sending, each against a real local server that drips one byte
every 0.2 s — under their per-read timeouts for ever. Each gives up at its deadline with an
error naming the server and the deadline (a dripping InfluxDB used to hold shutdown ~22 s).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from monitor.deadline import abort_requests
from monitor.errors import PublishError
from monitor.grafana.api import Grafana, GrafanaError
from monitor.influxdb.writer import InfluxWriter
from monitor.reports.mail import MailError, build_message, send_message
from monitor.settings import InfluxSettings, Secret, SmtpSettings
from tests.hostile import DripSmtp, HostileServer

#: Deadline used in these tests [s]; the bound asserted is this plus slack for a busy machine.
DEADLINE = 1.0
SLACK = 3.0


@pytest.fixture
def dripping() -> Iterator[HostileServer]:
    with HostileServer(drip_every=0.2, fallback="/drip") as server:
        yield server


def test_influxdb_write_gives_up_at_its_deadline(dripping: HostileServer) -> None:
    """A write to a dripping InfluxDB ends at timeout_seconds as ``unavailable`` (retried
    later; the points stay in the outbox), naming the server and the deadline."""
    settings = InfluxSettings(url=dripping.url, org="envmon", bucket="envmon", timeout_seconds=1)
    with InfluxWriter(settings, Secret("tok")) as writer:
        started = time.monotonic()
        with pytest.raises(PublishError) as caught:
            writer.write(["m v=1 1700000000"])
        elapsed = time.monotonic() - started
    assert elapsed < DEADLINE + SLACK
    assert caught.value.kind == "unavailable"
    assert f"InfluxDB at {dripping.url} did not complete a write within 1 s" in str(caught.value)
    assert dripping.requests["/api/v2/write"] == 1  # it did reach the server
    assert 1 <= dripping.sent["/drip"] < 30  # and was cut off mid-drip


def test_influxdb_write_ends_with_the_final_drain(dripping: HostileServer) -> None:
    """``until`` (the end of the daemon's final drain) cuts a write shorter than its 20 s
    timeout_seconds; once it has passed, no write starts."""
    settings = InfluxSettings(url=dripping.url, org="envmon", bucket="envmon", timeout_seconds=20)
    with InfluxWriter(settings, Secret("tok")) as writer:
        writer.until = time.monotonic() + DEADLINE
        started = time.monotonic()
        with pytest.raises(PublishError, match="did not complete a write within") as caught:
            writer.write(["m v=1 1700000000"])
        assert time.monotonic() - started < DEADLINE + SLACK
        assert caught.value.kind == "unavailable"
        with pytest.raises(PublishError, match="the final drain's time is over"):
            writer.write(["m v=1 1700000000"])
    assert dripping.requests["/api/v2/write"] == 1


def test_influxdb_write_is_abandoned_at_a_stop(dripping: HostileServer) -> None:
    """The daemon's stop (its event set, then abort_requests) ends a write in flight at
    once, as ``unavailable``: the points stay in the outbox."""
    stop = threading.Event()
    settings = InfluxSettings(url=dripping.url, org="envmon", bucket="envmon", timeout_seconds=60)

    def stop_soon() -> None:
        while not dripping.sent["/drip"]:
            time.sleep(0.02)
        stop.set()
        abort_requests(stop)

    with InfluxWriter(settings, Secret("tok"), cancel=stop) as writer:
        threading.Thread(target=stop_soon, daemon=True).start()
        started = time.monotonic()
        with pytest.raises(PublishError, match="write abandoned, the service is stopping") as c:
            writer.write(["m v=1 1700000000"])
        assert time.monotonic() - started < SLACK  # not the 60 s deadline
    assert c.value.kind == "unavailable"


def test_grafana_request_gives_up_at_its_deadline(dripping: HostileServer) -> None:
    grafana = Grafana(dripping.url, "glsa_token", timeout=DEADLINE)
    started = time.monotonic()
    with pytest.raises(GrafanaError) as caught:
        grafana.request("GET", "/api/health")
    assert time.monotonic() - started < DEADLINE + SLACK
    assert f"Grafana at {dripping.url} did not answer GET /api/health within 1 s" in str(
        caught.value
    )
    assert dripping.requests["/api/health"] == 1
    assert 1 <= dripping.sent["/drip"] < 30


def test_smtp_send_gives_up_at_its_deadline() -> None:
    """A server dripping its 220 greeting: the send ends at smtp.timeout as MailError (the
    report is retried later), naming the server and the deadline."""
    message = build_message(
        subject="daily",
        sender="envmon@example.org",
        recipients=["a@example.org"],
        text="t",
        html="<p>t</p>",
        images={},
        message_id="<daily.test@example.org>",
        date=datetime(2026, 5, 10, tzinfo=UTC),
    )
    with DripSmtp(drip_every=0.2) as server:
        smtp = SmtpSettings(host="127.0.0.1", port=server.port, security="none", timeout=DEADLINE)
        started = time.monotonic()
        with pytest.raises(MailError) as caught:
            send_message(smtp, None, message, ["a@example.org"])
        elapsed = time.monotonic() - started
        assert 1 <= server.sent < 30
    assert elapsed < DEADLINE + SLACK
    assert f"cannot send via 127.0.0.1:{server.port} (none)" in str(caught.value)
    assert "within 1 s (smtp.timeout, the whole conversation)" in str(caught.value)
