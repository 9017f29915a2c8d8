"""``/metrics`` of the daemon: Prometheus exposition through ``prometheus_client``.

Each daemon has a registry of its own (:func:`daemon_registry`; not the process-wide
default, so that several daemons in one process — the tests — do not mix), holding:

* :class:`DaemonCollector`, which reads the daemon's state at scrape time (per-source
  health, publishing, the HJ 212 receiver) and yields metric families — nothing is
  counted twice, the daemon's own counters are the only record;
* ``ProcessCollector`` (``process_*``: CPU seconds, resident memory, open file
  descriptors, start time) and ``PlatformCollector`` (``python_info``).

``prometheus_client`` writes the text format, escaping label values (backslash, double
quote, newline) and HELP texts. Label values that come from outside (source names,
HJ 212 station numbers, sites, unknown factor codes read from packets) are masked with
:func:`monitor.redact.redact` first, one value at a time: masking the whole document
could cut through a metric name or a number.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import (
    CollectorRegistry,
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from monitor import __version__
from monitor.redact import redact

if TYPE_CHECKING:
    from monitor.service.daemon import Daemon, SourceHealth

__all__ = ["CONTENT_TYPE", "DaemonCollector", "daemon_registry", "exposition", "negotiated"]

#: Content type of :func:`exposition` (Prometheus text format).
CONTENT_TYPE = CONTENT_TYPE_LATEST

#: Per-source series: (name, kind, help, value of a source's health; None: no sample).
_SOURCE_SERIES: list[tuple[str, str, str, Callable[[SourceHealth, float], float | None]]] = [
    (
        "envmon_source_last_success_timestamp_seconds",
        "gauge",
        "Unix time of the source's last successful collection.",
        lambda h, now: h.last_success,
    ),
    (
        "envmon_source_failures_total",
        "counter",
        "Failed collections of the source.",
        lambda h, now: h.failures_total,
    ),
    (
        "envmon_source_consecutive_failures",
        "gauge",
        "Failed collections since the last success.",
        lambda h, now: h.consecutive_failures,
    ),
    (
        "envmon_source_rows_ingested_total",
        "counter",
        "Observations inserted or revised from the source.",
        lambda h, now: h.rows_ingested_total,
    ),
    (
        "envmon_source_lag_seconds",
        "gauge",
        "Seconds between now and the end of the latest period stored for the source.",
        lambda h, now: None if h.latest_data is None else now - h.latest_data,
    ),
]


class DaemonCollector(Collector):
    """The daemon's own metric families, built from its state at each scrape."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon

    def collect(self) -> Iterator[Metric]:
        for family in self._families():
            for i, sample in enumerate(family.samples):
                if sample.labels:
                    labels = {k: redact(v) for k, v in sample.labels.items()}
                    family.samples[i] = sample._replace(labels=labels)
            yield family

    def _families(self) -> Iterator[Metric]:
        daemon = self.daemon
        now = time.time()
        yield InfoMetricFamily("envmon_build", "The envmon version.", {"version": __version__})
        yield GaugeMetricFamily("envmon_up", "1 while the daemon runs.", 1)
        yield GaugeMetricFamily(
            "envmon_uptime_seconds", "Seconds since the daemon started.", now - daemon.started_at
        )
        healths, publish = daemon.health_snapshot()
        for name, kind, help_text, value in _SOURCE_SERIES:
            family: GaugeMetricFamily | CounterMetricFamily
            if kind == "counter":
                family = CounterMetricFamily(name, help_text, labels=["source"])
            else:
                family = GaugeMetricFamily(name, help_text, labels=["source"])
            for health in healths:
                number = value(health, now)
                if number is not None:
                    family.add_metric([health.name], number)
            yield family
        if publish is not None:
            lag = 0.0 if publish.oldest_queued is None else now - publish.oldest_queued
            yield CounterMetricFamily(
                "envmon_publish_points_total", "Points InfluxDB accepted.", publish.points_total
            )
            yield CounterMetricFamily(
                "envmon_publish_failures_total", "Failed publish rounds.", publish.failures_total
            )
            yield CounterMetricFamily(
                "envmon_publish_quarantined_total",
                "Points InfluxDB refused as bad data (kept in the ledger).",
                publish.quarantined_total,
            )
            yield GaugeMetricFamily(
                "envmon_publish_pending_site_days",
                "Site-days waiting in the outbox.",
                publish.pending,
            )
            yield GaugeMetricFamily(
                "envmon_publish_lag_seconds",
                "Age of the oldest site-day waiting in the outbox.",
                lag,
            )
            last = GaugeMetricFamily(
                "envmon_publish_last_success_timestamp_seconds",
                "Unix time of the last successful publish round.",
            )
            if publish.last_success is not None:
                last.add_metric([], publish.last_success)
            yield last
        if daemon.receiver is not None:
            yield from daemon.receiver.metric_families()


def daemon_registry(daemon: Daemon) -> CollectorRegistry:
    """A registry of the daemon's collector plus the standard process and platform ones."""
    registry = CollectorRegistry()
    registry.register(DaemonCollector(daemon))
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    return registry


def exposition(registry: CollectorRegistry) -> bytes:
    """The /metrics body (content type :data:`CONTENT_TYPE`)."""
    return generate_latest(registry)


def negotiated(registry: CollectorRegistry, accept: str | None) -> tuple[bytes, str]:
    """The /metrics body and its content type for a request's ``Accept`` header.

    OpenMetrics text (``application/openmetrics-text; version=1.0.0; …``, ending in
    ``# EOF``) when ``accept`` lists ``application/openmetrics-text``, as Prometheus' scrape
    requests do: prometheus_client's ``choose_encoder`` then picks the version and name
    escaping the scraper asked for. Otherwise, and without the header, the Prometheus text
    format of :func:`exposition` (:data:`CONTENT_TYPE`; ``choose_encoder`` alone would fall
    back to the older ``version=0.0.4``).
    """
    media = {part.split(";")[0].strip().lower() for part in (accept or "").split(",")}
    if "application/openmetrics-text" in media:
        encoder, content_type = choose_encoder(accept or "")
        return encoder(registry), content_type
    return exposition(registry), CONTENT_TYPE
