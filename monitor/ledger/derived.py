"""Derived and official figures in the ledger: what evaluation computes (hourly and daily
AQI, water classes, QC flags, target progress) and the official daily AQI imported from
the authorities, each change queued for publishing."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Final

import numpy as np
import pandas as pd

from monitor.ledger.connection import LedgerConnection, WriteResult
from monitor.ledger.epoch import LOCAL_OFFSET_S, epoch_now, local_dates
from monitor.ledger.evaluation import forget_dirty
from monitor.ledger.outbox import PUBLISHED_TABLES, enqueue


class DerivedStore(LedgerConnection):
    """Writes of derived tables and of official daily AQI, and QC flags' removal."""

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
            enqueue(db, kind, keys, days)
            if done is not None and len(done):
                forget_dirty(db, done)

    def write_official_daily(self, frame: pd.DataFrame, source_file: str) -> WriteResult:
        """Upsert official (audited) daily AQI of areas; changed values keep the earlier one.

        ``frame`` has ``area, date`` (YYYY-MM-DD), ``aqi``, ``category``,
        ``primary_pollutants``, ``dust`` (bool).
        """
        now = epoch_now()
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
                enqueue(db, "official_daily_aqi", [area], [day])
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

    def delete_qc_flags(self, site_days: pd.DataFrame) -> None:
        """Forget envmon's QC flags of the given (site, date) days before they are recomputed."""
        with self.transaction() as db:
            enqueue(db, "observations", site_days["site"], site_days["date"])  # flags cleared
            db.executemany(
                "DELETE FROM qc_flags WHERE site = ? AND date(period_end + ?, 'unixepoch') = ?",
                [
                    (site, LOCAL_OFFSET_S, day)
                    for site, day in zip(site_days["site"], site_days["date"], strict=True)
                ],
            )


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
