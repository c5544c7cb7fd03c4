"""
End-to-end tests of how the chat cluster fails and recovers: a node stopping, a node
cut off from Redis and coming back, Redis losing its data, Redis refusing or missing
at start, and large rooms split over nodes. Real C{twist tcp-chat --redis} nodes, a
real redis-server, real TCP clients. See C{docs/cluster.md}, "What each failure does".
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest_twisted
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol

from tests.cluster_support import FAST, Client, join, start_nodes
from tests.redis_support import RedisServer, until
from twisted_tcp.chat.cluster.service import NO_SERVICE

PREFIX = "twisted-tcp"


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
    assert alice.has("* server shutting down") and carol.has("* server shutting down")
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
