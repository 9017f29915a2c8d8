"""The column work spread over the cores (monitor.domain._threads)."""

from __future__ import annotations

import os
import signal
import threading

import numpy as np
import pytest

from monitor.domain._threads import in_background, in_threads


def test_results_come_in_the_items_order() -> None:
    columns = [np.arange(200_000, dtype=np.float64) * k for k in range(6)]
    sums = in_threads(lambda c: float(c.sum()), columns)
    assert sums == [float(c.sum()) for c in columns]


def test_work_runs_on_other_threads_and_an_exception_is_raised_again() -> None:
    names = in_threads(lambda _: threading.current_thread().name, range(4))
    assert all(name.startswith("envmon-columns") for name in names)

    def fail(item: int) -> int:
        if item == 2:
            raise ValueError("item 2")
        return item

    with pytest.raises(ValueError, match="item 2"):
        in_threads(fail, range(4))


def test_work_on_a_pool_thread_runs_its_parts_itself() -> None:
    """Nested calls finish (waiting for the pool from all of its threads would not)."""
    nested = in_threads(lambda k: sum(in_threads(lambda j: j * k, range(3))), range(4))
    assert nested == [0, 3, 6, 9]
    assert in_background(lambda: in_threads(lambda j: j + 1, range(3))).result() == [1, 2, 3]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
def test_a_forked_child_makes_a_pool_of_its_own() -> None:
    assert in_threads(lambda j: j, range(3)) == [0, 1, 2]  # the parent's pool exists
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its pool must run work (the parent's threads are not there)
        signal.alarm(20)  # a child that waits for ever ends, and the answer is missing
        os.close(read)
        os.write(write, repr(in_threads(lambda j: j * 3, range(3))).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        answer = pipe.read()
    os.waitpid(pid, 0)
    assert answer == "[0, 3, 6]"
