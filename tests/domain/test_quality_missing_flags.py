"""Review of issue 17's flag factorisation: missing flags in an object column (None, NaN,
pandas' NA) read as no flags, as before (``excluded``: "empty or NaN = no flags")."""

from __future__ import annotations

import numpy as np
import pandas as pd

from monitor.domain.quality import excluded


def test_missing_flags_of_any_kind_are_no_flags() -> None:
    # An object column as pandas gives it from a nullable string column (.astype(object)).
    flags = pd.Series(["", None, np.nan, "maintenance"], dtype="string").astype(object)
    assert flags.iloc[1] is pd.NA
    assert excluded(flags).tolist() == [False, False, False, True]
    mixed = pd.Series(["", pd.NA, None, np.nan, "calibration"], dtype=object)
    assert excluded(mixed).tolist() == [False, False, False, False, True]
