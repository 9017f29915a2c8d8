"""``calc aqi --scale hour`` rates each distinct concentration text once (the reader's codes,
:func:`monitor.domain.aqi.hourly_aqi_of_keys`) and writes each IAQI text once: the same
bytes and warnings as rating every row (the path files without codes take).

Cell texts: on and beside HJ 633-2012 Table 1 breakpoints (PM2.5 24-hour 35 / 75 µg/m³ →
IAQI 50 / 100, PM10 150 → 100, CO 1-hour 10 mg/m³ → 100), missing markers, and cells
that are a row's problem (a negative number, a word, an exponent pandas reads, white
space) — shared/reference/standards.md §1.1, §1.7.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.calculator import air
from monitor.calculator.air import ALIASES, POLLUTANT_COLUMNS
from monitor.calculator.table import read_input_csv
from monitor.domain.aqi import hourly_aqi_of_keys
from tests.calculator.running import run_calc

TEXTS = {
    "so2": ["10", "0", "150", "800", "", "NA", "-1"],
    "no2": ["35", "100", "200.5", "", "/", "abc"],
    "co": ["0.8", "10", "1e1", "", "-"],
    "o3": ["70", "160", "1200", "", " 80"],
    "pm10": ["150", "151", "70", "", "NA"],
    "pm2_5": ["35", "75", "36", "0.5", "", "-0.5"],
}


@st.composite
def _files(draw: st.DrawFn) -> str:
    """A header of site, time and some pollutant columns, and rows of their texts (each
    text repeats, so every pollutant column has few distinct texts); times in one year."""
    columns = draw(st.lists(st.sampled_from(list(TEXTS)), min_size=1, unique=True))
    n = draw(st.integers(40, 120))
    year = draw(st.sampled_from([2025, 2026]))  # (2026: after 1 March, HJ 633-2026)
    rows = [
        [f"100{i % 3}A", f"{year}-06-{1 + i // 24 % 28:02d}T{i % 24:02d}:00"]
        + [draw(st.sampled_from(TEXTS[c])) for c in columns]
        for i in range(n)
    ]
    return "\n".join(",".join(r) for r in [["site", "time", *columns], *rows]) + "\n"


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    _files(),
    st.sampled_from([[], ["--standard", "hj633-2026"], ["--missing", "hj633-2026"]]),
)
def test_rating_each_text_once_writes_what_rating_each_row_does(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    text: str,
    options: list[str],
) -> None:
    path = tmp_path / "in.csv"
    path.write_text(text, encoding="utf-8")
    table = read_input_csv(path, POLLUTANT_COLUMNS, aliases=ALIASES, coded=True)
    # (the subject: every pollutant column is read with the codes of its texts)
    assert table.value_codes is not None and set(table.value_codes) == set(table.columns)
    argv = ["aqi", "--scale", "hour", *options, str(path)]
    used: list[int] = []
    keys = hourly_aqi_of_keys

    def counted(*args: object, **kwargs: object) -> object:
        used.append(1)
        return keys(*args, **kwargs)  # type: ignore[arg-type]

    with monkeypatch.context() as patch:
        patch.setattr(air, "hourly_aqi_of_keys", counted)
        keyed = run_calc(tmp_path, capsys, argv)
    assert used == [1]  # (800 is the highest SO2 text: the 24-hour rule never applies)
    with monkeypatch.context() as patch:
        patch.setattr(air, "_keyed_values", lambda *_: None)  # every row rated on its own
        rowwise = run_calc(tmp_path, capsys, argv)
    assert keyed == rowwise


def test_texts_of_odd_cells_hold_the_values_of_their_rows(tmp_path: Path) -> None:
    """:attr:`InputTable.text_values`: a text read cell by cell (white space, an exponent,
    a negative number: not rated) holds the value its rows hold."""
    path = tmp_path / "in.csv"
    rows = ["site,time,co,o3"] + [
        f"1001A,2026-06-01T{h:02d}:00,{co},{o3}"
        for h, (co, o3) in enumerate([("1e1", " 80"), ("0.8", "-1"), ("1e1", "70")] * 8)
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    table = read_input_csv(path, POLLUTANT_COLUMNS, aliases=ALIASES, coded=True)
    assert table.value_codes is not None and table.text_values is not None
    for column in ("co", "o3"):
        codes = table.value_codes[column].row_codes
        per_text = table.text_values[column][codes]
        assert per_text.tobytes() == table.value(column).tobytes()  # (NaN too)
    assert table.value("co")[0] == 10.0 and table.value("o3")[0] == 80.0


def test_a_long_row_drops_the_texts_values(tmp_path: Path) -> None:
    """A row with more cells than the header is not rated: its values are no longer its
    texts', so neither codes nor text values are given (every row rated on its own)."""
    path = tmp_path / "in.csv"
    rows = ["site,time,pm2_5"] + [f"1001A,2026-06-01T{h:02d}:00,35" for h in range(20)]
    rows[3] += ",9"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    table = read_input_csv(path, POLLUTANT_COLUMNS, aliases=ALIASES, coded=True)
    assert table.value_codes is None and table.text_values is None
