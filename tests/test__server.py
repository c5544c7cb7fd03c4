"""
Tests for L{twisted_tcp._server}: connection limits, idle timeout, pushback, half-close,
keepalive, graceful shutdown and the connection log, over in-memory transports.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import pytest
import pytest_twisted
from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress
from twisted.internet.protocol import Factory
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport, StringTransportWithDisconnection
from twisted.internet.threads import deferToThread
from twisted.logger import LogLevel, capturedLogs

from twisted_tcp._server import CLOSE_GRACE_PERIOD, FramedServerProtocol, describe_peer
from twisted_tcp.chat import ChatFactory
from twisted_tcp.echo import EchoFactory, EchoProtocol
from twisted_tcp.greet import GreetingFactory

from .chat_support import ChatHarness
from .support import (
    clock_of,
    connect,
    port_of,
    read_until_closed,
    stop,
    take,
    until,
)


def line_echo(**options: Any) -> EchoFactory:
    """A line-framed echo server on a test clock."""
    return EchoFactory(framing="line", clock=Clock(), **options)


def test_max_connections_refuses_one_more() -> None:
    """Past max_connections a connection gets one error line and is closed."""
    factory = line_echo(max_connections=2)
    first, _ = connect(factory)
    connect(factory)
    _, refused = connect(factory)
    assert refused.value() == b"error: too many connections (max 2)\r\n"
    assert not refused.connected
    first.transport.loseConnection()
    _, accepted = connect(factory)
    assert accepted.connected
    assert len(factory.connections) == 2


def test_max_per_ip_counts_each_host() -> None:
    """max_per_ip limits each client address separately."""
    factory = line_echo(max_per_ip=1)
    connect(factory, host="10.0.0.1")
    _, refused = connect(factory, host="10.0.0.1", port=2)
    _, other = connect(factory, host="10.0.0.2")
    assert refused.value() == b"error: too many connections from 10.0.0.1 (max 1)\r\n"
    assert other.connected


def test_max_per_ip_sees_ipv4_mapped_peers_as_ipv4() -> None:
    """A client that comes in over IPv4 and over a dual-stack socket (as
    ::ffff:a.b.c.d) is one address for max_per_ip."""
    factory = line_echo(max_per_ip=1)
    connect(factory, host="10.0.0.1")
    mapped = IPv6Address("TCP", "::ffff:10.0.0.1", 2)
    refused = factory.buildProtocol(mapped)
    assert refused is not None
    transport = StringTransportWithDisconnection(peerAddress=mapped)
    transport.protocol = refused
    refused.makeConnection(transport)
    assert transport.value() == b"error: too many connections from 10.0.0.1 (max 1)\r\n"


def test_per_host_count_released_on_close() -> None:
    """A closed connection frees its place in its host's count."""
    factory = line_echo(max_per_ip=1)
    protocol, _ = connect(factory)
    protocol.transport.loseConnection()
    _, again = connect(factory)
    assert again.connected
    assert factory._per_host == {"127.0.0.1": 1}


def test_zero_means_no_limit() -> None:
    """max_connections=0 and max_per_ip=0 accept any number of connections."""
    factory = line_echo(max_connections=0, max_per_ip=0)
    transports = [connect(factory, port=port)[1] for port in range(1, 201)]
    assert all(transport.connected for transport in transports)


def test_refusal_is_logged() -> None:
    """A refused connection is logged at warning level with the reason."""
    factory = line_echo(max_connections=1)
    connect(factory)
    with capturedLogs() as events:
        connect(factory, port=2)
    [event] = [e for e in events if e["log_level"] == LogLevel.warn]
    assert event["peer"] == "127.0.0.1:2"
    assert "too many connections" in event["reason"]


def test_connect_and_disconnect_logged() -> None:
    """Connect and disconnect are logged with the peer and the reason."""
    factory = line_echo()
    with capturedLogs() as events:
        protocol, _ = connect(factory)
        protocol.transport.loseConnection()
    messages = [e["log_format"] for e in events]
    assert messages == ["{peer} connected", "{peer} disconnected: {reason}"]
    assert events[1]["reason"] == "Connection was closed cleanly: Bye.."


def test_idle_timeout_closes_silent_connection() -> None:
    """A connection that completes no message for idle_timeout seconds is closed."""
    factory = line_echo(idle_timeout=10)
    _, transport = connect(factory)
    clock_of(factory).advance(9.9)
    assert transport.connected
    clock_of(factory).advance(0.1)
    assert not transport.connected
    assert factory.connections == set()


def test_idle_timeout_reset_by_each_message() -> None:
    """Each complete message restarts the idle timer."""
    factory = line_echo(idle_timeout=10)
    protocol, transport = connect(factory)
    for _ in range(5):
        clock_of(factory).advance(9)
        protocol.dataReceived(b"hi\n")
    assert transport.connected
    clock_of(factory).advance(10)
    assert not transport.connected


def test_idle_timeout_not_reset_by_partial_line() -> None:
    """Bytes that never complete a line do not keep a connection alive."""
    factory = line_echo(idle_timeout=10)
    protocol, transport = connect(factory)
    for _ in range(4):
        clock_of(factory).advance(3)
        protocol.dataReceived(b"x")
    assert not transport.connected


def test_no_idle_timeout_by_default() -> None:
    """With idle_timeout 0 nothing is ever scheduled."""
    factory = line_echo(idle_timeout=0)
    connect(factory)
    assert clock_of(factory).getDelayedCalls() == []


def test_long_line_gets_error_and_connection_stays() -> None:
    """An over-long line is answered with an error; later lines work as usual."""
    factory = line_echo(max_line=5)
    protocol, transport = connect(factory)
    protocol.dataReceived(b"123456789\nok\n")
    assert take(transport) == b"error: line too long (max 5 bytes)\r\nok\r\n"
    assert transport.connected


def test_raw_chunk_over_max_line_gets_error_and_resets_no_timer() -> None:
    """Under raw framing a chunk over max_line is refused with an error line, and
    (not being a message) does not restart the idle timer; the next chunk works."""
    factory = EchoFactory(framing="raw", max_line=5, idle_timeout=10, clock=Clock())
    protocol, transport = connect(factory)
    clock_of(factory).advance(6)
    protocol.dataReceived(b"123456")
    assert take(transport) == b"error: line too long (max 5 bytes)"
    clock_of(factory).advance(4)
    assert not transport.connected


def test_raw_chunk_restarts_idle_timer() -> None:
    """Under raw framing each chunk is a message and restarts the idle timer."""
    factory = EchoFactory(framing="raw", idle_timeout=10, clock=Clock())
    protocol, transport = connect(factory)
    for _ in range(3):
        clock_of(factory).advance(9)
        protocol.dataReceived(b"hi")
    assert take(transport) == b"hihihi"
    assert transport.connected


class Gated(EchoProtocol):
    """An echo that admits messages only while its gate is open."""

    open = False

    def admit(self) -> bool:
        return self.open


def test_raw_chunks_held_while_not_admitted_then_answered_in_order() -> None:
    """Chunks that admit refuses wait, in order, with reading paused; resume_input
    answers them and reads again."""
    factory = EchoFactory(framing="raw", clock=Clock())
    factory.protocol = Gated
    protocol, transport = connect(factory)
    for chunk in (b"one", b"two", b"three"):
        protocol.dataReceived(chunk)
    assert take(transport) == b""
    assert transport.producerState == "paused"
    protocol.open = True
    protocol.resume_input()
    assert take(transport) == b"onetwothree"
    assert transport.producerState == "producing"


def test_pushback_registers_transport_as_producer() -> None:
    """The transport produces for itself, so a full write buffer stops reading."""
    _, transport = connect(line_echo())
    assert transport.producer is transport
    assert transport.streaming


def test_keepalive_and_nodelay_enabled() -> None:
    """TCP keepalive is switched on for accepted connections, and Nagle off."""

    class TCPStringTransport(StringTransport):
        keepalive = nodelay = False

        def setTcpKeepAlive(self, enabled: bool) -> None:
            self.keepalive = enabled

        def setTcpNoDelay(self, enabled: bool) -> None:
            self.nodelay = enabled

    factory = line_echo()
    transport = TCPStringTransport()
    protocol = factory.buildProtocol(transport.getPeer())
    assert protocol is not None
    protocol.makeConnection(transport)
    assert transport.keepalive
    assert transport.nodelay


def test_half_close_answers_then_closes() -> None:
    """After the peer's EOF, lines already received, even unterminated, are answered."""
    protocol, transport = connect(line_echo())
    protocol.dataReceived(b"one\ntwo")
    protocol.readConnectionLost()
    assert transport.value() == b"one\r\ntwo\r\n"
    assert not transport.connected


def test_close_unregisters_producer() -> None:
    """Closing unregisters the pushback producer, which would hold the socket open."""
    transport = StringTransport()
    protocol = line_echo().buildProtocol(transport.getPeer())
    assert isinstance(protocol, FramedServerProtocol)
    protocol.makeConnection(transport)
    protocol.close_gracefully()
    assert transport.producer is None
    assert transport.disconnecting


def test_shutdown_notifies_closes_and_fires() -> None:
    """Shutdown sends the notice to each line client, closes it, and fires when done."""
    factory = GreetingFactory(clock=Clock())
    pairs = [connect(factory, port=port) for port in (1, 2)]
    done = factory.shutdown()
    for _, transport in pairs:
        assert transport.value().endswith(b"* server shutting down\r\n")
        assert not transport.connected
    assert done.called
    assert clock_of(factory).getDelayedCalls() == []


def test_shutdown_aborts_stragglers() -> None:
    """A connection that does not close within the grace period is aborted."""
    factory = line_echo()
    transport = StringTransport()
    protocol = factory.buildProtocol(transport.getPeer())
    assert protocol is not None
    protocol.makeConnection(transport)
    done = factory.shutdown()
    clock_of(factory).advance(CLOSE_GRACE_PERIOD - 0.1)
    assert not transport.disconnected
    clock_of(factory).advance(0.1)
    assert transport.disconnected
    assert not done.called
    protocol.connectionLost()
    assert done.called


def test_echo_sends_no_shutdown_notice() -> None:
    """The echo server's output stays pure echo, even at shutdown."""
    factory = line_echo()
    _, transport = connect(factory)
    factory.shutdown()
    assert transport.value() == b""


def test_input_after_close_is_ignored() -> None:
    """Once closing, the rest of a packet is not answered."""
    protocol, transport = connect(GreetingFactory(clock=Clock()))
    take(transport)
    protocol.dataReceived(b"exit\nAlice\nBob\n")
    assert transport.value() == b"Bye\r\n"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_line": 0}, "max_line"),
        ({"max_connections": -1}, "negative"),
        ({"idle_timeout": -1}, "negative"),
        ({"framing": "words"}, "unknown framing"),
        ({"encoding": "utf-16"}, "ASCII-compatible"),
    ],
)
def test_invalid_options(options: dict[str, Any], message: str) -> None:
    """Bad factory options are refused with a clear message."""
    with pytest.raises(ValueError, match=message):
        EchoFactory(**options)


@pytest.mark.parametrize(
    ("address", "text"),
    [
        (IPv4Address("TCP", "1.2.3.4", 5), "1.2.3.4:5"),
        (IPv6Address("TCP", "::1", 5), "[::1]:5"),
        (IPv6Address("TCP", "::ffff:1.2.3.4", 5), "1.2.3.4:5"),
        (UNIXAddress(b"/run/x.sock"), "/run/x.sock"),
        (UNIXAddress(None), "unix"),
    ],
)
def test_describe_peer(address: Any, text: str) -> None:
    """Peers are named the way people write addresses."""
    assert describe_peer(address) == text


def test_chat_says_why_it_closes_an_idle_client() -> None:
    """The chat, like the greeter, tells a client closed for being idle why."""
    room = ChatHarness(idle_timeout=30)
    _, transport = room.join()
    take(transport)
    room.clock.advance(30)
    assert take(transport) == b"* idle for 30 s; closing\r\n"
    assert not transport.connected


def test_echo_says_nothing_when_it_closes_an_idle_client() -> None:
    """An echo client gets back only what it sent, even when closed for idling."""
    factory = line_echo(idle_timeout=30)
    _, transport = connect(factory)
    clock_of(factory).advance(30)
    assert (transport.value(), transport.connected) == (b"", False)


def exchange_until_closed(port: int, line: bytes) -> bytes:
    """Send one line, then only read (never close our side) until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(line)
        return read_until_closed(sock)


@pytest.mark.parametrize(
    ("factory", "line", "last"),
    [
        (lambda: GreetingFactory(), b"exit\n", b"Bye\r\n"),
        (lambda: ChatFactory(), b"/quit\n", b"* Bye\r\n"),
    ],
)
@pytest_twisted.ensureDeferred
async def test_goodbye_then_close_at_once(
    reactor: Any, factory: Callable[[], Factory[Any]], line: bytes, last: bytes
) -> None:
    """After its goodbye the server closes its side at once: the client sees the end
    of the stream without sending or closing anything itself."""
    port = reactor.listenTCP(0, factory(), interface="127.0.0.1")
    try:
        received = await deferToThread(exchange_until_closed, port_of(port), line)
        assert received.endswith(last)
    finally:
        await stop(port)


@pytest_twisted.ensureDeferred
async def test_shutdown_notice_then_close_at_once(reactor: Any) -> None:
    """At shutdown too, the notice is followed by the end of the stream at once."""
    factory = GreetingFactory()
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    try:
        received = deferToThread(exchange_until_closed, port_of(port), b"Ann\n")
        await until(reactor, lambda: bool(factory.connections))
        await stop(port)
        await factory.shutdown()
        assert await received == b"Welcome\r\nHello, Ann!\r\n* server shutting down\r\n"
    finally:
        await stop(port)
