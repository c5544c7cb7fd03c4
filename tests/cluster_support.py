"""
Helpers for the cluster's end-to-end tests: chat nodes as real C{twist tcp-chat
--redis} processes, chat clients on the test's reactor that keep every line, and a
forwarder between one node and Redis that a test can cut, so that only that node
loses Redis.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred, maybeDeferred, succeed
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.protocol import Protocol, connectionDone
from twisted.protocols.portforward import ProxyFactory, ProxyServer
from twisted.python.failure import Failure

from tests.redis_support import free_port
from tests.support import until

TWIST = Path(sys.executable).with_name("twist")
#: Heartbeat of the test nodes, so that lost nodes are found in about a second.
FAST = ("--heartbeat", "0.2")


class Node:
    """One C{twist tcp-chat --redis} process; its log goes to a file."""

    def __init__(self, directory: Path, name: str, redis_url: str, *extra: str) -> None:
        self.name = name
        self.port = free_port()
        self.log_path = directory / f"node-{name}.log"
        self.argv = [
            str(TWIST),
            "--log-format=text",
            "tcp-chat",
            "--port", str(self.port),
            "--interface", "127.0.0.1",
            "--redis", redis_url,
            "--node-name", name,
            "--flood-rate", "0",
            *extra,
        ]  # fmt: skip
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the node (see L{ready} for when it serves)."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def node_id(self) -> str:
        """The node's id in Redis (its name and start token), from its log."""
        match = re.search(r" node (\S+) on ", self.log())
        assert match is not None, "the node has not started"
        return match[1]

    def ready(self) -> bool:
        """
        Whether the node listens and serves: Redis has its heartbeat and members, so
        a newcomer is let in at once (before that, it is told to wait).
        """
        log = self.log()
        return "ChatFactory starting on" in log and "Redis available" in log

    def wait(self) -> int:
        """Wait until the node exits by itself; return its exit status."""
        assert self.process is not None
        return self.process.wait(30)

    def stop(self) -> int:
        """SIGTERM, as an operator stops it; return the exit status."""
        return self._end(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL: the node vanishes without a word to anyone."""
        self._end(signal.SIGKILL)

    def _end(self, how: signal.Signals) -> int:
        process, self.process = self.process, None
        if process is None:
            return 0
        if process.poll() is None:
            process.send_signal(how)
        try:
            return process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()


class Client(Protocol):
    """A chat client that keeps every line it receives (without CRLF)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._buffer = b""
        self.closed = False

    def dataReceived(self, data: bytes) -> None:
        self._buffer += data
        *complete, self._buffer = self._buffer.split(b"\r\n")
        self.lines.extend(line.decode("utf-8", "replace") for line in complete)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.closed = True

    def send(self, *lines: str) -> None:
        assert self.transport is not None
        self.transport.write("".join(f"{line}\n" for line in lines).encode())

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.loseConnection()

    def has(self, text: str) -> bool:
        """Whether some line contains C{text}."""
        return any(text in line for line in self.lines)

    def matching(self, test: Callable[[str], bool]) -> list[str]:
        return [line for line in self.lines if test(line)]

    def messages(self) -> list[str]:
        """The room messages received (C{[TIMESTAMP] <NICK> TEXT}), without stamps."""
        return [
            line.split("] ", 1)[1]
            for line in self.lines
            if line.startswith("[") and "] <" in line
        ]


async def start_nodes(reactor: Any, nodes: list[Node]) -> None:
    """Start nodes and wait until each serves."""
    for node in nodes:
        node.start()
    await until(reactor, lambda: all(node.ready() for node in nodes))


async def join(reactor: Any, node: Node, nick: str | None = None) -> Client:
    """A client connected to C{node}, welcomed, and named C{nick} if given."""
    client = Client()
    await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", node.port), client)
    await until(reactor, lambda: client.has("* Welcome, "))
    if nick is not None:
        client.send(f"/nick {nick}")
        await until(reactor, lambda: client.has(f"is now known as {nick}"))
    return client


class _Forwarded(ProxyServer):
    """One connection through a L{Cut}: kept so that the cut can close it."""

    factory: _Forwarding

    def connectionMade(self) -> None:
        self.factory.open.add(self)
        super().connectionMade()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.factory.open.discard(self)
        super().connectionLost(reason)


class _Forwarding(ProxyFactory):
    protocol = _Forwarded
    noisy = False

    def __init__(self, host: str, port: int) -> None:
        super().__init__(host, port)
        self.open: set[_Forwarded] = set()


class Cut:
    """
    A TCP forwarder to Redis for one node: while it is L{cut}, that node's
    connections are closed and new ones refused, and every other node still
    reaches Redis, as when a network link breaks.
    """

    def __init__(self, reactor: Any, redis_port: int) -> None:
        self._reactor = reactor
        self._factory = _Forwarding("127.0.0.1", redis_port)
        self._listening: Any = None
        self.port = 0

    @property
    def url(self) -> str:
        """The C{redis://} URL a node behind this forwarder is given."""
        return f"redis://127.0.0.1:{self.port}/0"

    def open(self) -> None:
        """Forward connections (again, on the same port)."""
        listening = self._reactor.listenTCP(
            self.port, self._factory, interface="127.0.0.1"
        )
        self._listening = listening
        self.port = listening.getHost().port

    def cut(self) -> Deferred[None]:
        """
        Close every forwarded connection and refuse new ones (until L{open}); fires
        once the port is closed.
        """
        stopped: Deferred[None] = succeed(None)
        if self._listening is not None:
            listening, self._listening = self._listening, None
            stopped = maybeDeferred(listening.stopListening)
        for connection in list(self._factory.open):
            transport: Any = connection.transport
            transport.abortConnection()
        return stopped
