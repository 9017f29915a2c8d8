"""Every alert rule, evaluated as Grafana does (query A over the rule's time range with
``$timeFilter`` substituted, reduce ``last`` per series, threshold), on real InfluxDB 1.x
loaded with published points: the breach makes the condition true, the calm period not.

Numbers are those of tests/published.py (HJ 633 Table 1, GB 3838 Table 1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.grafana import alerts
from monitor.influxdb.queries import render, unresolved
from monitor.settings import Settings, load_settings
from tests.engines import Influx1
from tests.published import (
    BREACH_DAY,
    FIRST_HOUR,
    HEALTH_AT,
    LAST_HOUR,
    SETTINGS,
    WATER_BREACH_END,
    WATER_CALM_END,
    Published,
    load_published,
)

START = int(FIRST_HOUR.timestamp())


@pytest.fixture(scope="module")
def published(influx1: Influx1, tmp_path_factory: pytest.TempPathFactory) -> Published:
    return load_published(influx1, tmp_path_factory.mktemp("published"))


def settings_with(tmp_path: Path, grafana: str = "") -> Settings:
    path = tmp_path / "envmon.toml"
    path.write_text(SETTINGS + "\n[grafana]\n" + grafana, encoding="utf-8")
    return load_settings(path, {})


def evaluate(influx: Influx1, rule: alerts.Rule, now: int) -> dict[tuple[str, ...], bool] | str:
    """Firing state of each series at ``now``; ``"no data"`` when the query returns none
    (the rule's ``noDataState`` decides then)."""
    text = render(rule.query.text, start=now - rule.lookback_seconds, end=now, interval_seconds=1)
    assert unresolved(text) == []
    series = influx.query(text)
    if not series:
        return "no data"
    out = {}
    for item in series:
        values = [row[1] for row in item["values"] if isinstance(row[1], int | float)]
        labels = tuple(f"{k}={v}" for k, v in sorted(item.get("tags", {}).items()))
        out[labels] = rule.fires(float(values[-1]))  # reduce: last, non-numbers dropped
    return out


def by_uid(settings: Settings) -> dict[str, alerts.Rule]:
    return {r.uid: r for r in alerts.rules(settings)}


def test_air_quality_rules(published: Published, influx1: Influx1, tmp_path: Path) -> None:
    rules = by_uid(settings_with(tmp_path))
    breach, calm = LAST_HOUR + 60, BREACH_DAY - 60  # end of day 2 / end of day 1
    # area: 185 at the last (odd) hour → > 100, not > 200; day 1: 50/49 → neither
    assert evaluate(influx1, rules["envmon-area-aqi-100"], breach) == {("site=hunnan",): True}
    assert evaluate(influx1, rules["envmon-area-aqi-200"], breach) == {("site=hunnan",): False}
    assert evaluate(influx1, rules["envmon-area-aqi-100"], calm) == {("site=hunnan",): False}
    # stations: 2900A 294 > 200, 1099A 49
    assert evaluate(influx1, rules["envmon-site-aqi-200"], breach) == {
        ("site=1099A",): False,
        ("site=2900A",): True,
    }
    assert evaluate(influx1, rules["envmon-site-aqi-200"], calm) == {
        ("site=1099A",): False,
        ("site=2900A",): False,
    }
    # nothing in the 3 h before the first hour: no data, and the rule stays OK
    assert rules["envmon-area-aqi-100"].no_data == "OK"
    assert evaluate(influx1, rules["envmon-area-aqi-100"], START - 3600) == "no data"


def test_target_rules(published: Published, influx1: Influx1, tmp_path: Path) -> None:
    # 72 non-good days still affordable after 2026-11-02 (365 − 292 − 1)
    target = ("target=good_days_2026",)
    at = BREACH_DAY + 60
    tight = by_uid(settings_with(tmp_path, "budget_alert_days = 72\n"))
    loose = by_uid(settings_with(tmp_path, "budget_alert_days = 71\n"))
    assert evaluate(influx1, tight["envmon-good-day-budget"], at) == {target: True}
    assert evaluate(influx1, loose["envmon-good-day-budget"], at) == {target: False}
    # status: at_risk (2) from 2026-11-01; not assessable (9) as of 2026-10-31
    status = by_uid(settings_with(tmp_path))["envmon-target-status"]
    assert evaluate(influx1, status, at) == {("target=good_days_2026",): True}
    assert evaluate(influx1, status, START - 3600) == {("target=good_days_2026",): False}
    assert [status.fires(c) for c in (0, 1, 2, 3, 4, 9)] == [
        False,
        False,
        True,
        True,
        False,
        False,
    ]


def test_water_rules(published: Published, influx1: Influx1, tmp_path: Path) -> None:
    rules = by_uid(settings_with(tmp_path))
    breach, calm = WATER_BREACH_END + 60, WATER_CALM_END + 60
    section = ("site=sec_a",)
    # breach reading: 劣V against target III; DO 2.5 < 3; NH3-N 2.6 > 2.0 (Class V limit)
    assert evaluate(influx1, rules["envmon-section-class"], breach) == {section: True}
    assert evaluate(influx1, rules["envmon-do-low"], breach) == {("site=sec_a",): True}
    assert evaluate(influx1, rules["envmon-nh3n-high"], breach) == {("site=sec_a",): True}
    # calm reading: Class II, DO 7.0, NH3-N 0.4
    assert evaluate(influx1, rules["envmon-section-class"], calm) == {section: False}
    assert evaluate(influx1, rules["envmon-do-low"], calm) == {("site=sec_a",): False}
    assert evaluate(influx1, rules["envmon-nh3n-high"], calm) == {("site=sec_a",): False}
    # boundaries: DO exactly 3 meets Class IV; NH3-N exactly 2.0 is still Class V
    assert not rules["envmon-do-low"].fires(3.0) and rules["envmon-do-low"].fires(2.99)
    assert not rules["envmon-nh3n-high"].fires(2.0) and rules["envmon-nh3n-high"].fires(2.01)


def test_silence_and_heartbeat_rules(
    published: Published, influx1: Influx1, tmp_path: Path
) -> None:
    rules = by_uid(settings_with(tmp_path))
    at = HEALTH_AT + 60
    # cnemc_air: age 1800 s < 60 min + 120 min grace = 10800 s → calm
    assert evaluate(influx1, rules["envmon-silent-site-cnemc_air"], at) == {
        ("site=1099A", "source=cnemc_air"): False,
        ("site=2900A", "source=cnemc_air"): False,
    }
    assert evaluate(influx1, rules["envmon-silent-source-cnemc_air"], at) == {
        ("source=cnemc_air",): False
    }
    # river_lab: last reading 11.5 h old = 41400 s > 240 min + 120 min = 21600 s → breach
    assert evaluate(influx1, rules["envmon-silent-site-river_lab"], at) == {
        ("site=sec_a", "source=river_lab"): True
    }
    assert evaluate(influx1, rules["envmon-silent-source-river_lab"], at) == {
        ("source=river_lab",): True
    }
    heartbeat = rules["envmon-heartbeat"]
    assert evaluate(influx1, heartbeat, at) == {(): False}  # a beat 60 s ago
    # 10 minutes after the last beat nothing is left in the window: no data → Alerting
    assert evaluate(influx1, heartbeat, HEALTH_AT + 601) == "no data"
    assert (heartbeat.no_data, heartbeat.exec_error) == ("Alerting", "Alerting")


def test_every_rule_is_covered() -> None:
    """The tests above exercise every rule the scenario generates."""
    settings = load_settings(Path(__file__).parents[2] / "config" / "hunnan.toml", {})
    fixed = {r.uid for r in alerts.rules(settings) if "-silent-" not in r.uid}
    assert fixed == {
        "envmon-area-aqi-100",
        "envmon-area-aqi-200",
        "envmon-site-aqi-200",
        "envmon-good-day-budget",
        "envmon-target-status",
        "envmon-section-class",
        "envmon-do-low",
        "envmon-nh3n-high",
        "envmon-heartbeat",
    }
    silent = {r.uid for r in alerts.rules(settings) if "-silent-" in r.uid}
    enabled = [s.name for s in settings.sources if s.enabled]
    assert len(silent) == 2 * len(enabled)
