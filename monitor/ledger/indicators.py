"""Manually reported indicator values (``indicator_values``): an append-only audit trail."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from monitor.ledger.connection import LedgerConnection
from monitor.ledger.epoch import epoch_now, wait_past_second
from monitor.ledger.fetch_log import log_fetch

#: The fetch log's source of indicator files imported (``envmon import --format
#: indicators-csv``).
INDICATOR_IMPORTS = "indicator_values"


class IndicatorStore(LedgerConnection):
    """Values of targets that no source measures, as an officer reported them."""

    def add_indicator_value(
        self, target: str, day: str, value: str, *, item: str = "", note: str = ""
    ) -> int:
        """Append a manually reported value (an audit trail: never updated). The same value
        and note as the latest entry of that target, item and date add nothing; returns the
        rows added (0 or 1).

        Recorded after the second of the last imported file (waiting if need be, at most
        a second): a value's second names the file it came from, and this one came from
        none (:meth:`import_indicator_values`)."""
        last = self.connection.execute(
            "SELECT max(finished_at) FROM fetch_log WHERE source = ?", (INDICATOR_IMPORTS,)
        ).fetchone()[0]
        if last is not None:
            wait_past_second(int(last))
        with self.transaction() as db:
            return _append(db, (target, item, day, value, note), epoch_now())

    def import_indicator_values(
        self, rows: Sequence[tuple[str, str, str, str, str]], *, requested: str
    ) -> int:
        """Append the values of one imported file, ``(target, item, date, value, note)``
        rows, as :meth:`add_indicator_value` does each, all recorded in one second, and log
        the import in the fetch log (source :data:`INDICATOR_IMPORTS`, ``requested``) in the
        same transaction: its second tells the file a value came from. Returns the rows
        added."""
        now = epoch_now()
        added = 0
        with self.transaction() as db:
            for row in rows:
                added += _append(db, row, now)
            log_fetch(
                db,
                INDICATOR_IMPORTS,
                requested=requested,
                covers=(None, None),
                started_at=None,
                finished_at=now,
                status="ok" if rows else "empty",
                rows=len(rows),
                inserted=added,
            )
        return added


def _append(db: sqlite3.Connection, row: tuple[str, str, str, str, str], at: int) -> int:
    """Append ``(target, item, date, value, note)`` recorded at ``at`` (epoch seconds)
    unless the latest entry of that target, item and date has the same value and note;
    returns the rows added (0 or 1)."""
    target, item, day, value, note = row
    latest = db.execute(
        "SELECT value, note FROM indicator_values WHERE target = ? AND item = ? "
        "AND date = ? ORDER BY id DESC LIMIT 1",
        (target, item, day),
    ).fetchone()
    if latest is not None and tuple(latest) == (value, note):
        return 0
    db.execute(
        "INSERT INTO indicator_values (target, item, date, value, note, recorded_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (*row, at),
    )
    return 1
