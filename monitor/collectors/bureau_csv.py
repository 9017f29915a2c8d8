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

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

import pandas as pd

from monitor.calculator.table import csv_cells_up_to
from monitor.collectors.intake import (
    DEFAULT_FUTURE_TOLERANCE,
    HEADER_ONLY,
    check_dates,
    out_of_range_time_text,
)
from monitor.errors import InputError

TRUE_TEXTS: Final = frozenset({"true", "1", "yes", "y", "是", "t"})
FALSE_TEXTS: Final = frozenset({"false", "0", "no", "n", "否", "f", ""})
MILESTONE_STATUSES: Final = ("not_started", "started", "completed")
_END: Final = "\x00end of the file\x00"  # (see _read)


def _read(
    data: bytes, name: str, required: Sequence[str]
) -> tuple[pd.DataFrame, list[int], list[str]]:
    """Every cell as text, the line of the file each row starts on (header = line 1;
    blank lines and the lines of a quoted cell over several lines counted, as an editor
    numbers them; lines end with LF, CRLF or a lone CR), and a warning for each row with
    more cells than the header, text in one of them (not imported: which cell belongs to
    which column is not known). A row with fewer cells is read with empty ones (the checks
    then refuse what it lacks). Rows of one cell of white space are blank lines.

    Read with the csv module row by row (these files are kept by hand: small), so one bad
    row never stops the others; a quote opened and never closed would swallow the rest of
    the file into one cell, so such a file is refused whole, naming the line."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise InputError(f"{name}: cannot decode the file; expected UTF-8 or GBK text")
    if not text.strip():
        raise InputError(f"{name}: the file is empty; expected a header row and data rows")
    if '"' in text:
        _refuse_an_unclosed_quote(text, name)
    header: list[str] | None = None
    records: list[list[str]] = []
    lines: list[int] = []
    skipped: list[str] = []
    # A last line the lenient reader reads as its own row, unless a quote is still open
    # (one the strict pass missed: it skips the rest of a line after text after a closing
    # quote, `"1"x,"2`); then it ends the open cell instead.
    ended = text if text.endswith(("\n", "\r")) else text + "\n"
    reader = csv.reader(io.StringIO(ended + _END + '"\n', newline=""), strict=False)
    previous = 0
    with csv_cells_up_to(len(ended) + len(_END) + 2):
        for cells in reader:
            line, previous = previous + 1, reader.line_num
            if cells == [_END + '"']:
                break
            if cells and cells[-1].endswith(_END):
                raise InputError(
                    f'{name}: a quote (") opened in the row beginning on line {line} is never '
                    "closed, so the rest of the file would be one cell; close the quote and "
                    "import the file again"
                )
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                continue  # a blank line
            if header is None:
                # An empty header cell names no column (pandas: `Unnamed: 3`; a spreadsheet's
                # export leaves them after the last column): not one column named twice. (Its
                # stand-in begins with a space: no stripped name can be the same.)
                header = [c.strip().lower() or f" column {i + 1}" for i, c in enumerate(cells)]
                _check_header(header, name, required)
            elif len(cells) > len(header) and any(c.strip() for c in cells[len(header) :]):
                extra = cells[len(header) :]
                skipped.append(
                    f"{name} line {line}: a row with {len(cells)} cells where the header has "
                    f"{len(header)} (the cells beyond, {','.join(extra)!r}, belong to no "
                    "column); check the row's separators (not imported)"
                )
            else:  # (empty cells beyond the header's, as a spreadsheet writes them: none)
                cells = cells[: len(header)]
                records.append(cells + [""] * (len(header) - len(cells)))
                lines.append(line)
    assert header is not None  # (the text is not blank)
    return pd.DataFrame(records, columns=header, dtype=object), lines, skipped


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


def _refuse_an_unclosed_quote(text: str, name: str) -> None:
    """Raise :class:`InputError` if a quote of ``text`` is opened and never closed (the
    strict csv reader reaches the end inside a quoted cell; its other complaints, such as
    text after a closing quote, are read leniently by :func:`_read`)."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    previous = 0
    with csv_cells_up_to(len(text)):
        while True:
            try:
                next(reader)
            except StopIteration:
                return
            except csv.Error as err:
                if "unexpected end of data" in str(err):
                    raise InputError(
                        f'{name}: a quote (") opened on line {previous + 1} is never closed, '
                        "so the rest of the file would be one cell; close the quote and import "
                        "the file again"
                    ) from None
            previous = reader.line_num


def _date(text: str) -> str | None:
    cleaned = text.strip().replace("/", "-")
    if out_of_range_time_text(cleaned) is not None and re.fullmatch(r"\d{4}-\d{2}-\d{2}", cleaned):
        # A year pandas cannot hold (9999, 1600): a date, which the date check refuses.
        return cleaned
    parsed = pd.to_datetime(cleaned, format="%Y-%m-%d", errors="coerce")
    return None if pd.isna(parsed) else parsed.strftime("%Y-%m-%d")


def _without_conflicts(
    rows: list[dict[str, Any]],
    lines: list[int],
    key: Sequence[str],
    name: str,
    warnings: list[str],
) -> list[dict[str, Any]]:
    """The one import rule for rows of one file sharing a key: identical repeats are kept
    once; rows that differ are all refused, each warning naming the other lines."""
    groups: dict[tuple[Any, ...], list[int]] = {}
    for i, row in enumerate(rows):
        groups.setdefault(tuple(row[k] for k in key), []).append(i)
    keep: list[int] = []
    refused: dict[int, str] = {}
    for members in groups.values():
        contents = {tuple(sorted(rows[i].items())) for i in members}
        if len(contents) == 1:
            keep.append(members[0])
            continue
        for i in members:
            others = ", ".join(str(lines[j]) for j in members if j != i)
            refused[i] = (
                f"{name} line {lines[i]}: same {', '.join(key)} as line(s) {others} with a "
                "different content; none of them is imported: keep the right row and import "
                "again (not imported)"
            )
    warnings.extend(refused[i] for i in sorted(refused))
    return [rows[i] for i in sorted(keep)]


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
    frame, file_lines, warnings = _read(data, name, ("area", "date", "aqi"))
    known = set(areas)
    rows: list[dict[str, Any]] = []
    lines: list[int] = []
    if not len(frame) and not warnings:
        warnings.append(f"{name}: {HEADER_ONLY}")  # not an error
    for index, record in enumerate(frame.to_dict("records")):
        line = file_lines[index]
        problems = []
        area = str(record["area"]).strip()
        if area not in known:
            problems.append(
                f"area {area!r} is not an area of the settings ({', '.join(sorted(known))})"
            )
        day = _date(str(record["date"]))
        if day is None:
            problems.append(f"date {record['date']!r} is not a date (YYYY-MM-DD)")
        else:
            problems += _date_problems(day, now, future_tolerance)
        text = str(record["aqi"]).strip()
        aqi = float("nan")
        if text:
            try:
                aqi = float(text)
            except ValueError:
                problems.append(f"aqi {text!r} is not a number")
            else:
                if not 0 <= aqi <= 500 or aqi != int(aqi):
                    problems.append(f"aqi {text!r} is not an AQI; expected an integer 0–500")
        dust_text = str(record.get("dust", "")).strip().lower()
        if dust_text not in TRUE_TEXTS | FALSE_TEXTS:
            problems.append(f"dust {dust_text!r} is not true/false")
        if problems:
            warnings.append(f"{name} line {line}: " + " | ".join(problems) + " (not imported)")
            continue
        assert day is not None
        lines.append(line)
        rows.append(
            {
                "area": area,
                "date": day,
                "aqi": aqi,
                "category": str(record.get("category", "")).strip(),
                "primary_pollutants": str(record.get("primary_pollutants", "")).strip(),
                "dust": dust_text in TRUE_TEXTS,
            }
        )
    rows = _without_conflicts(rows, lines, ("area", "date"), name, warnings)
    columns = ["area", "date", "aqi", "category", "primary_pollutants", "dust"]
    return pd.DataFrame(rows, columns=columns), _by_line(warnings)


def _date_problems(day: str, now: datetime | None, future_tolerance: timedelta) -> list[str]:
    problem = check_dates([day], now=now, future_tolerance=future_tolerance)[0]
    return [] if problem is None else [problem]


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
    frame, file_lines, warnings = _read(data, name, ("target", "date", "value"))
    rows: list[dict[str, Any]] = []
    lines: list[int] = []
    if not len(frame) and not warnings:
        warnings.append(f"{name}: {HEADER_ONLY}")  # not an error
    for index, record in enumerate(frame.to_dict("records")):
        problems = []
        target = str(record["target"]).strip()
        day = _date(str(record["date"]))
        value = str(record["value"]).strip()
        item = str(record.get("item", "")).strip()
        if target not in targets:
            problems.append(f"target {target!r} is not a target of the settings")
        if day is None:
            problems.append(f"date {record['date']!r} is not a date (YYYY-MM-DD)")
        else:
            problems += _date_problems(day, now, future_tolerance)
        if target in targets and day is not None:
            kind, year, items = targets[target]
            problems += check_indicator_value(kind, value, item, items, year, day)
        if problems:
            warnings.append(
                f"{name} line {file_lines[index]}: " + " | ".join(problems) + " (not imported)"
            )
            continue
        lines.append(file_lines[index])
        rows.append(
            {
                "target": target,
                "item": str(record.get("item", "")).strip(),
                "date": day,
                "value": value,
                "note": str(record.get("note", "")).strip(),
            }
        )
    rows = _without_conflicts(rows, lines, ("target", "item", "date"), name, warnings)
    columns = ["target", "item", "date", "value", "note"]
    return pd.DataFrame(rows, columns=columns), _by_line(warnings)
