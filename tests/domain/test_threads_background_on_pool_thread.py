"""in_background called from one of the pool's own threads (monitor.domain._threads).

``read_input_csv(..., lines=True)`` (calc water-class) starts the line reading with
``in_background`` and waits for it. Run on pool threads (``in_threads`` over files, say)
with every worker doing so, each worker waits for work queued behind itself: the calls
never return (2 files on the 2-worker pool of a 2-core machine hang for ever). Work
started from a pool thread must run on that thread, as ``in_threads`` does.
"""

from __future__ import annotations

import threading

import pytest

from monitor.domain._threads import in_background, in_threads


def _name() -> str:
    return threading.current_thread().name


def test_background_work_started_on_a_pool_thread_runs_on_that_thread() -> None:
    # (one pool thread busy, the others free: the call returns either way, and says where
    # the inner work ran; on the same thread it cannot wait for a busy pool)
    outer, inner = in_background(lambda: (_name(), in_background(_name).result())).result()
    assert outer.startswith("envmon-columns")
    assert inner == outer


def test_background_exception_on_a_pool_thread_comes_from_result() -> None:
    def fail() -> int:
        raise ValueError("inner")

    def start() -> int:
        return in_background(fail).result()

    # (one outer call: the test cannot hang on a pool without the fix)
    with pytest.raises(ValueError, match="inner"):
        in_background(start).result()
    assert in_threads(lambda j: j + 1, range(3)) == [1, 2, 3]  # the pool still works
