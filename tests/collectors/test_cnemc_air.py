"""CNEMC air collector against a real loopback HTTP server serving documented-shape answers.

The answers in ``tests/data/cnemc_air/`` are built from data-sources.md §4a (see the folder's
README). Published AQIs were worked by hand from HJ 633 formula (1), rounded up; e.g. 1099A
at 2025-01-01 08:00: PM2.5 63 → 50 + (63 − 35)·50/40 = 85 (2012); the same 63 µg/m³ on
2026-03-01 → 100 + (63 − 60)·50/55 = 102.7 → 103 (2026, PM2.5 IAQI-100 at 60 µg/m³).
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs

import pandas as pd
import pytest

from monitor.collectors.base import OBSERVATION_COLUMNS, Batch
from monitor.collectors.cnemc_air import (
    CnemcAirCollector,
    check_station_hours,
    parse_observations,
    parse_station_hours,
)
from monitor.collectors.http import HttpClient
from monitor.errors import SourceError, SourceFormatChanged, SourceUnavailable
from tests.conftest import RecordedServer, Reply

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
        ("/Date(1735691400000)/", "is not on the hour"),
    ],
    ids=["unreadable", "not-on-the-hour"],
)
def test_bad_time_label_is_refused(time_point: str, message: str) -> None:
    """An unreadable label or one not on the hour is a format change naming the value."""
    records = json.loads((DATA / "live_shenyang.json").read_bytes())
    record = dict(records[1], TimePoint=time_point, TimePointStr="")
    with pytest.raises(SourceFormatChanged, match=message):
        parse_station_hours([record])


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
