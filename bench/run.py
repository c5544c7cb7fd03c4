"""
Runs every benchmark of bench/README.md side by side in one process tree and prints
the table with ratios. Servers and clients are subprocesses of this script; the load
generator (uvloop) runs in a process of its own.

    python bench/run.py [--quick] [--markdown FILE]
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import math
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

HERE = Path(__file__).resolve().parent
REFERENCE = HERE / "reference"
PYTHON = sys.executable
BIN = Path(sys.executable).parent
SHM = Path("/dev/shm") if Path("/dev/shm").is_dir() else Path(tempfile.gettempdir())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(
    port: int, process: subprocess.Popen[bytes], timeout: float = 20
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", port), 0.2),
        ):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


@contextlib.contextmanager
def server(argv: list[str], port: int) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for_port(port, process)
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


#: The longest the load generator waits for a server, past the load's own duration
#: (its --timeout): a server that has not delivered by then is reported as such.
LOADGEN_TIMEOUT: Final = 60.0
#: The longest a load generator process may run at all, whatever it is doing.
LOADGEN_LIMIT: Final = 600.0

#: A load generator's result: its figures, and when the run did not complete, an
#: "incomplete" entry saying what did not happen in time.
Result = dict[str, Any]


def loadgen(*args: object) -> Result:
    """
    Run the load generator; its result. A run that fails or overruns is reported in
    the result ("incomplete"), never raised, so one reference that cannot keep up
    does not stop the table.
    """
    argv = [PYTHON, str(HERE / "loadgen.py"), *map(str, args)]
    argv += ["--timeout", str(LOADGEN_TIMEOUT)]
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=LOADGEN_LIMIT
        )
    except subprocess.TimeoutExpired:
        return {"incomplete": f"the load generator ran over {LOADGEN_LIMIT:g} s"}
    if done.returncode:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        return {"incomplete": f"the load generator failed: {last}"}
    result: Result = json.loads(done.stdout)
    if "incomplete" in result:
        print(f"  incomplete: {result['incomplete']}", flush=True)
    return result


def figure(result: Result, key: str) -> float:
    """A figure of a result, NaN if the run did not get as far as measuring it."""
    value = result.get(key)
    return float(value) if isinstance(value, int | float) else math.nan


def noted(cell: str, note: str | None) -> str:
    """A table cell, with what did not complete in brackets."""
    return f"{cell} ({note})" if note else cell


def twist(*argv: str) -> list[str]:
    return [str(BIN / "twist"), "--log-level=warn", *argv]


ECHO_SERVERS = {
    "twisted-tcp": lambda port: twist("tcp-echo", "--port", str(port)),
    "asyncio": lambda port: [PYTHON, str(REFERENCE / "asyncio_echo.py"), str(port)],
    "uvloop": lambda port: [
        PYTHON,
        str(REFERENCE / "asyncio_echo.py"),
        str(port),
        "--uvloop",
    ],
    "threaded": lambda port: [PYTHON, str(REFERENCE / "threaded_echo.py"), str(port)],
}

CHAT_SERVERS = {
    "twisted-tcp": lambda port: twist(
        "tcp-chat",
        "--port",
        str(port),
        "--flood-rate",
        "0",
        "--max-connections",
        "0",
    ),
    "twisted docs chat": lambda port: [
        PYTHON,
        str(REFERENCE / "twisted_docs_chat.py"),
        str(port),
    ],
    "threaded": lambda port: [PYTHON, str(REFERENCE / "threaded_chat.py"), str(port)],
}


#: The echo loads: result key, size in the table, unit. 64 B counts round trips;
#: the larger sizes count bytes.
ECHO_SIZES: Final = (
    ("rt_64", "64 B", "round trips/s"),
    ("mbs_16k", "16 KiB", "MB/s"),
    ("mbs_64k", "64 KiB", "MB/s"),
)


def bench_echo(seconds: float, rounds: int) -> dict[str, dict[str, Any]]:
    """
    Each server in turn, ROUNDS times over (the machine is noisy): medians, and for
    a size where some round did not complete, the last such note ("note_" + key).
    Also the server's own CPU time (user and system, all its threads) per round
    trip, the least of the rounds ("cpu_" + key, in µs): on a shared machine it
    moves far less than throughput does.
    """
    samples: dict[str, dict[str, list[float]]] = {
        name: {key: [] for key, _, _ in ECHO_SIZES} for name in ECHO_SERVERS
    }
    cpu: dict[str, dict[str, list[float]]] = {
        name: {key: [] for key, _, _ in ECHO_SIZES} for name in ECHO_SERVERS
    }
    notes: dict[str, dict[str, str]] = {name: {} for name in ECHO_SERVERS}
    for _ in range(rounds):
        for name, command in ECHO_SERVERS.items():
            port = free_port()
            with server(command(port), port) as process:
                for key, size, metric in (
                    ("rt_64", 64, "round_trips_per_s"),
                    ("mbs_16k", 16384, "mb_per_s"),
                    ("mbs_64k", 65536, "mb_per_s"),
                ):
                    used = _cpu_seconds(process.pid)
                    result = loadgen("echo", port, "--size", size, "--seconds", seconds)
                    used = _cpu_seconds(process.pid) - used
                    samples[name][key].append(figure(result, metric))
                    trips = figure(result, "round_trips")
                    cpu[name][key].append(used / trips * 1e6 if trips else math.nan)
                    if "incomplete" in result:
                        notes[name][key] = result["incomplete"]
            print(
                f"echo {name}: "
                + ", ".join(
                    f"{key} {runs[-1]:,.0f}" for key, runs in samples[name].items()
                ),
                flush=True,
            )
    return {
        name: {
            **{key: statistics.median(values) for key, values in runs.items()},
            **{f"cpu_{key}": min(values) for key, values in cpu[name].items()},
            **{f"note_{key}": note for key, note in notes[name].items()},
        }
        for name, runs in samples.items()
    }


#: The echo servers of the operations rows: the plain one, with --metrics, and with
#: --workers (its CPU is that of the parent and every worker).
OPS_SERVERS: Final = {
    "plain": lambda port: twist("tcp-echo", "--port", str(port)),
    "metrics": lambda port: twist(
        "tcp-echo",
        "--port",
        str(port),
        "--metrics",
        f"tcp:{free_port()}:interface=127.0.0.1",
    ),
    "1 worker": lambda port: twist("tcp-echo", "--port", str(port), "--workers", "1"),
    "2 workers": lambda port: twist("tcp-echo", "--port", str(port), "--workers", "2"),
}


def _tree_cpu_seconds(pid: int) -> float:
    """CPU time a process and its children (a server's workers) have used so far."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return _cpu_seconds(pid) + sum(_cpu_seconds(int(child)) for child in children)


def bench_ops(seconds: float, rounds: int) -> dict[str, dict[str, float]]:
    """
    Echo 64 B against each of OPS_SERVERS, ROUNDS times over, in turn: the median
    round trips/s, and the least server CPU µs per round trip (all its processes).
    """
    rates: dict[str, list[float]] = {name: [] for name in OPS_SERVERS}
    cpu: dict[str, list[float]] = {name: [] for name in OPS_SERVERS}
    for _ in range(rounds):
        for name, command in OPS_SERVERS.items():
            port = free_port()
            with server(command(port), port) as process:
                used = _tree_cpu_seconds(process.pid)
                result = loadgen("echo", port, "--size", 64, "--seconds", seconds)
                used = _tree_cpu_seconds(process.pid) - used
            rates[name].append(figure(result, "round_trips_per_s"))
            trips = figure(result, "round_trips")
            cpu[name].append(used / trips * 1e6 if trips else math.nan)
            print(f"ops {name}: {rates[name][-1]:,.0f} round trips/s", flush=True)
    return {
        name: {"rate": statistics.median(rates[name]), "cpu": min(cpu[name])}
        for name in OPS_SERVERS
    }


#: A chat server sustains a steady rate if the sender (sharing the machine) kept at
#: least this share of the rate...
KEPT_SCHEDULE: Final = 0.95
#: ...and no backlog built up: the 99th percentile delivery latency stayed under this.
BACKLOG_P99_MS: Final = 100.0


def steady_run(
    command: Callable[[int], list[str]], clients: int, rate: float, seconds: float
) -> Result:
    port = free_port()
    with server(command(port), port):
        result = loadgen(
            "steady", port, "--clients", clients, "--rate", rate, "--seconds", seconds
        )
    result["sustained"] = float(
        "incomplete" not in result
        and figure(result, "sent_lines_per_s") >= KEPT_SCHEDULE * rate
        and figure(result, "p99_ms") <= BACKLOG_P99_MS
    )
    return result


def sustained_rate(
    command: Callable[[int], list[str]], clients: int, seconds: float, start: float
) -> float:
    """
    The highest steady rate (lines/s to CLIENTS) a chat server sustains: double from
    START until it does not, then halve the gap twice (START if it sustains none).
    """
    good, bad = 0.0, start
    while True:
        result = steady_run(command, clients, bad, seconds)
        print(f"  sustain search {bad:g} lines/s: {result}", flush=True)
        if not result["sustained"]:
            break
        good, bad = bad, bad * 2
    for _ in range(2):
        middle = (good + bad) / 2
        result = steady_run(command, clients, middle, seconds)
        print(f"  sustain search {middle:g} lines/s: {result}", flush=True)
        if result["sustained"]:
            good = middle
        else:
            bad = middle
    if not good:
        # The table still gets its rows, at START, each cell saying what failed.
        print(f"  the reference does not sustain even {start:g} lines/s", flush=True)
        return start
    return good


def bench_chat(
    clients: int, lines: int, seconds: float, start_rate: float
) -> tuple[dict[str, dict[str, Any]], list[float]]:
    """
    The burst for each server, then steady load at the rate the threaded reference
    just sustains and at twice it. Returns the results and those two rates.
    """
    rate = sustained_rate(CHAT_SERVERS["threaded"], clients, seconds, start_rate)
    rates = [rate, 2 * rate]
    print(f"chat: the threaded reference sustains {rate:g} lines/s", flush=True)
    results: dict[str, dict[str, Any]] = {}
    for name, command in CHAT_SERVERS.items():
        entry: dict[str, Any] = {}
        port = free_port()
        with server(command(port), port):
            burst = loadgen("burst", port, "--clients", clients, "--lines", lines)
        entry["burst"] = figure(burst, "deliveries_per_s")
        entry["note_burst"] = burst.get("incomplete")
        for rate in rates:
            steady = steady_run(command, clients, rate, seconds)
            entry[f"p50_{rate:g}"] = figure(steady, "p50_ms")
            entry[f"p99_{rate:g}"] = figure(steady, "p99_ms")
            entry[f"sent_{rate:g}"] = figure(steady, "sent_lines_per_s")
            entry[f"note_{rate:g}"] = steady.get("incomplete")
        results[name] = entry
        print(f"chat {name}: {entry}", flush=True)
    return results, rates


#: Lines per second of the cluster's steady load (to every client).
CLUSTER_RATE: Final = 50.0


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time a live process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def redis_server() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A redis-server of its own (appendonly, on tmpfs) and its URL."""
    port = free_port()
    with tempfile.TemporaryDirectory(dir=SHM) as directory:
        command = [
            "redis-server", "--port", str(port), "--bind", "127.0.0.1",
            "--dir", directory, "--save", "", "--appendonly", "yes",
            "--logfile", str(Path(directory) / "redis.log"),
        ]  # fmt: skip
        with server(command, port) as process:
            yield f"redis://127.0.0.1:{port}", process


def cluster_node(url: str, name: str) -> Callable[[int], list[str]]:
    """The command of a tcp-chat node of the cluster on URL."""
    return lambda port: [
        *CHAT_SERVERS["twisted-tcp"](port),
        *("--redis", url, "--node-name", name),
    ]


def bench_cluster(clients: int, lines: int, seconds: float) -> dict[str, Any]:
    """
    One tcp-chat against two nodes and Redis on the same machine: the burst with the
    clients split over the nodes (and Redis's share of the CPU the three used), and
    the steady load with the sender on one node and every receiver on the other.
    """
    results: dict[str, Any] = {}
    notes: list[str] = []
    single = CHAT_SERVERS["twisted-tcp"]
    port = free_port()
    with server(single(port), port) as one:
        burst = loadgen(
            "burst", port, "--clients", clients, "--lines", lines, "--cpu-of", one.pid
        )
    results["one_burst"] = figure(burst, "deliveries_per_s")
    results["one_burst_us"] = _cpu_per_delivery(burst, 1)
    port = free_port()
    with server(single(port), port) as one:
        steady = loadgen(
            "steady", port, "--clients", clients, "--rate", CLUSTER_RATE,
            "--seconds", seconds, "--cpu-of", one.pid,
        )  # fmt: skip
    results["one_p50"] = figure(steady, "p50_ms")
    results["one_p99"] = figure(steady, "p99_ms")
    results["one_steady_us"] = _cpu_per_delivery(steady, 1)
    notes += [run["incomplete"] for run in (burst, steady) if "incomplete" in run]
    with redis_server() as (url, redis):
        a_port, b_port = free_port(), free_port()
        with (
            server(cluster_node(url, "a")(a_port), a_port) as a,
            server(cluster_node(url, "b")(b_port), b_port) as b,
        ):
            pids = {"redis": redis.pid, "a": a.pid, "b": b.pid}
            watched = ("--cpu-of", a.pid, "--cpu-of", b.pid, "--cpu-of", redis.pid)
            before = {name: _cpu_seconds(pid) for name, pid in pids.items()}
            burst = loadgen(
                "burst", a_port, "--clients", clients, "--lines", lines,
                "--other-port", b_port, *watched,
            )  # fmt: skip
            used = {
                name: _cpu_seconds(pid) - before[name] for name, pid in pids.items()
            }
            results["two_burst"] = figure(burst, "deliveries_per_s")
            results["redis_cpu_share"] = used["redis"] / (sum(used.values()) or 1)
            results["redis_cpu_s"] = used["redis"]
            results["two_burst_us"] = _cpu_per_delivery(burst, 3)
            steady = loadgen(
                "steady", a_port, "--clients", clients, "--rate", CLUSTER_RATE,
                "--seconds", seconds, "--other-port", b_port, *watched,
            )  # fmt: skip
            results["two_p50"] = figure(steady, "p50_ms")
            results["two_p99"] = figure(steady, "p99_ms")
            results["two_steady_us"] = _cpu_per_delivery(steady, 3)
    notes += [run["incomplete"] for run in (burst, steady) if "incomplete" in run]
    results["note"] = "; ".join(notes) or None
    print(f"cluster: {results}", flush=True)
    return results


def _cpu_per_delivery(result: Result, processes: int) -> list[float]:
    """
    The CPU time each watched process (C{--cpu-of}) used during a burst or steady
    load per line delivered, in microseconds: a figure the noise of a shared
    machine disturbs less than the wall time.
    """
    if "deliveries" in result:
        delivered = figure(result, "deliveries")
    else:
        delivered = figure(result, "deliveries_per_s") * figure(result, "seconds")
    return [figure(result, f"cpu_s_{n}") / delivered * 1e6 for n in range(processes)]


def bench_idle(connections: int) -> dict[str, Result]:
    results = {}
    for name, command in (
        ("twisted-tcp echo", ECHO_SERVERS["twisted-tcp"]),
        ("asyncio echo", ECHO_SERVERS["asyncio"]),
    ):
        port = free_port()
        with server(command(port), port) as process:
            measured = loadgen(
                "idle", port, "--connections", connections, "--pid", process.pid
            )
        results[name] = measured
        print(f"idle {name}: {measured}", flush=True)
    return results


def bench_storm(counts: list[int]) -> dict[int, Result]:
    """Join and leave storms of each size against one tcp-chat, a fresh one each."""
    results = {}
    for count in counts:
        port = free_port()
        with server(CHAT_SERVERS["twisted-tcp"](port), port) as process:
            results[count] = loadgen(
                "storm", port, "--clients", count, "--pid", process.pid
            )
        print(f"storm {count}: {results[count]}", flush=True)
    return results


def bench_irc(clients: int, lines: int, storm: int) -> dict[str, Result]:
    """
    On one tcp-chat with --irc: the burst to line-protocol receivers, the same burst
    to IRC receivers, and a storm of IRC clients registering and joining one room.
    """
    port, irc = free_port(), free_port()
    command = [
        *CHAT_SERVERS["twisted-tcp"](port),
        "--irc",
        f"tcp:{irc}:interface=127.0.0.1",
    ]
    results = {}
    for name, extra in (("line", []), ("irc", ["--irc-port", irc])):
        with server(command, port):
            results[name] = loadgen(
                "burst", port, "--clients", clients, "--lines", lines, *extra
            )
        print(f"irc burst to {name} receivers: {results[name]}", flush=True)
    with server(command, port) as process:
        results["storm"] = loadgen(
            "storm", port, "--clients", storm, "--pid", process.pid, "--irc-port", irc
        )
    print(f"irc storm {storm}: {results['storm']}", flush=True)
    return results


def _peak_rss_kib(pid: int) -> int:
    """A live process's peak RSS so far (VmHWM), or 0 if it has just gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            return int(next(x for x in status if x.startswith("VmHWM")).split()[1])
    except (OSError, StopIteration, ValueError):
        return 0


def peak_rss_run(argv: list[str]) -> tuple[float, int]:
    """Run a command; its wall time and its peak RSS (VmHWM) in KiB, polled."""
    started = time.perf_counter()
    process = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    peak = 0
    while process.poll() is None:
        peak = max(peak, _peak_rss_kib(process.pid))
        time.sleep(0.01)
    elapsed = time.perf_counter() - started
    if process.returncode:
        raise RuntimeError(f"{argv[0]} exited with {process.returncode}")
    return elapsed, peak


@contextlib.contextmanager
def http_server(root: Path) -> Iterator[tuple[str, int]]:
    """nginx if it is installed, else twist web, serving ROOT on 127.0.0.1."""
    port = free_port()
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if nginx:
        prefix = Path(tempfile.mkdtemp(prefix="nginx-", dir=SHM))
        (prefix / "logs").mkdir()
        (prefix / "nginx.conf").write_text(f"""
worker_processes 1; daemon off; pid {prefix}/nginx.pid; error_log {prefix}/logs/error.log;
events {{ worker_connections 64; }}
http {{ access_log off; sendfile on; tcp_nopush on;
  client_body_temp_path {prefix}; proxy_temp_path {prefix}; fastcgi_temp_path {prefix};
  uwsgi_temp_path {prefix}; scgi_temp_path {prefix};
  server {{ listen 127.0.0.1:{port}; root {root}; }} }}
""")
        argv, name = (
            [nginx, "-p", str(prefix), "-c", str(prefix / "nginx.conf")],
            "nginx",
        )
    else:
        argv = twist(
            "web", "--listen", f"tcp:{port}:interface=127.0.0.1", "--path", str(root)
        )
        name = "twist web"
    try:
        with server(argv, port):
            yield name, port
    finally:
        if nginx:
            shutil.rmtree(prefix, ignore_errors=True)


def bench_get(size_mib: int, rounds: int) -> dict[str, object]:
    """
    Each client downloads SIZE_MIB to tmpfs, ROUNDS times in rotating order; medians.
    The first writes to fresh tmpfs pages are several times slower than later ones
    (seen: 372 against 3647 MiB/s), so a warm-up file of the same size goes first.
    Each client also fetches a small file once before the rounds: the first run of
    a Python client compiles every module it imports (this script gives Python a
    fresh bytecode cache), which cost the first round's client 1-1.5 s.
    """
    root = Path(tempfile.mkdtemp(prefix="bench-www-", dir=SHM))
    root.chmod(0o755)  # nginx's workers run as an unprivileged user.
    out = root / "out"
    block = os.urandom(1 << 20)
    for name in ("big", "warm-up"):
        with (root / name).open("wb") as file:
            for _ in range(size_mib):
                file.write(block)
    (root / "big").chmod(0o644)
    (root / "warm-up").unlink()
    (root / "small").write_bytes(b"warm-up\n")
    (root / "small").chmod(0o644)
    samples: dict[str, list[tuple[float, float]]] = {}
    results: dict[str, object] = {}
    try:
        with http_server(root) as (name, port):
            results["server"] = name

            def clients(path: str) -> dict[str, list[str]]:
                url = f"http://127.0.0.1:{port}{path}"
                return {
                    "twisted-tcp get": [
                        str(BIN / "twisted-tcp"), "get", "-f", "-s", "-o", str(out), url,
                    ],
                    "curl": ["curl", "-f", "-s", "-o", str(out), url],
                    "treq": [PYTHON, str(REFERENCE / "treq_get.py"), url, str(out)],
                    "tutorial recv client": [
                        PYTHON, str(REFERENCE / "recv_client.py"),
                        "127.0.0.1", str(port), path, str(out),
                    ],
                }  # fmt: skip

            order = [
                client for client, argv in clients("").items() if shutil.which(argv[0])
            ]
            for client in order:
                peak_rss_run(clients("/small")[client])
            out.unlink(missing_ok=True)
            for round_number in range(rounds):
                shift = round_number % len(order)
                for client in order[shift:] + order[:shift]:
                    elapsed, peak = peak_rss_run(clients("/big")[client])
                    if out.stat().st_size != size_mib << 20:
                        raise RuntimeError(f"{client} saved {out.stat().st_size} bytes")
                    out.unlink()
                    samples.setdefault(client, []).append(
                        (size_mib * 1.048576 / elapsed, peak / 1024)
                    )
                    print(
                        f"get {client}: {samples[client][-1][0]:,.0f} MB/s, "
                        f"peak {peak / 1024:.0f} MiB",
                        flush=True,
                    )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    for client, runs in samples.items():
        results[client] = {
            "mb_per_s": statistics.median(rate for rate, _ in runs),
            "peak_mib": max(peak for _, peak in runs),
        }
    return results


def bench_many(files: int, size_kib: int, rounds: int) -> dict[str, Any]:
    """
    FILES files of SIZE_KIB from nginx in one run of each client, ROUNDS times in
    rotating order: in turn over kept-alive connections, and 8 at once; files/s,
    medians. Every file must arrive whole each time.
    """
    root = Path(tempfile.mkdtemp(prefix="bench-many-", dir=SHM))
    root.chmod(0o755)
    www = root / "www"
    www.mkdir()
    www.chmod(0o755)
    names = [f"f{number:03d}" for number in range(files)]
    for name in names:
        (www / name).write_bytes(os.urandom(size_kib << 10))
        (www / name).chmod(0o644)
    out = root / "out"
    samples: dict[str, list[float]] = {}
    results: dict[str, Any] = {}
    try:
        with http_server(www) as (name, port):
            results["server"] = name
            urls = [f"http://127.0.0.1:{port}/{file}" for file in names]
            (root / "urls").write_text("\n".join(urls) + "\n")
            ours = [str(BIN / "twisted-tcp"), "get", "-f", "-s", "--remote-name-all"]
            curl = ["curl", "-f", "-s", "--remote-name-all"]
            clients = {
                "get in turn": [*ours, *urls],
                "get -Z 8": [*ours, "-Z", "--parallel-max", "8", *urls],
                "curl in turn": [*curl, *urls],
                "curl -Z 8": [*curl, "-Z", "--parallel-max", "8", *urls],
                "wget -i": ["wget", "-q", "-i", str(root / "urls")],
            }
            order = [
                client for client, argv in clients.items() if shutil.which(argv[0])
            ]
            for round_number in range(rounds + 1):  # The first warms up.
                shift = round_number % len(order)
                for client in order[shift:] + order[:shift]:
                    out.mkdir()
                    started = time.perf_counter()
                    subprocess.run(clients[client], cwd=out, check=True)
                    elapsed = time.perf_counter() - started
                    saved = sorted(path.name for path in out.iterdir())
                    if saved != names:
                        raise RuntimeError(f"{client} saved {len(saved)} of {files}")
                    shutil.rmtree(out)
                    if round_number:
                        samples.setdefault(client, []).append(files / elapsed)
                        print(
                            f"many {client}: {files / elapsed:,.0f} files/s", flush=True
                        )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    for client, runs in samples.items():
        results[client] = statistics.median(runs)
    return results


#: What a 15-byte download and the help are compared with; the Twisted import is not
#: a competitor but the floor of any command that runs Twisted's reactor.
REACTOR_IMPORT: Final = [PYTHON, "-c", "from twisted.internet import reactor"]


def bench_startup(runs: int) -> dict[str, float]:
    """
    Wall time of short commands, RUNS times each, interleaved so that the machine's
    load falls on all of them alike; medians. Each command runs once first, so that
    Python has compiled our modules (an installed package has them compiled).
    """
    root = Path(tempfile.mkdtemp(prefix="bench-small-", dir=SHM))
    root.chmod(0o755)
    (root / "small").write_bytes(b"hello, world!!\n")
    (root / "small").chmod(0o644)
    out = root / "out"
    samples: dict[str, list[float]] = {}
    try:
        with http_server(root) as (_, port):
            url = f"http://127.0.0.1:{port}/small"
            commands = {
                "get 15 B": [
                    str(BIN / "twisted-tcp"),
                    "get",
                    "-s",
                    "-o",
                    str(out),
                    url,
                ],
                "curl 15 B": ["curl", "-s", "-o", str(out), url],
                "help": [str(BIN / "twisted-tcp"), "--help"],
                "curl help": ["curl", "--help"],
                "reactor import": REACTOR_IMPORT,
            }
            if not shutil.which("curl"):
                del commands["curl 15 B"], commands["curl help"]
            for argv in commands.values():
                subprocess.run(argv, stdout=subprocess.DEVNULL, check=True)
            for _ in range(runs):
                for name, argv in commands.items():
                    started = time.perf_counter()
                    subprocess.run(argv, stdout=subprocess.DEVNULL, check=True)
                    samples.setdefault(name, []).append(time.perf_counter() - started)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    results = {name: statistics.median(runs) for name, runs in samples.items()}
    print(f"start-up, medians of {runs} runs: {results}", flush=True)
    return results


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b and not math.isnan(a / b) else "-"


def steady_cell(entry: dict[str, Any], rate: float) -> str:
    """p50 / p99, and the rate really offered if the sender could not keep up."""
    p50, p99 = entry[f"p50_{rate:g}"], entry[f"p99_{rate:g}"]
    cell = "- / -" if math.isnan(p99) else f"{p50:.1f} / {p99:.1f}"
    sent = entry[f"sent_{rate:g}"]
    if sent < KEPT_SCHEDULE * rate:
        cell += f" (sender kept only {sent:.0f} lines/s)"
    return noted(cell, entry.get(f"note_{rate:g}"))


def echo_rows(echo: dict[str, dict[str, Any]]) -> list[str]:
    rows = []
    ours = echo["twisted-tcp"]
    for key, label, _ in ECHO_SIZES:
        for ref in ("asyncio", "uvloop"):
            mine, theirs = ours[f"cpu_{key}"], echo[ref][f"cpu_{key}"]
            rows.append(
                f"| echo {label}, server CPU µs per round trip (least of the rounds; lower is better) | {mine:.2f} | "
                f"{ref} {theirs:.2f} | {ratio(mine, theirs)} | - |"
            )
    for key, label, unit in ECHO_SIZES:
        for ref, target in (("asyncio", ">= 1.0x"), ("uvloop", "-"), ("threaded", "-")):
            theirs = echo[ref]
            rows.append(
                f"| echo {label} x 100 conns, {unit} | {noted(f'{ours[key]:,.0f}', ours.get(f'note_{key}'))} | "
                f"{ref} {noted(f'{theirs[key]:,.0f}', theirs.get(f'note_{key}'))} | {ratio(ours[key], theirs[key])} | {target} |"
            )
    return rows


def ops_rows(ops: dict[str, dict[str, float]]) -> list[str]:
    plain, metrics = ops["plain"], ops["metrics"]
    one, two = ops["1 worker"], ops["2 workers"]
    return [
        f"| echo 64 B with --metrics, server CPU µs per round trip (least of the rounds) | {metrics['cpu']:.2f} | "
        f"without {plain['cpu']:.2f} | {ratio(metrics['cpu'], plain['cpu'])} | <= 1.03x |",
        f"| echo 64 B x 100 conns with --metrics, round trips/s | {metrics['rate']:,.0f} | "
        f"without {plain['rate']:,.0f} | {ratio(metrics['rate'], plain['rate'])} | - |",
        f"| echo 64 B x 100 conns, --workers 2, round trips/s | {two['rate']:,.0f} | "
        f"--workers 1 {one['rate']:,.0f} | {ratio(two['rate'], one['rate'])} | - |",
        f"| echo 64 B, --workers 2, CPU µs per round trip, all processes (least of the rounds) | {two['cpu']:.2f} | "
        f"--workers 1 {one['cpu']:.2f} | {ratio(two['cpu'], one['cpu'])} | - |",
    ]


def chat_rows(
    chat: dict[str, dict[str, Any]], rates: list[float], clients: int
) -> list[str]:
    rows = []
    ours = chat["twisted-tcp"]
    for ref, target in (("twisted docs chat", ">= 1.0x"), ("threaded", ">= 3x")):
        theirs = chat[ref]
        rows.append(
            f"| chat burst {clients} lines to {clients} clients, deliveries/s | "
            f"{noted(format(ours['burst'], ',.0f'), ours['note_burst'])} | "
            f"{ref} {noted(format(theirs['burst'], ',.0f'), theirs['note_burst'])} | "
            f"{ratio(ours['burst'], theirs['burst'])} | {target} |"
        )
    for rate, target in zip(rates, ("p99 <= 20 ms", "p99 <= 50 ms"), strict=True):
        for ref in ("twisted docs chat", "threaded"):
            rows.append(
                f"| chat steady {rate:g} lines/s to {clients} clients, p50 / p99 ms | "
                f"{steady_cell(ours, rate)} | {ref} {steady_cell(chat[ref], rate)} | - | {target} |"
            )
    return rows


def get_rows(get: dict[str, Any], size_mib: int) -> list[str]:
    rows: list[str] = []
    ours = get.get("twisted-tcp get")
    if not isinstance(ours, dict):
        return rows
    for ref, target in (
        ("curl", ">= 0.8x"),
        ("treq", ">= 2x"),
        ("tutorial recv client", "-"),
    ):
        theirs = get.get(ref)
        if isinstance(theirs, dict):
            rows.append(
                f"| get {size_mib} MiB ({get['server']} to tmpfs), MB/s | {ours['mb_per_s']:,.0f} | "
                f"{ref} {theirs['mb_per_s']:,.0f} | {ratio(ours['mb_per_s'], theirs['mb_per_s'])} | {target} |"
            )
    for ref in ("curl", "treq", "tutorial recv client"):
        theirs = get.get(ref)
        if isinstance(theirs, dict):
            rows.append(
                f"| get {size_mib} MiB, peak RSS MiB | {ours['peak_mib']:.0f} | "
                f"{ref} {theirs['peak_mib']:.0f} | - | <= 64 MiB |"
            )
    return rows


def many_rows(many: dict[str, Any], files: int, size_kib: int) -> list[str]:
    rows = []
    what = f"{files} x {size_kib} KiB ({many.get('server')}), files/s"
    for ours, ref, target in (
        ("get in turn", "curl in turn", ">= 1.0x"),
        ("get in turn", "wget -i", "-"),
        ("get -Z 8", "curl -Z 8", ">= 1.0x"),
    ):
        if ours in many and ref in many:
            rows.append(
                f"| {ours} {what} | {many[ours]:,.0f} | {ref} {many[ref]:,.0f} | "
                f"{ratio(many[ours], many[ref])} | {target} |"
            )
    return rows


def startup_rows(startup: dict[str, float]) -> list[str]:
    rows = []
    for ours, ref, label, target in (
        ("get 15 B", "curl 15 B", "get of a 15-byte file, wall s", "<= 0.15 s"),
        ("get 15 B", "reactor import", "get of a 15-byte file, wall s", "-"),
        ("help", "curl help", "twisted-tcp --help, wall s", "<= 0.1 s"),
    ):
        if ref in startup:
            name = REFERENCE_NAMES.get(ref, ref)
            rows.append(
                f"| {label} | {startup[ours]:.3f} | {name} {startup[ref]:.3f} | {ratio(startup[ours], startup[ref])} | {target} |"
            )
    return rows


REFERENCE_NAMES: Final = {
    "curl 15 B": "curl",
    "curl help": "curl --help",
    "reactor import": "python -c 'from twisted.internet import reactor'",
}


def idle_rows(idle: dict[str, Result], connections: int) -> list[str]:
    ours, theirs = idle["twisted-tcp echo"], idle["asyncio echo"]
    kib, their_kib = (figure(x, "kib_per_connection") for x in (ours, theirs))
    return [
        f"| idle connections at {connections}, KiB per connection | {noted(f'{kib:.1f}', ours.get('incomplete'))} | "
        f"asyncio {noted(f'{their_kib:.1f}', theirs.get('incomplete'))} | {ratio(kib, their_kib)} | <= 4 KiB |"
    ]


def storm_rows(storm: dict[int, Result]) -> list[str]:
    rows = []
    for count, entry in storm.items():
        target = "<= 10 s" if count >= 10000 else "-"
        join, leave, kib = (
            figure(entry, key) for key in ("join_s", "leave_s", "kib_per_member")
        )
        rows += [
            f"| chat join storm, {count:,} clients into one room, s until all welcomed | {noted(f'{join:.2f}', entry.get('incomplete'))} | - | - | {target} |",
            f"| chat leave storm, {count:,} clients, s until the server is idle | {leave:.2f} | - | - | - |",
            f"| chat memory per member at {count:,}, KiB | {kib:.1f} | - | - | - |",
        ]
    return rows


def irc_rows(irc: dict[str, Result], clients: int, storm: int) -> list[str]:
    line, ircs = (
        figure(irc["line"], "deliveries_per_s"),
        figure(irc["irc"], "deliveries_per_s"),
    )
    join = figure(irc["storm"], "join_s")
    return [
        f"| chat burst {clients} lines to {clients} IRC clients, deliveries/s | "
        f"{noted(format(ircs, ',.0f'), irc['irc'].get('incomplete'))} | "
        f"line-protocol receivers {noted(format(line, ',.0f'), irc['line'].get('incomplete'))} | "
        f"{ratio(ircs, line)} | >= 0.8x |",
        f"| IRC join storm, {storm:,} clients registering and joining one room, s until all have its NAMES | "
        f"{noted(f'{join:.2f}', irc['storm'].get('incomplete'))} | - | - | <= 10 s |",
    ]


def cluster_rows(cluster: dict[str, Any], clients: int) -> list[str]:
    one_p99, two_p99 = cluster["one_p99"], cluster["two_p99"]
    note = [f"| cluster runs that did not complete | {cluster['note']} | - | - | - |"]
    return [
        *(note if cluster["note"] else []),
        f"| cluster burst {clients} lines to {clients} clients split over 2 nodes + Redis, deliveries/s | "
        f"{cluster['two_burst']:,.0f} | 1 node {cluster['one_burst']:,.0f} | "
        f"{ratio(cluster['two_burst'], cluster['one_burst'])} | >= 0.5x |",
        f"| cluster steady {CLUSTER_RATE:g} lines/s, sender on node A, {clients - 1} receivers on node B, p50 / p99 ms | "
        f"{cluster['two_p50']:.1f} / {two_p99:.1f} | 1 node {cluster['one_p50']:.1f} / {one_p99:.1f} | "
        f"p99 {two_p99 - one_p99:+.1f} ms | p99 <= 2x + 5 ms ({2 * one_p99 + 5:.1f}) |",
        f"| cluster burst: Redis's share of the CPU used by Redis and both nodes | "
        f"{cluster['redis_cpu_share']:.0%} ({cluster['redis_cpu_s']:.2f} s) | - | - | - |",
        *(
            f"| cluster {load}: CPU µs per delivered line, node A / node B / Redis | "
            f"{' / '.join(f'{us:.2f}' for us in cluster[f'two_{load}_us'])} | "
            f"1 node {cluster[f'one_{load}_us'][0]:.2f} | - | - |"
            for load in ("burst", "steady")
        ),
    ]


SECTIONS: Final = (
    "echo",
    "ops",
    "chat",
    "irc",
    "cluster",
    "storm",
    "idle",
    "get",
    "many",
    "startup",
)


def main() -> None:
    # The environment may forbid writing bytecode, which would make every run of our
    # (editable) package compile it anew: let Python cache it, outside the checkout,
    # as an installed package would have it, in a directory removed at the end.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    if "PYTHONPYCACHEPREFIX" not in os.environ:
        cache = tempfile.mkdtemp(prefix="bench-pyc-")
        atexit.register(shutil.rmtree, cache, ignore_errors=True)
        os.environ["PYTHONPYCACHEPREFIX"] = cache
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="short runs, small sizes")
    parser.add_argument("--markdown", help="also write the table to this file")
    parser.add_argument(
        "--only",
        action="append",
        choices=SECTIONS,
        help="run only this part (repeatable); default: all of them",
    )
    args = parser.parse_args()
    only = args.only or SECTIONS
    seconds = 2.0 if args.quick else 5.0
    clients = 200 if args.quick else 1000
    get_mib = 128 if args.quick else 1024
    connections = 2000 if args.quick else 10000
    rows = []
    if "echo" in only:
        rows += echo_rows(bench_echo(seconds, rounds=2 if args.quick else 3))
    if "ops" in only:
        rows += ops_rows(bench_ops(seconds, rounds=2 if args.quick else 5))
    if "chat" in only:
        chat, rates = bench_chat(clients, clients, seconds, start_rate=20.0)
        rows += chat_rows(chat, rates, clients)
    if "irc" in only:
        storm = 2000 if args.quick else 10000
        rows += irc_rows(bench_irc(clients, clients, storm), clients, storm)
    if "cluster" in only:
        rows += cluster_rows(bench_cluster(clients, clients, seconds), clients)
    if "storm" in only:
        rows += storm_rows(
            bench_storm([1000, 2000] if args.quick else [1000, 4000, 10000])
        )
    if "get" in only:
        rows += get_rows(bench_get(get_mib, rounds=2 if args.quick else 3), get_mib)
    if "many" in only:
        rows += many_rows(bench_many(200, 10, rounds=2 if args.quick else 5), 200, 10)
    if "startup" in only:
        rows += startup_rows(bench_startup(runs=10))
    if "idle" in only:
        rows += idle_rows(bench_idle(connections), connections)
    table = "\n".join(
        [
            f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}.",
            "",
            "| bench | twisted-tcp | reference | ratio | target |",
            "|---|---|---|---|---|",
            *rows,
        ]
    )
    print(table)
    if args.markdown:
        Path(args.markdown).write_text(table + "\n")


if __name__ == "__main__":
    main()
