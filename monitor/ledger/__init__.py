"""The ledger: SQLite system of record (see :mod:`monitor.ledger.store`)."""

from monitor.ledger.store import Ledger, WriteResult, from_epoch, to_epoch

__all__ = ["Ledger", "WriteResult", "from_epoch", "to_epoch"]
