"""Observations in the ledger: upserts with revisions, HJ 212 readings, and reads.

Observations are upserted by (site, parameter, period end, source). A value or flags that
differ from what is stored replace it and the earlier one is kept in
``observation_revisions`` (platforms revise data after review); the same value again
changes nothing. Every write happens in one transaction together with the fetch log entry,
the source's watermark and the list of days to re-evaluate, so a process killed mid-write
leaves the ledger as it was before that write (SQLite's atomic commit).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Final

import numpy as np
import pandas as pd

from monitor.ledger.connection import LedgerConnection, WriteResult
from monitor.ledger.epoch import LOCAL_OFFSET_S, epoch_now, from_epoch, to_epoch
from monitor.ledger.evaluation import MARK_DIRTY, dirty_mark
from monitor.ledger.fetch_log import log_fetch
from monitor.ledger.observation_rows import StoredValueError

OBSERVATION_KEY: Final = ("period_end", "site", "parameter", "source")

#: Hours after midnight whose values can change the previous day's quality checks (the
#: longest air "stuck" run is 12 hours, for CO; a spike needs the next hour).
QC_LOOKAHEAD_HOURS: Final = 12
#: 1992-01-01 00:00 UTC+8 (epoch seconds): from then on Asia/Shanghai kept UTC+8 all year.
_UTC8_THROUGHOUT: Final = 694195200


class ObservationStore(LedgerConnection):
    """Observations: writes (with revisions, the outbox, days to re-evaluate, the
    watermark and the fetch log, in one transaction) and reads."""

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
        now = epoch_now()
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
        # Each marked again with a fresh mark (MARK_DIRTY): an evaluation that read the
        # day before this commit leaves it dirty.
        mark = dirty_mark()
        db.execute(
            "INSERT INTO dirty_days (site, date, marked) SELECT DISTINCT site, "
            f"date(period_end + ?, 'unixepoch'), ? FROM changed WHERE true {MARK_DIRTY}",
            (LOCAL_OFFSET_S, mark),
        )
        db.execute(
            "INSERT INTO dirty_days (site, date, marked) SELECT DISTINCT site, "
            "date(period_end + ? + 86400, 'unixepoch'), ? FROM changed "
            "WHERE CAST(strftime('%H', period_end + ?, 'unixepoch') AS INTEGER) >= 17 "
            f"{MARK_DIRTY}",
            (LOCAL_OFFSET_S, mark, LOCAL_OFFSET_S),
        )
        # ... and the days of the SO2 hours above 800 µg/m³ in the next 23 hours of a
        # changed SO2 label: they are rated on their 24-hour moving mean (HJ 633-2012
        # Table 1 note), which includes it.
        # One range scan per local date of changed SO2 (observations are time-first):
        # its first to last changed label + 23 h, kept to the sites changed that date.
        # Before 1992 also the date at UTC+9 (summer time: a label at 23:00 UTC+8 is the
        # next day's 00:00, which that day rates); the other rules mark it already.
        db.execute(
            "WITH so2 AS (SELECT site, period_end, date(period_end + ?, 'unixepoch') AS day "
            "FROM changed WHERE parameter = 'so2'), "
            "spans AS (SELECT day, min(period_end) AS lo, max(period_end) AS hi FROM so2 "
            "GROUP BY day), "
            "sites AS (SELECT DISTINCT site, day FROM so2), "
            "shifts (shift) AS (VALUES (0), (3600)) "
            "INSERT INTO dirty_days (site, date, marked) SELECT DISTINCT o.site, "
            "date(o.period_end + ? + k.shift, 'unixepoch'), ? FROM spans s JOIN observations o "
            "ON o.period_end > s.lo AND o.period_end < s.hi + 86400 "
            "JOIN sites c ON c.site = o.site AND c.day = s.day "
            "CROSS JOIN shifts k "  # (innermost: the range is scanned once)
            "WHERE o.parameter = 'so2' AND o.value > 800 AND (k.shift = 0 OR o.period_end < ?) "
            f"{MARK_DIRTY}",
            (LOCAL_OFFSET_S, LOCAL_OFFSET_S, mark, _UTC8_THROUGHOUT),
        )
        # ... and the day before when the label is early enough to change that day's
        # quality checks (stuck runs and spikes look at the following hours).
        db.execute(
            "INSERT INTO dirty_days (site, date, marked) SELECT DISTINCT site, "
            "date(period_end + ? - 86400, 'unixepoch'), ? FROM changed "
            f"WHERE CAST(strftime('%H', period_end + ?, 'unixepoch') AS INTEGER) < ? {MARK_DIRTY}",
            (LOCAL_OFFSET_S, mark, LOCAL_OFFSET_S, QC_LOOKAHEAD_HOURS),
        )
        if latest is not None:
            db.execute(
                "INSERT INTO watermarks (source, period_end) VALUES (?, ?) "
                "ON CONFLICT (source) DO UPDATE SET period_end = "
                "max(watermarks.period_end, excluded.period_end)",
                (source, latest),
            )
        log_fetch(
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
                    now=epoch_now(),
                    latest=max(key[0] for key in latest),
                    requested=requested,
                    covers=(None, None),
                    started_at=None,
                    notes=(),
                )
        return WriteResult(inserted, revised, n - inserted - revised)

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
        ``ingested_at`` and ``revision``. A value stored as a text or a blob (another
        tool's edit) raises :class:`~monitor.ledger.observation_rows.StoredValueError`
        naming its row.
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
        if frame["value"].dtype.kind not in "fiu":  # (a text or a blob another tool wrote)
            order = ["site", "parameter", "period_start", "period_end", "value", "flags"]
            for row in frame[[*order, "source", "ingested_at"]].itertuples(index=False):
                if not (row.value is None or isinstance(row.value, float | int)):
                    raise StoredValueError(tuple(row))  # (in read_observation_rows' order)
        for column in ("period_start", "period_end", "ingested_at"):
            frame[column] = (
                from_epoch(frame[column]) if len(frame) else pd.Series(dtype="datetime64[ns, UTC]")
            )
        frame["value"] = frame["value"].astype(float)
        return frame

    def revisions(self, site: str, parameter: str) -> pd.DataFrame:
        """Earlier values of one site and parameter, oldest first."""
        return self.query(
            "SELECT period_end, source, revision, value, flags, ingested_at, replaced_at "
            "FROM observation_revisions WHERE site = ? AND parameter = ? "
            "ORDER BY period_end, source, revision",
            (site, parameter),
        )
