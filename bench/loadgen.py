"""
The load generator: asyncio on uvloop, in a process of its own, so that it is not
the bottleneck (the run shows it drives the fastest reference harder than ours).
Each mode prints one JSON object.

    python loadgen.py echo PORT --connections 100 --size 64 --seconds 5
    python loadgen.py burst PORT --clients 1000 --lines 1000 [--other-port P2]
    python loadgen.py steady PORT --clients 1000 --rate 20 --seconds 5 [--other-port P2]
    python loadgen.py idle PORT --connections 10000 --pid SERVER_PID

With --other-port (two nodes of one chat cluster), the burst's clients are split
between the two ports, and the steady load's sender is on PORT, its receivers on P2.
With --irc-port P (the same chat's IRC door), the burst's receivers are IRC clients
on P (the sender stays on PORT), and each client of a storm registers on P and joins
#storm, done at the end of its NAMES.
With --cpu-of PID (repeatable), the burst and the steady load also report the CPU
time each of those processes used during the load alone (cpu_s_0, cpu_s_1, ...).

Every wait is bounded by --timeout (seconds, after the load's own duration): a server
that cannot keep up is reported, not waited for. Such a run's object has an
"incomplete" entry saying what did not happen in time (for instance "did not deliver
all lines in 60 s: 998,120 of 1,000,000"); its figures count what did.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import statistics
import time
from collections.abc import Callable, Coroutine
from functools import partial
from typing import Any, cast

import uvloop

MARK = b"bench-msg"
#: The roll call's lines (see L{_roll_call}): unmarked, so no load counts them.
ROLL = b"bench-roll"
#: Seconds between two lines of the roll call.
ROLL_PERIOD = 0.1
#: A marked line's send time (perf_counter_ns), as the steady mode stamps it.
STAMP = re.compile(re.escape(MARK) + rb" (\d+)")


class IncompleteError(Exception):
    """A wait ran out of time: the server did not keep up."""


async def _all_done(futures: list[asyncio.Future[None]], timeout: float) -> int:
    """
    Wait at most TIMEOUT s for FUTURES; raise the first failure among them, and
    return how many are still pending.
    """
    done, pending = await asyncio.wait(
        futures, timeout=timeout, return_when=asyncio.FIRST_EXCEPTION
    )
    for future in done:
        future.result()
    return len(pending)


def _outcome() -> asyncio.Future[None]:
    """
    A client's outcome. The first failure ends a run; the other clients' failures
    that follow it (the server closing them all) are marked seen, not reported again.
    """
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    future.add_done_callback(lambda done: done.cancelled() or done.exception())
    return future


class EchoClient(asyncio.Protocol):
    """
    One closed-loop echo connection: sends the payload, waits for all of it back,
    checks it byte for byte, and sends again until the deadline. A protocol, not a
    stream: no coroutine is resumed per read, so the generator stays cheap.
    """

    def __init__(self, payload: bytes, deadline: float) -> None:
        self.payload = payload
        self.deadline = deadline
        self.received = bytearray()
        self.trips = 0
        self.done = _outcome()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        self.transport.write(self.payload)

    def data_received(self, data: bytes) -> None:
        self.received += data
        if len(self.received) < len(self.payload):
            return
        if self.received != self.payload:
            self._finish(AssertionError("echo mismatch"))
            return
        self.received.clear()
        self.trips += 1
        if time.perf_counter() < self.deadline:
            self.transport.write(self.payload)
        else:
            self._finish(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self._finish(AssertionError("the server closed an echo connection"))

    def _finish(self, error: Exception | None) -> None:
        if self.done.done():
            return
        if error is None:
            self.done.set_result(None)
        else:
            self.done.set_exception(error)
        self.transport.close()


async def echo(
    port: int, connections: int, size: int, seconds: float, timeout: float
) -> dict[str, float | str]:
    """Closed-loop round trips: each connection sends SIZE bytes and waits for them."""
    loop = asyncio.get_running_loop()
    payload = os.urandom(size)
    started = time.perf_counter()
    deadline = started + seconds
    clients = []
    for _ in range(connections):
        _, client = await loop.create_connection(
            lambda: EchoClient(payload, deadline), "127.0.0.1", port
        )
        clients.append(client)
    stalled = await _all_done(
        [client.done for client in clients], deadline + timeout - time.perf_counter()
    )
    elapsed = time.perf_counter() - started
    trips = sum(client.trips for client in clients)
    result: dict[str, float | str] = {
        "round_trips": trips,
        "round_trips_per_s": trips / elapsed,
        "mb_per_s": trips * size / elapsed / 1e6,
    }
    if stalled:
        result["incomplete"] = (
            f"{stalled} of {connections} connections got no answer in {timeout:g} s"
        )
    return result


class ChatClient(asyncio.Protocol):
    """
    One chat member that counts the marked lines it receives, handling whole reads
    at once (1000 of these must not make the generator the bottleneck).
    """

    def __init__(self) -> None:
        self.last_data = time.monotonic()
        self.called = False
        self.partial = b""
        self.wanted = self.seen = 0
        self.on_lines: Callable[[bytes], int] = lambda lines: 0
        self.done = _outcome()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def expect(self, count: int, on_lines: Callable[[bytes], int]) -> None:
        """Finish once COUNT marked lines arrived; ON_LINES counts them in a run."""
        self.wanted, self.on_lines = count, on_lines

    def data_received(self, data: bytes) -> None:
        self.last_data = time.monotonic()
        data = self.partial + data
        if not self.called:
            self.called = ROLL in data
        end = data.rfind(b"\n") + 1
        self.partial = data[end:]
        if self.wanted:
            self.seen += self.on_lines(data[:end])
            if self.seen >= self.wanted and not self.done.done():
                self.done.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_exception(AssertionError("server closed a receiver"))


def _registration(number: int, channel: bytes = b"") -> bytes:
    """What the Nth IRC client sends to register (and join C{channel})."""
    joining = b"JOIN %s\r\n" % channel if channel else b""
    return b"NICK bench%d\r\nUSER b 0 * :b\r\n%s" % (number, joining)


async def _members(
    ports: list[int], count: int, timeout: float, quiet: float = 0.5, irc: bool = False
) -> list[ChatClient]:
    """
    COUNT connected chat clients, the Nth on PORTS[N % len(PORTS)]. A server that
    announces each join sends about COUNT**2 / 2 notices: return only once every
    client has been quiet for QUIET s, or raise L{IncompleteError} if that takes more
    than TIMEOUT s.
    """
    loop = asyncio.get_running_loop()
    members = []
    for number in range(count):
        port = ports[number % len(ports)]
        _, member = await loop.create_connection(ChatClient, "127.0.0.1", port)
        if irc:
            member.transport.write(_registration(number))
        members.append(member)
    give_up = time.monotonic() + timeout
    while (silent := time.monotonic() - max(m.last_data for m in members)) < quiet:
        if time.monotonic() > give_up:
            raise IncompleteError(
                f"clients were still receiving joins after {timeout:g} s"
            )
        await asyncio.sleep(quiet - silent)
    return members


async def _roll_call(members: list[ChatClient], timeout: float) -> None:
    """
    Return once every member got a line the first one sent after they all
    connected: each is then in the room, and gets every line sent from now on. A
    quiet server does not say as much: a chat cluster's node lets a newcomer in
    only once Redis has answered for it, and a node slowed down by a busy machine
    can still be letting members in after everyone fell quiet (they then missed the
    first lines of the load, and the run never ended). A line goes out every
    ROLL_PERIOD s until all have one, since a member let in after a line was sent
    does not get that line. Raise L{IncompleteError} after TIMEOUT s.
    """
    give_up = time.monotonic() + timeout
    while absent := sum(not member.called for member in members):
        if time.monotonic() > give_up:
            raise IncompleteError(
                f"{absent} clients were not in the room after {timeout:g} s"
            )
        members[0].transport.write(ROLL + b"\n")
        await asyncio.sleep(ROLL_PERIOD)


async def burst(
    ports: list[int],
    clients: int,
    lines: int,
    timeout: float,
    watched: list[int],
    irc_port: int = 0,
) -> dict[str, float | str]:
    """
    One sender sends LINES at once; time until every client has every line, and
    the CPU time the WATCHED processes used meanwhile. With IRC_PORT, every
    client but the sender is an IRC client there.
    """
    if irc_port:
        members = [
            *await _members(ports[:1], 1, timeout),
            *await _members([irc_port], clients - 1, timeout, irc=True),
        ]
    else:
        members = await _members(ports, clients, timeout)
    await _roll_call(members, timeout)
    for member in members:
        member.expect(lines, lambda data: data.count(MARK))
    cpu = _cpu_seconds(watched)
    started = time.perf_counter()
    members[0].transport.write(b"".join(b"%s %d\n" % (MARK, n) for n in range(lines)))
    late = await _all_done([member.done for member in members], timeout)
    elapsed = time.perf_counter() - started
    for member in members:
        member.transport.close()
    delivered = sum(min(member.seen, lines) for member in members)
    result: dict[str, float | str] = {
        "deliveries_per_s": delivered / elapsed,
        "seconds": elapsed,
        **_cpu_used(watched, cpu),
    }
    if late:
        result["incomplete"] = _undelivered(timeout, delivered, clients * lines)
    return result


def _undelivered(timeout: float, delivered: int, expected: int) -> str:
    return f"did not deliver all lines in {timeout:g} s: {delivered:,} of {expected:,}"


async def steady(
    ports: list[int],
    clients: int,
    rate: float,
    seconds: float,
    timeout: float,
    watched: list[int],
) -> dict[str, float | str]:
    """
    One sender sends RATE lines/s, each stamped with its send time; the latency of
    every delivery. Also reports the rate the sender really kept (it falls behind if
    the machine is saturated), how long after the last send the last delivery came,
    and the CPU time the WATCHED processes used from the first send to then.
    """
    # The sender on the first port, every receiver on the last.
    members = [
        *await _members(ports[:1], 1, timeout),
        *await _members(ports[-1:], clients - 1, timeout),
    ]
    await _roll_call(members, timeout)
    total = max(2, int(rate * seconds))
    latencies: list[float] = []

    def record(data: bytes) -> int:
        now = time.perf_counter_ns()
        stamps = STAMP.findall(data)
        latencies.extend([(now - int(stamp)) / 1e6 for stamp in stamps])
        return len(stamps)

    for member in members:
        member.expect(total, record)
    sender = members[0].transport
    cpu = _cpu_seconds(watched)
    start = time.perf_counter()
    for n in range(total):
        await asyncio.sleep(max(0.0, start + n / rate - time.perf_counter()))
        sender.write(b"%s %d\n" % (MARK, time.perf_counter_ns()))
    last_sent = time.perf_counter()
    late = await _all_done([member.done for member in members], timeout)
    drained = time.perf_counter() - last_sent
    for member in members:
        member.transport.close()
    result: dict[str, float | str] = {
        "deliveries": len(latencies),
        "sent_lines_per_s": (total - 1) / (last_sent - start),
        "drain_ms": drained * 1e3,
        **_cpu_used(watched, cpu),
    }
    if len(latencies) > 1:
        cuts = statistics.quantiles(latencies, n=100)
        result["p50_ms"], result["p99_ms"] = cuts[49], cuts[98]
    if late:
        result["incomplete"] = _undelivered(timeout, len(latencies), clients * total)
    return result


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return int(next(line for line in status if line.startswith("VmRSS")).split()[1])


async def idle(
    port: int, connections: int, pid: int, timeout: float
) -> dict[str, float | str]:
    """Server RSS added per idle connection, at CONNECTIONS connections."""
    before = _rss_kib(pid)
    pairs: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    give_up = time.monotonic() + timeout
    for _ in range(connections):
        if time.monotonic() > give_up:
            raise IncompleteError(
                f"only {len(pairs)} connections made in {timeout:g} s"
            )
        pairs.append(
            await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
        )
    await asyncio.sleep(2)
    after = _rss_kib(pid)
    for _, writer in pairs:
        writer.close()
    return {"kib_per_connection": (after - before) / connections, "rss_kib": after}


def _cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def _cpu_seconds(pids: list[int]) -> list[float]:
    """
    The CPU time each process (all its threads) has used so far, as the scheduler
    counts it: in nanoseconds, where /proc/PID/stat counts 10 ms ticks, too coarse
    for a burst that takes a tenth of a second.
    """
    used = []
    for pid in pids:
        tasks = os.listdir(f"/proc/{pid}/task")
        nanoseconds = 0
        for task in tasks:
            # A thread may end meanwhile: what it used is then no longer counted.
            with (
                contextlib.suppress(FileNotFoundError),
                open(f"/proc/{pid}/task/{task}/schedstat") as stat,
            ):
                nanoseconds += int(stat.read().split()[0])
        used.append(nanoseconds / 1e9)
    return used


def _cpu_used(pids: list[int], before: list[float]) -> dict[str, float]:
    """C{cpu_s_N}: the CPU time the Nth process has used since C{before}."""
    now = _cpu_seconds(pids)
    return {f"cpu_s_{n}": now[n] - before[n] for n in range(len(pids))}


async def _until_idle(pid: int, timeout: float, quiet: float = 0.3) -> float:
    """
    Wait until the process used no CPU for QUIET s; return when that began. Raise
    L{IncompleteError} if it is still busy after TIMEOUT s.
    """
    ticks, since = _cpu_ticks(pid), time.perf_counter()
    give_up = since + timeout
    while time.perf_counter() - since < quiet:
        if time.perf_counter() > give_up:
            raise IncompleteError(f"the server was still busy after {timeout:g} s")
        await asyncio.sleep(0.02)
        now = _cpu_ticks(pid)
        if now != ticks:
            ticks, since = now, time.perf_counter()
    return since


class StormClient(asyncio.Protocol):
    """
    A chat member of a join storm: done once its first line (the welcome) came, or
    as an IRC client (given its registration), once its NAMES of #storm ended.
    """

    def __init__(self, registration: bytes = b"") -> None:
        self.welcomed = _outcome()
        self.registration = registration
        self.tail = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        if self.registration:
            self.transport.write(self.registration)

    def data_received(self, data: bytes) -> None:
        if self.welcomed.done():
            return
        if not self.registration:
            if b"\n" in data:
                self.welcomed.set_result(None)
            return
        seen = self.tail + data
        if b" 366 " in seen and b"#storm :" in seen[seen.find(b" 366 ") :]:
            self.welcomed.set_result(None)
        self.tail = seen[-64:]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.welcomed.done():
            self.welcomed.set_exception(AssertionError("server closed a newcomer"))


async def storm(
    port: int, clients: int, pid: int, timeout: float, irc: bool = False
) -> dict[str, float | str]:
    """
    CLIENTS connect at once and wait for their welcome: the time until every one is
    welcomed, the server's RSS per member, then the time from closing them all
    until the server is idle again (its CPU time stops growing).
    """
    loop = asyncio.get_running_loop()
    before = _rss_kib(pid)
    started = time.perf_counter()
    registrations = [
        _registration(n, b"#storm") if irc else b"" for n in range(clients)
    ]
    connecting = [
        loop.create_connection(partial(StormClient, sent), "127.0.0.1", port)
        for sent in registrations
    ]
    members = [member for _, member in await asyncio.gather(*connecting)]
    if unwelcomed := await _all_done([m.welcomed for m in members], timeout):
        raise IncompleteError(
            f"{unwelcomed} of {clients} clients not welcomed in {timeout:g} s"
        )
    welcomed = time.perf_counter() - started
    await _until_idle(pid, timeout)
    rss = _rss_kib(pid)
    leaving = time.perf_counter()
    for member in members:
        member.transport.close()
    left = await _until_idle(pid, timeout) - leaving
    return {
        "join_s": welcomed,
        "leave_s": max(0.0, left),
        "kib_per_member": (rss - before) / clients,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["echo", "burst", "steady", "idle", "storm"])
    parser.add_argument("port", type=int)
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--lines", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--pid", type=int, default=0)
    parser.add_argument("--other-port", type=int, default=0)
    parser.add_argument("--irc-port", type=int, default=0)
    parser.add_argument(
        "--cpu-of",
        type=int,
        action="append",
        default=[],
        help="a process whose CPU time the burst or steady load reports (cpu_s_N)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=60,
        help="the longest wait for the server, past the load's own duration (s)",
    )
    arguments = parser.parse_args()
    uvloop.install()
    ports = [arguments.port, *([arguments.other_port] if arguments.other_port else [])]
    timeout = arguments.timeout
    job: Coroutine[Any, Any, dict[str, float | str]]
    if arguments.mode == "echo":
        job = echo(
            arguments.port,
            arguments.connections,
            arguments.size,
            arguments.seconds,
            timeout,
        )
    elif arguments.mode == "burst":
        job = burst(
            ports,
            arguments.clients,
            arguments.lines,
            timeout,
            arguments.cpu_of,
            arguments.irc_port,
        )
    elif arguments.mode == "steady":
        job = steady(
            ports,
            arguments.clients,
            arguments.rate,
            arguments.seconds,
            timeout,
            arguments.cpu_of,
        )
    elif arguments.mode == "storm":
        if arguments.irc_port:
            job = storm(
                arguments.irc_port, arguments.clients, arguments.pid, timeout, True
            )
        else:
            job = storm(arguments.port, arguments.clients, arguments.pid, timeout)
    else:
        job = idle(arguments.port, arguments.connections, arguments.pid, timeout)
    try:
        result = asyncio.run(job)
    except IncompleteError as incomplete:
        result = {"incomplete": str(incomplete)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
