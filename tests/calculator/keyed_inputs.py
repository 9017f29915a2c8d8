"""Inputs whose measurement columns repeat few texts, for the byte-identity test of
``envmon calc water-class`` rating each distinct text once (see
``data/identity_keyed/README.md``).

The rows of :mod:`tests.calculator.identity_inputs` (the same odd cells, sites, water
bodies, target classes and problems) with each measurement cell drawn from a few texts of
its column, so that every measurement column has at most a quarter as many distinct texts
as rows (the reader then gives each row's code among them): with quotes in GBK, without
quotes (each input line written as it is) in UTF-8 and in UTF-8 with a BOM and CRLF.

``python -m tests.calculator.keyed_inputs DIR`` writes them.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

from tests.calculator.identity_inputs import WATER_CODES, to_text, water_rows

#: The distinct texts kept per measurement column (of 400 rows: at most 100 allowed).
_TEXTS_PER_COLUMN = 24


def _repeating(rows: list[list[str]], seed: int) -> list[list[str]]:
    """``rows`` (header first) with each measurement cell one of a few texts of its column."""
    rng = random.Random(seed)
    header, *body = rows
    columns = [header.index(code) for code in WATER_CODES]
    pools = {j: list(dict.fromkeys(row[j] for row in body))[:_TEXTS_PER_COLUMN] for j in columns}
    out = [header]
    for row in body:
        cells = list(row)
        for j in columns:
            cells[j] = rng.choice(pools[j])
        out.append(cells)
    return out


def _unquoted(rows: list[list[str]]) -> list[list[str]]:
    """Rows none of whose cells needs quotes, nor any of whose problems (an unknown water
    body or target class: their messages hold commas), without the remark column."""
    kept = [
        row[:-1]
        for row in rows
        if not any(c in cell for cell in row[:-1] for c in ',"\n')
        and row[2] not in {"sea"}
        and row[3] not in {"劣V", "VI"}
    ]
    return kept


def keyed_inputs() -> dict[str, bytes]:
    """Name → bytes of every input file."""
    quoted = _repeating(water_rows(seed=18), seed=1)
    plain = to_text(_unquoted(_repeating(water_rows(seed=19), seed=2)))
    return {
        "water_gbk.csv": to_text(quoted).encode("gb18030"),
        "water_utf8.csv": plain.encode("utf-8"),
        "water_bom_crlf.csv": b"\xef\xbb\xbf" + plain.replace("\n", "\r\n").encode(),
    }


#: (expected-output stem, input file, extra options)
KEYED_CASES: list[tuple[str, str, list[str]]] = [
    ("water_gbk", "water_gbk.csv", []),
    ("water_gbk_ref2", "water_gbk.csv", ["--reference", "II"]),
    ("water", "water_utf8.csv", []),
    ("water", "water_bom_crlf.csv", []),
    ("water_ref5", "water_utf8.csv", ["--reference", "V"]),
]


if __name__ == "__main__":
    folder = Path(sys.argv[1])
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in keyed_inputs().items():
        (folder / name).write_bytes(data)
