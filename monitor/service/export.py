"""Tables read back from the ledger: ``envmon export`` and ``envmon status``.

Times are ISO 8601 with the +08:00 offset (+09:00 in the summer times before 1992),
labelling the hour by its end as the national platform does; dates are Asia/Shanghai
calendar dates.
"""

from __future__ import annotations

import csv
import functools
import io
import sqlite3
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from itertools import islice
from typing import Any, Concatenate, Final, ParamSpec, TextIO

import numpy as np
import pandas as pd

from monitor.domain.aqi import level_categories
from monitor.domain.daily import DAILY_STATISTICS, day_starts
from monitor.domain.units import AIR_PARAMETERS
from monitor.ledger import Ledger

LOCAL_TZ: Final = "Asia/Shanghai"


def _local_bounds(first: date, last: date) -> tuple[int, int]:
    """Epoch bounds (exclusive, inclusive] of labels 00:00 of ``first`` … 23:00 of ``last``
    (the hours labelled on those dates, 23 or 25 on a day the clocks changed)."""
    start = _first_instant(first) - pd.Timedelta(hours=1)
    end = _first_instant(last + timedelta(days=1)) - pd.Timedelta(hours=1)
    return int(start.timestamp()), int(end.timestamp())


def _first_instant(day: date) -> pd.Timestamp:
    """The first instant of the local date ``day`` (:func:`~monitor.domain.daily.day_starts`)."""
    first: pd.Timestamp = day_starts(pd.DatetimeIndex([pd.Timestamp(day)]))[0]
    return first


def _iso_local(seconds: pd.Series) -> pd.Series:
    utc = pd.to_datetime(seconds.astype("int64"), unit="s", utc=True)
    times = utc.dt.tz_convert(LOCAL_TZ)
    text = times.dt.strftime("%Y-%m-%dT%H:%M:%S+08:00")
    # the offset the local time had where it was not UTC+8 (summer time: 1919, 1940-1949,
    # 1986-1991, UTC+9): the text reads back as the instant, each hour its own
    other = (times.dt.tz_localize(None) - utc.dt.tz_localize(None)) != pd.Timedelta(hours=8)
    if other.any():
        text[other] = pd.Series([t.isoformat() for t in times[other]], index=text.index[other])
    return text


def _site_filter(sites: Sequence[str] | None, column: str = "site") -> tuple[str, list[str]]:
    if not sites:
        return "", []
    return f" AND {column} IN ({','.join('?' * len(sites))})", list(sites)


def export_observations(
    ledger: Ledger, first: date, last: date, sites: Sequence[str] | None = None
) -> pd.DataFrame:
    """``site,time,parameter,value,unit,source,flags`` (source flags and envmon's QC flags)
    as one frame (the whole range in memory: ``envmon export`` streams with
    :func:`write_observations`)."""
    start, end = _local_bounds(first, last)
    where, params = _site_filter(sites, "o.site")
    frame = ledger.query(
        f"{_OBSERVATIONS_SELECT} WHERE o.period_end > ? AND o.period_end <= ?{where} "
        "ORDER BY o.site, o.period_end, o.parameter, o.source",
        [start, end, *params],
    )
    return _observation_table(frame)


_OBSERVATIONS_SELECT: Final = (
    "SELECT o.site, o.period_end, o.parameter, o.value, o.unit, o.source, o.flags, "
    "q.flags AS qc FROM observations o LEFT JOIN qc_flags q ON q.site = o.site AND "
    "q.parameter = o.parameter AND q.period_end = o.period_end"
)
_OBSERVATION_COLUMNS: Final = (
    "site",
    "period_end",
    "parameter",
    "value",
    "unit",
    "source",
    "flags",
    "qc",
)


def _observation_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The export's columns from rows of :data:`_OBSERVATIONS_SELECT`: the source's flags
    and envmon's QC flags in one cell (``;``-separated, each once, source's first)."""
    return pd.DataFrame(
        {
            "site": frame["site"],
            "time": _iso_local_distinct(frame["period_end"]) if len(frame) else [],
            "parameter": frame["parameter"],
            "value": frame["value"],
            "unit": frame["unit"],
            "source": frame["source"],
            "flags": _merged_flags(frame["flags"], frame["qc"]),
        }
    )


def _merged_flags(source: pd.Series, qc: pd.Series) -> list[str] | np.ndarray:
    """``source;qc`` with empty and repeated flags left out, each distinct pair of cells
    merged once (a few pairs recur over millions of rows)."""
    if not len(source):
        return []
    qc = qc.astype(object).where(qc.notna(), "")
    source_codes, source_cells = pd.factorize(source, use_na_sentinel=False)
    qc_codes, qc_cells = pd.factorize(qc, use_na_sentinel=False)
    pairs, inverse = np.unique(
        source_codes.astype(np.int64) * len(qc_cells) + qc_codes, return_inverse=True
    )
    width = len(qc_cells)
    merged = np.array(
        [_merge(source_cells[p // width], qc_cells[p % width]) for p in pairs.tolist()],
        dtype=object,
    )
    result: np.ndarray = merged[inverse.reshape(-1)]
    return result


def _merge(source: object, qc: object) -> str:
    return ";".join(dict.fromkeys(t for t in f"{source};{qc}".split(";") if t))


def _iso_local_distinct(seconds: pd.Series) -> pd.Series:
    """:func:`_iso_local` of each distinct instant once (the parameters of an hour share
    it), spread back over the rows."""
    instants, inverse = np.unique(seconds.to_numpy(dtype=np.int64), return_inverse=True)
    text = _iso_local(pd.Series(instants)).to_numpy(dtype=object)
    return pd.Series(text[inverse.reshape(-1)], index=seconds.index)


def export_hourly_aqi(
    ledger: Ledger,
    first: date,
    last: date,
    sites: Sequence[str] | None = None,
    standard: str = "official",
) -> pd.DataFrame:
    """``site,time,aqi,level,category,primary_pollutants,standard`` then the IAQIs, as one
    frame (``envmon export`` streams with :func:`write_hourly_aqi`)."""
    start, end = _local_bounds(first, last)
    where, params = _site_filter(sites)
    which, extra = _standard_filter(standard)
    frame = ledger.query(
        f"{_HOURLY_SELECT} WHERE {which} AND period_end > ? AND period_end <= ?{where} "
        "ORDER BY is_area, site, period_end",
        [*extra, start, end, *params],
    )
    return _hourly_table(frame)


_HOURLY_COLUMNS: Final = (
    "site",
    "period_end",
    "aqi",
    "level",
    "primary_pollutants",
    "standard",
    "is_area",
    "complete",
    "stations",
    *(f"iaqi_{p}" for p in AIR_PARAMETERS),
)
_HOURLY_SELECT: Final = f"SELECT {', '.join(_HOURLY_COLUMNS)} FROM hourly_aqi"


def _standard_filter(standard: str) -> tuple[str, list[str]]:
    return ("official = 1", []) if standard == "official" else ("standard = ?", [standard])


def _hourly_table(frame: pd.DataFrame) -> pd.DataFrame:
    level = frame["level"].to_numpy(dtype=np.int8) if len(frame) else np.zeros(0, np.int8)
    out = pd.DataFrame(
        {
            "site": frame["site"],
            "time": _iso_local_distinct(frame["period_end"]) if len(frame) else [],
            "aqi": frame["aqi"].astype("Int64") if len(frame) else [],
            "level": pd.Series(level).replace(0, pd.NA).astype("Int64"),
            "category": level_categories(level),
            "primary_pollutants": frame["primary_pollutants"],
            "standard": frame["standard"],
        }
    )
    for p in AIR_PARAMETERS:
        out[f"iaqi_{p}"] = frame[f"iaqi_{p}"].astype("Int64") if len(frame) else []
    out["complete"] = frame["complete"].astype(bool) if len(frame) else []
    out["area"] = frame["is_area"].astype(bool) if len(frame) else []
    # Area rows: the evaluation stations with a value the row rests on; empty for sites.
    out["stations"] = frame["stations"].astype("Int64") if len(frame) else []
    return out


def export_daily_aqi(
    ledger: Ledger,
    first: date,
    last: date,
    sites: Sequence[str] | None = None,
    standard: str = "official",
) -> pd.DataFrame:
    """``site,date,aqi,level,category,primary_pollutants,standard`` then statistics, as one
    frame (``envmon export`` streams with :func:`write_daily_aqi`)."""
    where, params = _site_filter(sites)
    which, extra = _standard_filter(standard)
    frame = ledger.query(
        f"{_DAILY_SELECT} WHERE {which} AND date >= ? AND date <= ?{where} "
        "ORDER BY is_area, site, date",
        [*extra, first.isoformat(), last.isoformat(), *params],
    )
    return _daily_table(frame)


_DAILY_COLUMNS: Final = (
    "site",
    "date",
    "aqi",
    "level",
    "primary_pollutants",
    "standard",
    "is_area",
    "complete",
    "stations",
    "exceedance_pollutants",
    "invalid_statistics",
    *DAILY_STATISTICS,
)
_DAILY_SELECT: Final = f"SELECT {', '.join(_DAILY_COLUMNS)} FROM daily_aqi"


def _daily_table(frame: pd.DataFrame) -> pd.DataFrame:
    level = frame["level"].to_numpy(dtype=np.int8) if len(frame) else np.zeros(0, np.int8)
    out = pd.DataFrame(
        {
            "site": frame["site"],
            "date": frame["date"],
            "aqi": frame["aqi"].astype("Int64") if len(frame) else [],
            "level": pd.Series(level).replace(0, pd.NA).astype("Int64"),
            "category": level_categories(level),
            "primary_pollutants": frame["primary_pollutants"],
            "standard": frame["standard"],
        }
    )
    for s in DAILY_STATISTICS:
        out[s] = frame[s] if len(frame) else []
    out["invalid_statistics"] = frame["invalid_statistics"] if len(frame) else []
    out["exceedance_pollutants"] = frame["exceedance_pollutants"] if len(frame) else []
    out["complete"] = frame["complete"].astype(bool) if len(frame) else []
    out["area"] = frame["is_area"].astype(bool) if len(frame) else []
    # Area rows: the evaluation stations with a value the row rests on; empty for sites.
    out["stations"] = frame["stations"].astype("Int64") if len(frame) else []
    return out


#: Rows read, formatted and written at a time by ``envmon export`` (the ``write_*``
#: functions): what the export holds in memory is bounded by this, whatever the range.
BATCH_ROWS: Final = 20_000
#: Distinct instants of the range an observation read asks for at a time (one site's).
INSTANTS_PER_READ: Final = 400
#: Above this many (site, instant) seeks per row of the range (sites sampled at a few of
#: its instants: daily water samples beside hourly air stations), the observations are
#: read in one sorted SELECT instead (hourly stations: 1/6 seek per row; 2,000 daily sites
#: over a year: 24 seeks per row, 6.6x the sorted read's CPU time).
SPARSE_SEEKS_PER_ROW: Final = 2


#: SQLite's page cache while exporting [KiB]: each piece's pages are read about once (the
#: ledger's 256 MiB cache would only grow with the range: 306 MB peak RSS for 42 days of 400
#: stations, 111 MB with this, and no slower).
EXPORT_CACHE_KIB: Final = 16_384


@contextmanager
def _export_cache(ledger: Ledger) -> Iterator[None]:
    """The connection's page cache at :data:`EXPORT_CACHE_KIB` for the block (then as it
    was: the pages above it are let go), and the block's reads in one read transaction:
    the pieces see one snapshot of the ledger (WAL), as the whole-range SELECT did, whatever
    another connection writes meanwhile (no row half in the export)."""
    connection = ledger.connection
    (before,) = connection.execute("PRAGMA cache_size").fetchone()
    connection.execute(f"PRAGMA cache_size=-{EXPORT_CACHE_KIB}")
    began = not connection.in_transaction  # (a caller's transaction is its own)
    try:
        if began:
            connection.execute("BEGIN")  # deferred: the snapshot is the first read's
        yield
    finally:
        try:
            if began and connection.in_transaction:
                connection.execute("COMMIT")  # (read only: nothing to write)
        finally:
            connection.execute(f"PRAGMA cache_size={int(before)}")


_P = ParamSpec("_P")


def _one_snapshot(
    write: Callable[Concatenate[Ledger, _P], int],
) -> Callable[Concatenate[Ledger, _P], int]:
    """``write`` run in :func:`_export_cache` (one snapshot, a bounded page cache)."""

    @functools.wraps(write)
    def written(ledger: Ledger, /, *args: _P.args, **kwargs: _P.kwargs) -> int:
        with _export_cache(ledger):
            return write(ledger, *args, **kwargs)

    return written


@_one_snapshot
def write_observations(
    ledger: Ledger,
    first: date,
    last: date,
    out: TextIO,
    sites: Sequence[str] | None = None,
    batch_rows: int | None = None,
) -> int:
    """Write :func:`export_observations`' CSV to ``out`` (the same bytes) piece by piece;
    return the rows written.

    The order is the whole range's (site, time, parameter, source) as before, but read
    without sorting the range: the ledger's observations are keyed by time first, so each
    site is read by seeks on its (time, site) keys, :data:`INSTANTS_PER_READ` instants at
    a time, in key order (no temporary B-tree). Memory: :data:`BATCH_ROWS` rows, the
    range's distinct times (8 bytes each) and :data:`EXPORT_CACHE_KIB` of SQLite cache."""
    start, end = _local_bounds(first, last)
    rows = _observation_rows(ledger.connection, start, end, sites)
    header = ("site", "time", "parameter", "value", "unit", "source", "flags")
    merged: dict[tuple[object, object], str] = {}  # flags of distinct (source, QC) pairs

    def cells(batch: list[tuple[Any, ...]], text: dict[int, str]) -> Iterator[tuple[Any, ...]]:
        if len(merged) > 100_000:  # (bounded: odd ledgers with ever new flag texts)
            merged.clear()
        for pair in {(r[6], r[7]) for r in batch} - merged.keys():
            merged[pair] = _merge(pair[0], "" if pair[1] is None else pair[1])
        return (
            (site, text[t], parameter, value, unit, source, merged[flags, qc])
            for site, t, parameter, value, unit, source, flags, qc in batch
        )

    return _write_rows(out, rows, header, batch_rows, cells)


@_one_snapshot
def write_hourly_aqi(
    ledger: Ledger,
    first: date,
    last: date,
    out: TextIO,
    sites: Sequence[str] | None = None,
    standard: str = "official",
    batch_rows: int | None = None,
) -> int:
    """Write :func:`export_hourly_aqi`'s CSV to ``out`` (the same bytes) piece by piece,
    one site's range at a time on its key (sites, then areas); return the rows written."""
    start, end = _local_bounds(first, last)
    which, extra = _standard_filter(standard)
    query = (
        f"{_HOURLY_SELECT} WHERE site = ? AND is_area = ? AND {which} "
        "AND period_end > ? AND period_end <= ? ORDER BY period_end"
    )
    rows = _site_rows(ledger.connection, "hourly_aqi", query, [*extra, start, end], sites)
    header = list(_hourly_table(pd.DataFrame([], columns=list(_HOURLY_COLUMNS))).columns)

    def cells(batch: list[tuple[Any, ...]], text: dict[int, str]) -> Iterator[tuple[Any, ...]]:
        levels = np.array([r[3] for r in batch], dtype=np.int8)
        categories = level_categories(levels).tolist()
        # as to_csv writes the frame: Int64 cells as integers or empty, the level 0 (no AQI)
        # empty, booleans True/False
        return (
            (site, text[t], _whole(aqi), level or None, category, primary, standard,
             *map(_whole, iaqi), bool(complete), bool(is_area), _whole(stations))
            for (site, t, aqi, level, primary, standard, is_area, complete, stations, *iaqi),
            category in zip(batch, categories, strict=True)
        )  # fmt: skip

    return _write_rows(out, rows, header, batch_rows, cells)


def _write_rows(
    out: TextIO,
    rows: Generator[tuple[Any, ...], None, None],
    header: Sequence[str],
    batch_rows: int | None,
    cells: Callable[[list[tuple[Any, ...]], dict[int, str]], Iterable[Sequence[Any]]],
) -> int:
    """``rows`` as CSV, :data:`BATCH_ROWS` (``batch_rows``) at a time, by :mod:`csv` as
    pandas' ``to_csv`` writes its cells (floats by repr, None empty, minimal quoting,
    ``"\\n"``): ``cells`` makes a batch's output rows, given the text of each distinct time
    of the batch (a row's second value) formatted once; the header once (alone when there
    are no rows, as the whole-range frame writes it). Returns the rows written."""
    batch_rows = batch_rows or BATCH_ROWS  # (read here: a test may set a smaller one)
    written = 0
    try:
        while batch := list(islice(rows, batch_rows)):
            instants = sorted({r[1] for r in batch})
            text = dict(
                zip(instants, _iso_local(pd.Series(instants, dtype=np.int64)), strict=True)
            )
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\n")
            if not written:
                writer.writerow(header)
            writer.writerows(cells(batch, text))
            out.write(buffer.getvalue())
            written += len(batch)
    finally:  # (a reader gone, ``| head``: the open cursor is let go before the ledger)
        rows.close()
    if not written:
        out.write(",".join(header) + "\n")
    return written


def _whole(value: object) -> object:
    """An Int64 cell as pandas writes it: None (empty) or the integer; a stored value that
    is not a whole number is refused as ``astype("Int64")`` refuses it."""
    if value is None or isinstance(value, int):
        return value
    number = float(value)  # type: ignore[arg-type]
    if not number.is_integer():
        raise ValueError(f"stored value {value!r} is not a whole number; expected an integer")
    return int(number)


@_one_snapshot
def write_daily_aqi(
    ledger: Ledger,
    first: date,
    last: date,
    out: TextIO,
    sites: Sequence[str] | None = None,
    standard: str = "official",
    batch_rows: int | None = None,
) -> int:
    """Write :func:`export_daily_aqi`'s CSV to ``out`` (the same bytes) piece by piece,
    one site's range at a time on its key (sites, then areas); return the rows written."""
    which, extra = _standard_filter(standard)
    query = (
        f"{_DAILY_SELECT} WHERE site = ? AND is_area = ? AND {which} "
        "AND date >= ? AND date <= ? ORDER BY date"
    )
    bounds = [*extra, first.isoformat(), last.isoformat()]
    rows = _site_rows(ledger.connection, "daily_aqi", query, bounds, sites)
    return _write_csv(out, rows, _DAILY_COLUMNS, _daily_table, batch_rows)


def _write_csv(
    out: TextIO,
    rows: Iterable[tuple[Any, ...]],
    columns: Sequence[str],
    table: Callable[[pd.DataFrame], pd.DataFrame],
    batch_rows: int | None,
) -> int:
    """``table`` of ``batch_rows`` rows at a time as CSV, the header once (alone when there
    are no rows, as the whole-range frame writes it)."""
    batch_rows = batch_rows or BATCH_ROWS  # (read here: a test may set a smaller one)
    written = 0
    iterator = iter(rows)
    try:
        while batch := list(islice(iterator, batch_rows)):
            frame = table(pd.DataFrame(batch, columns=list(columns)))
            out.write(frame.to_csv(index=False, header=not written, lineterminator="\n"))
            written += len(batch)
    finally:  # (a reader gone, ``| head``: the open cursor is let go before the ledger)
        close = getattr(iterator, "close", None)
        if close is not None:
            close()
    if not written:
        empty = table(pd.DataFrame([], columns=list(columns)))
        out.write(empty.to_csv(index=False, lineterminator="\n"))
    return written


def _observation_rows(
    connection: sqlite3.Connection, start: int, end: int, sites: Sequence[str] | None
) -> Generator[tuple[Any, ...], None, None]:
    """Rows of :data:`_OBSERVATIONS_SELECT` in (site, time, parameter, source) order."""
    instants: list[int] = []  # the range's distinct times: 8,760 a year (70 KB)
    after = start
    while True:
        (instant,) = connection.execute(
            "SELECT min(period_end) FROM observations WHERE period_end > ? AND period_end <= ?",
            (after, end),
        ).fetchone()
        if instant is None:
            break
        instants.append(int(instant))
        after = instant
    if not instants:
        return
    if sites:
        ordered = sorted(set(sites))  # (code point order: SQLite's BINARY order of UTF-8)
    else:
        ordered = [
            str(r[0])
            for r in connection.execute(
                "SELECT DISTINCT site FROM observations WHERE period_end > ? "
                "AND period_end <= ? ORDER BY site",
                (start, end),
            )
        ]
    where, params = _site_filter(sites, "site")
    (rows,) = connection.execute(  # (the range's keys on the time index: no sort)
        f"SELECT count(*) FROM observations WHERE period_end > ? AND period_end <= ?{where}",
        [start, end, *params],
    ).fetchone()
    if len(ordered) * len(instants) > SPARSE_SEEKS_PER_ROW * rows:
        # sparse sites (few of the range's instants each): a seek per site and instant
        # would cost more than sorting the range's rows (SQLite's sorter: bounded memory,
        # spilled to temporary files) as the whole-range export did
        where, params = _site_filter(sites, "o.site")
        yield from connection.execute(
            f"{_OBSERVATIONS_SELECT} WHERE o.period_end > ? AND o.period_end <= ?{where} "
            "ORDER BY o.site, o.period_end, o.parameter, o.source",
            [start, end, *params],
        )
        return
    for site in ordered:
        for begin in range(0, len(instants), INSTANTS_PER_READ):
            some = instants[begin : begin + INSTANTS_PER_READ]
            yield from connection.execute(
                f"{_OBSERVATIONS_SELECT} WHERE o.site = ? AND o.period_end IN "
                f"({','.join('?' * len(some))}) ORDER BY o.period_end, o.parameter, o.source",
                [site, *some],
            )


def _site_rows(
    connection: sqlite3.Connection,
    table: str,
    query: str,
    bounds: list[Any],
    sites: Sequence[str] | None,
) -> Generator[tuple[Any, ...], None, None]:
    """Rows of ``query`` (``site = ? AND is_area = ?`` then ``bounds``) for each site of
    ``table`` (or of ``sites``) in order: the sites' rows, then the areas'."""
    if sites:
        ordered = sorted(set(sites))
    else:
        ordered = []
        site = connection.execute(f"SELECT min(site) FROM {table}").fetchone()[0]
        while site is not None:
            ordered.append(site)
            site = connection.execute(
                f"SELECT min(site) FROM {table} WHERE site > ?", (site,)
            ).fetchone()[0]
    for is_area in (0, 1):
        for site in ordered:
            yield from connection.execute(query, [site, is_area, *bounds])


def source_status(ledger: Ledger) -> pd.DataFrame:
    """Per source: last success, last failure, failures since the last success, watermark,
    and the gaps its latest successful fetch reported as still open (``gap:`` notes).

    A batch whose rows were all refused at intake (fetch-log status ``refused``) is neither
    a success nor a failure of the fetch: it is counted in ``refused_since_success``, with
    the first line of its note (how many rows) as ``last_refused_note``."""
    log = ledger.query(
        "SELECT source, status, finished_at, error, notes FROM fetch_log ORDER BY id"
    )
    sources = ledger.query("SELECT source, collector, kind FROM sources ORDER BY source")
    rows = []
    for source, collector, kind in sources.itertuples(index=False):
        entries = log[log["source"] == source]
        ok = entries[entries["status"].isin(["ok", "empty"])]
        failed = entries[entries["status"] == "failed"]
        refused = entries[entries["status"] == "refused"]
        last_ok = int(ok["finished_at"].iloc[-1]) if len(ok) else None
        since_ok = failed[failed["finished_at"] >= (last_ok or 0)] if last_ok else failed
        refused_since = refused[refused["finished_at"] >= last_ok] if last_ok else refused
        mark = ledger.watermark(source)
        rows.append(
            {
                "source": source,
                "collector": collector,
                "kind": kind,
                "last_success": _fmt(last_ok),
                "last_failure": _fmt(int(failed["finished_at"].iloc[-1]) if len(failed) else None),
                "failures_since_success": len(since_ok),
                "last_error": failed["error"].iloc[-1] if len(failed) else "",
                "refused_since_success": len(refused_since),
                "last_refused_note": str(refused["notes"].iloc[-1]).split("\n", 1)[0]
                if len(refused)
                else "",
                "latest_data": "" if mark is None else _fmt(int(mark.timestamp())),
                # gaps the collector could not fill, as its latest successful fetch said
                "open_gaps": "; ".join(
                    line
                    for line in (str(ok["notes"].iloc[-1]) if len(ok) else "").splitlines()
                    if line.startswith("gap:")
                ),
            }
        )
    return pd.DataFrame(rows)


def _fmt(seconds: int | None) -> str:
    if seconds is None:
        return ""
    moment = pd.Timestamp(seconds, unit="s", tz="UTC").tz_convert(LOCAL_TZ)
    if moment.utcoffset() != pd.Timedelta(hours=8):  # (summer time, as _iso_local)
        return moment.isoformat()
    return moment.strftime("%Y-%m-%dT%H:%M:%S+08:00")


def site_status(ledger: Ledger, now: datetime) -> pd.DataFrame:
    """Per site: completeness of the last 24 hours (air: hourly values of the six
    pollutants present / 144) and QC flags in that window."""
    end = int(now.timestamp())
    start = end - 24 * 3600
    counts = ledger.query(
        "SELECT site, count(DISTINCT parameter || period_end) AS n, max(period_end) AS latest "
        "FROM observations WHERE value IS NOT NULL AND period_end > ? AND period_end <= ? "
        "AND parameter IN "
        f"({','.join('?' * len(AIR_PARAMETERS))}) GROUP BY site ORDER BY site",
        [start, end, *AIR_PARAMETERS],
    )
    flags = ledger.query(
        "SELECT site, count(*) AS flagged FROM qc_flags WHERE period_end > ? AND period_end <= ? "
        "GROUP BY site",
        [start, end],
    )
    out = counts.merge(flags, on="site", how="left").fillna({"flagged": 0})
    out["completeness_24h"] = (out["n"] / (24 * len(AIR_PARAMETERS))).round(3)
    out["latest"] = [_fmt(int(v)) for v in out["latest"]]
    out["qc_flags_24h"] = out["flagged"].astype(int)
    return out[["site", "completeness_24h", "latest", "qc_flags_24h"]]


__all__ = [
    "BATCH_ROWS",
    "export_daily_aqi",
    "export_hourly_aqi",
    "export_observations",
    "site_status",
    "source_status",
    "write_daily_aqi",
    "write_hourly_aqi",
    "write_observations",
]
