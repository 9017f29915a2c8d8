"""CNEMC surface-water collector against hand-built responses on a loopback HTTP server."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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
from monitor.collectors.intake import admit
from monitor.domain.units import WATER_PARAMETERS
from monitor.errors import SourceFormatChanged, SourceUnavailable
from monitor.ledger import Ledger
from monitor.service.pipeline import ingest
from monitor.service.sources import build_collector
from monitor.settings import Settings, load_settings
from tests.conftest import HUNNAN_TWO_STATIONS, Reply
from tests.water_platform import ENDPOINT, FILES, PAGE, Platform

FETCHED = datetime(2027, 1, 1, 0, 40, tzinfo=BEIJING)
#: The real capture (tests/data/cnemc_water/README.md) was committed 2026-08-21 20:55 +08:00.
REAL = "real_datas_20260821_trimmed.json"
REAL_FETCHED = datetime(2026, 8, 21, 20, 55, tzinfo=BEIJING)


def _collector(server: Platform, sleeps: list[float] | None = None, **kwargs: Any):
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
        now=kwargs.pop("now", lambda: FETCHED),
        **kwargs,
    )


def _collect(server: Platform, **kwargs: Any):
    batches = list(_collector(server, **kwargs).collect(None, None))
    assert len(batches) == 1
    return batches[0]


def _value(frame: pd.DataFrame, site: str, parameter: str) -> pd.Series:
    rows = frame[(frame["site"] == site) & (frame["parameter"] == parameter)]
    assert len(rows) == 1, f"{site} {parameter}: {len(rows)} rows"
    return rows.iloc[0]


@pytest.fixture
def snapshot(platform: Platform) -> Platform:
    platform.script_files("real_datas_liaoning.json")
    return platform


def test_class_attributes() -> None:
    """The collector registers as cnemc_water and delivers measurements."""
    assert (CnemcWaterCollector.name, CnemcWaterCollector.kind) == ("cnemc_water", "measured")


def test_canonical_names_and_units(snapshot: Platform) -> None:
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


def test_raw_value_from_title_not_rounded_text(snapshot: Platform) -> None:
    """The 原始值 in the span title is used, not the rounded display text."""
    frame = _collect(snapshot).observations
    assert _value(frame, "七间房", "do")["value"] == pytest.approx(12.316)
    assert _value(frame, "七间房", "nh3n")["value"] == pytest.approx(0.482)


def test_chlorophyll_and_algal_density(snapshot: Platform) -> None:
    """Chlorophyll a (mg/L) and algal density (cells/L) keep their published values."""
    frame = _collect(snapshot).observations
    assert _value(frame, "大伙房水库", "chlorophyll_a")["value"] == pytest.approx(0.0034)
    assert _value(frame, "大伙房水库", "algal_density")["value"] == pytest.approx(1.46e6)


def test_periods_are_the_sample_instant_in_utc(snapshot: Platform) -> None:
    """A 01-01 00:00 Beijing sample has start = end = 2026-12-31 16:00 UTC."""
    row = _value(_collect(snapshot).observations, "七间房", "ph")
    expected = pd.Timestamp("2026-12-31 16:00", tz="UTC")
    assert row["period_start"] == expected
    assert row["period_end"] == expected
    assert str(row["period_end"].tz) == "UTC"


def test_new_year_wrap_in_snapshot(snapshot: Platform) -> None:
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


def test_missing_marker_is_nan_without_flag(snapshot: Platform) -> None:
    """A '--' cell is written as NaN with no flag."""
    frame = _collect(snapshot).observations
    row = _value(frame, "七间房", "chlorophyll_a")
    assert math.isnan(row["value"])
    assert row["flags"] == ""


def test_class_7_is_not_monitored(snapshot: Platform) -> None:
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
def test_station_status_flags(snapshot: Platform, site: str, flag: str) -> None:
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


def test_a_section_delivered_twice_follows_the_one_duplicate_rule() -> None:
    """七间房 01-01 00:00 twice: an identical repeat is one reading; a second row with
    NH3-N 0.52 instead of 0.482 is kept for the intake check, which refuses both NH3-N
    readings by name and stores the other parameters once (docs/concepts.md, "The intake check:
    what enters the ledger": one rule for every file and answer)."""
    payload = json.loads((FILES / "real_datas_liaoning.json").read_text(encoding="utf-8"))
    payload["tbody"].append(list(payload["tbody"][0]))
    once, _ = parse_observations([parse_real_datas(payload)], fetched_at=FETCHED)
    assert len(once.query("site == '七间房' and parameter == 'nh3n'")) == 1
    payload["tbody"][-1][11] = "<span title='原始值：0.52'>0.52</span>"
    frame, _ = parse_observations([parse_real_datas(payload)], fetched_at=FETCHED)
    kept, refused = admit(frame, now=FETCHED)
    assert kept.query("site == '七间房' and parameter == 'nh3n'").empty
    assert len(kept.query("site == '七间房'")) == len(once.query("site == '七间房'")) - 1
    assert len(refused) == 2
    assert all(r.startswith("七间房 nh3n") and "values 0.482, 0.52" in r for r in refused)


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


def test_sections_filter(snapshot: Platform) -> None:
    """Only the configured sections are kept; a configured section not seen is noted."""
    batch = _collect(snapshot, sections=["七间房", "不存在的断面"])
    assert set(batch.observations["site"]) == {"七间房"}
    assert any("不存在的断面" in note for note in batch.notes)


def test_request_is_the_pages_post_form(snapshot: Platform) -> None:
    """Data are asked for as the page does: POST form action, AreaID, RiverID, MNName,
    PageIndex, PageSize (every public client of Publish.ashx does so, issue 14)."""
    _collect(snapshot, area_id="210100", river_id="1100000000", page_size=500)
    (form,) = snapshot.forms()
    assert form == {
        "action": "getRealDatas",
        "AreaID": "210100",
        "RiverID": "1100000000",
        "MNName": "",
        "PageIndex": "1",
        "PageSize": "500",
    }
    assert {m for m, p, _ in snapshot.requests if p == ENDPOINT} == {"POST"}


def test_default_page_size_is_moderate(snapshot: Platform) -> None:
    """Without a setting the collector asks for 500 rows a page (what public clients send)."""
    _collect(snapshot)
    assert snapshot.forms()[0]["PageSize"] == "500"


def test_page_headers_are_set(platform: Platform) -> None:
    """The client sends the page's Referer, Origin and X-Requested-With."""
    collector = _collector(platform)
    headers = collector._client.session.headers
    assert headers["Referer"] == platform.url + PAGE
    assert headers["Origin"] == platform.url
    assert headers["X-Requested-With"] == "XMLHttpRequest"


def test_warm_up_comes_first_and_is_paced(snapshot: Platform) -> None:
    """Main.html, then POST getArea_RiverDic, then the data, with pauses between them; the
    platform (which answers '-1' to a cold session) therefore answers data at once."""
    sleeps: list[float] = []
    batch = _collect(snapshot, sleeps=sleeps, page_delay=0.5)
    assert len(batch.observations) == 55
    steps = [(m, p, f.get("action", "")) for m, p, f in snapshot.requests]
    assert steps == [
        ("GET", PAGE, ""),
        ("POST", ENDPOINT, "getArea_RiverDic"),
        ("POST", ENDPOINT, "getRealDatas"),
    ]
    assert sleeps == [0.5, 0.5]


def test_session_expired_answers_minus_one_then_warm_up_again(snapshot: Platform) -> None:
    """'-1' mid-run (the platform forgot the session) is "session not ready", not data: the
    collector warms up again and asks once more."""
    collector = _collector(snapshot)
    assert len(next(iter(collector.collect(None, None))).observations) == 55
    snapshot.expire()
    batch = next(iter(collector.collect(None, None)))
    assert len(batch.observations) == 55
    actions = [f.get("action", "") for m, p, f in snapshot.requests if m == "POST"]
    assert actions == [
        "getArea_RiverDic",
        "getRealDatas",
        "getRealDatas",  # answered -1
        "getArea_RiverDic",
        "getRealDatas",
    ]
    assert [p for m, p, _ in snapshot.requests if m == "GET"] == [PAGE, PAGE]


def test_still_cold_after_warm_ups_is_unavailable(platform: Platform) -> None:
    """'-1' after every warm-up is SourceUnavailable naming the warm-up, never data."""
    platform.script(Reply(body=b"-1", content_type="text/plain"))
    with pytest.raises(SourceUnavailable, match=r"'-1' \(session not ready\) even after 2"):
        _collect(platform)
    assert len(platform.forms()) == 3


def test_two_pages(platform: Platform) -> None:
    """With total = 2 the second page is fetched after a pause and both are kept."""
    platform.script_files("real_datas_page1.json", "real_datas_page2.json")
    sleeps: list[float] = []
    batch = _collect(platform, sleeps=sleeps, page_delay=0.5)
    assert set(batch.observations["site"]) == {"七间房", "于家房", "浑河闸"}
    assert [f["PageIndex"] for f in platform.forms()] == ["1", "2"]
    assert sleeps == [0.5, 0.5, 0.5]  # two warm-up steps, one page


def test_max_pages_stops_and_notes(platform: Platform) -> None:
    """With max_pages = 1 only the first page is read and the batch says so."""
    platform.script_files("real_datas_page1.json")
    batch = _collect(platform, max_pages=1)
    assert len(platform.forms()) == 1
    assert any("max_pages" in note for note in batch.notes)


def test_truncated_page_is_noted(platform: Platform) -> None:
    """A page the platform cut short (fewer rows than ``records`` announces) is noted, with
    what to do; the rows that came are kept."""
    platform.script_files("real_datas_20260821_trimmed.json")
    platform.row_cap = 5
    payload = json.loads((FILES / "real_datas_20260821_trimmed.json").read_text("utf-8"))
    payload["total"] = 1
    platform.script(Reply(body=json.dumps(payload, ensure_ascii=False).encode()))
    batch = _collect(platform, now=lambda: REAL_FETCHED)
    assert batch.observations["site"].nunique() == 5
    (note,) = [n for n in batch.notes if "truncated" in n]
    assert "announces 1616 records" in note and "held 5" in note


def test_result_false_is_unavailable(platform: Platform) -> None:
    """result = 0 is a failure reported by the platform: try later."""
    platform.script_files("result_false.json")
    with pytest.raises(SourceUnavailable, match="result=0"):
        _collect(platform)


def test_500_then_200_is_retried(platform: Platform) -> None:
    """A 500 is retried after a backoff and the second answer is used."""
    platform.script(
        Reply(body=b"oops", status=500, content_type="text/plain"),
        Reply(body=(FILES / "real_datas_liaoning.json").read_bytes()),
    )
    sleeps: list[float] = []
    batch = _collect(platform, sleeps=sleeps, page_delay=0.0)
    assert len(batch.observations) == 55
    assert len([s for s in sleeps if s > 0]) <= 1 and len(sleeps) == 3
    assert len(platform.forms()) == 2


def test_persistent_503_is_unavailable(platform: Platform) -> None:
    """A 503 on every attempt becomes SourceUnavailable after the retries."""
    platform.script(Reply(body=b"busy", status=503, content_type="text/plain"))
    with pytest.raises(SourceUnavailable, match="HTTP 503") as info:
        _collect(platform, retries=2)
    assert info.value.retryable
    assert len(platform.forms()) == 3


def test_timeout_is_unavailable(platform: Platform) -> None:
    """An answer slower than the timeout becomes SourceUnavailable."""
    platform.script(Reply(body=(FILES / "real_datas_liaoning.json").read_bytes(), delay=1.0))
    with pytest.raises(SourceUnavailable, match="Timeout"):
        _collect(platform, timeout=0.2, retries=0)


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
    platform: Platform, file: str, content_type: str, message: str
) -> None:
    """Broken answers raise SourceFormatChanged with a message naming the problem."""
    platform.script(Reply(body=(FILES / file).read_bytes(), content_type=content_type))
    with pytest.raises(SourceFormatChanged, match=message) as info:
        _collect(platform)
    assert not info.value.retryable


def test_connection_cut_mid_body(platform: Platform) -> None:
    """A body cut off by the server is a transient failure, not data."""
    platform.script(Reply(body=(FILES / "real_datas_liaoning.json").read_bytes(), truncate=True))
    with pytest.raises(SourceUnavailable, match="IncompleteRead"):
        _collect(platform, retries=0)


def test_naive_clock_is_rejected(snapshot: Platform) -> None:
    """A clock without a time zone cannot place the samples and is refused."""
    collector = CnemcWaterCollector(
        source="cnemc_water",
        url=snapshot.url + ENDPOINT,
        client=HttpClient("cnemc_water", sleep=lambda _: None),
        now=lambda: datetime(2027, 1, 1),
    )
    with pytest.raises(ValueError, match="naive"):
        list(collector.collect(None, None))


# ------------------------------------------------------------------ the real capture
# Values below are read off the captured cells (their 原始值 titles) in
# tests/data/cnemc_water/real_datas_20260821_trimmed.json; provenance in the README there.


@pytest.fixture
def real(platform: Platform) -> Platform:
    platform.script_files(REAL)
    return platform


def _real(platform: Platform, **kwargs: Any):
    return _collect(platform, now=lambda: REAL_FETCHED, **kwargs)


@pytest.mark.parametrize(
    ("site", "parameter", "value", "unit"),
    [
        ("鼓楼外大街", "water_temperature", 26.58, "°C"),
        ("鼓楼外大街", "ph", 7.6, "1"),
        ("鼓楼外大街", "do", 6.76, "mg/L"),
        ("鼓楼外大街", "conductivity", 487.06, "µS/cm"),  # header (μS/cm), Greek mu
        ("鼓楼外大街", "turbidity", 21.268, "NTU"),
        ("鼓楼外大街", "codmn", 2.61, "mg/L"),
        ("鼓楼外大街", "nh3n", 0.077, "mg/L"),
        ("鼓楼外大街", "tp", 0.035, "mg/L"),
        ("鼓楼外大街", "tn", 5.751, "mg/L"),
        ("沙窝", "nh3n", 3.693, "mg/L"),
        ("烧车淀", "chlorophyll_a", 0.00301, "mg/L"),
        ("烧车淀", "algal_density", 2013389.0, "cells/L"),
        ("小渔场", "conductivity", 20811.62, "µS/cm"),
        ("呼玛上", "water_temperature", 16.619, "°C"),
    ],
)
def test_real_capture_values_and_units(
    real: Platform, site: str, parameter: str, value: float, unit: str
) -> None:
    """Raw values (title 原始值, not the rounded text) with canonical units, cell by cell."""
    row = _value(_real(real).observations, site, parameter)
    assert row["value"] == pytest.approx(value, rel=1e-12)
    assert row["unit"] == unit
    assert row["flags"] == ""


@pytest.mark.parametrize(
    ("site", "utc"),
    [
        ("鼓楼外大街", "2026-08-21 12:00"),  # 08-21 20:00 Beijing
        ("蒲河沿", "2026-08-21 11:00"),  # 19:00
        ("斯力很", "2026-08-21 10:00"),  # 18:00
        ("塘汉公路桥", "2026-08-21 08:00"),  # 16:00
        ("呼玛上", "2026-08-21 06:00"),  # 14:00
        ("烧车淀", "2026-08-21 05:00"),  # 13:00
    ],
)
def test_real_capture_sample_times_are_not_4_hourly(real: Platform, site: str, utc: str) -> None:
    """Sample times of one page are 13:00, 14:00, 16:00, 18:00, 19:00, 20:00: each is kept as
    the sample instant (start = end), not snapped to a 4-hour grid."""
    rows = _real(real).observations.query("site == @site")
    expected = pd.Timestamp(utc, tz="UTC")
    assert (rows["period_start"] == expected).all()
    assert (rows["period_end"] == expected).all()


@pytest.mark.parametrize(
    ("site", "parameter"),
    [("新八里桥", "tn"), ("烧车淀", "nh3n"), ("呼玛上", "tp")],
)
def test_real_capture_qc_failed_cells(real: Platform, site: str, parameter: str) -> None:
    """``<span … title='当天质控不合格'>--</span>``: no value, source QC flag; the other cells
    of the row stay unflagged."""
    frame = _real(real).observations
    row = _value(frame, site, parameter)
    assert math.isnan(row["value"])
    assert row["flags"] == "source_qc_failed"
    others = frame.query("site == @site and parameter != @parameter")
    assert set(others["flags"]) == {""}


def test_real_capture_class_minus_one_is_not_assessed(real: Platform) -> None:
    """水质类别 -1 (安固桥, every cell '--'): eleven NaN readings flagged not_assessed."""
    rows = _real(real).observations.query("site == '安固桥'")
    assert len(rows) == 11
    assert rows["value"].isna().all()
    assert set(rows["flags"]) == {"not_assessed"}


def test_real_capture_missing_cells_are_nan_without_flag(real: Platform) -> None:
    """Plain '--' (no chlorophyll at 鼓楼外大街; no nh3n at 斯力很) is NaN, no flag."""
    frame = _real(real).observations
    for site, parameter in [("鼓楼外大街", "chlorophyll_a"), ("斯力很", "nh3n")]:
        row = _value(frame, site, parameter)
        assert math.isnan(row["value"]) and row["flags"] == ""


def test_real_capture_size(real: Platform) -> None:
    """13 sections × 11 indicator columns; no station-status column since 2026-01 (the
    capture's metadata), so no status flags."""
    frame = _real(real).observations
    assert len(frame) == 13 * 11
    assert frame["site"].nunique() == 13


def test_real_capture_section_is_stored_under_its_configured_id(real: Platform) -> None:
    """A configured section (published name → id) is stored under its id, so the ledger,
    publisher and dashboards use one identity (issue 15); others keep their name."""
    batch = _real(real, section_ids={"大伙房水库": "dahuofang_reservoir"})
    sites = set(batch.observations["site"])
    assert "dahuofang_reservoir" in sites and "大伙房水库" not in sites
    assert _value(batch.observations, "dahuofang_reservoir", "chlorophyll_a")[
        "value"
    ] == pytest.approx(0.06761)
    assert "小渔场" in sites


@pytest.mark.parametrize("wanted", ["dahuofang_reservoir", "大伙房水库"], ids=["id", "name"])
def test_sections_filter_by_id_or_published_name(real: Platform, wanted: str) -> None:
    """The sections setting may name a section by its configured id or its published name."""
    batch = _real(real, sections=[wanted], section_ids={"大伙房水库": "dahuofang_reservoir"})
    assert set(batch.observations["site"]) == {"dahuofang_reservoir"}
    assert not any("not in the snapshot" in note for note in batch.notes)


# ------------------------------------------------------------------ one identity per section

SECTION_CONFIG = (
    HUNNAN_TWO_STATIONS
    + """
[[water_sections]]
id = "dahuofang_reservoir"
name_zh = "大伙房水库"
water_body = "reservoir"
river = "浑河"
target_class = "II"

[[sources]]
name = "cnemc_water"
collector = "cnemc_water"
stations = ["大伙房水库"]
url = "{url}"
"""
)


def _settings(tmp_path: Path, platform: Platform) -> Settings:
    path = tmp_path / "envmon.toml"
    path.write_text(SECTION_CONFIG.format(url=platform.url + ENDPOINT), encoding="utf-8")
    return load_settings(path, {})


def test_ingest_stores_a_section_under_its_configured_id(tmp_path: Path, real: Platform) -> None:
    """Through the real pipeline: the published 大伙房水库 is stored as dahuofang_reservoir,
    and its water class is evaluated under that id (issue 15: one identity)."""
    settings = _settings(tmp_path, real)
    source = settings.source_settings("cnemc_water")
    collector = build_collector(source, settings)
    assert isinstance(collector, CnemcWaterCollector)
    collector._now = lambda: REAL_FETCHED
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        ingest(ledger, settings, source, collector, None, None)
        stored = ledger.observations()
        classes = ledger.query("SELECT site FROM water_classes")
    assert set(stored["site"]) == {"dahuofang_reservoir"}
    assert len(stored) == 11
    assert set(classes["site"]) == {"dahuofang_reservoir"}


def test_rows_stored_under_the_published_name_are_moved_once(
    tmp_path: Path, real: Platform
) -> None:
    """Rows an earlier envmon stored under 大伙房水库 (with a revision) move to the id at the
    next ingest, are re-evaluated and queued for publishing; nothing is lost or doubled."""
    settings = _settings(tmp_path, real)
    source = settings.source_settings("cnemc_water")
    table = parse_real_datas(json.loads((FILES / REAL).read_text("utf-8")))
    old, _ = parse_observations([table], fetched_at=REAL_FETCHED, sections=["大伙房水库"])
    assert set(old["site"]) == {"大伙房水库"}
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        ledger.write_observations(old, "cnemc_water")
        revised = old.assign(value=old["value"] + 1.0)
        ledger.write_observations(revised, "cnemc_water")  # one revision per reading
        ledger.clear_dirty(ledger.dirty_days())
        moved = ledger.adopt_site_aliases("cnemc_water", {"大伙房水库": "dahuofang_reservoir"})
        assert moved == 11
        assert ledger.adopt_site_aliases("cnemc_water", {"大伙房水库": "dahuofang_reservoir"}) == 0
        stored = ledger.observations()
        assert set(stored["site"]) == {"dahuofang_reservoir"}
        assert len(stored) == 11
        # NaN + 1 is NaN: the algal-density reading ('--') was not revised, the 10 others were
        assert int((stored["revision"] == 1).sum()) == 10
        assert len(ledger.revisions("dahuofang_reservoir", "tp")) == 1
        assert set(ledger.dirty_days()["site"]) == {"dahuofang_reservoir"}
        outbox = ledger.query("SELECT key, day FROM outbox WHERE kind = 'observations'")
        assert ("dahuofang_reservoir", "2026-08-21") in set(outbox.itertuples(index=False))
        alias = ledger.query("SELECT source, alias, site, moved FROM site_aliases")
        assert alias.to_dict("records") == [
            {
                "source": "cnemc_water",
                "alias": "大伙房水库",
                "site": "dahuofang_reservoir",
                "moved": 11,
            }
        ]
        # the next ingest through the pipeline keeps the one identity
        collector = build_collector(source, settings)
        assert isinstance(collector, CnemcWaterCollector)
        collector._now = lambda: REAL_FETCHED
        ingest(ledger, settings, source, collector, None, None)
        assert set(ledger.observations()["site"]) == {"dahuofang_reservoir"}
