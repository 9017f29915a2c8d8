"""Reading the calculators' CSV input: header checks, times, numbers, per-row problems."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd
import polars as pl

from monitor.errors import InputError

#: The time zone of Chinese monitoring data; times without an offset are read in it.
LOCAL_TZ = "Asia/Shanghai"

#: Cell texts that mean "no value" in bureau exports (HJ 633: ``NA`` missing, ``/`` not
#: monitored) — read as missing, not as errors.
MISSING_MARKERS = frozenset({"", "na", "n/a", "nan", "null", "none", "/", "-", "--", "—", "－"})

#: Joins the problems of one row (the messages themselves may contain ";").
PROBLEM_SEPARATOR: Final = " | "

_OFFSET = re.compile(r"\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$", re.I)
_HOUR_24 = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ]24(:00(:00)?)?$")
# Below-detection-limit notations of Chinese laboratories: "0.01L" (GB/T 8170 practice of
# writing the detection limit followed by L), "<0.01", "ND".
_BELOW_DL = re.compile(r"^(?:<\s*([0-9.]+(?:[eE][-+]?\d+)?)|([0-9.]+(?:[eE][-+]?\d+)?)\s*L)$")


@dataclass(frozen=True)
class InputTable:
    """A calculator input read and checked, row for row with the file.

    Attributes
    ----------
    text : polars.DataFrame
        Every column as text, as in the file (header normalised to lower case).
    sites : polars.Series
        The ``site`` cells without surrounding white space (empty strings when no such
        column).
    times : Series
        Row time, tz-aware in Asia/Shanghai; NaT where the cell was not a valid time.
    values : DataFrame
        The recognised measurement columns as float; NaN where missing or unusable.
    below_detection : DataFrame
        True where a value was written as below the detection limit (``0.01L``, ``<0.01``);
        ``values`` then holds the detection limit itself.
    problems : Series
        One text per row, empty when the row is fine; otherwise what was wrong, naming the
        column, the value and what was expected.
    """

    text: pl.DataFrame
    sites: pl.Series
    times: pd.Series
    values: pd.DataFrame
    below_detection: pd.DataFrame
    problems: pd.Series

    @property
    def row_count(self) -> int:
        """Number of data rows."""
        return self.text.height

    def cells(self, column: str, rows: npt.NDArray[np.intp]) -> list[str]:
        """The text of ``column`` in the given rows (for messages)."""
        return [str(v) for v in self.text[column].gather(rows).to_list()]


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
) -> InputTable:
    """Read a calculator CSV and check it.

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
        data = Path(path).read_bytes()
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
    columnar = read_regular_csv(utf8)
    if columnar is None:
        raw = _read_with_pandas(_decode(data, name) if text is None else text, name)
        columns = [str(c) for c in raw.columns]
        frame = pl.DataFrame(
            {f"c{i}": raw.iloc[:, i].to_numpy(dtype=object) for i in range(len(columns))},
            schema={f"c{i}": pl.String for i in range(len(columns))},
        )
    else:
        columns, frame = columnar
    header = [_normalise_header(c, aliases or {}) for c in columns]
    duplicates = sorted({c for c in header if header.count(c) > 1})
    if duplicates:
        raise InputError(f"{name}: duplicate columns {', '.join(duplicates)}; keep one of each")
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
    return _check_cells(frame, present, allow_below_detection)


def _read_with_pandas(text: str, name: str) -> pd.DataFrame:
    """Every cell as text, read by pandas' tokenizer (any layout pandas accepts)."""
    try:
        return pd.read_csv(
            io.StringIO(text), dtype=str, keep_default_na=False, skip_blank_lines=True
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else "parse error"
        raise InputError(f"{name}: not a readable CSV file ({first})") from err


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


def read_regular_csv(data: bytes) -> tuple[list[str], pl.DataFrame] | None:
    """Header names and every cell of UTF-8 ``data`` as text, read column-wise; None unless
    the layout is regular.

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
    try:
        frame = pl.read_csv(
            data,
            infer_schema=False,
            empty_string_is_null=False,
            truncate_ragged_lines=False,
            raise_if_empty=True,
            has_header=True,
        )
    except (pl.exceptions.PolarsError, ValueError):
        return None
    if frame.columns != names or frame.null_count().sum_horizontal().item() != 0:
        return None
    # pandas skips blank and white-space-only lines; polars reads them as a row of empty
    # cells, as it reads ",,," — such a row means: let pandas decide.
    first, *rest = (pl.col(n) for n in names)
    candidates = frame  # rows whose other cells are empty: strip the first one only there
    if rest:
        candidates = frame.filter(pl.all_horizontal([cell == "" for cell in rest]))
    if candidates.select((first.str.strip_chars() == "").any()).item():
        return None
    return names, frame.rename({n: f"c{i}" for i, n in enumerate(names)})


# (?-u): byte classes, not Unicode ones (the same matches for these ASCII classes, faster)
_PLAIN_NUMBER = r"(?-u)^[0-9]{1,9}(?:\.[0-9]{1,6})?$"
_PLAIN_TIME = r"(?-u)^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2})?$"
_SPACE_AT_ENDS = r"^[\s\x1c-\x1f]|[\s\x1c-\x1f]$"  # what str.strip() would remove


def _check_cells(
    frame: pl.DataFrame, present: Sequence[str], allow_below_detection: bool
) -> InputTable:
    """Times, values and problems: plain cells column-wise, the other rows cell by cell."""
    n = frame.height
    plain = pl.lit(True)
    for column in present:
        cell = pl.col(column)
        common_marker = (cell == "") | (cell == "NA") | (cell == "/") | (cell == "-")
        plain &= common_marker | cell.str.contains(_PLAIN_NUMBER)
    has_site = "site" in frame.columns
    if has_site:
        plain &= (pl.col("site") != "") & ~pl.col("site").str.contains(_SPACE_AT_ENDS)
    has_time = "time" in frame.columns
    if has_time:
        plain &= pl.col("time").str.contains(_PLAIN_TIME)
    mask = frame.select(plain.alias("plain")).to_series().to_numpy().copy()
    times_ns = np.zeros(n, dtype=np.int64)
    if has_time:
        stamp, valid = _plain_times(frame["time"], mask)
        mask &= valid
        times_ns = stamp
    odd = np.flatnonzero(~mask)

    # one block each (column-major: pandas keeps it without a copy)
    values = np.empty((n, len(present)), dtype=np.float64, order="F")
    below = np.zeros((n, len(present)), dtype=bool, order="F")
    for j, column in enumerate(present):
        numbers = frame[column].cast(pl.Float64, strict=False).to_numpy()
        values[:, j] = np.where(mask, numbers, np.nan)
    problems = np.full(n, "", dtype=object)
    sites = frame["site"].clone() if has_site else pl.Series("site", [""] * n, dtype=pl.String)
    if len(odd):
        sub = frame[odd]
        raw = pd.DataFrame(
            {c: sub[c].to_numpy() for c in frame.columns}, index=pd.RangeIndex(len(odd))
        ).astype(str)
        row_problems: list[list[str]] = [[] for _ in range(len(odd))]
        if has_time:
            odd_times = parse_local_times(raw["time"])
            for i in map(int, np.flatnonzero(odd_times.isna().to_numpy())):
                row_problems[i].append(
                    f"time {raw['time'].iat[i]!r} is not an ISO 8601 time (e.g. 2026-03-01T16:00)"
                )
            utc = odd_times.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
            times_ns[odd] = utc.astype("datetime64[ns]").view(np.int64)  # NaT stays NaT
        if has_site:
            stripped = raw["site"].str.strip()
            for i in map(int, np.flatnonzero((stripped == "").to_numpy())):
                row_problems[i].append("site is empty")
            sites = sites.scatter(odd, stripped.to_numpy(dtype=object))
        odd_values, odd_below = _parse_numbers(raw, present, row_problems, allow_below_detection)
        for j, column in enumerate(present):
            values[odd, j] = odd_values[column].to_numpy(dtype=float)
            below[odd, j] = odd_below[column].to_numpy(dtype=bool)
        problems[odd] = [PROBLEM_SEPARATOR.join(p) for p in row_problems]
    index = pd.RangeIndex(n)
    times = pd.Series(
        pd.DatetimeIndex(times_ns.view("datetime64[ns]")).tz_localize("UTC").tz_convert(LOCAL_TZ),
        index=index,
    )
    return InputTable(
        frame,
        sites,
        times,
        pd.DataFrame(values, index=index, columns=list(present), copy=False),
        pd.DataFrame(below, index=index, columns=list(present), copy=False),
        pd.Series(problems, index=index, dtype=object),
    )


def _plain_times(
    text: pl.Series, plain: npt.NDArray[np.bool_]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """UTC nanoseconds of ``YYYY-MM-DD[T ]HH:MM[:SS]`` Asia/Shanghai times, and which are valid.

    Valid: a real date from 1992 on (Asia/Shanghai is UTC+8 throughout; it kept summer time
    in 1986–1991) and a time 00:00:00–23:59:59. Others are left to pandas, cell by cell.
    """
    parsed = text.str.strptime(pl.Datetime("ns"), "%Y-%m-%dT%H:%M", strict=False)
    others = parsed.is_null() & pl.Series(plain)
    if others.any():  # the other plain forms: a space for T, seconds
        iso = pl.col("t").str.replace(" ", "T", literal=True)
        rest = pl.DataFrame({"t": text.filter(others)}).select(
            pl.when(pl.col("t").str.len_bytes() == 16)
            .then(iso.str.strptime(pl.Datetime("ns"), "%Y-%m-%dT%H:%M", strict=False))
            .otherwise(iso.str.strptime(pl.Datetime("ns"), "%Y-%m-%dT%H:%M:%S", strict=False))
        )
        parsed = parsed.scatter(np.flatnonzero(others.to_numpy()), rest.to_series())
    local = parsed.to_physical().fill_null(0).to_numpy()
    valid = plain & parsed.is_not_null().to_numpy() & (local >= _FROM_1992_NS)
    return np.where(valid, local - _UTC_OFFSET_NS, 0), valid


_FROM_1992_NS: Final = int(pd.Timestamp("1992-01-01").value)
_UTC_OFFSET_NS: Final = 8 * 3600 * 1_000_000_000


def _holdable(times: pd.Series) -> pd.Series:
    """NaT where a parsed time lies outside what nanosecond times hold (years like 9999 or
    1600 parse to coarser units and would reject the whole column on assignment)."""
    lowest = pd.Timestamp("1678-01-01", tz=times.dt.tz)
    highest = pd.Timestamp("2262-01-01", tz=times.dt.tz)
    kept: pd.Series = times.where((times > lowest) & (times < highest)).dt.as_unit("ns")
    return kept


def parse_local_times(text: pd.Series) -> pd.Series:
    """ISO 8601 texts → tz-aware Asia/Shanghai times; NaT where unparseable.

    A text without an offset is Asia/Shanghai local time; one with an offset (or ``Z``) is
    converted. ``24:00`` of a date is read as 00:00 of the next day.
    """
    s = text.astype(str).str.strip()
    hour24 = s.str.match(_HOUR_24)
    if hour24.any():
        dates = s[hour24].str.slice(0, 10)
        s = s.copy()
        s[hour24] = dates + "T00:00"
    aware = s.str.contains(_OFFSET)
    out = pd.Series(pd.NaT, index=s.index, dtype=f"datetime64[ns, {LOCAL_TZ}]")
    if (~aware).any():
        naive = _holdable(pd.to_datetime(s[~aware], format="ISO8601", errors="coerce"))
        out[~aware] = naive.dt.tz_localize(LOCAL_TZ, ambiguous="NaT", nonexistent="NaT")
    if aware.any():
        parsed = pd.to_datetime(s[aware], format="ISO8601", errors="coerce", utc=True)
        out[aware] = _holdable(parsed).dt.tz_convert(LOCAL_TZ)
    if hour24.any():
        out[hour24] = out[hour24] + pd.Timedelta(days=1)
    return out


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
            row_problems[i].append(
                f"{column} {cells.iat[i]!r} is not a concentration; expected a finite value ≥ 0"
            )
        arr = np.where(negative | not_finite, np.nan, arr)
        values[column] = arr
        below[column] = is_dl.to_numpy() & allow_below_detection & ~np.isnan(arr)
    return values, below


@dataclass(frozen=True)
class CalcResult:
    """What a calculator produced: the output table and warnings for the operator."""

    table: pl.DataFrame
    warnings: tuple[str, ...] = ()

    @property
    def frame(self) -> pd.DataFrame:
        """The output table as pandas text columns (empty strings where no value)."""
        return pd.DataFrame(
            {c: self.table[c].fill_null("").to_numpy() for c in self.table.columns}, dtype=object
        )

    def to_csv_bytes(self) -> bytes:
        """The output table as UTF-8 CSV: header row, ``\\n`` line ends, minimal quoting.

        Cells without a value are null in :attr:`table` (an empty string would be written
        ``""``).

        Quoting as Python's :mod:`csv` does it (a cell is quoted when it holds a comma, a
        quote or a line feed; a lone carriage return is written as it is).
        """
        out = io.BytesIO()
        self.table.write_csv(out, quote_style="necessary", null_value="", line_terminator="\n")
        data = out.getvalue()
        if b"\r" in data:  # polars would quote it
            return self.frame.to_csv(index=False, lineterminator="\n").encode("utf-8")
        return data


def text_column(values: npt.ArrayLike, name: str = "") -> pl.Series:
    """Python strings (an object array, say) as a text column; None and "" as no value."""
    texts = np.asarray(values, dtype=object).tolist()
    return pl.Series(name, texts, dtype=pl.String).replace("", None)


def summarise_problems(table: InputTable, limit: int = 5) -> tuple[str, ...]:
    """One warning line per flagged row (at most ``limit``), plus a count of the rest.

    Row numbers are file line numbers (the header is line 1).
    """
    flagged = np.flatnonzero((table.problems != "").to_numpy())
    lines = [f"line {i + 2}: {table.problems.iat[i]}" for i in flagged[:limit]]
    if len(flagged) > limit:
        lines.append(f"… and {len(flagged) - limit} more row(s) with problems")
    return tuple(lines)
