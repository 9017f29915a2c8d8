"""Settings set over the file from the environment (monitor.settings.ENV_OVERRIDES): what
lets the Docker stack run the shipped settings file unchanged."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.errors import ConfigError
from monitor.settings import (
    DEPLOYMENT_ENV,
    ENV_OVERRIDES,
    load_settings,
    settings_reference,
    unknown_environment,
)
from tests.conftest import HUNNAN_TWO_STATIONS

FILE = (
    HUNNAN_TWO_STATIONS
    + """
[service]
http_host = "127.0.0.1"
http_port = 8765

[influxdb]
enabled = false
url = "http://localhost:8086"
org = "bureau"
"""
)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "envmon.toml"
    path.write_text(FILE, encoding="utf-8")
    return path


def test_environment_sets_over_the_file(config: Path) -> None:
    """Each override replaces the file's value; the other keys keep the file's."""
    settings = load_settings(
        config,
        {
            "ENVMON_HTTP_HOST": "0.0.0.0",
            "ENVMON_INFLUXDB_ENABLED": "true",
            "ENVMON_INFLUXDB_URL": "http://influxdb:8086",
            "ENVMON_INFLUXDB_BUCKET": "district",
        },
    )
    assert settings.service.http_host == "0.0.0.0"
    assert settings.service.http_port == 8765
    assert settings.influxdb.enabled is True
    assert settings.influxdb.url == "http://influxdb:8086"
    assert settings.influxdb.org == "bureau"  # not overridden
    assert settings.influxdb.bucket == "district"


def test_unset_or_empty_variables_leave_the_file_alone(config: Path) -> None:
    """An empty variable (``NAME=`` in .env) is no override."""
    settings = load_settings(config, {"ENVMON_HTTP_HOST": "", "ENVMON_INFLUXDB_ENABLED": " "})
    assert settings.service.http_host == "127.0.0.1"
    assert settings.influxdb.enabled is False


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        *[("true", True), ("TRUE", True), ("1", True), ("yes", True), ("on", True)],
        *[("false", False), ("0", False), ("No", False), ("off", False)],
    ],
)
def test_boolean_words(config: Path, text: str, expected: bool) -> None:
    """Booleans take the usual words of environment files."""
    settings = load_settings(config, {"ENVMON_INFLUXDB_ENABLED": text})
    assert settings.influxdb.enabled is expected


def test_overrides_apply_without_the_table_in_the_file(tmp_path: Path) -> None:
    """A file without [service] or [influxdb] gets the tables from the environment."""
    path = tmp_path / "envmon.toml"
    path.write_text(HUNNAN_TWO_STATIONS, encoding="utf-8")
    settings = load_settings(path, {"ENVMON_HTTP_HOST": "0.0.0.0", "ENVMON_INFLUXDB_ORG": "o"})
    assert settings.service.http_host == "0.0.0.0"
    assert settings.influxdb.org == "o"


def test_bad_values_name_the_variable_and_are_all_listed(config: Path) -> None:
    """A wrong value is checked like the file's and reported under its key with the
    variable's name; every problem at once."""
    with pytest.raises(ConfigError) as caught:
        load_settings(
            config,
            {"ENVMON_INFLUXDB_ENABLED": "ture", "ENVMON_INFLUXDB_URL": "influxdb:8086"},
        )
    problems = caught.value.problems
    assert len(problems) == 2
    assert problems[0].startswith("influxdb.enabled (from $ENVMON_INFLUXDB_ENABLED): ")
    assert "'ture'" in problems[0]
    assert problems[1].startswith("influxdb.url (from $ENVMON_INFLUXDB_URL): expected an http")


def test_file_problems_keep_their_plain_key(config: Path) -> None:
    """A bad value in the file itself is not attributed to the environment."""
    config.write_text(FILE.replace('url = "http://localhost:8086"', 'url = "x"'), "utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(config, {})
    assert caught.value.problems[0].startswith("influxdb.url: expected an http")


def test_reference_lists_each_override() -> None:
    """Each override is a row of the settings reference (and so of docs/reference/settings.md)."""
    rows = {row.key: row for row in settings_reference()}
    for env, (table, key) in ENV_OVERRIDES.items():
        assert rows[env].source == "environment"
        assert f"{table}.{key}" in rows[env].help
    assert rows["ENVMON_INFLUXDB_ENABLED"].type == "boolean"


def test_mail_path_from_the_environment(config: Path) -> None:
    """The mail path of the stack: SMTP keys (the port as a number) and ENVMON_MAIL_TO,
    split on ; into every recipient list (reports and Grafana's alerts alike)."""
    settings = load_settings(
        config,
        {
            "ENVMON_SMTP_HOST": "smtp.example.org",
            "ENVMON_SMTP_PORT": "465",
            "ENVMON_SMTP_SECURITY": "tls",
            "ENVMON_SMTP_FROM": "envmon@example.org",
            "ENVMON_MAIL_TO": " a@example.org ; b@example.org;",
        },
    )
    assert (settings.smtp.host, settings.smtp.port, settings.smtp.security) == (
        "smtp.example.org",
        465,
        "tls",
    )
    assert settings.smtp.from_address == "envmon@example.org"
    both = ("a@example.org", "b@example.org")
    assert settings.reports.daily_recipients == both
    assert settings.reports.monthly_recipients == both
    assert settings.grafana.contact_emails == both


def test_a_bad_port_or_security_names_its_variable(config: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(config, {"ENVMON_SMTP_PORT": "58x7", "ENVMON_SMTP_SECURITY": "ssl"})
    problems = caught.value.problems
    assert problems[0].startswith("smtp.port (from $ENVMON_SMTP_PORT): expected an integer")
    assert problems[1].startswith("smtp.security (from $ENVMON_SMTP_SECURITY): expected one of")


ROOT = Path(__file__).resolve().parents[2]


def test_an_envmon_variable_nothing_reads_is_named_with_the_likely_one(config: Path) -> None:
    """A mistyped secret would otherwise be ignored and the mail fail for a reason no
    message names: every ``ENVMON_*`` variable nothing reads gets one warning, with the
    close name when there is one; known ones (the reference's, each HJ 212 station's
    ``password_env``, the deployment's) none; other variables are not envmon's business."""
    config.write_text(
        FILE
        + '\n[hj212]\nenabled = false\n\n[[hj212.stations]]\nmn = "W0001"\nsite = "hunhe_1"\n'
        + 'password_env = "ENVMON_HJ212_PW_W0001"\n',
        encoding="utf-8",
    )
    environ = {
        "ENVMON_SMTP_PASWORD": "x",
        "ENVMON_SMTP_PASSWORD": "x",
        "ENVMON_HJ212_PW_W0001": "pw",
        "ENVMON_HEALTHCHECK_URL": "http://127.0.0.1:8765/healthz",
        "ENVMON_CONFIG_FILE": "hunnan.toml",
        "ENVMON_MAIL_TO": "officer@example.org",
        "ENVMON_WHATEVER": "1",
        "PATH": "/usr/bin",
    }
    settings = load_settings(config, environ)
    assert unknown_environment(settings, environ) == [
        "ENVMON_SMTP_PASWORD is set, but envmon reads no variable of that name; did you "
        "mean ENVMON_SMTP_PASSWORD?",
        "ENVMON_WHATEVER is set, but envmon reads no variable of that name "
        "(see docs/reference/settings.md)",
    ]


def test_config_check_warns_of_an_unread_variable_and_still_passes(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The warning is shown where an officer checks the settings; it is not a failure."""
    monkeypatch.setenv("ENVMON_INFLUXDB_TOKN", "t")
    assert main(["--config", str(config), "--ledger", "x.sqlite", "config", "check"]) == 0
    assert (
        "envmon: warning: ENVMON_INFLUXDB_TOKN is set, but envmon reads no variable of that "
        "name; did you mean ENVMON_INFLUXDB_TOKEN?" in capsys.readouterr().err
    )


def test_the_deployment_variables_are_those_the_stack_uses_and_envmon_does_not_read() -> None:
    """``DEPLOYMENT_ENV`` = the ``ENVMON_*`` names of docker-compose.yml, .env.example and
    the Dockerfile that envmon itself does not read (so the list cannot drift)."""
    read = {doc.key for doc in settings_reference() if doc.source != "file"}
    used: set[str] = set()
    for name in ("docker-compose.yml", ".env.example", "Dockerfile"):
        text = (ROOT / name).read_text(encoding="utf-8")
        used |= set(re.findall(r"\bENVMON_[A-Z0-9_]*[A-Z0-9]\b", text))
    stations = {n for n in used if n.startswith("ENVMON_HJ212_PW_")}  # examples of password_env
    assert used - read - stations == set(DEPLOYMENT_ENV)
