"""Surface-water quality class per GB 3838-2002 and 环办〔2011〕22号.

GB 3838-2002 *Environmental quality standards for surface water* Table 1 sets class I–V
limits for 24 basic items; the *Surface-water environmental quality evaluation method
(trial)*, 环办〔2011〕22号, says which of them take part in an evaluation and how a section,
a river and a basin are rated. Everything here works on whole columns (numpy arrays, pandas
Series/DataFrames); one value is a length-1 case.

What is implemented, and where it comes from:

* Table 1 limits as data (:data:`TABLE_1_LIMITS`, :data:`TABLE_1_TP_LAKE_RESERVOIR`,
  :data:`PH_RANGE`). Item 1, water temperature, has no class limits (only a limit on the
  human-caused weekly change, the same for every class) and is never classified here.
* Single-factor classification of one item (:func:`classify_parameter`, GB 3838-2002 §5.1):
  a value equal to a limit belongs to that class; where the class I and II limits are equal
  a value at that limit is class I; dissolved oxygen is "≥", every other item "≤"; pH inside
  6–9 does not limit the class, outside it is 劣V; above the class V limit is 劣V.
* The section class (:func:`classify_section`, 环办〔2011〕22号): the worst class among the
  21 evaluated items present — Table 1 minus water temperature, total nitrogen and fecal
  coliform. Total nitrogen and fecal coliform are reference items, classified on their own
  and never part of the section class; total nitrogen is classified for lakes and reservoirs
  only (its Table 1 row is headed "湖、库").
* Exceedance multiples (:func:`exceedance_multiple`) against class III or a target class,
  main pollution indicators (:func:`main_pollution_indicators`), the qualitative status of a
  section (:func:`section_status`) and of a river or basin (:func:`river_status`).

Project decisions where the texts at hand are silent or unverified (marked [M] in the
project's fact sheet, ``standards.md`` §3):

* Class I of dissolved oxygen is taken as 7.5 mg/L; the alternative "90 % saturation" of
  Table 1 is not used.
* A value below the detection limit is rated, and averaged, at **half the detection
  limit** (:func:`half_detection_limit`): 《地表水环境质量监测数据统计技术规定（试行）》
  (环办监测函〔2020〕82号) point 7 "当监测数据低于检出限时，以1/2检出限值参与计算和统计"
  [S: quoted by secondary sources; SL 219-2013 §12.2.5 says the same for means];
  环办〔2011〕22号 itself is silent. Callers flag such values in their output.
* A period with several samples (a week, ten days, a month; also a quarter or a year) is
  rated on the **arithmetic mean of each item** over the period (:func:`period_means`,
  环办〔2011〕22号 数据统计), never on its latest or worst sample.
* Exceedance multiples are not computed for pH and dissolved oxygen.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import pandas as pd
else:
    from monitor.domain._deferred import pandas as pd

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

__all__ = [
    "AUTOMATIC_STATION_PARAMETERS",
    "BELOW_DETECTION_FLAG",
    "EVALUATED_PARAMETERS",
    "PARAMETERS",
    "PH_RANGE",
    "REFERENCE_PARAMETERS",
    "TABLE_1_LIMITS",
    "TABLE_1_TP_LAKE_RESERVOIR",
    "ClassLimits",
    "Parameter",
    "ParameterInfo",
    "ParameterSet",
    "RiverAssessment",
    "WaterBody",
    "WaterClass",
    "WaterStatus",
    "below_detection",
    "class_limits",
    "classify_parameter",
    "classify_parameters",
    "classify_section",
    "exceedance_multiple",
    "exceedance_multiples",
    "half_detection_limit",
    "label_parameter_set",
    "limiting_parameters",
    "main_pollution_indicators",
    "period_means",
    "river_status",
    "section_status",
]

_ROMAN_UNICODE = str.maketrans({"Ⅰ": "I", "Ⅱ": "II", "Ⅲ": "III", "Ⅳ": "IV", "Ⅴ": "V"})


class WaterClass(IntEnum):
    """Surface-water class of GB 3838-2002 §3, I (best) to V, and 劣V (worse than V).

    The integer value orders the classes: a larger value is a worse class.

    Examples
    --------
    >>> WaterClass.WORSE_THAN_V.code, WaterClass.III.label_zh
    ('劣V', 'III类')
    >>> WaterClass.from_code("Ⅳ类")
    <WaterClass.IV: 4>
    """

    I = 1  # noqa: E741 - the class is called I in the standard
    II = 2
    III = 3
    IV = 4
    V = 5
    WORSE_THAN_V = 6

    @property
    def code(self) -> str:
        """Code text: ``I`` … ``V``, ``劣V``."""
        return "劣V" if self is WaterClass.WORSE_THAN_V else self.name

    @property
    def label_zh(self) -> str:
        """Chinese label as bulletins write it: ``I类`` … ``V类``, ``劣V类``."""
        return f"{self.code}类"

    @classmethod
    def from_code(cls, text: str) -> WaterClass:
        """The class written as ``I`` … ``V`` or ``劣V`` (also Ⅰ–Ⅴ, with or without 类).

        Raises
        ------
        ValueError
            If the text is not a class.
        """
        key = str(text).strip().removesuffix("类").translate(_ROMAN_UNICODE).upper()
        if key == "劣V":
            return cls.WORSE_THAN_V
        if key in cls.__members__ and key != "WORSE_THAN_V":
            return cls[key]
        raise ValueError(f"water class {text!r} is not a class; expected I, II, III, IV, V or 劣V")


class WaterBody(StrEnum):
    """Kind of water body; it chooses the total-phosphorus column of Table 1."""

    RIVER = "river"
    LAKE = "lake"
    RESERVOIR = "reservoir"

    @classmethod
    def parse(cls, text: str) -> WaterBody:
        """``river``, ``lake`` or ``reservoir`` (any case; also 河流, 湖泊, 水库).

        Raises
        ------
        ValueError
            If the text names no water body.
        """
        key = str(text).strip().lower()
        key = _WATER_BODY_ZH.get(key, key)
        try:
            return cls(key)
        except ValueError:
            raise ValueError(
                f"water body {text!r} is not known; expected river, lake or reservoir"
            ) from None


_WATER_BODY_ZH = {"河流": "river", "湖泊": "lake", "湖": "lake", "水库": "reservoir"}


class Parameter(StrEnum):
    """The 23 classified items of GB 3838-2002 Table 1, by canonical code, in table order.

    The codes are also the CSV column names. Table 1 item 1, water temperature, has no class
    limits and therefore no code here.
    """

    PH = "ph"
    DO = "do"
    CODMN = "codmn"
    COD = "cod"
    BOD5 = "bod5"
    NH3N = "nh3n"
    TP = "tp"
    TN = "tn"
    CU = "cu"
    ZN = "zn"
    F = "f"
    SE = "se"
    AS = "as"
    HG = "hg"
    CD = "cd"
    CR6 = "cr6"
    PB = "pb"
    CN = "cn"
    PHENOL = "phenol"
    PETROLEUM = "petroleum"
    LAS = "las"
    SULFIDE = "sulfide"
    FECAL_COLIFORM = "fecal_coliform"

    @property
    def info(self) -> ParameterInfo:
        """Names, unit and Table 1 item number."""
        return PARAMETERS[self]


@dataclass(frozen=True)
class ParameterInfo:
    """Description of one Table 1 item.

    Attributes
    ----------
    item : int
        Item number in GB 3838-2002 Table 1.
    name_en, name_zh : str
        Names in English and as the standard writes them.
    unit : str
        Unit of concentrations of the item (``mg/L``; ``count/L``; pH ``dimensionless``).
    """

    item: int
    name_en: str
    name_zh: str
    unit: str


_MG_L = "mg/L"

# GB 3838-2002 Table 1: item numbers, names and units (item 1, water temperature, omitted).
PARAMETERS: Final[Mapping[Parameter, ParameterInfo]] = MappingProxyType(
    {
        Parameter.PH: ParameterInfo(2, "pH", "pH值", "dimensionless"),
        Parameter.DO: ParameterInfo(3, "dissolved oxygen", "溶解氧", _MG_L),
        Parameter.CODMN: ParameterInfo(4, "permanganate index", "高锰酸盐指数", _MG_L),
        Parameter.COD: ParameterInfo(5, "chemical oxygen demand", "化学需氧量", _MG_L),
        Parameter.BOD5: ParameterInfo(
            6, "5-day biochemical oxygen demand", "五日生化需氧量", _MG_L
        ),
        Parameter.NH3N: ParameterInfo(7, "ammonia nitrogen", "氨氮", _MG_L),
        Parameter.TP: ParameterInfo(8, "total phosphorus (as P)", "总磷", _MG_L),
        Parameter.TN: ParameterInfo(9, "total nitrogen (as N)", "总氮", _MG_L),
        Parameter.CU: ParameterInfo(10, "copper", "铜", _MG_L),
        Parameter.ZN: ParameterInfo(11, "zinc", "锌", _MG_L),
        Parameter.F: ParameterInfo(12, "fluoride (as F⁻)", "氟化物", _MG_L),
        Parameter.SE: ParameterInfo(13, "selenium", "硒", _MG_L),
        Parameter.AS: ParameterInfo(14, "arsenic", "砷", _MG_L),
        Parameter.HG: ParameterInfo(15, "mercury", "汞", _MG_L),
        Parameter.CD: ParameterInfo(16, "cadmium", "镉", _MG_L),
        Parameter.CR6: ParameterInfo(17, "chromium (hexavalent)", "铬(六价)", _MG_L),
        Parameter.PB: ParameterInfo(18, "lead", "铅", _MG_L),
        Parameter.CN: ParameterInfo(19, "cyanide", "氰化物", _MG_L),
        Parameter.PHENOL: ParameterInfo(20, "volatile phenol", "挥发酚", _MG_L),
        Parameter.PETROLEUM: ParameterInfo(21, "petroleum", "石油类", _MG_L),
        Parameter.LAS: ParameterInfo(22, "anionic surfactant", "阴离子表面活性剂", _MG_L),
        Parameter.SULFIDE: ParameterInfo(23, "sulfide", "硫化物", _MG_L),
        Parameter.FECAL_COLIFORM: ParameterInfo(24, "fecal coliform", "粪大肠菌群", "count/L"),
    }
)


@dataclass(frozen=True)
class ClassLimits:
    """Class I–V limits of one Table 1 item.

    Attributes
    ----------
    limits : tuple of 5 float
        Limits of class I, II, III, IV, V in the item's unit.
    higher_is_better : bool
        True for dissolved oxygen ("≥"): a value at or above a limit meets the class.
    """

    limits: tuple[float, float, float, float, float]
    higher_is_better: bool = False

    def limit(self, water_class: WaterClass | int) -> float:
        """The limit of one class I–V."""
        cls = WaterClass(water_class)
        if cls is WaterClass.WORSE_THAN_V:
            raise ValueError("劣V has no limit; expected a class I–V")
        return self.limits[cls - 1]


# GB 3838-2002 Table 1 (basic items), rivers. Units as in PARAMETERS. Total phosphorus of
# lakes and reservoirs is TABLE_1_TP_LAKE_RESERVOIR; total nitrogen applies to lakes and
# reservoirs only (row heading "湖、库"); pH is PH_RANGE; water temperature has no limits.
TABLE_1_LIMITS: Final[Mapping[Parameter, ClassLimits]] = MappingProxyType(
    {
        # DO class I: "饱和率90%（或7.5）" — 7.5 mg/L used (module docstring)
        Parameter.DO: ClassLimits((7.5, 6, 5, 3, 2), higher_is_better=True),
        Parameter.CODMN: ClassLimits((2, 4, 6, 10, 15)),
        Parameter.COD: ClassLimits((15, 15, 20, 30, 40)),
        Parameter.BOD5: ClassLimits((3, 3, 4, 6, 10)),
        Parameter.NH3N: ClassLimits((0.15, 0.5, 1.0, 1.5, 2.0)),
        Parameter.TP: ClassLimits((0.02, 0.1, 0.2, 0.3, 0.4)),
        Parameter.TN: ClassLimits((0.2, 0.5, 1.0, 1.5, 2.0)),
        Parameter.CU: ClassLimits((0.01, 1.0, 1.0, 1.0, 1.0)),
        Parameter.ZN: ClassLimits((0.05, 1.0, 1.0, 2.0, 2.0)),
        Parameter.F: ClassLimits((1.0, 1.0, 1.0, 1.5, 1.5)),
        Parameter.SE: ClassLimits((0.01, 0.01, 0.01, 0.02, 0.02)),
        Parameter.AS: ClassLimits((0.05, 0.05, 0.05, 0.1, 0.1)),
        Parameter.HG: ClassLimits((0.00005, 0.00005, 0.0001, 0.001, 0.001)),
        Parameter.CD: ClassLimits((0.001, 0.005, 0.005, 0.005, 0.01)),
        Parameter.CR6: ClassLimits((0.01, 0.05, 0.05, 0.05, 0.1)),
        Parameter.PB: ClassLimits((0.01, 0.01, 0.05, 0.05, 0.1)),
        Parameter.CN: ClassLimits((0.005, 0.05, 0.2, 0.2, 0.2)),
        Parameter.PHENOL: ClassLimits((0.002, 0.002, 0.005, 0.01, 0.1)),
        Parameter.PETROLEUM: ClassLimits((0.05, 0.05, 0.05, 0.5, 1.0)),
        Parameter.LAS: ClassLimits((0.2, 0.2, 0.2, 0.3, 0.3)),
        Parameter.SULFIDE: ClassLimits((0.05, 0.1, 0.2, 0.5, 1.0)),
        Parameter.FECAL_COLIFORM: ClassLimits((200, 2000, 10000, 20000, 40000)),
    }
)

# GB 3838-2002 Table 1, item 8, total phosphorus of lakes and reservoirs [mg/L].
TABLE_1_TP_LAKE_RESERVOIR: Final = ClassLimits((0.01, 0.025, 0.05, 0.1, 0.2))

# GB 3838-2002 Table 1, item 2: pH 6–9 for every class [dimensionless].
PH_RANGE: Final[tuple[float, float]] = (6.0, 9.0)

#: The 21 items of an official evaluation (环办〔2011〕22号): Table 1 minus water
#: temperature, total nitrogen and fecal coliform; in canonical (table) order.
EVALUATED_PARAMETERS: Final[tuple[Parameter, ...]] = tuple(
    p for p in Parameter if p not in (Parameter.TN, Parameter.FECAL_COLIFORM)
)

#: Reference items (环办〔2011〕22号): classified and reported separately, never part of
#: the section class.
REFERENCE_PARAMETERS: Final[tuple[Parameter, ...]] = (Parameter.TN, Parameter.FECAL_COLIFORM)

#: Evaluated items that national automatic stations measure (standards.md §3.4); total
#: nitrogen, also measured there, is a reference item.
AUTOMATIC_STATION_PARAMETERS: Final[frozenset[Parameter]] = frozenset(
    {Parameter.PH, Parameter.DO, Parameter.CODMN, Parameter.NH3N, Parameter.TP}
)

_NO_MULTIPLE: Final = frozenset({Parameter.PH, Parameter.DO})
_LAKE_LIKE: Final = frozenset({WaterBody.LAKE, WaterBody.RESERVOIR})


def class_limits(
    parameter: Parameter | str, water_body: WaterBody | str = WaterBody.RIVER
) -> ClassLimits:
    """Class I–V limits of one item for one kind of water body (GB 3838-2002 Table 1).

    Raises
    ------
    ValueError
        For pH (a range, :data:`PH_RANGE`, not class limits), for total nitrogen of a river
        (Table 1 item 9 applies to lakes and reservoirs), or an unknown code.

    Examples
    --------
    >>> class_limits("tp", "lake").limit(WaterClass.III)
    0.05
    """
    p = _parameter(parameter)
    body = WaterBody.parse(water_body)
    if p is Parameter.PH:
        raise ValueError("pH has a range, not class limits; see PH_RANGE (6–9)")
    if p is Parameter.TN and body is WaterBody.RIVER:
        raise ValueError("total nitrogen has class limits for lakes and reservoirs only")
    if p is Parameter.TP and body in _LAKE_LIKE:
        return TABLE_1_TP_LAKE_RESERVOIR
    return TABLE_1_LIMITS[p]


def _parameter(parameter: Parameter | str) -> Parameter:
    try:
        return Parameter(str(parameter).strip().lower())
    except ValueError:
        codes = ", ".join(Parameter)
        raise ValueError(
            f"parameter {parameter!r} is not known; expected one of {codes}"
        ) from None


def _concentrations(parameter: Parameter, concentration: npt.ArrayLike) -> FloatArray:
    c = np.atleast_1d(np.asarray(concentration, dtype=np.float64))
    if c.ndim != 1:
        raise ValueError(f"{parameter} concentrations must be one-dimensional, got {c.ndim}-D")
    finite = np.isfinite(c) | np.isnan(c)
    if not finite.all() or (c < 0).any():
        bad = c[~finite | (c < 0)][0]
        raise ValueError(
            f"{parameter} value {bad} is not a concentration; expected a finite value ≥ 0 "
            f"[{PARAMETERS[parameter].unit}] or NaN for not measured"
        )
    if parameter is Parameter.PH and (c > 14).any():
        raise ValueError(f"pH {c[c > 14][0]} is outside 0–14")
    return c


def _lake_mask(water_body: WaterBody | str | npt.ArrayLike, n: int) -> BoolArray:
    if isinstance(water_body, str):
        return np.full(n, WaterBody.parse(water_body) in _LAKE_LIKE)
    bodies = np.atleast_1d(np.asarray(water_body, dtype=object))
    if bodies.shape != (n,):
        raise ValueError(f"water_body has shape {bodies.shape}; expected one per value ({n})")
    kinds, index = np.unique(bodies.astype(str), return_inverse=True)
    lake = np.array([WaterBody.parse(k) in _LAKE_LIKE for k in kinds], dtype=bool)
    return lake[index.reshape(-1)]


def _rate(limits: ClassLimits, c: FloatArray) -> FloatArray:
    # searchsorted(side="left") counts the limits strictly below the value, so a value equal
    # to a limit stays in that class and equal class I/II limits rate as class I.
    if limits.higher_is_better:
        index = np.searchsorted(-np.asarray(limits.limits), -c, side="left")
    else:
        index = np.searchsorted(np.asarray(limits.limits), c, side="left")
    return (index + 1).astype(np.float64)


def classify_parameter(
    parameter: Parameter | str,
    concentration: npt.ArrayLike,
    water_body: WaterBody | str | npt.ArrayLike = WaterBody.RIVER,
) -> FloatArray:
    """Single-factor class of one item (GB 3838-2002 Table 1, §5.1).

    Parameters
    ----------
    parameter : Parameter or str
        Canonical code, e.g. ``"nh3n"``.
    concentration : array_like
        Values in the item's unit [mg/L; fecal coliform count/L; pH dimensionless]; NaN
        means not measured.
    water_body : WaterBody, str or array_like
        One kind for all values or one per value; selects the total-phosphorus column.

    Returns
    -------
    ndarray of float
        Class number 1–6 (the :class:`WaterClass` values; 6 is 劣V); NaN where not measured,
        and for total nitrogen of rivers, which Table 1 does not classify.

    Raises
    ------
    ValueError
        For an unknown code or water body, a negative or infinite value, or pH above 14.

    Notes
    -----
    A value equal to a class limit belongs to that class ("≤"; "≥" for dissolved oxygen), so
    where the class I and II limits are equal a value at that limit is class I. A value
    beyond the class V limit is 劣V. pH within 6–9 (inclusive) does not limit the class and
    is reported as class I; outside it, 劣V.

    Examples
    --------
    >>> classify_parameter("nh3n", [0.15, 0.16, 1.0, 2.01])
    array([1., 2., 3., 6.])
    >>> classify_parameter("do", [7.5, 5.0, 1.9])
    array([1., 3., 6.])
    >>> classify_parameter("tp", [0.1, 0.1], ["river", "lake"])
    array([2., 4.])
    >>> classify_parameter("ph", [5.9, 6.0, 9.0, 9.1])
    array([6., 1., 1., 6.])
    """
    p = _parameter(parameter)
    c = _concentrations(p, concentration)
    if p is Parameter.PH:
        low, high = PH_RANGE
        rated = np.where((c >= low) & (c <= high), 1.0, float(WaterClass.WORSE_THAN_V))
    elif p is Parameter.TP:
        lake = _lake_mask(water_body, c.shape[0])
        rated = np.where(lake, _rate(TABLE_1_TP_LAKE_RESERVOIR, c), _rate(TABLE_1_LIMITS[p], c))
    elif p is Parameter.TN:
        lake = _lake_mask(water_body, c.shape[0])
        rated = np.where(lake, _rate(TABLE_1_LIMITS[p], c), np.nan)
    else:
        rated = _rate(TABLE_1_LIMITS[p], c)
    return np.where(np.isnan(c), np.nan, rated)


def _known_columns(values: pd.DataFrame) -> list[Parameter]:
    return _known_columns_of([str(c) for c in values.columns])


def _known_columns_of(names: list[str]) -> list[Parameter]:
    codes = {p.value for p in Parameter}
    unknown = [c for c in names if c not in codes]
    if unknown:
        raise ValueError(
            f"unknown parameter column(s) {', '.join(unknown)}; expected canonical codes "
            f"({', '.join(Parameter)})"
        )
    return [p for p in Parameter if p.value in names]


def classify_parameters(
    values: pd.DataFrame, water_body: WaterBody | str | npt.ArrayLike = WaterBody.RIVER
) -> pd.DataFrame:
    """Single-factor class of every item present (GB 3838-2002 Table 1).

    Parameters
    ----------
    values : DataFrame
        One row per sample, one column per canonical code [mg/L; fecal coliform count/L];
        NaN means not measured.
    water_body : WaterBody, str or array_like
        One kind for all rows or one per row.

    Returns
    -------
    DataFrame
        Class numbers 1–6 (NaN where not classified), columns in canonical order, same index.

    Raises
    ------
    ValueError
        For a column that is not a canonical code, or as :func:`classify_parameter`.

    Examples
    --------
    >>> frame = pd.DataFrame({"tp": [0.03], "nh3n": [0.6]})
    >>> classify_parameters(frame, "lake").iloc[0].to_dict()
    {'nh3n': 3.0, 'tp': 3.0}
    """
    columns = _known_columns(values)
    rated = {p.value: classify_parameter(p, values[p.value], water_body) for p in columns}
    return pd.DataFrame(rated, index=values.index, columns=[p.value for p in columns])


def _evaluated_classes(
    values: pd.DataFrame, water_body: WaterBody | str | npt.ArrayLike
) -> pd.DataFrame:
    columns = [p.value for p in _known_columns(values) if p in EVALUATED_PARAMETERS]
    return classify_parameters(values[columns], water_body)


def _worst(classes: pd.DataFrame) -> FloatArray:
    if classes.shape[1] == 0:
        return np.full(len(classes), np.nan)
    return classes.max(axis=1, skipna=True).to_numpy(dtype=np.float64)


def classify_section(
    values: pd.DataFrame, water_body: WaterBody | str | npt.ArrayLike = WaterBody.RIVER
) -> FloatArray:
    """Section class by the single-factor method (环办〔2011〕22号; GB 3838-2002 §5.1).

    The worst class among the 21 evaluated items (:data:`EVALUATED_PARAMETERS`) present in a
    row. Reference items (total nitrogen, fecal coliform) in ``values`` are ignored; rate
    them with :func:`classify_parameters`.

    Parameters
    ----------
    values : DataFrame
        One row per section and period, one column per canonical code [mg/L; fecal coliform
        count/L]; NaN means not measured. For a quarter or a year, pass the arithmetic mean
        of each item over the period ([M] in standards.md §3.2).
    water_body : WaterBody, str or array_like
        One kind for all rows or one per row.

    Returns
    -------
    ndarray of float
        Class number 1–6 per row; NaN where no evaluated item was measured. A class judged on
        fewer than the 21 items covers only those items (:func:`label_parameter_set`).

    Raises
    ------
    ValueError
        As :func:`classify_parameters`.

    Examples
    --------
    >>> frame = pd.DataFrame({"do": [6.5, 8.0], "codmn": [3.0, 5.0], "tn": [3.0, 3.0]})
    >>> classify_section(frame, "lake")
    array([2., 3.])
    """
    return _worst(_evaluated_classes(values, water_body))


def limiting_parameters(
    values: pd.DataFrame, water_body: WaterBody | str | npt.ArrayLike = WaterBody.RIVER
) -> list[tuple[Parameter, ...]]:
    """The evaluated items whose class equals the section class, per row.

    Returns
    -------
    list of tuple of Parameter
        In canonical order; empty where no evaluated item was measured.

    Examples
    --------
    >>> frame = pd.DataFrame({"do": [4.0], "codmn": [8.0], "nh3n": [0.2]})
    >>> [[p.value for p in row] for row in limiting_parameters(frame)]
    [['do', 'codmn']]
    """
    classes = _evaluated_classes(values, water_body)
    worst = _worst(classes)
    hits = classes.eq(pd.Series(worst, index=classes.index), axis=0).to_numpy(dtype=bool)
    codes = [Parameter(c) for c in classes.columns]
    return [tuple(p for p, hit in zip(codes, row, strict=True) if hit) for row in hits]


def exceedance_multiple(
    parameter: Parameter | str,
    concentration: npt.ArrayLike,
    reference: WaterClass | int | npt.ArrayLike = WaterClass.III,
    water_body: WaterBody | str | npt.ArrayLike = WaterBody.RIVER,
) -> FloatArray:
    """Exceedance multiple (超标倍数) of one item against a class limit.

    Parameters
    ----------
    parameter : Parameter or str
        Canonical code; not pH or dissolved oxygen.
    concentration : array_like
        Values [mg/L; fecal coliform count/L]; NaN means not measured.
    reference : WaterClass, int or array_like
        Class I–V whose limit is the reference: class III by default (环办〔2011〕22号), or
        the section's target class (GB 3838-2002 §5.2); one for all or one per value.
    water_body : WaterBody, str or array_like
        Selects the total-phosphorus column.

    Returns
    -------
    ndarray of float
        (C − limit) / limit. Only positive values are exceedances; zero or negative means
        the limit is met. NaN where not measured (and total nitrogen of rivers).

    Raises
    ------
    ValueError
        For pH or dissolved oxygen (no multiple is computed for them, [M] in standards.md
        §3.2), a reference that is not a class I–V, or as :func:`classify_parameter`.

    Examples
    --------
    Fluoride 1.64 mg/L, Wuhai city report (standards.md §3.2): 0.64 against class III,
    0.09 against the section's target class V:

    >>> exceedance_multiple("f", [1.64, 1.64], [WaterClass.III, WaterClass.V]).round(2)
    array([0.64, 0.09])
    """
    p = _parameter(parameter)
    if p in _NO_MULTIPLE:
        raise ValueError(f"no exceedance multiple is computed for {p.value}; only for limits")
    c = _concentrations(p, concentration)
    ref = np.broadcast_to(np.atleast_1d(np.asarray(reference, dtype=np.float64)), c.shape)
    if not np.isin(ref, [1, 2, 3, 4, 5]).all():
        raise ValueError(f"reference class {ref[~np.isin(ref, [1, 2, 3, 4, 5])][0]} is not I–V")
    index = ref.astype(np.intp) - 1
    lake = _lake_mask(water_body, c.shape[0])
    limits = np.asarray(TABLE_1_LIMITS[p].limits)[index]
    if p is Parameter.TP:
        limits = np.where(lake, np.asarray(TABLE_1_TP_LAKE_RESERVOIR.limits)[index], limits)
    elif p is Parameter.TN:
        limits = np.where(lake, limits, np.nan)
    with np.errstate(over="ignore"):  # (a value near 1.8e308: an infinite multiple)
        return np.asarray((c - limits) / limits, dtype=np.float64)


def exceedance_multiples(
    values: pd.DataFrame,
    reference: WaterClass | int | npt.ArrayLike = WaterClass.III,
    water_body: WaterBody | str | npt.ArrayLike = WaterBody.RIVER,
) -> pd.DataFrame:
    """Exceedance multiples of the evaluated items present, exceedances only.

    Parameters
    ----------
    values : DataFrame
        One column per canonical code; reference items, pH and dissolved oxygen are skipped.
    reference : WaterClass, int or array_like
        Class I–V to compare with (default III), one for all rows or one per row.
    water_body : WaterBody, str or array_like
        One kind for all rows or one per row.

    Returns
    -------
    DataFrame
        (C − limit) / limit where positive, NaN elsewhere; columns in canonical order.

    Examples
    --------
    >>> frame = pd.DataFrame({"do": [1.0], "nh3n": [1.5], "cod": [10.0]})
    >>> exceedance_multiples(frame).iloc[0].to_dict()
    {'cod': nan, 'nh3n': 0.5}
    """
    columns = [p for p in _known_columns(values) if p in EVALUATED_PARAMETERS]
    columns = [p for p in columns if p not in _NO_MULTIPLE]
    out = {}
    for p in columns:
        multiple = exceedance_multiple(p, values[p.value], reference, water_body)
        out[p.value] = np.where(multiple > 0, multiple, np.nan)
    return pd.DataFrame(out, index=values.index, columns=[p.value for p in columns])


def main_pollution_indicators(
    values: pd.DataFrame,
    water_body: WaterBody | str | npt.ArrayLike = WaterBody.RIVER,
    count: int = 3,
) -> list[tuple[Parameter, ...]]:
    """Main pollution indicators (主要污染指标) of each section (环办〔2011〕22号).

    When a section is worse than class III, the (up to) ``count`` evaluated items with the
    largest exceedance multiples against class III, largest first; ties in canonical order.

    Returns
    -------
    list of tuple of Parameter
        Empty where the section is class III or better, or unclassified.

    Notes
    -----
    pH and dissolved oxygen have no exceedance multiple, so they are never listed even when
    they make the section worse than class III ([M]: how official reports rank them is not
    verified). At river or basin level the indicators are ranked by the share of exceeding
    sections instead ([M]); that ranking is not implemented here.

    Examples
    --------
    >>> frame = pd.DataFrame({"codmn": [12.0], "nh3n": [3.0], "tp": [0.25], "f": [1.1]})
    >>> [[p.value for p in row] for row in main_pollution_indicators(frame)]
    [['nh3n', 'codmn', 'tp']]
    """
    worse = classify_section(values, water_body) > WaterClass.III
    multiples = exceedance_multiples(values, WaterClass.III, water_body)
    codes = [Parameter(c) for c in multiples.columns]
    m = multiples.to_numpy(dtype=np.float64)
    # a stable sort of −multiple keeps tied items in canonical (column) order
    order = np.argsort(np.where(np.isnan(m), np.inf, -m), axis=1, kind="stable")[:, :count]
    listed = ~np.isnan(np.take_along_axis(m, order, axis=1)) & worse[:, np.newaxis]
    return [
        tuple(codes[j] for j, keep in zip(row, keeps, strict=True) if keep)
        for row, keeps in zip(order, listed, strict=True)
    ]


class WaterStatus(StrEnum):
    """Qualitative water-quality status (水质状况) of a section, river or basin."""

    EXCELLENT = "excellent"
    GOOD = "good"
    LIGHTLY_POLLUTED = "lightly_polluted"
    MODERATELY_POLLUTED = "moderately_polluted"
    HEAVILY_POLLUTED = "heavily_polluted"

    @property
    def label_zh(self) -> str:
        """Chinese label: 优, 良好, 轻度污染, 中度污染, 重度污染."""
        return _STATUS_ZH[self]

    @property
    def colour(self) -> str:
        """Display colour of bulletins ([M] in standards.md §3.2)."""
        return _STATUS_COLOUR[self]


_STATUS_ZH = {
    WaterStatus.EXCELLENT: "优",
    WaterStatus.GOOD: "良好",
    WaterStatus.LIGHTLY_POLLUTED: "轻度污染",
    WaterStatus.MODERATELY_POLLUTED: "中度污染",
    WaterStatus.HEAVILY_POLLUTED: "重度污染",
}
_STATUS_COLOUR = {
    WaterStatus.EXCELLENT: "blue",
    WaterStatus.GOOD: "green",
    WaterStatus.LIGHTLY_POLLUTED: "yellow",
    WaterStatus.MODERATELY_POLLUTED: "orange",
    WaterStatus.HEAVILY_POLLUTED: "red",
}
# 环办〔2011〕22号, section status by class ([M] table in standards.md §3.2; Wuhai reports
# confirm II → 优 and 劣V → 重度污染).
_STATUS_BY_CLASS: Final[Mapping[WaterClass, WaterStatus]] = MappingProxyType(
    {
        WaterClass.I: WaterStatus.EXCELLENT,
        WaterClass.II: WaterStatus.EXCELLENT,
        WaterClass.III: WaterStatus.GOOD,
        WaterClass.IV: WaterStatus.LIGHTLY_POLLUTED,
        WaterClass.V: WaterStatus.MODERATELY_POLLUTED,
        WaterClass.WORSE_THAN_V: WaterStatus.HEAVILY_POLLUTED,
    }
)


def section_status(water_class: npt.ArrayLike) -> list[WaterStatus | None]:
    """Qualitative status of sections from their class (环办〔2011〕22号).

    I–II 优, III 良好, IV 轻度污染, V 中度污染, 劣V 重度污染 ([M]: the table is not verified
    against the original text; Wuhai city reports confirm II → 优 and 劣V → 重度污染).

    Parameters
    ----------
    water_class : array_like
        Class numbers 1–6 (e.g. from :func:`classify_section`); NaN for unclassified.

    Returns
    -------
    list of WaterStatus or None
        None where the class is NaN.

    Examples
    --------
    >>> [s.label_zh if s else None for s in section_status([2, 3, 6, float("nan")])]
    ['优', '良好', '重度污染', None]
    """
    classes = np.atleast_1d(np.asarray(water_class, dtype=np.float64))
    return [None if np.isnan(c) else _STATUS_BY_CLASS[WaterClass(int(c))] for c in classes]


@dataclass(frozen=True)
class RiverAssessment:
    """Status of a river or basin (环办〔2011〕22号).

    Attributes
    ----------
    status : WaterStatus
        Qualitative status.
    method : str
        ``"mean"`` (fewer than 5 sections: indicators averaged, then single-factor) or
        ``"share"`` (5 or more sections: shares of section classes).
    section_count : int
        Sections with a class (rows with at least one evaluated item).
    share_i_to_iii, share_worse_than_v : float
        Shares of classified sections in classes I–III and 劣V [fraction 0–1].
    water_class : WaterClass or None
        Class of the averaged indicators (``"mean"`` method only).
    """

    status: WaterStatus
    method: str
    section_count: int
    share_i_to_iii: float
    share_worse_than_v: float
    water_class: WaterClass | None


def river_status(
    section_values: pd.DataFrame, water_body: WaterBody | str = WaterBody.RIVER
) -> RiverAssessment:
    """Status of a river or basin from its sections (环办〔2011〕22号).

    Parameters
    ----------
    section_values : DataFrame
        One row per section (e.g. its period means), one column per canonical code [mg/L].
    water_body : WaterBody or str
        Kind of all sections.

    Returns
    -------
    RiverAssessment

    Raises
    ------
    ValueError
        If no section has an evaluated item.

    Notes
    -----
    With 5 or more classified sections, by the shares of sections (断面水质类别比例法):

    ======================================================  ==========
    I–III share ≥ 90 %                                      优
    75 % ≤ I–III share < 90 %                               良好
    I–III share < 75 % and 劣V share < 20 %                 轻度污染
    I–III share < 75 % and 20 % ≤ 劣V share < 40 %          中度污染
    I–III share < 75 % and 劣V share ≥ 40 %                 重度污染
    ======================================================  ==========

    With fewer, each indicator is averaged over the sections and the averages are rated by
    the single-factor method; the status is that class's :func:`section_status`.

    [M] uncertainties (standards.md §3.2): whether the share method starts at 5 or at more
    than 5 sections (5 used), and whether the 重度污染 row reads "I–III < 60 %" (both
    readings agree except at exactly 60 %/40 %); the colours.

    Examples
    --------
    >>> frame = pd.DataFrame({"nh3n": [0.4, 0.8, 1.2, 2.5, 0.3]})
    >>> result = river_status(frame)
    >>> result.method, result.share_i_to_iii, result.share_worse_than_v
    ('share', 0.6, 0.2)
    >>> result.status.label_zh
    '中度污染'
    >>> river_status(frame.head(2)).water_class
    <WaterClass.III: 3>
    """
    body = WaterBody.parse(water_body)
    classes = classify_section(section_values, body)
    rated = classes[~np.isnan(classes)]
    n = int(rated.size)
    if n == 0:
        raise ValueError("no section has an evaluated item; cannot rate the river")
    good = int((rated <= WaterClass.III).sum())
    worst = int((rated == WaterClass.WORSE_THAN_V).sum())
    shares = (good / n, worst / n)
    if n < 5:
        rows = section_values.loc[~np.isnan(classes)]
        means = rows.mean(axis=0, skipna=True).to_frame().T
        water_class = WaterClass(int(classify_section(means, body)[0]))
        return RiverAssessment(
            _STATUS_BY_CLASS[water_class], "mean", n, *shares, water_class=water_class
        )
    # integer comparisons: the bounds are exact shares
    if 10 * good >= 9 * n:
        status = WaterStatus.EXCELLENT
    elif 4 * good >= 3 * n:
        status = WaterStatus.GOOD
    elif 5 * worst < n:
        status = WaterStatus.LIGHTLY_POLLUTED
    elif 5 * worst < 2 * n:
        status = WaterStatus.MODERATELY_POLLUTED
    else:
        status = WaterStatus.HEAVILY_POLLUTED
    return RiverAssessment(status, "share", n, *shares, water_class=None)


class ParameterSet(StrEnum):
    """Which items an evaluation rests on; a class is comparable only within one set."""

    FULL = "21-item"
    AUTOMATIC = "automatic"
    PARTIAL = "partial"
    NONE = "none"


def label_parameter_set(values: pd.DataFrame | Mapping[str, npt.ArrayLike]) -> list[ParameterSet]:
    """Label the set of items each row's class rests on (standards.md §3.4).

    * ``21-item`` — all 21 evaluated items measured (the official set, 环办〔2011〕22号);
    * ``automatic`` — not the full set, and every item measured is one that national
      automatic stations report: pH, DO, CODMn, NH3-N, TP (:data:`AUTOMATIC_STATION_PARAMETERS`),
      optionally with total nitrogen; such a class is not the official 21-item class;
    * ``partial`` — any other non-empty set of evaluated items;
    * ``none`` — no evaluated item measured.

    Parameters
    ----------
    values : DataFrame or mapping of str to array_like
        One column per canonical code; NaN means not measured.

    Returns
    -------
    list of ParameterSet
        One label per row.

    Examples
    --------
    >>> frame = pd.DataFrame({"do": [6.0, 6.0, None], "nh3n": [0.2, 0.2, None],
    ...                       "cod": [float("nan"), 12.0, None], "tn": [1.0, 1.0, 1.0]})
    >>> [s.value for s in label_parameter_set(frame)]
    ['automatic', 'partial', 'none']
    """
    if isinstance(values, Mapping):  # float arrays (no frame needed)
        columns = _known_columns_of([str(c) for c in values])
        arrays = [np.asarray(values[p.value], dtype=float) for p in columns]
        rows = len(arrays[0]) if arrays else 0
        measured = np.zeros((rows, len(columns)), dtype=bool)
        for j, column in enumerate(arrays):
            measured[:, j] = ~np.isnan(column)
    else:
        columns = _known_columns(values)
        measured = values[[p.value for p in columns]].notna().to_numpy(dtype=bool)
    evaluated = np.array([p in EVALUATED_PARAMETERS for p in columns], dtype=bool)
    automatic = np.array(
        [p in AUTOMATIC_STATION_PARAMETERS or p is Parameter.TN for p in columns], dtype=bool
    )
    has_all_columns = len(EVALUATED_PARAMETERS) == int(evaluated.sum())
    full = measured[:, evaluated].all(axis=1) & has_all_columns
    any_evaluated = measured[:, evaluated].any(axis=1)
    only_automatic = ~measured[:, ~automatic].any(axis=1)
    labels = np.where(
        full,
        ParameterSet.FULL,
        np.where(
            ~any_evaluated,
            ParameterSet.NONE,
            np.where(only_automatic, ParameterSet.AUTOMATIC, ParameterSet.PARTIAL),
        ),
    )
    return [ParameterSet(str(label)) for label in labels]


def half_detection_limit(
    values: pd.DataFrame, below_detection: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Values to rate, with below-detection results at half the detection limit.

    Parameters
    ----------
    values : DataFrame
        Measured values; where ``below_detection`` is true, the detection limit [mg/L].
    below_detection : DataFrame or None
        True where the laboratory reported "below the detection limit" (``0.01L``,
        ``<0.01``); missing cells count as false.

    Returns
    -------
    DataFrame
        ``values`` with the flagged cells halved.

    Notes
    -----
    环办监测函〔2020〕82号 point 7: a result below the detection limit takes part in
    calculation and statistics at half the detection limit ([S]; 环办〔2011〕22号 is silent,
    standards.md §3.2, §7). The same rule serves the ledger's evaluation and
    ``envmon calc water-class``. Results that rest on such values should be flagged.

    Examples
    --------
    >>> values = pd.DataFrame({"hg": [0.00004, 0.00008]})
    >>> half_detection_limit(values, pd.DataFrame({"hg": [True, False]}))["hg"].tolist()
    [2e-05, 8e-05]
    """
    if below_detection is None:
        return values.copy()
    mask = below_detection.reindex(
        index=values.index, columns=values.columns, fill_value=False
    ).eq(True)
    return values.mask(mask, values / 2)


#: Flag a collector writes on a result reported below the detection limit (``0.01L``,
#: ``<0.01``); the stored value is then the detection limit itself (HJ/T 91-2002 practice:
#: the limit followed by L).
BELOW_DETECTION_FLAG: Final = "below_detection_limit"


def below_detection(flags: pd.Series) -> BoolArray:
    """Whether each observation's ``;``-joined flags mark it below the detection limit.

    Examples
    --------
    >>> below_detection(pd.Series(["", "below_detection_limit", "x;below_detection_limit",
    ...                            None])).tolist()
    [False, True, True, False]
    """
    text = flags.fillna("").astype(str)
    # each distinct text split once (a year of readings holds a handful of flag texts)
    codes, distinct = pd.factorize(text.to_numpy(dtype=object))
    found = [BELOW_DETECTION_FLAG in map(str.strip, str(t).split(";")) for t in distinct]
    return np.asarray(found, dtype=bool)[codes] if len(codes) else np.zeros(0, dtype=bool)


def period_means(
    values: pd.DataFrame,
    keys: pd.DataFrame,
    below_detection: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Arithmetic mean of each item per section and period, to rate the period.

    环办〔2011〕22号 (数据统计): a week, ten days or a month with several samples — and a
    quarter or a year — is rated on the arithmetic mean concentration of each item over the
    period, then by the single-factor method (:func:`classify_section`). A section whose
    worst sample was class IV may therefore still meet class III over the month, and one
    whose latest sample is class II may not.

    Parameters
    ----------
    values : DataFrame
        One row per sample, one column per canonical code [mg/L; fecal coliform count/L;
        pH dimensionless]; NaN = not measured (left out of that item's mean).
    keys : DataFrame
        Row for row with ``values`` (aligned by position): the grouping columns, e.g.
        ``site`` and ``period``.
    below_detection : DataFrame, optional
        True where the sample was below the detection limit (``values`` then holds the
        limit); such values enter the mean at half the limit (:func:`half_detection_limit`).

    Returns
    -------
    DataFrame
        One row per key, sorted: the key columns, ``samples`` (samples in the period) and
        the mean of each code.

    Examples
    --------
    Three monthly samples of NH3-N, classes III, IV, II: the mean 1.0 mg/L is class III.

    >>> samples = pd.DataFrame({"nh3n": [0.9, 1.6, 0.5]})
    >>> keys = pd.DataFrame({"site": ["a"] * 3, "period": ["2026-05"] * 3})
    >>> period_means(samples, keys).to_dict("records")
    [{'site': 'a', 'period': '2026-05', 'samples': 3, 'nh3n': 1.0}]
    """
    if len(keys) != len(values):
        raise ValueError(f"keys has {len(keys)} rows, values {len(values)}; expected the same")
    rated = half_detection_limit(values, below_detection).reset_index(drop=True)
    names = list(keys.columns)
    frame = pd.concat([keys.reset_index(drop=True), rated], axis=1)
    grouped = frame.groupby(names, sort=True)
    means = grouped[list(values.columns)].mean()
    means.insert(0, "samples", grouped.size())
    return means.reset_index()
