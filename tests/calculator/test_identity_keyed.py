"""``calc water-class`` of files whose measurement columns repeat few texts (each distinct
text rated once) writes the same bytes and warnings as before it did so; the expected files
are from commit 650dc5e (see ``data/identity_keyed/README.md``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.calculator.table import read_input_csv
from monitor.calculator.water import _CODES
from tests.calculator.keyed_inputs import KEYED_CASES, keyed_inputs
from tests.calculator.running import assert_same_bytes, run_calc

DATA = Path(__file__).parent / "data" / "identity_keyed"

# 1e308 mg/L is finite, so it is rated (numpy warns on the way). Not this test's subject.
pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")


def test_the_inputs_are_those_the_generator_writes() -> None:
    for name, data in keyed_inputs().items():
        assert (DATA / name).read_bytes() == data, name


@pytest.mark.parametrize("name", sorted(keyed_inputs()))
def test_every_measurement_column_is_read_with_codes(name: str) -> None:
    """(The subject of these files: each measurement column with few distinct texts.)"""
    table = read_input_csv(DATA / name, _CODES, allow_below_detection=True, lines=True)
    assert table.value_codes is not None
    assert sorted(table.value_codes) == sorted(table.columns)
    assert len(table.columns) == 11
    # the GBK file has quoted cells (its cells are written one by one), the others not
    assert (table.lines is not None) == (name != "water_gbk.csv")


@pytest.mark.parametrize(("stem", "name", "options"), KEYED_CASES)
def test_cli_output_is_byte_identical(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    stem: str,
    name: str,
    options: list[str],
) -> None:
    """``envmon calc water-class … -o OUT`` and standard output: the expected bytes and
    warnings (exit code 0)."""
    expected = (DATA / "expected" / f"{stem}.csv").read_bytes()
    argv = ["water-class", *options, str(DATA / name)]
    actual, warnings = run_calc(tmp_path, capsys, argv)
    assert_same_bytes(stem, actual, expected)
    assert warnings == (DATA / "expected" / f"{stem}.stderr").read_text("utf-8").splitlines()
    printed, _ = run_calc(tmp_path, capsys, argv, to_file=False)
    assert_same_bytes(stem, printed, expected)
