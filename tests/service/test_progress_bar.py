"""Progress of long work: tqdm's bar on a terminal, one summary line when piped.

``envmon import`` runs with its stderr on a pipe (pytest's capture), then on a
pseudo-terminal (``os.openpty``, 80 columns): what a log gets and what an officer sees.
"""

from __future__ import annotations

import fcntl
import io
import os
import re
import struct
import sys
import termios
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.service.progress import Progress
from tests.conftest import ONE_STATION_DAEMON

ROOT = Path(__file__).resolve().parent.parent.parent
EXAMPLE = ROOT / "examples" / "synthetic_hunnan_hourly.csv"  # synthetic, see examples/


def _two_files(tmp_path: Path) -> list[str]:
    """Two small long-CSV files: the first 48 and the next 48 rows of the example."""
    header, *rows = EXAMPLE.read_text(encoding="utf-8").splitlines()
    files = []
    for i, part in enumerate((rows[:48], rows[48:96])):
        path = tmp_path / f"part{i}.csv"
        path.write_text("\n".join([header, *part]) + "\n", encoding="utf-8")
        files.append(str(path))
    return files


def _arguments(tmp_path: Path) -> list[str]:
    # one station and no targets: the import and its evaluation, nothing more
    config = tmp_path / "envmon.toml"
    config.write_text(ONE_STATION_DAEMON, encoding="utf-8")
    return [
        "--config",
        str(config),
        "--ledger",
        str(tmp_path / "ledger.sqlite"),
        "import",
        "--format",
        "long-csv",
        *_two_files(tmp_path),
    ]


def test_piped_stderr_has_no_bar_only_a_summary_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_arguments(tmp_path)) == 0
    out, err = capsys.readouterr()
    assert "\r" not in err  # nothing redrawn in place
    assert "%|" not in err  # no tqdm bar
    assert re.search(r"^import long-csv: 2/2 done in \d+\.\d s$", err, re.MULTILINE), err
    assert re.search(r"^evaluate: (\d+)/\1 done in \d+\.\d s$", err, re.MULTILINE), err
    assert "96 observation(s)" in out


def test_a_terminal_shows_tqdms_bar(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    leader, follower = os.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    terminal = os.fdopen(follower, "w", encoding="utf-8")
    monkeypatch.setattr(sys, "stderr", terminal)
    try:
        assert main(_arguments(tmp_path)) == 0
        terminal.flush()
        os.set_blocking(leader, False)
        seen = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except BlockingIOError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        monkeypatch.undo()
        terminal.close()
        os.close(leader)
    screen = seen.decode()
    assert "96 observation(s)" in capsys.readouterr().out
    # tqdm's bar, redrawn in place with a carriage return, ending at 100 %
    assert "\r" in screen
    assert re.search(r"import long-csv: 100%\|█+\| 2/2 \[", screen), screen
    assert re.search(r"evaluate: 100%\|█+\| (\d+)/\1 \[", screen), screen
    assert " done in " not in screen  # the summary line is for pipes and logs only


def test_nothing_to_do_and_unfinished_work_print_nothing_when_piped() -> None:
    stream = io.StringIO()
    Progress(0, "publish", stream=stream).update(0)
    unfinished = Progress(5, "backfill x", stream=stream)
    unfinished.update(2)
    assert stream.getvalue() == ""
    unfinished.close()  # an explicit end reports what was done
    assert stream.getvalue().startswith("backfill x: 2/5 done in ")


def test_count_beyond_the_total_ends_once() -> None:
    stream = io.StringIO()
    bar = Progress(3, "publish", stream=stream)
    bar.update(4)  # the outbox grew while it was drained
    bar.update(5)
    assert len(stream.getvalue().splitlines()) == 1
    assert stream.getvalue().startswith("publish: 4/3 done in ")


def test_the_targets_progress_series_after_an_import_has_its_own_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The targets' progress series recomputed after the evaluation is work of its own (one
    as-of date per day up to yesterday): it reports like the other steps. A 2025 target and
    2026 data: only 2025-12-31, the year's last as-of date, is recomputed."""
    arguments = _arguments(tmp_path)
    config = tmp_path / "envmon.toml"
    config.write_text(
        ONE_STATION_DAEMON
        + '\n[[targets]]\nkind = "good_day_ratio"\nid = "good_days_2025"\n'
        + 'name = "good days"\narea = "hunnan"\nyear = 2025\ngoal = 0.8\nrules = "hj633-2012"\n',
        encoding="utf-8",
    )
    assert main(arguments) == 0
    err = capsys.readouterr().err
    assert re.search(r"^evaluate: (\d+)/\1 done in \d+\.\d s$", err, re.MULTILINE), err
    assert re.search(r"^targets: 1/1 done in \d+\.\d s$", err, re.MULTILINE), err
