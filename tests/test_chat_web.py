"""
Tests for L{twisted_tcp.chat.web}: the Origin check, and browser members over the
WebSocket (frames in, lines out, limits, flow control, pings), first over in-memory
transports with a test clock, then over real sockets through the web site.
"""

from __future__ import annotations

import socket
from contextlib import ExitStack, suppress
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
import websocket
from hypothesis import given
from hypothesis import strategies as st
from twisted.internet.address import IPv4Address
from twisted.internet.endpoints import serverFromString
from twisted.internet.error import ConnectionAborted
from twisted.internet.testing import StringTransportWithDisconnection
from twisted.internet.threads import deferToThread
from twisted.logger import LogLevel, capturedLogs
from twisted.python.failure import Failure

from twisted_tcp.chat import ChatFactory
from twisted_tcp.chat.web import OriginPolicy, chat_site, parse_origin
from twisted_tcp.chat.web.site import REQUEST_DEADLINE
from twisted_tcp.chat.web.websocket import ChatWebSocket, ChatWebSocketFactory

from .chat_support import ChatHarness, local_chat, take
from .support import clock_of, port_of, read_until_closed, self_signed, splits, stop
from .support import take as take_now

HOST = "chat.example:8080"
OPCODE_TEXT, OPCODE_BINARY, OPCODE_CLOSE = 1, 2, 8
OPCODE_PING, OPCODE_PONG = 9, 10


# The Origin check.


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("https://Chat.Example.COM", "https://chat.example.com"),
        ("https://chat.example.com:443", "https://chat.example.com"),
        ("http://chat.example.com:80/", "http://chat.example.com"),
        ("http://chat.example.com:8080", "http://chat.example.com:8080"),
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("null", "null"),
    ],
)
def test_origin_canonical_form(text: str, canonical: str) -> None:
    """Origins compare in one form: lower case, default ports left out."""
    assert parse_origin(text) == canonical


@pytest.mark.parametrize(
    "text",
    [
        "chat.example.com",
        "ftp://chat.example.com",
        "https://",
        "https://chat.example.com/path",
        "https://user@chat.example.com",
        "https://chat.example.com?x=1",
        "https://chat.example.com:99999",
        "",
    ],
)
def test_not_an_origin(text: str) -> None:
    """Anything but scheme://host[:port] (or null) is refused with a clear message."""
    with pytest.raises(ValueError, match="not an origin"):
        parse_origin(text)


@pytest.mark.parametrize(
    ("origin", "host", "allowed"),
    [
        (None, HOST, True),
        ("http://chat.example:8080", HOST, True),
        ("https://CHAT.example:8080", "chat.EXAMPLE:8080", True),
        ("https://chat.example", "chat.example", True),
        ("https://chat.example", "chat.example:443", True),
        ("http://chat.example", "chat.example:80", True),
        ("http://[::1]:8080", "[::1]:8080", True),
        ("http://chat.example:8081", HOST, False),
        ("http://evil.example:8080", HOST, False),
        ("http://chat.example.evil.example:8080", HOST, False),
        ("https://chat.example", "chat.example:8443", False),
        ("null", HOST, False),
        ("http://chat.example:8080", None, False),
        ("not an origin", HOST, False),
        ("http://chat.example:8080", "bad:port", False),
    ],
)
def test_same_host_by_default(
    origin: str | None, host: str | None, allowed: bool
) -> None:
    """Without --web-origin only the page's own host (and non-browsers) get in."""
    assert OriginPolicy().allows(origin, host) is allowed


def test_listed_origins_let_in_too() -> None:
    """--web-origin adds origins; the page's own host still gets in."""
    policy = OriginPolicy(["https://app.example", "null"])
    assert policy.allows("https://app.example:443", HOST)
    assert policy.allows("null", HOST)
    assert policy.allows("http://chat.example:8080", HOST)
    assert not policy.allows("https://other.example", HOST)


# Browser members over in-memory transports.


def frames_of(data: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """Split what the server wrote into (opcode, payload) frames and the rest."""
    frames = []
    while len(data) >= 2:
        length, offset = data[1] & 0x7F, 2
        if length == 126:
            length, offset = int.from_bytes(data[2:4]), 4
        elif length == 127:
            length, offset = int.from_bytes(data[2:10]), 10
        if len(data) < offset + length:
            break
        frames.append((data[0] & 0x0F, data[offset : offset + length]))
        data = data[offset + length :]
    return frames, data


def frame(data: str | bytes, opcode: int = OPCODE_TEXT, fin: int = 1) -> bytes:
    """One masked client frame."""
    if isinstance(data, str):
        data = data.encode()
    encoded: bytes = websocket.ABNF.create_frame(data, opcode, fin).format()
    return encoded


def request(origin: str | None = "http://chat.example:8080") -> bytes:
    """A browser's opening handshake."""
    head = [
        "GET /ws HTTP/1.1",
        f"Host: {HOST}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
    ]
    if origin is not None:
        head.append(f"Origin: {origin}")
    return ("\r\n".join(head) + "\r\n\r\n").encode()


class TCPLikeTransport(StringTransportWithDisconnection):
    """
    An in-memory transport that, like TCP's, lets a producer be unregistered twice and
    reports an abort as one.
    """

    def unregisterProducer(self) -> None:
        if self.producer is not None:
            super().unregisterProducer()

    def abortConnection(self) -> None:
        if self.connected:
            self.connected = False
            self.protocol.connectionLost(Failure(ConnectionAborted()))


class Browser:
    """A WebSocket client on an in-memory transport: real frames both ways."""

    def __init__(
        self,
        factory: ChatWebSocketFactory,
        origin: str | None = "http://chat.example:8080",
    ) -> None:
        self._clock = clock_of(factory.chat)
        peer = IPv4Address("TCP", "127.0.0.1", 50000)
        protocol = factory.buildProtocol(peer)
        assert isinstance(protocol, ChatWebSocket)
        self.protocol: ChatWebSocket = protocol
        self.transport: TCPLikeTransport = TCPLikeTransport(peerAddress=peer)
        self.transport.protocol = protocol
        protocol.makeConnection(self.transport)
        protocol.dataReceived(request(origin))
        response, _, rest = take_now(self.transport).partition(b"\r\n\r\n")
        self.response: bytes = response
        self._unread: bytes = rest
        self.frames: list[tuple[int, bytes]] = []

    def read(self) -> list[tuple[int, bytes]]:
        """The frames the server sent since the last read."""
        self._clock.advance(0)  # Rooms deliver at the end of the reactor turn.
        frames, self._unread = frames_of(self._unread + take_now(self.transport))
        self.frames += frames
        return frames

    def lines(self) -> list[str]:
        """The text frames the server sent since the last read, as lines."""
        return [data.decode() for opcode, data in self.read() if opcode == OPCODE_TEXT]

    def send(self, *data: bytes) -> None:
        for chunk in data:
            self.protocol.dataReceived(chunk)

    def say(self, *texts: str) -> None:
        self.send(*(frame(text) for text in texts))


class Chat(ChatHarness):
    """The chat harness, with a WebSocket factory for browsers beside TCP members."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.websockets = ChatWebSocketFactory(self.factory, OriginPolicy())

    def browser(self, origin: str | None = "http://chat.example:8080") -> Browser:
        browser = Browser(self.websockets, origin)
        browser.read()
        return browser

    def nc(self) -> StringTransportWithDisconnection:
        _, transport = self.join()
        take(transport)
        return transport


def test_browser_is_a_member_like_nc() -> None:
    """A browser is welcomed, and its lines and a TCP member's reach each other."""
    chat = Chat()
    browser = Browser(chat.websockets)
    assert browser.response.startswith(b"HTTP/1.1 101 ")
    assert browser.lines() == [
        "* Welcome, guest-1! Change your nick with /nick NAME;"
        " /help lists the commands."
    ]
    nc = chat.nc()
    assert browser.lines() == ["* guest-2 joined #lobby"]
    browser.say("hello from the page")
    assert take(nc).endswith(b"<guest-1> hello from the page\r\n")
    assert browser.lines()[0].endswith("<guest-1> hello from the page")
    nc.protocol.dataReceived(b"/nick bob\nhi page\n")
    said = browser.lines()
    assert said[0] == "* guest-2 is now known as bob"
    assert said[1].endswith("<bob> hi page")


def test_each_line_is_one_frame() -> None:
    """Lines written together (a batch, the history) still go out one frame each."""
    chat = Chat(history=5)
    nc = chat.nc()
    nc.protocol.dataReceived(b"one\ntwo\nthree\n")
    browser = Browser(chat.websockets)
    lines = browser.lines()
    assert [line.rsplit("> ", 1)[1] for line in lines[1:]] == ["one", "two", "three"]
    nc.protocol.dataReceived(b"four\nfive\n")
    assert [line.rsplit("> ", 1)[1] for line in browser.lines()] == ["four", "five"]


@given(data=st.data())
def test_frames_split_anywhere_give_the_same_lines(data: st.DataObject) -> None:
    """Frames fragmented and cut at any byte make the same lines as whole ones."""
    chat = Chat()
    browser = chat.browser()
    nc = chat.nc()
    stream = frame("héllo", OPCODE_TEXT, fin=0) + frame(" wörld", 0, fin=1)
    stream += frame("/me waves")
    browser.send(*data.draw(splits(stream)))
    relayed = take(nc).decode().splitlines()
    assert relayed[0].endswith("<guest-1> héllo wörld")
    assert relayed[1].endswith("* guest-1 waves")


def test_too_long_message_gets_the_line_error_and_connection_stays() -> None:
    """A message over --max-line gets a TCP member's error; the next one is relayed."""
    chat = Chat(max_line=10)
    browser = chat.browser()
    nc = chat.nc()
    browser.read()
    nc.protocol.dataReceived(b"x" * 11 + b"\n")
    error = take(nc).decode().rstrip("\r\n")
    assert error.startswith("error: line too long (max 10 bytes")
    browser.say("x" * 11)
    assert browser.lines() == [error]
    browser.send(frame("y" * 6, fin=0), frame("y" * 6, 0, fin=1))
    assert browser.lines() == [error]
    browser.say("z" * 10)
    assert browser.lines()[0].endswith("<guest-1> " + "z" * 10)
    assert take(nc).count(b"<guest-1>") == 1


@pytest.mark.parametrize(
    ("sent", "error"),
    [
        (frame("two\nlines"), "error: a message is one line (no CR or LF)"),
        (frame("cr\r"), "error: a message is one line (no CR or LF)"),
        (
            frame(b"\x00\x01", OPCODE_BINARY),
            "error: binary messages are not accepted; send text",
        ),
    ],
)
def test_refused_messages(sent: bytes, error: str) -> None:
    """Binary messages and text holding CR or LF get an error; nothing is relayed."""
    chat = Chat()
    browser = chat.browser()
    nc = chat.nc()
    browser.read()
    browser.send(sent)
    assert browser.lines() == [error]
    assert take(nc) == b""
    browser.say("still here")
    assert take(nc).endswith(b"<guest-1> still here\r\n")


def test_invalid_utf8_fails_the_websocket() -> None:
    """A text frame that is not UTF-8 fails the WebSocket, as RFC 6455 requires."""
    chat = Chat()
    browser = chat.browser()
    nc = chat.nc()
    browser.send(frame(b"\xff\xfe", OPCODE_TEXT))
    assert not browser.transport.connected
    assert take(nc).endswith(b"* guest-1 left #lobby (connection lost)\r\n")


def test_sanitising_applies() -> None:
    """Control characters in a browser's line are removed as for TCP members."""
    chat = Chat()
    browser = chat.browser()
    nc = chat.nc()
    browser.say("a\x1b[31mb\u202ec\x7f")
    assert take(nc).endswith(b"<guest-1> a[31mbc\r\n")


def test_other_encoding_is_converted() -> None:
    """With --encoding gbk, frames (always UTF-8) are converted each way."""
    chat = Chat(encoding="gbk")
    browser = chat.browser()
    nc = chat.nc()
    browser.read()
    browser.say("问题")
    assert take(nc).endswith("<guest-1> 问题\r\n".encode("gbk"))
    assert browser.lines()[0].endswith("<guest-1> 问题")
    nc.protocol.dataReceived("你好\n".encode("gbk"))
    assert browser.lines()[0].endswith("<guest-2> 你好")


def test_flood_control_stops_reading_from_the_browser() -> None:
    """Over the flood rate, reading from the browser pauses; no line is lost."""
    chat = Chat(flood_rate=1, flood_burst=2)
    browser = chat.browser()
    nc = chat.nc()
    browser.say("one", "two", "three", "four")
    assert take(nc).count(b"<guest-1>") == 2
    assert browser.transport.producerState == "paused"
    chat.clock.advance(1)
    chat.clock.advance(1)
    assert take(nc).count(b"<guest-1>") == 2
    assert browser.transport.producerState == "producing"


def test_browser_that_stops_reading_is_dropped() -> None:
    """Lines queue while the browser's TCP buffer is full; past the bound, it goes."""
    chat = Chat(max_send_queue=1000)
    browser = chat.browser()
    nc = chat.nc()
    # The member registered itself on the TCP connection, which pauses it when the
    # browser stops reading.
    member = browser.transport.producer
    assert member is not None and member.nick == "guest-1"
    member.pauseProducing()
    browser.read()
    nc.protocol.dataReceived(b"x" * 100 + b"\n")
    assert browser.read() == []
    nc.protocol.dataReceived(b"".join(b"y" * 100 + b"\n" for _ in range(10)))
    assert b"* guest-1 dropped (send queue exceeded)\r\n" in take(nc)
    assert not browser.transport.connected
    assert list(chat.chat.members) == ["guest-2"]


def test_dead_peer_closed_after_unanswered_ping() -> None:
    """A browser pinged and silent until the next ping is disconnected."""
    chat = Chat()
    browser = chat.browser()
    nc = chat.nc()
    browser.read()
    chat.clock.advance(chat.websockets.ping_interval)
    assert [opcode for opcode, _ in browser.read()] == [OPCODE_PING]
    browser.send(frame(b"", OPCODE_PONG))
    chat.clock.advance(chat.websockets.ping_interval)
    assert [opcode for opcode, _ in browser.read()] == [OPCODE_PING]
    assert browser.transport.connected
    chat.clock.advance(chat.websockets.ping_interval)
    assert not browser.transport.connected
    assert take(nc).endswith(b"* guest-1 left #lobby (connection lost)\r\n")


def test_no_ping_verdict_while_input_is_held() -> None:
    """While flood control holds a browser's input (its pong too), it is not dropped."""
    chat = Chat(flood_rate=0.01, flood_burst=1)
    browser = chat.browser()
    browser.say("one", "two")
    assert browser.transport.producerState == "paused"
    for _ in range(3):
        chat.clock.advance(chat.websockets.ping_interval)
    assert browser.transport.connected


def test_idle_timeout_applies() -> None:
    """--idle-timeout closes a silent browser as it does a TCP member."""
    chat = Chat(idle_timeout=20)
    browser = chat.browser()
    nc = chat.nc()
    chat.clock.advance(10)
    nc.protocol.dataReceived(b"still here\n")
    take(nc)
    browser.read()
    chat.clock.advance(10)
    assert browser.lines() == ["* idle for 20 s; closing"]
    assert browser.frames[-1][0] == OPCODE_CLOSE
    browser.send(frame(b"\x03\xe8", OPCODE_CLOSE))
    assert take(nc).endswith(b"* guest-1 left #lobby (idle timeout)\r\n")


def test_connection_limit_applies() -> None:
    """One browser over --max-connections gets the error line, then a close."""
    chat = Chat(max_connections=1)
    chat.nc()
    browser = Browser(chat.websockets)
    assert [(opcode, data) for opcode, data in browser.read()][:1] == [
        (OPCODE_TEXT, b"error: too many connections (max 1)")
    ]
    assert browser.frames[-1][0] == OPCODE_CLOSE


def test_per_address_limit_counts_browsers_and_tcp_together() -> None:
    """--max-per-ip counts a browser and a TCP member from one address as two."""
    chat = Chat(max_per_ip=1)
    chat.nc()
    browser = Browser(chat.websockets)
    assert browser.read()[0] == (
        OPCODE_TEXT,
        b"error: too many connections from 127.0.0.1 (max 1)",
    )
    assert browser.frames[-1][0] == OPCODE_CLOSE


def test_quit_closes_the_websocket_cleanly() -> None:
    """/quit: Bye, a close frame; once the browser answers, the others see it leave."""
    chat = Chat()
    browser = chat.browser()
    nc = chat.nc()
    browser.read()
    browser.say("/quit lunch")
    assert browser.lines() == ["* Bye"]
    assert browser.frames[-1][0] == OPCODE_CLOSE
    browser.send(frame(b"\x03\xe8", OPCODE_CLOSE))
    assert not browser.transport.connected
    assert take(nc).endswith(b"* guest-1 left #lobby (lunch)\r\n")


def test_shutdown_tells_browsers() -> None:
    """On shutdown a browser gets the goodbye line, then a close frame."""
    chat = Chat()
    browser = chat.browser()
    closed = chat.factory.shutdown()
    assert browser.lines() == ["* server shutting down"]
    assert browser.frames[-1][0] == OPCODE_CLOSE
    browser.send(frame(b"\x03\xe8", OPCODE_CLOSE))
    assert closed.called


def test_foreign_origin_refused() -> None:
    """A page from another origin gets 403 and never becomes a member."""
    chat = Chat()
    browser = Browser(chat.websockets, origin="http://evil.example")
    assert browser.response.startswith(b"HTTP/1.1 403 ")
    assert not list(chat.chat.members)


# HTTP connections to the page: limits and the request deadline.


def http_connection(
    chat: Chat, host: str = "127.0.0.1"
) -> tuple[Any, StringTransportWithDisconnection]:
    """An HTTP connection to the chat's page site, on an in-memory transport."""
    site = chat_site(chat.factory, reactor=chat.clock)
    peer = IPv4Address("TCP", host, 50000)
    protocol = site.buildProtocol(peer)
    assert protocol is not None
    transport = StringTransportWithDisconnection(peerAddress=peer)
    transport.protocol = protocol
    protocol.makeConnection(transport)
    return protocol, transport


def test_a_request_trickling_in_is_closed_at_its_deadline() -> None:
    """A request head sent one header line every 5 s (each restarting the idle
    timeout) is answered 408 and closed REQUEST_DEADLINE s after its first byte."""
    chat = Chat()
    protocol, transport = http_connection(chat)
    protocol.dataReceived(b"GET / HTTP/1.1\r\n")
    for number in range(REQUEST_DEADLINE // 5 - 1):
        chat.clock.advance(5)
        protocol.dataReceived(f"X-Slow-{number}: 1\r\n".encode())
    assert transport.connected and transport.value() == b""
    chat.clock.advance(5)
    assert transport.value().startswith(b"HTTP/1.1 408 ")
    assert not transport.connected


def test_each_request_has_its_own_deadline() -> None:
    """A whole request is answered and ends its deadline; the next request on the
    connection gets a deadline of its own, from its own first byte."""
    chat = Chat()
    protocol, transport = http_connection(chat)
    protocol.dataReceived(b"GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n")
    assert take_now(transport).startswith(b"HTTP/1.1 404 ")
    chat.clock.advance(REQUEST_DEADLINE * 2)
    assert transport.connected
    protocol.dataReceived(b"GET /nothing HTTP/1.1\r\n")
    chat.clock.advance(REQUEST_DEADLINE)
    assert take_now(transport).startswith(b"HTTP/1.1 408 ")


def test_http_connections_count_in_the_limits() -> None:
    """--max-per-ip counts open HTTP connections to the page with TCP members: past
    it, an HTTP connection gets 503 with the error line and a member is refused,
    until one closes."""
    chat = Chat(max_per_ip=2)
    first, _ = http_connection(chat)
    http_connection(chat)
    _, refused = http_connection(chat)
    assert refused.value().startswith(b"HTTP/1.1 503 ")
    assert refused.value().endswith(
        b"\r\n\r\nerror: too many connections from 127.0.0.1 (max 2)\r\n"
    )
    assert not refused.connected
    assert take_now(chat.join()[1]) == (
        b"error: too many connections from 127.0.0.1 (max 2)\r\n"
    )
    http_connection(chat, host="10.0.0.2")  # Another address is not affected.
    first.connectionLost(Failure(ConnectionAborted()))
    assert take(chat.join()[1]).startswith(b"* Welcome")


def test_a_websocket_counts_once() -> None:
    """An HTTP connection that becomes a WebSocket member is counted as that
    member only: with --max-connections 1 it is welcomed."""
    chat = Chat(max_connections=1)
    protocol, transport = http_connection(chat)
    protocol.dataReceived(request(origin=None))
    response, _, frames = take_now(transport).partition(b"\r\n\r\n")
    assert response.startswith(b"HTTP/1.1 101 ")
    chat.clock.advance(0)
    frames += take_now(transport)
    assert frames_of(frames)[0][0][1].startswith(b"* Welcome, guest-1!")
    _, refused = http_connection(chat)
    assert refused.value().endswith(b"error: too many connections (max 1)\r\n")


def test_null_origin_is_judged_as_any_other() -> None:
    """An Origin of null (a sandboxed or file page) gets 403 as a foreign origin
    does, and is let in when --web-origin names it."""
    chat = Chat()
    refused = Browser(chat.websockets, origin="null")
    assert refused.response.startswith(b"HTTP/1.1 403 ")
    chat.websockets = ChatWebSocketFactory(chat.factory, OriginPolicy(["null"]))
    allowed = Browser(chat.websockets, origin="null")
    assert allowed.response.startswith(b"HTTP/1.1 101 ")


def test_nul_in_a_path_is_not_found() -> None:
    """A path holding a NUL byte (/%00) is a 404, not a server error."""
    chat = Chat()
    protocol, transport = http_connection(chat)
    with capturedLogs() as events:
        protocol.dataReceived(b"GET /%00 HTTP/1.1\r\nHost: x\r\n\r\n")
    assert transport.value().startswith(b"HTTP/1.1 404 ")
    assert [event for event in events if event["log_level"] >= LogLevel.warn] == []


# Over real sockets, through the web site.


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    return self_signed(tmp_path)


async def serve(reactor: Any, factory: ChatFactory, description: str) -> Any:
    return await serverFromString(reactor, description).listen(
        chat_site(factory, reactor=reactor)
    )


def exchange(url: str, **options: Any) -> list[str]:
    """A blocking WebSocket client: say hello, read until it comes back, quit."""
    client = websocket.create_connection(url, timeout=10, **options)
    received = [str(client.recv())]
    client.send("hello")
    while not received[-1].endswith("> hello"):
        received.append(str(client.recv()))
    client.send("/quit")
    received.append(str(client.recv()))
    client.close()
    return received


@pytest_twisted.ensureDeferred
async def test_websocket_through_the_site(reactor: Any) -> None:
    """The page's URL upgrades to a member over TCP, and back to HTTP for files."""
    factory = ChatFactory(flood_rate=0)
    port = await serve(reactor, factory, "tcp:0:interface=127.0.0.1")
    try:
        url = f"ws://127.0.0.1:{port_of(port)}/ws"
        received = await deferToThread(
            exchange, url, origin=f"http://127.0.0.1:{port_of(port)}"
        )
        assert received[0].startswith("* Welcome, guest-1!")
        assert received[-1] == "* Bye"
        refused = await deferToThread(
            pytest.raises,
            websocket.WebSocketBadStatusException,
            exchange,
            url,
            origin="http://evil.example",
        )
        assert refused.value.status_code == 403
    finally:
        await stop(port)


@pytest_twisted.ensureDeferred
async def test_websocket_over_tls(reactor: Any, certificate: tuple[Path, Path]) -> None:
    """An ssl: endpoint serves the page's WebSocket as wss://."""
    key, cert = certificate
    factory = ChatFactory(flood_rate=0)
    port = await serve(
        reactor, factory, f"ssl:0:interface=127.0.0.1:privateKey={key}:certKey={cert}"
    )
    try:
        received = await deferToThread(
            exchange,
            f"wss://localhost:{port_of(port)}/ws",
            sslopt={"ca_certs": str(cert)},
        )
        assert received[0].startswith("* Welcome, guest-1!")
        assert received[-1] == "* Bye"
    finally:
        await stop(port)


@pytest_twisted.ensureDeferred
async def test_websocket_over_unix_socket(reactor: Any, tmp_path: Path) -> None:
    """A unix: endpoint serves the WebSocket too."""
    path = tmp_path / "chat.sock"
    port = await serve(reactor, ChatFactory(flood_rate=0), f"unix:{path}")

    def over_unix() -> list[str]:
        sock = socket.socket(socket.AF_UNIX)
        sock.connect(str(path))
        return exchange("ws://localhost/ws", socket=sock)

    try:
        received = await deferToThread(over_unix)
        assert received[0].startswith("* Welcome, guest-1!")
    finally:
        await stop(port)


def flood_past_a_sleeper(port: int, web: int) -> list[bytes]:
    """
    Connect a WebSocket client that never reads, then broadcast from a TCP client (who
    reads everything) until the server says the sleeper was dropped; return the TCP
    client's lines once the sleeper's connection has ended.
    """
    sleeper = websocket.create_connection(
        f"ws://127.0.0.1:{web}/ws",
        timeout=30,
        sockopt=[(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)],
    )
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as nc:
        for batch in range(1000):
            line = b"m%d %s\n" % (batch, b"x" * 1000)
            nc.sendall(line * 50)
            while received.count(line[:-1] + b"\r\n") < 50:
                received += nc.recv(1 << 20)
            if b"dropped (send queue exceeded)" in received:
                break
    assert sleeper.sock is not None
    with suppress(ConnectionResetError):
        while sleeper.sock.recv(1 << 20):
            pass
    return received.split(b"\r\n")


@pytest_twisted.ensureDeferred
async def test_websocket_that_never_reads_is_dropped(reactor: Any) -> None:
    """A WebSocket client that never reads is dropped like a TCP one; others go on."""
    factory = ChatFactory(flood_rate=0, max_send_queue=65536)
    tcp = reactor.listenTCP(0, factory, interface="127.0.0.1")
    web = await serve(reactor, factory, "tcp:0:interface=127.0.0.1")
    try:
        lines = await deferToThread(flood_past_a_sleeper, port_of(tcp), port_of(web))
        assert b"* guest-1 dropped (send queue exceeded)" in lines
        assert "guest-1" not in local_chat(factory).members
    finally:
        await stop(web)
        await stop(tcp)


def unfinished_requests(web: int, chat: int, count: int) -> tuple[bytes, bytes]:
    """
    Open C{count} HTTP connections that each send half a request head, then one
    more HTTP connection and one chat connection; return what the last two get.
    """
    with ExitStack() as stack:
        for _ in range(count):
            sock = stack.enter_context(socket.create_connection(("127.0.0.1", web)))
            sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        with socket.create_connection(("127.0.0.1", web), timeout=10) as http:
            refused_http = read_until_closed(http)
        with socket.create_connection(("127.0.0.1", chat), timeout=10) as member:
            refused_member = read_until_closed(member)
    return refused_http, refused_member


@pytest_twisted.ensureDeferred
async def test_unfinished_requests_cannot_exhaust_the_server(reactor: Any) -> None:
    """Unfinished requests to the page from one address count in --max-per-ip: past
    it, neither the page nor the chat takes another connection from there."""
    factory = ChatFactory(flood_rate=0, max_per_ip=3)
    tcp = reactor.listenTCP(0, factory, interface="127.0.0.1")
    web = await serve(reactor, factory, "tcp:0:interface=127.0.0.1")
    try:
        http, member = await deferToThread(
            unfinished_requests, port_of(web), port_of(tcp), 3
        )
        assert http.startswith(b"HTTP/1.1 503 ")
        error = b"error: too many connections from 127.0.0.1 (max 3)\r\n"
        assert http.endswith(b"\r\n\r\n" + error)
        assert member == error
    finally:
        await stop(web)
        await stop(tcp)
