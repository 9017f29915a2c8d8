"""Files the bureau receives or keeps by hand: audited daily AQI, manual indicator values.

``daily-aqi-csv`` — the audited daily AQI of a city or district as the provincial/national
platform delivers it: header ``area,date,aqi`` plus optional ``category``,
``primary_pollutants`` and ``dust`` (true/false, 1/0, 是/否 — a dust-affected day). ``area``
is an area id of the settings (``hunnan``, ``shenyang``); ``date`` a calendar date
(YYYY-MM-DD or YYYY/MM/DD); ``aqi`` an integer 0–500 (empty = no valid AQI that day).

``indicators-csv`` — manually reported target values: header ``target,date,value`` plus
optional ``item`` (a milestone's name) and ``note``.

Rows that cannot be used are reported with their line number and not imported; a file
that cannot be used at all raises :class:`~monitor.errors.InputError`.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

import pandas as pd

from monitor.errors import InputError

TRUE_TEXTS: Final = frozenset({"true", "1", "yes", "y", "是", "t"})
FALSE_TEXTS: Final = frozenset({"false", "0", "no", "n", "否", "f", ""})
MILESTONE_STATUSES: Final = ("not_started", "started", "completed")


def _read(data: bytes, name: str, required: Sequence[str]) -> pd.DataFrame:
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
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise InputError(f"{name}: not a readable CSV file ({err})") from err
    frame.columns = pd.Index([str(c).strip().lower() for c in frame.columns])
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputError(
            f"{name}: missing column(s) {', '.join(missing)}; the header must contain "
            f"{', '.join(required)} (found: {', '.join(frame.columns)})"
        )
    return frame


def _date(text: str) -> str | None:
    parsed = pd.to_datetime(text.strip().replace("/", "-"), format="%Y-%m-%d", errors="coerce")
    return None if pd.isna(parsed) else parsed.strftime("%Y-%m-%d")


def parse_daily_aqi_csv(
    data: bytes, name: str, areas: Iterable[str]
) -> tuple[pd.DataFrame, list[str]]:
    """Official daily AQI rows (``area, date, aqi, category, primary_pollutants, dust``)
    and warnings for the rows left out."""
    frame = _read(data, name, ("area", "date", "aqi"))
    known = set(areas)
    rows, warnings = [], []
    seen: dict[tuple[str, str], int] = {}
    for index, record in enumerate(frame.to_dict("records")):
        line = index + 2
        problems = []
        area = str(record["area"]).strip()
        if area not in known:
            problems.append(
                f"area {area!r} is not an area of the settings ({', '.join(sorted(known))})"
            )
        day = _date(str(record["date"]))
        if day is None:
            problems.append(f"date {record['date']!r} is not a date (YYYY-MM-DD)")
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
        if day is not None and (area, day) in seen and not problems:
            problems.append(f"duplicate of line {seen[(area, day)]} (same area and date)")
        if problems:
            warnings.append(f"{name} line {line}: " + " | ".join(problems) + " (not imported)")
            continue
        assert day is not None
        seen[(area, day)] = line
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
    columns = ["area", "date", "aqi", "category", "primary_pollutants", "dust"]
    return pd.DataFrame(rows, columns=columns), warnings


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
    data: bytes, name: str, targets: Mapping[str, tuple[str, int, Sequence[str]]]
) -> tuple[pd.DataFrame, list[str]]:
    """Manual indicator rows (``target, item, date, value, note``) and warnings.

    ``targets`` maps a target id to its kind, year and milestone item names; every row is
    checked as :func:`check_indicator_value` says.
    """
    frame = _read(data, name, ("target", "date", "value"))
    rows, warnings = [], []
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
        if target in targets and day is not None:
            kind, year, items = targets[target]
            problems += check_indicator_value(kind, value, item, items, year, day)
        if problems:
            warnings.append(
                f"{name} line {index + 2}: " + " | ".join(problems) + " (not imported)"
            )
            continue
        rows.append(
            {
                "target": target,
                "item": str(record.get("item", "")).strip(),
                "date": day,
                "value": value,
                "note": str(record.get("note", "")).strip(),
            }
        )
    return pd.DataFrame(rows, columns=["target", "item", "date", "value", "note"]), warnings
