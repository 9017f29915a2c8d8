"""Charts of the reports as PNG bytes: matplotlib (Agg backend, no display), the official
AQI level colours (HJ 633 Appendix A, Table A.1) and water-class colours, a CJK font.

Water-class colours: 环办〔2011〕22号 gives the status colours I–II blue, III green, IV yellow,
V orange, 劣V red (standards.md §3.2, [M]); the standards give no RGB values, so the hex
values below are envmon's choice of those colour names.

Chinese text needs a CJK font. :func:`cjk_font` looks in matplotlib's font manager for a
known family (Noto Sans CJK — Debian ``fonts-noto-cjk`` —, Source Han, WenQuanYi, SimHei,
Microsoft YaHei …), also registering font files found on the system after matplotlib built
its cache. Without one, Chinese charts fall back to English labels (:func:`chart_language`)
and a warning is logged, so that a report is never lost to a missing font.
"""

from __future__ import annotations

import io
import logging
import threading
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd

from monitor.domain.aqi import AQI_LEVELS, aqi_level
from monitor.domain.water_quality import WaterClass
from monitor.reports.content import DailyDigest, MonthlyReport, SectionLine
from monitor.reports.terms import term
from monitor.settings import Area

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "CJK_FAMILIES",
    "WATER_CLASS_COLOURS",
    "chart_language",
    "cjk_font",
    "daily_charts",
    "monthly_charts",
]

log = logging.getLogger("envmon.reports")

#: Font families with Chinese glyphs, in order of preference.
CJK_FAMILIES: Final = (
    "Noto Sans CJK SC",
    "Noto Sans CJK JP",
    "Noto Sans CJK TC",
    "Noto Serif CJK SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "AR PL UMing CN",
    "Droid Sans Fallback",
)

#: Colours of water classes I … 劣V (status colours of 环办〔2011〕22号; hex chosen by envmon).
WATER_CLASS_COLOURS: Final[Mapping[WaterClass, str]] = {
    WaterClass.I: "#1F5FBF",
    WaterClass.II: "#4A90E2",
    WaterClass.III: "#00A651",
    WaterClass.IV: "#FFD700",
    WaterClass.V: "#FF8C00",
    WaterClass.WORSE_THAN_V: "#E00000",
}

#: Pixel size of every chart (width, height) and its resolution.
SIZE_PX: Final = (900, 360)
DPI: Final = 100

_LEVEL_COLOURS: Final = ["#BBBBBB", *(lv.colour for lv in AQI_LEVELS)]
_lock = threading.Lock()  # pyplot state is global; charts are drawn one at a time
_font: list[str | None] = []


def cjk_font() -> str | None:
    """The family name of an installed font with Chinese glyphs, or None."""
    if _font:
        return _font[0]
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    found: str | None = next((n for n in CJK_FAMILIES if n in names), None)
    if found is None:
        # fonts installed after matplotlib built its cache are not listed yet
        for path in font_manager.findSystemFonts():
            lower = path.lower()
            if any(k in lower for k in ("cjk", "wqy", "sourcehan", "simhei", "msyh")):
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    continue
        names = {f.name for f in font_manager.fontManager.ttflist}
        found = next((n for n in CJK_FAMILIES if n in names), None)
        found = found or next((n for n in sorted(names) if "CJK" in n), None)
    _font.append(found)
    return found


def chart_language(language: str) -> str:
    """The language charts are labelled in: Chinese only when a CJK font exists."""
    if language == "zh" and cjk_font() is None:
        log.warning(
            "no font with Chinese glyphs found (install fonts-noto-cjk); chart labels are "
            "in English"
        )
        return "en"
    return language


def _figure() -> tuple[Figure, Axes]:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(SIZE_PX[0] / DPI, SIZE_PX[1] / DPI), dpi=DPI)
    ax = fig.add_subplot(1, 1, 1)
    return fig, ax


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _style(language: str) -> Any:
    # also in English: station, area and river names are Chinese
    family = cjk_font()
    families = [family] if family else []
    return {
        "font.family": "sans-serif",
        "font.sans-serif": [*families, "DejaVu Sans"],
        "axes.unicode_minus": False,
        "axes.spines.top": False,
        "axes.spines.right": False,
    }


def _draw(language: str, draw: Any, *args: Any) -> bytes:
    import matplotlib

    with _lock, matplotlib.rc_context(_style(language)), warnings.catch_warnings():
        if cjk_font() is None:  # known and logged: Chinese names show as boxes
            warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        fig, ax = _figure()
        draw(ax, *args)
        fig.tight_layout()
        return _png(fig)


def _area_name(area: Area, language: str) -> str:
    return area.name_zh if language == "zh" else area.name


def _level_colours(values: Sequence[float | None]) -> list[str]:
    levels = aqi_level([np.nan if v is None else v for v in values])
    return [_LEVEL_COLOURS[int(lv)] for lv in levels]


def _bars_with_values(ax: Axes, labels: Sequence[str], values: Sequence[float | None]) -> None:
    heights = [0.0 if v is None else v for v in values]
    bars = ax.bar(range(len(labels)), heights, color=_level_colours(values), edgecolor="#555555")
    crowded = len(labels) > 8 or sum(len(label) for label in labels) > 8 * len(labels)
    ax.set_xticks(
        range(len(labels)),
        labels,
        rotation=20 if crowded else 0,
        ha="right" if crowded else "center",
        fontsize=8 if crowded else None,
    )
    for bar, value in zip(bars, values, strict=True):
        text = "—" if value is None else f"{value:.0f}"
        ax.annotate(
            text,
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
        )


def _aqi_bands(ax: Axes) -> None:
    for lv in AQI_LEVELS[:4]:
        ax.axhline(lv.upper, color=lv.colour if lv.level > 2 else "#999999", lw=0.6, ls="--")


# --------------------------------------------------------------------------- daily


def _sites(ax: Axes, digest: DailyDigest, language: str) -> None:
    rows = [digest.district, *digest.sites]
    _bars_with_values(ax, [r.name for r in rows], [r.aqi for r in rows])
    _aqi_bands(ax)
    ax.set_ylabel("AQI")
    ax.set_title(f"{term('sites', language)} — {digest.day.isoformat()}")


def _hours(ax: Axes, digest: DailyDigest, language: str) -> None:
    labels = [h for h, _ in digest.hourly] or ["—"]
    values = [v for _, v in digest.hourly] or [None]
    heights = [0.0 if v is None else v for v in values]
    ax.bar(range(len(labels)), heights, color=_level_colours(values), edgecolor="#555555")
    ax.set_xticks(range(len(labels)), labels, rotation=60, fontsize=7)
    _aqi_bands(ax)
    ax.set_ylabel("AQI")
    ax.set_title(f"{_area_name(digest.area, language)} {term('hourly', language)}")


def _year(ax: Axes, digest: DailyDigest, language: str) -> None:
    series = digest.year_series
    for column, style in (("official", "-"), ("hj633-2012", "--"), ("hj633-2026", ":")):
        if len(series) and series[column].notna().any():
            ax.plot(
                pd.to_datetime(series["date"]),
                series[column] * 100,
                style,
                label=term(f"variant_{column}", language),
            )
    if digest.goal is not None:
        ax.axhline(digest.goal * 100, color="#C00000", lw=1.0, label=term("goal", language))
    ax.set_ylabel("%")
    ax.set_title(f"{term('good_days', language)} {digest.day.year}")
    if ax.lines:
        ax.legend(loc="lower left", fontsize=8)
    ax.figure.autofmt_xdate()


def daily_charts(digest: DailyDigest, language: str) -> dict[str, bytes]:
    """The digest's charts (PNG): station AQI, the area's hours, the good-day share so far."""
    lang = chart_language(language)
    return {
        "sites": _draw(lang, _sites, digest, lang),
        "hours": _draw(lang, _hours, digest, lang),
        "year": _draw(lang, _year, digest, lang),
    }


# --------------------------------------------------------------------------- monthly


def _days(ax: Axes, report: MonthlyReport, language: str) -> None:
    days = report.days
    values = [None if np.isnan(v) else float(v) for v in days["aqi"].to_numpy(dtype=float)]
    _bars_with_values(ax, [f"{d.day}" for d in days["date"]], values)
    _aqi_bands(ax)
    ax.set_ylabel("AQI")
    ax.set_title(
        f"{_area_name(report.area, language)} {term('daily_aqi', language)} {report.period}"
    )


def _levels(ax: Axes, report: MonthlyReport, language: str) -> None:
    labels = [lv.category_zh if language == "zh" else lv.category_en for lv in AQI_LEVELS]
    counts = [report.levels.get(lv.level, 0) for lv in AQI_LEVELS]
    ax.bar(range(6), counts, color=[lv.colour for lv in AQI_LEVELS], edgecolor="#555555")
    ax.set_xticks(range(6), labels)
    for i, n in enumerate(counts):
        ax.annotate(str(n), (i, n), ha="center", va="bottom", fontsize=9)
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(term("levels", language))


def _pollutants(ax: Axes, report: MonthlyReport, language: str) -> None:
    lines = [p for p in report.pollutants if p.ratio is not None]
    ratios = [float(p.ratio or 0.0) * 100 for p in lines]
    colours = ["#E00000" if r > 100 else "#4A90E2" for r in ratios]
    ax.bar(range(len(lines)), ratios, color=colours, edgecolor="#555555")
    ax.set_xticks(range(len(lines)), [p.label for p in lines], rotation=30, ha="right")
    ax.axhline(100, color="#C00000", lw=1.0)
    ax.set_ylabel(f"{term('ratio', language)} %")
    ax.set_title(f"{term('pollutants', language)} ({report.limits})")


def _river_class(section: SectionLine) -> WaterClass | None:
    """The class a section's bar shows: the class of the month's mean of each item
    (环办〔2011〕22号, what the report's 达标 rests on), else its latest reading's."""
    code = section.period_class or section.latest_class
    return None if code is None else WaterClass.from_code(str(code))


def _rivers(ax: Axes, report: MonthlyReport, language: str) -> None:
    rated = [(s, c) for s in report.sections if (c := _river_class(s)) is not None]
    sections = [s for s, _ in rated]
    classes = [c for _, c in rated]
    ax.bar(
        range(len(sections)),
        [int(c) for c in classes],
        color=[WATER_CLASS_COLOURS[c] for c in classes],
        edgecolor="#555555",
    )
    for i, s in enumerate(sections):
        if s.target_class is not None:
            target = int(WaterClass.from_code(s.target_class))
            ax.plot([i - 0.4, i + 0.4], [target, target], color="#000000", lw=2)
    ax.set_xticks(range(len(sections)), [s.name for s in sections], rotation=30, ha="right")
    ax.set_yticks(range(1, 7), [c.code for c in WaterClass])
    ax.set_ylim(0, 6.5)
    ax.set_title(f"{term('rivers', language)} (— {term('target_class', language)})")


def monthly_charts(report: MonthlyReport, language: str) -> dict[str, bytes]:
    """The monthly report's charts (PNG): daily AQI, days by level, pollutants against their
    limits and, when sections have readings, river classes against their targets."""
    lang = chart_language(language)
    charts = {
        "days": _draw(lang, _days, report, lang),
        "levels": _draw(lang, _levels, report, lang),
        "pollutants": _draw(lang, _pollutants, report, lang),
    }
    if any(s.latest_class is not None for s in report.sections):
        charts["rivers"] = _draw(lang, _rivers, report, lang)
    return charts
