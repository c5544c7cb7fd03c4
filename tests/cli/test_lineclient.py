"""
Tests for L{twisted_tcp.cli.lineclient}: when lines go out, what is printed, and how a
session ends, on an in-memory transport and a test clock.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import CancelledError
from twisted.internet.error import ConnectionDone, ConnectionLost
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from twisted_tcp.cli.errors import ClientError
from twisted_tcp.cli.lineclient import REPLY_QUIET, LineClient
from twisted_tcp.cli.printer import Printer


class Session:
    """A line client on a string transport, its printed output, and its clock."""

    def __init__(self, **options: Any) -> None:
        self.clock = Clock()
        self.printed: list[str] = []
        encoding = options.setdefault("encoding", "utf-8")
        self.client = LineClient(
            printer=Printer(self.printed.append, encoding), clock=self.clock, **options
        )
        self.transport = StringTransport()
        self.codes: list[int] = []
        self.client.finished.addCallback(self.codes.append)

    def connect(self) -> None:
        self.client.makeConnection(self.transport)

    def sent(self) -> bytes:
        data = self.transport.value()
        self.transport.clear()
        return data


def test_lines_sent_at_once_with_newline() -> None:
    """Lines queued before connecting go out together, each ending with LF."""
    session = Session()
    session.client.send("one")
    session.client.send("two")
    session.connect()
    assert session.sent() == b"one\ntwo\n"


def test_crlf_newline() -> None:
    """Another line end can be chosen (--crlf)."""
    session = Session(newline=b"\r\n")
    session.connect()
    session.client.send("x")
    assert session.sent() == b"x\r\n"


def test_quiet_after_input_closes_with_success() -> None:
    """Once input is done, the client hangs up after `wait` seconds without data."""
    session = Session(wait=1.0)
    session.connect()
    session.client.end_of_input()
    session.clock.advance(0.9)
    session.client.dataReceived(b"late answer")
    session.clock.advance(0.9)
    assert not session.transport.disconnecting
    session.clock.advance(0.1)
    assert session.transport.disconnecting
    session.client.connectionLost(Failure(ConnectionLost()))
    assert session.codes == [0]
    assert session.printed == ["late answer"]


def test_no_hang_up_while_input_open() -> None:
    """While input may still come, silence does not end the session."""
    session = Session(wait=1.0)
    session.connect()
    session.clock.advance(3600)
    assert not session.transport.disconnecting


def test_raw_mode_waits_for_each_answer() -> None:
    """In raw mode the next message waits for the answer to the last, then a pause."""
    session = Session(raw=True, wait=5.0)
    for name in ("Alice", "Bob"):
        session.client.send(name)
    session.connect()
    session.client.dataReceived(b"Welcome")
    assert session.sent() == b""
    session.clock.advance(REPLY_QUIET)
    assert session.sent() == b"Alice"
    session.clock.advance(4.0)
    assert session.sent() == b""
    session.client.dataReceived(b"Hello, Alice!")
    session.clock.advance(REPLY_QUIET)
    assert session.sent() == b"Bob"


def test_raw_mode_gives_up_waiting_after_wait() -> None:
    """A message without an answer holds the next one back only `wait` seconds."""
    session = Session(raw=True, wait=2.0)
    for name in ("a", "b"):
        session.client.send(name)
    session.connect()
    session.clock.advance(REPLY_QUIET)
    assert session.sent() == b"a"
    session.clock.advance(2.0)
    assert session.sent() == b"b"


def test_quit_line_sent_at_end_of_input() -> None:
    """The chat client says /quit when its input ends."""
    session = Session(quit_line="/quit")
    session.connect()
    session.client.end_of_input()
    session.client.end_of_input()
    assert session.sent() == b"/quit\n"


def test_server_close_is_success() -> None:
    """A server that closes the session cleanly means exit 0."""
    session = Session()
    session.connect()
    session.client.connectionLost(Failure(ConnectionDone()))
    assert session.codes == [0]


def test_broken_connection_is_an_error() -> None:
    """A connection lost by accident fails with exit code 56 and says why."""
    session = Session()
    session.connect()
    errors: list[Failure] = []
    session.client.finished.addErrback(errors.append)
    session.client.connectionLost(Failure(ConnectionLost("reset by peer")))
    [failure] = errors
    error = failure.value
    assert isinstance(error, ClientError)
    assert error.exit_code == 56
    assert error.message.startswith("connection lost: ")


def test_encoding_on_the_wire() -> None:
    """Lines are encoded, and answers decoded, with the session's encoding."""
    session = Session(encoding="gbk")
    session.connect()
    session.client.send("你好")
    assert session.sent() == "你好\n".encode("gbk")
    session.client.dataReceived("再见".encode("gbk"))
    assert session.printed == ["再见"]


def test_cancelling_aborts_the_connection_quietly() -> None:
    """Cancelling the session (Ctrl-C) aborts the connection; the loss that follows
    is not reported a second time."""
    session = Session(wait=1.0)
    session.connect()
    session.client.end_of_input()
    errors: list[Failure] = []
    session.client.finished.addErrback(errors.append)
    session.client.finished.cancel()
    assert session.transport.disconnecting
    session.clock.advance(5)
    session.client.connectionLost(Failure(ConnectionLost("aborted")))
    [failure] = errors
    assert failure.check(CancelledError)
    assert session.clock.getDelayedCalls() == []
