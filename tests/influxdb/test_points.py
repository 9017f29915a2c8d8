"""The documented InfluxDB schema: stable types, tags apart from fields, docs in step."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from monitor.influxdb import points as schema
from monitor.influxdb import queries

#: The docs page whose schema tables are generated from the code (issue 18: moved from README).
SCHEMA_PAGE = Path(__file__).parents[2] / "docs" / "influxdb.md"


def test_the_documented_schema_is_generated_from_the_code() -> None:
    page = SCHEMA_PAGE.read_text(encoding="utf-8")
    block = page.split("<!-- schema:begin", 1)[1].split("-->", 1)[1]
    block = block.split("<!-- schema:end -->", 1)[0]
    assert block.lstrip("\n") == schema.schema_markdown(), (
        f"docs/{SCHEMA_PAGE.name} is out of date: run python -m monitor.reference_docs"
    )


@pytest.mark.parametrize("measurement", schema.MEASUREMENTS, ids=lambda m: m.name)
def test_tags_and_fields_never_share_a_name(measurement: schema.Measurement) -> None:
    """InfluxDB 3 refuses a tag and a field of the same name in one table."""
    names = [*measurement.tags, *measurement.floats, *measurement.strings]
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", n) for n in names)


def test_measurement_names_are_unique() -> None:
    names = [m.name for m in schema.MEASUREMENTS]
    assert len(names) == len(set(names))


def test_local_midnight_is_00_00_beijing_time() -> None:
    # 2026-01-01 00:00+08:00 = 2025-12-31 16:00 UTC = 1767196800
    assert schema.local_midnight(pd.Series(["2026-01-01", "2026-03-01"])).tolist() == [
        1767196800,
        1767196800 + 59 * 86400,
    ]


@pytest.mark.parametrize(
    ("aqi", "level"),
    # HJ 633 Table 2 (2012 and 2026): 0–50 I, 51–100 II, 101–150 III, 151–200 IV,
    # 201–300 V, > 300 VI
    [
        (0, 1),
        (50, 1),
        (51, 2),
        (100, 2),
        (101, 3),
        (150, 3),
        (151, 4),
        (200, 4),
        (201, 5),
        (300, 5),
        (301, 6),
        (500, 6),
    ],
)
def test_published_daily_aqi_level_follows_hj633_table_2(aqi: float, level: int) -> None:
    rows = pd.DataFrame(
        {
            "area": ["hunnan"],
            "date": ["2026-05-01"],
            "aqi": [aqi],
            "category": [""],
            "primary_pollutants": [""],
            "dust": [0],
        }
    )
    frame = schema.published_daily_points(rows)
    assert frame["level"].tolist() == [float(level)]
    assert frame["good"].tolist() == [1.0 if level <= 2 else 0.0]


def test_daily_good_and_heavy_flags_and_missing_aqi() -> None:
    rows = pd.DataFrame(
        {
            "site": ["a", "a", "a", "a"],
            "date": ["2026-05-01"] * 4,
            "standard": ["hj633-2026"] * 4,
            "official": [1] * 4,
            "is_area": [0] * 4,
            "so2": np.nan,
            "no2": np.nan,
            "co": np.nan,
            "pm10": np.nan,
            "pm2_5": np.nan,
            "o3_1h_max": np.nan,
            "o3_8h_max": np.nan,
            "invalid_statistics": "",
            "aqi": [45.0, 120.0, 250.0, np.nan],
            "level": [1, 3, 5, 0],
            "primary_pollutants": "",
            "exceedance_pollutants": "",
            "complete": 1,
        }
    )
    frame = schema.daily_aqi_points(rows)
    assert frame["good"].tolist()[:3] == [1.0, 0.0, 0.0]
    assert frame["heavy"].tolist()[:3] == [0.0, 0.0, 1.0]
    assert frame[["aqi", "level", "good", "heavy"]].iloc[3].isna().all()  # no AQI: left out
    line = schema.AQI_DAILY.lines(frame)[3]
    assert "aqi=" not in line and "level=" not in line and 'primary_pollutants=""' in line


def test_area_rows_carry_the_stations_they_rest_on() -> None:
    """Issue 13 §2 "Area values": every area row says how many stations it rests on — the
    published series too. An area day on 5 stations has ``stations=5``; a site's own row
    (stations NULL in the ledger) leaves the field out."""
    rows = pd.DataFrame(
        {
            "site": ["shenyang", "1099A"],
            "date": ["2026-05-01"] * 2,
            "standard": ["hj633-2026"] * 2,
            "official": [1] * 2,
            "is_area": [1, 0],
            **{s: [40.0, 40.0] for s in schema.DAILY_STATISTICS},
            "invalid_statistics": "",
            "aqi": [57.0, 57.0],
            "level": [2, 2],
            "primary_pollutants": "pm2_5",
            "exceedance_pollutants": "",
            "complete": 1,
            "stations": [5.0, np.nan],
        }
    )
    area, site = schema.AQI_DAILY.lines(schema.daily_aqi_points(rows))
    assert ",stations=5" in area or " stations=5" in area
    assert "stations=" not in site
    hourly = rows.rename(columns={"date": "period_end"}).assign(period_end=1777564800)
    for column in schema.IAQI_COLUMNS:
        hourly[column] = 57.0
    area_h, site_h = schema.AQI_HOURLY.lines(schema.hourly_aqi_points(hourly))
    assert ",stations=5" in area_h or " stations=5" in area_h
    assert "stations=" not in site_h


def test_water_class_against_the_target() -> None:
    rows = pd.DataFrame(
        {
            "site": ["s1", "s1", "s2"],
            "period_end": [100, 200, 100],
            "water_class": ["III", "劣V", "II"],
            "limiting_parameters": ["", "nh3n", ""],
            "exceedance_multiples": ["", "nh3n:1.5", ""],
            "parameter_set": ["automatic"] * 3,
        }
    )
    frame = schema.water_class_points(rows, {"s1": "浑河"}, {"s1": "III"})
    assert frame["class_code"].tolist() == [3.0, 6.0, 2.0]
    assert frame["meets_target"].tolist()[:2] == [1.0, 0.0]
    assert np.isnan(frame["meets_target"].iloc[2])  # s2 has no target class
    assert frame["river"].tolist() == ["浑河", "浑河", ""]


def test_target_status_codes_order_concern() -> None:
    codes = schema.STATUS_CODES
    assert codes["achieved"] < codes["on_track"] < codes["at_risk"] < codes["off_track"]
    assert codes["off_track"] < codes["failed"]


def test_qc_count_counts_the_flags_as_the_ledger_joins_them() -> None:
    """The ledger joins QC flags with ``;`` (``monitor/domain/quality.py`` ``_canonical``);
    a value with two flags has qc_count 2, and the docs (InfluxDB schema) say
    ``;``-separated."""
    rows = pd.DataFrame(
        {
            "site": ["1099A"] * 3,
            "parameter": ["pm2_5"] * 3,
            "source": ["cnemc_air"] * 3,
            "unit": ["µg/m³"] * 3,
            "value": [35.0, 36.0, 37.0],
            "revision": [0, 0, 0],
            "flags": ["", "", "source_invalid;aqi_mismatch"],
            "qc_flags": [None, "stuck", "pm25_gt_pm10;spike"],
            "period_end": [3600, 7200, 10800],
        }
    )
    air, water = schema.observation_points(rows)
    assert air["qc_count"].tolist() == [0.0, 1.0, 2.0]
    assert water.empty
    documented = {**schema.AIR_OBSERVATION.strings, **schema.AQI_HOURLY.strings}
    assert all("comma" not in text for text in documented.values())
    assert ";-separated" in schema.AIR_OBSERVATION.strings["qc_flags"]


def test_excluded_is_the_evaluations_verdict_on_source_and_own_flags() -> None:
    """``excluded`` (what the concentration panels leave out) follows
    ``monitor.domain.quality.excluded`` on the source flags and envmon's together: advisory
    suspicions are shown unless ``[quality] exclude_own_flags`` lists them, a source verdict
    (maintenance) and an impossible value (negative) never are, ``aqi_mismatch`` is not a
    verdict on the concentration, and ``o3_swapped`` takes out the O3 value only."""
    flags = ["", "maintenance", "", "aqi_mismatch", "", "o3_swapped", "o3_swapped"]
    qc = [None, None, "spike", None, "negative", None, None]
    parameters = ["pm2_5"] * 5 + ["o3", "pm10"]
    rows = pd.DataFrame(
        {
            "site": ["1099A"] * 7,
            "parameter": parameters,
            "source": ["cnemc_air"] * 7,
            "unit": ["µg/m³"] * 7,
            "value": [35.0] * 7,
            "revision": [0] * 7,
            "flags": flags,
            "qc_flags": qc,
            "period_end": [3600 * (i + 1) for i in range(7)],
        }
    )
    air, _ = schema.observation_points(rows)
    assert air["excluded"].tolist() == [0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0]
    strict, _ = schema.observation_points(rows, exclude_own=["spike"])
    assert strict["excluded"].tolist() == [0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0]
    assert "excluded" in schema.AIR_OBSERVATION.floats
    assert '"excluded" = 0' in queries.air_concentration("pm2_5").text
