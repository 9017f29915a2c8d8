"""Progress toward the plan's targets, and the room left this year.

Pure functions of day counts and values; no ledger, no clock (``as_of`` is a parameter).

Ratio targets (优良天数比例)
---------------------------
With ``N`` days in the year (365 or 366, Asia/Shanghai calendar), the goal ``g`` and, up to
``as_of``: ``V`` valid days, ``G`` good days (daily AQI ≤ 100), ``B = V − G`` non-good days,
``M`` days without a valid AQI and ``R`` days left:

* value: ``G / V`` (the official ratio: good days ÷ valid days);
* ``budget_remaining = floor(N·(1 − g)) − B`` — the non-good days the year can still afford,
  assuming every day of the year has a valid AQI. Days without a valid AQI shrink the
  official denominator; ``budget_remaining_valid_only = floor((N − M)·(1 − g)) − B`` is the
  budget if the ``M`` missing days so far stay missing (never larger);
* ``required_rate``: the share of good days needed among the ``R`` remaining days,
  ``(ceil(N·g) − G) / R`` (may exceed 1: then the goal is out of reach);
* projection: the year-end ratio if the remaining days are good at rate ``p`` — from the
  same part of the year in earlier years when they are known (range: their lowest and
  highest rate), else from the year so far (range: the 95 % Wilson interval of ``p``
  estimated from ``V`` days, plus the binomial spread of the remaining days);
* status: ``achieved`` when the goal holds even if every remaining day is non-good;
  ``failed`` when it cannot hold even if every remaining day is good; otherwise
  ``on_track`` (projection range ≥ goal), ``off_track`` (range < goal) or ``at_risk``;
  ``not_assessable`` without a valid day.

Shares are compared as exact fractions: 0.8 · 365 is 292, not 291.99999999999994.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from enum import StrEnum
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import pandas as pd
else:
    from monitor.domain._deferred import pandas as pd

__all__ = [
    "Z_95",
    "Progress",
    "Status",
    "TargetProgress",
    "count_progress",
    "days_in_year",
    "max_count_progress",
    "milestones_progress",
    "ratio_progress",
    "ratio_progress_of_counts",
    "share_progress",
    "wilson_interval",
]

#: Two-sided 95 % normal quantile, for projection ranges.
Z_95: Final = 1.96


class Status(StrEnum):
    """Where a target stands."""

    ACHIEVED = "achieved"
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    OFF_TRACK = "off_track"
    FAILED = "failed"
    NOT_ASSESSABLE = "not_assessable"

    @property
    def label_zh(self) -> str:
        """Chinese label."""
        return _STATUS_ZH[self]


_STATUS_ZH: Final = {
    Status.ACHIEVED: "已达成",
    Status.ON_TRACK: "进展正常",
    Status.AT_RISK: "存在风险",
    Status.OFF_TRACK: "进度落后",
    Status.FAILED: "已无法达成",
    Status.NOT_ASSESSABLE: "无法评估",
}


@dataclass(frozen=True)
class Progress:
    """Progress of one target as of one date. Fields that do not apply are None."""

    value: float | None
    goal: float | None
    status: Status
    explanation_en: str
    explanation_zh: str
    budget_remaining: int | None = None
    budget_remaining_valid_only: int | None = None
    required_rate: float | None = None
    projection: float | None = None
    projection_low: float | None = None
    projection_high: float | None = None
    projection_basis: str | None = None
    valid_days: int | None = None
    good_days: int | None = None
    missing_days: int | None = None
    days_in_year: int | None = None
    remaining_days: int | None = None
    details: dict[str, object] = field(default_factory=dict)


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval of a proportion; never of zero width at 0 % or 100 %.

    Examples
    --------
    >>> low, high = wilson_interval(10, 10)
    >>> round(low, 3), high
    (0.722, 1.0)
    """
    if trials == 0:
        return 0.0, 1.0
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = (
        z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    )
    return max(0.0, centre - half), min(1.0, centre + half)


def days_in_year(year: int) -> int:
    """365, or 366 in a leap year.

    Examples
    --------
    >>> days_in_year(2024), days_in_year(2026), days_in_year(2100)
    (366, 365, 365)
    """
    return (date(year + 1, 1, 1) - date(year, 1, 1)).days


def _fraction(value: float) -> Fraction:
    return Fraction(value).limit_denominator(1_000_000)


def _pct(share: float | None) -> str:
    return "—" if share is None else f"{share * 100:.1f}%"


def ratio_progress(
    dates: Sequence[date] | pd.Series,
    good: npt.ArrayLike,
    *,
    year: int,
    goal: float,
    as_of: date,
    history_rates: Sequence[float] = (),
    history_basis: str = "",
    excluded: npt.ArrayLike | None = None,
) -> Progress:
    """Progress of a good-day-share target.

    Parameters
    ----------
    dates : sequence of date, or Series of datetime64 (naive, local midnight)
        Local dates that have a daily result (any year; only ``year`` up to ``as_of`` count).
    good : array_like of float
        Per date: 1.0 good (AQI ≤ 100), 0.0 not good, NaN no valid AQI.
    year, goal, as_of
        The target year, the goal share (0–1), the last day counted.
    history_rates : sequence of float
        Good-day rates of the rest of the year (after ``as_of``'s day of year) in earlier
        years, if known — the projection's basis and range.
    history_basis : str
        Which years those are, for the explanation (e.g. ``"2023–2025"``).
    excluded : array_like of bool, optional
        Per date: left out of the ratio on purpose (dust-affected non-good days in the
        dust-excluded variant); counted apart from days without a valid AQI.

    Examples
    --------
    Shenyang 2021 (2021 bulletin, standards.md §5.1): 315 good days of 365 valid.

    >>> days = pd.date_range("2021-01-01", "2021-12-31").date
    >>> good = [1.0] * 315 + [0.0] * 50
    >>> p = ratio_progress(days, good, year=2021, goal=0.80, as_of=date(2021, 12, 31))
    >>> round(p.value * 100, 1), p.status.value, p.budget_remaining
    (86.3, 'achieved', 23)
    """
    start = date(year, 1, 1)
    cutoff = _ratio_cutoff(year, as_of)
    if (
        isinstance(dates, pd.Series)
        and isinstance(dates.dtype, np.dtype)
        and dates.dtype.kind == "M"
    ):
        stamps = dates.to_numpy().astype("datetime64[D]")  # (naive local dates: no Python dates)
    else:
        stamps = np.asarray(
            pd.to_datetime(pd.Series(list(dates))).to_numpy(), dtype="datetime64[D]"
        )
    good_values = np.asarray(good, dtype=float)
    skipped = (
        np.zeros(len(stamps), dtype=bool) if excluded is None else np.asarray(excluded, dtype=bool)
    )
    in_year = (stamps >= np.datetime64(start)) & (stamps <= np.datetime64(cutoff))
    left_out = int((in_year & skipped).sum())
    values = good_values[in_year & ~skipped]
    return ratio_progress_of_counts(
        int((~np.isnan(values)).sum()),
        int(np.nansum(values)),
        left_out,
        year=year,
        goal=goal,
        as_of=as_of,
        history_rates=history_rates,
        history_basis=history_basis,
    )


def _ratio_cutoff(year: int, as_of: date) -> date:
    """The last day a ratio of ``year`` counts as of ``as_of`` (31 December of the year
    before when ``as_of`` precedes the year: no day yet)."""
    return min(max(as_of, date(year - 1, 12, 31)), date(year, 12, 31))


def ratio_progress_of_counts(
    valid: int,
    good_days: int,
    left_out: int,
    *,
    year: int,
    goal: float,
    as_of: date,
    history_rates: Sequence[float] = (),
    history_basis: str = "",
) -> Progress:
    """Progress of a good-day-share target from its day counts (:func:`ratio_progress`
    counts them from the days; a series of as-of dates counts them once, cumulatively).

    Parameters
    ----------
    valid : int
        Days of ``year`` up to ``as_of`` with a valid AQI, not left out (``V``).
    good_days : int
        Of those, the good days (AQI ≤ 100, HJ 633 daily AQI level 1 or 2) (``G``).
    left_out : int
        Days left out on purpose (dust-affected non-good days of the dust-excluded variant).
    year, goal, as_of, history_rates, history_basis
        As :func:`ratio_progress`.

    Examples
    --------
    Shenyang 2021 (2021 bulletin, standards.md §5.1): 315 good days of 365 valid.

    >>> p = ratio_progress_of_counts(365, 315, 0, year=2021, goal=0.80, as_of=date(2021, 12, 31))
    >>> round(p.value * 100, 1), p.status.value, p.budget_remaining
    (86.3, 'achieved', 23)
    """
    n_year = days_in_year(year)
    start = date(year, 1, 1)
    cutoff = _ratio_cutoff(year, as_of)
    elapsed = max(0, (cutoff - start).days + 1)
    remaining = n_year - elapsed
    non_good = valid - good_days
    missing = elapsed - valid - left_out
    g = _fraction(goal)
    allowed = math.floor(n_year * (1 - g))
    budget = allowed - non_good
    budget_valid = math.floor((n_year - missing) * (1 - g)) - non_good
    needed = math.ceil(n_year * g) - good_days
    required = None if remaining == 0 else max(0.0, needed / remaining)
    value = good_days / valid if valid else None
    common = {
        "details": {"excluded_days": left_out} if left_out else {},
        "goal": float(goal),
        "budget_remaining": budget,
        "budget_remaining_valid_only": budget_valid,
        "required_rate": required,
        "valid_days": valid,
        "good_days": good_days,
        "missing_days": missing,
        "days_in_year": n_year,
        "remaining_days": remaining,
    }
    if valid == 0:
        return Progress(
            None,
            status=Status.NOT_ASSESSABLE,
            explanation_en=f"No day of {year} up to {cutoff} has a valid AQI yet.",
            explanation_zh=f"{year}年截至{cutoff}尚无有效AQI日数据，无法评估。",
            **common,  # type: ignore[arg-type]
        )
    # Best and worst year-end ratios over valid days, if every remaining day is valid.
    worst = Fraction(good_days, valid + remaining)
    best = Fraction(good_days + remaining, valid + remaining)
    if history_rates:
        rate = float(np.mean(history_rates))
        low_rate, high_rate = float(min(history_rates)), float(max(history_rates))
        basis = f"same period of {history_basis or 'earlier years'}"
    else:
        rate = good_days / valid
        low_rate, high_rate = wilson_interval(good_days, valid)
        basis = "year so far"
    total = valid + remaining

    def share(r: float) -> float:
        return (good_days + r * remaining) / total

    projection = share(rate)
    sd = Z_95 * math.sqrt(remaining * rate * (1 - rate)) / total
    low = max(float(worst), share(low_rate) - sd)
    high = min(float(best), share(high_rate) + sd)
    if remaining == 0:
        status = Status.ACHIEVED if Fraction(good_days, valid) >= g else Status.FAILED
    elif worst >= g:
        status = Status.ACHIEVED
    elif best < g:
        status = Status.FAILED
    elif low >= float(g):
        status = Status.ON_TRACK
    elif high < float(g):
        status = Status.OFF_TRACK
    else:
        status = Status.AT_RISK
    en, zh = _ratio_text(
        status,
        year,
        cutoff,
        value,
        goal,
        good_days,
        valid,
        missing,
        budget,
        required,
        projection,
        low,
        high,
        basis,
        remaining,
    )
    if left_out:
        en += f" {left_out} dust-affected non-good day(s) are left out."
        zh += f"扣除沙尘影响的非优良天{left_out}天。"
    return Progress(
        value,
        projection=projection,
        projection_low=low,
        projection_high=high,
        projection_basis=basis,
        status=status,
        explanation_en=en,
        explanation_zh=zh,
        **common,  # type: ignore[arg-type]
    )


def _ratio_text(
    status: Status,
    year: int,
    cutoff: date,
    value: float | None,
    goal: float,
    good: int,
    valid: int,
    missing: int,
    budget: int,
    required: float | None,
    projection: float,
    low: float,
    high: float,
    basis: str,
    remaining: int,
) -> tuple[str, str]:
    head_en = (
        f"{year} to {cutoff}: {good} good days of {valid} valid ({_pct(value)}), "
        f"goal {_pct(goal)}."
    )
    head_zh = (
        f"{year}年截至{cutoff}：有效天数{valid}天，优良{good}天，比例{_pct(value)}，"
        f"目标{_pct(goal)}。"
    )
    gap_en = f" {missing} day(s) without a valid AQI are not counted." if missing else ""
    gap_zh = f"另有{missing}天无有效AQI，未计入。" if missing else ""
    if status is Status.ACHIEVED and remaining == 0:
        return head_en + " Goal met for the year." + gap_en, head_zh + "全年目标已达成。" + gap_zh
    if status is Status.ACHIEVED:
        return (
            head_en + " The goal is secured even if every remaining day is not good." + gap_en,
            head_zh + "即使剩余天数全部非优良，目标仍可达成。" + gap_zh,
        )
    if status is Status.FAILED:
        return (
            head_en + " The goal can no longer be reached this year." + gap_en,
            head_zh + "本年度目标已无法达成。" + gap_zh,
        )
    req_en = (
        ""
        if required is None
        else f" {required * 100:.1f}% of the remaining {remaining} days must be good."
    )
    req_zh = "" if required is None else f"剩余{remaining}天中须有{required * 100:.1f}%为优良天。"
    return (
        head_en
        + f" {budget} more non-good day(s) can be afforded (assuming every day gets a valid AQI)."
        + req_en
        + f" Projected year end {_pct(projection)} ({_pct(low)}–{_pct(high)}, from the {basis})."
        + gap_en,
        head_zh
        + f"全年还可承受{budget}个非优良天（假设每天均有有效AQI）。"
        + req_zh
        + f"预计年末{_pct(projection)}（{_pct(low)}–{_pct(high)}，依据{_basis_zh(basis)}）。"
        + gap_zh,
    )


def _basis_zh(basis: str) -> str:
    return "本年至今" if basis == "year so far" else basis.replace("same period of", "往年同期")


def max_count_progress(
    count: int,
    maximum: int,
    *,
    year: int,
    as_of: date,
    what_en: str,
    what_zh: str,
    assessed_days: int,
    history_counts: Sequence[float] = (),
) -> Progress:
    """Progress of an "at most N" target (e.g. heavy-pollution days ≤ N).

    ``history_counts`` are the counts of the rest of the year in earlier years.

    Examples
    --------
    >>> p = max_count_progress(3, 2, year=2026, as_of=date(2026, 5, 1),
    ...                        what_en="heavy-pollution days", what_zh="重污染天数",
    ...                        assessed_days=121)
    >>> p.status.value, p.budget_remaining
    ('failed', -1)
    """
    n_year = days_in_year(year)
    elapsed = max(0, min(n_year, (as_of - date(year, 1, 1)).days + 1))
    remaining = n_year - elapsed
    budget = maximum - count
    if assessed_days == 0:
        status, low, high, proj, basis = Status.NOT_ASSESSABLE, None, None, None, None
    else:
        if history_counts:
            proj = count + float(np.mean(history_counts))
            low, high = count + float(min(history_counts)), count + float(max(history_counts))
            basis = "same period of earlier years"
        else:
            rate = count / assessed_days
            low_rate, high_rate = wilson_interval(count, assessed_days)
            proj = count + rate * remaining
            sd = Z_95 * math.sqrt(max(remaining * rate * (1 - rate), 0.0))
            low = max(float(count), count + low_rate * remaining - sd)
            high = count + high_rate * remaining + sd
            basis = "year so far"
        if count > maximum:
            status = Status.FAILED
        elif remaining == 0:
            status = Status.ACHIEVED
        elif high <= maximum:
            status = Status.ON_TRACK
        elif low > maximum:
            status = Status.OFF_TRACK
        else:
            status = Status.AT_RISK
    en = (
        f"{year} to {as_of}: {count} {what_en} (at most {maximum}); {budget} more can be afforded."
    )
    zh = f"{year}年截至{as_of}：{what_zh}{count}天（目标不超过{maximum}天），还可承受{budget}天。"
    if proj is not None and status not in (Status.FAILED, Status.ACHIEVED):
        en += f" Projected {proj:.1f} ({low:.1f}–{high:.1f}, {basis})."
        zh += f"预计全年{proj:.1f}天（{low:.1f}–{high:.1f}）。"
    return Progress(
        float(count),
        float(maximum),
        status,
        en,
        zh,
        budget_remaining=budget,
        projection=proj,
        projection_low=low,
        projection_high=high,
        projection_basis=basis,
        days_in_year=n_year,
        remaining_days=remaining,
        valid_days=assessed_days,
    )


def count_progress(
    value: float | None, goal: float, *, year: int, as_of: date, what_en: str, what_zh: str
) -> Progress:
    """Progress of an "at least N" manually reported count (e.g. new green factories ≥ 10).

    On track when the count keeps pace with an even spread of the goal over the year.

    Examples
    --------
    >>> count_progress(4, 10, year=2026, as_of=date(2026, 7, 1), what_en="factories",
    ...                what_zh="绿色工厂").status.value
    'at_risk'
    """
    n_year = days_in_year(year)
    elapsed = max(0, min(n_year, (as_of - date(year, 1, 1)).days + 1))
    if value is None:
        return Progress(
            None,
            goal,
            Status.NOT_ASSESSABLE,
            f"No value of {what_en} has been reported for {year}.",
            f"{year}年尚未填报{what_zh}。",
        )
    pace = goal * elapsed / n_year
    if value >= goal:
        status = Status.ACHIEVED
    elif elapsed >= n_year:
        status = Status.FAILED
    elif value >= pace:
        status = Status.ON_TRACK
    else:
        status = Status.AT_RISK
    return Progress(
        float(value),
        float(goal),
        status,
        f"{year} to {as_of}: {value:g} {what_en} reported, goal {goal:g} "
        f"(an even pace would be {pace:.1f} by now).",
        f"{year}年截至{as_of}：已填报{what_zh}{value:g}，目标{goal:g}（按进度应达{pace:.1f}）。",
        budget_remaining=None,
        days_in_year=n_year,
        remaining_days=n_year - elapsed,
    )


def share_progress(
    meeting: int, assessed: int, total: int, *, year: int, as_of: date, final: bool
) -> Progress:
    """Progress of "every listed section meets its target class".

    ``meeting`` of ``assessed`` sections met their target class on their latest valid
    evaluation; ``total`` sections are listed.

    Examples
    --------
    >>> share_progress(3, 4, 5, year=2026, as_of=date(2026, 6, 30), final=False).status.value
    'at_risk'
    """
    if assessed == 0:
        return Progress(
            None,
            1.0,
            Status.NOT_ASSESSABLE,
            f"No listed section has a valid evaluation in {year} up to {as_of}.",
            f"{year}年截至{as_of}，所列断面尚无有效评价。",
        )
    share = meeting / assessed
    if meeting == total:
        status = Status.ACHIEVED if final else Status.ON_TRACK
    elif final:
        status = Status.FAILED
    else:
        status = Status.AT_RISK
    return Progress(
        share,
        1.0,
        status,
        f"{meeting} of {assessed} assessed section(s) meet their target class "
        f"({total} listed, {total - assessed} without a valid evaluation).",
        f"已评价断面{assessed}个，其中{meeting}个达到目标水质类别（共列{total}个，"
        f"{total - assessed}个无有效评价）。",
        valid_days=assessed,
    )


def milestones_progress(
    statuses: Sequence[str], due: Sequence[date | None], *, expected: int | None, as_of: date
) -> Progress:
    """Progress of a list of milestones (``not_started``, ``started``, ``completed``).

    Examples
    --------
    >>> milestones_progress(["completed", "started"], [None, date(2026, 3, 1)], expected=8,
    ...                     as_of=date(2026, 6, 1)).status.value
    'off_track'
    """
    total = expected if expected is not None else len(statuses)
    done = sum(s == "completed" for s in statuses)
    late = sum(
        1
        for s, d in zip(statuses, due, strict=True)
        if d is not None and d < as_of and s != "completed"
    )
    if total == 0:
        status = Status.NOT_ASSESSABLE
    elif done >= total:
        status = Status.ACHIEVED
    elif late:
        status = Status.OFF_TRACK
    else:
        status = (
            Status.ON_TRACK if done or any(s == "started" for s in statuses) else Status.AT_RISK
        )
    unknown = max(0, total - len(statuses))
    return Progress(
        float(done),
        float(total),
        status,
        f"{done} of {total} completed, {late} overdue"
        + (f", {unknown} not yet listed" if unknown else "")
        + ".",
        f"已完成{done}/{total}项，逾期{late}项"
        + (f"，另有{unknown}项尚未列明" if unknown else "")
        + "。",
    )


@dataclass(frozen=True)
class TargetProgress:
    """One row of ``envmon progress``: a target (and variant) as of a date."""

    id: str
    kind: str
    name: str
    area: str | None
    year: int
    as_of: str
    variant: str
    standard: str | None
    value: float | None
    goal: float | None
    status: str
    budget_remaining: int | None
    budget_remaining_valid_only: int | None
    required_rate: float | None
    projection: float | None
    projection_low: float | None
    projection_high: float | None
    projection_basis: str | None
    valid_days: int | None
    good_days: int | None
    missing_days: int | None
    official_days: int | None
    provisional_days: int | None
    disagreements: int | None
    #: Good-day ratios: days with a valid statistic that the valid-day rule withholds, and
    #: the ratio if they had all been non-good (low) or all good (high).
    withheld_days: int | None
    ratio_low: float | None
    ratio_high: float | None
    explanation_zh: str
    explanation_en: str
    details: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        """Plain JSON-able dict."""
        return asdict(self)
