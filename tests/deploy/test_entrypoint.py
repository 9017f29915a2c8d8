"""docker/entrypoint.sh runs envmon as the container would: the daemon by default, on the
compose environment, healthy by the image's own check, and out with exit 0 on SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import DATA, RecordedServer, Reply
from tests.deploy.stack import (
    ENTRYPOINT,
    ENV_EXAMPLE,
    compose_file,
    dockerfile,
    env_file,
    interpolated,
    service_environment,
    stages,
)
from tests.engines import free_port, start_victoria_metrics

CONFIG = """\
[district]
name = "Hunnan District"
name_zh = "浑南区"

[ledger]
path = "../data/envmon.sqlite"

[service]
http_port = {port}

[[areas]]
id = "hunnan"
name = "Hunnan District"
name_zh = "浑南区"

[[air_stations]]
code = "1099A"
name_zh = "浑南东路"
role = "evaluation"
areas = ["hunnan"]

[[sources]]
name = "archive"
collector = "cnemc_sites_archive"
url = "{url}/air"
interval_minutes = 60
catch_up_hours = 48

[[sources]]
name = "slow"
collector = "cnemc_air"
url = "{url}/slow"
retries = 0
timeout_seconds = 5
"""


def _grace_seconds() -> int:
    """The envmon service's stop_grace_period, in seconds."""
    text = compose_file()["services"]["envmon"]["stop_grace_period"]
    number, unit = int(text[:-1]), text[-1]
    return number * {"s": 1, "m": 60}[unit]


def _container_environment(tmp_path: Path, server: RecordedServer) -> dict[str, str]:
    """The envmon service's environment from compose (with .env.example and a token), with
    the settings file laid out as in the image: <app>/config/envmon.toml, <app>/data."""
    port = free_port()
    config = tmp_path / "app" / "config" / "envmon.toml"
    config.parent.mkdir(parents=True)
    (tmp_path / "app" / "data").mkdir()
    config.write_text(CONFIG.format(port=port, url=server.url), encoding="utf-8")
    values = {**env_file(ENV_EXAMPLE), "ENVMON_INFLUXDB_TOKEN": "t0ken", "TZ": "UTC"}
    values |= {"INFLUXDB_ADMIN_PASSWORD": "x" * 8, "GF_SECURITY_ADMIN_PASSWORD": "x"}
    values |= {  # the mail path compose requires (tests/deploy/test_mail_path.py)
        "ENVMON_MAIL_TO": "duty@example.org",
        "ENVMON_SMTP_HOST": "127.0.0.1",
        "ENVMON_SMTP_FROM": "envmon@example.org",
    }
    service = interpolated(compose_file(), values)["services"]["envmon"]
    environment = service_environment(service)
    environment["ENVMON_CONFIG"] = str(config)
    environment["ENVMON_HEALTHCHECK_URL"] = f"http://127.0.0.1:{port}/healthz"
    return {
        **environment,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONUNBUFFERED": "1",
        "HOME": str(tmp_path),
    }


def _healthcheck_command() -> list[str]:
    """The image's HEALTHCHECK command, exec form."""
    (check,) = [i for i in stages(dockerfile())[-1] if i.keyword == "HEALTHCHECK"]
    command = check.exec_form()
    assert command is not None
    return [sys.executable if command[0] == "python" else command[0], *command[1:]]


def _serve_recorded(server: RecordedServer) -> None:
    """Two recorded archive days, and a live source that answers slowly with an error."""
    for day in ("20260228", "20260301"):
        server.add_file(
            f"/air/china_sites_{day}.csv",
            DATA / "cnemc_sites_archive" / f"china_sites_{day}.csv",
            content_type="text/csv",
        )
    server.add("/slow", Reply(body=b"slow", status=500, delay=1.5))


@dataclass
class Run:
    """What a daemon run through the entrypoint left: exit code and the rest of its log."""

    code: int
    log: str


def _run_until_sigterm(tmp_path: Path, server: RecordedServer, environment: dict[str, str]) -> Run:
    """Start `sh docker/entrypoint.sh` (no arguments, as CMD would), check it became envmon
    (exec) and is healthy by the image's own check, SIGTERM it during the slow fetch, and
    wait at most the compose stop grace period."""
    process = subprocess.Popen(
        ["sh", str(ENTRYPOINT)],
        env=environment,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path / "app",
    )
    assert process.stderr is not None
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = process.stderr.readline()
            lines.append(line)
            if re.search(r"health on http://0\.0\.0\.0:\d+/healthz", line):
                break
        else:
            pytest.fail("no health endpoint announced:\n" + "".join(lines))
        # exec: the process started as `sh entrypoint.sh` is now envmon itself
        cmdline = Path(f"/proc/{process.pid}/cmdline").read_bytes().split(b"\0")
        assert any(part.endswith(b"envmon") for part in cmdline), cmdline
        assert b"run" in cmdline
        with urllib.request.urlopen(environment["ENVMON_HEALTHCHECK_URL"], timeout=5) as r:
            health = json.loads(r.read())
        assert set(health["sources"]) == {"archive", "slow"}
        check = subprocess.run(_healthcheck_command(), env=environment, check=False)
        assert check.returncode == 0
        while all(path != "/slow" for path, _ in list(server.requests)):
            time.sleep(0.05)  # the slow job has started (sources run in parallel)
        process.send_signal(signal.SIGTERM)
        rest = process.stderr.read()
        code = process.wait(timeout=_grace_seconds())
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stderr.close()
    closed = subprocess.run(_healthcheck_command(), env=environment, capture_output=True)
    assert closed.returncode != 0  # nothing listens any more: the check fails
    return Run(code, rest)


def test_entrypoint_runs_the_daemon_and_stops_cleanly_on_sigterm(
    tmp_path: Path, recorded_server: RecordedServer
) -> None:
    """No arguments → `envmon run` replaces the shell (exec: same PID), listens on 0.0.0.0,
    passes the image's health check; SIGTERM during a slow fetch → exit 0 within the grace
    period, after the job, with the ledger on the data folder."""
    _serve_recorded(recorded_server)
    environment = _container_environment(tmp_path, recorded_server)
    environment["ENVMON_INFLUXDB_ENABLED"] = "false"
    run = _run_until_sigterm(tmp_path, recorded_server, environment)
    assert run.code == 0, run.log
    assert "received SIGTERM" in run.log and "stopped" in run.log
    assert (tmp_path / "app" / "data" / "envmon.sqlite").is_file()


def test_entrypoint_daemon_publishes_where_the_environment_says(
    tmp_path: Path, recorded_server: RecordedServer
) -> None:
    """With the compose environment's ENVMON_INFLUXDB_* pointing at a real VictoriaMetrics
    (v2 write API, as InfluxDB), the daemon publishes (heartbeat, per-source health) and
    still exits 0 on SIGTERM within the grace period, nothing left queued."""
    _serve_recorded(recorded_server)
    server = start_victoria_metrics(tmp_path / "victoria")
    try:
        environment = _container_environment(tmp_path, recorded_server)
        environment["ENVMON_INFLUXDB_URL"] = server.url
        assert environment["ENVMON_INFLUXDB_ENABLED"] == "true"  # as compose sets it
        run = _run_until_sigterm(tmp_path, recorded_server, environment)
        assert run.code == 0, run.log
        assert "0 site-day(s) left queued" in run.log
        published = server.samples()
    finally:
        server.stop()
    names = {name for name, _, _ in published}
    assert "heartbeat_up" in names, run.log  # measurement heartbeat, field up
    assert any(("source", "archive") in labels for _, labels, _ in published), names


def test_entrypoint_passes_commands_to_envmon(
    tmp_path: Path, recorded_server: RecordedServer
) -> None:
    """`docker compose run --rm envmon config check` → `envmon config check` on the
    container's settings: 0.0.0.0, the stack's InfluxDB, every secret present."""
    environment = _container_environment(tmp_path, recorded_server)
    result = subprocess.run(
        ["sh", str(ENTRYPOINT), "config", "check"],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "service: /healthz and /metrics on 0.0.0.0:" in result.stdout
    assert "influxdb: bucket envmon of org envmon at http://influxdb:8086" in result.stdout
    assert "ENVMON_INFLUXDB_TOKEN: set (********)" in result.stdout


def test_config_check_in_the_container_names_a_missing_token(
    tmp_path: Path, recorded_server: RecordedServer
) -> None:
    """Without ENVMON_INFLUXDB_TOKEN, `config check` exits 2 and says which secret is missing
    and why, in one line on stderr."""
    environment = _container_environment(tmp_path, recorded_server)
    environment["ENVMON_INFLUXDB_TOKEN"] = ""
    result = subprocess.run(
        ["sh", str(ENTRYPOINT), "config", "check"],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 1
    assert errors[0].startswith("error: ENVMON_INFLUXDB_TOKEN is not set: ")
    assert "http://influxdb:8086" in errors[0]
    assert "Traceback" not in result.stderr


def test_a_bad_override_is_reported_with_its_variable(
    tmp_path: Path, recorded_server: RecordedServer
) -> None:
    """A typo in .env (ENVMON_INFLUXDB_ENABLED=ture) exits 2 naming the variable."""
    environment = _container_environment(tmp_path, recorded_server)
    environment["ENVMON_INFLUXDB_ENABLED"] = "ture"
    result = subprocess.run(
        ["sh", str(ENTRYPOINT), "config", "check"],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "influxdb.enabled (from $ENVMON_INFLUXDB_ENABLED): expected a boolean" in result.stderr
