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
* :func:`csv_records` — the records of a file's lines with the line each starts on, a file
  whose quote is never closed refused instead of read as one last cell.
"""

from __future__ import annotations

import contextlib
import csv
import re
from collections.abc import Iterable, Iterator
from typing import Final

from monitor.errors import InputError

__all__ = ["csv_cells_up_to", "csv_lines", "csv_records"]

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


#: A line after a file's last one (then a closing quote) that ends up in a cell only when a
#: quote is still open there (:func:`csv_records`).
_FILE_END: Final = "\x00end of the file\x00"


def csv_records(
    lines: Iterable[str], longest: int, name: str, then: str
) -> Iterator[tuple[int, list[str]]]:
    """Each record of a file's ``lines`` (as :func:`csv_lines` ends them) as Python's
    lenient :mod:`csv` reader reads it (``"q"tail`` is ``qtail``), with the line it starts
    on; blank lines are records without cells.

    A quote opened and never closed would make the rest of the file one cell, its rows lost
    in it: :class:`InputError` naming the line of the quote (``then``: what to do once it is
    closed, e.g. "import the file again"), raised while the records are read. A sentinel line
    after the last one (then a closing quote) ends up in a cell only when a quote is still
    open there. ``longest``: the most characters a cell can hold (the file's length).

    >>> list(csv_records(["a,b\\n", '"1",2\\n'], 10, "f.csv", "try again"))
    [(1, ['a', 'b']), (2, ['1', '2'])]
    """
    reader = csv.reader(_ended(lines), strict=False)
    previous = 0
    with csv_cells_up_to(longest + len(_FILE_END) + 3):
        for cells in reader:
            line, previous = previous + 1, reader.line_num
            if cells == [_FILE_END + '"']:
                return
            if cells and cells[-1].endswith(_FILE_END):
                raise InputError(
                    f'{name}: a quote (") opened on line {line} is never closed, so the rest '
                    f"of the file would be one cell; close the quote and {then}"
                )
            yield line, cells


def _ended(lines: Iterable[str]) -> Iterator[str]:
    """``lines``, the last one ended, then the sentinel line :func:`csv_records` looks for."""
    last = ""
    for last in lines:
        yield last
    if not last.endswith(("\n", "\r")):
        yield "\n"  # (the last line's end: the sentinel is a line of its own)
    yield _FILE_END + '"\n'
