"""``envmon export`` streams: the same bytes as the whole-range frames, memory bounded by the
piece written, a reader that goes away early ends it quietly (real SQLite ledgers)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import monitor.service.export as export
from monitor.cli import main
from monitor.domain.aqi import level_categories
from monitor.domain.daily import DAILY_STATISTICS
from monitor.domain.units import AIR_PARAMETERS
from monitor.ledger import Ledger

ROOT = Path(__file__).resolve().parents[2]

# --- today's export (commit 079958a, monitor/service/export.py), kept here as the reference
# the streamed CSV must equal byte for byte: the whole range read into one frame, written
# with ``frame.to_csv(index=False, lineterminator="\n")`` as ``envmon export`` did.


def _reference_observations(
    ledger: Ledger, first: date, last: date, sites: Sequence[str] | None
) -> pd.DataFrame:
    start, end = export._local_bounds(first, last)
    where, params = export._site_filter(sites, "o.site")
    frame = ledger.query(
        "SELECT o.site, o.period_end, o.parameter, o.value, o.unit, o.source, o.flags, "
        "q.flags AS qc FROM observations o LEFT JOIN qc_flags q ON q.site = o.site AND "
        "q.parameter = o.parameter AND q.period_end = o.period_end "
        f"WHERE o.period_end > ? AND o.period_end <= ?{where} "
        "ORDER BY o.site, o.period_end, o.parameter, o.source",
        [start, end, *params],
    )
    qc = frame["qc"].astype(object).where(frame["qc"].notna(), "")
    flags = [
        ";".join(dict.fromkeys(t for t in f"{a};{b}".split(";") if t))
        for a, b in zip(frame["flags"], qc, strict=True)
    ]
    return pd.DataFrame(
        {
            "site": frame["site"],
            "time": export._iso_local(frame["period_end"]) if len(frame) else [],
            "parameter": frame["parameter"],
            "value": frame["value"],
            "unit": frame["unit"],
            "source": frame["source"],
            "flags": flags,
        }
    )


def _reference_hourly(
    ledger: Ledger, first: date, last: date, sites: Sequence[str] | None, standard: str
) -> pd.DataFrame:
    start, end = export._local_bounds(first, last)
    where, params = export._site_filter(sites)
    which = "official = 1" if standard == "official" else "standard = ?"
    extra = [] if standard == "official" else [standard]
    frame = ledger.query(
        "SELECT site, period_end, aqi, level, primary_pollutants, standard, is_area, complete, "
        "stations, "
        + ", ".join(f"iaqi_{p}" for p in AIR_PARAMETERS)
        + f" FROM hourly_aqi WHERE {which} AND period_end > ? AND period_end <= ?{where} "
        "ORDER BY is_area, site, period_end",
        [*extra, start, end, *params],
    )
    level = frame["level"].to_numpy(dtype=np.int8) if len(frame) else np.zeros(0, np.int8)
    out = pd.DataFrame(
        {
            "site": frame["site"],
            "time": export._iso_local(frame["period_end"]) if len(frame) else [],
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
    out["stations"] = frame["stations"].astype("Int64") if len(frame) else []
    return out


def _reference_daily(
    ledger: Ledger, first: date, last: date, sites: Sequence[str] | None, standard: str
) -> pd.DataFrame:
    where, params = export._site_filter(sites)
    which = "official = 1" if standard == "official" else "standard = ?"
    extra = [] if standard == "official" else [standard]
    frame = ledger.query(
        "SELECT site, date, aqi, level, primary_pollutants, standard, is_area, complete, "
        f"stations, exceedance_pollutants, invalid_statistics, {', '.join(DAILY_STATISTICS)} "
        f"FROM daily_aqi WHERE {which} AND date >= ? AND date <= ?{where} "
        "ORDER BY is_area, site, date",
        [*extra, first.isoformat(), last.isoformat(), *params],
    )
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
    out["stations"] = frame["stations"].astype("Int64") if len(frame) else []
    return out


# --- a varied ledger

#: Stations, an area (is_area rows), and a code needing CSV quotes (comma, quote).
SITES = ("1002A", "1001A", "310000", 'x,"q"')
AREA = "310000"
STANDARDS = ("hj633-2012", "hj633-2026")
#: Source flags (repeated, empty parts) and QC flags (None: no qc_flags row).
SOURCE_FLAGS = ("", "H", "H;H", ";B;", "H;B", "B,x")
QC_FLAGS = (None, "spike", "H;spike", "B", "pm25_gt_pm10;spike")
#: Values that format differently (tiny, huge, negative, many digits) and missing ones.
VALUES = (None, 0.0, -0.0, 1e-07, 1.5e17, 12.0, 0.1 + 0.2, -3.25, 123456.789, 35.0)
#: 1988-04-17: the clocks went forward at 02:00 (UTC+9 until September, China's 1986-1991
#: summer time, tzdata Asia/Shanghai: export writes +09:00 for those hours); 2026-02-27 …
#: 03-02: the rule-set switch.
RANGES = ((date(1988, 4, 16), date(1988, 4, 18)), (date(2026, 2, 27), date(2026, 3, 2)))


def _instants(first: date, last: date) -> list[int]:
    start, end = export._local_bounds(first, last)
    return list(range(start + 3600, end + 1, 3600))


def fill(ledger: Ledger, seed: int = 17) -> None:
    """Observations (two sources, QC flags), hourly and daily AQI (both standards, one
    official), area rows, on both ranges; some hours and days missing."""
    rng = np.random.default_rng(seed)
    con = ledger.connection
    for source in ("src_a", "src_b"):
        ledger.register_source(source, "long-csv", "measured")
    observations, qc, hourly, daily = [], [], [], []
    for first, last in RANGES:
        for site in SITES:
            for t in _instants(first, last):
                if rng.random() < 0.05:
                    continue  # an hour missing
                for parameter in AIR_PARAMETERS:
                    for source in ("src_a", "src_b")[: int(rng.integers(1, 3))]:
                        value = VALUES[int(rng.integers(len(VALUES)))]
                        flags = SOURCE_FLAGS[int(rng.integers(len(SOURCE_FLAGS)))]
                        observations.append(
                            (site, parameter, t, source, t - 3600, "ug/m3", value, flags, 0, 0)
                        )
                    q = QC_FLAGS[int(rng.integers(len(QC_FLAGS)))]
                    if q is not None:
                        qc.append((site, parameter, t, q, 0))
                official = STANDARDS[int(rng.integers(2))]
                for standard in STANDARDS:
                    level = int(rng.integers(0, 7))
                    aqi = None if level == 0 else float(rng.integers(0, 500))
                    iaqi = [None if rng.random() < 0.2 else float(rng.integers(0, 400))] * 6
                    hourly.append(
                        (site, t, standard, int(standard == official), int(site == AREA),
                         aqi, level, "pm2_5,o3" if level > 2 else "", *iaqi,
                         int(rng.integers(2)), 0, 7 if site == AREA else None)
                    )  # fmt: skip
            for day in pd.date_range(first, last).date:
                official = STANDARDS[int(rng.integers(2))]
                for standard in STANDARDS:
                    level = int(rng.integers(0, 7))
                    stats = [VALUES[int(rng.integers(len(VALUES)))] for _ in DAILY_STATISTICS]
                    daily.append(
                        (site, day.isoformat(), standard, int(standard == official),
                         int(site == AREA), *stats, "o3_8h_max" if level == 0 else "",
                         None if level == 0 else float(rng.integers(0, 500)), level,
                         "pm10" if level > 2 else "", "pm10,so2" if level > 3 else "",
                         int(rng.integers(2)), 0, 5 if site == AREA else None)
                    )  # fmt: skip
    with con:
        con.executemany(f"INSERT INTO observations VALUES ({','.join('?' * 10)})", observations)
        con.executemany("INSERT INTO qc_flags VALUES (?,?,?,?,?)", qc)
        con.executemany(f"INSERT INTO hourly_aqi VALUES ({','.join('?' * 17)})", hourly)
        statistics = ", ".join(DAILY_STATISTICS)
        con.executemany(
            f"INSERT INTO daily_aqi (site, date, standard, official, is_area, {statistics}, "
            "invalid_statistics, aqi, level, primary_pollutants, exceedance_pollutants, "
            f"complete, computed_at, stations) VALUES ({','.join('?' * 20)})",
            daily,
        )


@pytest.fixture(scope="module")
def varied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ledger]:
    path = tmp_path_factory.mktemp("export") / "ledger.sqlite"
    with Ledger.open(path) as ledger:
        fill(ledger)
        yield ledger


def _csv(frame: pd.DataFrame) -> str:
    return frame.to_csv(index=False, lineterminator="\n")


ARGUMENTS = [
    # (first, last, sites): whole ranges, the summer-time change, one site, sites given
    # twice and out of order, a site with no rows, an empty range, across both ranges
    (date(1988, 4, 16), date(1988, 4, 18), None),
    (date(1988, 4, 17), date(1988, 4, 17), ["1001A"]),
    (date(2026, 2, 27), date(2026, 3, 2), None),
    (date(2026, 2, 28), date(2026, 3, 1), ["310000", "1002A", "310000", 'x,"q"']),
    (date(2026, 2, 28), date(2026, 3, 1), ["nowhere"]),
    (date(2000, 1, 1), date(2000, 1, 2), None),
    (date(1988, 1, 1), date(2026, 12, 31), None),
]


@pytest.mark.parametrize("batch_rows", [50, export.BATCH_ROWS])
@pytest.mark.parametrize(("first", "last", "sites"), ARGUMENTS)
def test_streamed_observations_are_today_s_bytes(
    varied: Ledger, first: date, last: date, sites: list[str] | None, batch_rows: int
) -> None:
    """Observations: streamed in pieces of any size, the CSV equals today's frame's."""
    expected = _csv(_reference_observations(varied, first, last, sites))
    out = io.StringIO()
    cache = varied.connection.execute("PRAGMA cache_size").fetchone()
    rows = export.write_observations(varied, first, last, out, sites, batch_rows=batch_rows)
    assert out.getvalue() == expected
    assert rows == expected.count("\n") - 1
    # the export's smaller SQLite cache is the ledger's own again afterwards
    assert varied.connection.execute("PRAGMA cache_size").fetchone() == cache


@pytest.mark.parametrize("standard", ["official", *STANDARDS])
@pytest.mark.parametrize(("first", "last", "sites"), ARGUMENTS)
def test_streamed_aqi_are_today_s_bytes(
    varied: Ledger, first: date, last: date, sites: list[str] | None, standard: str
) -> None:
    """Hourly and daily AQI, each standard and the official one: today's bytes."""
    for write, reference in (
        (export.write_hourly_aqi, _reference_hourly),
        (export.write_daily_aqi, _reference_daily),
    ):
        expected = _csv(reference(varied, first, last, sites, standard))
        for batch_rows in (13, export.BATCH_ROWS):
            out = io.StringIO()
            write(varied, first, last, out, sites, standard, batch_rows=batch_rows)
            assert out.getvalue() == expected, (write.__name__, batch_rows)


def test_the_varied_ledger_exercises_what_it_should(varied: Ledger) -> None:
    """The comparison above covers summer-time offsets, quoted cells, merged flags, missing
    values, area rows and a header-only result (so the equality means something)."""
    summer = _csv(_reference_observations(varied, *RANGES[0], None))
    assert "1988-04-17T03:00:00+09:00" in summer  # first hour after the change (+09:00)
    assert "1988-04-17T01:00:00+08:00" in summer
    assert "T02:00:00" not in summer.split("1988-04-17T01:00:00+08:00")[1].split("\n")[1]
    assert '"x,""q"""' in summer
    assert ",H;B;spike\n" in summer or ",H;B;pm25_gt_pm10;spike\n" in summer
    assert ",ug/m3,src_a,\n" in summer or ",ug/m3,src_b,\n" in summer
    assert ",,ug/m3," in summer  # a missing value
    hourly = _reference_hourly(varied, *RANGES[1], None, "official")
    assert hourly["area"].any() and not hourly["area"].all()
    empty = _csv(_reference_observations(varied, date(2000, 1, 1), date(2000, 1, 2), None))
    assert empty == "site,time,parameter,value,unit,source,flags\n"


def test_export_observations_frame_is_kept(varied: Ledger) -> None:
    """``export_observations`` (the whole range as a frame, used by other code) is unchanged."""
    for first, last in RANGES:
        assert _csv(export.export_observations(varied, first, last)) == _csv(
            _reference_observations(varied, first, last, None)
        )
        for standard in ("official", "hj633-2026"):
            assert _csv(export.export_hourly_aqi(varied, first, last, None, standard)) == _csv(
                _reference_hourly(varied, first, last, None, standard)
            )
            assert _csv(export.export_daily_aqi(varied, first, last, None, standard)) == _csv(
                _reference_daily(varied, first, last, None, standard)
            )


def test_stream_reads_each_site_on_its_keys(varied: Ledger) -> None:
    """The pieces' queries seek on the tables' keys, no temporary B-tree sorting a range
    (SQLite's EXPLAIN QUERY PLAN)."""
    con = varied.connection
    plans = {
        "observations": (
            f"{export._OBSERVATIONS_SELECT} WHERE o.site = ? AND o.period_end IN (?, ?, ?) "
            "ORDER BY o.period_end, o.parameter, o.source",
            ["1001A", 1, 2, 3],
        ),
        "hourly": (
            f"{export._HOURLY_SELECT} WHERE site = ? AND is_area = ? AND official = 1 "
            "AND period_end > ? AND period_end <= ? ORDER BY period_end",
            ["1001A", 0, 1, 2],
        ),
        "daily": (
            f"{export._DAILY_SELECT} WHERE site = ? AND is_area = ? AND standard = ? "
            "AND date >= ? AND date <= ? ORDER BY date",
            ["1001A", 0, "hj633-2012", "2026-01-01", "2026-01-02"],
        ),
    }
    for name, (sql, params) in plans.items():
        plan = " / ".join(str(r[3]) for r in con.execute(f"EXPLAIN QUERY PLAN {sql}", params))
        assert "TEMP B-TREE" not in plan, (name, plan)
        assert "USING PRIMARY KEY (site=?" in plan or "(period_end=? AND site=?)" in plan, plan


# --- memory: bounded by the piece, not the range


def _big_ledger(path: Path, days: int) -> None:
    """``days`` days of 20 stations × 6 pollutants (hourly, one source)."""
    with Ledger.open(path) as ledger:
        ledger.register_source("src_a", "long-csv", "measured")
        rows = [
            (f"{1000 + s}A", p, t, "src_a", t - 3600, "ug/m3", float(s + t % 97), "", 0, 0)
            for t in _instants(date(2026, 1, 1), date(2026, 1, days))
            for s in range(20)
            for p in AIR_PARAMETERS
        ]
        with ledger.connection as con:
            con.executemany(f"INSERT INTO observations VALUES ({','.join('?' * 10)})", rows)


def _peak_export_bytes(path: Path, days: int) -> int:
    """Peak Python allocation of ``envmon export`` of ``days`` days (stdout: /dev/null)."""
    with open(os.devnull, "w") as sink:
        saved = sys.stdout
        sys.stdout = sink
        tracemalloc.start()
        try:
            code = main(
                ["--ledger", str(path), "export", "--from", "2026-01-01", "--to",
                 f"2026-01-{days:02d}"]
            )  # fmt: skip
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
            sys.stdout = saved
    assert code == 0
    return peak


def test_export_memory_does_not_grow_with_the_range(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Exporting 4× the rows (4 days against 16: 11,520 against 46,080 observations) peaks
    at about the same memory: a piece of ``BATCH_ROWS`` rows, not the range (developers'
    guide: memory does not grow with the input). Today's whole-range frame and CSV text
    grow 4×."""
    monkeypatch.setattr(export, "BATCH_ROWS", 2_000, raising=False)
    _big_ledger(tmp_path / "ledger.sqlite", 16)
    _peak_export_bytes(tmp_path / "ledger.sqlite", 1)  # (the modules a first run imports)
    small = _peak_export_bytes(tmp_path / "ledger.sqlite", 4)
    large = _peak_export_bytes(tmp_path / "ledger.sqlite", 16)
    assert large < small * 1.3, (small, large)


def test_a_reader_gone_early_ends_the_export_quietly(tmp_path: Path) -> None:
    """``envmon export … | head -1``: the first line arrives, then no traceback and no
    'Exception ignored' on stderr once the pipe is closed (the CLI's broken-pipe code 1)."""
    _big_ledger(tmp_path / "ledger.sqlite", 16)  # 2.9 MB of CSV, far over a pipe's 64 KiB
    command = [sys.executable, "-m", "monitor", "--ledger", str(tmp_path / "ledger.sqlite")]
    command += ["export", "--from", "2026-01-01", "--to", "2026-01-16"]
    with subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as child:
        assert child.stdout is not None and child.stderr is not None
        assert child.stdout.readline() == b"site,time,parameter,value,unit,source,flags\n"
        child.stdout.close()
        err = child.stderr.read().decode()
        code = child.wait(timeout=120)
    assert code in (0, 1)
    assert err == ""


# --- one snapshot: another connection writing during an export


class _WritesWhileExported(io.StringIO):
    """An export's output that, at the first piece written, has another connection (a
    second real SQLite connection to the same file, as a collection run would be) add an
    observation, an official hourly and daily AQI row of the last site, which the export
    has not reached yet."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.done = False

    def write(self, text: str) -> int:
        if not self.done:
            self.done = True
            with Ledger.open(self.path) as other, other.connection as con:
                t = _instants(date(2026, 3, 1), date(2026, 3, 1))[5]
                con.execute(
                    "INSERT INTO observations VALUES (?, 'so2', ?, 'src_late', ?, "
                    "'ug/m3', 1.0, '', 0, 0)",
                    (LAST_SITE, t, t - 3600),
                )
                con.execute(
                    "INSERT INTO hourly_aqi (site, period_end, standard, official, is_area, "
                    "aqi, level, primary_pollutants, complete, computed_at) "
                    "VALUES (?, ?, 'late', 1, 0, 10, 1, '', 1, 0)",
                    (LAST_SITE, t),
                )
                con.execute(
                    "INSERT INTO daily_aqi (site, date, standard, official, is_area, "
                    "invalid_statistics, aqi, level, primary_pollutants, "
                    "exceedance_pollutants, complete, computed_at) VALUES (?, "
                    "'2026-03-01', 'late', 1, 0, '', 10, 1, '', '', 1, 0)",
                    (LAST_SITE,),
                )
        return super().write(text)


#: The site the export writes last (code point order, stations before areas).
LAST_SITE = max(s for s in SITES if s != AREA)


@pytest.mark.parametrize("what", ["observations", "hourly", "daily"])
def test_an_export_is_one_snapshot_of_the_ledger(tmp_path: Path, what: str) -> None:
    """The whole-range export read the ledger in one SELECT: one snapshot, whatever another
    connection wrote meanwhile (SQLite WAL: a read transaction sees the database as it was
    when it began). Streamed piece by piece the pieces must still be read in one read
    transaction: a row written between two pieces is not half in the export."""
    path = tmp_path / "ledger.sqlite"
    first, last = date(2026, 2, 27), date(2026, 3, 2)
    with Ledger.open(path) as ledger:
        fill(ledger)
        before = {
            "observations": _csv(_reference_observations(ledger, first, last, None)),
            "hourly": _csv(_reference_hourly(ledger, first, last, None, "official")),
            "daily": _csv(_reference_daily(ledger, first, last, None, "official")),
        }[what]
        out = _WritesWhileExported(path)
        write = {
            "observations": lambda: export.write_observations(ledger, first, last, out, None, 7),
            "hourly": lambda: export.write_hourly_aqi(
                ledger, first, last, out, None, "official", 7
            ),
            "daily": lambda: export.write_daily_aqi(ledger, first, last, out, None, "official", 7),
        }[what]
        write()
        assert out.done
        assert out.getvalue() == before
        again = io.StringIO()  # the rows are in the ledger: a later export has them
        {"observations": lambda: export.write_observations(ledger, first, last, again),
         "hourly": lambda: export.write_hourly_aqi(ledger, first, last, again),
         "daily": lambda: export.write_daily_aqi(ledger, first, last, again)}[what]()  # fmt: skip
        assert again.getvalue() != before
        assert not ledger.connection.in_transaction


# --- work: sparse sites (a site with a few instants of a long range)


def _vm_steps(ledger: Ledger, run: object) -> int:
    """SQLite virtual-machine instructions (in thousands) that ``run()`` costs on the
    ledger's connection (SQLite's progress handler: a deterministic measure of work)."""
    steps = [0]

    def count() -> int:
        steps[0] += 1
        return 0

    ledger.connection.set_progress_handler(count, 1000)
    try:
        run()  # type: ignore[operator]
    finally:
        ledger.connection.set_progress_handler(None, 1000)
    return steps[0]


def test_sparse_sites_are_not_read_instant_by_instant(tmp_path: Path) -> None:
    """200 sites sampled once a day (a water network beside hourly air stations: the range
    has every hour) over 60 days: reading each site on each of the range's 1,440 instants
    is 288,000 key seeks for 12,000 rows. The streamed export must not cost SQLite much
    more than the whole-range sorted SELECT it replaces (at 2,000 sites and a year it was
    6.6× the CPU time), and still write the same bytes."""
    rng = np.random.default_rng(3)
    first, last = date(2026, 1, 1), date(2026, 3, 1)
    hours = _instants(first, last)
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        rows = [
            (f"W{s:04d}", "ph", t, "src", t - 3600, "1", 7.0, "", 0, 0)
            for s in range(200)
            for day in range(60)
            for t in [hours[24 * day + int(rng.integers(24))]]
        ]
        rows += [("1001A", "so2", t, "src", t - 3600, "ug/m3", 5.0, "", 0, 0) for t in hours]
        with ledger.connection as con:
            con.executemany(f"INSERT INTO observations VALUES ({','.join('?' * 10)})", rows)
        expected = _csv(_reference_observations(ledger, first, last, None))
        whole = _vm_steps(ledger, lambda: _reference_observations(ledger, first, last, None))
        out = io.StringIO()
        streamed = _vm_steps(ledger, lambda: export.write_observations(ledger, first, last, out))
    assert out.getvalue() == expected
    assert streamed < 3 * whole, (streamed, whole)


class _GoneReader(io.StringIO):
    """An output whose reader went away at the first piece (``| head``: a broken pipe)."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


@pytest.mark.parametrize("what", ["observations", "hourly", "daily"])
def test_an_export_that_fails_leaves_the_connection_as_it_was(tmp_path: Path, what: str) -> None:
    """A failed export (the reader gone) leaves no read transaction open (it would hold its
    snapshot: a later write on the connection would fail to BEGIN IMMEDIATE, WAL
    checkpoints could not pass it) and the ledger's page cache as it was."""
    first, last = date(2026, 2, 27), date(2026, 3, 2)
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        fill(ledger)
        cache = ledger.connection.execute("PRAGMA cache_size").fetchone()
        out = _GoneReader()
        with pytest.raises(BrokenPipeError):
            if what == "observations":
                export.write_observations(ledger, first, last, out)
            elif what == "hourly":
                export.write_hourly_aqi(ledger, first, last, out)
            else:
                export.write_daily_aqi(ledger, first, last, out)
        assert not ledger.connection.in_transaction
        assert ledger.connection.execute("PRAGMA cache_size").fetchone() == cache
        ledger.register_source("after", "long-csv", "measured")  # a write still begins
