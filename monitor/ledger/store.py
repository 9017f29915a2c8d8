"""The ledger: envmon's system of record, an SQLite file in WAL mode.

Observations are upserted by (site, parameter, period end, source). A value or flags that
differ from what is stored replace it and the earlier one is kept in
``observation_revisions`` (platforms revise data after review); the same value again
changes nothing. Every write happens in one transaction together with the fetch log entry,
the source's watermark and the list of days to re-evaluate, so a process killed mid-write
leaves the ledger as it was before that write (SQLite's atomic commit).
"""

from __future__ import annotations

import sqlite3
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from monitor.errors import StorageError
from monitor.ledger.schema import LATEST_VERSION, MIGRATIONS

#: Offset of Asia/Shanghai from UTC [s]; fixed (no daylight saving since 1991).
LOCAL_OFFSET_S: Final = 8 * 3600

OBSERVATION_KEY: Final = ("period_end", "site", "parameter", "source")

#: Hours after midnight whose values can change the previous day's quality checks (the
#: longest air "stuck" run is 12 hours, for CO; a spike needs the next hour).
QC_LOOKAHEAD_HOURS: Final = 12

#: Up to this many sites, :meth:`Ledger.evaluation_observations` filters them in SQL; more
#: are read for the whole time window and filtered in numpy.
EVALUATION_SITES_IN_SQL: Final = 64

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


def to_epoch(times: pd.Series) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Tz-aware times → integer seconds UTC."""
    utc = pd.to_datetime(times, utc=True)
    nanoseconds = utc.astype("datetime64[ns, UTC]").astype("int64").to_numpy(dtype=np.int64)
    return np.floor_divide(nanoseconds, 1_000_000_000, dtype=np.int64)


def from_epoch(seconds: pd.Series | np.ndarray[Any, Any]) -> pd.Series:
    """Integer seconds UTC → tz-aware UTC times."""
    return pd.Series(pd.to_datetime(np.asarray(seconds, dtype=np.int64), unit="s", utc=True))


def _now() -> int:
    return int(datetime.now(UTC).timestamp())


class Ledger:
    """An open ledger. Use :meth:`open`; close it (or use ``with``) when done."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self.connection = connection
        self.path = path

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    def open(cls, path: Path) -> Ledger:
        """Open (creating if needed) the ledger at ``path`` and apply pending migrations.

        Raises
        ------
        StorageError
            If the file cannot be opened, is not an SQLite database, or was written by a
            newer envmon.
        """
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(path, timeout=30.0, isolation_level=None)
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

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE … COMMIT, ROLLBACK on error)."""
        try:
            self.connection.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as err:
            raise StorageError(f"cannot write to the ledger {self.path}: {err}") from err
        try:
            yield self.connection
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        else:
            self.connection.execute("COMMIT")

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

    # ------------------------------------------------------------------ writing

    def register_source(self, source: str, collector: str, kind: str) -> None:
        """Record a configured source (name, collector, measured or model)."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO sources (source, collector, kind, first_seen) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (source) DO UPDATE SET collector = excluded.collector, "
                "kind = excluded.kind",
                (source, collector, kind, _now()),
            )

    def adopt_site_aliases(self, source: str, aliases: Mapping[str, str]) -> int:
        """Move rows a source stored under a published name to the configured site id.

        ``aliases`` maps published name → site id (cnemc_water: ``name_zh`` → section id).
        Observations and their revisions of ``source``, and the derived water classes and
        QC flags of the alias, are renamed; the moved days are marked for re-evaluation
        and queued for publishing under the id. A row whose id twin already exists stays
        under the alias (never lost) and is counted in ``site_aliases.moved`` as not moved.
        Idempotent: a second call finds nothing to move. Returns the observations moved.
        """
        pairs = [(a, s) for a, s in aliases.items() if a and s and a != s]
        if not pairs:
            return 0
        moved_total = 0
        now = _now()
        with self.transaction() as db:
            for alias, site in pairs:
                before = db.execute(
                    "SELECT count(*) FROM observations WHERE site = ? AND source = ?",
                    (alias, source),
                ).fetchone()[0]
                if before:
                    db.execute(
                        "INSERT OR IGNORE INTO dirty_days (site, date) SELECT DISTINCT ?, "
                        "date(period_end + ?, 'unixepoch') FROM observations "
                        "WHERE site = ? AND source = ?",
                        (site, LOCAL_OFFSET_S, alias, source),
                    )
                    db.execute(
                        "INSERT OR REPLACE INTO outbox (kind, key, day, queued_at) "
                        "SELECT DISTINCT 'observations', ?, date(period_end + ?, 'unixepoch'), "
                        "? FROM observations WHERE site = ? AND source = ?",
                        (site, LOCAL_OFFSET_S, now, alias, source),
                    )
                    for table in ("observations", "observation_revisions"):
                        db.execute(
                            f"UPDATE OR IGNORE {table} SET site = ? WHERE site = ? AND source = ?",
                            (site, alias, source),
                        )
                    for table in ("water_classes", "qc_flags"):
                        db.execute(
                            f"UPDATE OR IGNORE {table} SET site = ? WHERE site = ?", (site, alias)
                        )
                    db.execute("DELETE FROM dirty_days WHERE site = ?", (alias,))
                left = db.execute(
                    "SELECT count(*) FROM observations WHERE site = ? AND source = ?",
                    (alias, source),
                ).fetchone()[0]
                moved_total += before - left
                db.execute(
                    "INSERT INTO site_aliases (source, alias, site, adopted_at, moved) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (source, alias) DO UPDATE SET "
                    "site = excluded.site, moved = site_aliases.moved + excluded.moved",
                    (source, alias, site, now, before - left),
                )
        return moved_total

    def write_observations(
        self,
        observations: pd.DataFrame,
        source: str,
        *,
        requested: str = "",
        covers: tuple[datetime | None, datetime | None] = (None, None),
        started_at: datetime | None = None,
        notes: Sequence[str] = (),
        refused: int = 0,
    ) -> WriteResult:
        """Upsert observations of one source and log the fetch, in one transaction.

        Parameters
        ----------
        observations : DataFrame
            Columns of :data:`monitor.collectors.base.OBSERVATION_COLUMNS`.
        source : str
            Configured source name.
        requested, covers, started_at, notes
            For the fetch log: what was asked, the period asked for (UTC), when the fetch
            started, remarks of the collector.
        refused : int
            Rows of the batch refused at intake before this call: a batch with rows, all
            refused, is logged with status ``refused`` (not ``empty``: the source did send).

        Returns
        -------
        WriteResult
        """
        now = _now()
        frame = observations
        if frame.duplicated(subset=["site", "parameter", "period_end"], keep="last").any():
            frame = frame.drop_duplicates(subset=["site", "parameter", "period_end"], keep="last")
        n = len(frame)
        # Rows in key order (period end, site, parameter): the B-tree then takes them as
        # appends, since data arrive hour by hour.
        ends = to_epoch(frame["period_end"])
        order = np.lexsort((frame["parameter"].to_numpy(str), frame["site"].to_numpy(str), ends))
        values = frame["value"].to_numpy(dtype=float)[order].astype(object)
        values[pd.isna(values)] = None
        rows: Iterable[tuple[Any, ...]] = zip(
            frame["site"].astype(str).to_numpy()[order].tolist(),
            frame["parameter"].astype(str).to_numpy()[order].tolist(),
            ends[order].tolist(),
            to_epoch(frame["period_start"])[order].tolist(),
            frame["unit"].astype(str).to_numpy()[order].tolist(),
            values.tolist(),
            frame["flags"].astype(str).to_numpy()[order].tolist(),
            strict=True,
        )
        with self.transaction() as db:
            inserted, revised = self._upsert_observations(
                db,
                rows,
                n,
                source,
                now=now,
                latest=int(ends.max()) if n else None,
                requested=requested,
                covers=covers,
                started_at=started_at,
                notes=notes,
                status="ok" if n else ("refused" if refused else "empty"),
            )
        return WriteResult(int(inserted), int(revised), n - int(inserted) - int(revised))

    def _upsert_observations(
        self,
        db: sqlite3.Connection,
        rows: Iterable[tuple[Any, ...]],
        n: int,
        source: str,
        *,
        now: int,
        latest: int | None,
        requested: str,
        covers: tuple[datetime | None, datetime | None],
        started_at: datetime | None,
        notes: Sequence[str],
        status: str | None = None,
    ) -> tuple[int, int]:
        """The upsert of :meth:`write_observations` inside an open transaction: ``rows``
        are ``(site, parameter, period_end, period_start, unit, value, flags)`` without
        duplicate keys, in key order, ``n`` of them; ``latest`` is their largest period end.
        Returns (inserted, revised)."""
        db.execute(
            "CREATE TEMP TABLE IF NOT EXISTS incoming (site TEXT, parameter TEXT, "
            "period_end INTEGER, period_start INTEGER, unit TEXT, value REAL, flags TEXT)"
        )
        db.execute("DELETE FROM incoming")
        db.executemany("INSERT INTO incoming VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        db.execute(
            "CREATE TEMP TABLE IF NOT EXISTS changed (site TEXT, parameter TEXT, "
            "period_end INTEGER, period_start INTEGER, unit TEXT, value REAL, flags TEXT, "
            "existed INTEGER)"
        )
        db.execute("DELETE FROM changed")
        db.execute(
            "INSERT INTO changed SELECT i.site, i.parameter, i.period_end, i.period_start, "
            "i.unit, i.value, i.flags, o.site IS NOT NULL FROM incoming i "
            "LEFT JOIN observations o ON o.site = i.site AND o.parameter = i.parameter "
            "AND o.period_end = i.period_end AND o.source = ? "
            "WHERE o.site IS NULL OR o.value IS NOT i.value OR o.flags IS NOT i.flags",
            (source,),
        )
        revised = db.execute(
            "INSERT INTO observation_revisions SELECT o.site, o.parameter, o.period_end, "
            "o.source, o.revision, o.value, o.flags, o.ingested_at, ? FROM changed c "
            "JOIN observations o ON o.site = c.site AND o.parameter = c.parameter "
            "AND o.period_end = c.period_end AND o.source = ? WHERE c.existed",
            (now, source),
        ).rowcount
        db.execute(
            "INSERT INTO observations (site, parameter, period_end, source, period_start, "
            "unit, value, flags, ingested_at) SELECT site, parameter, period_end, ?, "
            "period_start, unit, value, flags, ? FROM changed WHERE true "
            "ON CONFLICT (site, parameter, period_end, source) DO UPDATE SET "
            "value = excluded.value, flags = excluded.flags, unit = excluded.unit, "
            "period_start = excluded.period_start, ingested_at = excluded.ingested_at, "
            "revision = observations.revision + 1",
            (source, now),
        )
        inserted = db.execute("SELECT count(*) FROM changed WHERE NOT existed").fetchone()[0]
        db.execute(
            "INSERT OR REPLACE INTO outbox (kind, key, day, queued_at) SELECT DISTINCT "
            "'observations', site, date(period_end + ?, 'unixepoch'), ? FROM changed",
            (LOCAL_OFFSET_S, now),
        )
        # Days to re-evaluate: the local date of each changed label, and the next day
        # when the label is late enough to fall in its first 8-hour windows.
        db.execute(
            "INSERT OR IGNORE INTO dirty_days (site, date) SELECT DISTINCT site, "
            "date(period_end + ?, 'unixepoch') FROM changed",
            (LOCAL_OFFSET_S,),
        )
        db.execute(
            "INSERT OR IGNORE INTO dirty_days (site, date) SELECT DISTINCT site, "
            "date(period_end + ? + 86400, 'unixepoch') FROM changed "
            "WHERE CAST(strftime('%H', period_end + ?, 'unixepoch') AS INTEGER) >= 17",
            (LOCAL_OFFSET_S, LOCAL_OFFSET_S),
        )
        # ... and the days of the SO2 hours above 800 µg/m³ in the next 23 hours of a
        # changed SO2 label: they are rated on their 24-hour moving mean (HJ 633-2012
        # Table 1 note), which includes it.
        # One range scan per local date of changed SO2 (observations are time-first):
        # its first to last changed label + 23 h, kept to the sites changed that date.
        db.execute(
            "WITH so2 AS (SELECT site, period_end, date(period_end + ?, 'unixepoch') AS day "
            "FROM changed WHERE parameter = 'so2'), "
            "spans AS (SELECT day, min(period_end) AS lo, max(period_end) AS hi FROM so2 "
            "GROUP BY day), "
            "sites AS (SELECT DISTINCT site, day FROM so2) "
            "INSERT OR IGNORE INTO dirty_days (site, date) SELECT DISTINCT o.site, "
            "date(o.period_end + ?, 'unixepoch') FROM spans s JOIN observations o "
            "ON o.period_end > s.lo AND o.period_end < s.hi + 86400 "
            "JOIN sites c ON c.site = o.site AND c.day = s.day "
            "WHERE o.parameter = 'so2' AND o.value > 800",
            (LOCAL_OFFSET_S, LOCAL_OFFSET_S),
        )
        # ... and the day before when the label is early enough to change that day's
        # quality checks (stuck runs and spikes look at the following hours).
        db.execute(
            "INSERT OR IGNORE INTO dirty_days (site, date) SELECT DISTINCT site, "
            "date(period_end + ? - 86400, 'unixepoch') FROM changed "
            "WHERE CAST(strftime('%H', period_end + ?, 'unixepoch') AS INTEGER) < ?",
            (LOCAL_OFFSET_S, LOCAL_OFFSET_S, QC_LOOKAHEAD_HOURS),
        )
        if latest is not None:
            db.execute(
                "INSERT INTO watermarks (source, period_end) VALUES (?, ?) "
                "ON CONFLICT (source) DO UPDATE SET period_end = "
                "max(watermarks.period_end, excluded.period_end)",
                (source, latest),
            )
        self._log_fetch(
            db,
            source,
            requested=requested,
            covers=covers,
            started_at=started_at,
            finished_at=now,
            status=status or ("ok" if n else "empty"),
            rows=n,
            inserted=int(inserted),
            revised=int(revised),
            notes=notes,
        )
        return int(inserted), int(revised)

    def write_hj212_readings(self, rows: Sequence[tuple[Any, ...]]) -> int:
        """Store values pushed by HJ 212 data loggers that are not hourly observations
        (``hj212_readings``: real-time, minute and daily data, other statistics, codes
        without a canonical parameter).

        ``rows`` are ``(period_end, site, code, statistic, cn, period_start, parameter,
        unit, value, flags, mn, received_at)``, times in UTC epoch seconds. A value sent again
        for the same key replaces the earlier one (the latest packet wins). Returns the
        number of rows written.
        """
        with self.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO hj212_readings VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        return len(rows)

    def write_hj212(
        self,
        readings: Sequence[tuple[Any, ...]],
        observations: Sequence[tuple[Any, ...]],
        source: str,
        *,
        requested: str = "",
    ) -> WriteResult:
        """Store what a batch of HJ 212 packets carried, in **one** transaction (the
        receiver's group commit): ``readings`` as :meth:`write_hj212_readings`, and hourly
        ``observations`` as :meth:`write_observations` does (revisions, outbox, days to
        re-evaluate, watermark, fetch log), given as plain rows ``(site, parameter,
        period_end, period_start, unit, value, flags)``, times in UTC epoch seconds, value
        None when missing: no DataFrame, since the receiver commits small batches often.
        Of rows with the same key the last wins. Returns what the observations did."""
        latest: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        for row in observations:
            latest[(row[2], row[0], row[1])] = row  # key order: period end, site, parameter
        rows = [latest[key] for key in sorted(latest)]
        n = len(rows)
        with self.transaction() as db:
            if readings:
                db.executemany(
                    "INSERT OR REPLACE INTO hj212_readings VALUES "
                    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    readings,
                )
            inserted, revised = (0, 0)
            if rows:
                inserted, revised = self._upsert_observations(
                    db,
                    rows,
                    n,
                    source,
                    now=_now(),
                    latest=max(key[0] for key in latest),
                    requested=requested,
                    covers=(None, None),
                    started_at=None,
                    notes=(),
                )
        return WriteResult(inserted, revised, n - inserted - revised)

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
            self._log_fetch(
                db,
                source,
                requested=requested,
                covers=covers,
                started_at=started_at,
                finished_at=_now(),
                status="failed",
                error=error,
            )

    @staticmethod
    def _log_fetch(
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

    # ------------------------------------------------------------------ reading

    def query(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        """Run a read query and return a frame (column names from the query)."""
        cursor = self.connection.execute(sql, params)
        columns = [d[0] for d in cursor.description]
        return pd.DataFrame(cursor.fetchall(), columns=columns)

    def observations(
        self,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        sites: Sequence[str] | None = None,
        parameters: Sequence[str] | None = None,
        sources: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Stored observations with ``start < period_end <= end`` (UTC), as a frame.

        ``period_start``/``period_end`` come back tz-aware UTC; also ``source``,
        ``ingested_at`` and ``revision``.
        """
        where: list[str] = ["1"]
        params: list[Any] = []
        if start is not None:
            where.append("period_end > ?")
            params.append(int(start.timestamp()))
        if end is not None:
            where.append("period_end <= ?")
            params.append(int(end.timestamp()))
        for column, values in (("site", sites), ("parameter", parameters), ("source", sources)):
            if values is not None:
                where.append(f"{column} IN ({','.join('?' * len(values))})")
                params.extend(values)
        frame = self.query(
            "SELECT site, parameter, unit, period_start, period_end, value, flags, source, "
            f"ingested_at, revision FROM observations WHERE {' AND '.join(where)} "
            "ORDER BY period_end, site, parameter, source",  # the key order: no sort
            params,
        )
        for column in ("period_start", "period_end", "ingested_at"):
            frame[column] = (
                from_epoch(frame[column]) if len(frame) else pd.Series(dtype="datetime64[ns, UTC]")
            )
        frame["value"] = frame["value"].astype(float)
        return frame

    def evaluation_observations(
        self, *, start: datetime, end: datetime, sites: Sequence[str]
    ) -> pd.DataFrame:
        """What evaluation reads: the observations of ``sites`` with ``start < period_end <=
        end`` (UTC), column by column.

        Columns ``site``, ``parameter`` and ``source`` are categoricals (categories sorted),
        ``period_start``/``period_end``/``ingested_at`` tz-aware UTC, ``value`` float (NaN
        for NULL), ``flags`` str; rows in key order within each period end.

        Speed (issue 17): Python's sqlite3 makes a tuple and an object per cell, which was
        most of an evaluation's time. SQLite instead joins each hour's column into one text
        (``group_concat`` over the key's first column: a streaming scan) and numpy parses
        the numbers; values are written with 17 significant digits (``%!.17g``), which read
        back to the same double. Should a text not split into exactly the hour's rows (a
        separator inside a code, a value numpy cannot parse), the window is read row by row.
        Many sites (a national network) are read for the whole window and filtered here: an
        ``IN`` list of a thousand sites costs SQLite more per row than reading the row.
        """
        where = "period_end > ? AND period_end <= ?"
        params: list[Any] = [int(start.timestamp()), int(end.timestamp())]
        wanted = sorted(set(sites))
        by_sql = len(wanted) <= EVALUATION_SITES_IN_SQL
        if by_sql:
            where += f" AND site IN ({','.join('?' * len(wanted))})"
            params.extend(wanted)
        frame = self._observation_columns(where, params)
        if frame is None:
            frame = self._observation_rows(where, params)
        if not by_sql:
            frame = frame[frame["site"].isin(wanted)].reset_index(drop=True)
            frame["site"] = frame["site"].cat.remove_unused_categories()
        for column in ("period_start", "period_end", "ingested_at"):
            frame[column] = from_epoch(frame[column].to_numpy())
        return frame

    def _observation_columns(self, where: str, params: Sequence[Any]) -> pd.DataFrame | None:
        """The columns of :meth:`evaluation_observations` (times as epoch seconds) from one
        text per hour and column, or None when a text does not split into its rows."""
        sep = "\x1f"
        hours = self.connection.execute(
            "SELECT count(*), group_concat(site, char(31)), group_concat(parameter, char(31)), "
            "group_concat(period_start, ','), period_end, "
            "group_concat(CASE WHEN value IS NULL THEN 'nan' "
            "ELSE printf('%!.17g', value) END, ','), "
            "group_concat(flags, char(31)), group_concat(source, char(31)), "
            f"group_concat(ingested_at, ',') FROM observations WHERE {where} "
            "GROUP BY period_end",
            params,
        ).fetchall()
        n = sum(int(h[0]) for h in hours)

        def text(i: int) -> list[str] | None:
            cells = sep.join(h[i] for h in hours).split(sep) if n else []
            return cells if len(cells) == n else None

        def categorical(i: int) -> pd.Categorical[Any] | None:
            # Hour by hour: never a Python string per row of the whole window at once.
            names: dict[str, int] = {}
            parts = []
            for hour in hours:
                cells = hour[i].split(sep)
                if len(cells) != hour[0]:
                    return None
                codes, uniques = pd.factorize(np.array(cells, dtype=object))
                found = [names.setdefault(str(u), len(names)) for u in uniques]
                parts.append(np.array(found, dtype=np.int64)[codes])
            if not names:
                return pd.Categorical([])
            order = sorted(names)  # the categories pd.Categorical infers: sorted
            rank = np.empty(len(order), dtype=np.int64)
            rank[[names[name] for name in order]] = np.arange(len(order))
            codes = rank[np.concatenate(parts)]
            return pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(order))

        def numbers(i: int, dtype: type) -> npt.NDArray[Any] | None:
            joined = ",".join(h[i] for h in hours)
            parsed: npt.NDArray[Any]
            try:
                with warnings.catch_warnings():  # unparsable text: numpy stops early, warns
                    warnings.simplefilter("ignore", DeprecationWarning)
                    parsed = np.fromstring(joined, dtype=dtype, sep=",") if n else np.zeros(0)
            except ValueError:  # what later numpy versions raise instead
                return None
            return parsed if len(parsed) == n else None

        site, parameter, flags, source = categorical(1), categorical(2), text(6), categorical(7)
        period_start = numbers(3, np.int64)
        counts = np.fromiter((h[0] for h in hours), np.int64, len(hours))
        period_end = np.repeat(np.fromiter((h[4] for h in hours), np.int64, len(hours)), counts)
        value, ingested_at = numbers(5, np.float64), numbers(8, np.int64)
        if (
            site is None
            or parameter is None
            or flags is None
            or source is None
            or period_start is None
            or value is None
            or ingested_at is None
            or np.isinf(value).any()  # written as Inf; read row by row to be sure
        ):
            return None
        return pd.DataFrame(
            {
                "site": site,
                "parameter": parameter,
                "period_start": period_start,
                "period_end": period_end,
                "value": value,
                "flags": np.array(flags, dtype=object),
                "source": source,
                "ingested_at": ingested_at,
            }
        )

    def _observation_rows(self, where: str, params: Sequence[Any]) -> pd.DataFrame:
        """The columns of :meth:`evaluation_observations` (times as epoch seconds), read
        row by row."""
        rows = self.connection.execute(
            "SELECT site, parameter, period_start, period_end, value, flags, source, "
            f"ingested_at FROM observations WHERE {where}",
            params,
        ).fetchall()
        n = len(rows)
        columns: list[Sequence[Any]] = list(zip(*rows, strict=True)) if n else [()] * 8
        return pd.DataFrame(
            {
                "site": pd.Categorical(columns[0]),
                "parameter": pd.Categorical(columns[1]),
                "period_start": np.fromiter(columns[2], np.int64, n),
                "period_end": np.fromiter(columns[3], np.int64, n),
                "value": np.array(columns[4], dtype=float) if n else np.zeros(0),
                "flags": np.array(columns[5], dtype=object),
                "source": pd.Categorical(columns[6]),
                "ingested_at": np.fromiter(columns[7], np.int64, n),
            }
        )

    def revisions(self, site: str, parameter: str) -> pd.DataFrame:
        """Earlier values of one site and parameter, oldest first."""
        return self.query(
            "SELECT period_end, source, revision, value, flags, ingested_at, replaced_at "
            "FROM observation_revisions WHERE site = ? AND parameter = ? "
            "ORDER BY period_end, source, revision",
            (site, parameter),
        )

    def watermark(self, source: str) -> datetime | None:
        """End of the latest period stored for the source (UTC), or None."""
        row = self.connection.execute(
            "SELECT period_end FROM watermarks WHERE source = ?", (source,)
        ).fetchone()
        return None if row is None else datetime.fromtimestamp(row[0], UTC)

    def dirty_days(self) -> pd.DataFrame:
        """(site, date) pairs whose derived values must be recomputed."""
        return self.query("SELECT site, date FROM dirty_days ORDER BY date, site")

    def fetch_log(self, source: str | None = None, limit: int = 100) -> pd.DataFrame:
        """Latest fetch log entries, newest first."""
        if source is None:
            return self.query("SELECT * FROM fetch_log ORDER BY id DESC LIMIT ?", (limit,))
        return self.query(
            "SELECT * FROM fetch_log WHERE source = ? ORDER BY id DESC LIMIT ?", (source, limit)
        )

    # ------------------------------------------------------------------ derived

    def replace_derived(
        self,
        table: str,
        frame: pd.DataFrame,
        key: Sequence[str],
        done: pd.DataFrame | None = None,
    ) -> None:
        """Write derived rows (replacing rows with the same key) and clear the dirty days
        in ``done`` (columns site, date), in one transaction."""
        if table not in {
            "hourly_aqi",
            "daily_aqi",
            "water_classes",
            "qc_flags",
            "target_progress",
        }:
            raise ValueError(f"unknown derived table {table!r}")
        columns = list(frame.columns)
        placeholders = ", ".join("?" * len(columns))
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
        sql = (
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders}) "
            f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
        )
        records = _records(frame, columns)
        kind, keys, days = _published_site_days(table, frame)
        with self.transaction() as db:
            db.executemany(sql, records)
            _queue(db, kind, keys, days)
            if done is not None and len(done):
                db.executemany(
                    "DELETE FROM dirty_days WHERE site = ? AND date = ?",
                    list(zip(done["site"], done["date"], strict=True)),
                )

    def write_official_daily(self, frame: pd.DataFrame, source_file: str) -> WriteResult:
        """Upsert official (audited) daily AQI of areas; changed values keep the earlier one.

        ``frame`` has ``area, date`` (YYYY-MM-DD), ``aqi``, ``category``,
        ``primary_pollutants``, ``dust`` (bool).
        """
        now = _now()
        inserted = revised = unchanged = 0
        with self.transaction() as db:
            for row in frame.to_dict("records"):
                value = float(row["aqi"])
                aqi = None if np.isnan(value) else value
                area, day = str(row["area"]), str(row["date"])
                new = (aqi, str(row["category"]), str(row["primary_pollutants"]), int(row["dust"]))
                old = db.execute(
                    "SELECT aqi, category, primary_pollutants, dust, source_file, imported_at, "
                    "revision FROM official_daily_aqi WHERE area = ? AND date = ?",
                    (area, day),
                ).fetchone()
                if old is not None and tuple(old[:4]) == new:
                    unchanged += 1
                    continue
                if old is not None:
                    db.execute(
                        "INSERT INTO official_daily_aqi_revisions VALUES "
                        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (area, day, old[6], *old[:6], now),
                    )
                    revised += 1
                else:
                    inserted += 1
                _queue(db, "official_daily_aqi", [area], [day])
                db.execute(
                    "INSERT INTO official_daily_aqi (area, date, aqi, category, "
                    "primary_pollutants, dust, source_file, imported_at, revision) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0) ON CONFLICT (area, date) DO UPDATE SET "
                    "aqi = excluded.aqi, category = excluded.category, "
                    "primary_pollutants = excluded.primary_pollutants, dust = excluded.dust, "
                    "source_file = excluded.source_file, imported_at = excluded.imported_at, "
                    "revision = official_daily_aqi.revision + 1",
                    (area, day, *new, source_file, now),
                )
        return WriteResult(inserted, revised, unchanged)

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
                (target, item, day, value, note, _now()),
            )
        return 1

    def delete_qc_flags(self, site_days: pd.DataFrame) -> None:
        """Forget envmon's QC flags of the given (site, date) days before they are recomputed."""
        with self.transaction() as db:
            _queue(db, "observations", site_days["site"], site_days["date"])  # flags cleared
            db.executemany(
                "DELETE FROM qc_flags WHERE site = ? AND date(period_end + ?, 'unixepoch') = ?",
                [
                    (site, LOCAL_OFFSET_S, day)
                    for site, day in zip(site_days["site"], site_days["date"], strict=True)
                ],
            )

    def clear_dirty(self, done: pd.DataFrame) -> None:
        """Forget dirty days (columns site, date) that were evaluated."""
        with self.transaction() as db:
            db.executemany(
                "DELETE FROM dirty_days WHERE site = ? AND date = ?",
                list(zip(done["site"], done["date"], strict=True)),
            )

    # ------------------------------------------------------------------ evaluation failures

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
        now = _now()
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

    # ------------------------------------------------------------------ outbox

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
        now = _now()
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

    # ------------------------------------------------------------------ report send log

    def report_entry(self, kind: str, period: str) -> ReportLogEntry | None:
        """The send-log row of one report (``daily``/``monthly``, ``YYYY-MM-DD``/``YYYY-MM``)."""
        row = self.connection.execute(
            f"SELECT {_REPORT_COLUMNS} FROM report_log WHERE kind = ? AND period = ?",
            (kind, period),
        ).fetchone()
        return None if row is None else ReportLogEntry.from_row(row)

    def last_report_period(self, kind: str) -> str | None:
        """The latest period of a kind in the send log, or None when there is none."""
        row = self.connection.execute(
            "SELECT max(period) FROM report_log WHERE kind = ?", (kind,)
        ).fetchone()
        return None if row is None or row[0] is None else str(row[0])

    def record_report(
        self,
        kind: str,
        period: str,
        *,
        path: str,
        message_id: str,
        recipients: Sequence[str],
        send: bool,
    ) -> ReportLogEntry:
        """Note that a report was written to ``path``; with ``send``, ask for it to be sent.

        A report already sent (or being sent) stays so: it is never sent twice. A report
        written again keeps its first Message-ID, so that mail programs recognise a resent
        copy after a crash as the same message. Returns the row as stored.
        """
        now = _now()
        with self.transaction() as db:
            old = db.execute(
                "SELECT status, message_id FROM report_log WHERE kind = ? AND period = ?",
                (kind, period),
            ).fetchone()
            if old is None:
                db.execute(
                    "INSERT INTO report_log (kind, period, recipients, status, written_at, "
                    "message_id, path) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        kind,
                        period,
                        ",".join(recipients),
                        "pending" if send else "written",
                        now,
                        message_id,
                        path,
                    ),
                )
            elif old[0] in ("sent", "sending"):
                db.execute(
                    "UPDATE report_log SET path = ?, written_at = ? WHERE kind = ? AND period = ?",
                    (path, now, kind, period),
                )
            else:
                status = "pending" if send or old[0] == "pending" else "written"
                attempts = "0" if send else "attempts"  # an explicit send starts afresh
                db.execute(
                    f"UPDATE report_log SET path = ?, written_at = ?, recipients = ?, "
                    f"status = ?, attempts = {attempts} WHERE kind = ? AND period = ?",
                    (path, now, ",".join(recipients), status, kind, period),
                )
        entry = self.report_entry(kind, period)
        assert entry is not None
        return entry

    def claim_report(
        self, kind: str, period: str, *, stale_after_s: int = 3600, force: bool = False
    ) -> bool:
        """Take a pending report for sending (``True``), so that no other process sends it
        too; a claim older than ``stale_after_s`` (a sender that died) can be taken over,
        and any claim with ``force`` (the operator knows no other sender runs)."""
        now = _now()
        stale = now + 1 if force else now - stale_after_s
        with self.transaction() as db:
            claimed = db.execute(
                "UPDATE report_log SET status = 'sending', claimed_at = ? WHERE kind = ? AND "
                "period = ? AND (status = 'pending' OR (status = 'sending' AND claimed_at < ?))",
                (now, kind, period, stale),
            ).rowcount
        return claimed == 1

    def report_claimed_at(self, kind: str, period: str) -> int | None:
        """When the report's current sending claim was taken (epoch seconds), or None."""
        row = self.connection.execute(
            "SELECT claimed_at FROM report_log WHERE kind = ? AND period = ? AND "
            "status = 'sending'",
            (kind, period),
        ).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def finish_report_send(
        self, kind: str, period: str, *, error: str = "", max_attempts: int = 96
    ) -> ReportLogEntry:
        """Record the outcome of one sending attempt of a claimed report: sent when
        ``error`` is empty, else pending again (``failed`` after ``max_attempts``)."""
        now = _now()
        with self.transaction() as db:
            if not error:
                db.execute(
                    "UPDATE report_log SET status = 'sent', sent_at = ?, attempts = attempts + 1,"
                    " last_error = '' WHERE kind = ? AND period = ?",
                    (now, kind, period),
                )
            else:
                db.execute(
                    "UPDATE report_log SET attempts = attempts + 1, last_error = ?, status = "
                    "CASE WHEN attempts + 1 >= ? THEN 'failed' ELSE 'pending' END "
                    "WHERE kind = ? AND period = ?",
                    (error, max_attempts, kind, period),
                )
        entry = self.report_entry(kind, period)
        assert entry is not None
        return entry

    def reports_to_send(self, *, stale_after_s: int = 3600) -> list[ReportLogEntry]:
        """Reports asked to be sent and not sent yet (pending, or claimed by a sender that
        died), oldest first."""
        rows = self.connection.execute(
            f"SELECT {_REPORT_COLUMNS} FROM report_log WHERE status = 'pending' OR "
            "(status = 'sending' AND claimed_at < ?) ORDER BY written_at, kind, period",
            (_now() - stale_after_s,),
        ).fetchall()
        return [ReportLogEntry.from_row(r) for r in rows]


#: Rows turned into Python tuples at a time by :func:`_records` (bounds memory).
RECORD_SLICE: Final = 20_000


def _records(frame: pd.DataFrame, columns: Sequence[str]) -> Iterator[tuple[Any, ...]]:
    """The frame's rows as tuples for ``executemany`` (NaN and missing → None), a slice of
    :data:`RECORD_SLICE` rows at a time: a large derived write never holds every row as
    Python objects at once. Column-wise: NaN → None once per column (per cell was the cost).
    """
    for first in range(0, len(frame), RECORD_SLICE):
        part = frame.iloc[first : first + RECORD_SLICE]
        columns_data = []
        for column in columns:
            data = part[column].to_numpy()
            if data.dtype.kind == "f":
                missing = np.isnan(data)
                data = data.astype(object)
                data[missing] = None
            elif data.dtype.kind in "iub":
                columns_data.append(data.astype(np.int64).tolist())
                continue
            else:
                data = data.astype(object)
                data[pd.isna(data)] = None
            columns_data.append(data.tolist())
        yield from zip(*columns_data, strict=True)


def _queue(db: sqlite3.Connection, kind: str, keys: Iterable[Any], days: Iterable[Any]) -> None:
    """Queue site-days for publishing (see :meth:`Ledger.outbox_batch`), inside ``db``'s
    transaction."""
    now = _now()
    db.executemany(
        "INSERT OR REPLACE INTO outbox (kind, key, day, queued_at) VALUES (?, ?, ?, ?)",
        sorted({(kind, str(k), str(d), now) for k, d in zip(keys, days, strict=True)}),
    )


def local_dates(seconds: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """``YYYY-MM-DD`` (Asia/Shanghai) of epoch-second labels: the day a label belongs to.

    >>> local_dates(np.array([1767196800 - 1, 1767196800])).tolist()
    ['2025-12-31', '2026-01-01']
    """
    local = np.asarray(seconds, dtype=np.int64) + LOCAL_OFFSET_S
    return local.astype("datetime64[s]").astype("datetime64[D]").astype(str)


def _published_site_days(table: str, frame: pd.DataFrame) -> tuple[str, list[Any], list[Any]]:
    """The outbox kind and (key, local date) pairs a derived write changes. QC flags are
    published with their observations, so they queue the observations' site-days."""
    kind = "observations" if table == "qc_flags" else table
    key, day = PUBLISHED_TABLES[kind]
    if day == "period_end":
        # Distinct (key, local day number) first: formatting a date per row was the cost.
        seconds = pd.to_numeric(frame["period_end"]).to_numpy(dtype=np.int64)
        pairs = pd.DataFrame(
            {"key": frame[key].to_numpy(), "day": (seconds + LOCAL_OFFSET_S) // 86400}
        ).drop_duplicates()
        days = local_dates(pairs["day"].to_numpy() * 86400 - LOCAL_OFFSET_S).tolist()
        return kind, pairs["key"].tolist(), days
    pairs = frame[[key, day]].drop_duplicates()
    return kind, pairs[key].tolist(), pairs[day].tolist()


_REPORT_COLUMNS: Final = (
    "kind, period, recipients, status, attempts, written_at, sent_at, message_id, path, last_error"
)


@dataclass(frozen=True)
class ReportLogEntry:
    """One row of the report send log (times in epoch seconds UTC)."""

    kind: str
    period: str
    recipients: tuple[str, ...]
    status: str  #: written, pending, sending, sent or failed
    attempts: int
    written_at: int
    sent_at: int | None
    message_id: str
    path: str
    last_error: str

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> ReportLogEntry:
        """From a row selected with ``_REPORT_COLUMNS``."""
        recipients = tuple(r for r in str(row[2]).split(",") if r)
        return cls(
            str(row[0]),
            str(row[1]),
            recipients,
            str(row[3]),
            int(row[4]),
            int(row[5]),
            None if row[6] is None else int(row[6]),
            str(row[7]),
            str(row[8]),
            str(row[9]),
        )
