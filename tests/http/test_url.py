"""
Tests for L{twisted_tcp.http.url}: non-ASCII paths, queries and redirect targets are
percent-encoded as curl sends them; a host no resolver takes is exit 3, never a
traceback, from the library, C{twisted-tcp get} and C{twist http-get} alike.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted

from twisted_tcp.http import BadURLError, FetchOptions, fetch
from twisted_tcp.http.url import parse_url

from ..support import run_get_against
from .scripted import Answer, Request, ScriptedServer

OK = Answer(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")


@pytest.mark.parametrize(
    ("url", "target"),
    [
        ("http://h/café?q=é", "/caf%C3%A9?q=%C3%A9"),
        ("http://h/\u009b", "/%C2%9B"),
        ("http://h/a%20b", "/a%20b"),
        ("http://h/\udce9", "/%E9"),
    ],
)
def test_non_ascii_is_percent_encoded(url: str, target: str) -> None:
    """Non-ASCII in a path or query goes out as percent-encoded UTF-8 (or its byte)."""
    assert parse_url(url).request_target == target


def test_international_host_is_idna() -> None:
    """A host name in Unicode is looked up, and sent, in IDNA's ASCII form."""
    parsed = parse_url("http://café.example/")
    assert (parsed.host, parsed.host_header) == ("xn--caf-dma.example", parsed.host)


@pytest.mark.parametrize("host", ["xn--", "-x", "a_b", "a..b", "\u0085", "xn--zz"])
def test_bad_host_is_a_bad_url(host: str) -> None:
    """A host name no resolver would take is refused as a bad URL (exit 3)."""
    with pytest.raises(BadURLError) as caught:
        parse_url(f"http://{host}:8080/")
    assert caught.value.exit_code == 3


def test_credentials_not_in_reported_url() -> None:
    """The URL a result or an error reports carries no credentials."""
    assert parse_url("http://user:secret@h:81/p").url == "http://h:81/p"


@pytest_twisted.async_yield_fixture
async def server(reactor: Any) -> AsyncIterator[ScriptedServer]:
    """Redirects /go/N to the Location in REDIRECTS[N]; answers anything else ok."""

    def answer(request: Request) -> Answer:
        if request.target.startswith("/go/"):
            location = REDIRECTS[int(request.target[4:])]
            return Answer(b"HTTP/1.1 302 Found\r\nLocation: %s\r\n\r\n" % location)
        return OK

    scripted = ScriptedServer(reactor, answer)
    yield scripted
    await scripted.stop()


REDIRECTS = [b"/caf\xc3\xa9", b"/caf\xe9", b"/x\xc2\x85y", b"/x\x85\x9by"]
SENT = ["/caf%C3%A9", "/caf%E9", "/x%C2%85y", "/x%85%9By"]


@pytest.mark.parametrize("number", range(len(REDIRECTS)))
@pytest_twisted.ensureDeferred
async def test_redirect_bytes_are_percent_encoded(
    server: ScriptedServer, reactor: Any, number: int
) -> None:
    """A Location in UTF-8, Latin-1 or with C1 bytes is followed, its bytes encoded."""
    options = FetchOptions(follow_redirects=True)
    result = await fetch(reactor, f"{server.url}/go/{number}", None, options)
    assert (result.status, server.requests[-1].target) == (200, SENT[number])
    assert result.url.isascii()


@pytest_twisted.ensureDeferred
async def test_cli_non_ascii_path(
    server: ScriptedServer, reactor: Any, tmp_path: Path
) -> None:
    """C{get} with a non-ASCII URL saves the body, the request encoded."""
    saved = tmp_path / "x"
    result = await run_get_against("-s", "-o", str(saved), f"{server.url}/café")
    assert (result.returncode, saved.read_bytes()) == (0, b"ok")
    assert server.requests[0].target == "/caf%C3%A9"


@pytest_twisted.ensureDeferred
async def test_cli_bad_host_is_one_line_and_json(reactor: Any, tmp_path: Path) -> None:
    """C{get --json} with a bad host exits 3 with one line and a JSON summary."""
    result = await run_get_against("--json", "-o", str(tmp_path / "x"), "http://xn--/")
    assert result.returncode == 3
    assert result.stderr.decode().count("\n") == 1
    assert json.loads(result.stdout)["exit_code"] == 3
