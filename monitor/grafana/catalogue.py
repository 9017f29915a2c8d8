"""The indicator catalogue: every indicator the dashboards show, declared once.

An :class:`Indicator` has a key, Chinese and English labels, a Grafana unit, colour steps
(official colours where a standard sets them), an optional target, and the key of the
InfluxQL query (:mod:`monitor.influxdb.queries`) that shows it. Dashboards place
indicators; nothing else declares a label, unit or colour.

Colours:

* AQI levels — HJ 633-2012 Table 2 / HJ 633-2026 Table 1 and Appendix A
  (:data:`monitor.domain.aqi.AQI_LEVELS`: #00E400, #FFFF00, #FF7E00, #FF0000, #99004C,
  #7E0023). AQI is an integer, so level *n* starts at the previous band's top + 1.
* Concentrations — the same colours at the concentrations of IAQI 50, 100, 150, 200, 300
  (HJ 633-2026 Table 3; 1-hour columns of SO2, NO2, CO, O3 and the 24-hour columns of PM,
  which HJ 633-2026 §4.2.4 uses for hourly PM): the IAQI-100 concentration is the Grade II
  limit the panel is read against.
* Water classes — 环办〔2011〕22号 status colours (blue I–II, green III, yellow IV, orange V,
  red 劣V; :meth:`monitor.domain.water_quality.WaterStatus.colour`, [M] in standards.md
  §3.2), at GB 3838-2002 Table 1 class limits for the parameters.

Grafana colours a value by the highest step whose start it reaches (``value >= start``),
so a concentration exactly on a breakpoint shows the colour of the band above.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

from monitor.domain.aqi import AQI_LEVELS, HJ633_2026_TABLE, IAQI_POINTS
from monitor.domain.pollutants import Indicator as Column
from monitor.domain.pollutants import Pollutant
from monitor.domain.water_quality import (
    PARAMETERS,
    TABLE_1_LIMITS,
    Parameter,
    WaterClass,
    WaterStatus,
    section_status,
)
from monitor.influxdb import queries

Language = Literal["zh", "en"]


@dataclass(frozen=True)
class Step:
    """A colour from ``start`` on (``None``: the base colour, from minus infinity)."""

    start: float | None
    colour: str


@dataclass(frozen=True)
class ValueText:
    """Text shown for a code value (a class, a level, a status), with its colour."""

    value: float | str  #: a number (class, level, status) or a text code
    zh: str
    en: str
    colour: str | None = None


@dataclass(frozen=True)
class Field:
    """A field (column) of an indicator's query: its name in the panel, and what differs
    from the indicator's defaults.

    ``unit`` set: the field gets its own unit (Grafana field override; the name is given
    with ``displayName``). ``values``: code → text and colour (value mappings), shown as
    coloured cells in tables. ``hidden`` in ``language`` (tables): the other language's
    text, a code shown by another column."""

    name: str
    zh: str
    en: str
    unit: str | None = None
    values: tuple[ValueText, ...] = ()
    hidden: tuple[Language, ...] = ()

    def label(self, language: Language) -> str:
        return self.zh if language == "zh" else self.en


@dataclass(frozen=True)
class Indicator:
    """One indicator: what it is called, its unit and colours, and its query."""

    key: str
    zh: str
    en: str
    unit: str  #: Grafana unit id (``none``, ``percentunit``, ``s``, ``conμgm3``, ``suffix: …``)
    query: str  #: key in :func:`monitor.influxdb.queries.catalogue`
    steps: tuple[Step, ...] = (Step(None, "green"),)
    values: tuple[ValueText, ...] = ()
    target: float | None = None  #: goal line, in the unit of the values
    #: Regex of the fields ``values`` apply to (``None``: every field).
    value_fields: str | None = None
    decimals: int | None = None
    min: float | None = None
    max: float | None = None
    #: Fields with their own name, unit, mappings or visibility (see :class:`Field`).
    fields: tuple[Field, ...] = ()
    #: Target kind the indicator shows; the dashboards leave it out when no configured
    #: target has that kind (a panel that could only say "No data").
    target_kind: str | None = None

    def label(self, language: Language) -> str:
        """The label in ``language``."""
        return self.zh if language == "zh" else self.en


def _aqi_steps() -> tuple[Step, ...]:
    starts: list[float | None] = [None]
    starts += [float(level.upper) + 1 for level in AQI_LEVELS[:-1]]
    return tuple(Step(s, level.colour) for s, level in zip(starts, AQI_LEVELS, strict=True))


AQI_STEPS: Final = _aqi_steps()
AQI_LEVEL_VALUES: Final = tuple(
    ValueText(float(level.level), level.category_zh, level.category_en, level.colour)
    for level in AQI_LEVELS
)


def concentration_steps(column: Column) -> tuple[Step, ...]:
    """AQI colours at the concentrations of IAQI 50 … 300 of one HJ 633-2026 column."""
    points = HJ633_2026_TABLE.concentrations[column]
    steps = [Step(None, AQI_LEVELS[0].colour)]
    for level, iaqi in zip(AQI_LEVELS[1:], IAQI_POINTS[1:6], strict=True):
        index = IAQI_POINTS.index(iaqi)
        if index < len(points):
            steps.append(Step(float(points[index]), level.colour))
    return tuple(steps)


#: Breakpoint column an hourly concentration is read against (HJ 633-2026 §4.2.4).
HOURLY_COLUMN: Final[Mapping[str, Column]] = {
    "so2": Column.SO2_1H,
    "no2": Column.NO2_1H,
    "co": Column.CO_1H,
    "o3": Column.O3_1H,
    "pm10": Column.PM10_24H,
    "pm2_5": Column.PM2_5_24H,
}
_POLLUTANT_ZH: Final = {p.value: p.name_zh for p in Pollutant}


def _status_colour(water_class: WaterClass) -> str:
    status = section_status([int(water_class)])[0]
    assert status is not None
    return status.colour


#: GB 3838 classes 1 (I) … 6 (劣V) with the status colours.
WATER_CLASS_VALUES: Final = tuple(
    ValueText(float(c), f"{c.code}类", f"Class {c.code}", _status_colour(c)) for c in WaterClass
)
WATER_CLASS_STEPS: Final = (
    Step(None, WaterStatus.EXCELLENT.colour),
    Step(3.0, WaterStatus.GOOD.colour),
    Step(4.0, WaterStatus.LIGHTLY_POLLUTED.colour),
    Step(5.0, WaterStatus.MODERATELY_POLLUTED.colour),
    Step(6.0, WaterStatus.HEAVILY_POLLUTED.colour),
)


def water_steps(parameter: Parameter) -> tuple[Step, ...]:
    """Class colours at the GB 3838-2002 Table 1 limits of a parameter (rivers).

    DO is "≥": below the class V limit (2 mg/L) is 劣V. Other items are "≤": above the
    class II limit the value is class III or worse."""
    colours = [
        WaterStatus.EXCELLENT.colour,
        WaterStatus.GOOD.colour,
        WaterStatus.LIGHTLY_POLLUTED.colour,
        WaterStatus.MODERATELY_POLLUTED.colour,
        WaterStatus.HEAVILY_POLLUTED.colour,
    ]
    if parameter is Parameter.PH:  # 6–9 every class; outside is 劣V
        return (Step(None, colours[4]), Step(6.0, colours[0]), Step(9.0001, colours[4]))
    limits = TABLE_1_LIMITS[parameter].limits
    if parameter is Parameter.DO:  # ≥ V 2, IV 3, III 5, II 6
        return (
            Step(None, colours[4]),
            Step(float(limits[4]), colours[3]),
            Step(float(limits[3]), colours[2]),
            Step(float(limits[2]), colours[1]),
            Step(float(limits[1]), colours[0]),
        )
    return (
        Step(None, colours[0]),
        Step(float(limits[1]), colours[1]),
        Step(float(limits[2]), colours[2]),
        Step(float(limits[3]), colours[3]),
        Step(float(limits[4]), colours[4]),
    )


def _primary_values() -> tuple[ValueText, ...]:
    """Every ``primary_pollutants`` text (``;``-joined in canonical order, as
    :func:`monitor.domain.aqi.pollutant_names` writes it) with its names: 63 texts."""
    codes = [p.value for p in Pollutant]
    out = []
    for mask in range(1, 1 << len(codes)):
        chosen = [c for n, c in enumerate(codes) if mask >> n & 1]
        out.append(
            ValueText(
                ";".join(chosen),
                "、".join(_POLLUTANT_ZH[c] for c in chosen),
                ", ".join(Pollutant(c).label for c in chosen),
            )
        )
    return tuple(out)


PRIMARY_POLLUTANT_VALUES: Final = _primary_values()
YES_NO_VALUES: Final = (
    ValueText(1.0, "是", "yes", "green"),
    ValueText(0.0, "否", "no", "red"),
)
FETCH_VALUES: Final = (
    ValueText(1.0, "成功", "ok", "green"),
    ValueText(0.0, "失败", "failed", "red"),
)

#: Target status codes (monitor.influxdb.points.STATUS_CODES) with their colours.
STATUS_VALUES: Final = (
    ValueText(0.0, "已达成", "achieved", "green"),
    ValueText(1.0, "进度正常", "on track", "green"),
    ValueText(2.0, "有风险", "at risk", "orange"),
    ValueText(3.0, "偏离目标", "off track", "red"),
    ValueText(4.0, "未达成", "failed", "dark-red"),
    ValueText(9.0, "暂无法评估", "not assessable", "text"),
)


def _aqi(key: str, zh: str, en: str, query: str) -> Indicator:
    return Indicator(key, zh, en, "none", query, AQI_STEPS, decimals=0)


def _share(
    key: str,
    zh: str,
    en: str,
    query: str,
    steps: tuple[Step, ...],
    target: float | None,
    *,
    fields: tuple[Field, ...] = (),
    target_kind: str | None = None,
) -> Indicator:
    """A share 0–1 shown as a percentage."""
    return Indicator(
        key,
        zh,
        en,
        "percentunit",
        query,
        steps,
        target=target,
        decimals=1,
        min=0.0,
        max=1.0,
        fields=fields,
        target_kind=target_kind,
    )


_VALUE_GOAL: Final = (Field("value", "当前", "value"), Field("goal", "目标", "goal"))


def _indicators(budget_alert_days: int) -> tuple[Indicator, ...]:
    out: list[Indicator] = [
        _aqi("aqi_hourly_area", "区域小时AQI", "Area hourly AQI", "aqi_hourly_area"),
        _aqi("aqi_hourly_site", "站点小时AQI", "Station hourly AQI", "aqi_hourly_site"),
        _aqi("aqi_daily_area", "区域日AQI", "Area daily AQI", "aqi_daily_area"),
        _aqi("aqi_daily_published", "官方发布日AQI", "Published daily AQI", "aqi_daily_published"),
        Indicator(
            "aqi_latest",
            "最新AQI、级别与首要污染物",
            "Latest AQI, level and primary pollutant",
            "none",
            "aqi_hourly_latest",
            AQI_STEPS,
            fields=(
                Field("aqi", "AQI", "AQI"),
                Field("level", "级别", "Level", values=AQI_LEVEL_VALUES),
                Field(
                    "primary_pollutants",
                    "首要污染物",
                    "Primary pollutant",
                    values=PRIMARY_POLLUTANT_VALUES,
                ),
            ),
        ),
        _share(
            "hour_completeness",
            "小时数据完整率",
            "Hourly data completeness",
            "aqi_hourly_completeness",
            (Step(None, "red"), Step(0.75, "orange"), Step(0.9, "green")),
            1.0,
        ),
        Indicator(
            "heavy_days",
            "重污染天数",
            "Heavy-pollution days",
            "none",
            "heavy_days",
            (Step(None, "green"), Step(1.0, AQI_LEVELS[4].colour)),
            decimals=0,
        ),
    ]
    for level in AQI_LEVELS:
        out.append(
            Indicator(
                f"aqi_level_days_{level.level}",
                f"{level.category_zh}天数",
                f"{level.category_en} days",
                "none",
                f"aqi_level_days_{level.level}",
                (Step(None, level.colour),),
                decimals=0,
            )
        )
    for parameter in queries.AIR_PARAMETERS:
        pollutant = Pollutant(parameter)
        out.append(
            Indicator(
                f"concentration_{parameter}",
                f"{_POLLUTANT_ZH[parameter]}浓度",
                f"{pollutant.label} concentration",
                "conmgm3" if pollutant is Pollutant.CO else "conμgm3",
                f"air_concentration_{parameter}",
                concentration_steps(HOURLY_COLUMN[parameter]),
                target=float(HJ633_2026_TABLE.concentrations[HOURLY_COLUMN[parameter]][2]),
                decimals=1 if pollutant is Pollutant.CO else 0,
                min=0.0,
            )
        )
    out += [
        _share(
            "good_day_ratio",
            "优良天数比例",
            "Share of good days",
            "good_day_ratio",
            (Step(None, "red"), Step(0.8, "green")),
            0.8,
            fields=(
                Field("ratio", "优良天数比例", "good-day share"),
                Field("goal", "目标", "goal"),
            ),
            target_kind="good_day_ratio",
        ),
        Indicator(
            "good_day_budget",
            "剩余可超标天数",
            "Non-good days still affordable",
            "none",
            "good_day_budget",
            (
                Step(None, "red"),
                Step(float(budget_alert_days) + 1, "orange"),
                Step(float(budget_alert_days) * 2 + 1, "green"),
            ),
            target=float(budget_alert_days),
            decimals=0,
            target_kind="good_day_ratio",
        ),
        _share(
            "good_day_projection",
            "年末优良比例预测区间",
            "Projected year-end share (range)",
            "good_day_projection",
            (Step(None, "red"), Step(0.8, "green")),
            0.8,
            fields=(
                Field("low", "预测下限", "low"),
                Field("projection", "预测值", "projection"),
                Field("high", "预测上限", "high"),
            ),
            target_kind="good_day_ratio",
        ),
        Indicator(
            "heavy_days_target",
            "重污染天数（目标）",
            "Heavy-pollution days (target)",
            "none",
            "heavy_days_target",
            decimals=0,
            fields=_VALUE_GOAL,
            target_kind="heavy_pollution_days",
        ),
        _share(
            "river_class_target",
            "水质达标断面比例",
            "Sections meeting their target class",
            "river_class_target",
            (Step(None, "orange"), Step(1.0, "green")),
            None,
            fields=(Field("value", "达标比例", "share meeting"), Field("goal", "目标", "goal")),
            target_kind="river_class",
        ),
        Indicator(
            "milestones_target",
            "河流源头治理进度",
            "River treatment milestones",
            "none",
            "milestones_target",
            decimals=0,
            fields=(Field("value", "已完成", "done"), Field("goal", "应完成", "due")),
            target_kind="milestones",
        ),
        Indicator(
            "count_target",
            "新增绿色工厂",
            "New green factories",
            "none",
            "count_target",
            decimals=0,
            fields=_VALUE_GOAL,
            target_kind="count",
        ),
        Indicator(
            "target_status",
            "目标状态与说明",
            "Target status and explanation",
            "none",
            "target_status",
            fields=(
                Field("target", "目标", "Target"),
                Field("status_code", "状态", "Status", values=STATUS_VALUES),
                Field("status", "状态代码", "Status code", hidden=("zh", "en")),
                Field("value", "当前值", "Value"),
                Field("goal", "目标值", "Goal"),
                Field("explanation_zh", "说明", "Explanation (Chinese)", hidden=("en",)),
                Field("explanation_en", "说明（英文）", "Explanation", hidden=("zh",)),
            ),
        ),
        Indicator(
            "water_class",
            "断面水质类别",
            "Section water class",
            "none",
            "water_class_series",
            WATER_CLASS_STEPS,
            WATER_CLASS_VALUES,
            decimals=0,
            min=1.0,
            max=6.0,
        ),
        Indicator(
            "water_exceedance",
            "超标倍数与定类因子",
            "Exceedance multiples and limiting parameters",
            "none",
            "water_exceedance",
            fields=(
                Field("class", "水质类别", "Class"),
                Field("limiting_parameters", "定类因子", "Limiting parameters", hidden=("zh",)),
                Field("exceedance_multiples", "超标倍数", "Exceedance multiples", hidden=("zh",)),
                Field("limiting_zh", "定类因子", "Limiting parameters (Chinese)", hidden=("en",)),
                Field("exceedance_zh", "超标倍数", "Exceedance (Chinese)", hidden=("en",)),
            ),
        ),
        Indicator(
            "water_latest",
            "最新水质与目标类别",
            "Latest class against target",
            "none",
            "water_latest",
            WATER_CLASS_STEPS,
            fields=(
                Field("class_code", "最新水质类别", "Latest class", values=WATER_CLASS_VALUES),
                Field("target_class_code", "目标类别", "Target class", values=WATER_CLASS_VALUES),
                Field("meets_target", "达标", "Meets target", values=YES_NO_VALUES),
                Field("class", "类别", "Class", hidden=("zh", "en")),
                Field("river", "河流", "River"),
            ),
        ),
    ]
    for parameter in queries.WATER_QUERY_PARAMETERS:
        p = Parameter(parameter)
        info = PARAMETERS[p]
        target = None if p is Parameter.PH else float(TABLE_1_LIMITS[p].limit(WaterClass.III))
        out.append(
            Indicator(
                f"water_{parameter}",
                info.name_zh,
                info.name_en,
                "none" if p is Parameter.PH else "suffix: mg/L",  # Grafana custom unit
                f"water_parameter_{parameter}",
                water_steps(p),
                target=target,
                decimals=2,
            )
        )
    out += [
        Indicator(
            "data_freshness",
            "数据时效与完整率",
            "Data freshness and completeness",
            "none",
            "data_freshness",
            fields=(
                Field("source", "数据源", "Source"),
                Field("age_seconds", "最新数据距今", "Age of the newest value", unit="s"),
                Field(
                    "completeness_24h", "24小时完整率", "Completeness, 24 h", unit="percentunit"
                ),
                Field("values_24h", "24小时数据量", "Values, 24 h", unit="none"),
                Field("qc_flags_24h", "24小时质控标记", "QC flags, 24 h", unit="none"),
            ),
        ),
        Indicator(
            "data_age",
            "最新数据距今",
            "Age of the newest value",
            "s",
            "data_age_series",
            (Step(None, "green"), Step(3 * 3600.0, "orange"), Step(24 * 3600.0, "red")),
        ),
        Indicator(
            "source_state",
            "数据源状态",
            "Source state",
            "none",
            "source_state",
            fields=(
                Field("source", "数据源", "Source"),
                Field("age_seconds", "采集进度距今", "Age of the watermark", unit="s"),
                Field("last_fetch_ok", "最近采集", "Latest collection", values=FETCH_VALUES),
                Field("failures_24h", "24小时失败次数", "Failures, 24 h", unit="none"),
                Field("rows_24h", "24小时数据行", "Rows, 24 h", unit="none"),
                Field("last_error", "最近错误", "Latest error"),
            ),
        ),
        Indicator(
            "publish_lag",
            "发布延迟",
            "Publish lag",
            "none",
            "publish_lag",
            (Step(None, "green"), Step(600.0, "orange"), Step(3600.0, "red")),
            fields=(
                Field("publish_lag_seconds", "发布延迟", "Publish lag", unit="s"),
                Field("outbox_pending", "待发布行数", "Rows waiting", unit="none"),
                Field("quarantined", "隔离点数", "Quarantined points", unit="none"),
            ),
        ),
        Indicator(
            "heartbeat",
            "服务心跳",
            "Service heartbeat",
            "none",
            "heartbeat_series",
            (Step(None, "red"), Step(1.0, "green")),
            decimals=0,
        ),
    ]
    return tuple(out)


def indicators(budget_alert_days: int = 10) -> dict[str, Indicator]:
    """Every indicator by key (``budget_alert_days`` sets the budget colours and line)."""
    return {i.key: i for i in _indicators(budget_alert_days)}
