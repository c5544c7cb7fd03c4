"""
What the chat takes from its members, whichever backend runs it: nicks and room
names (their rules, and their one normalisation: L{nick_key}, L{room_key}, both
case-folded) and the lines members write (L{tidy}).
"""

from __future__ import annotations

import re
from typing import Final

from twisted_tcp.chat import texts

#: Nicks: an ASCII letter, then up to 29 ASCII letters, digits, C{_} or C{-}. ASCII
#: only, so that no two nicks look alike on screen.
NICK_PATTERN: Final = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,29}\Z")
#: Room names: C{#} then 1-30 ASCII letters, digits, C{_} or C{-}.
ROOM_PATTERN: Final = re.compile(r"#[A-Za-z0-9_-]{1,30}\Z")
#: Where IRC clients send their logins (C{/msg NickServ IDENTIFY PASSWORD}): no
#: member may be called so and read them.
NICKSERV: Final = "nickserv"
RESERVED_NICKS: Final = frozenset({"server", "system", "admin", NICKSERV})
#: White-space characters in a row that a line keeps; a longer run is cut to this
#: many spaces (see L{tidy}).
MAX_SPACES: Final = 4
_LONG_SPACE: Final = re.compile(rf"\s{{{MAX_SPACES + 1},}}")


def tidy(text: str) -> str:
    """
    A member's line as the chat takes it: stripped, and no run of white space in it
    longer than L{MAX_SPACES}. Padding would otherwise push the rest of a message to
    the start of the next row of a terminal or the page, where it would look like a
    line of its own (another member's).
    """
    return _LONG_SPACE.sub(" " * MAX_SPACES, text.strip())


def nick_key(nick: str) -> str:
    """The identity of a nick: two nicks that differ only in case are one."""
    return nick.casefold()


def room_key(name: str) -> str:
    """The identity of a room name: two names that differ only in case are one."""
    return name.casefold()


def nick_problem(nick: str) -> str | None:
    """What is wrong with a nick asked for with C{/nick}, or C{None}."""
    if not nick:
        return texts.NICK_USAGE
    if not NICK_PATTERN.match(nick):
        return texts.NICK_RULE
    if nick_key(nick) in RESERVED_NICKS:
        return texts.nick_reserved(nick)
    return None


def room_name_problem(name: str) -> str | None:
    """What is wrong with a room name asked for with C{/join}, or C{None}."""
    if not name:
        return texts.JOIN_USAGE
    if not ROOM_PATTERN.match(name):
        return texts.ROOM_RULE
    return None


def check_room_name(name: str) -> str:
    """
    Return C{name} if it is a valid room name.

    @raise ValueError: otherwise, with a message fit for a usage error.
    """
    if not ROOM_PATTERN.match(name):
        raise ValueError(f"bad room name {name!r}: {texts.ROOM_RULE}")
    return name
