"""
The chat server of C{twist tcp-chat}: members in rooms, and the line protocol they
speak (see C{docs/chat-protocol.md}). One core, two backends:

    - L{core}: the rules every backend shares, and the service interface;
    - L{texts}: every line members are sent;
    - L{listing}: the answers to C{/who} and C{/rooms};
    - L{room}: one room's members in this process, and coalesced delivery to them;
    - L{service}: L{LocalChat}, the backend of one process;
    - L{cluster}: L{RedisChat}, the backend of a node sharing rooms through Redis;
    - L{build}: L{make_chat}, either backend from the options;
    - L{history}: where rooms' recent messages are kept;
    - L{protocol}, L{web}, L{irc}: the front doors (the line protocol, the browser
      page, IRC clients);
    - L{factory}: L{ChatFactory}, which hands the service to each protocol.
"""

from twisted_tcp.chat.build import make_chat
from twisted_tcp.chat.factory import ChatFactory
from twisted_tcp.chat.interfaces import ChatService
from twisted_tcp.chat.protocol import (
    DEFAULT_FLOOD_BURST,
    DEFAULT_FLOOD_RATE,
    DEFAULT_MAX_LINE,
    DEFAULT_MAX_SEND_QUEUE,
    ChatProtocol,
)
from twisted_tcp.chat.service import LocalChat
from twisted_tcp.chat.settings import (
    DEFAULT_ANNOUNCE_LIMIT,
    DEFAULT_ROOM,
    DEFAULT_TIMESTAMP_FORMAT,
    ChatSettings,
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
    "ChatSettings",
    "LocalChat",
    "make_chat",
]
