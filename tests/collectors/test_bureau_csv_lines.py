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
