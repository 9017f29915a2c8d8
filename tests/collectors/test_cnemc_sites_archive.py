"""The quotsoft/CNEMC daily station archive: parsing, time labels, folder and URL sources."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from monitor.collectors.base import OBSERVATION_COLUMNS, observations
from monitor.collectors.cnemc_sites_archive import (
    CnemcSitesArchiveCollector,
    parse_sites_csv,
    parse_sites_csv_with_notes,
)
from monitor.collectors.http import HttpClient
from monitor.errors import SourceFormatChanged, SourceUnavailable
from tests.conftest import DATA, RecordedServer, Reply

FOLDER = DATA / "cnemc_sites_archive"
DAY_0228 = (FOLDER / "china_sites_20260228.csv").read_bytes()
DAY_0301 = (FOLDER / "china_sites_20260301.csv").read_bytes()


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def value(frame: pd.DataFrame, site: str, parameter: str, end: str) -> float:
    rows = frame[
        (frame["site"] == site)
        & (frame["parameter"] == parameter)
        & (frame["period_end"] == utc(end))
    ]
    assert len(rows) == 1, rows
    return float(rows["value"].iloc[0])


def no_sleep_client(source: str = "archive") -> HttpClient:
    return HttpClient(source, retries=1, sleep=lambda _: None, timeout=5)


def test_hour_zero_is_the_hour_ending_at_local_midnight() -> None:
    """Hour 0 of 20260301 is the value labelled 03-01 00:00 local: 15:00–16:00 UTC on 02-28."""
    frame = parse_sites_csv(DAY_0301)
    row = frame[(frame["site"] == "1099A") & (frame["parameter"] == "pm2_5")].iloc[0]
    assert row["period_start"] == utc("2026-02-28 15:00")
    assert row["period_end"] == utc("2026-02-28 16:00")
    assert row["value"] == 45.0


def test_hour_23_ends_at_23_local() -> None:
    """Hour 23 of 20260301 is the period 22:00–23:00 local (14:00–15:00 UTC)."""
    frame = parse_sites_csv(DAY_0301)
    assert value(frame, "1760A", "pm2_5", "2026-03-01 15:00") == 25.0
    assert frame["period_end"].max() == utc("2026-03-01 15:00")


def test_consecutive_days_join_without_gap_or_overlap() -> None:
    """02-28 hour 23 ends at 15:00 UTC and 03-01 hour 0 at 16:00 UTC: one hour apart."""
    before, after = parse_sites_csv(DAY_0228), parse_sites_csv(DAY_0301)
    last = before[before["site"] == "1099A"]["period_end"].max()
    first = after[after["site"] == "1099A"]["period_end"].min()
    assert last == utc("2026-02-28 15:00")
    assert first - last == pd.Timedelta(hours=1)


def test_only_one_hour_concentrations_are_kept() -> None:
    """AQI and the running means are dropped; the six 1-hour types map to canonical names."""
    frame = parse_sites_csv(DAY_0301)
    assert set(frame["parameter"]) == {"pm2_5", "pm10", "so2", "no2", "o3", "co"}
    # 1099A O3 at hour 0 is 20; O3_24h (60) and O3_8h (35) must not leak in.
    assert value(frame, "1099A", "o3", "2026-02-28 16:00") == 20.0


def test_co_stays_in_mg_per_cubic_metre() -> None:
    """CO is published in mg/m³, the canonical unit, so 1.1 stays 1.1 mg/m³."""
    frame = parse_sites_csv(DAY_0301)
    co = frame[(frame["parameter"] == "co") & (frame["site"] == "1099A")]
    assert set(co["unit"]) == {"mg/m³"}
    assert co["value"].tolist() == [1.1, 1.2]
    assert set(frame[frame["parameter"] == "pm10"]["unit"]) == {"µg/m³"}


def test_empty_cells_give_no_rows() -> None:
    """An empty cell is missing: no observation, no NaN value."""
    frame = parse_sites_csv(DAY_0301)
    assert len(frame) == 24
    assert not frame["value"].isna().any()
    no2_1760 = frame[(frame["site"] == "1760A") & (frame["parameter"] == "no2")]
    assert no2_1760.empty


def test_station_filter_keeps_only_the_asked_stations() -> None:
    """stations=('1760A', 'X999') keeps 1760A and notes that X999 is not in the file."""
    frame, notes = parse_sites_csv_with_notes(DAY_0301, stations=("1760A", "X999"), name="f")
    assert set(frame["site"]) == {"1760A"}
    assert len(frame) == 8
    assert any("X999" in note for note in notes)


def test_frame_has_the_observation_columns_and_types() -> None:
    """The columns and dtypes are those of the checked observations() builder."""
    frame = parse_sites_csv(DAY_0301)
    reference = observations(
        ["1099A"], ["pm2_5"], [utc("2026-03-01 00:00")], [utc("2026-03-01 01:00")], [1.0]
    )
    assert list(frame.columns) == list(OBSERVATION_COLUMNS)
    assert frame.dtypes.to_dict() == reference.dtypes.to_dict()
    assert set(frame["flags"]) == {""}


def test_wrong_header_raises_format_changed_naming_the_file() -> None:
    """A header without date,hour,type is a format change, and the message names the file."""
    data = (FOLDER / "china_sites_bad_header.csv").read_bytes()
    with pytest.raises(SourceFormatChanged, match=r"china_sites_bad_header\.csv.*date,hour,type"):
        parse_sites_csv(data, name="china_sites_bad_header.csv")


def test_unparseable_cells_are_dropped_and_counted() -> None:
    """'abc' is dropped and counted; '-5' is kept for the quality checks, and counted."""
    data = b"date,hour,type,A,B\n20260301,0,PM2.5,abc,5\n20260301,1,PM10,-5,7\n"
    frame, notes = parse_sites_csv_with_notes(data, name="x.csv")
    assert frame["value"].tolist() == [5.0, -5.0, 7.0]
    assert "x.csv line 2 column A: value 'abc' is not a finite number" in notes[0]
    assert any("1 negative value(s)" in n for n in notes)


def test_bad_hour_row_is_dropped_with_a_note() -> None:
    """An hour of 24 is outside 0–23: its row is dropped and noted, the rest parsed."""
    data = b"date,hour,type,A\n20260301,24,PM2.5,5\n20260301,2,PM2.5,6\n"
    frame, notes = parse_sites_csv_with_notes(data, name="x.csv")
    assert frame["value"].tolist() == [6.0]
    assert any("bad date,hour" in n and "20260301,24" in n for n in notes)


def test_crlf_and_bom_are_accepted() -> None:
    """Windows line ends and a UTF-8 BOM do not change the result."""
    windows = b"\xef\xbb\xbf" + DAY_0301.replace(b"\n", b"\r\n")
    pd.testing.assert_frame_equal(parse_sites_csv(windows), parse_sites_csv(DAY_0301))


def test_folder_with_a_missing_day_gives_an_empty_batch_with_a_note() -> None:
    """02-28 … 03-03: the absent 03-02 file is an empty batch noted 'missing at source'."""
    collector = CnemcSitesArchiveCollector(source="archive", folder=FOLDER)
    batches = list(
        collector.collect(
            datetime(2026, 2, 28, 12, tzinfo=UTC), datetime(2026, 3, 2, 16, tzinfo=UTC)
        )
    )
    assert [Path(b.requested).name for b in batches] == [
        "china_sites_20260228.csv",
        "china_sites_20260301.csv",
        "china_sites_20260302.csv",
        "china_sites_20260303.csv",
    ]
    missing = batches[2]
    assert missing.observations.empty
    assert any("missing at source" in n for n in missing.notes)
    assert len(batches[0].observations) == 12  # hours 22 and 23 local end after 12:00 UTC
    assert len(batches[1].observations) == 24


def test_year_folders_and_window_end_are_honoured() -> None:
    """03-03 is read from the 2026/ folder; only its hour 0 ends by the window's end."""
    collector = CnemcSitesArchiveCollector(source="archive", folder=FOLDER)
    (batch,) = collector.collect(
        datetime(2026, 3, 2, 15, tzinfo=UTC), datetime(2026, 3, 2, 16, tzinfo=UTC)
    )
    assert Path(batch.requested).parent.name == "2026"
    assert batch.observations["value"].tolist() == [20.0, 22.0]
    assert any("is not a finite number" in n for n in batch.notes)
    assert batch.covers == (
        datetime(2026, 3, 2, 15, tzinfo=UTC),
        datetime(2026, 3, 2, 16, tzinfo=UTC),
    )


def test_station_filter_applies_to_collected_batches() -> None:
    """A collector for 1100A yields only 1100A observations."""
    collector = CnemcSitesArchiveCollector(source="archive", folder=FOLDER, stations=["1100A"])
    batches = list(
        collector.collect(
            datetime(2026, 2, 28, 15, tzinfo=UTC), datetime(2026, 3, 1, 15, tzinfo=UTC)
        )
    )
    assert len(batches) == 1
    assert set(batches[0].observations["site"]) == {"1100A"}
    assert len(batches[0].observations) == 7


def test_url_source_reads_day_files_and_404_is_missing(recorded_server: RecordedServer) -> None:
    """Over HTTP: a 200 day file is parsed, a 404 day is an empty batch 'missing at source'."""
    recorded_server.add(
        "/air/data/china_sites_20260301.csv", Reply(body=DAY_0301, content_type="text/csv")
    )
    collector = CnemcSitesArchiveCollector(
        source="archive", url=f"{recorded_server.url}/air/data/", client=no_sleep_client()
    )
    found, missing = collector.collect(
        datetime(2026, 2, 28, 15, tzinfo=UTC), datetime(2026, 3, 1, 16, tzinfo=UTC)
    )
    assert len(found.observations) == 24
    assert found.requested.endswith("/air/data/china_sites_20260301.csv")
    assert missing.observations.empty
    assert missing.notes == (f"{missing.requested}: missing at source",)
    assert [path for path, _ in recorded_server.requests] == [
        "/air/data/china_sites_20260301.csv",
        "/air/data/china_sites_20260302.csv",
    ]


def test_url_year_placeholder_is_replaced(recorded_server: RecordedServer) -> None:
    """A {year} in the URL becomes the file's year folder."""
    recorded_server.add("/air/2026/china_sites_20260228.csv", Reply(body=DAY_0228))
    collector = CnemcSitesArchiveCollector(
        source="archive", url=f"{recorded_server.url}/air/{{year}}", client=no_sleep_client()
    )
    (batch,) = collector.collect(
        datetime(2026, 2, 28, 13, tzinfo=UTC), datetime(2026, 2, 28, 15, tzinfo=UTC)
    )
    assert len(batch.observations) == 12


def test_url_source_5xx_raises_unavailable(recorded_server: RecordedServer) -> None:
    """HTTP 500 after the retries is SourceUnavailable (retryable), not an empty batch."""
    recorded_server.add(
        "/air/data/china_sites_20260301.csv",
        Reply(body=b"oops", status=500, content_type="text/plain"),
    )
    collector = CnemcSitesArchiveCollector(
        source="archive", url=f"{recorded_server.url}/air/data", client=no_sleep_client()
    )
    with pytest.raises(SourceUnavailable, match="HTTP 500") as caught:
        list(
            collector.collect(
                datetime(2026, 2, 28, 16, tzinfo=UTC), datetime(2026, 3, 1, 15, tzinfo=UTC)
            )
        )
    assert caught.value.retryable
    assert len(recorded_server.requests) == 2


def test_url_source_html_page_is_a_format_change(recorded_server: RecordedServer) -> None:
    """An HTML error page served with 200 fails the header check."""
    recorded_server.add(
        "/air/data/china_sites_20260301.csv",
        Reply(body=b"<html><body>rate limited</body></html>", content_type="text/html"),
    )
    collector = CnemcSitesArchiveCollector(
        source="archive", url=f"{recorded_server.url}/air/data", client=no_sleep_client()
    )
    with pytest.raises(SourceFormatChanged, match=r"china_sites_20260301\.csv"):
        list(
            collector.collect(
                datetime(2026, 2, 28, 16, tzinfo=UTC), datetime(2026, 3, 1, 15, tzinfo=UTC)
            )
        )


def test_constructor_needs_exactly_one_of_folder_and_url() -> None:
    """Giving neither folder nor url is a ValueError naming both."""
    with pytest.raises(ValueError, match="exactly one of folder and url"):
        CnemcSitesArchiveCollector(source="archive")


def test_duplicate_and_empty_header_columns() -> None:
    """A repeated station code reads its first column (noted); a trailing comma adds no site."""
    data = b"date,hour,type,A,A,\n20260301,0,PM2.5,1,2,\n"
    frame, notes = parse_sites_csv_with_notes(data, name="x.csv")
    assert frame[["site", "value"]].values.tolist() == [["A", 1.0]]
    assert notes == ["x.csv: duplicate station column(s) ['A']; the first is read"]
