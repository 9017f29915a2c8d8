"""HTML and text rendering: escaping, languages, and the page as headless Chromium shows it."""

from __future__ import annotations

import io
import shutil
import subprocess
from datetime import date, datetime
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from PIL import Image

from monitor.ledger import Ledger
from monitor.reports import render
from monitor.service.reporting import CHROMIUM, gather_daily, gather_monthly, write_report
from monitor.settings import Settings
from tests.reports.conftest import APRIL, DAY, EVIL

NOW = datetime(2026, 5, 11, 8, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
TODAY = date(2026, 5, 11)


def test_every_name_from_the_settings_is_escaped(ledger: Ledger, settings: Settings) -> None:
    """Station and section names with markup appear as text in both reports."""
    for report in (
        gather_daily(ledger, settings, DAY),
        gather_monthly(ledger, settings, date(2026, 5, 1), TODAY),
    ):
        page = render.render_html(report, "zh", {}, NOW)
        assert "<script" not in page and "<b>甲" not in page
        assert "浑河&lt;b&gt;甲&lt;/b&gt;断面" in page
    daily = render.render_html(gather_daily(ledger, settings, DAY), "zh", {}, NOW)
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;站" in daily
    assert EVIL in render.render_text(gather_daily(ledger, settings, DAY), "zh", NOW)


def test_image_urls_are_escaped_too(ledger: Ledger, settings: Settings) -> None:
    """An image URL cannot break out of its attribute."""
    page = render.render_html(
        gather_daily(ledger, settings, DAY), "zh", {"sites": 'x" onerror="alert(1)'}, NOW
    )
    assert 'src="x&quot; onerror=&quot;alert(1)"' in page


def test_chinese_terms_by_default_and_english_by_setting(
    ledger: Ledger, settings: Settings
) -> None:
    """Official Chinese terms (HJ 633 levels and categories), or their English renderings."""
    digest = gather_daily(ledger, settings, DAY)
    zh = render.render_html(digest, "zh", {}, NOW)
    for word in ("首要污染物", "二级（良）", "优良天数比例", "目标类别", 'lang="zh-CN"'):
        assert word in zh
    en = render.render_html(digest, "en", {}, NOW)
    for word in ("Primary pollutant", "Level 2 (Good)", "Good-day share", 'lang="en"'):
        assert word in en
    assert render.subject(digest, "en") == "Hunnan District daily digest (2026-05-10)"
    monthly = gather_monthly(ledger, settings, APRIL, TODAY)
    assert render.subject(monthly, "zh") == "浑南区环境质量月报（2026年4月）"
    text = render.render_text(monthly, "en", NOW)
    assert "Good-day share: 80.0% (24/30)" in text
    assert "PM2.5 P95: 90 / 60 (150.0%)" in text


def _chromium() -> str:
    found = shutil.which("chromium") or (str(CHROMIUM) if CHROMIUM.exists() else None)
    if found is None:
        pytest.skip("chromium is not installed (Debian package chromium; .ci/run installs it)")
    return found


def _screenshot(chromium: str, page: Path, out: Path, size: tuple[int, int], tmp: Path) -> None:
    subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp / 'profile'}",
            f"--screenshot={out}",
            f"--window-size={size[0]},{size[1]}",
            page.resolve().as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )


@pytest.mark.parametrize("kind", ["daily", "monthly"])
def test_headless_chromium_shows_the_report(
    kind: Literal["daily", "monthly"], ledger: Ledger, settings: Settings, tmp_path: Path
) -> None:
    """The HTML file opens in headless Chromium; the screenshot has the window's size and
    is not blank: white background, dark text, and the charts' AQI level colours."""
    chromium = _chromium()
    day = DAY if kind == "daily" else APRIL
    written = write_report(ledger, settings, kind, day, tmp_path, send=False, today=TODAY)
    shot = tmp_path / "shot.png"
    size = (1000, 1800)
    _screenshot(chromium, written.html, shot, size, tmp_path)
    image = Image.open(io.BytesIO(shot.read_bytes())).convert("RGB")
    assert image.size == size
    pixels = np.asarray(image).reshape(-1, 3)
    colours = np.unique(pixels, axis=0)
    assert len(colours) > 50  # text, tables and charts, not a blank page
    white = (pixels == 255).all(axis=1).mean()
    assert 0.3 < white < 0.99
    dark = (pixels.max(axis=1) < 80).mean()
    assert dark > 0.001  # text
    yellow = (pixels == (255, 255, 0)).all(axis=1).mean()  # level 2 (良), HJ 633 Table A.1
    assert yellow > 0.001


def test_headless_chromium_prints_the_report_to_pdf(
    ledger: Ledger, settings: Settings, tmp_path: Path
) -> None:
    """With [reports] pdf = true the monthly report is also printed to PDF."""
    _chromium()
    import dataclasses

    settings = dataclasses.replace(
        settings, reports=dataclasses.replace(settings.reports, pdf=True)
    )
    written = write_report(ledger, settings, "monthly", APRIL, tmp_path, send=False, today=TODAY)
    assert written.pdf is not None
    assert written.pdf.read_bytes().startswith(b"%PDF-")


def test_officer_text_names_the_control_site_variants_and_parameters(
    ledger: Ledger, settings: Settings
) -> None:
    """The control site is marked; explanation bullets name their rule variant; the
    heading says what the list holds (the calendar day); river parameters and QC flags in
    words (GB 3838-2002 Table 1 names), never the ledger's codes."""
    digest = gather_daily(ledger, settings, DAY)
    page = render.render_html(digest, "zh", {}, NOW)
    text = render.render_text(digest, "zh", NOW)
    assert "沈阳站（对照点，不计入区域均值）" in page and "沈阳站（对照点" in text
    assert "1100A" not in page and "1099A" not in page
    for row in digest.good_days:
        assert f"{render._variant(row.variant, 'zh')}：{row.explanation_zh}" in page
    assert "当日超标情况" in page and "近24小时" not in page
    # the class IV reading of hun_a: CODMn 6.5, NH3-N 1.2, TP 0.25 (tests.reports.conftest)
    (section,) = digest.sections
    # each above its class III limit (GB 3838 Table 1: CODMn 6, NH3-N 1.0, TP 0.2)
    assert section.limiting == "codmn;nh3n;tp"
    assert "高锰酸盐指数、氨氮、总磷" in page
    for code in ("codmn", "nh3n", ";tp"):
        assert code not in page
    assert "负值" in page  # the flagged negative SO2 of 1099A


def test_share_of_the_limit_is_computed_from_the_unrounded_value() -> None:
    """占标率 = stored (unrounded) concentration ÷ limit, rounded to 0.1 % only when
    printed, and the note says so: PM2.5 35.4 µg/m³ against the 35 µg/m³ annual limit
    (GB 3095-2012 Table 1) prints "35" but 101.1 %."""
    from monitor.reports.content import PollutantLine
    from monitor.reports.terms import term

    line = PollutantLine("pm2_5", None, 35.4, 35.0, 30, None)
    assert line.ratio == pytest.approx(35.4 / 35.0)
    assert render._pct(line.ratio) == "101.1%"
    assert render._num(line.value) == "35"
    assert "占标率按未修约的浓度计算" in term("limits_note", "zh", limits="GB 3095-2012")
