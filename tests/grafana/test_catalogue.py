"""The indicator catalogue: official colours and limits, and queries that exist."""

from __future__ import annotations

from monitor.domain.water_quality import Parameter
from monitor.grafana.catalogue import (
    AQI_STEPS,
    WATER_CLASS_VALUES,
    Step,
    indicators,
    water_steps,
)
from monitor.influxdb import queries


def test_aqi_colours_are_the_official_ones() -> None:
    # HJ 633-2012 Table 2 / HJ 633-2026 Table 1, colours of Appendix A Table A.1
    assert (
        Step(None, "#00E400"),
        Step(51.0, "#FFFF00"),
        Step(101.0, "#FF7E00"),
        Step(151.0, "#FF0000"),
        Step(201.0, "#99004C"),
        Step(301.0, "#7E0023"),
    ) == AQI_STEPS


def test_concentration_limits() -> None:
    cat = indicators()
    # HJ 633-2026 Table 3 at IAQI 100: PM2.5 (24 h column) 60, PM10 120, O3 1 h 200,
    # NO2 1 h 200, SO2 1 h 500 µg/m³, CO 1 h 10 mg/m³
    limits = {p: cat[f"concentration_{p}"].target for p in queries.AIR_PARAMETERS}
    assert limits == {"pm2_5": 60, "pm10": 120, "o3": 200, "no2": 200, "so2": 500, "co": 10}
    assert cat["concentration_co"].unit == "conmgm3"
    assert [s.start for s in cat["concentration_pm2_5"].steps] == [None, 35, 60, 115, 150, 250]


def test_water_colours_at_gb3838_limits() -> None:
    # 环办〔2011〕22号 status colours; GB 3838-2002 Table 1 limits
    assert [(v.zh, v.colour) for v in WATER_CLASS_VALUES] == [
        ("I类", "blue"),
        ("II类", "blue"),
        ("III类", "green"),
        ("IV类", "yellow"),
        ("V类", "orange"),
        ("劣V类", "red"),
    ]
    assert water_steps(Parameter.NH3N) == (
        Step(None, "blue"),
        Step(0.5, "green"),
        Step(1.0, "yellow"),
        Step(1.5, "orange"),
        Step(2.0, "red"),
    )
    # DO is "≥": below 2 mg/L (Class V) is 劣V
    assert [s.start for s in water_steps(Parameter.DO)] == [None, 2.0, 3.0, 5.0, 6.0]


def test_each_indicator_once_with_an_existing_query() -> None:
    cat = indicators()
    known = queries.catalogue()
    for key, indicator in cat.items():
        assert indicator.key == key
        assert indicator.query in known, key
        assert indicator.zh and indicator.en and indicator.zh != indicator.en, key
        assert not known[indicator.query].alert, key  # dashboards use dashboard queries
    assert len({i.zh for i in cat.values()}) == len(cat)
    assert len({i.en for i in cat.values()}) == len(cat)


def test_budget_setting_moves_the_budget_colours() -> None:
    budget = indicators(budget_alert_days=15)["good_day_budget"]
    assert budget.target == 15 and budget.steps[1] == Step(16.0, "orange")
