"""Files without a quote character: ``envmon calc`` writes the same bytes as before it
wrote them without looking for characters to quote (and ``calc water-class`` before it
wrote the input lines as they are); the expected files are from commit 8671a41 (see
``data/identity_unquoted/README.md``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from monitor.calculator.air import (
    ALIASES,
    POLLUTANT_COLUMNS,
    _aqi_keys,
    _by_aqi,
    _categories,
    _level_text,
    _pollutants,
    compute_aqi_csv,
    format_numbers,
)
from monitor.calculator.table import read_input_csv
from monitor.calculator.water import _CODES, compute_water_class_csv
from monitor.domain.aqi import aqi_level
from tests.calculator.running import assert_same_bytes, run_calc
from tests.calculator.unquoted_inputs import UNQUOTED_CASES, unquoted_inputs

DATA = Path(__file__).parent / "data" / "identity_unquoted"

# 1e308 µg/m³ is finite, so it is rated; the domain's rounding overflows on it on the way
# to IAQI 500 (numpy warns; HJ 633-2026's rounding also subtracts infinities). Not this
# test's subject.
pytestmark = [
    pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning"),
    pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning"),
]


def test_the_inputs_are_those_the_generator_writes() -> None:
    for name, data in unquoted_inputs().items():
        assert (DATA / name).read_bytes() == data, name


@pytest.mark.parametrize(("stem", "calculator", "name", "options"), UNQUOTED_CASES)
def test_cli_output_is_byte_identical(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    stem: str,
    calculator: str,
    name: str,
    options: list[str],
) -> None:
    """``envmon calc … -o OUT`` and standard output: the expected bytes and warnings."""
    expected = (DATA / "expected" / f"{stem}.csv").read_bytes()
    argv = [calculator, *options, str(DATA / name)]
    actual, warnings = run_calc(tmp_path, capsys, argv)
    assert_same_bytes(stem, actual, expected)
    assert warnings == (DATA / "expected" / f"{stem}.stderr").read_text("utf-8").splitlines()
    assert run_calc(tmp_path, capsys, argv, to_file=False)[0] == expected


@pytest.mark.parametrize(
    ("name", "unquoted"),
    [
        ("air_utf8.csv", True),
        ("air_bom_crlf.csv", True),
        ("air_gbk_quote_in_problem.csv", False),  # a message quotes "it's"
    ],
)
def test_hour_files_take_the_unquoted_writer_when_nothing_needs_quotes(
    name: str, unquoted: bool
) -> None:
    """The cases above cover both writers: without quotes when no cell needs them."""
    assert read_input_csv(DATA / name, POLLUTANT_COLUMNS, aliases=ALIASES).unquoted
    assert compute_aqi_csv(DATA / name).unquoted is unquoted
    assert compute_aqi_csv(DATA / name, scale="day").unquoted
    # one rule set for all rows: the columns that follow from the level are built joined
    # (only when unquoted), and the frame view splits them again
    fixed = compute_aqi_csv(DATA / name, standard="hj633-2026")
    joined = ["aqi,level,category,primary_pollutants", "complete,standard,category_en,colour"]
    assert all(c in fixed.table.columns for c in joined) is unquoted
    by_column = compute_aqi_csv(DATA / name, standard="hj633-2026", areas={})  # (not joined)
    assert not any(c in by_column.table.columns for c in joined)
    site_rows = by_column.frame.iloc[: len(fixed.frame)]
    assert fixed.frame.equals(site_rows.drop(columns="sites", errors="ignore"))


@pytest.mark.parametrize(
    ("name", "lines"),
    [
        ("water_utf8.csv", True),
        ("water_gbk_no_final_newline.csv", True),
        ("water_bom_crlf.csv", True),
        ("water_comma_problems.csv", False),  # messages with commas: every column written
    ],
)
def test_water_writes_the_input_lines_when_nothing_needs_quotes(name: str, lines: bool) -> None:
    """The input lines, UTF-8 without BOM and line ends, are the input columns of the
    output (one column named by them), and the frame view still has every column."""
    table = read_input_csv(DATA / name, _CODES, allow_below_detection=True, lines=True)
    assert table.lines is not None
    assert table.lines.str.contains("\r", literal=True).sum() == 0
    assert table.lines.to_list() == [
        ",".join(c or "" for c in row) for row in table.text.iter_rows()
    ]
    result = compute_water_class_csv(DATA / name)
    assert result.unquoted is lines
    assert (result.table.columns[0] == ",".join(table.text.columns)) is lines
    frame = result.frame
    assert list(frame.columns[: len(table.text.columns)]) == table.text.columns
    assert frame["site"].tolist() == table.text["site"].to_list()
    assert frame["ph"].tolist() == table.text["ph"].to_list()


def test_lines_are_not_kept_for_a_file_with_quotes(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text('site,time,ph\n"A",2026-03-01T08:00,7\n', encoding="utf-8")
    table = read_input_csv(path, _CODES, allow_below_detection=True, lines=True)
    assert table.lines is None
    assert not table.unquoted
    assert compute_water_class_csv(path).table.columns[0] == "site"


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(st.integers(0, 500).map(float), st.just(float("nan"))),
            st.integers(0, 63),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_joined_aqi_texts_are_those_of_the_columns(rows: list[tuple[float, int]]) -> None:
    """``aqi,level,category,primary_pollutants`` made once per AQI and primary pollutants
    reads as the four columns written one by one."""
    aqi = np.array([a for a, _ in rows])
    assume(not np.isnan(aqi).all())  # (no AQI at all: written column by column)
    mask = np.array([m for _, m in rows], dtype=np.uint8)
    key = _aqi_keys(aqi, mask)
    assert key is not None
    level = aqi_level(aqi)
    columns = [format_numbers(aqi), _level_text(level), _categories(level), _pollutants(mask)]
    expected = [
        ",".join("" if v is None else str(v) for v in cells)
        for cells in zip(*(c.to_list() for c in columns), strict=True)
    ]
    assert _by_aqi(key).to_list() == expected


@pytest.mark.parametrize("aqi", [[0.5], [-0.0], [501.0], [float("inf")], [float("nan")]])
def test_aqi_not_a_whole_number_in_0_500_is_not_joined(aqi: list[float]) -> None:
    assert _aqi_keys(np.array(aqi), np.zeros(len(aqi), dtype=np.uint8)) is None
