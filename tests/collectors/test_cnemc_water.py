"""CNEMC surface-water collector against hand-built responses on a loopback HTTP server."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import pandas as pd
import pytest

from monitor.collectors.base import OBSERVATION_COLUMNS
from monitor.collectors.cnemc_water import (
    BEIJING,
    CnemcWaterCollector,
    infer_sample_time,
    parse_cell,
    parse_observations,
    parse_real_datas,
)
from monitor.collectors.http import HttpClient
from monitor.domain.units import WATER_PARAMETERS
from monitor.errors import SourceFormatChanged, SourceUnavailable
from tests.conftest import DATA, RecordedServer, Reply

FILES = DATA / "cnemc_water"
ENDPOINT = "/GJZ/Ajax/Publish.ashx"
PAGE = "/GJZ/Business/Publish/Main.html"
FETCHED = datetime(2027, 1, 1, 0, 40, tzinfo=BEIJING)


def _collector(server: RecordedServer, sleeps: list[float] | None = None, **kwargs: Any):
    client = HttpClient(
        "cnemc_water",
        timeout=kwargs.pop("timeout", 5.0),
        retries=kwargs.pop("retries", 2),
        sleep=(sleeps if sleeps is not None else []).append,
    )
    return CnemcWaterCollector(
        source="cnemc_water",
        url=server.url + ENDPOINT,
        client=client,
        now=lambda: FETCHED,
        **kwargs,
    )


def _collect(server: RecordedServer, **kwargs: Any):
    batches = list(_collector(server, **kwargs).collect(None, None))
    assert len(batches) == 1
    return batches[0]


def _value(frame: pd.DataFrame, site: str, parameter: str) -> pd.Series:
    rows = frame[(frame["site"] == site) & (frame["parameter"] == parameter)]
    assert len(rows) == 1, f"{site} {parameter}: {len(rows)} rows"
    return rows.iloc[0]


def _queries(server: RecordedServer) -> list[dict[str, list[str]]]:
    return [parse_qs(q, keep_blank_values=True) for p, q in server.requests if p == ENDPOINT]


@pytest.fixture
def snapshot(recorded_server: RecordedServer) -> RecordedServer:
    recorded_server.add_file(ENDPOINT, FILES / "real_datas_liaoning.json")
    return recorded_server


def test_class_attributes() -> None:
    """The collector registers as cnemc_water and delivers measurements."""
    assert (CnemcWaterCollector.name, CnemcWaterCollector.kind) == ("cnemc_water", "measured")


def test_canonical_names_and_units(snapshot: RecordedServer) -> None:
    """Every header maps to a canonical water parameter with its canonical unit."""
    batch = _collect(snapshot)
    frame = batch.observations
    assert list(frame.columns) == list(OBSERVATION_COLUMNS)
    assert set(frame["parameter"]) == {
        "water_temperature",
        "ph",
        "do",
        "conductivity",
        "turbidity",
        "codmn",
        "nh3n",
        "tp",
        "tn",
        "chlorophyll_a",
        "algal_density",
    }
    assert (frame["unit"] == frame["parameter"].map(WATER_PARAMETERS)).all()
    assert _value(frame, "七间房", "conductivity")["unit"] == "µS/cm"
    assert (batch.source, batch.kind) == ("cnemc_water", "measured")


def test_raw_value_from_title_not_rounded_text(snapshot: RecordedServer) -> None:
    """The 原始值 in the span title is used, not the rounded display text."""
    frame = _collect(snapshot).observations
    assert _value(frame, "七间房", "do")["value"] == pytest.approx(12.316)
    assert _value(frame, "七间房", "nh3n")["value"] == pytest.approx(0.482)


def test_chlorophyll_and_algal_density(snapshot: RecordedServer) -> None:
    """Chlorophyll a (mg/L) and algal density (cells/L) keep their published values."""
    frame = _collect(snapshot).observations
    assert _value(frame, "大伙房水库", "chlorophyll_a")["value"] == pytest.approx(0.0034)
    assert _value(frame, "大伙房水库", "algal_density")["value"] == pytest.approx(1.46e6)


def test_periods_are_the_sample_instant_in_utc(snapshot: RecordedServer) -> None:
    """A 01-01 00:00 Beijing sample has start = end = 2026-12-31 16:00 UTC."""
    row = _value(_collect(snapshot).observations, "七间房", "ph")
    expected = pd.Timestamp("2026-12-31 16:00", tz="UTC")
    assert row["period_start"] == expected
    assert row["period_end"] == expected
    assert str(row["period_end"].tz) == "UTC"


def test_new_year_wrap_in_snapshot(snapshot: RecordedServer) -> None:
    """A 12-31 20:00 sample fetched on 1 January 2027 belongs to 2026."""
    row = _value(_collect(snapshot).observations, "于家房", "tp")
    assert row["period_end"] == pd.Timestamp("2026-12-31 12:00", tz="UTC")


@pytest.mark.parametrize(
    ("label", "fetched", "expected"),
    [
        ("07-15 08:00", datetime(2026, 7, 15, 9, 10, tzinfo=BEIJING), "2026-07-15 08:00"),
        ("12-31 20:00", datetime(2027, 1, 1, 0, 40, tzinfo=BEIJING), "2026-12-31 20:00"),
        ("12-28 04:00", datetime(2027, 1, 3, 12, 0, tzinfo=BEIJING), "2026-12-28 04:00"),
        ("01-01 00:00", datetime(2026, 12, 31, 23, 58, tzinfo=BEIJING), "2027-01-01 00:00"),
        # 2027-01-01 00:30 Beijing is still 2026 in UTC: the year is the Beijing one
        ("01-01 00:00", datetime(2026, 12, 31, 16, 30, tzinfo=UTC), "2027-01-01 00:00"),
        ("02-29 08:00", datetime(2028, 3, 1, 10, 0, tzinfo=BEIJING), "2028-02-29 08:00"),
        ("2026-03-01 04:00", datetime(2026, 3, 1, 5, 0, tzinfo=BEIJING), "2026-03-01 04:00"),
    ],
    ids=["same-day", "new-year-wrap", "early-january", "clock-early", "utc-clock", "leap", "long"],
)
def test_infer_sample_time(label: str, fetched: datetime, expected: str) -> None:
    """The year that puts the sample closest to the fetch time is chosen."""
    got = infer_sample_time(label, fetched)
    assert got == datetime.fromisoformat(expected).replace(tzinfo=BEIJING)


@pytest.mark.parametrize("label", ["2027/01/01 0时", "13-45 08:00", "02-30 08:00", "today"])
def test_infer_sample_time_rejects_unknown_format(label: str) -> None:
    """A monitoring time that is not MM-DD HH:MM is a format change naming the value."""
    with pytest.raises(SourceFormatChanged, match="is not a 'MM-DD HH:MM'"):
        infer_sample_time(label, FETCHED)


def test_missing_marker_is_nan_without_flag(snapshot: RecordedServer) -> None:
    """A '--' cell is written as NaN with no flag."""
    frame = _collect(snapshot).observations
    row = _value(frame, "七间房", "chlorophyll_a")
    assert math.isnan(row["value"])
    assert row["flags"] == ""


def test_class_7_is_not_monitored(snapshot: RecordedServer) -> None:
    """Every reading of a class-7 (未监测) row is flagged not_monitored."""
    frame = _collect(snapshot).observations
    rows = frame[frame["site"] == "邢家窝棚"]
    assert len(rows) == 11
    assert (rows["flags"] == "not_monitored").all()
    assert rows["value"].isna().all()


@pytest.mark.parametrize(
    ("site", "flag"),
    [("大伙房水库", "maintenance"), ("浑河闸", "source_invalid"), ("七间房", "")],
    ids=["维护", "设备故障", "正常"],
)
def test_station_status_flags(snapshot: RecordedServer, site: str, flag: str) -> None:
    """The 站点情况 column sets maintenance / source_invalid on all readings of the row."""
    rows = _collect(snapshot).observations.query("site == @site")
    assert set(rows["flags"]) == {flag}


@pytest.mark.parametrize(
    ("cell", "value", "flag"),
    [
        ("<span title='原始值：23.88'>23.9</span>", 23.88, ""),
        ("<span title='原始值:0.005'>0.01</span>", 0.005, ""),
        ("7.5", 7.5, ""),
        (8, 8.0, ""),
        ("--", math.nan, ""),
        (None, math.nan, ""),
        ("<span>维护</span>", math.nan, "maintenance"),
        ("停运", math.nan, "source_invalid"),
        ("n.d.", math.nan, "unparsed"),
    ],
)
def test_parse_cell(cell: object, value: float, flag: str) -> None:
    """Cells give the raw value, NaN for missing, and a flag for status words."""
    got_value, got_flag = parse_cell(cell)
    assert got_flag == flag
    assert (math.isnan(got_value) and math.isnan(value)) or got_value == value


def test_unparsed_cell_is_source_invalid_and_noted() -> None:
    """A cell that is no number, '--' or status is NaN, source_invalid, and noted."""
    payload = json.loads((FILES / "real_datas_liaoning.json").read_text(encoding="utf-8"))
    payload["tbody"][0][9] = "仪器未上传"
    frame, notes = parse_observations([parse_real_datas(payload)], fetched_at=FETCHED)
    row = _value(frame, "七间房", "turbidity")
    assert math.isnan(row["value"]) and row["flags"] == "source_invalid"
    assert any("neither a number" in note for note in notes)


def test_unknown_status_is_noted_not_flagged() -> None:
    """An unknown station status gives no flag and is named in the notes."""
    payload = json.loads((FILES / "real_datas_liaoning.json").read_text(encoding="utf-8"))
    payload["tbody"][0][-1] = "数据审核中"
    frame, notes = parse_observations([parse_real_datas(payload)], fetched_at=FETCHED)
    assert set(frame.query("site == '七间房'")["flags"]) == {""}
    assert any("数据审核中" in note for note in notes)


def test_header_units_are_converted() -> None:
    """Chlorophyll in µg/L and algal density in 万个/L are converted to mg/L and cells/L."""
    payload = json.loads((FILES / "real_datas_liaoning.json").read_text(encoding="utf-8"))
    payload["thead"][14] = "叶绿素&alpha;<br/>(&mu;g/L)"
    payload["thead"][15] = "藻密度<br/>(万个/L)"
    frame, _ = parse_observations([parse_real_datas(payload)], fetched_at=FETCHED)
    assert _value(frame, "大伙房水库", "chlorophyll_a")["value"] == pytest.approx(3.4e-6)
    assert _value(frame, "大伙房水库", "algal_density")["value"] == pytest.approx(1.46e10)


def test_unknown_header_unit_is_format_change() -> None:
    """A header unit that cannot be converted names the header and unit."""
    payload = json.loads((FILES / "real_datas_liaoning.json").read_text(encoding="utf-8"))
    payload["thead"][7] = "溶解氧<br/>(ppt)"
    with pytest.raises(SourceFormatChanged, match=r"unit 'ppt' in header '溶解氧\(ppt\)'"):
        parse_observations([parse_real_datas(payload)], fetched_at=FETCHED)


def test_sections_filter(snapshot: RecordedServer) -> None:
    """Only the configured sections are kept; a configured section not seen is noted."""
    batch = _collect(snapshot, sections=["七间房", "不存在的断面"])
    assert set(batch.observations["site"]) == {"七间房"}
    assert any("不存在的断面" in note for note in batch.notes)


def test_request_parameters(snapshot: RecordedServer) -> None:
    """The request carries action, AreaID, RiverID, MNName, PageIndex and PageSize."""
    _collect(snapshot, area_id="210100", river_id="1100000000", page_size=500)
    (query,) = _queries(snapshot)
    assert query == {
        "action": ["getRealDatas"],
        "AreaID": ["210100"],
        "RiverID": ["1100000000"],
        "MNName": [""],
        "PageIndex": ["1"],
        "PageSize": ["500"],
    }


def test_page_headers_are_set(recorded_server: RecordedServer) -> None:
    """The client sends the page's Referer, Origin and X-Requested-With."""
    collector = _collector(recorded_server)
    headers = collector._client.session.headers
    assert headers["Referer"] == recorded_server.url + PAGE
    assert headers["Origin"] == recorded_server.url
    assert headers["X-Requested-With"] == "XMLHttpRequest"


def test_two_pages(recorded_server: RecordedServer) -> None:
    """With total = 2 the second page is fetched after a pause and both are kept."""
    recorded_server.add(
        ENDPOINT,
        Reply(body=(FILES / "real_datas_page1.json").read_bytes()),
        Reply(body=(FILES / "real_datas_page2.json").read_bytes()),
    )
    sleeps: list[float] = []
    batch = _collect(recorded_server, sleeps=sleeps, page_delay=0.5)
    assert set(batch.observations["site"]) == {"七间房", "于家房", "浑河闸"}
    assert [q["PageIndex"] for q in _queries(recorded_server)] == [["1"], ["2"]]
    assert sleeps == [0.5]


def test_max_pages_stops_and_notes(recorded_server: RecordedServer) -> None:
    """With max_pages = 1 only the first page is read and the batch says so."""
    recorded_server.add_file(ENDPOINT, FILES / "real_datas_page1.json")
    batch = _collect(recorded_server, max_pages=1)
    assert len(_queries(recorded_server)) == 1
    assert any("max_pages" in note for note in batch.notes)


def test_cold_start_warms_up(recorded_server: RecordedServer) -> None:
    """A cold '-1' answer triggers Main.html and getArea_RiverDic, then the query again."""
    recorded_server.add(
        ENDPOINT,
        Reply(body=b"-1", content_type="text/plain"),
        Reply(body=(FILES / "area_river_dic.json").read_bytes()),
        Reply(body=(FILES / "real_datas_liaoning.json").read_bytes()),
    )
    recorded_server.add_file(PAGE, FILES / "main.html", content_type="text/html")
    batch = _collect(recorded_server)
    assert not batch.observations.empty
    paths = [p for p, _ in recorded_server.requests]
    assert paths == [ENDPOINT, PAGE, ENDPOINT, ENDPOINT]
    actions = [q["action"][0] for q in _queries(recorded_server)]
    assert actions == ["getRealDatas", "getArea_RiverDic", "getRealDatas"]


def test_still_cold_after_warm_up(recorded_server: RecordedServer) -> None:
    """'-1' after the warm-up is SourceUnavailable naming the warm-up."""
    recorded_server.add(ENDPOINT, Reply(body=b"-1", content_type="text/plain"))
    recorded_server.add_file(PAGE, FILES / "main.html", content_type="text/html")
    with pytest.raises(SourceUnavailable, match="even after the warm-up"):
        _collect(recorded_server)


def test_result_false_is_unavailable(recorded_server: RecordedServer) -> None:
    """result = 0 is a failure reported by the platform: try later."""
    recorded_server.add_file(ENDPOINT, FILES / "result_false.json")
    with pytest.raises(SourceUnavailable, match="result=0"):
        _collect(recorded_server)


def test_500_then_200_is_retried(recorded_server: RecordedServer) -> None:
    """A 500 is retried after a backoff and the second answer is used."""
    recorded_server.add(
        ENDPOINT,
        Reply(body=b"oops", status=500, content_type="text/plain"),
        Reply(body=(FILES / "real_datas_liaoning.json").read_bytes()),
    )
    sleeps: list[float] = []
    batch = _collect(recorded_server, sleeps=sleeps)
    assert len(batch.observations) == 55
    assert len(sleeps) == 1
    assert len(_queries(recorded_server)) == 2


def test_persistent_503_is_unavailable(recorded_server: RecordedServer) -> None:
    """A 503 on every attempt becomes SourceUnavailable after the retries."""
    recorded_server.add(ENDPOINT, Reply(body=b"busy", status=503, content_type="text/plain"))
    with pytest.raises(SourceUnavailable, match="HTTP 503") as info:
        _collect(recorded_server, retries=2)
    assert info.value.retryable
    assert len(_queries(recorded_server)) == 3


def test_timeout_is_unavailable(recorded_server: RecordedServer) -> None:
    """An answer slower than the timeout becomes SourceUnavailable."""
    recorded_server.add(
        ENDPOINT, Reply(body=(FILES / "real_datas_liaoning.json").read_bytes(), delay=1.0)
    )
    with pytest.raises(SourceUnavailable, match="Timeout"):
        _collect(recorded_server, timeout=0.2, retries=0)


@pytest.mark.parametrize(
    ("file", "content_type", "message"),
    [
        ("error_page.html", "text/html", "HTML page"),
        ("truncated.json", "application/json", "invalid JSON"),
        ("empty.json", "application/json", "empty body"),
        ("changed_field.json", "application/json", r"lacks field\(s\) \['tbody'\]"),
        ("changed_header.json", "application/json", r"no column for \['do'\]"),
        ("changed_time_format.json", "application/json", "monitoring time '2027/01/01 0时'"),
    ],
    ids=["html", "truncated", "empty", "changed-field", "changed-header", "changed-time"],
)
def test_broken_answers_are_format_changes(
    recorded_server: RecordedServer, file: str, content_type: str, message: str
) -> None:
    """Broken answers raise SourceFormatChanged with a message naming the problem."""
    recorded_server.add_file(ENDPOINT, FILES / file, content_type=content_type)
    with pytest.raises(SourceFormatChanged, match=message) as info:
        _collect(recorded_server)
    assert not info.value.retryable


def test_connection_cut_mid_body(recorded_server: RecordedServer) -> None:
    """A body cut off by the server is a transient failure, not data."""
    recorded_server.add(
        ENDPOINT, Reply(body=(FILES / "real_datas_liaoning.json").read_bytes(), truncate=True)
    )
    with pytest.raises(SourceUnavailable, match="IncompleteRead"):
        _collect(recorded_server, retries=0)


def test_naive_clock_is_rejected(snapshot: RecordedServer) -> None:
    """A clock without a time zone cannot place the samples and is refused."""
    collector = CnemcWaterCollector(
        source="cnemc_water",
        url=snapshot.url + ENDPOINT,
        client=HttpClient("cnemc_water", sleep=lambda _: None),
        now=lambda: datetime(2027, 1, 1),
    )
    with pytest.raises(ValueError, match="naive"):
        list(collector.collect(None, None))
