"""The README stays short and points into the docs; the docs document what exists: every
setting, every command, every vocabulary column (issue 18: "README ≤ 250 lines")."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest
import yaml

from monitor.cli import build_parser
from monitor.domain.pollutants import POLLUTANTS
from monitor.domain.water_quality import PARAMETERS
from monitor.settings import settings_reference

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCS = ROOT / "docs"
SETTINGS_PAGE = (DOCS / "reference" / "settings.md").read_text(encoding="utf-8")
CLI_PAGE = (DOCS / "reference" / "cli.md").read_text(encoding="utf-8")
COMMANDS_PAGE = (DOCS / "commands.md").read_text(encoding="utf-8")
METHODS_PAGE = (DOCS / "methods.md").read_text(encoding="utf-8")
#: Keys every target kind has; the settings reference lists them once as ``targets[].<key>``.
COMMON_TARGET_KEYS = {"kind", "id", "name", "year", "confirmed", "note"}


def _nav_pages(nav: object) -> list[str]:
    """The Markdown files of mkdocs.yml's ``nav``, in order."""
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, list):
        return [page for item in nav for page in _nav_pages(item)]
    if isinstance(nav, dict):
        return [page for value in nav.values() for page in _nav_pages(value)]
    return []


NAV = _nav_pages(yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))["nav"])


def test_readme_is_at_most_250_lines() -> None:
    lines = README.count("\n")
    assert lines <= 250, f"README.md has {lines} lines; move reference text to docs/"


def test_readme_links_every_docs_page() -> None:
    """Each page of the site's navigation is linked from the README, relative, so the link
    works on a forge's file view as well as in a checkout."""
    assert len(NAV) >= 12
    for page in NAV:
        assert f"](docs/{page})" in README, page


def test_readme_links_point_at_files_that_exist() -> None:
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", README)
    relative = [link for link in links if "://" not in link]
    assert relative
    for link in relative:
        assert (ROOT / link).exists(), link


def _documented_key(key: str) -> str:
    match = re.fullmatch(r"targets\[kind=\w+\]\.(\w+)", key)
    if match and match.group(1) in COMMON_TARGET_KEYS:
        return f"targets[].{match.group(1)}"
    return key


@pytest.mark.parametrize(
    "key", sorted({_documented_key(s.key) for s in settings_reference()}), ids=str
)
def test_every_setting_is_in_the_settings_reference(key: str) -> None:
    """Each setting (and secret environment variable) has a row in the settings reference."""
    assert f"| `{key}` |" in SETTINGS_PAGE


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _leaf_commands() -> list[tuple[str, argparse.ArgumentParser]]:
    out = []
    for name, sub in _subcommands(build_parser()).items():
        for leaf, parser in (_subcommands(sub) or {"": sub}).items():
            out.append((f"envmon {name} {leaf}".rstrip(), parser))
    return out


def test_every_command_is_in_the_commands_page() -> None:
    """Each subcommand of ``envmon`` appears in the Commands page's table, which says what it
    does in more words than its ``--help``."""
    commands = _leaf_commands()
    assert len(commands) >= 20
    for command, _ in commands:
        assert f"| `{command}" in COMMANDS_PAGE, command


def test_every_command_and_option_is_in_the_cli_reference() -> None:
    """Each subcommand has its section in the CLI reference, naming each of its options."""
    for command, parser in _leaf_commands():
        section = CLI_PAGE.split(f"\n## {command}\n", 1)[1].split("\n## ", 1)[0]
        for action in parser._actions:
            for option in action.option_strings:
                if option not in ("-h", "--help"):
                    assert f"`{option}`" in section, f"{command} {option}"


def test_vocabulary_names_every_canonical_column() -> None:
    """Every pollutant and water parameter code appears in the Vocabulary section."""
    vocabulary = METHODS_PAGE.split("## Vocabulary", 1)[1].split("\n## ", 1)[0]
    for code in [p.value for p in POLLUTANTS] + [p.value for p in PARAMETERS]:
        assert f"`{code}`" in vocabulary, code


def test_every_benchmark_has_its_row_in_performance() -> None:
    """Each benchmark script is reported in docs/performance.md (the README's Performance
    table moved there in issue 18)."""
    page = (DOCS / "performance.md").read_text(encoding="utf-8")
    benchmarks = sorted(p.stem for p in (ROOT / "benchmarks").glob("bench_*.py"))
    assert len(benchmarks) >= 10
    for name in benchmarks:
        assert f"benchmarks.{name}" in page or f"benchmarks/{name}.py" in page, name


def test_every_collector_has_its_row_in_concepts() -> None:
    from monitor.collectors import COLLECTORS

    page = (DOCS / "concepts.md").read_text(encoding="utf-8")
    assert COLLECTORS
    for name in COLLECTORS:
        assert f"| `{name}` |" in page, name
