"""
Every line the chat sends its members, whichever backend runs it: one formatter per
kind of line, so that each text is written here and nowhere else (the line protocol
is in C{docs/chat-protocol.md}, the cluster's own notices in C{docs/cluster.md}).

Errors are given without their C{error: } prefix, which the member's protocol adds.
"""

from __future__ import annotations

import time
from typing import Final

from twisted_tcp._text import sanitize

#: Why a member whose send queue overflowed is dropped (in the log and the notice).
QUEUE_EXCEEDED: Final = "send queue exceeded"
#: Why the members of a node declared lost leave, as the others are told.
SERVER_LOST: Final = "server lost"
#: Why the members of a stopping node leave, as the others are told.
SHUTTING_DOWN: Final = "server shutting down"
#: The reason a member's departure from a room gives when it went to another room;
#: C{{room}} is that room's name (the cluster's scripts fill it in too).
MOVED: Final = "joined {room}"
NICK_RULE: Final = (
    "a nick is 1-30 ASCII letters, digits, _ or -, starting with a letter"
)
ROOM_RULE: Final = "a room name is # then 1-30 ASCII letters, digits, _ or -"
NICK_USAGE: Final = "usage: /nick NAME"
JOIN_USAGE: Final = "usage: /join #ROOM"
ME_USAGE: Final = "usage: /me ACTION"
MSG_USAGE: Final = "usage: /msg NICK TEXT"
BYE: Final = "* Bye"
SHUTDOWN_NOTICE: Final = "* server shutting down"
HELP: Final = (
    "* Commands:",
    "*   /nick NAME       change your nick",
    "*   /join #ROOM      go to another room (created if absent)",
    "*   /part            back to the default room",
    "*   /rooms           list the rooms",
    "*   /topic [TEXT]    show or set the topic of your room",
    "*   /who             list who is in your room",
    "*   /me ACTION       say what you are doing",
    "*   /msg NICK TEXT   send TEXT to NICK alone, in any room",
    "*   /quit [REASON]   leave (a bare 'quit' works too)",
    "*   /help            this list",
    "* Any other line goes to your room; start it with // to send a leading /.",
)

# The cluster's notices: Redis, which holds what the nodes share, is away or back.
NO_SERVICE: Final = "room service unavailable"
UNAVAILABLE: Final = f"* {NO_SERVICE}; messages are not delivered"
WAITING: Final = f"* {NO_SERVICE}; waiting for it to come back"
RESTORED: Final = "* room service restored"
NOT_DELIVERED: Final = f"not delivered ({NO_SERVICE})"


def timestamp(form: str, seconds: float) -> str:
    """A time as messages show it: C{form} (strftime), in local time."""
    return time.strftime(form, time.localtime(seconds))


def welcome(nick: str) -> str:
    return (
        f"* Welcome, {nick}! Change your nick with /nick NAME;"
        " /help lists the commands."
    )


def motd(text: str | None) -> list[str]:
    """A message of the day as newcomers see it: one notice per line, sanitised."""
    return [f"* {sanitize(line)}" for line in (text or "").splitlines()]


def said(stamp: str, nick: str, text: str) -> str:
    return f"[{stamp}] <{nick}> {text}"


def emote(stamp: str, nick: str, action: str) -> str:
    return f"[{stamp}] * {nick} {action}"


def private_from(stamp: str, sender: str, text: str) -> str:
    """A private message as its recipient sees it."""
    return f"[{stamp}] *{sender}* {text}"


def private_to(stamp: str, recipient: str, text: str) -> str:
    """A private message as its sender sees it."""
    return f"[{stamp}] -> *{recipient}* {text}"


def no_such_nick(nick: str) -> str:
    return f"no such nick: {nick}"


def renamed(old: str, new: str) -> str:
    return f"* {old} is now known as {new}"


def renamed_while_away(old: str, new: str) -> str:
    """A member renamed by its node: its nick was taken while Redis was away."""
    return (
        f"* {old} is now known as {new} (the nick {old} was taken while the"
        " room service was unavailable)"
    )


def you_were_renamed(old: str, new: str) -> str:
    """What a member renamed by its node (see L{renamed_while_away}) is told."""
    return (
        f"* the nick {old} was taken while the room service was unavailable;"
        f" you are now {new}"
    )


def already_nick(nick: str) -> str:
    return f"* you are already {nick}"


def nick_taken(nick: str, holder: str) -> str:
    return f"the nick {nick} is taken by {holder}"


def nick_reserved(nick: str) -> str:
    return f"the nick {nick} is reserved"


def already_in(room: str) -> str:
    return f"you are already in {room}"


def in_default_room(room: str) -> str:
    return f"you are in the default room {room}"


def now_in(room: str, population: int) -> str:
    return f"* you are now in {room}; {population} here"


def joined(nick: str, room: str) -> str:
    return f"* {nick} joined {room}"


def left(nick: str, room: str, reason: str) -> str:
    return f"* {nick} left {room} ({reason})"


def dropped(nick: str, reason: str) -> str:
    """The line a room is shown when one of its members is dropped, and why."""
    return f"* {nick} dropped ({reason})"


def summary(joined: int, left: int, room: str, period: float, population: int) -> str:
    """A large room's joins and leaves of the last period, summed up."""
    return (
        f"* {joined} joined, {left} left {room} in the last {period:g} s;"
        f" {population} here"
    )


def topic_set(nick: str, room: str, topic: str) -> str:
    return f"* {nick} set the topic of {room}: {topic}"


def topic_of(room: str, topic: str) -> str:
    """A room's topic (for newcomers and a bare C{/topic}), or that it has none."""
    return f"* topic of {room}: {topic}" if topic else f"* {room} has no topic"


def who_header(room: str, listed: int) -> str:
    return f"* {listed} in {room}:"


def who_entry(nick: str, since: str) -> str:
    return f"*   {nick} (since {since})"


def rooms_header(listed: int) -> str:
    return f"* {listed} rooms:"


def rooms_entry(room: str, population: int, topic: str) -> str:
    return f"*   {room} ({population})" + (f": {topic}" if topic else "")


def unlisted(count: int, what: str) -> str:
    """After a listing cut short: how many entries (C{what}: "" or " rooms") it left."""
    return f"* ... and {count} more{what}, not listed"


def unknown_command(name: str) -> str:
    return f"unknown command /{name} (try /help)"


def paced(rate: float) -> str:
    """A member sending faster than the flood rate is told, once per burst."""
    return (
        f"* you are sending more than {rate:g} lines a second: your lines go out at"
        " that pace"
    )
