"""Varied calculator inputs for the byte-identity test of ``envmon calc`` (see README.md).

``python -m tests.calculator.identity_inputs DIR`` writes the input files; the expected
outputs in ``tests/calculator/data/identity/`` were produced from them by the calculators
as they were before the columnar engine (commit 4c63bd0), and the test checks that every
later version writes the same bytes.

The cells mix what bureau exports contain: GBK and UTF-8 (with BOM, CRLF), header
spellings in any case with spaces (``PM2.5``, ``pm10_1h``, `` Site ``), empty cells and
missing markers (``NA``, ``/``, ``—``), below-detection notes, negative, huge, NaN/inf text,
numbers with signs, exponents and spaces, quoted cells with commas, Chinese site names,
times with and without offsets, ``24:00``, off-hour and unparseable times, duplicates.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

GOOD_AIR = {
    "so2": (2, 60),
    "no2": (5, 120),
    "co": (0.2, 3.0),
    "o3": (5, 300),
    "pm10": (10, 400),
    "pm2_5": (5, 300),
}
ODD_NUMBERS = [
    "",
    " ",
    "NA",
    "na",
    "N/A",
    "/",
    "-",
    "--",
    "—",
    "－",
    "null",
    "None",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "Infinity",
    "1e400",
    "-1e400",
    "1e9",
    "123456789012",
    "1e308",
    "-5",
    "-0",
    "0",
    "0.0",
    "+35",
    "3.5e1",
    " 42 ",
    "\t17",
    "1,5",
    "abc",
    "12abc",
    "0.01L",
    "<0.01",
    "ND",
    "35.",
    ".5",
    "0x10",
    "1_000",
    "３５",
    "浓度高",
    "0.30000000000000004",
    "1e-7",
    "999999.95",
]
SITES = ["1001A", "1002A", "浑南东路", "沈阳 站", " 1003A ", "Q,uoted"]


def _air_value(rng: random.Random, name: str) -> str:
    if rng.random() < 0.12:
        return rng.choice(ODD_NUMBERS)
    low, high = GOOD_AIR[name]
    value = rng.uniform(low, high)
    if name == "so2" and rng.random() < 0.01:
        value = rng.uniform(801, 2700)  # triggers the 24-hour SO2 rule of HJ 633-2012
    style = rng.random()
    if name == "co" or style < 0.2:
        return f"{value:.1f}"
    if style < 0.3:
        return f"{value:.2f}"
    if style < 0.35:
        return f"{value:.6g}"
    return f"{value:.0f}"


def _air_time(rng: random.Random, day: int, hour: int) -> str:
    base = f"2026-{'02' if day < 2 else '03'}-{[27, 28, 1, 2][day]:02d}"
    pick = rng.random()
    if pick < 0.80:
        return f"{base}T{hour:02d}:00"
    if pick < 0.86:
        return f"{base} {hour:02d}:00:00"
    if pick < 0.89:
        return f"{base}T{hour:02d}:00+08:00"
    if pick < 0.91:
        return f"{base}T{(hour - 8) % 24:02d}:00Z"
    return rng.choice(
        [
            f"{base}T24:00",
            f"{base}T{hour:02d}:30",
            f"{base}T{hour:02d}:00:01",
            "",
            "yesterday",
            "2026-02-30T10:00",
            "2026-13-01T10:00",
            f" {base}T{hour:02d}:00 ",
            f"{base}T{hour:02d}",
            f"{base}T{hour:02d}:00:00.000",
            "1990-04-15T02:00",
            "1991-09-15T01:00",
            f"{base.replace('-', '/')} {hour:02d}:00",
            f"{base}T{hour:02d}:00+0800",
        ]
    )


def _quote(cell: str) -> str:
    return f'"{cell}"' if any(c in cell for c in ',"\n') else cell


def air_rows(seed: int = 17) -> list[list[str]]:
    """Header plus rows of a varied hourly concentration file."""
    rng = random.Random(seed)
    header = [" Site ", "TIME", "PM2.5", "pm10_1h", "SO2", "No2", "CO", "o3_1h", "备注"]
    names = ["pm2_5", "pm10", "so2", "no2", "co", "o3"]
    rows: list[list[str]] = [header]
    for day in range(4):
        for hour in range(24):
            for site in SITES:
                if rng.random() < 0.04:
                    continue  # a gap
                cells = [_air_value(rng, n) for n in names]
                note = rng.choice(["", "", "", "校准", "ok", "a, b", '说"明"'])
                row = [site, _air_time(rng, day, hour), *cells, note]
                rows.append(row)
                if rng.random() < 0.02:
                    rows.append(list(row))  # an exact duplicate
    rows.append(["", "2026-03-01T10:00", "30", "", "", "", "", "", "no site"])
    rows.append(["1001A", "2026-03-02T10:00", "", "", "", "", "", "", "all empty"])
    return rows


WATER_CODES = ["pH", "DO", "CODMn", "COD", "BOD5", "NH3N", "TP", "TN", "F", "Hg", "Fecal_Coliform"]
WATER_RANGES = {
    "pH": (5.5, 9.5),
    "DO": (1.0, 9.0),
    "CODMn": (1.0, 16.0),
    "COD": (10.0, 45.0),
    "BOD5": (2.0, 12.0),
    "NH3N": (0.1, 2.5),
    "TP": (0.01, 0.5),
    "TN": (0.1, 2.5),
    "F": (0.3, 1.8),
    "Hg": (0.00002, 0.002),
    "Fecal_Coliform": (100.0, 50000.0),
}


def water_rows(seed: int = 18) -> list[list[str]]:
    """Header plus rows of a varied surface-water sample file."""
    rng = random.Random(seed)
    header = [" Site", "Time ", "Water_Body", "Target_Class", *WATER_CODES, "备注"]
    rows: list[list[str]] = [header]
    bodies = ["river", "", "lake", "reservoir", "河流", "湖泊", "水库", "sea", " Lake "]
    targets = ["III", "", "II", "IV", "Ⅲ类", "劣V", "VI", "iii", "V"]
    for i in range(400):
        cells = []
        for code in WATER_CODES:
            if rng.random() < 0.15:
                cells.append(rng.choice(ODD_NUMBERS))
                continue
            low, high = WATER_RANGES[code]
            value = rng.uniform(low, high)
            cells.append(f"{value:.4g}" if rng.random() < 0.7 else f"{value:.3f}")
        if rng.random() < 0.05:
            cells[0] = rng.choice(["15", "14.5", "0.5L"])
        rows.append(
            [
                rng.choice(SITES),
                f"2026-03-{1 + i % 28:02d}T08:00",
                rng.choice(bodies),
                rng.choice(targets),
                *cells,
                rng.choice(["", "断面", "x, y"]),
            ]
        )
    return rows


def to_text(rows: list[list[str]], newline: str = "\n") -> str:
    """CSV text, quoting only cells that need it."""
    return "".join(",".join(_quote(c) for c in row) + newline for row in rows)


def write_inputs(folder: Path) -> dict[str, Path]:
    """Write every input file into ``folder``; name → path."""
    folder.mkdir(parents=True, exist_ok=True)
    air = to_text(air_rows())
    # a blank line and a whitespace-only line in the middle, as hand-edited files have
    lines = air.splitlines(keepends=True)
    air = "".join([*lines[:40], "\n", *lines[40:90], "   \n", *lines[90:]])
    regular = to_text(air_rows())  # no blank lines: read column-wise throughout
    files = {
        "air_regular_gbk.csv": regular.encode("gb18030"),
        "air_regular_utf8.csv": regular.encode("utf-8"),
        "air_gbk.csv": air.encode("gb18030"),
        "air_utf8_bom_crlf.csv": b"\xef\xbb\xbf" + air.replace("\n", "\r\n").encode("utf-8"),
        "water_gbk.csv": to_text(water_rows()).encode("gb18030"),
        "water_utf8.csv": to_text(water_rows(seed=19)).encode("utf-8"),
    }
    paths = {}
    for name, data in files.items():
        paths[name] = folder / name
        paths[name].write_bytes(data)
    return paths


#: (expected-output stem, calculator, input file, extra options)
CASES: list[tuple[str, str, str, list[str]]] = [
    ("aqi_hour_gbk", "aqi", "air_gbk.csv", ["--scale", "hour"]),
    # the same rows in UTF-8 with a BOM and CRLF: the same output as from GBK
    ("aqi_hour_gbk", "aqi", "air_utf8_bom_crlf.csv", ["--scale", "hour"]),
    (
        "aqi_hour_2012_text",
        "aqi",
        "air_gbk.csv",
        ["--scale", "hour", "--standard", "hj633-2012", "--hourly-method", "standard-text"],
    ),
    ("aqi_hour_missing", "aqi", "air_gbk.csv", ["--scale", "hour", "--missing", "hj633-2026"]),
    ("aqi_day_gbk", "aqi", "air_gbk.csv", ["--scale", "day"]),
    ("aqi_hour_gbk", "aqi", "air_regular_gbk.csv", ["--scale", "hour"]),
    ("aqi_hour_gbk", "aqi", "air_regular_utf8.csv", ["--scale", "hour"]),
    (
        "aqi_hour_2012_text",
        "aqi",
        "air_regular_utf8.csv",
        ["--scale", "hour", "--standard", "hj633-2012", "--hourly-method", "standard-text"],
    ),
    ("aqi_hour_missing", "aqi", "air_regular_utf8.csv", ["--missing", "hj633-2026"]),
    ("aqi_day_gbk", "aqi", "air_regular_gbk.csv", ["--scale", "day"]),
    (
        "aqi_day_ending",
        "aqi",
        "air_regular_utf8.csv",
        ["--scale", "day", "--mda8-windows", "ending-in-day", "--missing", "hj633-2026"],
    ),
    (
        "aqi_day_ending",
        "aqi",
        "air_utf8_bom_crlf.csv",
        ["--scale", "day", "--mda8-windows", "ending-in-day", "--missing", "hj633-2026"],
    ),
    ("water_gbk", "water-class", "water_gbk.csv", []),
    ("water_utf8_ref2", "water-class", "water_utf8.csv", ["--reference", "II"]),
]

#: Areas of the ``aqi_<scale>_areas`` outputs (computed through the Python API).
AREAS = {"hunnan": ["1001A", "浑南东路"], "rest": ["1002A", "沈阳 站", "1003A", "Q,uoted"]}


if __name__ == "__main__":
    for path in write_inputs(Path(sys.argv[1])).values():
        sys.stdout.write(f"{path}\n")


_EDGE_HEADER = "site,time,pm2_5,pm10,note\n"
#: Small files whose layout decides which reader is used; name → bytes.
EDGE_FILES: dict[str, bytes] = {
    "lone_cr_in_quotes": (_EDGE_HEADER + 'A,2026-03-01T10:00,30,40,"x\ry"\n').encode(),
    "lone_cr_line_end": (
        _EDGE_HEADER + "A,2026-03-01T10:00,30,40,x\rB,2026-03-01T11:00,1,2,y\n"
    ).encode(),
    "crlf_in_quotes": (_EDGE_HEADER + 'A,2026-03-01T10:00,30,40,"x\r\ny"\r\n').encode(),
    "short_row": (_EDGE_HEADER + "A,2026-03-01T10:00,30\nB\n").encode(),
    "long_row": (_EDGE_HEADER + "A,2026-03-01T10:00,30,40,x,extra\n").encode(),
    "all_long_rows": (_EDGE_HEADER + "A,2026-03-01T10:00,30,40,x,1\nB,t,1,2,y,2\n").encode(),
    "blank_first_line": ("\n" + _EDGE_HEADER + "A,2026-03-01T10:00,30,40,x\n").encode(),
    "trailing_blank_lines": (_EDGE_HEADER + "A,2026-03-01T10:00,30,40,x\n\n\n").encode(),
    "spaces_line": (
        _EDGE_HEADER + "A,2026-03-01T10:00,30,40,x\n  \t\nB,2026-03-01T10:00,1,2,y\n"
    ).encode(),
    "empty_cells_row": (_EDGE_HEADER + "A,2026-03-01T10:00,30,40,x\n,,,,\n").encode(),
    "space_site_row": (_EDGE_HEADER + "A,2026-03-01T10:00,30,40,x\n ,,,,\n").encode(),
    "duplicate_header": b"site,time,pm2_5,pm2_5\nA,2026-03-01T10:00,30,40\n",
    "duplicate_spelling": b"site,time,PM2.5,pm25\nA,2026-03-01T10:00,30,40\n",
    "empty_header_name": b"site,time,pm2_5,\nA,2026-03-01T10:00,30,x\n",
    "quote_mid_field": (_EDGE_HEADER + 'A,2026-03-01T10:00,30,40,x"y\n').encode(),
    "quote_then_text": (_EDGE_HEADER + 'A,2026-03-01T10:00,30,40,"x"y\n').encode(),
    "unclosed_quote": (_EDGE_HEADER + 'A,2026-03-01T10:00,30,40,"xy\n').encode(),
    "no_final_newline": (_EDGE_HEADER + "A,2026-03-01T10:00,30,40,x").encode(),
    "header_only": _EDGE_HEADER.encode(),
    "nul_byte": (_EDGE_HEADER + "A,2026-03-01T10:00,30,40,x\x00y\n").encode(),
    "gbk_quoted_newline": (_EDGE_HEADER + 'A,2026-03-01T10:00,30,40,"浑南\n东路"\n').encode("gbk"),
    "bom_only_header": b"\xef\xbb\xbf" + _EDGE_HEADER.encode(),
    "unicode_space_site": (_EDGE_HEADER + "\u3000A\u3000,2026-03-01T10:00,30,40,x\n").encode(),
    "sep_char_site": (_EDGE_HEADER + "\x1cA,2026-03-01T10:00,30,40,x\n").encode(),
}
