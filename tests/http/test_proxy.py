"""
Tests for L{twisted_tcp.http.proxy}: curl's rules for choosing a proxy (C{-x},
C{--noproxy}, the environment), and real transfers through tinyproxy, plain and
with C{CONNECT}, with and without the proxy's credentials; curl's exit codes 5, 7,
56 and 97; credentials that never reach the proxy's log nor go where they were
not given.
"""

from __future__ import annotations

import base64
import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet.threads import deferToThread

from twisted_tcp.http import FetchOptions, HTTPError, HTTPStatusError, fetch
from twisted_tcp.http.errors import (
    CouldNotConnectError,
    CouldNotResolveProxyError,
    ProxyHandshakeError,
    ProxyTunnelError,
    UnsupportedSchemeError,
)
from twisted_tcp.http.proxy import bypassed, choose_proxy
from twisted_tcp.http.url import parse_url

from ..redis_support import free_port
from ..support import GET_COMMAND, run_get_against, self_signed
from .peers import Tinyproxy
from .scripted import Answer, ScriptedServer

BODY = b"through the proxy\n"
OK = Answer(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(BODY), BODY))
HTTP = parse_url("http://example.com/")
HTTPS = parse_url("https://example.com/")


@pytest.mark.parametrize(
    ("target", "environment", "expected"),
    [
        (HTTP, {"http_proxy": "p:1"}, "p:1"),
        (HTTP, {"HTTP_PROXY": "p:1"}, None),
        (HTTPS, {"HTTPS_PROXY": "p:2"}, "p:2"),
        (HTTPS, {"https_proxy": "p:2", "all_proxy": "p:3"}, "p:2"),
        (HTTP, {"ALL_PROXY": "p:3"}, "p:3"),
        (HTTP, {"http_proxy": "p:1", "no_proxy": "example.com"}, None),
        (HTTP, {"http_proxy": "p:1", "NO_PROXY": ".com"}, None),
        (HTTP, {"http_proxy": "p:1", "no_proxy": "ample.com"}, "p:1"),
        (HTTP, {"http_proxy": "p:1", "no_proxy": "*"}, None),
        (HTTP, {}, None),
    ],
)
def test_environment_as_curl(
    target: Any, environment: dict[str, str], expected: str | None
) -> None:
    """The *_proxy and no_proxy variables are read as curl reads them."""
    chosen = choose_proxy(target, None, None, environment)
    assert (chosen and chosen.name) == (expected and expected)


def test_options_over_environment() -> None:
    """-x wins over the environment, -x '' means none, --noproxy over no_proxy."""
    environment = {"http_proxy": "p:1", "no_proxy": "*"}
    chosen = choose_proxy(HTTP, "q:2", "", environment)
    assert chosen is not None and chosen.name == "q:2"
    assert choose_proxy(HTTP, "", None, {"http_proxy": "p:1"}) is None
    assert choose_proxy(HTTP, "q:2", "example.com", {}) is None
    default = choose_proxy(HTTP, "q", None, {})
    assert default is not None and default.port == 1080


@pytest.mark.parametrize(
    ("host", "listed"),
    [
        ("10.1.2.3", "10.0.0.0/8"),
        ("10.1.2.3", "10.1.2.3"),
        ("::1", "[::1]"),
        ("a.b.example", "example"),
        ("EXAMPLE.com", "example.com."),
    ],
)
def test_noproxy_matches(host: str, listed: str) -> None:
    """--noproxy takes names (and subdomains), addresses and CIDR ranges."""
    assert bypassed(host, f"other, {listed}")


def test_socks_proxy_refused() -> None:
    """A proxy other than http:// is exit 1 (not supported), at once."""
    with pytest.raises(UnsupportedSchemeError):
        choose_proxy(HTTP, "socks5://p:1", None, {})


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[Tinyproxy]:
    """tinyproxy without authentication."""
    with Tinyproxy(tmp_path).running() as running:
        yield running


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[Tinyproxy]:
    """tinyproxy asking for proxyuser:proxypass."""
    directory = tmp_path / "guarded"
    directory.mkdir()
    with Tinyproxy(directory, "proxyuser:proxypass").running() as running:
        yield running


@pytest_twisted.async_yield_fixture
async def servers(
    reactor: Any, tmp_path: Path
) -> AsyncIterator[tuple[ScriptedServer, ScriptedServer, Path]]:
    """A plain and a TLS server answering BODY; the TLS one's certificate."""
    key, certificate = self_signed(tmp_path)
    plain = ScriptedServer(reactor, lambda request: OK)
    tls = ScriptedServer(reactor, lambda request: OK, tls=(key, certificate))
    yield plain, tls, certificate
    await plain.stop()
    await tls.stop()


SECRET = "ann:s3cret"


def secrets_in(text: str) -> list[str]:
    """Which spellings of SECRET and of the proxy's password C{text} holds."""
    spellings = [
        "s3cret", base64.b64encode(SECRET.encode()).decode(), "proxypass",
        base64.b64encode(b"proxyuser:proxypass").decode(),
    ]  # fmt: skip
    return [spelling for spelling in spellings if spelling in text]


@pytest_twisted.ensureDeferred
async def test_plain_and_connect_through_tinyproxy(
    reactor: Any, proxy: Tinyproxy, servers: tuple[ScriptedServer, ScriptedServer, Path]
) -> None:
    """http:// goes as an absolute URL, https:// through a CONNECT tunnel."""
    plain, tls, certificate = servers
    options = FetchOptions(proxy=proxy.url, cacert=str(certificate), user=SECRET)
    for server in (plain, tls):
        result = await fetch(reactor, f"{server.url}/file", None, options)
        assert result.sha256 is not None and result.bytes == len(BODY)
        assert server.requests[-1].target == "/file"
    log = proxy.log()
    assert f"GET {plain.url}/file HTTP/1.1" in log
    assert f"CONNECT {tls.url.removeprefix('https://')} HTTP/1.1" in log
    assert secrets_in(log) == []


@pytest_twisted.ensureDeferred
async def test_proxy_credentials_to_the_proxy_only(
    reactor: Any,
    guarded: Tinyproxy,
    servers: tuple[ScriptedServer, ScriptedServer, Path],
) -> None:
    """
    The proxy's credentials open it, for a plain request and a tunnel alike, and
    reach neither server; without them, a tunnel is exit 56 and a plain request
    gets the proxy's 407.
    """
    plain, tls, certificate = servers
    with_them = FetchOptions(
        proxy=guarded.url.replace("//", "//proxyuser:proxypass@"),
        cacert=str(certificate),
    )
    for server in (plain, tls):
        await fetch(reactor, server.url, None, with_them)
        assert "proxy-authorization" not in server.requests[-1].fields
    assert secrets_in(guarded.log()) == []
    without = FetchOptions(proxy=guarded.url, cacert=str(certificate), fail=True)
    with pytest.raises(ProxyTunnelError, match="407") as caught:
        await fetch(reactor, tls.url, None, without)
    assert caught.value.exit_code == 56
    with pytest.raises(HTTPStatusError, match="407"):
        await fetch(reactor, plain.url, None, without)
    separate = FetchOptions(proxy=guarded.url, proxy_user="proxyuser:proxypass")
    assert (await fetch(reactor, plain.url, None, separate)).status == 200


@pytest_twisted.ensureDeferred
async def test_cli_reads_http_proxy(
    reactor: Any, proxy: Tinyproxy, servers: tuple[ScriptedServer, ScriptedServer, Path]
) -> None:
    """get goes through http_proxy from the environment, as curl does."""
    plain, _, _ = servers
    import subprocess

    def run() -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [*GET_COMMAND, "-s", f"{plain.url}/env"], capture_output=True,
            timeout=60, env={**os.environ, "http_proxy": proxy.url},
        )  # fmt: skip

    result = await deferToThread(run)
    assert (result.returncode, result.stdout) == (0, BODY)
    assert f"GET {plain.url}/env HTTP/1.1" in proxy.log()


@pytest_twisted.async_yield_fixture
async def not_a_proxy(reactor: Any) -> AsyncIterator[ScriptedServer]:
    """A server that answers a CONNECT with something that is not HTTP."""
    server = ScriptedServer(reactor, lambda request: Answer(b"SSH-2.0-x\r\n\r\n"))
    yield server
    await server.stop()


@pytest_twisted.ensureDeferred
async def test_proxy_failures_have_curls_codes(
    reactor: Any, not_a_proxy: ScriptedServer
) -> None:
    """An unresolvable proxy is 5, a refused one 7, one not speaking HTTP 97."""
    cases: list[tuple[str, type[HTTPError], int]] = [
        ("http://no-such-proxy.invalid:3128", CouldNotResolveProxyError, 5),
        (f"http://127.0.0.1:{free_port()}", CouldNotConnectError, 7),
        (not_a_proxy.url, ProxyHandshakeError, 97),
    ]
    for proxy, error, code in cases:
        with pytest.raises(error) as caught:
            await fetch(
                reactor, "https://example.com/", None, FetchOptions(proxy=proxy)
            )
        assert caught.value.exit_code == code


@pytest_twisted.ensureDeferred
async def test_cli_proxy_failure_one_line(reactor: Any) -> None:
    """get -x to a refused proxy: exit 7, one line naming the proxy."""
    port = free_port()
    result = await run_get_against("-x", f"127.0.0.1:{port}", "http://example.com/")
    assert result.returncode == 7
    assert result.stderr.startswith(
        f"twisted-tcp: cannot connect to the proxy 127.0.0.1:{port}".encode()
    )
    assert result.stderr.count(b"\n") == 1
