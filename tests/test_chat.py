"""
Tests for L{twisted_tcp.chat}: nicks, messages, commands, sanitising, flood control,
slow readers, history, MOTD and shutdown, over in-memory transports.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable, Iterable
from typing import Any

import pytest
import pytest_twisted
from hypothesis import event, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.error import ConnectionDone, ConnectionLost
from twisted.internet.interfaces import IListeningPort
from twisted.internet.protocol import Protocol, connectionDone
from twisted.internet.testing import StringTransport, StringTransportWithDisconnection
from twisted.internet.threads import deferToThread
from twisted.protocols.policies import ProtocolWrapper, WrappingFactory
from twisted.python.failure import Failure

from twisted_tcp._text import encode
from twisted_tcp.chat import ChatFactory, ChatProtocol, make_chat
from twisted_tcp.chat import room as chat_room

from .chat_support import ChatHarness, lines, local_chat, say, take
from .support import port_of, stop, until
from .support import take as take_now


@pytest.fixture
def room() -> ChatHarness:
    return ChatHarness()


def test_welcome_names_a_unique_guest(room: ChatHarness) -> None:
    """Each newcomer is welcomed under a new guest-N nick and pointed to /help."""
    first, first_out = room.join()
    second, second_out = room.join()
    assert (first.nick, second.nick) == ("guest-1", "guest-2")
    assert lines(second_out) == [
        "* Welcome, guest-2! Change your nick with /nick NAME;"
        " /help lists the commands."
    ]
    assert lines(first_out)[-1] == "* guest-2 joined #lobby"


def test_guest_nick_skips_taken_names(room: ChatHarness) -> None:
    """A guest-N nick someone already chose is not given out again."""
    first, _ = room.join()
    say(first, "/nick guest-2")
    second, _ = room.join()
    assert second.nick == "guest-3"


def test_message_reaches_everyone_including_sender(room: ChatHarness) -> None:
    """A line goes to every client, sender included, as [TIMESTAMP] <NICK> TEXT."""
    (alice, alice_out), (_, bob_out) = room.join(), room.join()
    take(alice_out)
    take(bob_out)
    room.clock.advance(90061)
    say(alice, "hello there")
    expected = [f"[{room.stamp()}] <guest-1> hello there"]
    assert lines(alice_out) == expected
    assert lines(bob_out) == expected


def test_timestamp_format_option() -> None:
    """--timestamp-format changes the stamp of every message."""
    room = ChatHarness(timestamp_format="%H:%M")
    alice, out = room.join()
    take(out)
    say(alice, "hi")
    stamp = time.strftime("%H:%M", time.localtime(0))
    assert lines(out) == [f"[{stamp}] <guest-1> hi"]


def test_empty_lines_ignored(room: ChatHarness) -> None:
    """Empty and blank lines are not broadcast."""
    alice, out = room.join()
    take(out)
    alice.dataReceived(b"\n  \r\n\t\n\x1b\n")
    assert lines(out) == []


@pytest.mark.parametrize(
    ("padding", "kept"), [(" " * 128, " " * 4), ("\t" * 9, " " * 4), ("  ", "  ")]
)
def test_long_white_space_runs_are_cut(
    room: ChatHarness, padding: str, kept: str
) -> None:
    """
    A run of more than 4 white-space characters in a line reaches the room as 4
    spaces, so padding cannot push text to the start of a row; shorter runs stay.
    """
    alice, out = room.join()
    take(out)
    say(alice, f"hi{padding}<bob> fake", f"/me waves{padding}x")
    assert lines(out) == [
        f"[{room.stamp()}] <guest-1> hi{kept}<bob> fake",
        f"[{room.stamp()}] * guest-1 waves{kept}x",
    ]


@pytest.mark.parametrize("nick", ["a", "Alice", "x" * 30, "n1_c-k"])
def test_nick_change_announced(room: ChatHarness, nick: str) -> None:
    """A valid /nick is announced to everyone."""
    (alice, alice_out), (_, bob_out) = room.join(), room.join()
    take(alice_out)
    take(bob_out)
    say(alice, f"/nick {nick}")
    assert lines(bob_out) == [f"* guest-1 is now known as {nick}"]
    assert lines(alice_out) == [f"* guest-1 is now known as {nick}"]
    assert alice.nick == nick


def test_bare_nick_gets_usage(room: ChatHarness) -> None:
    """A /nick without a name gets the usage line, not the rules."""
    alice, alice_out = room.join()
    take(alice_out)
    say(alice, "/nick")
    assert lines(alice_out) == ["error: usage: /nick NAME"]


def test_nick_unchanged_is_not_announced(room: ChatHarness) -> None:
    """Taking the nick one already has announces nothing."""
    (alice, alice_out), (_, bob_out) = room.join(), room.join()
    say(alice, "/nick carol")
    take(alice_out), take(bob_out)
    say(alice, "/nick carol")
    assert lines(alice_out) == ["* you are already carol"]
    assert lines(bob_out) == []


@pytest.mark.parametrize("nick", ["1abc", "x" * 31, "a b", "é", "a.b", "-x", "_x"])
def test_invalid_nick(room: ChatHarness, nick: str) -> None:
    """Nicks break the rules get an error for the sender alone."""
    (alice, alice_out), (_, bob_out) = room.join(), room.join()
    take(alice_out)
    take(bob_out)
    say(alice, f"/nick {nick}")
    assert lines(alice_out) == [
        "error: a nick is 1-30 ASCII letters, digits, _ or -, starting with a letter"
    ]
    assert lines(bob_out) == []


@pytest.mark.parametrize("nick", ["server", "SYSTEM", "Admin"])
def test_reserved_nick(room: ChatHarness, nick: str) -> None:
    """server, system and admin cannot be taken, in any case."""
    alice, out = room.join()
    take(out)
    say(alice, f"/nick {nick}")
    assert lines(out) == [f"error: the nick {nick} is reserved"]


def test_taken_nick_names_holder(room: ChatHarness) -> None:
    """A nick taken by someone else, in any case, is refused naming the holder."""
    (alice, _), (bob, bob_out) = room.join(), room.join()
    say(alice, "/nick Alice")
    take(bob_out)
    say(bob, "/nick ALICE")
    assert lines(bob_out) == ["error: the nick ALICE is taken by Alice"]
    assert bob.nick == "guest-2"


def test_own_nick_in_other_case(room: ChatHarness) -> None:
    """One may change the case of one's own nick."""
    alice, out = room.join()
    say(alice, "/nick alice", "/nick Alice")
    assert lines(out)[-1] == "* alice is now known as Alice"
    assert list(room.chat.members) == ["alice"]


def test_who_lists_members_with_since(room: ChatHarness) -> None:
    """/who lists every nick with the time it connected, to the asker alone."""
    alice, alice_out = room.join()
    room.clock.advance(60)
    _, bob_out = room.join()
    say(alice, "/nick zed")
    take(alice_out)
    take(bob_out)
    say(alice, "/who")
    assert lines(alice_out) == [
        "* 2 in #lobby:",
        f"*   guest-2 (since {room.chat.timestamp(60)})",
        f"*   zed (since {room.chat.timestamp(0)})",
    ]
    assert lines(bob_out) == []


def test_me_action(room: ChatHarness) -> None:
    """/me ACTION is broadcast as [TIMESTAMP] * NICK ACTION."""
    (alice, _), (_, bob_out) = room.join(), room.join()
    take(bob_out)
    say(alice, "/me waves")
    assert lines(bob_out) == [f"[{room.stamp()}] * guest-1 waves"]


def test_private_message(room: ChatHarness) -> None:
    """/msg reaches its target alone (any case), and the sender sees a copy."""
    (alice, alice_out), (_, bob_out), (_, carol_out) = (
        room.join(),
        room.join(),
        room.join(),
    )
    for out in (alice_out, bob_out, carol_out):
        take(out)
    say(alice, "/msg GUEST-2 psst, a secret")
    assert lines(bob_out) == [f"[{room.stamp()}] *guest-1* psst, a secret"]
    assert lines(alice_out) == [f"[{room.stamp()}] -> *guest-2* psst, a secret"]
    assert lines(carol_out) == []


@pytest.mark.parametrize(
    ("command", "error"),
    [
        ("/msg nobody hi", "error: no such nick: nobody"),
        ("/msg guest-1", "error: usage: /msg NICK TEXT"),
        ("/msg", "error: usage: /msg NICK TEXT"),
        ("/me", "error: usage: /me ACTION"),
        ("/dance now", "error: unknown command /dance (try /help)"),
        ("/", "error: unknown command / (try /help)"),
    ],
)
def test_command_errors_to_sender_alone(
    room: ChatHarness, command: str, error: str
) -> None:
    """Bad commands get an error line sent to the sender alone."""
    (alice, alice_out), (_, bob_out) = room.join(), room.join()
    take(alice_out)
    take(bob_out)
    say(alice, command)
    assert lines(alice_out) == [error]
    assert lines(bob_out) == []


def test_help(room: ChatHarness) -> None:
    """/help lists every command as notices."""
    alice, out = room.join()
    take(out)
    say(alice, "/HELP")
    help_lines = lines(out)
    assert all(line.startswith("* ") for line in help_lines)
    for command in ("/nick", "/who", "/me", "/msg", "/quit", "/help"):
        assert any(command in line for line in help_lines)


def test_double_slash_sends_a_slash(room: ChatHarness) -> None:
    """A line starting with // is a message starting with /."""
    alice, out = room.join()
    take(out)
    say(alice, "//etc/passwd is a path")
    assert lines(out) == [f"[{room.stamp()}] <guest-1> /etc/passwd is a path"]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("/quit", "quit"),
        ("/quit gotta go", "gotta go"),
        ("quit", "quit"),
        ("QUIT", "quit"),
    ],
)
def test_quit(room: ChatHarness, line: str, reason: str) -> None:
    """/quit [REASON] and the bare quit say Bye, close, and tell the others why."""
    (alice, alice_out), (_, bob_out) = room.join(), room.join()
    take(alice_out)
    take(bob_out)
    say(alice, line, "after quit")
    assert lines(alice_out) == ["* Bye"]
    assert not alice_out.connected
    assert lines(bob_out) == [f"* guest-1 left #lobby ({reason})"]
    assert list(room.chat.members) == ["guest-2"]


def test_closing_member_leaves_at_once_and_gets_nothing_more(
    room: ChatHarness,
) -> None:
    """
    A member that says goodbye leaves its room then, not once its connection has
    finished closing: nothing is written to it after the goodbye (a client that
    does not read could otherwise take the room's traffic, unbounded, for as long
    as its close takes), and the others hear at once that it left.
    """
    _, bob_out = room.join()
    alice = room.factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 1))
    assert isinstance(alice, ChatProtocol)
    alice_out = StringTransport(peerAddress=IPv4Address("TCP", "127.0.0.1", 1))
    alice_out.protocol = alice  # type: ignore[attr-defined]
    alice.makeConnection(alice_out)
    take(bob_out)
    say(alice, "/quit gone")
    assert alice_out.disconnecting  # Still flushing its goodbye.
    assert alice_out.value().endswith(b"* Bye\r\n")
    alice_out.clear()
    bob = bob_out.protocol
    assert isinstance(bob, ChatProtocol)
    say(bob, "still here", "/who")
    assert lines(bob_out) == [
        "* guest-2 left #lobby (gone)",
        f"[{room.stamp()}] <guest-1> still here",
        "* 1 in #lobby:",
        f"*   guest-1 (since {room.stamp()})",
    ]
    assert alice_out.value() == b""
    alice.connectionLost(Failure(ConnectionDone()))
    assert lines(bob_out) == []
    assert list(room.chat.members) == ["guest-1"]


def test_quit_reason_is_bounded(room: ChatHarness) -> None:
    """A long /quit reason is cut to 100 characters."""
    (alice, _), (_, bob_out) = room.join(), room.join()
    take(bob_out)
    say(alice, "/quit " + "x" * 500)
    assert lines(bob_out) == [f"* guest-1 left #lobby ({'x' * 100})"]


def test_disconnect_reasons(room: ChatHarness) -> None:
    """A clean close and a lost connection are told apart in the leave notice."""
    (alice, _), (bob, _), (_, carol_out) = room.join(), room.join(), room.join()
    take(carol_out)
    alice.transport.loseConnection()
    bob.connectionLost(Failure(ConnectionLost()))
    assert lines(carol_out) == [
        "* guest-1 left #lobby (connection closed)",
        "* guest-2 left #lobby (connection lost)",
    ]


def test_idle_timeout_reason() -> None:
    """A client closed for idleness is announced as such."""
    room = ChatHarness(idle_timeout=30)
    _, _ = room.join()
    room.clock.advance(20)
    (_, bob_out) = room.join()
    take(bob_out)
    room.clock.advance(10)
    assert lines(bob_out) == ["* guest-1 left #lobby (idle timeout)"]


INJECTIONS = [
    b"hi\r\n* server shutting down\n",
    b"hi\r* server shutting down\n",
    b"\x1b[2J\x1b]0;pwned\x07gotcha\n",
    b"\xe2\x80\xaeevil\xe2\x80\xac text\n",
    b"zero\xe2\x80\x8bwidth\n",
    b"para\xe2\x80\xa9error: fake\n",
    b"c1\xc2\x9b31m\xc2\x85next\n",
    b"tab\there\n",
    b"bad \xff\xfe bytes\n",
]


@pytest.mark.parametrize("payload", INJECTIONS)
def test_injection_never_reaches_others_raw(room: ChatHarness, payload: bytes) -> None:
    """Control, escape, bidi and line-breaking characters never reach another client,
    and no client can produce a line that starts like a server line."""
    (alice, _), (_, bob_out) = room.join(), room.join()
    take(bob_out)
    alice.dataReceived(payload)
    received = take(bob_out)
    assert re.fullmatch(rb"(\[[^]]*\] <guest-1> [^\r\n]*\r\n)*", received)
    text = received.decode()
    assert not any(ord(ch) < 32 and ch not in "\r\n" for ch in text)
    for forbidden in "\x1b\x7f\x85\x9b\u202e\u202c\u200b\u2029":
        assert forbidden not in text


@given(st.binary(max_size=300))
def test_no_input_forges_server_lines(payload: bytes) -> None:
    """Whatever a client sends, what others see of it starts with a stamp or a nick
    notice, and holds no control characters."""
    room = ChatHarness()
    (alice, _), (_, bob_out) = room.join(), room.join()
    take(bob_out)
    alice.dataReceived(payload + b"\n")
    for line in take(bob_out).split(b"\r\n")[:-1]:
        text = line.decode()
        assert text.startswith(("[", "* guest-1 is now known as ", "* guest-1 left ("))
        assert not any(ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0 for ch in text)


def test_long_line_error_to_sender(room: ChatHarness) -> None:
    """A line over --max-line gets an error for the sender alone; chat goes on."""
    room = ChatHarness(max_line=10)
    (alice, alice_out), (_, bob_out) = room.join(), room.join()
    take(alice_out)
    take(bob_out)
    alice.dataReceived(b"x" * 50 + b"\nok\n")
    assert lines(alice_out) == [
        "error: line too long (max 10 bytes: about 3 CJK characters)",
        f"[{room.stamp()}] <guest-1> ok",
    ]
    assert lines(bob_out) == [f"[{room.stamp()}] <guest-1> ok"]


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [
        ("utf-8", "error: line too long (max 12 bytes: about 4 CJK characters)"),
        ("gbk", "error: line too long (max 12 bytes: about 6 CJK characters)"),
        ("latin-1", "error: line too long (max 12 bytes)"),
    ],
)
def test_long_line_error_counts_wide_characters(encoding: str, expected: str) -> None:
    """The long-line error says how many CJK characters fit, where each takes
    several bytes."""
    room = ChatHarness(max_line=12, encoding=encoding)
    alice, out = room.join()
    take(out)
    alice.dataReceived(("中文" * 8).encode(encoding, "replace") + b"\n")
    assert lines(out) == [expected]


def test_history_shown_to_newcomers() -> None:
    """A newcomer sees the last N messages after the welcome."""
    room = ChatHarness(history=2)
    alice, _ = room.join()
    say(alice, "one", "two", "/nick al", "three")
    _, out = room.join()
    assert lines(out)[1:] == [
        f"[{room.stamp()}] <guest-1> two",
        f"[{room.stamp()}] <al> three",
    ]


def test_motd_shown_as_notices() -> None:
    """The MOTD is shown line by line as notices, sanitised."""
    room = ChatHarness(motd="Be nice.\nNo \x1b[5mblinking\n")
    _, out = room.join()
    assert lines(out)[1:] == ["* Be nice.", "* No [5mblinking"]


def test_shutdown_tells_everyone_without_leave_noise(room: ChatHarness) -> None:
    """At shutdown each client gets the notice and no one hears the others leave."""
    (_, alice_out), (_, bob_out) = room.join(), room.join()
    take(alice_out)
    take(bob_out)
    room.factory.shutdown()
    assert lines(alice_out) == ["* server shutting down"]
    assert lines(bob_out) == ["* server shutting down"]
    assert room.chat.members == {}


# Flood control and slow readers.


def test_flood_is_delayed_not_dropped() -> None:
    """Past the burst, lines wait for the rate; none is lost; reading pauses."""
    room = ChatHarness(flood_rate=5, flood_burst=10)
    alice, out = room.join()
    take(out)
    say(alice, *[f"line {n}" for n in range(30)])
    first = lines(out)
    assert first[:10] == [f"[{room.stamp()}] <guest-1> line {n}" for n in range(10)]
    # The sender is told once that its lines are being paced.
    assert first[10:] == [
        "* you are sending more than 5 lines a second: your lines go out at that pace"
    ]
    assert out.producerState == "paused"
    room.clock.advance(0.2)
    assert len(lines(out)) == 1
    for _ in range(19):
        room.clock.advance(0.2)
    assert out.producerState == "producing"
    say(alice, "last")  # The bucket is empty again: this one waits its turn too.
    room.clock.advance(0.2)
    received = [line.rsplit(" ", 1)[-1] for line in lines(out)]
    assert received == [*(str(n) for n in range(11, 30)), "last"]


@pytest.mark.parametrize(
    ("ending", "reason"),
    [(ConnectionDone, "connection closed"), (ConnectionLost, "connection lost")],
)
def test_lines_read_before_the_connection_ends_are_delivered(
    ending: type[Exception], reason: str
) -> None:
    """
    Lines held back by the flood rate when the connection ends (closed, or reset
    by a client closing with unread data) still reach the room at that pace; the
    member leaves after them, and no timer is left behind.
    """
    room = ChatHarness(flood_rate=1, flood_burst=1)
    (alice, _), (_, bob_out) = room.join(), room.join()
    take(bob_out)
    say(alice, "a", "b", "c")
    alice.transport.connected = False  # type: ignore[attr-defined]
    alice.connectionLost(Failure(ending()))
    for _ in range(3):
        room.clock.advance(1)
    assert [line.split("] ", 1)[-1] for line in lines(bob_out)] == [
        *(f"<guest-1> {text}" for text in "abc"),
        f"* guest-1 left #lobby ({reason})",
    ]
    assert room.clock.getDelayedCalls() == []


def test_stalled_reader_gets_everything_when_it_resumes(room: ChatHarness) -> None:
    """A client that stops reading gets its queued lines, in order, once it reads."""
    (alice, _), (bob, bob_out) = room.join(), room.join()
    take(bob_out)
    bob.pauseProducing()
    say(alice, "one", "two")
    assert take(bob_out) == b""
    bob.resumeProducing()
    assert [line.rsplit(" ", 1)[-1] for line in lines(bob_out)] == ["one", "two"]


def test_slow_reader_dropped_others_unaffected() -> None:
    """A client whose queue passes --max-send-queue is dropped; others are told."""
    room = ChatHarness(max_send_queue=1000)
    (alice, alice_out), (bob, bob_out), (_, carol_out) = (
        room.join(),
        room.join(),
        room.join(),
    )
    for out in (alice_out, bob_out, carol_out):
        take(out)
    bob.pauseProducing()
    say(alice, *["x" * 90] * 8)  # 124 bytes a line: 992 queued, within the bound.
    assert "guest-2" in room.chat.members
    say(alice, "x" * 90, "x" * 90)  # Lines read together are delivered together.
    message = f"[{room.stamp()}] <guest-1> {'x' * 90}"
    dropped = "* guest-2 dropped (send queue exceeded)"
    assert lines(carol_out) == [*[message] * 10, dropped]
    assert bob_out.disconnected
    assert list(room.chat.members) == ["guest-1", "guest-3"]
    say(alice, "still here")
    assert lines(carol_out)[-1].endswith("<guest-1> still here")
    assert not any("left" in line for line in lines(alice_out))


def test_own_replies_count_against_the_queue() -> None:
    """A client asking for output it never reads is dropped too."""
    room = ChatHarness(max_send_queue=500)
    alice, out = room.join()
    alice.pauseProducing()
    say(alice, *["/help"] * 10)
    assert out.disconnected
    assert room.chat.members == {}


def test_dropped_client_input_is_not_relayed() -> None:
    """Lines a dropped client had already sent are not relayed after its drop."""
    room = ChatHarness(max_send_queue=100)
    (alice, _), (_, bob_out) = room.join(), room.join()
    alice.pauseProducing()
    take(bob_out)
    say(alice, "a" * 60, "/who", "never relayed")  # The reply overflows the queue.
    relayed = lines(bob_out)
    assert relayed[0].endswith("a" * 60)
    assert not any("never relayed" in line for line in relayed)


def test_queued_output_flushed_before_close(room: ChatHarness) -> None:
    """Closing hands queued lines to the transport before the shutdown notice."""
    (alice, _), (bob, bob_out) = room.join(), room.join()
    take(bob_out)
    bob.pauseProducing()
    say(alice, "queued")
    room.factory.shutdown()
    assert [line.rsplit(" ", 1)[-1] for line in lines(bob_out)] == ["queued", "down"]


def test_encode_once_per_broadcast(
    room: ChatHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broadcast is encoded once, however many members receive it."""
    members = [room.join()[0] for _ in range(50)]
    encoded: list[str] = []

    def counting_encode(text: str, encoding: str) -> bytes:
        encoded.append(text)
        return encode(text, encoding)

    monkeypatch.setattr(chat_room, "encode", counting_encode)
    say(members[0], "hello everyone")
    room.clock.advance(0)
    assert len(encoded) == 1


def test_lines_read_together_are_written_together(room: ChatHarness) -> None:
    """
    A burst costs one write per member, not one per line per member, and a reply or
    notice in the middle of it still arrives in its place.
    """
    (alice, alice_out), (_, bob_out) = room.join(), room.join()
    take(alice_out), take(bob_out)
    writes: list[bytes] = []
    original_write = bob_out.write

    def counting_write(data: bytes) -> None:
        writes.append(data)
        original_write(data)

    bob_out.write = counting_write  # type: ignore[method-assign]
    say(alice, *[f"line {n}" for n in range(100)])
    room.clock.advance(0)
    assert len(writes) == 1
    assert [line.rsplit(" ", 1)[-1] for line in lines(bob_out)] == [
        str(n) for n in range(100)
    ]
    writes.clear()
    say(alice, *["y" * 1000] * 200)  # About 200 KiB as it goes out: several batches.
    room.clock.advance(0)
    assert 1 < len(writes) < 10
    assert all(len(write) < chat_room.MAX_BATCH + 1100 for write in writes)
    assert len(lines(bob_out)) == 200
    take(alice_out)
    say(alice, "before", "/who", "/nick alice", "after")
    stamp = room.stamp()
    renamed = "* guest-1 is now known as alice"
    assert lines(alice_out) == [
        f"[{stamp}] <guest-1> before",
        "* 2 in #lobby:",
        f"*   guest-1 (since {stamp})",
        f"*   guest-2 (since {stamp})",
        renamed,
        f"[{stamp}] <alice> after",
    ]
    assert lines(bob_out) == [
        f"[{stamp}] <guest-1> before",
        renamed,
        f"[{stamp}] <alice> after",
    ]


@pytest.mark.parametrize(
    "options",
    [{"history": -1}, {"announce_limit": -1}, {"arrival_grace": -1}],
)
def test_invalid_chat_options(options: dict[str, Any]) -> None:
    """Bad options of the chat are refused."""
    with pytest.raises(ValueError, match="must be >= 0"):
        make_chat(**options)


@pytest.mark.parametrize(
    "options", [{"max_send_queue": 0}, {"flood_rate": -1}, {"flood_burst": 0}]
)
def test_invalid_server_options(options: dict[str, Any]) -> None:
    """Bad options of the chat's server are refused."""
    with pytest.raises(ValueError, match="max_send_queue must be"):
        ChatFactory(**options)


# A model-based test of the whole room.

MESSAGE = re.compile(r"\] <[^>]+> (m\d+)(?: |$)")


class ChatRoomMachine(RuleBasedStateMachine):
    """
    Clients connect, rename, move between rooms, talk, stall, resume and leave in any
    order while the clock moves. After every step: the nick registry is exactly the
    live clients, every live client has received every message sent in its room while
    it was there exactly once and in order and nothing from other rooms, only stalled
    clients are ever dropped, no queue passes the bound, and the rooms hold exactly
    the live clients (no room keeps one that left, none but the default is empty).
    """

    BOUND = 160  # About four message lines, so drops happen within a run.

    def __init__(self) -> None:
        super().__init__()
        self.room = ChatHarness(max_send_queue=self.BOUND)
        self.live: dict[int, tuple[ChatProtocol, StringTransportWithDisconnection]] = {}
        self.expected: dict[int, list[str]] = {}
        self.received: dict[int, list[str]] = {}
        self.stalled: set[int] = set()
        self.room_of: dict[int, str] = {}
        self.next_client = 0
        self.next_message = 0

    def pick(self, data: st.DataObject) -> int:
        return data.draw(st.sampled_from(sorted(self.live)))

    @rule()
    def connect(self) -> None:
        client = self.next_client
        self.next_client += 1
        self.live[client] = self.room.join()
        self.room_of[client] = "#lobby"
        self.expected[client] = []
        self.received[client] = []

    @precondition(lambda self: self.live)
    @rule(data=st.data())
    def send(self, data: st.DataObject) -> None:
        sender = self.pick(data)
        text = f"m{self.next_message}"
        self.next_message += 1
        for client in self.live:
            if self.room_of[client] == self.room_of[sender]:
                self.expected[client].append(text)
        say(self.live[sender][0], text)

    @precondition(lambda self: self.live)
    @rule(data=st.data(), name=st.sampled_from(["#lobby", "#a", "#B", "#b"]))
    def join_room(self, data: st.DataObject, name: str) -> None:
        client = self.pick(data)
        self.room_of[client] = name.lower()
        say(self.live[client][0], f"/join {name}")

    @precondition(lambda self: self.live)
    @rule(data=st.data())
    def part(self, data: st.DataObject) -> None:
        client = self.pick(data)
        self.room_of[client] = "#lobby"
        say(self.live[client][0], "/part")

    @precondition(lambda self: self.live)
    @rule(data=st.data(), nick=st.sampled_from(["ann", "Ann", "bob", "guest-1", "x"]))
    def rename(self, data: st.DataObject, nick: str) -> None:
        say(self.live[self.pick(data)][0], f"/nick {nick}")

    @precondition(lambda self: self.live)
    @rule(data=st.data())
    def stall(self, data: st.DataObject) -> None:
        client = self.pick(data)
        if client not in self.stalled:
            self.stalled.add(client)
            self.live[client][0].pauseProducing()

    @precondition(lambda self: self.stalled)
    @rule(data=st.data())
    def resume(self, data: st.DataObject) -> None:
        client = data.draw(st.sampled_from(sorted(self.stalled)))
        self.stalled.discard(client)
        self.live[client][0].resumeProducing()

    @precondition(lambda self: self.live)
    @rule(data=st.data())
    def disconnect(self, data: st.DataObject) -> None:
        client = self.pick(data)
        self.live.pop(client)[1].loseConnection()
        self.stalled.discard(client)

    @rule(seconds=st.floats(0, 100000))
    def advance_clock(self, seconds: float) -> None:
        self.room.clock.advance(seconds)

    @rule()
    def end_turn(self) -> None:
        """The reactor turn ends: everything posted so far is delivered."""
        self.room.clock.advance(0)
        self._read_and_reap()
        for client in self.live:
            if client not in self.stalled:
                assert self.received[client] == self.expected[client]

    def _read_and_reap(self) -> None:
        # Reads what was written without ending the turn: several steps may happen
        # in one turn, as several reads do in one reactor iteration.
        members = set(self.room.chat.members.values())
        for client, (protocol, transport) in list(self.live.items()):
            if protocol not in members:
                assert client in self.stalled, "a reading client was dropped"
                assert transport.disconnected
                event("a stalled client was dropped")
                del self.live[client]
                self.stalled.discard(client)
                continue
            for line in take_now(transport).decode().split("\r\n")[:-1]:
                match = MESSAGE.search(line)
                if match:
                    self.received[client].append(match[1])

    @invariant()
    def room_is_consistent(self) -> None:
        self._read_and_reap()
        # The nick registry is exactly the live clients, keyed by folded nick, and
        # each is in the room the model says.
        members = self.room.chat.members
        for client, (protocol, _) in self.live.items():
            assert protocol.room is not None
            assert protocol.room.key == self.room_of[client]
        assert sorted(map(id, members.values())) == sorted(
            id(protocol) for protocol, _ in self.live.values()
        )
        assert all(key == p.nick.casefold() for key, p in members.items())
        rooms = self.room.chat.rooms
        in_rooms = [id(member) for room in rooms.values() for member in room.members]
        assert sorted(in_rooms) == sorted(map(id, members.values()))
        assert all(room.members for key, room in rooms.items() if key != "#lobby")
        for client, (protocol, _) in self.live.items():
            # Messages of its room while it was there, once, in order; the rest of
            # them may still wait for the end of the turn.
            if client not in self.stalled:
                received, expected = self.received[client], self.expected[client]
                assert received == expected[: len(received)]
            # No queue beyond the bound.
            assert protocol._queued_bytes <= self.BOUND


ChatRoomMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=40, deadline=None
)
test_chat_room_model = ChatRoomMachine.TestCase


# Real sockets on 127.0.0.1.


class LineClient(Protocol):
    """A chat client that keeps the lines it receives and can wait for them."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.messages: list[str] = []
        self._buffer = b""
        self._waiting: list[tuple[Callable[[], bool], Deferred[None]]] = []
        self.closed: Deferred[None] = Deferred()

    def dataReceived(self, data: bytes) -> None:
        *complete, self._buffer = (self._buffer + data).split(b"\r\n")
        for raw in complete:
            line = raw.decode()
            self.lines.append(line)
            if match := MESSAGE.search(line):
                self.messages.append(match[1])
        for entry in list(self._waiting):
            if entry[0]():
                self._waiting.remove(entry)
                entry[1].callback(None)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.closed.callback(None)

    def until(self, condition: Callable[[], bool]) -> Deferred[None]:
        """Fires once C{condition} holds, checked as lines arrive."""
        waiting: Deferred[None] = Deferred()
        if condition():
            waiting.callback(None)
        else:
            self._waiting.append((condition, waiting))
        return waiting

    def until_messages(self, count: int) -> Deferred[None]:
        return self.until(lambda: len(self.messages) >= count)

    def until_lines(self, count: int) -> Deferred[None]:
        return self.until(lambda: len(self.lines) >= count)

    def send(self, *texts: str) -> None:
        assert self.transport is not None
        self.transport.write("".join(f"{text}\n" for text in texts).encode())


async def join(reactor: Any, port: IListeningPort, client: LineClient) -> LineClient:
    endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port_of(port))
    await connectProtocol(endpoint, client)
    await client.until(lambda: bool(client.lines)).addTimeout(30, reactor)
    return client


async def leave_all(reactor: Any, clients: list[LineClient]) -> None:
    for client in clients:
        assert client.transport is not None
        client.transport.loseConnection()
    await DeferredList([client.closed for client in clients]).addTimeout(30, reactor)


@pytest_twisted.ensureDeferred
async def test_burst_to_200_clients(reactor: Any) -> None:
    """100 messages sent at once reach each of 200 clients exactly once, in order."""
    factory = ChatFactory(flood_rate=0)
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    try:
        listeners = [await join(reactor, port, LineClient()) for _ in range(200)]
        sender = await join(reactor, port, LineClient())
        sender.send(*(f"m{n}" for n in range(100)))
        everyone = [*listeners, sender]
        await DeferredList(
            [client.until_messages(100) for client in everyone]
        ).addTimeout(60, reactor)
        expected = [f"m{n}" for n in range(100)]
        assert all(client.messages == expected for client in everyone)
        await leave_all(reactor, everyone)
    finally:
        await stop(port)


@pytest_twisted.ensureDeferred
async def test_flood_under_low_rate_delivered_in_order(reactor: Any) -> None:
    """200 lines sent at once under a 100 lines/s limit all arrive, in order."""
    factory = ChatFactory(flood_rate=100, flood_burst=10)
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    try:
        flooder = await join(reactor, port, LineClient())
        watcher = await join(reactor, port, LineClient())
        flooder.send(*(f"m{n}" for n in range(200)))
        await watcher.until_messages(200).addTimeout(60, reactor)
        assert watcher.messages == [f"m{n}" for n in range(200)]
        await leave_all(reactor, [flooder, watcher])
    finally:
        await stop(port)


@pytest_twisted.ensureDeferred
async def test_non_reading_client_dropped_others_continue(reactor: Any) -> None:
    """A client that stops reading is dropped; the others get every message."""
    factory = ChatFactory(flood_rate=0)
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    try:
        sleeper = await join(reactor, port, LineClient())
        assert sleeper.transport is not None
        sleeper.transport.pauseProducing()  # type: ignore[attr-defined]
        reader = await join(reactor, port, LineClient())
        sender = await join(reactor, port, LineClient())
        # 24 MB of broadcast, far more than the kernel buffers between the server and
        # the sleeper plus its 1 MiB queue. The sender waits for the reader after each
        # batch, so the reader (in this same process) never lags far behind.
        count, batch = 24000, 200
        for start in range(0, count, batch):
            sender.send(*(f"m{n} {'x' * 980}" for n in range(start, start + batch)))
            await reader.until_messages(start + batch).addTimeout(60, reactor)
        assert reader.messages == [f"m{n}" for n in range(count)]
        assert "* guest-1 dropped (send queue exceeded)" in reader.lines
        assert [m.nick for m in local_chat(factory).members.values()] == [
            "guest-2",
            "guest-3",
        ]
        await leave_all(reactor, [reader, sender])
        # Only a client that reads can notice that the server has aborted it.
        sleeper.transport.resumeProducing()  # type: ignore[attr-defined]
        await sleeper.closed.addTimeout(30, reactor)
    finally:
        await stop(port)


class CountingWrapper(ProtocolWrapper):
    """Counts the server's write calls and bytes on one connection."""

    factory: CountingFactory

    def write(self, data: bytes) -> None:
        self.factory.writes += 1
        self.factory.written += len(data)
        super().write(data)

    def writeSequence(self, data: Iterable[bytes]) -> None:
        chunks = list(data)
        self.factory.writes += 1
        self.factory.written += sum(map(len, chunks))
        super().writeSequence(chunks)


class CountingFactory(WrappingFactory):
    """A server factory whose connections count what the server writes."""

    protocol = CountingWrapper

    def __init__(self, wrapped: ChatFactory) -> None:
        super().__init__(wrapped)
        self.writes = 0
        self.written = 0


async def churn(reactor: Any, count: int) -> tuple[int, int]:
    """
    Connect C{count} clients to one chat room until each is welcomed, then close them
    all until the server has no connection left.

    @return: the server's write calls and bytes written.
    """
    chat = ChatFactory(make_chat(arrival_grace=0))
    counting = CountingFactory(chat)
    port = reactor.listenTCP(0, counting, interface="127.0.0.1", backlog=count)
    try:
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port_of(port))
        clients = [LineClient() for _ in range(count)]
        await DeferredList([connectProtocol(endpoint, c) for c in clients])
        await DeferredList([c.until_lines(1) for c in clients]).addTimeout(120, reactor)
        assert all(c.lines[0].startswith("* Welcome, guest-") for c in clients)
        assert len(local_chat(chat).rooms["#lobby"]) == count
        await leave_all(reactor, clients)
        await until(reactor, lambda: not chat.connections)
        return counting.writes, counting.written
    finally:
        await stop(port)


@pytest_twisted.ensureDeferred
async def test_join_storm_costs_grow_linearly(reactor: Any) -> None:
    """
    2000 clients join one room, each announced at once, and each is welcomed; the
    server's writes and bytes for 2000 are about twice those for 1000, not four
    times (announcing every join to everyone makes them four times).
    """
    writes_1000, bytes_1000 = await churn(reactor, 1000)
    writes_2000, bytes_2000 = await churn(reactor, 2000)
    assert writes_2000 < 2.5 * writes_1000
    assert bytes_2000 < 2.5 * bytes_1000


def tutorial_chat_client(port: int) -> list[bytes]:
    """The tutorial's client: say it is ready, print what comes until its line."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"I'm ready.\n")
        received = b""
        while b"I'm ready." not in received:
            received += sock.recv(1024)
        return received.split(b"\r\n")


@pytest_twisted.ensureDeferred
async def test_tutorial_chat_client(reactor: Any) -> None:
    """The tutorial's chat client works unchanged and sees its own line come back."""
    port = reactor.listenTCP(0, ChatFactory(), interface="127.0.0.1")
    try:
        received = await deferToThread(tutorial_chat_client, port_of(port))
        assert received[0].startswith(b"* Welcome, guest-1!")
        assert re.fullmatch(rb"\[[\d/ :]+\] <guest-1> I'm ready\.", received[1])
    finally:
        await stop(port)
