"""
Helpers for the IRC tests: IRC clients of a chat served on a test clock, over
in-memory transports, and what they were sent, parsed.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.testing import StringTransportWithDisconnection

from tests.chat_support import chat_factory
from tests.support import connect
from twisted_tcp.chat import ChatFactory, ChatProtocol
from twisted_tcp.chat.irc import IRCFactory
from twisted_tcp.chat.irc.message import Message, parse


class IRCHarness:
    """A chat with its IRC door, on a test clock."""

    def __init__(self, irc: dict[str, Any] | None = None, **options: Any) -> None:
        options.setdefault("timestamp_format", "%Y/%m/%d %H:%M:%S")
        self.chat: ChatFactory
        self.chat, self.clock = chat_factory(**options)
        self.irc = IRCFactory(self.chat, **(irc or {}))
        self._ports = iter(range(41000, 50000))

    def client(self) -> Client:
        return Client(self, *connect(self.irc, port=next(self._ports)))

    def registered(self, nick: str, caps: str = "") -> Client:
        """A client registered as C{nick} (with C{caps}), its welcome read."""
        client = self.client()
        if caps:
            client.send(f"CAP REQ :{caps}")
        client.send(f"NICK {nick}", "USER u 0 * :Real Name")
        if caps:
            client.send("CAP END")
        client.read()
        return client

    def line_member(self) -> tuple[ChatProtocol, StringTransportWithDisconnection]:
        protocol, transport = connect(self.chat, port=next(self._ports))
        return protocol, transport


class Client:
    """An IRC client's protocol, and the messages it was sent."""

    def __init__(
        self,
        harness: IRCHarness,
        protocol: Any,
        transport: StringTransportWithDisconnection,
    ) -> None:
        self.harness = harness
        self.protocol = protocol
        self.transport = transport

    def send(self, *lines: str) -> None:
        """Lines from the client, as one read."""
        self.protocol.dataReceived("".join(f"{line}\r\n" for line in lines).encode())

    def raw(self) -> bytes:
        self.harness.clock.advance(0)
        data = self.transport.value()
        self.transport.clear()
        return data

    def read(self) -> list[Message]:
        """The messages sent since the last read, once the reactor turn has ended."""
        data = self.raw()
        assert data == b"" or data.endswith(b"\r\n")
        return [parse(line) for line in data.decode().split("\r\n")[:-1]]

    def commands(self) -> list[tuple[str, ...]]:
        """What L{read} returns, each as its command and parameters."""
        return [(m.command, *m.params) for m in self.read()]
