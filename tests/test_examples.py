"""
The library examples of the README and docs/library.md, run as they are shown (on
free ports of 127.0.0.1): they serve, and Ctrl-C shuts the chat down gracefully.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from .redis_support import free_port
from .support import PATIENCE, read_until_closed, wait_until

CHECKOUT = Path(__file__).resolve().parent.parent


def first_python_block(document: Path) -> str:
    """The first fenced Python block of a Markdown document."""
    found = re.search(r"```python\n(.*?)```", document.read_text(), re.DOTALL)
    assert found is not None
    return found[1]


def accepts(port: int) -> bool:
    """Whether something listens on 127.0.0.1:C{port}."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.mark.parametrize("document", ["README.md", "docs/library.md"])
def test_library_example_shuts_the_chat_down_gracefully(document: str) -> None:
    """The example serves the chat; at Ctrl-C a member is told the server is
    shutting down before its connection closes, and the program exits 0."""
    code = first_python_block(CHECKOUT / document)
    chat = free_port()
    code = code.replace('"tcp:6666"', f'"tcp:{chat}:interface=127.0.0.1"')
    # The example's other servers on ports the system picks.
    code = re.sub(r'"tcp6?:\d+"', '"tcp:0:interface=127.0.0.1"', code)
    code = code.replace("listenUDP(8081,", "listenUDP(0,")
    example = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        wait_until(lambda: accepts(chat) or example.poll() is not None, "the example")
        with socket.create_connection(("127.0.0.1", chat), timeout=PATIENCE) as member:
            assert member.recv(1024).startswith(b"* Welcome")
            os.kill(example.pid, signal.SIGINT)
            assert read_until_closed(member).endswith(b"* server shutting down\r\n")
        out, _ = example.communicate(timeout=PATIENCE)
        assert example.returncode == 0, out
    finally:
        if example.poll() is None:
            example.kill()
            example.communicate()
