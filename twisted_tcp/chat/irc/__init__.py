"""
IRC clients in the chat's rooms: L{IRCFactory} serves them beside the line protocol
and the web page, over the same chat (see C{docs/irc.md}).
"""

from twisted_tcp.chat.irc.factory import IRCFactory

__all__ = ["IRCFactory"]
