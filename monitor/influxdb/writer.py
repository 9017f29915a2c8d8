"""The adapter that speaks to InfluxDB: ``influxdb-client``'s v2 write API, synchronously.

Synchronous writes on purpose (see ``shared/reference/grafana-influxdb.md`` §5): the
batching write API runs a background thread, drops a batch after its retries and loses
points at exit, and its ``flush()`` does nothing. Here a call returns only when the server
has accepted the lines, or raises :class:`~monitor.errors.PublishError` saying whether to
retry (``unavailable``), to isolate bad points (``rejected``) or to fix the settings
(``refused``). Retrying is the caller's decision, so nothing is retried twice.

The same ``POST /api/v2/write?bucket=…&org=…&precision=s`` works against InfluxDB 2.x,
InfluxDB 3 Core (compatibility endpoint) and VictoriaMetrics.
"""

from __future__ import annotations

import email.utils
import logging
import re
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import urllib3
from influxdb_client.client.exceptions import InfluxDBError
from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import SYNCHRONOUS, WriteApi
from influxdb_client.domain.bucket_retention_rules import BucketRetentionRules
from influxdb_client.domain.write_precision import WritePrecision
from influxdb_client.rest import ApiException

from monitor.deadline import POOL_CLASSES, watched
from monitor.errors import PublishError
from monitor.redact import redact
from monitor.settings import InfluxSettings, Secret

log = logging.getLogger("envmon.influxdb")

#: Statuses that mean "this data is bad": isolate the bad points, publish the rest.
REJECTED_STATUSES = frozenset({400, 413, 422})
#: Statuses that mean "nothing can be written until someone fixes the settings".
REFUSED_STATUSES = frozenset({401, 403, 404})


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """A ``Retry-After`` header (seconds, or an HTTP date) as seconds from now.

    >>> retry_after_seconds("30")
    30.0
    >>> retry_after_seconds("Thu, 01 Jan 1970 00:01:40 GMT", now=40.0)
    60.0
    >>> retry_after_seconds("soon") is None
    True
    """
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    now = time.time() if now is None else now
    return max(0.0, moment.timestamp() - now)


def _server_message(body: Any) -> str:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body or "")
    return redact(" ".join(text.split()))[:500]  # masked before it is cut: no half secret


#: What a 404 without a bucket or organisation named means: no ``/api/v2/write`` at all.
NO_V2_WRITE_API = (
    "the server has no InfluxDB v2 write API (POST /api/v2/write is not found): InfluxDB 1.x "
    "before 1.8 and servers without that endpoint cannot take envmon's writes; publish to "
    "InfluxDB 2.x, InfluxDB 3 Core, InfluxDB 1.8+ or VictoriaMetrics (docs/influxdb.md "
    '"InfluxDB servers")'
)


def _names_bucket_or_org(message: str) -> bool:
    """Whether a 404 answer is InfluxDB 2's "bucket/organization … not found" (JSON body
    ``{"code":"not found","message":"bucket \\"x\\" not found"}``), rather than a server
    without the endpoint (Go's ``404 page not found``, InfluxDB 1.x before 1.8)."""
    text = message.lower()
    return "bucket" in text or "organization" in text or "org " in text


def _old_influxdb(version: str) -> bool:
    """InfluxDB 1.x before 1.8, which has no ``/api/v2/write`` (added in 1.8).

    >>> [_old_influxdb(v) for v in ("1.6.7~rc0", "1.8.10", "v2.9.1", "", "unknown")]
    [True, False, False, False, False]
    """
    match = re.match(r"v?(\d+)\.(\d+)", version)
    return match is not None and (int(match.group(1)), int(match.group(2))) < (1, 8)


def classify(err: ApiException, url: str) -> PublishError:
    """The :class:`PublishError` an HTTP error answer means."""
    status = int(err.status or 0)
    message = _server_message(err.body) or str(err.reason or "")
    headers: Mapping[str, str] = err.headers or {}
    if status in REJECTED_STATUSES:
        return PublishError(
            f"InfluxDB at {url} refused the data (HTTP {status}): {message}",
            kind="rejected",
            status=status,
        )
    if status in REFUSED_STATUSES:
        hint = {
            401: "check ENVMON_INFLUXDB_TOKEN",
            403: "the token may not write to this bucket; check ENVMON_INFLUXDB_TOKEN",
            404: "check [influxdb] org and bucket, or run `envmon influx check --create-bucket`",
        }[status]
        if status == 404 and not _names_bucket_or_org(message):
            hint = NO_V2_WRITE_API
        return PublishError(
            f"InfluxDB at {url} refused the request (HTTP {status}: {message}); {hint}",
            kind="refused",
            status=status,
        )
    return PublishError(
        f"InfluxDB at {url} is unavailable (HTTP {status}: {message})",
        kind="unavailable",
        status=status,
        retry_after=retry_after_seconds(headers.get("Retry-After")),
    )


@dataclass
class CheckReport:
    """What ``envmon influx check`` found: one line per check, and whether all passed."""

    lines: list[str] = field(default_factory=list)
    ok: bool = True

    def passed(self, text: str) -> None:
        self.lines.append(f"ok      {text}")

    def failed(self, text: str) -> None:
        self.lines.append(f"FAILED  {text}")
        self.ok = False


class InfluxWriter:
    """One client and one synchronous write API for the life of the process.

    Each write has a total deadline of ``timeout_seconds`` (connect, send, answer), cut
    shorter by ``until`` (a :func:`time.monotonic` instant: the end of the daemon's final
    drain); a write in flight is abandoned at once by
    :func:`monitor.deadline.abort_requests` with ``cancel`` (the daemon's stop). Either way
    it ends as ``unavailable``: the points stay in the outbox.
    """

    def __init__(
        self,
        settings: InfluxSettings,
        token: Secret | None,
        *,
        cancel: threading.Event | None = None,
    ) -> None:
        self.settings = settings
        self.cancel = cancel
        self.until: float | None = None
        self.client = InfluxDBClient(
            url=settings.url,
            token=token.reveal() if token is not None else "",
            org=settings.org,
            timeout=int(settings.timeout_seconds * 1000),
            verify_ssl=settings.verify_tls,
            enable_gzip=False,
        )
        # every connection joins the write running in its thread: a total deadline per write
        self.client.api_client.rest_client.pool_manager.pool_classes_by_scheme = dict(POOL_CLASSES)
        self._write_api: WriteApi = self.client.write_api(write_options=SYNCHRONOUS)

    def close(self) -> None:
        """Close the write API, then the client (the client does not close write APIs)."""
        self._write_api.close()
        self.client.close()

    def __enter__(self) -> InfluxWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def write(self, lines: Sequence[str]) -> None:
        """Write line-protocol lines (precision s); returns once the server accepted them."""
        if not lines:
            return
        body = "\n".join(lines)
        deadline = self.settings.timeout_seconds
        if self.until is not None:
            deadline = min(deadline, self.until - time.monotonic())
            if deadline <= 0:
                raise PublishError(
                    f"InfluxDB at {self.settings.url}: not written, the final drain's time is "
                    "over; the points stay in the outbox and are written at the next start",
                    kind="unavailable",
                )
        with watched(deadline, self.cancel) as scope:
            try:
                self._write_api.write(
                    bucket=self.settings.bucket,
                    org=self.settings.org,
                    record=body,
                    write_precision=cast(WritePrecision, WritePrecision.S),
                )
                return  # accepted (even if the watchdog fired just after)
            except ApiException as err:
                error = classify(err, self.settings.url)
            except (urllib3.exceptions.HTTPError, OSError) as err:
                error = PublishError(
                    f"InfluxDB at {self.settings.url} is unreachable ({type(err).__name__}: "
                    f"{_short(err)})",
                    kind="unavailable",
                )
        if scope.reason == "stopped":
            error = PublishError(
                f"InfluxDB at {self.settings.url}: write abandoned, the service is stopping; "
                "the points stay in the outbox",
                kind="unavailable",
            )
        elif scope.reason is not None:  # cut off: whatever the client made of it, retry later
            error = PublishError(
                f"InfluxDB at {self.settings.url} did not complete a write within "
                f"{deadline:.3g} s ([influxdb] timeout_seconds, the whole request); the "
                "points stay in the outbox and are written later",
                kind="unavailable",
            )
        raise error from None

    # ------------------------------------------------------------------ check

    def check(self, *, create_bucket: bool = False) -> CheckReport:
        """Reachable? Token valid? Bucket present (created on request)?"""
        report = CheckReport()
        url, bucket = self.settings.url, self.settings.bucket
        try:
            reachable = self.client.ping()
        except (urllib3.exceptions.HTTPError, OSError) as err:
            reachable = False
            log.debug("ping failed: %s", err)
        if not reachable:
            report.failed(f"{url} does not answer /ping: is InfluxDB running there?")
            return report
        version = self._version()
        report.passed(f"{url} answers /ping" + (f" (InfluxDB {version})" if version else ""))
        if _old_influxdb(version):
            report.failed(
                f"InfluxDB {version} has no v2 write API (/api/v2/write arrived in InfluxDB "
                "1.8): envmon cannot publish to it; upgrade it to 1.8+ or 2.x, or set "
                "[influxdb] url to InfluxDB 2.x, 3 Core or VictoriaMetrics "
                '(docs/influxdb.md "InfluxDB servers")'
            )
            return report
        try:
            found = self.client.buckets_api().find_bucket_by_name(bucket)
        except ApiException as err:
            if err.status in (401, 403):
                report.failed(
                    f"the token was refused (HTTP {err.status}): set ENVMON_INFLUXDB_TOKEN to "
                    "a valid API token"
                )
                return report
            # No bucket API (VictoriaMetrics, InfluxDB 1.x): a test write says the rest.
            report.passed(f"no bucket API (HTTP {err.status}); testing a write instead")
            return self._check_by_writing(report)
        except (urllib3.exceptions.HTTPError, OSError) as err:
            report.failed(f"{url}: {_short(err)}")
            return report
        report.passed("the token is valid")
        if found is not None:
            report.passed(f"bucket {bucket!r} exists")
            return report
        if not create_bucket:
            report.failed(
                f"bucket {bucket!r} does not exist in org {self.settings.org!r}: create it "
                "with `envmon influx check --create-bucket`"
            )
            return report
        days = self.settings.retention_days
        rules = BucketRetentionRules(type="expire", every_seconds=days * 86400) if days else None
        try:
            self.client.buckets_api().create_bucket(
                bucket_name=bucket, org=self.settings.org, retention_rules=rules
            )
        except ApiException as err:
            report.failed(
                f"could not create bucket {bucket!r} (HTTP {err.status}: "
                f"{_server_message(err.body)})"
            )
            return report
        except InfluxDBError as err:  # the org name was not found
            report.failed(f"could not create bucket {bucket!r}: {err}; check [influxdb] org")
            return report
        retention = f"{days} days" if days else "forever"
        report.passed(f"bucket {bucket!r} created in org {self.settings.org!r}, kept {retention}")
        return report

    def _version(self) -> str:
        """The server's ``X-Influxdb-Version`` (answered on /ping); empty when absent."""
        try:
            version = self.client.version()
        except (ApiException, urllib3.exceptions.HTTPError, OSError):
            return ""
        return "" if not version or version == "unknown" else str(version)

    def _check_by_writing(self, report: CheckReport) -> CheckReport:
        try:
            self.write([f"envmon_check ok=1 {int(time.time())}"])
        except PublishError as err:
            report.failed(str(err))
        else:
            report.passed(f"a test point was written to {self.settings.bucket!r}")
        return report


def _short(err: BaseException) -> str:
    text = redact(str(err))
    return text if len(text) < 200 else text[:200] + "…"
