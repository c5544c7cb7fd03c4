"""
Tests for L{twisted_tcp.cli.chat}: the nick is asked for first, every other line
waits for the server's answer, and a refused nick ends the session without a word
sent under another name; a close without the server's goodbye is a lost connection;
on an in-memory transport and a test clock.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from twisted_tcp.chat import texts
from twisted_tcp.chat.protocol import ChatProtocol
from twisted_tcp.cli.chat import GOODBYE, NICK_TIMEOUT, ChatClient
from twisted_tcp.cli.errors import ClientError
from twisted_tcp.cli.exitcodes import EXIT_CONNECTION_LOST
from twisted_tcp.cli.printer import Printer

from ..support import byte_by_byte, splits

WELCOME_GUEST = b"* Welcome, guest-3! Change your nick with /nick NAME.\r\n"
TAKEN = b"error: the nick zed is taken by Zed\r\n"


class Session:
    """A chat client on a string transport, its output, outcome and clock."""

    def __init__(self, nick: str | None = "zed") -> None:
        self.clock = Clock()
        self.printed: list[str] = []
        self.client = ChatClient(
            nick=nick, printer=Printer(self.printed.append, "utf-8"), clock=self.clock
        )
        self.transport = StringTransport()
        self.codes: list[int] = []
        self.errors: list[ClientError] = []
        self.client.finished.addCallbacks(
            self.codes.append, lambda failure: self.errors.append(failure.value)
        )

    def connect(self) -> None:
        self.client.makeConnection(self.transport)

    def receive(self, *chunks: bytes) -> None:
        for chunk in chunks:
            self.client.dataReceived(chunk)

    def sent(self) -> bytes:
        data = self.transport.value()
        self.transport.clear()
        return data

    def close(self) -> None:
        self.client.connectionLost(Failure(ConnectionDone()))


def test_nick_is_the_first_line_and_the_rest_waits() -> None:
    """/nick goes out first, alone; lines typed meanwhile wait for the answer."""
    session = Session()
    session.client.send("hello")
    session.connect()
    session.client.send("again")
    assert session.sent() == b"/nick zed\n"
    session.receive(WELCOME_GUEST)
    assert session.sent() == b""
    session.receive(b"* guest-3 is now known as zed\r\n")
    assert session.sent() == b"hello\nagain\n"
    session.client.send("later")
    assert session.sent() == b"later\n"


def test_welcome_naming_the_nick_accepts_it() -> None:
    """A server that applies the nick on arrival welcomes the member by it."""
    session = Session()
    session.connect()
    session.client.send("hi")
    session.sent()
    session.receive(b"* Welcome, Zed! Change your nick with /nick NAME.\r\n")
    assert session.sent() == b"hi\n"


def test_taken_nick_ends_the_session_with_an_error() -> None:
    """A refusal: nothing else is sent, the client hangs up, exit code 1."""
    session = Session()
    session.client.send("hello")
    session.connect()
    session.client.end_of_input()
    session.sent()
    session.receive(WELCOME_GUEST + TAKEN)
    assert session.transport.disconnecting
    assert session.sent() == b""
    session.close()
    [error] = session.errors
    assert error.exit_code == 1
    assert error.message == "cannot chat as zed: the nick zed is taken by Zed"
    assert "".join(session.printed) == (WELCOME_GUEST + TAKEN).decode()


def test_any_error_before_the_answer_is_a_refusal() -> None:
    """An invalid nick (or any error line while waiting) is refused the same way."""
    session = Session(nick="9lives")
    session.connect()
    session.receive(b"error: a nick is 1-30 letters, digits, _ or -\r\n")
    assert session.transport.disconnecting
    session.close()
    [error] = session.errors
    assert error.message.startswith("cannot chat as 9lives: a nick is 1-30")


def test_someone_else_renamed_to_the_nick_is_no_acceptance() -> None:
    """Another member taking the nick first is their rename, not our success."""
    session = Session()
    session.client.send("hello")
    session.connect()
    session.sent()
    session.receive(WELCOME_GUEST, b"* guest-1 is now known as zed\r\n")
    assert session.sent() == b""
    assert not session.transport.disconnecting
    session.receive(b"error: the nick zed is taken by zed\r\n")
    assert session.transport.disconnecting
    assert session.sent() == b""


def test_no_answer_gives_up() -> None:
    """A server that never answers /nick: the session fails, nothing else sent."""
    session = Session()
    session.client.send("hello")
    session.connect()
    session.sent()
    session.clock.advance(NICK_TIMEOUT - 0.1)
    assert not session.transport.disconnecting
    session.clock.advance(0.1)
    assert session.transport.disconnecting
    assert session.sent() == b""
    session.close()
    [error] = session.errors
    assert "did not answer /nick" in error.message


def test_end_of_input_waits_for_the_answer() -> None:
    """Piped input may end before the answer: /quit and the hang-up wait for it."""
    session = Session()
    session.connect()
    session.client.send("bye")
    session.client.end_of_input()
    session.clock.advance(NICK_TIMEOUT / 2)
    assert not session.transport.disconnecting
    session.receive(WELCOME_GUEST, b"* guest-3 is now known as zed\r\n")
    assert session.sent() == b"/nick zed\nbye\n/quit\n"


def test_without_nick_nothing_waits() -> None:
    """Without --nick, lines go out at once and no answer is awaited."""
    session = Session(nick=None)
    session.client.send("hello")
    session.connect()
    assert session.sent() == b"hello\n"
    session.clock.advance(NICK_TIMEOUT * 2)
    assert not session.transport.disconnecting


def test_nick_surrounding_spaces_ignored() -> None:
    """The server strips the nick; so does the client, to recognise the answer."""
    session = Session(nick=" zed ")
    session.connect()
    assert session.sent() == b"/nick zed\n"
    session.receive(WELCOME_GUEST, b"* guest-3 is now known as zed\r\n")
    session.client.send("x")
    assert session.sent() == b"x\n"


def test_answers_byte_by_byte() -> None:
    """The answer is recognised however the server's bytes are split."""
    session = Session()
    session.connect()
    session.client.send("hello")
    session.sent()
    session.receive(*byte_by_byte(WELCOME_GUEST + TAKEN))
    assert session.transport.disconnecting
    assert session.sent() == b""


@given(splits(WELCOME_GUEST + b"* guest-3 is now known as zed\r\n"))
def test_acceptance_at_random_splits(chunks: list[bytes]) -> None:
    """Acceptance is recognised at any split of the server's bytes."""
    session = Session()
    session.connect()
    session.client.send("hello")
    session.sent()
    session.receive(*chunks)
    assert session.sent() == b"hello\n"


@pytest.mark.parametrize(
    "goodbye",
    [b"* Bye\r\n", b"* server shutting down\r\n", b"* idle for 300 s; closing\r\n"],
)
def test_close_after_goodbye_ends_well(goodbye: bytes) -> None:
    """The server closing after one of its goodbye lines ends the session: exit 0."""
    session = Session(nick=None)
    session.connect()
    session.receive(WELCOME_GUEST, b"[2026/12/05 01:00:00] <bob> hi\r\n", goodbye)
    session.close()
    assert (session.codes, session.errors) == ([0], [])


@pytest.mark.parametrize(
    "last",
    [
        b"[2026/12/05 01:00:00] <bob> * Bye\r\n",
        b"* alice joined #lobby\r\n",
        b"* Bye",
        b"",
    ],
)
def test_close_without_goodbye_is_a_lost_connection(last: bytes) -> None:
    """
    A close after any other line (or a goodbye not yet ended by its line end) is
    the server dying: exit 56, saying the connection was lost.
    """
    session = Session(nick=None)
    session.connect()
    session.receive(WELCOME_GUEST, last)
    session.close()
    assert session.codes == []
    [error] = session.errors
    assert (error.exit_code, error.message) == (
        EXIT_CONNECTION_LOST,
        "connection lost: the server closed it mid-session",
    )


def test_close_after_an_error_reports_it() -> None:
    """A server that refuses the member and closes (a full server): exit 56 with why."""
    session = Session(nick=None)
    session.connect()
    session.receive(b"error: too many connections (max 1)\r\n")
    session.close()
    [error] = session.errors
    assert (error.exit_code, error.message) == (
        EXIT_CONNECTION_LOST,
        "the server closed the connection: too many connections (max 1)",
    )


def test_goodbyes_are_the_servers() -> None:
    """The goodbyes the client knows are the lines the chat server closes after."""
    idle = ChatProtocol.idleNotice
    assert idle is not None
    for line in (texts.BYE, ChatProtocol.shutdownNotice, idle.format(seconds=0.5)):
        assert line is not None
        assert GOODBYE.match(line), line
