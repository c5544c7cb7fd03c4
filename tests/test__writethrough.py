"""
Tests for L{twisted_tcp._writethrough}: bytes go out inside the call when the TCP
transport is idle, and through C{transport.write} (same order, same pushback) when it
is not, over real sockets on 127.0.0.1.
"""

from __future__ import annotations

import os
import socket
import ssl as stdlib_ssl
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_twisted
from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionDone, ConnectionLost
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.internet.ssl import PrivateCertificate
from twisted.internet.testing import StringTransport
from twisted.internet.threads import deferToThread
from twisted.python.failure import Failure

from twisted_tcp._writethrough import write_through

from .support import port_of, self_signed, stop


class Accepted(Protocol):
    """The server side of one test connection; records the writes that were buffered."""

    def __init__(self, ready: Deferred[Accepted]) -> None:
        self.ready = ready
        self.lost: Deferred[None] = Deferred()
        self.reason: Failure | None = None
        self.buffered: list[bytes] = []

    def connectionMade(self) -> None:
        assert self.transport is not None
        original = self.transport.write

        def recording_write(data: bytes) -> None:
            self.buffered.append(data)
            original(data)

        self.transport.write = recording_write  # type: ignore[method-assign]
        self.ready.callback(self)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.reason = reason
        self.lost.callback(None)


Pair = tuple[Accepted, socket.socket]


@pytest_twisted.async_yield_fixture
async def pair(reactor: Any) -> AsyncIterator[Pair]:
    """A server protocol on the real reactor and a blocking client socket to it."""
    ready: Deferred[Accepted] = Deferred()
    listening = reactor.listenTCP(
        0, Factory.forProtocol(lambda: Accepted(ready)), interface="127.0.0.1"
    )
    client = socket.create_connection(("127.0.0.1", port_of(listening)), timeout=5)
    server = await ready
    yield server, client
    client.close()
    assert server.transport is not None
    server.transport.abortConnection()  # type: ignore[attr-defined]
    await stop(listening)


def read_exactly(sock: socket.socket, size: int) -> bytes:
    received = bytearray()
    while len(received) < size:
        chunk = sock.recv(1 << 20)
        if not chunk:
            break
        received += chunk
    return bytes(received)


@pytest_twisted.ensureDeferred
async def test_idle_transport_sends_inside_the_call(pair: Pair) -> None:
    """The peer reads the bytes before the reactor runs again; nothing was buffered."""
    server, client = pair
    assert server.transport is not None
    write_through(server.transport, b"hello")
    assert client.recv(100) == b"hello"  # The reactor has not run since the call.
    assert server.buffered == []


@pytest_twisted.ensureDeferred
async def test_queued_bytes_keep_their_order(pair: Pair) -> None:
    """
    What the kernel does not take is buffered, and later writes queue behind it
    instead of overtaking it.
    """
    server, client = pair
    assert server.transport is not None
    big = os.urandom(16 << 20)  # More than loopback socket buffers hold.
    write_through(server.transport, big)
    write_through(server.transport, b"tail")
    assert len(server.buffered) == 2
    assert 0 < len(server.buffered[0]) < len(big)
    assert server.buffered[1] == b"tail"
    received = await deferToThread(read_exactly, client, len(big) + 4)
    assert received == big + b"tail"


@pytest_twisted.ensureDeferred
async def test_closing_transport_gets_write(pair: Pair) -> None:
    """Once loseConnection was called, bytes go through write(), as Twisted decides."""
    server, client = pair
    assert server.transport is not None
    write_through(server.transport, b"first")
    server.transport.loseConnection()
    write_through(server.transport, b"then")
    assert server.buffered == [b"then"]
    assert await deferToThread(read_exactly, client, 100) == b"firstthen"
    await server.lost


@pytest_twisted.ensureDeferred
async def test_reset_peer_is_reported_as_a_lost_connection(pair: Pair) -> None:
    """
    Writing to a peer that reset raises nothing; the loss arrives as connectionLost
    (ConnectionDone or ConnectionLost, by whether the reactor next reads or writes).
    """
    server, client = pair
    assert server.transport is not None
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()
    write_through(server.transport, b"x" * 1000)
    write_through(server.transport, b"y" * 1000)
    await server.lost
    assert server.reason is not None and server.reason.check(
        ConnectionDone, ConnectionLost
    )


@pytest_twisted.ensureDeferred
async def test_started_tls_is_never_bypassed(pair: Pair, tmp_path: Path) -> None:
    """After startTLS the bytes go through TLS: the client decrypts them."""
    server, client = pair
    assert server.transport is not None
    key, cert = self_signed(tmp_path)
    certificate = PrivateCertificate.loadPEM(cert.read_bytes() + key.read_bytes())
    server.transport.startTLS(certificate.options())  # type: ignore[attr-defined]
    write_through(server.transport, b"secret")
    assert server.buffered == [b"secret"]

    def handshake_and_read() -> bytes:
        context = stdlib_ssl.create_default_context(cafile=str(cert))
        with context.wrap_socket(client, server_hostname="localhost") as tls:
            return tls.recv(100)

    assert await deferToThread(handshake_and_read) == b"secret"


def test_other_transports_use_write() -> None:
    """A transport that is not Twisted's TCP one just gets write()."""
    transport = StringTransport()
    write_through(transport, b"data")
    assert transport.value() == b"data"
