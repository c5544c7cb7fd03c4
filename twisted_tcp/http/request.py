"""
The request the HTTP client sends (docs/http-client.md, "The request"): a GET (or a
HEAD) with its fields, the user's C{-H} fields checked so that none can forge
another field or a second request, and the credentials that go only to the origin
they were given for.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import formatdate

from twisted_tcp.http.decoding import ACCEPT_ENCODING
from twisted_tcp.http.errors import BadURLError
from twisted_tcp.http.url import Target

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
#: What a field value must not hold: CR, LF, NUL and the other C0 controls but
#: TAB, and DEL.
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
#: Fields the client writes itself from the request's framing; a C{-H} cannot
#: set them, since a second length or a coding would split the request.
_FRAMING = frozenset({"content-length", "transfer-encoding", "connection", "te"})
#: Fields that carry credentials: after a redirect to another origin they are left
#: out, whoever set them, as curl does.
CREDENTIAL_FIELDS = frozenset({"authorization", "cookie", "proxy-authorization"})


@dataclass(frozen=True)
class Field:
    """One C{-H} line: set C{name} to C{value}, or, if C{value} is None, drop it."""

    name: str
    value: str | None


def parse_field(line: str) -> Field:
    """
    A C{-H} line as curl reads it: C{Name: value} sets a field, C{Name:} drops one
    the client would send (C{Accept}, C{User-Agent}), C{Name;} sends it empty.

    @raise BadURLError: for a name that is not a token, or a value holding CR, LF,
        NUL or another control: what could forge a field or a request (exit 3, as
        for a URL that could).
    """
    name, colon, value = line.partition(":")
    if not colon and line.endswith(";"):
        name, value = line[:-1], ""
        colon = ":"
    name = name.strip(" \t")
    if not colon or not _TOKEN.fullmatch(name):
        raise BadURLError(f"-H wants 'Name: value', not {line!r}")
    if name.lower() in _FRAMING:
        raise BadURLError(f"-H cannot set {name}: the client frames the request")
    value = value.strip(" \t")
    if _BAD_VALUE.search(value) or not value.replace("\t", " ").isprintable():
        raise BadURLError(f"-H {name}: the value holds control characters")
    if not value and not line.endswith(";"):
        return Field(name, None)
    # Sent as the UTF-8 it was typed in: the request is written as Latin-1, byte
    # for byte.
    return Field(name, value.encode("utf-8", "surrogateescape").decode("latin-1"))


def basic_credentials(user: str) -> str:
    """The C{Authorization} value for C{user:password} (Basic, RFC 7617)."""
    if _BAD_VALUE.search(user):
        raise BadURLError("-u: the credentials hold control characters")
    token = base64.b64encode(user.encode("utf-8")).decode("ascii")
    return f"Basic {token}"


def http_date(timestamp: float) -> str:
    """A time as HTTP writes it: C{Sun, 06 Nov 1994 08:49:37 GMT}."""
    return formatdate(timestamp, usegmt=True)


def build_request(
    target: Target,
    *,
    method: str = "GET",
    user_agent: str,
    compressed: bool,
    fields: Sequence[tuple[str, str]] = (),
    user_fields: Sequence[Field] = (),
    absolute: bool = False,
    keep_alive: bool = False,
) -> bytes:
    """
    The request for C{target}: the client's own fields, then C{fields} (validators,
    ranges, credentials), then the user's C{-H} lines, which replace or drop a field
    of the same name. C{absolute}: the request line names the whole URL, as a
    request to a proxy does. Without C{keep_alive}, C{Connection: close} asks the
    server to close after its answer.
    """
    chosen: list[tuple[str, str]] = [
        ("Host", target.host_header),
        ("User-Agent", user_agent),
        ("Accept", "*/*"),
    ]
    if compressed:
        chosen.append(("Accept-Encoding", ACCEPT_ENCODING))
    chosen += list(fields)
    for field in user_fields:
        wanted = field.name.lower()
        chosen = [(name, value) for name, value in chosen if name.lower() != wanted]
        if field.value is not None:
            chosen.append((field.name, field.value))
    if not keep_alive:
        chosen.append(("Connection", "close"))
    where = target.request_target
    if absolute:
        where = f"{'https' if target.tls else 'http'}://{target.host_header}{where}"
    lines = [f"{method} {where} HTTP/1.1"]
    lines += [f"{name}: {value}" for name, value in chosen]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
