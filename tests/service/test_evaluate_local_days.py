"""``_local_days``: local calendar dates (Asia/Shanghai) of many times, each distinct time
converted once (issue 17), with the zone's real history, not a fixed UTC+8."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from monitor.collectors.base import observations
from monitor.domain.daily import Mda8Windows, daily_statistics
from monitor.ledger import Ledger
from monitor.service.evaluate import AIR, _local_days, evaluate_dirty
from monitor.settings import load_settings
from tests.conftest import HUNNAN_TWO_STATIONS


def test_dates_follow_the_zone_history_first_seen_order_and_missing_times() -> None:
    # China kept daylight saving time 1986-1991 (UTC+9 in summer; IANA tz database,
    # Asia/Shanghai): 1988-06-01 15:30 UTC would be 23:30 at UTC+8 but 00:30 on
    # 06-02 at UTC+9. From 1992 on the zone is UTC+8 all year.
    times = pd.Series(
        pd.to_datetime(
            [
                "2026-03-01 16:00",  # 03-02 00:00 local
                "1988-06-01 15:30",  # 06-02 00:30 local (DST)
                "NaT",
                "2026-03-01 15:59",  # 03-01 23:59 local
                "2026-03-01 16:00",
                "1988-01-01 15:30",  # 01-01 23:30 local (no DST in winter)
            ],
            format="%Y-%m-%d %H:%M",
        )
    ).dt.tz_localize("UTC")
    days = _local_days(times)
    assert list(days.categories) == ["2026-03-02", "1988-06-02", "2026-03-01", "1988-01-01"]
    assert days.codes.tolist() == [0, 1, -1, 2, 0, 3]
    naive = _local_days(times.dt.tz_convert("Asia/Shanghai").dt.tz_localize(None))
    assert naive.codes.tolist() == days.codes.tolist()
    assert list(naive.categories) == list(days.categories)
    assert len(_local_days(times.iloc[:0])) == 0


def test_only_missing_times_give_no_date() -> None:
    """Every time missing (no distinct time to convert): every date missing, as pandas'
    factorisation of the converted times gives (28153f6), not an IndexError."""
    times = pd.Series(pd.to_datetime(["NaT", "NaT"])).dt.tz_localize("UTC")
    days = _local_days(times)
    assert days.codes.tolist() == [-1, -1]
    assert len(days.categories) == 0


# Asia/Shanghai summer time (IANA tz database, checked with zoneinfo for 1986-1991): the
# clocks went back at local 02:00 UTC+9 to 01:00 UTC+8 (1988-09-11 and 1991-09-15 at
# 17:00 UTC the day before: local 01:00 twice, a 25-hour day) and forward at local 02:00
# UTC+8 to 03:00 UTC+9 (1991-04-14 at 18:00 UTC the day before: no 02:00, a 23-hour day).
_SHANGHAI = ZoneInfo("Asia/Shanghai")


def _local_date(instant: datetime) -> str:
    """The Asia/Shanghai date of a UTC instant, by the standard library's zoneinfo."""
    return instant.astimezone(_SHANGHAI).date().isoformat()


def _hours(first_utc: str, last_utc: str) -> list[datetime]:
    first = datetime.fromisoformat(first_utc).replace(tzinfo=UTC)
    last = datetime.fromisoformat(last_utc).replace(tzinfo=UTC)
    return [first + timedelta(hours=k) for k in range((last - first) // timedelta(hours=1) + 1)]


def test_days_of_25_and_23_hours_evaluate_over_their_own_hours(tmp_path: Path) -> None:
    """A day the summer-time clocks went back has 25 hours (local 01:00 twice, distinct
    instants, so no value is ambiguous), a day they went forward 23. Both evaluate: the
    daily means are those of the natural day's hours whatever their number (GB 3095-2026
    §3 daily mean over the natural day; §6.4 all valid data used), valid with at least 20
    hourly values (Table 4), the O3 8-hour windows over 8 consecutive hours; no failure is
    recorded and no day is left dirty (before: "site '1099A' has two values labelled
    1991-09-15 01:00:00" on every run, for the day and its neighbours)."""
    config = tmp_path / "envmon.toml"
    config.write_text(HUNNAN_TWO_STATIONS, encoding="utf-8")
    settings = load_settings(config, {})
    # Local 00:00 of the day before through 23:00 of the day after each change.
    back_1991 = _hours("1991-09-13 15:00", "1991-09-16 15:00")
    back_1988 = _hours("1988-09-09 15:00", "1988-09-12 15:00")
    forward = _hours("1991-04-12 16:00", "1991-04-15 14:00")
    twice = {  # local 01:00 UTC+9, then local 01:00 UTC+8
        datetime(1991, 9, 14, 16, tzinfo=UTC): (60.0, 210.0),
        datetime(1991, 9, 14, 17, tzinfo=UTC): (110.0, 110.0),
        datetime(1988, 9, 10, 16, tzinfo=UTC): (60.0, 210.0),
        datetime(1988, 9, 10, 17, tzinfo=UTC): (110.0, 110.0),
        datetime(1991, 4, 13, 18, tzinfo=UTC): (250.0, 10.0),  # local 03:00, after the gap
    }
    # 20 of the 23 hours of 1991-04-14: local 04:00, 05:00, 06:00 UTC+9 left out.
    left_out = {datetime(1991, 4, 13, h, tzinfo=UTC) for h in (19, 20, 21)}
    times = [t for t in back_1991 + back_1988 + forward if t not in left_out]
    pm = [twice.get(t, (10.0, 10.0))[0] for t in times]
    o3 = [twice.get(t, (10.0, 10.0))[1] for t in times]
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        ends = pd.DatetimeIndex(times)
        for site in ("1099A", "2900A"):
            for parameter in AIR:
                values = o3 if parameter == "o3" else pm
                if parameter == "co":  # (250 mg/m³ of CO would be flagged impossible)
                    values = [min(v, 110.0) for v in pm]
                rows = observations(
                    site, parameter, (ends - pd.Timedelta(hours=1)).to_numpy(), ends, values
                )
                ledger.write_observations(rows, "s")

        report = evaluate_dirty(ledger, settings)

        assert report.failed == ()
        assert ledger.evaluation_failures().empty
        assert ledger.dirty_days().empty
        daily = ledger.query(
            "SELECT site, date, pm2_5, pm10, o3_1h_max, o3_8h_max, invalid_statistics "
            "FROM daily_aqi WHERE standard = 'hj633-2012'"
        )
        day = {(r["site"], r["date"]): r for r in daily.to_dict("records")}
        for date, hours, mean, invalid in (
            # 25 hours: 23 of 10, 60 and 110 → 400 / 25 = 16 (one value per local hour
            # would give 14 or 12)
            ("1991-09-15", 25, 16.0, ""),
            ("1988-09-11", 25, 16.0, ""),
            # 20 of its 23 hours: 19 of 10 and 250 → 440 / 20 = 22, valid (≥ 20 values).
            # Its O3 day (01:00 … 24:00) has 22 hours, so 16 windows within it (not 17):
            # the 3 missing hours (04:00 … 06:00) leave the windows ending 08:00, 09:00 and
            # 10:00 (places 8 … 10, 01:00 being place 1) 5 values each, invalid: 13 valid
            # windows, fewer than the 14 HJ 663-2013 needs, so MDA8 is invalid.
            ("1991-04-14", 20, 22.0, "o3_8h_max"),
        ):
            of_day = [v for t, v in zip(times, pm, strict=True) if _local_date(t) == date]
            assert len(of_day) == hours
            assert sum(of_day) / len(of_day) == mean
            for site in ("1099A", "2900A", "hunnan"):
                assert day[(site, date)]["pm2_5"] == mean
                assert day[(site, date)]["pm10"] == mean
                assert day[(site, date)]["invalid_statistics"] == invalid
        for date in ("1991-09-15", "1988-09-11"):
            # the 1-hour maximum is the first 01:00's (210); the window of the 8 hours from
            # it (01:00 twice, 02:00 … 07:00) (210 + 110 + 6 × 10) / 8 = 47.5, stored 48
            assert day[("1099A", date)]["o3_1h_max"] == 210.0
            assert day[("1099A", date)]["o3_8h_max"] == 48.0
        # the neighbours of each change (24 hours of 10) evaluate too
        for date in ("1991-09-14", "1991-09-16", "1988-09-10", "1988-09-12", "1991-04-13"):
            assert day[("1099A", date)]["pm2_5"] == 10.0
            assert day[("1099A", date)]["invalid_statistics"] == ""

        again = evaluate_dirty(ledger, settings)
        assert again.failed == ()
        assert again.site_days == 0  # nothing left to evaluate


@pytest.mark.parametrize("windows", list(Mda8Windows))
def test_o3_windows_are_8_consecutive_hours_across_the_clock_changes(
    windows: Mda8Windows,
) -> None:
    """MDA8 around the 1991 changes equals a count by instants (zoneinfo): an O3 day is the
    hours ending after its local midnight through the next one (labels 01:00 … 24:00; 25
    on 1991-09-15, 23 on 1991-04-14), a window 8 consecutive hours (GB 3095-2026 §3), each
    valid with at least 6 values (Table 4); within the day (the windows whose 8 hours are
    all in it) or ending in it (reaching back into the day before)."""
    rng = np.random.default_rng(7)
    times = _hours("1991-04-12 08:00", "1991-04-16 15:00")
    times += _hours("1991-09-13 07:00", "1991-09-17 15:00")
    o3 = rng.uniform(20, 150, len(times)).round(1)
    o3[rng.random(len(times)) < 0.08] = np.nan  # a few hours missing
    frame = pd.DataFrame({"site": "S", "time": pd.DatetimeIndex(times), "o3": o3})
    stats = daily_statistics(frame, mda8_windows=windows, round_statistics=False)
    for date in (
        "1991-04-13",
        "1991-04-14",
        "1991-04-15",
        "1991-09-14",
        "1991-09-15",
        "1991-09-16",
    ):
        # the O3 day: hours ending after local midnight of the date, through the next one
        in_day = [i for i, t in enumerate(times) if _local_date(t - timedelta(hours=1)) == date]
        ends = in_day[7:] if windows is Mda8Windows.WITHIN_DAY else in_day
        means = []
        for end in ends:
            # (the instants are hourly and consecutive: the 8 hours ending at ``end``)
            assert times[end] - times[end - 7] == timedelta(hours=7)
            window = o3[end - 7 : end + 1]
            if np.count_nonzero(~np.isnan(window)) >= 6:
                means.append(float(np.nanmean(window)))
        row = stats[stats["date"] == pd.Timestamp(date)].iloc[0]
        hours = {"1991-04-14": 23, "1991-09-15": 25}.get(date, 24)
        assert len(in_day) == hours
        assert row["o3_8h_max_count"] == len(means)
        assert row["o3_8h_max"] == pytest.approx(max(means), rel=1e-12)


def test_days_whose_clocks_changed_at_midnight_count_their_own_hours() -> None:
    """In 1919 and 1940-1949 Asia/Shanghai changed its clocks at midnight (tz database:
    1940-06-01 00:00 UTC+8 became 01:00 UTC+9, 1940-10-13 00:00 UTC+9 became 1940-10-12
    23:00 UTC+8): such a day still has the hours zoneinfo gives its date, not an error."""
    times = _hours("1940-05-30 16:00", "1940-06-02 15:00")
    times += _hours("1940-10-10 15:00", "1940-10-13 16:00")
    values = [float(k) for k in range(len(times))]
    frame = pd.DataFrame({"site": "S", "time": pd.DatetimeIndex(times), "pm2_5": values})
    stats = daily_statistics(frame, round_statistics=False)
    for date, hours in (("1940-06-01", 23), ("1940-10-12", 25), ("1940-10-11", 24)):
        of_day = [v for t, v in zip(times, values, strict=True) if _local_date(t) == date]
        assert len(of_day) == hours
        row = stats[stats["date"] == pd.Timestamp(date)].iloc[0]
        assert row["pm2_5_count"] == hours
        assert row["pm2_5"] == sum(of_day) / hours
