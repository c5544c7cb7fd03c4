"""
Which web pages may open a chat WebSocket: the C{Origin} check.

A browser sends the origin of the page that opens a WebSocket, and lets any page open
one to any host; without this check, a page on another site could join the chat in
its visitors' names. The chat's own page is let in (its origin names the host the
browser asked for, as the C{Host} header does); C{--web-origin} lets in pages of other
origins too, for a page served elsewhere or a proxy that rewrites C{Host}.
Clients that send no C{Origin} are not browsers, so the check does not concern them.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import SplitResult, urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}


def parse_origin(text: str) -> str:
    """
    The canonical form of an origin: C{scheme://host[:port]} in lower case, the
    scheme's default port left out; or C{null} (what sandboxed and file pages send).

    @raise ValueError: for anything else, with a message fit for a usage error.
    """
    text = text.strip()
    if text.lower() == "null":
        return "null"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        parts, port = None, None
    if (
        parts is None
        or parts.scheme.lower() not in _DEFAULT_PORTS
        or not parts.hostname
        or parts.username is not None
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
    ):
        raise ValueError(
            f"not an origin: {text!r} (expected http://HOST[:PORT] or https://...)"
        )
    scheme = parts.scheme.lower()
    return f"{scheme}://{_authority(parts, scheme, port)}"


def _authority(parts: SplitResult, scheme: str, port: int | None) -> str:
    """C{host[:port]} with IPv6 addresses in brackets and a default port left out."""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"


class OriginPolicy:
    """
    Decides whether a WebSocket handshake's C{Origin} is let in.

    @param allowed: origins let in besides the page's own host (C{--web-origin}).
    """

    def __init__(self, allowed: Iterable[str] = ()) -> None:
        self.allowed = frozenset(parse_origin(origin) for origin in allowed)

    def allows(self, origin: str | None, host: str | None) -> bool:
        """
        Whether a handshake with these C{Origin} and C{Host} headers may go on.

        @param origin: the C{Origin} header, or C{None} if absent (not a browser).
        @param host: the C{Host} header the browser sent, which names this server as
            the page saw it.
        """
        if origin is None:
            return True
        try:
            canonical = parse_origin(origin)
        except ValueError:
            return False
        if canonical in self.allowed:
            return True
        if canonical == "null" or not host:
            return False
        scheme, _, authority = canonical.partition("://")
        try:
            parts = urlsplit(f"//{host.strip()}")
            own = _authority(parts, scheme, parts.port)
        except ValueError:
            return False
        return bool(parts.hostname) and own.lower() == authority
