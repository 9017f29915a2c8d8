"""Line numbers in the problems of ``envmon calc aqi`` and ``envmon calc water-class``.

"line N" is the line of the file on which the row starts, as an editor numbers them: the
first line is 1 (the header's, when nothing precedes it), blank lines count, a quoted cell
over several lines counts each of them, and a line ends with LF, CRLF or a lone CR. Before,
the numbers were the row's place + 2: every blank line (pandas skips them) and every line
of a quoted cell after the first moved the rows below it up by one.

``envmon import`` numbers lines the same way (its reader counts the file's lines:
:func:`monitor.collectors.long_csv.parse_long_csv`); the last tests read one file with both.

Each of the calculator's readers is covered: the columnar one (a regular file, also with a
quoted cell over lines), its categorical read (aqi), pandas' C reader (blank lines, lone
CRs …) and the reader of rows with more cells than the header.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.calculator.table import read_regular_csv, record_lines
from monitor.cli import main
from monitor.collectors.long_csv import parse_long_csv
from tests.calculator.test_hourly_shared_local_hour import _EARLIER, _LATER
from tests.calculator.test_hourly_shared_local_hour import _text as fall_back_text

#: the measurement column of each command, and a value each accepts
_COLUMN = {"aqi": "pm2_5", "water-class": "do"}


def _warned_lines(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    data: bytes,
    command: str = "aqi",
    *args: str,
) -> dict[str, int]:
    """Run ``envmon calc COMMAND`` on ``data``: the line each warning names, by the cell
    text it quotes (``pm2_5 'x3' is not a number`` → ``{'x3': line}``)."""
    source = tmp_path / "in.csv"
    source.write_bytes(data)
    assert main(["calc", command, *args, str(source), "-o", str(tmp_path / "out.csv")]) == 0
    found: dict[str, int] = {}
    for line in capsys.readouterr().err.splitlines():
        match = re.match(r"envmon: warning: line (\d+): .*?'([^']*)' is not a number", line)
        if match:
            found[match.group(2)] = int(match.group(1))
    return found


def _text(command: str, *lines: str) -> str:
    """A file for ``command``: ``H`` is the header, ``x<N>`` a bad value meant for line N."""
    header = f"site,time,{_COLUMN[command]}"
    return "\n".join(header if line == "H" else line for line in lines)


_BLANKS = (
    "",  # 1
    "H",  # 2
    "",  # 3
    "A,2026-05-01T10:00,x4",  # 4
    "   ",  # 5: spaces only (pandas skips it as blank)
    "\t",  # 6
    "A,2026-05-01T11:00,30",  # 7
    "",  # 8
    "A,2026-05-01T12:00,x9",  # 9
    "A,2026-05-01T13:00,x10",  # 10
    "",
    "",
)


@pytest.mark.parametrize("command", ["aqi", "water-class"])
@pytest.mark.parametrize(
    ("label", "encode"),
    [
        ("LF", lambda t: t.encode("utf-8")),
        ("CRLF", lambda t: t.replace("\n", "\r\n").encode("utf-8")),
        ("lone CR", lambda t: t.replace("\n", "\r").encode("utf-8")),
        ("BOM", lambda t: t.encode("utf-8-sig")),
        ("GBK", lambda t: t.replace("A,", "站点甲,").encode("gbk")),
    ],
)
def test_blank_lines_are_counted(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    command: str,
    label: str,
    encode: object,
) -> None:
    """Blank lines before and after the header, between rows and at the end (pandas'
    reader): each bad value's warning names the line it is on."""
    assert callable(encode)
    data = encode(_text(command, *_BLANKS))
    assert read_regular_csv(data) is None  # (pandas' reader, not the columnar one)
    found = _warned_lines(tmp_path, capsys, data, command)
    assert found == {"x4": 4, "x9": 9, "x10": 10}, label


@pytest.mark.parametrize("command", ["aqi", "water-class"])
def test_a_quoted_cell_over_lines_in_a_regular_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    """The columnar reader reads a quoted cell over lines (no blank line): the rows after
    it keep their lines."""
    text = _text(
        command,
        "H",  # 1
        "A,2026-05-01T10:00,x2",  # 2
        '"B',  # 3: a site over three lines
        "C",  # 4
        'D",2026-05-01T10:00,30',  # 5
        "A,2026-05-01T11:00,x6",  # 6
    )
    assert read_regular_csv((text + "\n").encode()) is not None  # (the columnar reader)
    found = _warned_lines(tmp_path, capsys, (text + "\n").encode(), command)
    assert found == {"x2": 2, "x6": 6}


@pytest.mark.parametrize("command", ["aqi", "water-class"])
def test_a_quoted_cell_over_lines_and_blank_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    """pandas' reader with quotes: a quoted cell holding a blank line and a line of spaces
    (part of the cell, not skipped) and blank lines between rows."""
    text = _text(
        command,
        "H",  # 1
        "",  # 2
        '"B',  # 3: a site over four lines
        "",  # 4
        "  ",  # 5
        'C",2026-05-01T10:00,x3',  # 6
        "",  # 7
        '"  ",2026-05-01T11:00,x8',  # 8: a site of spaces, quoted (a row, not blank)
        "A,2026-05-01T12:00,x9",  # 9
    )
    found = _warned_lines(tmp_path, capsys, text.replace("\n", "\r\n").encode(), command)
    assert found == {"x3": 3, "x8": 8, "x9": 9}


@pytest.mark.parametrize("command", ["aqi", "water-class"])
@pytest.mark.parametrize("quoted", [False, True])
def test_rows_with_more_cells_and_blank_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, quoted: bool
) -> None:
    """The reader of rows with more cells than the header: the long row's warning and the
    others' name their lines, with blank lines and (``quoted``) a quoted cell over lines."""
    text = _text(
        command,
        "H",  # 1
        "",  # 2
        "A,2026-05-01T10:00,x3",  # 3
        "A,2026-05-01T11:00,30,extra",  # 4: one cell too many
        "",  # 5
        # 6–7: a quoted site over two lines, or the row and a blank line
        '"B\nC",2026-05-01T12:00,x6' if quoted else "B,2026-05-01T12:00,x6\n",
        "A,2026-05-01T13:00,x8",  # 8
        "A,2026-05-01T14:00,x9",  # 9
    )
    source = tmp_path / "in.csv"
    source.write_text(text + "\n", encoding="utf-8")
    assert main(["calc", command, str(source), "-o", str(tmp_path / "out.csv")]) == 0
    err = capsys.readouterr().err
    assert "line 4: a row with 4 cells where the header has 3" in err
    found = {m[1]: int(m[0]) for m in re.findall(r"line (\d+): \S+ '(x\d+)' is not", err)}
    assert found == {"x3": 3, "x6": 6, "x8": 8, "x9": 9}


def test_the_categorical_read_keeps_the_row_place_numbering(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A regular file whose values repeat (read as categorical text by ``calc aqi``): the
    row on line N is row N - 2 — no blank line, no quote."""
    lines = ["site,time,pm2_5"] + [f"A,2026-05-01T{h % 24:02d}:00,30" for h in range(60)]
    lines[41] = "A,2026-05-02T20:00,x42"  # line 42
    data = ("\n".join(lines) + "\n").encode()
    read = read_regular_csv(data, coded=lambda name: name == "pm2_5")
    assert read is not None and isinstance(read[1].schema["c2"], pl.Categorical)
    found = _warned_lines(tmp_path, capsys, data)
    assert found == {"x42": 42}


def test_duplicates_name_the_line_of_the_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``duplicate of line N`` (same site and hour, day scale) names the file line of the
    first row."""
    hours = [f"A,2026-05-01T{h:02d}:00,40" for h in range(24)]
    # line 1 the header, 2 blank, 3–26 the hours, 27 blank, 28 the 05:00 hour again
    text = "site,time,pm2_5\n\n" + "\n".join(hours) + "\n\nA,2026-05-01T05:00,900\n"
    source = tmp_path / "in.csv"
    source.write_text(text, encoding="utf-8")
    out = tmp_path / "out.csv"
    assert main(["calc", "aqi", "--scale", "day", str(source), "-o", str(out)]) == 0
    assert "line 28: duplicate of line 8 (same site and hour)" in capsys.readouterr().err


def test_the_row_holding_a_shared_local_hour_is_named_by_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The summer-time fall-back note ("also labels line N", air.py) with blank lines: the
    hours of ``test_hourly_shared_local_hour.py`` with a blank line after each row up to
    the later row of the shared hour, so that row (row ``_LATER``) is on line
    2 + 2·``_LATER``."""
    head, *rows = fall_back_text().splitlines()
    text = "\n".join([head, *(row + "\n" for row in rows[:_LATER]), *rows[_LATER:]]) + "\n"
    source, out = tmp_path / "in.csv", tmp_path / "out.csv"
    source.write_text(text, encoding="utf-8")
    argv = ["calc", "aqi", "--scale", "hour", "--hourly-method", "standard-text"]
    assert main([*argv, "--standard", "hj633-2012", str(source), "-o", str(out)]) == 0
    capsys.readouterr()
    problems = out.read_text(encoding="utf-8").splitlines()[1 + _EARLIER]
    assert f"also labels line {2 + 2 * _LATER} " in problems


#: One file both commands read: ``envmon calc aqi`` (site,time,pm2_5) and ``envmon
#: import`` (long layout: site,time,parameter,value; the pm2_5 column an ignored extra).
_BOTH = (
    "site,time,parameter,value,pm2_5\r\n"  # 1
    "\r\n"  # 2
    "A,2026-05-01T10:00,pm2_5,x3,x3\r\n"  # 3
    "\r\n"  # 4
    '"A",2026-05-01T11:00,pm2_5,"3\r\n'  # 5: a quoted value over two lines
    '5",x5\r\n'  # 6
    "A,2026-05-01T12:00,pm2_5,x7,x7\r\n"  # 7
)


@pytest.mark.parametrize("end", ["\r\n", "\n", "\r"])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_calc_and_import_name_the_same_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], end: str, encoding: str
) -> None:
    data = _BOTH.replace("\r\n", end).replace("A,", "甲,").encode(encoding)
    found = _warned_lines(tmp_path, capsys, data)
    assert found == {"x3": 3, "x5": 5, "x7": 7}
    _, warnings = parse_long_csv(data, "in.csv")
    imported = {
        m[1]: int(m[0])
        for w in warnings
        for m in re.findall(r"in\.csv line (\d+): value '([^']*)' is not a number", w)
    }
    assert imported == {"x3": 3, repr(f"3{end}5")[1:-1]: 5, "x7": 7}


_ODD_CELL = st.sampled_from(
    ["x", "", " ", '"q"', '"a\nb"', '"a,b"', 'y"z', '"p""q"', '"\n\n"', '"a"b', ' "s"', 'a"']
)


@st.composite
def _odd_texts(draw: st.DrawFn) -> str:
    """Rows ``r<i>,…`` with quoted cells over lines, stray quotes, blank and white-space
    lines between them, one kind of line end."""
    parts = ["h0,h1,h2"]
    for i in range(draw(st.integers(1, 6))):
        parts += draw(st.lists(st.sampled_from(["", " ", "\t"]), max_size=2))
        parts.append(f"r{i}," + ",".join(draw(st.lists(_ODD_CELL, min_size=2, max_size=2))))
    end = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    return (end.join(parts) + draw(st.sampled_from(["", end]))).replace("\n", end)


@settings(max_examples=300, deadline=None)
@given(_odd_texts())
def test_each_row_starts_on_the_line_named(text: str) -> None:
    """:func:`record_lines` against pandas' C reader (the calculators' reader of irregular
    files): row ``r<i>`` begins the line named for it."""
    frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    found = record_lines(text, len(frame))
    assert found is not None
    physical = re.split(r"\r\n|\r|\n", text)
    for i, line in enumerate(found):
        assert frame.iloc[i, 0] == f"r{i}"
        assert physical[line - 1].startswith(f"r{i},")


def test_rows_with_more_cells_after_lone_crs_read_by_the_python_reader(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Lone-CR line ends and a line beginning with a comma: a long row then sends the file
    to pandas' Python reader (its C reader drops such a line's empty first cell); its rows'
    lines are counted as that reader reads them (the line of white space skipped)."""
    text = (
        "site,time,pm2_5\r"  # 1
        "\r"  # 2
        ",2026-05-01T10:00,x3\r"  # 3: no site
        "\f\r"  # 4: one cell of white space (the Python reader skips it)
        "A,2026-05-01T11:00,30,extra\r"  # 5: one cell too many
        "A,2026-05-01T12:00,x6\r"  # 6
    )
    err = _calc_aqi_err(tmp_path, capsys, text)
    assert "line 3: site is empty | pm2_5 'x3' is not a number" in err
    assert "line 5: a row with 4 cells where the header has 3" in err
    assert "line 6: pm2_5 'x6' is not a number" in err


def test_a_line_beginning_with_a_comma_after_a_blank_line_ended_by_a_lone_cr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Lone-CR line ends, no quote, no long row (pandas' C reader): after a blank line,
    that reader dropped the empty first cell of a line beginning with a comma — line 3's
    cells moved one column left (its time read as the site, ``x3`` as the time), and line
    5 (``,``: all cells empty) vanished, so no row's line could be counted (every row was
    named by its place + 2, line 6's row as line 5). Each is read as with LF line ends."""
    text = (
        "site,time,pm2_5\r"  # 1
        "\r"  # 2
        ",2026-05-01T10:00,x3\r"  # 3: no site
        "\r"  # 4
        ",\r"  # 5: no cell given
        "A,2026-05-01T12:00,x6\r"  # 6
    )
    err = _calc_aqi_err(tmp_path, capsys, text)
    assert "line 3: site is empty | pm2_5 'x3' is not a number" in err
    assert "line 5: time '' is not an ISO 8601 time" in err
    assert "line 6: pm2_5 'x6' is not a number" in err
    same_with_lf = tmp_path / "lf.csv"
    same_with_lf.write_bytes(text.replace("\r", "\n").encode())
    assert main(["calc", "aqi", str(same_with_lf), "-o", str(tmp_path / "lf_out.csv")]) == 0
    capsys.readouterr()
    assert (tmp_path / "out.csv").read_bytes() == (tmp_path / "lf_out.csv").read_bytes()


def test_a_quoted_cell_longer_than_the_csv_modules_limit_in_a_regular_layout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """pandas' C reader reads a cell of any length; the lines were counted with Python's
    ``csv``, which refuses one over 131,072 characters: every row was then named by its
    place + 2 (line 4 as line 3)."""
    text = (
        "site,time,pm2_5,note\n"  # 1
        "\n"  # 2
        f'A,2026-05-01T10:00,x3,"{"y" * 140_000}"\n'  # 3
        "A,2026-05-01T11:00,x4,\n"  # 4
    )
    found = _warned_lines(tmp_path, capsys, text.encode())
    assert found == {"x3": 3, "x4": 4}


def _calc_aqi_err(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str) -> str:
    """What ``envmon calc aqi`` of a file of ``text`` (UTF-8) says on stderr (exit 0)."""
    source = tmp_path / "in.csv"
    source.write_bytes(text.encode())
    assert main(["calc", "aqi", str(source), "-o", str(tmp_path / "out.csv")]) == 0
    return capsys.readouterr().err
