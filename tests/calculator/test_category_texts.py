"""``category_texts``: a categorical column's texts by code, as its categories list them
(``Categories.to_series()``), made by polars instead of one text at a time."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.calculator.table import category_texts


@settings(max_examples=50, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=6)), max_size=60))
def test_same_texts_in_the_same_order_as_the_categories(cells: list[str | None]) -> None:
    dtype = pl.Categorical(pl.Categories.random())
    column = pl.Series("c", cells, dtype=pl.String).cast(dtype)
    found = category_texts(column)
    assert found.dtype == pl.String
    assert found.to_list() == dtype.categories.to_series().to_list()
    # each row's code is the place of its text
    codes = column.to_physical().to_list()
    assert [None if k is None else found[k] for k in codes] == cells


def test_a_column_the_reader_made_categorical() -> None:
    dtype = pl.Categorical(pl.Categories.random())
    frame = pl.read_csv(b"a,b\n35,x\n,y\n0.8,z\n35,w\n", schema_overrides={"a": dtype})
    found = category_texts(frame["a"])
    assert found.to_list() == ["35", "0.8"] == dtype.categories.to_series().to_list()
