"""What every collector produces: batches of canonical observations.

An observation is one value of one parameter at one site for one measured period:

==============  ===========================================================================
column          meaning
==============  ===========================================================================
``site``        site id (station code such as ``1099A``, section id, model point id); text
``parameter``   canonical parameter name (``monitor.domain.units.CANONICAL_UNITS``)
``unit``        its canonical unit (``µg/m³``, ``mg/m³`` for CO, ``mg/L`` …)
``period_start`` start of the measured period, tz-aware UTC
``period_end``  end of the measured period, tz-aware UTC. Chinese hourly values are labelled
                by the end of the hour: the value labelled 16:00 has period 15:00–16:00
``value``       float; NaN only when the source delivered the row but no number
``flags``       QC flags from the source, ``;``-joined codes (``source_invalid``,
                ``maintenance`` …), empty when none
==============  ===========================================================================

Collectors translate source vocabulary, units and time labels **once**, here at the
boundary, and raise :class:`~monitor.errors.SourceUnavailable` (try later) or
:class:`~monitor.errors.SourceFormatChanged` (the format is not the known one).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar, Final, Literal, Protocol

import numpy as np
import pandas as pd

from monitor.domain.units import CANONICAL_UNITS

#: Columns of an observations frame, in order.
OBSERVATION_COLUMNS: Final = (
    "site",
    "parameter",
    "unit",
    "period_start",
    "period_end",
    "value",
    "flags",
)

DataKind = Literal["measured", "model"]


@dataclass(frozen=True)
class Batch:
    """Observations from one fetch, and what was asked for (for the fetch log).

    ``kind`` is ``model`` for modelled data (Open-Meteo), which must never be mistaken for
    measurements. ``covers`` is the period the fetch asked for (UTC), so an empty answer is
    recorded as "nothing at the source" for exactly that period.
    """

    source: str
    observations: pd.DataFrame
    requested: str
    kind: DataKind = "measured"
    covers: tuple[datetime | None, datetime | None] = (None, None)
    notes: tuple[str, ...] = field(default=())


class Collector(Protocol):
    """A source of observations. ``collect`` yields batches for periods ending after
    ``since`` and up to ``until`` (UTC; None = the source's default window)."""

    name: ClassVar[str]
    kind: ClassVar[DataKind]

    def collect(self, since: datetime | None, until: datetime | None) -> Iterator[Batch]:
        """Fetch and translate; raise SourceError subclasses on failure."""
        ...


def observations(
    site: object,
    parameter: object,
    period_start: object,
    period_end: object,
    value: object,
    *,
    flags: object = "",
) -> pd.DataFrame:
    """Build a checked observations frame (columns :data:`OBSERVATION_COLUMNS`).

    Scalars broadcast. Times must be tz-aware (they are converted to UTC); parameters must
    be canonical; ``unit`` is filled in from the parameter.

    Raises
    ------
    ValueError
        If a parameter is not canonical, a time is naive or missing, or a period ends before
        it starts.

    Examples
    --------
    >>> end = pd.Timestamp("2026-03-01 16:00", tz="Asia/Shanghai")
    >>> obs = observations("1099A", "pm2_5", end - pd.Timedelta(hours=1), end, 35.0)
    >>> obs.loc[0, "site"], obs.loc[0, "parameter"], obs.loc[0, "unit"], float(obs.loc[0, "value"])
    ('1099A', 'pm2_5', 'µg/m³', 35.0)
    >>> str(obs.iloc[0]["period_end"])
    '2026-03-01 08:00:00+00:00'
    """
    frame = pd.DataFrame(
        {
            "site": site,
            "parameter": parameter,
            "period_start": period_start,
            "period_end": period_end,
            "value": value,
            "flags": flags,
        },
        index=None if _is_array(value) or _is_array(site) else [0],
    )
    frame["site"] = frame["site"].astype(str)
    frame["parameter"] = frame["parameter"].astype(str)
    unknown = sorted(set(frame["parameter"]) - set(CANONICAL_UNITS))
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown}; expected canonical names")
    for column in ("period_start", "period_end"):
        times = pd.to_datetime(frame[column])
        if times.dt.tz is None:
            raise ValueError(f"{column} must be tz-aware; got naive times")
        if times.isna().any():
            raise ValueError(f"{column} has missing times")
        frame[column] = times.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
    if (frame["period_end"] < frame["period_start"]).any():
        raise ValueError("a period ends before it starts")
    frame["unit"] = frame["parameter"].map(CANONICAL_UNITS)
    frame["value"] = pd.to_numeric(frame["value"], errors="raise").astype(float)
    frame["flags"] = frame["flags"].fillna("").astype(str)
    return frame[list(OBSERVATION_COLUMNS)].reset_index(drop=True)


def _is_array(value: object) -> bool:
    return not isinstance(value, str | bytes) and np.ndim(value) > 0  # type: ignore[arg-type]


def hour_ending(label: pd.Series | pd.DatetimeIndex) -> tuple[pd.Series, pd.Series]:
    """Period (start, end) of hourly values labelled by the end of the hour (CNEMC style).

    Naive labels are Asia/Shanghai wall time.
    """
    end = pd.Series(pd.to_datetime(label))
    if end.dt.tz is None:
        end = end.dt.tz_localize("Asia/Shanghai")
    return end - pd.Timedelta(hours=1), end


def hour_starting(label: pd.Series | pd.DatetimeIndex) -> tuple[pd.Series, pd.Series]:
    """Period (start, end) of hourly values labelled by the start of the hour (HJ 212 style)."""
    start = pd.Series(pd.to_datetime(label))
    if start.dt.tz is None:
        start = start.dt.tz_localize("Asia/Shanghai")
    return start, start + pd.Timedelta(hours=1)


def empty_observations() -> pd.DataFrame:
    """An observations frame with no rows and the right columns and types."""
    return pd.DataFrame(
        {
            "site": pd.Series(dtype=object),
            "parameter": pd.Series(dtype=object),
            "unit": pd.Series(dtype=object),
            "period_start": pd.Series(dtype="datetime64[ns, UTC]"),
            "period_end": pd.Series(dtype="datetime64[ns, UTC]"),
            "value": pd.Series(dtype=float),
            "flags": pd.Series(dtype=object),
        }
    )
