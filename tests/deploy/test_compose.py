"""docker-compose.yml: valid Compose, pinned images, documented variables, mounts that exist,
health-gated start, and an envmon service whose settings come out right."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.service.daemon import FINAL_DRAIN_S
from monitor.settings import load_settings, required_secrets, resolve_ledger_path
from tests.deploy.stack import (
    COMPOSE,
    ENV_EXAMPLE,
    ROOT,
    MissingVariable,
    compose_file,
    env_file,
    interpolated,
    service_environment,
    strings,
    variables,
)

#: Values for the variables .env.example leaves empty (they are required).
FILLED = {
    "INFLUXDB_ADMIN_PASSWORD": "influx-admin-password",
    "ENVMON_INFLUXDB_TOKEN": "0123456789abcdef",
    "GF_SECURITY_ADMIN_PASSWORD": "grafana-admin-password",
    # the mail path (tests/deploy/test_mail_path.py)
    "ENVMON_MAIL_TO": "duty@hunnan.example.gov.cn",
    "ENVMON_SMTP_HOST": "smtp.hunnan.example.gov.cn",
    "ENVMON_SMTP_FROM": "envmon@hunnan.example.gov.cn",
}
#: Exact release tags: 1.2.3 or v1.2.3 (no `latest`, no floating major or minor tags).
EXACT_TAG = re.compile(r"v?\d+\.\d+\.\d+")


def _check_jsonschema() -> str:
    path = Path(sys.executable).parent / "check-jsonschema"
    found = str(path) if path.exists() else shutil.which("check-jsonschema")
    if found is None:
        pytest.fail("check-jsonschema is not installed; install the dev extras")
    return found


def _validate(path: Path) -> subprocess.CompletedProcess[str]:
    """Validate against the Compose specification's JSON schema (compose-spec/compose-spec
    schema/compose-spec.json, as vendored by check-jsonschema: `vendor.compose-spec`)."""
    return subprocess.run(
        [_check_jsonschema(), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


def _stack(env: dict[str, str] | None = None) -> dict[str, Any]:
    """The compose file interpolated with .env.example and the required values filled."""
    values = {**env_file(ENV_EXAMPLE), **FILLED} if env is None else env
    result: dict[str, Any] = interpolated(compose_file(), values)
    return result


def _documented() -> dict[str, tuple[str, str]]:
    """Variables of .env.example: name → (value, the comment lines above it)."""
    documented: dict[str, tuple[str, str]] = {}
    comment: list[str] = []
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            comment.append(line.lstrip("# ").strip())
        elif "=" in line:
            name, _, value = line.partition("=")
            documented[name] = (value, " ".join(comment))
            comment = []
        else:
            comment = []
    return documented


# --------------------------------------------------------------------------- specification


def test_compose_file_validates_against_the_compose_specification() -> None:
    """check-jsonschema with the Compose specification's schema accepts the file."""
    result = _validate(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_rejects_a_broken_file(tmp_path: Path) -> None:
    """Control: the same check fails on a misspelt service key and a bad healthcheck."""
    broken = compose_file()
    broken["services"]["envmon"]["depend_on"] = ["influxdb"]
    broken["services"]["grafana"]["healthcheck"]["retries"] = "many"
    path = tmp_path / "docker-compose.yml"
    path.write_text(yaml.safe_dump(broken), encoding="utf-8")
    result = _validate(path)
    assert result.returncode == 1
    assert "depend_on" in result.stdout


def _docker_compose_v1(env_path: Path) -> subprocess.CompletedProcess[str]:
    """Debian's docker-compose (1.29, the Python implementation): `config` validates the
    file, interpolates it with ``env_path`` and prints the result."""
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("docker-compose is not installed (Debian package docker-compose; .ci/run)")
    return subprocess.run(
        [
            binary,
            "--project-directory",
            str(ROOT),
            "--file",
            str(COMPOSE),
            "--env-file",
            str(env_path),
            "config",
        ],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin"},  # .env values only: the process environment wins
    )


def test_docker_compose_config_accepts_the_stack(tmp_path: Path) -> None:
    """`docker-compose config` with a filled .env accepts the file and interpolates it as
    the readers of these tests do."""
    env_path = tmp_path / ".env"
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    for name, value in FILLED.items():
        text = text.replace(f"\n{name}=\n", f"\n{name}={value}\n")
    env_path.write_text(text, encoding="utf-8")
    result = _docker_compose_v1(env_path)
    assert result.returncode == 0, result.stderr
    rendered = yaml.safe_load(result.stdout)["services"]
    ours = _stack()["services"]
    assert set(rendered) == set(ours)
    for name in ours:
        assert service_environment(rendered[name]) == service_environment(ours[name]), name
        assert rendered[name]["image"] == ours[name]["image"]


def test_docker_compose_config_refuses_a_missing_password(tmp_path: Path) -> None:
    """A copied .env.example (passwords and token empty) is refused with the variable named."""
    env_path = tmp_path / ".env"
    env_path.write_text(ENV_EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    result = _docker_compose_v1(env_path)
    assert result.returncode != 0
    assert re.search(
        r"set (INFLUXDB_ADMIN_PASSWORD|ENVMON_INFLUXDB_TOKEN|GF_SECURITY_ADMIN_PASSWORD) in \.env",
        result.stderr,
    )


# --------------------------------------------------------------------------- images


def test_every_image_is_pinned_to_an_exact_release() -> None:
    """Each service names an image with an exact x.y.z tag; none uses `latest`."""
    services = _stack()["services"]
    assert set(services) == {"influxdb", "grafana", "envmon", "mailpit"}
    for name, service in services.items():
        image = service["image"]
        repository, _, tag = image.rpartition(":")
        assert repository and EXACT_TAG.fullmatch(tag), f"{name}: {image} is not pinned"
        assert "latest" not in image
    assert services["influxdb"]["image"].startswith("influxdb:2.9.")
    assert services["grafana"]["image"].startswith("grafana/grafana:13.")
    assert services["mailpit"]["image"].startswith("axllent/mailpit:v")


def test_the_envmon_image_is_tagged_with_the_project_version() -> None:
    """The image compose builds is tagged with pyproject's version, so a release is traceable."""
    with (ROOT / "pyproject.toml").open("rb") as file:
        version = tomllib.load(file)["project"]["version"]
    envmon = _stack()["services"]["envmon"]
    assert envmon["image"] == f"envmon:{version}"
    assert envmon["build"]["context"] == "."


# --------------------------------------------------------------------------- variables


def test_every_variable_is_documented_in_env_example() -> None:
    """Each ${NAME} of the compose file has a NAME= line in .env.example with a comment above,
    and .env.example lists nothing the compose file does not use."""
    used = {name for text in strings(compose_file()) for name, _, _ in variables(text)}
    documented = _documented()
    assert used, "the compose file uses no variable?"
    for name in sorted(used):
        assert name in documented, f"{name} is used in docker-compose.yml, not in .env.example"
        assert documented[name][1], f"{name} has no comment in .env.example"
    # Compose's own settings (COMPOSE_PROJECT_NAME) are read from .env, not interpolated
    assert {name for name in set(documented) - used if not name.startswith("COMPOSE_")} == set()


def test_required_variables_are_empty_in_the_example_and_stop_compose() -> None:
    """Passwords and the token have no default: `${NAME:?…}` in compose and empty in the
    example, so a copied .env.example cannot start a stack with known credentials."""
    required = {
        name for text in strings(compose_file()) for name, op, _ in variables(text) if op == ":?"
    }
    assert required == set(FILLED)
    documented = _documented()
    for name in required:
        assert documented[name][0] == "", f"{name} has a value in .env.example"
        assert "REQUIRED" in documented[name][1]
    with pytest.raises(MissingVariable, match="GF_SECURITY_ADMIN_PASSWORD"):
        _stack({**env_file(ENV_EXAMPLE), **FILLED, "GF_SECURITY_ADMIN_PASSWORD": ""})
    for name in required:  # no variable has a default elsewhere in the file
        defaults = [
            text
            for text in strings(compose_file())
            for n, op, _ in variables(text)
            if n == name and op != ":?"
        ]
        assert defaults == [], f"{name} also used with a default: {defaults}"


def test_grafana_admin_and_language() -> None:
    """Grafana: admin password from .env only, zh-Hans by default, no sign-up or anonymous
    access; SMTP entirely from the environment."""
    raw = service_environment(compose_file()["services"]["grafana"])
    assert raw["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GF_SECURITY_ADMIN_PASSWORD:?")
    grafana = service_environment(_stack()["services"]["grafana"])
    assert grafana["GF_USERS_DEFAULT_LANGUAGE"] == "zh-Hans"  # [users] default_language
    assert grafana["GF_USERS_ALLOW_SIGN_UP"] == "false"
    assert grafana["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    # SMTP: envmon's mail path (ENVMON_SMTP_*, test_mail_path.py), not a second copy
    assert raw["GF_SMTP_HOST"].startswith("${ENVMON_SMTP_HOST:?")
    assert raw["GF_SMTP_FROM_ADDRESS"].startswith("${ENVMON_SMTP_FROM:?")
    assert grafana["ENVMON_INFLUXDB_TOKEN"] == FILLED["ENVMON_INFLUXDB_TOKEN"]


def test_influxdb_setup_matches_what_envmon_publishes_to() -> None:
    """InfluxDB's initial org, bucket and admin token are the ones envmon writes with."""
    services = _stack()["services"]
    influx = service_environment(services["influxdb"])
    envmon = service_environment(services["envmon"])
    assert influx["DOCKER_INFLUXDB_INIT_MODE"] == "setup"
    assert influx["DOCKER_INFLUXDB_INIT_ORG"] == envmon["ENVMON_INFLUXDB_ORG"]
    assert influx["DOCKER_INFLUXDB_INIT_BUCKET"] == envmon["ENVMON_INFLUXDB_BUCKET"]
    assert influx["DOCKER_INFLUXDB_INIT_ADMIN_TOKEN"] == envmon["ENVMON_INFLUXDB_TOKEN"]
    assert influx["DOCKER_INFLUXDB_INIT_RETENTION"] == "0"
    assert envmon["ENVMON_INFLUXDB_URL"] == "http://influxdb:8086"


# --------------------------------------------------------------------------- services


def test_every_service_has_a_healthcheck_and_a_restart_policy() -> None:
    """Health checks with a test command, restart unless stopped, everywhere."""
    for name, service in _stack()["services"].items():
        assert service["restart"] == "unless-stopped", name
        check = service["healthcheck"]
        assert check["test"][0] in {"CMD", "CMD-SHELL"} and len(check["test"]) > 1, name
        assert check["retries"] >= 3, name


def test_envmon_starts_after_a_healthy_influxdb_and_stops_gracefully() -> None:
    """Health-gated start, an init as PID 1, and time to finish the current job on stop."""
    services = _stack()["services"]
    envmon = services["envmon"]
    assert envmon["depends_on"]["influxdb"]["condition"] == "service_healthy"
    assert services["grafana"]["depends_on"]["influxdb"]["condition"] == "service_healthy"
    assert envmon["init"] is True
    match = re.fullmatch(r"(\d+)([sm])", envmon["stop_grace_period"])
    assert match
    seconds = int(match.group(1)) * (60 if match.group(2) == "m" else 1)
    # the longest fetch of a shipped source (every attempt timing out), the final drain
    # of the outbox and a margin, before Docker's SIGKILL (its default grace is 10 s)
    settings = load_settings(ROOT / "config" / "hunnan.toml", {})
    fetch = max(s.timeout_seconds * (s.retries + 1) for s in settings.sources)
    assert seconds >= fetch + FINAL_DRAIN_S + 15
    assert "command" not in envmon and "entrypoint" not in envmon  # the image's own


def test_mailpit_only_in_the_dev_profile() -> None:
    """Mailpit runs only with --profile dev; nothing depends on it."""
    services = _stack()["services"]
    assert services["mailpit"]["profiles"] == ["dev"]
    for name, service in services.items():
        assert "profiles" not in service or name == "mailpit"
        assert "mailpit" not in service.get("depends_on", {})


def _mounts(service: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(source, target, mode) of each short-syntax volume entry."""
    mounts = []
    for entry in service.get("volumes", []):
        source, target, *mode = entry.split(":")
        mounts.append((source, target, mode[0] if mode else "rw"))
    return mounts


def test_data_lives_on_named_volumes() -> None:
    """Databases and the ledger are on named volumes declared at the top level."""
    stack = _stack()
    declared = set(stack["volumes"])
    named = {
        (name, target)
        for name, service in stack["services"].items()
        for source, target, _ in _mounts(service)
        if not source.startswith(".")
    }
    assert named == {
        ("influxdb", "/var/lib/influxdb2"),
        ("influxdb", "/etc/influxdb2"),
        ("grafana", "/var/lib/grafana"),
        ("envmon", "/app/data"),
    }
    sources = {
        source
        for service in stack["services"].values()
        for source, _, _ in _mounts(service)
        if not source.startswith(".")
    }
    assert sources == declared


def test_bind_mounts_exist_in_the_repository_and_are_read_only() -> None:
    """Every ./path mounted (settings, Grafana provisioning, dashboards) exists and is :ro."""
    binds = [
        (name, source, target, mode)
        for name, service in _stack()["services"].items()
        for source, target, mode in _mounts(service)
        if source.startswith(".")
    ]
    assert {(n, s, t) for n, s, t, _ in binds} == {
        ("grafana", "./config/grafana/provisioning", "/etc/grafana/provisioning"),
        ("grafana", "./dashboards", "/var/lib/grafana/dashboards/envmon"),
        ("envmon", "./config", "/app/config"),
    }
    for name, source, _, mode in binds:
        assert (ROOT / source).is_dir(), f"{name}: {source} does not exist"
        assert mode == "ro", f"{name}: {source} is mounted writable"
    for folder in ("datasources", "dashboards", "alerting"):
        assert (ROOT / "config/grafana/provisioning" / folder).is_dir()


def test_grafana_provisioning_points_at_the_mounted_dashboards() -> None:
    """Each file dashboard provider reads a folder mounted into the Grafana container, and
    each variable the datasource files read is in Grafana's environment."""
    provisioning = ROOT / "config/grafana/provisioning"
    providers = sorted((provisioning / "dashboards").glob("*.y*ml"))
    if not providers:
        pytest.skip("no dashboard provider yet: `envmon grafana build` (issue 6) writes it")
    grafana = _stack()["services"]["grafana"]
    targets = [target for _, target, _ in _mounts(grafana)]
    for path in providers:
        for provider in yaml.safe_load(path.read_text(encoding="utf-8"))["providers"]:
            folder = provider["options"]["path"]
            assert any(folder == t or folder.startswith(t + "/") for t in targets), folder
    environment = service_environment(grafana)
    for path in sorted(provisioning.rglob("*.y*ml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for group in data.get("groups", []):
            for rule in group["rules"]:
                # query models are read raw, never interpolated ($B of a math expression
                # stays): QueryV1.mapToModel uses Model.Raw
                # (grafana/grafana pkg/services/provisioning/alerting/rules_types.go)
                rule.pop("data")
        text = re.sub(r"\$\$", "", yaml.safe_dump(data, allow_unicode=True))
        for name in re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", text):
            assert name in environment, f"{path.name} reads ${name}, not set for grafana"


# --------------------------------------------------------------------------- envmon settings


def _container_settings(environment: dict[str, str]) -> Any:
    """The shipped settings file as the container reads it: from /app/config, with the
    service's environment (the image's WORKDIR is /app)."""
    config = environment["ENVMON_CONFIG"]
    assert config.startswith("/app/config/")
    local = ROOT / "config" / config.removeprefix("/app/config/")
    settings = load_settings(local, environment)
    return dataclasses.replace(settings, source=Path(config))


def test_envmon_settings_in_the_container() -> None:
    """The shipped settings with the service's environment: health on 0.0.0.0 at the port
    compose publishes, publishing to the stack's InfluxDB, ledger and reports on the data
    volume, no secret missing."""
    envmon = _stack()["services"]["envmon"]
    environment = service_environment(envmon)
    settings = _container_settings(environment)
    assert settings.service.http_host == "0.0.0.0"
    assert settings.hj212.host == "0.0.0.0"  # reachable once its port is published
    published = {entry.rsplit(":", 1)[1] for entry in envmon["ports"]}
    assert str(settings.service.http_port) in published
    assert settings.influxdb.enabled is True
    assert settings.influxdb.url == "http://influxdb:8086"
    assert (settings.influxdb.org, settings.influxdb.bucket) == ("envmon", "envmon")
    ledger = resolve_ledger_path(None, settings, environment)
    assert ledger.parent == Path("/app/data")  # the envmon-data volume
    # reports are written where the unprivileged user may write: the same volume
    reports = Path(os.path.normpath(settings.source.parent / settings.reports.folder))
    assert reports.is_relative_to("/app/data"), reports
    assert required_secrets(settings) == []


def test_envmon_without_the_token_names_the_missing_secret() -> None:
    """With ENVMON_INFLUXDB_TOKEN empty, the settings say exactly which secret is missing."""
    environment = service_environment(_stack()["services"]["envmon"])
    environment["ENVMON_INFLUXDB_TOKEN"] = ""
    missing = dict(required_secrets(_container_settings(environment)))
    assert list(missing) == ["ENVMON_INFLUXDB_TOKEN"]
    assert "http://influxdb:8086" in missing["ENVMON_INFLUXDB_TOKEN"]


def test_healthcheck_port_is_the_settings_port() -> None:
    """The health check asks the port the shipped settings serve /healthz on."""
    with (ROOT / "config" / "hunnan.toml").open("rb") as file:
        port = tomllib.load(file)["service"]["http_port"]
    envmon = compose_file()["services"]["envmon"]
    assert "ENVMON_HEALTHCHECK_URL" in " ".join(envmon["healthcheck"]["test"])
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert f"ENVMON_HEALTHCHECK_URL=http://127.0.0.1:{port}/healthz" in dockerfile
    assert any(entry.endswith(f":{port}") for entry in envmon["ports"])
