"""
Tests for L{twisted_tcp.cli.ping}: probes sent at a fixed pace whatever the answers
do, answers matched to probes, late and lost ones counted; on a test clock and an
in-memory transport.
"""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import given
from hypothesis import strategies as st
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from twisted_tcp.cli.ping import Pinger, PingReport, TCPEchoProbe

from ..support import byte_by_byte, feed, splits


class Run:
    """A L{Pinger} on a test clock, with what it sent and wrote."""

    def __init__(
        self, count: int, interval: float = 1.0, timeout: float = 2.0, udp: bool = True,
        send: Callable[[int, bytes], None] | None = None,
    ) -> None:  # fmt: skip
        self.clock = Clock()
        self.sent: list[tuple[int, bytes]] = []
        self.lines: list[str] = []
        self.pinger = Pinger(
            self.clock, send or (lambda *probe: self.sent.append(probe)),
            self.lines.append,
            target="h port 7", udp=udp, count=count, size=16, interval=interval,
            timeout=timeout,
        )  # fmt: skip
        self.reports: list[PingReport] = []
        self.pinger.finished.addCallback(self.reports.append)

    def echo(self, sequence: int) -> None:
        self.pinger.answer(sequence, dict(self.sent)[sequence])


def test_probes_go_at_a_fixed_pace_without_answers() -> None:
    """
    With no answer at all, 300 probes a millisecond apart are all sent 0.299 s
    after the first; the run ends when the last one's timeout passes, all lost.
    """
    run = Run(count=300, interval=0.001, timeout=2.0)
    run.pinger.start()
    run.clock.pump([0.001] * 299)
    assert [sequence for sequence, _ in run.sent] == list(range(1, 301))
    assert run.reports == []
    run.clock.advance(2.0)
    [report] = run.reports
    assert (report.sent, report.received, report.lost) == (300, 0, 300)
    assert run.lines == [f"seq={n} no answer within 2 s" for n in range(1, 301)]
    assert run.clock.getDelayedCalls() == []


def test_pace_is_kept_from_the_start() -> None:
    """
    A late turn of the clock sends every overdue probe at once, then the schedule
    goes on from the start, not from the late turn.
    """
    run = Run(count=4, interval=1.0)
    run.pinger.start()
    run.clock.advance(2.5)  # The probes due at 1 s and 2 s go out now ...
    assert len(run.sent) == 3
    run.clock.advance(0.4)
    assert len(run.sent) == 3
    run.clock.advance(0.1)  # ... and the last one at 3 s, on schedule.
    assert len(run.sent) == 4


def test_answers_in_any_order() -> None:
    """Answers are matched to probes by number, whatever order they come in."""
    run = Run(count=3, interval=0.1)
    run.pinger.start()
    run.clock.pump([0.1, 0.1])
    for sequence in (3, 1, 2):
        run.echo(sequence)
    [report] = run.reports
    assert (report.sent, report.received, report.late, report.lost) == (3, 3, 0, 0)
    assert report.ok
    assert [line.split(": ")[1].split(" ")[0] for line in run.lines] == [
        "seq=3", "seq=1", "seq=2"
    ]  # fmt: skip


def test_late_answer_counted_late() -> None:
    """An answer after its probe's timeout, while the run lasts, is late, not lost."""
    run = Run(count=2, interval=1.0, timeout=1.5)
    run.pinger.start()
    run.clock.advance(1.0)  # Probe 2 goes out.
    run.clock.advance(0.5)  # Probe 1 times out.
    assert run.lines == ["seq=1 no answer within 1.5 s"]
    run.clock.advance(0.5)
    run.echo(1)
    assert run.lines[1] == "seq=1 late answer: time=2000.000 ms"
    run.echo(2)
    [report] = run.reports
    assert (report.received, report.late, report.lost) == (1, 1, 0)
    assert not report.ok
    assert report.round_trips == [2000.0, 1000.0]


def test_second_answer_ignored() -> None:
    """A duplicated answer counts once."""
    run = Run(count=2, interval=1.0)
    run.pinger.start()
    run.echo(1)
    run.echo(1)
    assert run.pinger.report.received == 1
    assert len(run.lines) == 1


def test_mismatch_reported() -> None:
    """An answer that differs from its probe is a mismatch, at the first bad byte."""
    run = Run(count=1)
    run.pinger.start()
    sequence, payload = run.sent[0]
    assert not run.pinger.answer(sequence, payload[:5] + b"?" + payload[6:])
    assert run.lines == ["seq=1 payload mismatch at byte 5"]
    [report] = run.reports
    assert (report.mismatched, report.lost) == (1, 0)


def test_summary_lines() -> None:
    """The statistics count received, late, lost and mismatched probes."""
    report = PingReport(sent=10, received=6, late=1, mismatched=1)
    report.round_trips = [1.0, 2.0, 6.0]
    assert report.summary("h port 7") == [
        "--- h port 7 ping statistics ---",
        "10 sent, 6 received, 1 late, 2 lost, 1 mismatched, 20.0% loss",
        "min/avg/max = 1.000/3.000/6.000 ms",
    ]


def tcp_run(count: int) -> tuple[Run, TCPEchoProbe, StringTransport]:
    """A run over a TCP prober on a string transport, every probe sent."""
    prober = TCPEchoProbe()
    transport = StringTransport()
    prober.makeConnection(transport)
    run = Run(count=count, interval=0.0, udp=False, send=prober.send)
    prober.pinger = run.pinger
    run.pinger.start()
    run.clock.pump([0.0] * count)
    return run, prober, transport


@given(st.data())
def test_tcp_echo_at_random_splits(data: st.DataObject) -> None:
    """Over TCP the echoed stream is cut into answers in order, however it arrives."""
    run, prober, transport = tcp_run(3)
    feed(prober, data.draw(splits(transport.value())))
    [report] = run.reports
    assert (report.received, report.mismatched) == (3, 0)


def test_tcp_echo_byte_by_byte() -> None:
    """The echo arriving a byte at a time answers every probe."""
    run, prober, transport = tcp_run(2)
    feed(prober, byte_by_byte(transport.value()))
    assert run.reports[0].received == 2


def test_tcp_mismatch_stops_the_run() -> None:
    """Over TCP a mismatch puts the stream out of step: the run stops there."""
    run, prober, transport = tcp_run(3)
    echoed = bytearray(transport.value())
    echoed[20] ^= 1  # In the second probe's answer.
    prober.dataReceived(bytes(echoed))
    [report] = run.reports
    assert (report.received, report.mismatched, report.lost) == (1, 1, 1)
    assert run.lines[-1] == "stopping: the stream is out of step"
