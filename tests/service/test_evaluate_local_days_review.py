"""Review of the local days of 1986-1991 (Asia/Shanghai summer time, UTC+9): what an
evaluation deletes and rewrites must be the hours of the days it evaluates, by the zone's
history (a summer day's hours end 00:00 UTC+9 … 23:00 UTC+9), not by a fixed UTC+8."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from monitor.collectors.base import observations
from monitor.ledger import Ledger
from monitor.service.evaluate import evaluate_dirty
from monitor.settings import load_settings
from tests.conftest import HUNNAN_TWO_STATIONS


def _pm25(ledger: Ledger, ends: pd.DatetimeIndex, values: list[float]) -> None:
    starts = (ends - pd.Timedelta(hours=1)).to_numpy()
    ledger.write_observations(observations("1099A", "pm2_5", starts, ends, values), "s")


def test_a_flag_of_the_next_days_first_hour_survives_a_summer_days_evaluation(
    tmp_path: Path,
) -> None:
    """1988-07-11 local 00:00 is UTC+9 (tz database: summer time 1988-04-17 … 09-11),
    1988-07-10 15:00 UTC: the first hour of 07-11, where evaluation counts it. Evaluating
    07-10 alone (a revised hour of its morning) recomputes 07-10's flags; the ``negative``
    flag of 07-11's first hour is not 07-10's to delete and stays."""
    config = tmp_path / "envmon.toml"
    config.write_text(HUNNAN_TWO_STATIONS, encoding="utf-8")
    settings = load_settings(config, {})
    ends = pd.date_range("1988-07-08 01:00", "1988-07-13 00:00", freq="h", tz="Asia/Shanghai")
    first_of_11 = pd.Timestamp("1988-07-11 00:00", tz="Asia/Shanghai")
    assert first_of_11.utcoffset() == pd.Timedelta(hours=9)
    values = [-5.0 if t == first_of_11 else 10.0 for t in ends]
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        _pm25(ledger, ends, values)
        evaluate_dirty(ledger, settings, overlap=False)
        flagged = "SELECT period_end FROM qc_flags WHERE flags LIKE '%negative%'"
        at = int(first_of_11.timestamp())
        assert ledger.query(flagged)["period_end"].tolist() == [at]

        revised = pd.DatetimeIndex([pd.Timestamp("1988-07-10 12:00", tz="Asia/Shanghai")])
        _pm25(ledger, revised, [20.0])
        dirty = ledger.dirty_days()
        assert "1988-07-11" not in set(dirty["date"])  # (07-11 is not re-evaluated)
        report = evaluate_dirty(ledger, settings, overlap=False)
        assert report.failed == ()
        assert ledger.query(flagged)["period_end"].tolist() == [at]
        # and 07-10's own hours were evaluated with the revised value: (23 × 10 + 20) / 24
        day = ledger.query(
            "SELECT pm2_5 FROM daily_aqi WHERE site = '1099A' AND date = '1988-07-10' "
            "AND standard = 'hj633-2012'"
        )["pm2_5"].tolist()
        assert np.allclose(day, [round((23 * 10 + 20) / 24)])


def test_exported_times_carry_the_offset_the_local_time_had(tmp_path: Path) -> None:
    """``envmon export``'s times are ISO 8601 with their offset: a 1991 summer hour is
    UTC+9 (tz database), so 1991-09-15 has the label 01:00 twice, 01:00+09:00 and then
    01:00+08:00 (17:00 UTC on 09-14 the clocks went back); each text reads back as the
    instant stored (with a fixed "+08:00" the summer hours read one hour late and the two
    01:00 were one text). From 1992 on every offset is +08:00, as before."""
    from monitor.service.export import export_hourly_aqi, export_observations

    config = tmp_path / "envmon.toml"
    config.write_text(HUNNAN_TWO_STATIONS, encoding="utf-8")
    settings = load_settings(config, {})
    summer = pd.date_range("1991-09-13 15:00", "1991-09-16 15:00", freq="h", tz="UTC")
    ends = pd.DatetimeIndex(
        summer.append(pd.date_range("2026-07-01 00:00", periods=3, freq="h", tz="UTC"))
    )
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        starts = (ends - pd.Timedelta(hours=1)).to_numpy()
        rows = observations("1099A", "pm2_5", starts, ends.to_numpy(), [10.0] * len(ends))
        ledger.write_observations(rows, "s")
        evaluate_dirty(ledger, settings, overlap=False)
        first, last = pd.Timestamp("1991-09-14").date(), pd.Timestamp("1991-09-16").date()
        exported = export_observations(ledger, first, last)
        hourly = export_hourly_aqi(ledger, first, last, sites=["1099A"])
        later = export_observations(ledger, *(pd.Timestamp("2026-07-01").date(),) * 2)
    # (labels 1991-09-14 00:00+09:00 … 09-16 23:00+08:00: 24 + 25 + 24 hours)
    assert len(exported) == 73
    read_back = pd.to_datetime(exported["time"], utc=True)
    assert list(read_back) == list(ends[ends < pd.Timestamp("2026-01-01", tz="UTC")])
    assert exported["time"].iloc[0] == "1991-09-14T00:00:00+09:00"
    assert list(exported["time"].iloc[[24, 25, 26]]) == [
        "1991-09-15T00:00:00+09:00",
        "1991-09-15T01:00:00+09:00",
        "1991-09-15T01:00:00+08:00",
    ]
    assert hourly["time"].is_unique and len(hourly) == 73  # (the rule set in force)
    assert list(later["time"]) == [
        "2026-07-01T08:00:00+08:00",
        "2026-07-01T09:00:00+08:00",
        "2026-07-01T10:00:00+08:00",
    ]


def test_a_revised_so2_hour_marks_the_summer_day_of_an_hour_above_800_it_rates(
    tmp_path: Path,
) -> None:
    """An SO2 hour above 800 µg/m³ is rated on its 24-hour moving mean (HJ 633-2012 Table 1
    note), so revising an SO2 hour marks the days of the hours above 800 in the next 23
    hours. 1988-07-11 00:00 is UTC+9 (summer time, tz database): the first hour of 07-11,
    where evaluation rates it, not of 07-10 (its date by a fixed UTC+8)."""
    ends = pd.date_range("1988-07-09 01:00", "1988-07-12 00:00", freq="h", tz="Asia/Shanghai")
    above = pd.Timestamp("1988-07-11 00:00", tz="Asia/Shanghai")
    assert above.utcoffset() == pd.Timedelta(hours=9)
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        starts = (ends - pd.Timedelta(hours=1)).to_numpy()
        values = [900.0 if t == above else 100.0 for t in ends]
        ledger.write_observations(observations("1099A", "so2", starts, ends, values), "s")
        ledger.clear_dirty(ledger.dirty_days())
        revised = pd.DatetimeIndex([pd.Timestamp("1988-07-10 12:00", tz="Asia/Shanghai")])
        rows = observations("1099A", "so2", revised - pd.Timedelta(hours=1), revised, [500.0])
        ledger.write_observations(rows, "s")
        assert "1988-07-11" in set(ledger.dirty_days()["date"])


def _1940_ledger(tmp_path: Path) -> tuple[Ledger, pd.DatetimeIndex]:
    """PM2.5 10.0 each hour of 1940-05-30 … 06-03 (local) at 1099A, evaluated: nothing dirty.
    1940-06-01 began at 01:00 UTC+9 (tz database: 1940-06-01 00:00 UTC+8 became 01:00
    UTC+9), a local midnight that never was."""
    ends = pd.date_range("1940-05-29 17:00", "1940-06-03 15:00", freq="h", tz="UTC")
    ledger = Ledger.open(tmp_path / "ledger.sqlite")
    _pm25(ledger, ends, [10.0] * len(ends))
    ledger.clear_dirty(ledger.dirty_days())
    return ledger, ends


def test_a_day_whose_midnight_never_was_evaluates_as_the_first_dirty_date(
    tmp_path: Path,
) -> None:
    """A revised hour of 1940-06-01's afternoon marks 1940-06-01 alone; its window begins
    the day before its first instant (pd.Timestamp("1940-06-01", tz=...) raises: a
    nonexistent time), and it evaluates."""
    config = tmp_path / "envmon.toml"
    config.write_text(HUNNAN_TWO_STATIONS, encoding="utf-8")
    settings = load_settings(config, {})
    ledger, _ = _1940_ledger(tmp_path)
    with ledger:
        revised = pd.DatetimeIndex([pd.Timestamp("1940-06-01 06:00", tz="UTC")])  # 15:00 +9
        _pm25(ledger, revised, [33.0])
        assert ledger.dirty_days()["date"].tolist() == ["1940-06-01"]
        report = evaluate_dirty(ledger, settings, overlap=False)
        assert report.failed == ()
        day = ledger.query(
            "SELECT pm2_5 FROM daily_aqi WHERE site = '1099A' AND date = '1940-06-01' "
            "AND standard = 'hj633-2012'"
        )["pm2_5"].tolist()
        assert day == [round((22 * 10 + 33) / 23)]  # its 23 hours: 01:00 … 23:00 UTC+9


def test_a_later_chunk_beginning_on_a_day_whose_midnight_never_was_is_read_ahead(
    tmp_path: Path,
) -> None:
    """More dirty dates than one chunk, the second chunk's first date 1940-06-01: its
    window is worked out for the read-ahead (and to judge the cores) without stopping the
    whole run (it raised there, outside the isolation of failing days)."""
    config = tmp_path / "envmon.toml"
    config.write_text(HUNNAN_TWO_STATIONS, encoding="utf-8")
    settings = load_settings(config, {})
    ledger, _ = _1940_ledger(tmp_path)
    with ledger:
        dirty = pd.DataFrame(
            {
                "site": "1099A",
                "date": [f"1940-04-{d:02d}" for d in range(1, 31)]
                + ["1940-05-01", "1940-06-01", "1940-06-02"],
            }
        )
        with ledger.transaction() as db:
            db.executemany(
                "INSERT INTO dirty_days (site, date, marked) VALUES (?, ?, 0)",
                list(zip(dirty["site"], dirty["date"], strict=True)),
            )
        for overlap in (True, None):
            report = evaluate_dirty(ledger, settings, overlap=overlap)
            assert report.failed == ()
            assert ledger.dirty_days().empty
            with ledger.transaction() as db:  # again, for the other way of reading
                db.executemany(
                    "INSERT INTO dirty_days (site, date, marked) VALUES (?, ?, 0)",
                    list(zip(dirty["site"], dirty["date"], strict=True)),
                )


def test_export_of_one_day_has_its_own_hours_whatever_their_number(tmp_path: Path) -> None:
    """``envmon export --from D --to D``: the hours labelled on D, 25 on 1991-09-15 (the
    last, 23:00 UTC+8, was left out), 23 on 1991-04-14 and 1940-06-01 (the next day's
    00:00 was taken in), 24 on the days around them (tz database)."""
    from datetime import date

    from monitor.service.export import export_observations

    ends = pd.DatetimeIndex(
        pd.date_range("1991-09-13 15:00", "1991-09-16 15:00", freq="h", tz="UTC")
        .append(pd.date_range("1991-04-12 16:00", "1991-04-15 15:00", freq="h", tz="UTC"))
        .append(pd.date_range("1940-05-30 16:00", "1940-06-02 15:00", freq="h", tz="UTC"))
    )
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        _pm25(ledger, ends, [10.0] * len(ends))
        for day, hours in (
            ("1991-09-14", 24),
            ("1991-09-15", 25),
            ("1991-09-16", 24),
            ("1991-04-13", 24),
            ("1991-04-14", 23),
            ("1991-04-15", 24),
            ("1940-05-31", 24),
            ("1940-06-01", 23),
            ("1940-06-02", 24),
        ):
            exported = export_observations(
                ledger, date.fromisoformat(day), date.fromisoformat(day)
            )
            local = pd.to_datetime(exported["time"], utc=True).dt.tz_convert("Asia/Shanghai")
            assert len(exported) == hours, day
            assert set(local.dt.strftime("%Y-%m-%d")) == {day}


def test_the_daily_report_of_a_25_hour_day_has_its_25_hours(tmp_path: Path) -> None:
    """The morning digest of 1991-09-15 lists the district's hours labelled on that date:
    25 (local 01:00 twice), through 23:00; by 24 × 3600 s from its midnight it stopped at
    22:00 (tz database: 1991-09-15 began at 00:00 UTC+9 and ended at 24:00 UTC+8)."""
    from datetime import date

    from monitor.service.reporting import gather_daily

    config = tmp_path / "envmon.toml"
    config.write_text(HUNNAN_TWO_STATIONS, encoding="utf-8")
    settings = load_settings(config, {})
    ends = pd.date_range("1991-09-13 15:00", "1991-09-16 15:00", freq="h", tz="UTC")
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        for site in ("1099A", "2900A"):
            rows = observations(site, "pm2_5", ends - pd.Timedelta(hours=1), ends, [10.0] * 73)
            ledger.write_observations(rows, "s")
        assert evaluate_dirty(ledger, settings, overlap=False).failed == ()
        digest = gather_daily(ledger, settings, date(1991, 9, 15))
    labels = [label for label, _ in digest.hourly]
    assert len(labels) == 25
    assert labels[0] == "00:00" and labels[-1] == "23:00"


def test_water_readings_of_a_25_hour_day_are_all_counted_for_progress() -> None:
    """Progress toward the water targets reads the readings whose local date is first …
    last (``start < period_end <= end``): through the last instant of ``last``, 25 hours
    after its start on 1991-09-15 (24 × 3600 s after it left out its 23:00 UTC+8)."""
    from datetime import date

    from monitor.service.progress_targets import _local_bounds

    start, end = _local_bounds(date(1991, 9, 15), date(1991, 9, 15))
    # 1991-09-15 00:00 UTC+9 = 09-14 15:00 UTC; 09-16 00:00 UTC+8 = 09-15 16:00 UTC
    assert start == pd.Timestamp("1991-09-14 15:00", tz="UTC") - pd.Timedelta(seconds=1)
    assert end == pd.Timestamp("1991-09-15 16:00", tz="UTC") - pd.Timedelta(seconds=1)
    start, end = _local_bounds(date(2026, 3, 1), date(2026, 3, 2))  # (as before from 1992)
    assert start == pd.Timestamp("2026-02-28 16:00", tz="UTC") - pd.Timedelta(seconds=1)
    assert end == pd.Timestamp("2026-03-02 16:00", tz="UTC") - pd.Timedelta(seconds=1)
