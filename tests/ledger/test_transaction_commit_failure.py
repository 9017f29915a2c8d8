"""A write transaction whose COMMIT fails is rolled back, so the ledger's connection can
write again (before, the transaction stayed open and every later ``BEGIN IMMEDIATE`` failed
with "cannot start a transaction within a transaction"). Real SQLite: a deferred foreign-key
violation is refused at COMMIT, and SQLite then leaves the transaction open."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from monitor.ledger import Ledger


def test_a_failed_commit_is_rolled_back_and_the_next_write_works(tmp_path: Path) -> None:
    ledger = Ledger.open(tmp_path / "ledger.sqlite")
    try:
        db = ledger.connection
        db.execute("PRAGMA foreign_keys = ON")
        with ledger.transaction() as tx:
            tx.execute("CREATE TEMP TABLE parent (id INTEGER PRIMARY KEY)")
            tx.execute(
                "CREATE TEMP TABLE child (parent INTEGER "
                "REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)"
            )
        with (
            pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"),
            ledger.transaction() as tx,
        ):
            tx.execute("INSERT INTO child VALUES (99)")  # refused only at COMMIT
        assert not db.in_transaction
        assert db.execute("SELECT count(*) FROM child").fetchone() == (0,)
        with ledger.transaction() as tx:  # the connection writes again
            tx.execute("INSERT INTO parent VALUES (99)")
            tx.execute("INSERT INTO child VALUES (99)")
        assert db.execute("SELECT count(*) FROM child").fetchone() == (1,)
    finally:
        ledger.close()
