"""Grafana-managed alert rules, the e-mail contact point and the notification policy.

Each rule is three steps (reference §1.6): **A** an InfluxQL query of
:mod:`monitor.influxdb.queries` (no dashboard variables; one series per site, section,
target or source), **B** a ``reduce`` expression taking the ``last`` number of each series
(non-numbers dropped), **C** a ``threshold`` on B, the rule's condition. The threshold
semantics Grafana applies (``pkg/expr/threshold.go``) are reproduced by :meth:`Rule.fires`
for the tests.

Rules are labelled ``severity`` (``critical`` or ``warning``) and ``envmon = "true"``; the
annotations (Chinese by default) name the value, the site and link the dashboard.

The notification policy sends everything to the e-mail contact point, grouped by rule and
severity, with the configured group wait, group interval and repeat interval, so a
district-wide episode makes one e-mail per rule rather than one per station and hour.
Without configured addresses there is no contact point and the policy uses Grafana's
``grafana-default-email``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from grafana_foundation_sdk.builders import alerting, expr
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import alerting as alerting_models

from monitor.grafana import dashboards
from monitor.grafana.models import EXPRESSION_UID, InfluxQL, to_data
from monitor.influxdb import queries
from monitor.influxdb.queries import InfluxQuery
from monitor.settings import Settings

Evaluator = Literal["gt", "lt", "lte", "within_range"]
Severity = Literal["critical", "warning"]
NoData = Literal["OK", "NoData", "Alerting"]

#: Name of the rule group (one group: one evaluation interval).
GROUP = "envmon"
#: Contact point uid and name.
CONTACT_UID = "envmon-email"
CONTACT_NAME = "envmon-email"
#: Grafana's built-in receiver, used when no address is configured.
DEFAULT_RECEIVER = "grafana-default-email"

_HOUR: Final = 3600
_DAY: Final = 86400


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
    no_data: NoData = "OK"
    exec_error: Literal["OK", "Error", "Alerting"] = "Error"

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


def rules(settings: Settings) -> tuple[Rule, ...]:
    """Every alert rule for ``settings`` (silence rules per enabled source)."""
    grafana = settings.grafana
    cat = queries.catalogue()
    site = "{{ $labels.site }}"
    value = "{{ $values.B.Value }}"
    out = [
        Rule(
            "envmon-area-aqi-100",
            "区域小时AQI超过100",
            "Area hourly AQI above 100",
            cat["alert_area_aqi"],
            "gt",
            (100.0,),
            3 * _HOUR,
            "warning",
            f"{site} 小时AQI为 {value}，超过100（轻度污染及以上）。",
            f"{site}: hourly AQI {value}, above 100 (lightly polluted or worse).",
            "aqi_hourly_area",
        ),
        Rule(
            "envmon-area-aqi-200",
            "区域小时AQI超过200",
            "Area hourly AQI above 200",
            cat["alert_area_aqi"],
            "gt",
            (200.0,),
            3 * _HOUR,
            "critical",
            f"{site} 小时AQI为 {value}，超过200（重度污染）。",
            f"{site}: hourly AQI {value}, above 200 (heavily polluted).",
            "aqi_hourly_area",
        ),
        Rule(
            "envmon-site-aqi-200",
            "站点小时AQI超过200",
            "Station hourly AQI above 200",
            cat["alert_site_aqi"],
            "gt",
            (200.0,),
            3 * _HOUR,
            "critical",
            f"站点 {site} 小时AQI为 {value}，超过200（重度污染）。",
            f"Station {site}: hourly AQI {value}, above 200 (heavily polluted).",
            "aqi_hourly_site",
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
            f"目标 {{{{ $labels.target }}}}：今年剩余可超标天数为 {value}，"
            f"已不超过 {grafana.budget_alert_days} 天。",
            f"Target {{{{ $labels.target }}}}: {value} non-good days still affordable this "
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
            "目标 {{ $labels.target }} 状态代码为 " + value + "（2 有风险，3 偏离目标）。",
            "Target {{ $labels.target }}: status code " + value + " (2 at risk, 3 off track).",
            "target_status",
        ),
        Rule(
            "envmon-section-class",
            "断面水质劣于目标类别",
            "Section worse than its target class",
            cat["alert_section_class"],
            "lt",
            (0.5,),
            35 * _DAY,
            "warning",
            f"断面 {site} 最新水质劣于目标类别（{value} = 未达标）。",
            f"Section {site}: latest class worse than its target class.",
            "water_latest",
        ),
        Rule(
            "envmon-do-low",
            "溶解氧低于3 mg/L",
            "Dissolved oxygen below 3 mg/L",
            cat["alert_water_do"],
            "lt",
            (3.0,),  # GB 3838-2002 Table 1: DO ≥ 3 mg/L is the Class IV limit
            35 * _DAY,
            "critical",
            f"断面 {site} 溶解氧为 {value} mg/L，低于3 mg/L（GB 3838-2002 IV类限值）。",
            f"Section {site}: dissolved oxygen {value} mg/L, below 3 mg/L.",
            "water_do",
        ),
        Rule(
            "envmon-nh3n-high",
            "氨氮超过V类限值",
            "Ammonia nitrogen above Class V",
            cat["alert_water_nh3n"],
            "gt",
            (2.0,),  # GB 3838-2002 Table 1 item 7: Class V limit 2.0 mg/L
            35 * _DAY,
            "critical",
            f"断面 {site} 氨氮为 {value} mg/L，超过V类限值2.0 mg/L（劣V类）。",
            f"Section {site}: NH3-N {value} mg/L, above the Class V limit 2.0 mg/L.",
            "water_nh3n",
        ),
    ]
    grace = grafana.silence_grace_minutes * 60
    for source in settings.sources:
        if not source.enabled:
            continue
        limit = float(source.interval_minutes * 60 + grace)
        hours = f"{limit / 3600:g}"
        out += [
            Rule(
                f"envmon-silent-site-{source.name}"[:40],
                f"站点数据中断（{source.name}）",
                f"Station silent ({source.name})",
                queries.site_silent(source.name),
                "gt",
                (limit,),
                _HOUR,
                "warning",
                f"数据源 {source.name} 的站点 {site} 已 {value} 秒无新数据"
                f"（超过采集间隔加宽限 {hours} 小时）。",
                f"Station {site} of source {source.name}: no new value for {value} s "
                f"(more than the interval plus grace, {hours} h).",
                "data_freshness",
            ),
            Rule(
                f"envmon-silent-source-{source.name}"[:40],
                f"数据源中断（{source.name}）",
                f"Source silent ({source.name})",
                queries.source_silent(source.name),
                "gt",
                (limit,),
                _HOUR,
                "warning",
                f"数据源 {source.name} 已 {value} 秒未采集到新时段"
                f"（超过采集间隔加宽限 {hours} 小时）。",
                f"Source {source.name}: nothing new collected for {value} s "
                f"(more than the interval plus grace, {hours} h).",
                "source_state",
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
    return [
        alerting.Query("A").datasource_uid(datasource_uid).relative_time_range(span).model(query),
        alerting.Query("B").datasource_uid(EXPRESSION_UID).relative_time_range(none).model(reduce),
        alerting.Query("C")
        .datasource_uid(EXPRESSION_UID)
        .relative_time_range(none)
        .model(threshold),
    ]


def _annotations(rule: Rule, settings: Settings) -> dict[str, str]:
    grafana = settings.grafana
    link = f"{grafana.url.rstrip('/')}/d/{rule.dashboard}"
    zh = grafana.language == "zh"
    return {
        "summary": rule.summary_zh if zh else rule.summary_en,
        "description": (
            f"当前值 {{{{ $values.B.Value }}}}；看板：{link}"
            if zh
            else f"Value {{{{ $values.B.Value }}}}; dashboard: {link}"
        ),
        "dashboard": link,
    }


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


def contact_point(settings: Settings) -> dict[str, Any] | None:
    """The e-mail contact point (``None`` without configured addresses)."""
    emails = settings.grafana.contact_emails
    if not emails:
        return None
    built = (
        alerting.ContactPoint()
        .uid(CONTACT_UID)
        .name(CONTACT_NAME)
        .type("email")
        .settings({"addresses": ";".join(emails), "singleEmail": True})
        .disable_resolve_message(False)
    )
    data: dict[str, Any] = to_data(built.build())
    return data


def receiver(settings: Settings) -> str:
    """Receiver of the policy: the contact point, or Grafana's default one."""
    return CONTACT_NAME if settings.grafana.contact_emails else DEFAULT_RECEIVER


def policy(settings: Settings) -> dict[str, Any]:
    """The notification policy tree: envmon's alerts grouped by rule and severity;
    critical ones wait less before the first e-mail."""
    grafana = settings.grafana
    name = receiver(settings)
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
