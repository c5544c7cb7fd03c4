"""
How the TCP servers listen: the endpoint strings of C{--port} and C{--listen}, checked
before anything listens, with a deep accept queue, and what to say when listening
fails.

Twisted listens with a backlog of 50. Past that many connections waiting for
C{accept}, the kernel drops new SYNs and each client waits out a one-second
retransmit, so a thousand clients reconnecting after a restart take many seconds to
get in. Every endpoint type that takes a C{backlog=} gets L{listen_backlog} unless
the user set one.
"""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path
from typing import Any, Final

from twisted.internet.endpoints import serverFromString
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IStreamServerEndpoint

#: The least accept queue the servers ask for.
MIN_BACKLOG: Final = 1024
#: Where Linux says how long an accept queue may be; it caps any larger request.
SOMAXCONN_FILE: Final = Path("/proc/sys/net/core/somaxconn")
#: The endpoint types whose parsers take C{backlog=}.
BACKLOG_TYPES: Final = frozenset({"tcp", "tcp6", "ssl", "unix"})
#: The endpoint types whose first argument is a port number.
PORT_TYPES: Final = frozenset({"tcp", "tcp6", "ssl"})


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


def server_endpoint(reactor: Any, description: str) -> IStreamServerEndpoint:
    """
    The endpoint C{description} names, as L{serverFromString} makes it.

    @raise ValueError: one line saying what is wrong with C{description} (an unknown
        endpoint type, a bad port, an unknown or missing argument, a key or
        certificate file that cannot be read), instead of whatever the parser raised.
    """
    args, _ = parse_description(description)
    kind = args[0].lower()
    if kind in PORT_TYPES and len(args) > 1:
        _check_port(args[1])
    if kind == "unix" and len(args) > 1 and not args[1]:
        raise ValueError("unix: needs the path of the socket")
    try:
        endpoint: IStreamServerEndpoint = serverFromString(reactor, description)
    except Exception as error:
        raise ValueError(_reason(error)) from None
    return endpoint


def _check_port(text: str) -> None:
    if not (text.isascii() and text.isdigit() and int(text) <= 65535):
        raise ValueError(f"{text!r} is not a port number (0-65535)")


def _reason(error: Exception) -> str:
    """What a parser's exception says, without the parser's own name in it."""
    if isinstance(error, OSError) and error.filename is not None:
        return f"{error.filename}: {error.strerror}"
    if type(error).__module__.startswith("OpenSSL"):
        return f"the key or certificate is not valid PEM ({error})"
    message = str(error) or type(error).__name__
    # "_parseTCP() got an unexpected keyword argument 'x'" → the part after "() ".
    return re.sub(r"^[\w.]+\(\) ", "", message)


def cannot_listen(error: CannotListenError | OSError) -> str:
    """
    A one-line message for an endpoint that cannot be listened on: an address taken
    or not this machine's (L{CannotListenError}), or a UNIX socket's lock file that
    cannot be made (an L{OSError} naming it).
    """
    if isinstance(error, OSError):
        path = _text(error.filename2 or error.filename)
        return f"cannot listen on {path}: {error.strerror}"
    if error.interface is None:  # A UNIX socket: port is its path.
        where = _text(error.port)
    else:
        where = f"{error.interface or 'all interfaces'} port {error.port}"
    reason = getattr(error.socketError, "strerror", None) or str(error.socketError)
    return f"cannot listen on {where}: {reason}"


def _text(name: object) -> str:
    """A path or port for a message: file system bytes decoded."""
    return os.fsdecode(name) if isinstance(name, bytes) else str(name)
