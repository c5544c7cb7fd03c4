"""
L{ChatSettings}: what a chat is told to be, whichever backend runs it, checked once,
and the defaults of its options.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from twisted_tcp.chat.names import check_room_name

DEFAULT_ROOM: Final = "#lobby"
DEFAULT_ANNOUNCE_LIMIT: Final = 200
DEFAULT_TIMESTAMP_FORMAT: Final = "%Y/%m/%d %H:%M:%S"
#: Seconds a newcomer's join waits to be announced, so that a client that names
#: itself with C{/nick} as its first line is announced under that nick.
ARRIVAL_GRACE: Final = 1.0


@dataclass(frozen=True)
class ChatSettings:
    """
    What a chat is told to be, whichever backend runs it (checked here, once).

    @ivar encoding: the wire encoding of every line.
    @ivar history: messages per room replayed to whoever joins it.
    @ivar default_room: where members start, and return with C{/part}.
    @ivar announce_limit: above this many members, a room sums up joins and leaves
        instead of announcing each; 0 announces always.
    @ivar motd: lines shown to each newcomer after the welcome (see
        L{twisted_tcp.chat.texts.motd}).
    @ivar timestamp_format: C{time.strftime} format of message timestamps.
    @ivar arrival_grace: seconds a newcomer's join waits to be announced (see
        L{ARRIVAL_GRACE}); 0 announces it at once.
    """

    encoding: str = "utf-8"
    history: int = 0
    default_room: str = DEFAULT_ROOM
    announce_limit: int = DEFAULT_ANNOUNCE_LIMIT
    motd: list[str] = field(default_factory=list)
    timestamp_format: str = DEFAULT_TIMESTAMP_FORMAT
    arrival_grace: float = ARRIVAL_GRACE

    def __post_init__(self) -> None:
        check_room_name(self.default_room)
        if self.history < 0 or self.announce_limit < 0 or self.arrival_grace < 0:
            raise ValueError("history, announce_limit and arrival_grace must be >= 0")
