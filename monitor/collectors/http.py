"""HTTP for collectors: timeouts, retries with backoff and jitter, errors translated.

GET with query parameters, and POST of an ``application/x-www-form-urlencoded`` form (what
browser pages of the national platforms send), share one retry loop. Cookies a server sets
are kept in the client's session (the surface-water platform's warm-up relies on it).

Transient failures (connection errors, timeouts, HTTP 429 and 5xx) are retried with
exponential backoff and full jitter, honouring ``Retry-After``; when retries run out they
become :class:`~monitor.errors.SourceUnavailable`. Answers that are not what the collector
knows (an HTML error page where JSON was expected, truncated JSON, an empty body, a 4xx)
become :class:`~monitor.errors.SourceFormatChanged` at once.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from monitor import __version__
from monitor.errors import SourceFormatChanged, SourceUnavailable

USER_AGENT = f"envmon/{__version__} (+environmental indicator monitoring)"


@dataclass
class HttpClient:
    """A small HTTP client for one source.

    Parameters
    ----------
    source : str
        Source name, used in error messages.
    timeout : float
        Seconds to connect and seconds between bytes read.
    retries : int
        Further attempts after the first one, for transient failures.
    backoff : float
        Base delay [s]; attempt n waits a random time up to ``backoff · 2ⁿ`` (capped at
        ``max_delay``), or what ``Retry-After`` asks (capped too).
    """

    source: str
    timeout: float = 30.0
    retries: int = 3
    backoff: float = 1.0
    max_delay: float = 60.0
    sleep: Callable[[float], None] = time.sleep
    session: requests.Session = field(default_factory=requests.Session)

    def __post_init__(self) -> None:
        self.session.headers["User-Agent"] = USER_AGENT

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
            wait = None
            try:
                response = self.session.request(
                    method, url, params=params, data=data, timeout=self.timeout
                )
            except (
                requests.Timeout,
                requests.ConnectionError,
                requests.exceptions.ChunkedEncodingError,  # connection cut mid-body
            ) as err:
                last = f"{type(err).__name__} for {url}: {err}"
            except requests.RequestException as err:
                raise SourceFormatChanged(self.source, f"request to {url} failed: {err}") from err
            else:
                status = response.status_code
                if status == 429 or status >= 500:
                    last = f"HTTP {status} from {response.url}"
                    last_status = status
                    wait = _retry_after(response.headers.get("Retry-After"))
                elif status >= 400:
                    raise SourceFormatChanged(
                        self.source,
                        f"HTTP {status} from {response.url}: {response.text[:200]!r}; "
                        "check the source's URL and parameters",
                        status=status,
                    )
                else:
                    return response
            if attempt < self.retries:
                cap = min(self.max_delay, self.backoff * 2**attempt)
                delay = min(self.max_delay, wait) if wait is not None else random.uniform(0, cap)
                self.sleep(delay)
        raise SourceUnavailable(
            self.source, f"{last} (after {self.retries + 1} attempts)", status=last_status
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


def decode_json(source: str, text: str, where: str) -> Any:
    """Parse JSON text, translating every failure into :class:`SourceFormatChanged`."""
    stripped = text.lstrip()
    if not stripped:
        raise SourceFormatChanged(source, f"empty body from {where}; expected JSON")
    if stripped.startswith("<"):
        raise SourceFormatChanged(
            source, f"HTML page from {where} where JSON was expected: {stripped[:80]!r}"
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
