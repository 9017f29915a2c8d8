"""Air quality index (AQI) per HJ 633-2012 and HJ 633-2026.

HJ 633-2012 (试行) applies to data up to 2026-02-28; HJ 633-2026 replaces it from
2026-03-01 (its foreword). Both rule sets are held here as data and chosen by date
(:func:`standard_for_date`) or explicitly. Every result names the standard that produced it.

What the two versions share (HJ 633-2012 §5–6, HJ 633-2026 §4):

* IAQI by linear interpolation on continuous segments (formula (1)), rounded **up** to an
  integer (2012 §6.2 "全部进位取整数", 2026 §4.2.6 "全部向上进位取整数").
* AQI = the largest IAQI; the primary pollutant(s) are those with that IAQI, all of them
  when tied, and only when AQI > 50.

What differs:

* 2026 rounds concentrations by GB/T 8170 (round half to even) before the IAQI: integers for
  µg/m³, one decimal for CO in mg/m³ (§4.2.2–4.2.3); 2012 has no such rule.
* The IAQI-100 breakpoints of PM10 (150 → 120 µg/m³) and PM2.5 (75 → 60 µg/m³).
* SO2 1-hour above 800 µg/m³: 2012 reports the IAQI of the 24-hour mean, 2026 sets 200.
  O3 8-hour above 800 µg/m³: 2012 reports the IAQI of the 1-hour value, 2026 sets 300.
* Daily AQI: 2012 rates seven statistics (five 24-hour means, O3 daily max 1-hour and daily
  max 8-hour); 2026 rates six (O3 daily max 8-hour only).
* Exceedance pollutants (IAQI > 100) exist only in 2012 (2026 foreword: removed).

Project decisions where the standards are silent (each documented where it is applied):

* A concentration above the top breakpoint gives IAQI 500 — what the national platform
  publishes.
* Hourly AQI defaults to the national platform's method: 1-hour values of all six
  pollutants, PM rated on the 24-hour breakpoints, for both versions (:class:`HourlyMethod`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING, Final

import numpy as np
import numpy.typing as npt

from monitor.domain._threads import in_threads
from monitor.domain.pollutants import POLLUTANTS, Indicator, Pollutant

if TYPE_CHECKING:
    import pandas as pd
else:
    from monitor.domain._deferred import pandas as pd

__all__ = [
    "ABOVE_TOP_IAQI",
    "AQI_LEVELS",
    "BLOCK_ROWS",
    "BREAKPOINT_TABLES",
    "CONCENTRATION_DECIMALS",
    "DAILY_IAQI_COLUMNS",
    "DAILY_INDICATORS",
    "DAILY_STATISTIC_COLUMNS",
    "GOOD_DAY_MAX_AQI",
    "HEAVY_POLLUTION_MIN_AQI",
    "HJ633_2012_TABLE",
    "HJ633_2026_EFFECTIVE",
    "HJ633_2026_TABLE",
    "IAQI_POINTS",
    "MOVING_MEAN_COLUMNS",
    "O3_8H_ABOVE_800_IAQI_2026",
    "PLATFORM_HOURLY_INDICATORS",
    "SO2_1H_ABOVE_800_IAQI_2026",
    "AqiLevel",
    "AqiStandard",
    "BreakpointTable",
    "HourlyMethod",
    "MissingPolicy",
    "RatedIndicator",
    "aqi_level",
    "combine_iaqi",
    "daily_aqi",
    "daily_aqi_arrays",
    "hourly_aqi",
    "hourly_aqi_arrays",
    "hourly_aqi_of_keys",
    "individual_aqi",
    "level_categories",
    "level_colours",
    "pollutant_names",
    "round_half_even",
    "standard_for_date",
    "standards_for_dates",
]

FloatArray = npt.NDArray[np.float64]


class AqiStandard(StrEnum):
    """The rule set an AQI is computed under."""

    HJ633_2012 = "hj633-2012"
    HJ633_2026 = "hj633-2026"

    @property
    def citation(self) -> str:
        """Citation form, e.g. ``HJ 633-2026``."""
        return "HJ 633-2012" if self is AqiStandard.HJ633_2012 else "HJ 633-2026"


#: First day HJ 633-2026 applies (HJ 633-2026 foreword; HJ 633-2012 void from this day).
HJ633_2026_EFFECTIVE: Final = date(2026, 3, 1)


def standard_for_date(day: date) -> AqiStandard:
    """The AQI rule set in force on a date (Asia/Shanghai calendar date).

    Examples
    --------
    >>> standard_for_date(date(2026, 2, 28)).value
    'hj633-2012'
    >>> standard_for_date(date(2026, 3, 1)).value
    'hj633-2026'
    """
    return AqiStandard.HJ633_2026 if day >= HJ633_2026_EFFECTIVE else AqiStandard.HJ633_2012


def standards_for_dates(days: pd.Series | pd.DatetimeIndex) -> npt.NDArray[np.object_]:
    """Vectorised :func:`standard_for_date` for dates or datetimes.

    Naive values are Asia/Shanghai local times; tz-aware ones (e.g. UTC from storage) are
    converted to Asia/Shanghai first. Only the local calendar date counts.

    Examples
    --------
    >>> utc = pd.Series(pd.to_datetime(["2026-02-28T15:00Z", "2026-02-28T16:00Z"]))
    >>> [s.value for s in standards_for_dates(utc)]
    ['hj633-2012', 'hj633-2026']
    """
    values = pd.to_datetime(pd.Series(days))
    if values.dt.tz is not None:
        values = values.dt.tz_convert("Asia/Shanghai").dt.tz_localize(None)
    values = values.dt.normalize()
    is_2026 = (values >= pd.Timestamp(HJ633_2026_EFFECTIVE)).to_numpy()
    choices = np.empty(2, dtype=object)  # element-wise, so the members stay enum members
    choices[0], choices[1] = AqiStandard.HJ633_2012, AqiStandard.HJ633_2026
    out: npt.NDArray[np.object_] = choices[is_2026.astype(np.intp)]
    return out


#: IAQI values at the breakpoints (HJ 633-2012 Table 1, HJ 633-2026 Table 3, first column).
IAQI_POINTS: Final = (0.0, 50.0, 100.0, 150.0, 200.0, 300.0, 400.0, 500.0)


@dataclass(frozen=True)
class BreakpointTable:
    """The IAQI breakpoint table of one version of HJ 633.

    ``concentrations[indicator][i]`` is the concentration at ``IAQI_POINTS[i]``
    [µg/m³; CO mg/m³]. SO2 1-hour stops at IAQI 200 and O3 8-hour at IAQI 300; above those
    the special rules of the version apply (see :func:`individual_aqi`).
    """

    standard: AqiStandard
    source: str
    concentrations: Mapping[Indicator, tuple[float, ...]]


_SHARED: Final[dict[Indicator, tuple[float, ...]]] = {
    Indicator.SO2_24H: (0, 50, 150, 475, 800, 1600, 2100, 2620),
    Indicator.SO2_1H: (0, 150, 500, 650, 800),
    Indicator.NO2_24H: (0, 40, 80, 180, 280, 565, 750, 940),
    Indicator.NO2_1H: (0, 100, 200, 700, 1200, 2340, 3090, 3840),
    Indicator.CO_24H: (0, 2, 4, 14, 24, 36, 48, 60),
    Indicator.CO_1H: (0, 5, 10, 35, 60, 90, 120, 150),
    Indicator.O3_1H: (0, 160, 200, 300, 400, 800, 1000, 1200),
    Indicator.O3_8H: (0, 100, 160, 215, 265, 800),
}

#: HJ 633-2012 Table 1.
HJ633_2012_TABLE: Final = BreakpointTable(
    AqiStandard.HJ633_2012,
    "HJ 633-2012 Table 1",
    {
        **_SHARED,
        Indicator.PM10_24H: (0, 50, 150, 250, 350, 420, 500, 600),
        Indicator.PM2_5_24H: (0, 35, 75, 115, 150, 250, 350, 500),
    },
)

#: HJ 633-2026 Table 3: only the IAQI-100 breakpoints of PM10 and PM2.5 differ from 2012.
HJ633_2026_TABLE: Final = BreakpointTable(
    AqiStandard.HJ633_2026,
    "HJ 633-2026 Table 3",
    {
        **_SHARED,
        Indicator.PM10_24H: (0, 50, 120, 250, 350, 420, 500, 600),
        Indicator.PM2_5_24H: (0, 35, 60, 115, 150, 250, 350, 500),
    },
)

BREAKPOINT_TABLES: Final[Mapping[AqiStandard, BreakpointTable]] = {
    AqiStandard.HJ633_2012: HJ633_2012_TABLE,
    AqiStandard.HJ633_2026: HJ633_2026_TABLE,
}

#: Decimals kept when HJ 633-2026 §4.2.2–4.2.3 rounds a concentration (GB/T 8170).
CONCENTRATION_DECIMALS: Final[Mapping[Pollutant, int]] = {
    p: (1 if p is Pollutant.CO else 0) for p in POLLUTANTS
}

#: IAQI set by HJ 633-2026 when SO2 1-hour > 800 µg/m³ (Table 3 note b).
SO2_1H_ABOVE_800_IAQI_2026: Final = 200.0
#: IAQI set by HJ 633-2026 when O3 8-hour > 800 µg/m³ (Table 3 note c).
O3_8H_ABOVE_800_IAQI_2026: Final = 300.0
#: Project decision: a concentration above the top breakpoint rates 500, as published.
ABOVE_TOP_IAQI: Final = 500.0

# Float noise allowance: 97.5 computed as 97.50000000000001 must not ceil to 99, nor
# 75.00000000000001 to 76. Far below any meaningful concentration difference.
_EPS: Final = 1e-9


def round_half_even(values: npt.ArrayLike, decimals: int) -> FloatArray:
    """Round to ``decimals`` places, ties to even, as written in decimal (GB/T 8170-2008 §3.2).

    "四舍六入五成双": a dropped 5 followed by nothing rounds to the even neighbour. Decimal
    ties that binary floats cannot hold exactly (2.45 is stored as 2.4500000000000002) are
    treated as ties, so the result matches rounding of the number as written.

    Parameters
    ----------
    values : array_like
        Values to round; NaN stays NaN.
    decimals : int
        Decimal places to keep (0 for integers).

    Returns
    -------
    ndarray of float

    Examples
    --------
    >>> round_half_even([35.5, 36.5, 12.5, 2.45, 2.35, 2.451], 0).tolist()
    [36.0, 36.0, 12.0, 2.0, 2.0, 2.0]
    >>> round_half_even([2.45, 2.35, 2.451, 0.05], 1).tolist()
    [2.4, 2.4, 2.5, 0.0]
    """
    x = np.asarray(values, dtype=float)
    rounded = _round_scaled(x, decimals)
    out: FloatArray = rounded / 10.0**decimals if decimals else rounded
    if decimals:
        # |x| ≥ about 1.8e308 / 10**decimals overflows when scaled; such a double has no
        # digits beyond 2**53 (its spacing is far above 1), so it is its own rounding
        huge = np.isinf(out) & np.isfinite(x)
        if huge.any():
            out[huge] = x[huge]
    return out


def _round_scaled(values: npt.ArrayLike, decimals: int) -> FloatArray:
    """``values · 10**decimals`` rounded half to even (see :func:`round_half_even`); new array."""
    x = np.asarray(values, dtype=float)
    shape = x.shape
    x = x.ravel()
    with np.errstate(over="ignore", invalid="ignore"):  # (a value near 1.8e308: inf, NaN)
        scaled = x * 10.0**decimals if decimals else x
        # rint rounds exact binary ties to even; near-ties (decimal ties stored a hair off)
        # are found by their distance to the nearest integer and sent to the even neighbour.
        rounded = np.rint(scaled)
        distance = np.subtract(scaled, rounded)
    np.abs(distance, out=distance)
    ties = np.flatnonzero(distance > 0.5 - 1e-7)
    if ties.size:
        lower = np.floor(scaled[ties])
        rounded[ties] = lower + np.mod(lower, 2.0)
    return rounded.reshape(shape)


def _ceil_index(raw: FloatArray) -> FloatArray:
    out: FloatArray = np.ceil(raw - _EPS) + 0.0  # + 0.0 turns ceil(-1e-9) = -0.0 into 0.0
    return out


def individual_aqi(
    indicator: Indicator,
    concentration: npt.ArrayLike,
    standard: AqiStandard,
    *,
    round_concentration: bool | None = None,
    fallback: npt.ArrayLike | None = None,
) -> FloatArray:
    """Individual air quality index (IAQI) of one indicator.

    Parameters
    ----------
    indicator : Indicator
        Pollutant and breakpoint column, e.g. ``Indicator.PM2_5_24H``.
    concentration : array_like
        Concentrations [µg/m³; CO mg/m³]; NaN = missing.
    standard : AqiStandard
        Rule set (breakpoints, rounding, special cases).
    round_concentration : bool, optional
        Round concentrations by GB/T 8170 before rating. Default: as the standard says —
        yes for HJ 633-2026 (§4.2.2–4.2.3), no for HJ 633-2012 (no rule: the input
        precision decides).
    fallback : array_like, optional
        For HJ 633-2012 only: the IAQI to report where the standard replaces this
        indicator's — the SO2 24-hour IAQI where SO2 1-hour > 800 µg/m³, the O3 1-hour IAQI
        where O3 8-hour > 800 µg/m³ (Table 1 notes). Without it those values are NaN.

    Returns
    -------
    ndarray of float
        Integer-valued IAQI (rounded up), 0–500; NaN where the concentration is missing.

    Raises
    ------
    ValueError
        If a concentration is negative or infinite.

    Notes
    -----
    IAQI = (IAQI_Hi − IAQI_Lo) / (BP_Hi − BP_Lo) · (C − BP_Lo) + IAQI_Lo, formula (1) of
    both versions, on continuous segments; then rounded up. Above the top breakpoint: 500
    (project decision, as the national platform publishes), except SO2 1-hour (2012:
    fallback; 2026: 200) and O3 8-hour above 800 (2012: fallback; 2026: 300).

    References
    ----------
    .. [1] HJ 633-2012 环境空气质量指数（AQI）技术规定（试行）, §5–6, Table 1.
    .. [2] HJ 633-2026 环境空气质量指数（AQI）技术规定, §4.2, Table 3.

    Examples
    --------
    Reference vectors of ``shared/reference/standards.md`` §1.7:

    >>> individual_aqi(Indicator.PM2_5_24H, [35.5, 75, 80], AqiStandard.HJ633_2026).tolist()
    [52.0, 114.0, 119.0]
    >>> individual_aqi(Indicator.PM2_5_24H, [36, 75, 80], AqiStandard.HJ633_2012).tolist()
    [52.0, 100.0, 107.0]
    >>> individual_aqi(Indicator.CO_24H, [3.9, 2.45], AqiStandard.HJ633_2026).tolist()
    [98.0, 60.0]
    """
    c = np.asarray(concentration, dtype=float)
    shape = c.shape
    c = c.ravel()
    # (fmin and fmax pass over NaN: one of them is negative or infinite if any value is)
    lowest, highest = (np.fmin.reduce(c), np.fmax.reduce(c)) if c.size else (0.0, 0.0)
    if lowest < 0 or np.isinf(lowest) or np.isinf(highest):
        bad = c[(c < 0) | np.isinf(c)][0]
        raise ValueError(
            f"{indicator.value} concentration {bad} {indicator.unit} is not usable; "
            "expected a finite value ≥ 0"
        )
    if round_concentration is None:
        round_concentration = standard is AqiStandard.HJ633_2026
    decimals = CONCENTRATION_DECIMALS[indicator.pollutant]
    table = _iaqi_table(standard, indicator)
    # Fast path: concentrations on the rounding grid (always after GB/T 8170 rounding, and
    # usually for published data) are rated by table lookup; the table is built with the
    # very same interpolation, so both paths give identical results.
    missing = np.isnan(c)
    if round_concentration:
        grid: FloatArray | None = _round_scaled(c, decimals)
    else:
        with np.errstate(over="ignore"):  # (a value near 1.8e308: inf, above the table)
            scaled = c * 10.0**decimals if decimals else c
        grid = np.rint(scaled)
        # on the grid: rint changes no value (the values that differ are the NaN ones)
        if np.count_nonzero(grid != scaled) != np.count_nonzero(missing):
            grid = None
    if grid is not None:
        above_index, missing_index = len(table) - 2, len(table) - 1
        np.minimum(grid, above_index, out=grid)
        np.copyto(grid, missing_index, where=missing)
        index = grid.astype(np.intp)
        iaqi: FloatArray = table[index]
        above = index == above_index
    else:
        breakpoints = np.asarray(
            BREAKPOINT_TABLES[standard].concentrations[indicator], dtype=float
        )
        points = np.asarray(IAQI_POINTS[: len(breakpoints)])
        iaqi = _ceil_index(np.interp(c, breakpoints, points))
        above = c > breakpoints[-1]
        iaqi[above] = table[-2]
    fallback_applies = standard is AqiStandard.HJ633_2012 and indicator in _FALLBACK_INDICATORS
    if fallback_applies and fallback is not None and above.any():
        replacement = np.broadcast_to(np.asarray(fallback, dtype=float), shape).ravel()
        iaqi[above] = replacement[above]
    return iaqi.reshape(shape)


#: Indicators whose value above the top breakpoint HJ 633-2012 replaces by another IAQI.
_FALLBACK_INDICATORS: Final = (Indicator.SO2_1H, Indicator.O3_8H)


@functools.cache
def _iaqi_table(standard: AqiStandard, indicator: Indicator) -> FloatArray:
    """IAQI of every concentration on the rounding grid from 0 to the top breakpoint.

    Index ``i`` holds the IAQI of ``i / 10**decimals``; the last two entries are the value
    above the top breakpoint (500; 2026: SO2 1-hour 200, O3 8-hour 300; 2012: NaN where a
    fallback applies) and NaN for a missing concentration.
    """
    decimals = CONCENTRATION_DECIMALS[indicator.pollutant]
    breakpoints = np.asarray(BREAKPOINT_TABLES[standard].concentrations[indicator], dtype=float)
    points = np.asarray(IAQI_POINTS[: len(breakpoints)])
    steps = round(breakpoints[-1] * 10**decimals)
    grid = np.arange(steps + 1) / 10.0**decimals
    if indicator in _FALLBACK_INDICATORS:
        if standard is AqiStandard.HJ633_2026:
            above = (
                SO2_1H_ABOVE_800_IAQI_2026
                if indicator is Indicator.SO2_1H
                else O3_8H_ABOVE_800_IAQI_2026
            )
        else:
            above = np.nan
    else:
        above = ABOVE_TOP_IAQI
    table = np.concatenate([_ceil_index(np.interp(grid, breakpoints, points)), [above, np.nan]])
    table.setflags(write=False)
    return table


# ---------------------------------------------------------------------------------------
# Levels, categories, colours (HJ 633-2012 Table 2 and Table A.1; HJ 633-2026 Table 1 and
# Table A.1 — identical in both versions)


@dataclass(frozen=True)
class AqiLevel:
    """One AQI level with its official category and colour."""

    level: int
    upper: int
    name_zh: str
    category_zh: str
    category_en: str
    colour_zh: str
    colour: str
    rgb: tuple[int, int, int]


#: Levels 1–6 (HJ 633 Table 2 / Table 1; colours Table A.1). English names are customary
#: renderings; the standards give none.
AQI_LEVELS: Final[tuple[AqiLevel, ...]] = (
    AqiLevel(1, 50, "一级", "优", "Excellent", "绿色", "#00E400", (0, 228, 0)),
    AqiLevel(2, 100, "二级", "良", "Good", "黄色", "#FFFF00", (255, 255, 0)),
    AqiLevel(3, 150, "三级", "轻度污染", "Lightly polluted", "橙色", "#FF7E00", (255, 126, 0)),
    AqiLevel(4, 200, "四级", "中度污染", "Moderately polluted", "红色", "#FF0000", (255, 0, 0)),
    AqiLevel(5, 300, "五级", "重度污染", "Heavily polluted", "紫色", "#99004C", (153, 0, 76)),
    AqiLevel(6, 500, "六级", "严重污染", "Severely polluted", "褐红色", "#7E0023", (126, 0, 35)),
)

#: AQI above which a day is not "good" (优良: levels 1–2, AQI ≤ 100).
GOOD_DAY_MAX_AQI: Final = 100
#: AQI above which a day counts as heavy pollution (重污染: levels 5–6, AQI > 200).
HEAVY_POLLUTION_MIN_AQI: Final = 200


def aqi_level(aqi: npt.ArrayLike) -> npt.NDArray[np.int8]:
    """AQI level 1–6 (HJ 633 Table 2 / 2026 Table 1); 0 where the AQI is missing.

    Examples
    --------
    >>> aqi_level([0, 50, 51, 100, 101, 150, 151, 200, 201, 300, 301, 500, float("nan")])
    array([1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 0], dtype=int8)
    """
    a = np.asarray(aqi, dtype=float)
    level: npt.NDArray[np.int8] = (~np.isnan(a)).astype(np.int8)
    for lv in AQI_LEVELS[:-1]:
        level += a > lv.upper
    return level


def _lookup(level: npt.NDArray[np.int8], values: Sequence[str]) -> npt.NDArray[np.object_]:
    table = np.asarray(["", *values], dtype=object)
    out: npt.NDArray[np.object_] = table[level]
    return out


def level_categories(level: npt.NDArray[np.int8], language: str = "zh") -> npt.NDArray[np.object_]:
    """Category names for levels (``优`` … ``严重污染``, or English); empty for level 0."""
    if language == "zh":
        return _lookup(level, [lv.category_zh for lv in AQI_LEVELS])
    return _lookup(level, [lv.category_en for lv in AQI_LEVELS])


def level_colours(level: npt.NDArray[np.int8]) -> npt.NDArray[np.object_]:
    """Official colours (hex) for levels; empty for level 0."""
    return _lookup(level, [lv.colour for lv in AQI_LEVELS])


# ---------------------------------------------------------------------------------------
# Pollutant sets as bit masks: bit i is POLLUTANTS[i]. Vectorised and cheap; turned into
# text only for output.

_BIT: Final[Mapping[Pollutant, int]] = {p: 1 << i for i, p in enumerate(POLLUTANTS)}
_MASK_TEXT: Final = np.asarray(
    [";".join(p.value for p in POLLUTANTS if m & _BIT[p]) for m in range(1 << len(POLLUTANTS))],
    dtype=object,
)


def pollutant_names(mask: npt.ArrayLike) -> npt.NDArray[np.object_]:
    """Pollutant bit masks → canonical names joined with ``;`` in canonical order.

    Examples
    --------
    >>> pollutant_names([0, 1, 0b101000]).tolist()
    ['', 'so2', 'o3;pm2_5']
    """
    out: npt.NDArray[np.object_] = _MASK_TEXT[np.asarray(mask, dtype=np.int64)]
    return out


@dataclass(frozen=True)
class RatedIndicator:
    """One column of an AQI computation: output key, pollutant, and its IAQI values."""

    key: str
    pollutant: Pollutant
    iaqi: FloatArray


class MissingPolicy(StrEnum):
    """What to do when a pollutant the AQI needs is missing.

    ``PRESENT`` — the AQI from the pollutants present, as the platforms publish (and as
    HJ 633-2012 practice, which marks missing items NA). ``HJ633_2026`` — §5.3: the AQI of
    the remaining pollutants is published only when it is above 100, otherwise NA.
    """

    PRESENT = "present"
    HJ633_2026 = "hj633-2026"


def combine_iaqi(
    rated: Sequence[RatedIndicator],
    *,
    missing: MissingPolicy = MissingPolicy.PRESENT,
) -> pd.DataFrame:
    """AQI, level, primary and exceedance pollutants from rated indicators, as a frame.

    See :func:`_combine` for the columns and the rules.
    """
    return pd.DataFrame(_combine(rated, missing=missing), copy=False)


def _combine(
    rated: Sequence[RatedIndicator],
    *,
    missing: MissingPolicy = MissingPolicy.PRESENT,
) -> dict[str, npt.NDArray[np.generic]]:
    """AQI, level, primary and exceedance pollutants from rated indicators.

    Parameters
    ----------
    rated : sequence of RatedIndicator
        Every indicator the report rates (all of equal length); NaN = missing.
    missing : MissingPolicy
        Policy when some indicator is missing.

    Returns
    -------
    dict of str → ndarray
        ``aqi`` (float, integer-valued; NaN when none rated or withheld by the policy),
        ``level`` (int8, 0 = none), ``primary_mask`` and ``exceedance_mask`` (pollutant
        bit masks; see :func:`pollutant_names`), ``complete`` (every indicator present).

    Notes
    -----
    AQI = max IAQI (HJ 633 formula (2)). Primary pollutants: every pollutant whose IAQI
    equals the AQI, only when AQI > 50 (2012 §3.3/§4.4.2, 2026 §3.3/§4.3.1). Exceedance
    pollutants: IAQI > 100 (2012 §3.4; meaningful for 2012 only).
    """
    if not rated:
        raise ValueError("no indicator to rate; expected at least one concentration column")
    n = len(rated[0].iaqi)
    aqi = np.array(rated[0].iaqi, dtype=float)
    scratch = np.empty(n, dtype=bool)  # reused: fresh temporaries cost more than the maths
    any_missing = np.isnan(aqi)
    for r in rated[1:]:
        np.fmax(aqi, r.iaqi, out=aqi)  # fmax ignores NaN: the AQI of the present ones
        np.logical_or(any_missing, np.isnan(r.iaqi, out=scratch), out=any_missing)
    complete = ~any_missing
    if missing is MissingPolicy.HJ633_2026:
        aqi[any_missing & (aqi <= GOOD_DAY_MAX_AQI)] = np.nan
    primary = np.zeros(n, dtype=np.uint8)
    exceed = np.zeros(n, dtype=np.uint8)
    shifted = np.empty(n, dtype=np.uint8)
    flags = scratch.view(np.uint8)  # the bool scratch as 0/1 bytes
    for r in rated:
        shift = _BIT[r.pollutant].bit_length() - 1
        np.equal(r.iaqi, aqi, out=scratch)
        np.left_shift(flags, shift, out=shifted)
        np.bitwise_or(primary, shifted, out=primary)
        np.greater(r.iaqi, 100, out=scratch)
        np.left_shift(flags, shift, out=shifted)
        np.bitwise_or(exceed, shifted, out=exceed)
    np.multiply(primary, aqi > 50, out=primary)  # primary pollutants only when AQI > 50
    exceed[np.isnan(aqi)] = 0
    return {
        "aqi": aqi,
        "level": aqi_level(aqi),
        "primary_mask": primary,
        "exceedance_mask": exceed,
        "complete": complete,
    }


Columns = dict[str, npt.NDArray[np.generic]]

#: Rows rated per block: temporaries stay small and are reused instead of touching fresh
#: memory for every intermediate array (which dominates the cost on large inputs).
BLOCK_ROWS: Final = 1 << 16


def _per_standard(
    standard: AqiStandard | npt.ArrayLike,
    inputs: Mapping[str, FloatArray],
    n: int,
    compute: Callable[[AqiStandard, Mapping[str, FloatArray]], Columns],
) -> pd.DataFrame:
    """Run ``compute`` per standard and per block of rows; assemble one frame in row order."""
    out, standard_codes = _per_standard_columns(standard, inputs, n, compute)
    frame = pd.DataFrame(out, copy=False)
    dtype = pd.CategoricalDtype([s.value for s in AqiStandard])
    frame["standard"] = pd.Categorical.from_codes(standard_codes, dtype=dtype)
    return frame


def _per_standard_columns(
    standard: AqiStandard | npt.ArrayLike,
    inputs: Mapping[str, FloatArray],
    n: int,
    compute: Callable[[AqiStandard, Mapping[str, FloatArray]], Columns],
) -> tuple[Columns, npt.NDArray[np.int8]]:
    """:func:`_per_standard` as arrays: the columns, and per row the index of its standard
    in :class:`AqiStandard`."""
    if isinstance(standard, AqiStandard):
        codes = None
    else:
        codes = np.asarray(standard, dtype=object)
        if codes.shape != (n,):
            raise ValueError(f"expected one standard per row ({n}), got shape {codes.shape}")
        known = np.isin(codes, list(AqiStandard))
        if not known.all():
            raise ValueError(
                f"unknown AQI standard {codes[~known][0]!r}; expected one of "
                + ", ".join(s.value for s in AqiStandard)
            )
    out: Columns = {}
    standard_codes = np.zeros(n, dtype=np.int8)
    for index, std in enumerate(AqiStandard):
        if codes is None:
            if std is not standard:
                continue
            rows: npt.NDArray[np.intp] | None = None
        else:
            rows = np.flatnonzero(codes == std)
            if rows.size == 0:
                continue
        count = n if rows is None else rows.size

        def rate(
            start: int,
            std: AqiStandard = std,
            rows: npt.NDArray[np.intp] | None = rows,
            count: int = count,
        ) -> None:
            """Rate one block of rows into ``out`` (its columns exist after the first)."""
            stop = min(start + BLOCK_ROWS, count)
            if rows is None:
                block = {k: v[start:stop] for k, v in inputs.items()}
            else:
                block = {k: v[rows[start:stop]] for k, v in inputs.items()}
            result = compute(std, block)
            for key, values in result.items():
                if key not in out:
                    # every row is written, by its block (each row has one known standard):
                    # no fill, and the pages are touched by the blocks, on every core
                    out[key] = np.empty(n, dtype=values.dtype)
                if rows is None:
                    out[key][start:stop] = values
                else:
                    out[key][rows[start:stop]] = values

        if count:
            rate(0)  # makes the columns; the other blocks write into them, on every core
            in_threads(rate, range(BLOCK_ROWS, count, BLOCK_ROWS))
        if rows is None:
            standard_codes[:] = index
        else:
            standard_codes[rows] = index
    if n == 0:  # still give every column, for callers that select them
        first = standard if isinstance(standard, AqiStandard) else AqiStandard.HJ633_2026
        out = compute(first, {k: v[:0] for k, v in inputs.items()})
    return out, standard_codes


def _inputs(frame: pd.DataFrame, names: Sequence[str]) -> dict[str, FloatArray]:
    """Float arrays of the named columns present in ``frame`` (pd.NA → NaN)."""
    return {
        name: frame[name].to_numpy(dtype=float, na_value=np.nan)
        for name in names
        if name in frame.columns
    }


class HourlyMethod(StrEnum):
    """How an hourly (real-time) AQI is formed.

    ``PLATFORM`` (default) — what the national real-time platform publishes: 1-hour values of
    SO2, NO2, CO, O3, PM10 and PM2.5, PM rated on the 24-hour breakpoints (HJ 633-2026
    §4.2.3–4.2.4; applied to 2012 hours as published). ``STANDARD_TEXT`` — HJ 633-2012 §5.1.3
    and Table 4 as written: 1-hour SO2/NO2/CO/O3, the O3 8-hour moving mean, and the
    24-hour moving means of PM10 and PM2.5 (needs columns ``o3_8h``, ``pm10_24h``,
    ``pm2_5_24h``); for 2026 hours it is the same as ``PLATFORM``.
    """

    PLATFORM = "platform"
    STANDARD_TEXT = "standard-text"


#: Extra input columns an hourly computation can use (moving means, same units).
MOVING_MEAN_COLUMNS: Final = ("so2_24h", "o3_8h", "pm10_24h", "pm2_5_24h")


def _column(frame: pd.DataFrame, name: str, rows: npt.NDArray[np.bool_]) -> FloatArray:
    if name not in frame.columns:
        return np.full(int(rows.sum()), np.nan)
    values: FloatArray = frame[name].to_numpy(dtype=float, na_value=np.nan)
    return values if rows.all() else values[rows]


def hourly_aqi(
    concentrations: pd.DataFrame,
    standard: AqiStandard | npt.ArrayLike,
    *,
    method: HourlyMethod = HourlyMethod.PLATFORM,
    missing: MissingPolicy = MissingPolicy.PRESENT,
) -> pd.DataFrame:
    """Hourly (real-time) AQI of site or area hours.

    Parameters
    ----------
    concentrations : DataFrame
        1-hour means in columns ``so2, no2, co, o3, pm10, pm2_5`` (any subset; absent
        column = missing) [µg/m³; CO mg/m³]; optionally moving means ``so2_24h`` (used for
        the HJ 633-2012 SO2 > 800 rule), ``o3_8h``, ``pm10_24h``, ``pm2_5_24h`` (used by
        ``HourlyMethod.STANDARD_TEXT``).
    standard : AqiStandard or array_like of str
        One rule set, or one per row (e.g. from :func:`standards_for_dates`).
    method : HourlyMethod
        Which indicators are rated; default as the national platform publishes.
    missing : MissingPolicy
        Policy when a pollutant is missing.

    Returns
    -------
    DataFrame
        One row per input row (same order, fresh index): ``iaqi_so2`` … ``iaqi_pm2_5``
        (plus ``iaqi_o3_8h`` under ``STANDARD_TEXT``), and the columns of
        :func:`combine_iaqi`, and ``standard``.

    Examples
    --------
    >>> hours = pd.DataFrame({"pm2_5": [80.0, 20.0], "o3": [150.0, 170.0]})
    >>> out = hourly_aqi(hours, AqiStandard.HJ633_2026)
    >>> out["aqi"].tolist(), pollutant_names(out["primary_mask"]).tolist()
    ([119.0, 63.0], ['pm2_5', 'o3'])
    """
    names = (*(p.value for p in POLLUTANTS), *MOVING_MEAN_COLUMNS)
    return _per_standard(
        standard,
        _inputs(concentrations, names),
        len(concentrations),
        _hourly_compute(method, missing),
    )


def hourly_aqi_arrays(
    concentrations: Mapping[str, FloatArray],
    n: int,
    standard: AqiStandard | npt.ArrayLike,
    *,
    method: HourlyMethod = HourlyMethod.PLATFORM,
    missing: MissingPolicy = MissingPolicy.PRESENT,
) -> tuple[dict[str, npt.NDArray[np.generic]], npt.NDArray[np.int8]]:
    """:func:`hourly_aqi` of ``n`` rows given as float arrays (no frame), for callers that
    work on columns: the same columns as arrays (without ``standard``) and, per row, the
    index of its rule set in :class:`AqiStandard`.

    Examples
    --------
    >>> out, codes = hourly_aqi_arrays({"pm2_5": np.array([80.0])}, 1, AqiStandard.HJ633_2026)
    >>> out["aqi"].tolist(), list(AqiStandard)[codes[0]].value
    ([119.0], 'hj633-2026')
    """
    names = (*(p.value for p in POLLUTANTS), *MOVING_MEAN_COLUMNS)
    inputs = {k: np.asarray(v, dtype=float) for k, v in concentrations.items() if k in names}
    return _per_standard_columns(standard, inputs, n, _hourly_compute(method, missing))


#: The indicator that rates each pollutant column in :func:`hourly_aqi` with
#: ``HourlyMethod.PLATFORM`` (the SO2 24-hour fallback aside), in output order.
PLATFORM_HOURLY_INDICATORS: Final = (
    ("so2", Pollutant.SO2, Indicator.SO2_1H),
    ("no2", Pollutant.NO2, Indicator.NO2_1H),
    ("co", Pollutant.CO, Indicator.CO_1H),
    ("o3", Pollutant.O3, Indicator.O3_1H),
    ("pm10", Pollutant.PM10, Indicator.PM10_24H),
    ("pm2_5", Pollutant.PM2_5, Indicator.PM2_5_24H),
)


def hourly_aqi_of_keys(
    concentrations: Mapping[str, FloatArray],
    keys: Mapping[str, npt.NDArray[np.integer]],
    n: int,
    standard: AqiStandard,
    *,
    missing: MissingPolicy = MissingPolicy.PRESENT,
) -> tuple[dict[str, FloatArray], dict[str, npt.NDArray[np.generic]]]:
    """:func:`hourly_aqi_arrays` with ``HourlyMethod.PLATFORM`` under one rule set, for rows
    whose concentrations repeat: each column given as its distinct values
    (``concentrations[c]``, any order) and each row's key among them (``keys[c]``, ``n``
    rows). Each distinct value is rated once (HJ 633 formula (1): the IAQI of a value does
    not depend on its row), then the AQI, level and primary pollutants per row as
    :func:`_combine` makes them (HJ 633 formula (2)) — the same numbers as rating every row.

    Returns the IAQI of each distinct value (``iaqi_<column>``, one per key, for the
    columns given) and, per row, ``aqi``, ``level``, ``primary_mask``, ``exceedance_mask``
    and ``complete`` as :func:`hourly_aqi_arrays`. (No SO2 24-hour fallback: a caller with
    SO2 1-hour values above 800 µg/m³ under HJ 633-2012 uses :func:`hourly_aqi_arrays`.)

    Examples
    --------
    >>> per_key, rows = hourly_aqi_of_keys(
    ...     {"pm2_5": np.array([80.0, 35.0])}, {"pm2_5": np.array([1, 0, 1])}, 3,
    ...     AqiStandard.HJ633_2026)
    >>> per_key["iaqi_pm2_5"].tolist(), rows["aqi"].tolist()
    ([119.0, 50.0], [50.0, 119.0, 50.0])
    """
    per_key = {
        f"iaqi_{name}": individual_aqi(
            indicator, np.asarray(concentrations[name], dtype=float), standard
        )
        for name, _, indicator in PLATFORM_HOURLY_INDICATORS
        if name in concentrations
    }
    out: dict[str, npt.NDArray[np.generic]] = {}

    def rate(start: int) -> None:
        """Rate one block of rows into ``out`` (its columns exist after the first)."""
        stop = min(start + BLOCK_ROWS, n)
        rated = [
            RatedIndicator(
                f"iaqi_{name}",
                pollutant,
                per_key[f"iaqi_{name}"][keys[name][start:stop]]
                if name in concentrations
                else np.full(stop - start, np.nan),
            )
            for name, pollutant, _ in PLATFORM_HOURLY_INDICATORS
        ]
        for key, values in _combine(rated, missing=missing).items():
            if key not in out:
                out[key] = np.empty(n, dtype=values.dtype)
            out[key][start:stop] = values

    rate(0)  # makes the columns; the other blocks write into them, on every core
    in_threads(rate, range(BLOCK_ROWS, n, BLOCK_ROWS))
    return per_key, out


def _hourly_compute(
    method: HourlyMethod, missing: MissingPolicy
) -> Callable[[AqiStandard, Mapping[str, FloatArray]], Columns]:
    """The rating of one block of hours under one rule set (see :func:`hourly_aqi`)."""

    def compute(std: AqiStandard, block: Mapping[str, FloatArray]) -> Columns:
        size = len(next(iter(block.values()))) if block else 0

        def col(name: str) -> FloatArray:
            return block[name] if name in block else np.full(size, np.nan)

        so2_24h = (
            individual_aqi(Indicator.SO2_24H, block["so2_24h"], std)
            if "so2_24h" in block
            else None
        )
        o3_1h = individual_aqi(Indicator.O3_1H, col("o3"), std)
        text = method is HourlyMethod.STANDARD_TEXT and std is AqiStandard.HJ633_2012
        pm10 = col("pm10_24h") if text else col("pm10")
        pm2_5 = col("pm2_5_24h") if text else col("pm2_5")
        rated = [
            RatedIndicator(
                "iaqi_so2",
                Pollutant.SO2,
                individual_aqi(Indicator.SO2_1H, col("so2"), std, fallback=so2_24h),
            ),
            RatedIndicator(
                "iaqi_no2", Pollutant.NO2, individual_aqi(Indicator.NO2_1H, col("no2"), std)
            ),
            RatedIndicator(
                "iaqi_co", Pollutant.CO, individual_aqi(Indicator.CO_1H, col("co"), std)
            ),
            RatedIndicator("iaqi_o3", Pollutant.O3, o3_1h),
            RatedIndicator(
                "iaqi_pm10", Pollutant.PM10, individual_aqi(Indicator.PM10_24H, pm10, std)
            ),
            RatedIndicator(
                "iaqi_pm2_5", Pollutant.PM2_5, individual_aqi(Indicator.PM2_5_24H, pm2_5, std)
            ),
        ]
        if text:
            o3_8h = individual_aqi(Indicator.O3_8H, col("o3_8h"), std, fallback=o3_1h)
            rated.append(RatedIndicator("iaqi_o3_8h", Pollutant.O3, o3_8h))
        out: Columns = {r.key: r.iaqi for r in rated}
        if method is HourlyMethod.STANDARD_TEXT and not text:
            out["iaqi_o3_8h"] = np.full(size, np.nan)
        out.update(_combine(rated, missing=missing))
        return out

    return compute


#: Daily statistics rated by each version (HJ 633-2012 §5.1.2 and Table 3; HJ 633-2026
#: §4.2.2 and Table 4): (statistic column, indicator).
DAILY_INDICATORS: Final[Mapping[AqiStandard, tuple[tuple[str, Indicator], ...]]] = {
    AqiStandard.HJ633_2012: (
        ("so2", Indicator.SO2_24H),
        ("no2", Indicator.NO2_24H),
        ("co", Indicator.CO_24H),
        ("o3_1h_max", Indicator.O3_1H),
        ("o3_8h_max", Indicator.O3_8H),
        ("pm10", Indicator.PM10_24H),
        ("pm2_5", Indicator.PM2_5_24H),
    ),
    AqiStandard.HJ633_2026: (
        ("so2", Indicator.SO2_24H),
        ("no2", Indicator.NO2_24H),
        ("co", Indicator.CO_24H),
        ("o3_8h_max", Indicator.O3_8H),
        ("pm10", Indicator.PM10_24H),
        ("pm2_5", Indicator.PM2_5_24H),
    ),
}


#: Input columns of :func:`daily_aqi` and its IAQI output columns, in output order.
DAILY_STATISTIC_COLUMNS: Final = ("so2", "no2", "co", "pm10", "pm2_5", "o3_1h_max", "o3_8h_max")
DAILY_IAQI_COLUMNS: Final = (
    "iaqi_so2",
    "iaqi_no2",
    "iaqi_co",
    "iaqi_o3_1h",
    "iaqi_o3_8h",
    "iaqi_pm10",
    "iaqi_pm2_5",
)


def daily_aqi(
    statistics: pd.DataFrame,
    standard: AqiStandard | npt.ArrayLike,
    *,
    missing: MissingPolicy = MissingPolicy.PRESENT,
) -> pd.DataFrame:
    """Daily AQI from daily statistics.

    Parameters
    ----------
    statistics : DataFrame
        Valid daily statistics (NaN where invalid or missing) in columns ``so2, no2, co,
        pm10, pm2_5`` (24-hour means), ``o3_1h_max`` (O3 daily max 1-hour) and
        ``o3_8h_max`` (O3 daily max 8-hour mean) [µg/m³; CO mg/m³]; see
        :func:`monitor.domain.daily.daily_statistics`.
    standard : AqiStandard or array_like of str
        One rule set, or one per row (:func:`standards_for_dates` of the dates).
    missing : MissingPolicy
        Policy when a statistic is missing.

    Returns
    -------
    DataFrame
        ``iaqi_so2, iaqi_no2, iaqi_co, iaqi_o3_1h, iaqi_o3_8h, iaqi_pm10, iaqi_pm2_5``
        (``iaqi_o3_1h`` NaN under 2026, which does not rate it), the columns of
        :func:`combine_iaqi`, and ``standard``.

    Notes
    -----
    HJ 633-2012 rates seven statistics; O3 8-hour > 800 µg/m³ reports the O3 1-hour IAQI.
    HJ 633-2026 rates six; O3 8-hour > 800 µg/m³ rates 300. ``complete`` means every
    statistic the version rates is present.

    Pass the **unrounded** daily statistics: HJ 633-2012 rates them as given, which is what
    the platform publishes (Shenyang days: PM2.5 75.3 rates 101, not the 100 of the
    displayed 75; ``standards.md`` §2.9); HJ 633-2026 rounds them here first (GB/T 8170,
    §4.2.2).

    Examples
    --------
    >>> day = pd.DataFrame({"so2": [9.0], "no2": [30.0], "co": [0.8], "o3_1h_max": [120.0],
    ...                     "o3_8h_max": [98.0], "pm10": [100.0], "pm2_5": [75.0]})
    >>> daily_aqi(day, AqiStandard.HJ633_2012)["aqi"].tolist()
    [100.0]
    >>> daily_aqi(day, AqiStandard.HJ633_2026)["aqi"].tolist()
    [114.0]
    """
    inputs = _inputs(statistics, DAILY_STATISTIC_COLUMNS)
    return _per_standard(standard, inputs, len(statistics), _daily_compute(missing))


def daily_aqi_arrays(
    statistics: Mapping[str, FloatArray],
    n: int,
    standard: AqiStandard | npt.ArrayLike,
    *,
    missing: MissingPolicy = MissingPolicy.PRESENT,
) -> tuple[dict[str, npt.NDArray[np.generic]], npt.NDArray[np.int8]]:
    """:func:`daily_aqi` of ``n`` days given as float arrays (no frame): the same columns
    as arrays (without ``standard``) and, per row, the index of its rule set in
    :class:`AqiStandard`.

    Examples
    --------
    >>> out, codes = daily_aqi_arrays({"pm2_5": np.array([75.0])}, 1, AqiStandard.HJ633_2012)
    >>> out["aqi"].tolist(), list(AqiStandard)[codes[0]].value
    ([100.0], 'hj633-2012')
    """
    inputs = {
        k: np.asarray(v, dtype=float)
        for k, v in statistics.items()
        if k in DAILY_STATISTIC_COLUMNS
    }
    return _per_standard_columns(standard, inputs, n, _daily_compute(missing))


def _daily_compute(
    missing: MissingPolicy,
) -> Callable[[AqiStandard, Mapping[str, FloatArray]], Columns]:
    """The rating of one block of days under one rule set (see :func:`daily_aqi`)."""

    def compute(std: AqiStandard, block: Mapping[str, FloatArray]) -> Columns:
        size = len(next(iter(block.values()))) if block else 0

        def col(name: str) -> FloatArray:
            return block[name] if name in block else np.full(size, np.nan)

        o3_1h = individual_aqi(Indicator.O3_1H, col("o3_1h_max"), std)
        rated: list[RatedIndicator] = []
        for column, indicator in DAILY_INDICATORS[std]:
            fallback = o3_1h if indicator is Indicator.O3_8H else None
            iaqi = individual_aqi(indicator, col(column), std, fallback=fallback)
            rated.append(
                RatedIndicator("iaqi_" + column.removesuffix("_max"), indicator.pollutant, iaqi)
            )
        out: Columns = {key: np.full(size, np.nan) for key in DAILY_IAQI_COLUMNS}
        out.update({r.key: r.iaqi for r in rated})
        out.update(_combine(rated, missing=missing))
        return out

    return compute
