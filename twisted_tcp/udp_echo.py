"""
The UDP echo server: each datagram comes back whole to its source, except to sources
that could turn the echo into a reflection loop or amplifier (docs/servers.md,
"Limits").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

from twisted.internet.interfaces import IReactorTime, IUDPTransport
from twisted.internet.protocol import DatagramProtocol
from twisted.logger import Logger

from twisted_tcp._listen import unmapped
from twisted_tcp._ratelimit import TokenBucket

UDPMode = Literal["echo", "upper"]
UDP_MODES: Final[tuple[UDPMode, ...]] = ("echo", "upper")

#: The largest UDP payload over IPv4; C{listenUDP} must be told to read this much.
MAX_DATAGRAM: Final = 65507
#: Source ports of services that answer anything (echo, daytime, qotd, chargen, time,
#: DNS, TFTP, NTP) or are invalid: answering them could start a loop or an
#: amplification.
DENIED_SOURCE_PORTS: Final = frozenset({0, 7, 13, 17, 19, 37, 53, 69, 123})
DEFAULT_RATE: Final = 1000
#: Datagrams one source may send at once above the rate: enough for a client sending
#: at the rate with some jitter, few enough that a loop between this server and
#: another one that answers everything ends after about this many bounces.
MAX_BURST: Final = 10
#: Seconds between sweeps of the per-source rate limit table.
SWEEP_INTERVAL: Final = 1.0

_Address = tuple[str, int]


@dataclass(slots=True)
class UDPCounters:
    """
    Datagrams received; of them, those C{answered}, C{refused} (from a source that
    could start a loop) and C{rate_limited}; and payload bytes each way. Plain
    integers, so counting costs no lock.
    """

    received: int = 0
    answered: int = 0
    refused: int = 0
    rate_limited: int = 0
    bytes_in: int = 0
    bytes_out: int = 0


class UDPEchoProtocol(DatagramProtocol):
    """
    Echoes datagrams (C{mode} C{echo}), or upper-cases their ASCII letters (C{upper}).

    @param rate: datagrams per second accepted from one source host (bursts up to
        L{MAX_BURST}, or one second's worth if less); more are dropped. 0 = no limit.
    @param clock: time source for the rate limit; the global reactor if not given.

    @ivar counters: what it has done, read by C{--metrics}.
    """

    log = Logger()
    transport: IUDPTransport

    def __init__(
        self,
        *,
        mode: UDPMode = "echo",
        rate: float = DEFAULT_RATE,
        clock: IReactorTime | None = None,
    ) -> None:
        if mode not in UDP_MODES:
            raise ValueError(f"unknown mode {mode!r}; expected one of {UDP_MODES}")
        if rate < 0:
            raise ValueError("rate must not be negative")
        self.mode = mode
        self.rate = rate
        self._respond: Callable[[bytes], bytes] = (
            bytes.upper if mode == "upper" else bytes
        )
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}
        self._last_sweep = 0.0
        self._own_port = -1
        self.counters = UDPCounters()

    def startProtocol(self) -> None:
        if self._clock is None:
            from twisted.internet import reactor

            self._clock = reactor
        self._own_port = self.transport.getHost().port

    def datagramReceived(self, datagram: bytes, addr: _Address) -> None:
        counters = self.counters
        counters.received += 1
        counters.bytes_in += len(datagram)
        host, port = unmapped(addr[0]), addr[1]
        # Another copy of this server, on any address, could answer and start a loop.
        if port in DENIED_SOURCE_PORTS or port == self._own_port:
            counters.refused += 1
            self.log.debug("refused datagram from {host}:{port}", host=host, port=port)
            return
        if self.rate and not self._allow(host):
            counters.rate_limited += 1
            return
        answer = self._respond(datagram)
        try:
            self.transport.write(answer, addr)
            counters.answered += 1
            counters.bytes_out += len(answer)
        except OSError as error:
            self.log.warn(
                "cannot answer {host}:{port}: {error}",
                host=host,
                port=port,
                error=error,
            )

    def _allow(self, host: str) -> bool:
        """Charge one datagram to its source's bucket; forget idle sources at times."""
        assert self._clock is not None
        now = self._clock.seconds()
        if now - self._last_sweep >= SWEEP_INTERVAL:
            self._last_sweep = now
            self._buckets = {
                source: bucket
                for source, bucket in self._buckets.items()
                if not bucket.is_full()
            }
        bucket = self._buckets.get(host)
        if bucket is None:
            bucket = TokenBucket(
                self.rate, max(1.0, min(self.rate, MAX_BURST)), self._clock
            )
            self._buckets[host] = bucket
        if bucket.take():
            return True
        self.log.debug("rate limit: dropped datagram from {host}", host=host)
        return False
