"""
Tests for L{twisted_tcp.chat.cluster.link}: a connection to a real redis-server that
stays up across Redis restarts, and fails commands at once while Redis is away.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted

from tests.redis_support import RedisServer
from tests.support import self_signed, until
from twisted_tcp.chat.cluster.address import RedisAddress, parse_redis_url
from twisted_tcp.chat.cluster.link import (
    RedisLink,
    RedisReplyError,
    RedisUnavailableError,
)


class Events:
    """What a link reported, in order."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def count(self, event: str) -> int:
        return self.seen.count(event)

    def link(self, reactor: Any, address: RedisAddress, **kwargs: Any) -> RedisLink:
        return RedisLink(
            address,
            reactor=reactor,
            name="test",
            on_ready=lambda: self.seen.append("ready"),
            on_lost=lambda: self.seen.append("lost"),
            on_refused=lambda reason: self.seen.append(f"refused: {reason}"),
            **kwargs,
        )


@pytest_twisted.async_yield_fixture
async def started(reactor: Any) -> AsyncIterator[Callable[[RedisLink], RedisLink]]:
    """Start links for a test and stop them all after it."""
    links: list[RedisLink] = []

    def start(link: RedisLink) -> RedisLink:
        links.append(link)
        link.start()
        return link

    yield start
    for link in links:
        await link.stop()


@pytest_twisted.ensureDeferred
async def test_commands(reactor: Any, redis_server: RedisServer, started: Any) -> None:
    """Once ready, commands get Redis's replies, as text; errors are RedisReplyError."""
    events = Events()
    link = started(events.link(reactor, parse_redis_url(redis_server.url)))
    await until(reactor, lambda: link.ready)
    assert events.seen == ["ready"]
    assert await link.execute("PING") == "PONG"
    assert await link.execute("SET", "k", "héllo 123") == "OK"
    assert await link.execute("GET", "k") == "héllo 123"
    assert await link.eval("return {KEYS[1], ARGV[1], 7}", ["a"], ["b"]) == [
        "a",
        "b",
        7,
    ]
    with pytest.raises(RedisReplyError, match="wrong number of arguments"):
        await link.execute("XADD")


@pytest_twisted.ensureDeferred
async def test_reply_parsed_as_it_arrives(
    reactor: Any, redis_server: RedisServer, started: Any, monkeypatch: Any
) -> None:
    """
    A reply of thousands of strings is parsed in the reads that bring it. (txredisapi's
    pure-Python parser stops reading the connection after each string and starts again
    on the next reactor turn: two epoll calls and a turn for every field of every
    entry of a room's log.)
    """
    link = started(Events().link(reactor, parse_redis_url(redis_server.url)))
    await until(reactor, lambda: link.ready)
    values = [f"entry {number}" for number in range(5000)]
    await link.execute("RPUSH", "many", *values)
    pauses = 0
    remove_reader = reactor.removeReader

    def counted(reader: Any) -> None:
        nonlocal pauses
        pauses += 1
        remove_reader(reader)

    monkeypatch.setattr(reactor, "removeReader", counted)
    assert await link.execute("LRANGE", "many", 0, -1) == values
    assert pauses < 10


@pytest_twisted.ensureDeferred
async def test_outage(reactor: Any, redis_server: RedisServer, started: Any) -> None:
    """
    While Redis is stopped, commands fail at once with RedisUnavailableError; the link
    reconnects by itself when Redis is back, reporting each loss and recovery once.
    """
    events = Events()
    link = started(events.link(reactor, parse_redis_url(redis_server.url)))
    await until(reactor, lambda: link.ready)
    await link.execute("SET", "kept", "1")
    redis_server.stop()
    await until(reactor, lambda: not link.ready)
    with pytest.raises(RedisUnavailableError):
        await link.execute("PING")
    redis_server.start()
    await until(reactor, lambda: link.ready)
    assert events.seen == ["ready", "lost", "ready"]
    assert await link.execute("GET", "kept") == "1"


@pytest_twisted.ensureDeferred
async def test_lost_mid_command(
    reactor: Any, redis_server: RedisServer, started: Any
) -> None:
    """A command waiting for its answer when the connection drops is unavailable."""
    link = started(Events().link(reactor, parse_redis_url(redis_server.url)))
    await until(reactor, lambda: link.ready)
    waiting = link.execute("BLPOP", "nothing", "0", timeout=60)
    redis_server.stop()
    with pytest.raises(RedisUnavailableError):
        await waiting


@pytest_twisted.ensureDeferred
async def test_no_answer(reactor: Any, redis_server: RedisServer, started: Any) -> None:
    """A command not answered in time drops the connection, which is made again."""
    events = Events()
    link = started(events.link(reactor, parse_redis_url(redis_server.url)))
    await until(reactor, lambda: link.ready)
    with pytest.raises(RedisUnavailableError):
        await link.execute("BLPOP", "nothing", "0", timeout=0.05)
    await until(reactor, lambda: events.count("ready") == 2)
    assert events.seen == ["ready", "lost", "ready"]


@pytest_twisted.ensureDeferred
async def test_unix_socket_and_db(
    reactor: Any, redis_server: RedisServer, started: Any
) -> None:
    """A unix:// URL reaches the server by its socket and selects the database."""
    unix = started(
        Events().link(
            reactor, parse_redis_url(f"unix://{redis_server.socket_path}?db=3")
        )
    )
    tcp = started(
        Events().link(
            reactor, parse_redis_url(f"redis://127.0.0.1:{redis_server.port}/3")
        )
    )
    await until(reactor, lambda: unix.ready and tcp.ready)
    await unix.execute("SET", "where", "db3")
    assert await tcp.execute("GET", "where") == "db3"
    assert redis_server.command("GET", "where") == b"$-1"


@pytest_twisted.ensureDeferred
async def test_password(reactor: Any, redis_server: RedisServer, started: Any) -> None:
    """The URL's password logs in; a wrong one is refused and reported, once."""
    redis_server.command("CONFIG", "SET", "requirepass", "s3cret")
    good = Events()
    link = started(
        good.link(
            reactor, parse_redis_url(f"redis://:s3cret@127.0.0.1:{redis_server.port}")
        )
    )
    bad = Events()
    started(
        bad.link(
            reactor, parse_redis_url(f"redis://:nope@127.0.0.1:{redis_server.port}")
        )
    )
    await until(reactor, lambda: link.ready and bad.seen != [])
    assert await link.execute("PING") == "PONG"
    assert len(bad.seen) == 1
    assert bad.seen[0].startswith("refused: ") and "auth" in bad.seen[0]


@pytest_twisted.ensureDeferred
async def test_tls(reactor: Any, tmp_path: Path, started: Any) -> None:
    """A rediss:// URL speaks TLS and checks the server against the given CA."""
    key, certificate = self_signed(tmp_path)
    server = RedisServer(tmp_path / "redis", tls=(key, certificate))
    server.start()
    try:
        url = f"rediss://localhost:{server.tls_port}?ca={certificate}"
        link = started(Events().link(reactor, parse_redis_url(url)))
        await until(reactor, lambda: link.ready)
        assert await link.execute("PING") == "PONG"
    finally:
        server.stop()
