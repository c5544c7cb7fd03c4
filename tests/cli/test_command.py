"""
Tests of the C{twisted-tcp} command run as a subprocess against our servers and
against misbehaving ones, on 127.0.0.1: output, exit codes and error messages.
"""

from __future__ import annotations

import signal
import socket
import struct
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.interfaces import IListeningPort
from twisted.internet.protocol import DatagramProtocol, Factory, Protocol
from twisted.internet.threads import deferToThread

from twisted_tcp import (
    ChatFactory,
    EchoFactory,
    GreetingFactory,
    UDPEchoProtocol,
)
from twisted_tcp._version import __version__
from twisted_tcp.chat import LocalChat

from ..support import COMMAND, Collector, port_of, run, run_against, stop
from ..twist_support import Twist


def tcp(reactor: Any, factory: Factory[Any]) -> tuple[IListeningPort, str]:
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    return port, str(port_of(port))


def unused_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return str(probe.getsockname()[1])


class Resetter(Protocol):
    """Answers the first C{answers} chunks, then resets the connection (RST)."""

    answers = 1

    def dataReceived(self, data: bytes) -> None:
        assert self.transport is not None
        if self.answers:
            self.answers -= 1
            self.transport.write(b"first\n")
            return
        handle = self.transport.getHandle()  # type: ignore[attr-defined]
        handle.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abortConnection()  # type: ignore[attr-defined]


class ImmediateResetter(Resetter):
    """Resets the connection at the first data."""

    answers = 0


class Corrupter(Protocol):
    """An echo server that flips one bit of the third byte it echoes."""

    def dataReceived(self, data: bytes) -> None:
        assert self.transport is not None
        damaged = bytearray(data)
        if len(damaged) > 2:
            damaged[2] ^= 1
        self.transport.write(bytes(damaged))


class Silent(DatagramProtocol):
    """A UDP peer that never answers."""


# send


@pytest_twisted.ensureDeferred
async def test_send_lines_to_greeter(reactor: Any) -> None:
    """send's README example: Welcome, the greetings and Bye; exit 0 when it closes."""
    port, number = tcp(reactor, GreetingFactory())
    try:
        result = await run_against(
            "send", "127.0.0.1", number, "Alice", "Bob", "Jack", "exit"
        )
        assert result.stdout == (
            b"Welcome\r\nHello, Alice!\r\nHello, Bob!\r\nHello, Jack!\r\nBye\r\n"
        )
        assert (result.returncode, result.stderr) == (0, b"")
    finally:
        await stop(port)


@pytest_twisted.ensureDeferred
async def test_send_raw_works_like_the_tutorial_client(reactor: Any) -> None:
    """--raw sends each name without a newline, waiting for each answer."""
    port, number = tcp(reactor, GreetingFactory(framing="raw"))
    try:
        result = await run_against(
            "send", "--raw", "127.0.0.1", number, "Alice", "Bob", "Jack", "exit"
        )
        assert result.stdout == b"WelcomeHello, Alice!Hello, Bob!Hello, Jack!Bye"
        assert result.returncode == 0
    finally:
        await stop(port)


@pytest_twisted.ensureDeferred
async def test_send_stdin_with_crlf_then_quiet(reactor: Any) -> None:
    """Without LINEs, stdin's lines are sent (CRLF with --crlf); exit when quiet."""
    port, number = tcp(reactor, EchoFactory())
    try:
        result = await run_against(
            "send", "--crlf", "--wait", "0.3", "127.0.0.1", number, stdin=b"one\ntwo"
        )
        assert result.stdout == b"one\r\ntwo\r\n"
        assert result.returncode == 0
    finally:
        await stop(port)


@pytest_twisted.ensureDeferred
async def test_send_large_output_arrives_whole(reactor: Any) -> None:
    """A large echoed input comes back whole: output is flushed before exit."""
    port, number = tcp(reactor, EchoFactory(framing="line"))
    try:
        lines = b"".join(b"line %d " % n + b"x" * 100 + b"\n" for n in range(20000))
        result = await run_against("send", "127.0.0.1", number, stdin=lines)
        assert result.stdout == lines.replace(b"\n", b"\r\n")
        assert result.returncode == 0
    finally:
        await stop(port)


@pytest_twisted.ensureDeferred
async def test_send_encoding(reactor: Any) -> None:
    """--encoding gbk encodes what is sent and decodes what is printed."""
    port, number = tcp(
        reactor, EchoFactory(mode="reply", encoding="gbk", framing="line")
    )
    try:
        result = await run_against(
            "send", "--encoding", "gbk", "127.0.0.1", number, "你好"
        )
        assert result.stdout.decode() == "ok, 问题正在处理中...\r\n"
    finally:
        await stop(port)


def test_send_refused() -> None:
    """A closed port: exit 7 and a one-line message."""
    result = run("send", "127.0.0.1", unused_port(), "hi")
    assert result.returncode == 7
    assert result.stderr.decode().startswith("twisted-tcp: cannot connect to 127.0.0.1")
    assert result.stderr.count(b"\n") == 1


def test_send_unresolvable() -> None:
    """A name that does not resolve: exit 6."""
    result = run("send", "no-such-host.invalid", "9", "hi")
    assert result.returncode == 6
    assert result.stderr == b"twisted-tcp: cannot resolve no-such-host.invalid\n"


@pytest.mark.parametrize(
    "argv",
    [
        ["send", "bad host", "9", "hi"],
        ["chat", ""],
        ["ping", "[::1", "9"],
        ["ping", "--udp", "", "9"],
        ["udp", "bad host", "9", "x"],
    ],
)
def test_bad_host(argv: list[str]) -> None:
    """What can be no host's name: exit 6 and one line, as an unresolvable name."""
    result = run(*argv)
    assert result.returncode == 6
    assert result.stderr.startswith(b"twisted-tcp: '")
    assert result.stderr.endswith(b"' is not a host name\n")
    assert result.stderr.count(b"\n") == 1


@pytest_twisted.ensureDeferred
async def test_bracketed_ipv6_address(reactor: Any) -> None:
    """An IPv6 address in brackets, as in URLs, reaches the server: send, chat, ping."""
    port = reactor.listenTCP(0, EchoFactory(), interface="::1")
    chat_port = reactor.listenTCP(0, ChatFactory(), interface="::1")
    number, chat_number = str(port_of(port)), str(port_of(chat_port))
    try:
        sent = await run_against("send", "[::1]", number, "hello")
        chatted = await run_against("chat", "[::1]", chat_number, stdin=b"/quit\n")
        pinged = await run_against("ping", "[::1]", number, "-c", "1")
    finally:
        await stop(port)
        await stop(chat_port)
    assert (sent.returncode, sent.stdout, sent.stderr) == (0, b"hello\n", b"")
    assert chatted.returncode == 0
    assert chatted.stdout.decode().splitlines()[-1] == "* Bye"
    assert pinged.returncode == 0
    assert "1 sent, 1 received" in pinged.stdout.decode()


@pytest_twisted.ensureDeferred
async def test_send_connection_reset(reactor: Any) -> None:
    """A connection reset by the server: exit 56, after printing what came before."""
    port, number = tcp(reactor, Factory.forProtocol(Resetter))
    try:
        result = await run_against("send", "--raw", "127.0.0.1", number, "a", "b")
        assert result.stdout == b"first\n"
        assert result.returncode == 56
        assert result.stderr.startswith(b"twisted-tcp: connection lost")
    finally:
        await stop(port)


@pytest.mark.parametrize(
    "argv",
    [
        ["send", "127.0.0.1", "0"],
        ["send", "127.0.0.1", "http"],
        ["ping", "h", "1", "-c", "0"],
        ["send", "h", "1", "--encoding", "utf-16"],
        ["chat", "h", "--nick", " "],
        ["chat", "h", "--nick", "two words"],
        ["frobnicate"],
    ],
)
def test_usage_errors(argv: list[str]) -> None:
    """Bad arguments: exit 2 with a usage message."""
    result = run(*argv)
    assert result.returncode == 2
    assert b"usage: twisted-tcp" in result.stderr


@pytest.mark.parametrize(
    ("command", "says"),
    [
        ("chat", ["its port (default: 6666"]),
        ("ping", ["payloads to send (default: 4)", "between payloads (default: 1)"]),
    ],
)
def test_help_shows_defaults(command: str, says: list[str]) -> None:
    """Each subcommand's help shows the defaults of its arguments."""
    result = run(command, "--help")
    text = " ".join(result.stdout.decode().split())
    for words in says:
        assert words in text


def test_version() -> None:
    """--version prints the command's name and the package's version."""
    result = run("--version")
    assert (result.returncode, result.stderr) == (0, b"")
    assert result.stdout.decode() == f"twisted-tcp {__version__}\n"


# chat


@pytest_twisted.ensureDeferred
async def test_chat_client_piped(reactor: Any) -> None:
    """The chat client sends piped lines, prints the room, leaves at end of input."""
    factory = ChatFactory()
    port, number = tcp(reactor, factory)
    try:
        result = await run_against("chat", "127.0.0.1", number, "--nick", "zed",
                                   stdin=b"hello\n/me waves\n")  # fmt: skip
        out = result.stdout.decode().splitlines()
        assert out[0].startswith("* Welcome, guest-1!")
        assert out[1] == "* guest-1 is now known as zed"
        assert out[2].endswith("] <zed> hello")
        assert out[3].endswith("] * zed waves")
        assert out[4:] == ["* Bye"]
        assert result.returncode == 0
    finally:
        await stop(port)


@pytest_twisted.ensureDeferred
async def test_chat_client_taken_nick(reactor: Any) -> None:
    """--nick taken: exit 1 with the server's reason, and nothing posted as guest-N."""
    factory = ChatFactory()
    port, number = tcp(reactor, factory)
    holder = Collector(b"/nick Zed\n")
    try:
        await connectProtocol(
            TCP4ClientEndpoint(reactor, "127.0.0.1", int(number)), holder
        )
        chat = factory.service
        assert isinstance(chat, LocalChat)
        while "zed" not in chat.members:
            await deferToThread(lambda: None)
        result = await run_against("chat", "127.0.0.1", number, "--nick", "zed",
                                   stdin=b"hello\n/me waves\n")  # fmt: skip
        assert result.returncode == 1
        assert result.stderr == (
            b"twisted-tcp: cannot chat as zed: the nick zed is taken by Zed\n"
        )
        assert result.stdout.decode().splitlines()[-1] == (
            "error: the nick zed is taken by Zed"
        )
        assert b"hello" not in holder.received
        assert b"waves" not in holder.received
    finally:
        assert holder.transport is not None
        holder.transport.loseConnection()
        await holder.done
        await stop(port)


@pytest_twisted.ensureDeferred
async def test_chat_client_quit_command(reactor: Any) -> None:
    """/quit typed by the user ends the session with exit 0."""
    port, number = tcp(reactor, ChatFactory())
    try:
        result = await run_against(
            "chat", "127.0.0.1", number, stdin=b"/quit bye all\n"
        )
        assert result.stdout.decode().splitlines()[-1] == "* Bye"
        assert result.returncode == 0
    finally:
        await stop(port)


@pytest_twisted.ensureDeferred
async def test_chat_client_server_shutdown(reactor: Any) -> None:
    """When the server ends the session, the client exits 0 (stdin still open)."""
    factory = ChatFactory()
    port, number = tcp(reactor, factory)
    process = await deferToThread(
        subprocess.Popen, [*COMMAND, "chat", "127.0.0.1", number],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        while not factory.connections:
            await deferToThread(lambda: None)
        await stop(port)
        await factory.shutdown()
        out, _ = await deferToThread(process.communicate, timeout=30)
        assert out.decode().splitlines()[-1] == "* server shutting down"
        assert process.returncode == 0
    finally:
        if process.poll() is None:
            process.kill()


def test_chat_client_server_killed(tmp_path: Path, twist_runs: list[Twist]) -> None:
    """The chat server's process killed (kill -9): connection lost, exit 56."""
    server = Twist("tcp-chat", "--listen", "tcp:0:interface=127.0.0.1", cwd=tmp_path)
    twist_runs.append(server)
    port = server.wait_for_log(r"starting on (\d+)")[1]
    client = subprocess.Popen(
        [*COMMAND, "chat", "127.0.0.1", port],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert client.stdout is not None
        assert client.stdout.readline().startswith(b"* Welcome, guest-1!")
        server.kill()
        _, err = client.communicate(timeout=30)
    finally:
        if client.poll() is None:
            client.kill()
    assert client.returncode == 56
    assert err == b"twisted-tcp: connection lost: the server closed it mid-session\n"


def test_chat_client_cannot_connect() -> None:
    """A chat server that is not there: exit 7 with a message."""
    result = run("chat", "127.0.0.1", unused_port())
    assert result.returncode == 7
    assert b"cannot connect" in result.stderr


@pytest_twisted.ensureDeferred
async def test_chat_client_connection_breaks(reactor: Any) -> None:
    """A broken connection: exit 56 with a message."""
    port, number = tcp(reactor, Factory.forProtocol(ImmediateResetter))
    try:
        result = await run_against("chat", "127.0.0.1", number, stdin=b"a\nb\n")
        assert result.returncode == 56
        assert b"connection lost" in result.stderr
    finally:
        await stop(port)


# udp


def udp_port(
    reactor: Any, protocol: DatagramProtocol, interface: str = "127.0.0.1"
) -> tuple[IListeningPort, str]:
    port = reactor.listenUDP(0, protocol, interface=interface)
    return port, str(port_of(port))


@pytest_twisted.ensureDeferred
async def test_udp_messages_answered(reactor: Any) -> None:
    """Each message goes as a datagram; each answer is printed."""
    port, number = udp_port(reactor, UDPEchoProtocol(mode="upper"))
    try:
        result = await run_against("udp", "127.0.0.1", number, "hi", "there")
        assert result.stdout == b"HI\nTHERE\n"
        assert result.returncode == 0
    finally:
        await stop(port)


@pytest_twisted.ensureDeferred
async def test_udp_stdin(reactor: Any) -> None:
    """Without MESSAGEs, each line of stdin is a datagram."""
    port, number = udp_port(reactor, UDPEchoProtocol())
    try:
        result = await run_against("udp", "127.0.0.1", number, stdin=b"a\nb\n")
        assert result.stdout == b"a\nb\n"
    finally:
        await stop(port)


@pytest_twisted.ensureDeferred
async def test_udp_no_answer(reactor: Any) -> None:
    """A peer that never answers: a message per datagram and exit 1."""
    port, number = udp_port(reactor, Silent())
    try:
        result = await run_against("udp", "--timeout", "0.2", "127.0.0.1", number, "x")
        assert result.returncode == 1
        assert result.stderr == b"twisted-tcp: no answer to 'x' within 0.2 s\n"
    finally:
        await stop(port)


@pytest_twisted.ensureDeferred
async def test_udp_over_ipv6(reactor: Any) -> None:
    """udp works with an IPv6 server address."""
    port, number = udp_port(reactor, UDPEchoProtocol(mode="upper"), "::1")
    try:
        result = await run_against("udp", "::1", number, "hi", "there")
        assert (result.returncode, result.stdout, result.stderr) == (
            0, b"HI\nTHERE\n", b"",
        )  # fmt: skip
    finally:
        await stop(port)


@pytest_twisted.ensureDeferred
async def test_ping_udp_over_ipv6(reactor: Any) -> None:
    """ping --udp works with an IPv6 server address."""
    port, number = udp_port(reactor, UDPEchoProtocol(), "::1")
    try:
        result = await run_against("ping", "--udp", "::1", number, "-c", "2", "-i", "0")
        assert "2 sent, 2 received, 0 late, 0 lost, 0 mismatched, 0.0% loss" in (
            result.stdout.decode()
        )
        assert (result.returncode, result.stderr) == (0, b"")
    finally:
        await stop(port)


@pytest_twisted.ensureDeferred
async def test_udp_bracketed_ipv6_address(reactor: Any) -> None:
    """udp and ping --udp take an IPv6 address in brackets too."""
    port, number = udp_port(reactor, UDPEchoProtocol(), "::1")
    try:
        result = await run_against("udp", "[::1]", number, "hi")
        pinged = await run_against("ping", "--udp", "[::1]", number, "-c", "1")
    finally:
        await stop(port)
    assert (result.returncode, result.stdout, result.stderr) == (0, b"hi\n", b"")
    assert (pinged.returncode, pinged.stderr) == (0, b"")


def test_udp_refused_over_ipv6() -> None:
    """Nothing listening on an IPv6 address's port: exit 7 there too."""
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
        probe.bind(("::1", 0))
        free = str(probe.getsockname()[1])
    result = run("udp", "::1", free, "x")
    assert result.returncode == 7
    assert b"connection refused" in result.stderr


def test_udp_refused() -> None:
    """Nothing listening on the port: ICMP says so; exit 7."""
    result = run("udp", "127.0.0.1", unused_port(), "x")
    assert result.returncode == 7
    assert b"connection refused" in result.stderr


# ping


@pytest_twisted.ensureDeferred
async def test_ping_tcp(reactor: Any) -> None:
    """ping over TCP prints each round trip and a summary; exit 0."""
    port, number = tcp(reactor, EchoFactory())
    try:
        result = await run_against("ping", "127.0.0.1", number, "-c", "3", "-i", "0.05",
                                   "-s", "1000")  # fmt: skip
        out = result.stdout.decode().splitlines()
        assert out[0] == f"PING 127.0.0.1 port {number}: 1000 bytes over TCP"
        assert [line.split(" time=")[0] for line in out[1:4]] == [
            f"1000 bytes from 127.0.0.1 port {number}: seq={n}" for n in (1, 2, 3)
        ]
        assert out[5] == "3 sent, 3 received, 0 late, 0 lost, 0 mismatched, 0.0% loss"
        assert out[6].startswith("min/avg/max = ")
        assert result.returncode == 0
    finally:
        await stop(port)


@pytest_twisted.ensureDeferred
async def test_ping_udp(reactor: Any) -> None:
    """ping --udp verifies datagram echoes too."""
    port, number = udp_port(reactor, UDPEchoProtocol())
    try:
        result = await run_against(
            "ping", "--udp", "127.0.0.1", number, "-c", "2", "-i", "0"
        )
        assert "2 sent, 2 received, 0 late, 0 lost, 0 mismatched, 0.0% loss" in (
            result.stdout.decode()
        )
        assert result.returncode == 0
    finally:
        await stop(port)


@pytest_twisted.ensureDeferred
async def test_ping_detects_corruption(reactor: Any) -> None:
    """A server that corrupts a byte is caught: mismatch reported, exit 1."""
    port, number = tcp(reactor, Factory.forProtocol(Corrupter))
    try:
        # The first answer stops the run long before a second probe is due.
        result = await run_against("ping", "127.0.0.1", number, "-c", "3", "-i", "30")
        out = result.stdout.decode()
        assert "seq=1 payload mismatch at byte 2" in out
        assert "stopping: the stream is out of step" in out
        assert "1 sent, 0 received, 0 late, 0 lost, 1 mismatched, 0.0% loss" in out
        assert result.returncode == 1
    finally:
        await stop(port)


@pytest_twisted.ensureDeferred
async def test_ping_udp_detects_corruption(reactor: Any) -> None:
    """Over UDP too: an upper-casing server does not echo random payloads exactly."""
    port, number = udp_port(reactor, UDPEchoProtocol(mode="upper"))
    try:
        result = await run_against("ping", "--udp", "127.0.0.1", number, "-c", "2",
                                   "-i", "0", "-s", "4000")  # fmt: skip
        out = result.stdout.decode()
        assert "2 sent, 0 received, 0 late, 0 lost, 2 mismatched" in out
        assert result.returncode == 1
    finally:
        await stop(port)


@pytest_twisted.ensureDeferred
async def test_ping_loss(reactor: Any) -> None:
    """Answers that never come are counted as loss; exit 1."""
    port, number = udp_port(reactor, Silent())
    try:
        result = await run_against("ping", "--udp", "127.0.0.1", number, "-c", "2",
                                   "-i", "0", "-W", "0.2")  # fmt: skip
        out = result.stdout.decode()
        assert "seq=1 no answer within 0.2 s" in out
        assert "2 sent, 0 received, 0 late, 2 lost, 0 mismatched, 100.0% loss" in out
        assert result.returncode == 1
    finally:
        await stop(port)


class FirstDropped(DatagramProtocol):
    """An echo server that drops the first datagram and echoes the others."""

    dropped = False

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        assert self.transport is not None
        if self.dropped:
            self.transport.write(datagram, addr)
        self.dropped = True


@pytest_twisted.ensureDeferred
async def test_ping_keeps_its_pace_past_a_loss(reactor: Any) -> None:
    """
    A lost answer delays no other probe: the later ones are answered while the
    first still waits for its timeout; it is then counted lost, exit 1.
    """
    port, number = udp_port(reactor, FirstDropped())
    try:
        result = await run_against("ping", "--udp", "127.0.0.1", number, "-c", "4",
                                   "-i", "0.01", "-W", "5")  # fmt: skip
    finally:
        await stop(port)
    out = result.stdout.decode().splitlines()
    assert [line.split(" time=")[0] for line in out[1:5]] == [
        *(f"56 bytes from 127.0.0.1 port {number}: seq={n}" for n in (2, 3, 4)),
        "seq=1 no answer within 5 s",
    ]
    assert out[6] == "4 sent, 3 received, 0 late, 1 lost, 0 mismatched, 25.0% loss"
    assert result.returncode == 1


@pytest_twisted.ensureDeferred
async def test_ping_against_a_rate_limited_server(reactor: Any) -> None:
    """
    300 probes a millisecond apart to a server that answers 20 a second: every
    probe is sent, each answered or lost, and the run ends one timeout after the
    last probe rather than one timeout after each loss.
    """
    port, number = udp_port(reactor, UDPEchoProtocol(rate=20))
    try:
        result = await run_against("ping", "--udp", "127.0.0.1", number, "-c", "300",
                                   "-i", "0.001", "-W", "1")  # fmt: skip
    finally:
        await stop(port)
    summary = result.stdout.decode().splitlines()[-2]
    sent, received, late, lost, mismatched = (
        int(part.split()[0]) for part in summary.split(", ")[:5]
    )
    assert (sent, mismatched) == (300, 0)
    assert received >= 1 and lost >= 1
    assert received + late + lost == 300
    assert result.returncode == 1


def test_ping_refused() -> None:
    """ping to a closed TCP port: exit 7."""
    result = run("ping", "127.0.0.1", unused_port())
    assert result.returncode == 7


def test_ping_udp_refused() -> None:
    """ping --udp to a port where nothing listens: refused at once, exit 7."""
    result = run("ping", "--udp", "127.0.0.1", unused_port(), "-W", "30")
    assert "seq=1 refused: nothing listens there" in result.stdout.decode()
    assert result.returncode == 7


def test_ping_udp_size_bounds() -> None:
    """A UDP probe must hold its sequence number and fit in a datagram."""
    result = run("ping", "--udp", "127.0.0.1", "9", "-s", "4")
    assert result.returncode == 2
    assert b"--size must be 8-65507 with --udp" in result.stderr


# Ctrl-C


class Stalling(Protocol):
    """An HTTP server that sends a head and the start of a body, then nothing."""

    def dataReceived(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nstart")


async def interrupt(
    argv: list[str], first_output: bytes, ready: Callable[[], bool] = lambda: True
) -> tuple[int, bytes, bytes]:
    """
    Run the command with standard input open, wait for C{first_output} on its
    standard output (so it is connected and waiting) and for C{ready()}, send it
    SIGINT; its exit status, whole output and error output.
    """
    process = await deferToThread(
        subprocess.Popen, [*COMMAND, *argv], bufsize=0,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        seen = b""
        while len(seen) < len(first_output):
            wanted = len(first_output) - len(seen)
            chunk = await deferToThread(process.stdout.read, wanted)
            assert chunk, "the command ended before it was interrupted"
            seen += chunk
        assert seen == first_output
        for _ in range(3000):
            if ready():
                break
            await deferToThread(time.sleep, 0.01)
        assert ready(), "the command never got ready to be interrupted"
        process.send_signal(signal.SIGINT)
        out, err = await deferToThread(process.communicate, timeout=30)
        return process.returncode, seen + out, err
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


@pytest_twisted.ensureDeferred
async def test_send_interrupted(reactor: Any) -> None:
    """Ctrl-C in send: exit 130 and nothing on stderr (not a network failure)."""
    port, number = tcp(reactor, GreetingFactory())
    try:
        code, out, err = await interrupt(["send", "127.0.0.1", number], b"Welcome\r\n")
        assert (code, out, err) == (130, b"Welcome\r\n", b"")
    finally:
        await stop(port)


@pytest_twisted.ensureDeferred
async def test_chat_interrupted(reactor: Any) -> None:
    """Ctrl-C in chat: exit 130 and nothing on stderr."""
    factory = ChatFactory()
    port, number = tcp(reactor, factory)
    try:
        code, out, err = await interrupt(["chat", "127.0.0.1", number], b"* Welcome")
        assert (code, err) == (130, b"")
        assert out.startswith(b"* Welcome, guest-1!")
    finally:
        await stop(port)


@pytest_twisted.ensureDeferred
async def test_get_interrupted(reactor: Any) -> None:
    """Ctrl-C in get mid-body: exit 130 and nothing on stderr."""
    port, number = tcp(reactor, Factory.forProtocol(Stalling))
    try:
        url = f"http://127.0.0.1:{number}/"
        code, out, err = await interrupt(["get", url], b"start")
        assert (code, out, err) == (130, b"start", b"")
    finally:
        await stop(port)


@pytest_twisted.ensureDeferred
async def test_get_output_interrupted(reactor: Any, tmp_path: Path) -> None:
    """
    Ctrl-C in C{get -o} mid-body: exit 130, nothing on stderr, and the temporary
    file that held the partial body is gone, the old file untouched.
    """
    target = tmp_path / "page"
    target.write_bytes(b"old")
    port, number = tcp(reactor, Factory.forProtocol(Stalling))

    def partial() -> bool:
        return any(path.name.endswith(".part") for path in tmp_path.iterdir())

    try:
        url = f"http://127.0.0.1:{number}/"
        head = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
        code, out, err = await interrupt(["get", "-o", str(target), url], head, partial)
        assert (code, out, err) == (130, head, b"")
    finally:
        await stop(port)
    assert list(tmp_path.iterdir()) == [target]
    assert target.read_bytes() == b"old"


@pytest_twisted.ensureDeferred
async def test_ping_interrupted(reactor: Any) -> None:
    """Ctrl-C in ping between probes: the statistics so far, as ping(8) prints
    them, then exit 130 and nothing on stderr."""
    port, number = tcp(reactor, EchoFactory())
    try:
        argv = ["ping", "127.0.0.1", number, "-c", "5", "-i", "60"]
        first = (
            f"PING 127.0.0.1 port {number}: 56 bytes over TCP\n"
            f"56 bytes from 127.0.0.1 port {number}: seq=1 time="
        )
        code, out, err = await interrupt(argv, first.encode())
        assert (code, err) == (130, b"")
        assert b"\n1 sent, 1 received, 0 late, 0 lost, 0 mismatched, 0.0% loss\n" in out
    finally:
        await stop(port)
