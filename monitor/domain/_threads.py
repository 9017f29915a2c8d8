"""Independent work on whole columns, run on the machine's cores.

numpy's ufuncs and polars' engine release the GIL while they work on large arrays, so a
few threads over independent columns (or blocks of rows) use both cores of a small
machine instead of one.
"""

from __future__ import annotations

import concurrent.futures
import functools
import os
from collections.abc import Callable, Iterable
from typing import TypeVar

_In = TypeVar("_In")
_Out = TypeVar("_Out")


@functools.cache
def _pool() -> concurrent.futures.ThreadPoolExecutor:
    return concurrent.futures.ThreadPoolExecutor(
        max_workers=max(2, os.cpu_count() or 1), thread_name_prefix="envmon-columns"
    )


def in_threads(work: Callable[[_In], _Out], items: Iterable[_In]) -> list[_Out]:
    """``[work(item) for item in items]``, the items spread over the machine's cores.

    For work on whole columns or large blocks of rows, which numpy and polars do without
    the GIL; ``work`` must not depend on the order of the items. The first exception a
    call raised is raised again.
    """
    tasks = list(items)
    if len(tasks) < 2:
        return [work(item) for item in tasks]
    return list(_pool().map(work, tasks))


def in_background(work: Callable[[], _Out]) -> concurrent.futures.Future[_Out]:
    """Start ``work`` on another core (for work done without the GIL); its result, or the
    exception it raised, comes from the future's ``result()``."""
    return _pool().submit(work)
