"""Target progress: hand-computed scenarios (budget, required rate, status, projection)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from monitor.domain.targets import (
    Status,
    count_progress,
    days_in_year,
    max_count_progress,
    milestones_progress,
    ratio_progress,
    ratio_progress_of_counts,
    share_progress,
)


def year_days(year: int, n: int | None = None) -> list[date]:
    """The first n dates of a year (all of them by default)."""
    total = days_in_year(year) if n is None else n
    return [date(year, 1, 1) + timedelta(days=i) for i in range(total)]


def test_shenyang_2021_published_ratio() -> None:
    """2021 bulletin: 315 good days of 365 = 86.3 % (standards.md §5.1)."""
    good = [1.0] * 315 + [0.0] * 50
    p = ratio_progress(year_days(2021), good, year=2021, goal=0.8, as_of=date(2021, 12, 31))
    assert (p.good_days, p.valid_days) == (315, 365)
    assert p.value is not None and round(p.value * 100, 1) == 86.3
    assert p.status is Status.ACHIEVED


def test_shenyang_2020_leap_year_ratio() -> None:
    """2020: 287 good days of 366 = 78.4 %; below an 80 % goal the year is failed."""
    good = [1.0] * 287 + [0.0] * 79
    p = ratio_progress(year_days(2020), good, year=2020, goal=0.8, as_of=date(2020, 12, 31))
    assert p.days_in_year == 366
    assert p.value is not None and round(p.value * 100, 1) == 78.4
    assert p.status is Status.FAILED
    # floor(366 · 0.2) = floor(73.2) = 73 non-good days allowed; 79 were spent.
    assert p.budget_remaining == 73 - 79


@pytest.mark.parametrize(
    ("year", "allowed"),
    [(2026, 73), (2024, 73)],  # floor(365·0.2) = 73 (exactly, not 72.999…); floor(366·0.2) = 73
)
def test_budget_uses_exact_fractions(year: int, allowed: int) -> None:
    """With no day assessed, the budget is the whole allowance floor(N·(1−g))."""
    p = ratio_progress(year_days(year, 1), [1.0], year=year, goal=0.8, as_of=date(year, 1, 1))
    assert p.budget_remaining == allowed


def test_budget_exactly_zero() -> None:
    """73 non-good days by 30 June (N = 365, g = 0.8): budget 0, still reachable → at risk."""
    n = (date(2026, 6, 30) - date(2026, 1, 1)).days + 1  # 181 days
    good = [0.0] * 73 + [1.0] * (n - 73)
    p = ratio_progress(year_days(2026, n), good, year=2026, goal=0.8, as_of=date(2026, 6, 30))
    assert p.budget_remaining == 0
    # ceil(365·0.8) = 292 good days needed; 108 so far → 184 of the 184 remaining days.
    assert p.required_rate == pytest.approx(184 / 184)
    assert p.status in (Status.AT_RISK, Status.OFF_TRACK)  # not failed: still reachable


def test_a_year_already_lost() -> None:
    """74 non-good days by mid-year with g = 0.8 and N = 365: failed (budget −1)."""
    good = [0.0] * 74 + [1.0] * 100
    p = ratio_progress(year_days(2026, 174), good, year=2026, goal=0.8, as_of=date(2026, 6, 23))
    assert p.budget_remaining == -1
    assert p.status is Status.FAILED
    assert p.required_rate is not None and p.required_rate > 1


def test_a_year_already_won() -> None:
    """292 good days by 19 October (N = 365): the goal holds whatever comes."""
    good = [1.0] * 292
    p = ratio_progress(year_days(2026, 292), good, year=2026, goal=0.8, as_of=date(2026, 10, 19))
    assert p.status is Status.ACHIEVED
    assert p.required_rate == 0.0


def test_missing_days_are_counted_apart() -> None:
    """Days without a valid AQI are not in the ratio; the valid-only budget is smaller."""
    good = [1.0] * 50 + [np.nan] * 10 + [0.0] * 10
    p = ratio_progress(year_days(2026, 70), good, year=2026, goal=0.8, as_of=date(2026, 3, 11))
    assert (p.valid_days, p.good_days, p.missing_days) == (60, 50, 10)
    assert p.value == pytest.approx(50 / 60)
    assert p.budget_remaining == 73 - 10
    # floor((365 − 10) · 0.2) = floor(71.0) = 71 allowed if the 10 stay missing.
    assert p.budget_remaining_valid_only == 71 - 10
    assert "10 day(s) without a valid AQI" in p.explanation_en


def test_days_outside_the_year_do_not_count() -> None:
    """31 December of the year before (Asia/Shanghai dates) is not part of the year."""
    dates = [date(2025, 12, 31), date(2026, 1, 1)]
    p = ratio_progress(dates, [0.0, 1.0], year=2026, goal=0.8, as_of=date(2026, 1, 1))
    assert (p.valid_days, p.good_days) == (1, 1)


def test_nothing_assessed_is_not_assessable() -> None:
    """No valid day: not_assessable, with the full budget stated."""
    p = ratio_progress([date(2026, 1, 1)], [np.nan], year=2026, goal=0.8, as_of=date(2026, 1, 1))
    assert p.status is Status.NOT_ASSESSABLE
    assert p.value is None


def test_projection_uses_earlier_years_when_given() -> None:
    """With history rates 0.9 and 0.7 the range spans them; the point uses their mean."""
    good = [1.0] * 80 + [0.0] * 20  # 100 days, 80 %
    p = ratio_progress(
        year_days(2026, 100),
        good,
        year=2026,
        goal=0.8,
        as_of=date(2026, 4, 10),
        history_rates=[0.9, 0.7],
        history_basis="2024–2025",
    )
    remaining = 365 - 100
    assert p.projection == pytest.approx((80 + 0.8 * remaining) / 365)
    assert p.projection_low is not None and p.projection_high is not None
    assert p.projection_low < (80 + 0.7 * remaining) / 365 + 1e-9
    assert p.projection_high > (80 + 0.9 * remaining) / 365 - 1e-9
    assert "2024–2025" in p.explanation_en


def test_heavy_pollution_days() -> None:
    """≤ 5 heavy days: 3 by June leaves 2; 6 is failed."""
    ok = max_count_progress(
        3,
        5,
        year=2026,
        as_of=date(2026, 6, 30),
        what_en="heavy days",
        what_zh="重污染天数",
        assessed_days=181,
    )
    assert ok.budget_remaining == 2
    assert ok.status is not Status.FAILED
    lost = max_count_progress(
        6,
        5,
        year=2026,
        as_of=date(2026, 6, 30),
        what_en="heavy days",
        what_zh="重污染天数",
        assessed_days=181,
    )
    assert lost.status is Status.FAILED


def test_count_target_pace() -> None:
    """10 green factories a year: 6 by 1 July is ahead of pace (5.0), 10 is achieved."""
    ahead = count_progress(6, 10, year=2026, as_of=date(2026, 7, 1), what_en="f", what_zh="f")
    assert ahead.status is Status.ON_TRACK
    done = count_progress(10, 10, year=2026, as_of=date(2026, 3, 1), what_en="f", what_zh="f")
    assert done.status is Status.ACHIEVED
    none = count_progress(None, 10, year=2026, as_of=date(2026, 3, 1), what_en="f", what_zh="f")
    assert none.status is Status.NOT_ASSESSABLE


def test_river_share_and_milestones() -> None:
    """Sections: all meeting mid-year → on track; at year end one failing → failed."""
    assert share_progress(4, 4, 4, year=2026, as_of=date(2026, 6, 1), final=False).status is (
        Status.ON_TRACK
    )
    assert share_progress(3, 4, 4, year=2026, as_of=date(2026, 12, 31), final=True).status is (
        Status.FAILED
    )
    done = milestones_progress(["completed"] * 8, [None] * 8, expected=8, as_of=date(2026, 9, 1))
    assert done.status is Status.ACHIEVED


def test_excluded_days_are_counted_apart_from_missing_days() -> None:
    """Dust-excluded days leave the ratio but are not called 'without a valid AQI'."""
    good = [1.0] * 8 + [0.0] * 2
    excluded = [False] * 8 + [True, False]
    p = ratio_progress(
        year_days(2026, 10), good, year=2026, goal=0.8, as_of=date(2026, 1, 10), excluded=excluded
    )
    assert (p.good_days, p.valid_days, p.missing_days) == (8, 9, 0)
    assert p.details == {"excluded_days": 1}
    assert "1 dust-affected non-good day(s) are left out" in p.explanation_en


def test_dates_as_a_datetime_series_count_as_the_same_dates() -> None:
    """The service passes its days as a datetime64 column (no Python date per row): the
    same days of the previous year, the target year up to ``as_of`` and after it must count
    exactly as Python dates do (Shenyang 2021's 315 good days of 365, standards.md §5.1,
    cut at 30 June)."""
    import pandas as pd

    dates = year_days(2020)[-10:] + year_days(2021) + year_days(2022)[:5]
    good = [0.0] * 10 + [1.0] * 315 + [0.0] * 50 + [1.0] * 5
    as_of = date(2021, 6, 30)
    expected = ratio_progress(dates, good, year=2021, goal=0.8, as_of=as_of)
    # (pandas' resolution depends on how the column was parsed)
    for unit in ("datetime64[s]", "datetime64[us]", "datetime64[ns]"):
        series = pd.Series(np.asarray(dates, dtype="datetime64[D]").astype(unit))
        got = ratio_progress(series, good, year=2021, goal=0.8, as_of=as_of)
        assert got == expected
    assert (expected.valid_days, expected.good_days) == (181, 181)


def test_shenyang_2021_from_its_counts() -> None:
    """2021 bulletin: 315 good days of 365 valid = 86.3 % (standards.md §5.1), from the
    counts a series of as-of dates keeps."""
    p = ratio_progress_of_counts(365, 315, 0, year=2021, goal=0.8, as_of=date(2021, 12, 31))
    assert p.value is not None and round(p.value * 100, 1) == 86.3
    assert (p.status, p.budget_remaining) == (Status.ACHIEVED, 23)


@pytest.mark.parametrize(
    "as_of",
    [
        date(2023, 12, 31),
        date(2024, 1, 1),
        date(2024, 2, 29),
        date(2024, 7, 1),
        date(2024, 12, 31),
    ],
)
def test_counts_give_what_the_days_give(as_of: date) -> None:
    """A leap year of good, non-good, missing and excluded days (with days of the year
    before and after that never count): ``ratio_progress`` of the days is
    ``ratio_progress_of_counts`` of their counts, field for field."""
    rng = np.random.default_rng(5)
    days = [date(2023, 12, 1) + timedelta(days=i) for i in range(31 + 366 + 31)]
    good = rng.choice([1.0, 0.0, np.nan], size=len(days), p=[0.6, 0.3, 0.1])
    excluded = (good == 0.0) & (rng.random(len(days)) < 0.2)
    history = [0.7, 0.8]
    p = ratio_progress(
        days,
        good,
        year=2024,
        goal=0.75,
        as_of=as_of,
        history_rates=history,
        history_basis="2022–2023",
        excluded=excluded,
    )
    counted = np.array([date(2024, 1, 1) <= d <= as_of for d in days])
    kept = counted & ~excluded
    q = ratio_progress_of_counts(
        int((kept & ~np.isnan(good)).sum()),
        int((kept & (good == 1.0)).sum()),
        int((counted & excluded).sum()),
        year=2024,
        goal=0.75,
        as_of=as_of,
        history_rates=history,
        history_basis="2022–2023",
    )
    assert p == q
    assert p.days_in_year == 366
