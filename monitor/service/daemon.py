"""``envmon run``: the scheduled daemon.

One APScheduler 3.x job per enabled source (interval from the settings, explicit
Asia/Shanghai time zone, coalesced, one instance at a time, misfire grace). Each source has
a worker thread of its own, so a slow source never delays the others; ledger writes and
evaluations take one lock (one writer at a time), fetches do not. Every HTTP request has a
total deadline and a size cap (:mod:`monitor.collectors.http`); a run still going when its
next one is due (its interval) is reported ``overdue`` in /healthz. At start every source
runs at once, resuming from its watermark (catch-up after downtime).

SIGTERM or SIGINT: requests in flight are abandoned at once (nothing of them is stored, so
the source's watermark stays and its window is collected at the next start), no job
starts any more (queued collections and report retries return at once), the outbox gets
its final drain (at most :data:`FINAL_DRAIN_S` seconds), and the daemon exits with code 0
— within a few seconds whatever the upstream servers do.

A server's ``Retry-After`` is honoured up to the source's interval: a short one is waited
inside the run, a longer one holds the source (no request to it before that time, also in
the next scheduled run). An unexpected error is logged with its traceback the first time
for a source, then as a one-line reminder; it is recorded as a failed fetch, so ``envmon
status`` shows it.

Secrets are masked (:mod:`monitor.redact`) in the log and in every /healthz field.

With ``[influxdb] enabled``, a publisher thread sends the ledger's outbox to InfluxDB after
each collection and every ``interval_seconds`` (heartbeat and health points first), backs
off while InfluxDB is down (collection goes on), and drains the outbox once more at
shutdown, for at most :data:`FINAL_DRAIN_S` seconds.

Reports: the daily digest at ``[reports] daily_time`` and the monthly report on
``monthly_day`` at ``monthly_time`` (cron triggers, Asia/Shanghai), written to disk and sent
when SMTP and recipients are configured; a retry job every ``retry_minutes`` (also at start)
catches up a report missed while the daemon was down and sends the pending ones again.

With ``[hj212] enabled`` the HJ 212-2017 receiver (:mod:`monitor.hj212.server`) runs in a
thread of its own with its own ledger writer; a scheduled job evaluates what it stored every
``evaluate_interval_minutes`` (then publishes); SIGTERM stops it after committing what it
has queued.

A small HTTP server answers ``/healthz`` (JSON, per-source state) and ``/metrics``
(Prometheus text format, :mod:`monitor.service.metrics`: last success, failures, rows
ingested, lag, publishing, HJ 212, process metrics). A failing source never stops the
others; it is logged once when it starts failing and once when it recovers.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import signal
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from prometheus_client import CollectorRegistry

from monitor import __version__
from monitor.collectors.http import Hold, Stopped, abort_requests
from monitor.errors import EnvmonError, PublishError, SourceError
from monitor.hj212.server import Receiver
from monitor.influxdb.writer import InfluxWriter
from monitor.ledger import Ledger
from monitor.redact import install_log_filter, redact
from monitor.service.evaluate import evaluation_health
from monitor.service.metrics import daemon_registry, exposition, negotiated
from monitor.service.pipeline import collection_window, evaluate_dirty, ingest
from monitor.service.publish import Publisher
from monitor.service.sources import build_collector
from monitor.settings import Settings, SourceSettings

log = logging.getLogger("envmon.daemon")

#: Seconds a missed run may start late before it is skipped (then coalesced into one).
MISFIRE_GRACE_S = 300

#: Seconds the daemon keeps publishing after SIGTERM (Docker's stop grace must be longer).
#: Short on purpose: whatever is not written stays in the outbox for the next start, and
#: SIGTERM must end the daemon in under 5 s whatever InfluxDB does (issue 16).
FINAL_DRAIN_S = 2.5

#: Longest wait for a source's Retry-After hold at the start of a run; longer: run skipped.
MAX_HOLD_WAIT_S = 60.0


@dataclass
class PublishHealth:
    """What /healthz and /metrics say about publishing to InfluxDB."""

    state: str = "pending"  # pending, ok, failing
    last_success: float | None = None
    failures_total: int = 0
    consecutive_failures: int = 0
    points_total: int = 0
    quarantined_total: int = 0
    pending: int = 0
    oldest_queued: int | None = None
    last_error: str = ""

    def as_json(self, now: float) -> dict[str, Any]:
        """The ``publish`` entry of /healthz."""
        return {
            "state": self.state,
            "last_success": _iso(self.last_success),
            "consecutive_failures": self.consecutive_failures,
            "pending_site_days": self.pending,
            "lag_seconds": None if self.oldest_queued is None else round(now - self.oldest_queued),
            "last_error": redact(self.last_error),
        }


@dataclass
class SourceHealth:
    """What /healthz and /metrics say about one source."""

    name: str
    collector: str
    interval_minutes: int
    state: str = "pending"  # pending, ok, failing
    last_success: float | None = None
    last_failure: float | None = None
    failures_total: int = 0
    consecutive_failures: int = 0
    rows_ingested_total: int = 0
    last_error: str = ""
    latest_data: float | None = None
    running_since: float | None = None
    held_until: float | None = None

    def overdue(self, now: float) -> bool:
        """Whether the current run has gone past its deadline (the next run was due)."""
        return (
            self.running_since is not None
            and now - self.running_since > self.interval_minutes * 60
        )

    def as_json(self, now: float) -> dict[str, Any]:
        """The source's entry in /healthz (``state`` "overdue" for a run past its deadline)."""
        return {
            "state": "overdue" if self.overdue(now) else self.state,
            "collector": self.collector,
            "last_success": _iso(self.last_success),
            "last_failure": _iso(self.last_failure),
            "consecutive_failures": self.consecutive_failures,
            "last_error": redact(self.last_error),
            "lag_seconds": None if self.latest_data is None else round(now - self.latest_data),
            "running_since": _iso(self.running_since),
            "held_until": _iso(self.held_until) if (self.held_until or 0) > now else None,
        }


def _iso(moment: float | None) -> str | None:
    return None if moment is None else datetime.fromtimestamp(moment, UTC).isoformat()


@dataclass
class Daemon:
    """The scheduled service. ``run()`` blocks until stopped."""

    settings: Settings
    ledger_path: Path
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    health: dict[str, SourceHealth] = field(default_factory=dict)
    stop_event: threading.Event = field(default_factory=threading.Event)
    started_at: float = field(default_factory=time.time)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None
    publish: PublishHealth | None = None
    _publish_wakeup: threading.Event = field(default_factory=threading.Event)
    _publish_stop: threading.Event = field(default_factory=threading.Event)
    _publisher_thread: threading.Thread | None = None
    receiver: Receiver | None = None
    _write_lock: threading.RLock = field(default_factory=threading.RLock)
    _holds: dict[str, Hold] = field(default_factory=dict)
    _unexpected: dict[str, str] = field(default_factory=dict)
    _abandoned: int = 0
    _registry: CollectorRegistry | None = None

    def sources(self) -> list[SourceSettings]:
        """The enabled sources."""
        return [s for s in self.settings.sources if s.enabled]

    def run(self) -> int:
        """Schedule every enabled source, serve health, wait for a stop signal."""
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, self._on_signal)
        install_log_filter()  # secrets masked in every log line
        with Ledger.open(self.ledger_path):  # migrate before anything runs
            pass
        for source in self.sources():
            self.health[source.name] = SourceHealth(
                source.name, source.collector, source.interval_minutes
            )
        self._start_server()
        if self.settings.hj212.enabled:
            self.receiver = Receiver(self.settings.hj212, self.ledger_path)
            try:
                self.receiver.start()
            except EnvmonError:
                self._stop_server()
                raise
        self._start_publisher()
        scheduler = BackgroundScheduler(
            timezone="Asia/Shanghai",
            # a worker per source (and for reports, retries, HJ 212): none starves another
            executors={"default": ThreadPoolExecutor(max_workers=len(self.sources()) + 4)},
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": MISFIRE_GRACE_S,
            },
        )
        now = datetime.now(UTC)
        for source in self.sources():
            scheduler.add_job(
                self.collect,
                IntervalTrigger(minutes=source.interval_minutes, timezone="Asia/Shanghai"),
                args=[source],
                id=source.name,
                name=f"collect {source.name}",
                next_run_time=now,  # catch up at start, from the watermark
            )
        for job_id, trigger in report_triggers(self.settings).items():
            scheduler.add_job(
                self.retry_reports if job_id == "reports retry" else self.report,
                trigger,
                args=[] if job_id == "reports retry" else [job_id.split()[1]],
                id=job_id,
                name=job_id,
                # the retry job also catches up reports missed while the daemon was down
                next_run_time=now if job_id == "reports retry" else None,
            )
        if self.receiver is not None:
            minutes = self.settings.hj212.evaluate_interval_minutes
            scheduler.add_job(
                self.evaluate_received,
                IntervalTrigger(minutes=minutes, timezone="Asia/Shanghai"),
                id="hj212_evaluate",
                name="evaluate HJ 212 data",
            )
        log.info(
            "envmon %s started: %d source(s), ledger %s",
            __version__,
            len(self.sources()),
            self.ledger_path,
        )
        scheduler.start()
        try:
            while not self.stop_event.wait(1.0):
                pass
        finally:
            abandoned = self._abandoned + abort_requests(self.stop_event)
            log.info(
                "stopping: %d request(s) in flight abandoned (collected again at next start)",
                abandoned,
            )
            scheduler.shutdown(wait=True)  # running jobs end at once, queued ones do nothing
            if self.receiver is not None:
                self.receiver.stop()  # commits what is queued
            self._stop_publisher()  # after the receiver: its last rows are published too
            self._stop_server()
            log.info("stopped")
        return 0

    def _stop_server(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def evaluate_received(self) -> None:
        """Evaluate the days the HJ 212 receiver changed; never raises (a scheduled job)."""
        if self.stop_event.is_set():
            return
        try:
            with Ledger.open(self.ledger_path) as ledger, self._write_lock:
                if not ledger.dirty_days().empty:
                    report = evaluate_dirty(ledger, self.settings)
                    log.debug("hj212: evaluated %d site-day(s)", report.site_days)
        except EnvmonError as err:
            log.warning("hj212: evaluation failed: %s", err)
        except Exception:  # the scheduler is the one broad except (style §9.3)
            log.exception("hj212: unexpected error in the evaluation")
        self._publish_wakeup.set()

    def _on_signal(self, signum: int, frame: object) -> None:
        log.info("received %s", signal.Signals(signum).name)
        self.stop_event.set()
        self._abandoned += abort_requests(self.stop_event)  # at once, not at the next tick

    def collect(self, source: SourceSettings) -> None:
        """One scheduled run of one source; never raises (the others must go on)."""
        if self.stop_event.is_set():
            return  # queued before the stop: nothing new starts
        health = self.health[source.name]
        hold = self._holds.setdefault(source.name, Hold())
        left = hold.remaining()
        if left > MAX_HOLD_WAIT_S:
            log.info("source %s: run skipped, %s", source.name, hold.reason)
            return
        if left > 0 and self.stop_event.wait(left):  # the server asked to wait that long
            return
        with self._lock:
            health.running_since = time.time()
        try:
            self._collect(source, health, hold)
        finally:
            with self._lock:
                health.running_since = None
                health.held_until = hold.not_before or None

    def _collect(self, source: SourceSettings, health: SourceHealth, hold: Hold) -> None:
        now = self.clock()
        try:
            with Ledger.open(self.ledger_path) as ledger:
                collector = build_collector(
                    source, self.settings, cancel=self.stop_event, hold=hold
                )
                since, until = collection_window(ledger, source, now)
                report = ingest(
                    ledger,
                    self.settings,
                    source,
                    collector,
                    since,
                    until,
                    should_stop=self.stop_event.is_set,
                    write_lock=self._write_lock,
                )
                mark = ledger.watermark(source.name)
        except Stopped:
            log.info(
                "source %s: stopped mid-request; its window is collected at next start",
                source.name,
            )
            return
        except (SourceError, EnvmonError) as err:
            self._failed(health, str(err))
            return
        except Exception as err:  # the scheduler is the one broad except (style §9.3)
            self._unexpected_error(source, health, err, now)
            return
        with self._lock:
            if health.state == "failing":
                log.info(
                    "source %s recovered after %d failure(s)",
                    source.name,
                    health.consecutive_failures,
                )
            health.state = "ok"
            health.last_error = ""
            health.last_success = time.time()
            health.consecutive_failures = 0
            health.rows_ingested_total += report.inserted + report.revised
            health.latest_data = None if mark is None else mark.timestamp()
        if report.refused:  # kept in the fetch log; one line here, not one per row
            log.warning(
                "source %s: %d row(s) refused at intake, e.g. %s",
                source.name,
                len(report.refused),
                report.refused[0],
            )
        log.debug("source %s: %s", source.name, report.summary())
        self._publish_wakeup.set()  # publish what the collection and evaluation wrote

    def report(self, kind: str, day: date | None = None, *, catch_up: bool = False) -> None:
        """Write the scheduled report (yesterday's digest, last month's report; or ``day``'s)
        and send it when SMTP and recipients are configured; never raises. With
        ``catch_up`` (a run missed while the daemon was down), only when the send log has
        earlier reports of the kind and none for this period or a later one."""
        from monitor.service.reporting import (
            default_day,
            period_of,
            report_folder,
            send_report,
            write_report,
        )

        if self.stop_event.is_set():
            return  # queued before the stop: nothing new starts
        reports = self.settings.reports
        recipients = reports.daily_recipients if kind == "daily" else reports.monthly_recipients
        send = bool(self.settings.smtp.host and recipients)
        which: Literal["daily", "monthly"] = "daily" if kind == "daily" else "monthly"
        today = self.clock().astimezone(LOCAL).date()
        day = day or default_day(which, today)
        try:
            with Ledger.open(self.ledger_path) as ledger:
                if catch_up:
                    # a missed run after downtime: only when reports were made before (a
                    # first start does not send one) and not for a report already made
                    latest = ledger.last_report_period(which)
                    period = period_of(which, day)
                    if latest is None or latest >= period:
                        return
                written = write_report(
                    ledger,
                    self.settings,
                    which,
                    day,
                    report_folder(self.settings, None),
                    send=send,
                    today=today,
                )
                log.info("%s report %s written to %s", kind, written.period, written.html)
                if send:
                    outcome = send_report(ledger, self.settings, kind, written.period)
                    log.info("%s report %s: %s", kind, written.period, outcome)
        except EnvmonError as err:
            log.warning("%s report: %s", kind, err)
        except Exception as err:  # a scheduled job must not stop the daemon
            log.exception("%s report: unexpected %s: %s", kind, type(err).__name__, err)

    def retry_reports(self) -> None:
        """Catch up scheduled reports missed while stopped, then try pending sends again."""
        from monitor.service.reporting import default_day, send_pending

        if self.stop_event.is_set():
            return  # queued before the stop: nothing new starts
        now = self.clock().astimezone(LOCAL)
        for job_id, trigger in report_triggers(self.settings).items():
            if not isinstance(trigger, CronTrigger):
                continue
            kind: Literal["daily", "monthly"] = "daily" if job_id == "report daily" else "monthly"
            last = last_fire_time(trigger, now, timedelta(days=1 if kind == "daily" else 31))
            if last is not None:  # the report due at that run, if it was missed
                self.report(kind, default_day(kind, last.date()), catch_up=True)
        try:
            with Ledger.open(self.ledger_path) as ledger:
                outcomes = send_pending(ledger, self.settings)
        except EnvmonError as err:
            log.warning("report retry: %s", err)
            return
        for key, outcome in outcomes.items():
            log.info("report %s: %s", key, outcome)

    def _unexpected_error(
        self, source: SourceSettings, health: SourceHealth, err: Exception, now: datetime
    ) -> None:
        """A bug or an unforeseen answer: traceback once per source and kind of error, then
        a one-line reminder; recorded as a failed fetch so ``envmon status`` shows it."""
        error = f"internal error {type(err).__name__}: {err}"
        self._failed(health, error)
        frames = traceback.extract_tb(err.__traceback__)
        where = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
        signature = f"{type(err).__name__}{where}"  # the same bug, whatever its message
        if self._unexpected.get(source.name) != signature:
            self._unexpected[source.name] = signature
            log.exception("source %s: unexpected error (please report it)", source.name)
        else:
            log.error(
                "source %s: the same unexpected error again (traceback logged earlier): %s",
                source.name,
                redact(error),
            )
        try:
            with Ledger.open(self.ledger_path) as ledger, self._write_lock:
                since, until = collection_window(ledger, source, now)
                ledger.log_failure(source.name, redact(error), covers=(since, until))
        except EnvmonError as failure:
            log.warning("source %s: could not record the failure: %s", source.name, failure)

    def _failed(self, health: SourceHealth, error: str) -> None:
        error = redact(error)
        with self._lock:
            if health.state != "failing":
                log.warning("source %s is failing: %s", health.name, error)
            health.state = "failing"
            health.last_failure = time.time()
            health.failures_total += 1
            health.consecutive_failures += 1
            health.last_error = error

    # ------------------------------------------------------------------ publishing

    def _start_publisher(self) -> None:
        if not self.settings.influxdb.enabled:
            return
        if self.settings.secrets.influxdb_token is None:
            raise EnvmonError(
                "[influxdb] enabled = true but ENVMON_INFLUXDB_TOKEN is not set; set it to an "
                "API token with write access to the bucket (or set enabled = false)"
            )
        self.publish = PublishHealth()
        self._publisher_thread = threading.Thread(
            target=self._publish_loop, name="publish", daemon=True
        )
        self._publisher_thread.start()
        log.info(
            "publishing to %s, bucket %s",
            self.settings.influxdb.url,
            self.settings.influxdb.bucket,
        )

    def _stop_publisher(self) -> None:
        if self._publisher_thread is None:
            return
        self._publish_stop.set()
        self._publish_wakeup.set()
        abort_requests(self._publish_stop)  # a write in flight ends now; the drain retries it
        # past the grace the process ends anyway: unacknowledged points stay in the outbox
        self._publisher_thread.join(timeout=FINAL_DRAIN_S + 2)

    def _publish_loop(self) -> None:
        """The publisher thread: rounds until stopped, then one last bounded drain."""
        settings = self.settings.influxdb
        writer = InfluxWriter(
            settings, self.settings.secrets.influxdb_token, cancel=self._publish_stop
        )
        try:
            with Ledger.open(self.ledger_path) as ledger:
                publisher = Publisher(
                    ledger,
                    self.settings,
                    writer,
                    sleep=self._publish_stop.wait,
                    should_stop=self._publish_stop.is_set,
                )
                delay = 0.0
                while not self._publish_stop.is_set():
                    self._publish_wakeup.wait(timeout=delay)
                    self._publish_wakeup.clear()
                    if self._publish_stop.is_set():
                        break
                    delay = self._publish_round(publisher, delay)
                deadline = time.monotonic() + FINAL_DRAIN_S
                writer.until = deadline  # no write outlasts the drain's grace
                final = Publisher(
                    ledger,
                    self.settings,
                    writer,
                    attempts=2,
                    sleep=lambda s: time.sleep(min(s, max(0.0, deadline - time.monotonic()))),
                    should_stop=lambda: time.monotonic() > deadline,
                )
                self._publish_round(final, 0.0)
                log.info("publisher stopped; %d site-day(s) left queued", ledger.outbox_stats()[0])
        except Exception:  # the thread must not die silently (style §9.3)
            log.exception("publisher thread failed")
        finally:
            writer.close()

    def _publish_round(self, publisher: Publisher, delay: float) -> float:
        """Heartbeat and health, then the outbox; the seconds to wait before the next."""
        health = self.publish
        assert health is not None
        settings = self.settings.influxdb
        try:
            publisher.health_round(self.started_at)
            report = publisher.drain()
        except PublishError as err:
            with self._lock:
                if health.state != "failing":
                    log.warning("publishing is failing: %s", err)
                health.state = "failing"
                health.failures_total += 1
                health.consecutive_failures += 1
                health.last_error = redact(str(err))
                health.pending, health.oldest_queued = publisher.ledger.outbox_stats()
            grown = min(float(settings.max_backoff_seconds), max(5.0, delay * 2))
            return max(grown, err.retry_after or 0.0)
        with self._lock:
            if health.state == "failing":
                log.info("publishing recovered after %d failure(s)", health.consecutive_failures)
            health.state = "ok"
            health.last_success = time.time()
            health.consecutive_failures = 0
            health.last_error = ""
            health.points_total += report.points
            health.quarantined_total += report.quarantined
            health.pending, health.oldest_queued = publisher.ledger.outbox_stats()
        return float(settings.interval_seconds)

    # ------------------------------------------------------------------ HTTP

    def healthz(self, now: float | None = None) -> dict[str, Any]:
        """The /healthz document (at ``now``, Unix time; default: the present)."""
        now = time.time() if now is None else now
        with self._lock:
            sources = {name: h.as_json(now) for name, h in self.health.items()}
            publish = None if self.publish is None else self.publish.as_json(now)
        failing = [n for n, h in sources.items() if h["state"] in ("failing", "overdue")]
        if publish is not None and publish["state"] == "failing":
            failing.append("publish")
        body: dict[str, Any] = {
            "status": "degraded" if failing else "ok",
            "version": __version__,
            "uptime_seconds": round(now - self.started_at),
            "sources": sources,
            "publish": publish,
        }
        if self.receiver is not None:
            body["hj212"] = self.receiver.health()
            if body["hj212"]["state"] == "failing":
                body["status"] = "degraded"
        body["evaluation"] = self._evaluation_health(now)
        if body["evaluation"]["state"] != "ok":
            body["status"] = "degraded"
        return body

    def _evaluation_health(self, now: float) -> dict[str, Any]:
        """Site-days that cannot be evaluated, from the ledger (kept across restarts)."""
        try:
            with Ledger.open(self.ledger_path) as ledger:
                return evaluation_health(ledger, now)
        except EnvmonError as err:
            return {"state": "unknown", "error": str(err)}

    def metrics(self) -> str:
        """The /metrics document (Prometheus text format; :mod:`monitor.service.metrics`)."""
        return exposition(self._metrics_registry()).decode()

    def metrics_for(self, accept: str | None) -> tuple[bytes, str]:
        """The /metrics body and content type for a scrape's ``Accept`` header
        (OpenMetrics when asked for, else the Prometheus text format)."""
        return negotiated(self._metrics_registry(), accept)

    def _metrics_registry(self) -> CollectorRegistry:
        if self._registry is None:
            self._registry = daemon_registry(self)
        return self._registry

    def health_snapshot(self) -> tuple[list[SourceHealth], PublishHealth | None]:
        """Copies of the per-source and the publish health, taken under the lock."""
        with self._lock:
            healths = [dataclasses.replace(h) for h in self.health.values()]
            publish = None if self.publish is None else dataclasses.replace(self.publish)
        return healths, publish

    def _start_server(self) -> None:
        port = self.settings.service.http_port
        daemon = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] == "/healthz":
                    text = redact(json.dumps(daemon.healthz(), ensure_ascii=False))
                    body = text.encode()
                    self._send(200, "application/json; charset=utf-8", body)
                elif self.path.split("?")[0] == "/metrics":
                    body, content_type = daemon.metrics_for(self.headers.get("Accept"))
                    self._send(200, content_type, body)
                else:
                    self._send(
                        404, "text/plain; charset=utf-8", b"not found: try /healthz or /metrics\n"
                    )

            def _send(self, status: int, content_type: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        host = self.settings.service.http_host
        try:
            self.server = ThreadingHTTPServer((host, port), Handler)
        except OSError as err:
            raise EnvmonError(
                f"cannot serve /healthz on {host}:{port} ({err.strerror}); choose another "
                "[service] http_port (or http_host) in the settings"
            ) from err
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, name="http", daemon=True).start()
        log.info(
            "health on http://%s:%d/healthz, metrics on /metrics",
            self.settings.service.http_host,
            self.server.server_port,
        )


LOCAL = ZoneInfo("Asia/Shanghai")


def last_fire_time(trigger: CronTrigger, now: datetime, window: timedelta) -> datetime | None:
    """The trigger's latest fire time in (now − window, now], or None."""
    last = None
    fire = trigger.get_next_fire_time(None, now - window)
    while fire is not None and fire <= now:
        last = fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    return last


def report_triggers(settings: Settings) -> dict[str, CronTrigger | IntervalTrigger]:
    """The report jobs (Asia/Shanghai): the daily digest at ``daily_time``, the monthly
    report on ``monthly_day`` at ``monthly_time``, and the retry of unsent reports."""
    reports = settings.reports
    day_h, day_m = (int(x) for x in reports.daily_time.split(":"))
    month_h, month_m = (int(x) for x in reports.monthly_time.split(":"))
    return {
        "report daily": CronTrigger(hour=day_h, minute=day_m, timezone="Asia/Shanghai"),
        "report monthly": CronTrigger(
            day=reports.monthly_day, hour=month_h, minute=month_m, timezone="Asia/Shanghai"
        ),
        "reports retry": IntervalTrigger(minutes=reports.retry_minutes, timezone="Asia/Shanghai"),
    }
