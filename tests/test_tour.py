"""The README's offline tour runs as written (issue 18, "an offline tour that works").

The tour's shell block is taken from README.md and run by bash, unchanged, in the repository
folder: a fresh ledger in a temporary folder, the synthetic example imported with
``envmon import --format long-csv``, ``envmon progress``, ``envmon report daily``, and the
report opened. Only the surroundings are set: ``TMPDIR`` (so ``mktemp -d`` lands in pytest's
temporary folder), ``.venv/bin/`` read as the folder of the interpreter running the tests
(the same venv when the tests run as the README says), no ``ENVMON_*`` variables, and an
``xdg-open`` on ``PATH`` that writes down what it was asked to open instead of starting a
browser.
"""

from __future__ import annotations

import csv
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
EXAMPLE = ROOT / "examples" / "synthetic_hunnan_hourly.csv"


def _tour_block() -> str:
    section = README.split("## Offline tour", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)
    assert len(blocks) == 1, "the tour section has exactly one shell block"
    return str(blocks[0])


def test_example_is_a_small_long_csv_of_the_hunnan_stations() -> None:
    # The stations of the area "hunnan" in config/hunnan.toml: 1098A (control), 1099A, 2900A.
    assert EXAMPLE.stat().st_size < 1_000_000
    with EXAMPLE.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["site", "time", "parameter", "value", "unit"]
    assert {r["site"] for r in rows} == {"1098A", "1099A", "2900A"}
    assert {r["parameter"] for r in rows} == {"so2", "no2", "co", "o3", "pm10", "pm2_5"}
    days = {r["time"][:10] for r in rows}
    assert (min(days), max(days), len(days)) == ("2026-02-16", "2026-03-15", 28)


def test_example_is_what_its_committed_script_makes(tmp_path: Path) -> None:
    # Fixed seed: the script reproduces the committed file byte for byte.
    out = tmp_path / "again.csv"
    subprocess.run(
        [sys.executable, str(ROOT / "examples" / "make_synthetic_hunnan.py"), str(out)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert out.read_bytes() == EXAMPLE.read_bytes()


def test_the_tour_runs_as_written(tmp_path: Path) -> None:
    block = _tour_block()
    venv_bin = Path(sys.executable).parent
    script = block.replace(".venv/bin/", shlex.quote(str(venv_bin)) + "/")
    desktop = tmp_path / "desktop"
    desktop.mkdir()
    opened = tmp_path / "opened.txt"
    opener = desktop / "xdg-open"
    opener.write_text(f'#!/bin/sh\nprintf "%s\\n" "$1" >> {shlex.quote(str(opened))}\n')
    opener.chmod(0o755)
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENVMON_")}
    env |= {"TMPDIR": str(temporary), "PATH": f"{desktop}{os.pathsep}{env.get('PATH', '')}"}

    run = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stderr

    # One fresh folder was made for the tour, holding its own ledger.
    (tour,) = temporary.iterdir()
    assert (tour / "envmon.sqlite").is_file()
    # The import: every row of the example is new in the fresh ledger.
    with EXAMPLE.open(encoding="utf-8") as handle:
        rows = sum(1 for _ in handle) - 1
    assert f"{rows} observation(s) in 1 batch(es): {rows} new, 0 revised" in run.stdout
    # progress: the good-day target of config/hunnan.toml over the 28 synthetic days, each of
    # which has all 24 hours at the two evaluation stations.
    assert "good_days_2026 [official]" in run.stdout
    assert "of 28 valid" in run.stdout
    # report daily: the HTML is written, names the area, and is what the tour opens.
    html = tour / "daily-2026-03-15.html"
    page = html.read_text(encoding="utf-8")
    assert "浑南区" in page
    assert "2026-03-15" in page
    # made-up data: the report says so in its title and a banner naming the file
    assert "<title>【合成数据·非官方】浑南区环境质量日报" in page
    assert "examples/synthetic_hunnan_hourly.csv" in page
    assert opened.read_text().splitlines() == [str(html)]


def test_the_readme_shows_the_report_picture() -> None:
    # docs/images/daily-report.png, drawn by examples/render_daily_report_png.py: a PNG
    # (signature, RFC 2083 §3.1) small enough for the repository.
    assert "](docs/images/daily-report.png)" in README.split("## Offline tour", 1)[1]
    picture = (ROOT / "docs" / "images" / "daily-report.png").read_bytes()
    assert picture[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(picture) < 300_000
