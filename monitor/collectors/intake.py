"""The intake check: what the ledger can hold, checked at every boundary before it is stored.

Every path that brings observations in runs the same checks, row by row, and refuses only
the rows that fail, each with a message naming the value and what was expected; one bad row
never stops the others. The pipeline (``monitor.service.pipeline``) applies :func:`admit` to
every collector batch and import on its way to the ledger; the import parsers call
:func:`check_observations` first, so their messages name the file's line (and column); the
HJ 212 receiver is meant to call it on a packet's readings before acknowledging the packet.

=====================  =====================================================================
refused                why
=====================  =====================================================================
time out of range      a period end before :data:`EARLIEST_TIME`, or after now + the future
                       tolerance (``[ledger] future_tolerance_minutes``, default 60): a label
                       of 2099 would move the source's watermark to 2099 and stop its
                       catch-up; years like 9999 or 1600 cannot be held at all
hourly off the hour    a 1-hour period whose end is not a whole hour (09:05): hourly values
                       are labelled by the end of a clock hour; normalising would guess
not finite             ``inf``, ``Infinity``, ``1e999``: no measurement; it would replace a
                       good reading as a revision. NaN (the source sent no number) is kept
conflicting duplicate  two or more rows of one delivery with the same site, parameter and
                       period end but a different value, period start or flags: **all** of
                       them are refused (never guess which is right), each naming the others;
                       identical repeats are collapsed silently
=====================  =====================================================================

Values that are finite but physically implausible (``tp = 1e308`` mg/L, ``nh3n = 5000``) are
*kept* and flagged ``implausible`` by the quality checks (ranges in
:data:`monitor.domain.units.PLAUSIBLE_RANGES`), which leave them out of every statistic and
water class: a flag is data, a refusal loses the row.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = [
    "DEFAULT_FUTURE_TOLERANCE",
    "EARLIEST_TIME",
    "KEY_COLUMNS",
    "IntakeCheck",
    "admit",
    "check_dates",
    "check_observations",
    "conflicting_rows",
    "key_hash",
    "out_of_range_time_text",
]

#: How far ahead of now a period end may lie (clock skew of a data logger, a platform that
#: labels the running hour); later times are refused.
DEFAULT_FUTURE_TOLERANCE: Final = timedelta(hours=1)
#: The warning for a file with a header and no data rows, in every import format: nothing
#: to import is not an error (a folder watcher must not fail on it), so the import goes on
#: and exits 0 (issue 16, one rule).
HEADER_ONLY: Final = "no data rows (header only)"
#: The earliest period end the ledger accepts. Before any instrumental environmental
#: monitoring in China; an earlier year is a typing or clock error (1600, 1815 …).
EARLIEST_TIME: Final = pd.Timestamp("1900-01-01", tz="UTC")
#: What makes two observations "the same reading".
KEY_COLUMNS: Final = ("site", "parameter", "period_end")

# Beijing time as a fixed offset (Asia/Shanghai has had no DST since 1991; before 1901 it
# was local mean time, which would show 1815 labels at +08:05:43).
_LOCAL: Final = "Etc/GMT-8"
_HOUR_S: Final = 3600
# ISO 8601 texts and YYYYMMDD dates begin with the year.
_YEAR: Final = re.compile(r"^\s*[+-]?(\d{4,})")
# pandas holds nanosecond times up to 2262; later years are refused before parsing.
_LAST_YEAR: Final = 2200


@dataclass(frozen=True)
class IntakeCheck:
    """Result of :func:`check_observations`.

    Attributes
    ----------
    problems : dict of int → list of str
        What is wrong with each refused row, by row position (rows without a problem are
        absent, so a clean batch of 300,000 rows costs no Python object per row).
    repeats : ndarray of bool
        Rows identical to an earlier admissible row (same key, value, start and flags):
        dropped without a message.
    """

    problems: dict[int, list[str]]
    repeats: npt.NDArray[np.bool_]

    @property
    def admitted(self) -> npt.NDArray[np.bool_]:
        """Rows to store: no problem and not a repeat."""
        ok = ~self.repeats
        ok[list(self.problems)] = False
        return ok


def _shown(moment: pd.Timestamp) -> str:
    """A time as the sources write it: Beijing wall time with its offset."""
    return f"{moment.tz_convert(_LOCAL):%Y-%m-%d %H:%M}+08:00"


def _span(delta: pd.Timedelta) -> str:
    hours = delta.total_seconds() / 3600
    if hours >= 48:
        return f"{hours / 24:,.0f} days"
    if hours >= 1:
        return f"{hours:.1f} h"
    return f"{delta.total_seconds() / 60:.0f} min"


def check_observations(
    observations: pd.DataFrame,
    *,
    now: datetime,
    future_tolerance: timedelta = DEFAULT_FUTURE_TOLERANCE,
    where: Sequence[str] | None = None,
) -> IntakeCheck:
    """Check an observations frame (``monitor.collectors.base``) against what the ledger holds.

    Parameters
    ----------
    observations : DataFrame
        ``site``, ``parameter``, ``period_start``, ``period_end`` (tz-aware), ``value``
        (float, canonical unit), ``flags``.
    now : datetime
        The current time (tz-aware); the future limit is ``now + future_tolerance``.
    future_tolerance : timedelta
        How far ahead of ``now`` a period end may lie.
    where : sequence of str, optional
        Where each row is in its input (``"data.csv line 5"``), used to name the other rows
        of a conflicting duplicate; default: their count.

    Returns
    -------
    IntakeCheck
        Problems of the refused rows (module docstring) and the identical repeats to drop.

    Raises
    ------
    ValueError
        If ``where`` is not as long as the frame.
    """
    n = len(observations)
    if where is not None and len(where) != n:
        raise ValueError(f"where has {len(where)} entries; expected one per row ({n})")
    problems: dict[int, list[str]] = {}
    if n == 0:
        return IntakeCheck(problems, np.zeros(0, dtype=bool))

    def add(i: int, problem: str) -> None:
        problems.setdefault(i, []).append(problem)

    end = pd.to_datetime(observations["period_end"], utc=True).reset_index(drop=True)
    start = pd.to_datetime(observations["period_start"], utc=True).reset_index(drop=True)
    values = pd.to_numeric(observations["value"], errors="coerce").to_numpy(dtype=float)
    current = pd.Timestamp(now).tz_convert("UTC")
    latest = current + pd.Timedelta(future_tolerance)

    ends = pd.DatetimeIndex(end)

    def at(i: int) -> pd.Timestamp:
        return ends[i]

    for i in _rows(end > latest):
        add(
            i,
            f"time {_shown(at(i))} is {_span(at(i) - current)} in the future; expected at "
            f"most {_span(pd.Timedelta(future_tolerance))} ahead of now ({_shown(current)}): "
            "check the date or the source's clock",
        )
    too_early = (end < EARLIEST_TIME).to_numpy()
    for i in _rows(too_early):
        add(
            i,
            f"time {_shown(at(i))} is before {EARLIEST_TIME:%Y-%m-%d}; expected a time "
            "of the monitoring record: check the date",
        )
    seconds = end.astype("datetime64[ns, UTC]").astype("int64").to_numpy() // 10**9
    hourly = ((end - start) == pd.Timedelta(hours=1)).to_numpy() & ~too_early
    for i in _rows(hourly & (seconds % _HOUR_S != 0)):
        add(
            i,
            f"hourly value labelled {_shown(at(i))} is not on the hour; expected the end of "
            f"a clock hour such as {_shown(at(i).ceil('h'))}",
        )
    for i in _rows(np.isinf(values)):
        add(i, f"value {values[i]} is not a finite number; expected a number")

    candidates = np.ones(n, dtype=bool)
    candidates[list(problems)] = False
    conflicting, repeats = conflicting_rows(observations.reset_index(drop=True), candidates)
    for group in conflicting:
        shown_values = ", ".join(dict.fromkeys(_value_text(values[i]) for i in group))
        for i in group:
            others = (
                ", ".join(where[j] for j in group if j != i)
                if where is not None
                else f"{len(group) - 1} other row(s) of the same delivery"
            )
            add(
                i,
                f"conflicts with {others} (same site, parameter and time, values "
                f"{shown_values}); none of them is stored: keep the right one and send it "
                "again",
            )
    return IntakeCheck(dict(sorted(problems.items())), repeats)


def _rows(mask: pd.Series | npt.NDArray[np.bool_]) -> list[int]:
    return [int(i) for i in np.flatnonzero(np.asarray(mask, dtype=bool))]


def _value_text(value: float) -> str:
    return "no value" if np.isnan(value) else f"{value:g}"


def _default_labels(observations: pd.DataFrame, end: pd.Series) -> list[str]:
    return [
        f"{site} {parameter} {_shown(moment)}"
        for site, parameter, moment in zip(
            observations["site"], observations["parameter"], end, strict=True
        )
    ]


def _key_hash(observations: pd.DataFrame) -> npt.NDArray[np.uint64]:
    """One 64-bit hash per row of its key: equal keys give equal hashes."""
    site = pd.util.hash_array(observations["site"].astype(str).to_numpy(dtype=object))
    parameter = pd.util.hash_array(observations["parameter"].astype(str).to_numpy(dtype=object))
    end = pd.to_datetime(observations["period_end"], utc=True).astype("int64").to_numpy()
    with np.errstate(over="ignore"):
        mixed: npt.NDArray[np.uint64] = (
            site
            ^ (parameter * np.uint64(0x9E3779B97F4A7C15))
            ^ (end.astype(np.uint64) * np.uint64(0xBF58476D1CE4E5B9))
        )
    return mixed


#: One 64-bit hash per row of its key (site, parameter, period end): equal keys give equal
#: hashes. Used by streaming imports to find a file's duplicate keys in 8 bytes a row.
key_hash = _key_hash


def conflicting_rows(
    observations: pd.DataFrame, candidates: npt.NDArray[np.bool_]
) -> tuple[list[list[int]], npt.NDArray[np.bool_]]:
    """Duplicates among the ``candidates`` rows: conflicting groups and repeats.

    Rows share a key when site, parameter and period end are equal (:data:`KEY_COLUMNS`).
    A key whose rows all carry the same value (NaN equals NaN), period start and flags is a
    repeat: every row after the first is marked in ``repeats``. A key whose rows differ is a
    conflict: the positions of all its rows form one group.

    Parameters
    ----------
    observations : DataFrame
        Observations with a default (0 … n − 1) index.
    candidates : ndarray of bool
        Rows to compare (rows already refused for another reason are left out).

    Returns
    -------
    (list of list of int, ndarray of bool)
        Conflicting groups (row positions, in input order) and the repeats.
    """
    n = len(observations)
    repeats = np.zeros(n, dtype=bool)
    # A hash of the key first (vectorised): only rows whose hash repeats are compared.
    hashed = _key_hash(observations)[candidates]
    ordered = np.sort(hashed)
    shared = ordered[1:][ordered[1:] == ordered[:-1]]
    if not len(shared):
        return [], repeats
    maybe = np.flatnonzero(candidates)[np.isin(hashed, shared)]
    if not len(maybe):
        return [], repeats
    rows = observations.iloc[maybe]
    whole = [*KEY_COLUMNS, "period_start", "value", "flags"]
    distinct = rows[whole].drop_duplicates()
    per_key = distinct.groupby(list(KEY_COLUMNS), sort=False, dropna=False).size()
    conflict_keys = set(per_key[per_key > 1].index)
    keys = list(rows[list(KEY_COLUMNS)].itertuples(index=False, name=None))
    groups: dict[tuple[object, ...], list[int]] = {}
    for position, key in zip(maybe, keys, strict=True):
        if key in conflict_keys:
            groups.setdefault(key, []).append(int(position))
    in_conflict = np.array([k in conflict_keys for k in keys], dtype=bool)
    repeated = rows[whole].duplicated(keep="first").to_numpy()
    repeats[maybe[repeated & ~in_conflict]] = True
    return list(groups.values()), repeats


def admit(
    observations: pd.DataFrame,
    *,
    now: datetime | None = None,
    future_tolerance: timedelta = DEFAULT_FUTURE_TOLERANCE,
    where: Sequence[str] | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """The rows of ``observations`` the ledger can hold, and one message per refused row.

    ``now`` defaults to the clock. Messages read ``"<where>: <problem>[ | …] (not
    stored)"``; identical repeats are dropped silently.

    Examples
    --------
    >>> from monitor.collectors.base import observations
    >>> end = pd.Timestamp("2099-01-01 09:00", tz="Asia/Shanghai")
    >>> frame = observations("HN-01", "nh3n", end - pd.Timedelta(hours=1), end, 0.5)
    >>> kept, refused = admit(frame, now=datetime(2026, 3, 1, tzinfo=UTC))
    >>> len(kept), refused[0][:60]
    (0, 'HN-01 nh3n 2099-01-01 09:00+08:00: time 2099-01-01 09:00+08:')
    """
    moment = datetime.now(UTC) if now is None else now
    check = check_observations(
        observations, now=moment, future_tolerance=future_tolerance, where=where
    )
    if not check.problems and not check.repeats.any():
        return observations, []
    end = pd.to_datetime(observations["period_end"], utc=True).reset_index(drop=True)
    labels = (
        where
        if where is not None
        else _default_labels(
            observations.iloc[list(check.problems)], end.iloc[list(check.problems)]
        )
    )
    messages = [
        f"{labels[k if where is None else i]}: {' | '.join(p)} (not stored)"
        for k, (i, p) in enumerate(check.problems.items())
    ]
    return observations[check.admitted].reset_index(drop=True), messages


def out_of_range_time_text(text: str) -> str | None:
    """A problem for a time or date text whose year the ledger cannot hold, else None.

    Parsers call it before handing texts to pandas, which cannot represent years like 9999
    or 1600 (``OutOfBoundsDatetime``) and would otherwise reject a whole file for one cell.
    Years from :data:`EARLIEST_TIME` to :data:`_LAST_YEAR` pass here; a time in the future
    is refused later, with its distance from now (:func:`check_observations`).

    Examples
    --------
    >>> out_of_range_time_text("9999-01-01T09:00")
    "time '9999-01-01T09:00' has the year 9999; expected a time from 1900 up to now"
    >>> out_of_range_time_text("2026-03-01T09:00") is None
    True
    """
    match = _YEAR.match(text)
    if match is None:
        return None
    digits = match.group(1)
    year = int(digits) if len(digits) <= 5 else int(digits[:4])  # YYYYMMDD… : basic format
    if EARLIEST_TIME.year <= year <= _LAST_YEAR:
        return None
    return (
        f"time {text.strip()!r} has the year {year}; expected a time from "
        f"{EARLIEST_TIME.year} up to now"
    )


def check_dates(
    days: Sequence[str],
    *,
    now: datetime | None = None,
    future_tolerance: timedelta = DEFAULT_FUTURE_TOLERANCE,
) -> list[str | None]:
    """A problem for each ``YYYY-MM-DD`` calendar date (Beijing) the ledger cannot hold.

    A date is in the future when its first moment (00:00 Beijing time) lies after now +
    ``future_tolerance``: a daily figure or a manual value of a day not yet begun. Dates
    before :data:`EARLIEST_TIME` are refused too.

    Examples
    --------
    >>> now = datetime(2026, 3, 1, tzinfo=UTC)
    >>> check_dates(["2026-03-01", "2026-03-05"], now=now)[0] is None
    True
    >>> check_dates(["2026-03-05", "9999-01-01"], now=now)  # doctest: +NORMALIZE_WHITESPACE
    ['date 2026-03-05 has not begun yet (now 2026-03-01 08:00+08:00); expected a day up to
      today: check the date',
     "date '9999-01-01' has the year 9999; expected a time from 1900 up to now"]
    """
    moment = pd.Timestamp(datetime.now(UTC) if now is None else now).tz_convert("UTC")
    latest = moment + pd.Timedelta(future_tolerance)
    out: list[str | None] = []
    for day in days:
        problem = out_of_range_time_text(day)
        if problem is not None:
            out.append(problem.replace("time", "date", 1))
            continue
        try:
            begins = pd.Timestamp(day, tz=_LOCAL)
        except ValueError:
            out.append(f"date {day!r} is not a date; expected YYYY-MM-DD")
            continue
        if begins > latest:
            out.append(
                f"date {day} has not begun yet (now {_shown(moment)}); expected a day up to "
                "today: check the date"
            )
        elif begins < EARLIEST_TIME:
            out.append(f"date {day} is before {EARLIEST_TIME:%Y-%m-%d}; check the date")
        else:
            out.append(None)
    return out
