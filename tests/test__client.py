"""
Tests for L{twisted_tcp._client}: printing what servers send, and error messages.
"""

from __future__ import annotations

from twisted.internet.error import ConnectionRefusedError

from twisted_tcp._client import Printer, connection_error_reason


def test_printer_joins_a_character_split_across_packets() -> None:
    """A multibyte character split between packets prints whole."""
    printed: list[str] = []
    printer = Printer(printed.append, "utf-8")
    for byte in "né中".encode():
        printer.feed(bytes([byte]))
    assert "".join(printed) == "né中"


def test_printer_replaces_invalid_and_truncated_bytes() -> None:
    """Invalid bytes print as U+FFFD, and so does a character cut off at the end."""
    printed: list[str] = []
    printer = Printer(printed.append, "utf-8")
    printer.feed(b"ok\xff then \xe4\xb8")
    printer.close()
    assert "".join(printed) == "ok\ufffd then \ufffd"


def test_connection_error_reason() -> None:
    """Twisted's connection errors are reduced to their last, useful part."""
    assert connection_error_reason(
        ConnectionRefusedError("111: Connection refused")
    ) == ("Connection refused")
