"""
A scripted HTTP server for the client's tests: each request's head is recorded and
answered by a function of it, then the connection ends as the answer says (closed,
reset, or left open), so a test can stage a fault at any point of an exchange.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from twisted.internet.interfaces import IListeningPort
from twisted.internet.protocol import Factory, Protocol

from ..support import port_of, stop


@dataclass(frozen=True)
class Answer:
    """Bytes to send, then how the connection ends."""

    data: bytes
    end: Literal["close", "reset", "stall"] = "close"


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
        elif answer.end == "reset":
            self.transport.abortConnection()  # type: ignore[attr-defined]


class ScriptedServer:
    """Listens on 127.0.0.1; C{answer} decides each reply; C{requests} records."""

    def __init__(self, reactor: Any, answer: Callable[[Request], Answer]) -> None:
        self.answer = answer
        self.requests: list[Request] = []
        self.open: set[_Exchange] = set()
        self.port: IListeningPort = reactor.listenTCP(
            0, Factory.forProtocol(lambda: _Exchange(self)), interface="127.0.0.1"
        )
        self.url = f"http://127.0.0.1:{port_of(self.port)}"

    async def stop(self) -> None:
        """Stop listening; cut the connections left open."""
        for exchange in list(self.open):
            assert exchange.transport is not None
            exchange.transport.abortConnection()  # type: ignore[attr-defined]
        await stop(self.port)
