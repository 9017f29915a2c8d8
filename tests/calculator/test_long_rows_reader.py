"""Reading a file without quotes that the columnar reader refuses (blank lines, rows with
fewer or more cells than the header, lone CRs …): each line is then a row and its cells are
the texts between its commas, so the lines and their commas are counted column-wise first
(which also gives each row's line, :func:`monitor.calculator.table.record_lines`).

Rows with more cells than the header used to send the whole file to pandas' Python reader:
a 576,000-row file took 4.1 s and 836 MB against 1.3 s / 433 MB for one with a blank line
(issue "Speed where users feel it"; ``benchmarks/bench_calc_irregular.py`` measures both).
Now pandas' C reader reads the header's cells of every line and the cells beyond them are
split here. The frame must be the one read before — pandas' C reader's, or its Python
reader's when rows are long (``tests/calculator/test_ragged_rows.py`` pins that one through
``envmon calc``): checked here on generated texts with blank and white-space lines, short
and long rows, and LF, CRLF and lone-CR line ends.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.calculator import table
from monitor.calculator.table import record_lines

_CELL = st.sampled_from(["", "A", "30", " 4 ", "NA", "é站", "\t", "\f", "\xa0", "x;y"])
_LINE = st.one_of(
    st.lists(_CELL, min_size=1, max_size=7).map(",".join),  # short, full and long rows
    st.sampled_from(["", " ", " \t ", "\f", "\xa0", "\u3000"]),  # blank or white space
)
_END = st.sampled_from(["\n", "\r\n", "\r"])


@st.composite
def _texts(draw: st.DrawFn) -> str:
    lead = draw(st.lists(st.sampled_from(["", "  ", "\t"]), max_size=2))
    lines = [*lead, "site,time,pm2_5,pm10", *draw(st.lists(_LINE, min_size=1, max_size=12))]
    ends = draw(st.lists(_END, min_size=len(lines), max_size=len(lines)))
    last = draw(st.booleans())  # a line end after the last line, or not
    return "".join(line + end for line, end in zip(lines, ends, strict=True))[
        : None if last else -len(ends[-1])
    ]


def _cells(frame: pd.DataFrame) -> list[list[object]]:
    return [
        [None if isinstance(v, float) and np.isnan(v) else v for v in row]
        for row in frame.to_numpy(dtype=object).tolist()
    ]


def _as_before(text: str) -> pd.DataFrame:
    """The frame :func:`table._read_with_pandas` gave before :func:`table._read_unquoted`:
    pandas' C reader, or its Python one (:func:`table._read_long_rows`) for long rows."""
    try:
        read = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
        if isinstance(read.index, pd.RangeIndex):
            return read
    except pd.errors.ParserError:
        pass
    return table._read_long_rows(text, "in.csv")


@settings(max_examples=400, deadline=None)
@given(_texts())
def test_the_column_wise_reader_gives_the_frame_of_before(text: str) -> None:
    try:
        expected = _as_before(text)
    except Exception as err:  # (the same refusal is wanted below)
        found = table._read_unquoted(text)
        assert found is None, f"read what was refused ({err})"
        return
    found = table._read_unquoted(text)
    if found is None:
        # the one case left to the Python reader: a line after a lone CR begins with a
        # comma (pandas' C reader drops that empty first cell, and does not skip the line)
        assert "\r," in text
        return
    assert list(found.columns) == list(expected.columns)
    assert _cells(found) == _cells(expected)
    # each row's line: as record_lines counts it for the reader used before
    lines = record_lines(text, len(expected), python_reader=table._EXTRA_CELLS in expected.columns)
    assert lines is not None
    assert found.attrs["row lines"].tolist() == lines.tolist()


def test_a_long_row_is_split_as_the_python_reader_splits_it() -> None:
    """A fixed case (readable on failure): lines 3 and 6 long, 4 short, 5 blank."""
    text = "site,time,pm2_5\r\nA,t1,1\r\nA,t2,2,3,4\r\nA\r\n\f\r\nB,t3,5,\r\n"
    fast = table._read_unquoted(text)
    assert fast is not None
    assert _cells(fast) == [
        ["A", "t1", "1", None],
        ["A", "t2", "2", "3\x1f4"],
        ["A", "", "", None],
        ["B", "t3", "5", ""],
    ]
    assert fast.attrs["row lines"].tolist() == [2, 3, 4, 6]
