"""The first chunk's window, read while ``evaluate_dirty`` judges whether a core is free
(issue 17): a row that cannot be read there must be isolated as in any chunk, never stop
the run (brief: "one bad record never stops anything else")."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from monitor.collectors.base import observations
from monitor.ledger import Ledger
from monitor.service.evaluate import AIR, CHUNK_DAYS, evaluate_dirty
from monitor.settings import load_settings
from tests.conftest import HUNNAN_TWO_STATIONS


def test_a_bad_row_in_the_first_chunks_window_is_isolated_not_raised(tmp_path: Path) -> None:
    config = tmp_path / "envmon.toml"
    config.write_text(HUNNAN_TWO_STATIONS, encoding="utf-8")
    settings = load_settings(config, {})
    # More local dates than one chunk holds: the run judges the cores (overlap unset).
    ends = pd.date_range(
        "2026-01-01 01:00", periods=24 * (CHUNK_DAYS + 9), freq="h", tz="Asia/Shanghai"
    )
    values = np.random.default_rng(1).uniform(5, 80, len(ends))
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        for site in ("1099A", "2900A"):
            for parameter in AIR:
                starts = (ends - pd.Timedelta(hours=1)).to_numpy()
                rows = observations(site, parameter, starts, ends.to_numpy(), values)
                ledger.write_observations(rows, "s")
        # One row as another tool may have left it (SQLite keeps a text in an INTEGER
        # column): its site's windows cannot be read.
        with ledger.transaction() as db:
            db.execute(
                "UPDATE observations SET ingested_at = 'x' WHERE site = '2900A' AND "
                "parameter = 'pm2_5' AND period_end = (SELECT min(period_end) "
                "FROM observations)"
            )

        report = evaluate_dirty(ledger, settings)

        failed = {(site, scope) for site, _, scope, _ in report.failed}
        assert failed == {("2900A", "site"), ("hunnan", "area")}
        evaluated = ledger.query(
            "SELECT site, count(DISTINCT date) AS n FROM daily_aqi GROUP BY site"
        )
        by_site = dict(zip(evaluated["site"], evaluated["n"], strict=True))
        assert by_site["1099A"] == CHUNK_DAYS + 10  # every local date (and the day before)
        assert 0 < by_site["2900A"] < by_site["1099A"]  # all but the unreadable window's
        left = ledger.dirty_days()
        assert set(left["site"]) == {"2900A", "hunnan"}  # retried on the next run
