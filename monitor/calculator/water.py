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
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import polars as pl

from monitor.calculator.table import (
    PROBLEM_SEPARATOR,
    CalcResult,
    InputTable,
    read_input_csv,
    summarise_problems,
    text_column,
)
from monitor.domain.water_quality import (
    EVALUATED_PARAMETERS,
    REFERENCE_PARAMETERS,
    Parameter,
    ParameterSet,
    WaterBody,
    WaterClass,
    classify_parameters,
    classify_section,
    exceedance_multiples,
    half_detection_limit,
    label_parameter_set,
    limiting_parameters,
    main_pollution_indicators,
    section_status,
)
from monitor.errors import InputError

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
    table = read_input_csv(path, _CODES, allow_below_detection=True)
    clash = [c for c in RESULT_COLUMNS if c in table.text.columns]
    if clash:
        raise InputError(
            f"{path}: column(s) {', '.join(clash)} are output columns of this calculation; "
            "rename or remove them"
        )

    row_problems = _RowProblems(table.problems.to_numpy(dtype=object))
    bodies = _water_bodies(table.text, row_problems)
    targets = _target_classes(table.text, row_problems)
    _check_ph(table, row_problems)
    problems = pd.Series(row_problems.joined(), index=table.problems.index, dtype=object)
    table = dataclasses.replace(table, problems=problems)
    ok = (problems == "").to_numpy()

    has_target = "target_class" in table.text.columns
    names = [c for c in RESULT_COLUMNS if has_target or c not in _TARGET_COLUMNS]
    results = {c: np.full(table.row_count, None, dtype=object) for c in names}
    if ok.any():
        rows = rate_samples(
            table.values.loc[ok],
            table.below_detection.loc[ok],
            [bodies[i] for i in np.flatnonzero(ok)],
            targets[ok] if has_target else None,
            reference,
        )
        for column in rows.columns:
            results[column][ok] = rows[column].to_numpy(dtype=object)
    results["input_problems"] = problems.to_numpy(dtype=object)

    out = pl.DataFrame(
        [table.text[c].replace("", None) for c in table.text.columns]
        + [text_column(results[c], c) for c in names]
    )
    unknown = [c for c in table.text.columns if c not in _CONTROL_COLUMNS + _CODES]
    warnings = summarise_problems(table)
    if unknown:
        warnings = (f"column(s) not used: {', '.join(unknown)}", *warnings)
    return CalcResult(out, warnings)


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
    bodies: list[WaterBody],
    targets: npt.NDArray[np.float64] | None,
    reference: WaterClass,
) -> pd.DataFrame:
    """Class, limiting parameters, multiples … of water samples (one row per sample).

    ``values`` has one column per canonical code [mg/L], the detection limit itself where
    ``below`` marks a result below it (same shape, or empty); such results are rated at half
    the limit (:func:`half_detection_limit`, 环办监测函〔2020〕82号 point 7). ``bodies`` the
    water body per row; ``targets`` the target class per row (NaN = none) or None. The one
    code path of the CSV calculator, the daemon's evaluation of each reading and the period
    classes of reports and targets, so all give the same answer.
    """
    values = half_detection_limit(values, below)
    classes = classify_section(values, bodies)
    out = pd.DataFrame(index=values.index)
    out["water_class"] = _class_codes(classes)
    # Rows with the same classes of the evaluated items have the same limiting items: the
    # domain function runs once per distinct pattern.
    evaluated = [p.value for p in EVALUATED_PARAMETERS if p.value in values.columns]
    item_classes = classify_parameters(values[evaluated], bodies).to_numpy(dtype=np.float64)
    out["limiting_parameters"] = _per_pattern(
        np.nan_to_num(item_classes, nan=0.0).astype(np.int8),
        lambda rows: [
            _join(r) for r in limiting_parameters(values.iloc[rows], [bodies[i] for i in rows])
        ],
    )
    out["exceedance_multiples"] = _format_multiples(
        exceedance_multiples(values, reference, bodies)
    )
    out["water_status"] = _per_pattern(
        np.nan_to_num(classes, nan=0.0).astype(np.int8)[:, np.newaxis],
        lambda rows: [s.label_zh if s else "" for s in section_status(classes[rows])],
    )
    out["main_pollution_indicators"] = _main_indicators(values, bodies, classes)
    # the label depends only on which items were measured
    out["parameter_set"] = _per_pattern(
        values.notna().to_numpy(dtype=bool),
        lambda rows: [
            "" if s is ParameterSet.NONE else s.value
            for s in label_parameter_set(values.iloc[rows])
        ],
    )
    out["reference_items"] = _reference_items(values, bodies)
    out["below_detection"] = _join_flags(below)
    if targets is not None:
        has = ~np.isnan(targets)
        met = np.where(classes <= targets, "true", "false")
        out["target_met"] = np.where(has & ~np.isnan(classes), met, "")
        target_multiples = pd.DataFrame(index=values.index)
        if has.any():
            target_multiples = exceedance_multiples(
                values.loc[has], targets[has], [b for b, h in zip(bodies, has, strict=True) if h]
            )
        out["exceedance_multiples_target"] = _format_multiples(
            target_multiples.reindex(values.index)
        )
    return out


def _main_indicators(
    values: pd.DataFrame, bodies: list[WaterBody], classes: npt.NDArray[np.float64]
) -> list[str]:
    """:func:`main_pollution_indicators` per row, joined; computed once per distinct ranking.

    Only sections worse than class III have indicators; among them, rows whose items rank
    the same (largest multiple vs III first, ties in canonical order, up to three) share the
    answer, so the domain function runs on one row of each ranking.
    """
    worse = np.flatnonzero(classes > WaterClass.III)
    out = np.full(len(values), "", dtype=object)
    if not len(worse):
        return list(out)
    subset = values.iloc[worse]
    subset_bodies = [bodies[i] for i in worse]
    m = exceedance_multiples(subset, WaterClass.III, subset_bodies).to_numpy(dtype=np.float64)
    if m.shape[1] == 0:
        ranking = np.zeros((len(worse), 1), dtype=np.int64)
    else:
        order = np.argsort(np.where(np.isnan(m), np.inf, -m), axis=1, kind="stable")[:, :3]
        listed = ~np.isnan(np.take_along_axis(m, order, axis=1))
        ranking = np.where(listed, order + 1, 0)
    out[worse] = _per_pattern(
        ranking,
        lambda rows: [
            _join(r)
            for r in main_pollution_indicators(subset.iloc[rows], [subset_bodies[i] for i in rows])
        ],
    )
    return list(out)


def _join_flags(flags: pd.DataFrame) -> list[str]:
    columns = [c for c in _CODES if c in flags.columns]
    parts = [np.where(flags[c].to_numpy(dtype=bool), c, "").astype(object) for c in columns]
    return _join_parts(parts, len(flags))


def _by_distinct_text(column: pl.Series) -> tuple[list[str], npt.NDArray[np.int64]]:
    """The distinct texts of a column and, per row, the index of its text among them."""
    distinct = column.unique(maintain_order=True).to_list()
    rows = column.replace_strict(distinct, list(range(len(distinct))), return_dtype=pl.Int64)
    return [str(t) for t in distinct], rows.to_numpy()


def _water_bodies(text: pl.DataFrame, row_problems: _RowProblems) -> list[WaterBody]:
    if "water_body" not in text.columns:
        return [WaterBody.RIVER] * text.height
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
    choices = np.array([p or WaterBody.RIVER for p in parsed] + [WaterBody.RIVER], dtype=object)
    bodies: list[WaterBody] = choices[rows].tolist()
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
    if "ph" not in table.values.columns:
        return
    ph = table.values["ph"].to_numpy(dtype=np.float64)
    below = table.below_detection["ph"].to_numpy(dtype=bool)
    below_rows = np.flatnonzero(below)
    for i, cell in zip(map(int, below_rows), table.cells("ph", below_rows), strict=True):
        row_problems.append(i, f"ph {cell!r} is written as below a detection limit; give the pH")
    high_rows = np.flatnonzero(~below & (ph > 14))
    for i, cell in zip(map(int, high_rows), table.cells("ph", high_rows), strict=True):
        row_problems.append(i, f"ph {cell!r} is outside 0–14")


def _join(parameters: Sequence[Parameter]) -> str:
    return ";".join(parameters)  # Parameter is a StrEnum: its text is its code


def _class_codes(classes: npt.NDArray[np.float64]) -> list[str]:
    """Class numbers 1–6 → ``I`` … ``劣V``; NaN → empty."""
    codes = np.array(["", *(c.code for c in WaterClass)], dtype=object)
    numbers = np.nan_to_num(np.asarray(classes, dtype=np.float64), nan=0.0).astype(np.int64)
    texts: list[str] = codes[numbers].tolist()
    return texts


def _per_pattern(
    keys: npt.NDArray[np.generic], texts: Callable[[npt.NDArray[np.intp]], list[str]]
) -> list[str]:
    """Per row, ``texts`` of a row with the same key row, computed once per distinct key.

    ``keys`` has one row per row; ``texts(rows)`` gives the texts of the given rows.
    """
    if len(keys) == 0:
        return []
    if keys.ndim == 2 and keys.shape[1] == 0:
        keys = np.zeros((len(keys), 1), dtype=np.int8)  # no key column: one pattern
    small = keys.astype(np.int64)
    bits = max(int(small.max()).bit_length(), 1) if small.size else 1
    if small.min(initial=0) >= 0 and bits * small.shape[1] <= 63:
        # one integer per row: a 1-d unique is much faster than rows of a matrix
        packed = (small << (bits * np.arange(small.shape[1], dtype=np.int64))).sum(axis=1)
        _, first, inverse = np.unique(packed, return_index=True, return_inverse=True)
    else:
        _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    distinct = np.array(texts(first), dtype=object)
    out: list[str] = distinct[inverse.reshape(-1)].tolist()
    return out


def _format_numbers(values: npt.NDArray[np.float64]) -> npt.NDArray[np.str_]:
    """``{:.3f}`` without trailing zeros (``0.64``, ``2``), element-wise."""
    return np.char.rstrip(np.char.rstrip(np.char.mod("%.3f", values), "0"), ".")


def _format_multiples(multiples: pd.DataFrame) -> list[str]:
    parts = []
    for code in multiples.columns:
        values = multiples[code].to_numpy(dtype=np.float64)
        has = ~np.isnan(values)
        text = np.full(len(values), "", dtype=object)
        if has.any():
            text[has] = np.char.add(f"{code}=", _format_numbers(values[has])).astype(object)
        parts.append(text)
    return _join_parts(parts, len(multiples))


def _join_parts(parts: Sequence[npt.NDArray[np.object_]], n: int) -> list[str]:
    """Join per-column texts row by row with ``;``, skipping empty ones."""
    joined = np.full(n, "", dtype=object)
    for part in parts:
        both = (joined != "") & (part != "")
        joined = np.where(both, joined + ";" + part, joined + part)
    return [str(t) for t in joined]


def _reference_items(values: pd.DataFrame, bodies: list[WaterBody]) -> list[str]:
    columns = [p.value for p in REFERENCE_PARAMETERS if p.value in values.columns]
    measured = values[columns].notna().to_numpy(dtype=bool)
    classes = classify_parameters(values[columns], bodies).to_numpy(dtype=np.float64)
    river = np.array([b is WaterBody.RIVER for b in bodies], dtype=bool)
    parts = []
    for j, code in enumerate(columns):
        text = np.array([f"{code}={c}" for c in _class_codes(classes[:, j])], dtype=object)
        if code == Parameter.TN:
            # Table 1 item 9 applies to lakes and reservoirs only (环办〔2011〕22号)
            text[river] = "tn=not evaluated (river)"
        parts.append(np.where(measured[:, j], text, ""))
    return _join_parts(parts, len(values))
