"""Publishing the ledger to a real VictoriaMetrics through influxdb-client, with faults.

VictoriaMetrics takes InfluxDB's v2 write API (DESIGN.md: no InfluxDB 2 runs here); every
point is read back with /api/v1/export and compared with the ledger row it came from:
value, tags and timestamp, exactly. String fields are checked against InfluxDB 1.x
(VictoriaMetrics stores them as 0).
"""

from __future__ import annotations

import tracemalloc
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from monitor.errors import PublishError
from monitor.influxdb.points import MEASUREMENTS
from monitor.influxdb.writer import InfluxWriter
from monitor.ledger import Ledger
from monitor.ledger.epoch import local_dates
from monitor.service.pipeline import evaluate_dirty
from monitor.service.publish import Publisher
from monitor.settings import Settings, load_settings
from tests.conftest import HUNNAN_TWO_STATIONS, POISON_VALUE
from tests.engines import Influx1, VictoriaMetrics
from tests.influxdb.fault_proxy import Fault, fault_proxy

POLLUTANTS = [
    ("so2", "µg/m³"),
    ("no2", "µg/m³"),
    ("co", "mg/m³"),
    ("o3", "µg/m³"),
    ("pm10", "µg/m³"),
    ("pm2_5", "µg/m³"),
]
#: Site names line protocol must escape: Chinese, space, comma, equals sign, quotes and an
#: inner backslash (a trailing backslash cannot survive line protocol: see line_protocol.py).
ODD_SITES = ["浑南 东路,1", 'a=b "q"\\x']


def settings_for(tmp_path: Path, url: str, batch_points: int = 5000) -> Settings:
    path = tmp_path / "envmon.toml"
    path.write_text(
        HUNNAN_TWO_STATIONS
        + f'\n[influxdb]\nurl = "{url}"\nbucket = "envmon"\nbatch_points = {batch_points}\n',
        encoding="utf-8",
    )
    return load_settings(path, {"ENVMON_INFLUXDB_TOKEN": "test-token"})


def observations(sites: list[str], start: str, hours: int, seed: int = 1) -> pd.DataFrame:
    """Hourly values of the six pollutants (one decimal, as published), a few missing."""
    rng = np.random.default_rng(seed)
    ends = pd.date_range(start, periods=hours, freq="h", tz="Asia/Shanghai").tz_convert("UTC")
    rows = []
    for site in sites:
        for parameter, unit in POLLUTANTS:
            scale = 1.0 if parameter == "co" else 80.0
            values = np.round(rng.uniform(0.1, 1.0, hours) * scale, 1)
            values[rng.uniform(size=hours) < 0.05] = np.nan
            for end, value in zip(ends, values, strict=True):
                rows.append((site, parameter, unit, end - pd.Timedelta(hours=1), end, value, ""))
    return pd.DataFrame(
        rows, columns=["site", "parameter", "unit", "period_start", "period_end", "value", "flags"]
    )


def filled_ledger(
    tmp_path: Path, settings: Settings, sites: list[str], hours: int = 48, start: str = ""
) -> Path:
    path = tmp_path / "ledger.sqlite"
    with Ledger.open(path) as ledger:
        ledger.write_observations(
            observations(sites, start or "2026-03-02 00:00", hours), "test_source"
        )
        evaluate_dirty(ledger, settings)
    return path


def expected_observation_samples(ledger: Ledger) -> dict[tuple[Any, ...], float]:
    """What VictoriaMetrics must hold for the ledger's observations (values not NULL)."""
    rows = ledger.query(
        "SELECT site, parameter, source, unit, period_end, value, revision FROM observations"
    )
    out: dict[tuple[Any, ...], float] = {}
    for r in rows.to_dict("records"):
        labels = tuple(sorted({k: r[k] for k in ("site", "parameter", "source", "unit")}.items()))
        if not pd.isna(r["value"]):
            out[("air_observation_value", labels, r["period_end"])] = float(r["value"])
        out[("air_observation_revision", labels, r["period_end"])] = float(r["revision"])
    return out


def expected_hourly_aqi_samples(ledger: Ledger) -> dict[tuple[Any, ...], float]:
    rows = ledger.query("SELECT site, standard, is_area, period_end, aqi FROM hourly_aqi")
    out: dict[tuple[Any, ...], float] = {}
    for r in rows.to_dict("records"):
        scope = "area" if r["is_area"] else "site"
        labels = tuple(
            sorted({"site": r["site"], "standard": r["standard"], "scope": scope}.items())
        )
        if not pd.isna(r["aqi"]):
            out[("aqi_hourly_aqi", labels, r["period_end"])] = float(r["aqi"])
    return out


def subset(
    samples: dict[tuple[Any, ...], float], names: set[str], sites: set[str]
) -> dict[tuple[Any, ...], float]:
    """The samples of these metrics and sites that this module wrote (its source; the
    session's VictoriaMetrics also holds other tests' points)."""
    return {
        k: v
        for k, v in samples.items()
        if k[0] in names
        and dict(k[1]).get("site") in sites
        and dict(k[1]).get("source", "test_source") == "test_source"
    }


def test_every_point_reaches_victoriametrics_exactly(
    tmp_path: Path, victoria: VictoriaMetrics
) -> None:
    sites = ["1099A", "2900A", *ODD_SITES]
    settings = settings_for(tmp_path, victoria.url)
    path = filled_ledger(tmp_path, settings, sites, start="2025-09-01 00:00")  # own days
    with (
        Ledger.open(path) as ledger,
        InfluxWriter(settings.influxdb, settings.secrets.influxdb_token) as writer,
    ):
        queued, _ = ledger.outbox_stats()
        assert queued > 0
        report = Publisher(ledger, settings, writer).drain()
        assert ledger.outbox_stats() == (0, None)
        assert report.quarantined == 0
        stored = victoria.samples()
        expected = expected_observation_samples(ledger)
        got = subset(stored, {"air_observation_value", "air_observation_revision"}, set(sites))
        assert got == expected
        assert len(expected) > 4 * 6 * 48  # values and revisions of every site-hour
        aqi = expected_hourly_aqi_samples(ledger)
        first, last = min(k[2] for k in aqi), max(k[2] for k in aqi)
        got_aqi = subset(stored, {"aqi_hourly_aqi"}, {*sites, "hunnan"})
        assert aqi and {k: v for k, v in got_aqi.items() if first <= k[2] <= last} == aqi
        # a second drain has nothing to send
        assert Publisher(ledger, settings, writer).drain().points == 0


def test_a_revision_republishes_and_overwrites_the_value(tmp_path: Path, influx1: Influx1) -> None:
    """A corrected value queues its site-day again; InfluxDB (1.x here, same rule in 2.x)
    overwrites the point of the same series and time, so there is one point, the new one.
    (VictoriaMetrics keeps samples of the same time side by side: docs/influxdb.md.)"""
    influx1.reset()
    site = "rev_site"
    settings = settings_for(tmp_path, "http://127.0.0.1:9")

    class ToInflux1:
        def write(self, lines: Any) -> None:
            influx1.write(lines)

    path = filled_ledger(tmp_path, settings, [site], hours=24, start="2026-04-10 00:00")
    with Ledger.open(path) as ledger:
        Publisher(ledger, settings, ToInflux1()).drain()
        first = ledger.query(
            "SELECT * FROM observations WHERE site = ? AND parameter = 'pm2_5' "
            "ORDER BY period_end LIMIT 1",
            (site,),
        ).iloc[0]
        corrected = observations([site], "2026-04-10 00:00", 1).query("parameter == 'pm2_5'")
        ledger.write_observations(corrected.assign(value=first["value"] + 100.0), "test_source")
        assert ledger.outbox_stats()[0] == 1  # one site-day queued again
        assert Publisher(ledger, settings, ToInflux1()).drain().points > 0
    got = influx1.query(
        "SELECT value, revision FROM air_observation WHERE site = 'rev_site' "
        f"AND parameter = 'pm2_5' AND time = {int(first['period_end'])}s"
    )[0]["values"]
    assert got == [[int(first["period_end"]), first["value"] + 100.0, 1.0]]
    count = influx1.query("SELECT count(value) FROM air_observation WHERE site = 'rev_site'")
    assert count[0]["values"][0][1] == 6 * 24 - int(
        observations([site], "2026-04-10 00:00", 24)["value"].isna().sum()
    )


@pytest.mark.parametrize(
    ("fault", "waited"),
    [
        (Fault(status=429, headers={"Retry-After": "2"}), 2.0),
        (Fault(status=500, body="internal error"), None),
        (Fault(status=503, body="overloaded"), None),
        (Fault(close=True), None),
    ],
    ids=["429-retry-after", "500", "503", "connection-closed"],
)
def test_transient_faults_are_retried_and_nothing_is_lost(
    tmp_path: Path, victoria: VictoriaMetrics, fault: Fault, waited: float | None
) -> None:
    site = f"fault_{fault.status or 'close'}"
    with fault_proxy(victoria.url) as proxy:
        settings = settings_for(tmp_path, proxy.url)
        path = filled_ledger(tmp_path, settings, [site], hours=24, start="2026-05-01 00:00")
        proxy.script = [fault, fault]  # two failures, then the server recovers
        sleeps: list[float] = []
        with (
            Ledger.open(path) as ledger,
            InfluxWriter(settings.influxdb, settings.secrets.influxdb_token) as writer,
        ):
            report = Publisher(ledger, settings, writer, sleep=sleeps.append).drain()
            assert ledger.outbox_stats() == (0, None)
            expected = expected_observation_samples(ledger)
        assert len(sleeps) == 2
        if waited is not None:
            assert sleeps == [waited, waited]  # Retry-After honoured
        assert report.requests >= 3
        got = subset(
            victoria.samples(), {"air_observation_value", "air_observation_revision"}, {site}
        )
        assert got == expected


def test_a_slow_server_times_out_and_is_retried(tmp_path: Path, victoria: VictoriaMetrics) -> None:
    site = "slow_site"
    with fault_proxy(victoria.url) as proxy:
        settings = settings_for(tmp_path, proxy.url)
        settings = _with_timeout(settings, 1.0)
        path = filled_ledger(tmp_path, settings, [site], hours=24, start="2026-05-03 00:00")
        proxy.script = [Fault(delay=3.0, status=204)]
        with (
            Ledger.open(path) as ledger,
            InfluxWriter(settings.influxdb, settings.secrets.influxdb_token) as writer,
        ):
            Publisher(ledger, settings, writer, sleep=lambda s: None).drain()
            assert ledger.outbox_stats() == (0, None)
            expected = expected_observation_samples(ledger)
        got = subset(
            victoria.samples(), {"air_observation_value", "air_observation_revision"}, {site}
        )
        assert got == expected


def _with_timeout(settings: Settings, seconds: float) -> Settings:
    import dataclasses

    return dataclasses.replace(
        settings, influxdb=dataclasses.replace(settings.influxdb, timeout_seconds=seconds)
    )


def test_an_outage_keeps_everything_queued_until_the_server_is_back(
    tmp_path: Path, victoria: VictoriaMetrics
) -> None:
    site = "outage_site"
    with fault_proxy(victoria.url) as proxy:
        settings = settings_for(tmp_path, proxy.url)
        path = filled_ledger(tmp_path, settings, [site], hours=48, start="2026-05-05 00:00")
        proxy.script = [Fault(status=503)] * 3
        with (
            Ledger.open(path) as ledger,
            InfluxWriter(settings.influxdb, settings.secrets.influxdb_token) as writer,
        ):
            before = ledger.outbox_stats()
            with pytest.raises(PublishError) as caught:
                Publisher(ledger, settings, writer, sleep=lambda s: None).drain()
            assert caught.value.kind == "unavailable"
            assert ledger.outbox_stats() == before  # nothing marked published
            Publisher(ledger, settings, writer, sleep=lambda s: None).drain()
            assert ledger.outbox_stats() == (0, None)
            expected = expected_observation_samples(ledger)
        got = subset(
            victoria.samples(), {"air_observation_value", "air_observation_revision"}, {site}
        )
        assert got == expected


def test_the_server_stopped_mid_publish_and_restarted(
    tmp_path: Path, victoria: VictoriaMetrics
) -> None:
    sites = [f"restart_{i}" for i in range(6)]
    settings = settings_for(tmp_path, victoria.url, batch_points=300)
    path = filled_ledger(tmp_path, settings, sites, hours=48, start="2026-05-08 00:00")

    class StopsTheServer:
        """Writes through, and stops VictoriaMetrics after the second request."""

        def __init__(self, inner: InfluxWriter) -> None:
            self.inner, self.calls = inner, 0

        def write(self, lines: Any) -> None:
            self.calls += 1
            if self.calls == 3:
                victoria.stop()
            self.inner.write(lines)

    with (
        Ledger.open(path) as ledger,
        InfluxWriter(settings.influxdb, settings.secrets.influxdb_token) as writer,
    ):
        total, _ = ledger.outbox_stats()
        try:
            with pytest.raises(PublishError):
                Publisher(ledger, settings, StopsTheServer(writer), sleep=lambda s: None).drain()
            left, _ = ledger.outbox_stats()
            assert 0 < left < total  # what was accepted is marked, the rest waits
        finally:
            victoria.start()
        Publisher(ledger, settings, writer).drain()
        assert ledger.outbox_stats() == (0, None)
        expected = expected_observation_samples(ledger)
    got = subset(
        victoria.samples(), {"air_observation_value", "air_observation_revision"}, set(sites)
    )
    assert got == expected


#: The outbox kind of each measurement a drain of observations and AQI sends.
KIND_OF = {
    "air_observation": "observations",
    "water_observation": "observations",
    "aqi_hourly": "hourly_aqi",
    "aqi_daily": "daily_aqi",
}


def _site_day(line: str) -> tuple[str, str, str]:
    """The outbox key (kind, site, local date) a line of these plain site names belongs to."""
    head, _, stamp = line.rsplit(" ", 2)
    measurement, *tags = head.split(",")
    site = dict(tag.split("=", 1) for tag in tags)["site"]
    return KIND_OF[measurement], site, str(local_dates(np.array([int(stamp)]))[0])


def test_a_round_cut_short_unqueues_only_the_site_days_whose_points_were_all_accepted(
    tmp_path: Path,
) -> None:
    """The server goes away after five requests of a round: a site-day leaves the outbox
    only if every one of its points was in an accepted request, and one with a point not
    accepted stays queued; each request's lines go forward in time."""
    settings = settings_for(tmp_path, "http://127.0.0.1:9", batch_points=200)
    path = filled_ledger(
        tmp_path, settings, ["cut_1", "cut_2", "cut_3"], hours=72, start="2026-05-12 00:00"
    )

    class Records:
        def __init__(self, accepts: int | None = None) -> None:
            self.accepts = accepts
            self.requests: list[list[str]] = []

        def write(self, lines: Any) -> None:
            if self.accepts is not None and len(self.requests) == self.accepts:
                raise PublishError("InfluxDB is unavailable (test)", kind="unavailable")
            self.requests.append(list(lines))

    with Ledger.open(path) as ledger:
        everything = Records()
        Publisher(ledger, settings, everything).replay(date(2026, 5, 11), date(2026, 5, 15))
        queued = set(ledger.outbox_batch(10**6)[["kind", "key", "day"]].itertuples(index=False))
        cut = Records(accepts=5)
        with pytest.raises(PublishError):
            Publisher(ledger, settings, cut, sleep=lambda s: None).drain()
        left = set(ledger.outbox_batch(10**6)[["kind", "key", "day"]].itertuples(index=False))
    lines_of: dict[tuple[str, str, str], set[str]] = {}
    for line in (line for request in everything.requests for line in request):
        lines_of.setdefault(_site_day(line), set()).add(line)
    # evaluation also queues the days next to the data (QC flags cleared): no points there
    assert set(lines_of) < queued
    accepted = {line for request in cut.requests for line in request}
    assert len(cut.requests) == 5
    removed = queued - left
    assert removed and left  # the five requests completed some site-days, not all
    assert all(lines_of.get(key, set()) <= accepted for key in removed)
    assert all(not lines_of[key] <= accepted for key in left if key in lines_of)
    for request in cut.requests:
        stamps = [int(line.rsplit(" ", 1)[1]) for line in request]
        assert stamps == sorted(stamps)


def test_refused_points_are_quarantined_and_the_rest_published(
    tmp_path: Path, victoria: VictoriaMetrics
) -> None:
    sites = ["ok_site", "BAD_site"]
    with fault_proxy(victoria.url) as proxy:
        settings = settings_for(tmp_path, proxy.url)
        path = filled_ledger(tmp_path, settings, sites, hours=24, start="2026-05-12 00:00")
        proxy.reject_marker = "BAD_site"
        with (
            Ledger.open(path) as ledger,
            InfluxWriter(settings.influxdb, settings.secrets.influxdb_token) as writer,
        ):
            report = Publisher(ledger, settings, writer).drain()
            assert ledger.outbox_stats() == (0, None)
            quarantined = ledger.quarantined()
            bad_rows = ledger.query(
                "SELECT count(*) AS n FROM observations WHERE site = 'BAD_site'"
            )["n"].iloc[0]
            expected = expected_observation_samples(ledger)
        assert report.quarantined == len(quarantined) > 0
        assert quarantined["line"].str.contains("BAD_site").all()
        assert (quarantined["status"] == 400).all()
        assert quarantined["message"].str.contains("unable to parse points").all()
        # every observation of the bad site is quarantined (its AQI points too), no other
        observation_lines = quarantined[quarantined["line"].str.startswith("air_observation")]
        assert len(observation_lines) == bad_rows
    got = subset(
        victoria.samples(), {"air_observation_value", "air_observation_revision"}, set(sites)
    )
    assert got == {k: v for k, v in expected.items() if dict(k[1])["site"] == "ok_site"}


def test_a_refused_token_stops_publishing_without_losing_anything(
    tmp_path: Path, victoria: VictoriaMetrics
) -> None:
    with fault_proxy(victoria.url) as proxy:
        settings = settings_for(tmp_path, proxy.url)
        path = filled_ledger(tmp_path, settings, ["auth_site"], hours=24, start="2026-05-14 00:00")
        proxy.script = [Fault(status=401, body='{"code":"unauthorized"}')]
        with (
            Ledger.open(path) as ledger,
            InfluxWriter(settings.influxdb, settings.secrets.influxdb_token) as writer,
        ):
            before = ledger.outbox_stats()
            with pytest.raises(PublishError, match="ENVMON_INFLUXDB_TOKEN") as caught:
                Publisher(ledger, settings, writer, sleep=lambda s: None).drain()
            assert caught.value.kind == "refused"
            assert proxy.requests_seen == 1  # not retried
            assert ledger.outbox_stats() == before


def test_memory_stays_bounded_while_draining_a_long_backlog(tmp_path: Path) -> None:
    """Peak memory of a drain does not grow with the backlog (batches are bounded)."""

    class Sink:
        def write(self, lines: Any) -> None:
            pass

    peaks = []
    for days in (16, 64):
        folder = tmp_path / f"d{days}"
        folder.mkdir()
        # 240 points per request: rounds of 10 site-days, ~10 rounds vs ~40 rounds
        settings = settings_for(folder, "http://127.0.0.1:9", batch_points=240)
        path = filled_ledger(
            folder, settings, ["m1", "m2"], hours=24 * days, start="2026-06-01 00:00"
        )
        with Ledger.open(path) as ledger:
            tracemalloc.start()
            Publisher(ledger, settings, Sink()).drain()
            peaks.append(tracemalloc.get_traced_memory()[1])
            tracemalloc.stop()
            assert ledger.outbox_stats() == (0, None)
    assert peaks[1] < 1.3 * peaks[0], peaks  # 4× the backlog, about the same peak


def test_replay_rebuilds_a_date_range(tmp_path: Path, victoria: VictoriaMetrics) -> None:
    site = "replay_site"
    settings = settings_for(tmp_path, victoria.url)
    path = filled_ledger(tmp_path, settings, [site], hours=72, start="2026-06-20 00:00")
    with (
        Ledger.open(path) as ledger,
        InfluxWriter(settings.influxdb, settings.secrets.influxdb_token) as writer,
    ):
        queued = ledger.outbox_stats()
        days: list[int] = []
        from datetime import date

        report = Publisher(ledger, settings, writer).replay(
            date(2026, 6, 20), date(2026, 6, 22), on_day=lambda n, total: days.append(n)
        )
        assert days and days[-1] == 3  # progress up to the last day
        assert ledger.outbox_stats() == queued  # a replay leaves the outbox alone
        expected = expected_observation_samples(ledger)
    assert report.points > len(expected) // 2
    got = subset(victoria.samples(), {"air_observation_value", "air_observation_revision"}, {site})
    assert got == expected


def test_text_fields_and_float_types_in_influxdb_1(tmp_path: Path, influx1: Influx1) -> None:
    """Through InfluxDB 1.x: string fields read back as written, every number is a float."""
    influx1.reset()
    sites = ["1099A", *ODD_SITES]
    settings = settings_for(tmp_path, "http://127.0.0.1:9")

    class ToInflux1:
        def write(self, lines: Any) -> None:
            influx1.write(lines)

    path = filled_ledger(tmp_path, settings, sites, hours=24, start="2026-03-02 00:00")
    with Ledger.open(path) as ledger:
        Publisher(ledger, settings, ToInflux1()).drain()
        Publisher(ledger, settings, ToInflux1()).health_round(started_at=0)
        rows = ledger.query("SELECT site, parameter, period_end, value FROM observations")
    types = {
        (series["name"], key): kind
        for series in influx1.query("SHOW FIELD KEYS")
        for key, kind in series["values"]
    }
    strings = {
        "flags",
        "qc_flags",
        "primary_pollutants",
        "exceedance_pollutants",
        "invalid_statistics",
        "version",
        "last_error",
    }
    assert types, "no fields stored"
    for (measurement, key), kind in types.items():
        assert kind == ("string" if key in strings else "float"), (measurement, key, kind)
    got = influx1.query(
        "SELECT value, flags FROM air_observation WHERE site = '浑南 东路,1' AND parameter = 'o3'"
    )[0]
    mine = rows[(rows["site"] == "浑南 东路,1") & (rows["parameter"] == "o3")].sort_values(
        "period_end"
    )
    assert [r[0] for r in got["values"]] == mine["period_end"].tolist()
    assert [r[1] for r in got["values"]] == [None if pd.isna(v) else v for v in mine["value"]]
    assert {r[2] for r in got["values"]} == {""}
    documented = {m.name: set(m.tags) for m in MEASUREMENTS}
    for series in influx1.query("SHOW TAG KEYS"):  # every point carries all its tags
        assert {v[0] for v in series["values"]} == documented[series["name"]], series["name"]
    beat = influx1.query("SELECT up, version FROM heartbeat")[0]["values"]
    assert beat[-1][1] == 1.0 and beat[-1][2]


def test_data_health_counts_days_that_cannot_be_evaluated(
    tmp_path: Path, influx1: Influx1, poisoned_evaluation: str
) -> None:
    """Issue 13 §1: a site-day that cannot be evaluated shows in the data-health series
    (field ``evaluation_failures``, same tags site and source); an area's failing day gets a
    row with source ``evaluation``; a healthy site reports 0."""
    influx1.reset()
    settings = settings_for(tmp_path, "http://127.0.0.1:9")
    end = pd.Timestamp("2026-03-02 08:00", tz="Asia/Shanghai")
    poison = pd.DataFrame(
        {
            "site": ["hun_bad"],
            "parameter": ["nh3n"],
            "unit": ["mg/L"],
            "period_start": [end.tz_convert("UTC")],
            "period_end": [end.tz_convert("UTC")],
            "value": [POISON_VALUE],  # the fixture makes its evaluation raise
            "flags": [""],
        }
    )

    class ToInflux1:
        def write(self, lines: Any) -> None:
            influx1.write(lines)

    path = filled_ledger(tmp_path, settings, ["1099A"], hours=24, start="2026-03-02 00:00")
    with Ledger.open(path) as ledger:
        ledger.write_observations(poison, "lab")
        evaluate_dirty(ledger, settings)
        ledger.record_evaluation_results([("hunnan", "2026-03-02", "area", "test: no value")], [])
        stamp = int(pd.Timestamp("2026-03-03 00:00", tz="Asia/Shanghai").timestamp())
        Publisher(ledger, settings, ToInflux1()).health_round(started_at=0, now=stamp)
    query = 'SELECT evaluation_failures, "site", "source" FROM data_health'
    got = {
        (site, source): failures
        for series in influx1.query(query)
        for _, failures, site, source in series["values"]
    }
    assert got[("hun_bad", "lab")] == 1.0
    assert got[("hunnan", "evaluation")] == 1.0
    assert got[("1099A", "test_source")] == 0.0
    tags = {v[0] for s in influx1.query("SHOW TAG KEYS FROM data_health") for v in s["values"]}
    assert tags == {"site", "source"}
