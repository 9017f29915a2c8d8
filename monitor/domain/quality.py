"""Data-quality checks that flag observations; flags are data, no row is ever dropped.

GB 3095-2026 §6.3 sends outlier handling to HJ 630, HJ 817 and HJ 818, whose texts are not in
``shared/reference/standards.md``; the checks and thresholds below are therefore **project
choices**, each with its reasoning, not quotations of a standard.

================  ==========================================================================
flag              raised when
================  ==========================================================================
``negative``      value < 0 (every parameter except ``ph`` and ``water_temperature``, which
                  have their own range in the ``implausible`` table)
``implausible``   value outside the physically plausible range of its parameter
                  (:data:`monitor.domain.units.PLAUSIBLE_RANGES`, every canonical
                  parameter); above the AQI top breakpoint is *not* enough. Always
                  excluding (:data:`ALWAYS_EXCLUDING_FLAGS`)
``pm25_gt_pm10``  PM2.5 > PM10 + max(10 µg/m³, 10 % of PM10) at the same site and period;
                  both rows are flagged
``stuck``         the same value at a site for ≥ N consecutive hourly periods (air: 6 h;
                  water sensors: 24 h), at or above a floor (:data:`STUCK_FLOORS`)
``spike``         one hourly value > 3 × the larger of both neighbouring hours **and** more
                  than an absolute jump above it (:data:`SPIKE_JUMPS`)
================  ==========================================================================

Which flags take a value out of the statistics (:func:`excluded`). GB 3095-2026 §6.4: *all
valid data must be used* in statistics and evaluation. So envmon's own judgements never
silently change an official figure:

* flags from the source (``source_invalid``, ``maintenance``, ``calibration``, ``o3_swapped``)
  exclude — the analyser or the platform said the value is not valid;
* ``negative`` and ``implausible`` exclude — the number is not a possible concentration
  (:data:`IMPOSSIBLE_FLAGS`; an IAQI cannot be computed from a negative value);
* ``pm25_gt_pm10``, ``stuck`` and ``spike`` are **advisory** (:data:`ADVISORY_FLAGS`): stored,
  shown, counted and alertable, but the value still enters every statistic, unless the
  setting ``[quality] exclude_own_flags`` lists the flag. On one real national day these
  checks would have excluded 162 of 147,618 published values and changed 8 station-day
  statistics that otherwise equal the platform's (``standards.md`` §2.9).

Flags that arrive from the source (``source_invalid``, ``maintenance``, ``calibration``,
``o3_swapped``, ``aqi_mismatch`` and any other code) are kept. The relational checks
(``pm25_gt_pm10``, ``stuck``, ``spike``) only use *usable* values: present, not excluded by a
source flag (``o3_swapped`` only on ``o3`` rows: the collector writes it on every parameter of
the station-hour, see :func:`excluded`), and not ``negative`` or ``implausible``. They never
read the flags this module raises, which is why :func:`quality_flags` is idempotent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Final, NamedTuple

import numpy as np
import numpy.typing as npt

from monitor.domain.units import PLAUSIBLE_RANGES

if TYPE_CHECKING:
    import pandas as pd
else:
    from monitor.domain._deferred import pandas as pd

__all__ = [
    "ADVISORY_FLAGS",
    "ALWAYS_EXCLUDING_FLAGS",
    "DEFAULT_QUALITY_RULES",
    "EXCLUDING_FLAGS",
    "FLAG_ORDER",
    "FLAG_REASONS",
    "IMPOSSIBLE_FLAGS",
    "QC_FLAGS",
    "SOURCE_EXCLUDING_FLAGS",
    "SPIKE_JUMPS",
    "STUCK_FLOORS",
    "STUCK_HOURS",
    "CheckedFlags",
    "QualityRules",
    "checked_flags",
    "excluded",
    "quality_flags",
    "utc_nanoseconds",
]

#: Flags raised by this module, in canonical order.
QC_FLAGS: Final = ("negative", "implausible", "pm25_gt_pm10", "stuck", "spike")
#: Source flags that make a value unusable (the analyser said so).
SOURCE_EXCLUDING_FLAGS: Final = frozenset(
    {"source_invalid", "maintenance", "calibration", "o3_swapped"}
)
#: Canonical order of the known flags; other codes follow, sorted by name.
FLAG_ORDER: Final = (
    "source_invalid",
    "maintenance",
    "calibration",
    "o3_swapped",
    "aqi_mismatch",
    *QC_FLAGS,
)
#: Own checks whose value is not a possible concentration: always excluded.
IMPOSSIBLE_FLAGS: Final = frozenset({"negative", "implausible"})
#: Own checks that only raise a suspicion: advisory by default (GB 3095-2026 §6.4, all valid
#: data must be used); ``[quality] exclude_own_flags`` makes them exclude.
ADVISORY_FLAGS: Final = ("pm25_gt_pm10", "stuck", "spike")
#: Flags that exclude a value whatever the settings: the source's verdicts and the values
#: that are not a measurement (``negative``; ``implausible``, a value outside the physical
#: range of its parameter such as ``tp = 1e308`` mg/L, must never rate a water class).
ALWAYS_EXCLUDING_FLAGS: Final = frozenset(SOURCE_EXCLUDING_FLAGS | IMPOSSIBLE_FLAGS)
#: Flags that exclude a value from statistics by default. ``aqi_mismatch`` is not one of
#: them: it says the source's *published AQI* disagrees with ours, not that the
#: concentration is wrong; nor are the :data:`ADVISORY_FLAGS`. ``o3_swapped`` excludes O3
#: values only when :func:`excluded` is given the parameters.
EXCLUDING_FLAGS: Final = ALWAYS_EXCLUDING_FLAGS

#: One-line reason per flag, for reports and ``envmon status``.
FLAG_REASONS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "source_invalid": "The source marked the value invalid.",
        "maintenance": "The analyser was under maintenance.",
        "calibration": "The analyser was being calibrated.",
        "o3_swapped": "The source's O3 columns were swapped; the value is not the 1-hour O3.",
        "aqi_mismatch": "The source's published AQI differs from the one computed here.",
        "negative": "Negative concentration: below zero beyond any zero drift we accept.",
        "implausible": "Outside the physically plausible range for this parameter.",
        "pm25_gt_pm10": "PM2.5 exceeds PM10 at the same site and hour beyond the tolerance.",
        "stuck": "Same value repeated for too many consecutive hours (analyser flatline).",
        "spike": "Isolated value far above both neighbouring hours.",
    }
)

#: Consecutive equal hourly values that make a ``stuck`` run [h]. Project choice: 6 h for
#: the air pollutants (a zero-variance flatline that long is an analyser or datalogger fault);
#: 24 h for the water sensors whose readings follow a daily cycle. Water chemistry near its
#: detection limit repeats naturally and is not checked.
STUCK_HOURS: Final[Mapping[str, int]] = MappingProxyType(
    {
        **dict.fromkeys(("pm2_5", "pm10", "so2", "no2", "o3"), 6),
        # CO is published to 0.1 mg/m³, so calm winter nights repeat a value for hours.
        "co": 12,
        **dict.fromkeys(("water_temperature", "ph", "do", "conductivity"), 24),
    }
)

#: Values below this never count as ``stuck`` [µg/m³; CO mg/m³]. Published values are
#: rounded (integers µg/m³, CO 0.1 mg/m³), so clean-air readings repeat for hours; the floor
#: is ten rounding steps (CO: twenty).
STUCK_FLOORS: Final[Mapping[str, float]] = MappingProxyType(
    {**dict.fromkeys(("pm2_5", "pm10", "so2", "no2", "o3"), 10.0), "co": 2.0}
)

#: Absolute rise above the larger neighbour needed for a ``spike`` [µg/m³; CO mg/m³].
#: Roughly one to two AQI bands in one hour and back. SO2 is higher because plume
#: fumigation near point sources gives genuine one-hour peaks. Water is not checked: storm
#: runoff gives genuine turbidity and nutrient peaks.
SPIKE_JUMPS: Final[Mapping[str, float]] = MappingProxyType(
    {"pm2_5": 150.0, "pm10": 300.0, "so2": 300.0, "no2": 150.0, "o3": 150.0, "co": 3.0}
)

_HOUR_NS: Final = 3_600 * 10**9
_RANK: Final[Mapping[str, int]] = {name: i for i, name in enumerate(FLAG_ORDER)}
_REQUIRED: Final = ("site", "parameter", "period_start", "period_end", "value", "flags")


@dataclass(frozen=True)
class QualityRules:
    """Thresholds of the quality checks (project choices; see the module docstring).

    Attributes
    ----------
    plausible_ranges : mapping of parameter → (low, high)
        Inclusive plausible range in the canonical unit; parameters absent are not checked.
    negative_exempt : frozenset of str
        Parameters the ``negative`` check skips (their range is in ``plausible_ranges``).
    pm25_pm10_abs_tolerance : float
        Absolute part of the PM2.5 > PM10 tolerance [µg/m³] (10).
    pm25_pm10_rel_tolerance : float
        Relative part, a fraction of PM10 (0.10); the larger of the two applies.
    stuck_hours : mapping of parameter → int
        Equal consecutive hourly values that make a run ``stuck`` [h] (≥ 2).
    stuck_floors : mapping of parameter → float
        Values below this never count as stuck; absent parameters have no floor.
    spike_ratio : float
        A spike exceeds this multiple of the larger neighbour (3; strictly greater).
    spike_jumps : mapping of parameter → float
        ... and exceeds the larger neighbour by more than this; absent parameters are not
        checked.

    Raises
    ------
    ValueError
        If a tolerance or jump is negative, a run shorter than 2 h, the spike ratio below 1,
        or a range has low > high.
    """

    plausible_ranges: Mapping[str, tuple[float, float]] = field(
        default_factory=lambda: PLAUSIBLE_RANGES
    )
    negative_exempt: frozenset[str] = frozenset({"ph", "water_temperature"})
    pm25_pm10_abs_tolerance: float = 10.0
    pm25_pm10_rel_tolerance: float = 0.10
    stuck_hours: Mapping[str, int] = field(default_factory=lambda: STUCK_HOURS)
    stuck_floors: Mapping[str, float] = field(default_factory=lambda: STUCK_FLOORS)
    spike_ratio: float = 3.0
    spike_jumps: Mapping[str, float] = field(default_factory=lambda: SPIKE_JUMPS)

    def __post_init__(self) -> None:
        """Check that the thresholds make sense."""
        if self.pm25_pm10_abs_tolerance < 0 or self.pm25_pm10_rel_tolerance < 0:
            raise ValueError("PM2.5/PM10 tolerances must be ≥ 0")
        if self.spike_ratio < 1:
            raise ValueError(f"spike_ratio must be ≥ 1; got {self.spike_ratio}")
        for name, hours in self.stuck_hours.items():
            if hours < 2:
                raise ValueError(f"stuck_hours[{name!r}] must be ≥ 2 h; got {hours}")
        for name, jump in self.spike_jumps.items():
            if jump < 0:
                raise ValueError(f"spike_jumps[{name!r}] must be ≥ 0; got {jump}")
        for name, (low, high) in self.plausible_ranges.items():
            if low > high:
                raise ValueError(f"plausible_ranges[{name!r}] has low {low} > high {high}")


DEFAULT_QUALITY_RULES: Final = QualityRules()


def _tokens(text: str) -> frozenset[str]:
    return frozenset(t.strip() for t in text.split(";") if t.strip())


def _canonical(tokens: frozenset[str]) -> str:
    return ";".join(sorted(tokens, key=lambda t: (_RANK.get(t, len(_RANK)), t)))


def _flag_text(flags: pd.Series) -> pd.Series:
    return flags.fillna("").astype(str)


def excluded(
    flags: pd.Series,
    parameters: pd.Series | None = None,
    *,
    exclude_own: Iterable[str] = (),
) -> npt.NDArray[np.bool_]:
    """Whether each value is excluded from statistics by its flags.

    Parameters
    ----------
    flags : Series of str
        ``;``-joined flag codes; empty or NaN = no flags.
    parameters : Series of str, optional
        Parameter of each row (aligned by position). ``o3_swapped`` is a verdict on a whole
        station-hour, written on every parameter of it, but only the O3 value is wrong: with
        ``parameters`` it excludes ``o3`` rows only; without, every row carrying it.
    exclude_own : iterable of str
        Advisory flags (:data:`ADVISORY_FLAGS`) that exclude too (setting
        ``[quality] exclude_own_flags``); default none: GB 3095-2026 §6.4, all valid data
        must be used.

    Returns
    -------
    ndarray of bool
        True where any code is in :data:`EXCLUDING_FLAGS` or ``exclude_own``;
        ``aqi_mismatch``, the advisory flags not listed and unknown codes do not exclude.

    Raises
    ------
    ValueError
        If ``parameters`` is not as long as ``flags``, or ``exclude_own`` names a flag that
        is not advisory.

    Examples
    --------
    >>> excluded(pd.Series(["", "aqi_mismatch", "stuck", "aqi_mismatch;maintenance"])).tolist()
    [False, False, False, True]
    >>> excluded(pd.Series(["stuck", "spike"]), exclude_own=["stuck"]).tolist()
    [True, False]
    >>> excluded(pd.Series(["o3_swapped", "o3_swapped"]), pd.Series(["o3", "pm2_5"])).tolist()
    [True, False]
    """
    if parameters is not None and len(parameters) != len(flags):
        raise ValueError(
            f"parameters has {len(parameters)} rows, flags {len(flags)}; expected the same"
        )
    own = _advisory_to_exclude(exclude_own)
    is_o3 = (
        np.ones(len(flags), dtype=bool)
        if parameters is None
        else np.asarray(parameters.to_numpy() == "o3", dtype=bool)
    )
    return _excluding(flags, EXCLUDING_FLAGS | own, is_o3)[0]


def _advisory_to_exclude(exclude_own: Iterable[str]) -> frozenset[str]:
    """The advisory flags chosen to exclude (``[quality] exclude_own_flags``), checked."""
    own = frozenset(exclude_own)
    unknown = sorted(own - set(ADVISORY_FLAGS))
    if unknown:
        raise ValueError(
            f"flag(s) {', '.join(unknown)} cannot be chosen to exclude; expected any of "
            f"{', '.join(ADVISORY_FLAGS)} (the others exclude always or never)"
        )
    return own


def _excluding(
    flags: pd.Series, excluding: frozenset[str], is_o3: npt.NDArray[np.bool_]
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.intp], list[frozenset[str]], list[str]]:
    """Rows excluded by ``excluding`` codes (``o3_swapped`` only where ``is_o3``), and the
    factorised flags (codes per row, tokens and text per distinct text)."""
    codes, uniques = _factorized_flags(flags)
    tokens = [_tokens(u) for u in uniques]
    general = np.array([bool(t & (excluding - {"o3_swapped"})) for t in tokens], dtype=bool)
    swapped = np.array([("o3_swapped" in t) and "o3_swapped" in excluding for t in tokens])
    texts = [str(u) for u in uniques]
    if not len(codes):
        return np.zeros(0, dtype=bool), codes.astype(np.intp), tokens, texts
    out: npt.NDArray[np.bool_] = general[codes] | (swapped[codes] & is_o3)
    return out, codes.astype(np.intp), tokens, texts


def _factorized_flags(flags: pd.Series) -> tuple[npt.NDArray[np.intp], list[str]]:
    """Codes and distinct texts of the flags as :func:`_flag_text` reads them (missing: "").

    Most observations carry no flags: an object column's empty texts are found by one
    comparison and only the others are hashed (issue 17: a national window's 1.5 M rows
    factorised in a fraction of the time). The order of the distinct texts may differ from
    ``pd.factorize``'s; what a code stands for does not.
    """
    data = flags.to_numpy()
    try:
        flagged = np.flatnonzero(data != "") if data.dtype == object and len(data) else None
    except TypeError:  # pandas' NA among the texts (no truth value): factorised whole
        flagged = None
    if flagged is None:
        found, uniques = pd.factorize(_flag_text(flags))
        return found.astype(np.intp), [str(u) for u in uniques]
    codes = np.zeros(len(data), dtype=np.intp)
    if not len(flagged):
        return codes, [""]
    found, uniques = pd.factorize(_flag_text(pd.Series(data[flagged], dtype=object)))
    names = ["", *(str(u) for u in uniques)]
    codes[flagged] = found + 1
    return codes, names


class _Parameters(NamedTuple):
    """Parameter of each row as a code into ``names`` (tables are looked up per name)."""

    codes: npt.NDArray[np.intp]
    names: list[str]

    def lookup(self, table: Mapping[str, float], missing: float) -> npt.NDArray[np.float64]:
        per_name = np.array([table.get(name, missing) for name in self.names], dtype=float)
        looked_up: npt.NDArray[np.float64] = (
            per_name[self.codes] if len(per_name) else np.zeros(0, dtype=float)
        )
        return looked_up

    def isin(self, names: Iterable[str]) -> npt.NDArray[np.bool_]:
        return self.lookup(dict.fromkeys(names, 1.0), 0.0) > 0

    def code(self, name: str) -> int:
        return self.names.index(name) if name in self.names else -1


def quality_flags(
    observations: pd.DataFrame, rules: QualityRules = DEFAULT_QUALITY_RULES
) -> pd.Series:
    """Full flag text of each observation: its source flags plus the quality-check flags.

    Parameters
    ----------
    observations : DataFrame
        Observations frame (``monitor.collectors.base``): ``site``, ``parameter``,
        ``period_start``, ``period_end`` (tz-aware), ``value`` (canonical unit [µg/m³;
        CO mg/m³; water mg/L, pH 1, °C …]; NaN = no number) and ``flags`` (``;``-joined).
    rules : QualityRules
        Thresholds.

    Returns
    -------
    Series of str
        Row for row (same index), the ``;``-joined flags: the input codes kept, the new ones
        added, no duplicates, in :data:`FLAG_ORDER` then other codes by name. Empty string
        when there are none.

    Raises
    ------
    ValueError
        If a required column is missing.

    Notes
    -----
    ``pm25_gt_pm10``: PM2.5 > PM10 + max(a, r · PM10), compared per site and identical
    period. ``stuck`` and ``spike`` only chain hourly periods (end − start = 1 h) where
    each starts when the previous one ends; a gap, a non-hourly or an unusable value
    breaks a run. ``spike``: v > k · max(prev, next) and v − max(prev, next) > jump,
    with both neighbours present and usable. Running the function on its own output gives
    the same flags.

    Examples
    --------
    >>> end = pd.date_range("2026-03-01 01:00", periods=3, freq="h", tz="UTC")
    >>> obs = pd.DataFrame({"site": "A", "parameter": ["pm2_5", "pm10", "so2"],
    ...                     "period_start": end - pd.Timedelta(hours=1), "period_end": end,
    ...                     "value": [-2.0, 6000.0, 9000.0],
    ...                     "flags": ["", "maintenance", "aqi_mismatch"]})
    >>> quality_flags(obs).tolist()
    ['negative', 'maintenance', 'aqi_mismatch;implausible']
    """
    return _checked(observations, rules).flags()


class CheckedFlags(NamedTuple):
    """Flags of each observation, factorised: the row's code into the distinct (source
    flags, quality-check flags) pairs, each pair's flag text, and its source flag text."""

    codes: npt.NDArray[np.intp]
    texts: npt.NDArray[np.object_]
    source_texts: npt.NDArray[np.object_]
    rows: pd.Index
    o3: npt.NDArray[np.bool_]

    def flags(self) -> pd.Series:
        """What :func:`quality_flags` returns."""
        out = self.texts[self.codes] if len(self.codes) else np.array([], dtype=object)
        return pd.Series(out, index=self.rows, name="flags", dtype=object)

    def excluded(self, exclude_own: Iterable[str] = ()) -> npt.NDArray[np.bool_]:
        """What :func:`excluded` gives for these flags and the rows' parameters, judged
        once per distinct flag text instead of once per row."""
        own = _advisory_to_exclude(exclude_own)
        excluding = EXCLUDING_FLAGS | own
        tokens = [_tokens(str(t)) for t in self.texts]
        general = np.array([bool(t & (excluding - {"o3_swapped"})) for t in tokens], dtype=bool)
        swapped = np.array(
            [("o3_swapped" in t) and "o3_swapped" in excluding for t in tokens], dtype=bool
        )
        if not len(self.codes):
            return np.zeros(0, dtype=bool)
        out: npt.NDArray[np.bool_] = general[self.codes] | (swapped[self.codes] & self.o3)
        return out

    def added(self) -> npt.NDArray[np.object_]:
        """The flag text where it differs from the source's flags (envmon added or
        reordered codes), else an empty text."""
        changed = np.array(
            [t != s for t, s in zip(self.texts, self.source_texts, strict=True)], dtype=bool
        )
        if not len(self.codes):
            return np.array([], dtype=object)
        out: npt.NDArray[np.object_] = np.where(changed, self.texts, "")[self.codes]
        return out


def checked_flags(
    observations: pd.DataFrame, rules: QualityRules = DEFAULT_QUALITY_RULES
) -> CheckedFlags:
    """:func:`quality_flags`, factorised (:class:`CheckedFlags`): also what :func:`excluded`
    gives for the result (``parameters`` the rows' ``parameter``) and the texts that
    differ from the source flags, each computed once per distinct flag pair (issue 17)."""
    return _checked(observations, rules)


def _checked(observations: pd.DataFrame, rules: QualityRules) -> CheckedFlags:
    missing = [c for c in _REQUIRED if c not in observations.columns]
    if missing:
        raise ValueError(f"observations lack column(s) {missing}; expected {', '.join(_REQUIRED)}")
    n = len(observations)
    codes_p, names_p = _factorized(observations["parameter"])
    parameter = _Parameters(codes_p, names_p)
    value = pd.to_numeric(observations["value"], errors="coerce").to_numpy(dtype=float)
    source_excluded, codes, source_tokens, source_uniques = _excluding(
        observations["flags"], SOURCE_EXCLUDING_FLAGS, parameter.codes == parameter.code("o3")
    )

    present = ~np.isnan(value)
    with np.errstate(invalid="ignore"):
        exempt = parameter.isin(rules.negative_exempt)
        negative = present & (value < 0) & ~exempt
        low = parameter.lookup({k: r[0] for k, r in rules.plausible_ranges.items()}, -np.inf)
        high = parameter.lookup({k: r[1] for k, r in rules.plausible_ranges.items()}, np.inf)
        # A negative concentration is reported once, as ``negative``.
        implausible = present & ~negative & ((value < low) | (value > high))
    usable = present & ~source_excluded & ~negative & ~implausible

    start = utc_nanoseconds(observations["period_start"])
    end = utc_nanoseconds(observations["period_end"])
    site = _factorized(observations["site"])[0]
    pm = _pm25_gt_pm10(site, parameter, start, end, value, usable, rules)
    stuck, spike = _series_checks(site, parameter, start, end, value, usable, rules)

    mask = np.zeros(n, dtype=np.int64)  # bit i: QC_FLAGS[i]
    for bit, found in enumerate((negative, implausible, pm, stuck, spike)):
        mask |= found.astype(np.int64) << bit
    pair = codes.astype(np.int64) * (1 << len(QC_FLAGS)) + mask
    pair_codes, pairs = pd.factorize(pair)
    texts = np.array(
        [
            _canonical(
                source_tokens[p >> len(QC_FLAGS)]
                | {f for i, f in enumerate(QC_FLAGS) if p >> i & 1}
            )
            for p in pairs.tolist()
        ],
        dtype=object,
    )
    source_texts = np.array([source_uniques[p >> len(QC_FLAGS)] for p in pairs.tolist()])
    return CheckedFlags(
        pair_codes.astype(np.intp),
        texts,
        source_texts.astype(object),
        observations.index,
        np.asarray(observations["parameter"].to_numpy() == "o3", dtype=bool),
    )


def _factorized(column: pd.Series) -> tuple[npt.NDArray[np.intp], list[str]]:
    """Codes and names of a text column; a categorical's own codes (no hashing again)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy().astype(np.intp)
        names = [str(x) for x in column.cat.categories]
        if (codes < 0).any():  # missing: a name of its own, as pd.factorize would give
            codes = np.where(codes < 0, len(names), codes)
            names.append("nan")
        return codes, names
    found, uniques = pd.factorize(column.astype(str).to_numpy(), use_na_sentinel=False)
    return found.astype(np.intp), [str(x) for x in uniques]


def utc_nanoseconds(times: pd.Series) -> npt.NDArray[np.int64]:
    """UTC nanoseconds since the epoch (NaT → minimum int64): the order the relational
    checks (runs, spikes) put readings in."""
    converted = pd.to_datetime(times, utc=True).dt.as_unit("ns")
    ns: npt.NDArray[np.int64] = converted.to_numpy(dtype="datetime64[ns]").view(np.int64)
    return ns


def _pm25_gt_pm10(
    site: npt.NDArray[np.intp],
    parameter: _Parameters,
    start: npt.NDArray[np.int64],
    end: npt.NDArray[np.int64],
    value: npt.NDArray[np.float64],
    usable: npt.NDArray[np.bool_],
    rules: QualityRules,
) -> npt.NDArray[np.bool_]:
    """Rows of PM2.5/PM10 pairs (same site and period) where PM2.5 exceeds the tolerance."""
    flagged = np.zeros(len(value), dtype=bool)
    fine = np.flatnonzero((parameter.codes == parameter.code("pm2_5")) & usable)
    coarse = np.flatnonzero((parameter.codes == parameter.code("pm10")) & usable)
    if not len(fine) or not len(coarse):
        return flagged
    row_25, row_10 = _pairs(site, start, end, fine, coarse)
    pm10 = value[row_10]
    tolerance = np.maximum(rules.pm25_pm10_abs_tolerance, rules.pm25_pm10_rel_tolerance * pm10)
    bad = value[row_25] > pm10 + tolerance
    flagged[row_25[bad]] = True
    flagged[row_10[bad]] = True
    return flagged


def _pairs(
    site: npt.NDArray[np.intp],
    start: npt.NDArray[np.int64],
    end: npt.NDArray[np.int64],
    left: npt.NDArray[np.intp],
    right: npt.NDArray[np.intp],
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Every pair of rows (one of ``left``, one of ``right``) with the same site and period:
    an inner join. One number per (site, start, end) looked up in an index when each side
    has a key once (the rule: one value per site, parameter and period), else a merge."""
    rows = np.concatenate([left, right])
    site_codes, sites = pd.factorize(site[rows])
    start_codes, starts = pd.factorize(start[rows])
    end_codes, ends = pd.factorize(end[rows])
    if len(sites) * len(starts) * len(ends) < 2**62:  # (Python integers: no overflow)
        key = (site_codes.astype(np.int64) * len(starts) + start_codes) * len(ends) + end_codes
        left_key, right_key = pd.Index(key[: len(left)]), pd.Index(key[len(left) :])
        if left_key.is_unique and right_key.is_unique:
            found = right_key.get_indexer(left_key)
            matched = found >= 0
            return left[matched], right[found[matched]]
    keys = {"site": site, "start": start, "end": end}
    pairs = pd.DataFrame({k: v[left] for k, v in keys.items()} | {"row": left}).merge(
        pd.DataFrame({k: v[right] for k, v in keys.items()} | {"row": right}),
        on=list(keys),
        suffixes=("_left", "_right"),
    )
    return pairs["row_left"].to_numpy(np.intp), pairs["row_right"].to_numpy(np.intp)


def _series_checks(
    site: npt.NDArray[np.intp],
    parameter: _Parameters,
    start: npt.NDArray[np.int64],
    end: npt.NDArray[np.int64],
    value: npt.NDArray[np.float64],
    usable: npt.NDArray[np.bool_],
    rules: QualityRules,
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """``stuck`` and ``spike`` over each site's and parameter's chain of hourly periods."""
    n = len(value)
    stuck = np.zeros(n, dtype=bool)
    spike = np.zeros(n, dtype=bool)
    if n == 0:
        return stuck, spike
    series_id = site.astype(np.int64) * max(len(parameter.names), 1) + parameter.codes
    order = np.lexsort((start, series_id))
    sid, s, e, v, ok = series_id[order], start[order], end[order], value[order], usable[order]
    hourly = (e - s) == _HOUR_NS
    # linked[i]: row i (sorted) directly follows row i-1 in the same hourly chain.
    linked = np.zeros(n, dtype=bool)
    linked[1:] = (sid[1:] == sid[:-1]) & hourly[1:] & hourly[:-1] & (s[1:] == e[:-1])
    linked &= ok & np.roll(ok, 1)
    linked[0] = False

    run_hours = parameter.lookup(rules.stuck_hours, np.inf)[order]
    floor = parameter.lookup(rules.stuck_floors, -np.inf)[order]
    candidate = ok & hourly & (v >= floor)
    same = np.zeros(n, dtype=bool)
    same[1:] = linked[1:] & candidate[1:] & candidate[:-1] & (v[1:] == v[:-1])
    run = np.cumsum(~same)
    length = np.bincount(run)[run]
    stuck[order] = candidate & (length >= run_hours)

    jump = parameter.lookup(rules.spike_jumps, np.nan)[order]
    has_next = np.append(linked[1:], False)
    previous = np.roll(v, 1)
    following = np.roll(v, -1)
    # A huge implausible neighbour (1e308) overflows the ratio to inf: no spike, no warning.
    with np.errstate(invalid="ignore", over="ignore"):
        neighbour = np.maximum(previous, following)
        spike[order] = (
            linked
            & has_next
            & ~np.isnan(jump)
            & (v > rules.spike_ratio * neighbour)
            & (v - neighbour > jump)
        )
    return stuck, spike
