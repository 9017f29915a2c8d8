"""How ``envmon import --format daily-aqi-csv`` / ``indicators-csv`` read their files.

* Layering: the collector reads CSV with the neutral :mod:`monitor.csvfile`, not with the
  calculator's module (``monitor.calculator`` is the CLI's ``envmon calc``; an adapter
  importing it tied the two boundaries together).
* Quoted files are read once (before: a strict pass over the whole text to find a quote
  never closed, then the lenient pass), the text handed to the reader a line at a time and
  the rows kept column by column: what is held besides the file's bytes and the result is a
  small multiple of the file (before: about ten times it, 152 MB above the result for a
  quoted file of 200,000 rows, 15 MB).
* Lone CR line ends (old Mac exports), mixed with CRLF, and CR or LF inside quoted cells:
  every row in its columns, every warning naming the line the row starts on. (The csv
  module follows the quotes, so this path read them right already; pinned here, end to
  end, beside the calculator's fix in ``tests/calculator/test_lone_cr_quoted.py``.)
"""

from __future__ import annotations

import ast
import gc
import sqlite3
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pytest

import monitor.collectors.bureau_csv
import monitor.csvfile
from monitor.collectors.bureau_csv import parse_daily_aqi_csv, parse_indicator_csv
from monitor.errors import InputError
from tests.test_cli_ledger import config, run

__all__ = ["config"]  # the fixture, used by name

_NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _imported(module: object) -> set[str]:
    source = Path(str(getattr(module, "__file__", ""))).read_text(encoding="utf-8")
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_collector_reads_csv_without_the_calculator() -> None:
    assert "monitor.csvfile" in _imported(monitor.collectors.bureau_csv)
    assert not any(
        n == "monitor.calculator" or n.startswith("monitor.calculator.")
        for n in _imported(monitor.collectors.bureau_csv)
    )
    # the neutral module imports nothing of the project but its errors (a leaf module)
    assert {n for n in _imported(monitor.csvfile) if n.startswith("monitor")} <= {"monitor.errors"}


#: A quoted file, lines ended by a lone CR, one CRLF; the line of each row by hand.
_LINES = [
    '"area","date","aqi","category"\r',  # 1
    "\r",  # 2: blank
    '"hunnan","2026-05-01","x3","good"\r',  # 3: not a number
    "\r",  # 4: blank
    ',"2026-05-02","41","b"\r',  # 5: no area (begins with a comma, after a blank line)
    '"hunnan","2026-05-03","42","two\rlines"\r',  # 6-7: a lone CR inside quotes
    '"hunnan","2026-05-04","x8","c"\r\n',  # 8: CRLF among lone CRs
    '"hunnan","2026-05-05","45","lf\nin"\r',  # 9-10: a LF inside quotes
    '"hunnan","2026-05-06","x11",e\r',  # 11
    "\r",  # 12: blank
    ",\r",  # 13: only a comma
]
_LONE_CR = "".join(_LINES)


def test_lone_cr_line_ends_through_envmon_import(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "aqi.csv"
    path.write_bytes(_LONE_CR.encode("utf-8"))
    code, out, err = run(config, "import", "--format", "daily-aqi-csv", str(path), capsys=capsys)
    assert code == 0, err
    named = [
        line.split(f"{path} ", 1)[1].split(":", 1)[0]
        for line in (out + err).splitlines()
        if f"{path} line " in line
    ]
    assert named == ["line 3", "line 5", "line 8", "line 11", "line 13"]
    assert "aqi 'x3' is not a number" in out + err
    assert "area '' is not an area" in out + err
    with sqlite3.connect(tmp_path / "ledger.sqlite") as db:
        stored = db.execute(
            "SELECT area, date, aqi, category FROM official_daily_aqi ORDER BY date"
        ).fetchall()
    assert stored == [
        ("hunnan", "2026-05-03", 42.0, "two\rlines"),
        ("hunnan", "2026-05-05", 45.0, "lf\nin"),
    ]


def test_lone_cr_line_ends_read_as_lf_line_ends() -> None:
    frame, warnings = parse_daily_aqi_csv(_LONE_CR.encode(), "a.csv", ["hunnan"], now=_NOW)
    # the same file with LF where a lone CR ends a line (the CRLF, the CR in a cell kept)
    with_lf = "".join(line[:-1] + "\n" if line.endswith("\r") else line for line in _LINES)
    assert with_lf.count("\r") == 2  # (the CRLF and the CR inside quotes)
    frame_lf, warnings_lf = parse_daily_aqi_csv(with_lf.encode(), "a.csv", ["hunnan"], now=_NOW)
    assert warnings == warnings_lf and frame.equals(frame_lf)


def test_a_row_repeated_identically_with_no_aqi_is_imported_once() -> None:
    """ "A row repeated identically is imported once" (the module's rule). An empty aqi is
    NaN, which never equals itself: two identical rows without an AQI were refused as a
    conflict ("same area, date as line(s) 3 with a different content")."""
    data = b"area,date,aqi\nhunnan,2026-05-01,\nhunnan,2026-05-01,\nhunnan,2026-05-02,40\n"
    frame, warnings = parse_daily_aqi_csv(data, "a.csv", ["hunnan"], now=_NOW)
    assert warnings == []
    assert frame["date"].tolist() == ["2026-05-01", "2026-05-02"]
    assert frame["aqi"].isna().tolist() == [True, False]


def test_conflicts_name_each_others_lines_as_before() -> None:
    data = (
        b"target,date,value\nparks,2026-05-01,3\nparks,2026-05-01,3\n"
        b"parks,2026-05-02,4\nparks,2026-05-02,5\nparks,2026-05-03,6\n"
    )
    frame, warnings = parse_indicator_csv(data, "i.csv", {"parks": ("count", 2026, ())}, now=_NOW)
    assert frame[["date", "value"]].values.tolist() == [["2026-05-01", "3"], ["2026-05-03", "6"]]
    assert [w.split(":", 1)[0] for w in warnings] == ["i.csv line 4", "i.csv line 5"]
    assert "as line(s) 5" in warnings[0] and "as line(s) 4" in warnings[1]


def _quoted_file(rows: int) -> bytes:
    lines = ['"area","date","aqi","category","primary_pollutants","dust"\r\n']
    for i in range(rows):
        day = f"20{10 + i // 3650:02d}-{1 + i // 300 % 12:02d}-{1 + i // 10 % 28:02d}"
        lines.append(f'"a{i % 10}","{day}","{i % 300}","良","细颗粒物(PM2.5)","false"\r\n')
    return "".join(lines).encode("utf-8")


def test_a_quoted_file_is_read_without_copies_of_it() -> None:
    """What the read holds at its peak besides the file's bytes and the result it returns
    stays below four times the file (tracemalloc, which counts Python's allocations, not
    the clock). Before: about ten times (a strict pass, the text copied whole into an
    ``io.StringIO`` of four bytes a character, every row as a list, a dict and a frame)."""
    data = _quoted_file(10_000)
    areas = [f"a{i}" for i in range(10)]
    gc.collect()
    tracemalloc.start()
    try:
        frame, warnings = parse_daily_aqi_csv(data, "q.csv", areas, now=_NOW)
        gc.collect()
        kept, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(frame) + len(warnings) >= 10_000 - 10  # (a few same area and date: conflicts)
    assert peak - kept < 4 * len(data), (peak - kept, len(data))


@pytest.mark.parametrize("encoding", ["gbk", "utf-8-sig"])
def test_gbk_and_a_byte_order_mark_read_as_utf_8(encoding: str) -> None:
    """The text is decoded a block at a time now (UTF-8, else GBK/GB18030, checked before
    the first row is read): the same rows as from UTF-8, the BOM not part of the header."""
    text = (
        '"area","date","aqi","category"\r\n"hunnan","2026-05-01","40","优"\r\n'
        '"hunnan","2026-05-02","x","良"\r\n'
    )
    frame, warnings = parse_daily_aqi_csv(text.encode(encoding), "a.csv", ["hunnan"], now=_NOW)
    expected, _ = parse_daily_aqi_csv(text.encode("utf-8"), "a.csv", ["hunnan"], now=_NOW)
    assert frame.equals(expected) and frame["category"].tolist() == ["优"]
    assert warnings == ["a.csv line 3: aqi 'x' is not a number (not imported)"]


def test_a_file_in_no_known_encoding_is_refused_naming_it() -> None:
    with pytest.raises(InputError, match="cannot decode the file; expected UTF-8 or GBK text"):
        parse_daily_aqi_csv(b"area,date,aqi\n\xff\xfe\xff,2026-05-01,40\n", "a.csv", ["x"])
