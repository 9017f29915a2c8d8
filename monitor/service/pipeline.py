"""One collection, start to finish: fetch → ledger → evaluate.

Every command that ingests (``collect``, ``backfill``, ``import``) and the daemon go through
here, so what was ingested is always evaluated: the ledger is never half-done. Every batch
passes the intake check (:mod:`monitor.collectors.intake`) on its way to the ledger: rows
the ledger cannot hold are refused one by one, listed in the fetch log and the report. A
source that fails part-way keeps what it delivered before the failure (written and
evaluated), logs the failure in the fetch log, and the error goes up to the caller.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd

from monitor.collectors.base import Batch, Collector, empty_observations
from monitor.collectors.bureau_csv import parse_daily_aqi_csv, parse_indicator_csv
from monitor.collectors.cnemc_sites_archive import parse_sites_csv_with_notes
from monitor.collectors.intake import DEFAULT_FUTURE_TOLERANCE, admit
from monitor.collectors.long_csv import CHUNK_ROWS, parse_long_csv, stream_long_csv
from monitor.collectors.xlsx_import import parse_xlsx, stream_xlsx
from monitor.errors import InputError, SourceError
from monitor.ledger import Ledger, WriteResult
from monitor.ledger.epoch import wait_past_second
from monitor.ledger.indicators import INDICATOR_IMPORTS
from monitor.service.evaluate import EvaluationReport
from monitor.service.evaluate import evaluate_dirty as _evaluate_dirty
from monitor.service.progress_targets import refresh_progress
from monitor.service.reporting import is_synthetic_file
from monitor.service.sources import section_ids
from monitor.settings import Settings, SourceSettings

LOCAL = ZoneInfo("Asia/Shanghai")


#: ``on_evaluate(done, total, stage)``: how far the evaluation after an ingest has come;
#: ``stage`` is ``"evaluate"`` (dirty dates evaluated) or ``"targets"`` (as-of dates of the
#: targets' progress series recomputed).
OnEvaluate = Callable[[int, int, str], None]


def evaluate_dirty(
    ledger: Ledger,
    settings: Settings,
    *,
    progress: OnEvaluate | None = None,
) -> EvaluationReport:
    """Evaluate the changed days, then refresh the targets' progress for them and today."""
    report = _evaluate_dirty(ledger, settings, progress=_stage(progress, "evaluate"))
    refresh_progress(
        ledger,
        settings,
        report.dates,
        datetime.now(LOCAL).date(),
        progress=_stage(progress, "targets"),
    )
    return report


def _stage(progress: OnEvaluate | None, stage: str) -> Callable[[int, int], None] | None:
    if progress is None:
        return None
    return lambda done, total: progress(done, total, stage)


#: ``envmon import --format`` values and the source name their rows are stored under.
IMPORT_FORMATS = {
    "cnemc-sites-csv": "import_cnemc_sites_csv",
    "long-csv": "import_long_csv",
    "xlsx": "import_xlsx",
    "daily-aqi-csv": "official_daily_aqi",
    "indicators-csv": "indicator_values",
}


@dataclass
class IngestReport:
    """Counts of one ingest and of the evaluation that followed it."""

    batches: int = 0
    rows: int = 0
    inserted: int = 0
    revised: int = 0
    unchanged: int = 0
    empty: int = 0
    warnings: list[str] = field(default_factory=list)
    evaluation: EvaluationReport = field(default_factory=EvaluationReport)
    unit: str = "observation"
    refused: list[str] = field(default_factory=list)
    #: Batches that had rows, all of them refused at intake (not counted as ``empty``:
    #: the source sent something, the ledger could hold none of it).
    refused_batches: int = 0

    def summary(self) -> str:
        """One line for the operator."""
        text = (
            f"{self.rows} {self.unit}(s) in {self.batches} batch(es): {self.inserted} new, "
            f"{self.revised} revised, {self.unchanged} unchanged"
            + (f", {self.empty} empty" if self.empty else "")
            + (f", {len(self.refused)} refused at intake" if self.refused else "")
            + (
                f" ({self.refused_batches} batch(es) wholly refused)"
                if self.refused_batches
                else ""
            )
        )
        if self.unit == "observation":
            text += f"; evaluated {self.evaluation.site_days} site-day(s)"
        return text + "; progress refreshed" if self.unit == "row" else text


def collection_window(
    ledger: Ledger, source: SourceSettings, now: datetime
) -> tuple[datetime, datetime]:
    """From the source's watermark (or ``catch_up_hours`` back, the first time) to now."""
    mark = ledger.watermark(source.name)
    since = mark if mark is not None else now - timedelta(hours=source.catch_up_hours)
    return since, now


def ingest(
    ledger: Ledger,
    settings: Settings,
    source: SourceSettings,
    collector: Collector,
    since: datetime | None,
    until: datetime | None,
    *,
    on_batch: Callable[[IngestReport], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    write_lock: AbstractContextManager[object] | None = None,
) -> IngestReport:
    """Collect from one source into the ledger and evaluate what changed.

    ``should_stop`` is asked between batches (each batch is committed on its own): when it
    says yes the collection ends early, and what was written is evaluated.
    ``write_lock`` (the daemon's, whose sources fetch in parallel) is held while writing
    and evaluating, never while fetching: one writer at a time, and no evaluation clears a
    dirty day another source has just written.

    Raises
    ------
    SourceError
        After logging it and evaluating whatever was written before it.
    """
    lock = write_lock if write_lock is not None else nullcontext()
    with lock:
        ledger.register_source(source.name, source.collector, collector.kind)
        if source.collector == "cnemc_water":  # sections: one identity (configured id)
            ledger.adopt_site_aliases(source.name, section_ids(settings))
    report = IngestReport()
    started = datetime.now(UTC)
    try:
        for batch in collector.collect(since, until):
            _write_batch(ledger, settings, source.name, batch, started, report, lock)
            if on_batch is not None:
                on_batch(report)
            started = datetime.now(UTC)
            if should_stop():
                report.warnings.append("stopped early on request; the rest comes next run")
                break
    except SourceError as err:
        with lock:
            ledger.log_failure(source.name, str(err), covers=(since, until), started_at=started)
            report.evaluation = evaluate_dirty(ledger, settings)
        raise
    with lock:
        report.evaluation = evaluate_dirty(ledger, settings)
    return report


def _write_batch(
    ledger: Ledger,
    settings: Settings,
    source: str,
    batch: Batch,
    started: datetime,
    report: IngestReport,
    lock: AbstractContextManager[object] | None = None,
) -> None:
    """One collected batch through the intake check into the ledger (under ``lock``, if
    any), its rows and refusals counted in ``report``."""
    frame, refused = admit(batch.observations, future_tolerance=_tolerance(settings))
    with lock if lock is not None else nullcontext():
        result = ledger.write_observations(
            frame,
            source,
            requested=batch.requested,
            covers=batch.covers,
            started_at=started,
            notes=(*_wholly_refused(len(frame), refused), *batch.notes, *_noted(refused)),
            refused=len(refused),
        )
    _count(report, len(frame), result, refused=len(refused))
    report.refused.extend(refused)


#: Refusals written to one fetch-log entry; the rest are counted.
NOTED_REFUSALS = 20


def _tolerance(settings: Settings) -> timedelta:
    return timedelta(minutes=settings.ledger.future_tolerance_minutes)


def _noted(refused: list[str]) -> list[str]:
    """Refusal messages for the fetch log: the first :data:`NOTED_REFUSALS` and a count."""
    more = len(refused) - NOTED_REFUSALS
    return refused[:NOTED_REFUSALS] + ([f"… and {more} more refused"] if more > 0 else [])


def _wholly_refused(rows: int, refused: list[str]) -> list[str]:
    """The fetch-log note that leads a batch whose every row was refused at intake.

    Such a batch is logged with status ``refused`` (ledger migration 10; before it, the
    status column only knew ok / empty / failed and the batch was logged ``empty``), with
    this note first, saying that the source did send rows.
    """
    if rows or not refused:
        return []
    return [f"refused: all {len(refused)} row(s) of this batch were refused at intake"]


def _count(report: IngestReport, rows: int, result: WriteResult, *, refused: int = 0) -> None:
    report.batches += 1
    report.rows += rows
    report.inserted += result.inserted
    report.revised += result.revised
    report.unchanged += result.unchanged
    if rows == 0 and refused:
        report.refused_batches += 1
    else:
        report.empty += rows == 0


def parse_import_file(
    path: Path,
    file_format: str,
    *,
    future_tolerance: timedelta = DEFAULT_FUTURE_TOLERANCE,
    now: datetime | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """Read one import file into observations and warnings.

    Rows the ledger cannot hold are refused by the parsers' intake check, each named by its
    line (and column), with times later than ``now`` (default: the clock) +
    ``future_tolerance`` refused.

    Raises
    ------
    InputError
        If the file cannot be read or used at all.
    """
    try:
        data = path.read_bytes()
    except OSError as err:
        raise InputError(f"{path}: cannot read the file ({err.strerror})") from err
    if file_format == "cnemc-sites-csv":
        try:
            frame, notes = parse_sites_csv_with_notes(
                data, name=path.name, now=now, future_tolerance=future_tolerance
            )
        except SourceError as err:
            raise InputError(f"{path}: {err}") from err
        return frame, list(notes)
    if file_format == "long-csv":
        return parse_long_csv(data, str(path), now=now, future_tolerance=future_tolerance)
    if file_format == "xlsx":
        return parse_xlsx(data, str(path), now=now, future_tolerance=future_tolerance)
    raise InputError(
        f"unknown import format {file_format!r}; expected one of {', '.join(IMPORT_FORMATS)}"
    )


def import_files(
    ledger: Ledger,
    settings: Settings,
    file_format: str,
    paths: Sequence[Path],
    *,
    on_file: Callable[[int, IngestReport], None] | None = None,
    on_evaluate: OnEvaluate | None = None,
    now: datetime | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> IngestReport:
    """Import files in one format, then evaluate everything they changed.

    Importing the same file twice changes nothing; a corrected file records revisions.
    ``now`` (default: the clock) is what the intake check calls the present. Long CSV files
    and workbooks are read and stored ``chunk_rows`` rows at a time (:func:`_import_streamed`).
    """
    source = IMPORT_FORMATS.get(file_format)
    if source is None:
        raise InputError(
            f"unknown import format {file_format!r}; expected one of {', '.join(IMPORT_FORMATS)}"
        )
    if file_format in ("daily-aqi-csv", "indicators-csv"):
        return _import_bureau_files(ledger, settings, file_format, paths, on_file=on_file, now=now)
    ledger.register_source(source, file_format, "measured")
    if file_format in STREAMED_IMPORTS:
        with _page_cache(ledger, IMPORT_CACHE_KIB):
            return _import_observation_files(
                ledger, settings, file_format, source, paths, on_file, on_evaluate, now, chunk_rows
            )
    return _import_observation_files(
        ledger, settings, file_format, source, paths, on_file, on_evaluate, now, chunk_rows
    )


#: The import formats read in chunks, and their chunk readers (one signature).
STREAMED_IMPORTS = {"long-csv": stream_long_csv, "xlsx": stream_xlsx}

#: SQLite page cache (KiB) a streamed import may use; the ledger's default of 256 MiB would
#: fill up on a large file and, with the evaluation, take ``envmon import`` of 5 M rows past
#: 500 MB (issue 16; ``benchmarks/bench_import_memory.py``).
IMPORT_CACHE_KIB = 65536


@contextmanager
def _page_cache(ledger: Ledger, kib: int) -> Iterator[None]:
    """The ledger connection's page cache limited to ``kib`` KiB, restored afterwards."""
    before = ledger.connection.execute("PRAGMA cache_size").fetchone()[0]
    ledger.connection.execute(f"PRAGMA cache_size=-{int(kib)}")
    try:
        yield
    finally:
        ledger.connection.execute(f"PRAGMA cache_size={int(before)}")


def _import_observation_files(
    ledger: Ledger,
    settings: Settings,
    file_format: str,
    source: str,
    paths: Sequence[Path],
    on_file: Callable[[int, IngestReport], None] | None,
    on_evaluate: OnEvaluate | None,
    now: datetime | None,
    chunk_rows: int,
) -> IngestReport:
    report = IngestReport()
    for done, path in enumerate(paths, start=1):
        _apart_from_the_other_kind(ledger, source, path)
        try:
            if file_format in STREAMED_IMPORTS:  # streamed, memory bounded by a chunk
                _import_streamed(
                    ledger,
                    settings,
                    source,
                    path,
                    report,
                    STREAMED_IMPORTS[file_format],
                    now=now,
                    chunk_rows=chunk_rows,
                )
                if on_file is not None:
                    on_file(done, report)
                continue
            frame, warnings = parse_import_file(
                path, file_format, future_tolerance=_tolerance(settings), now=now
            )
        except InputError as err:
            if done > 1:  # never leave what was imported unevaluated
                evaluate_dirty(ledger, settings, progress=on_evaluate)
                raise InputError(
                    f"{err} ({done - 1} file(s) before it were imported and evaluated; "
                    "fix this file and import it again)"
                ) from err
            raise
        report.warnings.extend(f"{path.name}: {w}" for w in warnings)
        # The parsers refused what the ledger cannot hold, naming lines; this is the same
        # check once more on the way in (it finds nothing unless a parser missed a row).
        frame, refused = admit(frame, now=now, future_tolerance=_tolerance(settings))
        report.warnings.extend(f"{path.name}: {w}" for w in refused)
        result = ledger.write_observations(
            frame,
            source,
            requested=f"import {path}",
            notes=(*_wholly_refused(len(frame), refused), *_noted(refused)),
            refused=len(refused),
        )
        _count(report, len(frame), result)
        if on_file is not None:
            on_file(done, report)
    report.evaluation = evaluate_dirty(ledger, settings, progress=on_evaluate)
    return report


def _apart_from_the_other_kind(ledger: Ledger, source: str, path: Path) -> None:
    """Wait, if need be, so that ``path`` is not stored in the second of the source's last
    write when one of the two is a file of synthetic data and the other not.

    An observation names its import only by source and ingestion second
    (:func:`monitor.service.reporting.synthetic_files`): measurements stored in the second
    of a synthetic file would mark their reports synthetic (at most a second's wait)."""
    last = ledger.connection.execute(
        "SELECT finished_at, requested FROM fetch_log WHERE source = ? "
        "ORDER BY finished_at DESC, id DESC LIMIT 1",
        (source,),
    ).fetchone()
    if last is None:
        return
    finished, requested = int(last[0]), str(last[1])
    previous = requested.startswith("import ") and is_synthetic_file(requested[7:])
    if previous != is_synthetic_file(str(path)):
        wait_past_second(finished)


def _import_streamed(
    ledger: Ledger,
    settings: Settings,
    source: str,
    path: Path,
    report: IngestReport,
    stream: Callable[..., Iterator[pd.DataFrame]],
    *,
    now: datetime | None,
    chunk_rows: int,
) -> None:
    """Import one file in chunks given by ``stream`` (one of :data:`STREAMED_IMPORTS`:
    :func:`monitor.collectors.long_csv.stream_long_csv`,
    :func:`monitor.collectors.xlsx_import.stream_xlsx`).

    Each chunk of about ``chunk_rows`` rows passes the intake check and is written in its
    own transaction: peak memory follows the chunk, not the file (issue 16: 5 M rows used to
    take 4.16 GB). A crash part-way leaves the chunks before it stored (and their days
    dirty, evaluated by the next run); importing the file again is idempotent (upserts).
    Conflicting duplicates are found over the whole file before the rows of their key are
    stored, so nothing written ever needs undoing. The file counts as one batch in the
    report, as before. Raises :class:`InputError` before writing anything if the file
    cannot be used.
    """
    warnings: list[str] = []
    refused: list[str] = []
    total = WriteResult(0, 0, 0)
    rows = 0
    pending: list[pd.DataFrame] = []

    def write(frames: list[pd.DataFrame]) -> None:
        nonlocal total, rows
        frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        # The parser refused what the ledger cannot hold, naming lines; this is the same
        # check once more on the way in (it finds nothing unless the parser missed a row).
        frame, found = admit(frame, now=now, future_tolerance=_tolerance(settings))
        refused.extend(found)
        result = ledger.write_observations(
            frame, source, requested=f"import {path}", notes=_noted(found)
        )
        rows += len(frame)
        total = WriteResult(
            total.inserted + result.inserted,
            total.revised + result.revised,
            total.unchanged + result.unchanged,
        )

    chunks = stream(
        path,
        str(path),
        warnings,
        chunk_rows=chunk_rows,
        now=now,
        future_tolerance=_tolerance(settings),
    )
    for frame in chunks:
        pending.append(frame)
        if sum(len(f) for f in pending) >= chunk_rows:
            write(pending)
            pending = []
    if pending or rows == 0:
        write(pending or [empty_observations()])
    # (the stream names the file by its path: "PATH line 3: …" is given as "NAME: line 3: …")
    named = f"{path} "
    report.warnings.extend(f"{path.name}: {w.removeprefix(named)}" for w in warnings)
    report.warnings.extend(f"{path.name}: {w}" for w in refused)
    _count(report, rows, total)


def backfill(
    ledger: Ledger,
    settings: Settings,
    source: SourceSettings,
    collector: Collector,
    first: date,
    last: date,
    *,
    on_day: Callable[[int, IngestReport], None] | None = None,
    on_evaluate: OnEvaluate | None = None,
) -> IngestReport:
    """Collect local dates ``first`` … ``last`` day by day, then evaluate once.

    A day whose fetch fails is logged and skipped, so one bad day does not lose the rest;
    the failures are listed in the report's warnings.
    """
    ledger.register_source(source.name, source.collector, collector.kind)
    report = IngestReport()
    for index in range((last - first).days + 1):
        day = first + timedelta(days=index)
        start = datetime.combine(day, datetime.min.time(), LOCAL) - timedelta(hours=1)
        end = start + timedelta(hours=24)
        started = datetime.now(UTC)
        try:
            for batch in collector.collect(start.astimezone(UTC), end.astimezone(UTC)):
                _write_batch(ledger, settings, source.name, batch, started, report)
        except SourceError as err:
            ledger.log_failure(source.name, str(err), covers=(start, end), started_at=started)
            report.warnings.append(f"{day}: {err}")
        if on_day is not None:
            on_day(index + 1, report)
    report.evaluation = evaluate_dirty(ledger, settings, progress=on_evaluate)
    return report


def indicator_targets(settings: Settings) -> dict[str, tuple[str, int, tuple[str, ...]]]:
    """Target id → (kind, year, milestone item names), for checking manual values."""
    return {
        t.id: (t.kind, t.year, tuple(i.name for i in getattr(t, "items", ())))
        for t in settings.targets
    }


def _import_bureau_files(
    ledger: Ledger,
    settings: Settings,
    file_format: str,
    paths: Sequence[Path],
    *,
    on_file: Callable[[int, IngestReport], None] | None = None,
    now: datetime | None = None,
) -> IngestReport:
    """Official daily AQI of areas, or manual indicator values; then refresh progress."""
    report = IngestReport()
    dates: set[str] = set()
    for done, path in enumerate(paths, start=1):
        try:
            try:
                data = path.read_bytes()
            except OSError as err:
                raise InputError(f"{path}: cannot read the file ({err.strerror})") from err
            if file_format == "daily-aqi-csv":
                frame, warnings = parse_daily_aqi_csv(
                    data,
                    str(path),
                    [a.id for a in settings.areas],
                    now=now,
                    future_tolerance=_tolerance(settings),
                )
            else:
                frame, warnings = parse_indicator_csv(
                    data,
                    str(path),
                    indicator_targets(settings),
                    now=now,
                    future_tolerance=_tolerance(settings),
                )
        except InputError as err:
            if done > 1:  # never leave the progress of what was imported stale
                today = datetime.now(LOCAL).date()
                refresh_progress(ledger, settings, tuple(sorted(dates)), today)
                raise InputError(
                    f"{err} ({done - 1} file(s) before it were imported and the targets' "
                    "progress refreshed; fix this file and import it again)"
                ) from err
            raise
        if file_format == "daily-aqi-csv":
            result = ledger.write_official_daily(frame, str(path))
            _count(report, len(frame), result)
        else:
            # logged, and apart from a file of the other kind, as observations: a value's
            # second names its file (monitor.service.reporting.synthetic_files)
            _apart_from_the_other_kind(ledger, INDICATOR_IMPORTS, path)
            if is_synthetic_file(str(path)):  # ... and from values set by hand (not logged)
                last = ledger.connection.execute(
                    "SELECT max(recorded_at) FROM indicator_values"
                ).fetchone()[0]
                if last is not None:
                    wait_past_second(int(last))
            rows = [
                (str(r["target"]), str(r["item"]), str(r["date"]), str(r["value"]), str(r["note"]))
                for r in frame.to_dict("records")
            ]
            added = ledger.import_indicator_values(rows, requested=f"import {path}")
            _count(report, len(frame), WriteResult(added, 0, len(frame) - added))
        dates |= set(frame["date"].astype(str))
        report.warnings.extend(warnings)
        if on_file is not None:
            on_file(done, report)
    refresh_progress(ledger, settings, tuple(sorted(dates)), datetime.now(LOCAL).date())
    report.evaluation = EvaluationReport(dates=tuple(sorted(dates)))
    report.unit = "row"
    return report
