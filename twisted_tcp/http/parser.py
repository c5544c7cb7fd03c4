"""
A strict, incremental HTTP/1.1 response parser (RFC 9112) for the HTTP client;
its rules for users are in docs/http-client.md.

It has no transport: L{ResponseParser.feed} takes bytes as they arrive and returns
events, L{ResponseParser.finish} is told the connection ended. Whatever the
fragmentation of the bytes, the events and the error class are the same. The head
is parsed here; the body by the reader for its framing (L{twisted_tcp.http.readers}).

Numbers are parsed from ASCII digits of bounded length only, never with Python's
C{int()} on raw text, which would accept C{+5}, C{1_0}, C{ 5} and non-ASCII digits.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from twisted_tcp.http.errors import (
    BadTransferEncodingError,
    EmptyReplyError,
    MalformedResponseError,
    ShortBodyError,
)
from twisted_tcp.http.readers import (
    MAX_HEADERS,
    ChunkedReader,
    CloseReader,
    LengthReader,
    ReceiveBuffer,
)

MAX_HEAD: Final = 64 * 1024
MAX_INTERIM: Final = 10
#: Content-Length digits: 18 fit any real body and can never overflow anything.
MAX_LENGTH_DIGITS: Final = 18


@dataclass
class ResponseHead:
    """The status line and header fields of a final response."""

    version: str
    status: int
    reason: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    raw: bytes = b""

    def get_all(self, name: str) -> list[str]:
        """Every value of a header field, by case-insensitive name, in order."""
        wanted = name.lower()
        return [value for key, value in self.headers if key.lower() == wanted]

    def get(self, name: str) -> str | None:
        """The first value of a header field, or C{None}."""
        values = self.get_all(name)
        return values[0] if values else None


@dataclass
class Head:
    """Event: the head of the final response has arrived."""

    head: ResponseHead
    #: Bytes of body announced by Content-Length, if any.
    length: int | None


@dataclass
class Body:
    """Event: the next bytes of the (transfer-decoded) body."""

    data: bytes


@dataclass
class End:
    """Event: the response is complete."""


Event = Head | Body | End

_STATUS_LINE = re.compile(
    rb"HTTP/1\.([0-9]) ([0-9]{3})(?: ([^\x00-\x08\x0a-\x1f\x7f]*))?"
)
_FIELD_NAME = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FIELD_VALUE_BAD = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_DIGITS = re.compile(rb"[0-9]+")


@dataclass(frozen=True)
class RawBody:
    """
    The rest of a body that L{ResponseParser.hand_over_body} gave up: C{remaining}
    bytes, or everything until the connection closes if C{None}.
    """

    remaining: int | None


def parse_content_length(values: list[str]) -> int:
    """
    The body length from every Content-Length value: each a comma-separated list of
    ASCII digits, all the same (C{5, 5} is 5); anything else is malformed.
    """
    lengths = set()
    for value in values:
        for element in value.split(","):
            digits = element.strip(" \t").encode("latin-1")
            if not _DIGITS.fullmatch(digits) or len(digits) > MAX_LENGTH_DIGITS:
                raise MalformedResponseError(f"invalid Content-Length {value!r}")
            lengths.add(int(digits))
    if len(lengths) != 1:
        raise MalformedResponseError(f"conflicting Content-Length values {values!r}")
    return lengths.pop()


class ResponseParser:
    """
    Parses one HTTP/1.1 response to a GET: skips up to L{MAX_INTERIM} interim (1xx)
    responses, then yields the head, the body (Content-Length, chunked or
    close-delimited, each read by its own L{twisted_tcp.http.readers} reader, as
    h11 does; none for 204 and
    304, nor for any answer to a HEAD request, C{bodiless}) and the end.
    """

    def __init__(self, bodiless: bool = False) -> None:
        self._bodiless = bodiless
        self._input = ReceiveBuffer()
        self._state: Callable[[list[Event]], bool] = self._status_line
        self._head_bytes = 0
        self._interim = 0
        self._head: ResponseHead | None = None
        self._raw_head: list[bytes] = []
        self._reader: LengthReader | ChunkedReader | CloseReader | None = None
        self._received_any = False
        self._done = False

    def feed(self, data: bytes) -> list[Event]:
        """Take the next bytes of the response; return the events they complete."""
        if data:
            self._received_any = True
        if self._done:
            return []
        self._input.feed(data)
        events: list[Event] = []
        while not self._done and self._state(events):
            pass
        return events

    def hand_over_body(self) -> RawBody | None:
        """
        If the rest of the response is identity body bytes (a Content-Length or
        close-delimited body, all buffered input consumed), give it up: the parser
        is done, and the caller reads the body itself (L{RawBody} says how much).
        Otherwise return C{None} and carry on as before.
        """
        if self._done or self._input.available():
            return None
        if isinstance(self._reader, LengthReader):
            remaining: int | None = self._reader.remaining
        elif isinstance(self._reader, CloseReader):
            remaining = None
        else:
            return None
        self._done = True
        self._input.clear()
        return RawBody(remaining)

    def finish(self) -> list[Event]:
        """The connection has ended: return the last events, or raise."""
        if self._done:
            return []
        if not self._received_any:
            raise EmptyReplyError("the server closed the connection without replying")
        if self._reader is None:
            raise MalformedResponseError(
                "the connection ended inside the response head"
            )
        if isinstance(self._reader, CloseReader):
            self._done = True
            return [End()]
        raise ShortBodyError("the connection ended before the body did")

    # The head.

    def _head_line(self) -> bytes | None:
        """A line of the head, counted against the head's size limit."""
        line = self._input.line("header")
        if line is not None:
            self._head_bytes += len(line) + 2
            if self._head_bytes > MAX_HEAD:
                raise MalformedResponseError(
                    f"the response head is over {MAX_HEAD} bytes"
                )
            self._raw_head.append(line)
        return line

    # States: each returns whether it made progress.

    def _status_line(self, events: list[Event]) -> bool:
        line = self._head_line()
        if line is None:
            return False
        match = _STATUS_LINE.fullmatch(line)
        if not match:
            raise MalformedResponseError(f"not an HTTP/1.x status line: {line[:80]!r}")
        status = int(match[2])
        if status < 100:
            raise MalformedResponseError(f"invalid status code {status}")
        reason = (match[3] or b"").decode("latin-1")
        self._head = ResponseHead(f"HTTP/1.{match[1].decode()}", status, reason)
        self._state = self._header_line
        return True

    def _header_line(self, events: list[Event]) -> bool:
        line = self._head_line()
        if line is None:
            return False
        head = self._head
        assert head is not None
        if line:
            self._add_field(head, line)
            return True
        return self._end_of_head(events, head)

    def _add_field(self, head: ResponseHead, line: bytes) -> None:
        if line[:1] in (b" ", b"\t"):
            # obs-fold: a user agent replaces it with a space (RFC 9112 §5.2).
            if not head.headers:
                raise MalformedResponseError("a continuation line before any header")
            folded_name, folded_value = head.headers[-1]
            unfolded = f"{folded_value} {self._field_value(line)}".strip()
            head.headers[-1] = (folded_name, unfolded)
            return
        name, colon, value = line.partition(b":")
        if not colon:
            raise MalformedResponseError(
                f"a header line without a colon: {line[:80]!r}"
            )
        if not _FIELD_NAME.fullmatch(name):
            raise MalformedResponseError(f"invalid header name {name[:80]!r}")
        if len(head.headers) >= MAX_HEADERS:
            raise MalformedResponseError(f"more than {MAX_HEADERS} header fields")
        head.headers.append((name.decode("ascii"), self._field_value(value)))

    @staticmethod
    def _field_value(value: bytes) -> str:
        if _FIELD_VALUE_BAD.search(value):
            raise MalformedResponseError("a control character in a header value")
        return value.strip(b" \t").decode("latin-1")

    def _end_of_head(self, events: list[Event], head: ResponseHead) -> bool:
        head.raw = b"".join(line + b"\r\n" for line in self._raw_head)
        self._raw_head = []
        if 100 <= head.status < 200:
            if head.status == 101:
                raise MalformedResponseError(
                    "101 Switching Protocols was not asked for"
                )
            self._interim += 1
            if self._interim > MAX_INTERIM:
                raise MalformedResponseError(
                    f"more than {MAX_INTERIM} interim responses"
                )
            self._head = None
            self._head_bytes = 0
            self._state = self._status_line
            return True
        codings = [
            coding.strip(" \t").lower()
            for value in head.get_all("Transfer-Encoding")
            for coding in value.split(",")
            if coding.strip(" \t")
        ]
        if self._bodiless or head.status in (204, 304):
            events.append(Head(head, 0))
            return self._finish(events)
        if codings:
            if codings != ["chunked"]:
                raise BadTransferEncodingError(
                    f"unsupported transfer coding {', '.join(codings)!r}"
                )
            events.append(Head(head, None))
            return self._read_with(ChunkedReader())
        lengths = head.get_all("Content-Length")
        if lengths:
            length = parse_content_length(lengths)
            events.append(Head(head, length))
            if not length:
                return self._finish(events)
            return self._read_with(LengthReader(length))
        events.append(Head(head, None))
        return self._read_with(CloseReader())

    def _read_with(self, reader: LengthReader | ChunkedReader | CloseReader) -> bool:
        """The head is done: C{reader} reads the body from here."""
        self._reader = reader
        self._state = self._body
        return True

    def _body(self, events: list[Event]) -> bool:
        reader = self._reader
        assert reader is not None
        data = reader.read(self._input)
        if data:
            events.append(Body(data))
        if reader.done:
            return self._finish(events)
        return data is not None

    def _finish(self, events: list[Event]) -> bool:
        events.append(End())
        self._done = True
        self._input.clear()
        return False
