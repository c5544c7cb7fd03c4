"""
Tests for L{twisted_tcp.chat.cluster.address}: the C{--redis} URL.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from twisted.internet.endpoints import HostnameEndpoint, UNIXClientEndpoint

from tests.support import self_signed
from twisted_tcp.chat.cluster.address import RedisAddress, parse_redis_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://localhost", RedisAddress("redis", "localhost", 6379)),
        ("redis://127.0.0.1:7000/3", RedisAddress("redis", "127.0.0.1", 7000, db=3)),
        ("REDIS://h:1/", RedisAddress("redis", "h", 1)),
        ("redis://:s%40cret@h", RedisAddress("redis", "h", password="s@cret")),
        ("redis://bob:pw@h/2",
         RedisAddress("redis", "h", db=2, username="bob", password="pw")),
        ("redis://[::1]:6380", RedisAddress("redis", "::1", 6380)),
        ("rediss://redis.example", RedisAddress("rediss", "redis.example")),
        ("unix:///run/redis.sock", RedisAddress("unix", path="/run/redis.sock")),
        ("unix:///run/r%20s.sock?db=5",
         RedisAddress("unix", path="/run/r s.sock", db=5)),
    ],
)  # fmt: skip
def test_parse(url: str, expected: RedisAddress) -> None:
    """Each accepted form gives the server, database and login it names."""
    assert parse_redis_url(url) == expected


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("http://h", "scheme must be"),
        ("h:6379", "scheme must be"),
        ("redis://", "no host"),
        ("redis://h:99999", "out of range"),
        ("redis://h:0", "port 0"),
        ("redis://h:x", "Port could not be cast"),
        ("redis://h/one", "must be a number"),
        ("redis://h/123456", "must be a number"),
        ("unix://host/path", "unix:///path"),
        ("unix://", "unix:///path"),
        ("unix:///s?db=x", "must be a number"),
        ("rediss://h?ca=/nonexistent/ca.pem", "cannot read ca"),
    ],
)
def test_bad_urls(url: str, complaint: str) -> None:
    """A bad URL is a one-line error naming the option, the URL and the problem."""
    with pytest.raises(ValueError, match=r"^--redis ") as error:
        parse_redis_url(url)
    assert complaint in str(error.value)
    assert "\n" not in str(error.value)


def test_ca_not_pem(tmp_path: Path) -> None:
    """A C{ca} file that is no certificate is refused at start."""
    bogus = tmp_path / "ca.pem"
    bogus.write_text("not a certificate")
    with pytest.raises(ValueError, match="not a PEM certificate"):
        parse_redis_url(f"rediss://h?ca={bogus}")


def test_ca_loaded(tmp_path: Path) -> None:
    """A C{ca} file's certificate is kept to check the server with."""
    _, certificate = self_signed(tmp_path)
    address = parse_redis_url(f"rediss://localhost:6390?ca={certificate}")
    assert address.ca == certificate.read_bytes()


def test_password_not_shown() -> None:
    """The address as logged never shows the password."""
    address = parse_redis_url("redis://bob:hunter2@h:7/1")
    assert str(address) == "redis://h:7/1"
    assert "hunter2" not in str(address)
    assert str(parse_redis_url("redis://[::1]")) == "redis://[::1]:6379/0"
    assert str(parse_redis_url("unix:///s")) == "unix:///s?db=0"


def test_endpoints(reactor: Any) -> None:
    """TCP and TLS URLs connect by host name; unix URLs by socket path."""
    assert isinstance(parse_redis_url("redis://h").endpoint(reactor), HostnameEndpoint)
    tls = parse_redis_url("rediss://h").endpoint(reactor)
    assert type(tls).__name__ == "_WrapperEndpoint"
    unix = parse_redis_url("unix:///s").endpoint(reactor)
    assert isinstance(unix, UNIXClientEndpoint)
