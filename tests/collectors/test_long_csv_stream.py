"""Long CSV imports read in chunks (issue 16): same rows, same messages, bounded memory.

``stream_long_csv`` and ``import_files(chunk_rows=…)`` are run with chunks of a few rows on
a file that holds every kind of row the whole-file parser reports (conflicting duplicates
and identical repeats far apart, blank and broken rows, bad values, times in the future or
off the hour, a unit conversion, GBK encoding), and compared with ``parse_long_csv`` of the
whole file. The memory bound itself is measured by ``benchmarks/bench_import_memory.py``.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from monitor.collectors.intake import HEADER_ONLY, admit
from monitor.collectors.long_csv import parse_long_csv, stream_long_csv
from monitor.errors import InputError
from monitor.ledger import Ledger
from monitor.service.pipeline import IMPORT_FORMATS, import_files
from monitor.settings import Settings
from tests.conftest import HUNNAN_LEDGER as CONFIG

NOW = datetime(2026, 3, 10, tzinfo=UTC)
KEY = ["site", "parameter", "period_end"]

# Line numbers in the comments are the file's (header = line 1).
TEXT = (
    "site,time,parameter,value,unit,extra\n"
    "A,2026-03-01T01:00,pm2_5,35,ug/m3,x\n"  # 2
    "A,2026-03-01T02:00,pm2_5,36,,\n"  # 3: conflicts with 7 and 12
    "\n"  # 4: blank, skipped silently
    "A,2026-03-01T01:00+08:00,PM2.5,35,,\n"  # 5: identical to 2 (other spellings)
    "B,2026-03-01T01:00,pm10,x,,\n"  # 6: not a number
    "A,2026-03-01T02:00,pm2_5,37,,\n"  # 7
    "C,9999-01-01T01:00,so2,3,,\n"
    "C,2030-01-01T01:00,so2,3,,\n"
    "C,2026-03-01T01:05,so2,3,,\n"
    "B,2026-03-01T01:00,pm10,40,,\n"
    " A ,2026-03-01T02:00,pm2_5,38,,\n"  # 12: conflicts with 3 and 7 (site stripped)
    "D,2026-03-01T03:00,co,850,µg/m3,\n"
    "D,2026-03-01T03:00,co,0.85,,\n"  # identical after conversion to mg/m³
    "E,2026-03-01T03:00,nh3n,0.01L,mg/L,\n"
    "浑南,2026-03-01T04:00,so2,7,,\n"
    "too,many,cells,in,this,row,here\n"  # 17: skipped as broken, named by its line
    "F,2026-03-01T04:00,so2,x,,\n"  # 18: the file's line, also after the broken row
)


def _file(tmp_path: Path, encoding: str = "utf-8", text: str = TEXT) -> Path:
    path = tmp_path / f"long-{encoding}.csv"
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
@pytest.mark.parametrize("chunk_rows", [1, 2, 3, 5, 1000])
def test_chunks_give_the_rows_and_messages_of_the_whole_file(
    tmp_path: Path, encoding: str, chunk_rows: int
) -> None:
    """Any chunk size: the same observations and the very same warnings, in the same order."""
    path = _file(tmp_path, encoding)
    whole, expected = parse_long_csv(path.read_bytes(), str(path), now=NOW)
    warnings: list[str] = []
    frames = list(stream_long_csv(path, str(path), warnings, chunk_rows=chunk_rows, now=NOW))
    streamed = pd.concat(frames, ignore_index=True)
    pd.testing.assert_frame_equal(
        streamed.sort_values(KEY).reset_index(drop=True),
        whole.sort_values(KEY).reset_index(drop=True),
    )
    assert warnings == expected
    # The file's own line numbers, across chunks: the conflict names all three rows.
    assert sorted(whole["site"]) == ["A", "B", "D", "E", "浑南"]
    conflict = [w for w in warnings if " line 3:" in w]
    assert conflict and f"conflicts with {path} line 7, {path} line 12" in conflict[0]
    assert f"{path} line 17: a row with 7 cells where the header has 6 was skipped" in "".join(
        warnings
    )
    assert any(w.startswith(f"{path} line 18: value 'x' is not a number") for w in warnings)


def test_file_errors_are_raised_before_any_chunk(tmp_path: Path) -> None:
    """A missing column or an empty file fails before anything is given."""
    cases = {
        "site,time,value\nA,2026-03-01T01:00,3\n": r"missing column\(s\) parameter",
        " \n\n": "the file is empty",
    }
    for text, expected in cases.items():
        path = _file(tmp_path, text=text)
        with pytest.raises(InputError, match=expected):
            next(stream_long_csv(path, str(path), [], chunk_rows=1, now=NOW))
        with pytest.raises(InputError, match=expected):
            parse_long_csv(path.read_bytes(), str(path), now=NOW)


def test_a_header_only_file_gives_nothing_and_the_warning_of_the_whole_file_path(
    tmp_path: Path,
) -> None:
    """One rule for a header without rows in every import (issue 16): nothing, and the
    header-only warning, chunked or whole."""
    path = _file(tmp_path, text="site,time,parameter,value\n\n\n")
    warnings: list[str] = []
    assert list(stream_long_csv(path, str(path), warnings, chunk_rows=1, now=NOW)) == []
    frame, whole = parse_long_csv(path.read_bytes(), str(path), now=NOW)
    assert frame.empty
    assert warnings == whole == [HEADER_ONLY]


def _content(ledger: Ledger) -> pd.DataFrame:
    stored = ledger.observations().drop(columns=["ingested_at"])
    return stored.sort_values(KEY).reset_index(drop=True)


def test_chunked_import_stores_what_the_whole_file_path_stores(
    tmp_path: Path, settings: Settings
) -> None:
    """import_files in chunks of 2 rows = the whole-file parse written in one batch."""
    path = _file(tmp_path)
    source = IMPORT_FORMATS["long-csv"]
    with Ledger.open(tmp_path / "whole.sqlite") as whole:
        frame, expected = parse_long_csv(path.read_bytes(), str(path), now=NOW)
        frame, refused = admit(frame, now=NOW)
        assert refused == []
        whole.register_source(source, "long-csv", "measured")
        result = whole.write_observations(frame, source, requested=f"import {path}")
        expected_content = _content(whole)
    with Ledger.open(tmp_path / "chunked.sqlite") as ledger:
        report = import_files(ledger, settings, "long-csv", [path], now=NOW, chunk_rows=2)
        # the file named once: "in.csv: line 3: …", not "in.csv: /tmp/…/in.csv line 3: …"
        named = f"{path} "
        assert report.warnings == [f"{path.name}: {w.removeprefix(named)}" for w in expected]
        assert any(w.startswith(f"{path.name}: line ") for w in report.warnings)
        assert (report.batches, report.rows, report.inserted) == (1, len(frame), result.inserted)
        pd.testing.assert_frame_equal(_content(ledger), expected_content)
        # 5 rows stored, at least 2 a transaction (held-back rows join the last one).
        assert len(ledger.fetch_log(source)) > 1


def test_a_rerun_after_a_partial_import_is_idempotent(tmp_path: Path, settings: Settings) -> None:
    """The first chunks stored (as a crash would leave them), then the whole file again:
    the ledger holds exactly one import's rows, and a third run changes nothing."""
    path = _file(tmp_path)
    lines = TEXT.splitlines(keepends=True)
    partial = tmp_path / "partial" / path.name
    partial.parent.mkdir()
    partial.write_text("".join(lines[:3]), encoding="utf-8")  # header + lines 2–3
    with Ledger.open(tmp_path / "once.sqlite") as once:
        import_files(once, settings, "long-csv", [path], now=NOW, chunk_rows=2)
        expected = _content(once)
    with Ledger.open(tmp_path / "rerun.sqlite") as ledger:
        import_files(ledger, settings, "long-csv", [partial], now=NOW, chunk_rows=2)
        import_files(ledger, settings, "long-csv", [path], now=NOW, chunk_rows=2)
        again = import_files(ledger, settings, "long-csv", [path], now=NOW, chunk_rows=2)
        assert (again.inserted, again.revised, again.unchanged) == (0, 0, 5)
        stored = _content(ledger)
    # Line 3 (A pm2_5 02:00 = 36) was stored by the partial file, where it had no
    # conflicting rows; the full file refuses its key but does not delete a stored value.
    assert set(map(tuple, stored[KEY].values.tolist())) >= set(
        map(tuple, expected[KEY].values.tolist())
    )
    pd.testing.assert_frame_equal(
        stored.merge(expected[KEY]).drop(columns=["revision"]),
        expected.drop(columns=["revision"]),
    )


def test_a_killed_import_keeps_its_chunks_and_a_rerun_completes_it(
    tmp_path: Path, settings: Settings
) -> None:
    """SIGKILL of ``envmon import`` after its first chunks: they stay stored; importing the
    file again gives exactly the ledger of one uninterrupted import, all days evaluated."""
    hours = pd.date_range("2026-01-01 01:00", periods=1000, freq="h")
    rows = [
        f"S{s},{t:%Y-%m-%dT%H:%M},{p},{(s + i) % 50 + 1}"
        for i, t in enumerate(hours)
        for s in range(4)
        for p in ("pm2_5", "pm10", "so2", "no2", "o3")
    ]
    path = tmp_path / "big.csv"
    path.write_text("site,time,parameter,value\n" + "\n".join(rows) + "\n", encoding="utf-8")
    ledger_path = tmp_path / "ledger.sqlite"
    config = tmp_path / "kill.toml"
    config.write_text(CONFIG.replace("ledger.sqlite", str(ledger_path)), encoding="utf-8")
    code = (
        "import sys, monitor.service.pipeline as p;"
        "p.import_files.__kwdefaults__['chunk_rows'] = 500;"  # 40 chunks of 500 rows
        "from monitor.cli import main; sys.exit(main())"
    )
    command = [sys.executable, "-c", code, "--config", str(config)]
    command += ["import", "--format", "long-csv", str(path)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    written = 0
    try:
        while process.poll() is None and written < 2:
            time.sleep(0.02)
            written = _fetches(ledger_path)
        process.kill()
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL, "the import ended before it was killed"
    stored = _fetches(ledger_path)
    assert 2 <= stored < len(rows) // 500  # killed part-way, earlier chunks committed
    with Ledger.open(ledger_path) as ledger:
        partial = len(ledger.observations())
        assert 0 < partial < len(rows)
        import_files(ledger, settings, "long-csv", [path], chunk_rows=500)
        after = _content(ledger).drop(columns=["revision"])
        assert ledger.dirty_days().empty
    with Ledger.open(tmp_path / "clean.sqlite") as clean:
        import_files(clean, settings, "long-csv", [path], chunk_rows=500)
        expected = _content(clean).drop(columns=["revision"])
    assert len(expected) == len(rows)
    pd.testing.assert_frame_equal(after, expected)


def _fetches(ledger_path: Path) -> int:
    """Fetch-log entries (one per committed chunk) of the import, read by another process."""
    if not ledger_path.exists():
        return 0
    try:
        with closing(sqlite3.connect(ledger_path, timeout=5)) as db:
            row = db.execute(
                "SELECT count(*) FROM fetch_log WHERE source = 'import_long_csv'"
            ).fetchone()
    except sqlite3.OperationalError:  # not created yet
        return 0
    return int(row[0])


@pytest.mark.parametrize("chunk_rows", [1, 2, 1000])
def test_a_quote_never_closed_gives_the_warning_of_the_whole_file_path(
    tmp_path: Path, chunk_rows: int
) -> None:
    """The unclosed quote of line 3 is reported by its lines in both paths; line 2 imports."""
    text = 'site,time,parameter,value\nA,2026-03-01T01:00,so2,3\nA,2026-03-01T02:00,so2,"4\nB,x\n'
    path = _file(tmp_path, text=text)
    warnings: list[str] = []
    frames = list(stream_long_csv(path, str(path), warnings, chunk_rows=chunk_rows, now=NOW))
    whole, expected = parse_long_csv(path.read_bytes(), str(path), now=NOW)
    assert [len(f) for f in frames] == [1] and len(whole) == 1
    assert warnings == expected
    assert expected == [
        f'{path} line 3: a quote (") opened on this line is never closed: lines 3–4 were read '
        "as one cell and not imported"
    ]


def test_a_cell_over_the_csv_field_limit_is_a_clear_error_naming_its_line(
    tmp_path: Path,
) -> None:
    """A quote never closed in a big file makes one cell larger than the csv module's limit
    (131,072 characters): one message naming the line and the likely cause, before anything
    is given or stored."""
    rows = "".join(f"A,2026-03-01T{h:02d}:00,so2,3\n" for h in range(1, 24))
    text = 'site,time,parameter,value\nA,2026-03-01T00:00,so2,"3\n' + rows * 300
    path = _file(tmp_path, text=text)
    expected = r"not a readable CSV file \(line 2: field larger than field limit .*never closed"
    with pytest.raises(InputError, match=expected):
        next(stream_long_csv(path, str(path), [], chunk_rows=1, now=NOW))
    with pytest.raises(InputError, match=expected):
        parse_long_csv(path.read_bytes(), str(path), now=NOW)
