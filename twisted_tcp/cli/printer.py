"""
What the C{twisted-tcp} line clients do with what a server sends: decode it and
print it.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable


class Printer:
    """
    Turns what a server sends into text for the console, decoding it with the
    session's encoding incrementally, so a character split across packets prints
    whole and invalid bytes print as U+FFFD.
    """

    def __init__(self, write: Callable[[str], None], encoding: str) -> None:
        self._write = write
        self._decoder = codecs.getincrementaldecoder(encoding)("replace")

    def feed(self, data: bytes) -> None:
        text = self._decoder.decode(data)
        if text:
            self._write(text)

    def close(self) -> None:
        """Print what is left of an incomplete character at the end."""
        rest = self._decoder.decode(b"", final=True)
        if rest:
            self._write(rest)
