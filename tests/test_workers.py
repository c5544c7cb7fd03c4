"""
Tests for C{--workers N}: the workers share the listening socket, one that dies is
replaced, SIGTERM ends them all, and C{--metrics} shows each worker's counts.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from .redis_support import RedisServer
from .support import echoes, http_get, made, samples, served_name, tls_connect
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
    """Whether a process runs (a zombie waiting for its parent to reap it does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


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


def test_workers_stop_when_the_parent_is_killed(
    tmp_path: Path, twist_runs: list[Twist]
) -> None:
    """Workers whose parent was killed with SIGKILL (which it cannot pass on) see
    their pipes to it close, and stop."""
    twist = Twist("tcp-echo", "--listen", "tcp:0:interface=127.0.0.1",
                  "--workers", "2", cwd=tmp_path)  # fmt: skip
    twist_runs.append(twist)
    pids = [int(twist.wait_for_log(r"worker \d started: pid (\d+)")[1]) for _ in "12"]
    for _ in range(2):
        twist.wait_for_log(r"EchoFactory starting on")
    twist.process.send_signal(signal.SIGKILL)
    for _ in range(2):
        twist.wait_for_log(r"the parent process is gone: stopping")
    for _ in range(300):
        if not any(alive(pid) for pid in pids):
            break
        time.sleep(0.1)
    assert not any(alive(pid) for pid in pids)


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


def test_workers_serve_tls_and_reload_on_sighup(
    tmp_path: Path, twist_runs: list[Twist]
) -> None:
    """Workers serve an ssl: listener they were handed; SIGHUP to the parent reaches
    every worker, which then shows the new certificate."""
    old_key, old_cert = made(tmp_path / "old", "old.example")
    new_key, new_cert = made(tmp_path / "new", "new.example")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    shutil.copy(old_key, key)
    shutil.copy(old_cert, cert)
    twist = Twist("tcp-echo", "--workers", "2", "--listen",
                  f"ssl:0:interface=127.0.0.1:privateKey={key}:certKey={cert}",
                  cwd=tmp_path)  # fmt: skip
    twist_runs.append(twist)
    port = int(twist.wait_for_log(r"workers \(TLS\) starting on (\d+)")[1])
    for _ in range(2):
        twist.wait_for_log(r"EchoFactory \(TLS\) starting on")
    with tls_connect(port) as sock:
        assert served_name(sock) == "old.example"
        assert echoes(sock, b"tls")
    shutil.copy(new_key, key)
    shutil.copy(new_cert, cert)
    twist.process.send_signal(signal.SIGHUP)
    for _ in range(2):
        twist.wait_for_log(r"reloaded the certificate and key of ssl:")
    for _ in range(10):
        with tls_connect(port) as sock:
            assert served_name(sock) == "new.example"
    assert twist.terminate() == -signal.SIGTERM


def test_chat_workers_are_nodes_of_one_cluster(
    tmp_path: Path, twist_runs: list[Twist], redis_server: RedisServer
) -> None:
    """tcp-chat --redis --workers 2: each worker is a node of the cluster, ready
    with its link to Redis, and members see each other's lines whichever worker
    took them."""
    twist = Twist("tcp-chat", "--listen", "tcp:0:interface=127.0.0.1",
                  "--redis", redis_server.url, "--workers", "2",
                  "--node-name", "n", "--metrics", "tcp:0:interface=127.0.0.1",
                  cwd=tmp_path)  # fmt: skip
    twist_runs.append(twist)
    port = int(twist.wait_for_log(r"workers starting on (\d+)")[1])
    metrics_port = int(twist.wait_for_log(r"metrics starting on (\d+)")[1])
    for _ in range(300):
        if http_get(metrics_port, "/healthz")[0] == 200:
            break
        time.sleep(0.1)
    status, body = http_get(metrics_port, "/metrics")
    assert status == 200
    found = samples(body)
    assert found['twisted_tcp_chat_redis_up{worker="1"}'] == 1
    assert found['twisted_tcp_chat_redis_up{worker="2"}'] == 1
    nodes = redis_server.cli("SMEMBERS", "twisted-tcp:nodes")
    # A node's name in Redis is its --node-name and an instance id: n-1/ID.
    assert sorted(node.split("/")[0] for node in nodes if node) == ["n-1", "n-2"]
    with (
        socket.create_connection(("127.0.0.1", port), timeout=30) as first,
        socket.create_connection(("127.0.0.1", port), timeout=30) as second,
    ):
        heard = bytearray()
        for sock in (first, second):
            heard = bytearray()
            while b"Welcome" not in heard:
                heard += sock.recv(4096)
        first.sendall(b"across workers\n")
        while b"> across workers" not in heard:
            chunk = second.recv(4096)
            assert chunk
            heard += chunk
    assert twist.terminate() == -signal.SIGTERM
