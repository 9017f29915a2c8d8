"""Manually reported indicator values (``indicator_values``): an append-only audit trail."""

from __future__ import annotations

from monitor.ledger.connection import LedgerConnection
from monitor.ledger.epoch import epoch_now


class IndicatorStore(LedgerConnection):
    """Values of targets that no source measures, as an officer reported them."""

    def add_indicator_value(
        self, target: str, day: str, value: str, *, item: str = "", note: str = ""
    ) -> int:
        """Append a manually reported value (an audit trail: never updated). The same value
        and note as the latest entry of that target, item and date add nothing; returns the
        rows added (0 or 1)."""
        with self.transaction() as db:
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
                (target, item, day, value, note, epoch_now()),
            )
        return 1
