"""Files the bureau receives or keeps by hand: audited daily AQI, manual indicator values.

``daily-aqi-csv`` — the audited daily AQI of a city or district as the provincial/national
platform delivers it: header ``area,date,aqi`` plus optional ``category``,
``primary_pollutants`` and ``dust`` (true/false, 1/0, 是/否 — a dust-affected day). ``area``
is an area id of the settings (``hunnan``, ``shenyang``); ``date`` a calendar date
(YYYY-MM-DD or YYYY/MM/DD); ``aqi`` an integer 0–500 (empty = no valid AQI that day).

``indicators-csv`` — manually reported target values: header ``target,date,value`` plus
optional ``item`` (a milestone's name) and ``note``.

Rows that cannot be used are reported with their line number and not imported; a file
that cannot be used at all raises :class:`~monitor.errors.InputError`. As for every import
(:mod:`monitor.collectors.intake`): a date that has not begun yet or lies outside 1900 …
now is refused; rows with the same key (``area, date``; ``target, item, date``) but a
different content are **all** refused, each naming the others' lines; a row repeated
identically is imported once.
"""

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

import pandas as pd

from monitor.collectors.intake import (
    DEFAULT_FUTURE_TOLERANCE,
    HEADER_ONLY,
    check_dates,
    out_of_range_time_text,
)
from monitor.csvfile import csv_records
from monitor.errors import InputError

TRUE_TEXTS: Final = frozenset({"true", "1", "yes", "y", "是", "t"})
FALSE_TEXTS: Final = frozenset({"false", "0", "no", "n", "否", "f", ""})
MILESTONE_STATUSES: Final = ("not_started", "started", "completed")


def _read(
    data: bytes, name: str, required: Sequence[str], skipped: list[str]
) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """The header (names stripped, lower case) and, as they are read, each data row: the
    line of the file it starts on (header = line 1; blank lines and the lines of a quoted
    cell over several lines counted, as an editor numbers them; lines end with LF, CRLF or
    a lone CR) and its cells as text, as many as the header's. A row with more cells than
    the header, text in one of them, is not given but warned of in ``skipped`` (which cell
    belongs to which column is not known); a row with fewer cells is given with empty ones
    (the checks then refuse what it lacks). Rows of one cell of white space are blank lines.

    Read once, with the csv module row by row (lenient: ``"4"0`` is ``40``, as pandas' C
    reader and ``envmon calc`` read it), so one bad row never stops the others; the text
    is decoded a block at a time and handed to the reader a line at a time, so what is held
    besides ``data`` is a row, not a copy of the file. A quote opened and never closed
    would swallow the rest of the file into one cell, so such a file is refused whole
    (:class:`InputError` while the rows are read, before any is used), naming the line of
    the row the quote is in (:func:`~monitor.csvfile.csv_records`)."""
    records = _records(data, name)
    first = next(records, None)
    if first is None:
        raise InputError(f"{name}: the file is empty; expected a header row and data rows")
    # An empty header cell names no column (pandas: `Unnamed: 3`; a spreadsheet's export
    # leaves them after the last column): not one column named twice. (Its stand-in begins
    # with a space: no stripped name can be the same.)
    header = [c.strip().lower() or f" column {i + 1}" for i, c in enumerate(first[1])]
    _check_header(header, name, required)

    def rows() -> Iterator[tuple[int, list[str]]]:
        width = len(header)
        for line, cells in records:
            if len(cells) > width and any(c.strip() for c in cells[width:]):
                extra = cells[width:]
                skipped.append(
                    f"{name} line {line}: a row with {len(cells)} cells where the header has "
                    f"{width} (the cells beyond, {','.join(extra)!r}, belong to no column); "
                    "check the row's separators (not imported)"
                )
                continue
            # (empty cells beyond the header's, as a spreadsheet writes them: none)
            del cells[width:]
            cells.extend([""] * (width - len(cells)))
            yield line, cells

    return header, rows()


def _records(data: bytes, name: str) -> Iterator[tuple[int, list[str]]]:
    """Each record of the file that is not a blank line: the line it starts on and its
    cells (see :func:`_read`; a quote never closed: :func:`~monitor.csvfile.csv_records`)."""
    lines = _decoded_lines(data, name)
    for line, cells in csv_records(lines, len(data), name, "import the file again"):
        if cells and (len(cells) > 1 or cells[0].strip()):  # (else a blank line)
            yield line, cells


def _decoded_lines(data: bytes, name: str) -> Iterator[str]:
    """The lines of ``data`` as text (UTF-8, else GBK/GB18030), as
    :func:`~monitor.csvfile.csv_lines` ends them, decoded a block at a time."""
    for encoding in ("utf-8-sig", "gb18030"):
        if _decodes(data, encoding):
            break
    else:
        raise InputError(f"{name}: cannot decode the file; expected UTF-8 or GBK text")
    # (newline="": lines end with LF, CRLF or a lone CR, and keep their ends)
    return io.TextIOWrapper(io.BytesIO(data), encoding=encoding, newline="")


def _decodes(data: bytes, encoding: str) -> bool:
    """Whether ``data`` is text in ``encoding`` (checked a block at a time: no copy of the
    whole text)."""
    if data.isascii():
        return True
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        for start in range(0, len(data), _BLOCK_BYTES):
            decoder.decode(data[start : start + _BLOCK_BYTES])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


_BLOCK_BYTES: Final = 1 << 20


def _check_header(header: list[str], name: str, required: Sequence[str]) -> None:
    missing = [c for c in required if c not in header]
    if missing:
        raise InputError(
            f"{name}: missing column(s) {', '.join(missing)}; the header must contain "
            f"{', '.join(required)} (found: {', '.join(header)})"
        )
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        raise InputError(
            f"{name}: the header names {', '.join(map(repr, repeated))} more than once; "
            "expected each column once"
        )


def _date(text: str) -> str | None:
    cleaned = text.strip().replace("/", "-")
    if out_of_range_time_text(cleaned) is not None and re.fullmatch(r"\d{4}-\d{2}-\d{2}", cleaned):
        # A year pandas cannot hold (9999, 1600): a date, which the date check refuses.
        return cleaned
    parsed = pd.to_datetime(cleaned, format="%Y-%m-%d", errors="coerce")
    return None if pd.isna(parsed) else parsed.strftime("%Y-%m-%d")


class _Rows:
    """The usable rows of one file, column by column (a tuple per row would cost about
    three times the memory), with the line each starts on."""

    def __init__(self, columns: Sequence[str]) -> None:
        self.columns = tuple(columns)
        self.cells: list[list[Any]] = [[] for _ in columns]
        self.lines: list[int] = []

    def add(self, line: int, *cells: Any) -> None:
        for column, cell in zip(self.cells, cells, strict=True):
            column.append(cell)
        self.lines.append(line)

    def without_conflicts(
        self, key: Sequence[str], name: str, warnings: list[str]
    ) -> pd.DataFrame:
        """The rows as a frame, by the one import rule for rows of one file sharing a key:
        identical repeats are kept once; rows that differ are all refused, each warning
        naming the other lines."""
        frame = pd.DataFrame(dict(zip(self.columns, self.cells, strict=True)))
        self.cells = []
        shared = frame.duplicated(list(key), keep=False).to_numpy()
        if not shared.any():
            return frame
        groups: dict[tuple[Any, ...], list[int]] = {}
        for i in map(int, shared.nonzero()[0]):
            groups.setdefault(tuple(frame[k].iat[i] for k in key), []).append(i)
        dropped: list[int] = []
        refused: dict[int, str] = {}
        for members in groups.values():
            # (an empty aqi, NaN, equals an empty aqi here: the same content)
            if len(frame.iloc[members].drop_duplicates()) == 1:
                dropped += members[1:]
                continue
            dropped += members
            for i in members:
                others = ", ".join(str(self.lines[j]) for j in members if j != i)
                refused[i] = (
                    f"{name} line {self.lines[i]}: same {', '.join(key)} as line(s) {others} "
                    "with a different content; none of them is imported: keep the right row "
                    "and import again (not imported)"
                )
        warnings.extend(refused[i] for i in sorted(refused))
        return frame.drop(index=dropped).reset_index(drop=True)


def parse_daily_aqi_csv(
    data: bytes,
    name: str,
    areas: Iterable[str],
    *,
    now: datetime | None = None,
    future_tolerance: timedelta = DEFAULT_FUTURE_TOLERANCE,
) -> tuple[pd.DataFrame, list[str]]:
    """Official daily AQI rows (``area, date, aqi, category, primary_pollutants, dust``)
    and warnings for the rows left out (dates checked against ``now``, default the clock)."""
    warnings: list[str] = []
    header, records = _read(data, name, ("area", "date", "aqi"), warnings)
    known = set(areas)
    rows = _Rows(["area", "date", "aqi", "category", "primary_pollutants", "dust"])
    dates = _Dates(now, future_tolerance)
    read = 0
    for line, cells in records:
        read += 1
        record = dict(zip(header, cells, strict=True))
        problems = []
        area = record["area"].strip()
        if area not in known:
            problems.append(
                f"area {area!r} is not an area of the settings ({', '.join(sorted(known))})"
            )
        day, date_problems = dates.check(record["date"])
        problems += date_problems
        text = record["aqi"].strip()
        aqi = float("nan")
        if text:
            try:
                aqi = float(text)
            except ValueError:
                problems.append(f"aqi {text!r} is not a number")
            else:
                if not 0 <= aqi <= 500 or aqi != int(aqi):
                    problems.append(f"aqi {text!r} is not an AQI; expected an integer 0–500")
        dust_text = record.get("dust", "").strip().lower()
        if dust_text not in TRUE_TEXTS | FALSE_TEXTS:
            problems.append(f"dust {dust_text!r} is not true/false")
        if problems:
            warnings.append(f"{name} line {line}: " + " | ".join(problems) + " (not imported)")
            continue
        rows.add(
            line,
            area,
            day,
            aqi,
            record.get("category", "").strip(),
            record.get("primary_pollutants", "").strip(),
            dust_text in TRUE_TEXTS,
        )
    if not read and not warnings:
        warnings.append(f"{name}: {HEADER_ONLY}")  # not an error
    frame = rows.without_conflicts(("area", "date"), name, warnings)
    return frame, _by_line(warnings)


class _Dates:
    """The date cells of one file read and checked, each distinct text once (a file repeats
    its dates, one row per area or target; pandas takes some tens of µs a date)."""

    def __init__(self, now: datetime | None, future_tolerance: timedelta) -> None:
        self._now = now
        self._future_tolerance = future_tolerance
        self._checked: dict[str, tuple[str | None, list[str]]] = {}

    def check(self, text: str) -> tuple[str | None, list[str]]:
        """The date of a cell as ``YYYY-MM-DD`` (None if it is no date) and its problems."""
        found = self._checked.get(text)
        if found is None:
            found = self._checked[text] = self._read(text)
        return found[0], list(found[1])

    def _read(self, text: str) -> tuple[str | None, list[str]]:
        day = _date(text)
        if day is None:
            return None, [f"date {text!r} is not a date (YYYY-MM-DD)"]
        problem = check_dates([day], now=self._now, future_tolerance=self._future_tolerance)[0]
        return day, [] if problem is None else [problem]


def _by_line(warnings: list[str]) -> list[str]:
    """Warnings in file order (each starts ``<name> line <n>:``)."""

    def line(text: str) -> int:
        head = text.split(":", 1)[0].rsplit(" line ", 1)
        return int(head[1]) if len(head) == 2 and head[1].isdigit() else 0

    return sorted(warnings, key=line)


def check_indicator_value(
    kind: str, value: str, item: str, items: Sequence[str], year: int, day: str
) -> list[str]:
    """Problems of one manual value for a target of ``kind`` (empty list: usable).

    Count targets take a finite number ≥ 0 and no item; milestones take a status
    (:data:`MILESTONE_STATUSES`) for one of their items; the date must fall in the
    target's year. Other kinds are computed from data and take no manual value.
    """
    problems = []
    if kind == "count":
        try:
            number = float(value)
        except ValueError:
            number = float("nan")
        if not (number >= 0 and number != float("inf")):
            problems.append(f"value {value!r} is not a count; expected a finite number ≥ 0")
        if item:
            problems.append(f"item {item!r} given, but a count target has no items")
    elif kind == "milestones":
        if item not in items:
            problems.append(
                f"item {item!r} is not an item of the target; items: {', '.join(items)}"
                if item
                else f"an item is needed (one of: {', '.join(items)})"
            )
        if value not in MILESTONE_STATUSES:
            problems.append(
                f"value {value!r} is not a milestone status; expected "
                + ", ".join(MILESTONE_STATUSES)
            )
    else:
        problems.append(
            f"a {kind} target is computed from data; only count and milestones targets "
            "take manual values"
        )
    if not day.startswith(f"{year}-"):
        problems.append(f"date {day} is outside the target's year {year}")
    return problems


def parse_indicator_csv(
    data: bytes,
    name: str,
    targets: Mapping[str, tuple[str, int, Sequence[str]]],
    *,
    now: datetime | None = None,
    future_tolerance: timedelta = DEFAULT_FUTURE_TOLERANCE,
) -> tuple[pd.DataFrame, list[str]]:
    """Manual indicator rows (``target, item, date, value, note``) and warnings.

    ``targets`` maps a target id to its kind, year and milestone item names; every row is
    checked as :func:`check_indicator_value` says, and its date against ``now`` (default
    the clock).
    """
    warnings: list[str] = []
    header, records = _read(data, name, ("target", "date", "value"), warnings)
    rows = _Rows(["target", "item", "date", "value", "note"])
    dates = _Dates(now, future_tolerance)
    read = 0
    for line, cells in records:
        read += 1
        record = dict(zip(header, cells, strict=True))
        problems = []
        target = record["target"].strip()
        day, date_problems = dates.check(record["date"])
        value = record["value"].strip()
        item = record.get("item", "").strip()
        if target not in targets:
            problems.append(f"target {target!r} is not a target of the settings")
        problems += date_problems
        if target in targets and day is not None:
            kind, year, items = targets[target]
            problems += check_indicator_value(kind, value, item, items, year, day)
        if problems:
            warnings.append(f"{name} line {line}: " + " | ".join(problems) + " (not imported)")
            continue
        rows.add(line, target, item, day, value, record.get("note", "").strip())
    if not read and not warnings:
        warnings.append(f"{name}: {HEADER_ONLY}")  # not an error
    frame = rows.without_conflicts(("target", "item", "date"), name, warnings)
    return frame, _by_line(warnings)
