"""Period statistics of daily air results: good-day share, levels, annual means, percentiles.

* Good-day share (优良天数比例) = good days ÷ valid days; a good day is a valid day with
  daily AQI ≤ 100 (levels 1–2, HJ 633 grading). Leap years count 366 possible days; the
  denominator is the number of *valid* days (Shenyang 2020: 287/366 = 78.4 %).
* Heavy-pollution days (重污染天): AQI > 200 (levels 5–6).
* Annual statistics need ≥ 324 valid daily values a year and ≥ 27 in every month
  (February ≥ 25) (GB 3095-2026 Table 4; same in GB 3095-2012).
* Percentiles per HJ 663 Appendix A: rank k = 1 + (n − 1)·p/100, linear interpolation
  between neighbouring ranks (numpy's "linear" method) ([M] HJ 663-2013 Appendix A).
* Comprehensive index (环境空气质量综合指数) I = Σ Cᵢ/Sᵢ over six pollutants
  ([S] 城市环境空气质量排名技术规定; standards.md §2.8).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import numpy as np
import numpy.typing as npt

from monitor.domain.aqi import AQI_LEVELS, GOOD_DAY_MAX_AQI, HEAVY_POLLUTION_MIN_AQI
from monitor.domain.pollutants import Pollutant

if TYPE_CHECKING:
    import pandas as pd
else:
    from monitor.domain._deferred import pandas as pd

__all__ = [
    "ANNUAL_ITEMS",
    "INDEX_LIMITS_GB3095_2012",
    "INDEX_LIMITS_GB3095_2026",
    "MIN_DAYS_FEBRUARY",
    "MIN_DAYS_PER_MONTH",
    "MIN_DAYS_PER_YEAR",
    "AnnualValidity",
    "GoodDayShare",
    "IndexLimits",
    "annual_evaluation",
    "annual_validity",
    "comprehensive_index",
    "good_day_share",
    "heavy_pollution_days",
    "level_distribution",
    "percentile",
]


@dataclass(frozen=True)
class GoodDayShare:
    """Good days over valid days."""

    good_days: int
    valid_days: int

    @property
    def share(self) -> float:
        """Good days ÷ valid days (0–1); NaN when there is no valid day."""
        return self.good_days / self.valid_days if self.valid_days else float("nan")


def good_day_share(daily_aqi: npt.ArrayLike) -> GoodDayShare:
    """Good-day share of a period from its daily AQI (NaN = no valid AQI that day).

    Examples
    --------
    Shenyang 2021: 315 good days of 365 (2021 bulletin; standards.md §5.1):

    >>> days = [50] * 119 + [100] * 196 + [120] * 50
    >>> result = good_day_share(days)
    >>> result.good_days, result.valid_days, round(result.share * 100, 1)
    (315, 365, 86.3)
    """
    aqi = np.asarray(daily_aqi, dtype=float)
    valid = ~np.isnan(aqi)
    good = valid & (aqi <= GOOD_DAY_MAX_AQI)
    return GoodDayShare(int(good.sum()), int(valid.sum()))


def heavy_pollution_days(daily_aqi: npt.ArrayLike) -> int:
    """Number of days with AQI > 200 (重污染天, levels 5–6).

    Examples
    --------
    >>> heavy_pollution_days([200, 201, 350, float("nan")])
    2
    """
    aqi = np.asarray(daily_aqi, dtype=float)
    return int((aqi > HEAVY_POLLUTION_MIN_AQI).sum())


def level_distribution(daily_aqi: npt.ArrayLike) -> dict[int, int]:
    """Number of valid days at each AQI level 1–6.

    Examples
    --------
    >>> level_distribution([10, 60, 60, 160, 400])
    {1: 1, 2: 2, 3: 0, 4: 1, 5: 0, 6: 1}
    """
    aqi = np.asarray(daily_aqi, dtype=float)
    aqi = aqi[~np.isnan(aqi)]
    uppers = np.asarray([lv.upper for lv in AQI_LEVELS[:-1]], dtype=float)
    levels = np.searchsorted(uppers, aqi, side="left") + 1
    counts = np.bincount(levels, minlength=len(AQI_LEVELS) + 1)
    return {lv.level: int(counts[lv.level]) for lv in AQI_LEVELS}


def percentile(values: npt.ArrayLike, p: float) -> float:
    """The p-th percentile of valid values per HJ 663 Appendix A.

    Sort ascending; rank k = 1 + (n − 1)·p/100 with integer part s; result
    X(s) + (X(s+1) − X(s))·(k − s). NaN values are left out; NaN when none is left.

    Raises
    ------
    ValueError
        If ``p`` is outside 0–100.

    Examples
    --------
    >>> percentile([10, 20, 30, 40, 50], 90)
    46.0
    """
    if not 0 <= p <= 100:
        raise ValueError(f"percentile {p} is out of range; expected 0–100")
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    if x.size == 0:
        return float("nan")
    return float(np.percentile(x, p, method="linear"))


#: Minimum valid daily values for an annual statistic (GB 3095-2026 Table 4).
MIN_DAYS_PER_YEAR: Final = 324
MIN_DAYS_PER_MONTH: Final = 27
MIN_DAYS_FEBRUARY: Final = 25


@dataclass(frozen=True)
class AnnualValidity:
    """Whether a year of daily values supports an annual statistic, and why not."""

    valid_days: int
    short_months: tuple[int, ...]

    @property
    def valid(self) -> bool:
        """True when ≥ 324 days and no month short of its minimum."""
        return self.valid_days >= MIN_DAYS_PER_YEAR and not self.short_months


def annual_validity(dates: pd.Series | pd.DatetimeIndex, valid: npt.ArrayLike) -> AnnualValidity:
    """Check the GB 3095 Table 4 counts for one year of daily values.

    Parameters
    ----------
    dates : dates of the year's daily values
    valid : bool per date — the daily value is valid

    Examples
    --------
    >>> days = pd.date_range("2025-01-01", "2025-12-31", freq="D")
    >>> ok = days.month != 2  # February entirely missing
    >>> annual_validity(days, ok).short_months, annual_validity(days, ok).valid
    ((2,), False)
    """
    month = pd.DatetimeIndex(dates).month.to_numpy()
    mask = np.asarray(valid, dtype=bool)
    counts = np.bincount(month[mask], minlength=13)
    short = tuple(
        m
        for m in range(1, 13)
        if counts[m] < (MIN_DAYS_FEBRUARY if m == 2 else MIN_DAYS_PER_MONTH)
    )
    return AnnualValidity(int(mask.sum()), short)


#: Annual evaluation items (HJ 663: annual mean and/or percentile of daily values):
#: (item name, daily statistic column, percentile or None for the mean).
ANNUAL_ITEMS: Final[tuple[tuple[str, str, float | None], ...]] = (
    ("so2_mean", "so2", None),
    ("so2_p98", "so2", 98.0),
    ("no2_mean", "no2", None),
    ("no2_p98", "no2", 98.0),
    ("pm10_mean", "pm10", None),
    ("pm10_p95", "pm10", 95.0),
    ("pm2_5_mean", "pm2_5", None),
    ("pm2_5_p95", "pm2_5", 95.0),
    ("co_p95", "co", 95.0),
    ("o3_8h_max_p90", "o3_8h_max", 90.0),
)


def annual_evaluation(daily: pd.DataFrame) -> pd.DataFrame:
    """Annual evaluation items of one year of daily values (one site or area).

    Parameters
    ----------
    daily : DataFrame
        ``date`` and the daily statistics ``so2, no2, co, pm10, pm2_5, o3_8h_max``
        [µg/m³; CO mg/m³], NaN where the day's value is invalid or missing.

    Returns
    -------
    DataFrame
        One row per item of :data:`ANNUAL_ITEMS` present: ``item``, ``value`` (mean or
        HJ 663 percentile of the valid daily values), ``valid_days``, ``short_months``
        (months below 27 days, February 25, as text like ``2;7``) and ``valid`` (GB 3095
        Table 4 counts met). Items of a missing column are left out.

    Notes
    -----
    SO2 and NO2: annual mean and 98th percentile of daily means; PM10 and PM2.5: annual mean
    and 95th percentile; CO: 95th percentile of daily means; O3: 90th percentile of MDA8
    ([M] HJ 663-2013 Table 1; standards.md §2.5). A value is given even when the counts are
    short, with ``valid`` false, so the shortfall is visible rather than hidden.

    Examples
    --------
    >>> days = pd.date_range("2025-01-01", "2025-12-31", freq="D")
    >>> year = pd.DataFrame({"date": days, "pm2_5": 30.0})
    >>> result = annual_evaluation(year)
    >>> result["item"].tolist(), result["value"].tolist(), result["valid"].tolist()
    (['pm2_5_mean', 'pm2_5_p95'], [30.0, 30.0], [True, True])
    """
    rows = []
    for item, column, p in ANNUAL_ITEMS:
        if column not in daily.columns:
            continue
        values = daily[column].to_numpy(dtype=float, na_value=np.nan)
        present = ~np.isnan(values)
        validity = annual_validity(daily["date"], present)
        if p is None:
            value = float(values[present].mean()) if present.any() else float("nan")
        else:
            value = percentile(values, p)
        rows.append(
            {
                "item": item,
                "value": value,
                "valid_days": validity.valid_days,
                "short_months": ";".join(str(m) for m in validity.short_months),
                "valid": validity.valid,
            }
        )
    return pd.DataFrame(rows, columns=["item", "value", "valid_days", "short_months", "valid"])


@dataclass(frozen=True)
class IndexLimits:
    """Denominators Sᵢ of the comprehensive index [µg/m³; CO mg/m³]."""

    name: str
    so2: float
    no2: float
    pm10: float
    pm2_5: float
    co: float
    o3: float


#: GB 3095-2012 level 2: annual limits for SO2/NO2/PM10/PM2.5, CO 24-hour, O3 8-hour.
INDEX_LIMITS_GB3095_2012: Final = IndexLimits("GB 3095-2012", 60, 40, 70, 35, 4, 160)
#: GB 3095-2026 transition level 2 (2026-03-01 … 2030-12-31). Whether the ranking rules
#: were re-issued with these is unverified (standards.md §2.8).
INDEX_LIMITS_GB3095_2026: Final = IndexLimits("GB 3095-2026 transition", 60, 40, 60, 30, 4, 160)


def comprehensive_index(
    concentrations: Mapping[Pollutant, float], limits: IndexLimits = INDEX_LIMITS_GB3095_2012
) -> tuple[float, dict[Pollutant, float]]:
    """Comprehensive air-quality index I = Σ Cᵢ/Sᵢ and the single indices Cᵢ/Sᵢ.

    Parameters
    ----------
    concentrations : mapping
        SO2, NO2, PM10, PM2.5: period means [µg/m³]; CO: 95th percentile of daily means
        [mg/m³]; O3: 90th percentile of MDA8 [µg/m³].
    limits : IndexLimits
        Sᵢ for each pollutant.

    Raises
    ------
    ValueError
        If a pollutant is missing.

    Examples
    --------
    >>> total, single = comprehensive_index({Pollutant.SO2: 12, Pollutant.NO2: 32,
    ...     Pollutant.PM10: 63, Pollutant.PM2_5: 35, Pollutant.CO: 1.2, Pollutant.O3: 160})
    >>> round(total, 2)
    4.2
    """
    missing = [p.value for p in Pollutant if p not in concentrations]
    if missing:
        raise ValueError(f"comprehensive index needs all six pollutants; missing {missing}")
    single = {p: float(concentrations[p]) / float(getattr(limits, p.value)) for p in Pollutant}
    return sum(single.values()), single
