"""
Tests for L{twisted_tcp.cli.console}: lines from standard input and the end of input.
"""

from __future__ import annotations

from twisted.internet.testing import StringTransport

from twisted_tcp.cli.console import Console


def attached() -> tuple[Console, list[str], list[str], StringTransport]:
    lines: list[str] = []
    ends: list[str] = []
    console = Console(lines.append, lambda: ends.append("end"))
    transport = StringTransport()
    console.makeConnection(transport)
    return console, lines, ends, transport


def test_lines_split_across_reads() -> None:
    """Lines are whole whatever the reads; CRLF and LF both end a line."""
    console, lines, _, _ = attached()
    for chunk in (b"fir", b"st\r\nsec", b"ond\nthi"):
        console.dataReceived(chunk)
    assert lines == ["first", "second"]


def test_last_line_without_newline_then_end() -> None:
    """At the end of input an unterminated last line still counts, then the end."""
    console, lines, ends, _ = attached()
    console.dataReceived("último".encode())
    console.readConnectionLost()
    assert (lines, ends) == (["último"], ["end"])


def test_invalid_utf8_input_replaced() -> None:
    """Bytes that are not UTF-8 become U+FFFD instead of stopping the client."""
    console, lines, _, _ = attached()
    console.dataReceived(b"a\xffb\n")
    assert lines == ["a\ufffdb"]


def test_write_and_close() -> None:
    """Text is written as UTF-8; closing loses the connection and fires when lost."""
    console, _, _, transport = attached()
    console.write("héllo\n")
    closed = console.close()
    assert transport.value() == "héllo\n".encode()
    assert transport.disconnecting
    assert not closed.called
    console.connectionLost()
    assert closed.called
