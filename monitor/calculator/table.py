"""Reading the calculators' CSV input: header checks, times, numbers, per-row problems."""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

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
    raw : DataFrame
        Every column as text, as in the file (header normalised to lower case).
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

    raw: pd.DataFrame
    times: pd.Series
    values: pd.DataFrame
    below_detection: pd.DataFrame
    problems: pd.Series

    @property
    def row_count(self) -> int:
        """Number of data rows."""
        return len(self.raw)


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
    """
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise InputError(f"{name}: cannot read the file ({err.strerror})") from err
    text = _decode(data, name)
    if not text.strip():
        raise InputError(f"{name}: the file is empty; expected a header row and data rows")
    try:
        raw = pd.read_csv(
            io.StringIO(text), dtype=str, keep_default_na=False, skip_blank_lines=True
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else "parse error"
        raise InputError(f"{name}: not a readable CSV file ({first})") from err
    header = [_normalise_header(str(c), aliases or {}) for c in raw.columns]
    duplicates = sorted({c for c in header if header.count(c) > 1})
    if duplicates:
        raise InputError(f"{name}: duplicate columns {', '.join(duplicates)}; keep one of each")
    raw.columns = pd.Index(header)
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
    if raw.empty:
        raise InputError(f"{name}: the file has a header but no data rows")

    row_problems: list[list[str]] = [[] for _ in range(len(raw))]
    times = parse_local_times(raw["time"]) if "time" in header else pd.Series(dtype=object)
    if "time" in header:
        for i in map(int, np.flatnonzero(times.isna().to_numpy())):
            row_problems[i].append(
                f"time {raw['time'].iat[i]!r} is not an ISO 8601 time (e.g. 2026-03-01T16:00)"
            )
    if "site" in header:
        for i in map(int, np.flatnonzero((raw["site"].str.strip() == "").to_numpy())):
            row_problems[i].append("site is empty")
    values, below = _parse_numbers(raw, present, row_problems, allow_below_detection)
    problems = pd.Series(
        [PROBLEM_SEPARATOR.join(p) for p in row_problems], index=raw.index, dtype=object
    )
    return InputTable(raw, times, values, below, problems)


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

    frame: pd.DataFrame
    warnings: tuple[str, ...] = ()


def summarise_problems(table: InputTable, limit: int = 5) -> tuple[str, ...]:
    """One warning line per flagged row (at most ``limit``), plus a count of the rest.

    Row numbers are file line numbers (the header is line 1).
    """
    flagged = np.flatnonzero((table.problems != "").to_numpy())
    lines = [f"line {i + 2}: {table.problems.iat[i]}" for i in flagged[:limit]]
    if len(flagged) > limit:
        lines.append(f"… and {len(flagged) - limit} more row(s) with problems")
    return tuple(lines)
