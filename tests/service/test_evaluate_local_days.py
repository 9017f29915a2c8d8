"""``_local_days``: local calendar dates (Asia/Shanghai) of many times, each distinct time
converted once (issue 17), with the zone's real history, not a fixed UTC+8."""

from __future__ import annotations

import pandas as pd

from monitor.service.evaluate import _local_days


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
