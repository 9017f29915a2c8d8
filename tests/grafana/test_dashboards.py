"""The dashboards: every panel query runs on real InfluxDB 1.x with Grafana's macros and
the variables substituted and returns the expected numbers; every indicator is shown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from monitor.grafana import dashboards
from monitor.grafana.catalogue import indicators
from monitor.influxdb import queries
from monitor.settings import Settings, load_settings
from tests.engines import Influx1
from tests.published import (
    FIRST_HOUR,
    HEALTH_AT,
    SETTINGS,
    Published,
    load_published,
)

START = int(FIRST_HOUR.timestamp())
END = HEALTH_AT + 60


@pytest.fixture(scope="module")
def published(influx1: Influx1, tmp_path_factory: pytest.TempPathFactory) -> Published:
    return load_published(influx1, tmp_path_factory.mktemp("published"))


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    path = tmp_path_factory.mktemp("settings") / "envmon.toml"
    path.write_text(SETTINGS, encoding="utf-8")
    return load_settings(path, {})


def _all(board: dict[str, Any]) -> dict[str, list[str]]:
    """Each variable at "All": every value of its custom list (as Grafana expands it)."""
    out = {}
    for variable in board["templating"]["list"]:
        pairs = [item.split(" : ") for item in variable["query"].split(",")]
        out[variable["name"]] = [value for _, value in pairs]
    return out


#: Panels whose indicator has no data in the test world (nothing configured or imported).
EMPTY = {
    "aqi_daily_published",
    "water_ph",
    "aqi_level_days_2",
    "aqi_level_days_3",
    "aqi_level_days_5",
    "aqi_level_days_6",
}


def test_every_panel_query_runs(
    published: Published, influx1: Influx1, settings: Settings
) -> None:
    catalogue = indicators()
    boards = dashboards.build_all(settings)
    ran = 0
    for board in boards.values():
        variables = _all(board)
        for panel in board["panels"]:
            spec = dashboards.DASHBOARDS[
                [d.uid for d in dashboards.DASHBOARDS].index(board["uid"])
            ].panels[panel["id"] - 1]
            for target, key in zip(panel["targets"], spec.indicators, strict=True):
                expected = queries.catalogue()[catalogue[key].query]
                assert target["query"] == expected.text
                assert target["resultFormat"] == expected.format
                text = queries.render(
                    target["query"],
                    start=START,
                    end=END,
                    interval_seconds=3600,
                    variables=variables,
                )
                assert queries.unresolved(text) == [], (board["uid"], key, text)
                series = influx1.query(text)
                assert bool(series) == (key not in EMPTY), (board["uid"], key)
                ran += 1
    # the test world configures one target (good_day_ratio): the four panels of other target
    # kinds are left out, every other panel runs
    left_out = {"heavy_days_target", "river_class_target", "milestones_target", "count_target"}
    shown = [k for d in dashboards.DASHBOARDS for p in d.panels for k in p.indicators]
    assert ran == len([k for k in shown if k not in left_out])


def test_panel_numbers_with_variables(
    published: Published, influx1: Influx1, settings: Settings
) -> None:
    board = dashboards.build_all(settings)[dashboards.AIR_UID]
    variables = _all(board)
    assert variables == {"area": ["hunnan"], "site": ["1099A", "2900A"]}
    panel = next(p for p in board["panels"] if p["title"] == "站点小时AQI")
    text = queries.render(
        panel["targets"][0]["query"],
        start=START,
        end=END,
        interval_seconds=86400,
        variables={**variables, "site": ["2900A"]},
    )
    # one bucket per UTC day; highest hourly AQI: 295 on the breach day (HJ 633 Table 1)
    (series,) = influx1.query(text)
    assert series["tags"] == {"site": "2900A"}
    assert max(v for _, v in series["values"]) == 295.0
    levels = next(p for p in board["panels"] if p["type"] == "bargauge")
    days = {}
    for target in levels["targets"]:
        rendered = queries.render(target["query"], start=START, end=END, variables=variables)
        for item in influx1.query(rendered):
            days[target["refId"]] = item["values"][0][1]
    # 2026-11-01 优 (level 1, refId A), 2026-11-02 中度污染 (level 4, refId D)
    assert days == {"A": 1.0, "D": 1.0}


def test_every_indicator_is_on_a_dashboard() -> None:
    shown = {key for d in dashboards.DASHBOARDS for p in d.panels for key in p.indicators}
    assert shown == set(indicators())


def test_dashboard_titles_and_variables(settings: Settings, tmp_path: Path) -> None:
    boards = dashboards.build_all(settings)
    assert [b["title"] for b in boards.values()] == [
        "目标总览",
        "空气质量",
        "河流水质",
        "数据健康",
    ]
    rivers = boards[dashboards.RIVERS_UID]
    assert [v["name"] for v in rivers["templating"]["list"]] == ["section"]
    assert rivers["templating"]["list"][0]["query"] == "甲断面 : sec_a"
    path = tmp_path / "en.toml"
    path.write_text(SETTINGS + '\n[grafana]\nlanguage = "en"\n', encoding="utf-8")
    english = dashboards.build_all(load_settings(path, {}))
    assert [b["title"] for b in english.values()] == [
        "Targets overview",
        "Air quality",
        "Rivers",
        "Data health",
    ]
    air = english[dashboards.AIR_UID]
    assert air["templating"]["list"][0]["label"] == "Area"
    assert air["panels"][0]["title"] == "Area hourly AQI"
