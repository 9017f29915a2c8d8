"""Charts: PNG of the declared size, official colours, Chinese labels with a CJK font."""

from __future__ import annotations

import io
from datetime import date

import numpy as np
import pytest
from PIL import Image

from monitor.domain.aqi import AQI_LEVELS
from monitor.ledger import Ledger
from monitor.reports import charts
from monitor.service.reporting import gather_daily, gather_monthly
from monitor.settings import Settings
from tests.reports.conftest import APRIL, DAY

needs_cjk = pytest.mark.skipif(
    charts.cjk_font() is None,
    reason="no CJK font installed (Debian fonts-noto-cjk; .ci/run installs it)",
)


def _pixels(png: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert image.size == charts.SIZE_PX
    return np.asarray(image)


def _has_colour(pixels: np.ndarray, hex_colour: str) -> bool:
    rgb = tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return bool((pixels == rgb).all(axis=2).any())


@needs_cjk
def test_daily_charts_in_chinese_with_level_colours(ledger: Ledger, settings: Settings) -> None:
    """Three charts; the stations' bars (level 2, 良) are HJ 633 yellow #FFFF00, the breach
    hours level 3 orange #FF7E00. Drawing Chinese labels raises no missing-glyph warning
    (warnings are errors in this suite)."""
    digest = gather_daily(ledger, settings, DAY)
    images = charts.daily_charts(digest, "zh")
    assert set(images) == {"sites", "hours", "year"}
    sites, hours = _pixels(images["sites"]), _pixels(images["hours"])
    assert _has_colour(sites, AQI_LEVELS[1].colour)
    assert _has_colour(hours, AQI_LEVELS[2].colour)
    assert not _has_colour(sites, AQI_LEVELS[4].colour)  # no level-5 (purple) bar


@needs_cjk
def test_monthly_charts_with_water_class_colours(ledger: Ledger, settings: Settings) -> None:
    """May 2026 has a class IV reading: the river chart has the class IV colour."""
    report = gather_monthly(ledger, settings, date(2026, 5, 1), today=date(2026, 5, 11))
    images = charts.monthly_charts(report, "zh")
    assert set(images) == {"days", "levels", "pollutants", "rivers"}
    from monitor.domain.water_quality import WaterClass

    assert _has_colour(_pixels(images["rivers"]), charts.WATER_CLASS_COLOURS[WaterClass.IV])
    april = gather_monthly(ledger, settings, APRIL, today=date(2026, 5, 11))
    assert "rivers" not in charts.monthly_charts(april, "en")  # no reading in April


def test_english_charts_are_not_blank(ledger: Ledger, settings: Settings) -> None:
    """English charts (Chinese names still drawn with the CJK font when there is one)."""
    digest = gather_daily(ledger, settings, DAY)
    pixels = _pixels(charts.daily_charts(digest, "en")["sites"])
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 10


def test_without_a_cjk_font_chinese_charts_fall_back_to_english(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    ledger: Ledger,
    settings: Settings,
) -> None:
    """No CJK font: a warning naming the package, English labels, and charts still drawn
    (Chinese names as boxes, without a missing-glyph warning per label)."""
    monkeypatch.setattr(charts, "_font", [None])
    assert charts.chart_language("zh") == "en"
    assert "fonts-noto-cjk" in caplog.text
    assert charts.chart_language("en") == "en"
    images = charts.daily_charts(gather_daily(ledger, settings, DAY), "zh")
    assert _pixels(images["sites"]).shape == (charts.SIZE_PX[1], charts.SIZE_PX[0], 3)


def test_the_river_chart_shows_the_class_of_the_months_means(
    ledger: Ledger, settings: Settings
) -> None:
    """The chart agrees with the report's 达标 (环办〔2011〕22号: a month with several samples
    is rated on the mean of each item). June NH3-N 1.5, 1.5, 0.4 (latest, II) average
    1.133 mg/L → IV (GB 3838-2002 Table 1: III ≤ 1.0, IV ≤ 1.5): the bar is class IV, and
    no bar has the class II colour of the latest reading."""
    import pandas as pd

    from monitor.collectors.base import observations
    from monitor.domain.water_quality import WaterClass
    from monitor.service.evaluate import evaluate_dirty

    frames = []
    for moment, nh3n in (
        ("2026-06-03 08:00", 1.5),
        ("2026-06-10 08:00", 1.5),
        ("2026-06-20 08:00", 0.4),
    ):
        end = pd.Timestamp(moment, tz="Asia/Shanghai")
        frames.append(observations("hun_a", ["ph", "do", "nh3n"], end, end, [7.6, 6.0, nh3n]))
    ledger.write_observations(pd.concat(frames, ignore_index=True), "water")
    evaluate_dirty(ledger, settings)
    report = gather_monthly(ledger, settings, date(2026, 6, 1), today=date(2026, 7, 2))
    (section,) = report.sections
    assert (section.latest_class, section.period_class) == ("II", "IV")
    rivers = _pixels(charts.monthly_charts(report, "en")["rivers"])
    assert _has_colour(rivers, charts.WATER_CLASS_COLOURS[WaterClass.IV])
    assert not _has_colour(rivers, charts.WATER_CLASS_COLOURS[WaterClass.II])
