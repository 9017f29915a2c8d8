"""HTML and plain text of the reports, Chinese (default) or English.

Every string that comes from the settings or the ledger (area, station, section and river
names, target names, notes, errors) passes through :func:`html.escape`, so a name such as
``<script>`` shows as text and never runs. The HTML carries its own CSS, with a print
layout (A4, sections kept on one page where they fit). Images are referenced by the
``images`` mapping: data URIs for the file on disk, ``cid:`` URLs in the email.
"""

from __future__ import annotations

import functools
import html
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Final

from monitor.domain.aqi import AQI_LEVELS
from monitor.domain.targets import TargetProgress
from monitor.reports.content import (
    Breach,
    DailyDigest,
    DayAqi,
    MonthlyReport,
    SectionLine,
    SilentItem,
)
from monitor.reports.terms import (
    level_name,
    parameter_text,
    qc_flag_text,
    status_name,
    term,
)

__all__ = ["CSS", "render_html", "render_text", "subject"]

Report = DailyDigest | MonthlyReport

CSS: Final = """
@page { size: A4; margin: 14mm; }
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei",
  "PingFang SC", "WenQuanYi Zen Hei", sans-serif; color: #1f2328; background: #ffffff;
  max-width: 940px; margin: 0 auto; padding: 16px; line-height: 1.5; font-size: 14px; }
h1 { font-size: 22px; margin: 0 0 4px; border-bottom: 3px solid #1f5fbf; padding-bottom: 6px; }
h2 { font-size: 17px; margin: 20px 0 8px; color: #1f5fbf; }
.meta { color: #57606a; font-size: 12px; margin: 0 0 12px; }
.synthetic { background: #fff3cd; border: 2px solid #c00000; color: #c00000;
  font-weight: bold; padding: 6px 10px; margin: 0 0 12px; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 10px; font-size: 13px; }
th, td { border: 1px solid #d0d7de; padding: 4px 6px; text-align: left; vertical-align: top; }
th { background: #f3f6fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.badge { display: inline-block; padding: 2px 10px; border-radius: 4px; font-weight: bold;
  border: 1px solid #888888; }
.headline { font-size: 16px; }
.bad { color: #c00000; font-weight: bold; }
.ok { color: #1a7f37; }
img.chart { display: block; width: 100%; max-width: 900px; height: auto; margin: 6px 0; }
ul { margin: 4px 0 10px; padding-left: 20px; }
footer { color: #57606a; font-size: 12px; margin-top: 24px; border-top: 1px solid #d0d7de; }
@media print {
  body { max-width: none; padding: 0; font-size: 11pt; }
  section { break-inside: avoid; page-break-inside: avoid; }
  h2 { break-after: avoid; page-break-after: avoid; }
  img.chart { max-width: 100%; }
}
"""

_DARK_TEXT_LEVELS: Final = {0, 1, 2, 3}


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _term_html(key: str, language: str) -> str:
    return _e(term(key, language))


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _num(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _month_text(report: MonthlyReport, language: str) -> str:
    return term("month_fmt", language, year=report.month.year, month=report.month.month)


def subject(report: Report, language: str) -> str:
    """The email subject (Chinese by default; encoded by the mail adapter)."""
    if isinstance(report, DailyDigest):
        return _synthetic_mark(report, language) + term(
            "daily_subject",
            language,
            area=report.area.name_zh if language == "zh" else report.area.name,
            day=report.day.isoformat(),
        )
    return _synthetic_mark(report, language) + term(
        "monthly_subject",
        language,
        area=report.area.name_zh if language == "zh" else report.area.name,
        month=_month_text(report, language),
    )


def _title(report: Report, language: str) -> str:
    area = report.area.name_zh if language == "zh" else report.area.name
    key = "daily_title" if isinstance(report, DailyDigest) else "monthly_title"
    return _synthetic_mark(report, language) + term(key, language, area=area)


def _synthetic_mark(report: Report, language: str) -> str:
    """The title's mark of a report on synthetic data (nothing for other reports)."""
    return term("synthetic_mark", language) if report.synthetic else ""


def _synthetic_banner(report: Report, language: str) -> str:
    """What a report on synthetic data says first: not official figures, and the files."""
    files = ", ".join(report.synthetic)
    return term("synthetic_banner", language, files=files) if report.synthetic else ""


def _badge(aqi: float | None, level: int) -> str:
    colour = "#DDDDDD" if level < 1 else AQI_LEVELS[level - 1].colour
    text = "#000000" if level in _DARK_TEXT_LEVELS else "#FFFFFF"
    return f'<span class="badge" style="background:{colour};color:{text}">AQI {_num(aqi)}</span>'


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], numeric: set[int]) -> str:
    """A table; cells are HTML already escaped by the caller."""
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _img(images: Mapping[str, str], name: str, alt: str) -> str:
    if name not in images:
        return ""
    return f'<img class="chart" src="{_e(images[name])}" alt="{_e(alt)}">'


def _primary(names: Sequence[str], language: str) -> str:
    """Pollutant or parameter names (labels such as ``PM2.5`` or codes such as ``nh3n``)."""
    if not names:
        return "—"
    return ("、" if language == "zh" else ", ").join(parameter_text(n, language) for n in names)


def _site_name(name: str, control: bool, language: str) -> str:
    return name + term("control_site", language) if control else name


def _basis(basis: str, language: str) -> str:
    return term(f"basis_{basis}", language) if basis else term("no_valid", language)


def _day_basis(day: DayAqi, language: str) -> str:
    """The basis of an area's day, with the stations a computed value rests on."""
    text = _basis(day.basis, language)
    if day.stations is None:
        return text
    return f"{text}, {term('rests_on', language, n=day.stations)}"


def _month_basis(m: MonthlyReport, language: str, separator: str) -> str:
    """How many days rest on official and computed values, with the stations the computed
    days rest on (``2`` or ``1–2``; issue 13 §2), as the daily digest states its day."""
    text = term(
        "official_provisional", language, official=m.official_days, provisional=m.provisional_days
    )
    if m.rests_on is None:
        return text
    low, high = m.rests_on
    n = str(low) if low == high else f"{low}–{high}"
    return f"{text}{separator}{term('month_rests_on', language, n=n)}"


def _variant(variant: str, language: str) -> str:
    base, _, dust = variant.partition("+")
    text = term(f"variant_{base}", language)
    return f"{text}（{term('dust_excluded', language)}）" if dust else text


def _target_value(row: TargetProgress, value: float | None) -> str:
    if value is None:
        return "—"
    if row.kind in ("good_day_ratio", "river_class"):
        return _pct(value)
    return f"{value:g}"


def _withheld(m: MonthlyReport, language: str, separator: str) -> str:
    """The month's withheld days and share range, after ``separator``; empty when none."""
    span = m.good_share_range
    if span is None:
        return ""
    text = term("withheld", language, n=m.withheld_days, low=_pct(span[0]), high=_pct(span[1]))
    return separator + text


def _explanation(row: TargetProgress, language: str) -> str:
    return row.explanation_zh if language == "zh" else row.explanation_en


def _variant_explanation(row: TargetProgress, language: str) -> str:
    """An explanation with the rule variant it belongs to (``全年按HJ 633-2012：…``)."""
    separator = "：" if language == "zh" else ": "
    return f"{_variant(row.variant, language)}{separator}{_explanation(row, language)}"


def _meets(line: SectionLine, language: str) -> str:
    if line.meets is None:
        return _e(term("unknown", language))
    if line.meets:
        return f'<span class="ok">{_e(term("yes", language))}</span>'
    return f'<span class="bad">{_e(term("no", language))}</span>'


def _page(report: Report, language: str, body: str, generated: datetime) -> str:
    lang = "zh-CN" if language == "zh" else "en"
    title = _title(report, language)
    period = report.period if isinstance(report, DailyDigest) else _month_text(report, language)
    stamp = generated.strftime("%Y-%m-%d %H:%M")
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)} {_e(period)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f"<header><h1>{_e(title)}</h1>"
        f'<p class="meta">{_e(period)} · {_e(term("generated", language, time=stamp))}</p>'
        + (
            f'<p class="synthetic">{_e(_synthetic_banner(report, language))}</p>'
            if report.synthetic
            else ""
        )
        + f"</header>\n{body}\n<footer><p>{_e(term('colours_note', language))}</p></footer>\n"
        "</body>\n</html>\n"
    )


# --------------------------------------------------------------------------- daily html


def _site_rows(rows: Sequence[DayAqi], language: str) -> list[list[str]]:
    return [
        [
            _e(_site_name(r.name, r.control, language)),
            _e(_num(r.aqi)),
            _e(level_name(r.level, language)),
            _e(_primary(r.primary, language)),
        ]
        for r in rows
    ]


def _good_day_rows(rows: Sequence[TargetProgress], language: str) -> list[list[str]]:
    out = []
    for r in rows:
        projection = (
            "—"
            if r.projection is None
            else f"{_pct(r.projection)} ({_pct(r.projection_low)}–{_pct(r.projection_high)})"
        )
        out.append(
            [
                _e(_variant(r.variant, language)),
                _e(_pct(r.value)),
                _e(_pct(r.goal)),
                _e(
                    f"{_num(r.good_days)} / {_num(r.valid_days)}"
                    + (
                        "; "
                        + term(
                            "withheld",
                            language,
                            n=r.withheld_days,
                            low=_pct(r.ratio_low),
                            high=_pct(r.ratio_high),
                        )
                        if r.withheld_days
                        else ""
                    )
                ),
                _e(_num(r.budget_remaining)),
                _e(_pct(r.required_rate)),
                _e(projection),
                _e(status_name(r.status, language)),
            ]
        )
    return out


def _section_rows(lines: Sequence[SectionLine], language: str, month: bool) -> list[list[str]]:
    rows = []
    for s in lines:
        row = [
            _e(s.name),
            _e(s.river),
            _e((s.period_class if month else s.latest_class) or "—"),
        ]
        if month:
            row += [_e(s.worst_class or "—"), _e(s.readings)]
        else:
            row += [_e(s.reading or "—")]
        row += [
            _e(s.target_class or "—"),
            _meets(s, language),
            _e(parameter_text(s.limiting, language) or "—"),
            _e(parameter_text(s.multiples, language) or "—"),
        ]
        rows.append(row)
    return rows


def _silent_text(item: SilentItem, language: str) -> str:
    if item.problem == "failing":
        n, _, error = item.detail.partition("|")
        what = term("problem_source_failing", language, n=n, error=error)
    elif item.problem == "flagged":
        n, _, flags = item.detail.partition("|")
        what = term("problem_site_flagged", language, n=n, flags=qc_flag_text(flags, language))
    elif item.problem == "incomplete":
        what = term("problem_site_incomplete", language, n=item.detail)
    else:
        what = term(f"problem_{item.kind}_no_data", language)
    return f"{_site_name(item.name, item.control, language)}: {what}"


def _breach_text(breach: Breach, language: str) -> str:
    key = "breach_air" if breach.kind == "air" else "breach_water"
    what = term(
        key,
        language,
        hours=breach.hours,
        worst=breach.worst,
        at=breach.at,
        primary=_primary(breach.primary, language),
    )
    return f"{breach.name}: {what}"


def _list(items: Sequence[str], language: str) -> str:
    if not items:
        return f"<p>{_e(term('none', language))}</p>"
    return "<ul>" + "".join(f"<li>{_e(i)}</li>" for i in items) + "</ul>"


def _daily_html(d: DailyDigest, language: str, images: Mapping[str, str]) -> str:
    t = functools.partial(_term_html, language=language)
    district = d.district
    parts = [
        f'<section id="air"><h2>{t("district_air")} — {_e(d.area.name_zh)} '
        f"{_e(d.day.isoformat())}</h2>",
        f'<p class="headline">{_badge(district.aqi, district.level)} '
        f"{_e(level_name(district.level, language))} · {t('primary')}: "
        f"{_e(_primary(district.primary, language))}</p>",
        f'<p class="meta">{t("basis")}: {_e(_day_basis(district, language))}</p>',
        _table(
            [term(k, language) for k in ("site", "aqi", "level", "primary")],
            _site_rows([district, *d.sites], language),
            {1},
        ),
        _img(images, "sites", term("sites", language)),
        _img(images, "hours", term("hourly", language)),
        "</section>",
        f'<section id="good-days"><h2>{t("good_days")} {d.day.year}</h2>',
        _table(
            [
                term(k, language)
                for k in (
                    "variant",
                    "value",
                    "goal",
                    "good_valid",
                    "budget",
                    "required_rate",
                    "projection",
                    "status",
                )
            ],
            _good_day_rows(d.good_days, language),
            {1, 2, 3, 4, 5},
        ),
        _list([_variant_explanation(r, language) for r in d.good_days], language),
        _img(images, "year", term("good_days", language)),
        "</section>",
        f'<section id="rivers"><h2>{t("rivers")}</h2>',
        _table(
            [
                term(k, language)
                for k in (
                    "section",
                    "river",
                    "latest_class",
                    "reading_time",
                    "target_class",
                    "meets",
                    "limiting",
                    "multiples",
                )
            ],
            _section_rows(d.sections, language, month=False),
            set(),
        )
        if d.sections
        else f"<p>{t('none')}</p>",
        "</section>",
        f'<section id="silent"><h2>{t("silent")}</h2>',
        _list([_silent_text(i, language) for i in d.silent], language),
        "</section>",
        f'<section id="breaches"><h2>{t("breaches")}</h2>',
        _list([_breach_text(b, language) for b in d.breaches], language),
        "</section>",
    ]
    return "\n".join(parts)


# --------------------------------------------------------------------------- monthly html


def _monthly_html(m: MonthlyReport, language: str, images: Mapping[str, str]) -> str:
    t = functools.partial(_term_html, language=language)
    if m.last_year_share is None:
        comparison = term("no_last_year", language)
    else:
        delta = (m.good_share or 0.0) - m.last_year_share
        comparison = (
            f"{term('last_year', language)}: {_pct(m.last_year_share)} "
            f"({m.last_year_good_days}/{m.last_year_valid_days}); {term('change', language)} "
            f"{term('points', language, value=f'{delta * 100:+.1f}')}"
        )
    level_rows = [
        [
            _e(level_name(lv.level, language)),
            _e(m.levels.get(lv.level, 0)),
        ]
        for lv in AQI_LEVELS
    ]
    pollutant_rows = [
        [
            _e(p.label),
            _e(_num(p.value, 1 if p.statistic == "co" else 0)),
            _e(_num(p.limit, 0 if p.statistic != "co" else 1)),
            _e(_pct(p.ratio))
            if p.ratio is None or p.ratio <= 1
            else f'<span class="bad">{_e(_pct(p.ratio))}</span>',
            _e(p.valid_days),
            _e(_num(p.last_year, 1 if p.statistic == "co" else 0)),
            _e("—" if p.change is None else f"{p.change * 100:+.1f}%"),
        ]
        for p in m.pollutants
    ]
    exceedance_rows = [[_e(k), _e(v)] for k, v in m.exceedance_by_pollutant.items()]
    meeting, assessed, listed = m.compliance
    compliance = (
        f"{meeting}/{assessed} ({_pct(meeting / assessed)}); " if assessed else "—; "
    ) + term("compliance_basis", language, listed=listed, missing=listed - assessed)
    target_rows = [
        [
            _e(r.name),
            _e(_variant(r.variant, language) if r.kind == "good_day_ratio" else "—"),
            _e(status_name(r.status, language)),
            _e(_target_value(r, r.value)),
            _e(_target_value(r, r.goal)),
            _e(_explanation(r, language)),
        ]
        for r in m.targets
    ]
    parts = [
        f'<section id="air"><h2>{t("month_air")} — {_e(m.area.name_zh)}</h2>',
        f'<p class="headline">{t("good_days")}: <b>{_e(_pct(m.good_share))}</b> '
        f"({t('good_day_count')} {_e(m.good_days)} / {t('valid_days')} {_e(m.valid_days)})"
        f"{_e(_withheld(m, language, ' · '))}"
        f" · {t('exceedance_days')} {_e(m.exceedance_days)}</p>",
        f'<p class="meta">{_e(comparison)}<br>'
        f"{_e(_month_basis(m, language, '；' if language == 'zh' else '; '))}</p>",
        _table([term("level", language), term("days_unit", language, n="")], level_rows, {1}),
        _img(images, "days", term("daily_aqi", language)),
        _img(images, "levels", term("levels", language)),
        "</section>",
        f'<section id="pollutants"><h2>{t("pollutants")}</h2>',
        _table(
            [
                term(k, language)
                for k in (
                    "pollutant",
                    "concentration",
                    "limit",
                    "ratio",
                    "valid_days",
                    "last_year",
                    "change",
                )
            ],
            pollutant_rows,
            {1, 2, 3, 4, 5, 6},
        ),
        f'<p class="meta">{_e(term("limits_note", language, limits=m.limits))}</p>',
        _img(images, "pollutants", term("pollutants", language)),
        "</section>",
        f'<section id="exceedance"><h2>{t("exceedance")}</h2>',
        _table(
            [term("primary", language), term("exceedance_days", language)], exceedance_rows, {1}
        )
        if exceedance_rows
        else f"<p>{t('none')}</p>",
        "</section>",
        f'<section id="rivers"><h2>{t("rivers")}</h2>',
        f"<p>{t('compliance')}: {_e(compliance)}</p>",
        _table(
            [
                term(k, language)
                for k in (
                    "section",
                    "river",
                    "period_class",
                    "worst_class",
                    "readings",
                    "target_class",
                    "meets",
                    "limiting",
                    "multiples",
                )
            ],
            _section_rows(m.sections, language, month=True),
            {4},
        )
        if m.sections
        else f"<p>{t('none')}</p>",
        _img(images, "rivers", term("rivers", language)),
        "</section>",
        f'<section id="targets"><h2>{t("targets")}</h2>',
        _table(
            [
                term(k, language)
                for k in ("target", "variant", "status", "value", "goal", "explanation")
            ],
            target_rows,
            {3, 4},
        )
        if target_rows
        else f"<p>{t('none')}</p>",
        "</section>",
    ]
    return "\n".join(parts)


def render_html(
    report: Report, language: str, images: Mapping[str, str], generated: datetime
) -> str:
    """The report as one HTML page; ``images`` maps chart names to image URLs."""
    if isinstance(report, DailyDigest):
        body = _daily_html(report, language, images)
    else:
        body = _monthly_html(report, language, images)
    return _page(report, language, body, generated)


# --------------------------------------------------------------------------- plain text


def _text_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return [" | ".join(headers), *(" | ".join(r) for r in rows)]


def render_text(report: Report, language: str, generated: datetime) -> str:
    """The report as plain text (the email's alternative to HTML)."""
    title = _title(report, language)
    stamp = generated.strftime("%Y-%m-%d %H:%M")
    lines = [title, "=" * 40]
    if report.synthetic:
        lines += [_synthetic_banner(report, language), ""]
    if isinstance(report, DailyDigest):
        d = report
        lines += [d.day.isoformat(), ""]
        lines += [
            f"## {term('district_air', language)}",
            f"{d.area.name_zh}: AQI {_num(d.district.aqi)}, "
            f"{level_name(d.district.level, language)}, {term('primary', language)} "
            f"{_primary(d.district.primary, language)} "
            f"({_day_basis(d.district, language)})",
        ]
        lines += [
            f"- {_site_name(s.name, s.control, language)}: AQI {_num(s.aqi)}, "
            f"{level_name(s.level, language)}, "
            f"{_primary(s.primary, language)}"
            for s in d.sites
        ]
        lines += ["", f"## {term('good_days', language)} {d.day.year}"]
        lines += [f"- {_variant_explanation(r, language)}" for r in d.good_days]
        lines += ["", f"## {term('rivers', language)}"]
        lines += [
            f"- {s.name} ({s.river}): {s.latest_class or '—'} / {term('target_class', language)} "
            f"{s.target_class or '—'} ({s.reading or '—'})"
            for s in d.sections
        ] or [term("none", language)]
        lines += ["", f"## {term('silent', language)}"]
        lines += [f"- {_silent_text(i, language)}" for i in d.silent] or [term("none", language)]
        lines += ["", f"## {term('breaches', language)}"]
        lines += [f"- {_breach_text(b, language)}" for b in d.breaches] or [term("none", language)]
    else:
        m = report
        lines += [_month_text(m, language), ""]
        lines += [
            f"## {term('month_air', language)}",
            f"{term('good_days', language)}: {_pct(m.good_share)} ({m.good_days}/{m.valid_days})"
            f"{_withheld(m, language, '; ')}; "
            f"{term('exceedance_days', language)} {m.exceedance_days}",
        ]
        lines.append(_month_basis(m, language, "；" if language == "zh" else "; "))
        if m.last_year_share is not None:
            lines.append(
                f"{term('last_year', language)}: {_pct(m.last_year_share)} "
                f"({m.last_year_good_days}/{m.last_year_valid_days})"
            )
        lines += [
            f"- {level_name(lv.level, language)}: {m.levels.get(lv.level, 0)}" for lv in AQI_LEVELS
        ]
        lines += ["", f"## {term('pollutants', language)} ({m.limits})"]
        lines += [
            f"- {p.label}: {_num(p.value, 1 if p.statistic == 'co' else 0)} / "
            f"{_num(p.limit, 1 if p.statistic == 'co' else 0)} ({_pct(p.ratio)})"
            for p in m.pollutants
        ]
        lines += ["", f"## {term('exceedance', language)}"]
        lines += [f"- {k}: {v}" for k, v in m.exceedance_by_pollutant.items()] or [
            term("none", language)
        ]
        lines += ["", f"## {term('rivers', language)}"]
        lines += [
            f"- {s.name} ({s.river}): {s.period_class or '—'} / {term('target_class', language)} "
            f"{s.target_class or '—'}"
            for s in m.sections
        ] or [term("none", language)]
        lines += ["", f"## {term('targets', language)}"]
        lines += [
            f"- {r.name} [{_variant(r.variant, language)}] {status_name(r.status, language)}: "
            f"{_explanation(r, language)}"
            for r in m.targets
        ] or [term("none", language)]
    lines += ["", term("generated", language, time=stamp), ""]
    return "\n".join(lines)
