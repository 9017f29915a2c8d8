"""The mail path of the stack, as far as this machine allows: Grafana's SMTP settings
(GF_SMTP_* in docker-compose.yml), its e-mail contact point and notification policy (the
alerting provisioning file) come from the same variables as envmon's report mail, and
envmon's report mail sent with those settings reaches a real SMTP server (aiosmtpd).

Grafana facts used (cited where used): every grafana.ini key is set by GF_<SECTION>_<KEY>
(docs/sources/setup-grafana/configure-grafana/_index.md "Override configuration with
environment variables"); ``[smtp] host`` is ``host:port``; provisioning files replace
``${NAME}`` in values from Grafana's environment
(docs/sources/administration/provisioning/index.md "Using environment variables"); the
email integration splits ``addresses`` on ``;`` (file-provisioning docs, email settings).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.cli import main
from monitor.errors import ConfigError
from monitor.grafana import alerts, files
from monitor.reports.mail import build_message, new_message_id, send_message, sender_address
from monitor.settings import Settings, load_settings, mail_security_mismatch, required_mail
from tests.deploy.stack import (
    ENV_EXAMPLE,
    ROOT,
    MissingVariable,
    compose_file,
    env_file,
    interpolate,
    interpolated,
    service_environment,
)
from tests.deploy.test_compose import FILLED, _docker_compose_v1
from tests.reports.conftest import SmtpServer, free_port

CONFIG = ROOT / "config" / "hunnan.toml"
#: A production-like .env: the bureau's server, two duty officers.
PRODUCTION = {
    **env_file(ENV_EXAMPLE),
    **FILLED,
    "ENVMON_MAIL_TO": "duty@hunnan.example.gov.cn;head@hunnan.example.gov.cn",
    "ENVMON_SMTP_HOST": "smtp.hunnan.example.gov.cn",
    "ENVMON_SMTP_PORT": "587",
    "ENVMON_SMTP_SECURITY": "starttls",
    "ENVMON_SMTP_USER": "envmon@hunnan.example.gov.cn",
    "ENVMON_SMTP_PASSWORD": "smtp-secret",
    "ENVMON_SMTP_FROM": "envmon@hunnan.example.gov.cn",
}


def _services(env: Mapping[str, str]) -> dict[str, dict[str, str]]:
    stack = interpolated(compose_file(), env)
    return {name: service_environment(s) for name, s in stack["services"].items()}


def _envmon_settings(environment: Mapping[str, str]) -> Settings:
    """The shipped settings file with the envmon service's environment, as in the container."""
    return load_settings(CONFIG, environment)


def _provisioned_contact(grafana_env: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The contact point and policy Grafana reads from the committed alerting file, with
    ``${NAME}`` replaced from its environment as Grafana's provisioning does: contact point
    settings are interpolated since grafana/grafana#55666 (``ReceiverV1.mapToModel`` uses
    ``Settings.Value()``, pkg/services/provisioning/alerting/contact_point_types.go), and
    the file-provisioning docs' "Template variable interpolation" shows exactly an email
    contact point with ``addresses: $EMAIL`` (grafana/grafana#84106)."""
    text = (ROOT / files.PROVISIONING / "alerting" / "envmon.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    (contact,) = data["contactPoints"]
    (receiver,) = contact["receivers"]
    settings = {
        k: interpolate(v, grafana_env) if isinstance(v, str) else v
        for k, v in receiver["settings"].items()
    }
    (policy,) = data["policies"]
    return {**contact, "settings": settings}, policy


def test_grafana_and_envmon_share_one_mail_path() -> None:
    """Server, port, login, password, sender and recipients Grafana would use are those
    envmon's report mail uses, from the same .env."""
    services = _services(PRODUCTION)
    grafana, envmon = services["grafana"], services["envmon"]
    settings = _envmon_settings(envmon)
    smtp = settings.smtp
    assert (smtp.host, smtp.port, smtp.security) == ("smtp.hunnan.example.gov.cn", 587, "starttls")
    # [smtp] host is host:port (conf/defaults.ini); enabled, or Grafana sends nothing
    # (grafana/grafana#8093: "SMTP not configured")
    assert grafana["GF_SMTP_ENABLED"] == "true"
    assert grafana["GF_SMTP_HOST"] == f"{smtp.host}:{smtp.port}"
    assert grafana["GF_SMTP_USER"] == smtp.user
    password = settings.secrets.smtp_password
    assert password is not None and grafana["GF_SMTP_PASSWORD"] == password.reveal()
    assert grafana["GF_SMTP_FROM_ADDRESS"] == sender_address(smtp)
    # STARTTLS whenever offered; port 465 is TLS from the start (gomail NewDialer:
    # SSL: port == 465), matching envmon's security = tls on 465
    assert grafana["GF_SMTP_STARTTLS_POLICY"] == "OpportunisticStartTLS"
    # one list of recipients for reports and alerts
    officers = ("duty@hunnan.example.gov.cn", "head@hunnan.example.gov.cn")
    assert settings.reports.daily_recipients == officers
    assert settings.reports.monthly_recipients == officers
    assert settings.grafana.contact_emails == officers
    contact, policy = _provisioned_contact(grafana)
    assert contact["settings"]["addresses"].split(";") == list(officers)
    # the same contact point `envmon grafana provision` builds from the settings
    api_contact = alerts.contact_point(settings)
    assert api_contact is not None
    assert api_contact["settings"] == contact["settings"]
    # every route of the policy ends at that contact point
    assert policy["receiver"] == contact["name"]
    assert {route["receiver"] for route in policy["routes"]} == {contact["name"]}
    assert required_mail(settings) == []


def test_mailpit_is_the_explicit_development_choice() -> None:
    """.env.example ships no server: Mailpit is chosen by setting it, as documented there,
    and runs only with --profile dev."""
    example = ENV_EXAMPLE.read_text(encoding="utf-8")
    assert env_file(ENV_EXAMPLE)["ENVMON_SMTP_HOST"] == ""
    assert "ENVMON_SMTP_HOST=mailpit ENVMON_SMTP_PORT=1025 ENVMON_SMTP_SECURITY=none" in example
    dev = {
        **PRODUCTION,
        "ENVMON_SMTP_HOST": "mailpit",
        "ENVMON_SMTP_PORT": "1025",
        "ENVMON_SMTP_SECURITY": "none",
        "ENVMON_SMTP_USER": "",
        "ENVMON_SMTP_PASSWORD": "",
    }
    services = _services(dev)
    assert services["grafana"]["GF_SMTP_HOST"] == "mailpit:1025"
    settings = _envmon_settings(services["envmon"])
    assert (settings.smtp.host, settings.smtp.port, settings.smtp.security) == (
        "mailpit",
        1025,
        "none",
    )
    assert compose_file()["services"]["mailpit"]["profiles"] == ["dev"]


@pytest.mark.parametrize("name", ["ENVMON_MAIL_TO", "ENVMON_SMTP_HOST", "ENVMON_SMTP_FROM"])
def test_compose_refuses_to_start_without_the_mail_path(name: str, tmp_path: Path) -> None:
    """Like the passwords: an empty recipient list, server or sender stops compose with the
    variable named (Compose's ``${NAME:?message}``), both in this file's reader and in
    Debian's docker-compose."""
    with pytest.raises(MissingVariable, match=name):
        _services({**PRODUCTION, name: ""})
    env_path = tmp_path / ".env"
    env_path.write_text(
        "".join(f"{k}={v}\n" for k, v in {**PRODUCTION, name: ""}.items()), encoding="utf-8"
    )
    result = _docker_compose_v1(env_path)
    assert result.returncode != 0
    assert f"set {name} in .env" in result.stderr


def test_config_check_fails_without_the_mail_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A publishing service (Grafana alerting reads what it publishes) without recipients,
    server or sender: `config check` exits 2 and names each variable."""
    environment = _services(PRODUCTION)["envmon"]
    for name in ("ENVMON_MAIL_TO", "ENVMON_SMTP_HOST", "ENVMON_SMTP_FROM"):
        environment[name] = ""
    environment["ENVMON_SMTP_USER"] = ""  # else the login name would serve as sender
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert main(["--config", str(CONFIG), "config", "check"]) == 2
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if line.startswith("error: ")]
    assert [line.split(" is not set")[0] for line in errors] == [
        "error: ENVMON_MAIL_TO",
        "error: ENVMON_SMTP_HOST",
        "error: ENVMON_SMTP_FROM",
    ]
    assert "Grafana's alert rules" in errors[0]
    assert "settings OK" not in captured.out and "settings INCOMPLETE" in captured.out
    assert "Traceback" not in captured.err
    monkeypatch.setenv("ENVMON_MAIL_TO", "duty@hunnan.example.gov.cn")
    monkeypatch.setenv("ENVMON_SMTP_HOST", "smtp.hunnan.example.gov.cn")
    monkeypatch.setenv("ENVMON_SMTP_FROM", "envmon@hunnan.example.gov.cn")
    assert main(["--config", str(CONFIG), "config", "check"]) == 0


@pytest.mark.parametrize(
    ("port", "security", "expected"),
    [
        ("587", "tls", "Set ENVMON_SMTP_PORT=465"),
        ("2465", "tls", "ENVMON_SMTP_SECURITY=starttls"),
        ("465", "starttls", "Set ENVMON_SMTP_SECURITY=tls"),
        ("465", "none", "Set ENVMON_SMTP_SECURITY=tls"),
    ],
)
def test_config_check_refuses_a_split_tls_path(
    port: str,
    security: str,
    expected: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Issue 15, one mail path: Grafana builds its mailer with ``gomail.NewDialer(host,
    port, …)`` (grafana/grafana pkg/services/notifications/smtp.go) and gomail's NewDialer
    sets ``SSL: port == 465`` (go-gomail/gomail smtp.go): implicit TLS on 465 only, plain
    SMTP with STARTTLS elsewhere (GF_SMTP_STARTTLS_POLICY OpportunisticStartTLS,
    docker-compose.yml). envmon's ``security`` decides for itself, so ``tls`` off 465 (or
    465 without ``tls``) splits the path: `config check` exits 2 naming both values and
    what to set; the agreeing pairs pass."""
    environment = _services(
        {**PRODUCTION, "ENVMON_SMTP_PORT": port, "ENVMON_SMTP_SECURITY": security}
    )["envmon"]
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert main(["--config", str(CONFIG), "config", "check"]) == 2
    captured = capsys.readouterr()
    (error,) = [line for line in captured.err.splitlines() if line.startswith("error: ")]
    assert f"ENVMON_SMTP_SECURITY={security} with ENVMON_SMTP_PORT={port}" in error
    assert expected in error and "Grafana" in error
    assert "settings INCOMPLETE" in captured.out and "Traceback" not in captured.err
    for good_port, good_security in (("465", "tls"), ("587", "starttls"), ("25", "none")):
        monkeypatch.setenv("ENVMON_SMTP_PORT", good_port)
        monkeypatch.setenv("ENVMON_SMTP_SECURITY", good_security)
        assert main(["--config", str(CONFIG), "config", "check"]) == 0, (good_port, good_security)
    # a host install that publishes nothing has no Grafana mailer to disagree with
    alone = load_settings(
        CONFIG,
        {
            "ENVMON_SMTP_HOST": "smtp.example.org",
            "ENVMON_SMTP_PORT": port,
            "ENVMON_SMTP_SECURITY": security,
        },
    )
    assert alone.influxdb.enabled is False and mail_security_mismatch(alone) == []


def test_a_host_install_without_publishing_needs_no_mail(tmp_path: Path) -> None:
    """The shipped file on a host (no InfluxDB, no mail configured) sends nothing: no
    requirement; half a mail path (a server without recipients) is reported."""
    settings = load_settings(CONFIG, {})
    assert settings.influxdb.enabled is False
    assert required_mail(settings) == []
    half = load_settings(CONFIG, {"ENVMON_SMTP_HOST": "smtp.example.org"})
    assert [env for env, _ in required_mail(half)] == ["ENVMON_MAIL_TO", "ENVMON_SMTP_FROM"]


def test_bad_recipients_name_the_variable() -> None:
    """A comma instead of ; (or a typo) is reported under the key, naming ENVMON_MAIL_TO."""
    with pytest.raises(Exception) as caught:
        load_settings(CONFIG, {"ENVMON_MAIL_TO": "duty@example.org,head@example.org"})
    problems = "\n".join(getattr(caught.value, "problems", []))
    assert "(from $ENVMON_MAIL_TO)" in problems
    assert "duty@example.org,head@example.org" in problems


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer(free_port())
    try:
        yield server
    finally:
        server.stop()


def test_report_mail_with_the_stack_settings_reaches_a_real_smtp_server(
    smtp_server: SmtpServer,
) -> None:
    """envmon's report mail, sent with the settings the stack's .env gives (server on
    loopback here, as Mailpit would be), arrives for every recipient of ENVMON_MAIL_TO,
    from the sender Grafana's alerts use too."""
    smtp_server.start()
    env = {
        **PRODUCTION,
        "ENVMON_SMTP_HOST": "127.0.0.1",
        "ENVMON_SMTP_PORT": str(smtp_server.port),
        "ENVMON_SMTP_SECURITY": "none",
        "ENVMON_SMTP_USER": "",
        "ENVMON_SMTP_PASSWORD": "",
    }
    services = _services(env)
    settings = _envmon_settings(services["envmon"])
    settings = dataclasses.replace(settings, smtp=dataclasses.replace(settings.smtp, timeout=5))
    sender = sender_address(settings.smtp)
    assert services["grafana"]["GF_SMTP_FROM_ADDRESS"] == sender
    assert services["grafana"]["GF_SMTP_HOST"] == f"127.0.0.1:{smtp_server.port}"
    recipients = settings.reports.daily_recipients
    message = build_message(
        subject="浑南区环境空气质量日报 2026-11-02",
        sender=sender,
        recipients=recipients,
        text="日报",
        html="<p>日报</p>",
        images={},
        message_id=new_message_id(sender, "daily.2026-11-02"),
        date=datetime(2026, 11, 3, 0, 30, tzinfo=UTC),
    )
    refused = send_message(settings.smtp, settings.secrets.smtp_password, message, recipients)
    assert refused == ()
    (got,) = smtp_server.received
    assert got.sender == "envmon@hunnan.example.gov.cn"
    assert got.recipients == ["duty@hunnan.example.gov.cn", "head@hunnan.example.gov.cn"]
    contact, _ = _provisioned_contact(services["grafana"])
    assert contact["settings"]["addresses"].split(";") == got.recipients
    assert re.search(r"Subject: =\?utf-8\?", got.data.decode("ascii"))


def test_compose_passes_the_mail_variables_to_both_services() -> None:
    """Raw compose: each mail variable is read by both services (no second copy of the
    settings that could drift)."""
    raw = {n: service_environment(s) for n, s in compose_file()["services"].items()}
    text = {n: " ".join(env.values()) for n, env in raw.items()}
    for name in ("ENVMON_MAIL_TO", "ENVMON_SMTP_HOST", "ENVMON_SMTP_PORT", "ENVMON_SMTP_USER"):
        assert "${" + name in text["grafana"] and "${" + name in text["envmon"], name
    for name in ("ENVMON_SMTP_FROM", "ENVMON_SMTP_PASSWORD"):
        assert "${" + name in text["grafana"] and "${" + name in text["envmon"], name
    own = [k for k, v in raw["grafana"].items() if k.startswith("GF_SMTP_") and "${GF_" in v]
    assert own == ["GF_SMTP_FROM_NAME"]  # only the display name is Grafana's own


def test_the_shipped_settings_file_names_the_one_mail_path() -> None:
    """An officer filling in config/hunnan.toml learns there that ENVMON_MAIL_TO (not the
    file) is where recipients go: the comments of [reports] and [grafana] name it, and the
    variable does set every list those comments speak of."""
    text = CONFIG.read_text(encoding="utf-8")
    reports = text.split("[reports]")[0].rsplit("# ----", 1)[1]
    grafana = text.split("contact_emails = []")[0].rsplit("[grafana]", 1)[1]
    assert "ENVMON_MAIL_TO" in reports and "ENVMON_MAIL_TO" in grafana
    assert "ENVMON_SMTP_HOST" in reports
    settings = load_settings(CONFIG, {"ENVMON_MAIL_TO": "duty@hunnan.example.gov.cn"})
    lists = (
        settings.reports.daily_recipients,
        settings.reports.monthly_recipients,
        settings.grafana.contact_emails,
    )
    assert all(list(x) == ["duty@hunnan.example.gov.cn"] for x in lists)


def test_a_bad_recipient_is_one_problem_however_many_lists_it_sets() -> None:
    """ENVMON_MAIL_TO sets three lists (daily and monthly reports, Grafana's contact point):
    one bad address is one problem, naming the variable and the lists, not three problems
    in two wordings."""
    with pytest.raises(ConfigError) as caught:
        load_settings(CONFIG, {"ENVMON_MAIL_TO": "duty@example.org;not-an-address"})
    assert caught.value.problems == (
        "reports.daily_recipients[1] (from $ENVMON_MAIL_TO): 'not-an-address' is not an email "
        "address; expected name@example.org ($ENVMON_MAIL_TO sets reports.monthly_recipients "
        "and grafana.contact_emails too)",
    )
