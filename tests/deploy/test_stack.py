"""End to end on a real container engine: `docker compose --profile dev up` brings the whole
stack up healthy; a recorded source goes through envmon into InfluxDB; Grafana shows the
provisioned dashboards and mails a test alert to Mailpit.

Marked ``container``: it runs only where ``docker compose`` reaches a daemon (not on the
build machines, which have none) and is skipped with the reason otherwise.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import DATA
from tests.deploy.stack import COMPOSE, ENV_EXAMPLE, ROOT, env_file
from tests.engines import free_port

pytestmark = pytest.mark.container

#: Recorded national archive day (tests/data), imported through the container.
RECORDED = DATA / "cnemc_sites_archive" / "china_sites_20260301.csv"


def _engine_problem() -> str | None:
    """Why no stack can be started here, or None."""
    docker = shutil.which("docker")
    if docker is None:
        return "no docker binary on PATH"
    for command in ([docker, "info"], [docker, "compose", "version"]):
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=30)
        except subprocess.TimeoutExpired:
            return f"`{' '.join(command[1:])}` timed out"
        if done.returncode != 0:
            reason = (done.stderr or done.stdout).strip().splitlines()
            return f"`docker {' '.join(command[1:])}` failed: {reason[-1] if reason else ''}"
    return None


@dataclass
class Stack:
    """A running compose project and its published loopback ports."""

    project: str
    env: dict[str, str]
    env_path: Path

    def compose(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                "docker",
                "compose",
                "--project-name",
                self.project,
                "--env-file",
                str(self.env_path),
                "--file",
                str(COMPOSE),
                "--profile",
                "dev",
                *args,
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def url(self, port_variable: str) -> str:
        return f"http://127.0.0.1:{self.env[port_variable]}"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    problem = _engine_problem()
    if problem:
        pytest.skip(f"needs a container engine with docker compose: {problem}")
    env = env_file(ENV_EXAMPLE) | {
        "INFLUXDB_ADMIN_PASSWORD": secrets.token_hex(12),
        "ENVMON_INFLUXDB_TOKEN": secrets.token_hex(32),
        "GF_SECURITY_ADMIN_PASSWORD": secrets.token_hex(12),
        # the development mail path (.env.example, "Mailpit"): every e-mail to Mailpit
        "ENVMON_MAIL_TO": "officer@example.test",
        "ENVMON_SMTP_HOST": "mailpit",
        "ENVMON_SMTP_PORT": "1025",
        "ENVMON_SMTP_SECURITY": "none",
        "ENVMON_SMTP_FROM": "envmon@example.test",
    }
    for name in ("INFLUXDB_PORT", "GRAFANA_PORT", "ENVMON_HTTP_PORT", "MAILPIT_PORT"):
        env[name] = str(free_port())
    env_path = tmp_path_factory.mktemp("stack") / ".env"
    env_path.write_text("".join(f"{k}={v}\n" for k, v in env.items()), encoding="utf-8")
    running = Stack(f"envmon-e2e-{secrets.token_hex(3)}", env, env_path)
    try:
        up = running.compose("up", "--detach", "--build", "--wait", "--wait-timeout", "600")
        assert up.returncode == 0, up.stdout + up.stderr
        yield running
    finally:
        logs = running.compose("logs", "--no-color", timeout=120)
        (env_path.parent / "compose.log").write_text(logs.stdout + logs.stderr, "utf-8")
        running.compose("down", "--volumes", "--remove-orphans", timeout=300)


def _poll(what: str, probe: Any, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = probe()
        if result:
            return result
        time.sleep(2)
    pytest.fail(f"timed out waiting for {what}")


def test_every_service_is_healthy(stack: Stack) -> None:
    """`up --wait` returned: each service's health check passes; /healthz answers."""
    listed = stack.compose("ps", "--format", "json")
    text = listed.stdout.strip()  # a JSON array (older Compose) or one object per line
    rows = (
        json.loads(text)
        if text.startswith("[")
        else [json.loads(line) for line in text.splitlines() if line.strip()]
    )
    assert {row["Service"]: row["Health"] for row in rows} == dict.fromkeys(
        ("influxdb", "grafana", "envmon", "mailpit"), "healthy"
    )
    health = requests.get(stack.url("ENVMON_HTTP_PORT") + "/healthz", timeout=10).json()
    assert health["status"] in {"ok", "degraded"}


def test_recorded_data_reaches_influxdb(stack: Stack) -> None:
    """The recorded archive day, imported and published through the envmon container, is
    queryable with InfluxQL from the stack's InfluxDB."""
    imported = stack.compose(
        "run",
        "--rm",
        "--no-deps",
        "--volume",
        f"{RECORDED}:/tmp/recorded.csv:ro",
        "envmon",
        "import",
        "--format",
        "cnemc-sites-csv",
        "/tmp/recorded.csv",
    )
    assert imported.returncode == 0, imported.stdout + imported.stderr
    published = stack.compose("run", "--rm", "--no-deps", "envmon", "publish")
    assert published.returncode == 0, published.stdout + published.stderr

    def measurements() -> list[Any]:
        answer = requests.get(
            stack.url("INFLUXDB_PORT") + "/query",
            params={"db": stack.env["ENVMON_INFLUXDB_BUCKET"], "q": "SHOW MEASUREMENTS"},
            headers={"Authorization": f"Token {stack.env['ENVMON_INFLUXDB_TOKEN']}"},
            timeout=10,
        ).json()
        series = answer["results"][0].get("series", [])
        return [row[0] for s in series for row in s["values"]]

    assert _poll("measurements in InfluxDB", measurements)


def test_grafana_serves_the_provisioned_dashboards(stack: Stack) -> None:
    """Each dashboard JSON of dashboards/ is in Grafana (file provisioning)."""
    expected = {
        json.loads(path.read_text(encoding="utf-8"))["uid"]
        for path in (ROOT / "dashboards").glob("*.json")
    }
    assert expected, "no dashboard in dashboards/ (envmon grafana build writes them)"
    auth = (stack.env["GF_SECURITY_ADMIN_USER"], stack.env["GF_SECURITY_ADMIN_PASSWORD"])
    found = requests.get(
        stack.url("GRAFANA_PORT") + "/api/search",
        params={"type": "dash-db"},
        auth=auth,
        timeout=10,
    ).json()
    assert expected <= {item["uid"] for item in found}


def test_a_test_alert_email_reaches_mailpit(stack: Stack) -> None:
    """Grafana's contact-point test (the UI's "Test" button) sends an email through the
    stack's SMTP settings; Mailpit receives it."""
    auth = (stack.env["GF_SECURITY_ADMIN_USER"], stack.env["GF_SECURITY_ADMIN_PASSWORD"])
    receiver = {
        "name": "envmon-e2e",
        "grafana_managed_receiver_configs": [
            {
                "name": "envmon-e2e",
                "type": "email",
                "settings": {"addresses": "officer@example.test"},
            }
        ],
    }
    sent = requests.post(
        stack.url("GRAFANA_PORT") + "/api/alertmanager/grafana/config/api/v1/receivers/test",
        json={"receivers": [receiver]},
        auth=auth,
        timeout=60,
    )
    assert sent.status_code == 200, sent.text

    def messages() -> list[Any]:
        answer = requests.get(stack.url("MAILPIT_PORT") + "/api/v1/messages", timeout=10)
        return [
            m
            for m in answer.json()["messages"]
            if any(t["Address"] == "officer@example.test" for t in m["To"])
        ]

    assert _poll("the test alert in Mailpit", messages)
