"""Re-evaluate the days touched by new or revised observations.

After every ingest the ledger knows which (site, local date) pairs changed
(``dirty_days``). This module loads the observations those days need (the day itself and
the day before, for 8-hour windows and moving means), applies envmon's quality checks
(flags kept in ``qc_flags``; values flagged by the source or impossible are left out of every
statistic, envmon's own suspicions only when ``[quality] exclude_own_flags`` lists them,
see :mod:`monitor.domain.quality`), and writes:

* ``hourly_aqi`` per site and area (mean of the area's evaluation stations, then the AQI),
  under **both** HJ 633-2012 and HJ 633-2026, with ``official`` = 1 for the rule set in
  force on the hour's date (so consistent counterfactual series exist for every day);
* ``daily_aqi`` likewise, from the GB 3095 / HJ 663 daily statistics with their validity;
* ``water_classes`` per section reading (GB 3838-2002 single-factor method).

Only measured sources count for stations and areas; model sources (Open-Meteo) are
evaluated for their own model points only and never enter an area mean.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from monitor.calculator.water import rate_samples
from monitor.domain.aqi import (
    AqiStandard,
    MissingPolicy,
    daily_aqi,
    hourly_aqi,
    pollutant_names,
    standards_for_dates,
)
from monitor.domain.daily import (
    DAILY_STATISTICS,
    area_means,
    daily_statistics,
    day_starts,
    round_daily_statistics,
    with_so2_24h,
)
from monitor.domain.quality import checked_flags
from monitor.domain.units import AIR_PARAMETERS
from monitor.domain.water_quality import Parameter, WaterBody, WaterClass, below_detection
from monitor.errors import StorageError
from monitor.ledger import Ledger, to_epoch
from monitor.ledger.evaluation_input import EvaluationInput
from monitor.ledger.evaluation_output import BackgroundWrites, delete_qc_flags, write_derived
from monitor.ledger.store import QC_LOOKAHEAD_HOURS
from monitor.settings import Settings

log = logging.getLogger("envmon.evaluate")

LOCAL_TZ: Final = "Asia/Shanghai"
AIR: Final = tuple(AIR_PARAMETERS)
#: Site-days evaluated together at most (and 31 days): bounds memory on big backfills and
#: imports (issue 16: ``envmon import`` of 5 M rows under 500 MB; 16,000 was measurably
#: faster on national backfills but took the peak past 900 MB).
CHUNK_SITE_DAYS: Final = 4000
CHUNK_DAYS: Final = 31
#: Errors of the ledger itself (locked, full, unreadable): they stop the evaluation and go
#: up to the caller, never recorded as a day that cannot be evaluated.
LEDGER_ERRORS: Final = (StorageError, sqlite3.Error)


@dataclass(frozen=True)
class EvaluationReport:
    """What one evaluation wrote."""

    site_days: int = 0
    hourly_rows: int = 0
    daily_rows: int = 0
    water_rows: int = 0
    qc_flagged: int = 0
    dates: tuple[str, ...] = ()
    #: Site-days and area-days that could not be evaluated (recorded, retried next run).
    failed: tuple[tuple[str, str, str, str], ...] = ()

    def __add__(self, other: EvaluationReport) -> EvaluationReport:
        return EvaluationReport(
            self.site_days + other.site_days,
            self.hourly_rows + other.hourly_rows,
            self.daily_rows + other.daily_rows,
            self.water_rows + other.water_rows,
            self.qc_flagged + other.qc_flagged,
            tuple(sorted(set(self.dates) | set(other.dates))),
            self.failed + other.failed,
        )


def default_minimum(stations: int) -> int:
    """At least half of an area's evaluation stations, rounded up (at least 1)."""
    return max(1, math.ceil(stations / 2))


def area_minimums(settings: Settings) -> dict[str, int]:
    """Area id → stations with a value an area value needs (fewer: the value is NA).

    ``[[areas]] min_stations``, or by default at least half of the area's evaluation
    stations, rounded up: an area value from 1 of 2 stations stands, Shenyang's city value
    from 2 of its 10 evaluation stations does not (it needs 5).
    """
    return {
        area.id: area.min_stations
        if area.min_stations is not None
        else default_minimum(len(settings.averaged_stations(area.id)))
        for area in settings.areas
    }


def _area_values(
    frame: pd.DataFrame,
    members: Mapping[str, Sequence[str]],
    keys: list[str],
    values: list[str],
    minimums: Mapping[str, int],
) -> pd.DataFrame:
    """Area means (``site`` = area id) of ``values`` per ``keys``; a value is NA where fewer
    of the area's stations than its minimum have one; ``stations``: the area's stations with
    any value in the row (what the row rests on)."""
    # Only member stations enter an area (both joins below are inner): drop the others
    # first, most of a national network when the areas are a few cities.
    member_sites = sorted({s for sites in members.values() for s in sites})
    frame = frame[frame["site"].isin(member_sites).to_numpy()]
    out = area_means(frame, members, keys, values)
    minimum = out["area"].map(lambda a: minimums.get(a, 1)).to_numpy(dtype=np.int64)
    for value in values:
        too_few = out[f"{value}_sites"].to_numpy() < minimum
        if too_few.any():
            out.loc[too_few, value] = np.nan
    links = pd.DataFrame(
        [(a, s) for a, sites in members.items() for s in sites], columns=["area", "site"]
    )
    with_value = frame[["site", *keys]][frame[values].notna().any(axis=1).to_numpy()]
    counted = (
        with_value.merge(links, on="site", how="inner")
        .groupby(["area", *keys])
        .size()
        .rename("stations")
        .reset_index()
    )
    out = out.merge(counted, on=["area", *keys], how="left")
    out["stations"] = out["stations"].fillna(0).astype(np.int64)
    return out.rename(columns={"area": "site"})


def area_membership(settings: Settings) -> dict[str, list[str]]:
    """Area id → codes of the evaluation stations averaged for it (control sites excluded)."""
    return {
        area.id: [s.code for s in settings.averaged_stations(area.id)] for area in settings.areas
    }


@dataclass(frozen=True)
class _Run:
    """What every chunk of one evaluation run works with (the ledger, the settings it
    needs, the model sources and the reader of the run's observation windows)."""

    ledger: Ledger
    #: Area id → its evaluation stations ({} when the run writes no area rows).
    membership: Mapping[str, Sequence[str]]
    #: Water section id → its water body (``river``, ``lake``).
    bodies: Mapping[str, str]
    #: Sources that deliver model values (never in an area mean).
    model_sources: frozenset[str]
    reader: EvaluationInput
    #: envmon's own flags that leave their values out (``[quality] exclude_own_flags``).
    exclude_own: Sequence[str] = ()
    #: Area id → stations with a value an area value needs (default: half, rounded up).
    minimums: Mapping[str, int] | None = None

    def sites_only(self) -> _Run:
        """The same run without areas (for site-days evaluated on their own)."""
        return replace(self, membership={}, minimums=None)


def evaluate_dirty(
    ledger: Ledger,
    settings: Settings,
    *,
    progress: Callable[[int, int], None] | None = None,
    overlap: bool | None = None,
) -> EvaluationReport:
    """Evaluate every dirty day of the ledger, oldest first, in chunks of dates.

    ``overlap``: read each next chunk ahead and write each chunk's rows in a second and
    third thread while the next chunk is evaluated (:meth:`EvaluationInput.prefetch`,
    :class:`BackgroundWrites`); the results are the same either way. Default: only when
    there is more than one chunk and a core is free (:func:`core_free`, other processes'
    CPU time while the first chunk's rows are read, at least 0.1 s): on a machine whose
    cores are all busy the threads wait for each other's GIL and the run takes longer
    (issue 17: about 9 % longer at load 4-5 on 2 cores, the calling thread's CPU halved).
    A queued write that raises an error not the ledger's (a defect in a chunk's rows) has
    its chunk and those after it evaluated again with direct writes, so its site-days are
    isolated as without the threads.
    """
    dirty = ledger.dirty_days(marked=True)  # cleared only while unmarked since
    if dirty.empty:
        return EvaluationReport()
    # Plain Python strings: the keys are zipped and compared row by row, which costs a
    # pandas call per element on a string-dtype column (issue 17).
    dirty = dirty.astype({"site": object, "date": object})
    model_sources = frozenset(
        ledger.query("SELECT source FROM sources WHERE kind = 'model'")["source"].tolist()
    )
    membership = area_membership(settings) if settings.service.evaluate_areas else {}
    dates = sorted(dirty["date"].unique())
    sites = max(1, dirty["site"].nunique())
    step = max(1, min(CHUNK_DAYS, CHUNK_SITE_DAYS // sites))
    runs = _date_chunks(dates, step)
    chunks = [dirty[dirty["date"].isin(run)] for run in runs]
    done = list(itertools.accumulate(len(run) for run in runs))  # dates after each chunk
    # (one chunk: nothing to read ahead or write beside.) Whether a core is free is judged
    # while the first chunk's rows are read (that read is not lost: the chunk takes it).
    probe = _CoreProbe() if overlap is None and len(chunks) > 1 else None
    parts: list[EvaluationReport] = []  # one per chunk, in order

    def run(number: int, writes: BackgroundWrites, then: bool) -> None:
        after = chunks[number + 1] if number + 1 < len(chunks) else None
        parts.append(
            _evaluate_dirty_chunk(
                context,
                chunks[number],
                then=_chunk_window(after, membership) if after is not None and then else None,
                writes=writes,
            )
        )

    # Chunks share their overlaps; with ``overlap`` the next one is read ahead, and a
    # chunk's results are written while the next one is evaluated. Reads and writes on the
    # ledger's connection take turns (``lock``): SQLite refuses at once to begin a write
    # while a read of the same connection is open and another connection has committed.
    lock = threading.Lock()
    with (
        _checkpoints_every(ledger.connection, CHECKPOINT_PAGES),
        EvaluationInput(ledger.connection, lock) as reader,
        ExitStack() as stack,
    ):
        if probe is not None:
            first = _chunk_window(chunks[0], membership)
            if first is not None:  # read now, taken again as it is by the first chunk
                try:
                    reader.observations(start=first[0], end=first[1], sites=first[2])
                except LEDGER_ERRORS:
                    raise
                except Exception:  # a row that cannot be read: the chunk reads it again,
                    pass  # where its site-days are isolated (one bad row stops nothing)
            overlap = probe.free()
        overlap = bool(overlap)
        writes = stack.enter_context(BackgroundWrites(background=overlap, lock=lock))
        context = _Run(
            ledger,
            membership,
            {s.id: s.water_body for s in settings.water_sections},
            model_sources,
            reader,
            settings.quality.exclude_own_flags,
            area_minimums(settings),
        )
        number = 0
        while True:
            writes.tag = number
            try:
                if number == len(chunks):
                    writes.wait()  # the last chunks' writes
                    break
                run(number, writes, overlap)
            except Exception as err:
                failed = writes.failed_tag
                if isinstance(err, LEDGER_ERRORS) or failed is None:
                    raise
                # A queued write of chunk ``failed`` raised, not the ledger's trouble but
                # a defect in its rows: what was queued after it was not written. Those
                # chunks again, written at once, so the failing site-days are isolated.
                log.warning("a write of the evaluation raised (%s): writing directly", err)
                writes.forget()
                del parts[failed:]
                for redo in range(failed, min(number + 1, len(chunks))):
                    run(redo, BackgroundWrites(background=False), False)
            number = min(number + 1, len(chunks))
            if progress is not None:
                progress(done[number - 1], len(dates))
    report = EvaluationReport()
    for part in parts:
        report = report + part
    return report


class _CoreProbe:
    """:func:`core_free` in two steps: the counters now, the judgement at :meth:`free`
    (after at least ``window`` seconds: the time between is used for work of this process,
    which is not counted)."""

    def __init__(self, window: float = 0.1, stat: str = "/proc/stat") -> None:
        self.window, self.stat = window, stat
        try:
            self.busy: float | None = _busy_seconds(stat)
        except (OSError, ValueError, IndexError):
            self.busy = None
        self.own, self.start = time.process_time(), time.monotonic()

    def free(self) -> bool:
        """Whether a core was free since the probe began (see :func:`core_free`)."""
        left = self.window - (time.monotonic() - self.start)
        if left > 0:
            time.sleep(left)
        cores = os.cpu_count() or 1
        if self.busy is not None:
            try:
                others = _busy_seconds(self.stat) - self.busy - (time.process_time() - self.own)
                return others / max(time.monotonic() - self.start, 1e-3) <= cores - 1
            except (OSError, ValueError, IndexError):
                pass
        try:
            return os.getloadavg()[0] <= cores - 1
        except OSError:
            return False


def core_free(window: float = 0.1, stat: str = "/proc/stat") -> bool:
    """Whether a core is free for :func:`evaluate_dirty`'s second thread: over ``window``
    seconds, the CPU time other processes used leaves at least one core idle.

    This process's own CPU time is not counted: right after an import its own work still
    fills the 1-minute load average (the national year's evaluation ran on one thread at
    load 1.2 that was all the import's). Where the system has no ``/proc/stat``, the
    1-minute load average at most the cores less one; False where neither tells.
    """
    return _CoreProbe(window, stat).free()


def _busy_seconds(stat: str) -> float:
    """CPU seconds all cores spent busy since boot (``/proc/stat``'s first line: user, nice,
    system, idle, iowait, irq, softirq, steal in clock ticks; idle and iowait are not busy)."""
    with open(stat, encoding="ascii") as lines:
        ticks = [int(t) for t in lines.readline().split()[1:9]]
    if len(ticks) < 5:
        raise ValueError(f"{stat}: expected a 'cpu' line of at least 5 counters")
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


#: WAL pages after which a commit of the run copies them into the ledger file (SQLite's
#: default is 1,000: a national run of about 150 MB of derived rows then checkpoints a
#: hundred times, rewriting the same B-tree pages; every 16,000 pages, about 64 MB, a fifth
#: less time writing). The setting before the run is restored after it.
CHECKPOINT_PAGES: Final = 16_000


@contextmanager
def _checkpoints_every(connection: sqlite3.Connection, pages: int) -> Iterator[None]:
    """``PRAGMA wal_autocheckpoint`` of the connection set to ``pages`` inside the block."""
    before = int(connection.execute("PRAGMA wal_autocheckpoint").fetchone()[0])
    connection.execute(f"PRAGMA wal_autocheckpoint={int(pages)}")
    try:
        yield
    finally:
        connection.execute(f"PRAGMA wal_autocheckpoint={before}")


def _date_chunks(dates: Sequence[str], step: int) -> list[list[str]]:
    """The sorted local dates ``dates`` (``YYYY-MM-DD``) in chunks of at most ``step`` dates
    that also span fewer than ``step`` days: a chunk's rows are read from its first date to
    its last (:func:`_chunk_window`), so a correction of a day years back, dirty beside
    today, must not make one chunk read every observation of the years between.

    >>> _date_chunks(["2020-01-05", "2020-01-06", "2026-12-06"], 31)
    [['2020-01-05', '2020-01-06'], ['2026-12-06']]
    >>> _date_chunks(["2026-01-01", "2026-01-02", "2026-01-03"], 2)
    [['2026-01-01', '2026-01-02'], ['2026-01-03']]
    """
    chunks: list[list[str]] = []
    first = date.min
    for text in dates:
        day = date.fromisoformat(text)
        if not chunks or len(chunks[-1]) >= step or (day - first).days >= step:
            chunks.append([])
            first = day
        chunks[-1].append(text)
    return chunks


def _chunk_window(
    dirty: pd.DataFrame, membership: Mapping[str, Sequence[str]]
) -> tuple[datetime, datetime, list[str]] | None:
    """The observation window (start, end, sites) :func:`_evaluate_chunk` reads for a chunk
    of dirty days (None when it reads none)."""
    sites_part = dirty[~dirty["site"].isin(list(membership))]
    dirty_areas = _area_keys(dirty, membership)
    dates = sorted(set(sites_part["date"]) | {day for _, day in dirty_areas})
    if not dates:
        return None
    sites = set(sites_part["site"]) | {s for a, _ in dirty_areas for s in membership[a]}
    start, end = _local_window(dates)
    return start, end, sorted(sites)


def _evaluate_dirty_chunk(
    context: _Run,
    chunk: pd.DataFrame,
    *,
    then: tuple[datetime, datetime, list[str]] | None,
    writes: BackgroundWrites,
) -> EvaluationReport:
    """One chunk of :func:`evaluate_dirty`: evaluated whole, or piece by piece when that
    raises (after the writes queued before); its results recorded."""
    try:
        part = _evaluate_chunk(context, chunk, then=then, write=writes.submit)
    except LEDGER_ERRORS:
        raise  # the ledger's trouble, not a day's: nothing to isolate
    except Exception:  # one bad site-day must not stop the others: isolate it
        writes.wait()  # the pieces write directly, after what was queued
        part = _evaluate_isolated(context, chunk)
    failed = {(site, day) for site, day, _, _ in part.failed}
    done = set(zip(chunk["site"], chunk["date"], strict=True))
    done |= _area_keys(chunk, context.membership)
    succeeded = sorted(done - failed)
    writes.submit(lambda: context.ledger.record_evaluation_results(part.failed, succeeded))
    return part


def _area_keys(
    dirty: pd.DataFrame, membership: Mapping[str, Sequence[str]]
) -> set[tuple[str, str]]:
    """The (area, date) pairs a set of dirty site-days touches: areas with a dirty member,
    and areas queued themselves (an area-day whose evaluation failed is queued under the
    area's id)."""
    areas_of: dict[str, list[str]] = {}
    for area, members in membership.items():
        for member in members:
            areas_of.setdefault(member, []).append(area)
    keys = set()
    for site, day in zip(dirty["site"], dirty["date"], strict=True):
        if site in membership:
            keys.add((site, day))
        keys.update((area, day) for area in areas_of.get(site, ()))
    return keys


def _evaluate_isolated(context: _Run, dirty: pd.DataFrame) -> EvaluationReport:
    """Evaluate a chunk that raised piece by piece: its site-days (halving the set until
    the failing ones stand alone), then its area-days the same way. What still raises on
    its own is recorded in the report's ``failed`` (and stays dirty); the rest is written."""
    membership = context.membership
    sites = dirty[~dirty["site"].isin(list(membership))].reset_index(drop=True)
    areas = sorted(_area_keys(dirty, membership))
    queued_areas = dirty[dirty["site"].isin(list(membership))]

    def run_sites(rows: list[int]) -> EvaluationReport:
        return _evaluate_chunk(context.sites_only(), sites.iloc[rows])

    def run_areas(rows: list[int]) -> EvaluationReport:
        return _evaluate_chunk(context, sites.iloc[:0], areas={areas[i] for i in rows})

    report = _bisect(
        list(range(len(sites))),
        run_sites,
        lambda i: (sites["site"].iloc[i], sites["date"].iloc[i], "site"),
    )
    report = report + _bisect(list(range(len(areas))), run_areas, lambda i: (*areas[i], "area"))
    if len(queued_areas):
        failed = {(a, d) for a, d, scope, _ in report.failed if scope == "area"}
        keep = _keyed(queued_areas["site"], queued_areas["date"], failed)
        context.ledger.clear_dirty(queued_areas[~keep])
    return report


def _bisect(
    items: list[int],
    run: Callable[[list[int]], EvaluationReport],
    key: Callable[[int], tuple[str, str, str]],
) -> EvaluationReport:
    """``run(items)``; when it raises, each half on its own, down to single items, whose
    error is recorded as (site, date, scope, error)."""
    if not items:
        return EvaluationReport()
    try:
        return run(items)
    except LEDGER_ERRORS:
        raise
    except Exception as err:  # recorded with its message; never stops the other items
        if len(items) == 1:
            site, day, scope = key(items[0])
            error = f"{type(err).__name__}: {err}"
            log.warning("cannot evaluate %s %s %s: %s", scope, site, day, error)
            return EvaluationReport(failed=((str(site), str(day), scope, error),))
        half = len(items) // 2
        return _bisect(items[:half], run, key) + _bisect(items[half:], run, key)


def evaluation_health(ledger: Ledger, now: float) -> dict[str, object]:
    """The ``evaluation`` entry of /healthz: site-days and area-days that cannot be evaluated
    (each retried on every run), the oldest first failure and the latest error."""
    failures = ledger.evaluation_failures()
    if failures.empty:
        return {"state": "ok", "failing_days": 0, "failing": []}
    oldest = int(failures["first_failed"].min())
    return {
        "state": "failing",
        "failing_days": len(failures),
        "failing_since": datetime.fromtimestamp(oldest, UTC).isoformat(),
        "failing_for_seconds": round(now - oldest),
        "failing": [
            {
                "scope": str(r["scope"]),
                "site": str(r["site"]),
                "date": str(r["date"]),
                "error": str(r["error"]),
                "since": datetime.fromtimestamp(int(r["first_failed"]), UTC).isoformat(),
                "attempts": int(r["attempts"]),
            }
            for r in failures.head(20).to_dict("records")
        ],
    }


def _local_window(dates: Sequence[str]) -> tuple[datetime, datetime]:
    """UTC bounds (exclusive, inclusive] covering labels from the day before the first date
    00:00 to the first hours after the last date, local."""
    first = _first_instant(min(dates)) - pd.Timedelta(days=1)
    # Through the next day's first hours: quality checks of the last hours look ahead.
    last = _first_instant(max(dates)) + pd.Timedelta(hours=24 + QC_LOOKAHEAD_HOURS)
    return (first - pd.Timedelta(hours=1)).to_pydatetime(), last.to_pydatetime()


def _first_instant(day: str) -> pd.Timestamp:
    """The first instant of a local date (:func:`~monitor.domain.daily.day_starts`)."""
    first: pd.Timestamp = day_starts(pd.DatetimeIndex([pd.Timestamp(day)]))[0]
    return first


def _date_text(times: pd.Series) -> npt.NDArray[np.object_]:
    """Local calendar dates as YYYY-MM-DD text, formatting each distinct day once."""
    days = _local_days(times)
    text = np.asarray(days.categories, dtype=object)
    out: npt.NDArray[np.object_] = text[days.codes] if len(days) else np.zeros(0, dtype=object)
    return out


def _local_days(times: pd.Series) -> pd.Categorical[Any]:
    """Local calendar dates as a categorical of YYYY-MM-DD texts (each distinct day
    formatted once; :func:`_keyed` takes its codes as they are, no text hashed per row)."""
    # Each distinct time converted once (a window has a few hundred hours and a million
    # rows): the times numbered first, their days numbered in the same first-seen order.
    time_codes, distinct = pd.factorize(times)
    moments = pd.Series(distinct, dtype=times.dtype)
    days = (
        moments.dt.tz_localize(None)
        if moments.dt.tz is None
        else moments.dt.tz_convert(LOCAL_TZ).dt.tz_localize(None)
    )
    day_codes, uniques = pd.factorize(days.dt.normalize())
    # (a missing time, code -1, takes the -1 appended last: also when no time is present)
    codes = np.append(day_codes, -1)[time_codes]
    text = pd.Index(np.asarray(pd.DatetimeIndex(uniques).strftime("%Y-%m-%d"), dtype=object))
    return pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(text))


def _codes(
    column: pd.Series | pd.Categorical[Any] | npt.ArrayLike,
) -> tuple[npt.NDArray[np.intp], list[object]]:
    """Codes and distinct values of a column (a categorical's own codes: no hashing)."""
    if isinstance(column, pd.Series) and isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy().astype(np.intp)
        return codes, list(column.cat.categories)  # missing: -1, as pd.factorize gives
    if isinstance(column, pd.Categorical):
        return column.codes.astype(np.intp), list(column.categories)
    found, uniques = pd.factorize(np.asarray(column, dtype=object))
    return found.astype(np.intp), list(uniques)


def _keyed(
    sites: pd.Series | npt.NDArray[np.object_],
    days: pd.Categorical[Any] | npt.ArrayLike,
    keys: set[tuple[str, str]],
) -> npt.NDArray[np.bool_]:
    """Vectorised ``(site, day) in keys``: a table over distinct sites × distinct days."""
    n = len(sites)
    if not keys or not n:
        return np.zeros(n, dtype=bool)
    site_codes, site_names = _codes(sites)
    day_codes, day_names = _codes(days)
    site_index = {name: i for i, name in enumerate(site_names)}
    day_index = {name: i for i, name in enumerate(day_names)}
    width = len(day_names)
    wanted = np.zeros(len(site_names) * width + 1, dtype=bool)  # last: a missing value
    for site, day in keys:
        i, j = site_index.get(site), day_index.get(day)
        if i is not None and j is not None:
            wanted[i * width + j] = True
    missing = (site_codes < 0) | (day_codes < 0)
    cell = np.where(missing, len(wanted) - 1, site_codes * width + day_codes)
    found: npt.NDArray[np.bool_] = wanted[cell]
    return found


def _latest_per_key(frame: pd.DataFrame) -> pd.DataFrame:
    """One value per site, parameter and period: the most recently ingested source wins
    (ingested at the same second: the source last by name, as in the ledger's key order)."""
    if frame["source"].nunique() <= 1:
        return frame  # the ledger's key includes the source: nothing to choose between
    ordered = frame.sort_values(["ingested_at", "source"], kind="stable")
    return ordered.drop_duplicates(["site", "parameter", "period_end"], keep="last")


def _now(write: Callable[[], None]) -> None:
    """Do a write now (what :func:`_evaluate_chunk` does unless given a queue)."""
    write()


def _evaluate_chunk(
    context: _Run,
    dirty: pd.DataFrame,
    *,
    areas: set[tuple[str, str]] | None = None,
    then: tuple[datetime, datetime, list[str]] | None = None,
    write: Callable[[Callable[[], None]], None] = _now,
) -> EvaluationReport:
    """Evaluate the dirty site-days and the area-days they touch (or, with ``areas``, those
    area-days only besides the site-days), clearing them from the dirty days when written.
    ``then``: the window (start, end, sites) of the chunk to come, read ahead; ``write``
    runs (or queues, :meth:`BackgroundWrites.submit`) each write, in order."""
    ledger, membership, reader = context.ledger, context.membership, context.reader
    now = int(datetime.now(UTC).timestamp())
    queued_areas = dirty[dirty["site"].isin(list(membership))]
    dirty = dirty[~dirty["site"].isin(list(membership))]
    dirty_areas = (
        _area_keys(pd.concat([dirty, queued_areas]), membership) if areas is None else areas
    )
    dates = sorted(set(dirty["date"]) | {day for _, day in dirty_areas})
    if not dates:
        return EvaluationReport()
    sites = set(dirty["site"]) | {s for a, _ in dirty_areas for s in membership[a]}
    start, end = _local_window(dates)
    obs = reader.observations(start=start, end=end, sites=sorted(sites))
    if then is not None:  # the next chunk's rows are read while this one is evaluated
        reader.prefetch(start=then[0], end=then[1], sites=then[2])
    if obs.empty:
        cleared = pd.concat([dirty, queued_areas])
        write(lambda: ledger.clear_dirty(cleared))
        return EvaluationReport(site_days=len(dirty), dates=tuple(dates))
    obs = _latest_per_key(obs)
    checked = checked_flags(obs)  # each distinct pair of source and check flags once
    flags = checked.flags()
    # Rows whose flags envmon added to (text differs), judged once per distinct pair of
    # flags: ``checked.added() != ""`` without a text compared per row.
    added = checked._replace(codes=np.arange(len(checked.texts), dtype=np.intp)).added()
    own = np.asarray(added != "", dtype=bool)[checked.codes]
    keep = checked.excluded(context.exclude_own)
    obs = obs.assign(value=obs["value"].where(~keep))
    obs["local"] = obs["period_end"].dt.tz_convert(LOCAL_TZ)
    obs["date"] = _local_days(obs["local"])
    dirty_keys = set(zip(dirty["site"], dirty["date"], strict=True))
    in_dirty = _keyed(obs["site"], obs["date"], dirty_keys)

    flagged = in_dirty & own  # the few rows first, then the frame
    qc = pd.DataFrame(
        {
            "site": obs["site"][flagged],
            "parameter": obs["parameter"][flagged],
            "period_end": to_epoch(obs["period_end"][flagged]),
            "flags": flags[flagged],
            "computed_at": now,
        }
    )
    write(lambda: delete_qc_flags(ledger, dirty))
    if len(qc):
        write(lambda: write_derived(ledger, "qc_flags", qc, ("site", "parameter", "period_end")))

    minimums = context.minimums
    if minimums is None:
        minimums = {a: default_minimum(len(m)) for a, m in membership.items()}
    hourly, daily = _air(
        obs, dirty_keys, dirty_areas, membership, minimums, context.model_sources, now
    )
    # (the few water rows picked first: filtering the whole window copies every column)
    water = _water(
        obs[in_dirty & obs["parameter"].isin(CLASSIFIED_WATER_ITEMS).to_numpy()],
        context.bodies,
        now,
    )
    if len(hourly):
        write(
            lambda: write_derived(ledger, "hourly_aqi", hourly, ("site", "period_end", "standard"))
        )
    if len(water):
        write(lambda: write_derived(ledger, "water_classes", water, ("site", "period_end")))
    done = pd.concat([dirty, queued_areas])
    if len(daily):
        write(
            lambda: write_derived(
                ledger, "daily_aqi", daily, ("site", "date", "standard"), done=done
            )
        )
    else:
        write(lambda: ledger.clear_dirty(done))
    return EvaluationReport(len(dirty), len(hourly), len(daily), len(water), len(qc), tuple(dates))


def _air(
    obs: pd.DataFrame,
    dirty_keys: set[tuple[str, str]],
    dirty_areas: set[tuple[str, str]],
    membership: Mapping[str, Sequence[str]],
    minimums: Mapping[str, int],
    model_sources: frozenset[str],
    now: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    is_air = obs["parameter"].isin(AIR).to_numpy()
    air = obs if is_air.all() else obs[is_air]  # (a window of air only: no copy)
    if air.empty:
        return pd.DataFrame(), pd.DataFrame()
    wide = _wide(air)
    # A site is measured when any of its sources is not a model source.
    measured_sites = set(air.loc[~air["source"].isin(list(model_sources)), "site"].unique())
    area_keys = dirty_areas
    area_wide = pd.DataFrame()
    present = [p for p in AIR if p in wide.columns]
    # Areas average measured stations only (model points never enter an area mean).
    members = {a: [s for s in m if s in measured_sites] for a, m in membership.items()}
    if membership and area_keys:
        area_wide = _area_values(wide, members, ["time"], present, minimums)
    hourly_parts = [_hourly_rows(wide, dirty_keys, present, 0, now)]
    if len(area_wide):
        hourly_parts.append(_hourly_rows(area_wide, area_keys, present, 1, now))
    hourly = (
        pd.concat([p for p in hourly_parts if len(p)], ignore_index=True)
        if any(len(p) for p in hourly_parts)
        else pd.DataFrame()
    )

    stats = daily_statistics(wide[["site", "time", *present]], round_statistics=False)
    site_days = stats[_keyed(stats["site"], _local_days(stats["date"]), dirty_keys)]
    daily_parts = [_daily_rows(site_days, 0, now)]
    if membership and area_keys:
        values = stats[["site", "date"]].copy()
        for s in DAILY_STATISTICS:
            values[s] = stats[s].where(stats[f"{s}_valid"])
        area_stats = _area_values(values, members, ["date"], list(DAILY_STATISTICS), minimums)
        for s in DAILY_STATISTICS:
            area_stats[f"{s}_valid"] = area_stats[s].notna()
        keep = _keyed(area_stats["site"], _local_days(area_stats["date"]), area_keys)
        daily_parts.append(_daily_rows(area_stats[keep], 1, now))
    daily = pd.concat(daily_parts, ignore_index=True)
    return hourly, daily


def _wide(air: pd.DataFrame) -> pd.DataFrame:
    """One row per site and local hour, one column per parameter (sorted by name): every
    site × every hour of the window (NaN where a site has no value), rows sorted by site then
    time — what ``pivot_table(index=["site", "local"], columns="parameter", dropna=False)``
    gives, built by indexing instead of grouping. Keys must be unique (one source each)."""
    site_codes, site_names = pd.factorize(air["site"], sort=True)
    time_codes, times = pd.factorize(air["local"], sort=True)
    parameter_codes, parameters = pd.factorize(air["parameter"], sort=True)
    n_sites, n_times = len(site_names), len(times)
    grid = np.full((n_sites * n_times, len(parameters)), np.nan)
    grid[site_codes * n_times + time_codes, parameter_codes] = air["value"].to_numpy(float)
    names = np.asarray(site_names, dtype=object)
    wide = pd.DataFrame(
        {
            "site": np.repeat(names, n_times),
            "time": pd.DatetimeIndex(times).take(np.tile(np.arange(n_times), n_sites)),
        }
    )
    for j, parameter in enumerate(parameters):
        wide[str(parameter)] = grid[:, j]
    return wide


def missing_policy(standard: AqiStandard) -> MissingPolicy:
    """How a missing pollutant is treated in stored, exported and reported AQI.

    HJ 633-2026 §5.3: "if one pollutant is missing or invalid, the AQI is still computed from
    the remaining pollutants; if that AQI is > 100 it is published, otherwise only the
    single-pollutant concentrations and IAQIs are published and the AQI is marked NA" — so
    2026 hourly and daily AQI follow §5.3 (IAQIs kept). HJ 633-2012 marks missing items NA
    and rates the rest (the platform's practice), so 2012 values rate what is present.
    """
    return (
        MissingPolicy.HJ633_2026 if standard is AqiStandard.HJ633_2026 else MissingPolicy.PRESENT
    )


def _official(days: pd.Series, standard: AqiStandard) -> npt.NDArray[np.int64]:
    """1 where ``standard`` is the rule set in force on the (local) date, else 0 (judged
    once per distinct date)."""
    codes, uniques = pd.factorize(pd.Series(pd.to_datetime(days)), use_na_sentinel=False)
    in_force = standards_for_dates(pd.Series(uniques))
    official: npt.NDArray[np.int64] = (in_force == standard).astype(np.int64)[codes]
    return official


def _stations(rows: pd.DataFrame) -> npt.NDArray[np.float64]:
    """Stations an area row rests on; NaN (stored NULL) for a site's own rows."""
    if "stations" not in rows.columns:
        return np.full(len(rows), np.nan)
    return rows["stations"].to_numpy(dtype=np.float64)


def _hourly_rows(
    wide: pd.DataFrame, keys: set[tuple[str, str]], present: list[str], is_area: int, now: int
) -> pd.DataFrame:
    # SO2 1 h > 800 µg/m³ is rated on its 24 h moving mean (HJ 633-2012 Table 1 note); the
    # loaded day before gives the first hours their 24 h.
    wide = with_so2_24h(wide)
    rows = wide[_keyed(wide["site"], _local_days(wide["time"]), keys)].reset_index(drop=True)
    if rows.empty:
        return pd.DataFrame()
    local_day = rows["time"].dt.tz_localize(None).dt.normalize()
    rated = [*present, *(["so2_24h"] if "so2_24h" in rows.columns else [])]
    site, period_end, stations = rows["site"].to_numpy(), to_epoch(rows["time"]), _stations(rows)
    parts = []
    for standard in AqiStandard:
        result = hourly_aqi(rows[rated], standard, missing=missing_policy(standard))
        parts.append(
            {
                "site": site,
                "period_end": period_end,
                "standard": standard.value,
                "official": _official(local_day, standard),
                "is_area": is_area,
                "stations": stations,
                "aqi": result["aqi"].to_numpy(),
                "level": result["level"].astype(np.int64).to_numpy(),
                "primary_pollutants": pollutant_names(result["primary_mask"]),
                **{f"iaqi_{p}": result[f"iaqi_{p}"].to_numpy() for p in AIR},
                "complete": result["complete"].astype(np.int64).to_numpy(),
                "computed_at": now,
            }
        )
    return _interleaved(parts, len(rows))


def _interleaved(parts: list[dict[str, Any]], rows: int) -> pd.DataFrame:
    """One frame of the columns of each rule set's rows (``rows`` each, in the same order;
    a column a scalar or an array), the rows taken in turn: the first row of each rule
    set, then the second of each, …: the table's key order (site, time, rule set), in
    which SQLite writes them fastest (:func:`~monitor.ledger.evaluation_output.
    write_derived`). A scalar the same in every part stays a scalar."""
    columns: dict[str, Any] = {}
    for name in parts[0]:
        values = [part[name] for part in parts]
        if all(np.ndim(v) == 0 for v in values) and all(v == values[0] for v in values):
            columns[name] = values[0]
        else:
            columns[name] = np.stack([np.broadcast_to(v, (rows,)) for v in values], axis=1)
            columns[name] = columns[name].reshape(-1)
    return pd.DataFrame(columns, index=pd.RangeIndex(rows * len(parts)))


def _daily_rows(stats: pd.DataFrame, is_area: int, now: int) -> pd.DataFrame:
    if stats.empty:
        return pd.DataFrame()
    stats = stats.reset_index(drop=True)
    # Stored rounded as published (GB/T 8170; integers, CO 0.1 mg/m³), but rated on the
    # unrounded means: HJ 633-2012 rates them as they are (published Shenyang days: PM2.5
    # 75.3 rates 101, standards.md §2.9); HJ 633-2026 §4.2.2 rounds them first, which
    # daily_aqi does for that rule set.
    published = round_daily_statistics(stats)
    rounded = {s: published[s].to_numpy(dtype=float) for s in DAILY_STATISTICS}
    valid = pd.DataFrame({s: stats[f"{s}_valid"].to_numpy(dtype=bool) for s in DAILY_STATISTICS})
    inputs = pd.DataFrame(
        {s: np.where(valid[s], stats[s].to_numpy(dtype=float), np.nan) for s in DAILY_STATISTICS}
    )
    invalid_parts = np.full(len(stats), "", dtype=object)
    for s_name in DAILY_STATISTICS:
        invalid_parts = np.where(
            ~valid[s_name].to_numpy(), invalid_parts + (s_name + ";"), invalid_parts
        )
    invalid = [text.rstrip(";") for text in invalid_parts]
    dates = _date_text(stats["date"])
    site, stations = stats["site"].to_numpy(), _stations(stats)
    invalid_texts = np.array(invalid, dtype=object)
    parts = []
    for standard in AqiStandard:
        result = daily_aqi(inputs, standard, missing=missing_policy(standard))
        parts.append(
            {
                "site": site,
                "date": dates,
                "standard": standard.value,
                "official": _official(stats["date"], standard),
                "is_area": is_area,
                "stations": stations,
                **{s: rounded[s] for s in DAILY_STATISTICS},
                "invalid_statistics": invalid_texts,
                "aqi": result["aqi"].to_numpy(),
                "level": result["level"].astype(np.int64).to_numpy(),
                "primary_pollutants": pollutant_names(result["primary_mask"]),
                "exceedance_pollutants": pollutant_names(result["exceedance_mask"])
                if standard is AqiStandard.HJ633_2012
                else "",
                "complete": result["complete"].astype(np.int64).to_numpy(),
                "computed_at": now,
            }
        )
    return _interleaved(parts, len(stats))


#: The items GB 3838-2002 Table 1 classifies (and the reference items). The automatic
#: stations' physical items (water temperature, conductivity, turbidity, chlorophyll a,
#: algal density) have no class limits: they are stored and published, never rated.
CLASSIFIED_WATER_ITEMS: Final = frozenset(p.value for p in Parameter)


def _water(obs: pd.DataFrame, bodies: Mapping[str, str], now: int) -> pd.DataFrame:
    water = obs[obs["parameter"].isin(CLASSIFIED_WATER_ITEMS)]
    if water.empty:
        return pd.DataFrame()
    water = water.assign(site=water["site"].astype(str), parameter=water["parameter"].astype(str))
    wide = water.pivot_table(
        index=["site", "period_end"], columns="parameter", values="value", aggfunc="first"
    ).reset_index()
    wide.columns.name = None
    values = wide.drop(columns=["site", "period_end"])
    site_bodies = [WaterBody(bodies.get(s, "river")) for s in wide["site"]]
    # Results below the detection limit (stored as the limit, flagged): rated at half the
    # limit by the same code path as `envmon calc water-class`.
    below = (
        water.assign(below=below_detection(water["flags"]))
        .pivot_table(
            index=["site", "period_end"], columns="parameter", values="below", aggfunc="max"
        )
        .reindex(
            index=pd.MultiIndex.from_frame(wide[["site", "period_end"]]),
            columns=values.columns,
            fill_value=False,
        )
        .set_axis(values.index, axis=0)
    )
    rated = rate_samples(values, below, site_bodies, None, WaterClass.III)
    out = pd.DataFrame(
        {
            "site": wide["site"].to_numpy(),
            "period_end": to_epoch(wide["period_end"]),
            "water_class": rated["water_class"].to_numpy(),
            "limiting_parameters": rated["limiting_parameters"].to_numpy(),
            "exceedance_multiples": rated["exceedance_multiples"].to_numpy(),
            "parameter_set": rated["parameter_set"].to_numpy(),
            "computed_at": now,
        }
    )
    return out[out["water_class"] != ""]


__all__ = [
    "EvaluationReport",
    "area_membership",
    "area_minimums",
    "core_free",
    "default_minimum",
    "evaluate_dirty",
    "evaluation_health",
]
