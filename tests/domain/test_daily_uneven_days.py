"""Review of the days of 23 and 25 local hours (Asia/Shanghai summer time 1986-1991,
clock changes at midnight 1919/1940-1949): what stays as it was from 1992 on, and what
the statistics of such days count."""

from __future__ import annotations

import pandas as pd
import pytest

from monitor.domain.daily import daily_statistics, moving_means


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
