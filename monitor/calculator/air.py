"""``envmon calc aqi``: hourly or daily AQI from a CSV of 1-hour concentrations.

Input contract: a header row; columns ``site``, ``time`` and any of ``so2, no2, co, o3,
pm10, pm2_5`` (1-hour means; µg/m³, CO mg/m³). ``time`` is ISO 8601, Asia/Shanghai when
it has no offset, the hour's label as the national platform writes it (the end of the
hour). Empty cell = missing. Other columns are ignored.

Output contract:

* ``--scale hour`` — one row per input row: ``site,time,aqi,level,category,
  primary_pollutants``, ``iaqi_<pollutant>`` for each input pollutant, ``complete`` (all
  six pollutants present), then ``standard``, ``category_en``, ``colour`` and
  ``input_problems``.
* ``--scale day`` — one row per site and date: ``site,date``, the daily statistics
  ``so2,no2,co,pm10,pm2_5,o3_1h_max,o3_8h_max``, their validity ``<statistic>_valid``, then
  ``aqi,level,category,primary_pollutants,standard``, then ``exceedance_pollutants``
  (HJ 633-2012 only), ``iaqi_*``, ``<statistic>_count``, ``complete``, ``category_en``,
  ``colour``.

``level`` is the AQI level 1–6, ``category`` its official Chinese name (优 … 严重污染).

With ``areas`` (``--areas``), one row per area and hour or day follows the site rows:
``site`` is the area id, the concentrations are the mean of the member stations' values
(hourly values; for days, the stations' *valid* daily statistics), the AQI is computed
from those means, and ``sites`` tells how many stations were averaged.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Final

import numpy as np
import numpy.typing as npt
import polars as pl

from monitor.calculator.table import (
    _FROM_1992_NS,
    _UTC_OFFSET_NS,
    PROBLEM_SEPARATOR,
    CalcResult,
    InputTable,
    first_problem,
    read_input_csv,
    summarise_problems,
    text_column,
    unquoted_texts,
)
from monitor.domain._threads import in_threads
from monitor.domain.aqi import (
    CONCENTRATION_DECIMALS,
    HJ633_2026_EFFECTIVE,
    AqiStandard,
    HourlyMethod,
    MissingPolicy,
    aqi_level,
    daily_aqi_arrays,
    hourly_aqi_arrays,
    hourly_aqi_of_keys,
    level_categories,
    level_colours,
    pollutant_names,
    round_half_even,
    standards_for_dates,
)
from monitor.domain.daily import (
    DAILY_MEANS,
    DAILY_STATISTICS,
    DEFAULT_RULES,
    Mda8Windows,
    _exceeds,
    _local_labels,
    _mda8,
    area_means,
    moving_means,
    row_means,
)
from monitor.domain.pollutants import POLLUTANTS, Pollutant
from monitor.errors import InputError

if TYPE_CHECKING:
    import pandas as pd
else:  # imported on first use: the hourly AQI of plain files is computed without pandas
    from monitor.domain._deferred import pandas as pd

POLLUTANT_COLUMNS: Final = tuple(p.value for p in POLLUTANTS)

#: Header spellings accepted for the canonical columns (compared in lower case).
ALIASES: Final = {
    "pm2.5": "pm2_5",
    "pm25": "pm2_5",
    "pm2_5_1h": "pm2_5",
    "pm10_1h": "pm10",
    "so2_1h": "so2",
    "no2_1h": "no2",
    "co_1h": "co",
    "o3_1h": "o3",
}


def format_numbers(values: npt.ArrayLike) -> pl.Series:
    """Numbers as short text for CSV output (``75``, ``0.8``: ``{:.10g}``); empty where NaN.

    Whole numbers are converted column-wise; the others (fractions, huge, ±inf written as
    the largest float) one by one.

    Examples
    --------
    >>> format_numbers([75.0, 0.8, float("nan"), 1e12, -0.0]).to_list()
    ['75', '0.8', None, '1e+12', '-0']
    """
    x = np.asarray(values, dtype=float)
    with np.errstate(invalid="ignore"):
        ints = x.astype(np.int64)  # NaN, ±inf and huge values do not compare equal below
    missing = np.isnan(x)
    same = ints == x
    if len(x) and np.count_nonzero(same) + np.count_nonzero(missing) == len(x):
        # whole numbers and NaN (as the AQI columns): the range and -0 checks at once
        low, high = np.fmin.reduce(x), np.fmax.reduce(x)
        if low > -(10**10) and high < 10**10 and (low > 0 or not np.signbit(x[x == 0]).any()):
            return pl.Series(x, nan_to_null=True).cast(pl.Int64)
    whole = same & (np.abs(ints) < 10**10)
    zeros = np.flatnonzero(whole & (ints == 0))
    whole[zeros] = ~np.signbit(x[zeros])  # -0 is written "-0"
    others = np.flatnonzero(~whole & ~missing)
    if not len(others):  # written as the integers they are
        return pl.Series(x, nan_to_null=True).cast(pl.Int64)
    numbers = pl.Series(np.where(whole, ints, 0))
    if missing.any():
        numbers = numbers.set(pl.Series(missing), None)
    text = numbers.cast(pl.String)
    # each distinct value formatted once (equal values are the same float: the only
    # equal floats of different bits, 0 and -0, are not both here: 0 is whole)
    distinct, at = np.unique(np.nan_to_num(x[others]), return_inverse=True)
    texts = pl.Series([f"{v:.10g}" for v in distinct], dtype=pl.String)
    return text.scatter(others, texts.gather(at.reshape(-1)))


def _flags(values: npt.ArrayLike) -> pl.Series:
    codes = np.asarray(values, dtype=bool).astype(np.int64)
    return pl.Series(["false", "true"], dtype=pl.String).gather(codes)


def _gather(
    names: Callable[[npt.NDArray[np.int64]], npt.NDArray[np.object_]],
    codes: npt.ArrayLike,
    size: int,
) -> pl.Series:
    """``names(codes)`` as a text column, looking up each of the ``size`` codes once."""
    table = text_column(names(np.arange(size, dtype=np.int64)))
    return table.gather(np.asarray(codes, dtype=np.int64))


def _categories(level: npt.NDArray[np.int8], language: str = "zh") -> pl.Series:
    return _gather(lambda lv: level_categories(lv.astype(np.int8), language), level, 7)


def _colours(level: npt.NDArray[np.int8]) -> pl.Series:
    return _gather(lambda lv: level_colours(lv.astype(np.int8)), level, 7)


def _pollutants(mask: npt.ArrayLike) -> pl.Series:
    return _gather(pollutant_names, mask, 1 << len(POLLUTANTS))


def _standards(
    standard: str, dates: pd.Series, usable: npt.NDArray[np.bool_]
) -> npt.NDArray[np.object_]:
    if standard == "auto":
        local = dates.dt.tz_localize(None) if dates.dt.tz is not None else dates
        filled = local.where(pd.Series(usable, index=dates.index), pd.Timestamp("2000-01-01"))
        return standards_for_dates(filled)
    return np.full(len(dates), AqiStandard(standard), dtype=object)


def compute_aqi_csv(
    path: Path,
    *,
    standard: str = "auto",
    scale: str = "hour",
    hourly_method: str = "platform",
    missing: str = "present",
    mda8_windows: str = "within-day",
    areas: Mapping[str, Sequence[str]] | None = None,
) -> CalcResult:
    """Read an hourly concentration CSV and compute hourly or daily AQI (see module doc).

    ``areas`` (area id → the site codes or names whose values make its average) adds one row
    per area and hour or day, with ``site`` = the area id and a ``sites`` column.
    """
    if standard not in {"auto", *(s.value for s in AqiStandard)}:
        raise InputError(f"unknown standard {standard!r}; expected hj633-2012, hj633-2026 or auto")
    table = read_input_csv(path, POLLUTANT_COLUMNS, aliases=ALIASES, coded=True)
    if scale == "hour":
        return _hourly(table, standard, HourlyMethod(hourly_method), MissingPolicy(missing), areas)
    if scale == "day":
        return _daily(
            table, standard, MissingPolicy(missing), Mda8Windows(mda8_windows), path, areas
        )
    raise InputError(f"unknown scale {scale!r}; expected hour or day")


def _series_frame(table: InputTable, rows: npt.NDArray[np.bool_]) -> pd.DataFrame:
    """``site``, ``time`` (tz-aware) and the values of ``rows``, with a fresh index."""
    at = np.flatnonzero(rows)
    frame = pd.DataFrame(table.value_matrix[at], columns=list(table.columns), copy=False)
    frame.insert(0, "time", table.times.iloc[at].reset_index(drop=True))
    sites = table.sites.gather(at)
    distinct = sites.unique(maintain_order=True)
    codes = sites.cast(pl.Enum(distinct.to_list())).to_physical().to_numpy()
    # one str object per distinct site: the domain's grouping hashes each once
    shared = np.array(distinct.to_list(), dtype=object)[codes]
    frame.insert(0, "site", pd.Series(shared, index=frame.index, dtype=object))
    return frame


_HOUR_NS: Final = 3_600_000_000_000


def _off_the_hour(local_ns: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """Which local times are not on the hour."""
    off: npt.NDArray[np.bool_] = local_ns % _HOUR_NS != 0
    return off


def _local_day(local_ns: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Local dates (days since 1970-01-01) of local times."""
    day: npt.NDArray[np.int64] = np.floor_divide(local_ns, _DAY_NS)
    return day


def _local_hour(local_ns: npt.NDArray[np.int64]) -> npt.NDArray[np.intp]:
    """Hours of the day (0–23) of local times."""
    hour: npt.NDArray[np.intp] = (np.remainder(local_ns, _DAY_NS) // _HOUR_NS).astype(np.intp)
    return hour


def _on_hour_unique(table: InputTable) -> tuple[npt.NDArray[np.bool_], dict[int, str]]:
    """Rows usable as hourly series, and the problems of the others (by row)."""
    usable = table.time_ok & (table.sites != "").to_numpy()
    # on the hour in local time (as times.dt.floor("h") == times, without re-localising)
    off_hour = usable & table.of_local_times(_off_the_hour)
    notes: dict[int, str] = {}
    off_rows = np.flatnonzero(off_hour)
    for i, text in zip(map(int, off_rows), table.cells("time", off_rows), strict=True):
        notes[i] = f"time {text!r} is not on the hour; expected HH:00 labels"
    usable &= ~off_hour
    # the same site text ⇔ the same code
    site_codes = (
        table.site_codes.row_codes
        if table.site_codes is not None
        else table.sites.cast(pl.Categorical).to_physical().to_numpy()
    )
    duplicated = np.zeros(table.row_count, dtype=bool)
    every = bool(usable.all())  # (then the arrays themselves, not copies)
    if not _distinct_site_hours(
        site_codes if every else site_codes[usable],
        table.times_ns if every else table.times_ns[usable],
    ):
        # the same instant ⇔ the same UTC nanoseconds (NaT: one value, as pandas compares it)
        first = pl.DataFrame({"site": site_codes, "t": table.times_ns}).select(
            pl.struct("site", "t").is_first_distinct()
        )
        duplicated = usable & ~first.to_series().to_numpy()
    if duplicated.any():
        keys = pd.DataFrame({"site": site_codes, "t": table.times_ns})
        line = pd.Series(table.row_names(np.arange(table.row_count)), index=keys.index)
        first_line = (
            line[usable].groupby([keys["site"][usable], keys["t"][usable]]).transform("first")
        )
        position = np.cumsum(usable) - 1  # row i's place among the usable rows
        for i in map(int, np.flatnonzero(duplicated)):
            notes[i] = (
                f"duplicate of {first_line.iat[int(position[i])]} (same site and hour); ignored"
            )
    usable &= ~duplicated
    return usable, notes


def _distinct_site_hours(
    site_codes: npt.NDArray[np.integer], times_ns: npt.NDArray[np.int64]
) -> bool:
    """Whether no two rows share site and hour, for rows on the hour (in UTC too: the
    offsets of Asia/Shanghai are whole hours); False also when not cheaply known (then the
    caller looks for the duplicates)."""
    if not len(times_ns):
        return True
    hours = times_ns // _HOUR_NS
    first, span = int(hours.min()), int(hours.max() - hours.min()) + 1
    sites = int(site_codes.max()) + 1
    if sites * span > 4 * len(hours):  # a table of every site and hour would be large
        return False
    key = site_codes.astype(np.int64) * span + (hours - first)
    return bool(np.bincount(key, minlength=1).max() <= 1)


def _without_duplicates(notes: dict[int, str]) -> dict[int, str]:
    """The notes without "duplicate of line …" (hour rows are rated one by one)."""
    return {i: n for i, n in notes.items() if not n.startswith("duplicate")}


def _merge_problems(table: InputTable, extra: dict[int, str]) -> npt.NDArray[np.object_]:
    merged = table.problem_texts.copy()
    for i, note in extra.items():
        merged[i] = PROBLEM_SEPARATOR.join(p for p in (merged[i], note) if p)
    return merged


def _moving_means(series: pd.DataFrame) -> tuple[pd.DataFrame, npt.NDArray[np.intp]]:
    """:func:`moving_means` of ``series`` (``site``, ``time``, values; one row per site and
    instant), also where two instants of a site share a local hour label: Asia/Shanghai's
    summer-time fall-back (1986–1991), e.g. 1986-09-13T16:00Z and 17:00Z are both 01:00.

    The hour label then holds the later row, as ``--scale day`` counts it (the windows of
    the following hours take its value); each earlier row still gets moving means, of the
    windows ending with its own value. Returns the means (row for row with ``series``) and
    for each row the position of the later row holding its label (−1 for the others).
    """
    labels = _local_labels(series["time"])
    keys = pd.DataFrame({"site": series["site"].to_numpy(), "t": labels})
    holder = np.full(len(series), -1, dtype=np.intp)
    if not keys.duplicated().any():
        return moving_means(series), holder
    keys["instant"], keys["at"] = series["time"].to_numpy(), np.arange(len(series))
    ordered = keys.sort_values("instant", kind="stable")
    groups = ordered.groupby(["site", "t"], sort=False)
    rank = np.empty(len(series), dtype=np.int64)  # 0: the latest row of its label, 1: …
    rank[ordered["at"].to_numpy()] = groups.cumcount(ascending=False).to_numpy()
    size = np.empty(len(series), dtype=np.int64)
    size[ordered["at"].to_numpy()] = groups["at"].transform("size").to_numpy()
    holder[ordered["at"].to_numpy()] = groups["at"].transform("last").to_numpy()
    holder[rank == 0] = -1
    result = moving_means(series[rank == 0])
    means = pd.DataFrame(np.nan, index=series.index, columns=result.columns)
    means.loc[rank == 0] = result.to_numpy()
    for r in range(1, int(rank.max()) + 1):  # the earlier rows, in their own windows
        swapped = (rank == r) | ((rank == 0) & (size <= r))
        result = moving_means(series[swapped])
        means.loc[rank == r] = result.to_numpy()[(rank == r)[swapped]]
    return means, holder


def _shared_hour_notes(
    series: pd.DataFrame,
    holder: npt.NDArray[np.intp],
    rows: npt.NDArray[np.intp],
    table: InputTable,
) -> dict[int, str]:
    """Per table row (``rows``: the table row of each row of ``series``), what
    :func:`_moving_means` did with an earlier row of a local hour held twice."""
    notes: dict[int, str] = {}
    for i in map(int, np.flatnonzero(holder >= 0)):
        label = _local_labels(series["time"].iloc[[i]])[0]
        line = table.row_names([rows[holder[i]]])[0]
        notes[int(rows[i])] = (
            f"local time {label:%Y-%m-%d %H:%M} also labels {line} "
            "(summer-time change-back): this row's moving means end with it; "
            "the later hours' take "
            f"{line}'s value"
        )
    return notes


def _problem_rows(
    table: InputTable, extra: dict[int, str], merged: npt.NDArray[np.object_]
) -> npt.NDArray[np.intp]:
    """The rows of :func:`_merge_problems`' texts that are not empty, ascending (from the
    rows the checks found, when known: the texts are not compared)."""
    if table.problem_rows is None:
        return np.flatnonzero(merged != "")
    return np.union1d(table.problem_rows, np.fromiter(extra, dtype=np.intp, count=len(extra)))


def _needs_moving_means(
    method: HourlyMethod, values: Mapping[str, npt.NDArray[np.float64]] | pd.DataFrame
) -> bool:
    # HJ 633-2012 replaces SO2 1-hour IAQI above 800 µg/m³ by the 24-hour one.
    return method is HourlyMethod.STANDARD_TEXT or (
        "so2" in values and bool((np.asarray(values["so2"]) > 800).any())
    )


def _complete(values: Mapping[str, npt.NDArray[np.float64]], n: int) -> npt.NDArray[np.bool_]:
    complete = np.ones(n, dtype=bool)
    for column in POLLUTANT_COLUMNS:
        complete &= ~np.isnan(values[column]) if column in values else False
    return complete


def _hour_rows(
    site: pl.Series,
    time: pl.Series,
    values: Mapping[str, npt.NDArray[np.float64]],
    standards: AqiStandard | npt.NDArray[np.object_],
    method: HourlyMethod,
    missing: MissingPolicy,
    present: list[str],
    joined: bool = False,
    keyed: Mapping[str, _Keyed] | None = None,
) -> dict[str, pl.Series]:
    """Output columns of ``--scale hour`` for concentrations (and moving means) in ``values``
    (float columns of ``len(site)`` rows).

    ``joined``: the columns that follow from the level (and the completeness and rule set)
    as two columns of their cells joined by commas, ``level,category`` and
    ``complete,standard,category_en,colour`` (for :attr:`CalcResult.unquoted` results,
    which write them as they are: the same text, fewer cells to build and write).

    ``keyed`` (every column of ``present``, ``method`` PLATFORM, one rule set
    ``standards``): the values by the codes of their texts (:func:`_keyed_values`); each
    distinct value is then rated and its IAQI written once, the rows gather them.
    """
    n = len(site)
    iaqi_texts: dict[str, Callable[[], pl.Series]] = {}
    if keyed is not None and isinstance(standards, AqiStandard):
        per_key, result = hourly_aqi_of_keys(
            {c: k.values for c, k in keyed.items()},
            {c: k.codes for c, k in keyed.items()},
            n,
            standards,
            missing=missing,
        )
        standard_codes = np.full(n, list(AqiStandard).index(standards), dtype=np.int8)
        iaqi_texts = {
            f"iaqi_{c}": partial(_gathered_numbers, per_key[f"iaqi_{c}"], keyed[c].codes)
            for c in present
        }
    else:
        result, standard_codes = hourly_aqi_arrays(
            values, n, standards, method=method, missing=missing
        )
    level = result["level"].astype(np.int8)
    iaqi = [f"iaqi_{column}" for column in present]
    if method is HourlyMethod.STANDARD_TEXT:
        iaqi.append("iaqi_o3_8h")

    def head() -> dict[str, pl.Series]:
        """``aqi,level,category,primary_pollutants`` as one column when they can be, or
        as ``aqi``, ``level,category`` and ``primary_pollutants``."""
        keys = _aqi_keys(result["aqi"], result["primary_mask"])
        if keys is not None:
            return {",".join(_BY_AQI): _by_aqi(keys)}
        return {
            "aqi": format_numbers(result["aqi"]),
            ",".join(_BY_LEVEL): _by_level(level),
            "primary_pollutants": _pollutants(result["primary_mask"]),
        }

    # (the columns of a text are named where it is made; "": a dict of columns)
    texts: dict[str, Callable[[], pl.Series | dict[str, pl.Series]]] = {}
    if joined:
        texts[""] = head
    else:
        texts["aqi"] = lambda: format_numbers(result["aqi"])
        texts["level"] = lambda: _level_text(level)
        texts["category"] = lambda: _categories(level)
        texts["primary_pollutants"] = lambda: _pollutants(result["primary_mask"])
    texts |= {name: iaqi_texts.get(name) or partial(format_numbers, result[name]) for name in iaqi}
    if joined:
        texts[",".join(_BY_COMPLETE_STANDARD_LEVEL)] = lambda: _by_complete_standard_level(
            _complete(values, n), standard_codes, level
        )
    else:
        texts["complete"] = lambda: _flags(_complete(values, n))
        texts["standard"] = lambda: pl.Series([s.value for s in AqiStandard]).gather(
            standard_codes
        )
        texts["category_en"] = lambda: _categories(level, "en")
        texts["colour"] = lambda: _colours(level)
    # each column on its own (numpy and polars release the GIL): on every core
    built = in_threads(lambda make: make(), texts.values())
    columns = {"site": site, "time": time}
    for name, made in zip(texts, built, strict=True):
        columns |= made if isinstance(made, dict) else {name: made}
    return columns


@dataclasses.dataclass(frozen=True)
class _Keyed:
    """A measurement column by the codes of its texts: the value of each code (that of its
    rows) and each row's code."""

    values: npt.NDArray[np.float64]
    codes: npt.NDArray[np.uint32]


def _keyed_values(table: InputTable, present: Sequence[str]) -> dict[str, _Keyed] | None:
    """The columns ``present`` by the codes of their texts (:attr:`InputTable.value_codes`:
    rows of one code hold the same value, :attr:`InputTable.text_values` as the reader found
    it; the two are set together), or None unless the reader coded them all."""
    codes, known = table.value_codes or {}, table.text_values or {}
    if not present or any(c not in codes or c not in known for c in present):
        return None
    return {c: _Keyed(known[c], codes[c].row_codes) for c in present}


def _gathered_numbers(
    per_key: npt.NDArray[np.float64], codes: npt.NDArray[np.uint32]
) -> pl.Series:
    """:func:`format_numbers` of ``per_key[codes]``: each key's text made once (the text
    of a number does not depend on the others), gathered for the rows (as text: the same
    cells, which the writer copies instead of formatting each number)."""
    return format_numbers(per_key).cast(pl.String).gather(codes)


_BY_AQI: Final = ("aqi", "level", "category", "primary_pollutants")
_BY_LEVEL: Final = ("level", "category")
_AQI_TOP: Final = 500  # (HJ 633: the AQI is an integer 0–500)


def _aqi_keys(
    aqi_values: npt.ArrayLike, primary_mask: npt.ArrayLike
) -> npt.NDArray[np.int64] | None:
    """Per row, ``(AQI + 1) · 64 + primary mask`` (AQI −1 where missing), which decides the
    texts of ``aqi,level,category,primary_pollutants``; None unless every AQI is an integer
    0–500 or missing."""
    aqi = np.asarray(aqi_values, dtype=np.float64)
    if not len(aqi) or not 0 <= np.fmin.reduce(aqi) <= np.fmax.reduce(aqi) <= _AQI_TOP:
        return None  # (also when every AQI is missing: fmin gives NaN)
    whole = np.nan_to_num(aqi, nan=-1.0)
    key = whole.astype(np.int64)
    if not np.array_equal(key, whole):
        return None
    zeros = key == 0
    if zeros.any() and np.signbit(whole[zeros]).any():  # (-0 is written "-0")
        return None
    key += 1
    key <<= len(POLLUTANTS)
    key += np.asarray(primary_mask, dtype=np.uint8)
    return key


def _by_aqi(key: npt.NDArray[np.int64]) -> pl.Series:
    """``aqi,level,category,primary_pollutants`` per row of :func:`_aqi_keys`, as
    :func:`format_numbers`, :func:`_level_text`, :func:`_categories` and
    :func:`_pollutants` write them (each text made once, for the keys present)."""
    masks = 1 << len(POLLUTANTS)
    present = np.flatnonzero(np.bincount(key, minlength=(_AQI_TOP + 2) * masks))
    aqi = present // masks - 1.0
    aqi[aqi < 0] = np.nan
    level = aqi_level(aqi)
    names, pollutants = level_categories(level), pollutant_names(present % masks)
    texts = np.full((_AQI_TOP + 2) * masks, "", dtype=object)
    texts[present] = [
        f"{'' if np.isnan(a) else int(a)},{lv if lv > 0 else ''},{name},{codes}"
        for a, lv, name, codes in zip(aqi, level, names, pollutants, strict=True)
    ]
    return pl.Series(texts.tolist(), dtype=pl.String).gather(pl.Series(key))


_BY_COMPLETE_STANDARD_LEVEL: Final = ("complete", "standard", "category_en", "colour")


def _by_level(level: npt.NDArray[np.int8]) -> pl.Series:
    """``level,category`` per row, as :func:`_level_text` and :func:`_categories` write
    them (``,`` for level 0)."""
    levels = np.arange(7, dtype=np.int8)
    names = level_categories(levels)
    table = [f"{lv if lv > 0 else ''},{name}" for lv, name in zip(levels, names, strict=True)]
    return pl.Series(table, dtype=pl.String).gather(pl.Series(level))


def _by_complete_standard_level(
    complete: npt.NDArray[np.bool_],
    standard_codes: npt.NDArray[np.int8],
    level: npt.NDArray[np.int8],
) -> pl.Series:
    """``complete,standard,category_en,colour`` per row, as :func:`_flags`, the standard's
    name, :func:`_categories` and :func:`_colours` write them."""
    levels = np.arange(7, dtype=np.int8)
    by_level = [
        f"{en},{colour}"
        for en, colour in zip(level_categories(levels, "en"), level_colours(levels), strict=True)
    ]
    table = [
        f"{flag},{standard.value},{tail}"
        for flag in ("false", "true")
        for standard in AqiStandard
        for tail in by_level
    ]
    key = (complete.astype(np.int64) * len(AqiStandard) + standard_codes) * len(levels) + level
    return pl.Series(table, dtype=pl.String).gather(pl.Series(key))


def _level_text(level: npt.NDArray[np.int8]) -> pl.Series:
    return pl.Series(level.astype(np.int64)).set(pl.Series(level <= 0), None)


def _table(columns: dict[str, pl.Series]) -> pl.DataFrame:
    return pl.DataFrame([s.alias(name) for name, s in columns.items()])


def _input_text(column: pl.Series) -> pl.Series:
    """Cells as read; empty ones as no value (so they are written as nothing)."""
    return column.replace("", None)


def _hourly(
    table: InputTable,
    standard: str,
    method: HourlyMethod,
    missing: MissingPolicy,
    membership: Mapping[str, Sequence[str]] | None,
) -> CalcResult:
    present: list[str] = [c for c in POLLUTANT_COLUMNS if c in table.columns]
    time_ok = table.time_ok
    computable = time_ok if standard == "auto" else np.ones(table.row_count, dtype=bool)
    values: dict[str, npt.NDArray[np.float64]] = {c: table.value(c) for c in present}
    if _needs_moving_means(method, values):
        series_rows, notes = _on_hour_unique(table)
        if series_rows.any():
            series = _series_frame(table, series_rows).reset_index(drop=True)
            moving, holder = _moving_means(series)
            notes |= _shared_hour_notes(series, holder, np.flatnonzero(series_rows), table)
            for column in moving.columns:
                means = np.full(table.row_count, np.nan)
                means[series_rows] = moving[column].to_numpy()
                values[column] = means
    else:
        series_rows, notes = None, _off_hour_notes(table)
    if not computable.any():
        raise InputError(
            "no row has a usable time, so --standard auto cannot choose the rules; "
            + first_problem(table)
        )
    kept = _without_duplicates(notes)
    problems = _merge_problems(table, kept)
    flagged = _problem_rows(table, kept, problems)  # (the rows with problems, found once)
    unquoted = table.unquoted and membership is None and unquoted_texts(problems[flagged])
    standards = _row_standards(standard, table)
    keyed = (
        _keyed_values(table, present)
        if method is HourlyMethod.PLATFORM
        and series_rows is None
        and isinstance(standards, AqiStandard)
        else None
    )
    columns = _hour_rows(
        _input_text(table.text["site"]),
        _input_text(table.text["time"]),
        values,
        standards,
        method,
        missing,
        present,
        joined=unquoted and bool(computable.all()),
        keyed=keyed,
    )
    # Without a usable time, --standard auto cannot choose the rule set.
    if not computable.all():
        blank = pl.Series(~computable)
        for column in list(columns)[2:]:
            if column != "complete":
                columns[column] = columns[column].set(blank, None)
    columns["input_problems"] = _problem_column(problems, flagged)
    warnings = summarise_problems(
        dataclasses.replace(table, problem_texts=problems), flagged=flagged
    )
    out = _table(columns)
    if membership is not None:
        if series_rows is None:
            series_rows, _ = _on_hour_unique(table)
        series = _series_frame(table, series_rows).reset_index(drop=True)
        area = _area_hour_rows(series, membership, standard, method, missing, present)
        out = pl.concat([out, area], how="diagonal_relaxed")
    return CalcResult(out, warnings, unquoted=unquoted)


def _problem_column(
    problems: npt.NDArray[np.object_], rows: npt.NDArray[np.intp] | None = None
) -> pl.Series:
    """The problem texts as a text column, no value where a row has none (as
    :func:`text_column`, setting only the few rows with problems)."""
    if rows is None:
        rows = np.flatnonzero(problems != "")
    column = pl.repeat(None, len(problems), dtype=pl.String, eager=True)
    return column.scatter(rows, problems[rows].tolist()) if len(rows) else column


def _off_hour_notes(table: InputTable) -> dict[int, str]:
    """The problems of rows whose time is not on the hour (as :func:`_on_hour_unique`
    finds them, without looking for duplicates)."""
    usable = table.time_ok & (table.sites != "").to_numpy()
    off_rows = np.flatnonzero(usable & table.of_local_times(_off_the_hour))
    return {
        i: f"time {text!r} is not on the hour; expected HH:00 labels"
        for i, text in zip(map(int, off_rows), table.cells("time", off_rows), strict=True)
    }


_HJ633_2026_LOCAL_NS: Final = int(
    np.datetime64(HJ633_2026_EFFECTIVE.isoformat(), "ns").astype(np.int64)
)


def _row_standards(standard: str, table: InputTable) -> AqiStandard | npt.NDArray[np.object_]:
    """The rule set of every row: ``standard``, or with ``auto`` the one in force on the
    row's local date (as :func:`standards_for_dates`; 2012 where the time is not valid, the
    row is then not rated)."""
    if standard != "auto":
        return AqiStandard(standard)
    is_2026 = table.time_ok & table.of_local_times(lambda t: t >= _HJ633_2026_LOCAL_NS)
    if not is_2026.any():
        return AqiStandard.HJ633_2012
    if is_2026.all():
        return AqiStandard.HJ633_2026
    choices = np.empty(2, dtype=object)  # element-wise, so the members stay enum members
    choices[0], choices[1] = AqiStandard.HJ633_2012, AqiStandard.HJ633_2026
    rows: npt.NDArray[np.object_] = choices[is_2026.astype(np.intp)]
    return rows


def _area_hour_rows(
    series: pd.DataFrame,
    membership: Mapping[str, Sequence[str]],
    standard: str,
    method: HourlyMethod,
    missing: MissingPolicy,
    present: list[str],
) -> pl.DataFrame:
    """Area rows: the member sites' mean concentration per hour, then the AQI."""
    means = area_means(series, membership, ["time"], present)
    values = means[present].copy()
    notes: list[str | None] = [None] * len(means)
    if _needs_moving_means(method, values) and len(means):
        moving, holder = _moving_means(means.rename(columns={"area": "site"}))
        values = pd.concat([values, moving], axis=1)
        for i in map(int, np.flatnonzero(holder >= 0)):  # (as _shared_hour_notes)
            label = _local_labels(means["time"].iloc[[i]])[0]
            notes[i] = (
                f"local time {label:%Y-%m-%d %H:%M} also labels a later row "
                "(summer-time change-back): this row's moving means end with it; "
                "the later hours' take the later row's value"
            )
    times = means["time"]
    rows = _hour_rows(
        text_column(means["area"].to_numpy()),
        text_column(times.dt.strftime("%Y-%m-%dT%H:%M").to_numpy()),
        {c: values[c].to_numpy(dtype=float) for c in values.columns},
        _standards(standard, times, np.ones(len(means), dtype=bool)),
        method,
        missing,
        present,
    )
    rows["input_problems"] = pl.Series(notes, dtype=pl.String)
    rows["sites"] = format_numbers(_site_counts(means, present))
    return _table(rows)


def _site_counts(means: pd.DataFrame, columns: Sequence[str]) -> npt.NDArray[np.int64]:
    counts: npt.NDArray[np.int64] = (
        means[[f"{c}_sites" for c in columns]].max(axis=1).to_numpy(dtype=np.int64)
    )
    return counts


FloatColumns = Mapping[str, npt.NDArray[np.float64]]


def _day_rows(
    sites: pl.Series,
    dates: pl.Series,
    standards: AqiStandard | npt.NDArray[np.object_],
    exact: FloatColumns,
    valid: Mapping[str, npt.NDArray[np.bool_]],
    counts: FloatColumns,
    missing: MissingPolicy,
) -> dict[str, pl.Series]:
    """Output columns of ``--scale day``: the statistics rounded as published, and the AQI
    rated on the unrounded ones ``exact`` where valid (HJ 633-2012 rates the unrounded
    means, standards.md §2.9; HJ 633-2026 rounds them first, inside :func:`daily_aqi`)."""
    n = len(sites)
    valid_stats = {s: np.where(valid[s], exact[s], np.nan) for s in DAILY_STATISTICS}
    result, standard_codes = daily_aqi_arrays(valid_stats, n, standards, missing=missing)
    level = result["level"].astype(np.int8)
    is_2012 = standard_codes == list(AqiStandard).index(AqiStandard.HJ633_2012)
    out = {"site": sites, "date": dates}
    for s in DAILY_STATISTICS:  # as round_daily_statistics rounds them (GB/T 8170)
        pollutant = Pollutant(s.split("_1h")[0].split("_8h")[0])
        out[s] = format_numbers(round_half_even(exact[s], CONCENTRATION_DECIMALS[pollutant]))
    for s in DAILY_STATISTICS:
        out[f"{s}_valid"] = _flags(valid[s])
    out["aqi"] = format_numbers(result["aqi"])
    out["level"] = _level_text(level)
    out["category"] = _categories(level)
    out["primary_pollutants"] = _pollutants(result["primary_mask"])
    out["standard"] = pl.Series([s.value for s in AqiStandard]).gather(standard_codes)
    out["exceedance_pollutants"] = _pollutants(
        np.where(is_2012, result["exceedance_mask"].astype(np.int64), 0)
    )
    for column in [c for c in result if c.startswith("iaqi_")]:
        out[column] = format_numbers(result[column])
    for s in DAILY_STATISTICS:
        out[f"{s}_count"] = format_numbers(np.asarray(counts[s], dtype=float))
    out["complete"] = _flags(result["complete"])
    out["category_en"] = _categories(level, "en")
    out["colour"] = _colours(level)
    return out


_DAY_NS: Final = 24 * _HOUR_NS
_HJ633_2026_DAY: Final = int(np.datetime64(HJ633_2026_EFFECTIVE.isoformat(), "D").astype(np.int64))


@dataclasses.dataclass(frozen=True)
class _SiteDays:
    """:func:`daily_statistics` (unrounded) of the usable rows, as arrays: one row per site
    and date, sorted by site text and date."""

    sites: pl.Series
    days: npt.NDArray[np.int64]  # local date, days since 1970-01-01
    exact: dict[str, npt.NDArray[np.float64]]
    valid: dict[str, npt.NDArray[np.bool_]]
    counts: dict[str, npt.NDArray[np.float64]]


def _site_days(
    table: InputTable, usable: npt.NDArray[np.bool_], windows: Mda8Windows
) -> _SiteDays:
    """The daily statistics of :func:`daily_statistics` computed on the checked arrays
    (its rows, values and validity: a test compares them), with its hour matrices and 8-hour
    windows (:func:`monitor.domain.daily._mda8`) and :data:`DEFAULT_RULES`.

    The hours are already on the hour and unique per site (:func:`_on_hour_unique`), which
    :func:`daily_statistics` would check again.
    """
    rules = DEFAULT_RULES
    every = bool(usable.all())  # then the columns themselves, not copies
    at: npt.NDArray[np.intp] | slice = slice(None) if every else np.flatnonzero(usable)
    # (local date and hour, once per distinct time text when the times are the texts')
    day = table.of_local_times(_local_day)[at]
    hour = table.of_local_times(_local_hour)[at]
    if table.site_codes is not None:  # each distinct text's place in their sorted order
        distinct = table.site_codes
        ranked = distinct.texts.arg_sort().to_numpy()  # by code point, as pandas sorts str
        names = distinct.texts.gather(ranked)
        rank = np.empty(len(ranked), dtype=np.int64)
        rank[ranked] = np.arange(len(ranked))
        site_code = rank[distinct.row_codes[at]]
    else:
        site_texts = table.sites if every else table.sites.filter(pl.Series(usable))
        names = site_texts.unique().sort()  # by code point, as pandas sorts str
        site_code = site_texts.cast(pl.Enum(names.to_list())).to_physical().to_numpy()
    first_day = int(day.min())
    n_days = int(day.max()) - first_day + 2
    key = site_code.astype(np.int64) * n_days + (day - first_day)
    if len(names) * n_days <= 4 * len(key):  # a dense table of the keys is small
        seen = np.zeros(len(names) * n_days, dtype=bool)
        seen[key] = True
        unique_keys = np.flatnonzero(seen)
        row = (np.cumsum(seen) - 1)[key]
    else:
        unique_keys, row = np.unique(key, return_inverse=True)
    row = row.astype(np.intp)
    n = len(unique_keys)
    exact: dict[str, npt.NDArray[np.float64]] = {}
    valid: dict[str, npt.NDArray[np.bool_]] = {}
    counts: dict[str, npt.NDArray[np.float64]] = {}

    flat = row * 24 + hour  # as _hour_matrix places them, the place computed once
    # two rows on one local hour (the summer-time fall-back before 1992: distinct instants)
    # share a place, which holds the later one's value, as the hour matrix does; from 1992
    # on, local time is UTC+8 throughout and a site's rows are on distinct UTC hours
    shared_places = (
        len(flat) > 0
        and int(table.times_ns[at].min()) < _FROM_1992_NS - _UTC_OFFSET_NS
        and int(np.bincount(flat, minlength=n * 24).max()) > 1
    )

    def hours(name: str) -> npt.NDArray[np.float64]:
        matrix = np.full((n, 24), np.nan)
        if name in table.columns:
            matrix.reshape(-1)[flat] = table.value(name)[at]
        return matrix

    # each row's hours: the count of a statistic's values is theirs less its missing ones
    row_hours = None if shared_places else np.bincount(row, minlength=n)

    def daily_mean(name: str) -> None:
        # np.nansum(hours(name), axis=1) without the NaN: the same sums of the same places
        # (a missing hour adds 0 there too), and the count of the values present
        matrix = np.zeros((n, 24))
        count = np.zeros(n, dtype=np.int64)
        if name in table.columns and shared_places:  # the values the places hold
            placed = hours(name)
            held = ~np.isnan(placed)
            matrix = np.where(held, placed, 0.0)
            count = held.sum(axis=1)
        elif name in table.columns:
            values = table.value(name)[at]
            present = ~np.isnan(values)
            matrix.reshape(-1)[flat] = np.where(present, values, 0.0)
            assert row_hours is not None  # (no shared places)
            count = row_hours - np.bincount(row[~present], minlength=n)
        exact[name] = row_means(matrix, count)
        valid[name] = count >= rules.min_hours_per_day
        counts[name] = count.astype(np.float64)

    def ozone(_: str) -> None:
        # hours × days (the layout of _mda8), filled as hours() fills its matrix
        by_hour = np.full((24, n), np.nan)
        if "o3" in table.columns:
            by_hour.reshape(-1)[hour * n + row] = table.value("o3")[at]
        o3 = by_hour.T
        o3_count = (~np.isnan(by_hour)).sum(axis=0)
        o3_max = np.full(n, np.nan)
        o3_max[o3_count > 0] = np.nanmax(np.ascontiguousarray(o3[o3_count > 0]), axis=1)
        exact["o3_1h_max"] = o3_max
        valid["o3_1h_max"] = (o3_count >= rules.min_hours_per_day) | _exceeds(
            o3_max, rules.o3_1h_limit
        )
        counts["o3_1h_max"] = o3_count.astype(np.float64)
        mda8, n_windows = _mda8(by_hour, unique_keys.astype(np.int64), windows, rules)
        needed = (
            rules.min_windows_within_day
            if windows is Mda8Windows.WITHIN_DAY
            else rules.min_windows_ending_in_day
        )
        exact["o3_8h_max"] = mda8
        valid["o3_8h_max"] = (n_windows >= needed) | _exceeds(mda8, rules.o3_8h_limit)
        counts["o3_8h_max"] = n_windows.astype(np.float64)

    # each statistic on its own (numpy releases the GIL): on every core
    in_threads(
        lambda name: ozone(name) if name == "o3" else daily_mean(name), ["o3", *DAILY_MEANS]
    )
    order = [*DAILY_MEANS, "o3_1h_max", "o3_8h_max"]  # (the keys in this order, as before)
    exact = {name: exact[name] for name in order}
    valid = {name: valid[name] for name in order}
    counts = {name: counts[name] for name in order}
    return _SiteDays(
        names.gather(unique_keys // n_days),
        first_day + unique_keys % n_days,
        exact,
        valid,
        counts,
    )


def _day_standards(
    standard: str, days: npt.NDArray[np.int64]
) -> AqiStandard | npt.NDArray[np.object_]:
    """The rule set of each day (as :func:`standards_for_dates` of the dates)."""
    if standard != "auto":
        return AqiStandard(standard)
    choices = np.empty(2, dtype=object)  # element-wise, so the members stay enum members
    choices[0], choices[1] = AqiStandard.HJ633_2012, AqiStandard.HJ633_2026
    rows: npt.NDArray[np.object_] = choices[(days >= _HJ633_2026_DAY).astype(np.intp)]
    return rows


def _daily(
    table: InputTable,
    standard: str,
    missing: MissingPolicy,
    windows: Mda8Windows,
    path: Path,
    membership: Mapping[str, Sequence[str]] | None,
) -> CalcResult:
    usable, notes = _on_hour_unique(table)
    problems = _merge_problems(table, notes)
    if not usable.any():
        first = first_problem(dataclasses.replace(table, problem_texts=problems))
        raise InputError(
            f"{path}: no row usable for daily statistics (site and an hourly time needed); "
            + first
        )
    days = _site_days(table, usable, windows)
    dates = pl.Series(days.days.astype(np.int32), dtype=pl.Date).cast(pl.String)
    out = _table(
        _day_rows(
            days.sites,
            dates,
            _day_standards(standard, days.days),
            days.exact,
            days.valid,
            days.counts,
            missing,
        )
    )
    if membership is not None:
        exact = pd.DataFrame({"site": days.sites.to_numpy(), **days.exact})
        exact.insert(1, "date", pd.to_datetime(days.days, unit="D"))
        valid = pd.DataFrame(days.valid)
        area = _area_day_rows(exact, valid, membership, standard, missing)
        out = pl.concat([out, area], how="diagonal_relaxed")
    warnings = summarise_problems(
        dataclasses.replace(table, problem_texts=problems),
        flagged=_problem_rows(table, notes, problems),
    )
    return CalcResult(
        out,
        warnings,
        unquoted=table.unquoted and membership is None,
    )


def _area_day_rows(
    exact: pd.DataFrame,
    valid: pd.DataFrame,
    membership: Mapping[str, Sequence[str]],
    standard: str,
    missing: MissingPolicy,
) -> pl.DataFrame:
    """Area rows: the mean of the member sites' *valid* daily statistics, then the AQI.

    ``<statistic>_count`` of an area row is the number of sites averaged; the statistic is
    valid when at least one site's is.
    """
    site_values = exact[["site", "date"]].copy()
    for s in DAILY_STATISTICS:
        site_values[s] = exact[s].where(valid[s])
    means = area_means(site_values, membership, ["date"], list(DAILY_STATISTICS))
    rows = _day_rows(
        text_column(means["area"].to_numpy()),
        text_column(means["date"].dt.strftime("%Y-%m-%d").to_numpy()),
        _standards(standard, means["date"], np.ones(len(means), dtype=bool)),
        {s: means[s].to_numpy(dtype=float) for s in DAILY_STATISTICS},
        {s: means[s].notna().to_numpy() for s in DAILY_STATISTICS},
        {s: means[f"{s}_sites"].to_numpy(dtype=float) for s in DAILY_STATISTICS},
        missing,
    )
    rows["sites"] = format_numbers(_site_counts(means, DAILY_STATISTICS))
    return _table(rows)


__all__ = ["ALIASES", "POLLUTANT_COLUMNS", "Pollutant", "compute_aqi_csv", "format_numbers"]
