"""
URLs for the HTTP client: checked and split into what a request needs, refusing
anything that could forge a request line (docs/http-client.md, "The request").
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import SplitResult, quote, unquote, urlsplit, urlunsplit

import idna

from twisted_tcp.http.errors import BadURLError, UnsupportedSchemeError

UNSAFE_IN_URL = re.compile(r"[\x00-\x20\x7f]")
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


@dataclass(frozen=True)
class Target:
    """A checked http(s) URL, split into what a request needs."""

    url: str
    tls: bool
    host: str
    port: int
    request_target: str
    host_header: str
    #: C{user:password} from the URL, if it had any.
    credentials: str | None = None

    @property
    def origin(self) -> tuple[bool, str, int]:
        """What credentials are tied to: the scheme, the host and the port."""
        return (self.tls, self.host, self.port)


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
    host = _ascii_host(parts.hostname, url)
    tls = scheme == "https"
    default_port = 443 if tls else 80
    port = default_port if port is None else port
    path, query = _percent_encoded(parts.path), _percent_encoded(parts.query)
    request_target = (path or "/") + (f"?{query}" if query else "")
    shown_host = f"[{host}]" if ":" in host else host
    host_header = shown_host if port == default_port else f"{shown_host}:{port}"
    # The URL as reported (results, errors, logs): ASCII, and without any
    # credentials it held.
    url = urlunsplit(
        (scheme, host_header, path, query, _percent_encoded(parts.fragment))
    )
    credentials = None
    if parts.username is not None:
        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
    return Target(url, tls, host, port, request_target, host_header, credentials)


def _ascii_host(host: str, url: str) -> str:
    """
    The host as it is looked up: an IP address, or a name in IDNA's ASCII form
    (C{café.example} is C{xn--caf-dma.example}).

    @raise BadURLError: for a name no resolver would take (C{xn--}, C{-x},
        C{a_b}, an empty label, controls).
    """
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return host
    try:
        return idna.encode(host.rstrip("."), uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError):
        raise BadURLError(f"bad host name {host!r} in {url!r}") from None


def _percent_encoded(text: str) -> str:
    """
    C{text} with every non-ASCII character percent-encoded as UTF-8, as curl and
    browsers send them (C{/café} is C{/caf%C3%A9}). A character standing for a
    byte that was not UTF-8 (a surrogate escape) is that byte, encoded.
    """
    return _NON_ASCII.sub(
        lambda match: quote(match[0].encode("utf-8", "surrogateescape"), safe=""),
        text,
    )
