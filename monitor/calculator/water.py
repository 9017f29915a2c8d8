"""``envmon calc water-class``: surface-water class of each row of a CSV export.

Input: ``site,time``, optional ``water_body`` (``river`` when absent or empty, ``lake``,
``reservoir``), optional ``target_class`` (I–V) and any of the 23 canonical item codes of
:class:`monitor.domain.water_quality.Parameter` [mg/L; ``fecal_coliform`` count/L; ``ph``
dimensionless]. Values below the detection limit may be written ``0.01L`` or ``<0.01``.

Output: every input column as read (text as in the file), then

=============================  ==============================================================
``water_class``                ``I`` … ``V`` or ``劣V`` from the evaluated items present
                               (环办〔2011〕22号, single-factor); empty if none is usable
``limiting_parameters``        items whose class equals ``water_class``, ``;``-joined
``exceedance_multiples``       ``code=multiple`` against the ``--reference`` class (default
                               III), 3 decimals, exceeding items only
``water_status``               优, 良好, 轻度污染, 中度污染, 重度污染
``main_pollution_indicators``  worse than III: up to 3 items with the largest multiples vs III
``parameter_set``              ``21-item``, ``automatic`` or ``partial``
``reference_items``            classes of total nitrogen and fecal coliform, e.g. ``tn=IV``;
                               ``tn=not evaluated (river)`` for rivers
``below_detection``            items reported below the detection limit (rated at half of it)
``target_met``                 only with a ``target_class`` column: ``true``/``false``
``exceedance_multiples_target``  only with ``target_class``: multiples against that class
``input_problems``             what was wrong with the row; its results are then empty
=============================  ==============================================================
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Final, TypeVar

import numpy as np
import numpy.typing as npt
import polars as pl

from monitor.calculator.table import (
    PROBLEM_SEPARATOR,
    CalcResult,
    InputTable,
    _Distinct,
    read_input_csv,
    summarise_problems,
    unquoted_texts,
)
from monitor.domain._threads import in_threads
from monitor.domain.units import PLAUSIBLE_RANGES, WATER_PARAMETERS
from monitor.domain.water_quality import (
    EVALUATED_PARAMETERS,
    REFERENCE_PARAMETERS,
    Parameter,
    ParameterSet,
    WaterBody,
    WaterClass,
    class_limits,
    classify_parameter,
    exceedance_multiple,
    half_detection_limit,
    label_parameter_set,
    section_status,
)
from monitor.errors import InputError

if TYPE_CHECKING:
    import pandas as pd
else:  # imported on first use: plain files are rated without pandas
    from monitor.domain._deferred import pandas as pd

FloatArray = npt.NDArray[np.float64]

#: Added columns, in output order (the target columns only with a ``target_class`` input).
RESULT_COLUMNS = (
    "water_class",
    "limiting_parameters",
    "exceedance_multiples",
    "water_status",
    "main_pollution_indicators",
    "parameter_set",
    "reference_items",
    "below_detection",
    "target_met",
    "exceedance_multiples_target",
    "input_problems",
)
_TARGET_COLUMNS = ("target_met", "exceedance_multiples_target")
_CONTROL_COLUMNS = ("site", "time", "water_body", "target_class")
_CODES = tuple(p.value for p in Parameter)


def compute_water_class_csv(path: Path, *, target_reference: str = "III") -> CalcResult:
    """Rate every row of a CSV file by GB 3838-2002 / 环办〔2011〕22号.

    Parameters
    ----------
    path : Path
        Input CSV (UTF-8 or GBK), see the module docstring.
    target_reference : str
        Class I–V the ``exceedance_multiples`` column compares with (default ``III``).

    Returns
    -------
    CalcResult
        The output table (all text) and one warning line per flagged row.

    Raises
    ------
    InputError
        If the file as a whole cannot be used (see
        :func:`monitor.calculator.table.read_input_csv`), the reference is not I–V, or an
        input column has the name of an output column.
    """
    try:
        reference = WaterClass.from_code(target_reference)
    except ValueError as err:
        raise InputError(f"--reference: {err}") from err
    if reference is WaterClass.WORSE_THAN_V:
        raise InputError("--reference: 劣V has no limit; expected I, II, III, IV or V")
    table = read_input_csv(path, _CODES, allow_below_detection=True, lines=True)
    clash = [c for c in RESULT_COLUMNS if c in table.text.columns]
    if clash:
        raise InputError(
            f"{path}: column(s) {', '.join(clash)} are output columns of this calculation; "
            "rename or remove them"
        )

    row_problems = _RowProblems(table.problem_texts)
    bodies = _water_bodies(table.text, row_problems)
    targets = _target_classes(table.text, row_problems)
    _check_ph(table, row_problems)
    _check_plausible(table, row_problems)
    problems = row_problems.joined()
    table = dataclasses.replace(table, problem_texts=problems)
    ok = problems == ""
    flagged = np.flatnonzero(~ok)
    n, header = table.row_count, table.text.columns

    unquoted = table.unquoted and unquoted_texts(problems[flagged])
    # (an empty name is written as polars names an unnamed column, ``column_3``: not joined)
    if table.lines is not None and unquoted and all(header):
        # every input cell as read is the input line itself: one column, written as it is
        inputs = [table.lines.alias(",".join(header))]
        # (the cells' texts are not needed any more: their memory serves the results)
        table = dataclasses.replace(table, text=pl.DataFrame())
    else:
        inputs = [table.text[c].replace("", None) for c in header]

    has_target = "target_class" in header
    names = [c for c in RESULT_COLUMNS if has_target or c not in _TARGET_COLUMNS]
    results = {}
    if ok.any():
        # every row is rated, those with problems as if nothing were measured; their
        # results are then left empty
        results = _rate_table(table, ok, bodies, targets if has_target else None, reference)
    # the few problem texts set into an empty column (as text_column(problems) reads them)
    results["input_problems"] = pl.repeat(None, n, dtype=pl.String, eager=True)
    if len(flagged):
        results["input_problems"] = results["input_problems"].scatter(
            flagged, problems[flagged].tolist()
        )
    for c in names:
        if c not in results:  # (no row rated)
            results[c] = pl.repeat(None, n, dtype=pl.String, eager=True)
    out = pl.DataFrame(inputs + [results[c].alias(c) for c in names])
    if not ok.all():
        keep = pl.lit(pl.Series(ok))
        out = out.with_columns(
            pl.when(keep).then(pl.col(c)).alias(c) for c in names if c != "input_problems"
        )
    unknown = [c for c in header if c not in _CONTROL_COLUMNS + _CODES]
    warnings = summarise_problems(table, flagged=flagged)
    if unknown:
        warnings = (f"column(s) not used: {', '.join(unknown)}", *warnings)
    return CalcResult(out, warnings, unquoted=unquoted)


class _RowProblems:
    """Problems per row, kept as joined text; only rows with problems are touched."""

    def __init__(self, joined: npt.NDArray[np.object_]) -> None:
        self._joined = joined.copy()

    def append(self, row: int, problem: str) -> None:
        before = self._joined[row]
        self._joined[row] = f"{before}{PROBLEM_SEPARATOR}{problem}" if before else problem

    def joined(self) -> npt.NDArray[np.object_]:
        return self._joined


def rate_samples(
    values: pd.DataFrame,
    below: pd.DataFrame,
    bodies: Sequence[WaterBody],
    targets: npt.NDArray[np.float64] | None,
    reference: WaterClass,
) -> pd.DataFrame:
    """Class, limiting parameters, multiples … of water samples (one row per sample).

    ``values`` has one column per canonical code [mg/L], the detection limit itself where
    ``below`` marks a result below it (same shape, or empty); such results are rated at half
    the limit (:func:`half_detection_limit`, 环办监测函〔2020〕82号 point 7). ``bodies`` the
    water body per row; ``targets`` the target class per row (NaN = none) or None. The one
    code path of the CSV calculator, the daemon's evaluation of each reading and the period
    classes of reports and targets, so all give the same answer. Texts are ``""`` where
    there is nothing to say.
    """
    kinds = {kind: k for k, kind in enumerate(_BODY_KINDS)}
    body_index = np.fromiter(
        (kinds[WaterBody(b)] for b in bodies), dtype=np.int8, count=len(values)
    )
    params = sorted((Parameter(str(c)) for c in values.columns), key=list(Parameter).index)
    c = {p: values[p.value].to_numpy(dtype=np.float64) for p in params}
    # the domain halves the columns with a flag (the others are left as they are)
    flagged = [p.value for p in params if p.value in below and below[p.value].eq(True).any()]
    if flagged:
        halved = half_detection_limit(values[flagged], below)
        c |= {Parameter(code): halved[code].to_numpy(dtype=np.float64) for code in flagged}
    listed = {code: below[code].to_numpy(dtype=bool) for code in _CODES if code in below.columns}
    items = {p: _Keyed(x, body_index, None) for p, x in c.items()}
    columns = _rate_columns(items, listed, len(values), body_index, targets, reference)
    return pd.DataFrame(
        {name: column.fill_null("").to_numpy() for name, column in columns.items()},
        index=values.index,
        dtype=object,
    )


#: The kinds of water body, in the order of the body codes of :func:`_rate_columns`.
_BODY_KINDS: Final = tuple(WaterBody)


def _depends_on_body(parameter: Parameter) -> bool:
    """Whether GB 3838-2002 Table 1 rates ``parameter`` differently by water body (as the
    domain's :func:`class_limits` says: total phosphorus; total nitrogen, rated for lakes
    and reservoirs only)."""
    limits = set()
    for kind in _BODY_KINDS:
        try:
            limits.add(id(class_limits(parameter, kind)))
        except ValueError:
            limits.add(-1)  # no class limits for this kind (or for any: pH)
    return len(limits) > 1


def _per_body(
    rate: Callable[[npt.NDArray[np.float64], WaterBody, npt.NDArray[np.intp] | None], FloatArray],
    c: npt.NDArray[np.float64],
    parameter: Parameter,
    body_index: npt.NDArray[np.int8],
) -> FloatArray:
    """``rate(c, kind, rows)`` of the domain for each kind of water body present; one call
    for all rows where the item is rated the same whatever the body."""
    if not _depends_on_body(parameter):
        return rate(c, WaterBody.RIVER, None)
    out = np.full(len(c), np.nan)
    for k, kind in enumerate(_BODY_KINDS):
        rows = np.flatnonzero(body_index == k)
        if len(rows):
            out[rows] = rate(c[rows], kind, rows)
    return out


def _classify(
    parameter: Parameter, c: FloatArray, kind: WaterBody, rows: npt.NDArray[np.intp] | None
) -> FloatArray:
    return classify_parameter(parameter, c, kind)


def _multiple(
    parameter: Parameter,
    reference: FloatArray,
    c: FloatArray,
    kind: WaterBody,
    rows: npt.NDArray[np.intp] | None,
) -> FloatArray:
    return exceedance_multiple(parameter, c, reference if rows is None else reference[rows], kind)


def _rate_table(
    table: InputTable,
    ok: npt.NDArray[np.bool_],
    body_index: npt.NDArray[np.int8],
    targets: npt.NDArray[np.float64] | None,
    reference: WaterClass,
) -> dict[str, pl.Series]:
    """:func:`_rate_columns` of the checked cells of ``table``, every row (the caller
    empties the results of the rows not ``ok``).

    The reader leaves no value the domain refuses (negative or not finite: NaN) except a
    pH above 14, which is a problem of its row: such a pH is rated as not measured.
    """
    values, below = table.value_matrix, table.below_matrix
    codes = list(table.columns)
    c = {Parameter(code): values[:, j] for j, code in enumerate(codes)}
    as_read = dict(c)  # (the columns as the reader found them)
    flagged = [j for j in range(len(codes)) if below[:, j].any()]
    if flagged:  # the domain halves them (pandas is loaded: such cells were read by it)
        names = [codes[j] for j in flagged]
        halved = half_detection_limit(
            pd.DataFrame(values[:, flagged], columns=names),
            pd.DataFrame(below[:, flagged], columns=names),
        )
        c |= {Parameter(code): halved[code].to_numpy(dtype=np.float64) for code in names}
    if Parameter.PH in c and not ok.all():
        ph = c[Parameter.PH]
        c[Parameter.PH] = np.where(ok | (ph <= 14), ph, np.nan)  # (rows flagged by _check_ph)
    listed = {code: below[:, codes.index(code)] for code in _CODES if code in codes}
    # (the values of the texts as read, for the items rated as read)
    text_values = {
        code: per_text
        for code, per_text in (table.text_values or {}).items()
        if Parameter(code) in c and c[Parameter(code)] is as_read[Parameter(code)]
    }
    items = _keyed_items(c, table.value_codes or {}, body_index, text_values)
    return _rate_columns(items, listed, len(values), body_index, targets, reference)


@dataclasses.dataclass(frozen=True)
class _Keyed:
    """The values of one item by key, and each row's key: the rows of one key have the
    same value and kind of water body, so the domain rates each key once.

    ``keys`` None: one key per row (key *i* is row *i*).
    """

    values: FloatArray  # [the item's unit] per key
    bodies: npt.NDArray[np.int8]  # the index of the key's kind in _BODY_KINDS
    keys: npt.NDArray[np.intp] | npt.NDArray[np.uint32] | None  # per row

    def rows(self, per_key: npt.NDArray[_T]) -> npt.NDArray[_T]:
        """``per_key`` (one entry per key) for each row."""
        return per_key if self.keys is None else per_key[self.keys]

    def texts(self, per_key: pl.Series) -> pl.Series:
        """``per_key`` (one text per key) for each row."""
        return per_key if self.keys is None else per_key.gather(self.keys)

    def at(self, per_key: npt.NDArray[_T], rows: npt.NDArray[np.intp]) -> npt.NDArray[_T]:
        """``per_key`` for the given rows."""
        return per_key[rows] if self.keys is None else per_key[self.keys[rows]]


_T = TypeVar("_T", bound=np.generic)


def _keyed_items(
    c: dict[Parameter, FloatArray],
    codes: Mapping[str, _Distinct],
    body_index: npt.NDArray[np.int8],
    text_values: Mapping[str, npt.NDArray[np.float64]] | None = None,
) -> dict[Parameter, _Keyed]:
    """The items' values keyed by the codes of their texts where the reader gave them
    (each distinct text once; for an item rated by water body, each text once per kind),
    one key per row for the others. ``text_values``: the value of each text of the items
    whose values in ``c`` are those the reader found (:attr:`InputTable.text_values`)."""
    order = np.arange(len(body_index))
    kinds = len(_BODY_KINDS)

    def keyed(p: Parameter) -> _Keyed:
        column, found = c[p], codes.get(p.value)
        if found is None:
            return _Keyed(column, body_index, None)
        k = len(found.texts)
        row_codes = found.row_codes
        values = (text_values or {}).get(p.value)
        if values is None:
            # a row of each code (rows of one code hold the same value: that of its text)
            some_row = np.zeros(k, dtype=np.intp)
            some_row[row_codes] = order
            values = column[some_row]
        if _depends_on_body(p):
            keys = body_index.astype(np.intp) * k + row_codes
            # a text is rated only for the kinds of its rows (NaN, not rated, for the
            # others: the domain would rate it against limits no row has, and could warn)
            used = np.zeros(kinds * k, dtype=bool)
            used[keys] = True
            return _Keyed(
                np.where(used, np.tile(values, kinds), np.nan),
                np.repeat(np.arange(kinds, dtype=np.int8), k),
                keys,
            )
        river = _BODY_KINDS.index(WaterBody.RIVER)  # (not used: rated alike in all)
        # (as intp: numpy gathers by intp keys about twice as fast as by uint32 ones, which
        # it converts at each gather; an item's keys are gathered several times)
        return _Keyed(values, np.full(k, river, dtype=np.int8), row_codes.astype(np.intp))

    return dict(zip(c, in_threads(keyed, c), strict=True))  # each item on its own


def _rate_columns(
    items: dict[Parameter, _Keyed],
    below: Mapping[str, npt.NDArray[np.bool_]],
    n: int,
    body_index: npt.NDArray[np.int8],
    targets: npt.NDArray[np.float64] | None,
    reference: WaterClass,
) -> dict[str, pl.Series]:
    """The result columns of :func:`rate_samples` as text columns, null where empty.

    ``items`` holds the values to rate per item (below-detection results already halved),
    by key (:class:`_Keyed`), ``below`` the below-detection flags per item code.

    Column-wise: the domain rates each key of each item once per kind of water body
    present (:func:`classify_parameter`, :func:`exceedance_multiple`); the texts are built
    from the class and multiple matrices; the per-row domain functions give the same
    answers (a test compares them on random samples).
    """
    params = sorted(items, key=list(Parameter).index)
    evaluated = [p for p in params if p in EVALUATED_PARAMETERS]

    def item_classes_of(p: Parameter) -> npt.NDArray[np.int8]:
        """The item's class number per row, 0 where not measured."""
        item = items[p]
        per_key = _per_body(partial(_classify, p), item.values, p, item.bodies)
        return item.rows(np.nan_to_num(per_key, nan=0.0).astype(np.int8))

    # the items, and below the result columns, each on its own: on every core
    item_classes = in_threads(item_classes_of, evaluated)
    worst = np.zeros(n, dtype=np.int8)  # the worst class number; 0: no evaluated item measured
    for item in item_classes:
        np.maximum(worst, item, out=worst)
    multiple_items = [p for p in evaluated if p not in _NO_MULTIPLE]
    vs_reference = _keyed_multiples(items, multiple_items, reference)
    status = ["", *(s.label_zh if s else "" for s in section_status(list(WaterClass)))]
    vs_iii = (
        vs_reference
        if reference is WaterClass.III
        else _keyed_multiples(items, multiple_items, WaterClass.III)
    )
    keyed = [items[p] for p in multiple_items]
    columns: dict[str, Callable[[], pl.Series]] = {
        "water_class": lambda: _class_texts(worst),
        "limiting_parameters": lambda: _join_codes(
            {
                p.value: (item == worst) & (item > 0)
                for p, item in zip(evaluated, item_classes, strict=True)
            },
            n,
        ),
        "exceedance_multiples": lambda: _multiple_texts(vs_reference, keyed, multiple_items, n),
        "water_status": lambda: _lookup(status, worst),
        "main_pollution_indicators": lambda: _main_indicators(
            vs_iii, keyed, multiple_items, worst
        ),
        "parameter_set": lambda: _parameter_sets(items, params, n),
        "reference_items": lambda: _reference_items(items, params, n),
        "below_detection": lambda: _join_codes(
            {code: below[code] for code in _CODES if code in below}, n
        ),
    }
    out = dict(zip(columns, in_threads(lambda make: make(), columns.values()), strict=True))
    if targets is not None:
        has = ~np.isnan(targets)
        classes = np.where(worst > 0, worst, np.nan)  # (NaN: none measured)
        met = _lookup(["false", "true"], classes <= targets)
        out["target_met"] = met.set(pl.Series(~(has & ~np.isnan(classes))), None)
        vs_target = np.full((n, len(multiple_items)), np.nan, order="F")
        rows = np.flatnonzero(has)
        if len(rows):
            vs_target[rows] = _multiples(
                {p: item.at(item.values, rows) for p, item in items.items()},
                multiple_items,
                body_index[rows],
                targets[rows],
            )
        per_row = _Keyed(np.empty(0), body_index, None)
        out["exceedance_multiples_target"] = _multiple_texts(
            list(vs_target.T), [per_row] * len(multiple_items), multiple_items, n
        )
    return out


def _keyed_multiples(
    items: dict[Parameter, _Keyed], multiple_items: Sequence[Parameter], reference: WaterClass
) -> list[FloatArray]:
    """Exceedance multiples of ``multiple_items`` against ``reference`` per key, NaN where
    not exceeding (as :func:`exceedance_multiples`)."""

    def rate(p: Parameter) -> FloatArray:
        item = items[p]
        against = np.full(len(item.values), float(reference))
        multiple = _per_body(partial(_multiple, p, against), item.values, p, item.bodies)
        return np.where(multiple > 0, multiple, np.nan)

    return in_threads(rate, multiple_items)  # each item on its own: on every core


_NO_MULTIPLE: Final = frozenset({Parameter.PH, Parameter.DO})  # (exceedance_multiple refuses)


def _multiples(
    c: dict[Parameter, npt.NDArray[np.float64]],
    items: Sequence[Parameter],
    body_index: npt.NDArray[np.int8],
    reference: npt.NDArray[np.float64],
) -> FloatArray:
    """Exceedance multiples of ``items`` against the class per row, NaN where not exceeding
    (as :func:`exceedance_multiples`)."""
    m = np.empty((len(body_index), len(items)), order="F")

    def rate(j: int) -> None:
        p = items[j]
        multiple = _per_body(partial(_multiple, p, reference), c[p], p, body_index)
        m[:, j] = np.where(multiple > 0, multiple, np.nan)

    in_threads(rate, range(len(items)))  # each item on its own: on every core
    return m


def _lookup(texts: Sequence[str], codes: npt.ArrayLike) -> pl.Series:
    """``texts[code]`` per row (null where the text is empty)."""
    table = pl.Series(list(texts), dtype=pl.String).replace("", None)
    return table.gather(np.asarray(codes).astype(np.int32))


def _class_texts(classes: npt.NDArray[np.int8]) -> pl.Series:
    """Class numbers 1–6 → ``I`` … ``劣V``; 0 → null."""
    return _lookup(["", *(k.code for k in WaterClass)], classes)


def _concat(parts: Sequence[pl.Series], n: int) -> pl.Series:
    """Per row, the non-null texts of ``parts`` joined with ``;``; null where none."""
    if not parts:
        return pl.repeat(None, n, dtype=pl.String, eager=True)
    frame = pl.DataFrame([s.alias(f"p{i}") for i, s in enumerate(parts)])
    joined = frame.select(pl.concat_str(pl.all(), separator=";", ignore_nulls=True))
    return joined.to_series().replace("", None)


def _by_pattern(
    key: npt.NDArray[np.int32] | npt.NDArray[np.int64], texts: Callable[[list[int]], list[str]]
) -> pl.Series:
    """Per row, the text of its key: ``texts(distinct keys)`` is called once, on the
    distinct keys; empty texts become null."""
    if len(key) and key.min() >= 0 and key.max() < _FEW_KEYS:  # the keys index a table
        counts = np.bincount(key, minlength=1)
        distinct_keys = np.flatnonzero(counts)
        table = pl.Series([None] * len(counts), dtype=pl.String).scatter(
            distinct_keys, texts(distinct_keys.tolist())
        )
        return table.replace("", None).gather(key)
    keys = pl.Series(np.asarray(key, dtype=np.int64))
    if keys.is_empty():
        return pl.Series([], dtype=pl.String)
    distinct = keys.unique()
    table = pl.Series(texts(distinct.to_list()), dtype=pl.String)
    return keys.replace_strict(distinct, table, return_dtype=pl.String).replace("", None)


#: Keys below this index a table of texts (:func:`_by_pattern`).
_FEW_KEYS: Final = 1 << 16


def _join_codes(flags: dict[str, npt.NDArray[np.bool_]], n: int) -> pl.Series:
    """Per row, the codes whose flag is set, ``;``-joined in the given order."""
    codes = list(flags)
    key = np.zeros(n, dtype=np.int32)  # (a bit per code: at most the 23 of Parameter)
    for j, f in enumerate(flags.values()):
        key |= np.asarray(f).astype(np.int32) << j
    return _by_pattern(
        key,
        lambda distinct: [
            ";".join(c for j, c in enumerate(codes) if k >> j & 1) for k in distinct
        ],
    )


def _multiple_texts(
    multiples: Sequence[FloatArray], keyed: Sequence[_Keyed], items: Sequence[Parameter], n: int
) -> pl.Series:
    """``code=multiple;…`` of the items' multiples per key (NaN = not listed).

    Each item's texts are built once per listed key (most keys are not listed), then given
    to the rows and joined row-wise.
    """
    parts = []
    for m, item, p in zip(multiples, keyed, items, strict=True):
        listed = ~np.isnan(m)
        texts = (f"{p.value}=" + _format_number_texts(m[listed])).append(
            pl.Series([None], dtype=pl.String)
        )
        # key k: its text (number cumsum − 1 among the listed keys), or the null after them
        place = np.where(listed, np.cumsum(listed) - 1, len(texts) - 1)
        parts.append(item.texts(texts.gather(place)))
    return _concat(parts, n)


def _main_indicators(
    multiples: Sequence[FloatArray],
    keyed: Sequence[_Keyed],
    items: Sequence[Parameter],
    classes: npt.NDArray[np.int8],
) -> pl.Series:
    """:func:`main_pollution_indicators` per row, joined.

    Rows worse than class III (``classes``: class numbers, 0 none): the (up to) three items
    with the largest multiples vs III, largest first, ties in canonical order, as the
    domain's stable sort does. Each item's multiple of each key is given a score once:
    its place among all the items' distinct multiples, then the item (an earlier item
    scores higher), so that no two items of a row score the same and the larger score
    comes first; a row's three are its three largest scores (−1: no multiple).
    """
    n = len(classes)
    worse = classes > WaterClass.III
    if not len(items) or not worse.any():
        return pl.repeat(None, n, dtype=pl.String, eager=True)
    worse_rows = np.flatnonzero(worse)  # the others have no main indicators (key 0)
    every_row = len(worse_rows) * 2 >= n  # (then gathered for every row, once)
    count = len(items)
    listed = [m[~np.isnan(m)] for m in multiples]
    distinct = np.unique(np.concatenate(listed))
    wide = (len(distinct) + 1) * count >= 2**31

    def scores(j: int) -> npt.NDArray[np.signedinteger]:
        m, item = multiples[j], keyed[j]
        per_key: npt.NDArray[np.signedinteger] = np.full(
            len(m), -1, dtype=np.int64 if wide else np.int32
        )
        has = ~np.isnan(m)
        per_key[has] = np.searchsorted(distinct, m[has]) * count + (count - 1 - j)
        return item.rows(per_key) if every_row else item.at(per_key, worse_rows)

    by_item = in_threads(scores, range(count))  # each item on its own: on every core
    size = len(by_item[0])
    base = count + 1  # key: the ranked items' numbers (1-based, 0 = none) in base count+1
    # each row's three largest scores, largest first (−1: none), one item at a time
    top = [np.full(size, -1, dtype=by_item[0].dtype) for _ in range(min(3, count))]
    smaller = np.empty_like(by_item[0])
    for score in by_item:
        for place in range(len(top) - 1, 0, -1):  # (the lower places first)
            np.minimum(top[place - 1], score, out=smaller)
            np.maximum(top[place], smaller, out=top[place])
        np.maximum(top[0], score, out=top[0])
    ranked = np.zeros(size, dtype=np.int64)
    for place, best in enumerate(top):
        item_number = (count - best % count).astype(np.int64)
        ranked += np.where(best >= 0, item_number * base**place, 0)
    key = np.where(worse, ranked, 0) if every_row else np.zeros(n, dtype=np.int64)
    if not every_row:
        key[worse_rows] = ranked
    codes = [p.value for p in items]

    def texts(distinct: list[int]) -> list[str]:
        out = []
        for k in distinct:
            ranked = []
            while k:
                ranked.append(codes[k % base - 1])
                k //= base
            out.append(";".join(ranked))
        return out

    return _by_pattern(key, texts)


def _parameter_sets(
    items: dict[Parameter, _Keyed], params: Sequence[Parameter], n: int
) -> pl.Series:
    """:func:`label_parameter_set` per row: the label depends only on which items were
    measured, so the domain labels each distinct pattern once."""
    if not params:
        return pl.repeat(None, n, dtype=pl.String, eager=True)
    key = np.zeros(n, dtype=np.int32)  # (a bit per item: at most the 23 of Parameter)
    for j, p in enumerate(params):
        item = items[p]
        key |= item.rows((~np.isnan(item.values)).astype(np.int32) << j)

    def labels(distinct: list[int]) -> list[str]:
        keys = np.array(distinct, dtype=np.int64)
        patterns = {p.value: np.where((keys >> j) & 1, 1.0, np.nan) for j, p in enumerate(params)}
        sets = label_parameter_set(patterns)
        return ["" if s is ParameterSet.NONE else s.value for s in sets]

    return _by_pattern(key, labels)


def _reference_items(
    items_by_parameter: dict[Parameter, _Keyed],
    params: Sequence[Parameter],
    n: int,
) -> pl.Series:
    # key per item: 0 not measured, 1–6 the class, 7 total nitrogen of a river; base 8
    items = [p for p in REFERENCE_PARAMETERS if p in params]
    river_kind = _BODY_KINDS.index(WaterBody.RIVER)
    key = np.zeros(n, dtype=np.int64)
    for j, p in enumerate(items):
        item = items_by_parameter[p]
        classes = _per_body(partial(_classify, p), item.values, p, item.bodies)
        code = np.nan_to_num(classes, nan=0.0).astype(np.int64)
        if p is Parameter.TN:
            # Table 1 item 9 applies to lakes and reservoirs only (环办〔2011〕22号)
            code = np.where(item.bodies == river_kind, 7, code)
        key += item.rows(np.where(np.isnan(item.values), 0, code) * 8**j)

    def texts(distinct: list[int]) -> list[str]:
        out = []
        for k in distinct:
            parts = []
            for j, p in enumerate(items):
                code = k // 8**j % 8
                if code == 7:
                    parts.append("tn=not evaluated (river)")
                elif code:
                    parts.append(f"{p.value}={WaterClass(code).code}")
            out.append(";".join(parts))
        return out

    return _by_pattern(key, texts)


def _by_distinct_text(column: pl.Series) -> tuple[list[str], npt.NDArray[np.int64]]:
    """The distinct texts of a column and, per row, the index of its text among them."""
    if not column.null_count():  # the column's own categories list its texts by code
        dtype = pl.Categorical(pl.Categories.random())
        cells = column.cast(dtype)  # (the categories live while a column uses them)
        texts = [str(t) for t in dtype.categories.to_series().to_list()]
        return texts, cells.to_physical().to_numpy().astype(np.int64)
    distinct = column.unique(maintain_order=True).to_list()
    rows = column.replace_strict(distinct, list(range(len(distinct))), return_dtype=pl.Int64)
    return [str(t) for t in distinct], rows.to_numpy()


def _water_bodies(text: pl.DataFrame, row_problems: _RowProblems) -> npt.NDArray[np.int8]:
    """Per row, the index of its kind of water body in :data:`_BODY_KINDS` (river where
    the cell is empty, or not known: the row is then flagged)."""
    river = _BODY_KINDS.index(WaterBody.RIVER)
    if "water_body" not in text.columns:
        return np.full(text.height, river, dtype=np.int8)
    distinct, rows = _by_distinct_text(text["water_body"])
    parsed: list[WaterBody | None] = []
    for cell in distinct:
        try:
            parsed.append(WaterBody.parse(cell) if cell.strip() else WaterBody.RIVER)
        except ValueError:
            parsed.append(None)
    for i in map(int, np.flatnonzero(np.array([p is None for p in parsed])[rows])):
        row_problems.append(
            i,
            f"water_body {distinct[rows[i]]!r} is not known; expected river, lake or reservoir",
        )
    codes = [river if p is None else _BODY_KINDS.index(p) for p in parsed] + [river]
    bodies: npt.NDArray[np.int8] = np.array(codes, dtype=np.int8)[rows]
    return bodies


def _target_classes(text: pl.DataFrame, row_problems: _RowProblems) -> npt.NDArray[np.float64]:
    if "target_class" not in text.columns:
        return np.full(text.height, np.nan)
    distinct, rows = _by_distinct_text(text["target_class"])
    classes = np.full(len(distinct), np.nan)
    bad = np.zeros(len(distinct), dtype=bool)
    for j, cell in enumerate(distinct):
        if not cell.strip():
            continue
        try:
            target = WaterClass.from_code(cell)
        except ValueError:
            target = WaterClass.WORSE_THAN_V
        if target is WaterClass.WORSE_THAN_V:
            bad[j] = True
        else:
            classes[j] = float(target)
    for i in map(int, np.flatnonzero(bad[rows])):
        row_problems.append(
            i,
            f"target_class {distinct[rows[i]]!r} is not a target class; "
            "expected I, II, III, IV or V",
        )
    targets: npt.NDArray[np.float64] = classes[rows]
    return targets


def _check_ph(table: InputTable, row_problems: _RowProblems) -> None:
    if "ph" not in table.columns:
        return
    ph = table.value("ph")
    below = table.below_matrix[:, table.columns.index("ph")]
    below_rows = np.flatnonzero(below)
    for i, cell in zip(map(int, below_rows), table.cells("ph", below_rows), strict=True):
        row_problems.append(i, f"ph {cell!r} is written as below a detection limit; give the pH")
    high_rows = np.flatnonzero(~below & (ph > 14))
    for i, cell in zip(map(int, high_rows), table.cells("ph", high_rows), strict=True):
        row_problems.append(i, f"ph {cell!r} is outside 0–14")


def _check_plausible(table: InputTable, row_problems: _RowProblems) -> None:
    """A value outside its item's plausible range is a problem of its row (whose results
    are then empty), naming the value, the range and where it is set.

    The ranges are those by which envmon's imports flag a value ``implausible`` and leave
    it out of every class (:data:`monitor.domain.units.PLAUSIBLE_RANGES`: 100 × the GB
    3838-2002 Class V limit for the chemical items, physical bounds for DO; project
    choices, above every real 劣V reading). Before, ``cod = 1e308`` mg/L was rated 劣V
    with an exceedance multiple of 308 digits. A pH is checked by :func:`_check_ph` (its
    range is its scale, 0–14); values below 0 are refused when read."""
    for j, code in enumerate(table.columns):
        if code == "ph":
            continue
        low, high = PLAUSIBLE_RANGES[code]
        values = table.value_matrix[:, j]
        rows = np.flatnonzero((values > high) | (values < low))  # (NaN: neither)
        if not len(rows):
            continue
        unit = WATER_PARAMETERS[code]
        for i, cell in zip(map(int, rows), table.cells(code, rows), strict=True):
            row_problems.append(
                i,
                f"{code} {cell!r} is implausible: expected {low:g}–{high:g} {unit} (envmon's "
                "plausible range: monitor.domain.units.PLAUSIBLE_RANGES); check the value "
                "and its unit",
            )


#: Whether long doubles hold x·1000 exactly for every double x (a 64-bit significand, as on
#: x86-64); elsewhere values near a half are formatted one by one.
_EXACT_THOUSANDTHS: Final = np.finfo(np.longdouble).nmant >= 63


def _format_number_texts(values: FloatArray) -> pl.Series:
    """``{:.3f}`` without trailing zeros (``0.64``, ``2``), element-wise, as a text column.

    Column-wise from the integer thousandths ``rint(x·1000)``; values whose product lies
    within rounding error of a half (where the float product could round the other way than
    the exact decimal value) and values outside 0 ≤ x < 10¹² (negative, −0, huge, ±inf,
    NaN) are formatted one by one.
    """
    x = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        scaled = x * 1000.0
        near_half = np.abs(np.abs(scaled - np.floor(scaled)) - 0.5) <= scaled * 1e-15 + 1e-300
        in_range = (x >= 0) & (x < 1e12) & ~np.signbit(x)
        thousandths = np.rint(np.where(in_range, scaled, 0.0))
        if _EXACT_THOUSANDTHS and near_half.any():
            # x·1000 is exact in a 64-bit significand, so rint rounds the exact value
            # (half to even, as the text formatting does)
            exact = np.rint(x[near_half].astype(np.longdouble) * 1000)
            thousandths[near_half] = exact.astype(np.float64)
            near_half[:] = False
        plain = in_range & ~near_half
    k = np.where(plain, thousandths, 0.0).astype(np.int64)
    whole = pl.Series(k // 1000).cast(pl.String)
    text = whole + _FRACTIONS.gather(k % 1000)
    others = np.flatnonzero(~plain)
    if len(others):
        text = text.scatter(others, [f"{v:.3f}".rstrip("0").rstrip(".") for v in x[others]])
    return text


#: The text of each number of thousandths 0–999 after the whole part: "", ".001" … ".999",
#: without trailing zeros (".5", not ".500").
_FRACTIONS: Final = pl.Series(
    ["", *(f".{k:03d}".rstrip("0") for k in range(1, 1000))], dtype=pl.String
)


def _format_numbers(values: npt.NDArray[np.float64]) -> npt.NDArray[np.str_]:
    """``{:.3f}`` without trailing zeros (``0.64``, ``2``), element-wise."""
    return np.array(_format_number_texts(values).to_list(), dtype=str)
