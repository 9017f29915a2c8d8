"""Target progress from the ledger: official vs provisional days, rule variants, CLI."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from monitor.cli import main
from monitor.domain.targets import TargetProgress
from monitor.ledger import Ledger
from monitor.service.progress_targets import compute_progress
from monitor.settings import Settings, load_settings
from tests.conftest import HUNNAN_LEDGER, area_daily_row

CONFIG = (
    HUNNAN_LEDGER
    + """\

[[water_sections]]
id = "sec_a"
name_zh = "甲断面"
river = "浑河"
target_class = "III"

[[targets]]
kind = "good_day_ratio"
id = "good_days"
name = "优良天数比例 ≥ 80 %"
area = "hunnan"
year = 2026
goal = 0.80
rules = "hj633-2012"

[[targets]]
kind = "heavy_pollution_days"
id = "heavy"
name = "重污染天数 ≤ 5"
area = "hunnan"
year = 2026
max = 5

[[targets]]
kind = "count"
id = "green"
name = "新增绿色工厂 ≥ 10"
year = 2026
goal = 10
unit = "new green factories"

[[targets]]
kind = "milestones"
id = "rivers"
name = "河流源头治理"
year = 2026

[[targets.items]]
name = "张官河"

[[targets.items]]
name = "白塔堡河"
due = 2026-06-30

[[targets]]
kind = "river_class"
id = "classes"
name = "断面达标"
year = 2026
sections = ["sec_a"]
"""
)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """Settings with one target of each kind."""
    path = tmp_path / "envmon.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


@pytest.fixture
def settings(config: Path) -> Settings:
    """The loaded settings."""
    return load_settings(config, {})


@pytest.fixture
def ledger(config: Path) -> Iterator[Ledger]:
    """The ledger beside the config."""
    with Ledger.open(config.parent / "ledger.sqlite") as opened:
        yield opened


def put_days(ledger: Ledger, first: date, aqi_2012: list[float], aqi_2026: list[float]) -> None:
    """Computed area daily AQI rows under both rule sets (official by date)."""
    rows = []
    for i, (a12, a26) in enumerate(zip(aqi_2012, aqi_2026, strict=True)):
        day = first + timedelta(days=i)
        for standard, aqi in (("hj633-2012", a12), ("hj633-2026", a26)):
            rows.append(area_daily_row(day, standard, aqi))
    ledger.replace_derived("daily_aqi", pd.DataFrame(rows), ("site", "date", "standard"))


def good_day_rows(ledger: Ledger, settings: Settings, as_of: date) -> dict[str, TargetProgress]:
    """Progress rows of the good-day target by variant."""
    rows = compute_progress(ledger, settings, as_of=as_of, target_id="good_days")
    return {r.variant: r for r in rows}


def test_the_official_series_switches_rules_on_1_march(ledger: Ledger, settings: Settings) -> None:
    """PM2.5-type days at AQI 100 (2012) / 114 (2026): good before 1 March only."""
    n = 60  # 2026-02-01 … 2026-04-01
    put_days(ledger, date(2026, 2, 1), [100.0] * n, [114.0] * n)
    rows = good_day_rows(ledger, settings, date(2026, 4, 1))
    official, all_2012, all_2026 = rows["official"], rows["hj633-2012"], rows["hj633-2026"]
    assert (official.good_days, official.valid_days) == (28, 60)  # 28 February days good
    assert (all_2012.good_days, all_2026.good_days) == (60, 0)
    assert official.provisional_days == 60 and official.official_days == 0


def test_an_official_value_decides_the_day(
    ledger: Ledger,
    settings: Settings,
    config: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An imported audited AQI replaces the computed one; disagreements are counted."""
    put_days(ledger, date(2026, 5, 1), [90.0, 90.0, 120.0], [90.0, 90.0, 120.0])
    official = tmp_path / "official.csv"
    official.write_text(
        "area,date,aqi,category,primary_pollutants,dust\n"
        "hunnan,2026-05-01,105,轻度污染,pm10,true\n"
        "hunnan,2026-05-02,90,良,pm10,false\n",
        encoding="utf-8",
    )
    assert (
        main(["--config", str(config), "import", "--format", "daily-aqi-csv", str(official)]) == 0
    )
    capsys.readouterr()
    rows = good_day_rows(ledger, settings, date(2026, 5, 3))
    row = rows["official"]
    assert (row.official_days, row.provisional_days, row.disagreements) == (2, 1, 1)
    assert (row.good_days, row.valid_days) == (1, 3)
    # The dust-affected non-good day is left out of the dust-excluded variant.
    dust = rows["official+dust_excluded"]
    assert (dust.good_days, dust.valid_days) == (1, 2)


def test_progress_json_contract(
    ledger: Ledger, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`envmon progress --json` lists objects with the contract's fields."""
    put_days(ledger, date(2026, 1, 1), [50.0] * 10, [50.0] * 10)
    code = main(["--config", str(config), "progress", "--as-of", "2026-01-10", "--json"])
    assert code == 0
    rows = json.loads(capsys.readouterr().out)
    fields = {
        "id",
        "kind",
        "area",
        "year",
        "standard",
        "value",
        "goal",
        "status",
        "budget_remaining",
        "required_rate",
        "projection_low",
        "projection_high",
        "valid_days",
        "good_days",
        "explanation_zh",
        "explanation_en",
    }
    assert all(fields <= set(row) for row in rows)
    kinds = {row["kind"] for row in rows}
    assert kinds == {
        "good_day_ratio",
        "heavy_pollution_days",
        "count",
        "milestones",
        "river_class",
    }
    good = next(r for r in rows if r["id"] == "good_days" and r["variant"] == "official")
    assert (good["good_days"], good["valid_days"], good["budget_remaining"]) == (10, 10, 73)
    heavy = next(r for r in rows if r["id"] == "heavy")
    assert heavy["budget_remaining"] == 5
    assert heavy["standard"] == "official"


def test_indicator_set_keeps_an_audit_trail(
    ledger: Ledger, settings: Settings, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each reported value is kept; the latest up to the as-of date counts."""
    for value, day in (("4", "2026-06-30"), ("7", "2026-09-30")):
        assert (
            main(
                [
                    "--config",
                    str(config),
                    "indicator",
                    "set",
                    "green",
                    value,
                    "--date",
                    day,
                    "--note",
                    f"report {day}",
                ]
            )
            == 0
        )
    trail = ledger.query("SELECT value, note FROM indicator_values WHERE target = 'green'")
    assert trail.values.tolist() == [["4", "report 2026-06-30"], ["7", "report 2026-09-30"]]
    (mid,) = compute_progress(ledger, settings, as_of=date(2026, 7, 1), target_id="green")
    (late,) = compute_progress(ledger, settings, as_of=date(2026, 10, 1), target_id="green")
    assert (mid.value, late.value) == (4.0, 7.0)
    capsys.readouterr()
    assert (
        main(
            ["--config", str(config), "indicator", "set", "green", "many", "--date", "2026-10-01"]
        )
        == 2
    )
    assert "is not a count; expected a finite number ≥ 0" in capsys.readouterr().err


def test_milestones_overdue_item(
    ledger: Ledger, settings: Settings, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An item past its due date and not completed puts the milestones off track."""
    assert (
        main(
            [
                "--config",
                str(config),
                "indicator",
                "set",
                "rivers",
                "completed",
                "--date",
                "2026-05-01",
                "--item",
                "张官河",
            ]
        )
        == 0
    )
    (row,) = compute_progress(ledger, settings, as_of=date(2026, 7, 15), target_id="rivers")
    assert (row.value, row.goal, row.status) == (1.0, 2.0, "off_track")
    assert row.details["items"] == {"张官河": "completed", "白塔堡河": "not_started"}


def _nh3n(ledger: Ledger, readings: list[tuple[str, float]]) -> None:
    """NH3-N readings (local time, mg/L) of sec_a, each with DO 6.0 (class II)."""
    from monitor.collectors.base import observations

    frames = []
    for moment, value in readings:
        end = pd.Timestamp(moment, tz="Asia/Shanghai")
        frames.append(observations("sec_a", ["nh3n", "do"], end, end, [value, 6.0]))
    ledger.write_observations(pd.concat(frames, ignore_index=True), "water")


def test_river_class_rates_the_period_on_the_mean_of_each_item(
    ledger: Ledger, settings: Settings
) -> None:
    """环办〔2011〕22号: a period with several samples is rated on the arithmetic mean of each
    item. May's NH3-N 1.5 (IV), 1.5 (IV), 0.4 (II, latest) average 1.133 mg/L → class IV
    (GB 3838-2002 Table 1: III ≤ 1.0, IV ≤ 1.5), so the class III section does not meet
    its target — the latest reading alone would say it does."""
    _nh3n(
        ledger, [("2026-05-03 08:00", 1.5), ("2026-05-10 08:00", 1.5), ("2026-05-20 08:00", 0.4)]
    )
    (row,) = compute_progress(ledger, settings, as_of=date(2026, 5, 31), target_id="classes")
    assert (row.value, row.status) == (0.0, "at_risk")
    section = row.details["sections"]["sec_a"]
    assert (section["class"], section["samples"], section["meets"]) == ("IV", 3, False)
    assert section["exceedance_multiples_vs_target"] == {"nh3n": 0.133}
    assert row.details["monthly_meeting_assessed"] == {"2026-05": [0, 1]}


def test_river_class_months_and_year_to_date(ledger: Ledger, settings: Settings) -> None:
    """April NH3-N 1.2 (IV), May 0.6 (III): April fails, May meets; the year to date on
    15 May averages 0.9 → III and meets; on 15 April only April counts."""
    _nh3n(ledger, [("2026-04-01 08:00", 1.2), ("2026-05-01 08:00", 0.6)])
    (april,) = compute_progress(ledger, settings, as_of=date(2026, 4, 15), target_id="classes")
    (may,) = compute_progress(ledger, settings, as_of=date(2026, 5, 15), target_id="classes")
    assert (april.value, april.status) == (0.0, "at_risk")
    assert (may.value, may.status) == (1.0, "on_track")
    assert may.details["monthly_meeting_assessed"] == {"2026-04": [0, 1], "2026-05": [1, 1]}


def test_a_refreshed_series_rates_the_rivers_as_each_day_alone_would(
    ledger: Ledger, settings: Settings
) -> None:
    """``refresh_progress`` rates the sections once per set of readings, not once per as-of
    date (a year of as-of dates took 0.2 s each per river target; a back import of one
    old day recomputes every day since). Each stored day must still be what
    ``compute_progress`` gives for that day alone: readings at local midnight and at
    23:59:59 sit on the edge between two as-of dates (a reading belongs to the local date
    of its ``period_end``), and April's readings move May's year to date (NH3-N, GB
    3838-2002 Table 1: III ≤ 1.0, IV ≤ 1.5)."""
    from monitor.service.progress_targets import refresh_progress

    _nh3n(
        ledger,
        [
            ("2026-04-01 00:00", 1.2),  # (1 April's reading)
            ("2026-04-10 23:59:59", 0.4),
            ("2026-04-11 00:00", 1.4),
            ("2026-05-02 08:00", 0.6),
        ],
    )
    refresh_progress(ledger, settings, ("2026-03-25",), date(2026, 5, 6))
    stored = ledger.query(
        "SELECT as_of, value, status, explanation_en, details FROM target_progress "
        "WHERE target = 'classes' ORDER BY as_of"
    )
    assert stored["as_of"].tolist()[:2] == ["2026-03-25", "2026-03-26"]
    assert stored["as_of"].tolist()[-1] == "2026-05-05"
    seen = set()
    for as_of, value, status, explanation, details in stored.itertuples(index=False):
        (alone,) = compute_progress(
            ledger, settings, as_of=date.fromisoformat(as_of), target_id="classes"
        )
        kept = None if pd.isna(value) else value  # (SQL NULL reads back as NaN)
        assert (kept, status, explanation) == (alone.value, alone.status, alone.explanation_en)
        assert json.loads(details) == json.loads(json.dumps(alone.details, default=str))
        seen.add(json.dumps(alone.details["sections"]["sec_a"].get("class")))
    # the series passes through the classes the readings give: none yet, IV (1.2), II …
    assert {'"IV"', '"III"', "null"} <= seen
    classes = {
        as_of: json.loads(details)["sections"]["sec_a"]["class"]
        for as_of, details in zip(stored["as_of"], stored["details"], strict=True)
    }
    # 1.2 from 1 April; mean 0.8 (III) from 10 April; mean 1.0 (III) from 11 April; …
    assert [classes[d] for d in ("2026-03-31", "2026-04-01", "2026-04-09")] == [None, "IV", "IV"]
    assert [classes[d] for d in ("2026-04-10", "2026-04-11", "2026-05-02")] == ["III"] * 3


def test_heavy_pollution_days_count_official_days(ledger: Ledger, settings: Settings) -> None:
    """Days with AQI > 200 count; 200 itself does not."""
    put_days(ledger, date(2026, 1, 1), [201.0, 200.0, 250.0], [201.0, 200.0, 250.0])
    (row,) = compute_progress(ledger, settings, as_of=date(2026, 1, 3), target_id="heavy")
    assert (row.value, row.budget_remaining) == (2.0, 3)


def test_failing_section_lists_multiples_against_its_target(
    ledger: Ledger, settings: Settings
) -> None:
    """A Class IV reading at a Class III section: NH3-N 1.5 mg/L is 0.5 × over Class III."""
    from monitor.collectors.base import observations

    moment = pd.Timestamp("2026-04-01 08:00", tz="Asia/Shanghai")
    ledger.write_observations(
        observations("sec_a", ["nh3n", "do"], moment, moment, [1.5, 6.0]), "water"
    )
    rows = pd.DataFrame(
        [
            {
                "site": "sec_a",
                "period_end": int(moment.timestamp()),
                "water_class": "IV",
                "limiting_parameters": "nh3n",
                "exceedance_multiples": "nh3n=0.5",
                "parameter_set": "automatic",
                "computed_at": 0,
            }
        ]
    )
    ledger.replace_derived("water_classes", rows, ("site", "period_end"))
    (row,) = compute_progress(ledger, settings, as_of=date(2026, 4, 2), target_id="classes")
    # GB 3838-2002 Table 1: NH3-N Class III limit 1.0 mg/L → (1.5 − 1.0) / 1.0 = 0.5.
    assert row.details["sections"]["sec_a"]["exceedance_multiples_vs_target"] == {"nh3n": 0.5}


def test_annual_mean_target(tmp_path: Path) -> None:
    """PM2.5 ≤ 35: a mean of 40 over the year so far with no history is off track."""
    config = tmp_path / "envmon.toml"
    config.write_text(
        CONFIG + '\n[[targets]]\nkind = "annual_mean"\nid = "pm"\nname = "PM2.5 ≤ 35"\n'
        'area = "hunnan"\nyear = 2026\npollutant = "pm2_5"\nlimit = 35\n',
        encoding="utf-8",
    )
    settings = load_settings(config, {})
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        put_days(ledger, date(2026, 1, 1), [60.0] * 120, [60.0] * 120)
        ledger.connection.execute("UPDATE daily_aqi SET pm2_5 = 40")
        (row,) = compute_progress(ledger, settings, as_of=date(2026, 4, 30), target_id="pm")
    assert row.value == pytest.approx(40.0)
    assert row.valid_days == 120
    assert row.status == "off_track"
    assert row.details["short_months"] == []


@pytest.mark.parametrize("value", ["many", "nan", "inf", "-3"])
def test_indicators_csv_rejects_unusable_counts(
    tmp_path: Path, config: Path, ledger: Ledger, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A count that is not a finite number ≥ 0 is reported by line and not imported."""
    path = tmp_path / "ind.csv"
    path.write_text(f"target,date,value\ngreen,2026-07-05,{value}\n", encoding="utf-8")
    assert main(["--config", str(config), "import", "--format", "indicators-csv", str(path)]) == 0
    assert "line 2" in capsys.readouterr().err
    assert ledger.query("SELECT count(*) AS n FROM indicator_values")["n"].iloc[0] == 0


def test_indicators_csv_twice_adds_nothing(
    tmp_path: Path, config: Path, ledger: Ledger, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same manual values imported twice are recorded once."""
    path = tmp_path / "ind.csv"
    path.write_text(
        "target,date,value,item,note\ngreen,2026-07-05,3,,Q2\nrivers,2026-07-05,started,张官河,\n",
        encoding="utf-8",
    )
    for _ in range(2):
        assert (
            main(["--config", str(config), "import", "--format", "indicators-csv", str(path)]) == 0
        )
    assert ledger.query("SELECT count(*) AS n FROM indicator_values")["n"].iloc[0] == 2


def test_stored_series_follows_a_correction(
    tmp_path: Path, config: Path, ledger: Ledger, capsys: pytest.CaptureFixture[str]
) -> None:
    """A corrected official day changes every stored as-of date from that day on."""
    first = tmp_path / "a.csv"
    first.write_text(
        "area,date,aqi\nhunnan,2026-03-01,80\nhunnan,2026-03-02,80\nhunnan,2026-03-03,80\n",
        encoding="utf-8",
    )
    fixed = tmp_path / "b.csv"
    fixed.write_text("area,date,aqi\nhunnan,2026-03-02,105\n", encoding="utf-8")
    for path in (first, fixed):
        assert (
            main(["--config", str(config), "import", "--format", "daily-aqi-csv", str(path)]) == 0
        )
    stored = ledger.query(
        "SELECT as_of, good_days FROM target_progress WHERE target = 'good_days' "
        "AND variant = 'official' AND as_of IN ('2026-03-02', '2026-03-03') ORDER BY as_of"
    )
    assert stored.values.tolist() == [["2026-03-02", 1], ["2026-03-03", 2]]


def test_an_empty_official_aqi_decides_the_day(
    tmp_path: Path,
    config: Path,
    ledger: Ledger,
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An official row without an AQI makes the day invalid even if a computed one exists."""
    put_days(ledger, date(2026, 5, 1), [114.0], [114.0])
    path = tmp_path / "o.csv"
    path.write_text("area,date,aqi\nhunnan,2026-05-01,\n", encoding="utf-8")
    assert main(["--config", str(config), "import", "--format", "daily-aqi-csv", str(path)]) == 0
    row = good_day_rows(ledger, settings, date(2026, 5, 1))["official"]
    assert (row.valid_days, row.official_days, row.provisional_days) == (0, 1, 0)


def test_incomplete_2026_days_without_high_aqi_are_not_valid(
    ledger: Ledger, settings: Settings
) -> None:
    """HJ 633-2026 §5.3: an incomplete day with AQI ≤ 100 has no AQI (NA) under 2026 rules."""
    put_days(ledger, date(2026, 5, 1), [40.0, 150.0], [40.0, 150.0])
    ledger.connection.execute("UPDATE daily_aqi SET complete = 0")
    rows = good_day_rows(ledger, settings, date(2026, 5, 2))
    assert (rows["official"].valid_days, rows["official"].good_days) == (1, 0)
    assert rows["hj633-2012"].valid_days == 2


def test_river_readings_of_the_next_year_do_not_count(ledger: Ledger, settings: Settings) -> None:
    """A reading at 2027-01-01 00:00 (Shanghai) belongs to 2027, not to 2026's result:
    2026's NH3-N 0.3 and 2.0 average 1.15 → IV (fails); with 2027's 0.3 it would be
    0.87 → III."""
    _nh3n(
        ledger,
        [("2026-01-01 00:00", 0.3), ("2026-12-31 20:00", 2.0), ("2027-01-01 00:00", 0.3)],
    )
    (row,) = compute_progress(ledger, settings, as_of=date(2026, 12, 31), target_id="classes")
    assert (row.value, row.status) == (0.0, "failed")
    assert set(row.details["monthly_meeting_assessed"]) == {"2026-01", "2026-12"}


#: The six statistics (and O3 1 h max) of a daily row, for invalid_statistics.
_SIX = ("so2", "no2", "co", "pm10", "pm2_5", "o3_8h_max")


def put_partial_days(ledger: Ledger, days: list[tuple[date, tuple[str, ...], float]]) -> None:
    """Area daily rows as evaluation stores them: (date, valid statistics, AQI of the valid
    ones). The 2012 row keeps that AQI; the 2026 row follows §5.3 (NA when incomplete and
    <= 100), as evaluation now stores it."""
    rows = []
    for day, valid, aqi in days:
        invalid = [s for s in (*_SIX, "o3_1h_max") if s not in valid]
        for standard in ("hj633-2012", "hj633-2026"):
            in_force = "hj633-2026" if day >= date(2026, 3, 1) else "hj633-2012"
            rated = [s for s in _SIX if s not in invalid] + (
                ["o3_1h_max"] if standard == "hj633-2012" and "o3_1h_max" in valid else []
            )
            complete = len(rated) == (7 if standard == "hj633-2012" else 6)
            stored = aqi if standard == "hj633-2012" or complete or aqi > 100 else None
            rows.append(
                {
                    "site": "hunnan",
                    "date": day.isoformat(),
                    "standard": standard,
                    "official": int(standard == in_force),
                    "is_area": 1,
                    "stations": 2,
                    "invalid_statistics": ";".join(invalid),
                    "aqi": stored,
                    "level": 2,
                    "primary_pollutants": "",
                    "exceedance_pollutants": "",
                    "complete": int(complete),
                    "computed_at": 0,
                }
            )
    ledger.replace_derived("daily_aqi", pd.DataFrame(rows), ("site", "date", "standard"))


ALL = (*_SIX, "o3_1h_max")
#: Five January 2026 days (HJ 633-2012 in force): a PM2.5-only day (AQI 40), an O3-only day
#: (every 24 h mean under 20 hours; AQI 60), a PM2.5-only day at AQI 150, a complete good day
#: (50) and a complete non-good day (120).
PARTIAL_DAYS = [
    (date(2026, 1, 1), ("pm2_5",), 40.0),
    (date(2026, 1, 2), ("o3_1h_max", "o3_8h_max"), 60.0),
    (date(2026, 1, 3), ("pm2_5",), 150.0),
    (date(2026, 1, 4), ALL, 50.0),
    (date(2026, 1, 5), ALL, 120.0),
]


def test_valid_day_rule_withholds_days_without_all_six_statistics(
    ledger: Ledger, settings: Settings
) -> None:
    """Issue 13 §2, default ``all_six_or_over_100`` on both rule sets: a day is valid when
    all six daily statistics are valid, or when the AQI of the valid ones is > 100 (a valid
    non-good day, as HJ 633-2026 §5.3 publishes it); otherwise it is withheld. Of the five
    days: valid 3 (150, 50, 120), good 1, withheld 2 — the ratio 1/3, between 1/5 (both
    withheld non-good) and 3/5 (both good)."""
    put_partial_days(ledger, PARTIAL_DAYS)
    rows = good_day_rows(ledger, settings, date(2026, 1, 5))
    for variant in ("official", "hj633-2012", "hj633-2026"):
        r = rows[variant]
        assert (r.valid_days, r.good_days, r.withheld_days) == (3, 1, 2), variant
        assert (r.ratio_low, r.ratio_high) == pytest.approx((1 / 5, 3 / 5)), variant
    assert "2 day(s) withheld by the valid-day rule" in rows["official"].explanation_en
    assert "20.0% if all were non-good, 60.0% if all were good" in rows["official"].explanation_en
    assert "另有2天按有效日规则未计入" in rows["official"].explanation_zh
    assert rows["official"].details["stations"] == {"min": 2, "max": 2}


def test_rate_what_is_present_counts_each_rule_set_as_published(
    ledger: Ledger, config: Path
) -> None:
    """``[evaluation] valid_day_rule = "rate_what_is_present"``: 2012 rates any valid
    statistic (all five days valid, 3 good: the PM2.5-only and O3-only days count as good);
    2026 follows §5.3 (the two incomplete days at AQI <= 100 have no AQI: withheld)."""
    config.write_text(
        CONFIG + '\n[evaluation]\nvalid_day_rule = "rate_what_is_present"\n', encoding="utf-8"
    )
    settings = load_settings(config, {})
    put_partial_days(ledger, PARTIAL_DAYS)
    rows = good_day_rows(ledger, settings, date(2026, 1, 5))
    r12, r26 = rows["hj633-2012"], rows["hj633-2026"]
    assert (r12.valid_days, r12.good_days, r12.withheld_days) == (5, 3, 0)
    assert (r26.valid_days, r26.good_days, r26.withheld_days) == (3, 1, 2)


def test_progress_json_table_and_series_state_the_withheld_days(
    ledger: Ledger, settings: Settings, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`progress --json`, the table and the stored target-progress series (published as
    target_progress fields) say how many days were withheld and the ratio's range."""
    from monitor.influxdb.points import target_progress_points
    from monitor.service.progress_targets import refresh_progress

    put_partial_days(ledger, PARTIAL_DAYS)
    args = ["--config", str(config), "progress", "--as-of", "2026-01-05", "--target", "good_days"]
    assert main([*args, "--json"]) == 0
    data = {r["variant"]: r for r in json.loads(capsys.readouterr().out)}
    assert data["official"]["withheld_days"] == 2
    assert data["official"]["ratio_low"] == pytest.approx(0.2)
    assert data["official"]["ratio_high"] == pytest.approx(0.6)
    assert main(args) == 0
    assert "withheld 2 day(s): ratio 20.0%–60.0%" in capsys.readouterr().out
    refresh_progress(ledger, settings, ("2026-01-05",), date(2026, 1, 6))
    stored = ledger.query(
        "SELECT * FROM target_progress WHERE target = 'good_days' AND as_of = '2026-01-05' "
        "AND variant = 'official'"
    )
    assert stored[["withheld_days", "ratio_low", "ratio_high"]].values.tolist() == [
        [2, pytest.approx(0.2), pytest.approx(0.6)]
    ]
    points = target_progress_points(stored)
    assert points[["withheld_days", "ratio_low", "ratio_high"]].values.tolist() == [
        [2.0, pytest.approx(0.2), pytest.approx(0.6)]
    ]


def test_a_bad_file_after_good_ones_leaves_their_progress_refreshed_and_says_so(
    tmp_path: Path, config: Path, ledger: Ledger, capsys: pytest.CaptureFixture[str]
) -> None:
    """``envmon import a.csv b.csv`` with b unusable: a's days are stored, so the targets'
    progress is refreshed for them before the error, which says a was imported (as
    observation imports evaluate what came before a bad file). Before, a's official days
    were stored with no progress computed and the message did not say so."""
    good = tmp_path / "a.csv"
    good.write_text("area,date,aqi\nhunnan,2026-03-01,80\nhunnan,2026-03-02,120\n", "utf-8")
    bad = tmp_path / "b.csv"
    bad.write_text("area,day,aqi\nhunnan,2026-03-03,80\n", encoding="utf-8")
    argv = ["--config", str(config), "import", "--format", "daily-aqi-csv"]
    assert main([*argv, str(good), str(bad)]) == 2
    err = capsys.readouterr().err
    assert "missing column(s) date" in err
    assert "(1 file(s) before it were imported and the targets' progress refreshed" in err
    stored = ledger.query(
        "SELECT as_of, good_days FROM target_progress WHERE target = 'good_days' "
        "AND variant = 'official' AND as_of IN ('2026-03-01', '2026-03-02') ORDER BY as_of"
    )
    assert stored["good_days"].tolist() == [1, 1]  # AQI 80 good, 120 not (HJ 633: ≤ 100)


SERIES_CONFIG = (
    CONFIG
    + """
[[targets]]
kind = "annual_mean"
id = "pm"
name = "PM2.5 ≤ 35"
area = "hunnan"
year = 2026
pollutant = "pm2_5"
limit = 35

[[targets]]
kind = "good_day_ratio"
id = "good_days_2028"
name = "优良天数比例 ≥ 60 %"
area = "hunnan"
year = 2028
goal = 0.60
rules = "hj633-2012"

[[targets]]
kind = "heavy_pollution_days"
id = "heavy_2028"
name = "重污染天数 ≤ 40"
area = "hunnan"
year = 2028
max = 40
"""
)


def put_varied_days(ledger: Ledger, first: date, last: date, missing: set[date]) -> None:
    """Area daily rows of both rule sets, AQI 20–259 (good, non-good and heavy days), from
    2026 some with an invalid statistic (SO2: withheld unless AQI > 100; PM2.5: not in the
    annual mean), a varying number of stations; none on the ``missing`` days."""
    rng = np.random.default_rng(17)
    rows = []
    day = first
    while day <= last:
        aqi = float(rng.integers(20, 260))
        invalid = str(rng.choice(["", "", "", "", "", "", "so2", "pm2_5"]))
        invalid = invalid if day.year >= 2026 else ""
        stations = [None, 1, 2, 3][int(rng.integers(0, 4))]
        for standard, value in (("hj633-2012", aqi), ("hj633-2026", aqi + 12)):
            if day in missing:
                continue
            statistics = {"so2": 8.0, "no2": 30.0, "co": 0.7, "pm10": 70.0}
            statistics |= {"pm2_5": float(rng.integers(10, 90)), "o3_1h_max": 80.0}
            rows.append(
                area_daily_row(
                    day,
                    standard,
                    value,
                    **statistics,
                    o3_8h_max=70.0,
                    invalid_statistics=invalid,
                    stations=stations,
                )
            )
        day += timedelta(days=1)
    ledger.replace_derived("daily_aqi", pd.DataFrame(rows), ("site", "date", "standard"))


def test_a_refreshed_series_is_each_day_alone_for_every_target_kind(tmp_path: Path) -> None:
    """``refresh_progress`` counts the area's days once (cumulative sums: each as-of date a
    difference) and reads indicator values, daily statistics and river readings once; every
    stored row, and every field of every row of the series, must be what
    ``compute_progress`` gives for that as-of date alone. Spans over the edges: 1 January
    (the day after without data), 28/29 February and 1 March of the leap year 2028 (the
    history years 2025–2027 have no 29 February), the last days of 2026 (final statuses);
    imported official days (one without a valid AQI, dust-affected non-good days for the
    dust-excluded variants) override computed ones; withheld days; 31 December 2028 (day
    366). History years: 2024 has too few valid days (none from April); 2025 has none from
    3 July, so on 1 January 2026 the rest of 2025 (2 January … 31 December, 364 days) has
    exactly half valid (182: it counts) and 2027 none from 1 July."""
    from monitor.service.progress_targets import progress_series, refresh_progress

    config = tmp_path / "envmon.toml"
    config.write_text(SERIES_CONFIG, encoding="utf-8")
    settings = load_settings(config, {})
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        gaps = {date(2026, 1, 2), date(2026, 12, 30), date(2028, 2, 28)}
        gaps |= {date(2024, 4, 1) + timedelta(days=i) for i in range(275)}
        gaps |= {date(2025, 7, 3) + timedelta(days=i) for i in range(182)}
        gaps |= {date(2027, 7, 1) + timedelta(days=i) for i in range(184)}
        put_varied_days(ledger, date(2023, 1, 1), date(2028, 12, 31), gaps)
        official = [
            ("2026-01-01", 150.0, 1),
            ("2026-01-03", None, 0),
            ("2026-01-04", 80.0, 0),
            ("2026-12-29", 230.0, 1),
            ("2028-02-27", 120.0, 1),
            ("2028-02-29", 60.0, 0),
            ("2025-05-01", 180.0, 1),
        ]
        ledger.connection.executemany(
            "INSERT INTO official_daily_aqi (area, date, aqi, dust, imported_at) "
            "VALUES ('hunnan', ?, ?, ?, 1)",
            official,
        )
        for target, item, day, value in (
            ("green", "", "2026-01-03", "4"),
            ("green", "", "2026-01-04", "many"),  # (unusable: not counted)
            ("green", "", "2026-12-29", "9"),
            ("rivers", "张官河", "2026-04-30", "started"),
            ("rivers", "张官河", "2026-12-29", "completed"),
        ):
            ledger.add_indicator_value(target, day, value, item=item)
        _nh3n(ledger, [("2026-01-01 00:00", 1.2), ("2026-05-01 08:00", 0.4)])
        spans = (
            ("2026-01-01", date(2026, 1, 6)),
            ("2026-04-28", date(2026, 5, 3)),
            ("2026-12-28", date(2027, 1, 3)),
            ("2028-02-26", date(2028, 3, 3)),
            ("2028-12-29", date(2029, 1, 1)),
        )
        statuses: dict[tuple[str, str, str], str] = {}
        for changed, today in spans:
            refresh_progress(ledger, settings, (changed,), today)
            days = [date.fromisoformat(changed) + timedelta(days=i) for i in range(8)]
            days = [d for d in days if d < today]
            # every field of the series' rows
            series = progress_series(ledger, settings, days)
            each = [row for d in days for row in compute_progress(ledger, settings, as_of=d)]
            assert series == each
            # the stored rows
            stored = ledger.query(
                "SELECT * FROM target_progress WHERE as_of >= ? AND as_of < ? "
                "ORDER BY as_of, target, variant",
                (changed, today.isoformat()),
            )
            alone = sorted(
                (r for d in days for r in compute_progress(ledger, settings, as_of=d)),
                key=lambda r: (r.as_of, r.id, r.variant),
            )
            assert len(stored) == len(alone)
            for kept, row in zip(stored.to_dict("records"), alone, strict=True):
                statuses[(row.id, row.variant, row.as_of)] = row.status
                expected = dataclasses.asdict(row) | {"target": row.id}
                for column, value in kept.items():
                    if column == "details":
                        assert json.loads(value) == json.loads(
                            json.dumps(row.details, default=str)
                        ), (row.id, row.as_of)
                    elif column != "computed_at":
                        want = expected[str(column)]
                        got = None if isinstance(value, float) and np.isnan(value) else value
                        assert got == want, (row.id, row.variant, row.as_of, column)
    # the spans reach the cases they are for
    assert statuses[("good_days", "official+dust_excluded", "2026-01-01")] == "not_assessable"
    assert statuses[("good_days_2028", "official+dust_excluded", "2028-02-29")]
    year_end = {
        t: statuses[(t, "official", "2026-12-31")] for t in ("good_days", "heavy", "green")
    }
    assert set(year_end.values()) <= {"achieved", "failed"}
    assert statuses[("classes", "official", "2026-12-31")] in ("achieved", "failed")
    # one day in 8 has an invalid PM2.5 mean: fewer than the 324 valid days a valid annual
    # mean needs (GB 3095-2026 Table 4, standards.md §2.1)
    assert statuses[("pm", "official", "2026-12-31")] == "not_assessable"


def test_a_series_over_a_date_stored_twice_is_each_day_alone(
    ledger: Ledger, settings: Settings
) -> None:
    """Both rule sets' rows of 3 January marked in force (an inconsistent ledger): the
    area's days hold that date twice, so the series cannot index its counts by date and
    counts as each day alone does (one day counted twice, as ``compute_progress`` does)."""
    from monitor.service.progress_targets import progress_series

    put_days(ledger, date(2026, 1, 1), [90.0, 120.0, 250.0, 80.0], [90.0, 130.0, 60.0, 80.0])
    ledger.connection.execute("UPDATE daily_aqi SET official = 1 WHERE date = '2026-01-03'")
    days = [date(2026, 1, 1) + timedelta(days=i) for i in range(5)]
    series = progress_series(ledger, settings, days)
    alone = [row for d in days for row in compute_progress(ledger, settings, as_of=d)]
    assert series == alone
    last = {r.variant: r for r in alone if r.id == "good_days" and r.as_of == "2026-01-05"}
    assert last["official"].valid_days == 5  # (4 days, 3 January twice)


def test_a_series_rates_sets_of_readings_with_other_items_as_each_day_alone(
    ledger: Ledger, settings: Settings
) -> None:
    """A series rates the sets of readings it rests on together, stacked by the items they
    measure: a later reading that adds CODMn (6.5 mg/L: class IV, GB 3838-2002 Table 1:
    III ≤ 6, IV ≤ 10) must not change what the earlier as-of dates say, and each day must
    be what ``compute_progress`` gives for it alone."""
    from monitor.collectors.base import observations
    from monitor.service.progress_targets import progress_series

    _nh3n(ledger, [("2026-04-01 08:00", 0.4)])  # (class II with DO 6.0)
    moment = pd.Timestamp("2026-04-05 08:00", tz="Asia/Shanghai")
    ledger.write_observations(
        observations("sec_a", ["codmn", "do"], moment, moment, [6.5, 6.0]), "water"
    )
    _nh3n(ledger, [("2026-04-08 08:00", 0.3)])
    days = [date(2026, 3, 31) + timedelta(days=i) for i in range(10)]
    series = [r for r in progress_series(ledger, settings, days) if r.id == "classes"]
    alone = [r for d in days for r in compute_progress(ledger, settings, as_of=d)]
    assert series == [r for r in alone if r.id == "classes"]
    classes = [r.details["sections"]["sec_a"]["class"] for r in series]
    assert classes[0] is None and classes[1] == "II" and classes[5] == "IV"


def _every_four_hours(ledger: Ledger, first: str, days: int) -> None:
    """sec_a read every 4 hours (an automatic station: NH3-N 0.2–1.4 mg/L, DO 6.0), from
    ``first`` (local) for ``days`` days: six sets of readings a day."""
    from monitor.collectors.base import observations

    ends = pd.date_range(first, periods=6 * days, freq="4h", tz="Asia/Shanghai")
    nh3n = 0.2 + (np.arange(len(ends)) % 7) * 0.2
    frames = [
        observations("sec_a", "nh3n", ends - pd.Timedelta(hours=4), ends, nh3n),
        observations("sec_a", "do", ends - pd.Timedelta(hours=4), ends, np.full(len(ends), 6.0)),
    ]
    ledger.write_observations(pd.concat(frames, ignore_index=True), "water")


def test_a_series_checks_the_years_readings_once_and_each_cut_near_it(
    ledger: Ledger, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An automatic station reads a section every 4 hours: a series of as-of dates rests on
    one set of readings a day, each holding every reading up to it. The series checks the
    year's readings once and, for each set, only the readings near its cut again (each set
    checked from scratch cost 0.26 CPU-s per as-of date over a year of 8 such sections);
    each day is still what ``compute_progress`` gives for it alone."""
    import monitor.service.progress_targets as progress_targets

    _every_four_hours(ledger, "2026-04-01 04:00", 5)
    from monitor.domain.quality import quality_flags as check

    checked: list[int] = []

    def counted(obs: pd.DataFrame) -> pd.Series:
        checked.append(len(obs))
        return check(obs)

    days = [date(2026, 3, 31) + timedelta(days=i) for i in range(6)]
    monkeypatch.setattr(progress_targets, "quality_flags", counted)
    series = progress_targets.progress_series(ledger, settings, days)
    monkeypatch.undo()
    alone = [r for d in days for r in compute_progress(ledger, settings, as_of=d)]
    assert [r for r in series if r.id == "classes"] == [r for r in alone if r.id == "classes"]
    # the year's 60 readings (30 times × NH3-N and DO) once, and no set again: the checks
    # that look at neighbours chain only hourly periods, so no reading's flags change with
    # a cut between two 4-hourly ones (hourly readings: tests/service/test_progress_rivers.py)
    assert checked == [60]
    samples = [r.details["sections"]["sec_a"].get("samples") for r in series if r.id == "classes"]
    assert samples == [None, 5, 11, 17, 23, 29]  # (a reading at 00:00 is the day before's)


def test_a_series_rates_its_sets_of_readings_a_bounded_number_at_a_time(
    ledger: Ledger, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sets of readings a series rests on are stacked and rated together, at most
    ``_STACKED_SAMPLES`` samples per call (each set holds every reading up to it: a year of
    automatic-station readings would stack millions of samples); with a bound of one sample
    each set is rated alone, and the rows are still each day alone."""
    import monitor.service.progress_targets as progress_targets

    _every_four_hours(ledger, "2026-04-01 04:00", 4)
    stacked: list[int] = []
    rate = progress_targets._rate_periods

    def recorded(samples: Any, period: str) -> Any:
        stacked.append(samples.keys["prefix"].nunique())
        return rate(samples, period)

    monkeypatch.setattr(progress_targets, "_STACKED_SAMPLES", 1)
    monkeypatch.setattr(progress_targets, "_rate_periods", recorded)
    days = [date(2026, 4, 1) + timedelta(days=i) for i in range(4)]
    series = progress_targets.progress_series(ledger, settings, days)
    monkeypatch.undo()
    alone = [r for d in days for r in compute_progress(ledger, settings, as_of=d)]
    assert [r for r in series if r.id == "classes"] == [r for r in alone if r.id == "classes"]
    assert stacked == [1] * 8  # four sets, each rated alone over the year and its months
