"""Plausible ranges of every parameter, and ``implausible`` values kept out of the class."""

from __future__ import annotations

import pandas as pd
import pytest

from monitor.domain.quality import (
    ALWAYS_EXCLUDING_FLAGS,
    EXCLUDING_FLAGS,
    excluded,
    quality_flags,
)
from monitor.domain.units import CANONICAL_UNITS, PLAUSIBLE_RANGES
from monitor.domain.water_quality import (
    TABLE_1_LIMITS,
    Parameter,
    WaterClass,
    classify_section,
    limiting_parameters,
)


def test_every_canonical_parameter_has_a_range() -> None:
    """No parameter escapes the plausibility check; every range is ordered."""
    assert set(PLAUSIBLE_RANGES) == set(CANONICAL_UNITS)
    assert all(low < high for low, high in PLAUSIBLE_RANGES.values())


@pytest.mark.parametrize(
    "parameter",
    [p for p in Parameter if p is not Parameter.FECAL_COLIFORM and p in TABLE_1_LIMITS],
    ids=str,
)
def test_water_chemistry_high_is_100_times_class_v(parameter: Parameter) -> None:
    """The documented rule: 100 × the GB 3838-2002 Table 1 Class V limit (rivers)."""
    limit_v = TABLE_1_LIMITS[parameter].limits[4]
    low, high = PLAUSIBLE_RANGES[parameter.value]
    if TABLE_1_LIMITS[parameter].higher_is_better:  # DO: a physical range instead
        assert (low, high) == (0.0, 50.0)  # (CNEMC published a real 27.56 mg/L)
    else:
        assert high == pytest.approx(100 * limit_v)


def _water(parameter: str, values: list[float]) -> pd.DataFrame:
    end = pd.date_range("2026-03-01 04:00", periods=len(values), freq="4h", tz="UTC")
    return pd.DataFrame(
        {
            "site": "S",
            "parameter": parameter,
            "period_start": end,
            "period_end": end,
            "value": values,
            "flags": "",
        }
    )


@pytest.mark.parametrize(
    ("parameter", "value", "flagged"),
    [
        ("nh3n", 5000.0, True),  # the example: classified 劣V today
        ("tp", 1e308, True),  # the example
        ("nh3n", 40.0, False),  # undiluted sewage level: a real, awful reading
        ("tp", 8.0, False),
        ("cod", 800.0, False),
        ("fecal_coliform", 1e9, False),  # raw sewage order of magnitude [count/L]
    ],
)
def test_implausible_water_values_are_flagged(parameter: str, value: float, flagged: bool) -> None:
    """Values beyond 100 × Class V are flagged ``implausible``; real extremes are not."""
    flags = quality_flags(_water(parameter, [value]))
    assert ("implausible" in flags.iloc[0]) is flagged


def test_implausible_always_excludes() -> None:
    """``implausible`` is among the flags that exclude whatever the settings say."""
    assert "implausible" in ALWAYS_EXCLUDING_FLAGS <= EXCLUDING_FLAGS
    assert excluded(pd.Series(["implausible", ""])).tolist() == [True, False]


def test_implausible_value_does_not_rate_the_class() -> None:
    """TP 1e308 and NH3-N 5000 mg/L are left out: the class comes from the other items.

    GB 3838-2002 Table 1: DO 6.5 mg/L is Class II (≥ 6), CODMn 3.0 Class II (≤ 4).
    """
    sample = pd.concat(
        [
            _water("do", [6.5]),
            _water("codmn", [3.0]),
            _water("tp", [1e308]),
            _water("nh3n", [5000.0]),
        ],
        ignore_index=True,
    )
    flags = quality_flags(sample)
    keep = ~excluded(flags, sample["parameter"])
    values = sample["value"].where(keep)
    wide = pd.DataFrame([dict(zip(sample["parameter"], values, strict=True))])
    assert classify_section(wide).tolist() == [WaterClass.II]
    assert limiting_parameters(wide) == [(Parameter.DO, Parameter.CODMN)]
    # Unexcluded, the same sample is 劣V (the bug of issue 14).
    raw = pd.DataFrame([dict(zip(sample["parameter"], sample["value"], strict=True))])
    assert classify_section(raw).tolist() == [WaterClass.WORSE_THAN_V]
