"""
L{ChatFactory}: the chat server's factory. It holds the chat service (one process's
rooms, unless another service is passed in) and hands it to each L{ChatProtocol} it
builds, as in Twisted's own chat example.
"""

from __future__ import annotations

from pathlib import Path
from typing import Unpack

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IAddress
from twisted.internet.protocol import Protocol

from twisted_tcp._server import CommonServerArguments
from twisted_tcp._text import sanitize
from twisted_tcp.chat.history import SQLiteHistory
from twisted_tcp.chat.protocol import (
    DEFAULT_FLOOD_BURST,
    DEFAULT_FLOOD_RATE,
    DEFAULT_MAX_LINE,
    DEFAULT_MAX_SEND_QUEUE,
    ChatProtocol,
    ChatServerFactory,
)
from twisted_tcp.chat.service import (
    ARRIVAL_GRACE,
    DEFAULT_ANNOUNCE_LIMIT,
    DEFAULT_ROOM,
    DEFAULT_TIMESTAMP_FORMAT,
    ChatService,
    LocalChat,
    check_room_name,
)


def motd_lines(motd: str | None) -> list[str]:
    """The lines a newcomer is shown for the message of the day C{motd}."""
    return [f"* {sanitize(line)}" for line in (motd or "").splitlines()]


class ChatFactory(ChatServerFactory):
    """
    The chat server: members in rooms, messages, history.

    @param history: how many past messages of a room a newcomer to it is shown.
    @param history_db: an SQLite file that keeps history across restarts.
    @param default_room: the room everyone starts in.
    @param announce_limit: rooms larger than this sum up joins and leaves instead of
        announcing each; 0 announces always.
    @param max_send_queue: bytes queued for a client that does not read before it is
        dropped.
    @param flood_rate: lines per second a client may send on average (0 = no limit);
        faster input is not dropped but read later.
    @param flood_burst: lines a client may send at once before the rate applies.
    @param motd: text shown to each newcomer, line by line, or C{None}.
    @param timestamp_format: C{time.strftime} format of message timestamps.
    @param arrival_grace: seconds a newcomer's join waits to be announced, so that a
        client naming itself at once is announced under its nick.
    @param service: the chat service to use instead of this process's own rooms
        (the options above that describe rooms then do not apply).
    """

    protocol = ChatProtocol

    def __init__(
        self,
        *,
        history: int = 0,
        history_db: str | Path | None = None,
        default_room: str = DEFAULT_ROOM,
        announce_limit: int = DEFAULT_ANNOUNCE_LIMIT,
        max_send_queue: int = DEFAULT_MAX_SEND_QUEUE,
        flood_rate: float = DEFAULT_FLOOD_RATE,
        flood_burst: int = DEFAULT_FLOOD_BURST,
        motd: str | None = None,
        timestamp_format: str = DEFAULT_TIMESTAMP_FORMAT,
        arrival_grace: float = ARRIVAL_GRACE,
        max_line: int = DEFAULT_MAX_LINE,
        idle_timeout: float = 0,
        service: ChatService | None = None,
        **common: Unpack[CommonServerArguments],
    ) -> None:
        super().__init__(
            framing="line", max_line=max_line, idle_timeout=idle_timeout, **common
        )
        if history < 0 or max_send_queue < 1 or flood_rate < 0 or flood_burst < 1:
            raise ValueError(
                "history must be >= 0, max_send_queue >= 1, flood_rate >= 0 "
                "and flood_burst >= 1"
            )
        if announce_limit < 0:
            raise ValueError("announce_limit must be >= 0")
        check_room_name(default_room)
        self.max_send_queue = max_send_queue
        self.flood_rate = flood_rate
        self.flood_burst = flood_burst
        self._service = service
        self._rooms = {
            "history": history,
            "default_room": default_room,
            "announce_limit": announce_limit,
            "timestamp_format": timestamp_format,
            "arrival_grace": arrival_grace,
            "motd": motd_lines(motd),
        }
        self._history_store: SQLiteHistory | None = None
        if history_db is not None:
            # Opened now, so a bad file is a start-up error, not a later failure.
            self._history_store = SQLiteHistory(
                history_db, history, common.get("clock")
            )

    @property
    def service(self) -> ChatService:  # type: ignore[override]
        """The chat service, made on first use (it needs the reactor's clock)."""
        if self._service is None:
            self._service = LocalChat(
                clock=self.clock,
                encoding=self.encoding,
                history_store=self._history_store,
                **self._rooms,  # type: ignore[arg-type]
            )
        return self._service

    def buildProtocol(self, addr: IAddress | None) -> Protocol | None:
        protocol = super().buildProtocol(addr)
        if isinstance(protocol, ChatProtocol):
            protocol.chat = self.service
        return protocol

    def shutdown(self) -> Deferred[None]:
        """Stop the chat service, then close every connection."""
        self.service.shutdown()
        return super().shutdown()
