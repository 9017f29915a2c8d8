"""A value another tool stored as a text or a blob in ``observations.value`` (issue 17
review): SQLite's REAL affinity converts a text that reads as a number ('12.5', ' 250 ')
and keeps any other text ('abc', '', 'nan', 'inf') and every blob as it is. The evaluation's
column-wise read sent such a value through ``printf('%!.17e')``, which made it 0.0: a
concentration read silently as zero. It is refused now as the row-by-row read refuses it:
the site-days whose windows hold it fail with the row and the value named, the others
evaluate (brief: "one bad record never stops anything else", never lost data)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from monitor.collectors.base import observations
from monitor.ledger import Ledger
from monitor.ledger.evaluation_hours import StoredValueError
from monitor.service.evaluate import AIR, CHUNK_DAYS, evaluate_dirty
from monitor.settings import load_settings
from tests.conftest import HUNNAN_TWO_STATIONS

#: The hour whose PM2.5 of 2900A is edited: 2026-01-02 12:00 local (04:00 UTC).
_EDITED = int(datetime(2026, 1, 2, 4, tzinfo=UTC).timestamp())
_EDIT_SQL = (
    "UPDATE observations SET value = ? WHERE site = '2900A' AND parameter = 'pm2_5' "
    "AND period_end = ?"
)


def _ledger_with_days(tmp_path: Path, days: int) -> Ledger:
    """Both stations, every air pollutant 10.0 each hour of ``days`` local dates from
    2026-01-01."""
    ends = pd.date_range("2026-01-01 01:00", periods=24 * days, freq="h", tz="Asia/Shanghai")
    ledger = Ledger.open(tmp_path / "ledger.sqlite")
    for site in ("1099A", "2900A"):
        for parameter in AIR:
            starts = (ends - pd.Timedelta(hours=1)).to_numpy()
            rows = observations(site, parameter, starts, ends.to_numpy(), np.full(len(ends), 10.0))
            ledger.write_observations(rows, "s")
    return ledger


@pytest.mark.parametrize(
    ("stored", "kind"),
    [
        ("abc", "text"),
        ("", "text"),
        ("nan", "text"),  # SQLite reads no NaN or infinity from a text
        ("inf", "text"),
        ("-Infinity", "text"),
        ("1,5", "text"),  # (read as 1.0 before: printf stops at the comma)
        (b"12", "blob"),  # (read as 12.0 before)
        (b"", "blob"),
    ],
)
def test_a_text_or_blob_value_is_refused_with_its_row_named(
    tmp_path: Path, stored: str | bytes, kind: str
) -> None:
    with _ledger_with_days(tmp_path, 2) as ledger:
        with ledger.transaction() as db:
            db.execute(_EDIT_SQL, (stored, _EDITED))
        typeof = ledger.query(
            "SELECT typeof(value) AS t FROM observations WHERE site = '2900A' "
            "AND parameter = 'pm2_5' AND period_end = ?",
            (_EDITED,),
        )["t"].tolist()
        assert typeof == [kind]  # what SQLite kept: not converted to a number
        start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 3, tzinfo=UTC)
        with pytest.raises(StoredValueError) as refused:
            ledger.evaluation_observations(start=start, end=end, sites=["1099A", "2900A"])
        message = str(refused.value)
        assert "2900A pm2_5 ending 2026-01-02T04:00:00+00:00" in message
        assert f"stored value {stored!r} is a {kind}" in message
        assert "expected a number or NULL" in message
        # the other station's rows are read as they are
        other = ledger.evaluation_observations(start=start, end=end, sites=["1099A"])
        # (1099A's hours ending 2026-01-01 01:00 … 2026-01-02 16:00 UTC: 40, 6 pollutants)
        assert len(other) == 6 * 40 and (other["value"] == 10.0).all()


@pytest.mark.parametrize(
    ("stored", "read"),
    [
        (None, None),  # NULL: a missing value
        ("12.5", 12.5),  # SQLite's REAL affinity stores a number text as the number
        (" 250 ", 250.0),
        ("1e999", float("inf")),  # (a REAL infinity, as a writer of 1e999 stores it)
    ],
)
def test_null_and_number_texts_are_read_as_stored(
    tmp_path: Path, stored: str | None, read: float | None
) -> None:
    with _ledger_with_days(tmp_path, 2) as ledger:
        with ledger.transaction() as db:
            db.execute(_EDIT_SQL, (stored, _EDITED))
        kind = ledger.query(
            "SELECT typeof(value) AS t FROM observations WHERE site = '2900A' "
            "AND parameter = 'pm2_5' AND period_end = ?",
            (_EDITED,),
        )["t"].tolist()
        assert kind == ["null" if stored is None else "real"]
        start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 3, tzinfo=UTC)
        frame = ledger.evaluation_observations(start=start, end=end, sites=["1099A", "2900A"])
        edited = frame[
            (frame["site"] == "2900A").to_numpy()
            & (frame["parameter"] == "pm2_5").to_numpy()
            & (frame["period_end"] == pd.Timestamp(_EDITED, unit="s", tz="UTC")).to_numpy()
        ]["value"].tolist()
        assert len(edited) == 1
        if read is None:
            assert np.isnan(edited[0])
        else:
            assert edited[0] == read


@pytest.mark.parametrize("overlap", [False, True])
def test_a_text_value_fails_the_site_days_that_read_it_only(tmp_path: Path, overlap: bool) -> None:
    """Over more dates than one chunk, the edited hour in the second chunk (read ahead with
    ``overlap``): 2900A's days whose windows hold it fail with the value named and stay
    dirty; every other site-day evaluates, 1099A's all; none is read as 0."""
    config = tmp_path / "envmon.toml"
    config.write_text(HUNNAN_TWO_STATIONS, encoding="utf-8")
    settings = load_settings(config, {})
    days = CHUNK_DAYS + 9
    edited_day = (date(2026, 1, 1) + timedelta(days=CHUNK_DAYS + 3)).isoformat()  # 02-04
    at = int(pd.Timestamp(f"{edited_day} 12:00", tz="Asia/Shanghai").timestamp())
    with _ledger_with_days(tmp_path, days) as ledger:
        with ledger.transaction() as db:
            db.execute(_EDIT_SQL, ("", at))

        report = evaluate_dirty(ledger, settings, overlap=overlap)

        failed = {(site, scope) for site, _, scope, _ in report.failed}
        assert failed == {("2900A", "site"), ("hunnan", "area")}
        failed_days = {day for site, day, scope, _ in report.failed if scope == "site"}
        assert edited_day in failed_days
        assert len(failed_days) <= 3  # the day, and the neighbours whose windows reach it
        for _, _, _, error in report.failed:
            assert "stored value '' is a text; expected a number or NULL" in error
        recorded = ledger.evaluation_failures()
        assert set(zip(recorded["site"], recorded["date"], strict=True)) >= {
            ("2900A", edited_day),
            ("hunnan", edited_day),
        }
        daily = ledger.query(
            "SELECT site, date, pm2_5 FROM daily_aqi WHERE standard = 'hj633-2012'"
        )
        by_site = daily.groupby("site")["date"].nunique().to_dict()
        assert by_site["1099A"] == days + 1  # every local date (and the day before)
        assert by_site["2900A"] == days + 1 - len(failed_days)
        assert (daily["pm2_5"].dropna() == 10.0).all()  # no hour read as 0
        left = ledger.dirty_days()
        assert set(left["site"]) == {"2900A", "hunnan"}  # retried on the next run
