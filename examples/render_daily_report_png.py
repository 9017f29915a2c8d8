"""Render ``docs/images/daily-report.png``: the README tour's daily report, as a picture.

Runs the tour's commands (``envmon import`` of the SYNTHETIC example into a fresh ledger in a
temporary folder, ``envmon report daily --date 2026-03-15``), marks the page as synthetic
with a banner, takes a screenshot with headless Chromium (Debian package ``chromium``) and
stores it as a palette PNG (kept under 300 KB for the repository).

Run from the repository folder: ``.venv/bin/python examples/render_daily_report_png.py``.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Final

from PIL import Image

ROOT: Final = Path(__file__).resolve().parent.parent
EXAMPLE: Final = ROOT / "examples" / "synthetic_hunnan_hourly.csv"
OUT: Final = ROOT / "docs" / "images" / "daily-report.png"
DAY: Final = "2026-03-15"
WINDOW: Final = "1000,2350"
BANNER: Final = (
    '<div style="background:#fff3cd;border:2px solid #d39e00;padding:6px 10px;'
    'margin:0 0 12px;font:bold 15px sans-serif;color:#533f03">'
    "合成示例数据 · SYNTHETIC example data (examples/synthetic_hunnan_hourly.csv), "
    "not measurements</div>"
)


def _run(*command: str | Path) -> None:
    subprocess.run(
        [str(c) for c in command], check=True, cwd=ROOT, capture_output=True, timeout=300
    )


def main() -> None:
    envmon = Path(sys.executable).parent / "envmon"
    with tempfile.TemporaryDirectory(prefix="envmon-tour-") as folder:
        tour = Path(folder)
        ledger = ["--ledger", str(tour / "envmon.sqlite")]
        _run(envmon, *ledger, "import", "--format", "long-csv", EXAMPLE)
        _run(envmon, *ledger, "report", "daily", "--date", DAY, "--out", tour)
        page = (tour / f"daily-{DAY}.html").read_text(encoding="utf-8")
        body = page.index("<body")
        body = page.index(">", body) + 1
        marked = tour / "marked.html"
        marked.write_text(page[:body] + BANNER + page[body:], encoding="utf-8")
        shot = tour / "shot.png"
        _run(
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
            "--hide-scrollbars",
            f"--user-data-dir={tour / 'profile'}",
            f"--screenshot={shot}",
            f"--window-size={WINDOW}",
            marked.as_uri(),
        )
        with Image.open(shot) as image:
            small = image.convert("RGB").quantize(colors=64, method=Image.Quantize.MEDIANCUT)
        OUT.parent.mkdir(parents=True, exist_ok=True)
        small.save(OUT, optimize=True)
    sys.stdout.write(f"wrote {OUT} ({OUT.stat().st_size // 1024} KB)\n")


if __name__ == "__main__":
    main()
