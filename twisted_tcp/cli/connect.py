"""
How the C{twisted-tcp} clients reach a server: checking the host given, connecting
over TCP to a name or an address, resolving a name, and the one-line reason a
connection failed.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Final, TypeVar

import idna
from twisted.internet.endpoints import HostnameEndpoint, connectProtocol, wrapClientTLS
from twisted.internet.error import ConnectError, DNSLookupError
from twisted.internet.protocol import Protocol

from twisted_tcp._text import connection_error_reason
from twisted_tcp.cli.errors import ClientError
from twisted_tcp.cli.exitcodes import EXIT_CONNECT, EXIT_RESOLVE

#: Seconds allowed to establish a TCP connection.
CONNECT_TIMEOUT: Final = 10.0

P = TypeVar("P", bound=Protocol)


async def connect_tcp(
    reactor: Any, host: str, port: int, protocol: P, tls: Any = None
) -> P:
    """
    Connect C{protocol} to C{host}:C{port} (see L{host_to_reach}), over TLS if
    C{tls} is a connection creator (L{twisted_tcp.cli.tls.tls_for}).

    @raise ClientError: exit code 6 if the name is none or does not resolve, 7 if no
        address accepts the connection.
    """
    name = host_to_reach(host)
    endpoint: Any = HostnameEndpoint(reactor, name, port, timeout=CONNECT_TIMEOUT)
    if tls is not None:
        endpoint = wrapClientTLS(tls, endpoint)
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
    """
    The address of C{host} (see L{host_to_reach}): itself if it is one, else its
    IPv4 address.
    """
    name = host_to_reach(host)
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        pass
    try:
        address: str = await reactor.resolve(name)
    except DNSLookupError:
        raise ClientError(EXIT_RESOLVE, f"cannot resolve {host}") from None
    return address


def host_to_reach(host: str) -> str:
    """
    C{host} as given on the command line, checked: an IPv4 or IPv6 address, the
    latter bare or in brackets as in a URL (C{[::1]}, which comes out bare), or a
    name that IDNA can encode, as Twisted's endpoints require.

    @raise ClientError: exit code 6, as for a name that does not resolve, for what
        can be no host's name (empty, with spaces, ...).
    """
    if host.startswith("[") and host.endswith("]"):
        try:
            return str(ipaddress.IPv6Address(host[1:-1]))
        except ValueError:
            message = f"{host!r} is not an IPv6 address"
            raise ClientError(EXIT_RESOLVE, message) from None
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    try:
        idna.encode(host)
    except idna.IDNAError:
        raise ClientError(EXIT_RESOLVE, f"{host!r} is not a host name") from None
    return host
