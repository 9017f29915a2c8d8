"""The realistic month (:mod:`tests.month`) on config/hunnan.toml exactly as shipped: no
section has a target class (no source gives the Hun River sections' classes,
shared/reference/standards.md §4), the national water source lists its sections by
published name. Every panel shows what its title says, except what the missing target
classes leave empty, and there the dashboard says why: the panel ``description`` and, for
the target stat, the "No value" text (Grafana docs "Configure panel options", "Configure
standard options": No value), and the target's explanation in the status table. Every
rule query returns data except the section-class rule, which has nothing to compare until
the classes are set (``noDataState`` OK: no e-mail)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from monitor.grafana import alerts, dashboards
from monitor.influxdb import queries
from tests.engines import Influx1
from tests.grafana.test_month import run_every_panel
from tests.month import NOW, Month, load_month


@pytest.fixture(scope="module")
def shipped_month(influx1: Influx1, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Month]:
    yield load_month(influx1, tmp_path_factory.mktemp("shipped"), target_classes=False)


def _panel(month: Month, title: str) -> dict[str, Any]:
    boards = dashboards.build_all(month.settings)
    return next(p for b in boards.values() for p in b["panels"] if p["title"] == title)


def test_every_panel_on_the_shipped_settings(shipped_month: Month, influx1: Influx1) -> None:
    settings = shipped_month.settings
    assert all(s.target_class is None for s in settings.water_sections)
    problems, empty = run_every_panel(settings, influx1)
    assert [where for where, _ in empty] == []
    # the river target's value cannot exist without classes: its stat and its status row
    assert problems == [
        "envmon-targets #5 水质达标断面比例: value is empty in every row",
        "envmon-targets #11 目标状态与说明: value is empty in every row",
    ], "\n".join(problems)
    share = _panel(shipped_month, "水质达标断面比例")
    assert share["fieldConfig"]["defaults"]["noValue"] == "未设目标类别，暂无法评估"
    for panel in (share, _panel(shipped_month, "最新水质与目标类别")):
        assert "未设目标类别" in panel["description"] and "target_class" in panel["description"]
    status = queries.render(
        queries.catalogue()["target_status"].text, start=NOW - 86400 * 60, end=NOW
    )
    rows = {s["tags"]["target"]: dict(zip(s["columns"], s["values"][0], strict=True))
            for s in influx1.query(status)}  # fmt: skip
    river = rows["river_classes_2026"]
    assert (river["status_code"], river["value"]) == (9, None)  # 暂无法评估, no value
    assert "5个断面均未设目标类别" in river["explanation_zh"]
    assert "target class" in river["explanation_en"]


def test_every_rule_on_the_shipped_settings(shipped_month: Month, influx1: Influx1) -> None:
    settings = shipped_month.settings
    silent = []
    for rule in alerts.rules(settings):
        data = alerts.file_rule(rule, settings)["data"][0]
        text = queries.render(
            data["model"]["query"],
            start=NOW - int(data["relativeTimeRange"]["from"]),
            end=NOW,
            interval_seconds=1,
        )
        if not influx1.query(text):
            silent.append((rule.uid, rule.no_data))
    assert silent == [("envmon-section-class", "OK")]
