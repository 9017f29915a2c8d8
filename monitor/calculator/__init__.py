"""The CSV calculators behind ``envmon calc``: files in, official figures out.

This is a boundary: it reads what officers export (headers in any case, UTF-8 or GBK,
empty cells, ``NA`` and ``/`` for missing values) into typed frames, calls the pure
functions of :mod:`monitor.domain`, and writes the results. Rows it cannot use are kept
and flagged in an ``input_problems`` column, never dropped silently.
"""

from __future__ import annotations

import threading
from pathlib import Path


class _ReadAhead:
    """A file's bytes, read on a thread of their own (or the error reading it)."""

    def __init__(self, path: Path) -> None:
        self._data = b""
        self._error: OSError | None = None
        self._thread = threading.Thread(target=self._read, args=(path,), daemon=True)
        self._thread.start()

    def _read(self, path: Path) -> None:
        try:
            self._data = path.read_bytes()
        except OSError as err:
            self._error = err

    def result(self) -> bytes:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._data


_AHEAD: dict[Path, _ReadAhead] = {}


def read_ahead(path: Path) -> None:
    """Start reading the input file ``path`` on another thread, for a process that runs
    one calculation and ends: its bytes arrive while numpy's and polars' modules are
    imported (which the reading then does not wait for). The calculation that reads
    ``path`` takes them (:func:`read_bytes`)."""
    _AHEAD[path] = _ReadAhead(path)


def read_bytes(path: Path) -> bytes:
    """The bytes of the file ``path``: those :func:`read_ahead` read, if it was asked to
    (once), else read now. Raises :class:`OSError` as :meth:`Path.read_bytes`."""
    ahead = _AHEAD.pop(path, None)
    return path.read_bytes() if ahead is None else ahead.result()
