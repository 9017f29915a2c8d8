"""CNEMC national real-time air platform: measured hourly concentrations of national stations.

Source
------
全国城市空气质量实时发布平台, ``https://air.cnemc.cn:18007/`` (data-sources.md §4a). No
documented public API and no licence text: the JSON endpoints behind the map page are what
community scrapers use. Default endpoint
``GET /CityData/GetAQIDataPublishLive?cityName=沈阳市`` — every station of one city for the
current hour. ``url`` may point at any endpoint that answers a JSON list of station
records in the same shape over GET (e.g. a mirror). Requests carry the page's
``Referer`` and ``X-Requested-With`` headers; TLS is verified (scrapers often disable it —
we don't).

Terms and cadence: government public information, anonymous, no published rate limit
(community advice: ≥ 1.5 s between calls). An hour is published ≈ 30 min after it ends
(15:00 data at ≈ 15:30); some hours are never published and values can be revised. Only
≈ 24 h are online, and this endpoint gives the current hour only: poll at least hourly
(e.g. at :19 and :41).

Catch-up after downtime
-----------------------
When ``since`` (the source's watermark) lies more than an hour before the live hour, the
missed hours come from the platform's history, as its own pages and public clients ask for
it: ``POST /HourChangesPublish/GetAQIHistoryByConditionHis`` with the form
``date=YYYY-MM-DD HH:00:00`` (Beijing) answers one hour of every national station (filtered
to the configured stations, or to the city's stations of the live answer), and ``POST
/HourChangesPublish/GetAqiHistoryByCondition?stationCode=…`` (empty form) the last 24 hours
of one station — used instead when there are fewer configured stations than missed hours.
Both answer records of the live shape and keep the latest hour and the 23 before it. At most
``max_history_hours`` hours per call, oldest first, ``request_delay`` seconds apart; when more
remain, the live hour is held back so that the watermark stays before the gap and the next
call continues. Hours older than the window, and hours whose history request failed, are
reported as an open ``gap:`` in the batch notes (kept in the fetch log) and logged as a
warning; a failing history endpoint never holds live data back.

Field map
---------
:data:`FIELD_MAP` (JSON keys as published; matched without regard to case, since
scrapers see both spellings). Values arrive as strings; ``—`` (em dash) means missing.

==============  ==========  =====================================
CNEMC field     parameter   unit (source = stored)
==============  ==========  =====================================
``SO2``         ``so2``     µg/m³, 1-hour mean
``NO2``         ``no2``     µg/m³, 1-hour mean
``CO``          ``co``      **mg/m³** already, 1-hour mean
``O3``          ``o3``      µg/m³, 1-hour mean
``PM10``        ``pm10``    µg/m³, 1-hour mean
``PM2_5``       ``pm2_5``   µg/m³, 1-hour mean
==============  ==========  =====================================

Read for the cross-check only (not stored): ``AQI``, ``PrimaryPollutant``, ``O3_8h`` (8-hour
moving mean, no canonical parameter yet) and ``SO2_24h`` (HJ 633-2012 SO2 > 800 rule).
Identity: ``StationCode`` (e.g. ``1099A``); ``PositionName`` is the display name.

Time convention
---------------
Labels are Beijing time and **hour-ending**: the value labelled 16:00 is the mean of
15:00–16:00. The label is ``TimePoint`` — ``/Date(ms)/`` (.NET JSON: milliseconds since
1970-01-01 UTC, optional ``+0800`` suffix) or text — or else ``TimePointStr``
(``2025年01月01日 08时``). Periods come from :func:`~monitor.collectors.base.hour_ending` and
are stored in UTC. ``collect(since, until)`` keeps station-hours with
``since < period_end ≤ until``; ``Batch.covers`` is the hour(s) the answer holds (the live
endpoint cannot be asked for a period).

Cross-check and QC flags
------------------------
Every station-hour's AQI is recomputed from the delivered concentrations with
:func:`monitor.domain.aqi.hourly_aqi` (platform method, HJ 633-2012 or -2026 by the date of
the label) and compared with the published ``AQI`` (within :data:`AQI_TOLERANCE`) and
``PrimaryPollutant`` (each published primary pollutant's recomputed IAQI within the tolerance
of the published AQI). Verdicts (:class:`Verdict`), written as the ``flags`` of **every**
observation of that station-hour:

* ``aqi_mismatch`` — published AQI or primary pollutant disagrees with the concentrations;
* ``o3_swapped`` — they disagree, but agree once ``O3`` and ``O3_8h`` are exchanged: the known
  archive fault of swapped O3 fields. Values are stored as delivered (not fixed). Detected only
  when the swap changes the AQI or primary pollutant.

Cell flags: ``source_missing`` (em dash: the record came, the value not; value NaN) and
``source_invalid`` (text that is no number; value NaN). A **negative** concentration is
kept as delivered (envmon's quality checks flag it ``negative`` at evaluation, as for every
intake path); its station-hour is ``not_compared`` (HJ 633 rates no value below zero) and
named in the notes, and the other stations' hours are checked as usual. The cross-check
never discards an answer: should the recomputation itself fail, every station-hour is
stored unchecked and the reason noted. ``Batch.notes`` hold the verdict
counts (``aqi_check: station_hours=… consistent=… aqi_mismatch=… o3_swapped=…
not_compared=…``), one line per disagreeing station-hour, and the configured stations the
answer lacked.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar, Final
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pandas as pd

from monitor.collectors.base import (
    Batch,
    DataKind,
    empty_observations,
    hour_ending,
    observations,
)
from monitor.collectors.http import HttpClient, decode_json
from monitor.collectors.intake import out_of_range_time_text
from monitor.domain.aqi import hourly_aqi, pollutant_names, standards_for_dates
from monitor.domain.units import to_canonical
from monitor.errors import SourceError, SourceFormatChanged

__all__ = [
    "AQI_TOLERANCE",
    "CHECK_FIELDS",
    "DEFAULT_CITY",
    "DEFAULT_URL",
    "FIELD_MAP",
    "HISTORY_WINDOW_HOURS",
    "HOUR_HISTORY_URL",
    "MISSING_MARKERS",
    "REQUEST_HEADERS",
    "STATION_HISTORY_URL",
    "CnemcAirCollector",
    "Verdict",
    "check_station_hours",
    "fetch_station_records",
    "parse_observations",
    "parse_station_hours",
    "safe_checks",
    "station_observations",
    "summarise_checks",
]

DEFAULT_URL: Final = "https://air.cnemc.cn:18007/CityData/GetAQIDataPublishLive"
DEFAULT_CITY: Final = "沈阳市"
#: One hour of every national station: POST form ``date=YYYY-MM-DD HH:00:00`` (Beijing).
_HOUR_HISTORY_PATH: Final = "/HourChangesPublish/GetAQIHistoryByConditionHis"
HOUR_HISTORY_URL: Final = "https://air.cnemc.cn:18007" + _HOUR_HISTORY_PATH
#: The last 24 hours of one station: POST ``?stationCode=1099A`` with an empty form.
_STATION_HISTORY_PATH: Final = "/HourChangesPublish/GetAqiHistoryByCondition"
STATION_HISTORY_URL: Final = "https://air.cnemc.cn:18007" + _STATION_HISTORY_PATH
#: Hours the platform keeps online: the latest hour and the 23 before it (a survey of the
#: endpoints on 2026-10-09 got 1601 stations for those and an empty list for older dates).
HISTORY_WINDOW_HOURS: Final = 24

_log = logging.getLogger(__name__)
BEIJING: Final = ZoneInfo("Asia/Shanghai")

#: Headers the platform's own page sends with its JSON calls (data-sources.md §4a).
REQUEST_HEADERS: Final[Mapping[str, str]] = {
    "Referer": "https://air.cnemc.cn:18007/",
    "X-Requested-With": "XMLHttpRequest",
    "Accept": "application/json, text/javascript, */*; q=0.01",
}

#: CNEMC field → (canonical parameter, unit the platform publishes it in).
FIELD_MAP: Final[Mapping[str, tuple[str, str]]] = {
    "SO2": ("so2", "µg/m³"),
    "NO2": ("no2", "µg/m³"),
    "CO": ("co", "mg/m³"),
    "O3": ("o3", "µg/m³"),
    "PM10": ("pm10", "µg/m³"),
    "PM2_5": ("pm2_5", "µg/m³"),
}

#: Fields read for the AQI cross-check → column name in the station-hours frame. ``AQI``
#: and ``PrimaryPollutant`` are required; the moving means are used when present.
CHECK_FIELDS: Final[Mapping[str, str]] = {
    "AQI": "aqi_published",
    "PrimaryPollutant": "primary_published",
    "O3_8h": "o3_8h",
    "SO2_24h": "so2_24h",
}

_REQUIRED: Final = ("StationCode", *FIELD_MAP, "AQI", "PrimaryPollutant")

#: Cell texts meaning "no value": em dash in the JSON, ``-`` in the old XML feed.
MISSING_MARKERS: Final = frozenset({"—", "－", "-", "--", "", "NA", "null"})

#: Largest |recomputed − published| AQI still counted as agreement. The platform shows
#: rounded concentrations (integers; CO one decimal) but may rate the unrounded values; on
#: the steepest segment (PM2.5 0–35 µg/m³, 50/35 IAQI per µg/m³) half a unit plus the
#: round-up of the IAQI moves the result by one.
AQI_TOLERANCE: Final = 1.0


class Verdict(StrEnum):
    """Outcome of the AQI cross-check of one station-hour (the flag written, if any)."""

    CONSISTENT = "consistent"
    AQI_MISMATCH = "aqi_mismatch"
    O3_SWAPPED = "o3_swapped"
    NOT_COMPARED = "not_compared"  # no published AQI, or no concentration to rate


class CnemcAirCollector:
    """Measured hourly concentrations of national air stations from the CNEMC platform.

    Parameters
    ----------
    source : str
        Configured source name, stored as ``Batch.source`` and used in error messages.
    stations : sequence of str
        Station codes to keep (e.g. ``1099A``); empty keeps every station of the answer.
    url : str
        Endpoint answering a JSON list of station records over GET.
    city : str
        ``cityName`` query parameter (Chinese city name, as the platform expects); empty
        sends no query.
    client : HttpClient, optional
        HTTP client; default ``HttpClient(source)``. The platform's request headers
        (:data:`REQUEST_HEADERS`) are added to its session.
    hour_history_url, station_history_url : str, optional
        The platform's history endpoints, used to fill hours missed since ``since``;
        default: their paths on the host of ``url`` (:data:`HOUR_HISTORY_URL`,
        :data:`STATION_HISTORY_URL` for the default ``url``).
    max_history_hours : int
        Most missed hours filled per call (0: no catch-up); the rest follow next call.
    request_delay : float
        Seconds between history requests [s], slept with the client's ``sleep``.

    Raises
    ------
    ValueError
        If a station code is empty or has blanks around it.
    """

    name: ClassVar[str] = "cnemc_air"
    kind: ClassVar[DataKind] = "measured"

    def __init__(
        self,
        *,
        source: str,
        stations: Sequence[str] = (),
        url: str = DEFAULT_URL,
        city: str = DEFAULT_CITY,
        client: HttpClient | None = None,
        hour_history_url: str | None = None,
        station_history_url: str | None = None,
        max_history_hours: int = 24,
        request_delay: float = 1.5,
    ) -> None:
        bad = [code for code in stations if not code or code != code.strip()]
        if bad:
            raise ValueError(
                f"source {source!r}: station code(s) {bad} are empty or padded; "
                "expected codes such as '1099A'"
            )
        self.source = source
        self.stations = tuple(dict.fromkeys(stations))
        self.url = url
        self.city = city
        self.client = client if client is not None else HttpClient(source)
        self.client.session.headers.update(REQUEST_HEADERS)
        self.hour_history_url = hour_history_url or urljoin(url, _HOUR_HISTORY_PATH)
        self.station_history_url = station_history_url or urljoin(url, _STATION_HISTORY_PATH)
        self.max_history_hours = max(0, max_history_hours)
        self.request_delay = request_delay

    def collect(self, since: datetime | None, until: datetime | None) -> Iterator[Batch]:
        """Yield the missed hours from the history endpoints, then the live hour.

        The live answer holds the current hour only. Hours that end after ``since`` and
        before it (a restart after downtime) are fetched from the platform's history,
        oldest first, at most ``max_history_hours`` per call, one batch per hour. When more
        remain, the live hour is held back (so the watermark stays before the gap and the
        next call continues); hours older than the platform's 24-hour window cannot be
        filled and are reported in the notes and the log.

        Raises
        ------
        ValueError
            If ``since`` or ``until`` is naive.
        SourceUnavailable
            Timeout, connection failure, HTTP 429/5xx after the client's retries.
        SourceFormatChanged
            The answer is not the known JSON (HTML page, truncated, empty, renamed fields,
            no record with a readable time label). One station's unreadable or
            out-of-range label (month 13, 9999) costs only its own hour, named in the
            notes; a label off the hour (09:05) is refused per station by the intake check.
        """
        lower = _aware(since, "since") if since is not None else None
        upper = _aware(until, "until") if until is not None else None
        params = {"cityName": self.city} if self.city else None
        body, where = fetch_station_records(self.client, self.url, params)
        refused: list[str] = []
        hours = parse_station_hours(
            body, stations=self.stations, source=self.source, where=where, refused=refused
        )
        for problem in refused:
            _log.warning("%s: %s", self.source, problem)
        wanted = self.stations or tuple(dict.fromkeys(hours["site"]))
        notes: list[str] = []
        ends = hours["period_end"]
        on_hour = ends[ends == ends.dt.floor("h")]  # an off-hour label is refused at intake
        if lower is not None and len(on_hour):
            latest = on_hour.max().to_pydatetime()
            present = set(hours["period_end"])
            missed = [h for h in _missed_hours(lower, upper, latest) if h not in present]
            window = latest - timedelta(hours=HISTORY_WINDOW_HOURS - 1)
            lost = [h for h in missed if h < window]
            fillable = [h for h in missed if h >= window]
            todo, rest = fillable[: self.max_history_hours], fillable[self.max_history_hours :]
            if not self.max_history_hours and rest:
                # 0 means no catch-up (settings reference): name the gap, never hold the hour back
                notes.append(
                    f"gap: {len(rest)} hour(s) {_span(rest)} not filled: catch-up from the "
                    "history is off (max_history_hours = 0); import them from an archive "
                    "(cnemc_sites_archive)"
                )
                rest = []
            if lost:
                notes.append(
                    f"gap: {len(lost)} hour(s) {_span(lost)} are older than the platform's "
                    f"{HISTORY_WINDOW_HOURS}-hour window and cannot be filled from it; "
                    "import them from an archive (cnemc_sites_archive)"
                )
            history = self._history(todo, wanted)
            pending: Batch | None = None
            while True:
                try:
                    batch = next(history)
                except StopIteration as stop:
                    done, failed = stop.value
                    break
                if pending is not None:
                    yield pending
                pending = batch
            if failed:
                # never hold live data back on a failing history endpoint: report the gap
                notes.append(
                    f"gap: {len(failed) + len(rest)} hour(s) {_span([*failed, *rest])} not "
                    f"filled: the history request failed ({len(done)} filled); they stay open "
                    "unless imported from an archive (cnemc_sites_archive)"
                )
                rest = []
            elif rest:
                notes.append(
                    f"gap: {len(rest)} hour(s) {_span(rest)} still to fill from the history "
                    f"(max_history_hours={self.max_history_hours} per run, {len(done)} filled "
                    "now); the live hour is held back so that the next run continues"
                )
            for note in notes:
                _log.warning("%s: %s", self.source, note)
            if rest:
                # the notes go with the last batch written, so the fetch log keeps them
                if pending is None:
                    pending = Batch(
                        source=self.source,
                        observations=empty_observations(),
                        requested=self.hour_history_url,
                        kind=self.kind,
                    )
                yield replace(pending, notes=(*pending.notes, *notes))
                return
            if pending is not None:
                yield pending
        yield self._batch(hours, lower, upper, where, wanted, [*refused, *notes])

    def _batch(
        self,
        hours: pd.DataFrame,
        lower: datetime | None,
        upper: datetime | None,
        where: str,
        wanted: Sequence[str],
        notes: Sequence[str] = (),
    ) -> Batch:
        end = hours["period_end"]
        keep = np.ones(len(hours), dtype=bool)
        if lower is not None:
            keep &= (end > lower).to_numpy()
        if upper is not None:
            keep &= (end <= upper).to_numpy()
        hours = hours[keep].reset_index(drop=True)
        checks, check_notes = safe_checks(hours)
        frame = station_observations(hours, checks)
        all_notes = [*summarise_checks(hours, checks), *check_notes, *notes]
        absent = [code for code in wanted if code not in set(hours["site"])]
        if absent and self.stations:
            all_notes.append(f"no record in the answer for station(s) {', '.join(absent)}")
        covers: tuple[datetime | None, datetime | None] = (None, None)
        if len(hours):
            covers = (
                hours["period_start"].min().to_pydatetime(),
                hours["period_end"].max().to_pydatetime(),
            )
        return Batch(
            source=self.source,
            observations=frame,
            requested=where,
            kind=self.kind,
            covers=covers,
            notes=tuple(all_notes),
        )

    def _history(
        self, todo: Sequence[datetime], wanted: Sequence[str]
    ) -> Generator[Batch, None, tuple[list[datetime], list[datetime]]]:
        """Fill ``todo`` hour ends: by station (24 h each) when that takes fewer requests,
        else hour by hour. Returns (hours filled, hours whose request failed)."""
        if not todo:
            return [], []
        if self.stations and len(self.stations) < len(todo):
            return (yield from self._history_by_station(todo))
        done: list[datetime] = []
        for index, end in enumerate(todo):
            self.client.sleep(self.request_delay)
            label = end.astimezone(BEIJING).strftime("%Y-%m-%d %H:00:00")
            where = f"{self.hour_history_url} date={label}"
            refused: list[str] = []
            try:
                response = self.client.post(self.hour_history_url, {"date": label})
                hours = parse_station_hours(
                    response.content,
                    stations=wanted,
                    source=self.source,
                    where=where,
                    refused=refused,
                )
            except SourceError as err:
                _log.warning("%s: history of %s failed: %s", self.source, label, err)
                return done, list(todo[index:])
            for problem in refused:
                _log.warning("%s: %s", self.source, problem)
            hours = hours[hours["period_end"] == pd.Timestamp(end)].reset_index(drop=True)
            batch = self._batch(hours, None, None, where, wanted, refused)
            yield replace(batch, covers=(end - timedelta(hours=1), end))
            done.append(end)
        return done, []

    def _history_by_station(
        self, todo: Sequence[datetime]
    ) -> Generator[Batch, None, tuple[list[datetime], list[datetime]]]:
        frames = []
        refused: list[str] = []
        for code in self.stations:
            self.client.sleep(self.request_delay)
            where = f"{self.station_history_url}?stationCode={code}"
            try:
                response = self.client.post(self.station_history_url, {}, {"stationCode": code})
                frames.append(
                    parse_station_hours(
                        response.content,
                        stations=(code,),
                        source=self.source,
                        where=where,
                        refused=refused,
                    )
                )
            except SourceError as err:
                _log.warning("%s: history of station %s failed: %s", self.source, code, err)
                return [], list(todo)
        hours = pd.concat(frames, ignore_index=True)
        ends = pd.DatetimeIndex([pd.Timestamp(t) for t in todo])
        hours = hours[hours["period_end"].isin(ends)].reset_index(drop=True)
        hours = hours.sort_values(["period_end", "site"], kind="stable").reset_index(drop=True)
        for problem in refused:
            _log.warning("%s: %s", self.source, problem)
        batch = self._batch(hours, None, None, self.station_history_url, self.stations, refused)
        yield replace(batch, covers=(todo[0] - timedelta(hours=1), todo[-1]))
        return list(todo), []


def _missed_hours(lower: datetime, upper: datetime | None, latest: datetime) -> list[datetime]:
    """Hour ends after ``lower`` and before ``latest`` (and not after ``upper``), oldest first."""
    first = pd.Timestamp(lower).floor("h") + pd.Timedelta(hours=1)
    last = pd.Timestamp(latest) - pd.Timedelta(hours=1)
    if upper is not None:
        last = min(last, pd.Timestamp(upper).floor("h"))
    if last < first:
        return []
    return [t.to_pydatetime() for t in pd.date_range(first, last, freq="h")]


def _span(hours: Sequence[datetime]) -> str:
    first, last = (h.astimezone(BEIJING).strftime("%Y-%m-%d %H:00") for h in (hours[0], hours[-1]))
    return f"{first} … {last} (Beijing)" if len(hours) > 1 else f"{first} (Beijing)"


def safe_checks(hours: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """:func:`check_station_hours`, which never discards the answer: if the recomputation
    itself fails, every station-hour is ``not_compared`` and the reason is noted."""
    try:
        return check_station_hours(hours), []
    except (ValueError, KeyError) as err:
        n = len(hours)
        checks = pd.DataFrame(
            {
                "verdict": np.full(n, Verdict.NOT_COMPARED.value, dtype=object),
                "aqi_computed": np.full(n, np.nan),
                "primary_computed": np.full(n, "", dtype=object),
                "aqi_swapped": np.full(n, np.nan),
                "standard": np.full(n, "", dtype=object),
                "primary_known": np.ones(n, dtype=bool),
            }
        )
        return checks, [f"aqi_check failed, values kept unchecked: {err}"]


def fetch_station_records(
    client: HttpClient, url: str, params: Mapping[str, str] | None = None
) -> tuple[bytes, str]:
    """GET the station records.

    Returns
    -------
    (bytes, str)
        The body as received, and the URL that was requested (with its query).
    """
    response = client.get(url, params)
    return response.content, response.url


# ---------------------------------------------------------------------------------------
# Parsing (pure)

_NET_DATE: Final = re.compile(r"^/Date\((-?\d+)(?:[+-]\d{4})?\)/$")
_CHINESE_HOUR: Final = re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日\s*(\d{1,2})时$")
_ISO_HOUR: Final = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?$")
_SHANGHAI: Final = "Asia/Shanghai"

_VALUE_COLUMNS: Final = tuple(parameter for parameter, _ in FIELD_MAP.values())


def parse_station_hours(
    payload: bytes | str | Sequence[Any],
    *,
    stations: Sequence[str] = (),
    source: str = CnemcAirCollector.name,
    where: str = "CNEMC answer",
    refused: list[str] | None = None,
) -> pd.DataFrame:
    """Station-hours (one row per record) from a CNEMC JSON answer (pure, no I/O).

    Parameters
    ----------
    payload : bytes, str or sequence
        The body as received (UTF-8 JSON), or the decoded JSON list of records.
    stations : sequence of str
        Station codes to keep; empty keeps all.
    source, where : str
        Source name and URL, for error messages.
    refused : list of str, optional
        Receives one message per record left out for its time label (unreadable, such as
        month 13, or a year the ledger cannot hold, such as 9999 or 1600): one station's bad
        label never costs the other stations their hour. A label that is readable but not on
        the hour (09:05) is passed through, so that the shared intake check
        (:mod:`monitor.collectors.intake`) refuses that station-hour by name.

    Returns
    -------
    DataFrame
        Columns ``site``, ``name``, ``period_start``, ``period_end`` (UTC), the six canonical
        concentrations (canonical units, NaN when missing or invalid), ``<parameter>_flag``
        (``source_missing`` / ``source_invalid`` / empty), ``o3_8h`` and ``so2_24h`` (NaN when
        absent), ``aqi_published`` (NaN when missing) and ``primary_published`` (text).

    Raises
    ------
    SourceFormatChanged
        If the answer is not a JSON list of objects, a record lacks a required field
        (:data:`FIELD_MAP`, ``StationCode``, ``AQI``, ``PrimaryPollutant``, a time label), or
        no kept record has a time label that can be read (a changed format, not one bad
        record).
    """
    data = _decode(source, payload, where) if isinstance(payload, bytes | str) else payload
    if not isinstance(data, list):
        shape = f"an object with keys {sorted(data)}" if isinstance(data, dict) else repr(data)
        raise SourceFormatChanged(
            source, f"{where}: got {shape[:200]}; expected a JSON list of station records"
        )
    wanted = set(stations)
    rows: list[dict[str, object]] = []
    bad_labels: list[str] = []
    for index, record in enumerate(data):
        if not isinstance(record, Mapping):
            raise SourceFormatChanged(
                source, f"{where}: record {index} is {record!r:.80}; expected a JSON object"
            )
        fields = {str(key).lower(): value for key, value in record.items()}
        code = str(fields.get("stationcode", "")).strip()
        missing = [name for name in _REQUIRED if name.lower() not in fields]
        if "timepoint" not in fields and "timepointstr" not in fields:
            missing.append("TimePoint")
        if missing:
            raise SourceFormatChanged(
                source,
                f"{where}: record {index} (StationCode {code or '?'}) has no field(s) "
                f"{missing}; it has {sorted(record)}; expected the documented fields "
                f"{list(_REQUIRED)} and TimePoint or TimePointStr",
            )
        if wanted and code not in wanted:
            continue
        label = _label(where, index, code, fields)
        if isinstance(label, str):
            bad_labels.append(label)
            continue
        row: dict[str, object] = {
            "site": code,
            "name": str(fields.get("positionname") or ""),
            "label": label,
        }
        for field, (parameter, unit) in FIELD_MAP.items():
            value, flag = _cell(fields[field.lower()])
            row[parameter] = float(to_canonical(parameter, [value], unit)[0])
            row[f"{parameter}_flag"] = flag
        for field, column in CHECK_FIELDS.items():
            if column == "primary_published":
                row[column] = _text(fields[field.lower()])
            else:
                row[column] = _cell(fields.get(field.lower()))[0]
        rows.append(row)
    if bad_labels and not rows:
        raise SourceFormatChanged(source, f"{bad_labels[0]} (and every other record's label)")
    if refused is not None:
        refused.extend(f"{problem} (not stored)" for problem in bad_labels)
    elif bad_labels:
        raise SourceFormatChanged(source, bad_labels[0])
    return _station_frame(rows)


def _station_frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    columns = [
        "site",
        "name",
        *_VALUE_COLUMNS,
        *(f"{p}_flag" for p in _VALUE_COLUMNS),
        "o3_8h",
        "so2_24h",
        "aqi_published",
        "primary_published",
    ]
    labels = pd.Series([row.pop("label") for row in rows], dtype="datetime64[ns]")
    frame = pd.DataFrame(rows, columns=columns)
    start, end = hour_ending(labels)
    frame.insert(2, "period_start", start.dt.tz_convert("UTC").to_numpy())
    frame.insert(3, "period_end", end.dt.tz_convert("UTC").to_numpy())
    for column in (*_VALUE_COLUMNS, "o3_8h", "so2_24h", "aqi_published"):
        frame[column] = frame[column].astype(float)
    for column in ("period_start", "period_end"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def _decode(source: str, payload: bytes | str, where: str) -> Any:
    if isinstance(payload, bytes):
        try:
            payload = payload.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            raise SourceFormatChanged(
                source, f"{where}: body is not UTF-8 ({err.reason} at byte {err.start})"
            ) from err
    return decode_json(source, payload, where)


def _cell(value: object) -> tuple[float, str]:
    """A concentration cell → (value, cell flag)."""
    if value is None:
        return np.nan, "source_missing"
    if isinstance(value, bool):
        return np.nan, "source_invalid"
    if isinstance(value, int | float):
        return (float(value), "") if np.isfinite(value) else (np.nan, "source_invalid")
    text = str(value).strip()
    if text in MISSING_MARKERS:
        return np.nan, "source_missing"
    try:
        number = float(text)
    except ValueError:
        return np.nan, "source_invalid"
    return (number, "") if np.isfinite(number) else (np.nan, "source_invalid")


def _text(value: object) -> str:
    text = "" if value is None else str(value).strip()
    return "" if text in MISSING_MARKERS else text


def _label(where: str, index: int, code: str, fields: Mapping[str, object]) -> pd.Timestamp | str:
    """Hour label as naive Beijing wall time, or what is wrong with it; TimePoint first,
    TimePointStr as fallback.

    A label off the hour (09:05) is returned as read: the intake check refuses it by name
    (:mod:`monitor.collectors.intake`), for this station only.
    """
    candidates = [
        (name, fields[name.lower()])
        for name in ("TimePoint", "TimePointStr")
        if fields.get(name.lower()) not in (None, "")
    ]
    for name, raw in candidates:
        label = _read_label(str(raw).strip())
        if label is None:
            continue
        stamp = f"{label.year:04d}-{label.month:02d}-{label.day:02d}T{label.hour:02d}:00"
        problem = out_of_range_time_text(stamp)
        if problem is not None:
            return f"{where}: record {index} (StationCode {code}) {name} {raw!r}: {problem}"
        return label
    shown = ", ".join(f"{name}={raw!r}" for name, raw in candidates) or "no time label"
    return (
        f"{where}: record {index} (StationCode {code}): cannot read {shown}; expected "
        "'/Date(ms)/', 'yyyy-mm-dd hh:00' or 'yyyy年mm月dd日 hh时' (Beijing time)"
    )


def _read_label(text: str) -> pd.Timestamp | None:
    net = _NET_DATE.match(text)
    if net:
        # .NET JSON dates count milliseconds from 1970-01-01 UTC; a suffix is display only.
        try:
            instant = pd.Timestamp(int(net.group(1)), unit="ms", tz="UTC")
        except (OverflowError, ValueError):
            return None
        return instant.tz_convert(_SHANGHAI).tz_localize(None)
    chinese = _CHINESE_HOUR.match(text)
    if chinese:
        year, month, day, hour = (int(g) for g in chinese.groups())
        try:
            return pd.Timestamp(year, month, day) + pd.Timedelta(hours=hour)
        except ValueError:
            return None
    if _ISO_HOUR.match(text):
        try:
            return pd.Timestamp(text.replace(" ", "T"))
        except ValueError:
            return None
    return None


# ---------------------------------------------------------------------------------------
# The AQI cross-check (pure)

# Published primary-pollutant words → canonical name; the first match wins, so PM2.5 is
# tested before PM10 (颗粒物 is a suffix of 细颗粒物).
_PRIMARY_WORDS: Final = (
    (("PM2.5", "PM2_5", "PM25", "细颗粒物"), "pm2_5"),
    (("PM10", "颗粒物"), "pm10"),
    (("O3", "臭氧"), "o3"),
    (("SO2", "二氧化硫"), "so2"),
    (("NO2", "二氧化氮"), "no2"),
    (("CO", "一氧化碳"), "co"),
)
_PRIMARY_SEPARATORS: Final = re.compile(r"[,，、;；/]+")


def _primary_set(text: str) -> frozenset[str] | None:
    """Published primary pollutant text → canonical names; None if a word is unknown."""
    names: set[str] = set()
    for token in _PRIMARY_SEPARATORS.split(text.upper().replace(" ", "")):
        if not token or token in MISSING_MARKERS:
            continue
        name = next((n for words, n in _PRIMARY_WORDS if any(w in token for w in words)), None)
        if name is None:
            return None
        names.add(name)
    return frozenset(names)


def check_station_hours(hours: pd.DataFrame) -> pd.DataFrame:
    """Recompute each station-hour's AQI and compare it with the published one (pure).

    Parameters
    ----------
    hours : DataFrame
        Station-hours from :func:`parse_station_hours`.

    Returns
    -------
    DataFrame
        Same rows and order: ``verdict`` (:class:`Verdict` value), ``aqi_computed`` and
        ``primary_computed`` (from the delivered values), ``aqi_swapped`` (from O3 and O3_8h
        exchanged), ``standard``, ``primary_known`` (the published primary text was
        understood; if not, only the AQI is compared).

    Notes
    -----
    Agreement: |recomputed − published AQI| ≤ :data:`AQI_TOLERANCE`; when the published
    AQI is above 50, every published primary pollutant's recomputed IAQI is within the
    same tolerance of it; at 50 or below, no primary pollutant is published (HJ 633).
    """
    n = len(hours)
    standard = standards_for_dates(hours["period_end"])
    # A negative concentration cannot be rated (HJ 633 has no IAQI below 0). It is kept as
    # delivered (envmon's quality checks flag it ``negative``); its station-hour is not
    # compared, and the other stations' hours are checked as usual.
    rated_columns = [*_VALUE_COLUMNS, "so2_24h", "o3_8h"]
    values = hours[rated_columns].astype(float)
    negative = (values < 0).any(axis=1).to_numpy()
    values = values.mask(values < 0)
    delivered = hourly_aqi(values[[*_VALUE_COLUMNS, "so2_24h"]], standard)
    swapped_input = values[[*_VALUE_COLUMNS, "so2_24h"]].assign(o3=values["o3_8h"])
    swapped = hourly_aqi(swapped_input, standard)
    published = hours["aqi_published"].to_numpy(dtype=float)
    primaries = [_primary_set(text) for text in hours["primary_published"]]
    known = np.array([p is not None for p in primaries], dtype=bool)
    agrees = _agrees(delivered, published, primaries)
    swap_possible = (
        hours["o3_8h"].notna() & hours["o3"].notna() & (hours["o3_8h"] != hours["o3"])
    ).to_numpy()
    agrees_swapped = _agrees(swapped, published, primaries) & swap_possible
    computed = delivered["aqi"].to_numpy(dtype=float)
    verdict = np.full(n, Verdict.AQI_MISMATCH.value, dtype=object)
    verdict[agrees_swapped] = Verdict.O3_SWAPPED.value
    verdict[agrees] = Verdict.CONSISTENT.value
    verdict[np.isnan(published) | np.isnan(computed) | negative] = Verdict.NOT_COMPARED.value
    return pd.DataFrame(
        {
            "verdict": verdict,
            "aqi_computed": computed,
            "primary_computed": pollutant_names(delivered["primary_mask"]),
            "aqi_swapped": swapped["aqi"].to_numpy(dtype=float),
            "standard": delivered["standard"].astype(str).to_numpy(),
            "primary_known": known,
        }
    )


def _agrees(
    rated: pd.DataFrame,
    published: npt.NDArray[np.float64],
    primaries: Sequence[frozenset[str] | None],
) -> npt.NDArray[np.bool_]:
    """Rows whose recomputed AQI and IAQIs support the published AQI and primary pollutant."""
    computed = rated["aqi"].to_numpy(dtype=float)
    ok = np.abs(computed - published) <= AQI_TOLERANCE  # NaN compares False
    for row in np.flatnonzero(ok).tolist():
        names = primaries[row]
        if names is None:  # unknown wording: the AQI alone is compared
            continue
        if published[row] <= 50:
            ok[row] = not names
            continue
        iaqi = [float(rated[f"iaqi_{name}"].iloc[row]) for name in names]
        ok[row] = bool(names) and all(abs(v - published[row]) <= AQI_TOLERANCE for v in iaqi)
    return ok


def station_observations(hours: pd.DataFrame, checks: pd.DataFrame) -> pd.DataFrame:
    """Observations (long format) from station-hours and their cross-check verdicts (pure).

    Each observation's ``flags`` joins its cell flag and, for ``aqi_mismatch`` and
    ``o3_swapped`` station-hours, the verdict.
    """
    if not len(hours):
        return empty_observations()
    verdict = checks["verdict"].to_numpy(dtype=object)
    hour_flag = np.where(
        np.isin(verdict, [Verdict.AQI_MISMATCH.value, Verdict.O3_SWAPPED.value]), verdict, ""
    )
    frames = []
    for parameter in _VALUE_COLUMNS:
        cell = hours[f"{parameter}_flag"].to_numpy(dtype=object)
        flags = [";".join(f for f in pair if f) for pair in zip(cell, hour_flag, strict=True)]
        frames.append(
            observations(
                hours["site"].to_numpy(dtype=object),
                parameter,
                hours["period_start"],
                hours["period_end"],
                hours[parameter].to_numpy(dtype=float),
                flags=np.asarray(flags, dtype=object),
            )
        )
    frame = pd.concat(frames, ignore_index=True)
    order = {name: i for i, name in enumerate(_VALUE_COLUMNS)}
    frame = frame.assign(_order=frame["parameter"].map(order))
    frame = frame.sort_values(["period_end", "site", "_order"], kind="stable")
    return frame.drop(columns="_order").reset_index(drop=True)


def summarise_checks(hours: pd.DataFrame, checks: pd.DataFrame) -> tuple[str, ...]:
    """Batch notes: verdict counts, then one line per disagreeing station-hour."""
    counts = checks["verdict"].value_counts()
    parts = [f"station_hours={len(checks)}"]
    parts += [f"{v.value}={int(counts.get(v.value, 0))}" for v in Verdict]
    unknown = int((~checks["primary_known"].astype(bool)).sum())
    if unknown:
        parts.append(f"primary_unrecognised={unknown}")
    negative = hours[list(_VALUE_COLUMNS)].lt(0)
    if negative.to_numpy().any():
        parts.append(f"negative_values={int(negative.to_numpy().sum())}")
    lines = ["aqi_check: " + " ".join(parts)]
    for row in np.flatnonzero(negative.any(axis=1).to_numpy()).tolist():
        label = hours["period_end"].iloc[row].tz_convert(_SHANGHAI).strftime("%Y-%m-%d %H:%M")
        names = [p for p in _VALUE_COLUMNS if negative[p].iloc[row]]
        shown = ", ".join(f"{p}={hours[p].iloc[row]:g}" for p in names)
        lines.append(
            f"negative {hours['site'].iloc[row]} {label} (Beijing): {shown} kept as delivered "
            "(flagged negative by the quality checks); AQI not compared"
        )
    bad = np.flatnonzero(
        checks["verdict"].isin([Verdict.AQI_MISMATCH.value, Verdict.O3_SWAPPED.value])
    )
    for row in bad.tolist():
        label = hours["period_end"].iloc[row].tz_convert(_SHANGHAI).strftime("%Y-%m-%d %H:%M")
        primary = hours["primary_published"].iloc[row] or "—"
        lines.append(
            f"{checks['verdict'].iloc[row]} {hours['site'].iloc[row]} {label} (Beijing): "
            f"published AQI {hours['aqi_published'].iloc[row]:g} ({primary}), recomputed "
            f"{checks['aqi_computed'].iloc[row]:g} ({checks['primary_computed'].iloc[row]}), "
            f"with O3/O3_8h exchanged {checks['aqi_swapped'].iloc[row]:g}, "
            f"{checks['standard'].iloc[row]}"
        )
    return tuple(lines)


def parse_observations(
    payload: bytes | str | Sequence[Any],
    *,
    stations: Sequence[str] = (),
    source: str = CnemcAirCollector.name,
    where: str = "CNEMC answer",
) -> pd.DataFrame:
    """Observations with cross-check flags from a CNEMC JSON answer (pure, no I/O).

    :func:`parse_station_hours`, :func:`check_station_hours` and
    :func:`station_observations` in one call.
    """
    hours = parse_station_hours(payload, stations=stations, source=source, where=where)
    return station_observations(hours, check_station_hours(hours))


def _aware(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name}={moment.isoformat()} is naive; expected a tz-aware time (UTC)")
    return moment.astimezone(UTC)
