"""
Tests for L{twisted_tcp.tap}: the plugins' options, the endpoints they listen on, usage
errors, and the service's orderly shutdown.
"""

from __future__ import annotations

import re
import resource
import selectors
import socket
import subprocess
import sys
import time
import tomllib
from contextlib import ExitStack
from pathlib import Path
from typing import Any, TypeVar

import pytest
import pytest_twisted
from twisted.application.internet import StreamServerEndpointService
from twisted.application.service import MultiService
from twisted.copyright import version as twisted_version
from twisted.internet import udp
from twisted.internet.endpoints import (
    TCP4ClientEndpoint,
    TCP6ClientEndpoint,
    connectProtocol,
)
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.threads import deferToThread
from twisted.python import usage
from twisted.web.server import Site

from twisted_tcp._listen import listen_backlog
from twisted_tcp._version import __version__
from twisted_tcp.chat import ChatFactory, LocalChat
from twisted_tcp.chat.history import SQLiteHistory
from twisted_tcp.echo import EchoFactory
from twisted_tcp.greet import GreetingFactory
from twisted_tcp.tap import http_get, tcp_chat, tcp_echo, tcp_greet, udp_echo
from twisted_tcp.tap._common import ServerService
from twisted_tcp.udp_echo import MAX_DATAGRAM, UDPEchoProtocol

from .support import Collector, port_of, read_until_closed
from .twist_support import TWIST, Twist

OptionsT = TypeVar("OptionsT", bound=usage.Options)


CHECKOUT = Path(__file__).resolve().parent.parent


def listeners(service: MultiService) -> list[Any]:
    """The services that listen on the server's endpoints (not its SIGHUP reloader)."""
    return [
        child for child in service if isinstance(child, StreamServerEndpointService)
    ]


def parsed(options_class: type[OptionsT], *argv: str) -> OptionsT:
    options = options_class()
    options.parseOptions(list(argv))
    return options


@pytest.mark.parametrize(
    ("module", "argv", "endpoints"),
    [
        (tcp_echo, [], [r"tcp6:9090:interface=\:\::backlog=B"]),
        (tcp_greet, [], [r"tcp6:9999:interface=\:\::backlog=B"]),
        (tcp_chat, [], [r"tcp6:6666:interface=\:\::backlog=B"]),
        (tcp_echo, ["--port", "7000"], [r"tcp6:7000:interface=\:\::backlog=B"]),
        (
            tcp_echo,
            ["--port", "7000", "--interface", "::1"],
            [r"tcp:7000:interface=\:\:1:backlog=B"],
        ),
        (
            tcp_echo,
            ["--listen", "tcp6:7001", "--listen", "unix:/tmp/e.sock:backlog=5"],
            ["tcp6:7001:backlog=B", "unix:/tmp/e.sock:backlog=5"],
        ),
        (
            tcp_echo,
            ["--listen", "tcp6:7001", "-p", "7002"],
            ["tcp6:7001:backlog=B", r"tcp6:7002:interface=\:\::backlog=B"],
        ),
    ],
)
def test_endpoints(module: Any, argv: list[str], endpoints: list[str]) -> None:
    """--port/--interface and repeatable --listen become endpoint strings, each with
    a deep accept queue (B) unless it sets its own backlog; --port alone listens on
    every address, IPv6 and IPv4."""
    expected = [
        endpoint.replace("backlog=B", f"backlog={listen_backlog()}")
        for endpoint in endpoints
    ]
    assert parsed(module.Options, *argv)["endpoints"] == expected


@pytest_twisted.ensureDeferred
async def test_connections_queue_while_the_server_does_not_accept() -> None:
    """Hundreds of clients connecting at once all get in, even while the server is
    not accepting: the accept queue is deep enough (Twisted's default is 50)."""
    options = parsed(tcp_echo.Options, "--listen", "tcp:0:interface=127.0.0.1")
    service = tcp_echo.makeService(options)
    service.startService()
    try:
        [listener] = listeners(service)
        port = listener._waitingForPort.result
        port.stopReading()  # Accept nothing: every connection waits in the queue.
        connected = connect_many(port.getHost().port, 300)
        assert connected == 300
    finally:
        await service.stopService()


def connect_many(port: int, count: int, patience: float = 20.0) -> int:
    """Start C{count} non-blocking connections at once; how many complete."""
    clients = [socket.socket() for _ in range(count)]
    try:
        with selectors.DefaultSelector() as selector:
            for client in clients:
                client.setblocking(False)
                client.connect_ex(("127.0.0.1", port))
                selector.register(client, selectors.EVENT_WRITE)
            pending = set(clients)
            deadline = time.monotonic() + patience
            while pending and time.monotonic() < deadline:
                for key, _ in selector.select(timeout=1):
                    selector.unregister(key.fileobj)
                    pending.discard(key.fileobj)
        return sum(
            1
            for client in clients
            if client not in pending
            and client.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
        )
    finally:
        for client in clients:
            client.close()


def test_echo_options_reach_factory() -> None:
    """Every tcp-echo option is passed to the factory under its own name."""
    options = parsed(
        tcp_echo.Options,
        "--mode",
        "prefix",
        "--framing",
        "line",
        "--prefix",
        "> ",
        "--max-connections",
        "5",
        "--max-per-ip",
        "2",
        "--idle-timeout",
        "1.5",
        "--encoding",
        "gbk",
        "--max-line",
        "100",
    )
    factory = options["factory"]
    assert isinstance(factory, EchoFactory)
    assert (factory.mode, factory.framing, factory.encoding) == (
        "prefix",
        "line",
        "gbk",
    )
    assert (factory.max_connections, factory.max_per_ip) == (5, 2)
    assert (factory.idle_timeout, factory.max_line) == (1.5, 100)
    assert factory.respond(b"x") == b"> x"


def test_greet_defaults() -> None:
    """tcp-greet defaults: line framing, 256-byte lines, 300 s idle timeout."""
    factory = parsed(tcp_greet.Options)["factory"]
    assert isinstance(factory, GreetingFactory)
    assert (factory.framing, factory.max_line, factory.idle_timeout) == (
        "line",
        256,
        300,
    )
    assert (factory.welcome, factory.greeting, factory.exit_word) == (
        "Welcome",
        "Hello, {name}!",
        "exit",
    )


@pytest.mark.parametrize(
    ("module", "argv", "message"),
    [
        (tcp_echo, ["--mode", "shout"], "unknown mode"),
        (tcp_echo, ["--framing", "words"], "unknown framing"),
        (tcp_echo, ["--encoding", "utf-16"], "ASCII-compatible"),
        (tcp_echo, ["--encoding", "nope"], "unknown encoding"),
        (tcp_echo, ["--port", "70000"], "expected a port number 0-65535, got 70000"),
        (tcp_echo, ["--port", "http"], "expected a port number 0-65535, got http"),
        (tcp_echo, ["--max-connections", "-1"], "expected a whole number >= 0, got -1"),
        (tcp_echo, ["--idle-timeout", "nan"], "expected a number of seconds"),
        (tcp_echo, ["--idle-timeout", "-2"], "expected a number of seconds"),
        (tcp_echo, ["--max-line", "0"], "expected a whole number >= 1, got 0"),
        (tcp_echo, ["--listen", "bogus:1"], "bad endpoint 'bogus:1': Unknown"),
        (tcp_greet, ["--listen", "tcp:1:x=y"], "unexpected keyword argument 'x'"),
        (tcp_greet, ["--greeting", "{0}"], "bad greeting"),
        (tcp_greet, ["--exit-word", ""], "exit word"),
        (tcp_chat, ["--flood-burst", "0"], "expected a whole number >= 1, got 0"),
        (tcp_chat, ["--history-db", "h.db"], "--history-db needs --history N"),
        (tcp_chat, ["--irc-password", "x"], "--irc-password needs --irc"),
        (tcp_chat, ["--irc", "bogus:1"], "bad endpoint 'bogus:1'"),
        (
            tcp_chat,
            ["--irc", "tcp:0", "--timestamp-format", "%H]"],
            r"--irc needs a --timestamp-format without \]",
        ),
        (udp_echo, ["--mode", "lower"], "unknown mode"),
        (udp_echo, ["--interface", "bogus.test"], "an IPv4 or IPv6 address, got bog"),
        (udp_echo, ["--rate", "-5"], "expected a whole number >= 0, got -5"),
    ],
)
def test_usage_errors(module: Any, argv: list[str], message: str) -> None:
    """Bad option values are usage errors that say what is wrong, in plain words."""
    with pytest.raises(usage.UsageError, match=message) as raised:
        parsed(module.Options, *argv)
    assert not str(raised.value).startswith("Parameter type enforcement failed")


def test_chat_options_reach_factory(tmp_path: Path) -> None:
    """Every tcp-chat option is passed to the factory; the MOTD is read from a file."""
    motd = tmp_path / "motd.txt"
    motd.write_text("Welcome to the room.\nBe kind.\n")
    options = parsed(
        tcp_chat.Options, "--history", "20", "--max-send-queue", "4096",
        "--flood-rate", "2.5", "--flood-burst", "4", "--motd", str(motd),
        "--timestamp-format", "%H:%M", "--max-line", "512", "--idle-timeout", "60",
    )  # fmt: skip
    factory = options["factory"]
    assert isinstance(factory, ChatFactory)
    chat = factory.service
    assert isinstance(chat, LocalChat)
    assert chat.settings.history == 20
    assert (factory.max_send_queue, factory.flood_rate, factory.flood_burst) == (
        4096, 2.5, 4,
    )  # fmt: skip
    assert chat.settings.motd == ["* Welcome to the room.", "* Be kind."]
    assert (chat.settings.timestamp_format, factory.max_line, factory.idle_timeout) == (
        "%H:%M", 512, 60,
    )  # fmt: skip


def test_chat_room_options(tmp_path: Path) -> None:
    """--default-room, --announce-limit and --history-db reach the chat service."""
    options = parsed(
        tcp_chat.Options, "--default-room", "#Main", "--announce-limit", "0",
        "--history", "5", "--history-db", str(tmp_path / "history.db"),
    )  # fmt: skip
    chat = options["factory"].service
    assert isinstance(chat, LocalChat)
    assert (chat.default_room, chat.settings.announce_limit) == ("#Main", 0)
    assert isinstance(chat.history_store, SQLiteHistory)
    chat.shutdown()


@pytest.mark.parametrize("room", ["lobby", "#", "#a b", "#" + "x" * 31, "#é"])
def test_bad_default_room_is_a_usage_error(room: str) -> None:
    """A default room that breaks the naming rule is refused before listening."""
    with pytest.raises(usage.UsageError, match="bad room name"):
        parsed(tcp_chat.Options, "--default-room", room)


def test_unusable_history_db_stops_the_start(tmp_path: Path) -> None:
    """A history file that is not a database, or cannot be created, stops twist
    with one line saying so."""
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not an SQLite database" * 100)
    with pytest.raises(SystemExit, match=r"^twist: .* not a usable history database"):
        parsed(tcp_chat.Options, "--history", "5", "--history-db", str(garbage))
    missing = str(tmp_path / "no" / "such.db")
    with pytest.raises(SystemExit, match=r"^twist: cannot open the history database"):
        parsed(tcp_chat.Options, "--history", "5", "--history-db", missing)


def test_start_errors_are_one_line_without_the_usage(tmp_path: Path) -> None:
    """A server that cannot start for want of a usable file says why in one line
    on stderr, without the usage, and exits 1."""
    (tmp_path / "garbage.db").write_bytes(b"this is not an SQLite database" * 100)
    result = subprocess.run(
        [str(TWIST), "tcp-chat", "--history", "5", "--history-db", "garbage.db"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        "twist: garbage.db is not a usable history database (file is not a database)\n"
    )


def test_chat_defaults() -> None:
    """tcp-chat defaults: no history, 1 MiB queue, 5 lines/s in bursts of 10."""
    factory = parsed(tcp_chat.Options)["factory"]
    assert isinstance(factory, ChatFactory)
    chat = factory.service
    assert isinstance(chat, LocalChat)
    assert (chat.settings.history, factory.max_send_queue) == (0, 1 << 20)
    assert (factory.flood_rate, factory.flood_burst, factory.max_line) == (5, 10, 1024)
    assert chat.settings.timestamp_format == "%Y/%m/%d %H:%M:%S"
    assert (chat.default_room, chat.settings.announce_limit) == ("#lobby", 200)


def test_redis_without_its_packages_names_commands_that_install_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """--redis where txredisapi is missing stops twist with one line naming the
    commands of this checkout that install the cluster extra (no package of the
    project's name is published)."""
    monkeypatch.setitem(sys.modules, "txredisapi", None)
    with pytest.raises(SystemExit) as stopped:
        parsed(tcp_chat.Options, "--redis", "redis://127.0.0.1:6379")
    assert str(stopped.value) == (
        "twist: --redis needs the txredisapi and hiredis packages: make chat"
        " installs them, as does pip install '.[redis]' in the checkout"
    )
    extras = tomllib.loads((CHECKOUT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert {"txredisapi>=1.6", "hiredis>=3.0"} <= set(extras["redis"])


def test_oversized_motd_refused(tmp_path: Path) -> None:
    """A MOTD file over 64 KiB is refused as a mistake."""
    motd = tmp_path / "motd.txt"
    motd.write_bytes(b"x" * (64 * 1024 + 1))
    with pytest.raises(SystemExit, match="over 65536 bytes"):
        parsed(tcp_chat.Options, "--motd", str(motd))


@pytest_twisted.ensureDeferred
async def test_udp_service() -> None:
    """udp-echo listens on --port/--interface with room for the largest datagram."""
    options = parsed(
        udp_echo.Options, "--port", "0", "--interface", "127.0.0.1",
        "--mode", "upper", "--rate", "7",
    )  # fmt: skip
    service = udp_echo.makeService(options)
    protocol = options["protocol"]
    assert isinstance(protocol, UDPEchoProtocol)
    assert (protocol.mode, protocol.rate) == ("upper", 7)
    service.startService()
    try:
        assert isinstance(service.listening, udp.Port)
        assert service.listening.getHost().host == "127.0.0.1"
        assert service.listening.maxPacketSize == MAX_DATAGRAM + 28
        assert service.listening.protocol is protocol
    finally:
        await service.stopService()
    assert service.listening is None


def test_service_has_one_listener_per_endpoint() -> None:
    """makeService serves the one factory on every endpoint."""
    options = parsed(tcp_echo.Options, "--listen", "tcp:0", "--listen", "tcp6:0")
    service = tcp_echo.makeService(options)
    assert isinstance(service, ServerService)
    assert [child.factory for child in listeners(service)] == [options["factory"]] * 2


@pytest_twisted.ensureDeferred
async def test_stopping_service_stops_listening_and_closes(reactor: Any) -> None:
    """Stopping the service closes the port, tells each client, and closes it."""
    options = parsed(tcp_greet.Options, "--listen", "tcp:0:interface=127.0.0.1")
    service = tcp_greet.makeService(options)
    service.startService()
    [listener] = listeners(service)
    port_number = listener._waitingForPort.result.getHost().port
    endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port_number)
    client = Collector()
    await connectProtocol(endpoint, client)
    await service.stopService()
    assert await client.done.addTimeout(10, reactor) == (
        b"Welcome\r\n* server shutting down\r\n"
    )
    with pytest.raises(ConnectionRefusedError):
        await connectProtocol(endpoint, Collector())


@pytest.mark.parametrize(
    "argv",
    [
        ["http://h/p", "--output", "f", "-L"],
        ["-L", "http://h/p", "--output", "f"],
        ["--location", "http://h/p", "-o", "f"],
        ["--output", "f", "-L", "http://h/p"],
        ["-Lo", "f", "http://h/p"],
        ["--outp=f", "http://h/p", "--loc"],
        ["--outp=f", "h/p", "--loc"],
    ],
)
def test_http_get_url_anywhere(argv: list[str]) -> None:
    """The URL and the options of http-get mix in any order; http:// is assumed."""
    options = parsed(http_get.Options, *argv)
    assert (options["url"], options["output"], options["location"]) == (
        "http://h/p",
        "f",
        1,
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-o", "f"], "^the URL to fetch is missing$"),
        (["http://a/", "-o", "f", "http://b/"], r"^one URL at a time \(got 2\)$"),
        (["http://a/", "--bogus", "-o", "f"], "option --bogus not recognized"),
        (["http://a/", "-o"], "option -o requires argument"),
        (["http://a/"], "--output FILE is required"),
    ],
)
def test_http_get_usage_errors(argv: list[str], message: str) -> None:
    """A missing or extra URL, an unknown option, a missing value: usage errors."""
    with pytest.raises(usage.UsageError, match=message):
        parsed(http_get.Options, *argv)


@pytest_twisted.ensureDeferred
async def test_port_alone_listens_on_ipv6_and_ipv4(reactor: Any) -> None:
    """--port without --interface takes clients over IPv4 and IPv6 alike."""
    service = tcp_echo.makeService(parsed(tcp_echo.Options, "--port", "0"))
    service.startService()
    try:
        [listener] = listeners(service)
        port = listener._waitingForPort.result.getHost().port
        for endpoint in (
            TCP4ClientEndpoint(reactor, "127.0.0.1", port),
            TCP6ClientEndpoint(reactor, "::1", port),
        ):
            client = Collector(to_send=b"ping", half_close=True)
            await connectProtocol(endpoint, client)
            assert await client.done.addTimeout(10, reactor) == b"ping"
    finally:
        await service.stopService()


def http_status(family: int, host: str, port: int) -> bytes:
    """The status line of C{GET /} (a blocking client)."""
    with socket.socket(family, socket.SOCK_STREAM) as client:
        client.settimeout(10)
        client.connect((host, port))
        client.sendall(b"GET / HTTP/1.0\r\n\r\n")
        return read_until_closed(client).split(b"\r\n", 1)[0]


@pytest_twisted.ensureDeferred
async def test_web_tcp_port_listens_on_ipv6_and_ipv4(reactor: Any) -> None:
    """--web tcp:PORT, naming no interface, serves the page over IPv4 and IPv6
    alike, as --port does."""
    options = parsed(
        tcp_chat.Options, "--listen", "tcp:0:interface=127.0.0.1", "--web", "tcp:0"
    )
    service = tcp_chat.makeService(options)
    _, server = list(service)  # type: ignore[call-overload]
    assert isinstance(server, ServerService)
    service.startService()
    try:
        web = listeners(server)[1]
        port = web._waitingForPort.result.getHost().port
        for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
            status = await deferToThread(http_status, family, host, port)
            assert status == b"HTTP/1.0 200 OK"
    finally:
        await service.stopService()


@pytest_twisted.ensureDeferred
async def test_udp_without_interface_answers_ipv6_and_ipv4() -> None:
    """udp-echo without --interface answers datagrams over IPv4 and IPv6 alike."""
    options = parsed(udp_echo.Options, "--port", "0", "--mode", "upper")
    service = udp_echo.makeService(options)
    service.startService()
    try:
        assert service.listening is not None
        port = port_of(service.listening)
        for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
            answer = await deferToThread(datagram_exchange, family, host, port, b"hi")
            assert answer == b"HI"
    finally:
        await service.stopService()


def datagram_exchange(family: int, host: str, port: int, datagram: bytes) -> bytes:
    """Send one datagram and wait for one answer (a blocking client)."""
    with socket.socket(family, socket.SOCK_DGRAM) as client:
        client.settimeout(10)
        client.sendto(datagram, (host, port))
        return client.recv(65536)


def test_chat_serves_its_page_on_each_web_endpoint() -> None:
    """--web repeats; makeService serves the page beside the chat's own listeners."""
    options = parsed(
        tcp_chat.Options, "--listen", "tcp:0", "--web", "tcp:0", "--web", "tcp6:0",
        "--web-origin", "HTTPS://App.Example:443", "--web-origin", "null",
    )  # fmt: skip
    assert options["web-origin"] == ["https://app.example", "null"]
    chat, server = list(tcp_chat.makeService(options))  # type: ignore[call-overload]
    assert chat is options["chat"]
    assert isinstance(server, ServerService)
    factories = [child.factory for child in listeners(server)]
    assert factories[0] is options["factory"]
    assert [type(factory.wrappedFactory) for factory in factories[1:]] == [Site, Site]


def test_chat_without_web_serves_no_page() -> None:
    """Without --web there is no web listener."""
    options = parsed(tcp_chat.Options, "--listen", "tcp:0")
    _, server = list(tcp_chat.makeService(options))  # type: ignore[call-overload]
    assert isinstance(server, ServerService)
    assert [type(child.factory) for child in listeners(server)] == [ChatFactory]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--web", "tcp:0", "--web-origin", "evil.example"], "not an origin"),
        (["--web", "tcp:0", "--web-origin", "https://a.example/x"], "not an origin"),
        (["--web-origin", "https://a.example"], "--web-origin needs --web"),
        (["--web", "nope:8080"], "bad endpoint 'nope:8080'"),
    ],
)
def test_chat_web_usage_errors(argv: list[str], message: str) -> None:
    """A bad --web endpoint or --web-origin, or an origin without --web, is refused."""
    with pytest.raises(usage.UsageError, match=message):
        parsed(tcp_chat.Options, *argv)


def test_help_says_what_options_are() -> None:
    """The help of the plugins says what each option is, without slips: a rate is
    not in seconds, an empty default is not shown, chat has no line-based modes."""
    chat_help = str(tcp_chat.Options())
    flood_rate = option_help(chat_help, "flood-rate")
    assert "0 = off" in flood_rate
    assert "seconds" not in flood_rate
    assert option_help(chat_help, "encoding").startswith(
        "Text encoding of the chat's lines."
    )
    interface = option_help(str(udp_echo.Options()), "interface")
    assert interface == "Address to listen on [default: every address, IPv6 and IPv4]."


def option_help(text: str, name: str) -> str:
    """The help of one option in a usage.Options help text, on one line."""
    match = re.search(rf"--{name}=(.*?)(?=\n\s+-)", text, re.DOTALL)
    assert match is not None
    return " ".join(match[1].split())


def few_open_files() -> None:
    """In the child, before it runs twist: at most 128 open files, raisable to 256."""
    resource.setrlimit(resource.RLIMIT_NOFILE, (128, 256))


def test_connections_past_what_descriptors_allow_get_the_error_line(
    tmp_path: Path, twist_runs: list[Twist]
) -> None:
    """Under a hard limit of 256 open files, a server raises its soft limit to it,
    lowers --max-connections to what the descriptors allow (one log line says so),
    and a client past that gets the documented error line."""
    server = Twist("tcp-echo", "--listen", "tcp:0:interface=127.0.0.1",
                   cwd=tmp_path, preexec_fn=few_open_files)  # fmt: skip
    twist_runs.append(server)
    port = int(server.wait_for_log(r"starting on (\d+)")[1])
    lowered = re.search(
        r"at most (\d+) connections \(--max-connections 10000\): this process may "
        r"have 256 open files",
        "".join(server.log),
    )
    assert lowered is not None, server.log
    capacity = int(lowered[1])
    assert 100 < capacity < 256
    with ExitStack() as stack:
        for _ in range(capacity):
            sock = stack.enter_context(
                socket.create_connection(("127.0.0.1", port), timeout=30)
            )
            sock.sendall(b"x")
            assert sock.recv(1) == b"x"
        with socket.create_connection(("127.0.0.1", port), timeout=30) as extra:
            refused = read_until_closed(extra)
    assert refused == f"error: too many connections (max {capacity})\r\n".encode()


@pytest.mark.parametrize("plugin", ["tcp-echo", "udp-echo"])
def test_version_is_the_projects(plugin: str, tmp_path: Path) -> None:
    """twist PLUGIN --version names twisted-tcp's version (and Twisted's)."""
    result = subprocess.run(
        [str(TWIST), plugin, "--version"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0
    assert result.stdout == f"twisted-tcp {__version__} (Twisted {twisted_version})\n"


def test_servers_log_no_factory_objects(
    tmp_path: Path, twist_runs: list[Twist]
) -> None:
    """Starting and stopping, a server logs where it listens, never Twisted's
    'Starting factory <... object at 0x...>' lines."""
    server = Twist("tcp-chat", "--listen", "tcp:0:interface=127.0.0.1",
                   "--web", "tcp:0:interface=127.0.0.1", cwd=tmp_path)  # fmt: skip
    twist_runs.append(server)
    server.wait_for_log(r"Starting reactor")
    server.terminate()
    log = "".join(server.log)
    assert "ChatFactory starting on" in log and "Site starting on" in log
    assert " object at 0x" not in log
