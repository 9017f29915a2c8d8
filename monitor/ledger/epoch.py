"""How the ledger keeps time: integer seconds UTC (epoch seconds), and the local date
(Asia/Shanghai) a label belongs to (see DESIGN.md, Time)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any, Final

import numpy as np
import pandas as pd

#: Offset of Asia/Shanghai from UTC [s]; fixed (no daylight saving since 1991).
LOCAL_OFFSET_S: Final = 8 * 3600


def to_epoch(times: pd.Series) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Tz-aware times → integer seconds UTC."""
    utc = pd.to_datetime(times, utc=True)
    nanoseconds = utc.astype("datetime64[ns, UTC]").astype("int64").to_numpy(dtype=np.int64)
    return np.floor_divide(nanoseconds, 1_000_000_000, dtype=np.int64)


def from_epoch(seconds: pd.Series | np.ndarray[Any, Any]) -> pd.Series:
    """Integer seconds UTC → tz-aware UTC times."""
    return pd.Series(pd.to_datetime(np.asarray(seconds, dtype=np.int64), unit="s", utc=True))


def local_dates(seconds: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """``YYYY-MM-DD`` (Asia/Shanghai) of epoch-second labels: the day a label belongs to.

    >>> local_dates(np.array([1767196800 - 1, 1767196800])).tolist()
    ['2025-12-31', '2026-01-01']
    """
    local = np.asarray(seconds, dtype=np.int64) + LOCAL_OFFSET_S
    return local.astype("datetime64[s]").astype("datetime64[D]").astype(str)


def epoch_now() -> int:
    """The current time in integer seconds UTC."""
    return int(datetime.now(UTC).timestamp())


def wait_past_second(second: int) -> None:
    """Return once :func:`epoch_now` is past ``second`` (at once if it already is; at most
    a second's wait for the current one): the writes that follow get a second of their own.
    """
    while epoch_now() <= second:
        time.sleep(max(0.01, second + 1 - time.time()))
