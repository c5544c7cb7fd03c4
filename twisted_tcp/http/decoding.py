"""
Content decoding (C{--compressed}): the codings a body is wrapped in, and a
L{Decoder} that undoes gzip or deflate as the bytes come, in capped steps so that a
gzip bomb never inflates in one go.
"""

from __future__ import annotations

import zlib
from collections.abc import Generator, Iterator, Sequence
from typing import Final

from twisted_tcp.http.errors import BadTransferEncodingError

#: Bytes decompressed at a time, so a gzip bomb never inflates in one go.
_INFLATE_STEP: Final = 64 * 1024


#: Content codings that C{--compressed} decodes, with zlib's window bits for each:
#: gzip (RFC 1952) and deflate, which in HTTP is the zlib format (RFC 1950).
_WINDOW_BITS: Final = {
    "gzip": 16 + zlib.MAX_WBITS,
    "x-gzip": 16 + zlib.MAX_WBITS,
    "deflate": zlib.MAX_WBITS,
}
#: The most codings one body may be wrapped in (curl allows 5 as well).
MAX_CODINGS: Final = 5
#: What C{Accept-Encoding} asks for with C{--compressed}.
ACCEPT_ENCODING: Final = "gzip, deflate"


def content_codings(values: list[str]) -> list[str]:
    """
    The content codings named by the C{Content-Encoding} field values, in the order
    they were applied (C{identity}, which means none, is left out).
    """
    return [
        coding
        for value in values
        for element in value.split(",")
        if (coding := element.strip(" \t").lower()) and coding != "identity"
    ]


def check_codings(codings: Sequence[str]) -> None:
    """
    @raise BadTransferEncodingError: unless every coding can be decoded here.
    """
    unknown = [coding for coding in codings if coding not in _WINDOW_BITS]
    if unknown:
        raise BadTransferEncodingError(
            f"unsupported content coding {', '.join(unknown)!r} "
            f"(--compressed decodes {', '.join(_WINDOW_BITS)})"
        )
    if len(codings) > MAX_CODINGS:
        raise BadTransferEncodingError(
            f"more than {MAX_CODINGS} content codings: {', '.join(codings)!r}"
        )


class Decoder:
    """
    Undoes one content coding as the bytes come, never more than L{_INFLATE_STEP}
    decoded bytes at a time (so the size limit stops a gzip bomb early). Gzip
    bodies may hold several members, decoded one after another as C{gzip -d}
    does; anything else after the end of the stream is an error.
    """

    def __init__(self, coding: str) -> None:
        self.coding = coding
        self._inflater = zlib.decompressobj(_WINDOW_BITS[coding])
        self._fed = False

    def decode(self, data: bytes) -> Iterator[bytes]:
        """The decoded pieces of the next encoded bytes."""
        if data:
            self._fed = True
        while data:
            if self._inflater.eof:
                if self.coding == "deflate":
                    raise BadTransferEncodingError(
                        "data after the end of the deflate stream"
                    )
                self._inflater = zlib.decompressobj(_WINDOW_BITS[self.coding])
            data = yield from self._inflate(data)

    def finish(self) -> Iterator[bytes]:
        """The last decoded pieces; the stream must have ended (if it began)."""
        if not self._fed:
            return  # An empty body is empty whatever its coding says.
        yield from self._inflate(b"")
        if not self._inflater.eof:
            raise BadTransferEncodingError(f"the {self.coding} stream is truncated")

    def _inflate(self, data: bytes) -> Generator[bytes, None, bytes]:
        """Decode C{data}; return what follows the end of the stream, if it ends."""
        inflater = self._inflater
        try:
            while True:
                piece = inflater.decompress(data, _INFLATE_STEP)
                if piece:
                    yield piece
                if inflater.eof:
                    return inflater.unused_data
                data = inflater.unconsumed_tail
                if not data and len(piece) < _INFLATE_STEP:
                    return b""
        except zlib.error as error:
            raise BadTransferEncodingError(f"bad {self.coding} data: {error}") from None
