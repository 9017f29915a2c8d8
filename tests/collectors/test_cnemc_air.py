"""CNEMC air collector against a real loopback HTTP server serving documented-shape answers.

The answers in ``tests/data/cnemc_air/`` are built from data-sources.md §4a (see the folder's
README). Published AQIs were worked by hand from HJ 633 formula (1), rounded up; e.g. 1099A
at 2025-01-01 08:00: PM2.5 63 → 50 + (63 − 35)·50/40 = 85 (2012); the same 63 µg/m³ on
2026-03-01 → 100 + (63 − 60)·50/55 = 102.7 → 103 (2026, PM2.5 IAQI-100 at 60 µg/m³).
"""

from __future__ import annotations

import csv
import json
import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pandas as pd
import pytest

from monitor.collectors.base import OBSERVATION_COLUMNS, Batch
from monitor.collectors.cnemc_air import (
    CnemcAirCollector,
    check_station_hours,
    parse_observations,
    parse_station_hours,
    safe_checks,
    station_observations,
    summarise_checks,
)
from monitor.collectors.http import HttpClient
from monitor.errors import SourceError, SourceFormatChanged, SourceUnavailable
from monitor.ledger import Ledger
from monitor.service.export import source_status
from monitor.service.pipeline import ingest
from monitor.service.sources import build_collector
from monitor.settings import load_settings
from tests.conftest import HUNNAN_TWO_STATIONS, RecordedServer, Reply, serving

DATA = Path(__file__).parent.parent / "data" / "cnemc_air"
PATH = "/CityData/GetAQIDataPublishLive"
SOURCE = "cnemc_test"
HUNNAN = ("1098A", "1099A", "2900A")


def _collector(
    server: RecordedServer,
    *,
    stations: tuple[str, ...] = HUNNAN,
    sleeps: list[float] | None = None,
    timeout: float = 5.0,
    retries: int = 2,
) -> CnemcAirCollector:
    recorded = sleeps if sleeps is not None else []
    client = HttpClient(SOURCE, timeout=timeout, retries=retries, sleep=recorded.append)
    return CnemcAirCollector(
        source=SOURCE, stations=stations, url=server.url + PATH, client=client
    )


def _batch(
    server: RecordedServer,
    name: str = "live_shenyang.json",
    *,
    stations: tuple[str, ...] = HUNNAN,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Batch:
    server.add_file(PATH, DATA / name)
    (batch,) = _collector(server, stations=stations).collect(since, until)
    return batch


def _rows(frame: pd.DataFrame, site: str, beijing: str) -> pd.DataFrame:
    end = pd.Timestamp(beijing, tz="Asia/Shanghai").tz_convert("UTC")
    return frame[(frame["site"] == site) & (frame["period_end"] == end)]


def _flags(frame: pd.DataFrame, site: str, beijing: str) -> dict[str, str]:
    rows = _rows(frame, site, beijing)
    assert len(rows) == 6, f"expected 6 observations of {site} at {beijing}, got {len(rows)}"
    return dict(zip(rows["parameter"], rows["flags"], strict=True))


# ---------------------------------------------------------------------------------------
# Translation


def test_parameters_units_and_station_filter(recorded_server: RecordedServer) -> None:
    """Only the configured stations come back, six canonical parameters each."""
    frame = _batch(recorded_server).observations
    assert list(frame.columns) == list(OBSERVATION_COLUMNS)
    assert set(frame["site"]) == set(HUNNAN)
    assert set(frame["parameter"]) == {"so2", "no2", "co", "o3", "pm10", "pm2_5"}
    assert len(frame) == 3 * 6
    units = dict(zip(frame["parameter"], frame["unit"], strict=False))
    assert units["co"] == "mg/m³"
    assert units["pm2_5"] == "µg/m³"


def test_values_are_read_as_numbers_and_co_stays_in_milligrams(
    recorded_server: RecordedServer,
) -> None:
    """String values become floats; CO "1.2" (mg/m³ at the source) is stored as 1.2 mg/m³."""
    frame = _batch(recorded_server).observations
    rows = _rows(frame, "1099A", "2025-01-01 08:00")
    values = dict(zip(rows["parameter"], rows["value"], strict=True))
    assert values == {"so2": 20.0, "no2": 40.0, "co": 1.2, "o3": 30.0, "pm10": 90.0, "pm2_5": 63.0}


def test_hour_ending_beijing_label_becomes_utc_period(recorded_server: RecordedServer) -> None:
    """Label 2025-01-01 08:00 Beijing is the hour 2024-12-31 23:00 – 2025-01-01 00:00 UTC."""
    frame = _batch(recorded_server).observations
    assert str(frame["period_end"].dt.tz) == "UTC"
    assert set(frame["period_start"]) == {pd.Timestamp("2024-12-31T23:00Z")}
    assert set(frame["period_end"]) == {pd.Timestamp("2025-01-01T00:00Z")}


def test_text_label_gives_the_same_period_as_net_date() -> None:
    """TimePointStr '2025年01月01日 13时' alone gives the same period as /Date(ms)/ would."""
    records = json.loads((DATA / "crosscheck_1099A.json").read_bytes())
    text_only = records[4]
    assert "TimePoint" not in text_only
    hours = parse_station_hours([text_only])
    assert hours["period_end"].iloc[0] == pd.Timestamp("2025-01-01T05:00Z")
    with_date = dict(text_only, TimePoint="/Date(1735707600000+0800)/", TimePointStr="")
    assert parse_station_hours([with_date])["period_end"].iloc[0] == hours["period_end"].iloc[0]


def test_em_dash_gives_nan_flagged_source_missing(recorded_server: RecordedServer) -> None:
    """SO2 '—' at 1100A gives NaN with flag source_missing; the other values are kept."""
    frame = _batch(recorded_server, stations=("1100A",)).observations
    so2 = frame[frame["parameter"] == "so2"]
    assert len(so2) == 1
    assert math.isnan(so2["value"].iloc[0])
    assert so2["flags"].iloc[0] == "source_missing"
    assert frame[frame["parameter"] != "so2"]["value"].notna().all()


def test_no_station_filter_keeps_every_station(recorded_server: RecordedServer) -> None:
    """An empty station list keeps all five stations of the answer."""
    frame = _batch(recorded_server, stations=()).observations
    assert set(frame["site"]) == {"1098A", "1099A", "1100A", "1104A", "2900A"}


def test_request_asks_for_the_city(recorded_server: RecordedServer) -> None:
    """The GET goes to the configured path with cityName=沈阳市."""
    _batch(recorded_server)
    ((path, query),) = recorded_server.requests
    assert path == PATH
    assert parse_qs(query) == {"cityName": ["沈阳市"]}


def test_batch_metadata(recorded_server: RecordedServer) -> None:
    """Measured batch, with the answered hour as covers and the requested URL."""
    batch = _batch(recorded_server)
    assert batch.kind == "measured"
    assert batch.source == SOURCE
    assert batch.covers == (
        datetime(2024, 12, 31, 23, tzinfo=UTC),
        datetime(2025, 1, 1, 0, tzinfo=UTC),
    )
    assert batch.requested.startswith(recorded_server.url + PATH + "?cityName=")


def test_since_and_until_select_station_hours(recorded_server: RecordedServer) -> None:
    """Only station-hours with since < period_end ≤ until are returned."""
    batch = _batch(
        recorded_server,
        "crosscheck_1099A.json",
        stations=("1099A",),
        since=datetime(2025, 1, 1, 1, tzinfo=UTC),  # label 09:00 Beijing excluded
        until=datetime(2025, 1, 1, 3, tzinfo=UTC),  # label 11:00 Beijing included
    )
    ends = sorted(set(batch.observations["period_end"]))
    assert ends == [pd.Timestamp("2025-01-01T02:00Z"), pd.Timestamp("2025-01-01T03:00Z")]


def test_missing_station_is_noted(recorded_server: RecordedServer) -> None:
    """A configured station absent from the answer is named in the notes."""
    batch = _batch(recorded_server, stations=("1099A", "1760A"))
    assert "no record in the answer for station(s) 1760A" in batch.notes


# ---------------------------------------------------------------------------------------
# AQI cross-check


@pytest.fixture
def crosscheck(recorded_server: RecordedServer) -> Batch:
    """The cross-check answer for station 1099A, collected whole."""
    return _batch(recorded_server, "crosscheck_1099A.json", stations=("1099A",))


def test_consistent_hour_has_no_flag(crosscheck: Batch) -> None:
    """Published AQI 85 (PM2.5) matches PM2.5 63 µg/m³ under HJ 633-2012: no flag."""
    assert set(_flags(crosscheck.observations, "1099A", "2025-01-01 09:00").values()) == {""}


def test_wrong_published_aqi_is_flagged(crosscheck: Batch) -> None:
    """Published AQI 110 where the values give 85: every observation flagged aqi_mismatch."""
    flags = _flags(crosscheck.observations, "1099A", "2025-01-01 10:00")
    assert set(flags.values()) == {"aqi_mismatch"}


def test_wrong_primary_pollutant_is_flagged(crosscheck: Batch) -> None:
    """Right AQI 85 but primary 臭氧1小时 (O3 IAQI is 10): aqi_mismatch."""
    flags = _flags(crosscheck.observations, "1099A", "2025-01-01 12:00")
    assert set(flags.values()) == {"aqi_mismatch"}


def test_swapped_ozone_fields_are_flagged_not_fixed(crosscheck: Batch) -> None:
    """O3 180 / O3_8h 250 with published AQI 125 (O3 250 → 125): o3_swapped, O3 kept at 180."""
    frame = crosscheck.observations
    flags = _flags(frame, "1099A", "2025-07-01 15:00")
    assert set(flags.values()) == {"o3_swapped"}
    rows = _rows(frame, "1099A", "2025-07-01 15:00")
    assert rows.loc[rows["parameter"] == "o3", "value"].iloc[0] == 180.0


def test_missing_published_aqi_is_not_compared(crosscheck: Batch) -> None:
    """Published AQI '—': no verdict flag; the em-dash PM2.5 is source_missing only."""
    flags = _flags(crosscheck.observations, "1099A", "2025-01-01 11:00")
    assert flags["pm2_5"] == "source_missing"
    assert {v for k, v in flags.items() if k != "pm2_5"} == {""}


def test_standard_follows_the_label_date(crosscheck: Batch) -> None:
    """Hours labelled 2026-03-01 00:00 and 08:00 are rated by HJ 633-2026 and agree."""
    frame = crosscheck.observations
    assert set(_flags(frame, "1099A", "2026-03-01 00:00").values()) == {""}
    assert set(_flags(frame, "1099A", "2026-03-01 08:00").values()) == {""}


def test_notes_count_the_verdicts(crosscheck: Batch) -> None:
    """Batch notes give the counts and one line per disagreeing station-hour."""
    assert crosscheck.notes[0] == (
        "aqi_check: station_hours=8 consistent=4 aqi_mismatch=2 o3_swapped=1 not_compared=1"
    )
    assert len(crosscheck.notes) == 1 + 3
    assert any(
        n.startswith("o3_swapped 1099A 2025-07-01 15:00") and "published AQI 125" in n
        for n in crosscheck.notes
    )


def test_check_reports_recomputed_values() -> None:
    """The check frame carries the recomputed and swapped AQI and the standard."""
    hours = parse_station_hours((DATA / "crosscheck_1099A.json").read_bytes())
    checks = check_station_hours(hours)
    swapped = checks.iloc[5]
    assert (swapped["aqi_computed"], swapped["aqi_swapped"]) == (75.0, 125.0)
    assert swapped["primary_computed"] == "o3"
    assert checks["standard"].tolist()[-2:] == ["hj633-2026", "hj633-2026"]
    assert checks["standard"].iloc[0] == "hj633-2012"


def test_rounding_difference_of_one_is_tolerated() -> None:
    """A published AQI one above the recomputed one (display rounding) is consistent."""
    records = json.loads((DATA / "live_shenyang.json").read_bytes())
    record = next(r for r in records if r["StationCode"] == "1099A")
    off_by_one = dict(record, AQI="86")
    off_by_two = dict(record, AQI="87")
    frame = parse_observations([off_by_one, off_by_two | {"StationCode": "1100A"}])
    assert set(frame.loc[frame["site"] == "1099A", "flags"]) == {""}
    assert set(frame.loc[frame["site"] == "1100A", "flags"]) == {"aqi_mismatch"}


# ---------------------------------------------------------------------------------------
# Failures


def test_server_error_then_success_is_retried(recorded_server: RecordedServer) -> None:
    """HTTP 500 then 200: the second attempt succeeds."""
    body = (DATA / "live_shenyang.json").read_bytes()
    recorded_server.add(PATH, Reply(b"oops", status=500, content_type="text/plain"), Reply(body))
    (batch,) = _collector(recorded_server).collect(None, None)
    assert len(recorded_server.requests) == 2
    assert len(batch.observations) == 18


def test_rate_limit_honours_retry_after(recorded_server: RecordedServer) -> None:
    """HTTP 429 with Retry-After: 3 waits 3 s (injected sleep), then succeeds."""
    body = (DATA / "live_shenyang.json").read_bytes()
    limited = Reply(b"", status=429, headers={"Retry-After": "3"}, content_type="text/plain")
    recorded_server.add(PATH, limited, Reply(body))
    sleeps: list[float] = []
    (batch,) = _collector(recorded_server, sleeps=sleeps).collect(None, None)
    assert sleeps == [3.0]
    assert len(batch.observations) == 18


def test_persistent_unavailability_raises(recorded_server: RecordedServer) -> None:
    """HTTP 503 on every attempt: SourceUnavailable after 1 + 2 retries."""
    recorded_server.add(PATH, Reply(b"busy", status=503, content_type="text/plain"))
    with pytest.raises(SourceUnavailable, match="HTTP 503") as caught:
        list(_collector(recorded_server).collect(None, None))
    assert caught.value.retryable
    assert len(recorded_server.requests) == 3


def test_timeout_raises_source_unavailable(recorded_server: RecordedServer) -> None:
    """An answer slower than the client timeout is SourceUnavailable."""
    body = (DATA / "live_shenyang.json").read_bytes()
    recorded_server.add(PATH, Reply(body, delay=0.6))
    collector = _collector(recorded_server, timeout=0.2, retries=1)
    with pytest.raises(SourceUnavailable, match="Timeout"):
        list(collector.collect(None, None))


@pytest.mark.parametrize(
    ("name", "content_type", "message"),
    [
        ("error_page.html", "text/html; charset=utf-8", "HTML page .* where JSON was expected"),
        ("truncated.json", "application/json", "invalid JSON"),
        ("empty.json", "application/json", "empty body"),
        ("renamed_field.json", "application/json", r"has no field\(s\) \['PM2_5'\]"),
    ],
    ids=["html", "truncated", "empty", "renamed"],
)
def test_unknown_answers_raise_format_changed(
    recorded_server: RecordedServer, name: str, content_type: str, message: str
) -> None:
    """HTML page, truncated JSON, empty body, renamed field: SourceFormatChanged, no retry."""
    recorded_server.add_file(PATH, DATA / name, content_type=content_type)
    with pytest.raises(SourceFormatChanged, match=message) as caught:
        list(_collector(recorded_server).collect(None, None))
    assert not caught.value.retryable
    assert recorded_server.url in str(caught.value)
    assert len(recorded_server.requests) == 1


def test_connection_cut_mid_body_is_a_source_error(recorded_server: RecordedServer) -> None:
    """A body cut off by a closed connection is a SourceError naming the URL."""
    recorded_server.add_file(PATH, DATA / "live_shenyang.json", truncate=True)
    with pytest.raises(SourceError, match=r"127\.0\.0\.1"):
        list(_collector(recorded_server).collect(None, None))


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"Data": []}, r"got an object with keys \['Data'\]; expected a JSON list"),
        (["1099A"], "record 0 is '1099A'; expected a JSON object"),
    ],
    ids=["object", "not-records"],
)
def test_wrong_top_level_shape_is_refused(payload: object, message: str) -> None:
    """A JSON object or a list of non-objects is a format change that says what came."""
    with pytest.raises(SourceFormatChanged, match=message):
        parse_station_hours(payload)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("time_point", "message"),
    [
        ("2025/01/01 8点", "cannot read TimePoint='2025/01/01 8点'"),
        ("2025-13-01 08:00", "cannot read TimePoint='2025-13-01 08:00'"),
        ("9999-01-01 08:00", "has the year 9999; expected a time from 1900"),
    ],
    ids=["unreadable", "month-13", "year-9999"],
)
def test_answer_without_a_readable_label_is_a_format_change(time_point: str, message: str) -> None:
    """When no record has a label that can be held, the answer is a format change naming
    the value (one bad record among good ones is refused alone: next test)."""
    records = json.loads((DATA / "live_shenyang.json").read_bytes())
    record = dict(records[1], TimePoint=time_point, TimePointStr="")
    with pytest.raises(SourceFormatChanged, match=message):
        parse_station_hours([record])


def test_one_bad_label_costs_only_its_own_station_hour() -> None:
    """Month 13 at 1099A, year 9999 (``/Date(253402300800000)/``) at 2900A, 1600 as text at
    1100A, 08:05 at 1104A: 1098A keeps its hour; the unreadable and out-of-range labels are
    refused by name (no OutOfBoundsDatetime); the 08:05 label is passed on as read, for the
    intake check to refuse (tests/collectors/test_intake.py)."""
    records = json.loads((DATA / "live_shenyang.json").read_bytes())
    labels = {
        "1099A": "2025-13-01 08:00",
        "2900A": "/Date(253402300800000)/",
        "1100A": "1600-01-01 08:00",
        "1104A": "/Date(1735689900000)/",  # 2025-01-01 08:05 Beijing
    }
    for record in records:
        if record["StationCode"] in labels:
            record["TimePoint"] = labels[record["StationCode"]]
            record["TimePointStr"] = ""
    refused: list[str] = []
    hours = parse_station_hours(records, refused=refused)
    assert hours["site"].tolist() == ["1098A", "1104A"]
    assert hours["period_end"].tolist() == [
        pd.Timestamp("2025-01-01T00:00Z"),
        pd.Timestamp("2025-01-01T00:05Z"),
    ]
    assert len(refused) == 3
    by_station = {code: [m for m in refused if f"StationCode {code}" in m] for code in labels}
    assert "cannot read TimePoint='2025-13-01 08:00'" in by_station["1099A"][0]
    assert "has the year 10000" in by_station["2900A"][0]
    assert "'1600-01-01 08:00'" in by_station["1100A"][0] and "year 1600" in by_station["1100A"][0]
    assert by_station["1104A"] == []
    assert all(m.endswith("(not stored)") for m in refused)


def test_field_names_match_without_case() -> None:
    """Lower-cased keys (as some mirrors deliver them) give the same observations."""
    records = json.loads((DATA / "live_shenyang.json").read_bytes())
    lowered = [{k.lower(): v for k, v in r.items()} for r in records]
    pd.testing.assert_frame_equal(parse_observations(lowered), parse_observations(records))


def test_unparseable_value_is_flagged_source_invalid() -> None:
    """A value that is not a number is kept as NaN flagged source_invalid."""
    records = json.loads((DATA / "live_shenyang.json").read_bytes())
    record = dict(records[1], NO2="4O")
    frame = parse_observations([record])
    no2 = frame[frame["parameter"] == "no2"]
    assert math.isnan(no2["value"].iloc[0])
    assert no2["flags"].iloc[0] == "source_invalid"


def test_padded_station_code_is_refused(recorded_server: RecordedServer) -> None:
    """A configured station code with blanks is refused with its value."""
    with pytest.raises(ValueError, match=r"\[' 1099A'\]"):
        CnemcAirCollector(source=SOURCE, stations=[" 1099A"], url=recorded_server.url)


# ---------------------------------------------------------------------------------------
# Negative values never cost the hour (issue 14)


def test_negative_value_of_one_station_keeps_the_hour_for_all() -> None:
    """PM2.5 = -3 at 1099A: every station's six values of the hour are kept, the negative
    value as delivered; 1099A's hour is not compared (no IAQI below 0), the others are."""
    records = json.loads((DATA / "live_shenyang.json").read_bytes())
    for record in records:
        if record["StationCode"] == "1099A":
            record["PM2_5"] = "-3"
    hours = parse_station_hours(records, stations=HUNNAN)
    checks, notes = safe_checks(hours)
    assert notes == []
    verdicts = dict(zip(hours["site"], checks["verdict"], strict=True))
    assert verdicts == {"1098A": "consistent", "1099A": "not_compared", "2900A": "consistent"}
    frame = station_observations(hours, checks)
    assert len(frame) == 3 * 6
    row = frame[(frame["site"] == "1099A") & (frame["parameter"] == "pm2_5")].iloc[0]
    assert row["value"] == -3.0 and row["flags"] == ""
    summary = summarise_checks(hours, checks)
    assert "negative_values=1" in summary[0]
    assert any(line.startswith("negative 1099A 2025-01-01 08:00") for line in summary)


def test_negative_value_is_stored_and_flagged_negative_by_evaluation(
    tmp_path: Path, recorded_server: RecordedServer
) -> None:
    """Through the real pipeline: the negative hour is stored for every station and the
    quality checks flag the value ``negative`` (docs/concepts.md, "Data-quality flags")."""
    records = json.loads((DATA / "live_shenyang.json").read_bytes())
    for record in records:
        if record["StationCode"] == "1099A":
            record["PM2_5"] = "-3"
    recorded_server.add(PATH, Reply(body=json.dumps(records, ensure_ascii=False).encode()))
    config = tmp_path / "envmon.toml"
    config.write_text(
        HUNNAN_TWO_STATIONS + f'\n[[sources]]\nname = "cnemc"\ncollector = "cnemc_air"\n'
        f'stations = ["1099A", "2900A"]\nurl = "{recorded_server.url + PATH}"\n',
        encoding="utf-8",
    )
    settings = load_settings(config, {})
    source = settings.source_settings("cnemc")
    collector = build_collector(source, settings)
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        ingest(ledger, settings, source, collector, None, None)
        stored = ledger.observations()
        flags = ledger.query("SELECT site, parameter, flags FROM qc_flags")
    assert len(stored) == 2 * 6
    assert float(stored.query("site == '1099A' and parameter == 'pm2_5'")["value"].iloc[0]) == -3
    assert ("1099A", "pm2_5", "negative") in set(flags.itertuples(index=False))


def test_a_failing_cross_check_never_discards_the_answer() -> None:
    """If the recomputation itself fails, the values are kept unchecked and the reason noted."""
    hours = parse_station_hours(DATA.joinpath("live_shenyang.json").read_bytes(), stations=HUNNAN)
    broken = hours.drop(columns=["so2_24h"])
    checks, notes = safe_checks(broken)
    assert set(checks["verdict"]) == {"not_compared"}
    assert notes and notes[0].startswith("aqi_check failed, values kept unchecked")
    assert len(station_observations(broken, checks)) == 3 * 6


# ---------------------------------------------------------------------------------------
# Catch-up from the history endpoints
#
# Contract (a survey of the platform's pages and scripts, 2026-10-09, and public clients,
# see tests/data/cnemc_air/README.md): POST /HourChangesPublish/GetAQIHistoryByConditionHis
# with the form date=YYYY-MM-DD HH:00:00 (Beijing) answers every station for that hour, the
# latest hour and the 23 before it, and [] for older dates; POST
# /HourChangesPublish/GetAqiHistoryByCondition?stationCode=… (empty form) answers the last
# 24 hours of one station. The records have the live feed's shape.

HIS = "/HourChangesPublish/GetAQIHistoryByConditionHis"
STATION = "/HourChangesPublish/GetAqiHistoryByCondition"
LIVE_END = pd.Timestamp("2025-01-01 08:00", tz="Asia/Shanghai")  # the live fixture's hour


def _relabel(records: list[dict[str, Any]], end: pd.Timestamp) -> list[dict[str, Any]]:
    ms = int(end.tz_convert("UTC").timestamp() * 1000)
    label = end.tz_convert("Asia/Shanghai").strftime("%Y年%m月%d日 %H时")
    return [dict(r, TimePoint=f"/Date({ms})/", TimePointStr=label) for r in records]


@dataclass
class AirPlatform:
    url: str
    requests: list[tuple[str, str, str, dict[str, str]]] = field(default_factory=list)
    failing_dates: set[str] = field(default_factory=set)

    def history_forms(self) -> list[str]:
        return [f["date"] for m, p, q, f in self.requests if p == HIS]


@pytest.fixture
def air_platform() -> Iterator[AirPlatform]:
    live = json.loads((DATA / "live_shenyang.json").read_bytes())
    window = [LIVE_END - pd.Timedelta(hours=k) for k in range(24)]
    state = AirPlatform(url="")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, body: bytes, status: int = 200) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            path, _, query = self.path.partition("?")
            with lock:
                state.requests.append(("GET", path, query, {}))
            if path != PATH:
                self._answer(b"[]", 404)
                return
            self._answer(json.dumps(live, ensure_ascii=False).encode())

        def do_POST(self) -> None:
            path, _, query = self.path.partition("?")
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
            form = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
            ctype = self.headers.get("Content-Type", "")
            with lock:
                state.requests.append(("POST", path, query, form))
            if path == HIS and "x-www-form-urlencoded" in ctype:
                date = form.get("date", "")
                if date in state.failing_dates:
                    self._answer(b"busy", 503)
                    return
                end = pd.Timestamp(date).tz_localize("Asia/Shanghai")
                records = _relabel(live, end) if end in window else []
                self._answer(json.dumps(records, ensure_ascii=False).encode())
            elif path == STATION:
                code = parse_qs(query).get("stationCode", [""])[0]
                one = [r for r in live if r["StationCode"] == code]
                records = [r for end in window for r in _relabel(one, end)]
                self._answer(json.dumps(records, ensure_ascii=False).encode())
            else:
                self._answer(b"not found", 404)

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

    with serving(Handler) as state.url:
        yield state


def _history_collector(
    platform: AirPlatform,
    *,
    stations: tuple[str, ...] = HUNNAN,
    max_history_hours: int = 24,
    sleeps: list[float] | None = None,
) -> CnemcAirCollector:
    recorded = sleeps if sleeps is not None else []
    return CnemcAirCollector(
        source=SOURCE,
        stations=stations,
        url=platform.url + PATH,
        hour_history_url=platform.url + HIS,
        station_history_url=platform.url + STATION,
        max_history_hours=max_history_hours,
        request_delay=1.5,
        client=HttpClient(SOURCE, timeout=5.0, retries=0, sleep=recorded.append),
    )


def _since(hours_before_live: int) -> datetime:
    """The watermark of a daemon that stopped ``hours_before_live`` hours before the live
    hour (its last stored hour end)."""
    return (LIVE_END - pd.Timedelta(hours=hours_before_live)).tz_convert("UTC").to_pydatetime()


def test_restart_fills_the_gap_hour_by_hour(air_platform: AirPlatform) -> None:
    """Down for 3 h with three stations: the two missed hours come from the hourly history
    (POST form date=…, paced), oldest first, then the live hour; nothing else is asked."""
    sleeps: list[float] = []
    collector = _history_collector(air_platform, sleeps=sleeps)
    batches = list(collector.collect(_since(3), None))
    assert air_platform.history_forms() == ["2025-01-01 06:00:00", "2025-01-01 07:00:00"]
    assert sleeps == [1.5, 1.5]
    ends = [sorted(set(b.observations["period_end"])) for b in batches]
    assert ends == [
        [pd.Timestamp("2024-12-31T22:00Z")],
        [pd.Timestamp("2024-12-31T23:00Z")],
        [pd.Timestamp("2025-01-01T00:00Z")],
    ]
    for batch in batches:
        assert set(batch.observations["site"]) == set(HUNNAN)
        assert len(batch.observations) == 3 * 6
    assert batches[0].covers == (
        datetime(2024, 12, 31, 21, tzinfo=UTC),
        datetime(2024, 12, 31, 22, tzinfo=UTC),
    )
    # the history values are the records' values, with the cross-check applied
    first = batches[0].observations
    pm = first[(first["site"] == "1099A") & (first["parameter"] == "pm2_5")].iloc[0]
    assert pm["value"] == 63.0 and pm["flags"] == ""
    assert not any(note.startswith("gap") for b in batches for note in b.notes)


def test_long_gap_uses_the_station_history(air_platform: AirPlatform) -> None:
    """Down for 10 h with three stations: three 24-hour station requests instead of nine
    hourly ones; one batch with the nine missed hours, then the live hour."""
    sleeps: list[float] = []
    batches = list(_history_collector(air_platform, sleeps=sleeps).collect(_since(10), None))
    posts = [(p, q) for m, p, q, f in air_platform.requests if m == "POST"]
    assert posts == [(STATION, f"stationCode={code}") for code in HUNNAN]
    assert sleeps == [1.5, 1.5, 1.5]
    history, live = batches
    assert history.observations["period_end"].nunique() == 9
    assert len(history.observations) == 9 * 3 * 6
    assert history.covers == (
        datetime(2024, 12, 31, 14, tzinfo=UTC),
        datetime(2024, 12, 31, 23, tzinfo=UTC),
    )
    assert set(live.observations["period_end"]) == {pd.Timestamp("2025-01-01T00:00Z")}


def test_max_history_hours_zero_reports_the_gap_and_delivers_the_live_hour(
    air_platform: AirPlatform,
) -> None:
    """max_history_hours = 0 is "no catch-up" (settings reference): no history request, five missed
    hours reported as a gap, and the live hour delivered (it was held back for ever)."""
    collector = _history_collector(air_platform, stations=(), max_history_hours=0)
    (live,) = list(collector.collect(_since(6), None))
    assert [m for m, *_ in air_platform.requests if m == "POST"] == []
    assert set(live.observations["period_end"]) == {pd.Timestamp("2025-01-01T00:00Z")}
    (note,) = [n for n in live.notes if n.startswith("gap")]
    assert note.startswith("gap: 5 hour(s) 2025-01-01 03:00 … 2025-01-01 07:00 (Beijing) not")
    assert "max_history_hours = 0" in note


def test_catch_up_is_bounded_and_continues_next_run(air_platform: AirPlatform) -> None:
    """max_history_hours = 2 and five missed hours (every station of the city, so hour by
    hour): the two oldest now, the live hour held back (the watermark stays before the gap),
    the rest reported; the next run, from the new watermark, continues."""
    collector = _history_collector(air_platform, stations=(), max_history_hours=2)
    first = list(collector.collect(_since(6), None))
    assert [b.covers[1] for b in first] == [
        datetime(2024, 12, 31, 19, tzinfo=UTC),
        datetime(2024, 12, 31, 20, tzinfo=UTC),
    ]
    (note,) = [n for n in first[-1].notes if n.startswith("gap")]  # kept in the fetch log
    assert "3 hour(s) 2025-01-01 05:00 … 2025-01-01 07:00 (Beijing) still to fill" in note
    second = list(collector.collect(datetime(2024, 12, 31, 20, tzinfo=UTC), None))
    ends = [b.covers[1] for b in second]
    assert ends[:2] == [
        datetime(2024, 12, 31, 21, tzinfo=UTC),
        datetime(2024, 12, 31, 22, tzinfo=UTC),
    ]
    assert air_platform.history_forms()[-2:] == ["2025-01-01 05:00:00", "2025-01-01 06:00:00"]


def test_hours_beyond_the_window_are_reported(
    air_platform: AirPlatform, caplog: pytest.LogCaptureFixture
) -> None:
    """Down for 30 h: the 6 hours older than the 24-hour window cannot be filled; they are
    named in the notes and the log, and the 23 within the window are filled."""
    with caplog.at_level("WARNING", logger="monitor.collectors.cnemc_air"):
        batches = list(_history_collector(air_platform).collect(_since(30), None))
    notes = [n for b in batches for n in b.notes if n.startswith("gap")]
    assert notes == [
        "gap: 6 hour(s) 2024-12-31 03:00 … 2024-12-31 08:00 (Beijing) are older than the "
        "platform's 24-hour window and cannot be filled from it; import them from an archive "
        "(cnemc_sites_archive)"
    ]
    assert any("older than the platform's 24-hour window" in r.message for r in caplog.records)
    stored_hours = {t for b in batches for t in b.observations["period_end"]}
    assert len(stored_hours) == 23 + 1


def test_a_failing_history_hour_is_reported_and_live_data_still_delivered(
    air_platform: AirPlatform,
) -> None:
    """A 503 for one history hour stops the catch-up there: the hour before it is kept, the
    failed hour and the later ones are reported as an open gap, and the live hour is
    delivered (a failing history endpoint never holds live data back)."""
    air_platform.failing_dates.add("2025-01-01 06:00:00")
    batches = list(_history_collector(air_platform, stations=()).collect(_since(4), None))
    assert [b.covers[1] for b in batches] == [
        datetime(2024, 12, 31, 21, tzinfo=UTC),
        datetime(2025, 1, 1, 0, tzinfo=UTC),
    ]
    gap = [n for n in batches[-1].notes if n.startswith("gap")]
    assert gap == [
        "gap: 2 hour(s) 2025-01-01 06:00 … 2025-01-01 07:00 (Beijing) not filled: the history "
        "request failed (1 filled); they stay open unless imported from an archive "
        "(cnemc_sites_archive)"
    ]


def test_history_urls_follow_the_configured_host(recorded_server: RecordedServer) -> None:
    """With a configured url, the history endpoints are asked on the same host."""
    collector = CnemcAirCollector(source=SOURCE, url=recorded_server.url + PATH)
    assert collector.hour_history_url == recorded_server.url + HIS
    assert collector.station_history_url == recorded_server.url + STATION


def test_no_watermark_means_no_history(air_platform: AirPlatform) -> None:
    """The first run (no since) asks the live feed only."""
    (batch,) = _history_collector(air_platform).collect(None, None)
    assert [m for m, *_ in air_platform.requests] == ["GET"]
    assert set(batch.observations["period_end"]) == {pd.Timestamp("2025-01-01T00:00Z")}


def test_restart_through_the_pipeline_fills_the_gap_over_two_runs(
    tmp_path: Path, air_platform: AirPlatform
) -> None:
    """A restart 6 h after the last stored hour with max_history_hours = 2: the first run
    stores the two oldest of the five missed hours and `envmon status` data show the open
    gap; each next run (from the watermark) fills two more; the third also stores the live
    hour, and the gap closes."""
    config = tmp_path / "envmon.toml"
    config.write_text(
        HUNNAN_TWO_STATIONS
        + '\n[[sources]]\nname = "cnemc"\ncollector = "cnemc_air"\nmax_history_hours = 2\n'
        f'stations = ["1099A", "2900A"]\nurl = "{air_platform.url + PATH}"\n',
        encoding="utf-8",
    )
    settings = load_settings(config, {})
    source = settings.source_settings("cnemc")
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        collector = build_collector(source, settings)
        assert isinstance(collector, CnemcAirCollector)
        collector.request_delay = 0.0
        ingest(ledger, settings, source, collector, _since(6), None)
        assert ledger.watermark("cnemc") == datetime(2024, 12, 31, 20, tzinfo=UTC)
        assert ledger.observations()["period_end"].nunique() == 2
        (status,) = source_status(ledger).to_dict("records")
        assert status["open_gaps"].startswith(
            "gap: 3 hour(s) 2025-01-01 05:00 … 2025-01-01 07:00 (Beijing) still to fill"
        )
        ingest(ledger, settings, source, collector, ledger.watermark("cnemc"), None)
        assert ledger.observations()["period_end"].nunique() == 4
        (status,) = source_status(ledger).to_dict("records")
        assert status["open_gaps"].startswith("gap: 1 hour(s) 2025-01-01 07:00 (Beijing)")
        ingest(ledger, settings, source, collector, ledger.watermark("cnemc"), None)
        stored = ledger.observations()
        assert stored["period_end"].nunique() == 6  # 03:00 … 07:00 history, 08:00 live
        assert len(stored) == 6 * 2 * 6
        assert ledger.watermark("cnemc") == datetime(2025, 1, 1, 0, tzinfo=UTC)
        (status,) = source_status(ledger).to_dict("records")
        assert status["open_gaps"] == ""


def test_vendor_family_shapes_are_read() -> None:
    """Shapes seen in station-list answers of the same vendor family (issue 14): a plain ISO
    TimePoint, CO with three decimals, '—' for a missing value and a two-pollutant primary
    text. PM10 150 → IAQI 100 and PM2.5 75 → IAQI 100 (HJ 633-2012 Table 1 breakpoints), so
    AQI 100 with both primaries is consistent."""
    record = {
        "StationCode": "1099A",
        "PositionName": "浑南东路",
        "TimePoint": "2025-01-01T08:00:00",
        "SO2": "—",
        "NO2": "40",
        "CO": "0.512",
        "O3": "30",
        "PM10": "150",
        "PM2_5": "75",
        "AQI": "100",
        "PrimaryPollutant": "颗粒物(PM10),细颗粒物(PM2.5)",
    }
    hours = parse_station_hours([record])
    assert hours["period_end"].iloc[0] == pd.Timestamp("2025-01-01T00:00Z")
    assert hours["co"].iloc[0] == pytest.approx(0.512)
    assert math.isnan(hours["so2"].iloc[0]) and hours["so2_flag"].iloc[0] == "source_missing"
    checks = check_station_hours(hours)
    assert checks["verdict"].iloc[0] == "consistent"
    assert checks["aqi_computed"].iloc[0] == 100


# ---------------------------------------------------------------------------------------
# Real records (tests/data/cnemc_air/README.md: HeQinWill/CNEMC, an hourly archive of the
# platform's station records)


def _real_hours() -> tuple[pd.DataFrame, pd.DataFrame]:
    with (DATA / "real_records_20220104T16.csv").open(encoding="utf-8", newline="") as file:
        records = list(csv.DictReader(file))
    hours = parse_station_hours(records)
    return hours, check_station_hours(hours)


def test_real_records_cell_by_cell() -> None:
    """Ten real station records of 2022-01-04 16:00 (Beijing): values, units, period and
    flags of a sample of cells; an empty cell is a missing value, not a zero."""
    hours, checks = _real_hours()
    frame = station_observations(hours, checks)
    assert len(frame) == 10 * 6
    end = pd.Timestamp("2022-01-04T08:00Z")  # 16:00 Beijing, the end of the hour
    assert set(frame["period_end"]) == {end}
    assert set(frame["period_start"]) == {end - pd.Timedelta(hours=1)}
    cells = {
        (str(site), str(parameter)): (float(value), str(unit), str(flags))
        for site, parameter, value, unit, flags in zip(
            frame["site"],
            frame["parameter"],
            frame["value"],
            frame["unit"],
            frame["flags"],
            strict=True,
        )
    }
    expected = {
        ("1001A", "pm2_5"): (54.0, "µg/m³", ""),
        ("1001A", "co"): (1.4, "mg/m³", ""),
        ("1001A", "no2"): (61.0, "µg/m³", ""),
        ("1081A", "pm10"): (150.0, "µg/m³", ""),
        ("1099A", "o3"): (57.0, "µg/m³", ""),
        ("1099A", "so2"): (17.0, "µg/m³", ""),
        ("1100A", "co"): (1.0, "mg/m³", ""),
    }
    for key, (value, unit, flags) in expected.items():
        got_value, got_unit, got_flags = cells[key]
        assert got_value == pytest.approx(value), key
        assert (got_unit, got_flags) == (unit, flags), key
    for key in (("1015A", "no2"), ("1015A", "co"), ("1061A", "pm10"), ("1061A", "pm2_5")):
        got_value, _, got_flags = cells[key]
        assert math.isnan(got_value) and got_flags == "source_missing", key


def test_real_records_agree_with_the_published_aqi() -> None:
    """The recomputed AQI (HJ 633-2012 for a 2022 hour) agrees with every published one:
    1001A PM2.5 54 → 74 细颗粒物(PM2.5); 1002A PM10 62 → 56 颗粒物(PM10); 1009A 50 with no
    primary pollutant (AQI ≤ 50); 1081A PM2.5 81 → 108. 1015A and 1061A publish no AQI
    (empty cell) and are not compared."""
    hours, checks = _real_hours()
    verdicts = dict(zip(hours["site"], checks["verdict"], strict=True))
    assert verdicts == {
        "1001A": "consistent",
        "1002A": "consistent",
        "1009A": "consistent",
        "1015A": "not_compared",
        "1061A": "not_compared",
        "1081A": "consistent",
        "1098A": "consistent",
        "1099A": "consistent",
        "1100A": "consistent",
        "1104A": "consistent",
    }
    published = dict(zip(hours["site"], hours["aqi_published"], strict=True))
    assert (published["1001A"], published["1081A"]) == (74.0, 108.0)
    assert hours.set_index("site").loc["1002A", "primary_published"] == "颗粒物(PM10)"
