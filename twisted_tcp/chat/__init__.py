"""
The chat server of C{twist tcp-chat}: members in rooms, and the line protocol they
speak (see C{docs/chat-protocol.md}).

    - L{protocol}: one member's connection (framing, commands, flood control).
    - L{room}: one room's members in this process, and coalesced delivery to them.
    - L{service}: the chat service interface, and its one-process implementation.
    - L{history}: where rooms' recent messages are kept.
    - L{factory}: L{ChatFactory}, which hands the service to each protocol.
"""

from twisted_tcp.chat.factory import ChatFactory
from twisted_tcp.chat.protocol import (
    DEFAULT_FLOOD_BURST,
    DEFAULT_FLOOD_RATE,
    DEFAULT_MAX_LINE,
    DEFAULT_MAX_SEND_QUEUE,
    ChatProtocol,
)
from twisted_tcp.chat.service import (
    DEFAULT_ANNOUNCE_LIMIT,
    DEFAULT_ROOM,
    DEFAULT_TIMESTAMP_FORMAT,
    ChatService,
    LocalChat,
)

__all__ = [
    "DEFAULT_ANNOUNCE_LIMIT",
    "DEFAULT_FLOOD_BURST",
    "DEFAULT_FLOOD_RATE",
    "DEFAULT_MAX_LINE",
    "DEFAULT_MAX_SEND_QUEUE",
    "DEFAULT_ROOM",
    "DEFAULT_TIMESTAMP_FORMAT",
    "ChatFactory",
    "ChatProtocol",
    "ChatService",
    "LocalChat",
]
