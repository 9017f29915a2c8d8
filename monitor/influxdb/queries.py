"""The InfluxQL query catalogue: every query Grafana's dashboards and alert rules run.

Queries are written against the schema of :mod:`monitor.influxdb.points` and use Grafana's
macros, which Grafana's InfluxDB backend replaces before sending the query
(``grafana/grafana:pkg/tsdb/influxdb/influxql`` ``Query.Build``):

* ``$timeFilter`` → ``time >= <from>ms and time <= <to>ms`` (the panel's or the alert
  rule's ``relativeTimeRange``);
* ``$__interval`` → the query interval as Grafana formats it (``gtime.FormatInterval``:
  ``30s``, ``5m``, ``1h``, ``1d``); ``$__interval_ms`` → the interval in milliseconds;
* dashboard template variables (``$area``, ``$site``, ``$section``) are replaced by the
  dashboard before that; used as ``"site" =~ /^$site$/`` so that several values and "All"
  work (Grafana writes them as ``(a|b)``, regex-escaped). Alert queries never use them
  (dashboard variables are undefined in alert rules, grafana/grafana#31341).

:func:`render` performs the same substitutions, so tests run the exact text Grafana would
send. Daily points are at local midnight: queries over daily measurements select raw points
(no ``GROUP BY time(1d)``, whose buckets start at UTC midnight).

Only values the official rule set produced are shown (``"official" = 1``), except where a
panel compares the rule sets on purpose (``variant`` of target progress).

A panel row that shows several fields of one point (latest AQI with its level, a target's
value with its status, a projection with its range) selects the raw fields of the newest
point (``ORDER BY time DESC LIMIT 1``, per series), never separate ``last()`` calls, which
can each come from a different point when a field is missing from the newest one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from monitor.influxdb import points

#: Template variables the dashboards define (name → what it selects).
TEMPLATE_VARIABLES: Final[Mapping[str, str]] = {
    "area": "area id (aqi_hourly/aqi_daily site when scope = area; the target_progress "
    "string field area, matched as a field)",
    "site": "air station code",
    "section": "water section id",
}

ResultFormat = Literal["time_series", "table"]


@dataclass(frozen=True)
class InfluxQuery:
    """One named InfluxQL query with Grafana macros.

    ``format`` is the Grafana ``resultFormat``; ``variables`` the template variables the
    text uses; ``alert`` marks queries written for alert rules (no template variables, one
    series per alerting instance)."""

    key: str
    measurement: str
    text: str
    doc: str
    format: ResultFormat = "time_series"
    alert: bool = False

    @property
    def variables(self) -> tuple[str, ...]:
        """Template variables the query uses, in order of first use."""
        found = re.findall(r"\$\{?([a-z_]+)\}?", self.text)
        names = [n for n in found if n in TEMPLATE_VARIABLES]
        return tuple(dict.fromkeys(names))


def _q(
    key: str,
    measurement: points.Measurement,
    text: str,
    doc: str,
    fmt: ResultFormat = "time_series",
    *,
    alert: bool = False,
) -> InfluxQuery:
    return InfluxQuery(key, measurement.name, " ".join(text.split()), doc, fmt, alert)


_AREA_OFFICIAL = """"scope" = 'area' AND "official" = 1 AND "site" =~ /^$area$/"""
_SITE_OFFICIAL = """"scope" = 'site' AND "official" = 1 AND "site" =~ /^$site$/"""
_OFFICIAL_PROGRESS = """"variant" = 'official'"""


def _progress(key: str, kind: str, doc: str, *, area: bool) -> InfluxQuery:
    where = f""""kind" = '{kind}' AND {_OFFICIAL_PROGRESS}"""
    if area:
        where += """ AND "area" =~ /^$area$/"""
    return _q(
        key,
        points.TARGET_PROGRESS,
        f"""SELECT "value", "goal" FROM "target_progress" WHERE {where} AND $timeFilter
        GROUP BY "target" ORDER BY time DESC LIMIT 1""",
        doc,
    )


def air_concentration(parameter: str) -> InfluxQuery:
    """Mean concentration of an air pollutant per station and interval, of the values the
    statistics use (``excluded = 0``: advisory QC suspicions are shown, excluding flags are
    not)."""
    return _q(
        f"air_concentration_{parameter}",
        points.AIR_OBSERVATION,
        f"""SELECT mean("value") AS "{parameter}" FROM "air_observation"
        WHERE "parameter" = '{parameter}' AND "site" =~ /^$site$/ AND "excluded" = 0
        AND $timeFilter GROUP BY time($__interval), "site" fill(none)""",
        f"hourly {parameter} per station, mean over the interval [unit of the parameter]",
    )


def water_parameter(parameter: str) -> InfluxQuery:
    """Mean value of a water parameter per section and interval, of the values the
    classes use (``excluded = 0``)."""
    return _q(
        f"water_parameter_{parameter}",
        points.WATER_OBSERVATION,
        f"""SELECT mean("value") AS "{parameter}" FROM "water_observation"
        WHERE "parameter" = '{parameter}' AND "site" =~ /^$section$/ AND "excluded" = 0
        AND $timeFilter GROUP BY time($__interval), "site" fill(none)""",
        f"{parameter} per section, mean over the interval [mg/L unless stated]",
    )


def aqi_level_days(level: int) -> InfluxQuery:
    """Days of one AQI level (HJ 633 Table 2: 1 优 … 6 严重污染) per area in the range."""
    return _q(
        f"aqi_level_days_{level}",
        points.AQI_DAILY,
        f"""SELECT count("aqi") AS "days" FROM "aqi_daily" WHERE {_AREA_OFFICIAL}
        AND "level" = {level} AND $timeFilter GROUP BY "site" """,
        f"days of AQI level {level} per area in the time range",
    )


def site_silent(source: str) -> InfluxQuery:
    """Alert: age of the newest value of each station of ``source`` [s]."""
    return _q(
        f"alert_site_silent_{source}",
        points.DATA_HEALTH,
        f"""SELECT last("age_seconds") AS "age_seconds" FROM "data_health"
        WHERE "source" = '{source}' AND $timeFilter GROUP BY "site", "source" """,
        f"seconds since the newest value of each station of source {source}",
        alert=True,
    )


def source_silent(source: str) -> InfluxQuery:
    """Alert: age of ``source``'s watermark (end of the latest period collected) [s]."""
    return _q(
        f"alert_source_silent_{source}",
        points.SOURCE_HEALTH,
        f"""SELECT last("age_seconds") AS "age_seconds" FROM "source_health"
        WHERE "source" = '{source}' AND $timeFilter GROUP BY "source" """,
        f"seconds since the end of the latest period source {source} collected",
        alert=True,
    )


def water_alert(parameter: str) -> InfluxQuery:
    """Alert: latest value of a water parameter per section, of the values the classes use
    (``excluded = 0``)."""
    return _q(
        f"alert_water_{parameter}",
        points.WATER_OBSERVATION,
        f"""SELECT last("value") AS "{parameter}" FROM "water_observation"
        WHERE "parameter" = '{parameter}' AND "excluded" = 0 AND $timeFilter
        GROUP BY "site" """,
        f"latest {parameter} per section [mg/L]",
        alert=True,
    )


def _sites(sites: Sequence[str]) -> str:
    """``"site" =~ /^(a|b)$/`` for exactly these sites (regex-escaped)."""
    return f""""site" =~ /^{regex_value(sites)}$/"""


def _latest_aqi_alert(
    key: str, measurement: points.Measurement, scope: str, sites: Sequence[str], doc: str
) -> InfluxQuery:
    """Alert: the latest AQI (rules in force) in ``measurement`` (hourly or daily) of each of
    ``sites`` of ``scope`` (``site`` or ``area``)."""
    return _q(
        key,
        measurement,
        f"""SELECT last("aqi") AS "aqi" FROM "{measurement.name}" WHERE "scope" = '{scope}'
        AND "official" = 1 AND {_sites(sites)} AND $timeFilter GROUP BY "site" """,
        doc,
        alert=True,
    )


def area_aqi_alert(areas: Sequence[str]) -> InfluxQuery:
    """Alert: latest hourly AQI (rules in force) of each of the configured ``areas``."""
    return _latest_aqi_alert(
        "alert_area_aqi_configured",
        points.AQI_HOURLY,
        "area",
        areas,
        "latest hourly AQI of each configured area (rules in force)",
    )


def site_aqi_alert(stations: Sequence[str]) -> InfluxQuery:
    """Alert: latest hourly AQI (rules in force) of the configured evaluation ``stations``
    only: not every station of an imported national archive, not model points."""
    return _latest_aqi_alert(
        "alert_site_aqi_evaluation",
        points.AQI_HOURLY,
        "site",
        stations,
        "latest hourly AQI of each configured evaluation station (rules in force)",
    )


def own_qc_alert(stations: Sequence[str]) -> InfluxQuery:
    """Alert: most envmon quality-control flags on one air value of each configured
    evaluation station in the rule's range (0 when every value is clean). envmon's own
    flags are advisory (issue 13 §3: shown, counted, alerted): they never change the
    official figures, this only tells an officer to look at the instrument."""
    return _q(
        "alert_own_qc",
        points.AIR_OBSERVATION,
        f"""SELECT max("qc_count") AS "qc_count" FROM "air_observation"
        WHERE {_sites(stations)} AND $timeFilter GROUP BY "site" """,
        "most envmon QC flags on one recent air value of each configured evaluation station",
        alert=True,
    )


def area_daily_aqi_alert(areas: Sequence[str]) -> InfluxQuery:
    """Alert: latest daily AQI (rules in force) of the configured ``areas`` (HJ 633: a day
    with AQI > 100 is not a good day)."""
    return _latest_aqi_alert(
        "alert_area_daily_aqi",
        points.AQI_DAILY,
        "area",
        areas,
        "latest daily AQI of each configured area (rules in force)",
    )


_STATIC: Final[tuple[InfluxQuery, ...]] = (
    # ------------------------------------------------------------------ air
    _q(
        "aqi_hourly_area",
        points.AQI_HOURLY,
        f"""SELECT max("aqi") AS "aqi" FROM "aqi_hourly" WHERE {_AREA_OFFICIAL}
        AND $timeFilter GROUP BY time($__interval), "site" fill(none)""",
        "hourly AQI of each area (rules in force), highest in the interval",
    ),
    _q(
        "aqi_hourly_site",
        points.AQI_HOURLY,
        f"""SELECT max("aqi") AS "aqi" FROM "aqi_hourly" WHERE {_SITE_OFFICIAL}
        AND $timeFilter GROUP BY time($__interval), "site" fill(none)""",
        "hourly AQI of each station (rules in force), highest in the interval",
    ),
    _q(
        "aqi_hourly_latest",
        points.AQI_HOURLY,
        f"""SELECT "aqi", "level", "primary_pollutants" FROM "aqi_hourly"
        WHERE {_SITE_OFFICIAL} AND $timeFilter GROUP BY "site" ORDER BY time DESC LIMIT 1""",
        "latest hourly AQI, level and primary pollutant of each station",
        "table",
    ),
    _q(
        "aqi_hourly_completeness",
        points.AQI_HOURLY,
        f"""SELECT sum("complete") / 24 AS "complete" FROM "aqi_hourly" WHERE {_SITE_OFFICIAL}
        AND $timeFilter GROUP BY time(1d, -8h), "site" fill(none)""",
        "share (0–1) of each local day's 24 hours with every pollutant present, per station "
        "(buckets from 00:00+08:00: time(1d, -8h))",
    ),
    _q(
        "aqi_daily_area",
        points.AQI_DAILY,
        f"""SELECT "aqi" FROM "aqi_daily" WHERE {_AREA_OFFICIAL} AND $timeFilter
        GROUP BY "site" """,
        "daily AQI of each area (rules in force), one point per local date",
    ),
    _q(
        "aqi_daily_published",
        points.AQI_DAILY_PUBLISHED,
        """SELECT "aqi" FROM "aqi_daily_published" WHERE "area" =~ /^$area$/
        AND $timeFilter GROUP BY "area" """,
        "daily AQI of each area as published by the authorities",
    ),
    _q(
        "heavy_days",
        points.AQI_DAILY,
        f"""SELECT sum("heavy") AS "heavy_days" FROM "aqi_daily" WHERE {_AREA_OFFICIAL}
        AND $timeFilter GROUP BY "site" """,
        "heavy-pollution days (AQI > 200) of each area in the time range",
    ),
    # ------------------------------------------------------------------ targets
    _q(
        "good_day_ratio",
        points.TARGET_PROGRESS,
        """SELECT "value" AS "ratio", "goal" FROM "target_progress"
        WHERE "kind" = 'good_day_ratio' AND "variant" =~ /^(official|hj633-2012|hj633-2026)$/
        AND "area" =~ /^$area$/ AND $timeFilter GROUP BY "target", "variant" """,
        "good-day share (0–1) and goal per as-of date: official rules and both consistent series",
    ),
    _q(
        "good_day_budget",
        points.TARGET_PROGRESS,
        f"""SELECT last("budget_remaining") AS "budget_remaining" FROM "target_progress"
        WHERE "kind" = 'good_day_ratio' AND {_OFFICIAL_PROGRESS} AND "area" =~ /^$area$/
        AND $timeFilter GROUP BY "target" """,
        "non-good days still affordable this year (official rules)",
    ),
    _q(
        "good_day_projection",
        points.TARGET_PROGRESS,
        f"""SELECT "projection_low" AS "low", "projection", "projection_high" AS "high"
        FROM "target_progress" WHERE "kind" = 'good_day_ratio' AND {_OFFICIAL_PROGRESS}
        AND "area" =~ /^$area$/ AND $timeFilter GROUP BY "target" ORDER BY time DESC LIMIT 1""",
        "projected year-end good-day share and its range (official rules), the three numbers "
        "of one as-of date",
    ),
    _progress(
        "heavy_days_target",
        "heavy_pollution_days",
        "heavy-pollution days so far and the allowed maximum",
        area=True,
    ),
    _progress(
        "river_class_target",
        "river_class",
        "share of sections meeting their target class, and the goal",
        area=False,
    ),
    _progress(
        "milestones_target", "milestones", "river treatment milestones done and due", area=False
    ),
    _progress("count_target", "count", "green factories (count targets) and goal", area=False),
    _q(
        "target_status",
        points.TARGET_PROGRESS,
        f"""SELECT "status_code", "status", "value", "goal", "explanation_zh",
        "explanation_en" FROM "target_progress" WHERE {_OFFICIAL_PROGRESS} AND $timeFilter
        GROUP BY "target" ORDER BY time DESC LIMIT 1""",
        "each target's latest status and explanation (official variant), one as-of date per row",
        "table",
    ),
    # ------------------------------------------------------------------ rivers
    _q(
        "water_class_series",
        points.WATER_CLASS,
        """SELECT "class_code" FROM "water_class" WHERE "site" =~ /^$section$/
        AND $timeFilter GROUP BY "site" """,
        "GB 3838 class of each reading (1 = I … 6 = 劣V)",
    ),
    _q(
        "water_exceedance",
        points.WATER_CLASS,
        """SELECT "class", "limiting_parameters", "exceedance_multiples", "limiting_zh",
        "exceedance_zh" FROM "water_class" WHERE "site" =~ /^$section$/ AND $timeFilter
        GROUP BY "site" """,
        "class, limiting parameters and exceedance multiples of each reading",
        "table",
    ),
    _q(
        "water_latest",
        points.WATER_CLASS,
        """SELECT "class_code", "target_class_code", "meets_target", "class", "river"
        FROM "water_class" WHERE "site" =~ /^$section$/ AND $timeFilter GROUP BY "site"
        ORDER BY time DESC LIMIT 1""",
        "latest class of each section against its target class (one reading per row)",
        "table",
    ),
    # ------------------------------------------------------------------ health
    _q(
        "data_freshness",
        points.DATA_HEALTH,
        """SELECT last("age_seconds") AS "age_seconds",
        last("completeness_24h") AS "completeness_24h", last("values_24h") AS "values_24h",
        last("qc_flags_24h") AS "qc_flags_24h",
        last("evaluation_failures") AS "evaluation_failures" FROM "data_health"
        WHERE $timeFilter GROUP BY "source", "site" """,
        "latest age [s], 24 h completeness (0–1), values, QC flags and days that cannot be "
        "evaluated per source and site",
        "table",
    ),
    _q(
        "data_age_series",
        points.DATA_HEALTH,
        """SELECT max("age_seconds") AS "age_seconds" FROM "data_health" WHERE $timeFilter
        GROUP BY time($__interval), "source", "site" fill(none)""",
        "age of the newest value per source and site over time [s]",
    ),
    _q(
        "source_state",
        points.SOURCE_HEALTH,
        """SELECT last("age_seconds") AS "age_seconds", last("last_fetch_ok") AS "last_fetch_ok",
        last("failures_24h") AS "failures_24h", last("rows_24h") AS "rows_24h",
        last("last_error") AS "last_error" FROM "source_health" WHERE $timeFilter
        GROUP BY "source" """,
        "latest state of each source's collections",
        "table",
    ),
    _q(
        "publish_lag",
        points.HEARTBEAT,
        """SELECT max("publish_lag_seconds") AS "publish_lag_seconds",
        max("outbox_pending") AS "outbox_pending", max("quarantined") AS "quarantined"
        FROM "heartbeat" WHERE $timeFilter GROUP BY time($__interval) fill(none)""",
        "publish lag [s], rows waiting and quarantined points over time",
    ),
    _q(
        "heartbeat_series",
        points.HEARTBEAT,
        """SELECT count("up") AS "beats" FROM "heartbeat" WHERE $timeFilter
        GROUP BY time($__interval) fill(0)""",
        "heartbeats per interval (0: the service was not publishing)",
    ),
    # ------------------------------------------------------------------ alerts
    _q(
        "alert_area_aqi",
        points.AQI_HOURLY,
        """SELECT last("aqi") AS "aqi" FROM "aqi_hourly" WHERE "scope" = 'area'
        AND "official" = 1 AND $timeFilter GROUP BY "site" """,
        "latest hourly AQI of each area (rules in force)",
        alert=True,
    ),
    _q(
        "alert_site_aqi",
        points.AQI_HOURLY,
        """SELECT last("aqi") AS "aqi" FROM "aqi_hourly" WHERE "scope" = 'site'
        AND "official" = 1 AND $timeFilter GROUP BY "site" """,
        "latest hourly AQI of each station (rules in force)",
        alert=True,
    ),
    _q(
        "alert_good_day_budget",
        points.TARGET_PROGRESS,
        f"""SELECT last("budget_remaining") AS "budget_remaining" FROM "target_progress"
        WHERE "kind" = 'good_day_ratio' AND {_OFFICIAL_PROGRESS} AND $timeFilter
        GROUP BY "target" """,
        "non-good days still affordable, per good-day target (official rules)",
        alert=True,
    ),
    _q(
        "alert_target_status",
        points.TARGET_PROGRESS,
        f"""SELECT last("status_code") AS "status_code" FROM "target_progress"
        WHERE {_OFFICIAL_PROGRESS} AND $timeFilter GROUP BY "target" """,
        "latest status code of each target (2 at_risk, 3 off_track)",
        alert=True,
    ),
    _q(
        "alert_section_class",
        points.WATER_CLASS,
        """SELECT last("meets_target") AS "meets_target" FROM "water_class" WHERE $timeFilter
        GROUP BY "site" """,
        "whether each section's latest class meets its target (1) or not (0)",
        alert=True,
    ),
    water_alert("do"),
    water_alert("nh3n"),
    _q(
        "alert_heartbeat",
        points.HEARTBEAT,
        """SELECT last("up") AS "up" FROM "heartbeat" WHERE $timeFilter""",
        "the service's heartbeat (no point in the range: the service is down)",
        alert=True,
    ),
)

#: Pollutants with a concentration query, in the order of the dashboards.
AIR_PARAMETERS: Final = ("pm2_5", "pm10", "o3", "no2", "so2", "co")
#: Water parameters with a query (the automatic stations' chemistry).
WATER_QUERY_PARAMETERS: Final = ("do", "nh3n", "codmn", "tp", "ph")


def catalogue(sources: Sequence[str] = ()) -> dict[str, InfluxQuery]:
    """Every query by key; ``sources`` adds the per-source silence alert queries."""
    out = {q.key: q for q in _STATIC}
    for parameter in AIR_PARAMETERS:
        query = air_concentration(parameter)
        out[query.key] = query
    for parameter in WATER_QUERY_PARAMETERS:
        query = water_parameter(parameter)
        out[query.key] = query
    for level in range(1, 7):
        query = aqi_level_days(level)
        out[query.key] = query
    for source in sources:
        for query in (site_silent(source), source_silent(source)):
            out[query.key] = query
    return out


# --------------------------------------------------------------------------- macros

_REGEX_SPECIAL = re.compile(r"[\\^$*+?.()|{}\[\]/]")


def format_interval(seconds: float) -> str:
    """Grafana's text of a query interval (``gtime.FormatInterval``: the largest unit that
    fits, truncated).

    >>> [format_interval(s) for s in (0.5, 30, 300, 3600, 5400, 86400)]
    ['500ms', '30s', '5m', '1h', '1h', '1d']
    """
    ms = int(seconds * 1000)
    for unit, size in (("y", 365 * 86_400_000), ("d", 86_400_000), ("h", 3_600_000)):
        if ms >= size:
            return f"{ms // size}{unit}"
    for unit, size in (("m", 60_000), ("s", 1000), ("ms", 1)):
        if ms >= size:
            return f"{ms // size}{unit}"
    return "1ms"


def regex_value(values: Sequence[str]) -> str:
    """A template variable's values as Grafana writes them into an InfluxQL regex:
    regex-escaped, several as ``(a|b)``.

    >>> regex_value(["1099A"]), regex_value(["a.b", "c"])
    ('1099A', '(a\\\\.b|c)')
    """
    escaped = [_REGEX_SPECIAL.sub(lambda m: "\\" + m.group(0), v) for v in values]
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


def render(
    text: str,
    *,
    start: int,
    end: int,
    interval_seconds: float = 3600,
    variables: Mapping[str, Sequence[str]] | None = None,
) -> str:
    """``text`` with Grafana's substitutions: template variables, then ``$timeFilter``
    (``start``/``end`` in epoch seconds), ``$interval``, ``$__interval_ms``, ``$__interval``.

    >>> render('SELECT 1 WHERE "site" =~ /^$site$/ AND $timeFilter GROUP BY time($__interval)',
    ...        start=0, end=60, interval_seconds=300, variables={"site": ["a", "b"]})
    'SELECT 1 WHERE "site" =~ /^(a|b)$/ AND time >= 0ms and time <= 60000ms GROUP BY time(5m)'
    """
    given = variables or {}

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in given:
            return match.group(0)
        return regex_value(given[name])

    out = re.sub(r"\$\{(\w+)\}|\$(?!__)(?!timeFilter)(?!interval)(\w+)", substitute, text)
    interval = format_interval(interval_seconds)
    out = out.replace("$timeFilter", f"time >= {start * 1000}ms and time <= {end * 1000}ms")
    out = out.replace("$interval", interval)
    out = out.replace("$__interval_ms", str(int(interval_seconds * 1000)))
    return out.replace("$__interval", interval)


def unresolved(text: str) -> list[str]:
    """Macros or variables left in a rendered query (``[]`` when it is ready to run).

    >>> unresolved('SELECT 1 WHERE "site" =~ /^$site$/'), unresolved('SELECT 1 WHERE x = 1')
    (['$site'], [])
    """
    return re.findall(r"\$\{?\w+\}?", text)
