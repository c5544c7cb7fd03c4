"""
Forward proxies (docs/http-client.md, "Proxies"): which proxy a URL goes through,
by curl's rules for C{-x}, C{--noproxy} and the C{*_proxy} environment variables;
and L{TunnelProtocol}, which asks an HTTP proxy for a C{CONNECT} tunnel and speaks
TLS to the server through it. A proxy's credentials go to the proxy only: in the
C{CONNECT} request, or beside a plain request's absolute URL; the server's never
go to the proxy in the clear with C{https://}.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from twisted.internet.defer import Deferred
from twisted.internet.protocol import Protocol, connectionDone
from twisted.python.failure import Failure

from twisted_tcp.http.errors import (
    BadURLError,
    HTTPError,
    MalformedResponseError,
    ProxyHandshakeError,
    ProxyTunnelError,
    UnsupportedSchemeError,
    server_text,
    shown,
)
from twisted_tcp.http.parser import End, Head, ResponseParser
from twisted_tcp.http.request import basic_credentials
from twisted_tcp.http.url import UNSAFE_IN_URL, Target


@dataclass(frozen=True)
class Proxy:
    """An HTTP proxy: where it listens, and its C{Proxy-Authorization}, if any."""

    host: str
    port: int
    authorization: str | None = None

    @property
    def name(self) -> str:
        """The proxy as messages name it (never with its credentials)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def parse_proxy(url: str, user: str | None = None) -> Proxy:
    """
    A proxy URL (C{http://[user:password@]host[:port]}, the scheme optional, port
    1080 if none, as curl); C{user} (C{user:password}) overrides the URL's.

    @raise BadURLError: for a malformed URL.
    @raise UnsupportedSchemeError: for a proxy other than an http:// one.
    """
    if UNSAFE_IN_URL.search(url):
        raise BadURLError(f"the proxy URL holds spaces or control characters: {url!r}")
    text = url if "://" in url else f"http://{url}"
    try:
        parts = urlsplit(text)
        port = parts.port or 1080
    except ValueError as error:
        raise BadURLError(f"bad proxy URL {url!r}: {error}") from None
    if parts.scheme.lower() != "http":
        raise UnsupportedSchemeError(
            f"unsupported proxy scheme {parts.scheme!r} (http:// proxies only)"
        )
    if not parts.hostname:
        raise BadURLError(f"no host in the proxy URL {url!r}")
    if user is None and parts.username is not None:
        user = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
    authorization = None if user is None else basic_credentials(user)
    return Proxy(parts.hostname, port, authorization)


def choose_proxy(
    target: Target,
    proxy: str | None,
    noproxy: str | None,
    environment: Mapping[str, str],
    user: str | None = None,
) -> Proxy | None:
    """
    The proxy for C{target}, as curl chooses it: C{proxy} (C{-x}; empty for none)
    first, else C{http_proxy} for http:// (lower case only, as curl, since a CGI
    program gets a request's C{Proxy:} field as C{HTTP_PROXY}), C{https_proxy} or
    C{HTTPS_PROXY} for https://, else C{all_proxy} or C{ALL_PROXY}; none for a host
    that C{noproxy} (C{--noproxy}), else C{no_proxy} or C{NO_PROXY}, lists.
    """
    if proxy is None:
        names = ["https_proxy", "HTTPS_PROXY"] if target.tls else ["http_proxy"]
        proxy = _first(environment, [*names, "all_proxy", "ALL_PROXY"])
    if not proxy:
        return None
    if noproxy is None:
        noproxy = _first(environment, ["no_proxy", "NO_PROXY"])
    if noproxy and bypassed(target.host, noproxy):
        return None
    return parse_proxy(proxy, user)


def _first(environment: Mapping[str, str], names: list[str]) -> str | None:
    for name in names:
        value = environment.get(name)
        if value:
            return value
    return None


def bypassed(host: str, noproxy: str) -> bool:
    """
    Whether C{noproxy} (comma-separated: C{*}, host names matching themselves and
    their subdomains, a leading dot allowed; addresses; CIDR ranges) lists C{host}.
    """
    host = host.lower().rstrip(".")
    for entry in noproxy.split(","):
        entry = entry.strip().lower().rstrip(".")
        if entry == "*":
            return True
        if not entry:
            continue
        if "/" in entry or _is_address(entry.strip("[]")):
            if _in_network(host, entry.strip("[]")):
                return True
            continue
        entry = entry.lstrip(".")
        if host == entry or host.endswith(f".{entry}"):
            return True
    return False


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _in_network(host: str, entry: str) -> bool:
    try:
        return ipaddress.ip_address(host) in ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return False


def connect_request(target: Target, proxy: Proxy) -> bytes:
    """The C{CONNECT} request for a tunnel to C{target}'s host and port."""
    authority = f"[{target.host}]" if ":" in target.host else target.host
    authority = f"{authority}:{target.port}"
    lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}"]
    if proxy.authorization is not None:
        lines.append(f"Proxy-Authorization: {proxy.authorization}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


class TunnelProtocol(Protocol):
    """
    Asks the proxy for a tunnel, then starts TLS with C{creator} on the same
    connection and hands it to C{inner}, which speaks to the server as if it had
    connected itself. C{inner.finished} tells the outcome: a refused tunnel fails
    it with L{ProxyTunnelError}, a proxy that does not speak HTTP with
    L{ProxyHandshakeError}.
    """

    def __init__(self, request: bytes, creator: Any, inner: Any, proxy: Proxy) -> None:
        self._request = request
        self._creator = creator
        self._inner = inner
        self._proxy = proxy
        self._parser: ResponseParser | None = ResponseParser(bodiless=True)
        #: Fires as the inner protocol's C{finished} does, or fails if the tunnel
        #: does; cancelling it aborts the connection, tunnel or not.
        self.finished: Deferred[None] = Deferred(self._cancel)
        inner.finished.addBoth(self._settle)

    def _settle(self, outcome: object) -> None:
        """Pass the inner outcome on (once); consumed here either way."""
        if not self.finished.called:
            if isinstance(outcome, Failure):
                self.finished.errback(outcome)
            else:
                self.finished.callback(None)

    def _cancel(self, _: Deferred[None]) -> None:
        self._parser = None
        if self.transport is not None:
            self.transport.abortConnection()  # type: ignore[attr-defined]

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.write(self._request)

    def dataReceived(self, data: bytes) -> None:
        if self._parser is None:
            self._inner.dataReceived(data)
            return
        try:
            events = self._parser.feed(data)
        except MalformedResponseError as error:
            self._fail(ProxyHandshakeError(f"the proxy {self._proxy.name}: {error}"))
            return
        for event in events:
            if isinstance(event, Head):
                head = event.head
                if not 200 <= head.status < 300:
                    reason = shown(server_text(head.reason))
                    self._fail(ProxyTunnelError(
                        f"the proxy {self._proxy.name} refused the tunnel: "
                        f"{head.status} {reason}"
                    ))  # fmt: skip
                    return
            elif isinstance(event, End):
                self._open()

    def _open(self) -> None:
        """The tunnel is up: TLS through it, then the inner protocol's request."""
        self._parser = None
        assert self.transport is not None
        self.transport.startTLS(self._creator)  # type: ignore[attr-defined]
        self._inner.makeConnection(self.transport)

    def _fail(self, error: HTTPError) -> None:
        self._parser = None
        self._settle(Failure(error))
        assert self.transport is not None
        self.transport.abortConnection()  # type: ignore[attr-defined]

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if self._parser is not None:
            self._settle(Failure(ProxyHandshakeError(
                f"the proxy {self._proxy.name} closed the connection before "
                "opening the tunnel"
            )))  # fmt: skip
        elif self._inner.transport is not None:
            self._inner.connectionLost(reason)
