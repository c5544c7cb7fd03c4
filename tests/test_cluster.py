"""
End-to-end tests of the chat cluster: real C{twist tcp-chat --redis} nodes sharing a
real redis-server, real TCP clients on each node. See C{docs/cluster.md}.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted

from tests.cluster_support import Client, Node, join, start_nodes
from tests.redis_support import RedisServer, until

#: Heartbeat of the test nodes, so that lost nodes are found in about a second.
FAST = ("--heartbeat", "0.2")


@pytest.fixture
def make_node(tmp_path: Path, redis_server: RedisServer) -> Iterator[Any]:
    """Make nodes on the test's Redis; every one still running is killed after."""
    made: list[Node] = []

    def make(name: str, *extra: str) -> Node:
        node = Node(tmp_path, name, redis_server.url, *extra)
        made.append(node)
        return node

    yield make
    for node in made:
        node.kill()


@pytest.fixture
def clients() -> Iterator[list[Client]]:
    """Clients a test opens; closed after it."""
    opened: list[Client] = []
    yield opened
    for client in opened:
        client.close()


@pytest_twisted.ensureDeferred
async def test_one_chat_on_three_nodes(
    reactor: Any, make_node: Any, clients: list[Client]
) -> None:
    """
    Members on three nodes see the same messages in the same order (the senders'
    own lines included), whoever sent them from wherever, and only their room's.
    """
    nodes = [make_node(name, *FAST) for name in "abc"]
    await start_nodes(reactor, nodes)
    members = [await join(reactor, node, f"m{i}") for i, node in enumerate(nodes * 2)]
    clients += members
    outsider = await join(reactor, nodes[1], "outsider")
    clients.append(outsider)
    outsider.send("/join #elsewhere")
    await until(reactor, lambda: outsider.has("you are now in #elsewhere"))
    for round_ in range(20):
        for index, member in enumerate(members):
            member.send(f"line {round_} from m{index}")
        outsider.send(f"not for the lobby {round_}")
    expected = 20 * len(members)
    await until(reactor, lambda: all(len(m.messages()) >= expected for m in members))
    transcripts = [member.messages() for member in members]
    assert all(len(transcript) == expected for transcript in transcripts)
    assert all(transcript == transcripts[0] for transcript in transcripts)
    for index in range(len(members)):
        own = [line for line in transcripts[0] if line.endswith(f"from m{index}")]
        assert own == [f"<m{index}> line {r} from m{index}" for r in range(20)]
    assert not any("not for the lobby" in line for line in transcripts[0])
    await until(reactor, lambda: len(outsider.messages()) == 20)


@pytest_twisted.ensureDeferred
async def test_who_rooms_msg_topic_across_nodes(
    reactor: Any, make_node: Any, clients: list[Client]
) -> None:
    """/who and /rooms list every node's members; /msg and topics cross nodes."""
    a, b = make_node("a", *FAST), make_node("b", *FAST)
    await start_nodes(reactor, [a, b])
    alice = await join(reactor, a, "alice")
    bob = await join(reactor, b, "bob")
    carol = await join(reactor, b, "carol")
    clients += [alice, bob, carol]
    carol.send("/join #Rust", "/topic crabs")
    await until(reactor, lambda: carol.has("set the topic of #Rust: crabs"))
    alice.send("/who", "/rooms")
    await until(reactor, lambda: alice.has("*   #Rust (1): crabs"))
    who = alice.lines.index("* 2 in #lobby:")
    assert alice.lines[who + 1].startswith("*   alice (since ")
    assert alice.lines[who + 2].startswith("*   bob (since ")
    rooms = alice.lines.index("* 2 rooms:")
    assert alice.lines[rooms + 1 : rooms + 3] == [
        "*   #lobby (2)",
        "*   #Rust (1): crabs",
    ]
    alice.send("/msg CAROL psst", "/msg nobody hello")
    await until(reactor, lambda: carol.has("*alice* psst"))
    await until(reactor, lambda: alice.has("error: no such nick: nobody"))
    assert alice.has("-> *carol* psst")
    assert not bob.has("psst")
    alice.send("/join #rust")
    await until(reactor, lambda: alice.has("* you are now in #Rust; 2 here"))
    assert alice.has("* topic of #Rust: crabs")
    await until(reactor, lambda: carol.has("* alice joined #Rust"))
    await until(reactor, lambda: bob.has("* alice left #lobby (joined #Rust)"))


@pytest_twisted.ensureDeferred
async def test_nick_race_has_one_winner(
    reactor: Any, make_node: Any, clients: list[Client]
) -> None:
    """Two members on two nodes claiming one nick at once: exactly one wins."""
    a, b = make_node("a", *FAST), make_node("b", *FAST)
    await start_nodes(reactor, [a, b])
    left, right = await join(reactor, a), await join(reactor, b)
    clients += [left, right]
    # Announced (a first command ends the arrival grace), so renames go to the room.
    left.send("/who")
    right.send("/who")
    await until(
        reactor, lambda: left.has("joined #lobby") or right.has("joined #lobby")
    )
    wins = {"left": 0, "right": 0}
    for round_ in range(40):
        nick = f"racer{round_}"
        left.send(f"/nick {nick}")
        right.send(f"/nick {nick}")
        renamed = f"is now known as {nick}"
        lost = f"error: the nick {nick} is taken by {nick}"

        def settled(renamed: str = renamed, lost: str = lost) -> bool:
            seen = left.has(renamed) and right.has(renamed)
            return seen and (left.has(lost) or right.has(lost))

        await until(reactor, settled)
        losers = [member for member in (left, right) if member.has(lost)]
        assert len(losers) == 1, (round_, left.lines[-2:], right.lines[-2:])
        assert sum(line.endswith(renamed) for line in left.lines) == 1
        wins["right" if losers[0] is left else "left"] += 1
    assert wins["left"] + wins["right"] == 40


@pytest_twisted.ensureDeferred
async def test_history_survives_node_restarts(
    reactor: Any, make_node: Any, clients: list[Client]
) -> None:
    """History is replayed on a node started after it was written, and after every
    node restarted."""
    first = make_node("first", "--history", "3", *FAST)
    await start_nodes(reactor, [first])
    writer = await join(reactor, first, "writer")
    for number in range(5):
        writer.send(f"message {number}")
    await until(reactor, lambda: len(writer.messages()) == 5)
    writer.close()
    later = make_node("later", "--history", "3", *FAST)
    await start_nodes(reactor, [later])
    reader = await join(reactor, later)
    clients.append(reader)
    await until(reactor, lambda: len(reader.messages()) == 3)
    assert reader.messages() == [f"<writer> message {n}" for n in (2, 3, 4)]
    reader.close()
    first.stop()
    later.stop()
    again = make_node("again", "--history", "3", *FAST)
    await start_nodes(reactor, [again])
    newcomer = await join(reactor, again)
    clients.append(newcomer)
    await until(reactor, lambda: len(newcomer.messages()) == 3)
    assert newcomer.messages() == [f"<writer> message {n}" for n in (2, 3, 4)]


@pytest_twisted.ensureDeferred
async def test_killed_node_members_are_let_go(
    reactor: Any, make_node: Any, clients: list[Client]
) -> None:
    """
    kill -9 of a node (default heartbeat): the others announce its members as lost
    within 15 s, and their nicks can be taken again.
    """
    doomed, survivor = make_node("doomed"), make_node("survivor")
    await start_nodes(reactor, [doomed, survivor])
    alice = await join(reactor, doomed, "alice")
    bob = await join(reactor, survivor, "bob")
    clients += [alice, bob]
    await until(reactor, lambda: alice.has("* bob joined #lobby"))
    killed = time.monotonic()
    doomed.kill()
    await until(reactor, lambda: bob.has("* alice left #lobby (server lost)"), 15)
    assert time.monotonic() - killed <= 15
    again = await join(reactor, survivor, "alice")
    clients.append(again)
    bob.send("/who")
    await until(reactor, lambda: bob.has("* 2 in #lobby:"))
