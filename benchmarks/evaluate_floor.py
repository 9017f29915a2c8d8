"""What SQLite alone costs an evaluation run (``bench_evaluate --floor``, issue 17).

Run by ``python -m benchmarks.bench_evaluate ... --floor`` (or on its own:
``python -m benchmarks.evaluate_floor TEMPLATE EVALUATED [--repeat 3] [--config FILE]
[--rate R]``), on the ledger the evaluation benchmark builds (``TEMPLATE``: every site-day
dirty) and a copy of it that the evaluation has completed (``EVALUATED``). Each figure is
the best (least CPU) of ``--repeat`` passes, each on a fresh copy of ``TEMPLATE`` opened by
:meth:`Ledger.open` (the ledger's pragmas: WAL, ``synchronous=NORMAL``, 256 MiB cache) with
``wal_autocheckpoint`` as the evaluation sets it, in one thread (CPU seconds =
``time.process_time``):

* **read floor**: the dirty days' query, then the evaluation's observation queries
  (:func:`~monitor.ledger.evaluation_hours.fetch`: per-hour ``group_concat`` texts, and
  the varying columns' texts) over exactly the windows the evaluation reads from SQLite
  (its chunks of dates, each window's rows before the previous window's end taken from
  that window, as :class:`~monitor.ledger.evaluation_input.EvaluationInput` does), every
  row fetched; then the same with the texts turned into the observation frame
  (:func:`~monitor.ledger.evaluation_hours.rows_from_fetched`), and the evaluation's whole
  reader (``EvaluationInput.observations`` per chunk: overlap reuse, times converted).
* **write floor**: the evaluated ledger's ``qc_flags``, ``hourly_aqi`` and ``daily_aqi``
  rows written into a fresh copy chunk by chunk in the evaluation's transactions (per
  chunk: the QC flags' delete by key range with the outbox queue of the days'
  observations; the QC rows; the hourly rows with their outbox queue; the daily rows with
  their outbox queue and the dirty days' delete; the evaluation results' transaction),
  ``INSERT … VALUES (…) × 64 … ON CONFLICT (key) DO UPDATE`` with every value bound (the
  evaluation writes the columns constant in a rule set as literals: a little less binding),
  the parameters prepared before the clock starts. Then the same rows through the
  evaluation's own write functions (:func:`~monitor.ledger.evaluation_output.write_derived`,
  :func:`~monitor.ledger.evaluation_output.delete_qc_flags`, ``record_evaluation_results``)
  from frames: what the evaluation's writes cost with their Python.
* **wide hourly rows**: the write floor with ``hourly_aqi`` replaced by a scratch table of
  one row per (site, local date, standard): the key, ``official``, ``is_area`` and
  ``computed_at``, and the day's hours packed: ``hours`` a BLOB of uint8 hour numbers
  (label hour 0-23, local), ``numbers`` a BLOB of a float64 array (hours × 10: aqi, level,
  complete, stations, the six IAQIs; C order, native byte order), ``primary_pollutants``
  the hours' texts joined by U+001F. The packing's CPU is shown apart. Then the read back a
  publisher would do: every narrow row into numpy arrays (one per column) against every
  wide row unpacked into the same arrays.
* **ceiling**: site-days / ((read floor + write floor) CPU / 2 cores), for today's table and
  the wide one, beside the evaluation's measured rate and the aim (10,000 site-days/s).
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

import monitor.service.evaluate as evaluate_module
from monitor.ledger import Ledger
from monitor.ledger.evaluation_hours import fetch, rows_from_fetched
from monitor.ledger.evaluation_input import EvaluationInput, _window_key
from monitor.ledger.evaluation_output import (
    _DELETE_QC_SQL,
    _LOCAL_OFFSET_S,
    ROWS_PER_STATEMENT,
    delete_qc_flags,
    write_derived,
)
from monitor.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
AIM: Final = 10_000  # site-days/s (issue 17)
CORES: Final = 2
DAY_S: Final = 86_400

KEYS: Final = {
    "hourly_aqi": ("site", "period_end", "standard"),
    "daily_aqi": ("site", "date", "standard"),
    "qc_flags": ("site", "parameter", "period_end"),
}
#: The packed columns of a wide row, in the order of its ``numbers`` array.
WIDE_NUMBERS: Final = (
    "aqi",
    "level",
    "complete",
    "stations",
    "iaqi_so2",
    "iaqi_no2",
    "iaqi_co",
    "iaqi_o3",
    "iaqi_pm10",
    "iaqi_pm2_5",
)
WIDE_TABLE: Final = "hourly_aqi_wide"
WIDE_SQL: Final = f"""CREATE TABLE {WIDE_TABLE} (
    site TEXT NOT NULL,
    date TEXT NOT NULL,
    standard TEXT NOT NULL,
    official INTEGER NOT NULL,
    is_area INTEGER NOT NULL,
    computed_at INTEGER NOT NULL,
    hours BLOB NOT NULL,
    numbers BLOB NOT NULL,
    primary_pollutants TEXT NOT NULL,
    PRIMARY KEY (site, date, standard)
) WITHOUT ROWID"""
WIDE_COLUMNS: Final = (
    "site",
    "date",
    "standard",
    "official",
    "is_area",
    "computed_at",
    "hours",
    "numbers",
    "primary_pollutants",
)
_SEP: Final = "\x1f"


# ------------------------------------------------------------------------- the plan


@dataclass
class Chunk:
    """One chunk of the evaluation run: its dirty days (site, date, marked), its dates, the
    window :meth:`EvaluationInput.observations` is asked for, and the part of it read from
    SQLite (the rest is taken from the previous window)."""

    dirty: pd.DataFrame
    dates: list[str]
    window: tuple[datetime, datetime, list[str]] | None
    fresh: tuple[int, int, frozenset[str] | None] | None


def plan(ledger: Ledger, settings: Settings) -> list[Chunk]:
    """The chunks :func:`~monitor.service.evaluate.evaluate_dirty` evaluates (same
    constants, read when called) and the SQLite reads of its reader (no other connection
    commits during the benchmark, so each window's overlap with the previous one is reused
    whenever :class:`EvaluationInput` would)."""
    ev = evaluate_module
    dirty = ledger.dirty_days(marked=True).astype({"site": object, "date": object})
    if dirty.empty:
        return []
    membership = ev.area_membership(settings) if settings.service.evaluate_areas else {}
    dates = sorted(dirty["date"].unique())
    step = max(1, min(ev.CHUNK_DAYS, ev.CHUNK_SITE_DAYS // max(1, dirty["site"].nunique())))
    chunks = []
    last: tuple[int, int, frozenset[str] | None] | None = None
    for i in range(0, len(dates), step):
        part = dirty[dirty["date"].isin(dates[i : i + step])]
        window = ev._chunk_window(part, membership)
        fresh = None
        if window is not None:
            lo, hi, sites = _window_key(*window)
            if last is not None and (
                last[0] <= lo < last[1] <= hi
                and (last[2] is None or (sites is not None and sites <= last[2]))
            ):
                fresh = (last[1], hi, sites)
            elif last is None or (lo, hi, sites) != last:
                fresh = (lo, hi, sites)
            last = (lo, hi, sites)
        chunks.append(Chunk(part, list(dates[i : i + step]), window, fresh))
    return chunks


# ------------------------------------------------------------------------- timing


@dataclass
class Clock:
    """Wall and CPU seconds summed over timed sections."""

    wall: float = 0.0
    cpu: float = 0.0
    parts: dict[str, float] = field(default_factory=dict)  # CPU seconds by name

    @contextmanager
    def timed(self, name: str = "") -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            spent = time.process_time() - cpu
            self.wall += time.perf_counter() - wall
            self.cpu += spent
            if name:
                self.parts[name] = self.parts.get(name, 0.0) + spent


@contextmanager
def opened(template: Path, copy: Path, keep: bool = False) -> Iterator[Ledger]:
    """A fresh copy of ``template`` opened as the evaluation opens it (migrated now, before
    any timing), with the evaluation run's WAL checkpoint interval; removed after unless
    ``keep``."""
    shutil.copyfile(template, copy)
    with Ledger.open(copy) as ledger:
        ledger.connection.execute(f"PRAGMA wal_autocheckpoint={evaluate_module.CHECKPOINT_PAGES}")
        yield ledger
    if not keep:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{copy}{suffix}").unlink(missing_ok=True)


# ------------------------------------------------------------------------- reads


def read_floor(ledger: Ledger, chunks: Sequence[Chunk], frames: bool) -> tuple[int, Clock]:
    """Rows the evaluation's read queries return (the dirty days' query, then each chunk's
    :func:`fetch`), fetched; with ``frames`` each chunk's texts also made into the frame."""
    clock = Clock()
    db, rows = ledger.connection, 0
    with clock.timed("dirty days"):
        db.execute("SELECT site, date, marked FROM dirty_days ORDER BY date, site").fetchall()
        db.execute("SELECT source FROM sources WHERE kind = 'model'").fetchall()
    for chunk in chunks:
        if chunk.fresh is None:
            continue
        with clock.timed("observations"):
            fetched = fetch(db, *chunk.fresh)
        rows += sum(int(hour[0]) for hour in fetched[0])
        if frames:
            with clock.timed("frame"):
                frame = rows_from_fetched(fetched)
            if frame is None or len(frame) != sum(int(hour[0]) for hour in fetched[0]):
                raise RuntimeError("an hour's texts did not split into its rows")
    return rows, clock


def read_whole(ledger: Ledger, chunks: Sequence[Chunk]) -> tuple[int, Clock]:
    """The evaluation's whole reader: :meth:`EvaluationInput.observations` per chunk (no
    read-ahead); rows read from SQLite."""
    clock = Clock()
    with EvaluationInput(ledger.connection) as reader:
        for chunk in chunks:
            if chunk.window is not None:
                start, end, sites = chunk.window
                with clock.timed("reader"):
                    reader.observations(start=start, end=end, sites=sites)
        return reader.rows_read, clock


# ------------------------------------------------------------------------- rows written


def local_day(seconds: npt.NDArray[np.int64]) -> npt.NDArray[np.str_]:
    """The local (UTC+8) date of hourly labels as ``YYYY-MM-DD`` (the evaluation's day of an
    hour: the hour labelled 00:00 belongs to the day it starts)."""
    days = (seconds + _LOCAL_OFFSET_S) // DAY_S
    out: npt.NDArray[np.str_] = days.astype("datetime64[D]").astype(str)
    return out


def derived(path: Path, table: str) -> pd.DataFrame:
    """Every row of ``table`` of an evaluated ledger, in key order, with the dtypes the
    evaluation writes (REAL columns float, NULL as NaN) and a ``_day`` column (local date)."""
    with closing(sqlite3.connect(path)) as db:
        info = db.execute(f"PRAGMA table_info({table})").fetchall()
        names = [str(r[1]) for r in info]
        rows = db.execute(
            f"SELECT {', '.join(names)} FROM {table} ORDER BY {', '.join(KEYS[table])}"
        ).fetchall()
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    frame = pd.DataFrame(index=pd.RangeIndex(len(rows)))
    for (_, name, kind, notnull, _, _), values in zip(info, columns, strict=True):
        if kind.upper() == "REAL" or (kind.upper() == "INTEGER" and not notnull):
            frame[name] = np.array(values, dtype=float) if rows else np.zeros(0)
        elif kind.upper() == "INTEGER":
            frame[name] = np.array(values, dtype=np.int64) if rows else np.zeros(0, np.int64)
        else:
            frame[name] = np.array(values, dtype=object)
    if table == "daily_aqi":
        frame["_day"] = frame["date"].to_numpy()
    else:
        frame["_day"] = local_day(frame["period_end"].to_numpy(dtype=np.int64))
    return frame


def _params(frame: pd.DataFrame, columns: Sequence[str]) -> list[list[Any]]:
    """Rows as SQLite values (NaN → NULL), flattened 64 rows to a statement's parameters
    (the last statement shorter)."""
    cells = np.empty((len(frame), len(columns)), dtype=object)
    for j, name in enumerate(columns):
        data = frame[name].to_numpy()
        column = data.astype(object)
        if data.dtype.kind == "f":
            column[np.isnan(data)] = None
        elif data.dtype.kind in "iub":
            column = data.astype(np.int64).astype(object)
        cells[:, j] = column
    per = ROWS_PER_STATEMENT
    return [cells[i : i + per].ravel().tolist() for i in range(0, len(cells), per)]


def _insert(table: str, columns: Sequence[str], key: Sequence[str], rows: int) -> str:
    one = "(" + ", ".join("?" * len(columns)) + ")"
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([one] * rows)} "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
    )


@dataclass
class Batch:
    """A table's rows of one chunk, ready for SQLite: statements with their parameters,
    and the site-days queued for publishing."""

    statements: list[tuple[str, list[Any]]]
    queued: list[tuple[str, str, str, int]]
    rows: int


def batch(
    table: str,
    frame: pd.DataFrame,
    key: Sequence[str],
    kind: str,
    columns: Sequence[str] | None = None,
) -> Batch:
    """The statements writing ``frame`` into ``table`` and the outbox rows of ``kind``."""
    columns = [c for c in frame.columns if c != "_day"] if columns is None else list(columns)
    params = _params(frame, columns)
    statements: list[tuple[str, list[Any]]] = []
    full = _insert(table, columns, key, ROWS_PER_STATEMENT)
    for part in params:
        rows = len(part) // len(columns)
        statements.append(
            (full if rows == ROWS_PER_STATEMENT else _insert(table, columns, key, rows), part)
        )
    now = int(time.time())
    pairs = sorted(set(zip(frame["site"].tolist(), frame["_day"].tolist(), strict=True)))
    return Batch(statements, [(kind, str(s), str(d), now) for s, d in pairs], len(frame))


def _run(db: sqlite3.Connection, statements: Sequence[tuple[str, list[Any]]]) -> None:
    """The statements, consecutive ones of the same text by one ``executemany``."""
    i = 0
    while i < len(statements):
        j = i
        while j < len(statements) and statements[j][0] == statements[i][0]:
            j += 1
        db.executemany(statements[i][0], [p for _, p in statements[i:j]])
        i = j


_OUTBOX_SQL: Final = (
    "INSERT OR REPLACE INTO outbox (kind, key, day, queued_at) VALUES (?, ?, ?, ?)"
)


def qc_ranges(dirty: pd.DataFrame) -> list[tuple[str, int, int]]:
    """The (site, from, to) key ranges :func:`delete_qc_flags` deletes for ``dirty``."""
    ranges: list[tuple[str, int, int]] = []
    starts = np.asarray(dirty["date"].tolist(), dtype="datetime64[D]").astype(np.int64)
    for site, lo in sorted(
        zip(dirty["site"].tolist(), starts * DAY_S - _LOCAL_OFFSET_S, strict=True)
    ):
        if ranges and ranges[-1][0] == site and ranges[-1][2] >= lo:
            ranges[-1] = (site, ranges[-1][1], max(ranges[-1][2], int(lo) + DAY_S))
        else:
            ranges.append((str(site), int(lo), int(lo) + DAY_S))
    return ranges


def write_floor(
    ledger: Ledger,
    chunks: Sequence[Chunk],
    tables: dict[str, pd.DataFrame],
    wide: bool = False,
) -> tuple[dict[str, int], Clock]:
    """The evaluation's transactions with its rows, parameters prepared before the clock
    (``wide``: the hourly rows packed into :data:`WIDE_TABLE` instead; the packing's CPU
    under ``pack``, not in the clock's total)."""
    clock = Clock()
    written = dict.fromkeys(tables, 0)
    if wide:
        written[WIDE_TABLE] = 0
    pack = 0.0
    for chunk in chunks:
        days = set(chunk.dates)
        part = {t: f[f["_day"].isin(days).to_numpy()] for t, f in tables.items()}
        now = int(time.time())
        observed = sorted(
            {
                ("observations", str(s), str(d), now)
                for s, d in zip(chunk.dirty["site"], chunk.dirty["date"], strict=True)
            }
        )
        ranges = qc_ranges(chunk.dirty)
        qc = batch("qc_flags", part["qc_flags"], KEYS["qc_flags"], "observations")
        if wide:
            cpu = time.process_time()
            packed = pack_wide(part["hourly_aqi"])
            pack += time.process_time() - cpu
            hourly = batch(WIDE_TABLE, packed, WIDE_COLUMNS[:3], "hourly_aqi", WIDE_COLUMNS)
            hourly.queued = batch_queue(part["hourly_aqi"], "hourly_aqi")
        else:
            hourly = batch("hourly_aqi", part["hourly_aqi"], KEYS["hourly_aqi"], "hourly_aqi")
        daily = batch("daily_aqi", part["daily_aqi"], KEYS["daily_aqi"], "daily_aqi")
        marks = [
            (s, d, int(m))
            for s, d, m in zip(
                chunk.dirty["site"], chunk.dirty["date"], chunk.dirty["marked"], strict=True
            )
        ]
        with clock.timed("qc delete"), ledger.transaction() as tx:
            tx.executemany(_OUTBOX_SQL, observed)
            tx.executemany(_DELETE_QC_SQL, ranges)
        if qc.rows:
            with clock.timed("qc_flags"), ledger.transaction() as tx:
                _run(tx, qc.statements)
                tx.executemany(_OUTBOX_SQL, qc.queued)
        if hourly.rows:
            with clock.timed(WIDE_TABLE if wide else "hourly_aqi"), ledger.transaction() as tx:
                _run(tx, hourly.statements)
                tx.executemany(_OUTBOX_SQL, hourly.queued)
        with clock.timed("daily_aqi"), ledger.transaction() as tx:
            _run(tx, daily.statements)
            tx.executemany(_OUTBOX_SQL, daily.queued)
            tx.executemany(
                "DELETE FROM dirty_days WHERE site = ? AND date = ? AND marked = ?", marks
            )
        with clock.timed("results"), ledger.transaction() as tx:
            tx.execute("SELECT 1 FROM evaluation_failures LIMIT 1").fetchone()
        written["qc_flags"] += qc.rows
        written[WIDE_TABLE if wide else "hourly_aqi"] += hourly.rows
        written["daily_aqi"] += daily.rows
    if wide:
        clock.parts["pack (not in the total)"] = pack
    return written, clock


def batch_queue(frame: pd.DataFrame, kind: str) -> list[tuple[str, str, str, int]]:
    """Outbox rows of the site-days of ``frame`` (columns site, ``_day``)."""
    now = int(time.time())
    pairs = sorted(set(zip(frame["site"].tolist(), frame["_day"].tolist(), strict=True)))
    return [(kind, str(s), str(d), now) for s, d in pairs]


def write_replay(
    ledger: Ledger, chunks: Sequence[Chunk], tables: dict[str, pd.DataFrame]
) -> tuple[dict[str, int], Clock]:
    """The same rows through the evaluation's own write functions, chunk by chunk in its
    order (frames prepared before the clock)."""
    clock = Clock()
    written = dict.fromkeys(tables, 0)
    for chunk in chunks:
        days = set(chunk.dates)
        part = {
            t: f[f["_day"].isin(days).to_numpy()].drop(columns="_day").reset_index(drop=True)
            for t, f in tables.items()
        }
        done = chunk.dirty
        succeeded = sorted(zip(done["site"], done["date"], strict=True))
        with clock.timed("qc delete"):
            delete_qc_flags(ledger, chunk.dirty)
        if len(part["qc_flags"]):
            with clock.timed("qc_flags"):
                write_derived(ledger, "qc_flags", part["qc_flags"], KEYS["qc_flags"])
        if len(part["hourly_aqi"]):
            with clock.timed("hourly_aqi"):
                write_derived(ledger, "hourly_aqi", part["hourly_aqi"], KEYS["hourly_aqi"])
        with clock.timed("daily_aqi"):
            write_derived(ledger, "daily_aqi", part["daily_aqi"], KEYS["daily_aqi"], done=done)
        with clock.timed("results"):
            ledger.record_evaluation_results((), succeeded)
        for table, frame in part.items():
            written[table] += len(frame)
    return written, clock


# ------------------------------------------------------------------------- wide rows


def pack_wide(hourly: pd.DataFrame) -> pd.DataFrame:
    """One row per (site, local date, standard) of narrow hourly rows (with ``_day``): see
    the module docstring for the packing."""
    if not len(hourly):
        return pd.DataFrame(columns=[*WIDE_COLUMNS, "_day"])
    # Sorted by the wide key (site, date, rule set) then hour, on codes numbered in text
    # order (sorting the texts themselves costs several times as much).
    codes = [
        pd.factorize(hourly[c].to_numpy(), sort=True)[0] for c in ("site", "_day", "standard")
    ]
    ends = hourly["period_end"].to_numpy(dtype=np.int64)
    order = np.lexsort((ends, codes[2], codes[1], codes[0]))
    keys = np.column_stack(codes)[order]
    ends = ends[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = (keys[1:] != keys[:-1]).any(axis=1)
    starts = np.flatnonzero(first)
    bounds = [*starts.tolist(), len(order)]
    site = hourly["site"].to_numpy()[order]
    day = hourly["_day"].to_numpy()[order]
    standard = hourly["standard"].to_numpy()[order]
    hours = (((ends + _LOCAL_OFFSET_S) % DAY_S) // 3600).astype(np.uint8)
    numbers = np.ascontiguousarray(
        np.column_stack([hourly[c].to_numpy(dtype=np.float64)[order] for c in WIDE_NUMBERS])
    )
    primary = hourly["primary_pollutants"].to_numpy()[order].tolist()
    blobs_h, blobs_n, texts = [], [], []
    for a, b in itertools.pairwise(bounds):
        blobs_h.append(hours[a:b].tobytes())
        blobs_n.append(numbers[a:b].tobytes())
        texts.append(_SEP.join(primary[a:b]))
    return pd.DataFrame(
        {
            "site": site[starts],
            "date": day[starts],
            "standard": standard[starts],
            "official": hourly["official"].to_numpy(dtype=np.int64)[order][starts],
            "is_area": hourly["is_area"].to_numpy(dtype=np.int64)[order][starts],
            "computed_at": hourly["computed_at"].to_numpy(dtype=np.int64)[order][starts],
            "hours": np.array(blobs_h, dtype=object),
            "numbers": np.array(blobs_n, dtype=object),
            "primary_pollutants": np.array(texts, dtype=object),
            "_day": day[starts],
        }
    )


#: Columns a publisher takes from ``hourly_aqi`` (all but ``computed_at``), as arrays.
READ_COLUMNS: Final = (
    "site",
    "period_end",
    "standard",
    "official",
    "is_area",
    "primary_pollutants",
    *WIDE_NUMBERS,
)


def read_narrow(db: sqlite3.Connection) -> dict[str, npt.NDArray[Any]]:
    """Every ``hourly_aqi`` row into one numpy array per column (:data:`READ_COLUMNS`)."""
    rows = db.execute(f"SELECT {', '.join(READ_COLUMNS)} FROM hourly_aqi").fetchall()
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in READ_COLUMNS]
    out: dict[str, npt.NDArray[Any]] = {}
    for name, values in zip(READ_COLUMNS, columns, strict=True):
        if name in ("site", "standard", "primary_pollutants"):
            out[name] = np.array(values, dtype=object)
        elif name in ("period_end", "official", "is_area"):
            out[name] = np.fromiter(values, np.int64, len(values))
        else:
            out[name] = np.array(values, dtype=np.float64)
    return out


def read_wide(db: sqlite3.Connection) -> dict[str, npt.NDArray[Any]]:
    """Every :data:`WIDE_TABLE` row unpacked into the arrays :func:`read_narrow` gives (rows
    in another order: by site, date, rule set, then hour)."""
    rows = db.execute(
        f"SELECT site, date, standard, official, is_area, hours, numbers, primary_pollutants "
        f"FROM {WIDE_TABLE}"
    ).fetchall()
    if not rows:
        return read_narrow(db)  # (the empty arrays)
    site, date, standard, official, is_area, hours, numbers, primary = zip(*rows, strict=True)
    hour = np.frombuffer(b"".join(hours), dtype=np.uint8).astype(np.int64)
    counts = np.fromiter((len(h) for h in hours), np.int64, len(rows))
    values = np.frombuffer(b"".join(numbers), dtype=np.float64).reshape(-1, len(WIDE_NUMBERS))
    day_codes, distinct = pd.factorize(np.array(date, dtype=object))
    starts = np.asarray(distinct, dtype="datetime64[D]").astype(np.int64) * DAY_S
    period_end = np.repeat(starts[day_codes] - _LOCAL_OFFSET_S, counts) + hour * 3600
    out: dict[str, npt.NDArray[Any]] = {
        "site": np.repeat(np.array(site, dtype=object), counts),
        "period_end": period_end,
        "standard": np.repeat(np.array(standard, dtype=object), counts),
        "official": np.repeat(np.array(official, dtype=np.int64), counts),
        "is_area": np.repeat(np.array(is_area, dtype=np.int64), counts),
        "primary_pollutants": np.array(_SEP.join(primary).split(_SEP), dtype=object),
    }
    for j, name in enumerate(WIDE_NUMBERS):
        out[name] = values[:, j]
    return out


def same_arrays(a: dict[str, npt.NDArray[Any]], b: dict[str, npt.NDArray[Any]]) -> bool:
    """Whether two sets of hourly arrays hold the same rows (in any order; NaN = NaN)."""
    if set(a) != set(b) or len(a["site"]) != len(b["site"]):
        return False

    def order(x: dict[str, npt.NDArray[Any]]) -> npt.NDArray[np.intp]:
        return np.lexsort((x["standard"].astype(str), x["period_end"], x["site"].astype(str)))

    i, j = order(a), order(b)
    for name in a:
        left, right = a[name][i], b[name][j]
        if left.dtype.kind == "f":
            if not np.array_equal(left, right, equal_nan=True):
                return False
        elif not bool(np.all(left == right)):
            return False
    return True


# ------------------------------------------------------------------------- the report


@dataclass
class Floors:
    """What :func:`measure` found (best CPU of the repetitions) and the row counts."""

    site_days: int
    read_rows: int
    reader_rows: int
    written: dict[str, int]
    wide_written: dict[str, int]
    replay_written: dict[str, int]
    best: dict[str, Clock]
    same_read_back: bool


def _best(found: Clock | None, new: Clock) -> Clock:
    return new if found is None or new.cpu < found.cpu else found


def measure(
    template: Path,
    evaluated: Path,
    settings: Settings,
    repeat: int,
    scratch: Path,
    show: Callable[[str], None] = print,
) -> Floors:
    """Every floor of the module docstring on copies of ``template`` in ``scratch``."""
    tables = {t: derived(evaluated, t) for t in ("qc_flags", "hourly_aqi", "daily_aqi")}
    best: dict[str, Clock] = {}
    counts: dict[str, Any] = {}
    copy, narrow_copy, wide_copy = (scratch / f"{n}.sqlite" for n in ("floor", "narrow", "wide"))
    same = True
    site_days = 0
    areas = settings_areas(settings)
    for run in range(repeat):
        with opened(template, copy) as ledger:
            chunks = plan(ledger, settings)
            site_days = sum(int((~c.dirty["site"].isin(areas)).sum()) for c in chunks)
            counts["read"], clock = read_floor(ledger, chunks, frames=False)
            best["read"] = _best(best.get("read"), clock)
        with opened(template, copy) as ledger:
            counts["frames"], clock = read_floor(ledger, plan(ledger, settings), frames=True)
            best["read+frames"] = _best(best.get("read+frames"), clock)
        with opened(template, copy) as ledger:
            counts["reader"], clock = read_whole(ledger, plan(ledger, settings))
            best["reader"] = _best(best.get("reader"), clock)
        with opened(template, narrow_copy, keep=True) as ledger:
            chunks = plan(ledger, settings)
            counts["write"], clock = write_floor(ledger, chunks, tables)
            best["write"] = _best(best.get("write"), clock)
        with opened(template, wide_copy, keep=True) as ledger:
            ledger.connection.execute(WIDE_SQL)
            chunks = plan(ledger, settings)
            counts["wide"], clock = write_floor(ledger, chunks, tables, wide=True)
            best["write wide"] = _best(best.get("write wide"), clock)
        with opened(template, copy) as ledger:
            counts["replay"], clock = write_replay(ledger, plan(ledger, settings), tables)
            best["write_derived"] = _best(best.get("write_derived"), clock)
        with (
            closing(sqlite3.connect(narrow_copy)) as narrow,
            closing(sqlite3.connect(wide_copy)) as wide,
        ):
            clock = Clock()
            with clock.timed():
                a = read_narrow(narrow)
            best["read back narrow"] = _best(best.get("read back narrow"), clock)
            clock = Clock()
            with clock.timed():
                b = read_wide(wide)
            best["read back wide"] = _best(best.get("read back wide"), clock)
            same = same and same_arrays(a, b)
            del a, b
        show(f"  floor pass {run + 1} of {repeat} done ({load()})")
    return Floors(
        site_days,
        counts["read"],
        counts["reader"],
        counts["write"],
        counts["wide"],
        counts["replay"],
        best,
        same,
    )


def settings_areas(settings: Settings) -> list[str]:
    """Area ids (queued area-days are not site-days)."""
    return [area.id for area in settings.areas]


def load() -> str:
    """The 1-minute load average (the machine is shared)."""
    return f"load {os.getloadavg()[0]:.2f}"


def report(
    floors: Floors,
    rate: float | None,
    cpu: float | None = None,
    show: Callable[[str], None] = print,
) -> None:
    """Print the floors, the ceilings and the measured rate (and CPU seconds)."""
    best, n = floors.best, floors.site_days

    def line(name: str, what: str) -> None:
        clock = best[name]
        parts = ", ".join(f"{k} {v:.2f}" for k, v in clock.parts.items())
        show(
            f"  {what}: {clock.cpu:.2f} s CPU, {clock.wall:.2f} s wall "
            f"({n / clock.cpu:,.0f} site-days per CPU second){f'; {parts}' if parts else ''}"
        )

    show(f"floor ({n:,} site-days; best CPU of the repetitions; {load()}):")
    show(
        f"  rows read from SQLite: {floors.read_rows:,} (the evaluation's reader: "
        f"{floors.reader_rows:,})"
    )
    line("read", "read floor (the evaluation's queries, every row fetched)")
    line("read+frames", "read floor + texts to frame (rows_from_fetched)")
    line("reader", "the evaluation's reader (EvaluationInput.observations per chunk)")
    written = ", ".join(f"{t} {c:,}" for t, c in floors.written.items())
    show(f"  rows written: {written}")
    line("write", "write floor (its transactions, 64 bound rows a statement)")
    line("write_derived", "the evaluation's write functions (write_derived, …) on the same rows")
    wide = ", ".join(f"{t} {c:,}" for t, c in floors.wide_written.items())
    show(f"  wide variant rows written: {wide}")
    line("write wide", "write floor, hourly rows wide (packing not counted)")
    line("read back narrow", "read back every hourly_aqi row into numpy arrays")
    line("read back wide", "read back every wide row unpacked into the same arrays")
    show(
        "  read back: the same arrays from both"
        if floors.same_read_back
        else "  read back: DIFFERENT arrays"
    )
    today = best["read"].cpu + best["write"].cpu
    wider = best["read"].cpu + best["write wide"].cpu
    framed = best["read+frames"].cpu + best["write"].cpu
    show(f"ceiling = site-days / ((read floor + write floor) CPU / {CORES} cores):")
    show(f"  today's hourly_aqi: {n / (today / CORES):,.0f} site-days/s")
    show(f"  (with texts to frame: {n / (framed / CORES):,.0f} site-days/s)")
    show(f"  wide hourly rows:   {n / (wider / CORES):,.0f} site-days/s")
    packing = best["write wide"].parts.get("pack (not in the total)", 0.0)
    show(f"  (wide, with the packing: {n / ((wider + packing) / CORES):,.0f} site-days/s)")
    measured = f"{rate:,.0f} site-days/s" if rate else "not given"
    show(f"  evaluation measured in this run: {measured}; aim {AIM:,} site-days/s")
    if cpu:
        show(
            f"  the evaluation's CPU in this run: {cpu:.2f} s (least), of which the floors "
            f"{today:.2f} s ({today / cpu:.0%}); all of it on 2 cores: "
            f"{n / (cpu / CORES):,.0f} site-days/s"
        )


def main() -> None:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("template", type=Path, help="ledger with every site-day dirty")
    parser.add_argument("evaluated", type=Path, help="a copy of it, evaluated")
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "hunnan.toml")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rate", type=float, help="the evaluation's rate in the same run")
    parser.add_argument("--cpu", type=float, help="the evaluation's CPU seconds (least)")
    args = parser.parse_args()
    settings = load_settings(args.config, {})
    with tempfile.TemporaryDirectory(prefix="evaluate_floor_") as scratch:
        floors = measure(args.template, args.evaluated, settings, args.repeat, Path(scratch))
    report(floors, args.rate, args.cpu)


if __name__ == "__main__":
    main()
