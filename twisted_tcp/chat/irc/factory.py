"""
L{IRCFactory}: the IRC clients' door into a chat server. Its connections are the chat
factory's too, so C{--max-connections}, C{--max-per-ip} and shutdown count and close
them with the line-protocol and browser members.
"""

from __future__ import annotations

import time
from typing import Final

from twisted.internet.interfaces import IAddress
from twisted.internet.protocol import Protocol

from twisted_tcp._server import FramedServerProtocol
from twisted_tcp._text import CRLF
from twisted_tcp.chat.factory import ChatFactory
from twisted_tcp.chat.irc.commands import IRCProtocol
from twisted_tcp.chat.irc.message import MAX_LINE, MAX_TAGS, Message
from twisted_tcp.chat.irc.output import Batch
from twisted_tcp.chat.irc.protocol import (
    PING_INTERVAL,
    REGISTRATION_TIMEOUT,
    IRCServerFactory,
)
from twisted_tcp.chat.irc.reading import stamp_problem

DEFAULT_NETWORK: Final = "twisted-tcp"


class _Refusal(Protocol):
    """Tells a client over a connection limit why (C{ERROR}), and closes."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.write(
            Message("ERROR", (self.reason,)).serialise().encode() + CRLF
        )
        self.transport.loseConnection()


class IRCFactory(IRCServerFactory):
    """
    Builds an L{IRCProtocol} for each IRC client of the chat served by C{chat}.

    @param chat: the chat server's factory: its service, limits and clock.
    @param password: the C{PASS} every client must give, or C{None}.
    @param network: the network's name (C{NETWORK}, and the hosts of nicks).
    @param server_name: the server's name in its messages (default: C{network}).
    @raise ValueError: if the chat's stamps cannot be shown to IRC clients.
    """

    protocol = IRCProtocol

    def __init__(
        self,
        chat: ChatFactory,
        *,
        password: str | None = None,
        network: str = DEFAULT_NETWORK,
        server_name: str | None = None,
        registration_timeout: float = REGISTRATION_TIMEOUT,
        ping_interval: float = PING_INTERVAL,
    ) -> None:
        problem = stamp_problem(chat.service.settings.timestamp_format)
        if problem:
            raise ValueError(problem)
        super().__init__(
            framing="line",
            max_line=MAX_LINE + MAX_TAGS,
            idle_timeout=chat.idle_timeout,
            encoding=chat.encoding,
            max_connections=0,
            clock=chat.clock,
        )
        self.chat_factory = chat
        self.service = chat.service
        self.max_send_queue = chat.max_send_queue
        self.flood_rate = chat.flood_rate
        self.flood_burst = chat.flood_burst
        self.password = password
        self.network = network
        self.server_name = server_name or network
        self.started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
        self.registration_timeout = registration_timeout
        self.ping_interval = ping_interval
        #: The away messages of this door's members, by nick key.
        self.away: dict[str, str] = {}
        #: The last batch a room delivered, read once for all its IRC members.
        self.batch = Batch()

    def buildProtocol(self, addr: IAddress | None) -> Protocol | None:
        reason = self.chat_factory.refusal(addr)
        if reason is not None:
            return _Refusal(reason)
        protocol = IRCProtocol()
        protocol.factory = self
        protocol.chat = self.service
        return protocol

    def connection_opened(self, protocol: FramedServerProtocol, host: str) -> None:
        self.chat_factory.connection_opened(protocol, host)

    def connection_closed(self, protocol: FramedServerProtocol, host: str) -> None:
        self.chat_factory.connection_closed(protocol, host)
