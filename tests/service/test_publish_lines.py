"""What is published does not depend on how the publisher reads and renders it.

The publisher reads observations and hourly AQI without a per-row frame (distinct series
and flags rendered once, QC flags matched by key instead of a SQL join). These tests compare
every line it sends, byte for byte, with a reference kept here that does it the way envmon
did before (commit 475d27a): each table read with ``LEFT JOIN qc_flags``, the schema's
``*_points`` functions, and each row serialised by influxdb-client's own ``Point`` (which
``to_lines`` matches byte for byte: tests/influxdb/test_line_protocol.py), on a ledger with
escaped names, Chinese text, NULLs, -0.0, long and huge floats, revisions, several sources,
QC flags (o3_swapped on an O3 and a PM2.5 row), water parameters and every published table.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from influxdb_client.client.write.point import Point
from influxdb_client.domain.write_precision import WritePrecision

from monitor.influxdb import points as schema
from monitor.ledger import Ledger
from monitor.ledger.epoch import local_dates
from monitor.service import publish
from monitor.service.publish import Publisher
from monitor.settings import Settings, load_settings
from tests.conftest import HUNNAN_TWO_STATIONS

FIRST, LAST = date(2026, 3, 1), date(2026, 3, 3)
#: 2026-03-01 00:00+08:00 = 2026-02-28 16:00 UTC
MIDNIGHT = 1772294400
SITES = ["1099A", "浑南 东路,1", 'a=b "q"\\x', "2900A"]
AIR = [("pm2_5", "µg/m³"), ("o3", "µg/m³"), ("co", "mg/m³")]
WATER = [("do", "mg/L"), ("ph", "")]
SOURCES = ["cnemc", "hj212"]
VALUES = [12.0, 0.1, None, -0.0, 1e20, 1e-7, 35.55, 1 / 3, 123456789.123, 0.0, 7.0]
FLAGS = ["", "", "", "maintenance", "stuck;spike", 'a "quoted" \\ flag', "浑南,=x", "o3_swapped"]
QC = ["spike", "negative;stuck", "o3_swapped", "pm25_gt_pm10", "implausible"]
PRIMARY = ["", "o3;pm2_5", "pm10", "浑南 \\"]

#: Tables in the order the publisher concatenates them (monitor/service/publish.py).
ORDER = (
    "observations",
    "hourly_aqi",
    "daily_aqi",
    "water_classes",
    "target_progress",
    "official_daily_aqi",
)


def settings_for(tmp_path: Path, exclude_own: str = "") -> Settings:
    path = tmp_path / "envmon.toml"
    path.write_text(
        HUNNAN_TWO_STATIONS
        + f"\n[quality]\nexclude_own_flags = [{exclude_own}]\n"
        + '\n[influxdb]\nurl = "http://127.0.0.1:9"\nbucket = "envmon"\nbatch_points = 97\n',
        encoding="utf-8",
    )
    return load_settings(path, {"ENVMON_INFLUXDB_TOKEN": "test-token"})


def fill(ledger: Ledger, seed: int) -> None:
    """Every published table, varied, every site-day queued in the outbox."""
    rng = np.random.default_rng(seed)

    def pick(options: list[Any]) -> Any:
        return options[int(rng.integers(len(options)))]

    hours = [MIDNIGHT + 3600 * h for h in range(3 * 24)]  # labels 00:00 … 23:00 local
    observations, qc = [], {}
    for end in hours:
        for site in SITES:
            for parameter, unit in AIR + WATER:
                for source in SOURCES[: int(rng.integers(1, 3))]:  # sometimes two sources
                    if rng.random() < 0.1:
                        continue  # gaps
                    observations.append(
                        (
                            site,
                            parameter,
                            end,
                            source,
                            end - 3600,
                            unit,
                            pick(VALUES),
                            pick(FLAGS),
                            0,
                            int(rng.integers(0, 3)),
                        )
                    )
                if rng.random() < 0.15:
                    qc[(site, parameter, end)] = pick(QC)
    qc[(SITES[0], "o3", hours[5])] = "o3_swapped"
    qc[(SITES[0], "pm2_5", hours[5])] = "o3_swapped"
    hourly, daily = [], []
    for site, is_area in [*((s, 0) for s in SITES), ("hunnan", 1)]:
        for standard, official in (("hj633-2012", 0), ("hj633-2026", 1)):
            for end in hours:
                aqi = None if rng.random() < 0.1 else float(rng.integers(0, 400))
                iaqi = [None if rng.random() < 0.1 else pick(VALUES) for _ in range(6)]
                hourly.append(
                    (
                        site,
                        end,
                        standard,
                        official,
                        is_area,
                        aqi,
                        int(rng.integers(1, 7)),
                        pick(PRIMARY),
                        *iaqi,
                        int(rng.integers(0, 2)),
                        0,
                        int(rng.integers(1, 5)) if is_area else None,
                    )
                )
            for day in ("2026-03-01", "2026-03-02", "2026-03-03"):
                stats = [None if rng.random() < 0.1 else pick(VALUES) for _ in range(7)]
                aqi = None if rng.random() < 0.2 else float(rng.integers(0, 400))
                daily.append(
                    (
                        site,
                        day,
                        standard,
                        official,
                        is_area,
                        *stats,
                        pick(["", "o3_8h_max"]),
                        aqi,
                        int(rng.integers(1, 7)),
                        pick(PRIMARY),
                        pick(["", "pm2_5"]),
                        int(rng.integers(0, 2)),
                        0,
                        2 if is_area else None,
                    )
                )
    with ledger.transaction() as db:
        db.executemany(
            "INSERT INTO observations (site, parameter, period_end, source, period_start, unit,"
            " value, flags, ingested_at, revision) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            observations,
        )
        db.executemany(
            "INSERT INTO qc_flags (site, parameter, period_end, flags, computed_at) "
            "VALUES (?, ?, ?, ?, 0)",
            [(*key, flags) for key, flags in qc.items()],
        )
        db.executemany(
            "INSERT INTO hourly_aqi (site, period_end, standard, official, is_area, aqi, level,"
            " primary_pollutants, iaqi_so2, iaqi_no2, iaqi_co, iaqi_o3, iaqi_pm10, iaqi_pm2_5,"
            " complete, computed_at, stations) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
            " ?, ?, ?, ?)",
            hourly,
        )
        db.executemany(
            "INSERT INTO daily_aqi (site, date, standard, official, is_area, so2, no2, co, pm10,"
            " pm2_5, o3_1h_max, o3_8h_max, invalid_statistics, aqi, level, primary_pollutants,"
            " exceedance_pollutants, complete, computed_at, stations) VALUES (?, ?, ?, ?, ?, ?,"
            " ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            daily,
        )
        db.executemany(
            "INSERT INTO water_classes (site, period_end, water_class, limiting_parameters, "
            "exceedance_multiples, parameter_set, computed_at) VALUES (?, ?, ?, ?, ?, ?, 0)",
            [
                ("s1", hours[3], "II", "", "", "official"),
                ("s1", hours[30], "劣V", "nh3n;tp", "nh3n=1.6;tp=0.2", "automatic"),
                ("s 2", hours[50], "IV", "codmn", "codmn=0.453", "official"),
            ],
        )
        db.executemany(
            "INSERT INTO target_progress (target, as_of, variant, kind, area, year, standard, "
            "value, goal, status, budget_remaining, required_rate, projection, projection_low,"
            " projection_high, valid_days, good_days, explanation_zh, explanation_en, "
            "computed_at, withheld_days, ratio_low, ratio_high) VALUES (?, ?, ?, ?, ?, 2026, ?,"
            " ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)",
            [
                (
                    "good",
                    "2026-03-02",
                    "official",
                    "good_day_ratio",
                    "hunnan",
                    "hj633-2026",
                    0.8,
                    0.85,
                    "at_risk",
                    12,
                    0.9,
                    0.84,
                    0.8,
                    0.88,
                    60,
                    48,
                    '说明 "x"',
                    "a b",
                    2,
                    0.79,
                    0.82,
                ),
                (
                    "river",
                    "2026-03-03",
                    "hj633-2012",
                    "river_class",
                    None,
                    None,
                    None,
                    None,
                    "not_assessable",
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    "",
                    "",
                    None,
                    None,
                    None,
                ),
            ],
        )
        db.executemany(
            "INSERT INTO official_daily_aqi (area, date, aqi, category, primary_pollutants, "
            "dust, imported_at) VALUES (?, ?, ?, ?, ?, ?, 0)",
            [
                ("hunnan", "2026-03-01", 55.0, "良", "pm10", 0),
                ("hunnan", "2026-03-02", None, "", "", 1),
                ("沈阳", "2026-03-03", 301.0, "严重污染", "pm2_5;pm10", 0),
            ],
        )
        for table, key, day in (
            ("observations", "site", "date(period_end + 28800, 'unixepoch')"),
            ("hourly_aqi", "site", "date(period_end + 28800, 'unixepoch')"),
            ("daily_aqi", "site", "date"),
            ("water_classes", "site", "date(period_end + 28800, 'unixepoch')"),
            ("target_progress", "target", "as_of"),
            ("official_daily_aqi", "area", "date"),
        ):  # as the ledger's writers queue them (labels of local 01:00 … 24:00 make a day)
            db.execute(
                "INSERT OR REPLACE INTO outbox (kind, key, day, queued_at) "
                f"SELECT DISTINCT '{table}', {key}, {day}, 0 FROM {table}"
            )


def point_line(measurement: schema.Measurement, row: Mapping[Any, Any]) -> str:
    """One row as influxdb-client writes it (tags and fields sorted by the client)."""
    point = Point(measurement.name).time(int(row["time"]), WritePrecision.S)
    for key in measurement.tags:
        value = row[key]
        point.tag(key, None if pd.isna(value) else str(value))
    for key in measurement.floats:
        point.field(key, float(row[key]))  # NaN and ±inf left out by the client
    for key in measurement.strings:
        value = row[key]
        point.field(key, None if pd.isna(value) else str(value))
    return str(point.to_line_protocol())


def reference(ledger: Ledger, settings: Settings) -> list[tuple[str, str, str, str]]:
    """(kind, key, day, line) of every point the way envmon published them at 475d27a, in
    its order: table by table (air before water), then a stable sort by time."""
    start = MIDNIGHT
    end = MIDNIGHT + 86400 * ((LAST - FIRST).days + 1)
    rivers = {s.id: s.river for s in settings.water_sections}
    targets = {s.id: s.target_class for s in settings.water_sections if s.target_class}
    out: list[tuple[int, str, str, str, str]] = []
    for table in ORDER:
        if table == "observations":
            rows = ledger.query(
                "SELECT t.site, t.parameter, t.period_end, t.source, t.unit, t.value, t.flags,"
                " t.revision, q.flags AS qc_flags FROM observations t LEFT JOIN qc_flags q ON"
                " q.site = t.site AND q.parameter = t.parameter AND q.period_end = t.period_end"
                " WHERE t.period_end >= ? AND t.period_end < ?",
                (start, end),
            )
            air, water = schema.observation_points(
                rows, exclude_own=settings.quality.exclude_own_flags
            )
            parts = [(schema.AIR_OBSERVATION, air), (schema.WATER_OBSERVATION, water)]
            key, day = rows["site"], local_dates(rows["period_end"].to_numpy())
        elif table in ("hourly_aqi", "water_classes"):
            rows = ledger.query(
                f"SELECT * FROM {table} WHERE period_end >= ? AND period_end < ?", (start, end)
            )
            made = (
                schema.hourly_aqi_points(rows)
                if table == "hourly_aqi"
                else schema.water_class_points(rows, rivers, targets)
            )
            measurement = schema.AQI_HOURLY if table == "hourly_aqi" else schema.WATER_CLASS
            parts = [(measurement, made)]
            key, day = rows["site"], local_dates(rows["period_end"].to_numpy())
        else:
            column, key_column = {
                "daily_aqi": ("date", "site"),
                "target_progress": ("as_of", "target"),
                "official_daily_aqi": ("date", "area"),
            }[table]
            rows = ledger.query(
                f"SELECT * FROM {table} WHERE {column} BETWEEN ? AND ?",
                (FIRST.isoformat(), LAST.isoformat()),
            )
            measurement, points_of = {
                "daily_aqi": (schema.AQI_DAILY, schema.daily_aqi_points),
                "target_progress": (schema.TARGET_PROGRESS, schema.target_progress_points),
                "official_daily_aqi": (schema.AQI_DAILY_PUBLISHED, schema.published_daily_points),
            }[table]
            parts = [(measurement, points_of(rows))]
            key, day = rows[key_column], rows[column].to_numpy()
        for measurement, frame in parts:
            for position, row in zip(frame.index, frame.to_dict("records"), strict=True):
                line = point_line(measurement, row)
                if line:
                    out.append(
                        (int(row["time"]), table, str(key[position]), str(day[position]), line)
                    )
    out.sort(key=lambda item: item[0])  # stable: same time keeps the table order
    return [item[1:] for item in out]


class Capture:
    """A writer that keeps what it is given."""

    def __init__(self) -> None:
        self.requests: list[list[str]] = []

    def write(self, lines: Any) -> None:
        self.requests.append(list(lines))

    @property
    def lines(self) -> list[str]:
        return [line for request in self.requests for line in request]


def line_time(line: str) -> int:
    return int(line.rsplit(" ", 1)[1])


@pytest.mark.parametrize(("seed", "exclude_own"), [(1, ""), (2, '"spike", "stuck"')])
def test_replay_sends_the_lines_of_before_byte_for_byte(
    tmp_path: Path, seed: int, exclude_own: str
) -> None:
    settings = settings_for(tmp_path, exclude_own)
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        fill(ledger, seed)
        expected = [item[3] for item in reference(ledger, settings)]
        capture = Capture()
        report = Publisher(ledger, settings, capture).replay(FIRST, LAST)
    assert len(expected) > 2000  # the ledger is not trivially small
    assert capture.lines == expected  # the same lines, in the same (time) order
    assert report.points == len(expected)
    assert all(len(r) <= 97 for r in capture.requests)  # [influxdb] batch_points


def test_drain_sends_every_queued_line_of_before_in_time_order(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        fill(ledger, 3)
        expected = reference(ledger, settings)
        capture = Capture()
        rounds = [0]  # requests sent when each round was accepted

        def accepted(done: int, total: int) -> None:
            rounds.append(len(capture.requests))

        Publisher(ledger, settings, capture).drain(accepted)
        assert ledger.outbox_stats()[0] == 0  # all accepted: nothing left queued
    assert Counter(capture.lines) == Counter(item[3] for item in expected)
    assert len(rounds) > 3
    for start, end in itertools.pairwise(rounds):
        times = [line_time(line) for request in capture.requests[start:end] for line in request]
        assert times == sorted(times)  # each round is sent in time order


def test_drain_of_a_scattered_queue_sends_only_the_queued_site_days(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        fill(ledger, 4)
        expected = reference(ledger, settings)
        # keep queued only some site-days: not whole windows of keys and days
        with ledger.transaction() as db:
            db.execute(
                "DELETE FROM outbox WHERE (kind = 'observations' AND key = ? AND day = ?) OR "
                "(kind = 'hourly_aqi' AND key = ? AND day = ?) OR (kind = 'observations' AND "
                "key = ? AND day = ?)",
                (SITES[1], "2026-03-02", "hunnan", "2026-03-01", SITES[3], "2026-03-03"),
            )
        queued = set(ledger.query("SELECT kind, key, day FROM outbox").itertuples(index=False))
        capture = Capture()
        Publisher(ledger, settings, capture).drain()
    wanted = [item[3] for item in expected if tuple(item[:3]) in queued]
    assert len(wanted) < len(expected)
    assert Counter(capture.lines) == Counter(wanted)


def test_a_period_end_with_a_fraction_gets_only_the_qc_flags_of_that_same_time(
    tmp_path: Path,
) -> None:
    """The join matched ``q.period_end = t.period_end`` exactly: an observation whose
    period_end a tool stored as a REAL with a fraction (INTEGER affinity keeps 1.5 a REAL,
    https://www.sqlite.org/datatype3.html#type_affinity) is not given the QC flags of the
    whole second it is published at, nor a whole-second observation those of a fractional
    QC row."""
    settings = settings_for(tmp_path)
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        with ledger.transaction() as db:
            db.executemany(
                "INSERT INTO observations (site, parameter, period_end, source, period_start,"
                " unit, value, flags, ingested_at, revision) VALUES (?, ?, ?, ?, 0, 'µg/m³',"
                " 1.0, '', 0, 0)",
                [
                    ("1099A", "pm2_5", MIDNIGHT + 0.5, "cnemc"),  # fractional observation
                    ("1099A", "pm2_5", MIDNIGHT + 3600, "cnemc"),  # fractional QC row
                    ("1099A", "pm2_5", MIDNIGHT + 7200, "cnemc"),  # same time: flagged
                    ("1099A", "pm2_5", MIDNIGHT + 10800.5, "hj212"),  # same fraction: flagged
                ],
            )
            db.executemany(
                "INSERT INTO qc_flags (site, parameter, period_end, flags, computed_at)"
                " VALUES ('1099A', 'pm2_5', ?, ?, 0)",
                [
                    (MIDNIGHT, "spike"),
                    (MIDNIGHT + 3600.25, "stuck"),
                    (MIDNIGHT + 7200, "implausible"),
                    (MIDNIGHT + 10800.5, "negative"),
                ],
            )
        expected = [item[3] for item in reference(ledger, settings)]
        capture = Capture()
        Publisher(ledger, settings, capture).replay(FIRST, LAST)
    assert [line.split('qc_flags="')[1].split('"')[0] for line in expected] == [
        "",
        "",
        "implausible",
        "negative",
    ]
    assert capture.lines == expected


def test_drain_in_small_chunks_matches_qc_flags_as_the_join_did(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """QC flags on some parameters and sources only, for a parameter or site without
    observations, on codes that sort differently by case; a queue with holes and a site-day
    of a site without rows, read ``OUTBOX_SITE_DAYS`` = 7 at a time: the lines of before."""
    monkeypatch.setattr(publish, "OUTBOX_SITE_DAYS", 7)
    settings = settings_for(tmp_path, '"spike"')
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        fill(ledger, 5)
        with ledger.transaction() as db:
            db.executemany(
                "INSERT INTO observations (site, parameter, period_end, source, period_start,"
                " unit, value, flags, ingested_at, revision) VALUES (?, 'pm2_5', ?, ?, 0,"
                " 'µg/m³', 3.5, '', 0, 1)",
                [
                    (site, MIDNIGHT + 3600 * h, source)
                    for site in ("a1", "A1", "Ä1")
                    for h in (0, 23, 24, 47)  # local 00:00 and 23:00 of two days
                    for source in SOURCES
                ],
            )
            db.executemany(
                "INSERT OR REPLACE INTO qc_flags (site, parameter, period_end, flags,"
                " computed_at) VALUES (?, ?, ?, ?, 0)",
                [
                    ("A1", "pm2_5", MIDNIGHT + 3600 * 23, "spike"),
                    ("Ä1", "pm2_5", MIDNIGHT + 3600 * 24, "stuck"),
                    (SITES[0], "so2", MIDNIGHT, "spike"),  # no such observation
                    ("nowhere", "pm2_5", MIDNIGHT, "spike"),  # no such site
                ],
            )
            db.execute(
                "INSERT OR REPLACE INTO outbox (kind, key, day, queued_at) SELECT DISTINCT"
                " 'observations', site, date(period_end + 28800, 'unixepoch'), 0"
                " FROM observations"
            )
            db.execute(
                "DELETE FROM outbox WHERE (unicode(key) + length(key) + seq) % 3 = 0"
                " AND key <> 'A1'"
            )
            db.execute(
                "INSERT INTO outbox (kind, key, day, queued_at) VALUES"
                " ('observations', 'nowhere', '2026-03-02', 0)"
            )
        expected = reference(ledger, settings)
        queued = set(ledger.query("SELECT kind, key, day FROM outbox").itertuples(index=False))
        capture = Capture()
        Publisher(ledger, settings, capture).drain()
        assert ledger.outbox_stats()[0] == 0
    wanted = [item[3] for item in expected if tuple(item[:3]) in queued]
    assert any("site=A1," in line and 'qc_flags="spike"' in line for line in wanted)
    assert len(wanted) < len(expected)
    assert Counter(capture.lines) == Counter(wanted)
