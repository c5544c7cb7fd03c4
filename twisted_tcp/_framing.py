"""
Message framing shared by every TCP server: bytes in, whole messages out.

Two framings exist (docs/servers.md, "Framing and text"):

  - C{line}: a message ends at LF; one CR right before the LF is dropped. A line
    longer than C{max_line} bytes is reported once as L{LINE_TOO_LONG} as soon as it
    is known to be too long (so memory stays bounded), and the rest of it is
    discarded up to the next LF.
  - C{raw}: each chunk the transport delivers is one message (the tutorials' model).
    A chunk longer than C{max_line} is reported as L{LINE_TOO_LONG} instead.

Framers are plain objects with no transport, so tests can feed them bytes at any split
point and compare the results.
"""

from __future__ import annotations

from typing import Final, Literal, Protocol

Framing = Literal["line", "raw"]
FRAMINGS: Final[tuple[Framing, ...]] = ("line", "raw")


class _TooLong:
    """The type of L{LINE_TOO_LONG}: a message that exceeded the length limit."""

    def __repr__(self) -> str:
        return "LINE_TOO_LONG"


LINE_TOO_LONG: Final = _TooLong()

Frame = bytes | _TooLong


class Framer(Protocol):
    """Turns a byte stream into frames."""

    max_line: int

    def feed(self, data: bytes) -> list[Frame]:
        """Take the next bytes of the stream; return the frames they complete."""

    def finish(self) -> list[Frame]:
        """The stream has ended: return what is left as frames."""


class LineFramer:
    """
    LF-terminated lines with an optional CR before the LF, of at most C{max_line} bytes
    (not counting the terminator).
    """

    def __init__(self, max_line: int) -> None:
        self.max_line = max_line
        self._buffer = b""
        self._discarding = False

    def feed(self, data: bytes) -> list[Frame]:
        frames: list[Frame] = []
        buffer = self._buffer + data if self._buffer else data
        start = 0
        limit = self.max_line
        while True:
            end = buffer.find(b"\n", start)
            if end < 0:
                break
            if self._discarding:
                self._discarding = False
            else:
                stop = end - 1 if end > start and buffer[end - 1] == 13 else end
                if stop - start > limit:
                    frames.append(LINE_TOO_LONG)
                else:
                    frames.append(buffer[start:stop])
            start = end + 1
        rest = buffer[start:] if start else buffer
        if self._discarding:
            rest = b""
        elif self._cannot_fit(rest):
            frames.append(LINE_TOO_LONG)
            self._discarding = True
            rest = b""
        self._buffer = rest
        return frames

    def _cannot_fit(self, partial: bytes) -> bool:
        """
        Whether an unterminated line is already too long, whatever comes next: its
        last byte may be the CR of a CRLF, so it may be one byte over the limit.
        """
        excess = len(partial) - self.max_line
        return excess > 1 or (excess == 1 and partial[-1] != 13)

    def finish(self) -> list[Frame]:
        rest, self._buffer = self._buffer, b""
        if self._discarding or not rest:
            return []
        if rest.endswith(b"\r"):
            rest = rest[:-1]
        return [rest] if len(rest) <= self.max_line else [LINE_TOO_LONG]


class RawFramer:
    """Each chunk is one message, as the tutorials' C{recv(1024)} loops assume."""

    def __init__(self, max_line: int) -> None:
        self.max_line = max_line

    def feed(self, data: bytes) -> list[Frame]:
        return [self.frame(data)] if data else []

    def frame(self, data: bytes) -> Frame:
        """The frame a non-empty chunk makes."""
        return data if len(data) <= self.max_line else LINE_TOO_LONG

    def finish(self) -> list[Frame]:
        return []


def make_framer(framing: Framing, max_line: int) -> Framer:
    """Build the framer named by a C{--framing} option value."""
    if framing == "line":
        return LineFramer(max_line)
    if framing == "raw":
        return RawFramer(max_line)
    raise ValueError(f"unknown framing {framing!r}; expected one of {FRAMINGS}")
