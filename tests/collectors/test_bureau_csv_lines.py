"""Line numbers in the warnings of ``envmon import daily-aqi-csv`` / ``indicators-csv``.

"line N" is the line of the file on which the row starts, as an editor numbers them (the
header = line 1; blank lines and each line of a quoted cell over lines counted; lines end
with LF, CRLF or a lone CR), as ``envmon import`` of long CSV files and ``envmon calc``
name them. Before, the numbers were the row's place + 2: every blank line (pandas skips
them) moved the rows below it up by one.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.collectors.bureau_csv import parse_daily_aqi_csv, parse_indicator_csv
from monitor.errors import InputError

_NOW = datetime(2026, 6, 1, tzinfo=UTC)

_DAILY = (
    "area,date,aqi,category\n"  # 1
    "\n"  # 2
    "hunnan,2026-05-01,x3,\n"  # 3
    "  \n"  # 4: spaces only (blank)
    'hunnan,2026-05-02,40,"good\n'  # 5: a quoted category over two lines
    'day"\n'  # 6
    "hunnan,2026-05-03,x7,\n"  # 7
    "\n"
)


@pytest.mark.parametrize("line_end", ["\n", "\r\n", "\r"])
def test_daily_aqi_warnings_name_the_files_lines(line_end: str) -> None:
    data = _DAILY.replace("\n", line_end).encode("utf-8")
    frame, warnings = parse_daily_aqi_csv(data, "aqi.csv", ["hunnan"], now=_NOW)
    assert frame["date"].tolist() == ["2026-05-02"]
    assert [w.split(":", 1)[0] for w in warnings] == ["aqi.csv line 3", "aqi.csv line 7"]
    assert "aqi 'x3' is not a number" in warnings[0]


def test_indicator_warnings_and_conflicts_name_the_files_lines() -> None:
    text = (
        "\n"  # 1: a blank line before the header
        "target,date,value\n"  # 2
        "\n"  # 3
        "parks,2026-05-01,3\n"  # 4
        "\n"  # 5
        "parks,2026-05-01,4\n"  # 6: the same target and date, another value
        "parks,2026-05-02,-1\n"  # 7: not a count
    )
    targets = {"parks": ("count", 2026, ())}
    _, warnings = parse_indicator_csv(text.encode(), "ind.csv", targets, now=_NOW)
    heads = [w.split(":", 1)[0] for w in warnings]
    assert heads == ["ind.csv line 4", "ind.csv line 6", "ind.csv line 7"]
    assert "as line(s) 6" in warnings[0] and "as line(s) 4" in warnings[1]


def test_a_line_beginning_with_a_comma_after_a_blank_line_ended_by_a_lone_cr() -> None:
    """Lone-CR line ends and no quote: after a blank line, pandas' C reader dropped the
    empty first cell of a line beginning with a comma (line 3 read as area '2026-05-01',
    date 'x3') and lost line 5 (``,``), so every row was named by its place + 2 (line 6 as
    line 3). Read as with LF line ends: no area on line 3, line 6 named so."""
    text = (
        "area,date,aqi,category\r"  # 1
        "\r"  # 2
        ",2026-05-01,x3,\r"  # 3: no area
        "\r"  # 4
        ",\r"  # 5: no cell given
        "hunnan,2026-05-02,x6,\r"  # 6
    )
    _, warnings = parse_daily_aqi_csv(text.encode(), "aqi.csv", ["hunnan"], now=_NOW)
    assert [w.split(":", 1)[0] for w in warnings] == [
        "aqi.csv line 3",
        "aqi.csv line 5",
        "aqi.csv line 6",
    ]
    assert "area '' is not an area" in warnings[0] and "aqi 'x3' is not a number" in warnings[0]
    _, with_lf = parse_daily_aqi_csv(
        text.replace("\r", "\n").encode(), "aqi.csv", ["hunnan"], now=_NOW
    )
    assert warnings == with_lf


@pytest.mark.parametrize("long_line", [2, 3, 4])
def test_a_row_with_a_cell_too_many_is_left_out_and_the_others_imported(long_line: int) -> None:
    """One bad record never stops the others: a row with more cells than the header is
    named (line, counts, the cells beyond) and not imported; the other rows are. Before,
    such a row in the middle refused the whole file ("Expected 3 fields in line 3, saw 4"),
    and as the first data row it made pandas take the first column for the index, so every
    row was read shifted and refused ("area '2026-05-01' is not an area …")."""
    rows = ["hunnan,2026-05-01,40", "hunnan,2026-05-02,41", "hunnan,2026-05-03,42"]
    rows[long_line - 2] += ",extra"
    data = ("area,date,aqi\n" + "\n".join(rows) + "\n").encode()
    frame, warnings = parse_daily_aqi_csv(data, "aqi.csv", ["hunnan"], now=_NOW)
    kept = [f"2026-05-0{i}" for i in (1, 2, 3) if i != long_line - 1]
    assert frame["date"].tolist() == kept
    assert frame["aqi"].tolist() == [40.0 + int(d[-1]) - 1 for d in kept]
    assert warnings == [
        f"aqi.csv line {long_line}: a row with 4 cells where the header has 3 (the cells "
        "beyond, 'extra', belong to no column); check the row's separators (not imported)"
    ]


def test_an_indicator_row_with_a_cell_too_many_is_left_out_and_the_others_imported() -> None:
    text = "target,date,value\nparks,2026-05-01,3,4\nparks,2026-05-02,5\n"
    targets = {"parks": ("count", 2026, ())}
    frame, warnings = parse_indicator_csv(text.encode(), "ind.csv", targets, now=_NOW)
    assert frame[["date", "value"]].values.tolist() == [["2026-05-02", "5"]]
    assert len(warnings) == 1 and warnings[0].startswith("ind.csv line 2: a row with 4 cells")


def test_text_after_a_closing_quote_is_read_as_the_lenient_reader_reads_it() -> None:
    # `"4"0` is no strict CSV; read as `40`, as pandas' C reader and `envmon calc` read it.
    data = b'area,date,aqi\nhunnan,2026-05-01,"4"0\n'
    frame, warnings = parse_daily_aqi_csv(data, "aqi.csv", ["hunnan"], now=_NOW)
    assert frame["aqi"].tolist() == [40.0] and warnings == []


def test_a_quote_never_closed_refuses_the_file_naming_its_line() -> None:
    data = b'area,date,aqi,category\nhunnan,2026-05-01,40,good\nhunnan,2026-05-02,41,"good\n'
    with pytest.raises(InputError) as err:
        parse_daily_aqi_csv(data + b"hunnan,2026-05-03,42,good\n", "aqi.csv", ["hunnan"])
    assert str(err.value) == (
        'aqi.csv: a quote (") opened on line 3 is never closed, so the rest of the file '
        "would be one cell; close the quote and import the file again"
    )


def test_a_header_naming_a_column_twice_is_refused() -> None:
    # pandas renamed the second `aqi` to `aqi.1` and read the first silently.
    with pytest.raises(InputError, match="the header names 'aqi' more than once"):
        parse_daily_aqi_csv(b"area,date,aqi,aqi\nhunnan,2026-05-01,40,41\n", "a.csv", ["hunnan"])


def test_a_file_of_only_long_rows_says_so_not_header_only() -> None:
    data = b"area,date,aqi\nhunnan,2026-05-01,40,1\n"
    frame, warnings = parse_daily_aqi_csv(data, "aqi.csv", ["hunnan"], now=_NOW)
    assert frame.empty and len(warnings) == 1 and "a row with 4 cells" in warnings[0]


@pytest.mark.parametrize("header_end", [",,", ",,,", ",,\r\n"])
def test_a_header_with_empty_trailing_cells_is_read_as_before(header_end: str) -> None:
    # A spreadsheet's export leaves empty header cells after the last column; pandas named
    # them `Unnamed: 3`, ... and the file was imported. They name no column, not one twice.
    data = f"area,date,aqi{header_end}\nhunnan,2026-05-01,40,,\n".encode()
    frame, warnings = parse_daily_aqi_csv(data, "aqi.csv", ["hunnan"], now=_NOW)
    assert frame["aqi"].tolist() == [40.0] and warnings == []
    targets = {"parks": ("count", 2026, ())}
    data = b"target,,date,value,\nparks,,2026-05-01,3,\n"
    frame, warnings = parse_indicator_csv(data, "ind.csv", targets, now=_NOW)
    assert frame["value"].tolist() == ["3"] and warnings == []


def test_a_quote_opened_after_text_after_a_closing_quote_and_never_closed_refuses_the_file() -> (
    None
):
    # The strict reader gives up on line 2 at `x` (text after a closing quote) and skips the
    # rest of that line, so it never sees the quote `"40` open; the lenient reader does, and
    # lines 3-4 would be read silently as the aqi cell of line 2.
    data = b'area,date,aqi\nhunnan,"2026-05-01"x,"40\nhunnan,2026-05-02,41\nhunnan,2026-05-03,42\n'
    with pytest.raises(InputError, match=r'a quote \("\) .*line 2 is never closed'):
        parse_daily_aqi_csv(data, "aqi.csv", ["hunnan"], now=_NOW)


def test_empty_cells_beyond_the_header_are_no_cells_too_many() -> None:
    """A spreadsheet's export often ends some rows with empty cells (`…,40,`, `…,41, ,`):
    they hold nothing that could belong to a column, so the row is read; a row whose cells
    beyond the header hold text is still left out."""
    data = (
        b"area,date,aqi\nhunnan,2026-05-01,40,\nhunnan,2026-05-02,41, ,\nhunnan,2026-05-03,42,x\n"
    )
    frame, warnings = parse_daily_aqi_csv(data, "aqi.csv", ["hunnan"], now=_NOW)
    assert frame["aqi"].tolist() == [40.0, 41.0]
    assert len(warnings) == 1 and warnings[0].startswith("aqi.csv line 4: a row with 4 cells")
