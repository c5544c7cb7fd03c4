"""
End-to-end tests of the chat cluster: real C{twist tcp-chat --redis} nodes sharing a
real redis-server, real TCP clients on each node. See C{docs/cluster.md}.
"""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest_twisted
from twisted.internet.task import deferLater

from tests.cluster_support import FAST, Client, join, start_nodes
from tests.redis_support import RedisServer
from tests.support import until
from twisted_tcp.chat.texts import NOT_DELIVERED, RESTORED, UNAVAILABLE


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


def _figures(name: str, sent: int, errors: int, received: dict[str, list[str]]) -> str:
    """The outage figures: sent, refused, delivered and duplicated per member."""
    parts = [f"{name}: sent {sent}, not-delivered errors {errors}"]
    for member, lines in received.items():
        parts.append(f"{member} got {len(lines)} ({len(lines) - len(set(lines))} dup)")
    return "; ".join(parts)


@pytest_twisted.ensureDeferred
async def test_redis_outage_loses_and_repeats_nothing(
    reactor: Any, make_node: Any, clients: list[Client], redis_server: RedisServer
) -> None:
    """
    Redis stopped for 3 s mid-conversation and started again on the same data: every
    member stays connected and is told of the outage and of its end; every line Redis
    accepted reaches every member on both nodes once, in one order; every other line
    got the not-delivered error.
    """
    a, b = make_node("a", *FAST), make_node("b", *FAST)
    await start_nodes(reactor, [a, b])
    senders = {"a": await join(reactor, a, "sa"), "b": await join(reactor, b, "sb")}
    receivers = {"a": await join(reactor, a, "ra"), "b": await join(reactor, b, "rb")}
    everyone = [*senders.values(), *receivers.values()]
    clients += everyone
    sent = 120
    for number in range(sent):
        for name, sender in senders.items():
            sender.send(f"{name}{number}")
        if number == 20:
            redis_server.stop()
            stopped = time.monotonic()
        if redis_server.process is None and time.monotonic() - stopped >= 3:
            redis_server.start()
        await deferLater(reactor, 0.05, lambda: None)
    if redis_server.process is None:
        redis_server.start()
    await until(reactor, lambda: all(c.has(RESTORED) for c in everyone))
    for name, sender in senders.items():
        sender.send(f"{name}-end")
    await until(
        reactor,
        lambda: all(c.has("<sa> a-end") and c.has("<sb> b-end") for c in everyone),
    )
    assert all(c.has(UNAVAILABLE) and not c.closed for c in everyone)
    transcripts = [client.messages() for client in everyone]
    assert all(transcript == transcripts[0] for transcript in transcripts)
    for name, sender in senders.items():
        errors = sender.lines.count(f"error: {NOT_DELIVERED}")
        received = {
            f"{who}@{node}": [
                line
                for line in client.messages()
                if line.startswith(f"<s{name}> {name}") and not line.endswith("-end")
            ]
            for node, group in (("a", [senders["a"], receivers["a"]]),
                                ("b", [senders["b"], receivers["b"]]))
            for who, client in zip(("sender", "receiver"), group, strict=True)
        }  # fmt: skip
        print(_figures(f"sender on node {name}", sent, errors, received))
        for lines in received.values():
            assert len(lines) == len(set(lines))
            numbers = [int(line.rsplit(name, 1)[1]) for line in lines]
            assert numbers == sorted(numbers)
            # Each line was either accepted (and delivered everywhere) or refused.
            assert len(lines) + errors >= sent
        assert 0 < errors < sent


@pytest_twisted.ensureDeferred
async def test_redis_restarted_without_data(
    reactor: Any, make_node: Any, clients: list[Client], redis_server: RedisServer
) -> None:
    """
    Redis restarted with nothing in it: the nodes re-assert their members' nicks,
    rooms and topics, without a restart of their own, and the chat goes on.
    """
    a, b = make_node("a", *FAST), make_node("b", *FAST)
    await start_nodes(reactor, [a, b])
    alice, bob = await join(reactor, a, "alice"), await join(reactor, b, "bob")
    clients += [alice, bob]
    bob.send("/topic before the flood")
    await until(reactor, lambda: alice.has("set the topic of #lobby: before the flood"))
    redis_server.restart(keep_data=False)
    await until(reactor, lambda: alice.has(RESTORED) and bob.has(RESTORED))
    impostor = await join(reactor, a)
    clients.append(impostor)
    impostor.send("/nick bob", "/who", "/topic")
    topic = "* topic of #lobby: before the flood"
    # Once on arrival, once for /topic, which comes after the others.
    await until(reactor, lambda: impostor.lines.count(topic) == 2)
    assert impostor.has("error: the nick bob is taken by bob"), impostor.lines
    listing = impostor.lines.index("* 3 in #lobby:")
    assert [
        line.split(" (")[0] for line in impostor.lines[listing + 1 : listing + 4]
    ] == [
        "*   alice",
        "*   bob",
        f"*   {impostor.lines[0].split()[2].rstrip('!')}",
    ]
    alice.send("still here")
    await until(reactor, lambda: bob.has("<alice> still here"))


@pytest_twisted.ensureDeferred
async def test_slow_reader_dropped_without_slowing_anyone(
    reactor: Any, make_node: Any, clients: list[Client]
) -> None:
    """
    A member that stops reading is dropped by its own node; members on both nodes
    see the drop and every message, in order.
    """
    a = make_node("a", *FAST, "--max-send-queue", "65536")
    b = make_node("b", *FAST)
    await start_nodes(reactor, [a, b])
    # A client that never reads, with a small receive buffer so that the kernel
    # holds little for it and its node's queue fills.
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.connect(("127.0.0.1", a.port))
    slow.sendall(b"/nick slow\n")
    sender = await join(reactor, b, "sender")
    here, there = await join(reactor, a, "here"), await join(reactor, b, "there")
    clients += [sender, here, there]
    # 5 MB: more than the kernel holds for a client that does not read (about 3 MB
    # on loopback) plus the node's queue for it.
    text = "x" * 990
    count = 5000
    sender.send(*(f"{number} {text}" for number in range(count)))
    dropped = "* slow dropped (send queue exceeded)"
    for member in (sender, here, there):
        await until(reactor, lambda m=member: len(m.messages()) == count)  # type: ignore[misc]
        assert member.messages() == [f"<sender> {n} {text}" for n in range(count)]
    await until(reactor, lambda: here.has(dropped) and there.has(dropped))
    slow.close()
