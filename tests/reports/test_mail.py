"""The report email as a real SMTP server (aiosmtpd, in the test process) receives it."""

from __future__ import annotations

import dataclasses
import email.header
import re
from datetime import date, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import pytest

from monitor.errors import ConfigError
from monitor.ledger import Ledger
from monitor.reports.mail import MailError, build_message, send_message, sender_address
from monitor.service.reporting import send_report, write_report
from monitor.settings import Secret, Settings, SmtpSettings
from tests.reports.conftest import DAY, EVIL, SmtpServer

NOW = datetime(2026, 5, 11, 8, 30, tzinfo=ZoneInfo("Asia/Shanghai"))


def _smtp(settings: Settings, server: SmtpServer, **changes: Any) -> Settings:
    smtp = dataclasses.replace(settings.smtp, port=server.port, **changes)
    return dataclasses.replace(settings, smtp=smtp)


def _send_daily(ledger: Ledger, settings: Settings, tmp_path: Path) -> None:
    write_report(
        ledger,
        settings,
        "daily",
        DAY,
        tmp_path / "out",
        send=True,
        today=date(2026, 5, 11),
        now=NOW,
    )
    assert send_report(ledger, settings, "daily", DAY.isoformat()) == "sent"


def test_mime_structure_headers_and_inline_images(
    ledger: Ledger, settings: Settings, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    """multipart/alternative: text/plain, then multipart/related with the HTML and one
    image/png per chart; every cid: in the HTML names an image part's Content-ID."""
    smtp_server.start()
    settings = _smtp(settings, smtp_server)
    _send_daily(ledger, settings, tmp_path)
    (got,) = smtp_server.received
    assert got.sender == "envmon@hunnan.example.org"
    assert got.recipients == ["officer@example.org", "leader@example.org"]
    assert got.data.isascii()  # 7-bit clean: RFC 2047 subject, base64 bodies
    assert not got.tls  # security = "none"
    message = got.message
    assert message.get_content_type() == "multipart/alternative"
    plain, related = message.iter_parts()
    assert plain.get_content_type() == "text/plain"
    assert related.get_content_type() == "multipart/related"
    html_part, *images = related.iter_parts()
    assert html_part.get_content_type() == "text/html"
    assert [p.get_content_type() for p in images] == ["image/png"] * 3
    assert all(p.get_content_disposition() == "inline" for p in images)
    html = html_part.get_content()
    cids = set(re.findall(r'src="cid:([^"]+)"', html))
    content_ids = {str(p["Content-ID"]).strip("<>") for p in images}
    assert cids == content_ids and len(cids) == 3
    for part in images:
        assert part.get_content().startswith(b"\x89PNG\r\n\x1a\n")
    assert message["From"] == "envmon@hunnan.example.org"
    assert message["To"] == "officer@example.org, leader@example.org"
    assert message["Message-ID"] and message["Date"]
    text = plain.get_content()
    assert "浑南区环境质量日报" in text and "AQI 60" in text


def test_the_chinese_subject_decodes_exactly(
    ledger: Ledger, settings: Settings, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    """The subject travels RFC 2047-encoded and decodes to the Chinese text."""
    smtp_server.start()
    _send_daily(ledger, _smtp(settings, smtp_server), tmp_path)
    (got,) = smtp_server.received
    raw = re.search(rb"^Subject: ([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)", got.data, re.MULTILINE)
    assert raw is not None and b"=?utf-8?" in raw.group(1)
    words = email.header.decode_header(raw.group(1).decode("ascii").replace("\r\n", ""))
    decoded = "".join(
        part.decode(charset or "ascii") if isinstance(part, bytes) else part
        for part, charset in words
    )
    assert decoded == "浑南区环境质量日报（2026-05-10）"
    assert got.message["Subject"] == "浑南区环境质量日报（2026-05-10）"


def test_names_with_html_are_escaped_in_the_email(
    ledger: Ledger, settings: Settings, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    """A station named like a script tag shows as text in the HTML part."""
    smtp_server.start()
    _send_daily(ledger, _smtp(settings, smtp_server), tmp_path)
    message = smtp_server.received[0].message
    html_part = message.get_body(preferencelist=("html",))
    assert isinstance(html_part, EmailMessage)
    html = html_part.get_content()
    assert "<script" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;站" in html
    assert "浑河&lt;b&gt;甲&lt;/b&gt;断面" in html
    assert EVIL in message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]


def test_login_with_the_password_from_the_environment(smtp_server: SmtpServer) -> None:
    """AUTH with user from the settings and ENVMON_SMTP_PASSWORD; a wrong one fails."""
    smtp_server.start(password="s3cret")
    smtp = SmtpSettings(
        host="127.0.0.1",
        port=smtp_server.port,
        security="none",
        user="envmon@example.org",
        timeout=5,
    )
    message = build_message(
        subject="测试",
        sender=sender_address(smtp),
        recipients=["a@example.org"],
        text="正文",
        html="<p>正文</p>",
        images={},
        message_id="<1@example.org>",
        date=NOW,
    )
    assert send_message(smtp, Secret("s3cret"), message, ["a@example.org"]) == ()
    assert smtp_server.logins == [("envmon@example.org", "s3cret")]
    with pytest.raises(MailError, match="login"):
        send_message(smtp, Secret("wrong"), message, ["a@example.org"])
    assert len(smtp_server.received) == 1
    with pytest.raises(ConfigError, match="ENVMON_SMTP_PASSWORD"):
        send_message(smtp, None, message, ["a@example.org"])


def test_an_unreachable_server_is_a_mail_error(smtp_server: SmtpServer) -> None:
    """Nothing listens: a MailError naming the server (never started here)."""
    smtp = SmtpSettings(host="127.0.0.1", port=smtp_server.port, security="none", timeout=5)
    message = build_message(
        subject="s",
        sender="a@example.org",
        recipients=["b@example.org"],
        text="t",
        html="<p>t</p>",
        images={},
        message_id="<2@example.org>",
        date=NOW,
    )
    with pytest.raises(MailError, match=f"127.0.0.1:{smtp_server.port}"):
        send_message(smtp, None, message, ["b@example.org"])


def test_sender_address_needs_an_address() -> None:
    """from_address, else the user when it is an address, else a clear ConfigError."""
    assert sender_address(SmtpSettings(from_address="x@example.org", user="u")) == "x@example.org"
    assert sender_address(SmtpSettings(user="me@example.org")) == "me@example.org"
    with pytest.raises(ConfigError, match="from_address"):
        sender_address(SmtpSettings(user="me"))


def _tls_message() -> EmailMessage:
    return build_message(
        subject="加密测试",
        sender="envmon@example.org",
        recipients=["a@example.org"],
        text="t",
        html="<p>t</p>",
        images={},
        message_id="<3@example.org>",
        date=NOW,
    )


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_starttls_and_tls_verify_the_server_certificate(
    security: Literal["starttls", "tls"],
    smtp_server: SmtpServer,
    certificate: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """STARTTLS (the server requires it) and SMTPS: delivered encrypted when the server's
    certificate is trusted (here through SSL_CERT_FILE, as for a bureau's own CA); refused
    with a MailError when it is not."""
    smtp_server.start(tls=security, cert=certificate)
    smtp = SmtpSettings(
        host="127.0.0.1",
        port=smtp_server.port,
        security=security,
        timeout=10,
    )
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.setenv("SSL_CERT_DIR", str(certificate.parent / "none"))
    with pytest.raises(MailError, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        send_message(smtp, None, _tls_message(), ["a@example.org"])
    assert smtp_server.received == []
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate))
    assert send_message(smtp, None, _tls_message(), ["a@example.org"]) == ()
    (got,) = smtp_server.received
    assert got.tls
    assert got.message["Subject"] == "加密测试"
