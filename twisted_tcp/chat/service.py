"""
The chat service: everything members share (nicks, rooms, messages, history), behind
one interface, L{ChatService}, that each member's protocol calls.

L{LocalChat} is the one-process implementation. Another one (a cluster of processes
sharing rooms through a broker) implements the same interface and reuses L{Room} for
the delivery to its own members, so the protocol never knows which it talks to.

Every operation answers through the member (C{send_text}, C{send_error}) rather than
by return value, and may return a C{Deferred} when it completes later: while it is
pending, the member's further input waits, so its lines keep their order.
"""

from __future__ import annotations

import heapq
import re
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Final, NamedTuple, Protocol

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

from twisted_tcp.chat.history import HistoryStore, MemoryHistory
from twisted_tcp.chat.room import ROOM_PATTERN, Member, Room, room_key

#: Nicks: an ASCII letter, then up to 29 ASCII letters, digits, C{_} or C{-}. ASCII
#: only, so that no two nicks look alike on screen.
NICK_PATTERN: Final = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,29}\Z")
NICK_RULE: Final = (
    "a nick is 1-30 ASCII letters, digits, _ or -, starting with a letter"
)
ROOM_RULE: Final = "a room name is # then 1-30 ASCII letters, digits, _ or -"
RESERVED_NICKS: Final = frozenset({"server", "system", "admin"})
DEFAULT_ROOM: Final = "#lobby"
DEFAULT_ANNOUNCE_LIMIT: Final = 200
DEFAULT_TIMESTAMP_FORMAT: Final = "%Y/%m/%d %H:%M:%S"
#: Seconds a newcomer's join waits to be announced, so that a client that names
#: itself with C{/nick} as its first line is announced under that nick.
ARRIVAL_GRACE: Final = 1.0
#: Most entries C{/who} and C{/rooms} list; a notice after the listing says how many
#: more there are. Their answers thus stay small whatever the size of the chat: an
#: asker is never dropped for its send queue by the answer to its own question.
#: The number in a listing's first line is how many lines follow, always.
MAX_LISTED: Final = 1000
#: Characters of a room's topic that C{/rooms} shows.
LISTED_TOPIC: Final = 80
#: Why a member whose send queue overflowed is dropped (in the log and the notice).
QUEUE_EXCEEDED: Final = "send queue exceeded"

Completion = Deferred[None] | None


class ChatMember(Member, Protocol):
    """What the chat service knows of a member, beyond what its room knows."""

    def send_text(self, text: str) -> None:
        """A line for this member alone, after anything its room sent it before."""

    def send_error(self, text: str) -> None:
        """An C{error:} line for this member alone."""


class ChatService(Protocol):
    """
    What a member's protocol asks of the chat. Each call answers through the member and
    returns a C{Deferred} if it completes later (see the module docstring).
    """

    def connect(self, member: ChatMember) -> Completion:
        """Name a newcomer, put it in the default room, welcome it."""

    def disconnect(self, member: ChatMember, reason: str) -> None:
        """Forget a member whose connection ended; tell its room why."""

    def drop(self, member: ChatMember) -> None:
        """Throw out a member whose unsent output passed its bound."""

    def rename(self, member: ChatMember, nick: str) -> Completion:
        """C{/nick NICK}."""

    def join(self, member: ChatMember, name: str) -> Completion:
        """C{/join #ROOM}: leave the current room for C{name}, created if absent."""

    def part(self, member: ChatMember) -> Completion:
        """C{/part}: back to the default room."""

    def say(self, member: ChatMember, text: str) -> Completion:
        """A message to the member's room."""

    def emote(self, member: ChatMember, action: str) -> Completion:
        """C{/me ACTION} to the member's room."""

    def private(self, member: ChatMember, nick: str, text: str) -> Completion:
        """C{/msg NICK TEXT}, to a member in any room."""

    def who(self, member: ChatMember) -> Completion:
        """C{/who}: the members of the member's room."""

    def list_rooms(self, member: ChatMember) -> Completion:
        """C{/rooms}: the rooms and how many are in each."""

    def topic(self, member: ChatMember, text: str | None) -> Completion:
        """C{/topic [TEXT]}: show, or set, the topic of the member's room."""

    def shutdown(self) -> None:
        """The server is stopping: announce no more departures, save history."""


class LocalChat:
    """
    The chat service of one process: the nick registry and the rooms live here.

    @param clock: for timestamps and the timers of rooms and arrivals.
    @param encoding: the wire encoding of every line.
    @param history: messages per room replayed to whoever joins it.
    @param history_store: where history outlives the rooms (default: nowhere).
    @param default_room: where members start, and return with C{/part}.
    @param announce_limit: see L{Room}.
    @param motd: lines shown to each newcomer after the welcome.
    @param timestamp_format: C{time.strftime} format of message timestamps.
    @param arrival_grace: seconds a newcomer's join waits to be announced (see
        L{ARRIVAL_GRACE}); 0 announces it at once.
    """

    log = Logger()

    def __init__(
        self,
        *,
        clock: IReactorTime,
        encoding: str = "utf-8",
        history: int = 0,
        history_store: HistoryStore | None = None,
        default_room: str = DEFAULT_ROOM,
        announce_limit: int = DEFAULT_ANNOUNCE_LIMIT,
        motd: list[str] | None = None,
        timestamp_format: str = DEFAULT_TIMESTAMP_FORMAT,
        arrival_grace: float = ARRIVAL_GRACE,
    ) -> None:
        check_room_name(default_room)
        if history < 0 or announce_limit < 0:
            raise ValueError("history and announce_limit must be >= 0")
        self.clock = clock
        self.encoding = encoding
        self.history = history
        self.history_store: HistoryStore = history_store or MemoryHistory(history)
        self.announce_limit = announce_limit
        self.motd = motd or []
        self.timestamp_format = timestamp_format
        self.arrival_grace = arrival_grace
        self.members: dict[str, ChatMember] = {}
        self.rooms: dict[str, Room] = {}
        self.default_room = self._room(default_room)
        self.shutting_down = False
        self._guests = 0
        self._arrivals: dict[ChatMember, IDelayedCall] = {}

    def timestamp(self, when: float | None = None) -> str:
        """A time (default: now) in the configured format, in local time."""
        seconds = self.clock.seconds() if when is None else when
        return time.strftime(self.timestamp_format, time.localtime(seconds))

    # Rooms.

    def _room(self, name: str) -> Room:
        """The room called C{name}, created (with its stored history) if absent."""
        key = room_key(name)
        room = self.rooms.get(key)
        if room is None:
            stored = self.history_store.load(key, self.history) if self.history else []
            room = self.rooms[key] = Room(
                name,
                clock=self.clock,
                encoding=self.encoding,
                announce_limit=self.announce_limit,
                history=deque(stored, maxlen=self.history),
                overflowed=self._overflowed,
            )
        return room

    def _leave_room(self, member: ChatMember) -> Room | None:
        """Take C{member} out of its room; a room left empty disappears."""
        room = member.room
        if room is None:
            return None
        room.remove(member)
        gone = not room.members and room is not self.default_room
        # A nested drop may have removed the room already.
        if gone and self.rooms.get(room.key) is room:
            room.close()
            del self.rooms[room.key]
        return room

    # Membership.

    def connect(self, member: ChatMember) -> Completion:
        member.nick = self._guest_nick()
        member.connected_since = self.clock.seconds()
        self.members[member.nick.casefold()] = member
        self.log.info("{nick} connected", nick=member.nick)
        welcome = (
            f"* Welcome, {member.nick}! Change your nick with /nick NAME;"
            " /help lists the commands."
        )
        greeting = (welcome, *self.motd)
        if not enter_room(
            member, self.default_room, greeting, self.default_room.history
        ):
            return None
        if self.arrival_grace:
            self._arrivals[member] = self.clock.callLater(
                self.arrival_grace, self._arrive, member
            )
        else:
            self.default_room.announce_arrival(member)
        return None

    def _arrive(self, member: ChatMember) -> None:
        """Announce a newcomer's join, once: at its first line, or after the grace."""
        if not cancel_arrival(self._arrivals, member) and member.room is not None:
            member.room.announce_arrival(member)

    def _guest_nick(self) -> str:
        while True:
            self._guests += 1
            nick = f"guest-{self._guests}"
            if nick.casefold() not in self.members:
                return nick

    def disconnect(self, member: ChatMember, reason: str) -> None:
        if self.members.get(member.nick.casefold()) is not member:
            return
        del self.members[member.nick.casefold()]
        announced = cancel_arrival(self._arrivals, member)
        room = self._leave_room(member)
        self.log.info("{nick} left ({reason})", nick=member.nick, reason=reason)
        if room is not None and announced and not self.shutting_down:
            room.announce_departure(member.nick, reason)

    def _overflowed(self, member: Member) -> None:
        """A room could not deliver to C{member}: it is dropped."""
        self.drop(self.members[member.nick.casefold()])

    def drop(self, member: ChatMember) -> None:
        if self.members.get(member.nick.casefold()) is not member:
            return
        del self.members[member.nick.casefold()]
        cancel_arrival(self._arrivals, member)
        room = self._leave_room(member)
        member.evict()
        self.log.warn("{nick} dropped: {why}", nick=member.nick, why=QUEUE_EXCEEDED)
        if room is not None:
            room.post(drop_notice(member.nick, QUEUE_EXCEEDED))

    def rename(self, member: ChatMember, nick: str) -> Completion:
        problem = nick_problem(nick)
        if problem:
            member.send_error(problem)
            return None
        key = nick.casefold()
        holder = self.members.get(key)
        if holder is not None and holder is not member:
            member.send_error(f"the nick {nick} is taken by {holder.nick}")
            return None
        old = member.nick
        if old == nick:
            member.send_text(f"* you are already {nick}")
            return None
        del self.members[old.casefold()]
        self.members[key] = member
        member.nick = nick
        self.log.info("{old} is now {new}", old=old, new=nick)
        if member in self._arrivals:
            # Not announced yet: the others will meet it under its new nick.
            member.send_text(f"* {old} is now known as {nick}")
            self._arrive(member)
        elif member.room is not None:
            member.room.post(f"* {old} is now known as {nick}")
        return None

    def join(self, member: ChatMember, name: str) -> Completion:
        self._arrive(member)
        problem = room_name_problem(name)
        if problem:
            member.send_error(problem)
            return None
        current = member.room
        if current is not None and current.key == room_key(name):
            member.send_error(f"you are already in {current.name}")
            return None
        self._move(member, name)
        return None

    def part(self, member: ChatMember) -> Completion:
        self._arrive(member)
        if member.room is self.default_room:
            member.send_error(f"you are in the default room {self.default_room.name}")
            return None
        self._move(member, self.default_room.name)
        return None

    def _move(self, member: ChatMember, name: str) -> None:
        """Take C{member} from its room to the room called C{name}."""
        left = self._leave_room(member)
        if self.members.get(member.nick.casefold()) is not member:
            return  # Dropped by the last delivery of the room it left.
        # What the room still owes its members may drop the last of them, and so
        # end it: then the newcomer starts it anew.
        self._room(name).flush()
        room = self._room(name)
        if left is not None:
            left.announce_departure(member.nick, f"joined {room.name}")
        here = f"* you are now in {room.name}; {len(room) + 1} here"
        if enter_room(member, room, [here], room.history):
            room.announce_arrival(member)

    # Messages.

    def say(self, member: ChatMember, text: str) -> Completion:
        self._post(member, f"[{self.timestamp()}] <{member.nick}> {text}")
        return None

    def emote(self, member: ChatMember, action: str) -> Completion:
        self._post(member, f"[{self.timestamp()}] * {member.nick} {action}")
        return None

    def _post(self, member: ChatMember, line: str) -> None:
        self._arrive(member)
        room = member.room
        if room is None:
            return
        if self.history:
            room.history.append(line)
            self.history_store.append(room.key, line)
        room.post(line)

    def private(self, member: ChatMember, nick: str, text: str) -> Completion:
        self._arrive(member)
        recipient = self.members.get(nick.casefold())
        if recipient is None:
            member.send_error(f"no such nick: {nick}")
            return None
        stamp = self.timestamp()
        recipient.send_text(f"[{stamp}] *{member.nick}* {text}")
        member.send_text(f"[{stamp}] -> *{recipient.nick}* {text}")
        return None

    def who(self, member: ChatMember) -> Completion:
        self._arrive(member)
        room = member.room
        if room is None:
            return None
        room.flush()  # Whoever that delivery throws out is not listed.
        everyone = ((other.nick, other.connected_since) for other in room.members)
        listed = first_by_nick(everyone)
        tell_who(member, room.name, listed, len(room), self.timestamp)
        return None

    def list_rooms(self, member: ChatMember) -> Completion:
        self._arrive(member)
        entries = (
            RoomEntry(room.key, room.name, len(room), room.topic)
            for room in self.rooms.values()
        )
        tell_rooms(member, most_crowded(entries), len(self.rooms))
        return None

    def topic(self, member: ChatMember, text: str | None) -> Completion:
        self._arrive(member)
        room = member.room
        if room is None:
            return None
        if text is None:
            show_topic(member, room.name, room.topic)
            return None
        room.topic = text
        room.post(f"* {member.nick} set the topic of {room.name}: {text}")
        return None

    def shutdown(self) -> None:
        self.shutting_down = True
        for pending in self._arrivals.values():
            if pending.active():
                pending.cancel()
        self._arrivals.clear()
        self.history_store.close()


def nick_problem(nick: str) -> str | None:
    """What is wrong with a nick asked for with C{/nick}, or C{None}."""
    if not nick:
        return "usage: /nick NAME"
    if not NICK_PATTERN.match(nick):
        return NICK_RULE
    if nick.casefold() in RESERVED_NICKS:
        return f"the nick {nick} is reserved"
    return None


def enter_room(
    member: ChatMember, room: Room, greeting: Iterable[str], history: Iterable[str]
) -> bool:
    """
    Put C{member} in C{room}, then show it C{greeting}, the room's topic and
    C{history}. A member that does not read may be dropped by those lines: it is in
    the room first, so that the drop takes it out again through the usual path.

    @return: whether C{member} is still in C{room}.
    """
    room.add(member)
    topic = [f"* topic of {room.name}: {room.topic}"] if room.topic else []
    for line in (*greeting, *topic, *history):
        if member.room is not room:
            return False
        member.send_text(line)
    return member.room is room


def first_by_nick(members: Iterable[tuple[str, float]]) -> list[tuple[str, float]]:
    """
    The L{MAX_LISTED} first of C{members} (nick, connected since) in the order
    C{/who} lists them: by nick, ignoring case.
    """
    return heapq.nsmallest(MAX_LISTED, members, key=lambda entry: entry[0].casefold())


def tell_who(
    member: ChatMember,
    room: str,
    listed: list[tuple[str, float]],
    total: int,
    timestamp: Callable[[float], str],
) -> None:
    """
    Answer C{/who}: a count of the lines that follow, the C{listed} members (see
    L{first_by_nick}) of C{room}, and how many of its C{total} are not listed.
    """
    member.send_text(f"* {len(listed)} in {room}:")
    for nick, since in listed:
        member.send_text(f"*   {nick} (since {timestamp(since)})")
    _tell_unlisted(member, total - len(listed), "")


class RoomEntry(NamedTuple):
    """A room as C{/rooms} sees it."""

    key: str
    name: str
    population: int
    topic: str


def most_crowded(rooms: Iterable[RoomEntry]) -> list[RoomEntry]:
    """The L{MAX_LISTED} most crowded of C{rooms} (of equal ones, the first by key)."""
    return heapq.nsmallest(
        MAX_LISTED, rooms, key=lambda room: (-room.population, room.key)
    )


def tell_rooms(member: ChatMember, listed: list[RoomEntry], total: int) -> None:
    """
    Answer C{/rooms}: a count of the lines that follow, the C{listed} rooms (see
    L{most_crowded}) by name, and how many of C{total} rooms are not listed.
    """
    member.send_text(f"* {len(listed)} rooms:")
    for room in sorted(listed, key=lambda room: room.key):
        topic = f": {_excerpt(room.topic)}" if room.topic else ""
        member.send_text(f"*   {room.name} ({room.population}){topic}")
    _tell_unlisted(member, total - len(listed), " rooms")


def cancel_arrival(
    arrivals: dict[ChatMember, IDelayedCall], member: ChatMember
) -> bool:
    """
    Forget C{member}'s pending arrival in C{arrivals} (its timer is cancelled);
    return whether its join had been announced.
    """
    pending = arrivals.pop(member, None)
    if pending is None:
        return True
    if pending.active():
        pending.cancel()
    return False


def _tell_unlisted(member: ChatMember, count: int, what: str) -> None:
    """After a listing cut at L{MAX_LISTED}: how many entries it left out."""
    if count > 0:
        member.send_text(f"* ... and {count} more{what}, not listed")


def _excerpt(topic: str) -> str:
    """A topic as C{/rooms} shows it: at most L{LISTED_TOPIC} characters."""
    if len(topic) <= LISTED_TOPIC:
        return topic
    return topic[: LISTED_TOPIC - 3] + "..."


def drop_notice(nick: str, reason: str) -> str:
    """The line a room is shown when one of its members is dropped, and why."""
    return f"* {nick} dropped ({reason})"


def show_topic(member: ChatMember, room: str, topic: str) -> None:
    """Answer a bare C{/topic}: the C{topic} of C{room}, or that it has none."""
    if topic:
        member.send_text(f"* topic of {room}: {topic}")
    else:
        member.send_text(f"* {room} has no topic")


def room_name_problem(name: str) -> str | None:
    """What is wrong with a room name, or C{None}."""
    if not name:
        return "usage: /join #ROOM"
    if not ROOM_PATTERN.match(name):
        return ROOM_RULE
    return None


def check_room_name(name: str) -> str:
    """
    Return C{name} if it is a valid room name.

    @raise ValueError: otherwise, with a message fit for a usage error.
    """
    if not ROOM_PATTERN.match(name):
        raise ValueError(f"bad room name {name!r}: {ROOM_RULE}")
    return name
