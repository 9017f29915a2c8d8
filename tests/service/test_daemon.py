"""The daemon: scheduled collection, health and metrics, failures isolated, clean stop."""

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
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)

from monitor import __version__
from monitor.collectors.base import observations
from monitor.ledger import Ledger
from monitor.redact import MASK, register, reset
from monitor.service.daemon import Daemon, SourceHealth
from monitor.service.pipeline import evaluate_dirty
from monitor.settings import load_settings
from tests.conftest import (
    DATA,
    HUNNAN_TWO_STATIONS,
    ONE_STATION_DAEMON,
    POISON_VALUE,
    RecordedServer,
    Reply,
)
from tests.metrics import parse, scrape, types, value

CONFIG = (
    ONE_STATION_DAEMON
    + """\

[[sources]]
name = "archive"
collector = "cnemc_sites_archive"
url = "{url}/air"
interval_minutes = 60
catch_up_hours = 48

[[sources]]
name = "broken"
collector = "cnemc_air"
url = "{url}/broken"
retries = 0
timeout_seconds = 2
"""
)


def write_config(tmp_path: Path, server: RecordedServer) -> Path:
    """A config with one working archive source and one broken live source."""
    path = tmp_path / "envmon.toml"
    path.write_text(CONFIG.replace("{url}", server.url), encoding="utf-8")
    return path


def serve_archive(server: RecordedServer) -> None:
    """Day files of 2026-02-28 and 2026-03-01; anything else 404; /broken answers 500."""
    for day in ("20260228", "20260301"):
        server.add_file(
            f"/air/china_sites_{day}.csv",
            DATA / "cnemc_sites_archive" / f"china_sites_{day}.csv",
            content_type="text/csv",
        )
    server.add("/broken", Reply(body=b"oops", status=500, content_type="text/plain"))


def get(url: str) -> tuple[int, str]:
    """GET a URL on loopback; return status and body."""
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read().decode()


@pytest.fixture
def running(tmp_path: Path, recorded_server: RecordedServer) -> Iterator[Daemon]:
    """A daemon in a thread whose clock stands at 2026-03-02 00:30 Shanghai."""
    serve_archive(recorded_server)
    settings = load_settings(write_config(tmp_path, recorded_server), {})
    daemon = Daemon(
        settings,
        tmp_path / "ledger.sqlite",
        clock=lambda: datetime(2026, 3, 1, 16, 30, tzinfo=UTC),
    )
    thread = threading.Thread(target=daemon.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        states = {h.state for h in daemon.health.values()}
        if daemon.health and "pending" not in states:
            break
        time.sleep(0.05)
    yield daemon
    daemon.stop_event.set()
    thread.join(timeout=20)
    assert not thread.is_alive()


def test_one_failing_source_does_not_stop_the_other(running: Daemon, tmp_path: Path) -> None:
    """The archive source ingests and evaluates while the broken one is marked failing."""
    assert running.health["archive"].state == "ok"
    assert running.health["broken"].state == "failing"
    assert "HTTP 500" in running.health["broken"].last_error
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        stored = ledger.query("SELECT count(*) AS n FROM observations")["n"].iloc[0]
        daily = ledger.query("SELECT count(*) AS n FROM daily_aqi")["n"].iloc[0]
        failed = ledger.fetch_log("broken")["status"].tolist()
    assert stored > 0
    assert daily > 0
    assert failed[0] == "failed"


def test_healthz_and_metrics(running: Daemon) -> None:
    """/healthz is JSON with per-source states; /metrics is Prometheus text that
    prometheus_client's own parser reads: families, types, label sets and values."""
    assert running.server is not None
    base = f"http://127.0.0.1:{running.server.server_port}"
    status, body = get(base + "/healthz")
    health = json.loads(body)
    assert status == 200
    assert health["status"] == "degraded"
    assert health["sources"]["archive"]["state"] == "ok"
    assert health["sources"]["broken"]["consecutive_failures"] == 1
    content_type, text = scrape(base + "/metrics")
    # the text format's content type (prometheus_client.exposition.CONTENT_TYPE_PLAIN_1_0_0)
    assert content_type == "text/plain; version=1.0.0; charset=utf-8"
    families = parse(text)
    kinds = types(text)
    # counters: the parser drops `_total` from the family name, the samples keep it
    assert kinds["envmon_source_failures"] == "counter"
    assert kinds["envmon_source_rows_ingested"] == "counter"
    assert kinds["envmon_source_consecutive_failures"] == "gauge"
    assert kinds["envmon_source_last_success_timestamp_seconds"] == "gauge"
    assert kinds["envmon_source_lag_seconds"] == "gauge"
    for family in (
        "envmon_source_failures",
        "envmon_source_rows_ingested",
        "envmon_source_consecutive_failures",
    ):
        assert {tuple(sorted(s.labels.items())) for s in families[family]} == {
            (("source", "archive"),),
            (("source", "broken"),),
        }
    source = families["envmon_source_failures"]
    assert value(source, "envmon_source_failures_total", source="broken") == 1
    assert value(source, "envmon_source_failures_total", source="archive") == 0
    ingested = families["envmon_source_rows_ingested"]
    rows = value(ingested, "envmon_source_rows_ingested_total", source="archive")
    assert rows == running.health["archive"].rows_ingested_total > 0
    assert value(ingested, "envmon_source_rows_ingested_total", source="broken") == 0
    consecutive = families["envmon_source_consecutive_failures"]
    assert value(consecutive, "envmon_source_consecutive_failures", source="broken") == 1
    success = families["envmon_source_last_success_timestamp_seconds"]
    assert [s.labels for s in success] == [{"source": "archive"}]  # never for the broken one
    assert success[0].value == running.health["archive"].last_success
    lag = families["envmon_source_lag_seconds"]
    assert [s.labels for s in lag] == [{"source": "archive"}]
    assert value(families["envmon_up"], "envmon_up") == 1
    assert value(families["envmon_build_info"], "envmon_build_info", version=__version__) == 1
    assert "envmon_publish_pending_site_days" not in families  # no [influxdb]: no publishing
    assert "envmon_hj212_packets" not in families  # no [hj212]: no receiver
    # prometheus_client's ProcessCollector and PlatformCollector, on the daemon's registry
    assert kinds["process_cpu_seconds"] == "counter"
    resident = value(families["process_resident_memory_bytes"], "process_resident_memory_bytes")
    assert resident is not None and resident > 0
    start = value(families["process_start_time_seconds"], "process_start_time_seconds")
    assert start is not None and start <= running.started_at
    assert families["python_info"][0].labels["implementation"]


def test_metrics_in_openmetrics_when_the_scraper_asks_for_it(running: Daemon) -> None:
    """Prometheus scrapes with ``Accept: application/openmetrics-text;version=1.0.0,...``
    (its scrape manager's default): the answer is OpenMetrics 1.0, which
    prometheus_client's strict OpenMetrics parser reads (it raises without the final
    ``# EOF`` or on text-format syntax); without that Accept the text format stays."""
    assert running.server is not None
    url = f"http://127.0.0.1:{running.server.server_port}/metrics"
    # Prometheus 2.x scrape Accept header (scrape/scrape.go, acceptHeader with OpenMetrics)
    accept = (
        "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
        "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
    )
    content_type, text = scrape(url, accept)
    # prometheus_client's OpenMetrics content type, with the name escaping it applied
    assert content_type == (
        "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=underscores"
    )
    assert text.endswith("# EOF\n")
    families = {f.name: f for f in openmetrics_families(text)}
    assert families["envmon_source_failures"].type == "counter"
    failed = [s for s in families["envmon_source_failures"].samples if s.name.endswith("_total")]
    assert {s.labels["source"]: s.value for s in failed} == {"archive": 0, "broken": 1}
    assert families["envmon_build"].type == "info"  # OpenMetrics names the info family bare
    plain_type, plain = scrape(url, "text/plain")
    assert plain_type == "text/plain; version=1.0.0; charset=utf-8"
    assert "# EOF" not in plain


def test_metrics_label_values_escaped_and_masked(tmp_path: Path) -> None:
    """A label value with a double quote, a backslash and a newline comes back intact
    through the parser; a registered secret in a label value is masked."""
    path = tmp_path / "envmon.toml"
    path.write_text(CONFIG.replace("{url}", "http://127.0.0.1:9"), encoding="utf-8")
    daemon = Daemon(load_settings(path, {}), tmp_path / "ledger.sqlite")
    odd = 'we"ird\\name\nline two'
    daemon.health[odd] = SourceHealth(odd, "cnemc_air", 60, failures_total=3)
    register("s3cret-value")
    try:
        daemon.health["s3cret-value"] = SourceHealth("s3cret-value", "cnemc_air", 60)
        text = daemon.metrics()
    finally:
        reset()
    # the text format escapes \, " and newline in label values
    assert 'source="we\\"ird\\\\name\\nline two"' in text
    samples = parse(text)["envmon_source_failures"]
    assert value(samples, "envmon_source_failures_total", source=odd) == 3
    assert value(samples, "envmon_source_failures_total", source=MASK) == 0
    assert "s3cret-value" not in text


def test_a_restart_resumes_from_the_watermark(running: Daemon, tmp_path: Path) -> None:
    """Running the archive job again changes nothing: it resumes after the stored data."""
    source = running.settings.source_settings("archive")
    before = running.health["archive"].rows_ingested_total
    running.collect(source)
    assert running.health["archive"].rows_ingested_total == before


def test_sigterm_finishes_the_current_job_and_exits_0(
    tmp_path: Path, recorded_server: RecordedServer
) -> None:
    """`envmon run` in a real process: SIGTERM during a slow fetch → clean exit 0."""
    serve_archive(recorded_server)
    recorded_server.add("/broken", Reply(body=b"slow", status=500, delay=1.5))
    config = write_config(tmp_path, recorded_server)
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor", "--config", str(config), "run"],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stderr is not None
    port = None
    seen: list[str] = []
    deadline = time.monotonic() + 20
    while port is None and time.monotonic() < deadline:
        line = process.stderr.readline()
        seen.append(line)
        found = re.search(r"health on http://127\.0\.0\.1:(\d+)/healthz", line)
        port = int(found.group(1)) if found else None
    assert port is not None
    assert get(f"http://127.0.0.1:{port}/healthz")[0] == 200
    while all(path != "/broken" for path, _ in list(recorded_server.requests)):
        time.sleep(0.05)  # the slow job has started (sources run in parallel)
    process.send_signal(signal.SIGTERM)
    rest = process.stderr.read()
    code = process.wait(timeout=30)
    process.stderr.close()
    assert code == 0
    assert "stopped" in rest
    # The log is envmon's: APScheduler's INFO lines ("Adding job tentatively", "Running
    # job …", one per job and run) are left out unless --debug.
    log = "".join(seen) + rest
    assert "INFO apscheduler" not in log, log
    assert "INFO envmon.daemon" in log


def test_healthz_shows_days_that_cannot_be_evaluated(
    tmp_path: Path, poisoned_evaluation: str
) -> None:
    """Issue 13 §1: /healthz says which site-days cannot be evaluated, why and since when,
    and the service is degraded until they evaluate."""
    config = tmp_path / "envmon.toml"
    config.write_text(HUNNAN_TWO_STATIONS, encoding="utf-8")
    settings = load_settings(config, {})
    path = tmp_path / "ledger.sqlite"
    end = datetime(2026, 3, 2, 0, tzinfo=UTC)
    with Ledger.open(path) as ledger:
        ledger.write_observations(observations("hun_bad", "nh3n", end, end, POISON_VALUE), "lab")
        evaluate_dirty(ledger, settings)
    daemon = Daemon(settings, path)
    health = daemon.healthz()
    assert health["status"] == "degraded"
    assert health["evaluation"]["state"] == "failing"
    assert health["evaluation"]["failing_days"] == 1
    [entry] = health["evaluation"]["failing"]
    assert (entry["scope"], entry["site"], entry["date"], entry["attempts"]) == (
        "site",
        "hun_bad",
        "2026-03-02",
        1,
    )
    assert poisoned_evaluation in entry["error"]
    with Ledger.open(path) as ledger:
        ledger.write_observations(observations("hun_bad", "nh3n", end, end, 0.4), "lab")
        evaluate_dirty(ledger, settings)
    assert daemon.healthz()["evaluation"] == {"state": "ok", "failing_days": 0, "failing": []}
