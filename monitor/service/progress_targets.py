"""Progress of every configured target, from the ledger (the heart of ``envmon progress``).

Good-day ratio targets come in several variants, each a consistent series:

* ``official`` — the rule set in force on each day (HJ 633-2012 to 2026-02-28, HJ 633-2026
  from 2026-03-01); where the bureau imported the audited official daily AQI of the area
  (``envmon import --format daily-aqi-csv``) that value decides the day, otherwise the value
  computed from hourly data stands in, as *provisional*;
* ``hj633-2012`` and ``hj633-2026`` — every day under one rule set (computed values only:
  official values exist under the rules in force only);
* each of those ``+dust_excluded`` when the year has dust-flagged days: non-good days flagged
  as dust-affected are left out of the count and of the denominator (as MEE's
  "扣除沙尘影响" figures; [M] the exact day-level mechanics of 环办监测〔2016〕120号 are
  unverified).
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable, Hashable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd

from monitor.calculator.water import rate_samples
from monitor.domain.aqi import GOOD_DAY_MAX_AQI, HEAVY_POLLUTION_MIN_AQI
from monitor.domain.pollutants import Pollutant
from monitor.domain.quality import excluded, quality_flags, utc_nanoseconds
from monitor.domain.statistics import annual_validity
from monitor.domain.targets import (
    Progress,
    Status,
    TargetProgress,
    count_progress,
    days_in_year,
    max_count_progress,
    milestones_progress,
    ratio_progress,
    ratio_progress_of_counts,
    share_progress,
)
from monitor.domain.water_quality import (
    Parameter,
    WaterBody,
    WaterClass,
    below_detection,
    period_means,
)
from monitor.ledger import Ledger, to_epoch
from monitor.settings import (
    AnnualMeanTarget,
    CountTarget,
    GoodDayRatioTarget,
    HeavyPollutionDaysTarget,
    MilestonesTarget,
    RiverClassTarget,
    Settings,
    Target,
    ValidDayRule,
)

STANDARDS = ("official", "hj633-2012", "hj633-2026")
_CLASS_RANK = {c.code: int(c) for c in WaterClass}


def _row(
    target: Target,
    area: str | None,
    as_of: date,
    variant: str,
    standard: str | None,
    p: Progress,
    **extra: Any,
) -> TargetProgress:
    return TargetProgress(
        id=target.id,
        kind=target.kind,
        name=target.name,
        area=area,
        year=target.year,
        as_of=as_of.isoformat(),
        variant=variant,
        standard=standard,
        value=p.value,
        goal=p.goal,
        status=p.status.value,
        budget_remaining=p.budget_remaining,
        budget_remaining_valid_only=p.budget_remaining_valid_only,
        required_rate=p.required_rate,
        projection=p.projection,
        projection_low=p.projection_low,
        projection_high=p.projection_high,
        projection_basis=p.projection_basis,
        valid_days=p.valid_days,
        good_days=p.good_days,
        missing_days=p.missing_days,
        official_days=extra.get("official_days"),
        provisional_days=extra.get("provisional_days"),
        disagreements=extra.get("disagreements"),
        withheld_days=extra.get("withheld_days"),
        ratio_low=extra.get("ratio_low"),
        ratio_high=extra.get("ratio_high"),
        explanation_zh=p.explanation_zh,
        explanation_en=p.explanation_en,
        details={**p.details, **extra.get("details", {})},
    )


#: The six daily statistics whose validity makes a day valid under ``all_six_or_over_100``
#: (one per pollutant: the five 24 h means and O3's daily max 8 h mean, as HJ 633-2026
#: §4.2.2 rates them).
SIX_DAILY_STATISTICS: Final = ("so2", "no2", "co", "pm10", "pm2_5", "o3_8h_max")
#: Every daily statistic a row can have (HJ 633-2012 also rates the O3 daily max 1 h).
_ALL_DAILY_STATISTICS: Final = (*SIX_DAILY_STATISTICS, "o3_1h_max")


def counted_days(
    aqi: pd.Series, invalid_statistics: pd.Series, rule: ValidDayRule
) -> tuple[pd.Series, npt.NDArray[np.bool_]]:
    """The AQI a day counts with in a good-day ratio (NaN: not counted), and which days are
    *withheld*: they have a valid daily statistic but do not count.

    ``all_six_or_over_100`` (default): a day counts when its six daily statistics
    (:data:`SIX_DAILY_STATISTICS`) are all valid, or when the AQI of the valid ones is > 100
    — HJ 633-2026 §5.3: "if one pollutant is missing or invalid, the AQI is computed from
    the remaining pollutants; if that AQI is > 100 it is published, otherwise … the AQI is
    marked NA" — applied to both rule sets. ``rate_what_is_present``: the stored AQI as each
    rule set publishes it (2012: any valid statistic rates the day; 2026: §5.3).
    """
    listed = invalid_statistics.fillna("").astype(str).str.split(";")
    invalid = {
        s: listed.apply(lambda parts, s=s: s in parts).to_numpy() for s in _ALL_DAILY_STATISTICS
    }
    any_valid = ~np.logical_and.reduce([invalid[s] for s in _ALL_DAILY_STATISTICS])
    values = aqi.astype(float)
    if rule == "all_six_or_over_100":
        six_valid = ~np.logical_or.reduce([invalid[s] for s in SIX_DAILY_STATISTICS])
        counts = six_valid | (values.to_numpy() > GOOD_DAY_MAX_AQI)
        values = values.where(counts)
    withheld = any_valid & values.isna().to_numpy()
    return values, withheld


def area_days(
    ledger: Ledger,
    area: str,
    first: date,
    last: date,
    rule: ValidDayRule = "all_six_or_over_100",
) -> pd.DataFrame:
    """Daily results of an area, one row per date: AQI under each variant, dust, source.

    Columns: ``date`` (datetime64), ``official`` (AQI deciding the day), ``official_source``
    (``official`` / ``provisional`` / ``""``), ``computed`` (computed under the rules in
    force), ``hj633-2012``, ``hj633-2026``, ``dust`` (bool), ``pm`` (official primary
    pollutants contain PM), ``<column>_withheld`` (bool) for each AQI column: a day with a
    valid statistic that the valid-day ``rule`` (:func:`counted_days`) does not count, and
    ``stations`` (the fewest stations the area's computed day rests on, NaN if none).
    """
    computed = ledger.query(
        "SELECT date, standard, official, aqi, complete, invalid_statistics, stations "
        "FROM daily_aqi WHERE site = ? AND is_area = 1 AND date >= ? AND date <= ?",
        (area, first.isoformat(), last.isoformat()),
    )
    # HJ 633-2026 §5.3 on 2026 rows stored before evaluation applied it (complete = 0 and
    # AQI ≤ 100: NA).
    legacy = (
        (computed["standard"] == "hj633-2026")
        & (computed["complete"] == 0)
        & (computed["aqi"] <= GOOD_DAY_MAX_AQI)
    )
    computed.loc[legacy, "aqi"] = np.nan
    aqi, withheld = counted_days(computed["aqi"], computed["invalid_statistics"], rule)
    computed["aqi"] = aqi.to_numpy()
    computed["withheld"] = withheld
    imported = ledger.query(
        "SELECT date, aqi, dust, primary_pollutants, imported_at FROM official_daily_aqi "
        "WHERE area = ? AND date >= ? AND date <= ?",
        (area, first.isoformat(), last.isoformat()),
    )
    days = pd.DataFrame({"date": pd.date_range(first, last, freq="D").strftime("%Y-%m-%d")})
    for standard in ("hj633-2012", "hj633-2026"):
        part = computed[computed["standard"] == standard][["date", "aqi", "withheld"]]
        days = days.merge(
            part.rename(columns={"aqi": standard, "withheld": f"{standard}_withheld"}),
            on="date",
            how="left",
        )
    in_force = computed[computed["official"] == 1][["date", "aqi", "withheld", "stations"]]
    days = days.merge(
        in_force.rename(columns={"aqi": "computed", "withheld": "computed_withheld"}),
        on="date",
        how="left",
    )
    days = days.merge(
        imported.rename(columns={"aqi": "imported", "primary_pollutants": "imported_primary"}),
        on="date",
        how="left",
    )
    # An imported row decides its day, also when its AQI is empty ("no valid AQI that day").
    has_official = days["imported_at"].notna()
    days["official"] = days["imported"].where(has_official, days["computed"])
    days["official_source"] = np.where(
        has_official, "official", np.where(days["computed"].notna(), "provisional", "")
    )
    for column in ("hj633-2012", "hj633-2026", "computed"):
        days[f"{column}_withheld"] = days[f"{column}_withheld"].fillna(False).astype(bool)
    days["official_withheld"] = days["computed_withheld"] & ~has_official
    days["dust"] = days["dust"].fillna(0).astype(bool)
    days["date"] = pd.to_datetime(days["date"])
    for column in ("hj633-2012", "hj633-2026", "computed", "imported", "official", "stations"):
        days[column] = days[column].astype(float)
    return days


def _good(aqi: pd.Series) -> np.ndarray[Any, np.dtype[np.float64]]:
    values = aqi.to_numpy(dtype=float)
    return np.where(np.isnan(values), np.nan, (values <= GOOD_DAY_MAX_AQI).astype(float))


def _history_rates(
    days: pd.DataFrame, column: str, year: int, as_of: date, dust_excluded: bool
) -> tuple[list[float], str]:
    """Good-day rates of the rest of the year (after as_of's month-day) in earlier years,
    counting a year only when at least half of that period has a valid AQI."""
    stamps = days["date"].to_numpy(dtype="datetime64[D]")
    years_of = stamps.astype("datetime64[Y]").astype(int) + 1970
    good_all = _good(days[column])
    if dust_excluded:
        good_all = np.where(days["dust"].to_numpy() & (good_all == 0.0), np.nan, good_all)
    rates, years = [], []
    for earlier in sorted(int(y) for y in np.unique(years_of) if y < year):
        try:
            start = as_of.replace(year=earlier) + timedelta(days=1)
        except ValueError:  # 29 February
            start = date(earlier, 3, 1)
        part = (stamps >= np.datetime64(start)) & (years_of == earlier)
        good = good_all[part]
        period = (date(earlier, 12, 31) - start).days + 1
        valid = int((~np.isnan(good)).sum())
        if period > 0 and valid >= period / 2:
            rates.append(float(np.nansum(good) / valid))
            years.append(earlier)
    basis = f"{years[0]}–{years[-1]}" if len(years) > 1 else (str(years[0]) if years else "")
    return rates, basis


@dataclasses.dataclass
class _Cache:
    """What a series of as-of dates (:func:`refresh_progress`) reads or rates once."""

    #: :func:`area_days` by (area, year, valid-day rule).
    area_days: dict[tuple[str, int, str], pd.DataFrame] = dataclasses.field(default_factory=dict)
    #: The distinct ``period_end`` (epoch s, sorted) of a river target's readings in its
    #: year (:attr:`readings`), by target id.
    reading_ends: dict[str, npt.NDArray[np.int64]] = dataclasses.field(default_factory=dict)
    #: :func:`river_progress`'s sections, by (target id, number of reading times).
    river_sections: dict[tuple[str, int], Any] = dataclasses.field(default_factory=dict)
    #: The water readings of a river target's sections in its year, by target id.
    readings: dict[str, pd.DataFrame] = dataclasses.field(default_factory=dict)
    #: The as-of dates of the series in each year, ascending (river targets rate the sets
    #: of readings those dates rest on together, and no other).
    dates: dict[int, list[date]] = dataclasses.field(default_factory=dict)
    #: :func:`section_period_classes` of a river target's year to date, by (target id,
    #: "year" or "month", number of reading times up to the as-of date): the as-of dates
    #: between two readings rest on the same readings.
    classes: dict[tuple[str, str, int], pd.DataFrame] = dataclasses.field(default_factory=dict)
    #: A river target's readings of its year checked once (:class:`_CheckedYear`), by id.
    checked_years: dict[str, _CheckedYear] = dataclasses.field(default_factory=dict)
    #: :class:`_GoodDaySeries` by (area, year, valid-day rule).
    good_days: dict[tuple[str, int, str], _GoodDaySeries] = dataclasses.field(default_factory=dict)
    #: :class:`_HeavyDayCounts` by (area, year).
    heavy_days: dict[tuple[str, int], _HeavyDayCounts] = dataclasses.field(default_factory=dict)
    #: :func:`_official_daily_stats` of the year and the three before, by (area, year).
    daily_stats: dict[tuple[str, int], pd.DataFrame] = dataclasses.field(default_factory=dict)
    #: :func:`_valid_daily_means` of those, by (area, year, pollutant).
    daily_means: dict[tuple[str, int, str], tuple[pd.Series, pd.Series, pd.Series]] = (
        dataclasses.field(default_factory=dict)
    )
    #: :func:`_latest_statuses` of a milestones target or :func:`_latest_count` of a count
    #: target, by (target id, values reported up to the as-of date).
    reported: dict[tuple[str, int], Any] = dataclasses.field(default_factory=dict)
    #: :func:`_indicator_values` up to the end of the target's year, by target id.
    indicators: dict[str, pd.DataFrame] = dataclasses.field(default_factory=dict)


def _area_year_days(
    ledger: Ledger,
    area: str,
    year: int,
    cache: _Cache | None,
    rule: ValidDayRule = "all_six_or_over_100",
) -> pd.DataFrame:
    """:func:`area_days` of the year and the three before, read once per refresh."""
    key = (area, year, rule)
    if cache is not None and key in cache.area_days:
        return cache.area_days[key]
    days = area_days(ledger, area, date(year - 3, 1, 1), date(year, 12, 31), rule)
    if cache is not None:
        cache.area_days[key] = days
    return days


def _withheld_note(
    withheld: int, good: int | None, valid: int | None
) -> tuple[dict[str, Any], str, str]:
    """The withheld days of a good-day ratio and its range over them (low: all non-good,
    high: all good), as progress fields and explanation sentences (en, zh)."""
    if not withheld:
        return {"withheld_days": 0}, "", ""
    g, v = good or 0, valid or 0
    low, high = g / (v + withheld), (g + withheld) / (v + withheld)
    fields = {"withheld_days": withheld, "ratio_low": low, "ratio_high": high}
    en = (
        f" {withheld} day(s) withheld by the valid-day rule (a valid statistic, but not all "
        f"six and AQI ≤ 100): the ratio would be {low:.1%} if all were non-good, "
        f"{high:.1%} if all were good."
    )
    zh = (
        f"另有{withheld}天按有效日规则未计入（有有效统计值，但六项不全且AQI≤100）："
        f"若全部为非优良，比例为{low:.1%}；若全部为优良，比例为{high:.1%}。"
    )
    return fields, en, zh


@dataclasses.dataclass(frozen=True)
class _Variant:
    """What one variant of a good-day ratio target counts as of one date."""

    progress: Progress
    withheld: int
    #: The official variant only: days decided by an official / a provisional value, days
    #: whose good/non-good grade the two disagree on, days whose AQI differs.
    official: tuple[int, int, int, int] | None = None


def _good_day_variants_alone(
    days: pd.DataFrame, target: GoodDayRatioTarget, as_of: date
) -> tuple[dict[str, _Variant], dict[str, int] | None]:
    """The variants of a good-day target as of one date, counted from the area's days
    (``compute_progress`` for one as-of date), and the stations the days rest on."""
    in_year = days["date"].dt.year == target.year
    up_to = in_year & (days["date"] <= pd.Timestamp(as_of))
    has_dust = bool(days.loc[in_year, "dust"].any())
    counted_to = up_to.to_numpy()
    # The stations the area's computed days so far rest on (fewest, most).
    stations = days["stations"].to_numpy()[counted_to]
    stations = stations[~np.isnan(stations)]
    rested_on = (
        None if not len(stations) else {"min": int(stations.min()), "max": int(stations.max())}
    )
    variants = {}
    for standard in STANDARDS:
        column = "official" if standard == "official" else standard
        for dust_excluded in (False, True) if has_dust else (False,):
            good = _good(days[column])
            dusty = days["dust"].to_numpy() & (good == 0.0) if dust_excluded else None
            rates, basis = _history_rates(days, column, target.year, as_of, dust_excluded)
            p = ratio_progress(
                days["date"],
                good,
                year=target.year,
                goal=target.goal,
                as_of=as_of,
                history_rates=rates,
                history_basis=basis,
                excluded=dusty,
            )
            withheld = int(days[f"{column}_withheld"].to_numpy()[counted_to].sum())
            official = None
            if standard == "official":
                sources = days.loc[up_to, "official_source"]
                both = days.loc[up_to, ["imported", "computed"]].dropna()
                disagree = int(
                    (
                        (both["imported"] <= GOOD_DAY_MAX_AQI)
                        != (both["computed"] <= GOOD_DAY_MAX_AQI)
                    ).sum()
                )
                official = (
                    int((sources == "official").sum()),
                    int((sources == "provisional").sum()),
                    disagree,
                    int((both["imported"] != both["computed"]).sum()),
                )
            variant = standard + ("+dust_excluded" if dust_excluded else "")
            variants[variant] = _Variant(p, withheld, official)
    return variants, rested_on


def _one_row_a_day(days: pd.DataFrame) -> bool:
    """Whether the area's days have one row per date, consecutive (as :func:`area_days`
    builds them; a date twice, e.g. two rule sets both marked in force, would not): the
    cumulative counts index the rows by date."""
    stamps = days["date"].to_numpy(dtype="datetime64[D]")
    return bool(len(stamps)) and bool((np.diff(stamps) == np.timedelta64(1, "D")).all())


def _cumulative(flags: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """``out[k]``: how many of the first ``k`` flags are set (``out[0] = 0``)."""
    return np.concatenate(([0], np.cumsum(np.asarray(flags, dtype=np.int64))))


@dataclasses.dataclass(frozen=True)
class _RatioSeries:
    """One variant of a good-day target, counted once for every as-of date of a refresh.

    Cumulative counts over the area's days (:func:`_area_year_days`: 1 January three years
    before the target year … 31 December of the target year, one row per date), so the
    count up to any as-of date, and over any part of an earlier year, is a difference.
    """

    column: str
    dust_excluded: bool
    valid: npt.NDArray[np.int64]
    good: npt.NDArray[np.int64]
    left_out: npt.NDArray[np.int64]
    withheld: npt.NDArray[np.int64]


@dataclasses.dataclass(frozen=True)
class _GoodDaySeries:
    """Every variant of a good-day target over the area's days, for a series of as-of
    dates (the same counts as :func:`_good_day_variants_alone`, as differences of sums)."""

    first: date
    variants: dict[str, _RatioSeries]
    official_days: npt.NDArray[np.int64]
    provisional_days: npt.NDArray[np.int64]
    disagreements: npt.NDArray[np.int64]
    aqi_differences: npt.NDArray[np.int64]
    #: Fewest and most stations of the target year's days up to each day (NaN: none yet).
    stations_min: npt.NDArray[np.float64]
    stations_max: npt.NDArray[np.float64]

    @classmethod
    def of_days(cls, days: pd.DataFrame, year: int) -> _GoodDaySeries:
        """Count the area's days once."""
        first = pd.Timestamp(days["date"].iloc[0]).date()
        in_year = (days["date"].dt.year == year).to_numpy()
        has_dust = bool(days["dust"].to_numpy()[in_year].any())
        dust = days["dust"].to_numpy()
        variants = {}
        for standard in STANDARDS:
            column = "official" if standard == "official" else standard
            for dust_excluded in (False, True) if has_dust else (False,):
                good = _good(days[column])
                skipped = dust & (good == 0.0) if dust_excluded else np.zeros(len(good), bool)
                variant = standard + ("+dust_excluded" if dust_excluded else "")
                variants[variant] = _RatioSeries(
                    column,
                    dust_excluded,
                    valid=_cumulative(~np.isnan(good) & ~skipped),
                    good=_cumulative((good == 1.0) & ~skipped),
                    left_out=_cumulative(skipped),
                    withheld=_cumulative(days[f"{column}_withheld"].to_numpy()),
                )
        source = days["official_source"].to_numpy()
        imported, computed = days["imported"].to_numpy(), days["computed"].to_numpy()
        both = ~np.isnan(imported) & ~np.isnan(computed)
        stations = np.where(in_year, days["stations"].to_numpy(), np.nan)
        return cls(
            first,
            variants,
            official_days=_cumulative(source == "official"),
            provisional_days=_cumulative(source == "provisional"),
            disagreements=_cumulative(
                both & ((imported <= GOOD_DAY_MAX_AQI) != (computed <= GOOD_DAY_MAX_AQI))
            ),
            aqi_differences=_cumulative(both & (imported != computed)),
            stations_min=np.fmin.accumulate(stations),
            stations_max=np.fmax.accumulate(stations),
        )

    def history_rates(
        self, series: _RatioSeries, year: int, as_of: date
    ) -> tuple[list[float], str]:
        """:func:`_history_rates` from the counts."""
        rates, years = [], []
        for earlier in range(self.first.year, year):
            try:
                start = as_of.replace(year=earlier) + timedelta(days=1)
            except ValueError:  # 29 February
                start = date(earlier, 3, 1)
            end = date(earlier, 12, 31)
            period = (end - start).days + 1
            if period <= 0:
                continue
            lo, hi = (start - self.first).days, (end - self.first).days + 1
            valid = int(series.valid[hi] - series.valid[lo])
            if valid >= period / 2:
                rates.append(int(series.good[hi] - series.good[lo]) / valid)
                years.append(earlier)
        basis = f"{years[0]}–{years[-1]}" if len(years) > 1 else (str(years[0]) if years else "")
        return rates, basis

    def at(
        self, target: GoodDayRatioTarget, as_of: date
    ) -> tuple[dict[str, _Variant], dict[str, int] | None]:
        """The variants as of one date, as :func:`_good_day_variants_alone` counts them."""
        start = date(target.year, 1, 1)
        # Rows of the target year up to as_of: [begin, upto).
        begin = (start - self.first).days
        elapsed = min(max(0, (as_of - start).days + 1), days_in_year(target.year))
        upto = begin + elapsed
        variants = {}
        for name, series in self.variants.items():
            rates, basis = self.history_rates(series, target.year, as_of)
            p = ratio_progress_of_counts(
                int(series.valid[upto] - series.valid[begin]),
                int(series.good[upto] - series.good[begin]),
                int(series.left_out[upto] - series.left_out[begin]),
                year=target.year,
                goal=target.goal,
                as_of=as_of,
                history_rates=rates,
                history_basis=basis,
            )
            official = None
            if series.column == "official":  # (and official+dust_excluded)
                official = tuple(
                    int(counts[upto] - counts[begin])
                    for counts in (
                        self.official_days,
                        self.provisional_days,
                        self.disagreements,
                        self.aqi_differences,
                    )
                )
            withheld = int(series.withheld[upto] - series.withheld[begin])
            variants[name] = _Variant(p, withheld, official)  # type: ignore[arg-type]
        fewest = self.stations_min[upto - 1] if elapsed else np.nan
        rested_on = (
            None
            if np.isnan(fewest)
            else {"min": int(fewest), "max": int(self.stations_max[upto - 1])}
        )
        return variants, rested_on


def good_day_progress(
    ledger: Ledger,
    target: GoodDayRatioTarget,
    as_of: date,
    cache: _Cache | None = None,
    rule: ValidDayRule = "all_six_or_over_100",
) -> list[TargetProgress]:
    """Every variant of a good-day ratio target; days count by the valid-day ``rule``
    (:func:`counted_days`).

    With ``cache`` (a series of as-of dates) the area's days are counted once
    (:class:`_GoodDaySeries`) and each as-of date takes differences of the sums; alone, the
    days are counted for the one date (:func:`_good_day_variants_alone`). Both give the
    same rows.
    """
    days = _area_year_days(ledger, target.area, target.year, cache, rule)
    if cache is None or not _one_row_a_day(days):
        variants, rested_on = _good_day_variants_alone(days, target, as_of)
    else:
        key = (target.area, target.year, rule)
        series = cache.good_days.get(key)
        if series is None:
            series = cache.good_days[key] = _GoodDaySeries.of_days(days, target.year)
        variants, rested_on = series.at(target, as_of)
    rows = []
    for variant, counted in variants.items():
        standard = variant.removesuffix("+dust_excluded")
        p = counted.progress
        fields, note_en, note_zh = _withheld_note(counted.withheld, p.good_days, p.valid_days)
        p = dataclasses.replace(
            p,
            explanation_en=p.explanation_en + note_en,
            explanation_zh=p.explanation_zh + note_zh,
        )
        extra: dict[str, Any] = {
            **fields,
            "details": {
                "rules_goal_set_under": target.rules,
                "valid_day_rule": rule,
                "stations": rested_on,
            },
        }
        if counted.official is not None:
            official_days, provisional_days, disagree, differences = counted.official
            extra.update(
                official_days=official_days,
                provisional_days=provisional_days,
                disagreements=disagree,
            )
            extra["details"]["aqi_differences"] = differences
        rows.append(_row(target, target.area, as_of, variant, standard, p, **extra))
    return rows


def _official_daily_stats(ledger: Ledger, area: str, first: date, last: date) -> pd.DataFrame:
    frame = ledger.query(
        "SELECT date, aqi, so2, no2, co, pm10, pm2_5, invalid_statistics FROM daily_aqi "
        "WHERE site = ? AND is_area = 1 AND official = 1 AND date >= ? AND date <= ? "
        "ORDER BY date",
        (area, first.isoformat(), last.isoformat()),
    )
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


def _valid_daily_means(
    frame: pd.DataFrame, pollutant: str
) -> tuple[pd.Series, pd.Series, pd.Series]:
    """The valid daily means of ``pollutant`` (NaN where its statistic is listed invalid),
    and the year and day of year of each row of :func:`_official_daily_stats`."""
    invalid = (
        frame["invalid_statistics"]
        .fillna("")
        .str.split(";")
        .apply(lambda parts: pollutant in parts)
    )
    values = frame[pollutant].astype(float).where(~invalid)
    return values, frame["date"].dt.year, frame["date"].dt.day_of_year


def annual_mean_progress(
    ledger: Ledger, target: AnnualMeanTarget, as_of: date, cache: _Cache | None = None
) -> TargetProgress:
    """Mean to date of a pollutant's valid daily means, with HJ 663 counts and projection.

    With ``cache`` (a series of as-of dates) the daily statistics are read and their valid
    values found once, to the end of the year, and cut to ``as_of`` here.
    """
    first = date(target.year - 3, 1, 1)
    pollutant = target.pollutant
    label = Pollutant(pollutant).label
    if cache is None:
        frame = _official_daily_stats(ledger, target.area, first, as_of)
        values, years, days = _valid_daily_means(frame, pollutant)
    else:
        key = (target.area, target.year)
        read = cache.daily_stats.get(key)
        if read is None:
            last = max(date(target.year, 12, 31), as_of)
            read = cache.daily_stats[key] = _official_daily_stats(ledger, target.area, first, last)
        prepared = cache.daily_means.get((*key, pollutant))
        if prepared is None:
            prepared = cache.daily_means[(*key, pollutant)] = _valid_daily_means(read, pollutant)
        # (oldest first: the days up to as_of are the first rows)
        up_to = int(np.searchsorted(read["date"].to_numpy(), np.datetime64(as_of), "right"))
        frame = read.iloc[:up_to]
        values, years, days = (part.iloc[:up_to] for part in prepared)
    this_year = years == target.year
    year_values = values[this_year]
    validity = annual_validity(frame.loc[this_year, "date"], year_values.notna())
    n_year = days_in_year(target.year)
    elapsed = max(0, min(n_year, (as_of - date(target.year, 1, 1)).days + 1))
    remaining = n_year - elapsed
    if year_values.notna().sum() == 0:
        p = Progress(
            None,
            target.limit,
            Status.NOT_ASSESSABLE,
            f"No valid daily {pollutant} mean in {target.year} up to {as_of}.",
            f"{target.year}年截至{as_of}尚无有效{pollutant}日均值。",
        )
        return _row(target, target.area, as_of, "official", "official", p)
    mean = float(year_values.mean())
    valid_days = validity.valid_days
    rest_means = []
    for earlier in range(target.year - 3, target.year):
        part = values[(years == earlier) & (days > elapsed)]
        if part.notna().sum() >= max(1, remaining // 2):
            rest_means.append(float(part.mean()))
    expected_rest = float(np.mean(rest_means)) if rest_means else mean
    total = valid_days + remaining
    projection = (mean * valid_days + expected_rest * remaining) / total
    if rest_means:
        low = (mean * valid_days + min(rest_means) * remaining) / total
        high = (mean * valid_days + max(rest_means) * remaining) / total
        basis = "same period of earlier years"
    else:
        sd = float(year_values.std(ddof=1) or 0.0) if valid_days > 1 else 0.0
        spread = 1.96 * sd / np.sqrt(max(valid_days, 1)) * remaining / total
        low, high, basis = projection - spread, projection + spread, "year so far"
    # Even if every remaining day were 0 µg/m³, the mean could not fall below this.
    floor_mean = mean * valid_days / total
    if remaining == 0:
        status = (
            Status.NOT_ASSESSABLE
            if not validity.valid
            else (Status.ACHIEVED if mean <= target.limit else Status.FAILED)
        )
    elif floor_mean > target.limit:
        status = Status.FAILED
    elif high <= target.limit:
        status = Status.ON_TRACK
    elif low > target.limit:
        status = Status.OFF_TRACK
    else:
        status = Status.AT_RISK
    # Only months already over can be short; later months are still to come.
    over = 13 if as_of >= date(target.year, 12, 31) else as_of.month
    short_months = [m for m in validity.short_months if m < over]
    short = ";".join(str(m) for m in short_months) or "none"
    p = Progress(
        mean,
        target.limit,
        status,
        f"{target.year} to {as_of}: mean {label} {mean:.1f} µg/m³ over {valid_days} valid "
        f"days (limit {target.limit:g}); projected {projection:.1f} ({low:.1f}–{high:.1f}, "
        f"{basis}). Months short of valid days so far: {short}; a valid annual mean needs 324 "
        "days, 27 a month (February 25).",
        f"{target.year}年截至{as_of}：{label}均值{mean:.1f}微克/立方米（有效{valid_days}天，"
        f"目标不高于{target.limit:g}）；预计年均{projection:.1f}（{low:.1f}–{high:.1f}）。"
        f"有效天数不足的月份：{short}；年均值有效需324天、每月27天（2月25天）。",
        projection=projection,
        projection_low=low,
        projection_high=high,
        projection_basis=basis,
        valid_days=valid_days,
        days_in_year=n_year,
        remaining_days=remaining,
        details={"short_months": short_months},
    )
    return _row(target, target.area, as_of, "official", "official", p)


@dataclasses.dataclass(frozen=True)
class _HeavyDayCounts:
    """Cumulative counts of an area's days (:func:`_area_year_days`) for a series of as-of
    dates: ``heavy[k]`` / ``assessed[k]`` are the heavy-pollution (official AQI > 200) and
    assessed days among the first ``k`` rows."""

    first: date
    heavy: npt.NDArray[np.int64]
    assessed: npt.NDArray[np.int64]

    @classmethod
    def of_days(cls, days: pd.DataFrame) -> _HeavyDayCounts:
        """Count the area's days once."""
        aqi = days["official"].to_numpy(dtype=float)
        return cls(
            pd.Timestamp(days["date"].iloc[0]).date(),
            _cumulative(aqi > HEAVY_POLLUTION_MIN_AQI),
            _cumulative(~np.isnan(aqi)),
        )

    def between(self, first: date, last: date) -> tuple[int, int, int]:
        """Heavy days, assessed days and days from ``first`` to ``last`` (none if last <
        first), of the days counted."""
        lo = min(max(0, (first - self.first).days), len(self.heavy) - 1)
        hi = min(max(lo, (last - self.first).days + 1), len(self.heavy) - 1)
        return (
            int(self.heavy[hi] - self.heavy[lo]),
            int(self.assessed[hi] - self.assessed[lo]),
            hi - lo,
        )


def heavy_days_progress(
    ledger: Ledger, target: HeavyPollutionDaysTarget, as_of: date, cache: _Cache | None = None
) -> TargetProgress:
    """Heavy-pollution days (AQI > 200) to date against the maximum.

    With ``cache`` (a series of as-of dates) the area's days are counted once
    (:class:`_HeavyDayCounts`); the same counts as one date alone.
    """
    days = _area_year_days(ledger, target.area, target.year, cache)
    day_of_year = (as_of - date(as_of.year, 1, 1)).days + 1
    history = []
    if cache is None or not _one_row_a_day(days):
        aqi = days["official"]
        this = (days["date"].dt.year == target.year) & (days["date"] <= pd.Timestamp(as_of))
        count = int((aqi[this] > HEAVY_POLLUTION_MIN_AQI).sum())
        assessed = int(aqi[this].notna().sum())
        for earlier in range(target.year - 3, target.year):
            part = aqi[
                (days["date"].dt.year == earlier) & (days["date"].dt.day_of_year > day_of_year)
            ]
            if part.notna().sum() >= max(1, len(part) // 2):
                history.append(float((part > HEAVY_POLLUTION_MIN_AQI).sum()))
    else:
        key = (target.area, target.year)
        counts = cache.heavy_days.get(key)
        if counts is None:
            counts = cache.heavy_days[key] = _HeavyDayCounts.of_days(days)
        count, assessed, _ = counts.between(
            date(target.year, 1, 1), min(as_of, date(target.year, 12, 31))
        )
        for earlier in range(target.year - 3, target.year):
            rest = date(earlier, 1, 1) + timedelta(days=day_of_year)
            heavy, valid, length = counts.between(rest, date(earlier, 12, 31))
            if valid >= max(1, length // 2):
                history.append(float(heavy))
    p = max_count_progress(
        count,
        target.max,
        year=target.year,
        as_of=as_of,
        what_en="heavy-pollution days (AQI > 200)",
        what_zh="重污染天数（AQI>200）",
        assessed_days=assessed,
        history_counts=history,
    )
    return _row(target, target.area, as_of, "official", "official", p)


def compliance_sections(settings: Settings) -> tuple[str, ...]:
    """The sections the question "do the sections meet their target class?" counts.

    The sections listed in the ``river_class`` targets (in order, each once), as the plan's
    target names them; when no such target is configured, every section with a target class.
    The river-class target, its monthly details and the monthly report's compliance line all
    count these, so they share one denominator: of them, those with a target class and a
    reading in the period are *assessed*; the others are reported as not assessed.
    """
    listed: list[str] = []
    for target in settings.targets:
        if isinstance(target, RiverClassTarget):
            listed += [s for s in target.sections if s not in listed]
    if listed:
        return tuple(listed)
    return tuple(s.id for s in settings.water_sections if s.target_class is not None)


_PERIOD_FORMAT = {"month": "%Y-%m", "year": "%Y"}
_WATER_CODES = tuple(p.value for p in Parameter)


def section_period_classes(
    ledger: Ledger,
    settings: Settings,
    section_ids: Sequence[str],
    first: date,
    last: date,
    period: str,
) -> pd.DataFrame:
    """Class of each section over each month or year, on the mean of each item.

    环办〔2011〕22号: a period with several samples (week, ten days, month; quarter, year) is
    rated on the arithmetic mean concentration of each item (:func:`period_means`), then by
    the single-factor method; below-detection results count as half the limit and the
    quality flags exclude as in the evaluation of each reading.

    Parameters
    ----------
    section_ids : sequence of str
        Sections (readings are matched on the id or the Chinese name, as stored).
    first, last : date
        Readings whose local (Asia/Shanghai) date of ``period_end`` is in first … last.
    period : str
        ``"month"`` (periods ``YYYY-MM``) or ``"year"`` (``YYYY``).

    Returns
    -------
    DataFrame
        One row per section and period with readings: ``section, period, samples,
        water_class, limiting_parameters, exceedance_multiples`` (vs class III),
        ``parameter_set``, ``target_class`` (None when not set), ``meets`` (bool, None
        without a target class), ``exceedance_multiples_target``, ``worst_sample_class``
        (the worst single reading, for information) and ``last_reading`` (epoch s).
    """
    obs = _section_readings(ledger, _section_sites(settings, section_ids), first, last)
    samples = _checked_samples(settings, section_ids, obs)
    if samples is None:
        return pd.DataFrame(columns=_CLASS_COLUMNS)
    return _rate_periods(samples, period)


#: The columns of :func:`section_period_classes`.
_CLASS_COLUMNS: Final = [
    "section",
    "period",
    "samples",
    "water_class",
    "limiting_parameters",
    "exceedance_multiples",
    "parameter_set",
    "target_class",
    "meets",
    "exceedance_multiples_target",
    "worst_sample_class",
    "last_reading",
]


@dataclasses.dataclass(frozen=True)
class _Samples:
    """The checked water samples of some sections (one row per section and reading time)."""

    #: ``section``, ``period_end`` (and ``prefix`` when several sets of readings are stacked).
    keys: pd.DataFrame
    #: One column per canonical code, NaN where not measured or excluded by quality flags.
    values: pd.DataFrame
    below: pd.DataFrame
    #: Each sample's class number (0: not rated).
    rank: pd.Series
    sections: dict[str, Any]


def _checked_samples(
    settings: Settings, section_ids: Sequence[str], obs: pd.DataFrame
) -> _Samples | None:
    """The samples of the sections' readings ``obs``, as :func:`section_period_classes`
    checks and rates each (None: no sample with a value)."""
    if obs.empty:
        return None
    obs = _deduplicated(obs)
    flags = quality_flags(obs)
    gone = excluded(flags, obs["parameter"], exclude_own=settings.quality.exclude_own_flags)
    return _samples_of(settings, section_ids, obs, gone)


def _deduplicated(obs: pd.DataFrame) -> pd.DataFrame:
    """The readings with one row per site, item and reading time (the latest ingested)."""
    return obs.sort_values("ingested_at", kind="stable").drop_duplicates(
        ["site", "parameter", "period_end"], keep="last"
    )


def _samples_of(
    settings: Settings,
    section_ids: Sequence[str],
    obs: pd.DataFrame,
    gone: npt.NDArray[np.bool_],
) -> _Samples | None:
    """The samples of the deduplicated readings ``obs`` whose values ``gone`` the quality
    flags exclude: one row per section and reading time, rated each (None: no value)."""
    sections = {sid: settings.section(sid) for sid in section_ids}
    site_to_section = _section_sites(settings, section_ids)
    obs = obs.assign(
        value=obs["value"].where(~gone),
        below=below_detection(obs["flags"]),
        section=obs["site"].map(site_to_section),
    )
    index = ["section", "period_end"]
    wide = obs.pivot_table(index=index, columns="parameter", values="value", aggfunc="first")
    wide = wide.reindex(columns=[c for c in _WATER_CODES if c in wide.columns])
    if wide.empty:  # every value excluded or missing
        return None
    below = (
        obs.pivot_table(index=index, columns="parameter", values="below", aggfunc="max")
        .reindex(index=wide.index, columns=wide.columns, fill_value=False)
        .reset_index(drop=True)
    )
    sample_keys = wide.index.to_frame(index=False)
    values = wide.reset_index(drop=True)
    bodies = [WaterBody(sections[str(s)].water_body) for s in sample_keys["section"]]
    each = rate_samples(values, below, bodies, None, WaterClass.III)
    rank = each["water_class"].map(lambda c: _CLASS_RANK.get(str(c), 0))
    return _Samples(sample_keys, values, below, rank, sections)


def _rate_periods(samples: _Samples, period: str) -> pd.DataFrame:
    """The rows of :func:`section_period_classes` over ``period`` from the checked samples
    (with a ``prefix`` column first when the samples have one: stacked sets of readings,
    each rated apart)."""
    keys = samples.keys
    if period in keys.columns:  # (labelled once for a year's samples: _CheckedYear)
        labels = keys[period]
    else:
        local_end = keys["period_end"].dt.tz_convert("Asia/Shanghai")
        labels = local_end.dt.strftime(_PERIOD_FORMAT[period])
    epoch = keys["epoch"] if "epoch" in keys.columns else to_epoch(keys["period_end"])
    keys = keys[[c for c in ("prefix", "section") if c in keys.columns]].assign(
        period=labels.to_numpy()
    )
    values, below, sections = samples.values, samples.below, samples.sections
    by = list(keys.columns)
    per_sample = keys.assign(rank=samples.rank.to_numpy(), epoch=np.asarray(epoch))
    grouped = per_sample.groupby(by, sort=True)
    worst = grouped["rank"].max()
    latest = grouped["epoch"].max()
    means = period_means(values, keys[by], below)
    targets = [sections[str(s)].target_class for s in means["section"]]
    target_numbers = np.array(
        [np.nan if t is None else float(WaterClass.from_code(t)) for t in targets]
    )
    mean_bodies = [WaterBody(sections[str(s)].water_body) for s in means["section"]]
    rated = rate_samples(
        means[list(values.columns)],
        pd.DataFrame(index=means.index),
        mean_bodies,
        target_numbers,
        WaterClass.III,
    )
    key = pd.MultiIndex.from_frame(means[by])
    names = {int(c): c.code for c in WaterClass}
    out = pd.DataFrame(
        {
            **({"prefix": means["prefix"].to_numpy()} if "prefix" in by else {}),
            "section": means["section"].to_numpy(),
            "period": means["period"].to_numpy(),
            "samples": means["samples"].to_numpy(),
            "water_class": rated["water_class"].to_numpy(),
            "limiting_parameters": rated["limiting_parameters"].to_numpy(),
            "exceedance_multiples": rated["exceedance_multiples"].to_numpy(),
            "parameter_set": rated["parameter_set"].to_numpy(),
            "target_class": targets,
            "meets": [
                None if t is None or m == "" else m == "true"
                for t, m in zip(targets, rated["target_met"], strict=True)
            ],
            "exceedance_multiples_target": rated["exceedance_multiples_target"].to_numpy(),
            "worst_sample_class": [names.get(int(r)) for r in worst.reindex(key).to_numpy()],
            "last_reading": latest.reindex(key).to_numpy(),
        }
    )
    return out[out["water_class"] != ""].reset_index(drop=True)[by[:-2] + _CLASS_COLUMNS]


def _section_sites(settings: Settings, section_ids: Sequence[str]) -> dict[str, str]:
    """The site names a section's readings are stored under (its id and Chinese name) →
    the section id."""
    sections = {sid: settings.section(sid) for sid in section_ids}
    site_to_section = {s.id: sid for sid, s in sections.items()}
    site_to_section.update({s.name_zh: sid for sid, s in sections.items()})
    return site_to_section


def _section_readings(
    ledger: Ledger, site_to_section: dict[str, str], first: date, last: date
) -> pd.DataFrame:
    """The stored water readings of the sections' sites whose local date is first … last
    (in the ledger's key order)."""
    start, end = _local_bounds(first, last)
    return ledger.observations(
        start=start.to_pydatetime(),
        end=end.to_pydatetime(),
        sites=sorted(site_to_section),
        parameters=list(_WATER_CODES),
    )


def _local_bounds(first: date, last: date) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``(start, end)`` such that ``start < period_end <= end`` holds for the readings whose
    local (Asia/Shanghai) date is in first … last."""
    start = pd.Timestamp(first, tz="Asia/Shanghai") - pd.Timedelta(seconds=1)
    # (the next date's start: 25 or 23 hours on, not 24, where the clocks changed)
    end = pd.Timestamp(last + timedelta(days=1), tz="Asia/Shanghai") - pd.Timedelta(seconds=1)
    return start, end


def _year_to_date_classes(
    ledger: Ledger,
    settings: Settings,
    target: RiverClassTarget,
    as_of: date,
    period: str,
    cache: _Cache | None,
) -> pd.DataFrame:
    """:func:`section_period_classes` of the target's sections from 1 January to ``as_of``;
    with ``cache``, rated once for the as-of dates that rest on the same readings (a water
    section is sampled a few times a month: a year of as-of dates, a few dozen ratings)."""
    first = date(target.year, 1, 1)
    if cache is None:
        return section_period_classes(ledger, settings, target.sections, first, as_of, period)
    readings = _readings_to(ledger, settings, target, as_of, cache)
    key = (target.id, period, readings)
    if key not in cache.classes:
        readings_of_year = _readings_of_year(ledger, settings, target, cache)
        # the sets of readings the series' as-of dates from this one rest on, rated together
        # (only those: 4-hourly readings give six sets a day, one of them an as-of date's)
        later = [d for d in cache.dates.get(target.year, ()) if d >= as_of]
        sets = {readings} | {_readings_to(ledger, settings, target, d, cache) for d in later}
        _rate_reading_sets(settings, target, readings_of_year, sorted(sets), cache)
    return cache.classes[key]


def _rate_reading_sets(
    settings: Settings,
    target: RiverClassTarget,
    readings_of_year: pd.DataFrame,
    sets: Sequence[int],
    cache: _Cache,
) -> None:
    """:func:`section_period_classes` of the target's year to date over each period of
    :data:`_RIVER_PERIODS`, for each number of reading times in ``sets``, into the cache.

    The year's readings are checked once (:class:`_CheckedYear`) and each set of readings
    is cut from them (:func:`_set_samples`: the quality checks look at neighbouring
    readings, so the readings near the cut are checked again within the set). Each set's
    year to date and its months still open at the cut (or holding a sample the cut
    changed) are rated on their period means; its closed months are the year's own
    ratings. Sets with the same items are stacked (a ``prefix`` key) and rated in one call,
    at most :data:`_STACKED_SAMPLES` samples at a time: the same rows as one set at a time.
    """
    ends = cache.reading_ends[target.id]
    year = cache.checked_years.get(target.id)
    if year is None and len(readings_of_year):
        year = cache.checked_years[target.id] = _CheckedYear.of(
            settings, target.sections, readings_of_year
        )
    stacks: dict[tuple[str, tuple[str, ...]], list[tuple[int, _Cut, npt.NDArray[np.intp]]]] = {}
    closed: dict[int, tuple[tuple[str, ...], npt.NDArray[np.int64]]] = {}
    pending = 0

    def rate_pending() -> None:
        rated: dict[tuple[str, int], pd.DataFrame] = {}
        for (period, _), parts in stacks.items():
            for n, frame in _rate_stacked(year, parts, period).items():
                rated[(period, n)] = frame
        for n, (columns, groups) in closed.items():
            cache.classes[(target.id, "year", n)] = rated[("year", n)]
            months = [rated[("month", n)]] if ("month", n) in rated else []
            if len(groups) and year is not None:
                months.append(year.closed_months(columns, groups))
            cache.classes[(target.id, "month", n)] = _by_section_and_period(months)
        stacks.clear()
        closed.clear()

    for n in sets:
        if (target.id, _RIVER_PERIODS[0], n) in cache.classes:
            continue
        found = _set_samples(year, int(ends[n - 1])) if n and year else None
        if found is None:
            for period in _RIVER_PERIODS:
                cache.classes[(target.id, period, n)] = pd.DataFrame(columns=_CLASS_COLUMNS)
            continue
        size = len(found.samples.values if isinstance(found.samples, _Samples) else found.samples)
        every = np.arange(size, dtype=np.intp)
        stacks.setdefault(("year", found.columns), []).append((n, found, every))
        if len(found.open_months):
            stacks.setdefault(("month", found.columns), []).append((n, found, found.open_months))
        pending += size + len(found.open_months)
        closed[n] = (found.columns, found.closed_months)
        if pending >= _STACKED_SAMPLES:
            rate_pending()
            pending = 0
    rate_pending()


def _by_section_and_period(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Rows of :func:`section_period_classes` (each section and period once) in its order,
    by section and period."""
    if not parts:
        return pd.DataFrame(columns=_CLASS_COLUMNS)
    frame = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
    keys = list(zip(frame["section"].tolist(), frame["period"].tolist(), strict=True))
    order = sorted(range(len(keys)), key=keys.__getitem__)
    return frame.iloc[order].reset_index(drop=True)


#: The most samples :func:`_rate_reading_sets` stacks into one call (bounded memory: a few
#: MB per item; unbounded, a year of 4-hourly readings of 8 sections stacked gigabytes).
_STACKED_SAMPLES: Final = 200_000


def _rate_stacked(
    year: _CheckedYear | None,
    parts: list[tuple[int, _Cut, npt.NDArray[np.intp]]],
    period: str,
) -> dict[int, pd.DataFrame]:
    """:func:`_rate_periods` of samples (positions) of several sets of readings with the
    same items, stacked (a ``prefix`` key: each set rated apart), by set."""
    columns = parts[0][1].columns
    pieces, prefixes = [], []
    cut_from_year = [
        (n, c.samples[rows]) for n, c, rows in parts if not isinstance(c.samples, _Samples)
    ]
    if cut_from_year:
        assert year is not None and year.samples is not None
        positions = np.concatenate([p for _, p in cut_from_year])
        pieces.append(_gathered(year.samples, positions, columns))
        prefixes += [np.full(len(p), n, dtype=np.int64) for n, p in cut_from_year]
    for n, c, rows in parts:
        if isinstance(c.samples, _Samples):
            pieces.append(_gathered(c.samples, rows, columns))
            prefixes.append(np.full(len(rows), n, dtype=np.int64))
    stacked = _Samples(
        pd.concat([p.keys for p in pieces], ignore_index=True).assign(
            prefix=np.concatenate(prefixes)
        ),
        pd.concat([p.values for p in pieces], ignore_index=True),
        pd.concat([p.below for p in pieces], ignore_index=True),
        pd.concat([p.rank for p in pieces], ignore_index=True),
        pieces[0].sections,
    )
    rated = _rate_periods(stacked, period)
    prefix = rated["prefix"].to_numpy()  # (sorted: the groups are)
    rated = rated.drop(columns="prefix")
    low = np.searchsorted(prefix, [n for n, _, _ in parts], "left")
    high = np.searchsorted(prefix, [n for n, _, _ in parts], "right")
    return {
        n: rated.iloc[a:b].reset_index(drop=True)
        for (n, _, _), a, b in zip(parts, low.tolist(), high.tolist(), strict=True)
    }


def _gathered(
    source: _Samples, positions: npt.NDArray[np.intp], columns: tuple[str, ...]
) -> _Samples:
    """The samples at ``positions`` of ``source``, the items ``columns`` only."""
    items = list(columns)
    return _Samples(
        source.keys.iloc[positions].reset_index(drop=True),
        source.values.iloc[positions][items].reset_index(drop=True),
        source.below.iloc[positions][items].reset_index(drop=True),
        source.rank.iloc[positions].reset_index(drop=True),
        source.sections,
    )


@dataclasses.dataclass
class _CheckedYear:
    """A river target's readings of its year, checked once, to cut each set of readings
    (the readings up to an as-of date) from (:func:`_set_samples`).

    The flags of a reading computed on the whole year are its flags computed on a set of
    readings whenever every reading its checks look at is in the set
    (:mod:`monitor.domain.quality`): ``negative`` and ``implausible`` look at the reading
    alone; ``pm25_gt_pm10`` at the readings of the same site and period (in a set or out of
    it together); ``stuck`` at the run of equal values of the same site and item (in the
    order of ``period_start``) that holds the reading, and the readings either side of the
    run; ``spike`` at the readings either side. A run is part of a block of consecutive
    equal values of hourly periods each starting when the one before ends, so the readings
    whose flags a cut can change are, in each series, those of the last block before the
    first reading past the cut, and any reading after that one still in the set (one that
    starts later but ends earlier): they are checked again with the reading before that
    block and the readings of their sites and periods.
    """

    settings: Settings
    section_ids: Sequence[str]
    #: The year's readings, deduplicated as :func:`_checked_samples` does, in its order.
    obs: pd.DataFrame
    #: Values excluded by the flags computed on the whole year.
    gone: npt.NDArray[np.bool_]
    #: ``period_end`` of each reading [epoch s].
    end: npt.NDArray[np.int64]
    #: The readings in the order the relational checks chain them (site and item, then
    #: ``period_start``), and per position: its series, its ``period_end``, whether the
    #: checks chain it to the next position, the latest ``period_end`` of its series up to
    #: it, the first position of its block of equal chained values.
    order: npt.NDArray[np.intp]
    series: npt.NDArray[np.int64]
    sorted_end: npt.NDArray[np.int64]
    chained: npt.NDArray[np.bool_]
    latest_end: npt.NDArray[np.int64]
    block_start: npt.NDArray[np.intp]
    #: Readings sorted by (site, period_end) code, and those codes (the pairs' partners).
    pair_order: npt.NDArray[np.intp]
    pair_codes: npt.NDArray[np.int64]
    pair_key: npt.NDArray[np.int64]
    #: The year's samples on the year's flags, with ``epoch``, ``year`` and ``month``
    #: labels, and per sample its month (section and month) group (None: no sample).
    samples: _Samples | None
    #: Per sample: its reading time [epoch s], and which items it has a value of.
    sample_end: npt.NDArray[np.int64]
    measured: npt.NDArray[np.bool_]
    group: npt.NDArray[np.intp]
    #: Per month group: its last reading time [epoch s].
    group_end: npt.NDArray[np.int64]
    #: The year's month ratings by items rated (:meth:`closed_months`).
    month_ratings: dict[tuple[str, ...], tuple[pd.DataFrame, npt.NDArray[np.intp]]]

    @classmethod
    def of(
        cls, settings: Settings, section_ids: Sequence[str], readings: pd.DataFrame
    ) -> _CheckedYear:
        """Check the year's readings once."""
        obs = _deduplicated(readings).reset_index(drop=True)
        flags = quality_flags(obs)
        gone = excluded(flags, obs["parameter"], exclude_own=settings.quality.exclude_own_flags)
        end = to_epoch(obs["period_end"])
        site = pd.factorize(obs["site"].astype(str).to_numpy())[0].astype(np.int64)
        item = pd.factorize(obs["parameter"].astype(str).to_numpy())[0].astype(np.int64)
        series_of = site * (int(item.max(initial=0)) + 1) + item
        start_ns = utc_nanoseconds(obs["period_start"])  # (the checks' order)
        order = np.lexsort((start_ns, series_of)).astype(np.intp)
        series = series_of[order]
        value = pd.to_numeric(obs["value"], errors="coerce").to_numpy(dtype=float)[order]
        start, stop = start_ns[order], utc_nanoseconds(obs["period_end"])[order]
        hourly = (stop - start) == 3_600 * 10**9
        # the checks chain only hourly periods each starting when the one before ends, and
        # a run breaks where the value changes (quality_flags, Notes)
        chained = np.zeros(len(order), dtype=bool)  # (a position and the next one)
        chained[:-1] = (
            (series[1:] == series[:-1]) & hourly[1:] & hourly[:-1] & (start[1:] == stop[:-1])
        )
        new_block = np.ones(len(order), dtype=bool)
        new_block[1:] = ~chained[:-1] | ~(value[1:] == value[:-1])
        block_start = np.flatnonzero(new_block)[np.cumsum(new_block) - 1].astype(np.intp)
        latest_end = (
            pd.Series(end[order]).groupby(series).cummax().to_numpy(dtype=np.int64)
            if len(order)
            else np.zeros(0, dtype=np.int64)
        )
        ends_code = pd.factorize(end)[0].astype(np.int64)
        pair_key = site * (int(ends_code.max(initial=0)) + 1) + ends_code
        pair_order = np.argsort(pair_key, kind="stable").astype(np.intp)
        samples = _samples_of(settings, section_ids, obs, gone)
        group = np.zeros(0, dtype=np.intp)
        group_end = np.zeros(0, dtype=np.int64)
        sample_end = np.zeros(0, dtype=np.int64)
        measured = np.zeros((0, 0), dtype=bool)
        if samples is not None:
            samples = _labelled(samples)
            keys, epoch = samples.keys, samples.keys["epoch"].to_numpy()
            sample_end, measured = epoch, samples.values.notna().to_numpy()
            group = pd.factorize(keys["section"].astype(str) + "\x00" + keys["month"])[0]
            group = group.astype(np.intp)
            group_end = np.full(int(group.max(initial=-1)) + 1, np.iinfo(np.int64).min)
            np.maximum.at(group_end, group, epoch)
        return cls(
            settings,
            section_ids,
            obs,
            gone,
            end,
            order,
            series,
            end[order],
            chained,
            latest_end,
            block_start,
            pair_order,
            pair_key[pair_order],
            pair_key,
            samples,
            sample_end,
            measured,
            group,
            group_end,
            {},
        )

    def gone_up_to(self, cut: int) -> npt.NDArray[np.bool_] | None:
        """Which values of the readings up to ``cut`` [epoch s] their set's flags exclude
        (row for row with ``obs[end <= cut]``); None when the same as the year's flags.

        A series whose last reading before the first one past the cut is not chained to
        that one (not both hourly, or not contiguous), and that has no reading in the set
        after it, has the same flags as on the whole year: its last run and its last
        reading's neighbours end there either way.
        """
        # in the checks' order: past[i], a reading at or after the first one past the cut
        past = self.latest_end > cut
        series = self.series
        # readings after the first one past the cut but in the set (a later start, an
        # earlier end): in the set they follow the reading before that one
        again = past & (self.sorted_end <= cut)
        before_past = np.zeros(len(past), dtype=bool)
        before_past[:-1] = ~past[:-1] & past[1:] & (series[1:] == series[:-1])
        last = np.flatnonzero(before_past)
        last = last[self.chained[last] | np.isin(series[last], series[again])]
        starts = self.block_start[last]
        for first, final in zip(starts.tolist(), last.tolist(), strict=True):
            again[first : final + 1] = True
        if not again.any():
            return None
        context = again.copy()
        previous = starts - 1
        previous = previous[(previous >= 0) & (series[np.maximum(previous, 0)] == series[last])]
        context[previous] = True
        rows = self.order[context]
        # the readings of the same sites and periods (pm25_gt_pm10 pairs them)
        wanted = np.unique(self.pair_key[rows])
        low = np.searchsorted(self.pair_codes, wanted, "left")
        high = np.searchsorted(self.pair_codes, wanted, "right")
        partners = np.concatenate(
            [self.pair_order[a:b] for a, b in zip(low.tolist(), high.tolist(), strict=True)]
        )
        window = np.union1d(rows, partners)
        part = self.obs.iloc[window]
        own = self.settings.quality.exclude_own_flags
        window_gone = excluded(quality_flags(part), part["parameter"], exclude_own=own)
        checked = self.order[again]
        now = window_gone[np.searchsorted(window, checked)]
        differs = now != self.gone[checked]
        if not differs.any():
            return None
        patched = self.gone.copy()
        patched[checked] = now
        return patched[self.end <= cut]

    def closed_months(
        self, columns: tuple[str, ...], groups: npt.NDArray[np.int64]
    ) -> pd.DataFrame:
        """The year's month ratings (:func:`_rate_periods` over its samples, the items
        ``columns`` rated) of the month groups ``groups``."""
        assert self.samples is not None
        rated = self.month_ratings.get(columns)
        if rated is None:
            samples = self.samples
            year_samples = _Samples(
                samples.keys,
                samples.values[list(columns)],
                samples.below[list(columns)],
                samples.rank,
                samples.sections,
            )
            frame = _rate_periods(year_samples, "month")
            found = pd.factorize(
                pd.concat(
                    [
                        samples.keys["section"].astype(str) + "\x00" + samples.keys["month"],
                        frame["section"].astype(str) + "\x00" + frame["period"],
                    ],
                    ignore_index=True,
                )
            )[0][len(samples.keys) :]
            rated = self.month_ratings[columns] = (frame, found.astype(np.intp))
        frame, of = rated
        return frame[np.isin(of, groups)]


def _labelled(samples: _Samples) -> _Samples:
    """The samples with their reading time [epoch s] and local year and month labels
    (:func:`_rate_periods` reads them instead of formatting each stacked sample's time)."""
    keys = samples.keys
    local_end = keys["period_end"].dt.tz_convert("Asia/Shanghai")
    keys = keys.assign(
        epoch=to_epoch(keys["period_end"]),
        year=local_end.dt.strftime(_PERIOD_FORMAT["year"]).to_numpy(),
        month=local_end.dt.strftime(_PERIOD_FORMAT["month"]).to_numpy(),
    )
    return dataclasses.replace(samples, keys=keys)


@dataclasses.dataclass(frozen=True)
class _Cut:
    """A set of readings cut from a :class:`_CheckedYear`: its samples (positions in the
    year's samples, or checked apart when the cut changed a flag that excludes), the items
    rated, the samples of its month groups to rate (positions into its samples) and its
    month groups whose rating is the year's (closed before the cut, none changed)."""

    samples: npt.NDArray[np.intp] | _Samples
    columns: tuple[str, ...]
    open_months: npt.NDArray[np.intp]
    closed_months: npt.NDArray[np.int64]


def _set_samples(year: _CheckedYear, cut: int) -> _Cut | None:
    """The set of readings up to ``cut`` [epoch s] (None: no sample with a value)."""
    gone = year.gone_up_to(cut)
    if gone is not None:  # a flag that excludes changed: the set is checked as it is
        obs = year.obs[year.end <= cut]
        checked = _samples_of(year.settings, year.section_ids, obs, gone)
        if checked is None:
            return None
        checked = _labelled(checked)
        columns = tuple(checked.values.columns)
        every = np.arange(len(checked.values), dtype=np.intp)
        return _Cut(checked, columns, every, np.zeros(0, dtype=np.int64))
    full = year.samples
    if full is None:
        return None
    mine = np.flatnonzero(year.sample_end <= cut).astype(np.intp)
    if not len(mine):
        return None
    measured: list[bool] = np.asarray(year.measured[mine].any(axis=0), dtype=bool).tolist()
    columns = tuple(c for c, m in zip(full.values.columns, measured, strict=True) if m)
    if not columns:
        return None
    groups = year.group[mine]
    is_open = year.group_end[groups] > cut
    closed = np.unique(groups[~is_open]).astype(np.int64)
    return _Cut(mine, columns, np.flatnonzero(is_open).astype(np.intp), closed)


#: The periods a river target rates its sections over (the year to date, and each month).
_RIVER_PERIODS: Final = ("year", "month")


def _readings_to(
    ledger: Ledger, settings: Settings, target: RiverClassTarget, as_of: date, cache: _Cache
) -> int:
    """How many distinct reading times of the target's sections its year has up to
    ``as_of`` (the as-of dates with as many rest on the same readings)."""
    first = date(target.year, 1, 1)
    ends = cache.reading_ends.get(target.id)
    if ends is None:
        readings = _readings_of_year(ledger, settings, target, cache)
        ends = (
            np.unique(to_epoch(readings["period_end"])) if len(readings) else np.empty(0, np.int64)
        )
        cache.reading_ends[target.id] = ends
    return int(np.searchsorted(ends, int(_local_bounds(first, as_of)[1].timestamp()), "right"))


def _readings_of_year(
    ledger: Ledger, settings: Settings, target: RiverClassTarget, cache: _Cache
) -> pd.DataFrame:
    """The water readings of the target's sections in its year, read once per refresh."""
    readings = cache.readings.get(target.id)
    if readings is None:
        readings = cache.readings[target.id] = _section_readings(
            ledger,
            _section_sites(settings, target.sections),
            date(target.year, 1, 1),
            date(target.year, 12, 31),
        )
    return readings


def _multiples(text: object) -> dict[str, float]:
    """``code=multiple;…`` (as :func:`rate_samples` writes it) → {code: multiple}."""
    pairs = [part.split("=", 1) for part in str(text or "").split(";") if "=" in part]
    return {code: float(value) for code, value in pairs}


def river_progress(
    ledger: Ledger,
    settings: Settings,
    target: RiverClassTarget,
    as_of: date,
    cache: _Cache | None = None,
) -> TargetProgress:
    """Share of listed sections whose class over the year to date meets their target.

    The class of a period with several samples is that of the arithmetic mean of each item
    (环办〔2011〕22号), not the latest or the worst reading: :func:`section_period_classes`.
    The monthly details rate each month the same way. Denominator: the listed sections with
    a target class and a reading in the period (:func:`compliance_sections`).
    """
    summary_key = None
    if cache is not None:  # the same readings, the same sections (not the same status)
        summary_key = (target.id, _readings_to(ledger, settings, target, as_of, cache))
        if summary_key in cache.river_sections:
            return _river_row(
                settings, target, as_of, *copy.deepcopy(cache.river_sections[summary_key])
            )
    year = _year_to_date_classes(ledger, settings, target, as_of, "year", cache)
    months = _year_to_date_classes(ledger, settings, target, as_of, "month", cache)
    meeting = assessed = 0
    sections: dict[str, Any] = {}
    first_rows: dict[str, dict[Hashable, Any]] = {}  # (each section's first row)
    for record in year.to_dict("records"):
        first_rows.setdefault(str(record["section"]), record)
    for section_id in target.sections:
        section = settings.section(section_id)
        found = first_rows.get(section_id)
        if section.target_class is None or found is None:
            sections[section_id] = {
                "class": None if found is None else found["water_class"],
                "target_class": section.target_class,
                "assessable": False,
            }
            continue
        row = found
        ok = bool(row["meets"])
        assessed += 1
        meeting += ok
        sections[section_id] = {
            "class": row["water_class"],
            "basis": "mean of each item over the year to date (环办〔2011〕22号)",
            "samples": int(row["samples"]),
            "worst_sample_class": row["worst_sample_class"],
            "target_class": section.target_class,
            "meets": ok,
            "limiting_parameters": row["limiting_parameters"],
            "exceedance_multiples_vs_class_iii": row["exceedance_multiples"],
        }
        if not ok:
            sections[section_id]["exceedance_multiples_vs_target"] = _multiples(
                row["exceedance_multiples_target"]
            )
    monthly: dict[str, list[int]] = {}
    assessed_months = months[months["meets"].notna()]
    for period, meets in zip(assessed_months["period"], assessed_months["meets"], strict=True):
        counts = monthly.setdefault(str(period), [0, 0])
        counts[0] += int(bool(meets))
        counts[1] += 1
    if cache is not None and summary_key is not None:
        cache.river_sections[summary_key] = copy.deepcopy((meeting, assessed, sections, monthly))
    return _river_row(settings, target, as_of, meeting, assessed, sections, monthly)


def _river_row(
    settings: Settings,
    target: RiverClassTarget,
    as_of: date,
    meeting: int,
    assessed: int,
    sections: dict[str, Any],
    monthly: dict[str, list[int]],
) -> TargetProgress:
    """The progress row of a river target from its sections' assessment to ``as_of``."""
    final = as_of >= date(target.year, 12, 31)
    p = share_progress(
        meeting, assessed, len(target.sections), year=target.year, as_of=as_of, final=final
    )
    if all(settings.section(s).target_class is None for s in target.sections):
        n = len(target.sections)  # the cause, not just "no valid evaluation"
        p = dataclasses.replace(
            p,
            explanation_en=f"None of the {n} listed section(s) has a target class "
            "([[water_sections]] target_class, to confirm with the bureau): not assessable.",
            explanation_zh=f"所列{n}个断面均未设目标类别"
            "（设置文件 target_class，待主管部门确认），暂无法评估。",
        )
    return _row(
        target,
        None,
        as_of,
        "official",
        None,
        p,
        details={"sections": sections, "monthly_meeting_assessed": monthly},
    )


def _indicator_values(
    ledger: Ledger, target: MilestonesTarget | CountTarget, as_of: date, cache: _Cache | None
) -> pd.DataFrame:
    """The values reported for a target up to ``as_of``, oldest first; with ``cache`` read
    once up to the end of the target's year and cut to ``as_of`` here."""
    if cache is None:
        return ledger.query(
            "SELECT item, date, value, note, recorded_at FROM indicator_values WHERE target = ? "
            "AND date <= ? ORDER BY date, id",
            (target.id, as_of.isoformat()),
        )
    read = cache.indicators.get(target.id)
    if read is None:
        last = max(date(target.year, 12, 31), as_of)
        read = cache.indicators[target.id] = _indicator_values(ledger, target, last, None)
    # (oldest first: the values up to as_of are the first ones)
    up_to = int(np.searchsorted(read["date"].to_numpy(), as_of.isoformat(), "right"))
    return read.iloc[:up_to]


_Reported = TypeVar("_Reported", MilestonesTarget, CountTarget)
_Summary = TypeVar("_Summary")


def _once_per_report(
    cache: _Cache | None,
    target: _Reported,
    reported: pd.DataFrame,
    summarise: Callable[[_Reported, pd.DataFrame], _Summary],
) -> _Summary:
    """``summarise(target, reported)``; with ``cache``, once per number of values reported up
    to the as-of date (the as-of dates between two reports rest on the same values)."""
    if cache is None:
        return summarise(target, reported)
    key = (target.id, len(reported))
    if key not in cache.reported:
        cache.reported[key] = summarise(target, reported)
    result: _Summary = cache.reported[key]
    return result


def milestone_progress(
    ledger: Ledger, target: MilestonesTarget, as_of: date, cache: _Cache | None = None
) -> TargetProgress:
    """Milestone statuses: the latest reported status per item (settings' ``done`` dates
    count as completed)."""
    reported = _indicator_values(ledger, target, as_of, cache)
    latest, notes = _once_per_report(cache, target, reported, _latest_statuses)
    statuses, due, items = [], [], {}
    for item in target.items:
        status = latest[item.name]
        if item.done is not None and item.done <= as_of:
            status = "completed"
        statuses.append(status)
        due.append(item.due)
        items[item.name] = status
    p = milestones_progress(statuses, due, expected=target.expected_items, as_of=as_of)
    listing_en = "; ".join(
        f"{name}: {status}" + (f" (due {d})" if d else "")
        for (name, status), d in zip(items.items(), due, strict=True)
    )
    listing_zh = "；".join(
        f"{name}：{_MILESTONE_ZH[status]}" + (f"（期限{d}）" if d else "")
        for (name, status), d in zip(items.items(), due, strict=True)
    )
    p = dataclasses.replace(
        p,
        explanation_en=f"{target.year} to {as_of}: {p.explanation_en} {listing_en}.",
        explanation_zh=f"{target.year}年截至{as_of}：{p.explanation_zh}{listing_zh}。",
    )
    details = {"items": items, "notes": dict(notes)}
    return _row(target, None, as_of, "official", None, p, details=details)


def _latest_statuses(
    target: MilestonesTarget, reported: pd.DataFrame
) -> tuple[dict[str, str], dict[str, str]]:
    """The latest status reported for each item in the target's year (``not_started``
    when none) and the notes by item, from the values reported (oldest first)."""
    reported = reported[reported["date"] >= f"{target.year}-01-01"]
    latest = {}
    for item in target.items:
        mine = reported[reported["item"] == item.name]
        latest[item.name] = str(mine["value"].iloc[-1]) if len(mine) else "not_started"
    notes = {str(r["item"]): str(r["note"]) for r in reported.to_dict("records") if r["note"]}
    return latest, notes


_MILESTONE_ZH = {"not_started": "未开始", "started": "进行中", "completed": "已完成"}


def count_target_progress(
    ledger: Ledger, target: CountTarget, as_of: date, cache: _Cache | None = None
) -> TargetProgress:
    """The latest reported value of a count target in its year."""
    reported = _indicator_values(ledger, target, as_of, cache)
    value = _once_per_report(cache, target, reported, _latest_count)
    p = count_progress(
        value, target.goal, year=target.year, as_of=as_of, what_en=target.unit, what_zh=target.name
    )
    return _row(target, None, as_of, "official", None, p)


def _latest_count(target: CountTarget, reported: pd.DataFrame) -> float | None:
    """The latest usable count reported in the target's year (None: none yet)."""
    reported = reported[reported["date"] >= f"{target.year}-01-01"]
    numbers = pd.to_numeric(reported["value"], errors="coerce")
    numbers = numbers[np.isfinite(numbers) & (numbers >= 0)]  # unusable values never count
    return float(numbers.iloc[-1]) if len(numbers) else None


def compute_progress(
    ledger: Ledger,
    settings: Settings,
    *,
    as_of: date,
    year: int | None = None,
    target_id: str | None = None,
    cache: _Cache | None = None,
) -> list[TargetProgress]:
    """Progress of the configured targets (of ``year``, default ``as_of``'s year).

    ``cache`` (kept by the caller) lets a series of as-of dates read each area's days once
    and rate the river sections once per set of readings.
    """
    year = year or as_of.year
    cutoff = max(min(as_of, date(year, 12, 31)), date(year - 1, 12, 31))
    rows: list[TargetProgress] = []
    for target in settings.targets:
        if target.year != year or (target_id is not None and target.id != target_id):
            continue
        if isinstance(target, GoodDayRatioTarget):
            rule = settings.evaluation.valid_day_rule
            rows += good_day_progress(ledger, target, cutoff, cache, rule)
        elif isinstance(target, AnnualMeanTarget):
            rows.append(annual_mean_progress(ledger, target, cutoff, cache))
        elif isinstance(target, HeavyPollutionDaysTarget):
            rows.append(heavy_days_progress(ledger, target, cutoff, cache))
        elif isinstance(target, RiverClassTarget):
            rows.append(river_progress(ledger, settings, target, cutoff, cache))
        elif isinstance(target, MilestonesTarget):
            rows.append(milestone_progress(ledger, target, cutoff, cache))
        else:
            rows.append(count_target_progress(ledger, target, cutoff, cache))
    return rows


def store_progress(ledger: Ledger, rows: list[TargetProgress]) -> None:
    """Keep progress as a daily series (one row per target, variant and as-of date)."""
    if not rows:
        return
    now = int(datetime.now(UTC).timestamp())
    frame = pd.DataFrame(
        [
            {
                "target": r.id,
                "as_of": r.as_of,
                "variant": r.variant,
                "kind": r.kind,
                "area": r.area,
                "year": r.year,
                "standard": r.standard,
                "value": r.value,
                "goal": r.goal,
                "status": r.status,
                "budget_remaining": r.budget_remaining,
                "required_rate": r.required_rate,
                "projection": r.projection,
                "projection_low": r.projection_low,
                "projection_high": r.projection_high,
                "valid_days": r.valid_days,
                "good_days": r.good_days,
                "withheld_days": r.withheld_days,
                "ratio_low": r.ratio_low,
                "ratio_high": r.ratio_high,
                "explanation_zh": r.explanation_zh,
                "explanation_en": r.explanation_en,
                "details": json.dumps(r.details, ensure_ascii=False, default=str),
                "computed_at": now,
            }
            for r in rows
        ]
    ).astype(object)
    frame = frame.where(frame.notna(), None)
    ledger.replace_derived("target_progress", frame, ("target", "as_of", "variant"))


def progress_series(
    ledger: Ledger,
    settings: Settings,
    dates: Sequence[date],
    *,
    progress: Callable[[int, int], None] | None = None,
) -> list[TargetProgress]:
    """:func:`compute_progress` for each as-of date of ``dates`` (each of its own year), the
    same rows as each date alone, for less: what does not depend on the as-of date is read
    and counted once (the area's days as cumulative counts, indicator values, daily
    statistics and their valid means, a river target's readings, checked once for the
    whole year; the sets of readings its as-of dates rest on are cut from them, the
    readings near each cut checked again, and rated together, each once, a bounded number
    at a time: a set's year to date and open months on their means, its closed months as
    the year's).

    ``progress(done, total)`` is called after each as-of date.
    """
    rows: list[TargetProgress] = []
    cache = _Cache()
    for as_of in sorted(set(dates)):
        cache.dates.setdefault(as_of.year, []).append(as_of)
    for done, as_of in enumerate(dates, start=1):
        rows += compute_progress(ledger, settings, as_of=as_of, year=as_of.year, cache=cache)
        if progress is not None:
            progress(done, len(dates))
    return rows


def refresh_progress(
    ledger: Ledger,
    settings: Settings,
    dates: tuple[str, ...],
    today: date,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Recompute and store the daily progress series from the earliest changed date (within
    each target's year) through the last complete day (yesterday); returns the rows written.

    A change on day D moves every later as-of date, so all of them are recomputed;
    ``progress(done, total)`` is called after each as-of date.
    """
    last_complete = today - timedelta(days=1)
    years = sorted({t.year for t in settings.targets})
    wanted: set[date] = set()
    changed = sorted(date.fromisoformat(d) for d in dates)
    for year in years:
        end = min(last_complete, date(year, 12, 31))
        in_year = [d for d in changed if d.year == year]
        start = in_year[0] if in_year else end
        if end < date(year, 1, 1):
            continue
        day = max(start, date(year, 1, 1))
        while day <= end:
            wanted.add(day)
            day += timedelta(days=1)
    rows = progress_series(ledger, settings, sorted(wanted), progress=progress)
    store_progress(ledger, rows)
    return len(rows)
