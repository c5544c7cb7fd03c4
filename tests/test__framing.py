"""
Tests for L{twisted_tcp._framing}: line and raw framing, the long-line rule, and the
same frames whatever the fragmentation of the input.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from twisted_tcp._framing import (
    LINE_TOO_LONG,
    Frame,
    Framer,
    LineFramer,
    RawFramer,
    make_framer,
)

from .support import byte_by_byte, splits


def frames_of(framer: Framer, chunks: list[bytes], finish: bool = True) -> list[Frame]:
    """Every frame C{framer} yields for C{chunks}, then for the end of the stream."""
    frames: list[Frame] = []
    for chunk in chunks:
        frames.extend(framer.feed(chunk))
    if finish:
        frames.extend(framer.finish())
    return frames


def test_lf_ends_a_line() -> None:
    """A line ends at LF and the LF is not part of it."""
    assert LineFramer(10).feed(b"one\ntwo\n") == [b"one", b"two"]


def test_one_cr_before_lf_is_dropped() -> None:
    """One CR right before the LF is part of the terminator; a second CR is not."""
    assert LineFramer(10).feed(b"a\r\nb\r\r\n") == [b"a", b"b\r"]


def test_lone_cr_is_data() -> None:
    """A CR not followed by LF stays in the line (it is no line end)."""
    assert LineFramer(10).feed(b"a\rb\n") == [b"a\rb"]


def test_empty_lines() -> None:
    """Empty lines are frames too; the protocol decides what they mean."""
    assert LineFramer(10).feed(b"\n\r\n") == [b"", b""]


def test_partial_line_waits_for_lf() -> None:
    """An unterminated line is held until its LF arrives."""
    framer = LineFramer(10)
    assert framer.feed(b"hel") == []
    assert framer.feed(b"lo\nwo") == [b"hello"]
    assert framer.feed(b"rld\n") == [b"world"]


def test_finish_yields_unterminated_line() -> None:
    """At end of stream, an unterminated last line is a frame, minus a final CR."""
    framer = LineFramer(10)
    framer.feed(b"last\r")
    assert framer.finish() == [b"last"]
    assert framer.finish() == []


def test_line_at_limit_is_accepted() -> None:
    """A line of exactly max_line bytes is accepted, with or without CR."""
    assert LineFramer(3).feed(b"abc\nabc\r\n") == [b"abc", b"abc"]


def test_line_over_limit_reported_once_and_discarded() -> None:
    """A long line is reported once, its rest dropped up to the LF; then lines flow."""
    framer = LineFramer(3)
    assert framer.feed(b"abcd") == [LINE_TOO_LONG]
    assert framer.feed(b"efgh" * 1000) == []
    assert framer.feed(b"ij\nok\n") == [b"ok"]


def test_long_line_reported_before_its_end() -> None:
    """A long line is reported as soon as it is too long, so memory stays bounded."""
    framer = LineFramer(100)
    assert framer.feed(b"x" * 102) == [LINE_TOO_LONG]
    assert framer._buffer == b""


def test_cr_may_be_the_byte_after_the_limit() -> None:
    """max_line bytes then a CR is not too long yet: an LF may follow."""
    framer = LineFramer(3)
    assert framer.feed(b"abc\r") == []
    assert framer.feed(b"\n") == [b"abc"]


def test_complete_line_over_limit_in_one_chunk() -> None:
    """A whole over-long line in one chunk is reported, and the next line survives."""
    assert LineFramer(3).feed(b"abcdef\nxy\n") == [LINE_TOO_LONG, b"xy"]


def test_finish_after_discarding() -> None:
    """The end of a discarded line at end of stream yields nothing more."""
    framer = LineFramer(3)
    assert framer.feed(b"abcdefg") == [LINE_TOO_LONG]
    assert framer.finish() == []


def test_raw_chunk_is_a_message() -> None:
    """Under raw framing each chunk is one message, whatever bytes it holds."""
    framer = RawFramer(10)
    assert framer.feed(b"a\nb") == [b"a\nb"]
    assert framer.feed(b"") == []
    assert framer.finish() == []


def test_raw_chunk_over_limit() -> None:
    """A raw chunk over max_line is reported as too long."""
    assert RawFramer(3).feed(b"abcd") == [LINE_TOO_LONG]


def test_make_framer() -> None:
    """make_framer builds the named framer and refuses unknown names."""
    assert isinstance(make_framer("line", 5), LineFramer)
    assert isinstance(make_framer("raw", 5), RawFramer)
    with pytest.raises(ValueError, match="unknown framing"):
        make_framer("words", 5)  # type: ignore[arg-type]


def test_too_long_repr() -> None:
    """The long-line marker says what it is in test failure output."""
    assert repr(LINE_TOO_LONG) == "LINE_TOO_LONG"


line_streams = st.lists(
    st.one_of(
        st.binary(max_size=12),
        st.sampled_from([b"\n", b"\r\n", b"\r", b"\r\r\n", b"x" * 9, b"\xff\xfe"]),
    ),
    max_size=30,
).map(b"".join)


@given(stream=line_streams, limit=st.integers(1, 10), data=st.data())
def test_line_framing_independent_of_fragmentation(
    stream: bytes, limit: int, data: st.DataObject
) -> None:
    """Whole, byte by byte, and at random split points, the frames are the same."""
    whole = frames_of(LineFramer(limit), [stream])
    assert frames_of(LineFramer(limit), byte_by_byte(stream)) == whole
    assert frames_of(LineFramer(limit), data.draw(splits(stream))) == whole


@given(stream=line_streams, limit=st.integers(1, 10))
def test_line_framing_matches_a_model(stream: bytes, limit: int) -> None:
    """The frames equal a direct reading of the rules on the whole stream."""
    expected: list[Frame] = []
    lines = stream.split(b"\n")
    for index, line in enumerate(lines):
        last = index == len(lines) - 1
        if last and not line:
            break
        if line.endswith(b"\r"):
            line = line[:-1]
        expected.append(line if len(line) <= limit else LINE_TOO_LONG)
    assert frames_of(LineFramer(limit), [stream]) == expected


@given(stream=line_streams, limit=st.integers(1, 10), data=st.data())
def test_line_framing_memory_bounded(
    stream: bytes, limit: int, data: st.DataObject
) -> None:
    """The framer never holds more than max_line + 1 bytes of a partial line."""
    framer = LineFramer(limit)
    for chunk in data.draw(splits(stream)):
        framer.feed(chunk)
        assert len(framer._buffer) <= limit + 1
