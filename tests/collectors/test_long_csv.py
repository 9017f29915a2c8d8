"""Generic long CSV import: units, encodings, times, and rows reported instead of imported."""

from __future__ import annotations

import pandas as pd
import pytest

from monitor.collectors.long_csv import BELOW_DETECTION_FLAG, parse_long_csv
from monitor.errors import InputError


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def parse(text: str, encoding: str = "utf-8") -> tuple[pd.DataFrame, list[str]]:
    return parse_long_csv(text.encode(encoding), "in.csv")


def test_ug_m3_spelling_becomes_the_canonical_unit() -> None:
    """'ug/m3' PM2.5 is stored as µg/m³ with the same number."""
    frame, warnings = parse(
        "site,time,parameter,value,unit\n1099A,2026-03-01T16:00,pm2_5,35,ug/m3\n"
    )
    assert warnings == []
    assert frame[["parameter", "unit", "value"]].values.tolist() == [["pm2_5", "µg/m³", 35.0]]


def test_co_in_micrograms_is_converted_to_milligrams() -> None:
    """CO 850 µg/m3 becomes 0.85 mg/m³ (the canonical CO unit)."""
    frame, _ = parse("site,time,parameter,value,unit\n1099A,2026-03-01T16:00,CO,850,µg/m3\n")
    assert frame["unit"].tolist() == ["mg/m³"]
    assert frame["value"].tolist() == pytest.approx([0.85])


def test_water_values_in_mg_per_litre_and_missing_unit() -> None:
    """nh3n in mg/L stays as is; an empty unit means the canonical unit already."""
    frame, warnings = parse(
        "site,time,parameter,value,unit\nHN-01,2026-03-02T09:00,nh3n,0.42,mg/L\n"
        "HN-01,2026-03-02T09:00,tp,0.05,\n"
    )
    assert warnings == []
    assert frame[["parameter", "unit", "value"]].values.tolist() == [
        ["nh3n", "mg/L", 0.42],
        ["tp", "mg/L", 0.05],
    ]


def test_time_is_hour_ending_beijing_time_by_default() -> None:
    """A naive 2026-03-01T00:00 label is the hour 23:00–00:00 local, 15:00–16:00 UTC."""
    frame, _ = parse("site,time,parameter,value\n1099A,2026-03-01T00:00,pm10,70\n")
    assert frame["period_start"].tolist() == [utc("2026-02-28 15:00")]
    assert frame["period_end"].tolist() == [utc("2026-02-28 16:00")]


def test_duration_zero_is_a_sample_instant_and_offsets_are_honoured() -> None:
    """duration 0 gives period_start == period_end; a +08:00 offset equals the naive time."""
    frame, _ = parse(
        "site,time,parameter,value,duration\nHN-01,2026-03-02T09:30+08:00,do,8.1,0\n"
        "HN-02,2026-03-02T09:30,do,7.9,1440\n"
    )
    assert frame["period_start"].iloc[0] == frame["period_end"].iloc[0] == utc("2026-03-02 01:30")
    assert frame["period_start"].iloc[1] == utc("2026-03-01 01:30")


def test_gbk_file_with_chinese_headers_and_units() -> None:
    """A GBK file with 站点/时间/项目/数值/单位 headers and 毫克/升 is read."""
    text = "站点,时间,项目,数值,单位\n浑南东路,2026-03-02T09:00,codmn,3.2,毫克/升\n"
    frame, warnings = parse(text, encoding="gbk")
    assert warnings == []
    assert frame[["site", "parameter", "unit", "value"]].values.tolist() == [
        ["浑南东路", "codmn", "mg/L", 3.2]
    ]


def test_bad_rows_are_reported_with_line_numbers_and_not_imported() -> None:
    """Each bad row gives one warning naming its file line (blank lines counted)."""
    text = (
        "site,time,parameter,value,unit\n"  # line 1
        "A,2026-03-01T16:00,pm2_5,35,ug/m3\n"  # 2 conflicts with line 9
        "\n"  # 3 blank
        "A,2026-03-01T16:00,benzene,1,ug/m3\n"  # 4 unknown parameter
        "A,2026-03-01T16:00,pm10,35,furlongs\n"  # 5 bad unit
        "A,2026-03-01T16:00,so2,abc,ug/m3\n"  # 6 not a number
        "A,yesterday,no2,10,ug/m3\n"  # 7 bad time
        "A,2026-03-01T16:00,o3,-3,ug/m3\n"  # 8 negative: kept, flagged later by the QC
        "A,2026-03-01T16:00,pm2_5,36,ug/m3\n"  # 9 same site, parameter, time as 2, other value
        "A,2026-03-01T16:00,pm10,10,ppb\n"  # 10 unit that does not fit PM
    )
    frame, warnings = parse(text)
    assert frame["value"].tolist() == [-3.0]
    lines = [2, 4, 5, 6, 7, 9, 10]
    assert [w.split(":")[0] for w in warnings] == [f"in.csv line {n}" for n in lines]
    assert "conflicts with in.csv line 9" in warnings[0]
    assert "'benzene' is unknown" in warnings[1]
    assert "'furlongs'" in warnings[2]
    assert "'abc' is not a number" in warnings[3]
    assert "'yesterday' is not an ISO 8601 time" in warnings[4]
    assert "conflicts with in.csv line 2" in warnings[5]
    assert "cannot convert pm10 from 'ppb'" in warnings[6]
    assert all(w.endswith("(not imported)") for w in warnings)


def test_negative_water_temperature_is_allowed() -> None:
    """Water temperature may be below 0 °C; it is not a concentration."""
    frame, warnings = parse(
        "site,time,parameter,value,unit\nHN-01,2026-01-10T08:00,water_temperature,-0.2,℃\n"
    )
    assert warnings == []
    assert frame["value"].tolist() == [-0.2]


def test_below_detection_limit_is_imported_with_a_flag() -> None:
    """'0.01L' and '<0.005' import the detection limit flagged below_detection_limit."""
    frame, _ = parse(
        "site,time,parameter,value\nS,2026-03-02T09:00,tp,0.01L\nS,2026-03-02T09:00,cd,<0.005\n"
    )
    assert frame["value"].tolist() == [0.01, 0.005]
    assert set(frame["flags"]) == {BELOW_DETECTION_FLAG}


def test_extra_columns_are_ignored_with_a_warning() -> None:
    """An unknown 'remark' column is named in a warning; the rows still import."""
    frame, warnings = parse("site,time,parameter,value,remark\nA,2026-03-01T16:00,pm10,70,ok\n")
    assert len(frame) == 1
    assert warnings == [
        "in.csv: column(s) remark ignored; known columns are site, time, parameter, value, unit, "
        "duration"
    ]


def test_same_file_twice_gives_identical_frames() -> None:
    """Parsing is deterministic: the same bytes give equal frames and warnings."""
    data = b"site,time,parameter,value,unit\nA,2026-03-01T16:00,pm10,70,ug/m3\nB,x,co,1,mg/m3\n"
    first, second = parse_long_csv(data, "f.csv"), parse_long_csv(data, "f.csv")
    pd.testing.assert_frame_equal(first[0], second[0])
    assert first[1] == second[1]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"site,time,value\nA,2026-03-01T16:00,3\n", r"missing column\(s\) parameter"),
        (b"site,time,site,parameter,value\nA,B,C,D,E\n", r"duplicate column\(s\) site"),
        (b"\xff\xfe\x00\x00\xff", "cannot decode"),
    ],
    ids=["empty", "missing-column", "duplicate-column", "undecodable"],
)
def test_unusable_files_raise_one_line_input_errors(content: bytes, message: str) -> None:
    """Files that cannot be used raise InputError with a one-line message naming the file."""
    with pytest.raises(InputError, match=message) as caught:
        parse_long_csv(content, "in.csv")
    assert str(caught.value).startswith("in.csv: ")
    assert "\n" not in str(caught.value)


def test_a_header_only_file_is_nothing_to_import_not_an_error() -> None:
    """A header and no rows: no observations and one warning (issue 16: one rule for every
    import format, see tests/test_import_header_only.py)."""
    frame, warnings = parse_long_csv(b"site,time,parameter,value\n\n", "in.csv")
    assert frame.empty
    assert warnings == ["no data rows (header only)"]


def test_a_row_with_too_many_cells_is_skipped_not_fatal() -> None:
    """A row with an extra cell is reported and skipped; the other rows import."""
    text = (
        "site,time,parameter,value,unit\n"
        "A,2026-03-01T16:00,pm2_5,35,ug/m3\n"
        "A,2026-03-01T17:00,pm2_5,36,ug/m3,oops\n"
        "A,2026-03-01T18:00,pm2_5,37,ug/m3\n"
    )
    frame, warnings = parse(text)
    assert frame["value"].tolist() == [35.0, 37.0]
    assert any("a row with 6 cells where the header has 5" in w for w in warnings)


def test_warnings_name_the_files_own_lines_after_a_broken_row_and_a_multi_line_cell() -> None:
    """Line numbers are the file's: a skipped row and a quoted cell over two lines do not
    shift the numbers of the rows after them (the header is line 1)."""
    text = (
        "site,time,parameter,value,unit\n"
        "A,2026-03-01T16:00,pm2_5,35,ug/m3,oops\n"  # 2: one cell too many
        'A,2026-03-01T17:00,pm2_5,36,"ug/\n'  # 3-4: a quoted unit over two lines
        'm3"\n'
        "A,2026-03-01T18:00,pm2_5,x,ug/m3\n"  # 5: not a number
    )
    frame, warnings = parse(text)
    assert frame.empty  # line 3's unit "ug/\nm3" is unknown, line 5 has no number
    assert warnings[0].startswith("in.csv line 2: a row with 6 cells where the header has 5")
    assert warnings[1].startswith("in.csv line 3: unit")
    assert warnings[2].startswith("in.csv line 5: value 'x' is not a number")


def test_a_quote_never_closed_is_reported_not_swallowed() -> None:
    """An opening quote without its closing one would read the rest of the file as one
    cell: those lines are reported by number, the rows before them are imported."""
    text = (
        "site,time,parameter,value\n"
        "A,2026-03-01T16:00,pm2_5,35\n"
        'A,2026-03-01T17:00,pm2_5,"36\n'  # 3: the quote is never closed
        "A,2026-03-01T18:00,pm2_5,37\n"
        "A,2026-03-01T19:00,pm2_5,38\n"
    )
    frame, warnings = parse(text)
    assert frame["value"].tolist() == [35.0]
    assert warnings == [
        'in.csv line 3: a quote (") opened on this line is never closed: lines 3–5 were read '
        "as one cell and not imported"
    ]


def test_a_row_with_fewer_cells_is_padded_and_checked() -> None:
    """A short row is read with empty cells (as a spreadsheet writes it) and refused by the
    intake check for what it lacks, naming its line."""
    frame, warnings = parse("site,time,parameter,value,unit\nA,2026-03-01T16:00,pm2_5\n")
    assert frame.empty
    assert warnings and warnings[0].startswith("in.csv line 2: ")
    assert "value" in warnings[0]
