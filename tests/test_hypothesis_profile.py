"""The Hypothesis profile tests/conftest.py leaves active: "envmon" (no deadline) off CI,
Hypothesis' own "ci" profile (derandomized, no deadline) wherever Hypothesis detects a CI
(hypothesis/_settings.py ``is_in_ci``: ``CI`` set to anything, ``GITHUB_ACTIONS=true``,
``GITLAB_CI``, ...). Checked in a fresh interpreter: profiles load on import."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_CI_NAMES = ("CI", "GITHUB_ACTIONS", "GITLAB_CI", "TF_BUILD", "BUILDKITE", "CIRCLECI")


def _profile(**env: str) -> tuple[str, str]:
    clean = {k: v for k, v in os.environ.items() if k not in _CI_NAMES}
    code = (
        "import tests.conftest; from hypothesis import settings; "
        "print(settings.get_current_profile_name(), settings.default.deadline)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return out[0], out[1]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "envmon"),
        ({"CI": "true"}, "ci"),
        ({"CI": ""}, "ci"),  # Hypothesis: CI set at all
        ({"GITHUB_ACTIONS": "true"}, "ci"),
        ({"GITLAB_CI": "1"}, "ci"),
    ],
)
def test_the_profile_is_hypothesis_ci_on_ci_and_envmon_elsewhere(
    env: dict[str, str], expected: str
) -> None:
    assert _profile(**env) == (expected, "None")
