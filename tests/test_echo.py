"""
Tests for L{twisted_tcp.echo}: every mode under both framings, fragmentation, and the
server over real sockets on 127.0.0.1 (large transfers, half-close, clients that never
read or reset, limits, the tutorials' own clients).
"""

from __future__ import annotations

import os
import socket
import ssl
import struct
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from hypothesis import given
from hypothesis import strategies as st
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import (
    TCP4ClientEndpoint,
    connectProtocol,
    serverFromString,
)
from twisted.internet.interfaces import IListeningPort
from twisted.internet.protocol import Protocol
from twisted.internet.task import Clock
from twisted.internet.threads import deferToThread

from twisted_tcp.echo import EchoFactory, MirrorProtocol

from .support import (
    Collector,
    blocking_exchange,
    byte_by_byte,
    connect,
    feed,
    port_of,
    self_signed,
    splits,
    stop,
    until,
)

# In-memory tests.


def answers(factory: EchoFactory, chunks: list[bytes]) -> bytes:
    """Everything a new connection to C{factory} writes in answer to C{chunks}."""
    protocol, transport = connect(factory)
    feed(protocol, chunks)
    return transport.value()


def echo(**options: Any) -> EchoFactory:
    return EchoFactory(clock=Clock(), **options)


@pytest.mark.parametrize(
    ("options", "sent", "expected"),
    [
        ({}, b"any \x00\xff bytes\r\n", b"any \x00\xff bytes\r\n"),
        ({"mode": "upper"}, b"hello \xc3\xa9\xff", b"HELLO \xc3\xa9\xff"),
        ({"mode": "prefix"}, b"hi", b"server send :hi"),
        ({"mode": "prefix", "prefix": "» "}, b"hi", "» hi".encode()),
        ({"mode": "reply"}, b"anything", "ok, 问题正在处理中...".encode()),
        (
            {"mode": "reply", "encoding": "gbk"},
            "你好".encode("gbk"),
            "ok, 问题正在处理中...".encode("gbk"),
        ),
    ],
)
def test_raw_modes(options: dict[str, Any], sent: bytes, expected: bytes) -> None:
    """Under raw framing each chunk is answered per mode, with no terminator."""
    assert answers(echo(**options), [sent]) == expected


@pytest.mark.parametrize(
    ("options", "sent", "expected"),
    [
        ({}, b"one\r\ntwo\n\n", b"one\r\ntwo\r\n\r\n"),
        ({"mode": "upper"}, "straße é\n".encode(), "STRASSE É\r\n".encode()),
        (
            {"mode": "upper", "encoding": "gbk"},
            "ab中\n".encode("gbk"),
            "AB中\r\n".encode("gbk"),
        ),
        ({"mode": "upper"}, b"bad \xff\n", "BAD \ufffd\r\n".encode()),
        ({"mode": "prefix"}, b"a\nb\n", b"server send :a\r\nserver send :b\r\n"),
        ({"mode": "reply", "reply": "ok"}, b"x\ny\n", b"ok\r\nok\r\n"),
    ],
)
def test_line_modes(options: dict[str, Any], sent: bytes, expected: bytes) -> None:
    """Under line framing each line is answered per mode and ends with CRLF."""
    assert answers(echo(framing="line", **options), [sent]) == expected


def test_upper_raw_is_ascii_only() -> None:
    """Raw upper mode changes ASCII letters only, byte by byte, so any bytes survive."""
    data = bytes(range(256))
    assert answers(echo(mode="upper"), [data]) == data.upper()


def test_multibyte_character_split_across_packets() -> None:
    """A character split between packets is decoded whole, after framing."""
    line = "ÉTÉ 中文\n".encode()
    assert answers(echo(framing="line", mode="upper"), byte_by_byte(line)) == (
        "ÉTÉ 中文\r\n".encode()
    )


def test_over_long_line() -> None:
    """A line over max_line gets the error line; the next line is still echoed."""
    sent = [b"x" * 70000, b"\nnext\n"]
    assert answers(echo(framing="line"), sent) == (
        b"error: line too long (max 65536 bytes)\r\nnext\r\n"
    )


def test_unknown_mode() -> None:
    """An unknown mode is refused when the factory is built."""
    with pytest.raises(ValueError, match="unknown mode 'shout'"):
        echo(mode="shout")


@given(
    stream=st.lists(
        st.one_of(
            st.binary(max_size=20), st.sampled_from([b"\n", b"\r\n", "é中".encode()])
        ),
        max_size=20,
    ).map(b"".join),
    mode=st.sampled_from(["echo", "upper", "prefix", "reply"]),
    data=st.data(),
)
def test_line_answers_independent_of_fragmentation(
    stream: bytes, mode: str, data: st.DataObject
) -> None:
    """Under line framing the answers are the same whole, byte by byte, or split."""
    whole = answers(echo(framing="line", mode=mode, max_line=16), [stream])
    assert (
        answers(echo(framing="line", mode=mode, max_line=16), byte_by_byte(stream))
        == whole
    )
    split = data.draw(splits(stream))
    assert answers(echo(framing="line", mode=mode, max_line=16), split) == whole


@given(stream=st.binary(max_size=200), data=st.data())
def test_raw_echo_is_exact_whatever_the_chunks(
    stream: bytes, data: st.DataObject
) -> None:
    """Raw echo returns every byte unchanged and in order (RFC 862)."""
    assert answers(echo(), data.draw(splits(stream))) == stream


# Real sockets on 127.0.0.1.


def listen(reactor: Any, factory: EchoFactory) -> IListeningPort:
    port: IListeningPort = reactor.listenTCP(0, factory, interface="127.0.0.1")
    return port


async def client(reactor: Any, port: IListeningPort, protocol: Protocol) -> None:
    endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port_of(port))
    await connectProtocol(endpoint, protocol)


def pending_output(transport: Any) -> int:
    """Bytes a Twisted TCP transport holds unsent."""
    held: int = len(transport.dataBuffer) - transport.offset + transport._tempDataLen
    return held


@pytest_twisted.ensureDeferred
async def test_megabyte_of_random_binary_echoed_exactly(reactor: Any) -> None:
    """1 MiB of random bytes comes back exactly, then the server closes on our EOF."""
    port = listen(reactor, EchoFactory())
    try:
        payload = os.urandom(1 << 20)
        collector = Collector(payload, half_close=True)
        await client(reactor, port, collector)
        received = await collector.done.addTimeout(30, reactor)
        assert received == payload
    finally:
        await stop(port)


@pytest_twisted.ensureDeferred
async def test_half_close_answers_everything_then_closes(reactor: Any) -> None:
    """A client that shuts its sending side still gets every answer, then EOF."""
    port = listen(reactor, EchoFactory(framing="line", mode="prefix", prefix="> "))
    try:
        collector = Collector(b"one\ntwo\nthree", half_close=True)
        await client(reactor, port, collector)
        received = await collector.done.addTimeout(10, reactor)
        assert received == b"> one\r\n> two\r\n> three\r\n"
    finally:
        await stop(port)


@pytest_twisted.ensureDeferred
async def test_echo_over_tls_endpoint(reactor: Any, tmp_path: Path) -> None:
    """Under an ssl: endpoint the answers go through TLS; a TLS client reads them."""
    key, cert = self_signed(tmp_path)
    endpoint = serverFromString(
        reactor, f"ssl:0:interface=127.0.0.1:privateKey={key}:certKey={cert}"
    )
    port = await endpoint.listen(EchoFactory(framing="line", mode="upper"))

    def exchange() -> bytes:
        context = ssl.create_default_context(cafile=str(cert))
        raw = socket.create_connection(("127.0.0.1", port_of(port)), timeout=10)
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(b"one\ntwo\n")
            received = b""
            while received.count(b"\n") < 2:
                received += tls.recv(100)
            return received

    try:
        assert await deferToThread(exchange) == b"ONE\r\nTWO\r\n"
    finally:
        await stop(port)


class NonReader(Protocol):
    """Sends a lot and never reads until told to; then reads it all."""

    def __init__(self, payload: bytes) -> None:
        self.payload = payload
        self.received = 0
        self.all_back: Deferred[None] = Deferred()

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.pauseProducing()  # type: ignore[attr-defined]
        self.transport.write(self.payload)

    def dataReceived(self, data: bytes) -> None:
        self.received += len(data)
        if self.received == len(self.payload):
            self.all_back.callback(None)


class MeasuredEcho(MirrorProtocol):
    """The echo protocol, keeping the most it ever held unsent and what it read."""

    def dataReceived(self, data: bytes) -> None:
        super().dataReceived(data)
        factory = self.factory
        assert isinstance(factory, MeasuredFactory)
        factory.read += len(data)
        factory.most_held = max(factory.most_held, pending_output(self.transport))


class EchoWithoutPushback(MeasuredEcho):
    """The echo protocol with backpressure switched off, for a control experiment."""

    def output_producer(self) -> None:
        return None


class MeasuredFactory(EchoFactory):
    """An echo factory whose protocols say the most any of them held unsent."""

    read = 0
    most_held = 0

    def __init__(self) -> None:
        super().__init__()
        self.protocol = MeasuredEcho


FLOOD = 24 << 20


@pytest_twisted.ensureDeferred
async def test_client_that_never_reads_cannot_grow_server_memory(reactor: Any) -> None:
    """A client sending 24 MiB without reading makes the server stop reading from it
    with at most ~1 MiB queued, and once it reads, every byte comes back without
    the server ever holding more."""
    factory = MeasuredFactory()
    port = listen(reactor, factory)
    flooder = NonReader(os.urandom(FLOOD))
    try:
        await client(reactor, port, flooder)
        sender: Any = flooder.transport
        await until(reactor, lambda: len(factory.connections) == 1)
        [server] = factory.connections
        transport: Any = server.transport
        await until(reactor, lambda: transport.producerPaused)
        assert factory.most_held <= 1 << 20
        # The flood really was held back: most of it still waits in the client.
        assert pending_output(sender) > 8 << 20
        sender.resumeProducing()
        await flooder.all_back.addTimeout(60, reactor)
        assert (factory.read, factory.most_held <= 1 << 20) == (FLOOD, True)
        sender.loseConnection()
    finally:
        await stop(port)


@pytest_twisted.ensureDeferred
async def test_without_pushback_the_flood_would_pile_up(reactor: Any) -> None:
    """The control for the test above: without pushback the server reads the whole
    flood of a client that does not read, and queues most of it."""
    factory = MeasuredFactory()
    factory.protocol = EchoWithoutPushback
    port = listen(reactor, factory)
    flooder = NonReader(os.urandom(FLOOD))
    try:
        await client(reactor, port, flooder)
        await until(reactor, lambda: factory.read == FLOOD)
        assert factory.most_held > 8 << 20
        sender: Any = flooder.transport
        sender.abortConnection()
    finally:
        await stop(port)


def reset_mid_transfer(port: int) -> None:
    """Send 4 MiB, read a little, then close with RST (SO_LINGER 0)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(os.urandom(1 << 20))
    sock.recv(1000)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


@pytest_twisted.ensureDeferred
async def test_abrupt_reset_mid_transfer(reactor: Any) -> None:
    """A client that resets mid-transfer is cleaned up and the server keeps serving."""
    factory = EchoFactory()
    port = listen(reactor, factory)
    try:
        await deferToThread(reset_mid_transfer, port_of(port))
        await until(reactor, lambda: not factory.connections)
        assert factory._per_host == {}
        collector = Collector(b"still here", half_close=True)
        await client(reactor, port, collector)
        assert await collector.done.addTimeout(10, reactor) == b"still here"
    finally:
        await stop(port)


@pytest_twisted.ensureDeferred
async def test_max_connections_refusal_line(reactor: Any) -> None:
    """The connection over --max-connections reads the error line, then EOF."""
    factory = EchoFactory(max_connections=2)
    port = listen(reactor, factory)
    try:
        holders = [Collector(), Collector()]
        for holder in holders:
            await client(reactor, port, holder)
        await until(reactor, lambda: len(factory.connections) == 2)
        refused = Collector()
        await client(reactor, port, refused)
        assert await refused.done.addTimeout(10, reactor) == (
            b"error: too many connections (max 2)\r\n"
        )
        for holder in holders:
            assert holder.transport is not None
            holder.transport.loseConnection()
            await holder.done
    finally:
        await stop(port)


@pytest_twisted.ensureDeferred
async def test_idle_timeout_closes_real_connection(reactor: Any) -> None:
    """A silent client is disconnected by the server after the idle timeout."""
    port = listen(reactor, EchoFactory(idle_timeout=0.2))
    try:
        silent = Collector()
        await client(reactor, port, silent)
        assert await silent.done.addTimeout(10, reactor) == b""
    finally:
        await stop(port)


# The tutorials' clients, as they were written: blocking sockets, recv(1024).


@pytest_twisted.ensureDeferred
async def test_tutorial_upper_client(reactor: Any) -> None:
    """The tutorial's client sends hello and prints HELLO."""
    port = listen(reactor, EchoFactory(mode="upper"))
    try:
        replies = await deferToThread(blocking_exchange, port_of(port), [b"hello"])
        assert replies == [b"HELLO"]
    finally:
        await stop(port)


@pytest_twisted.ensureDeferred
async def test_tutorial_prefix_client(reactor: Any) -> None:
    """The tutorial's client sees its message after 'server send :'."""
    port = listen(reactor, EchoFactory(mode="prefix"))
    try:
        replies = await deferToThread(
            blocking_exchange, port_of(port), [b"hi", b"again"]
        )
        assert replies == [b"server send :hi", b"server send :again"]
    finally:
        await stop(port)


@pytest_twisted.ensureDeferred
async def test_tutorial_gbk_reply_client(reactor: Any) -> None:
    """The tutorial's Chinese client gets the fixed reply in gbk."""
    port = listen(reactor, EchoFactory(mode="reply", encoding="gbk"))
    try:
        replies = await deferToThread(
            blocking_exchange, port_of(port), ["你好，服务器".encode("gbk")]
        )
        assert replies == ["ok, 问题正在处理中...".encode("gbk")]
    finally:
        await stop(port)
