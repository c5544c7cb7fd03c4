"""
Tests for L{twisted_tcp.greet}: welcome, greetings, the exit word, name rules, hostile
input, the first-line deadline, and the tutorial's raw client over a real socket.
"""

from __future__ import annotations

from typing import Any

import pytest
import pytest_twisted
from hypothesis import given
from hypothesis import strategies as st
from twisted.internet.task import Clock
from twisted.internet.threads import deferToThread

from twisted_tcp.greet import GreetingFactory

from .support import (
    blocking_exchange,
    byte_by_byte,
    clock_of,
    connect,
    feed,
    port_of,
    splits,
    stop,
    take,
)


def greeter(**options: Any) -> GreetingFactory:
    return GreetingFactory(clock=Clock(), **options)


def session(chunks: list[bytes], **options: Any) -> bytes:
    """Everything the server writes to a client that sends C{chunks}."""
    protocol, transport = connect(greeter(**options))
    feed(protocol, chunks)
    return transport.value()


def test_welcome_on_connect() -> None:
    """A new client is welcomed at once."""
    assert session([]) == b"Welcome\r\n"


def test_greets_each_name() -> None:
    """Each line is a name answered with the greeting."""
    assert (
        session([b"Alice\nBob\r\n"]) == b"Welcome\r\nHello, Alice!\r\nHello, Bob!\r\n"
    )


def test_surrounding_whitespace_stripped() -> None:
    """Whitespace around a name is not part of it."""
    assert session([b"  \tAlice \n"]).endswith(b"Hello, Alice!\r\n")


@pytest.mark.parametrize("line", [b"\n", b"   \n", b"\x1b\x07\n", b"\xe2\x80\x8b\n"])
def test_empty_name(line: bytes) -> None:
    """A name that is empty once cleaned gets an error; the session goes on."""
    assert session([line, b"Al\n"]) == b"Welcome\r\nerror: empty name\r\nHello, Al!\r\n"


def test_name_length_limit() -> None:
    """64 characters are greeted; 65 are too long."""
    ok, too_long = "é" * 64, "é" * 65
    out = session([f"{ok}\n{too_long}\n".encode()])
    assert out == f"Welcome\r\nHello, {ok}!\r\nerror: name too long\r\n".encode()


def test_control_characters_removed() -> None:
    """ESC sequences, bidi overrides and other controls never reach the reply."""
    out = session([b"\x1b[31mEve\x1b[0m\xe2\x80\xae\x7f\n"])
    assert out.endswith(b"Hello, [31mEve[0m!\r\n")
    assert b"\x1b" not in out and b"\x7f" not in out


def test_invalid_utf8_replaced() -> None:
    """Invalid bytes in a name become U+FFFD instead of breaking the connection."""
    assert session([b"A\xffB\n"]).endswith("Hello, A\ufffdB!\r\n".encode())


def test_multibyte_name_split_across_packets() -> None:
    """A name arriving one byte at a time is decoded whole."""
    out = session(byte_by_byte("张伟\n".encode()))
    assert out == "Welcome\r\nHello, 张伟!\r\n".encode()


@pytest.mark.parametrize("word", [b"exit", b"EXIT", b"  Exit \r"])
def test_exit_word_says_bye_and_closes(word: bytes) -> None:
    """The exit word in any case, with whitespace around it, gets Bye and a close."""
    protocol, transport = connect(greeter())
    take(transport)
    protocol.dataReceived(word + b"\n")
    assert transport.value() == b"Bye\r\n"
    assert not transport.connected


def test_lines_after_exit_in_same_packet_ignored() -> None:
    """Anything after the exit word in the same packet is not answered."""
    assert session([b"Alice\nexit\nBob\nCarol\n"]) == (
        b"Welcome\r\nHello, Alice!\r\nBye\r\n"
    )


def test_long_line() -> None:
    """A line over --max-line (256) gets the long-line error and is discarded."""
    out = session([b"x" * 300 + b"\nAl\n"])
    assert out == b"Welcome\r\nerror: line too long (max 256 bytes)\r\nHello, Al!\r\n"


def test_custom_texts() -> None:
    """The welcome, greeting and exit word are options."""
    out = session(
        [b"Ann\nquit\n"],
        welcome="Hi there",
        greeting="Good day, {name}.",
        exit_word="QUIT",
    )
    assert out == b"Hi there\r\nGood day, Ann.\r\nBye\r\n"


def test_name_with_braces_is_not_a_template() -> None:
    """A name is inserted as text; braces in it are not formatted."""
    assert session([b"{name}{0}\n"]).endswith(b"Hello, {name}{0}!\r\n")


@pytest.mark.parametrize(
    "greeting", ["{}", "{0}", "{nam}", "{name!r}", "{name:>999}", "{"]
)
def test_bad_greeting_refused(greeting: str) -> None:
    """Only a plain {name} field is allowed in the greeting template."""
    with pytest.raises(ValueError, match="bad greeting"):
        greeter(greeting=greeting)


def test_blank_exit_word_refused() -> None:
    """An exit word that could never be typed is refused."""
    with pytest.raises(ValueError, match="exit word"):
        greeter(exit_word="  ")


def test_raw_framing_no_terminators() -> None:
    """Under raw framing each chunk is a name and replies carry no line end."""
    assert session([b"Alice", b"Bob", b"exit"], framing="raw") == (
        b"WelcomeHello, Alice!Hello, Bob!Bye"
    )


def test_dribbling_client_closed_at_deadline() -> None:
    """A byte every few seconds without a line end does not keep a client alive."""
    factory = greeter()
    protocol, transport = connect(factory)
    for _ in range(999):
        clock_of(factory).advance(3)
        if not transport.connected:
            break
        protocol.dataReceived(b"a")
    assert not transport.connected
    assert clock_of(factory).seconds() == 300


def test_idle_timeout_says_why_before_closing() -> None:
    """A client closed for being idle is told so first."""
    factory = greeter(idle_timeout=2.5)
    _, transport = connect(factory)
    clock_of(factory).advance(2.5)
    assert transport.value() == b"Welcome\r\n* idle for 2.5 s; closing\r\n"
    assert not transport.connected


def test_over_long_lines_do_not_count_as_activity() -> None:
    """Lines refused as too long do not restart the idle timer."""
    factory = greeter(max_line=4)
    protocol, transport = connect(factory)
    for _ in range(10):
        clock_of(factory).advance(40)
        protocol.dataReceived(b"toolong\n")
    assert not transport.connected


def test_shutdown_notice() -> None:
    """At shutdown each client is told before it is closed."""
    factory = greeter()
    _, transport = connect(factory)
    factory.shutdown()
    assert transport.value() == b"Welcome\r\n* server shutting down\r\n"


@given(
    names=st.lists(st.text(max_size=70), max_size=6),
    data=st.data(),
)
def test_answers_independent_of_fragmentation(
    names: list[str], data: st.DataObject
) -> None:
    """The session is the same whole, byte by byte, or split at random."""
    stream = b"".join(name.encode() + b"\n" for name in names)
    whole = session([stream])
    assert session(byte_by_byte(stream)) == whole
    assert session(data.draw(splits(stream))) == whole


@given(st.binary(max_size=400))
def test_hostile_bytes_never_break_the_session(stream: bytes) -> None:
    """Whatever arrives, the replies are well-formed lines of the protocol."""
    out = session([stream, b"\nfinal\n"])
    lines = out.split(b"\r\n")
    assert lines[0] == b"Welcome" and lines[-1] == b""
    assert b"\x1b" not in out
    for line in lines[1:-1]:
        assert line.startswith((b"Hello, ", b"error: ", b"Bye"))


@pytest_twisted.ensureDeferred
async def test_tutorial_raw_client(reactor: Any) -> None:
    """The tutorial's client (names without newlines, then exit) works unchanged."""
    port = reactor.listenTCP(0, GreetingFactory(framing="raw"), interface="127.0.0.1")
    try:
        steps = [None, b"Alice", b"Bob", b"Jack", b"exit"]
        replies = await deferToThread(blocking_exchange, port_of(port), steps)
        assert replies == [
            b"Welcome",
            b"Hello, Alice!",
            b"Hello, Bob!",
            b"Hello, Jack!",
            b"Bye",
        ]
    finally:
        await stop(port)
