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


# --------------------------------------------------------------------------- issue 15 panels

SHIPPED = Path(__file__).resolve().parents[2] / "config" / "hunnan.toml"


@pytest.fixture(scope="module")
def shipped() -> dict[str, dict[str, Any]]:
    return dashboards.build_all(load_settings(SHIPPED, {}))


def _panel(board: dict[str, Any], title: str) -> dict[str, Any]:
    return next(p for p in board["panels"] if p["title"] == title)


def _override(panel: dict[str, Any], name: str) -> dict[str, Any]:
    """Properties of the override(s) matching field ``name`` ("Fields with name")."""
    out: dict[str, Any] = {}
    for override in panel["fieldConfig"]["overrides"]:
        if override["matcher"] == {"id": "byName", "options": name}:
            out |= {p["id"]: p["value"] for p in override["properties"]}
    return out


def test_data_health_fields_have_their_own_units(shipped: dict[str, dict[str, Any]]) -> None:
    """Grafana units (docs "Configure standard options", Unit): ``percentunit`` shows 0.96
    as 96%, ``s`` shows seconds (0.96 → "960 ms"), ``none`` a plain number. Per-field units
    are field overrides ("Fields with name", docs "Configure field overrides")."""
    health = shipped[dashboards.HEALTH_UID]
    freshness = _panel(health, "数据时效与完整率")
    assert freshness["fieldConfig"]["defaults"]["unit"] == "none"
    units = {
        name: _override(freshness, name).get("unit")
        for name in ("age_seconds", "completeness_24h", "values_24h", "qc_flags_24h")
    }
    assert units == {
        "age_seconds": "s",
        "completeness_24h": "percentunit",
        "values_24h": "none",
        "qc_flags_24h": "none",
    }
    lag = _panel(health, "发布延迟")
    assert lag["fieldConfig"]["defaults"]["unit"] == "none"
    assert [_override(lag, n)["unit"] for n in ("publish_lag_seconds", "outbox_pending")] == [
        "s",
        "none",
    ]
    state = _panel(health, "数据源状态")
    assert _override(state, "rows_24h")["unit"] == "none"
    assert _override(state, "age_seconds")["unit"] == "s"


def test_time_series_lines_in_palette_colours_thresholds_as_bands(
    shipped: dict[str, dict[str, Any]],
) -> None:
    """Grafana's color scheme "From thresholds (by value)" colours a whole series by its
    last value, so every station line had the same colour; "Classic palette"
    (``palette-classic``) gives each series its own colour (docs "Configure standard
    options", Color scheme). Thresholds stay as background: ``custom.thresholdsStyle.mode``
    ``line+area`` (``GraphThresholdsStyleMode``: off, line, area, line+area, series)."""
    count = 0
    for board in shipped.values():
        for panel in board["panels"]:
            if panel["type"] != "timeseries":
                continue
            defaults = panel["fieldConfig"]["defaults"]
            assert defaults["color"] == {"mode": "palette-classic"}, panel["title"]
            assert defaults["custom"]["thresholdsStyle"] == {"mode": "line+area"}
            count += 1
    assert count >= 14
    state = _panel(shipped[dashboards.RIVERS_UID], "断面水质类别")
    assert state["fieldConfig"]["defaults"]["color"] == {"mode": "thresholds"}  # states by value


def test_level_distribution_names_each_level_over_the_year(
    shipped: dict[str, dict[str, Any]],
) -> None:
    """One alias per level (Grafana InfluxQL alias ``$tag_site``; an area id is renamed by a
    "Rename by regex" transformation), and the panel's relative time ``now/y`` (panel
    ``timeFrom``: "This year so far", docs "Query options")."""
    levels = _panel(shipped[dashboards.AIR_UID], "AQI级别分布（天）")
    assert [t["alias"] for t in levels["targets"]] == [
        f"{name}天数 $tag_site"
        for name in ("优", "良", "轻度污染", "中度污染", "重度污染", "严重污染")
    ]
    assert levels["timeFrom"] == "now/y"
    renames = {
        t["options"]["regex"]: t["options"]["renamePattern"] for t in levels["transformations"]
    }
    assert renames[r"^(?<before>.*)\bhunnan\b(?<after>.*)$"] == "$<before>浑南区$<after>"


def test_officers_read_names_not_codes(shipped: dict[str, dict[str, Any]]) -> None:
    """Value mappings show text for a code (docs "Configure value mappings"): station codes,
    primary-pollutant lists (``;``-joined in canonical order, as domain/aqi.py writes them),
    target ids; the rivers table shows the GB 3838 names (氨氮, 总磷, 高锰酸盐指数) and hides
    the codes (table field option ``custom.hidden``, "Hide in table")."""
    latest = _panel(shipped[dashboards.AIR_UID], "最新AQI、级别与首要污染物")
    sites = _override(latest, "site")["mappings"][0]["options"]
    assert sites["1099A"]["text"] == "浑南东路"
    assert sites["1098A"]["text"] == "森林路（对照点）"  # the control site is marked
    primary = _override(latest, "primary_pollutants")["mappings"][0]["options"]
    assert len(primary) == 63
    assert primary["o3;pm2_5"]["text"] == "臭氧、PM2.5"
    exceedance = _panel(shipped[dashboards.RIVERS_UID], "超标倍数与定类因子")
    assert _override(exceedance, "limiting_parameters")["custom.hidden"] is True
    assert _override(exceedance, "exceedance_multiples")["custom.hidden"] is True
    assert _override(exceedance, "limiting_zh")["displayName"] == "定类因子"
    assert "custom.hidden" not in _override(exceedance, "exceedance_zh")
    status = _panel(shipped[dashboards.TARGETS_UID], "目标状态与说明")
    targets = _override(status, "target")["mappings"][0]["options"]
    assert targets["good_days_2026"]["text"] == "优良天数比例 ≥ 80 %"
    series = _panel(shipped[dashboards.AIR_UID], "站点小时AQI")
    patterns = {t["options"]["renamePattern"] for t in series["transformations"]}
    assert "$<before>浑南东路$<after>" in patterns


def test_status_colours_show_and_one_language_per_dashboard(
    shipped: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    """Table cells show mapping colours only with the cell type "Colored background"
    (``custom.cellOptions.type = color-background``, ``TableCellDisplayMode``); the Chinese
    dashboard hides ``explanation_en`` and the English one ``explanation_zh``."""
    status = _panel(shipped[dashboards.TARGETS_UID], "目标状态与说明")
    code = _override(status, "status_code")
    assert code["custom.cellOptions"]["type"] == "color-background"
    colours = {k: v["color"] for k, v in code["mappings"][0]["options"].items()}
    assert colours["2"] == "orange" and colours["4"] == "dark-red"
    assert _override(status, "explanation_en")["custom.hidden"] is True
    assert "custom.hidden" not in _override(status, "explanation_zh")
    assert _override(status, "status")["custom.hidden"] is True  # the English code
    path = tmp_path / "en.toml"
    path.write_text(
        SHIPPED.read_text(encoding="utf-8").replace(
            'language = "zh"\ninfluxdb', 'language = "en"\ninfluxdb'
        ),
        encoding="utf-8",
    )
    english = dashboards.build_all(load_settings(path, {}))
    panel = _panel(english[dashboards.TARGETS_UID], "Target status and explanation")
    assert _override(panel, "explanation_zh")["custom.hidden"] is True
    assert "custom.hidden" not in _override(panel, "explanation_en")


def test_every_panel_says_what_its_title_says_on_the_shipped_settings(
    shipped: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    """ "小时数据完整率" is a share per local day (``GROUP BY time(1d, -8h)``: InfluxQL
    offsets the buckets, which otherwise start at UTC midnight); "重污染天数（目标）" is
    shown only when a heavy-pollution-days target is configured (none in hunnan.toml)."""
    completeness = _panel(shipped[dashboards.AIR_UID], "小时数据完整率")
    assert "GROUP BY time(1d, -8h)" in completeness["targets"][0]["query"]
    titles = [p["title"] for p in shipped[dashboards.TARGETS_UID]["panels"]]
    assert "重污染天数（目标）" not in titles
    assert {"水质达标断面比例", "河流源头治理进度", "新增绿色工厂"} <= set(titles)
    path = tmp_path / "heavy.toml"
    path.write_text(
        SHIPPED.read_text(encoding="utf-8")
        + '\n[[targets]]\nkind = "heavy_pollution_days"\nid = "heavy_2026"\n'
        'name = "重污染天数 ≤ 3"\narea = "hunnan"\nyear = 2026\nmax = 3\n',
        encoding="utf-8",
    )
    with_heavy = dashboards.build_all(load_settings(path, {}))[dashboards.TARGETS_UID]
    assert "重污染天数（目标）" in [p["title"] for p in with_heavy["panels"]]
    # panel ids stay the panel's place in the spec (alert links point at them)
    assert [p["id"] for p in with_heavy["panels"]] == list(range(1, 12))


def test_a_target_not_assessable_yet_says_so(shipped: dict[str, dict[str, Any]]) -> None:
    """The shipped sections have no target class yet, so the river-class target has no
    value: its stat shows Grafana's "No value" text (``fieldConfig.defaults.noValue``,
    docs "Configure standard options") instead of a bare goal."""
    rivers = _panel(shipped[dashboards.TARGETS_UID], "水质达标断面比例")
    assert rivers["fieldConfig"]["defaults"]["noValue"].endswith("暂无法评估")


def test_river_panels_say_why_they_are_empty_on_the_shipped_settings(
    shipped: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    """No source gives the target classes (目标类别) of the Hun River sections
    (shared/reference/standards.md §4: "No source naming them, or their monitoring sections
    and target classes, has been found"; data-sources.md: "exact sections U"), so
    hunnan.toml sets none and the share meeting the target, the meets-target column and the
    section-class rule have nothing to show. The panels say why: "No value" text
    (``fieldConfig.defaults.noValue``) and the panel description (the "i" by the title;
    docs "Configure panel options": Description), naming the key to set."""
    settings = load_settings(SHIPPED, {})
    assert all(s.target_class is None for s in settings.water_sections)
    share = _panel(shipped[dashboards.TARGETS_UID], "水质达标断面比例")
    assert share["fieldConfig"]["defaults"]["noValue"] == "未设目标类别，暂无法评估"
    latest = _panel(shipped[dashboards.RIVERS_UID], "最新水质与目标类别")
    for panel in (share, latest):
        assert "未设目标类别" in panel["description"]
        assert "target_class" in panel["description"]
    english = tmp_path / "en.toml"
    english.write_text(
        SHIPPED.read_text(encoding="utf-8").replace(
            'language = "zh"\ninfluxdb', 'language = "en"\ninfluxdb'
        ),
        encoding="utf-8",
    )
    en = dashboards.build_all(load_settings(english, {}))
    en_share = _panel(en[dashboards.TARGETS_UID], "Sections meeting their target class")
    assert en_share["fieldConfig"]["defaults"]["noValue"] == "no target class set"
    assert "No section has a target class" in en_share["description"]
    # once a class is set the panels show data, and say nothing of the kind
    path = tmp_path / "classes.toml"
    path.write_text(
        SHIPPED.read_text(encoding="utf-8").replace(
            'id = "hun_gaokan_bridge"\n', 'id = "hun_gaokan_bridge"\ntarget_class = "III"\n'
        ),
        encoding="utf-8",
    )
    boards = dashboards.build_all(load_settings(path, {}))
    share = _panel(boards[dashboards.TARGETS_UID], "水质达标断面比例")
    latest = _panel(boards[dashboards.RIVERS_UID], "最新水质与目标类别")
    assert share["fieldConfig"]["defaults"]["noValue"] == "暂无法评估"
    assert "description" not in share and "description" not in latest
