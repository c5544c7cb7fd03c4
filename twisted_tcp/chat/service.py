"""
L{LocalChat}: the chat of one process, where the nick registry, the rooms and their
history live in memory (history also in a L{HistoryStore}) and the reactor orders
events. The rules it applies are the core's (L{twisted_tcp.chat.core}); the lines it
sends are the catalogue's (L{twisted_tcp.chat.texts}).
"""

from __future__ import annotations

from collections import deque
from typing import Any

from twisted.logger import Logger

from twisted_tcp.chat import texts
from twisted_tcp.chat.core import (
    ChatCore,
    ChatMember,
    ChatSettings,
    Completion,
    Member,
    enter_room,
    nick_key,
    room_key,
)
from twisted_tcp.chat.history import HistoryStore, MemoryHistory
from twisted_tcp.chat.listing import (
    RoomEntry,
    first_by_nick,
    most_crowded,
    tell_rooms,
    tell_who,
)
from twisted_tcp.chat.room import Room


class LocalChat(ChatCore):
    """
    The chat service of one process.

    @param settings: what the chat is (see L{ChatSettings}).
    @param history_store: where history outlives the rooms (default: memory).
    @param reactor: times and schedules (default: the global reactor).
    """

    log = Logger()

    def __init__(
        self,
        settings: ChatSettings | None = None,
        *,
        history_store: HistoryStore | None = None,
        reactor: Any = None,
    ) -> None:
        settings = settings or ChatSettings()
        super().__init__(settings, reactor)
        self.history_store: HistoryStore = history_store or MemoryHistory(
            settings.history
        )
        self.members: dict[str, ChatMember] = {}
        self.rooms: dict[str, Room] = {}
        #: The last messages of each room that exists, oldest first.
        self._history: dict[str, deque[str]] = {}
        self._guests = 0

    # Rooms.

    def _room(self, name: str) -> Room:
        """The room called C{name}, created (with its stored history) if absent."""
        key = room_key(name)
        room = self.rooms.get(key)
        if room is None:
            limit = self.settings.history
            stored = self.history_store.load(key, limit) if limit else []
            self._history[key] = deque(stored, maxlen=limit)
            room = self.rooms[key] = self._new_room(name)
        return room

    def _leave_room(self, member: ChatMember) -> Room | None:
        """Take C{member} out of its room; a room left empty disappears."""
        room = member.room
        if room is None:
            return None
        room.remove(member)
        gone = not room.members and room.key != room_key(self.default_room)
        # A nested drop may have removed the room already.
        if gone and self.rooms.get(room.key) is room:
            room.close()
            del self.rooms[room.key]
            del self._history[room.key]
        return room

    def _enter(self, member: ChatMember, room: Room, greeting: list[str]) -> bool:
        return enter_room(member, room, greeting, self._history[room.key])

    def _is_member(self, member: ChatMember) -> bool:
        return self.members.get(nick_key(member.nick)) is member

    # Membership.

    def connect(self, member: ChatMember) -> Completion:
        member.nick = self._guest_nick()
        member.connected_since = self.clock.seconds()
        self.members[nick_key(member.nick)] = member
        self.log.info("{nick} connected", nick=member.nick)
        if self._enter(member, self._room(self.default_room), self.greeting(member)):
            self._expect_arrival(member)
        return None

    def _announce_arrival(self, member: ChatMember) -> None:
        if member.room is not None:
            member.room.announce_arrival(member)

    def _guest_nick(self) -> str:
        while True:
            self._guests += 1
            nick = f"guest-{self._guests}"
            if nick_key(nick) not in self.members:
                return nick

    def disconnect(self, member: ChatMember, reason: str) -> None:
        if not self._is_member(member):
            return
        del self.members[nick_key(member.nick)]
        announced = self._cancel_arrival(member)
        room = self._leave_room(member)
        self.log.info("{nick} left ({reason})", nick=member.nick, reason=reason)
        if room is not None and announced and not self.shutting_down:
            room.announce_departure(member.nick, reason)

    def _overflowed(self, member: Member) -> None:
        """A room could not deliver to C{member}: it is dropped."""
        self.drop(self.members[nick_key(member.nick)])

    def drop(self, member: ChatMember) -> None:
        if not self._is_member(member):
            return
        del self.members[nick_key(member.nick)]
        self._cancel_arrival(member)
        room = self._leave_room(member)
        member.evict()
        self.log.warn(
            "{nick} dropped: {why}", nick=member.nick, why=texts.QUEUE_EXCEEDED
        )
        if room is not None:
            room.post(texts.dropped(member.nick, texts.QUEUE_EXCEEDED))

    def rename(self, member: ChatMember, nick: str) -> Completion:
        if not self._check_rename(member, nick):
            return None
        key = nick_key(nick)
        holder = self.members.get(key)
        if holder is not None and holder is not member:
            member.send_error(texts.nick_taken(nick, holder.nick))
            return None
        old = member.nick
        del self.members[nick_key(old)]
        self.members[key] = member
        member.nick = nick
        self.log.info("{old} is now {new}", old=old, new=nick)
        if member in self._arrivals:
            # Not announced yet: the others will meet it under its new nick.
            member.send_text(texts.renamed(old, nick))
            self._arrive(member)
        elif member.room is not None:
            member.room.post(texts.renamed(old, nick))
        return None

    def _move(self, member: ChatMember, name: str) -> Completion:
        current = member.room
        if current is not None and current.key == room_key(name):
            member.send_error(texts.already_in(current.name))
            return None
        left = self._leave_room(member)
        if not self._is_member(member):
            return None  # Dropped by the last delivery of the room it left.
        # What the room still owes its members may drop the last of them, and so
        # end it: then the newcomer starts it anew.
        self._room(name).flush()
        room = self._room(name)
        if left is not None:
            left.announce_departure(member.nick, texts.MOVED.format(room=room.name))
        if self._enter(member, room, [texts.now_in(room.name, len(room) + 1)]):
            room.announce_arrival(member)
        return None

    # Messages.

    def _post(self, member: ChatMember, line: str) -> Completion:
        self._arrive(member)
        room = member.room
        if room is None:
            return None
        if self.settings.history:
            self._history[room.key].append(line)
            self.history_store.append(room.key, line)
        room.post(line)
        return None

    def private(self, member: ChatMember, nick: str, text: str) -> Completion:
        self._arrive(member)
        recipient = self.members.get(nick_key(nick))
        if recipient is None:
            member.send_error(texts.no_such_nick(nick))
            return None
        stamp = self.timestamp()
        recipient.send_text(texts.private_from(stamp, member.nick, text))
        member.send_text(texts.private_to(stamp, recipient.nick, text))
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
            member.send_text(texts.topic_of(room.name, room.topic))
            return None
        room.topic = text
        room.post(texts.topic_set(member.nick, room.name, text))
        return None

    def shutdown(self) -> None:
        self.shutting_down = True
        self._cancel_arrivals()
        self.history_store.close()
