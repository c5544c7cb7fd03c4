"""
Tests for L{twisted_tcp.http.errors}: server text in a message (a reason phrase, a
Location, a certificate's names) reaches the terminal or the log with its C0 and C1
controls escaped, from the library, C{twisted-tcp get} and C{twist http-get}.
"""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet.threads import deferToThread

from twisted_tcp.http import FetchOptions, HTTPStatusError, TooManyRedirectsError, fetch
from twisted_tcp.http.errors import server_text, shown

from ..support import run_get_against
from ..twist_support import TWIST
from .scripted import Answer, Request, ScriptedServer

#: A reason phrase with CSI twice: as UTF-8 (c2 9b) and as a single byte (9b).
REASON = b"Not\xc2\x9b31mFound\x9b0m"
CONTROL_BYTES = (b"\xc2\x9b", b"\x9b")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a\x9bb", "a\\x9bb"),
        ("\x1b[31m\x7f", "\\x1b[31m\\x7f"),
        ("caf\udce9 café\t", "caf\\xe9 café\\x09"),
    ],
)
def test_shown_escapes_controls(text: str, expected: str) -> None:
    """C0, C1, DEL and stray bytes are written as \\xNN; text is kept."""
    assert shown(text) == expected


def test_server_text_reads_utf8() -> None:
    """A Latin-1 decoded value is read as the UTF-8 it was, stray bytes kept."""
    assert server_text("caf\xc3\xa9\xe9") == "café\udce9"


@pytest_twisted.async_yield_fixture
async def server(reactor: Any) -> AsyncIterator[ScriptedServer]:
    """/404 answers 404 with REASON; /loop redirects to itself with C1 bytes."""

    def answer(request: Request) -> Answer:
        if request.target == "/404":
            return Answer(b"HTTP/1.1 404 %s\r\nContent-Length: 0\r\n\r\n" % REASON)
        if request.target.startswith("/loop"):
            return Answer(b"HTTP/1.1 302 Found\r\nLocation: /loop\x9b\r\n\r\n")
        return Answer(b"HTTP/1.1 200 %s\r\nContent-Length: 2\r\n\r\nok" % REASON)

    scripted = ScriptedServer(reactor, answer)
    yield scripted
    await scripted.stop()


@pytest_twisted.ensureDeferred
async def test_status_error_escapes_reason(
    server: ScriptedServer, reactor: Any
) -> None:
    """The 404's reason phrase is shown with its CSI escaped."""
    with pytest.raises(HTTPStatusError) as caught:
        await fetch(reactor, f"{server.url}/404", None, FetchOptions(fail=True))
    assert str(caught.value) == "the server answered 404 Not\\x9b31mFound\\x9b0m"


@pytest_twisted.ensureDeferred
async def test_redirect_error_escapes_location(
    server: ScriptedServer, reactor: Any
) -> None:
    """Too many redirects names the last Location with its C1 byte escaped."""
    options = FetchOptions(follow_redirects=True, max_redirects=1)
    with pytest.raises(TooManyRedirectsError) as caught:
        await fetch(reactor, f"{server.url}/loop", None, options)
    assert str(caught.value).endswith("(last to /loop\\x9b)")


@pytest_twisted.ensureDeferred
async def test_cli_fail_message_escaped(server: ScriptedServer, reactor: Any) -> None:
    """C{get -f} prints the reason on standard error without raw controls."""
    result = await run_get_against("-f", "-s", f"{server.url}/404")
    assert result.returncode == 22
    assert b"Not\\x9b31mFound" in result.stderr
    assert not any(control in result.stderr for control in CONTROL_BYTES)


@pytest_twisted.ensureDeferred
async def test_twist_log_escaped(
    server: ScriptedServer, reactor: Any, tmp_path: Path
) -> None:
    """C{twist http-get} logs the reason of a success, and a failure, escaped."""

    def twist(*argv: str) -> bytes:
        return subprocess.run(
            [str(TWIST), "--log-format=text", "http-get", *argv],
            cwd=tmp_path, capture_output=True, timeout=60,
        ).stdout  # fmt: skip

    saved = await deferToThread(twist, "-o", "x", f"{server.url}/ok")
    failed = await deferToThread(twist, "-f", "-o", "y", f"{server.url}/404")
    assert b"200 Not\\x9b31mFound\\x9b0m, 2 bytes saved" in saved
    assert b"404 Not\\x9b31mFound" in failed
    for log in (saved, failed):
        assert not any(control in log for control in CONTROL_BYTES)
