"""
Tests for L{twisted_tcp.cli.printer}: printing what servers send.
"""

from __future__ import annotations

from twisted_tcp.cli.printer import Printer


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
