"""Import of observations from Excel workbooks (.xlsx), as bureaus and laboratories send them.

Source
------
Spreadsheet exports of the provincial/municipal platforms and laboratory result sheets
(data-sources.md §7b), given by the operator. Read with openpyxl in read-only mode
(formulas as their cached values); the legacy ``.xls`` format is not read.

Layouts
-------
Every sheet whose header row (one of the first :data:`HEADER_SEARCH_ROWS` rows, so a title
row above it is fine) has ``site`` and ``time`` is imported; other sheets are skipped with
a warning. Header names follow :mod:`monitor.collectors.long_csv` (case-insensitive,
Chinese aliases such as 站点/时间).

* **Long**, the layout of :mod:`monitor.collectors.long_csv`:
  ``site, time, parameter, value[, unit][, duration]``, one value per row.
* **Wide**, the layout of laboratory results: ``site, time[, duration], <parameter…>`` with
  canonical parameter names as headers (``do, codmn, cod, bod5, nh3n, tp, tn, cu, …`` — the
  GB 3838-2002 Table 1 items), one sample per row, values in the **canonical units**
  (``monitor.domain.units.CANONICAL_UNITS``). An empty cell, or a "not measured" marker
  (``/``, ``-``, ``NA`` …), is no value and gives no warning. Columns that are not
  parameters are ignored with a warning. ``duration`` defaults to 60 minutes, so give
  ``duration`` = 0 for grab samples.

``time`` may be an Excel date/time cell (or an Excel serial number) or text as
:mod:`monitor.collectors.long_csv` reads it; without an offset it is Asia/Shanghai wall time
and it is the **end** of the measured period.

Each row (long) or cell (wide) goes through the same checks as a long CSV row
(:func:`monitor.collectors.long_csv.rows_to_observations`); problems become warnings naming
the sheet, row and column. A workbook that cannot be used (not an .xlsx file, no sheet with
a usable header, no data rows) raises :class:`~monitor.errors.InputError`.
"""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime, time, timedelta
from typing import Any, Final

import openpyxl  # type: ignore[import-untyped, unused-ignore]
import pandas as pd
from openpyxl.utils.datetime import from_excel  # type: ignore[import-untyped, unused-ignore]
from openpyxl.utils.exceptions import (  # type: ignore[import-untyped, unused-ignore]
    InvalidFileException,
)

from monitor.calculator.table import MISSING_MARKERS
from monitor.collectors.base import empty_observations
from monitor.collectors.intake import DEFAULT_FUTURE_TOLERANCE, HEADER_ONLY
from monitor.collectors.long_csv import (
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    canonical_parameter,
    check_columns,
    normalise_header,
    rows_to_observations,
)
from monitor.errors import InputError

__all__ = ["HEADER_SEARCH_ROWS", "parse_xlsx"]

#: How many rows from the top of a sheet are searched for the header row.
HEADER_SEARCH_ROWS: Final = 10

_LONG_COLUMNS: Final = (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)


def parse_xlsx(
    data: bytes,
    name: str,
    *,
    now: datetime | None = None,
    future_tolerance: timedelta = DEFAULT_FUTURE_TOLERANCE,
) -> tuple[pd.DataFrame, list[str]]:
    """Observations of an .xlsx workbook (layouts in the module docstring), and warnings.

    Parameters
    ----------
    data : bytes
        The workbook file.
    name : str
        File name, used in warnings and errors.
    now, future_tolerance
        For the intake check (:func:`monitor.collectors.long_csv.rows_to_observations`).

    Returns
    -------
    (DataFrame, list of str)
        Observations (``OBSERVATION_COLUMNS``) of the usable rows of all usable sheets, in
        sheet and row order, and warnings (skipped sheets, ignored columns, rows or cells
        not imported with their sheet, row and column).

    Raises
    ------
    InputError
        If the file is not a readable .xlsx workbook, no sheet has a header with ``site``
        and ``time``, or the usable sheets have no data rows.
    """
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as err:
        raise InputError(
            f"{name}: not a readable .xlsx workbook ({type(err).__name__}: {err}); "
            "expected an Excel 2007+ file (.xlsx)"
        ) from err
    warnings: list[str] = []
    pieces: list[pd.DataFrame] = []
    where: list[str] = []
    usable = 0
    try:
        epoch: datetime = book.epoch
        for sheet in book.worksheets:
            sheet.reset_dimensions()  # some writers store wrong dimensions
            rows = [list(r) for r in sheet.iter_rows(min_row=1, values_only=True)]
            label = f"{name} sheet {sheet.title!r}"
            found = _sheet_rows(rows, label, epoch, warnings)
            if found is None:
                continue
            usable += 1
            frame, locations = found
            pieces.append(frame)
            where.extend(locations)
    finally:
        book.close()
    if not usable:
        raise InputError(
            f"{name}: no sheet has a header row with site and time in its first "
            f"{HEADER_SEARCH_ROWS} rows; expected the long layout (site, time, parameter, "
            "value) or the wide layout (site, time, <parameter columns>)"
        )
    if not where:  # nothing to import is not an error (issue 16: one rule for every format)
        return empty_observations(), [*warnings, HEADER_ONLY]
    rows_frame = pd.concat(pieces, ignore_index=True)
    frame, problems = rows_to_observations(
        rows_frame, where, now=now, future_tolerance=future_tolerance
    )
    return frame, warnings + problems


def _sheet_rows(
    rows: list[list[Any]], label: str, epoch: datetime, warnings: list[str]
) -> tuple[pd.DataFrame, list[str]] | None:
    """One sheet → long-layout text rows and their locations; None if the sheet is skipped."""
    header_at = next(
        (
            i
            for i, row in enumerate(rows[:HEADER_SEARCH_ROWS])
            if {"site", "time"} <= set(normalise_header([c for c in row if c is not None]))
        ),
        None,
    )
    if header_at is None:
        warnings.append(
            f"{label}: skipped; no header row with site and time in the first "
            f"{HEADER_SEARCH_ROWS} rows"
        )
        return None
    raw_header = ["" if c is None else str(c).strip() for c in rows[header_at]]
    header = normalise_header(raw_header)
    width = len(header)
    body: list[list[str]] = []
    numbers: list[int] = []  # sheet row numbers, 1-based
    for offset, row in enumerate(rows[header_at + 1 :], start=header_at + 2):
        cells = [*row[:width], *([None] * (width - len(row)))]
        texts = [
            _time_text(c, epoch) if header[j] == "time" else _text(c) for j, c in enumerate(cells)
        ]
        if any(texts):
            body.append(texts)
            numbers.append(offset)
    if "parameter" in header or "value" in header:
        warnings.extend(check_columns(header, label))
        table = pd.DataFrame(body, columns=header, dtype=object)
        keep = [c for c in _LONG_COLUMNS if c in header]
        return table[keep], [f"{label} row {n}" for n in numbers]
    return _melt_wide(raw_header, header, body, numbers, label, warnings)


def _melt_wide(
    raw_header: list[str],
    header: list[str],
    body: list[list[str]],
    numbers: list[int],
    label: str,
    warnings: list[str],
) -> tuple[pd.DataFrame, list[str]] | None:
    """Wide rows (one sample per row, one column per parameter) → long rows, one per cell."""
    duplicates = sorted({c for c in header if c and header.count(c) > 1})
    if duplicates:
        raise InputError(f"{label}: duplicate column(s) {', '.join(duplicates)}; keep one")
    parameters = {
        j: p
        for j, p in enumerate(canonical_parameter(h) for h in raw_header)
        if p is not None and header[j] not in ("site", "time")
    }
    ignored = [
        h
        for j, h in enumerate(raw_header)
        if j not in parameters and header[j] and header[j] not in ("site", "time", "duration")
    ]
    if not parameters:
        warnings.append(
            f"{label}: skipped; the header has site and time but no parameter or value "
            "column and no canonical parameter names (e.g. do, codmn, nh3n, tp, pm2_5)"
        )
        return None
    if ignored:
        warnings.append(
            f"{label}: column(s) {', '.join(ignored)} ignored; expected canonical parameter "
            "names as headers in the wide layout"
        )
    site_at, time_at = header.index("site"), header.index("time")
    duration_at = header.index("duration") if "duration" in header else None
    records: list[tuple[str, str, str, str, str]] = []
    where: list[str] = []
    for texts, number in zip(body, numbers, strict=True):
        duration = texts[duration_at] if duration_at is not None else ""
        for j, parameter in parameters.items():
            value = texts[j]
            if value.lower() in MISSING_MARKERS:
                continue
            records.append((texts[site_at], texts[time_at], parameter, value, duration))
            where.append(f"{label} row {number} column {raw_header[j]}")
    frame = pd.DataFrame(
        records, columns=["site", "time", "parameter", "value", "duration"], dtype=object
    )
    return frame, where


def _text(cell: object) -> str:
    """A cell as the text a CSV would hold."""
    if cell is None:
        return ""
    if isinstance(cell, datetime):
        return _whole_seconds(cell).isoformat()
    if isinstance(cell, date | time):
        return cell.isoformat()
    if isinstance(cell, float):
        return repr(cell)
    return str(cell).strip()


def _time_text(cell: object, epoch: datetime) -> str:
    """A time cell as ISO 8601 text; a bare number is an Excel serial date."""
    if isinstance(cell, int | float) and not isinstance(cell, bool):
        try:
            moment = from_excel(cell, epoch)
        except (OverflowError, ValueError):
            return str(cell)
        if isinstance(moment, datetime):
            return _whole_seconds(moment).isoformat()
    return _text(cell)


def _whole_seconds(moment: datetime) -> datetime:
    """Round away the binary fraction error of Excel serial times (15:59:59.9999 → 16:00)."""
    rounded = moment + timedelta(microseconds=500_000)
    return rounded.replace(microsecond=0)
