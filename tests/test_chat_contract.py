"""
The chat's contract: every behaviour that does not depend on being one process, run
against both backends, the one-process L{LocalChat} and a node of the Redis cluster
(L{RedisChat} on a real redis-server), with the same input and the same expected
lines. Members are chat protocols over in-memory transports on the test's reactor, or
the chat page's WebSockets (frames made and read with websocket-client) over them.
"""

from __future__ import annotations

from itertools import count
from typing import Any

import pytest_twisted
from twisted.internet.address import IPv4Address
from twisted.internet.testing import StringTransportWithDisconnection

from tests.support import connect, until
from tests.test_chat_web import OPCODE_TEXT, TCPLikeTransport, frame, frames_of, request
from twisted_tcp.chat import ChatFactory, ChatProtocol, make_chat, texts
from twisted_tcp.chat.listing import MAX_LISTED
from twisted_tcp.chat.web import OriginPolicy
from twisted_tcp.chat.web.websocket import ChatWebSocket, ChatWebSocketFactory

_ports = count(50000)
#: A timestamp format without directives: every stamp is this text, on any backend.
STAMP = "T"


class Member:
    """A member's protocol, and the lines written to it that the test has not read."""

    def __init__(
        self, reactor: Any, factory: ChatFactory, host: str = "127.0.0.1"
    ) -> None:
        self.reactor = reactor
        self.protocol: ChatProtocol
        self.transport: StringTransportWithDisconnection
        self.protocol, self.transport = connect(factory, host, next(_ports))
        self._read = 0

    def all_lines(self) -> list[str]:
        return self.transport.value().decode().split("\r\n")[:-1]

    def say(self, *texts: str) -> None:
        """Lines from the member, as one read."""
        self.protocol.dataReceived("".join(f"{text}\n" for text in texts).encode())

    async def lines_until(self, last: str) -> list[str]:
        """The lines not read yet, up to and including the first that is C{last}."""
        await until(self.reactor, lambda: last in self.all_lines()[self._read :])
        new = self.all_lines()[self._read :]
        taken = new[: new.index(last) + 1]
        self._read += len(taken)
        return taken

    async def next_line(self) -> str:
        """The first line not read yet, once there is one."""
        await until(self.reactor, lambda: len(self.all_lines()) > self._read)
        self._read += 1
        return self.all_lines()[self._read - 1]

    async def has(self, line: str) -> None:
        await until(self.reactor, lambda: line in self.all_lines())

    @property
    def nick(self) -> str:
        return self.protocol.nick


class Browser(Member):
    """A member on the chat page: its WebSocket, a line in each text frame."""

    def __init__(self, reactor: Any, factory: ChatFactory) -> None:
        self.reactor = reactor
        peer = IPv4Address("TCP", "127.0.0.1", next(_ports))
        websockets = ChatWebSocketFactory(factory, OriginPolicy(), reactor=reactor)
        socket = websockets.buildProtocol(peer)
        assert isinstance(socket, ChatWebSocket)
        self.socket: ChatWebSocket = socket
        self.transport = TCPLikeTransport(peerAddress=peer)
        self.transport.protocol = socket
        socket.makeConnection(self.transport)
        socket.dataReceived(request())
        # The member protocol the WebSocket carries lines to and from.
        member = socket._member
        assert isinstance(member, ChatProtocol)
        self.protocol = member
        self._read = 0

    def all_lines(self) -> list[str]:
        _, _, sent = self.transport.value().partition(b"\r\n\r\n")
        frames, _ = frames_of(sent)
        return [data.decode() for opcode, data in frames if opcode == OPCODE_TEXT]

    def say(self, *texts: str) -> None:
        """Lines from the page, one frame each, as one read."""
        self.socket.dataReceived(b"".join(frame(text) for text in texts))


class Chat:
    """A chat of one backend, started, and the members connected to it."""

    def __init__(self, reactor: Any, redis_url: str | None, **options: Any) -> None:
        self.reactor = reactor
        max_send_queue = options.pop("max_send_queue", 1 << 20)
        flood = {
            "flood_rate": options.pop("flood_rate", 0),
            "flood_burst": options.pop("flood_burst", 10),
        }
        cluster: dict[str, Any] = {"redis": redis_url, "heartbeat": 0.2}
        if redis_url is None:
            cluster = {}
        self.chat = make_chat(
            reactor=reactor,
            arrival_grace=options.pop("arrival_grace", 0),
            timestamp_format=STAMP,
            **cluster,
            **options,
        )
        self.factory = ChatFactory(
            self.chat,
            clock=reactor,
            max_send_queue=max_send_queue,
            **flood,
        )
        self.members: list[Member] = []

    async def join(
        self, nick: str, host: str = "127.0.0.1", *, browser: bool = False
    ) -> Member:
        """
        A member (on the chat page if C{browser}) in the default room named C{nick};
        what it and the others there were told of its arrival is read.
        """
        others = [
            m for m in self.members if getattr(m.protocol.room, "key", "") == "#lobby"
        ]
        if browser:
            member: Member = Browser(self.reactor, self.factory)
            self.members.append(member)
            await until(self.reactor, lambda: member.protocol.room is not None)
        else:
            member = await self.connect(host)
        old = member.nick
        member.say(f"/nick {nick}")
        for each in (member, *others):
            await each.lines_until(texts.renamed(old, nick))
        return member

    async def connect(self, host: str = "127.0.0.1") -> Member:
        """A member in the default room, under its guest nick."""
        member = Member(self.reactor, self.factory, host)
        self.members.append(member)
        await until(self.reactor, lambda: member.protocol.room is not None)
        return member


@pytest_twisted.ensureDeferred
async def test_welcome_then_arrival(chat: Any) -> None:
    """A newcomer is welcomed under a guest nick; the others see it join."""
    room = await chat()
    alice = await room.join("alice")
    newcomer = await room.connect()
    await newcomer.has(texts.welcome(newcomer.nick))
    assert newcomer.nick.startswith("guest-")
    assert await alice.lines_until(texts.joined(newcomer.nick, "#lobby"))


@pytest_twisted.ensureDeferred
async def test_messages_reach_everyone_in_order(chat: Any) -> None:
    """Lines of two senders reach both, sender included, in one order for all."""
    room = await chat()
    alice, bob = await room.join("alice"), await room.join("bob")
    alice.say("a1", "a2", "/me waves")
    bob.say("b1")
    last = texts.said(STAMP, "bob", "b1")
    seen = [await alice.lines_until(last), await bob.lines_until(last)]
    assert seen[0] == seen[1]
    assert [line for line in seen[0] if "alice" in line] == [
        texts.said(STAMP, "alice", "a1"),
        texts.said(STAMP, "alice", "a2"),
        texts.emote(STAMP, "alice", "waves"),
    ]


@pytest_twisted.ensureDeferred
async def test_nick_rules(chat: Any) -> None:
    """/nick: announced; taken (ignoring case) names the holder; bad and own refused."""
    room = await chat()
    alice, bob = await room.join("alice"), await room.join("bob")
    bob.say("/nick ALICE")
    assert await bob.lines_until(f"error: {texts.nick_taken('ALICE', 'alice')}")
    bob.say("/nick 1x", "/nick admin", "/nick bob", "/nick Robert")
    assert await bob.lines_until(texts.renamed("bob", "Robert")) == [
        f"error: {texts.NICK_RULE}",
        f"error: {texts.nick_reserved('admin')}",
        texts.already_nick("bob"),
        texts.renamed("bob", "Robert"),
    ]
    assert (await alice.lines_until(texts.renamed("bob", "Robert")))[-1:] == [
        texts.renamed("bob", "Robert")
    ]


@pytest_twisted.ensureDeferred
async def test_private_messages(chat: Any) -> None:
    """/msg reaches its recipient in any room; an unknown nick is an error."""
    room = await chat()
    alice, bob = await room.join("alice"), await room.join("bob")
    bob.say("/join #side")
    await bob.lines_until(texts.now_in("#side", 1))
    await alice.lines_until(texts.left("bob", "#lobby", "joined #side"))
    alice.say("/msg BOB psst", "/msg nobody hi")
    assert await alice.lines_until(f"error: {texts.no_such_nick('nobody')}") == [
        texts.private_to(STAMP, "bob", "psst"),
        f"error: {texts.no_such_nick('nobody')}",
    ]
    assert await bob.lines_until(texts.private_from(STAMP, "alice", "psst"))


@pytest_twisted.ensureDeferred
async def test_join_then_part_shows_the_member_no_departure_of_its_own(
    chat: Any,
) -> None:
    """
    /join #x then /part: the member is told where it is now, and nothing of its
    own departure; those left in #x see it leave for the default room.
    """
    room = await chat()
    zoe, yan = await room.join("zoe"), await room.join("yan")
    yan.say("/join #x")
    await yan.lines_until(texts.now_in("#x", 1))
    await zoe.lines_until(texts.left("yan", "#lobby", "joined #x"))
    zoe.say("/join #x")
    assert await zoe.lines_until(texts.now_in("#x", 2)) == [texts.now_in("#x", 2)]
    zoe.say("/part")
    assert await zoe.lines_until(texts.now_in("#lobby", 1)) == [
        texts.now_in("#lobby", 1)
    ]
    assert await yan.lines_until(texts.left("zoe", "#x", "joined #lobby")) == [
        texts.joined("zoe", "#x"),
        texts.left("zoe", "#x", "joined #lobby"),
    ]


@pytest_twisted.ensureDeferred
async def test_room_errors(chat: Any) -> None:
    """/join without a room, a bad name, the room one is in; /part in the default."""
    room = await chat()
    alice = await room.join("alice")
    alice.say("/join", "/join x", "/join #LOBBY", "/part", "/who")
    assert await alice.lines_until("*   alice (since T)") == [
        f"error: {texts.JOIN_USAGE}",
        f"error: {texts.ROOM_RULE}",
        f"error: {texts.already_in('#lobby')}",
        f"error: {texts.in_default_room('#lobby')}",
        texts.who_header("#lobby", 1),
        "*   alice (since T)",
    ]


@pytest_twisted.ensureDeferred
async def test_topic_shown_set_and_given_to_newcomers(chat: Any) -> None:
    """A bare /topic shows it; /topic TEXT tells the room; a newcomer is shown it."""
    room = await chat()
    alice = await room.join("alice")
    alice.say("/join #t", "/topic")
    assert await alice.lines_until(texts.topic_of("#t", "")) == [
        texts.now_in("#t", 1),
        texts.topic_of("#t", ""),
    ]
    alice.say("/topic tea time", "/topic")
    assert await alice.lines_until(texts.topic_of("#t", "tea time")) == [
        texts.topic_set("alice", "#t", "tea time"),
        texts.topic_of("#t", "tea time"),
    ]
    bob = await room.join("bob")
    bob.say("/join #T")
    assert await bob.lines_until(texts.topic_of("#t", "tea time")) == [
        texts.now_in("#t", 2),
        texts.topic_of("#t", "tea time"),
    ]


@pytest_twisted.ensureDeferred
async def test_who_and_rooms(chat: Any) -> None:
    """/who lists the room's members by nick; /rooms the rooms, with topics."""
    room = await chat()
    bob, alice = await room.join("bob"), await room.join("alice")
    bob.say("/join #b", "/topic bees")
    await bob.lines_until(texts.topic_set("bob", "#b", "bees"))
    await alice.lines_until(texts.left("bob", "#lobby", "joined #b"))
    alice.say("/who", "/rooms")
    assert await alice.lines_until(texts.rooms_entry("#lobby", 1, "")) == [
        texts.who_header("#lobby", 1),
        "*   alice (since T)",
        texts.rooms_header(2),
        texts.rooms_entry("#b", 1, "bees"),
        texts.rooms_entry("#lobby", 1, ""),
    ]


@pytest_twisted.ensureDeferred
async def test_who_lists_at_most_max_listed(chat: Any) -> None:
    """
    /who in a room of more than MAX_LISTED members lists the first of them by nick,
    then how many it left out.
    """
    room = await chat()
    members = [Member(room.reactor, room.factory) for _ in range(MAX_LISTED + 2)]
    room.members += members
    await until(room.reactor, lambda: all(m.protocol.room for m in members))
    asker = members[0]
    asker.say("/who")
    header = texts.who_header("#lobby", MAX_LISTED)
    got = await asker.lines_until(texts.unlisted(2, ""))
    first = sorted((member.nick for member in members), key=str.casefold)
    assert got[got.index(header) :] == [
        header,
        *(texts.who_entry(nick, STAMP) for nick in first[:MAX_LISTED]),
        texts.unlisted(2, ""),
    ]


@pytest_twisted.ensureDeferred
async def test_a_browser_is_a_member_like_any_other(chat: Any) -> None:
    """
    A member on the chat page (over its WebSocket) is named, and exchanges
    messages, private messages and /who with the others.
    """
    room = await chat()
    alice = await room.join("alice")
    carol = await room.join("carol", browser=True)
    carol.say("hello from the page")
    said = texts.said(STAMP, "carol", "hello from the page")
    assert await carol.next_line() == said
    assert await alice.lines_until(said) == [said]
    alice.say("/msg carol psst")
    assert await carol.next_line() == texts.private_from(STAMP, "alice", "psst")
    carol.say("/who")
    assert await carol.lines_until(texts.who_entry("carol", STAMP)) == [
        texts.who_header("#lobby", 2),
        texts.who_entry("alice", STAMP),
        texts.who_entry("carol", STAMP),
    ]


@pytest_twisted.ensureDeferred
async def test_history_replayed_to_newcomers(chat: Any) -> None:
    """Whoever joins a room is shown its last messages, oldest first."""
    room = await chat(history=2)
    alice = await room.join("alice")
    alice.say("/join #h", "one", "two", "three")
    await alice.lines_until(texts.said(STAMP, "alice", "three"))
    bob = await room.join("bob")
    bob.say("/join #h")
    assert await bob.lines_until(texts.said(STAMP, "alice", "three")) == [
        texts.now_in("#h", 2),
        texts.said(STAMP, "alice", "two"),
        texts.said(STAMP, "alice", "three"),
    ]


@pytest_twisted.ensureDeferred
async def test_quit_reason_seen_by_the_room(chat: Any) -> None:
    """/quit REASON: the member is told goodbye, the room why it left."""
    room = await chat()
    alice, bob = await room.join("alice"), await room.join("bob")
    bob.say("/quit off to bed")
    assert await bob.lines_until(texts.BYE) == [texts.BYE]
    assert (await alice.lines_until(texts.left("bob", "#lobby", "off to bed")))[
        -1:
    ] == [texts.left("bob", "#lobby", "off to bed")]


@pytest_twisted.ensureDeferred
async def test_slow_reader_dropped_and_the_room_told(chat: Any) -> None:
    """A member that does not read is dropped past its queue; the room is told."""
    room = await chat(max_send_queue=300)
    alice, bob = await room.join("alice"), await room.join("bob")
    bob.protocol.pauseProducing()
    for number in range(10):
        alice.say(f"line {number} " + "x" * 40)
    dropped = texts.dropped("bob", texts.QUEUE_EXCEEDED)
    await alice.has(dropped)
    assert bob.transport.disconnected or not bob.transport.connected


@pytest_twisted.ensureDeferred
async def test_nick_race_has_one_winner(chat: Any) -> None:
    """Two members asking for one nick at once: one gets it, the other is told who."""
    room = await chat()
    alice, bob = await room.join("alice"), await room.join("bob")
    alice.say("/nick Zed")
    bob.say("/nick zed")
    await until(
        room.reactor, lambda: "zed" in (alice.nick.casefold(), bob.nick.casefold())
    )
    winner, loser = (alice, bob) if alice.nick == "Zed" else (bob, alice)
    asked = "zed" if loser is bob else "Zed"
    await loser.has(f"error: {texts.nick_taken(asked, winner.nick)}")
    assert loser.nick in ("alice", "bob")


@pytest_twisted.ensureDeferred
async def test_flood_is_paced_not_dropped(chat: Any) -> None:
    """Past the burst, a member's lines go out at the flood rate, all, in order."""
    # A rate low enough that a stall of a busy machine between two lines does not
    # refill the bucket (0.4 s) and start a second burst with its own notice.
    room = await chat(flood_rate=5, flood_burst=2)
    alice = await room.join("alice")
    alice.say(*(f"n{number}" for number in range(6)))
    last = texts.said(STAMP, "alice", "n5")
    got = await alice.lines_until(last)
    assert [line for line in got if line != texts.paced(5)] == [
        texts.said(STAMP, "alice", f"n{number}") for number in range(6)
    ]
    assert got.count(texts.paced(5)) == 1
