"""Reading /metrics the way Prometheus does: ``prometheus_client``'s own text parser."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterable

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from monitor.hj212.server import Receiver


def parse(text: str) -> dict[str, list[Sample]]:
    """Samples by family name, after checking every family name appears once.

    The parser names a counter family without its ``_total`` (the samples keep it):
    ``envmon_source_failures_total`` is family ``envmon_source_failures``.
    """
    families: dict[str, list[Sample]] = {}
    for family in text_string_to_metric_families(text):
        assert family.name not in families, f"family {family.name} twice"
        families[family.name] = list(family.samples)
    return families


def types(text: str) -> dict[str, str]:
    """Family name → type (``counter``, ``gauge``, ``summary`` …)."""
    return {family.name: family.type for family in text_string_to_metric_families(text)}


def scrape(url: str, accept: str | None = None) -> tuple[str, str]:
    """GET /metrics, with ``Accept: accept`` when given: (content type, body)."""
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.headers["Content-Type"], response.read().decode()


def value(samples: Iterable[Sample], name: str, **labels: str) -> float | None:
    """The value of the sample named ``name`` with exactly ``labels``, or None."""
    found = [s.value for s in samples if s.name == name and s.labels == labels]
    assert len(found) <= 1, f"{name}{labels} appears {len(found)} times"
    return found[0] if found else None


def receiver_samples(receiver: Receiver) -> list[Sample]:
    """Every sample of the receiver's metric families."""
    return [sample for family in receiver.metric_families() for sample in family.samples]
