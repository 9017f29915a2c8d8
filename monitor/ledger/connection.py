"""The ledger's one SQLite connection: open (WAL mode, migrations), close, write
transactions, the schema version, read queries; and what a write returns."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import pandas as pd

from monitor.errors import StorageError
from monitor.ledger.schema import LATEST_VERSION, MIGRATIONS


def reading_connection(
    connection: sqlite3.Connection, cache_kib: int
) -> sqlite3.Connection | None:
    """A second connection to the ledger file of ``connection``, for reading only (``PRAGMA
    query_only``), usable from another thread: an evaluation run reads the next window on
    it while the one connection writes (WAL: readers and the writer do not block each
    other). None for a ledger without a file (in memory).

    Raises
    ------
    sqlite3.Error
        If the file cannot be opened.
    """
    path = next(
        (str(r[2]) for r in connection.execute("PRAGMA database_list") if r[1] == "main"), ""
    )
    if not path:
        return None
    reader = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
    try:
        reader.execute("PRAGMA query_only=1")
        reader.execute(f"PRAGMA cache_size=-{int(cache_kib)}")
    except sqlite3.Error:
        reader.close()
        raise
    return reader


@dataclass(frozen=True)
class WriteResult:
    """What one write did: new rows, revised rows (old value kept), rows already identical."""

    inserted: int
    revised: int
    unchanged: int

    @property
    def changed(self) -> int:
        """Rows inserted or revised."""
        return self.inserted + self.revised


class LedgerConnection:
    """The one connection every part of the ledger works over: opening (with the
    migrations), closing, write transactions, the schema version and plain read queries.

    The concern modules (:mod:`monitor.ledger.store` lists them) extend this class;
    :class:`monitor.ledger.store.Ledger` combines them.
    """

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self.connection = connection
        self.path = path

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    def open(cls, path: Path) -> Self:
        """Open (creating if needed) the ledger at ``path`` and apply pending migrations.

        Raises
        ------
        StorageError
            If the file cannot be opened, is not an SQLite database, or was written by a
            newer envmon.
        """
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # check_same_thread off: an evaluation run writes from one background thread
            # while the caller's thread reads (monitor.ledger.evaluation_output).
            connection = sqlite3.connect(
                path, timeout=30.0, isolation_level=None, check_same_thread=False
            )
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA foreign_keys=ON")
            connection.execute("PRAGMA busy_timeout=30000")
            connection.execute("PRAGMA cache_size=-262144")  # 256 MiB, grown only when used
        except (OSError, sqlite3.Error) as err:
            raise StorageError(
                f"cannot open the ledger {path}: {err}; check the path (--ledger, "
                "[ledger] path or $ENVMON_LEDGER) and that the folder is writable"
            ) from err
        ledger = cls(connection, path)
        ledger._migrate()
        return ledger

    def close(self) -> None:
        """Close the connection."""
        self.connection.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE … COMMIT, ROLLBACK on error, also when
        the COMMIT itself fails: SQLite may leave the transaction open then — a deferred
        constraint, a busy or full disk — and every later write would fail to begin)."""
        try:
            self.connection.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as err:
            raise StorageError(f"cannot write to the ledger {self.path}: {err}") from err
        try:
            yield self.connection
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        try:
            self.connection.execute("COMMIT")
        except BaseException:
            if self.connection.in_transaction:
                self.connection.execute("ROLLBACK")
            raise

    def _migrate(self) -> None:
        try:
            with self.transaction() as db:
                db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
                row = db.execute("SELECT max(version) FROM schema_version").fetchone()
                current = int(row[0]) if row and row[0] is not None else 0
                if current > LATEST_VERSION:
                    raise StorageError(
                        f"the ledger {self.path} has schema version {current}, newer than this "
                        f"envmon knows ({LATEST_VERSION}); upgrade envmon"
                    )
                for version, _, statements in MIGRATIONS:
                    if version <= current:
                        continue
                    for statement in statements:
                        db.execute(statement)
                    db.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
        except sqlite3.DatabaseError as err:
            raise StorageError(f"{self.path} is not a usable envmon ledger: {err}") from err

    @property
    def schema_version(self) -> int:
        """The applied schema version."""
        row = self.connection.execute("SELECT max(version) FROM schema_version").fetchone()
        return int(row[0])

    def query(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        """Run a read query and return a frame (column names from the query)."""
        cursor = self.connection.execute(sql, params)
        columns = [d[0] for d in cursor.description]
        return pd.DataFrame(cursor.fetchall(), columns=columns)
