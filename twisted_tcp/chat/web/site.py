"""
The web site of C{twist tcp-chat --web}: the chat page's static files and, at C{/ws},
the WebSocket through which the page is a chat member.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final, cast

from autobahn.twisted.resource import WebSocketResource
from twisted.internet.interfaces import IAddress, IConsumer, IDelayedCall
from twisted.internet.protocol import Protocol, connectionDone
from twisted.logger import Logger
from twisted.protocols.policies import ProtocolWrapper, WrappingFactory
from twisted.python.failure import Failure
from twisted.web import pages, static
from twisted.web.resource import IResource
from twisted.web.server import Request, Site

from twisted_tcp._server import LimitedServerFactory, describe_peer, peer_host
from twisted_tcp.chat.web.origin import OriginPolicy
from twisted_tcp.chat.web.websocket import PING_INTERVAL, ChatWebSocketFactory

#: The page: HTML, CSS and plain JavaScript, served as they are.
STATIC: Final = Path(__file__).with_name("static")

#: Sent with every file. The page runs only its own script and style, talks only to
#: its own host, and cannot be framed by another site; browsers must not guess types;
#: and every load asks whether the file changed, so an upgraded server's page is
#: never mixed with a cached older script.
HEADERS: Final = {
    b"Content-Security-Policy": b"default-src 'none'; script-src 'self'; "
    b"style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; "
    b"form-action 'none'; frame-ancestors 'none'",
    b"X-Content-Type-Options": b"nosniff",
    b"Referrer-Policy": b"no-referrer",
    b"Cache-Control": b"no-cache",
}

#: Idle seconds after which an HTTP connection that is not a WebSocket is closed.
HTTP_TIMEOUT: Final = 60
#: Seconds a request may take to arrive whole, from its first byte to the last of its
#: head (and body): a client sending a byte now and then cannot hold a connection.
REQUEST_DEADLINE: Final = 20


class _PageFile(static.File):
    """A file of the page, sent with L{HEADERS}; directories are never listed."""

    contentTypes = {
        **static.File.contentTypes,
        ".html": "text/html; charset=utf-8",
        ".css": "text/css; charset=utf-8",
        ".js": "text/javascript; charset=utf-8",
        ".svg": "image/svg+xml",
    }

    def render(self, request: Request) -> bytes | int:
        for name, value in HEADERS.items():
            request.setHeader(name, value)
        result: bytes | int = super().render(request)
        return result

    # Twisted's default page does not escape the path it names.
    childNotFound = pages.notFound()  # type: ignore[assignment]

    def getChild(self, path: bytes, request: Request) -> IResource:
        try:
            child: IResource = super().getChild(path, request)
        except ValueError:  # A NUL byte (/%00): no file has such a name.
            return self.childNotFound
        return child

    def directoryListing(self) -> IResource:
        return pages.notFound()


class _WebSocketResource(WebSocketResource):
    """Where the page's WebSocket connects: the HTTP connection becomes a member."""

    def render(self, request: Request) -> bytes | int:
        transport = request.channel.transport
        if transport is not None:
            # The HTTP connection registered itself as its transport's producer; it
            # will serve no more requests, and the member registers its own.
            cast(IConsumer, transport).unregisterProducer()
            counted = cast(_CountedConnection, transport)
            counted.becomes_member()
            # The WebSocket takes the connection under the counting wrapper (TCP or
            # TLS), whose details (a TLS channel's) it reads.
            request.channel.transport = counted.transport
        result: bytes | int = super().render(request)
        return result


class _CountedConnection(ProtocolWrapper):
    """
    One HTTP connection to the page, counted in the chat's connection limits until
    it ends or becomes a WebSocket member (then counted as a member); each request on
    it must arrive whole within L{REQUEST_DEADLINE} seconds of its first byte.

    A response begins only once its request has arrived, so the first byte written
    after a request began is what ends its deadline.
    """

    log = Logger()
    factory: _CountedSite

    _deadline: IDelayedCall | None = None
    _member = False

    def connectionMade(self) -> None:
        self.factory.chat.hold(self, peer_host(self.getPeer()))
        super().connectionMade()

    def dataReceived(self, data: bytes) -> None:
        if self._deadline is None and not self._member:
            self._deadline = self.factory.chat.clock.callLater(
                REQUEST_DEADLINE, self._too_slow
            )
        super().dataReceived(data)

    def write(self, data: bytes) -> None:
        self._cancel_deadline()
        super().write(data)

    def writeSequence(self, data: Iterable[bytes]) -> None:
        self._cancel_deadline()
        super().writeSequence(data)

    def becomes_member(self) -> None:
        """The connection is a WebSocket now: its member is counted instead."""
        self._member = True
        self._cancel_deadline()
        self.factory.chat.release(self)

    def _too_slow(self) -> None:
        self._deadline = None
        self.log.info(
            "{peer} sent no whole request within {seconds} s; closing",
            peer=describe_peer(self.getPeer()),
            seconds=REQUEST_DEADLINE,
        )
        super().write(
            b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n"
            b"Content-Length: 0\r\n\r\n"
        )
        self.loseConnection()

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._cancel_deadline()
        self.factory.chat.release(self)
        super().connectionLost(reason)


class _HTTPRefusal(Protocol):
    """Answers a connection over a limit with 503 and the chat's error line."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def connectionMade(self) -> None:
        assert self.transport is not None
        body = f"error: {self.reason}\r\n".encode()
        self.transport.write(
            b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        self.transport.loseConnection()


class _CountedSite(WrappingFactory):
    """The page's site, its connections counted in the limits of C{chat}."""

    protocol = _CountedConnection
    noisy = False  # As the chat's factory (see LimitedServerFactory.noisy).

    def __init__(self, site: Site, chat: LimitedServerFactory) -> None:
        super().__init__(site)
        site.noisy = False
        self.chat = chat

    def logPrefix(self) -> str:
        """The logs name the site as they would without the counting."""
        return "Site"

    def buildProtocol(  # type: ignore[override]
        self, addr: IAddress | None
    ) -> Protocol | None:
        reason = self.chat.refusal(addr)
        if reason is not None:
            return _HTTPRefusal(reason)
        return super().buildProtocol(addr)


def chat_site(
    chat: LimitedServerFactory,
    origins: Iterable[str] = (),
    *,
    ping_interval: float = PING_INTERVAL,
    reactor: Any = None,
) -> WrappingFactory:
    """
    The chat page and its WebSocket, whose members come from C{chat}; its HTTP
    connections count in C{chat}'s connection limits.

    @param origins: origins of pages allowed to open the WebSocket besides the
        page's own host (C{--web-origin}).
    """
    websocket = ChatWebSocketFactory(
        chat, OriginPolicy(origins), ping_interval=ping_interval, reactor=reactor
    )
    root = _PageFile(str(STATIC))
    root.putChild(b"ws", _WebSocketResource(websocket))
    return _CountedSite(Site(root, timeout=HTTP_TIMEOUT, reactor=chat.clock), chat)
