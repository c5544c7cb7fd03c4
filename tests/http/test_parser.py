"""
Tests for L{twisted_tcp.http.parser}: the status line, the header fields, which
framing a body has, and handing a body over. Every case is fed whole, byte by byte
and at random split points, and must give the same events or the same error class.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from twisted_tcp.http.errors import (
    EmptyReplyError,
    MalformedResponseError,
)
from twisted_tcp.http.parser import (
    MAX_HEAD,
    Body,
    Head,
    RawBody,
    ResponseParser,
)

from ..support import byte_by_byte, splits
from .parsing import body_of, every_way, head_of, outcome

# Status line.


def test_content_length_response() -> None:
    """A plain response: head, body of Content-Length bytes, end."""
    result = every_way(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX: y\r\n\r\nhello")
    assert head_of(result) == (200, "OK", [("Content-Length", "5"), ("X", "y")], 5)
    assert body_of(result) == b"hello"


def test_missing_reason_phrase_is_fine() -> None:
    """A status line without a reason phrase is valid."""
    for line in (b"HTTP/1.1 200", b"HTTP/1.1 200 "):
        result = every_way(line + b"\r\nContent-Length: 0\r\n\r\n")
        assert head_of(result)[:2] == (200, "")


def test_http_10_and_lf_only_lines() -> None:
    """HTTP/1.0 is understood, and so are lines ending in a bare LF."""
    result = every_way(b"HTTP/1.0 200 OK\nContent-Length: 2\n\nok")
    assert body_of(result) == b"ok"


@pytest.mark.parametrize(
    "status_line",
    [
        b"HTTP/1.1 99 Low",
        b"HTTP/1.1 1000 High",
        b"HTTP/1.10 200 OK",
        b"HTTP/2.0 200 OK",
        b"HTTP/1.1 2OO OK",
        b"HTTP/1.1  200 OK",
        b"http/1.1 200 OK",
        b"SSH-2.0-OpenSSH_9.2",
        b"\x16\x03\x01\x02\x00",
        "HTTP/1.1 ٢٠٠ OK".encode(),
        b"HTTP/1.1 200 OK\x1b[2J",
    ],
)
def test_bad_status_lines(status_line: bytes) -> None:
    """Anything but HTTP/1.x, a 3-digit ASCII status and a clean reason is malformed."""
    assert every_way(status_line + b"\r\n\r\n") is MalformedResponseError


# Header fields.


@pytest.mark.parametrize(
    "field",
    [
        b"NoColonHere",
        b"Name : value",
        b"Na me: value",
        b"X: a\x00b",
        b"X: a\rb",
        b"X: a\x1bb",
        b": empty-name",
    ],
)
def test_bad_header_fields(field: bytes) -> None:
    """No colon, space before the colon, NUL, bare CR or controls: malformed."""
    response = b"HTTP/1.1 200 OK\r\n" + field + b"\r\nContent-Length: 0\r\n\r\n"
    assert every_way(response) is MalformedResponseError


def test_obs_fold_replaced_by_space() -> None:
    """A folded header line is unfolded with a space, as RFC 9112 §5.2 asks."""
    response = b"HTTP/1.1 200 OK\r\nX: first\r\n  second\r\nContent-Length: 0\r\n\r\n"
    assert head_of(every_way(response))[2][0] == ("X", "first second")


def test_header_line_over_8k() -> None:
    """A header line over 8 KiB is malformed, whether or not its end arrived."""
    line = b"X: " + b"a" * (8 * 1024)
    assert (
        every_way(b"HTTP/1.1 200 OK\r\n" + line + b"\r\n\r\n") is MalformedResponseError
    )
    assert every_way(b"HTTP/1.1 200 OK\r\n" + line + b"aaaa", eof=False) is (
        MalformedResponseError
    )


def test_head_over_64k() -> None:
    """A head over 64 KiB in total is malformed, even made of short lines."""
    fields = b"".join(b"X-%d: %s\r\n" % (n, b"v" * 7000) for n in range(10))
    assert len(fields) > MAX_HEAD
    assert (
        every_way(b"HTTP/1.1 200 OK\r\n" + fields + b"\r\n") is MalformedResponseError
    )


def test_over_100_headers() -> None:
    """More than 100 header fields is malformed; 100 is fine."""

    def response(count: int) -> bytes:
        fields = b"".join(b"X-%d: v\r\n" % n for n in range(count - 1))
        return b"HTTP/1.1 200 OK\r\n" + fields + b"Content-Length: 0\r\n\r\n"

    assert head_of(every_way(response(100)))[0] == 200
    assert every_way(response(101)) is MalformedResponseError


def test_interim_responses_skipped() -> None:
    """Up to 10 interim 1xx responses are skipped; the 11th is refused."""
    interim = b"HTTP/1.1 100 Continue\r\n\r\n" * 9 + b"HTTP/1.1 103 Early Hints\r\n\r\n"
    final = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"
    assert body_of(every_way(interim + final)) == b"x"
    assert every_way(interim + interim[:25] + final) is MalformedResponseError


def test_ten_thousand_interim_responses() -> None:
    """10 000 '100 Continue' responses are refused after the tenth."""
    flood = b"HTTP/1.1 100 Continue\r\n\r\n" * 10000
    assert outcome([flood]) is MalformedResponseError
    assert outcome([flood[:2000], flood[2000:]]) is MalformedResponseError


def test_101_refused() -> None:
    """A protocol switch that was never asked for is malformed."""
    assert every_way(b"HTTP/1.1 101 Switching\r\n\r\n") is MalformedResponseError


# Content-Length.


@pytest.mark.parametrize(
    "value",
    [
        b"+5",
        b"-1",
        b"0x5",
        b"1_0",
        "٥".encode(),
        b"5, 6",
        b"1" * 21,
        b"",
        b"5 5",
        b" ",
        b"5,",
        b"1e3",
    ],
)
def test_bad_content_length(value: bytes) -> None:
    """Content-Length is ASCII digits only, bounded, and consistent."""
    response = b"HTTP/1.1 200 OK\r\nContent-Length: " + value + b"\r\n\r\nhello"
    assert every_way(response) is MalformedResponseError


def test_two_different_content_lengths() -> None:
    """Two Content-Length fields that disagree are malformed."""
    response = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello"
    assert every_way(response) is MalformedResponseError


def test_repeated_equal_content_length() -> None:
    """'5, 5' and a repeated equal field are one length."""
    for fields in (
        b"Content-Length: 5, 5\r\n",
        b"Content-Length: 5\r\ncontent-length: 5\r\n",
    ):
        result = every_way(b"HTTP/1.1 200 OK\r\n" + fields + b"\r\nhello")
        assert body_of(result) == b"hello"


def test_204_with_content_length_has_no_body() -> None:
    """204 and 304 have no body, whatever Content-Length says."""
    for status in (b"204 No Content", b"304 Not Modified"):
        result = every_way(b"HTTP/1.1 " + status + b"\r\nContent-Length: 5\r\n\r\n")
        assert body_of(result) == b""


# Empty and truncated responses.


def test_empty_reply() -> None:
    """A connection closed without a byte is an empty reply."""
    assert outcome([]) is EmptyReplyError


def test_truncated_head() -> None:
    """A connection closed inside the head is a malformed response."""
    assert every_way(b"HTTP/1.1 200 OK\r\nContent-Len") is MalformedResponseError


def test_raw_head_kept() -> None:
    """The head's bytes are kept for -i and -D, with CRLF line ends."""
    parser = ResponseParser()
    [head, *_] = parser.feed(b"HTTP/1.1 200 OK\nA: b\n\n")
    assert isinstance(head, Head)
    assert head.head.raw == b"HTTP/1.1 200 OK\r\nA: b\r\n\r\n"


# Properties.

responses = st.one_of(
    st.binary(max_size=300),
    st.lists(
        st.sampled_from(
            [
                b"HTTP/1.1 200 OK\r\n",
                b"HTTP/1.1 100 Continue\r\n\r\n",
                b"\r\n",
                b"Content-Length: 3\r\n",
                b"Transfer-Encoding: chunked\r\n",
                b"3\r\nabc\r\n",
                b"0\r\n\r\n",
                b"X: y\r\n",
                b"abc",
                b"\r",
                b"\n",
                b" folded\r\n",
                b"5;e\r\n",
            ]
        ),
        max_size=12,
    ).map(b"".join),
)


@given(response=responses, data=st.data(), eof=st.booleans())
def test_same_outcome_whatever_the_fragmentation(
    response: bytes, data: st.DataObject, eof: bool
) -> None:
    """Whole, byte by byte, or at random splits: the same events or error class."""
    whole = outcome([response], eof)
    assert outcome(byte_by_byte(response), eof) == whole
    assert outcome(data.draw(splits(response)), eof) == whole


@given(st.binary(max_size=2000))
def test_arbitrary_bytes_raise_only_our_errors(response: bytes) -> None:
    """No input makes the parser raise anything but its own errors."""
    outcome([response])


def test_identity_body_handed_over_after_the_head() -> None:
    """Once the head and the bytes read with it are parsed, the rest of a
    Content-Length body can be handed over: how much remains, and no more events."""
    parser = ResponseParser()
    events = parser.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
    assert [type(event) for event in events] == [Head, Body]
    assert parser.hand_over_body() == RawBody(7)
    assert parser.feed(b"defghij") == []
    assert parser.finish() == []


def test_close_delimited_body_handed_over_until_close() -> None:
    """A body without a length is handed over as 'until the connection closes'."""
    parser = ResponseParser()
    parser.feed(b"HTTP/1.1 200 OK\r\n\r\n")
    assert parser.hand_over_body() == RawBody(None)


@pytest.mark.parametrize(
    "received",
    [
        b"HTTP/1.1 200 OK\r\nContent-Le",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
        b"HTTP/1.1 204 No Content\r\n\r\n",
    ],
    ids=["inside the head", "chunked", "no body"],
)
def test_nothing_handed_over_but_an_identity_body(received: bytes) -> None:
    """Inside the head, in a chunked body, or after a complete response, nothing is
    handed over and parsing goes on as before."""
    parser = ResponseParser()
    parser.feed(received)
    assert parser.hand_over_body() is None
