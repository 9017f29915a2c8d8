"""Daily statistics, moving means and area means with the GB 3095 / HJ 663 validity rules.

References (``shared/reference/standards.md``): §2.1 (GB 3095-2026 Table 4: ≥ 20 hourly
values for a daily mean, ≥ 6 in an 8 h window), §2.2 (MDA8: the 17 windows of the day,
≥ 14 valid, or an exceedance), §2.3 (the values labelled 00:00 … 23:00 make a day, Asia/
Shanghai), §2.4 (area value = mean of site concentrations, AQI from the means), §1.2
(GB/T 8170 rounding: integers µg/m³, CO 0.1 mg/m³). Expected values are worked by hand.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from monitor.domain.aqi import AqiStandard, daily_aqi, individual_aqi
from monitor.domain.daily import (
    Mda8Windows,
    area_means,
    daily_statistics,
    moving_means,
    row_means,
    with_so2_24h,
)
from monitor.domain.pollutants import Indicator

NAN = float("nan")
TZ = "Asia/Shanghai"


def _hours(
    start: str,
    values: list[float],
    column: str = "pm2_5",
    site: str = "A",
    tz: str | None = None,
) -> pd.DataFrame:
    """Consecutive hourly rows from ``start`` (a label, the end of the hour)."""
    times = pd.date_range(start, periods=len(values), freq="h", tz=tz)
    return pd.DataFrame({"site": site, "time": times, column: values})


def _at(
    start: str, labels: list[int], value: float | list[float], site: str = "A"
) -> pd.DataFrame:
    """O3 rows at the given hour labels of the date of ``start`` only (other hours absent)."""
    day = pd.Timestamp(start)
    values = value if isinstance(value, list) else [value] * len(labels)
    times = [day + pd.Timedelta(hours=h) for h in labels]
    return pd.DataFrame({"site": site, "time": times, "o3": values})


def _one(frame: pd.DataFrame, date: str, site: str = "A") -> pd.Series:
    rows = frame[(frame["site"] == site) & (frame["date"] == pd.Timestamp(date))]
    assert len(rows) == 1
    return rows.iloc[0]


# ---------------------------------------------------------------------------------------
# The day: labels 00:00 … 23:00 of a local date (standards.md §2.3; shared/DESIGN.md "Time")


def test_day_is_labels_00_to_23() -> None:
    """A value labelled next-day 00:00 belongs to the next day, not to the day it closes."""
    # 24 × 10 at 2026-03-01 00:00 … 23:00, then 1000 at 2026-03-02 00:00.
    # A 01:00 … 24:00 day would give (23·10 + 1000)/24 = 51.25 instead of 10.
    out = daily_statistics(_hours("2026-03-01 00:00", [10.0] * 24 + [1000.0]))
    assert out["date"].tolist() == [pd.Timestamp("2026-03-01"), pd.Timestamp("2026-03-02")]
    assert out["pm2_5"].tolist() == [10.0, 1000.0]
    assert out["pm2_5_count"].tolist() == [24, 1]
    assert out["pm2_5_valid"].tolist() == [True, False]


def test_utc_times_are_converted_to_shanghai_dates() -> None:
    """Tz-aware UTC labels are assigned to Asia/Shanghai dates (UTC+8)."""
    # 2026-02-28 16:00Z … 2026-03-01 15:00Z = 2026-03-01 00:00 … 23:00 CST; then 16:00Z
    # = 2026-03-02 00:00 CST.
    hourly = _hours("2026-02-28 16:00", [20.0] * 24 + [90.0], tz="UTC")
    out = daily_statistics(hourly)
    assert out["date"].tolist() == [pd.Timestamp("2026-03-01"), pd.Timestamp("2026-03-02")]
    assert out["pm2_5"].tolist() == [20.0, 90.0]
    assert out["pm2_5_count"].tolist() == [24, 1]


def test_shanghai_aware_and_naive_times_agree() -> None:
    """Naive times are read as Asia/Shanghai: the same as tz-aware Shanghai times."""
    values = [float(v) for v in range(30)]
    naive = daily_statistics(_hours("2026-03-01 00:00", values))
    aware = daily_statistics(_hours("2026-03-01 00:00", values, tz=TZ))
    pd.testing.assert_frame_equal(naive, aware)
    # labels 00 … 23 hold 0 … 23 → mean 11.5 → 12 (half-even); next day 24 … 29 → 26.5 → 26
    assert naive["pm2_5"].tolist() == [12.0, 26.0]


# ---------------------------------------------------------------------------------------
# Daily means: ≥ 20 hourly values (GB 3095-2026 Table 4)


@pytest.mark.parametrize(
    ("hours", "valid"), [(24, True), (20, True), (19, False), (1, False)], ids=str
)
def test_daily_mean_needs_20_hours(hours: int, valid: bool) -> None:
    """A daily mean is valid with ≥ 20 hourly values; with 19 it is computed but invalid."""
    out = daily_statistics(_hours("2026-03-01 00:00", [30.0] * hours, column="so2"))
    assert out["so2"].tolist() == [30.0]
    assert out["so2_count"].tolist() == [hours]
    assert out["so2_valid"].tolist() == [valid]


def test_nan_hours_do_not_count() -> None:
    """NaN hourly values are missing: 24 rows with 5 NaN give 19 values, invalid."""
    values = [40.0] * 19 + [NAN] * 5
    out = daily_statistics(_hours("2026-03-01 00:00", values, column="no2"))
    assert out["no2"].tolist() == [40.0]
    assert out["no2_count"].tolist() == [19]
    assert out["no2_valid"].tolist() == [False]


def test_absent_pollutant_is_nan_and_invalid() -> None:
    """A pollutant without a column gives NaN, count 0, invalid."""
    out = daily_statistics(_hours("2026-03-01 00:00", [30.0] * 24, column="so2"))
    assert np.isnan(out["pm10"][0])
    assert out["pm10_count"].tolist() == [0]
    assert out["pm10_valid"].tolist() == [False]


# ---------------------------------------------------------------------------------------
# GB/T 8170 rounding of the statistics (integers µg/m³; CO 0.1 mg/m³)


@pytest.mark.parametrize(
    ("column", "low", "high", "rounded", "exact"),
    [
        ("pm2_5", 35.0, 36.0, 36.0, 35.5),  # mean 35.5 → 36
        ("pm2_5", 36.0, 37.0, 36.0, 36.5),  # mean 36.5 → 36 (even)
        ("pm10", 12.0, 13.0, 12.0, 12.5),  # mean 12.5 → 12
        ("co", 2.4, 2.5, 2.4, 2.45),  # mean 2.45 → 2.4
        ("co", 2.5, 2.6, 2.6, 2.55),  # mean 2.55 → 2.6
    ],
    ids=["pm2_5-35.5", "pm2_5-36.5", "pm10-12.5", "co-2.45", "co-2.55"],
)
def test_daily_mean_rounding(
    column: str, low: float, high: float, rounded: float, exact: float
) -> None:
    """Daily means are rounded half-even as published; round_statistics=False keeps them."""
    hourly = _hours("2026-03-01 00:00", [low, high] * 12, column=column)
    assert daily_statistics(hourly)[column].tolist() == [rounded]
    unrounded = daily_statistics(hourly, round_statistics=False)[column][0]
    assert unrounded == pytest.approx(exact, abs=1e-12)


@pytest.mark.parametrize(("peak", "rounded"), [(150.5, 150.0), (151.5, 152.0)], ids=str)
def test_o3_1h_max_rounding(peak: float, rounded: float) -> None:
    """The O3 daily max 1 h value is rounded half-even to an integer."""
    out = daily_statistics(_hours("2026-03-01 00:00", [20.0] * 23 + [peak], column="o3"))
    assert out["o3_1h_max"].tolist() == [rounded]


# ---------------------------------------------------------------------------------------
# O3 daily max 1 h: ≥ 20 hours, or an exceedance of 200 (project decision, daily.py)


@pytest.mark.parametrize(
    ("hours", "peak", "valid"),
    [(20, 150.0, True), (19, 150.0, False), (19, 200.0, False), (19, 210.0, True)],
    ids=["20h", "19h", "19h-at-limit", "19h-above-200"],
)
def test_o3_1h_max_validity(hours: int, peak: float, valid: bool) -> None:
    """O3 daily max 1 h: valid with ≥ 20 hours, or with fewer when above 200 µg/m³."""
    values = [50.0] * (hours - 1) + [peak]
    out = daily_statistics(_hours("2026-03-01 00:00", values, column="o3"))
    assert out["o3_1h_max"].tolist() == [peak]
    assert out["o3_1h_max_count"].tolist() == [hours]
    assert out["o3_1h_max_valid"].tolist() == [valid]


# ---------------------------------------------------------------------------------------
# O3 MDA8 (standards.md §2.1–2.2)


def _two_days() -> pd.DataFrame:
    """2026-03-01: labels 00–16 = 0, 17–23 = 300; 2026-03-02: 00–07 = 100, 08–23 = 0."""
    day1 = [0.0] * 17 + [300.0] * 7
    day2 = [100.0] * 8 + [0.0] * 16
    return _hours("2026-03-01 00:00", day1 + day2, column="o3")


def test_mda8_within_day_windows() -> None:
    """Within-day MDA8: the 17 windows ending 08:00 … 24:00 — the first is labels 01…08, the
    last 17:00 … the next date's 00:00 (HJ 663-2013; platform: the O3 8 h value restarts at
    01:00 and label 00:00 closes the previous day's last window, standards.md §2.9)."""
    out = daily_statistics(_two_days())
    day1 = _one(out, "2026-03-01")
    day2 = _one(out, "2026-03-02")
    # Day 1: best window ends 24:00 = labels 17…23 (7·300) + 03-02 00:00 (100) = 275.
    # (A window ending 23:00, labels 16…23, would give 262.5.)
    assert day1["o3_8h_max"] == 275
    # Day 2: window ending 08:00 = labels 01…08 = (7·100 + 0)/8 = 87.5 → 88 (half-even);
    # the old labels 00…07 window would give 100, one reaching into day 1 up to 275.
    assert day2["o3_8h_max"] == 88
    assert [day1["o3_8h_max_count"], day2["o3_8h_max_count"]] == [17, 17]
    assert bool(day1["o3_8h_max_valid"]) and bool(day2["o3_8h_max_valid"])


def test_mda8_within_day_unrounded() -> None:
    """round_statistics=False keeps the MDA8 as the mean of the 8 hours."""
    out = daily_statistics(_two_days(), round_statistics=False)
    assert _one(out, "2026-03-02")["o3_8h_max"] == 87.5


def test_mda8_ending_in_day_uses_previous_day() -> None:
    """Ending-in-day MDA8: 24 windows ending 01:00 … 24:00; the early ones reach into the
    previous day."""
    out = daily_statistics(_two_days(), mda8_windows=Mda8Windows.ENDING_IN_DAY)
    day1 = _one(out, "2026-03-01")
    day2 = _one(out, "2026-03-02")
    # Day 2: window ending 01:00 = day-1 labels 18…23 (6 × 300) + 00:00, 01:00 (2 × 100)
    # = 2000/8 = 250
    assert day2["o3_8h_max"] == 250
    assert day2["o3_8h_max_count"] == 24
    assert bool(day2["o3_8h_max_valid"])
    # Day 1 has no previous day: windows ending 01…04 hold < 6 hours, 05…24 are valid (20);
    # the best ends 24:00 = 275.
    assert day1["o3_8h_max"] == 275
    assert day1["o3_8h_max_count"] == 20
    assert bool(day1["o3_8h_max_valid"])


def test_mda8_ending_in_day_needs_the_calendar_previous_day() -> None:
    """Ending-in-day MDA8 borrows only from the calendar day before, not an earlier one."""
    hourly = pd.concat(
        [
            _at("2026-02-28", list(range(17, 24)), 300.0),  # 2026-03-01 missing entirely
            _at("2026-03-02", list(range(24)), 50.0),
        ]
    )
    out = daily_statistics(hourly, mda8_windows=Mda8Windows.ENDING_IN_DAY)
    day = _one(out, "2026-03-02")
    assert day["o3_8h_max"] == 50
    assert day["o3_8h_max_count"] == 20  # windows ending 05…24


def test_mda8_ending_in_day_does_not_borrow_from_another_site() -> None:
    """Ending-in-day MDA8 takes the previous day of the same site only."""
    hourly = pd.concat(
        [
            _at("2026-03-01", list(range(17, 24)), 300.0, site="A"),
            _at("2026-03-02", list(range(24)), 50.0, site="B"),
        ]
    )
    out = daily_statistics(hourly, mda8_windows=Mda8Windows.ENDING_IN_DAY)
    b = _one(out, "2026-03-02", site="B")
    # Borrowing A's evening would give (6·300 + 2·50)/8 = 237.5.
    assert b["o3_8h_max"] == 50
    assert b["o3_8h_max_count"] == 20


def test_mda8_within_day_takes_the_next_date_00_of_the_same_site_only() -> None:
    """The 24:00 window takes the next date's 00:00 of the same site, never another site's."""
    hourly = pd.concat(
        [
            _at("2026-03-01", list(range(1, 24)), 50.0, site="A"),
            _at("2026-03-02", [0], 450.0, site="A"),
            _at("2026-03-02", [0], 9000.0, site="B"),
        ]
    )
    out = daily_statistics(hourly, round_statistics=False)
    # A: window ending 24:00 = labels 17…23 (7·50) + A's 03-02 00:00 (450) = 800/8 = 100.
    assert _one(out, "2026-03-01", site="A")["o3_8h_max"] == 100.0


def test_mda8_window_needs_6_hours() -> None:
    """An 8 h window is valid with ≥ 6 hourly values; its mean is of the values present."""
    # Labels 01…06 only: the window ending 08:00 (labels 01…08) holds 6 values (mean 35),
    # the one ending 09:00 only 5. One valid window of 17: MDA8 35, not valid (35 ≤ 160).
    six = daily_statistics(
        _at("2026-03-01", list(range(1, 7)), [10.0, 20.0, 30.0, 40.0, 50.0, 60.0])
    )
    assert six["o3_8h_max"].tolist() == [35.0]
    assert six["o3_8h_max_count"].tolist() == [1]
    assert six["o3_8h_max_valid"].tolist() == [False]
    # Labels 00…05: 00:00 belongs to the previous day's last window, so no window of the
    # day holds 6 values → no MDA8.
    five = daily_statistics(_at("2026-03-01", list(range(6)), 100.0))
    assert np.isnan(five["o3_8h_max"][0])
    assert five["o3_8h_max_count"].tolist() == [0]
    assert five["o3_8h_max_valid"].tolist() == [False]


@pytest.mark.parametrize(
    ("last_label", "value", "windows", "valid"),
    [
        # labels 01…19: windows ending 08…21 hold ≥ 6 values (21:00 → 14…19 = 6) → 14
        (19, 100.0, 14, True),
        # labels 01…18: windows ending 08…20 → 13 < 14
        (18, 100.0, 13, False),
        # 13 windows but MDA8 170 > 160: an exceedance is valid anyway
        (18, 170.0, 13, True),
        # exactly the limit is not an exceedance
        (18, 160.0, 13, False),
    ],
    ids=["14-windows", "13-windows", "13-windows-exceeding", "13-windows-at-limit"],
)
def test_mda8_needs_14_windows_or_exceedance(
    last_label: int, value: float, windows: int, valid: bool
) -> None:
    """Within-day MDA8 is valid with ≥ 14 valid windows, or fewer when it exceeds 160."""
    out = daily_statistics(_at("2026-03-01", list(range(1, last_label + 1)), value))
    assert out["o3_8h_max"].tolist() == [value]
    assert out["o3_8h_max_count"].tolist() == [windows]
    assert out["o3_8h_max_valid"].tolist() == [valid]


# ---------------------------------------------------------------------------------------
# Several sites; errors


def test_sites_are_separate_and_sorted() -> None:
    """Each site has its own row per date, sorted by site then date."""
    hourly = pd.concat(
        [
            _hours("2026-03-01 00:00", [80.0] * 48, site="B"),
            _hours("2026-03-01 00:00", [20.0] * 24, site="A"),
        ]
    )
    out = daily_statistics(hourly)
    assert out["site"].tolist() == ["A", "B", "B"]
    assert out["date"].tolist() == [
        pd.Timestamp("2026-03-01"),
        pd.Timestamp("2026-03-01"),
        pd.Timestamp("2026-03-02"),
    ]
    assert out["pm2_5"].tolist() == [20.0, 80.0, 80.0]


def test_duplicate_site_hour_raises() -> None:
    """Two values for one site and hour are refused, naming the site and the hour."""
    hourly = pd.concat([_hours("2026-03-01 05:00", [1.0]), _hours("2026-03-01 05:00", [2.0])])
    with pytest.raises(ValueError, match=r"'A'.*2026-03-01 05:00"):
        daily_statistics(hourly)


def test_same_hour_at_two_sites_is_fine() -> None:
    """The same hour at two different sites is not a duplicate."""
    hourly = pd.concat(
        [_hours("2026-03-01 05:00", [1.0], site="A"), _hours("2026-03-01 05:00", [3.0], site="B")]
    )
    assert daily_statistics(hourly)["pm2_5"].tolist() == [1.0, 3.0]


def test_off_hour_time_raises() -> None:
    """A time that is not on the hour is refused, naming the time."""
    hourly = pd.DataFrame(
        {"site": ["A"], "time": [pd.Timestamp("2026-03-01 05:30")], "pm2_5": [1.0]}
    )
    with pytest.raises(ValueError, match=r"05:30.*not on the hour"):
        daily_statistics(hourly)


@pytest.mark.parametrize("missing", ["site", "time"])
def test_missing_column_raises(missing: str) -> None:
    """Hourly data without a site or time column is refused, naming the column."""
    hourly = _hours("2026-03-01 00:00", [1.0]).drop(columns=[missing])
    with pytest.raises(ValueError, match=f"'{missing}'"):
        daily_statistics(hourly)


# ---------------------------------------------------------------------------------------
# Moving means (HJ 633-2012 real-time indicators)


def test_moving_mean_o3_8h_trailing_with_6_hours() -> None:
    """o3_8h is the mean of the 8 labels ending at the row; it needs ≥ 6 of them."""
    values = [80.0] * 8 + [160.0, NAN, NAN, NAN]
    out = moving_means(_hours("2026-01-01 01:00", values, column="o3"))
    # 09:00: labels 02…09 = (7·80 + 160)/8 = 90; 11:00: labels 04…11 hold 6 → mean of them;
    # 12:00: labels 05…12 hold 5 → NaN
    assert out["o3_8h"][8] == 90.0
    assert out["o3_8h"][10] == (5 * 80.0 + 160.0) / 6
    assert np.isnan(out["o3_8h"][11])


def test_moving_mean_o3_8h_restarts_at_01() -> None:
    """Platform fact (standards.md §2.9, every station of a national day): the O3 8 h value
    at labels 01:00 … 08:00 is the mean of 01:00 … that hour; label 00:00 belongs to the
    previous day's last window (17:00 … 24:00)."""
    evening = [40.0] * 7  # 2026-03-01 17:00 … 23:00
    morning = [200.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0]  # 03-02 00:00 … 08:00
    out = moving_means(_hours("2026-03-01 17:00", evening + morning, column="o3"))
    o3_8h = out["o3_8h"].tolist()
    assert o3_8h[7] == (7 * 40.0 + 200.0) / 8  # 00:00 closes 17:00 … 24:00
    assert o3_8h[8] == 10.0  # 01:00: the mean of 01:00 alone
    assert o3_8h[12] == 30.0  # 05:00: mean of 01…05
    assert o3_8h[15] == 45.0  # 08:00: mean of 01…08


def test_with_so2_24h_only_when_rated() -> None:
    """HJ 633-2012 Table 1 note: SO2 1 h > 800 is rated on the 24 h mean, so the 24 h mean
    is added only when some hour is above 800."""
    calm = _hours("2026-02-09 11:00", [150.0] * 24, column="so2")
    assert "so2_24h" not in with_so2_24h(calm).columns
    high = _hours("2026-02-09 11:00", [150.0] * 21 + [75.0] * 2 + [900.0], column="so2")
    assert with_so2_24h(high)["so2_24h"].iloc[-1] == 175.0


def test_moving_mean_24h_needs_20_hours() -> None:
    """pm2_5_24h is the mean of the 24 labels ending at the row; it needs ≥ 20 of them."""
    out = moving_means(_hours("2026-01-01 00:00", [float(v) for v in range(1, 25)]))
    # 18:00 holds 19 labels → NaN; 19:00 holds 1…20 → 10.5; 23:00 holds 1…24 → 12.5
    assert np.isnan(out["pm2_5_24h"][18])
    assert out["pm2_5_24h"][19] == 10.5
    assert out["pm2_5_24h"][23] == 12.5


def test_moving_mean_24h_excludes_the_label_24_hours_back() -> None:
    """The 24 h window at t covers labels t−23 h … t, not t−24 h."""
    hourly = _hours("2026-01-01 00:00", [1000.0] + [10.0] * 24, column="so2")
    out = moving_means(hourly)
    assert out["so2_24h"].iloc[-1] == 10.0


def test_moving_mean_time_gaps_count_as_missing() -> None:
    """Absent hours inside the window count as missing, not as neighbours."""
    hourly = _hours("2026-01-01 00:00", [50.0] * 8, column="o3").drop(index=[2, 3, 4])
    out = moving_means(hourly)
    # At 07:00 only 00, 01, 05, 06, 07 are present: 5 < 6 → NaN
    assert np.isnan(out["o3_8h"][7])


def test_moving_means_row_for_row_per_site() -> None:
    """Results line up with the input rows (same index), each site rolled on its own."""
    a = _hours("2026-01-01 00:00", [10.0] * 8, column="o3", site="A")
    b = _hours("2026-01-01 00:00", [90.0] * 8, column="o3", site="B")
    hourly = pd.concat([b, a]).sample(frac=1.0, random_state=7)
    hourly.index = pd.Index([f"r{i}" for i in range(len(hourly))])
    out = moving_means(hourly)
    assert out.index.tolist() == hourly.index.tolist()
    last = hourly["time"] == pd.Timestamp("2026-01-01 07:00")
    by_site = dict(zip(hourly.loc[last, "site"], out.loc[last, "o3_8h"], strict=True))
    assert by_site == {"A": 10.0, "B": 90.0}


# ---------------------------------------------------------------------------------------
# Area means (standards.md §2.4)


def test_area_aqi_is_aqi_of_mean_not_mean_of_aqi() -> None:
    """The area AQI is computed from the mean concentration, never by averaging site AQIs."""
    sites = pd.DataFrame({"site": ["A", "B"], "date": ["d1", "d1"], "pm2_5": [20.0, 100.0]})
    area = area_means(sites, {"hunnan": ["A", "B"]}, ["date"], ["pm2_5"])
    assert area["pm2_5"].tolist() == [60.0]
    assert area["pm2_5_sites"].tolist() == [2]
    area_aqi = daily_aqi(area[["pm2_5"]], AqiStandard.HJ633_2026)["aqi"][0]
    # HJ 633-2026: mean 60 → 100. Site AQIs: 20 → 20·50/35 = 28.6 → 29 and
    # 100 → 100 + 40·50/55 = 136.4 → 137, whose mean 83 would be wrong.
    assert area_aqi == 100
    site_aqi = individual_aqi(Indicator.PM2_5_24H, [20.0, 100.0], AqiStandard.HJ633_2026)
    assert site_aqi.tolist() == [29.0, 137.0]
    assert area_aqi != site_aqi.mean()


def test_area_means_min_sites() -> None:
    """With fewer sites reporting than min_sites the area value is NaN."""
    sites = pd.DataFrame(
        {
            "site": ["A", "B", "A", "B"],
            "date": ["d1", "d1", "d2", "d2"],
            "no2": [30.0, NAN, 30.0, 50.0],
        }
    )
    out = area_means(sites, {"city": ["A", "B"]}, ["date"], ["no2"], min_sites=2)
    assert np.isnan(out["no2"][0])
    assert out["no2"][1] == 40.0
    assert out["no2_sites"].tolist() == [1, 2]


def test_area_means_membership() -> None:
    """Only member sites count; a site may belong to several areas; others are left out."""
    sites = pd.DataFrame(
        {"site": ["A", "B", "CTRL"], "date": ["d1"] * 3, "pm10": [40.0, 80.0, 500.0]}
    )
    out = area_means(sites, {"city": ["A", "B"], "district": ["B"]}, ["date"], ["pm10"])
    assert out[["area", "pm10", "pm10_sites"]].to_dict("records") == [
        {"area": "city", "pm10": 60.0, "pm10_sites": 2},
        {"area": "district", "pm10": 80.0, "pm10_sites": 1},
    ]


def test_row_means_keep_the_plain_sums_bits_and_survive_an_overflow() -> None:
    """row_means is np.nansum / count bit for bit on ordinary rows; a row of finite values
    whose sum overflows gets its finite mean (the plain sum gave infinity)."""
    rng = np.random.default_rng(7)
    values = rng.uniform(0, 500, (2000, 24)).round(1)
    values[rng.random(values.shape) < 0.2] = np.nan
    count = (~np.isnan(values)).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        plain = np.where(count > 0, np.nansum(values, axis=1) / count, np.nan)
    got = row_means(np.where(np.isnan(values), 0.0, values), count)
    assert np.array_equal(got, plain, equal_nan=True)
    assert got.view(np.int64)[count > 0].tolist() == plain.view(np.int64)[count > 0].tolist()
    huge = np.array([[1e308, 1e308, 0.0], [1.5e308, 0.5e308, 1.0e308], [np.inf, 1.0, 0.0]])
    assert row_means(huge, np.array([2, 3, 2])).tolist() == [1e308, 1e308, np.inf]


def test_mda8_and_area_means_of_values_near_the_largest_double_are_finite() -> None:
    """The 8-hour running sums and the area means overflowed for values near 1e308."""
    hourly = pd.DataFrame(
        {
            "site": ["A"] * 24 + ["B"] * 24,
            "time": list(pd.date_range("2026-05-01 00:00", periods=24, freq="h", tz=TZ)) * 2,
            "o3": [1e308] * 48,
        }
    )
    stats = daily_statistics(hourly)
    assert stats["o3_8h_max"].tolist() == [1e308, 1e308]
    means = area_means(stats, {"city": ["A", "B"]}, ["date"], ["o3_8h_max"])
    assert means["o3_8h_max"].tolist() == [1e308]


def test_moving_means_of_values_near_the_largest_float_stay_finite() -> None:
    """O3 hours of 1e308 in an 8 h window and PM2.5 hours of the largest float in a 24 h
    one: their sums overflow a float, and pandas' rolling mean gave inf (a crash of ``calc
    aqi --hourly-method standard-text``: "o3_8h concentration inf … is not usable") or NaN
    (the hours reported as missing). The mean of 10, 10, 10, 1e308, 1e308, 10, 10, 10 is
    2.5e307 (+ 7.5), above every breakpoint."""
    times = pd.date_range("2026-03-01 01:00", periods=24, freq="h")
    o3 = [10.0, 10.0, 10.0, 1e308, 1e308] + [10.0] * 19
    largest = float(np.finfo(np.float64).max)
    hours = pd.DataFrame({"site": "A", "time": times, "o3": o3, "pm2_5": [largest] * 24})
    means = moving_means(hours)
    assert means["o3_8h"].iloc[7] == pytest.approx(2.5e307)
    assert np.isfinite(means["o3_8h"].to_numpy()).all()
    assert means["pm2_5_24h"].iloc[-1] == largest
