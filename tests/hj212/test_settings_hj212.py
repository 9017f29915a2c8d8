"""The [hj212] settings: stations, passwords from the environment only, problems listed."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.cli import main
from monitor.errors import ConfigError
from monitor.settings import hj212_password_problems, load_settings

BASE = """\
[district]
name = "Hunnan District"
name_zh = "浑南区"

[[areas]]
id = "hunnan"
name = "Hunnan District"
name_zh = "浑南区"
"""

HJ212 = """
[hj212]
enabled = {enabled}
port = 9300

[[hj212.stations]]
mn = "ABCDEF0123456789ABCDEF01"
site = "hn01"
password_env = "ENVMON_HJ212_PW_HN01"
units = ["a21026=mg/m3"]

[[hj212.stations]]
mn = "W0001"
site = "hunhe_1"
password_env = "ENVMON_HJ212_PW_W0001"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "envmon.toml"
    path.write_text(BASE + text, encoding="utf-8")
    return path


def test_passwords_come_from_the_environment(tmp_path: Path) -> None:
    path = write(tmp_path, HJ212.format(enabled="true"))
    env = {"ENVMON_HJ212_PW_HN01": "s3cret", "ENVMON_HJ212_PW_W0001": "other"}
    settings = load_settings(path, env)
    first = settings.hj212.stations[0]
    assert settings.hj212.enabled and settings.hj212.port == 9300
    assert first.password is not None and first.password.reveal() == "s3cret"
    assert "s3cret" not in repr(settings)
    assert first.units == ("a21026=mg/m3",)


def test_missing_passwords_are_all_reported_when_enabled(tmp_path: Path) -> None:
    path = write(tmp_path, HJ212.format(enabled="true"))
    settings = load_settings(path, {})  # loading needs no password: only the receiver does
    problems = hj212_password_problems(settings)
    assert problems == [
        "hj212.stations[0].password_env: environment variable ENVMON_HJ212_PW_HN01 is not "
        "set; set it to the access password (PW) of station ABCDEF0123456789ABCDEF01",
        "hj212.stations[1].password_env: environment variable ENVMON_HJ212_PW_W0001 is not "
        "set; set it to the access password (PW) of station W0001",
    ]


# Issue 14: with [hj212] enabled = true, `status`, `export` and `progress` exited 2 unless
# every station password was set; only the commands that open the receiver need them.
@pytest.mark.parametrize(
    "command",
    [
        ["status"],
        ["export", "--from", "2025-01-01", "--to", "2025-01-02"],
        ["progress", "--year", "2025"],
    ],
)
def test_commands_that_do_not_listen_need_no_password(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    command: list[str],
) -> None:
    from monitor.ledger import Ledger

    monkeypatch.delenv("ENVMON_HJ212_PW_HN01", raising=False)
    monkeypatch.delenv("ENVMON_HJ212_PW_W0001", raising=False)
    path = write(tmp_path, HJ212.format(enabled="true"))
    ledger = tmp_path / "ledger.sqlite"
    Ledger.open(ledger).close()
    code = main(["--config", str(path), "--ledger", str(ledger), *command])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "ENVMON_HJ212_PW" not in err


@pytest.mark.parametrize("command", [["run"], ["hj212", "listen"]])
def test_commands_that_listen_need_every_password(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    command: list[str],
) -> None:
    monkeypatch.delenv("ENVMON_HJ212_PW_HN01", raising=False)
    monkeypatch.setenv("ENVMON_HJ212_PW_W0001", "pw")
    path = write(tmp_path, HJ212.format(enabled="true"))
    ledger = tmp_path / "ledger.sqlite"
    assert main(["--config", str(path), "--ledger", str(ledger), *command]) == 2
    err = capsys.readouterr().err
    assert "ENVMON_HJ212_PW_HN01 is not set" in err
    assert "ENVMON_HJ212_PW_W0001" not in err
    assert not ledger.exists()  # refused before anything was opened


def test_disabled_receiver_needs_no_password(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, HJ212.format(enabled="false")), {})
    assert settings.hj212.stations[0].password is None


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (('password_env = "ENVMON_HJ212_PW_HN01"', 'password = "123"'), "secrets come only"),
        (("ENVMON_HJ212_PW_HN01", "MY_PASSWORD"), "expected an environment variable name"),
        (('mn = "W0001"', 'mn = "ABCDEF0123456789ABCDEF01"'), "duplicate MN"),
        (("a21026=mg/m3", "a21026=furlongs"), "units[0]: 'a21026=furlongs' is not code=unit"),
        (('mn = "W0001"', 'mn = "W-1"'), "1 to 24 letters or digits"),
        (("port = 9300", "port = 70000"), "hj212.port: 70000 is out of range"),
    ],
)
def test_bad_hj212_settings(tmp_path: Path, change: tuple[str, str], problem: str) -> None:
    text = HJ212.format(enabled="false").replace(*change)
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text), {})
    assert any(problem in p for p in caught.value.problems), caught.value.problems


def test_a_station_password_in_the_file_points_to_its_password_env(tmp_path: Path) -> None:
    """The station's password belongs in the variable its password_env names: the problem
    says so, not a made-up ENVMON_HJ212_STATIONS_PASSWORD that nothing reads."""
    text = HJ212.format(enabled="false").replace(
        'password_env = "ENVMON_HJ212_PW_W0001"',
        'password_env = "ENVMON_HJ212_PW_W0001"\npassword = "hunter2"',
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text), {})
    (problem,) = caught.value.problems
    assert problem.startswith("hj212.stations[1].password: secrets come only from environment")
    assert "password_env" in problem
    assert "ENVMON_HJ212_STATIONS_PASSWORD" not in problem
    assert "hunter2" not in problem


def test_config_check_reports_missing_secret_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, HJ212.format(enabled="true"))
    monkeypatch.delenv("ENVMON_HJ212_PW_HN01", raising=False)
    monkeypatch.setenv("ENVMON_HJ212_PW_W0001", "pw-w0001-secret")
    assert main(["--config", str(path), "config", "check"]) == 2
    err = capsys.readouterr().err
    assert "ENVMON_HJ212_PW_HN01 is not set" in err
    assert "ENVMON_HJ212_PW_W0001" not in err
    monkeypatch.setenv("ENVMON_HJ212_PW_HN01", "pw-hn01-secret")
    assert main(["--config", str(path), "config", "check"]) == 0
    out = capsys.readouterr().out
    assert "hj212 receiver: 127.0.0.1:9300, 2 station(s)" in out
    assert "MN W0001 → site hunhe_1, password ENVMON_HJ212_PW_W0001: set" in out
    assert "-secret" not in out


def test_source_name_of_its_own(tmp_path: Path) -> None:
    text = HJ212.format(enabled="false").replace("port = 9300", 'port = 9300\nsource = "air"')
    text += '\n[[sources]]\nname = "air"\ncollector = "cnemc_air"\n'
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text), {})
    assert list(caught.value.problems) == [
        "hj212.source: 'air' is also the name of a [[sources]] entry; choose a name of its "
        "own for the received data"
    ]
