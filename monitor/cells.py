"""The text of input cells, as every reader of envmon's inputs takes it: what means "no
value", how one row's problems are joined, and ISO 8601 times in Asia/Shanghai.

Neutral ground: ``monitor.collectors`` (the ``envmon import`` adapters: long CSV, xlsx) and
``monitor.calculator`` (``envmon calc``) read the same cells the same way, and neither
imports the other (an adapter reaching into the CLI's calculator package tied two
boundaries together). The CSV records themselves are :mod:`monitor.csvfile`'s.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Sequence
from datetime import UTC
from typing import TYPE_CHECKING, Final

import numpy as np

if TYPE_CHECKING:
    import pandas as pd
else:  # imported on first use: ``envmon calc`` reads the common cells without pandas
    from monitor.domain._deferred import pandas as pd

__all__ = [
    "LOCAL_TZ",
    "MISSING_MARKERS",
    "PROBLEM_SEPARATOR",
    "local_time_problems",
    "parse_local_times",
]

#: The time zone of Chinese monitoring data; times without an offset are read in it.
LOCAL_TZ = "Asia/Shanghai"

#: Cell texts that mean "no value" in bureau exports (HJ 633: ``NA`` missing, ``/`` not
#: monitored) — read as missing, not as errors.
MISSING_MARKERS = frozenset({"", "na", "n/a", "nan", "null", "none", "/", "-", "--", "—", "－"})

#: Joins the problems of one row (the messages themselves may contain ";").
PROBLEM_SEPARATOR: Final = " | "

_OFFSET = re.compile(r"\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$", re.I)
_HOUR_24 = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ]24(:00(:00)?)?$")


def _holdable(times: pd.Series) -> pd.Series:
    """NaT where a parsed time lies outside what nanosecond times hold (years like 9999 or
    1600 parse to coarser units and would reject the whole column on assignment)."""
    lowest = pd.Timestamp("1678-01-01", tz=times.dt.tz)
    highest = pd.Timestamp("2262-01-01", tz=times.dt.tz)
    kept: pd.Series = times.where((times > lowest) & (times < highest)).dt.as_unit("ns")
    return kept


def _wall_times(texts: pd.Series) -> pd.Series:
    """ISO 8601 texts without an offset (:data:`_OFFSET` finds none) → naive times; NaT
    where unreadable, and where pandas reads an offset ISO 8601 does not know (``-1``,
    ``+123``: ISO 8601 offsets are ±hh, ±hhmm or ±hh:mm), which beside naive times made it
    mix zones (an error) or give aware times."""
    try:
        walls = pd.to_datetime(texts, format="ISO8601", errors="coerce")
        if walls.dt.tz is None:
            return walls
    except ValueError:  # (mixed time zones)
        pass
    lowest, highest = pd.Timestamp("1678-01-01"), pd.Timestamp("2262-01-01")  # (ns hold)
    kept = []
    for text in texts:
        wall = pd.to_datetime(text, format="ISO8601", errors="coerce")
        naive = wall is not pd.NaT and wall.tzinfo is None
        kept.append(wall if naive and lowest < wall < highest else pd.NaT)
    return pd.Series(kept, index=texts.index, dtype="datetime64[ns]")


def parse_local_times(text: pd.Series) -> pd.Series:
    """ISO 8601 texts → tz-aware Asia/Shanghai times; NaT where unparseable.

    A text without an offset is Asia/Shanghai local time; one with an offset (or ``Z``) is
    converted. ``24:00`` of a date is read as 00:00 of the next day.
    """
    s = text.astype(str).str.strip()
    hour24 = s.str.match(_HOUR_24)
    if hour24.any():
        dates = s[hour24].str.slice(0, 10)
        s = s.copy()
        s[hour24] = dates + "T00:00"
    aware = s.str.contains(_OFFSET)
    out = pd.Series(pd.NaT, index=s.index, dtype=f"datetime64[ns, {LOCAL_TZ}]")
    if (~aware).any():
        naive = _holdable(_wall_times(s[~aware]))
        out[~aware] = naive.dt.tz_localize(LOCAL_TZ, ambiguous="NaT", nonexistent="NaT")
    if aware.any():
        parsed = pd.to_datetime(s[aware], format="ISO8601", errors="coerce", utc=True)
        out[aware] = _holdable(parsed).dt.tz_convert(LOCAL_TZ)
    if hour24.any():  # (the next day's 00:00 on the wall clock: 23 or 25 h on a change day)
        out[hour24] = (out[hour24].dt.tz_localize(None) + pd.Timedelta(days=1)).dt.tz_localize(
            LOCAL_TZ, ambiguous="NaT", nonexistent="shift_forward"
        )  # (a midnight clocks jumped over, 1940s: the jump, the day's end)
    return out


def local_time_problems(texts: Sequence[str]) -> list[str | None]:
    """Why each of ``texts`` (times :func:`parse_local_times` could not read) names no
    instant, when it is an ISO 8601 local time without an offset that Asia/Shanghai's
    clocks showed twice (the hour after summer time ended, 1986–1991) or never (the hour
    they jumped, 02:00 → 03:00); None for the others (not ISO 8601 times).

    The text says what to do: give the offset (``+09:00`` summer time, ``+08:00``
    standard time), which makes the instant unique.
    """
    stripped = pd.Series(list(texts), dtype=object).astype(str).str.strip()
    naive = ~stripped.str.contains(_OFFSET) & ~stripped.str.match(_HOUR_24)  # (no gap at 0h)
    walls = _wall_times(stripped.where(naive, ""))
    found: list[str | None] = [None] * len(stripped)
    zone = zoneinfo.ZoneInfo(LOCAL_TZ)
    # (pandas reads `-1` or `0000-01-01` as a year before 1, which a datetime cannot hold;
    # Asia/Shanghai kept no summer time then: nothing to name)
    read = np.flatnonzero((walls.notna() & (walls.dt.year >= 1)).to_numpy())
    for i, stamp in zip(map(int, read), walls.iloc[read].tolist(), strict=True):
        wall: dt.datetime = stamp.to_pydatetime(warn=False)  # (without nanoseconds)
        first, second = wall.replace(tzinfo=zone, fold=0), wall.replace(tzinfo=zone, fold=1)
        before, after = first.utcoffset(), second.utcoffset()
        if before is None or after is None or before == after:
            continue
        seconds = "microseconds" if wall.microsecond else "seconds" if wall.second else "minutes"
        shown, text = wall.isoformat(timespec=seconds), texts[i]
        if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall:
            found[i] = (
                f"time {text!r} is ambiguous: Asia/Shanghai clocks showed {shown} twice "
                f"(summer time ended that night); give the offset: {shown}{_offset(before)} "
                f"for the first (summer time), {shown}{_offset(after)} for the second"
            )
        else:
            found[i] = (
                f"time {text!r} did not exist in Asia/Shanghai: clocks jumped an hour "
                f"forward (summer time began) and never showed {shown}; give the offset "
                f"the clock that read it kept: {shown}{_offset(before)} (standard time) or "
                f"{shown}{_offset(after)} (summer time)"
            )
    return found


def _offset(delta: dt.timedelta) -> str:
    """A UTC offset as ISO 8601 writes it: ``+08:00``."""
    minutes = int(delta.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
