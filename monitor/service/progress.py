"""Progress of long work (backfill, import, evaluation, publish) on stderr, through tqdm.

On a terminal, tqdm's bar redraws in place (share done, count, elapsed time, rate and the
time left). Anywhere else — a pipe, a log file, cron, CI, ``docker logs`` — there is no bar
(tqdm's ``disable=None``: off when the stream is not a TTY) and no carriage return; one
line says what was done when the work ends (``import long-csv: 12/12 done in 3.4 s``), so
a log still shows how long each step took. Work that stops early (an error) leaves no
line: the error says what happened.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, NoReturn, TextIO

if TYPE_CHECKING:
    from tqdm import tqdm

__all__ = ["Progress"]


class Progress:
    """``Progress(total, "import")``; call :meth:`update` with the count done.

    The bar ends by itself when ``done`` reaches ``total`` (or with :meth:`close`). A total
    of 0 shows nothing: there is nothing to wait for.
    """

    def __init__(
        self, total: int, label: str, stream: TextIO | None = None, unit: str = "it"
    ) -> None:
        self.total = total
        self.label = label
        # sys.stderr at the time of the call: the CLI swaps in its masking stream first
        self.stream: TextIO = sys.stderr if stream is None else stream
        self.done = 0
        self._started = time.monotonic()
        self._closed = total <= 0
        self._bar: tqdm[NoReturn] | None = None
        self._drawn = False  # whether tqdm draws (a terminal); tqdm.close() disables it
        if not self._closed:
            from tqdm import tqdm  # here: `envmon calc` and other quick commands never pay for it

            self._bar = tqdm(
                total=total,
                desc=label,
                unit=unit,
                file=self.stream,
                disable=None,  # no bar when the stream is not a terminal
                dynamic_ncols=True,
                leave=True,
            )
            self._drawn = not self._bar.disable

    def update(self, done: int, detail: str = "") -> None:
        """Show that ``done`` of ``total`` are finished (``detail``: a note after the bar)."""
        if self._closed:
            return
        self.done = done
        bar = self._bar
        if bar is not None:
            if detail:
                bar.set_postfix_str(detail, refresh=False)
            bar.update(done - bar.n)
        if done >= self.total:
            self.close()

    def close(self) -> None:
        """End the bar; without a terminal, write the one-line summary."""
        if self._closed:
            return
        self._closed = True
        bar = self._bar
        if bar is None:
            return
        bar.close()
        if not self._drawn:
            elapsed = time.monotonic() - self._started
            self.stream.write(f"{self.label}: {self.done}/{self.total} done in {elapsed:.1f} s\n")
            self.stream.flush()
