"""
Tests for L{twisted_tcp._checks}: the command-line value checkers that argparse (the
C{twisted-tcp} command) and C{usage.Options} (the C{twist} plugins) share.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import pytest
from twisted.python import usage

from twisted_tcp._checks import (
    BadValueError,
    encoding,
    ip_address,
    non_negative_int,
    port_number,
    positive_int,
    positive_seconds,
    rate,
    remote_port,
    seconds,
)


@pytest.mark.parametrize(
    ("check", "value", "expected"),
    [
        (non_negative_int, "0", 0),
        (positive_int, "7", 7),
        (port_number, "0", 0),
        (port_number, "65535", 65535),
        (remote_port, "1", 1),
        (seconds, "0", 0.0),
        (seconds, "1.5", 1.5),
        (positive_seconds, "0.001", 0.001),
        (rate, "2.5", 2.5),
        (encoding, "GBK", "gbk"),
        (ip_address, "::1", "::1"),
        (ip_address, "10.0.0.1", "10.0.0.1"),
    ],
)
def test_accepted(check: Callable[[str], Any], value: str, expected: Any) -> None:
    """Good values come back converted."""
    assert check(value) == expected


@pytest.mark.parametrize(
    ("check", "value", "message"),
    [
        (non_negative_int, "-1", "expected a whole number >= 0, got -1"),
        (non_negative_int, "1.5", "expected a whole number >= 0, got 1.5"),
        (positive_int, "0", "expected a whole number >= 1, got 0"),
        (port_number, "65536", "expected a port number 0-65535, got 65536"),
        (port_number, "http", "expected a port number 0-65535, got http"),
        (remote_port, "0", "expected a port number 1-65535, got 0"),
        (seconds, "-2", "expected a number of seconds >= 0, got -2"),
        (seconds, "nan", "expected a number of seconds >= 0, got nan"),
        (seconds, "inf", "expected a number of seconds >= 0, got inf"),
        (positive_seconds, "0", "expected a number of seconds > 0, got 0"),
        (rate, "-1", "expected a rate >= 0 per second, got -1"),
        (encoding, "utf-16", "encoding 'utf-16' is not ASCII-compatible"),
        (encoding, "nope", "unknown encoding 'nope'"),
        (ip_address, "localhost", "expected an IPv4 or IPv6 address, got localhost"),
    ],
)
def test_refused(check: Callable[[str], Any], value: str, message: str) -> None:
    """Bad values are refused with one line saying what was expected."""
    with pytest.raises(BadValueError) as raised:
        check(value)
    assert str(raised.value) == message


def test_argparse_shows_the_message(capsys: pytest.CaptureFixture[str]) -> None:
    """argparse reports a refused value with the checker's own message."""
    parser = argparse.ArgumentParser(prog="prog")
    parser.add_argument("--count", type=positive_int)
    with pytest.raises(SystemExit):
        parser.parse_args(["--count", "0"])
    assert capsys.readouterr().err.endswith(
        "prog: error: argument --count: expected a whole number >= 1, got 0\n"
    )


def test_usage_options_show_the_message_and_the_note() -> None:
    """usage.Options reports a refused value with the checker's message, and its
    help carries the checker's note."""

    class Options(usage.Options):
        optParameters = [["count", None, 1, "How many.", positive_int]]

    with pytest.raises(usage.UsageError, match="expected a whole number >= 1, got 0"):
        Options().parseOptions(["--count", "0"])
    assert "How many. [default: 1]. Must be >= 1." in str(Options())
