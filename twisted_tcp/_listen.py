"""
How the servers listen: the endpoint strings of C{--port} and C{--listen}, checked
before anything listens, with a deep accept queue, on IPv6 and IPv4 at once where no
interface is named, and what to say when listening fails.

Twisted listens with a backlog of 50. Past that many connections waiting for
C{accept}, the kernel drops new SYNs and each client waits out a one-second
retransmit, so a thousand clients reconnecting after a restart take many seconds to
get in. Every endpoint type that takes a C{backlog=} gets L{listen_backlog} unless
the user set one.
"""

from __future__ import annotations

import errno
import json
import os
import re
import socket
from contextlib import suppress
from functools import cache
from ipaddress import IPv6Address, ip_address
from pathlib import Path
from typing import Any, Final

from twisted.internet import tcp, udp
from twisted.internet.defer import Deferred, execute
from twisted.internet.endpoints import (
    AdoptedStreamServerEndpoint,
    SSL4ServerEndpoint,
    quoteStringArgument,
    serverFromString,
)
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import (
    IListeningPort,
    IOpenSSLServerConnectionCreator,
    IProtocolFactory,
    IStreamServerEndpoint,
)
from twisted.internet.protocol import DatagramProtocol
from twisted.protocols.tls import TLSMemoryBIOFactory
from zope.interface import implementer

#: The least accept queue the servers ask for.
MIN_BACKLOG: Final = 1024
#: Where Linux says how long an accept queue may be; it caps any larger request.
SOMAXCONN_FILE: Final = Path("/proc/sys/net/core/somaxconn")
#: The endpoint types whose parsers take C{backlog=}.
BACKLOG_TYPES: Final = frozenset({"tcp", "tcp6", "ssl", "unix"})
#: The environment variable that hands a worker its parent's listening sockets: a
#: JSON object of endpoint strings and file descriptors (see L{inherited_sockets}).
SOCKETS_VARIABLE: Final = "TWISTED_TCP_SOCKETS"
#: What a C{systemd:} endpoint whose socket was not passed is told.
NO_SYSTEMD_SOCKET: Final = (
    "systemd passed no such socket: start the server from its .socket unit"
    " (or systemd-socket-activate --fdname=NAME)"
)
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
    args, kwargs = parse_description(description)
    kind = args[0].lower()
    inherited = inherited_sockets().get(description)
    if inherited is not None:
        return _adopted(reactor, description, kind, inherited)
    if kind in PORT_TYPES and len(args) > 1:
        _check_port(args[1])
    if kind == "unix" and len(args) > 1 and not args[1]:
        raise ValueError("unix: needs the path of the socket")
    try:
        endpoint: IStreamServerEndpoint = serverFromString(reactor, description)
    except Exception as error:
        if kind == "systemd" and isinstance(error, LookupError):
            raise ValueError(NO_SYSTEMD_SOCKET) from None
        raise ValueError(_reason(error)) from None
    if kind == "tcp6":
        port, backlog, interface = _tcp6_arguments(*args[1:], **kwargs)
        if interface == "::":
            return DualStackServerEndpoint(reactor, port, backlog)
    if isinstance(endpoint, SSL4ServerEndpoint):
        endpoint._sslContextFactory = ReloadableTLS(
            reactor, description, endpoint._sslContextFactory
        )
    return endpoint


@cache
def inherited_sockets() -> dict[str, int]:
    """
    The listening sockets this process was handed by its parent (C{--workers}):
    each endpoint string and the file descriptor of the socket listening on it.
    """
    sockets: dict[str, int] = json.loads(os.environ.get(SOCKETS_VARIABLE, "{}"))
    return sockets


def _adopted(
    reactor: Any, description: str, kind: str, fileno: int
) -> IStreamServerEndpoint:
    """The endpoint serving on a socket listening on C{description} already."""
    probe = socket.socket(fileno=fileno)
    family = probe.family
    probe.detach()
    adopted = AdoptedStreamServerEndpoint(reactor, fileno, family)
    if kind != "ssl":
        return adopted
    endpoint = serverFromString(reactor, description)
    tls = ReloadableTLS(reactor, description, endpoint._sslContextFactory)
    return _TLSOver(adopted, tls)


@implementer(IStreamServerEndpoint)
class _TLSOver:
    """TLS (as an C{ssl:} endpoint speaks it) over another stream server endpoint."""

    def __init__(self, endpoint: IStreamServerEndpoint, tls: ReloadableTLS) -> None:
        self._endpoint = endpoint
        self._sslContextFactory = tls

    def listen(self, protocolFactory: IProtocolFactory) -> Deferred[IListeningPort]:
        tls = TLSMemoryBIOFactory(self._sslContextFactory, False, protocolFactory)
        return self._endpoint.listen(tls)


@implementer(IOpenSSLServerConnectionCreator)
class ReloadableTLS:
    """
    The TLS settings of an C{ssl:} endpoint, which L{reload} reads again from the
    endpoint's files: connections made after it use the new certificate and key,
    those made before keep theirs.
    """

    def __init__(self, reactor: Any, description: str, options: Any) -> None:
        self._reactor = reactor
        self.description = description
        self._options = options

    def serverConnectionForTLS(self, tlsProtocol: Any) -> Any:
        return self._options.serverConnectionForTLS(tlsProtocol)

    def reload(self) -> None:
        """
        Read the certificate and key files again.

        @raise ValueError: one line saying what is wrong with the new files (the
            settings in use are kept).
        """
        try:
            endpoint = serverFromString(self._reactor, self.description)
            options = endpoint._sslContextFactory
            options.getContext()  # A key that does not match its certificate fails.
        except Exception as error:
            raise ValueError(_reason(error)) from None
        self._options = options


def _tcp6_arguments(
    port: str, backlog: str = "50", interface: str = "::"
) -> tuple[int, int, str]:
    """The arguments of a C{tcp6:} string, named and defaulted as Twisted's parser."""
    return int(port), int(backlog), interface


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


def all_interfaces(port: int, ipv6: bool | None = None) -> str:
    """
    The endpoint string for C{--port} without C{--interface}: every address, IPv6
    and IPv4, where the system has IPv6 (see L{DualStackServerEndpoint}); IPv4's
    every address where it has not.

    @param ipv6: whether the system has IPv6; found out if not given.
    """
    if ipv6 is None:
        ipv6 = has_ipv6()
    if ipv6:
        return f"tcp6:{port}:interface={quoteStringArgument('::')}"
    return f"tcp:{port}"


def on_every_address(description: str, ipv6: bool | None = None) -> str:
    """
    A C{tcp:} endpoint string that names no interface as one that listens as
    C{--port} does, on every address, IPv6 and IPv4 (L{all_interfaces}); any other
    string as it is.

    @param ipv6: whether the system has IPv6; found out if not given.
    """
    args, kwargs = parse_description(description)
    if args[0].lower() != "tcp" or "interface" in kwargs or len(args) != 2:
        return description
    if ipv6 is None:
        ipv6 = has_ipv6()
    return f"tcp6:{description.split(':', 1)[1]}" if ipv6 else description


@cache
def has_ipv6() -> bool:
    """Whether this system can make an IPv6 socket that takes IPv4 too."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            _accept_ipv4(probe)
    except OSError:
        return False
    return True


def _accept_ipv4(sock: socket.socket) -> socket.socket:
    """
    Let an IPv6 socket on C{::} take IPv4 peers too (as C{::ffff:a.b.c.d}), whatever
    the system's default (Linux's C{bindv6only}, the BSDs' C{v6only}).
    """
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    return sock


class _DualStackTCPPort(tcp.Port):
    def createInternetSocket(self) -> socket.socket:
        return _accept_ipv4(super().createInternetSocket())


class _DualStackUDPPort(udp.Port):
    def createInternetSocket(self) -> socket.socket:
        return _accept_ipv4(super().createInternetSocket())


@implementer(IStreamServerEndpoint)
class DualStackServerEndpoint:
    """
    TCP on every address, IPv6 and IPv4 on one socket: C{::} with C{IPV6_V6ONLY}
    off. What C{tcp6:PORT} (whose interface is C{::}) makes for the servers, so
    that on every system it does what it does on Linux by default.
    """

    def __init__(self, reactor: Any, port: int, backlog: int = 50) -> None:
        self._reactor = reactor
        self._port = port
        self._backlog = backlog

    def listen(self, protocolFactory: IProtocolFactory) -> Deferred[IListeningPort]:
        return execute(self._listen, protocolFactory)

    def _listen(self, factory: IProtocolFactory) -> IListeningPort:
        reactor, backlog = self._reactor, self._backlog
        port = _DualStackTCPPort(self._port, factory, backlog, "::", reactor)
        port.startListening()
        return port


def listen_udp(
    reactor: Any,
    port: int,
    protocol: DatagramProtocol,
    interface: str = "",
    max_packet_size: int = 8192,
) -> IListeningPort:
    """
    C{reactor.listenUDP}, except that no interface means every address, IPv6 and
    IPv4, where the system has IPv6, as for TCP.
    """
    if interface or not has_ipv6():
        listening: IListeningPort = reactor.listenUDP(
            port, protocol, interface=interface, maxPacketSize=max_packet_size
        )
        return listening
    dual = _DualStackUDPPort(port, protocol, "::", max_packet_size, reactor)
    dual.startListening()
    return dual


def unmapped(host: str) -> str:
    """
    C{host} with an IPv4-mapped IPv6 address (C{::ffff:a.b.c.d}, how a dual-stack
    socket sees an IPv4 peer) turned back into IPv4; any other host unchanged.
    """
    if host.startswith("::ffff:"):
        with suppress(ValueError):
            mapped = ip_address(host)
            if isinstance(mapped, IPv6Address) and mapped.ipv4_mapped is not None:
                return str(mapped.ipv4_mapped)
    return host


def cannot_listen(error: CannotListenError | OSError) -> str:
    """
    A one-line message for an endpoint that cannot be listened on: an address taken
    or not this machine's (L{CannotListenError}), or a UNIX socket whose lock file
    (C{PATH.lock}, which Twisted makes beside it) cannot be made (an L{OSError}
    naming that file): the message names the socket, and a missing directory.
    """
    if isinstance(error, OSError):
        path = _text(error.filename2 or error.filename).removesuffix(".lock")
        reason = error.strerror
        if error.errno == errno.ENOENT:
            reason = f"no directory {os.path.dirname(path) or '.'}"
        return f"cannot listen on {path}: {reason}"
    if error.interface is None:  # A UNIX socket: port is its path.
        where = _text(error.port)
    else:
        where = f"{error.interface or 'all interfaces'} port {error.port}"
    reason = getattr(error.socketError, "strerror", None) or str(error.socketError)
    return f"cannot listen on {where}: {reason}"


def _text(name: object) -> str:
    """A path or port for a message: file system bytes decoded."""
    return os.fsdecode(name) if isinstance(name, bytes) else str(name)


#: Descriptors kept for what is not a client connection: listening sockets, logs, the
#: history file, Redis, the reactor's own.
RESERVED_DESCRIPTORS: Final = 64


def connection_capacity() -> tuple[int, int] | None:
    """
    Raise this process's soft limit on open files (C{ulimit -n}) to its hard limit,
    and say how many client connections the descriptors then allow: the limit less
    those open now and L{RESERVED_DESCRIPTORS}.

    @return: the connections and the limit, or C{None} where open files are not
        limited.
    """
    try:
        import resource
    except ImportError:  # Not a POSIX system.
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        with suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
    if soft == resource.RLIM_INFINITY:
        return None
    try:
        open_now = len(os.listdir("/proc/self/fd"))
    except OSError:
        open_now = 16
    return max(1, soft - open_now - RESERVED_DESCRIPTORS), soft
