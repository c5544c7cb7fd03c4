"""
How a member of this node gets into a room (see C{docs/cluster.md}, "Joining"): a
script lists it there in Redis and appends its join event to the room's log, and
the node admits it to its local room when its reader reaches that event, so that
the member is shown exactly the events after its history, in the log's order.
L{Admission} is the part of L{RedisChat} that does it, with the tickets of the
members on their way in.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred, ensureDeferred
from twisted.python.failure import Failure

from twisted_tcp.chat import texts
from twisted_tcp.chat.cluster import scripts
from twisted_tcp.chat.cluster.link import Argument, RedisUnavailableError
from twisted_tcp.chat.cluster.reader import StreamReader, stream_id
from twisted_tcp.chat.cluster.schema import Keys, Kind
from twisted_tcp.chat.interfaces import ChatMember, Completion
from twisted_tcp.chat.names import nick_key, room_key
from twisted_tcp.chat.room import Room, enter_room
from twisted_tcp.chat.settings import ChatSettings

if TYPE_CHECKING:
    from weakref import WeakSet

    from twisted.internet.interfaces import IDelayedCall, IReactorTime
    from twisted.logger import Logger

    from twisted_tcp.chat.cluster.outbox import Outbox


def predecessor(entry_id: str) -> str:
    """The stream id just before C{entry_id}: reading after it starts at it."""
    milliseconds, sequence = stream_id(entry_id)
    if sequence:
        return f"{milliseconds}-{sequence - 1}"
    return f"{milliseconds - 1}-{2**64 - 1}"


@dataclass(eq=False)
class Ticket:
    """
    A member of this node on its way into a room: Redis has (or is about to have)
    listed it there, and it is admitted to the local room when this node's reader
    reaches its join event in the room's log (see C{docs/cluster.md}, "Joining").
    """

    member: ChatMember
    token: str
    room: str
    connecting: bool
    admitted: Deferred[None] = field(default_factory=Deferred)
    #: The script's answer, once it has come: the join event's id, the room's name,
    #: its population, its topic and its history.
    reply: list[Any] | None = None
    #: Whether the reader reached the join event before the answer came.
    held: bool = False


class Admission:
    """
    The admission of this node's members to rooms: what L{RedisChat} does with its
    tickets. (A mixin: the node's state it reads is declared below.)
    """

    log: Logger
    clock: IReactorTime
    settings: ChatSettings
    keys: Keys
    node: str
    default_key: str
    reader: StreamReader
    members: dict[str, ChatMember]
    rooms: dict[str, Room]
    _tickets: dict[str, Ticket]
    _where: dict[ChatMember, str]
    _gone: WeakSet[ChatMember]
    _changing: dict[ChatMember, tuple[str, str, str] | None]
    _run: Callable[..., Deferred[Any]]
    _execute: Callable[..., Deferred[Any]]
    _local_room: Callable[[str, str], Room]
    _retire_room: Callable[[str], None]
    _leave_local: Callable[[ChatMember], None]
    _leave_after_change: Callable[..., None]
    _expect_arrival: Callable[..., None]
    greeting: Callable[[ChatMember], list[str]]
    heartbeat: float
    available: bool
    shutting_down: bool
    default_room: str
    outbox: Outbox
    _arrivals: dict[ChatMember, IDelayedCall]
    _arrive: Callable[[ChatMember], None]
    _until_available: Callable[[], Deferred[None]]
    _failing: Callable[[ChatMember, str, Any], Deferred[None]]

    def connect(self, member: ChatMember) -> Completion:
        return ensureDeferred(self._connect(member))

    async def _connect(self, member: ChatMember) -> None:
        told = False
        while not self.shutting_down and member not in self._gone:
            if not self.available:
                if not told:
                    member.send_text(texts.WAITING)
                    told = True
                await self._until_available()
                continue
            member.connected_since = self.clock.seconds()
            try:
                await self._enter(member, self.default_key, self.default_room, True)
                self.log.info("{nick} connected", nick=member.nick)
                return
            except RedisUnavailableError:
                continue

    def _announce_arrival(self, member: ChatMember) -> None:
        key = self._where.get(member)
        if key is None:
            return
        if not self.available:
            # Not lost: tried again at each heartbeat until Redis is back.
            self._arrivals[member] = self.clock.callLater(
                self.heartbeat, self._arrive, member
            )
            return
        self.outbox.queue(key, Kind.ARRIVAL, member.nick, None)

    def _move(self, member: ChatMember, name: str) -> Completion:
        key = room_key(name)
        if self._where.get(member) == key:
            room = member.room
            member.send_error(texts.already_in(room.name if room else name))
            return None
        if not self.available:
            member.send_error(texts.NO_SERVICE)
            return None
        entering = self._enter(member, key, name, False)
        return self._failing(member, texts.NO_SERVICE, entering)

    def _admit_if_lost(self, ticket: Ticket) -> None:
        """
        Redis is back while a member waits for the reader to reach its join event.
        If Redis lost that event (restarted without its data), the member would wait
        for ever: it is admitted now. Otherwise the reader gets there: admitted
        earlier, the member would be sent the events before its join, which its
        history already showed it.
        """
        assert ticket.reply is not None
        join = ticket.reply[0]
        looking = self._execute("XRANGE", self.keys.room_log(ticket.room), join, join)

        def found(entries: list[Any]) -> None:
            if not entries and self._tickets.get(ticket.token) is ticket:
                self._admit(ticket)

        def failed(failure: Failure) -> None:
            # If Redis is away again, it is asked again once it is back.
            if not failure.check(RedisUnavailableError):
                self.log.failure("looking for a join event failed", failure)

        looking.addCallbacks(found, failed)

    def _admit(self, ticket: Ticket) -> None:
        """
        Start delivering a room to a member: its join event was reached. As on one
        node, the member is in the room before it is shown anything, so that if
        those lines drop it (it does not read), it leaves the room the usual way.
        """
        assert ticket.reply is not None
        _, name, population, topic, *history = ticket.reply
        member = ticket.member
        entered = False
        if member not in self._gone:
            room = self._local_room(ticket.room, name)
            # What the room still owes its members goes first; if that drops the
            # last of them, the ticket (still listed) keeps the room for the newcomer.
            room.flush()
            room.population = int(population)
            room.topic = topic
            if ticket.connecting:
                greeting = self.greeting(member)
            else:
                greeting = [texts.now_in(name, population)]
            entered = enter_room(member, room, greeting, history)
        self._tickets.pop(ticket.token, None)
        if not entered:
            self._retire_room(ticket.room)
        elif ticket.connecting:
            self._expect_arrival(member)
        ticket.admitted.callback(None)

    async def _enter(
        self, member: ChatMember, key: str, name: str, connecting: bool
    ) -> bool:
        """
        Put C{member} in room C{key} (connecting: give it a nick first); return once
        it is admitted, or C{False} if Redis could not be asked.
        """
        token = secrets.token_hex(8)
        ticket = self._tickets[token] = Ticket(member, token, key, connecting)
        common: list[Argument] = [
            self.node,
            repr(member.connected_since),
            key,
            name,
            token,
            self.settings.history,
            self.default_key,
            scripts.LOG_KEEP,
        ]
        self._changing[member] = None
        try:
            if connecting:
                nick, *reply = await self._run(scripts.CONNECT, *common)
                member.nick = nick
                self.members[nick_key(nick)] = member
            else:
                current = self._where.get(member, "")
                reply = await self._run(
                    scripts.ENTER, *common, member.nick, current, texts.MOVED
                )
        except Exception:
            self._leave_after_change(member)
            self._tickets.pop(token, None)
            if ticket.held:
                self.reader.release(self.keys.room_log(key))
            self._retire_room(key)
            raise
        log = self.keys.room_log(key)
        if member in self._gone:
            # Its connection ended meanwhile: it leaves the room it was entering
            # (as it left, announced or not), and the room's events (held if its
            # join event came first) flow on.
            self._tickets.pop(token, None)
            if self.members.get(nick_key(member.nick)) is member:
                del self.members[nick_key(member.nick)]
            if self._changing.get(member) is None:
                self._changing[member] = (key, "", "")
            self._leave_after_change(member, key)
            if ticket.held:
                self.reader.release(log)
            self._retire_room(key)
            return True
        self._changing.pop(member, None)
        self._where[member] = key
        if not connecting:
            self._leave_local(member)
        ticket.reply = reply
        self._local_room(key, reply[1])
        if not self.reader.tracking(log):
            self.reader.track(log, predecessor(reply[0]))
        if ticket.held:
            self.reader.release(log)
        await ticket.admitted
        return True
