"""The ledger's SQLite schema, as numbered migrations.

Times are integer seconds since the epoch, UTC. ``period_end`` of an hourly value is the
end of its hour (the platform's label). Local (Asia/Shanghai, UTC+8 without daylight
saving since 1991) calendar dates are stored as ``YYYY-MM-DD`` text.

A migration is applied once, in order, inside a transaction; ``schema_version`` records the
highest applied. A ledger written by a newer envmon (higher version) is refused.
"""

from __future__ import annotations

from typing import Final

#: (version, description, SQL statements). Append only; never edit an applied migration.
MIGRATIONS: Final[tuple[tuple[int, str, tuple[str, ...]], ...]] = (
    (
        1,
        "observations with revisions, sources, fetch log, watermarks, derived tables",
        (
            """CREATE TABLE sources (
                source TEXT PRIMARY KEY,
                collector TEXT NOT NULL,
                kind TEXT NOT NULL CHECK (kind IN ('measured', 'model')),
                first_seen INTEGER NOT NULL
            )""",
            """CREATE TABLE observations (
                site TEXT NOT NULL,
                parameter TEXT NOT NULL,
                period_end INTEGER NOT NULL,
                source TEXT NOT NULL,
                period_start INTEGER NOT NULL,
                unit TEXT NOT NULL,
                value REAL,
                flags TEXT NOT NULL DEFAULT '',
                ingested_at INTEGER NOT NULL,
                revision INTEGER NOT NULL DEFAULT 0,
                PRIMARY KEY (site, parameter, period_end, source)
            ) WITHOUT ROWID""",
            "CREATE INDEX observations_by_time ON observations (period_end, site)",
            """CREATE TABLE observation_revisions (
                site TEXT NOT NULL,
                parameter TEXT NOT NULL,
                period_end INTEGER NOT NULL,
                source TEXT NOT NULL,
                revision INTEGER NOT NULL,
                value REAL,
                flags TEXT NOT NULL,
                ingested_at INTEGER NOT NULL,
                replaced_at INTEGER NOT NULL,
                PRIMARY KEY (site, parameter, period_end, source, revision)
            ) WITHOUT ROWID""",
            """CREATE TABLE fetch_log (
                id INTEGER PRIMARY KEY,
                source TEXT NOT NULL,
                started_at INTEGER NOT NULL,
                finished_at INTEGER NOT NULL,
                requested TEXT NOT NULL,
                covers_start INTEGER,
                covers_end INTEGER,
                status TEXT NOT NULL CHECK (status IN ('ok', 'empty', 'failed')),
                rows INTEGER NOT NULL DEFAULT 0,
                inserted INTEGER NOT NULL DEFAULT 0,
                revised INTEGER NOT NULL DEFAULT 0,
                error TEXT NOT NULL DEFAULT '',
                notes TEXT NOT NULL DEFAULT ''
            )""",
            "CREATE INDEX fetch_log_by_source ON fetch_log (source, finished_at)",
            """CREATE TABLE watermarks (
                source TEXT PRIMARY KEY,
                period_end INTEGER NOT NULL
            )""",
            """CREATE TABLE dirty_days (
                site TEXT NOT NULL,
                date TEXT NOT NULL,
                PRIMARY KEY (site, date)
            ) WITHOUT ROWID""",
            """CREATE TABLE hourly_aqi (
                site TEXT NOT NULL,
                period_end INTEGER NOT NULL,
                standard TEXT NOT NULL,
                official INTEGER NOT NULL,
                is_area INTEGER NOT NULL,
                aqi REAL,
                level INTEGER NOT NULL,
                primary_pollutants TEXT NOT NULL,
                iaqi_so2 REAL, iaqi_no2 REAL, iaqi_co REAL, iaqi_o3 REAL,
                iaqi_pm10 REAL, iaqi_pm2_5 REAL,
                complete INTEGER NOT NULL,
                computed_at INTEGER NOT NULL,
                PRIMARY KEY (site, period_end, standard)
            ) WITHOUT ROWID""",
            """CREATE TABLE daily_aqi (
                site TEXT NOT NULL,
                date TEXT NOT NULL,
                standard TEXT NOT NULL,
                official INTEGER NOT NULL,
                is_area INTEGER NOT NULL,
                so2 REAL, no2 REAL, co REAL, pm10 REAL, pm2_5 REAL,
                o3_1h_max REAL, o3_8h_max REAL,
                invalid_statistics TEXT NOT NULL,
                aqi REAL,
                level INTEGER NOT NULL,
                primary_pollutants TEXT NOT NULL,
                exceedance_pollutants TEXT NOT NULL,
                complete INTEGER NOT NULL,
                computed_at INTEGER NOT NULL,
                PRIMARY KEY (site, date, standard)
            ) WITHOUT ROWID""",
            """CREATE TABLE water_classes (
                site TEXT NOT NULL,
                period_end INTEGER NOT NULL,
                water_class TEXT NOT NULL,
                limiting_parameters TEXT NOT NULL,
                exceedance_multiples TEXT NOT NULL,
                parameter_set TEXT NOT NULL,
                computed_at INTEGER NOT NULL,
                PRIMARY KEY (site, period_end)
            ) WITHOUT ROWID""",
        ),
    ),
    (
        2,
        "quality flags found by envmon's own checks, kept apart from the source's flags",
        (
            """CREATE TABLE qc_flags (
                site TEXT NOT NULL,
                parameter TEXT NOT NULL,
                period_end INTEGER NOT NULL,
                flags TEXT NOT NULL,
                computed_at INTEGER NOT NULL,
                PRIMARY KEY (site, parameter, period_end)
            ) WITHOUT ROWID""",
        ),
    ),
    (
        3,
        "official daily AQI, manually reported indicator values, target progress",
        (
            """CREATE TABLE official_daily_aqi (
                area TEXT NOT NULL,
                date TEXT NOT NULL,
                aqi REAL,
                category TEXT NOT NULL DEFAULT '',
                primary_pollutants TEXT NOT NULL DEFAULT '',
                dust INTEGER NOT NULL DEFAULT 0,
                source_file TEXT NOT NULL DEFAULT '',
                imported_at INTEGER NOT NULL,
                revision INTEGER NOT NULL DEFAULT 0,
                PRIMARY KEY (area, date)
            ) WITHOUT ROWID""",
            """CREATE TABLE official_daily_aqi_revisions (
                area TEXT NOT NULL,
                date TEXT NOT NULL,
                revision INTEGER NOT NULL,
                aqi REAL,
                category TEXT NOT NULL,
                primary_pollutants TEXT NOT NULL,
                dust INTEGER NOT NULL,
                source_file TEXT NOT NULL,
                imported_at INTEGER NOT NULL,
                replaced_at INTEGER NOT NULL,
                PRIMARY KEY (area, date, revision)
            ) WITHOUT ROWID""",
            """CREATE TABLE indicator_values (
                id INTEGER PRIMARY KEY,
                target TEXT NOT NULL,
                item TEXT NOT NULL DEFAULT '',
                date TEXT NOT NULL,
                value TEXT NOT NULL,
                note TEXT NOT NULL DEFAULT '',
                recorded_at INTEGER NOT NULL
            )""",
            "CREATE INDEX indicator_values_by_target ON indicator_values (target, item, date)",
            """CREATE TABLE target_progress (
                target TEXT NOT NULL,
                as_of TEXT NOT NULL,
                variant TEXT NOT NULL,
                kind TEXT NOT NULL,
                area TEXT,
                year INTEGER NOT NULL,
                standard TEXT,
                value REAL,
                goal REAL,
                status TEXT NOT NULL,
                budget_remaining INTEGER,
                required_rate REAL,
                projection REAL,
                projection_low REAL,
                projection_high REAL,
                valid_days INTEGER,
                good_days INTEGER,
                explanation_zh TEXT NOT NULL,
                explanation_en TEXT NOT NULL,
                details TEXT NOT NULL DEFAULT '{}',
                computed_at INTEGER NOT NULL,
                PRIMARY KEY (target, as_of, variant)
            ) WITHOUT ROWID""",
        ),
    ),
    (
        4,
        "observations keyed by time first: collections arrive hour by hour across stations, "
        "so new rows append instead of landing all over the B-tree",
        (
            """CREATE TABLE observations_v4 (
                site TEXT NOT NULL,
                parameter TEXT NOT NULL,
                period_end INTEGER NOT NULL,
                source TEXT NOT NULL,
                period_start INTEGER NOT NULL,
                unit TEXT NOT NULL,
                value REAL,
                flags TEXT NOT NULL DEFAULT '',
                ingested_at INTEGER NOT NULL,
                revision INTEGER NOT NULL DEFAULT 0,
                PRIMARY KEY (period_end, site, parameter, source)
            ) WITHOUT ROWID""",
            "INSERT INTO observations_v4 SELECT site, parameter, period_end, source, "
            "period_start, unit, value, flags, ingested_at, revision FROM observations",
            "DROP TABLE observations",
            "ALTER TABLE observations_v4 RENAME TO observations",
        ),
    ),
    (
        5,
        "outbox of site-days to publish to InfluxDB, and a quarantine for refused points",
        (
            # One row per (table, site or target or area, local date) written since it was
            # last published. Writing it again while it waits queues it again with a higher
            # seq (INSERT OR REPLACE, AUTOINCREMENT), so a publisher that removes only the
            # seqs it sent never misses a newer value.
            """CREATE TABLE outbox (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                kind TEXT NOT NULL,
                key TEXT NOT NULL,
                day TEXT NOT NULL,
                queued_at INTEGER NOT NULL
            )""",
            "CREATE UNIQUE INDEX outbox_by_key ON outbox (kind, key, day)",
            """CREATE TABLE publish_quarantine (
                id INTEGER PRIMARY KEY,
                kind TEXT NOT NULL,
                key TEXT NOT NULL,
                day TEXT NOT NULL,
                line TEXT NOT NULL,
                status INTEGER NOT NULL,
                message TEXT NOT NULL,
                quarantined_at INTEGER NOT NULL
            )""",
        ),
    ),
    (
        6,
        "report_log: the send log of daily digests and monthly reports (one row per report; "
        "a report is never sent twice)",
        (
            """CREATE TABLE report_log (
                kind TEXT NOT NULL CHECK (kind IN ('daily', 'monthly')),
                period TEXT NOT NULL,
                recipients TEXT NOT NULL DEFAULT '',
                status TEXT NOT NULL
                    CHECK (status IN ('written', 'pending', 'sending', 'sent', 'failed')),
                attempts INTEGER NOT NULL DEFAULT 0,
                written_at INTEGER NOT NULL,
                claimed_at INTEGER,
                sent_at INTEGER,
                message_id TEXT NOT NULL,
                path TEXT NOT NULL,
                last_error TEXT NOT NULL DEFAULT '',
                PRIMARY KEY (kind, period)
            ) WITHOUT ROWID""",
        ),
    ),
    (
        7,
        "hj212 readings: values HJ 212 data loggers push that are not hourly observations "
        "(real-time, minute, daily data; min/max; unknown factor codes kept raw)",
        (
            """CREATE TABLE hj212_readings (
                period_end INTEGER NOT NULL,
                site TEXT NOT NULL,
                code TEXT NOT NULL,
                statistic TEXT NOT NULL,
                cn TEXT NOT NULL,
                period_start INTEGER NOT NULL,
                parameter TEXT NOT NULL,
                unit TEXT NOT NULL,
                value REAL,
                flags TEXT NOT NULL DEFAULT '',
                mn TEXT NOT NULL,
                received_at INTEGER NOT NULL,
                PRIMARY KEY (period_end, site, code, statistic, cn)
            ) WITHOUT ROWID""",
        ),
    ),
    (
        8,
        "evaluation failures (site-days and area-days that could not be evaluated: what, "
        "why, since when, attempts); the stations an area value rests on; days withheld "
        "from a good-day ratio and the ratio's range over them",
        (
            # One row per site (or area) and local date whose evaluation raised; it stays
            # dirty (an area-day is queued as a dirty day under the area's id) and is retried
            # on every run; the row is deleted when the day evaluates.
            """CREATE TABLE evaluation_failures (
                site TEXT NOT NULL,
                date TEXT NOT NULL,
                scope TEXT NOT NULL CHECK (scope IN ('site', 'area')),
                error TEXT NOT NULL,
                first_failed INTEGER NOT NULL,
                last_failed INTEGER NOT NULL,
                attempts INTEGER NOT NULL,
                PRIMARY KEY (site, date)
            ) WITHOUT ROWID""",
            # Area rows: the stations with a value the area's mean rests on (NULL: site rows).
            "ALTER TABLE hourly_aqi ADD COLUMN stations INTEGER",
            "ALTER TABLE daily_aqi ADD COLUMN stations INTEGER",
            # Good-day ratio: days withheld by the valid-day rule, and the ratio if they had
            # all been non-good (low) or all good (high).
            "ALTER TABLE target_progress ADD COLUMN withheld_days INTEGER",
            "ALTER TABLE target_progress ADD COLUMN ratio_low REAL",
            "ALTER TABLE target_progress ADD COLUMN ratio_high REAL",
        ),
    ),
    (
        9,
        "site_aliases: published site names (cnemc_water section names such as 高坎大桥) "
        "mapped to the configured site id, so a section has one identity in the ledger; "
        "Ledger.adopt_site_aliases moves rows stored under an alias to the id",
        (
            """CREATE TABLE site_aliases (
                source TEXT NOT NULL,
                alias TEXT NOT NULL,
                site TEXT NOT NULL,
                adopted_at INTEGER NOT NULL,
                moved INTEGER NOT NULL DEFAULT 0,
                PRIMARY KEY (source, alias)
            ) WITHOUT ROWID""",
        ),
    ),
    (
        10,
        "fetch_log status 'refused': a batch whose rows were all refused at intake (the "
        "source sent rows, none could be stored) is no longer logged 'empty'. SQLite cannot "
        "alter a CHECK: the table is rebuilt (create, copy, drop, rename) with its index and "
        "every row and id kept",
        (
            """CREATE TABLE fetch_log_v10 (
                id INTEGER PRIMARY KEY,
                source TEXT NOT NULL,
                started_at INTEGER NOT NULL,
                finished_at INTEGER NOT NULL,
                requested TEXT NOT NULL,
                covers_start INTEGER,
                covers_end INTEGER,
                status TEXT NOT NULL CHECK (status IN ('ok', 'empty', 'failed', 'refused')),
                rows INTEGER NOT NULL DEFAULT 0,
                inserted INTEGER NOT NULL DEFAULT 0,
                revised INTEGER NOT NULL DEFAULT 0,
                error TEXT NOT NULL DEFAULT '',
                notes TEXT NOT NULL DEFAULT ''
            )""",
            # batches logged 'empty' before, whose note says every row was refused
            # (monitor.service.pipeline._wholly_refused), become 'refused'
            """INSERT INTO fetch_log_v10 (id, source, started_at, finished_at, requested,
                covers_start, covers_end, status, rows, inserted, revised, error, notes)
            SELECT id, source, started_at, finished_at, requested, covers_start, covers_end,
                CASE WHEN status = 'empty' AND notes LIKE 'refused: all %' THEN 'refused'
                ELSE status END,
                rows, inserted, revised, error, notes
            FROM fetch_log""",
            "DROP TABLE fetch_log",
            "ALTER TABLE fetch_log_v10 RENAME TO fetch_log",
            "CREATE INDEX fetch_log_by_source ON fetch_log (source, finished_at)",
        ),
    ),
    (
        11,
        "dirty_days.marked: every marking of a dirty day sets a fresh mark, and an "
        "evaluation clears only the days whose mark is still the one it read, so a day "
        "marked again by another connection (new observations) while it was being "
        "evaluated stays dirty instead of being lost; existing rows get mark 0",
        ("ALTER TABLE dirty_days ADD COLUMN marked INTEGER NOT NULL DEFAULT 0",),
    ),
)


LATEST_VERSION: Final = MIGRATIONS[-1][0]
