"""
Tests for L{twisted_tcp._listen}: endpoint strings split as Twisted splits them, the
backlog every server listens with, and one-line messages for bad endpoints and for
addresses that cannot be listened on.
"""

from __future__ import annotations

import errno
import socket
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet.endpoints import (
    SSL4ServerEndpoint,
    TCP4ServerEndpoint,
    TCP6ServerEndpoint,
    UNIXServerEndpoint,
)
from twisted.internet.error import CannotListenError
from twisted.internet.protocol import Factory, Protocol

from twisted_tcp._listen import (
    MIN_BACKLOG,
    DualStackServerEndpoint,
    _accept_ipv4,
    all_interfaces,
    cannot_listen,
    listen_backlog,
    on_every_address,
    parse_description,
    server_endpoint,
    unmapped,
    with_backlog,
)

from .support import self_signed, stop


@pytest.mark.parametrize(
    ("description", "args", "kwargs"),
    [
        ("tcp:80", ["tcp", "80"], {}),
        (r"tcp:7000:interface=\:\:1", ["tcp", "7000"], {"interface": "::1"}),
        ("unix:/run/a.sock:mode=600", ["unix", "/run/a.sock"], {"mode": "600"}),
        ("ssl:443:privateKey=k=v.pem", ["ssl", "443"], {"privateKey": "k=v.pem"}),
        (r"unix:/tmp/a\=b", ["unix", "/tmp/a=b"], {}),
        ("", [""], {}),
    ],
)
def test_parse_description(
    description: str, args: list[str], kwargs: dict[str, str]
) -> None:
    """Fields split at unescaped colons; key=value fields are keywords."""
    assert parse_description(description) == (args, kwargs)


@pytest.mark.parametrize(
    ("description", "expected"),
    [
        ("tcp:80", "tcp:80:backlog=2048"),
        ("TCP6:80", "TCP6:80:backlog=2048"),
        (r"tcp6:80:interface=\:\:1", r"tcp6:80:interface=\:\:1:backlog=2048"),
        ("ssl:443:privateKey=k.pem", "ssl:443:privateKey=k.pem:backlog=2048"),
        ("unix:/run/a.sock", "unix:/run/a.sock:backlog=2048"),
        ("tcp:80:backlog=7", "tcp:80:backlog=7"),
        (r"unix:/tmp/backlog\=1", r"unix:/tmp/backlog\=1:backlog=2048"),
        ("systemd:domain=INET:index=0", "systemd:domain=INET:index=0"),
    ],
)
def test_with_backlog(description: str, expected: str) -> None:
    """backlog= is added to endpoint types that take it, unless already set."""
    assert with_backlog(description, 2048) == expected


@pytest.mark.parametrize(
    ("somaxconn", "backlog"),
    [("4096\n", 4096), ("128\n", MIN_BACKLOG), ("junk", MIN_BACKLOG), (None, 1024)],
)
def test_listen_backlog(tmp_path: Path, somaxconn: str | None, backlog: int) -> None:
    """The servers ask for the kernel's maximum, and never less than 1024."""
    path = tmp_path / "somaxconn"
    if somaxconn is not None:
        path.write_text(somaxconn)
    assert listen_backlog(path) == backlog


@pytest.mark.parametrize(
    ("description", "message"),
    [
        ("bogus:1", "Unknown endpoint type: 'bogus'"),
        ("", "Unknown endpoint type: ''"),
        ("tcp", "missing 1 required positional argument: 'port'"),
        ("tcp:http", "'http' is not a port number (0-65535)"),
        ("tcp6:70000", "'70000' is not a port number (0-65535)"),
        ("ssl:-1", "'-1' is not a port number (0-65535)"),
        ("tcp:1:foo=bar", "got an unexpected keyword argument 'foo'"),
        ("tcp:1:backlog=many", "invalid literal for int() with base 10: 'many'"),
        ("unix:", "unix: needs the path of the socket"),
        ("unix:/tmp/a.sock:mode=999", "invalid literal for int() with base 8: '999'"),
        (
            "ssl:0:privateKey=/nonexistent/key.pem",
            "/nonexistent/key.pem: No such file or directory",
        ),
    ],
)
def test_bad_endpoints(reactor: Any, description: str, message: str) -> None:
    """A bad endpoint string is a ValueError whose one line says what is wrong."""
    with pytest.raises(ValueError) as raised:
        server_endpoint(reactor, description)
    assert str(raised.value) == message


def test_key_that_is_not_pem(reactor: Any, tmp_path: Path) -> None:
    """A key file that is not PEM is named as such."""
    key = tmp_path / "key.pem"
    key.write_text("not a key")
    with pytest.raises(ValueError, match="the key or certificate is not valid PEM"):
        server_endpoint(reactor, f"ssl:0:privateKey={key}")


def test_good_endpoints(reactor: Any, tmp_path: Path) -> None:
    """Good strings make the endpoints Twisted makes of them."""
    key, certificate = self_signed(tmp_path)
    for description, kind in [
        ("tcp:0", TCP4ServerEndpoint),
        (r"tcp6:0:interface=\:\:1", TCP6ServerEndpoint),
        (f"ssl:0:privateKey={key}:certKey={certificate}", SSL4ServerEndpoint),
        (f"unix:{tmp_path}/a.sock", UNIXServerEndpoint),
    ]:
        assert isinstance(server_endpoint(reactor, description), kind)


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (
            CannotListenError("", 80, OSError(errno.EACCES, "Permission denied")),
            "cannot listen on all interfaces port 80: Permission denied",
        ),
        (
            CannotListenError("::1", 9, OSError(errno.EADDRINUSE, "Address in use")),
            "cannot listen on ::1 port 9: Address in use",
        ),
        (
            CannotListenError(None, b"/run/a.sock", "Cannot acquire lock"),
            "cannot listen on /run/a.sock: Cannot acquire lock",
        ),
        (
            FileNotFoundError(errno.ENOENT, "No such file", "1", None, b"/no/a.lock"),
            "cannot listen on /no/a: no directory /no",
        ),
        (
            PermissionError(errno.EACCES, "Permission denied", "1", None, b"/r/a.lock"),
            "cannot listen on /r/a: Permission denied",
        ),
    ],
)
def test_cannot_listen_message(error: Exception, message: str) -> None:
    """Listening failures become one line naming the address and the reason."""
    assert isinstance(error, CannotListenError | OSError)
    assert cannot_listen(error) == message


@pytest.mark.parametrize(
    ("host", "plain"),
    [
        ("::ffff:10.1.2.3", "10.1.2.3"),
        ("::FFFF:127.0.0.1", "::FFFF:127.0.0.1"),  # Not as sockets write it.
        ("::ffff:a01:203", "10.1.2.3"),
        ("::1", "::1"),
        ("10.1.2.3", "10.1.2.3"),
        ("::ffff:nonsense", "::ffff:nonsense"),
        ("example.test", "example.test"),
    ],
)
def test_unmapped(host: str, plain: str) -> None:
    """IPv4-mapped IPv6 addresses become the IPv4 address; others are unchanged."""
    assert unmapped(host) == plain


@pytest_twisted.ensureDeferred
async def test_unix_socket_in_a_missing_directory(reactor: Any, tmp_path: Path) -> None:
    """A UNIX socket in a directory that does not exist is reported by the
    socket's path and the missing directory, not by the lock file beside it."""
    missing = tmp_path / "missing"
    endpoint = server_endpoint(reactor, f"unix:{missing}/chat.sock")
    with pytest.raises(OSError) as raised:
        await endpoint.listen(Factory.forProtocol(Protocol))
    assert cannot_listen(raised.value) == (
        f"cannot listen on {missing}/chat.sock: no directory {missing}"
    )


@pytest.mark.parametrize(
    ("ipv6", "description"),
    [(True, r"tcp6:9090:interface=\:\:"), (False, "tcp:9090")],
)
def test_all_interfaces(ipv6: bool, description: str) -> None:
    """--port alone means IPv6 and IPv4 where there is IPv6, IPv4 where not."""
    assert all_interfaces(9090, ipv6=ipv6) == description


@pytest.mark.parametrize(
    ("description", "ipv6", "result"),
    [
        ("tcp:8080", True, "tcp6:8080"),
        ("tcp:8080:backlog=10", True, "tcp6:8080:backlog=10"),
        ("tcp:8080", False, "tcp:8080"),
        ("tcp:8080:interface=127.0.0.1", True, "tcp:8080:interface=127.0.0.1"),
        ("tcp6:8080:interface=\\:\\:1", True, "tcp6:8080:interface=\\:\\:1"),
        ("unix:/run/chat.sock", True, "unix:/run/chat.sock"),
        ("ssl:8443:privateKey=k.pem", True, "ssl:8443:privateKey=k.pem"),
    ],
)
def test_on_every_address(description: str, ipv6: bool, result: str) -> None:
    """A tcp: string without an interface listens on IPv6 and IPv4 where there is
    IPv6; every other string is left as it is."""
    assert on_every_address(description, ipv6=ipv6) == result


@pytest_twisted.ensureDeferred
async def test_tcp6_on_any_address_takes_ipv4_whatever_the_default(
    reactor: Any,
) -> None:
    """A tcp6: endpoint on :: turns IPV6_V6ONLY off itself, so it takes IPv4
    clients even where the system default is IPv6 only."""
    endpoint = server_endpoint(reactor, "tcp6:0")
    assert isinstance(endpoint, DualStackServerEndpoint)
    port = await endpoint.listen(Factory.forProtocol(Protocol))
    try:
        handle = port.socket  # type: ignore[attr-defined]
        assert handle.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) == 0
        assert port.getHost().host == "::"  # type: ignore[attr-defined]
    finally:
        await stop(port)
    specific = server_endpoint(reactor, r"tcp6:0:interface=\:\:1")
    assert isinstance(specific, TCP6ServerEndpoint)


def test_accept_ipv4_overrides_an_ipv6_only_default() -> None:
    """The dual-stack switch undoes IPV6_V6ONLY, as a BSD default would set it."""
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        _accept_ipv4(sock)
        assert sock.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) == 0
