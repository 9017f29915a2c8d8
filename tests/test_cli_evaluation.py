"""Evaluation on real-shaped inputs, through the commands (issue 13 §1).

The national water platform sends 水温, 电导率, 浊度, 叶绿素α and 藻密度 with every section;
GB 3838-2002 Table 1 classifies none of them, so a section's class rests on the Table 1 items
present and the others are ignored. One site-day that cannot be evaluated never stops the
rest; it is recorded, shown and retried.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.collectors.base import observations
from monitor.ledger import Ledger
from monitor.service.reporting import gather_daily
from monitor.settings import load_settings
from tests.conftest import HUNNAN_TWO_STATIONS, POISON_VALUE
from tests.test_cli_ledger import long_csv
from tests.water_platform import ENDPOINT, Platform


def _config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "envmon.toml"
    text = HUNNAN_TWO_STATIONS.replace(
        "[[areas]]", '[ledger]\npath = "ledger.sqlite"\n\n[[areas]]'
    ) + (
        f'\n[[sources]]\nname = "water"\ncollector = "cnemc_water"\nurl = "{url}"\n'
        "retries = 0\ntimeout_seconds = 5\n"
    )
    path.write_text(text, encoding="utf-8")
    return path


def test_collect_water_with_unclassified_items_stores_classes_and_air_still_evaluates(
    tmp_path: Path, platform: Platform, capsys: pytest.CaptureFixture[str]
) -> None:
    """`collect cnemc_water --once` on the project's fixture (water temperature,
    conductivity, turbidity, chlorophyll a, algal density beside the GB 3838 items) exits 0,
    stores classes, and a following air import evaluates."""
    platform.script_files("real_datas_liaoning.json")
    config = _config(tmp_path, platform.url + ENDPOINT)
    assert main(["--config", str(config), "collect", "water", "--once"]) == 0
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        measured = set(ledger.query("SELECT DISTINCT parameter FROM observations")["parameter"])
        classes = ledger.query("SELECT site, water_class FROM water_classes")
        dirty = ledger.dirty_days()
    # The fixture really carries items GB 3838-2002 Table 1 does not classify.
    assert {"water_temperature", "conductivity", "turbidity", "chlorophyll_a"} <= measured
    assert len(classes) > 0
    assert set(classes["water_class"]) <= {"I", "II", "III", "IV", "V", "劣V"}
    assert dirty.empty
    capsys.readouterr()
    code = main(
        ["--config", str(config), "import", "--format", "long-csv", str(long_csv(tmp_path))]
    )
    assert code == 0
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        daily = ledger.query("SELECT count(*) AS n FROM daily_aqi")["n"].iloc[0]
        assert ledger.dirty_days().empty
    assert daily > 0


def _pm25_only(tmp_path: Path, values: dict[str, float]) -> Path:
    """A long-csv import with PM2.5 alone at 1099A (the other five pollutants missing)."""
    path = tmp_path / "pm25_only.csv"
    rows = ["site,time,parameter,value,unit"]
    rows += [f"1099A,{time},pm2_5,{value},ug/m3" for time, value in values.items()]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_2026_hourly_aqi_follows_section_5_3_when_pollutants_are_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """HJ 633-2026 §5.3: "if one pollutant is missing or invalid, the AQI is computed from the
    remaining pollutants; if that AQI is > 100 it is published, otherwise only the
    single-pollutant concentrations and IAQIs are published and the AQI is marked NA".

    PM2.5 alone: 18 µg/m³ → IAQI 26 (Table 3: 0–35 ↔ 0–50, rounded up) but no AQI (not 优);
    115 µg/m³ → IAQI 150 (Table 3 breakpoint) and AQI 150 (> 100: published)."""
    config = _config(tmp_path, "http://127.0.0.1:9/unused")
    data = _pm25_only(tmp_path, {"2026-03-05 10:00": 18.0, "2026-03-05 11:00": 115.0})
    assert main(["--config", str(config), "import", "--format", "long-csv", str(data)]) == 0
    capsys.readouterr()
    args = ["--config", str(config), "export", "--what", "hourly-aqi", "--site", "1099A"]
    assert main([*args, "--from", "2026-03-05", "--to", "2026-03-05"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    by_time = {r["time"]: r for r in rows}
    low = by_time["2026-03-05T10:00:00+08:00"]
    high = by_time["2026-03-05T11:00:00+08:00"]
    assert (low["aqi"], low["category"], low["iaqi_pm2_5"]) == ("", "", "26")
    assert (high["aqi"], high["iaqi_pm2_5"], high["standard"]) == ("150", "150", "hj633-2026")
    assert high["category"] == "轻度污染"


def test_2026_daily_aqi_of_one_pollutant_is_na_when_not_over_100(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """§5.3 on the daily report: a 2026 day with a valid PM2.5 mean only (24 h alternating
    17 and 19 µg/m³: mean 18, IAQI 26) has no AQI — the daily report must not rate the
    station 优 on one pollutant."""
    hours = {f"2026-03-06 {h:02d}:00": 17.0 + 2 * (h % 2) for h in range(24)}
    config = _config(tmp_path, "http://127.0.0.1:9/unused")
    data = _pm25_only(tmp_path, hours)
    assert main(["--config", str(config), "import", "--format", "long-csv", str(data)]) == 0
    capsys.readouterr()
    args = ["--config", str(config), "export", "--what", "daily-aqi", "--site", "1099A"]
    assert main([*args, "--from", "2026-03-06", "--to", "2026-03-06"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["aqi"], r["category"], r["pm2_5"]) for r in rows] == [("", "", "18.0")]
    # ... and the daily report shows the station without AQI or level, not 优.
    settings = load_settings(config, {})
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        digest = gather_daily(ledger, settings, date(2026, 3, 6))
    station = next(s for s in digest.sites if s.site == "1099A")
    assert (station.aqi, station.level) == (None, 0)


def test_status_lists_days_that_cannot_be_evaluated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], poisoned_evaluation: str
) -> None:
    """`envmon status` shows what cannot be evaluated, why, since when and how often it was
    tried; the good days beside it are evaluated."""
    config = _config(tmp_path, "http://127.0.0.1:9/unused")
    end = datetime(2026, 3, 2, 0, tzinfo=UTC)
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        ledger.write_observations(observations("hun_bad", "nh3n", end, end, POISON_VALUE), "lab")
    assert (
        main(["--config", str(config), "import", "--format", "long-csv", str(long_csv(tmp_path))])
        == 0
    )
    capsys.readouterr()
    assert main(["--config", str(config), "status"]) == 0
    out = capsys.readouterr().out
    assert "evaluation: FAILING for 1 day(s), retried on every run:" in out
    assert "site hun_bad 2026-03-02: failing since " in out
    assert f"1 attempt(s): ValueError: {poisoned_evaluation}" in out
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        days = ledger.query("SELECT count(*) AS n FROM daily_aqi WHERE site = '1099A'")
    assert days["n"].iloc[0] == 8  # four days, two rule sets


GOOD_DAY_TARGET = """
[[targets]]
kind = "good_day_ratio"
id = "good_days"
name = "优良天数比例 ≥ 80 %"
area = "hunnan"
year = 2026
goal = 0.80
rules = "hj633-2012"
"""


def test_a_pm25_only_day_is_withheld_not_good_end_to_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 13 §2, through import, evaluation and `progress`: under the 2012 rules (in force
    on 2026-01-05) a day on which only PM2.5 has 24 hourly values at both stations (17/19
    µg/m³: IAQI 26) was counted "good". By default (``all_six_or_over_100``) it is withheld:
    no valid day, 1 withheld, ratio range 0 %–100 %. ``rate_what_is_present`` counts it
    good, as the 2012 platform practice does."""
    config = _config(tmp_path, "http://127.0.0.1:9/unused")
    config.write_text(config.read_text(encoding="utf-8") + GOOD_DAY_TARGET, encoding="utf-8")
    path = tmp_path / "pm25_both.csv"
    rows = ["site,time,parameter,value,unit"]
    rows += [
        f"{site},2026-01-05 {h:02d}:00,pm2_5,{17 + 2 * (h % 2)},ug/m3"
        for site in ("1099A", "2900A")
        for h in range(24)
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert main(["--config", str(config), "import", "--format", "long-csv", str(path)]) == 0
    capsys.readouterr()
    args = ["--config", str(config), "progress", "--as-of", "2026-01-05", "--json"]
    assert main(args) == 0
    official = {r["variant"]: r for r in json.loads(capsys.readouterr().out)}["official"]
    assert (official["valid_days"], official["good_days"]) == (0, 0)
    assert official["withheld_days"] == 1
    assert (official["ratio_low"], official["ratio_high"]) == (0.0, 1.0)
    assert official["details"]["stations"] == {"min": 2, "max": 2}

    config.write_text(
        config.read_text(encoding="utf-8")
        + '\n[evaluation]\nvalid_day_rule = "rate_what_is_present"\n',
        encoding="utf-8",
    )
    assert main(args) == 0
    official = {r["variant"]: r for r in json.loads(capsys.readouterr().out)}["official"]
    assert (official["valid_days"], official["good_days"], official["withheld_days"]) == (1, 1, 0)


def test_exported_area_rows_say_how_many_stations_they_rest_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 13 §2 "Area values": every area row says how many stations it rests on — in
    the exports too. PM2.5 at 1099A alone on 2026-03-05, at both evaluation stations on
    03-06: the district rows rest on 1 (Hunnan's default minimum: half of 2) and 2; a
    station's own rows leave the column empty."""
    path = tmp_path / "two_days.csv"
    rows = ["site,time,parameter,value,unit"]
    for h in range(24):
        rows.append(f"1099A,2026-03-05 {h:02d}:00,pm2_5,{17 + 2 * (h % 2)},ug/m3")
        for site in ("1099A", "2900A"):
            rows.append(f"{site},2026-03-06 {h:02d}:00,pm2_5,{17 + 2 * (h % 2)},ug/m3")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    config = _config(tmp_path, "http://127.0.0.1:9/unused")
    assert main(["--config", str(config), "import", "--format", "long-csv", str(path)]) == 0
    capsys.readouterr()
    span = ["--from", "2026-03-05", "--to", "2026-03-06"]
    for what in ("daily-aqi", "hourly-aqi"):
        args = ["--config", str(config), "export", "--what", what, *span]
        assert main([*args, "--site", "hunnan"]) == 0
        area = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
        days = {r.get("date") or r["time"][:10]: r["stations"] for r in area}
        assert days == {"2026-03-05": "1", "2026-03-06": "2"}, what
        assert main([*args, "--site", "1099A"]) == 0
        own = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
        assert own and {r["stations"] for r in own} == {""}, what
