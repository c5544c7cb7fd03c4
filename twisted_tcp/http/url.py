"""
URLs for the HTTP client: checked and split into what a request needs, refusing
anything that could forge a request line (docs/http-client.md, "The request").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from twisted_tcp.http.errors import BadURLError, UnsupportedSchemeError

UNSAFE_IN_URL = re.compile(r"[\x00-\x20\x7f]")


@dataclass(frozen=True)
class Target:
    """A checked http(s) URL, split into what a request needs."""

    url: str
    tls: bool
    host: str
    port: int
    request_target: str
    host_header: str


def guess_scheme(url: str) -> str:
    """
    A URL typed without a scheme (C{localhost:8080/x}) is taken as http, as curl
    does; the library's L{twisted_tcp.http.fetch} itself wants absolute URLs.
    """
    return url if "://" in url else f"http://{url}"


def parse_url(url: str) -> Target:
    """
    Check and split a URL; refuse anything that could forge a request line.

    @raise UnsupportedSchemeError: for schemes other than http and https.
    @raise BadURLError: for malformed URLs, or CR, LF, spaces or controls in them.
    """
    if UNSAFE_IN_URL.search(url):
        raise BadURLError(f"the URL holds spaces or control characters: {url!r}")
    try:
        parts: SplitResult = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise BadURLError(f"bad URL {url!r}: {error}") from None
    scheme = parts.scheme.lower()
    if not scheme or "//" not in url:
        raise BadURLError(f"not an absolute URL: {url!r}")
    if scheme not in ("http", "https"):
        raise UnsupportedSchemeError(f"unsupported scheme {scheme!r} (http or https)")
    if not parts.hostname:
        raise BadURLError(f"no host in {url!r}")
    try:
        host = parts.hostname.encode("idna").decode("ascii")
    except UnicodeError:
        raise BadURLError(f"bad host name in {url!r}") from None
    tls = scheme == "https"
    default_port = 443 if tls else 80
    port = default_port if port is None else port
    request_target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    shown_host = f"[{host}]" if ":" in host else host
    host_header = shown_host if port == default_port else f"{shown_host}:{port}"
    return Target(url, tls, host, port, request_target, host_header)
