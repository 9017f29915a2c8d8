"""The quote-free identity inputs read with every measurement column as categories (the
path a large export whose texts repeat takes; the small varied inputs would not take it
by themselves): the same bytes and warnings as the expected files of
``test_identity_unquoted.py`` (commit 8671a41)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from monitor.calculator import table as table_module
from tests.calculator.running import assert_same_bytes, run_calc
from tests.calculator.test_identity_unquoted import DATA
from tests.calculator.unquoted_inputs import UNQUOTED_CASES

pytestmark = [
    pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning"),
    pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning"),
]


@pytest.mark.parametrize(
    ("stem", "calculator", "name", "options"),
    [case for case in UNQUOTED_CASES if case[1] == "aqi"],
)
def test_aqi_of_columns_read_as_categories_is_byte_identical(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    stem: str,
    calculator: str,
    name: str,
    options: list[str],
) -> None:
    read = table_module.read_regular_csv
    kinds: list[set[type]] = []

    def reading(data: bytes, coded: object = None) -> object:
        found = read(data, coded)  # type: ignore[arg-type]
        kinds.append(set() if found is None else {type(t) for t in found[1].dtypes})
        return found

    monkeypatch.setattr(table_module, "_REPEATS", 0)  # every column "repeats"
    monkeypatch.setattr(table_module, "read_regular_csv", reading)
    expected = (DATA / "expected" / f"{stem}.csv").read_bytes()
    argv = [calculator, *options, str(DATA / name)]
    actual, warnings = run_calc(tmp_path, capsys, argv)
    assert kinds and all(pl.Categorical in k for k in kinds)  # (the path under test)
    assert_same_bytes(stem, actual, expected)
    assert warnings == (DATA / "expected" / f"{stem}.stderr").read_text("utf-8").splitlines()
