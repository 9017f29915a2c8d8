"""The daemon's handling of unexpected errors and of servers that ask to wait (issue 16)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import pytest

from monitor.cli import main
from monitor.collectors.base import Batch, DataKind
from monitor.ledger import Ledger
from monitor.service import daemon as daemon_module
from monitor.service.daemon import Daemon, SourceHealth
from monitor.settings import Settings, SourceSettings, load_settings
from tests.hostile import HostileServer
from tests.service.test_daemon_bounds import BASE


class BuggyCollector:
    """A collector with a bug (an error no adapter raises on purpose): a bug cannot be
    produced on demand from a real adapter, so this one stands for it."""

    name: ClassVar[str] = "cnemc_air"
    kind: ClassVar[DataKind] = "measured"

    def collect(self, since: datetime | None, until: datetime | None) -> Iterator[Batch]:
        raise KeyError("stationCode")
        yield  # pragma: no cover - a generator, as real collectors are


def daemon_for(tmp_path: Path, url: str, interval: int = 10) -> tuple[Daemon, SourceSettings]:
    config = tmp_path / "envmon.toml"
    config.write_text(
        BASE + f'\n[[sources]]\nname = "air"\ncollector = "cnemc_air"\nurl = "{url}"\n'
        f"interval_minutes = {interval}\nretries = 2\nmax_history_hours = 0\n",
        encoding="utf-8",
    )
    settings: Settings = load_settings(config, {})
    daemon = Daemon(settings, tmp_path / "ledger.sqlite")
    with Ledger.open(daemon.ledger_path):
        pass
    source = settings.source_settings("air")
    daemon.health["air"] = SourceHealth("air", "cnemc_air", source.interval_minutes)
    return daemon, source


def test_an_unexpected_error_is_logged_once_with_its_traceback_and_shown_by_status(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """First run: traceback; second run: one line pointing at it; `envmon status` says
    FAILING with the internal error, not "ok"."""
    daemon, source = daemon_for(tmp_path, "http://127.0.0.1:9/unused")
    monkeypatch.setattr(daemon_module, "build_collector", lambda *a, **k: BuggyCollector())
    with caplog.at_level(logging.INFO, logger="envmon.daemon"):
        daemon.collect(source)
        daemon.collect(source)
    records = [r for r in caplog.records if "unexpected error" in r.getMessage()]
    assert len(records) == 2
    assert records[0].exc_info is not None
    assert records[1].exc_info is None
    assert "traceback logged earlier" in records[1].getMessage()
    assert daemon.health["air"].state == "failing"
    assert "internal error KeyError" in daemon.health["air"].last_error
    capsys.readouterr()
    assert main(["--config", str(tmp_path / "envmon.toml"), "status"]) == 0
    out = capsys.readouterr().out
    assert "air (cnemc_air, measured): FAILING" in out
    assert "internal error KeyError" in out


def test_the_next_scheduled_run_respects_a_long_retry_after(tmp_path: Path) -> None:
    """HTTP 429 with Retry-After 7200 s on a 10-minute source: one request, no retry in
    the run, the hold capped at the interval, and the next run asks nothing."""
    with HostileServer() as server:
        daemon, source = daemon_for(tmp_path, server.url + "/retry-after/7200", interval=10)
        daemon.collect(source)
        assert server.requests["/retry-after/7200"] == 1
        health = daemon.healthz()["sources"]["air"]
        assert health["state"] == "failing"
        assert "Retry-After 7200 s (held 600 s" in health["last_error"]
        held = datetime.fromisoformat(health["held_until"])
        assert 590 < (held - datetime.now(UTC)).total_seconds() <= 600
        daemon.collect(source)  # the next scheduled run
        assert server.requests["/retry-after/7200"] == 1


def test_redact_masks_secrets_as_whole_words_and_authorization_values() -> None:
    """A station password 123456 is masked where it stands alone, not inside an MN; any
    Authorization value is masked whatever its scheme; the scheme stays readable."""
    from monitor.redact import redact, register

    register("123456")
    assert redact("QN=1;PW=123456;MN=ABCDEF0123456789ABCDEF01") == (
        "QN=1;PW=********;MN=ABCDEF0123456789ABCDEF01"
    )
    echoed = '{"headers": {"Authorization": "Basic dXNlcjpwYXNz", "X-Api-Key": "k-99"}}'
    assert redact(echoed) == (
        '{"headers": {"Authorization": "Basic ********", "X-Api-Key": "********"}}'
    )


def test_a_job_queued_before_the_stop_does_nothing(tmp_path: Path) -> None:
    """After SIGTERM (the stop event set) a collection that was queued runs no request and
    records nothing: its window waits for the next start."""
    with HostileServer() as server:
        daemon, source = daemon_for(tmp_path, server.url + "/echo/500")
        daemon.stop_event.set()
        daemon.collect(source)
        daemon.report("daily")
        assert sum(server.requests.values()) == 0
    assert daemon.health["air"].state == "pending"
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        assert ledger.fetch_log("air").empty
        assert ledger.query("SELECT count(*) AS n FROM report_log")["n"].iloc[0] == 0
