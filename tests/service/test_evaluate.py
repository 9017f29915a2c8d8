"""Evaluation after ingest: derived hourly/daily AQI and water classes from the ledger."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from monitor.calculator.air import compute_aqi_csv
from monitor.calculator.water import compute_water_class_csv
from monitor.collectors.base import observations
from monitor.ledger import Ledger
from monitor.ledger.connection import WriteResult
from monitor.service.evaluate import evaluate_dirty
from monitor.settings import Settings, load_settings
from tests.conftest import HUNNAN_TWO_STATIONS, POISON_VALUE

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples" / "synthetic_hourly.csv"

CONFIG = (
    HUNNAN_TWO_STATIONS
    + """
[[water_sections]]
id = "hun_test"
name_zh = "测试断面"
river = "浑河"
water_body = "river"
"""
)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Two Hunnan stations averaged for the area, one river section."""
    path = tmp_path / "envmon.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return load_settings(path, {})


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    """A fresh ledger."""
    with Ledger.open(tmp_path / "ledger.sqlite") as opened:
        yield opened


def sample_observations() -> pd.DataFrame:
    """The synthetic example export in long form, labels as hour ends (Asia/Shanghai)."""
    wide = pd.read_csv(SAMPLE)
    long = wide.melt(id_vars=["site", "time"], var_name="parameter", value_name="value")
    long = long.dropna(subset=["value"])
    end = pd.to_datetime(long["time"]).dt.tz_localize("Asia/Shanghai")
    return observations(
        long["site"].to_numpy(),
        long["parameter"].to_numpy(),
        (end - pd.Timedelta(hours=1)).to_numpy(),
        end.to_numpy(),
        long["value"].to_numpy(dtype=float),
    )


def calculator(**kwargs: object) -> pd.DataFrame:
    """`calc aqi` as the ledger stores it: 2012 rows rate what is present, 2026 rows follow
    HJ 633-2026 §5.3 (AQI NA when a pollutant is missing and the rest give <= 100)."""
    present = compute_aqi_csv(SAMPLE, **kwargs).frame  # type: ignore[arg-type]
    withheld = compute_aqi_csv(SAMPLE, missing="hj633-2026", **kwargs).frame  # type: ignore[arg-type]
    return present.where(present["standard"] != "hj633-2026", withheld)


def _text(values: pd.Series) -> list[str]:
    return values.map(lambda v: "" if pd.isna(v) else f"{v:g}").tolist()


def test_daily_aqi_in_the_ledger_equals_the_calculator(ledger: Ledger, settings: Settings) -> None:
    """The daemon's official daily AQI per site equals `envmon calc aqi --scale day`."""
    ledger.write_observations(sample_observations(), "sample")
    report = evaluate_dirty(ledger, settings)
    assert report.site_days > 0
    stored = ledger.query(
        "SELECT site, date, aqi, primary_pollutants, standard FROM daily_aqi "
        "WHERE official = 1 AND is_area = 0 ORDER BY site, date"
    )
    expected = calculator(scale="day")
    assert len(stored) == len(expected) == 8
    assert _text(stored["aqi"]) == expected["aqi"].tolist()
    assert stored["standard"].tolist() == expected["standard"].tolist()
    assert stored["primary_pollutants"].tolist() == expected["primary_pollutants"].tolist()
    assert ledger.dirty_days().empty


def test_area_rows_match_the_calculator_areas(
    ledger: Ledger, settings: Settings, tmp_path: Path
) -> None:
    """Area daily AQI in the ledger equals the calculator's --areas rows."""
    ledger.write_observations(sample_observations(), "sample")
    evaluate_dirty(ledger, settings)
    stored = ledger.query(
        "SELECT date, aqi FROM daily_aqi WHERE official = 1 AND is_area = 1 AND site = 'hunnan' "
        "ORDER BY date"
    )
    expected = calculator(scale="day", areas={"hunnan": ["1099A", "2900A"]})
    area = expected[expected["site"] == "hunnan"]
    assert _text(stored["aqi"]) == area["aqi"].tolist()


def test_both_rule_sets_are_stored_for_every_day(ledger: Ledger, settings: Settings) -> None:
    """Each site-day has a 2012 and a 2026 row; exactly one is official (by date)."""
    ledger.write_observations(sample_observations(), "sample")
    evaluate_dirty(ledger, settings)
    rows = ledger.query(
        "SELECT date, standard, official FROM daily_aqi WHERE site = '1099A' "
        "ORDER BY date, standard"
    )
    assert len(rows) == 8
    official = rows[rows["official"] == 1]
    assert official[["date", "standard"]].values.tolist() == [
        ["2026-02-27", "hj633-2012"],
        ["2026-02-28", "hj633-2012"],
        ["2026-03-01", "hj633-2026"],
        ["2026-03-02", "hj633-2026"],
    ]


def test_hourly_rows_cover_each_label(ledger: Ledger, settings: Settings) -> None:
    """One hourly AQI per site, label and standard; labels are hour ends."""
    ledger.write_observations(sample_observations(), "sample")
    evaluate_dirty(ledger, settings)
    counts = ledger.query(
        "SELECT site, standard, count(*) AS n FROM hourly_aqi WHERE is_area = 0 "
        "GROUP BY site, standard"
    )
    assert set(counts["n"]) == {96}  # 4 days × 24 labels
    expected = compute_aqi_csv(SAMPLE, scale="hour").frame
    first = ledger.query(
        "SELECT aqi FROM hourly_aqi WHERE site = '1099A' AND official = 1 "
        "ORDER BY period_end LIMIT 1"
    )
    assert f"{first['aqi'].iloc[0]:g}" == expected["aqi"].iloc[0]


def test_a_revision_reevaluates_only_its_day(ledger: Ledger, settings: Settings) -> None:
    """A corrected hour dirties its day only; after evaluation the daily AQI reflects it."""
    obs = sample_observations()
    ledger.write_observations(obs, "sample")
    evaluate_dirty(ledger, settings)
    target = (
        (obs["site"] == "1099A")
        & (obs["parameter"] == "pm2_5")
        & (
            obs["period_end"].dt.tz_convert("Asia/Shanghai").dt.strftime("%Y-%m-%d %H")
            == "2026-03-02 13"
        )
    )
    corrected = obs[target].assign(value=obs[target]["value"] + 24.0)  # a plausible correction
    ledger.write_observations(corrected, "sample")
    assert ledger.dirty_days().values.tolist() == [["1099A", "2026-03-02"]]
    report = evaluate_dirty(ledger, settings)
    assert report.site_days == 1
    day = ledger.query(
        "SELECT pm2_5 FROM daily_aqi WHERE site = '1099A' AND date = '2026-03-02' AND official = 1"
    )
    pm = obs[(obs["site"] == "1099A") & (obs["parameter"] == "pm2_5")]
    on_day = (
        pm["period_end"].dt.tz_convert("Asia/Shanghai").dt.strftime("%Y-%m-%d") == "2026-03-02"
    )
    day_values = pm[on_day]["value"].to_numpy()
    # 24 more µg/m³ in one of 24 hours raises the daily mean by exactly 1.
    assert day["pm2_5"].iloc[0] == pytest.approx(round(day_values.mean() + 1.0))


def test_flagged_values_are_left_out_and_recorded(ledger: Ledger, settings: Settings) -> None:
    """A negative value is flagged in qc_flags and not used in the daily mean."""
    obs = sample_observations()
    target = (obs["site"] == "2900A") & (obs["parameter"] == "no2")
    first = obs[target].index[0]
    obs.loc[first, "value"] = -50.0
    ledger.write_observations(obs, "sample")
    evaluate_dirty(ledger, settings)
    flags = ledger.query(
        "SELECT site, parameter, flags FROM qc_flags WHERE flags LIKE '%negative%'"
    )
    assert flags[["site", "parameter"]].values.tolist() == [["2900A", "no2"]]
    day = ledger.query(
        "SELECT no2 FROM daily_aqi WHERE site = '2900A' AND date = '2026-02-27' AND official = 1"
    )
    assert day["no2"].iloc[0] > 0


def test_water_readings_get_a_class(ledger: Ledger, settings: Settings) -> None:
    """A section reading of the automatic-station items gets its GB 3838 class."""
    end = pd.Timestamp("2026-05-01 08:00", tz="Asia/Shanghai")
    values = {"ph": 7.6, "do": 5.2, "codmn": 6.5, "nh3n": 1.2, "tp": 0.25}
    obs = observations("hun_test", list(values), end, end, list(values.values()))
    ledger.write_observations(obs, "water")
    report = evaluate_dirty(ledger, settings)
    assert report.water_rows == 1
    row = ledger.query("SELECT water_class, parameter_set, limiting_parameters FROM water_classes")
    # GB 3838-2002 Table 1: CODMn 6.5 (> 6), NH3-N 1.2 (> 1.0) and TP 0.25 (river, > 0.2)
    # are Class IV; DO 5.2 is Class III; pH inside 6–9 does not limit.
    assert row.values.tolist() == [["IV", "automatic", "codmn;nh3n;tp"]]


def test_results_do_not_depend_on_arrival_order(tmp_path: Path, settings: Settings) -> None:
    """A PM2.5 flatline across midnight: day by day and all at once give the same ledger."""
    end = pd.date_range("2026-03-01 00:00", "2026-03-02 23:00", freq="h", tz="Asia/Shanghai")
    # 30 + hour, except a flat 80 from 03-01 20:00 to 03-02 04:00 (9 equal hours).
    flat = ((end.day == 1) & (end.hour >= 20)) | ((end.day == 2) & (end.hour < 5))
    values = np.where(flat, 80.0, 30.0 + end.hour)
    obs = observations("1099A", "pm2_5", end - pd.Timedelta(hours=1), end, values)
    day1 = obs[obs["period_end"] <= pd.Timestamp("2026-03-01 23:00", tz="Asia/Shanghai")]
    day2 = obs[obs["period_end"] > pd.Timestamp("2026-03-01 23:00", tz="Asia/Shanghai")]

    def run(batches: list[pd.DataFrame], name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
        with Ledger.open(tmp_path / name) as ledger:
            for batch in batches:
                ledger.write_observations(batch, "s")
                evaluate_dirty(ledger, settings)
            daily = ledger.query(
                "SELECT site, date, standard, pm2_5, aqi FROM daily_aqi ORDER BY 1, 2, 3"
            )
            flags = ledger.query("SELECT * FROM qc_flags ORDER BY 1, 2, 3")
        return daily, flags.drop(columns="computed_at")

    together = run([obs], "together.sqlite")
    in_order = run([day1, day2], "in_order.sqlite")
    assert len(together[1]) == 9, "the 9-hour flatline crossing midnight is flagged stuck"
    pd.testing.assert_frame_equal(in_order[0], together[0])
    pd.testing.assert_frame_equal(in_order[1], together[1])


def _hours(site: str, parameter: str, first_label: str, values: list[float]) -> pd.DataFrame:
    """Hourly observations labelled from ``first_label`` (hour ends, Asia/Shanghai)."""
    end = pd.date_range(first_label, periods=len(values), freq="h", tz="Asia/Shanghai")
    return observations(site, parameter, end - pd.Timedelta(hours=1), end, values)


def test_so2_above_800_is_rated_on_its_24_hour_mean(ledger: Ledger, settings: Settings) -> None:
    """HJ 633-2012 Table 1 note: SO2 1 h > 800 µg/m³ has no 1-hour IAQI; the SO2 IAQI is
    the one of the 24-hour moving mean. 1 h 900 with a 24 h mean of 175 (labels
    2026-02-09 11:00 … 02-10 10:00) gives IAQI ⌈100 + 50·25/325⌉ = 104, not an empty SO2
    IAQI and an AQI of 40 from NO2 (1 h 80 → 40)."""
    so2 = _hours("1099A", "so2", "2026-02-09 11:00", [150.0] * 21 + [75.0] * 2 + [900.0])
    no2 = _hours("1099A", "no2", "2026-02-10 10:00", [80.0])
    ledger.write_observations(pd.concat([so2, no2], ignore_index=True), "sample")
    evaluate_dirty(ledger, settings)
    at = int(pd.Timestamp("2026-02-10 10:00", tz="Asia/Shanghai").timestamp())
    rows = ledger.query(
        "SELECT standard, iaqi_so2, iaqi_no2, aqi, primary_pollutants FROM hourly_aqi "
        "WHERE site = '1099A' AND period_end = ? ORDER BY standard",
        (at,),
    )
    assert rows.values.tolist() == [
        ["hj633-2012", 104.0, 40.0, 104.0, "so2"],
        # HJ 633-2026 Table 3 note: SO2 1 h > 800 rates 200.
        ["hj633-2026", 200.0, 40.0, 200.0, "so2"],
    ]


def test_a_revised_so2_hour_re_rates_the_next_days_hours(
    ledger: Ledger, settings: Settings
) -> None:
    """The SO2 24-hour moving mean that rates an SO2 hour above 800 µg/m³ (HJ 633-2012
    Table 1 note) reaches 23 hours back, so a revision of 2026-02-09 12:00 must re-rate
    02-10 10:00: 150 → 1350 raises the 24 h mean from 175 to 225 µg/m³, IAQI
    ⌈100 + 50·75/325⌉ = 112 instead of 104."""
    so2 = _hours("1099A", "so2", "2026-02-09 11:00", [150.0] * 21 + [75.0] * 2 + [900.0])
    no2 = _hours("1099A", "no2", "2026-02-10 10:00", [80.0])
    ledger.write_observations(pd.concat([so2, no2], ignore_index=True), "sample")
    evaluate_dirty(ledger, settings)
    ledger.write_observations(_hours("1099A", "so2", "2026-02-09 12:00", [1350.0]), "sample")
    evaluate_dirty(ledger, settings)
    at = int(pd.Timestamp("2026-02-10 10:00", tz="Asia/Shanghai").timestamp())
    rows = ledger.query(
        "SELECT iaqi_so2, aqi FROM hourly_aqi WHERE site = '1099A' AND period_end = ? "
        "AND standard = 'hj633-2012'",
        (at,),
    )
    assert rows.values.tolist() == [[112.0, 112.0]]


def test_the_next_dates_00_00_o3_closes_the_days_last_8_hour_window(
    ledger: Ledger, settings: Settings
) -> None:
    """HJ 663-2013 MDA8 windows end 08:00 … 24:00 (platform: label 00:00 closes the previous
    day's last window). O3 50 µg/m³ at labels 00:00 … 23:00 of 2026-03-01: MDA8 50; when
    03-02 00:00 arrives later with 450, the window 17:00 … 24:00 is (7·50 + 450)/8 = 100
    and the ledger re-rates 03-01 to MDA8 100."""
    ledger.write_observations(_hours("1099A", "o3", "2026-03-01 00:00", [50.0] * 24), "s")
    evaluate_dirty(ledger, settings)
    query = "SELECT o3_8h_max FROM daily_aqi WHERE site = '1099A' AND date = '2026-03-01'"
    assert set(ledger.query(query)["o3_8h_max"]) == {50.0}
    ledger.write_observations(_hours("1099A", "o3", "2026-03-02 00:00", [450.0]), "s")
    evaluate_dirty(ledger, settings)
    assert set(ledger.query(query)["o3_8h_max"]) == {100.0}


def test_2012_daily_aqi_rates_the_unrounded_mean(ledger: Ledger, settings: Settings) -> None:
    """Published Shenyang days (standards.md §2.9): HJ 633-2012 rates the unrounded daily
    mean, so PM2.5 75.3 gives ⌈100 + 50·0.3/40⌉ = 101 (not 100 from the displayed 75);
    HJ 633-2026 rounds first (GB/T 8170): 75 → 114. The stored mean stays 75."""
    values = [74.0, 76.0] * 11 + [74.0, 83.2]  # mean 1807.2 / 24 = 75.3, no flatline
    ledger.write_observations(_hours("1099A", "pm2_5", "2026-02-10 00:00", values), "sample")
    evaluate_dirty(ledger, settings)
    rows = ledger.query(
        "SELECT standard, pm2_5, aqi FROM daily_aqi WHERE site = '1099A' "
        "AND date = '2026-02-10' ORDER BY standard"
    )
    assert rows.values.tolist() == [
        ["hj633-2012", 75.0, 101.0],
        ["hj633-2026", 75.0, 114.0],
    ]


def _suspicious_day() -> tuple[pd.DataFrame, list[float]]:
    """PM2.5 of 2026-03-05: 40/44 alternating, a 6-hour flatline of 90 (08:00 … 13:00,
    ``stuck``) and an isolated 300 at 20:00 (``spike``)."""
    values = [40.0 + 4.0 * (h % 2) for h in range(24)]
    values[8:14] = [90.0] * 6
    values[20] = 300.0
    return _hours("1099A", "pm2_5", "2026-03-05 00:00", values), values


def test_own_quality_flags_are_advisory_by_default(ledger: Ledger, settings: Settings) -> None:
    """GB 3095-2026 §6.4: all valid data must be used. envmon's stuck and spike flags are
    stored, but the flagged values still enter the daily mean of all 24 hours."""
    obs, values = _suspicious_day()
    ledger.write_observations(obs, "sample")
    evaluate_dirty(ledger, settings)
    flags = ledger.query("SELECT flags FROM qc_flags WHERE site = '1099A' ORDER BY period_end")
    assert flags["flags"].tolist() == ["stuck"] * 6 + ["spike"]
    day = ledger.query(
        "SELECT pm2_5, invalid_statistics FROM daily_aqi WHERE site = '1099A' "
        "AND date = '2026-03-05' AND official = 1"
    )
    assert day["pm2_5"].iloc[0] == round(sum(values) / 24)  # 1488 / 24 = 62
    assert "pm2_5" not in day["invalid_statistics"].iloc[0]


def test_own_quality_flags_exclude_when_the_setting_says_so(
    ledger: Ledger, tmp_path: Path
) -> None:
    """With ``[quality] exclude_own_flags = ["stuck", "spike"]`` the 7 flagged hours are
    left out: the mean is of the 17 others, and 17 < 20 hours make it invalid."""
    path = tmp_path / "strict.toml"
    path.write_text(CONFIG + '\n[quality]\nexclude_own_flags = ["stuck", "spike"]\n', "utf-8")
    strict = load_settings(path, {})
    obs, values = _suspicious_day()
    ledger.write_observations(obs, "sample")
    evaluate_dirty(ledger, strict)
    day = ledger.query(
        "SELECT pm2_5, invalid_statistics FROM daily_aqi WHERE site = '1099A' "
        "AND date = '2026-03-05' AND official = 1"
    )
    kept = [v for h, v in enumerate(values) if not (8 <= h < 14 or h == 20)]
    assert day["pm2_5"].iloc[0] == round(sum(kept) / len(kept))  # 714 / 17 = 42
    assert "pm2_5" in day["invalid_statistics"].iloc[0].split(";")


def test_below_detection_is_rated_alike_in_the_ledger_and_the_calculator(
    ledger: Ledger, settings: Settings, tmp_path: Path
) -> None:
    """环办监测函〔2020〕82号 point 7: a result below the detection limit takes part at half
    the limit. Hg "<0.0001" (stored as 0.0001, flagged below_detection_limit) is rated
    0.00005 → class I (GB 3838-2002 Table 1: I/II 0.00005, III 0.0001), not III at the
    limit; `envmon calc water-class` gives the same class for the same sample."""
    end = pd.Timestamp("2026-05-01 08:00", tz="Asia/Shanghai")
    values = {"ph": 7.6, "do": 7.8, "hg": 0.0001}
    obs = observations("hun_test", list(values), end, end, list(values.values()))
    obs["flags"] = np.where(obs["parameter"] == "hg", "below_detection_limit", "")
    ledger.write_observations(obs, "lab")
    evaluate_dirty(ledger, settings)
    stored = ledger.query("SELECT water_class FROM water_classes")["water_class"].tolist()
    sample = tmp_path / "sample.csv"
    sample.write_text("site,time,ph,do,hg\nhun_test,2026-05-01T08:00,7.6,7.8,<0.0001\n", "utf-8")
    calculated = compute_water_class_csv(sample).frame["water_class"].tolist()
    assert stored == calculated == ["I"]


def test_a_poison_site_day_is_recorded_and_never_blocks_the_others(
    ledger: Ledger, settings: Settings, poisoned_evaluation: str
) -> None:
    """Issue 13 §1: "a site-day that cannot be evaluated is recorded (what, why, since
    when), retried on the next run, and never prevents the other site-days and areas from
    being evaluated". The poison: a section reading the ``poisoned_evaluation`` fixture makes
    the water evaluation raise on (an unforeseen defect), beside two stations' four days of
    air, the area, and a good section reading the same hour."""
    ledger.write_observations(sample_observations(), "sample")
    end = pd.Timestamp("2026-03-01 08:00", tz="Asia/Shanghai")
    good = {"ph": 7.6, "do": 5.2, "codmn": 6.5, "nh3n": 1.2, "tp": 0.25}
    ledger.write_observations(
        observations("hun_test", list(good), end, end, list(good.values())), "w"
    )
    poison = observations("hun_bad", ["do", "nh3n"], end, end, [5.2, POISON_VALUE])
    ledger.write_observations(poison, "w")

    report = evaluate_dirty(ledger, settings)

    daily = ledger.query("SELECT DISTINCT site, date FROM daily_aqi WHERE official = 1")
    assert len(daily[daily["site"] == "1099A"]) == 4
    assert len(daily[daily["site"] == "2900A"]) == 4
    assert len(daily[daily["site"] == "hunnan"]) == 4  # the area
    classes = ledger.query("SELECT site, water_class FROM water_classes")
    assert classes.values.tolist() == [["hun_test", "IV"]]
    failures = ledger.evaluation_failures()
    assert failures[["site", "date", "scope", "attempts"]].values.tolist() == [
        ["hun_bad", "2026-03-01", "site", 1]
    ]
    assert poisoned_evaluation in failures["error"].iloc[0]
    assert [(s, d) for s, d, _, _ in report.failed] == [("hun_bad", "2026-03-01")]
    assert ledger.dirty_days().values.tolist() == [["hun_bad", "2026-03-01"]]  # retried
    first = int(failures["first_failed"].iloc[0])

    evaluate_dirty(ledger, settings)  # the next run retries it: still failing, counted
    again = ledger.evaluation_failures()
    assert again[["attempts", "first_failed"]].values.tolist() == [[2, first]]

    fixed = observations("hun_bad", ["nh3n"], end, end, [0.4])
    ledger.write_observations(fixed, "w")  # the source corrects the value
    evaluate_dirty(ledger, settings)
    assert ledger.evaluation_failures().empty
    assert ledger.dirty_days().empty
    row = ledger.query("SELECT water_class FROM water_classes WHERE site = 'hun_bad'")
    # GB 3838-2002 Table 1: DO 5.2 mg/L is Class III (≥ 5), NH3-N 0.4 Class II (≤ 0.5).
    assert row["water_class"].tolist() == ["III"]


FOUR_STATIONS = """\
[district]
name = "Shenyang"
name_zh = "沈阳市"

[[areas]]
id = "city"
name = "City"
name_zh = "市"

[[areas]]
id = "strict"
name = "Strict"
name_zh = "严"
min_stations = 3
"""
for _code in ("1100A", "1101A", "1102A", "1103A"):
    FOUR_STATIONS += (
        f'\n[[air_stations]]\ncode = "{_code}"\nname_zh = "站"\nrole = "evaluation"\n'
        'areas = ["city", "strict"]\n'
    )


def _pm25_day(sites: list[str], day: str, value: float) -> pd.DataFrame:
    """24 hourly PM2.5 values (alternating value ± 1) at each site on a local day."""
    end = pd.date_range(f"{day} 00:00", periods=24, freq="h", tz="Asia/Shanghai")
    values = value + np.where(np.arange(24) % 2 == 0, -1.0, 1.0)
    frames = [
        observations(site, "pm2_5", end - pd.Timedelta(hours=1), end, values) for site in sites
    ]
    return pd.concat(frames, ignore_index=True)


def test_an_area_value_needs_half_of_its_stations_and_says_how_many(tmp_path: Path) -> None:
    """Issue 13 §2 "Area values": an area value needs at least half of the area's
    evaluation stations (default, rounded up) or ``[[areas]] min_stations``; below it the
    area value is NA; every area row states the stations it rests on. Four evaluation
    stations: 1 with data → NA (needs 2); 2 with data → the mean of the 2; the area with
    ``min_stations = 3`` → NA from 2."""
    path = tmp_path / "envmon.toml"
    path.write_text(FOUR_STATIONS, encoding="utf-8")
    settings = load_settings(path, {})
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        ledger.write_observations(_pm25_day(["1100A"], "2026-03-05", 40.0), "s")
        ledger.write_observations(_pm25_day(["1100A", "1101A"], "2026-03-06", 40.0), "s")
        ledger.write_observations(_pm25_day(["1102A"], "2026-03-06", 60.0), "s2")
        ledger.write_observations(_pm25_day(["1100A", "1103A"], "2026-03-07", 30.0), "s")
        evaluate_dirty(ledger, settings)
        daily = ledger.query(
            "SELECT site, date, pm2_5, stations FROM daily_aqi WHERE is_area = 1 "
            "AND official = 1 ORDER BY site, date"
        )
        hourly = ledger.query(
            "SELECT site, stations FROM hourly_aqi WHERE is_area = 0 AND official = 1 LIMIT 1"
        )
    rows = {(r["site"], r["date"]): (r["pm2_5"], r["stations"]) for _, r in daily.iterrows()}
    # 2026-03-05: 1 of 4 stations (< 2): NA, resting on 1.
    assert np.isnan(rows[("city", "2026-03-05")][0])
    assert rows[("city", "2026-03-05")][1] == 1
    # 2026-03-06: 3 of 4 (40, 40, 60): the mean 46.67 rounds to 47 (GB/T 8170), on 3.
    assert rows[("city", "2026-03-06")] == (47.0, 3)
    assert rows[("strict", "2026-03-06")] == (47.0, 3)
    assert np.isnan(rows[("strict", "2026-03-05")][0])
    # 2026-03-07: 2 of 4 — enough for the default (2), not for min_stations = 3.
    assert rows[("city", "2026-03-07")] == (30.0, 2)
    assert np.isnan(rows[("strict", "2026-03-07")][0])
    assert rows[("strict", "2026-03-07")][1] == 2
    assert hourly["stations"].isna().all()  # a site's own rows rest on itself: NULL


def test_a_failed_area_day_is_queued_and_cleared_when_it_evaluates(
    ledger: Ledger, settings: Settings
) -> None:
    """An area-day whose evaluation failed is queued under the area's id: the next run
    evaluates it (from its stations' observations) and forgets the failure."""
    ledger.write_observations(sample_observations(), "sample")
    evaluate_dirty(ledger, settings)
    ledger.connection.execute(
        "DELETE FROM daily_aqi WHERE site = 'hunnan' AND date = '2026-02-28'"
    )
    ledger.connection.commit()
    ledger.record_evaluation_results([("hunnan", "2026-02-28", "area", "earlier failure")], [])
    assert ledger.dirty_days().values.tolist() == [["hunnan", "2026-02-28"]]

    report = evaluate_dirty(ledger, settings)

    assert report.failed == ()
    assert ledger.evaluation_failures().empty
    assert ledger.dirty_days().empty
    rows = ledger.query(
        "SELECT standard, stations FROM daily_aqi WHERE site = 'hunnan' AND date = '2026-02-28'"
    )
    assert sorted(rows["standard"]) == ["hj633-2012", "hj633-2026"]
    assert rows["stations"].tolist() == [2, 2]
    # Its stations' own rows were not re-evaluated: only the area was queued.
    assert report.site_days == 0


@pytest.mark.parametrize("overlap", [True, False])
def test_a_failed_write_goes_up_and_leaves_the_days_dirty(
    ledger: Ledger, settings: Settings, overlap: bool
) -> None:
    """The results are written in the background while the next chunk is evaluated (issue
    17): a write the ledger refuses still stops the run with the ledger's error, and no
    site-day whose results were not written loses its dirty mark."""
    ledger.write_observations(sample_observations(), "sample")
    dirty = ledger.dirty_days().values.tolist()
    ledger.connection.execute(
        "CREATE TRIGGER refuse BEFORE INSERT ON daily_aqi BEGIN SELECT RAISE(ABORT, 'full'); END"
    )
    with pytest.raises(sqlite3.IntegrityError, match="full"):
        evaluate_dirty(ledger, settings, overlap=overlap)
    assert ledger.dirty_days().values.tolist() == dirty
    assert ledger.query("SELECT count(*) AS n FROM daily_aqi")["n"].tolist() == [0]
    ledger.connection.execute("DROP TRIGGER refuse")
    evaluate_dirty(ledger, settings)
    assert ledger.dirty_days().empty
    # Two stations and their area, four days, both rule sets.
    assert ledger.query("SELECT count(*) AS n FROM daily_aqi")["n"].tolist() == [3 * 4 * 2]


def test_the_checkpoint_setting_is_restored_after_a_run(
    ledger: Ledger, settings: Settings
) -> None:
    """A run checkpoints the WAL less often while it writes (issue 17), then gives the
    connection back with SQLite's own setting (1,000 pages, sqlite.org/pragma.html)."""
    ledger.write_observations(sample_observations(), "sample")
    assert evaluate_dirty(ledger, settings).daily_rows > 0
    assert ledger.connection.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000


def _derived(ledger: Ledger) -> dict[str, list[tuple[object, ...]]]:
    """Every row an evaluation leaves (``computed_at`` and the time of queueing aside)."""
    queries = {
        "hourly_aqi": "SELECT * FROM hourly_aqi ORDER BY site, period_end, standard",
        "daily_aqi": "SELECT * FROM daily_aqi ORDER BY site, date, standard",
        "qc_flags": "SELECT site, parameter, period_end, flags FROM qc_flags ORDER BY 1, 2, 3",
        "outbox": "SELECT kind, key, day FROM outbox ORDER BY 1, 2, 3",
        "dirty_days": "SELECT site, date FROM dirty_days ORDER BY 1, 2",
    }
    out = {}
    for table, sql in queries.items():
        cursor = ledger.connection.execute(sql)
        names = [d[0] for d in cursor.description]
        out[table] = [
            tuple(v for n, v in zip(names, row, strict=True) if n != "computed_at")
            for row in cursor
        ]
    return out


def test_chunks_read_ahead_and_written_behind_give_the_rows_of_one_chunk(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17: with a chunk a day, each next chunk's observations are read ahead on the
    second connection and each chunk's rows written by the writing thread; every derived
    row, QC flag, outbox entry and dirty day is as when the four days are one chunk."""
    from monitor.ledger import evaluation_input
    from monitor.ledger.evaluation_hours import fetch_snapshot as fetch
    from monitor.service import evaluate

    read_ahead = []

    def counted(*args: Any) -> Any:
        read_ahead.append(args[1:3])
        return fetch(*args)

    results, reports = [], []
    # One chunk; a chunk a day (two stations) with the threads; the same on one thread.
    for chunk_site_days, overlap in ((10_000, False), (2, True), (2, False)):
        monkeypatch.setattr(evaluate, "CHUNK_SITE_DAYS", chunk_site_days)
        monkeypatch.setattr(evaluation_input, "fetch_snapshot", counted)
        with Ledger.open(tmp_path / f"chunks{chunk_site_days}{overlap}.sqlite") as ledger:
            ledger.write_observations(sample_observations(), "sample")
            reports.append(evaluate_dirty(ledger, settings, overlap=overlap))
            results.append(_derived(ledger))
    # Every day's window but the first was read while the day before was evaluated.
    assert len(reports[1].dates) > 1 and len(read_ahead) == len(reports[1].dates) - 1
    for report, result in zip(reports[1:], results[1:], strict=True):
        assert report.site_days == reports[0].site_days
        assert report.hourly_rows == reports[0].hourly_rows
        assert report.daily_rows == reports[0].daily_rows
        assert result == results[0]
    assert len(results[0]["hourly_aqi"]) > 0 and results[0]["dirty_days"] == []


@pytest.mark.parametrize("overlap", [True, False])
def test_a_site_day_whose_write_raises_is_isolated_with_background_writes(
    ledger: Ledger, settings: Settings, monkeypatch: pytest.MonkeyPatch, overlap: bool
) -> None:
    """Issue 13 §1 ("a site-day that cannot be evaluated ... never prevents the other
    site-days and areas from being evaluated") also when the fault is in writing a chunk's
    rows, which issue 17 moved to a background thread: the write's error surfaces only
    while a later chunk is evaluated, and must not stop the run. The fault is injected as
    the ``poisoned_evaluation`` fixture does (an unforeseen defect, not a ledger error);
    a chunk a day, so chunks follow the poisoned one."""
    from monitor.ledger.evaluation_output import write_derived as original
    from monitor.service import evaluate

    def write_derived(
        ledger: Ledger, table: str, frame: pd.DataFrame, *args: Any, **kw: Any
    ) -> None:
        if table == "water_classes" and (frame["site"] == "hun_bad").any():
            raise ValueError("simulated defect in writing a row")
        original(ledger, table, frame, *args, **kw)

    monkeypatch.setattr(evaluate, "write_derived", write_derived)
    monkeypatch.setattr(evaluate, "CHUNK_SITE_DAYS", 2)
    ledger.write_observations(sample_observations(), "sample")
    end = pd.Timestamp("2026-02-27 08:00", tz="Asia/Shanghai")  # the first of four days
    good = {"ph": 7.6, "do": 5.2, "codmn": 6.5, "nh3n": 1.2, "tp": 0.25}
    for site in ("hun_test", "hun_bad"):
        ledger.write_observations(
            observations(site, list(good), end, end, list(good.values())), "w"
        )

    report = evaluate_dirty(ledger, settings, overlap=overlap)

    assert [(s, d) for s, d, _, _ in report.failed] == [("hun_bad", "2026-02-27")]
    failures = ledger.evaluation_failures()
    assert failures[["site", "date", "scope"]].values.tolist() == [
        ["hun_bad", "2026-02-27", "site"]
    ]
    assert ledger.dirty_days().values.tolist() == [["hun_bad", "2026-02-27"]]
    daily = ledger.query("SELECT DISTINCT site, date FROM daily_aqi WHERE official = 1")
    for site in ("1099A", "2900A", "hunnan"):  # two stations and their area, four days
        assert len(daily[daily["site"] == site]) == 4
    classes = ledger.query("SELECT site FROM water_classes")
    assert classes["site"].tolist() == ["hun_test"]


def test_commits_of_another_connection_never_fail_the_background_writes(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17 runs the writes on a second thread over the ledger's one connection while
    the first reads on it. SQLite refuses at once ("database is locked", SQLITE_BUSY_SNAPSHOT,
    no busy wait: sqlite.org/rescode.html#busy_snapshot) a BEGIN IMMEDIATE on a connection
    whose read began before another connection committed; the HJ 212 receiver and the
    publisher commit on their own connections during a daemon's evaluation. The run must
    end as without the threads: every day evaluated, none left dirty."""
    import threading
    import time

    from monitor.service import evaluate

    monkeypatch.setattr(evaluate, "CHUNK_SITE_DAYS", 2)  # a chunk a day: many writes
    path = tmp_path / "ledger.sqlite"
    end = pd.date_range("2026-01-01 01:00", periods=24 * 12, freq="h", tz="Asia/Shanghai")
    values = np.linspace(10.0, 90.0, len(end))
    stop = threading.Event()
    commits = []

    def receiver() -> None:  # another connection committing, as the HJ 212 receiver does
        other = sqlite3.connect(path, isolation_level=None, timeout=30.0)
        other.execute("CREATE TABLE IF NOT EXISTS elsewhere (x INTEGER)")
        while not stop.is_set():
            other.execute("INSERT INTO elsewhere VALUES (1)")
            commits.append(1)
            time.sleep(0)  # lets the evaluation run between commits
        other.close()

    with Ledger.open(path) as ledger:
        for site in ("1099A", "2900A"):
            ledger.write_observations(
                observations(site, "pm2_5", end - pd.Timedelta(hours=1), end, values), "s"
            )
        thread = threading.Thread(target=receiver)
        thread.start()
        try:
            report = evaluate_dirty(ledger, settings, overlap=True)
        finally:
            stop.set()
            thread.join()
        assert commits  # the other connection did commit meanwhile
        assert ledger.dirty_days().empty
        assert report.failed == ()
        days = ledger.query("SELECT count(DISTINCT date) AS n FROM daily_aqi WHERE site = '1099A'")
        assert days["n"].tolist() == [
            13
        ]  # 12 days of hours ending 01:00 … 24:00, and the 13th's 00:00


@pytest.mark.parametrize("overlap", [False, True])
def test_a_day_written_by_another_connection_during_the_evaluation_is_evaluated_again(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch, overlap: bool
) -> None:
    """Issue 17 review: another connection (the daemon's HJ 212 receiver, a collector)
    commits a new PM2.5 value of 1099A for 2026-02-28 13:00 after the evaluation read the
    dirty days and that day's observations, before it cleared them. The day stays dirty
    (before the fix the clear forgot it and its AQI stayed stale), and the next run gives
    every hourly and daily row (site and area) that one evaluation of all the data gives."""
    from monitor.ledger.evaluation_input import EvaluationInput

    end = pd.DatetimeIndex([pd.Timestamp("2026-02-28 13:00", tz="Asia/Shanghai")])
    revision = observations("1099A", "pm2_5", end - pd.Timedelta(hours=1), end, [500.0])
    tables = {
        "hourly_aqi": "SELECT * FROM hourly_aqi ORDER BY site, period_end, standard",
        "daily_aqi": "SELECT * FROM daily_aqi ORDER BY site, date, standard",
    }

    def rows(ledger: Ledger) -> dict[str, list[tuple[object, ...]]]:
        return {t: _derived_rows(ledger, sql) for t, sql in tables.items()}

    with Ledger.open(tmp_path / "control.sqlite") as control:
        control.write_observations(sample_observations(), "sample")
        control.write_observations(revision, "sample")
        evaluate_dirty(control, settings, overlap=False)
        expected = rows(control)
    hour = int(end[0].timestamp())
    hour_aqi = (
        "SELECT aqi FROM hourly_aqi WHERE site = '1099A' AND period_end = ? AND official = 1"
    )

    path = tmp_path / "ledger.sqlite"
    read = EvaluationInput.observations
    written: list[WriteResult] = []

    def read_then_receive(self: EvaluationInput, **window: Any) -> pd.DataFrame:
        frame = read(self, **window)
        if not written:  # the receiver commits between the read and the clear
            with Ledger.open(path) as receiver:
                written.append(receiver.write_observations(revision, "sample"))
        return frame

    with Ledger.open(path) as ledger:
        ledger.write_observations(sample_observations(), "sample")
        monkeypatch.setattr(EvaluationInput, "observations", read_then_receive)
        evaluate_dirty(ledger, settings, overlap=overlap)
        assert written and written[0].revised == 1
        assert ["1099A", "2026-02-28"] in ledger.dirty_days().values.tolist()
        stale = ledger.connection.execute(hour_aqi, (hour,)).fetchone()
        evaluate_dirty(ledger, settings, overlap=overlap)
        assert ledger.dirty_days().empty
        fresh = ledger.connection.execute(hour_aqi, (hour,)).fetchone()
        assert rows(ledger) == expected
    # HJ 633-2012 Table 1: PM2.5 350-500 µg/m³ rates IAQI 400-500 (the hour is above 300)
    assert stale != fresh and fresh[0] > 300


def _derived_rows(ledger: Ledger, sql: str) -> list[tuple[object, ...]]:
    """The rows of ``sql`` without ``computed_at`` (the time of writing)."""
    cursor = ledger.connection.execute(sql)
    names = [d[0] for d in cursor.description]
    return [
        tuple(v for n, v in zip(names, row, strict=True) if n != "computed_at") for row in cursor
    ]
