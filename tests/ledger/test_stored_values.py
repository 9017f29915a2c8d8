"""``Ledger.observations`` (what ``envmon progress`` reads water readings with) and a value
another tool stored as a text or a blob (SQLite's REAL affinity keeps them as they are,
https://www.sqlite.org/datatype3.html#type_affinity): refused with the row and the value
named, as the evaluation refuses it; never a blob's bytes read as a number (b"12" → 12.0)
nor a bare "could not convert string to float"."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from monitor.collectors.base import observations
from monitor.ledger import Ledger
from monitor.ledger.observation_rows import StoredValueError


@pytest.mark.parametrize(("stored", "kind"), [("abc", "text"), (b"12", "blob"), ("", "text")])
def test_a_text_or_blob_value_is_refused_with_its_row_named(
    tmp_path: Path, stored: str | bytes, kind: str
) -> None:
    ends = pd.date_range("2026-01-01 01:00", periods=3, freq="h", tz="Asia/Shanghai")
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        starts = (ends - pd.Timedelta(hours=1)).to_numpy()
        rows = observations("S1", "do", starts, ends.to_numpy(), np.full(3, 5.0))
        ledger.write_observations(rows, "s")
        assert ledger.observations()["value"].tolist() == [5.0, 5.0, 5.0]
        with ledger.transaction() as db:
            db.execute(
                "UPDATE observations SET value = ? WHERE period_end = ?",
                (stored, int(ends[1].timestamp())),
            )
        with pytest.raises(StoredValueError) as refused:
            ledger.observations()
        message = str(refused.value)
        assert "S1 do ending 2025-12-31T18:00:00+00:00 from source 's'" in message
        assert f"stored value {stored!r} is a {kind}; expected a number or NULL" in message
        # the rows around it are read as they are
        before = ledger.observations(end=ends[0].to_pydatetime())
        assert before["value"].tolist() == [5.0]


@pytest.mark.parametrize(
    ("stored", "shown"), [("x" * 100_000, "'xxxx"), (b"\x00" * 100_000, "b'\\x00")]
)
def test_a_long_stored_value_is_named_by_its_beginning_and_length(
    stored: str | bytes, shown: str
) -> None:
    """The message is logged and kept for every site-day it fails, on every run, and shown
    by /healthz: a value of 100,000 characters or bytes is named by its beginning and its
    length, not written out whole (it was 100 kB of text per message, 400 kB for a blob)."""
    error = StoredValueError(("S1", "pm2_5", 0, 1767225600, stored, "", "s", 0))
    message = str(error)
    assert len(message) < 400
    assert f"stored value {shown}" in message and "100000 " in message
    assert "expected a number or NULL" in message
