"""``bench_evaluate --floor`` (benchmarks/evaluate_floor.py): the floors do the evaluation's
SQLite work, no less: the same read queries over the same rows, the same rows written with
the same effects (outbox, dirty days), and the wide hourly rows hold the same values.

A tiny national-archive ledger (3 days × 110 stations: the Hunnan areas' stations 1098A-1108A
are among them, so area rows are written too), evaluated in chunks of one date
(``CHUNK_SITE_DAYS`` lowered, for the evaluation and the floor alike) so windows overlap.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import monitor.ledger.evaluation_hours as evaluation_hours
import monitor.service.evaluate as evaluate_module
from benchmarks import evaluate_floor as floor
from benchmarks.bench_evaluate import ROOT, build_ledger, differences
from monitor.ledger import Ledger
from monitor.service.evaluate import evaluate_dirty
from monitor.settings import Settings, load_settings

STATIONS = 110
DAYS = 3


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("floor")
    path = folder / "template.sqlite"
    dirty = build_ledger(path, folder / "archive", DAYS, STATIONS)
    assert dirty > DAYS * STATIONS  # (the days' first and last hours touch two more dates)
    return path


@pytest.fixture
def settings() -> Settings:
    return load_settings(ROOT / "config" / "hunnan.toml", {})


@pytest.fixture
def one_date_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(evaluate_module, "CHUNK_SITE_DAYS", STATIONS)


@pytest.fixture
def evaluated(
    template: Path,
    tmp_path: Path,
    settings: Settings,
    one_date_chunks: None,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[Path, int]]:
    """A copy of the template evaluated (no read-ahead: every read through ``fetch``),
    and the rows the evaluation's ``fetch`` calls returned."""
    path = tmp_path / "evaluated.sqlite"
    shutil.copyfile(template, path)
    read = [0]
    real = evaluation_hours.fetch

    def counted(*args: Any) -> evaluation_hours.Fetched:
        fetched = real(*args)
        read[0] += sum(int(hour[0]) for hour in fetched[0])
        return fetched

    monkeypatch.setattr(evaluation_hours, "fetch", counted)  # a spy: the real fetch runs
    with Ledger.open(path) as ledger:
        dirty = len(ledger.dirty_days())
        report = evaluate_dirty(ledger, settings, overlap=False)
        assert report.site_days == dirty
        areas = ledger.connection.execute("SELECT count(*) FROM daily_aqi WHERE is_area = 1")
        assert areas.fetchone()[0] > 0  # the Hunnan areas' rows are written too
        assert ledger.dirty_days().empty
    monkeypatch.setattr(evaluation_hours, "fetch", real)
    yield path, read[0]


def test_read_floor_reads_the_rows_the_evaluation_reads(
    template: Path, tmp_path: Path, settings: Settings, evaluated: tuple[Path, int]
) -> None:
    _, evaluation_read = evaluated
    with floor.opened(template, tmp_path / "read.sqlite") as ledger:
        chunks = floor.plan(ledger, settings)
        dates = ledger.dirty_days()["date"].nunique()
        assert len(chunks) == dates > 1  # one date a chunk: windows overlap, reused
        rows, clock = floor.read_floor(ledger, chunks, frames=True)
        reader_rows, _ = floor.read_whole(ledger, chunks)
        total = ledger.connection.execute("SELECT count(*) FROM observations").fetchone()[0]
    assert rows == evaluation_read
    assert reader_rows == evaluation_read
    assert evaluation_read == total  # each row once (the archive's days are the window)
    assert set(clock.parts) == {"dirty days", "observations", "frame"}


def test_write_floor_writes_what_the_evaluation_wrote(
    template: Path, tmp_path: Path, settings: Settings, evaluated: tuple[Path, int]
) -> None:
    path, _ = evaluated
    tables = {t: floor.derived(path, t) for t in ("qc_flags", "hourly_aqi", "daily_aqi")}
    assert all(len(frame) for frame in tables.values())
    for name, wide in (("narrow", False), ("wide", True)):
        with floor.opened(template, tmp_path / f"{name}.sqlite", keep=True) as ledger:
            if wide:
                ledger.connection.execute(floor.WIDE_SQL)
            written, _ = floor.write_floor(ledger, floor.plan(ledger, settings), tables, wide)
        hourly = written.pop(floor.WIDE_TABLE) if wide else None
        assert written == {
            t: 0 if wide and t == "hourly_aqi" else len(f) for t, f in tables.items()
        }
        if wide:  # one row per site (or area), local date and rule set
            assert hourly == len(tables["daily_aqi"])
    # Every derived table, the outbox and the dirty days as the evaluation left them.
    assert differences(path, tmp_path / "narrow.sqlite") == []
    assert [d.split()[0] for d in differences(path, tmp_path / "wide.sqlite")] == ["hourly_aqi"]
    with floor.opened(template, tmp_path / "replay.sqlite", keep=True) as ledger:
        written, _ = floor.write_replay(ledger, floor.plan(ledger, settings), tables)
    assert written == {t: len(f) for t, f in tables.items()}
    assert differences(path, tmp_path / "replay.sqlite") == []


def test_wide_rows_read_back_to_the_narrow_rows(
    template: Path, tmp_path: Path, settings: Settings, evaluated: tuple[Path, int]
) -> None:
    path, _ = evaluated
    tables = {t: floor.derived(path, t) for t in ("qc_flags", "hourly_aqi", "daily_aqi")}
    with floor.opened(template, tmp_path / "wide.sqlite", keep=True) as ledger:
        ledger.connection.execute(floor.WIDE_SQL)
        floor.write_floor(ledger, floor.plan(ledger, settings), tables, wide=True)
        wide = floor.read_wide(ledger.connection)
    with Ledger.open(path) as ledger:
        narrow = floor.read_narrow(ledger.connection)
    assert len(narrow["site"]) == len(tables["hourly_aqi"])
    assert floor.same_arrays(narrow, wide)
    wide["aqi"] = wide["aqi"].copy()
    wide["aqi"][0] += 1  # and a difference would show
    assert not floor.same_arrays(narrow, wide)
