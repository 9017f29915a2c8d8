"""What an evaluation reads from the ledger, column by column (issue 17).

:class:`EvaluationInput` reads the observation windows of an evaluation run (also behind
:meth:`~monitor.ledger.Ledger.evaluation_observations`, one window at a time), fast for a
run that evaluates chunk after chunk of consecutive dates:

* **Overlap read once.** Each chunk's window reaches back a day (8-hour and 24-hour means)
  and forward :data:`~monitor.ledger.store.QC_LOOKAHEAD_HOURS`; the next chunk's window
  begins inside the previous one. The rows of the overlap are taken from the previous
  window instead of SQLite, so a run of consecutive chunks reads each hour about once
  instead of about 1.75 times (2-day chunks of a national network). Only while no other
  connection has committed since (``PRAGMA data_version``): an HJ 212 receiver's commit
  makes the next window be read afresh.
* **Read ahead.** :meth:`EvaluationInput.prefetch` has the next window's rows read on a
  second, read-only connection in a thread while the current chunk is evaluated.
* **Few texts per hour.** What SQLite sends per hour and the frame made from it:
  :mod:`monitor.ledger.evaluation_hours`.

What the run writes back is in :mod:`monitor.ledger.evaluation_output`.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import numpy as np
import pandas as pd

from monitor.ledger.connection import reading_connection
from monitor.ledger.epoch import from_epoch
from monitor.ledger.evaluation_hours import (
    Fetched,
    StoredValueError,
    fetch_snapshot,
    read_rows,
    read_rows_one_by_one,
    rows_from_fetched,
)

__all__ = ["EVALUATION_SITES_IN_SQL", "EvaluationInput", "announced_version"]

#: Up to this many sites a window is filtered in SQL; more are read for the whole window
#: and filtered in numpy: an ``IN`` list of a thousand sites costs SQLite more per row
#: than reading the row.
EVALUATION_SITES_IN_SQL: Final = 64

#: Columns of the frame, in order.
COLUMNS: Final = (
    "site",
    "parameter",
    "period_start",
    "period_end",
    "value",
    "flags",
    "source",
    "ingested_at",
)


@dataclass
class _Window:
    """A window read before: (start, end] in epoch seconds, the sites filtered in SQL (None:
    all), the other connections' commit count then, and its rows (times as epoch seconds)."""

    start: int
    end: int
    sites: frozenset[str] | None
    version: int
    frame: pd.DataFrame


class EvaluationInput:
    """Reads the observation windows of one evaluation run (see the module docstring).

    Parameters
    ----------
    connection : sqlite3.Connection
        The ledger's connection (``Ledger.connection``).
    lock : context manager, optional
        Held while this reads on ``connection``: the lock another thread holds while it
        writes on the same connection (:class:`~monitor.ledger.evaluation_output.
        BackgroundWrites`). A read open on the connection when another connection commits
        would make that thread's BEGIN IMMEDIATE fail at once (SQLITE_BUSY_SNAPSHOT).
    """

    def __init__(
        self, connection: sqlite3.Connection, lock: AbstractContextManager[object] | None = None
    ) -> None:
        self.connection = connection
        self._lock: AbstractContextManager[object] = nullcontext() if lock is None else lock
        self._last: _Window | None = None
        #: Rows read from SQLite and rows taken from the previous window (for benchmarks).
        self.rows_read = 0
        self.rows_reused = 0
        #: Of the rows read, those read ahead by :meth:`prefetch` (for tests and benchmarks).
        self.rows_prefetched = 0
        self._pending: _Pending | None = None
        self._pool: tuple[ThreadPoolExecutor, sqlite3.Connection] | None = None
        self._no_pool = False

    def observations(
        self, *, start: datetime, end: datetime, sites: Sequence[str]
    ) -> pd.DataFrame:
        """The observations of ``sites`` with ``start < period_end <= end`` (UTC).

        Columns ``site``, ``parameter`` and ``source`` are categoricals (categories sorted:
        ``site`` the sites present, the others those of the whole window),
        ``period_start``/``period_end``/``ingested_at`` tz-aware UTC, ``value`` float (NaN
        for NULL), ``flags`` str; rows in key order within each period end, period ends
        ascending.
        """
        lo, hi, in_sql = _window_key(start, end, sites)
        wanted = sorted(set(sites))
        try:
            frame = self._window(lo, hi, in_sql)
        except StoredValueError:
            if in_sql is None:  # read for every site: the value may be another site's
                in_sql = frozenset(wanted)  # (then these sites' rows alone; refused if theirs)
                frame = self._window(lo, hi, in_sql)
            else:
                raise
        frame = frame.reset_index(drop=True)  # a copy, indexed as the times below
        if in_sql is None:
            frame = frame[frame["site"].isin(wanted).to_numpy()].reset_index(drop=True)
            frame["site"] = _used_categories(frame["site"])
        for column in ("period_start", "period_end", "ingested_at"):
            frame[column] = from_epoch(frame[column].to_numpy())
        return frame

    def _version(self) -> int:
        """Commits of other connections seen so far (``PRAGMA data_version``).

        While the writing thread holds the lock inside a write transaction that announced
        its ``data_version`` (:func:`announced_version`), that value, without waiting for
        the transaction to end: no other connection can commit while it is open (issue 17:
        the evaluating thread waited about a second per chunk for the hourly rows' write)."""
        acquire = getattr(self._lock, "acquire", None)  # a threading.Lock (or alike)
        if acquire is not None and not acquire(blocking=False):
            announced = _version_in_write(self.connection)
            if announced is not None:
                return announced
            acquire()
        if acquire is not None:
            try:
                return _data_version(self.connection)
            finally:
                self._lock.release()  # type: ignore[attr-defined]
        with self._lock:
            return _data_version(self.connection)

    def _window(self, lo: int, hi: int, sites: frozenset[str] | None) -> pd.DataFrame:
        """Rows of (lo, hi], from the previous window where it overlaps."""
        version = self._version()
        last = self._last
        if last is not None and (last.start, last.end, last.sites, last.version) == (
            lo,
            hi,
            sites,
            version,
        ):  # the same window again (the first chunk's, read while judging the cores)
            self.rows_reused += len(last.frame)
            return last.frame
        if last is not None and _reusable(last, version, lo, hi, sites):
            kept = last.frame[last.frame["period_end"].to_numpy() > lo]
            if sites is not None and last.sites != sites:
                kept = kept[kept["site"].isin(sorted(sites)).to_numpy()]
            fresh = self._read(last.end, hi, sites)
            frame = _concat(kept, fresh)
            for column in ("site", "parameter", "source"):  # those of the window's rows
                frame[column] = _used_categories(frame[column])
            self.rows_reused += len(kept)
        else:
            fresh = frame = self._read(lo, hi, sites)
        self.rows_read += len(fresh)
        self._last = _Window(lo, hi, sites, version, frame)
        return frame

    def _read(self, lo: int, hi: int, sites: frozenset[str] | None) -> pd.DataFrame:
        """Rows of (lo, hi] (times as epoch seconds): read ahead when :meth:`prefetch` asked
        for these rows and no other connection has committed since, else from SQLite now."""
        pending, self._pending = self._pending, None
        if pending is not None:
            try:
                fetched = pending.future.result()  # always waited for: no read left running
            except sqlite3.Error:
                fetched = None  # read again below, where the error (if it stays) is raised
            if fetched is not None and pending.key == (lo, hi, sites, self._version()):
                frame = rows_from_fetched(fetched)  # no SQLite: the writes go on meanwhile
                if frame is None:  # an hour does not split: row by row on the connection
                    with self._lock:
                        frame = read_rows_one_by_one(self.connection, lo, hi, sites)
                self.rows_prefetched += len(frame)
                return frame
        with self._lock:
            return read_rows(self.connection, lo, hi, sites)

    def prefetch(self, *, start: datetime, end: datetime, sites: Sequence[str]) -> None:
        """Start reading, on a second connection in a background thread, the rows the next
        ``observations(start=start, end=end, sites=sites)`` will need from SQLite (those
        of its window after the current one), while the caller works on the current one.

        Python's ``sqlite3`` releases the GIL while SQLite steps through the query, so the
        read runs on the other core. The rows read ahead are used only if no other
        connection has committed between this call and that ``observations`` call (``PRAGMA
        data_version``; the second connection only reads): otherwise they are dropped and
        the window is read afresh, as without read-ahead. Does nothing for a ledger
        without a file (in memory) or when the second connection cannot be opened.
        """
        lo, hi, in_sql = _window_key(start, end, sites)
        version = self._version()
        last = self._last
        fresh_lo = (
            last.end if last is not None and _reusable(last, version, lo, hi, in_sql) else lo
        )
        pool = self._pool_for_reading()
        if pool is None or fresh_lo >= hi:
            return
        executor, connection = pool
        if self._pending is not None:  # never asked for: wait, then drop it
            self._pending.future.exception()
        future = executor.submit(fetch_snapshot, connection, fresh_lo, hi, in_sql)
        self._pending = _Pending((fresh_lo, hi, in_sql, version), future)

    def _pool_for_reading(self) -> tuple[ThreadPoolExecutor, sqlite3.Connection] | None:
        """The read-ahead thread and its connection (opened on first use), or None."""
        if self._pool is None and not self._no_pool:
            self._no_pool = True
            try:
                with self._lock:
                    connection = reading_connection(self.connection, PREFETCH_CACHE_KIB)
            except sqlite3.Error:
                return None
            if connection is None:
                return None
            executor = ThreadPoolExecutor(1, thread_name_prefix="envmon-evaluation-read")
            self._pool = (executor, connection)
        return self._pool

    def close(self) -> None:
        """Stop the read-ahead thread and close its connection (reads stay possible, without
        read-ahead until :meth:`prefetch` opens them again)."""
        if self._pending is not None:
            self._pending.future.exception()
            self._pending = None
        if self._pool is not None:
            executor, connection = self._pool
            executor.shutdown(wait=True)
            connection.close()
            self._pool = None
        self._no_pool = False

    def __enter__(self) -> EvaluationInput:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _data_version(connection: sqlite3.Connection) -> int:
    return int(connection.execute("PRAGMA data_version").fetchone()[0])


#: ``PRAGMA data_version`` of connections (by ``id``) inside a write transaction of an
#: evaluation run, announced by :func:`announced_version`.
_IN_WRITE: dict[int, int] = {}
_IN_WRITE_GUARD: Final = threading.Lock()


@contextmanager
def announced_version(db: sqlite3.Connection) -> Iterator[None]:
    """Inside a write transaction of ``db`` (``BEGIN IMMEDIATE`` taken): announce its
    ``PRAGMA data_version`` until the block ends (before the ``COMMIT``), for
    :meth:`EvaluationInput._version` to take instead of waiting for the lock. While the
    transaction holds SQLite's write lock no other connection can commit, so the count of
    their commits stays what it was at the ``BEGIN`` (the connection's own commits never
    change it)."""
    version = _data_version(db)
    with _IN_WRITE_GUARD:
        _IN_WRITE[id(db)] = version
    try:
        yield
    finally:
        with _IN_WRITE_GUARD:
            _IN_WRITE.pop(id(db), None)


def _version_in_write(connection: sqlite3.Connection) -> int | None:
    """The version :func:`announced_version` announced for ``connection`` (None: none)."""
    with _IN_WRITE_GUARD:
        return _IN_WRITE.get(id(connection))


#: SQLite page cache of the read-ahead connection (KiB).
PREFETCH_CACHE_KIB: Final = 16384


@dataclass
class _Pending:
    """A read ahead: its (lo, hi, sites, data_version when asked) and the rows to come."""

    key: tuple[int, int, frozenset[str] | None, int]
    future: Future[Fetched]


def _window_key(
    start: datetime, end: datetime, sites: Sequence[str]
) -> tuple[int, int, frozenset[str] | None]:
    """(lo, hi) in epoch seconds and the sites filtered in SQL (None: all, filtered after)."""
    wanted = set(sites)
    in_sql = frozenset(wanted) if len(wanted) <= EVALUATION_SITES_IN_SQL else None
    return int(start.timestamp()), int(end.timestamp()), in_sql


def _reusable(last: _Window, version: int, lo: int, hi: int, sites: frozenset[str] | None) -> bool:
    """Whether the rows of (lo, hi] before ``last.end`` can be taken from ``last``."""
    return (
        last.version == version
        and last.start <= lo < last.end <= hi
        and (last.sites is None or (sites is not None and sites <= last.sites))
    )


def _used_categories(column: pd.Series) -> pd.Series:
    """``column.cat.remove_unused_categories()``, skipped when every category is used (the
    rule: counting the codes is a tenth of the time of recoding them)."""
    codes = column.cat.codes.to_numpy()
    categories = len(column.cat.categories)
    if not categories or not len(codes):
        return column.cat.remove_unused_categories()
    counts = np.bincount(codes[codes >= 0], minlength=categories)
    return column if bool(counts.all()) else column.cat.remove_unused_categories()


def _same_sorted_categories(a: pd.Series, b: pd.Series) -> bool:
    """Whether two categoricals have the same categories, sorted (their union is then
    theirs: the codes need no recoding)."""
    categories = a.cat.categories
    return bool(
        categories.is_monotonic_increasing
        and categories.dtype == b.cat.categories.dtype
        and categories.equals(b.cat.categories)
    )


def _concat(first: pd.DataFrame, second: pd.DataFrame) -> pd.DataFrame:
    """Rows of both, categoricals over the union of their categories (sorted)."""
    if not len(second):
        return first.reset_index(drop=True)
    if not len(first):
        return second
    out: dict[str, Any] = {}
    for column in COLUMNS:
        a, b = first[column], second[column]
        if isinstance(a.dtype, pd.CategoricalDtype) and _same_sorted_categories(a, b):
            codes = np.concatenate([a.cat.codes.to_numpy(), b.cat.codes.to_numpy()])
            out[column] = pd.Categorical.from_codes(codes, dtype=a.dtype)
        elif isinstance(a.dtype, pd.CategoricalDtype):
            out[column] = pd.api.types.union_categoricals([a.array, b.array], sort_categories=True)
        else:
            out[column] = np.concatenate([a.to_numpy(), b.to_numpy()])
    return pd.DataFrame(out)
