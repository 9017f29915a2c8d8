"""``category_texts``: a categorical column's texts by code, as its categories list them
(``Categories.to_series()``), made by polars instead of one text at a time; and the rows
of some of a column's texts (``_Distinct.rows_of``)."""

from __future__ import annotations

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.calculator.table import _Distinct, category_texts


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


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 9), min_size=0, max_size=80),
    st.sets(st.integers(0, 9), max_size=10),
)
def test_rows_of_some_texts(row_codes: list[int], wanted: set[int]) -> None:
    """``_Distinct.rows_of``: the rows whose code is one of those given, ascending (a few
    codes compared one by one, more by a flag per text)."""
    codes = np.array(row_codes, dtype=np.uint32)
    distinct = _Distinct(pl.Series([str(i) for i in range(10)]), codes)
    asked = np.array(sorted(wanted), dtype=np.intp)
    found = distinct.rows_of(asked)
    assert found.dtype == np.intp
    assert found.tolist() == np.flatnonzero(np.isin(codes, asked)).tolist()
