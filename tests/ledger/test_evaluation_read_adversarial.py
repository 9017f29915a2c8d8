"""Review of issue 17's column-wise read: content the ledger can hold that the text path
must give back exactly as the row-wise read (``Ledger.observations``) does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from monitor.ledger import Ledger
from tests.ledger.test_evaluation_read import _hours, _same


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger.open(tmp_path / "ledger.sqlite")


def test_a_code_starting_with_a_byte_order_mark_keeps_it(ledger: Ledger) -> None:
    """U+FEFF at the start of the window's first code: pandas' C reader drops a leading
    byte order mark, so "\\ufeff1001A" came back as site "1001A" (another station)."""
    ledger.write_observations(_hours("\ufeff1001A", "no2", [40.0, 41.0]), "a")
    ledger.write_observations(_hours("1002A", "no2", [42.0, 43.0]), "a")
    _same(ledger, ["\ufeff1001A"])
    _same(ledger, ["\ufeff1001A", "1002A"])


# Doubles whose SQLite quote() text (15 significant digits) SQLite 3.40's own text-to-double
# conversion reads back as the stored double, but a correctly rounded parse (Python's
# float(), numpy, pandas) does not: found by storing random doubles and comparing
# float(quote(v)) with v (e.g. quote(0.5686294233868741) = '0.568629423386874').
NOT_ROUND_TRIPPED = [
    0.5686294233868741,
    8.857877396512709,
    0.008944184057407229,
    8422115.767756261,
    9.918937569062719e-10,
    3.8130217946485498e245,
    1.3320095336617299e-306,
]


def test_values_whose_short_text_does_not_read_back_are_exact(ledger: Ledger) -> None:
    """Full-precision doubles (unit conversions give them) come back bit for bit."""
    ledger.write_observations(_hours("1001A", "co", NOT_ROUND_TRIPPED), "a")
    _same(ledger, ["1001A"])


def test_short_decimals_and_extremes_are_exact(ledger: Ledger) -> None:
    """Published values (few decimals), subnormals, the largest double, huge integers."""
    values = [12.3, 0.1, 1e-5, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308]
    values += [2.0**53 + 2, -(10.0**15), 123456789012345.0, -1e-320, float(np.float32(0.1))]
    ledger.write_observations(_hours("1001A", "co", values), "a")
    _same(ledger, ["1001A"])
