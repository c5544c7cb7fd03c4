"""
The chat's contract across doors: IRC members and line-protocol members in the same
rooms, on both backends (one process, and a node of the Redis cluster).
"""

from __future__ import annotations

from itertools import count
from typing import Any

import pytest_twisted
from twisted.internet.testing import StringTransportWithDisconnection

from tests.support import connect, until
from tests.test_chat_contract import STAMP, Chat
from twisted_tcp.chat import texts
from twisted_tcp.chat.irc import IRCFactory
from twisted_tcp.chat.irc.message import Message, parse

_ports = count(51000)


class IRCMember:
    """An IRC client's protocol, and the messages written to it not read yet."""

    def __init__(self, reactor: Any, door: IRCFactory, nick: str, caps: str) -> None:
        self.reactor = reactor
        self.transport: StringTransportWithDisconnection
        self.protocol, self.transport = connect(door, port=next(_ports))
        self._read = 0
        if caps:
            self.send(f"CAP REQ :{caps}")
        self.send(f"NICK {nick}", "USER u 0 * :Real")
        if caps:
            self.send("CAP END")

    def send(self, *lines: str) -> None:
        self.protocol.dataReceived("".join(f"{line}\r\n" for line in lines).encode())

    def messages(self) -> list[Message]:
        text = self.transport.value().decode()
        return [parse(line) for line in text.split("\r\n")[:-1]]

    async def until(self, command: str, *params: str) -> list[Message]:
        """The messages not read yet, up to the first C{command} with C{params}."""

        def wanted(message: Message) -> bool:
            return (
                message.command == command and message.params[: len(params)] == params
            )

        await until(
            self.reactor, lambda: any(map(wanted, self.messages()[self._read :]))
        )
        new = self.messages()[self._read :]
        taken = new[: next(i for i, m in enumerate(new) if wanted(m)) + 1]
        self._read += len(taken)
        return taken


async def _irc(room: Chat, nick: str, caps: str = "") -> IRCMember:
    door = getattr(room, "irc_door", None) or IRCFactory(room.factory)
    room.irc_door = door  # type: ignore[attr-defined]
    member = IRCMember(room.reactor, door, nick, caps)
    await member.until("366")
    return member


@pytest_twisted.ensureDeferred
async def test_line_and_irc_members_talk(chat: Any) -> None:
    """An nc member's line reaches an IRC member as PRIVMSG from its mask, and the
    IRC member's PRIVMSG and ACTION reach the nc member in its own format."""
    room = await chat()
    bob = await room.join("bob")
    ann = await _irc(room, "ann")
    bob.say("hello ann", "/me waves")
    got = await ann.until("PRIVMSG", "#lobby", "\x01ACTION waves\x01")
    assert [(m.prefix, *m.params) for m in got if m.command == "PRIVMSG"] == [
        ("bob!bob@chat.twisted-tcp", "#lobby", "hello ann"),
        ("bob!bob@chat.twisted-tcp", "#lobby", "\x01ACTION waves\x01"),
    ]
    ann.send("PRIVMSG #lobby :\x02hi\x02 bob", "PRIVMSG #lobby :\x01ACTION nods\x01")
    assert (await bob.lines_until(texts.emote(STAMP, "ann", "nods")))[-2:] == [
        texts.said(STAMP, "ann", "hi bob"),
        texts.emote(STAMP, "ann", "nods"),
    ]


@pytest_twisted.ensureDeferred
async def test_rooms_topics_and_quits_across_doors(chat: Any) -> None:
    """JOIN, TOPIC and QUIT of an IRC member are the room's joins, topics and
    departures for nc members, and an nc member's are JOIN and PART for IRC."""
    room = await chat()
    bob = await room.join("bob")
    ann = await _irc(room, "ann")
    ann.send("JOIN #rust")
    await ann.until("366", "ann", "#rust")
    await bob.lines_until(texts.left("ann", "#lobby", "joined #rust"))
    bob.say("/join #rust")
    await ann.until("JOIN", "#rust")
    ann.send("TOPIC #rust :borrow checking", "QUIT :later")
    assert (await bob.lines_until(texts.left("ann", "#rust", "Quit: later")))[-2:] == [
        texts.topic_set("ann", "#rust", "borrow checking"),
        texts.left("ann", "#rust", "Quit: later"),
    ]


@pytest_twisted.ensureDeferred
async def test_private_messages_and_nicks_across_doors(chat: Any) -> None:
    """PRIVMSG to a nick reaches an nc member as /msg does; a taken nick is 433;
    an IRC rename is seen by nc members."""
    room = await chat()
    bob = await room.join("bob")
    ann = await _irc(room, "ann")
    ann.send("PRIVMSG bob :psst", "NICK BOB", "NICK annie")
    assert (await ann.until("NICK", "annie"))[-2:][0].params[:2] == ("ann", "BOB")
    assert texts.private_from(STAMP, "ann", "psst") in await bob.lines_until(
        texts.renamed("ann", "annie")
    )
