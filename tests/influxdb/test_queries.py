"""Every query of the catalogue runs on a real InfluxDB 1.x loaded with published points.

The points come from :mod:`tests.published` (real ledger, pipeline and publisher); the
expected numbers are worked out there from the inputs (HJ 633 Table 1, GB 3838 Table 1).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from monitor.influxdb import queries
from monitor.influxdb.points import MEASUREMENTS
from tests.engines import Influx1
from tests.published import (
    BREACH_DAY,
    FIRST_HOUR,
    HEALTH_AT,
    HOURS,
    LAST_HOUR,
    WATER_BREACH_END,
    WATER_CALM_END,
    Published,
    air_value,
    load_published,
)

START = int(FIRST_HOUR.timestamp())
END = HEALTH_AT + 60
ALL = {"area": ["hunnan"], "site": ["1099A", "2900A"], "section": ["sec_a"]}
CATALOGUE = queries.catalogue(["cnemc_air", "river_lab"])


@pytest.fixture(scope="module")
def published(influx1: Influx1, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Published]:
    yield load_published(influx1, tmp_path_factory.mktemp("published"))


def run(
    influx: Influx1,
    key: str,
    *,
    start: int = START,
    end: int = END,
    interval: float = 3600,
    **variables: Any,
) -> dict[tuple[tuple[str, str], ...], list[dict[str, Any]]]:
    """Rows (column → value) of each series, keyed by its sorted tags."""
    text = queries.render(
        CATALOGUE[key].text,
        start=start,
        end=end,
        interval_seconds=interval,
        variables={**ALL, **variables},
    )
    assert queries.unresolved(text) == [], text
    out = {}
    for series in influx.query(text):
        tags = tuple(sorted(series.get("tags", {}).items()))
        out[tags] = [dict(zip(series["columns"], row, strict=True)) for row in series["values"]]
    return out


def hourly(site_values: list[float]) -> list[dict[str, Any]]:
    stamps = [START + 3600 * h for h in range(HOURS)]
    return [{"time": t, "aqi": v} for t, v in zip(stamps, site_values, strict=True)]


# HJ 633 Table 1 (PM2.5 24 h column, used for hourly PM): 35 → 50, 34 → 48.6 → 49 (ceil);
# 245 → 295, 244 → 294 (segment 150–250 ↔ 200–300); area mean 140 → 185.7 → 186,
# 139 → 184.3 → 185 (segment 115–150 ↔ 150–200). Even hours first (hour 0 is even).
CALM = [50.0, 49.0] * 12
SITE_BREACH = [295.0, 294.0] * 12
AREA_BREACH = [186.0, 185.0] * 12


def test_every_measurement_has_a_query() -> None:
    assert {q.measurement for q in CATALOGUE.values()} == {m.name for m in MEASUREMENTS}


def test_alert_queries_use_no_template_variable() -> None:
    """Dashboard variables are undefined in alert rules (grafana/grafana#31341)."""
    for query in CATALOGUE.values():
        if query.alert:
            assert query.variables == (), query.key
        assert "$timeFilter" in query.text, query.key


def test_hourly_aqi_of_area_and_sites(published: Published, influx1: Influx1) -> None:
    assert run(influx1, "aqi_hourly_area") == {(("site", "hunnan"),): hourly(CALM + AREA_BREACH)}
    assert run(influx1, "aqi_hourly_site") == {
        (("site", "1099A"),): hourly(CALM + CALM),
        (("site", "2900A"),): hourly(CALM + SITE_BREACH),
    }
    # the template variable selects: one station only
    assert list(run(influx1, "aqi_hourly_site", site=["2900A"])) == [(("site", "2900A"),)]


def test_latest_hourly_aqi_level_and_primary_pollutant(
    published: Published, influx1: Influx1
) -> None:
    rows = run(influx1, "aqi_hourly_latest")
    # last hour (47) is odd: 1099A 49 (优, no primary pollutant as AQI ≤ 50), 2900A 294 (重度)
    assert [
        (r["aqi"], r["level"], r["primary_pollutants"]) for r in rows[(("site", "1099A"),)]
    ] == [(49.0, 1.0, "")]
    assert [
        (r["aqi"], r["level"], r["primary_pollutants"]) for r in rows[(("site", "2900A"),)]
    ] == [(294.0, 5.0, "pm2_5")]


def test_completeness_of_hours(published: Published, influx1: Influx1) -> None:
    rows = run(influx1, "aqi_hourly_completeness")
    assert {k: v[0]["complete"] for k, v in rows.items()} == {
        (("site", "1099A"),): 1.0,
        (("site", "2900A"),): 1.0,
    }


def test_daily_aqi_levels_and_heavy_days(published: Published, influx1: Influx1) -> None:
    # daily means (GB/T 8170 rounding, HJ 633-2026 §4.2.2): day 1 PM2.5 34.5 → 34 → IAQI 49;
    # day 2 area PM2.5 (34.5 + 244.5)/2 = 139.5 → 140 → 186 (level 4, not heavy)
    assert run(influx1, "aqi_daily_area") == {
        (("site", "hunnan"),): [
            {"time": START, "aqi": 49.0},
            {"time": BREACH_DAY, "aqi": 186.0},
        ]
    }
    assert run(influx1, "heavy_days")[(("site", "hunnan"),)][0]["heavy_days"] == 0.0
    days = {
        level: run(influx1, f"aqi_level_days_{level}").get((("site", "hunnan"),))
        for level in range(1, 7)
    }
    assert {level: rows[0]["days"] for level, rows in days.items() if rows} == {1: 1.0, 4: 1.0}
    assert run(influx1, "aqi_daily_published") == {}  # nothing imported in this world


def test_concentrations_per_station(published: Published, influx1: Influx1) -> None:
    for parameter in queries.AIR_PARAMETERS:
        rows = run(influx1, f"air_concentration_{parameter}", site=["2900A"])
        expected = [
            {"time": START + 3600 * h, parameter: air_value("2900A", parameter, h)}
            for h in range(HOURS)
        ]
        assert rows == {(("site", "2900A"),): expected}, parameter


def test_good_day_ratio_budget_and_status(published: Published, influx1: Influx1) -> None:
    # as of 2026-11-01: 1 good day of 1 valid (ratio 1.0); as of 2026-11-02: 1 of 2 (0.5)
    window = {"start": START, "end": BREACH_DAY}
    rows = run(influx1, "good_day_ratio", **window)
    for variant in ("official", "hj633-2012", "hj633-2026"):
        key = (("target", "good_days_2026"), ("variant", variant))
        assert [(r["time"], r["ratio"], r["goal"]) for r in rows[key]] == [
            (START, 1.0, 0.8),
            (BREACH_DAY, 0.5, 0.8),
        ]
    # 2026 has 365 days; ≥ 80 % good allows 365 − ceil(0.8 · 365) = 73 non-good days; 1 used
    budget = run(influx1, "good_day_budget", **window)
    assert budget[(("target", "good_days_2026"),)][0]["budget_remaining"] == 72.0
    status = run(influx1, "target_status", **window)[(("target", "good_days_2026"),)][0]
    assert (status["status"], status["status_code"], status["value"], status["goal"]) == (
        "at_risk",
        2.0,
        0.5,
        0.8,
    )
    assert status["explanation_zh"] and status["explanation_en"]
    projection = run(influx1, "good_day_projection", **window)[(("target", "good_days_2026"),)]
    stored = published.ledger_query(
        "SELECT projection_low, projection, projection_high FROM target_progress "
        "WHERE target = 'good_days_2026' AND variant = 'official' AND as_of = '2026-11-02'"
    ).iloc[0]
    assert (projection[0]["low"], projection[0]["projection"], projection[0]["high"]) == (
        pytest.approx(stored["projection_low"]),
        pytest.approx(stored["projection"]),
        pytest.approx(stored["projection_high"]),
    )
    assert projection[0]["low"] <= projection[0]["projection"] <= projection[0]["high"]
    for name in ("heavy_days_target", "river_class_target", "milestones_target", "count_target"):
        assert run(influx1, name, **window) == {}, name  # no such target configured here


def test_rivers(published: Published, influx1: Influx1) -> None:
    section = (("site", "sec_a"),)
    # calm reading: DO 7.0 ≥ 6 (II), NH3-N 0.4 ≤ 0.5 (II) → II; breach: NH3-N 2.6 > 2.0 → 劣V
    assert run(influx1, "water_class_series")[section] == [
        {"time": WATER_CALM_END, "class_code": 2.0},
        {"time": WATER_BREACH_END, "class_code": 6.0},
    ]
    table = run(influx1, "water_exceedance")[section]
    # exceedance multiple over Class III: (2.6 − 1.0) / 1.0 = 1.6
    assert [(r["class"], r["exceedance_multiples"]) for r in table] == [
        ("II", ""),
        ("劣V", "nh3n=1.6"),
    ]
    # the same in GB 3838-2002 Table 1 names, for officers (issue 15); the calm reading is
    # class II on all four (DO 7.0 ≥ 6, CODMn 3.0 ≤ 4, NH3-N 0.4 ≤ 0.5, TP 0.05 ≤ 0.1)
    assert [(r["limiting_zh"], r["exceedance_zh"]) for r in table] == [
        ("溶解氧、高锰酸盐指数、氨氮、总磷", ""),
        ("氨氮", "氨氮 1.6倍"),
    ]
    latest = run(influx1, "water_latest")[section][0]
    assert (latest["class_code"], latest["target_class_code"], latest["meets_target"]) == (
        6.0,
        3.0,
        0.0,
    )
    assert (latest["class"], latest["river"]) == ("劣V", "浑河")
    for parameter, values in {"do": [7.0, 2.5], "nh3n": [0.4, 2.6], "tp": [0.05, 0.05]}.items():
        rows = run(influx1, f"water_parameter_{parameter}")[section]
        assert [r[parameter] for r in rows] == values, parameter


def test_data_health(published: Published, influx1: Influx1) -> None:
    rows = run(influx1, "data_freshness")
    # health round at 23:30 local: last air hour 23:00 → 1800 s; last water reading 12:00 →
    # 11.5 h = 41400 s; 24 h of 6 pollutants = 144 values, all expected hours present
    air = rows[(("site", "1099A"), ("source", "cnemc_air"))][0]
    assert (air["age_seconds"], air["completeness_24h"], air["values_24h"]) == (
        1800.0,
        1.0,
        144.0,
    )
    assert air["qc_flags_24h"] == 0.0
    assert air["evaluation_failures"] == 0.0  # every day of the site evaluated
    water = rows[(("site", "sec_a"), ("source", "river_lab"))][0]
    assert water["age_seconds"] == float(HEALTH_AT - WATER_BREACH_END) == 41400.0
    series = run(influx1, "data_age_series", start=HEALTH_AT - 3600, end=HEALTH_AT + 60)
    assert series[(("site", "2900A"), ("source", "cnemc_air"))][-1]["age_seconds"] == 1800.0
    sources = run(influx1, "source_state")
    state = sources[(("source", "cnemc_air"),)][0]
    # 2 sites × 6 pollutants × 48 h = 576 rows collected in the fetch
    assert (state["age_seconds"], state["last_fetch_ok"], state["rows_24h"]) == (
        1800.0,
        1.0,
        576.0,
    )
    assert state["failures_24h"] == 0.0 and state["last_error"] == ""
    assert sources[(("source", "river_lab"),)][0]["rows_24h"] == 8.0  # 2 readings × 4


def test_heartbeat_and_publish_lag(published: Published, influx1: Influx1) -> None:
    window = {"start": HEALTH_AT - 3600, "end": HEALTH_AT + 60, "interval": 300}
    beats = run(influx1, "heartbeat_series", **window)[()]
    assert sum(r["beats"] for r in beats) == 1
    assert [r["time"] for r in beats if r["beats"]] == [HEALTH_AT - HEALTH_AT % 300]
    lag = run(influx1, "publish_lag", **window)[()]
    assert [(r["publish_lag_seconds"], r["outbox_pending"], r["quarantined"]) for r in lag] == [
        (0.0, 0.0, 0.0)  # everything was published before the round
    ]


def test_alert_queries(published: Published, influx1: Influx1) -> None:
    last3h = {"start": LAST_HOUR - 3 * 3600, "end": LAST_HOUR + 60}
    assert run(influx1, "alert_area_aqi", **last3h) == {
        (("site", "hunnan"),): [{"time": LAST_HOUR, "aqi": 185.0}]
    }
    site = run(influx1, "alert_site_aqi", **last3h)
    assert {k: v[0]["aqi"] for k, v in site.items()} == {
        (("site", "1099A"),): 49.0,
        (("site", "2900A"),): 294.0,
    }
    days = {"start": START, "end": BREACH_DAY + 60}
    budget = run(influx1, "alert_good_day_budget", **days)
    assert budget[(("target", "good_days_2026"),)][0]["budget_remaining"] == 72
    status = run(influx1, "alert_target_status", **days)
    assert status[(("target", "good_days_2026"),)][0]["status_code"] == 2.0
    water = {"start": START, "end": END}
    section = run(influx1, "alert_section_class", **water)
    assert section[(("site", "sec_a"),)][0]["meets_target"] == 0.0
    assert run(influx1, "alert_water_do", **water)[(("site", "sec_a"),)][0]["do"] == 2.5
    assert run(influx1, "alert_water_nh3n", **water)[(("site", "sec_a"),)][0]["nh3n"] == 2.6
    health = {"start": HEALTH_AT - 600, "end": HEALTH_AT + 60}
    silent = run(influx1, "alert_site_silent_cnemc_air", **health)
    assert {k: v[0]["age_seconds"] for k, v in silent.items()} == {
        (("site", "1099A"), ("source", "cnemc_air")): 1800.0,
        (("site", "2900A"), ("source", "cnemc_air")): 1800.0,
    }
    lab = run(influx1, "alert_source_silent_river_lab", **health)
    assert lab[(("source", "river_lab"),)][0]["age_seconds"] == 41400.0
    assert run(influx1, "alert_heartbeat", **health) == {(): [{"time": HEALTH_AT, "up": 1.0}]}
    # no heartbeat in the hour before the round: the dead man's switch sees no data
    assert run(influx1, "alert_heartbeat", start=HEALTH_AT - 3600, end=HEALTH_AT - 1) == {}


def test_published_lines_are_what_was_loaded(published: Published) -> None:
    """The world is loaded by the real publisher (a sanity check of the fixture)."""
    names = {line.split(",", 1)[0].split(" ", 1)[0] for line in published.lines}
    assert names == {m.name for m in MEASUREMENTS} - {"aqi_daily_published"}
    assert isinstance(published.ledger, Path)
    assert pd.Timestamp(LAST_HOUR, unit="s", tz="UTC").hour == 15  # 23:00 +08:00
