"""What the daily digest and the monthly report say: a typed model built from ledger frames.

Pure: the functions here take frames already read from the ledger (see
:mod:`monitor.service.reporting`) and the target progress rows, and return dataclasses;
they do no I/O. Rendering (language, layout, charts) is elsewhere.

Conventions
-----------
* Days are Asia/Shanghai dates; the district's day is decided by the audited official daily
  AQI where the bureau imported it, else by the value computed from hourly data under the
  rules in force (*provisional*), as in :mod:`monitor.service.progress_targets`.
* A **threshold breach** is an hour whose official hourly AQI is above 100 (level 3,
  轻度污染, or worse; HJ 633 Table 2 / 2026 Table 1) at a station of the area or the area
  itself, or a river reading worse than its section's target class.
* Monthly pollutant figures are compared with the GB 3095 level-2 limits in force in that
  month (2012 limits before 2026-03-01, the 2026 transition limits from then): means with
  the annual limit, percentiles with the 24-hour limit (O3: the 8-hour limit). For one
  month this is an indication, not the annual evaluation (HJ 663 needs a year).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Final

import numpy as np
import pandas as pd

from monitor.domain.aqi import GOOD_DAY_MAX_AQI, aqi_level
from monitor.domain.pollutants import Pollutant
from monitor.domain.statistics import level_distribution, percentile
from monitor.domain.targets import TargetProgress
from monitor.domain.water_quality import WaterClass
from monitor.settings import AirStation, Area, WaterSection

__all__ = [
    "DAILY_LIMITS",
    "MIN_HOURS",
    "MONTHLY_ITEMS",
    "Breach",
    "DailyDigest",
    "DayAqi",
    "MonthlyReport",
    "PollutantLine",
    "SectionLine",
    "SilentItem",
    "build_daily",
    "build_monthly",
    "limits_for",
    "month_bounds",
    "pollutant_label",
]

#: GB 3095 level-2 limits used for monthly comparisons: (annual, 24-hour) [µg/m³; CO mg/m³],
#: O3 the 8-hour limit in the 24-hour place. 2012: GB 3095-2012 Table 1; 2026: GB 3095-2026
#: Table 1 transition level 2 (standards.md §2.9).
DAILY_LIMITS: Final[Mapping[str, Mapping[str, tuple[float | None, float]]]] = {
    "GB 3095-2012": {
        "so2": (60, 150),
        "no2": (40, 80),
        "pm10": (70, 150),
        "pm2_5": (35, 75),
        "co": (None, 4),
        "o3_8h_max": (None, 160),
    },
    "GB 3095-2026": {
        "so2": (60, 150),
        "no2": (40, 80),
        "pm10": (60, 120),
        "pm2_5": (30, 60),
        "co": (None, 4),
        "o3_8h_max": (None, 160),
    },
}

#: Monthly items: (daily statistic column, percentile or None for the mean), in the order of
#: the HJ 663 evaluation items (standards.md §2.5).
MONTHLY_ITEMS: Final[tuple[tuple[str, float | None], ...]] = (
    ("so2", None),
    ("so2", 98.0),
    ("no2", None),
    ("no2", 98.0),
    ("pm10", None),
    ("pm10", 95.0),
    ("pm2_5", None),
    ("pm2_5", 95.0),
    ("co", 95.0),
    ("o3_8h_max", 90.0),
)

_LABELS: Final = {p.value: p.label for p in Pollutant} | {"o3_8h_max": "O3-8h", "o3_8h": "O3-8h"}


def pollutant_label(name: str) -> str:
    """Display label of a canonical pollutant name; other text unchanged.

    >>> pollutant_label("pm2_5"), pollutant_label("o3_8h_max"), pollutant_label("PM10")
    ('PM2.5', 'O3-8h', 'PM10')
    """
    return _LABELS.get(name.strip(), name.strip())


def _primary(text: object) -> tuple[str, ...]:
    if not isinstance(text, str) or not text.strip():
        return ()
    parts = [p for p in text.replace(",", ";").replace("、", ";").split(";") if p.strip()]
    return tuple(pollutant_label(p) for p in parts)


def _num(value: object) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if np.isnan(number) else number


@dataclass(frozen=True)
class DayAqi:
    """The daily AQI of a station or the area: level 0 when there is no valid AQI."""

    site: str
    name: str
    aqi: float | None
    level: int
    primary: tuple[str, ...]
    basis: str  #: official (imported audited value), provisional (computed) or ""
    control: bool = False  #: a control site (对照点): shown, never in the area's mean
    #: the area's computed value: the evaluation stations it rests on (None otherwise)
    stations: int | None = None


@dataclass(frozen=True)
class SectionLine:
    """A river section's latest class against its target class."""

    id: str
    name: str
    river: str
    latest_class: str | None
    reading: str | None  #: local time of the reading, ``YYYY-MM-DD HH:MM``
    target_class: str | None
    meets: bool | None  #: None when the class or the target is unknown
    limiting: str
    multiples: str
    readings: int = 0  #: readings in the period (monthly report)
    worst_class: str | None = None
    #: monthly report: class of the month's mean of each item (环办〔2011〕22号); ``meets``,
    #: ``limiting`` and ``multiples`` then describe these means
    period_class: str | None = None


@dataclass(frozen=True)
class SilentItem:
    """A source that did not deliver, or a station silent, incomplete or flagged."""

    kind: str  #: source, site
    name: str
    problem: str  #: no_data, incomplete, failing, flagged
    detail: str
    control: bool = False  #: the station is a control site


@dataclass(frozen=True)
class Breach:
    """Hours of one station (or the area) above the threshold, or a river reading."""

    site: str
    name: str
    kind: str  #: air, water
    hours: int
    worst: str  #: AQI (air) or class (water)
    at: str  #: local time of the worst hour or reading
    primary: tuple[str, ...]


@dataclass(frozen=True)
class DailyDigest:
    """Everything the morning digest says about one day."""

    day: date
    area: Area
    district: DayAqi
    sites: tuple[DayAqi, ...]
    hourly: tuple[tuple[str, float | None], ...]  #: the area's hours (HH:MM, AQI)
    good_days: tuple[TargetProgress, ...]  #: good-day targets of the year, every variant
    year_series: pd.DataFrame  #: date, official, hj633-2012, hj633-2026 (cumulative shares)
    goal: float | None
    sections: tuple[SectionLine, ...]
    silent: tuple[SilentItem, ...]
    breaches: tuple[Breach, ...]
    #: the imported files of synthetic (made-up) data the figures rest on, if any: the
    #: report is then marked as not official (:func:`monitor.service.reporting.synthetic_files`)
    synthetic: tuple[str, ...] = ()

    @property
    def period(self) -> str:
        """The period key of the send log: ``YYYY-MM-DD``."""
        return self.day.isoformat()


@dataclass(frozen=True)
class PollutantLine:
    """A month's mean or percentile of a daily statistic against its limit."""

    statistic: str  #: so2, no2, co, pm10, pm2_5, o3_8h_max
    percentile: float | None  #: None: the mean
    value: float | None
    limit: float | None
    valid_days: int
    last_year: float | None

    @property
    def label(self) -> str:
        """``PM2.5`` or ``PM2.5 P95``."""
        base = pollutant_label(self.statistic)
        return base if self.percentile is None else f"{base} P{self.percentile:g}"

    @property
    def ratio(self) -> float | None:
        """Value ÷ limit (above 1: over the limit)."""
        if self.value is None or self.limit is None:
            return None
        return self.value / self.limit

    @property
    def change(self) -> float | None:
        """Relative change against the same month last year (−0.1 = 10 % lower)."""
        if self.value is None or not self.last_year:
            return None
        return (self.value - self.last_year) / self.last_year


@dataclass(frozen=True)
class MonthlyReport:
    """Everything the monthly report says about one month."""

    month: date  #: first day of the month
    area: Area
    limits: str  #: GB 3095-2012 or GB 3095-2026
    days: pd.DataFrame  #: date, aqi, level, basis — every day of the month
    valid_days: int
    good_days: int
    levels: Mapping[int, int]
    official_days: int
    provisional_days: int
    last_year_valid_days: int
    last_year_good_days: int
    pollutants: tuple[PollutantLine, ...]
    exceedance_by_pollutant: Mapping[str, int]
    exceedance_days: int
    sections: tuple[SectionLine, ...]
    targets: tuple[TargetProgress, ...]
    #: the sections the compliance line counts (``compliance_sections`` of the settings: the
    #: river-class target's list, the same denominator as that target)
    counted_sections: tuple[str, ...] = ()
    #: Days with a valid statistic the valid-day rule does not count ([evaluation]).
    withheld_days: int = 0
    #: the imported files of synthetic data the figures rest on (as :class:`DailyDigest`)
    synthetic: tuple[str, ...] = ()
    #: Fewest and most evaluation stations the month's computed (provisional) area days
    #: rest on (issue 13 §2: every area row says how many stations it rests on); None
    #: when no computed day says.
    rests_on: tuple[int, int] | None = None

    @property
    def good_share_range(self) -> tuple[float, float] | None:
        """The month's share if every withheld day were non-good, and if every one were
        good; None without withheld days."""
        if not self.withheld_days:
            return None
        total = self.valid_days + self.withheld_days
        return self.good_days / total, (self.good_days + self.withheld_days) / total

    @property
    def period(self) -> str:
        """The period key of the send log: ``YYYY-MM``."""
        return self.month.strftime("%Y-%m")

    @property
    def compliance(self) -> tuple[int, int, int]:
        """(meeting, assessed, listed) of the counted sections over the month: *assessed*
        have a target class and a reading in the month, and meet it when the class of the
        month's mean of each item is no worse."""
        counted = [s for s in self.sections if s.id in self.counted_sections]
        assessed = [s for s in counted if s.meets is not None]
        meeting = sum(1 for s in assessed if s.meets)
        return meeting, len(assessed), len(self.counted_sections)

    @property
    def good_share(self) -> float | None:
        """Good days ÷ valid days of the month."""
        return self.good_days / self.valid_days if self.valid_days else None

    @property
    def last_year_share(self) -> float | None:
        """The same share for the same month last year, when it has valid days."""
        if not self.last_year_valid_days:
            return None
        return self.last_year_good_days / self.last_year_valid_days


# --------------------------------------------------------------------------- helpers


def _local(seconds: object) -> str:
    stamp = pd.Timestamp(int(seconds), unit="s", tz="UTC").tz_convert("Asia/Shanghai")  # type: ignore[call-overload]
    return str(stamp.strftime("%Y-%m-%d %H:%M"))


def _sections(
    sections: Sequence[WaterSection],
    water: pd.DataFrame,
    *,
    month: bool,
    periods: pd.DataFrame | None = None,
) -> tuple[SectionLine, ...]:
    """Latest class (and, for a month, the worst) of each section in ``water``; with
    ``periods`` (one row per section: the class of the month's mean of each item, from
    :func:`monitor.service.progress_targets.section_period_classes`) the month's class
    decides whether the section meets its target (环办〔2011〕22号), not its latest reading."""
    lines = []
    for section in sections:
        mine = water[water["site"].isin([section.id, section.name_zh])].sort_values("period_end")
        if mine.empty:
            lines.append(
                SectionLine(
                    section.id,
                    section.name_zh,
                    section.river,
                    None,
                    None,
                    section.target_class,
                    None,
                    "",
                    "",
                )
            )
            continue
        last = mine.iloc[-1]
        cls = str(last["water_class"])
        meets = None
        if section.target_class is not None:
            meets = WaterClass.from_code(cls) <= WaterClass.from_code(section.target_class)
        worst = max(mine["water_class"].astype(str), key=lambda c: int(WaterClass.from_code(c)))
        if periods is not None:
            lines.append(_period_line(section, last, periods, worst))
            continue
        lines.append(
            SectionLine(
                section.id,
                section.name_zh,
                section.river,
                cls,
                _local(last["period_end"]),
                section.target_class,
                meets,
                str(last["limiting_parameters"] or ""),
                str(last["exceedance_multiples"] or ""),
                readings=len(mine) if month else 0,
                worst_class=worst if month else None,
            )
        )
    return tuple(lines)


def _period_line(
    section: WaterSection, last: pd.Series, periods: pd.DataFrame, worst: str
) -> SectionLine:
    """A monthly line: the latest reading for information, the month's mean class for the
    verdict."""
    mine = periods[periods["section"] == section.id]
    row = mine.iloc[0] if len(mine) else None
    meets = None if row is None or row["meets"] is None else bool(row["meets"])
    return SectionLine(
        section.id,
        section.name_zh,
        section.river,
        str(last["water_class"]),
        _local(last["period_end"]),
        section.target_class,
        meets,
        "" if row is None else str(row["limiting_parameters"] or ""),
        "" if row is None else str(row["exceedance_multiples"] or ""),
        readings=0 if row is None else int(row["samples"]),
        worst_class=worst if row is None else str(row["worst_sample_class"] or worst),
        period_class=None if row is None else str(row["water_class"]),
    )


def _day_basis(days: pd.DataFrame) -> pd.DataFrame:
    """``date, aqi, level, basis, primary`` from :func:`area_days`-like rows."""
    aqi = days["official"].astype(float)
    return pd.DataFrame(
        {
            "date": pd.to_datetime(days["date"]),
            "aqi": aqi,
            "level": aqi_level(aqi.to_numpy()),
            "basis": days["official_source"].astype(str),
        }
    )


def _cumulative_shares(days: pd.DataFrame, year: int, last: date) -> pd.DataFrame:
    part = days[(days["date"].dt.year == year) & (days["date"] <= pd.Timestamp(last))]
    out = pd.DataFrame({"date": part["date"].to_numpy()})
    for column in ("official", "hj633-2012", "hj633-2026"):
        aqi = part[column].to_numpy(dtype=float)
        valid = np.cumsum(~np.isnan(aqi))
        good = np.cumsum(aqi <= GOOD_DAY_MAX_AQI)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[column] = np.where(valid > 0, good / np.maximum(valid, 1), np.nan)
    return out


# --------------------------------------------------------------------------- daily


def build_daily(
    day: date,
    area: Area,
    stations: Sequence[AirStation],
    *,
    days: pd.DataFrame,
    daily: pd.DataFrame,
    hourly: pd.DataFrame,
    progress: Sequence[TargetProgress],
    sections: Sequence[WaterSection],
    water: pd.DataFrame,
    fetches: pd.DataFrame,
    delivered: pd.DataFrame,
    site_hours: pd.DataFrame,
    enabled_sources: Sequence[str] = (),
    source_stations: Mapping[str, Sequence[str]] | None = None,
) -> DailyDigest:
    """The digest of ``day``.

    Parameters
    ----------
    days : DataFrame
        :func:`monitor.service.progress_targets.area_days` of the area from 1 January of the
        day's year to the day (``official``, ``official_source``, ``hj633-2012``, …) plus
        ``primary`` (the deciding primary pollutants).
    daily : DataFrame
        ``daily_aqi`` rows of the day under the rules in force: ``site, is_area, aqi,
        primary_pollutants``.
    hourly : DataFrame
        ``hourly_aqi`` rows under the rules in force with labels in the day (00:00 … 23:00):
        ``site, is_area, period_end, aqi, primary_pollutants``.
    progress : TargetProgress rows as of the day (every target of the year).
    water : DataFrame
        ``water_classes`` rows up to the end of the day: ``site, period_end, water_class,
        limiting_parameters, exceedance_multiples``.
    fetches : DataFrame
        The fetch log of the day (by the time of fetching): ``source, status, error``.
    delivered : DataFrame
        Observations per source whose labels fall in the day: ``source, n``.
    site_hours : DataFrame
        Per station: ``site, hours`` (hours with an air value in the day), ``flags`` (QC flag
        names, ``;``-joined) and ``flagged`` (flagged values).
    enabled_sources : names of the sources the daemon collects (silent when absent from
        ``fetches``).
    source_stations : the stations each source collects. A source that delivered nothing
        for the day is not reported when other data (an imported archive, another source)
        cover the day at every station of the area it collects (≥ 20 hours each).
    """
    names = {s.code: s.name_zh for s in stations} | {area.id: area.name_zh}
    today = days[days["date"] == pd.Timestamp(day)]
    row = today.iloc[0] if len(today) else None
    district_aqi = None if row is None else _num(row["official"])
    district = DayAqi(
        area.id,
        area.name_zh,
        district_aqi,
        int(aqi_level([np.nan if district_aqi is None else district_aqi])[0]),
        ()
        if row is None or district_aqi is None or district_aqi <= 50
        else _primary(row["primary"]),
        "" if row is None else str(row["official_source"]),
        stations=_rests_on(row),
    )
    site_rows = daily[daily["is_area"] == 0].set_index("site") if len(daily) else daily
    sites = []
    for station in stations:
        aqi = None
        primary: tuple[str, ...] = ()
        if len(site_rows) and station.code in site_rows.index:
            record = site_rows.loc[station.code]
            aqi = _num(record["aqi"])
            primary = _primary(record["primary_pollutants"])
        level = int(aqi_level([np.nan if aqi is None else aqi])[0])
        sites.append(
            DayAqi(
                station.code,
                station.name_zh,
                aqi,
                level,
                primary,
                "provisional" if aqi else "",
                control=station.role == "control",
            )
        )
    area_hours = hourly[(hourly["is_area"] == 1) & (hourly["site"] == area.id)]
    area_hours = area_hours.sort_values("period_end")
    hours = tuple(
        (_local(t)[11:], _num(a))
        for t, a in zip(area_hours["period_end"], area_hours["aqi"], strict=True)
    )
    good = tuple(p for p in progress if p.kind == "good_day_ratio" and p.area == area.id)
    goal = next((p.goal for p in good), None)
    breaches = _breaches(hourly, names, [area.id, *(s.code for s in stations)])
    breaches += _water_breaches(sections, water, day)
    return DailyDigest(
        day=day,
        area=area,
        district=district,
        sites=tuple(sites),
        hourly=hours,
        good_days=good,
        year_series=_cumulative_shares(days, day.year, day),
        goal=goal,
        sections=_sections(sections, water, month=False),
        silent=_silent(
            stations, site_hours, fetches, delivered, enabled_sources, source_stations or {}
        ),
        breaches=tuple(breaches),
    )


def _rests_on(row: pd.Series | None) -> int | None:
    """The stations a computed (provisional) area day rests on; None for an imported
    official value or no value."""
    if row is None or row["official_source"] != "provisional" or "stations" not in row:
        return None
    stations = float(row["stations"])
    return None if math.isnan(stations) else int(stations)


def _breaches(
    hourly: pd.DataFrame, names: Mapping[str, str], sites: Sequence[str]
) -> list[Breach]:
    over = hourly[(hourly["aqi"].astype(float) > GOOD_DAY_MAX_AQI) & hourly["site"].isin(sites)]
    out = []
    for site in sites:
        mine = over[over["site"] == site]
        if mine.empty:
            continue
        worst = mine.iloc[int(np.argmax(mine["aqi"].to_numpy(dtype=float)))]
        out.append(
            Breach(
                site,
                names.get(site, site),
                "air",
                len(mine),
                f"{float(worst['aqi']):.0f}",
                _local(worst["period_end"]),
                _primary(worst["primary_pollutants"]),
            )
        )
    return out


def _water_breaches(
    sections: Sequence[WaterSection], water: pd.DataFrame, day: date
) -> list[Breach]:
    start = int(pd.Timestamp(day, tz="Asia/Shanghai").timestamp())
    end = int(pd.Timestamp(day + timedelta(days=1), tz="Asia/Shanghai").timestamp())
    recent = water[(water["period_end"] >= start) & (water["period_end"] < end)]
    out = []
    for section in sections:
        if section.target_class is None:
            continue
        target = WaterClass.from_code(section.target_class)
        mine = recent[recent["site"].isin([section.id, section.name_zh])]
        bad = mine[[WaterClass.from_code(str(c)) > target for c in mine["water_class"]]]
        if bad.empty:
            continue
        worst = max(
            bad.itertuples(index=False),
            key=lambda r: int(WaterClass.from_code(str(r.water_class))),
        )
        out.append(
            Breach(
                section.id,
                section.name_zh,
                "water",
                len(bad),
                str(worst.water_class),
                _local(worst.period_end),
                tuple(p for p in str(worst.limiting_parameters).split(";") if p.strip()),
            )
        )
    return out


#: Hours a station needs in a day for valid daily means (GB 3095 Table 4: ≥ 20 hourly values).
MIN_HOURS: Final = 20


def _silent(
    stations: Sequence[AirStation],
    site_hours: pd.DataFrame,
    fetches: pd.DataFrame,
    delivered: pd.DataFrame,
    enabled_sources: Sequence[str],
    source_stations: Mapping[str, Sequence[str]],
) -> tuple[SilentItem, ...]:
    """Sources with no data labelled in the day (with their failed fetches, if any) unless
    other data cover the day at their stations, or failing that day; stations without
    data, short of 20 hours, or with flagged values."""
    items = []
    counts = dict(zip(delivered["source"].astype(str), delivered["n"].astype(int), strict=True))
    hours = site_hours.set_index("site") if len(site_hours) else site_hours
    ours = {s.code for s in stations}

    def covered(source: str) -> bool:
        mine = [code for code in source_stations.get(source, ()) if code in ours]
        counted = (
            dict(zip(site_hours["site"], site_hours["hours"], strict=True))
            if len(site_hours)
            else {}
        )
        return bool(mine) and all(int(counted.get(code, 0)) >= MIN_HOURS for code in mine)

    for name in dict.fromkeys([*enabled_sources, *fetches["source"].astype(str)]):
        failed = fetches[(fetches["source"] == name) & (fetches["status"] == "failed")]
        ok = fetches[(fetches["source"] == name) & (fetches["status"] != "failed")]
        if len(failed) and not len(ok):
            items.append(
                SilentItem("source", name, "failing", f"{len(failed)}|{failed['error'].iloc[-1]}")
            )
        elif counts.get(name, 0) == 0 and not covered(name):
            items.append(SilentItem("source", name, "no_data", "0"))
    for station in stations:
        record: Any = hours.loc[station.code] if station.code in hours.index else None
        label = station.name_zh
        control = station.role == "control"
        n = 0 if record is None else int(record["hours"])
        if n == 0:
            items.append(SilentItem("site", label, "no_data", "0", control))
        elif n < MIN_HOURS:
            items.append(SilentItem("site", label, "incomplete", str(n), control))
        if record is not None and int(record["flagged"]) > 0:
            detail = f"{int(record['flagged'])}|{record['flags']}"
            items.append(SilentItem("site", label, "flagged", detail, control))
    return tuple(items)


# --------------------------------------------------------------------------- monthly


def limits_for(month: date) -> str:
    """The GB 3095 limits in force in a month (2026 transition limits from 2026-03-01).

    >>> limits_for(date(2026, 2, 1)), limits_for(date(2026, 3, 1))
    ('GB 3095-2012', 'GB 3095-2026')
    """
    return "GB 3095-2026" if month >= date(2026, 3, 1) else "GB 3095-2012"


def _valid_statistic(stats: pd.DataFrame, column: str) -> pd.Series:
    invalid = stats["invalid_statistics"].fillna("").astype(str).str.split(";")
    flagged = invalid.apply(lambda parts: column in parts).astype(bool)
    return stats[column].astype(float).where(~flagged)


def _pollutant_lines(
    stats: pd.DataFrame, last_year: pd.DataFrame, limits: str
) -> tuple[PollutantLine, ...]:
    lines = []
    for column, p in MONTHLY_ITEMS:
        values = _valid_statistic(stats, column) if len(stats) else pd.Series(dtype=float)
        before = _valid_statistic(last_year, column) if len(last_year) else pd.Series(dtype=float)

        def figure(series: pd.Series, p: float | None = p) -> float | None:
            if series.notna().sum() == 0:
                return None
            return float(series.mean()) if p is None else percentile(series.to_numpy(), p)

        annual, daily = DAILY_LIMITS[limits][column]
        lines.append(
            PollutantLine(
                column,
                p,
                figure(values),
                annual if p is None else daily,
                int(values.notna().sum()),
                figure(before),
            )
        )
    return tuple(lines)


def build_monthly(
    month: date,
    area: Area,
    *,
    days: pd.DataFrame,
    stats: pd.DataFrame,
    last_year_days: pd.DataFrame,
    last_year_stats: pd.DataFrame,
    sections: Sequence[WaterSection],
    water: pd.DataFrame,
    progress: Sequence[TargetProgress],
    water_periods: pd.DataFrame | None = None,
    counted_sections: Sequence[str] = (),
) -> MonthlyReport:
    """The report of the month starting ``month``.

    Parameters
    ----------
    days, last_year_days : DataFrame
        :func:`area_days` rows of the month (and of the same month a year earlier) with
        ``primary`` (the deciding primary pollutants).
    stats, last_year_stats : DataFrame
        The area's ``daily_aqi`` rows under the rules in force: ``date`` and the daily
        statistics with ``invalid_statistics``.
    water : ``water_classes`` rows of the month.
    progress : every target's progress as of the month's last day (or the last complete
        day, for the current month).
    water_periods : each section's class of the month's mean of each item
        (:func:`monitor.service.progress_targets.section_period_classes`); it decides
        whether a section meets its target. Without it, the latest reading does.
    counted_sections : sections the compliance line counts
        (:func:`monitor.service.progress_targets.compliance_sections`).
    """
    first = month.replace(day=1)
    table = _day_basis(days)
    aqi = table["aqi"].to_numpy(dtype=float)
    valid = int((~np.isnan(aqi)).sum())
    good = int((aqi <= GOOD_DAY_MAX_AQI).sum())
    before = last_year_days["official"].to_numpy(dtype=float)
    over = days[days["official"].astype(float) > GOOD_DAY_MAX_AQI]
    by_pollutant: dict[str, int] = {}
    for text in over["primary"]:
        for name in _primary(text) or ("—",):
            by_pollutant[name] = by_pollutant.get(name, 0) + 1
    limits = limits_for(first)
    return MonthlyReport(
        month=first,
        area=area,
        limits=limits,
        days=table,
        valid_days=valid,
        good_days=good,
        levels=level_distribution(aqi),
        official_days=int((table["basis"] == "official").sum()),
        provisional_days=int((table["basis"] == "provisional").sum()),
        last_year_valid_days=int((~np.isnan(before)).sum()),
        last_year_good_days=int((before <= GOOD_DAY_MAX_AQI).sum()),
        pollutants=_pollutant_lines(stats, last_year_stats, limits),
        exceedance_by_pollutant=dict(sorted(by_pollutant.items(), key=lambda kv: -kv[1])),
        exceedance_days=len(over),
        sections=_sections(sections, water, month=True, periods=water_periods),
        targets=tuple(progress),
        counted_sections=tuple(counted_sections),
        withheld_days=int(days["official_withheld"].sum()) if "official_withheld" in days else 0,
        rests_on=_month_rests_on(days),
    )


def _month_rests_on(days: pd.DataFrame) -> tuple[int, int] | None:
    """(fewest, most) stations the computed (provisional) days of ``days`` rest on, as
    :func:`_rests_on` reads one day; None when no computed day states it."""
    if "stations" not in days:
        return None
    computed = days["official_source"].astype(str) == "provisional"
    counts = pd.to_numeric(days.loc[computed, "stations"], errors="coerce").dropna()
    if counts.empty:
        return None
    return int(counts.min()), int(counts.max())


def month_bounds(any_day: date) -> tuple[date, date]:
    """First and last day of the month of ``any_day``.

    >>> month_bounds(date(2024, 2, 10))
    (datetime.date(2024, 2, 1), datetime.date(2024, 2, 29))
    """
    first = any_day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following - timedelta(days=1)
