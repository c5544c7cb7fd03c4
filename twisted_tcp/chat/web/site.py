"""
The web site of C{twist tcp-chat --web}: the chat page's static files and, at C{/ws},
the WebSocket through which the page is a chat member.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final, cast

from autobahn.twisted.resource import WebSocketResource
from twisted.internet.interfaces import IConsumer
from twisted.web import pages, static
from twisted.web.resource import IResource
from twisted.web.server import Request, Site

from twisted_tcp._server import LimitedServerFactory
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
        result: bytes | int = super().render(request)
        return result


def chat_site(
    chat: LimitedServerFactory,
    origins: Iterable[str] = (),
    *,
    ping_interval: float = PING_INTERVAL,
    reactor: Any = None,
) -> Site:
    """
    The chat page and its WebSocket, whose members come from C{chat}.

    @param origins: origins of pages allowed to open the WebSocket besides the
        page's own host (C{--web-origin}).
    """
    websocket = ChatWebSocketFactory(
        chat, OriginPolicy(origins), ping_interval=ping_interval, reactor=reactor
    )
    root = _PageFile(str(STATIC))
    root.putChild(b"ws", _WebSocketResource(websocket))
    return Site(root, timeout=HTTP_TIMEOUT)
