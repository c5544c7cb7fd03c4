"""
What every TCP server shares (the rules of docs/servers.md): connection limits overall
and per client address, the idle timeout, framing and decoding, TCP keepalive,
half-close, graceful shutdown and the connection log.

L{LimitedServerFactory} holds the state shared by all connections of one server;
L{FramedServerProtocol} holds one connection's state and turns its bytes into framed
messages for the subclass's L{FramedServerProtocol.messageReceived} hook.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, ClassVar, TypedDict

from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.interfaces import (
    IAddress,
    IConsumer,
    IDelayedCall,
    IHalfCloseableProtocol,
    IPushProducer,
    IReactorTime,
    ITCPTransport,
)
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.logger import Logger
from twisted.protocols.policies import TimeoutMixin
from twisted.python.failure import Failure
from zope.interface import implementer

from twisted_tcp._framing import (
    LINE_TOO_LONG,
    Frame,
    Framer,
    Framing,
    RawFramer,
    make_framer,
)
from twisted_tcp._listen import unmapped
from twisted_tcp._text import CRLF, check_encoding, decode, encode
from twisted_tcp._writethrough import write_through

#: Seconds a closing connection may take to flush before it is aborted.
CLOSE_GRACE_PERIOD = 5.0


def describe_peer(address: IAddress | None) -> str:
    """A short human form of a peer address for logs: C{1.2.3.4:5}, C{[::1]:5}."""
    if address is None:
        return "?"
    host = peer_host(address)
    port = getattr(address, "port", None)
    if not host:
        name = getattr(address, "name", None)
        return os.fsdecode(name) if name else "unix"
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def peer_host(address: IAddress | None) -> str:
    """
    The IP address of a peer, as IPv4 when it came in IPv4-mapped on a dual-stack
    socket (so C{--max-per-ip} and the logs see one address per client); C{""} for
    a peer without one (a UNIX socket).
    """
    host = getattr(address, "host", None)
    return unmapped(host) if host else ""


class IServerTransport(ITCPTransport, IConsumer, IPushProducer):
    """
    For type checking only: what a server connection's transport offers (TCP, or a TLS
    or UNIX transport that behaves alike): a consumer of producers, and a producer of
    the bytes it reads.
    """


class _Refusal(Protocol):
    """Sends one C{error:} line to a connection over a limit, then closes it."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.write(f"error: {self.reason}".encode() + CRLF)
        self.transport.loseConnection()


@dataclass(slots=True)
class ServerCounters:
    """
    What a server has done since it started, in plain integers that its connections
    add to as they go: no lock and no call per message. C{--metrics} reads them
    when scraped (docs/operating.md lists what each one counts).
    """

    accepted: int = 0
    refused_limit: int = 0
    refused_per_ip: int = 0
    refused_ban: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    messages_in: int = 0
    messages_out: int = 0
    idle_closes: int = 0
    slow_dropped: int = 0
    flood_pauses: int = 0


class CommonServerArguments(TypedDict, total=False):
    """Keyword arguments every server factory takes, named like the CLI options."""

    encoding: str
    max_connections: int
    max_per_ip: int
    clock: IReactorTime | None


class LimitedServerFactory(Factory[Protocol]):
    """
    A server factory that enforces C{max_connections} and C{max_per_ip}, keeps the set
    of live connections, and closes them all on L{shutdown}.

    @ivar counters: what its connections have done, for C{--metrics}.
    @ivar clock: the time source for timeouts; the global reactor unless given, so
        tests can pass a L{twisted.internet.task.Clock}.
    """

    log = Logger()
    #: The port already logs C{NAME starting on PORT}; Twisted's C{Starting factory
    #: <... object at 0x...>} beside it says nothing more.
    noisy = False

    def __init__(
        self,
        *,
        framing: Framing,
        max_line: int,
        idle_timeout: float,
        encoding: str = "utf-8",
        max_connections: int = 10000,
        max_per_ip: int = 0,
        clock: IReactorTime | None = None,
    ) -> None:
        if max_line < 1:
            raise ValueError("max_line must be at least 1")
        if max_connections < 0 or max_per_ip < 0 or idle_timeout < 0:
            raise ValueError("limits and timeouts must not be negative")
        self.framing: Framing = framing
        make_framer(framing, max_line)  # Fail on a bad framing now, not per connection.
        self.max_line = max_line
        self.idle_timeout = idle_timeout
        self.encoding = check_encoding(encoding)
        self.max_connections = max_connections
        self.max_per_ip = max_per_ip
        self._clock = clock
        self.connections: set[FramedServerProtocol] = set()
        self.shutting_down = False
        self._per_host: Counter[str] = Counter()
        self._held: dict[object, str] = {}
        self.counters = ServerCounters()

    @property
    def clock(self) -> IReactorTime:
        if self._clock is None:
            from twisted.internet import reactor

            self._clock = reactor
        assert self._clock is not None
        return self._clock

    def buildProtocol(self, addr: IAddress | None) -> Protocol | None:
        reason = self.refusal(addr)
        if reason is None:
            return super().buildProtocol(addr)
        return _Refusal(reason)

    def refusal(self, addr: IAddress | None) -> str | None:
        """
        Why a new connection from C{addr} would pass a limit (and log it), or
        C{None} to let it in.
        """
        host = peer_host(addr)
        counted = len(self.connections) + len(self._held)
        if self.max_connections and counted >= self.max_connections:
            reason = f"too many connections (max {self.max_connections})"
            self.counters.refused_limit += 1
        elif self.max_per_ip and host and self._per_host[host] >= self.max_per_ip:
            reason = f"too many connections from {host} (max {self.max_per_ip})"
            self.counters.refused_per_ip += 1
        else:
            return None
        self.log.warn(
            "{peer} refused: {reason}", peer=describe_peer(addr), reason=reason
        )
        return reason

    def make_framer(self) -> Framer:
        """A new framer for one connection, per this server's framing options."""
        return make_framer(self.framing, self.max_line)

    def connection_opened(self, protocol: FramedServerProtocol, host: str) -> None:
        """Count a connection that has started."""
        self.connections.add(protocol)
        self.counters.accepted += 1
        if host:
            self._per_host[host] += 1

    def connection_closed(self, protocol: FramedServerProtocol, host: str) -> None:
        """Forget a connection that has ended."""
        self.connections.discard(protocol)
        self._uncount(host)

    def hold(self, connection: object, host: str) -> None:
        """
        Count in the limits a connection that another protocol serves (an HTTP
        request for the chat's page), until L{release}.
        """
        self._held[connection] = host
        if host:
            self._per_host[host] += 1

    def release(self, connection: object) -> None:
        """Stop counting a connection counted by L{hold}, if it is."""
        if connection in self._held:
            self._uncount(self._held.pop(connection))

    def _uncount(self, host: str) -> None:
        if host:
            self._per_host[host] -= 1
            if self._per_host[host] <= 0:
                del self._per_host[host]

    def shutdown(self) -> Deferred[None]:
        """
        Say goodbye to every connection, let it flush, and close it; connections still
        open after L{CLOSE_GRACE_PERIOD} seconds are aborted.

        @return: fires when every connection has ended.
        """
        self.shutting_down = True
        closing = [
            protocol.close_gracefully(shutdown=True)
            for protocol in list(self.connections)
        ]
        return gatherResults(closing).addCallback(lambda _: None)


@implementer(IHalfCloseableProtocol)
class FramedServerProtocol(Protocol, TimeoutMixin):
    """
    One server connection: frames its bytes, enforces the idle timeout, and passes each
    message to L{messageReceived}.

    Subclasses override L{messageReceived} and may override L{greet} (what to send on
    connect), L{shutdownNotice} (what to send when the server stops), L{idleNotice}
    (what to send before closing an idle connection), L{admit} (to hold input back)
    and L{output_producer} (who hears that the peer is not reading).

    By default the transport is registered as its own streaming producer: once more
    than its buffer size of replies waits unsent, it stops reading from the peer until
    they drain, so a peer that never reads its replies is slowed down by TCP instead of
    growing the server's memory.
    """

    log = Logger()
    factory: LimitedServerFactory
    transport: IServerTransport

    #: The line sent to every connection when the server shuts down, or C{None}.
    shutdownNotice: ClassVar[str | None] = None
    #: The line sent before a connection is closed for being idle (C{{seconds}} is
    #: the timeout), or C{None}: a server that talks to people says why it hangs
    #: up; one whose replies must be nothing but answers (echo) says nothing.
    idleNotice: ClassVar[str | None] = "* idle for {seconds:g} s; closing"

    peer = "?"
    _host = ""
    _framer: Framer
    _raw: RawFramer | None = None
    _terminator = b""
    _closing = False
    _end_of_input = False
    _held: list[Frame] | None = None
    _producer: IPushProducer | None = None
    _abort: IDelayedCall | None = None
    #: Whether L{admit} is the default, which admits every message (set for each
    #: subclass), so that the raw framing's common case need not call it.
    _admits_all: ClassVar[bool] = True

    def connectionMade(self) -> None:
        address = self.transport.getPeer()
        self.peer = describe_peer(address)
        self._host = peer_host(address)
        self._framer = self.factory.make_framer()
        self._raw = self._framer if isinstance(self._framer, RawFramer) else None
        self._terminator = CRLF if self.factory.framing == "line" else b""
        self._on_lost: list[Deferred[None]] = []
        _set_socket_options(self.transport)
        self._producer = self.output_producer()
        if self._producer is not None:
            self.transport.registerProducer(self._producer, True)
        self.factory.connection_opened(self, self._host)
        self.log.info("{peer} connected", peer=self.peer)
        if self.factory.idle_timeout:
            self.setTimeout(self.factory.idle_timeout)
        self.greet()

    def callLater(self, period: float, func: Callable[[], object]) -> IDelayedCall:
        """L{TimeoutMixin}'s seam: use the factory's clock, not the global reactor."""
        return self.factory.clock.callLater(period, func)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._admits_all = cls.admit is FramedServerProtocol.admit

    def dataReceived(self, data: bytes) -> None:
        counters = self.factory.counters
        counters.bytes_in += len(data)
        raw = self._raw
        if raw is None:
            self._deliver(self._framer.feed(data))
        elif (
            self._held is None
            and not self._closing
            and len(data) <= raw.max_line
            and self._admits_all
        ):
            # Raw framing's common case, what _offer does for it: the chunk is the
            # message, in no list of one and through no further call. Read every
            # time a socket is, so the test is inline.
            if self.timeOut is not None:
                self.resetTimeout()
            counters.messages_in += 1
            self.messageReceived(data)
        else:
            self._offer(raw.frame(data))

    def _deliver(self, frames: list[Frame]) -> None:
        """Offer frames in order (see L{_offer})."""
        for frame in frames:
            self._offer(frame)

    def _offer(self, frame: Frame) -> None:
        """
        Handle one frame: hold it (with those after it) if messages are held or
        L{admit} refuses it, drop it if the connection is closing, else answer it.
        Called for every message, so the common case goes straight through.
        """
        if self._held is not None:
            self._held.append(frame)
        elif self._closing:
            return
        elif frame is LINE_TOO_LONG:
            self.log.debug("{peer} sent an over-long line", peer=self.peer)
            self.send_error(self.too_long())
        elif not self.admit():
            self._held = [frame]
            self.transport.pauseProducing()
        else:
            assert isinstance(frame, bytes)
            # Only a complete message is activity: neither stray bytes nor refused
            # over-long lines keep a connection alive past its idle timeout.
            if self.timeOut is not None:
                self.resetTimeout()
            self.factory.counters.messages_in += 1
            self.messageReceived(frame)

    def resume_input(self) -> None:
        """Dispatch the messages held back by L{admit}, then read from the peer."""
        held, self._held = self._held, None
        if held is None or self._closing:
            return
        self._deliver(held)
        if self._held is None:
            if self._end_of_input:
                self.close_gracefully()
            else:
                self.transport.resumeProducing()

    def readConnectionLost(self) -> None:
        """The peer shut down its sending side: answer what it sent, then close."""
        self._end_of_input = True
        self._deliver(self._framer.finish())
        if self._held is None:
            self.close_gracefully()

    def writeConnectionLost(self) -> None:
        """Our sending side is shut: nothing more can be said, so close."""
        self.close_gracefully()

    def timeoutConnection(self) -> None:
        self.factory.counters.idle_closes += 1
        self.log.info(
            "{peer} idle for {timeout} s; closing",
            peer=self.peer,
            timeout=self.factory.idle_timeout,
        )
        if self.idleNotice is not None:
            self.send_text(self.idleNotice.format(seconds=self.factory.idle_timeout))
        self.close_gracefully()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.setTimeout(None)
        if self._abort is not None and self._abort.active():
            self._abort.cancel()
        self.factory.connection_closed(self, self._host)
        self.log.info(
            "{peer} disconnected: {reason}",
            peer=self.peer,
            reason=reason.getErrorMessage(),
        )
        waiting, self._on_lost = self._on_lost, []
        for deferred in waiting:
            deferred.callback(None)

    # Hooks for subclasses.

    def greet(self) -> None:
        """Called once the connection is set up; send a welcome here."""

    def messageReceived(self, message: bytes) -> None:
        """Called with each framed message, terminator removed."""
        raise NotImplementedError

    def admit(self) -> bool:
        """
        Whether the next message may be handled now. If not, reading from the peer
        pauses, and the message and those after it wait for L{resume_input}.
        """
        return True

    def too_long(self) -> str:
        """What a line over C{--max-line} is told (after C{error: })."""
        return f"line too long (max {self.factory.max_line} bytes)"

    def output_producer(self) -> IPushProducer | None:
        """
        The producer the transport pauses while the peer is not reading our output, and
        resumes once it has drained: by default the transport itself, which stops
        reading from that peer.
        """
        return self.transport

    def flush_output(self) -> None:
        """Called before closing: hand anything queued outside the transport to it."""

    # Helpers for subclasses.

    def decode(self, message: bytes) -> str:
        """The text of a message in the server's encoding (invalid bytes replaced)."""
        return decode(message, self.factory.encoding)

    def send_message(self, message: bytes) -> None:
        """Send one reply, followed by CRLF under line framing."""
        reply = message + self._terminator
        counters = self.factory.counters
        counters.messages_out += 1
        counters.bytes_out += len(reply)
        write_through(self.transport, reply)

    def send_text(self, text: str) -> None:
        """Encode a reply in the server's encoding and send it."""
        self.send_message(encode(text, self.factory.encoding))

    def send_error(self, text: str) -> None:
        """Send an C{error:} reply."""
        self.send_text(f"error: {text}")

    def abort(self) -> None:
        """Close at once, dropping unsent output, and handle no more input."""
        self._closing = True
        self.setTimeout(None)
        self.transport.abortConnection()

    def close_gracefully(self, shutdown: bool = False) -> Deferred[None]:
        """
        Stop handling input, flush what is queued, close; abort if the peer has not let
        the connection close after L{CLOSE_GRACE_PERIOD} seconds.

        @param shutdown: the server is stopping: send L{shutdownNotice} first.
        @return: fires when the connection has ended.
        """
        lost: Deferred[None] = Deferred()
        self._on_lost.append(lost)
        if not self._closing:
            self._closing = True
            self.setTimeout(None)
            if shutdown and self.shutdownNotice is not None:
                self.send_text(self.shutdownNotice)
            self.flush_output()
            if self._producer is not None:
                # A registered producer would hold the connection open forever.
                self.transport.unregisterProducer()
                self._producer = None
            # Scheduled first: a transport may report the loss from loseConnection.
            self._abort = self.callLater(
                CLOSE_GRACE_PERIOD, self.transport.abortConnection
            )
            self.transport.loseConnection()
        return lost


def _set_socket_options(transport: Any) -> None:
    """
    Where the transport is TCP (directly or under TLS): keepalive, so dead peers are
    found; and no Nagle delay, as asyncio does, because replies are sent as soon as
    they are written (L{write_through}) and a second small reply must not wait for
    the peer's delayed acknowledgement of the first.
    """
    with suppress(AttributeError, OSError):
        transport.setTcpKeepAlive(True)
        transport.setTcpNoDelay(True)
