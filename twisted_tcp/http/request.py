"""
The request the HTTP client sends: a GET with the fields docs/http-client.md ("The
request") lists.
"""

from __future__ import annotations

from twisted_tcp.http.body import ACCEPT_ENCODING
from twisted_tcp.http.url import Target


def build_request(target: Target, user_agent: str, compressed: bool) -> bytes:
    """The GET request for C{target}, with Connection: close."""
    fields = [
        f"GET {target.request_target} HTTP/1.1",
        f"Host: {target.host_header}",
        f"User-Agent: {user_agent}",
        "Accept: */*",
    ]
    if compressed:
        fields.append(f"Accept-Encoding: {ACCEPT_ENCODING}")
    fields.append("Connection: close")
    return ("\r\n".join(fields) + "\r\n\r\n").encode("ascii")
