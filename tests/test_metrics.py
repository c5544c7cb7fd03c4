"""
Tests for C{--metrics}: the servers' counts scraped over a real socket while real
clients connect, talk and are refused, the exposition checked by Prometheus' own
C{promtool}, and C{/healthz}.
"""

from __future__ import annotations

import contextlib
import re
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.application.service import IServiceCollection
from twisted.internet.task import deferLater
from twisted.internet.threads import deferToThread
from twisted.python import usage

from twisted_tcp._metrics import _MetricsService
from twisted_tcp.tap import tcp_chat, tcp_echo, tcp_greet, udp_echo
from twisted_tcp.tap._common import ServerService

from .redis_support import RedisServer
from .support import http_get, port_of, read_until_closed, samples


def start(module: Any, *argv: str) -> tuple[Any, Any]:
    """Parse a plugin's options, start its service; return both."""
    options = module.Options()
    options.parseOptions([*argv, "--metrics", "tcp:0:interface=127.0.0.1"])
    service = module.makeService(options)
    service.startService()
    return options, service


def server_of(service: Any) -> Any:
    """The server in a plugin's service (the chat's is beside its backend)."""
    servers = [each for each in service if isinstance(each, ServerService)]
    return servers[0] if servers else service


async def listening_port(service: Any) -> int:
    """The port the plugin's first endpoint listens on."""
    listener = next(iter(server_of(service)))
    return port_of(await listener._waitingForPort)


async def health_becomes(reactor: Any, port: int, status: int) -> tuple[int, str]:
    """Ask /healthz until it answers C{status} (bounded: a hang fails the test)."""
    for _ in range(300):
        answer = await deferToThread(http_get, port, "/healthz")
        if answer[0] == status:
            return answer
        await deferLater(reactor, 0.1)
    raise AssertionError(f"/healthz never answered {status}")


async def metrics_port(service: IServiceCollection) -> int:
    """The port the service's C{--metrics} listens on."""
    server = server_of(service)
    (metrics,) = [each for each in server if isinstance(each, _MetricsService)]
    assert metrics._waitingForPort is not None
    return port_of(await metrics._waitingForPort)


async def scrape(port: int) -> dict[str, float]:
    """GET /metrics, checked by promtool, as samples."""
    status, body = await deferToThread(http_get, port, "/metrics")
    assert status == 200
    check = subprocess.run(
        ["promtool", "check", "metrics"], input=body.encode(), capture_output=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    return samples(body)


def talk(port: int, messages: list[bytes]) -> socket.socket:
    """Connect, send each message and read its whole echo; stay connected."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    for message in messages:
        sock.sendall(message)
        echoed = b""
        while len(echoed) < len(message):
            echoed += sock.recv(65536)
        assert echoed == message
    return sock


def refused(port: int) -> bytes:
    """Connect and read what the server says before closing."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        return read_until_closed(sock)


@pytest_twisted.ensureDeferred
async def test_echo_counts_what_its_clients_did() -> None:
    """The echo's metrics count the connections open and accepted, the refusal over
    --max-connections, and the bytes and messages each way, as the clients saw
    them; the exposition passes promtool and has the process's own metrics."""
    _, service = start(tcp_echo, "--listen", "tcp:0:interface=127.0.0.1",
                       "--max-connections", "2")  # fmt: skip
    try:
        port = port_of(await next(iter(service))._waitingForPort)
        scraped = await metrics_port(service)
        sent = [[b"hello"], [b"x" * 1000, b"end"]]
        clients = [await deferToThread(talk, port, each) for each in sent]
        answer = await deferToThread(refused, port)
        assert answer.startswith(b"error: too many connections")
        metrics = await scrape(scraped)
        total = sum(len(message) for each in sent for message in each)
        assert metrics["twisted_tcp_connections_open"] == 2
        assert metrics["twisted_tcp_connections_accepted_total"] == 2
        assert metrics['twisted_tcp_connections_refused_total{reason="limit"}'] == 1
        assert metrics['twisted_tcp_connections_refused_total{reason="per_ip"}'] == 0
        assert metrics['twisted_tcp_connections_refused_total{reason="ban"}'] == 0
        assert metrics["twisted_tcp_received_bytes_total"] == total
        assert metrics["twisted_tcp_sent_bytes_total"] == total
        # Each message was sent once its previous echo came back: TCP may split a
        # message in chunks, but never joins two.
        messages = metrics["twisted_tcp_received_messages_total"]
        assert messages >= 3
        assert metrics["twisted_tcp_sent_messages_total"] == messages
        assert metrics["process_cpu_seconds_total"] > 0
        assert metrics["process_open_fds"] > 0
        for client in clients:
            client.close()
    finally:
        await service.stopService()


@pytest_twisted.ensureDeferred
async def test_greet_counts_refusals_per_ip_and_idle_closes() -> None:
    """A connection over --max-per-ip is counted as refused per IP, a connection
    closed by --idle-timeout as an idle close, and lines as messages."""
    _, service = start(tcp_greet, "--listen", "tcp:0:interface=127.0.0.1",
                       "--max-per-ip", "1", "--idle-timeout", "0.5")  # fmt: skip
    try:
        port = port_of(await next(iter(service))._waitingForPort)
        scraped = await metrics_port(service)

        def idle_out() -> bytes:
            with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
                sock.sendall(b"Ada\n")
                over = refused(port)
                assert over.startswith(b"error: too many connections from 127.0.0.1")
                return read_until_closed(sock)

        said = await deferToThread(idle_out)
        assert b"Ada" in said
        assert b"idle" in said
        metrics = await scrape(scraped)
        assert metrics["twisted_tcp_connections_accepted_total"] == 1
        assert metrics['twisted_tcp_connections_refused_total{reason="per_ip"}'] == 1
        assert metrics["twisted_tcp_idle_closes_total"] == 1
        assert metrics["twisted_tcp_received_messages_total"] == 1
        assert metrics["twisted_tcp_received_bytes_total"] == len(b"Ada\n")
        # The welcome, the greeting, the idle notice: each a line of its own.
        assert metrics["twisted_tcp_sent_messages_total"] == said.count(b"\n")
        assert metrics["twisted_tcp_sent_bytes_total"] == len(said)
    finally:
        await service.stopService()


@pytest_twisted.ensureDeferred
async def test_health_is_ready_until_shutdown() -> None:
    """/healthz answers 200 while the server serves and 503 with the reason once it
    is shutting down; other paths are not found."""
    options, service = start(tcp_echo, "--listen", "tcp:0:interface=127.0.0.1")
    try:
        scraped = await metrics_port(service)
        assert await deferToThread(http_get, scraped, "/healthz") == (200, "ok\n")
        assert (await deferToThread(http_get, scraped, "/nothing"))[0] == 404
        options["factory"].shutting_down = True
        health = await deferToThread(http_get, scraped, "/healthz")
        assert health == (503, "not ready: shutting down\n")
    finally:
        await service.stopService()


@pytest_twisted.ensureDeferred
async def test_udp_echo_counts_answered_and_rate_limited_datagrams() -> None:
    """udp-echo counts the datagrams it answered and those over --rate, matching
    what the client got back."""
    _, service = start(udp_echo, "--port", "0", "--interface", "127.0.0.1",
                       "--rate", "1")  # fmt: skip
    try:
        port = port_of(service.listening)
        scraped = await metrics_port(service)

        def burst() -> int:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                for _ in range(5):
                    sock.sendto(b"ping", ("127.0.0.1", port))
                sock.settimeout(2)
                answers = 0
                try:
                    while sock.recv(100) == b"ping":
                        answers += 1
                except TimeoutError:
                    return answers
            raise AssertionError("a wrong answer")

        answers = await deferToThread(burst)
        metrics = await scrape(scraped)
        assert metrics["twisted_tcp_udp_received_datagrams_total"] == 5
        assert metrics["twisted_tcp_udp_answered_datagrams_total"] == answers
        limited = metrics["twisted_tcp_udp_rate_limited_datagrams_total"]
        assert limited == 5 - answers
        assert limited >= 1
        assert metrics["twisted_tcp_udp_sent_bytes_total"] == 4 * answers
        assert await deferToThread(http_get, scraped, "/healthz") == (200, "ok\n")
    finally:
        await service.stopService()


@pytest.mark.parametrize("module", [tcp_echo, udp_echo])
def test_bad_metrics_endpoint_is_a_usage_error(module: Any) -> None:
    """A --metrics endpoint that cannot be made is a usage error naming it."""
    options = module.Options()
    with pytest.raises(usage.UsageError, match=re.escape("bad endpoint 'tcp:x'")):
        options.parseOptions(["--metrics", "tcp:x"])


def chat_line(sock: socket.socket, pattern: bytes, seen: bytearray) -> None:
    """Read from a chat connection until C{pattern} has been seen."""
    while pattern not in seen:
        chunk = sock.recv(65536)
        assert chunk, bytes(seen)
        seen += chunk


def slow_reader_scenario(port: int) -> int:
    """
    A reader, a member that never reads, and a poster who posts long lines until
    the one that never reads is dropped; return how many lines were posted.
    """
    reader = socket.create_connection(("127.0.0.1", port), timeout=30)
    heard = bytearray()
    chat_line(reader, b"Welcome", heard)
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    slow.connect(("127.0.0.1", port))
    poster = socket.create_connection(("127.0.0.1", port), timeout=30)
    chat_line(poster, b"Welcome", bytearray())
    posted = 0
    poster.settimeout(0.001)
    while b"dropped" not in heard and posted < 20000:
        poster.sendall(b"x" * 900 + b"\n")
        posted += 1
        with contextlib.suppress(TimeoutError):
            poster.recv(1 << 20)
        reader.settimeout(0.001)
        with contextlib.suppress(TimeoutError):
            heard += reader.recv(1 << 20)
    assert b"dropped" in heard
    poster.settimeout(30)
    poster.sendall(b"/me is done\n")
    reader.settimeout(30)
    chat_line(reader, b"is done", heard)
    for sock in (reader, slow, poster):
        sock.close()
    return posted + 1


@pytest_twisted.ensureDeferred
async def test_chat_counts_members_lines_history_and_drops(
    reactor: Any, tmp_path: Path
) -> None:
    """The chat's metrics count the lines posted (and /me), the member dropped for
    not reading, the members and rooms, and the history's writes to its file."""
    _, service = start(tcp_chat, "--listen", "tcp:0:interface=127.0.0.1",
                       "--flood-rate", "0", "--max-send-queue", "10000",
                       "--history", "5",
                       "--history-db", str(tmp_path / "history.db"))  # fmt: skip
    try:
        port = await listening_port(service)
        scraped = await metrics_port(service)
        posted = await deferToThread(slow_reader_scenario, port)
        metrics = await scrape(scraped)
        assert metrics["twisted_tcp_chat_lines_posted_total"] == posted
        assert metrics["twisted_tcp_slow_readers_dropped_total"] == 1
        assert metrics["twisted_tcp_connections_accepted_total"] == 3
        assert metrics["twisted_tcp_chat_rooms"] == 1
        delivered = metrics["twisted_tcp_chat_lines_delivered_total"]
        assert delivered == metrics["twisted_tcp_sent_messages_total"]
        assert delivered >= 2 * posted
        for _ in range(100):
            if metrics["twisted_tcp_chat_history_write_seconds_count"] >= 1:
                break
            await deferLater(reactor, 0.1)
            metrics = await scrape(scraped)
        assert metrics["twisted_tcp_chat_history_write_seconds_count"] >= 1
        assert metrics["twisted_tcp_chat_history_write_seconds_sum"] > 0
    finally:
        await service.stopService()


@pytest_twisted.ensureDeferred
async def test_chat_node_reports_its_redis_link(
    reactor: Any, redis_server: RedisServer
) -> None:
    """A chat node's /healthz answers 200 while its links to Redis are up and 503
    naming the link once Redis is gone; its metrics say so, and count the nodes
    whose events it read."""
    _, service = start(tcp_chat, "--listen", "tcp:0:interface=127.0.0.1",
                       "--redis", redis_server.url)  # fmt: skip
    try:
        port = await listening_port(service)
        scraped = await metrics_port(service)
        await health_becomes(reactor, scraped, 200)

        def post() -> None:
            with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
                heard = bytearray()
                chat_line(sock, b"Welcome", heard)
                sock.sendall(b"hello\n")
                chat_line(sock, b"> hello", heard)

        await deferToThread(post)
        metrics = await scrape(scraped)
        assert metrics["twisted_tcp_chat_redis_up"] == 1
        assert metrics["twisted_tcp_chat_nodes_seen"] == 1
        assert metrics["twisted_tcp_chat_redis_outbox"] == 0
        redis_server.stop()
        health = await health_becomes(reactor, scraped, 503)
        assert health == (503, "not ready: the link to Redis is down\n")
        assert (await scrape(scraped))["twisted_tcp_chat_redis_up"] == 0
    finally:
        await service.stopService()
