"""A value another tool stored as a blob in ``observations.value`` (SQLite's REAL affinity
keeps every blob as it is, https://www.sqlite.org/datatype3.html#type_affinity) is not a
concentration: the evaluation refuses it (tests/service/test_evaluate_bad_values.py), and
the publisher sends no number for it, as for a text that is not a number; never the
number its bytes spell (b"12" is not 12 µg/m³)."""

from __future__ import annotations

import re
from pathlib import Path

from monitor.ledger import Ledger
from monitor.service.publish import Publisher
from tests.service.test_publish_lines import FIRST, LAST, MIDNIGHT, Capture, settings_for


def test_a_blob_or_text_value_is_published_without_a_number(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    stored: list[object] = [12.0, b"12", "abc", b"", "nan"]
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        with ledger.transaction() as db:
            db.executemany(
                "INSERT INTO observations (site, parameter, period_end, source, period_start,"
                " unit, value, flags, ingested_at, revision) VALUES ('1099A', 'pm2_5', ?,"
                " 'cnemc', 0, 'µg/m³', ?, '', 0, 0)",
                [(MIDNIGHT + 3600 * (k + 1), value) for k, value in enumerate(stored)],
            )
        kinds = ledger.query("SELECT typeof(value) AS t FROM observations ORDER BY period_end")
        assert kinds["t"].tolist() == ["real", "blob", "text", "blob", "text"]
        capture = Capture()
        Publisher(ledger, settings, capture).replay(FIRST, LAST)
    lines = [line for line in capture.lines if line.startswith("air_observation,")]
    assert len(lines) == len(stored)
    assert re.search(r"[ ,]value=12 ", lines[0])
    for line in lines[1:]:
        assert not re.search(r"[ ,]value=", line), line
