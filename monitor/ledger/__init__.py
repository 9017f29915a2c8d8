"""The ledger: SQLite system of record (:mod:`monitor.ledger.store` lists where each of
its concerns lives)."""

from monitor.ledger.store import Ledger, WriteResult, from_epoch, to_epoch

__all__ = ["Ledger", "WriteResult", "from_epoch", "to_epoch"]
