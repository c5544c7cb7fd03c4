"""
The load generator: asyncio on uvloop, in a process of its own, so that it is not
the bottleneck (the run shows it drives the fastest reference harder than ours).
Each mode prints one JSON object.

    python loadgen.py echo PORT --connections 100 --size 64 --seconds 5
    python loadgen.py burst PORT --clients 1000 --lines 1000
    python loadgen.py steady PORT --clients 1000 --rate 20 --seconds 5
    python loadgen.py idle PORT --connections 10000 --pid SERVER_PID
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import time
from collections.abc import Callable

import uvloop

MARK = b"bench-msg"
#: A marked line's send time (perf_counter_ns), as the steady mode stamps it.
STAMP = re.compile(re.escape(MARK) + rb" (\d+)")


async def echo(
    port: int, connections: int, size: int, seconds: float
) -> dict[str, float]:
    """Closed-loop round trips: each connection sends SIZE bytes and waits for them."""
    payload = os.urandom(size)
    counts = [0] * connections
    deadline = time.perf_counter() + seconds

    async def one(index: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while time.perf_counter() < deadline:
            writer.write(payload)
            answer = await reader.readexactly(size)
            if answer != payload:
                raise AssertionError("echo mismatch")
            counts[index] += 1
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(connections)))
    elapsed = time.perf_counter() - started
    trips = sum(counts)
    return {
        "round_trips_per_s": trips / elapsed,
        "mb_per_s": trips * size / elapsed / 1e6,
    }


async def _receivers(
    port: int, clients: int
) -> list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    pairs = []
    for _ in range(clients):
        pairs.append(await asyncio.open_connection("127.0.0.1", port, limit=1 << 20))
    # A server that announces each join sends about clients**2 / 2 notices: start the
    # measurement only once every receiver has been quiet for a while.
    await asyncio.gather(*(_until_quiet(reader) for reader, _ in pairs))
    return pairs


async def _until_quiet(reader: asyncio.StreamReader, quiet: float = 0.5) -> None:
    """Read and drop whatever arrives until nothing has for QUIET seconds."""
    while True:
        try:
            if not await asyncio.wait_for(reader.read(1 << 16), quiet):
                raise AssertionError("server closed a receiver")
        except TimeoutError:
            return


async def _receive(
    reader: asyncio.StreamReader, count: int, on_lines: Callable[[bytes], int]
) -> None:
    """
    Read until COUNT marked lines have arrived. Lines are handled in bulk, not one
    by one, so that 1000 receivers cost the load generator little: ON_LINES gets each
    run of complete lines and returns how many marked lines it held.
    """
    seen = 0
    partial = b""
    while seen < count:
        chunk = await reader.read(1 << 16)
        if not chunk:
            raise AssertionError("server closed a receiver")
        data = partial + chunk
        end = data.rfind(b"\n") + 1
        seen += on_lines(data[:end])
        partial = data[end:]


async def burst(port: int, clients: int, lines: int) -> dict[str, float]:
    """One sender sends LINES at once; time until every client has every line."""
    pairs = await _receivers(port, clients)
    sender = pairs[0][1]
    started = time.perf_counter()
    sender.write(b"".join(b"%s %d\n" % (MARK, n) for n in range(lines)))
    await asyncio.gather(
        *(_receive(reader, lines, lambda data: data.count(MARK)) for reader, _ in pairs)
    )
    elapsed = time.perf_counter() - started
    for _, writer in pairs:
        writer.close()
    return {"deliveries_per_s": clients * lines / elapsed, "seconds": elapsed}


async def steady(
    port: int, clients: int, rate: float, seconds: float
) -> dict[str, float]:
    """
    One sender sends RATE lines/s, each stamped with its send time; the latency of
    every delivery. Also reports the rate the sender really kept (it falls behind if
    the machine is saturated) and how long after the last send the last delivery came.
    """
    pairs = await _receivers(port, clients)
    total = max(2, int(rate * seconds))
    latencies: list[float] = []

    def record(data: bytes) -> int:
        now = time.perf_counter_ns()
        stamps = STAMP.findall(data)
        latencies.extend([(now - int(stamp)) / 1e6 for stamp in stamps])
        return len(stamps)

    last_sent = sent_rate = 0.0

    async def send() -> None:
        nonlocal last_sent, sent_rate
        start = time.perf_counter()
        for n in range(total):
            await asyncio.sleep(max(0.0, start + n / rate - time.perf_counter()))
            pairs[0][1].write(b"%s %d\n" % (MARK, time.perf_counter_ns()))
        last_sent = time.perf_counter()
        sent_rate = (total - 1) / (last_sent - start)

    await asyncio.gather(send(), *(_receive(r, total, record) for r, _ in pairs))
    drained = time.perf_counter() - last_sent
    for _, writer in pairs:
        writer.close()
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "p50_ms": cuts[49],
        "p99_ms": cuts[98],
        "deliveries": len(latencies),
        "sent_lines_per_s": sent_rate,
        "drain_ms": drained * 1e3,
    }


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return int(next(line for line in status if line.startswith("VmRSS")).split()[1])


async def idle(port: int, connections: int, pid: int) -> dict[str, float]:
    """Server RSS added per idle connection, at CONNECTIONS connections."""
    before = _rss_kib(pid)
    pairs = []
    for _ in range(connections):
        pairs.append(await asyncio.open_connection("127.0.0.1", port))
    await asyncio.sleep(2)
    after = _rss_kib(pid)
    for _, writer in pairs:
        writer.close()
    return {"kib_per_connection": (after - before) / connections, "rss_kib": after}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["echo", "burst", "steady", "idle"])
    parser.add_argument("port", type=int)
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--lines", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--pid", type=int, default=0)
    arguments = parser.parse_args()
    uvloop.install()
    if arguments.mode == "echo":
        job = echo(
            arguments.port, arguments.connections, arguments.size, arguments.seconds
        )
    elif arguments.mode == "burst":
        job = burst(arguments.port, arguments.clients, arguments.lines)
    elif arguments.mode == "steady":
        job = steady(
            arguments.port, arguments.clients, arguments.rate, arguments.seconds
        )
    else:
        job = idle(arguments.port, arguments.connections, arguments.pid)
    print(json.dumps(asyncio.run(job)))


if __name__ == "__main__":
    main()
