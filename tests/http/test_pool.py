"""
Tests for L{twisted_tcp.http.pool}: the fetches given one pool share connections,
as nginx's log proves (C{$connection}, C{$connection_requests}); a connection the
server closes, or answers with C{Connection: close}, is not used again.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet.defer import Deferred, gatherResults

from twisted_tcp.http import fetch
from twisted_tcp.http.pool import Pool

from .peers import Nginx, nginx_serving
from .scripted import Answer, Request, ScriptedServer

FILES = {f"f{number}": bytes([number]) * (1000 + number) for number in range(6)}


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[Nginx]:
    """nginx serving FILES."""
    with nginx_serving(tmp_path, FILES) as server:
        yield server


@pytest_twisted.ensureDeferred
async def test_sequential_fetches_share_a_connection(
    reactor: Any, nginx: Nginx, tmp_path: Path
) -> None:
    """Six fetches in turn with one pool: one connection, requests 1 to 6 on it."""
    pool = Pool()
    try:
        for name, content in FILES.items():
            result = await fetch(
                reactor, f"{nginx.url}/{name}", str(tmp_path / name), pool=pool
            )
            assert (tmp_path / name).read_bytes() == content
            assert result.status == 200
    finally:
        pool.close()
    used = nginx.connections(6)
    assert len({connection for connection, _ in used}) == 1
    assert [count for _, count in used] == [1, 2, 3, 4, 5, 6]
    assert (pool.opened, pool.reused) == (1, 5)


@pytest_twisted.ensureDeferred
async def test_parallel_fetches_open_what_they_need(reactor: Any, nginx: Nginx) -> None:
    """Three at once open three connections; three more reuse them."""
    pool = Pool()
    names = list(FILES)
    try:
        for batch in (names[:3], names[3:]):
            await gatherResults([
                Deferred.fromCoroutine(
                    fetch(reactor, f"{nginx.url}/{name}", None, pool=pool)
                )
                for name in batch
            ])  # fmt: skip
    finally:
        pool.close()
    used = nginx.connections(6)
    assert len({connection for connection, _ in used}) == 3
    assert sorted(count for _, count in used) == [1, 1, 1, 2, 2, 2]


@pytest_twisted.ensureDeferred
async def test_connection_close_and_server_close_not_reused(reactor: Any) -> None:
    """
    An answer with Connection: close ends its connection; one the server closes
    while idle is forgotten; a new connection carries the next request each time.
    """
    answers = [
        Answer(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\na"),
        Answer(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb", end="stall"),
        Answer(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nc", end="stall"),
    ]

    def answer(request: Request) -> Answer:
        return answers.pop(0)

    server = ScriptedServer(reactor, answer)
    pool = Pool()
    try:
        await fetch(reactor, server.url, None, pool=pool)
        await fetch(reactor, server.url, None, pool=pool)
        server.reset()  # The server drops the idle connection.
        result = await fetch(reactor, server.url, None, pool=pool)
    finally:
        pool.close()
        await server.stop()
    assert (result.status, pool.opened) == (200, 3)
    assert [request.fields.get("connection") for request in server.requests] == [
        None, None, None,
    ]  # fmt: skip
