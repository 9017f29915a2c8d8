"""Factor codes → canonical parameters and units; HJ 212 data flags → envmon flags."""

from __future__ import annotations

import pytest

from monitor.domain.quality import EXCLUDING_FLAGS
from monitor.domain.units import CANONICAL_UNITS
from monitor.hj212.codes import CODES, DATA_FLAGS, qc_flags, sent_unit


@pytest.mark.parametrize(
    ("code", "parameter"),
    [
        # HJ 212-2017 Appendix B (data-sources.md §7a, V); a05024 from HJ 524, w01003 HJ 525 (C)
        ("a34004", "pm2_5"),
        ("a34002", "pm10"),
        ("a21026", "so2"),
        ("a21004", "no2"),
        ("a21005", "co"),
        ("a05024", "o3"),
        ("w01001", "ph"),
        ("w01009", "do"),
        ("w01010", "water_temperature"),
        ("w01014", "conductivity"),
        ("w01003", "turbidity"),
        ("w01018", "cod"),
        ("w01019", "codmn"),
        ("w21003", "nh3n"),
        ("w21011", "tp"),
        ("w21001", "tn"),
        ("011", "cod"),  # HJ/T 212-2005 code of COD (§7a)
    ],
)
def test_codes_map_to_canonical_parameters(code: str, parameter: str) -> None:
    assert CODES[code].parameter == parameter
    assert parameter in CANONICAL_UNITS


def test_codes_without_a_canonical_parameter() -> None:
    for code in ("a01001", "a01002", "a01006", "a01007", "a01008", "w00000"):
        assert CODES[code].parameter is None


def test_default_units() -> None:
    # Appendix B: gases in mg/m³ (emission sources, ST=31)
    assert [sent_unit(c, "31") for c in ("a21026", "a21004", "a21005")] == ["mg/m³"] * 3
    # [M] ambient stations (ST=22) send SO2/NO2/O3 in µg/m³, CO in mg/m³
    assert [sent_unit(c, "22") for c in ("a21026", "a21004", "a05024", "a21005")] == [
        "µg/m³",
        "µg/m³",
        "µg/m³",
        "mg/m³",
    ]
    assert sent_unit("zzz", "22") == ""


@pytest.mark.parametrize(
    ("flag", "excluded"),
    [("N", False), ("", False), ("F", True), ("M", True), ("S", True), ("D", True),
     ("C", True), ("T", True), ("B", True), ("Q", True)],
)  # fmt: skip
def test_only_n_is_a_valid_value(flag: str, excluded: bool) -> None:
    """[M] inference in data-sources.md §7a: only N counts as valid; every other flag
    carries one of the flags that exclude a value from statistics."""
    flags = set(qc_flags(flag).split(";")) - {""}
    assert bool(flags & EXCLUDING_FLAGS) is excluded


def test_flag_reasons_are_specific() -> None:
    assert DATA_FLAGS["M"] == "maintenance"
    assert DATA_FLAGS["C"] == "calibration"
    assert qc_flags("T") == "source_invalid;hj212_over_range"
    assert qc_flags("B") == "source_invalid;hj212_comm_fault"
    assert qc_flags("x;y") == "source_invalid;hj212_flag_x_y"
