"""
The download progress bar of C{twisted-tcp get}: on standard error, and only when
that is a terminal.
"""

from __future__ import annotations

import time
from typing import Final, TextIO

#: Seconds between redraws.
REDRAW: Final = 0.1
WIDTH: Final = 30


def _size(count: float) -> str:
    """A byte count for people: C{512 B}, C{12.0 MiB}."""
    if count < 1024:
        return f"{count:.0f} B"
    for unit in ("KiB", "MiB"):
        count /= 1024
        if count < 1024:
            return f"{count:.1f} {unit}"
    return f"{count / 1024:.1f} GiB"


class _Line:
    """A line redrawn in place on a terminal, at most every L{REDRAW} seconds."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._enabled = stream.isatty()
        self._started = time.monotonic()
        self._drawn = 0.0

    def _changed(self) -> None:
        now = time.monotonic()
        if self._enabled and now - self._drawn >= REDRAW:
            self._drawn = now
            self._draw(now)

    def finish(self) -> None:
        if self._enabled and self._drawn:
            self._draw(time.monotonic())
            self._stream.write("\n")
            self._stream.flush()

    def _draw(self, now: float) -> None:
        self._stream.write(f"\r{self._line(now)}\x1b[K")
        self._stream.flush()

    def _line(self, now: float) -> str:
        raise NotImplementedError


class Progress(_Line):
    """Draws C{[#####     ]  42%  12.0 MiB of 28.5 MiB  3.1 MiB/s} as bytes arrive."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self._total: int | None = None
        self._size = 0

    def start(self, total: int | None) -> None:
        """A response head arrived; its body length, if announced, is the total."""
        self._total = total
        self._started = time.monotonic()

    def update(self, size: int) -> None:
        self._size = size
        self._changed()

    def _line(self, now: float) -> str:
        rate = self._size / max(now - self._started, 1e-6)
        if self._total:
            done = min(1.0, self._size / self._total)
            bar = "#" * int(done * WIDTH)
            return (f"[{bar:<{WIDTH}}] {done:4.0%}  {_size(self._size)} of "
                    f"{_size(self._total)}  {_size(rate)}/s")  # fmt: skip
        return f"{_size(self._size)}  {_size(rate)}/s"


class Overall(_Line):
    """
    The line of a run of several transfers, however many run at once:
    C{12/200 done  1.2 MiB  3.1 MiB/s}.
    """

    def __init__(self, stream: TextIO, transfers: int) -> None:
        super().__init__(stream)
        self._transfers = transfers
        self._done = 0
        self._size = 0

    def add(self, count: int) -> None:
        """C{count} more body bytes arrived, for any transfer."""
        self._size += count
        self._changed()

    def done(self) -> None:
        """One more transfer ended, well or not."""
        self._done += 1
        self._changed()

    def _line(self, now: float) -> str:
        rate = self._size / max(now - self._started, 1e-6)
        return (f"{self._done}/{self._transfers} done  {_size(self._size)}  "
                f"{_size(rate)}/s")  # fmt: skip
