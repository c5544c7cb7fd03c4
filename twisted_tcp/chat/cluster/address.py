"""
Where the Redis server is: the C{--redis URL} of C{twist tcp-chat}, parsed and checked
at start-up, and the Twisted client endpoint that reaches it::

    redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]
    rediss://...[?ca=CA.pem]          the same over TLS (default: the system's CAs)
    unix:///path/to/redis.sock[?db=N]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qs, unquote, urlsplit

from twisted.internet.endpoints import (
    HostnameEndpoint,
    UNIXClientEndpoint,
    wrapClientTLS,
)
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.internet.ssl import Certificate, optionsForClientTLS

DEFAULT_PORT: Final = 6379
#: Seconds allowed to establish a connection to Redis.
CONNECT_TIMEOUT: Final = 5.0


@dataclass(frozen=True)
class RedisAddress:
    """A Redis server and how to log in to it."""

    scheme: str
    host: str = ""
    port: int = DEFAULT_PORT
    path: str = ""
    db: int = 0
    username: str | None = None
    password: str | None = None
    #: PEM certificate(s) of the authority a C{rediss://} server must be signed by;
    #: C{None}: the system's trusted authorities.
    ca: bytes | None = None

    def endpoint(self, reactor: Any) -> IStreamClientEndpoint:
        """A client endpoint that connects to this server."""
        if self.scheme == "unix":
            return UNIXClientEndpoint(reactor, self.path, timeout=CONNECT_TIMEOUT)
        tcp = HostnameEndpoint(reactor, self.host, self.port, timeout=CONNECT_TIMEOUT)
        if self.scheme == "rediss":
            trust = None if self.ca is None else Certificate.loadPEM(self.ca)
            return wrapClientTLS(optionsForClientTLS(self.host, trustRoot=trust), tcp)
        return tcp

    def __str__(self) -> str:
        """The address without its password, for logs and messages."""
        if self.scheme == "unix":
            return f"unix://{self.path}?db={self.db}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}/{self.db}"


def parse_redis_url(url: str) -> RedisAddress:
    """
    Parse a C{--redis} URL.

    @raise ValueError: with a one-line explanation of what is wrong.
    """
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme == "unix":
            return _unix_address(url, parts.netloc, parts.path, parts.query)
        if scheme not in ("redis", "rediss"):
            raise ValueError(
                f"--redis {url!r}: the scheme must be redis://, rediss:// or unix://"
            )
        host = parts.hostname
        if not host:
            raise ValueError(f"--redis {url!r}: no host")
        port = parts.port if parts.port is not None else DEFAULT_PORT
        if port == 0:
            raise ValueError(f"--redis {url!r}: port 0")
    except ValueError as error:
        if str(error).startswith("--redis"):
            raise
        raise ValueError(f"--redis {url!r}: {error}") from None
    return RedisAddress(
        scheme=scheme,
        host=host,
        port=port,
        db=_db(url, parts.path.strip("/")),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        ca=_ca(url, parts.query) if scheme == "rediss" else None,
    )


def _ca(url: str, query: str) -> bytes | None:
    paths = parse_qs(query).get("ca")
    if not paths:
        return None
    try:
        with open(paths[-1], "rb") as pem:
            data = pem.read(1 << 20)
        Certificate.loadPEM(data)
    except OSError as error:
        raise ValueError(f"--redis {url!r}: cannot read ca: {error.strerror}") from None
    except Exception:
        raise ValueError(f"--redis {url!r}: ca is not a PEM certificate") from None
    return data


def _unix_address(url: str, netloc: str, path: str, query: str) -> RedisAddress:
    if netloc or not path:
        raise ValueError(f"--redis {url!r}: write a socket as unix:///path/redis.sock")
    databases = parse_qs(query).get("db", ["0"])
    return RedisAddress(scheme="unix", path=unquote(path), db=_db(url, databases[-1]))


def _db(url: str, text: str) -> int:
    if not text:
        return 0
    if not text.isdigit() or len(text) > 5:
        raise ValueError(
            f"--redis {url!r}: the database must be a number, not {text!r}"
        )
    return int(text)
