"""
Tests for L{twisted_tcp.cli.connect}: hosts checked before connecting, addresses kept
as they are, and the one-line reasons of connection failures.
"""

from __future__ import annotations

from typing import Any

import pytest
import pytest_twisted

from twisted_tcp.cli.connect import host_to_reach, resolve
from twisted_tcp.cli.errors import ClientError
from twisted_tcp.cli.exitcodes import EXIT_RESOLVE


@pytest.mark.parametrize(
    ("given", "reached"),
    [
        ("[::1]", "::1"),
        ("[0:0::1]", "::1"),
        ("::1", "::1"),
        ("127.0.0.1", "127.0.0.1"),
        ("localhost", "localhost"),
        ("Example.COM.", "Example.COM."),
        ("café.example", "café.example"),
    ],
)
def test_host_to_reach(given: str, reached: str) -> None:
    """Addresses (IPv6 ones bare or bracketed, as in URLs) and names are reachable."""
    assert host_to_reach(given) == reached


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("", "'' is not a host name"),
        ("bad host", "'bad host' is not a host name"),
        ("a..b", "'a..b' is not a host name"),
        ("[::1", "'[::1' is not a host name"),
        ("[localhost]", "'[localhost]' is not an IPv6 address"),
        ("[127.0.0.1:80]", "'[127.0.0.1:80]' is not an IPv6 address"),
        ("\x1b[2J", "'\\x1b[2J' is not a host name"),
    ],
)
def test_bad_host(given: str, message: str) -> None:
    """What can be no host's name fails as an unresolvable one does: exit 6."""
    with pytest.raises(ClientError) as raised:
        host_to_reach(given)
    assert (raised.value.exit_code, raised.value.message) == (EXIT_RESOLVE, message)


@pytest_twisted.ensureDeferred
async def test_resolve_keeps_addresses(reactor: Any) -> None:
    """An address needs no resolving, IPv4 or IPv6 (written in its short form)."""
    assert await resolve(reactor, "127.0.0.1") == "127.0.0.1"
    assert await resolve(reactor, "0:0::1") == "::1"


@pytest_twisted.ensureDeferred
async def test_resolve_unbrackets(reactor: Any) -> None:
    """The UDP clients take a bracketed IPv6 address too."""
    assert await resolve(reactor, "[::1]") == "::1"


@pytest_twisted.ensureDeferred
async def test_resolve_refuses_empty_host(reactor: Any) -> None:
    """An empty host is refused, not resolved to the wildcard address 0.0.0.0."""
    with pytest.raises(ClientError) as raised:
        await resolve(reactor, "")
    assert raised.value.exit_code == EXIT_RESOLVE
