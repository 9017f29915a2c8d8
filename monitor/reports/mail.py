"""Email over SMTP: build a report message and send it (the adapter to the mail server).

Message structure (RFC 2046 / RFC 2387)::

    multipart/alternative
    ├── text/plain; charset=utf-8            the plain-text report
    └── multipart/related
        ├── text/html; charset=utf-8         the HTML report, images as cid: URLs
        └── image/png (Content-ID) …         one part per chart, inline

Headers are encoded by :mod:`email`'s ``SMTP`` policy: a Chinese subject becomes RFC 2047
``=?utf-8?b?…?=`` words; bodies are base64, so the message is 7-bit clean and any server
takes it. The Message-ID is chosen once per report (kept in the send log), so a copy sent
again after a crash is recognisable as the same message.

Security: ``none`` (plain SMTP — only on a trusted network), ``starttls`` (upgrade with the
system's certificate authorities) or ``tls`` (SMTPS from the start). The password comes
only from ``ENVMON_SMTP_PASSWORD`` and is never logged.

Time: ``smtp.timeout`` bounds each wait and also the whole conversation (connect to the
last reply): a server dripping its answers is cut off at that deadline (:mod:`monitor.deadline`).
"""

from __future__ import annotations

import email
import email.policy
import secrets
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime

from monitor.deadline import Scope, watched
from monitor.errors import ConfigError, EnvmonError
from monitor.settings import Secret, SmtpSettings

__all__ = [
    "MailError",
    "build_message",
    "new_message_id",
    "read_message",
    "send_message",
    "sender_address",
]


class MailError(EnvmonError):
    """The SMTP server could not be reached or refused the message (try again later)."""


def sender_address(smtp: SmtpSettings) -> str:
    """``from_address``, else the login name when it is an address.

    Raises
    ------
    ConfigError
        When neither is an address.
    """
    for candidate in (smtp.from_address, smtp.user):
        if "@" in candidate:
            return candidate
    raise ConfigError(
        [
            "smtp.from_address: not set; expected the sender address of report emails, e.g. "
            "envmon@example.org"
        ]
    )


def new_message_id(sender: str, name: str) -> str:
    """A fresh Message-ID in the sender's domain (``envmon.local`` without one), naming the
    report (``daily.2026-05-10``) and short enough not to be folded.

    >>> new_message_id("a@example.org", "daily.2026-05-10").startswith("<daily.2026-05-10.")
    True
    """
    domain = sender.rpartition("@")[2] or "envmon.local"
    return f"<{name}.{secrets.token_hex(6)}@{domain}>"


def build_message(
    *,
    subject: str,
    sender: str,
    recipients: Sequence[str],
    text: str,
    html: str,
    images: Mapping[str, bytes],
    message_id: str,
    date: datetime,
) -> EmailMessage:
    """The report email. ``html`` refers to image ``name`` as ``cid:name@envmon`` (see
    :func:`content_id`); ``images`` maps names to PNG bytes."""
    message = EmailMessage(policy=email.policy.SMTP)
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = ", ".join(recipients) if recipients else "undisclosed-recipients:;"
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id
    message.set_content(text, subtype="plain", charset="utf-8", cte="base64")
    message.add_alternative(html, subtype="html", charset="utf-8", cte="base64")
    html_part = next(p for p in message.iter_parts() if p.get_content_type() == "text/html")
    assert isinstance(html_part, EmailMessage)
    for name, png in images.items():
        html_part.add_related(
            png,
            maintype="image",
            subtype="png",
            cid=f"<{content_id(name)}>",
            disposition="inline",
            filename=f"{name}.png",
        )
    return message


def content_id(name: str) -> str:
    """The Content-ID (without angle brackets) of a chart; the HTML uses ``cid:`` + it.

    >>> content_id("sites")
    'sites@envmon'
    """
    return f"{name}@envmon"


def read_message(data: bytes) -> EmailMessage:
    """A message written by :func:`build_message` and stored as bytes."""
    parsed = email.message_from_bytes(data, policy=email.policy.SMTP)
    assert isinstance(parsed, EmailMessage)
    return parsed


def send_message(
    smtp: SmtpSettings,
    password: Secret | None,
    message: EmailMessage,
    recipients: Sequence[str],
) -> tuple[str, ...]:
    """Send ``message`` to ``recipients`` through the configured server; returns the
    recipients the server refused while taking the message for the others (the message is
    then sent: sending it again would duplicate it for those who got it).

    Raises
    ------
    ConfigError
        No host, no recipients, or a login name without ``ENVMON_SMTP_PASSWORD``.
    MailError
        The server is unreachable, the TLS handshake or login fails, or it refuses the
        message or every recipient (nothing was sent).
    """
    if not smtp.host:
        raise ConfigError(["smtp.host: not set; expected the SMTP server reports are sent via"])
    if not recipients:
        raise ConfigError(["reports: no recipients configured for this report"])
    if smtp.user and password is None:
        raise ConfigError(
            [f"smtp.user is {smtp.user!r} but ENVMON_SMTP_PASSWORD is not set in the environment"]
        )
    sender = str(message["From"])
    data = message.as_bytes(policy=email.policy.SMTP)
    where = f"{smtp.host}:{smtp.port} ({smtp.security})"
    try:
        with watched(smtp.timeout) as scope:
            try:
                refused = _converse(smtp, password, sender, recipients, data, scope)
            except (OSError, smtplib.SMTPException):
                if scope.reason is None:
                    raise
        if scope.reason is not None:
            raise MailError(
                f"cannot send via {where}: no complete exchange within {smtp.timeout:g} s "
                "(smtp.timeout, the whole conversation); nothing was sent, try again later"
            )
    except smtplib.SMTPAuthenticationError as err:
        raise MailError(f"SMTP login as {smtp.user!r} at {where} failed: {err.smtp_code}") from err
    except (OSError, smtplib.SMTPException) as err:
        raise MailError(f"cannot send via {where}: {err}") from err
    return tuple(sorted(refused))


def _converse(
    smtp: SmtpSettings,
    password: Secret | None,
    sender: str,
    recipients: Sequence[str],
    data: bytes,
    scope: Scope,
) -> dict[str, tuple[int, bytes]]:
    """Connect, greet, secure, log in and send, the socket watched by ``scope``."""
    client: smtplib.SMTP
    if smtp.security == "tls":
        client = smtplib.SMTP_SSL(timeout=smtp.timeout, context=ssl.create_default_context())
    else:
        client = smtplib.SMTP(timeout=smtp.timeout)
    # what __init__(host) would set (it would also connect, before the watch): the TLS
    # server name STARTTLS and SMTPS verify
    client._host = smtp.host  # type: ignore[attr-defined]
    scope.add(client)  # its socket, once connected, is shut at the deadline
    with client:
        client.connect(smtp.host, smtp.port)
        client.ehlo()
        if smtp.security == "starttls":
            client.starttls(context=ssl.create_default_context())
            client.ehlo()
        if smtp.user and password is not None:
            client.login(smtp.user, password.reveal())
        return client.sendmail(sender, list(recipients), data)
