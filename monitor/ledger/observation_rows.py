"""Observations read row by row as the evaluation reads them, and the refusal of a stored
value that is not a number (:class:`StoredValueError`): the general read and the fallback
of the column-wise one (:mod:`monitor.ledger.evaluation_hours`)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import pandas as pd

__all__ = ["StoredValueError", "read_observation_rows"]


#: What ``sqlite3`` gives for a number or NULL in ``observations.value`` (REAL affinity: a
#: number is a float; an integer only from a ledger whose column had another type).
_NUMBER_TYPES: Final = frozenset({float, int, type(None)})


class StoredValueError(ValueError):
    """An observation whose stored ``value`` is not a number or NULL (a text or a blob that
    another tool wrote into the ledger): it cannot be read as a concentration.

    Parameters
    ----------
    row : tuple
        The row as :func:`read_observation_rows` selects it (site, parameter, period start,
        period end, value, flags, source, ingested at).
    """

    def __init__(self, row: Sequence[Any]) -> None:
        site, parameter, _, period_end, value, _, source, _ = row
        kind = "blob" if isinstance(value, bytes | bytearray | memoryview) else "text"
        try:
            at = pd.Timestamp(int(period_end), unit="s", tz="UTC").isoformat()
        except (TypeError, ValueError, OverflowError):
            at = repr(period_end)
        shown = repr(value)
        if len(shown) > _SHOWN:  # (kept and logged for each day it fails, on every run)
            unit = "bytes" if kind == "blob" else "characters"
            shown = f"{shown[:_SHOWN]}… ({len(value)} {unit})"
        super().__init__(
            f"observation {site} {parameter} ending {at} from source {source!r}: stored "
            f"value {shown} is a {kind}; expected a number or NULL (set it right in "
            "the ledger's observations table, or delete the row and import it again)"
        )


#: Characters of a stored value's ``repr`` a :class:`StoredValueError` shows at most.
_SHOWN: Final = 80


def read_observation_rows(
    connection: sqlite3.Connection, where: str, params: Sequence[Any], order_by: str = ""
) -> pd.DataFrame:
    """Observations ``WHERE where`` as the evaluation reads them (site, parameter, period
    start and end as epoch seconds, value, flags, source, ingestion time), row by row: the
    general read, and the fallback of the column-wise one."""
    order = f" ORDER BY {order_by}" if order_by else ""
    rows = connection.execute(
        "SELECT site, parameter, period_start, period_end, value, flags, source, "
        f"ingested_at FROM observations WHERE {where}{order}",
        params,
    ).fetchall()
    n = len(rows)
    columns: list[Sequence[Any]] = list(zip(*rows, strict=True)) if n else [()] * 8
    if n and not set(map(type, columns[4])) <= _NUMBER_TYPES:
        raise StoredValueError(next(r for r in rows if type(r[4]) not in _NUMBER_TYPES))
    return pd.DataFrame(
        {
            "site": pd.Categorical(columns[0]),
            "parameter": pd.Categorical(columns[1]),
            "period_start": np.fromiter(columns[2], np.int64, n),
            "period_end": np.fromiter(columns[3], np.int64, n),
            "value": np.array(columns[4], dtype=float) if n else np.zeros(0),
            "flags": np.array(columns[5], dtype=object),
            "source": pd.Categorical(columns[6]),
            "ingested_at": np.fromiter(columns[7], np.int64, n),
        }
    )
