"""
The chat in a browser (C{twist tcp-chat --web}): a static page whose WebSocket makes
each browser a chat member like any TCP client (see C{docs/chat-web.md}).
"""

from twisted_tcp.chat.web.origin import OriginPolicy, parse_origin
from twisted_tcp.chat.web.site import chat_site

__all__ = ["OriginPolicy", "chat_site", "parse_origin"]
