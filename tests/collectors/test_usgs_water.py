"""USGS Water Data OGC API collector against hand-built responses on a loopback server."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import pandas as pd
import pytest

from monitor.collectors.base import OBSERVATION_COLUMNS
from monitor.collectors.http import HttpClient
from monitor.collectors.intake import admit
from monitor.collectors.usgs_water import (
    UsgsWaterCollector,
    next_link,
    parse_items,
    qualifier_flags,
)
from monitor.domain.units import WATER_PARAMETERS
from monitor.errors import SourceFormatChanged, SourceUnavailable
from tests.conftest import DATA, RecordedServer, Reply

FILES = DATA / "usgs_water"
ITEMS = "/ogcapi/v0/collections/continuous/items"
REAL_HOST = "https://api.waterdata.usgs.gov"
SITE = "USGS-01646500"
SINCE = datetime(2026, 8, 7, 17, 0, tzinfo=UTC)
UNTIL = datetime(2026, 8, 7, 19, 0, tzinfo=UTC)


def _body(server: RecordedServer, name: str) -> bytes:
    """A data file with its links pointing at the loopback server."""
    return (FILES / name).read_bytes().replace(REAL_HOST.encode(), server.url.encode())


def _collector(server: RecordedServer, sleeps: list[float] | None = None, **kwargs: Any):
    client = HttpClient(
        "usgs_water",
        timeout=kwargs.pop("timeout", 5.0),
        retries=kwargs.pop("retries", 2),
        sleep=(sleeps if sleeps is not None else []).append,
    )
    kwargs.setdefault("monitoring_location_ids", [SITE])
    return UsgsWaterCollector(
        source="usgs_water",
        url=server.url + "/ogcapi/v0",
        client=client,
        now=lambda: UNTIL,
        **kwargs,
    )


def _collect(server: RecordedServer, since=SINCE, until=UNTIL, **kwargs: Any):
    return list(_collector(server, **kwargs).collect(since, until))


def _queries(server: RecordedServer) -> list[dict[str, list[str]]]:
    return [parse_qs(q, keep_blank_values=True) for p, q in server.requests if p == ITEMS]


def _row(frame: pd.DataFrame, parameter: str, time: str) -> pd.Series:
    rows = frame[
        (frame["parameter"] == parameter) & (frame["period_end"] == pd.Timestamp(time, tz="UTC"))
    ]
    assert len(rows) == 1, f"{parameter} {time}: {len(rows)} rows"
    return rows.iloc[0]


@pytest.fixture
def two_pages(recorded_server: RecordedServer) -> RecordedServer:
    recorded_server.add(
        ITEMS,
        Reply(body=_body(recorded_server, "continuous_page1.json")),
        Reply(body=_body(recorded_server, "continuous_page2.json")),
    )
    return recorded_server


def test_class_attributes() -> None:
    """The collector registers as usgs_water and delivers measurements."""
    assert (UsgsWaterCollector.name, UsgsWaterCollector.kind) == ("usgs_water", "measured")


def test_canonical_names_and_units(two_pages: RecordedServer) -> None:
    """USGS parameter codes become canonical names with canonical units."""
    (batch,) = _collect(two_pages)
    frame = batch.observations
    assert list(frame.columns) == list(OBSERVATION_COLUMNS)
    assert set(frame["parameter"]) == {
        "water_temperature",
        "conductivity",
        "do",
        "ph",
        "turbidity",
    }
    assert (frame["unit"] == frame["parameter"].map(WATER_PARAMETERS)).all()
    assert set(frame["site"]) == {SITE}
    assert _row(frame, "conductivity", "2026-08-07 18:00")["value"] == 412.0
    assert _row(frame, "turbidity", "2026-08-07 18:00")["unit"] == "NTU"
    assert (batch.source, batch.kind) == ("usgs_water", "measured")


def test_instants_are_utc_periods(two_pages: RecordedServer) -> None:
    """Each value's period starts and ends at its UTC observation instant."""
    frame = _collect(two_pages)[0].observations
    row = _row(frame, "water_temperature", "2026-08-07 18:15")
    assert row["period_start"] == row["period_end"] == pd.Timestamp("2026-08-07 18:15", tz="UTC")
    assert str(frame["period_end"].dt.tz) == "UTC"


def test_pagination_follows_next_link(two_pages: RecordedServer) -> None:
    """The next link of page 1 is followed; page 2 has none, so the window is complete."""
    (batch,) = _collect(two_pages)
    assert len(batch.observations) == 12  # 14 items − 2 discharge
    first, second = _queries(two_pages)
    assert "offset" not in first
    assert second["offset"] == ["8"]
    assert batch.covers == (SINCE, UNTIL)


def test_request_parameters(two_pages: RecordedServer) -> None:
    """The first request names locations, codes, statistic, RFC 3339 window and limit."""
    _collect(two_pages, monitoring_location_ids=[SITE, "USGS-01594440"], limit=8)
    query = _queries(two_pages)[0]
    assert query == {
        "monitoring_location_id": [f"{SITE},USGS-01594440"],
        "parameter_code": ["00010,00095,00300,00400,63680"],
        "statistic_id": ["00011"],
        "time": ["2026-08-07T17:00:00Z/2026-08-07T19:00:00Z"],
        "limit": ["8"],
        "skipGeometry": ["true"],
    }


def test_api_key_header(recorded_server: RecordedServer) -> None:
    """An API key is sent as X-Api-Key."""
    collector = _collector(recorded_server, api_key="k-123")
    assert collector._client.session.headers["X-Api-Key"] == "k-123"


def test_unmapped_codes_ignored_and_counted(two_pages: RecordedServer) -> None:
    """Discharge (00060) has no canonical name: ignored and counted in the notes."""
    (batch,) = _collect(two_pages)
    assert any("00060': 2" in note for note in batch.notes)


@pytest.mark.parametrize(
    ("parameter", "time", "flag"),
    [
        ("conductivity", "2026-08-07 18:15", "source_invalid"),  # EQUIP
        ("do", "2026-08-07 18:15", "source_invalid"),  # ICE
        ("turbidity", "2026-08-07 18:15", "estimated"),  # ESTIMATED + REGULATED
        ("water_temperature", "2026-08-07 18:00", ""),  # Approved, no qualifier
        ("ph", "2026-08-07 18:15", ""),  # Provisional is not a flag
    ],
    ids=["equipment", "ice", "estimated", "approved", "provisional"],
)
def test_qualifier_flags_in_batch(
    two_pages: RecordedServer, parameter: str, time: str, flag: str
) -> None:
    """Qualifiers become QC flags; approval status does not."""
    assert _row(_collect(two_pages)[0].observations, parameter, time)["flags"] == flag


def test_unknown_qualifier_noted(two_pages: RecordedServer) -> None:
    """A qualifier without a flag (REGULATED) is counted in the notes."""
    (batch,) = _collect(two_pages)
    assert any("REGULATED" in note for note in batch.notes)


@pytest.mark.parametrize(
    ("qualifier", "flags"),
    [
        (None, []),
        ([], []),
        ("ICE", ["source_invalid"]),
        (["Eqp"], ["source_invalid"]),
        (["MAINTENANCE"], ["maintenance"]),
        (["ICE", "EQUIP"], ["source_invalid"]),
        (["SERVICE"], []),
    ],
)
def test_qualifier_flags(qualifier: object, flags: list[str]) -> None:
    """Ice and equipment → source_invalid, maintenance → maintenance, others none."""
    assert qualifier_flags(qualifier)[0] == flags


def test_null_value_is_nan(two_pages: RecordedServer) -> None:
    """A null value is kept as NaN (the source delivered the item, no number)."""
    row = _row(_collect(two_pages)[0].observations, "do", "2026-08-07 18:30")
    assert math.isnan(row["value"])


def test_unit_conversion_from_ms_per_cm() -> None:
    """A conductance in mS/cm @25C is converted to µS/cm."""
    payload = json.loads((FILES / "continuous_page1.json").read_text())
    payload["features"][1]["properties"]["unit_of_measure"] = "mS/cm @25C"
    payload["features"][1]["properties"]["value"] = "0.412"
    frame = parse_items(payload).observations
    assert _row(frame, "conductivity", "2026-08-07 18:00")["value"] == pytest.approx(412.0)


def test_unknown_unit_is_format_change() -> None:
    """A unit that cannot be converted names the unit and parameter."""
    payload = json.loads((FILES / "continuous_page1.json").read_text())
    payload["features"][2]["properties"]["unit_of_measure"] = "% saturatn"
    with pytest.raises(SourceFormatChanged, match="unit_of_measure '% saturatn' of do"):
        parse_items(payload)


def test_naive_time_is_format_change() -> None:
    """A time without offset is not an RFC 3339 instant."""
    payload = json.loads((FILES / "continuous_page1.json").read_text())
    payload["features"][0]["properties"]["time"] = "2026-08-07T18:00:00"
    with pytest.raises(SourceFormatChanged, match="has no UTC offset"):
        parse_items(payload)


@pytest.mark.parametrize(
    ("time", "message"),
    [
        ("9999-08-07T18:00:00+00:00", "has the year 9999; expected a time from 1900"),
        ("1600-08-07T18:00:00+00:00", "has the year 1600; expected a time from 1900"),
        ("2026-13-07T18:00:00+00:00", "is not an RFC 3339 instant"),
    ],
    ids=["year-9999", "year-1600", "month-13"],
)
def test_a_time_that_cannot_be_held_costs_only_its_item(time: str, message: str) -> None:
    """Feature 1 (temperature 18:00) in year 9999, 1600 or month 13: left out and named,
    never an OutOfBoundsDatetime or a refused page; the other items are kept."""
    payload = json.loads((FILES / "continuous_page1.json").read_text())
    good = parse_items(payload).observations
    payload["features"][0]["properties"]["time"] = time
    page = parse_items(payload, where="page 1")
    expected = good.iloc[1:].reset_index(drop=True)
    pd.testing.assert_frame_equal(page.observations, expected)
    (refused,) = page.refused
    assert refused.startswith(f"feature 1 in page 1: time '{time}'") or refused.startswith(
        f"time '{time}' of feature 1 in page 1"
    )
    assert message in refused and refused.endswith("(not stored)")


def test_a_page_without_a_readable_time_is_a_format_change() -> None:
    """Every time in a new format is a format change, not a page of refused items."""
    payload = json.loads((FILES / "continuous_page1.json").read_text())
    for feature in payload["features"]:
        feature["properties"]["time"] = "2026/08/07 18時"
    with pytest.raises(SourceFormatChanged, match="is not an RFC 3339 instant"):
        parse_items(payload)


def test_two_time_series_disagreeing_are_left_to_the_one_duplicate_rule() -> None:
    """A second temperature series at the same location and time: the collector keeps both
    rows and the shared intake check refuses both (values 24.6, 25.1), naming the
    conflict; an identical second series is stored once (docs/concepts.md, "The intake check:
    what enters the ledger")."""
    payload = json.loads((FILES / "continuous_page1.json").read_text())
    twin = json.loads(json.dumps(payload["features"][0]))
    twin["properties"]["time_series_id"] = "ffffffffffffffffffffffffffffffff"
    payload["features"].append(twin)
    same = parse_items(payload).observations
    kept, refused = admit(same, now=UNTIL)
    assert (len(kept), refused) == (len(same) - 1, [])
    twin["properties"]["value"] = "25.1"
    differ = parse_items(payload).observations
    kept, refused = admit(differ, now=UNTIL)
    assert len(kept) == len(differ) - 2
    assert len(refused) == 2
    assert all("values 24.6, 25.1" in r and "none of them is stored" in r for r in refused)
    assert all(
        r.startswith("USGS-01646500 water_temperature 2026-08-08 02:00+08:00") for r in refused
    )


def test_values_outside_window_dropped(recorded_server: RecordedServer) -> None:
    """Values at or before since are dropped (they belong to the previous window)."""
    recorded_server.add(ITEMS, Reply(body=_body(recorded_server, "continuous_page2.json")))
    since = datetime(2026, 8, 7, 18, 15, tzinfo=UTC)
    (batch,) = _collect(recorded_server, since=since)
    assert set(batch.observations["period_end"]) == {pd.Timestamp("2026-08-07 18:30", tz="UTC")}


def test_long_span_is_split(recorded_server: RecordedServer) -> None:
    """A span longer than max_window gives one request and batch per window."""
    recorded_server.add(ITEMS, Reply(body=_body(recorded_server, "continuous_page2.json")))
    batches = _collect(
        recorded_server, since=UNTIL - timedelta(days=3), max_window=timedelta(days=2)
    )
    assert [b.covers for b in batches] == [
        (UNTIL - timedelta(days=3), UNTIL - timedelta(days=1)),
        (UNTIL - timedelta(days=1), UNTIL),
    ]
    assert [q["time"] for q in _queries(recorded_server)] == [
        ["2026-08-04T19:00:00Z/2026-08-06T19:00:00Z"],
        ["2026-08-06T19:00:00Z/2026-08-07T19:00:00Z"],
    ]


def test_since_none_uses_lookback(recorded_server: RecordedServer) -> None:
    """Without since the window is now − lookback … now."""
    recorded_server.add(ITEMS, Reply(body=_body(recorded_server, "continuous_page2.json")))
    _collect(recorded_server, since=None, until=None, lookback=timedelta(hours=6))
    assert _queries(recorded_server)[0]["time"] == ["2026-08-07T13:00:00Z/2026-08-07T19:00:00Z"]


def test_page_limit_stops_and_claims_no_coverage(recorded_server: RecordedServer) -> None:
    """Stopping at max_pages leaves a note and no covered period."""
    recorded_server.add(ITEMS, Reply(body=_body(recorded_server, "continuous_page1.json")))
    (batch,) = _collect(recorded_server, max_pages=1)
    assert len(_queries(recorded_server)) == 1
    assert batch.covers == (None, None)
    assert any("max_pages" in note for note in batch.notes)


def test_foreign_next_link_refused(recorded_server: RecordedServer) -> None:
    """A next link to another host is refused (the API key must not leave the API)."""
    recorded_server.add_file(ITEMS, FILES / "continuous_page1.json")  # links not rewritten
    with pytest.raises(SourceFormatChanged, match="leaves"):
        _collect(recorded_server)


def test_next_link() -> None:
    """next_link picks rel=next and ignores self/prev."""
    page = {"links": [{"rel": "self", "href": "a"}, {"rel": "next", "href": "b"}]}
    assert next_link(page) == "b"
    assert next_link({"links": [{"rel": "prev", "href": "a"}]}) is None


def test_500_then_200_is_retried(two_pages: RecordedServer) -> None:
    """A 500 is retried after a backoff and the next answer is used."""
    two_pages.add(
        ITEMS,
        Reply(body=b"oops", status=500, content_type="text/plain"),
        Reply(body=_body(two_pages, "continuous_page2.json")),
    )
    sleeps: list[float] = []
    (batch,) = _collect(two_pages, sleeps=sleeps)
    assert len(sleeps) == 1
    assert len(batch.observations) == 5


def test_persistent_503_is_unavailable(recorded_server: RecordedServer) -> None:
    """A 503 on every attempt becomes SourceUnavailable after the retries."""
    recorded_server.add(ITEMS, Reply(body=b"busy", status=503, content_type="text/plain"))
    with pytest.raises(SourceUnavailable, match="HTTP 503"):
        _collect(recorded_server, retries=2)
    assert len(_queries(recorded_server)) == 3


def test_429_honours_retry_after(recorded_server: RecordedServer) -> None:
    """A rate-limit answer waits what Retry-After asks, then succeeds."""
    recorded_server.add(
        ITEMS,
        Reply(body=b"{}", status=429, headers={"Retry-After": "7"}),
        Reply(body=_body(recorded_server, "continuous_page2.json")),
    )
    sleeps: list[float] = []
    _collect(recorded_server, sleeps=sleeps)
    assert sleeps == [7.0]


def test_timeout_is_unavailable(recorded_server: RecordedServer) -> None:
    """An answer slower than the timeout becomes SourceUnavailable."""
    recorded_server.add(
        ITEMS, Reply(body=_body(recorded_server, "continuous_page2.json"), delay=1.0)
    )
    with pytest.raises(SourceUnavailable, match="Timeout"):
        _collect(recorded_server, timeout=0.2, retries=0)


@pytest.mark.parametrize(
    ("file", "content_type", "message"),
    [
        ("error_page.html", "text/html", "HTML page"),
        ("truncated.json", "application/geo+json", "invalid JSON"),
        ("empty.json", "application/geo+json", "empty body"),
        ("changed_field.json", "application/geo+json", r"lacks \['value'\]"),
    ],
    ids=["html", "truncated", "empty", "changed-field"],
)
def test_broken_answers_are_format_changes(
    recorded_server: RecordedServer, file: str, content_type: str, message: str
) -> None:
    """Broken answers raise SourceFormatChanged with a message naming the problem."""
    recorded_server.add_file(ITEMS, FILES / file, content_type=content_type)
    with pytest.raises(SourceFormatChanged, match=message) as info:
        _collect(recorded_server)
    assert not info.value.retryable


def test_not_a_feature_collection() -> None:
    """A JSON answer without a features list names the fields it got."""
    with pytest.raises(SourceFormatChanged, match=r"not a FeatureCollection.*\['items'\]"):
        parse_items({"items": []})


def test_bad_arguments_rejected() -> None:
    """An empty location list and an out-of-range limit are reported together."""
    with pytest.raises(ValueError, match=r"monitoring_location_ids is empty.*limit=0"):
        UsgsWaterCollector(source="usgs_water", monitoring_location_ids=[], limit=0)


# ------------------------------------------------------------------ the real capture
# tests/data/usgs_water/continuous_real_dataretrieval.json is the `continuous` entry of
# DOI-USGS/dataretrieval-python tests/data/waterdata_ogc_fixtures.json (provenance in the
# README there): two real items of gage height (00065, ft) at USGS-06904500.

REAL_SITE = "USGS-06904500"


def test_real_capture_gage_height_is_ignored_and_counted(recorded_server: RecordedServer) -> None:
    """The real items are gage height, which has no canonical parameter: nothing is stored,
    both items are counted as ignored, and the batch covers the window asked for."""
    recorded_server.add(
        ITEMS, Reply(body=_body(recorded_server, "continuous_real_dataretrieval.json"))
    )
    since = datetime(2024, 12, 31, 23, 0, tzinfo=UTC)
    until = datetime(2025, 1, 1, 1, 0, tzinfo=UTC)
    (batch,) = _collect(
        recorded_server, since=since, until=until, monitoring_location_ids=[REAL_SITE]
    )
    assert batch.observations.empty
    assert "ignored 2 value(s) of parameter codes without a canonical name: {'00065': 2}" in (
        batch.notes
    )


def test_real_capture_item_shape_is_what_the_parser_reads() -> None:
    """Every property the parser requires is present in the real items, value as a string."""
    payload = json.loads((FILES / "continuous_real_dataretrieval.json").read_text("utf-8"))
    page = parse_items(payload)
    assert page.ignored == {"00065": 2}
    props = payload["features"][0]["properties"]
    assert (props["time"], props["value"], props["unit_of_measure"]) == (
        "2025-01-01T00:00:00+00:00",
        "1.76",
        "ft",
    )


@pytest.mark.parametrize(
    ("parameter", "first", "unit"),
    [
        ("water_temperature", 21.4, "°C"),  # 00010, "deg C"
        ("conductivity", 412.0, "µS/cm"),  # 00095, "uS/cm @25C"
        ("do", 8.3, "mg/L"),  # 00300, "mg/l"
        ("ph", 7.9, "1"),  # 00400, "std units"
        ("turbidity", 3.6, "NTU"),  # 63680, "FNU"
    ],
)
def test_invented_water_quality_items_in_the_real_shape(
    parameter: str, first: float, unit: str
) -> None:
    """The water-quality codes (invented values in the real item shape, see README): value,
    canonical unit and the observation instant as period start and end, cell by cell."""
    payload = json.loads((FILES / "continuous_water_quality_invented.json").read_text("utf-8"))
    frame = parse_items(payload).observations
    rows = frame[frame["parameter"] == parameter].sort_values("period_end")
    assert list(rows["site"]) == [REAL_SITE, REAL_SITE]
    assert list(rows["value"]) == pytest.approx([first, round(first + 0.1, 1)])
    assert set(rows["unit"]) == {unit}
    assert list(rows["period_end"]) == [
        pd.Timestamp("2025-01-01T00:00Z"),
        pd.Timestamp("2025-01-01T00:15Z"),
    ]
    assert (rows["period_start"] == rows["period_end"]).all()
    assert set(rows["flags"]) == {""}
