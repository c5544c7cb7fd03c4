"""
Browser members: each WebSocket connection is a chat member like a TCP one.

Every WebSocket gets an ordinary protocol from the chat's own factory (so the same
nicks, rooms, commands, history, connection limits, idle timeout, flood control and
slow-reader drops), connected to a L{LineFrameTransport} instead of a TCP transport:
each text frame the browser sends is one line of the chat's line protocol, and each
line the protocol writes goes out as one text frame (see C{docs/chat-web.md}).

Flow control is the real TCP connection's under the WebSocket: a producer registered
on the L{LineFrameTransport} is registered on that connection, so the member learns
when the browser stops reading exactly as a TCP member does; and pausing the
L{LineFrameTransport} stops reading from the browser.
"""

from __future__ import annotations

from typing import Any, Final, cast

from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from autobahn.websocket.types import ConnectionDeny, ConnectionRequest
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import (
    IAddress,
    IConsumer,
    IDelayedCall,
    IProducer,
    IPushProducer,
    ITransport,
)
from twisted.internet.protocol import Protocol, connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from twisted_tcp._server import (
    CLOSE_GRACE_PERIOD,
    FramedServerProtocol,
    IServerTransport,
    LimitedServerFactory,
    describe_peer,
)
from twisted_tcp._text import CRLF
from twisted_tcp.chat.web.origin import OriginPolicy

#: Seconds between pings; a browser that has not answered the last ping by the next
#: one is gone (its tab was killed, its network dropped) and is disconnected.
PING_INTERVAL: Final = 30.0


@implementer(ITransport, IConsumer, IPushProducer)
class LineFrameTransport:
    """
    The transport a browser member's protocol writes to: CRLF-ended lines become text
    frames; everything about the connection itself is the TCP connection's.
    """

    reading_paused = False

    def __init__(self, websocket: ChatWebSocket, connection: IServerTransport) -> None:
        self._websocket = websocket
        self._connection = connection
        self._partial = b""

    def write(self, data: bytes) -> None:
        """Send each complete line as one text frame; ignored once closing."""
        if not self._websocket.can_send():
            return
        *lines, self._partial = (self._partial + data).split(CRLF)
        for line in lines:
            self._websocket.send_line(line)

    def writeSequence(self, data: Any) -> None:
        self.write(b"".join(data))

    def loseConnection(self) -> None:
        """Close the WebSocket cleanly once what was written has been sent."""
        if self._websocket.can_send():
            self._websocket.sendClose(1000)

    def abortConnection(self) -> None:
        self._connection.abortConnection()

    def getPeer(self) -> IAddress:
        return self._connection.getPeer()

    def getHost(self) -> IAddress:
        return self._connection.getHost()

    def setTcpKeepAlive(self, enabled: bool) -> None:
        self._connection.setTcpKeepAlive(enabled)

    def setTcpNoDelay(self, enabled: bool) -> None:
        self._connection.setTcpNoDelay(enabled)

    # IConsumer: the member's output producer hears about the TCP send buffer.

    def registerProducer(self, producer: IProducer, streaming: bool) -> None:
        self._connection.registerProducer(producer, streaming)

    def unregisterProducer(self) -> None:
        self._connection.unregisterProducer()

    # IPushProducer: the member holds the browser's input back (flood control).

    def pauseProducing(self) -> None:
        self.reading_paused = True
        self._connection.pauseProducing()

    def resumeProducing(self) -> None:
        self.reading_paused = False
        self._connection.resumeProducing()

    def stopProducing(self) -> None:
        self._connection.stopProducing()


class ChatWebSocket(WebSocketServerProtocol):
    """
    One browser's WebSocket: checks its C{Origin}, then carries lines between the
    browser and the member protocol built for it, and pings it.
    """

    log = Logger()
    factory: ChatWebSocketFactory

    _member: Protocol | None = None
    _lines: FramedServerProtocol | None = None
    _frames: LineFrameTransport | None = None
    _pinger: IDelayedCall | None = None
    _awaiting_pong = False
    _binary = False
    _too_long = False

    def onConnect(self, request: ConnectionRequest) -> None:
        origin = request.headers.get("origin")
        if not self.factory.origins.allows(origin, request.headers.get("host")):
            self.log.warn(
                "{peer} refused: WebSocket from origin {origin} not allowed",
                peer=self.describe_peer(),
                origin=origin,
            )
            raise ConnectionDeny(ConnectionDeny.FORBIDDEN, "origin not allowed")

    def describe_peer(self) -> str:
        """The browser's address, for logs."""
        return describe_peer(self.transport.getPeer() if self.transport else None)

    def onOpen(self) -> None:
        connection = cast(IServerTransport, self.transport)
        self._frames = LineFrameTransport(self, connection)
        self._line = bytearray()
        chat = self.factory.chat
        member = chat.buildProtocol(connection.getPeer())
        if member is None:
            self.dropConnection(abort=True)
            return
        self._member = member
        if isinstance(member, FramedServerProtocol):
            self._lines = member
        member.makeConnection(self._frames)
        if self.can_send():
            self._pinger = chat.clock.callLater(self.factory.ping_interval, self._ping)

    def can_send(self) -> bool:
        """Whether frames may still be sent (no close begun)."""
        return bool(self.state == self.STATE_OPEN)

    def send_line(self, line: bytes) -> None:
        """Send one line, in the chat's encoding, as a text frame."""
        encoding = self.factory.chat.encoding
        if encoding != "utf-8":
            line = line.decode(encoding, "replace").encode("utf-8")
        self.sendMessage(line)

    # Incoming messages, taken frame data by frame data so that memory stays bounded
    # by the line limit whatever a frame's announced length.

    def onMessageBegin(self, isBinary: bool) -> None:
        self._binary = isBinary
        self._too_long = False
        self._line.clear()

    def onMessageFrameBegin(self, length: int) -> None:
        """The frames of one message are one line: nothing to do per frame."""

    def onMessageFrameData(self, payload: bytes) -> None:
        if self._binary or self._too_long:
            return
        if len(self._line) + len(payload) > self.factory.chat.max_line:
            self._too_long = True
            self._line.clear()
        else:
            self._line += payload

    def onMessageFrameEnd(self) -> None:
        """See L{onMessageFrameBegin}."""

    def onMessageEnd(self) -> None:
        if self._lines is None:
            return
        limit = self.factory.chat.max_line
        if self._binary:
            self._lines.send_error("binary messages are not accepted; send text")
        elif self._too_long:
            # Handed over as the over-long line it is, so the member gets the very
            # error a TCP member gets, in order with its other lines.
            self._lines.dataReceived(bytes(limit + 1) + b"\n")
        elif b"\n" in self._line or b"\r" in self._line:
            self._lines.send_error("a message is one line (no CR or LF)")
        else:
            line = bytes(self._line)
            encoding = self.factory.chat.encoding
            if encoding != "utf-8":
                line = line.decode("utf-8").encode(encoding, "replace")
            self._lines.dataReceived(line + b"\n")
        self._line.clear()

    # Pings: a browser answers them by itself, so a missing answer means it is gone.

    def _ping(self) -> None:
        self._pinger = self.factory.chat.clock.callLater(
            self.factory.ping_interval, self._ping
        )
        assert self._frames is not None
        if self._frames.reading_paused:
            # Its input is held back (flood control), and its answer with it.
            self._awaiting_pong = False
        elif self._awaiting_pong:
            self.log.info(
                "{peer} did not answer a ping; closing",
                peer=self.describe_peer(),
            )
            self.dropConnection(abort=True)
        else:
            self._awaiting_pong = True
            self.sendPing()

    def onPong(self, payload: bytes) -> None:
        self._awaiting_pong = False

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if self._pinger is not None and self._pinger.active():
            self._pinger.cancel()
        super().connectionLost(reason)
        member, self._member = self._member, None
        if member is not None:
            if self.wasClean:
                # After a WebSocket close handshake the server aborts the TCP
                # connection (RFC 6455 has it close first); for the member it is a
                # clean end.
                reason = Failure(ConnectionDone("WebSocket closed"))
            member.connectionLost(reason)


class ChatWebSocketFactory(WebSocketServerFactory):
    """
    Makes a L{ChatWebSocket} for each browser, whose member protocol comes from
    C{chat}, the factory that also serves the TCP members.

    @param origins: which pages may open a WebSocket.
    @param ping_interval: seconds between pings (see L{PING_INTERVAL}).
    @param reactor: runs the WebSocket close handshake's timeout.
    """

    # Twisted's Factory types this for its own protocols; autobahn's do not match it.
    protocol = ChatWebSocket  # type: ignore[assignment]

    def __init__(
        self,
        chat: LimitedServerFactory,
        origins: OriginPolicy,
        ping_interval: float = PING_INTERVAL,
        reactor: Any = None,
    ) -> None:
        super().__init__(server=None, reactor=reactor)
        self.chat = chat
        self.origins = origins
        self.ping_interval = ping_interval
        self.setProtocolOptions(
            # No server status page for plain GETs, and a peer that does not answer
            # a close gets as long to read its last lines as a TCP member does.
            # An Origin of null is for the origin policy to judge, as any other.
            webStatus=False,
            allowNullOrigin=True,
            closeHandshakeTimeout=CLOSE_GRACE_PERIOD,
        )
