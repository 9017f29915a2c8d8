"""``envmon calc aqi --scale day`` when two usable rows fall on the same local hour: the
hour of Asia/Shanghai's summer-time fall-back (1986–1991; 1986-09-14 02:00 UTC+9 became
01:00 UTC+8, so 1986-09-13T16:00Z and 17:00Z are both local 01:00 on 1986-09-14). They are
distinct instants, so neither is a duplicate; the daily means must be those written before
the calc4 merge (issue 17: byte-identical output), which take one value per local hour.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from monitor.calculator.air import compute_aqi_csv


def _fall_back_day(tmp_path: Path) -> Path:
    lines = ["site,time,pm2_5,pm10,so2,no2,co,o3"]
    start = dt.datetime(1986, 9, 13, 16, 0)  # (UTC) local 01:00 (UTC+9) on 1986-09-14
    for k in range(26):
        t = start + dt.timedelta(hours=k)
        lines.append(f"S1,{t:%Y-%m-%dT%H:%M}+00:00,{10 + k},{20 + k},5,10,0.5,{30 + k}")
    path = tmp_path / "fall_back.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_local_hour_held_by_two_rows_counts_once(tmp_path: Path) -> None:
    rows = compute_aqi_csv(_fall_back_day(tmp_path), scale="day").frame
    day = rows[rows["date"] == "1986-09-14"].iloc[0]
    # Expected: commit 2ab4c5f's output for this file. Local 01:00 holds the later row
    # (pm10 21, pm2_5 11), 02:00 … 23:00 the next 22 (local 00:00 starts the next day):
    # 23 hours, pm10 (21 + 22 + … + 43) / 23 = 32, pm2_5 (11 + 12 + … + 33) / 23 = 22.
    assert day["pm10_count"] == "23"
    assert day["pm2_5_count"] == "23"
    assert day["pm10"] == "32"
    assert day["pm2_5"] == "22"
    assert day["aqi"] == "32"
