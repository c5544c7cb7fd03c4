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


# Accounts: registered nicks (docs/chat-protocol.md, "Accounts").
REGISTER_USAGE: Final = "usage: /register PASSWORD"
IDENTIFY_USAGE: Final = "usage: /identify [NICK] PASSWORD"
PASSWORD_USAGE: Final = "usage: /password OLD NEW"
#: The one answer to a failed login, whether the account exists or not.
WRONG_LOGIN: Final = "wrong account or password"
NOT_IDENTIFIED: Final = "you are not identified (/identify PASSWORD)"
GUEST_NICK: Final = "choose a nick with /nick before you register it"
BUSY: Final = "the server is busy; try again in a moment"
LOGGED_OUT: Final = "* you are logged out"
PASSWORD_CHANGED: Final = "* your password is changed"
HELP_ACCOUNTS: Final = (
    "*   /register PASSWORD          register your nick",
    "*   /identify [NICK] PASSWORD   log in to your registered nick",
    "*   /password OLD NEW           change your password",
    "*   /logout                     log out",
    "*   /claim                      run your room (if no one does yet)",
)
HELP_OPERATORS: Final = (
    "* Operator commands (in your room; in the default room: everywhere):",
    "*   /kick NICK [REASON]             send NICK out of your room",
    "*   /ban MASK [DURATION] [REASON]   keep a nick, account:NAME or address out",
    "*   /unban MASK                     lift a ban",
    "*   /bans                           list the bans",
    "*   /mute NICK [DURATION]           NICK may read but not post",
    "*   /unmute NICK                    lift a mute",
    "*   /op NICK, /deop NICK            make or unmake an operator of your room",
    "*   /lock, /unlock                  only operators may set the topic, or all",
    "* A DURATION is a number and s, m, h, d or w (10m); without one: for good.",
)


def password_rule(shortest: int, longest: int) -> str:
    return f"a password is one word of {shortest} to {longest} characters"


def registered(nick: str) -> str:
    return f"* the nick {nick} is registered to you; next time, /identify PASSWORD"


def already_registered(nick: str) -> str:
    return f"the nick {nick} is already registered"


def identified(account: str) -> str:
    return f"* you are identified as {account}"


def already_identified(account: str) -> str:
    return f"you are already identified as {account}"


def too_many_attempts(seconds: float) -> str:
    return f"too many failed logins; try again in {max(1, round(seconds))} s"


def nick_registered(nick: str, grace: float) -> str:
    """Told to whoever takes a registered nick without being identified as it."""
    return (
        f"* the nick {nick} is registered: /identify PASSWORD within {grace:g} s,"
        " or you will be renamed"
    )


def renamed_unidentified(nick: str) -> str:
    """Why a member holding a registered nick without identifying was renamed."""
    return f"* you did not identify as {nick}, a registered nick, in time"


# Operators (docs/chat-protocol.md, "Operators").
KICK_USAGE: Final = "usage: /kick NICK [REASON]"
BAN_USAGE: Final = "usage: /ban MASK [DURATION] [REASON]"
UNBAN_USAGE: Final = "usage: /unban MASK"
MUTE_USAGE: Final = "usage: /mute NICK [DURATION]"
UNMUTE_USAGE: Final = "usage: /unmute NICK"
OP_USAGE: Final = "usage: /op NICK"
DEOP_USAGE: Final = "usage: /deop NICK"
NOT_OPERATOR: Final = "you are not an operator of this room"
TOPIC_LOCKED: Final = "the topic of this room is set by its operators only"
CLAIM_DEFAULT: Final = "the default room is run by the server's operators"
#: The reason of a kick, ban or mute given none.
NO_REASON: Final = "no reason given"


def claimed(nick: str, room: str) -> str:
    return f"* {nick} claimed {room} and runs it"


def already_claimed(room: str, owner: str) -> str:
    return f"{room} is already claimed by {owner}"


def for_how_long(duration: str | None) -> str:
    """A ban's or mute's length as notices show it: C{for 10m}, or C{for good}."""
    return f"for {duration}" if duration else "for good"


def kicked(actor: str, target: str, room: str, reason: str) -> str:
    return f"* {actor} kicked {target} from {room} ({reason})"


def you_were_kicked(actor: str, room: str, reason: str) -> str:
    """What a kicked member is told, as it leaves the room that is told."""
    return f"* {actor} kicked you from {room} ({reason})"


def banned(actor: str, mask: str, room: str, duration: str | None, reason: str) -> str:
    return f"* {actor} banned {mask} from {room} {for_how_long(duration)} ({reason})"


def unbanned(actor: str, mask: str, room: str) -> str:
    return f"* {actor} lifted the ban on {mask} in {room}"


def muted(actor: str, target: str, room: str, duration: str | None) -> str:
    return f"* {actor} muted {target} in {room} {for_how_long(duration)}"


def unmuted(actor: str, target: str, room: str) -> str:
    return f"* {actor} unmuted {target} in {room}"


def opped(actor: str, target: str, room: str) -> str:
    return f"* {actor} made {target} an operator of {room}"


def deopped(actor: str, target: str, room: str) -> str:
    return f"* {actor} made {target} no longer an operator of {room}"


def topic_lock(actor: str, room: str, locked: bool) -> str:
    who = "its operators only" if locked else "anyone"
    return f"* {actor} let {who} set the topic of {room}"


def you_are_banned(room: str, reason: str) -> str:
    return f"you are banned from {room} ({reason})"


def you_are_muted(room: str) -> str:
    return f"you are muted in {room}"


def not_identified_as_operator(nick: str) -> str:
    return f"{nick} is not identified: only accounts can be operators"


def server_operator(nick: str) -> str:
    return f"{nick} is a server operator"


def no_such_restriction(what: str, room: str) -> str:
    return f"nothing to lift for {what} in {room}"


def bans_header(room: str, listed: int) -> str:
    return f"* {listed} bans in {room}:"


def bans_entry(mask: str, actor: str, until: str, reason: str) -> str:
    return f"*   {mask} by {actor}, {until}: {reason}"
