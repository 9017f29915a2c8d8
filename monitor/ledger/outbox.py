"""The outbox: which site-days wait to be published, and the points the server refused
(``publish_quarantine``), kept to look at and replay."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

import pandas as pd

from monitor.ledger.connection import LedgerConnection
from monitor.ledger.epoch import epoch_now

#: Tables whose rows are published (each an outbox ``kind``): the column naming the series
#: owner (the outbox ``key``) and the column giving the local date (``period_end``, epoch
#: seconds, or a ``YYYY-MM-DD`` column). Writers queue by it; the publisher reads by it.
PUBLISHED_TABLES: Final[Mapping[str, tuple[str, str]]] = {
    "observations": ("site", "period_end"),
    "hourly_aqi": ("site", "period_end"),
    "daily_aqi": ("site", "date"),
    "water_classes": ("site", "period_end"),
    "target_progress": ("target", "as_of"),
    "official_daily_aqi": ("area", "date"),
}


class OutboxStore(LedgerConnection):
    """The publish queue (outbox) and the quarantine of refused points."""

    def outbox_batch(self, limit: int, after: int = 0) -> pd.DataFrame:
        """The oldest ``limit`` site-days waiting to be published (columns seq, kind, key,
        day, queued_at), in the order they were queued, from seq ``after`` on."""
        return self.query(
            "SELECT seq, kind, key, day, queued_at FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
            (after, limit),
        )

    def outbox_done(self, seqs: Sequence[int]) -> None:
        """Forget published site-days (only these seqs: one queued again since stays)."""
        with self.transaction() as db:
            db.executemany("DELETE FROM outbox WHERE seq = ?", [(int(s),) for s in seqs])

    def quarantine(self, rejected: pd.DataFrame, status: int, message: str) -> None:
        """Keep points the server refused as bad data (columns kind, key, day, line) in
        ``publish_quarantine`` with its status and message, to look at and replay later."""
        now = epoch_now()
        records = [
            (str(r.kind), str(r.key), str(r.day), str(r.line), int(status), message, now)
            for r in rejected.itertuples(index=False)
        ]
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO publish_quarantine (kind, key, day, line, status, message, "
                "quarantined_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                records,
            )

    def outbox_stats(self) -> tuple[int, int | None]:
        """Site-days waiting to be published, and when the oldest was queued (epoch s)."""
        row = self.connection.execute("SELECT count(*), min(queued_at) FROM outbox").fetchone()
        return int(row[0]), None if row[1] is None else int(row[1])

    def quarantined(self) -> pd.DataFrame:
        """Points the server refused, newest first."""
        return self.query(
            "SELECT id, kind, key, day, line, status, message, quarantined_at "
            "FROM publish_quarantine ORDER BY id DESC"
        )


def enqueue(db: sqlite3.Connection, kind: str, keys: Iterable[Any], days: Iterable[Any]) -> None:
    """Queue site-days for publishing (see :meth:`Ledger.outbox_batch`), inside ``db``'s
    transaction."""
    now = epoch_now()
    db.executemany(
        "INSERT OR REPLACE INTO outbox (kind, key, day, queued_at) VALUES (?, ?, ?, ?)",
        sorted({(kind, str(k), str(d), now) for k, d in zip(keys, days, strict=True)}),
    )
