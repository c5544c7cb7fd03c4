"""
How the TCP servers listen: the endpoint strings of C{--port} and C{--listen}, with a
deep accept queue.

Twisted listens with a backlog of 50. Past that many connections waiting for
C{accept}, the kernel drops new SYNs and each client waits out a one-second
retransmit, so a thousand clients reconnecting after a restart take many seconds to
get in. Every endpoint type that takes a C{backlog=} gets L{listen_backlog} unless
the user set one.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Final

#: The least accept queue the servers ask for.
MIN_BACKLOG: Final = 1024
#: Where Linux says how long an accept queue may be; it caps any larger request.
SOMAXCONN_FILE: Final = Path("/proc/sys/net/core/somaxconn")
#: The endpoint types whose parsers take C{backlog=}.
BACKLOG_TYPES: Final = frozenset({"tcp", "tcp6", "ssl", "unix"})


@cache
def listen_backlog(somaxconn_file: Path = SOMAXCONN_FILE) -> int:
    """
    The backlog the servers ask for: the kernel's C{somaxconn} where it can be read
    (the most the kernel grants), and never less than L{MIN_BACKLOG}.
    """
    try:
        somaxconn = int(somaxconn_file.read_text())
    except (OSError, ValueError):
        somaxconn = 0
    return max(MIN_BACKLOG, somaxconn)


def parse_description(description: str) -> tuple[list[str], dict[str, str]]:
    """
    Split an endpoint string the way Twisted does: fields separated by C{:}, a field
    C{key=value} being a keyword, a backslash escaping the next character.

    @return: the positional fields (the first is the endpoint type) and the keywords.
    """
    args: list[str] = []
    kwargs: dict[str, str] = {}
    key: str | None = None
    current: list[str] = []
    characters = iter(description)
    for character in characters:
        if character == "\\":
            current.append(next(characters, ""))
        elif character == ":":
            _store(args, kwargs, key, "".join(current))
            key, current = None, []
        elif character == "=" and key is None:
            key, current = "".join(current), []
        else:
            current.append(character)
    _store(args, kwargs, key, "".join(current))
    return args, kwargs


def _store(
    args: list[str], kwargs: dict[str, str], key: str | None, value: str
) -> None:
    if key is None:
        args.append(value)
    else:
        kwargs[key] = value


def with_backlog(description: str, backlog: int) -> str:
    """
    C{description} with C{backlog=} added if its endpoint type takes one and it does
    not set one already: a user's own C{backlog=} wins.
    """
    args, kwargs = parse_description(description)
    if args[0].lower() in BACKLOG_TYPES and "backlog" not in kwargs:
        return f"{description}:backlog={backlog}"
    return description
