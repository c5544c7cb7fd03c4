"""
Tests for L{twisted_tcp.http.readers}: each body framing (Content-Length, chunked,
until the connection closes), read through the parser whole and byte by byte, must
give the same body or the same error class.
"""

from __future__ import annotations

import pytest

from twisted_tcp.http.errors import (
    BadTransferEncodingError,
    MalformedResponseError,
    ShortBodyError,
)
from twisted_tcp.http.parser import ResponseParser

from .parsing import body_of, every_way, head_of

# Content-Length and close-delimited bodies.


def test_short_content_length_body() -> None:
    """A body that ends before Content-Length is a short body."""
    assert (
        every_way(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello")
        is ShortBodyError
    )


def test_extra_bytes_after_body_ignored() -> None:
    """Bytes after the announced body are not part of it."""
    result = every_way(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA")
    assert body_of(result) == b"ok"


def test_close_delimited_body() -> None:
    """Without length or chunking, the body runs to the end of the connection."""
    result = every_way(b"HTTP/1.1 200 OK\r\n\r\nall of\r\nthis")
    assert body_of(result) == b"all of\r\nthis"


# Transfer-Encoding and chunked.


def chunked(*parts: bytes, head: bytes = b"Transfer-Encoding: chunked\r\n") -> bytes:
    return b"HTTP/1.1 200 OK\r\n" + head + b"\r\n" + b"".join(parts)


def test_chunked_body() -> None:
    """Chunks are joined; extensions are ignored; trailers are discarded."""
    response = chunked(
        b"5;name=value\r\nhello\r\n",
        b"6 ; x\r\n world\r\n",
        b"0\r\n",
        b"Trailer-Field: gone\r\n\r\n",
    )
    result = every_way(response)
    assert body_of(result) == b"hello world"
    assert head_of(result)[3] is None


def test_chunked_wins_over_content_length() -> None:
    """With both, Transfer-Encoding: chunked decides the framing."""
    head = b"Content-Length: 100\r\nTransfer-Encoding: chunked\r\n"
    assert body_of(every_way(chunked(b"2\r\nok\r\n0\r\n\r\n", head=head))) == b"ok"


@pytest.mark.parametrize(
    "codings", [b"gzip, chunked", b"gzip", b"identity", b"chunked, chunked"]
)
def test_unsupported_transfer_codings(codings: bytes) -> None:
    """Only plain chunked is supported; others are a transfer-encoding error."""
    response = chunked(b"0\r\n\r\n", head=b"Transfer-Encoding: " + codings + b"\r\n")
    assert every_way(response) is BadTransferEncodingError


@pytest.mark.parametrize(
    "size_line",
    [b"ILLEGAL", b"0x3", b"-3", b"1" * 17, b"", b" 3", b"3;\x1b[2J", b"3\x00"],
)
def test_bad_chunk_size(size_line: bytes) -> None:
    """Chunk sizes are 1-16 hex digits with clean extensions."""
    assert (
        every_way(chunked(size_line + b"\r\nabc\r\n0\r\n\r\n"))
        is BadTransferEncodingError
    )


def test_largest_chunk_size_parses() -> None:
    """
    Up to 2**60 - 1 (15 hex digits; leading zeros do not count) is accepted and
    the body then waited for.
    """
    for size in (b"000000000000000f", b"0000fffffffffffffff"):
        assert every_way(chunked(size + b"\r\nabc")) is ShortBodyError
        assert head_of(every_way(chunked(size + b"\r\nabc"), eof=False))[1] == "OK"


@pytest.mark.parametrize(
    "size", [b"ffffffffffffffff\r\n", b"ffffffffffffffff", b"1000000000000000;x"]
)
def test_huge_chunk_size_refused_at_once(size: bytes) -> None:
    """
    A chunk size of 2**60 or more (2**64 - 1 here) is refused as soon as its
    digits are in, without waiting for the body or even the end of the line.
    """
    assert every_way(chunked(size), eof=False) is BadTransferEncodingError
    with pytest.raises(
        BadTransferEncodingError, match=r"a chunk size of 0x[0-9a-f]{16} bytes is over"
    ):
        ResponseParser().feed(chunked(size))


def test_over_long_chunk_lines_named() -> None:
    """A chunk size or trailer line over 8 KiB is a transfer-coding error naming it."""
    extension = b";" + b"x" * (1 << 20)
    with pytest.raises(BadTransferEncodingError, match="a chunk size line is over"):
        ResponseParser().feed(chunked(b"5" + extension + b"\r\nhello\r\n"))
    trailer = b"X: " + b"y" * (8 * 1024) + b"\r\n"
    with pytest.raises(BadTransferEncodingError, match="a trailer line is over"):
        ResponseParser().feed(chunked(b"0\r\n" + trailer))
    with pytest.raises(MalformedResponseError, match="a header line is over"):
        ResponseParser().feed(b"HTTP/1.1 200 OK\r\nX: " + b"z" * (8 << 10) + b"\r\n")


def test_chunk_not_followed_by_crlf() -> None:
    """Chunk data must be followed by CRLF."""
    assert every_way(chunked(b"3\r\nabcXX0\r\n\r\n")) is BadTransferEncodingError


def test_truncated_chunked_body() -> None:
    """A chunked body cut off before its last chunk is a short body."""
    assert every_way(chunked(b"5\r\nhel")) is ShortBodyError
    assert every_way(chunked(b"5\r\nhello\r\n")) is ShortBodyError
