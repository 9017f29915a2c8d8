"""Build the configured collectors from the settings (the service knows every adapter)."""

from __future__ import annotations

import threading
from pathlib import Path

from monitor.collectors import COLLECTORS, cnemc_air, cnemc_water, open_meteo, usgs_water
from monitor.collectors.base import Collector
from monitor.collectors.cnemc_air import CnemcAirCollector
from monitor.collectors.cnemc_sites_archive import CnemcSitesArchiveCollector
from monitor.collectors.cnemc_water import CnemcWaterCollector
from monitor.collectors.http import Hold, HttpClient
from monitor.collectors.open_meteo import ModelPoint, OpenMeteoCollector
from monitor.collectors.usgs_water import UsgsWaterCollector
from monitor.errors import ConfigError
from monitor.settings import Settings, SourceSettings


def build_collector(
    source: SourceSettings,
    settings: Settings,
    *,
    cancel: threading.Event | None = None,
    hold: Hold | None = None,
) -> Collector:
    """The collector for one configured source.

    Its HTTP client has the source's total deadline per request, response-size cap and a
    ``Retry-After`` hold bounded by the source's interval; ``cancel`` (the daemon's stop
    event) abandons its requests, ``hold`` carries a server's "wait" to the next run.

    Raises
    ------
    ConfigError
        If the source's settings do not suit its collector.
    """
    client = HttpClient(
        source.name,
        timeout=source.timeout_seconds,
        retries=source.retries,
        max_bytes=source.max_response_bytes,
        max_hold=source.interval_minutes * 60.0,
        cancel=cancel,
        hold=hold if hold is not None else Hold(),
    )
    name = source.collector
    if name == OpenMeteoCollector.name:
        points = [ModelPoint(p.site, p.latitude, p.longitude) for p in source.points]
        return OpenMeteoCollector(
            source=source.name,
            points=points,
            client=client,
            url=source.url or open_meteo.DEFAULT_URL,
        )
    if name == CnemcAirCollector.name:
        return CnemcAirCollector(
            source=source.name,
            stations=source.stations,
            client=client,
            url=source.url or cnemc_air.DEFAULT_URL,
            max_history_hours=source.max_history_hours,
        )
    if name == CnemcSitesArchiveCollector.name:
        if source.folder and source.url:
            raise ConfigError(
                [f"sources: {source.name!r} has both folder and url; keep one of them"],
                source=str(settings.source),
            )
        folder = None
        if source.folder:
            folder = Path(source.folder)
            if not folder.is_absolute():
                folder = settings.source.parent / folder
        return CnemcSitesArchiveCollector(
            source=source.name,
            folder=folder,
            url=source.url or None,
            stations=source.stations,
            client=client,
        )
    if name == CnemcWaterCollector.name:
        return CnemcWaterCollector(
            source=source.name,
            sections=source.stations,
            section_ids=section_ids(settings),
            client=client,
            url=source.url or cnemc_water.DEFAULT_URL,
        )
    if name == UsgsWaterCollector.name:
        if not source.stations:
            raise ConfigError(
                [f"sources: {source.name!r} (usgs_water) needs stations = ['USGS-…', …]"],
                source=str(settings.source),
            )
        return UsgsWaterCollector(
            source=source.name,
            monitoring_location_ids=source.stations,
            client=client,
            url=source.url or usgs_water.DEFAULT_URL,
        )
    raise ConfigError(
        [f"sources: unknown collector {name!r}; known: {', '.join(COLLECTORS)}"],
        source=str(settings.source),
    )


def section_ids(settings: Settings) -> dict[str, str]:
    """Published section name (``name_zh``) → configured section id, for cnemc_water."""
    return {section.name_zh: section.id for section in settings.water_sections}


def find_source(settings: Settings, name: str) -> SourceSettings:
    """The configured source called ``name``, or a ConfigError listing the known ones."""
    try:
        return settings.source_settings(name)
    except KeyError:
        known = ", ".join(s.name for s in settings.sources) or "none configured"
        raise ConfigError(
            [f"unknown source {name!r}; configured sources: {known}"],
            source=str(settings.source),
        ) from None
