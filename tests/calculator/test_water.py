"""Tests of ``envmon calc water-class`` (monitor.calculator.water) and its CSV contract.

Expected classes come from GB 3838-2002 Table 1 (standards.md §3.1); multiples are
(C − limit) / limit (环办〔2011〕22号, standards.md §3.2).
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.calculator.water import compute_water_class_csv, rate_samples
from monitor.cli import main
from monitor.domain.water_quality import (
    PH_RANGE,
    REFERENCE_PARAMETERS,
    Parameter,
    ParameterSet,
    WaterBody,
    WaterClass,
    class_limits,
    classify_parameters,
    classify_section,
    exceedance_multiples,
    half_detection_limit,
    label_parameter_set,
    limiting_parameters,
    main_pollution_indicators,
    section_status,
)
from monitor.errors import InputError

ADDED = [
    "water_class",
    "limiting_parameters",
    "exceedance_multiples",
    "water_status",
    "main_pollution_indicators",
    "parameter_set",
    "reference_items",
    "below_detection",
]

GOOD = """\
site,time,water_body,ph,do,codmn,nh3n,tp,tn,f,hg,fecal_coliform,remark
A,2026-03-01T08:00,river,7.20,6.5,3.1,0.40,0.15,2.1,1.64,0.00004L,500,first
B,2026-03-01T08:00,lake,8.0,4.0,,1.8,0.08,1.2,,,,"x, y"
C,2026-03-01T12:00,,7,8,1.5,0.1,0.02,,,,,
D,2026-03-01T12:00,reservoir,,,,,,0.4,,,,
"""


def _write(tmp_path, text, name="in.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def _run(capsys, *argv):
    code = main(["calc", "water-class", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def _frame(text):
    return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)


def test_good_file(tmp_path, capsys):
    """Classes, limiting items, multiples vs III, status and labels per row."""
    code, out, err = _run(capsys, _write(tmp_path, GOOD))
    assert code == 0
    assert "line" not in err  # no row problems
    rows = _frame(out).set_index("site")
    # A: fluoride 1.64 > 1.5 (class V limit) → 劣V; 1.64 vs III 1.0 → 0.64 (Wuhai example);
    # TP 0.15 river → III (not above III); Hg 0.00004L → half, 0.00002 → I
    assert rows.loc["A", "water_class"] == "劣V"
    assert rows.loc["A", "limiting_parameters"] == "f"
    assert rows.loc["A", "exceedance_multiples"] == "f=0.64"
    assert rows.loc["A", "water_status"] == "重度污染"
    assert rows.loc["A", "main_pollution_indicators"] == "f"
    assert rows.loc["A", "parameter_set"] == "partial"
    assert rows.loc["A", "reference_items"] == "tn=not evaluated (river);fecal_coliform=II"
    assert rows.loc["A", "below_detection"] == "hg"
    # B, lake: DO 4 → IV, NH3-N 1.8 → V, TP 0.08 (lake column) → IV; TN 1.2 → IV
    assert rows.loc["B", "water_class"] == "V"
    assert rows.loc["B", "limiting_parameters"] == "nh3n"
    assert rows.loc["B", "exceedance_multiples"] == "nh3n=0.8;tp=0.6"
    assert rows.loc["B", "water_status"] == "中度污染"
    assert rows.loc["B", "main_pollution_indicators"] == "nh3n;tp"
    assert rows.loc["B", "parameter_set"] == "automatic"
    assert rows.loc["B", "reference_items"] == "tn=IV"
    # C, empty water_body = river: pH in 6–9, DO 8 ≥ 7.5, CODMn 1.5, NH3-N 0.1, TP 0.02 → I
    assert rows.loc["C", "water_class"] == "I"
    assert rows.loc["C", "limiting_parameters"] == "ph;do;codmn;nh3n;tp"
    assert rows.loc["C", "exceedance_multiples"] == ""
    assert rows.loc["C", "water_status"] == "优"
    assert rows.loc["C", "main_pollution_indicators"] == ""
    # D, reservoir: only a reference item (TN 0.4 → II) → no class
    assert rows.loc["D", ["water_class", "water_status", "parameter_set"]].tolist() == [""] * 3
    assert rows.loc["D", "reference_items"] == "tn=II"
    assert (rows["input_problems"] == "").all()


def test_exact_column_contract(tmp_path, capsys):
    """Input columns as given and in order, then the added columns in contract order."""
    code, out, _ = _run(capsys, _write(tmp_path, GOOD))
    assert code == 0
    header = out.splitlines()[0].split(",")
    inputs = GOOD.splitlines()[0].split(",")
    assert header == [*inputs, *ADDED, "input_problems"]


def test_text_is_kept_as_given(tmp_path, capsys):
    """Cells are copied as text: 7.20 stays 7.20, 0.00004L stays, quoted commas survive."""
    _, out, _ = _run(capsys, _write(tmp_path, GOOD))
    rows = _frame(out).set_index("site")
    assert rows.loc["A", "ph"] == "7.20"
    assert rows.loc["A", "nh3n"] == "0.40"
    assert rows.loc["A", "hg"] == "0.00004L"
    assert rows.loc["B", "remark"] == "x, y"
    assert rows.loc["A", "time"] == "2026-03-01T08:00"


def test_output_file(tmp_path, capsys):
    """-o writes the same table to a UTF-8 file and nothing to stdout."""
    target = tmp_path / "out.csv"
    code, out, _ = _run(capsys, _write(tmp_path, GOOD), "-o", target)
    assert code == 0
    assert out == ""
    assert _frame(target.read_text(encoding="utf-8"))["water_class"].tolist() == [
        "劣V",
        "V",
        "I",
        "",
    ]


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        # NH3-N 1.8 vs II 0.5 → 2.6; TP 0.08 vs lake II 0.025 → 2.2; CODMn absent
        pytest.param("II", "nh3n=2.6;tp=2.2", id="II"),
        # vs IV: NH3-N 1.5 → 0.2; TP 0.08 ≤ 0.1 → not exceeding
        pytest.param("IV", "nh3n=0.2", id="IV"),
        pytest.param("V", "", id="V"),
    ],
)
def test_reference_class(tmp_path, capsys, reference, expected):
    """--reference chooses the class the multiples compare with."""
    code, out, _ = _run(capsys, "--reference", reference, _write(tmp_path, GOOD))
    assert code == 0
    assert _frame(out).set_index("site").loc["B", "exceedance_multiples"] == expected


def test_multiples_are_rounded_to_three_decimals(tmp_path):
    """3 decimals, trailing zeros stripped: CODMn 7 vs 6 → 0.167; COD 40 vs 20 → 1."""
    path = _write(tmp_path, "site,time,codmn,cod\nA,2026-03-01,7,40\n")
    frame = compute_water_class_csv(path).frame
    assert frame["exceedance_multiples"].tolist() == ["codmn=0.167;cod=1"]
    assert frame["water_class"].tolist() == ["V"]  # COD 40 = class V limit → V


def test_target_class_columns(tmp_path):
    """With target_class: target_met and multiples against each row's target (GB 3838 §5.2)."""
    text = (
        "site,time,target_class,f,nh3n\n"
        "A,2026-03-01,V,1.64,0.5\n"  # f 1.64 > 1.5 → 劣V; vs V: 0.14/1.5 = 0.093
        "B,2026-03-01,III,1.0,0.9\n"  # III meets III
        "C,2026-03-01,,1.0,0.9\n"  # no target → empty
        "D,2026-03-01,II,1.0,0.9\n"  # NH3-N 0.9 > 0.5 → fails II by 0.8
    )
    frame = compute_water_class_csv(_write(tmp_path, text)).frame
    assert list(frame.columns[-3:]) == [
        "target_met",
        "exceedance_multiples_target",
        "input_problems",
    ]
    assert frame["target_met"].tolist() == ["false", "true", "", "false"]
    assert frame["exceedance_multiples_target"].tolist() == ["f=0.093", "", "", "nh3n=0.8"]
    assert frame["exceedance_multiples"].tolist() == ["f=0.64", "", "", ""]


def test_no_target_columns_without_target_class(tmp_path):
    """target_met appears only when the input has target_class."""
    frame = compute_water_class_csv(_write(tmp_path, GOOD)).frame
    assert "target_met" not in frame.columns


def test_gbk_file(tmp_path, capsys):
    """A GBK export (Chinese site names and water-body words) is read and written as UTF-8."""
    text = "site,time,water_body,nh3n,tp\n浑河东陵大桥,2026-03-01T08:00,河流,1.2,0.1\n"
    text += "棋盘山水库,2026-03-01T08:00,水库,0.3,0.1\n"
    code, out, _ = _run(capsys, _write(tmp_path, text, encoding="gbk"))
    assert code == 0
    rows = _frame(out)
    assert rows["site"].tolist() == ["浑河东陵大桥", "棋盘山水库"]
    assert rows["water_body"].tolist() == ["河流", "水库"]
    # NH3-N 1.2 → IV; TP 0.1: river → II, reservoir → IV
    assert rows["water_class"].tolist() == ["IV", "IV"]
    assert rows["limiting_parameters"].tolist() == ["nh3n", "tp"]


def test_row_problems_keep_the_row(tmp_path, capsys):
    """Bad cells: the row is kept, results empty, input_problems says what; warnings printed."""
    text = (
        "site,time,water_body,target_class,ph,do,cod\n"
        "A,2026-03-01,river,III,7,abc,10\n"
        "B,2026-03-01,river,III,7,8,-1\n"
        "C,yesterday,river,III,7,8,10\n"
        "D,2026-03-01,sea,III,7,8,10\n"
        "E,2026-03-01,river,III,15,8,10\n"
        "F,2026-03-01,river,VI,7,8,10\n"
        "G,2026-03-01,river,III,7,8,10\n"
    )
    code, out, err = _run(capsys, _write(tmp_path, text))
    assert code == 0
    rows = _frame(out).set_index("site")
    assert len(rows) == 7
    problems = rows["input_problems"]
    assert "do 'abc' is not a number" in problems["A"]
    assert "cod '-1'" in problems["B"]
    assert "time 'yesterday'" in problems["C"]
    assert "water_body 'sea'" in problems["D"]
    assert "ph '15' is outside 0–14" in problems["E"]
    assert "target_class 'VI'" in problems["F"]
    assert problems["G"] == ""
    for site in "ABCDEF":
        assert (rows.loc[site, [*ADDED, "target_met"]] == "").all(), site
    assert rows.loc["G", "water_class"] == "I"
    assert rows.loc["G", "target_met"] == "true"
    warnings = err.strip().splitlines()
    assert warnings[0].startswith("envmon: warning: line 2: do 'abc'")
    assert "… and 1 more row(s) with problems" in warnings[-1]
    assert "Traceback" not in err


def test_below_detection_ph_is_a_problem(tmp_path):
    """pH written as below a detection limit is not a pH."""
    frame = compute_water_class_csv(_write(tmp_path, "site,time,ph\nA,2026-03-01,6L\n")).frame
    assert "below a detection limit" in str(frame["input_problems"].iat[0])
    assert frame["water_class"].iat[0] == ""


@pytest.mark.parametrize("cell", ["-0.1", "-7", "-1e1", "-inf", "inf"])
def test_a_negative_or_infinite_ph_is_outside_its_scale_not_a_concentration(tmp_path, cell):
    """pH is no concentration: GB 3838 Table 1 gives it on its 0–14 scale (6–9 for classes
    I–V); a negative or infinite pH is reported as outside 0–14, as a pH above 14 is."""
    text = f"site,time,ph,do\nA,2026-03-01,{cell},6\nA,2026-03-02,15,-1\n"
    problems = compute_water_class_csv(_write(tmp_path, text)).frame["input_problems"]
    assert problems.iat[0] == f"ph {cell!r} is outside 0–14"
    assert problems.iat[1] == (
        "do '-1' is not a concentration; expected a finite value ≥ 0 | ph '15' is outside 0–14"
    )


def test_below_detection_uses_half_the_limit(tmp_path):
    """NH3-N 0.2L → 0.1 → class I (project decision: half the detection limit)."""
    frame = compute_water_class_csv(_write(tmp_path, "site,time,nh3n\nA,2026-03-01,0.2L\n")).frame
    assert frame["water_class"].iat[0] == "I"
    assert frame["below_detection"].iat[0] == "nh3n"


def test_unknown_extra_columns_warn(tmp_path):
    """Columns that are not used are named in a warning and copied through."""
    result = compute_water_class_csv(
        _write(tmp_path, "site,time,cod,turbidity\nA,2026-03-01,10,3\n")
    )
    assert result.warnings == ("column(s) not used: turbidity",)
    assert result.frame["turbidity"].tolist() == ["3"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("", "empty", id="empty-file"),
        pytest.param(
            "site,time,turbidity\nA,2026-03-01,3\n", "no measurement column", id="unknown"
        ),
        pytest.param("time,cod\n2026-03-01,10\n", "missing column(s) site", id="no-site"),
        pytest.param("site,cod\nA,10\n", "missing column(s) time", id="no-time"),
        pytest.param("site,time,cod\n", "no data rows", id="header-only"),
        pytest.param(
            "site,time,cod,water_class\nA,2026-03-01,10,III\n", "output columns", id="clash"
        ),
    ],
)
def test_unusable_input_exits_2_with_one_line(tmp_path, capsys, text, message):
    """Whole-file problems: exit code 2, one line on stderr, no output, no traceback."""
    code, out, err = _run(capsys, _write(tmp_path, text))
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("envmon: error: ")
    assert message in err


def test_missing_file_exits_2(tmp_path, capsys):
    """A file that cannot be read is an input error."""
    code, _, err = _run(capsys, tmp_path / "nope.csv")
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert "cannot read the file" in err


def test_bad_reference_raises_input_error(tmp_path):
    """The reference must be I–V (the CLI already restricts it; the function checks too)."""
    with pytest.raises(InputError, match="劣V"):
        compute_water_class_csv(_write(tmp_path, GOOD), target_reference="劣V")
    with pytest.raises(InputError, match="not a class"):
        compute_water_class_csv(_write(tmp_path, GOOD), target_reference="VI")


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([WaterBody.RIVER, WaterBody.LAKE, WaterBody.RESERVOIR]),
            *[st.one_of(st.none(), st.floats(0.0, 30.0)) for _ in range(6)],
        ),
        min_size=1,
        max_size=40,
    )
)
def test_rate_samples_equals_the_domain_row_by_row(rows: list[tuple[object, ...]]) -> None:
    """The calculator's column-wise shortcuts (one call per distinct pattern, indicators
    only worse than III) give the domain functions' answers for every row."""
    bodies = [WaterBody(str(r[0])) for r in rows]
    values = pd.DataFrame(
        [r[1:] for r in rows], columns=["do", "codmn", "nh3n", "tp", "f", "tn"], dtype=float
    )
    below = pd.DataFrame(False, index=values.index, columns=values.columns)
    out = rate_samples(values, below, bodies, None, WaterClass.III)
    assert out["limiting_parameters"].tolist() == [
        ";".join(p.value for p in r) for r in limiting_parameters(values, bodies)
    ]
    assert out["main_pollution_indicators"].tolist() == [
        ";".join(p.value for p in r) for r in main_pollution_indicators(values, bodies)
    ]
    assert out["water_status"].tolist() == [
        s.label_zh if s else "" for s in section_status(classify_section(values, bodies))
    ]
    assert out["parameter_set"].tolist() == [
        "" if s is ParameterSet.NONE else s.value for s in label_parameter_set(values)
    ]


def _boundary_values(parameter: Parameter) -> list[float]:
    """GB 3838-2002 Table 1 limits of ``parameter`` (both water bodies), and just beside them."""
    limits: set[float] = set()
    for body in WaterBody:
        try:
            limits.update(class_limits(parameter, body).limits)
        except ValueError:
            limits.update(PH_RANGE)  # pH: a range; total nitrogen of rivers: no limits
    return sorted({v * f for v in limits for f in (1.0, 0.999, 1.001)})


@st.composite
def _samples(
    draw: st.DrawFn,
) -> tuple[pd.DataFrame, pd.DataFrame, list[WaterBody], list[float]]:
    codes = draw(st.lists(st.sampled_from(list(Parameter)), min_size=1, max_size=8, unique=True))
    n = draw(st.integers(1, 25))
    columns: dict[str, list[float]] = {}
    flags: dict[str, list[bool]] = {}
    for p in codes:
        cell = st.one_of(
            st.just(float("nan")),
            st.sampled_from(_boundary_values(p)),
            st.floats(0.0, 14.0 if p is Parameter.PH else 3.0 * max(_boundary_values(p))),
        )
        columns[p.value] = draw(st.lists(cell, min_size=n, max_size=n))
        flags[p.value] = draw(st.lists(st.booleans(), min_size=n, max_size=n))
        if p is Parameter.PH:
            flags[p.value] = [False] * n  # the calculator refuses a pH below a detection limit
    bodies = draw(st.lists(st.sampled_from(list(WaterBody)), min_size=n, max_size=n))
    targets = draw(
        st.lists(st.sampled_from([float("nan"), 1.0, 2.0, 3.0, 4.0, 5.0]), min_size=n, max_size=n)
    )
    return pd.DataFrame(columns), pd.DataFrame(flags), bodies, targets


def _multiples_text(multiples: pd.DataFrame) -> list[str]:
    return [
        ";".join(f"{c}={v:.3f}".rstrip("0").rstrip(".") for c, v in row.items() if v == v)
        for _, row in multiples.iterrows()
    ]


@settings(max_examples=60, deadline=None)
@given(_samples(), st.sampled_from([WaterClass.II, WaterClass.III, WaterClass.V]))
def test_column_wise_rating_equals_the_domain_row_by_row(
    sample: tuple[pd.DataFrame, pd.DataFrame, list[WaterBody], list[float]],
    reference: WaterClass,
) -> None:
    """Every column of :func:`rate_samples` (the column-wise engine of ``calc water-class``)
    equals the domain functions applied to each row alone: any items, values on and beside
    the GB 3838-2002 Table 1 limits, rivers, lakes and reservoirs, below-detection results
    (rated at half the limit), target classes and the --reference class."""
    values, below, bodies, target_list = sample
    targets = np.array(target_list)
    out = rate_samples(values, below, bodies, targets, reference)
    halved = half_detection_limit(values, below)
    for i in range(len(values)):
        row, body = halved.iloc[[i]], [bodies[i]]
        section = classify_section(row, body)
        klass = "" if np.isnan(section[0]) else WaterClass(int(section[0])).code
        status = section_status(section)[0]
        items = classify_parameters(row, body).iloc[0]
        reference_items = [
            "tn=not evaluated (river)"
            if p is Parameter.TN and bodies[i] is WaterBody.RIVER
            else f"{p.value}={WaterClass(int(items[p.value])).code}"
            for p in REFERENCE_PARAMETERS
            if p.value in row and not np.isnan(row[p.value].iloc[0])
        ]
        expected = {
            "water_class": klass,
            "limiting_parameters": ";".join(limiting_parameters(row, body)[0]),
            "exceedance_multiples": _multiples_text(exceedance_multiples(row, reference, body))[0],
            "water_status": status.label_zh if status else "",
            "main_pollution_indicators": ";".join(main_pollution_indicators(row, body)[0]),
            "parameter_set": "" if (s := label_parameter_set(row)[0]) is ParameterSet.NONE else s,
            "reference_items": ";".join(reference_items),
            "below_detection": ";".join(
                p.value for p in Parameter if p.value in below and bool(below[p.value].iloc[i])
            ),
            "target_met": ""
            if np.isnan(targets[i]) or not klass
            else str(section[0] <= targets[i]).lower(),
            "exceedance_multiples_target": ""
            if np.isnan(targets[i])
            else _multiples_text(exceedance_multiples(row, targets[i], body))[0],
        }
        assert out.iloc[i].to_dict() == expected, i


def test_rate_samples_of_no_rows_and_of_nothing_measured() -> None:
    """No samples: the result columns and no row; a sample without any item: empty texts."""
    empty = pd.DataFrame({"do": [], "nh3n": [], "tn": []}, dtype=float)
    out = rate_samples(empty, pd.DataFrame(index=empty.index), [], np.array([]), WaterClass.III)
    assert out.columns.tolist() == [*ADDED, "target_met", "exceedance_multiples_target"]
    assert len(out) == 0
    nothing = pd.DataFrame({"do": [np.nan], "tp": [np.nan]})
    below = pd.DataFrame(index=nothing.index)
    row = rate_samples(nothing, below, [WaterBody.LAKE], None, WaterClass.III).iloc[0]
    assert set(row.tolist()) == {""}


def test_an_implausible_value_refuses_its_row(tmp_path) -> None:
    """A value beyond its item's plausible range is refused with its row, naming the value,
    the range and where it is set (the range by which the imports flag a value
    ``implausible``: monitor.domain.units.PLAUSIBLE_RANGES, 100 × the GB 3838-2002 Class V
    limit for COD, 40 mg/L × 100 = 4000 mg/L). Before, COD 1e308 mg/L was rated 劣V with a
    multiple of 308 digits (``cod=4999999999999999…``). A value at the range's end is
    rated as before: COD 4000 mg/L, multiple (4000 − 20) / 20 = 199 against the Class III
    limit 20 mg/L (GB 3838-2002 Table 1; 环办〔2011〕22号)."""
    text = (
        "site,time,cod,fecal_coliform\n"
        "A,2026-03-01T08:00,1e308,\n"
        "B,2026-03-01T08:00,4000,\n"
        "C,2026-03-01T08:00,25,2e10\n"
        "D,2026-03-01T08:00,25,1e10\n"
    )
    result = compute_water_class_csv(_write(tmp_path, text))
    frame = result.frame
    assert frame["input_problems"].tolist() == [
        "cod '1e308' is implausible: expected 0–4000 mg/L (envmon's plausible range: "
        "monitor.domain.units.PLAUSIBLE_RANGES); check the value and its unit",
        "",
        "fecal_coliform '2e10' is implausible: expected 0–1e+10 count/L (envmon's plausible "
        "range: monitor.domain.units.PLAUSIBLE_RANGES); check the value and its unit",
        "",
    ]
    assert frame["water_class"].tolist() == ["", "劣V", "", "IV"]
    assert frame["exceedance_multiples"].tolist() == ["", "cod=199", "", "cod=0.25"]
    assert max(len(line) for line in result.to_csv_bytes().splitlines()) < 400
    assert result.warnings[0].startswith("line 2: cod '1e308' is implausible")


def test_a_real_supersaturated_do_reading_is_rated_not_refused(tmp_path) -> None:
    """A real automatic-station reading: 辽河流域 红石碑入海前 (Liaoning), 2026-08-21 20:00, as
    the CNEMC real-time release system published it (raw values): water 29.64 °C, pH 8.68,
    DO 27.56 mg/L (algal supersaturation, ~360 % at that temperature), CODMn 4.15, TP
    0.053 mg/L, NH3-N not published; its class there: 3 (III). Source: a capture of
    ``getRealDatas`` page 1 (480 sections) in repository Jesse-dry/AquaDetective, path
    data/raw/cnemc_surface_water_realtime/cnemc_realtime_snapshot_20260821_p1.json, commit
    7e1c9498a45e32102a6f93d1f3484643c05febf0 (the capture trimmed in tests/data/cnemc_water;
    six more sections of that page read DO 18.95–22.82 mg/L the same hour).

    The plausible DO range ended at 25 mg/L, so csvfix's check refused this row ("do
    '27.56' is implausible"; the imports flagged it implausible and left it out). GB
    3838-2002 Table 1 (rivers): pH 6–9 and DO ≥ 7.5 are class I, CODMn 4.15 ≤ 6 is III,
    TP 0.053 ≤ 0.1 is II, so the section is class III, as CNEMC rated it (found by the
    csvfix review)."""
    text = "site,time,ph,do,codmn,tp\n红石碑入海前,2026-08-21T20:00,8.68,27.56,4.15,0.053\n"
    frame = compute_water_class_csv(_write(tmp_path, text)).frame
    assert frame["input_problems"].tolist() == [""]
    assert frame["water_class"].tolist() == ["III"]
    assert frame["limiting_parameters"].tolist() == ["codmn"]
