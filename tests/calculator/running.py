"""Running ``envmon calc`` in process for the byte-identity tests: output and warnings."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.cli import main


def run_calc(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    *,
    to_file: bool = True,
) -> tuple[bytes, list[str]]:
    """``envmon calc ARGV [-o OUT]`` (exit 0 asserted): the bytes written to OUT, or to
    standard output when not ``to_file``, and the ``envmon:`` lines of standard error."""
    out = tmp_path / "out.csv"
    code = main(["calc", *argv, *(["-o", str(out)] if to_file else [])])
    captured = capsys.readouterr()
    assert code == 0
    written = out.read_bytes() if to_file else captured.out.encode("utf-8")
    return written, [line for line in captured.err.splitlines() if line.startswith("envmon:")]


def assert_same_bytes(stem: str, actual: bytes, expected: bytes) -> None:
    """Fail naming the first differing line, not with two walls of text."""
    if actual != expected:
        pairs = zip(actual.splitlines(), expected.splitlines(), strict=False)
        first = next(((a, e) for a, e in pairs if a != e), (b"(length)", b"(length)"))
        pytest.fail(f"{stem}: output differs; first line got {first[0]!r}, want {first[1]!r}")
