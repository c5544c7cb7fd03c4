"""
L{ChatFactory}: the chat server's factory. It holds the chat service (see
L{twisted_tcp.chat.build.make_chat}) and hands it to each L{ChatProtocol} it builds,
as in Twisted's own chat example.
"""

from __future__ import annotations

from typing import Unpack

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IAddress
from twisted.internet.protocol import Protocol

from twisted_tcp._server import CommonServerArguments, describe_peer, peer_host
from twisted_tcp.chat.interfaces import ChatService
from twisted_tcp.chat.protocol import (
    DEFAULT_FLOOD_BURST,
    DEFAULT_FLOOD_RATE,
    DEFAULT_MAX_LINE,
    DEFAULT_MAX_SEND_QUEUE,
    ChatCounters,
    ChatProtocol,
    ChatServerFactory,
)
from twisted_tcp.chat.service import LocalChat
from twisted_tcp.chat.settings import ChatSettings


class ChatFactory(ChatServerFactory):
    """
    The chat server: its members' connections, over a chat service.

    @param chat: the chat service (default: a chat of this process's own, with
        every option at its default). Its encoding is the server's.
    @param max_send_queue: bytes queued for a client that does not read before it is
        dropped.
    @param flood_rate: lines per second a client may send on average (0 = no limit);
        faster input is not dropped but read later.
    @param flood_burst: lines a client may send at once before the rate applies.
    """

    protocol = ChatProtocol

    def __init__(
        self,
        chat: ChatService | None = None,
        *,
        max_send_queue: int = DEFAULT_MAX_SEND_QUEUE,
        flood_rate: float = DEFAULT_FLOOD_RATE,
        flood_burst: int = DEFAULT_FLOOD_BURST,
        max_line: int = DEFAULT_MAX_LINE,
        idle_timeout: float = 0,
        **common: Unpack[CommonServerArguments],
    ) -> None:
        if chat is None:
            encoding = common.get("encoding", "utf-8")
            chat = LocalChat(
                ChatSettings(encoding=encoding), reactor=common.get("clock")
            )
        if common.setdefault("encoding", chat.settings.encoding) != (
            chat.settings.encoding
        ):
            raise ValueError("the factory's encoding must be the chat's")
        super().__init__(
            framing="line", max_line=max_line, idle_timeout=idle_timeout, **common
        )
        if max_send_queue < 1 or flood_rate < 0 or flood_burst < 1:
            raise ValueError(
                "max_send_queue must be >= 1, flood_rate >= 0 and flood_burst >= 1"
            )
        self.service = chat
        self.counters = ChatCounters()
        self.max_send_queue = max_send_queue
        self.flood_rate = flood_rate
        self.flood_burst = flood_burst

    def buildProtocol(self, addr: IAddress | None) -> Protocol | None:
        protocol = super().buildProtocol(addr)
        if isinstance(protocol, ChatProtocol):
            protocol.chat = self.service
        return protocol

    def refusal(self, addr: IAddress | None) -> str | None:
        """A banned address is refused too, with one line, before it has a nick."""
        reason = super().refusal(addr)
        if reason is None:
            reason = self.service.refusal(peer_host(addr))
            if reason is not None:
                self.counters.refused_ban += 1
                self.log.warn(
                    "{peer} refused: {reason}", peer=describe_peer(addr), reason=reason
                )
        return reason

    def shutdown(self) -> Deferred[None]:
        """Stop the chat service, then close every connection."""
        self.service.shutdown()
        return super().shutdown()
