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
* **Constant columns stay in SQLite.** Per hour, SQLite sends the source, the period
  length and the ingestion time once when every row of the hour has the same; the
  flags, and those columns where they vary, come from a second query for those hours
  only (clean hours are the rule). Python splits three texts per hour (site, parameter,
  value) instead of eight.
* **Values as short exact text.** Integral values (most published concentrations) go as
  integers, the others as SQLite's ``quote()``, which writes 15 significant digits when
  they read back to the same double and 20 otherwise: bit for bit the stored doubles.

Hours that do not split into their rows (a separator inside a code, a value that does not
parse, an infinity) are read row by row (:func:`read_observation_rows`).

What the run writes back is in :mod:`monitor.ledger.evaluation_output`.
"""

from __future__ import annotations

import sqlite3
import warnings
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from monitor.ledger.epoch import from_epoch

__all__ = ["EVALUATION_SITES_IN_SQL", "EvaluationInput"]

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

_SEP: Final = "\x1f"

#: One row per hour: the texts of site, parameter and value, and for the other columns
#: whether they are the same on every row of the hour (then that value stands for them).
_HOURS_SQL: Final = (
    "SELECT count(*), period_end, group_concat(site, char(31)), "
    "group_concat(parameter, char(31)), "
    "group_concat(CASE WHEN value IS NULL THEN 'nan' "
    "WHEN value = CAST(value AS INTEGER) AND value != 0 AND abs(value) < 1e15 "
    "THEN CAST(value AS INTEGER) ELSE quote(value) END, ','), "
    "max(flags), min(source), max(source), min(period_end - period_start), "
    "max(period_end - period_start), min(ingested_at), max(ingested_at) "
    "FROM observations WHERE {where} GROUP BY period_end"
)
#: The other columns' texts, for the hours where they vary (flags: any hour with flags).
_VARYING_SQL: Final = (
    "SELECT period_end, count(*), group_concat(flags, char(31)), "
    "group_concat(source, char(31)), group_concat(period_start, ','), "
    "group_concat(ingested_at, ',') FROM observations WHERE {where} "
    "AND period_end IN ({hours}) GROUP BY period_end"
)
#: Hours asked for in one :data:`_VARYING_SQL` query at most.
_VARYING_HOURS: Final = 500


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
    """

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection
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
        frame = self._window(lo, hi, in_sql)
        frame = frame.reset_index(drop=True)  # a copy, indexed as the times below
        if in_sql is None:
            frame = frame[frame["site"].isin(wanted).to_numpy()].reset_index(drop=True)
            frame["site"] = frame["site"].cat.remove_unused_categories()
        for column in ("period_start", "period_end", "ingested_at"):
            frame[column] = from_epoch(frame[column].to_numpy())
        return frame

    def _version(self) -> int:
        """Commits of other connections seen so far (``PRAGMA data_version``)."""
        return int(self.connection.execute("PRAGMA data_version").fetchone()[0])

    def _window(self, lo: int, hi: int, sites: frozenset[str] | None) -> pd.DataFrame:
        """Rows of (lo, hi], from the previous window where it overlaps."""
        version = self._version()
        last = self._last
        if last is not None and _reusable(last, version, lo, hi, sites):
            kept = last.frame[last.frame["period_end"].to_numpy() > lo]
            if sites is not None and last.sites != sites:
                kept = kept[kept["site"].isin(sorted(sites)).to_numpy()]
            fresh = self._read(last.end, hi, sites)
            frame = _concat(kept, fresh)
            for column in ("site", "parameter", "source"):  # those of the window's rows
                frame[column] = frame[column].cat.remove_unused_categories()
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
                frame = _read_rows(self.connection, lo, hi, sites, fetched)
                self.rows_prefetched += len(frame)
                return frame
        return _read_rows(self.connection, lo, hi, sites)

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
        future = executor.submit(_fetch_snapshot, connection, fresh_lo, hi, in_sql)
        self._pending = _Pending((fresh_lo, hi, in_sql, version), future)

    def _pool_for_reading(self) -> tuple[ThreadPoolExecutor, sqlite3.Connection] | None:
        """The read-ahead thread and its connection (opened on first use), or None."""
        if self._pool is None and not self._no_pool:
            self._no_pool = True
            path = next(
                (
                    str(r[2])
                    for r in self.connection.execute("PRAGMA database_list")
                    if r[1] == "main"
                ),
                "",
            )
            if not path:
                return None
            try:
                connection = sqlite3.connect(
                    path, timeout=30.0, isolation_level=None, check_same_thread=False
                )
                connection.execute("PRAGMA query_only=1")
                connection.execute(f"PRAGMA cache_size=-{PREFETCH_CACHE_KIB}")
            except sqlite3.Error:
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


#: SQLite page cache of the read-ahead connection (KiB).
PREFETCH_CACHE_KIB: Final = 16384


@dataclass
class _Pending:
    """A read ahead: its (lo, hi, sites, data_version when asked) and the rows to come."""

    key: tuple[int, int, frozenset[str] | None, int]
    future: Future[_Fetched]


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


#: What :func:`_fetch` returns: the :data:`_HOURS_SQL` rows and the :data:`_VARYING_SQL`
#: texts by period end.
_Fetched = tuple[list[tuple[Any, ...]], dict[int, tuple[Any, ...]]]


def _fetch_snapshot(
    connection: sqlite3.Connection, lo: int, hi: int, sites: frozenset[str] | None
) -> _Fetched:
    """:func:`_fetch` in one read transaction (both queries see the same rows). Only SQLite
    work and the texts it returns: the read-ahead thread seldom holds the GIL."""
    connection.execute("BEGIN")
    try:
        return _fetch(connection, lo, hi, sites)
    finally:
        connection.execute("COMMIT")


def _where(lo: int, hi: int, sites: frozenset[str] | None) -> tuple[str, list[Any]]:
    """The WHERE clause of a window's rows and its parameters."""
    where = "period_end > ? AND period_end <= ?"
    params: list[Any] = [lo, hi]
    if sites is not None:
        where += f" AND site IN ({','.join('?' * len(sites))})"
        params.extend(sorted(sites))
    return where, params


def _fetch(
    connection: sqlite3.Connection, lo: int, hi: int, sites: frozenset[str] | None
) -> _Fetched:
    """The texts of (lo, hi] per hour (:data:`_HOURS_SQL`, :data:`_VARYING_SQL`)."""
    where, params = _where(lo, hi, sites)
    hours = connection.execute(_HOURS_SQL.format(where=where), params).fetchall()
    varying = [h[1] for h in hours if h[5] != "" or h[6] != h[7] or h[8] != h[9] or h[10] != h[11]]
    texts: dict[int, tuple[Any, ...]] = {}
    for first in range(0, len(varying), _VARYING_HOURS):
        part = varying[first : first + _VARYING_HOURS]
        sql = _VARYING_SQL.format(where=where, hours=",".join("?" * len(part)))
        for row in connection.execute(sql, [*params, *part]):
            texts[int(row[0])] = row[1:]
    return hours, texts


def _read_rows(
    connection: sqlite3.Connection,
    lo: int,
    hi: int,
    sites: frozenset[str] | None,
    fetched: _Fetched | None = None,
) -> pd.DataFrame:
    """Rows of (lo, hi] (times as epoch seconds) from SQLite (from ``fetched``, the texts
    read ahead, when given)."""
    hours, texts = _fetch(connection, lo, hi, sites) if fetched is None else fetched
    frame = _from_hours(hours, texts)
    if frame is not None:
        return frame
    where, params = _where(lo, hi, sites)
    return read_observation_rows(
        connection, where, params, order_by="period_end, site, parameter, source"
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
        if isinstance(a.dtype, pd.CategoricalDtype):
            out[column] = pd.api.types.union_categoricals([a.array, b.array], sort_categories=True)
        else:
            out[column] = np.concatenate([a.to_numpy(), b.to_numpy()])
    return pd.DataFrame(out)


def _categorical(texts: list[str | None], counts: list[int]) -> pd.Categorical[Any] | None:
    """Categorical of per-hour texts (cells joined by the separator), categories sorted;
    None when a text does not split into its hour's rows. Hour by hour (never a Python
    string per row of the whole window at once); the hours' distinct values are then
    numbered together by one factorisation instead of a dictionary look-up each."""
    codes: list[npt.NDArray[np.intp]] = []
    uniques: list[npt.NDArray[np.object_]] = []
    offset = 0
    for text, count in zip(texts, counts, strict=True):
        cells = (text or "").split(_SEP)
        if len(cells) != count:
            return None
        hour_codes, hour_uniques = pd.factorize(np.array(cells, dtype=object))
        codes.append(hour_codes + offset)
        uniques.append(np.asarray(hour_uniques, dtype=object))
        offset += len(hour_uniques)
    if not codes:
        return pd.Categorical([])
    global_codes, names = pd.factorize(np.concatenate(uniques), sort=True)
    return pd.Categorical.from_codes(
        global_codes[np.concatenate(codes)], dtype=pd.CategoricalDtype(list(names))
    )


def _sorted_categorical(
    names: dict[str, int], parts: list[npt.NDArray[np.int64]]
) -> pd.Categorical[Any]:
    """Categorical from codes into ``names`` (first-seen order), categories sorted."""
    if not names:
        return pd.Categorical([])
    order = sorted(names)  # the categories pd.Categorical infers: sorted
    rank = np.empty(len(order), dtype=np.int64)
    rank[[names[name] for name in order]] = np.arange(len(order))
    codes = rank[np.concatenate(parts)] if parts else np.zeros(0, dtype=np.int64)
    return pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(order))


def _numbers(texts: list[str], total: int, dtype: type) -> npt.NDArray[Any] | None:
    """Numbers of the per-hour texts (cells joined by ``,``); None unless exactly ``total``."""
    if not total:
        return np.zeros(0, dtype=dtype)
    parsed: npt.NDArray[Any]
    try:
        with warnings.catch_warnings():  # unparsable text: numpy stops early, warns
            warnings.simplefilter("ignore", DeprecationWarning)
            parsed = np.fromstring(",".join(texts), dtype=dtype, sep=",")
    except ValueError:  # what later numpy versions raise instead
        return None
    return parsed if len(parsed) == total else None


def _from_hours(
    hours: list[tuple[Any, ...]], varying: dict[int, tuple[Any, ...]]
) -> pd.DataFrame | None:
    """The frame (times as epoch seconds) from :data:`_HOURS_SQL` rows and, for the hours
    whose other columns vary, :data:`_VARYING_SQL` rows (by period end); None when a text
    does not split into its hour's rows."""
    counts = [int(h[0]) for h in hours]
    n = sum(counts)
    counts_array = np.asarray(counts, dtype=np.int64)
    site = _categorical([h[2] for h in hours], counts)
    parameter = _categorical([h[3] for h in hours], counts)
    value = _numbers([h[4] for h in hours], n, np.float64)
    if site is None or parameter is None or value is None or np.isinf(value).any():
        return None  # an infinity was written as text: read row by row to be sure
    ends = np.asarray([h[1] for h in hours], dtype=np.int64)
    period_end = np.repeat(ends, counts_array)
    period_start = period_end - np.repeat(
        np.asarray([h[8] for h in hours], dtype=np.int64), counts_array
    )
    ingested_at = np.repeat(np.asarray([h[10] for h in hours], dtype=np.int64), counts_array)
    flags = np.full(n, "", dtype=object)
    sources: dict[str, int] = {}
    source_parts = []
    first = 0
    for hour, count in zip(hours, counts, strict=True):
        rows = slice(first, first + count)
        first += count
        texts = varying.get(int(hour[1]))
        if texts is None:
            source_parts.append(np.full(count, sources.setdefault(hour[6], len(sources))))
            continue
        if int(texts[0]) != count:
            return None  # written to since the first query: read row by row
        if hour[5] != "":
            cells = texts[1].split(_SEP)
            if len(cells) != count:
                return None
            flags[rows] = cells
        if hour[6] == hour[7]:
            source_parts.append(np.full(count, sources.setdefault(hour[6], len(sources))))
        else:
            cells = texts[2].split(_SEP)
            if len(cells) != count:
                return None
            codes, uniques = pd.factorize(np.array(cells, dtype=object))
            found = [sources.setdefault(str(u), len(sources)) for u in uniques]
            source_parts.append(np.array(found, dtype=np.int64)[codes])
        for same, text, out in (
            (hour[8] == hour[9], texts[3], period_start),
            (hour[10] == hour[11], texts[4], ingested_at),
        ):
            if not same:
                numbers = _numbers([text], count, np.int64)
                if numbers is None:
                    return None
                out[rows] = numbers
    return pd.DataFrame(
        {
            "site": site,
            "parameter": parameter,
            "period_start": period_start,
            "period_end": period_end,
            "value": value,
            "flags": flags,
            "source": _sorted_categorical(sources, source_parts),
            "ingested_at": ingested_at,
        }
    )


def read_observation_rows(
    connection: sqlite3.Connection, where: str, params: Sequence[Any], order_by: str = ""
) -> pd.DataFrame:
    """Observations ``WHERE where`` as the evaluation reads them (site, parameter, period
    start and end as epoch seconds, value, flags, source, ingestion time), row by row: the
    general read, and the fallback of the column-wise one."""
    order = f" ORDER BY {order_by}" if order_by else ""
    rows = connection.execute(
        "SELECT site, parameter, period_start, period_end, value, flags, source, "
        f"ingested_at FROM observations WHERE {where}{order}",
        params,
    ).fetchall()
    n = len(rows)
    columns: list[Sequence[Any]] = list(zip(*rows, strict=True)) if n else [()] * 8
    return pd.DataFrame(
        {
            "site": pd.Categorical(columns[0]),
            "parameter": pd.Categorical(columns[1]),
            "period_start": np.fromiter(columns[2], np.int64, n),
            "period_end": np.fromiter(columns[3], np.int64, n),
            "value": np.array(columns[4], dtype=float) if n else np.zeros(0),
            "flags": np.array(columns[5], dtype=object),
            "source": pd.Categorical(columns[6]),
            "ingested_at": np.fromiter(columns[7], np.int64, n),
        }
    )
