"""
What the C{twisted-tcp} clients share: connecting, name resolution, errors that carry
an exit code (curl's numbers), and printing what a server sends.
"""

from __future__ import annotations

import codecs
import ipaddress
from collections.abc import Callable
from typing import Any, Final, TypeVar

from twisted.internet.defer import Deferred
from twisted.internet.endpoints import HostnameEndpoint, connectProtocol
from twisted.internet.error import ConnectError, DNSLookupError
from twisted.internet.interfaces import IListeningPort, IUDPTransport
from twisted.internet.protocol import DatagramProtocol, Protocol

#: Exit codes, as curl numbers them.
EXIT_OK: Final = 0
EXIT_FAILURE: Final = 1
EXIT_RESOLVE: Final = 6
EXIT_CONNECT: Final = 7
EXIT_CONNECTION_LOST: Final = 56

#: Seconds allowed to establish a TCP connection.
CONNECT_TIMEOUT: Final = 10.0

P = TypeVar("P", bound=Protocol)


class ClientError(Exception):
    """A failure the command reports in one line and exits with C{exit_code}."""

    def __init__(self, exit_code: int, message: str) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.message = message


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


async def stop_listening(port: IListeningPort | IUDPTransport) -> None:
    """Stop listening and wait for the port to close, if it says when."""
    closing = port.stopListening()
    if closing is not None:
        await closing


def answer_within(reactor: Any, timeout: float) -> Deferred[bytes | None]:
    """
    A Deferred for an answer that may not come: give it with L{give_answer}; after
    C{timeout} seconds it fires with C{None} instead.
    """
    answer: Deferred[bytes | None] = Deferred()
    answer.addTimeout(timeout, reactor, onTimeoutCancel=lambda result, timeout: None)
    return answer


def give_answer(answer: Deferred[bytes | None], value: bytes | None) -> None:
    """Fire C{answer} with C{value}, unless it has fired (or timed out) already."""
    if not answer.called:
        answer.callback(value)


class ConnectedDatagramProtocol(DatagramProtocol):
    """
    A UDP client socket connected to one peer, which learns that nothing listens
    there whatever the reactor: select calls L{connectionRefused}, while the
    poll-like reactors (epoll among them) close the port on the ICMP error instead
    (Twisted issues 5377 and 6467). A stop we did not ask for means the same.
    """

    transport: IUDPTransport
    refused = False
    _closing = False

    def connectionRefused(self) -> None:
        self._refuse()

    def stopProtocol(self) -> None:
        if not self._closing:
            self._refuse()

    def _refuse(self) -> None:
        if not self.refused:
            self.refused = True
            self.refusal()

    def refusal(self) -> None:
        """Called once when the peer refuses our datagrams."""

    async def open(self, reactor: Any, host: str, port: int) -> None:
        """
        Bind a UDP socket of the peer's address family (IPv6 for C{::1}, IPv4 for
        C{127.0.0.1} or a name) and connect it to C{host}:C{port}.

        @raise ClientError: exit code 6 if C{host} does not resolve.
        """
        address = await resolve(reactor, host)
        interface = "::" if ":" in address else ""
        reactor.listenUDP(0, self, interface=interface, maxPacketSize=65536)
        self.transport.connect(address, port)

    async def close(self) -> None:
        """Stop listening, unless the reactor already closed the port."""
        self._closing = True
        if not self.refused:
            await stop_listening(self.transport)


def connection_error_reason(error: Exception) -> str:
    """The useful part of a Twisted connection error's message."""
    return str(error).rstrip(".").rsplit(": ", 1)[-1]


class Printer:
    """
    Turns what a server sends into text for the console, decoding it with the
    session's encoding incrementally, so a character split across packets prints
    whole and invalid bytes print as U+FFFD.
    """

    def __init__(self, write: Callable[[str], None], encoding: str) -> None:
        self._write = write
        self._decoder = codecs.getincrementaldecoder(encoding)("replace")

    def feed(self, data: bytes) -> None:
        text = self._decoder.decode(data)
        if text:
            self._write(text)

    def close(self) -> None:
        """Print what is left of an incomplete character at the end."""
        rest = self._decoder.decode(b"", final=True)
        if rest:
            self._write(rest)
