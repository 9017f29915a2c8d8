"""``envmon calc`` run as the program ends its process as soon as its output is written
(no teardown of its arrays and modules): the output, the warnings and the exit code are
those of :func:`monitor.cli.main` called in process, which returns."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.bench_calc import write_air, write_water
from monitor.cli import main


def _program(*argv: str) -> subprocess.CompletedProcess[bytes]:
    """``envmon ARGV`` in a fresh process, standard output buffered (as a user runs it)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    return subprocess.run(
        [sys.executable, "-m", "monitor", *argv], capture_output=True, check=False, env=env
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["calc", "aqi", "--scale", "hour"],
        ["calc", "aqi", "--scale", "day"],
        ["calc", "water-class"],
    ],
)
def test_output_warnings_and_code_of_the_program_are_those_of_main(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    source, out = tmp_path / "in.csv", tmp_path / "out.csv"
    # (200 stations × 15 hours; '-1' cells and 'NA' now and then: warnings on stderr)
    (write_water if argv[1] == "water-class" else write_air)(source, 3000)
    assert main([*argv, str(source), "-o", str(out)]) == 0  # in process: returns
    expected_err = capsys.readouterr().err
    assert "envmon: warning:" in expected_err
    to_stdout = _program(*argv, str(source))  # the whole output through a pipe
    assert to_stdout.returncode == 0
    assert to_stdout.stdout == out.read_bytes()
    assert to_stdout.stderr.decode() == expected_err
    to_file = _program(*argv, str(source), "-o", str(tmp_path / "again.csv"))
    assert to_file.returncode == 0 and to_file.stdout == b""
    assert (tmp_path / "again.csv").read_bytes() == out.read_bytes()


def test_an_unusable_file_ends_the_program_with_code_2(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("site,time,x\n1001A,2026-03-01T16:00,1\n", encoding="utf-8")
    done = _program("calc", "aqi", str(source))
    assert done.returncode == 2
    assert done.stdout == b""
    assert b"no measurement column found" in done.stderr


def test_a_short_output_to_a_pipe_is_flushed_before_the_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A few rows are held in standard output's buffer until it is flushed: they still come
    out whole."""
    source = tmp_path / "in.csv"
    source.write_text("site,time,pm2_5\n1001A,2026-03-01T16:00,80\n", encoding="utf-8")
    assert main(["calc", "aqi", str(source)]) == 0
    expected = capsys.readouterr().out.encode()
    done = _program("calc", "aqi", str(source))
    assert done.returncode == 0
    assert done.stdout == expected
    assert done.stdout.count(b"\n") == 2  # header and the one row (2026: HJ 633-2026)


def test_an_unreadable_input_read_ahead_is_reported_as_when_read_in_turn(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The program reads its input while it imports the calculator: a file that is not
    there, or a folder, is reported with the same message and exit code as in process."""
    for missing in (tmp_path / "nowhere.csv", tmp_path):
        assert main(["calc", "aqi", str(missing)]) == 2
        expected = capsys.readouterr().err
        assert "cannot read the file" in expected
        done = _program("calc", "aqi", str(missing))
        assert (done.returncode, done.stderr.decode()) == (2, expected)


def test_bytes_read_ahead_are_taken_once(tmp_path: Path) -> None:
    from monitor.calculator import read_ahead, read_bytes

    path = tmp_path / "in.csv"
    path.write_bytes(b"site,time,pm2_5\n")
    read_ahead(path)
    assert read_bytes(path) == b"site,time,pm2_5\n"
    path.write_bytes(b"changed\n")
    assert read_bytes(path) == b"changed\n"  # (read now: the bytes read ahead were taken)
    read_ahead(tmp_path / "nowhere.csv")
    with pytest.raises(FileNotFoundError):
        read_bytes(tmp_path / "nowhere.csv")


def test_the_program_with_standard_output_closed_writes_its_file_and_ends_with_code_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``envmon calc aqi IN -o OUT >&-`` (a job started without a standard output: Python
    then has no ``sys.stdout``): the file is written and the code is 0, as in process and
    as before the prompt end, not a traceback of flushing the missing stream."""
    source, out = tmp_path / "in.csv", tmp_path / "out.csv"
    source.write_text("site,time,pm2_5\n1001A,2026-03-01T16:00,80\n", encoding="utf-8")
    assert main(["calc", "aqi", str(source), "-o", str(tmp_path / "expected.csv")]) == 0
    capsys.readouterr()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "calc", "aqi", str(source), "-o", str(out)],
        capture_output=True,  # (descriptor 1 then closed in the child: no standard output)
        check=False,
        env=env,
        preexec_fn=lambda: os.close(1),
    )
    assert (done.returncode, done.stderr) == (0, b"")
    assert out.read_bytes() == (tmp_path / "expected.csv").read_bytes()


def test_logging_handlers_are_flushed_and_closed_before_the_end(tmp_path: Path) -> None:
    """The process ends without ``atexit`` handlers, among them :func:`logging.shutdown`:
    it is called before, so a handler that holds records until it is closed (here a
    :class:`logging.handlers.MemoryHandler` in front of a file, as a program running
    envmon may set up) writes them."""
    source, out, log = tmp_path / "in.csv", tmp_path / "out.csv", tmp_path / "envmon.log"
    write_air(source, 50)
    script = (
        "import logging, logging.handlers, sys\n"
        f"target = logging.FileHandler({str(log)!r}, encoding='utf-8')\n"
        "held = logging.handlers.MemoryHandler(capacity=1000, target=target)\n"
        "logging.getLogger().addHandler(held)\n"
        "logging.getLogger('caller').warning('before the calculation')\n"
        f"sys.argv = ['envmon', 'calc', 'aqi', {str(source)!r}, '-o', {str(out)!r}]\n"
        "from monitor.cli import main\n"
        "main()\n"
        "print('not reached: the process ends in main')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, check=False)
    assert done.returncode == 0 and b"not reached" not in done.stdout
    assert out.read_bytes().startswith(b"site,time,aqi,")
    assert log.read_text(encoding="utf-8") == "before the calculation\n"
