"""
twisted-tcp: the classic socket-tutorial programs as Twisted network tools.

Every factory takes keyword arguments named like its C{twist} plugin's options and
works with any stream endpoint::

    from twisted.internet.endpoints import serverFromString
    from twisted_tcp import EchoFactory

    port = await serverFromString(reactor, "tcp:9090").listen(EchoFactory(mode="upper"))

The names below are imported on first use, not with the package: a client such as
C{twisted-tcp get} never pays for importing the servers, and the servers never pay
for the HTTP client.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from twisted_tcp._version import __version__

if TYPE_CHECKING:
    from twisted_tcp.chat import ChatFactory, ChatProtocol, make_chat
    from twisted_tcp.echo import EchoFactory, EchoProtocol
    from twisted_tcp.greet import GreetingFactory, GreetingProtocol
    from twisted_tcp.http import FetchOptions, FetchResult, GetProtocol, fetch
    from twisted_tcp.udp_echo import UDPEchoProtocol

#: Each public name and the module that defines it.
_HOMES = {
    "ChatFactory": "twisted_tcp.chat",
    "ChatProtocol": "twisted_tcp.chat",
    "EchoFactory": "twisted_tcp.echo",
    "EchoProtocol": "twisted_tcp.echo",
    "FetchOptions": "twisted_tcp.http",
    "FetchResult": "twisted_tcp.http",
    "GetProtocol": "twisted_tcp.http",
    "GreetingFactory": "twisted_tcp.greet",
    "GreetingProtocol": "twisted_tcp.greet",
    "UDPEchoProtocol": "twisted_tcp.udp_echo",
    "fetch": "twisted_tcp.http",
    "make_chat": "twisted_tcp.chat",
}

__all__ = [
    "ChatFactory",
    "ChatProtocol",
    "EchoFactory",
    "EchoProtocol",
    "FetchOptions",
    "FetchResult",
    "GetProtocol",
    "GreetingFactory",
    "GreetingProtocol",
    "UDPEchoProtocol",
    "__version__",
    "fetch",
    "make_chat",
]


def __getattr__(name: str) -> object:
    """Import a public name's module when the name is first asked for (PEP 562)."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
