"""The four dashboards, built from the indicator catalogue with the Grafana SDK.

1. **Targets overview** (``envmon-targets``): good-day share against the goal (official
   rules and both consistent series), non-good days still affordable, projection range,
   heavy-pollution days, rivers meeting their target class, river treatment milestones,
   green factories, a calendar-like daily AQI in the official colours, each target's
   status and explanation.
2. **Air quality** (``envmon-air``): area and station AQI coloured by level, pollutant
   concentrations against their limits, latest level and primary pollutant, level
   distribution, completeness.
3. **Rivers** (``envmon-rivers``): class of each section over time in the class colours,
   parameters against the class limits, exceedance multiples, latest class against target.
4. **Data health** (``envmon-health``): freshness and completeness per source and site, QC
   flags, source state, publish lag, the heartbeat.

Titles are Chinese unless ``[grafana] language = "en"``. Variables ``area``, ``site`` and
``section`` are custom variables listing the configured areas, stations and sections
(multi-select, "All" by default); a dashboard has those its queries use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final, Literal

from grafana_foundation_sdk.builders import (
    bargauge,
    common,
    stat,
    statetimeline,
    table,
    timeseries,
)
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import common as common_models
from grafana_foundation_sdk.models import dashboard as models

from monitor.grafana.catalogue import Indicator, Language, ValueText, indicators
from monitor.grafana.models import InfluxQL, datasource_ref, to_data
from monitor.influxdb import queries
from monitor.settings import Settings

TARGETS_UID: Final = "envmon-targets"
AIR_UID: Final = "envmon-air"
RIVERS_UID: Final = "envmon-rivers"
HEALTH_UID: Final = "envmon-health"

PanelKind = Literal["timeseries", "bars", "stat", "table", "state", "levels"]
#: Panel time override of the level distribution: 1 January to now (Grafana relative time
#: ``now/y``, "this year so far").
YEAR_TO_DATE: Final = "now/y"


@dataclass(frozen=True)
class Panel:
    """A panel: the indicators it shows (one query each), how, and its size."""

    indicators: tuple[str, ...]
    kind: PanelKind
    width: int = 12
    height: int = 8


@dataclass(frozen=True)
class Dashboard:
    """A dashboard: uid, titles, time range and panels."""

    uid: str
    zh: str
    en: str
    time_from: str
    panels: tuple[Panel, ...]

    def title(self, language: Language) -> str:
        return self.zh if language == "zh" else self.en


def _p(kind: PanelKind, *keys: str, width: int = 12, height: int = 8) -> Panel:
    return Panel(keys, kind, width, height)


_LEVELS = tuple(f"aqi_level_days_{n}" for n in range(1, 7))

DASHBOARDS: Final[tuple[Dashboard, ...]] = (
    Dashboard(
        TARGETS_UID,
        "目标总览",
        "Targets overview",
        "now/y",
        (
            _p("timeseries", "good_day_ratio", width=12),
            _p("stat", "good_day_budget", width=6),
            _p("stat", "good_day_projection", width=6),
            _p("stat", "heavy_days_target", width=6),
            _p("stat", "river_class_target", width=6),
            _p("stat", "milestones_target", width=6),
            _p("stat", "count_target", width=6),
            _p("stat", "heavy_days", width=6),
            _p("state", "aqi_daily_area", width=24, height=6),
            _p("state", "aqi_daily_published", width=24, height=5),
            _p("table", "target_status", width=24, height=8),
        ),
    ),
    Dashboard(
        AIR_UID,
        "空气质量",
        "Air quality",
        "now-2d",
        (
            _p("timeseries", "aqi_hourly_area"),
            _p("timeseries", "aqi_hourly_site"),
            _p("table", "aqi_latest"),
            _p("levels", *_LEVELS),
            *(_p("timeseries", f"concentration_{p}", width=8) for p in queries.AIR_PARAMETERS),
            _p("bars", "hour_completeness", width=24, height=6),
        ),
    ),
    Dashboard(
        RIVERS_UID,
        "河流水质",
        "Rivers",
        "now-90d",
        (
            _p("state", "water_class", width=24),
            _p("table", "water_latest"),
            _p("table", "water_exceedance"),
            *(_p("timeseries", f"water_{p}", width=8) for p in queries.WATER_QUERY_PARAMETERS),
        ),
    ),
    Dashboard(
        HEALTH_UID,
        "数据健康",
        "Data health",
        "now-24h",
        (
            _p("table", "data_freshness", width=24),
            _p("timeseries", "data_age"),
            _p("table", "source_state"),
            _p("timeseries", "publish_lag"),
            _p("bars", "heartbeat"),
        ),
    ),
)

_VARIABLE_LABELS: Final = {
    "area": ("区域", "Area"),
    "site": ("站点", "Station"),
    "section": ("断面", "Section"),
}


def _variable(name: str, settings: Settings, language: Language) -> dash.CustomVariable:
    if name == "area":
        pairs = [(a.name_zh if language == "zh" else a.name, a.id) for a in settings.areas]
    elif name == "site":  # control sites marked, as in the panels
        site_names = names(settings, language)["site"]
        pairs = [(site_names[s.code], s.code) for s in settings.air_stations]
    else:
        pairs = [
            (s.name_zh if language == "zh" else s.name or s.id, s.id)
            for s in settings.water_sections
        ]
    zh, en = _VARIABLE_LABELS[name]
    return (
        dash.CustomVariable(name)
        .label(zh if language == "zh" else en)
        .values(",".join(f"{text} : {value}" for text, value in pairs))
        .multi(True)
        .include_all(True)
        .current(models.VariableOption(selected=True, text=["All"], value=["$__all"]))
    )


def _thresholds(indicator: Indicator) -> dash.ThresholdsConfig:
    return (
        dash.ThresholdsConfig()
        .mode(models.ThresholdsMode.ABSOLUTE)
        .steps([models.Threshold(value=s.start, color=s.colour) for s in indicator.steps])
    )


def _value_maps(values: tuple[ValueText, ...], language: Language) -> list[models.ValueMapping]:
    """Grafana value mappings: each code (``1`` or ``pm2_5;o3``) shows its text and colour."""
    if not values:
        return []
    options = {
        (f"{v.value:g}" if isinstance(v.value, float) else v.value): models.ValueMappingResult(
            text=v.zh if language == "zh" else v.en, color=v.colour, index=i
        )
        for i, v in enumerate(values)
    }
    return [models.ValueMap(options=options)]


def names(settings: Settings, language: Language) -> dict[str, dict[str, str]]:
    """What officers read for each id envmon writes as a tag, by tag: ``site`` (areas,
    stations with control sites marked, sections), ``area``, ``target`` and ``variant``
    (rule sets of target progress)."""
    zh = language == "zh"
    site = {a.id: a.name_zh if zh else a.name for a in settings.areas}
    for station in settings.air_stations:
        name = station.name_zh if zh else station.name or station.code
        if station.role == "control":
            name += "（对照点）" if zh else " (control site)"
        site[station.code] = name
    site |= {s.id: s.name_zh if zh else s.name or s.id for s in settings.water_sections}
    for source in settings.sources:  # model grid cells: never a measurement
        for point in source.points:
            site[point.site] = (
                f"模型格点（{point.name or point.site}）"
                if zh
                else (f"model cell ({point.name or point.site})")
            )
    variant = {
        "official": "现行标准" if zh else "rules in force",
        "hj633-2012": "全年按HJ 633-2012" if zh else "HJ 633-2012 throughout",
        "hj633-2026": "全年按HJ 633-2026" if zh else "HJ 633-2026 throughout",
    }
    area = {a.id: a.name_zh if zh else a.name for a in settings.areas}
    targets = {t.id: t.name for t in settings.targets}
    return {"site": site, "area": area, "target": targets, "variant": variant}


def _renames(pairs: dict[str, str]) -> list[models.DataTransformerConfig]:
    """``renameByRegex`` transformations replacing each id inside a series name by its name
    (word-bounded: ``hunnan`` is not replaced inside ``hunnan_model``).

    Grafana runs ``displayName.replace(regex, interpolate(renamePattern))``
    (grafana/grafana ``packages/grafana-data/src/transformations/transformers/
    renameByRegex.ts``): the pattern uses named groups (``$<before>``), which neither the
    dashboard-variable interpolation (``$name``) nor a name starting with a digit (``$18``
    would be group 18) can misread."""
    out = []
    for code, name in sorted(pairs.items(), key=lambda kv: (-len(kv[0]), kv[0])):
        pattern = "^(?<before>.*)" + (r"\b" if re.match(r"\w", code) else "")
        pattern += re.escape(code) + (r"\b" if re.search(r"\w$", code) else "") + "(?<after>.*)$"
        out.append(
            models.DataTransformerConfig(
                id_val="renameByRegex",
                options={"regex": pattern, "renamePattern": f"$<before>{name}$<after>"},
            )
        )
    return out


def group_tags(query: queries.InfluxQuery) -> list[str]:
    """The tags a query groups by (``GROUP BY time(…), "site"`` → ``["site"]``)."""
    if "GROUP BY" not in query.text:
        return []
    clause = query.text.split("GROUP BY", 1)[1].split("ORDER BY", 1)[0]
    return re.findall(r'"(\w+)"', clause)


def _tag_columns(indicator: Indicator) -> dict[str, tuple[str, str]]:
    """Tag columns of a table (ids shown by name) with their (zh, en) heading."""
    query = queries.catalogue()[indicator.query]
    if query.measurement in ("water_class", "water_observation"):
        site = ("断面", "Section")
    elif query.measurement in ("aqi_hourly", "aqi_daily", "air_observation"):
        site = ("站点", "Station")
    else:
        site = ("站点/断面", "Station or section")
    return {"site": site, "target": ("目标", "Target")}


def _alias(query: queries.InfluxQuery, prefix: str, label: str) -> str:
    """Series name of a time-series target: the column when the query selects several,
    then each GROUP BY tag (``$tag_site``), after ``prefix``; ``label`` when that is
    empty. Grafana's InfluxQL alias patterns: ``$col``, ``$tag_<name>``
    (grafana/grafana:pkg/tsdb/influxdb/influxql/response_parser.go)."""
    selected = query.text.split(" FROM ", 1)[0]
    several = len(re.findall(r' AS "|^SELECT "|, "', selected)) > 1
    parts = ([prefix] if prefix else []) + (["$col"] if several else [])
    parts += [f"$tag_{t}" for t in group_tags(query)]
    return " ".join(parts) or label


def _targets(
    panel: Panel, catalogue: dict[str, Indicator], datasource_uid: str, language: Language
) -> list[InfluxQL]:
    out = []
    cat = queries.catalogue()
    for n, key in enumerate(panel.indicators):
        indicator = catalogue[key]
        query = cat[indicator.query]
        target = InfluxQL(chr(ord("A") + n), query.text, datasource_uid).result_format(
            query.format
        )
        if query.format == "time_series":
            label = indicator.label(language)
            target.alias(_alias(query, label if len(panel.indicators) > 1 else "", label))
        out.append(target)
    return out


PanelBuilder = timeseries.Panel | stat.Panel | table.Panel | statetimeline.Panel | bargauge.Panel


def _field_override(
    builder: PanelBuilder, name: str, properties: list[models.DynamicConfigValue]
) -> PanelBuilder:
    return builder.with_override(models.MatcherConfig(id_val="byName", options=name), properties)


def _fields(
    builder: PanelBuilder,
    panel: Panel,
    first: Indicator,
    pairs: dict[str, dict[str, str]],
    language: Language,
) -> PanelBuilder:
    """Per-field names, units, mappings and visibility (Grafana field overrides; tables also
    map the id columns to names and colour the mapped cells)."""
    is_table = panel.kind == "table"
    renamed: dict[str, str] = {}
    for field in first.fields:
        properties = []
        if is_table or field.unit is not None:
            properties.append(
                models.DynamicConfigValue(id_val="displayName", value=field.label(language))
            )
        else:
            renamed[field.name] = field.label(language)
        if field.unit is not None:
            properties.append(models.DynamicConfigValue(id_val="unit", value=field.unit))
        if field.values:
            maps = to_data(_value_maps(field.values, language))
            properties.append(models.DynamicConfigValue(id_val="mappings", value=maps))
            if is_table and any(v.colour for v in field.values):
                properties.append(
                    models.DynamicConfigValue(
                        id_val="custom.cellOptions",
                        value={"type": "color-background", "mode": "basic"},
                    )
                )
                properties.append(
                    models.DynamicConfigValue(id_val="color", value={"mode": "thresholds"})
                )
        if is_table and language in field.hidden:
            properties.append(models.DynamicConfigValue(id_val="custom.hidden", value=True))
        if properties and (is_table or field.unit is not None or field.values):
            builder = _field_override(builder, field.name, properties)
    tags = group_tags(queries.catalogue()[first.query])
    if is_table:
        declared = {f.name for f in first.fields}
        headings = _tag_columns(first)
        for column in tags:
            if not pairs.get(column):
                continue
            options = {
                code: models.ValueMappingResult(text=name, index=i)
                for i, (code, name) in enumerate(sorted(pairs[column].items()))
            }
            maps = to_data([models.ValueMap(options=options)])
            properties = [models.DynamicConfigValue(id_val="mappings", value=maps)]
            if column not in declared and column in headings:
                zh, en = headings[column]
                properties.insert(
                    0,
                    models.DynamicConfigValue(
                        id_val="displayName", value=zh if language == "zh" else en
                    ),
                )
            builder = _field_override(builder, column, properties)
    else:
        ids = {code: name for tag in tags for code, name in pairs.get(tag, {}).items()}
        for transformation in _renames({**ids, **renamed}):
            builder = builder.with_transformation(transformation)
    return builder


def _panel(
    panel: Panel,
    catalogue: dict[str, Indicator],
    settings: Settings,
    panel_id: int,
    position: models.GridPos,
) -> PanelBuilder:
    language = settings.grafana.language
    first = catalogue[panel.indicators[0]]
    title = first.label(language)
    if panel.kind == "levels":
        title = "AQI级别分布（天）" if language == "zh" else "AQI level distribution (days)"
    colours = models.FieldColorModeId.THRESHOLDS
    builder: PanelBuilder
    if panel.kind in ("timeseries", "bars"):
        # Lines in palette colours, thresholds as background bands: with color.mode
        # "thresholds" every series is drawn in the colour of its own last value.
        colours = models.FieldColorModeId.PALETTE_CLASSIC
        builder = timeseries.Panel().thresholds_style(
            common.GraphThresholdsStyleConfig().mode(
                common_models.GraphThresholdsStyleMode.LINE_AND_AREA
            )
        )
        if panel.kind == "bars":
            builder = builder.draw_style(common_models.GraphDrawStyle.BARS).fill_opacity(80)
    elif panel.kind == "stat":
        # One row of the query is one as-of date: show that row, never a mix of rows.
        builder = stat.Panel().reduce_options(
            common.ReduceDataOptions().calcs(["last"]).values(False)
        )
    elif panel.kind == "state":
        builder = statetimeline.Panel().show_value(common_models.VisibilityMode.AUTO)
    elif panel.kind == "levels":
        builder = (
            bargauge.Panel()
            .reduce_options(common.ReduceDataOptions().calcs(["sum"]).values(False))
            .time_from(YEAR_TO_DATE)
        )
    else:
        builder = table.Panel().with_transformation(
            models.DataTransformerConfig(id_val="merge", options={})
        )
    builder = (
        builder.id(panel_id)
        .title(title)
        .datasource(datasource_ref(settings.grafana.datasource_uid))
        .grid_pos(position)
        .unit(first.unit)
        .thresholds(_thresholds(first))
        .color_scheme(dash.FieldColor().mode(colours))
    )
    why = unset_target_classes(first.key, settings, language)
    if first.target_kind is not None:
        # a target the data cannot assess yet (a section without target class): say so
        # (Grafana standard option "No value", shown for an empty or null value)
        no_value = "暂无法评估" if language == "zh" else "not assessable yet"
        if why is not None:
            no_value = "未设目标类别，暂无法评估" if language == "zh" else "no target class set"
        builder = builder.no_value(no_value)
    if why is not None:  # the panel's description (the "i" next to its title) says why
        builder = builder.description(why)
    if first.decimals is not None:
        builder = builder.decimals(first.decimals)
    if first.min is not None:
        builder = builder.min(first.min)
    if first.max is not None:
        builder = builder.max(first.max)
    mappings = _value_maps(first.values, language)
    if mappings and first.value_fields is None:
        builder = builder.mappings(mappings)
    elif mappings:
        builder = builder.with_override(
            models.MatcherConfig(id_val="byRegexp", options=first.value_fields),
            [models.DynamicConfigValue(id_val="mappings", value=to_data(mappings))],
        )
    builder = _fields(builder, panel, first, names(settings, language), language)
    for target in _targets(panel, catalogue, settings.grafana.datasource_uid, language):
        builder = builder.with_target(target)
    if panel.kind == "levels":
        for n, key in enumerate(panel.indicators):
            builder = builder.with_override(
                models.MatcherConfig(id_val="byFrameRefID", options=chr(ord("A") + n)),
                [
                    models.DynamicConfigValue(
                        id_val="color",
                        value={"mode": "fixed", "fixedColor": catalogue[key].steps[0].colour},
                    )
                ],
            )
    return builder


#: Indicators that need the sections' target classes (GB 3838 目标类别) to show anything.
NEEDS_TARGET_CLASS: Final = frozenset({"river_class_target", "water_latest"})


def unset_target_classes(indicator: str, settings: Settings, language: Language) -> str | None:
    """Why a panel of ``indicator`` is empty when no configured section has a target class
    (the shipped settings: no source gives the Hun River sections' classes, standards.md
    §4), else ``None``."""
    if indicator not in NEEDS_TARGET_CLASS:
        return None
    if any(s.target_class is not None for s in settings.water_sections):
        return None
    if language == "zh":
        return (
            "所有断面均未设目标类别（设置文件 [[water_sections]] target_class，"
            "待沈阳市生态环境局确认）：达标比例、“达标”列与“断面水质劣于目标类别”告警"
            "在设定目标类别之前均无数据。"
        )
    return (
        "No section has a target class yet (settings file [[water_sections]] target_class, "
        "to confirm with the Shenyang Ecology and Environment Bureau): the share meeting "
        "the target, the meets-target column and the section-class alert stay empty until "
        "the classes are set."
    )


def locate(indicator: str) -> tuple[str, int]:
    """(dashboard uid, panel id) of the first panel showing ``indicator``.

    >>> locate("water_do")
    ('envmon-rivers', 4)
    """
    for spec in DASHBOARDS:
        for n, panel in enumerate(spec.panels, start=1):
            if indicator in panel.indicators:
                return spec.uid, n
    raise KeyError(f"no dashboard shows indicator {indicator!r}")


def build(spec: Dashboard, settings: Settings) -> dict[str, Any]:
    """The dashboard JSON of ``spec`` for ``settings``."""
    language = settings.grafana.language
    catalogue = indicators(settings.grafana.budget_alert_days)
    cat = queries.catalogue()
    used: list[str] = []
    for panel in spec.panels:
        for key in panel.indicators:
            for name in cat[catalogue[key].query].variables:
                if name not in used:
                    used.append(name)
    builder: cogbuilder.Builder[models.Dashboard] = (
        dash.Dashboard(spec.title(language))
        .uid(spec.uid)
        .tags(["envmon"])
        .timezone(settings.district.timezone)
        .time(spec.time_from, "now")
        .refresh("5m")
        .editable()
        .link(
            dash.DashboardLink("envmon")
            .type(models.DashboardLinkType.DASHBOARDS)
            .tags(["envmon"])
            .as_dropdown(False)
            .include_vars(True)
            .keep_time(True)
        )
    )
    assert isinstance(builder, dash.Dashboard)
    for name in ("area", "site", "section"):
        if name in used:
            builder = builder.with_variable(_variable(name, settings, language))
    kinds = {t.kind for t in settings.targets}
    x = y = row_height = 0
    for n, panel in enumerate(spec.panels, start=1):
        kind = catalogue[panel.indicators[0]].target_kind
        if kind is not None and kind not in kinds:
            continue  # no configured target of that kind: the panel could only say No data
        if x + panel.width > 24:
            x, y, row_height = 0, y + row_height, 0
        position = models.GridPos(h=panel.height, w=panel.width, x=x, y=y)
        builder = builder.with_panel(_panel(panel, catalogue, settings, n, position))
        x += panel.width
        row_height = max(row_height, panel.height)
    data: dict[str, Any] = to_data(builder.build())
    data["id"] = None
    for part in ("templating", "annotations"):  # Grafana expects the lists, even empty
        data.setdefault(part, {}).setdefault("list", [])
    return data


def build_all(settings: Settings) -> dict[str, dict[str, Any]]:
    """Every dashboard JSON by uid."""
    return {spec.uid: build(spec, settings) for spec in DASHBOARDS}
