"""HJ 212 factor codes → canonical parameters and units; data flags → QC flags. Pure.

Factor codes are those of HJ 212-2017 Appendix B, plus O3 (``a05024``) from HJ 524 and
turbidity (``w01003``) from HJ 525, which the appendix lacks but stations use. HJ/T
212-2005 codes ("原编码") are accepted where the reference gives them (``011`` COD).

Units a device sends
--------------------
Appendix B gives mg/m³ for SO2, NO2 and CO and reads ng/m³ for PM2.5/PM10. [M] Ambient
air-quality stations (``ST=22``) in practice send SO2, NO2, O3, PM10 and PM2.5 in µg/m³ and CO
in mg/m³; that is the default for ``ST=22``, and for other systems the appendix's mg/m³
for gases (PM stays µg/m³: the ng/m³ of the table text is taken as a misprint, unverified).
A station whose device differs sets ``units`` in its ``[[hj212.stations]]`` table.

Codes that are known but have no canonical parameter (meteorology, flow) and unknown codes
are kept raw in the ``hj212_readings`` table and counted, never dropped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

__all__ = [
    "CODES",
    "DATA_FLAGS",
    "Code",
    "qc_flags",
    "sent_unit",
]


@dataclass(frozen=True)
class Code:
    """One factor code: the canonical parameter (None: none exists), the unit a device
    sends by default, and what it is."""

    parameter: str | None
    unit: str
    meaning: str


_C: Final = Code
#: Factor code → what it is. Source: HJ 212-2017 Appendix B unless noted.
CODES: Final[Mapping[str, Code]] = MappingProxyType(
    {
        # air (HJ 212-2017 Appendix B; a05024 from HJ 524)
        "a34004": _C("pm2_5", "µg/m³", "PM2.5"),
        "a34002": _C("pm10", "µg/m³", "PM10"),
        "a21026": _C("so2", "mg/m³", "SO2"),
        "a21004": _C("no2", "mg/m³", "NO2"),
        "a21005": _C("co", "mg/m³", "CO"),
        "a05024": _C("o3", "mg/m³", "O3 (HJ 524)"),
        "a01001": _C(None, "°C", "air temperature"),
        "a01002": _C(None, "%", "relative humidity"),
        "a01006": _C(None, "kPa", "air pressure"),
        "a01007": _C(None, "m/s", "wind speed"),
        "a01008": _C(None, "°", "wind direction"),
        # water (HJ 212-2017 Appendix B; w01003 from HJ 525)
        "w01001": _C("ph", "1", "pH"),
        "w01009": _C("do", "mg/L", "dissolved oxygen"),
        "w01010": _C("water_temperature", "°C", "water temperature"),
        "w01014": _C("conductivity", "µS/cm", "conductivity"),
        "w01003": _C("turbidity", "NTU", "turbidity (HJ 525)"),
        "w01018": _C("cod", "mg/L", "COD (CODcr)"),
        "w01019": _C("codmn", "mg/L", "permanganate index (CODMn)"),
        "w21003": _C("nh3n", "mg/L", "ammonia nitrogen"),
        "w21011": _C("tp", "mg/L", "total phosphorus"),
        "w21001": _C("tn", "mg/L", "total nitrogen"),
        "w00000": _C(None, "L/s", "waste-water flow"),
        # HJ/T 212-2005 codes ("原编码", HJ 212-2017 Appendix B)
        "011": _C("cod", "mg/L", "COD (HJ/T 212-2005 code)"),
    }
)

#: Gases that ambient air-quality stations (ST=22) send in µg/m³ ([M], see module doc).
_AMBIENT_UG: Final = frozenset({"a21026", "a21004", "a05024"})


def sent_unit(code: str, st: str) -> str:
    """The unit a device of system ``st`` sends ``code`` in, by default ('' if unknown).

    Examples
    --------
    >>> sent_unit("a21026", "22"), sent_unit("a21026", "31"), sent_unit("a21005", "22")
    ('µg/m³', 'mg/m³', 'mg/m³')
    """
    known = CODES.get(code)
    if known is None:
        return ""
    if st == "22" and code in _AMBIENT_UG:
        return "µg/m³"
    return known.unit


#: Data flags (``<code>-Flag``) of HJ 212-2017 §6.6 → envmon flags. Only N is a valid
#: value ([M] inference from the standard's wording); the others exclude the value from
#: statistics through ``source_invalid``, ``maintenance`` or ``calibration``, with an
#: ``hj212_*`` flag saying why.
DATA_FLAGS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "N": "",  # normal
        "F": "source_invalid;hj212_stopped",  # 停运
        "M": "maintenance",  # 维护
        "S": "source_invalid;hj212_manual",  # 手工输入
        "D": "source_invalid;hj212_fault",  # 故障
        "C": "calibration",  # 校准
        "T": "source_invalid;hj212_over_range",  # 超测量上限
        "B": "source_invalid;hj212_comm_fault",  # 通讯异常
    }
)


def qc_flags(flag: str) -> str:
    """envmon flags for an HJ 212 data flag; no flag (``''``) counts as normal.

    Examples
    --------
    >>> qc_flags("N"), qc_flags("C"), qc_flags("D"), qc_flags("Z")
    ('', 'calibration', 'source_invalid;hj212_fault', 'source_invalid;hj212_flag_Z')
    """
    if flag in DATA_FLAGS:
        return DATA_FLAGS[flag]
    if not flag:
        return ""
    safe = re.sub(r"[^A-Za-z0-9]", "_", flag[:8])
    return f"source_invalid;hj212_flag_{safe}"
