"""
The UDP side of the C{twisted-tcp} clients: a datagram socket connected to one peer,
answers that may never come, and closing a port.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IListeningPort, IUDPTransport
from twisted.internet.protocol import DatagramProtocol

from twisted_tcp.cli.connect import resolve


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
