"""Open-Meteo collector against a real loopback HTTP server serving documented-shape answers.

The answers in ``tests/data/open_meteo/`` are built from data-sources.md §1 (see the folder's
README): stamps 2025-01-01 01:00 … 06:00 UTC, CO 450 µg/m³ at 01:00, a null PM2.5 at 04:00
and a null CO at 06:00.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs

import pandas as pd
import pytest

from monitor.collectors.base import OBSERVATION_COLUMNS
from monitor.collectors.http import HttpClient
from monitor.collectors.open_meteo import (
    FIELD_MAP,
    ModelPoint,
    OpenMeteoCollector,
    parse_air_quality,
)
from monitor.errors import SourceError, SourceFormatChanged, SourceUnavailable
from tests.conftest import RecordedServer, Reply

DATA = Path(__file__).parent.parent / "data" / "open_meteo"
PATH = "/v1/air-quality"
SOURCE = "open_meteo_test"
POINT = ModelPoint("hunnan", 41.75, 123.45)
SINCE = datetime(2025, 1, 1, 0, tzinfo=UTC)
UNTIL = datetime(2025, 1, 1, 6, tzinfo=UTC)


def _collector(
    server: RecordedServer,
    *,
    sleeps: list[float] | None = None,
    timeout: float = 5.0,
    retries: int = 2,
    clock: Callable[[], datetime] | None = None,
) -> OpenMeteoCollector:
    recorded = sleeps if sleeps is not None else []
    client = HttpClient(SOURCE, timeout=timeout, retries=retries, sleep=recorded.append)
    if clock is None:
        return OpenMeteoCollector(
            source=SOURCE, points=[POINT], url=server.url + PATH, client=client
        )
    return OpenMeteoCollector(
        source=SOURCE, points=[POINT], url=server.url + PATH, client=client, clock=clock
    )


def _serve(server: RecordedServer, name: str = "hunnan_unixtime.json", **kwargs: object) -> None:
    server.add_file(PATH, DATA / name, **kwargs)


def _frame(server: RecordedServer) -> pd.DataFrame:
    (batch,) = _collector(server).collect(SINCE, UNTIL)
    return batch.observations


def _value(frame: pd.DataFrame, parameter: str, hour: int) -> float:
    end = pd.Timestamp(2025, 1, 1, hour, tz="UTC")
    rows = frame[(frame["parameter"] == parameter) & (frame["period_end"] == end)]
    assert len(rows) == 1, f"expected one {parameter} row at {end}, got {len(rows)}"
    return float(rows["value"].iloc[0])


def _queries(server: RecordedServer) -> list[dict[str, str]]:
    return [
        {k: v[0] for k, v in parse_qs(query).items()}
        for path, query in server.requests
        if path == PATH
    ]


# ---------------------------------------------------------------------------------------
# Translation


def test_parameters_are_canonical(recorded_server: RecordedServer) -> None:
    """The six Open-Meteo variables arrive as so2, no2, co, o3, pm10, pm2_5."""
    _serve(recorded_server)
    frame = _frame(recorded_server)
    assert list(frame.columns) == list(OBSERVATION_COLUMNS)
    assert set(frame["parameter"]) == {"so2", "no2", "co", "o3", "pm10", "pm2_5"}
    assert set(frame["site"]) == {"hunnan"}


def test_carbon_monoxide_is_converted_to_milligrams(recorded_server: RecordedServer) -> None:
    """CO 450 µg/m³ from Open-Meteo is stored as 0.45 mg/m³."""
    _serve(recorded_server)
    frame = _frame(recorded_server)
    assert _value(frame, "co", 1) == pytest.approx(0.45)
    assert set(frame.loc[frame["parameter"] == "co", "unit"]) == {"mg/m³"}


def test_other_pollutants_keep_micrograms(recorded_server: RecordedServer) -> None:
    """PM2.5, PM10, NO2, SO2 and O3 keep their µg/m³ values."""
    _serve(recorded_server)
    frame = _frame(recorded_server)
    assert _value(frame, "pm2_5", 1) == 41.3
    assert _value(frame, "no2", 2) == 35.1
    assert _value(frame, "o3", 6) == 45.3
    assert set(frame.loc[frame["parameter"] != "co", "unit"]) == {"µg/m³"}


def test_periods_are_utc_hours_ending_at_the_stamp(recorded_server: RecordedServer) -> None:
    """The value at stamp 01:00 UTC has period 00:00–01:00 UTC, tz-aware."""
    _serve(recorded_server)
    frame = _frame(recorded_server)
    assert str(frame["period_end"].dt.tz) == "UTC"
    first = frame.iloc[0]
    assert first["period_end"] == pd.Timestamp("2025-01-01T01:00Z")
    assert first["period_start"] == pd.Timestamp("2025-01-01T00:00Z")
    assert (frame["period_end"] - frame["period_start"] == pd.Timedelta(hours=1)).all()


def test_null_values_give_no_row(recorded_server: RecordedServer) -> None:
    """JSON null (PM2.5 at 04:00, CO at 06:00) skips the row; no NaN is stored."""
    _serve(recorded_server)
    frame = _frame(recorded_server)
    assert len(frame) == 6 * 6 - 2
    assert not frame["value"].isna().any()
    at_4 = frame[frame["period_end"] == pd.Timestamp("2025-01-01T04:00Z")]
    assert "pm2_5" not in set(at_4["parameter"])
    assert "co" in set(at_4["parameter"])


def test_batch_is_marked_as_model_data(recorded_server: RecordedServer) -> None:
    """The batch is kind 'model', carries the source name, the window and the grid cell."""
    _serve(recorded_server)
    (batch,) = _collector(recorded_server).collect(SINCE, UNTIL)
    assert batch.kind == "model"
    assert batch.source == SOURCE
    assert batch.covers == (SINCE, UNTIL)
    assert batch.requested.startswith(recorded_server.url + PATH + "?")
    assert "41.8, 123.4" in batch.notes[0]
    assert batch.notes[1].startswith("2 of 36")


def test_iso_answer_gives_the_same_observations() -> None:
    """An ISO 8601 answer in Asia/Shanghai wall time gives the same UTC rows as unixtime."""
    unix = parse_air_quality((DATA / "hunnan_unixtime.json").read_bytes(), site="hunnan")
    iso = parse_air_quality((DATA / "hunnan_iso8601_shanghai.json").read_bytes(), site="hunnan")
    first_three = unix[unix["period_end"] <= pd.Timestamp("2025-01-01T03:00Z")]
    pd.testing.assert_frame_equal(iso, first_three.reset_index(drop=True))


# ---------------------------------------------------------------------------------------
# Request


def test_request_parameters(recorded_server: RecordedServer) -> None:
    """One GET with the point, the six variables, GMT unixtime and the hour window."""
    _serve(recorded_server)
    _frame(recorded_server)
    (query,) = _queries(recorded_server)
    assert query["latitude"] == "41.75"
    assert query["longitude"] == "123.45"
    assert set(query["hourly"].split(",")) == set(FIELD_MAP)
    assert query["timezone"] == "GMT"
    assert query["timeformat"] == "unixtime"
    assert query["start_hour"] == "2025-01-01T01:00"
    assert query["end_hour"] == "2025-01-01T06:00"


def test_since_is_exclusive_and_partial_hours_round_down(recorded_server: RecordedServer) -> None:
    """since 00:30 and until 05:59 ask for stamps 01:00 … 05:00 and return only those."""
    _serve(recorded_server)
    collector = _collector(recorded_server)
    (batch,) = collector.collect(SINCE + timedelta(minutes=30), UNTIL - timedelta(minutes=1))
    (query,) = _queries(recorded_server)
    assert (query["start_hour"], query["end_hour"]) == ("2025-01-01T01:00", "2025-01-01T05:00")
    assert batch.observations["period_end"].max() == pd.Timestamp("2025-01-01T05:00Z")


def test_default_window_is_the_last_24_hours(recorded_server: RecordedServer) -> None:
    """Without since/until the collector asks for the 24 stamps up to the current hour."""
    _serve(recorded_server)
    collector = _collector(recorded_server, clock=lambda: datetime(2025, 1, 1, 6, 20, tzinfo=UTC))
    list(collector.collect(None, None))
    (query,) = _queries(recorded_server)
    assert (query["start_hour"], query["end_hour"]) == ("2024-12-31T07:00", "2025-01-01T06:00")


def test_long_window_is_split_into_14_day_requests(recorded_server: RecordedServer) -> None:
    """A 20-day window makes two requests that meet without gap or overlap."""
    _serve(recorded_server)
    batches = list(_collector(recorded_server).collect(SINCE, SINCE + timedelta(days=20)))
    first, second = _queries(recorded_server)
    assert len(batches) == 2
    assert (first["start_hour"], first["end_hour"]) == ("2025-01-01T01:00", "2025-01-15T00:00")
    assert (second["start_hour"], second["end_hour"]) == ("2025-01-15T01:00", "2025-01-21T00:00")
    assert batches[0].covers[1] == batches[1].covers[0]


def test_one_request_per_point(recorded_server: RecordedServer) -> None:
    """Two points make two requests, each batch with its own site id."""
    _serve(recorded_server)
    client = HttpClient(SOURCE, retries=0)
    points = [POINT, ModelPoint("shenfu", 41.78, 123.62)]
    collector = OpenMeteoCollector(
        source=SOURCE, points=points, url=recorded_server.url + PATH, client=client
    )
    batches = list(collector.collect(SINCE, UNTIL))
    assert [q["latitude"] for q in _queries(recorded_server)] == ["41.75", "41.78"]
    assert [set(b.observations["site"]) for b in batches] == [{"hunnan"}, {"shenfu"}]


def test_empty_window_makes_no_request(recorded_server: RecordedServer) -> None:
    """since == until asks for nothing and yields nothing."""
    _serve(recorded_server)
    assert list(_collector(recorded_server).collect(UNTIL, UNTIL)) == []
    assert recorded_server.requests == []


def test_naive_times_are_refused(recorded_server: RecordedServer) -> None:
    """A naive since is an error that names it."""
    with pytest.raises(ValueError, match="since=2025-01-01T00:00:00 is naive"):
        list(_collector(recorded_server).collect(datetime(2025, 1, 1), UNTIL))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"site": "x", "latitude": 95.0, "longitude": 0.0}, "latitude 95.0"),
        ({"site": "x", "latitude": 0.0, "longitude": 200.0}, "longitude 200.0"),
        ({"site": " ", "latitude": 0.0, "longitude": 0.0}, "is empty"),
    ],
    ids=["latitude", "longitude", "site"],
)
def test_model_point_is_validated(kwargs: dict[str, object], message: str) -> None:
    """A point with an empty id or a coordinate out of range is refused with its value."""
    with pytest.raises(ValueError, match=message):
        ModelPoint(**kwargs)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------
# Failures


def test_server_error_then_success_is_retried(recorded_server: RecordedServer) -> None:
    """HTTP 500 then 200: the second attempt succeeds."""
    body = (DATA / "hunnan_unixtime.json").read_bytes()
    recorded_server.add(PATH, Reply(b"oops", status=500, content_type="text/plain"), Reply(body))
    frame = _frame(recorded_server)
    assert len(recorded_server.requests) == 2
    assert len(frame) == 34


def test_rate_limit_honours_retry_after(recorded_server: RecordedServer) -> None:
    """HTTP 429 with Retry-After: 7 waits 7 s (injected sleep), then succeeds."""
    body = (DATA / "hunnan_unixtime.json").read_bytes()
    limited = Reply(b'{"error":true,"reason":"Too many requests"}', status=429)
    limited.headers["Retry-After"] = "7"
    recorded_server.add(PATH, limited, Reply(body))
    sleeps: list[float] = []
    (batch,) = _collector(recorded_server, sleeps=sleeps).collect(SINCE, UNTIL)
    assert sleeps == [7.0]
    assert len(batch.observations) == 34


def test_persistent_unavailability_raises(recorded_server: RecordedServer) -> None:
    """HTTP 503 on every attempt: SourceUnavailable after 1 + 2 retries."""
    recorded_server.add(PATH, Reply(b"busy", status=503, content_type="text/plain"))
    with pytest.raises(SourceUnavailable, match="HTTP 503") as caught:
        _frame(recorded_server)
    assert caught.value.retryable
    assert caught.value.source == SOURCE
    assert len(recorded_server.requests) == 3


def test_timeout_raises_source_unavailable(recorded_server: RecordedServer) -> None:
    """An answer slower than the client timeout is SourceUnavailable."""
    body = (DATA / "hunnan_unixtime.json").read_bytes()
    recorded_server.add(PATH, Reply(body, delay=0.6))
    collector = _collector(recorded_server, timeout=0.2, retries=1)
    with pytest.raises(SourceUnavailable, match="Timeout"):
        list(collector.collect(SINCE, UNTIL))


@pytest.mark.parametrize(
    ("name", "content_type", "message"),
    [
        ("error_page.html", "text/html", "HTML page .* where JSON was expected"),
        ("truncated.json", "application/json", "invalid JSON"),
        ("empty.json", "application/json", "empty body"),
    ],
    ids=["html", "truncated", "empty"],
)
def test_unknown_answers_raise_format_changed(
    recorded_server: RecordedServer, name: str, content_type: str, message: str
) -> None:
    """HTML page, truncated JSON, empty body: SourceFormatChanged, no retry."""
    _serve(recorded_server, name, content_type=content_type)
    with pytest.raises(SourceFormatChanged, match=message) as caught:
        _frame(recorded_server)
    assert not caught.value.retryable
    assert recorded_server.url in str(caught.value)
    assert len(recorded_server.requests) == 1


def test_connection_cut_mid_body_is_a_source_error(recorded_server: RecordedServer) -> None:
    """A body cut off by a closed connection is a SourceError naming the URL."""
    _serve(recorded_server, truncate=True)
    with pytest.raises(SourceError, match=r"127\.0\.0\.1"):
        _frame(recorded_server)


def test_documented_error_answer_gives_its_reason(recorded_server: RecordedServer) -> None:
    """HTTP 400 {"error": true, "reason": …} is SourceFormatChanged quoting the reason."""
    _serve(recorded_server, "error_400.json", status=400)
    with pytest.raises(SourceFormatChanged, match=r"HTTP 400.*invalid String value pm25"):
        _frame(recorded_server)


def test_error_object_with_status_200_is_refused() -> None:
    """An error object delivered with HTTP 200 is still a format change with its reason."""
    with pytest.raises(SourceFormatChanged, match="error answer: 'Cannot initialize"):
        parse_air_quality((DATA / "error_400.json").read_bytes(), site="hunnan")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ozone": [1.0, "n/a", 3.0, 4.0, 5.0, 6.0]}, r"'ozone'\[1\] is 'n/a'; expected a number"),
        ({"ozone": [1.0, 2.0]}, "'ozone' has 2 values; expected a list of 6"),
        ({"time": ["2025-01-01 01:00"] * 6}, "ISO 8601 times without an integer"),
    ],
    ids=["text-value", "short-array", "iso-without-offset"],
)
def test_malformed_arrays_are_named(change: dict[str, object], message: str) -> None:
    """A non-numeric value, a short array or an unusable time axis is named in the error."""
    import json

    payload = json.loads((DATA / "hunnan_unixtime.json").read_bytes())
    payload["hourly"].update(change)
    if "time" in change:
        del payload["utc_offset_seconds"]
    with pytest.raises(SourceFormatChanged, match=message):
        parse_air_quality(payload, site="hunnan")


def test_unknown_unit_is_refused() -> None:
    """A unit other than µg/m³ that cannot be converted is a format change naming it."""
    import json

    payload = json.loads((DATA / "hunnan_unixtime.json").read_bytes())
    payload["hourly_units"]["pm10"] = "grains/m³"
    with pytest.raises(SourceFormatChanged, match="unit 'grains/m³' of 'pm10'"):
        parse_air_quality(payload, site="hunnan")


def test_ppb_units_would_be_converted() -> None:
    """Units are read from hourly_units: NO2 given as ppb is converted to µg/m³."""
    import json

    payload = json.loads((DATA / "hunnan_unixtime.json").read_bytes())
    payload["hourly_units"]["nitrogen_dioxide"] = "ppb"
    frame = parse_air_quality(payload, site="hunnan")
    no2 = frame[frame["parameter"] == "no2"]["value"].iloc[0]
    assert math.isclose(no2, 32.5 * 46.0055 / 24.465, rel_tol=1e-9)


def test_absent_variable_stores_the_others_and_notes_it(recorded_server: RecordedServer) -> None:
    """pm2_5 absent (the answer has pm25 instead): the five other variables are stored
    (values as in the answer), pm2_5 is not, and the batch notes say which is missing."""
    _serve(recorded_server, "renamed_variable.json")
    (batch,) = _collector(recorded_server).collect(SINCE, UNTIL)
    frame = batch.observations
    assert set(frame["parameter"]) == {"pm10", "co", "no2", "so2", "o3"}
    assert _value(frame, "pm10", 1) == pytest.approx(58.2)
    assert _value(frame, "co", 1) == pytest.approx(0.45)  # 450 µg/m³ → mg/m³
    assert _value(frame, "o3", 6) == pytest.approx(45.3)
    (note,) = [n for n in batch.notes if n.startswith("hourly has no")]
    assert note == (
        "hourly has no ['pm2_5']: stored the 5 other variable(s); unrequested variable(s) "
        "in the answer: ['pm25']"
    )


def test_no_known_variable_at_all_is_a_format_change() -> None:
    """An answer with a time axis but none of the six variables is refused, naming them."""
    payload = json.loads((DATA / "renamed_variable.json").read_bytes())
    payload["hourly"] = {"time": payload["hourly"]["time"]}
    with pytest.raises(SourceFormatChanged, match=r"hourly has no \['sulphur_dioxide', "):
        parse_air_quality(payload, site="x")


# ---------------------------------------------------------------------------------------
# Real capture (tests/data/open_meteo/README.md: mihaichris/air-quality, tests/TestCase.php)


def test_real_capture_cell_by_cell() -> None:
    """A real Open-Meteo answer (Bucharest, ISO 8601 local time, utc_offset_seconds 10800,
    three of the six variables): every cell of two rows read back with its unit and period.

    Stamps are Europe/Bucharest wall time (EEST, +03:00): 2023-04-25T00:00 is 2023-04-24
    21:00 UTC, the period (20:00, 21:00] UTC. CO 171.0 μg/m³ is stored as 0.171 mg/m³.
    """
    notes: list[str] = []
    frame = parse_air_quality(
        (DATA / "real_bucharest_20230425.json").read_bytes(), site="bucharest", notes=notes
    )
    assert len(frame) == 5 * 3  # five hours × pm10, pm2_5, carbon_monoxide; no null
    assert set(frame["site"]) == {"bucharest"}
    cells = {
        (row.parameter, str(row.period_end)): (row.value, row.unit, row.period_start)
        for row in frame.itertuples()
    }
    first_end, last_end = "2023-04-24 21:00:00+00:00", "2023-04-25 01:00:00+00:00"
    expected = {
        ("pm10", first_end): (18.7, "µg/m³"),
        ("pm2_5", first_end): (15.9, "µg/m³"),
        ("co", first_end): (0.171, "mg/m³"),
        ("pm10", last_end): (17.1, "µg/m³"),
        ("pm2_5", last_end): (13.4, "µg/m³"),
        ("co", last_end): (0.168, "mg/m³"),
    }
    for key, (value, unit) in expected.items():
        got_value, got_unit, start = cells[key]
        assert got_value == pytest.approx(value), key
        assert got_unit == unit, key
        assert start == pd.Timestamp(key[1]) - pd.Timedelta(hours=1), key
    assert (frame["flags"] == "").all()
    # the three absent arrays are noted, the three present ones stored
    assert notes == [
        "hourly has no ['sulphur_dioxide', 'nitrogen_dioxide', 'ozone']: stored the 3 other "
        "variable(s)"
    ]


@pytest.mark.parametrize(
    ("stamp", "message"),
    [
        ("9999-01-01T09:00", "time '9999-01-01T09:00' has the year 9999"),
        ("1600-01-01T09:00", "time '1600-01-01T09:00' has the year 1600"),
        ("2025-13-01T09:00", "'2025-13-01T09:00' is not a date and time"),
        (253402300800, "253402300800 (unixtime) is outside the years 1900–2200"),
    ],
    ids=["year-9999", "year-1600", "month-13", "unixtime-9999"],
)
def test_a_stamp_that_cannot_be_held_costs_only_its_hour(stamp: object, message: str) -> None:
    """One stamp of the time axis in year 9999, 1600 or month 13 (never an
    OutOfBoundsDatetime for the whole answer): that hour's values are left out and noted,
    the other hours are stored as before."""
    name = "hunnan_unixtime.json" if isinstance(stamp, int) else "hunnan_iso8601_shanghai.json"
    good = parse_air_quality((DATA / name).read_bytes(), site="hunnan")
    payload = json.loads((DATA / name).read_bytes())
    payload["hourly"]["time"][1] = stamp
    notes: list[str] = []
    frame = parse_air_quality(payload, site="hunnan", notes=notes)
    second_end = good["period_end"].drop_duplicates().iloc[1]
    expected = good[good["period_end"] != second_end].reset_index(drop=True)
    pd.testing.assert_frame_equal(frame, expected)
    assert len(notes) == 1 and "hourly time[1]" in notes[0] and message in notes[0]
    assert notes[0].endswith("that hour's values are not stored")


def test_a_time_axis_that_cannot_be_read_at_all_is_a_format_change() -> None:
    """Every stamp in a new format is a format change, not a day of refused hours."""
    payload = json.loads((DATA / "hunnan_iso8601_shanghai.json").read_bytes())
    payload["hourly"]["time"] = [t.replace("T", " ") + ":00" for t in payload["hourly"]["time"]]
    with pytest.raises(SourceFormatChanged, match="cannot be read; expected 'yyyy-mm-ddThh:mm'"):
        parse_air_quality(payload, site="hunnan", notes=[])
