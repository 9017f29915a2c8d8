"""The intake check: what the ledger cannot hold is refused, row by row, at every boundary.

Each refused input class (issue 14, "Nothing invalid enters the ledger") is tried at each
boundary: the shared check itself, every ``envmon import`` format end to end into a real
ledger, and the hand-over of the national water and air collectors' batches (real
collectors, answers served on loopback) in the pipeline.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl  # type: ignore[import-untyped, unused-ignore]
import pandas as pd
import pytest

from monitor.cli import main
from monitor.collectors.base import observations
from monitor.collectors.cnemc_air import CnemcAirCollector
from monitor.collectors.cnemc_water import BEIJING, CnemcWaterCollector
from monitor.collectors.http import HttpClient
from monitor.collectors.intake import (
    EARLIEST_TIME,
    admit,
    check_dates,
    check_observations,
    out_of_range_time_text,
)
from monitor.ledger import Ledger
from monitor.service.export import source_status
from monitor.service.pipeline import import_files, ingest
from monitor.settings import Settings, load_settings
from tests.conftest import DATA, HUNNAN_LEDGER, RecordedServer, Reply
from tests.water_platform import Platform

NOW = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)  # 2026-03-02 12:00 Beijing


def _hourly(site: str, parameter: str, beijing: list[str], values: list[float]) -> pd.DataFrame:
    end = pd.Series(pd.to_datetime(beijing)).dt.tz_localize("Asia/Shanghai")
    return observations(site, parameter, end - pd.Timedelta(hours=1), end, np.array(values))


# ---------------------------------------------------------------------------------------
# The shared check


@pytest.mark.parametrize(
    ("label", "value", "expected"),
    [
        ("2099-01-01 10:00", 1.0, "in the future"),
        ("2026-03-02 13:05", 1.0, "in the future"),  # 1 h 5 min ahead: beyond 1 h
        ("2026-03-01 09:05", 1.0, "not on the hour"),
        ("2026-03-01 09:00", np.inf, "value inf is not a finite number"),
        ("2026-03-01 09:00", -np.inf, "value -inf is not a finite number"),
        ("1899-12-31 10:00", 1.0, "is before 1900-01-01"),
    ],
    ids=["2099", "just-beyond-tolerance", "09:05", "inf", "-inf", "1899"],
)
def test_each_refused_class_is_refused_with_its_value(
    label: str, value: float, expected: str
) -> None:
    """A refused row is not admitted; its message names the time or value."""
    frame = _hourly("A", "tp", [label, "2026-03-01 10:00"], [value, 0.2])
    kept, refused = admit(frame, now=NOW)
    assert kept["value"].tolist() == [0.2]
    assert len(refused) == 1
    assert expected in refused[0]
    assert refused[0].endswith("(not stored)")


def test_what_the_ledger_can_hold_is_admitted_unchanged() -> None:
    """On the hour, exactly 1 h ahead, NaN (no number) and instant samples at 09:05 pass."""
    hourly = _hourly("A", "tp", ["2026-03-01 09:00", "2026-03-02 13:00"], [np.nan, 0.1])
    instant = pd.Timestamp("2026-03-01 09:05", tz="Asia/Shanghai")
    sample = observations("B", "nh3n", instant, instant, 0.4)  # a grab sample: no hour
    frame = pd.concat([hourly, sample], ignore_index=True)
    kept, refused = admit(frame, now=NOW)
    assert refused == []
    pd.testing.assert_frame_equal(kept, frame)


def test_future_tolerance_is_a_setting() -> None:
    """With a 3-hour tolerance a label 2 h ahead is admitted; with 1 h it is refused."""
    frame = _hourly("A", "pm2_5", ["2026-03-02 14:00"], [35.0])
    assert len(admit(frame, now=NOW, future_tolerance=timedelta(hours=3))[0]) == 1
    assert len(admit(frame, now=NOW, future_tolerance=timedelta(hours=1))[0]) == 0


def test_conflicting_duplicates_are_all_refused_naming_each_other() -> None:
    """Same site, parameter, time and different values: none is stored, each names the rest."""
    frame = _hourly(
        "A",
        "pm2_5",
        ["2026-03-01 09:00", "2026-03-01 10:00", "2026-03-01 09:00", "2026-03-01 09:00"],
        [35.0, 20.0, 36.0, 35.0],
    )
    where = ["f line 2", "f line 3", "f line 4", "f line 5"]
    check = check_observations(frame, now=NOW, where=where)
    assert check.admitted.tolist() == [False, True, False, False]
    assert "conflicts with f line 4, f line 5" in check.problems[0][0]
    assert "values 35, 36" in check.problems[0][0]
    assert "conflicts with f line 2, f line 4" in check.problems[3][0]


def test_identical_duplicates_are_collapsed_silently() -> None:
    """The same row twice is stored once, with no message."""
    frame = _hourly("A", "pm2_5", ["2026-03-01 09:00"] * 3, [35.0, 35.0, 35.0])
    kept, refused = admit(frame, now=NOW)
    assert (len(kept), refused) == (1, [])


def test_identical_no_value_rows_are_repeats_not_conflicts() -> None:
    """Two rows without a number (NaN) and the same flags are one row."""
    frame = _hourly("A", "pm2_5", ["2026-03-01 09:00"] * 2, [np.nan, np.nan])
    kept, refused = admit(frame, now=NOW)
    assert (len(kept), refused) == (1, [])


def test_a_clean_large_batch_is_admitted_as_is() -> None:
    """300,000 distinct rows: nothing refused, the very frame handed back."""
    ends = pd.date_range("2020-01-01 01:00", periods=50_000, freq="h", tz="UTC")
    frame = pd.concat(
        [
            observations("A", p, ends - pd.Timedelta(hours=1), ends, np.arange(50_000.0))
            for p in ("pm2_5", "pm10", "so2", "no2", "o3", "co")
        ],
        ignore_index=True,
    )
    kept, refused = admit(frame, now=NOW)
    assert refused == [] and kept is frame


@pytest.mark.parametrize(
    ("text", "year"), [("9999-01-01T09:00", 9999), ("1600-01-01", 1600), ("99990101", 9999)]
)
def test_years_pandas_cannot_hold_are_named(text: str, year: int) -> None:
    """Years outside 1900 … 2200 are a problem before any parsing (no OutOfBoundsDatetime)."""
    problem = out_of_range_time_text(text)
    assert problem is not None and f"the year {year}" in problem
    assert out_of_range_time_text("2026-03-01T09:00") is None
    assert EARLIEST_TIME.year == 1900


def test_dates_not_begun_are_refused() -> None:
    """A daily figure dated tomorrow (Beijing) is refused; today is accepted."""
    today, tomorrow = check_dates(["2026-03-02", "2026-03-03"], now=NOW)
    assert today is None
    assert tomorrow is not None and "has not begun yet" in tomorrow


# ---------------------------------------------------------------------------------------
# Every import format, end to end into a real ledger

CONFIG = (
    HUNNAN_LEDGER
    + """\

[[targets]]
kind = "count"
id = "green"
name = "新增绿色工厂 ≥ 10"
year = 2026
goal = 10
unit = "new green factories"
"""
)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    path = tmp_path / "envmon.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return load_settings(path, {})


# Per format: header, a good row, and rows of each class. ``{t}`` is a time or date cell.
OBSERVATION_FORMATS = {
    "long-csv": ("site,time,parameter,value", "A,{t},pm2_5,{v}"),
    "xlsx": ("site,time,parameter,value", "A,{t},pm2_5,{v}"),
    "cnemc-sites-csv": ("date,hour,type,A", "{t},PM2.5,{v}"),
}
GOOD = {
    "long-csv": "2026-03-01T10:00",
    "xlsx": "2026-03-01T10:00",
    "cnemc-sites-csv": "20260301,10",
    "daily-aqi-csv": "2026-02-27",
    "indicators-csv": "2026-02-27",
}
BAD_TIMES = {
    "future": {
        "long-csv": "2099-01-01T10:00",
        "xlsx": "2099-01-01T10:00",
        "cnemc-sites-csv": "20990101,10",
        "daily-aqi-csv": "2026-03-05",
        "indicators-csv": "2026-03-05",
    },
    "year-9999": {
        "long-csv": "9999-01-01T10:00",
        "xlsx": "9999-01-01T10:00",
        "cnemc-sites-csv": "99990101,10",
        "daily-aqi-csv": "9999-01-01",
        "indicators-csv": "9999-01-01",
    },
    "year-1600": {
        "long-csv": "1600-01-01T10:00",
        "xlsx": "1600-01-01T10:00",
        "cnemc-sites-csv": "16000101,10",
        "daily-aqi-csv": "1600-01-01",
        "indicators-csv": "1600-01-01",
    },
}
EXPECTED = {
    "future": ("in the future", "has not begun yet"),
    "year-9999": ("9999", "9999"),
    "year-1600": ("1600", "1600"),
}
FORMATS = ["long-csv", "xlsx", "cnemc-sites-csv", "daily-aqi-csv", "indicators-csv"]


def _lines(file_format: str, cells: list[tuple[str, str]]) -> list[str]:
    """Header and one row per (time, value) in the format."""
    if file_format in OBSERVATION_FORMATS:
        header, row = OBSERVATION_FORMATS[file_format]
        return [header, *(row.format(t=t, v=v) for t, v in cells)]
    if file_format == "daily-aqi-csv":
        return ["area,date,aqi", *(f"hunnan,{t},{v}" for t, v in cells)]
    return ["target,date,value", *(f"green,{t},{v}" for t, v in cells)]


def _write(tmp_path: Path, file_format: str, lines: list[str]) -> Path:
    if file_format == "xlsx":
        book = openpyxl.Workbook()
        sheet = book.active
        for line in lines:
            sheet.append(line.split(","))
        buffer = io.BytesIO()
        book.save(buffer)
        path = tmp_path / "in.xlsx"
        path.write_bytes(buffer.getvalue())
        return path
    path = tmp_path / "in.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _stored(ledger: Ledger, file_format: str) -> list[float]:
    """The values the import stored, in time order."""
    if file_format in OBSERVATION_FORMATS:
        return [float(v) for v in ledger.observations()["value"]]
    if file_format == "daily-aqi-csv":
        frame = ledger.query("SELECT aqi FROM official_daily_aqi ORDER BY date")
        return [float(v) for v in frame["aqi"]]
    frame = ledger.query("SELECT value FROM indicator_values ORDER BY date")
    return [float(v) for v in frame["value"]]


def _import(
    tmp_path: Path, settings: Settings, file_format: str, cells: list[tuple[str, str]]
) -> tuple[list[float], list[str]]:
    path = _write(tmp_path, file_format, _lines(file_format, cells))
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        report = import_files(ledger, settings, file_format, [path], now=NOW)
        return _stored(ledger, file_format), report.warnings


def _where(file_format: str, line: int) -> str:
    return f"row {line}" if file_format == "xlsx" else f"line {line}"


@pytest.mark.parametrize("kind", list(BAD_TIMES))
@pytest.mark.parametrize("file_format", FORMATS)
def test_bad_times_are_refused_per_row_in_every_import(
    tmp_path: Path, settings: Settings, file_format: str, kind: str
) -> None:
    """A future, 9999 or 1600 time is refused by line; the good row is imported."""
    stored, warnings = _import(
        tmp_path,
        settings,
        file_format,
        [(GOOD[file_format], "3"), (BAD_TIMES[kind][file_format], "4")],
    )
    assert stored == [3.0]
    assert len(warnings) == 1, warnings
    assert _where(file_format, 3) in warnings[0]
    observation_text, date_text = EXPECTED[kind]
    expected = (
        date_text if file_format in ("daily-aqi-csv", "indicators-csv") else observation_text
    )
    assert expected in warnings[0]


IMPOSSIBLE = {
    "long-csv": ("2026-13-01T10:00", "time '2026-13-01T10:00' is not an ISO 8601 time"),
    "xlsx": ("2026-02-30T10:00", "time '2026-02-30T10:00' is not an ISO 8601 time"),
    "cnemc-sites-csv": ("20261301,10", "bad date,hour ['20261301,10']"),
    "daily-aqi-csv": ("2026-13-01", "date '2026-13-01' is not a date"),
    "indicators-csv": ("2026-02-30", "date '2026-02-30' is not a date"),
}


@pytest.mark.parametrize("file_format", FORMATS)
def test_impossible_dates_are_refused_per_row_in_every_import(
    tmp_path: Path, settings: Settings, file_format: str
) -> None:
    """Month 13 or 30 February is refused by line, naming the value; the good row is
    imported (never the whole file)."""
    bad, message = IMPOSSIBLE[file_format]
    stored, warnings = _import(
        tmp_path, settings, file_format, [(GOOD[file_format], "3"), (bad, "4")]
    )
    assert stored == [3.0]
    assert len(warnings) == 1, warnings
    assert _where(file_format, 3) in warnings[0]
    assert message in warnings[0]


@pytest.mark.parametrize("file_format", ["long-csv", "xlsx"])
def test_hourly_value_off_the_hour_is_refused_in_imports(
    tmp_path: Path, settings: Settings, file_format: str
) -> None:
    """An hourly value labelled 09:05 is refused by line, never stored as 09:05."""
    stored, warnings = _import(
        tmp_path, settings, file_format, [("2026-03-01T10:00", "3"), ("2026-03-01T09:05", "4")]
    )
    assert stored == [3.0]
    assert len(warnings) == 1 and _where(file_format, 3) in warnings[0]
    assert "09:05+08:00 is not on the hour" in warnings[0]


@pytest.mark.parametrize("cell", ["inf", "Infinity", "1e999", "-inf"])
@pytest.mark.parametrize("file_format", FORMATS)
def test_non_finite_values_are_refused_in_every_import(
    tmp_path: Path, settings: Settings, file_format: str, cell: str
) -> None:
    """``inf``/``Infinity``/``1e999`` is refused by line; the good row is imported."""
    second = {"cnemc-sites-csv": "20260301,11"}.get(file_format, "2026-03-01T11:00")
    if file_format in ("daily-aqi-csv", "indicators-csv"):
        second = "2026-02-26"
    stored, warnings = _import(
        tmp_path, settings, file_format, [(GOOD[file_format], "3"), (second, cell)]
    )
    assert stored == [3.0]
    assert len(warnings) == 1, warnings
    assert _where(file_format, 3) in warnings[0]
    assert cell in warnings[0]


@pytest.mark.parametrize("file_format", FORMATS)
def test_conflicting_duplicates_refuse_both_rows_naming_them(
    tmp_path: Path, settings: Settings, file_format: str
) -> None:
    """Two rows with the same key and different values: neither imported, lines named."""
    other = {"cnemc-sites-csv": "20260301,11"}.get(file_format, "2026-03-01T11:00")
    if file_format in ("daily-aqi-csv", "indicators-csv"):
        other = "2026-02-26"
    stored, warnings = _import(
        tmp_path, settings, file_format, [(GOOD[file_format], "3"), (other, "5"), (other, "6")]
    )
    assert stored == [3.0]
    assert len(warnings) == 2, warnings
    assert _where(file_format, 3) in warnings[0] and "4" in warnings[0].split(":", 1)[1]
    assert _where(file_format, 4) in warnings[1] and "3" in warnings[1].split(":", 1)[1]


@pytest.mark.parametrize("file_format", FORMATS)
def test_identical_duplicates_are_imported_once_without_warning(
    tmp_path: Path, settings: Settings, file_format: str
) -> None:
    """The same row twice is one row, and no warning."""
    stored, warnings = _import(
        tmp_path, settings, file_format, [(GOOD[file_format], "3"), (GOOD[file_format], "3")]
    )
    assert (stored, warnings) == ([3.0], [])


# ---------------------------------------------------------------------------------------
# The collectors' hand-over: real collectors, answers on loopback, the pipeline's check

WATER_ENDPOINT = "/GJZ/Ajax/Publish.ashx"
AIR_PATH = "/CityData/GetAQIDataPublishLive"


def _source(settings: Settings, name: str, collector: str, url: str) -> Any:
    from monitor.settings import SourceSettings

    return SourceSettings(name=name, collector=collector, url=url)  # type: ignore[arg-type]


def _water_answer() -> bytes:
    """The Liaoning snapshot with full-date labels; row 0 labelled 2099, row 4 NH3-N
    ``Infinity``, row 1 TP 1e308 mg/L."""
    answer = json.loads((DATA / "cnemc_water" / "real_datas_liaoning.json").read_bytes())
    rows = answer["tbody"]
    for row in rows:
        row[3] = "2026-03-01 04:00"
        # Water temperature, conductivity, turbidity: not rated by the water class, and the
        # evaluation on this branch does not take them yet (issue 13), so left out here.
        row[5] = row[8] = row[9] = ""
    rows[0][3] = "2099-01-01 04:00"
    rows[4][11] = "Infinity"
    rows[1][12] = "1e308"
    return json.dumps(answer, ensure_ascii=False).encode()


def test_water_collector_hand_over_refuses_2099_and_infinity(
    tmp_path: Path, settings: Settings, platform: Platform
) -> None:
    """The 2099 row and the Infinity cell are refused and logged; the watermark stays in
    2026; TP 1e308 is kept, flagged implausible and left out of the water class."""
    platform.script(Reply(body=_water_answer()))
    client = HttpClient("water", timeout=5.0, retries=0)
    collector = CnemcWaterCollector(
        source="water",
        url=platform.url + WATER_ENDPOINT,
        client=client,
        now=lambda: datetime(2026, 3, 1, 5, 0, tzinfo=BEIJING),
    )
    source = _source(settings, "water", "cnemc_water", platform.url + WATER_ENDPOINT)
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        report = ingest(ledger, settings, source, collector, None, None)
        stored = ledger.observations()
        mark = ledger.watermark("water")
        log = ledger.fetch_log("water")
        classes = ledger.query("SELECT site, water_class, limiting_parameters FROM water_classes")
    answer = json.loads(_water_answer())
    first, third, second = (answer["tbody"][i][2] for i in (0, 1, 4))
    assert first not in set(stored["site"])  # every value of the 2099 row refused
    assert not np.isinf(stored["value"]).any()
    assert stored[(stored["site"] == second) & (stored["parameter"] == "nh3n")].empty
    assert mark == datetime(2026, 2, 28, 20, 0, tzinfo=UTC)
    refused = [r for r in report.refused if first in r and "2099-01-01 04:00+08:00" in r]
    assert refused and all("in the future" in r for r in refused)
    assert any(second in r and "value inf is not a finite number" in r for r in report.refused)
    assert any("2099-01-01 04:00+08:00" in note for note in log["notes"])
    tp = stored[(stored["site"] == third) & (stored["parameter"] == "tp")]
    assert tp["value"].tolist() == [1e308]
    # 于家房: NH3-N 1.126 mg/L is Class IV (GB 3838-2002 Table 1: IV ≤ 1.5); TP 1e308 would
    # make it 劣V if it were not left out as implausible.
    rated = classes.set_index("site").loc[third]
    assert (rated["water_class"], rated["limiting_parameters"]) == ("IV", "nh3n")


def test_air_collector_hand_over_refuses_2099(
    tmp_path: Path, settings: Settings, recorded_server: RecordedServer
) -> None:
    """A station-hour labelled 2099 is refused and does not move the watermark; the other
    stations' hour is stored."""
    answer = json.loads((DATA / "cnemc_air" / "live_shenyang.json").read_bytes())
    hour = 1735689600000  # 2025-01-01 08:00 Beijing, the snapshot's hour
    assert all(r["TimePoint"] == f"/Date({hour})/" for r in answer)
    answer[1]["TimePoint"] = "/Date(4070908800000)/"  # 2099-01-01 08:00 Beijing
    recorded_server.add(AIR_PATH, Reply(body=json.dumps(answer, ensure_ascii=False).encode()))
    stations = tuple(r["StationCode"] for r in answer[:3])
    client = HttpClient("air", timeout=5.0, retries=0)
    collector = CnemcAirCollector(
        source="air", stations=stations, url=recorded_server.url + AIR_PATH, client=client
    )
    source = _source(settings, "air", "cnemc_air", recorded_server.url + AIR_PATH)
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        report = ingest(ledger, settings, source, collector, None, None)
        stored = ledger.observations()
        mark = ledger.watermark("air")
    assert set(stored["site"]) == {stations[0], stations[2]}
    assert len(stored) == 12
    assert mark == datetime(2025, 1, 1, 0, 0, tzinfo=UTC)
    refused = [r for r in report.refused if r.startswith(stations[1])]
    assert len(refused) == len(report.refused) == 6
    assert all("2099-01-01 08:00+08:00 is" in r and "in the future" in r for r in refused)
    assert "6 refused at intake" in report.summary()


def test_air_collector_hand_over_refuses_an_off_hour_label_per_station(
    tmp_path: Path, settings: Settings, recorded_server: RecordedServer
) -> None:
    """One station's ``TimePoint`` at 08:05 and another's in year 9999: only those two
    station-hours are refused, each named; the third station's hour is stored and the
    watermark stays on the hour (once, this answer lost every station's hour)."""
    answer = json.loads((DATA / "cnemc_air" / "live_shenyang.json").read_bytes())
    answer[1]["TimePoint"] = "/Date(1735689900000)/"  # 2025-01-01 08:05 Beijing
    answer[2]["TimePoint"] = "9999-01-01 08:00"
    for record in answer[1:3]:
        record["TimePointStr"] = ""
    recorded_server.add(AIR_PATH, Reply(body=json.dumps(answer, ensure_ascii=False).encode()))
    stations = tuple(r["StationCode"] for r in answer[:3])
    client = HttpClient("air", timeout=5.0, retries=0)
    collector = CnemcAirCollector(
        source="air", stations=stations, url=recorded_server.url + AIR_PATH, client=client
    )
    source = _source(settings, "air", "cnemc_air", recorded_server.url + AIR_PATH)
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        report = ingest(ledger, settings, source, collector, None, None)
        stored = ledger.observations()
        mark = ledger.watermark("air")
        (notes,) = ledger.fetch_log("air")["notes"]
    assert set(stored["site"]) == {stations[0]}
    assert len(stored) == 6
    assert mark == datetime(2025, 1, 1, 0, 0, tzinfo=UTC)
    off_hour = [r for r in report.refused if r.startswith(stations[1])]
    assert len(off_hour) == len(report.refused) == 6
    assert all("2025-01-01 08:05+08:00 is not on the hour" in r for r in off_hour)
    assert f"StationCode {stations[2]}) TimePoint '9999-01-01 08:00'" in notes
    assert "has the year 9999" in notes
    assert "2025-01-01 08:05+08:00 is not on the hour" in notes


def test_a_batch_wholly_refused_is_reported_as_refused_not_empty(
    tmp_path: Path,
    settings: Settings,
    recorded_server: RecordedServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Every station-hour of the answer labelled 2099: nothing is stored, and the report and
    the fetch log (status ``refused``, ledger migration 10) say the rows were refused, not
    that the source sent nothing; ``envmon status`` says so and counts no success."""
    answer = json.loads((DATA / "cnemc_air" / "live_shenyang.json").read_bytes())
    for record in answer:
        record["TimePoint"] = "/Date(4070908800000)/"  # 2099-01-01 08:00 Beijing
    recorded_server.add(AIR_PATH, Reply(body=json.dumps(answer, ensure_ascii=False).encode()))
    stations = tuple(r["StationCode"] for r in answer[:3])
    client = HttpClient("air", timeout=5.0, retries=0)
    collector = CnemcAirCollector(
        source="air", stations=stations, url=recorded_server.url + AIR_PATH, client=client
    )
    source = _source(settings, "air", "cnemc_air", recorded_server.url + AIR_PATH)
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        report = ingest(ledger, settings, source, collector, None, None)
        assert ledger.observations().empty
        assert ledger.watermark("air") is None
        ((notes, status),) = ledger.fetch_log("air")[["notes", "status"]].values.tolist()
        (row,) = source_status(ledger).to_dict("records")
    assert (report.empty, report.refused_batches, len(report.refused)) == (0, 1, 18)
    assert "empty" not in report.summary()
    assert "18 refused at intake (1 batch(es) wholly refused)" in report.summary()
    assert notes.startswith("refused: all 18 row(s) of this batch were refused at intake")
    assert status == "refused"
    assert (row["last_success"], row["failures_since_success"], row["refused_since_success"]) == (
        "",
        0,
        1,
    )
    config = tmp_path / "envmon.toml"
    ledger_path = tmp_path / "ledger.sqlite"
    assert main(["--config", str(config), "--ledger", str(ledger_path), "status"]) == 0
    (line,) = [x for x in capsys.readouterr().out.splitlines() if x.startswith("  air ")]
    assert "REFUSED AT INTAKE; last success never" in line
    assert "1 batch(es) wholly refused since (refused: all 18 row(s)" in line


def test_calculator_times_out_of_nanosecond_range_are_per_row() -> None:
    """``envmon calc`` and the imports read times with one parser: 9999 and 1600 are NaT
    for their row (reported there), never an OutOfBoundsDatetime for the whole file."""
    from monitor.calculator.table import parse_local_times

    times = parse_local_times(
        pd.Series(["2026-03-01T10:00", "9999-01-01T10:00", "1600-01-01T10:00Z"])
    )
    assert times.isna().tolist() == [False, True, True]
    assert times.iat[0] == pd.Timestamp("2026-03-01 10:00", tz="Asia/Shanghai")


def test_fetch_log_notes_hold_the_first_20_refusals_and_a_count() -> None:
    """25 refusals in one batch: the first 20 verbatim, then '… and 5 more refused'
    (docs/concepts.md, "The intake check")."""
    from monitor.service.pipeline import NOTED_REFUSALS, _noted

    refused = [f"row {i}: refused (not stored)" for i in range(25)]
    notes = _noted(refused)
    assert NOTED_REFUSALS == 20
    assert notes == [*refused[:20], "… and 5 more refused"]
