"""The docs site builds without a warning, and its generated pages are what the code says
(issue 18: "`mkdocs build --strict` passes in the test suite; CLI and settings references
are generated and drift-tested")."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from monitor import reference_docs
from monitor.settings import settings_reference
from tests.deploy.stack import dockerignore_rules, dockerignored

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("page", reference_docs.reference_pages(), ids=lambda p: str(p.path))
def test_generated_page_is_committed_as_the_code_renders_it(
    page: reference_docs.ReferencePage,
) -> None:
    committed = (ROOT / page.path).read_text(encoding="utf-8")
    assert committed == page.render(committed), (
        f"{page.path} differs from the code: run `{reference_docs.REGENERATE}` and commit it"
    )


def test_regenerating_writes_the_pages_and_check_reports_drift(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``python -m monitor.reference_docs --check`` exits 1 naming a stale page; without
    ``--check`` it rewrites it, after which ``--check`` exits 0."""
    schema = tmp_path / reference_docs.SCHEMA_PAGE
    schema.parent.mkdir(parents=True)
    shutil.copyfile(ROOT / reference_docs.SCHEMA_PAGE, schema)
    settings = tmp_path / reference_docs.SETTINGS_PAGE
    settings.parent.mkdir(parents=True)
    settings.write_text("stale\n", encoding="utf-8")

    assert reference_docs.main(["--root", str(tmp_path), "--check"]) == 1
    assert "docs/reference/cli.md, docs/reference/settings.md" in capsys.readouterr().err
    assert settings.read_text(encoding="utf-8") == "stale\n"  # --check writes nothing

    assert reference_docs.main(["--root", str(tmp_path)]) == 0
    assert reference_docs.main(["--root", str(tmp_path), "--check"]) == 0
    assert settings.read_text(encoding="utf-8") == reference_docs.settings_markdown()
    assert schema.read_bytes() == (ROOT / reference_docs.SCHEMA_PAGE).read_bytes()


def test_a_page_without_schema_markers_is_named_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / reference_docs.SCHEMA_PAGE).write_text("# InfluxDB\n", encoding="utf-8")
    assert reference_docs.main(["--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "docs/influxdb.md has no <!-- schema:begin -->" in err
    assert "Traceback" not in err


def test_the_cli_reference_follows_a_changed_parser() -> None:
    """A new option shows in the usage line and the options table, with its default."""
    parser = argparse.ArgumentParser(prog="envmon")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub = commands.add_parser("import", help="import files")
    sub.add_argument("files", metavar="FILE", nargs="+")
    sub.add_argument("--progress", choices=["auto", "never"], default="auto", help="bars")
    page = reference_docs.cli_markdown(parser)
    section = page.split("\n## envmon import\n", 1)[1]
    assert "envmon import [--progress {auto,never}] FILE [FILE ...]" in section
    assert "| `--progress` | `{auto,never}` | `auto` | bars |" in section
    assert "| [envmon import](#envmon-import) | import files |" in page


def test_the_settings_reference_has_a_table_per_section_and_the_secrets() -> None:
    page = reference_docs.settings_markdown()
    headings = re.findall(r"^## (.+)$", page, flags=re.MULTILINE)
    assert headings[:3] == ["`[district]`", "`[ledger]`", "`[[areas]]`"]
    assert headings[-2:] == ["Environment variables", "Secrets"]
    secrets = page.split("\n## Secrets\n", 1)[1]
    rows = [s for s in settings_reference() if s.source == "environment"]
    assert rows
    for row in rows:
        in_secrets = f"| `{row.key}` |" in secrets
        assert in_secrets == (row.type == "secret"), row.key


def test_cells_escape_what_would_break_a_table() -> None:
    from monitor.settings import SettingDoc

    page = reference_docs.settings_markdown(
        [
            SettingDoc("a", "table", "see below", "[a] first"),
            SettingDoc("a.b", "string", "''", "x | *y* <z>"),
        ]
    )
    assert "| `a.b` | string | '' | x \\| \\*y\\* &lt;z> |" in page


def test_mkdocs_build_strict_passes(tmp_path: Path) -> None:
    """The site builds with ``--strict`` (a broken link or anchor, a page missing from the
    navigation or an unknown config key is a warning, so a failure) and needs no network."""
    site = tmp_path / "site"
    env = os.environ | {"NO_MKDOCS_2_WARNING": "1"}
    run = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "WARNING" not in run.stderr, run.stderr
    settings = (site / "reference" / "settings" / "index.html").read_text(encoding="utf-8")
    assert "hj212.max_packet_bytes" in settings
    cli = (site / "reference" / "cli" / "index.html").read_text(encoding="utf-8")
    assert 'id="envmon-report-daily"' in cli
    assert (site / "images" / "daily-report.png").is_file()
    assert not (ROOT / "site" / "index.html").exists() or _git_ignored("site/index.html")


def _git_ignored(path: str) -> bool:
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.fail("git is needed to check .gitignore")
    return subprocess.run([git, "check-ignore", "-q", path], cwd=ROOT, check=False).returncode == 0


def test_the_built_site_is_neither_committed_nor_sent_to_docker() -> None:
    assert _git_ignored("site/index.html")
    assert dockerignored("site/index.html", dockerignore_rules())


def _tour(text: str) -> str:
    section = text.split("## Offline tour", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)
    return str(block)


def test_getting_started_has_the_readme_tour() -> None:
    """The docs' getting-started page shows the tour tests/test_tour.py runs from the README,
    with the same picture."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    page = (ROOT / "docs" / "getting-started.md").read_text(encoding="utf-8")
    assert _tour(page) == _tour(readme)
    assert "](images/daily-report.png)" in page.split("## Offline tour", 1)[1]
