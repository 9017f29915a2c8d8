"""Inputs without a quote character for the byte-identity test of ``envmon calc`` (see
``data/identity_unquoted/README.md``).

The rows of :mod:`tests.calculator.identity_inputs` whose cells need no quotes (a file
without a ``"`` is written without looking for characters to quote, and ``calc
water-class`` then writes each input line as it is): the same odd cells, times, sites and
problems, in UTF-8, GBK, UTF-8 with a BOM and CRLF, without a final line end.

``python -m tests.calculator.unquoted_inputs DIR`` writes them.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tests.calculator.identity_inputs import air_rows, to_text, water_rows


def _unquoted(rows: list[list[str]]) -> list[list[str]]:
    return [row for row in rows if not any(c in cell for cell in row for c in ',"\n')]


def _air() -> str:
    rows = _unquoted(air_rows())
    rows.insert(5, ["1001A", "2026-02-27T04:00", "it's", "", "", "", "", "", ""])
    return to_text(rows)


def _water(problems_with_commas: bool) -> str:
    rows = _unquoted(water_rows())
    if not problems_with_commas:  # (their messages hold commas: then the cells are quoted)
        rows = [r for r in rows if r[2] not in {"sea"} and r[3] not in {"劣V", "VI"}]
    return to_text(rows)


def unquoted_inputs() -> dict[str, bytes]:
    """Name → bytes of every input file."""
    air = _air()
    # the air calculator's message on a below-detection note holds a comma, and the one on
    # "it's" a quote: without them no output cell needs quotes
    no_quote_problems = air.replace("it's", "its").replace(",0.01L", ",abc")
    no_quote_problems = no_quote_problems.replace(",<0.01", ",12abc")
    water = _water(problems_with_commas=False)
    return {
        "air_utf8.csv": no_quote_problems.encode("utf-8"),
        "air_gbk_quote_in_problem.csv": air.encode("gb18030"),
        "air_bom_crlf.csv": b"\xef\xbb\xbf" + no_quote_problems.replace("\n", "\r\n").encode(),
        "water_utf8.csv": water.encode("utf-8"),
        "water_gbk_no_final_newline.csv": water.rstrip("\n").encode("gb18030"),
        "water_bom_crlf.csv": b"\xef\xbb\xbf" + water.replace("\n", "\r\n").encode(),
        "water_comma_problems.csv": _water(problems_with_commas=True).encode("utf-8"),
    }


#: (expected-output stem, calculator, input file, extra options)
UNQUOTED_CASES: list[tuple[str, str, str, list[str]]] = [
    ("aqi_hour", "aqi", "air_utf8.csv", ["--scale", "hour"]),
    ("aqi_hour", "aqi", "air_bom_crlf.csv", ["--scale", "hour"]),
    ("aqi_hour_quote_in_problem", "aqi", "air_gbk_quote_in_problem.csv", ["--scale", "hour"]),
    (
        "aqi_hour_2012_text",
        "aqi",
        "air_utf8.csv",
        ["--scale", "hour", "--standard", "hj633-2012", "--hourly-method", "standard-text"],
    ),
    # a rule set for every row (not chosen by the row's time): the columns that follow from
    # the level are built joined
    ("aqi_hour_2026", "aqi", "air_utf8.csv", ["--standard", "hj633-2026"]),
    ("aqi_hour_2026", "aqi", "air_bom_crlf.csv", ["--standard", "hj633-2026"]),
    (
        "aqi_hour_2026_missing",
        "aqi",
        "air_utf8.csv",
        ["--standard", "hj633-2026", "--missing", "hj633-2026"],
    ),
    ("aqi_day", "aqi", "air_utf8.csv", ["--scale", "day"]),
    ("aqi_day", "aqi", "air_bom_crlf.csv", ["--scale", "day"]),
    ("water", "water-class", "water_utf8.csv", []),
    ("water", "water-class", "water_gbk_no_final_newline.csv", []),
    ("water", "water-class", "water_bom_crlf.csv", []),
    ("water_ref2", "water-class", "water_utf8.csv", ["--reference", "II"]),
    ("water_comma_problems", "water-class", "water_comma_problems.csv", []),
]


if __name__ == "__main__":
    folder = Path(sys.argv[1])
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in unquoted_inputs().items():
        (folder / name).write_bytes(data)
        sys.stdout.write(f"{folder / name}\n")
