"""`envmon report {daily,monthly} [--date D] [--out DIR] [--send]` end to end."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitor.cli import main
from monitor.ledger import Ledger
from tests.reports.conftest import CONFIG, SmtpServer, config_text


def _run(config: Path, *args: str) -> int:
    return main(["--config", str(config), "report", *args])


def test_daily_writes_the_files_and_names_them(
    ledger: Ledger, config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --send: HTML, text and .eml in --out, paths on stdout, exit 0."""
    out = tmp_path / "out"
    assert _run(config, "daily", "--date", "2026-05-10", "--out", str(out)) == 0
    stdout = capsys.readouterr().out
    for suffix in ("html", "txt", "eml"):
        path = out / f"daily-2026-05-10.{suffix}"
        assert path.stat().st_size > 0
        assert str(path) in stdout
    assert "浑南区" in (out / "daily-2026-05-10.txt").read_text(encoding="utf-8")


def test_monthly_takes_any_day_of_the_month(
    ledger: Ledger, config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--date 2026-04-17 reports April 2026."""
    assert _run(config, "monthly", "--date", "2026-04-17", "--out", str(tmp_path)) == 0
    assert (tmp_path / "monthly-2026-04.html").exists()
    assert "monthly report 2026-04" in capsys.readouterr().out


def test_defaults_are_yesterday_and_last_month_in_shanghai(
    ledger: Ledger, config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --date: yesterday / last month (Asia/Shanghai); the [reports] folder
    (relative to the settings file) without --out."""
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    yesterday = today - timedelta(days=1)
    last_month = (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    assert _run(config, "daily") == 0
    assert _run(config, "monthly") == 0
    folder = config.parent / "reports"
    assert (folder / f"daily-{yesterday.isoformat()}.html").exists()
    assert (folder / f"monthly-{last_month}.html").exists()


def test_send_with_smtp_down_then_up_delivers_once(
    ledger: Ledger,
    config: Path,
    tmp_path: Path,
    smtp_server: SmtpServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Down: written, one line on stderr, exit 1. Up: sent. Again: not sent twice."""
    config.write_text(config_text(port=smtp_server.port), encoding="utf-8")
    out = tmp_path / "out"
    args = ("daily", "--date", "2026-05-10", "--out", str(out), "--send")
    assert _run(config, *args) == 1
    captured = capsys.readouterr()
    assert (out / "daily-2026-05-10.html").exists()
    assert captured.err.count("\n") == 1
    assert "written to" in captured.err and "not sent" in captured.err
    assert "Traceback" not in captured.err
    smtp_server.start()
    assert _run(config, *args) == 0
    assert "sent: officer@example.org, leader@example.org" in capsys.readouterr().out
    assert _run(config, *args) == 0
    assert "already sent" in capsys.readouterr().out
    assert len(smtp_server.received) == 1


def test_bad_input_exits_2(
    ledger: Ledger, config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad date, or --send without recipients: one line, exit 2."""
    assert _run(config, "daily", "--date", "10/05/2026") == 2
    assert "--date '10/05/2026' is not a date; expected YYYY-MM-DD" in capsys.readouterr().err
    no_recipients = CONFIG.replace('monthly_recipients = ["leader@example.org"]\n', "")
    config.write_text(no_recipients, encoding="utf-8")
    assert _run(config, "monthly", "--date", "2026-04-01", "--out", str(tmp_path), "--send") == 2
    assert "monthly_recipients" in capsys.readouterr().err
    assert (tmp_path / "monthly-2026-04.html").exists()  # written all the same


def test_send_without_smtp_settings_writes_and_exits_2(
    ledger: Ledger, config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No [smtp] host or sender, a login without ENVMON_SMTP_PASSWORD: every problem named,
    exit 2, the report on disk and not queued for the daemon."""
    text = CONFIG.replace('host = "127.0.0.1"', 'host = ""').replace(
        'from_address = "envmon@hunnan.example.org"', 'user = "envmon"'
    )
    config.write_text(text, encoding="utf-8")
    assert _run(config, "daily", "--date", "2026-05-10", "--out", str(tmp_path), "--send") == 2
    err = capsys.readouterr().err
    assert "smtp.host: not set" in err
    assert "smtp.from_address: not set" in err
    assert "ENVMON_SMTP_PASSWORD is not set" in err
    assert (tmp_path / "daily-2026-05-10.html").exists()
    entry = ledger.report_entry("daily", "2026-05-10")
    assert entry is not None and entry.status == "written"


def test_english_by_setting(
    ledger: Ledger, config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """[reports] language = "en" gives English reports."""
    config.write_text(
        CONFIG.replace("[reports]\n", '[reports]\nlanguage = "en"\n'), encoding="utf-8"
    )
    assert _run(config, "daily", "--date", "2026-05-10", "--out", str(tmp_path)) == 0
    text = (tmp_path / "daily-2026-05-10.txt").read_text(encoding="utf-8")
    assert text.startswith("Hunnan District environmental daily digest")


def test_settings_are_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Bad times, languages, addresses, security and area are all reported at once."""
    bad = (
        CONFIG.replace(
            "[reports]\n", '[reports]\ndaily_time = "8:30"\nlanguage = "fr"\narea = "nowhere"\n'
        )
        .replace('"leader@example.org"]\n\n[smtp]', '"leader"]\n\n[smtp]')
        .replace('security = "none"', 'security = "ssl"')
    )
    path = tmp_path / "bad.toml"
    path.write_text(bad, encoding="utf-8")
    assert main(["--config", str(path), "config", "check"]) == 2
    err = capsys.readouterr().err
    for expected in (
        "reports.daily_time: '8:30' is not a time of day; expected HH:MM",
        "reports.language: expected one of 'zh', 'en'",
        "reports.area: unknown area 'nowhere'",
        "reports.monthly_recipients[0]: 'leader' is not an email address",
        "smtp.security: expected one of 'none', 'starttls', 'tls'",
    ):
        assert expected in err
