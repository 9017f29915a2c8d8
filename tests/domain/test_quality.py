"""Data-quality flags: negative, implausible, PM2.5 > PM10, stuck, spike and source flags.

Thresholds are project choices documented in ``monitor/domain/quality.py`` (GB 3095-2026
§6.3 refers to HJ 630/817/818, not in ``shared/reference/standards.md``). Each rule is
tested at its threshold (not flagged) and just beyond it (flagged).
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.domain import quality
from monitor.domain.quality import (
    ADVISORY_FLAGS,
    EXCLUDING_FLAGS,
    FLAG_ORDER,
    FLAG_REASONS,
    IMPOSSIBLE_FLAGS,
    QC_FLAGS,
    QualityRules,
    checked_flags,
    excluded,
    quality_flags,
)

NAN = float("nan")
T0 = pd.Timestamp("2026-03-01 00:00", tz="UTC")


def _obs(rows: Sequence[tuple[Any, ...]], hours: float = 1.0) -> pd.DataFrame:
    """Rows (site, parameter, hour offset of the period end, value[, flags])."""
    records = [(*r, "") if len(r) == 4 else r for r in rows]
    site, parameter, hour, value, flags = zip(*records, strict=True)
    end = pd.DatetimeIndex([T0 + pd.Timedelta(hours=h) for h in hour])
    return pd.DataFrame(
        {
            "site": list(site),
            "parameter": list(parameter),
            "unit": "µg/m³",
            "period_start": end - pd.Timedelta(hours=hours),
            "period_end": end,
            "value": list(value),
            "flags": list(flags),
        }
    )


def _series(values: list[float], parameter: str = "pm2_5", site: str = "A") -> pd.DataFrame:
    """Consecutive hourly values of one site and parameter."""
    return _obs([(site, parameter, h, v) for h, v in enumerate(values)])


def _flagged(frame: pd.DataFrame, flag: str) -> list[bool]:
    """Per row, whether ``flag`` is among its output flags."""
    return [flag in text.split(";") for text in quality_flags(frame)]


# ---------------------------------------------------------------------------------------
# negative and implausible: single values


@pytest.mark.parametrize(
    ("parameter", "value", "expected"),
    [
        ("pm2_5", 0.0, ""),
        ("pm2_5", -0.1, "negative"),
        ("co", -1.0, "negative"),
        ("nh3n", -0.01, "negative"),
        ("pm2_5", NAN, ""),
        ("water_temperature", -0.5, ""),
        ("water_temperature", -1.0, ""),
        ("water_temperature", -1.1, "implausible"),
        ("water_temperature", 45.0, ""),
        ("water_temperature", 45.1, "implausible"),
        ("ph", 0.0, ""),
        ("ph", -0.1, "implausible"),
        ("ph", 14.0, ""),
        ("ph", 14.01, "implausible"),
        ("pm2_5", 3000.0, ""),
        ("pm2_5", 3000.1, "implausible"),
        ("pm10", 600.1, ""),
        ("pm10", 10000.0, ""),
        ("pm10", 10001.0, "implausible"),
        ("so2", 5000.0, ""),
        ("so2", 5001.0, "implausible"),
        ("no2", 5001.0, "implausible"),
        ("o3", 2000.0, ""),
        ("o3", 2001.0, "implausible"),
        ("co", 150.0, ""),
        ("co", 150.1, "implausible"),
        # a real DO of 27.56 mg/L (CNEMC, see tests/calculator/test_water.py::
        # test_a_real_supersaturated_do_reading_is_rated_not_refused) is no error
        ("do", 27.56, ""),
        ("do", 50.0, ""),
        ("do", 50.1, "implausible"),
        ("cod", 1000.0, ""),
    ],
    ids=lambda x: str(x),
)
def test_single_value_checks(parameter: str, value: float, expected: str) -> None:
    """Negative and out-of-range values are flagged just beyond the bound, not at it."""
    assert quality_flags(_obs([("A", parameter, 1, value)])).tolist() == [expected]


def test_beyond_aqi_top_breakpoint_is_not_implausible() -> None:
    """A sandstorm PM10 of 3,000 µg/m³ (AQI tops out at 600) is kept unflagged."""
    assert quality_flags(_obs([("A", "pm10", 1, 3000.0)])).tolist() == [""]


# ---------------------------------------------------------------------------------------
# pm25_gt_pm10


@pytest.mark.parametrize(
    ("pm25", "pm10", "flagged"),
    [
        (60.0, 50.0, False),  # tolerance max(10, 5) = 10: at the bound
        (60.5, 50.0, True),
        (220.0, 200.0, False),  # tolerance max(10, 20) = 20
        (220.5, 200.0, True),
        (10.0, 0.0, False),
        (10.5, 0.0, True),
        (30.0, 40.0, False),
    ],
)
def test_pm25_gt_pm10_tolerance(pm25: float, pm10: float, flagged: bool) -> None:
    """PM2.5 > PM10 + max(10 µg/m³, 10 %) flags both rows; at the tolerance neither."""
    frame = _obs([("A", "pm2_5", 1, pm25), ("A", "pm10", 1, pm10)])
    assert _flagged(frame, "pm25_gt_pm10") == [flagged, flagged]


def test_pm25_gt_pm10_needs_same_site_and_hour() -> None:
    """Only PM10 of the same site and the same period is compared."""
    frame = _obs(
        [
            ("A", "pm2_5", 1, 100.0),
            ("B", "pm10", 1, 20.0),  # other site
            ("A", "pm10", 2, 20.0),  # other hour
            ("A", "pm10", 1, 120.0),  # the partner: fine
        ]
    )
    assert _flagged(frame, "pm25_gt_pm10") == [False] * 4


def test_pm25_gt_pm10_compares_every_pair_when_a_period_repeats() -> None:
    """Two PM2.5 values of one site and period (two sources, before the latest is chosen):
    each is compared with each PM10 of that period, as a join gives; other periods as
    usual (the per-period lookup and the join agree)."""
    frame = _obs(
        [
            ("A", "pm2_5", 1, 100.0),
            ("A", "pm2_5", 1, 30.0),
            ("A", "pm10", 1, 50.0),
            ("A", "pm2_5", 2, 100.0),
            ("A", "pm10", 2, 50.0),
            ("A", "pm2_5", 3, 40.0),
            ("A", "pm10", 3, 50.0),
        ]
    )
    assert _flagged(frame, "pm25_gt_pm10") == [True, False, True, True, True, False, False]
    unique = frame.drop(index=[1]).reset_index(drop=True)
    assert _flagged(unique, "pm25_gt_pm10") == [True, True, True, True, False, False]


def test_pm25_gt_pm10_ignores_unusable_partner() -> None:
    """A PM10 that is source-invalid or negative is not a reference for PM2.5."""
    frame = _obs(
        [
            ("A", "pm2_5", 1, 80.0),
            ("A", "pm10", 1, 20.0, "source_invalid"),
            ("B", "pm2_5", 1, 80.0),
            ("B", "pm10", 1, -5.0),
        ]
    )
    assert quality_flags(frame).tolist() == ["", "source_invalid", "", "negative"]


# ---------------------------------------------------------------------------------------
# stuck


@pytest.mark.parametrize(
    ("values", "parameter", "expected"),
    [
        ([50.0] * 6, "pm2_5", [True] * 6),
        ([50.0] * 5, "pm2_5", [False] * 5),
        ([49.0, *[50.0] * 6, 51.0], "pm2_5", [False, *[True] * 6, False]),
        ([50.0] * 3 + [NAN] + [50.0] * 3, "pm2_5", [False] * 7),
        ([10.0] * 6, "so2", [True] * 6),  # at the floor
        ([9.0] * 6, "so2", [False] * 6),  # below the floor: rounded clean air repeats
        ([2.0] * 12, "co", [True] * 12),  # CO: 12 hours at or above 2.0 mg/m³
        ([2.0] * 11, "co", [False] * 11),
        ([1.9] * 12, "co", [False] * 12),
        ([7.5] * 23, "ph", [False] * 23),
        ([7.5] * 24, "ph", [True] * 24),
        ([0.5] * 30, "nh3n", [False] * 30),  # water chemistry is not checked
    ],
    ids=[
        "6h",
        "5h",
        "run-inside",
        "nan-breaks",
        "at-floor",
        "below-floor",
        "co-at-floor-12h",
        "co-11h",
        "co-below-floor",
        "ph-23h",
        "ph-24h",
        "nh3n-unchecked",
    ],
)
def test_stuck_runs(values: list[float], parameter: str, expected: list[bool]) -> None:
    """A run of equal hourly values is stuck from its family's length and floor on."""
    assert _flagged(_series(values, parameter), "stuck") == expected


def test_stuck_gap_breaks_the_run() -> None:
    """A missing hour splits 6 equal values into runs of 3 and 3: none is stuck."""
    frame = _obs([("A", "pm10", h, 80.0) for h in (0, 1, 2, 4, 5, 6)])
    assert _flagged(frame, "stuck") == [False] * 6


def test_stuck_source_invalid_value_breaks_the_run() -> None:
    """A source-invalid hour in the middle breaks the run."""
    rows = [("A", "pm10", h, 80.0, "source_invalid" if h == 3 else "") for h in range(7)]
    assert _flagged(_obs(rows), "stuck") == [False] * 7


def test_stuck_is_per_site_and_input_order_free() -> None:
    """Runs are per site and found whatever the row order."""
    rows = [(site, "o3", h, 90.0) for h in range(6) for site in ("A", "B")]
    rows.append(("C", "o3", 0, 90.0))
    frame = _obs(rows).sample(frac=1.0, random_state=1)
    flagged = pd.Series(_flagged(frame, "stuck"), index=frame.index)
    assert flagged[frame["site"] != "C"].all()
    assert not flagged[frame["site"] == "C"].any()


def test_stuck_only_chains_hourly_periods() -> None:
    """Daily values, equal for a week, are not an hourly flatline."""
    frame = _obs([("A", "pm2_5", 24 * d, 40.0) for d in range(7)], hours=24.0)
    assert _flagged(frame, "stuck") == [False] * 7


# ---------------------------------------------------------------------------------------
# spike


@pytest.mark.parametrize(
    ("values", "parameter", "expected"),
    [
        ([100.0, 300.0, 100.0], "pm2_5", False),  # ratio exactly 3
        ([100.0, 301.0, 100.0], "pm2_5", True),
        ([50.0, 200.0, 50.0], "pm2_5", False),  # jump exactly 150
        ([50.0, 201.0, 50.0], "pm2_5", True),
        ([30.0, 100.0, 30.0], "pm2_5", False),  # ratio 3.3 but jump 70
        ([60.0, 240.0, 100.0], "pm2_5", False),  # not 3 × the larger neighbour
        ([1.0, 4.1, 1.0], "co", True),
        ([1.0, 4.0, 1.0], "co", False),  # jump exactly 3 mg/m³
        ([10.0, 400.0, 10.0], "turbidity", False),  # water is not checked
    ],
)
def test_spike_thresholds(values: list[float], parameter: str, expected: bool) -> None:
    """The middle value is a spike above k × and a jump over the larger neighbour."""
    assert _flagged(_series(values, parameter), "spike") == [False, expected, False]


@pytest.mark.parametrize(
    "rows",
    [
        [("A", "pm2_5", 0, 20.0), ("A", "pm2_5", 1, 500.0)],  # no next hour
        [("A", "pm2_5", 1, 500.0), ("A", "pm2_5", 2, 20.0)],  # no previous hour
        [("A", "pm2_5", 0, 20.0), ("A", "pm2_5", 1, 500.0), ("A", "pm2_5", 3, 20.0)],  # gap
        [("A", "pm2_5", 0, 20.0), ("A", "pm2_5", 1, 500.0), ("A", "pm2_5", 2, NAN)],
        [("A", "pm2_5", 0, 20.0), ("A", "pm2_5", 1, 500.0), ("B", "pm2_5", 2, 20.0)],
        [
            ("A", "pm2_5", 0, 20.0),
            ("A", "pm2_5", 1, 500.0),
            ("A", "pm2_5", 2, 20.0, "maintenance"),
        ],
    ],
    ids=["no-next", "no-previous", "gap", "nan-next", "other-site-next", "maintenance-next"],
)
def test_spike_needs_both_usable_neighbours(rows: list[tuple[str, str, int, float]]) -> None:
    """Without a usable value in both the previous and the next hour there is no spike."""
    assert not any(_flagged(_obs(rows), "spike"))


# ---------------------------------------------------------------------------------------
# Source flags, order, index


@pytest.mark.parametrize(
    ("flags", "value", "expected"),
    [
        ("maintenance", 20.0, "maintenance"),
        ("maintenance;custom_x", -1.0, "maintenance;negative;custom_x"),
        ("spike;source_invalid;source_invalid", 20.0, "source_invalid;spike"),
        ("  calibration ; ", 20.0, "calibration"),
        ("zz;aqi_mismatch;aa", 20.0, "aqi_mismatch;aa;zz"),
        ("negative", -3.0, "negative"),
    ],
)
def test_source_flags_are_kept_in_canonical_order(flags: str, value: float, expected: str) -> None:
    """Input codes are kept, deduplicated and ordered: known order first, then by name."""
    assert quality_flags(_obs([("A", "pm2_5", 1, value, flags)])).tolist() == [expected]


def test_index_and_nan_flags_preserved() -> None:
    """The result has the input's index, and NaN flags count as none."""
    frame = _obs([("A", "pm2_5", 1, -1.0), ("A", "pm10", 1, 20.0)])
    frame.index = pd.Index([10, 7])
    frame["flags"] = pd.Series([np.nan, "maintenance"], index=frame.index, dtype=object)
    out = quality_flags(frame)
    assert out.index.tolist() == [10, 7]
    assert out.tolist() == ["negative", "maintenance"]


def test_empty_frame_gives_empty_series() -> None:
    """No observations, no flags."""
    assert quality_flags(_obs([("A", "pm2_5", 1, 1.0)]).iloc[:0]).tolist() == []


def test_missing_column_raises() -> None:
    """A frame without ``flags`` is refused with the column named."""
    with pytest.raises(ValueError, match="flags"):
        quality_flags(_obs([("A", "pm2_5", 1, 1.0)]).drop(columns="flags"))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"pm25_pm10_abs_tolerance": -1.0},
        {"spike_ratio": 0.5},
        {"stuck_hours": {"pm2_5": 1}},
        {"spike_jumps": {"pm2_5": -1.0}},
        {"plausible_ranges": {"ph": (14.0, 0.0)}},
    ],
)
def test_rules_reject_nonsense(kwargs: dict[str, object]) -> None:
    """Impossible thresholds are refused when the rules are built."""
    with pytest.raises(ValueError):
        QualityRules(**kwargs)  # type: ignore[arg-type]


def test_custom_rules_apply() -> None:
    """A shorter stuck run set in the rules takes effect."""
    rules = QualityRules(stuck_hours={"pm2_5": 3})
    assert _flagged(_series([50.0] * 3), "stuck") == [False] * 3
    assert ["stuck" in t for t in quality_flags(_series([50.0] * 3), rules)] == [True] * 3


# ---------------------------------------------------------------------------------------
# excluded, reasons, public names


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ("", False),
        ("aqi_mismatch", False),
        ("custom_x", False),
        ("o3_swapped", True),
        ("source_invalid", True),
        ("maintenance", True),
        ("calibration", True),
        ("negative", True),
        ("implausible", True),
        ("pm25_gt_pm10", False),
        ("stuck", False),
        ("spike", False),
        ("aqi_mismatch;stuck", False),
        ("stuck;maintenance", True),
        ("custom_x ; calibration", True),
    ],
)
def test_excluded(flags: str, expected: bool) -> None:
    """Source flags and impossible values exclude; envmon's own suspicions (pm25_gt_pm10,
    stuck, spike) do not by default — GB 3095-2026 §6.4: all valid data must be used."""
    assert excluded(pd.Series([flags])).tolist() == [expected]


def test_advisory_flags_exclude_only_when_chosen() -> None:
    """``exclude_own`` (setting [quality] exclude_own_flags) makes chosen own flags exclude;
    a flag that is not advisory cannot be chosen."""
    flags = pd.Series(["stuck", "spike", "pm25_gt_pm10", ""])
    assert excluded(flags, exclude_own=["stuck", "spike"]).tolist() == [True, True, False, False]
    assert set(ADVISORY_FLAGS) | IMPOSSIBLE_FLAGS == set(QC_FLAGS)
    with pytest.raises(ValueError, match="aqi_mismatch cannot be chosen"):
        excluded(flags, exclude_own=["aqi_mismatch"])


def test_o3_swapped_excludes_only_o3_when_parameters_are_given() -> None:
    """The station-hour verdict o3_swapped excludes the O3 row, not the PM2.5 of that hour."""
    flags = pd.Series(["o3_swapped", "o3_swapped;aqi_mismatch", "o3_swapped;maintenance"])
    parameters = pd.Series(["o3", "pm2_5", "pm2_5"])
    assert excluded(flags, parameters).tolist() == [True, False, True]
    assert excluded(flags).tolist() == [True, True, True]
    with pytest.raises(ValueError, match="same"):
        excluded(flags, parameters.iloc[:2])


def test_o3_swapped_on_other_parameters_keeps_them_usable() -> None:
    """A PM2.5/PM10 pair flagged o3_swapped is still compared; an O3 row is not chained."""
    frame = _obs(
        [("A", "pm2_5", 1, 80.0, "o3_swapped"), ("A", "pm10", 1, 20.0, "o3_swapped")]
        + [("A", "o3", h, 90.0, "o3_swapped" if h == 3 else "") for h in range(7)]
    )
    assert _flagged(frame, "pm25_gt_pm10")[:2] == [True, True]
    assert not any(_flagged(frame, "stuck")[2:])


def test_excluded_handles_nan_and_empty() -> None:
    """NaN flags do not exclude; an empty series gives an empty array."""
    assert excluded(pd.Series([np.nan, "negative"])).tolist() == [False, True]
    assert excluded(pd.Series([], dtype=object)).shape == (0,)


def test_every_flag_has_a_reason() -> None:
    """Each known flag has a one-line reason, and aqi_mismatch does not exclude."""
    assert set(FLAG_REASONS) == set(FLAG_ORDER)
    assert all(reason and "\n" not in reason for reason in FLAG_REASONS.values())
    assert "aqi_mismatch" not in EXCLUDING_FLAGS


def test_all_lists_the_public_names() -> None:
    """``__all__`` lists exactly the public functions, classes and UPPER_CASE constants."""
    tree = ast.parse(Path(quality.__file__).read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name) and t.id.isupper()}
    assert set(quality.__all__) == {n for n in names if not n.startswith("_")}


# ---------------------------------------------------------------------------------------
# Properties

_ROWS = st.lists(
    st.tuples(
        st.sampled_from(["A", "B"]),
        st.sampled_from(["pm2_5", "pm10", "co", "ph"]),
        st.integers(0, 12),
        st.one_of(
            st.sampled_from([-1.0, 0.0, 12.0, 50.0, 400.0, 20000.0, NAN]),
            st.floats(-10, 12000, allow_nan=False),
        ),
        st.sampled_from(["", "maintenance", "aqi_mismatch", "x;source_invalid", "stuck"]),
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(_ROWS)
def test_flags_keep_rows_and_are_idempotent(rows: list[tuple[str, str, int, float, str]]) -> None:
    """Same rows and index; input codes kept; running on its own output changes nothing."""
    frame = _obs(rows) if rows else _obs([("A", "pm2_5", 0, 1.0)]).iloc[:0]
    first = quality_flags(frame)
    assert first.index.equals(frame.index)
    for before, after in zip(frame["flags"], first, strict=True):
        tokens = after.split(";") if after else []
        assert set(filter(None, before.split(";"))) <= set(tokens)
        assert len(tokens) == len(set(tokens))
    again = quality_flags(frame.assign(flags=first))
    assert again.tolist() == first.tolist()


_ROWS_WITH_O3 = st.lists(
    st.tuples(
        st.sampled_from(["A", "B"]),
        st.sampled_from(["pm2_5", "pm10", "o3", "co"]),
        st.integers(0, 12),
        st.sampled_from([-1.0, 0.0, 12.0, 50.0, 400.0, 20000.0, NAN, 12.0]),
        st.sampled_from(
            ["", "maintenance", "aqi_mismatch;maintenance", "o3_swapped", "stuck", "zz;spike"]
        ),
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(_ROWS_WITH_O3, st.sampled_from([(), ("stuck",), ("spike", "pm25_gt_pm10")]))
def test_checked_flags_equal_flags_exclusion_and_changes_row_by_row(
    rows: list[tuple[str, str, int, float, str]], exclude_own: tuple[str, ...]
) -> None:
    """Judged once per distinct flag pair (issue 17), the same as row by row: the flag
    texts of quality_flags, what excluded() gives for them (o3_swapped on O3 rows only),
    and the texts that differ from the source's (reordered codes count as changed)."""
    frame = _obs(rows) if rows else _obs([("A", "pm2_5", 0, 1.0)]).iloc[:0]
    frame.index = pd.RangeIndex(100, 100 + len(frame))
    expected = quality_flags(frame)
    checked = checked_flags(frame)
    got = checked.flags()
    assert got.index.equals(expected.index) and got.tolist() == expected.tolist()
    assert (
        checked.excluded(exclude_own).tolist()
        == excluded(expected, frame["parameter"], exclude_own=exclude_own).tolist()
    )
    assert checked.added().tolist() == expected.where(expected != frame["flags"], "").tolist()


@settings(max_examples=100, deadline=None)
@given(
    _ROWS_WITH_O3,
    st.lists(st.sampled_from(["", "", "", None, NAN, "maintenance", "aqi_mismatch;x"])),
)
def test_checked_flags_of_an_object_column_read_empty_and_missing_as_no_flags(
    rows: list[tuple[str, str, int, float, str]], texts: list[object]
) -> None:
    """Flags in an object column (as the evaluation reads them: mostly empty texts, found
    without hashing) give what the same flags as a text column with missing ones empty
    give: flag texts, exclusion and the changed texts."""
    frame = _obs(rows) if rows else _obs([("A", "pm2_5", 0, 1.0)]).iloc[:0]
    cells = [texts[i % len(texts)] if texts else "" for i in range(len(frame))]
    as_object = frame.assign(flags=pd.Series(cells, index=frame.index, dtype=object))
    as_text = frame.assign(flags=pd.Series(cells, index=frame.index, dtype=object).fillna(""))
    as_text["flags"] = as_text["flags"].astype(str)
    got, expected = checked_flags(as_object), checked_flags(as_text)
    assert got.flags().tolist() == expected.flags().tolist()
    assert got.excluded(["stuck"]).tolist() == expected.excluded(["stuck"]).tolist()
    assert got.added().tolist() == expected.added().tolist()
    assert quality_flags(as_object).tolist() == expected.flags().tolist()


def test_checked_flags_reject_an_unknown_flag_to_exclude() -> None:
    with pytest.raises(ValueError, match="maintenance cannot be chosen"):
        checked_flags(_obs([("A", "pm2_5", 1, 1.0)])).excluded(["maintenance"])
