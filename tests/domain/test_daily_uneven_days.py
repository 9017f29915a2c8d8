"""Review of the days of 23 and 25 local hours (Asia/Shanghai summer time 1986-1991,
clock changes at midnight 1919/1940-1949): what stays as it was from 1992 on, and what
the statistics of such days count."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from monitor.domain.daily import daily_statistics, moving_means, with_so2_24h


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "UTC"])
def test_a_duplicated_aware_hour_is_named_by_its_local_label(zone: str) -> None:
    """A site with one instant twice is refused with the local hour label it has, as before
    (commit 8c521ac: "two values labelled 2026-03-01 01:00:00"), whatever zone the times
    are given in (the label is local: shared/DESIGN.md "Time")."""
    times = pd.date_range("2026-03-01 01:00", periods=3, freq="h", tz="Asia/Shanghai")
    times = times.tz_convert(zone)
    frame = pd.DataFrame({"site": "S", "time": times[[0, 0, 1, 2]], "pm2_5": 1.0})
    expected = "site 'S' has two values labelled 2026-03-01 01:00:00; expected one per hour"
    with pytest.raises(ValueError) as daily:
        daily_statistics(frame)
    assert str(daily.value) == expected
    with pytest.raises(ValueError) as moving:
        moving_means(frame)
    assert str(moving.value) == expected


@pytest.mark.parametrize(
    ("first_utc", "changed"),
    [
        # 1991-09-15 local 02:00 UTC+9 became 01:00 UTC+8 (17:00 UTC on 09-14: 25 labels
        # 1991-09-15 00:00 … 23:00); 1991-04-14 02:00 UTC+8 became 03:00 UTC+9 (18:00 UTC on
        # 04-13: 23 labels) (IANA tz database, as zoneinfo gives it)
        ("1991-09-13 15:00", "1991-09-14 17:00"),
        ("1991-04-12 16:00", "1991-04-13 18:00"),
    ],
)
def test_so2_24h_is_the_mean_of_the_24_hours_ending_at_each_hour(
    first_utc: str, changed: str
) -> None:
    """The SO2 24-hour moving mean rated for an hour above 800 µg/m³ (HJ 633-2012 Table 1
    note) is the mean of the 24 hours ending at it ("24-hour" moving mean; ≥ 20 values,
    GB 3095 Table 4), also across a summer-time change, where 24 local labels back span
    25 or 23 hours: as the daily statistics count such days by their instants."""
    instants = pd.date_range(first_utc, periods=80, freq="h", tz="UTC")
    so2 = [900.0 + 10 * k for k in range(80)]
    frame = pd.DataFrame({"site": "S", "time": instants.tz_convert("Asia/Shanghai"), "so2": so2})
    got = with_so2_24h(frame)["so2_24h"].tolist()
    for k, at in enumerate(instants):
        if k < 23:
            continue
        expected = sum(so2[k - 23 : k + 1]) / 24  # the 24 instants ending at ``at``
        assert got[k] == pytest.approx(expected, rel=1e-12), (at, got[k], expected)
    # (the first hours after the change: 24 labels back would reach one hour more or less)
    after = int(np.flatnonzero(instants == pd.Timestamp(changed, tz="UTC"))[0])
    assert got[after] == sum(so2[after - 23 : after + 1]) / 24
