"""Rows whose cell count differs from the header's, in ``envmon calc aqi`` and
``envmon calc water-class``.

* **More cells than the header** (a stray separator, a decimal comma, a trailing comma):
  which cell belongs to which column is unknown, so the row is not rated; it keeps its
  place in the output (its first cells under the header's names), and ``input_problems``
  and the warning name its line, its cell count, the header's, and the cells that did not
  fit — as ``envmon import`` reports such a row (``docs/concepts.md``, "Lines and broken
  rows in CSV files"). The other rows are rated as usual.

  Before, one such row stopped the whole file (exit 2, pandas' "Expected 4 fields in line
  3, saw 5"), and a file whose every row had one cell too many was read shifted by one
  column (pandas takes the first column as the index: the site read as the time …).
* **Fewer cells than the header** (trailing empty cells left out): the missing cells are
  read as empty, i.e. missing values, without a problem — as before the columnar reader
  (pandas fills them so) and as ``envmon import`` reads such a row; pinned here.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from monitor.cli import main
from tests.calculator.test_air import rows

_HEADER = "site,time,pm2_5,pm10\n"


def _calc(
    tmp_path: Path, text: str, *args: str, command: str = "aqi"
) -> tuple[list[dict[str, str]], str]:
    source = tmp_path / "in.csv"
    source.write_text(text, encoding="utf-8")
    out = tmp_path / "out.csv"
    assert main(["calc", command, *args, str(source), "-o", str(out)]) == 0
    return rows(out), out.read_text(encoding="utf-8")


def test_a_row_with_more_cells_is_reported_and_the_others_rated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = _HEADER + (
        "A,2026-05-01T10:00,30,50\n"
        "A,2026-05-01T11:00,40,60,70\n"  # line 3: one cell too many
        "A,2026-05-01T12:00,80,90\n"
    )
    out, _ = _calc(tmp_path, text, "--scale", "hour")
    assert [r["time"] for r in out] == [
        "2026-05-01T10:00",
        "2026-05-01T11:00",
        "2026-05-01T12:00",
    ]
    # HJ 633-2026 Table 3 (standards.md §1.1; PM2.5 35 → IAQI 50, 60 → 100, 115 → 150;
    # PM10 50 → 50, 120 → 100), rounded up: PM2.5 30 → 42.9 → 43, PM10 50 → 50: AQI 50;
    # PM2.5 80 → 100 + 50·20/55 = 118.2 → 119, PM10 90 → 78.6 → 79: AQI 119.
    assert [r["aqi"] for r in out] == ["50", "", "119"]
    problem = out[1]["input_problems"]
    assert "5 cells where the header has 4" in problem
    assert "'70'" in problem  # the cell that did not fit, kept in the message
    assert out[0]["input_problems"] == "" and out[2]["input_problems"] == ""
    assert "line 3: a row with 5 cells" in capsys.readouterr().err


def test_every_row_with_a_trailing_comma_is_not_read_shifted(tmp_path: Path) -> None:
    text = _HEADER + "A,2026-05-01T10:00,30,50,\nB,2026-05-01T11:00,40,60,\n"
    out, _ = _calc(tmp_path, text, "--standard", "hj633-2026")
    assert [(r["site"], r["time"], r["aqi"]) for r in out] == [
        ("A", "2026-05-01T10:00", ""),
        ("B", "2026-05-01T11:00", ""),
    ]
    assert all("5 cells where the header has 4" in r["input_problems"] for r in out)


def test_many_cells_too_many_and_quoted_cells(tmp_path: Path) -> None:
    text = _HEADER + (
        'A,2026-05-01T10:00,30,50,"x,y",7\n'  # line 2: two cells too many, one quoted
        "A,2026-05-01T11:00,40,60\n"
    )
    out, _ = _calc(tmp_path, text, "--scale", "hour")
    assert "6 cells where the header has 4" in out[0]["input_problems"]
    assert "'x,y,7'" in out[0]["input_problems"]
    assert out[0]["aqi"] == ""
    # HJ 633-2026 Table 3: PM2.5 40 → 50 + 50·5/25 = 60; PM10 60 → 50 + 50·10/70 → 58
    assert out[1]["aqi"] == "60"


def test_day_scale_leaves_out_only_the_long_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [f"A,2026-05-01T{h:02d}:00,40,50" for h in range(24)]
    lines[5] += ",9"  # line 7: one cell too many
    out, _ = _calc(tmp_path, _HEADER + "\n".join(lines) + "\n", "--scale", "day")
    assert (out[0]["pm2_5"], out[0]["pm2_5_count"], out[0]["pm2_5_valid"]) == ("40", "23", "true")
    assert "line 7: a row with 5 cells where the header has 4" in capsys.readouterr().err


def test_water_class_keeps_the_long_row_unrated(tmp_path: Path) -> None:
    text = "site,time,ph,do\nS1,2026-03-01T08:00,7,5,1\nS2,2026-03-01T08:00,8,5\n"
    out, written = _calc(tmp_path, text, command="water-class")
    assert [r["site"] for r in out] == ["S1", "S2"]
    assert out[0]["water_class"] == ""
    assert "5 cells where the header has 4" in out[0]["input_problems"]
    # GB 3838-2002 Table 1: DO 5 mg/L is class III (≥ 5), pH 6–9 any class
    assert out[1]["water_class"] == "III"
    header_cells = written.splitlines()[0].count(",")
    assert all(line.count(",") >= header_cells for line in written.splitlines()[1:])


def test_a_row_with_fewer_cells_reads_them_as_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = _HEADER + "A,2026-05-01T10:00,30\nA,2026-05-01T11:00,40,60\n"
    out, _ = _calc(tmp_path, text, "--scale", "hour")
    assert [(r["iaqi_pm2_5"], r["iaqi_pm10"], r["input_problems"]) for r in out] == [
        ("43", "", ""),  # PM2.5 30 → 42.9 → 43; PM10 missing
        ("60", "58", ""),  # (HJ 633-2026 Table 3, as in the test above)
    ]
    assert "envmon: warning" not in capsys.readouterr().err


def test_a_short_row_and_a_long_row_in_one_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Both kinds together: the short row's missing cells are missing values, the long row
    is reported (was: internal error, a TypeError from the reader's missing cells)."""
    text = _HEADER + (
        "A,2026-05-01T10:00,30\n"  # line 2: PM10 left out
        "A,2026-05-01T11:00,40,60,70,80\n"  # line 3: two cells too many
        "A,2026-05-01T12:00\n"  # line 4: no value at all
    )
    out, _ = _calc(tmp_path, text, "--scale", "hour")
    err = capsys.readouterr().err
    assert "internal error" not in err
    # HJ 633-2026 Table 3: PM2.5 30 → 42.9 → 43
    assert [(r["time"], r["iaqi_pm2_5"], r["iaqi_pm10"]) for r in out] == [
        ("2026-05-01T10:00", "43", ""),
        ("2026-05-01T11:00", "", ""),
        ("2026-05-01T12:00", "", ""),
    ]
    assert "6 cells where the header has 4" in out[1]["input_problems"]
    assert "'70,80'" in out[1]["input_problems"]
    assert out[0]["input_problems"] == "" and out[2]["input_problems"] == ""


def test_a_long_row_in_a_file_with_carriage_return_line_ends(tmp_path: Path) -> None:
    """Lines ended by a lone CR (classic Mac OS exports), which pandas' C reader and the
    columnar one read: the long row is reported, the others rated (was: the whole file
    refused as "a header but no data rows", pandas' Python reader seeing one line)."""
    text = _HEADER + "A,2026-05-01T10:00,30,50\nA,2026-05-01T11:00,40,60,70\n"
    out, _ = _calc(tmp_path, text.replace("\n", "\r"), "--scale", "hour")
    # HJ 633-2026 Table 3: PM2.5 30 → 43, PM10 50 → 50: AQI 50
    assert [(r["time"], r["aqi"]) for r in out] == [
        ("2026-05-01T10:00", "50"),
        ("2026-05-01T11:00", ""),
    ]
    assert "5 cells where the header has 4" in out[1]["input_problems"]


@pytest.mark.parametrize("command", ["aqi", "water-class"])
def test_a_header_repeating_a_name_is_refused_not_half_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    # docs/commands.md: duplicate columns exit 2 with one line. pandas would read the second
    # `pm2_5` (or `do`) as `pm2_5.1`, an unknown column, and its values would be lost.
    header = "site,time,pm2_5,pm2_5\n" if command == "aqi" else "site,time,do,do\n"
    source = tmp_path / "in.csv"
    # a long row sends the file to pandas' reader (the columnar one refuses such a header too)
    source.write_text(header + "A,2026-03-01T10:00,30,40\nA,2026-03-01T11:00,1,2,3\n")
    assert main(["calc", command, str(source)]) == 2
    err = capsys.readouterr().err
    assert "duplicate columns" in err and "keep one of each" in err


def test_a_row_the_strict_reader_cannot_read_is_not_lost_silently(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With a long row and a quote, pandas' Python reader reads the file; it skipped a
    row Python's strict ``csv`` reader refuses without a word (``on_bad_lines`` given a
    function), so line 3 disappeared from the output. It is read as in a file without long
    rows (pandas' C reader: ``"q"tail`` is the text ``qtail``), in its place, and the
    rows after it keep their lines."""
    source = tmp_path / "in.csv"
    source.write_text(
        "site,time,pm2_5,note\n"
        "A,2026-03-01T01:00,35,x,extra\n"  # line 2: long
        'A,2026-03-01T02:00,40,"q"tail\n'  # line 3: text after a quoted cell's end
        'A,2026-03-01T03:00,x4,"quoted\nover two lines"\n'  # line 4
        "A,2026-03-01T05:00,x6,\n",  # line 6
        encoding="utf-8",
    )
    out = tmp_path / "out.csv"
    assert main(["calc", "aqi", str(source), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    found = rows(out)
    assert [r["time"] for r in found] == [f"2026-03-01T0{h}:00" for h in (1, 2, 3, 5)]
    # rated as the same value in a plain file is
    plain, plain_out = tmp_path / "plain.csv", tmp_path / "plain_out.csv"
    plain.write_text("site,time,pm2_5\nA,2026-03-01T02:00,40\n", encoding="utf-8")
    assert main(["calc", "aqi", str(plain), "-o", str(plain_out)]) == 0
    assert found[1]["aqi"] == rows(plain_out)[0]["aqi"] != ""
    assert "line 4: pm2_5 'x4' is not a number" in err
    assert "line 6: pm2_5 'x6' is not a number" in err


def test_a_quoted_cell_longer_than_the_csv_modules_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Python's ``csv`` reads no cell over 131,072 characters (``csv.field_size_limit()``):
    pandas' Python reader (long rows and a quote) skipped such a row without a word, and
    the reader of the rows' lines gave up (every row named by its place + 2). The row is
    read, in its place, and the lines after it are named as the file numbers them."""
    assert csv.field_size_limit() == 131072  # (the premise: Python's default)
    source = tmp_path / "in.csv"
    source.write_text(
        "site,time,pm2_5,note\n"
        "A,2026-03-01T01:00,35,x,extra\n"  # line 2: long
        "\n"  # line 3
        f'A,2026-03-01T02:00,x4,"{"y" * 140_000}"\n'  # line 4
        "A,2026-03-01T03:00,x5,\n",  # line 5
        encoding="utf-8",
    )
    out = tmp_path / "out.csv"
    assert main(["calc", "aqi", str(source), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    found = rows(out)
    assert [r["time"] for r in found] == [f"2026-03-01T0{h}:00" for h in (1, 2, 3)]
    assert "line 4: pm2_5 'x4' is not a number" in err
    assert "line 5: pm2_5 'x5' is not a number" in err
    assert csv.field_size_limit() == 131072  # (as it was)
