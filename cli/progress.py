"""A one-line progress display on stderr, shown only on a terminal."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

BAR_WIDTH = 30
REDRAW_SECONDS = 0.1


class Progress:
    """Counts work done and redraws `label [####....] done/total  rate/s` at most 10 times a second.

    With an unknown total it shows the count and rate only. On a non-terminal
    stream it draws nothing: the command's final summary is the only output.
    """

    def __init__(
        self,
        label: str,
        *,
        total: int | None = None,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._label = label
        self._total = total
        self._stream = stream or sys.stderr
        self._enabled = self._stream.isatty()
        self._clock = clock
        self._started = clock()
        self._drawn_at = -REDRAW_SECONDS
        self._width = 0
        self.done = 0
        self.note = ""

    def advance(self, count: int = 1, *, note: str | None = None) -> None:
        """Add `count` to the work done; `note` replaces the text after the counter."""
        self.done += count
        if note is not None:
            self.note = note
        now = self._clock()
        if self._enabled and now - self._drawn_at >= REDRAW_SECONDS:
            self._draw(now)

    @property
    def rate(self) -> float:
        """Units per second since the start."""
        elapsed = self._clock() - self._started
        return self.done / elapsed if elapsed > 0 else 0.0

    def line(self) -> str:
        """The text of the progress line as it would be drawn now."""
        if self._total:
            filled = min(BAR_WIDTH, BAR_WIDTH * self.done // self._total)
            bar = f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {self.done}/{self._total}"
        else:
            bar = str(self.done)
        note = f"  {self.note}" if self.note else ""
        return f"{self._label} {bar}  {self.rate:,.0f}/s{note}"

    def close(self) -> None:
        """Erase the line, so the summary that follows starts on a clean line."""
        if self._enabled and self._width:
            self._stream.write("\r" + " " * self._width + "\r")
            self._stream.flush()
            self._width = 0

    def _draw(self, now: float) -> None:
        text = self.line()
        self._stream.write("\r" + text.ljust(self._width))
        self._stream.flush()
        self._width = max(self._width, len(text))
        self._drawn_at = now
