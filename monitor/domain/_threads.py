"""Independent work on whole columns, run on the machine's cores.

numpy's ufuncs and polars' engine release the GIL while they work on large arrays, so a
few threads over independent columns (or blocks of rows) use both cores of a small
machine instead of one.

numpy keeps its floating-point error handling (:func:`numpy.errstate`,
:func:`numpy.seterr`) per thread: each piece of work runs under the setting of the thread
that handed it over (``np.geterr()`` when it was submitted), as it would without the pool.
"""

from __future__ import annotations

import concurrent.futures
import functools
import os
import threading
from collections.abc import Callable, Iterable
from typing import TypeVar

import numpy as np

_In = TypeVar("_In")
_Out = TypeVar("_Out")


@functools.cache
def _pool() -> concurrent.futures.ThreadPoolExecutor:
    return concurrent.futures.ThreadPoolExecutor(
        max_workers=max(2, os.cpu_count() or 1), thread_name_prefix=_PREFIX
    )


_PREFIX = "envmon-columns"

# a forked child has none of the pool's threads: it makes a pool of its own
os.register_at_fork(after_in_child=_pool.cache_clear)


def in_threads(work: Callable[[_In], _Out], items: Iterable[_In]) -> list[_Out]:
    """``[work(item) for item in items]``, the items spread over the machine's cores.

    For work on whole columns or large blocks of rows, which numpy and polars do without
    the GIL; ``work`` must not depend on the order of the items. The first exception a
    call raised is raised again.
    """
    tasks = list(items)
    if len(tasks) < 2 or _on_pool_thread():
        # (work already on a pool thread runs its parts itself: waiting for the pool's
        # other threads from one of them could wait for ever)
        return [work(item) for item in tasks]
    return list(_pool().map(_under_callers_errstate(work), tasks))


def in_background(work: Callable[[], _Out]) -> concurrent.futures.Future[_Out]:
    """Start ``work`` on another core (for work done without the GIL); its result, or the
    exception it raised, comes from the future's ``result()``. ``work`` must not wait for
    other work of the pool.

    Called on a pool thread, ``work`` runs there and then (as :func:`in_threads` does):
    a pool thread that waited for it could wait for ever, every worker waiting for work
    queued behind itself."""
    if not _on_pool_thread():
        return _pool().submit(_under_callers_errstate(lambda _: work()), None)
    done: concurrent.futures.Future[_Out] = concurrent.futures.Future()
    try:
        done.set_result(work())
    except BaseException as err:  # (given to result(), as the pool's futures do)
        done.set_exception(err)
    return done


def _under_callers_errstate(work: Callable[[_In], _Out]) -> Callable[[_In], _Out]:
    """``work`` to run on another thread under numpy's error handling (``np.geterr()``
    and ``np.geterrcall()``) of the calling thread, as it is now."""
    errors, call = np.geterr(), np.geterrcall()

    def run(item: _In) -> _Out:
        state = np.errstate(**errors) if call is None else np.errstate(call=call, **errors)
        with state:
            return work(item)

    return run


def _on_pool_thread() -> bool:
    return threading.current_thread().name.startswith(_PREFIX)
