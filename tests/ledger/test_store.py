"""The SQLite ledger: migrations, upserts with revisions, fetch log, dirty days, crash safety."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from monitor.collectors.base import observations
from monitor.errors import StorageError
from monitor.ledger import Ledger
from monitor.ledger.schema import LATEST_VERSION

SHANGHAI = "Asia/Shanghai"


def hours(site: str, start: str, values: list[float], parameter: str = "pm2_5") -> pd.DataFrame:
    """Hourly observations labelled (ending) at start, start+1h, … local time."""
    end = pd.date_range(start, periods=len(values), freq="h", tz=SHANGHAI)
    return observations(site, parameter, end - pd.Timedelta(hours=1), end, values)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    """A fresh ledger in a temporary folder."""
    with Ledger.open(tmp_path / "sub" / "ledger.sqlite") as opened:
        yield opened


def test_open_creates_a_wal_database_at_the_latest_schema(ledger: Ledger) -> None:
    """A new ledger is in WAL mode with every migration applied."""
    mode = ledger.connection.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    assert ledger.schema_version == LATEST_VERSION


def test_reopening_does_not_migrate_again(tmp_path: Path) -> None:
    """Opening twice keeps one schema_version row per migration."""
    path = tmp_path / "l.sqlite"
    Ledger.open(path).close()
    with Ledger.open(path) as again:
        rows = again.connection.execute("SELECT count(*) FROM schema_version").fetchone()[0]
    assert rows == LATEST_VERSION


def test_a_newer_ledger_is_refused(tmp_path: Path) -> None:
    """A ledger with a higher schema version than known gives a StorageError."""
    path = tmp_path / "l.sqlite"
    with Ledger.open(path) as ledger:
        ledger.connection.execute("INSERT INTO schema_version VALUES (?)", (LATEST_VERSION + 1,))
    with pytest.raises(StorageError, match="newer than this envmon knows"):
        Ledger.open(path)


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    """A text file at the ledger path gives a StorageError naming the file."""
    path = tmp_path / "notes.txt"
    path.write_text("hello " * 1000)
    with pytest.raises(StorageError, match=r"notes\.txt"):
        Ledger.open(path)


def test_insert_then_same_again_changes_nothing(ledger: Ledger) -> None:
    """The same observations twice: inserted once, then unchanged; no revision."""
    batch = hours("1099A", "2026-03-01 01:00", [10.0, 20.0, 30.0])
    first = ledger.write_observations(batch, "cnemc")
    second = ledger.write_observations(batch, "cnemc")
    assert (first.inserted, first.revised, first.unchanged) == (3, 0, 0)
    assert (second.inserted, second.revised, second.unchanged) == (0, 0, 3)
    assert len(ledger.revisions("1099A", "pm2_5")) == 0


def test_a_corrected_value_keeps_the_earlier_one_as_a_revision(ledger: Ledger) -> None:
    """A changed value replaces the stored one; the earlier value is kept with its revision."""
    ledger.write_observations(hours("1099A", "2026-03-01 01:00", [10.0, 20.0]), "cnemc")
    result = ledger.write_observations(hours("1099A", "2026-03-01 01:00", [10.0, 25.0]), "cnemc")
    assert (result.inserted, result.revised, result.unchanged) == (0, 1, 1)
    stored = ledger.observations(sites=["1099A"])
    assert stored["value"].tolist() == [10.0, 25.0]
    assert stored["revision"].tolist() == [0, 1]
    old = ledger.revisions("1099A", "pm2_5")
    assert old[["revision", "value"]].values.tolist() == [[0, 20.0]]


def test_changed_flags_are_a_revision_too(ledger: Ledger) -> None:
    """A value newly marked invalid by the source is a revision."""
    batch = hours("1099A", "2026-03-01 01:00", [10.0])
    ledger.write_observations(batch, "cnemc")
    flagged = batch.assign(flags="source_invalid")
    assert ledger.write_observations(flagged, "cnemc").revised == 1
    assert ledger.observations()["flags"].tolist() == ["source_invalid"]


def test_sources_are_kept_apart(ledger: Ledger) -> None:
    """The same site-hour from two sources is two observations."""
    batch = hours("1099A", "2026-03-01 01:00", [10.0])
    ledger.write_observations(batch, "cnemc")
    result = ledger.write_observations(batch.assign(value=11.0), "archive")
    assert result.inserted == 1
    assert sorted(ledger.observations()["source"]) == ["archive", "cnemc"]


def test_times_round_trip_in_utc(ledger: Ledger) -> None:
    """A value labelled 2026-03-01 08:00 Shanghai is stored as period 23:00–00:00 UTC."""
    ledger.write_observations(hours("1099A", "2026-03-01 08:00", [1.0]), "cnemc")
    row = ledger.observations().iloc[0]
    assert row["period_end"] == pd.Timestamp("2026-03-01 00:00", tz="UTC")
    assert row["period_start"] == pd.Timestamp("2026-02-28 23:00", tz="UTC")


def test_fetch_log_tells_empty_from_failed(ledger: Ledger) -> None:
    """An empty answer and a failed fetch are logged differently."""
    empty = hours("1099A", "2026-03-01 01:00", [1.0]).iloc[0:0]
    ledger.write_observations(empty, "cnemc", requested="GET /feed")
    ledger.log_failure("cnemc", "HTTP 503 (after 4 attempts)", requested="GET /feed")
    log = ledger.fetch_log("cnemc")
    assert log["status"].tolist() == ["failed", "empty"]
    assert log["error"].iloc[0] == "HTTP 503 (after 4 attempts)"


def test_watermark_is_the_latest_period_end(ledger: Ledger) -> None:
    """The watermark only moves forward."""
    ledger.write_observations(hours("1099A", "2026-03-01 05:00", [1.0, 2.0]), "cnemc")
    ledger.write_observations(hours("1099A", "2026-03-01 01:00", [1.0]), "cnemc")
    assert ledger.watermark("cnemc") == datetime(2026, 2, 28, 22, 0, tzinfo=UTC)
    assert ledger.watermark("other") is None


def test_dirty_days_are_local_dates_of_changed_labels(ledger: Ledger) -> None:
    """A label marks its date; 17:00 or later also the next day (8-hour windows), before
    06:00 also the day before (its quality checks look ahead)."""
    ledger.write_observations(hours("1099A", "2026-03-01 00:00", [1.0]), "cnemc")
    ledger.write_observations(hours("1099A", "2026-03-02 16:00", [1.0]), "cnemc")
    ledger.write_observations(hours("1099A", "2026-03-05 17:00", [1.0]), "cnemc")
    days = ledger.dirty_days()
    assert days["date"].tolist() == [
        "2026-02-28",
        "2026-03-01",
        "2026-03-02",
        "2026-03-05",
        "2026-03-06",
    ]
    ledger.clear_dirty(days)
    ledger.write_observations(hours("1099A", "2026-03-01 00:00", [1.0]), "cnemc")
    assert ledger.dirty_days().empty  # unchanged data dirties nothing


def test_an_so2_label_marks_the_days_of_so2_hours_above_800_within_23_hours(
    ledger: Ledger,
) -> None:
    """HJ 633-2012 Table 1 note: an SO2 hour above 800 µg/m³ is rated on its 24-hour moving
    mean, which reaches 23 hours back. SO2 900 at 2026-03-02 10:00: a revision of 03-01
    13:00 (in that mean) marks 03-02 too; one of 03-01 10:00 (24 hours before, outside)
    does not, nor does NO2 at 13:00, nor SO2 at 13:00 without a high hour after it."""
    ledger.write_observations(hours("1099A", "2026-03-02 10:00", [900.0], "so2"), "cnemc")
    ledger.write_observations(hours("1099A", "2026-03-05 13:00", [1.0], "so2"), "cnemc")
    ledger.clear_dirty(ledger.dirty_days())
    ledger.write_observations(hours("1099A", "2026-03-01 13:00", [1.0], "so2"), "cnemc")
    assert ledger.dirty_days()["date"].tolist() == ["2026-03-01", "2026-03-02"]
    ledger.clear_dirty(ledger.dirty_days())
    ledger.write_observations(hours("1099A", "2026-03-01 10:00", [1.0], "so2"), "cnemc")
    ledger.write_observations(hours("1099A", "2026-03-01 14:00", [1.0], "no2"), "cnemc")
    ledger.write_observations(hours("1099A", "2026-03-05 14:00", [2.0], "so2"), "cnemc")
    # 03-01 10:00 (before 12:00) also marks the day before: its quality checks look ahead.
    assert ledger.dirty_days()["date"].tolist() == ["2026-02-28", "2026-03-01", "2026-03-05"]


def test_duplicate_keys_in_one_batch_keep_the_last(ledger: Ledger) -> None:
    """A batch with the same site-hour twice stores the later value once."""
    batch = pd.concat(
        [hours("1099A", "2026-03-01 01:00", [1.0]), hours("1099A", "2026-03-01 01:00", [2.0])]
    )
    result = ledger.write_observations(batch, "cnemc")
    assert result.inserted == 1
    assert ledger.observations()["value"].tolist() == [2.0]


CHILD = textwrap.dedent(
    """
    import sys
    import numpy as np
    import pandas as pd
    from monitor.collectors.base import observations
    from monitor.ledger import Ledger

    ledger = Ledger.open(__import__("pathlib").Path(sys.argv[1]))
    end = pd.date_range("2026-01-01 01:00", periods=2000, freq="h", tz="Asia/Shanghai")
    batch = 0
    while True:
        frame = observations(
            np.repeat([f"b{batch:05d}"], 2000), "pm2_5", end - pd.Timedelta(hours=1), end,
            np.arange(2000, dtype=float),
        )
        ledger.write_observations(frame, "crash")
        batch += 1
        print(batch, flush=True)
    """
)


def test_kill_9_during_writes_leaves_a_consistent_ledger(tmp_path: Path) -> None:
    """SIGKILL mid-write: the ledger opens, passes integrity_check, and has whole batches only."""
    path = tmp_path / "crash.sqlite"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    for _ in range(5):  # let it commit a few batches, then kill it mid-way through another
        child.stdout.readline()
    time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    child.stdout.close()
    with Ledger.open(path) as ledger:
        assert ledger.connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        per_batch = ledger.query("SELECT site, count(*) AS n FROM observations GROUP BY site")
        logged = ledger.query("SELECT count(*) AS n FROM fetch_log WHERE status = 'ok'")
    assert len(per_batch) >= 5
    assert set(per_batch["n"]) == {2000}
    assert int(logged["n"].iloc[0]) == len(per_batch)


def test_write_rate_is_reasonable_for_a_large_batch(ledger: Ledger) -> None:
    """100,000 observations go in with exact counts (speed is measured in benchmarks/)."""
    end = pd.date_range("2025-01-01 01:00", periods=10_000, freq="h", tz=SHANGHAI)
    frame = observations(
        np.repeat([f"{i:04d}A" for i in range(10)], 10_000),
        "pm2_5",
        np.tile(end - pd.Timedelta(hours=1), 10),
        np.tile(end, 10),
        np.random.default_rng(1).uniform(1, 200, 100_000).round(),
    )
    result = ledger.write_observations(frame, "bulk")
    assert (result.inserted, result.revised, result.unchanged) == (100_000, 0, 0)
    assert ledger.query("SELECT count(*) AS n FROM observations")["n"].iloc[0] == 100_000


def test_ledger_is_plain_sqlite(tmp_path: Path) -> None:
    """Other tools can read the ledger with the sqlite3 module alone."""
    path = tmp_path / "l.sqlite"
    with Ledger.open(path) as ledger:
        ledger.write_observations(hours("1099A", "2026-03-01 01:00", [5.0]), "cnemc")
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT value FROM observations").fetchone()[0] == 5.0


def test_an_older_ledger_is_migrated_with_its_data(tmp_path: Path) -> None:
    """A ledger at schema 3 (observations keyed by site first) opens at the latest schema,
    with every observation kept."""
    from monitor.ledger.schema import MIGRATIONS

    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for version, _, statements in MIGRATIONS[:3]:
            for statement in statements:
                db.execute(statement)
            db.execute("INSERT INTO schema_version VALUES (?)", (version,))
        db.execute(
            "INSERT INTO observations (site, parameter, period_end, source, period_start, unit, "
            "value, flags, ingested_at) VALUES ('1099A', 'pm2_5', 7200, 'old', 3600, 'µg/m³', "
            "42.0, '', 1)"
        )
    with Ledger.open(path) as ledger:
        assert ledger.schema_version == LATEST_VERSION
        rows = ledger.query("SELECT site, value FROM observations").values.tolist()
        key = ledger.connection.execute(
            "SELECT name FROM pragma_index_info('sqlite_autoindex_observations_1')"
        ).fetchall()
    assert rows == [["1099A", 42.0]]
    assert [k[0] for k in key][:1] == ["period_end"]


def test_migration_10_rebuilds_the_fetch_log_with_status_refused(tmp_path: Path) -> None:
    """A ledger at schema 9 with fetch-log rows of every old status opens at the latest
    schema: every row kept with its id and columns, the batch logged ``empty`` whose note
    says all its rows were refused becomes ``refused`` (a truly empty batch stays
    ``empty``), the index on (source, finished_at) is back, new ``refused`` rows are
    accepted and the CHECK still refuses an unknown status."""
    from monitor.ledger.schema import MIGRATIONS

    path = tmp_path / "v9.sqlite"
    columns = (
        "id, source, started_at, finished_at, requested, covers_start, covers_end, status, "
        "rows, inserted, revised, error, notes"
    )
    old_rows = [
        (3, "air", 10, 11, "live", 0, 3600, "ok", 6, 6, 0, "", ""),
        (5, "air", 20, 21, "live", None, None, "failed", 0, 0, 0, "HTTP 502", ""),
        (7, "air", 30, 31, "live", None, None, "empty", 0, 0, 0, "", "nothing new"),
        (
            9,
            "air",
            40,
            41,
            "live",
            None,
            None,
            "empty",
            0,
            0,
            0,
            "",
            "refused: all 18 row(s) of this batch were refused at intake\nA: year 2099",
        ),
    ]
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for version, _, statements in MIGRATIONS:
            if version > 9:
                break
            for statement in statements:
                db.execute(statement)
            db.execute("INSERT INTO schema_version VALUES (?)", (version,))
        db.executemany(
            f"INSERT INTO fetch_log ({columns}) VALUES ({','.join('?' * 13)})", old_rows
        )
        with pytest.raises(sqlite3.IntegrityError):  # what schema 9 could not hold
            db.execute(
                "INSERT INTO fetch_log (source, started_at, finished_at, requested, "
                "status) VALUES ('air', 1, 1, '', 'refused')"
            )
    assert [m[0] for m in MIGRATIONS].index(10) == 9  # migration 10 follows 9
    with Ledger.open(path) as ledger:
        assert ledger.schema_version == LATEST_VERSION >= 10
        rows = ledger.connection.execute(f"SELECT {columns} FROM fetch_log ORDER BY id").fetchall()
        index = ledger.connection.execute(
            "SELECT name FROM pragma_index_info('fetch_log_by_source')"
        ).fetchall()
        with ledger.transaction() as db:
            db.execute(
                "INSERT INTO fetch_log (source, started_at, finished_at, requested, "
                "status) VALUES ('air', 50, 51, '', 'refused')"
            )
        with pytest.raises(sqlite3.IntegrityError), ledger.transaction() as db:
            db.execute(
                "INSERT INTO fetch_log (source, started_at, finished_at, requested, "
                "status) VALUES ('air', 60, 61, '', 'lost')"
            )
        statuses = ledger.fetch_log("air")[["id", "status"]].values.tolist()
        tables = ledger.connection.execute(
            "SELECT name FROM sqlite_master WHERE name LIKE 'fetch_log%' ORDER BY name"
        ).fetchall()
    expected = [list(r) for r in old_rows]
    expected[3][7] = "refused"
    assert [list(r) for r in rows] == expected
    assert [i[0] for i in index] == ["source", "finished_at"]
    assert statuses == [[10, "refused"], [9, "refused"], [7, "empty"], [5, "failed"], [3, "ok"]]
    assert tables == [("fetch_log",), ("fetch_log_by_source",)]


def test_a_day_marked_again_by_another_connection_while_evaluated_stays_dirty(
    tmp_path: Path,
) -> None:
    """Issue 17 review: the evaluation reads the dirty days, another connection (the HJ 212
    receiver, a collector) commits a new value for one of them, then the evaluation clears
    what it read. Only the day nobody marked again is forgotten; the day marked again stays
    dirty (for the next run) until it is cleared with the mark it has now."""
    path = tmp_path / "ledger.sqlite"
    with Ledger.open(path) as ledger, Ledger.open(path) as receiver:
        ledger.write_observations(hours("1099A", "2026-03-01 13:00", [10.0]), "cnemc")
        ledger.write_observations(hours("1100A", "2026-03-01 13:00", [10.0]), "cnemc")
        read = ledger.dirty_days(marked=True)
        assert read[["site", "date"]].values.tolist() == [
            ["1099A", "2026-03-01"],
            ["1100A", "2026-03-01"],
        ]
        # the receiver's revision of 1099A's day, committed between the read and the clear
        receiver.write_observations(hours("1099A", "2026-03-01 14:00", [90.0]), "hj212")
        ledger.clear_dirty(read)
        assert ledger.dirty_days().values.tolist() == [["1099A", "2026-03-01"]]
        ledger.clear_dirty(ledger.dirty_days(marked=True))
        assert ledger.dirty_days().empty
        # a frame without marks (callers that read site and date only) clears as before
        receiver.write_observations(hours("1099A", "2026-03-01 15:00", [90.0]), "hj212")
        ledger.clear_dirty(ledger.dirty_days())
        assert ledger.dirty_days().empty
        # and so does a row whose mark is missing (NaN)
        receiver.write_observations(hours("1100A", "2026-03-01 15:00", [90.0]), "hj212")
        unknown = ledger.dirty_days().assign(marked=np.nan)
        receiver.write_observations(hours("1100A", "2026-03-01 16:00", [90.0]), "hj212")
        ledger.clear_dirty(unknown)
        assert ledger.dirty_days().empty


def test_marking_a_dirty_day_again_changes_its_mark(ledger: Ledger) -> None:
    """Every marking gives a day a mark other than the one it had, also when two writes
    of the same day come in one transaction or within one clock tick (the mark grows)."""
    ledger.write_observations(hours("1099A", "2026-03-01 13:00", [10.0]), "cnemc")
    first = ledger.dirty_days(marked=True)["marked"].tolist()
    ledger.write_observations(hours("1099A", "2026-03-01 14:00", [10.0]), "cnemc")
    second = ledger.dirty_days(marked=True)["marked"].tolist()
    assert len(first) == len(second) == 1 and second[0] != first[0]
    with ledger.transaction() as db:  # the same mark bound twice: still a new one
        for _ in range(2):
            db.execute(
                "INSERT INTO dirty_days (site, date, marked) VALUES ('1099A', '2026-03-01', ?) "
                "ON CONFLICT (site, date) DO UPDATE SET "
                "marked = max(excluded.marked, dirty_days.marked + 1)",
                (second[0],),
            )
    assert ledger.dirty_days(marked=True)["marked"].tolist() == [second[0] + 2]


def test_migration_11_keeps_the_dirty_days_with_mark_0(tmp_path: Path) -> None:
    """A ledger at schema 10 with dirty days opens at the latest schema with every dirty
    day kept (mark 0); an evaluation's read-then-clear forgets them, and a day marked
    again after the read stays."""
    from monitor.ledger.schema import MIGRATIONS

    path = tmp_path / "v10.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for version, _, statements in MIGRATIONS:
            if version > 10:
                break
            for statement in statements:
                db.execute(statement)
            db.execute("INSERT INTO schema_version VALUES (?)", (version,))
        db.executemany(
            "INSERT INTO dirty_days (site, date) VALUES (?, ?)",
            [("1099A", "2026-03-01"), ("1100A", "2026-03-01")],
        )
    assert [m[0] for m in MIGRATIONS].index(11) == 10  # migration 11 follows 10
    with Ledger.open(path) as ledger:
        assert ledger.schema_version == LATEST_VERSION >= 11
        read = ledger.dirty_days(marked=True)
        assert read.values.tolist() == [["1099A", "2026-03-01", 0], ["1100A", "2026-03-01", 0]]
        ledger.write_observations(hours("1100A", "2026-03-01 13:00", [10.0]), "cnemc")
        ledger.clear_dirty(read)
        assert ledger.dirty_days().values.tolist() == [["1100A", "2026-03-01"]]
