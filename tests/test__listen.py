"""
Tests for L{twisted_tcp._listen}: endpoint strings split as Twisted splits them, and
the backlog every server listens with.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from twisted_tcp._listen import (
    MIN_BACKLOG,
    listen_backlog,
    parse_description,
    with_backlog,
)


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
