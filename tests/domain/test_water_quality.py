"""Tests of monitor.domain.water_quality against GB 3838-2002 Table 1 and 环办〔2011〕22号.

Expected values come from GB 3838-2002 Table 1 as transcribed in
/work/shared/reference/standards.md §3.1 ([V], checked against the scan of the standard),
and the evaluation rules of §3.2–3.4 there.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.domain.water_quality import (
    AUTOMATIC_STATION_PARAMETERS,
    EVALUATED_PARAMETERS,
    PARAMETERS,
    PH_RANGE,
    REFERENCE_PARAMETERS,
    TABLE_1_LIMITS,
    TABLE_1_TP_LAKE_RESERVOIR,
    Parameter,
    ParameterSet,
    WaterBody,
    WaterClass,
    WaterStatus,
    class_limits,
    classify_parameter,
    classify_parameters,
    classify_section,
    exceedance_multiple,
    exceedance_multiples,
    half_detection_limit,
    label_parameter_set,
    limiting_parameters,
    main_pollution_indicators,
    river_status,
    section_status,
)

# GB 3838-2002 Table 1 (standards.md §3.1), classes I–V, rivers; typed independently of the
# module so that a transcription error in either shows up.
STANDARD_TABLE_1 = {
    "do": (7.5, 6, 5, 3, 2),  # "≥"
    "codmn": (2, 4, 6, 10, 15),
    "cod": (15, 15, 20, 30, 40),
    "bod5": (3, 3, 4, 6, 10),
    "nh3n": (0.15, 0.5, 1.0, 1.5, 2.0),
    "tp": (0.02, 0.1, 0.2, 0.3, 0.4),
    "tn": (0.2, 0.5, 1.0, 1.5, 2.0),  # lakes and reservoirs only
    "cu": (0.01, 1.0, 1.0, 1.0, 1.0),
    "zn": (0.05, 1.0, 1.0, 2.0, 2.0),
    "f": (1.0, 1.0, 1.0, 1.5, 1.5),
    "se": (0.01, 0.01, 0.01, 0.02, 0.02),
    "as": (0.05, 0.05, 0.05, 0.1, 0.1),
    "hg": (0.00005, 0.00005, 0.0001, 0.001, 0.001),
    "cd": (0.001, 0.005, 0.005, 0.005, 0.01),
    "cr6": (0.01, 0.05, 0.05, 0.05, 0.1),
    "pb": (0.01, 0.01, 0.05, 0.05, 0.1),
    "cn": (0.005, 0.05, 0.2, 0.2, 0.2),
    "phenol": (0.002, 0.002, 0.005, 0.01, 0.1),
    "petroleum": (0.05, 0.05, 0.05, 0.5, 1.0),
    "las": (0.2, 0.2, 0.2, 0.3, 0.3),
    "sulfide": (0.05, 0.1, 0.2, 0.5, 1.0),
    "fecal_coliform": (200, 2000, 10000, 20000, 40000),
}
# GB 3838-2002 Table 1 item 8, lakes and reservoirs column.
STANDARD_TP_LAKE = (0.01, 0.025, 0.05, 0.1, 0.2)
ROMAN = ("I", "II", "III", "IV", "V")


def _expected_class(limits: tuple[float, ...], value: float, higher_is_better: bool) -> int:
    """Smallest class whose limit the value meets (Table 1 "≤"/"≥"); 6 (劣V) if none."""
    for number, limit in enumerate(limits, start=1):
        if (value >= limit) if higher_is_better else (value <= limit):
            return number
    return 6


def _limit_cases():
    bodies = [(code, "river", limits) for code, limits in STANDARD_TABLE_1.items()]
    bodies = [(c, "lake" if c == "tn" else b, lim) for c, b, lim in bodies]
    bodies.append(("tp", "lake", STANDARD_TP_LAKE))
    for code, body, limits in bodies:
        higher = code == "do"
        for number, limit in enumerate(limits, start=1):
            step = limit * 1e-6
            for where, value in (
                ("at", limit),
                ("below", limit - step),
                ("above", limit + step),
            ):
                expected = _expected_class(limits, value, higher)
                yield pytest.param(
                    code,
                    body,
                    value,
                    expected,
                    id=f"{code}-{body}-{ROMAN[number - 1]}-{where}-{value:g}",
                )


@pytest.mark.parametrize(("code", "body", "value", "expected"), list(_limit_cases()))
def test_class_at_and_around_every_limit(code, body, value, expected):
    """Every Table 1 limit: at it → that class (or the better equal one); beyond → next."""
    assert classify_parameter(code, value, body)[0] == expected


@pytest.mark.parametrize(
    ("code", "body", "value", "expected"),
    [
        # Class II limit equal to class I → class I (standards.md §3.3)
        pytest.param("cod", "river", 15, WaterClass.I, id="cod-15-I"),
        pytest.param("cod", "river", 15.01, WaterClass.III, id="cod-15.01-III"),
        pytest.param("bod5", "river", 3, WaterClass.I, id="bod5-3-I"),
        pytest.param("as", "river", 0.05, WaterClass.I, id="as-0.05-I"),
        pytest.param("se", "river", 0.01, WaterClass.I, id="se-0.01-I"),
        pytest.param("phenol", "river", 0.002, WaterClass.I, id="phenol-0.002-I"),
        pytest.param("hg", "river", 0.00005, WaterClass.I, id="hg-0.00005-I"),
        pytest.param("f", "river", 1.0, WaterClass.I, id="f-1.0-I"),
        pytest.param("f", "river", 1.5, WaterClass.IV, id="f-1.5-IV"),
        pytest.param("f", "river", 1.64, WaterClass.WORSE_THAN_V, id="f-1.64-worse"),
        pytest.param("cu", "river", 0.02, WaterClass.II, id="cu-0.02-II"),
        pytest.param("cu", "river", 1.0, WaterClass.II, id="cu-1.0-II"),
        pytest.param("cu", "river", 1.01, WaterClass.WORSE_THAN_V, id="cu-1.01-worse"),
        pytest.param("cn", "river", 0.2, WaterClass.III, id="cn-0.2-III"),
        # DO: "≥", higher is better
        pytest.param("do", "river", 7.5, WaterClass.I, id="do-7.5-I"),
        pytest.param("do", "river", 7.49, WaterClass.II, id="do-7.49-II"),
        pytest.param("do", "river", 2.0, WaterClass.V, id="do-2.0-V"),
        pytest.param("do", "river", 1.99, WaterClass.WORSE_THAN_V, id="do-1.99-worse"),
        pytest.param("do", "river", 0.0, WaterClass.WORSE_THAN_V, id="do-0-worse"),
        # TP: river vs lake/reservoir columns (Table 1 item 8)
        pytest.param("tp", "river", 0.1, WaterClass.II, id="tp-river-0.1-II"),
        pytest.param("tp", "lake", 0.1, WaterClass.IV, id="tp-lake-0.1-IV"),
        pytest.param("tp", "reservoir", 0.1, WaterClass.IV, id="tp-reservoir-0.1-IV"),
        pytest.param("tp", "river", 0.4, WaterClass.V, id="tp-river-0.4-V"),
        pytest.param("tp", "lake", 0.4, WaterClass.WORSE_THAN_V, id="tp-lake-0.4-worse"),
        # pH 6–9, the same for every class (Table 1 item 2)
        pytest.param("ph", "river", 5.9, WaterClass.WORSE_THAN_V, id="ph-5.9-worse"),
        pytest.param("ph", "river", 6.0, WaterClass.I, id="ph-6-I"),
        pytest.param("ph", "river", 7.5, WaterClass.I, id="ph-7.5-I"),
        pytest.param("ph", "river", 9.0, WaterClass.I, id="ph-9-I"),
        pytest.param("ph", "river", 9.1, WaterClass.WORSE_THAN_V, id="ph-9.1-worse"),
        # zero is the best class
        pytest.param("nh3n", "river", 0.0, WaterClass.I, id="nh3n-0-I"),
        pytest.param("fecal_coliform", "river", 40001, 6, id="coliform-40001-worse"),
        pytest.param("tn", "lake", 1.2, WaterClass.IV, id="tn-lake-1.2-IV"),
    ],
)
def test_notable_values(code, body, value, expected):
    """Hand-picked Table 1 cases: equal I/II limits, DO reversed, TP columns, pH range."""
    assert classify_parameter(code, [value], body).tolist() == [float(expected)]


def test_module_table_matches_the_standard():
    """The module's Table 1 equals the transcription in standards.md §3.1."""
    assert {p.value: lim.limits for p, lim in TABLE_1_LIMITS.items()} == STANDARD_TABLE_1
    assert TABLE_1_TP_LAKE_RESERVOIR.limits == STANDARD_TP_LAKE
    assert PH_RANGE == (6.0, 9.0)
    assert [p for p, lim in TABLE_1_LIMITS.items() if lim.higher_is_better] == [Parameter.DO]


@pytest.mark.parametrize("limits", [*TABLE_1_LIMITS.values(), TABLE_1_TP_LAKE_RESERVOIR])
def test_limits_are_ordered(limits):
    """Limits never get stricter from class I to V (DO: never rise)."""
    pairs = list(zip(limits.limits, limits.limits[1:], strict=False))
    if limits.higher_is_better:
        assert all(a >= b for a, b in pairs)
    else:
        assert all(a <= b for a, b in pairs)


def test_vocabulary():
    """23 canonical codes in Table 1 order, each with names, unit and item number 2–24."""
    assert [p.value for p in Parameter] == [
        "ph", "do", "codmn", "cod", "bod5", "nh3n", "tp", "tn", "cu", "zn", "f", "se", "as",
        "hg", "cd", "cr6", "pb", "cn", "phenol", "petroleum", "las", "sulfide",
        "fecal_coliform",
    ]  # fmt: skip
    assert [PARAMETERS[p].item for p in Parameter] == list(range(2, 25))
    assert Parameter.FECAL_COLIFORM.info.unit == "count/L"
    assert Parameter.PH.info.unit == "dimensionless"
    assert Parameter.NH3N.info.name_zh == "氨氮"
    assert all(
        PARAMETERS[p].unit == "mg/L" for p in Parameter if p.value not in ("ph", "fecal_coliform")
    )


def test_evaluated_and_reference_sets():
    """环办〔2011〕22号: 21 evaluated items; TN and fecal coliform are reference items."""
    assert len(EVALUATED_PARAMETERS) == 21
    assert set(EVALUATED_PARAMETERS) | set(REFERENCE_PARAMETERS) == set(Parameter)
    assert set(REFERENCE_PARAMETERS) == {Parameter.TN, Parameter.FECAL_COLIFORM}
    assert {p.value for p in AUTOMATIC_STATION_PARAMETERS} == {"ph", "do", "codmn", "nh3n", "tp"}


def test_water_class_codes():
    """Codes I…V and 劣V; Chinese labels; parsing of written forms."""
    assert [c.code for c in WaterClass] == ["I", "II", "III", "IV", "V", "劣V"]
    assert WaterClass.WORSE_THAN_V.label_zh == "劣V类"
    assert WaterClass.from_code("iii") is WaterClass.III
    assert WaterClass.from_code(" Ⅱ类 ") is WaterClass.II
    assert WaterClass.from_code("劣Ⅴ类") is WaterClass.WORSE_THAN_V
    for bad in ("VI", "", "3", "WORSE_THAN_V"):
        with pytest.raises(ValueError, match="not a class"):
            WaterClass.from_code(bad)


def test_water_body_parse():
    """English and Chinese names; anything else is an error naming the value."""
    assert WaterBody.parse(" Lake ") is WaterBody.LAKE
    assert WaterBody.parse("水库") is WaterBody.RESERVOIR
    with pytest.raises(ValueError, match="'sea'"):
        WaterBody.parse("sea")


def test_class_limits():
    """Limits by class and water body; pH and river TN have none."""
    assert class_limits("tp").limit(WaterClass.III) == 0.2
    assert class_limits(Parameter.TP, WaterBody.RESERVOIR).limit(3) == 0.05
    assert class_limits("tn", "lake").limit(WaterClass.V) == 2.0
    with pytest.raises(ValueError, match="range"):
        class_limits("ph")
    with pytest.raises(ValueError, match="lakes and reservoirs"):
        class_limits("tn", "river")
    with pytest.raises(ValueError, match="劣V"):
        class_limits("cod").limit(WaterClass.WORSE_THAN_V)


def test_tn_is_not_classified_for_rivers():
    """Table 1 item 9 applies to lakes and reservoirs: a river's TN gets no class."""
    out = classify_parameter("tn", [1.2, 1.2], ["river", "lake"])
    assert math.isnan(out[0])
    assert out[1] == 4


def test_reference_items_are_classified_separately():
    """TN (lakes/reservoirs) and fecal coliform get their own classes (环办〔2011〕22号)."""
    frame = pd.DataFrame({"nh3n": [0.1, 0.1], "tn": [1.2, 1.2], "fecal_coliform": [15000, 100]})
    out = classify_parameters(frame, ["lake", "river"])
    assert list(out.columns) == ["nh3n", "tn", "fecal_coliform"]
    table = out.to_numpy()
    assert table[0].tolist() == [1.0, 4.0, 4.0]
    assert math.isnan(table[1, 1])
    assert table[1, 2] == 1.0


def test_nan_means_not_measured():
    """NaN stays NaN; it is not a class."""
    assert np.isnan(classify_parameter("cod", [np.nan])).all()


@pytest.mark.parametrize(
    ("code", "value", "message"),
    [
        pytest.param("cod", -1.0, "not a concentration", id="negative"),
        pytest.param("cod", np.inf, "not a concentration", id="infinite"),
        pytest.param("ph", 14.5, "outside 0–14", id="ph-above-14"),
        pytest.param("turbidity", 1.0, "not known", id="unknown-code"),
    ],
)
def test_bad_values_raise(code, value, message):
    """Domain functions raise ValueError naming the value."""
    with pytest.raises(ValueError, match=message):
        classify_parameter(code, [value])


def test_water_body_per_value_must_match_length():
    """One water body per value, or one for all."""
    with pytest.raises(ValueError, match="one per value"):
        classify_parameter("tp", [0.1, 0.2], ["river"])


def test_section_class_is_worst_evaluated_item():
    """Single-factor: worst class; NaN ignored; TN and fecal coliform never count."""
    frame = pd.DataFrame(
        {
            "ph": [7.0, 7.0, 5.0, np.nan],
            "do": [8.0, 4.0, 8.0, np.nan],
            "nh3n": [0.1, np.nan, 0.1, np.nan],
            "tn": [9.0, 9.0, 9.0, 9.0],
            "fecal_coliform": [1e6, 1e6, 1e6, 1e6],
        }
    )
    out = classify_section(frame, "lake")
    assert out[:3].tolist() == [1.0, 4.0, 6.0]
    assert math.isnan(out[3])


def test_section_class_without_evaluated_columns_is_nan():
    """Only reference items → no section class."""
    assert np.isnan(classify_section(pd.DataFrame({"tn": [0.1]}), "lake")).all()


def test_unknown_column_raises():
    """Columns must be canonical codes."""
    with pytest.raises(ValueError, match="water_temperature"):
        classify_section(pd.DataFrame({"water_temperature": [12.0]}))


def test_water_body_per_row():
    """The TP column is chosen row by row."""
    frame = pd.DataFrame({"tp": [0.1, 0.1]})
    assert classify_section(frame, ["river", "reservoir"]).tolist() == [2.0, 4.0]


def test_limiting_parameters():
    """Items whose class equals the section class, in canonical order."""
    frame = pd.DataFrame({"nh3n": [1.8, 0.1, np.nan], "codmn": [12.0, 1.0, np.nan],
                          "do": [2.5, 9.0, np.nan]})  # fmt: skip
    rows = limiting_parameters(frame)
    assert rows == [
        (Parameter.DO, Parameter.CODMN, Parameter.NH3N),
        (Parameter.DO, Parameter.CODMN, Parameter.NH3N),
        (),
    ]


def test_wuhai_worked_example():
    """Wuhai report (standards.md §3.2): fluoride 1.64 mg/L → 0.6倍 vs III, 0.1倍 vs target V.

    Source: http://www.wuhai.gov.cn/wuhai/xxgk4/zfxxgkzl/805465/839323/1396766/1396774/
    1366828/index.html (via standards.md; reports show one decimal).
    """
    vs_iii = exceedance_multiple("f", 1.64)[0]
    vs_target = exceedance_multiple("f", 1.64, WaterClass.V)[0]
    assert vs_iii == pytest.approx(0.64)
    assert vs_target == pytest.approx(0.09, abs=0.005)
    assert (round(vs_iii, 1), round(vs_target, 1)) == (0.6, 0.1)


@pytest.mark.parametrize(
    ("code", "body", "value", "reference", "expected"),
    [
        pytest.param("nh3n", "river", 1.5, 3, 0.5, id="nh3n-vs-III"),
        pytest.param("nh3n", "river", 1.5, 4, 0.0, id="nh3n-at-IV-limit"),
        pytest.param("cod", "river", 40.0, 3, 1.0, id="cod-vs-III"),
        pytest.param("tp", "lake", 0.08, 3, 0.6, id="tp-lake-vs-III"),
        pytest.param("tp", "river", 0.08, 3, -0.6, id="tp-river-within"),
        pytest.param("hg", "river", 0.0002, 1, 3.0, id="hg-vs-I"),
        pytest.param("fecal_coliform", "river", 15000, 3, 0.5, id="coliform-vs-III"),
    ],
)
def test_exceedance_multiple(code, body, value, reference, expected):
    """(C − limit) / limit against the chosen class (环办〔2011〕22号)."""
    got = exceedance_multiple(code, [value], reference, body)[0]
    assert got == pytest.approx(expected)


@pytest.mark.parametrize("code", ["ph", "do"])
def test_no_exceedance_multiple_for_ph_and_do(code):
    """Multiples are not computed for pH and DO ([M] in standards.md §3.2)."""
    with pytest.raises(ValueError, match="no exceedance multiple"):
        exceedance_multiple(code, [1.0])


@pytest.mark.parametrize("reference", [0, 6, 2.5])
def test_exceedance_reference_must_be_a_class(reference):
    """The reference is class I–V."""
    with pytest.raises(ValueError, match="not I–V"):
        exceedance_multiple("cod", [25.0], reference)


def test_exceedance_multiples_keep_only_exceedances():
    """Only positive multiples; pH, DO and reference items skipped; per-row reference."""
    frame = pd.DataFrame({"ph": [5.0, 5.0], "do": [1.0, 1.0], "cod": [25.0, 25.0],
                          "nh3n": [0.5, 0.5], "tn": [5.0, 5.0]})  # fmt: skip
    out = exceedance_multiples(frame, [WaterClass.III, WaterClass.IV], "lake")
    assert list(out.columns) == ["cod", "nh3n"]
    assert out["cod"].iloc[0] == pytest.approx(0.25)
    assert out.isna().to_numpy().tolist() == [[False, True], [True, True]]


def test_main_pollution_indicators():
    """Worse than III: up to three largest multiples vs III; ties in canonical order."""
    frame = pd.DataFrame(
        {
            "codmn": [12.0, 12.0, 5.0],  # 1.0
            "cod": [40.0, 40.0, 10.0],  # 1.0
            "nh3n": [3.0, 1.1, 0.5],  # 2.0 / 0.1
            "tp": [0.3, 0.1, 0.1],  # 0.5 / —
            "f": [1.1, 1.0, 1.0],  # 0.1 / —
        }
    )
    assert main_pollution_indicators(frame) == [
        (Parameter.NH3N, Parameter.CODMN, Parameter.COD),
        (Parameter.CODMN, Parameter.COD, Parameter.NH3N),
        (),
    ]


def test_no_main_pollution_indicators_at_class_iii():
    """A class III section has none, even with an item at its limit."""
    assert main_pollution_indicators(pd.DataFrame({"nh3n": [1.0]})) == [()]


@pytest.mark.parametrize(
    ("water_class", "status", "label"),
    [
        (1, WaterStatus.EXCELLENT, "优"),
        (2, WaterStatus.EXCELLENT, "优"),
        (3, WaterStatus.GOOD, "良好"),
        (4, WaterStatus.LIGHTLY_POLLUTED, "轻度污染"),
        (5, WaterStatus.MODERATELY_POLLUTED, "中度污染"),
        (6, WaterStatus.HEAVILY_POLLUTED, "重度污染"),
    ],
)
def test_section_status(water_class, status, label):
    """I–II 优, III 良好, IV 轻度污染, V 中度污染, 劣V 重度污染 (standards.md §3.2)."""
    assert section_status([water_class]) == [status]
    assert status.label_zh == label


def _sections(classes: list[int]) -> pd.DataFrame:
    # NH3-N at the limit of each class (Table 1 item 7); 3.0 is 劣V
    value = {1: 0.15, 2: 0.5, 3: 1.0, 4: 1.5, 5: 2.0, 6: 3.0}
    return pd.DataFrame({"nh3n": [value[c] for c in classes]})


@pytest.mark.parametrize(
    ("classes", "status"),
    [
        pytest.param([3] * 9 + [6], WaterStatus.EXCELLENT, id="90pct-I-III"),
        pytest.param([3] * 8 + [4, 6], WaterStatus.GOOD, id="80pct-I-III"),
        pytest.param([2] * 6 + [5, 5], WaterStatus.GOOD, id="75pct-I-III"),
        pytest.param([1] * 7 + [4, 4, 4], WaterStatus.LIGHTLY_POLLUTED, id="70pct-0-worse"),
        pytest.param([1] * 7 + [4, 4, 6], WaterStatus.LIGHTLY_POLLUTED, id="10pct-worse"),
        pytest.param([1] * 6 + [4, 4, 6, 6], WaterStatus.MODERATELY_POLLUTED, id="20pct-worse"),
        pytest.param([1] * 6 + [6] * 4, WaterStatus.HEAVILY_POLLUTED, id="40pct-worse"),
        pytest.param([4] * 5, WaterStatus.LIGHTLY_POLLUTED, id="five-sections-share"),
    ],
)
def test_river_status_by_shares(classes, status):
    """≥ 5 sections: share of I–III and of 劣V sections (standards.md §3.2 table)."""
    result = river_status(_sections(classes))
    assert result.method == "share"
    assert result.status is status
    assert result.section_count == len(classes)


def test_river_status_by_means_below_five_sections():
    """< 5 sections: average each indicator, then single-factor class → status."""
    # NH3-N mean (0.4 + 2.2) / 2 = 1.3 → IV; DO mean (8 + 5) / 2 = 6.5 → II
    frame = pd.DataFrame({"nh3n": [0.4, 2.2], "do": [8.0, 5.0]})
    result = river_status(frame)
    assert result.method == "mean"
    assert result.water_class is WaterClass.IV
    assert result.status is WaterStatus.LIGHTLY_POLLUTED
    assert result.share_worse_than_v == 0.5


def test_river_status_without_classified_sections_raises():
    """No evaluated item in any section → error."""
    with pytest.raises(ValueError, match="no section"):
        river_status(pd.DataFrame({"nh3n": [np.nan]}))


def test_label_parameter_set():
    """21-item / automatic / partial / none (standards.md §3.4)."""
    full = {p.value: 0.001 for p in EVALUATED_PARAMETERS}
    rows = [
        full,
        {**full, "tn": 1.0, "fecal_coliform": 100.0},
        {"ph": 7.0, "do": 8.0, "codmn": 3.0, "nh3n": 0.2, "tp": 0.1},
        {"ph": 7.0, "do": 8.0, "codmn": 3.0, "nh3n": 0.2},
        {"ph": 7.0, "tn": 1.0},
        {"ph": 7.0, "fecal_coliform": 100.0},
        {"ph": 7.0, "cod": 10.0},
        {"tn": 1.0},
        {},
    ]
    frame = pd.DataFrame(rows, columns=[p.value for p in Parameter], dtype=float)
    assert [s.value for s in label_parameter_set(frame)] == [
        "21-item",
        "21-item",
        "automatic",
        "automatic",
        "automatic",
        "partial",
        "partial",
        "none",
        "none",
    ]


def test_label_parameter_set_needs_all_21_columns_for_full():
    """A file without some evaluated columns is never 21-item."""
    frame = pd.DataFrame({"cod": [10.0], "cu": [0.001]})
    assert label_parameter_set(frame) == [ParameterSet.PARTIAL]


def test_half_detection_limit():
    """Below-detection cells are halved, others kept (project decision, [M])."""
    values = pd.DataFrame({"hg": [0.00004, 0.0002], "cod": [10.0, 4.0]})
    below = pd.DataFrame({"hg": [True, False]})
    out = half_detection_limit(values, below)
    assert out["hg"].tolist() == [0.00002, 0.0002]
    assert out["cod"].tolist() == [10.0, 4.0]
    assert half_detection_limit(values).equals(values)


# ---- properties ---------------------------------------------------------------------

_CLASSIFIED = [p for p in EVALUATED_PARAMETERS if p is not Parameter.PH]
_values = st.floats(min_value=0, max_value=50_000, allow_nan=False, allow_infinity=False)
_ph = st.floats(min_value=0, max_value=14, allow_nan=False)
_bodies = st.sampled_from(list(WaterBody))


@st.composite
def _samples(draw):
    chosen = draw(st.lists(st.sampled_from(list(EVALUATED_PARAMETERS)), min_size=1, unique=True))
    row = {p.value: draw(_ph if p is Parameter.PH else _values) for p in chosen}
    return pd.DataFrame([row])


@given(_samples(), _bodies)
def test_section_never_better_than_worst_parameter(frame, body):
    """The section class equals (so is never better than) its worst item's class."""
    section = classify_section(frame, body)[0]
    per_item = [classify_parameter(c, frame[c], body)[0] for c in frame.columns]
    assert section == max(per_item)
    assert all(section >= c for c in per_item)


@given(st.sampled_from(_CLASSIFIED), st.lists(_values, min_size=2, max_size=20), _bodies)
def test_class_is_monotone_in_concentration(parameter, values, body):
    """More of a pollutant never improves the class; for DO, more never worsens it."""
    ordered = sorted(values)
    classes = classify_parameter(parameter, ordered, body)
    steps = np.diff(classes)
    if parameter is Parameter.DO:
        assert (steps <= 0).all()
    else:
        assert (steps >= 0).all()


@given(_samples(), st.sampled_from(list(EVALUATED_PARAMETERS)), _values, _bodies)
def test_adding_a_parameter_never_improves_the_class(frame, parameter, value, body):
    """Adding a measured item can only keep or worsen the section class."""
    if parameter.value in frame.columns:
        return
    extra = frame.assign(
        **{parameter.value: min(value, 14.0) if parameter is Parameter.PH else value}
    )
    assert classify_section(extra, body)[0] >= classify_section(frame, body)[0]


def test_period_means_rate_a_month_on_the_mean_of_each_item() -> None:
    """环办〔2011〕22号: a month with several samples is rated on each item's arithmetic mean.
    NH3-N 1.5, 1.5, 0.4 → 1.133 (IV, GB 3838 Table 1); TP "<0.02" counts as 0.01
    (环办监测函〔2020〕82号 point 7: half the detection limit) → mean (0.01 + 0.1) / 2."""
    from monitor.domain.water_quality import below_detection, period_means

    values = pd.DataFrame({"nh3n": [1.5, 1.5, 0.4, 0.2], "tp": [0.02, 0.1, float("nan"), 0.05]})
    keys = pd.DataFrame({"site": ["a", "a", "a", "a"], "period": ["05", "05", "05", "06"]})
    below = pd.DataFrame({"tp": [True, False, False, False]})
    means = period_means(values, keys, below)
    may = means.iloc[0]
    assert (may["samples"], may["nh3n"], may["tp"]) == (3, pytest.approx(3.4 / 3), 0.055)
    assert classify_section(means[["nh3n", "tp"]]).tolist() == [4.0, 2.0]
    with pytest.raises(ValueError, match="same"):
        period_means(values, keys.head(2))
    flags = pd.Series(["below_detection_limit", "", "spike;below_detection_limit"])
    assert below_detection(flags).tolist() == [True, False, True]


def test_an_exceedance_multiple_too_large_for_a_double_is_infinite_without_a_warning() -> None:
    # 1e308 mg/L total phosphorus in a lake against the class III limit 0.05 mg/L (GB 3838
    # Table 1, lakes and reservoirs): (c − limit) / limit overflows; the multiple is
    # infinitely large, and numpy's RuntimeWarning must not reach stderr.
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = exceedance_multiple("tp", [1e308, 0.1], 3, water_body=["lake", "lake"])
    assert out[0] == math.inf
    assert out[1] == pytest.approx(1.0)


def test_below_detection_judges_each_flag_text_as_it_is_written() -> None:
    """Each distinct flag text is split once (a year of readings repeats a handful): the
    result is still each reading's own, in its place, whatever the index."""
    from monitor.domain.water_quality import BELOW_DETECTION_FLAG, below_detection

    texts = [None, "", "below_detection_limit", " below_detection_limit ",
             "x;below_detection_limit", "below_detection_limitx", "BELOW_DETECTION_LIMIT",
             ";", "invalid;x", 12]  # fmt: skip
    order = np.random.default_rng(3).integers(0, len(texts), 500)
    flags = pd.Series([texts[i] for i in order], index=np.arange(500) * 7, dtype=object)
    expected = [
        t is not None and BELOW_DETECTION_FLAG in [c.strip() for c in str(t).split(";")]
        for t in flags
    ]
    got = below_detection(flags)
    assert got.dtype == bool and got.tolist() == expected
    assert sum(expected) == sum(texts[i] in texts[2:5] for i in order)  # the three marked
    assert below_detection(pd.Series([], dtype=object)).tolist() == []
