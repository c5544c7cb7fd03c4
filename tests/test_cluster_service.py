"""
Tests for L{twisted_tcp.chat.cluster.service}: a node's service in the test's process
on a real redis-server, its members chat protocols over in-memory transports, so that
a test can hold back the answers of Redis or the node's reader and play out exactly
the order of events it is about (see C{docs/cluster.md}).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from itertools import count
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet.task import deferLater
from twisted.internet.testing import StringTransportWithDisconnection
from twisted.logger import capturedLogs, formatEvent

from tests.redis_support import RedisServer
from tests.support import connect, until
from twisted_tcp.chat import ChatFactory, ChatProtocol, make_chat
from twisted_tcp.chat.cluster.service import RedisChat
from twisted_tcp.chat.listing import MAX_LISTED
from twisted_tcp.chat.texts import RESTORED

_ports = count(40000)


class Member:
    """A member's protocol and the lines written to it so far."""

    def __init__(self, factory: ChatFactory) -> None:
        self.protocol: ChatProtocol
        self.transport: StringTransportWithDisconnection
        self.protocol, self.transport = connect(factory, port=next(_ports))

    @property
    def lines(self) -> list[str]:
        return self.transport.value().decode().split("\r\n")[:-1]

    def has(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    def say(self, *texts: str) -> None:
        """Lines from the member, as one read."""
        self.protocol.dataReceived("".join(f"{text}\n" for text in texts).encode())

    @property
    def nick(self) -> str:
        return self.protocol.nick

    @property
    def gone(self) -> bool:
        return bool(self.transport.disconnected or not self.transport.connected)


class Node:
    """A node's service and chat factory in this process, on the test's Redis."""

    def __init__(
        self,
        reactor: Any,
        redis: RedisServer,
        max_send_queue: int = 1 << 20,
        **options: Any,
    ) -> None:
        options.setdefault("arrival_grace", 0)
        self.reactor = reactor
        chat = make_chat(redis=redis.url, reactor=reactor, heartbeat=0.2, **options)
        assert isinstance(chat, RedisChat)
        self.chat = chat
        self.factory = ChatFactory(
            chat,
            clock=reactor,
            flood_rate=0,
            max_send_queue=max_send_queue,
        )
        self.members: list[Member] = []

    def connect(self) -> Member:
        """A new member, connected: the node is yet to put it in a room."""
        member = Member(self.factory)
        self.members.append(member)
        return member

    async def join(self) -> Member:
        """A new member, once it is in the default room."""
        member = self.connect()
        await until(self.reactor, lambda: member.protocol.room is not None)
        return member

    async def redis(self, *command: str | int) -> Any:
        """
        A command to Redis on the node's own connection: it is answered after
        everything the node sent before it.
        """
        return await self.chat._execute(*command)

    def link(self, which: str) -> Any:
        """The transport of the node's command or reader connection to Redis."""
        link = self.chat.command if which == "command" else self.chat._reader_link
        return link._connection.transport


@pytest_twisted.async_yield_fixture
async def nodes(
    reactor: Any, redis_server: RedisServer
) -> AsyncIterator[Callable[..., Any]]:
    """Make started nodes; every one is stopped after the test."""
    made: list[Node] = []

    async def make(**options: Any) -> Node:
        node = Node(reactor, redis_server, **options)
        made.append(node)
        node.chat.startService()
        await until(reactor, lambda: node.chat.available)
        return node

    yield make
    for node in made:
        for member in node.members:
            member.transport.loseConnection()
        node.chat.shutdown()
        await node.chat.stopService()


async def in_room(reactor: Any, member: Member, key: str) -> None:
    """Wait until C{member} is in room C{key} on its node."""
    await until(reactor, lambda: getattr(member.protocol.room, "key", None) == key)


@pytest_twisted.ensureDeferred
async def test_member_dropped_by_its_move_notice_is_in_no_room(
    reactor: Any, nodes: Any
) -> None:
    """
    A member whose queue overflows with the "you are now in" line is dropped and
    left behind nowhere: not in the node's room, not in Redis's lists of the room's
    or the node's members; the room, empty, is no longer read.
    """
    node = await nodes(max_send_queue=200)
    alice, bob = await node.join(), await node.join()
    await until(reactor, lambda: alice.has(f"* {bob.nick} joined #lobby"))
    alice.protocol.pauseProducing()
    bob.say("x" * 140)  # Queues 174 bytes for alice: the notice takes her past 200.
    await until(reactor, lambda: bob.has("x" * 140))
    alice.say("/join #new")
    await until(reactor, lambda: alice.gone)
    keys = node.chat.keys
    # Asked after the node told Redis of the drop, on the same connection.
    assert await node.redis("HLEN", keys.room_members("#new")) == 0
    assert (
        await node.redis("HEXISTS", keys.node(node.chat.node) + ":members", alice.nick)
        == 0
    )
    assert await node.redis("HEXISTS", keys.rooms, "#new") == 0
    assert set(node.chat.rooms) == {"#lobby"}
    assert not node.chat.reader.tracking(keys.room_log("#new"))
    assert alice.protocol.room is None
    bob.say("/join #new", "/who")
    await until(reactor, lambda: bob.has("* 1 in #new:"))
    assert bob.lines[-1].startswith(f"*   {bob.nick} (since ")


@pytest_twisted.ensureDeferred
async def test_joining_a_room_whose_last_member_is_dropped_then(
    reactor: Any, nodes: Any
) -> None:
    """
    If the lines a room still owes its members here drop the last of them as a
    newcomer is let in, the newcomer is not stranded in a room this node no longer
    delivers: it hears whoever comes and speaks there next.
    """
    node = await nodes(max_send_queue=100)
    alice, bob, carol = await node.join(), await node.join(), await node.join()
    alice.say("/join #b")
    await in_room(reactor, alice, "#b")
    bob.say("/join #b")
    await until(reactor, lambda: alice.has(f"* {bob.nick} joined #b"))
    alice.protocol.pauseProducing()
    # The reader's pending read is answered with bob's line alone, which queues 74
    # bytes for alice; the next read brings his leaving (35 bytes more, past her
    # bound) and carol's arrival together, so both meet in one delivery.
    node.link("reader").pauseProducing()
    bob.say("x" * 40, "/join #lobby")
    carol.say("/join #b")
    # Redis has answered both moves: each left its room here, waiting to enter.
    await until(reactor, lambda: bob.protocol.room is carol.protocol.room is None)
    node.link("reader").resumeProducing()
    await in_room(reactor, carol, "#b")
    await until(reactor, lambda: alice.gone)
    await in_room(reactor, bob, "#lobby")
    bob.say("/join #B")
    await in_room(reactor, bob, "#b")
    bob.say("hello")
    await until(reactor, lambda: carol.has(f"<{bob.nick}> hello"))
    assert node.chat.rooms["#b"] is carol.protocol.room


def arrivals_of(reactor: Any, member: Member) -> list[Any]:
    """The reactor's timers that would announce C{member}'s arrival."""
    return [
        call
        for call in reactor.getDelayedCalls()
        if call.active() and member.protocol in call.args
    ]


@pytest_twisted.ensureDeferred
async def test_no_arrival_timer_outlives_its_member(reactor: Any, nodes: Any) -> None:
    """
    A newcomer that leaves, or is dropped, before its arrival was announced leaves
    no timer behind that would announce it later.
    """
    node = await nodes(max_send_queue=100, arrival_grace=60)
    leaving, stalled, talker = await node.join(), await node.join(), await node.join()
    assert len(arrivals_of(reactor, leaving)) == 1
    leaving.transport.loseConnection()
    assert arrivals_of(reactor, leaving) == []
    stalled.protocol.pauseProducing()
    talker.say("x" * 100)
    await until(reactor, lambda: stalled.gone)
    assert arrivals_of(reactor, stalled) == []
    assert arrivals_of(reactor, talker) == []  # Announced by its first line.


@pytest_twisted.ensureDeferred
async def test_newcomer_due_while_its_node_is_lost_is_announced_once(
    reactor: Any, nodes: Any
) -> None:
    """
    A newcomer whose arrival grace ends while its node is away long enough to be
    declared lost is announced once: by its coming back with the node, not again.
    """
    here, there = await nodes(arrival_grace=60), await nodes()
    watcher, newcomer = await there.join(), await here.join()
    await here.chat._reader_link.stop()
    await here.chat.command.stop()
    await until(reactor, lambda: not here.chat.available)
    (arrival,) = arrivals_of(reactor, newcomer)
    arrival.reset(0)
    lost = f"* {newcomer.nick} left #lobby (server lost)"
    await until(reactor, lambda: watcher.has(lost))
    here.chat.command.start()
    here.chat._reader_link.start()
    await until(reactor, lambda: here.chat.available)
    newcomer.transport.loseConnection()
    left = f"* {newcomer.nick} left #lobby (connection closed)"
    await until(reactor, lambda: watcher.has(left))
    seen = [line for line in watcher.lines if newcomer.nick in line]
    assert seen == [lost, f"* {newcomer.nick} joined #lobby", left]


@pytest_twisted.ensureDeferred
async def test_taken_first_nick_still_announces_the_newcomer(
    reactor: Any, nodes: Any
) -> None:
    """
    A newcomer whose first /nick is refused (taken) is still announced once its
    arrival grace is over, under the nick it has, as on one node.
    """
    node = await nodes(arrival_grace=0.5)
    bob = await node.join()
    bob.say("/nick bob")
    await until(reactor, lambda: bob.nick == "bob")
    newcomer = await node.join()
    newcomer.say("/nick bob")
    await until(reactor, lambda: newcomer.has("error: the nick bob is taken by bob"))
    await until(reactor, lambda: bob.has(f"* {newcomer.nick} joined #lobby"))


async def join_held(reactor: Any, nodes: Any) -> tuple[Node, list[Member]]:
    """
    Alice, on one node, and carol, on another, in room #r; bob, on alice's node,
    asking to join it: Redis's answer to his join is held back, and the node's
    reader, having reached his join event first, keeps back the room's events
    until that answer comes (the node's command connection stays paused).
    """
    here, there = await nodes(), await nodes()
    alice, bob, carol = await here.join(), await here.join(), await there.join()
    for member in (alice, carol):
        member.say("/join #r")
        await in_room(reactor, member, "#r")
    here.link("command").pauseProducing()
    bob.say("/join #r")
    log = here.chat.keys.room_log("#r")
    await until(reactor, lambda: log in here.chat.reader._held)
    return here, [alice, bob, carol]


@pytest_twisted.ensureDeferred
async def test_member_gone_while_its_join_is_in_flight(
    reactor: Any, nodes: Any
) -> None:
    """
    A member whose connection ends while Redis's answer to its /join is on its way,
    after the node's reader already reached its join event, does not silence the
    room on that node: the others there keep hearing it; Redis forgets the member.
    """
    here, (alice, bob, carol) = await join_held(reactor, nodes)
    bob.transport.loseConnection()
    here.link("command").resumeProducing()
    carol.say("still here")
    await until(reactor, lambda: alice.has(f"<{carol.nick}> still here"))
    members = await here.redis("HKEYS", here.chat.keys.room_members("#r"))
    assert sorted(members) == sorted([alice.nick, carol.nick])
    assert set(here.chat.rooms) == {"#r"}


@pytest_twisted.ensureDeferred
async def test_reader_reconnects_while_a_join_waits(reactor: Any, nodes: Any) -> None:
    """
    The node's reader losing its connection while it holds a room's events for a
    join still unanswered: once both are back, the newcomer is in, and the room's
    members, old and new, hear it again.
    """
    here, (alice, bob, carol) = await join_held(reactor, nodes)
    here.chat._reader_link.abort()
    await until(reactor, lambda: alice.has("* room service unavailable"))
    here.link("command").resumeProducing()
    await until(reactor, lambda: alice.has("* room service restored"))
    await in_room(reactor, bob, "#r")
    carol.say("still here")
    await until(reactor, lambda: alice.has(f"<{carol.nick}> still here"))
    await until(reactor, lambda: bob.has(f"<{carol.nick}> still here"))


@pytest_twisted.ensureDeferred
async def test_newcomer_gone_before_it_is_let_in_is_never_announced(
    reactor: Any, nodes: Any
) -> None:
    """
    A newcomer named by Redis whose connection ends before its node lets it in the
    room was never announced as joining: nobody is told that it left.
    """
    here, there = await nodes(), await nodes()
    watcher = await there.join()
    here.link("reader").pauseProducing()
    newcomer = here.connect()
    await until(reactor, lambda: newcomer.nick != "")
    newcomer.transport.loseConnection()
    here.link("reader").resumeProducing()
    watcher.say("after")
    await until(reactor, lambda: watcher.has(f"<{watcher.nick}> after"))
    assert not watcher.has(newcomer.nick)


@pytest_twisted.ensureDeferred
async def test_topic_set_elsewhere_is_known_to_a_newcomer(
    reactor: Any, nodes: Any
) -> None:
    """
    A member entering a room whose topic was set on another node, before any member
    of its own node was in it, gets that topic from a bare /topic too.
    """
    here, there = await nodes(), await nodes()
    carol, alice = await there.join(), await here.join()
    carol.say("/join #Rust", "/topic crabs")
    await until(reactor, lambda: carol.has("set the topic of #Rust: crabs"))
    alice.say("/join #rust", "/topic")
    await until(reactor, lambda: alice.lines.count("* topic of #Rust: crabs") == 2)


@pytest_twisted.ensureDeferred
async def test_who_and_rooms_list_at_most_max_listed(reactor: Any, nodes: Any) -> None:
    """
    /who and /rooms over more than MAX_LISTED members and rooms on two nodes list
    as many as on one node: the first members by nick, the most crowded rooms by
    name with topics cut short, the first line counting the lines that follow and
    the last saying how many more there are.
    """
    here, there = await nodes(arrival_grace=60), await nodes(arrival_grace=60)
    crowd = [
        node.connect() for _ in range(MAX_LISTED // 2 + 3) for node in (here, there)
    ]
    await until(reactor, lambda: all(member.protocol.room for member in crowd))
    asker, friend, *others = crowd
    asker.say("/who")
    await until(reactor, lambda: asker.has("not listed"))
    nicks = sorted((member.nick for member in crowd), key=str.casefold)
    listing = asker.lines[asker.lines.index(f"* {MAX_LISTED} in #lobby:") :]
    assert [line.split(" (since ")[0] for line in listing[1:-1]] == [
        f"*   {nick}" for nick in nicks[:MAX_LISTED]
    ]
    assert listing[-1] == f"* ... and {len(crowd) - MAX_LISTED} more, not listed"
    for number, member in enumerate(others):
        member.say(f"/join #r{number:04}")
    asker.say("/join #crowded", "/topic " + "t" * 500)
    friend.say("/join #crowded")
    rooms = [f"#r{number:04}" for number in range(len(others))]
    await until(
        reactor,
        lambda: (
            [getattr(m.protocol.room, "key", "") for m in crowd]
            == ["#crowded", "#crowded", *rooms]
        ),
    )
    asker.say("/rooms")
    await until(reactor, lambda: asker.has("rooms, not listed"))
    listing = asker.lines[asker.lines.index(f"* {MAX_LISTED} rooms:") :]
    assert len(listing) == MAX_LISTED + 2
    assert listing[1:3] == [
        "*   #crowded (2): " + "t" * 77 + "...",
        "*   #r0000 (1)",
    ]
    assert listing[-2] == f"*   #r{MAX_LISTED - 2:04} (1)"
    # Every #r room, #crowded and the default room, which stays when empty.
    assert (
        listing[-1]
        == f"* ... and {len(others) + 2 - MAX_LISTED} more rooms, not listed"
    )


@pytest_twisted.ensureDeferred
async def test_member_gone_while_its_rename_is_in_flight(
    reactor: Any, nodes: Any
) -> None:
    """
    A member whose connection ends right after it asked for a nick leaves under
    the nick it got: the others are told, and the nick is free again.
    """
    node = await nodes()
    watcher, quitter = await node.join(), await node.join()
    quitter.say("/nick alice")
    quitter.transport.loseConnection()
    await until(reactor, lambda: watcher.has("* alice left #lobby (connection closed)"))
    keys = node.chat.keys
    assert await node.redis("EXISTS", keys.nick("alice")) == 0
    assert await node.redis("HKEYS", keys.room_members("#lobby")) == [watcher.nick]
    newcomer = await node.join()
    newcomer.say("/nick alice")
    await until(reactor, lambda: newcomer.nick == "alice")


@pytest_twisted.ensureDeferred
async def test_member_gone_while_its_move_is_in_flight(
    reactor: Any, nodes: Any
) -> None:
    """
    A member whose connection ends right after it asked to join a room is seen
    joining it, then leaving it, as on one node: its leaving is not lost.
    """
    node = await nodes()
    watcher, mover = await node.join(), await node.join()
    watcher.say("/join #new")
    await in_room(reactor, watcher, "#new")
    mover.say("/join #new")
    mover.transport.loseConnection()
    await until(reactor, lambda: watcher.has(f"* {mover.nick} joined #new"))
    await until(
        reactor, lambda: watcher.has(f"* {mover.nick} left #new (connection closed)")
    )
    members = await node.redis("HKEYS", node.chat.keys.room_members("#new"))
    assert members == [watcher.nick]


@pytest_twisted.ensureDeferred
@pytest.mark.parametrize("leaving_first", [True, False])
async def test_last_member_leaves_as_another_joins(
    reactor: Any, nodes: Any, leaving_first: bool
) -> None:
    """
    The last member of a room on a node leaving it in the same turn as another
    member of that node joins it, in either order: the newcomer hears the room.
    """
    here, there = await nodes(), await nodes()
    alice, bob, carol = await here.join(), await here.join(), await there.join()
    for member in (alice, carol):
        member.say("/join #r")
        await in_room(reactor, member, "#r")
    if leaving_first:
        alice.transport.loseConnection()
        bob.say("/join #r")
    else:
        bob.say("/join #r")
        alice.transport.loseConnection()
    await in_room(reactor, bob, "#r")
    carol.say("still here")
    await until(reactor, lambda: bob.has(f"<{carol.nick}> still here"))


@pytest_twisted.ensureDeferred
async def test_topic_shown_right_after_it_is_set(reactor: Any, nodes: Any) -> None:
    """A bare /topic right after /topic TEXT shows TEXT, as on one node."""
    node = await nodes()
    member = await node.join()
    for number in range(20):
        member.say(f"/topic t{number}", "/topic")
    await until(reactor, lambda: member.has("* topic of #lobby: t19"))
    answers = [
        line for line in member.lines if line.startswith(("* topic of", "* #lobby has"))
    ]
    assert answers == [f"* topic of #lobby: t{number}" for number in range(20)]


@pytest_twisted.ensureDeferred
async def test_arrival_due_during_an_outage_is_announced_after_it(
    reactor: Any, nodes: Any, redis_server: RedisServer
) -> None:
    """
    A newcomer whose arrival grace ends while Redis is away is announced once it
    is back, as it would have been on one node, rather than never: the others see
    it join, then leave, once each.
    """
    node = await nodes(arrival_grace=2)
    watcher = await node.join()
    watcher.say("/who")  # Announced at once: it is not the one watched.
    newcomer = await node.join()
    [grace] = arrivals_of(reactor, newcomer)
    redis_server.stop()
    await until(reactor, lambda: watcher.has("* room service unavailable"))
    # The grace ends while Redis is away.
    await until(reactor, lambda: not grace.active())
    redis_server.start()
    await until(reactor, lambda: watcher.has("* room service restored"))
    await until(reactor, lambda: watcher.has(f"* {newcomer.nick} joined #lobby"))
    newcomer.transport.loseConnection()
    left = f"* {newcomer.nick} left #lobby (connection closed)"
    await until(reactor, lambda: watcher.has(left))
    seen = [line for line in watcher.lines if line.startswith(f"* {newcomer.nick} ")]
    assert seen == [f"* {newcomer.nick} joined #lobby", left]


@pytest_twisted.ensureDeferred
async def test_newcomer_let_in_across_a_blip_sees_nothing_twice(
    reactor: Any, nodes: Any
) -> None:
    """
    A newcomer whose join Redis has answered, but whose join event the node's
    reader has not reached when the reader's connection drops, is let in at that
    event once the reader is back: it sees the room's last message in its history,
    not once more after it.
    """
    node = await nodes(history=5)
    watcher = await node.join()
    node.link("reader").pauseProducing()
    watcher.say("before")
    newcomer = node.connect()
    await until(reactor, lambda: newcomer.nick != "")
    node.chat._reader_link.abort()
    await until(reactor, lambda: watcher.has(RESTORED))
    watcher.say("after")
    await until(reactor, lambda: newcomer.has(f"<{watcher.nick}> after"))
    assert sum(f"<{watcher.nick}> before" in line for line in newcomer.lines) == 1


@pytest_twisted.ensureDeferred
async def test_newcomer_whose_join_event_redis_lost_is_let_in(
    reactor: Any, nodes: Any, redis_server: RedisServer
) -> None:
    """
    A newcomer whose join Redis answered, then lost with all its data before the
    node's reader reached the join event, is let in once Redis is back.
    """
    node = await nodes()
    watcher = await node.join()
    node.link("reader").pauseProducing()
    newcomer = node.connect()
    await until(reactor, lambda: newcomer.nick != "")
    redis_server.restart(keep_data=False)
    # Its reader, not reading, would notice only when its read times out.
    node.chat._reader_link.abort()
    await until(reactor, lambda: watcher.has(RESTORED))
    await until(reactor, lambda: newcomer.has("* Welcome, "))
    watcher.say("after")
    await until(reactor, lambda: newcomer.has(f"<{watcher.nick}> after"))


#: An application of its own using RedisChat: it stops its reactor itself once
#: Redis refused the node, then carries on.
_APPLICATION = """
import atexit, sys
from twisted.internet import reactor, task
from twisted_tcp.chat.cluster.address import parse_redis_url
from twisted_tcp.chat.cluster.service import RedisChat

atexit.register(lambda: print("its own exit hook ran", flush=True))
chat = RedisChat(parse_redis_url(sys.argv[1]))
chat.startService()

def check():
    if chat.refused is not None:
        reactor.stop()

task.LoopingCall(check).start(0.01)
reactor.run()
print("carried on after", chat.refused.split(":")[0], flush=True)
sys.exit(3)
"""


def test_refusal_leaves_an_application_its_process(redis_server: RedisServer) -> None:
    """
    A node Redis refuses, in an application's own process, leaves the application's
    reactor and exit status to it: it neither stops the one nor sets the other.
    """
    redis_server.command("CONFIG", "SET", "requirepass", "s3cret")
    url = f"redis://:nope@127.0.0.1:{redis_server.port}/0"
    result = subprocess.run(
        [sys.executable, "-c", _APPLICATION, url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 3, result.stderr
    assert result.stdout.splitlines() == [
        "carried on after Redis error",
        "its own exit hook ran",
    ]


@pytest_twisted.ensureDeferred
async def test_a_newcomer_gone_before_it_had_a_nick_is_not_logged_nameless(
    reactor: Any, nodes: Any
) -> None:
    """
    A connection that ends before Redis has given it a nick is not logged as a
    nameless member leaving: it was never logged as connected either.
    """
    node = await nodes()
    with capturedLogs() as events:
        member = node.connect()
        member.transport.loseConnection()
        other = await node.join()
    texts = [formatEvent(event) for event in events]
    assert [text for text in texts if " left (" in text] == []
    assert f"{other.nick} connected" in texts


@pytest_twisted.ensureDeferred
async def test_an_unreachable_redis_is_said_once_not_at_each_retry(
    reactor: Any, tmp_path: Path
) -> None:
    """
    A node whose Redis does not answer (a wrong port) logs one warning naming the
    address and the error, however many times its links try again, and says when
    Redis is there at last; no attempt is logged on its own.
    """
    redis = RedisServer(tmp_path / "redis")
    chat = make_chat(redis=redis.url, reactor=reactor, heartbeat=0.2)
    assert isinstance(chat, RedisChat)
    attempts: list[str] = []
    with capturedLogs() as events:
        chat.startService()
        told = chat.command.on_unreachable

        def counted(error: str) -> None:
            attempts.append(error)
            told(error)

        chat.command.on_unreachable = counted
        try:
            await until(reactor, lambda: len(attempts) >= 4)
            redis.start()
            await until(reactor, lambda: chat.available)
        finally:
            chat.shutdown()
            await chat.stopService()
            redis.stop()
    logged = [formatEvent(event) for event in events]
    warned = [line for line in logged if "cannot reach Redis" in line]
    assert len(warned) == 1
    assert f"127.0.0.1:{redis.port}" in warned[0]
    assert "refused" in warned[0]
    assert [line for line in logged if "retry" in line.casefold()] == []
    assert "Redis available: newcomers are let in" in logged


@pytest_twisted.ensureDeferred
async def test_a_redis_freeze_does_not_look_like_a_lost_node(
    reactor: Any, nodes: Any, redis_server: RedisServer
) -> None:
    """
    Redis frozen for longer than a heartbeat lifetime lets every node's heartbeat
    expire; once it runs again no node declares another lost: heartbeats missed
    while a node could not reach Redis itself do not count against the others.
    """
    first, second = await nodes(), await nodes()
    alice, bob = await first.join(), await second.join()
    os.kill(redis_server.pid(), signal.SIGSTOP)
    try:
        await deferLater(reactor, 5 * 0.2 * 2, lambda: None)
    finally:
        os.kill(redis_server.pid(), signal.SIGCONT)

    # Three heartbeat lifetimes: the nodes hear each other again, and judge again.
    await deferLater(reactor, 3 * 5 * 0.2, lambda: None)
    bob.say("still here")
    await until(reactor, lambda: alice.has("<" + bob.nick + "> still here"))
    assert not [line for line in alice.lines + bob.lines if "server lost" in line]
