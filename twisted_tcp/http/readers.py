"""
The response's bytes as they arrive (L{ReceiveBuffer}), and one reader per body
framing, as h11 has: L{LengthReader} (C{Content-Length}), L{ChunkedReader}
(C{Transfer-Encoding: chunked}) and L{CloseReader} (until the connection closes).
Their rules for users are in docs/http-client.md.

A reader's C{read} takes what it can from the buffer: C{None} when it needs more
bytes, else the body bytes it took (C{b""} for framing only); once C{done} is
true, the body is complete.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from twisted_tcp.http.errors import BadTransferEncodingError, MalformedResponseError

MAX_LINE: Final = 8 * 1024
#: Header fields in a head, and trailer fields after a chunked body.
MAX_HEADERS: Final = 100
#: Chunk size hex digits, leading zeros aside: 15 is 2**60 - 1 bytes, the bound of a
#: Content-Length too (18 decimal digits). A larger size is refused at once rather
#: than waited for.
MAX_CHUNK_DIGITS: Final = 15

_HEX = re.compile(rb"([0-9A-Fa-f]*)")
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]+)[ \t]*(;[^\x00-\x08\x0a-\x1f\x7f]*)?")


class ReceiveBuffer:
    """
    Bytes received and not yet consumed. Consuming moves a position instead of
    cutting the bytes, so many small lines or chunks in one read cost no copying.
    """

    def __init__(self) -> None:
        # Unconsumed input is self._data[self._position:].
        self._data = b""
        self._position = 0

    def feed(self, data: bytes) -> None:
        """Add the next bytes received."""
        if self._position < len(self._data):
            self._data = self._data[self._position :] + data
        else:
            self._data = data
        self._position = 0

    def clear(self) -> None:
        """Forget every byte not consumed."""
        self._data = b""
        self._position = 0

    def available(self) -> int:
        """Bytes received and not yet consumed."""
        return len(self._data) - self._position

    def take(self, count: int) -> bytes:
        """Up to C{count} bytes, without copying if it can."""
        start = self._position
        if start == 0 and len(self._data) <= count:
            data = self._data
        else:
            data = self._data[start : start + count]
        self._position = start + len(data)
        return data

    def peek(self, count: int) -> bytes:
        """Up to the next C{count} bytes, left unconsumed."""
        return self._data[self._position : self._position + count]

    def skip(self, count: int) -> None:
        """Consume C{count} bytes."""
        self._position += count

    def match(self, pattern: re.Pattern[bytes]) -> re.Match[bytes] | None:
        """C{pattern} matched at the start of the unconsumed bytes."""
        return pattern.match(self._data, self._position)

    def line(self, kind: str) -> bytes | None:
        """
        The next line without its CRLF (or bare LF), or None if incomplete.
        C{kind} names the line in errors (C{header}, C{chunk size}, C{trailer}).
        """
        end = self._data.find(b"\n", self._position)
        if end < 0:
            if self.available() > MAX_LINE + 1:
                raise MalformedResponseError(f"a {kind} line is over {MAX_LINE} bytes")
            return None
        line = self._data[self._position : end]
        self._position = end + 1
        if line.endswith(b"\r"):
            line = line[:-1]
        if len(line) > MAX_LINE:
            raise MalformedResponseError(f"a {kind} line is over {MAX_LINE} bytes")
        if b"\r" in line or b"\x00" in line:
            raise MalformedResponseError(f"a bare CR or a NUL in a {kind} line")
        return line


class LengthReader:
    """A body of C{Content-Length} bytes."""

    def __init__(self, length: int) -> None:
        self.remaining = length
        self.done = False

    def read(self, buffer: ReceiveBuffer) -> bytes | None:
        if not buffer.available():
            return None
        data = buffer.take(self.remaining)
        self.remaining -= len(data)
        self.done = not self.remaining
        return data


class CloseReader:
    """A body that ends when the server closes the connection."""

    done = False

    def read(self, buffer: ReceiveBuffer) -> bytes | None:
        if not buffer.available():
            return None
        data = buffer.take(buffer.available())
        buffer.clear()
        return data


class ChunkedReader:
    """
    A chunked body: chunk sizes, their data each followed by CRLF, the last chunk,
    trailer fields (read and dropped). Its errors are transfer-coding errors.
    """

    def __init__(self) -> None:
        self._remaining = 0
        self._trailers = 0
        self.done = False
        #: Reads what comes next: a size line, data, its CRLF, or a trailer.
        self._step: Callable[[ReceiveBuffer], bytes | None] = self._size

    def read(self, buffer: ReceiveBuffer) -> bytes | None:
        return self._step(buffer)

    def _size(self, buffer: ReceiveBuffer) -> bytes | None:
        line = self._line(buffer, "chunk size")
        if line is None:
            # A size too large is refused as soon as its digits are in, not once
            # its line ends.
            self._check_digits(buffer.match(_HEX))
            return None
        match = _CHUNK_SIZE.fullmatch(line)
        if not match:
            raise BadTransferEncodingError(f"invalid chunk size line {line[:80]!r}")
        self._check_digits(match)
        self._remaining = int(match[1], 16)
        self._step = self._data if self._remaining else self._trailer
        return b""

    @staticmethod
    def _check_digits(match: re.Match[bytes] | None) -> None:
        """Refuse a chunk size over L{MAX_CHUNK_DIGITS} hex digits."""
        digits = match[1].lstrip(b"0") if match else b""
        if len(digits) > MAX_CHUNK_DIGITS:
            raise BadTransferEncodingError(
                f"a chunk size of 0x{digits[:20].decode()}"
                f"{'...' if len(digits) > 20 else ''} bytes is over the limit "
                f"(2**{4 * MAX_CHUNK_DIGITS} - 1)"
            )

    @staticmethod
    def _line(buffer: ReceiveBuffer, kind: str) -> bytes | None:
        """A line of chunked framing; its errors are transfer-coding errors."""
        try:
            return buffer.line(kind)
        except MalformedResponseError as error:
            raise BadTransferEncodingError(str(error)) from None

    def _data(self, buffer: ReceiveBuffer) -> bytes | None:
        if not buffer.available():
            return None
        data = buffer.take(self._remaining)
        self._remaining -= len(data)
        if not self._remaining:
            self._step = self._end
        return data

    def _end(self, buffer: ReceiveBuffer) -> bytes | None:
        ending = buffer.peek(2)
        if ending in (b"", b"\r"):
            return None
        if ending == b"\r\n":
            buffer.skip(2)
        elif ending.startswith(b"\n"):
            buffer.skip(1)
        else:
            raise BadTransferEncodingError("a chunk is not followed by CRLF")
        self._step = self._size
        return b""

    def _trailer(self, buffer: ReceiveBuffer) -> bytes | None:
        line = self._line(buffer, "trailer")
        if line is None:
            return None
        if not line:
            self.done = True
            return b""
        self._trailers += 1
        if self._trailers > MAX_HEADERS:
            raise BadTransferEncodingError(f"more than {MAX_HEADERS} trailer fields")
        return b""
