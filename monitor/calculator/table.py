"""Reading the calculators' CSV input: header checks, times, numbers, per-row problems."""

from __future__ import annotations

import csv
import dataclasses
import functools
import io
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal, NoReturn, TypeVar

import numpy as np
import numpy.typing as npt
import polars as pl

from monitor.calculator import read_bytes
from monitor.cells import LOCAL_TZ as LOCAL_TZ
from monitor.cells import MISSING_MARKERS as MISSING_MARKERS
from monitor.cells import PROBLEM_SEPARATOR as PROBLEM_SEPARATOR
from monitor.cells import local_time_problems as local_time_problems
from monitor.cells import parse_local_times as parse_local_times
from monitor.csvfile import csv_cells_up_to, csv_lines, csv_records
from monitor.domain._threads import in_background, in_threads
from monitor.errors import InputError

if TYPE_CHECKING:
    import pandas as pd
else:  # imported on first use: the common cells are read without pandas
    from monitor.domain._deferred import pandas as pd

#: The warning that comes first when the rows read could not be matched to the file's lines
#: (:attr:`InputTable.lines_known`).
LINES_UNKNOWN: Final = (
    "line numbers unavailable: the rows read could not be matched to the file's lines, so "
    "the rows below are named by their place among the data rows (data row 1 is the first "
    "after the header)"
)

# Below-detection-limit notations of Chinese laboratories: "0.01L" (GB/T 8170 practice of
# writing the detection limit followed by L), "<0.01", "ND".
_BELOW_DL = re.compile(r"^(?:<\s*([0-9.]+(?:[eE][-+]?\d+)?)|([0-9.]+(?:[eE][-+]?\d+)?)\s*L)$")


@dataclass(frozen=True)
class InputTable:
    """A calculator input read and checked, row for row with the file.

    The checked cells are numpy arrays; the pandas views (:attr:`times`, :attr:`values`,
    :attr:`below_detection`, :attr:`problems`) are built on first use, so a calculation
    that works on the arrays never imports pandas.

    Attributes
    ----------
    text : polars.DataFrame
        Every column as text, as in the file (header normalised to lower case).
    sites : polars.Series
        The ``site`` cells without surrounding white space (empty strings when no such
        column).
    times_ns : ndarray of int64
        Row time as UTC nanoseconds; NaT (the smallest int64) where the cell was not a
        valid time.
    columns : tuple of str
        The recognised measurement columns, in the order of the matrices' columns.
    value_matrix : ndarray of float, shape (rows, columns)
        The measurement columns as float; NaN where missing or unusable.
    below_matrix : ndarray of bool, shape (rows, columns)
        True where a value was written as below the detection limit (``0.01L``, ``<0.01``);
        ``value_matrix`` then holds the detection limit itself.
    problem_texts : ndarray of object
        One text per row, empty when the row is fine; otherwise what was wrong, naming the
        column, the value and what was expected.
    unquoted : bool
        Whether every cell of :attr:`text` (and header name) is known to be written in CSV
        without quotes: read column-wise from a file without a quote character, so no cell
        holds a separator, a quote or a line break (True: then none does).
    lines : polars.Series or None
        When asked for and :attr:`unquoted`: each row's line as in the file (UTF-8, without
        the line end), which is its cells of :attr:`text` joined by commas.
    site_codes : _Distinct or None
        When known: the distinct texts of :attr:`sites` and each row's code among them
        (the same text ⇔ the same code), as the cell checks found them.
    problem_rows : ndarray of intp or None
        When known: the rows whose text of :attr:`problem_texts` is not empty, ascending,
        as the cell checks found them (not kept up to date by ``dataclasses.replace``).
    time_codes : _TimeCodes or None
        When every row's time is that of its text (none was read cell by cell): the
        distinct time texts, each row's code and each text's time (:attr:`times_ns` of
        its rows).
    value_codes : dict of str to _Distinct, or None
        The measurement columns with few distinct texts: their texts and each row's code
        (rows of the same code hold the same value and below-detection flag in
        :attr:`value_matrix` and :attr:`below_matrix`, as read from the same text). None
        when a row's values are not those of its texts (a row with too many cells).
    text_values : dict of str to ndarray of float, or None
        With :attr:`value_codes`: the value of each text of those columns (that of its rows
        in :attr:`value_matrix`; texts of no row hold the value read from them).
    row_lines : ndarray of int64 or None
        The line of the file on which each row starts, when not the row's place + 2 (blank
        lines, a quoted cell over several lines); see :meth:`line_numbers`.
    lines_known : bool
        False when the rows read could not be matched to the file's lines (the reader
        found other rows than a record-by-record count of the lines): then
        :meth:`line_numbers` is only the row's place + 2, and messages name rows by
        :meth:`row_names` (``data row N``), saying so, never by a line that may be wrong.
    """

    text: pl.DataFrame
    sites: pl.Series
    times_ns: npt.NDArray[np.int64]
    columns: tuple[str, ...]
    value_matrix: npt.NDArray[np.float64]
    below_matrix: npt.NDArray[np.bool_]
    problem_texts: npt.NDArray[np.object_]
    unquoted: bool = False
    lines: pl.Series | None = None
    site_codes: _Distinct | None = None
    problem_rows: npt.NDArray[np.intp] | None = None
    time_codes: _TimeCodes | None = None
    value_codes: dict[str, _Distinct] | None = None
    text_values: dict[str, npt.NDArray[np.float64]] | None = None
    row_lines: npt.NDArray[np.int64] | None = None
    lines_known: bool = True

    def row_names(self, rows: npt.ArrayLike) -> list[str]:
        """How messages name each of ``rows``: ``line N``, the line of the file on which it
        starts (:meth:`line_numbers`), or when those are not known (:attr:`lines_known`)
        ``data row N``, its place among the data rows (the first is 1)."""
        if self.lines_known:
            return [f"line {n}" for n in self.line_numbers(rows).tolist()]
        return [f"data row {n}" for n in (np.asarray(rows, dtype=np.int64) + 1).tolist()]

    def line_numbers(self, rows: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """The line of the file on which each of ``rows`` starts, as an editor numbers
        them (the first line is 1; lines end with LF, CRLF or a lone CR): blank lines and
        the lines of a quoted cell over several lines are counted."""
        at = np.asarray(rows, dtype=np.intp)
        if self.row_lines is None:
            return at.astype(np.int64) + 2
        return self.row_lines[at]

    @property
    def row_count(self) -> int:
        """Number of data rows."""
        return self.text.height

    @property
    def time_ok(self) -> npt.NDArray[np.bool_]:
        """Rows with a valid time."""
        ok: npt.NDArray[np.bool_] = self.times_ns != _NAT
        return ok

    @functools.cached_property
    def local_ns(self) -> npt.NDArray[np.int64]:
        """Row time as Asia/Shanghai wall-clock nanoseconds; NaT where not valid."""
        return _local_ns(self.times_ns)

    def of_local_times(
        self, f: Callable[[npt.NDArray[np.int64]], npt.NDArray[_Item]]
    ) -> npt.NDArray[_Item]:
        """``f(self.local_ns)`` for an element-wise ``f`` (of NaT too), computed once per
        distinct time text when the rows' times are those of their texts
        (:attr:`time_codes`)."""
        if self.time_codes is None:
            return f(self.local_ns)
        return self.time_codes.codes.spread(f(_local_ns(self.time_codes.utc_ns)))

    def value(self, column: str) -> npt.NDArray[np.float64]:
        """The float values of one measurement column."""
        values: npt.NDArray[np.float64] = self.value_matrix[:, self.columns.index(column)]
        return values

    @functools.cached_property
    def times(self) -> pd.Series:
        """Row time, tz-aware in Asia/Shanghai; NaT where the cell was not a valid time."""
        import pandas as pd

        stamps = pd.DatetimeIndex(self.times_ns.view("datetime64[ns]"))
        return pd.Series(stamps.tz_localize("UTC").tz_convert(LOCAL_TZ))

    @functools.cached_property
    def values(self) -> pd.DataFrame:
        """:attr:`value_matrix` as a frame, one column per measurement column."""
        import pandas as pd

        return pd.DataFrame(self.value_matrix, columns=list(self.columns), copy=False)

    @functools.cached_property
    def below_detection(self) -> pd.DataFrame:
        """:attr:`below_matrix` as a frame, one column per measurement column."""
        import pandas as pd

        return pd.DataFrame(self.below_matrix, columns=list(self.columns), copy=False)

    @functools.cached_property
    def problems(self) -> pd.Series:
        """:attr:`problem_texts` as a series."""
        import pandas as pd

        return pd.Series(self.problem_texts, dtype=object)

    def cells(self, column: str, rows: npt.NDArray[np.intp]) -> list[str]:
        """The text of ``column`` in the given rows (for messages)."""
        return [str(v) for v in self.text[column].gather(rows).to_list()]


_NAT: Final = np.iinfo(np.int64).min


def _local_ns(utc_ns: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """UTC nanoseconds (NaT where not valid) as Asia/Shanghai wall-clock nanoseconds."""
    ok = utc_ns != _NAT
    local = np.where(ok, utc_ns + _UTC_OFFSET_NS, _NAT)
    # before 1992 Asia/Shanghai kept summer time (1986–1991): pandas knows the offsets
    early = np.flatnonzero(ok & (utc_ns < _FROM_1992_NS - _UTC_OFFSET_NS))
    if len(early):
        stamps = pd.DatetimeIndex(utc_ns[early].view("datetime64[ns]"))
        local[early] = stamps.tz_localize("UTC").tz_convert(LOCAL_TZ).tz_localize(None).asi8
    return local


def _decode(data: bytes, path: str) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InputError(f"{path}: cannot decode the file; expected UTF-8 or GBK/GB18030 text")


def _normalise_header(name: str, aliases: Mapping[str, str]) -> str:
    key = name.strip().lower()
    return aliases.get(key, key)


def read_input_csv(
    path: Path | str,
    measurement_columns: Sequence[str],
    *,
    aliases: Mapping[str, str] | None = None,
    required: Sequence[str] = ("site", "time"),
    allow_below_detection: bool = False,
    lines: bool = False,
    coded: bool = False,
) -> InputTable:
    """Read a calculator CSV and check it.

    With ``lines``, :attr:`InputTable.lines` holds each row's line as in the file when the
    file's cells need no quotes (see there). With ``coded``, the measurement columns of
    :attr:`InputTable.text` of a file without quotes are read as categorical text (each
    distinct text once, as the cell checks need them; written as the same text), for
    callers that use only the site and time columns of :attr:`InputTable.text` as
    ``String``.

    Raises :class:`InputError` (one line, exit code 2) when the file as a whole cannot be
    used: unreadable, empty, no header, a required column missing, duplicate columns, or
    none of ``measurement_columns`` present. Problems of single cells are reported per row.

    The file is read by a columnar engine (polars); cells in the plain forms of exports
    (``35``, ``0.8``, empty, ``NA``; ``2026-03-01T16:00``) are converted column-wise and
    every other cell, row by row, as the per-cell rules below say. A file whose layout is
    irregular (blank lines, ragged rows, stray quotes) is read cell by cell throughout.
    """
    name = str(path)
    try:
        data = read_bytes(Path(path))
    except OSError as err:
        raise InputError(f"{name}: cannot read the file ({err.strerror})") from err
    utf8 = _utf8(data)
    # a letter, digit or comma is not white space: then the file is not empty
    plainly_not_empty = _VISIBLE.search(data, 0, 4096) is not None
    text = _decode(data, name) if utf8 is None or not plainly_not_empty else None
    if text is not None and not text.strip():
        raise InputError(f"{name}: the file is empty; expected a header row and data rows")
    if utf8 is None:
        utf8 = (text or "").encode("utf-8")  # GBK/GB18030 → UTF-8 for the engine
    extra = None  # the cells beyond the header's of the rows that have more
    lines_known = True  # (see InputTable.lines_known)
    measured = frozenset(measurement_columns)
    columnar = read_regular_csv(
        utf8,
        coded=(lambda c: _normalise_header(c, aliases or {}) in measured) if coded else None,
    )
    if columnar is None:
        decoded = _decode(data, name) if text is None else text
        raw = _read_with_pandas(decoded, name)
        _refuse_repeated_names(_header_cells(decoded), aliases or {}, name)
        if _EXTRA_CELLS in raw.columns:
            extra = raw.pop(_EXTRA_CELLS).to_numpy(dtype=object)
        columns = [str(c) for c in raw.columns]
        frame = pl.DataFrame(
            {f"c{i}": raw.iloc[:, i].to_numpy(dtype=object) for i in range(len(columns))},
            schema={f"c{i}": pl.String for i in range(len(columns))},
        )
        starts_on = raw.attrs.get(_ROW_LINES)
        if starts_on is None:
            starts_on = record_lines(decoded, frame.height, python_reader=extra is not None)
            lines_known = starts_on is not None
    else:
        columns, frame = columnar
        starts_on, lines_known = _regular_record_lines(utf8, frame.height)
    header = [_normalise_header(c, aliases or {}) for c in columns]
    _refuse_repeated_names(header, {}, name)
    frame.columns = header
    missing = [c for c in required if c not in header]
    if missing:
        raise InputError(
            f"{name}: missing column(s) {', '.join(missing)}; "
            f"the header must contain {', '.join(required)} (found: {', '.join(header)})"
        )
    present = [c for c in measurement_columns if c in header]
    if not present:
        raise InputError(
            f"{name}: no measurement column found (header: {', '.join(header)}); "
            f"expected at least one of {', '.join(measurement_columns)}"
        )
    if frame.height == 0:
        raise InputError(f"{name}: the file has a header but no data rows")
    # without a quote, the columnar reader's cells hold no separator and no line break
    unquoted = columnar is not None and b'"' not in utf8
    row_lines = (
        in_background(partial(_lines, utf8, frame.height, frame.width))
        if lines and unquoted
        else None
    )
    checked = _check_cells(frame, present, allow_below_detection)
    if extra is not None:
        checked = _not_rated_when_long(checked, extra)
    return dataclasses.replace(
        checked,
        unquoted=unquoted,
        lines=None if row_lines is None else row_lines.result(),
        row_lines=starts_on,
        lines_known=lines_known,
    )


def _regular_record_lines(data: bytes, rows: int) -> tuple[npt.NDArray[np.int64] | None, bool]:
    """:func:`record_lines` of a file :func:`read_regular_csv` read: None (each row on the
    line after the one before, the header on line 1) unless a quoted cell spans lines; and
    whether the lines are known (False: :func:`record_lines` found other rows)."""
    if b'"' not in data or data.count(b"\n") + (not data.endswith(b"\n")) == rows + 1:
        return None, True
    found = record_lines(data.decode("utf-8"), rows)
    return found, found is not None


def _lines(data: bytes, rows: int, columns: int) -> pl.Series | None:
    """The lines of the data rows of ``data`` (read by :func:`read_regular_csv`, no quote
    in it) as they are, without the line ends; None if they do not match the ``rows`` of
    ``columns`` cells (a short line, whose missing cells the reader gives as empty, is not
    its cells joined)."""
    if _UNIT_SEPARATOR in data:  # (the separator that keeps each line one cell)
        return None
    found = pl.read_csv(
        data,
        has_header=False,
        separator=_UNIT_SEPARATOR.decode(),
        quote_char=None,
        infer_schema=False,
        new_columns=["line"],
    ).to_series()
    if len(found) != rows + 1 or found.null_count():
        return None
    # no line has more separators than the header (the reader refused such a file): each
    # has as many when they add up to that
    if _separators(data) != (rows + 1) * (columns - 1):
        return None
    return found.slice(1)


def _physical_lines(
    data: bytes,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """The physical lines of UTF-8 ``data`` as an editor counts them (ended by ``\\n``,
    ``\\r\\n`` or a lone ``\\r``; line *k* is at place *k − 1*): where each starts and
    where its text ends (before the line end), in bytes, and whether it holds anything but
    spaces and tabs (pandas' C reader skips the lines that hold nothing else).

    Looked at a block at a time (:data:`_BLOCK_BYTES`): what is held at once besides
    ``data`` is a few numbers per line."""
    found = np.frombuffer(data, dtype=np.uint8)
    size = len(found)
    ends = _positions_of(found, ord("\n"))
    if b"\r" in data:
        cr = _positions_of(found, ord("\r"))
        after = np.minimum(cr + 1, size - 1)
        lone = cr[(cr + 1 >= size) | (found[after] != ord("\n"))]
        ends = np.union1d(ends, lone)
    starts = np.concatenate(([0], ends + 1)).astype(np.int64)
    text_ends = np.concatenate((ends, [size])).astype(np.int64)
    if starts[-1] >= size:  # (nothing after the last line end)
        starts, text_ends = starts[:-1], text_ends[:-1]
    if not len(starts):
        return starts, text_ends, np.zeros(0, dtype=bool)
    # a CR before the LF that ends a line belongs to the line end (any other CR ends a line)
    before = np.maximum(text_ends - 1, 0)
    text_ends -= (text_ends > starts) & (found[before] == ord("\r"))
    visible = np.empty(len(starts), dtype=bool)
    first = 0  # the first line of the next block of lines
    while first < len(starts):
        # the lines that begin in the next block of bytes (at least one)
        last = max(int(np.searchsorted(starts, starts[first] + _BLOCK_BYTES)), first + 1)
        low = int(starts[first])
        high = int(starts[last]) if last < len(starts) else size
        visible[first:last] = np.logical_or.reduceat(
            _VISIBLE_BYTE[found[low:high]], starts[first:last] - low
        )
        first = last
    return starts, text_ends, visible


def _positions_of(found: npt.NDArray[np.uint8], byte: int) -> npt.NDArray[np.int64]:
    """Where ``byte`` is in ``found``, ascending (looked for a block at a time)."""
    parts = [
        np.flatnonzero(found[start : start + _BLOCK_BYTES] == byte) + start
        for start in range(0, len(found), _BLOCK_BYTES)
    ]
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)


#: Bytes other than line ends, spaces and tabs.
_VISIBLE_BYTE: Final = np.ones(256, dtype=bool)
_VISIBLE_BYTE[[ord("\t"), ord("\n"), ord("\r"), ord(" ")]] = False


def record_lines(
    text: str, rows: int, *, python_reader: bool = False
) -> npt.NDArray[np.int64] | None:
    """The line of the file (header = line 1 when it is the first) on which each of the
    ``rows`` data rows of CSV ``text`` starts, as pandas reads them (blank lines skipped, a
    quoted cell over several lines one row); None when the rows found are not ``rows``
    (the reader read something else: then the caller counts as before).

    Lines end as an editor ends them: ``\\n``, ``\\r\\n`` or a lone ``\\r``. Blank lines are
    those pandas skips: with its C reader those holding only spaces and tabs, with its
    Python one (``python_reader``) also a record of one cell of white space.
    """
    if '"' not in text:  # (then a line is a record: counted column-wise)
        data = text.encode("utf-8")
        starts, ends, visible = _physical_lines(data)
        if python_reader:
            commas = _commas(data, starts)
            visible = visible & ~_blank_for_python(data, starts, ends, visible, commas)
        found = np.flatnonzero(visible)[1:] + 1
        return found if len(found) == rows else None
    with csv_cells_up_to(len(text)):  # (pandas' C reader reads a cell of any size)
        return _quoted_record_lines(text, rows, python_reader)


def _commas(data: bytes, starts: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """How many commas each line of ``data`` (beginning at ``starts``) holds (counted a
    block at a time: the positions of the commas of one block are held at once)."""
    found = np.frombuffer(data, dtype=np.uint8)
    bounds = np.append(starts, len(found))
    before = np.empty(len(bounds), dtype=np.int64)  # the commas before each bound
    counted = 0
    for start in range(0, len(found), _BLOCK_BYTES):
        end = min(start + _BLOCK_BYTES, len(found))
        at = np.flatnonzero(found[start:end] == ord(",")) + start
        low, high = np.searchsorted(bounds, [start, end])
        before[low:high] = counted + np.searchsorted(at, bounds[low:high])
        counted += len(at)
    before[-1] = counted
    per_line: npt.NDArray[np.int64] = np.diff(before)
    return per_line


def _blank_for_python(
    data: bytes,
    starts: npt.NDArray[np.int64],
    ends: npt.NDArray[np.int64],
    visible: npt.NDArray[np.bool_],
    commas: npt.NDArray[np.int64],
) -> npt.NDArray[np.bool_]:
    """The ``visible`` lines of ``data`` (without quotes) that pandas' Python reader skips
    all the same: one cell (no comma) of white space as :meth:`str.strip` sees it."""
    blank = np.zeros(len(starts), dtype=bool)
    for k in map(int, np.flatnonzero(visible & (commas == 0))):
        if not data[starts[k] : ends[k]].decode("utf-8").strip():
            blank[k] = True
    return blank


def _quoted_record_lines(
    text: str, rows: int, python_reader: bool
) -> npt.NDArray[np.int64] | None:
    """:func:`record_lines` of a text with quotes, read record by record."""
    last = ""

    def remembered(lines: Iterable[str]) -> Iterable[str]:
        nonlocal last
        for line in lines:
            last = line
            yield line

    reader = csv.reader(remembered(csv_lines(text)))
    found: list[int] = []
    ended = 0  # the last line read
    try:
        for record in reader:
            start, ended = ended + 1, reader.line_num
            if not record:
                continue
            if len(record) == 1 and (
                not record[0].strip()
                if python_reader
                else start == ended and not last.strip(" \t\r\n")
            ):
                continue
            found.append(start)
    except csv.Error:
        return None
    lines = np.array(found[1:], dtype=np.int64)
    return lines if len(lines) == rows else None


_UNIT_SEPARATOR: Final = b"\x1f"


def _header_cells(text: str) -> list[str]:
    """The header's cells as written (pandas renames a repeated name ``pm2_5`` to
    ``pm2_5.1``, which would then be ignored as an unknown column)."""
    try:
        first = pd.read_csv(
            io.StringIO(text, newline=""),
            header=None,
            nrows=1,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=True,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError):
        return []  # (the full read has reported what is wrong)
    return [str(c) for c in first.iloc[0]] if len(first) else []


def _refuse_repeated_names(cells: Sequence[str], aliases: Mapping[str, str], name: str) -> None:
    """An :class:`InputError` when two header cells name the same column."""
    header = [_normalise_header(c, aliases) for c in cells if c.strip()]
    duplicates = sorted({c for c in header if header.count(c) > 1})
    if duplicates:
        raise InputError(f"{name}: duplicate columns {', '.join(duplicates)}; keep one of each")


def _read_with_pandas(text: str, name: str) -> pd.DataFrame:
    """Every cell as text, read by pandas' tokenizer (any layout pandas accepts).

    Rows with more cells than the header (which pandas refuses, or, when every row has
    them, reads shifted, the first column as the index) are read by :func:`_read_long_rows`:
    then a column :data:`_EXTRA_CELLS` follows the header's. A text without quotes is read
    as :func:`_read_unquoted` says (the same frame, at the cost of other files).

    In a text without quotes a lone CR (which no cell can hold there) is read as LF: after a
    blank line so ended, pandas' C reader drops the empty first cell of a line beginning
    with a comma (its other cells moved one column left, a line ``,`` lost). A text with
    quotes, lone CRs and such a line is read by pandas' Python reader instead."""
    if "\r" in text and _LONE_CR.search(text):
        if '"' not in text:
            text = _LONE_CR.sub("\n", text)
        elif "\r," in text:
            # With quotes a lone CR may end a line or sit in a quoted cell, which only a
            # reader that follows the quotes tells apart: the Python one, whose records are
            # those of record_lines. (Only such a text holds the line the C reader shifts:
            # one beginning with a comma after a line ended by a CR; others keep the C
            # reader, about 1.5 times faster.)
            return _read_long_rows(text, name)
    if '"' not in text and "\0" not in text:
        found = _read_unquoted(text)
        if found is not None:
            return found
    try:
        read = pd.read_csv(
            io.StringIO(text), dtype=str, keep_default_na=False, skip_blank_lines=True
        )
        if isinstance(read.index, pd.RangeIndex):
            return read
    except pd.errors.ParserError as err:
        if not _TOO_MANY_FIELDS.search(str(err)):
            _unreadable(name, err)
    except pd.errors.EmptyDataError as err:
        _unreadable(name, err)
    return _read_long_rows(text, name)


def _unreadable(name: str, err: Exception) -> NoReturn:
    first = str(err).strip().splitlines()[0] if str(err).strip() else "parse error"
    raise InputError(f"{name}: not a readable CSV file ({first})") from err


_LONE_CR: Final = re.compile(r"\r(?!\n)")
_TOO_MANY_FIELDS: Final = re.compile(r"Expected \d+ fields in line \d+, saw \d+")
#: The column of the cells beyond the header's (joined by ``\x1f``), NaN in the other rows.
_EXTRA_CELLS: Final = "\0extra cells"


def _read_long_rows(text: str, name: str) -> pd.DataFrame:
    """As :func:`_read_with_pandas`, a file some of whose rows have more cells than the
    header: the header's columns hold each row's first cells, :data:`_EXTRA_CELLS` the
    others (pandas' Python tokenizer: its C one cannot give a row's extra cells).

    That reader skips, without a word, a row that Python's strict ``csv`` reader refuses
    (``"q"tail``: text after a quoted cell's end): then the text is first read by the
    lenient one (``qtail``, as pandas' C reader reads it) and written back, quoted. A quote
    opened and never closed refuses the file (:func:`_lenient_records`), as pandas' C
    reader does.
    """
    with csv_cells_up_to(len(text)):  # (a longer cell: a row the Python reader skips)
        try:
            for _ in csv.reader(io.StringIO(text, newline=""), strict=True):
                pass
        except csv.Error:
            written = io.StringIO()  # (a line end of "\r\n": cells holding \r or \n quoted)
            csv.writer(written, lineterminator="\r\n").writerows(_lenient_records(text, name))
            text = written.getvalue()
        try:
            # (the header by the reader of the rows: pandas' C one drops the empty first cell
            # of a line beginning with a comma after a blank line ended by a lone CR)
            header = pd.read_csv(
                io.StringIO(text, newline=""),
                dtype=str,
                nrows=0,
                skip_blank_lines=True,
                engine="python",
            )
            width = len(header.columns)
            read = pd.read_csv(
                io.StringIO(text, newline=""),  # (lines also ended by a lone CR, as the C reader)
                dtype=str,
                keep_default_na=False,
                skip_blank_lines=True,
                header=None,
                names=[*header.columns, _EXTRA_CELLS],
                index_col=False,
                engine="python",
                on_bad_lines=lambda cells: [*cells[:width], "\x1f".join(cells[width:])],
            )
        except (pd.errors.ParserError, pd.errors.EmptyDataError, csv.Error) as err:
            _unreadable(name, err)
        # (the header row read as data); a short row's missing cells are empty, as the C reader
        read[list(read.columns[:width])] = read.iloc[:, :width].fillna("")
        return read.iloc[1:].reset_index(drop=True)


def _lenient_records(text: str, name: str) -> Iterator[list[str]]:
    """The records of ``text`` as Python's lenient ``csv`` reader reads them (``"q"tail``
    is ``qtail``); :class:`InputError` naming the line when a quote is opened and never
    closed (that reader would close it at the end: the rest of the file one cell, its rows
    lost in it; :func:`~monitor.csvfile.csv_records`)."""
    for _, record in csv_records(csv_lines(text), len(text), name, "run the calculation again"):
        yield record


def _read_unquoted(text: str) -> pd.DataFrame | None:
    """:func:`_read_with_pandas` of a text without quotes or NUL, each row's line found on
    the way (:data:`_ROW_LINES`); None when it is not read here (then the caller reads it).

    Without quotes each line is a row and its cells are the texts between its commas, so
    the lines and their commas are counted column-wise first. A file whose rows have at most
    the header's cells is read by pandas' C reader, as any irregular file. One with longer
    rows is read as pandas' Python reader read it before (:func:`_read_long_rows`: the
    same frame) at the cost of other irregular files: the C reader reads the header's cells
    of every line (the lines the Python reader skips as blank skipped), the cells beyond
    them are split here (``envmon calc aqi`` of 576,000 rows, five of them long: 2.0 s of
    CPU and 458 MB, as with a blank line instead, where the Python reader took 5.0 s and
    805 MB; ``benchmarks/bench_calc_irregular.py``).
    """
    data = text.encode("utf-8")
    starts, ends, visible = _physical_lines(data)
    lines = np.flatnonzero(visible)
    if not len(lines):
        return None
    per_line = _commas(data, starts)
    width = int(per_line[lines[0]]) + 1
    long = lines[1:][per_line[lines[1:]] >= width]
    if not len(long):
        del data, starts, ends, per_line  # (held no longer than needed)
        try:
            read = pd.read_csv(
                io.StringIO(text), dtype=str, keep_default_na=False, skip_blank_lines=True
            )
        except (pd.errors.ParserError, pd.errors.EmptyDataError):
            return None
        if not isinstance(read.index, pd.RangeIndex) or len(read) != len(lines) - 1:
            return None
        read.attrs[_ROW_LINES] = lines[1:] + 1
        return read
    if "\r," in text:  # (pandas' C reader drops the first, empty cell of such a line)
        return None
    rows = visible & ~_blank_for_python(data, starts, ends, visible, per_line)
    taken = np.flatnonzero(rows)  # the header's line and the rows', as the Python reader's
    if not len(taken) or taken[0] != lines[0]:
        return None
    data_lines = taken[1:]
    only_python_skips = np.flatnonzero(visible & ~rows)
    extra_cells = [
        "\x1f".join(data[starts[k] : ends[k]].decode("utf-8").split(",")[width:])
        for k in map(int, long)
    ]
    del data, starts, ends, visible, rows, per_line  # (held no longer than needed)
    try:
        read = pd.read_csv(
            io.StringIO(text),
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=True,
            # (by line: none spans lines without quotes)
            skiprows=[int(k) for k in only_python_skips],
            usecols=range(width),  # (a long row's first cells; the others are the extra)
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError):
        return None
    if (
        (len(read) and not isinstance(read.index, pd.RangeIndex))  # (no column as index)
        or len(read.columns) != width
        or len(read) != len(data_lines)
    ):
        return None
    extra = np.full(len(data_lines), np.nan, dtype=object)
    extra[np.searchsorted(data_lines, long)] = extra_cells
    read[_EXTRA_CELLS] = extra
    read.attrs[_ROW_LINES] = data_lines + 1
    return read


#: The key of :attr:`pandas.DataFrame.attrs` under which :func:`_read_unquoted` gives
#: each row's line (:func:`record_lines` of the text).
_ROW_LINES: Final = "row lines"


def _not_rated_when_long(table: InputTable, extra: npt.NDArray[np.object_]) -> InputTable:
    """``table`` with the rows that had cells beyond the header's (``extra``: those cells
    joined by ``\x1f``, NaN for the other rows) not rated: which cell belongs to which
    column is not known. Their values and time are dropped, their problem says why (with
    the cells that did not fit, so nothing is lost); the row stays in its place.

    ``table``'s arrays are changed in place (its reader's own: not copied)."""
    long = np.flatnonzero(~pd.isna(extra))  # (NaN or the cells' text)
    if not len(long):
        return table
    width = table.text.width
    values, below = table.value_matrix, table.below_matrix
    times, problems = table.times_ns, table.problem_texts
    values[long], below[long], times[long] = np.nan, False, _NAT
    for i in map(int, long):
        cells = str(extra[i]).split("\x1f")
        problems[i] = (
            f"a row with {width + len(cells)} cells where the header has {width}: not rated "
            f"(the cells beyond the first {width}, {','.join(cells)!r}, belong to no column); "
            "check the row's separators"
        )
    rows = None if table.problem_rows is None else np.union1d(table.problem_rows, long)
    return dataclasses.replace(
        table,
        value_matrix=values,
        below_matrix=below,
        times_ns=times,
        problem_texts=problems,
        problem_rows=rows,
        value_codes=None,  # (the long rows' values are dropped: no longer their texts')
        text_values=None,
    )


_VISIBLE = re.compile(rb"[0-9A-Za-z,]")


def _utf8(data: bytes) -> bytes | None:
    """The bytes without a UTF-8 byte-order mark if they are UTF-8; None otherwise."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if data.isascii():
        return data
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return data


def read_regular_csv(
    data: bytes, coded: Callable[[str], bool] | None = None
) -> tuple[list[str], pl.DataFrame] | None:
    """Header names and every cell of UTF-8 ``data`` as text, read column-wise; None unless
    the layout is regular.

    ``coded`` (given a header name as in the file): the columns read as categorical text
    when ``data`` has no quote, each with categories of its own (so the reader lists each
    distinct text once, which costs less than a cast afterwards). The reader gives an empty
    cell of such a column as null: ``data`` is regular then only when every line has the
    header's number of separators (no line short of cells), and a null is an empty cell.

    Regular: a header of distinct, non-empty names, no blank or white-space-only lines,
    ``\\r`` only before ``\\n``, no NUL, and quoting polars reads without complaint. Such
    a file reads the same with pandas' tokenizer (what :func:`_read_with_pandas` gives),
    which the callers rely on; anything else returns None and is read by pandas.
    """
    if b"\x00" in data or (b"\r" in data and data.count(b"\r") != data.count(b"\r\n")):
        return None
    end = data.find(b"\n")
    first_line = (data if end < 0 else data[:end]).rstrip(b"\r").decode("utf-8")
    names = next(csv.reader([first_line]), [])
    if not names or any(not n for n in names) or len(set(names)) != len(names):
        return None
    categorical = (
        {n: pl.Categorical(pl.Categories.random()) for n in _repeating(data, names, coded)}
        if coded is not None and len(names) > 1 and b'"' not in data
        else {}
    )
    # (every line of a file without quotes has the header's separators: counted meanwhile)
    separators = in_background(partial(_separators, data)) if categorical else None
    try:
        frame = pl.read_csv(
            data,
            infer_schema=False,
            schema_overrides=categorical or None,
            empty_string_is_null=False,
            truncate_ragged_lines=False,
            raise_if_empty=True,
            has_header=True,
        )
    except (pl.exceptions.PolarsError, ValueError):
        return None
    texts = [n for n in names if n not in categorical]
    if frame.columns != names or frame[texts].null_count().sum_horizontal().item() != 0:
        return None
    # (more separators in a line than in the header: the reader refused the file)
    if separators is not None and separators.result() != (frame.height + 1) * (len(names) - 1):
        return None
    # pandas skips blank and white-space-only lines; polars reads them as a row of empty
    # cells, as it reads ",,," — such a row means: let pandas decide.
    first, *rest = (pl.col(n) for n in names)
    candidates = frame  # rows whose other cells are empty: strip the first one only there
    empty = [
        cell.is_null() if cell.meta.output_name() in categorical else cell == "" for cell in rest
    ]
    if rest:  # (the second cell first: few rows are left to compare the others)
        candidates = frame.filter(empty[0]).filter(pl.all_horizontal(empty))
    first_text = first.cast(pl.String).fill_null("")  # (null: an empty categorical cell)
    if candidates.select((first_text.str.strip_chars() == "").any()).item():
        return None
    return names, frame.rename({n: f"c{i}" for i, n in enumerate(names)})


def _repeating(data: bytes, names: list[str], coded: Callable[[str], bool]) -> list[str]:
    """The columns ``coded`` names whose texts repeat (each at least :data:`_REPEATS` times
    on average) in each of three samples of ``data`` (a file without quotes): its first rows
    (about :data:`_SAMPLE_BYTES`), and rows from its middle and its end (half that each,
    when the file is longer). The categorical reader lists few distinct texts faster than it
    reads text, but many (numbers written with three decimals, say) much more slowly — a
    file that repeats at its start and not later would be read about 60 % slower."""
    wanted = [n for n in names if coded(n)]
    if not wanted:
        return []
    header_end = data.find(b"\n") + 1
    samples = [data[: _line_end(data, _SAMPLE_BYTES)]]
    if len(data) > 2 * _SAMPLE_BYTES:
        for middle in (len(data) // 2, len(data) - _SAMPLE_BYTES // 2 - 1):
            start = _line_end(data, middle)
            samples.append(
                data[:header_end] + data[start : _line_end(data, start + _SAMPLE_BYTES // 2)]
            )
    repeating = set(wanted)
    for sample in samples:
        try:
            read = pl.read_csv(sample, infer_schema=False, columns=wanted)
        except (pl.exceptions.PolarsError, ValueError):
            return []
        counts = read.select(pl.all().n_unique()).row(0)
        repeating &= {
            n for n, count in zip(wanted, counts, strict=True) if count * _REPEATS <= read.height
        }
    return [n for n in wanted if n in repeating]


def _line_end(data: bytes, at: int) -> int:
    """The position after the line end at or after ``at`` (the end of ``data`` if none)."""
    end = data.find(b"\n", at)
    return len(data) if end < 0 else end + 1


_SAMPLE_BYTES: Final = 1 << 19
_REPEATS: Final = 16


def _separators(data: bytes) -> int:
    """How many commas ``data`` holds (counted a block at a time: the comparisons stay
    small)."""
    found = 0
    for start in range(0, len(data), _BLOCK_BYTES):
        block = np.frombuffer(
            data, dtype=np.uint8, count=min(_BLOCK_BYTES, len(data) - start), offset=start
        )
        found += int(np.count_nonzero(block == ord(",")))
    return found


_BLOCK_BYTES: Final = 1 << 22


# (?-u): byte classes, not Unicode ones (the same matches for these ASCII classes, faster)
_PLAIN_NUMBER = r"(?-u)^[0-9]{1,9}(?:\.[0-9]{1,6})?$"
_PLAIN_TIME = r"(?-u)^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2})?$"
_SPACE_AT_ENDS = r"^[\s\x1c-\x1f]|[\s\x1c-\x1f]$"  # what str.strip() would remove


def _check_cells(
    frame: pl.DataFrame, present: Sequence[str], allow_below_detection: bool
) -> InputTable:
    """Times, values and problems: plain cells column-wise, the others cell by cell.

    A cell is plain when it is in the form exports write (see the patterns above); the
    few other cells are read as the per-cell rules say: negative numbers and the rarer
    missing markers directly, everything else (signs, exponents, white space, notes of a
    detection limit, times with offsets …) by pandas, as before the columnar engine.
    """
    n = frame.height
    checks = []
    for column in present:
        cell = pl.col(column)
        common_marker = (cell == "") | (cell == "NA") | (cell == "/") | (cell == "-")
        checks.append((common_marker | cell.str.contains(_PLAIN_NUMBER)).alias(column))
    has_site = "site" in frame.columns
    if has_site:
        site = pl.col("site")
        checks.append(((site != "") & ~site.str.contains(_SPACE_AT_ENDS)).alias("\0site"))
    has_time = "time" in frame.columns
    if has_time:
        checks.append(pl.col("time").str.contains(_PLAIN_TIME).alias("\0time"))
    distinct = _distinct_texts(
        frame, [*present, *(["time"] if has_time else []), *(["site"] if has_site else [])]
    )
    # the checks of a column with few distinct texts are made once per text
    plain = frame.select([c for c in checks if c.meta.output_name().lstrip("\0") not in distinct])
    if has_time and "time" in distinct:
        times = distinct["time"]
        is_plain = times.texts.str.contains(_PLAIN_TIME).to_numpy()
        stamp_by_text, valid_by_text = _plain_times(times.texts, is_plain)
        # (a valid time is from 1992 on: never NaT)
        times_ns = times.spread(np.where(valid_by_text, stamp_by_text, _NAT))
        odd_time = times_ns == _NAT
    elif has_time:
        stamp, valid = _plain_times(frame["time"], plain["\0time"].to_numpy())
        odd_time = ~valid
        times_ns = np.where(valid, stamp, _NAT)
    else:
        times_ns = np.full(n, _NAT, dtype=np.int64)
        odd_time = np.zeros(n, dtype=bool)
    odd_site = np.zeros(n, dtype=bool)
    if has_site and "site" in distinct:
        site_texts = distinct["site"]
        site_check = next(c for c in checks if c.meta.output_name() == "\0site")
        texts_ok = site_texts.texts.to_frame("site").select(site_check).to_series().to_numpy()
        odd_site = ~site_texts.spread(texts_ok)
    elif has_site:
        odd_site = ~plain["\0site"].to_numpy()

    values = np.empty((n, len(present)), dtype=np.float64, order="F")
    below = np.zeros((n, len(present)), dtype=bool, order="F")
    plain_number = {c.meta.output_name(): c for c in checks}
    text_values: dict[str, npt.NDArray[np.float64]] = {}

    def read_column(j: int) -> npt.NDArray[np.intp]:
        """Values of the plain cells of column ``j`` into ``values``; the rows of the
        others."""
        column = present[j]
        if column in distinct:
            cells = distinct[column]
            texts_plain = cells.texts.to_frame(column).select(plain_number[column])
            per_text = cells.texts.cast(pl.Float64, strict=False).to_numpy(writable=True)
            text_values[column] = per_text
            values[:, j] = cells.spread(per_text)
            return cells.rows_of(np.flatnonzero(~texts_plain.to_series().to_numpy()))
        values[:, j] = frame[column].cast(pl.Float64, strict=False).to_numpy()
        return np.flatnonzero(~plain[column].to_numpy())

    # independent columns (numpy and polars release the GIL): on every core
    odd_cells = dict(zip(present, in_threads(read_column, range(len(present))), strict=True))
    notes = _Notes()
    sites = frame["site"] if has_site else pl.Series("site", [""] * n, dtype=pl.String)
    time_rows = np.flatnonzero(odd_time)
    if len(time_rows):
        texts = frame["time"].gather(time_rows).to_list()
        odd_times = parse_local_times(pd.Series(texts, dtype=object))
        unread = np.flatnonzero(odd_times.isna().to_numpy())
        gaps = local_time_problems([texts[i] for i in unread])
        for i, gap in zip(map(int, unread), gaps, strict=True):
            row = int(time_rows[i])
            notes.add(
                row, gap or f"time {texts[i]!r} is not an ISO 8601 time (e.g. 2026-03-01T16:00)"
            )
        utc = odd_times.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
        times_ns[time_rows] = utc.astype("datetime64[ns]").view(np.int64)  # NaT stays NaT
    site_rows = np.flatnonzero(odd_site)
    if len(site_rows):
        stripped = [str(t).strip() for t in sites.gather(site_rows).to_list()]
        for row, text in zip(map(int, site_rows), stripped, strict=True):
            if not text:
                notes.add(row, "site is empty")
        sites = sites.scatter(site_rows, stripped)
    for j, column in enumerate(present):
        rows = odd_cells[column]
        if len(rows):
            texts = [str(t) for t in frame[column].gather(rows).to_list()]
            _read_odd_numbers(
                column, rows, texts, values[:, j], below[:, j], notes, allow_below_detection
            )
            if column in text_values:  # (the rows of a text hold the value read from it)
                text_values[column][distinct[column].row_codes[rows]] = values[rows, j]
    # (the codes of the texts as read: those of the sites unless a site was stripped)
    site_codes = distinct.get("site") if not len(site_rows) else None
    time_codes = (
        _TimeCodes(distinct["time"], np.where(valid_by_text, stamp_by_text, _NAT))
        if has_time and "time" in distinct and not len(time_rows)
        else None
    )
    return InputTable(
        frame,
        sites,
        times_ns,
        tuple(present),
        values,
        below,
        notes.texts(n),
        site_codes=site_codes,
        problem_rows=np.array(sorted(notes.by_row), dtype=np.intp),
        time_codes=time_codes,
        value_codes={c: distinct[c] for c in present if c in distinct},
        text_values=text_values,
    )


_Item = TypeVar("_Item", bound=np.generic)


@dataclass(frozen=True)
class _Distinct:
    """The distinct texts of a column and, per row, the code of its text: its place among
    them."""

    texts: pl.Series
    row_codes: npt.NDArray[np.uint32]

    def spread(self, per_text: npt.NDArray[_Item]) -> npt.NDArray[_Item]:
        """Values given for each of :attr:`texts`, for each row."""
        spread: npt.NDArray[_Item] = per_text[self.row_codes]
        return spread

    def rows_of(self, codes: npt.NDArray[np.intp]) -> npt.NDArray[np.intp]:
        """The rows whose text is one of ``codes`` (places in :attr:`texts`), ascending
        (as ``flatnonzero(isin(row_codes, codes))``; a few codes compared one by one, which
        spares the gather of a flag per row)."""
        if not len(codes):
            return np.empty(0, dtype=np.intp)
        if len(codes) > _FEW_CODES:
            wanted = np.zeros(len(self.texts), dtype=bool)
            wanted[codes] = True
            return np.flatnonzero(self.spread(wanted))
        found = self.row_codes == int(codes[0])
        for code in codes[1:]:
            found |= self.row_codes == int(code)
        return np.flatnonzero(found)


#: Up to this many codes, :meth:`_Distinct.rows_of` compares the rows' codes with each.
_FEW_CODES: Final = 4


def _distinct_texts(frame: pl.DataFrame, names: Sequence[str]) -> dict[str, _Distinct]:
    """The distinct texts of the columns ``names`` that have few (at most a quarter of the
    rows), and each row's code among them: exports repeat the same hours and
    concentrations, so a cell check made once per distinct text is cheaper than one per
    cell (the result of each cell is the same).

    Each column gets categories of its own (polars), which list its distinct texts by code
    (categories shared by the columns would cost more: they would fill them in turn).

    A column read as categorical (:func:`read_regular_csv`, ``coded``) is given as it is,
    however many texts it has; its null cells (empty ones, as the reader gives them) get
    the code of an empty text after its categories.
    """
    if not frame.height or not names:
        return {}
    schema = frame.schema
    read = {name: schema[name] for name in names if isinstance(schema[name], pl.Categorical)}
    dtypes = {name: pl.Categorical(pl.Categories.random()) for name in names if name not in read}
    # each column cast on its own, on our threads: cast in one select, polars' threads
    # contend for the categories and take about twice the CPU time
    casts = in_threads(lambda name: frame[name].cast(dtypes[name]), list(dtypes))
    codes = dict(zip(dtypes, casts, strict=True))
    # (the categories live while ``codes`` uses them)
    texts = dict(zip(dtypes, in_threads(category_texts, casts), strict=True))
    few = [
        name
        for name in dtypes
        if len(texts[name]) * 4 <= frame.height and not codes[name].null_count()
    ]
    found_texts = in_threads(category_texts, [frame[name] for name in read])
    for name, found in zip(read, found_texts, strict=True):
        texts[name] = found.append(pl.Series([""]))

    def row_codes(name: str) -> npt.NDArray[np.uint32]:
        if name in read:
            empty = len(texts[name]) - 1
            found: npt.NDArray[np.uint32] = frame[name].to_physical().fill_null(empty).to_numpy()
            return found
        coded: npt.NDArray[np.uint32] = codes[name].to_physical().to_numpy()
        return coded

    chosen = [name for name in names if name in read or name in few]
    rows = in_threads(row_codes, chosen)
    return {name: _Distinct(texts[name], row) for name, row in zip(chosen, rows, strict=True)}


def category_texts(column: pl.Series) -> pl.Series:
    """The texts of a categorical ``column`` with categories of its own (each the text of
    some row: as its cast or the reader made them), by code, as its categories'
    ``to_series()`` lists them — made by polars, not one text at a time in Python (about
    20 ms for 50,000 texts)."""
    dtype = column.dtype
    assert isinstance(dtype, pl.Categorical)  # (for mypy)
    physical = column.to_physical()
    top = physical.max()
    count = top + 1 if isinstance(top, int) else 0
    try:
        codes = pl.Series(column.name, np.arange(count), dtype=physical.dtype)
        return codes.cat.to(dtype).cast(pl.String)
    except pl.exceptions.PolarsError:  # (a code without a text: as polars lists them)
        return dtype.categories.to_series()


@dataclass(frozen=True)
class _TimeCodes:
    """The distinct time texts with each row's code, and each text's time as UTC
    nanoseconds (NaT where not a valid time)."""

    codes: _Distinct
    utc_ns: npt.NDArray[np.int64]


class _Notes:
    """Problems of the rows that have some, in the order they were found."""

    def __init__(self) -> None:
        self.by_row: dict[int, list[str]] = {}

    def add(self, row: int, problem: str) -> None:
        self.by_row.setdefault(row, []).append(problem)

    def texts(self, n: int) -> npt.NDArray[np.object_]:
        texts = np.empty(n, dtype=object)
        texts.fill("")  # (as np.full, which fills object arrays a quarter as fast)
        for row, problems in self.by_row.items():
            texts[row] = PROBLEM_SEPARATOR.join(problems)
        return texts


_NOT_A_CONCENTRATION: Final = "is not a concentration; expected a finite value ≥ 0"


def _not_a_value(column: str) -> str:
    """What a negative or infinite cell of ``column`` is not: a pH is no concentration
    (GB 3838 Table 1 gives it on its 0–14 scale, 6–9 for classes I–V)."""
    return "is outside 0–14" if column == "ph" else _NOT_A_CONCENTRATION


_NEGATIVE_NUMBER = re.compile(r"-[0-9]{1,9}(?:\.[0-9]{1,6})?")


def _read_odd_numbers(
    column: str,
    rows: npt.NDArray[np.intp],
    texts: list[str],
    values: npt.NDArray[np.float64],
    below: npt.NDArray[np.bool_],
    notes: _Notes,
    allow_below_detection: bool,
) -> None:
    """Values and problems of the cells of ``column`` that are not plain.

    Negative numbers in the plain form (``-1``, ``-0.5``) and missing markers are read
    here; the other cells by :func:`_parse_numbers`. ``values`` and ``below`` are the
    column's arrays, written in ``rows``.
    """
    rest: list[int] = []
    for k, text in enumerate(texts):
        row = int(rows[k])
        if text.strip().lower() in MISSING_MARKERS:
            values[row] = np.nan
        elif _NEGATIVE_NUMBER.fullmatch(text) and float(text) < 0:
            values[row] = np.nan
            notes.add(row, f"{column} {text!r} {_not_a_value(column)}")
        else:
            rest.append(k)
    if not rest:
        return
    raw = pd.DataFrame({column: [texts[k] for k in rest]})
    row_problems: list[list[str]] = [[] for _ in rest]
    parsed, parsed_below = _parse_numbers(raw, [column], row_problems, allow_below_detection)
    at = rows[rest]
    values[at] = parsed[column].to_numpy(dtype=float)
    below[at] = parsed_below[column].to_numpy(dtype=bool)
    for row, problems in zip(map(int, at), row_problems, strict=True):
        for problem in problems:
            notes.add(row, problem)


def _plain_times(
    text: pl.Series, plain: npt.NDArray[np.bool_]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """UTC nanoseconds of ``YYYY-MM-DD[T ]HH:MM[:SS]`` Asia/Shanghai times, and which are valid.

    Valid: a real date from 1992 on (Asia/Shanghai is UTC+8 throughout; it kept summer time
    in 1986–1991) and a time 00:00:00–23:59:59. Others are left to pandas, cell by cell.
    """
    parsed = text.str.strptime(pl.Datetime("ns"), "%Y-%m-%dT%H:%M", strict=False, cache=False)
    others = parsed.is_null() & pl.Series(plain)
    if others.any():  # the other plain forms: a space for T, seconds
        iso = pl.col("t").str.replace(" ", "T", literal=True)
        rest = pl.DataFrame({"t": text.filter(others)}).select(
            pl.when(pl.col("t").str.len_bytes() == 16)
            .then(iso.str.strptime(pl.Datetime("ns"), "%Y-%m-%dT%H:%M", strict=False, cache=False))
            .otherwise(
                iso.str.strptime(pl.Datetime("ns"), "%Y-%m-%dT%H:%M:%S", strict=False, cache=False)
            )
        )
        parsed = parsed.scatter(np.flatnonzero(others.to_numpy()), rest.to_series())
    local = parsed.to_physical().fill_null(0).to_numpy()
    valid = plain & parsed.is_not_null().to_numpy() & (local >= _FROM_1992_NS)
    return np.where(valid, local - _UTC_OFFSET_NS, 0), valid


_FROM_1992_NS: Final = int(np.datetime64("1992-01-01", "ns").astype(np.int64))
_UTC_OFFSET_NS: Final = 8 * 3600 * 1_000_000_000


def _parse_numbers(
    raw: pd.DataFrame,
    columns: Iterable[str],
    row_problems: list[list[str]],
    allow_below_detection: bool,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    values = pd.DataFrame(index=raw.index)
    below = pd.DataFrame(index=raw.index)
    for column in columns:
        cells = raw[column].astype(str).str.strip()
        missing = cells.str.lower().isin(MISSING_MARKERS)
        numbers = pd.to_numeric(cells.where(~missing), errors="coerce")
        # Only cells that are neither missing nor numbers can be below-detection notes.
        unparsed = numbers.isna() & ~missing
        is_dl = pd.Series(False, index=raw.index)
        dl_text = pd.Series(np.nan, index=raw.index, dtype=object)
        if unparsed.any():
            dl_match = cells[unparsed].str.extract(_BELOW_DL)
            dl_text[unparsed] = dl_match[0].fillna(dl_match[1])
            is_dl = dl_text.notna() & unparsed
        if allow_below_detection and is_dl.any():
            numbers = numbers.where(~is_dl, pd.to_numeric(dl_text, errors="coerce"))
        bad = numbers.isna() & ~missing
        for i in map(int, np.flatnonzero(bad.to_numpy())):
            if is_dl.iat[i]:
                row_problems[i].append(
                    f"{column} {cells.iat[i]!r} is a below-detection-limit value, "
                    "which this calculation does not accept; give a number"
                )
            else:
                row_problems[i].append(f"{column} {cells.iat[i]!r} is not a number")
        arr = numbers.to_numpy(dtype=float)
        not_finite = ~np.isfinite(arr) & ~np.isnan(arr)
        negative = arr < 0
        for i in map(int, np.flatnonzero(negative | not_finite)):
            row_problems[i].append(f"{column} {cells.iat[i]!r} {_not_a_value(column)}")
        arr = np.where(negative | not_finite, np.nan, arr)
        values[column] = arr
        below[column] = is_dl.to_numpy() & allow_below_detection & ~np.isnan(arr)
    return values, below


@dataclass(frozen=True)
class CalcResult:
    """What a calculator produced: the output table and warnings for the operator."""

    table: pl.DataFrame
    warnings: tuple[str, ...] = ()
    #: Whether the calculator knows that no text cell needs quotes in CSV (no separator,
    #: quote or line break) and none is an empty string (the empty ones are null): then
    #: the writer does not look for characters to quote (the same bytes, written faster).
    #: A column whose name holds commas then holds the cells of those columns joined by
    #: commas (a row's input line, say), written as they are.
    unquoted: bool = False

    @property
    def frame(self) -> pd.DataFrame:
        """The output table as pandas text columns (empty strings where no value)."""
        columns = {}
        for name in self.table.columns:
            cells = self.table[name].fill_null("")
            names = name.split(",") if self.unquoted else [name]
            if len(names) == 1:
                columns[name] = cells.to_numpy()
                continue
            # several columns written as one (see unquoted): split at the separators
            parts = cells.str.split_exact(",", len(names) - 1).struct.unnest()
            for part, field in zip(names, parts.columns, strict=True):
                columns[part] = parts[field].fill_null("").to_numpy()
        return pd.DataFrame(columns, dtype=object)

    def to_csv_bytes(self) -> bytes:
        """The output table as UTF-8 CSV: header row, ``\\n`` line ends, minimal quoting.

        Cells without a value are null in :attr:`table` (an empty string would be written
        ``""``).

        A cell is quoted when it holds a comma, a quote, a line feed or a carriage return.
        (Before, a lone carriage return was written unquoted, as Python's :mod:`csv` writes
        it with ``\n`` line ends: every reader that ends a line there, Python's :mod:`csv`,
        pandas, a spreadsheet, then read the rest of the row as a row of its own.)
        """
        out = io.BytesIO()
        self.table.write_csv(
            out, quote_style=self._quote_style(), null_value="", line_terminator="\n"
        )
        return out.getvalue()

    def write_csv(self, path: Path | str) -> None:
        """:meth:`to_csv_bytes` written to a file (by polars directly, without the bytes in
        memory)."""
        self.table.write_csv(
            path, quote_style=self._quote_style(), null_value="", line_terminator="\n"
        )

    def _quote_style(self) -> Literal["never", "necessary"]:
        """``never`` when :attr:`unquoted` (nothing to quote), else ``necessary``."""
        return "never" if self.unquoted else "necessary"


#: The characters that make Python's :mod:`csv` (and polars) quote a cell.
_QUOTED_CHARACTERS: Final = re.compile(r'[,"\n\r]')


def unquoted_texts(texts: Iterable[object]) -> bool:
    """Whether none of ``texts`` (a few, e.g. the problem texts of the flagged rows) is
    written with quotes in CSV: none holds a separator, quote or line break, none is empty."""
    return all(str(t) and _QUOTED_CHARACTERS.search(str(t)) is None for t in texts)


def text_column(values: npt.ArrayLike, name: str = "") -> pl.Series:
    """Python strings (an object array, say) as a text column; None and "" as no value."""
    texts = np.asarray(values, dtype=object).tolist()
    return pl.Series(name, texts, dtype=pl.String).replace("", None)


def summarise_problems(
    table: InputTable, limit: int = 5, flagged: npt.NDArray[np.intp] | None = None
) -> tuple[str, ...]:
    """One warning line per flagged row (at most ``limit``), plus a count of the rest.

    Rows are named by their line in the file (the header is line 1). When the rows could
    not be matched to the lines (:attr:`InputTable.lines_known`), a first line says so and
    rows are named ``data row N`` (the first row after the header is 1), never by a line
    number that may be wrong.
    """
    if flagged is None:  # (or the rows with problems, when the caller knows them)
        flagged = np.flatnonzero(table.problem_texts != "")
    shown = flagged[:limit]
    lines = [
        f"{where}: {table.problem_texts[i]}"
        for i, where in zip(shown, table.row_names(shown), strict=True)
    ]
    if len(flagged) and not table.lines_known:
        lines.insert(0, LINES_UNKNOWN)
    if len(flagged) > limit:
        lines.append(f"… and {len(flagged) - limit} more row(s) with problems")
    return tuple(lines)


def first_problem(table: InputTable) -> str:
    """The first flagged row's line of :func:`summarise_problems` (empty if none), for an
    error that quotes one: when the rows could not be matched to the lines, the row named
    ``data row N`` and then, in parentheses, why (:data:`LINES_UNKNOWN`), not that note
    alone."""
    lines = summarise_problems(table, 1)
    if not lines:
        return ""
    if lines[0] == LINES_UNKNOWN:
        return f"{lines[1]} ({LINES_UNKNOWN})"
    return lines[0]
