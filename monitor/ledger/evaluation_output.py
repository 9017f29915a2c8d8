"""What an evaluation run writes to the ledger, column by column (issue 17).

The writes do what the ledger's ``replace_derived`` and ``delete_qc_flags`` do, with the
same SQL effects: :func:`write_derived` hands the derived rows to SQLite column-wise, 64
rows to a statement, with the columns constant in a rule set's rows written into the
statement; :func:`delete_qc_flags` deletes a site's flags by key range instead of testing
the local date of every flag the site ever had. What the run reads is in
:mod:`monitor.ledger.evaluation_input`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from monitor.domain.daily import day_starts
from monitor.ledger import Ledger
from monitor.ledger.evaluation import forget_dirty
from monitor.ledger.evaluation_input import announced_version

__all__ = ["BackgroundWrites", "delete_qc_flags", "write_derived"]


class BackgroundWrites:
    """The writes of an evaluation run, done in the order given by one background thread
    on the ledger's connection, while the run evaluates the next chunk (issue 17).

    Python's ``sqlite3`` releases the GIL while SQLite steps, so inserting the rows of one
    chunk (B-tree work, the commit) runs on the other core. Each write is its own
    transaction, as when written directly; the thread is the only writer during the run.
    After a write fails, nothing more is written and the error is raised by the next
    :meth:`submit` or :meth:`wait` (what was not written stays dirty); ``failed_tag`` then
    tells the :attr:`tag` it was queued under, and :meth:`forget` lets writing go on. At most
    :data:`QUEUED_WRITES` writes wait at a time (each holds a chunk's frames).

    With ``background=False`` each write is done at once by the caller's thread (no
    thread; its error raised by :meth:`submit` itself).

    Use as a context manager; leaving waits for the writes (and raises their error).
    """

    def __init__(
        self, *, background: bool = True, lock: AbstractContextManager[object] | None = None
    ) -> None:
        self._executor = (
            ThreadPoolExecutor(1, thread_name_prefix="envmon-evaluation-write")
            if background
            else None
        )
        #: Held by the thread during each write (see :class:`~monitor.ledger.
        #: evaluation_input.EvaluationInput`, which holds it while reading).
        self._lock: AbstractContextManager[object] = nullcontext() if lock is None else lock
        self._futures: list[Future[None]] = []
        self._error: BaseException | None = None
        #: The tag the writes queued from now on carry (an evaluation run: its chunk).
        self.tag = 0
        #: The tag of the write that failed (None while none did).
        self.failed_tag: int | None = None

    def submit(self, write: Callable[[], None]) -> None:
        """Queue ``write`` (after the ones queued before it), or do it now."""
        if self._executor is None:
            write()
            return
        self._raise()
        while len(self._futures) >= QUEUED_WRITES:
            self._futures.pop(0).exception()  # waits for the oldest
            self._raise()
        self._futures.append(self._executor.submit(self._run, write, self.tag))

    def wait(self) -> None:
        """Wait until every queued write is done; raise the error of a failed one."""
        for future in self._futures:
            future.exception()
        self._futures.clear()
        self._raise()

    def forget(self) -> None:
        """Wait until no write runs, then forget the failed one (writing goes on)."""
        for future in self._futures:
            future.exception()
        self._futures.clear()
        self._error, self.failed_tag = None, None

    def _run(self, write: Callable[[], None], tag: int) -> None:
        if self._error is not None:
            return  # a write before failed: nothing after it is written
        try:
            with self._lock:
                write()
        except BaseException as err:
            self.failed_tag = tag  # first: whoever sees the error finds its tag
            self._error = err
            raise

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def __enter__(self) -> BackgroundWrites:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if exc[0] is None:
                self.wait()
            else:
                for future in self._futures:
                    future.exception()  # finish what runs; the first error goes up
        finally:
            if self._executor is not None:
                self._executor.shutdown(wait=True)


#: Writes queued at most in :class:`BackgroundWrites` (about one chunk's worth: a chunk
#: writes five or six times).
QUEUED_WRITES: Final = 6


# ---------------------------------------------------------------------- derived rows

#: Derived tables an evaluation writes: the column naming the series owner and the column
#: giving the local date (as ``PUBLISHED_TABLES`` in :mod:`monitor.ledger.store`); QC
#: flags are published with their observations.
_DERIVED: Final = {
    "hourly_aqi": ("hourly_aqi", "period_end"),
    "daily_aqi": ("daily_aqi", "date"),
    "water_classes": ("water_classes", "period_end"),
    "qc_flags": ("observations", "period_end"),
}
#: Rows turned into Python objects at a time (bounds memory on big writes).
WRITE_SLICE: Final = 20_000
#: Rows per ``INSERT … VALUES (…), (…), …`` statement: SQLite steps one statement for many
#: rows (a quarter less time than a statement a row; at most 64 × 17 = 1,088 parameters).
ROWS_PER_STATEMENT: Final = 64
_LOCAL_OFFSET_S: Final = 8 * 3600  # Asia/Shanghai, no daylight saving since 1991


def write_derived(
    ledger: Ledger,
    table: str,
    frame: pd.DataFrame,
    key: Sequence[str],
    done: pd.DataFrame | None = None,
) -> None:
    """Write derived rows (replacing rows with the same key), queue their site-days for
    publishing and forget the dirty days in ``done`` (columns site, date), in one
    transaction: what :meth:`~monitor.ledger.Ledger.replace_derived` does, faster.

    The rows go to SQLite column-wise a slice at a time (no Python call per row), 64 rows
    to a statement, in groups of one scope (``is_area``) and one rule set (``standard``),
    or of both rule sets when their rows alternate (``2012, 2026, 2012, …``: the rows then
    reach SQLite in key order, each B-tree page filled once instead of twice, about a fifth
    less SQLite time for hourly rows); a column with one integer, text or NULL throughout
    a group (at each place of the alternation) is written into the statement instead of
    bound on every row (``standard``, ``official``, ``is_area``, ``computed_at``: a quarter
    of an hourly row's parameters).

    Raises
    ------
    ValueError
        If ``table`` is not a table an evaluation writes.
    """
    if table not in _DERIVED:
        raise ValueError(f"unknown derived table {table!r}; expected one of {sorted(_DERIVED)}")
    columns = list(frame.columns)
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
    kind, day = _DERIVED[table]
    with ledger.transaction() as db, announced_version(db):
        for group, period in _groups(frame):
            literals = {c: _literals(group[c].to_numpy(), period) for c in columns}
            bound = [c for c in columns if literals[c] is None]
            pattern = ", ".join(
                "(" + ", ".join(_at(literals[c], i) for c in columns) + ")" for i in range(period)
            )

            def insert(rows: int, pattern: str = pattern, period: int = period) -> str:
                return (
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                    f"{', '.join([pattern] * (rows // period))} ON CONFLICT ({', '.join(key)}) "
                    f"DO UPDATE SET {updates}"
                )

            if not bound:
                db.executemany(insert(period), [()] * (len(group) // period))
                continue
            per_statement = ROWS_PER_STATEMENT - ROWS_PER_STATEMENT % period
            many = insert(per_statement)
            size = max(per_statement, WRITE_SLICE - WRITE_SLICE % per_statement)
            for first in range(0, len(group), size):
                part = group.iloc[first : first + size]
                cells = np.empty((len(part), len(bound)), dtype=object)
                for j, column in enumerate(bound):
                    cells[:, j] = _cells(part[column].to_numpy())
                full = len(part) - len(part) % per_statement
                db.executemany(many, cells[:full].reshape(-1, per_statement * len(bound)).tolist())
                if full < len(part):  # the last rows: whole repetitions of the pattern
                    db.execute(insert(len(part) - full), cells[full:].ravel().tolist())
        _queue(db, kind, *_site_days(frame, day))
        if done is not None and len(done):
            forget_dirty(db, done)


def _at(literals: list[str] | None, place: int) -> str:
    """The SQL of a column at a place of the row pattern: its literal, or a parameter."""
    return "?" if literals is None else literals[place]


def _groups(frame: pd.DataFrame) -> list[tuple[pd.DataFrame, int]]:
    """The rows split by scope (``is_area``) and rule set (``standard``), row order kept
    within each group, each with its period: 1, or the number of rule sets when their
    rows alternate throughout the scope's rows (then not split by rule set)."""
    if not len(frame):
        return [(frame, 1)]
    parts = [frame]
    if "is_area" in frame.columns:
        parts = _split(frame, "is_area")
    if "standard" not in frame.columns:
        return [(part, 1) for part in parts]
    out = []
    for part in parts:
        period = _alternation(part["standard"].to_numpy())
        if period > 1:
            out.append((part, period))
        else:
            out.extend((group, 1) for group in _split(part, "standard"))
    return out


def _split(frame: pd.DataFrame, column: str) -> list[pd.DataFrame]:
    """The rows split by the values of ``column`` (first-seen order, row order kept)."""
    codes, uniques = pd.factorize(frame[column].to_numpy(), use_na_sentinel=False)
    if len(uniques) <= 1:
        return [frame]
    return [frame[codes == code] for code in range(len(uniques))]


def _alternation(values: npt.NDArray[Any]) -> int:
    """How many distinct values repeat in the same order throughout (``a, b, a, b``: 2),
    or 1 when they do not (or there is one)."""
    distinct = len(pd.unique(values[:64]))
    if distinct <= 1 or len(values) % distinct:
        return 1
    first = values[:distinct]
    if len(pd.unique(first)) != distinct:
        return 1
    same = values.reshape(-1, distinct) == first
    return distinct if bool(np.all(same)) else 1


def _literals(data: npt.NDArray[Any], period: int = 1) -> list[str] | None:
    """SQL literals of a column at each place of a ``period``-row pattern (every
    ``period``-th row from the place on has one value), or None when a place has none."""
    found = [_literal(data[place::period]) for place in range(period)]
    return None if any(f is None for f in found) else [f for f in found if f is not None]


def _literal(data: npt.NDArray[Any]) -> str | None:
    """SQL literal of a column with one value throughout: an integer, a text or NULL
    (floats are always bound: a literal is parsed by SQLite's own routine)."""
    if not len(data):
        return None
    if data.dtype.kind in "iub":
        first = int(data[0])
        if data[-1] != data[0]:  # (the rule for a varying column: no pass over it)
            return None
        return str(first) if bool((data == data[0]).all()) else None
    if data.dtype.kind == "f":
        if not (np.isnan(data[0]) and np.isnan(data[-1])):
            return None
        return "NULL" if bool(np.isnan(data).all()) else None
    first, last = data[0], data[-1]
    if not (isinstance(first, str) and isinstance(last, str) and last == first):
        return None
    if "\x00" not in first and bool((data == first).all()):
        return "'" + first.replace("'", "''") + "'"
    return None


def _cells(data: npt.NDArray[Any]) -> npt.NDArray[np.object_]:
    """A column as Python values for SQLite (an object array, put straight into the rows'
    matrix: no list in between): NaN and missing → None (NULL)."""
    cells: npt.NDArray[np.object_]
    if data.dtype.kind == "f":
        cells = data.astype(object)
        missing = np.isnan(data)
        if missing.any():
            cells[missing] = None
        return cells
    if data.dtype.kind in "iub":
        cells = data.astype(np.int64).astype(object)
        return cells
    cells = data.astype(object)
    cells[pd.isna(cells)] = None
    return cells


def _site_days(frame: pd.DataFrame, day: str) -> tuple[list[Any], list[Any]]:
    """Distinct (site, local date) pairs of the rows."""
    if day == "period_end":
        seconds = pd.to_numeric(frame["period_end"]).to_numpy(dtype=np.int64)
        keys, numbers = frame["site"].to_numpy(), (seconds + _LOCAL_OFFSET_S) // 86400
        # A site-day's rows mostly follow each other: the first of each run, then distinct.
        first = np.ones(len(keys), dtype=bool)
        first[1:] = (keys[1:] != keys[:-1]) | (numbers[1:] != numbers[:-1])
        pairs = pd.DataFrame({"key": keys[first], "day": numbers[first]}).drop_duplicates()
        days = pairs["day"].to_numpy().astype("datetime64[D]").astype(str).tolist()
        return pairs["key"].tolist(), days
    pairs = frame[["site", day]].drop_duplicates()
    return pairs["site"].tolist(), pairs[day].tolist()


def _queue(db: sqlite3.Connection, kind: str, keys: list[Any], days: list[Any]) -> None:
    """Queue site-days for publishing (the outbox the publisher reads), inside ``db``'s
    transaction."""
    now = int(datetime.now(UTC).timestamp())
    db.executemany(
        "INSERT OR REPLACE INTO outbox (kind, key, day, queued_at) VALUES (?, ?, ?, ?)",
        sorted({(kind, str(k), str(d), now) for k, d in zip(keys, days, strict=True)}),
    )


def _day_bounds(days: Sequence[str]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Epoch seconds of the first instant of each local date (``YYYY-MM-DD``) and of the
    next one: the period ends evaluation counts in the day (Asia/Shanghai with its history:
    a summer-time day of 1986-1991 begins at 00:00 UTC+9, a day whose midnight was skipped
    (1919, 1940-1949) at 01:00 UTC+9; from 1992 on local midnight, UTC+8)."""
    codes, distinct = pd.factorize(np.asarray(days, dtype="datetime64[D]"))
    dates = pd.DatetimeIndex(distinct)

    def first_instants(local: pd.DatetimeIndex) -> npt.NDArray[np.int64]:
        seconds: npt.NDArray[np.int64] = day_starts(local).as_unit("s").asi8
        return seconds

    starts = first_instants(dates)[codes]
    ends = first_instants(dates + pd.Timedelta(days=1))[codes]
    return starts, ends


#: Envmon's QC flags of one site in [lo, hi) (epoch seconds): the site's parameters found by
#: a loose index scan of the key (site, parameter, period_end), then one key range each.
_DELETE_QC_SQL: Final = (
    "WITH RECURSIVE p(name) AS ("
    "SELECT min(parameter) FROM qc_flags WHERE site = ?1 UNION ALL "
    "SELECT (SELECT min(parameter) FROM qc_flags WHERE site = ?1 AND parameter > p.name) "
    "FROM p WHERE p.name IS NOT NULL) "
    "DELETE FROM qc_flags WHERE site = ?1 AND parameter IN (SELECT name FROM p) "
    "AND period_end >= ?2 AND period_end < ?3"
)


def delete_qc_flags(ledger: Ledger, site_days: pd.DataFrame) -> None:
    """Forget envmon's QC flags of the given (site, date) days before they are recomputed
    (and queue the days' observations for publishing, their flags changing): what
    :meth:`~monitor.ledger.Ledger.delete_qc_flags` does, by key ranges.

    The ledger's version compares each flag's local date with the day's text, which visits
    every flag the site ever had for every site-day (a year of a national network: about a
    thousand rows per site-day); here each run of consecutive days of a site is one range
    of ``period_end`` per parameter, from the day's first instant to the next day's
    (:func:`_day_bounds`: local midnight, UTC+8 from 1992 on).
    """
    sites = site_days["site"].tolist()
    days = site_days["date"].tolist()
    ranges: list[tuple[str, int, int]] = []
    if sites:
        starts, ends = _day_bounds(days)
        order = sorted(range(len(sites)), key=lambda i: (sites[i], starts[i]))
        for i in order:
            lo, hi = int(starts[i]), int(ends[i])
            if ranges and ranges[-1][0] == sites[i] and ranges[-1][2] >= lo:
                ranges[-1] = (sites[i], ranges[-1][1], max(ranges[-1][2], hi))
            else:
                ranges.append((str(sites[i]), lo, hi))
    with ledger.transaction() as db, announced_version(db):
        _queue(db, "observations", sites, days)
        db.executemany(_DELETE_QC_SQL, ranges)
