"""
Tests for L{twisted_tcp.http.splice}: an identity body saved to a file goes from the
socket into the file with splice(2) once the head is read, with the same results and
errors as the bytes read through Python, over real sockets on 127.0.0.1.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol

from twisted_tcp.http import (
    FetchOptions,
    FileTooLargeError,
    GetProtocol,
    OperationTimeoutError,
    ShortBodyError,
    fetch,
)
from twisted_tcp.http.body import BodyPipeline
from twisted_tcp.http.parser import ResponseHead
from twisted_tcp.http.protocol import ResponseHandler
from twisted_tcp.http.sinks import AtomicFile, StreamDestination

from ..support import port_of, raw_server, stop

BODY = os.urandom(3 << 20) + b"the end"


def reply(body: bytes, length: bool = True) -> bytes:
    head = b"HTTP/1.1 200 OK\r\n"
    if length:
        head += b"Content-Length: %d\r\n" % len(body)
    return head + b"\r\n" + body


class Saver(ResponseHandler):
    """Saves the body to a file, counting what came through Python and what not."""

    def __init__(self, path: Path) -> None:
        self.file = AtomicFile(path)
        self.read = 0
        self.spliced_bytes = 0
        self.ended = False

    def head(self, head: ResponseHead, length: int | None) -> bool:
        return True

    def body(self, data: bytes) -> None:
        self.read += len(data)
        self.file.write(data)

    def end(self) -> None:
        self.ended = True
        self.file.commit()

    def splice_target(self) -> AtomicFile:
        return self.file

    def spliced(self, count: int) -> None:
        self.spliced_bytes += count


async def save_with(reactor: Any, url_port: int, handler: Saver) -> None:
    request = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    protocol = GetProtocol(request, handler)
    endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", url_port)
    await connectProtocol(endpoint, protocol)
    await protocol.finished


@pytest.mark.parametrize("length", [True, False], ids=["content-length", "close"])
@pytest_twisted.ensureDeferred
async def test_identity_body_spliced_after_the_head(
    reactor: Any, tmp_path: Path, length: bool
) -> None:
    """What came with the head is written through Python, the rest spliced: the
    file holds the body exactly, whether its length is given or it ends at close."""
    port, _ = raw_server(reactor, reply(BODY, length))
    handler = Saver(tmp_path / "out")
    try:
        await save_with(reactor, port_of(port), handler)
    finally:
        await stop(port)
    assert handler.ended
    assert handler.spliced_bytes > 0
    assert handler.read + handler.spliced_bytes == len(BODY)
    assert (tmp_path / "out").read_bytes() == BODY


@pytest_twisted.ensureDeferred
async def test_short_spliced_body_fails_and_leaves_nothing(
    reactor: Any, tmp_path: Path
) -> None:
    """A connection that ends before Content-Length is a ShortBodyError, and no
    file (not even the temporary one) is left."""
    cut = reply(BODY)[: -(1 << 20)]
    port, url = raw_server(reactor, cut)
    try:
        with pytest.raises(ShortBodyError):
            await fetch(reactor, url, str(tmp_path / "out"), FetchOptions(sha256=False))
    finally:
        await stop(port)
    assert list(tmp_path.iterdir()) == []


@pytest_twisted.ensureDeferred
async def test_max_filesize_stops_a_spliced_body(reactor: Any, tmp_path: Path) -> None:
    """A body with no length that grows past max_filesize is refused part-way."""
    port, url = raw_server(reactor, reply(BODY, length=False))
    try:
        with pytest.raises(FileTooLargeError):
            await fetch(
                reactor,
                url,
                str(tmp_path / "out"),
                FetchOptions(sha256=False, max_filesize=1 << 20),
            )
    finally:
        await stop(port)
    assert list(tmp_path.iterdir()) == []


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest_twisted.ensureDeferred
async def test_timeout_while_splicing_closes_everything(
    reactor: Any, tmp_path: Path
) -> None:
    """A transfer cut by max_time while the body is being spliced leaves no file and
    no descriptor open (socket duplicate, pipe, file)."""
    stalled = reply(BODY)[: 1 << 20]
    port, url = raw_server(reactor, stalled, close=False)
    before = open_descriptors()
    progress: list[int] = []
    try:
        with pytest.raises(OperationTimeoutError):
            await fetch(
                reactor,
                url,
                str(tmp_path / "out"),
                FetchOptions(sha256=False, max_time=1),
                on_progress=progress.append,
            )
    finally:
        await stop(port)
    assert progress
    assert list(tmp_path.iterdir()) == []
    assert open_descriptors() == before


@pytest_twisted.ensureDeferred
async def test_progress_counts_every_spliced_byte(reactor: Any, tmp_path: Path) -> None:
    """Progress reports reach the body's full size; the result counts it all."""
    port, url = raw_server(reactor, reply(BODY))
    progress: list[int] = []
    try:
        result = await fetch(
            reactor,
            url,
            str(tmp_path / "out"),
            FetchOptions(sha256=False),
            on_progress=progress.append,
        )
    finally:
        await stop(port)
    assert progress[-1] == result.bytes == len(BODY)
    assert progress == sorted(progress)


def test_only_plain_bodies_saved_to_files_are_spliced(tmp_path: Path) -> None:
    """A body to hash, to decode or to write to a stream goes through Python."""
    plain = BodyPipeline(AtomicFile(tmp_path / "a"), max_size=None)
    hashed = BodyPipeline(AtomicFile(tmp_path / "b"), max_size=None, sha256=True)
    coded = BodyPipeline(AtomicFile(tmp_path / "c"), max_size=None, codings=["gzip"])
    with (tmp_path / "d").open("wb") as stream:
        streamed = BodyPipeline(StreamDestination(stream), max_size=None)
        assert streamed.direct_target() is None
    assert plain.direct_target() is plain.destination
    assert hashed.direct_target() is None
    assert coded.direct_target() is None
