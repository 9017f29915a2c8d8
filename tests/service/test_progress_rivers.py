"""A refreshed river target over automatic-station readings: each as-of date as alone.

``progress_series`` checks a river target's readings of the year once and cuts each as-of
date's set of readings from them, checking again only the readings near the cut (the
quality checks look at neighbouring readings). Every row must be what ``compute_progress``
gives for that date alone, which checks the readings up to it from scratch.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from monitor.collectors.base import observations
from monitor.domain.quality import STUCK_HOURS
from monitor.ledger import Ledger
from monitor.service.progress_targets import compute_progress, progress_series, refresh_progress
from monitor.settings import load_settings
from tests.conftest import HUNNAN_LEDGER

CONFIG = (
    HUNNAN_LEDGER
    + """\

[quality]
exclude_own_flags = ["stuck", "spike"]

[[water_sections]]
id = "sec_a"
name_zh = "甲断面"
river = "浑河"
target_class = "II"

[[water_sections]]
id = "sec_b"
name_zh = "乙断面"
river = "浑河"
target_class = "III"

[[targets]]
kind = "river_class"
id = "automatic"
name = "自动站断面达标"
year = 2026
sections = ["sec_a", "sec_b"]
"""
)

#: 30 March 12:00 (local) … 31 March 16:00: 29 hourly DO readings of 2.5 mg/L, a run that
#: the ``stuck`` check flags (24 equal hourly values for DO, :data:`STUCK_HOURS`) on the
#: whole year but not on the readings up to 30 March (12 of them).
RUN_FIRST = pd.Timestamp("2026-03-30 12:00", tz="Asia/Shanghai")
RUN_HOURS = 29


def _hourly_sec_a(ledger: Ledger) -> None:
    """sec_a, hourly (an automatic station), 30 March 00:00 … 2 April 23:00 (local; the
    reading ending at 00:00 belongs to the day it starts): DO 7.5 mg/L but for the run
    (:data:`RUN_FIRST`) and a second run of 2.5 over the month's end (31 March 20:00 …
    1 April 21:00, 26 h: stuck on the whole year and on 1 April, not on 31 March); pH
    varying; NH3-N 0.1–0.4 mg/L with a reading 8× its neighbours (water items have no spike
    check: rated as read), a source-invalid one and one below the detection limit just
    before the cut of 30 March."""
    ends = pd.date_range("2026-03-30 00:00", "2026-04-03 00:00", freq="h", tz="Asia/Shanghai")
    do = np.full(len(ends), 7.5)
    do[(ends >= RUN_FIRST) & (ends < RUN_FIRST + pd.Timedelta(hours=RUN_HOURS))] = 2.5
    second = pd.Timestamp("2026-03-31 20:00", tz="Asia/Shanghai")
    do[(ends >= second) & (ends < second + pd.Timedelta(hours=26))] = 2.5
    ph = 7.0 + (np.arange(len(ends)) % 5) * 0.1
    nh3n = 0.1 + (np.arange(len(ends)) % 4) * 0.1
    nh3n_flags = np.full(len(ends), "", dtype=object)
    nh3n[ends == pd.Timestamp("2026-03-30 20:00", tz="Asia/Shanghai")] = 2.4  # (8× 0.3)
    invalid = ends == pd.Timestamp("2026-03-30 22:00", tz="Asia/Shanghai")
    nh3n[invalid], nh3n_flags[invalid] = 5.0, "source_invalid"
    below = ends == pd.Timestamp("2026-03-30 23:00", tz="Asia/Shanghai")
    nh3n[below], nh3n_flags[below] = 0.025, "below_detection_limit"
    hour = pd.Timedelta(hours=1)
    frames = [
        observations("sec_a", "do", ends - hour, ends, do),
        observations("sec_a", "ph", ends - hour, ends, ph),
        observations("sec_a", "nh3n", ends - hour, ends, nh3n, flags=nh3n_flags),
    ]
    ledger.write_observations(pd.concat(frames, ignore_index=True), "automatic")


def _four_hourly_sec_b(ledger: Ledger) -> None:
    """sec_b every 4 hours, 29 March 00:00 … 4 April 00:00, without 1 … 2 April (a gap):
    CODMn 3–6 mg/L (one reading source-invalid), TP 0.05–0.25 (one below the detection
    limit 0.01), NH3-N 0.3–1.3 (GB 3838-2002 Table 1: classes II–IV)."""
    ends = pd.date_range("2026-03-29 00:00", "2026-04-04 00:00", freq="4h", tz="Asia/Shanghai")
    gap = (ends > pd.Timestamp("2026-04-01", tz="Asia/Shanghai")) & (
        ends <= pd.Timestamp("2026-04-03", tz="Asia/Shanghai")
    )
    ends = ends[~gap]
    k = np.arange(len(ends))
    codmn = 3.0 + (k % 4)
    codmn_flags = np.where(k == 10, "source_invalid", "").astype(object)
    tp = 0.05 + (k % 5) * 0.05
    tp_flags = np.where(k == 14, "below_detection_limit", "").astype(object)
    tp[k == 14] = 0.01
    nh3n = 0.3 + (k % 6) * 0.2
    start = ends - pd.Timedelta(hours=4)
    frames = [
        observations("sec_b", "codmn", start, ends, codmn, flags=codmn_flags),
        observations("sec_b", "tp", start, ends, tp, flags=tp_flags),
        observations("sec_b", "nh3n", start, ends, nh3n),
    ]
    ledger.write_observations(pd.concat(frames, ignore_index=True), "automatic")


def test_a_refreshed_automatic_station_series_is_each_day_alone(tmp_path: Path) -> None:
    """Hourly and 4-hourly readings over the end of March, ``[quality] exclude_own_flags``
    making ``stuck`` exclude: each as-of date's set must be checked as it stands, not with
    the flags of the whole year. On 30 March the DO run of 2.5 mg/L is 12 hours long (not
    stuck: 24 h for DO): those values count, and the mean of 12 × 7.5 and 12 × 2.5 is
    5.0 mg/L, class III (GB 3838-2002 Table 1: DO II ≥ 6, III ≥ 5), which fails the class II
    target; on the whole year the run is 29 hours long and excluded. Every stored column of
    every as-of date, and every row of the series, is the date alone."""
    assert STUCK_HOURS["do"] == 24  # (the run lengths above rest on it)
    config = tmp_path / "envmon.toml"
    config.write_text(CONFIG, encoding="utf-8")
    settings = load_settings(config, {})
    days = [date(2026, 3, 27) + timedelta(days=i) for i in range(10)]
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        _hourly_sec_a(ledger)
        _four_hourly_sec_b(ledger)
        # a correction of 30 March 23:00's NH3-N (stored again, the later one counts) and
        # readings of sec_b stored under its Chinese name too (one sample, two sites)
        moment = pd.Timestamp("2026-03-30 23:00", tz="Asia/Shanghai")
        fixed = observations("sec_a", "nh3n", moment - pd.Timedelta(hours=1), moment, 0.9)
        ledger.write_observations(fixed, "correction")
        moment = pd.Timestamp("2026-03-31 00:00", tz="Asia/Shanghai")
        ledger.write_observations(
            observations(
                "乙断面", ["codmn", "tp"], moment - pd.Timedelta(hours=4), moment, [9.0, 0.2]
            ),
            "platform",
        )
        series = progress_series(ledger, settings, days)
        alone = [row for d in days for row in compute_progress(ledger, settings, as_of=d)]
        assert len(series) == len(alone) == len(days)
        for in_series, each in zip(series, alone, strict=True):
            assert in_series == each, each.as_of
        refresh_progress(ledger, settings, ("2026-03-27",), date(2026, 4, 6))
        stored = ledger.query("SELECT * FROM target_progress ORDER BY as_of")
    assert stored["as_of"].tolist() == [d.isoformat() for d in days]
    for kept, each in zip(stored.to_dict("records"), alone, strict=True):
        expected = dataclasses.asdict(each) | {"target": each.id}
        for column, value in kept.items():
            if column == "details":
                assert json.loads(value) == json.loads(json.dumps(each.details, default=str))
            elif column != "computed_at":
                got = None if isinstance(value, float) and np.isnan(value) else value
                assert got == expected[str(column)], (each.as_of, column)
    a = {row.as_of: row.details["sections"]["sec_a"] for row in alone}
    # the cases the readings are for: 30 March rests on the run's first 12 hours (counted),
    # 31 March on all of it (stuck: excluded)
    assert a["2026-03-30"]["class"] == "III"
    assert a["2026-03-30"]["limiting_parameters"] == "do"
    assert a["2026-03-30"]["meets"] is False
    assert a["2026-03-31"]["class"] != "III"
    b = {row.as_of: row.details["sections"]["sec_b"] for row in alone}
    assert b["2026-04-01"]["samples"] == b["2026-04-02"]["samples"]  # (the gap)


def test_a_reading_over_a_longer_period_is_cut_as_each_day_alone(tmp_path: Path) -> None:
    """A 24-hour DO sample of 31 March (00:00 … 1 April 00:00, a composite beside the
    hourly readings of the same site) sits among the hourly readings in the checks' order
    (by ``period_start``) and breaks their chain: on the whole year the DO run of 2.5 mg/L
    is split in two runs shorter than 24 h (not stuck), but the set of 31 March (whose cut
    the composite, ending on 1 April, is past) holds the hourly readings after it and not
    the composite, so the run is one of 29 h there (stuck, excluded). Such readings, in a
    set although a reading before them is not, are checked again too; every row is the
    date alone."""
    config = tmp_path / "envmon.toml"
    config.write_text(CONFIG, encoding="utf-8")
    settings = load_settings(config, {})
    days = [date(2026, 3, 29) + timedelta(days=i) for i in range(5)]
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        _hourly_sec_a(ledger)
        _four_hourly_sec_b(ledger)
        start = pd.Timestamp("2026-03-31 00:00", tz="Asia/Shanghai")
        composite = observations("sec_a", "do", start, start + pd.Timedelta(days=1), 5.0)
        ledger.write_observations(composite, "laboratory")
        series = progress_series(ledger, settings, days)
        alone = [row for d in days for row in compute_progress(ledger, settings, as_of=d)]
    for in_series, each in zip(series, alone, strict=True):
        assert in_series == each, each.as_of
    a = {row.as_of: row.details["sections"]["sec_a"] for row in alone}
    # 31 March: the run stuck and excluded, DO rests on the 7.5 mg/L readings (class I:
    # GB 3838-2002 Table 1, DO I ≥ 7.5) and NH3-N (0.1–0.4, II at most) limits
    assert a["2026-03-31"]["limiting_parameters"] != "do"
