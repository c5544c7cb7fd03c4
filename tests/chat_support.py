"""
Helpers for the chat tests: a chat factory on a test clock whose members are
protocols over in-memory transports.
"""

from __future__ import annotations

import inspect
import time
from typing import Any

from twisted.internet.task import Clock
from twisted.internet.testing import StringTransportWithDisconnection

from twisted_tcp.chat import ChatFactory, ChatProtocol, LocalChat, make_chat

from .support import clock_of, connect
from .support import take as take_now


class ChatHarness:
    """A chat factory on a test clock, with helpers to connect and read clients."""

    def __init__(self, **options: Any) -> None:
        self.factory, self.clock = chat_factory(**options)
        self._ports = iter(range(40000, 50000))

    @property
    def chat(self) -> LocalChat:
        return local_chat(self.factory)

    def join(self) -> tuple[ChatProtocol, StringTransportWithDisconnection]:
        protocol, transport = connect(self.factory, port=next(self._ports))
        return protocol, transport

    def stamp(self) -> str:
        return time.strftime("%Y/%m/%d %H:%M:%S", time.localtime(self.clock.seconds()))


#: The options that describe the chat itself (see L{make_chat}), not its server.
CHAT_OPTIONS = frozenset(inspect.signature(make_chat).parameters) - {"encoding"}


def chat_factory(**options: Any) -> tuple[ChatFactory, Clock]:
    """
    A chat factory and its chat, on a test clock, from the options of both:
    newcomers announced at once and no flood limit, unless told otherwise.
    """
    clock = Clock()
    options.setdefault("flood_rate", 0)
    options.setdefault("arrival_grace", 0)
    chat_options = {name: options.pop(name) for name in CHAT_OPTIONS & set(options)}
    encoding = options.pop("encoding", "utf-8")
    chat = make_chat(encoding=encoding, reactor=clock, **chat_options)
    return ChatFactory(chat, clock=clock, **options), clock


def local_chat(factory: ChatFactory) -> LocalChat:
    """The one-process chat service of a factory."""
    service = factory.service
    assert isinstance(service, LocalChat)
    return service


def take(transport: StringTransportWithDisconnection) -> bytes:
    """
    What was written to a client since the last call, once the reactor turn in
    which it was posted has ended (rooms deliver at the end of a turn).
    """
    protocol = transport.protocol
    assert isinstance(protocol, ChatProtocol)
    clock_of(protocol.factory).advance(0)
    return take_now(transport)


def lines(transport: StringTransportWithDisconnection) -> list[str]:
    """The lines written to a client since the last call, decoded."""
    data = take(transport)
    assert data == b"" or data.endswith(b"\r\n")
    return data.decode().split("\r\n")[:-1]


def say(protocol: ChatProtocol, *texts: str) -> None:
    """Send lines from a member, as one read."""
    protocol.dataReceived("".join(f"{text}\n" for text in texts).encode())
