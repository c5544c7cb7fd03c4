"""
The cluster's wire format, named: the keys it keeps in Redis (L{Keys}), and the
fields and kinds of the entries of a room's log and a node's inbox (L{Field},
L{Kind}). The Lua scripts use the same names (L{LUA_NAMES}: C{F.kind}, C{K.arrival},
...), so that Python and Lua cannot disagree on a letter; C{docs/cluster.md},
"Keys" and "Log entries", documents every one.
"""

from __future__ import annotations

from typing import Final


class Field:
    """The fields of a log or inbox entry (one letter each: entries stay small)."""

    #: What the entry is: one of L{Kind}.
    KIND: Final = "k"
    #: The text members are shown: lines, a notice, a leave's reason.
    TEXT: Final = "t"
    #: The member the entry is about (in an inbox: its nick, case-folded).
    NICK: Final = "u"
    #: The node of that member.
    ORIGIN: Final = "o"
    #: How many members the room has after the event.
    POPULATION: Final = "p"
    #: In a room's log, a newcomer's admission token (see C{docs/cluster.md}).
    TOKEN: Final = "c"
    #: The room's new topic, with L{Kind.TOPIC}.
    TOPIC: Final = "v"
    #: With L{Kind.BACK}: the member's nick before its node was away.
    FORMER: Final = "w"
    #: With L{Kind.BACK}: C{1} if the node had been declared lost, else empty.
    WAS_LOST: Final = "l"


class Kind:
    """The kinds of entries of a room's log (L{Field.KIND})."""

    #: Messages and actions posted together by one node, one line each.
    MESSAGES: Final = "m"
    #: A notice shown as it is (a rename, a drop).
    NOTICE: Final = "n"
    #: A topic change: its notice, and the topic in L{Field.TOPIC}.
    TOPIC: Final = "t"
    #: A member entering the room, announced.
    ARRIVAL: Final = "a"
    #: A newcomer entering the room, announced later with L{ARRIVAL}.
    ENTERED: Final = "s"
    #: A member leaving, and why (L{Field.TEXT}).
    DEPARTURE: Final = "d"
    #: A member re-asserted by its node after the node was away.
    BACK: Final = "b"


def _lua_table(name: str, names: type) -> str:
    entries = ", ".join(
        f"{attribute.lower()} = '{value}'"
        for attribute, value in vars(names).items()
        if attribute.isupper()
    )
    return f"local {name} = {{{entries}}}\n"


#: The Lua tables C{F} (fields) and C{K} (kinds) every script starts with.
LUA_NAMES: Final = _lua_table("F", Field) + _lua_table("K", Kind)


class Keys:
    """The names of the cluster's keys under one prefix (see C{docs/cluster.md})."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.nodes = f"{prefix}:nodes"
        self.rooms = f"{prefix}:rooms"
        #: Accounts, and the records of operators (see L{cluster.state}).
        self.accounts = f"{prefix}:accounts"
        self.records = f"{prefix}:records"
        self.records_version = f"{prefix}:records:version"

    def room_log(self, room: str) -> str:
        return f"{self.prefix}:room:{room}:log"

    def room_members(self, room: str) -> str:
        return f"{self.prefix}:room:{room}:members"

    def room_topic(self, room: str) -> str:
        return f"{self.prefix}:room:{room}:topic"

    def nick(self, nick: str) -> str:
        return f"{self.prefix}:nick:{nick}"

    def node(self, node: str) -> str:
        return f"{self.prefix}:node:{node}"

    def inbox(self, node: str) -> str:
        return f"{self.prefix}:node:{node}:inbox"

    def room_of_log(self, key: str) -> str | None:
        """The room whose log C{key} is, or C{None} if it is no room's log."""
        head = f"{self.prefix}:room:"
        if key.startswith(head) and key.endswith(":log"):
            return key[len(head) : -len(":log")]
        return None
