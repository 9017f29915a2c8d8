"""A report whose figures rest on synthetic data says so: in its title (HTML, text, email
subject) and in a banner naming the files, so that nobody takes the tour's report
(``examples/synthetic_hunnan_hourly.csv``, README "Offline tour") for official figures.

Synthetic: observations imported (``envmon import``) from a file whose name begins with
``synthetic`` (the bundled examples, made up by ``examples/make_synthetic_*.py``) and not
replaced since. A report without such observations is unchanged.
"""

from __future__ import annotations

import email
import email.policy
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import pandas as pd

from monitor.cli import main
from monitor.collectors.base import observations
from monitor.ledger import Ledger
from monitor.ledger.fetch_log import log_fetch
from monitor.reports import render
from monitor.service.reporting import (
    Grounds,
    gather_daily,
    gather_monthly,
    synthetic_files,
    today_local,
)
from monitor.settings import Settings, load_settings
from tests.reports.conftest import CONFIG, DAY


def _import(config: Path, path: Path, values: str) -> None:
    """Import hourly PM2.5 of the evaluation station 1099A on the reported day (long CSV)."""
    lines = ["site,time,parameter,value,unit"]
    lines += [f"1099A,{DAY}T{h:02d}:00,pm2_5,{values},µg/m³" for h in range(24)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["--config", str(config), "import", "--format", "long-csv", str(path)]) == 0


def _daily(config: Path, out: Path) -> tuple[str, str, str]:
    """HTML, text and email subject of ``envmon report daily`` of the day."""
    argv = ["--config", str(config), "report", "daily", "--date", str(DAY), "--out", str(out)]
    assert main(argv) == 0
    html = (out / f"daily-{DAY}.html").read_text(encoding="utf-8")
    text = (out / f"daily-{DAY}.txt").read_text(encoding="utf-8")
    with (out / f"daily-{DAY}.eml").open("rb") as handle:
        message = email.message_from_binary_file(handle, policy=email.policy.default)
    return html, text, str(message["Subject"])


def test_a_report_on_synthetic_data_says_so_until_measurements_replace_them(
    ledger: Ledger, settings: Settings, config: Path, tmp_path: Path
) -> None:
    # the fixture's ledger (measurements of the source cnemc): no mark
    html, text, subject = _daily(config, tmp_path / "before")
    assert "合成数据" not in html + text + subject
    assert 'class="synthetic"' not in html

    _import(config, tmp_path / "synthetic_hunnan_day.csv", "35")
    html, text, subject = _daily(config, tmp_path / "synthetic")
    for shown in (html, text, subject):
        assert "合成数据" in shown  # (the reports are in Chinese by default)
    assert "<title>【合成数据" in html
    assert '<p class="synthetic">' in html
    assert "synthetic_hunnan_day.csv" in html and "synthetic_hunnan_day.csv" in text
    # the monthly report of the month, and the English words
    monthly = gather_monthly(ledger, settings, DAY, DAY)
    assert monthly.synthetic == (str(tmp_path / "synthetic_hunnan_day.csv"),)
    assert render.subject(monthly, "en").startswith("[SYNTHETIC DATA, NOT OFFICIAL] ")

    # the same hours imported again from a file of measurements (other values: revisions)
    _import(config, tmp_path / "hunnan_day.csv", "36")
    html, text, subject = _daily(config, tmp_path / "measured")
    assert "合成数据" not in html + text + subject


def test_measurements_imported_with_a_synthetic_file_are_not_marked(
    ledger: Ledger, settings: Settings, config: Path, tmp_path: Path
) -> None:
    """One ``envmon import`` of a file of measurements (the reported day) and a synthetic
    file (a later month, outside the report): observations name their import only by source
    and second, so the two files must not be stored in one second (was: they usually were,
    and the measured day's report was marked synthetic, naming the other file)."""
    measured = tmp_path / "hunnan_day.csv"
    synthetic = tmp_path / "synthetic_june.csv"
    for path, day in ((measured, DAY), (synthetic, DAY.replace(month=6))):
        lines = ["site,time,parameter,value,unit"]
        lines += [f"1099A,{day}T{h:02d}:00,pm2_5,35,µg/m³" for h in range(24)]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    time.sleep(1 - time.time() % 1)  # (at the start of a second: both would fit in it)
    argv = ["--config", str(config), "import", "--format", "long-csv"]
    assert main([*argv, str(measured), str(synthetic)]) == 0
    html, text, subject = _daily(config, tmp_path / "out")
    assert "合成数据" not in html + text + subject
    assert gather_monthly(ledger, settings, DAY, DAY).synthetic == ()
    # the June report rests on the synthetic file
    june = DAY.replace(month=6)
    assert gather_monthly(ledger, settings, june, june).synthetic == (str(synthetic),)


def test_many_imports_of_synthetic_files_cost_one_scan(tmp_path: Path) -> None:
    """A ledger that once took synthetic files many times (re-imports, chunks of a long
    file, several files), all since replaced by measurements: the observations of the
    period are read once per source, not once per import (was: one scan per import, each
    a full scan of the period when nothing synthetic remains: a year of the national
    network, ~100 M observations, took seconds per import for every report). The official
    daily AQI and the indicator values likewise: one query per period, not one per row or
    import."""
    hour = pd.Timestamp("2026-05-10 01:00", tz="Asia/Shanghai")
    start, end = int(hour.timestamp()) - 3600, int(hour.timestamp()) + 86400
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        measured = observations("1100A", "pm2_5", hour - pd.Timedelta(hours=1), hour, 35.0)
        ledger.write_observations(measured, "import_long_csv", requested="import day.csv")
        with ledger.transaction() as db:
            for second in range(1_700_000_000, 1_700_000_008):  # (imports long ago)
                for source in ("import_long_csv", "indicator_values"):
                    name = f"synthetic_{second % 3}.csv"
                    log_fetch(
                        db,
                        source,
                        requested=f"import ./data/{name}",
                        covers=(None, None),
                        started_at=None,
                        finished_at=second,
                        status="ok",
                    )
        days = pd.DataFrame(
            {
                "area": "hunnan",
                "date": [f"2026-05-{d:02d}" for d in range(1, 11)],
                "aqi": 50.0,
                "category": "优",
                "primary_pollutants": "",
                "dust": False,
            }
        )
        ledger.write_official_daily(days, "official_may.csv")
        ledger.add_indicator_value("green_factories", "2026-05-01", "4")
        grounds = Grounds(
            observations=((start, end, frozenset(["1100A"])), (start - 86400, start, frozenset())),
            official_days=((frozenset(["hunnan"]), date(2026, 1, 1), date(2026, 5, 10)),),
            indicators=((frozenset(["green_factories"]), date(2026, 1, 1), date(2026, 5, 10)),),
        )
        scans: list[str] = []
        tables = ("observations", "official_daily_aqi", "indicator_values")

        def trace(sql: str) -> None:
            scans.extend(t for t in tables if f"FROM {t}" in sql)

        ledger.connection.set_trace_callback(trace)
        try:
            assert synthetic_files(ledger, grounds) == ()
            # a period per source: observations 2, official days 1, indicators 1
            assert sorted(scans) == sorted([*tables, "observations"])
            # a synthetic file that still holds a value of the period (any case of name)
            synthetic = observations("1100A", "pm2_5", hour, hour + pd.Timedelta(hours=1), 9.0)
            ledger.write_observations(
                synthetic, "import_long_csv", requested="import data\\SYNTHETIC_b.CSV"
            )
            assert synthetic_files(ledger, grounds) == ("data\\SYNTHETIC_b.CSV",)
            # ... not at a site of no figure
            other = replace(grounds, observations=((start, end, frozenset(["1102A"])),))
            assert synthetic_files(ledger, other) == ()
        finally:
            ledger.connection.set_trace_callback(None)


def test_the_periods_each_report_rests_on(
    ledger: Ledger, settings: Settings, config: Path, tmp_path: Path
) -> None:
    """Synthetic values of August 2025 (air) and 20 December 2025 (the river section's
    reading): the monthly report of May 2026 rests on May 2025 and January … May 2026, not
    on them (was: marked, the months between counted); the daily report of 9 May 2026 shows
    the section's latest reading, the synthetic one of December (was: not marked)."""
    path = tmp_path / "synthetic_2025.csv"
    lines = ["site,time,parameter,value,unit"]
    lines += [f"1099A,2025-08-10T{h:02d}:00,pm2_5,35,µg/m³" for h in range(1, 24)]
    # GB 3838-2002 Table 1: CODMn 6.5 mg/L is class IV (≤ 10), as the fixture's reading
    reading = {"ph": ("7.6", ""), "do": ("5.2", "mg/L"), "codmn": ("6.5", "mg/L")}
    lines += [f"hun_a,2025-12-20T08:00,{p},{v},{u}" for p, (v, u) in reading.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["--config", str(config), "import", "--format", "long-csv", str(path)]) == 0

    may = gather_monthly(ledger, settings, DAY, DAY)
    assert may.synthetic == ()
    # August 2026 compares with August 2025
    august = date(2026, 8, 1)
    assert gather_monthly(ledger, settings, august, august).synthetic == (str(path),)
    daily = gather_daily(ledger, settings, date(2026, 5, 9))
    assert [line.latest_class for line in daily.sections] == ["IV"]  # the December reading
    assert daily.synthetic == (str(path),)


#: The fixture's settings with a second area (Shenyang, station 1102A only) and a count
#: target reported by hand (green factories, as config/hunnan.toml's ``green_factories``).
WIDER = """
[[areas]]
id = "shenyang"
name = "Shenyang city"
name_zh = "沈阳市"

[[air_stations]]
code = "1102A"
name_zh = "东陵路"
role = "evaluation"
areas = ["shenyang"]

[[targets]]
kind = "count"
id = "green_factories"
name = "新增绿色工厂 ≥ 10 家"
goal = 10
unit = "new green factories"
year = 2026
"""


def _wider(config: Path) -> Settings:
    config.write_text(CONFIG + WIDER, encoding="utf-8")
    return load_settings(config, {})


def _import_as(config: Path, file_format: str, *paths: Path) -> None:
    argv = ["--config", str(config), "import", "--format", file_format, *map(str, paths)]
    assert main(argv) == 0


def test_synthetic_data_of_sites_the_report_does_not_show_does_not_mark_it(
    ledger: Ledger, config: Path, tmp_path: Path
) -> None:
    """Synthetic values of a station of another area (1102A, Shenyang) and of a river
    section the settings do not have leave the Hunnan reports unmarked (was: any
    synthetic observation of the period marked them). A control site's values (1100A) are
    in the daily digest (its row, its hours) but in no figure of the monthly report (the
    area's values average its evaluation stations only)."""
    settings = _wider(config)
    elsewhere = tmp_path / "synthetic_elsewhere.csv"
    lines = ["site,time,parameter,value,unit"]
    lines += [f"1102A,{DAY}T{h:02d}:00,pm2_5,35,µg/m³" for h in range(24)]
    lines += [f"hun_b,{DAY}T08:00,codmn,6.5,mg/L"]
    elsewhere.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _import_as(config, "long-csv", elsewhere)
    html, text, subject = _daily(config, tmp_path / "elsewhere")
    assert "合成数据" not in html + text + subject
    assert gather_daily(ledger, settings, DAY).synthetic == ()
    assert gather_monthly(ledger, settings, DAY, DAY).synthetic == ()

    control = tmp_path / "synthetic_control.csv"
    lines = ["site,time,parameter,value,unit"]
    lines += [f"1100A,{DAY}T{h:02d}:00,pm2_5,35,µg/m³" for h in range(24)]
    control.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _import_as(config, "long-csv", control)
    assert gather_daily(ledger, settings, DAY).synthetic == (str(control),)
    assert gather_monthly(ledger, settings, DAY, DAY).synthetic == ()


def test_official_daily_aqi_of_a_synthetic_file_marks_the_reports_it_decides(
    ledger: Ledger, config: Path, tmp_path: Path
) -> None:
    """Audited daily AQI imported (``--format daily-aqi-csv``) from a synthetic file decides
    its days: the reports resting on them are marked (was: only observations counted),
    those of another area are not, and the bureau's file of the same days unmarks them."""
    settings = _wider(config)
    city = tmp_path / "synthetic_city.csv"
    city.write_text("area,date,aqi\nshenyang,2026-05-09,60\n", encoding="utf-8")
    _import_as(config, "daily-aqi-csv", city)
    assert gather_daily(ledger, settings, DAY).synthetic == ()
    assert gather_monthly(ledger, settings, DAY, DAY).synthetic == ()

    district = tmp_path / "synthetic_district.csv"
    district.write_text("area,date,aqi\nhunnan,2026-05-09,60\n", encoding="utf-8")
    _import_as(config, "daily-aqi-csv", district)
    html, text, subject = _daily(config, tmp_path / "synthetic")
    assert "<title>【合成数据" in html and "synthetic_district.csv" in text
    assert "synthetic_city.csv" not in html + text
    assert gather_monthly(ledger, settings, DAY, DAY).synthetic == (str(district),)
    # June's report: the good-day target since 1 January; May 2027: the month a year before
    june, may_2027 = date(2026, 6, 1), date(2027, 5, 1)
    assert gather_monthly(ledger, settings, june, june).synthetic == (str(district),)
    assert gather_monthly(ledger, settings, may_2027, may_2027).synthetic == (str(district),)
    # ... not April's (before the day)
    april = date(2026, 4, 1)
    assert gather_monthly(ledger, settings, april, april).synthetic == ()

    bureau = tmp_path / "hunnan_daily_aqi.csv"
    bureau.write_text("area,date,aqi\nhunnan,2026-05-09,61\n", encoding="utf-8")
    _import_as(config, "daily-aqi-csv", bureau)
    html, text, subject = _daily(config, tmp_path / "official")
    assert "合成数据" not in html + text + subject
    assert gather_monthly(ledger, settings, june, june).synthetic == ()


def test_indicator_values_of_a_synthetic_file_mark_the_monthly_report(
    ledger: Ledger, config: Path, tmp_path: Path
) -> None:
    """A target's value imported (``--format indicators-csv``) from a synthetic file is a
    figure of the monthly report (its targets): marked, naming the file (was: only
    observations counted). The daily digest shows no such target. A file of the bureau
    imported in the same command with a later value decides the target: not marked (the
    two are not stored in one second)."""
    settings = _wider(config)
    made_up = tmp_path / "synthetic_green.csv"
    made_up.write_text("target,date,value\ngreen_factories,2026-04-30,3\n", encoding="utf-8")
    _import_as(config, "indicators-csv", made_up)
    assert gather_monthly(ledger, settings, DAY, DAY).synthetic == (str(made_up),)
    html, text, subject = _daily(config, tmp_path / "daily")
    assert "合成数据" not in html + text + subject
    # before the value's date: not marked
    march = date(2026, 3, 1)
    assert gather_monthly(ledger, settings, march, march).synthetic == ()

    reported = tmp_path / "green_factories.csv"
    reported.write_text("target,date,value\ngreen_factories,2026-05-08,4\n", encoding="utf-8")
    again = tmp_path / "synthetic_green_2.csv"
    again.write_text("target,date,value\ngreen_factories,2026-02-01,1\n", encoding="utf-8")
    time.sleep(1 - time.time() % 1)  # (at the start of a second: both would fit in it)
    _import_as(config, "indicators-csv", reported, again)
    assert gather_monthly(ledger, settings, DAY, DAY).synthetic == ()
    # February's report rests on the value of 1 February of the second synthetic file
    february = date(2026, 2, 1)
    assert gather_monthly(ledger, settings, february, DAY).synthetic == (str(again),)


def test_an_imported_indicator_file_is_no_silent_source_of_the_day(
    ledger: Ledger, config: Path, tmp_path: Path
) -> None:
    """Indicator imports are logged in the fetch log (their second names their file), but
    deliver no observations: the digest of the day of the import does not list them as a
    source without data."""
    settings = _wider(config)
    reported = tmp_path / "green_factories.csv"
    reported.write_text("target,date,value\ngreen_factories,2026-05-08,4\n", encoding="utf-8")
    _import_as(config, "indicators-csv", reported)
    log = ledger.query(
        "SELECT source, requested, status FROM fetch_log WHERE source = ?", ("indicator_values",)
    )
    assert log.values.tolist() == [["indicator_values", f"import {reported}", "ok"]]
    today = today_local()
    silent = gather_daily(ledger, settings, today).silent
    assert "indicator_values" not in [s.name for s in silent if s.kind == "source"]


def test_the_year_end_projection_rests_on_the_same_period_of_earlier_years(
    ledger: Ledger, settings: Settings, config: Path, tmp_path: Path
) -> None:
    """The good-day target's year-end projection (daily digest and monthly report) rests on
    the good-day rates of the rest of the year in the three years before
    (``progress_targets._history_rates``): synthetic official days of 11 May … 31 December
    2025 change the projection of 2026 as of 10 May, so they mark both reports (was: only
    the days since 1 January counted)."""
    before = gather_daily(ledger, settings, DAY)
    made_up = tmp_path / "synthetic_2025_rest.csv"
    days = pd.date_range("2025-05-11", "2025-12-31").strftime("%Y-%m-%d")
    made_up.write_text("area,date,aqi\n" + "".join(f"hunnan,{d},150\n" for d in days))
    _import_as(config, "daily-aqi-csv", made_up)
    daily = gather_daily(ledger, settings, DAY)
    projections = [(p.variant, p.projection) for p in daily.good_days]
    assert projections != [(p.variant, p.projection) for p in before.good_days]
    assert daily.synthetic == (str(made_up),)
    # the monthly report of May (targets as of 9 May)
    assert gather_monthly(ledger, settings, DAY, DAY).synthetic == (str(made_up),)
    # as of 31 December nothing of the year is left to project: not marked
    assert gather_daily(ledger, settings, date(2026, 12, 31)).synthetic == ()


def test_a_value_set_by_hand_just_after_a_synthetic_import_is_not_taken_for_it(
    ledger: Ledger, config: Path, tmp_path: Path
) -> None:
    """A reported value names its file by its second only: a value set by hand
    (``envmon indicator set``) in the second of a synthetic file's import was taken for
    that file's, and the monthly report it decides was marked synthetic."""
    settings = _wider(config)
    made_up = tmp_path / "synthetic_green.csv"
    time.sleep(1 - time.time() % 1)  # (at the start of a second: both would fit in it)
    rows = [("green_factories", "", "2026-04-30", "3", "")]
    ledger.import_indicator_values(rows, requested=f"import {made_up}")
    ledger.add_indicator_value("green_factories", "2026-05-08", "4")  # the officer's, later
    assert gather_monthly(ledger, settings, DAY, DAY).synthetic == ()
    # (the synthetic value still decides April's report)
    april = date(2026, 4, 30)
    assert gather_monthly(ledger, settings, april, DAY).synthetic == (str(made_up),)


def test_a_synthetic_file_imported_just_after_a_value_set_by_hand_does_not_take_it(
    ledger: Ledger, config: Path, tmp_path: Path
) -> None:
    """The other way round: a synthetic indicator file imported in the second of a value
    set by hand (a script running ``envmon indicator set`` then ``envmon import``) took
    that value for its own."""
    settings = _wider(config)
    made_up = tmp_path / "synthetic_green.csv"
    made_up.write_text("target,date,value\ngreen_factories,2026-04-30,3\n", encoding="utf-8")
    time.sleep(1 - time.time() % 1)  # (at the start of a second: both would fit in it)
    ledger.add_indicator_value("green_factories", "2026-05-08", "4")  # the officer's, later
    _import_as(config, "indicators-csv", made_up)
    assert gather_monthly(ledger, settings, DAY, DAY).synthetic == ()
    april = date(2026, 4, 30)
    assert gather_monthly(ledger, settings, april, DAY).synthetic == (str(made_up),)
