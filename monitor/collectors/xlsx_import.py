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

Reading
-------
:func:`parse_xlsx` reads a whole workbook (given as bytes) at once. ``envmon import`` uses
:func:`stream_xlsx`, which opens the file itself and gives the same observations and warnings
a chunk of rows at a time, so that its memory does not grow with the workbook: openpyxl's
read-only mode parses each sheet's XML as a stream. Two things of openpyxl's own are kept
beyond a chunk, both named here as limits: the workbook's shared-strings table (every
*distinct* text cell, once: a workbook of millions of distinct texts still costs memory, one
of numbers, dates and repeated site and parameter names does not), and an emptied XML
element per row of the sheet being read (about 85 bytes a row, freed when the sheet ends:
at most about 90 MB for a full Excel sheet of 1,048,576 rows).
"""

from __future__ import annotations

import io
import itertools
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import IO, Any, Final
from xml.etree.ElementTree import ParseError

import numpy as np
import numpy.typing as npt
import openpyxl  # type: ignore[import-untyped, unused-ignore]
import pandas as pd
from openpyxl.utils.datetime import from_excel  # type: ignore[import-untyped, unused-ignore]
from openpyxl.utils.exceptions import (  # type: ignore[import-untyped, unused-ignore]
    InvalidFileException,
)

from monitor.cells import MISSING_MARKERS
from monitor.collectors.base import empty_observations
from monitor.collectors.intake import DEFAULT_FUTURE_TOLERANCE, HEADER_ONLY
from monitor.collectors.long_csv import (
    CHUNK_ROWS,
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    canonical_parameter,
    check_columns,
    light_key_hash,
    normalise_header,
    rows_to_observations,
)
from monitor.errors import InputError

__all__ = ["HEADER_SEARCH_ROWS", "parse_xlsx", "stream_xlsx"]

#: How many rows from the top of a sheet are searched for the header row.
HEADER_SEARCH_ROWS: Final = 10

_LONG_COLUMNS: Final = (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)

#: What openpyxl raises on a file that is not a readable workbook, opening it or reading a
#: sheet (a damaged zip member, broken sheet XML).
_UNREADABLE: Final = (
    zipfile.BadZipFile,
    zlib.error,
    ParseError,
    InvalidFileException,
    KeyError,
    EOFError,
    OSError,
    ValueError,
)


def parse_xlsx(
    data: bytes,
    name: str,
    *,
    now: datetime | None = None,
    future_tolerance: timedelta = DEFAULT_FUTURE_TOLERANCE,
) -> tuple[pd.DataFrame, list[str]]:
    """Observations of an .xlsx workbook (layouts in the module docstring), and warnings.

    The whole workbook at once; :func:`stream_xlsx` gives the same in bounded memory.

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
    warnings: list[str] = []
    pieces: list[pd.DataFrame] = []
    where: list[str] = []
    with ExitStack() as stack:
        book = _open(io.BytesIO(data), name, stack)
        sheets = _usable_sheets(book, name, warnings)
        try:
            for raw, located in _read(book, sheets, name, CHUNK_ROWS):
                pieces.append(raw)
                where.extend(located)
        except _UNREADABLE as err:
            raise _unreadable(name, err) from err
    if not where:  # nothing to import is not an error (issue 16: one rule for every format)
        return empty_observations(), [*warnings, HEADER_ONLY]
    frame, problems = rows_to_observations(
        pd.concat(pieces, ignore_index=True), where, now=now, future_tolerance=future_tolerance
    )
    return frame, warnings + problems


def stream_xlsx(
    path: Path,
    name: str,
    warnings: list[str],
    *,
    chunk_rows: int = CHUNK_ROWS,
    now: datetime | None = None,
    future_tolerance: timedelta = DEFAULT_FUTURE_TOLERANCE,
) -> Iterator[pd.DataFrame]:
    """The observations of an .xlsx file, ``chunk_rows`` rows at a time, in bounded memory.

    Gives what :func:`parse_xlsx` gives for the whole workbook — the same observations (in
    another order: see 2.) and the same warnings, filled into ``warnings`` once the last
    chunk has been given, in the same order — while holding about one chunk at a time, so
    that ``envmon import`` of a workbook of millions of cells stays within a few hundred MB
    (issue 16's rule: memory does not grow with the input file). The file is opened from
    ``path``, never read whole into memory. A chunk holds about ``chunk_rows`` long-layout
    rows (wide: filled cells), across sheets.

    The design of :func:`monitor.collectors.long_csv.stream_long_csv`, on the sheets' rows:

    1. a light pass: the header of every sheet (sheet warnings; an unusable workbook raises
       here), then per row only its key (site, canonical parameter, time) as a 64-bit hash,
       8 bytes a row; the hashes seen more than once are the *suspect* keys. A workbook
       without data rows gives nothing and the header-only warning;
    2. the full read, chunk by chunk: rows with a unique key are checked
       (:func:`~monitor.collectors.long_csv.rows_to_observations`) and given; rows with a
       suspect key are held back and checked together after the last chunk, so that a
       conflicting duplicate is refused with all its rows named even when they lie on
       different sheets, and nothing is given that would have to be undone.

    Memory is one chunk plus 8 bytes a row plus the held-back rows (a workbook repeating
    most of its keys holds most of its rows: a limit, as for long CSV), plus what openpyxl
    keeps of the sheet being read (module docstring).

    Raises
    ------
    InputError
        As :func:`parse_xlsx` (and if the file cannot be read), always before the first
        chunk is given.
    """
    with ExitStack() as stack:
        try:
            handle = stack.enter_context(path.open("rb"))
        except OSError as err:
            raise InputError(f"{name}: cannot read the file ({err.strerror})") from err
        book = _open(handle, name, stack)
        sheet_warnings: list[str] = []
        sheets = _usable_sheets(book, name, sheet_warnings)
        try:
            hashes = [light_key_hash(raw) for raw, _ in _read(book, sheets, name, chunk_rows)]
        except _UNREADABLE as err:
            raise _unreadable(name, err) from err
        if not hashes:  # nothing to import is not an error: as parse_xlsx (one rule)
            warnings.extend([*sheet_warnings, HEADER_ONLY])
            return
        keys = np.concatenate(hashes)
        del hashes
        keys.sort()  # in place: 8 bytes a row at most twice
        suspects = np.unique(keys[1:][keys[1:] == keys[:-1]])
        del keys
        problems: list[tuple[int, str]] = []
        held: list[pd.DataFrame] = []
        held_where: list[str] = []
        held_order: list[npt.NDArray[np.int64]] = []
        first = 0
        for raw, where in _read(book, sheets, name, chunk_rows):
            order = np.arange(first, first + len(raw), dtype=np.int64)
            first += len(raw)
            suspect = np.isin(light_key_hash(raw), suspects)
            if suspect.any():
                held.append(raw[suspect])
                held_where.extend(itertools.compress(where, suspect))
                held_order.append(order[suspect])
            clear = ~suspect
            if not clear.any():
                continue
            clear_where = list(itertools.compress(where, clear))
            frame, found = rows_to_observations(
                raw[clear], clear_where, now=now, future_tolerance=future_tolerance
            )
            problems.extend(_ordered(found, clear_where, order[clear]))
            if len(frame):
                yield frame
        if held:
            frame, found = rows_to_observations(
                pd.concat(held, ignore_index=True),
                held_where,
                now=now,
                future_tolerance=future_tolerance,
            )
            problems.extend(_ordered(found, held_where, np.concatenate(held_order)))
            if len(frame):
                yield frame
    problems.sort(key=lambda item: item[0])
    warnings.extend(sheet_warnings)
    warnings.extend(message for _, message in problems)


def _ordered(
    messages: list[str], where: Sequence[str], order: npt.NDArray[np.int64]
) -> list[tuple[int, str]]:
    """Row warnings with the place of their row in the workbook, to merge in order.

    ``messages`` come in row order, at most one a row, each starting ``"<where>: "``.
    """
    out: list[tuple[int, str]] = []
    i = 0
    for message in messages:
        while not (message.startswith(where[i]) and message[len(where[i]) :].startswith(": ")):
            i += 1
        out.append((int(order[i]), message))
        i += 1
    return out


def _open(source: IO[bytes], name: str, stack: ExitStack) -> Any:
    """The workbook in openpyxl's read-only mode (closed with ``stack``).

    Raises
    ------
    InputError
        If it is not a readable .xlsx workbook.
    """
    try:
        book = openpyxl.load_workbook(source, read_only=True, data_only=True)
    except _UNREADABLE as err:
        raise _unreadable(name, err) from err
    stack.callback(book.close)
    return book


def _unreadable(name: str, err: BaseException) -> InputError:
    return InputError(
        f"{name}: not a readable .xlsx workbook ({type(err).__name__}: {err}); "
        "expected an Excel 2007+ file (.xlsx)"
    )


@dataclass(frozen=True)
class _Sheet:
    """A sheet to import: where its header is and how its rows become long-layout rows."""

    index: int
    label: str
    #: Sheet row number (1-based) of the header row.
    header_row: int
    raw_header: tuple[str, ...]
    header: tuple[str, ...]
    #: Wide layout: column position → canonical parameter; ``None`` for the long layout.
    parameters: dict[int, str] | None


def _usable_sheets(book: Any, name: str, warnings: list[str]) -> list[_Sheet]:
    """The sheets with a usable header (reading only their first rows); warnings for the
    others and for ignored columns, in sheet order.

    Raises
    ------
    InputError
        If no sheet is usable, a sheet's header is (a required long column missing, a
        column twice), or the workbook cannot be read.
    """
    sheets: list[_Sheet] = []
    try:
        for index, sheet in enumerate(book.worksheets):
            sheet.reset_dimensions()  # some writers store wrong dimensions
            rows = sheet.iter_rows(min_row=1, max_row=HEADER_SEARCH_ROWS, values_only=True)
            try:
                top = [list(r) for r in rows]
            finally:
                rows.close()
            found = _sheet(index, top, f"{name} sheet {sheet.title!r}", warnings)
            if found is not None:
                sheets.append(found)
    except _UNREADABLE as err:
        raise _unreadable(name, err) from err
    if not sheets:
        raise InputError(
            f"{name}: no sheet has a header row with site and time in its first "
            f"{HEADER_SEARCH_ROWS} rows; expected the long layout (site, time, parameter, "
            "value) or the wide layout (site, time, <parameter columns>)"
        )
    return sheets


def _sheet(index: int, top: list[list[Any]], label: str, warnings: list[str]) -> _Sheet | None:
    """A sheet's layout from its first rows; None (with a warning) if it is skipped: no
    header, or a wide header without parameter columns."""
    header_at = next(
        (
            i
            for i, row in enumerate(top)
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
    raw_header = ["" if c is None else str(c).strip() for c in top[header_at]]
    header = normalise_header(raw_header)
    layout = (index, label, header_at + 1, tuple(raw_header), tuple(header))
    if "parameter" in header or "value" in header:
        warnings.extend(check_columns(header, label))
        return _Sheet(*layout, parameters=None)
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
    return _Sheet(*layout, parameters=parameters)


#: A long-layout row: site, time, parameter, value, unit, duration (text) and where it is.
_Row = tuple[str, str, str, str, str, str, str]


def _read(
    book: Any, sheets: list[_Sheet], name: str, chunk_rows: int
) -> Iterator[tuple[pd.DataFrame, list[str]]]:
    """The long-layout text rows of ``sheets`` (columns ``site, time, parameter, value,
    unit, duration``, wide rows melted), about ``chunk_rows`` at a time, with where each
    is (``"<name> sheet '<title>' row <n>[ column <header>]"``)."""
    epoch: datetime = book.epoch
    worksheets = book.worksheets
    rows = itertools.chain.from_iterable(
        _sheet_rows(worksheets[s.index], s, epoch) for s in sheets
    )
    while True:
        # Cells go straight into their column (as long_csv._row_chunks): no list a row.
        columns: list[list[str]] = [[] for _ in range(len(_LONG_COLUMNS) + 1)]
        for row in itertools.islice(rows, chunk_rows):
            for column, cell in zip(columns, row, strict=True):
                column.append(cell)
        if not columns[0]:
            return
        *cells, where = columns
        frame = pd.DataFrame(dict(zip(_LONG_COLUMNS, cells, strict=True)), dtype=object)
        yield frame, where


def _sheet_rows(sheet: Any, layout: _Sheet, epoch: datetime) -> Iterator[_Row]:
    """One sheet's data rows (below its header) as long-layout rows, lazily."""
    header, label = layout.header, layout.label
    width = len(header)
    text: list[Callable[[object], str]] = [
        (lambda c: _time_text(c, epoch)) if h == "time" else _text for h in header
    ]
    rows = sheet.iter_rows(min_row=layout.header_row + 1, values_only=True)
    numbered = enumerate(rows, start=layout.header_row + 1)
    if layout.parameters is None:  # long
        at = [header.index(c) if c in header else None for c in _LONG_COLUMNS]
        for number, row in numbered:
            cells = [*row[:width], *([None] * (width - len(row)))]
            texts = [convert(c) for convert, c in zip(text, cells, strict=True)]
            if any(texts):
                site, when, parameter, value, unit, duration = (
                    "" if j is None else texts[j] for j in at
                )
                yield site, when, parameter, value, unit, duration, f"{label} row {number}"
        return
    site_at, time_at = header.index("site"), header.index("time")
    duration_at = header.index("duration") if "duration" in header else None
    parameters = list(layout.parameters.items())
    raw_header = layout.raw_header
    for number, row in numbered:
        cells = [*row[:width], *([None] * (width - len(row)))]
        texts = [convert(c) for convert, c in zip(text, cells, strict=True)]
        if not any(texts):
            continue
        duration = texts[duration_at] if duration_at is not None else ""
        for j, parameter in parameters:
            value = texts[j]
            if value.lower() in MISSING_MARKERS:
                continue
            yield (
                texts[site_at],
                texts[time_at],
                parameter,
                value,
                "",
                duration,
                f"{label} row {number} column {raw_header[j]}",
            )


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
