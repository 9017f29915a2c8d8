"""Generic import of observations from a long CSV file: one value per row.

Source
------
Files a district office receives or writes by hand: exports of the provincial/municipal
platforms, vendor systems and laboratories (data-sources.md §7b), brought into the shared
long layout. Nothing is downloaded; the operator gives the file.

Layout
------
::

    site,time,parameter,value,unit,duration
    1099A,2026-03-01T16:00,pm2_5,35,ug/m3,
    1099A,2026-03-01T16:00,co,850,µg/m³,
    HN-01,2026-03-02T09:30+08:00,nh3n,0.42,mg/L,0

* Header names are case-insensitive; the first four are required, ``unit`` and ``duration``
  optional (:data:`HEADER_ALIASES` also accepts common Chinese headers). Other columns are
  ignored with a warning.
* Encoding UTF-8 (with or without BOM) or GBK/GB18030.
* ``site``: the site id as the office uses it (station code, section id).
* ``time``: read as ``envmon calc`` reads it (``monitor.cells.parse_local_times``):
  ISO 8601, without an offset = Asia/Shanghai wall time, ``24:00`` = 00:00 of the next day.
  It is the **end** of the measured period, as Chinese hourly data are labelled.
* ``duration``: length of the period in minutes, default 60 (an hourly value labelled by the
  end of its hour: period = (time − 1 h, time]). ``0`` is an instantaneous sample (a lab grab
  sample): period_start == period_end == time. 1440 with ``time`` = 24:00 is a daily value.
* ``parameter``: a canonical name (``monitor.domain.units.CANONICAL_UNITS``), any case;
  ``PM2.5`` is accepted for ``pm2_5`` (:data:`PARAMETER_ALIASES`).
* ``unit``: any spelling :func:`monitor.domain.units.normalise_unit` knows (µg/m³, ug/m3,
  mg/m3, mg/L, ppb …); values are converted to the canonical unit (CO to mg/m³). Empty =
  already in the canonical unit.
* ``value``: a number; a below-detection-limit result written ``0.01L`` or ``<0.01`` is
  imported as the detection limit with the flag ``below_detection_limit``.

Rows with a problem (unknown parameter, unit that is unknown or does not fit the parameter,
no value or a value that is not a number or not finite, bad time or duration, and what the
ledger cannot hold — :mod:`monitor.collectors.intake`: a time in the future or in a year
like 9999 or 1600, an hourly value not on the hour, rows with the same site, parameter and
time but different values, which are **all** refused) are **not** imported; each gives one
warning naming the line (header = line 1), the value and what was expected. A row repeated
identically is imported once, silently. A file that
cannot be used at all (undecodable, empty, a required column missing) raises
:class:`~monitor.errors.InputError` with a one-line message.
"""

from __future__ import annotations

import codecs
import csv
import functools
import io
import itertools
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final, TextIO

import numpy as np
import numpy.typing as npt
import pandas as pd

from monitor.cells import (
    MISSING_MARKERS,
    PROBLEM_SEPARATOR,
    local_time_problems,
    parse_local_times,
)
from monitor.collectors.base import empty_observations, observations
from monitor.collectors.intake import (
    DEFAULT_FUTURE_TOLERANCE,
    HEADER_ONLY,
    check_observations,
    key_hash,
    out_of_range_time_text,
)
from monitor.domain.units import CANONICAL_UNITS, to_canonical
from monitor.domain.water_quality import BELOW_DETECTION_FLAG
from monitor.errors import InputError

__all__ = [
    "BELOW_DETECTION_FLAG",
    "DEFAULT_DURATION_MINUTES",
    "HEADER_ALIASES",
    "OPTIONAL_COLUMNS",
    "PARAMETER_ALIASES",
    "REQUIRED_COLUMNS",
    "canonical_parameter",
    "check_columns",
    "light_key_hash",
    "normalise_header",
    "parse_long_csv",
    "rows_to_observations",
    "stream_long_csv",
]

REQUIRED_COLUMNS: Final = ("site", "time", "parameter", "value")
OPTIONAL_COLUMNS: Final = ("unit", "duration")

#: Header spellings (lower case, stripped) → column name; canonical names map to themselves.
HEADER_ALIASES: Final[Mapping[str, str]] = {
    "站点": "site",
    "点位": "site",
    "断面": "site",
    "时间": "time",
    "监测时间": "time",
    "采样时间": "time",
    "项目": "parameter",
    "监测项目": "parameter",
    "参数": "parameter",
    "数值": "value",
    "监测值": "value",
    "浓度": "value",
    "单位": "unit",
    "时长": "duration",
}

#: Parameter spellings (lower case) accepted besides the canonical names.
PARAMETER_ALIASES: Final[Mapping[str, str]] = {"pm2.5": "pm2_5", "pm25": "pm2_5"}

DEFAULT_DURATION_MINUTES: Final = 60.0

#: Rows read, checked and stored at a time by :func:`stream_long_csv` (``envmon import``):
#: peak memory follows this, not the file's size.
CHUNK_ROWS: Final = 100_000
_BLOCK_BYTES: Final = 1 << 20

# GB/T 8170 practice: the detection limit followed by "L" ("0.01L"), or "<0.01".
_BELOW_DL = re.compile(r"^(?:<\s*(\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)|(\d+(?:\.\d*)?)\s*L)$")


def normalise_header(names: Sequence[object]) -> list[str]:
    """Header cells → column names: stripped, lower case, Chinese aliases resolved."""
    out = []
    for name in names:
        key = str(name).strip().lstrip("\ufeff").strip().lower()
        out.append(HEADER_ALIASES.get(key, key))
    return out


def canonical_parameter(text: str) -> str | None:
    """A parameter as written in a file → its canonical name, or None if unknown."""
    key = text.strip().lower()
    key = PARAMETER_ALIASES.get(key, key)
    return key if key in CANONICAL_UNITS else None


def parse_long_csv(
    data: bytes,
    name: str,
    *,
    now: datetime | None = None,
    future_tolerance: timedelta = DEFAULT_FUTURE_TOLERANCE,
) -> tuple[pd.DataFrame, list[str]]:
    """Observations of a long CSV file (layout in the module docstring), and warnings.

    Parameters
    ----------
    data : bytes
        The file's content.
    name : str
        File name, used in warnings and errors.
    now, future_tolerance
        For the intake check (:func:`rows_to_observations`).

    Returns
    -------
    (DataFrame, list of str)
        Observations (``OBSERVATION_COLUMNS``) of the usable rows, in file order; one
        warning per row not imported (``"<name> line <n>: <what> …"``) and per ignored column.

    Raises
    ------
    InputError
        If the file cannot be decoded or read as CSV, is empty, has no data rows, or lacks
        one of ``site, time, parameter, value``.
    """
    text = _decode(data, name)
    if not text.strip():
        raise InputError(f"{name}: the file is empty; expected a header row and data rows")
    broken: list[tuple[int, str]] = []
    rows = _table(functools.partial(io.StringIO, text, newline=""), name, broken)
    header = normalise_header(next(rows)[1])
    warnings = check_columns(header, name)
    raws: list[pd.DataFrame] = []
    where: list[str] = []
    for raw, starts in _row_chunks(rows, header, CHUNK_ROWS):  # lists of one chunk at a time
        raws.append(raw)
        where += [f"{name} line {n}" for n in starts]
    skipped = _broken_warnings(broken, name)
    if not where:  # nothing to import is not an error (issue 16: one rule for every format)
        return empty_observations(), [*skipped, HEADER_ONLY]
    frame, problems = rows_to_observations(
        pd.concat(raws), where, now=now, future_tolerance=future_tolerance
    )
    return frame, warnings + skipped + problems


def check_columns(header: Sequence[str], name: str) -> list[str]:
    """Check a long-layout header; warnings for ignored columns.

    Raises
    ------
    InputError
        If a required column is missing or a column appears twice.
    """
    duplicates = sorted({c for c in header if c and list(header).count(c) > 1})
    if duplicates:
        raise InputError(f"{name}: duplicate column(s) {', '.join(duplicates)}; keep one of each")
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise InputError(
            f"{name}: missing column(s) {', '.join(missing)}; the header must contain "
            f"{', '.join(REQUIRED_COLUMNS)} (found: {', '.join(header) or 'nothing'})"
        )
    extra = [c for c in header if c and c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    if extra:
        return [
            f"{name}: column(s) {', '.join(extra)} ignored; known columns are "
            f"{', '.join(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)}"
        ]
    return []


def rows_to_observations(
    rows: pd.DataFrame,
    where: Sequence[str],
    *,
    now: datetime | None = None,
    future_tolerance: timedelta = DEFAULT_FUTURE_TOLERANCE,
) -> tuple[pd.DataFrame, list[str]]:
    """Check long-layout rows and turn the good ones into observations.

    The shared row validation of the long CSV and spreadsheet imports.

    Parameters
    ----------
    rows : DataFrame
        Columns ``site, time, parameter, value`` and optionally ``unit``, ``duration``; cells
        are text (``time`` as ISO 8601 text, read by ``parse_local_times``).
    where : sequence of str
        For each row, where it is in the input (``"data.csv line 5"``), for warnings.
    now, future_tolerance
        For the intake check (:mod:`monitor.collectors.intake`): times later than
        ``now + future_tolerance`` are refused. ``now`` defaults to the clock.

    Returns
    -------
    (DataFrame, list of str)
        Observations of the rows without problems, in input order, and one warning per
        row not imported: ``"<where>: <problem>[ | <problem>…] (not imported)"``.
    """
    n = len(rows)
    if n != len(where):
        raise ValueError(f"where has {len(where)} entries; expected one per row ({n})")
    problems: list[list[str]] = [[] for _ in range(n)]

    def text(column: str) -> pd.Series:
        if column not in rows:
            return pd.Series([""] * n, dtype=object)
        return rows[column].fillna("").astype(str).str.strip().reset_index(drop=True)

    site, time_text, parameter_text = text("site"), text("time"), text("parameter")
    value_text, unit_text, duration_text = text("value"), text("unit"), text("duration")
    shown = {
        "time": _texts(time_text),
        "value": _texts(value_text),
        "duration": _texts(duration_text),
    }

    for i in _positions(site == ""):
        problems[i].append("site is empty")

    # Years pandas cannot hold (9999, 1600) are refused here, row by row, before parsing.
    out_of_range = [out_of_range_time_text(t) for t in shown["time"]]
    for i, problem in enumerate(out_of_range):
        if problem is not None:
            problems[i].append(problem)
    parseable = time_text.where(pd.Series([p is None for p in out_of_range]), "")
    times = parse_local_times(parseable).reset_index(drop=True)
    unread = _positions(times.isna() & pd.Series([p is None for p in out_of_range]))
    gaps = local_time_problems([shown["time"][i] for i in unread])
    for i, gap in zip(unread, gaps, strict=True):
        problems[i].append(
            gap
            or f"time {shown['time'][i]!r} is not an ISO 8601 time; expected e.g. 2026-03-01T16:00"
        )

    names = [canonical_parameter(p) for p in _texts(parameter_text)]
    for i, parameter in enumerate(names):
        if parameter is None:
            problems[i].append(
                f"parameter {parameter_text.iat[i]!r} is unknown; expected a canonical name "
                "such as pm2_5, pm10, so2, no2, o3, co, do, codmn, nh3n, tp"
            )
    parameters = pd.Series(names, dtype=object)

    values, flags = _numbers(shown["value"], value_text, problems)
    values = _convert_units(values, names, _texts(unit_text), problems)

    # Negative concentrations are kept: the quality checks flag them ("negative") and leave
    # them out of every statistic, so nothing delivered is lost.

    minutes = pd.to_numeric(duration_text.where(duration_text != ""), errors="coerce")
    bad_duration = (duration_text != "") & ~((minutes >= 0) & np.isfinite(minutes))
    for i in _positions(bad_duration):
        problems[i].append(
            f"duration {shown['duration'][i]!r} is not a number of minutes ≥ 0; "
            "expected e.g. 60 (hourly), 1440 (daily) or 0 (sample instant)"
        )
    minutes = minutes.where(~bad_duration).fillna(DEFAULT_DURATION_MINUTES)

    ends = times
    starts = times - pd.to_timedelta(minutes.to_numpy(dtype=float), unit="min")
    ok = np.array([not p for p in problems], dtype=bool)
    if not ok.any():
        return empty_observations(), _warnings(problems, where)
    frame = observations(
        site[ok].to_numpy(),
        parameters[ok].to_numpy(),
        starts[ok].reset_index(drop=True),
        ends[ok].reset_index(drop=True),
        values[ok],
        flags=flags[ok],
    )
    # What the ledger can hold (future and off-the-hour times, conflicting duplicates):
    # the intake check every boundary shares, with this file's line numbers.
    positions = [int(i) for i in np.flatnonzero(ok)]
    check = check_observations(
        frame,
        now=datetime.now(UTC) if now is None else now,
        future_tolerance=future_tolerance,
        where=[where[i] for i in positions],
    )
    for j, found in check.problems.items():
        problems[positions[j]].extend(found)
    admitted = check.admitted
    if not admitted.all():
        frame = frame[admitted].reset_index(drop=True)
    return frame, _warnings(problems, where)


def _warnings(problems: list[list[str]], where: Sequence[str]) -> list[str]:
    return [
        f"{where[i]}: {PROBLEM_SEPARATOR.join(p)} (not imported)"
        for i, p in enumerate(problems)
        if p
    ]


def _texts(column: pd.Series) -> list[str]:
    return [str(x) for x in column]


def _positions(mask: pd.Series | npt.NDArray[np.bool_]) -> list[int]:
    return [int(i) for i in np.flatnonzero(np.asarray(mask, dtype=bool))]


def _numbers(
    shown: list[str], cells: pd.Series, problems: list[list[str]]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.object_]]:
    """Values as floats (NaN where unusable) and flags, noting each bad cell's problem."""
    numbers = pd.to_numeric(cells.where(cells != ""), errors="coerce").to_numpy(
        dtype=float, copy=True
    )
    flags = np.full(len(cells), "", dtype=object)
    unparsed = np.isnan(numbers)
    if unparsed.any():
        matched = cells[unparsed].str.extract(_BELOW_DL)
        limit = pd.to_numeric(matched[0].fillna(matched[1]), errors="coerce").to_numpy(float)
        positions = np.flatnonzero(unparsed)
        numbers[positions] = limit
        flags[positions[~np.isnan(limit)]] = BELOW_DETECTION_FLAG
    for i in _positions(np.isnan(numbers)):
        if shown[i].lower() in MISSING_MARKERS:
            problems[i].append(f"no value ({shown[i]!r}); expected a number")
        else:
            problems[i].append(
                f"value {shown[i]!r} is not a number; expected e.g. 35, 0.42, 0.01L or <0.01"
            )
    for i in _positions(np.isinf(numbers)):
        problems[i].append(f"value {shown[i]!r} is not finite; expected a number")
    return numbers, flags


def _convert_units(
    values: npt.NDArray[np.float64],
    parameters: list[str | None],
    units: list[str],
    problems: list[list[str]],
) -> npt.NDArray[np.float64]:
    """Values in canonical units; rows whose unit is unknown or unfit get a problem."""
    out = values.astype(float, copy=True)
    groups: dict[tuple[str, str], list[int]] = {}
    for i, (parameter, unit) in enumerate(zip(parameters, units, strict=True)):
        if parameter is not None and unit:
            groups.setdefault((parameter, unit), []).append(i)
    for (parameter, unit), positions in groups.items():
        try:
            out[positions] = to_canonical(parameter, values[positions], unit)
        except ValueError as err:
            for i in positions:
                problems[i].append(f"unit {unit!r} for {parameter}: {err}")
    return out


def stream_long_csv(
    path: Path,
    name: str,
    warnings: list[str],
    *,
    chunk_rows: int = CHUNK_ROWS,
    now: datetime | None = None,
    future_tolerance: timedelta = DEFAULT_FUTURE_TOLERANCE,
) -> Iterator[pd.DataFrame]:
    """The observations of a long CSV file, ``chunk_rows`` rows at a time, in bounded memory.

    Gives what :func:`parse_long_csv` gives for the whole file — the same rows and the same
    warnings (filled into ``warnings`` once the last chunk has been given, in the same order,
    line numbers those of the file) — while holding about one chunk at a time, so that
    ``envmon import`` of a 5 M-row file stays within a few hundred MB (issue 16).

    Design (three reads of the file, none of them whole in memory):

    0. the encoding: UTF-8 (BOM or not) if the whole file decodes so, else GBK/GB18030 —
       decided before any row is read, exactly as :func:`parse_long_csv` decides it;
    1. a light pass: per row only the key (site, canonical parameter, parsed time) as a
       64-bit hash (:func:`monitor.collectors.intake.key_hash`, 8 bytes a row); the hashes
       seen more than once mark the *suspect* keys, the only ones that can be duplicates.
       A file that cannot be read (bad CSV, missing column) fails here, before anything
       is stored; a file without data rows gives nothing and the header-only warning;
    2. the full parse, chunk by chunk: rows with a unique key are checked
       (:func:`rows_to_observations`, the shared intake check) and given chunk by chunk;
       rows with a suspect key are held back (as text) and checked together after the
       last chunk, so a conflicting duplicate is refused with all its rows named even
       when they lie far apart, an identical repeat is dropped, and nothing is ever
       stored that would have to be undone. A hash collision only holds a row back.

    Memory is one chunk plus 8 bytes a row plus the held-back rows (a file repeating most
    of its rows holds most of them: a limit, named here).

    Raises
    ------
    InputError
        As :func:`parse_long_csv`, always before the first chunk is given.
    """
    encoding = _detect_encoding(path, name)
    header, column_warnings, broken, rows = _first_pass(path, name, encoding)
    if rows == 0:  # nothing to import is not an error: as parse_long_csv (one rule)
        warnings.extend(_broken_warnings(broken, name))
        warnings.append(HEADER_ONLY)
        return
    suspects = _suspects(path, name, encoding, chunk_rows, header)
    problems: list[tuple[int, str]] = []
    held: list[pd.DataFrame] = []
    held_lines: list[npt.NDArray[np.int64]] = []
    for raw, lines in _data_chunks(path, name, encoding, chunk_rows, header):
        suspect = np.isin(light_key_hash(raw), suspects)
        if suspect.any():
            held.append(raw[suspect])
            held_lines.append(lines[suspect])
        clear = ~suspect
        if not clear.any():
            continue
        frame, found = rows_to_observations(
            raw[clear],
            [f"{name} line {n}" for n in lines[clear]],
            now=now,
            future_tolerance=future_tolerance,
        )
        problems.extend(_numbered(found, name))
        if len(frame):
            yield frame
    if held:
        lines = np.concatenate(held_lines)
        frame, found = rows_to_observations(
            pd.concat(held),
            [f"{name} line {n}" for n in lines],
            now=now,
            future_tolerance=future_tolerance,
        )
        problems.extend(_numbered(found, name))
        if len(frame):
            yield frame
    problems.sort(key=lambda item: item[0])
    warnings.extend(column_warnings)
    warnings.extend(_broken_warnings(broken, name))
    warnings.extend(message for _, message in problems)


def _numbered(messages: list[str], name: str) -> list[tuple[int, str]]:
    """Row warnings (``"<name> line <n>: …"``) with their line number, to merge in order."""
    skip = len(f"{name} line ")
    return [(int(m[skip : m.index(":", skip)]), m) for m in messages]


def _detect_encoding(path: Path, name: str) -> str:
    """``utf-8-sig`` if the whole file decodes as UTF-8, else ``gb18030`` (as :func:`_decode`).

    Raises
    ------
    InputError
        If the file cannot be read or decoded, or holds nothing but white space.
    """
    for encoding in ("utf-8-sig", "gb18030"):
        decoder = codecs.getincrementaldecoder(encoding)()
        anything = False
        try:
            with path.open("rb") as handle:
                while block := handle.read(_BLOCK_BYTES):
                    anything = anything or bool(decoder.decode(block).strip())
                anything = anything or bool(decoder.decode(b"", final=True).strip())
        except UnicodeDecodeError:
            continue
        except OSError as err:
            raise InputError(f"{name}: cannot read the file ({err.strerror})") from err
        if not anything:
            raise InputError(f"{name}: the file is empty; expected a header row and data rows")
        return encoding
    raise InputError(f"{name}: cannot decode the file; expected UTF-8 or GBK/GB18030 text")


def _table(
    opener: Callable[[], TextIO], name: str, broken: list[tuple[int, str]]
) -> Iterator[tuple[int, list[str]]]:
    """The CSV records of a text (RFC 4180 quoting) with the line each starts on: first the
    header's cells (line 1), then the non-blank data rows, each as wide as the header.

    Line numbers are the file's, also after a record whose quoted cell spans lines. A
    shorter row is padded with empty cells (as a spreadsheet writes it: the intake check
    refuses what it lacks); a longer one is not given but added to ``broken`` with its line
    and a message, as is a last record whose quote is never closed (it swallowed the rest of
    the text into one cell). Blank records (every cell white space) are skipped silently.
    ``opener`` gives the text from its start: once, and once more only when the last record
    spans lines, to tell whether its quote was closed. Holds one record at a time.

    Raises
    ------
    InputError
        If the text is empty, or not readable as CSV (a cell over the csv module's field
        limit — usually a quote never closed), naming the line.
    """
    end, width = 0, -1
    held: tuple[int, int, list[str]] | None = None  # a record over lines, until the next
    with opener() as handle:
        reader = csv.reader(handle)
        try:
            for fields in reader:
                start, end = end + 1, reader.line_num
                if width < 0:
                    if start != end and _unclosed(opener, start, end):
                        raise InputError(f'{name}: a quote (") in the header row is never closed')
                    width = max(len(fields), 1)
                    yield start, fields
                    continue
                if held is not None:
                    yield from _row(*held, width, broken)
                    held = None
                if start != end:
                    held = (start, end, fields)
                elif len(fields) == width:
                    if "".join(fields).strip():
                        yield start, fields
                else:
                    yield from _row(start, end, fields, width, broken)
        except csv.Error as err:
            raise InputError(
                f'{name}: not a readable CSV file (line {end + 1}: {err}); a quote (") '
                "that is never closed is the usual cause"
            ) from err
    if width < 0:
        raise InputError(f"{name}: the file is empty; expected a header row and data rows")
    if held is not None:
        start, end, fields = held
        if _unclosed(opener, start, end):
            broken.append(
                (
                    start,
                    f'a quote (") opened on this line is never closed: lines {start}–{end} '
                    "were read as one cell and not imported",
                )
            )
        else:
            yield from _row(start, end, fields, width, broken)


def _row(
    start: int, end: int, fields: list[str], width: int, broken: list[tuple[int, str]]
) -> Iterator[tuple[int, list[str]]]:
    """The record as a row of ``width`` cells (padded), nothing if blank or too long."""
    if not "".join(fields).strip():
        return
    if len(fields) > width:
        broken.append(
            (
                start,
                f"a row with {len(fields)} cells where the header has {width} was skipped "
                f"(not imported): {','.join(fields)[:80]!r}",
            )
        )
        return
    yield start, fields + [""] * (width - len(fields))


def _unclosed(opener: Callable[[], TextIO], start: int, end: int) -> bool:
    """Whether the record on lines ``start``…``end`` ends inside a quoted cell (read again)."""
    with opener() as handle:
        lines = list(itertools.islice(handle, start - 1, end))
    try:
        for _ in csv.reader(lines, strict=True):
            pass
    except csv.Error as err:
        return "unexpected end of data" in str(err)
    return False


def _row_chunks(
    rows: Iterator[tuple[int, list[str]]], header: list[str], chunk_rows: int
) -> Iterator[tuple[pd.DataFrame, npt.NDArray[np.int64]]]:
    """Data rows of :func:`_table` as frames of text cells named by ``header``,
    ``chunk_rows`` at a time, with the line each row starts on."""
    width = len(header)
    while True:
        # Cells go straight into their column: a list per row would be kept until the frame
        # is built and make the cyclic garbage collector scan them again and again.
        columns: list[list[str]] = [[] for _ in range(width)]
        starts: list[int] = []
        for start, fields in itertools.islice(rows, chunk_rows):
            starts.append(start)
            for column, cell in zip(columns, fields, strict=True):
                column.append(cell)
        if not starts:
            return
        frame = pd.DataFrame({i: pd.Series(c, dtype=str) for i, c in enumerate(columns)})
        yield frame.set_axis(header, axis=1), np.asarray(starts, dtype=np.int64)


def _broken_warnings(broken: list[tuple[int, str]], name: str) -> list[str]:
    """One warning per record not read as a row, naming its line (in line order)."""
    return [f"{name} line {line}: {message}" for line, message in sorted(broken)]


def _file_opener(path: Path, encoding: str) -> Callable[[], TextIO]:
    """Opens the file as text for :func:`_table`, from its start each time."""
    return functools.partial(path.open, encoding=encoding, newline="")


def _data_chunks(
    path: Path, name: str, encoding: str, chunk_rows: int, header: list[str]
) -> Iterator[tuple[pd.DataFrame, npt.NDArray[np.int64]]]:
    """The file's data rows (columns named by ``header``) by chunk, and their lines."""
    rows = _table(_file_opener(path, encoding), name, [])
    next(rows)  # the header
    yield from _row_chunks(rows, header, chunk_rows)


def _first_pass(
    path: Path, name: str, encoding: str
) -> tuple[list[str], list[str], list[tuple[int, str]], int]:
    """Header, its warnings, the records not read as rows and the count of data rows.

    Raises
    ------
    InputError
        If the file is not readable CSV or its header is unusable.
    """
    broken: list[tuple[int, str]] = []
    rows = _table(_file_opener(path, encoding), name, broken)
    header = normalise_header(next(rows)[1])
    warnings = check_columns(header, name)
    count = sum(1 for _ in rows)
    return header, warnings, broken, count


def _suspects(
    path: Path, name: str, encoding: str, chunk_rows: int, header: list[str]
) -> npt.NDArray[np.uint64]:
    """Key hashes that occur on more than one row of the file (sorted)."""
    hashes = [
        light_key_hash(raw) for raw, _ in _data_chunks(path, name, encoding, chunk_rows, header)
    ]
    ordered = np.sort(np.concatenate(hashes)) if hashes else np.zeros(0, dtype=np.uint64)
    shared: npt.NDArray[np.uint64] = np.unique(ordered[1:][ordered[1:] == ordered[:-1]])
    return shared


def light_key_hash(raw: pd.DataFrame) -> npt.NDArray[np.uint64]:
    """The key hash of each row as :func:`rows_to_observations` would build its key.

    Site stripped, parameter canonical, time parsed; rows whose key cannot be read get a
    hash too (they are refused later, whatever it is).
    """
    n = len(raw)

    def text(column: str) -> pd.Series:
        if column not in raw:
            return pd.Series([""] * n, dtype=object)
        return raw[column].fillna("").astype(str).str.strip().reset_index(drop=True)

    time_text = text("time")
    holdable = pd.Series([out_of_range_time_text(t) is None for t in time_text])
    parameters = [canonical_parameter(p) or "" for p in text("parameter")]
    ends = parse_local_times(time_text.where(holdable, "")).reset_index(drop=True)
    ends = ends.fillna(pd.Timestamp(0, tz="UTC"))  # unreadable times: refused later anyway
    return key_hash(
        pd.DataFrame({"site": text("site"), "parameter": parameters, "period_end": ends})
    )


def _decode(data: bytes, name: str) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InputError(f"{name}: cannot decode the file; expected UTF-8 or GBK/GB18030 text")
