"""Grafana-managed alert rules, the e-mail contact point and the notification policy.

Each rule is three steps (reference §1.6): **A** an InfluxQL query of
:mod:`monitor.influxdb.queries` (no dashboard variables; one series per site, section,
target or source), **B** a ``reduce`` expression taking the ``last`` number of each series
(non-numbers dropped), **C** a ``threshold`` on B, the rule's condition. The threshold
semantics Grafana applies (``pkg/expr/threshold.go``) are reproduced by :meth:`Rule.fires`
for the tests. Silence rules add two ``math`` expressions, **H** = ``floor($B / 3600)`` and
**M** = ``floor(($B % 3600) / 60)``, so that their e-mail says "3 小时 20 分" rather than
a number of seconds (:func:`human_duration` is the same in Python).

Rules watch what the district watches: station rules only the configured evaluation
stations (never a model point, never every station of an imported national archive), area
rules only the configured areas. Rules are labelled ``severity`` (``critical`` or
``warning``) and ``envmon = "true"``; the annotations (Chinese by default) name the value,
the site and link the panel through Grafana's own address (``{{ externalURL }}``, i.e.
``GF_SERVER_ROOT_URL``); the rule's dashboard and panel uids also give Grafana's e-mail its
``DashboardURL``/``PanelURL`` buttons.

The notification policy sends everything to the e-mail contact point, grouped by rule and
severity, with the configured group wait, group interval and repeat interval, so a
district-wide episode makes one e-mail per rule rather than one per station and hour. The
contact point's addresses are ``[grafana] contact_emails`` (set by ``ENVMON_MAIL_TO``, the
same list envmon's reports go to); the provisioning file reads them from Grafana's
environment (``${ENVMON_MAIL_TO}``), so the stack's one ``.env`` feeds both.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from grafana_foundation_sdk.builders import alerting, expr
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import alerting as alerting_models

from monitor.grafana import dashboards
from monitor.grafana.catalogue import STATUS_VALUES
from monitor.grafana.models import EXPRESSION_UID, InfluxQL, to_data
from monitor.influxdb import queries
from monitor.influxdb.points import HEALTH_WINDOW_S
from monitor.influxdb.queries import InfluxQuery
from monitor.settings import GoodDayRatioTarget, Settings

Evaluator = Literal["gt", "lt", "lte", "within_range"]
Severity = Literal["critical", "warning"]
NoData = Literal["OK", "NoData", "Alerting"]

#: Name of the rule group (one group: one evaluation interval).
GROUP = "envmon"
#: Contact point uid and name.
CONTACT_UID = "envmon-email"
CONTACT_NAME = "envmon-email"
#: Grafana's built-in receiver, used by `envmon grafana provision` when no address is set.
DEFAULT_RECEIVER = "grafana-default-email"
#: The variable Grafana reads the alert addresses from (file provisioning, docker compose).
MAIL_TO_REFERENCE: Final = "${ENVMON_MAIL_TO}"

_HOUR: Final = 3600
_DAY: Final = 86400
#: Collectors of surface-water data (their interval sets how old a reading may be).
WATER_COLLECTORS: Final = frozenset({"cnemc_water", "usgs_water"})
#: Interval assumed for water readings when no water source is enabled [min] (the national
#: automatic stations report every 4 h).
DEFAULT_WATER_INTERVAL_MINUTES: Final = 240
#: Hourly AQI rules keep firing this long after the value drops below the threshold, so a
#: value hovering around it makes one e-mail, not one per hour (Grafana ``keepFiringFor``).
AQI_KEEP_FIRING: Final = "2h"
#: How far back the own-QC rule looks for flagged air values [s], and how long the flags
#: must hold before it fires (Grafana ``for``).
OWN_QC_LOOKBACK: Final = 3 * _HOUR
OWN_QC_PENDING: Final = "1h"


@dataclass(frozen=True)
class Rule:
    """One alert rule: query, reduction, threshold and what the e-mail says."""

    uid: str
    title_zh: str
    title_en: str
    query: InfluxQuery
    evaluator: Evaluator
    params: tuple[float, ...]
    lookback_seconds: int  #: the query's time range: now − lookback … now
    severity: Severity
    summary_zh: str  #: Go template; ``{{ $values.B.Value }}`` is the reduced value
    summary_en: str
    indicator: str  #: catalogue indicator whose panel the rule links to
    pending: str = "0s"  #: ``for``: how long the condition must hold before firing
    keep_firing_for: str = "0s"  #: ``keepFiringFor``: how long it keeps firing after
    no_data: NoData = "OK"
    exec_error: Literal["OK", "Error", "Alerting"] = "Error"
    duration: bool = False  #: B is seconds: add the H and M expressions for the e-mail
    show_value: bool = True  #: the description prints B (False: B is a code, said in words)

    @property
    def dashboard(self) -> str:
        """Uid of the dashboard showing the rule's indicator."""
        return dashboards.locate(self.indicator)[0]

    @property
    def panel(self) -> int:
        """Id of the panel showing the rule's indicator."""
        return dashboards.locate(self.indicator)[1]

    def title(self, language: str) -> str:
        return self.title_zh if language == "zh" else self.title_en

    def fires(self, value: float) -> bool:
        """Whether Grafana's threshold expression is true for a reduced ``value``."""
        p = self.params
        if self.evaluator == "gt":
            return value > p[0]
        if self.evaluator == "lt":
            return value < p[0]
        if self.evaluator == "lte":
            return value <= p[0]
        return p[0] < value < p[1]  # within_range: exclusive (threshold.go)


def human_duration(seconds: float, language: str) -> str:
    """Whole hours and minutes, as the silence rules' e-mails print them (the H and M math
    expressions: ``floor(s / 3600)``, ``floor((s % 3600) / 60)``).

    >>> human_duration(12000, "zh"), human_duration(12000, "en"), human_duration(10800, "zh")
    ('3 小时 20 分', '3 h 20 min', '3 小时 0 分')
    """
    hours, minutes = int(seconds // 3600), int((seconds % 3600) // 60)
    return f"{hours} 小时 {minutes} 分" if language == "zh" else f"{hours} h {minutes} min"


def _limit_text(seconds: float, language: str) -> str:
    """A configured limit in words: ``3 小时``, ``2 小时 10 分``, ``50 min``."""
    hours, minutes = int(seconds // 3600), int((seconds % 3600) // 60)
    h, m = ("小时", "分") if language == "zh" else ("h", "min")
    parts = [f"{hours} {h}"] if hours else []
    if minutes or not hours:
        parts.append(f"{minutes} {m}")
    return " ".join(parts)


def label_name(label: str, names: Mapping[str, str]) -> str:
    """A Go template printing the configured name of ``$labels.<label>`` (the id itself
    when it has none): ``{{ if eq $labels.site "1099A" }}浑南东路{{ else if … }}…{{ else
    }}{{ $labels.site }}{{ end }}`` (text/template ``if``/``else if`` and ``eq``, which
    Grafana's annotation templates use: docs/sources/alerting/alerting-rules/templates/
    reference.md). Ids are written as JSON strings, a valid Go string literal."""
    ref = f"$labels.{label}"
    parts = [
        "{{ " + ("if" if n == 0 else "else if") + f" eq {ref} {json.dumps(code)} }}}}{name}"
        for n, (code, name) in enumerate(sorted(names.items()))
    ]
    if not parts:
        return "{{ " + ref + " }}"
    return "".join(parts) + "{{ else }}{{ " + ref + " }}{{ end }}"


def _status_name(first: float, second: float, language: str) -> str:
    """A Go template naming target status code B, ``first`` or else ``second``
    (:data:`monitor.grafana.catalogue.STATUS_VALUES`: 2 有风险, 3 偏离目标)."""
    text = {v.value: (v.zh if language == "zh" else v.en) for v in STATUS_VALUES}
    return (
        f"{{{{ if eq $values.B.Value {first} }}}}{text[first]}"
        f"{{{{ else }}}}{text[second]}{{{{ end }}}}"
    )


def evaluation_stations(settings: Settings) -> tuple[str, ...]:
    """Codes of the configured evaluation stations (control sites and model points are not
    official: they never raise an alert)."""
    return tuple(s.code for s in settings.air_stations if s.role == "evaluation")


def district_areas(settings: Settings) -> tuple[str, ...]:
    """Areas the good-day target is about: the areas of the good-day-ratio targets, else
    the reports' area, else the first area."""
    areas = [t.area for t in settings.targets if isinstance(t, GoodDayRatioTarget)]
    if not areas:
        areas = [settings.reports.area or settings.areas[0].id]
    return tuple(dict.fromkeys(areas))


def water_lookback_seconds(settings: Settings) -> int:
    """How old a water reading may be and still count: twice the longest collection
    interval of the enabled water sources (cnemc_water: 4 h → 8 h), so that one stale
    reading does not keep a rule firing for a month."""
    intervals = [
        s.interval_minutes
        for s in settings.sources
        if s.enabled and s.collector in WATER_COLLECTORS
    ]
    return 2 * 60 * max(intervals, default=DEFAULT_WATER_INTERVAL_MINUTES)


def rules(settings: Settings) -> tuple[Rule, ...]:
    """Every alert rule for ``settings`` (silence rules per enabled source)."""
    grafana = settings.grafana
    cat = queries.catalogue()
    # officers read names, never ids: each label printed by its configured name
    zh_names, en_names = dashboards.names(settings, "zh"), dashboards.names(settings, "en")
    site_zh = label_name("site", {**zh_names["site"], **zh_names["area"]})
    site_en = label_name("site", {**en_names["site"], **en_names["area"]})
    target_zh = label_name("target", zh_names["target"])
    target_en = label_name("target", en_names["target"])
    value = "{{ $values.B.Value }}"
    areas = tuple(a.id for a in settings.areas)
    stations = evaluation_stations(settings)
    district = district_areas(settings)
    water = water_lookback_seconds(settings)
    water_h = _limit_text(water, "zh"), _limit_text(water, "en")
    out = [
        Rule(
            "envmon-area-aqi-100",
            "区域小时AQI超过100",
            "Area hourly AQI above 100",
            queries.area_aqi_alert(areas),
            "gt",
            (100.0,),
            3 * _HOUR,
            "warning",
            f"{site_zh} 小时AQI为 {value}，超过100（轻度污染及以上）。",
            f"{site_en}: hourly AQI {value}, above 100 (lightly polluted or worse).",
            "aqi_hourly_area",
            keep_firing_for=AQI_KEEP_FIRING,
        ),
        Rule(
            "envmon-area-aqi-200",
            "区域小时AQI超过200",
            "Area hourly AQI above 200",
            queries.area_aqi_alert(areas),
            "gt",
            (200.0,),
            3 * _HOUR,
            "critical",
            f"{site_zh} 小时AQI为 {value}，超过200（重度污染）。",
            f"{site_en}: hourly AQI {value}, above 200 (heavily polluted).",
            "aqi_hourly_area",
            keep_firing_for=AQI_KEEP_FIRING,
        ),
    ]
    if stations:
        out.append(
            Rule(
                "envmon-site-aqi-200",
                "站点小时AQI超过200",
                "Station hourly AQI above 200",
                queries.site_aqi_alert(stations),
                "gt",
                (200.0,),
                3 * _HOUR,
                "critical",
                f"站点 {site_zh} 小时AQI为 {value}，超过200（重度污染）。",
                f"Station {site_en}: hourly AQI {value}, above 200 (heavily polluted).",
                "aqi_hourly_site",
                keep_firing_for=AQI_KEEP_FIRING,
            )
        )
    if stations:
        # envmon's own QC flags (negative, implausible, pm25_gt_pm10, stuck, spike) are
        # advisory (issue 13 §3: shown, counted, alerted; GB 3095 §6.4 keeps all valid
        # data): they never change the official figures, so they alert as a warning. The
        # pending hour lets a revision that clears the flag pass without an e-mail; one
        # flagged value stays in the 3 h range, so it still alerts once it has held.
        out.append(
            Rule(
                "envmon-own-qc",
                "站点数值带有 envmon 质控标记",
                "Station values flagged by envmon's checks",
                queries.own_qc_alert(stations),
                "gt",
                (0.0,),
                OWN_QC_LOOKBACK,
                "warning",
                f"站点 {site_zh} 近{OWN_QC_LOOKBACK // _HOUR}小时有数值被 envmon 质控标记"
                f"（单个数值最多 {value} 个标记，如 stuck、spike）。标记仅作提示，"
                "不改变官方数值：请核查仪器与数据。",
                f"Station {site_en}: values of the last {OWN_QC_LOOKBACK // _HOUR} h carry "
                f"envmon quality-control flags (up to {value} on one value, e.g. stuck, spike). "
                "The flags are advisory and do not change the official figures: check the "
                "instrument and the data.",
                "data_freshness",
                pending=OWN_QC_PENDING,
            )
        )
    # HJ 633-2012 §5 / Table 2: a day is good (优良) when its AQI is at most 100; above 200
    # it is heavily polluted (重度污染). The daily point sits at local midnight starting the
    # day, so two days of range keep yesterday's value in view all of today.
    out += [
        Rule(
            "envmon-day-not-good",
            "区域日AQI超过100（非优良天）",
            "Area daily AQI above 100 (not a good day)",
            queries.area_daily_aqi_alert(district),
            "gt",
            (100.0,),
            2 * _DAY,
            "warning",
            f"{site_zh} 日AQI为 {value}，超过100：非优良天，计入优良天数比例目标。",
            f"{site_en}: daily AQI {value}, above 100: not a good day for the good-day target.",
            "aqi_daily_area",
        ),
        Rule(
            "envmon-day-heavy",
            "区域日AQI超过200（重度污染天）",
            "Area daily AQI above 200 (heavily polluted day)",
            queries.area_daily_aqi_alert(district),
            "gt",
            (200.0,),
            2 * _DAY,
            "critical",
            f"{site_zh} 日AQI为 {value}，超过200：重度及以上污染天。",
            f"{site_en}: daily AQI {value}, above 200: heavily polluted day.",
            "aqi_daily_area",
        ),
        Rule(
            "envmon-good-day-budget",
            "剩余可超标天数不足",
            "Good-day budget nearly used up",
            cat["alert_good_day_budget"],
            "lte",
            (float(grafana.budget_alert_days),),
            3 * _DAY,
            "warning",
            f"目标 {target_zh}：今年剩余可超标天数为 {value}，"
            f"已不超过 {grafana.budget_alert_days} 天。",
            f"Target {target_en}: {value} non-good days still affordable this "
            f"year, at or below {grafana.budget_alert_days}.",
            "good_day_budget",
        ),
        Rule(
            "envmon-target-status",
            "目标进度有风险或偏离",
            "Target at risk or off track",
            cat["alert_target_status"],
            "within_range",
            (1.5, 3.5),  # status codes 2 at_risk, 3 off_track
            3 * _DAY,
            "warning",
            # status code 2 or 3 (monitor.influxdb.points.STATUS_CODES) by its name
            "目标 " + target_zh + " 进度" + _status_name(2.0, 3.0, "zh") + "。",
            "Target " + target_en + ": " + _status_name(2.0, 3.0, "en") + ".",
            "target_status",
            show_value=False,
        ),
        Rule(
            "envmon-target-failed",
            "目标已无法实现",
            "Target failed",
            cat["alert_target_status"],
            "within_range",
            (3.5, 4.5),  # status code 4 failed: the goal can no longer be met
            3 * _DAY,
            "critical",
            "目标 " + target_zh + " 未达成：已无法实现。",
            "Target " + target_en + ": failed, the goal can no longer be met.",
            "target_status",
            show_value=False,
        ),
        Rule(
            "envmon-section-class",
            "断面水质劣于目标类别",
            "Section worse than its target class",
            cat["alert_section_class"],
            "lt",
            (0.5,),
            water,
            "warning",
            f"断面 {site_zh} 最新水质劣于目标类别（只计 {water_h[0]} 内的读数）。",
            f"Section {site_en}: latest class worse than its target class (readings of the last "
            f"{water_h[1]} only).",
            "water_latest",
            show_value=False,  # B is meets_target 0
        ),
        Rule(
            "envmon-do-low",
            "溶解氧低于3 mg/L",
            "Dissolved oxygen below 3 mg/L",
            cat["alert_water_do"],
            "lt",
            (3.0,),  # GB 3838-2002 Table 1: DO ≥ 3 mg/L is the Class IV limit
            water,
            "critical",
            f"断面 {site_zh} 溶解氧为 {value} mg/L，低于3 mg/L（GB 3838-2002 IV类限值）。",
            f"Section {site_en}: dissolved oxygen {value} mg/L, below 3 mg/L.",
            "water_do",
        ),
        Rule(
            "envmon-nh3n-high",
            "氨氮超过V类限值",
            "Ammonia nitrogen above Class V",
            cat["alert_water_nh3n"],
            "gt",
            (2.0,),  # GB 3838-2002 Table 1 item 7: Class V limit 2.0 mg/L
            water,
            "critical",
            f"断面 {site_zh} 氨氮为 {value} mg/L，超过V类限值2.0 mg/L（劣V类）。",
            f"Section {site_en}: NH3-N {value} mg/L, above the Class V limit 2.0 mg/L.",
            "water_nh3n",
        ),
    ]
    grace = grafana.silence_grace_minutes * 60
    window_days = HEALTH_WINDOW_S // _DAY
    zh_age = "{{ $values.H.Value }} 小时 {{ $values.M.Value }} 分"
    en_age = "{{ $values.H.Value }} h {{ $values.M.Value }} min"
    for source in settings.sources:
        if not source.enabled:
            continue
        limit = float(source.interval_minutes * 60 + grace)
        zh_limit, en_limit = _limit_text(limit, "zh"), _limit_text(limit, "en")
        name = source.name
        out += [
            Rule(
                f"envmon-silent-site-{name}"[:40],
                f"站点数据中断（{name}）",
                f"Station silent ({name})",
                queries.site_silent(name),
                "gt",
                (limit,),
                _HOUR,
                "warning",
                # a station without any value in the health window has the window as its
                # age (points.HEALTH_WINDOW_S, 168 h): say so rather than "168 小时 0 分"
                f"{{{{ if ge $values.H.Value {float(HEALTH_WINDOW_S // _HOUR)} }}}}"
                f"数据源 {name} 的站点 {site_zh} 近 {window_days} 天没有任何数据"
                f"（从未采集到，或已中断 {window_days} 天以上）。"
                "{{ else }}"
                f"数据源 {name} 的站点 {site_zh} 已 {zh_age} 无新数据"
                f"（超过采集间隔加宽限 {zh_limit}）。"
                "{{ end }}",
                f"{{{{ if ge $values.H.Value {float(HEALTH_WINDOW_S // _HOUR)} }}}}"
                f"Station {site_en} of source {name}: no value at all in the last "
                f"{window_days} days (never collected, or silent for longer)."
                "{{ else }}"
                f"Station {site_en} of source {name}: no new value for {en_age} "
                f"(more than the interval plus grace, {en_limit})."
                "{{ end }}",
                "data_freshness",
                duration=True,
            ),
            # A source that never delivered has no watermark, so no age: its query returns
            # nothing and "no data" must alert (noDataState Alerting), after a pending
            # period that covers the first publish round after a start.
            Rule(
                f"envmon-silent-source-{name}"[:40],
                f"数据源中断（{name}）",
                f"Source silent ({name})",
                queries.source_silent(name),
                "gt",
                (limit,),
                _HOUR,
                "warning",
                "{{ if $values }}"
                f"数据源 {name} 已 {zh_age} 未采集到新时段（超过采集间隔加宽限 {zh_limit}）。"
                "{{ else }}"
                f"数据源 {name} 近1小时没有采集记录：从未采集到数据，或服务未在发布状态。"
                "{{ end }}",
                "{{ if $values }}"
                f"Source {name}: nothing new collected for {en_age} (more than the interval "
                f"plus grace, {en_limit})."
                "{{ else }}"
                f"Source {name}: no collection state in the last hour: it never delivered, or "
                "the service is not publishing."
                "{{ end }}",
                "source_state",
                pending="15m",
                no_data="Alerting",
                duration=True,
            ),
        ]
    out.append(
        Rule(
            "envmon-heartbeat",
            "监测服务心跳中断",
            "Service heartbeat missing",
            cat["alert_heartbeat"],
            "lt",
            (1.0,),
            grafana.heartbeat_minutes * 60,
            "critical",
            f"envmon 服务已 {grafana.heartbeat_minutes} 分钟没有写入心跳：服务或 InfluxDB 停止。",
            f"No heartbeat from envmon for {grafana.heartbeat_minutes} minutes: the service "
            "or InfluxDB is down.",
            "heartbeat",
            no_data="Alerting",
            exec_error="Alerting",
        )
    )
    return tuple(out)


# --------------------------------------------------------------------------- building


def _queries(rule: Rule, datasource_uid: str) -> list[cogbuilder.Builder[alerting_models.Query]]:
    query = (
        InfluxQL("A", rule.query.text, datasource_uid).result_format("time_series").for_alerting()
    )
    reduce = (
        expr.TypeReduce()
        .ref_id("B")
        .expression("A")
        .reducer("last")
        .settings(expr.ExprTypeReduceSettings().mode("dropNN"))
    )
    threshold = (
        expr.TypeThreshold()
        .ref_id("C")
        .expression("B")
        .conditions(
            [
                expr.ExprTypeThresholdConditions().evaluator(
                    expr.ExprTypeThresholdConditionsEvaluator()
                    .type(rule.evaluator)
                    .params(list(rule.params))
                )
            ]
        )
    )
    span = alerting_models.RelativeTimeRange(from_val=rule.lookback_seconds, to=0)
    none = alerting_models.RelativeTimeRange(from_val=0, to=0)
    out: list[cogbuilder.Builder[alerting_models.Query]] = [
        alerting.Query("A").datasource_uid(datasource_uid).relative_time_range(span).model(query),
        alerting.Query("B").datasource_uid(EXPRESSION_UID).relative_time_range(none).model(reduce),
        alerting.Query("C")
        .datasource_uid(EXPRESSION_UID)
        .relative_time_range(none)
        .model(threshold),
    ]
    if rule.duration:  # whole hours and minutes of B, for the e-mail text
        for ref, formula in DURATION_EXPRESSIONS.items():
            math = expr.TypeMath().ref_id(ref).expression(formula)
            out.append(
                alerting.Query(ref)
                .datasource_uid(EXPRESSION_UID)
                .relative_time_range(none)
                .model(math)
            )
    return out


#: Math expressions (Grafana ``pkg/expr/mathexp``: ``floor``, ``%``) splitting the seconds
#: of B into whole hours and remaining minutes; :func:`human_duration` computes the same.
DURATION_EXPRESSIONS: Final = {"H": "floor($B / 3600)", "M": "floor(($B % 3600) / 60)"}


def panel_link(rule: Rule) -> str:
    """The rule's panel on Grafana's own address: ``externalURL`` is Grafana's root URL
    (``GF_SERVER_ROOT_URL``, always ending in ``/``: ``pkg/setting/setting.go``
    ``parseAppUrlAndSubUrl``), the path that of Grafana's ``PanelURL``."""
    return "{{ externalURL }}" + f"d/{rule.dashboard}?viewPanel={rule.panel}"


def _annotations(rule: Rule, settings: Settings) -> dict[str, str]:
    link = panel_link(rule)
    zh = settings.grafana.language == "zh"
    if rule.duration or not rule.show_value:  # the summary says it in words
        description = f"看板：{link}" if zh else f"Dashboard: {link}"
    elif zh:
        description = f"当前值 {{{{ $values.B.Value }}}}；看板：{link}"
    else:
        description = f"Value {{{{ $values.B.Value }}}}; dashboard: {link}"
    return {"summary": rule.summary_zh if zh else rule.summary_en, "description": description}


def api_rule(rule: Rule, settings: Settings) -> dict[str, Any]:
    """The rule as the provisioning HTTP API takes it (``POST/PUT
    /api/v1/provisioning/alert-rules``), dashboard linked through ``__dashboardUid__``."""
    grafana = settings.grafana
    built = (
        alerting.Rule(rule.title(grafana.language))
        .uid(rule.uid)
        .org_id(1)
        .folder_uid(grafana.folder_uid)
        .rule_group(GROUP)
        .condition("C")
        .queries(_queries(rule, grafana.datasource_uid))
        .no_data_state(rule.no_data)
        .exec_err_state(rule.exec_error)
        .for_val(rule.pending)
        .labels({"severity": rule.severity, "envmon": "true"})
        .annotations(
            {
                **_annotations(rule, settings),
                # Grafana wants both or neither (AlertRule.SetDashboardAndPanelFromAnnotations)
                "__dashboardUid__": rule.dashboard,
                "__panelId__": str(rule.panel),
            }
        )
        .is_paused(False)
    )
    data: dict[str, Any] = to_data(built.build())
    # not in the SDK's builder; the HTTP API spells it keep_firing_for, the file
    # keepFiringFor (pkg/services/ngalert/api/tooling/definitions/provisioning_alert_rules.go
    # ProvisionedAlertRule; pkg/services/provisioning/alerting/rules_types.go AlertRuleV1)
    data["keep_firing_for"] = rule.keep_firing_for
    return data


def file_rule(rule: Rule, settings: Settings) -> dict[str, Any]:
    """The rule in the file-provisioning shape (``provisioning/alerting``; reference
    §1.4): ``dashboardUid`` instead of the annotation, no folder or group fields."""
    api = api_rule(rule, settings)
    annotations = {k: v for k, v in api["annotations"].items() if not k.startswith("__")}
    return {
        "uid": api["uid"],
        "title": api["title"],
        "condition": api["condition"],
        "data": api["data"],
        "dashboardUid": rule.dashboard,
        "panelId": rule.panel,
        "noDataState": api["noDataState"],
        "execErrState": api["execErrState"],
        "for": api["for"],
        "keepFiringFor": api["keep_firing_for"],
        "annotations": annotations,
        "labels": api["labels"],
        "isPaused": False,
    }


def interval_seconds(duration: str) -> int:
    """Seconds of a ``30s``/``5m``/``4h``/``1d`` duration.

    >>> interval_seconds("1m"), interval_seconds("4h")
    (60, 14400)
    """
    return int(duration[:-1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[duration[-1]]


def contact_point(settings: Settings, addresses: str | None = None) -> dict[str, Any] | None:
    """The e-mail contact point: to ``addresses`` (``;``-separated, Grafana's email
    integration), by default ``[grafana] contact_emails``; ``None`` without any."""
    if addresses is None:
        addresses = ";".join(settings.grafana.contact_emails)
    if not addresses:
        return None
    built = (
        alerting.ContactPoint()
        .uid(CONTACT_UID)
        .name(CONTACT_NAME)
        .type("email")
        .settings({"addresses": addresses, "singleEmail": True})
        .disable_resolve_message(False)
    )
    data: dict[str, Any] = to_data(built.build())
    return data


def receiver(settings: Settings) -> str:
    """Receiver of the policy `envmon grafana provision` pushes: the contact point, or
    Grafana's default one when no address is configured (`envmon config check` refuses
    that for a service that publishes)."""
    return CONTACT_NAME if settings.grafana.contact_emails else DEFAULT_RECEIVER


def policy(settings: Settings, name: str | None = None) -> dict[str, Any]:
    """The notification policy tree, to receiver ``name`` (default :func:`receiver`):
    envmon's alerts grouped by rule and severity; critical ones wait less before the first
    e-mail."""
    grafana = settings.grafana
    name = name or receiver(settings)
    critical = (
        alerting.NotificationPolicy()
        .receiver(name)
        .object_matchers([["envmon", "=", "true"], ["severity", "=", "critical"]])
        .group_by(["alertname", "severity"])
        .group_wait("10s")
        .group_interval(grafana.group_interval)
        .repeat_interval(grafana.repeat_interval)
    )
    warning = (
        alerting.NotificationPolicy()
        .receiver(name)
        .object_matchers([["envmon", "=", "true"]])
        .group_by(["alertname", "severity"])
        .group_wait(grafana.group_wait)
        .group_interval(grafana.group_interval)
        .repeat_interval(grafana.repeat_interval)
    )
    root = (
        alerting.NotificationPolicy()
        .receiver(name)
        .group_by(["grafana_folder", "alertname"])
        .group_wait(grafana.group_wait)
        .group_interval(grafana.group_interval)
        .repeat_interval(grafana.repeat_interval)
        .routes([critical, warning])
    )
    data: dict[str, Any] = to_data(root.build())
    return data


def rule_titles(settings: Settings) -> Sequence[str]:
    """Titles of the rules in the configured language."""
    return [r.title(settings.grafana.language) for r in rules(settings)]
