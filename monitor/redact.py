"""Secrets never leave the process: one masking function for every outward text.

Every :class:`~monitor.settings.Secret` (``ENVMON_INFLUXDB_TOKEN``, ``ENVMON_GRAFANA_TOKEN``,
``ENVMON_SMTP_PASSWORD``, each HJ 212 station password read through its ``password_env``)
registers its value here when it is read; :func:`redact` replaces every registered value
(as a whole word: not inside a longer run of letters and digits),
and the value of any ``Authorization`` or ``X-Api-Key`` header quoted in a text (a proxy or
server that echoes the request back), with ``********``.

It is applied at the boundaries, where text leaves envmon: exception → message
(server bodies quoted in errors are masked *before* they are shortened, so a cut never
leaves half a secret), log lines (:class:`RedactingFilter` on the handlers; ``envmon``
masks its stdout and stderr as a whole, but for the CSV data that ``export`` and ``calc``
write on stdout, as they write a file with ``-o``), health fields (``/healthz`` masks its
document).
"""

from __future__ import annotations

import logging
import re
import threading
from typing import IO

MASK = "********"

#: Shorter values are not registered: masking them would garble ordinary text.
MIN_SECRET_LENGTH = 4

_lock = threading.Lock()
_values: set[str] = set()
_pattern: re.Pattern[str] | None = None

# `Authorization: Token abc`, `"Authorization": "Bearer abc"`, `authorization=Basic abc`
_HEADER = re.compile(
    r"""(?P<head>(?:proxy-)?authorization|x-api-key)(?P<sep>["']?\s*[:=]\s*["']?)"""
    r"""(?P<scheme>(?:bearer|token|basic|digest)\s+)?(?P<value>[^\s"',;}\]]+)""",
    re.IGNORECASE,
)


def register(value: str | None) -> None:
    """Mask ``value`` from now on, wherever it appears (no-op for short or empty values)."""
    global _pattern
    if value is None or len(value) < MIN_SECRET_LENGTH:
        return
    with _lock:
        if value in _values:
            return
        _values.add(value)
        ordered = sorted(_values, key=len, reverse=True)  # the longest first
        _pattern = re.compile("|".join(_bounded(v) for v in ordered))


def reset() -> None:
    """Forget every registered value (a process that loads other settings; tests)."""
    global _pattern
    with _lock:
        _values.clear()
        _pattern = None


def _bounded(value: str) -> str:
    """The value as a whole word: a password ``123456`` is masked in ``PW=123456;`` but
    not inside a station MN ``…0123456789…``."""
    before = r"(?<![A-Za-z0-9])" if value[0].isalnum() else ""
    after = r"(?![A-Za-z0-9])" if value[-1].isalnum() else ""
    return f"{before}{re.escape(value)}{after}"


def redact(text: str) -> str:
    """``text`` with every registered secret and ``Authorization`` value masked.

    Each regular expression runs only when a plain substring test says it can match (a
    registered value occurs; ``authorization`` or ``x-api-key`` occurs in any case): the
    command's output (a CSV export or ``calc`` result of millions of rows) passes through
    here, and the tests cost a small fraction of the expressions' scan.
    """
    if not text:
        return text
    pattern, values = _pattern, _values
    if pattern is not None and any(value in text for value in tuple(values)):
        text = pattern.sub(MASK, text)
    folded = text.encode("utf-8", "surrogateescape").lower()  # ASCII case only, fast
    if b"authorization" in folded or b"x-api-key" in folded:
        text = _HEADER.sub(_mask_header, text)
    return text


def _mask_header(found: re.Match[str]) -> str:
    if found.group("value") == MASK:
        return found.group(0)
    return f"{found.group('head')}{found.group('sep')}{found.group('scheme') or ''}{MASK}"


class RedactingFilter(logging.Filter):
    """A handler filter that masks the formatted message and the exception text."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def install_log_filter(logger: logging.Logger | None = None) -> None:
    """Put a :class:`RedactingFilter` on every handler of ``logger`` (default: root)."""
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())


class RedactingStream:
    """A text stream that masks what is written to it (``envmon``'s stdout and stderr)."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(redact(text))
        return len(text)

    def __getattr__(self, name: str) -> object:
        return getattr(self._stream, name)
