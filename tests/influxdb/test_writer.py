"""The InfluxDB adapter: how answers are classified, and `check` against the API contract.

No InfluxDB 2 runs here (DESIGN.md): `check` is tested against a loopback server that
answers the InfluxDB 2 API as documented (GET /ping, GET /api/v2/buckets?name=,
GET /api/v2/orgs?org=, POST /api/v2/buckets; `Authorization: Token …`), and against a
real VictoriaMetrics, which has no bucket API.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from influxdb_client.rest import ApiException

from monitor.errors import PublishError
from monitor.influxdb.writer import InfluxWriter, classify
from monitor.settings import InfluxSettings, Secret
from tests.engines import Influx1, VictoriaMetrics

ORG_ID = "0123456789abcdef"


def api_error(status: int, body: str = "", headers: dict[str, str] | None = None) -> ApiException:
    err = ApiException(status=status, reason="reason")
    err.body = body
    err.headers = headers or {}  # type: ignore[assignment]
    return err


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, "rejected"),
        (413, "rejected"),
        (422, "rejected"),
        (401, "refused"),
        (403, "refused"),
        (404, "refused"),
        (429, "unavailable"),
        (500, "unavailable"),
        (502, "unavailable"),
        (503, "unavailable"),
    ],
)
def test_classify_statuses(status: int, kind: str) -> None:
    err = classify(api_error(status, '{"message":"partial write: field type conflict"}'), "u")
    assert err.kind == kind and err.status == status
    assert "field type conflict" in str(err)


def test_retry_after_is_read() -> None:
    err = classify(api_error(429, "", {"Retry-After": "7"}), "http://x")
    assert err.retry_after == 7.0


@dataclass
class FakeInflux2:
    """The InfluxDB 2 API calls `check` makes, as documented; records every request."""

    token: str = "good-token"
    buckets: list[dict[str, Any]] = field(default_factory=list)
    seen: list[tuple[str, str, str, str]] = field(default_factory=list)  # method, path, auth, body
    url: str = ""


@pytest.fixture
def influx2() -> Iterator[FakeInflux2]:
    fake = FakeInflux2()

    class Handler(BaseHTTPRequestHandler):
        def _reply(self, status: int, body: object = None) -> None:
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            path, _, query = self.path.partition("?")
            auth = self.headers.get("Authorization", "")
            fake.seen.append((self.command, path, auth, body))
            if path == "/ping":
                return self._reply(204)
            if auth != f"Token {fake.token}":
                return self._reply(401, {"code": "unauthorized", "message": "unauthorized access"})
            if self.command == "GET" and path == "/api/v2/buckets":
                name = dict(p.split("=", 1) for p in query.split("&") if p).get("name")
                found = [b for b in fake.buckets if b["name"] == name]
                return self._reply(200, {"buckets": found})
            if self.command == "GET" and path == "/api/v2/orgs":
                return self._reply(200, {"orgs": [{"id": ORG_ID, "name": "envmon"}]})
            if self.command == "POST" and path == "/api/v2/buckets":
                bucket = json.loads(body)
                bucket["id"] = "fedcba9876543210"
                fake.buckets.append(bucket)
                return self._reply(201, bucket)
            return self._reply(404, {"code": "not found", "message": "path not found"})

        do_GET = do_POST = _handle

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_port}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield fake
    server.shutdown()
    server.server_close()


def writer(url: str, token: str = "good-token", retention_days: int = 0) -> InfluxWriter:
    return InfluxWriter(
        InfluxSettings(url=url, org="envmon", bucket="envmon", retention_days=retention_days),
        Secret(token),
    )


def test_check_reports_a_missing_bucket_then_creates_it(influx2: FakeInflux2) -> None:
    with writer(influx2.url, retention_days=400) as w:
        report = w.check()
        assert not report.ok
        assert "does not exist" in report.lines[-1] and "--create-bucket" in report.lines[-1]
        created = w.check(create_bucket=True)
        assert created.ok, created.lines
        again = w.check()
    assert again.ok and "exists" in again.lines[-1]
    post = [s for s in influx2.seen if s[0] == "POST"]
    assert len(post) == 1
    body = json.loads(post[0][3])
    assert body["name"] == "envmon" and body["orgID"] == ORG_ID
    assert body["retentionRules"] == [{"type": "expire", "everySeconds": 400 * 86400}]
    assert all(s[2] == "Token good-token" for s in influx2.seen if s[1] != "/ping")


def test_check_reports_a_refused_token(influx2: FakeInflux2) -> None:
    with writer(influx2.url, token="wrong") as w:
        report = w.check(create_bucket=True)
    assert not report.ok
    assert "ENVMON_INFLUXDB_TOKEN" in report.lines[-1]
    assert not [s for s in influx2.seen if s[0] == "POST"]


def test_check_reports_an_unreachable_server() -> None:
    with writer("http://127.0.0.1:9") as w:
        report = w.check()
    assert not report.ok and "does not answer /ping" in report.lines[-1]


def test_check_against_victoriametrics_tests_a_write(victoria: VictoriaMetrics) -> None:
    with writer(victoria.url) as w:
        report = w.check()
    assert report.ok, report.lines
    assert "test point" in report.lines[-1]
    assert victoria.export('{__name__="envmon_check_ok"}')


# --------------------------------------------------------------------------- old servers


def test_classify_tells_a_missing_bucket_from_a_missing_write_api() -> None:
    """InfluxDB 2 answers a missing bucket with a JSON "not found" naming it; a server
    without /api/v2/write answers Go's plain "404 page not found" (InfluxDB 1.x < 1.8)."""
    bucket = classify(
        api_error(404, '{"code":"not found","message":"bucket \\"envmon\\" not found"}'), "u"
    )
    assert "--create-bucket" in str(bucket)
    missing = classify(api_error(404, "404 page not found\n"), "u")
    assert missing.kind == "refused"
    assert "no InfluxDB v2 write API" in str(missing) and "--create-bucket" not in str(missing)


def test_check_names_an_influxdb_without_the_v2_write_api(influx1: Influx1) -> None:
    """The real InfluxDB 1.x of this machine (Debian package influxdb, 1.6.7: before 1.8,
    which added /api/v2/write) answers /ping but 404 on the v2 write: `influx check` names
    the version and the cause, not "run --create-bucket"."""
    with writer(influx1.url) as w:
        version = w._version()
        assert version.startswith("1.6"), version  # the Debian package this test is about
        report = w.check(create_bucket=True)
        with pytest.raises(PublishError) as caught:
            w.write(["envmon_check ok=1 1"])
    assert not report.ok
    assert report.lines[0].endswith(f"answers /ping (InfluxDB {version})")
    assert f"InfluxDB {version} has no v2 write API" in report.lines[-1]
    assert "1.8" in report.lines[-1] and "--create-bucket" not in "\n".join(report.lines)
    # the daemon's write path says the same (the real server's answer: 404 page not found)
    assert caught.value.status == 404 and "no InfluxDB v2 write API" in str(caught.value)
