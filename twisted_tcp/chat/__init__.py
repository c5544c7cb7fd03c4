"""
The chat server of C{twist tcp-chat}: members, rooms, and the line protocol they speak
(see C{docs/chat-protocol.md}).
"""

from twisted_tcp.chat.protocol import (
    DEFAULT_FLOOD_BURST,
    DEFAULT_FLOOD_RATE,
    DEFAULT_MAX_LINE,
    DEFAULT_MAX_SEND_QUEUE,
    DEFAULT_TIMESTAMP_FORMAT,
    ChatFactory,
    ChatProtocol,
)

__all__ = [
    "DEFAULT_FLOOD_BURST",
    "DEFAULT_FLOOD_RATE",
    "DEFAULT_MAX_LINE",
    "DEFAULT_MAX_SEND_QUEUE",
    "DEFAULT_TIMESTAMP_FORMAT",
    "ChatFactory",
    "ChatProtocol",
]
