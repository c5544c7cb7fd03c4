"""The IRC wire layer: messages read and written, with IRCv3 tags."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from twisted_tcp._framing import LineFramer
from twisted_tcp.chat.irc.message import (
    MalformedMessageError,
    Message,
    parse,
    split_line,
)

WIRE = (
    b"@time=2020-01-01T00:00:00.000Z;+x=a\\sb\\:c :ann!a@h PRIVMSG #rust :hi there\r\n"
    b"NICK bob\r\n"
    b"USER u 0 * :Real Name\n"
    b"PING :tok en\r\n"
)


def _messages(data: bytes, chunks: list[int]) -> list[Message]:
    framer = LineFramer(8192)
    frames = []
    start = 0
    for end in [*chunks, len(data)]:
        frames += framer.feed(data[start:end])
        start = max(start, end)
    return [parse(frame.decode()) for frame in frames if isinstance(frame, bytes)]


EXPECTED = [
    Message(
        "PRIVMSG",
        ("#rust", "hi there"),
        "ann!a@h",
        {"time": "2020-01-01T00:00:00.000Z", "+x": "a b;c"},
    ),
    Message("NICK", ("bob",)),
    Message("USER", ("u", "0", "*", "Real Name")),
    Message("PING", ("tok en",)),
]


def test_whole() -> None:
    """Lines read whole give each message's tags, source, command and parameters."""
    assert _messages(WIRE, []) == EXPECTED


def test_byte_by_byte() -> None:
    """Lines read a byte at a time give the same messages."""
    assert _messages(WIRE, list(range(len(WIRE)))) == EXPECTED


@given(st.lists(st.integers(0, len(WIRE)), max_size=20).map(sorted))
def test_random_splits(chunks: list[int]) -> None:
    """Lines read at any split points give the same messages."""
    assert _messages(WIRE, chunks) == EXPECTED


@given(
    st.text(st.characters(blacklist_characters="\r\n\0 :@"), min_size=1).filter(
        lambda s: s.strip() == s
    ),
    st.text(st.characters(blacklist_characters="\r\n\0")),
    st.dictionaries(
        st.from_regex(r"\+?[a-z][a-z-]{0,9}", fullmatch=True),
        st.text(st.characters(blacklist_characters="\0")),
        max_size=3,
    ),
)
def test_round_trip(word: str, trailing: str, tags: dict[str, str]) -> None:
    """What is written is read back the same, whatever the texts and tag values."""
    message = Message("PRIVMSG", (word, trailing), "srv", tags)
    line = message.serialise()
    assert parse(line) == message


def test_case_and_spaces() -> None:
    """Commands are upper-cased; extra spaces between parameters are ignored."""
    assert parse("  privmsg   #a   :x  y") == Message("PRIVMSG", ("#a", "x  y"))
    assert parse("JOIN #a,#b key") == Message("JOIN", ("#a,#b", "key"))
    assert parse("QUIT :") == Message("QUIT", ("",))


@pytest.mark.parametrize("line", ["", "   ", ":only-a-source", "@a=b", "!!! x", "12 x"])
def test_malformed(line: str) -> None:
    """A line without a command is refused in one sentence."""
    with pytest.raises(MalformedMessageError):
        parse(line)


def test_too_many_parameters() -> None:
    """More than 15 parameters is no message."""
    with pytest.raises(MalformedMessageError):
        parse("X " + " ".join("p" * 16))


def test_split_line() -> None:
    """A raw line's tags are told from the rest, each counted against its limit."""
    assert split_line(b"@a=b  PING x") == (b"@a=b", b"PING x")
    assert split_line(b"PING x") == (b"", b"PING x")
