"""The texts SQLite sends per hour of an evaluation window, and the frame made from them
(issue 17; read by :class:`~monitor.ledger.evaluation_input.EvaluationInput`).

* **Constant columns stay in SQLite.** Per hour, SQLite sends the source, the period
  length and the ingestion time once when every row of the hour has the same; the
  flags, and those columns where they vary, come from a second query for those hours
  only (clean hours are the rule). Python splits three texts per hour (site, parameter,
  value) instead of eight.
* **Values as exact text.** Integral values (most published concentrations) go as
  integers, the others with 18 significant digits (``printf('%!.17e')``): bit for bit the
  stored doubles. Not ``quote()``: its 15 digits are kept when SQLite's own text-to-double
  conversion reads them back to the stored double, which it does for about one
  full-precision double in 100,000 that a correctly rounded parse reads one unit in the
  last place off (SQLite 3.40: ``quote(0.5686294233868741)`` is ``0.568629423386874``).
  They are parsed by pandas' CSV reader, whose number parser (``fast_float`` from pandas
  3.1 on) rounds correctly, as Python's ``float()``, and is about six times as fast as
  numpy's text parsing (used with older pandas, whose parser may miss the last bit).
* **Codes split in C.** The sites and parameters of the window are split and numbered by
  the same CSV reader (one cell a line, a categorical), about 2.5 times as fast as
  splitting each hour's text in Python; a text holding a character the reader could take
  for something else (a line end, a quote) is split in Python as before.

Hours that do not split into their rows (a separator inside a code, a value that does not
parse, an infinity) are read row by row (:func:`read_observation_rows`). A value stored as
a text or a blob (SQLite's REAL affinity keeps a text that is not a number, ``'abc'``,
``''``, ``'nan'``, ``'inf'``, and any blob, as it is; only another tool's edit puts one
there) is sent as a text that does not parse, never as the ``0.0`` that ``printf`` makes
of it: its window is read row by row, where it is refused with its row named
(:class:`StoredValueError`).
"""

from __future__ import annotations

import csv
import io
import re
import sqlite3
import warnings
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from monitor.ledger.observation_rows import StoredValueError, read_observation_rows

__all__ = [
    "Fetched",
    "StoredValueError",
    "fetch",
    "fetch_snapshot",
    "read_observation_rows",
    "read_rows",
    "read_rows_one_by_one",
    "rows_from_fetched",
]

_SEP: Final = "\x1f"

#: One row per hour: the texts of site, parameter and value, and for the other columns
#: whether they are the same on every row of the hour (then that value stands for them).
_HOURS_SQL: Final = (
    "SELECT count(*), period_end, group_concat(site, char(31)), "
    "group_concat(parameter, char(31)), "
    "group_concat(CASE WHEN value IS NULL THEN 'nan' "
    "WHEN value = CAST(value AS INTEGER) AND value != 0 AND abs(value) < 1e15 "
    "THEN CAST(value AS INTEGER) WHEN typeof(value) IN ('real', 'integer') "
    "THEN printf('%!.17e', value) ELSE 'not a number' END, ','), "
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


#: Whether pandas' CSV reader parses numbers correctly rounded (pandas 3.1 parses every
#: float with ``fast_float``; before, the default "high" parser may miss the last bit).
_CSV_PARSES_EXACTLY: Final = tuple(
    int(part) for part in re.findall(r"\d+", pd.__version__)[:2]
) >= (3, 1)


#: What :func:`fetch` returns: the :data:`_HOURS_SQL` rows and the :data:`_VARYING_SQL`
#: texts by period end.
Fetched = tuple[list[tuple[Any, ...]], dict[int, tuple[Any, ...]]]


def fetch_snapshot(
    connection: sqlite3.Connection, lo: int, hi: int, sites: frozenset[str] | None
) -> Fetched:
    """:func:`fetch` in one read transaction (both queries see the same rows). Only SQLite
    work and the texts it returns: the read-ahead thread seldom holds the GIL."""
    connection.execute("BEGIN")
    try:
        return fetch(connection, lo, hi, sites)
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


def fetch(
    connection: sqlite3.Connection, lo: int, hi: int, sites: frozenset[str] | None
) -> Fetched:
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


def read_rows(
    connection: sqlite3.Connection,
    lo: int,
    hi: int,
    sites: frozenset[str] | None,
    fetched: Fetched | None = None,
) -> pd.DataFrame:
    """Rows of (lo, hi] (times as epoch seconds) from SQLite (from ``fetched``, the texts
    read ahead, when given)."""
    hours, texts = fetch(connection, lo, hi, sites) if fetched is None else fetched
    frame = _from_hours(hours, texts)
    if frame is not None:
        return frame
    return read_rows_one_by_one(connection, lo, hi, sites)


def rows_from_fetched(fetched: Fetched) -> pd.DataFrame | None:
    """The frame of texts read ahead (:func:`fetch_snapshot`), without SQLite: None when an
    hour does not split into its rows (then :func:`read_rows_one_by_one` reads them)."""
    return _from_hours(*fetched)


def read_rows_one_by_one(
    connection: sqlite3.Connection, lo: int, hi: int, sites: frozenset[str] | None
) -> pd.DataFrame:
    """Rows of (lo, hi] read row by row (:func:`read_observation_rows`): for windows whose
    per-hour texts do not split."""
    where, params = _where(lo, hi, sites)
    return read_observation_rows(
        connection, where, params, order_by="period_end, site, parameter, source"
    )


def _categorical(texts: list[str | None], counts: list[int]) -> pd.Categorical[Any] | None:
    """Categorical of per-hour texts (cells joined by the separator), categories sorted;
    None when a text does not split into its hour's rows. Split by pandas' CSV reader
    (:func:`_split_codes`) when the texts allow, else hour by hour (never a Python string
    per row of the whole window at once); the hours' distinct values are then numbered
    together by one factorisation instead of a dictionary look-up each."""
    if all(texts):
        joined = _SEP.join(texts)  # type: ignore[arg-type]
        if _splits_plainly(joined):
            return _split_codes(joined, sum(counts))
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


#: Characters pandas' CSV reader could read as other than a cell's text (line ends, its
#: field separator ``\x1e``, quotes, escapes, the NUL that ends a C string, the byte order
#: mark it drops at the start of its input).
_CSV_SPECIAL: Final = ("\r", "\n", "\x1e", '"', "\\", "\x00", "\ufeff")


def _splits_plainly(joined: str) -> bool:
    """Whether the CSV reader splits ``joined`` into exactly its cells: none holds a
    :data:`_CSV_SPECIAL` character and none is empty (an empty cell would read as missing).
    Substring tests, not a regular expression: a window's sites are megabytes of text."""
    return not (
        joined.startswith(_SEP)
        or joined.endswith(_SEP)
        or _SEP + _SEP in joined
        or any(character in joined for character in _CSV_SPECIAL)
    )


def _split_codes(joined: str, total: int) -> pd.Categorical[Any] | None:
    """Categorical (categories sorted) of the cells of ``joined`` (separated by
    :data:`_SEP`), split and numbered by pandas' CSV reader: one cell a line, no Python
    string per row. None unless exactly ``total`` cells."""
    try:
        column = pd.read_csv(
            io.StringIO(joined),
            header=None,
            names=["code"],
            dtype="category",
            engine="c",
            lineterminator=_SEP,
            sep="\x1e",
            quoting=csv.QUOTE_NONE,
            keep_default_na=False,
            na_values=[],
            skip_blank_lines=False,
            index_col=False,
        )["code"]
    except (ValueError, pd.errors.ParserError):
        return None
    found: pd.Categorical[Any] = column.array
    if len(found) != total or bool(found.isna().any()):
        return None
    if not pd.api.types.is_string_dtype(found.categories.dtype):
        return None  # all numbers ("1e5") or booleans: read as numbers, the text is lost
    if not found.categories.is_monotonic_increasing:
        found = found.reorder_categories(sorted(found.categories))
    return found


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
    if dtype is np.float64 and _CSV_PARSES_EXACTLY:
        return _floats(texts, total)
    try:
        with warnings.catch_warnings():  # unparsable text: numpy stops early, warns
            warnings.simplefilter("ignore", DeprecationWarning)
            parsed = np.fromstring(",".join(texts), dtype=dtype, sep=",")
    except ValueError:  # what later numpy versions raise instead
        return None
    return parsed if len(parsed) == total else None


def _floats(texts: list[str], total: int) -> npt.NDArray[np.float64] | None:
    """Floats of the per-hour texts (cells joined by ``,``), parsed by pandas' CSV reader
    (one cell a line: ``,`` ends a line); None unless exactly ``total`` numbers."""
    try:
        column = pd.read_csv(
            io.StringIO(",".join(texts)),
            header=None,
            names=["value"],
            dtype=np.float64,
            engine="c",
            lineterminator=",",
            sep="\x1e",
            quoting=csv.QUOTE_NONE,
            keep_default_na=False,
            na_values=["nan"],
            skip_blank_lines=False,
            index_col=False,
        )["value"]
    except (ValueError, pd.errors.ParserError):  # not a number: read row by row
        return None
    parsed: npt.NDArray[np.float64] = column.to_numpy(dtype=np.float64)
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
