"""
Tests for L{twisted_tcp.chat.cluster.reader}: entries of a changing set of streams on a
real redis-server, each handed on once and in order, across Redis restarts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest_twisted

from tests.redis_support import RedisServer
from tests.support import until
from twisted_tcp.chat.cluster.address import parse_redis_url
from twisted_tcp.chat.cluster.link import RedisLink
from twisted_tcp.chat.cluster.reader import StreamReader, stream_id


class Setup:
    """A reader on its own link, a command link beside it, and what it handed on."""

    def __init__(self, reactor: Any, server: RedisServer, block_ms: int) -> None:
        address = parse_redis_url(server.url)
        self.command = RedisLink(address, reactor=reactor, name="command")
        self.delivered: list[tuple[str, str]] = []
        self.reader_link = RedisLink(
            address,
            reactor=reactor,
            name="reader",
            on_ready=lambda: self.reader.connected(),
        )
        self.reader = StreamReader(
            self.reader_link,
            self.command,
            "inbox",
            self.deliver,
            clock=reactor,
            block_ms=block_ms,
        )

    def deliver(self, key: str, entry_id: str, fields: dict[str, str]) -> None:
        self.delivered.append((key, fields["t"]))

    def texts(self, key: str) -> list[str]:
        return [text for stream, text in self.delivered if stream == key]

    async def add(self, key: str, text: str) -> str:
        entry_id: str = await self.command.execute("XADD", key, "*", "t", text)
        return entry_id


@pytest_twisted.async_yield_fixture
async def setup(reactor: Any, redis_server: RedisServer) -> AsyncIterator[Setup]:
    """A started reader whose reads block for a minute (so only wake-ups end them)."""
    made = Setup(reactor, redis_server, block_ms=60_000)
    made.command.start()
    made.reader_link.start()
    made.reader.start()
    await until(reactor, lambda: made.command.ready and made.reader_link.ready)
    yield made
    made.reader.stop()
    await made.reader_link.stop()
    await made.command.stop()


def test_stream_ids_sort() -> None:
    """Entry ids compare by time, then sequence, not as text."""
    assert stream_id("9-1") < stream_id("10-0") < stream_id("10-2")
    assert stream_id("0") == (0, 0)


@pytest_twisted.ensureDeferred
async def test_order_and_new_streams(reactor: Any, setup: Setup) -> None:
    """
    A stream added while a read is blocked is read at once (the wake-up ends the
    read), from after the given id; entries come in order, wake-ups are not handed on.
    """
    before = await setup.add("room", "old")
    setup.reader.track("room", before)
    for number in range(5):
        await setup.add("room", f"m{number}")
    await until(reactor, lambda: len(setup.texts("room")) == 5)
    assert setup.texts("room") == ["m0", "m1", "m2", "m3", "m4"]
    setup.reader.track("other", "0-0")
    await setup.add("other", "x")
    await until(reactor, lambda: setup.texts("other") == ["x"])
    assert setup.texts("inbox") == []


@pytest_twisted.ensureDeferred
async def test_untrack(reactor: Any, setup: Setup) -> None:
    """Entries of a stream no longer read are not handed on."""
    setup.reader.track("a", "0-0")
    setup.reader.track("b", "0-0")
    await setup.add("a", "a1")
    await until(reactor, lambda: setup.texts("a") == ["a1"])
    setup.reader.untrack("a")
    await setup.add("a", "a2")
    await setup.add("b", "b1")
    await until(reactor, lambda: setup.texts("b") == ["b1"])
    assert setup.texts("a") == ["a1"]


@pytest_twisted.ensureDeferred
async def test_hold_and_release(reactor: Any, setup: Setup) -> None:
    """A held stream's entries wait, then come in order; other streams go on."""
    setup.reader.track("a", "0-0")
    setup.reader.track("b", "0-0")
    setup.reader.hold("a")
    await setup.add("a", "a1")
    await setup.add("a", "a2")
    await setup.add("b", "b1")
    await until(reactor, lambda: setup.texts("b") == ["b1"])
    assert setup.texts("a") == []
    setup.reader.release("a")
    assert setup.texts("a") == ["a1", "a2"]
    await setup.add("a", "a3")
    await until(reactor, lambda: len(setup.texts("a")) == 3)
    assert setup.texts("a") == ["a1", "a2", "a3"]


@pytest_twisted.ensureDeferred
async def test_hold_again_while_releasing(reactor: Any, setup: Setup) -> None:
    """Holding a stream again while its kept entries are handed on keeps the rest."""
    seen: list[str] = []

    def deliver(key: str, entry_id: str, fields: dict[str, str]) -> None:
        seen.append(fields["t"])
        if fields["t"] == "a1":
            setup.reader.hold(key)

    setup.reader.deliver = deliver
    setup.reader.track("a", "0-0")
    setup.reader.hold("a")
    for text in ("a1", "a2", "a3"):
        await setup.add("a", text)
    await until(reactor, lambda: setup.reader.positions["a"] != "0-0")
    await until(reactor, lambda: len(setup.reader._held["a"]) == 3)
    setup.reader.release("a")
    assert seen == ["a1"]
    setup.reader.release("a")
    assert seen == ["a1", "a2", "a3"]


@pytest_twisted.ensureDeferred
async def test_entry_whose_delivery_raises_stops_nothing(
    reactor: Any, setup: Setup
) -> None:
    """
    An entry whose delivery raises is passed over: the entries after it, in the
    same read and in later ones, of its stream and of others, are handed on.
    """
    handed_on = setup.deliver

    def deliver(key: str, entry_id: str, fields: dict[str, str]) -> None:
        if fields["t"] == "bad":
            raise RuntimeError("cannot take this one")
        handed_on(key, entry_id, fields)

    setup.reader.deliver = deliver
    setup.reader.track("a", "0-0")
    setup.reader.track("b", "0-0")
    setup.reader.hold("a")
    for text in ("a1", "bad", "a2"):
        await setup.add("a", text)
    await until(reactor, lambda: len(setup.reader._held["a"]) == 3)
    setup.reader.release("a")
    await setup.add("a", "bad")
    await setup.add("b", "b1")
    await setup.add("a", "a3")
    await until(reactor, lambda: setup.texts("a") == ["a1", "a2", "a3"])
    assert setup.texts("b") == ["b1"]


@pytest_twisted.ensureDeferred
async def test_resume_after_restart(
    reactor: Any, setup: Setup, redis_server: RedisServer
) -> None:
    """
    Across a Redis restart (same data), reading resumes after the last entry handed
    on: entries appended around the outage each come exactly once.
    """
    setup.reader.track("room", "0-0")
    for number in range(3):
        await setup.add("room", f"before{number}")
    await until(reactor, lambda: len(setup.texts("room")) == 3)
    redis_server.stop()
    await until(reactor, lambda: not setup.reader_link.ready)
    redis_server.start()
    # Appended before the reader is back: it must find them from its position.
    for number in range(3):
        redis_server.command("XADD", "room", "*", "t", f"after{number}")
    await until(reactor, lambda: len(setup.texts("room")) == 6)
    await until(reactor, lambda: setup.command.ready)
    await setup.add("room", "last")
    await until(reactor, lambda: len(setup.texts("room")) == 7)
    assert setup.texts("room") == [
        *(f"before{n}" for n in range(3)),
        *(f"after{n}" for n in range(3)),
        "last",
    ]


@pytest_twisted.ensureDeferred
async def test_every_entry_of_many_runs(reactor: Any, setup: Setup) -> None:
    """
    Entries appended while reads block, in runs of every size from 1 to 300 and some
    far larger than one socket read, over two streams: each is handed on once, in
    its stream's order (the replies are parsed whole however they are cut).
    """
    setup.reader.track("a", "0-0")
    setup.reader.track("b", "0-0")
    wanted: dict[str, list[str]] = {"a": [], "b": []}
    runs = [1, 2, 3, 7, 50, 300, 1, 120]
    for index, size in enumerate(runs):
        key = "ab"[index % 2]
        texts = [
            f"{key}{len(wanted[key]) + n} " + "x" * (n * 37 % 900) for n in range(size)
        ]
        if index == 4:
            texts[-1] += "y" * 300_000
        script = (
            "for i = 1, #ARGV do redis.call('XADD', KEYS[1], '*', 't', ARGV[i]) end"
        )
        await setup.command.eval(script, [key], texts)
        wanted[key] += texts
    await until(
        reactor,
        lambda: all(len(setup.texts(key)) >= len(wanted[key]) for key in wanted),
    )
    assert setup.texts("a") == wanted["a"]
    assert setup.texts("b") == wanted["b"]
