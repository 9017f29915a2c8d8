"""``Ledger.write_hj212`` (the receiver's group commit, plain rows) stores observations exactly
as ``Ledger.write_observations`` (a DataFrame) does: values, revisions, days to re-evaluate,
outbox, watermark; and readings in the same transaction."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from monitor.ledger import Ledger

# 2026-03-01 08:00 Beijing time = 00:00 UTC; hourly values labelled by the end of the hour
T0 = 1772323200
SOURCE = "hj212"


def rows(values: list[float | None], site: str = "hn01", start: int = T0) -> list[tuple[Any, ...]]:
    """(site, parameter, period_end, period_start, unit, value, flags), one per hour."""
    return [
        (site, "pm2_5", start + 3600 * (k + 1), start + 3600 * k, "µg/m³", v, "")
        for k, v in enumerate(values)
    ]


def frame(batch: list[tuple[Any, ...]]) -> pd.DataFrame:
    site, parameter, end, start, unit, value, flags = zip(*batch, strict=True)
    return pd.DataFrame(
        {
            "site": site,
            "parameter": parameter,
            "unit": unit,
            "period_start": pd.to_datetime(list(start), unit="s", utc=True),
            "period_end": pd.to_datetime(list(end), unit="s", utc=True),
            "value": [float("nan") if v is None else v for v in value],
            "flags": flags,
        }
    )


def state(ledger: Ledger) -> dict[str, list[tuple[Any, ...]]]:
    db = ledger.connection
    return {
        "observations": db.execute(
            "SELECT site, parameter, period_end, period_start, unit, value, flags, revision "
            "FROM observations ORDER BY site, period_end"
        ).fetchall(),
        "revisions": db.execute(
            "SELECT site, period_end, revision, value FROM observation_revisions "
            "ORDER BY site, period_end, revision"
        ).fetchall(),
        "dirty": db.execute("SELECT site, date FROM dirty_days ORDER BY 1, 2").fetchall(),
        "outbox": db.execute("SELECT kind, key, day FROM outbox ORDER BY 1, 2, 3").fetchall(),
        "watermark": db.execute("SELECT source, period_end FROM watermarks").fetchall(),
    }


def test_plain_rows_store_what_a_dataframe_stores(tmp_path: Path) -> None:
    batches = [
        rows([10.0, 20.0, None]) + rows([5.0], site="hn02", start=T0 + 16 * 3600),
        rows([10.0, 25.0, None]),  # one value revised, the others the same again
        rows([30.0], start=T0 + 3600) + rows([31.0], start=T0 + 3600),  # the last one wins
    ]
    with Ledger.open(tmp_path / "a.sqlite") as a, Ledger.open(tmp_path / "b.sqlite") as b:
        results_a = [a.write_observations(frame(batch), SOURCE) for batch in batches]
        results_b = [b.write_hj212([], batch, SOURCE) for batch in batches]
        assert results_b == results_a
        assert state(b) == state(a)
        observed = state(b)
    assert [(r.inserted, r.revised, r.unchanged) for r in results_b] == [
        (4, 0, 0),
        (0, 1, 2),
        (0, 1, 0),
    ]
    # the 2nd hour: 20 → 25 → 31, two revisions kept
    assert [r[3] for r in observed["revisions"]] == [20.0, 25.0]


def test_readings_and_observations_in_one_transaction(tmp_path: Path) -> None:
    reading = (T0, "hn01", "a01001", "Avg", "2061", T0 - 3600, "", "°C", 3.5, "", "MN1", T0)
    with Ledger.open(tmp_path / "l.sqlite") as ledger:
        ledger.connection.execute("DROP TABLE dirty_days")  # the observations part fails …
        with pytest.raises(sqlite3.OperationalError, match="dirty_days"):
            ledger.write_hj212([reading], rows([1.0]), SOURCE)
        # … and the reading of the same batch was not committed either
        count = ledger.connection.execute("SELECT count(*) FROM hj212_readings").fetchone()
    assert count == (0,)
