"""Excel imports read in chunks (issue 16's rule: memory does not grow with the input file).

``stream_xlsx`` and ``import_files(format="xlsx", chunk_rows=…)`` are run with chunks of 1, 7
and many rows on a workbook that holds, on several sheets in both layouts, every kind of row
the whole-workbook parser reports (a title row above a header, skipped sheets, ignored
columns, conflicting duplicates on different sheets, identical repeats, blank rows, bad
values and times, times in the future or off the hour, unit conversion, Excel date cells and
serial numbers), and compared with ``parse_xlsx`` of the whole workbook: the same
observations, the very same warnings in the same order, the same report counts. The memory
bound itself is measured by ``benchmarks/bench_import_memory.py --format xlsx``.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from monitor.collectors.intake import HEADER_ONLY, admit
from monitor.collectors.xlsx_import import parse_xlsx, stream_xlsx
from monitor.errors import InputError
from monitor.ledger import Ledger
from monitor.service.pipeline import IMPORT_FORMATS, import_files
from monitor.settings import Settings
from tests.collectors.test_xlsx_import import book_bytes

NOW = datetime(2026, 3, 10, tzinfo=UTC)
KEY = ["site", "parameter", "period_end"]
SOURCE = IMPORT_FORMATS["xlsx"]

# Row numbers in the comments are the sheet's (1-based, as Excel shows them).
SHEETS: dict[str, list[list[object]]] = {
    "说明": [["浑南区监测数据，本页为说明"], ["site 与 time 见下页"]],  # skipped: no header
    "air": [
        ["浑南区空气质量小时数据"],  # 1: a title above the header
        ["站点", "时间", "项目", "数值", "单位", "extra"],  # 2: header (extra ignored)
        ["A", datetime(2026, 3, 1, 1), "pm2_5", 35, "ug/m3", "x"],  # 3
        ["A", "2026-03-01T02:00", "pm2_5", 36, None, None],  # 4: conflicts with 10, lab 3
        [None, None, None, None, None, None],  # 5: blank, skipped silently
        ["A", "2026-03-01T01:00+08:00", "PM2.5", 35, None, None],  # 6: identical to 3
        ["B", "2026-03-01T01:00", "pm10", "x", None, None],  # 7: not a number
        ["C", "9999-01-01T01:00", "so2", 3, None, None],  # 8
        ["C", "2030-01-01T01:00", "so2", 3, None, None],  # 9: future
        ["A", "2026-03-01T02:00", "pm2_5", 37, None, None],  # 10
        ["C", "2026-03-01T01:05", "so2", 3, None, None],  # 11: off the hour
        ["B", 46082 + 1 / 24, "pm10", 40, None, None],  # 12: Excel serial 2026-03-01 01:00
        ["D", "2026-03-01T03:00", "co", 850, "µg/m3", None],  # 13
        ["D", "2026-03-01T03:00", "co", 0.85, None, None],  # 14: identical after conversion
        ["", "2026-03-01T03:00", "co", 1, None, None],  # 15: site empty
        ["浑南", "2026-03-01T04:00", "so2", 7, None, None],  # 16
    ],
    "lab": [
        ["site", "time", "duration", "do", "nh3n", "pm2_5", "备注"],  # 1 (备注 ignored)
        ["HN-01", datetime(2026, 3, 2, 9, 30), 0, 7.5, "0.01L", None, "ok"],  # 2
        ["A", "2026-03-01T02:00", 60, None, "/", 38, None],  # 3: pm2_5 conflicts with air
        ["HN-02", "2026-03-02T10:00", 0, "abc", 0.4, "-", None],  # 4: do not a number
        ["HN-03", "2026-02-30T10:00", 0, 7.1, 0.3, None, None],  # 5: 30 February, both cells
        [None, None, None, None, None, None, None],  # 6
        ["HN-04", "2026-03-02T11:00", 0, -0.5, 0.2, None, None],  # 7: negative kept (QC)
    ],
    "no parameters": [["site", "time", "note"], ["A", "2026-03-01T01:00", "x"]],  # skipped
    "air2": [
        ["site", "time", "parameter", "value"],
        ["E", "2026-03-01T05:00", "no2", 22],  # 2
        ["A", "2026-03-01T02:00", "pm2_5", 39],  # 3: conflicts with air 4, 10 and lab 3
        ["F", "2026-03-01T05:00", "nh3n", "<0.02"],  # 4
        ["E", "2026-03-01T05:00", "no2", 22],  # 5: identical to 2
    ],
}


def _book(
    tmp_path: Path, sheets: Mapping[str, Sequence[Sequence[object]]] = SHEETS, name: str = "b"
) -> Path:
    path = tmp_path / f"{name}.xlsx"
    path.write_bytes(book_bytes(sheets))
    return path


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(KEY).reset_index(drop=True)


@pytest.mark.parametrize("chunk_rows", [1, 7, 100_000])
def test_chunks_give_the_rows_and_messages_of_the_whole_workbook(
    tmp_path: Path, chunk_rows: int
) -> None:
    """Any chunk size: the same observations and the very same warnings, in the same order."""
    path = _book(tmp_path)
    whole, expected = parse_xlsx(path.read_bytes(), str(path), now=NOW)
    warnings: list[str] = []
    frames = list(stream_xlsx(path, str(path), warnings, chunk_rows=chunk_rows, now=NOW))
    pd.testing.assert_frame_equal(_sorted(pd.concat(frames, ignore_index=True)), _sorted(whole))
    assert warnings == expected
    # What the workbook holds, read as the module docstring says: good rows beside bad ones
    # on every sheet are imported, each bad row or cell is named by sheet, row and column.
    stored = set(zip(whole["site"], whole["parameter"], strict=True))
    assert stored == {
        ("A", "pm2_5"),  # air 3 (01:00; its 02:00 conflicts)
        ("B", "pm10"),
        ("D", "co"),
        ("浑南", "so2"),
        ("HN-01", "do"),
        ("HN-01", "nh3n"),
        ("HN-02", "nh3n"),
        ("HN-04", "do"),
        ("HN-04", "nh3n"),
        ("E", "no2"),
        ("F", "nh3n"),
    }
    assert len(whole) == 11  # repeats stored once
    label = f"{path} sheet"
    assert warnings[:4] == [
        f"{label} '说明': skipped; no header row with site and time in the first 10 rows",
        f"{label} 'air': column(s) extra ignored; known columns are "
        "site, time, parameter, value, unit, duration",
        f"{label} 'lab': column(s) 备注 ignored; expected canonical parameter names as "
        "headers in the wide layout",
        f"{label} 'no parameters': skipped; the header has site and time but no parameter or "
        "value column and no canonical parameter names (e.g. do, codmn, nh3n, tp, pm2_5)",
    ]
    conflict = next(w for w in warnings if w.startswith(f"{label} 'air' row 4: "))
    assert (
        f"conflicts with {label} 'air' row 10, {label} 'lab' row 3 column pm2_5, "
        f"{label} 'air2' row 3 (same site, parameter and time, values 36, 37, 38, 39)"
    ) in conflict
    rows = [w.split(": ", 1)[0].removeprefix(f"{label} ") for w in warnings[4:]]
    assert rows == [
        "'air' row 4",
        "'air' row 7",
        "'air' row 8",
        "'air' row 9",
        "'air' row 10",
        "'air' row 11",
        "'air' row 15",
        "'lab' row 3 column pm2_5",
        "'lab' row 4 column do",
        "'lab' row 5 column do",
        "'lab' row 5 column nh3n",
        "'air2' row 3",
    ]


@pytest.mark.parametrize("chunk_rows", [1, 7, 100_000])
def test_chunked_import_stores_and_reports_what_the_whole_workbook_path_does(
    tmp_path: Path, settings: Settings, chunk_rows: int
) -> None:
    """import_files in chunks = the whole-workbook parse written in one batch: ledger
    content, warnings (file-name prefixed, same order) and report counts."""
    path = _book(tmp_path)
    with Ledger.open(tmp_path / "whole.sqlite") as whole:
        frame, expected = parse_xlsx(path.read_bytes(), str(path), now=NOW)
        frame, refused = admit(frame, now=NOW)
        assert refused == []
        whole.register_source(SOURCE, "xlsx", "measured")
        result = whole.write_observations(frame, SOURCE, requested=f"import {path}")
        expected_content = _content(whole)
    with Ledger.open(tmp_path / "chunked.sqlite") as ledger:
        report = import_files(ledger, settings, "xlsx", [path], now=NOW, chunk_rows=chunk_rows)
        assert report.warnings == [f"{path.name}: {w.removeprefix(f'{path} ')}" for w in expected]
        counts = (report.batches, report.rows, report.inserted, report.revised)
        assert counts == (1, len(frame), result.inserted, 0)
        assert report.refused == []
        pd.testing.assert_frame_equal(_content(ledger), expected_content)
        # One transaction (fetch-log entry) per chunk written.
        entries = len(ledger.fetch_log(SOURCE))
        assert entries > 1 if chunk_rows < len(frame) else entries == 1
        again = import_files(ledger, settings, "xlsx", [path], now=NOW, chunk_rows=chunk_rows)
        assert (again.inserted, again.revised, again.unchanged) == (0, 0, len(frame))


def _content(ledger: Ledger) -> pd.DataFrame:
    return _sorted(ledger.observations().drop(columns=["ingested_at"]))


def test_a_wide_workbook_in_chunks_of_one_cell(tmp_path: Path, settings: Settings) -> None:
    """A wide sheet's cells are split across chunks mid-row; every good cell is stored
    next to a bad one of the same row, as the whole-workbook parse stores them."""
    header = ["site", "time", "duration", "do", "codmn", "nh3n", "tp"]
    rows = [
        ["HN-01", f"2026-03-0{d}T09:00", 0, 7.0 + d, "x" if d == 2 else 3.0, 0.3, 0.05]
        for d in range(1, 6)
    ]
    path = _book(tmp_path, {"lab": [header, *rows]}, name="wide")
    whole, expected = parse_xlsx(path.read_bytes(), str(path), now=NOW)
    assert len(whole) == 19 and len(expected) == 1  # 20 cells, 1 bad
    assert expected[0].startswith(f"{path} sheet 'lab' row 3 column codmn: value 'x'")
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        report = import_files(ledger, settings, "xlsx", [path], now=NOW, chunk_rows=1)
        assert report.warnings == [f"{path.name}: {w.removeprefix(f'{path} ')}" for w in expected]
        assert (report.batches, report.rows, report.inserted) == (1, 19, 19)
        stored = _content(ledger)
    pd.testing.assert_frame_equal(
        stored[whole.columns].astype(whole.dtypes.to_dict()).reset_index(drop=True),
        _sorted(whole),
        check_exact=False,
    )


def test_a_header_only_workbook_gives_nothing_and_the_warning_of_the_whole_path(
    tmp_path: Path,
) -> None:
    """One rule for a header without rows in every import (issue 16)."""
    path = _book(tmp_path, {"s": [["site", "time", "parameter", "value"], [None, None]]})
    warnings: list[str] = []
    assert list(stream_xlsx(path, str(path), warnings, chunk_rows=1, now=NOW)) == []
    frame, whole = parse_xlsx(path.read_bytes(), str(path), now=NOW)
    assert frame.empty
    assert warnings == whole == [HEADER_ONLY]


def _damaged(tmp_path: Path) -> Path:
    """A workbook whose sheet XML breaks off after its 40th row (a damaged zip member)."""
    rows = [[f"S{i}", f"2026-03-01T{i % 24:02d}:00", "so2", i] for i in range(200)]
    path = _book(tmp_path, {"s": [["site", "time", "parameter", "value"], *rows]}, "damaged")
    with zipfile.ZipFile(path) as source:
        members = {info.filename: source.read(info) for info in source.infolist()}
    sheet = "xl/worksheets/sheet1.xml"
    cut = members[sheet].index(b'<row r="40"')
    members[sheet] = members[sheet][: cut + 20]
    with zipfile.ZipFile(path, "w") as target:
        for member, content in members.items():
            target.writestr(member, content)
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: _write(d / "a.xlsx", b"site,time,parameter,value\n"), "not a readable .xlsx"),
        (lambda d: d / "missing.xlsx", "cannot read the file"),
        (_damaged, "not a readable .xlsx workbook"),
        (
            lambda d: _book(
                d,
                {
                    "good": [["site", "time", "so2"], ["A", "2026-03-01T01:00", 3]],
                    "bad": [["site", "time", "so2", "SO2"], ["A", "2026-03-01T02:00", 3, 4]],
                },
            ),
            r"sheet 'bad': duplicate column\(s\) so2; keep one",
        ),
        (
            lambda d: _book(
                d,
                {
                    "good": [["site", "time", "parameter", "value"], ["A", "2026-03-01T01:00"]],
                    "bad": [["site", "time", "parameter", "unit"], ["A", "2026-03-01T02:00"]],
                },
            ),
            r"sheet 'bad': missing column\(s\) value",
        ),
        (lambda d: _book(d, {"s": [["title"], ["a", "b"]]}), "no sheet has a header row"),
    ],
    ids=["not-xlsx", "missing", "damaged-sheet", "wide-duplicates", "long-missing", "no-header"],
)
def test_an_unusable_workbook_is_refused_before_anything_is_written(
    tmp_path: Path, settings: Settings, make: Callable[[Path], Path], message: str
) -> None:
    """InputError naming the file, before the first chunk: the ledger holds nothing of it,
    not even from its good first sheet."""
    path = make(tmp_path)
    with pytest.raises(InputError, match=message) as caught:
        next(stream_xlsx(path, str(path), [], chunk_rows=1, now=NOW))
    assert str(caught.value).startswith(f"{path}: ")
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        with pytest.raises(InputError, match=message):
            import_files(ledger, settings, "xlsx", [path], now=NOW, chunk_rows=1)
        assert ledger.observations().empty
        assert ledger.fetch_log(SOURCE).empty


def _write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def test_a_bad_second_workbook_keeps_the_first_imported_and_evaluated(
    tmp_path: Path, settings: Settings
) -> None:
    """As for every import format: the files before the unusable one stay imported."""
    good = _book(tmp_path, {"s": [["site", "time", "so2"], ["A", "2026-03-01T01:00", 3]]})
    bad = _write(tmp_path / "bad.xlsx", b"not a workbook")
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        with pytest.raises(InputError, match=r"1 file\(s\) before it were imported"):
            import_files(ledger, settings, "xlsx", [good, bad], now=NOW, chunk_rows=1)
        assert ledger.observations()["value"].tolist() == [3.0]
        assert ledger.dirty_days().empty
