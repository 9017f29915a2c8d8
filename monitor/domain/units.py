"""Canonical parameters and units, and conversion of source units to them.

Every observation in envmon carries a canonical parameter name and its canonical unit;
collectors convert once, at the boundary, with :func:`to_canonical`.

Gas conversions between ppb/ppm and µg/m³ use the reference state of GB 3095-2026 §4.3
(298.15 K, 1013.25 hPa; molar volume 24.465 L/mol): µg/m³ = ppb × M / 24.465.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = [
    "AIR_PARAMETERS",
    "CANONICAL_UNITS",
    "MOLAR_MASS",
    "MOLAR_VOLUME_L",
    "PLAUSIBLE_RANGES",
    "WATER_PARAMETERS",
    "canonical_unit",
    "normalise_unit",
    "to_canonical",
]

#: Air parameters (1-hour means) and their canonical units.
AIR_PARAMETERS: Final[Mapping[str, str]] = {
    "so2": "µg/m³",
    "no2": "µg/m³",
    "co": "mg/m³",
    "o3": "µg/m³",
    "pm10": "µg/m³",
    "pm2_5": "µg/m³",
}

#: Water parameters: the GB 3838-2002 Table 1 items plus the automatic stations' physical
#: parameters, with canonical units.
WATER_PARAMETERS: Final[Mapping[str, str]] = {
    "water_temperature": "°C",
    "ph": "1",
    "do": "mg/L",
    "codmn": "mg/L",
    "cod": "mg/L",
    "bod5": "mg/L",
    "nh3n": "mg/L",
    "tp": "mg/L",
    "tn": "mg/L",
    "cu": "mg/L",
    "zn": "mg/L",
    "f": "mg/L",
    "se": "mg/L",
    "as": "mg/L",
    "hg": "mg/L",
    "cd": "mg/L",
    "cr6": "mg/L",
    "pb": "mg/L",
    "cn": "mg/L",
    "phenol": "mg/L",
    "petroleum": "mg/L",
    "las": "mg/L",
    "sulfide": "mg/L",
    "fecal_coliform": "count/L",
    "conductivity": "µS/cm",
    "turbidity": "NTU",
    "chlorophyll_a": "mg/L",
    "algal_density": "cells/L",
}

CANONICAL_UNITS: Final[Mapping[str, str]] = {**AIR_PARAMETERS, **WATER_PARAMETERS}

#: Plausible range [low, high] of every canonical parameter, inclusive, in its canonical unit;
#: a value outside is flagged ``implausible`` by the quality checks
#: (:func:`monitor.domain.quality.quality_flags`) and left out of every statistic and water
#: class. Project choices, not a standard's: a real extreme wrongly flagged would drop the
#: worst hours from the statistics, so every high sits well above recorded extremes.
#:
#: Air (1-hour means, µg/m³, CO mg/m³): PM2.5 3,000 (Shenyang 2015-11-08 reached ~1,400 at
#: a station [M]; dust adds fine mass); PM10 10,000 (the full scale of common
#: beta-attenuation monitors [M]; the 2021-03-15 sandstorm gave several thousand in Beijing
#: [M]); SO2, NO2 5,000 (≈ 1,900 / 2,700 ppb, beyond ambient analyser ranges); O3 2,000
#: (≈ 1,000 ppb, twice the historic Los Angeles smog peaks [M]); CO 150 (≈ 130 ppm, the
#: 1-hour IAQI-500 breakpoint × 2.5).
#:
#: Water, physical: pH 0–14 (the scale); water temperature −1 … 45 °C (fresh water freezes
#: at 0 °C, −1 allows sensor tolerance; 45 is beyond any natural surface water in the
#: district); DO 0–50 mg/L (saturation is 14.6 mg/L at 0 °C, 7.6 at 30 °C; algal
#: supersaturation goes further: CNEMC published 27.56 mg/L at 29.6 °C, ~360 %, for the
#: Liao River section 红石碑入海前 on 2026-08-21 20:00, rated class III; 50 is the full scale
#: of common optical DO probes [M]); conductivity 0–100,000 µS/cm (twice sea water,
#: ~50,000 [M]); turbidity 0–40,000 NTU (ten times the 4,000 NTU full scale of common
#: turbidimeters [M]).
#:
#: Water, chemistry (the GB 3838-2002 Table 1 items): **100 × the Class V limit** (rivers'
#: column). The worst sections in Chinese bulletins are reported at a few to some tens of
#: times their Class III limit [M], and undiluted municipal sewage (NH3-N 20–50, TP 4–10,
#: COD 250–800 mg/L [M, textbook ranges]) stays below 100 × Class V (200, 40, 4,000 mg/L),
#: so the range keeps every real 劣V reading and flags ``nh3n = 5000`` or ``tp = 1e308``.
#: Fecal coliform is the exception: raw sewage holds ~10⁹ per litre [M], so its high is
#: 10¹⁰ count/L. Chlorophyll a 0–50 mg/L and algal density 0–10¹² cells/L sit above bloom
#: scums (a few mg/L; ~10¹⁰ cells/L [M]).
PLAUSIBLE_RANGES: Final[Mapping[str, tuple[float, float]]] = MappingProxyType(
    {
        "pm2_5": (0.0, 3000.0),
        "pm10": (0.0, 10000.0),
        "so2": (0.0, 5000.0),
        "no2": (0.0, 5000.0),
        "o3": (0.0, 2000.0),
        "co": (0.0, 150.0),
        "ph": (0.0, 14.0),
        "water_temperature": (-1.0, 45.0),
        "do": (0.0, 50.0),
        "conductivity": (0.0, 100_000.0),
        "turbidity": (0.0, 40_000.0),
        # 100 × GB 3838-2002 Table 1 Class V (rivers) [mg/L]; fecal coliform [count/L].
        "codmn": (0.0, 1500.0),
        "cod": (0.0, 4000.0),
        "bod5": (0.0, 1000.0),
        "nh3n": (0.0, 200.0),
        "tp": (0.0, 40.0),
        "tn": (0.0, 200.0),
        "cu": (0.0, 100.0),
        "zn": (0.0, 200.0),
        "f": (0.0, 150.0),
        "se": (0.0, 2.0),
        "as": (0.0, 10.0),
        "hg": (0.0, 0.1),
        "cd": (0.0, 1.0),
        "cr6": (0.0, 10.0),
        "pb": (0.0, 10.0),
        "cn": (0.0, 20.0),
        "phenol": (0.0, 10.0),
        "petroleum": (0.0, 100.0),
        "las": (0.0, 30.0),
        "sulfide": (0.0, 100.0),
        "fecal_coliform": (0.0, 1e10),
        "chlorophyll_a": (0.0, 50.0),
        "algal_density": (0.0, 1e12),
    }
)

#: Molar volume at 298.15 K and 1013.25 hPa [L/mol] (GB 3095-2026 §4.3 reference state).
MOLAR_VOLUME_L: Final = 24.465
#: Molar masses [g/mol] of the gases that sources may report in ppb/ppm.
MOLAR_MASS: Final[Mapping[str, float]] = {
    "so2": 64.066,
    "no2": 46.0055,
    "co": 28.010,
    "o3": 47.997,
}

# Spellings of units seen in exports, normalised (lower case, no spaces) → canonical.
_SPELLINGS: Final[Mapping[str, str]] = {
    "µg/m³": "µg/m³",
    "μg/m³": "µg/m³",
    "µg/m3": "µg/m³",
    "μg/m3": "µg/m³",
    "ug/m3": "µg/m³",
    "ug/m³": "µg/m³",
    "ugm-3": "µg/m³",
    "µgm-3": "µg/m³",
    "微克/立方米": "µg/m³",
    "mg/m³": "mg/m³",
    "mg/m3": "mg/m³",
    "mgm-3": "mg/m³",
    "毫克/立方米": "mg/m³",
    "mg/l": "mg/L",
    "mgl-1": "mg/L",
    "毫克/升": "mg/L",
    "µg/l": "µg/L",
    "μg/l": "µg/L",
    "ug/l": "µg/L",
    "ng/l": "ng/L",
    "ppb": "ppb",
    "ppm": "ppm",
    "°c": "°C",
    "degc": "°C",
    "deg c": "°C",
    "℃": "°C",
    "c": "°C",
    "µs/cm": "µS/cm",
    "μs/cm": "µS/cm",
    "us/cm": "µS/cm",
    "ms/cm": "mS/cm",
    "ntu": "NTU",
    "fnu": "NTU",
    "1": "1",
    "": "",
    "-": "1",
    "无量纲": "1",
    "ph": "1",
    "std units": "1",
    "count/l": "count/L",
    "个/l": "count/L",
    "cfu/100ml": "count/100mL",
    "mpn/100ml": "count/100mL",
    "cells/l": "cells/L",
    "个/升": "count/L",
}

# (from, to) → factor, for units that differ by a constant.
_FACTORS: Final[Mapping[tuple[str, str], float]] = {
    ("µg/m³", "mg/m³"): 1e-3,
    ("mg/m³", "µg/m³"): 1e3,
    ("µg/L", "mg/L"): 1e-3,
    ("ng/L", "mg/L"): 1e-6,
    ("mS/cm", "µS/cm"): 1e3,
    ("count/100mL", "count/L"): 10.0,
}


def normalise_unit(unit: str) -> str:
    """A unit as written in a source → its canonical spelling.

    Raises
    ------
    ValueError
        If the spelling is unknown.

    Examples
    --------
    >>> normalise_unit("ug/m3"), normalise_unit("MG/L"), normalise_unit("℃")
    ('µg/m³', 'mg/L', '°C')
    """
    key = unit.strip().lower().replace(" ", "") if unit.strip().lower() != "deg c" else "deg c"
    if key in _SPELLINGS:
        return _SPELLINGS[key]
    raise ValueError(
        f"unknown unit {unit!r}; expected one of µg/m³, ug/m3, mg/m3, mg/L, ppb, ppm, °C, "
        "µS/cm, NTU …"
    )


def canonical_unit(parameter: str) -> str:
    """The canonical unit of a parameter.

    Raises
    ------
    ValueError
        If the parameter is not a canonical name.
    """
    try:
        return CANONICAL_UNITS[parameter]
    except KeyError:
        raise ValueError(
            f"unknown parameter {parameter!r}; expected a canonical name such as "
            + ", ".join(list(CANONICAL_UNITS)[:8])
            + " …"
        ) from None


def to_canonical(parameter: str, values: npt.ArrayLike, unit: str) -> npt.NDArray[np.float64]:
    """Convert values of ``parameter`` from ``unit`` (any known spelling) to its canonical unit.

    Raises
    ------
    ValueError
        If the parameter or unit is unknown, or no conversion exists (e.g. ppb for PM).

    Examples
    --------
    Open-Meteo gives CO in µg/m³; the canonical unit is mg/m³:

    >>> to_canonical("co", [450.0], "µg/m³").tolist()
    [0.45]
    >>> to_canonical("no2", [10.0], "ppb").round(1).tolist()
    [18.8]
    """
    target = canonical_unit(parameter)
    source = normalise_unit(unit) if unit else target
    x = np.asarray(values, dtype=float)
    if source == target or (source == "" and target == "1"):
        return x.copy()
    if source in ("ppb", "ppm") and parameter in MOLAR_MASS and target in ("µg/m³", "mg/m³"):
        ug = x * (1000.0 if source == "ppm" else 1.0) * MOLAR_MASS[parameter] / MOLAR_VOLUME_L
        out: npt.NDArray[np.float64] = np.round(ug / 1000.0 if target == "mg/m³" else ug, 9)
        return out
    factor = _FACTORS.get((source, target))
    if factor is None:
        raise ValueError(
            f"cannot convert {parameter} from {unit!r} to {target}; expected a value in {target}"
        )
    # Round off float noise (813 × 0.001 = 0.8130000000000001), so a re-import in another
    # unit spelling is "unchanged", not a revision.
    converted: npt.NDArray[np.float64] = np.round(x * factor, 9)
    return converted
