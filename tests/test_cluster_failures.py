"""
End-to-end tests of how the chat cluster fails and recovers: a node stopping (also
while cut off from Redis), a node cut off or frozen long enough to be declared lost
and coming back, Redis losing its data while a node is away, Redis refusing a node or
missing at its start, and large rooms split over nodes. Real C{twist tcp-chat
--redis} nodes, a real redis-server, real TCP clients; a forwarder in the test
process cuts one node off. See C{docs/cluster.md}, "What each failure does".
"""

from __future__ import annotations

import re
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol

from tests.cluster_support import FAST, Client, Cut, Node, join, start_nodes
from tests.redis_support import RedisServer
from tests.support import until
from twisted_tcp.chat.texts import (
    NO_SERVICE,
    NOT_DELIVERED,
    RESTORED,
    UNAVAILABLE,
)

PREFIX = "twisted-tcp"


@pytest.fixture
def cuts() -> Iterator[list[Cut]]:
    """The forwarders a test opens; closed after it, with what they forward."""
    opened: list[Cut] = []
    yield opened
    for cut in opened:
        cut.cut()


async def _far_and_near(
    reactor: Any,
    make_node: Any,
    redis_server: RedisServer,
    cuts: list[Cut],
    *far_options: str,
) -> tuple[Cut, Node, Node]:
    """
    Two nodes, serving: "far" reaches Redis through a L{Cut}, "near" directly.
    """
    cut = Cut(reactor, redis_server.port)
    cuts.append(cut)
    cut.open()
    far = make_node("far", *far_options, redis_url=cut.url)
    near = make_node("near", *FAST)
    await start_nodes(reactor, [far, near])
    return cut, far, near


async def _alice_and_bob(
    reactor: Any, there: Node, here: Node, clients: list[Client]
) -> tuple[Client, Client]:
    """alice on one node and bob on another, each having seen the other arrive."""
    alice = await join(reactor, there, "alice")
    bob = await join(reactor, here, "bob")
    clients += [alice, bob]
    await until(reactor, lambda: alice.has("* bob joined #lobby"))
    return alice, bob


@pytest_twisted.ensureDeferred
async def test_stopped_node_leaves_cleanly(
    reactor: Any, make_node: Any, clients: list[Client], redis_server: RedisServer
) -> None:
    """
    SIGTERM to a node: the others see each of its members leave every shared room
    (server shutting down) at once, not after the heartbeats expire; their nicks are
    free; Redis keeps nothing of the node; it exits as any twist server does after
    SIGTERM.
    """
    # A long heartbeat: a departure seen at all was announced by the stop itself.
    stopping = make_node("stopping", "--heartbeat", "30")
    staying = make_node("staying", "--heartbeat", "30")
    await start_nodes(reactor, [stopping, staying])
    gone_id = stopping.node_id()
    alice = await join(reactor, stopping, "alice")
    carol = await join(reactor, stopping, "carol")
    bob = await join(reactor, staying, "bob")
    dave = await join(reactor, staying, "dave")
    clients += [alice, carol, bob, dave]
    carol.send("/join #Rust")
    await until(reactor, lambda: carol.has("* you are now in #Rust"))
    dave.send("/join #rust")
    await until(reactor, lambda: carol.has("* dave joined #Rust"))
    await until(reactor, lambda: alice.has("* bob joined #lobby"))
    assert redis_server.keys(f"{PREFIX}:node:{gone_id}*") != []

    status = stopping.stop()

    # twist ends by the signal it was stopped with (143 in a shell), whether the
    # node is a cluster's or not: the stop itself went well.
    assert status == -signal.SIGTERM
    await until(reactor, lambda: alice.closed and carol.closed)
    for client in (alice, carol):
        # Told of the stop, and of nothing else: Redis stayed there for the node
        # until its members were gone, and recorded their departure.
        assert client.lines[-1] == "* server shutting down"
        assert not client.has(UNAVAILABLE)
    assert "#warn]" not in stopping.log().split("Received SIGTERM", 1)[1]
    await until(reactor, lambda: bob.has("* alice left #lobby (server shutting down)"))
    await until(reactor, lambda: dave.has("* carol left #Rust (server shutting down)"))
    stopped = "(server shutting down)"
    assert bob.matching(lambda line: stopped in line) == [
        f"* alice left #lobby {stopped}"
    ]
    assert dave.matching(lambda line: stopped in line) == [
        f"* carol left #Rust {stopped}"
    ]
    assert redis_server.keys(f"{PREFIX}:node:{gone_id}*") == []
    assert redis_server.keys(f"{PREFIX}:nick:*") == [
        f"{PREFIX}:nick:bob",
        f"{PREFIX}:nick:dave",
    ]
    members = redis_server.keys(f"{PREFIX}:room:*:members")
    for key in members:
        assert gone_id not in "".join(redis_server.cli("HVALS", key))
    alice_again = await join(reactor, staying, "alice")
    carol_again = await join(reactor, staying, "carol")
    clients += [alice_again, carol_again]
    dave.send("/who")
    await until(reactor, lambda: dave.has("* 1 in #Rust:"))


def _problems(log: str) -> list[str]:
    """The log's lines at error or critical level, and any traceback's first line."""
    return [
        line
        for line in log.splitlines()
        if "#error]" in line or "#critical]" in line or "Traceback" in line
    ]


def test_refused_by_redis_stops_the_node(
    make_node: Any, redis_server: RedisServer
) -> None:
    """
    A Redis that wants a password the node does not have (a wrong one, or none):
    the node says so in one line, without a traceback, and exits 1 at once rather
    than retry for ever.
    """
    redis_server.command("CONFIG", "SET", "requirepass", "s3cret")
    cases = {
        "wrong": (f"redis://:nope@127.0.0.1:{redis_server.port}/0", "WRONGPASS"),
        "missing": (redis_server.url, "NOAUTH"),
    }
    for name, (url, reason) in cases.items():
        node = make_node(name, *FAST, redis_url=url)
        node.start()
        assert node.wait() == 1, name
        problems = _problems(node.log())
        assert len(problems) == 1, (name, problems)
        assert "refused this node" in problems[0] and reason in problems[0]
        assert "check --redis" in problems[0]


@pytest_twisted.ensureDeferred
async def test_redis_missing_at_start_is_waited_for(
    reactor: Any, make_node: Any, tmp_path: Path
) -> None:
    """
    A node started while its Redis is not there yet serves anyway: newcomers are
    told to wait, and are welcomed once Redis is up; nothing goes wrong in the log.
    """
    late = RedisServer(tmp_path / "late")
    node = make_node("early", *FAST, redis_url=late.url)
    node.start()
    await until(reactor, lambda: "ChatFactory starting on" in node.log())
    waiting = Client()
    await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", node.port), waiting)
    await until(reactor, lambda: waiting.has(f"* {NO_SERVICE}; waiting for it"))
    late.start()
    try:
        await until(reactor, lambda: waiting.has("* Welcome, guest-1!"))
        waiting.send("/nick early-bird", "hello")
        await until(reactor, lambda: waiting.has("<early-bird> hello"))
    finally:
        waiting.close()
        late.stop()
    assert _problems(node.log()) == []


def _notices(client: Client, *nicks: str) -> list[str]:
    """
    The notices a client got about C{nicks} coming, going or being renamed, after
    its own welcome and first rename.
    """
    about = re.compile(rf"\* (the nick )?({'|'.join(nicks)})\b")
    return [line for line in client.lines[2:] if about.match(line)]


async def _listing(reactor: Any, client: Client, command: str) -> list[str]:
    """Send C{/who} or C{/rooms}; return the lines listed after its first line."""
    before = len(client.lines)
    client.send(command)
    heading = re.compile(r"\* (\d+) (in #\S+|rooms):\Z")

    def listed() -> list[str] | None:
        lines = client.lines[before:]
        for index, line in enumerate(lines):
            match = heading.match(line)
            if match:
                entries = lines[index + 1 : index + 1 + int(match[1])]
                if len(entries) == int(match[1]):
                    return entries
        return None

    await until(reactor, lambda: listed() is not None)
    entries = listed()
    assert entries is not None
    return entries


async def _who(reactor: Any, client: Client) -> list[str]:
    """Ask for /who and return the nicks it lists, in its order."""
    return [entry.split()[1] for entry in await _listing(reactor, client, "/who")]


@pytest_twisted.ensureDeferred
async def test_node_cut_off_and_back(
    reactor: Any,
    make_node: Any,
    clients: list[Client],
    redis_server: RedisServer,
    cuts: list[Cut],
) -> None:
    """
    A node cut off from Redis for longer than 5 heartbeats is declared lost by the
    others (its members announced as gone, their nicks freed, the node marked lost).
    When it reaches Redis again, its members, still connected, are back for
    everyone, once each; a nick taken meanwhile stays with its new holder and the
    old one is renamed and told: no nick is held twice.
    """
    cut, far, near = await _far_and_near(reactor, make_node, redis_server, cuts, *FAST)
    far_id = far.node_id()
    alice = await join(reactor, far, "alice")
    carol = await join(reactor, far, "carol")
    eve = await join(reactor, far, "eve")
    bob = await join(reactor, near, "bob")
    clients += [alice, carol, eve, bob]
    eve.send("/join #side", "/topic quiet")
    await until(reactor, lambda: eve.has("set the topic of #side: quiet"))
    await until(reactor, lambda: alice.has("* bob joined #lobby"))
    rooms = ["*   #lobby (3)", "*   #side (1): quiet"]
    assert await _listing(reactor, bob, "/rooms") == rooms

    await cut.cut()
    await until(reactor, lambda: alice.has(UNAVAILABLE) and carol.has(UNAVAILABLE))
    alice.send("/who", "/nick alicia", "/join #elsewhere", "/msg bob psst", "hello?")
    lost = [f"* {nick} left #lobby (server lost)" for nick in ("alice", "carol")]
    await until(reactor, lambda: all(bob.has(line) for line in lost))
    assert redis_server.keys(f"{PREFIX}:node:{far_id}*") == [
        f"{PREFIX}:node:{far_id}:lost"
    ]
    # eve's room went with her, and its topic.
    assert await _listing(reactor, bob, "/rooms") == ["*   #lobby (1)"]
    assert alice.lines.count(f"error: {NO_SERVICE}") == 3
    assert alice.lines.count(f"error: {NOT_DELIVERED}") == 2
    thief = await join(reactor, near, "carol")
    clients.append(thief)
    cut.open()

    await until(reactor, lambda: alice.has(RESTORED) and carol.has(RESTORED))
    guest = await _renamed_on_return(reactor, carol, "carol")
    await until(reactor, lambda: bob.has("* alice joined #lobby"))
    assert not alice.closed and not carol.closed
    assert redis_server.keys(f"{PREFIX}:node:{far_id}:lost") == []
    expected = sorted(["alice", "bob", "carol", guest], key=str.casefold)
    assert await _who(reactor, bob) == expected
    assert await _who(reactor, alice) == expected
    assert await _who(reactor, carol) == expected
    assert _holders(redis_server) == {
        "alice": far_id,
        "bob": near.node_id(),
        "carol": near.node_id(),
        "eve": far_id,
        guest: far_id,
    }
    alice.send("back again")
    await until(reactor, lambda: bob.has("<alice> back again"))
    assert bob.lines.count("* alice joined #lobby") == 1
    carol.send("renamed")
    await until(reactor, lambda: thief.has(f"<{guest}> renamed"))
    bob.send("/msg alice welcome back", f"/msg {guest} and you")
    await until(reactor, lambda: carol.has("*bob* and you"))
    assert alice.has("*bob* welcome back") and not thief.has("and you")
    assert await _listing(reactor, bob, "/rooms") == [
        "*   #lobby (4)",
        "*   #side (1): quiet",
    ]
    assert not bob.has("psst") and not bob.has("hello?")
    # The near node's members saw both leave, then both come back, carol's
    # holder under the new nick; the far node's members saw none of that, only
    # the rename and the newcomer.
    back = ["* alice joined #lobby", f"* {guest} joined #lobby"]
    assert _notices(bob, "alice", "carol", guest) == [
        *lost,
        "* carol joined #lobby",
        *back,
    ]
    assert _notices(thief, "alice", "carol", guest) == back
    taken = "(the nick carol was taken while the room service was unavailable)"
    assert _notices(alice, "alice", "carol", guest) == [
        "* carol joined #lobby",  # carol, before the cut
        "* carol joined #lobby",  # the other carol, while it lasted
        f"* carol is now known as {guest} {taken}",
    ]
    # Told at once, as the node learns it; the events of the outage come after.
    assert sorted(_notices(carol, "alice", "carol", guest)) == [
        "* carol joined #lobby",
        f"* the nick carol was taken while the room service was unavailable;"
        f" you are now {guest}",
    ]


async def _renamed_on_return(reactor: Any, client: Client, nick: str) -> str:
    """Wait until C{client} is told its C{nick} was taken; return its new nick."""
    told = re.compile(
        rf"\* the nick {nick} was taken while the room service was unavailable;"
        r" you are now (guest-\d+)\Z"
    )
    await until(reactor, lambda: any(told.match(line) for line in client.lines))
    return next(match[1] for line in client.lines if (match := told.match(line)))


def _holders(redis_server: RedisServer) -> dict[str, str]:
    """Every nick held in Redis, and the node holding it."""
    return {
        key.rsplit(":", 1)[1]: redis_server.cli("GET", key)[0].split("\t")[0]
        for key in redis_server.keys(f"{PREFIX}:nick:*")
    }


@pytest_twisted.ensureDeferred
async def test_nick_retaken_while_redis_was_empty(
    reactor: Any,
    make_node: Any,
    clients: list[Client],
    redis_server: RedisServer,
    cuts: list[Cut],
) -> None:
    """
    Redis restarted without its data while a node was away from it: a member of
    another node takes alice's nick before alice's node re-asserts it. Exactly one
    holder is left: the one Redis knew, and alice is renamed to a new guest-N and
    told why; everyone is told of the rename, and /who agrees on both nodes.
    """
    # A slow heartbeat: the far node is not declared lost, only forgotten by Redis.
    cut, far, near = await _far_and_near(
        reactor, make_node, redis_server, cuts, "--heartbeat", "30"
    )
    alice, bob = await _alice_and_bob(reactor, far, near, clients)

    await cut.cut()
    redis_server.restart(keep_data=False)
    await until(reactor, lambda: bob.has(RESTORED))
    thief = await join(reactor, near, "alice")
    clients.append(thief)
    cut.open()

    guest = await _renamed_on_return(reactor, alice, "alice")
    await until(reactor, lambda: alice.has(RESTORED))
    renamed = (
        f"* alice is now known as {guest} (the nick alice was taken while the room"
        " service was unavailable)"
    )
    await until(reactor, lambda: bob.has(renamed) and thief.has(renamed))
    assert not alice.has(renamed)
    expected = sorted(["alice", "bob", guest])
    for client in (alice, bob, thief):
        assert await _who(reactor, client) == expected
    assert _holders(redis_server) == {
        "alice": near.node_id(),
        "bob": near.node_id(),
        guest: far.node_id(),
    }
    alice.send("who am I")
    await until(reactor, lambda: thief.has(f"<{guest}> who am I"))


def _welcomed_as(client: Client) -> str:
    """The guest nick a client was given on arrival."""
    welcome = re.compile(r"\* Welcome, (guest-\d+)!")
    return next(match[1] for line in client.lines if (match := welcome.match(line)))


@pytest_twisted.ensureDeferred
async def test_guest_numbers_after_redis_lost_its_data(
    reactor: Any,
    make_node: Any,
    clients: list[Client],
    redis_server: RedisServer,
    cuts: list[Cut],
) -> None:
    """
    Redis restarted without its data counts guests from 1 again, while a node that
    is away still has guest-1 and guest-2: newcomers elsewhere get those numbers,
    and when that node is back its two guests get new numbers. No two members
    hold one guest nick; every node and Redis agree on who is who.
    """
    cut, far, near = await _far_and_near(
        reactor, make_node, redis_server, cuts, "--heartbeat", "30"
    )
    away = [await join(reactor, far), await join(reactor, far)]
    stayed = await join(reactor, near)
    clients += [*away, stayed]
    assert [_welcomed_as(c) for c in [*away, stayed]] == [
        "guest-1",
        "guest-2",
        "guest-3",
    ]

    await cut.cut()
    redis_server.restart(keep_data=False)
    await until(reactor, lambda: stayed.has(RESTORED))
    newcomers = [await join(reactor, near) for _ in range(3)]
    clients += newcomers
    assert [_welcomed_as(c) for c in newcomers] == ["guest-1", "guest-2", "guest-4"]
    cut.open()

    renamed = [await _renamed_on_return(reactor, c, _welcomed_as(c)) for c in away]
    assert sorted(renamed) == ["guest-5", "guest-6"]
    later = await join(reactor, far)
    clients.append(later)
    assert _welcomed_as(later) == "guest-7"
    everyone = sorted(
        ["guest-3", "guest-1", "guest-2", "guest-4", *renamed, "guest-7"],
        key=lambda nick: int(nick.split("-")[1]),
    )
    holders = _holders(redis_server)
    assert sorted(holders, key=lambda nick: int(nick.split("-")[1])) == everyone
    assert {holders[nick] for nick in [*renamed, "guest-7"]} == {far.node_id()}
    for client in (away[0], stayed):
        assert sorted(await _who(reactor, client)) == sorted(everyone)


@pytest_twisted.ensureDeferred
async def test_large_room_summed_up_across_nodes(
    reactor: Any, make_node: Any, clients: list[Client]
) -> None:
    """
    A room over --announce-limit members, split over two nodes: joins and leaves on
    either node are announced one by one to nobody; each node sends each of its
    members one summary for the period, which counts the comings and goings on
    both nodes and the members of both.
    """
    a = make_node("a", *FAST, "--announce-limit", "5")
    b = make_node("b", *FAST, "--announce-limit", "5")
    await start_nodes(reactor, [a, b])
    # Five members: up to the limit, each arrival is announced.
    first = [await join(reactor, node, f"m{i}") for i, node in enumerate([a, b] * 2)]
    last = await join(reactor, a, "m4")
    clients += [*first, last]
    await until(reactor, lambda: first[0].has("* m4 joined #lobby"))
    # Four more, two on each node, and one of the first five leaves: 8 stay.
    crowd = [await join(reactor, node, f"n{i}") for i, node in enumerate([a, b] * 2)]
    clients += crowd
    first[1].close()
    everyone = [first[0], *first[2:], last, *crowd]
    summary = "* 4 joined, 1 left #lobby in the last 10 s; 8 here"
    await until(reactor, lambda: all(c.has(summary) for c in everyone), 30)
    for client in everyone:
        assert client.lines.count(summary) == 1
        assert client.matching(lambda line: line.startswith("* n")) == []
        assert not client.has("* m1 left")


@pytest_twisted.ensureDeferred
async def test_frozen_node_declared_lost_comes_back(
    reactor: Any, make_node: Any, clients: list[Client], redis_server: RedisServer
) -> None:
    """
    A node that stops running for longer than 5 heartbeats (SIGSTOP: its
    connections stay open) is declared lost; once it runs again its next heartbeat
    finds that out and it re-asserts its members, who are back for the others. Its
    own members are told the room service was away, then that it is back.
    """
    frozen = make_node("frozen", *FAST)
    near = make_node("near", *FAST)
    await start_nodes(reactor, [frozen, near])
    alice, bob = await _alice_and_bob(reactor, frozen, near, clients)
    assert frozen.process is not None
    frozen.process.send_signal(signal.SIGSTOP)
    try:
        await until(reactor, lambda: bob.has("* alice left #lobby (server lost)"))
    finally:
        frozen.process.send_signal(signal.SIGCONT)
    await until(reactor, lambda: bob.has("* alice joined #lobby"))
    await until(reactor, lambda: alice.has(RESTORED))
    alice.send("still here")
    await until(reactor, lambda: bob.has("<alice> still here"))
    # Between the two notices, her lines were not delivered; nobody came or went.
    assert alice.lines[3:5] == [UNAVAILABLE, RESTORED]
    assert _notices(alice, "alice") == []
    assert bob.lines.count("* alice joined #lobby") == 1


@pytest_twisted.ensureDeferred
async def test_node_stopped_while_cut_off(
    reactor: Any,
    make_node: Any,
    clients: list[Client],
    redis_server: RedisServer,
    cuts: list[Cut],
) -> None:
    """
    SIGTERM to a node that cannot reach Redis: it stops at once all the same (it
    does not wait for Redis), and the others let its members go as lost.
    """
    cut, far, near = await _far_and_near(reactor, make_node, redis_server, cuts, *FAST)
    alice, bob = await _alice_and_bob(reactor, far, near, clients)
    await cut.cut()
    await until(reactor, lambda: alice.has(UNAVAILABLE))

    assert far.stop() == -signal.SIGTERM

    await until(reactor, lambda: alice.closed)
    assert alice.lines[-1] == "* server shutting down"
    await until(reactor, lambda: bob.has("* alice left #lobby (server lost)"))
    assert redis_server.keys(f"{PREFIX}:nick:*") == [f"{PREFIX}:nick:bob"]
