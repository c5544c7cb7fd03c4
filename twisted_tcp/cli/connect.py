"""
How the C{twisted-tcp} clients reach a server: connecting over TCP to a name or an
address, resolving a name, and the one-line reason a connection failed.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Final, TypeVar

from twisted.internet.endpoints import HostnameEndpoint, connectProtocol
from twisted.internet.error import ConnectError, DNSLookupError
from twisted.internet.protocol import Protocol

from twisted_tcp.cli.errors import ClientError
from twisted_tcp.cli.exitcodes import EXIT_CONNECT, EXIT_RESOLVE

#: Seconds allowed to establish a TCP connection.
CONNECT_TIMEOUT: Final = 10.0

P = TypeVar("P", bound=Protocol)


async def connect_tcp(reactor: Any, host: str, port: int, protocol: P) -> P:
    """
    Connect C{protocol} to C{host}:C{port} (a name, IPv4 or IPv6 address).

    @raise ClientError: exit code 6 if the name does not resolve, 7 if no address
        accepts the connection.
    """
    endpoint = HostnameEndpoint(reactor, host, port, timeout=CONNECT_TIMEOUT)
    try:
        await connectProtocol(endpoint, protocol)
    except DNSLookupError:
        raise ClientError(EXIT_RESOLVE, f"cannot resolve {host}") from None
    except ConnectError as error:
        raise ClientError(
            EXIT_CONNECT,
            f"cannot connect to {host} port {port}: {connection_error_reason(error)}",
        ) from None
    return protocol


async def resolve(reactor: Any, host: str) -> str:
    """The address of C{host}: itself if it is one, else its IPv4 address."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    try:
        address: str = await reactor.resolve(host)
    except DNSLookupError:
        raise ClientError(EXIT_RESOLVE, f"cannot resolve {host}") from None
    return address


def connection_error_reason(error: Exception) -> str:
    """The useful part of a Twisted connection error's message."""
    return str(error).rstrip(".").rsplit(": ", 1)[-1]
