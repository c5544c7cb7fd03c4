"""
C{twisted-tcp ping} (docs/clients.md): measure an echo server's round trips over TCP
or UDP, verifying that every payload comes back exactly.

Probes go out at a fixed pace, as ping(8) sends them, whatever the answers do: one
lost answer delays nothing. Each probe has C{--timeout} seconds to come back; one
that comes back later, while the run goes on, is counted late, and one that never
does, lost.
"""

from __future__ import annotations

import argparse
import os
import struct
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.protocol import Protocol, connectionDone
from twisted.python.failure import Failure

from twisted_tcp.cli import say
from twisted_tcp.cli.connect import connect_tcp
from twisted_tcp.cli.datagram import ConnectedDatagramProtocol
from twisted_tcp.cli.errors import ClientError
from twisted_tcp.cli.exitcodes import EXIT_CONNECT, EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from twisted_tcp.udp_echo import MAX_DATAGRAM

#: Each UDP probe starts with its sequence number, so answers are matched to probes
#: whatever their order.
_SEQUENCE = struct.Struct("!Q")
MIN_UDP_SIZE: Final = _SEQUENCE.size


@dataclass
class PingReport:
    """What a run of probes measured."""

    sent: int = 0
    #: Came back exactly, within the timeout.
    received: int = 0
    #: Came back exactly, after the timeout.
    late: int = 0
    mismatched: int = 0
    refused: bool = False
    #: Milliseconds, of every probe that came back exactly (late ones too).
    round_trips: list[float] = field(default_factory=list)

    @property
    def lost(self) -> int:
        """Probes that never came back while the run lasted."""
        return self.sent - self.received - self.late - self.mismatched

    @property
    def ok(self) -> bool:
        return self.sent > 0 and self.received == self.sent

    def summary(self, target: str) -> list[str]:
        """The closing lines, in the style of ping(8)."""
        loss = 100.0 * self.lost / self.sent if self.sent else 0.0
        lines = [
            f"--- {target} ping statistics ---",
            f"{self.sent} sent, {self.received} received, {self.late} late, "
            f"{self.lost} lost, {self.mismatched} mismatched, {loss:.1f}% loss",
        ]
        if self.round_trips:
            low, high = min(self.round_trips), max(self.round_trips)
            average = sum(self.round_trips) / len(self.round_trips)
            lines.append(f"min/avg/max = {low:.3f}/{average:.3f}/{high:.3f} ms")
        return lines


@dataclass
class _Probe:
    """One payload sent, and its timeout while it has not come back."""

    payload: bytes
    sent_at: float
    deadline: IDelayedCall | None = None


class Pinger:
    """
    Sends C{count} probes, one every C{interval} seconds from the start, through
    C{send}; hears what comes back through L{answer}; C{finished} fires with the
    report once every probe is answered or past its timeout, or at L{stop}.

    @param send: puts one probe on the wire: its sequence number and payload.
    @param write: gets each output line.
    """

    def __init__(
        self,
        clock: IReactorTime,
        send: Callable[[int, bytes], None],
        write: Callable[[str], None],
        *,
        target: str,
        udp: bool,
        count: int,
        size: int,
        interval: float,
        timeout: float,
    ) -> None:
        self.report = PingReport()
        self.finished: Deferred[PingReport] = Deferred()
        self._clock = clock
        self._send = send
        self._write = write
        self._target = target
        self._udp = udp
        self._count = count
        self._size = size
        self._interval = interval
        self._timeout = timeout
        self._probes: dict[int, _Probe] = {}
        self._waiting = 0
        self._started = 0.0
        self._next: IDelayedCall | None = None

    def start(self) -> None:
        """Send the first probe now, and the others on their schedule."""
        self._started = self._clock.seconds()
        self._send_next()

    def _send_next(self) -> None:
        self._next = None
        sequence = self.report.sent + 1
        payload = _payload(sequence, self._size, self._udp)
        probe = _Probe(payload, self._clock.seconds())
        probe.deadline = self._clock.callLater(self._timeout, self._expire, sequence)
        self._probes[sequence] = probe
        self.report.sent = sequence
        self._waiting += 1
        self._send(sequence, payload)
        if self.finished.called or self.report.sent == self._count:
            return
        # Paced from the start, not from the last send: a slow turn of the
        # reactor does not push every later probe back.
        due = self._started + self._interval * self.report.sent
        delay = max(0.0, due - self._clock.seconds())
        self._next = self._clock.callLater(delay, self._send_next)

    def answer(self, sequence: int, answer: bytes) -> bool:
        """
        What came back for probe C{sequence} (a second answer is ignored); whether
        it came back exactly.
        """
        probe = self._probes.pop(sequence, None)
        if probe is None:
            return True
        elapsed = (self._clock.seconds() - probe.sent_at) * 1000
        on_time = probe.deadline is not None
        if probe.deadline is not None:
            probe.deadline.cancel()
            probe.deadline = None
            self._waiting -= 1
        if answer != probe.payload:
            self.report.mismatched += 1
            at = _first_difference(answer, probe.payload)
            self._write(f"seq={sequence} payload mismatch at byte {at}")
            self._check_done()
            return False
        if on_time:
            self.report.received += 1
            self.report.round_trips.append(elapsed)
            self._write(
                f"{self._size} bytes from {self._target}: seq={sequence} "
                f"time={elapsed:.3f} ms"
            )
        else:
            self.report.late += 1
            self.report.round_trips.append(elapsed)
            self._write(f"seq={sequence} late answer: time={elapsed:.3f} ms")
        self._check_done()
        return True

    def _expire(self, sequence: int) -> None:
        """Probe C{sequence} has had its time; an answer now is a late one."""
        self._probes[sequence].deadline = None
        self._waiting -= 1
        self._write(f"seq={sequence} no answer within {self._timeout:g} s")
        self._check_done()

    def _check_done(self) -> None:
        if self.report.sent == self._count and not self._waiting:
            self.stop()

    def refused(self) -> None:
        """The peer says nothing listens there: the run ends now."""
        if not self.finished.called:
            self.report.refused = True
            self._write(f"seq={self.report.sent} refused: nothing listens there")
            self.stop()

    def stop(self, why: str | None = None) -> None:
        """End the run now (saying C{why}, if given); what did not come back is lost."""
        if self.finished.called:
            return
        if why is not None:
            self._write(f"stopping: {why}")
        self.cancel_timers()
        self.finished.callback(self.report)

    def cancel_timers(self) -> None:
        """Send nothing more and stop every timeout (the run is over)."""
        if self._next is not None and self._next.active():
            self._next.cancel()
        self._next = None
        for probe in self._probes.values():
            if probe.deadline is not None and probe.deadline.active():
                probe.deadline.cancel()
            probe.deadline = None


class TCPEchoProbe(Protocol):
    """
    Carries probes on one TCP connection: the echo comes back in order, so the
    next C{len(payload)} bytes are the answer to the oldest probe not yet answered.
    """

    pinger: Pinger

    def __init__(self) -> None:
        self._received = bytearray()
        self._unanswered: deque[tuple[int, int]] = deque()

    def send(self, sequence: int, payload: bytes) -> None:
        assert self.transport is not None
        self._unanswered.append((sequence, len(payload)))
        self.transport.write(payload)

    def dataReceived(self, data: bytes) -> None:
        self._received += data
        while self._unanswered and len(self._received) >= self._unanswered[0][1]:
            sequence, size = self._unanswered.popleft()
            answer = bytes(self._received[:size])
            del self._received[:size]
            if not self.pinger.answer(sequence, answer):
                # The byte stream is out of step now: later answers would be wrong.
                self.pinger.stop("the stream is out of step")
                return

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.pinger.stop(
            "server closed the connection"
            if reason.check(ConnectionDone)
            else reason.getErrorMessage()
        )


class UDPEchoProbe(ConnectedDatagramProtocol):
    """Carries numbered probes in datagrams, matching answers by their number."""

    pinger: Pinger

    def send(self, sequence: int, payload: bytes) -> None:
        if not self.refused:
            self.transport.write(payload, None)  # Connected: no address needed.

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        if len(datagram) >= MIN_UDP_SIZE:
            self.pinger.answer(_SEQUENCE.unpack_from(datagram)[0], datagram)

    def refusal(self) -> None:
        self.pinger.refused()


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
    prober: TCPEchoProbe | UDPEchoProbe
    if udp:
        prober = UDPEchoProbe()
        await prober.open(reactor, host, port)
    else:
        prober = await connect_tcp(reactor, host, port, TCPEchoProbe())
    pinger = prober.pinger = Pinger(
        reactor, prober.send, write, target=target, udp=udp, count=count,
        size=size, interval=interval, timeout=timeout,
    )  # fmt: skip
    write(f"PING {target}: {size} bytes over {'UDP' if udp else 'TCP'}")
    try:
        pinger.start()
        report = await pinger.finished
    except CancelledError:
        # Ctrl-C: still show what was measured, as ping(8) does.
        for line in pinger.report.summary(target):
            write(line)
        raise
    finally:
        pinger.cancel_timers()
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
        raise ClientError(
            EXIT_USAGE, f"--size must be {MIN_UDP_SIZE}-{MAX_DATAGRAM} with --udp"
        )
    report = await ping(
        reactor, arguments.host, arguments.port, udp=arguments.udp,
        count=arguments.count, size=arguments.size, interval=arguments.interval,
        timeout=arguments.timeout, write=say,
    )  # fmt: skip
    if report.refused:
        return EXIT_CONNECT
    return EXIT_OK if report.ok else EXIT_FAILURE
