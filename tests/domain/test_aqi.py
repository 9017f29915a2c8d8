"""IAQI and AQI per HJ 633-2012 and HJ 633-2026: tables, rounding, special rules, reports.

Reference values come from ``shared/reference/standards.md``: §1.1 (HJ 633-2012 Table 1,
HJ 633-2026 Table 3), §1.2 (formula (1), IAQI rounded up, 2026 concentration rounding),
§1.3 (levels and colours), §1.4 (primary/exceedance pollutants), §1.5 (daily and real-time
reports, HJ 633-2026 §5.3 missing data) and the test vectors of §1.7. Values just below and
just above a breakpoint are worked by hand from formula (1) and ``ceil``; the arithmetic is
in the comments of the less obvious rows.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.domain.aqi import (
    AqiStandard,
    HourlyMethod,
    MissingPolicy,
    RatedIndicator,
    aqi_level,
    combine_iaqi,
    daily_aqi,
    hourly_aqi,
    individual_aqi,
    level_categories,
    level_colours,
    pollutant_names,
    round_half_even,
    standard_for_date,
    standards_for_dates,
)
from monitor.domain.pollutants import Indicator, Pollutant

I = Indicator  # noqa: E741 - short alias keeps the table rows on one line
S2012 = AqiStandard.HJ633_2012
S2026 = AqiStandard.HJ633_2026
NAN = float("nan")

# ---------------------------------------------------------------------------------------
# Breakpoint tables, one row per breakpoint:
# (indicator, breakpoint C, IAQI at C, (C − δ, IAQI), (C + δ, IAQI))
# δ = 1 µg/m³, CO 0.1 mg/m³. None where the neighbour does not exist (below 0) or where the
# version's special rule applies (SO2 1 h and O3 8 h above 800; tested further down).
# Source: standards.md §1.1 = HJ 633-2012 Table 1 / HJ 633-2026 Table 3.

Row = tuple[Indicator, float, float, tuple[float, float] | None, tuple[float, float] | None]

#: Columns identical in both versions (standards.md §1.1: only PM IAQI-100 changed).
SHARED_ROWS: list[Row] = [
    (I.SO2_24H, 0, 0, None, (1, 1)),  # 1·50/50 = 1
    (I.SO2_24H, 50, 50, (49, 49), (51, 51)),  # 50 + 1·50/100 = 50.5 → 51
    (I.SO2_24H, 150, 100, (149, 100), (151, 101)),  # 50 + 99·0.5 = 99.5 → 100
    (I.SO2_24H, 475, 150, (474, 150), (476, 151)),
    (I.SO2_24H, 800, 200, (799, 200), (801, 201)),
    (I.SO2_24H, 1600, 300, (1599, 300), (1601, 301)),
    (I.SO2_24H, 2100, 400, (2099, 400), (2101, 401)),
    (I.SO2_24H, 2620, 500, (2619, 500), (2621, 500)),  # above the top: 500
    (I.SO2_1H, 0, 0, None, (1, 1)),
    (I.SO2_1H, 150, 50, (149, 50), (151, 51)),
    (I.SO2_1H, 500, 100, (499, 100), (501, 101)),
    (I.SO2_1H, 650, 150, (649, 150), (651, 151)),
    (I.SO2_1H, 800, 200, (799, 200), None),
    (I.NO2_24H, 0, 0, None, (1, 2)),  # 1·50/40 = 1.25 → 2
    (I.NO2_24H, 40, 50, (39, 49), (41, 52)),  # 48.75 → 49; 51.25 → 52
    (I.NO2_24H, 80, 100, (79, 99), (81, 101)),  # 98.75 → 99; 100.5 → 101
    (I.NO2_24H, 180, 150, (179, 150), (181, 151)),
    (I.NO2_24H, 280, 200, (279, 200), (281, 201)),
    (I.NO2_24H, 565, 300, (564, 300), (566, 301)),
    (I.NO2_24H, 750, 400, (749, 400), (751, 401)),
    (I.NO2_24H, 940, 500, (939, 500), (941, 500)),
    (I.NO2_1H, 0, 0, None, (1, 1)),
    (I.NO2_1H, 100, 50, (99, 50), (101, 51)),
    (I.NO2_1H, 200, 100, (199, 100), (201, 101)),
    (I.NO2_1H, 700, 150, (699, 150), (701, 151)),
    (I.NO2_1H, 1200, 200, (1199, 200), (1201, 201)),
    (I.NO2_1H, 2340, 300, (2339, 300), (2341, 301)),
    (I.NO2_1H, 3090, 400, (3089, 400), (3091, 401)),
    (I.NO2_1H, 3840, 500, (3839, 500), (3841, 500)),
    (I.CO_24H, 0, 0, None, (0.1, 3)),  # 0.1·25 = 2.5 → 3
    (I.CO_24H, 2, 50, (1.9, 48), (2.1, 53)),  # 47.5 → 48; 52.5 → 53
    (I.CO_24H, 4, 100, (3.9, 98), (4.1, 101)),  # 97.5 → 98; 100.5 → 101
    (I.CO_24H, 14, 150, (13.9, 150), (14.1, 151)),  # 149.5 → 150; 150.5 → 151
    (I.CO_24H, 24, 200, (23.9, 200), (24.1, 201)),
    (I.CO_24H, 36, 300, (35.9, 300), (36.1, 301)),  # 299.17 → 300; 300.83 → 301
    (I.CO_24H, 48, 400, (47.9, 400), (48.1, 401)),
    (I.CO_24H, 60, 500, (59.9, 500), (60.1, 500)),
    (I.CO_1H, 0, 0, None, (0.1, 1)),
    (I.CO_1H, 5, 50, (4.9, 49), (5.1, 51)),  # 49.0; 51.0
    (I.CO_1H, 10, 100, (9.9, 99), (10.1, 101)),
    (I.CO_1H, 35, 150, (34.9, 150), (35.1, 151)),
    (I.CO_1H, 60, 200, (59.9, 200), (60.1, 201)),
    (I.CO_1H, 90, 300, (89.9, 300), (90.1, 301)),
    (I.CO_1H, 120, 400, (119.9, 400), (120.1, 401)),
    (I.CO_1H, 150, 500, (149.9, 500), (150.1, 500)),
    (I.O3_1H, 0, 0, None, (1, 1)),
    (I.O3_1H, 160, 50, (159, 50), (161, 52)),  # 49.69 → 50; 50 + 50/40 = 51.25 → 52
    (I.O3_1H, 200, 100, (199, 99), (201, 101)),  # 98.75 → 99
    (I.O3_1H, 300, 150, (299, 150), (301, 151)),
    (I.O3_1H, 400, 200, (399, 200), (401, 201)),
    (I.O3_1H, 800, 300, (799, 300), (801, 301)),
    (I.O3_1H, 1000, 400, (999, 400), (1001, 401)),
    (I.O3_1H, 1200, 500, (1199, 500), (1201, 500)),
    (I.O3_8H, 0, 0, None, (1, 1)),
    (I.O3_8H, 100, 50, (99, 50), (101, 51)),  # 49.5 → 50; 50 + 50/60 → 51
    (I.O3_8H, 160, 100, (159, 100), (161, 101)),
    (I.O3_8H, 215, 150, (214, 150), (216, 151)),
    (I.O3_8H, 265, 200, (264, 199), (266, 201)),  # 150 + 49·50/50 = 199
    (I.O3_8H, 800, 300, (799, 300), None),
]

#: HJ 633-2012 Table 1 PM columns.
PM_ROWS_2012: list[Row] = [
    (I.PM10_24H, 0, 0, None, (1, 1)),
    (I.PM10_24H, 50, 50, (49, 49), (51, 51)),  # 50 + 1·50/100 = 50.5 → 51
    (I.PM10_24H, 150, 100, (149, 100), (151, 101)),
    (I.PM10_24H, 250, 150, (249, 150), (251, 151)),
    (I.PM10_24H, 350, 200, (349, 200), (351, 202)),  # 200 + 100/70 = 201.43 → 202
    (I.PM10_24H, 420, 300, (419, 299), (421, 302)),  # 298.57 → 299; 301.25 → 302
    (I.PM10_24H, 500, 400, (499, 399), (501, 401)),
    (I.PM10_24H, 600, 500, (599, 499), (601, 500)),
    (I.PM2_5_24H, 0, 0, None, (1, 2)),  # 50/35 = 1.43 → 2
    (I.PM2_5_24H, 35, 50, (34, 49), (36, 52)),  # 48.57 → 49; 50 + 50/40 = 51.25 → 52
    (I.PM2_5_24H, 75, 100, (74, 99), (76, 102)),  # 98.75 → 99; 101.25 → 102
    (I.PM2_5_24H, 115, 150, (114, 149), (116, 152)),  # 148.75 → 149; 151.43 → 152
    (I.PM2_5_24H, 150, 200, (149, 199), (151, 201)),
    (I.PM2_5_24H, 250, 300, (249, 299), (251, 301)),
    (I.PM2_5_24H, 350, 400, (349, 399), (351, 401)),
    (I.PM2_5_24H, 500, 500, (499, 500), (501, 500)),  # 499.33 → 500
]

#: HJ 633-2026 Table 3 PM columns (IAQI 100: PM10 120, PM2.5 60).
PM_ROWS_2026: list[Row] = [
    (I.PM10_24H, 0, 0, None, (1, 1)),
    (I.PM10_24H, 50, 50, (49, 49), (51, 51)),  # 50 + 50/70 = 50.71 → 51
    (I.PM10_24H, 120, 100, (119, 100), (121, 101)),  # 99.29 → 100; 100.38 → 101
    (I.PM10_24H, 250, 150, (249, 150), (251, 151)),
    (I.PM10_24H, 350, 200, (349, 200), (351, 202)),
    (I.PM10_24H, 420, 300, (419, 299), (421, 302)),
    (I.PM10_24H, 500, 400, (499, 399), (501, 401)),
    (I.PM10_24H, 600, 500, (599, 499), (601, 500)),
    (I.PM2_5_24H, 0, 0, None, (1, 2)),
    (I.PM2_5_24H, 35, 50, (34, 49), (36, 52)),  # 50 + 50/25 = 52
    (I.PM2_5_24H, 60, 100, (59, 98), (61, 101)),  # 50 + 24·2 = 98; 100 + 50/55 → 101
    (I.PM2_5_24H, 115, 150, (114, 150), (116, 152)),  # 100 + 54·50/55 = 149.09 → 150
    (I.PM2_5_24H, 150, 200, (149, 199), (151, 201)),
    (I.PM2_5_24H, 250, 300, (249, 299), (251, 301)),
    (I.PM2_5_24H, 350, 400, (349, 399), (351, 401)),
    (I.PM2_5_24H, 500, 500, (499, 500), (501, 500)),
]


def _year(standard: AqiStandard) -> str:
    return standard.value[-4:]


def _table_params(rows: list[Row], standards: tuple[AqiStandard, ...]) -> Iterator[object]:
    for indicator, bp, iaqi, below, above in rows:
        for std in standards:
            tag = f"{_year(std)}-{indicator.value}"
            yield pytest.param(indicator, std, bp, iaqi, id=f"{tag}-{bp:g}-at")
            if below is not None:
                yield pytest.param(indicator, std, *below, id=f"{tag}-{below[0]:g}-below")
            if above is not None:
                yield pytest.param(indicator, std, *above, id=f"{tag}-{above[0]:g}-above")


TABLE_PARAMS = [
    *_table_params(SHARED_ROWS, (S2012, S2026)),
    *_table_params(PM_ROWS_2012, (S2012,)),
    *_table_params(PM_ROWS_2026, (S2026,)),
]


@pytest.mark.parametrize(("indicator", "standard", "concentration", "expected"), TABLE_PARAMS)
def test_iaqi_breakpoint_table(
    indicator: Indicator, standard: AqiStandard, concentration: float, expected: float
) -> None:
    """IAQI at, just below and just above every breakpoint matches HJ 633 Table 1/Table 3."""
    assert individual_aqi(indicator, concentration, standard) == expected


@pytest.mark.parametrize("standard", list(AqiStandard), ids=_year)
@pytest.mark.parametrize("indicator", list(Indicator), ids=lambda i: i.value)
def test_iaqi_of_zero_is_positive_zero(indicator: Indicator, standard: AqiStandard) -> None:
    """Concentration 0 rates IAQI 0 (Table 1 first row), written "0", not "-0"."""
    got = individual_aqi(indicator, [0.0], standard)
    assert got[0] == 0
    # -0.0 == 0 holds, but "-0" is what a CSV or report then shows.
    assert f"{got[0]:.0f}" == "0"


@pytest.mark.parametrize("standard", list(AqiStandard), ids=_year)
def test_iaqi_vectorised_matches_scalar(standard: AqiStandard) -> None:
    """An array of concentrations rates element-wise, as the scalar rows do."""
    # standards.md §1.1 PM2.5 column: 0 → 0, 35 → 50, 115 → 150, 500 → 500.
    got = individual_aqi(I.PM2_5_24H, [0.0, 35.0, 115.0, 500.0], standard)
    assert got.tolist() == [0.0, 50.0, 150.0, 500.0]


# ---------------------------------------------------------------------------------------
# Concentration rounding (HJ 633-2026 §4.2.2–4.2.3, GB/T 8170 half-even; none in 2012)


@pytest.mark.parametrize(
    ("indicator", "standard", "concentration", "rounding", "expected"),
    [
        # standards.md §1.7: 35.5 → 36 → 50 + 1·50/40 = 51.25 → 52 (both tables agree < 60)
        pytest.param(I.PM2_5_24H, S2026, 35.5, None, 52, id="2026-pm2_5-35.5-rounds-to-36"),
        # standards.md §1.7 text: unrounded 35.5 → 50 + 0.5·1.25 = 50.625 → 51
        pytest.param(I.PM2_5_24H, S2012, 35.5, None, 51, id="2012-pm2_5-35.5-unrounded"),
        pytest.param(I.PM2_5_24H, S2012, 35.5, True, 52, id="2012-pm2_5-35.5-rounding-on"),
        pytest.param(I.PM2_5_24H, S2026, 35.5, False, 51, id="2026-pm2_5-35.5-rounding-off"),
        # 34.5 → 34 (ties to even) → 34·50/35 = 48.57 → 49; unrounded 49.29 → 50
        pytest.param(I.PM2_5_24H, S2026, 34.5, None, 49, id="2026-pm2_5-34.5-rounds-to-34"),
        pytest.param(I.PM2_5_24H, S2012, 34.5, None, 50, id="2012-pm2_5-34.5-unrounded"),
        # 2026: 60.5 → 60 → 100; 60.51 → 61 → 100 + 50/55 → 101; 61.5 → 62 → 101.8 → 102
        pytest.param(I.PM2_5_24H, S2026, 60.5, None, 100, id="2026-pm2_5-60.5-rounds-to-60"),
        pytest.param(I.PM2_5_24H, S2026, 60.51, None, 101, id="2026-pm2_5-60.51-rounds-to-61"),
        pytest.param(I.PM2_5_24H, S2026, 61.5, None, 102, id="2026-pm2_5-61.5-rounds-to-62"),
        # 2026 PM10: 120.5 → 120 → 100; 2012 unrounded 120.5 → 50 + 70.5·0.5 = 85.25 → 86
        pytest.param(I.PM10_24H, S2026, 120.5, None, 100, id="2026-pm10-120.5-rounds-to-120"),
        pytest.param(I.PM10_24H, S2012, 120.5, None, 86, id="2012-pm10-120.5-unrounded"),
        # CO to 0.1 mg/m³: 2.05 → 2.0 → 50; 2.15 → 2.2 → 55; 2.55 → 2.6 → 65
        pytest.param(I.CO_24H, S2026, 2.05, None, 50, id="2026-co-2.05-rounds-to-2.0"),
        pytest.param(I.CO_24H, S2026, 2.15, None, 55, id="2026-co-2.15-rounds-to-2.2"),
        pytest.param(I.CO_24H, S2026, 2.55, None, 65, id="2026-co-2.55-rounds-to-2.6"),
        # 2.451 is not a tie → 2.5 → 62.5 → 63
        pytest.param(I.CO_24H, S2026, 2.451, None, 63, id="2026-co-2.451-rounds-to-2.5"),
        # 2012 unrounded 2.05 → 50 + 0.05·25 = 51.25 → 52
        pytest.param(I.CO_24H, S2012, 2.05, None, 52, id="2012-co-2.05-unrounded"),
        # CO 1 h: 10.05 → 10.0 → 100 (2026); unrounded 100 + 0.05·2 = 100.1 → 101 (2012)
        pytest.param(I.CO_1H, S2026, 10.05, None, 100, id="2026-co_1h-10.05-rounds-to-10.0"),
        pytest.param(I.CO_1H, S2012, 10.05, None, 101, id="2012-co_1h-10.05-unrounded"),
        # O3 8 h: 160.5 → 160 → 100 (2026); unrounded 100 + 0.5·50/55 = 100.45 → 101
        pytest.param(I.O3_8H, S2026, 160.5, None, 100, id="2026-o3_8h-160.5-rounds-to-160"),
        pytest.param(I.O3_8H, S2012, 160.5, None, 101, id="2012-o3_8h-160.5-unrounded"),
        # SO2 24 h: 50.4 → 50 → 50 (2026); unrounded 50 + 0.4·0.5 = 50.2 → 51 (2012)
        pytest.param(I.SO2_24H, S2026, 50.4, None, 50, id="2026-so2-50.4-rounds-to-50"),
        pytest.param(I.SO2_24H, S2012, 50.4, None, 51, id="2012-so2-50.4-unrounded"),
        # NO2 1 h: 100.6 → 101 → 50.5 → 51 (2026)
        pytest.param(I.NO2_1H, S2026, 100.6, None, 51, id="2026-no2_1h-100.6-rounds-to-101"),
    ],
)
def test_iaqi_concentration_rounding(
    indicator: Indicator,
    standard: AqiStandard,
    concentration: float,
    rounding: bool | None,
    expected: float,
) -> None:
    """HJ 633-2026 rounds concentrations half-even before rating; HJ 633-2012 does not."""
    got = individual_aqi(indicator, concentration, standard, round_concentration=rounding)
    assert got == expected


# ---------------------------------------------------------------------------------------
# Test vectors: standards.md §1.7 (inputs rounded half-even, IAQI ceil, both tables)


VECTORS = [
    # indicator, input, IAQI 2012 table, IAQI 2026 table
    (I.PM2_5_24H, 35.5, 52, 52),
    (I.PM2_5_24H, 12.5, 18, 18),
    (I.PM2_5_24H, 75, 100, 114),
    (I.PM2_5_24H, 80, 107, 119),
    (I.PM10_24H, 100, 75, 86),
    (I.PM10_24H, 151, 101, 112),
    (I.CO_24H, 3.9, 98, 98),
    (I.CO_24H, 2.45, 60, 60),
    (I.O3_8H, 170, 110, 110),
    (I.SO2_24H, 60, 55, 55),
    (I.NO2_24H, 45, 57, 57),
]


@pytest.mark.parametrize(
    ("indicator", "concentration", "expected"),
    [pytest.param(i, c, e, id=f"{i.value}-{c:g}") for i, c, e, _ in VECTORS],
)
def test_reference_vectors_2012(indicator: Indicator, concentration: float, expected: int) -> None:
    """standards.md §1.7 vectors, HJ 633-2012 table, inputs rounded as the vectors were."""
    got = individual_aqi(indicator, concentration, S2012, round_concentration=True)
    assert got == expected


@pytest.mark.parametrize(
    ("indicator", "concentration", "expected"),
    [pytest.param(i, c, e, id=f"{i.value}-{c:g}") for i, c, _, e in VECTORS],
)
def test_reference_vectors_2026(indicator: Indicator, concentration: float, expected: int) -> None:
    """standards.md §1.7 vectors, HJ 633-2026 table with its default rounding."""
    assert individual_aqi(indicator, concentration, S2026) == expected


# ---------------------------------------------------------------------------------------
# Special rules (standards.md §1.1 notes b and c; project decision above the top)


def test_so2_1h_above_800_2012_uses_fallback() -> None:
    """HJ 633-2012: SO2 1 h > 800 reports the IAQI passed as fallback (the 24 h IAQI)."""
    got = individual_aqi(I.SO2_1H, [800.0, 801.0, 5000.0], S2012, fallback=[10.0, 120.0, 250.0])
    # 800 is still on the table (200); above it the fallback replaces the 1 h IAQI.
    assert got.tolist() == [200.0, 120.0, 250.0]


def test_so2_1h_above_800_2012_scalar_fallback_broadcasts() -> None:
    """HJ 633-2012: a scalar fallback applies to every SO2 1 h value above 800."""
    got = individual_aqi(I.SO2_1H, [100.0, 900.0], S2012, fallback=77.0)
    # 100 → 100·50/150 = 33.3 → 34
    assert got.tolist() == [34.0, 77.0]


def test_so2_1h_above_800_2012_without_fallback_is_nan() -> None:
    """HJ 633-2012: SO2 1 h > 800 without a 24 h IAQI gives NaN, not a number."""
    got = individual_aqi(I.SO2_1H, [799.0, 801.0], S2012)
    assert got[0] == 200
    assert np.isnan(got[1])


def test_so2_1h_above_800_2026_is_200() -> None:
    """HJ 633-2026: SO2 1 h > 800 sets the IAQI to 200, whatever the fallback."""
    got = individual_aqi(I.SO2_1H, [801.0, 5000.0], S2026, fallback=[10.0, 450.0])
    assert got.tolist() == [200.0, 200.0]


def test_o3_8h_above_800_2012_uses_fallback() -> None:
    """HJ 633-2012: O3 8 h > 800 reports the IAQI passed as fallback (the O3 1 h IAQI)."""
    got = individual_aqi(I.O3_8H, [800.0, 801.0], S2012, fallback=[0.0, 350.0])
    assert got.tolist() == [300.0, 350.0]


def test_o3_8h_above_800_2012_without_fallback_is_nan() -> None:
    """HJ 633-2012: O3 8 h > 800 without an O3 1 h IAQI gives NaN."""
    assert np.isnan(individual_aqi(I.O3_8H, 900.0, S2012))


def test_o3_8h_above_800_2026_is_300() -> None:
    """HJ 633-2026: O3 8 h > 800 sets the IAQI to 300."""
    got = individual_aqi(I.O3_8H, [801.0, 2000.0], S2026, fallback=[450.0, 450.0])
    assert got.tolist() == [300.0, 300.0]


ABOVE_TOP = [
    (I.SO2_24H, 2620),
    (I.NO2_24H, 940),
    (I.NO2_1H, 3840),
    (I.CO_24H, 60),
    (I.CO_1H, 150),
    (I.O3_1H, 1200),
    (I.PM10_24H, 600),
    (I.PM2_5_24H, 500),
]


@pytest.mark.parametrize("standard", list(AqiStandard), ids=_year)
@pytest.mark.parametrize(
    ("indicator", "top"), [pytest.param(i, t, id=i.value) for i, t in ABOVE_TOP]
)
def test_above_top_breakpoint_is_500(
    indicator: Indicator, top: float, standard: AqiStandard
) -> None:
    """A concentration above the top breakpoint rates 500 (project decision, standards §1.1)."""
    got = individual_aqi(indicator, [top * 1.5, top * 100], standard)
    assert got.tolist() == [500.0, 500.0]


@pytest.mark.parametrize("standard", list(AqiStandard), ids=_year)
@pytest.mark.parametrize(
    ("value", "shown"),
    [(-1.5, r"-1\.5"), (-0.1, r"-0\.1"), (math.inf, "inf"), (-math.inf, "-inf")],
    ids=["negative", "small-negative", "inf", "minus-inf"],
)
def test_unusable_concentration_raises(standard: AqiStandard, value: float, shown: str) -> None:
    """A negative or infinite concentration raises ValueError naming the value."""
    with pytest.raises(ValueError, match=shown):
        individual_aqi(I.PM2_5_24H, [10.0, value], standard)


@pytest.mark.parametrize("standard", list(AqiStandard), ids=_year)
def test_nan_concentration_stays_nan(standard: AqiStandard) -> None:
    """A missing (NaN) concentration gives a NaN IAQI next to rated values."""
    got = individual_aqi(I.PM2_5_24H, [NAN, 35.0], standard)
    assert np.isnan(got[0])
    assert got[1] == 50


# ---------------------------------------------------------------------------------------
# GB/T 8170 rounding (四舍六入五成双)


@pytest.mark.parametrize(
    ("value", "decimals", "expected"),
    [
        (35.5, 0, 36.0),  # tie, 5 → even 6
        (36.5, 0, 36.0),  # tie, 6 stays even
        (12.5, 0, 12.0),
        (0.5, 0, 0.0),
        (1.5, 0, 2.0),
        (35.4, 0, 35.0),  # 四舍
        (35.6, 0, 36.0),  # 六入
        (35.51, 0, 36.0),  # 5 followed by a non-zero digit rounds up
        (2.45, 1, 2.4),  # decimal tie held as 2.4500000000000002
        (2.55, 1, 2.6),  # decimal tie held as 2.5499999999999998
        (2.35, 1, 2.4),
        (2.65, 1, 2.6),
        (0.05, 1, 0.0),
        (0.15, 1, 0.2),
        (0.25, 1, 0.2),
        (2.451, 1, 2.5),
        (2.449, 1, 2.4),
        (0.125, 2, 0.12),
        (0.135, 2, 0.14),
        (1.005, 2, 1.0),  # 100.5 → 100
        (2.675, 2, 2.68),  # 267.5 → 268
        (0.0, 0, 0.0),
    ],
    ids=lambda v: str(v),
)
def test_round_half_even(value: float, decimals: int, expected: float) -> None:
    """round_half_even rounds the number as written, ties to the even digit (GB/T 8170)."""
    assert round_half_even(value, decimals) == expected


def test_round_half_even_keeps_nan_and_shape() -> None:
    """round_half_even maps arrays element-wise and leaves NaN as NaN."""
    got = round_half_even([[2.45, NAN], [12.5, 13.5]], 0)
    assert got.shape == (2, 2)
    assert np.isnan(got[0, 1])
    assert got[0, 0] == 2.0
    assert got[1].tolist() == [12.0, 14.0]


# ---------------------------------------------------------------------------------------
# Levels, categories and colours (standards.md §1.3: HJ 633 Table 2/Table 1, Table A.1)


LEVEL_ROWS = [
    (0, 1, "优", "Excellent", "#00E400"),
    (1, 1, "优", "Excellent", "#00E400"),
    (50, 1, "优", "Excellent", "#00E400"),
    (51, 2, "良", "Good", "#FFFF00"),
    (100, 2, "良", "Good", "#FFFF00"),
    (101, 3, "轻度污染", "Lightly polluted", "#FF7E00"),
    (150, 3, "轻度污染", "Lightly polluted", "#FF7E00"),
    (151, 4, "中度污染", "Moderately polluted", "#FF0000"),
    (200, 4, "中度污染", "Moderately polluted", "#FF0000"),
    (201, 5, "重度污染", "Heavily polluted", "#99004C"),
    (300, 5, "重度污染", "Heavily polluted", "#99004C"),
    (301, 6, "严重污染", "Severely polluted", "#7E0023"),
    (500, 6, "严重污染", "Severely polluted", "#7E0023"),
]


@pytest.mark.parametrize(
    ("aqi", "level", "zh", "en", "colour"),
    [pytest.param(*row, id=f"aqi-{row[0]}") for row in LEVEL_ROWS],
)
def test_aqi_level_category_colour(aqi: int, level: int, zh: str, en: str, colour: str) -> None:
    """AQI → level, category and hex colour per HJ 633 Table 2 and Table A.1."""
    got = aqi_level([aqi])
    assert got.tolist() == [level]
    assert level_categories(got).tolist() == [zh]
    assert level_categories(got, language="en").tolist() == [en]
    assert level_colours(got).tolist() == [colour]


def test_missing_aqi_has_level_zero_and_no_label() -> None:
    """A missing AQI has level 0, no category and no colour."""
    got = aqi_level([NAN])
    assert got.tolist() == [0]
    assert level_categories(got).tolist() == [""]
    assert level_colours(got).tolist() == [""]


# ---------------------------------------------------------------------------------------
# Combining IAQIs: AQI, primary and exceedance pollutants, missing data (§1.4, §1.5)


def _rated(**iaqi: list[float]) -> list[RatedIndicator]:
    return [
        RatedIndicator(f"iaqi_{name}", Pollutant(name), np.asarray(values, dtype=float))
        for name, values in iaqi.items()
    ]


def test_aqi_is_max_iaqi_and_ties_are_all_primary_in_canonical_order() -> None:
    """Tied pollutants are all primary, listed in canonical order whatever the input order."""
    rated = _rated(pm2_5=[120.0, 80.0], o3=[60.0, 80.0], pm10=[120.0, 30.0], so2=[5.0, 80.0])
    out = combine_iaqi(rated)
    assert out["aqi"].tolist() == [120.0, 80.0]
    assert pollutant_names(out["primary_mask"]).tolist() == ["pm10;pm2_5", "so2;o3;pm2_5"]


@pytest.mark.parametrize(
    ("aqi", "primary"), [(50.0, ""), (51.0, "no2"), (0.0, "")], ids=["50", "51", "0"]
)
def test_primary_pollutant_only_above_50(aqi: float, primary: str) -> None:
    """The primary pollutant is named only when AQI > 50 (HJ 633 §3.3 / 2026 §4.3.1)."""
    out = combine_iaqi(_rated(so2=[aqi - 10 if aqi else 0.0], no2=[aqi]))
    assert out["aqi"].tolist() == [aqi]
    assert pollutant_names(out["primary_mask"]).tolist() == [primary]


def test_exceedance_pollutants_are_iaqi_above_100() -> None:
    """Exceedance pollutants are those with IAQI > 100; exactly 100 does not count."""
    out = combine_iaqi(_rated(no2=[100.0, 101.0], co=[101.0, 140.0], pm10=[90.0, 30.0]))
    assert pollutant_names(out["exceedance_mask"]).tolist() == ["co", "no2;co"]


def test_missing_present_policy_rates_what_is_present() -> None:
    """MissingPolicy.PRESENT: the AQI of the pollutants present; complete is False."""
    out = combine_iaqi(_rated(so2=[NAN, 20.0], pm2_5=[80.0, 30.0]))
    assert out["aqi"].tolist() == [80.0, 30.0]
    assert out["complete"].tolist() == [False, True]
    assert out["level"].tolist() == [2, 1]


def test_missing_hj633_2026_policy_withholds_aqi_up_to_100() -> None:
    """HJ 633-2026 §5.3: with a pollutant missing the AQI is published only when > 100."""
    out = combine_iaqi(
        _rated(so2=[NAN, NAN, 20.0], pm2_5=[100.0, 101.0, 30.0]),
        missing=MissingPolicy.HJ633_2026,
    )
    assert np.isnan(out["aqi"][0])
    assert out["aqi"][1:].tolist() == [101.0, 30.0]
    assert out["level"].tolist() == [0, 3, 1]
    assert pollutant_names(out["primary_mask"]).tolist() == ["", "pm2_5", ""]
    assert out["complete"].tolist() == [False, False, True]


def test_nothing_rated_gives_nan_aqi() -> None:
    """A row with every IAQI missing has no AQI, no level and no primary pollutant."""
    out = combine_iaqi(_rated(so2=[NAN], pm2_5=[NAN]))
    assert np.isnan(out["aqi"][0])
    assert out["level"].tolist() == [0]
    assert out["primary_mask"].tolist() == [0]


def test_combine_needs_an_indicator() -> None:
    """combine_iaqi refuses an empty list of indicators."""
    with pytest.raises(ValueError, match="at least one"):
        combine_iaqi([])


# ---------------------------------------------------------------------------------------
# Standards by date (HJ 633-2026 effective 2026-03-01, standards.md §0)


def test_standard_for_date_switches_on_2026_03_01() -> None:
    """HJ 633-2012 applies up to 2026-02-28 and HJ 633-2026 from 2026-03-01."""
    assert standard_for_date(pd.Timestamp("2026-02-28").date()) is S2012
    assert standard_for_date(pd.Timestamp("2026-03-01").date()) is S2026


@pytest.mark.parametrize("tz", [None, "Asia/Shanghai"], ids=["naive", "shanghai"])
def test_standards_for_dates_switch_at_local_midnight(tz: str | None) -> None:
    """Hours labelled up to 2026-02-28 23:00 local are 2012; from 2026-03-01 00:00, 2026."""
    times = pd.date_range("2026-02-28 22:00", periods=4, freq="h", tz=tz)
    got = standards_for_dates(times)
    assert [AqiStandard(s) for s in got] == [S2012, S2012, S2026, S2026]


# ---------------------------------------------------------------------------------------
# Hourly (real-time) AQI


def test_hourly_platform_rates_pm_1h_on_24h_breakpoints() -> None:
    """Platform method: 1 h PM is rated on the 24 h PM breakpoints of each version."""
    hours = pd.DataFrame({"pm2_5": [80.0], "pm10": [151.0]})
    # standards.md §1.7: PM2.5 80 → 107 (2012) / 119 (2026); PM10 151 → 101 / 112.
    old = hourly_aqi(hours, S2012)
    new = hourly_aqi(hours, S2026)
    assert old[["iaqi_pm2_5", "iaqi_pm10"]].iloc[0].tolist() == [107.0, 101.0]
    assert new[["iaqi_pm2_5", "iaqi_pm10"]].iloc[0].tolist() == [119.0, 112.0]
    assert old["standard"].tolist() == ["hj633-2012"]
    assert new["standard"].tolist() == ["hj633-2026"]


@pytest.mark.parametrize("standard", list(AqiStandard), ids=_year)
def test_hourly_gases_use_1h_breakpoints(standard: AqiStandard) -> None:
    """Hourly SO2, NO2, CO and O3 are rated on their 1 h breakpoint columns."""
    # Table 1 1 h columns: SO2 500 → 100, NO2 200 → 100, CO 10 → 100, O3 200 → 100.
    # (24 h columns would give SO2 500 → 150 + 25·100/325 → 158, NO2 200 → 160, CO → 130.)
    hours = pd.DataFrame({"so2": [500.0], "no2": [200.0], "co": [10.0], "o3": [200.0]})
    out = hourly_aqi(hours, standard)
    assert out[["iaqi_so2", "iaqi_no2", "iaqi_co", "iaqi_o3"]].iloc[0].tolist() == [100.0] * 4
    assert pollutant_names(out["primary_mask"]).tolist() == ["so2;no2;co;o3"]


def test_hourly_per_row_standards_across_the_switch() -> None:
    """Rows before and after 2026-03-01 00:00 local are rated by their own version."""
    times = pd.date_range("2026-02-28 23:00", periods=2, freq="h", tz="Asia/Shanghai")
    hours = pd.DataFrame({"time": times, "pm2_5": [75.0, 75.0], "o3": [20.0, 20.0]})
    out = hourly_aqi(hours, standards_for_dates(hours["time"]))
    # standards.md §1.7: PM2.5 75 → 100 (2012) / 114 (2026)
    assert out["aqi"].tolist() == [100.0, 114.0]
    assert out["standard"].tolist() == ["hj633-2012", "hj633-2026"]
    assert out["level"].tolist() == [2, 3]


def test_hourly_mixed_standards_keep_row_order() -> None:
    """Interleaved 2012 and 2026 rows come back in input order with a fresh index."""
    hours = pd.DataFrame({"pm2_5": [75.0, 75.0, 35.0, 80.0]}, index=[10, 3, 7, 1])
    out = hourly_aqi(hours, ["hj633-2026", "hj633-2012", "hj633-2026", "hj633-2012"])
    assert out["aqi"].tolist() == [114.0, 100.0, 50.0, 107.0]
    assert out.index.tolist() == [0, 1, 2, 3]


def test_hourly_unknown_standard_raises() -> None:
    """A per-row standard code that is not a known version is refused."""
    with pytest.raises(ValueError, match="hj633-2099"):
        hourly_aqi(pd.DataFrame({"pm2_5": [1.0, 2.0]}), ["hj633-2012", "hj633-2099"])


def test_hourly_so2_above_800_2012_uses_24h_moving_mean() -> None:
    """2012 real-time: SO2 1 h > 800 reports the IAQI of the so2_24h moving mean."""
    hours = pd.DataFrame({"so2": [900.0, 900.0], "so2_24h": [200.0, NAN]})
    out = hourly_aqi(hours, S2012)
    # SO2 24 h 200 → 100 + 50·50/325 = 107.69 → 108; without a 24 h mean: missing
    assert out["iaqi_so2"][0] == 108
    assert np.isnan(out["iaqi_so2"][1])
    assert out["complete"].tolist() == [False, False]


def test_hourly_so2_above_800_2026_is_200() -> None:
    """2026 real-time: SO2 1 h > 800 rates 200, whatever the 24 h mean."""
    out = hourly_aqi(pd.DataFrame({"so2": [900.0], "so2_24h": [200.0]}), S2026)
    assert out["iaqi_so2"].tolist() == [200.0]


def test_hourly_standard_text_2012_uses_moving_means() -> None:
    """Standard-text method, 2012: PM from the 24 h moving means, plus the O3 8 h IAQI."""
    hours = pd.DataFrame(
        {
            "o3": [150.0],
            "o3_8h": [170.0],
            "pm10": [500.0],
            "pm10_24h": [100.0],
            "pm2_5": [200.0],
            "pm2_5_24h": [75.0],
        }
    )
    out = hourly_aqi(hours, S2012, method=HourlyMethod.STANDARD_TEXT)
    # §1.7: PM2.5 75 → 100, PM10 100 → 75, O3 8 h 170 → 110; O3 1 h 150 → 150·50/160 → 47
    row = out.iloc[0]
    assert [row["iaqi_pm2_5"], row["iaqi_pm10"], row["iaqi_o3_8h"], row["iaqi_o3"]] == [
        100.0,
        75.0,
        110.0,
        47.0,
    ]
    assert row["aqi"] == 110
    assert pollutant_names(out["primary_mask"]).tolist() == ["o3"]


def test_hourly_standard_text_2026_rows_unaffected() -> None:
    """Standard-text method leaves 2026 rows as the platform method rates them."""
    hours = pd.DataFrame({"o3": [150.0], "o3_8h": [170.0], "pm2_5": [80.0], "pm2_5_24h": [20.0]})
    text = hourly_aqi(hours, S2026, method=HourlyMethod.STANDARD_TEXT)
    platform = hourly_aqi(hours, S2026)
    # 2026 PM2.5 1 h 80 → 119 (§1.7); the 8 h O3 is not rated in 2026 real time
    assert text["iaqi_pm2_5"].tolist() == [119.0]
    assert np.isnan(text["iaqi_o3_8h"][0])
    assert text["aqi"].tolist() == platform["aqi"].tolist() == [119.0]


def test_hourly_standard_text_mixed_rows() -> None:
    """Standard-text method on mixed rows: 2012 rows use moving means, 2026 rows 1 h values."""
    hours = pd.DataFrame(
        {
            "pm2_5": [200.0, 200.0],
            "pm2_5_24h": [75.0, 75.0],
            "o3": [150.0, 150.0],
            "o3_8h": [170.0, 170.0],
        }
    )
    out = hourly_aqi(hours, ["hj633-2012", "hj633-2026"], method=HourlyMethod.STANDARD_TEXT)
    # 2012: PM2.5 24 h 75 → 100, O3 8 h 170 → 110; 2026: PM2.5 1 h 200 → 250, no O3 8 h
    assert out["iaqi_pm2_5"].tolist() == [100.0, 250.0]
    assert out["iaqi_o3_8h"][0] == 110
    assert np.isnan(out["iaqi_o3_8h"][1])
    assert out["aqi"].tolist() == [110.0, 250.0]


def test_hourly_standard_text_2012_o3_8h_above_800_reports_o3_1h() -> None:
    """Standard-text 2012: O3 8 h > 800 reports the O3 1 h IAQI."""
    hours = pd.DataFrame({"o3": [1000.0], "o3_8h": [900.0]})
    out = hourly_aqi(hours, S2012, method=HourlyMethod.STANDARD_TEXT)
    # O3 1 h 1000 → 400 (Table 1)
    assert out["iaqi_o3_8h"].tolist() == [400.0]
    assert out["aqi"].tolist() == [400.0]


def test_hourly_missing_column_is_missing_pollutant() -> None:
    """A pollutant column that is absent is a missing pollutant, not zero."""
    out = hourly_aqi(pd.DataFrame({"pm2_5": [20.0]}), S2026)
    assert np.isnan(out["iaqi_so2"][0])
    assert out["complete"].tolist() == [False]
    # 20·50/35 = 28.6 → 29
    assert out["aqi"].tolist() == [29.0]


def test_hourly_hj633_2026_missing_policy() -> None:
    """HJ 633-2026 §5.3 in real time: an incomplete hour's AQI ≤ 100 is withheld."""
    hours = pd.DataFrame({"pm2_5": [50.0, 70.0]})
    out = hourly_aqi(hours, S2026, missing=MissingPolicy.HJ633_2026)
    # 2026: 50 → 50 + 15·2 = 80 (withheld); 70 → 100 + 10·50/55 = 109.09 → 110
    assert np.isnan(out["aqi"][0])
    assert out["aqi"][1] == 110
    assert out["iaqi_pm2_5"].tolist() == [80.0, 110.0]


# ---------------------------------------------------------------------------------------
# Daily AQI


def _day(**values: float) -> pd.DataFrame:
    base = {
        "so2": 9.0,
        "no2": 30.0,
        "co": 0.8,
        "o3_1h_max": 120.0,
        "o3_8h_max": 98.0,
        "pm10": 40.0,
        "pm2_5": 20.0,
    }
    base.update(values)
    return pd.DataFrame({k: [v] for k, v in base.items()})


def test_daily_pm2_5_75_differs_between_versions() -> None:
    """A PM2.5 day mean of 75 is AQI 100 (良) under 2012 and 114 (轻度污染) under 2026."""
    day = _day(pm2_5=75.0)
    old = daily_aqi(day, S2012)
    new = daily_aqi(day, S2026)
    assert old["aqi"].tolist() == [100.0]
    assert new["aqi"].tolist() == [114.0]
    assert level_categories(old["level"].to_numpy()).tolist() == ["良"]
    assert level_categories(new["level"].to_numpy()).tolist() == ["轻度污染"]
    assert pollutant_names(new["primary_mask"]).tolist() == ["pm2_5"]


def test_daily_2012_rates_o3_1h_max() -> None:
    """HJ 633-2012 rates the O3 daily max 1 h; it can make the AQI and the primary."""
    day = _day(o3_1h_max=300.0)
    out = daily_aqi(day, S2012)
    # O3 1 h 300 → 150 (Table 1); others lower (O3 8 h 98 → 49, PM2.5 20 → 29)
    assert out["iaqi_o3_1h"].tolist() == [150.0]
    assert out["aqi"].tolist() == [150.0]
    assert pollutant_names(out["primary_mask"]).tolist() == ["o3"]


def test_daily_2026_ignores_o3_1h_max() -> None:
    """HJ 633-2026 rates six daily statistics; the O3 daily max 1 h is ignored."""
    out = daily_aqi(_day(o3_1h_max=300.0), S2026)
    # Remaining max: O3 8 h 98 → 98·50/100 = 49 (NO2 30 → 38, PM2.5 20 → 29)
    assert np.isnan(out["iaqi_o3_1h"][0])
    assert out["aqi"].tolist() == [49.0]
    assert pollutant_names(out["primary_mask"]).tolist() == [""]


def test_daily_iaqi_columns_use_24h_breakpoints() -> None:
    """Daily SO2, NO2 and CO are rated on the 24 h columns (Table 1 note a)."""
    out = daily_aqi(_day(so2=150.0, no2=80.0, co=4.0), S2026).iloc[0]
    assert [out["iaqi_so2"], out["iaqi_no2"], out["iaqi_co"]] == [100.0, 100.0, 100.0]


def test_daily_o3_8h_above_800() -> None:
    """O3 MDA8 > 800: 2012 reports the O3 1 h IAQI, 2026 rates 300."""
    day = _day(o3_8h_max=900.0, o3_1h_max=1000.0)
    # O3 1 h 1000 → 400
    assert daily_aqi(day, S2012)["iaqi_o3_8h"].tolist() == [400.0]
    assert daily_aqi(day, S2026)["iaqi_o3_8h"].tolist() == [300.0]


def test_daily_complete_counts_only_rated_statistics() -> None:
    """complete: 2012 needs all 7 statistics, 2026 the 6 it rates (O3 1 h not needed)."""
    day = _day(o3_1h_max=NAN)
    assert daily_aqi(day, S2012)["complete"].tolist() == [False]
    assert daily_aqi(day, S2026)["complete"].tolist() == [True]


def test_daily_hj633_2026_missing_policy() -> None:
    """HJ 633-2026 §5.3: an incomplete day with AQI ≤ 100 has no AQI; > 100 keeps it."""
    days = pd.concat([_day(so2=NAN), _day(so2=NAN, pm2_5=75.0)], ignore_index=True)
    out = daily_aqi(days, S2026, missing=MissingPolicy.HJ633_2026)
    assert np.isnan(out["aqi"][0])
    assert out["aqi"][1] == 114
    assert out["level"].tolist() == [0, 3]


def test_daily_per_row_standards() -> None:
    """Daily rows of 2026-02-28 and 2026-03-01 are rated by their own versions."""
    days = pd.concat([_day(pm2_5=75.0), _day(pm2_5=75.0)], ignore_index=True)
    dates = pd.Series(pd.to_datetime(["2026-02-28", "2026-03-01"]))
    out = daily_aqi(days, standards_for_dates(dates))
    assert out["aqi"].tolist() == [100.0, 114.0]
    assert out["standard"].tolist() == ["hj633-2012", "hj633-2026"]


# ---------------------------------------------------------------------------------------
# Properties (hypothesis)

TOPS = {
    I.SO2_24H: 2620.0,
    I.SO2_1H: 800.0,
    I.NO2_24H: 940.0,
    I.NO2_1H: 3840.0,
    I.CO_24H: 60.0,
    I.CO_1H: 150.0,
    I.O3_1H: 1200.0,
    I.O3_8H: 800.0,
    I.PM10_24H: 600.0,
    I.PM2_5_24H: 500.0,
}


@pytest.mark.parametrize("standard", list(AqiStandard), ids=_year)
@pytest.mark.parametrize("indicator", list(Indicator), ids=lambda i: i.value)
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_iaqi_never_decreases(
    indicator: Indicator, standard: AqiStandard, data: st.DataObject
) -> None:
    """IAQI never decreases as the concentration rises (every indicator and version)."""
    top = TOPS[indicator]
    special_2012 = standard is S2012 and indicator in (I.SO2_1H, I.O3_8H)
    upper = top if special_2012 else top * 1.5  # 2012 has no IAQI there (fallback)
    conc = st.one_of(
        st.floats(min_value=0.0, max_value=upper, allow_nan=False),
        st.integers(min_value=0, max_value=int(upper)).map(float),  # on the rounding grid
    )
    a, b = sorted([data.draw(conc), data.draw(conc)])
    lo, hi = individual_aqi(indicator, [a, b], standard)
    assert lo <= hi
    assert 0 <= lo <= 500


_STAT = st.one_of(st.none(), st.floats(min_value=0.0, max_value=700.0, allow_nan=False))
_CO = st.one_of(st.none(), st.floats(min_value=0.0, max_value=70.0, allow_nan=False))
_DAY = st.fixed_dictionaries(
    {
        "so2": _STAT,
        "no2": _STAT,
        "co": _CO,
        "o3_1h_max": _STAT,
        "o3_8h_max": _STAT,
        "pm10": _STAT,
        "pm2_5": _STAT,
    }
)
_IAQI_POLLUTANT = {
    "iaqi_so2": "so2",
    "iaqi_no2": "no2",
    "iaqi_co": "co",
    "iaqi_o3_1h": "o3",
    "iaqi_o3_8h": "o3",
    "iaqi_pm10": "pm10",
    "iaqi_pm2_5": "pm2_5",
}


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(_DAY, min_size=1, max_size=8),
    standard=st.sampled_from(list(AqiStandard)),
)
def test_daily_aqi_properties(rows: list[dict[str, float | None]], standard: AqiStandard) -> None:
    """AQI = max IAQI; no primary at AQI ≤ 50; primaries are exactly the IAQI == AQI ones."""
    frame = pd.DataFrame(rows, dtype=float)
    out = daily_aqi(frame, standard)
    iaqi = out[list(_IAQI_POLLUTANT)]
    for i in range(len(out)):
        values = iaqi.iloc[i]
        aqi = out["aqi"][i]
        if values.isna().all():
            assert np.isnan(aqi)
            continue
        assert aqi == values.max()
        primary = set(filter(None, pollutant_names([out["primary_mask"][i]])[0].split(";")))
        if aqi <= 50:
            assert primary == set()
        else:
            tied = {_IAQI_POLLUTANT[str(k)] for k, v in values.items() if v == aqi}
            assert primary == tied


@settings(max_examples=100, deadline=None)
@given(
    rows=st.lists(
        st.fixed_dictionaries(
            {"so2": _STAT, "no2": _STAT, "co": _CO, "o3": _STAT, "pm10": _STAT, "pm2_5": _STAT}
        ),
        min_size=1,
        max_size=8,
    ),
    standard=st.sampled_from(list(AqiStandard)),
)
def test_hourly_aqi_is_max_iaqi(
    rows: list[dict[str, float | None]], standard: AqiStandard
) -> None:
    """Hourly AQI equals the largest IAQI of the hour; primaries have IAQI == AQI."""
    out = hourly_aqi(pd.DataFrame(rows, dtype=float), standard)
    columns = ["iaqi_so2", "iaqi_no2", "iaqi_co", "iaqi_o3", "iaqi_pm10", "iaqi_pm2_5"]
    expected = out[columns].max(axis=1)
    assert out["aqi"].fillna(-1).tolist() == expected.fillna(-1).tolist()
    for i in range(len(out)):
        names = pollutant_names([out["primary_mask"][i]])[0]
        for name in filter(None, names.split(";")):
            assert out[f"iaqi_{name}"][i] == out["aqi"][i] > 50


@pytest.mark.parametrize("standard", list(AqiStandard), ids=_year)
@pytest.mark.parametrize("indicator", list(Indicator), ids=lambda i: i.value)
@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(
        st.one_of(
            st.floats(min_value=0.0, max_value=4000.0, allow_nan=False),
            st.integers(min_value=0, max_value=4000).map(float),
            st.just(NAN),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_iaqi_array_equals_elementwise(
    indicator: Indicator, standard: AqiStandard, values: list[float]
) -> None:
    """Rating an array gives each element the IAQI it gets when rated alone."""
    together = individual_aqi(indicator, values, standard, fallback=123.0)
    alone = [individual_aqi(indicator, [v], standard, fallback=123.0)[0] for v in values]
    assert np.array_equal(together, np.asarray(alone), equal_nan=True)


def test_daily_aqi_2012_rates_the_unrounded_mean() -> None:
    """Published Shenyang days (standards.md §2.9): HJ 633-2012 rates PM2.5 75.3 as 101
    (⌈100 + 50·0.3/40⌉), not the 100 of the displayed 75; HJ 633-2026 rounds first (GB/T
    8170) and rates 75 → 114 (standards.md §1.7)."""
    day = pd.DataFrame({"pm2_5": [75.3]})
    assert daily_aqi(day, AqiStandard.HJ633_2012)["aqi"].tolist() == [101.0]
    assert daily_aqi(day, AqiStandard.HJ633_2026)["aqi"].tolist() == [114.0]


@pytest.mark.parametrize("decimals", [1, 3])
def test_round_half_even_keeps_values_that_overflow_when_scaled(decimals: int) -> None:
    # A double of 1e306 or more has a spacing far above 1: nothing to round, whatever the
    # decimals; scaling it by 10**decimals overflows, which must not leak inf or a warning.
    values = np.array([1e308, np.finfo(float).max, 2.45, np.nan])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = round_half_even(values, decimals)
    assert out[:2].tolist() == values[:2].tolist()
    assert out[2] == (2.4 if decimals == 1 else 2.45)  # GB/T 8170: 2.45 → 2.4 (half to even)
    assert np.isnan(out[3])


@pytest.mark.parametrize("standard", [S2012, AqiStandard.HJ633_2026])
def test_individual_aqi_of_a_value_that_overflows_when_scaled_is_the_top_without_a_warning(
    standard: AqiStandard,
) -> None:
    # CO 1-hour 1e308 mg/m³ is far above the top breakpoint (HJ 633 Table 1: 150 mg/m³ →
    # IAQI 500); scaling it to the 0.1 mg/m³ grid overflows, which must not reach stderr as
    # numpy's RuntimeWarning (the 2012 rules rate unrounded values: another path).
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = individual_aqi(I.CO_1H, [1e308, np.finfo(float).max, 3.0], standard)
    assert out.tolist()[:2] == [500.0, 500.0]
    assert out[2] == individual_aqi(I.CO_1H, [3.0], standard)[0]
