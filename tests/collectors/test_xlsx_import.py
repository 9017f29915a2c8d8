"""Excel import: the long layout, the wide laboratory layout, Excel dates, unusable books."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from datetime import datetime

import openpyxl  # type: ignore[import-untyped, unused-ignore]
import pandas as pd
import pytest

from monitor.collectors.long_csv import parse_long_csv
from monitor.collectors.xlsx_import import parse_xlsx
from monitor.errors import InputError

#: The 21 chemical items of GB 3838-2002 Table 1 (all but water temperature, pH and fecal
#: coliform), by canonical name, with values of a class II section [mg/L].
GB3838_ITEMS = {
    "do": 7.5,
    "codmn": 3.1,
    "cod": 12.0,
    "bod5": 2.2,
    "nh3n": 0.35,
    "tp": 0.06,
    "tn": 0.9,
    "cu": 0.004,
    "zn": 0.02,
    "f": 0.4,
    "se": 0.0004,
    "as": 0.002,
    "hg": 0.00002,
    "cd": 0.0005,
    "cr6": 0.004,
    "pb": 0.002,
    "cn": 0.002,
    "phenol": 0.0003,
    "petroleum": 0.02,
    "las": 0.05,
    "sulfide": 0.01,
}


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def book_bytes(sheets: Mapping[str, Sequence[Sequence[object]]]) -> bytes:
    """An .xlsx file with the given sheets (title → rows)."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_long_layout_with_excel_dates_and_unit_conversion() -> None:
    """A long sheet: Excel datetime cells are Beijing time, CO 850 ug/m3 → 0.85 mg/m³."""
    data = book_bytes(
        {
            "data": [
                ["Site", "Time", "Parameter", "Value", "Unit"],
                ["1099A", datetime(2026, 3, 1, 16, 0), "pm2_5", 35, "ug/m3"],
                ["1099A", datetime(2026, 3, 1, 16, 0), "co", 850, "ug/m3"],
            ]
        }
    )
    frame, warnings = parse_xlsx(data, "air.xlsx")
    assert warnings == []
    assert frame["period_end"].tolist() == [utc("2026-03-01 08:00")] * 2
    assert frame[["parameter", "unit"]].values.tolist() == [["pm2_5", "µg/m³"], ["co", "mg/m³"]]
    assert frame["value"].tolist() == pytest.approx([35.0, 0.85])


def test_time_as_text_and_as_excel_serial_number() -> None:
    """'2026-03-01T16:00' text and the serial number 46082.6666… give the same period end."""
    data = book_bytes(
        {
            "data": [
                ["site", "time", "parameter", "value"],
                ["A", "2026-03-01T16:00", "pm10", 70],
                ["B", 46082 + 16 / 24, "pm10", 71],
            ]
        }
    )
    frame, warnings = parse_xlsx(data, "t.xlsx")
    assert warnings == []
    assert frame["period_end"].tolist() == [utc("2026-03-01 08:00")] * 2


def test_wide_laboratory_layout_with_the_gb3838_items() -> None:
    """A wide sheet below a title row gives one observation per filled parameter cell."""
    header = ["断面", "采样时间", "duration", *GB3838_ITEMS, "备注"]
    data = book_bytes(
        {
            "lab": [
                ["浑南区地表水监测结果 2026年3月"],
                header,
                ["HN-01", datetime(2026, 3, 2, 9, 30), 0, *GB3838_ITEMS.values(), "ok"],
                ["HN-02", "2026-03-02T10:00", 0, *(["/"] * 20), "0.01L", ""],
            ]
        }
    )
    frame, warnings = parse_xlsx(data, "lab.xlsx")
    assert warnings == [
        "lab.xlsx sheet 'lab': column(s) 备注 ignored; expected canonical parameter names as "
        "headers in the wide layout"
    ]
    first = frame[frame["site"] == "HN-01"]
    assert dict(zip(first["parameter"], first["value"], strict=True)) == GB3838_ITEMS
    assert set(first["unit"]) == {"mg/L"}
    assert (first["period_start"] == first["period_end"]).all()
    assert first["period_end"].iloc[0] == utc("2026-03-02 01:30")
    second = frame[frame["site"] == "HN-02"]
    assert second[["parameter", "value", "flags"]].values.tolist() == [
        ["sulfide", 0.01, "below_detection_limit"]
    ]


def test_wide_bad_cell_is_reported_with_sheet_row_and_column() -> None:
    """A non-numeric cell in a wide sheet names the sheet, row and column; row-mates import."""
    data = book_bytes(
        {"lab": [["site", "time", "do", "nh3n"], ["HN-01", "2026-03-02T09:00", 8.1, "abc"]]}
    )
    frame, warnings = parse_xlsx(data, "lab.xlsx")
    assert frame["parameter"].tolist() == ["do"]
    assert len(warnings) == 1
    assert warnings[0].startswith("lab.xlsx sheet 'lab' row 2 column nh3n: value 'abc'")
    assert warnings[0].endswith("(not imported)")


def test_wide_negative_cell_is_kept_for_the_quality_checks() -> None:
    """A negative lab value is imported (the QC flags it), not dropped."""
    data = book_bytes(
        {"lab": [["site", "time", "do", "nh3n"], ["HN-01", "2026-03-02T09:00", 8.1, -1]]}
    )
    frame, warnings = parse_xlsx(data, "lab.xlsx")
    assert frame["value"].tolist() == [8.1, -1.0]
    assert warnings == []


def test_every_sheet_with_a_header_is_read_and_others_are_skipped() -> None:
    """A long sheet and a wide sheet both import; a notes sheet is skipped with a warning."""
    data = book_bytes(
        {
            "说明": [["本表为浑南区监测数据"]],
            "air": [["site", "time", "parameter", "value"], ["A", "2026-03-01T16:00", "so2", 9]],
            "water": [["site", "time", "tp"], ["HN-01", "2026-03-02T09:00", 0.05]],
        }
    )
    frame, warnings = parse_xlsx(data, "mixed.xlsx")
    assert frame["parameter"].tolist() == ["so2", "tp"]
    assert len(warnings) == 1
    assert warnings[0].startswith("mixed.xlsx sheet '说明': skipped")


def test_rows_are_checked_exactly_like_long_csv_rows() -> None:
    """The same bad row gives the same problem text in a CSV file and in a workbook."""
    rows = [
        ["site", "time", "parameter", "value", "unit"],
        ["A", "2026-03-01T16:00", "pm10", "3", "ppb"],
    ]
    csv = "\n".join(",".join(map(str, r)) for r in rows).encode()
    _, csv_warnings = parse_long_csv(csv, "f")
    _, xlsx_warnings = parse_xlsx(book_bytes({"s": rows}), "f")
    assert csv_warnings[0].removeprefix("f line 2") == xlsx_warnings[0].removeprefix(
        "f sheet 's' row 2"
    )
    assert "cannot convert pm10 from 'ppb'" in csv_warnings[0]


def test_same_workbook_twice_gives_identical_frames() -> None:
    """Parsing a workbook is deterministic."""
    data = book_bytes({"lab": [["site", "time", "do"], ["HN-01", "2026-03-02T09:00", 8.1]]})
    first, second = parse_xlsx(data, "w.xlsx"), parse_xlsx(data, "w.xlsx")
    pd.testing.assert_frame_equal(first[0], second[0])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"site,time,parameter,value\n", "not a readable .xlsx workbook"),
        (None, "no sheet has a header row with site and time"),
    ],
    ids=["not-xlsx", "no-header"],
)
def test_unusable_workbooks_raise_input_error(content: bytes | None, message: str) -> None:
    """A non-xlsx file or a book without a usable header is an InputError."""
    if content is None:
        content = book_bytes({"s": [["title"], ["a", "b"]]})
    with pytest.raises(InputError, match=message) as caught:
        parse_xlsx(content, "bad.xlsx")
    assert str(caught.value).startswith("bad.xlsx: ")


def test_a_header_only_workbook_is_nothing_to_import_not_an_error() -> None:
    """Headers and no rows: no observations and one warning (issue 16: one rule for every
    import format, see tests/test_import_header_only.py)."""
    content = book_bytes({"s": [["site", "time", "parameter", "value"]]})
    frame, warnings = parse_xlsx(content, "w.xlsx")
    assert frame.empty
    assert warnings == ["no data rows (header only)"]
