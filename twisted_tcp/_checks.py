"""
Checkers for command-line values, shared by the C{twisted-tcp} command (argparse)
and the C{twist} plugins (L{twisted.python.usage}).

Each turns a string into a value or raises L{BadValueError}, whose message says what was
expected and what was given. L{BadValueError} is both an C{argparse.ArgumentTypeError},
so argparse shows its message (a plain C{ValueError} would become "invalid
positive_int value"), and a C{ValueError}, which is what C{usage.Options} catches
and reports. Each carries a C{coerceDoc}, the note C{usage.Options} adds to an
option's help.
"""

from __future__ import annotations

import argparse
import ipaddress
import math
from collections.abc import Callable
from typing import TypeVar

from twisted_tcp._text import check_encoding

T = TypeVar("T")


class BadValueError(ValueError, argparse.ArgumentTypeError):
    """A command-line value that was refused, with a one-line message."""


def _checker(
    kind: Callable[[str], T], accept: Callable[[T], bool], expected: str, doc: str
) -> Callable[[str], T]:
    def check(value: str) -> T:
        try:
            number = kind(value)
        except ValueError:
            raise BadValueError(f"expected {expected}, got {value}") from None
        if not accept(number):
            raise BadValueError(f"expected {expected}, got {value}")
        return number

    check.coerceDoc = doc  # type: ignore[attr-defined]
    return check


#: A whole number of at least 0.
non_negative_int = _checker(
    int, lambda n: n >= 0, "a whole number >= 0", "Must be >= 0."
)
#: A whole number of at least 1.
positive_int = _checker(int, lambda n: n >= 1, "a whole number >= 1", "Must be >= 1.")
#: A port to listen on (0 picks a free one).
port_number = _checker(
    int, lambda n: 0 <= n <= 65535, "a port number 0-65535", "Must be 0-65535."
)
#: A port to connect or send to.
remote_port = _checker(
    int, lambda n: 1 <= n <= 65535, "a port number 1-65535", "Must be 1-65535."
)
#: A number of seconds, 0 or more.
seconds = _checker(
    float,
    lambda n: math.isfinite(n) and n >= 0,
    "a number of seconds >= 0",
    "In seconds; 0 = never.",
)
#: A number of seconds, more than 0.
positive_seconds = _checker(
    float,
    lambda n: math.isfinite(n) and n > 0,
    "a number of seconds > 0",
    "In seconds.",
)
#: A rate (so many per second), 0 or more.
rate = _checker(
    float,
    lambda n: math.isfinite(n) and n >= 0,
    "a rate >= 0 per second",
    "Must be >= 0.",
)


def encoding(value: str) -> str:
    """The canonical name of an ASCII-compatible text encoding."""
    try:
        return check_encoding(value)
    except ValueError as error:
        raise BadValueError(str(error)) from None


def ip_address(value: str) -> str:
    """An IPv4 or IPv6 address, as written (a UDP socket cannot bind to a name)."""
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise BadValueError(f"expected an IPv4 or IPv6 address, got {value}") from None
    return value
