"""A poison input in a daemon cycle: refused row by row, every other station evaluated."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from monitor.ledger import Ledger
from monitor.service.daemon import Daemon, SourceHealth
from monitor.settings import load_settings
from tests.conftest import DATA, RecordedServer, Reply
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
