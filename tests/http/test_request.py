"""
Tests for L{twisted_tcp.http.request} and the request options of
L{twisted_tcp.http.fetch}: C{-H} lines that could forge a field or a request are
refused; credentials reach the origin they were given for and no other; the
conditions (C{-z}, ETags) leave an unchanged target untouched (nginx); C{-J} takes
only a plain file name.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from twisted_tcp.http import BadURLError, FetchOptions, WriteError, fetch
from twisted_tcp.http.protocol import RateLimit
from twisted_tcp.http.request import Field, build_request, parse_field
from twisted_tcp.http.url import parse_url

from .peers import Nginx, nginx_serving
from .scripted import Answer, Request, ScriptedServer

OK = Answer(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ("X-Token: abc", Field("X-Token", "abc")),
        ("X-Token:   a b\t", Field("X-Token", "a b")),
        ("Accept:", Field("Accept", None)),
        ("X-Empty;", Field("X-Empty", "")),
        ("X-Name: café", Field("X-Name", "caf\xc3\xa9")),
    ],
)
def test_field_lines(line: str, field: Field) -> None:
    """-H lines set, drop, or empty a field as curl reads them; UTF-8 goes as is."""
    assert parse_field(line) == field


@pytest.mark.parametrize(
    "line",
    [
        "X: a\r\nInjected: yes",
        "X: a\nGET / HTTP/1.1",
        "X: a\rb",
        "X: a\x00b",
        "X: a\x1bb",
        "X: a\x85b",
        "Bad Name: x",
        "no colon",
        ": empty name",
        "Content-Length: 5",
        "Transfer-Encoding: chunked",
        "Connection: keep-alive",
    ],
)
def test_forging_lines_refused(line: str) -> None:
    """A -H line that could forge a field, a request or its framing is exit 3."""
    with pytest.raises(BadURLError) as caught:
        parse_field(line)
    assert caught.value.exit_code == 3


def test_user_fields_replace_and_drop() -> None:
    """The user's fields replace the client's of the same name, or drop them."""
    request = build_request(
        parse_url("http://h/"), user_agent="ua", compressed=False,
        user_fields=(Field("user-agent", "mine"), Field("Accept", None)),
    )  # fmt: skip
    assert request == (
        b"GET / HTTP/1.1\r\nHost: h\r\nuser-agent: mine\r\nConnection: close\r\n\r\n"
    )


def test_rate_limit_pauses_reading() -> None:
    """Reading stops while the transfer is ahead of the rate, and starts again."""
    clock = Clock()
    transport = StringTransport()
    limit = RateLimit(clock, 1000)
    limit.received(3000, transport)
    assert transport.producerState == "paused"
    clock.advance(2.9)
    assert transport.producerState == "paused"
    clock.advance(0.1)
    assert transport.producerState == "producing"


@pytest_twisted.async_yield_fixture
async def servers(reactor: Any) -> AsyncIterator[tuple[ScriptedServer, ScriptedServer]]:
    """
    Two origins: the first redirects /away to the second and /here to itself,
    answers ok otherwise; the second answers ok.
    """
    other = ScriptedServer(reactor, lambda request: OK)

    def answer(request: Request) -> Answer:
        places = {"/away": other.url + "/landed", "/here": "/landed"}
        if request.target in places:
            location = places[request.target].encode()
            return Answer(b"HTTP/1.1 302 Found\r\nLocation: %s\r\n\r\n" % location)
        return OK

    first = ScriptedServer(reactor, answer)
    yield first, other
    await first.stop()
    await other.stop()


SECRETS = FetchOptions(
    follow_redirects=True,
    user="ann:s3cret",
    headers=(Field("Cookie", "session=1"), Field("X-Plain", "kept")),
)


@pytest_twisted.ensureDeferred
async def test_credentials_stay_with_their_origin(
    reactor: Any, servers: tuple[ScriptedServer, ScriptedServer]
) -> None:
    """-u and a -H Cookie go to the first origin, never to another after a redirect."""
    first, other = servers
    await fetch(reactor, f"{first.url}/away", None, SECRETS)
    sent = first.requests[0].fields
    assert sent["authorization"] == "Basic YW5uOnMzY3JldA=="
    assert sent["cookie"] == "session=1"
    landed = other.requests[0].fields
    assert "authorization" not in landed and "cookie" not in landed
    assert landed["x-plain"] == "kept"
    assert b"s3cret" not in other.requests[0].raw


@pytest_twisted.ensureDeferred
async def test_credentials_follow_within_origin(
    reactor: Any, servers: tuple[ScriptedServer, ScriptedServer]
) -> None:
    """A redirect within the origin keeps the credentials, as curl does."""
    first, _ = servers
    await fetch(reactor, f"{first.url}/here", None, SECRETS)
    assert [request.fields.get("authorization") for request in first.requests] == [
        "Basic YW5uOnMzY3JldA==",
    ] * 2


@pytest_twisted.ensureDeferred
async def test_url_credentials_and_referer(
    reactor: Any, servers: tuple[ScriptedServer, ScriptedServer]
) -> None:
    """user:password in the URL is Basic authentication; -e sends a Referer."""
    first, _ = servers
    url = first.url.replace("//", "//bob:pw@") + "/p"
    result = await fetch(reactor, url, None, FetchOptions(referer="http://r/"))
    sent = first.requests[0].fields
    assert (sent["authorization"], sent["referer"]) == ("Basic Ym9iOnB3", "http://r/")
    assert "bob" not in result.url


# Conditions, HEAD, names, against nginx.

PAGE = b"<h1>page</h1>\n" * 100


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[Nginx]:
    """nginx serving PAGE as /page, last modified at 1,000,000,000 s."""
    with nginx_serving(tmp_path, {"page": PAGE}) as server:
        os.utime(server.root / "page", (1e9, 1e9))
        yield server


@pytest_twisted.ensureDeferred
async def test_not_modified_leaves_target(
    reactor: Any, nginx: Nginx, tmp_path: Path
) -> None:
    """If-Modified-Since or If-None-Match answered 304: the target is untouched."""
    target = tmp_path / "saved"
    first = await fetch(reactor, f"{nginx.url}/page", str(target))
    etag = dict(first.headers)["ETag"]
    target.write_bytes(b"mine")
    for options in (
        FetchOptions(if_modified_since=1e9),
        FetchOptions(if_none_match=etag),
    ):
        result = await fetch(reactor, f"{nginx.url}/page", str(target), options)
        assert (result.status, result.path, result.bytes) == (304, None, 0)
        assert target.read_bytes() == b"mine"
    newer = await fetch(
        reactor, f"{nginx.url}/page", str(target), FetchOptions(if_modified_since=1)
    )
    assert (newer.status, target.read_bytes()) == (200, PAGE)


@pytest_twisted.ensureDeferred
async def test_remote_time(reactor: Any, nginx: Nginx, tmp_path: Path) -> None:
    """-R gives the saved file the server's Last-Modified time."""
    target = tmp_path / "saved"
    result = await fetch(
        reactor, f"{nginx.url}/page", str(target), FetchOptions(remote_time=True)
    )
    stated = parsedate_to_datetime(dict(result.headers)["Last-Modified"])
    assert target.stat().st_mtime == stated.timestamp() == 1e9


@pytest_twisted.ensureDeferred
async def test_head_saves_nothing(reactor: Any, nginx: Nginx, tmp_path: Path) -> None:
    """-I sends HEAD: the head arrives, no body is read or saved."""
    result = await fetch(
        reactor, f"{nginx.url}/page", str(tmp_path / "x"), FetchOptions(head=True)
    )
    assert (result.status, result.bytes, result.path) == (200, 0, None)
    assert dict(result.headers)["Content-Length"] == str(len(PAGE))
    assert nginx.log(1)[-1].endswith('200 "HEAD /page HTTP/1.1" -')
    assert not (tmp_path / "x").exists()


@pytest_twisted.ensureDeferred
async def test_create_dirs(reactor: Any, nginx: Nginx, tmp_path: Path) -> None:
    """--create-dirs makes the target's missing directories."""
    target = tmp_path / "a" / "b" / "saved"
    await fetch(
        reactor, f"{nginx.url}/page", str(target), FetchOptions(create_dirs=True)
    )
    assert target.read_bytes() == PAGE


# -J: the server's name, if it is a plain one.


def disposition(value: bytes) -> Answer:
    return Answer(
        b"HTTP/1.1 200 OK\r\nContent-Disposition: %s\r\nContent-Length: 2\r\n\r\nok"
        % value
    )


@pytest.mark.parametrize(
    ("value", "name"),
    [
        (b'attachment; filename="report.pdf"', "report.pdf"),
        (b"attachment; filename*=UTF-8''caf%C3%A9.txt", "café.txt"),
        (b"inline", "fallback"),
    ],
)
@pytest_twisted.ensureDeferred
async def test_remote_header_name(
    reactor: Any, tmp_path: Path, value: bytes, name: str
) -> None:
    """-J saves under Content-Disposition's name, in the target's directory."""
    server = ScriptedServer(reactor, lambda request: disposition(value))
    try:
        options = FetchOptions(remote_header_name=True)
        result = await fetch(reactor, server.url, str(tmp_path / "fallback"), options)
    finally:
        await server.stop()
    assert result.path == str(tmp_path / name)
    assert [path.name for path in tmp_path.iterdir()] == [name]


@pytest.mark.parametrize(
    "value",
    [
        b'attachment; filename="../escape"',
        b'attachment; filename="/etc/passwd"',
        b'attachment; filename="a/b"',
        b'attachment; filename=".bashrc"',
        b"attachment; filename*=UTF-8''a%00b",
        b"attachment; filename*=UTF-8''a%2F..%2Fb",
        b"attachment; filename*=UTF-8''a%1B%5B31m",
        b'attachment; filename="a\x85b"',
        b'attachment; filename=""',
    ],
)
@pytest_twisted.ensureDeferred
async def test_remote_header_name_refuses_paths(
    reactor: Any, tmp_path: Path, value: bytes
) -> None:
    """-J refuses a name with a directory, NUL, controls, or a leading dot: exit 23."""
    server = ScriptedServer(reactor, lambda request: disposition(value))
    directory = tmp_path / "here"
    directory.mkdir()
    try:
        options = FetchOptions(remote_header_name=True)
        with pytest.raises(WriteError) as caught:
            await fetch(reactor, server.url, str(directory / "x"), options)
    finally:
        await server.stop()
    assert caught.value.exit_code == 23
    assert list(tmp_path.rglob("*")) == [directory]


@pytest_twisted.ensureDeferred
async def test_remote_header_name_never_replaces(reactor: Any, tmp_path: Path) -> None:
    """-J does not replace a file already there, as curl."""
    (tmp_path / "report.pdf").write_bytes(b"mine")
    server = ScriptedServer(
        reactor, lambda request: disposition(b"attachment; filename=report.pdf")
    )
    try:
        options = FetchOptions(remote_header_name=True)
        with pytest.raises(WriteError, match="exists"):
            await fetch(reactor, server.url, str(tmp_path / "x"), options)
    finally:
        await server.stop()
    assert (tmp_path / "report.pdf").read_bytes() == b"mine"
