"""A poison input in a daemon cycle: refused row by row, every other station evaluated."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from monitor.ledger import Ledger
from monitor.service.daemon import Daemon, SourceHealth
from monitor.settings import load_settings
from tests.conftest import DATA, ONE_STATION_DAEMON, RecordedServer, Reply
from tests.service.test_daemon import write_config

# 2026-03-01 00:00 and 01:00 Beijing, the labels of hours 0 and 1 of the day file [UTC s].
HOUR_0 = int(datetime(2026, 2, 28, 16, tzinfo=UTC).timestamp())
HOUR_1 = int(datetime(2026, 2, 28, 17, tzinfo=UTC).timestamp())


def _poisoned_day() -> bytes:
    """The 2026-03-01 archive file with 1099A's PM2.5 of hour 1 ``Infinity`` and a second
    hour-0 PM2.5 row that disagrees for 1099A (46 against 45) and repeats the others."""
    text = (DATA / "cnemc_sites_archive" / "china_sites_20260301.csv").read_text("utf-8")
    assert "20260301,1,PM2.5,47,,35\n" in text and "20260301,0,PM2.5,45,40,33\n" in text
    text = text.replace("20260301,1,PM2.5,47,,35\n", "20260301,1,PM2.5,Infinity,,35\n")
    return (text + "20260301,0,PM2.5,46,40,33\n").encode()


def test_poison_rows_are_refused_and_the_other_stations_are_evaluated(
    tmp_path: Path, recorded_server: RecordedServer
) -> None:
    """One cycle of the archive source: the source stays healthy, 1099A's bad PM2.5 values
    are not stored (named in the fetch log), and 1100A and 1760A get their hourly AQI for
    the same hours."""
    recorded_server.add(
        "/air/china_sites_20260301.csv", Reply(body=_poisoned_day(), content_type="text/csv")
    )
    settings = load_settings(write_config(tmp_path, recorded_server), {})
    daemon = Daemon(
        settings,
        tmp_path / "ledger.sqlite",
        clock=lambda: datetime(2026, 3, 1, 16, 30, tzinfo=UTC),
    )
    source = settings.source_settings("archive")
    # What ``run`` sets up before scheduling; the cycle itself is the daemon's own job.
    daemon.health["archive"] = SourceHealth(source.name, source.collector, 60)
    daemon.collect(source)
    assert daemon.health["archive"].state == "ok"
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        pm = ledger.query(
            "SELECT site, period_end, value FROM observations WHERE parameter = 'pm2_5' "
            "AND period_end IN (?, ?) ORDER BY period_end, site",
            (HOUR_0, HOUR_1),
        )
        hourly = ledger.query(
            "SELECT DISTINCT site, period_end FROM hourly_aqi WHERE is_area = 0 "
            "AND period_end IN (?, ?) AND iaqi_pm2_5 IS NOT NULL ORDER BY period_end, site",
            (HOUR_0, HOUR_1),
        )
        notes = "\n".join(ledger.fetch_log("archive")["notes"])
    assert pm.values.tolist() == [
        ["1100A", HOUR_0, 40.0],
        ["1760A", HOUR_0, 33.0],
        ["1760A", HOUR_1, 35.0],
    ]
    assert hourly.values.tolist() == [["1100A", HOUR_0], ["1760A", HOUR_0], ["1760A", HOUR_1]]
    assert "column 1099A: value 'Infinity' is not a finite number" in notes
    assert "conflicts with" in notes and "values 45, 46" in notes


LIVE_CONFIG = (
    ONE_STATION_DAEMON
    + """\

[[sources]]
name = "live"
collector = "cnemc_air"
url = "{url}/live"
interval_minutes = 60
max_history_hours = 0
retries = 0
timeout_seconds = 5
"""
)

# 2025-01-01 08:00 Beijing, the hour of tests/data/cnemc_air/live_shenyang.json [UTC s].
LIVE_HOUR = int(datetime(2025, 1, 1, 0, tzinfo=UTC).timestamp())


def test_an_off_hour_label_in_the_live_feed_costs_only_its_station(
    tmp_path: Path, recorded_server: RecordedServer
) -> None:
    """One daemon cycle of the national air feed whose answer labels 1099A's record 08:05:
    the source stays healthy, 1099A's hour is refused by name, and the other stations'
    hour is stored and gets its hourly AQI in the same cycle (once, the whole answer was a
    format change and every station's hour was lost: the live feed holds only this hour)."""
    answer = json.loads((DATA / "cnemc_air" / "live_shenyang.json").read_bytes())
    for record in answer:
        if record["StationCode"] == "1099A":
            record["TimePoint"] = "/Date(1735689900000)/"  # 2025-01-01 08:05 Beijing
            record["TimePointStr"] = ""
    recorded_server.add("/live", Reply(body=json.dumps(answer, ensure_ascii=False).encode()))
    config = tmp_path / "envmon.toml"
    config.write_text(LIVE_CONFIG.replace("{url}", recorded_server.url), encoding="utf-8")
    settings = load_settings(config, {})
    daemon = Daemon(
        settings, tmp_path / "ledger.sqlite", clock=lambda: datetime(2025, 1, 1, 0, 30, tzinfo=UTC)
    )
    source = settings.source_settings("live")
    daemon.health["live"] = SourceHealth(source.name, source.collector, 60)
    daemon.collect(source)
    assert daemon.health["live"].state == "ok"
    others = sorted({r["StationCode"] for r in answer} - {"1099A"})
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        stored = ledger.query("SELECT DISTINCT site, period_end FROM observations ORDER BY site")
        hourly = ledger.query(
            "SELECT DISTINCT site FROM hourly_aqi WHERE is_area = 0 AND period_end = ? "
            "ORDER BY site",
            (LIVE_HOUR,),
        )
        notes = "\n".join(ledger.fetch_log("live")["notes"])
    assert stored.values.tolist() == [[site, LIVE_HOUR] for site in others]
    assert hourly["site"].tolist() == others
    assert "1099A" in notes and "2025-01-01 08:05+08:00 is not on the hour" in notes
