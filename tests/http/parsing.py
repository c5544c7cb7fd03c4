"""
Feeding a response to L{twisted_tcp.http.parser.ResponseParser} in pieces and
summing up what came out, for the parser's and the body readers' tests.
"""

from __future__ import annotations

from twisted_tcp.http.errors import HTTPError
from twisted_tcp.http.parser import Body, End, Event, Head, ResponseParser

from ..support import byte_by_byte

Outcome = tuple[str, list[tuple[str, object]]] | type[HTTPError]


def outcome(chunks: list[bytes], eof: bool = True) -> Outcome:
    """Events (bodies joined) or the error class, for the response in C{chunks}."""
    parser = ResponseParser()
    events: list[Event] = []
    try:
        for chunk in chunks:
            events.extend(parser.feed(chunk))
        if eof:
            events.extend(parser.finish())
    except HTTPError as error:
        return type(error)
    summary: list[tuple[str, object]] = []
    body = b""
    for event in events:
        if isinstance(event, Head):
            summary.append(
                (
                    "head",
                    (
                        event.head.status,
                        event.head.reason,
                        event.head.headers,
                        event.length,
                    ),
                )
            )
        elif isinstance(event, Body):
            body += event.data
        else:
            assert isinstance(event, End)
            summary.append(("end", body))
    return ("ok", summary)


def every_way(response: bytes, eof: bool = True) -> Outcome:
    """The outcome, asserting it is the same whole and byte by byte."""
    whole = outcome([response], eof)
    assert outcome(byte_by_byte(response), eof) == whole
    return whole


def head_of(result: Outcome) -> tuple[int, str, list[tuple[str, str]], int | None]:
    assert isinstance(result, tuple), result
    kind, value = result[1][0]
    assert kind == "head"
    return value  # type: ignore[return-value]


def body_of(result: Outcome) -> bytes:
    assert isinstance(result, tuple), result
    kind, value = result[1][-1]
    assert kind == "end"
    assert isinstance(value, bytes)
    return value
