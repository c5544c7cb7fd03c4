"""
twisted-tcp: the classic socket-tutorial programs as Twisted network tools.

Every factory takes keyword arguments named like its C{twist} plugin's options and
works with any stream endpoint::

    from twisted.internet.endpoints import serverFromString
    from twisted_tcp import EchoFactory

    port = await serverFromString(reactor, "tcp:9090").listen(EchoFactory(mode="upper"))
"""

__version__ = "0.1.0"

from twisted_tcp.chat import ChatFactory, ChatProtocol
from twisted_tcp.echo import EchoFactory, EchoProtocol
from twisted_tcp.greet import GreetingFactory, GreetingProtocol
from twisted_tcp.httpget import FetchResult, GetProtocol, fetch
from twisted_tcp.udp_echo import UDPEchoProtocol

__all__ = [
    "ChatFactory",
    "ChatProtocol",
    "EchoFactory",
    "EchoProtocol",
    "FetchResult",
    "GetProtocol",
    "GreetingFactory",
    "GreetingProtocol",
    "UDPEchoProtocol",
    "__version__",
    "fetch",
]
