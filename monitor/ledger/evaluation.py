"""What evaluation works from and leaves behind in the ledger: the days to re-evaluate
(dirty days), the observations it reads (column by column), and what failed."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import pandas as pd

from monitor.ledger.connection import LedgerConnection
from monitor.ledger.epoch import epoch_now
from monitor.ledger.evaluation_input import EvaluationInput


class EvaluationStore(LedgerConnection):
    """Dirty days, the evaluation read, and evaluation failures."""

    def dirty_days(self) -> pd.DataFrame:
        """(site, date) pairs whose derived values must be recomputed."""
        return self.query("SELECT site, date FROM dirty_days ORDER BY date, site")

    def clear_dirty(self, done: pd.DataFrame) -> None:
        """Forget dirty days (columns site, date) that were evaluated."""
        with self.transaction() as db:
            db.executemany(
                "DELETE FROM dirty_days WHERE site = ? AND date = ?",
                list(zip(done["site"], done["date"], strict=True)),
            )

    def evaluation_observations(
        self, *, start: datetime, end: datetime, sites: Sequence[str]
    ) -> pd.DataFrame:
        """What evaluation reads: the observations of ``sites`` with ``start < period_end <=
        end`` (UTC), column by column (:class:`~monitor.ledger.evaluation_input.
        EvaluationInput`, here without a previous window to reuse).

        Columns ``site``, ``parameter`` and ``source`` are categoricals (categories sorted),
        ``period_start``/``period_end``/``ingested_at`` tz-aware UTC, ``value`` float (NaN
        for NULL), ``flags`` str; rows in key order within each period end.
        """
        return EvaluationInput(self.connection).observations(start=start, end=end, sites=sites)

    def record_evaluation_results(
        self,
        failed: Sequence[tuple[str, str, str, str]],
        succeeded: Iterable[tuple[str, str]],
    ) -> None:
        """Keep what could not be evaluated and forget what now evaluated, in one transaction.

        ``failed`` holds (site or area, date, scope ``site``/``area``, error): a new failure
        starts with one attempt, a repeated one counts the attempt and keeps when it first
        failed. A failed area-day is queued as a dirty day under the area's id so the next
        run retries it (a failed site-day is still dirty). ``succeeded`` (site or area, date)
        rows are deleted.
        """
        now = epoch_now()
        with self.transaction() as db:
            db.executemany(
                "DELETE FROM evaluation_failures WHERE site = ? AND date = ?",
                [(str(k), str(d)) for k, d in succeeded],
            )
            db.executemany(
                "INSERT INTO evaluation_failures (site, date, scope, error, first_failed, "
                "last_failed, attempts) VALUES (?, ?, ?, ?, ?, ?, 1) ON CONFLICT (site, date) "
                "DO UPDATE SET scope = excluded.scope, error = excluded.error, "
                "last_failed = excluded.last_failed, "
                "attempts = evaluation_failures.attempts + 1",
                [(site, day, scope, error, now, now) for site, day, scope, error in failed],
            )
            db.executemany(
                "INSERT OR IGNORE INTO dirty_days (site, date) VALUES (?, ?)",
                [(site, day) for site, day, scope, _ in failed if scope == "area"],
            )

    def evaluation_failures(self) -> pd.DataFrame:
        """Site-days and area-days that could not be evaluated (columns site, date, scope,
        error, first_failed, last_failed, attempts; epoch seconds), oldest first."""
        return self.query(
            "SELECT site, date, scope, error, first_failed, last_failed, attempts "
            "FROM evaluation_failures ORDER BY first_failed, date, site"
        )
