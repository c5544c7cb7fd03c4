"""
What the package and each command import: a client must not pay for the servers, and
C{twisted-tcp --help} for any of Twisted (each test runs a fresh interpreter).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest_twisted
from twisted.internet.threads import deferToThread
from twisted.web import server, static

from .support import port_of, stop

#: Runs the code given as its first argument, then prints the modules then loaded.
_MODULES_AFTER = """
import atexit, json, sys

atexit.register(lambda: sys.__stdout__.write(json.dumps(sorted(sys.modules))))
exec(sys.argv[1])
"""

#: Modules only the servers need.
_SERVER_MODULES = (
    "twisted_tcp._server",
    "twisted_tcp.chat",
    "twisted_tcp.echo",
    "twisted_tcp.greet",
    "twisted_tcp.udp_echo",
)


def modules_after(code: str, *argv: str) -> tuple[int, set[str]]:
    """Run C{code} in a fresh interpreter: its exit code and the modules it loaded."""
    result = subprocess.run(
        [sys.executable, "-c", _MODULES_AFTER, code, *argv],
        capture_output=True,
        timeout=60,
    )
    last_line = result.stdout.decode().splitlines()[-1]
    return result.returncode, set(json.loads(last_line))


def test_package_imports_no_server_or_twisted() -> None:
    """Importing the package loads neither the servers, the HTTP client nor Twisted."""
    code, modules = modules_after("import twisted_tcp")
    assert code == 0
    assert not {"twisted_tcp.http.fetch", *_SERVER_MODULES} & modules
    assert not {name for name in modules if name.split(".")[0] == "twisted"}


def test_public_names_import_on_first_use() -> None:
    """Every public name is still importable from the package, from its own module."""
    import twisted_tcp
    from twisted_tcp.chat import ChatFactory
    from twisted_tcp.http import fetch

    assert twisted_tcp.ChatFactory is ChatFactory
    assert twisted_tcp.fetch is fetch
    for name in twisted_tcp.__all__:
        assert getattr(twisted_tcp, name) is not None
        assert name in dir(twisted_tcp)


def test_unknown_attribute_is_an_attribute_error() -> None:
    """A name the package does not have raises AttributeError, as for any module."""
    import twisted_tcp

    assert not hasattr(twisted_tcp, "NoSuchFactory")


def test_help_imports_no_twisted() -> None:
    """C{twisted-tcp --help} prints the commands without importing Twisted."""
    code, modules = modules_after(
        "from twisted_tcp.cli import main; main(sys.argv[2:])", "--help"
    )
    assert code == 0
    assert "argparse" in modules
    assert not {name for name in modules if name.split(".")[0] == "twisted"}


@pytest_twisted.ensureDeferred
async def test_get_imports_no_server_or_other_client(
    reactor: Any, tmp_path: Path
) -> None:
    """C{twisted-tcp get} imports neither the servers nor the line, UDP or ping code."""
    (tmp_path / "page").write_bytes(b"fifteen bytes!\n")
    port = reactor.listenTCP(
        0, server.Site(static.File(str(tmp_path))), interface="127.0.0.1"
    )
    try:
        code, modules = await deferToThread(
            modules_after,
            "from twisted_tcp.cli import main; main(sys.argv[2:])",
            "get", "-s", "-o", str(tmp_path / "saved"),
            f"http://127.0.0.1:{port_of(port)}/page",
        )  # fmt: skip
    finally:
        await stop(port)
    assert code == 0
    assert (tmp_path / "saved").read_bytes() == b"fifteen bytes!\n"
    assert "twisted_tcp.http.fetch" in modules
    unwanted = {
        *_SERVER_MODULES,
        "twisted_tcp.cli.console",
        "twisted_tcp.cli.send",
        "twisted_tcp.cli.chat",
        "twisted_tcp.cli.lineclient",
        "twisted_tcp.cli.ping",
        "twisted_tcp.cli.udp",
    }
    assert unwanted & modules == set()
