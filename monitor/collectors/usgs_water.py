"""USGS Water Data OGC API: continuous (instantaneous) water-quality values.

Source
------
USGS Water Data OGC API, base ``https://api.waterdata.usgs.gov/ogcapi/v0``; this collector
reads the ``continuous`` collection (``/collections/continuous/items``, OGC API Features,
GeoJSON). Described in ``shared/reference/data-sources.md`` §6b. US public domain;
provisional data may be revised and USGS disclaims liability. Anonymous use is rate
limited per hour (``x-ratelimit-*`` headers, HTTP 429, retried by the HTTP client); an
optional key from api.waterdata.usgs.gov/signup is sent as ``X-Api-Key`` and only ever
to the configured host. Used for testing and for users outside China.

Cadence
-------
Sensors report instantaneous values, usually every 15 min, transmitted hourly. Poll
hourly. ``collect(since, until)`` asks for ``time=since/until`` (RFC 3339 UTC);
``since=None`` means ``now − lookback``. Windows longer than ``max_window`` (the API allows
≤ 3 years per request) are split, one batch each.

Request
-------
``monitoring_location_id`` (``USGS-01646500``, comma-joined), ``parameter_code``
(comma-joined, the FIELD_MAP codes by default), ``statistic_id=00011`` (instantaneous),
``time``, ``limit`` (≤ 10 000) and ``skipGeometry=true``. Pages are followed through the
``links`` entry with ``rel="next"`` (same host only) until a page has no features or
``max_pages`` pages were read; a cut-off batch says so in its notes and claims no
coverage.

Response
--------
A FeatureCollection; each feature's ``properties`` has ``monitoring_location_id``,
``parameter_code``, ``statistic_id``, ``time`` (UTC instant), ``value`` (a **string**),
``unit_of_measure``, ``approval_status`` (``Provisional``/``Approved``), ``qualifier``
(null or a list of codes), ``time_series_id``, ``last_modified``.

=====  ==============================  ===================  =============================
code   USGS parameter                  parameter            unit (converted from)
=====  ==============================  ===================  =============================
00010  temperature, water              ``water_temperature``  °C (degC)
00095  specific conductance at 25 °C   ``conductivity``     µS/cm (uS/cm @25C)
00300  dissolved oxygen                ``do``               mg/L (mg/l)
00400  pH                              ``ph``               1 (std units)
63680  turbidity, FNU (ISO 7027)       ``turbidity``        NTU (FNU, taken as equal)
=====  ==============================  ===================  =============================

Other codes (discharge 00060, gage height 00065, nitrate 99133 …) have no canonical name:
they are ignored and counted in the batch notes. Units go through
:func:`~monitor.domain.units.to_canonical` after the USGS spellings in
``_UNIT_SPELLINGS`` are rewritten.

Flags
-----
``approval_status`` is not a flag (Provisional values are revised in place; the ledger
keeps revisions). Qualifiers: ice (``ICE``…) and equipment malfunction (``EQUIP``,
``EQP``, ``MALFUNCTION``) → ``source_invalid``; maintenance (``MAINT``, ``MNT``) →
``maintenance``; estimated (``ESTIMATED``, ``E``) → ``estimated``; others give no flag
and are counted in the notes.

Time
----
``time`` is the observation instant in UTC: ``period_start == period_end == time``.

Writes observations (``monitor.collectors.base``): ``site`` = ``monitoring_location_id``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Final
from urllib.parse import urljoin, urlsplit

import numpy as np
import pandas as pd

from monitor.collectors.base import Batch, DataKind, empty_observations, observations
from monitor.collectors.http import HttpClient
from monitor.collectors.intake import out_of_range_time_text
from monitor.domain.units import to_canonical
from monitor.errors import SourceFormatChanged

__all__ = [
    "DEFAULT_URL",
    "FIELD_MAP",
    "ItemsPage",
    "UsgsWaterCollector",
    "next_link",
    "parse_items",
    "qualifier_flags",
]

#: The documented base URL of the OGC API (data-sources.md §6b).
DEFAULT_URL: Final = "https://api.waterdata.usgs.gov/ogcapi/v0"
COLLECTION: Final = "continuous"
#: USGS parameter code → canonical parameter.
FIELD_MAP: Final[Mapping[str, str]] = {
    "00010": "water_temperature",
    "00095": "conductivity",
    "00300": "do",
    "00400": "ph",
    "63680": "turbidity",
}
# USGS unit spellings that monitor.domain.units does not know → a spelling it knows.
# Keys are lower case without spaces.
_UNIT_SPELLINGS: Final[Mapping[str, str]] = {
    "us/cm@25c": "µS/cm",
    "µs/cm@25c": "µS/cm",
    "μs/cm@25c": "µS/cm",
    "ms/cm@25c": "mS/cm",
    "mg/lasn": "mg/L",
    "mg/lasp": "mg/L",
    "stdunits": "1",
    "std.units": "1",
    "fnu": "NTU",
}
_REQUIRED: Final = (
    "monitoring_location_id",
    "parameter_code",
    "time",
    "value",
    "unit_of_measure",
)
_MAX_LIMIT: Final = 10_000


@dataclass(frozen=True)
class ItemsPage:
    """One page of items: observations, the next-page link and what was left out."""

    observations: pd.DataFrame
    next_href: str | None
    ignored: Mapping[str, int]
    unknown_qualifiers: Mapping[str, int]
    features: int
    #: One message per item left out for a time the ledger cannot hold (year 9999, 1600).
    refused: tuple[str, ...] = ()


class UsgsWaterCollector:
    """Instantaneous water-quality values from the USGS Water Data OGC API.

    Parameters
    ----------
    source : str
        Source name written with every batch.
    monitoring_location_ids : sequence of str
        Locations such as ``USGS-01646500``.
    url : str
        Base URL of the OGC API.
    parameter_codes : sequence of str
        Codes asked for; the FIELD_MAP codes by default.
    limit : int
        Items per page (the API allows ≤ 10 000 for ``continuous``).
    max_pages : int
        Stop following ``next`` links after this many pages per window.
    lookback : timedelta
        How far back to ask when ``since`` is None.
    max_window : timedelta
        Longest time window of one request; longer spans are split.
    api_key : str, optional
        Sent as ``X-Api-Key``; comes from the environment, never logged.
    client : HttpClient, optional
        HTTP client.
    now : callable
        Clock returning a tz-aware time (for ``lookback`` and ``until=None``).
    """

    name: ClassVar[str] = "usgs_water"
    kind: ClassVar[DataKind] = "measured"

    def __init__(
        self,
        *,
        source: str,
        monitoring_location_ids: Sequence[str],
        url: str = DEFAULT_URL,
        parameter_codes: Sequence[str] = tuple(FIELD_MAP),
        limit: int = _MAX_LIMIT,
        max_pages: int = 50,
        lookback: timedelta = timedelta(days=1),
        max_window: timedelta = timedelta(days=365),
        api_key: str | None = None,
        client: HttpClient | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        problems = []
        if not monitoring_location_ids:
            problems.append("monitoring_location_ids is empty; expected ids like USGS-01646500")
        if not 1 <= limit <= _MAX_LIMIT:
            problems.append(f"limit={limit}; expected 1 … {_MAX_LIMIT}")
        if max_pages < 1:
            problems.append(f"max_pages={max_pages}; expected ≥ 1")
        if lookback <= timedelta(0) or max_window <= timedelta(0):
            problems.append(f"lookback={lookback}, max_window={max_window}; expected > 0")
        if problems:
            raise ValueError("; ".join(problems))
        self.source = source
        self.monitoring_location_ids = tuple(monitoring_location_ids)
        self.url = url.rstrip("/")
        self.items_url = f"{self.url}/collections/{COLLECTION}/items"
        self.parameter_codes = tuple(parameter_codes)
        self.limit = limit
        self.max_pages = max_pages
        self.lookback = lookback
        self.max_window = max_window
        self._client = client if client is not None else HttpClient(source)
        self._now = now if now is not None else _utc_now
        self._origin = _origin(self.url)
        if api_key:
            self._client.session.headers["X-Api-Key"] = api_key

    def collect(self, since: datetime | None, until: datetime | None) -> Iterator[Batch]:
        """Yield one batch per time window of at most ``max_window``, oldest first."""
        end = _utc(until) if until is not None else _utc(self._now())
        start = _utc(since) if since is not None else end - self.lookback
        if start >= end:
            raise ValueError(f"since {start.isoformat()} is not before until {end.isoformat()}")
        while start < end:
            stop = min(end, start + self.max_window)
            yield self.fetch_window(start, stop)
            start = stop

    def fetch_window(self, start: datetime, end: datetime) -> Batch:
        """Fetch values with ``start < time ≤ end`` (UTC), following ``next`` links."""
        params = {
            "monitoring_location_id": ",".join(self.monitoring_location_ids),
            "parameter_code": ",".join(self.parameter_codes),
            "statistic_id": "00011",
            "time": f"{_rfc3339(start)}/{_rfc3339(end)}",
            "limit": self.limit,
            "skipGeometry": "true",
        }
        frames: list[pd.DataFrame] = []
        ignored: Counter[str] = Counter()
        qualifiers: Counter[str] = Counter()
        notes: list[str] = []
        refused: list[str] = []
        url: str = self.items_url
        query: Mapping[str, Any] | None = params
        complete = False
        for number in range(1, self.max_pages + 1):
            payload = self._client.get_json(url, query)
            page = parse_items(payload, source=self.source, where=f"{url} (page {number})")
            frames.append(page.observations)
            ignored.update(page.ignored)
            qualifiers.update(page.unknown_qualifiers)
            refused.extend(page.refused)
            if page.features == 0 or page.next_href is None:
                complete = True
                break
            url, query = self._follow(page.next_href, url), None
        if not complete:
            notes.append(
                f"stopped after {self.max_pages} pages (max_pages); more values remain for "
                f"{_rfc3339(start)}/{_rfc3339(end)}"
            )
        if ignored:
            notes.append(
                f"ignored {sum(ignored.values())} value(s) of parameter codes without a "
                f"canonical name: {dict(sorted(ignored.items()))}"
            )
        if qualifiers:
            notes.append(f"qualifier(s) without a flag: {dict(sorted(qualifiers.items()))}")
        notes.extend(refused)
        frame = _combine(frames)
        in_window = (frame["period_end"] > start) & (frame["period_end"] <= end)
        frame = frame[in_window].reset_index(drop=True)
        # Two time series with a value for the same location, parameter and time are left
        # to the intake check's one rule (monitor.collectors.intake): identical values are
        # stored once, different ones are all refused by name — never a guess.
        return Batch(
            source=self.source,
            observations=frame,
            requested=f"{self.items_url}?" + "&".join(f"{k}={v}" for k, v in params.items()),
            kind=self.kind,
            covers=(start, end) if complete else (None, None),
            notes=tuple(notes),
        )

    def _follow(self, href: str, current: str) -> str:
        target = urljoin(current, href)
        parts = urlsplit(target)
        if _origin(target) != self._origin or parts.username or parts.password:
            raise SourceFormatChanged(
                self.source,
                f"next link {href!r} leaves {self._origin}; expected a page of the same API",
            )
        return target


def parse_items(payload: Any, *, source: str = "usgs_water", where: str = "") -> ItemsPage:
    """Translate one decoded items page into observations (pure).

    An item whose time the ledger cannot hold (year 9999 or 1600, month 13) is left out and
    named in ``refused``; the other items are kept.

    Raises
    ------
    SourceFormatChanged
        If the page is not a FeatureCollection, a feature lacks a documented property,
        a time has no UTC offset, no kept item has a readable time, or a unit cannot be
        converted.
    """
    at = f" in {where}" if where else ""
    if not isinstance(payload, dict) or not isinstance(payload.get("features"), list):
        got = sorted(payload) if isinstance(payload, dict) else type(payload).__name__
        raise SourceFormatChanged(
            source,
            f"items page{at} is not a FeatureCollection with a 'features' list; got {got}",
        )
    sites: list[str] = []
    parameters: list[str] = []
    times: list[pd.Timestamp] = []
    values: list[float] = []
    flags: list[str] = []
    ignored: Counter[str] = Counter()
    unknown: Counter[str] = Counter()
    refused: list[str] = []
    unreadable: list[str] = []
    for number, feature in enumerate(payload["features"], start=1):
        props = feature.get("properties") if isinstance(feature, dict) else None
        if not isinstance(props, dict):
            raise SourceFormatChanged(
                source, f"feature {number}{at} has no 'properties' object: {str(feature)[:80]}"
            )
        lost = [key for key in _REQUIRED if key not in props]
        if lost:
            raise SourceFormatChanged(
                source,
                f"feature {number}{at} lacks {lost}; got properties {sorted(props)}; "
                f"expected {list(_REQUIRED)}",
            )
        code = str(props["parameter_code"])
        parameter = FIELD_MAP.get(code)
        if parameter is None:
            ignored[code] += 1
            continue
        problem = out_of_range_time_text(str(props["time"]))
        if problem is not None:
            refused.append(f"feature {number}{at}: {problem} (not stored)")
            continue
        when = _instant(props["time"], source, f"feature {number}{at}")
        if isinstance(when, str):
            unreadable.append(when)
            continue
        value, bad = _number(props["value"])
        row_flags, unknown_codes = qualifier_flags(props.get("qualifier"))
        unknown.update(unknown_codes)
        if bad and "source_invalid" not in row_flags:
            row_flags.append("source_invalid")
        unit = props["unit_of_measure"] or ""
        sites.append(str(props["monitoring_location_id"]))
        parameters.append(parameter)
        times.append(when)
        values.append(value * _factor(parameter, str(unit), source, at))
        flags.append(";".join(row_flags))
    if unreadable and not sites:  # every time unreadable: the format changed
        raise SourceFormatChanged(source, unreadable[0])
    refused.extend(f"{problem} (not stored)" for problem in unreadable)
    frame = (
        observations(sites, parameters, times, times, np.asarray(values), flags=flags)
        if sites
        else empty_observations()
    )
    return ItemsPage(
        observations=frame,
        next_href=next_link(payload),
        ignored=dict(ignored),
        unknown_qualifiers=dict(unknown),
        features=len(payload["features"]),
        refused=tuple(refused),
    )


def next_link(payload: Mapping[str, Any]) -> str | None:
    """The ``href`` of the ``rel="next"`` link, or None."""
    links = payload.get("links") or []
    if not isinstance(links, list):
        return None
    for link in links:
        if isinstance(link, dict) and link.get("rel") == "next" and link.get("href"):
            return str(link["href"])
    return None


def qualifier_flags(qualifier: object) -> tuple[list[str], list[str]]:
    """QC flags for a ``qualifier`` (null, a code or a list of codes), and unknown codes.

    Examples
    --------
    >>> qualifier_flags(["ICE"])
    (['source_invalid'], [])
    >>> qualifier_flags(None)
    ([], [])
    >>> qualifier_flags(["EQUIP", "REGULATED"])
    (['source_invalid'], ['REGULATED'])
    """
    if qualifier is None or qualifier == "":
        return [], []
    codes = list(qualifier) if isinstance(qualifier, list | tuple) else [qualifier]
    flags: list[str] = []
    unknown: list[str] = []
    for raw in codes:
        code = str(raw).strip().upper()
        flag = _qualifier_flag(code)
        if flag is None:
            unknown.append(str(raw))
        elif flag not in flags:
            flags.append(flag)
    return flags, unknown


def _qualifier_flag(code: str) -> str | None:
    if code.startswith("ICE") or "EQUIP" in code or code.startswith("EQP"):
        return "source_invalid"
    if "MALFUNCTION" in code:
        return "source_invalid"
    if code.startswith(("MAINT", "MNT")):
        return "maintenance"
    if code in ("E", "ESTIMATED") or code.startswith("ESTIMATE"):
        return "estimated"
    return None


def _factor(parameter: str, unit: str, source: str, at: str) -> float:
    spelled = _UNIT_SPELLINGS.get(unit.lower().replace(" ", ""), unit)
    try:
        return float(to_canonical(parameter, [1.0], spelled)[0])
    except ValueError as err:
        raise SourceFormatChanged(
            source, f"unit_of_measure {unit!r} of {parameter}{at} cannot be converted: {err}"
        ) from err


def _instant(value: object, source: str, where: str) -> pd.Timestamp | str:
    """The UTC instant of an item's time, or what is wrong with an unreadable one (an
    impossible date such as month 13 costs its item only)."""
    try:
        stamp = pd.Timestamp(str(value))
    except ValueError:
        return f"time {value!r} of {where} is not an RFC 3339 instant"
    if pd.isna(stamp) or stamp.tzinfo is None:
        raise SourceFormatChanged(
            source, f"time {value!r} of {where} has no UTC offset; expected RFC 3339"
        )
    return stamp.tz_convert("UTC")


def _number(value: object) -> tuple[float, bool]:
    """Float of a value string; (NaN, True) when it is not a number, (NaN, False) if null."""
    if value is None or value == "":
        return float("nan"), False
    try:
        return float(str(value)), False
    except ValueError:
        return float("nan"), True


def _combine(frames: list[pd.DataFrame]) -> pd.DataFrame:
    filled = [f for f in frames if not f.empty]
    if not filled:
        return empty_observations()
    return pd.concat(filled, ignore_index=True) if len(filled) > 1 else filled[0]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return f"{parts.scheme}://{parts.hostname}:{port}".lower()


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"time {moment!r} is naive; expected a tz-aware time")
    return moment.astimezone(UTC)


def _utc_now() -> datetime:
    return datetime.now(UTC)
