"""
C{twisted-tcp ping} (docs/clients.md): measure an echo server's round trips over TCP
or UDP, verifying that every payload comes back exactly.
"""

from __future__ import annotations

import argparse
import os
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.error import ConnectionDone
from twisted.internet.protocol import Protocol, connectionDone
from twisted.internet.task import deferLater
from twisted.python.failure import Failure

from twisted_tcp.cli import say
from twisted_tcp.cli.connect import connect_tcp
from twisted_tcp.cli.datagram import (
    ConnectedDatagramProtocol,
    answer_within,
    give_answer,
)
from twisted_tcp.cli.errors import ClientError
from twisted_tcp.cli.exitcodes import EXIT_CONNECT, EXIT_FAILURE, EXIT_OK
from twisted_tcp.udp_echo import MAX_DATAGRAM

#: Each UDP probe starts with its sequence number, so late answers are recognised.
_SEQUENCE = struct.Struct("!Q")
MIN_UDP_SIZE: Final = _SEQUENCE.size


@dataclass
class PingReport:
    """What a run of probes measured."""

    sent: int = 0
    received: int = 0
    mismatched: int = 0
    refused: bool = False
    round_trips: list[float] = field(default_factory=list)

    @property
    def lost(self) -> int:
        return self.sent - self.received - self.mismatched

    @property
    def ok(self) -> bool:
        return self.sent > 0 and self.received == self.sent

    def summary(self, target: str) -> list[str]:
        """The closing lines, in the style of ping(8)."""
        loss = 100.0 * (self.sent - self.received) / self.sent if self.sent else 0.0
        lines = [
            f"--- {target} ping statistics ---",
            f"{self.sent} sent, {self.received} received, {self.mismatched} mismatched,"
            f" {loss:.1f}% loss",
        ]
        if self.round_trips:
            low, high = min(self.round_trips), max(self.round_trips)
            average = sum(self.round_trips) / len(self.round_trips)
            lines.append(f"min/avg/max = {low:.3f}/{average:.3f}/{high:.3f} ms")
        return lines


class TCPEchoProbe(Protocol):
    """Sends payloads on one TCP connection and reads back as many bytes."""

    def __init__(self, reactor: Any) -> None:
        self._reactor = reactor
        self._received = bytearray()
        self._expected = 0
        self._answer: Deferred[bytes | None] | None = None
        self.lost_reason: str | None = None

    def probe(self, payload: bytes, timeout: float) -> Deferred[bytes | None]:
        """Send C{payload}; fires with as many bytes back, or C{None} on timeout."""
        assert self.transport is not None
        self._expected = len(payload)
        self._answer = answer_within(self._reactor, timeout)
        self.transport.write(payload)
        self._check()
        return self._answer

    def dataReceived(self, data: bytes) -> None:
        self._received += data
        self._check()

    def _check(self) -> None:
        if self._answer is not None and len(self._received) >= self._expected:
            answer = bytes(self._received[: self._expected])
            del self._received[: self._expected]
            waiting, self._answer = self._answer, None
            give_answer(waiting, answer)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.lost_reason = (
            "server closed the connection"
            if reason.check(ConnectionDone)
            else reason.getErrorMessage()
        )
        if self._answer is not None:
            give_answer(self._answer, None)


class UDPEchoProbe(ConnectedDatagramProtocol):
    """Sends numbered datagrams and matches answers to the probe waiting for one."""

    def __init__(self, reactor: Any) -> None:
        self._reactor = reactor
        self._sequence = -1
        self._answer: Deferred[bytes | None] | None = None

    def probe(self, payload: bytes, timeout: float) -> Deferred[bytes | None]:
        self._sequence = _SEQUENCE.unpack_from(payload)[0]
        self._answer = answer_within(self._reactor, timeout)
        self.transport.write(payload, None)  # Connected: no address needed.
        return self._answer

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        if self._answer is None or len(datagram) < MIN_UDP_SIZE:
            return
        if _SEQUENCE.unpack_from(datagram)[0] == self._sequence:
            give_answer(self._answer, datagram)

    def refusal(self) -> None:
        if self._answer is not None:
            give_answer(self._answer, None)


def _payload(sequence: int, size: int, udp: bool) -> bytes:
    """Random bytes to echo; over UDP, led by the sequence number."""
    if udp:
        return _SEQUENCE.pack(sequence) + os.urandom(size - _SEQUENCE.size)
    return os.urandom(size)


def _first_difference(answer: bytes, payload: bytes) -> int:
    """The offset of the first byte that differs (or where one of them ends)."""
    for offset, (got, sent) in enumerate(zip(answer, payload, strict=False)):
        if got != sent:
            return offset
    return min(len(answer), len(payload))


async def ping(
    reactor: Any,
    host: str,
    port: int,
    *,
    udp: bool = False,
    count: int = 4,
    size: int = 56,
    interval: float = 1.0,
    timeout: float = 2.0,
    write: Callable[[str], None],
) -> PingReport:
    """
    Probe an echo server C{count} times and report; C{write} gets each output line.

    @raise twisted_tcp.cli.errors.ClientError: when it cannot resolve or connect.
    """
    target = f"{host} port {port}"
    report = PingReport()
    prober: TCPEchoProbe | UDPEchoProbe
    if udp:
        prober = UDPEchoProbe(reactor)
        await prober.open(reactor, host, port)
    else:
        prober = await connect_tcp(reactor, host, port, TCPEchoProbe(reactor))
    write(f"PING {target}: {size} bytes over {'UDP' if udp else 'TCP'}")
    try:
        for sequence in range(1, count + 1):
            if sequence > 1:
                await deferLater(reactor, interval)
            payload = _payload(sequence, size, udp)
            started = time.perf_counter()
            answer = await prober.probe(payload, timeout)
            elapsed = (time.perf_counter() - started) * 1000
            report.sent += 1
            if isinstance(prober, UDPEchoProbe) and prober.refused:
                report.refused = True
                write(f"seq={sequence} refused: nothing listens there")
                break
            if answer is None:
                write(f"seq={sequence} no answer within {timeout:g} s")
            elif answer != payload:
                report.mismatched += 1
                at = _first_difference(answer, payload)
                write(f"seq={sequence} payload mismatch at byte {at}")
            else:
                report.received += 1
                report.round_trips.append(elapsed)
                write(
                    f"{size} bytes from {target}: seq={sequence} time={elapsed:.3f} ms"
                )
            if isinstance(prober, TCPEchoProbe) and answer != payload:
                # The byte stream is out of step now: later answers would be wrong.
                write(f"stopping: {prober.lost_reason or 'the stream is out of step'}")
                break
    except CancelledError:
        # Ctrl-C: still show what was measured, as ping(8) does.
        for line in report.summary(target):
            write(line)
        raise
    finally:
        if isinstance(prober, UDPEchoProbe):
            await prober.close()
        else:
            assert prober.transport is not None
            prober.transport.loseConnection()
    for line in report.summary(target):
        write(line)
    return report


async def run(reactor: Any, arguments: argparse.Namespace) -> int:
    """C{twisted-tcp ping}: round trips to an echo server, payloads verified."""
    if arguments.udp and not MIN_UDP_SIZE <= arguments.size <= MAX_DATAGRAM:
        raise ClientError(2, f"--size must be {MIN_UDP_SIZE}-{MAX_DATAGRAM} with --udp")
    report = await ping(
        reactor, arguments.host, arguments.port, udp=arguments.udp,
        count=arguments.count, size=arguments.size, interval=arguments.interval,
        timeout=arguments.timeout, write=say,
    )  # fmt: skip
    if report.refused:
        return EXIT_CONNECT
    return EXIT_OK if report.ok else EXIT_FAILURE
