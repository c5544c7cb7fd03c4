"""
Tests for L{twisted_tcp.cli.connect}: addresses kept as they are, and the
one-line reasons of connection failures.
"""

from __future__ import annotations

from typing import Any

import pytest_twisted
from twisted.internet.error import ConnectionRefusedError

from twisted_tcp.cli.connect import connection_error_reason, resolve


def test_connection_error_reason() -> None:
    """Twisted's connection errors are reduced to their last, useful part."""
    assert connection_error_reason(
        ConnectionRefusedError("111: Connection refused")
    ) == ("Connection refused")


@pytest_twisted.ensureDeferred
async def test_resolve_keeps_addresses(reactor: Any) -> None:
    """An address needs no resolving, IPv4 or IPv6 (written in its short form)."""
    assert await resolve(reactor, "127.0.0.1") == "127.0.0.1"
    assert await resolve(reactor, "0:0::1") == "::1"
