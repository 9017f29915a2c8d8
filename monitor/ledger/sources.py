"""Sources in the ledger: the configured sources, the site names they publish under
(aliases adopted to configured site ids), and how far each source's data reach
(watermark)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from monitor.ledger.connection import LedgerConnection
from monitor.ledger.epoch import LOCAL_OFFSET_S, epoch_now
from monitor.ledger.evaluation import MARK_DIRTY, dirty_mark


class SourceStore(LedgerConnection):
    """Registering sources, adopting their site aliases, and their watermarks."""

    def register_source(self, source: str, collector: str, kind: str) -> None:
        """Record a configured source (name, collector, measured or model)."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO sources (source, collector, kind, first_seen) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (source) DO UPDATE SET collector = excluded.collector, "
                "kind = excluded.kind",
                (source, collector, kind, epoch_now()),
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
        now = epoch_now()
        with self.transaction() as db:
            for alias, site in pairs:
                before = db.execute(
                    "SELECT count(*) FROM observations WHERE site = ? AND source = ?",
                    (alias, source),
                ).fetchone()[0]
                if before:
                    db.execute(
                        "INSERT INTO dirty_days (site, date, marked) SELECT DISTINCT ?, "
                        "date(period_end + ?, 'unixepoch'), ? FROM observations "
                        f"WHERE site = ? AND source = ? {MARK_DIRTY}",
                        (site, LOCAL_OFFSET_S, dirty_mark(), alias, source),
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

    def watermark(self, source: str) -> datetime | None:
        """End of the latest period stored for the source (UTC), or None."""
        row = self.connection.execute(
            "SELECT period_end FROM watermarks WHERE source = ?", (source,)
        ).fetchone()
        return None if row is None else datetime.fromtimestamp(row[0], UTC)
