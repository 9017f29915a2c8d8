"""numpy's floating-point error handling (``np.errstate`` / ``np.seterr``) of the caller
reaches the work that :mod:`monitor.domain._threads` runs on its pool threads.

numpy keeps that setting per thread (a context variable): a pool thread starts with the
default ({'divide': 'warn', 'over': 'warn', 'under': 'ignore', 'invalid': 'warn'}), so
before the pool passed it on, a caller that silenced numpy still saw RuntimeWarnings from
the pool, and one that asked for ``'raise'`` got warnings instead of FloatingPointError.
"""

from __future__ import annotations

import threading
import warnings

import numpy as np
import numpy.typing as npt
import pytest

from monitor.domain._threads import in_background, in_threads


def _divide_by_zero(_: object) -> str:
    """1/0 on a numpy array (numpy's 'divide' error); the name of the thread it ran on."""
    ones: npt.NDArray[np.float64] = np.ones(4)
    ones / np.zeros(4)
    return threading.current_thread().name


def test_ignore_reaches_the_pool_threads() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # (every warning recorded, from every thread)
        with np.errstate(all="ignore"):
            names = in_threads(_divide_by_zero, range(4))
            background = in_background(lambda: _divide_by_zero(None)).result()
    assert all(name.startswith("envmon-columns") for name in [*names, background])
    assert [w for w in caught if issubclass(w.category, RuntimeWarning)] == []


def test_raise_reaches_the_pool_threads() -> None:
    with np.errstate(divide="raise"):
        with pytest.raises(FloatingPointError, match="divide by zero"):
            in_threads(_divide_by_zero, range(4))
        with pytest.raises(FloatingPointError, match="divide by zero"):
            in_background(lambda: _divide_by_zero(None)).result()


def test_seterr_reaches_the_pool_threads_and_the_pool_keeps_no_setting() -> None:
    old = np.seterr(divide="raise")
    try:
        with pytest.raises(FloatingPointError):
            in_threads(_divide_by_zero, range(4))
    finally:
        np.seterr(**old)
    # the next caller's setting (numpy's default here: 'warn') is the one the work gets
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        in_threads(_divide_by_zero, range(4))
    assert any(issubclass(w.category, RuntimeWarning) for w in caught)


def test_call_reaches_the_pool_threads() -> None:
    """``'call'``: the caller's handler (``np.seterrcall``) is called for the pool's work."""
    seen: list[str] = []
    with np.errstate(divide="call", call=lambda kind, _flag: seen.append(kind)):
        in_threads(_divide_by_zero, range(3))
        in_background(lambda: _divide_by_zero(None)).result()
    assert seen == ["divide by zero"] * 4
