"""
Tests for C{--workers N}: the workers share the listening socket, one that dies is
replaced, SIGTERM ends them all, and C{--metrics} shows each worker's counts.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path

from .support import http_get, samples
from .twist_support import TWIST, Twist

#: Connections tried before concluding that a worker never accepts one.
MAX_TRIES = 400


def echo_once(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"hi")
        assert sock.recv(10) == b"hi"


def accepted_by_worker(metrics_port: int) -> dict[str, float]:
    status, body = http_get(metrics_port, "/metrics")
    assert status == 200
    prefix = 'twisted_tcp_connections_accepted_total{worker="'
    return {
        name[len(prefix) : -2]: value
        for name, value in samples(body).items()
        if name.startswith(prefix)
    }


def alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def test_workers_share_the_socket_and_are_supervised(
    tmp_path: Path, twist_runs: list[Twist]
) -> None:
    """Two workers (two processes) both accept on the one socket; one killed with
    SIGKILL is logged and replaced by a new process while the other serves on;
    SIGTERM ends the parent and every worker."""
    twist = Twist("tcp-echo", "--listen", "tcp:0:interface=127.0.0.1",
                  "--workers", "2", "--metrics", "tcp:0:interface=127.0.0.1",
                  cwd=tmp_path)  # fmt: skip
    twist_runs.append(twist)
    port = int(twist.wait_for_log(r"workers starting on (\d+)")[1])
    pids = {}
    for _ in range(2):
        started = twist.wait_for_log(r"worker (\d) started: pid (\d+)")
        pids[started[1]] = int(started[2])
    metrics_port = int(twist.wait_for_log(r"metrics starting on (\d+)")[1])
    assert len(set(pids.values())) == 2
    accepted: dict[str, float] = {}
    for tries in range(1, MAX_TRIES + 1):
        echo_once(port)
        if tries % 10 == 0:
            accepted = accepted_by_worker(metrics_port)
            if len(accepted) == 2 and all(accepted.values()):
                break
    assert sorted(accepted) == ["1", "2"]
    assert sum(accepted.values()) == tries
    assert all(accepted.values()), accepted

    os.kill(pids["1"], signal.SIGKILL)
    twist.wait_for_log(r"worker 1 ended \(.*signal 9.*\); starting another")
    echo_once(port)
    replaced = twist.wait_for_log(r"worker 1 started: pid (\d+)")
    new_pid = int(replaced[1])
    assert new_pid not in pids.values()
    assert alive(pids["2"])
    # Once the new worker runs, the parent asks it for its metrics too.
    accepted = accepted_by_worker(metrics_port)
    assert sorted(accepted) == ["1", "2"]
    assert http_get(metrics_port, "/healthz") == (200, "ok\n")

    assert twist.terminate() == -signal.SIGTERM
    assert not any(alive(pid) for pid in (new_pid, pids["2"]))
    assert not any("Traceback" in line for line in twist.log)


def test_chat_workers_need_redis(tmp_path: Path) -> None:
    """tcp-chat --workers without --redis is a usage error saying why."""
    run = subprocess.run(
        [str(TWIST), "tcp-chat", "--workers", "2"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 64
    assert "--workers needs --redis: each worker is a node of the cluster" in run.stderr
