"""Report contents against numbers computed by hand from the ledger the fixture fills."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from monitor.domain.statistics import percentile
from monitor.ledger import Ledger
from monitor.reports import render
from monitor.reports.content import DailyDigest, build_daily, limits_for, month_bounds
from monitor.service.progress_targets import compute_progress
from monitor.service.reporting import default_day, gather_daily, gather_monthly
from monitor.settings import Settings
from tests.reports.conftest import (
    APRIL,
    APRIL_2025_PM25,
    APRIL_PM25,
    BREACH_HOURS,
    DAY,
    EVIL,
)

NOW = datetime(2026, 5, 11, 8, 30, tzinfo=ZoneInfo("Asia/Shanghai"))


def test_daily_district_and_sites(ledger: Ledger, settings: Settings) -> None:
    """District and station AQI of the day, as evaluated from the hourly observations."""
    digest = gather_daily(ledger, settings, DAY)
    # 1099A: PM2.5 daily mean 40 → IAQI 50 + (40 − 35)/(60 − 35)·50 = 60 (HJ 633-2026
    # Table 3, PM2.5 breakpoints 35/60), above the other pollutants' IAQI.
    sites = {s.site: s for s in digest.sites}
    assert sites["1099A"].aqi == 60 and sites["1099A"].level == 2
    assert sites["1099A"].primary == ("PM2.5",)
    # the control station sent nothing
    assert sites["1100A"].aqi is None and sites["1100A"].level == 0
    # the district's value is the area row of the ledger (no official value imported)
    area = ledger.query(
        "SELECT aqi FROM daily_aqi WHERE site = 'hunnan' AND date = ? AND official = 1",
        (DAY.isoformat(),),
    )
    assert digest.district.aqi == float(area["aqi"].iloc[0])
    assert digest.district.basis == "provisional"
    assert digest.district.primary == ("PM2.5",)
    assert len(digest.hourly) == 24 and digest.hourly[0][0] == "00:00"


def test_daily_good_day_share_budget_and_variants(ledger: Ledger, settings: Settings) -> None:
    """Good days to date under the rules in force: Jan–Mar 70 of 90, April 24 of 30 (the
    official 105 on 1 April replaces a computed 50), 1–9 May 9, 10 May good = 104 of 130.
    Budget = floor(365 × 0.2) − 26 = 73 − 26 = 47 (issue 4)."""
    digest = gather_daily(ledger, settings, DAY)
    rows = {r.variant: r for r in digest.good_days}
    assert {"official", "hj633-2012", "hj633-2026"} <= set(rows)
    official = rows["official"]
    assert (official.good_days, official.valid_days, official.budget_remaining) == (104, 130, 47)
    # the consistent series count 1 April as computed (good)
    assert rows["hj633-2012"].good_days == 105
    assert digest.goal == pytest.approx(0.80)
    assert digest.year_series["official"].iloc[-1] == pytest.approx(104 / 130)


def test_daily_rivers_silence_and_breaches(ledger: Ledger, settings: Settings) -> None:
    """The class IV reading against target III; the silent control station, the flagged
    negative SO2; the three hours over AQI 100 at 2900A and in the district."""
    digest = gather_daily(ledger, settings, DAY)
    (section,) = digest.sections
    assert (section.latest_class, section.target_class, section.meets) == ("IV", "III", False)
    assert section.reading == "2026-05-10 08:00"
    problems = {(i.name, i.problem) for i in digest.silent}
    # names, not station codes (issue 15); 沈阳站 is the control site
    assert ("沈阳站", "no_data") in problems
    assert ("浑南东路", "flagged") in problems
    assert [i.control for i in digest.silent if i.name == "沈阳站"] == [True]
    assert not any(i.kind == "source" for i in digest.silent)  # cnemc delivered the day
    breaches = {b.site: b for b in digest.breaches}
    # 2900A at 09:00: PM2.5 101 → 100 + (101 − 60)/(115 − 60)·50 = 137.3 → 138 (ceil)
    assert breaches["2900A"].hours == len(BREACH_HOURS)
    assert (breaches["2900A"].worst, breaches["2900A"].at) == ("138", "2026-05-10 09:00")
    assert breaches["2900A"].name == EVIL
    # district at 09:00: (41 + 101)/2 = 71 → 100 + 11/55·50 = 110
    assert (breaches["hunnan"].hours, breaches["hunnan"].worst) == (3, "110")
    assert breaches["hun_a"].kind == "water" and breaches["hun_a"].worst == "IV"


def test_the_daily_district_row_says_how_many_stations_it_rests_on(
    ledger: Ledger, settings: Settings
) -> None:
    """Issue 13 §2 "Area values": every area row says how many stations it rests on. On
    2026-05-10 both evaluation stations (1099A, 2900A) report; the control site 1100A is
    never averaged: the district's computed day rests on 2, in the HTML and the text."""
    digest = gather_daily(ledger, settings, DAY)
    assert digest.district.stations == 2
    assert all(s.stations is None for s in digest.sites)
    page = render.render_html(digest, "en", {}, NOW)
    assert "provisional" in page and "from 2 station(s)" in page
    assert "由2个站点计算" in render.render_text(digest, "zh", NOW)


def test_the_monthly_report_says_how_many_stations_its_days_rest_on(
    ledger: Ledger, settings: Settings
) -> None:
    """Issue 13 §2 "say in every area row how many stations it rests on", in the monthly
    report as in the daily digest: April's 29 computed days (1 April is the imported official
    value) rest on the stations evaluation stored for each area day. With 28 of them on both
    evaluation stations and 2 April on one, the report says 1–2; an official day never
    counts, and with no count stored the line says nothing about stations."""
    bare = gather_monthly(ledger, settings, date(2026, 4, 17), today=date(2026, 5, 11))
    assert bare.rests_on is None
    assert "station" not in render.render_text(bare, "en", NOW).split("computed (provisional)")[1]
    with ledger.transaction() as db:
        db.execute("UPDATE daily_aqi SET stations = 2 WHERE is_area = 1 AND date LIKE '2026-04-%'")
        db.execute("UPDATE daily_aqi SET stations = 1 WHERE is_area = 1 AND date = '2026-04-02'")
        # 1 April is decided by the imported official value: its count is not the month's
        db.execute("UPDATE daily_aqi SET stations = 0 WHERE is_area = 1 AND date = '2026-04-01'")
    report = gather_monthly(ledger, settings, date(2026, 4, 17), today=date(2026, 5, 11))
    assert (report.official_days, report.provisional_days) == (1, 29)
    assert report.rests_on == (1, 2)
    assert "computed days from 1–2 station(s)" in render.render_text(report, "en", NOW)
    assert "实时计算的日值由1–2个站点计算" in render.render_html(report, "zh", {}, NOW)
    with ledger.transaction() as db:
        db.execute("UPDATE daily_aqi SET stations = 2 WHERE is_area = 1 AND date = '2026-04-02'")
    same = gather_monthly(ledger, settings, date(2026, 4, 17), today=date(2026, 5, 11))
    assert same.rests_on == (2, 2)
    assert "computed days from 2 station(s)" in render.render_html(same, "en", {}, NOW)
    assert "实时计算的日值由2个站点计算" in render.render_text(same, "zh", NOW)


def test_a_day_without_data_is_reported_as_such(ledger: Ledger, settings: Settings) -> None:
    """A later day: no AQI, every station and the enabled source silent."""
    digest = gather_daily(ledger, settings, date(2026, 6, 1))
    assert digest.district.aqi is None and digest.district.level == 0
    assert ("cnemc", "no_data") in {(i.name, i.problem) for i in digest.silent}
    assert digest.breaches == ()


def test_monthly_days_levels_and_exceedance(ledger: Ledger, settings: Settings) -> None:
    """April 2026: 24 good of 30 (1 April official 105, PM10); levels 19/5/6; exceedance
    days by primary pollutant PM2.5 3, O3 2, PM10 1; April 2025 all 30 good."""
    report = gather_monthly(ledger, settings, date(2026, 4, 17), today=date(2026, 5, 11))
    assert report.period == "2026-04"
    assert (report.good_days, report.valid_days) == (24, 30)
    assert report.good_share == pytest.approx(0.8)
    assert dict(report.levels) == {1: 19, 2: 5, 3: 6, 4: 0, 5: 0, 6: 0}
    assert (report.official_days, report.provisional_days) == (1, 29)
    assert dict(report.exceedance_by_pollutant) == {"PM2.5": 3, "O3": 2, "PM10": 1}
    assert report.exceedance_days == 6
    assert (report.last_year_good_days, report.last_year_valid_days) == (30, 30)
    assert report.limits == "GB 3095-2026"


def test_monthly_pollutants_against_limits(ledger: Ledger, settings: Settings) -> None:
    """PM2.5 mean and P95 of April's daily means (HJ 663 Appendix A rank interpolation)
    against GB 3095-2026 transition level 2: annual 30, 24-hour 60 µg/m³."""
    report = gather_monthly(ledger, settings, APRIL, today=date(2026, 5, 11))
    lines = {p.label: p for p in report.pollutants}
    mean = lines["PM2.5"]
    assert mean.value == pytest.approx(float(np.mean(APRIL_PM25)))  # (600 + 250 + 450)/30
    assert mean.value == pytest.approx(43.333, abs=1e-3)
    assert (mean.limit, mean.valid_days) == (30, 30)
    assert mean.ratio == pytest.approx(43.333 / 30, abs=1e-3)
    assert mean.last_year == APRIL_2025_PM25
    assert mean.change == pytest.approx((43.333 - 40) / 40, abs=1e-4)
    p95 = lines["PM2.5 P95"]
    assert p95.value == percentile(APRIL_PM25, 95) == 90.0
    assert p95.limit == 60
    assert lines["O3-8h P90"].limit == 160


def test_monthly_targets_are_the_progress_rows(ledger: Ledger, settings: Settings) -> None:
    """Every target's status as of the month's last day, as `envmon progress` gives it."""
    report = gather_monthly(ledger, settings, APRIL, today=date(2026, 5, 11))
    expected = compute_progress(ledger, settings, as_of=date(2026, 4, 30), year=2026)
    assert [(r.id, r.variant, r.status) for r in report.targets] == [
        (r.id, r.variant, r.status) for r in expected
    ]
    assert {r.id for r in report.targets} == {"good_days", "rivers"}


def test_the_current_month_counts_up_to_yesterday(ledger: Ledger, settings: Settings) -> None:
    """May 2026 asked on 11 May: targets as of 10 May."""
    report = gather_monthly(ledger, settings, date(2026, 5, 1), today=date(2026, 5, 11))
    assert {r.as_of for r in report.targets} == {"2026-05-10"}
    (section,) = report.sections
    assert (section.latest_class, section.readings, section.worst_class) == ("IV", 1, "IV")


def test_defaults_and_month_bounds() -> None:
    """Yesterday / last month; month bounds across a leap February; limits by date."""
    assert default_day("daily", date(2026, 1, 1)) == date(2025, 12, 31)
    assert default_day("monthly", date(2026, 3, 31)) == date(2026, 2, 1)
    assert month_bounds(date(2028, 2, 29)) == (date(2028, 2, 1), date(2028, 2, 29))
    assert limits_for(date(2026, 2, 1)) == "GB 3095-2012"


def test_build_daily_without_any_row(settings: Settings) -> None:
    """The pure builder copes with empty frames (a fresh ledger)."""
    import pandas as pd

    empty = pd.DataFrame
    area = settings.areas[0]
    days = pd.DataFrame(
        {
            "date": pd.to_datetime([DAY]),
            "official": [np.nan],
            "official_source": [""],
            "hj633-2012": [np.nan],
            "hj633-2026": [np.nan],
            "primary": [""],
        }
    )
    digest = build_daily(
        DAY,
        area,
        settings.stations_in(area.id),
        days=days,
        daily=empty(columns=["site", "is_area", "aqi", "primary_pollutants"]),
        hourly=empty(columns=["site", "is_area", "period_end", "aqi", "primary_pollutants"]),
        progress=[],
        sections=settings.water_sections,
        water=empty(
            columns=[
                "site",
                "period_end",
                "water_class",
                "limiting_parameters",
                "exceedance_multiples",
            ]
        ),
        fetches=empty(columns=["source", "status", "error"]),
        delivered=empty(columns=["source", "n"]),
        site_hours=empty(columns=["site", "hours", "flagged", "flags"]),
        enabled_sources=["cnemc"],
    )
    assert digest.district.aqi is None
    assert len(digest.silent) == 4  # the source and three stations


def test_monthly_rivers_rate_the_month_on_means_with_the_target_denominator(
    ledger: Ledger, settings: Settings
) -> None:
    """环办〔2011〕22号: a month with several samples is rated on the arithmetic mean of each
    item. June NH3-N 1.5 (IV), 1.5 (IV), 0.4 (II, latest) average 1.133 mg/L → IV (GB 3838
    Table 1: III ≤ 1.0, IV ≤ 1.5): the class III section does not meet its target, though
    its latest reading would. The compliance line counts the river-class target's sections,
    as the target does."""
    import pandas as pd

    from monitor.collectors.base import observations
    from monitor.reports.render import render_html
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
    assert (section.latest_class, section.period_class, section.worst_class) == ("II", "IV", "IV")
    assert (section.readings, section.meets) == (3, False)
    assert section.multiples == "nh3n=0.133"
    (target,) = [r for r in report.targets if r.kind == "river_class"]
    listed = len(target.details["sections"])
    assert report.compliance == (0, 1, listed) == (0, 1, 1)
    page = render_html(report, "en", {}, datetime(2026, 7, 2, tzinfo=UTC))
    assert "Sections meeting their target: 0/1 (0.0%); each item&#x27;s monthly mean" in page
    assert "counts the 1 section(s) of the river-class target" in page


def _partial_area_day(day: date) -> list[dict[str, object]]:
    """An area day with a valid PM2.5 mean only (AQI 40 from it), stored as evaluation
    stores it: 2012 rates it, 2026 withholds it (§5.3)."""
    invalid = "so2;no2;co;pm10;o3_1h_max;o3_8h_max"
    return [
        {
            "site": "hunnan",
            "date": day.isoformat(),
            "standard": standard,
            "official": int(standard == "hj633-2026"),
            "is_area": 1,
            "pm2_5": 28.0,
            "invalid_statistics": invalid,
            "aqi": 40.0 if standard == "hj633-2012" else None,
            "level": 1 if standard == "hj633-2012" else 0,
            "primary_pollutants": "",
            "exceedance_pollutants": "",
            "complete": 0,
            "computed_at": 0,
        }
        for standard in ("hj633-2012", "hj633-2026")
    ]


def test_monthly_states_withheld_days_and_the_share_range(
    ledger: Ledger, settings: Settings
) -> None:
    """Issue 13 §2: reports state how many days the valid-day rule withheld (a valid
    statistic, but not all six and AQI <= 100) and the share's range if all were good / all
    non-good. Two May days with PM2.5 only: withheld, not counted as good."""
    before = gather_monthly(ledger, settings, date(2026, 5, 1), today=date(2026, 5, 11))
    rows = _partial_area_day(date(2026, 5, 2)) + _partial_area_day(date(2026, 5, 3))
    ledger.replace_derived("daily_aqi", pd.DataFrame(rows), ("site", "date", "standard"))
    report = gather_monthly(ledger, settings, date(2026, 5, 1), today=date(2026, 5, 11))
    assert report.withheld_days == 2
    assert report.valid_days == before.valid_days - 2
    g, v = report.good_days, report.valid_days
    assert report.good_share_range == pytest.approx((g / (v + 2), (g + 2) / (v + 2)))
    low, high = (f"{x:.1%}" for x in report.good_share_range or (0.0, 0.0))
    text = render.render_text(report, "en", NOW)
    assert f"2 day(s) withheld by the valid-day rule (share {low}–{high})" in text
    page = render.render_html(report, "zh", {}, NOW)
    assert f"另有2天按有效日规则未计入（比例范围{low}–{high}）" in page


def test_the_daily_digest_states_withheld_days_and_the_ratio_range(
    ledger: Ledger, settings: Settings
) -> None:
    """Issue 13 §2: the daily digest's good-day rows say how many days of the year the
    valid-day rule withheld and the ratio's range (all non-good … all good), as the target
    progress computes them. Two May days with PM2.5 only."""
    rows = _partial_area_day(date(2026, 5, 2)) + _partial_area_day(date(2026, 5, 3))
    ledger.replace_derived("daily_aqi", pd.DataFrame(rows), ("site", "date", "standard"))
    digest = gather_daily(ledger, settings, DAY)
    official = next(r for r in digest.good_days if r.variant == "official")
    assert official.withheld_days == 2
    g, v = official.good_days or 0, official.valid_days or 0
    assert (official.ratio_low, official.ratio_high) == pytest.approx(
        (g / (v + 2), (g + 2) / (v + 2))
    )
    low, high = (f"{x:.1%}" for x in (official.ratio_low or 0.0, official.ratio_high or 0.0))
    text = render.render_text(digest, "en", NOW)
    assert (
        f"2 day(s) withheld by the valid-day rule (a valid statistic, but not all six and "
        f"AQI ≤ 100): the ratio would be {low} if all were non-good, {high} if all were good."
    ) in text
    page = render.render_html(digest, "zh", {}, NOW)
    assert f"另有2天按有效日规则未计入（比例范围{low}–{high}）" in page


def _bare_daily(settings: Settings, **frames: Any) -> DailyDigest:
    """build_daily of DAY with empty frames except those given."""
    import pandas as pd

    empty = pd.DataFrame
    area = settings.areas[0]
    days = pd.DataFrame(
        {
            "date": pd.to_datetime([DAY]),
            "official": [np.nan],
            "official_source": [""],
            "hj633-2012": [np.nan],
            "hj633-2026": [np.nan],
            "primary": [""],
        }
    )
    arguments: dict[str, Any] = {
        "days": days,
        "daily": empty(columns=["site", "is_area", "aqi", "primary_pollutants"]),
        "hourly": empty(columns=["site", "is_area", "period_end", "aqi", "primary_pollutants"]),
        "progress": [],
        "sections": settings.water_sections,
        "water": empty(
            columns=[
                "site",
                "period_end",
                "water_class",
                "limiting_parameters",
                "exceedance_multiples",
            ]
        ),
        "fetches": empty(columns=["source", "status", "error"]),
        "delivered": empty(columns=["source", "n"]),
        "site_hours": empty(columns=["site", "hours", "flagged", "flags"]),
        "enabled_sources": ["cnemc"],
        **frames,
    }
    return build_daily(DAY, area, settings.stations_in(area.id), **arguments)


def test_a_source_without_data_is_not_reported_when_imported_data_cover_the_day(
    settings: Settings,
) -> None:
    """The live source delivered nothing, but an imported archive gave every station of the
    area ≥ 20 hours (GB 3095 Table 4: a valid daily mean): "数据源当日无数据" would mislead.
    Without that coverage, or with a station short of 20 hours, it is reported."""
    import pandas as pd

    codes = [s.code for s in settings.stations_in(settings.areas[0].id)]
    delivered = pd.DataFrame({"source": ["archive"], "n": [24 * 6 * len(codes)]})
    full = pd.DataFrame({"site": codes, "hours": 24, "flagged": 0, "flags": ""})
    stations = {"cnemc": codes}
    covered = _bare_daily(settings, delivered=delivered, site_hours=full, source_stations=stations)
    assert not [i for i in covered.silent if i.kind == "source"]
    short = full.assign(hours=[24] * (len(codes) - 1) + [19])
    partial = _bare_daily(
        settings, delivered=delivered, site_hours=short, source_stations=stations
    )
    assert [(i.name, i.problem) for i in partial.silent if i.kind == "source"] == [
        ("cnemc", "no_data")
    ]
