"""Daily statistics of hourly air data with the data-validity rules of GB 3095 and HJ 663.

A day is an Asia/Shanghai calendar date. Chinese hourly values are labelled by the end of
the hour, and the values **labelled 00:00 … 23:00 of a date make that day**: this is what
reproduces the daily values the national platform publishes (its 23:00 24-hour moving mean
equals the published daily mean; see ``shared/DESIGN.md`` "Time").

Statistics (GB 3095-2026 §3; HJ 663-2013):

* 24-hour mean of SO2, NO2, CO, PM10, PM2.5 — valid with ≥ 20 hourly values
  (GB 3095-2026 Table 4; same in GB 3095-2012).
* O3 8-hour moving mean — the mean of 8 consecutive hourly values, valid with ≥ 6 of them
  (GB 3095 Table 4); the value labelled 08:00 is the mean of 01:00 … 08:00. **For O3 the
  day's hours are those labelled 01:00 … 24:00** (24:00 = the next date's 00:00 label):
  the platform's O3 8-hour value restarts at 01:00 (at 01:00 … 08:00 it is the mean of
  01:00 … that hour) and the 00:00 label closes the previous day's last window
  (``standards.md`` §2.9, checked on every station of a national day).
* O3 daily maximum 8-hour mean (MDA8) — the largest valid 8-hour mean among the day's
  windows (:class:`Mda8Windows`); valid with ≥ 14 valid windows of the 17 ending 08:00 …
  24:00 (HJ 663-2013), or, with fewer, when it exceeds the 8-hour limit (160 µg/m³)
  because an exceedance cannot be undone by more data. "Exceeds" compares the value as
  published (rounded to an integer, GB/T 8170 rounded-value comparison).
* O3 daily maximum 1-hour value — HJ 663 sets no count for it; project decision: the same
  ≥ 20 hourly values as the daily means, or, with fewer, when it exceeds the 1-hour limit
  (200 µg/m³).

Rounding: statistics are rounded by GB/T 8170 (round half to even) to integers µg/m³ and
CO to 0.1 mg/m³, as the platform publishes them and as HJ 633-2026 §4.2.2 rates them
([M] HJ 663-2013 修约; HJ 663-2026 text not obtained). ``round_statistics=False`` keeps
the full precision.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Final

import numpy as np
import numpy.typing as npt

from monitor.domain.aqi import CONCENTRATION_DECIMALS, round_half_even
from monitor.domain.pollutants import Pollutant

if TYPE_CHECKING:
    import pandas as pd
else:
    from monitor.domain._deferred import pandas as pd

__all__ = [
    "DAILY_MEANS",
    "DAILY_STATISTICS",
    "DEFAULT_RULES",
    "LOCAL_TZ",
    "Mda8Windows",
    "ValidityRules",
    "area_means",
    "daily_statistics",
    "day_starts",
    "moving_means",
    "round_daily_statistics",
    "row_means",
    "with_so2_24h",
]

#: Time zone whose calendar dates make the days.
LOCAL_TZ: Final = "Asia/Shanghai"

#: 24-hour mean statistics, in output order.
DAILY_MEANS: Final = ("so2", "no2", "co", "pm10", "pm2_5")
#: All daily statistics, in output order.
DAILY_STATISTICS: Final = (*DAILY_MEANS, "o3_1h_max", "o3_8h_max")


class Mda8Windows(StrEnum):
    """Which 8-hour windows the O3 daily maximum 8-hour mean is taken over.

    The O3 day is the hours labelled 01:00 … 24:00 (24:00 = the next date's 00:00 label),
    as HJ 663-2013 counts them and as the platform's O3 8-hour values show (``standards.md``
    §2.2, §2.9).

    ``WITHIN_DAY`` (default, both rule sets) — the 17 windows whose 8 hours all belong to
    the day: ending at 08:00 … 24:00, the first being the labels 01:00 … 08:00, the last
    17:00 … the next date's 00:00 (HJ 663-2013). Needs ≥ 14 valid windows. GB 3095-2026
    defines MDA8 as the largest 8-hour mean "within a natural day" (§3), which these
    windows satisfy; HJ 663-2026 was not obtained (docs/methods.md).

    ``ENDING_IN_DAY`` — the 24 windows ending at 01:00 … 24:00, the early ones reaching into
    the previous day (another reading of "within a natural day"; one third-party
    "HJ 663-2026" implementation reads the previous day's last 7 hours). Needs ≥ 20 valid
    windows (project decision, the same share as the 20 of 24 hours of a daily mean).
    """

    WITHIN_DAY = "within-day"
    ENDING_IN_DAY = "ending-in-day"


@dataclass(frozen=True)
class ValidityRules:
    """Minimum data for a valid statistic (GB 3095-2026 Table 4; HJ 663-2013).

    Attributes
    ----------
    min_hours_per_day : int
        Hourly values needed for a 24-hour mean (≥ 20).
    min_hours_per_8h : int
        Hourly values needed for an 8-hour mean (≥ 6).
    min_windows_within_day : int
        Valid 8-hour means needed for MDA8 with ``WITHIN_DAY`` windows (≥ 14 of 17).
    min_windows_ending_in_day : int
        Valid 8-hour means needed for MDA8 with ``ENDING_IN_DAY`` windows (≥ 20 of 24).
    o3_8h_limit : float
        O3 8-hour limit above which an incomplete MDA8 is still valid [µg/m³] (160,
        GB 3095 level 2).
    o3_1h_limit : float
        O3 1-hour limit above which an incomplete daily 1-hour max is still valid [µg/m³]
        (200, GB 3095 level 2).
    """

    min_hours_per_day: int = 20
    min_hours_per_8h: int = 6
    min_windows_within_day: int = 14
    min_windows_ending_in_day: int = 20
    o3_8h_limit: float = 160.0
    o3_1h_limit: float = 200.0


DEFAULT_RULES: Final = ValidityRules()


def _local_labels(times: pd.Series | pd.DatetimeIndex) -> pd.DatetimeIndex:
    index = pd.DatetimeIndex(times)
    if index.tz is None:
        return index
    return index.tz_convert(LOCAL_TZ).tz_localize(None)


def _check_hourly(frame: pd.DataFrame, labels: pd.DatetimeIndex) -> None:
    for column in ("site", "time"):
        if column not in frame.columns:
            raise ValueError(f"hourly data needs a {column!r} column; got {list(frame.columns)}")
    if labels.isna().any():
        raise ValueError("hourly data has missing times; expected an hour label on every row")
    off_hour = labels != labels.floor("h")
    if off_hour.any():
        raise ValueError(
            f"time {labels[off_hour][0]} is not on the hour; expected hourly labels (HH:00)"
        )
    keys = pd.DataFrame({"site": frame["site"].to_numpy(), "t": labels})
    dup = keys.duplicated()
    if dup.any() and isinstance(frame["time"].dtype, pd.DatetimeTZDtype):
        # one label, two instants: the hour Asia/Shanghai's clocks showed twice when summer
        # time ended (1986-1991, local 01:00): two hours, neither a duplicate
        keys["t"] = frame["time"].to_numpy()
        dup = keys.duplicated()
    if dup.any():
        at = int(np.flatnonzero(dup.to_numpy())[0])  # (named by its local label, as before)
        raise ValueError(
            f"site {keys['site'].iloc[at]!r} has two values labelled {labels[at]}; "
            "expected one per hour"
        )


def _hour_matrix(
    values: npt.NDArray[np.float64],
    row: npt.NDArray[np.intp],
    hour: npt.NDArray[np.intp],
    n: int,
    width: int = 24,
) -> npt.NDArray[np.float64]:
    matrix = np.full((n, width), np.nan)
    matrix[row, hour] = values
    return matrix


def day_starts(days: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """The first instant of each local date ``days`` (naive midnights), Asia/Shanghai with
    its history: local midnight; in 1986-1991 the clocks changed at 01:00-03:00, but in 1919
    and 1940-1949 at midnight (a 00:00 never shown: the day begins at 01:00 UTC+9; one
    shown twice: at its first showing).

    >>> [t.isoformat() for t in day_starts(pd.DatetimeIndex(["2026-01-01", "1940-06-01"]))]
    ['2026-01-01T00:00:00+08:00', '1940-06-01T01:00:00+09:00']
    """
    earlier = np.ones(len(days), dtype=bool)
    return days.tz_localize(LOCAL_TZ, ambiguous=earlier, nonexistent="shift_forward")


#: Local midnight after which Asia/Shanghai kept UTC+8 all year (summer time 1986-1991).
_UTC8_THROUGHOUT: Final = "1992-01-01"


def _hours_of_days(
    times: pd.Series, dates: pd.DatetimeIndex
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.int64], pd.DatetimeIndex] | None:
    """Where a day had other than 24 hours (Asia/Shanghai's summer time, 1986-1991): each
    hour's place in its day (hours since the local midnight that began it), the hours of
    each distinct date and those dates; None when every day of ``times`` had 24 hours.

    The day the clocks went back (e.g. 1991-09-15, local 02:00 UTC+9 → 01:00 UTC+8) has 25
    hours, the label 01:00 twice (places 1 and 2); the day they went forward (e.g.
    1991-04-14, 02:00 UTC+8 → 03:00 UTC+9) 23, no label 02:00 (03:00 is place 2). Only
    for tz-aware ``times`` (naive labels do not say which of two hours they are)."""
    if not isinstance(times.dtype, pd.DatetimeTZDtype) or not len(times):
        return None
    instants = pd.DatetimeIndex(times).tz_convert("UTC")
    if instants.min() >= pd.Timestamp(_UTC8_THROUGHOUT, tz=LOCAL_TZ):
        return None
    codes, distinct = pd.factorize(dates)
    days = pd.DatetimeIndex(distinct)
    starts = day_starts(days)
    ends = day_starts(days + pd.Timedelta(days=1))
    hours = ((ends - starts) // pd.Timedelta(hours=1)).to_numpy(dtype=np.int64)
    if (hours == 24).all():
        return None
    since = instants - starts.tz_convert("UTC")[codes]
    place = (since // pd.Timedelta(hours=1)).to_numpy().astype(np.intp)
    return place, hours, days


def daily_statistics(
    hourly: pd.DataFrame,
    *,
    mda8_windows: Mda8Windows = Mda8Windows.WITHIN_DAY,
    rules: ValidityRules = DEFAULT_RULES,
    round_statistics: bool = True,
) -> pd.DataFrame:
    """Daily statistics per site and date, with their validity.

    Parameters
    ----------
    hourly : DataFrame
        Columns ``site``, ``time`` (hour label, the end of the hour; tz-aware, or naive in
        Asia/Shanghai) and any of ``so2, no2, co, o3, pm10, pm2_5`` (1-hour means
        [µg/m³; CO mg/m³]; NaN = missing). One row per site and hour.
    mda8_windows : Mda8Windows
        Windows of the O3 daily maximum 8-hour mean.
    rules : ValidityRules
        Minimum data counts.
    round_statistics : bool
        Round statistics by GB/T 8170 as published (integers; CO 0.1 mg/m³).

    Returns
    -------
    DataFrame
        One row per site and date, sorted: ``site``, ``date`` (datetime64, local midnight),
        the statistics ``so2, no2, co, pm10, pm2_5, o3_1h_max, o3_8h_max`` (computed from
        the data present even when invalid; NaN when there is none), ``<statistic>_valid``
        (bool) and ``<statistic>_count`` (hourly values, or valid 8-hour windows for
        ``o3_8h_max``).

    Raises
    ------
    ValueError
        If ``site``/``time`` is missing, a time is not on the hour, or a site has two values
        for one hour.

    Examples
    --------
    >>> times = pd.date_range("2026-03-01 00:00", periods=24, freq="h", tz=LOCAL_TZ)
    >>> hours = pd.DataFrame({"site": "1099A", "time": times, "pm2_5": range(24)})
    >>> day = daily_statistics(hours)
    >>> day[["pm2_5", "pm2_5_valid", "pm2_5_count"]].to_dict("records")
    [{'pm2_5': 12.0, 'pm2_5_valid': True, 'pm2_5_count': 24}]
    """
    labels = _local_labels(hourly["time"]) if "time" in hourly.columns else pd.DatetimeIndex([])
    _check_hourly(hourly, labels)
    dates = labels.normalize()
    site_codes, sites = pd.factorize(hourly["site"].to_numpy(), sort=True)
    day_number = ((dates - dates.min()) // pd.Timedelta(days=1)).to_numpy(dtype=np.int64)
    n_days = int(day_number.max()) + 2 if len(day_number) else 1
    key = site_codes.astype(np.int64) * n_days + day_number
    row, unique_keys = pd.factorize(key, sort=True)
    n = len(unique_keys)
    hour = labels.hour.to_numpy().astype(np.intp)
    row = row.astype(np.intp)
    # A day of 23 or 25 hours (summer time, 1986-1991): its hours placed in time order
    # (25 columns), each day's statistics over its own hours, its 8-hour windows over
    # consecutive hours (:func:`_mda8` with ``lengths``).
    width, lengths = 24, None
    uneven = _hours_of_days(hourly["time"], dates) if len(hourly) else None
    if uneven is not None:
        hour, day_hours, day_dates = uneven
        width = 25
        of_day = np.full(n_days, 24, dtype=np.int64)
        of_day[((day_dates - dates.min()) // pd.Timedelta(days=1)).to_numpy()] = day_hours
        lengths = of_day[unique_keys % n_days]
    out = pd.DataFrame(
        {
            "site": sites[unique_keys // n_days],
            "date": (dates.min() if len(dates) else pd.Timestamp(0))
            + pd.to_timedelta(unique_keys % n_days, unit="D"),
        }
    )

    def series(name: str) -> npt.NDArray[np.float64]:
        if name not in hourly.columns:
            return np.full(len(hourly), np.nan)
        values: npt.NDArray[np.float64] = hourly[name].to_numpy(dtype=float, na_value=np.nan)
        return values

    def finish(name: str, pollutant: Pollutant, value: npt.NDArray[np.float64]) -> None:
        if round_statistics:
            value = round_half_even(value, CONCENTRATION_DECIMALS[pollutant])
        out[name] = value

    for name in DAILY_MEANS:
        matrix = _hour_matrix(series(name), row, hour, n, width)
        count = (~np.isnan(matrix)).sum(axis=1)
        zeroed = np.where(np.isnan(matrix), 0.0, matrix)  # as np.nansum fills them
        finish(name, Pollutant(name), row_means(zeroed, count))
        out[f"{name}_valid"] = count >= rules.min_hours_per_day
        out[f"{name}_count"] = count

    o3 = _hour_matrix(series("o3"), row, hour, n, width)
    o3_count = (~np.isnan(o3)).sum(axis=1)
    o3_max = np.full(n, np.nan)
    o3_max[o3_count > 0] = np.nanmax(o3[o3_count > 0], axis=1)
    finish("o3_1h_max", Pollutant.O3, o3_max)
    out["o3_1h_max_valid"] = (o3_count >= rules.min_hours_per_day) | _exceeds(
        o3_max, rules.o3_1h_limit
    )
    out["o3_1h_max_count"] = o3_count

    mda8, windows = _mda8(o3.T, unique_keys, mda8_windows, rules, lengths)
    finish("o3_8h_max", Pollutant.O3, mda8)
    needed = (
        rules.min_windows_within_day
        if mda8_windows is Mda8Windows.WITHIN_DAY
        else rules.min_windows_ending_in_day
    )
    out["o3_8h_max_valid"] = (windows >= needed) | _exceeds(mda8, rules.o3_8h_limit)
    out["o3_8h_max_count"] = windows

    ordered = ["site", "date", *DAILY_STATISTICS]
    ordered += [f"{s}_valid" for s in DAILY_STATISTICS] + [f"{s}_count" for s in DAILY_STATISTICS]
    return out[ordered]


#: Power of two by which the values of a sum that overflowed are summed again. Scaling by a
#: power of two rounds nothing (above the subnormals), and 2^-10 leaves room for 1,024 of
#: the largest doubles (about 1.8e308) in one sum.
_OVERFLOW_SCALE: Final = 2.0**-10


def row_means(
    matrix: npt.NDArray[np.float64], count: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """Mean of each row's values, NaN for a row without any.

    ``matrix`` holds a row's values with 0 in place of the missing ones (``count`` values
    present): the sums are ``matrix.sum(axis=1)``, as ``np.nansum`` of the values with NaN
    makes them. A row of finite values whose sum overflows (two values of 1e308 in a day)
    is summed again scaled by :data:`_OVERFLOW_SCALE`, so its mean is the finite mean of
    its values instead of infinity, which no breakpoint table rates; every other row keeps
    the plain sum's bits.
    """
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        sums = matrix.sum(axis=1)
        mean: npt.NDArray[np.float64] = np.where(count > 0, sums / count, np.nan)
        over = np.isinf(sums)
        if over.any():  # (a row holding an infinite value stays infinite)
            scaled = (matrix[over] * _OVERFLOW_SCALE).sum(axis=1) / count[over]
            mean[over] = scaled / _OVERFLOW_SCALE
    return mean


def _exceeds(value: npt.NDArray[np.float64], limit: float) -> npt.NDArray[np.bool_]:
    """Whether a statistic exceeds a limit, compared as published: rounded to an integer
    (GB/T 8170 rounded-value comparison), so 200.4 µg/m³ published as 200 does not exceed 200.
    """
    exceeds: npt.NDArray[np.bool_] = round_half_even(value, 0) > limit
    return exceeds


def round_daily_statistics(statistics: pd.DataFrame) -> pd.DataFrame:
    """The statistic columns rounded as published (GB/T 8170: integers µg/m³, CO 0.1 mg/m³).

    Other columns are copied unchanged.

    Examples
    --------
    >>> day = pd.DataFrame({"co": [0.85], "pm2_5": [77.5], "o3_8h_max": [90.5]})
    >>> round_daily_statistics(day).to_dict("records")
    [{'co': 0.8, 'pm2_5': 78.0, 'o3_8h_max': 90.0}]
    """
    rounded = statistics.copy()
    for name in DAILY_STATISTICS:
        if name in rounded.columns:
            pollutant = Pollutant(name.split("_1h")[0].split("_8h")[0])
            rounded[name] = round_half_even(rounded[name], CONCENTRATION_DECIMALS[pollutant])
    return rounded


def _mda8(
    by_hour: npt.NDArray[np.float64],
    keys: npt.NDArray[np.int64],
    windows: Mda8Windows,
    rules: ValidityRules,
    lengths: npt.NDArray[np.int64] | None = None,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Largest valid 8-hour mean of each day and the number of valid windows.

    ``by_hour`` holds the O3 values one row per hour of the day (0 … 23) and one column
    per day (``keys``, sorted: site × dates + date), NaN where missing. The hours are laid
    out so throughout: the running sums then add whole rows of days at a time, each day's
    sums made in the same order, so with the same bits, as along a row of its own.

    ``lengths``: the hours of each day where some day had 23 or 25 (summer time,
    1986-1991; ``by_hour`` then has 25 rows, a day's hours in time order from row 0):
    each window is 8 consecutive hours ("8 consecutive hourly means", GB 3095-2026 §3),
    also across the change; a day of L hours has L - 7 windows within it (16 on a 23-hour
    day, 18 on a 25-hour one; the same ≥ 14 valid needed) and L ending in it.
    """
    n = by_hour.shape[1]
    if lengths is None:
        # Around the date's labels 00:00 … 23:00 (rows 7 … 30), the previous date's labels
        # 17:00 … 23:00 of the same site (rows 0 … 6) and the next date's 00:00 (row 31,
        # the day's 24:00), when present. A window ending at the day's hour e (1 … 24)
        # covers rows e .. e+7.
        extended = np.full((32, n), np.nan)
        extended[7:31] = by_hour
        position = np.searchsorted(keys, keys - 1)
        has_previous = (position < n) & (keys[np.minimum(position, n - 1)] == keys - 1)
        extended[:7, has_previous] = by_hour[17:, position[has_previous]]
        position = np.searchsorted(keys, keys + 1)
        has_next = (position < n) & (keys[np.minimum(position, n - 1)] == keys + 1)
        extended[31, has_next] = by_hour[0, position[has_next]]
        return _mda8_of(extended, 24, windows, rules)
    mda8, n_valid = np.full(n, np.nan), np.zeros(n, dtype=np.int64)
    before = np.searchsorted(keys, keys - 1)
    has_previous = (before < n) & (keys[np.minimum(before, n - 1)] == keys - 1)
    after = np.searchsorted(keys, keys + 1)
    has_next = (after < n) & (keys[np.minimum(after, n - 1)] == keys + 1)
    for hours in np.unique(lengths).tolist():
        days = np.flatnonzero(lengths == hours)
        extended = np.full((hours + 8, len(days)), np.nan)
        extended[7 : 7 + hours] = by_hour[:hours, days]
        previous = has_previous[days]
        day_before = before[days][previous]
        last_seven = lengths[day_before][None, :] - 7 + np.arange(7)[:, None]
        extended[:7, previous] = by_hour[last_seven, day_before[None, :]]
        following = has_next[days]
        extended[hours + 7, following] = by_hour[0, after[days][following]]
        mda8[days], n_valid[days] = _mda8_of(extended, hours, windows, rules)
    return mda8, n_valid


def _mda8_of(
    extended: npt.NDArray[np.float64], hours: int, windows: Mda8Windows, rules: ValidityRules
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """:func:`_mda8` of days of ``hours`` hours laid out with the previous day's last 7
    hours before them and the next day's first after them (``hours`` + 8 rows)."""
    present = ~np.isnan(extended)
    zeroed = np.where(present, extended, 0.0)
    counts = _running_sums(present)
    first_end = 8 if windows is Mda8Windows.WITHIN_DAY else 1
    # the window ending at the day's hour e (first_end … hours): running sums e+8 less e
    ends, starts = slice(first_end + 8, hours + 9), slice(first_end, hours + 1)
    window_count = counts[ends] - counts[starts]
    valid = window_count >= rules.min_hours_per_8h

    def window_sums(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        sums = _running_sums(values)
        found: npt.NDArray[np.float64] = sums[ends] - sums[starts]
        return found

    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        window_sum = window_sums(zeroed)
        # a running sum that overflowed (values near 1e308): those days summed again
        # scaled by a power of two (as row_means does), the others keep their bits
        over = ~np.isfinite(window_sum).all(axis=0) & np.isfinite(zeroed).all(axis=0)
        means = np.where(valid, window_sum / window_count, np.nan)
        if over.any():
            scaled = window_sums(zeroed[:, over] * _OVERFLOW_SCALE) / window_count[:, over]
            means[:, over] = np.where(valid[:, over], scaled / _OVERFLOW_SCALE, np.nan)
    n_valid = valid.sum(axis=0).astype(np.int64)
    # np.nanmax without its warning: NaN for a day without a valid window
    mda8: npt.NDArray[np.float64] = np.fmax.reduce(means, axis=0)
    return mda8, n_valid


def _running_sums(
    rows: npt.NDArray[np.float64] | npt.NDArray[np.bool_],
) -> npt.NDArray[np.float64]:
    """0 and the running sums of ``rows`` down the first axis (``np.cumsum(rows, axis=0)``
    after a row of zeros): the same additions in the same order, a whole row at a time
    (numpy's cumsum down the first axis goes one column at a time, much slower)."""
    sums = np.zeros((len(rows) + 1, *rows.shape[1:]))
    for k in range(len(rows)):
        np.add(sums[k], rows[k], out=sums[k + 1])
    return sums


def moving_means(hourly: pd.DataFrame, rules: ValidityRules = DEFAULT_RULES) -> pd.DataFrame:
    """Trailing moving means per site, for the HJ 633-2012 real-time indicators.

    Returns ``so2_24h``, ``pm10_24h``, ``pm2_5_24h`` (mean of the 24 labels ending at the
    row's label; valid with ≥ ``min_hours_per_day`` values) and ``o3_8h``, row for row with
    ``hourly`` (same index). Gaps in time count as missing hours.

    ``o3_8h`` is the O3 8-hour moving mean as the national platform publishes it: the mean
    of the 8 labels ending at the row's label, but **never reaching back past 01:00** — at
    01:00 … 08:00 it is the mean of 01:00 … that hour, and the 00:00 label closes the
    previous day's window (17:00 … 00:00); the O3 day is 01:00 … 24:00 (HJ 663-2013;
    ``standards.md`` §2.9). Valid with ≥ ``min_hours_per_8h`` values (GB 3095 Table 4), or,
    in a window shortened by the restart, with every one of its hours.

    Examples
    --------
    >>> times = pd.date_range("2026-01-01 01:00", periods=8, freq="h")
    >>> hours = pd.DataFrame({"site": "A", "time": times, "o3": [80.0] * 7 + [160.0]})
    >>> moving_means(hours)["o3_8h"].tolist()[:2], moving_means(hours)["o3_8h"].tolist()[-1]
    ([80.0, 80.0], 90.0)
    """
    labels = _local_labels(hourly["time"]) if "time" in hourly.columns else pd.DatetimeIndex([])
    _check_hourly(hourly, labels)
    specs: Mapping[str, tuple[str, str, int]] = {
        "so2_24h": ("so2", "24h", rules.min_hours_per_day),
        "pm10_24h": ("pm10", "24h", rules.min_hours_per_day),
        "pm2_5_24h": ("pm2_5", "24h", rules.min_hours_per_day),
    }
    frame = pd.DataFrame(
        {"site": hourly["site"].to_numpy(), "t": labels, "row": np.arange(len(hourly))}
    )
    # A window's sum of values near the largest float overflows (pandas' rolling mean then
    # gives inf or NaN): such a column is summed scaled by 2**-5 (exact; 24 values fit).
    scaled: dict[str, float] = {}
    for source in ("so2", "pm10", "pm2_5", "o3"):
        frame[source] = (
            hourly[source].to_numpy(dtype=float, na_value=np.nan)
            if source in hourly.columns
            else np.nan
        )
        scaled[source] = 2.0**5 if (frame[source] > np.finfo(np.float64).max / 32).any() else 1.0
        if scaled[source] != 1.0:
            frame[source] /= scaled[source]
    # The O3 day of a label: 01:00 … 24:00, so 00:00 belongs to the date before.
    frame["o3_day"] = (labels - pd.Timedelta(hours=1)).normalize()
    frame = frame.sort_values(["site", "t"])
    result = pd.DataFrame(index=hourly.index)
    rows = frame["row"].to_numpy()
    grouped = frame.set_index("t").groupby("site", sort=False)
    for name, (source, window, minimum) in specs.items():
        rolled = grouped[source].rolling(window, min_periods=minimum).mean()
        column = np.full(len(hourly), np.nan)
        column[rows] = rolled.to_numpy() * scaled[source]
        result[name] = column
    o3 = frame.set_index("t").groupby(["site", "o3_day"], sort=False)["o3"].rolling("8h")
    mean = o3.mean().to_numpy() * scaled["o3"]
    count = o3.count().to_numpy()
    # Hours the window can hold: 8, fewer at 01:00 … 07:00 after the restart.
    since = (frame["t"] - frame["o3_day"]).to_numpy(dtype="timedelta64[ns]")
    hour_in_day = since // np.timedelta64(1, "h")
    needed = np.minimum(rules.min_hours_per_8h, hour_in_day)
    column = np.full(len(hourly), np.nan)
    column[rows] = np.where(count >= needed, mean, np.nan)
    result["o3_8h"] = column
    return result[["so2_24h", "pm10_24h", "pm2_5_24h", "o3_8h"]]


def with_so2_24h(hourly: pd.DataFrame, rules: ValidityRules = DEFAULT_RULES) -> pd.DataFrame:
    """``hourly`` with ``so2_24h``, the SO2 24-hour moving mean [µg/m³], where it is rated.

    HJ 633-2012 Table 1 note: an SO2 1-hour value above 800 µg/m³ gets no IAQI of its own;
    the SO2 IAQI of that hour is the one of the 24-hour (moving) mean
    (:func:`monitor.domain.aqi.hourly_aqi` reads ``so2_24h``). The mean is that of
    :func:`moving_means` (labels t − 23 h … t, ≥ 20 values); it is computed only when some
    1-hour SO2 is above 800 (otherwise it is never read and the column is absent), so give
    the hours before the first one evaluated (the day before).

    Parameters
    ----------
    hourly : DataFrame
        ``site``, ``time`` (hour labels) and ``so2`` (1-hour means [µg/m³]); one row per
        site and hour.

    Returns
    -------
    DataFrame
        A copy of ``hourly`` with ``so2_24h`` added when needed.

    Examples
    --------
    >>> times = pd.date_range("2026-02-09 11:00", periods=24, freq="h")
    >>> hours = pd.DataFrame({"site": "A", "time": times,
    ...                       "so2": [150.0] * 21 + [75.0] * 2 + [900.0]})
    >>> with_so2_24h(hours)["so2_24h"].iloc[-1]
    np.float64(175.0)
    """
    out = hourly.copy()
    if "so2" in hourly.columns and bool((hourly["so2"] > _SO2_1H_TOP).any()):
        so2 = hourly[["site", "time", "so2"]]
        if isinstance(so2["time"].dtype, pd.DatetimeTZDtype):
            # the 24 hours ending at each instant, also where 24 local labels back span 25
            # or 23 hours (summer time, 1986-1991): labelled on UTC+8 throughout, which are
            # Asia/Shanghai's own labels from 1992 on
            so2 = so2.assign(time=so2["time"].dt.tz_convert(_UTC8).dt.tz_localize(None))
        out["so2_24h"] = moving_means(so2, rules)["so2_24h"].to_numpy()
    return out


#: UTC+8 without summer time (the tz database's sign is inverted: ``Etc/GMT-8`` is UTC+8).
_UTC8: Final = "Etc/GMT-8"


#: Top of the SO2 1-hour breakpoints (HJ 633-2012 Table 1) [µg/m³].
_SO2_1H_TOP: Final = 800.0


def area_means(
    frame: pd.DataFrame,
    membership: Mapping[str, Sequence[str]],
    keys: Sequence[str],
    values: Sequence[str],
    *,
    min_sites: int = 1,
) -> pd.DataFrame:
    """Area concentrations: the mean of the member sites' values, per key and column.

    The city or district value of a pollutant is the arithmetic mean of its evaluation
    sites' concentrations; the area AQI is then computed from those means, never as a mean
    of AQIs (HJ 633-2026 §4.2.2 → HJ 663; [M] HJ 663-2013 "城市尺度").

    Parameters
    ----------
    frame : DataFrame
        Site values: a ``site`` column, the ``keys`` (e.g. ``time`` or ``date``) and the
        ``values`` columns; NaN (or invalid values set to NaN) are left out of the mean.
    membership : mapping of area id → site codes
        Sites that count for each area (a control site belongs to none).
    keys, values : sequence of str
        Grouping columns and value columns.
    min_sites : int
        Sites with a value needed for an area value (fewer → NaN).

    Returns
    -------
    DataFrame
        ``area``, the keys, each value column (mean) and ``<value>_sites`` (sites used).

    Examples
    --------
    >>> sites = pd.DataFrame({"site": ["A", "B", "C"], "date": ["d1"] * 3,
    ...                       "pm2_5": [30.0, 50.0, None]})
    >>> area_means(sites, {"city": ["A", "B", "C"]}, ["date"], ["pm2_5"]).to_dict("records")
    [{'area': 'city', 'date': 'd1', 'pm2_5': 40.0, 'pm2_5_sites': 2}]
    """
    pairs = [(area, site) for area, sites in membership.items() for site in sites]
    links = pd.DataFrame(pairs, columns=["area", "site"])
    joined = frame[["site", *keys, *values]].merge(links, on="site", how="inner")
    grouped = joined.groupby(["area", *keys], sort=True)
    with np.errstate(over="ignore"):  # (an overflowing sum is done again just below)
        means = grouped[list(values)].mean()
    if np.isinf(means.to_numpy(dtype=float)).any():
        # a sum that overflowed (values near 1e308): those means again from the values
        # scaled by a power of two, as row_means does; the others keep their bits
        scaled = joined.assign(**{v: joined[v] * _OVERFLOW_SCALE for v in values})
        rescued = scaled.groupby(["area", *keys], sort=True)[list(values)].mean()
        means = means.where(~np.isinf(means), rescued / _OVERFLOW_SCALE)
    counts = grouped[list(values)].count().add_suffix("_sites")
    out = pd.concat([means, counts], axis=1).reset_index()
    for value in values:
        too_few = out[f"{value}_sites"].to_numpy() < min_sites
        if too_few.any():  # (a mean of no site is NaN already: the rule with min_sites 1)
            out.loc[too_few, value] = np.nan
    return out[["area", *keys, *[c for v in values for c in (v, f"{v}_sites")]]]
