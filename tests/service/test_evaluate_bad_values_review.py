"""Review of the refusal of a text or blob stored as an observation value: a window read
for more sites than are filtered in SQL (``EVALUATION_SITES_IN_SQL``) is read whole and
filtered after; a bad value of a site not asked for must not refuse it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from monitor.collectors.base import observations
from monitor.ledger import Ledger
from monitor.ledger.evaluation_hours import StoredValueError
from monitor.ledger.evaluation_input import EVALUATION_SITES_IN_SQL

_EDITED = int(datetime(2026, 1, 2, 4, tzinfo=UTC).timestamp())  # 2026-01-02 12:00 local


def _ledger(tmp_path: Path, sites: list[str]) -> Ledger:
    """PM2.5 10.0 each hour of 2026-01-01 and 02 (local) at each of ``sites``."""
    ends = pd.date_range("2026-01-01 01:00", periods=48, freq="h", tz="Asia/Shanghai")
    ledger = Ledger.open(tmp_path / "ledger.sqlite")
    for site in sites:
        starts = (ends - pd.Timedelta(hours=1)).to_numpy()
        rows = observations(site, "pm2_5", starts, ends.to_numpy(), np.full(len(ends), 10.0))
        ledger.write_observations(rows, "s")
    return ledger


@pytest.mark.parametrize("asked", [2, EVALUATION_SITES_IN_SQL + 1])
def test_a_bad_value_of_a_site_not_asked_for_is_not_refused(tmp_path: Path, asked: int) -> None:
    sites = [f"S{k:03d}" for k in range(asked)]
    with _ledger(tmp_path, [*sites, "BAD"]) as ledger:
        with ledger.transaction() as db:
            db.execute(
                "UPDATE observations SET value = 'abc' WHERE site = 'BAD' AND period_end = ?",
                (_EDITED,),
            )
        start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 3, tzinfo=UTC)
        frame = ledger.evaluation_observations(start=start, end=end, sites=sites)
        # (hours ending 2026-01-01 01:00 … 2026-01-02 16:00 local: 40 per site)
        assert len(frame) == 40 * asked and (frame["value"] == 10.0).all()
        assert set(frame["site"]) == set(sites)
        with pytest.raises(StoredValueError, match="BAD pm2_5 ending 2026-01-02T04:00:00"):
            ledger.evaluation_observations(start=start, end=end, sites=[*sites, "BAD"])


def test_an_area_of_many_stations_is_not_failed_by_a_bad_value_outside_it(
    tmp_path: Path,
) -> None:
    """An area of more stations than are filtered in SQL: its days evaluate although a
    station outside it holds a text value in the same hours; only that station's days
    whose windows hold the value fail."""
    from monitor.service.evaluate import evaluate_dirty
    from monitor.settings import load_settings

    members = [f"{1000 + k}A" for k in range(EVALUATION_SITES_IN_SQL + 1)]
    config = '[district]\nname = "D"\nname_zh = "区"\n\n'
    config += '[[areas]]\nid = "big"\nname = "Big"\nname_zh = "大"\n'
    station = '\n[[air_stations]]\ncode = "{}"\nname_zh = "站"\nrole = "evaluation"\nareas = {}\n'
    for code in members:
        config += station.format(code, '["big"]')
    config += station.format("9999A", "[]")
    (tmp_path / "envmon.toml").write_text(config, encoding="utf-8")
    settings = load_settings(tmp_path / "envmon.toml", {})
    with _ledger(tmp_path, [*members, "9999A"]) as ledger:
        with ledger.transaction() as db:
            db.execute(
                "UPDATE observations SET value = '' WHERE site = '9999A' AND period_end = ?",
                (_EDITED,),
            )
        report = evaluate_dirty(ledger, settings, overlap=False)
        assert {(site, scope) for site, _, scope, _ in report.failed} == {("9999A", "site")}
        area = ledger.query("SELECT date, pm2_5 FROM daily_aqi WHERE site = 'big'")
        assert set(area["date"]) >= {"2026-01-01", "2026-01-02"}
        assert (area["pm2_5"].dropna() == 10.0).all()


def test_the_days_refused_evaluate_on_the_next_run_once_the_value_is_set_right(
    tmp_path: Path,
) -> None:
    from monitor.service.evaluate import evaluate_dirty
    from monitor.settings import load_settings
    from tests.conftest import HUNNAN_TWO_STATIONS

    (tmp_path / "envmon.toml").write_text(HUNNAN_TWO_STATIONS, encoding="utf-8")
    settings = load_settings(tmp_path / "envmon.toml", {})
    edit = "UPDATE observations SET value = ? WHERE site = '2900A' AND period_end = ?"
    with _ledger(tmp_path, ["1099A", "2900A"]) as ledger:
        with ledger.transaction() as db:
            db.execute(edit, ("abc", _EDITED))
        first = evaluate_dirty(ledger, settings, overlap=False)
        failed = {(site, day) for site, day, _, _ in first.failed}
        assert ("2900A", "2026-01-02") in failed and ("hunnan", "2026-01-02") in failed
        again = evaluate_dirty(ledger, settings, overlap=False)  # still there: still refused
        assert {(site, day) for site, day, _, _ in again.failed} == failed
        assert set(ledger.evaluation_failures()["attempts"]) == {2}
        with ledger.transaction() as db:  # set right by hand (no new dirty day marked)
            db.execute(edit, (10.0, _EDITED))
        fixed = evaluate_dirty(ledger, settings, overlap=False)
        assert fixed.failed == ()
        assert ledger.evaluation_failures().empty and ledger.dirty_days().empty
        daily = ledger.query(
            "SELECT site, date, pm2_5 FROM daily_aqi WHERE standard = 'hj633-2012' "
            "AND date IN ('2026-01-01', '2026-01-02')"
        )
        assert len(daily) == 6 and (daily["pm2_5"] == 10.0).all()
