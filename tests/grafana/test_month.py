"""Acceptance: a realistic month on the shipped settings, every panel and rule query.

:mod:`tests.month` loads November 2026 (11 stations, 7 sections with target classes, the
model cell, imported official days) through ledger → evaluate → publish into a real
InfluxDB 1.x. Each query of each generated dashboard panel is then rendered as Grafana's
InfluxDB backend renders it (:func:`monitor.influxdb.queries.render`: variables at "All",
``$timeFilter`` of the dashboard's range or the panel's ``timeFrom``, ``$__interval`` from
the range and the panel's width), and each rule query over its ``relativeTimeRange``; every
one must return data of the type and unit its panel declares:

* every panel returns data (a panel on the shipped settings shows what its title says);
* a mapped field only holds codes its value mappings name (classes, levels, statuses,
  primary-pollutant lists), and every id in a series name or id column has a name;
* a field's unit agrees with the schema's documentation of the field
  (:data:`monitor.influxdb.points.MEASUREMENTS`): seconds ⇔ ``s``; a share (0–1) ⇒
  ``percentunit``, and its values lie in [0, 1]; ``s`` and concentrations are ≥ 0; a
  panel with 0 decimals holds whole numbers; min/max bound the values.

Grafana facts used: time ranges ``now-2d``, ``now/y`` (Grafana docs, "Time range controls":
``now/y`` is the start of the year in the dashboard's time zone); a panel's ``timeFrom``
overrides the dashboard range (docs "Query options": relative time); field overrides
"Fields with name" match the field's name (docs "Configure field overrides"); value
mappings show text for a value (docs "Configure value mappings").
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from monitor.grafana import alerts, dashboards
from monitor.grafana.catalogue import indicators
from monitor.influxdb import points, queries
from monitor.settings import Settings, load_settings
from tests.engines import Influx1
from tests.month import FLAGGED, LOCAL, NOW, Month, load_month

_UNIT_SECONDS: dict[str, int] = {"m": 60, "h": 3600, "d": 86400, "w": 604800}


@pytest.fixture(scope="module")
def month(influx1: Influx1, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Month]:
    yield load_month(influx1, tmp_path_factory.mktemp("month"))


def relative(text: str, now: int = NOW) -> int:
    """Epoch seconds of a Grafana relative time (``now-2d``, ``now-24h``, ``now/y``) in the
    dashboards' time zone (Asia/Shanghai)."""
    if text == "now/y":
        local = pd.Timestamp(now, unit="s", tz="UTC").tz_convert(LOCAL)
        return int(pd.Timestamp(year=local.year, month=1, day=1, tz=LOCAL).timestamp())
    match = re.fullmatch(r"now-(\d+)([mhdw])", text)
    assert match, text
    return now - int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


#: Grafana's rounding of a computed interval (rangeutil ``roundInterval``), in seconds.
_ROUND = (
    (1.5, 1), (3.5, 2), (7.5, 5), (12.5, 10), (17.5, 15), (25, 20), (45, 30), (90, 60),
    (210, 120), (450, 300), (750, 600), (1050, 900), (1500, 1200), (2700, 1800),
    (5400, 3600), (9000, 7200), (16200, 10800), (24300, 21600), (32400, 28800),
    (86400, 43200), (604800, 86400), (1814400, 604800),
)  # fmt: skip


def grafana_interval(seconds: int, width: int) -> float:
    """``$__interval`` of a panel: range ÷ max data points (≈ the panel's width in pixels on
    a 1920 px screen: 80 px per grid column), rounded as Grafana rounds it."""
    raw = seconds / (width * 80)
    return next((rounded for limit, rounded in _ROUND if raw <= limit), 2592000)


def _all(board: dict[str, Any]) -> dict[str, list[str]]:
    out = {}
    for variable in board["templating"]["list"]:
        out[variable["name"]] = [item.split(" : ")[1] for item in variable["query"].split(",")]
    return out


def _selected(text: str) -> dict[str, str]:
    """Column → schema field of a SELECT (``last("x") AS "y"``, ``sum("c") / 24 AS "c"``)."""
    select = text.split(" FROM ", 1)[0].removeprefix("SELECT ")
    out = {}
    for field, alias in re.findall(
        r'(?:\w+\()?"(\w+)"\)?(?:\s*/\s*\d+)?(?:\s+AS\s+"(\w+)")?', select
    ):
        out[alias or field] = field
    return out


def _schema(measurement: str) -> points.Measurement:
    return next(m for m in points.MEASUREMENTS if m.name == measurement)


def _field_config(panel: dict[str, Any], column: str, display: str) -> dict[str, Any]:
    """The field config Grafana applies to a field: defaults, then overrides whose matcher
    takes the field (byName: its name; byRegexp: a regex on its name)."""
    config = dict(panel["fieldConfig"]["defaults"])
    for override in panel["fieldConfig"]["overrides"]:
        matcher = override["matcher"]
        takes = (matcher["id"] == "byName" and matcher["options"] in (column, display)) or (
            matcher["id"] == "byRegexp" and re.search(matcher["options"], display or column)
        )
        if takes:
            for prop in override["properties"]:
                config[prop["id"]] = prop["value"]
    return config


def _codes(config: dict[str, Any]) -> set[str]:
    return {code for mapping in config.get("mappings", []) for code in mapping["options"]}


def _code(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float | int) else str(value)


def check_series(
    where: str,
    panel: dict[str, Any],
    query: queries.InfluxQuery,
    series: list[dict[str, Any]],
    names: dict[str, dict[str, str]],
) -> list[str]:
    """Problems of one query's result against its panel's declarations (``[]``: none)."""
    problems = []
    schema = _schema(query.measurement)
    docs = {**schema.floats, **schema.strings}
    columns = _selected(query.text)
    for item in series:
        for tag, value in item.get("tags", {}).items():
            if tag in names and value not in names[tag]:
                problems.append(f"{where}: {tag} {value!r} has no name")
        for n, column in enumerate(item["columns"]):
            if column == "time":
                continue
            values = [row[n] for row in item["values"] if row[n] is not None]
            field = columns.get(column, column)
            config = _field_config(panel, column, column)
            unit = config.get("unit", "none")
            doc = docs.get(field, "")
            seconds = "seconds" in doc or "[s]" in doc
            share = "(0–1)" in doc or "share (0–1)" in query.doc
            if (unit == "s") != seconds:
                problems.append(f"{where}: {column} has unit {unit!r}; schema: {doc!r}")
            if share and unit != "percentunit":
                problems.append(f"{where}: {column} is a share (0–1) shown as {unit!r}")
            codes = _codes(config)
            if codes:
                strange = {_code(v) for v in values} - codes
                if strange:
                    problems.append(f"{where}: {column} values {sorted(strange)} unmapped")
                continue
            if field in schema.strings:
                if not all(isinstance(v, str) for v in values):
                    problems.append(f"{where}: {column} is text in the schema, got {values[:3]}")
                continue
            if not values:
                problems.append(f"{where}: {column} is empty in every row")
                continue
            if not all(isinstance(v, int | float) for v in values):
                problems.append(f"{where}: {column} should be numbers, got {values[:3]}")
                continue
            if unit == "percentunit" and not all(0 <= v <= 1 for v in values):
                problems.append(f"{where}: {column} share outside 0–1: {values[:5]}")
            if (unit == "s" or unit.startswith("con") or "mg/L" in unit) and min(values) < 0:
                problems.append(f"{where}: {column} negative in unit {unit}: {min(values)}")
            if config.get("decimals") == 0 and not all(float(v).is_integer() for v in values):
                problems.append(f"{where}: {column} shown with 0 decimals: {values[:5]}")
            low, high = config.get("min"), config.get("max")
            below = low is not None and min(values) < low
            if below or (high is not None and max(values) > high):
                problems.append(f"{where}: {column} outside [{low}, {high}]")
    return problems


@pytest.mark.parametrize("language", ["zh", "en"])
def test_every_panel_query_on_a_realistic_month(
    month: Month, influx1: Influx1, language: str, tmp_path: Path
) -> None:
    """Chinese dashboards (the shipped language) and English ones, on the same data."""
    settings = month.settings
    if language != settings.grafana.language:
        text = month.config.read_text(encoding="utf-8")
        path = tmp_path / "envmon.toml"
        path.write_text(
            text.replace('language = "zh"\ninfluxdb', f'language = "{language}"\ninfluxdb'),
            encoding="utf-8",
        )
        settings = load_settings(path, {})
        assert settings.grafana.language == language
    problems, empty = run_every_panel(settings, influx1)
    problems += [f"{where}: no data" for where, _ in empty]
    assert problems == [], "\n".join(problems)


def run_every_panel(
    settings: Settings, influx1: Influx1
) -> tuple[list[str], list[tuple[str, dict[str, Any]]]]:
    """Problems of every panel query (:func:`check_series`), and the panels that returned
    nothing (where, panel)."""
    boards = dashboards.build_all(settings)
    names = dashboards.names(settings, settings.grafana.language)
    names = {**names, "site": {**names["site"], **names["area"]}}
    cat = queries.catalogue()
    catalogue = indicators(settings.grafana.budget_alert_days)
    problems: list[str] = []
    empty: list[tuple[str, dict[str, Any]]] = []
    ran = 0
    for spec in dashboards.DASHBOARDS:
        board = boards[spec.uid]
        variables = _all(board)
        for panel in board["panels"]:
            start = relative(panel.get("timeFrom") or board["time"]["from"])
            interval = grafana_interval(NOW - start, panel["gridPos"]["w"])
            where = f"{spec.uid} #{panel['id']} {panel['title']}"
            keys = spec.panels[panel["id"] - 1].indicators
            returned = 0
            for target, key in zip(panel["targets"], keys, strict=True):
                query = cat[catalogue[key].query]
                text = queries.render(
                    target["query"],
                    start=start,
                    end=NOW,
                    interval_seconds=interval,
                    variables=variables,
                )
                assert queries.unresolved(text) == [], (where, text)
                series = influx1.query(text)
                returned += len(series)
                problems += check_series(where, panel, query, series, names)
                ran += 1
            if not returned:
                empty.append((where, panel))
    assert ran == sum(len(p["targets"]) for b in boards.values() for p in b["panels"])
    return problems, empty


def test_every_rule_query_on_a_realistic_month(month: Month, influx1: Influx1) -> None:
    settings = month.settings
    boards = dashboards.build_all(settings)
    problems: list[str] = []
    rules = alerts.rules(settings)
    for rule in rules:
        data = alerts.file_rule(rule, settings)["data"][0]
        text = queries.render(
            data["model"]["query"],
            start=NOW - int(data["relativeTimeRange"]["from"]),
            end=NOW - int(data["relativeTimeRange"]["to"]),
            interval_seconds=data["model"].get("intervalMs", 1000) / 1000,
        )
        assert queries.unresolved(text) == [], (rule.uid, text)
        series = influx1.query(text)
        if not series:
            problems.append(f"{rule.uid}: no data")
        board = boards[rule.dashboard]
        panel = next(p for p in board["panels"] if p["id"] == rule.panel)
        problems += check_series(rule.uid, panel, rule.query, series, {})
    assert problems == [], "\n".join(problems)
    assert len(rules) >= 11


def test_a_value_with_two_advisory_qc_flags_counts_two_and_stays_on_the_panels(
    month: Month, influx1: Influx1
) -> None:
    """1099A PM2.5 400 µg/m³ at 2026-11-05 03:00 fails pm25_gt_pm10 and spike (tests.month):
    ``qc_count`` is 2, but both checks are advisory (GB 3095-2026 §6.4: all valid data are
    used; the shipped settings list none in ``[quality] exclude_own_flags``), so the daily
    statistics use it, ``excluded`` is 0 and the concentration panel shows it with its
    neighbours — the dashboard shows what the figures rest on."""
    site, parameter, at = FLAGGED
    (series,) = influx1.query(
        f"""SELECT "qc_count", "qc_flags", "excluded", "value" FROM "air_observation"
        WHERE "site" = '{site}' AND "parameter" = '{parameter}' AND time = {at}s"""
    )
    assert series["values"] == [[at, 2, "pm25_gt_pm10;spike", 0, 400]]
    text = queries.render(
        queries.air_concentration(parameter).text,
        start=at - 3600,
        end=at + 3600,
        interval_seconds=3600,
        variables={"site": [site]},
    )
    (shown,) = influx1.query(text)
    assert [row[0] for row in shown["values"]] == [at - 3600, at, at + 3600]
    assert shown["values"][1][1] == 400


def test_the_month_runs_the_own_qc_rule_and_it_stays_calm_without_flags(
    month: Month, influx1: Influx1
) -> None:
    """Issue 13 §3: own QC flags are alerted (``envmon-own-qc``, run by the rule test
    above). At the end of the month the evaluation stations' last 3 h carry no flag, so
    every station returns 0 and none fires; the flagged value of 2026-11-05 03:00
    (:func:`test_a_value_with_two_qc_flags_counts_two_and_stays_off_the_panels`) fires it
    over its own hours."""
    rule = {r.uid: r for r in alerts.rules(month.settings)}["envmon-own-qc"]
    stations = {s.code for s in month.settings.air_stations if s.role == "evaluation"}

    def at(end: int) -> dict[str, float]:
        text = queries.render(rule.query.text, start=end - rule.lookback_seconds, end=end)
        return {s["tags"]["site"]: float(s["values"][-1][1]) for s in influx1.query(text)}

    now = at(NOW)
    assert set(now) == stations and not any(rule.fires(v) for v in now.values())
    site, _parameter, flagged = FLAGGED
    then = at(flagged + 60)
    assert then[site] == 2 and rule.fires(then[site])


#: Rules the alerts engineer added for issue 15, each run by the rule test above.
ISSUE_15_RULES = (
    "envmon-target-failed",
    "envmon-day-not-good",
    "envmon-day-heavy",
    "envmon-silent-source-cnemc_shenyang",
    "envmon-silent-source-open_meteo_hunnan",
    "envmon-silent-source-cnemc_water",
)


def test_the_month_runs_the_new_rules_and_the_model_point_never_raises_the_site_rule(
    month: Month, influx1: Influx1
) -> None:
    """The rule test above runs every rule of :func:`alerts.rules`, among them those added
    for issue 15 (failed target, non-good and heavy days, a source that never delivered:
    ``noDataState`` Alerting). At the worst hour of the 11–13 November episode the
    Open-Meteo model cell and the control site 1098A are above 200 in the unfiltered
    query, yet the station rule's query (what Grafana reduces per series) holds only the
    configured evaluation stations, and some of them fire."""
    rules = {r.uid: r for r in alerts.rules(month.settings)}
    assert set(ISSUE_15_RULES) <= set(rules)
    for uid in ISSUE_15_RULES:
        if uid.startswith("envmon-silent-source-"):
            assert rules[uid].no_data == "Alerting", uid
    site_rule = rules["envmon-site-aqi-200"]
    episode = pd.date_range("2026-11-11 01:00", "2026-11-14 00:00", freq="h", tz=LOCAL)
    unfiltered = queries.catalogue()["alert_site_aqi"].text
    worst: tuple[float, int] | None = None
    for hour in episode:
        at = int(hour.timestamp())
        text = queries.render(unfiltered, start=at - 3 * 3600, end=at, interval_seconds=1)
        last = {s["tags"]["site"]: s["values"][-1][1] for s in influx1.query(text)}
        if "hunnan_model" in last and (worst is None or last["hunnan_model"] > worst[0]):
            worst = (last["hunnan_model"], at)
    assert worst is not None and worst[0] > 200, worst  # the model cell is "heavy"
    at = worst[1]
    text = queries.render(
        site_rule.query.text, start=at - site_rule.lookback_seconds, end=at, interval_seconds=1
    )
    series = {s["tags"]["site"]: s["values"][-1][1] for s in influx1.query(text)}
    everything = {
        s["tags"]["site"]: s["values"][-1][1]
        for s in influx1.query(
            queries.render(unfiltered, start=at - site_rule.lookback_seconds, end=at)
        )
    }
    assert everything["hunnan_model"] > 200 and everything["1098A"] > 200
    assert set(series) == set(alerts.evaluation_stations(month.settings))
    assert "hunnan_model" not in series and "1098A" not in series
    assert any(site_rule.fires(float(v)) for v in series.values())


def test_water_sections_listed_by_published_name_have_one_identity(
    month: Month, influx1: Influx1
) -> None:
    """The shipped cnemc_water source lists 于家房, 砂山, 高坎大桥 as the platform writes them;
    their readings are stored under hun_yujiafang, hun_shashan, hun_gaokan_bridge. Data
    health must report those ids only: a row under the published name has never seen a
    value, so its age is the whole health window (7 days) and the station-silence rule
    would fire for it forever."""
    (source,) = [s for s in month.settings.sources if s.name == "cnemc_water"]
    assert source.stations == ("于家房", "砂山", "高坎大桥")
    rule = {r.uid: r for r in alerts.rules(month.settings)}["envmon-silent-site-cnemc_water"]
    text = queries.render(rule.query.text, start=NOW - rule.lookback_seconds, end=NOW)
    ages = {s["tags"]["site"]: s["values"][-1][1] for s in influx1.query(text)}
    assert set(ages) == {"hun_yujiafang", "hun_shashan", "hun_gaokan_bridge"}
    assert not any(rule.fires(float(age)) for age in ages.values()), ages


def test_projection_range_is_one_as_of_date(month: Month, influx1: Influx1) -> None:
    """ "年末优良比例预测区间": three separate ``last()`` calls each take the newest point
    that HAS that field, so a newest as-of without a range mixes dates; the panel's query
    takes the three numbers of the newest as-of (``ORDER BY time DESC LIMIT 1``), and the
    stat shows that row (reducer ``last``). Runs last in this module: it adds a probe target
    under its own area."""
    day1, day2 = NOW - 2 * 86400, NOW - 86400
    tags = "target_progress,kind=good_day_ratio,target=probe,variant=official"
    influx1.write(
        [
            f'{tags} area="probe_area",projection_low=0.70,projection=0.75,projection_high=0.80'
            f" {day1}",
            f'{tags} area="probe_area",projection=0.78 {day2}',
        ]
    )
    text = queries.render(
        queries.catalogue()["good_day_projection"].text,
        start=day1 - 60,
        end=NOW,
        variables={"area": ["probe_area"]},
    )
    (series,) = influx1.query(text)
    assert series["values"] == [[day2, None, 0.78, None]]
    mixed = text.replace('"projection_low" AS "low"', 'last("projection_low") AS "low"')
    mixed = mixed.replace('"projection",', 'last("projection") AS "projection",')
    mixed = mixed.replace('"projection_high" AS "high"', 'last("projection_high") AS "high"')
    mixed = mixed.replace(" ORDER BY time DESC LIMIT 1", "")
    (old,) = influx1.query(mixed)
    assert old["values"][0][1:] == [0.70, 0.78, 0.80]  # low and high of day 1, value of day 2
    stat = _panel_by_title(month, "年末优良比例预测区间")
    assert stat["options"]["reduceOptions"]["calcs"] == ["last"]


def _panel_by_title(month: Month, title: str) -> dict[str, Any]:
    boards = dashboards.build_all(month.settings)
    return next(p for b in boards.values() for p in b["panels"] if p["title"] == title)
