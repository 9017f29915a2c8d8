"""What evaluation works from and leaves behind in the ledger: the days to re-evaluate
(dirty days), the observations it reads (column by column), and what failed."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Final

import pandas as pd

from monitor.ledger.connection import LedgerConnection
from monitor.ledger.epoch import epoch_now
from monitor.ledger.evaluation_input import EvaluationInput

#: How every statement marking a day dirty ends (``INSERT INTO dirty_days (site, date,
#: marked) ... MARK_DIRTY``, bound to a :func:`dirty_mark`): a day marked again gets a mark
#: other than the one it had, so an evaluation that read the day before clears it only if
#: nothing marked it meanwhile (:func:`forget_dirty`). The mark is an equality token, not
#: an order; it only grows while the row exists.
MARK_DIRTY: Final = (
    "ON CONFLICT (site, date) DO UPDATE SET marked = max(excluded.marked, dirty_days.marked + 1)"
)


def dirty_mark() -> int:
    """A fresh mark for the dirty days one transaction marks (nanoseconds since the epoch)."""
    return time.time_ns()


def forget_dirty(db: sqlite3.Connection, done: pd.DataFrame) -> None:
    """Delete the dirty days in ``done`` (columns site, date and, when read with
    :meth:`EvaluationStore.dirty_days` ``marked=True``, marked) within ``db``'s transaction.

    A row with its mark is deleted only while the mark is still the one read: a day another
    connection marked again after the evaluation read it (new observations) stays dirty and
    is evaluated again by the next run. A frame without marks (or a row whose mark is
    missing) deletes its days whatever their mark.
    """
    if not len(done):
        return
    sites, dates = done["site"].tolist(), done["date"].tolist()
    if "marked" not in done.columns:
        db.executemany(
            "DELETE FROM dirty_days WHERE site = ? AND date = ?", zip(sites, dates, strict=True)
        )
        return
    known = done["marked"].notna().to_numpy()
    marks = done["marked"].where(known, 0).astype("int64").tolist()
    rows = list(zip(sites, dates, marks, known.tolist(), strict=True))
    db.executemany(
        "DELETE FROM dirty_days WHERE site = ? AND date = ? AND marked = ?",
        [(s, d, m) for s, d, m, k in rows if k],
    )
    db.executemany(
        "DELETE FROM dirty_days WHERE site = ? AND date = ?",
        [(s, d) for s, d, _, k in rows if not k],
    )


class EvaluationStore(LedgerConnection):
    """Dirty days, the evaluation read, and evaluation failures."""

    def dirty_days(self, *, marked: bool = False) -> pd.DataFrame:
        """(site, date) pairs whose derived values must be recomputed; with ``marked`` also
        the column ``marked``, each day's mark, for :meth:`clear_dirty` to clear only the
        days not marked again since."""
        columns = "site, date, marked" if marked else "site, date"
        return self.query(f"SELECT {columns} FROM dirty_days ORDER BY date, site")

    def clear_dirty(self, done: pd.DataFrame) -> None:
        """Forget dirty days (columns site, date; with ``marked``, only the days whose mark
        is still that one: :func:`forget_dirty`) that were evaluated."""
        with self.transaction() as db:
            forget_dirty(db, done)

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
        mark = dirty_mark()
        with self.transaction() as db:
            # (none recorded, the rule: nothing to forget, no look-up per site-day)
            if db.execute("SELECT 1 FROM evaluation_failures LIMIT 1").fetchone() is not None:
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
                f"INSERT INTO dirty_days (site, date, marked) VALUES (?, ?, ?) {MARK_DIRTY}",
                [(site, day, mark) for site, day, scope, _ in failed if scope == "area"],
            )

    def evaluation_failures(self) -> pd.DataFrame:
        """Site-days and area-days that could not be evaluated (columns site, date, scope,
        error, first_failed, last_failed, attempts; epoch seconds), oldest first."""
        return self.query(
            "SELECT site, date, scope, error, first_failed, last_failed, attempts "
            "FROM evaluation_failures ORDER BY first_failed, date, site"
        )
