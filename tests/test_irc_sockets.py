"""
The IRC door over real sockets, with Twisted's own IRC client
(L{twisted.words.protocols.irc.IRCClient}) as the client and a raw TCP line member
beside it.
"""

from __future__ import annotations

from typing import Any, cast

import pytest_twisted
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP4ServerEndpoint
from twisted.internet.protocol import Factory, Protocol
from twisted.words.protocols.irc import IRCClient

from tests.cluster_support import FAST, join, start_nodes
from tests.cluster_support import Client as LineClient
from tests.redis_support import free_port
from tests.support import until
from twisted_tcp.chat import ChatFactory, make_chat
from twisted_tcp.chat.irc import IRCFactory


class Client(IRCClient):
    """An IRC client that keeps what happened to it."""

    nickname = "ann"

    def __init__(self) -> None:
        self.events: list[tuple[str, ...]] = []

    def signedOn(self) -> None:
        self.events.append(("signed on",))
        self.join("#rust")

    def joined(self, channel: str) -> None:
        self.events.append(("joined", channel))

    def userJoined(self, user: str, channel: str) -> None:
        self.events.append(("user joined", user, channel))

    def privmsg(self, user: str, channel: str, message: str) -> None:
        self.events.append(("privmsg", user, channel, message))

    def action(self, user: str, channel: str, data: str) -> None:
        self.events.append(("action", user, channel, data))

    def topicUpdated(self, user: str, channel: str, newTopic: str) -> None:
        self.events.append(("topic", user, channel, newTopic))


class Line(Protocol):
    """A line-protocol member: what it was sent, as text."""

    def __init__(self) -> None:
        self.text = ""

    def dataReceived(self, data: bytes) -> None:
        self.text += data.decode()


@pytest_twisted.ensureDeferred
async def test_irc_client_and_line_member(reactor: Any) -> None:
    """Twisted's IRC client registers, joins, and talks with a line member over TCP;
    topics and actions cross too."""
    chat = ChatFactory(make_chat(reactor=reactor), clock=reactor, flood_rate=0)
    irc = IRCFactory(chat)
    ports = [
        await TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(factory)
        for factory in (chat, irc)
    ]
    line_port, irc_port = (port.getHost().port for port in ports)
    client = cast(
        Client,
        await TCP4ClientEndpoint(reactor, "127.0.0.1", irc_port).connect(
            Factory.forProtocol(Client)
        ),
    )
    line = cast(
        Line,
        await TCP4ClientEndpoint(reactor, "127.0.0.1", line_port).connect(
            Factory.forProtocol(Line)
        ),
    )
    assert client.transport is not None and line.transport is not None
    try:
        await until(reactor, lambda: ("joined", "#rust") in client.events)
        line.transport.write(b"/nick bob\n/join #rust\nhi ann\n/me waves\n")
        await until(reactor, lambda: any(e[0] == "action" for e in client.events))
        assert (
            "privmsg",
            "bob!bob@chat.twisted-tcp",
            "#rust",
            "hi ann",
        ) in client.events
        assert ("action", "bob!bob@chat.twisted-tcp", "#rust", "waves") in client.events
        client.msg("#rust", "hello bob")
        client.describe("#rust", "smiles")
        client.topic("#rust", "crabs")
        await until(reactor, lambda: "set the topic of #rust: crabs" in line.text)
        assert "<ann> hello bob" in line.text and "* ann smiles" in line.text
        await until(reactor, lambda: any(e[0] == "topic" for e in client.events))
    finally:
        client.transport.loseConnection()
        line.transport.loseConnection()
        chat.service.shutdown()
        for port in ports:
            await port.stopListening()


@pytest_twisted.ensureDeferred
async def test_irc_and_nc_members_on_two_nodes(
    reactor: Any, make_node: Any, clients: list[LineClient]
) -> None:
    """An IRC client on one node of a cluster and an nc member on another share a
    room: each sees the other's lines, joins and quits."""
    irc_port = free_port()
    a = make_node("a", *FAST)
    b = make_node("b", *FAST, "--irc", f"tcp:{irc_port}:interface=127.0.0.1")
    await start_nodes(reactor, [a, b])
    bob = await join(reactor, a, "bob")
    clients.append(bob)
    client = cast(
        Client,
        await TCP4ClientEndpoint(reactor, "127.0.0.1", irc_port).connect(
            Factory.forProtocol(Client)
        ),
    )
    assert client.transport is not None
    try:
        await until(reactor, lambda: ("joined", "#rust") in client.events)
        bob.send("/join #rust")
        await until(reactor, lambda: client.events[-1][:2] == ("user joined", "bob"))
        bob.send("hello from a")
        client.msg("#rust", "hello from b")
        await until(reactor, lambda: bob.has("<ann> hello from b"))
        await until(
            reactor,
            lambda: (
                ("privmsg", "bob!bob@chat.twisted-tcp", "#rust", "hello from a")
                in client.events
            ),
        )
        client.quit("bye")
        await until(reactor, lambda: bob.has("* ann left #rust (Quit: bye)"))
    finally:
        client.transport.loseConnection()
