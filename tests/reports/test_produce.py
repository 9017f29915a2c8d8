"""Writing reports and the send log: on disk whatever the mail does, sent exactly once."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from monitor.ledger import Ledger
from monitor.reports.mail import MailError
from monitor.service.reporting import send_pending, send_report, write_report
from monitor.settings import Settings
from tests.reports.conftest import APRIL, DAY, SmtpServer

NOW = datetime(2026, 5, 11, 8, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
TODAY = date(2026, 5, 11)


def _at(settings: Settings, server: SmtpServer, **reports: Any) -> Settings:
    return dataclasses.replace(
        settings,
        smtp=dataclasses.replace(settings.smtp, port=server.port),
        reports=dataclasses.replace(settings.reports, **reports),
    )


def test_smtp_down_then_up_delivers_exactly_once(
    ledger: Ledger, settings: Settings, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    """Down: written, pending with the error. Up: the retry sends it. Later retries and a
    second --send run send nothing more."""
    settings = _at(settings, smtp_server)
    out = tmp_path / "out"
    written = write_report(ledger, settings, "daily", DAY, out, send=True, today=TODAY, now=NOW)
    for path in (written.html, written.text, written.eml):
        assert path.stat().st_size > 0
    with pytest.raises(MailError, match="cannot send"):
        send_report(ledger, settings, "daily", "2026-05-10")
    entry = ledger.report_entry("daily", "2026-05-10")
    assert entry is not None
    assert (entry.status, entry.attempts, entry.sent_at) == ("pending", 1, None)
    assert "cannot send" in entry.last_error
    # still down: the daemon's retry counts another attempt and does not raise
    assert send_pending(ledger, settings)["daily 2026-05-10"].startswith("failed")
    smtp_server.start()
    assert send_pending(ledger, settings) == {"daily 2026-05-10": "sent"}
    assert send_pending(ledger, settings) == {}
    again = write_report(ledger, settings, "daily", DAY, out, send=True, today=TODAY, now=NOW)
    assert again.entry.status == "sent"
    assert send_report(ledger, settings, "daily", "2026-05-10") == "already sent"
    assert len(smtp_server.received) == 1
    entry = ledger.report_entry("daily", "2026-05-10")
    assert entry is not None and (entry.status, entry.attempts) == ("sent", 3)
    assert entry.message_id == smtp_server.received[0].message["Message-ID"]
    assert entry.recipients == ("officer@example.org", "leader@example.org")


def test_the_stored_message_is_what_is_sent(
    ledger: Ledger, settings: Settings, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    """The retry sends the .eml written with the report, byte for byte after the headers
    the SMTP server adds nothing to; the Message-ID stays the one first chosen."""
    settings = _at(settings, smtp_server)
    first = write_report(ledger, settings, "monthly", APRIL, tmp_path, send=True, today=TODAY)
    second = write_report(ledger, settings, "monthly", APRIL, tmp_path, send=True, today=TODAY)
    assert first.entry.message_id == second.entry.message_id
    smtp_server.start()
    assert send_report(ledger, settings, "monthly", "2026-04") == "sent"
    (got,) = smtp_server.received
    assert got.recipients == ["leader@example.org"]
    assert got.message["Message-ID"] == first.entry.message_id
    assert got.message["Subject"] == "浑南区环境质量月报（2026年4月）"


def test_written_without_send_is_not_sent_by_the_retry(
    ledger: Ledger, settings: Settings, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    """A report written without --send stays on disk only."""
    smtp_server.start()
    settings = _at(settings, smtp_server)
    written = write_report(ledger, settings, "daily", DAY, tmp_path, send=False, today=TODAY)
    assert written.entry.status == "written"
    assert send_pending(ledger, settings) == {}
    assert send_report(ledger, settings, "daily", "2026-05-10").startswith("not asked")
    assert smtp_server.received == []


def test_sending_gives_up_after_max_attempts(
    ledger: Ledger, settings: Settings, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    """After max_attempts failures the report is `failed` and no longer retried; an
    explicit --send starts afresh."""
    settings = _at(settings, smtp_server, max_attempts=2)
    write_report(ledger, settings, "daily", DAY, tmp_path, send=True, today=TODAY)
    send_pending(ledger, settings)
    send_pending(ledger, settings)
    entry = ledger.report_entry("daily", "2026-05-10")
    assert entry is not None and (entry.status, entry.attempts) == ("failed", 2)
    assert send_pending(ledger, settings) == {}
    smtp_server.start()
    again = write_report(ledger, settings, "daily", DAY, tmp_path, send=True, today=TODAY)
    assert (again.entry.status, again.entry.attempts) == ("pending", 0)
    assert send_report(ledger, settings, "daily", "2026-05-10") == "sent"
    assert len(smtp_server.received) == 1


def test_a_claimed_report_is_not_sent_by_another_sender(
    ledger: Ledger, settings: Settings, tmp_path: Path
) -> None:
    """Two senders at once: the second finds it claimed (busy) and sends nothing."""
    write_report(ledger, settings, "daily", DAY, tmp_path, send=True, today=TODAY)
    assert ledger.claim_report("daily", "2026-05-10")
    assert not ledger.claim_report("daily", "2026-05-10")
    assert send_report(ledger, settings, "daily", "2026-05-10").startswith("busy: NOT sent")
    assert ledger.reports_to_send() == []  # a fresh claim is not stale
    # a claim left by a sender that died is taken over after the stale time
    assert ledger.reports_to_send(stale_after_s=-1)[0].status == "sending"


def test_the_html_file_is_self_contained_and_escaped(
    ledger: Ledger, settings: Settings, tmp_path: Path
) -> None:
    """Charts inline as data: URIs; site names escaped; print CSS present."""
    written = write_report(ledger, settings, "daily", DAY, tmp_path, send=False, today=TODAY)
    page = written.html.read_text(encoding="utf-8")
    assert page.count('src="data:image/png;base64,') == 3
    assert "<script" not in page
    assert "&lt;script&gt;" in page
    assert "@media print" in page and "@page" in page
    assert written.html.name == "daily-2026-05-10.html"
    assert oct(written.html.stat().st_mode & 0o777) == "0o644"
