"""``envmon calc aqi``: hourly or daily AQI from a CSV of 1-hour concentrations.

Input contract: a header row; columns ``site``, ``time`` and any of ``so2, no2, co, o3,
pm10, pm2_5`` (1-hour means; µg/m³, CO mg/m³). ``time`` is ISO 8601, Asia/Shanghai when
it has no offset, the hour's label as the national platform writes it (the end of the
hour). Empty cell = missing. Other columns are ignored.

Output contract:

* ``--scale hour`` — one row per input row: ``site,time,aqi,level,category,
  primary_pollutants``, ``iaqi_<pollutant>`` for each input pollutant, ``complete`` (all
  six pollutants present), then ``standard``, ``category_en``, ``colour`` and
  ``input_problems``.
* ``--scale day`` — one row per site and date: ``site,date``, the daily statistics
  ``so2,no2,co,pm10,pm2_5,o3_1h_max,o3_8h_max``, their validity ``<statistic>_valid``, then
  ``aqi,level,category,primary_pollutants,standard``, then ``exceedance_pollutants``
  (HJ 633-2012 only), ``iaqi_*``, ``<statistic>_count``, ``complete``, ``category_en``,
  ``colour``.

``level`` is the AQI level 1–6, ``category`` its official Chinese name (优 … 严重污染).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from monitor.calculator.table import (
    PROBLEM_SEPARATOR,
    CalcResult,
    InputTable,
    read_input_csv,
    summarise_problems,
)
from monitor.domain.aqi import (
    AqiStandard,
    HourlyMethod,
    MissingPolicy,
    daily_aqi,
    hourly_aqi,
    level_categories,
    level_colours,
    pollutant_names,
    standards_for_dates,
)
from monitor.domain.daily import DAILY_STATISTICS, Mda8Windows, daily_statistics, moving_means
from monitor.domain.pollutants import POLLUTANTS, Pollutant
from monitor.errors import InputError

POLLUTANT_COLUMNS: Final = tuple(p.value for p in POLLUTANTS)

#: Header spellings accepted for the canonical columns (compared in lower case).
ALIASES: Final = {
    "pm2.5": "pm2_5",
    "pm25": "pm2_5",
    "pm2_5_1h": "pm2_5",
    "pm10_1h": "pm10",
    "so2_1h": "so2",
    "no2_1h": "no2",
    "co_1h": "co",
    "o3_1h": "o3",
}


def format_numbers(values: npt.ArrayLike) -> npt.NDArray[np.object_]:
    """Numbers as short text for CSV output (``75``, ``0.8``); empty where NaN."""
    x = np.asarray(values, dtype=float)
    text = np.asarray([f"{v:.10g}" for v in np.nan_to_num(x)], dtype=object)
    return np.where(np.isnan(x), "", text)


def _standards(
    standard: str, dates: pd.Series, usable: npt.NDArray[np.bool_]
) -> npt.NDArray[np.object_]:
    if standard == "auto":
        local = dates.dt.tz_localize(None) if dates.dt.tz is not None else dates
        filled = local.where(pd.Series(usable, index=dates.index), pd.Timestamp("2000-01-01"))
        return standards_for_dates(filled)
    return np.full(len(dates), AqiStandard(standard), dtype=object)


def compute_aqi_csv(
    path: Path,
    *,
    standard: str = "auto",
    scale: str = "hour",
    hourly_method: str = "platform",
    missing: str = "present",
    mda8_windows: str = "within-day",
) -> CalcResult:
    """Read an hourly concentration CSV and compute hourly or daily AQI (see module doc)."""
    if standard not in {"auto", *(s.value for s in AqiStandard)}:
        raise InputError(f"unknown standard {standard!r}; expected hj633-2012, hj633-2026 or auto")
    table = read_input_csv(path, POLLUTANT_COLUMNS, aliases=ALIASES)
    if scale == "hour":
        return _hourly(table, standard, HourlyMethod(hourly_method), MissingPolicy(missing))
    if scale == "day":
        return _daily(table, standard, MissingPolicy(missing), Mda8Windows(mda8_windows), path)
    raise InputError(f"unknown scale {scale!r}; expected hour or day")


def _series_frame(table: InputTable, rows: npt.NDArray[np.bool_]) -> pd.DataFrame:
    frame = table.values[rows].copy()
    frame.insert(0, "time", table.times[rows])
    frame.insert(0, "site", table.raw["site"].str.strip()[rows])
    return frame


def _on_hour_unique(table: InputTable) -> tuple[npt.NDArray[np.bool_], list[str]]:
    """Rows usable as hourly series, and the problems of the others."""
    times = table.times
    usable = times.notna().to_numpy() & (table.raw["site"].str.strip() != "").to_numpy()
    off_hour = usable & (times.dt.floor("h") != times).to_numpy()
    notes = [""] * table.row_count
    for i in map(int, np.flatnonzero(off_hour)):
        notes[i] = f"time {table.raw['time'].iat[i]!r} is not on the hour; expected HH:00 labels"
    usable &= ~off_hour
    keys = pd.DataFrame({"site": table.raw["site"].str.strip(), "t": times})
    duplicated = usable & keys.duplicated(keep="first").to_numpy()
    first_line = {}
    for i in map(int, np.flatnonzero(usable & ~duplicated)):
        first_line[(keys["site"].iat[i], keys["t"].iat[i])] = i + 2
    for i in map(int, np.flatnonzero(duplicated)):
        line = first_line.get((keys["site"].iat[i], keys["t"].iat[i]))
        notes[i] = f"duplicate of line {line} (same site and hour); ignored"
    usable &= ~duplicated
    return usable, notes


def _merge_problems(table: InputTable, extra: list[str]) -> pd.Series:
    merged = [
        PROBLEM_SEPARATOR.join(p for p in (a, b) if p)
        for a, b in zip(table.problems, extra, strict=True)
    ]
    return pd.Series(merged, index=table.raw.index, dtype=object)


def _hourly(
    table: InputTable, standard: str, method: HourlyMethod, missing: MissingPolicy
) -> CalcResult:
    present = [c for c in POLLUTANT_COLUMNS if c in table.values.columns]
    time_ok = table.times.notna().to_numpy()
    computable = time_ok if standard == "auto" else np.ones(table.row_count, dtype=bool)
    standards = _standards(standard, table.times, time_ok)
    frame = table.values.reset_index(drop=True).copy()
    series_rows, notes = _on_hour_unique(table)
    needs_moving = method is HourlyMethod.STANDARD_TEXT or (
        "so2" in frame and bool((frame["so2"] > 800).any())
    )
    if needs_moving and series_rows.any():
        moving = moving_means(_series_frame(table, series_rows).reset_index(drop=True))
        for column in moving.columns:
            values = np.full(table.row_count, np.nan)
            values[series_rows] = moving[column].to_numpy()
            frame[column] = values
    result = hourly_aqi(frame, standards, method=method, missing=missing)
    level = result["level"].to_numpy()
    aqi = result["aqi"].to_numpy()
    out = pd.DataFrame(
        {
            "site": table.raw["site"].to_numpy(),
            "time": table.raw["time"].to_numpy(),
            "aqi": format_numbers(aqi),
            "level": np.where(level > 0, level.astype(str), ""),
            "category": level_categories(level),
            "primary_pollutants": pollutant_names(result["primary_mask"]),
        }
    )
    for column in present:
        out[f"iaqi_{column}"] = format_numbers(result[f"iaqi_{column}"])
    if method is HourlyMethod.STANDARD_TEXT:
        out["iaqi_o3_8h"] = format_numbers(result["iaqi_o3_8h"])
    complete = np.ones(table.row_count, dtype=bool)
    for column in POLLUTANT_COLUMNS:
        complete &= table.values[column].notna().to_numpy() if column in table.values else False
    out["complete"] = np.where(complete, "true", "false")
    out["standard"] = result["standard"].to_numpy()
    out["category_en"] = level_categories(level, "en")
    out["colour"] = level_colours(level)
    # Without a usable time, --standard auto cannot choose the rule set.
    for column in out.columns[2:]:
        if column != "complete":
            out.loc[~computable, column] = ""
    hourly_notes = [n if not n.startswith("duplicate") else "" for n in notes]
    out["input_problems"] = _merge_problems(table, hourly_notes).to_numpy()
    if not computable.any():
        raise InputError(
            "no row has a usable time, so --standard auto cannot choose the rules; "
            + (summarise_problems(table, 1) or ("",))[0]
        )
    warnings = summarise_problems(
        InputTable(
            table.raw, table.times, table.values, table.below_detection, out["input_problems"]
        )
    )
    return CalcResult(out, warnings)


def _daily(
    table: InputTable,
    standard: str,
    missing: MissingPolicy,
    windows: Mda8Windows,
    path: Path,
) -> CalcResult:
    usable, notes = _on_hour_unique(table)
    problems = _merge_problems(table, notes)
    if not usable.any():
        first = summarise_problems(
            InputTable(table.raw, table.times, table.values, table.below_detection, problems), 1
        )
        raise InputError(
            f"{path}: no row usable for daily statistics (site and an hourly time needed); "
            + (first[0] if first else "")
        )
    stats = daily_statistics(
        _series_frame(table, usable).reset_index(drop=True), mda8_windows=windows
    )
    valid_stats = pd.DataFrame(
        {s: stats[s].where(stats[f"{s}_valid"]) for s in DAILY_STATISTICS}, index=stats.index
    )
    standards = _standards(standard, stats["date"], np.ones(len(stats), dtype=bool))
    result = daily_aqi(valid_stats, standards, missing=missing)
    level = result["level"].to_numpy()
    is_2012 = result["standard"].to_numpy() == AqiStandard.HJ633_2012.value
    out = pd.DataFrame(
        {"site": stats["site"].to_numpy(), "date": stats["date"].dt.strftime("%Y-%m-%d")}
    )
    for s in DAILY_STATISTICS:
        out[s] = format_numbers(stats[s])
    for s in DAILY_STATISTICS:
        out[f"{s}_valid"] = np.where(stats[f"{s}_valid"], "true", "false")
    out["aqi"] = format_numbers(result["aqi"])
    out["level"] = np.where(level > 0, level.astype(str), "")
    out["category"] = level_categories(level)
    out["primary_pollutants"] = pollutant_names(result["primary_mask"])
    out["standard"] = result["standard"].to_numpy()
    out["exceedance_pollutants"] = np.where(
        is_2012, pollutant_names(result["exceedance_mask"]), ""
    )
    for column in [c for c in result.columns if c.startswith("iaqi_")]:
        out[column] = format_numbers(result[column])
    for s in DAILY_STATISTICS:
        out[f"{s}_count"] = stats[f"{s}_count"].to_numpy()
    out["complete"] = np.where(result["complete"], "true", "false")
    out["category_en"] = level_categories(level, "en")
    out["colour"] = level_colours(level)
    warnings = summarise_problems(
        InputTable(table.raw, table.times, table.values, table.below_detection, problems)
    )
    return CalcResult(out, warnings)


__all__ = ["ALIASES", "POLLUTANT_COLUMNS", "Pollutant", "compute_aqi_csv", "format_numbers"]
