"""
Tests for L{twisted_tcp.http.fetch} and C{twisted-tcp get}: real sockets on 127.0.0.1
against twisted.web and against raw servers that misbehave, TLS with a certificate
made here, atomic saving, and memory that stays flat on a large download.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
import treq
from twisted.internet import ssl
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.interfaces import IListeningPort
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.threads import deferToThread
from twisted.web import resource, server, util
from twisted.web.static import Data

from twisted_tcp.http import (
    BadTransferEncodingError,
    BadURLError,
    CertificateError,
    CouldNotConnectError,
    FetchOptions,
    FileTooLargeError,
    HTTPStatusError,
    MalformedResponseError,
    OperationTimeoutError,
    ShortBodyError,
    TooManyRedirectsError,
    UnsupportedSchemeError,
    WriteError,
    fetch,
)
from twisted_tcp.http import body as _http_body

from ..support import (
    port_of,
    raw_server,
    run_get,
    run_get_against,
    self_signed,
    stop,
)
from .scripted import Answer, ScriptedServer

PAGE = b"<html><body>" + b"tutorial page " * 500 + b"</body></html>"
BLOB = bytes(range(256)) * 4096  # 1 MiB of every byte value.
GZIPPED_PAGE = gzip.compress(PAGE, mtime=0)  # Fixed time: the same bytes each time.
HALF = b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nhalf"  # And then nothing.


class Chunked(resource.Resource):
    """A body written in pieces without a length: twisted.web sends it chunked."""

    isLeaf = True

    def render_GET(self, request: Any) -> int:
        for start in range(0, len(BLOB), 100_000):
            request.write(BLOB[start : start + 100_000])
        request.finish()
        return server.NOT_DONE_YET


class Gzipped(resource.Resource):
    """PAGE, gzip-encoded, for clients that ask for it."""

    isLeaf = True

    def render_GET(self, request: Any) -> bytes:
        request.setHeader(b"Content-Encoding", b"gzip")
        return GZIPPED_PAGE


class Bomb(resource.Resource):
    """1 KiB of gzip that inflates to 8 MiB."""

    isLeaf = True

    def render_GET(self, request: Any) -> bytes:
        request.setHeader(b"Content-Encoding", b"gzip")
        return gzip.compress(b"\0" * (8 << 20))


class Redirects(resource.Resource):
    """/hop/N redirects to /hop/N-1; /hop/0 is the page; /loop redirects to itself;
    /away to a page that does not exist."""

    isLeaf = True

    def render_GET(self, request: Any) -> bytes:
        parts = request.postpath
        if parts[0] == b"loop":
            return util.redirectTo(b"/redirect/loop", request)
        if parts[0] == b"away":
            return util.redirectTo(b"/missing", request)
        hops = int(parts[1])
        if hops:
            return util.redirectTo(b"/redirect/hop/%d" % (hops - 1), request)
        return PAGE


def site() -> server.Site:
    root = resource.Resource()
    root.putChild(b"page.html", Data(PAGE, "text/html"))
    root.putChild(b"blob", Data(BLOB, "application/octet-stream"))
    root.putChild(b"chunked", Chunked())
    root.putChild(b"gzip", Gzipped())
    root.putChild(b"bomb", Bomb())
    root.putChild(b"redirect", Redirects())
    return server.Site(root)


@pytest.fixture
def web(reactor: Any) -> Iterator[str]:
    """A twisted.web server on 127.0.0.1; its base URL."""
    port = reactor.listenTCP(0, site(), interface="127.0.0.1")
    yield f"http://127.0.0.1:{port_of(port)}"
    port.stopListening()


# Bodies and framings.


@pytest_twisted.ensureDeferred
async def test_content_length_saved(reactor: Any, web: str, tmp_path: Path) -> None:
    """A Content-Length body is saved; the result says what was fetched."""
    target = tmp_path / "page.html"
    result = await fetch(reactor, f"{web}/page.html", str(target))
    assert target.read_bytes() == PAGE
    assert (result.status, result.bytes, result.redirects) == (200, len(PAGE), 0)
    assert result.sha256 == hashlib.sha256(PAGE).hexdigest()
    assert result.url == f"{web}/page.html"
    assert list(tmp_path.iterdir()) == [target]


@pytest_twisted.ensureDeferred
async def test_hashing_can_be_skipped(reactor: Any, web: str, tmp_path: Path) -> None:
    """C{sha256=False} saves the same bytes and reports no digest."""
    target = tmp_path / "page.html"
    result = await fetch(
        reactor, f"{web}/page.html", str(target), FetchOptions(sha256=False)
    )
    assert target.read_bytes() == PAGE
    assert (result.bytes, result.sha256) == (len(PAGE), None)


@pytest_twisted.ensureDeferred
async def test_chunked_saved(reactor: Any, web: str, tmp_path: Path) -> None:
    """A chunked body arrives whole."""
    target = tmp_path / "blob"
    await fetch(reactor, f"{web}/chunked", str(target))
    assert target.read_bytes() == BLOB


@pytest_twisted.ensureDeferred
async def test_close_delimited(reactor: Any, tmp_path: Path) -> None:
    """A body without length or chunking runs until the server closes."""
    port, url = raw_server(reactor, b"HTTP/1.1 200 OK\r\n\r\nuntil the end")
    try:
        result = await fetch(reactor, url, str(tmp_path / "out"))
        assert (tmp_path / "out").read_bytes() == b"until the end"
        assert result.bytes == 13
    finally:
        await stop(port)


@pytest_twisted.ensureDeferred
async def test_gzip_only_with_compressed(reactor: Any, web: str) -> None:
    """gzip is decoded with compressed=True and left alone without it."""
    decoded = await fetch(reactor, f"{web}/gzip", None, FetchOptions(compressed=True))
    assert decoded.sha256 == hashlib.sha256(PAGE).hexdigest()
    raw = await fetch(reactor, f"{web}/gzip")
    assert raw.bytes < len(PAGE)


@pytest_twisted.ensureDeferred
async def test_gzip_bomb_capped(reactor: Any, web: str, tmp_path: Path) -> None:
    """The decoded size is capped by max_filesize: a gzip bomb stops there."""
    with pytest.raises(FileTooLargeError):
        await fetch(
            reactor,
            f"{web}/bomb",
            str(tmp_path / "bomb"),
            FetchOptions(compressed=True, max_filesize=1 << 20),
        )
    assert list(tmp_path.iterdir()) == []


@pytest_twisted.ensureDeferred
async def test_max_filesize_from_content_length(reactor: Any, web: str) -> None:
    """An announced length over max_filesize fails before the body is read."""
    with pytest.raises(FileTooLargeError, match="over 1000 bytes"):
        await fetch(reactor, f"{web}/blob", None, FetchOptions(max_filesize=1000))


# Redirects.


@pytest_twisted.ensureDeferred
async def test_redirect_chain_followed(reactor: Any, web: str, tmp_path: Path) -> None:
    """With follow_redirects, a chain is followed and only the last body is saved."""
    target = tmp_path / "page"
    result = await fetch(
        reactor,
        f"{web}/redirect/hop/3",
        str(target),
        FetchOptions(follow_redirects=True),
    )
    assert (result.redirects, result.url) == (3, f"{web}/redirect/hop/0")
    assert target.read_bytes() == PAGE


@pytest_twisted.ensureDeferred
async def test_redirect_not_followed_by_default(reactor: Any, web: str) -> None:
    """Without follow_redirects, the redirect is the answer."""
    result = await fetch(reactor, f"{web}/redirect/hop/1")
    assert result.status == 302


@pytest_twisted.ensureDeferred
async def test_redirect_loop(reactor: Any, web: str) -> None:
    """A redirect loop ends after max_redirects with exit code 47."""
    with pytest.raises(TooManyRedirectsError) as caught:
        await fetch(
            reactor,
            f"{web}/redirect/loop",
            None,
            FetchOptions(follow_redirects=True, max_redirects=5),
        )
    assert caught.value.exit_code == 47


# Failures leave no file and the old file untouched.


@pytest_twisted.ensureDeferred
async def test_404_with_fail(reactor: Any, web: str, tmp_path: Path) -> None:
    """With fail, 404 is exit 22 and nothing is written."""
    with pytest.raises(HTTPStatusError) as caught:
        await fetch(
            reactor, f"{web}/missing", str(tmp_path / "x"), FetchOptions(fail=True)
        )
    assert caught.value.exit_code == 22
    assert list(tmp_path.iterdir()) == []


@pytest_twisted.ensureDeferred
async def test_truncated_body_keeps_old_file(reactor: Any, tmp_path: Path) -> None:
    """A body shorter than announced is exit 18; the old file is untouched."""
    target = tmp_path / "page.html"
    target.write_bytes(b"old version")
    port, url = raw_server(
        reactor, b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhalf"
    )
    try:
        with pytest.raises(ShortBodyError) as caught:
            await fetch(reactor, url, str(target))
        assert caught.value.exit_code == 18
        assert target.read_bytes() == b"old version"
        assert list(tmp_path.iterdir()) == [target]
    finally:
        await stop(port)


@pytest_twisted.ensureDeferred
async def test_malformed_response(reactor: Any) -> None:
    """A malformed response is exit 8."""
    port, url = raw_server(reactor, b"HTTP/1.1 200 OK\r\nBad Header\r\n\r\n")
    try:
        with pytest.raises(MalformedResponseError):
            await fetch(reactor, url)
    finally:
        await stop(port)


@pytest_twisted.ensureDeferred
async def test_stalled_server_times_out(reactor: Any, tmp_path: Path) -> None:
    """A server that never answers hits max_time: exit 28, no file."""
    port, url = raw_server(reactor, None)
    try:
        with pytest.raises(OperationTimeoutError) as caught:
            await fetch(reactor, url, str(tmp_path / "x"), FetchOptions(max_time=0.3))
        assert caught.value.exit_code == 28
        assert list(tmp_path.iterdir()) == []
    finally:
        await stop(port)


@pytest_twisted.ensureDeferred
async def test_huge_chunk_refused_at_once(reactor: Any, tmp_path: Path) -> None:
    """
    A chunk of 2**64 - 1 bytes from a server that then stalls is exit 61 at once,
    not a wait for the transfer's time limit; no file is left.
    """
    reply = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n"
    port, url = raw_server(reactor, reply, close=False)
    try:
        with pytest.raises(BadTransferEncodingError) as caught:
            await fetch(reactor, url, str(tmp_path / "x"), FetchOptions(max_time=60))
        assert caught.value.exit_code == 61
        assert list(tmp_path.iterdir()) == []
    finally:
        await stop(port)


@pytest_twisted.ensureDeferred
async def test_cancelled_fetch_removes_partial(reactor: Any, tmp_path: Path) -> None:
    """
    Cancelling a fetch mid-body (as Ctrl-C does) raises CancelledError and leaves
    no temporary file, with no time limit set.
    """
    port, url = raw_server(reactor, HALF, close=False)
    partial: list[list[Path]] = []

    def cancel_soon(size: int) -> None:
        partial.append(list(tmp_path.iterdir()))
        reactor.callLater(0, running.cancel)

    running = Deferred.fromCoroutine(
        fetch(
            reactor, url, str(tmp_path / "x"),
            on_progress=cancel_soon,
        )
    )  # fmt: skip
    try:
        with pytest.raises(CancelledError):
            await running
    finally:
        await stop(port)
    assert [path.name.endswith(".part") for path in partial[0]] == [True]
    assert list(tmp_path.iterdir()) == []


@pytest_twisted.ensureDeferred
async def test_stall_mid_body_removes_partial(reactor: Any, tmp_path: Path) -> None:
    """A body that stalls halfway times out and its temporary file is removed."""
    port, url = raw_server(reactor, HALF, close=False)
    try:
        with pytest.raises(OperationTimeoutError):
            await fetch(reactor, url, str(tmp_path / "x"), FetchOptions(max_time=0.3))
        assert list(tmp_path.iterdir()) == []
    finally:
        await stop(port)


@pytest_twisted.ensureDeferred
async def test_refused(reactor: Any) -> None:
    """A closed port is exit 7."""
    port = reactor.listenTCP(0, Factory.forProtocol(Protocol), interface="127.0.0.1")
    number = port_of(port)
    await stop(port)
    with pytest.raises(CouldNotConnectError) as caught:
        await fetch(reactor, f"http://127.0.0.1:{number}/")
    assert caught.value.exit_code == 7


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/a b",
        "http://127.0.0.1/\r\nX-Injected: 1",
        "http://127.0.0.1/\x00",
        "http:///nohost",
        "127.0.0.1/page",
        "http://127.0.0.1:99999/",
        "http://[::1/",
    ],
)
@pytest_twisted.ensureDeferred
async def test_bad_url_refused_before_connecting(reactor: Any, url: str) -> None:
    """URLs with spaces, CR/LF or controls, or no host, are exit 3, before any I/O."""
    with pytest.raises(BadURLError) as caught:
        await fetch(reactor, url)
    assert caught.value.exit_code == 3


@pytest_twisted.ensureDeferred
async def test_unsupported_scheme(reactor: Any) -> None:
    """Only http and https: anything else is exit 1."""
    with pytest.raises(UnsupportedSchemeError) as caught:
        await fetch(reactor, "ftp://127.0.0.1/file")
    assert caught.value.exit_code == 1


@pytest.mark.parametrize("failing", ["write", "fsync"])
@pytest_twisted.ensureDeferred
async def test_disk_failure_leaves_no_partial_file(
    reactor: Any,
    web: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    failing: str,
) -> None:
    """A disk that fills up while writing (or syncing) leaves the old file as it was."""
    target = tmp_path / "blob"
    target.write_bytes(b"previous")
    if failing == "write":
        real_write = _http_body.BodyPipeline._deliver
        written = []

        def deliver(self: Any, data: bytes) -> None:
            written.append(len(data))
            if sum(written) > 200_000:
                self.destination._file.write = _disk_full
            real_write(self, data)

        monkeypatch.setattr(_http_body.BodyPipeline, "_deliver", deliver)
    else:
        monkeypatch.setattr(os, "fsync", _disk_full)
    with pytest.raises(WriteError) as caught:
        await fetch(reactor, f"{web}/blob", str(target))
    assert caught.value.exit_code == 23
    assert "No space left on device" in str(caught.value)
    assert target.read_bytes() == b"previous"
    assert list(tmp_path.iterdir()) == [target]


def _disk_full(*args: Any) -> Any:
    raise OSError(28, "No space left on device")


@pytest.mark.parametrize("parent", ["no/such", "file"])
@pytest_twisted.ensureDeferred
async def test_missing_directory_before_connecting(
    reactor: Any, tmp_path: Path, parent: str
) -> None:
    """
    C{get -o} into a directory that does not exist (or a file) is exit 23 in one
    line, before connecting: nothing is asked of the server, no head is printed.
    """
    (tmp_path / "file").write_bytes(b"")
    server = ScriptedServer(reactor, lambda request: Answer(HALF))
    try:
        result = await run_get_against("-o", str(tmp_path / parent / "x"), server.url)
    finally:
        await server.stop()
    assert (result.returncode, result.stdout, server.requests) == (23, b"", [])
    assert result.stderr.count(b"\n") == 1


# Against treq: the same bytes.


@pytest.mark.parametrize("path", ["/page.html", "/blob", "/chunked", "/gzip"])
@pytest_twisted.ensureDeferred
async def test_same_bytes_as_treq(reactor: Any, web: str, path: str) -> None:
    """Our client and treq (which asks for gzip and decodes it) agree on every byte."""
    ours = await fetch(reactor, web + path, None, FetchOptions(compressed=True))
    response = await treq.get(web + path, reactor=reactor)
    theirs = await treq.content(response)
    assert ours.sha256 == hashlib.sha256(theirs).hexdigest()
    assert ours.status == response.code


# TLS with a certificate made here.


@pytest_twisted.ensureDeferred
async def test_https_self_signed(reactor: Any, tmp_path: Path) -> None:
    """A self-signed certificate is refused (60) unless trusted with cacert, or -k."""
    key_path, cert_path = self_signed(tmp_path)
    port = tls_site(reactor, key_path, cert_path)
    url = f"https://localhost:{port_of(port)}/page.html"
    try:
        with pytest.raises(CertificateError) as caught:
            await fetch(reactor, url)
        assert caught.value.exit_code == 60
        trusted = await fetch(reactor, url, None, FetchOptions(cacert=str(cert_path)))
        assert trusted.sha256 == hashlib.sha256(PAGE).hexdigest()
        insecure = await fetch(reactor, url, None, FetchOptions(insecure=True))
        assert insecure.status == 200
    finally:
        await stop(port)


def tls_site(reactor: Any, key_path: Path, cert_path: Path) -> IListeningPort:
    """The test site over TLS on 127.0.0.1, with the given key and certificate."""
    options = ssl.PrivateCertificate.loadPEM(
        cert_path.read_bytes() + key_path.read_bytes()
    ).options()
    port: IListeningPort = reactor.listenSSL(0, site(), options, interface="127.0.0.1")
    return port


@pytest.mark.parametrize(
    ("common_name", "alt_names", "message"),
    [
        (
            "localhost",
            None,
            "the server's certificate has no subjectAltName, so it names no host "
            "(a common name alone is not trusted); make it with "
            "-addext subjectAltName=DNS:localhost",
        ),
        (
            "elsewhere.example",
            None,
            "the server's certificate has no subjectAltName",
        ),
        (
            "localhost",
            ["elsewhere.example", "127.0.0.2"],
            "the certificate is not for localhost (it is for elsewhere.example, "
            "127.0.0.2)",
        ),
    ],
)
@pytest_twisted.ensureDeferred
async def test_https_certificate_for_another_name(
    reactor: Any,
    tmp_path: Path,
    common_name: str,
    alt_names: list[str] | None,
    message: str,
) -> None:
    """
    A trusted certificate must name the host in subjectAltName: one without
    subjectAltName (whatever its CN) or for other names is exit 60, one line on
    stderr, no traceback.
    """
    key_path, cert_path = self_signed(tmp_path, common_name, alt_names)
    port = tls_site(reactor, key_path, cert_path)
    url = f"https://localhost:{port_of(port)}/page.html"
    try:
        with pytest.raises(CertificateError, match=re.escape(message)):
            await fetch(reactor, url, None, FetchOptions(cacert=str(cert_path)))
        result = await run_get_against("--cacert", str(cert_path), url)
    finally:
        await stop(port)
    assert (result.returncode, result.stdout) == (60, b"")
    assert result.stderr.startswith(b"twisted-tcp: " + message.encode())
    assert result.stderr.count(b"\n") == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read --cacert {}: No such file or directory"),
        (b"not a certificate", "--cacert {} is not a PEM certificate"),
    ],
)
def test_cli_unusable_cacert(
    tmp_path: Path, content: bytes | None, message: str
) -> None:
    """
    A --cacert file that is missing or not PEM is exit 77 (curl's), one line that
    says so and no more (no OpenSSL error tuple).
    """
    ca = tmp_path / "ca.pem"
    if content is not None:
        ca.write_bytes(content)
    result = run_get("--cacert", str(ca), "https://127.0.0.1:9/")
    assert result.returncode == 77
    assert result.stderr == f"twisted-tcp: {message.format(ca)}\n".encode()


# The command line.


@pytest_twisted.ensureDeferred
async def test_cli_saves_and_prints_head(
    reactor: Any, web: str, tmp_path: Path
) -> None:
    """-o saves the body and prints the status line and headers (the tutorial)."""
    result = await run_get_against("-o", str(tmp_path / "p.html"), f"{web}/page.html")
    assert result.returncode == 0
    assert result.stdout.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\nContent-Length: %d\r\n" % len(PAGE) in result.stdout
    assert (tmp_path / "p.html").read_bytes() == PAGE


@pytest_twisted.ensureDeferred
async def test_cli_body_to_stdout(reactor: Any, web: str) -> None:
    """Without -o the body is all that goes to stdout."""
    result = await run_get_against(f"{web}/blob")
    assert (result.returncode, result.stdout) == (0, BLOB)


@pytest_twisted.ensureDeferred
async def test_cli_remote_name_silent_json(
    reactor: Any, web: str, tmp_path: Path
) -> None:
    """-O names the file from the URL; -s --json prints one summary line only."""
    result = await run_get_against(
        "-O", "-s", "--json", "-L", f"{web}/page.html", cwd=tmp_path
    )
    summary = json.loads(result.stdout)
    assert summary == {
        "url": f"{web}/page.html",
        "redirects": 0,
        "status": 200,
        "bytes": len(PAGE),
        "seconds": summary["seconds"],
        "sha256": hashlib.sha256(PAGE).hexdigest(),
        "saved": "page.html",
        "exit_code": 0,
        "error": None,
        "attempts": 1,
    }
    assert (tmp_path / "page.html").read_bytes() == PAGE


@pytest_twisted.ensureDeferred
async def test_cli_json_on_failure(reactor: Any, web: str, tmp_path: Path) -> None:
    """
    --json prints its summary on failure too, with the exit code and message,
    where the failure happened (after redirects) and the status if one came.
    """
    result = await run_get_against(
        "-L", "-f", "--json", "-o", str(tmp_path / "x"), f"{web}/redirect/away"
    )
    summary = json.loads(result.stdout)
    message = "the server answered 404 Not Found"
    assert summary == {
        "url": f"{web}/missing",
        "redirects": 1,
        "status": 404,
        "bytes": 0,
        "seconds": summary["seconds"],
        "sha256": None,
        "saved": None,
        "exit_code": 22,
        "error": message,
        "attempts": 1,
    }
    assert result.returncode == 22
    assert result.stderr == f"twisted-tcp: {message}\n".encode()
    refused = await run_get_against("--json", "-o", str(tmp_path / "x"), "127.0.0.1:9")
    summary = json.loads(refused.stdout)
    assert (summary["url"], summary["status"], summary["exit_code"]) == (
        "http://127.0.0.1:9",
        None,
        7,
    )
    assert summary["error"].startswith("cannot connect to 127.0.0.1 port 9")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("output", [[], ["-o", "-"]])
def test_cli_json_needs_a_file(output: list[str]) -> None:
    """--json with the body on stdout is a usage error: the two would mix."""
    result = run_get("--json", *output, "http://127.0.0.1:9/")
    assert (result.returncode, result.stdout) == (2, b"")
    assert result.stderr == (
        b"twisted-tcp: --json prints its summary on standard output: save the body "
        b"with -o FILE or -O (-o /dev/null to drop it)\n"
    )


@pytest_twisted.ensureDeferred
async def test_cli_dash_is_stdout_and_scheme_is_guessed(
    reactor: Any, web: str, tmp_path: Path
) -> None:
    """C{-o -} writes the body to stdout; a URL without scheme is http, as curl."""
    bare = web.removeprefix("http://")
    result = await run_get_against("-o", "-", f"{bare}/page.html", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (0, PAGE)
    assert list(tmp_path.iterdir()) == []


@pytest_twisted.ensureDeferred
async def test_cli_include_and_dump_header(
    reactor: Any, web: str, tmp_path: Path
) -> None:
    """-i puts the head before the body; -D writes it to a file."""
    head_file = tmp_path / "head.txt"
    result = await run_get_against("-i", "-D", str(head_file), f"{web}/page.html")
    head, _, body = result.stdout.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert body == PAGE
    assert head_file.read_bytes() == head + b"\r\n\r\n"


@pytest_twisted.ensureDeferred
async def test_cli_printed_head_shows_c1_controls(reactor: Any, tmp_path: Path) -> None:
    """
    The head printed by C{get -o} shows C1 controls (CSI as UTF-8 and as a single
    byte) escaped instead of sending them to the terminal; -D keeps the exact bytes.
    """
    head = (
        b"HTTP/1.1 200 OK\r\nX-A: \xc2\x9b2J\r\nX-B: \x9b31m\r\n"
        b"Content-Length: 2\r\n\r\n"
    )
    port, url = raw_server(reactor, head + b"ok")
    try:
        result = await run_get_against(
            "-o", str(tmp_path / "body"), "-D", str(tmp_path / "head"), url
        )
    finally:
        await stop(port)
    assert result.returncode == 0
    assert b"\x9b" not in result.stdout
    assert b"\r\nX-A: \\x9b2J\r\nX-B: \\x9b31m\r\n" in result.stdout
    assert (tmp_path / "head").read_bytes() == head
    assert (tmp_path / "body").read_bytes() == b"ok"


@pytest.mark.parametrize("spelling", ["same", "dotted", "link", "dangling link"])
def test_cli_head_and_body_to_one_file_refused(tmp_path: Path, spelling: str) -> None:
    """
    -o and -D naming one file, however spelled, are refused (exit 2, one line)
    before connecting, since one would overwrite the other.
    """
    body = tmp_path / "h.txt"
    head = str(body)
    if spelling == "dotted":
        head = f"{tmp_path}/./sub/../h.txt"
        (tmp_path / "sub").mkdir()
    elif spelling.endswith("link"):
        if spelling == "link":
            body.write_bytes(b"old")
        head = str(tmp_path / "link")
        (tmp_path / "link").symlink_to("h.txt")
    # Nothing listens on port 9: connecting would be exit 7.
    result = run_get("-o", str(body), "-D", head, "http://127.0.0.1:9/")
    assert result.returncode == 2
    assert (
        result.stderr
        == (
            f"twisted-tcp: -D {head} is the file the body is saved to: the one would "
            "overwrite the other (-i puts the head in the body's file)\n"
        ).encode()
    )


@pytest_twisted.ensureDeferred
async def test_cli_head_to_stdout(reactor: Any, web: str) -> None:
    """-D - writes the head to standard output, before the body."""
    result = await run_get_against("-D", "-", f"{web}/page.html")
    head, _, body = result.stdout.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert body == PAGE


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["ftp://127.0.0.1/x"], 1, "unsupported scheme"),
        (["http://127.0.0.1/a b"], 3, "spaces or control characters"),
        (["http://no-such-host.invalid/"], 6, "cannot resolve"),
    ],
)
def test_cli_exit_codes(argv: list[str], code: int, message: str) -> None:
    """Failures exit with curl's code and one line on stderr."""
    result = run_get(*argv)
    assert result.returncode == code
    assert result.stderr.decode().startswith("twisted-tcp: ")
    assert message in result.stderr.decode()
    assert result.stderr.count(b"\n") == 1


@pytest_twisted.ensureDeferred
async def test_cli_fail_and_redirect_loop(
    reactor: Any, web: str, tmp_path: Path
) -> None:
    """-f on a 404 is 22 with no file; a redirect loop under -L is 47."""
    missing = await run_get_against("-f", "-o", str(tmp_path / "x"), f"{web}/missing")
    assert missing.returncode == 22
    assert missing.stdout == b""
    assert not (tmp_path / "x").exists()
    loop = await run_get_against("-L", "--max-redirs", "3", f"{web}/redirect/loop")
    assert loop.returncode == 47


# Memory stays flat on a large download.


class Endless(resource.Resource):
    """C{size} bytes generated on the fly, one 64 KiB piece each time the client
    has taken the last (a pull producer), so the server holds almost nothing."""

    isLeaf = True

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def render_GET(self, request: Any) -> int:
        request.setHeader(b"Content-Length", b"%d" % self.size)
        piece = os.urandom(1 << 16)
        remaining = [self.size]

        class Pieces:
            def resumeProducing(self) -> None:
                if remaining[0] and not request.finished:
                    part = piece[: min(len(piece), remaining[0])]
                    remaining[0] -= len(part)
                    request.write(part)
                if not remaining[0] and not request.finished:
                    request.unregisterProducer()
                    request.finish()

            def stopProducing(self) -> None:
                remaining[0] = 0

        request.registerProducer(Pieces(), False)
        return server.NOT_DONE_YET


#: Runs C{twisted-tcp get} and writes its own peak RSS (VmHWM, in KiB) to a file.
#: A child's rusage would not do: it also counts the test process it was forked from.
_MEASURED_GET = """
import atexit, sys
from twisted_tcp.cli import main

def report():
    with open("/proc/self/status") as status, open(sys.argv[1], "w") as out:
        out.write(next(l for l in status if l.startswith("VmHWM")).split()[1])

atexit.register(report)
main(sys.argv[2:])
"""


def download_peak(url: str, target: Path) -> tuple[int, int]:
    """Run get in a fresh interpreter; its exit code and its peak RSS in KiB."""
    report = target.with_suffix(".rss")
    argv = [sys.executable, "-c", _MEASURED_GET, str(report), "get", "-s", "-o",
            str(target), url]  # fmt: skip
    code = subprocess.run(argv, timeout=300).returncode
    return code, int(report.read_text())


@pytest_twisted.ensureDeferred
async def test_large_download_memory_flat(reactor: Any, tmp_path: Path) -> None:
    """256 MiB saved to a file: the client's peak RSS stays far below the size."""
    size = 256 << 20
    root = resource.Resource()
    root.putChild(b"big", Endless(size))
    port = reactor.listenTCP(0, server.Site(root), interface="127.0.0.1")
    try:
        target = tmp_path / "big"
        code, peak_kib = await deferToThread(
            download_peak, f"http://127.0.0.1:{port_of(port)}/big", target
        )
        assert code == 0
        assert target.stat().st_size == size
        assert peak_kib < 80 * 1024, f"peak RSS {peak_kib} KiB"
        print(f"256 MiB download: client peak RSS {peak_kib} KiB")
    finally:
        await stop(port)
