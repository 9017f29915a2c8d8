"""``hourly_aqi_of_keys``: rating each distinct concentration once gives the same numbers as
rating every row (``hourly_aqi_arrays``, ``HourlyMethod.PLATFORM``).

Reference values: ``shared/reference/standards.md`` §1.7 (PM2.5 24-hour 80 µg/m³ → IAQI 119
under HJ 633-2026; 35 → 50 under both), §1.4 (primary pollutants only when AQI > 50).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.domain.aqi import (
    BLOCK_ROWS,
    AqiStandard,
    HourlyMethod,
    MissingPolicy,
    hourly_aqi_arrays,
    hourly_aqi_of_keys,
)
from monitor.domain.pollutants import POLLUTANTS

COLUMNS = [p.value for p in POLLUTANTS]


def test_reference_values_by_key() -> None:
    # standards.md §1.7: PM2.5 80 µg/m³ → IAQI 119 (HJ 633-2026); 35 → 50, not primary
    per_key, rows = hourly_aqi_of_keys(
        {"pm2_5": np.array([80.0, 35.0])},
        {"pm2_5": np.array([1, 0, 1], dtype=np.uint32)},
        3,
        AqiStandard.HJ633_2026,
    )
    assert per_key["iaqi_pm2_5"].tolist() == [119.0, 50.0]
    assert rows["aqi"].tolist() == [50.0, 119.0, 50.0]
    assert rows["level"].tolist() == [1, 3, 1]
    pm2_5_bit = 1 << COLUMNS.index("pm2_5")
    assert rows["primary_mask"].tolist() == [0, pm2_5_bit, 0]
    assert not rows["complete"].any()  # five pollutants missing


def _rowwise(
    values: dict[str, np.ndarray],
    keys: dict[str, np.ndarray],
    n: int,
    std: AqiStandard,
    missing: MissingPolicy,
) -> dict[str, np.ndarray]:
    rows = {c: values[c][keys[c]] for c in values}
    out, codes = hourly_aqi_arrays(rows, n, std, method=HourlyMethod.PLATFORM, missing=missing)
    assert (codes == list(AqiStandard).index(std)).all()
    return out


concentration = st.one_of(
    st.just(float("nan")),
    st.integers(0, 1200).map(float),
    st.floats(0, 1200, allow_nan=False),
)


@settings(max_examples=60, deadline=None)
@given(
    data=st.data(),
    columns=st.sets(st.sampled_from(COLUMNS), min_size=1),
    std=st.sampled_from(list(AqiStandard)),
    missing=st.sampled_from(list(MissingPolicy)),
)
def test_same_as_rating_every_row(
    data: st.DataObject, columns: set[str], std: AqiStandard, missing: MissingPolicy
) -> None:
    n = data.draw(st.integers(1, 40))
    values, keys = {}, {}
    for c in sorted(columns):
        distinct = data.draw(st.lists(concentration, min_size=1, max_size=8))
        values[c] = np.array(distinct, dtype=float)
        keys[c] = np.array(
            data.draw(st.lists(st.integers(0, len(distinct) - 1), min_size=n, max_size=n)),
            dtype=np.uint32,
        )
    if "so2" in values and std is AqiStandard.HJ633_2012:
        values["so2"] = np.minimum(values["so2"], 800.0)  # (above: the 24-hour fallback)
    per_key, rows = hourly_aqi_of_keys(values, keys, n, std, missing=missing)
    expected = _rowwise(values, keys, n, std, missing)
    for c in values:
        np.testing.assert_array_equal(per_key[f"iaqi_{c}"][keys[c]], expected[f"iaqi_{c}"])
    for name in ("aqi", "level", "primary_mask", "exceedance_mask", "complete"):
        np.testing.assert_array_equal(rows[name], expected[name])
        assert rows[name].dtype == expected[name].dtype


@pytest.mark.parametrize("n", [BLOCK_ROWS - 1, BLOCK_ROWS, 2 * BLOCK_ROWS + 3])
def test_blocks_of_rows(n: int) -> None:
    # several blocks (rated on the pool's threads) give the rows in their places
    rng = np.random.default_rng(n)
    values = {c: rng.uniform(0, 600, 50).round(0) for c in COLUMNS}
    values["so2"] = np.minimum(values["so2"], 800.0)
    keys = {c: rng.integers(0, 50, n).astype(np.uint32) for c in COLUMNS}
    _, rows = hourly_aqi_of_keys(values, keys, n, AqiStandard.HJ633_2012)
    expected = _rowwise(values, keys, n, AqiStandard.HJ633_2012, MissingPolicy.PRESENT)
    for name in ("aqi", "level", "primary_mask", "exceedance_mask", "complete"):
        np.testing.assert_array_equal(rows[name], expected[name])
