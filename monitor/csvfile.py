"""Reading CSV text with Python's :mod:`csv` module: what the imports and the calculators share.

Neutral ground: ``monitor.collectors`` (the ``envmon import`` adapters) and
``monitor.calculator`` (``envmon calc``) both read CSV text record by record, and neither
imports the other (an adapter reaching into the CLI's calculator package, or the reverse,
would tie two boundaries together).

* :func:`csv_lines` — the lines of a text as an editor numbers them (ended by ``\\n``,
  ``\\r\\n`` or a lone ``\\r``), one at a time, for :func:`csv.reader`: its ``line_num`` is
  then the file's line, and the text is not copied (``io.StringIO`` holds a copy of four
  bytes a character).
* :func:`csv_cells_up_to` — the :mod:`csv` module's cell limit raised for a while.
"""

from __future__ import annotations

import contextlib
import csv
import re
from collections.abc import Iterator
from typing import Final

__all__ = ["csv_cells_up_to", "csv_lines"]

#: A line with its end (``\r\n``, a lone ``\r`` or ``\n``), or the last line without one.
_LINE: Final = re.compile(r"[^\r\n]*(?:\r\n?|\n)|[^\r\n]+")


def csv_lines(text: str) -> Iterator[str]:
    """The lines of ``text`` with their line ends, as ``io.StringIO(text, newline="")``
    gives them (a line ends with ``\\n``, ``\\r\\n`` or a lone ``\\r``), one at a time.

    For :func:`csv.reader`: a line end inside a quoted cell stays in the cell, and the
    reader's ``line_num`` counts the lines as an editor does. Only the current line is
    copied out of ``text``.

    >>> list(csv_lines("a,b\\r1,2\\r\\n\\n3"))
    ['a,b\\r', '1,2\\r\\n', '\\n', '3']
    """
    for match in _LINE.finditer(text):
        yield match.group()


@contextlib.contextmanager
def csv_cells_up_to(size: int) -> Iterator[None]:
    """The ``csv`` module's cell limit (131,072 characters unless set otherwise) raised to
    ``size`` meanwhile: a longer cell is an error to it, and pandas' Python reader skips
    the row of such a cell without a word."""
    before = csv.field_size_limit()
    csv.field_size_limit(max(before, size))
    try:
        yield
    finally:
        csv.field_size_limit(before)
