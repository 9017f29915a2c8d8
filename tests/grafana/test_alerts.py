"""Every alert rule, evaluated as Grafana does (query A over the rule's time range with
``$timeFilter`` substituted, reduce ``last`` per series, threshold), on real InfluxDB 1.x
loaded with published points: the breach makes the condition true, the calm period not.

Numbers are those of tests/published.py (HJ 633 Table 1, GB 3838 Table 1)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pandas as pd
import pytest

from monitor.grafana import alerts
from monitor.influxdb.queries import catalogue, render, unresolved
from monitor.ledger import Ledger
from monitor.service.pipeline import evaluate_dirty
from monitor.service.publish import Publisher
from monitor.settings import Settings, load_settings
from tests.engines import Influx1
from tests.published import (
    BREACH_DAY,
    FIRST_HOUR,
    HEALTH_AT,
    LAST_HOUR,
    SETTINGS,
    STARTED_AT,
    WATER_BREACH_END,
    WATER_CALM_END,
    Published,
    _observations,
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


def evaluate(
    influx: Influx1, rule: alerts.Rule, now: int, database: str = "envmon"
) -> dict[tuple[str, ...], bool] | str:
    """Firing state of each series at ``now``; ``"no data"`` when the query returns none
    (the rule's ``noDataState`` decides then)."""
    text = render(rule.query.text, start=now - rule.lookback_seconds, end=now, interval_seconds=1)
    assert unresolved(text) == []
    series = influx.query(text, database)
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
    # status codes (monitor.influxdb.points.STATUS_CODES): 0 achieved, 1 on_track,
    # 2 at_risk, 3 off_track, 4 failed, 9 not_assessable. Off track → failed must not end
    # in a [RESOLVED] mail only: the warning rule stops and the critical one starts.
    failed = by_uid(settings_with(tmp_path))["envmon-target-failed"]
    codes = (0, 1, 2, 3, 4, 9)
    assert [status.fires(c) for c in codes] == [False, False, True, True, False, False]
    assert [failed.fires(c) for c in codes] == [False, False, False, False, True, False]
    assert (status.severity, failed.severity) == ("warning", "critical")
    assert failed.query == status.query
    assert evaluate(influx1, failed, at) == {("target=good_days_2026",): False}  # at_risk


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
    # only readings newer than twice the water source's interval count (river_lab:
    # 240 min → 8 h): 7 h after the breach reading it still fires, 9 h after it is stale
    # and the query is empty (no data → OK), not a month of alerts from one reading
    assert rules["envmon-do-low"].lookback_seconds == 2 * 240 * 60
    for uid in ("envmon-section-class", "envmon-do-low", "envmon-nh3n-high"):
        rule = rules[uid]
        assert rule.lookback_seconds == 8 * 3600 and rule.no_data == "OK"
        assert evaluate(influx1, rule, WATER_BREACH_END + 7 * 3600) == {section: True}
        assert evaluate(influx1, rule, WATER_BREACH_END + 9 * 3600) == "no data"
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
    # the e-mail says hours and minutes, not seconds: H and M of B (41 400 s = 11 h 30 min;
    # limit 240 min + 120 min grace = 6 h)
    site_rule = rules["envmon-silent-site-river_lab"]
    text = expand(
        site_rule.summary_zh, {"site": "sec_a", "source": "river_lab"}, duration_values(41400)
    )
    assert text == (
        "数据源 river_lab 的站点 甲断面 已 11 小时 30 分 无新数据（超过采集间隔加宽限 6 小时）。"
    )
    english = expand(site_rule.summary_en, {"site": "sec_a"}, duration_values(41400))
    assert "11 h 30 min" in english and "6 h" in english
    # no value in the whole health window (7 days, publish.HEALTH_WINDOW_S): said as such,
    # not as "168 小时 0 分"
    never = expand(site_rule.summary_zh, {"site": "sec_a"}, duration_values(7 * 86400))
    assert (
        never
        == "数据源 river_lab 的站点 甲断面 近 7 天没有任何数据（从未采集到，或已中断 7 天以上）。"
    )
    just_below = expand(site_rule.summary_zh, {"site": "sec_a"}, duration_values(7 * 86400 - 60))
    assert "167 小时 59 分" in just_below
    source_rule = rules["envmon-silent-source-cnemc_air"]
    text = expand(source_rule.summary_zh, {"source": "cnemc_air"}, duration_values(12000))
    assert "已 3 小时 20 分 未采集到新时段" in text and "秒" not in text
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
        "envmon-own-qc",
        "envmon-day-not-good",
        "envmon-day-heavy",
        "envmon-good-day-budget",
        "envmon-target-status",
        "envmon-target-failed",
        "envmon-section-class",
        "envmon-do-low",
        "envmon-nh3n-high",
        "envmon-heartbeat",
    }
    silent = {r.uid for r in alerts.rules(settings) if "-silent-" in r.uid}
    enabled = [s.name for s in settings.sources if s.enabled]
    assert len(silent) == 2 * len(enabled)


def test_no_rule_uses_the_unfiltered_queries_or_mixes_as_of_dates() -> None:
    """The catalogue keeps ``alert_site_aqi``/``alert_area_aqi`` (every station of an
    imported national archive, the model cell) only to show what the filtered rules leave
    out: no rule on the shipped settings runs them. Each rule's query selects ONE field with
    ``last()`` per series, and B reduces that one number (``reduce`` ``last``, Grafana
    ``pkg/expr/mathexp/reduce.go``) against a constant threshold: no rule compares or mixes
    values of different as-of dates (the stat panels' concern, test_month)."""
    settings = load_settings(Path(__file__).parents[2] / "config" / "hunnan.toml", {})
    unfiltered = {catalogue()[k].text for k in ("alert_site_aqi", "alert_area_aqi")}
    for rule in alerts.rules(settings):
        assert rule.query.text not in unfiltered, rule.uid
        assert rule.query.alert, rule.uid
        select = rule.query.text.split(" FROM ", 1)[0]
        # the own-QC rule asks whether ANY value of its range is flagged: max of one field
        # per station, still one number of one kind, no as-of dates compared
        reducer = "max" if rule.uid == "envmon-own-qc" else "last"
        assert re.fullmatch(rf'SELECT {reducer}\("\w+"\) AS "\w+"', select), (rule.uid, select)
        if rule.uid.startswith(("envmon-site-aqi", "envmon-area-aqi", "envmon-day-")):
            assert '"site" =~ /^' in rule.query.text, rule.uid  # configured ids only


def test_alert_mails_name_stations_sections_areas_and_targets() -> None:
    """Officer-facing text shows names, never ids (issue 15, "Officer-facing text shows
    internal codes"): each summary prints ``$labels.site``/``$labels.target`` through a
    text/template ``if eq … else if … end`` chain of the configured names (Go text/template
    "Actions": ``{{if pipeline}} T1 {{else if pipeline}} T0 {{end}}``; ``eq`` compares
    strings), as Grafana's annotation templates run it; an id without a name prints itself."""
    settings = load_settings(Path(__file__).parents[2] / "config" / "hunnan.toml", {})
    rules = by_uid(settings)
    values = {"B": 250.0, "H": 3.0, "M": 20.0}
    cases = {
        "envmon-site-aqi-200": ({"site": "1099A"}, "浑南东路"),
        "envmon-area-aqi-100": ({"site": "hunnan"}, "浑南区"),
        "envmon-day-not-good": ({"site": "hunnan"}, "浑南区"),
        "envmon-section-class": ({"site": "hun_gaokan_bridge"}, "高坎大桥"),
        "envmon-nh3n-high": ({"site": "hun_gaokan_bridge"}, "高坎大桥"),
        "envmon-target-failed": ({"target": "good_days_2026"}, "优良天数比例 ≥ 80 %"),
        "envmon-good-day-budget": ({"target": "good_days_2026"}, "优良天数比例 ≥ 80 %"),
        "envmon-silent-site-cnemc_shenyang": (
            {"site": "1098A", "source": "cnemc_shenyang"},
            "森林路（对照点）",
        ),
    }
    for uid, (labels, name) in cases.items():
        text = expand(rules[uid].summary_zh, labels, values)
        code = next(iter(labels.values()))
        assert name in text and code not in text, (uid, text)
    english = expand(rules["envmon-site-aqi-200"].summary_en, {"site": "1099A"}, values)
    assert "Station Hunnan East Road: hourly AQI 250" in english
    unknown = expand(rules["envmon-site-aqi-200"].summary_zh, {"site": "9999A"}, values)
    assert "站点 9999A 小时AQI为 250" in unknown
    # status codes in words (2 有风险, 3 偏离目标, 4 未达成: the status table's mappings),
    # and no code printed in the description either
    target = {"target": "good_days_2026"}
    status, failed = rules["envmon-target-status"], rules["envmon-target-failed"]
    assert expand(status.summary_zh, target, {"B": 2.0}) == "目标 优良天数比例 ≥ 80 % 进度有风险。"
    assert expand(status.summary_zh, target, {"B": 3.0}).endswith("进度偏离目标。")
    assert expand(status.summary_en, target, {"B": 3.0}).endswith(": off track.")
    assert "未达成" in expand(failed.summary_zh, target, {"B": 4.0})
    for rule in (status, failed, rules["envmon-section-class"]):
        annotations = alerts.api_rule(rule, settings)["annotations"]
        assert "{{ $values.B.Value }}" not in str(annotations), rule.uid  # never printed
    # the generated template itself: one branch per configured station, area, section, cell
    chain = alerts.label_name("site", {"1099A": "浑南东路", 'a"b': "x"})
    assert chain == (
        '{{ if eq $labels.site "1099A" }}浑南东路{{ else if eq $labels.site "a\\"b" }}x'
        "{{ else }}{{ $labels.site }}{{ end }}"
    )


# --------------------------------------------------------------------------- helpers


def duration_values(seconds: float) -> dict[str, float]:
    """``$values`` of a silence rule: B, and H, M as Grafana's math expressions compute
    them (``floor($B / 3600)``, ``floor(($B % 3600) / 60)``: the math expression has the
    operators ``/`` and ``%`` and the function ``floor``, docs/sources/panels-visualizations/
    query-transform-data/expression-queries/index.md "Math"; pkg/expr/mathexp)."""
    formulas = alerts.DURATION_EXPRESSIONS
    assert formulas == {"H": "floor($B / 3600)", "M": "floor(($B % 3600) / 60)"}
    return {"B": seconds, "H": math.floor(seconds / 3600), "M": math.floor((seconds % 3600) / 60)}


def _go(value: float) -> str:
    """A float64 as Go's text/template prints it (``%v``: shortest, no ``.0``)."""
    return f"{value:g}"


_CHAIN = re.compile(
    r'\{\{ if eq \$labels\.(\w+) "[^"]*" \}\}.*?\{\{ else \}\}\{\{ \$labels\.\1 \}\}\{\{ end \}\}',
    re.S,
)
_CASE = re.compile(r'\{\{ (?:if|else if) eq \$labels\.\w+ ("[^"]*") \}\}(.*?)(?=\{\{ )', re.S)


def _names(template: str, labels: dict[str, str]) -> str:
    """The ``if eq $labels.x "id"`` … ``else`` chains of :func:`alerts.label_name` as Go's
    text/template runs them: the branch whose id equals the label, else the label."""

    def pick(match: re.Match[str]) -> str:
        label = labels.get(match.group(1), "")
        cases = {str(json.loads(code)): str(name) for code, name in _CASE.findall(match.group(0))}
        return cases.get(label, label)

    return _CHAIN.sub(pick, template)


def expand(template: str, labels: dict[str, str], values: dict[str, float]) -> str:
    """The annotation as Grafana would expand it, for the constructs the rules use:
    ``{{ $labels.x }}``, ``{{ $values.X.Value }}`` and ``{{ if $values }}…{{ else }}…{{ end }}``
    (an empty map is false in Go templates; docs/sources/alerting/alerting-rules/templates/
    reference.md, "$values")."""
    out = _names(template, labels)
    branch = re.compile(r"\{\{ if \$values \}\}(.*?)\{\{ else \}\}(.*?)\{\{ end \}\}", re.S)
    out = branch.sub(lambda m: m.group(1) if values else m.group(2), out)
    equal = re.compile(
        r"\{\{ if eq \$values\.(\w+)\.Value ([\d.]+) \}\}(.*?)\{\{ else \}\}(.*?)\{\{ end \}\}",
        re.S,
    )
    out = equal.sub(
        lambda m: m.group(3) if values[m.group(1)] == float(m.group(2)) else m.group(4), out
    )
    at_least = re.compile(
        r"\{\{ if ge \$values\.(\w+)\.Value ([\d.]+) \}\}(.*?)\{\{ else \}\}(.*?)\{\{ end \}\}",
        re.S,
    )
    out = at_least.sub(
        lambda m: m.group(3) if values[m.group(1)] >= float(m.group(2)) else m.group(4), out
    )
    out = re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels.get(m.group(1), ""), out)
    out = re.sub(r"\{\{ \$values\.(\w+)\.Value \}\}", lambda m: _go(values[m.group(1)]), out)
    assert "{{" not in out, out
    return out


def test_human_duration_matches_the_math_expressions() -> None:
    for seconds in (0, 59, 60, 3599, 3600, 12000, 41400, 7 * 86400):
        values = duration_values(seconds)
        zh = f"{_go(values['H'])} 小时 {_go(values['M'])} 分"
        assert alerts.human_duration(seconds, "zh") == zh
    assert alerts.human_duration(12000, "en") == "3 h 20 min"


# --------------------------------------------------------------------------- new rules


def test_daily_non_good_day_rule(published: Published, influx1: Influx1, tmp_path: Path) -> None:
    """HJ 633-2012 Table 2: a day is good (优良) when its AQI is ≤ 100; > 200 is heavily
    polluted. The pipeline's daily area AQI is 49 on 2026-11-01 and 186 (level 4) on the
    breach day 2026-11-02 (tests/published.py), read back from the daily series."""
    rules = by_uid(settings_with(tmp_path))
    not_good, heavy = rules["envmon-day-not-good"], rules["envmon-day-heavy"]
    area = ("site=hunnan",)
    assert (not_good.severity, heavy.severity) == ("warning", "critical")
    assert not_good.query.measurement == "aqi_daily"
    breach = LAST_HOUR + 60
    assert evaluate(influx1, not_good, breach) == {area: True}
    assert evaluate(influx1, heavy, breach) == {area: False}
    assert evaluate(influx1, not_good, BREACH_DAY - 60) == {area: False}  # 49
    # the rule watches the district's area only (the good-day target's area)
    assert "/^hunnan$/" in not_good.query.text
    assert not_good.fires(101) and not not_good.fires(100)
    assert heavy.fires(201) and not heavy.fires(200)


def test_rules_watch_configured_stations_and_areas(influx1: Influx1, tmp_path: Path) -> None:
    """An imported national archive brings every station of China (1,479), and the
    Open-Meteo model point is a site too: neither raises an official alert. Points are
    written to a database of their own, in the publisher's aqi_hourly shape."""
    settings = settings_with(tmp_path)
    rules = by_uid(settings)
    db = "alerts_scope"
    influx1.reset(db)
    at = int(pd.Timestamp("2030-01-01 12:00", tz="Asia/Shanghai").timestamp())
    lines = [
        f"aqi_hourly,scope=site,site={site},standard=hj633-2026 aqi=300,official=1 {at}"
        for site in ("1099A", "2900A", "1479A", "hunnan_model")
    ] + [
        f"aqi_hourly,scope=area,site={area},standard=hj633-2026 aqi=300,official=1 {at}"
        for area in ("hunnan", "elsewhere")
    ]
    influx1.write(lines, db)
    now = at + 60
    assert evaluate(influx1, rules["envmon-site-aqi-200"], now, db) == {
        ("site=1099A",): True,
        ("site=2900A",): True,
    }
    assert evaluate(influx1, rules["envmon-area-aqi-200"], now, db) == {("site=hunnan",): True}
    # the catalogue's unfiltered query would have alerted on all of them
    unfiltered = influx1.query(
        render(catalogue()["alert_site_aqi"].text, start=now - 3600, end=now, interval_seconds=1),
        db,
    )
    assert len(unfiltered) == 4


def test_hourly_aqi_rules_keep_firing_against_flapping(tmp_path: Path) -> None:
    """Hourly values hovering around 100 would fire and resolve every hour with ``for: 0s``:
    the AQI rules keep firing 2 h after the value drops (``keepFiringFor``, parsed with
    model.ParseDuration in pkg/services/provisioning/alerting/rules_types.go
    ``AlertRuleV1``; the HTTP API's ``keep_firing_for``,
    pkg/services/ngalert/api/tooling/definitions/provisioning_alert_rules.go)."""
    settings = settings_with(tmp_path)
    for uid in ("envmon-area-aqi-100", "envmon-area-aqi-200", "envmon-site-aqi-200"):
        rule = by_uid(settings)[uid]
        assert rule.keep_firing_for == "2h"
        assert alerts.file_rule(rule, settings)["keepFiringFor"] == "2h"
        api = alerts.api_rule(rule, settings)  # the API's name for the same field
        assert api["keep_firing_for"] == "2h" and "keepFiringFor" not in api


def test_a_source_that_never_delivered_alerts(influx1: Influx1, tmp_path: Path) -> None:
    """A configured source that never delivered has no watermark: the publisher's
    source_health point has no age_seconds, the rule's query returns nothing, and
    ``noDataState: Alerting`` makes that an alert (after a 15 min pending period). Its
    station has no value in the health window: age = the window (7 days) > the limit."""
    config = tmp_path / "envmon.toml"
    config.write_text(
        SETTINGS
        + """
[[sources]]
name = "quiet_lab"
collector = "cnemc_water"
interval_minutes = 240
stations = ["sec_b"]
""",
        encoding="utf-8",
    )
    settings = load_settings(config, {})
    db = "alerts_quiet"
    influx1.reset(db)

    class Lines:
        def write(self, lines: object) -> None:
            influx1.write(list(lines), db)  # type: ignore[call-overload]

    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        Publisher(ledger, settings, Lines()).health_round(STARTED_AT, now=HEALTH_AT)
    rules = by_uid(settings)
    source = rules["envmon-silent-source-quiet_lab"]
    assert evaluate(influx1, source, HEALTH_AT + 60, db) == "no data"
    assert (source.no_data, source.pending) == ("Alerting", "15m")
    text = expand(source.summary_zh, {}, {})  # no data: no $values
    assert "从未采集到数据" in text
    site = rules["envmon-silent-site-quiet_lab"]
    assert evaluate(influx1, site, HEALTH_AT + 60, db) == {
        ("site=sec_b", "source=quiet_lab"): True
    }


def test_alert_links_use_grafanas_own_address(tmp_path: Path) -> None:
    """Links come from Grafana, not from ``[grafana] url`` (the address envmon reaches
    Grafana at): ``{{ externalURL }}`` is GF_SERVER_ROOT_URL, ending in ``/``
    (docs/sources/alerting/alerting-rules/templates/reference.md "externalURL";
    pkg/setting/setting.go parseAppUrlAndSubUrl), and the rule's dashboard uid and panel
    id give Grafana's own ``.DashboardURL``/``.PanelURL`` in the e-mail (notification
    template reference, "Alert")."""
    settings = settings_with(tmp_path, 'url = "http://grafana.internal:3999"\n')
    for rule in alerts.rules(settings):
        api = alerts.api_rule(rule, settings)
        notes = api["annotations"]
        assert "grafana.internal" not in str(notes)
        assert (
            f"{{{{ externalURL }}}}d/{rule.dashboard}?viewPanel={rule.panel}"
            in (notes["description"])
        )
        assert (notes["__dashboardUid__"], notes["__panelId__"]) == (
            rule.dashboard,
            str(rule.panel),
        )
        entry = alerts.file_rule(rule, settings)
        assert (entry["dashboardUid"], entry["panelId"]) == (rule.dashboard, rule.panel)


def test_own_qc_flags_alert_on_evaluation_stations(influx1: Influx1, tmp_path: Path) -> None:
    """Issue 13 §3: envmon's own QC flags are advisory by default, "shown, counted,
    alerted". The scenario's air (tests/published.py, no value flagged: all below the
    ``stuck`` floors, alternating hours) goes through the real pipeline and publisher, with
    1099A PM2.5 of the last hour −3 µg/m³ (flag ``negative``: a concentration cannot be
    below zero) and the same at 1479A, a station of an imported archive that is not
    configured: the rule fires for 1099A only; 2900A stays calm; the day before is calm."""
    settings = settings_with(tmp_path)
    rule = by_uid(settings)["envmon-own-qc"]
    assert (rule.severity, rule.pending, rule.no_data) == ("warning", "1h", "OK")
    assert rule.query.measurement == "air_observation"
    air, _water = _observations()
    last = air["period_end"] == air["period_end"].max()
    air.loc[last & (air["site"] == "1099A") & (air["parameter"] == "pm2_5"), "value"] = -3.0
    archive = air[air["site"] == "2900A"].assign(site="1479A")
    archive.loc[archive["period_end"] == archive["period_end"].max(), "value"] = -3.0
    db = "own_qc"
    influx1.reset(db)

    class Writer:
        def write(self, lines: object) -> None:
            influx1.write(list(lines), db)  # type: ignore[call-overload]

    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        ledger.write_observations(pd.concat([air, archive], ignore_index=True), "cnemc_air")
        evaluate_dirty(ledger, settings)
        Publisher(ledger, settings, Writer()).drain()
    (flagged,) = influx1.query(
        """SELECT "qc_flags" FROM "air_observation" WHERE "qc_count" > 0 AND "site" = '1099A'""",
        db,
    )
    assert [row[1] for row in flagged["values"]] == ["negative"]
    breach = LAST_HOUR + 60
    assert evaluate(influx1, rule, breach, db) == {("site=1099A",): True, ("site=2900A",): False}
    calm = BREACH_DAY - 60  # day 1: clean values only
    assert evaluate(influx1, rule, calm, db) == {("site=1099A",): False, ("site=2900A",): False}
    # the flagged value leaves the 3 h range: calm again
    assert evaluate(influx1, rule, LAST_HOUR + 3 * 3600 + 60, db) == "no data"
    assert rule.fires(1) and not rule.fires(0)
