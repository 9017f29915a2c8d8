"""``calc water-class``'s main pollution indicators (环办〔2011〕22号: the up to three
items with the largest exceedance multiples vs class III, largest first, ties in
canonical order, only for rows worse than class III) equal the domain's rule — a stable
sort of the multiples, as :func:`monitor.domain.water_quality.main_pollution_indicators`
ranks them — on multiples with many ties, missing ones, keyed and per-row items, and few
or many rows worse than III."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.calculator.water import _Keyed, _main_indicators
from monitor.domain.water_quality import Parameter

ITEMS = [Parameter.CODMN, Parameter.COD, Parameter.BOD5, Parameter.NH3N, Parameter.TP]
MULTIPLE = st.one_of(st.just(float("nan")), st.sampled_from([0.05, 0.1, 0.5, 1.0, 2.5]))


def _expected(rows: np.ndarray, worse: np.ndarray, codes: list[str]) -> list[str | None]:
    """The domain's ranking (``main_pollution_indicators``): a stable sort of −multiple."""
    order = np.argsort(np.where(np.isnan(rows), np.inf, -rows), axis=1, kind="stable")[:, :3]
    out: list[str | None] = []
    for i, row in enumerate(order):
        names = [codes[j] for j in row if not np.isnan(rows[i, j])] if worse[i] else []
        out.append(";".join(names) or None)
    return out


@settings(max_examples=80, deadline=None)
@given(data=st.data(), count=st.integers(1, len(ITEMS)), n=st.integers(1, 60))
def test_same_ranking_as_the_domain(data: st.DataObject, count: int, n: int) -> None:
    items = ITEMS[:count]
    multiples, keyed, rows = [], [], np.empty((n, count))
    for j in range(count):
        if data.draw(st.booleans()):  # keyed: a few multiples, each row's key
            per_key = np.array(data.draw(st.lists(MULTIPLE, min_size=1, max_size=5)))
            keys = np.array(
                data.draw(st.lists(st.integers(0, len(per_key) - 1), min_size=n, max_size=n)),
                dtype=np.uint32,
            )
            multiples.append(per_key)
            keyed.append(_Keyed(np.empty(len(per_key)), np.zeros(len(per_key), np.int8), keys))
            rows[:, j] = per_key[keys]
        else:  # one key per row
            per_row = np.array(data.draw(st.lists(MULTIPLE, min_size=n, max_size=n)))
            multiples.append(per_row)
            keyed.append(_Keyed(np.empty(n), np.zeros(n, np.int8), None))
            rows[:, j] = per_row
    classes = np.array(data.draw(st.lists(st.integers(0, 6), min_size=n, max_size=n)), np.int8)
    got = _main_indicators(multiples, keyed, items, classes).to_list()
    assert got == _expected(rows, classes > 3, [p.value for p in items])


def test_reference_example() -> None:
    # the domain's docstring example: codmn 12 (×1.0 of III's 6), nh3n 3 (×2.0 of 1.0),
    # tp 0.25 (×0.25 of 0.2), f 1.1 (×0.1 of 1.0) → nh3n, codmn, tp (GB 3838-2002 Table 1)
    items = [Parameter.CODMN, Parameter.NH3N, Parameter.TP, Parameter.F]
    multiples = [np.array([v]) for v in (1.0, 2.0, 0.25, 0.1)]
    keyed = [_Keyed(np.empty(1), np.zeros(1, np.int8), None)] * 4
    got = _main_indicators(multiples, keyed, items, np.array([5], np.int8)).to_list()
    assert got == ["nh3n;codmn;tp"]
