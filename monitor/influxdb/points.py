"""The InfluxDB schema: what envmon writes, measurement by measurement.

This is the contract Grafana's queries (``monitor/influxdb/queries.py``, the dashboards and
alert rules) are written against; the docs' "InfluxDB schema" (``docs/influxdb.md``) is
generated from :data:`MEASUREMENTS` (``python -m monitor.reference_docs``). Rules that keep
it stable:

* **Field types never change.** Every number is a float (``12`` is written as a float, never
  ``12i``), flags and codes are floats, text is a string field. A missing value leaves the
  field out of that point; a point never has no field at all (text fields such as ``flags``
  are always written, ``""`` when empty).
* **Tags identify a series and never change for it**: site, parameter, source, standard …
  Values that can change for the same series and time (flags, classes, status) are fields,
  so a revision overwrites the point (same series and time: idempotent). Every point of a
  measurement carries all its tags (InfluxDB 3 fixes a table's tags at its first write), so
  optional attributes (a section's river, a target's area) are string fields.
* **Time** is the end of the measured period for hourly values (the national platform's
  label), local midnight (Asia/Shanghai, 00:00+08:00) of the date for daily values and
  target progress, and the moment of writing for health and heartbeat points. Precision: s.

Each ``*_points`` function turns ledger rows (as :mod:`monitor.ledger` stores them) into a
frame of the measurement's columns plus ``time``, ready for
:func:`monitor.influxdb.line_protocol.to_lines`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

from monitor.domain.quality import excluded
from monitor.domain.targets import Status
from monitor.domain.units import WATER_PARAMETERS
from monitor.domain.water_quality import PARAMETERS, Parameter, WaterClass
from monitor.influxdb.line_protocol import to_lines, to_lines_grouped

#: Seconds between UTC and Asia/Shanghai (no daylight saving since 1991).
LOCAL_OFFSET_S: Final = 8 * 3600


@dataclass(frozen=True)
class Measurement:
    """One measurement: its tags, float fields and string fields, documented."""

    name: str
    doc: str
    time: str
    tags: Mapping[str, str]
    floats: Mapping[str, str]
    strings: Mapping[str, str]

    def lines(self, frame: pd.DataFrame) -> list[str]:
        """Line protocol of the rows of ``frame`` (``""`` for a row with no field)."""
        if frame.empty:
            return []
        return to_lines(
            self.name,
            frame,
            tags=list(self.tags),
            floats=list(self.floats),
            strings=list(self.strings),
        )

    def lines_grouped(
        self, groups: pd.DataFrame, codes: np.ndarray, rows: Mapping[str, np.ndarray]
    ) -> list[str]:
        """What :meth:`lines` gives for the rows whose columns are those of ``groups`` at
        ``codes`` but for the columns in ``rows`` (``time`` and per-row fields), see
        :func:`~monitor.influxdb.line_protocol.to_lines_grouped`."""
        return to_lines_grouped(
            self.name,
            groups.reset_index(drop=True),
            codes,
            rows,
            tags=list(self.tags),
            floats=list(self.floats),
            strings=list(self.strings),
        )


_OBSERVATION_TAGS = {
    "site": "station code or section id",
    "parameter": "canonical parameter (pm2_5, o3, do, nh3n …)",
    "source": "configured source name",
    "unit": "unit of value (µg/m³, mg/m³, mg/L …)",
}
_OBSERVATION_FLOATS = {
    "value": "the value, in unit; left out when the source gave none",
    "revision": "0 for the first value, +1 for each correction",
    "qc_count": "number of envmon's quality-control flags on the value",
    "excluded": "1 when the value's flags keep it out of the official statistics (source "
    "flags such as maintenance, envmon's excluding checks, the advisory checks listed in "
    "[quality] exclude_own_flags), else 0: what the concentration panels leave out",
}
_OBSERVATION_STRINGS = {
    "flags": "source flags, ;-separated; empty when none",
    "qc_flags": "envmon's quality-control flags (negative, implausible, pm25_gt_pm10, "
    "stuck, spike), ;-separated; empty when none",
}

AIR_OBSERVATION = Measurement(
    "air_observation",
    "hourly (or sub-hourly) air values as collected",
    "end of the measured period",
    _OBSERVATION_TAGS,
    _OBSERVATION_FLOATS,
    _OBSERVATION_STRINGS,
)
WATER_OBSERVATION = Measurement(
    "water_observation",
    "surface-water values as collected (GB 3838-2002 parameters)",
    "end of the measured period",
    _OBSERVATION_TAGS,
    _OBSERVATION_FLOATS,
    _OBSERVATION_STRINGS,
)

_IAQI = {f"iaqi_{p}": f"IAQI of {p}" for p in ("so2", "no2", "co", "o3", "pm10", "pm2_5")}
#: The IAQI columns of an hourly AQI row.
IAQI_COLUMNS: Final = tuple(_IAQI)
#: The daily statistics of a daily AQI row (GB 3095 / HJ 663).
DAILY_STATISTICS: Final = ("so2", "no2", "co", "pm10", "pm2_5", "o3_1h_max", "o3_8h_max")
_AQI_TAGS = {
    "site": "station code, or area id when scope = area",
    "scope": "site or area",
    "standard": "rule set: hj633-2012 or hj633-2026",
}

_STATIONS = (
    "scope = area: the evaluation stations with a value the row rests on; left out for a "
    "site's own rows"
)

AQI_HOURLY = Measurement(
    "aqi_hourly",
    "hourly AQI per site and area, under both rule sets",
    "end of the hour",
    _AQI_TAGS,
    {
        "aqi": "AQI; left out when not computable",
        "level": "AQI level 1 (优) … 6 (严重污染); left out with aqi",
        **_IAQI,
        "complete": "1 when every pollutant was present, else 0",
        "official": "1 when this rule set is the one in force for the hour, else 0",
        "stations": _STATIONS,
    },
    {"primary_pollutants": "primary pollutants, ;-separated (o3;pm2_5); empty when AQI ≤ 50"},
)
AQI_DAILY = Measurement(
    "aqi_daily",
    "daily AQI per site and area (GB 3095 / HJ 663 daily statistics), under both rule sets",
    "local midnight starting the day",
    _AQI_TAGS,
    {
        "aqi": "daily AQI; left out when the day is not valid",
        "level": "AQI level 1 … 6; left out with aqi",
        "good": "1 when level 1 or 2 (优良), 0 otherwise; left out with aqi",
        "heavy": "1 when level 5 or 6 (重度及以上), 0 otherwise; left out with aqi",
        "so2": "24-hour mean [µg/m³]",
        "no2": "24-hour mean [µg/m³]",
        "co": "24-hour mean [mg/m³]",
        "pm10": "24-hour mean [µg/m³]",
        "pm2_5": "24-hour mean [µg/m³]",
        "o3_1h_max": "maximum hourly O3 [µg/m³]",
        "o3_8h_max": "maximum 8-hour moving mean of O3 (MDA8) [µg/m³]",
        "complete": "1 when every statistic was valid, else 0",
        "official": "1 when this rule set is the one in force for the day, else 0",
        "stations": _STATIONS,
    },
    {
        "primary_pollutants": "primary pollutants, ;-separated",
        "exceedance_pollutants": "pollutants above their Grade II limit, ;-separated "
        "(HJ 633-2012 only)",
        "invalid_statistics": "statistics without enough hours, ;-separated",
    },
)
AQI_DAILY_PUBLISHED = Measurement(
    "aqi_daily_published",
    "daily AQI of areas as published by the authorities (imported)",
    "local midnight starting the day",
    {"area": "area id"},
    {
        "aqi": "published AQI",
        "level": "AQI level 1 … 6 derived from aqi",
        "good": "1 when level 1 or 2, else 0",
        "dust": "1 when the day is marked as a dust day, else 0",
    },
    {"category": "published category text", "primary_pollutants": "as published"},
)
WATER_CLASS = Measurement(
    "water_class",
    "GB 3838-2002 class of each section reading",
    "end of the sampled period",
    {"site": "section id"},
    {
        "class_code": "class as a number: 1 (I) … 5 (V), 6 (劣V)",
        "target_class_code": "the section's target class as a number; left out if not set",
        "meets_target": "1 when class_code ≤ target_class_code, else 0; left out if no target",
    },
    {
        "river": "river of the section (from the settings); empty if not configured",
        "class": "class as written: I … V, 劣V",
        "limiting_parameters": "parameters that set the class, ;-separated",
        "exceedance_multiples": "multiples over Class III (or the target class), as stored "
        "(nh3n=1.6;tp=0.2)",
        "limiting_zh": "limiting_parameters by their GB 3838 Chinese names (氨氮、总磷)",
        "exceedance_zh": "exceedance_multiples with Chinese names (氨氮 1.6倍、总磷 0.2倍)",
        "parameter_set": "which parameter set was rated (official, automatic …)",
    },
)
#: Number of each target status (ordered by concern; 9 = cannot be assessed yet).
STATUS_CODES: Final[Mapping[str, float]] = {
    Status.ACHIEVED.value: 0.0,
    Status.ON_TRACK.value: 1.0,
    Status.AT_RISK.value: 2.0,
    Status.OFF_TRACK.value: 3.0,
    Status.FAILED.value: 4.0,
    Status.NOT_ASSESSABLE.value: 9.0,
}

TARGET_PROGRESS = Measurement(
    "target_progress",
    "progress of each target of the plan, per evaluation date and variant",
    "local midnight of the as-of date",
    {
        "target": "target id",
        "variant": "official, or a consistent series (hj633-2012, hj633-2026 …)",
        "kind": "target kind (good_day_ratio, river_class, count …)",
    },
    {
        "value": "current value (a share 0–1 for ratios)",
        "goal": "the goal, in the unit of value",
        "status_code": "0 achieved, 1 on_track, 2 at_risk, 3 off_track, 4 failed, "
        "9 not_assessable",
        "budget_remaining": "non-good days still affordable this year",
        "required_rate": "share needed on the remaining days",
        "projection": "projected year-end value",
        "projection_low": "low end of the projection range",
        "projection_high": "high end of the projection range",
        "valid_days": "valid days so far",
        "good_days": "good days so far",
        "withheld_days": "days with a valid statistic the valid-day rule does not count "
        "([evaluation] valid_day_rule)",
        "ratio_low": "the ratio if every withheld day were non-good",
        "ratio_high": "the ratio if every withheld day were good",
    },
    {
        "status": "status as text",
        "area": "area id; empty for targets without an area",
        "standard": "rule set the value follows",
        "explanation_zh": "explanation, Chinese",
        "explanation_en": "explanation, English",
    },
)
#: The numbers of a target progress row, as stored (status_code is derived).
PROGRESS_NUMBERS: Final = tuple(k for k in TARGET_PROGRESS.floats if k != "status_code")

#: Data health looks this far back: a site silent longer reports this age ("at least"), and
#: Grafana's silence alerts say "no data in the last 7 days" from it.
HEALTH_WINDOW_S: Final = 7 * 86400

DATA_HEALTH = Measurement(
    "data_health",
    "freshness and completeness per site and source, written each publish round",
    "moment of writing",
    {"site": "station or section", "source": "configured source name"},
    {
        "age_seconds": "seconds since the end of the latest period with a value",
        "completeness_24h": "share (0–1) of the expected periods of the last 24 h with a value",
        "values_24h": "values received for periods in the last 24 h",
        "qc_flags_24h": "values of the last 24 h flagged by envmon's checks",
        "evaluation_failures": "days of the site (or area, with source = evaluation) that "
        "cannot be evaluated; retried every run, 0 when none",
    },
    {},
)
SOURCE_HEALTH = Measurement(
    "source_health",
    "state of each source's collections, written each publish round",
    "moment of writing",
    {"source": "configured source name"},
    {
        "age_seconds": "seconds since the end of the latest period collected (watermark)",
        "last_fetch_ok": "1 when the latest collection succeeded (ok or empty), else 0",
        "failures_24h": "failed collections in the last 24 h",
        "rows_24h": "rows received in the last 24 h",
    },
    {"last_error": "error of the latest failed collection; empty after a success"},
)
HEARTBEAT = Measurement(
    "heartbeat",
    "the service is alive: written every publish round (dead man's switch)",
    "moment of writing",
    {"instance": "host name of the service"},
    {
        "up": "always 1",
        "uptime_seconds": "seconds since the service started",
        "outbox_pending": "ledger rows waiting to be published",
        "publish_lag_seconds": "age of the oldest row waiting to be published [s]; 0 when none",
        "quarantined": "points the server refused, kept in the ledger",
    },
    {"version": "envmon version"},
)

#: Every measurement envmon writes.
MEASUREMENTS: Final[tuple[Measurement, ...]] = (
    AIR_OBSERVATION,
    WATER_OBSERVATION,
    AQI_HOURLY,
    AQI_DAILY,
    AQI_DAILY_PUBLISHED,
    WATER_CLASS,
    TARGET_PROGRESS,
    DATA_HEALTH,
    SOURCE_HEALTH,
    HEARTBEAT,
)


# --------------------------------------------------------------------------- builders


def local_midnight(dates: pd.Series) -> np.ndarray:
    """Epoch seconds of 00:00 Asia/Shanghai of ``YYYY-MM-DD`` dates.

    >>> local_midnight(pd.Series(["2026-01-01"])).tolist()
    [1767196800]
    """
    days = pd.to_datetime(dates, format="%Y-%m-%d").to_numpy().astype("datetime64[D]")
    return days.astype(np.int64) * 86400 - LOCAL_OFFSET_S


def _flag(condition: np.ndarray, present: np.ndarray) -> np.ndarray:
    return np.where(present, condition.astype(np.float64), np.nan)


def _flag_counts(flags: pd.Series) -> np.ndarray:
    """Number of ``;``-separated flags in each text, as the ledger joins them (counted once
    per distinct text).

    >>> _flag_counts(pd.Series(["", "stuck", "negative;spike", "stuck"])).tolist()
    [0.0, 1.0, 2.0, 1.0]
    """
    codes, distinct = pd.factorize(flags.to_numpy(dtype=object))
    counts = np.array([float(sum(1 for f in str(t).split(";") if f.strip())) for t in distinct])
    return counts[codes] if len(distinct) else np.zeros(len(flags))


def observation_points(
    rows: pd.DataFrame, *, exclude_own: Iterable[str] = ()
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Ledger ``observations`` rows (with ``qc_flags`` from the ``qc_flags`` table, NULL
    when none) → (air_observation, water_observation) frames.

    ``excluded`` is the evaluation's verdict on the value's flags
    (:func:`monitor.domain.quality.excluded` of the source flags and envmon's, with
    ``exclude_own`` = ``[quality] exclude_own_flags``), so that a panel shows exactly the
    values the statistics use: an advisory suspicion (``spike``) is shown, a value under
    maintenance is not.
    """
    qc = rows["qc_flags"].fillna("").astype(str)
    source_flags = rows["flags"].fillna("").astype(str)
    joined = (source_flags + ";" + qc).str.strip(";")
    out = excluded(
        joined.reset_index(drop=True),
        rows["parameter"].astype(str).reset_index(drop=True),
        exclude_own=exclude_own,
    )
    frame = pd.DataFrame(
        {
            "site": rows["site"],
            "parameter": rows["parameter"],
            "source": rows["source"],
            "unit": rows["unit"],
            "value": pd.to_numeric(rows["value"], errors="coerce"),
            "revision": pd.to_numeric(rows["revision"], errors="coerce"),
            "flags": source_flags,
            "qc_flags": qc,
            "qc_count": _flag_counts(qc),
            "excluded": out.astype(np.float64),
            "time": rows["period_end"].astype(np.int64),
        }
    )
    water = frame["parameter"].isin(list(WATER_PARAMETERS))
    return frame[~water], frame[water]


#: The text columns of an observation row (as read from the ledger with its ``qc_flags``).
OBSERVATION_TEXTS: Final = ("site", "parameter", "source", "unit", "flags", "qc_flags")


def observation_lines(
    texts: pd.DataFrame,
    codes: np.ndarray,
    period_end: np.ndarray,
    value: np.ndarray,
    revision: np.ndarray,
    *,
    exclude_own: Iterable[str] = (),
) -> tuple[list[str], np.ndarray]:
    """The lines :func:`observation_points` and :meth:`Measurement.lines` give for ledger
    ``observations`` rows (air_observation rows first, then water_observation, each in row
    order), and the row of each line, with the text columns given once per distinct
    combination.

    ``texts`` holds the distinct combinations of :data:`OBSERVATION_TEXTS` (RangeIndex);
    row ``i`` has the texts ``texts.iloc[codes[i]]``, the time ``period_end[i]`` (epoch
    seconds) and the numbers ``value[i]``, ``revision[i]`` (float, NaN: none). The flags,
    their count and the ``excluded`` verdict are worked out once per combination (a series
    and its flags), so a row costs only its value, revision and time."""
    stub = texts.assign(value=np.nan, revision=np.nan, period_end=0)
    air, water = observation_points(stub, exclude_own=exclude_own)
    lines: list[str] = []
    index: list[np.ndarray] = []
    for measurement, part in ((AIR_OBSERVATION, air), (WATER_OBSERVATION, water)):
        if part.empty:
            continue
        local = np.full(len(texts), -1, dtype=np.intp)
        local[part.index.to_numpy()] = np.arange(len(part))
        mine = local[codes]
        rows = np.flatnonzero(mine >= 0)
        lines += to_lines_grouped(
            measurement.name,
            part.reset_index(drop=True),
            mine[rows],
            {"value": value[rows], "revision": revision[rows], "time": period_end[rows]},
            tags=list(measurement.tags),
            floats=list(measurement.floats),
            strings=list(measurement.strings),
        )
        index.append(rows)
    return lines, (np.concatenate(index) if index else np.array([], dtype=np.intp))


def _stations(rows: pd.DataFrame) -> pd.Series:
    """The ``stations`` an area row rests on (NaN, left out, for a site's own rows)."""
    if "stations" not in rows.columns:
        return pd.Series(np.nan, index=rows.index, dtype=np.float64)
    return pd.to_numeric(rows["stations"], errors="coerce").astype(np.float64)


def hourly_aqi_points(rows: pd.DataFrame) -> pd.DataFrame:
    """Ledger ``hourly_aqi`` rows → aqi_hourly frame."""
    aqi = pd.to_numeric(rows["aqi"], errors="coerce")
    frame = pd.DataFrame(
        {
            "site": rows["site"],
            "scope": np.where(rows["is_area"].astype(bool), "area", "site"),
            "standard": rows["standard"],
            "aqi": aqi,
            "level": np.where(aqi.notna(), rows["level"].astype(np.float64), np.nan),
            "complete": rows["complete"].astype(np.float64),
            "official": rows["official"].astype(np.float64),
            "stations": _stations(rows),
            "primary_pollutants": rows["primary_pollutants"].fillna("").astype(str),
            "time": rows["period_end"].astype(np.int64),
        }
    )
    for column in IAQI_COLUMNS:
        frame[column] = pd.to_numeric(rows[column], errors="coerce")
    return frame


def daily_aqi_points(rows: pd.DataFrame) -> pd.DataFrame:
    """Ledger ``daily_aqi`` rows → aqi_daily frame."""
    aqi = pd.to_numeric(rows["aqi"], errors="coerce")
    present = aqi.notna().to_numpy()
    level = rows["level"].astype(np.float64).to_numpy()
    frame = pd.DataFrame(
        {
            "site": rows["site"],
            "scope": np.where(rows["is_area"].astype(bool), "area", "site"),
            "standard": rows["standard"],
            "aqi": aqi,
            "level": np.where(present, level, np.nan),
            "good": _flag(level <= 2, present),
            "heavy": _flag(level >= 5, present),
            "complete": rows["complete"].astype(np.float64),
            "official": rows["official"].astype(np.float64),
            "stations": _stations(rows),
            "primary_pollutants": rows["primary_pollutants"].fillna("").astype(str),
            "exceedance_pollutants": rows["exceedance_pollutants"].fillna("").astype(str),
            "invalid_statistics": rows["invalid_statistics"].fillna("").astype(str),
            "time": local_midnight(rows["date"]),
        }
    )
    for column in DAILY_STATISTICS:
        frame[column] = pd.to_numeric(rows[column], errors="coerce")
    return frame


def _aqi_level(aqi: np.ndarray) -> np.ndarray:
    """HJ 633 Table 2 level of AQI values (same bands in 2012 and 2026)."""
    level = np.searchsorted(np.array([50, 100, 150, 200, 300]), aqi, side="left") + 1.0
    return np.where(np.isnan(aqi), np.nan, level)


def published_daily_points(rows: pd.DataFrame) -> pd.DataFrame:
    """Ledger ``official_daily_aqi`` rows → aqi_daily_published frame."""
    aqi = pd.to_numeric(rows["aqi"], errors="coerce").to_numpy(dtype=np.float64)
    level = _aqi_level(aqi)
    return pd.DataFrame(
        {
            "area": rows["area"],
            "aqi": aqi,
            "level": level,
            "good": _flag(level <= 2, ~np.isnan(aqi)),
            "dust": rows["dust"].astype(np.float64),
            "category": rows["category"].fillna("").astype(str),
            "primary_pollutants": rows["primary_pollutants"].fillna("").astype(str),
            "time": local_midnight(rows["date"]),
        }
    )


def _class_code(text: str | None) -> float:
    try:
        return float(WaterClass.from_code(str(text)))
    except ValueError:
        return float("nan")


def _parameter_zh(code: str) -> str:
    try:
        return PARAMETERS[Parameter(code.strip())].name_zh
    except ValueError:
        return code.strip()


def _zh_text(text: object) -> str:
    """``nh3n;tp`` → ``氨氮、总磷``; ``nh3n=1.6;tp=0.2`` → ``氨氮 1.6倍、总磷 0.2倍``
    (GB 3838-2002 Table 1 names; unknown codes unchanged).

    >>> _zh_text("nh3n;tp"), _zh_text("codmn=0.453"), _zh_text("")
    ('氨氮、总磷', '高锰酸盐指数 0.453倍', '')
    """
    parts = []
    for part in str(text or "").split(";"):
        code, sep, number = part.partition("=")
        if code.strip():
            parts.append(f"{_parameter_zh(code)} {number}倍" if sep else _parameter_zh(code))
    return "、".join(parts)


def _zh_texts(texts: pd.Series) -> np.ndarray:
    """:func:`_zh_text` of each text (computed once per distinct text)."""
    codes, distinct = pd.factorize(texts.to_numpy(dtype=object))
    names = np.array([_zh_text(t) for t in distinct], dtype=object)
    return names[codes] if len(distinct) else np.array([], dtype=object)


def water_class_points(
    rows: pd.DataFrame, rivers: Mapping[str, str], targets: Mapping[str, str]
) -> pd.DataFrame:
    """Ledger ``water_classes`` rows → water_class frame; ``rivers`` and ``targets`` map a
    section id to its river and target class (from the settings)."""
    code = np.array([_class_code(c) for c in rows["water_class"]], dtype=np.float64)
    target = np.array([_class_code(targets.get(s)) for s in rows["site"]], dtype=np.float64)
    has_target = ~np.isnan(target) & ~np.isnan(code)
    return pd.DataFrame(
        {
            "site": rows["site"],
            "river": [rivers.get(s, "") for s in rows["site"]],
            "class_code": code,
            "target_class_code": target,
            "meets_target": _flag(code <= target, has_target),
            "class": rows["water_class"].fillna("").astype(str),
            "limiting_parameters": rows["limiting_parameters"].fillna("").astype(str),
            "exceedance_multiples": rows["exceedance_multiples"].fillna("").astype(str),
            "limiting_zh": _zh_texts(rows["limiting_parameters"].fillna("").astype(str)),
            "exceedance_zh": _zh_texts(rows["exceedance_multiples"].fillna("").astype(str)),
            "parameter_set": rows["parameter_set"].fillna("").astype(str),
            "time": rows["period_end"].astype(np.int64),
        }
    )


def target_progress_points(rows: pd.DataFrame) -> pd.DataFrame:
    """Ledger ``target_progress`` rows → target_progress frame."""
    frame = pd.DataFrame(
        {
            "target": rows["target"],
            "variant": rows["variant"],
            "kind": rows["kind"],
            "area": rows["area"].fillna("").astype(str),
            "status_code": [STATUS_CODES.get(str(s), np.nan) for s in rows["status"]],
            "status": rows["status"].fillna("").astype(str),
            "standard": rows["standard"].fillna("").astype(str),
            "explanation_zh": rows["explanation_zh"].fillna("").astype(str),
            "explanation_en": rows["explanation_en"].fillna("").astype(str),
            "time": local_midnight(rows["as_of"]),
        }
    )
    for column in PROGRESS_NUMBERS:
        frame[column] = pd.to_numeric(rows[column], errors="coerce")
    return frame


def schema_markdown() -> str:
    """The schema tables of ``docs/influxdb.md``, generated from :data:`MEASUREMENTS`."""
    out = []
    for m in MEASUREMENTS:
        out += [f"**`{m.name}`** — {m.doc}; time: {m.time}.", ""]
        out += ["| name | kind | meaning |", "|---|---|---|"]
        out += [f"| `{k}` | tag | {v} |" for k, v in m.tags.items()]
        out += [f"| `{k}` | float field | {v} |" for k, v in m.floats.items()]
        out += [f"| `{k}` | string field | {v} |" for k, v in m.strings.items()]
        out.append("")
    return "\n".join(out).rstrip() + "\n"
