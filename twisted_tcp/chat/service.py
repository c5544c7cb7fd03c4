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
from twisted_tcp.chat.core import ChatCore
from twisted_tcp.chat.history import HistoryStore, MemoryHistory
from twisted_tcp.chat.interfaces import ChatMember, Completion
from twisted_tcp.chat.listing import (
    RoomEntry,
    first_by_nick,
    most_crowded,
)
from twisted_tcp.chat.names import nick_key, room_key
from twisted_tcp.chat.room import Room, enter_room
from twisted_tcp.chat.settings import ChatSettings
from twisted_tcp.chat.state import Authority


class LocalChat(ChatCore):
    """
    The chat service of one process.

    @param settings: what the chat is (see L{ChatSettings}).
    @param history_store: where history outlives the rooms (default: memory).
    @param reactor: times and schedules (default: the global reactor).
    @param authority: accounts, operators, bans (default: none yet, in memory).
    """

    log = Logger()

    def __init__(
        self,
        settings: ChatSettings | None = None,
        *,
        history_store: HistoryStore | None = None,
        reactor: Any = None,
        authority: Authority | None = None,
    ) -> None:
        settings = settings or ChatSettings()
        super().__init__(settings, reactor, authority)
        self.history_store: HistoryStore = history_store or MemoryHistory(
            settings.history
        )
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

    def notice(self, room: str, line: str) -> None:
        if room in self.rooms:
            self.rooms[room].post(line)

    # Membership.

    def connect(self, member: ChatMember) -> Completion:
        member.nick = self.guest_nick()
        member.connected_since = self.clock.seconds()
        self.members[nick_key(member.nick)] = member
        self.log.info("{nick} connected", nick=member.nick)
        if self._enter(member, self._room(self.default_room), self.greeting(member)):
            self._expect_arrival(member)
        return None

    def _announce_arrival(self, member: ChatMember) -> None:
        if member.room is not None:
            member.room.announce_arrival(member)

    def guest_nick(self) -> str:
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

    def _claim_nick(self, member: ChatMember, nick: str, notice: str) -> str | None:
        key = nick_key(nick)
        holder = self.members.get(key)
        if holder is not None and holder is not member:
            return holder.nick
        del self.members[nick_key(member.nick)]
        self.members[key] = member
        member.nick = nick
        if notice and member.room is not None:
            member.room.post(notice)
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

    def _deliver_private(self, nick: str, line: str) -> str | None:
        recipient = self.members.get(nick_key(nick))
        if recipient is None:
            return None
        recipient.send_text(line)
        return recipient.nick

    # What the core asks of the rooms.

    def _room_key_of(self, member: ChatMember) -> str | None:
        return member.room.key if member.room is not None else None

    def _members_of(self, key: str) -> tuple[list[tuple[str, float]], int]:
        room = self.rooms[key]
        room.flush()  # Whoever that delivery throws out is not listed.
        everyone = ((other.nick, other.connected_since) for other in room.members)
        return first_by_nick(everyone), len(room)

    def _rooms(self) -> tuple[list[RoomEntry], int]:
        entries = (
            RoomEntry(room.key, room.name, len(room), room.topic)
            for room in self.rooms.values()
        )
        return most_crowded(entries), len(self.rooms)

    def _read_topic(self, key: str) -> str:
        return self.rooms[key].topic

    def _set_topic(self, key: str, topic: str, notice: str) -> None:
        room = self.rooms[key]
        room.topic = topic
        room.post(notice)

    def shutdown(self) -> None:
        self.shutting_down = True
        self._cancel_arrivals()
        self.history_store.close()
        self.authority.state.close()
