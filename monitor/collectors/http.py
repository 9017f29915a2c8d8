"""HTTP for collectors: bounded time and size, retries with backoff and jitter, errors translated.

GET with query parameters, and POST of an ``application/x-www-form-urlencoded`` form (what
browser pages of the national platforms send), share one retry loop. Cookies a server sets
are kept in the client's session (the surface-water platform's warm-up relies on it).

Bounds, whatever the server does:

* **time** — each attempt has a total deadline of ``timeout`` seconds for connect, headers
  and body together (a server dripping one byte every few seconds is cut off at the
  deadline, not waited for byte after byte). A watchdog shuts the socket down at the
  deadline, and at once when the ``cancel`` event is set (the daemon's SIGTERM): the
  attempt ends with :class:`Stopped` and nothing of it is kept.
* **size** — bodies are read streamed and refused beyond ``max_bytes`` (a declared
  ``Content-Length`` above the cap is refused before reading anything).

Transient failures (connection errors, timeouts, HTTP 429 and 5xx) are retried with
exponential backoff and full jitter, honouring ``Retry-After``: a wait up to ``max_delay``
is slept in the run; a longer one (bounded by ``max_hold``, the source's interval) puts the
source on hold — no request goes to that server before the time it asked for, in this run
or the next scheduled one (:class:`Hold`). When retries run out they become
:class:`~monitor.errors.SourceUnavailable`. Answers that are not what the collector knows
(an HTML error page where JSON was expected, truncated JSON, an empty body, a 4xx, a body
above the cap) become :class:`~monitor.errors.SourceFormatChanged` at once.

Text is decoded with the charset the answer declares (``Content-Type``, or an HTML
``<meta charset>``), else UTF-8 when it is valid UTF-8, else the detected one: Chinese
error pages are readable in messages.
"""

from __future__ import annotations

import codecs
import json
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from monitor import __version__
from monitor.deadline import Scope, watched, watched_session
from monitor.deadline import abort_requests as abort_requests  # re-exported for the daemon
from monitor.errors import SourceFormatChanged, SourceUnavailable
from monitor.redact import redact

USER_AGENT = f"envmon/{__version__} (+environmental indicator monitoring)"

#: Default cap on one response body [bytes] (``max_response_bytes`` of a source).
DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024

#: Bytes read from the socket at a time.
CHUNK_BYTES = 64 * 1024


class Stopped(SourceUnavailable):
    """The request was abandoned because the service is stopping; nothing of it was kept
    (the source's window is collected again at the next start)."""


@dataclass
class Hold:
    """A server asked (``Retry-After``) not to be asked again before ``not_before`` (Unix
    time). Shared by the runs of one source in the daemon, so the next scheduled run
    respects it too."""

    not_before: float = 0.0
    reason: str = ""

    def remaining(self, now: float | None = None) -> float:
        """Seconds still to wait (0 when free)."""
        return max(0.0, self.not_before - (time.time() if now is None else now))


# ----------------------------------------------------------------------------- client


@dataclass
class HttpClient:
    """A small HTTP client for one source.

    Parameters
    ----------
    source : str
        Source name, used in error messages.
    timeout : float
        Total seconds one attempt may take: connect, headers and the whole body
        (``timeout_seconds`` of the source).
    retries : int
        Further attempts after the first one, for transient failures.
    backoff : float
        Base delay [s]; attempt n waits a random time up to ``backoff · 2ⁿ`` (capped at
        ``max_delay``), or what ``Retry-After`` asks.
    max_delay : float
        Longest wait [s] slept inside one run before a retry; a longer ``Retry-After``
        puts the source on hold instead (see :class:`Hold`).
    max_hold : float
        Longest hold [s] a ``Retry-After`` can ask (the source's interval).
    max_bytes : int
        Largest body accepted (``max_response_bytes`` of the source).
    cancel : threading.Event, optional
        Set when the service stops: requests in flight are abandoned (with
        :func:`abort_requests`), sleeps end, no new request starts.
    hold : Hold
        Where a long ``Retry-After`` is remembered (the daemon keeps one per source).
    """

    source: str
    timeout: float = 30.0
    retries: int = 3
    backoff: float = 1.0
    max_delay: float = 60.0
    sleep: Callable[[float], object] = time.sleep
    session: requests.Session = field(default_factory=watched_session)
    max_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    max_hold: float = 3600.0
    cancel: threading.Event | None = None
    hold: Hold = field(default_factory=Hold)

    def __post_init__(self) -> None:
        self.session.headers["User-Agent"] = USER_AGENT
        if self.sleep is time.sleep and self.cancel is not None:
            self.sleep = self.cancel.wait  # a stop ends the wait at once

    def get(self, url: str, params: Mapping[str, Any] | None = None) -> requests.Response:
        """GET with retries; returns a 2xx response or raises a SourceError subclass."""
        return self.request("GET", url, params)

    def post(
        self,
        url: str,
        data: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> requests.Response:
        """POST a form (``application/x-www-form-urlencoded``) with the same retries as GET.

        ``data`` None sends an empty form (``Content-Length: 0``), as browser pages do.
        """
        return self.request("POST", url, params, data=dict(data) if data is not None else {})

    def post_json(
        self,
        url: str,
        data: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        """POST a form and decode JSON; an HTML page, empty or cut body is a format change."""
        response = self.post(url, data, params)
        return decode_json(self.source, response.text, response.url)

    def request(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None = None,
        *,
        data: Mapping[str, Any] | None = None,
    ) -> requests.Response:
        """One HTTP request with retries; a 2xx response or a SourceError subclass."""
        last = ""
        last_status: int | None = None
        for attempt in range(self.retries + 1):
            self._check_may_start(url)
            wait = None
            try:
                response = self._attempt(method, url, params, data)
            except (
                requests.Timeout,
                requests.ConnectionError,
                requests.exceptions.ChunkedEncodingError,  # connection cut mid-body
            ) as err:
                last = f"{type(err).__name__} for {url}: {err}"
            except _DeadlinePassed as err:
                last = str(err)
            except requests.RequestException as err:
                raise SourceFormatChanged(self.source, f"request to {url} failed: {err}") from err
            else:
                status = response.status_code
                if status == 429 or status >= 500:
                    last = f"HTTP {status} from {response.url}"
                    last_status = status
                    wait = _retry_after(response.headers.get("Retry-After"))
                    if wait is not None and wait > self.max_delay:
                        self._hold(wait, last)  # never ask again before the time it asked
                        self._check_may_start(url)
                elif status >= 400:
                    quoted = redact(response.text[:2000])[:200]  # masked, then cut
                    raise SourceFormatChanged(
                        self.source,
                        f"HTTP {status} from {response.url}: {quoted!r}; "
                        "check the source's URL and parameters",
                        status=status,
                    )
                else:
                    return response
            if attempt < self.retries:
                cap = min(self.max_delay, self.backoff * 2**attempt)
                self.sleep(wait if wait is not None else random.uniform(0, cap))
        raise SourceUnavailable(
            self.source, f"{last} (after {self.retries + 1} attempts)", status=last_status
        )

    def _check_may_start(self, url: str) -> None:
        """Raise rather than start a request while stopping or while on hold."""
        if self.cancel is not None and self.cancel.is_set():
            raise Stopped(self.source, f"stopping: request to {url} not made")
        left = self.hold.remaining()
        if left > 0:
            until = datetime.fromtimestamp(self.hold.not_before, UTC).isoformat(timespec="seconds")
            raise SourceUnavailable(
                self.source,
                f"{self.hold.reason}: the server asked to wait (Retry-After); not asked again "
                f"before {until} ({left:.0f} s)",
                status=429,
            )

    def _hold(self, wait: float, what: str) -> None:
        held = min(wait, self.max_hold)
        self.hold.not_before = max(self.hold.not_before, time.time() + held)
        self.hold.reason = f"{what} with Retry-After {wait:.0f} s" + (
            f" (held {held:.0f} s, the source's interval)" if held < wait else ""
        )

    def _attempt(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        data: Mapping[str, Any] | None,
    ) -> requests.Response:
        """One attempt within its total deadline; the body read whole but capped."""
        response: requests.Response | None = None
        with watched(self.timeout, self.cancel) as scope:
            try:
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    data=data,
                    timeout=(self.timeout, self.timeout),
                    stream=True,
                )
                body = self._read(response, scope)
            except Exception as err:
                if response is not None:
                    response.close()
                self._raise_if_aborted(scope, url)
                if isinstance(err, requests.Timeout):
                    # The socket's own timeouts equal the total deadline, so they fire only
                    # once it has passed (when they beat the watchdog thread): the same
                    # failure, told the same way.
                    raise self._deadline_passed(url) from err
                raise
        self._raise_if_aborted(scope, url)  # a close-delimited body cut at the deadline
        response._content = body
        response._content_consumed = True  # type: ignore[attr-defined]
        response.encoding = _charset(response.headers.get("Content-Type", ""), body)
        return response

    def _raise_if_aborted(self, scope: Scope, url: str) -> None:
        if scope.reason == "stopped":
            raise Stopped(self.source, f"stopping: request to {url} abandoned")
        if scope.reason == "deadline":
            raise self._deadline_passed(url)

    def _deadline_passed(self, url: str) -> _DeadlinePassed:
        return _DeadlinePassed(
            f"Timeout: no complete answer from {url} within {self.timeout:g} s "
            "(timeout_seconds: connect, headers and body)"
        )

    def _read(self, response: requests.Response, scope: Scope) -> bytes:
        """The body, streamed; refused beyond ``max_bytes`` without reading the rest."""
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise self._too_large(response.url, f"it declares {int(declared)} bytes")
        parts: list[bytes] = []
        size = 0
        for chunk in response.iter_content(CHUNK_BYTES):
            size += len(chunk)
            if size > self.max_bytes:
                raise self._too_large(response.url, "the body went past it")
            parts.append(chunk)
            if scope.reason is not None:
                break
        return b"".join(parts)

    def _too_large(self, url: str, why: str) -> SourceFormatChanged:
        return SourceFormatChanged(
            self.source,
            f"answer from {url} refused: larger than {self.max_bytes} bytes ({why}); "
            f"raise max_response_bytes of [[sources]] {self.source!r} if it is expected",
        )

    def get_json(self, url: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET and decode JSON; an HTML page, empty or truncated body is a format change."""
        response = self.get(url, params)
        return decode_json(self.source, response.text, response.url)

    def get_bytes(self, url: str, params: Mapping[str, Any] | None = None) -> bytes:
        """GET and return the body; an empty body is a format change."""
        response = self.get(url, params)
        if not response.content:
            raise SourceFormatChanged(self.source, f"empty body from {response.url}")
        return response.content


class _DeadlinePassed(Exception):
    """An attempt went past its total deadline (retried like a timeout)."""


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", re.I)


def _charset(content_type: str, body: bytes) -> str:
    """The text encoding of a body: declared in the header, else in an HTML ``<meta>``,
    else UTF-8 when it decodes, else GB18030 (the Chinese platforms' national charset)."""
    header = _HEADER_CHARSET.search(content_type)
    meta = _META_CHARSET.search(body[:4096])
    names = [header.group(1) if header else "", meta.group(1).decode("ascii") if meta else ""]
    for name in filter(None, names):
        try:
            codec = codecs.lookup(name).name
        except LookupError:
            continue
        # GB2312 and GBK pages often hold characters only their superset knows
        return "gb18030" if codec in ("gb2312", "gbk") else codec
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8"


def decode_json(source: str, text: str, where: str) -> Any:
    """Parse JSON text, translating every failure into :class:`SourceFormatChanged`."""
    stripped = text.lstrip()
    if not stripped:
        raise SourceFormatChanged(source, f"empty body from {where}; expected JSON")
    if stripped.startswith("<"):
        quoted = redact(stripped[:2000])[:80]  # masked, then cut
        raise SourceFormatChanged(
            source, f"HTML page from {where} where JSON was expected: {quoted!r}"
        )
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise SourceFormatChanged(
            source, f"invalid JSON from {where} ({err.msg}, character {err.pos})"
        ) from err


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())
