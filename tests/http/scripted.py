"""
A scripted HTTP server for the client's tests: each request's head is recorded and
answered by a function of it, then the connection is closed or left open; a test
resets the open ones (L{ScriptedServer.reset}) when the client has read what it
was sent, so a fault can be staged at any point of an exchange.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from twisted.internet import ssl
from twisted.internet.interfaces import IListeningPort
from twisted.internet.protocol import Factory, Protocol

from ..support import port_of, stop


@dataclass(frozen=True)
class Answer:
    """Bytes to send, then whether the connection is closed or left open."""

    data: bytes
    end: Literal["close", "stall"] = "close"


@dataclass(frozen=True)
class Request:
    """A request head as received: its target and its fields (names lower case)."""

    raw: bytes
    target: str
    fields: dict[str, str]


def parse_request(raw: bytes) -> Request:
    """Split a request head into its target and fields."""
    lines = raw.decode("latin-1").split("\r\n")
    target = lines[0].split(" ")[1]
    fields = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    return Request(raw, target, fields)


class _Exchange(Protocol):
    def __init__(self, server: ScriptedServer) -> None:
        self.server = server
        self.buffer = b""

    def connectionMade(self) -> None:
        self.server.open.add(self)

    def connectionLost(self, reason: Any = None) -> None:
        self.server.open.discard(self)

    def dataReceived(self, data: bytes) -> None:
        assert self.transport is not None
        self.buffer += data
        head, found, self.buffer = self.buffer.partition(b"\r\n\r\n")
        if not found:
            self.buffer = head
            return
        request = parse_request(head)
        self.server.requests.append(request)
        answer = self.server.answer(request)
        self.transport.write(answer.data)
        if answer.end == "close":
            self.transport.loseConnection()


class ScriptedServer:
    """Listens on 127.0.0.1; C{answer} decides each reply; C{requests} records."""

    def __init__(
        self,
        reactor: Any,
        answer: Callable[[Request], Answer],
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        """With C{tls} (a key and its certificate), the server speaks HTTPS."""
        self.answer = answer
        self.requests: list[Request] = []
        self.open: set[_Exchange] = set()
        factory = Factory.forProtocol(lambda: _Exchange(self))
        if tls is None:
            self.port: IListeningPort = reactor.listenTCP(
                0, factory, interface="127.0.0.1"
            )
        else:
            key, certificate = tls
            options = ssl.PrivateCertificate.loadPEM(
                certificate.read_bytes() + key.read_bytes()
            ).options()
            self.port = reactor.listenSSL(0, factory, options, interface="127.0.0.1")
        scheme = "http" if tls is None else "https"
        self.url = f"{scheme}://127.0.0.1:{port_of(self.port)}"

    def reset(self) -> None:
        """Reset (RST) every connection left open."""
        for exchange in list(self.open):
            assert exchange.transport is not None
            exchange.transport.abortConnection()  # type: ignore[attr-defined]

    def reset_at(self, size: int) -> Callable[[int], None]:
        """An C{on_progress} hook: L{reset} once the client has C{size} bytes."""

        def progress(received: int) -> None:
            if received == size:
                self.reset()

        return progress

    async def stop(self) -> None:
        """Stop listening; reset the connections left open."""
        self.reset()
        await stop(self.port)
