"""A plain progress bar on stderr for long work (backfill, import, evaluation)."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import TextIO


@dataclass
class Progress:
    """``Progress(total, "import")``; call :meth:`update` with the count done.

    On a terminal the bar redraws in place; otherwise (logs, CI) it prints a line at most
    every 10 % so logs stay short.
    """

    total: int
    label: str
    stream: TextIO = field(default_factory=lambda: sys.stderr)
    width: int = 30
    _last_decile: int = -1
    _started: float = field(default_factory=time.monotonic)

    def update(self, done: int, detail: str = "") -> None:
        """Show that ``done`` of ``total`` are finished."""
        total = max(self.total, 1)
        share = min(done / total, 1.0)
        filled = int(share * self.width)
        elapsed = time.monotonic() - self._started
        text = (
            f"{self.label} [{'#' * filled}{'.' * (self.width - filled)}] "
            f"{done}/{self.total} {share:4.0%} {elapsed:5.1f}s {detail}"
        )
        if self.stream.isatty():
            self.stream.write("\r" + text.ljust(100))
            if done >= self.total:
                self.stream.write("\n")
        else:
            decile = int(share * 10)
            if decile > self._last_decile or done >= self.total:
                self._last_decile = decile
                self.stream.write(text + "\n")
        self.stream.flush()
