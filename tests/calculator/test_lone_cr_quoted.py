"""Quoted files whose lines end with a lone CR (old Mac exports), or with CR and CRLF mixed,
through ``envmon calc aqi`` and ``envmon calc water-class``.

In a file with quotes a lone CR may end a line or sit inside a quoted cell. pandas' C
reader, which read such files, dropped the empty first cell of a line beginning with a
comma after a blank line so ended: the row's time was read as its site, its value as its
time (``time 'x5' is not an ISO 8601 time``), and a line of only ``,`` was lost, so the
rows could no longer be matched to the lines and every line number fell back, silently, to
the row's place + 2. Such files are now read by the reader that follows the quotes (the
Python one, whose records are the lines counted); a file whose rows still cannot be matched
to its lines says so (``line numbers unavailable``) and names rows ``data row N``.

The line of each row is counted by hand in the comments (header = line 1; a blank line and
each line of a quoted cell over lines count, as an editor numbers them).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from pathlib import Path

import numpy as np
import pytest

from monitor.calculator.table import LINES_UNKNOWN, read_input_csv, summarise_problems
from monitor.cli import main
from tests.calculator.running import run_calc

#: Each row's bad value names the line it starts on (x3 → line 3); ``M`` is the
#: measurement column of the command.
_LINES = [
    "site,time,M,note\r",  # 1
    "\r",  # 2: blank
    '"A",2026-05-01T01:00,x3,"a"\r',  # 3
    "\r",  # 4: blank, ended by a lone CR
    ',2026-05-01T02:00,x5,"b"\r',  # 5: no site (begins with a comma, after the blank line)
    '"B",2026-05-01T03:00,7,"two\rlines"\r',  # 6-7: a lone CR inside quotes
    '"C",2026-05-01T04:00,x8,"c"\r\n',  # 8: CRLF among lone CRs
    '"D",2026-05-01T05:00,8,"lf\nin"\r',  # 9-10: a LF inside quotes
    '"E",2026-05-01T06:00,x11,e\r',  # 11
    "\r",  # 12: blank
    ",\r",  # 13: only a comma (lost before)
]

#: (site, time, value, note) of each row in the file's order.
_ROWS = [
    ("A", "2026-05-01T01:00", "x3", "a"),
    ("", "2026-05-01T02:00", "x5", "b"),
    ("B", "2026-05-01T03:00", "7", "two\rlines"),
    ("C", "2026-05-01T04:00", "x8", "c"),
    ("D", "2026-05-01T05:00", "8", "lf\nin"),
    ("E", "2026-05-01T06:00", "x11", "e"),
    ("", "", "", ""),
]

_COLUMN = {"aqi": "pm2_5", "water-class": "do"}


def _file(command: str, *, lone_cr_as_lf: bool = False) -> bytes:
    """The file for ``command``; with ``lone_cr_as_lf`` the same with LF where a lone CR
    ends a line (the CRLF and the CR inside quotes kept)."""
    lines = [
        line[:-1] + "\n" if lone_cr_as_lf and line.endswith("\r") else line for line in _LINES
    ]
    return "".join(lines).replace(",M,", f",{_COLUMN[command]},", 1).encode("utf-8")


def _calc(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, data: bytes
) -> tuple[list[list[str]], list[str]]:
    source = tmp_path / "in.csv"
    source.write_bytes(data)
    out, warnings = run_calc(tmp_path, capsys, [command, str(source)])
    rows = list(csv.reader(io.StringIO(out.decode("utf-8"), newline="")))
    return rows, warnings


@pytest.mark.parametrize("command", ["aqi", "water-class"])
def test_every_row_lands_in_its_columns_and_is_named_by_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    data = _file(command)
    assert data.count(b"\r") - data.count(b"\r\n") == 11  # (lone CRs: 10 line ends, 1 cell)
    rows, warnings = _calc(tmp_path, capsys, command, data)
    header, body = rows[0], rows[1:]
    assert [(r[0], r[1]) for r in body] == [(site, time) for site, time, _, _ in _ROWS]
    if command == "water-class":  # (the input columns are written as read)
        at = header.index("note")
        assert [(r[2], r[at]) for r in body] == [(v, note) for _, _, v, note in _ROWS]
    problems = [r[header.index("input_problems")] for r in body]
    assert "site is empty" in problems[1] and "'x5' is not a number" in problems[1]
    assert "time '' is not an ISO 8601 time" in problems[6] and "site is empty" in problems[6]
    assert problems[2] == problems[4] == ""  # (B and D: rated)
    named = {}
    for line in warnings:
        match = re.match(r"envmon: warning: line (\d+): (.*)", line)
        if match:
            bad = re.search(r"'x(\d+)' is not a number", match.group(2))
            named[int(bad.group(1)) if bad else "no site, no time"] = int(match.group(1))
    assert named == {3: 3, 5: 5, 8: 8, 11: 11, "no site, no time": 13}


@pytest.mark.parametrize("command", ["aqi", "water-class"])
def test_the_same_file_with_lf_line_ends_gives_the_same_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    with_lf = _file(command, lone_cr_as_lf=True)
    assert b"\r\r" not in with_lf and with_lf.count(b"\r") == 2  # (the CRLF, the CR in a cell)
    assert _calc(tmp_path, capsys, command, _file(command)) == _calc(
        tmp_path, capsys, command, with_lf
    )


def test_rows_not_matched_to_lines_are_named_so_never_by_a_wrong_line(tmp_path: Path) -> None:
    """When the rows read cannot be matched to the file's lines, the warnings say so first
    and name rows by their place among the data rows (before, they named the row's place +
    2 as its line, without a word)."""
    source = tmp_path / "in.csv"
    source.write_bytes(b"site,time,pm2_5\n\nA,2026-05-01T01:00,x\nB,2026-05-01T02:00,y\n")
    table = read_input_csv(source, ["pm2_5"])
    assert table.lines_known
    assert summarise_problems(table) == (
        "line 3: pm2_5 'x' is not a number",
        "line 4: pm2_5 'y' is not a number",
    )
    unknown = dataclasses.replace(table, lines_known=False)
    assert summarise_problems(unknown) == (
        LINES_UNKNOWN,
        "data row 1: pm2_5 'x' is not a number",
        "data row 2: pm2_5 'y' is not a number",
    )
    assert unknown.row_names(np.array([1])) == ["data row 2"]


@pytest.mark.parametrize("scale", ["hour", "day"])
def test_no_usable_row_with_lines_unknown_still_names_the_first_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], scale: str
) -> None:
    """The error for a file without a usable row quotes its first problem. When the rows
    could not be matched to the lines it quoted only the first line of the warnings, the
    note that line numbers are unavailable ("the rows below ..."), and no row nor problem
    (found by the csvfix review)."""
    source = tmp_path / "in.csv"
    # (text after a closing quote, a quote opened and never closed: pandas' C reader reads
    # two rows; Python's csv module, which counts the lines, finds other records)
    source.write_bytes(b'site,time,pm2_5\r\nA,nope,1\n"a"b"c,nope2,2\nd\r\n"')
    assert not read_input_csv(source, ["pm2_5"]).lines_known  # (the premise)
    assert main(["calc", "aqi", "--scale", scale, str(source)]) == 2
    err = capsys.readouterr().err
    assert "data row 1: time 'nope' is not an ISO 8601 time (e.g. 2026-03-01T16:00)" in err
    assert LINES_UNKNOWN in err  # (the reader learns why the row is not named by its line)


@pytest.mark.parametrize("command", ["aqi", "water-class"])
def test_a_header_beginning_with_a_comma_after_a_blank_line_keeps_its_first_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    """The header of a file that goes to the Python reader is read by that reader too.

    A header whose first name is empty (``,site,time,...``: pandas' ``to_csv`` writes its
    index so) after a blank line ended by a lone CR: the header was read by pandas' C
    reader, which drops the empty first cell there (3 names), the rows by the Python one
    (4 cells each): every row was "a row with 4 cells where the header has 3", not rated,
    and the file refused (found by the csvfix review)."""
    column = _COLUMN[command]
    lines = [
        "\r",  # 1: blank, ended by a lone CR
        f',"site",time,{column}\r',  # 2: the header, its first name empty
        "\r",  # 3: blank
        ",A,2026-03-01T08:00,5\r",  # 4
        '0,"B",2026-03-01T09:00,6\r',  # 5
    ]
    rows, warnings = _calc(tmp_path, capsys, command, "".join(lines).encode("utf-8"))
    read = [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
    assert [(r["site"], r["time"], r["input_problems"]) for r in read] == [
        ("A", "2026-03-01T08:00", ""),
        ("B", "2026-03-01T09:00", ""),
    ]
    if command == "water-class":  # (its output repeats the input's columns)
        assert [r[column] for r in read] == ["5", "6"]
    assert not any("cells where the header has" in w for w in warnings)


@pytest.mark.parametrize("command", ["aqi", "water-class"])
@pytest.mark.parametrize(
    "before",
    [
        pytest.param('"C",2026-03-01T07:00,5\r', id="plain"),
        # text after a closing quote first (the strict csv reader stops there)
        pytest.param('"C"x,2026-03-01T07:00,5\r', id="text-after-a-quote-first"),
    ],
)
def test_a_quote_never_closed_refuses_the_file_not_the_rest_of_it_as_one_cell(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, before: str
) -> None:
    """A quote opened and never closed: the rest of the file would be one cell. pandas' C
    reader refuses such a file ("EOF inside string"); the Python reader that csvfix gave
    the quoted lone-CR files holding ``\\r,`` closed the quote at the end instead, so rows
    D and E became the site of row B, reported only as "time '' is not an ISO 8601 time"
    (exit 0; found by the csvfix review). Now refused, naming the line of the quote."""
    column = _COLUMN[command]
    lines = [
        f'"site",time,{column}\r',  # 1
        "\r",  # 2: blank
        ",A,2026-03-01T08:00\r",  # 3: begins with a comma after the blank line
        before,  # 4
        '"B,2026-03-01T09:00,6\r',  # 5: the quote never closed
        "D,2026-03-01T10:00,7\r",  # 6
        "E,2026-03-01T11:00,8\r",  # 7
    ]
    source = tmp_path / "in.csv"
    source.write_bytes("".join(lines).encode("utf-8"))
    assert main(["calc", command, str(source)]) == 2
    err = capsys.readouterr().err
    assert 'a quote (") opened on line 5 is never closed' in err
