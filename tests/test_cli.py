"""The ``envmon`` command line: options, exit codes, messages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from monitor import __version__
from monitor.cli import build_parser, main


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    """``--version`` prints the package version."""
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert __version__ in capsys.readouterr().out


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown option is a usage error: exit 2 with argparse's message."""
    with pytest.raises(SystemExit) as exit_info:
        main(["calc", "aqi", "--scale", "week", "x.csv"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'week'" in capsys.readouterr().err


def test_calc_aqi_options_are_the_contract() -> None:
    """``calc aqi`` takes --standard {hj633-2012,hj633-2026,auto} and --scale {hour,day}."""
    parser = build_parser()
    args = parser.parse_args(["calc", "aqi", "--standard", "hj633-2012", "--scale", "day", "a"])
    assert (args.standard, args.scale, args.input, args.output) == ("hj633-2012", "day", "a", None)
    for bad in (["--standard", "epa"], ["--scale", "month"]):
        with pytest.raises(SystemExit):
            parser.parse_args(["calc", "aqi", *bad, "a"])


def test_global_options_are_accepted() -> None:
    """--config and --ledger are global options."""
    args = build_parser().parse_args(["--config", "c.toml", "--ledger", "l.db", "config", "check"])
    assert (args.config, args.ledger) == ("c.toml", "l.db")


def test_internal_error_is_one_line_without_debug(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unexpected exception prints one line and exits 1; --debug adds the traceback."""
    import monitor.calculator.air as air

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(air, "compute_aqi_csv", boom)
    source = tmp_path / "in.csv"
    source.write_text("site,time,pm2_5\nA,2026-01-01T01:00,3\n", encoding="utf-8")
    assert main(["calc", "aqi", str(source)]) == 1
    err = capsys.readouterr().err
    assert "internal error: RuntimeError: disk on fire" in err
    assert "Traceback" not in err
    assert main(["--debug", "calc", "aqi", str(source)]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_python_dash_m_runs_the_cli(tmp_path: Path) -> None:
    """``python -m monitor`` is the same command line (a real subprocess)."""
    source = tmp_path / "in.csv"
    source.write_text("site,time,pm2_5\nA,2026-03-01T01:00,80\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "monitor", "calc", "aqi", str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1].startswith("A,2026-03-01T01:00,119,3,轻度污染,pm2_5")
