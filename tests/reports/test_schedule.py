"""The daemon's report jobs: cron times in Asia/Shanghai, catch-up, retries, one delivery."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from monitor.ledger import Ledger
from monitor.service.daemon import Daemon, last_fire_time, report_triggers
from monitor.service.reporting import write_report
from monitor.settings import Settings
from tests.reports.conftest import SmtpServer

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_triggers_fire_at_the_configured_local_times(settings: Settings) -> None:
    """Daily 08:30 and monthly on day 1 at 09:00 by default, Asia/Shanghai."""
    triggers = report_triggers(settings)
    now = datetime(2026, 5, 10, 23, 0, tzinfo=SHANGHAI)
    daily = triggers["report daily"].get_next_fire_time(None, now)
    monthly = triggers["report monthly"].get_next_fire_time(None, now)
    assert daily == datetime(2026, 5, 11, 8, 30, tzinfo=SHANGHAI)
    assert monthly == datetime(2026, 6, 1, 9, 0, tzinfo=SHANGHAI)
    changed = dataclasses.replace(
        settings,
        reports=dataclasses.replace(
            settings.reports, daily_time="07:05", monthly_day=3, monthly_time="18:45"
        ),
    )
    triggers = report_triggers(changed)
    assert triggers["report daily"].get_next_fire_time(None, now) == datetime(
        2026, 5, 11, 7, 5, tzinfo=SHANGHAI
    )
    assert triggers["report monthly"].get_next_fire_time(None, now) == datetime(
        2026, 6, 3, 18, 45, tzinfo=SHANGHAI
    )


def test_last_fire_time() -> None:
    """The latest run not after now, within the window."""
    trigger = CronTrigger(hour=8, minute=30, timezone="Asia/Shanghai")
    from datetime import timedelta

    before = datetime(2026, 5, 11, 8, 0, tzinfo=SHANGHAI)
    after = datetime(2026, 5, 11, 9, 0, tzinfo=SHANGHAI)
    day = timedelta(days=1)
    assert last_fire_time(trigger, before, day) == datetime(2026, 5, 10, 8, 30, tzinfo=SHANGHAI)
    assert last_fire_time(trigger, after, day) == datetime(2026, 5, 11, 8, 30, tzinfo=SHANGHAI)


def _daemon(settings: Settings, server: SmtpServer, at: datetime) -> Daemon:
    settings = dataclasses.replace(
        settings, smtp=dataclasses.replace(settings.smtp, port=server.port)
    )
    return Daemon(settings, settings.source.parent / "ledger.sqlite", clock=lambda: at)


def test_the_daily_job_writes_and_sends_yesterdays_digest(
    ledger: Ledger, settings: Settings, smtp_server: SmtpServer, config: Path
) -> None:
    """At 08:30 on 11 May: the digest of 10 May, sent to the daily recipients."""
    smtp_server.start()
    daemon = _daemon(settings, smtp_server, datetime(2026, 5, 11, 8, 30, tzinfo=SHANGHAI))
    daemon.report("daily")
    assert (config.parent / "reports" / "daily-2026-05-10.html").exists()
    (got,) = smtp_server.received
    assert got.message["Subject"] == "浑南区环境质量日报（2026-05-10）"


def test_missed_runs_are_caught_up_and_failed_sends_retried_once(
    ledger: Ledger, settings: Settings, smtp_server: SmtpServer, config: Path
) -> None:
    """Started at 09:10 on 11 May after downtime (the digest of 9 May and the report of
    March were made before): the retry job writes the missed digest (10 May) and monthly
    report (April); SMTP is down, so both wait. When it is up, the next retry sends each
    once; further retries send nothing."""
    daemon = _daemon(settings, smtp_server, datetime(2026, 5, 11, 9, 10, tzinfo=SHANGHAI))
    folder = config.parent / "reports"
    write_report(ledger, daemon.settings, "daily", date(2026, 5, 9), folder, send=False)
    write_report(ledger, daemon.settings, "monthly", date(2026, 3, 1), folder, send=False)
    daemon.retry_reports()
    assert (folder / "daily-2026-05-10.html").exists()
    assert (folder / "monthly-2026-04.html").exists()
    for kind, period in (("daily", "2026-05-10"), ("monthly", "2026-04")):
        entry = ledger.report_entry(kind, period)
        assert entry is not None and entry.status == "pending"
    smtp_server.start()
    daemon.retry_reports()
    daemon.retry_reports()
    daemon.report("daily", catch_up=True)  # already in the send log: nothing happens
    subjects = sorted(str(r.message["Subject"]) for r in smtp_server.received)
    assert subjects == ["浑南区环境质量日报（2026-05-10）", "浑南区环境质量月报（2026年4月）"]
    recipients = {str(r.message["Subject"]): r.recipients for r in smtp_server.received}
    assert recipients["浑南区环境质量月报（2026年4月）"] == ["leader@example.org"]


def test_a_first_start_makes_no_catch_up_report(
    ledger: Ledger, settings: Settings, smtp_server: SmtpServer, config: Path
) -> None:
    """No report made before: the retry job at start writes and sends nothing."""
    smtp_server.start()
    daemon = _daemon(settings, smtp_server, datetime(2026, 5, 11, 9, 10, tzinfo=SHANGHAI))
    daemon.retry_reports()
    assert not (config.parent / "reports").exists()
    assert smtp_server.received == []


def test_a_report_job_never_raises(
    ledger: Ledger, settings: Settings, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    """An unusable ledger path: the job logs and returns (the daemon goes on)."""
    daemon = _daemon(settings, smtp_server, datetime(2026, 5, 11, 8, 30, tzinfo=SHANGHAI))
    (tmp_path / "not-a-ledger").write_text("x", encoding="utf-8")
    daemon.ledger_path = tmp_path / "not-a-ledger"
    daemon.report("daily")
    daemon.retry_reports()
