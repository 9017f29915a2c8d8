"""The evaluation's reader gives exactly the frame the ledger's own read gives (issue 17),
window after window, also when it takes the overlap from the previous window."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from monitor.collectors.base import observations
from monitor.ledger import Ledger
from monitor.ledger.evaluation_input import (
    EVALUATION_SITES_IN_SQL,
    EvaluationInput,
    announced_version,
)
from monitor.ledger.evaluation_output import BackgroundWrites, delete_qc_flags, write_derived

START = datetime(2026, 3, 1, tzinfo=UTC)


def _hours(
    site: str, parameter: str, values: list[float], flags: str = "", hours: int = 1
) -> pd.DataFrame:
    end = pd.date_range("2026-03-01 01:00", periods=len(values), freq="h", tz="UTC")
    frame = observations(site, parameter, end - pd.Timedelta(hours=hours), end, np.array(values))
    frame["flags"] = flags
    return frame


def _same(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Same columns, dtypes, categories, codes, row order; values bit for bit."""
    assert list(got.columns) == list(expected.columns)
    assert len(got) == len(expected) > 0
    for column in got.columns:
        a, b = got[column], expected[column]
        assert a.dtype == b.dtype, column
        if isinstance(a.dtype, pd.CategoricalDtype):
            assert list(a.cat.categories) == list(b.cat.categories), column
            assert a.cat.codes.tolist() == b.cat.codes.tolist(), column
        elif column == "value":
            x, y = a.to_numpy(), b.to_numpy()
            assert np.array_equal(np.isnan(x), np.isnan(y))
            assert (x[~np.isnan(x)].view(np.int64) == y[~np.isnan(y)].view(np.int64)).all()
        else:
            assert a.tolist() == b.tolist(), column


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger.open(tmp_path / "ledger.sqlite") as opened:
        # Values a short decimal text would change (1/3, 0.1 + 0.2, a CO conversion), a
        # NULL, negative, tiny, huge and integral numbers, flags with ';' in some hours
        # only, a 24-hour period among hourly ones, two sources for the same hours.
        opened.write_observations(
            pd.concat(
                [
                    _hours("1001A", "pm2_5", [1 / 3, 0.1 + 0.2, np.nan, -2.0, 35.0, 36.0]),
                    _hours("1001A", "co", [1.2345678901234567, 1e-300, 9.99e300, 0.8, 0.0]),
                    _hours("1002A", "o3", [65.0, 66.0, 67.0], "maintenance;aqi_mismatch"),
                    _hours("1002A", "pm10", [2.0**60, -(2.0**53) - 2.0], hours=24),
                ],
                ignore_index=True,
            ),
            "a",
        )
        opened.write_observations(_hours("1001A", "pm2_5", [36.0, 37.0]), "b")
        yield opened


def _windows() -> list[tuple[datetime, datetime]]:
    """Overlapping consecutive windows, as consecutive chunks ask for them."""
    return [(START + timedelta(hours=h), START + timedelta(hours=h + 3)) for h in (-1, 1, 2, 4, 5)]


@pytest.mark.parametrize("sites", [["1001A", "1002A"], ["1002A"]])
def test_each_window_equals_the_ledger_read(ledger: Ledger, sites: list[str]) -> None:
    reader = EvaluationInput(ledger.connection)
    for start, end in _windows():
        expected = ledger.evaluation_observations(start=start, end=end, sites=sites)
        if len(expected):
            _same(reader.observations(start=start, end=end, sites=sites), expected)
    assert reader.rows_reused > 0  # the overlaps came from the previous window


def test_many_sites_are_filtered_after_reading(ledger: Ledger) -> None:
    many = ["1001A", *[f"{9000 + i}X" for i in range(EVALUATION_SITES_IN_SQL)]]
    reader = EvaluationInput(ledger.connection)
    for start, end in _windows():
        got = reader.observations(start=start, end=end, sites=many)
        assert list(got["site"].cat.categories) == ["1001A"]
        _same(got, ledger.evaluation_observations(start=start, end=end, sites=many))
    # A few sites after many: the overlap is taken from the wider window, filtered.
    got = reader.observations(start=START, end=START + timedelta(hours=6), sites=["1002A"])
    _same(
        got,
        ledger.evaluation_observations(
            start=START, end=START + timedelta(hours=6), sites=["1002A"]
        ),
    )


def test_separator_in_a_code_and_infinite_values_fall_back_to_rows(ledger: Ledger) -> None:
    ledger.write_observations(_hours("odd\x1fsite,1", "no2", [40.0, 41.0]), "a")
    start, end = START, START + timedelta(hours=6)
    sites = ["1001A", "odd\x1fsite,1"]
    _same(
        EvaluationInput(ledger.connection).observations(start=start, end=end, sites=sites),
        ledger.evaluation_observations(start=start, end=end, sites=sites),
    )
    ledger.connection.execute("UPDATE observations SET value = 9e999 WHERE parameter = 'no2'")
    got = EvaluationInput(ledger.connection).observations(
        start=start, end=end, sites=["odd\x1fsite,1"]
    )
    assert np.isinf(got["value"]).all() and len(got) == 2


def test_a_commit_of_another_connection_makes_the_next_window_read_afresh(
    ledger: Ledger,
) -> None:
    """An HJ 212 receiver writes through its own connection while an evaluation runs: the
    overlap must then not come from the window read before."""
    reader = EvaluationInput(ledger.connection)
    first, second = _windows()[0], _windows()[1]
    reader.observations(start=first[0], end=first[1], sites=["1001A"])
    other = sqlite3.connect(ledger.path)
    with other:
        other.execute("UPDATE observations SET value = 99.0 WHERE site = '1001A'")
    other.close()
    got = reader.observations(start=second[0], end=second[1], sites=["1001A"])
    assert (got["value"] == 99.0).all()
    _same(got, ledger.evaluation_observations(start=second[0], end=second[1], sites=["1001A"]))


@pytest.mark.parametrize("sites", [["1001A", "1002A"], ["1002A"]])
def test_windows_read_ahead_equal_the_ledger_read(ledger: Ledger, sites: list[str]) -> None:
    """Each next window read ahead on the second connection while the caller works (as
    evaluate_dirty does): the same frames, and the rows did come from the read-ahead."""
    windows = _windows()
    with EvaluationInput(ledger.connection) as reader:
        for number, (start, end) in enumerate(windows):
            got = reader.observations(start=start, end=end, sites=sites)
            if number + 1 < len(windows):
                after = windows[number + 1]
                reader.prefetch(start=after[0], end=after[1], sites=sites)
            expected = ledger.evaluation_observations(start=start, end=end, sites=sites)
            if len(expected):
                _same(got, expected)
        assert reader.rows_prefetched > 0
        assert reader.rows_prefetched <= reader.rows_read


def test_rows_read_ahead_are_dropped_after_another_connections_commit(ledger: Ledger) -> None:
    """An HJ 212 receiver commits between the read-ahead and its use: the window is read
    afresh (the new values), never the rows read before the commit."""
    first, second = _windows()[0], _windows()[1]
    with EvaluationInput(ledger.connection) as reader:
        reader.observations(start=first[0], end=first[1], sites=["1001A"])
        reader.prefetch(start=second[0], end=second[1], sites=["1001A"])
        other = sqlite3.connect(ledger.path)
        with other:
            other.execute("UPDATE observations SET value = 99.0 WHERE site = '1001A'")
        other.close()
        got = reader.observations(start=second[0], end=second[1], sites=["1001A"])
        assert reader.rows_prefetched == 0
    assert (got["value"] == 99.0).all()
    _same(got, ledger.evaluation_observations(start=second[0], end=second[1], sites=["1001A"]))


def test_a_read_ahead_not_asked_for_is_dropped(ledger: Ledger) -> None:
    """The next call asks for another window (a chunk evaluated piece by piece): the rows
    read ahead are not used for it."""
    first, second = _windows()[0], _windows()[1]
    with EvaluationInput(ledger.connection) as reader:
        reader.observations(start=first[0], end=first[1], sites=["1001A"])
        reader.prefetch(start=second[0], end=second[1], sites=["1001A"])
        got = reader.observations(start=first[0], end=second[1], sites=["1002A"])
        assert reader.rows_prefetched == 0
    _same(got, ledger.evaluation_observations(start=first[0], end=second[1], sites=["1002A"]))


def test_empty_window(ledger: Ledger) -> None:
    got = EvaluationInput(ledger.connection).observations(
        start=datetime(2020, 1, 1, tzinfo=UTC), end=datetime(2020, 1, 2, tzinfo=UTC), sites=["x"]
    )
    expected = ledger.evaluation_observations(
        start=datetime(2020, 1, 1, tzinfo=UTC), end=datetime(2020, 1, 2, tzinfo=UTC), sites=["x"]
    )
    assert got.empty and list(got.columns) == list(expected.columns)


def _flag_rows(ledger: Ledger) -> list[tuple[object, ...]]:
    return ledger.connection.execute(
        "SELECT site, parameter, period_end, flags FROM qc_flags ORDER BY 1, 2, 3"
    ).fetchall()


def test_deleting_qc_flags_by_key_range_equals_the_ledger(tmp_path: Path) -> None:
    """The same flags go (local days, UTC+8: 2026-03-01 is 2026-02-28T16:00Z … 2026-03-01
    T16:00Z exclusive) and the same observation days are queued for publishing."""
    # Labels every 3 h for 4 days, three parameters, three sites: day edges on both sides.
    labels = pd.date_range("2026-02-27 13:00", "2026-03-03 19:00", freq="3h", tz="UTC")
    rows = [
        (site, parameter, int(t.timestamp()), "stuck", 0)
        for site in ("1001A", "1002A", "o'dd")
        for parameter in ("co", "o3", "pm2_5")
        for t in labels
    ]
    wanted = pd.DataFrame(
        {
            "site": ["1001A", "1001A", "1001A", "o'dd", "1002A", "1003A"],
            "date": [
                "2026-03-01",
                "2026-02-28",
                "2026-03-03",
                "2026-03-01",
                "2026-03-02",
                "2026-03-01",
            ],
        }
    )
    left = []
    for name, delete in (
        ("ledger", lambda led: led.delete_qc_flags(wanted)),
        ("ranges", lambda led: delete_qc_flags(led, wanted)),
    ):
        with Ledger.open(tmp_path / f"{name}.sqlite") as led:
            led.connection.executemany("INSERT INTO qc_flags VALUES (?, ?, ?, ?, ?)", rows)
            delete(led)
            outbox = led.connection.execute(
                "SELECT kind, key, day FROM outbox ORDER BY 1, 2, 3"
            ).fetchall()
            left.append((_flag_rows(led), outbox))
    assert left[0] == left[1]
    assert 0 < len(left[1][0]) < len(rows)  # some went, some stayed


@pytest.mark.parametrize("order", ["alternating", "by rule set", "shuffled", "odd count"])
def test_writing_derived_rows_equals_the_ledger(tmp_path: Path, order: str) -> None:
    """Rows, NULLs, constant columns written into the statement, both rule sets and both
    scopes, a quote in a text, the outbox and the dirty days: as ``replace_derived``;
    whether the rule sets' rows alternate (written in key order, columns constant at each
    place of the alternation written into the statement), come one rule set after the
    other, in no order, or alternate but for a last row without its partner."""
    n = 6
    hourly = pd.DataFrame(
        {
            "site": ["1001A", "1001A", "o'dd", "o'dd", "city", "city"],
            "period_end": [1772323200 + 3600 * (i % 3) for i in range(n)],
            "standard": ["hj633-2012", "hj633-2026"] * 3,
            "official": [0, 1] * 3,
            "is_area": [0, 0, 0, 0, 1, 1],
            "stations": [np.nan] * 4 + [2.0, 2.0],
            "aqi": [51.0, np.nan, 1 / 3, 0.1 + 0.2, 300.0, 7.0],
            "level": np.arange(n, dtype=np.int64),
            "primary_pollutants": ["pm2_5", "", "o3;pm10", "", "it's", "pm2_5"],
            **{f"iaqi_{p}": np.full(n, np.nan) for p in ("so2", "no2", "co", "o3", "pm10")},
            "iaqi_pm2_5": np.linspace(0.0, 1e300, n),
            "complete": np.array([True, False] * 3),
            "computed_at": 1800000000,
        }
    )
    # 70 copies hours apart: groups of 140 rows, more than one statement of 64 rows each.
    hourly = pd.concat(
        [hourly.assign(period_end=hourly["period_end"] + 3 * 3600 * k) for k in range(70)],
        ignore_index=True,
    )
    if order == "by rule set":
        hourly = hourly.sort_values("standard", kind="stable", ignore_index=True)
    elif order == "shuffled":
        hourly = hourly.sample(frac=1.0, random_state=17, ignore_index=True)
    elif order == "odd count":
        hourly = hourly.iloc[:-1]
    done = pd.DataFrame({"site": ["1001A", "o'dd"], "date": ["2026-03-01", "2026-03-01"]})
    key = ("site", "period_end", "standard")
    tables = []
    for name in ("ledger", "columns"):
        with Ledger.open(tmp_path / f"{name}.sqlite") as led:
            led.connection.executemany(
                "INSERT INTO dirty_days (site, date) VALUES (?, ?)",
                [*done.itertuples(index=False)],
            )
            for frame in (hourly, hourly.assign(aqi=hourly["aqi"] + 1)):  # insert, update
                if name == "ledger":
                    led.replace_derived("hourly_aqi", frame, key, done=done)
                else:
                    write_derived(led, "hourly_aqi", frame, key, done=done)
            db = led.connection
            tables.append(
                (
                    db.execute("SELECT * FROM hourly_aqi ORDER BY 1, 2, 3").fetchall(),
                    db.execute("SELECT kind, key, day FROM outbox ORDER BY 1, 2, 3").fetchall(),
                    db.execute("SELECT * FROM dirty_days").fetchall(),
                )
            )
    assert tables[0] == tables[1]
    assert len(tables[1][0]) == len(hourly) >= 70 * n - 1 and tables[1][2] == []
    with (
        Ledger.open(tmp_path / "x.sqlite") as led,
        pytest.raises(ValueError, match="unknown derived table"),
    ):
        write_derived(led, "observations", hourly, key)


def test_background_writes_run_in_order_and_stop_at_a_failed_one(ledger: Ledger) -> None:
    """The writes of an evaluation run go in the order given, each its own transaction;
    after one fails nothing more is written and its error comes back to the caller."""
    db = ledger.connection
    db.execute("CREATE TABLE t (n INTEGER PRIMARY KEY)")

    def insert(n: int) -> None:
        with ledger.transaction() as tx:
            tx.execute("INSERT INTO t VALUES (?)", (n,))

    with BackgroundWrites() as writes:
        for n in range(20):
            writes.submit(lambda n=n: insert(n))  # type: ignore[misc]
        writes.wait()
        assert [r[0] for r in db.execute("SELECT n FROM t ORDER BY rowid")] == list(range(20))
    with pytest.raises(sqlite3.IntegrityError), BackgroundWrites() as writes:
        writes.submit(lambda: insert(20))
        writes.submit(lambda: insert(5))  # already there: the primary key refuses it
        writes.submit(lambda: insert(21))
    assert [r[0] for r in db.execute("SELECT n FROM t WHERE n >= 20")] == [20]
    assert not db.in_transaction  # the failed one was rolled back


class _HeldByTheWriter:
    """The run's lock while the writing thread holds it: a non-blocking acquire fails, a
    blocking one would wait for the writer's whole transaction (here: fails the test)."""

    def acquire(self, blocking: bool = True) -> bool:
        if blocking:
            raise AssertionError("waited for the lock the writer holds")
        return False

    def release(self) -> None:
        raise AssertionError("released a lock it did not hold")

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def test_version_is_taken_from_an_open_write_without_waiting(ledger: Ledger) -> None:
    """While the writer is inside a write transaction that announced its data_version, the
    reader takes that count instead of waiting for the lock, and it counts the commit of
    another connection before the transaction (an HJ 212 receiver), as the read after it."""
    before = int(ledger.connection.execute("PRAGMA data_version").fetchone()[0])
    other = sqlite3.connect(ledger.path)
    with other:
        other.execute("UPDATE observations SET value = 98.0 WHERE site = '1002A'")
    other.close()
    reader = EvaluationInput(ledger.connection, _HeldByTheWriter())
    with ledger.transaction() as db, announced_version(db):
        inside = reader._version()
    after = int(ledger.connection.execute("PRAGMA data_version").fetchone()[0])
    assert inside == after != before


def test_rows_read_ahead_are_taken_without_the_lock_while_the_writer_writes(
    ledger: Ledger,
) -> None:
    """The rows read ahead become the next window while the writer holds the lock (its
    transaction open): neither the version nor the texts need the ledger's connection."""
    first, second = _windows()[0], _windows()[1]
    lock = threading.Lock()
    with EvaluationInput(ledger.connection, lock) as reader:
        reader.observations(start=first[0], end=first[1], sites=["1001A"])
        reader.prefetch(start=second[0], end=second[1], sites=["1001A"])
        reader._lock = _HeldByTheWriter()
        with ledger.transaction() as db, announced_version(db):
            got = reader.observations(start=second[0], end=second[1], sites=["1001A"])
        assert reader.rows_prefetched > 0
    _same(got, ledger.evaluation_observations(start=second[0], end=second[1], sites=["1001A"]))


def test_without_an_announced_write_the_version_waits_for_the_lock(ledger: Ledger) -> None:
    """A write that announced nothing (the ledger's own clear_dirty): the reader must take
    the lock (the held lock's blocking acquire is what fails here)."""
    reader = EvaluationInput(ledger.connection, _HeldByTheWriter())
    with pytest.raises(AssertionError, match="waited for the lock"):
        reader._version()


def test_the_same_window_again_is_not_read_again(ledger: Ledger) -> None:
    """The first chunk's window, read while evaluate_dirty judges the cores, then asked
    for by the chunk itself: the same frame, no row read from SQLite the second time."""
    start, end = _windows()[0]
    reader = EvaluationInput(ledger.connection)
    first = reader.observations(start=start, end=end, sites=["1001A", "1002A"])
    read = reader.rows_read
    again = reader.observations(start=start, end=end, sites=["1001A", "1002A"])
    assert reader.rows_read == read > 0
    _same(again, first)
    _same(again, ledger.evaluation_observations(start=start, end=end, sites=["1001A", "1002A"]))


def test_the_same_window_again_after_another_connection_committed_is_read_again(
    ledger: Ledger,
) -> None:
    """The same window asked for twice (the first chunk's, read while judging the cores)
    with a commit of another connection (an ``envmon import`` process) between: the second
    answer has the committed value, as a fresh read gives, not the frame read before."""
    start, end = _windows()[0]
    reader = EvaluationInput(ledger.connection)
    reader.observations(start=start, end=end, sites=["1001A", "1002A"])
    other = sqlite3.connect(ledger.path)
    with other:
        other.execute("UPDATE observations SET value = 98.0 WHERE site = '1002A'")
    other.close()
    again = reader.observations(start=start, end=end, sites=["1001A", "1002A"])
    assert 98.0 in again.loc[again["site"] == "1002A", "value"].tolist()
    _same(again, ledger.evaluation_observations(start=start, end=end, sites=["1001A", "1002A"]))
