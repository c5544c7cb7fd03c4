"""
Tests for L{twisted_tcp.udp_echo}: echo and upper modes, the reflection deny-list, the
per-source rate limit and burst, whole 64 KiB datagrams over a real socket, and loops
between two real servers.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest
import pytest_twisted
from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.threads import deferToThread
from twisted.logger import capturedLogs, formatEvent

from twisted_tcp.udp_echo import MAX_BURST, MAX_DATAGRAM, UDPEchoProtocol

from .support import port_of, stop, until


class FakeDatagramTransport:
    """Records what a datagram protocol sends; its host is C{0.0.0.0:8081}."""

    def __init__(self, host: str = "0.0.0.0", port: int = 8081) -> None:
        self.sent: list[tuple[bytes, tuple[str, int]]] = []
        self.host = IPv4Address("UDP", host, port)
        self.fail_with: OSError | None = None

    def write(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.sent.append((data, addr))

    def getHost(self) -> IPv4Address:
        return self.host


def started(
    transport: FakeDatagramTransport | None = None, **options: Any
) -> tuple[UDPEchoProtocol, FakeDatagramTransport, Clock]:
    clock = Clock()
    protocol = UDPEchoProtocol(clock=clock, **options)
    transport = transport or FakeDatagramTransport()
    protocol.makeConnection(transport)  # type: ignore[arg-type]
    return protocol, transport, clock


def test_echo_whole_datagram_to_source() -> None:
    """A datagram comes back unchanged, to the address it came from."""
    protocol, transport, _ = started()
    protocol.datagramReceived(b"\x00hi\xff", ("10.1.1.1", 5000))
    assert transport.sent == [(b"\x00hi\xff", ("10.1.1.1", 5000))]


def test_empty_datagram_echoed() -> None:
    """A zero-length datagram is a datagram too, and is echoed."""
    protocol, transport, _ = started()
    protocol.datagramReceived(b"", ("10.1.1.1", 5000))
    assert transport.sent == [(b"", ("10.1.1.1", 5000))]


def test_upper_mode() -> None:
    """Upper mode upper-cases ASCII letters and leaves other bytes alone."""
    protocol, transport, _ = started(mode="upper")
    protocol.datagramReceived("hi é".encode(), ("10.1.1.1", 5000))
    assert transport.sent == [("HI é".encode(), ("10.1.1.1", 5000))]


@pytest.mark.parametrize("port", [0, 7, 13, 17, 19, 37, 53, 69, 123])
def test_reflection_source_ports_ignored(port: int) -> None:
    """Datagrams from echo, chargen, DNS, TFTP, NTP and similar ports are never
    answered."""
    protocol, transport, _ = started()
    protocol.datagramReceived(b"loop?", ("10.1.1.1", port))
    assert transport.sent == []


@pytest.mark.parametrize(
    ("bound", "source", "answered"),
    [
        ("0.0.0.0", ("127.0.0.1", 8081), False),
        ("0.0.0.0", ("127.0.0.5", 8081), False),
        ("127.0.0.1", ("127.0.0.1", 8081), False),
        ("10.0.0.1", ("10.0.0.1", 8081), False),
        ("10.0.0.1", ("127.0.0.1", 8081), False),
        ("0.0.0.0", ("10.9.9.9", 8081), False),
        ("0.0.0.0", ("127.0.0.1", 8082), True),
        ("::", ("::ffff:127.0.0.1", 8081), False),
        ("::", ("2001:db8::1", 8081), False),
        ("::", ("::ffff:10.9.9.9", 8082), True),
    ],
)
def test_own_port_ignored(bound: str, source: tuple[str, int], answered: bool) -> None:
    """A datagram from the server's own port is never answered, whatever its
    address: it may come from another copy of this server."""
    protocol, transport, _ = started(FakeDatagramTransport(bound, 8081))
    protocol.datagramReceived(b"me?", source)
    assert bool(transport.sent) == answered


def test_burst_is_small_whatever_the_rate() -> None:
    """One source gets at most MAX_BURST datagrams answered at once, even when the
    rate allows more per second; the rate refills the bucket."""
    protocol, transport, clock = started(rate=1000)
    for _ in range(MAX_BURST + 5):
        protocol.datagramReceived(b"a", ("10.0.0.1", 5000))
    assert len(transport.sent) == MAX_BURST
    clock.advance(0.002)
    for _ in range(5):
        protocol.datagramReceived(b"a", ("10.0.0.1", 5000))
    assert len(transport.sent) == MAX_BURST + 2


def test_rate_limit_per_source() -> None:
    """Over-rate datagrams from one source are dropped; other sources are not."""
    protocol, transport, clock = started(rate=3)
    for _ in range(5):
        protocol.datagramReceived(b"a", ("10.0.0.1", 5000))
    protocol.datagramReceived(b"b", ("10.0.0.2", 5000))
    assert [data for data, _ in transport.sent] == [b"a", b"a", b"a", b"b"]
    clock.advance(1)
    protocol.datagramReceived(b"c", ("10.0.0.1", 5000))
    assert transport.sent[-1] == (b"c", ("10.0.0.1", 5000))


def test_rate_limit_counts_host_not_port() -> None:
    """Changing source port does not escape the rate limit."""
    protocol, transport, _ = started(rate=2)
    for port in range(5000, 5010):
        protocol.datagramReceived(b"a", ("10.0.0.1", port))
    assert len(transport.sent) == 2


def test_rate_zero_means_unlimited() -> None:
    """With rate 0 every datagram is answered."""
    protocol, transport, _ = started(rate=0)
    for _ in range(5000):
        protocol.datagramReceived(b"a", ("10.0.0.1", 5000))
    assert len(transport.sent) == 5000


def test_idle_sources_forgotten() -> None:
    """Sources whose bucket has refilled are forgotten, so the table stays small."""
    protocol, _, clock = started(rate=10)
    for index in range(1000):
        protocol.datagramReceived(b"a", (f"10.0.{index // 250}.{index % 250}", 5000))
    clock.advance(2)
    protocol.datagramReceived(b"a", ("10.9.9.9", 5000))
    assert list(protocol._buckets) == ["10.9.9.9"]


def test_send_error_does_not_stop_the_server() -> None:
    """An error sending one answer is logged and the next datagram is served."""
    protocol, transport, _ = started()
    transport.fail_with = OSError(101, "Network is unreachable")
    with capturedLogs() as events:
        protocol.datagramReceived(b"a", ("10.0.0.1", 5000))
    assert "cannot answer" in events[0]["log_format"]
    transport.fail_with = None
    protocol.datagramReceived(b"b", ("10.0.0.1", 5000))
    assert transport.sent == [(b"b", ("10.0.0.1", 5000))]


@pytest.mark.parametrize(
    ("options", "message"),
    [({"mode": "lower"}, "unknown mode"), ({"rate": -1}, "negative")],
)
def test_invalid_options(options: dict[str, Any], message: str) -> None:
    """Bad options are refused when the protocol is built."""
    with pytest.raises(ValueError, match=message):
        UDPEchoProtocol(**options)


def udp_exchange(port: int, datagrams: list[bytes]) -> list[bytes]:
    """The tutorial's UDP client: sendto each datagram, recvfrom each answer."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(10)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        replies = []
        for datagram in datagrams:
            sock.sendto(datagram, ("127.0.0.1", port))
            replies.append(sock.recvfrom(MAX_DATAGRAM + 1)[0])
        return replies


@pytest_twisted.ensureDeferred
async def test_tutorial_client_and_largest_datagram(reactor: Any) -> None:
    """'hi' comes back as 'HI', and a 65507-byte datagram comes back whole."""
    port = reactor.listenUDP(
        0,
        UDPEchoProtocol(mode="upper"),
        interface="127.0.0.1",
        maxPacketSize=MAX_DATAGRAM + 28,
    )
    try:
        largest = bytes(range(97, 123)) * (MAX_DATAGRAM // 26) + b"x" * (
            MAX_DATAGRAM % 26
        )
        replies = await deferToThread(udp_exchange, port_of(port), [b"hi", largest])
        assert replies == [b"HI", largest.upper()]
        assert len(replies[1]) == MAX_DATAGRAM
    finally:
        await stop(port)


def test_ipv4_mapped_source_answered_at_its_own_address() -> None:
    """On a dual-stack socket an IPv4 peer is answered at the address it came from,
    and rate-limited as the IPv4 host it is."""
    protocol, transport, _ = started(FakeDatagramTransport("::", 8081), rate=1)
    protocol.datagramReceived(b"a", ("::ffff:10.1.1.1", 5000))
    protocol.datagramReceived(b"b", ("::ffff:10.1.1.1", 5001))
    assert transport.sent == [(b"a", ("::ffff:10.1.1.1", 5000))]
    assert list(protocol._buckets) == ["10.1.1.1"]


class Counting(UDPEchoProtocol):
    """The echo server, counting the datagrams it receives from each host."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(clock=clock)
        self.received: dict[str, int] = {}

    def datagramReceived(self, datagram: bytes, addr: tuple[str, int]) -> None:
        self.received[addr[0]] = self.received.get(addr[0], 0) + 1
        super().datagramReceived(datagram, addr)


async def bounce_between_two_servers(reactor: Any, same_port: bool) -> int:
    """
    Two echo servers, on 127.0.0.1 and on 127.0.0.2 (on the same port or not), whose
    clock never refills their buckets; the second sends the first one datagram, as
    an attacker spoofing its address would. Once one server refuses or drops what
    the other sent (the one datagram of the loop is then gone), return how many
    datagrams the two received in all.
    """
    clock = Clock()
    first, second = Counting(clock), Counting(clock)
    one = reactor.listenUDP(0, first, interface="127.0.0.1")
    port = port_of(one) if same_port else 0
    two = reactor.listenUDP(port, second, interface="127.0.0.2")
    try:
        with capturedLogs() as events:
            second.transport.write(b"loop?", ("127.0.0.1", port_of(one)))
            await until(
                reactor,
                lambda: any(
                    "refused" in formatEvent(event) or "dropped" in formatEvent(event)
                    for event in events
                ),
            )
    finally:
        await stop(one)
        await stop(two)
    return sum(first.received.values()) + sum(second.received.values())


@pytest_twisted.ensureDeferred
async def test_two_servers_on_one_port_never_bounce(reactor: Any) -> None:
    """A datagram spoofed from another echo server on the same port but another
    address is not answered: one datagram in all."""
    assert await bounce_between_two_servers(reactor, same_port=True) == 1


@pytest_twisted.ensureDeferred
async def test_a_loop_between_two_servers_dies_after_a_few_bounces(
    reactor: Any,
) -> None:
    """Between two echo servers on different ports, a spoofed datagram bounces
    until one server's burst for the other is spent: at most that many each way."""
    received = await bounce_between_two_servers(reactor, same_port=False)
    assert 2 <= received <= 2 * MAX_BURST + 1
