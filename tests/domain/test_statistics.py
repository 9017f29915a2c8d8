"""Period statistics: good-day share, heavy pollution, levels, percentiles, validity, index.

References (``shared/reference/standards.md``): §2.6 (good day = valid day with AQI ≤ 100;
ratio = good days ÷ valid days; Shenyang 2021 315/365 = 86.3 %, 2020 287/366 = 78.4 %;
heavy pollution = AQI > 200), §1.3 (levels), §2.5 (HJ 663 Appendix A percentile: rank
k = 1 + (n − 1)·p/100, linear interpolation), §2.1 (annual statistic: ≥ 324 days, ≥ 27 per
month, February ≥ 25), §2.8 (comprehensive index Σ Cᵢ/Sᵢ). Expected values worked by hand.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from monitor.domain.pollutants import Pollutant
from monitor.domain.statistics import (
    INDEX_LIMITS_GB3095_2012,
    INDEX_LIMITS_GB3095_2026,
    annual_evaluation,
    annual_validity,
    comprehensive_index,
    good_day_share,
    heavy_pollution_days,
    level_distribution,
    percentile,
)

NAN = float("nan")

# ---------------------------------------------------------------------------------------
# Good-day share (优良天数比例)


def test_good_day_share_shenyang_2021() -> None:
    """Shenyang 2021: 315 good days of 365 valid days = 86.3 % (standards.md §2.6)."""
    days = [40.0] * 100 + [100.0] * 215 + [101.0] * 50
    result = good_day_share(days)
    assert (result.good_days, result.valid_days) == (315, 365)
    assert round(result.share * 100, 1) == 86.3


def test_good_day_share_shenyang_2020_leap_year() -> None:
    """Shenyang 2020: 287 good days of 366 (leap year) = 78.4 % (standards.md §2.6)."""
    days = [75.0] * 287 + [150.0] * 79
    result = good_day_share(days)
    assert (result.good_days, result.valid_days) == (287, 366)
    assert round(result.share * 100, 1) == 78.4


def test_good_day_boundary_is_100() -> None:
    """AQI 100 is a good day (良); 101 is not (轻度污染)."""
    result = good_day_share([100.0, 101.0])
    assert (result.good_days, result.valid_days) == (1, 2)
    assert result.share == 0.5


def test_days_without_aqi_leave_the_denominator() -> None:
    """Days without a valid AQI count neither as good nor as valid days."""
    result = good_day_share([50.0, NAN, 150.0, 100.0, NAN])
    assert (result.good_days, result.valid_days) == (2, 3)
    assert result.share == pytest.approx(2 / 3)


def test_good_day_share_without_valid_days_is_nan() -> None:
    """With no valid day the share is NaN, not 0."""
    result = good_day_share([NAN, NAN])
    assert (result.good_days, result.valid_days) == (0, 0)
    assert math.isnan(result.share)


# ---------------------------------------------------------------------------------------
# Heavy pollution days and level distribution (HJ 633 levels, standards.md §1.3, §2.6)


def test_heavy_pollution_days_are_above_200() -> None:
    """Heavy pollution days have AQI > 200 (levels V–VI); 200 itself is not counted."""
    assert heavy_pollution_days([150.0, 200.0, 201.0, 300.0, 301.0, 500.0, NAN]) == 4


def test_heavy_pollution_days_none() -> None:
    """A period without AQI > 200 has 0 heavy pollution days."""
    assert heavy_pollution_days([0.0, 100.0, 200.0]) == 0


def test_level_distribution_boundaries() -> None:
    """Days per level follow the HJ 633 bands 0–50, 51–100, …, 201–300, > 300."""
    days = [0, 50, 51, 100, 101, 150, 151, 200, 201, 300, 301, 500, NAN]
    assert level_distribution(days) == {1: 2, 2: 2, 3: 2, 4: 2, 5: 2, 6: 2}


def test_level_distribution_lists_empty_levels() -> None:
    """Every level 1–6 appears, with 0 for levels without days."""
    assert level_distribution([30.0, 30.0, 120.0]) == {1: 2, 2: 0, 3: 1, 4: 0, 5: 0, 6: 0}


# ---------------------------------------------------------------------------------------
# Percentiles (HJ 663 Appendix A)

SAMPLE = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0]  # sorted: 1 1 2 3 4 5 9, n = 7


@pytest.mark.parametrize(
    ("p", "expected"),
    [
        (0, 1.0),  # k = 1
        (25, 1.5),  # k = 1 + 6·0.25 = 2.5 → X2 + 0.5·(X3 − X2) = 1 + 0.5
        (50, 3.0),  # k = 4 → X4
        (90, 6.6),  # k = 6.4 → 5 + 0.4·(9 − 5)
        (95, 7.8),  # k = 6.7 → 5 + 0.7·4
        (98, 8.52),  # k = 6.88 → 5 + 0.88·4
        (100, 9.0),  # k = 7 → X7
    ],
    ids=lambda v: str(v),
)
def test_percentile_hj663_rank_interpolation(p: float, expected: float) -> None:
    """Percentile = X(s) + (X(s+1) − X(s))·(k − s), k = 1 + (n − 1)·p/100 (HJ 663 App. A)."""
    assert percentile(SAMPLE, p) == pytest.approx(expected, abs=1e-12)


def test_percentile_of_a_year() -> None:
    """A year of 365 values 1…365: P95 has k = 1 + 364·0.95 = 346.8 → 346.8."""
    values = np.arange(365, 0, -1, dtype=float)  # descending input; the method sorts
    assert percentile(values, 95) == pytest.approx(346.8, abs=1e-9)
    # P98: k = 1 + 364·0.98 = 357.72; P90: k = 1 + 364·0.9 = 328.6
    assert percentile(values, 98) == pytest.approx(357.72, abs=1e-9)
    assert percentile(values, 90) == pytest.approx(328.6, abs=1e-9)


def test_percentile_leaves_out_nan() -> None:
    """Invalid (NaN) values are not ranked: P50 of {10, 20} is 15."""
    assert percentile([NAN, 20.0, NAN, 10.0], 50) == 15.0


def test_percentile_single_value_and_empty() -> None:
    """One value is every percentile of itself; no valid value gives NaN."""
    assert percentile([42.0], 95) == 42.0
    assert math.isnan(percentile([NAN], 95))
    assert math.isnan(percentile([], 95))


@pytest.mark.parametrize("p", [-1, 100.5, 101])
def test_percentile_out_of_range_raises(p: float) -> None:
    """A percentile outside 0–100 is refused, naming the value."""
    with pytest.raises(ValueError, match=str(p)):
        percentile(SAMPLE, p)


# ---------------------------------------------------------------------------------------
# Annual validity (GB 3095-2026 Table 4: ≥ 324 days, ≥ 27 per month, February ≥ 25)


def _year_mask(
    year: int, per_month: dict[int, int], default: int
) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """All days of ``year``; the first n days of each month valid (n from per_month)."""
    days = pd.date_range(f"{year}-01-01", f"{year}-12-31", freq="D")
    wanted = np.asarray([per_month.get(m, default) for m in days.month])
    return days, days.day.to_numpy() <= wanted


def test_annual_validity_full_year() -> None:
    """Every day valid: 365 days, no short month, valid."""
    days = pd.date_range("2025-01-01", "2025-12-31", freq="D")
    result = annual_validity(days, np.ones(len(days), dtype=bool))
    assert (result.valid_days, result.short_months, result.valid) == (365, (), True)


def test_annual_validity_exactly_324_with_27_per_month() -> None:
    """27 days in each of 12 months = 324 days: exactly enough."""
    days, valid = _year_mask(2025, {}, 27)
    result = annual_validity(days, valid)
    assert (result.valid_days, result.short_months, result.valid) == (324, (), True)


def test_annual_validity_needs_324_days_even_with_full_months() -> None:
    """Months at their minima (Feb 25, others 27) give 322 days: below 324, invalid."""
    days, valid = _year_mask(2025, {2: 25}, 27)
    result = annual_validity(days, valid)
    assert (result.valid_days, result.short_months, result.valid) == (322, (), False)
    # Two more January days reach 324.
    days, valid = _year_mask(2025, {1: 29, 2: 25}, 27)
    assert annual_validity(days, valid).valid


@pytest.mark.parametrize(
    ("year", "month", "count", "short"),
    [
        (2025, 2, 25, ()),
        (2025, 2, 24, (2,)),
        (2024, 2, 25, ()),  # leap year: February still needs 25
        (2024, 2, 24, (2,)),
        (2025, 3, 27, ()),
        (2025, 3, 26, (3,)),
        (2025, 12, 26, (12,)),
    ],
    ids=lambda v: str(v),
)
def test_annual_validity_month_minima(
    year: int, month: int, count: int, short: tuple[int, ...]
) -> None:
    """A month below its minimum (27; February 25) makes the year invalid whatever the total."""
    days, valid = _year_mask(year, {month: count}, 31)
    result = annual_validity(days, valid)
    assert result.short_months == short
    assert result.valid_days >= 324
    assert result.valid is (short == ())


def test_annual_validity_lists_every_short_month() -> None:
    """All short months are reported, in calendar order."""
    days = pd.date_range("2025-01-01", "2025-12-31", freq="D")
    valid = ~days.month.isin([2, 7, 11])
    result = annual_validity(days, valid)
    assert result.short_months == (2, 7, 11)
    assert not result.valid


# ---------------------------------------------------------------------------------------
# Comprehensive index (standards.md §2.8)

CONCENTRATIONS = {
    Pollutant.SO2: 12.0,
    Pollutant.NO2: 32.0,
    Pollutant.PM10: 63.0,
    Pollutant.PM2_5: 35.0,
    Pollutant.CO: 1.2,
    Pollutant.O3: 160.0,
}


def test_comprehensive_index_gb3095_2012() -> None:
    """I = Σ Cᵢ/Sᵢ with S = 60, 40, 70, 35 (annual), CO 4, O3 160 (GB 3095-2012)."""
    total, single = comprehensive_index(CONCENTRATIONS, INDEX_LIMITS_GB3095_2012)
    # 12/60 + 32/40 + 63/70 + 35/35 + 1.2/4 + 160/160 = 0.2 + 0.8 + 0.9 + 1 + 0.3 + 1 = 4.2
    assert single == pytest.approx(
        {
            Pollutant.SO2: 0.2,
            Pollutant.NO2: 0.8,
            Pollutant.PM10: 0.9,
            Pollutant.PM2_5: 1.0,
            Pollutant.CO: 0.3,
            Pollutant.O3: 1.0,
        }
    )
    assert total == pytest.approx(4.2)


def test_comprehensive_index_gb3095_2026_transition() -> None:
    """GB 3095-2026 transition limits PM10 60, PM2.5 30 raise the PM single indices."""
    total, single = comprehensive_index(CONCENTRATIONS, INDEX_LIMITS_GB3095_2026)
    # 63/60 = 1.05; 35/30 = 1.1667; total 0.2 + 0.8 + 1.05 + 1.1667 + 0.3 + 1 = 4.5167
    assert single[Pollutant.PM10] == pytest.approx(1.05)
    assert single[Pollutant.PM2_5] == pytest.approx(35 / 30)
    assert total == pytest.approx(4.2 - 0.9 - 1.0 + 1.05 + 35 / 30)


def test_comprehensive_index_needs_all_six() -> None:
    """A missing pollutant is refused, naming it."""
    partial: dict[Pollutant, float] = {
        p: c for p, c in CONCENTRATIONS.items() if p is not Pollutant.O3
    }
    with pytest.raises(ValueError, match="o3"):
        comprehensive_index(partial)


def _year(values: dict[str, np.ndarray]) -> pd.DataFrame:
    days = pd.date_range("2025-01-01", "2025-12-31", freq="D")
    return pd.DataFrame({"date": days, **values})


def test_annual_evaluation_items_follow_hj663() -> None:
    """SO2/NO2: mean + P98; PM: mean + P95; CO: P95; O3: MDA8 P90 (HJ 663 Table 1)."""
    ramp = np.arange(1.0, 366.0)  # 1 … 365
    year = _year(dict.fromkeys(("so2", "no2", "co", "pm10", "pm2_5", "o3_8h_max"), ramp))
    result = annual_evaluation(year).set_index("item")
    assert list(result.index) == [
        "so2_mean",
        "so2_p98",
        "no2_mean",
        "no2_p98",
        "pm10_mean",
        "pm10_p95",
        "pm2_5_mean",
        "pm2_5_p95",
        "co_p95",
        "o3_8h_max_p90",
    ]
    # Mean of 1…365 = 183. HJ 663 Appendix A rank k = 1 + (n − 1)·p/100 on sorted values
    # X(k) = k here: P98 → 1 + 364·0.98 = 357.72; P95 → 346.8; P90 → 328.6.
    assert result.loc["so2_mean", "value"] == pytest.approx(183.0)
    assert result.loc["so2_p98", "value"] == pytest.approx(357.72)
    assert result.loc["pm10_p95", "value"] == pytest.approx(346.8)
    assert result.loc["co_p95", "value"] == pytest.approx(346.8)
    assert result.loc["o3_8h_max_p90", "value"] == pytest.approx(328.6)
    assert result["valid"].all()


def test_annual_evaluation_reports_short_months() -> None:
    """A July with 26 valid days makes the annual mean invalid, and says which month."""
    values = np.full(365, 40.0)
    days = pd.date_range("2025-01-01", "2025-12-31", freq="D")
    values[np.flatnonzero(days.month == 7)[:5]] = np.nan  # July: 31 − 5 = 26 < 27
    result = annual_evaluation(_year({"pm2_5": values})).set_index("item")
    assert result.loc["pm2_5_mean", "valid_days"] == 360
    assert result.loc["pm2_5_mean", "short_months"] == "7"
    assert not result.loc["pm2_5_mean", "valid"]
    assert result.loc["pm2_5_mean", "value"] == pytest.approx(40.0)


def test_annual_evaluation_skips_absent_columns() -> None:
    """Only items whose daily column is present are evaluated."""
    result = annual_evaluation(_year({"o3_8h_max": np.full(365, 100.0)}))
    assert result["item"].tolist() == ["o3_8h_max_p90"]
