"""
End-to-end tests of how the chat cluster's lines travel through Redis: real
C{twist tcp-chat --redis} nodes, a real redis-server watched with C{MONITOR}, real
TCP clients. See C{docs/cluster.md}, "Message flow and ordering".
"""

from __future__ import annotations

from typing import Any

import pytest_twisted
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.protocol import Protocol

from tests.cluster_support import FAST, Client, join, start_nodes
from tests.redis_support import RedisServer
from tests.support import until


class Monitor(Protocol):
    """
    A C{MONITOR} connection: Redis sends one line per command it runs (those of
    scripts included), with the command's words quoted; this keeps those lines.
    """

    def __init__(self) -> None:
        self.lines: list[bytes] = []
        self._buffer = b""

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.write(b"MONITOR\r\n")

    def dataReceived(self, data: bytes) -> None:
        *complete, self._buffer = (self._buffer + data).split(b"\r\n")
        self.lines += complete

    def commands(self, word: str) -> list[bytes]:
        """
        The commands of clients (not those of the scripts they ran) one of whose
        words contains C{word}.
        """
        return [
            line
            for line in self.lines
            if word.encode() in line and b" lua]" not in line
        ]


async def monitor(reactor: Any, server: RedisServer) -> Monitor:
    watching = Monitor()
    endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", server.port)
    await connectProtocol(endpoint, watching)
    await until(reactor, lambda: watching.lines[:1] == [b"+OK"])
    return watching


@pytest_twisted.ensureDeferred
async def test_a_burst_of_short_lines_goes_to_redis_at_once(
    reactor: Any, make_node: Any, clients: list[Client], redis_server: RedisServer
) -> None:
    """
    A thousand short lines of one member, in one read, go to Redis in a script or
    two rather than in dozens of round trips (a member's input waits for Redis only
    once 64 Ki characters of its lines are unanswered), each script's lines are one
    entry of the room's log (so each node reads and dispatches a few entries, not a
    thousand) and one entry each of its history, and they reach a member of another
    node whole and in order.
    """
    history = ("--history", "5000")
    a, b = make_node("a", *FAST, *history), make_node("b", *FAST, *history)
    await start_nodes(reactor, [a, b])
    sender, receiver = await join(reactor, a, "sender"), await join(reactor, b, "rcv")
    clients += [sender, receiver]
    watching = await monitor(reactor, redis_server)
    sent = [f"burst-line {number}" for number in range(1000)]
    sender.send(*sent)

    def received() -> list[str]:
        return [line for line in receiver.messages() if "burst-line" in line]

    await until(reactor, lambda: len(received()) >= len(sent))
    assert received() == [f"<sender> {line}" for line in sent]
    scripts = len(watching.commands("burst-line"))
    assert 1 <= scripts <= 4
    assert _entries(redis_server, "#lobby:log", "burst-line") == scripts
    assert _entries(redis_server, "#lobby:history", "burst-line") == len(sent)


#: How many entries of a stream (KEYS[1]) have a text ('t') that holds ARGV[1].
_COUNT_ENTRIES = """
local n = 0
for _, entry in ipairs(redis.call('XRANGE', KEYS[1], '-', '+')) do
  local fields = entry[2]
  for i = 1, #fields, 2 do
    if fields[i] == 't' and string.find(fields[i + 1], ARGV[1], 1, true) then
      n = n + 1
    end
  end
end
return n
"""


def _entries(server: RedisServer, room_stream: str, text: str) -> int:
    """How many entries of a room's stream (C{ROOM:log}, ...) have C{text}."""
    key = f"twisted-tcp:room:{room_stream}"
    (count,) = server.cli("EVAL", _COUNT_ENTRIES, "1", key, text)
    return int(count)


@pytest_twisted.ensureDeferred
async def test_an_arrival_goes_to_redis_with_the_first_line(
    reactor: Any, make_node: Any, clients: list[Client], redis_server: RedisServer
) -> None:
    """
    A newcomer who speaks within its grace is announced with its first line, in the
    same script (arrivals queue with the lines, so the arrivals of a join storm cost
    a script per turn, not one each); the other node shows the join, then the line.
    """
    a, b = make_node("a", *FAST), make_node("b", *FAST)
    await start_nodes(reactor, [a, b])
    watcher = await join(reactor, b, "watcher")
    watching = await monitor(reactor, redis_server)
    newcomer = Client()
    await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", a.port), newcomer)
    clients += [watcher, newcomer]
    await until(reactor, lambda: newcomer.has("* Welcome, "))
    nick = newcomer.lines[0].split()[2].rstrip("!")
    newcomer.send("first words")
    await until(reactor, lambda: watcher.has(f"<{nick}> first words"))
    joined = watcher.lines.index(f"* {nick} joined #lobby")
    assert watcher.lines[joined + 1].endswith(f"<{nick}> first words")
    (script,) = watching.commands("first words")
    assert f'"a" "{nick}" "m"'.encode() in script
    assert watching.commands(f'"{nick}"') == [script]
