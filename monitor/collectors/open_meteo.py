"""Open-Meteo Air Quality API: modelled hourly concentrations (CAMS) at configured points.

Source
------
``GET https://air-quality-api.open-meteo.com/v1/air-quality`` (data-sources.md §1). No key
on the free tier. The data are **model output** (Copernicus CAMS), not measurements: for
Hunnan only the CAMS global forecast applies (0.4° ≈ 45 km grid, 3-hourly steps that
Open-Meteo interpolates to 1 h, a new run every 12 h), so one grid cell covers the whole
district. Every batch is marked ``Batch.kind == "model"``.

Terms: free tier for non-commercial use only, < 10 000 calls/day, 5 000/hour, 600/minute;
data licence CC BY 4.0, attribution to Open-Meteo and to Copernicus CAMS. A product run for
a district office is probably *commercial use* (paid plan, host
``customer-air-quality-api.open-meteo.com`` plus ``apikey=``): settle it before production.

Cadence: a new model run every 12 h, so polling every 1–3 h is plenty. Each request asks for
at most :data:`MAX_REQUEST_SPAN` (14 days) of six variables, so it weighs one call.

Request
-------
One request per point and per window of at most 14 days::

    latitude, longitude       the point (ModelPoint)
    hourly                    pm10,pm2_5,carbon_monoxide,nitrogen_dioxide,sulphur_dioxide,ozone
    timezone=GMT              stamps in UTC, days start 00:00 UTC
    timeformat=unixtime       stamps as integer seconds since 1970-01-01 UTC (always GMT+0)
    start_hour, end_hour      yyyy-mm-ddThh:mm (UTC), both inclusive

``start_hour``/``end_hour`` also reach further back than ``past_days`` (92 days). The
parser also reads ISO 8601 answers (local wall time shifted by ``utc_offset_seconds``), as
the documentation shows them.

Field map
---------
:data:`FIELD_MAP`, with units read from ``hourly_units`` (documented as µg/m³ for all six,
**CO included**) and converted once with :func:`~monitor.domain.units.to_canonical`:

===================  ==========  ===========  ===========
Open-Meteo variable  parameter   source unit  stored unit
===================  ==========  ===========  ===========
``sulphur_dioxide``  ``so2``     µg/m³        µg/m³
``nitrogen_dioxide`` ``no2``     µg/m³        µg/m³
``carbon_monoxide``  ``co``      µg/m³        **mg/m³** (÷ 1000: 450 µg/m³ → 0.45 mg/m³)
``ozone``            ``o3``      µg/m³        µg/m³
``pm10``             ``pm10``    µg/m³        µg/m³
``pm2_5``            ``pm2_5``   µg/m³        µg/m³
===================  ==========  ===========  ===========

Time convention
---------------
Open-Meteo values are instantaneous model values *at* the stamp. They are stored with
``period_end`` = stamp and ``period_start`` = stamp − 1 h, i.e. aligned with the Chinese
hour-ending labels (DESIGN.md, Time): the model value at 16:00 sits beside the measured
15:00–16:00 mean labelled 16:00, and it falls on the same Asia/Shanghai date for daily
statistics. ``collect(since, until)`` returns the stamps with ``since < stamp ≤ until``;
``until`` defaults to the current hour (forecast hours beyond it are not collected) and
``since`` to 24 h before ``until``.

Written
-------
Observations (``monitor.collectors.base``): ``site`` = the point's id, ``parameter`` and
``unit`` canonical, ``flags`` empty. JSON ``null`` (no model value) gives **no row**, not NaN.
A variable whose array is absent from the answer gives no rows either: the other variables are
stored and the batch notes name the absent ones (only an answer with none of the six is a
format change). ``Batch.notes`` name the model grid cell Open-Meteo used (its centre may be
km away from the point) and how many values were skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from numbers import Real
from typing import Any, ClassVar, Final

import numpy as np
import pandas as pd

from monitor.collectors.base import Batch, DataKind, empty_observations, observations
from monitor.collectors.http import HttpClient, decode_json
from monitor.collectors.intake import EARLIEST_TIME, out_of_range_time_text
from monitor.domain.units import to_canonical
from monitor.errors import SourceFormatChanged

__all__ = [
    "DEFAULT_LOOKBACK",
    "DEFAULT_URL",
    "DOCUMENTED_UNIT",
    "FIELD_MAP",
    "MAX_REQUEST_SPAN",
    "ModelPoint",
    "OpenMeteoCollector",
    "fetch_air_quality",
    "parse_air_quality",
    "request_params",
]

DEFAULT_URL: Final = "https://air-quality-api.open-meteo.com/v1/air-quality"

#: Open-Meteo hourly variable → canonical parameter (units: see ``hourly_units``).
FIELD_MAP: Final[Mapping[str, str]] = {
    "sulphur_dioxide": "so2",
    "nitrogen_dioxide": "no2",
    "carbon_monoxide": "co",
    "ozone": "o3",
    "pm10": "pm10",
    "pm2_5": "pm2_5",
}

#: Unit of every variable in FIELD_MAP per the documentation, used when an answer carries
#: no ``hourly_units`` entry for it.
DOCUMENTED_UNIT: Final = "µg/m³"

#: Window collected when ``since`` is None.
DEFAULT_LOOKBACK: Final = timedelta(hours=24)

#: Longest window per request: beyond 2 weeks (or 10 variables) a request weighs more than
#: one call against the rate limit (data-sources.md §1, Limits).
MAX_REQUEST_SPAN: Final = timedelta(days=14)

_HOUR: Final = timedelta(hours=1)
_STAMP_FORMAT: Final = "%Y-%m-%dT%H:%M"
# Unixtime stamps a timestamp can hold for the ledger (years 1900 … 2200, as the intake).
_UNIX_RANGE: Final = (int(EARLIEST_TIME.timestamp()), int(pd.Timestamp("2201-01-01").timestamp()))


@dataclass(frozen=True)
class ModelPoint:
    """A point the model is sampled at.

    Parameters
    ----------
    site : str
        Site id stored with the observations, e.g. ``hunnan``.
    latitude, longitude : float
        WGS 84 coordinates [degrees north, degrees east].

    Raises
    ------
    ValueError
        If the id is empty or a coordinate is out of range.
    """

    site: str
    latitude: float
    longitude: float

    def __post_init__(self) -> None:
        if not self.site.strip():
            raise ValueError(f"model point id {self.site!r} is empty; expected e.g. 'hunnan'")
        if not -90.0 <= self.latitude <= 90.0:
            raise ValueError(
                f"latitude {self.latitude} of point {self.site!r} is out of range; "
                "expected −90 … 90 degrees north"
            )
        if not -180.0 <= self.longitude <= 180.0:
            raise ValueError(
                f"longitude {self.longitude} of point {self.site!r} is out of range; "
                "expected −180 … 180 degrees east"
            )


def _utc_now() -> datetime:
    return datetime.now(UTC)


class OpenMeteoCollector:
    """Hourly modelled concentrations from the Open-Meteo Air Quality API.

    Parameters
    ----------
    source : str
        Configured source name, stored as ``Batch.source`` and used in error messages.
    points : sequence of ModelPoint
        Where to sample the model; one request per point (and per 14-day window).
    url : str
        API endpoint (the commercial host for a paid plan).
    client : HttpClient, optional
        HTTP client; default ``HttpClient(source)``.
    clock : callable, optional
        Current time (tz-aware), for the default window; default the system clock in UTC.

    Raises
    ------
    ValueError
        If no point is given or two points share an id.
    """

    name: ClassVar[str] = "open_meteo"
    kind: ClassVar[DataKind] = "model"

    def __init__(
        self,
        *,
        source: str,
        points: Sequence[ModelPoint],
        url: str = DEFAULT_URL,
        client: HttpClient | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        if not points:
            raise ValueError(f"source {source!r}: no model point; expected at least one")
        ids = [p.site for p in points]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"source {source!r}: model point id(s) {duplicates} used twice")
        self.source = source
        self.points = tuple(points)
        self.url = url
        self.client = client if client is not None else HttpClient(source)
        self.clock = clock

    def collect(self, since: datetime | None, until: datetime | None) -> Iterator[Batch]:
        """Yield one batch per point and window, for stamps in (since, until] (UTC).

        Raises
        ------
        ValueError
            If ``since`` or ``until`` is naive.
        SourceUnavailable
            Timeout, connection failure, HTTP 429/5xx after the client's retries.
        SourceFormatChanged
            The answer is not the documented JSON (HTML page, truncated, empty, none of the
            variables, unknown unit).
        """
        now = until if until is not None else self.clock()
        last = _floor_hour(_aware(now, "until" if until is not None else "clock()"))
        start = _aware(since, "since") if since is not None else last - DEFAULT_LOOKBACK
        first = _floor_hour(start) + _HOUR  # the first stamp strictly after `since`
        for point in self.points:
            window_first = first
            while window_first <= last:
                window_last = min(last, window_first + MAX_REQUEST_SPAN - _HOUR)
                yield self._batch(point, window_first, window_last)
                window_first = window_last + _HOUR

    def _batch(self, point: ModelPoint, first: datetime, last: datetime) -> Batch:
        body, where = fetch_air_quality(self.client, self.url, point, first, last)
        payload = _decode(self.source, body, where)
        absent: list[str] = []
        frame = parse_air_quality(
            payload, site=point.site, source=self.source, where=where, notes=absent
        )
        end = frame["period_end"]
        frame = frame[(end >= first) & (end <= last)].reset_index(drop=True)
        hours = int((last - first) / _HOUR) + 1
        skipped = hours * len(FIELD_MAP) - len(frame)
        return Batch(
            source=self.source,
            observations=frame,
            requested=where,
            kind=self.kind,
            covers=(first - _HOUR, last),
            notes=(
                f"model grid cell {payload.get('latitude')}, {payload.get('longitude')} "
                f"(elevation {payload.get('elevation')} m) for point {point.site} at "
                f"{point.latitude}, {point.longitude}",
                f"{skipped} of {hours * len(FIELD_MAP)} hourly values absent (JSON null "
                "or no array)",
                *absent,
            ),
        )


def request_params(point: ModelPoint, first: datetime, last: datetime) -> dict[str, str]:
    """Query parameters for the stamps ``first`` … ``last`` (inclusive, UTC) at a point.

    Examples
    --------
    >>> first, last = (datetime(2025, 1, 1, h, tzinfo=UTC) for h in (1, 3))
    >>> p = request_params(ModelPoint("hunnan", 41.75, 123.45), first, last)
    >>> p["start_hour"], p["end_hour"], p["timezone"], p["timeformat"]
    ('2025-01-01T01:00', '2025-01-01T03:00', 'GMT', 'unixtime')
    """
    return {
        "latitude": f"{point.latitude:g}",
        "longitude": f"{point.longitude:g}",
        "hourly": ",".join(_REQUEST_ORDER),
        "timezone": "GMT",
        "timeformat": "unixtime",
        "start_hour": first.astimezone(UTC).strftime(_STAMP_FORMAT),
        "end_hour": last.astimezone(UTC).strftime(_STAMP_FORMAT),
    }


# The order the brief and the documentation list them in; the answer is read by name.
_REQUEST_ORDER: Final = (
    "pm10",
    "pm2_5",
    "carbon_monoxide",
    "nitrogen_dioxide",
    "sulphur_dioxide",
    "ozone",
)


def fetch_air_quality(
    client: HttpClient, url: str, point: ModelPoint, first: datetime, last: datetime
) -> tuple[bytes, str]:
    """GET the hourly variables for stamps ``first`` … ``last`` at a point.

    Returns
    -------
    (bytes, str)
        The body as received, and the URL that was requested (with its query).
    """
    response = client.get(url, request_params(point, first, last))
    return response.content, response.url


def parse_air_quality(
    payload: bytes | str | Mapping[str, Any],
    *,
    site: str,
    source: str = OpenMeteoCollector.name,
    where: str = "Open-Meteo answer",
    notes: list[str] | None = None,
) -> pd.DataFrame:
    """Observations from one Open-Meteo Air Quality JSON answer (pure, no I/O).

    Parameters
    ----------
    payload : bytes, str or mapping
        The body as received (UTF-8 JSON), or the decoded JSON object.
    site : str
        Site id to store with the observations.
    source, where : str
        Source name and URL, for error messages.
    notes : list of str, optional
        Receives a line naming the variables the answer lacks (the others are stored), and
        one per time stamp whose year a timestamp cannot hold (9999, 1600): that hour's
        values are left out, the other hours kept.

    Returns
    -------
    DataFrame
        Observations (:data:`~monitor.collectors.base.OBSERVATION_COLUMNS`), canonical names
        and units, periods (stamp − 1 h, stamp] in UTC, sorted by time then parameter. A
        JSON ``null`` gives no row, and so does an absent variable array.

    Raises
    ------
    SourceFormatChanged
        If the answer is not the documented shape: not a JSON object, an ``error`` answer,
        no ``hourly`` block or ``time`` axis, none of the variables of :data:`FIELD_MAP`,
        arrays of unequal length, a non-numeric value, an unknown unit or time; also a
        time stamp out of range when ``notes`` is not given.
    """
    data = _decode(source, payload, where) if isinstance(payload, bytes | str) else payload
    if not isinstance(data, Mapping):
        kind = f"a list of {len(data)} items" if isinstance(data, list) else type(data).__name__
        raise SourceFormatChanged(
            source, f"{where}: got {kind}; expected one JSON object with an 'hourly' block"
        )
    if data.get("error") is True:
        raise SourceFormatChanged(source, f"{where}: error answer: {data.get('reason')!r}")
    hourly = data.get("hourly")
    if not isinstance(hourly, Mapping) or not isinstance(hourly.get("time"), list):
        raise SourceFormatChanged(
            source,
            f"{where}: no 'hourly' object with a 'time' list (top-level keys: "
            f"{sorted(data)}); expected the documented shape "
            "{'hourly': {'time': [...], 'pm2_5': [...], ...}}",
        )
    missing = [name for name in FIELD_MAP if name not in hourly]
    if len(missing) == len(FIELD_MAP):
        raise SourceFormatChanged(
            source,
            f"{where}: hourly has no {missing} (it has {sorted(hourly)}); expected the "
            f"variables {list(FIELD_MAP)}",
        )
    if missing and notes is not None:
        unknown = sorted(k for k in hourly if k != "time" and k not in FIELD_MAP)
        notes.append(
            f"hourly has no {missing}: stored the {len(FIELD_MAP) - len(missing)} other "
            f"variable(s)"
            + (f"; unrequested variable(s) in the answer: {unknown}" if unknown else "")
        )
    refused: list[str] = []
    end = _stamps(source, where, hourly["time"], data.get("utc_offset_seconds"), refused)
    if refused and notes is None:
        raise SourceFormatChanged(source, f"{where}: {refused[0]}")
    if notes is not None:
        notes.extend(refused)
    start = end - pd.Timedelta(hours=1)
    units = data.get("hourly_units")
    units = units if isinstance(units, Mapping) else {}
    frames = []
    for variable, parameter in FIELD_MAP.items():
        if variable in missing:
            continue
        raw = _numbers(source, where, variable, hourly[variable], len(end))
        unit = units.get(variable, DOCUMENTED_UNIT)
        try:
            values = to_canonical(parameter, raw, str(unit))
        except ValueError as err:
            raise SourceFormatChanged(
                source, f"{where}: unit {unit!r} of {variable!r}: {err}"
            ) from err
        keep = ~np.isnan(values) & ~np.asarray(end.isna())
        if keep.any():
            frames.append(observations(site, parameter, start[keep], end[keep], values[keep]))
    if not frames:
        return empty_observations()
    frame = pd.concat(frames, ignore_index=True)
    order = {name: i for i, name in enumerate(FIELD_MAP.values())}
    frame = frame.assign(_order=frame["parameter"].map(order))
    frame = frame.sort_values(["period_end", "_order"], kind="stable")
    return frame.drop(columns="_order").reset_index(drop=True)


def _decode(source: str, payload: bytes | str, where: str) -> Any:
    if isinstance(payload, bytes):
        try:
            payload = payload.decode("utf-8")
        except UnicodeDecodeError as err:
            raise SourceFormatChanged(
                source, f"{where}: body is not UTF-8 ({err.reason} at byte {err.start})"
            ) from err
    return decode_json(source, payload, where)


def _stamps(
    source: str, where: str, times: list[Any], offset: object, refused: list[str]
) -> pd.DatetimeIndex:
    """Stamps as UTC: unixtime integers, or ISO wall time minus ``utc_offset_seconds``.

    A stamp whose year a timestamp cannot hold becomes NaT, with a message in ``refused``.
    """
    if all(isinstance(t, int) and not isinstance(t, bool) for t in times):
        low, high = _UNIX_RANGE
        seconds = np.array(times, dtype=object)
        held = np.array([low <= t < high for t in times], dtype=bool)
        refused.extend(
            f"hourly time[{i}] {times[i]} (unixtime) is outside the years "
            f"{EARLIEST_TIME.year}–2200; that hour's values are not stored"
            for i in np.flatnonzero(~held)
        )
        seconds[~held] = 0
        stamps = pd.DatetimeIndex(pd.to_datetime(seconds.astype("int64"), unit="s", utc=True))
        return pd.DatetimeIndex(stamps.where(held))
    if all(isinstance(t, str) for t in times):
        if not isinstance(offset, int) or isinstance(offset, bool):
            raise SourceFormatChanged(
                source,
                f"{where}: ISO 8601 times without an integer 'utc_offset_seconds' "
                f"(got {offset!r}); expected the offset of the answer's time zone",
            )
        texts: list[str | None] = []
        for i, t in enumerate(times):
            problem = out_of_range_time_text(t)
            texts.append(None if problem else t)
            if problem:
                refused.append(f"hourly time[{i}]: {problem}; that hour's values are not stored")
        local = pd.DatetimeIndex(
            pd.to_datetime(pd.Series(texts, dtype=object), format=_STAMP_FORMAT, errors="coerce")
        )
        unread = [i for i, t in enumerate(texts) if t is not None and pd.isna(local[i])]
        if unread and len(unread) + len(refused) == len(times):
            first = times[unread[0]]
            raise SourceFormatChanged(
                source,
                f"{where}: hourly time {first!r} cannot be read; expected 'yyyy-mm-ddThh:mm'",
            )
        refused.extend(
            f"hourly time[{i}] {times[i]!r} is not a date and time (month 13, 30 February, "
            "another format?); expected 'yyyy-mm-ddThh:mm'; that hour's values are not stored"
            for i in unread
        )
        utc = local - pd.Timedelta(seconds=offset)
        return pd.DatetimeIndex(utc).tz_localize("UTC")
    odd = next(t for t in times if not isinstance(t, int | str) or isinstance(t, bool))
    raise SourceFormatChanged(
        source,
        f"{where}: hourly time {odd!r} is neither unixtime seconds nor 'yyyy-mm-ddThh:mm' "
        "(or the two are mixed)",
    )


def _numbers(
    source: str, where: str, variable: str, values: object, length: int
) -> np.ndarray[Any, np.dtype[np.float64]]:
    """A JSON array of numbers or nulls → floats (NaN for null)."""
    if not isinstance(values, list) or len(values) != length:
        size = len(values) if isinstance(values, list) else type(values).__name__
        raise SourceFormatChanged(
            source,
            f"{where}: hourly {variable!r} has {size} values; expected a list of {length}, "
            "one per time",
        )
    out = np.empty(length, dtype=float)
    for i, value in enumerate(values):
        if value is None:
            out[i] = np.nan
        elif isinstance(value, Real) and not isinstance(value, bool):
            out[i] = float(value)
        else:
            raise SourceFormatChanged(
                source,
                f"{where}: hourly {variable!r}[{i}] is {value!r}; expected a number or null",
            )
    return out


def _aware(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name}={moment.isoformat()} is naive; expected a tz-aware time (UTC)")
    return moment.astimezone(UTC)


def _floor_hour(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    return moment.replace(minute=0, second=0, microsecond=0)
