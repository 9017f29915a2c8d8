"""``calc water-class`` keys an item's values by the texts the reader coded, taking each
text's value as the reader found it (:attr:`InputTable.text_values`) unless the item's
values were changed after reading (below-detection results halved, a pH above 14 of a
flagged row): the same keyed values as a row of each text gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from monitor.calculator import water
from monitor.calculator.table import read_input_csv
from monitor.calculator.water import _CODES, compute_water_class_csv
from tests.calculator.keyed_inputs import keyed_inputs

DATA = Path(__file__).parent / "data" / "identity_keyed"

pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")


@pytest.mark.parametrize("name", sorted(keyed_inputs()))
def test_text_values_are_the_values_of_their_rows(name: str) -> None:
    table = read_input_csv(DATA / name, _CODES, allow_below_detection=True, lines=True)
    assert table.value_codes is not None and table.text_values is not None
    assert set(table.text_values) == set(table.value_codes)
    for code, per_text in table.text_values.items():
        rows = table.value_codes[code].row_codes
        # (NaN too: compared as bits)
        assert per_text[rows].tobytes() == table.value(code).tobytes(), code


@pytest.mark.parametrize("name", sorted(keyed_inputs()))
def test_items_keyed_by_text_values_as_by_a_row_of_each_text(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bool] = []
    keyed_items = water._keyed_items

    def recording(c, codes, body_index, text_values=None):
        with_values = keyed_items(c, codes, body_index, text_values)
        without = keyed_items(c, codes, body_index, None)
        for p in with_values:
            a, b = with_values[p], without[p]
            # the keys of some row (a text of no row is never gathered)
            used = np.unique(a.keys) if a.keys is not None else slice(None)
            assert np.array_equal(a.values[used], b.values[used], equal_nan=True), p
            assert np.array_equal(a.bodies, b.bodies)
            assert (a.keys is None) == (b.keys is None)
            if a.keys is not None and b.keys is not None:
                assert np.array_equal(a.keys, b.keys)
        seen.append(bool(text_values))
        return with_values

    monkeypatch.setattr(water, "_keyed_items", recording)
    compute_water_class_csv(DATA / name)
    assert seen == [True]  # (the text values were used)
