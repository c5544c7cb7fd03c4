"""
Tests of the Makefile's user-facing targets: what C{make chat} installs, and that
Ctrl-C ends it quietly.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

from .support import read_until_closed

CHECKOUT = Path(__file__).resolve().parent.parent
#: The virtual environment running these tests, standing in for the checkout's .venv.
VENV = Path(sys.executable).parent.parent


def test_make_chat_installs_only_what_running_needs(tmp_path: Path) -> None:
    """make chat on a fresh checkout installs the project with its cluster extra (so
    --redis works) but without its test extras (no ruff, mypy, pytest), then serves
    the chat on port 6666."""
    planned = subprocess.run(
        ["make", "--dry-run", "chat", f"VENV={tmp_path / 'venv'}"],
        cwd=CHECKOUT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    installs = [line for line in planned.splitlines() if " pip install " in line]
    assert installs[-1].endswith('pip install --quiet -e ".[redis]"')
    assert "[test]" not in planned
    assert "twist --log-format=text tcp-chat --port 6666" in planned


def test_make_chat_that_cannot_start_fails_without_a_hint() -> None:
    """When the server cannot start (its port is taken), make chat prints no line
    saying how to connect, and fails."""
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = subprocess.run(
            [
                "make", "--no-print-directory", "chat", f"VENV={VENV}",
                f"--old-file={VENV}/.installed-run",
                f"CHAT_OPTIONS=--listen tcp:{port}:interface=127.0.0.1",
            ],
            cwd=CHECKOUT, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert "Connect with" not in result.stdout + result.stderr
    assert f"twist: cannot listen on 127.0.0.1 port {port}" in result.stderr
    assert result.returncode != 0


def _as_on_a_terminal() -> None:
    """
    Give SIGINT its default disposition, as a shell on a terminal does: a process
    started in the background of a non-interactive shell (as a test run may be)
    inherits SIGINT ignored, and then neither Python nor Twisted ever handles it.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_ends_make_chat_quietly() -> None:
    """Ctrl-C (SIGINT to the terminal's process group) stops the chat server, and
    make says nothing about an interrupt."""
    make = subprocess.Popen(
        [
            "make", "--no-print-directory", "chat", f"VENV={VENV}",
            # Set up already: do not reinstall this environment.
            f"--old-file={VENV}/.installed-run",
            "CHAT_OPTIONS=--listen tcp:0:interface=127.0.0.1",
        ],
        cwd=CHECKOUT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True, preexec_fn=_as_on_a_terminal,
    )  # fmt: skip
    try:
        assert make.stdout is not None
        for line in make.stdout:
            started = re.search(r"starting on (\d+)", line)
            if started:
                break
        else:
            raise AssertionError(f"the server did not start: {make.communicate()}")
        hint = make.stdout.readline()
        assert hint.startswith(f"Connect with: {VENV}/bin/twisted-tcp chat 127.0.0.1 ")
        assert hint.split()[5] == started[1]  # The port it really listens on.
        with socket.create_connection(("127.0.0.1", int(started[1])), 10) as user:
            # Welcomed: the reactor runs, and handles SIGINT from now on.
            assert user.recv(1024).startswith(b"* Welcome")
            os.killpg(make.pid, signal.SIGINT)
            assert read_until_closed(user).endswith(b"* server shutting down\r\n")
        out, err = make.communicate(timeout=30)
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGKILL)
            make.communicate()
    assert "Interrupt" not in err
    assert "make: ***" not in err
    assert "Traceback" not in out + err
    assert re.search(r"\(TCP Port \d+ Closed\)", out)
    assert make.returncode == -signal.SIGINT  # make ends by the signal, silently
