"""Dirty days far apart (a correction of a day long past, beside today's data) are read in
chunks of their own: a chunk's observations are read from its first date to its last, so
one chunk holding both would read every observation of the months between (the national
network: 1,600 stations × years of hours in one read)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from monitor.collectors.base import observations
from monitor.ledger import Ledger, evaluation_hours
from monitor.service.evaluate import AIR, evaluate_dirty
from monitor.settings import load_settings
from tests.conftest import HUNNAN_TWO_STATIONS

SITES = ("1099A", "2900A")


def _write(ledger: Ledger, ends: pd.DatetimeIndex, value: float | None, source: str) -> None:
    rng = np.random.default_rng(7)
    for site in SITES:
        for parameter in AIR:
            values = rng.uniform(5, 80, len(ends)) if value is None else np.full(len(ends), value)
            starts = (ends - pd.Timedelta(hours=1)).to_numpy()
            ledger.write_observations(
                observations(site, parameter, starts, ends.to_numpy(), values), source
            )


@pytest.mark.parametrize("overlap", [False, True])
def test_a_correction_long_past_is_read_apart_from_todays_days(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, overlap: bool
) -> None:
    config = tmp_path / "envmon.toml"
    config.write_text(HUNNAN_TWO_STATIONS, encoding="utf-8")
    settings = load_settings(config, {})
    year = pd.date_range("2025-01-01 01:00", "2026-02-15 00:00", freq="h", tz="Asia/Shanghai")
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        _write(ledger, year, None, "s")
        evaluate_dirty(ledger, settings, overlap=False)
        total = ledger.connection.execute("SELECT count(*) FROM observations").fetchone()[0]
        # A correction of 10 January 2025 and new values of 10 February 2026, 13 months apart.
        for day in ("2025-01-10", "2026-02-10"):
            hours = pd.date_range(f"{day} 01:00", periods=24, freq="h", tz="Asia/Shanghai")
            _write(ledger, hours, 500.0, "s")
        dirty = sorted(set(ledger.dirty_days()["date"]))
        assert dirty[0] < "2025-02-01" and dirty[-1] > "2026-02-01"  # one run, both far apart

        read = [0]
        real = evaluation_hours.fetch

        def counted(*args: Any) -> Any:
            fetched = real(*args)
            read[0] += sum(int(hour[0]) for hour in fetched[0])
            return fetched

        monkeypatch.setattr(evaluation_hours, "fetch", counted)  # a spy: the real read runs
        report = evaluate_dirty(ledger, settings, overlap=overlap)
        monkeypatch.setattr(evaluation_hours, "fetch", real)

        assert not report.failed
        assert ledger.dirty_days().empty
        # Each dirty date's window is its day, the day before and the first hours after:
        # a few days of 2 stations × 6 pollutants × 24 hours, not the 13 months between.
        per_day = len(SITES) * len(AIR) * 24
        assert 0 < read[0] <= 4 * len(dirty) * per_day < total / 10
        # The corrected days are evaluated from the corrected values (500 µg/m³ of every
        # pollutant: PM10's IAQI 500 → AQI 500 by HJ 633-2012 Table 1; the 2026 rules too).
        daily = ledger.query(
            "SELECT site, date, aqi FROM daily_aqi WHERE date IN ('2025-01-10', '2026-02-10') "
            "AND is_area = 0"
        )
        assert len(daily) == 2 * len(SITES) * 2  # both rule sets
        assert (daily["aqi"] >= 300).all()


def test_the_progress_counts_the_dates_of_each_chunk_far_apart(tmp_path: Path) -> None:
    """Days 40 days apart (each dirty with the day before and after) are chunks of three
    dates each (2 stations: chunks of up to 31 dates): the progress after each chunk is the
    dates evaluated so far, not a chunk's full ``step`` of 31 (that reported every date
    done after the first chunk)."""
    config = tmp_path / "envmon.toml"
    config.write_text(HUNNAN_TWO_STATIONS, encoding="utf-8")
    settings = load_settings(config, {})
    days = ("2025-01-10", "2025-02-19", "2025-03-31")  # 40 days apart
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        for day in days:
            hours = pd.date_range(f"{day} 01:00", periods=24, freq="h", tz="Asia/Shanghai")
            _write(ledger, hours, 50.0, "s")
        dirty = sorted(set(ledger.dirty_days()["date"]))
        assert len(dirty) == 9 and all(day in dirty for day in days)
        calls: list[tuple[int, int]] = []
        report = evaluate_dirty(
            ledger, settings, overlap=False, progress=lambda n, total: calls.append((n, total))
        )
    assert not report.failed
    assert calls == [(3, 9), (6, 9), (9, 9)]
