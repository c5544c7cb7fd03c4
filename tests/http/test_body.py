"""
Tests for L{twisted_tcp.http.body} and L{twisted_tcp.http.decoding}: how a body is
decoded and limited on its way. Content codings are undone in order, every gzip
member, in capped steps, whatever the fragmentation; anything else is refused.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from hypothesis import given
from hypothesis import strategies as st

from twisted_tcp.http import (
    BadTransferEncodingError,
    FileTooLargeError,
    HTTPError,
)
from twisted_tcp.http.body import BodyPipeline
from twisted_tcp.http.decoding import content_codings

from ..support import byte_by_byte, raw_server, run_get_against, splits, stop

# Content codings (--compressed).


class Collected:
    """A destination that keeps what it is given and whether it was committed."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.committed = False

    def write(self, data: bytes) -> None:
        self.data += data

    def commit(self) -> None:
        self.committed = True

    def abort(self) -> None:
        pass


def decoded(
    chunks: list[bytes], codings: list[str], max_size: int | None = None
) -> bytes | type[HTTPError]:
    """The decoded body for the encoded C{chunks}, or the error class."""
    destination = Collected()
    try:
        pipeline = BodyPipeline(destination, max_size=max_size, codings=codings)
        for chunk in chunks:
            pipeline.write(chunk)
        pipeline.finish()
    except HTTPError as error:
        assert not destination.committed
        return type(error)
    assert destination.committed
    assert pipeline.size == len(destination.data)
    return bytes(destination.data)


def decoded_every_way(body: bytes, codings: list[str]) -> bytes | type[HTTPError]:
    """The outcome, asserting it is the same whole and byte by byte."""
    whole = decoded([body], codings)
    assert decoded(byte_by_byte(body), codings) == whole
    return whole


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


TEXT = b"hello world, " * 300

#: (encoded body, Content-Encoding codings in the order applied, decoded body).
DECODABLE = [
    (gz(b"hello") + gz(b" world"), ["gzip"], b"hello world"),
    (gz(TEXT[:1000]) + gz(b"") + gz(TEXT[1000:]), ["x-gzip"], TEXT),
    (gz(gz(TEXT)), ["gzip", "gzip"], TEXT),
    (zlib.compress(TEXT), ["deflate"], TEXT),
    (gz(zlib.compress(TEXT)), ["deflate", "gzip"], TEXT),
    (zlib.compress(gz(TEXT) + gz(b"!")), ["gzip", "deflate"], TEXT + b"!"),
    (b"", ["gzip"], b""),
]


@pytest.mark.parametrize(("body", "codings", "expected"), DECODABLE)
def test_codings_decoded(body: bytes, codings: list[str], expected: bytes) -> None:
    """Every listed coding is undone, last first, and every gzip member decoded."""
    assert decoded_every_way(body, codings) == expected


@given(st.sampled_from(DECODABLE).flatmap(lambda case: st.tuples(
    st.just(case), splits(case[0]))))  # fmt: skip
def test_codings_whatever_the_fragmentation(
    drawn: tuple[tuple[bytes, list[str], bytes], list[bytes]],
) -> None:
    """Random split points give the same decoded body."""
    (_, codings, expected), chunks = drawn
    assert decoded(chunks, codings) == expected


@pytest.mark.parametrize(
    ("body", "codings"),
    [
        (gz(b"hello") + b"trailing garbage", ["gzip"]),
        (gz(b"hello") + b"\0", ["gzip"]),
        (gz(b"hello")[:-3], ["gzip"]),
        (b"not gzip at all", ["gzip"]),
        (zlib.compress(b"hello") + zlib.compress(b"again"), ["deflate"]),
        (zlib.compress(b"hello") + b"x", ["deflate"]),
        (gz(b"hello"), ["gzip", "gzip"]),
        (gz(b"hello"), ["br"]),
        (gz(b"hello"), ["gzip", "zstd"]),
        (gz(b"hello"), ["gzip"] * 6),
    ],
)
def test_undecodable(body: bytes, codings: list[str]) -> None:
    """Trailing garbage, truncation, unknown codings: a transfer-encoding error."""
    assert decoded_every_way(body, codings) is BadTransferEncodingError


def test_content_codings_listed() -> None:
    """Codings come from every Content-Encoding field, in order, identity dropped."""
    assert content_codings(["gzip, identity", " X-GZIP ,", "deflate"]) == [
        "gzip",
        "x-gzip",
        "deflate",
    ]


class Counted(Collected):
    """A destination that only counts what it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.largest = self.total = 0

    def write(self, data: bytes) -> None:
        self.largest = max(self.largest, len(data))
        self.total += len(data)


def test_nested_bomb_stops_at_the_limit() -> None:
    """
    A gzip bomb inside gzip (50 KiB that would become 256 MiB) stops at the size
    limit: decoded in steps of at most 64 KiB, never much past the limit.
    """
    bomb = gz(gz(bytes(256 << 20)))
    assert len(bomb) < 50 << 10
    destination = Counted()
    pipeline = BodyPipeline(destination, max_size=1 << 20, codings=["gzip", "gzip"])
    with pytest.raises(FileTooLargeError):
        pipeline.write(bomb)
    assert destination.total <= 1 << 20
    assert destination.largest <= 64 << 10


@pytest.mark.parametrize(
    ("encoding", "body", "code", "saved"),
    [
        (b"gzip, gzip", gz(gz(TEXT)), 0, TEXT),
        (b"gzip", gz(b"hello") + gz(b" world"), 0, b"hello world"),
        (b"br", b"\x0b\x02\x80hello\x03", 61, None),
        (b"gzip", gz(b"hello") + b"garbage", 61, None),
    ],
)
@pytest_twisted.ensureDeferred
async def test_cli_compressed(
    reactor: Any,
    tmp_path: Path,
    encoding: bytes,
    body: bytes,
    code: int,
    saved: bytes | None,
) -> None:
    """C{get --compressed -o}: decoded and saved, or exit 61 with nothing saved."""
    port, url = raw_server(
        reactor,
        b"HTTP/1.1 200 OK\r\nContent-Encoding: %s\r\nContent-Length: %d\r\n\r\n%s"
        % (encoding, len(body), body),
    )
    target = tmp_path / "out"
    try:
        result = await run_get_against("-s", "--compressed", "-o", str(target), url)
    finally:
        await stop(port)
    assert result.returncode == code, result.stderr
    if saved is None:
        assert result.stderr.count(b"\n") == 1
        assert os.listdir(tmp_path) == []
    else:
        assert target.read_bytes() == saved
