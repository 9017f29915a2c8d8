"""Packet → readings: periods per command, unit conversion, flags, raw codes."""

from __future__ import annotations

import pytest

from monitor.hj212.protocol import BadSegment, parse_segment
from monitor.hj212.readings import is_observation, period, readings

T0 = 1735689600  # 2025-01-01 08:00 Beijing = 00:00 UTC


def packet(cn: str, cp: str, st: str = "22") -> bytes:
    return f"QN=1;ST={st};CN={cn};PW=p;MN=M;Flag=5;CP=&&{cp}&&".encode()


@pytest.mark.parametrize(
    ("cn", "expected"),
    [
        ("2011", (T0, T0)),
        ("2051", (T0, T0 + 300)),  # the station's minute interval
        ("2061", (T0, T0 + 3600)),  # labelled by its end: 09:00 Beijing
        ("2031", (T0, T0 + 86400)),
        ("2041", (T0, T0 + 86400)),
    ],
)
def test_periods(cn: str, expected: tuple[int, int]) -> None:
    assert period(parse_segment(packet(cn, "DataTime=20250101080000")), 300) == expected


def test_period_errors() -> None:
    with pytest.raises(BadSegment, match="without DataTime"):
        period(parse_segment(packet("2061", "a34004-Avg=1")), 600)
    with pytest.raises(BadSegment, match="carries no monitoring data"):
        period(parse_segment(packet("1062", "RtdInterval=30")), 600)
    with pytest.raises(BadSegment, match="not a valid date"):
        period(parse_segment(packet("2061", "DataTime=20250231080000")), 600)


def test_statistics_units_and_observations() -> None:
    p = parse_segment(
        packet(
            "2061",
            "DataTime=20250101080000;a21026-Avg=0.009,a21026-Min=0.005,a21026-Max=0.02,"
            "a21026-Cou=3,a21026-Flag=N;a01007-Avg=2.5;w00000-Avg=inf",
            st="31",
        )
    )
    rows = {(r.code, r.statistic): r for r in readings(p, "factory1")}
    so2 = rows[("a21026", "Avg")]
    # ST=31: SO2 in mg/m³ (HJ 212-2017 Appendix B) → µg/m³
    assert (so2.parameter, so2.unit, so2.value) == ("so2", "µg/m³", 9.0)
    assert rows[("a21026", "Max")].value == 20.0
    assert (rows[("a21026", "Cou")].parameter, rows[("a21026", "Cou")].unit) == ("", "mg/m³")
    assert (rows[("a01007", "Avg")].parameter, rows[("a01007", "Avg")].unit) == ("", "m/s")
    flow = rows[("w00000", "Avg")]
    assert (flow.value, flow.flags) == (None, "source_invalid")
    assert [k for k, r in rows.items() if is_observation(r)] == [("a21026", "Avg")]


def test_unit_override_and_unconvertible_unit() -> None:
    p = parse_segment(packet("2061", "DataTime=20250101080000;a34004-Avg=0.035;a21005-Avg=5"))
    rows = readings(p, "s", units={"a34004": "mg/m3", "a21005": "ppb"})
    pm, co = rows
    assert (pm.parameter, pm.value) == ("pm2_5", 35.0)
    # ppb → mg/m³ for CO: 5 ppb × 28.010 / 24.465 / 1000 (GB 3095-2026 §4.3 reference state)
    assert co.parameter == "co" and co.value == pytest.approx(5 * 28.010 / 24.465 / 1000)
    rows = readings(p, "s", units={"a34004": "NTU"})  # no conversion: kept raw
    assert (rows[0].parameter, rows[0].unit, rows[0].value) == ("", "NTU", 0.035)
