"""The fetch log: one row per fetch of a source (ok, empty, refused or failed), written
in the same transaction as the fetch's observations."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime

import pandas as pd

from monitor.ledger.connection import LedgerConnection
from monitor.ledger.epoch import epoch_now


class FetchLogStore(LedgerConnection):
    """Failed fetches, and reading the fetch log (a fetch that wrote observations is
    logged by :mod:`~monitor.ledger.observations` with :func:`log_fetch`)."""

    def log_failure(
        self,
        source: str,
        error: str,
        *,
        requested: str = "",
        covers: tuple[datetime | None, datetime | None] = (None, None),
        started_at: datetime | None = None,
    ) -> None:
        """Record a failed fetch: "our fetch failed", as opposed to "nothing at the source"."""
        with self.transaction() as db:
            log_fetch(
                db,
                source,
                requested=requested,
                covers=covers,
                started_at=started_at,
                finished_at=epoch_now(),
                status="failed",
                error=error,
            )

    def fetch_log(self, source: str | None = None, limit: int = 100) -> pd.DataFrame:
        """Latest fetch log entries, newest first."""
        if source is None:
            return self.query("SELECT * FROM fetch_log ORDER BY id DESC LIMIT ?", (limit,))
        return self.query(
            "SELECT * FROM fetch_log WHERE source = ? ORDER BY id DESC LIMIT ?", (source, limit)
        )


def log_fetch(
    db: sqlite3.Connection,
    source: str,
    *,
    requested: str,
    covers: tuple[datetime | None, datetime | None],
    started_at: datetime | None,
    finished_at: int,
    status: str,
    rows: int = 0,
    inserted: int = 0,
    revised: int = 0,
    error: str = "",
    notes: Sequence[str] = (),
) -> None:
    """Add a fetch log row inside ``db``'s open transaction."""

    def seconds(moment: datetime | None) -> int | None:
        return None if moment is None else int(moment.timestamp())

    db.execute(
        "INSERT INTO fetch_log (source, started_at, finished_at, requested, covers_start, "
        "covers_end, status, rows, inserted, revised, error, notes) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            source,
            seconds(started_at) or finished_at,
            finished_at,
            requested,
            seconds(covers[0]),
            seconds(covers[1]),
            status,
            rows,
            inserted,
            revised,
            error,
            "\n".join(notes),
        ),
    )
