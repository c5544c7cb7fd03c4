"""
Tests for running under systemd: a server adopts the socket systemd hands it
(C{--listen systemd:...}) under a real C{systemd-socket-activate}, and the example
units in contrib/systemd pass C{systemd-analyze verify}.
"""

from __future__ import annotations

import signal
import socket
import subprocess
from pathlib import Path

import pytest

from twisted_tcp._listen import NO_SYSTEMD_SOCKET

from .twist_support import TWIST, Twist

UNITS = Path(__file__).parent.parent / "contrib" / "systemd"
#: Where the example services expect the project installed.
INSTALLED_TWIST = "/opt/twisted-tcp/bin/twist"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on just now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_echo_serves_the_socket_systemd_passes(
    tmp_path: Path, twist_runs: list[Twist]
) -> None:
    """tcp-echo --listen systemd:domain=INET:index=0, started by
    systemd-socket-activate on a client's first connection, answers on the socket
    it was handed, and stops on SIGTERM."""
    port = free_port()
    twist = Twist("tcp-echo", "--listen", "systemd:domain=INET:index=0",
                  cwd=tmp_path,
                  runner=["systemd-socket-activate", "--fdname=echo",
                          "-l", f"127.0.0.1:{port}"])  # fmt: skip
    twist_runs.append(twist)
    twist.wait_for_log(rf"Listening on 127\.0\.0\.1:{port}")
    # systemd-socket-activate starts twist only once a client connects.
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"activated")
        assert sock.recv(100) == b"activated"
    assert twist.wait_for_log(rf"starting on {port}")
    assert twist.terminate() == -signal.SIGTERM


def test_no_socket_from_systemd_is_one_line(tmp_path: Path) -> None:
    """--listen systemd:... in a process systemd passed no socket is a usage error
    saying how to start it, not a traceback."""
    run = subprocess.run(
        [str(TWIST), "tcp-echo", "--listen", "systemd:domain=INET:index=0"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 64
    assert f"{NO_SYSTEMD_SOCKET}\n" in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize("unit", sorted(path.name for path in UNITS.glob("*.service")))
def test_example_units_pass_systemd_analyze_verify(tmp_path: Path, unit: str) -> None:
    """Each example service, with its socket, passes systemd-analyze verify without a
    warning (its twist path pointed at this installation's, which exists)."""
    service = (UNITS / unit).read_text()
    assert INSTALLED_TWIST in service
    (tmp_path / unit).write_text(service.replace(INSTALLED_TWIST, str(TWIST)))
    socket_unit = unit.replace(".service", ".socket")
    (tmp_path / socket_unit).write_text((UNITS / socket_unit).read_text())
    verify = subprocess.run(
        ["systemd-analyze", "verify", unit, socket_unit],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert (verify.returncode, verify.stdout + verify.stderr) == (0, "")
