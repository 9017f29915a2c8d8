"""``envmon run``: the scheduled daemon.

One APScheduler 3.x job per enabled source (interval from the settings, explicit
Asia/Shanghai time zone, coalesced, one instance at a time, misfire grace). Jobs run one
after another on a single worker thread, so the ledger has one writer. At start every
source runs at once, resuming from its watermark (catch-up after downtime). SIGTERM or
SIGINT lets the current job finish, then the daemon exits with code 0.

With ``[hj212] enabled`` the HJ 212-2017 receiver (:mod:`monitor.hj212.server`) runs in a
thread of its own with its own ledger writer; a scheduled job evaluates what it stored every
``evaluate_interval_minutes``; SIGTERM stops it after committing what it has queued.

A small HTTP server answers ``/healthz`` (JSON, per-source state) and ``/metrics``
(Prometheus text format: last success, failures, rows ingested, lag). A failing source
never stops the others; it is logged once when it starts failing and once when it recovers.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from monitor import __version__
from monitor.errors import EnvmonError, SourceError
from monitor.hj212.server import Receiver
from monitor.ledger import Ledger
from monitor.service.pipeline import collection_window, evaluate_dirty, ingest
from monitor.service.sources import build_collector
from monitor.settings import Settings, SourceSettings

log = logging.getLogger("envmon.daemon")

#: Seconds a missed run may start late before it is skipped (then coalesced into one).
MISFIRE_GRACE_S = 300


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

    def as_json(self, now: float) -> dict[str, Any]:
        """The source's entry in /healthz."""
        return {
            "state": self.state,
            "collector": self.collector,
            "last_success": _iso(self.last_success),
            "last_failure": _iso(self.last_failure),
            "consecutive_failures": self.consecutive_failures,
            "last_error": self.last_error,
            "lag_seconds": None if self.latest_data is None else round(now - self.latest_data),
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
    receiver: Receiver | None = None

    def sources(self) -> list[SourceSettings]:
        """The enabled sources."""
        return [s for s in self.settings.sources if s.enabled]

    def run(self) -> int:
        """Schedule every enabled source, serve health, wait for a stop signal."""
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, self._on_signal)
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
        scheduler = BackgroundScheduler(
            timezone="Asia/Shanghai",
            executors={"default": ThreadPoolExecutor(max_workers=1)},
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
        log.info(
            "envmon %s started: %d source(s), ledger %s",
            __version__,
            len(self.sources()),
            self.ledger_path,
        )
        if self.receiver is not None:
            minutes = self.settings.hj212.evaluate_interval_minutes
            scheduler.add_job(
                self.evaluate_received,
                IntervalTrigger(minutes=minutes, timezone="Asia/Shanghai"),
                id="hj212_evaluate",
                name="evaluate HJ 212 data",
            )
        scheduler.start()
        try:
            while not self.stop_event.wait(1.0):
                pass
        finally:
            log.info("stopping: letting the current job finish")
            if self.receiver is not None:
                self.receiver.stop()  # commits what is queued
            scheduler.shutdown(wait=True)
            self._stop_server()
            log.info("stopped")
        return 0

    def _stop_server(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def evaluate_received(self) -> None:
        """Evaluate the days the HJ 212 receiver changed; never raises (a scheduled job)."""
        try:
            with Ledger.open(self.ledger_path) as ledger:
                if not ledger.dirty_days().empty:
                    report = evaluate_dirty(ledger, self.settings)
                    log.debug("hj212: evaluated %d site-day(s)", report.site_days)
        except EnvmonError as err:
            log.warning("hj212: evaluation failed: %s", err)
        except Exception:  # the scheduler is the one broad except (style §9.3)
            log.exception("hj212: unexpected error in the evaluation")

    def _on_signal(self, signum: int, frame: object) -> None:
        log.info("received %s", signal.Signals(signum).name)
        self.stop_event.set()

    def collect(self, source: SourceSettings) -> None:
        """One scheduled run of one source; never raises (the others must go on)."""
        health = self.health[source.name]
        now = self.clock()
        try:
            with Ledger.open(self.ledger_path) as ledger:
                collector = build_collector(source, self.settings)
                since, until = collection_window(ledger, source, now)
                report = ingest(
                    ledger,
                    self.settings,
                    source,
                    collector,
                    since,
                    until,
                    should_stop=self.stop_event.is_set,
                )
                mark = ledger.watermark(source.name)
        except (SourceError, EnvmonError) as err:
            self._failed(health, str(err))
            return
        except Exception as err:  # the scheduler is the one broad except (style §9.3)
            self._failed(health, f"unexpected {type(err).__name__}: {err}")
            log.exception("source %s: unexpected error", source.name)
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
        log.debug("source %s: %s", source.name, report.summary())

    def _failed(self, health: SourceHealth, error: str) -> None:
        with self._lock:
            if health.state != "failing":
                log.warning("source %s is failing: %s", health.name, error)
            health.state = "failing"
            health.last_failure = time.time()
            health.failures_total += 1
            health.consecutive_failures += 1
            health.last_error = error

    # ------------------------------------------------------------------ HTTP

    def healthz(self) -> dict[str, Any]:
        """The /healthz document."""
        now = time.time()
        with self._lock:
            sources = {name: h.as_json(now) for name, h in self.health.items()}
        failing = [n for n, h in sources.items() if h["state"] == "failing"]
        body: dict[str, Any] = {
            "status": "degraded" if failing else "ok",
            "version": __version__,
            "uptime_seconds": round(now - self.started_at),
            "sources": sources,
        }
        if self.receiver is not None:
            body["hj212"] = self.receiver.health()
            if body["hj212"]["state"] == "failing":
                body["status"] = "degraded"
        return body

    def metrics(self) -> str:
        """The /metrics document (Prometheus text exposition format 0.0.4)."""
        now = time.time()
        lines = [
            "# HELP envmon_up 1 while the daemon runs.",
            "# TYPE envmon_up gauge",
            "envmon_up 1",
            "# HELP envmon_uptime_seconds Seconds since the daemon started.",
            "# TYPE envmon_uptime_seconds gauge",
            f"envmon_uptime_seconds {now - self.started_at:.0f}",
        ]
        series: list[tuple[str, str, str, Callable[[SourceHealth], float | None]]] = [
            (
                "envmon_source_last_success_timestamp_seconds",
                "gauge",
                "Unix time of the source's last successful collection.",
                lambda h: h.last_success,
            ),
            (
                "envmon_source_failures_total",
                "counter",
                "Failed collections of the source.",
                lambda h: float(h.failures_total),
            ),
            (
                "envmon_source_consecutive_failures",
                "gauge",
                "Failed collections since the last success.",
                lambda h: float(h.consecutive_failures),
            ),
            (
                "envmon_source_rows_ingested_total",
                "counter",
                "Observations inserted or revised from the source.",
                lambda h: float(h.rows_ingested_total),
            ),
            (
                "envmon_source_lag_seconds",
                "gauge",
                "Seconds between now and the end of the latest period stored for the source.",
                lambda h: None if h.latest_data is None else now - h.latest_data,
            ),
        ]
        with self._lock:
            healths = list(self.health.values())
        for name, kind, help_text, value in series:
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
            for h in healths:
                v = value(h)
                if v is not None:
                    lines.append(f'{name}{{source="{_label(h.name)}"}} {v:.3f}')
        if self.receiver is not None:
            lines += self.receiver.metrics()
        return "\n".join(lines) + "\n"

    def _start_server(self) -> None:
        port = self.settings.service.http_port
        daemon = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] == "/healthz":
                    body = json.dumps(daemon.healthz(), ensure_ascii=False).encode()
                    self._send(200, "application/json; charset=utf-8", body)
                elif self.path.split("?")[0] == "/metrics":
                    self._send(
                        200, "text/plain; version=0.0.4; charset=utf-8", daemon.metrics().encode()
                    )
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


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
