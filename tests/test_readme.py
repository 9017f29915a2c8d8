"""The README documents what exists: every setting, every command, every vocabulary column."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from monitor.cli import build_parser
from monitor.domain.pollutants import POLLUTANTS
from monitor.domain.water_quality import PARAMETERS
from monitor.settings import settings_reference

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
#: Keys every target kind has; the README lists them once as ``targets[].<key>``.
COMMON_TARGET_KEYS = {"kind", "id", "name", "year", "confirmed", "note"}


def _documented_key(key: str) -> str:
    match = re.fullmatch(r"targets\[kind=\w+\]\.(\w+)", key)
    if match and match.group(1) in COMMON_TARGET_KEYS:
        return f"targets[].{match.group(1)}"
    return key


@pytest.mark.parametrize(
    "key", sorted({_documented_key(s.key) for s in settings_reference()}), ids=str
)
def test_every_setting_is_in_the_readme_table(key: str) -> None:
    """Each setting (and secret environment variable) has a row in the settings table."""
    assert f"| `{key}` |" in README


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def test_every_command_is_in_the_cli_table() -> None:
    """Each subcommand of ``envmon`` appears in the README's CLI table."""
    commands = _subcommands(build_parser())
    assert commands
    for name, sub in commands.items():
        for leaf in _subcommands(sub) or {"": sub}:
            assert f"`envmon {name} {leaf}".rstrip() in README, f"envmon {name} {leaf}"


def test_vocabulary_names_every_canonical_column() -> None:
    """Every pollutant and water parameter code appears in the Vocabulary section."""
    vocabulary = README.split("## Vocabulary", 1)[1].split("\n## ", 1)[0]
    for code in [p.value for p in POLLUTANTS] + [p.value for p in PARAMETERS]:
        assert f"`{code}`" in vocabulary, code
