"""
Tests of the lean epoll reactor: it keeps Twisted's contract for protocols (an
exception is logged with its traceback and the connection's log prefix, the
connection is dropped, and the reactor serves on; log events keep their namespace).
Each test runs on a fresh reactor of its own, Twisted's epoll reactor and the lean
one alike, over real sockets on 127.0.0.1.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable, Coroutine, Iterator, Sequence
from typing import Any

import pytest
from twisted.internet import tcp
from twisted.internet.defer import Deferred
from twisted.internet.epollreactor import EPollReactor
from twisted.internet.error import ConnectionDone, ConnectionLost
from twisted.internet.protocol import ClientFactory, Factory, Protocol, connectionDone
from twisted.logger import LogEvent, Logger, LogLevel, capturedLogs
from twisted.python.failure import Failure

from twisted_tcp.leanreactor import LeanEPollReactor, LeanServer


@pytest.fixture(params=[EPollReactor, LeanEPollReactor], ids=["epoll", "lean"])
def own_reactor(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A new reactor, not the global one, closed after the test."""
    reactor = request.param()
    yield reactor
    reactor.disconnectAll()
    reactor.removeReader(reactor.waker)
    reactor.waker.connectionLost(None)
    reactor._poller.close()


@pytest.fixture
def events() -> Iterator[Sequence[LogEvent]]:
    """Every log event published during the test."""
    with capturedLogs() as seen:
        yield seen


def run(reactor: Any, work: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    """Run C{reactor} until the coroutine C{work()} is done (at most 30 s)."""
    outcome: list[Any] = []

    def start() -> None:
        done = Deferred.fromCoroutine(work())
        done.addBoth(outcome.append).addBoth(lambda _: reactor.stop())

    reactor.callWhenRunning(start)
    failsafe = reactor.callLater(30, reactor.stop)
    reactor.run(installSignalHandlers=False)
    if failsafe.active():
        failsafe.cancel()
    assert outcome, "the reactor stopped before the work was done"
    if isinstance(outcome[0], Failure):
        outcome[0].raiseException()
    return outcome[0]


class Talker(Protocol):
    """Logs each chunk with its own Logger; raises on C{boom}, else echoes."""

    log = Logger()

    def dataReceived(self, data: bytes) -> None:
        self.log.info("got {data!r}", data=data)
        if data == b"boom":
            raise ValueError("boom from dataReceived")
        assert self.transport is not None
        self.transport.write(data)


class BadLoser(Talker):
    """Raises from connectionLost, which the reactor calls outside the read path."""

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        raise ValueError("boom from connectionLost")


class Client(Protocol):
    """Sends C{message}, collects what comes back, fires C{closed} when closed."""

    def __init__(self, message: bytes, close_after: int) -> None:
        self.message = message
        self.close_after = close_after
        self.received = b""
        self.closed: Deferred[bytes] = Deferred()

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.write(self.message)
        if self.close_after == 0:
            self.transport.loseConnection()

    def dataReceived(self, data: bytes) -> None:
        self.received += data
        if len(self.received) >= self.close_after:
            assert self.transport is not None
            self.transport.loseConnection()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.closed.callback(self.received)


def exchange(
    reactor: Any, port: int, message: bytes, close_after: int
) -> Deferred[bytes]:
    """Connect, send C{message}; the bytes received once the connection closes."""
    client = Client(message, close_after)
    reactor.connectTCP("127.0.0.1", port, ClientFactory.forProtocol(lambda: client))
    return client.closed


def listen(reactor: Any, protocol: type[Protocol]) -> int:
    listening = reactor.listenTCP(
        0, Factory.forProtocol(protocol), interface="127.0.0.1"
    )
    port: int = listening.getHost().port
    return port


def errors(events: Sequence[LogEvent]) -> list[LogEvent]:
    return [event for event in events if event.get("isError")]


def test_protocol_exception_is_logged_and_reactor_serves_on(
    own_reactor: Any, events: Sequence[LogEvent]
) -> None:
    """An exception in dataReceived is logged with its traceback and the
    connection's log prefix, that connection is dropped, and the next is served."""
    port = listen(own_reactor, Talker)

    async def work() -> tuple[bytes, bytes]:
        dropped = await exchange(own_reactor, port, b"boom", close_after=1)
        answered = await exchange(own_reactor, port, b"hello", close_after=5)
        return dropped, answered

    dropped, answered = run(own_reactor, work)
    assert dropped == b""
    assert answered == b"hello"
    [error] = errors(events)
    failure = error["failure"]
    assert failure.check(ValueError)
    assert "boom from dataReceived" in failure.getTraceback()
    assert "in dataReceived" in failure.getTraceback()
    assert error["log_system"] == "Talker,0,127.0.0.1"


def test_exception_when_closing_is_logged_and_reactor_serves_on(
    own_reactor: Any, events: Sequence[LogEvent]
) -> None:
    """An exception from connectionLost (raised outside the read) is logged and the
    reactor goes on serving."""
    port = listen(own_reactor, BadLoser)

    async def work() -> bytes:
        await exchange(own_reactor, port, b"", close_after=0)
        return await exchange(own_reactor, port, b"again", close_after=5)

    assert run(own_reactor, work) == b"again"
    failures = [event["failure"] for event in errors(events)]
    assert [failure.getErrorMessage() for failure in failures][:1] == [
        "boom from connectionLost"
    ]
    assert errors(events)[0]["log_system"] == "BadLoser,0,127.0.0.1"


def test_log_events_keep_their_namespace(
    own_reactor: Any, events: Sequence[LogEvent]
) -> None:
    """A Logger event emitted while handling a read has the Logger's namespace."""
    port = listen(own_reactor, Talker)

    async def work() -> bytes:
        return await exchange(own_reactor, port, b"hi", close_after=2)

    assert run(own_reactor, work) == b"hi"
    [said] = [event for event in events if event.get("data") == b"hi"]
    assert said["log_namespace"] == f"{__name__}.Talker"
    assert said["log_level"] == LogLevel.info
    assert not errors(events)


class Recorder(Protocol):
    """Records what it reads, its transport and why its connection ended."""

    accepted: list[Recorder] = []

    def __init__(self) -> None:
        self.received = b""
        self.reason: Failure | None = None
        self.lost: Deferred[None] = Deferred()
        Recorder.accepted.append(self)

    def dataReceived(self, data: bytes) -> None:
        self.received += data

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.reason = reason
        self.lost.callback(None)


async def accepted_then_closed(reactor: Any, reset: bool) -> Recorder:
    """A blocking client sends a line and closes (or resets); the server's side."""
    Recorder.accepted.clear()
    port = listen(reactor, Recorder)
    client = socket.create_connection(("127.0.0.1", port), timeout=10)
    client.sendall(b"line\n")
    if reset:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()
    for _ in range(1000):  # 10 s at most: a server that never accepts fails below
        if Recorder.accepted:
            break
        waited: Deferred[None] = Deferred()
        reactor.callLater(0.01, waited.callback, None)
        await waited
    [server] = Recorder.accepted
    await server.lost
    return server


@pytest.mark.parametrize("reset", [False, True], ids=["close", "reset"])
def test_transports_read_and_report_the_end_as_twisteds(
    own_reactor: Any, reset: bool
) -> None:
    """Connections are read to the end; a clean close ends them with ConnectionDone,
    a reset with ConnectionLost; the lean reactor's are L{LeanServer}s, so the tests
    above cover its doRead."""
    server = run(own_reactor, lambda: accepted_then_closed(own_reactor, reset))
    expected = LeanServer if isinstance(own_reactor, LeanEPollReactor) else tcp.Server
    assert type(server.transport) is expected
    reason = server.reason
    assert reason is not None
    if reset:
        assert reason.check(ConnectionLost) and not reason.check(ConnectionDone)
    else:
        assert server.received == b"line\n"
        assert reason.check(ConnectionDone)
