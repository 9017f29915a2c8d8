"""Produce a report: read the ledger, build the model, draw, render, write, keep the send log.

The service's side of reports: the figures (target progress, area days, water classes) are
computed here from the ledger and handed to :mod:`monitor.reports`, which builds, draws and
renders them without reading anything itself.

Files, in the report folder (``[reports] folder`` or ``--out``)::

    daily-2026-11-25.html    self-contained page (charts as data: URIs), print layout
    daily-2026-11-25.txt     plain text
    daily-2026-11-25.eml     the email exactly as sent (sending and retries send this file)
    daily-2026-11-25.pdf     with ``[reports] pdf = true`` and Chromium installed
    monthly-2026-10.*        the same for a month

The send log (ledger table ``report_log``) has one row per report: written, pending (to be
sent; failed attempts counted with the last error), sending, sent (with the time), or
failed (gave up after ``max_attempts``). A report is written to disk first, whatever
happens to the mail; a sent report is never sent again; the daemon retries pending ones.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Final, Literal
from zoneinfo import ZoneInfo

import pandas as pd

from monitor.domain.units import AIR_PARAMETERS
from monitor.errors import ConfigError, EnvmonError
from monitor.ledger import Ledger
from monitor.ledger.indicators import INDICATOR_IMPORTS
from monitor.ledger.store import ReportLogEntry
from monitor.reports import charts, render
from monitor.reports.content import (
    DailyDigest,
    MonthlyReport,
    build_daily,
    build_monthly,
    month_bounds,
)
from monitor.reports.mail import (
    build_message,
    content_id,
    new_message_id,
    read_message,
    send_message,
    sender_address,
)
from monitor.service.progress_targets import (
    area_days,
    compliance_sections,
    compute_progress,
    section_period_classes,
)
from monitor.settings import Area, Settings

__all__ = [
    "CHROMIUM",
    "SYNTHETIC_PREFIX",
    "Grounds",
    "Kind",
    "Written",
    "default_day",
    "gather_daily",
    "gather_monthly",
    "is_synthetic_file",
    "report_area",
    "report_folder",
    "send_pending",
    "send_problems",
    "send_report",
    "synthetic_files",
    "write_report",
]

log = logging.getLogger("envmon.reports")

LOCAL: Final = ZoneInfo("Asia/Shanghai")
#: Headless Chromium, for the optional PDF.
CHROMIUM: Final = Path("/usr/bin/chromium")

Kind = Literal["daily", "monthly"]


def today_local() -> date:
    """Today in Asia/Shanghai."""
    return datetime.now(LOCAL).date()


def default_day(kind: Kind, today: date) -> date:
    """Yesterday (daily) or the first day of last month (monthly), given today's date.

    >>> default_day("daily", date(2026, 3, 1)), default_day("monthly", date(2026, 1, 15))
    (datetime.date(2026, 2, 28), datetime.date(2025, 12, 1))
    """
    if kind == "daily":
        return today - timedelta(days=1)
    return (today.replace(day=1) - timedelta(days=1)).replace(day=1)


def report_area(settings: Settings) -> Area:
    """The area reported on: ``[reports] area``, else the first configured area."""
    if settings.reports.area:
        return settings.area(settings.reports.area)
    return settings.areas[0]


def report_folder(settings: Settings, out: str | None) -> Path:
    """``--out``, else ``[reports] folder`` (relative to the settings file's folder)."""
    if out:
        return Path(out).expanduser()
    folder = Path(settings.reports.folder).expanduser()
    return folder if folder.is_absolute() else settings.source.parent / folder


def period_of(kind: Kind, day: date) -> str:
    """The send log's period key: ``YYYY-MM-DD`` or ``YYYY-MM``."""
    return day.isoformat() if kind == "daily" else day.strftime("%Y-%m")


def _day_start(day: date) -> int:
    return int(pd.Timestamp(day, tz="Asia/Shanghai").timestamp())


def _day_end(day: date) -> int:
    """The next day's start: 25 or 23 hours after ``day``'s where the clocks changed."""
    return _day_start(day + timedelta(days=1))


def _with_primary(
    ledger: Ledger, settings: Settings, area: str, first: date, last: date
) -> pd.DataFrame:
    """:func:`area_days` plus ``primary``: the imported official primary pollutants where
    the official value decides the day, else the computed ones under the rules in force.
    Days count by the settings' valid-day rule."""
    days = area_days(ledger, area, first, last, settings.evaluation.valid_day_rule)
    computed = ledger.query(
        "SELECT date, primary_pollutants FROM daily_aqi WHERE site = ? AND is_area = 1 AND "
        "official = 1 AND date >= ? AND date <= ?",
        (area, first.isoformat(), last.isoformat()),
    )
    computed["date"] = pd.to_datetime(computed["date"])
    days = days.merge(computed, on="date", how="left")
    imported = days["imported_primary"].fillna("").astype(str)
    use_imported = (days["official_source"] == "official") & (imported != "")
    days["primary"] = imported.where(use_imported, days["primary_pollutants"].fillna(""))
    return days


def gather_daily(ledger: Ledger, settings: Settings, day: date) -> DailyDigest:
    """The digest of ``day`` from the ledger."""
    area = report_area(settings)
    stations = settings.stations_in(area.id)
    start = _day_start(day)
    end = _day_end(day)
    days = _with_primary(ledger, settings, area.id, date(day.year, 1, 1), day)
    daily = ledger.query(
        "SELECT site, is_area, aqi, primary_pollutants FROM daily_aqi WHERE date = ? AND "
        "official = 1",
        (day.isoformat(),),
    )
    hourly = ledger.query(
        "SELECT site, is_area, period_end, aqi, primary_pollutants FROM hourly_aqi WHERE "
        "official = 1 AND period_end >= ? AND period_end < ?",
        (start, end),
    )
    water = ledger.query(
        "SELECT site, period_end, water_class, limiting_parameters, exceedance_multiples "
        "FROM water_classes WHERE period_end < ?",
        (end,),
    )
    fetches = ledger.query(  # (imported indicator files deliver no observations)
        "SELECT source, status, error FROM fetch_log WHERE finished_at >= ? AND "
        "finished_at < ? AND source != ? ORDER BY id",
        (start, end, INDICATOR_IMPORTS),
    )
    delivered = ledger.query(
        "SELECT source, count(*) AS n FROM observations WHERE period_end >= ? AND "
        "period_end < ? GROUP BY source",
        (start, end),
    )
    codes = [s.code for s in stations]
    marks = ",".join("?" * len(codes)) or "''"
    params = ",".join("?" * len(AIR_PARAMETERS))
    hours = ledger.query(
        f"SELECT site, count(DISTINCT period_end) AS hours FROM observations WHERE "
        f"period_end >= ? AND period_end < ? AND value IS NOT NULL AND site IN ({marks}) AND "
        f"parameter IN ({params}) GROUP BY site",
        (start, end, *codes, *AIR_PARAMETERS),
    )
    flags = ledger.query(
        f"SELECT site, count(*) AS flagged, group_concat(flags, ';') AS flags FROM qc_flags "
        f"WHERE period_end >= ? AND period_end < ? AND site IN ({marks}) GROUP BY site",
        (start, end, *codes),
    )
    flags["flags"] = [
        ";".join(sorted({f for f in str(text).split(";") if f})) for text in flags["flags"]
    ]
    site_hours = hours.merge(flags, on="site", how="outer")
    # Without any QC flag the merged text column is all-NaN float: text before filling.
    site_hours["flags"] = site_hours["flags"].astype(object)
    site_hours = site_hours.fillna({"hours": 0, "flagged": 0, "flags": ""})
    progress = compute_progress(ledger, settings, as_of=day, year=day.year)
    digest = build_daily(
        day,
        area,
        stations,
        days=days,
        daily=daily,
        hourly=hourly,
        progress=progress,
        sections=settings.water_sections,
        water=water,
        fetches=fetches,
        delivered=delivered,
        site_hours=site_hours,
        enabled_sources=[s.name for s in settings.sources if s.enabled],
        source_stations={s.name: s.stations for s in settings.sources},
    )
    # the year's figures rest on the days since 1 January, at the area's stations (control
    # sites too: their rows are shown) and the sections; each section's latest reading
    # may be older
    since = date(day.year, 1, 1)
    sections = _section_sites(settings)
    latest = []
    for section in settings.water_sections:
        mine = water[water["site"].isin([section.id, section.name_zh])]
        if len(mine):
            at = int(mine["period_end"].max())
            sites = mine.loc[mine["period_end"] == at, "site"].astype(str)
            latest.append((at, at + 1, frozenset(sites)))
    # the good-day target's projection: the rest of the year in the three years before
    projected = [
        t.area
        for t in settings.targets
        if t.kind == "good_day_ratio" and t.year == day.year and t.area == area.id
    ]
    history = _earlier_years(ledger, settings, projected, day)
    grounds = Grounds(
        observations=(
            (_day_start(since), end, frozenset(codes) | sections),
            *latest,
            *history.observations,
        ),
        official_days=((frozenset([area.id]), since, day), *history.official_days),
    )
    synthetic = synthetic_files(ledger, grounds)
    return replace(digest, synthetic=synthetic) if synthetic else digest


def gather_monthly(
    ledger: Ledger, settings: Settings, any_day: date, today: date
) -> MonthlyReport:
    """The report of ``any_day``'s month from the ledger; targets as of the month's last
    day, or the last complete day when the month is not over."""
    area = report_area(settings)
    first, last = month_bounds(any_day)
    try:
        year_before = first.replace(year=first.year - 1)
    except ValueError:  # pragma: no cover - the first of a month always exists
        year_before = first - timedelta(days=365)
    before_first, before_last = month_bounds(year_before)
    days = _with_primary(ledger, settings, area.id, first, last)
    before = _with_primary(ledger, settings, area.id, before_first, before_last)

    def stats(a: date, b: date) -> pd.DataFrame:
        return ledger.query(
            "SELECT date, so2, no2, co, pm10, pm2_5, o3_8h_max, invalid_statistics FROM "
            "daily_aqi WHERE site = ? AND is_area = 1 AND official = 1 AND date >= ? AND "
            "date <= ? ORDER BY date",
            (area.id, a.isoformat(), b.isoformat()),
        )

    water = ledger.query(
        "SELECT site, period_end, water_class, limiting_parameters, exceedance_multiples "
        "FROM water_classes WHERE period_end >= ? AND period_end < ?",
        (_day_start(first), _day_end(last)),
    )
    as_of = min(last, today - timedelta(days=1))
    progress = compute_progress(ledger, settings, as_of=as_of, year=first.year)
    report = build_monthly(
        first,
        area,
        days=days,
        stats=stats(first, last),
        last_year_days=before,
        last_year_stats=stats(before_first, before_last),
        sections=settings.water_sections,
        water=water,
        progress=progress,
        water_periods=section_period_classes(
            ledger, settings, [s.id for s in settings.water_sections], first, last, "month"
        ),
        counted_sections=compliance_sections(settings),
    )
    # the month and the year's targets (since 1 January), the same month a year before
    synthetic = synthetic_files(
        ledger,
        _monthly_grounds(ledger, settings, area, first, last, as_of, before_first, before_last),
    )
    return replace(report, synthetic=synthetic) if synthetic else report


def _section_sites(settings: Settings) -> frozenset[str]:
    """The sites the reports' river sections' readings are stored under (id or Chinese
    name, as the reports match them): every configured section is shown."""
    return frozenset(n for s in settings.water_sections for n in (s.id, s.name_zh))


def _averaged(settings: Settings, areas: Sequence[str]) -> frozenset[str]:
    return frozenset(s.code for a in areas for s in settings.averaged_stations(a))


def _monthly_grounds(
    ledger: Ledger,
    settings: Settings,
    area: Area,
    first: date,
    last: date,
    as_of: date,
    before_first: date,
    before_last: date,
) -> Grounds:
    """What the monthly report's figures rest on: the month and the year's targets since
    1 January (the area's days and those of the areas of the year's targets, from their
    evaluation stations, control sites never averaged; every shown section; the targets'
    reported values up to the progress date), and the area's days of the same month a
    year before."""
    since = date(first.year, 1, 1)
    shown = [t for t in settings.targets if t.year == first.year]
    areas = sorted({area.id, *(str(a) for t in shown if (a := getattr(t, "area", None)))})
    reported = frozenset(t.id for t in shown if t.kind in ("milestones", "count"))
    cutoff = max(min(as_of, date(first.year, 12, 31)), date(first.year - 1, 12, 31))
    # the air targets' projections: the rest of the year in the three years before
    projected = [t.area for t in shown if t.kind in _PROJECTED]
    history = _earlier_years(ledger, settings, projected, cutoff)
    return Grounds(
        observations=(
            (
                _day_start(since),
                _day_end(last),
                _averaged(settings, areas) | _section_sites(settings),
            ),
            (
                _day_start(before_first),
                _day_end(before_last),
                _averaged(settings, [area.id]),
            ),
            *history.observations,
        ),
        official_days=(
            (frozenset(areas), since, last),
            (frozenset([area.id]), before_first, before_last),
            *history.official_days,
        ),
        indicators=((reported, since, cutoff),) if reported else (),
    )


#: Target kinds whose year-end projection rests on the same period of the three years
#: before (:mod:`monitor.service.progress_targets`: ``_history_rates``,
#: ``annual_mean_progress``, ``heavy_days_progress``).
_PROJECTED: Final = ("good_day_ratio", "annual_mean", "heavy_pollution_days")


def _earlier_years(
    ledger: Ledger, settings: Settings, areas: Sequence[str], as_of: date
) -> Grounds:
    """The days of ``areas`` a projection as of ``as_of`` rests on: in each of the three
    years before, from the day after ``as_of``'s month-day (or its day of the year, when
    that comes first: leap years) to 31 December, the areas' evaluation stations and
    official days. A year counts only with an area day (computed or official) on at least
    about half of those days, as the projections count it; one query a year."""
    if not areas:
        return Grounds()
    wanted = json.dumps(sorted(set(areas)))
    observations, official = [], []
    for year in range(as_of.year - 3, as_of.year):
        try:
            after = as_of.replace(year=year) + timedelta(days=1)
        except ValueError:  # 29 February
            after = date(year, 3, 1)
        by_day = date(year, 1, 1) + timedelta(days=as_of.timetuple().tm_yday)
        first, last = min(after, by_day), date(year, 12, 31)
        if first > last:
            continue
        bounds = (first.isoformat(), last.isoformat())
        days = ledger.query(
            "SELECT area, count(*) AS n FROM (SELECT site AS area, date FROM daily_aqi "
            "WHERE is_area = 1 AND official = 1 AND site IN (SELECT value FROM json_each(?)) "
            "AND date >= ? AND date <= ? UNION SELECT area, date FROM official_daily_aqi "
            "WHERE area IN (SELECT value FROM json_each(?)) AND date >= ? AND date <= ?) "
            "GROUP BY area",
            (wanted, *bounds, wanted, *bounds),
        )
        # (a year with valid days on fewer than half of the period is no projection's
        # basis; a day of margin for the leap years' other count)
        period = (last - first).days + 1
        counted = sorted(str(a) for a, n in days.itertuples(index=False) if 2 * n >= period - 2)
        if counted:
            span = (_day_start(first), _day_end(last), _averaged(settings, counted))
            observations.append(span)
            official.append((frozenset(counted), first, last))
    return Grounds(observations=tuple(observations), official_days=tuple(official))


#: Imported files whose name begins so hold synthetic data (the bundled examples, made up
#: by ``examples/make_synthetic_*.py``), not measurements.
SYNTHETIC_PREFIX: Final = "synthetic"


def is_synthetic_file(path: str) -> bool:
    """Whether an imported file of this path holds synthetic data (:data:`SYNTHETIC_PREFIX`,
    any case; ``\\`` separators too, as a path typed on Windows)."""
    return Path(path.replace("\\", "/")).name.lower().startswith(SYNTHETIC_PREFIX)


@dataclass(frozen=True)
class Grounds:
    """What a report's figures rest on, where :func:`synthetic_files` looks for synthetic
    data. Days are Asia/Shanghai dates, both included."""

    #: observations: labels (``period_end``, epoch s) from … to (excluded), at these sites
    observations: tuple[tuple[int, int, frozenset[str]], ...] = ()
    #: imported official daily AQI (``official_daily_aqi``) of these areas, first … last day
    official_days: tuple[tuple[frozenset[str], date, date], ...] = ()
    #: reported values of these targets (``indicator_values``), first … last day: the
    #: latest value of each target and item, as the targets' progress reads them
    indicators: tuple[tuple[frozenset[str], date, date], ...] = ()


def synthetic_files(ledger: Ledger, grounds: Grounds) -> tuple[str, ...]:
    """The imported files of synthetic data (:data:`SYNTHETIC_PREFIX`) what a report rests
    on (``grounds``) still comes from, as the import named them, in the order of their
    imports; empty for a ledger of measurements.

    * An observation comes from the import whose fetch-log row has its source and its
      ingestion second (a later import that revises it takes it over).
    * An official daily AQI row names its file (``source_file``; a later file with other
      values replaces it).
    * A reported indicator value comes from the ``indicators-csv`` import whose fetch-log
      row has its recording second (values added by hand are not logged: never synthetic).

    One query per source and period, however many rows, imports and files there are.
    """
    imports = ledger.query(
        "SELECT DISTINCT source, finished_at, substr(requested, 8) AS file FROM fetch_log "
        "WHERE requested LIKE 'import %' AND lower(requested) LIKE ? ORDER BY finished_at",
        (f"%{SYNTHETIC_PREFIX}%",),
    )
    # one scan of each period's observations per source, however many synthetic files and
    # imports of them (re-imports, chunks) there were
    files: dict[str, dict[int, list[str]]] = {}  # source → ingestion second → files
    when: dict[str, int] = {}  # file → when it was first imported
    for source, ingested, file in imports.itertuples(index=False):
        if is_synthetic_file(str(file)):
            files.setdefault(str(source), {}).setdefault(int(ingested), []).append(str(file))
            when.setdefault(str(file), int(ingested))
    found: set[str] = set()
    for source, by_second in files.items():
        seconds = json.dumps(sorted(by_second))
        if source == INDICATOR_IMPORTS:
            for targets, first, last in grounds.indicators:
                still = ledger.query(
                    "SELECT DISTINCT recorded_at FROM (SELECT recorded_at, row_number() OVER "
                    "(PARTITION BY target, item ORDER BY date DESC, id DESC) AS n FROM "
                    "indicator_values WHERE target IN (SELECT value FROM json_each(?)) AND "
                    "date >= ? AND date <= ?) WHERE n = 1 AND "
                    "recorded_at IN (SELECT value FROM json_each(?))",
                    (json.dumps(sorted(targets)), first.isoformat(), last.isoformat(), seconds),
                )
                found.update(f for second in still["recorded_at"] for f in by_second[int(second)])
            continue
        for begin, until, sites in grounds.observations:
            # the seconds first: SQLite tests the terms in this order, and few rows are of
            # a synthetic import (testing the sites first doubled the scan's CPU time)
            still = ledger.query(
                "SELECT DISTINCT ingested_at FROM observations WHERE period_end >= ? AND "
                "period_end < ? AND source = ? AND "
                "ingested_at IN (SELECT value FROM json_each(?)) AND "
                "site IN (SELECT value FROM json_each(?))",
                (begin, until, source, seconds, json.dumps(sorted(sites))),
            )
            found.update(f for second in still["ingested_at"] for f in by_second[int(second)])
    for areas, first, last in grounds.official_days:
        official = ledger.query(
            "SELECT source_file, min(imported_at) AS at FROM official_daily_aqi WHERE "
            "area IN (SELECT value FROM json_each(?)) AND date >= ? AND date <= ? AND "
            "lower(source_file) LIKE ? GROUP BY source_file",
            (
                json.dumps(sorted(areas)),
                first.isoformat(),
                last.isoformat(),
                f"%{SYNTHETIC_PREFIX}%",
            ),
        )
        for file, at in official.itertuples(index=False):
            if is_synthetic_file(str(file)):
                found.add(str(file))
                when[str(file)] = min(int(at), when.get(str(file), int(at)))
    # in the order of their imports
    return tuple(sorted(found, key=lambda f: (when[f], f)))


def send_problems(settings: Settings, kind: Kind) -> list[str]:
    """Why the report cannot be sent as configured (empty when it can)."""
    problems = []
    recipients = (
        settings.reports.daily_recipients
        if kind == "daily"
        else settings.reports.monthly_recipients
    )
    if not recipients:
        problems.append(
            f"reports.{kind}_recipients: empty; expected the addresses the {kind} report is "
            "sent to"
        )
    if not settings.smtp.host:
        problems.append("smtp.host: not set; expected the SMTP server reports are sent via")
    try:
        sender_address(settings.smtp)
    except ConfigError as err:
        problems.extend(err.problems)
    if settings.smtp.user and settings.secrets.smtp_password is None:
        problems.append(
            f"smtp.user is {settings.smtp.user!r} but ENVMON_SMTP_PASSWORD is not set in the "
            "environment"
        )
    return problems


@dataclass(frozen=True)
class Written:
    """What :func:`write_report` wrote and how the send log stands."""

    kind: Kind
    period: str
    html: Path
    text: Path
    eml: Path
    pdf: Path | None
    entry: ReportLogEntry


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; reports are meant to be read
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def print_pdf(html: Path, pdf: Path, chromium: Path = CHROMIUM, timeout: float = 120) -> bool:
    """Print an HTML file to PDF with headless Chromium; False (logged) when it cannot."""
    if not chromium.exists():
        log.warning("no PDF for %s: %s is not installed (Debian package chromium)", html, chromium)
        return False
    with tempfile.TemporaryDirectory(prefix="envmon-chromium-") as profile:
        command = [
            str(chromium),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
            "--disable-component-update",
            "--disable-sync",
            "--no-pdf-header-footer",
            f"--user-data-dir={profile}",
            f"--print-to-pdf={pdf}",
            html.resolve().as_uri(),
        ]
        try:
            subprocess.run(command, capture_output=True, timeout=timeout, check=True)
        except (OSError, subprocess.SubprocessError) as err:
            log.warning("no PDF for %s: Chromium failed: %s", html, err)
            return False
    return pdf.exists() and pdf.stat().st_size > 0


def write_report(
    ledger: Ledger,
    settings: Settings,
    kind: Kind,
    day: date,
    folder: Path,
    *,
    send: bool,
    today: date | None = None,
    now: datetime | None = None,
) -> Written:
    """Build and write the report of ``day`` (daily) or of ``day``'s month (monthly), and
    record it in the send log (with ``send``: to be sent). Nothing is sent here.

    Raises
    ------
    ConfigError
        With ``send``, when the settings cannot send it (no recipients, SMTP host, sender
        address or password) — after the files are written.
    """
    today = today or today_local()
    now = now or datetime.now(LOCAL)
    language = settings.reports.language
    report: DailyDigest | MonthlyReport
    if kind == "daily":
        report = gather_daily(ledger, settings, day)
        images = charts.daily_charts(report, language)
        recipients = settings.reports.daily_recipients
    else:
        report = gather_monthly(ledger, settings, day, today)
        images = charts.monthly_charts(report, language)
        recipients = settings.reports.monthly_recipients
    period = report.period
    problems = send_problems(settings, kind) if send else []
    try:
        sender = sender_address(settings.smtp)
    except ConfigError:
        sender = "envmon@localhost"  # only written, not sent (a problem when sending)
    stem = folder / f"{kind}-{period}"
    disk_images = {
        name: "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        for name, png in images.items()
    }
    mail_images = {name: f"cid:{content_id(name)}" for name in images}
    page = render.render_html(report, language, disk_images, now)
    text = render.render_text(report, language, now)
    previous = ledger.report_entry(kind, period)
    message_id = previous.message_id if previous else new_message_id(sender, f"{kind}.{period}")
    message = build_message(
        subject=render.subject(report, language),
        sender=sender,
        recipients=recipients,
        text=text,
        html=render.render_html(report, language, mail_images, now),
        images=images,
        message_id=message_id,
        date=now,
    )
    html_path, text_path, eml_path = (stem.with_suffix(s) for s in (".html", ".txt", ".eml"))
    _atomic_write(html_path, page.encode("utf-8"))
    _atomic_write(text_path, text.encode("utf-8"))
    if previous is None or previous.status not in ("sent", "sending"):
        _atomic_write(eml_path, message.as_bytes())  # a sent message's file stays as sent
    pdf = None
    if settings.reports.pdf and print_pdf(html_path, stem.with_suffix(".pdf")):
        pdf = stem.with_suffix(".pdf")
    entry = ledger.record_report(
        kind,
        period,
        path=str(html_path),
        message_id=message_id,
        recipients=recipients,
        send=send and not problems,
    )
    if problems:  # the files are written; sending cannot work as configured
        raise ConfigError(problems)
    return Written(kind, period, html_path, text_path, eml_path, pdf, entry)


def send_report(
    ledger: Ledger, settings: Settings, kind: str, period: str, *, force: bool = False
) -> str:
    """Send one report of the send log once: ``sent``, ``already sent``, ``busy: …``
    (claimed by another sender since a given time, and not sent: the text says so and what
    to do) or ``not asked to be sent (…)``. ``force`` takes over a claim left by a sender
    that crashed mid-send (nothing was sent: the claim is released only by a send).

    Raises
    ------
    MailError
        Sending failed; the attempt is counted and the report stays pending.
    ConfigError
        The SMTP settings cannot work (counted as a failed attempt as well).
    """
    entry = ledger.report_entry(kind, period)
    if entry is None:
        raise EnvmonError(f"no {kind} report {period} in the send log; write it first")
    if entry.status == "sent":
        return "already sent"
    if entry.status not in ("pending", "sending"):
        return f"not asked to be sent ({entry.status})"
    if not ledger.claim_report(kind, period, force=force):
        return busy_outcome(ledger.report_claimed_at(kind, period))
    max_attempts = settings.reports.max_attempts
    try:
        eml = Path(entry.path).with_suffix(".eml")
        try:
            message = read_message(eml.read_bytes())
        except OSError as err:
            raise EnvmonError(f"cannot read the stored message {eml}: {err}") from err
        refused = send_message(
            settings.smtp, settings.secrets.smtp_password, message, entry.recipients
        )
    except BaseException as err:  # count the attempt, then let the error go on
        error = str(err) if isinstance(err, EnvmonError) else f"{type(err).__name__}: {err}"
        ledger.finish_report_send(kind, period, error=error, max_attempts=max_attempts)
        raise
    ledger.finish_report_send(kind, period)
    if refused:
        log.warning("%s report %s: refused by the server for %s", kind, period, ", ".join(refused))
    log.info("%s report %s sent to %d recipient(s)", kind, period, len(entry.recipients))
    return "sent"


def busy_outcome(claimed_at: int | None, now: float | None = None) -> str:
    """What a report claimed by another sender means, with what to do about it."""
    if claimed_at is None:
        return "busy: being sent by another process"
    now = time.time() if now is None else now
    since = datetime.fromtimestamp(claimed_at, LOCAL).strftime("%Y-%m-%d %H:%M")
    minutes = max(0, round((now - claimed_at) / 60))
    return (
        f"busy: NOT sent by this run; claimed for sending since {since} Asia/Shanghai "
        f"({minutes} min ago) by another envmon process and not sent yet. If no other "
        "process is sending it (one that crashed or was killed mid-send), take the claim "
        "over with --force; otherwise the claim lapses after 60 min and the daemon retries"
    )


def send_pending(ledger: Ledger, settings: Settings) -> dict[str, str]:
    """Try every pending report once (the daemon's retry job); ``{kind period: outcome}``.
    Never raises for a failed sending: it is counted and logged."""
    outcomes: dict[str, str] = {}
    for entry in ledger.reports_to_send():
        key = f"{entry.kind} {entry.period}"
        try:
            outcomes[key] = send_report(ledger, settings, entry.kind, entry.period)
        except EnvmonError as err:
            outcomes[key] = f"failed: {err}"
            log.warning(
                "%s report %s not sent (attempt %d): %s",
                entry.kind,
                entry.period,
                entry.attempts + 1,
                err,
            )
    return outcomes
