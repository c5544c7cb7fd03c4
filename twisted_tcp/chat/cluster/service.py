"""
L{RedisChat}: the chat service of a node of a cluster (C{twist tcp-chat --redis URL}).

It implements the same L{ChatService} interface as the one-process L{LocalChat}, so the
member's protocol is the same; what members share lives in Redis instead of in this
process. Each room a member here is in has a L{Room} here for the delivery to this
node's members, fed from that room's log in Redis by one L{StreamReader}: every node
delivers a room's events in the log's order. See C{docs/cluster.md}.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar
from weakref import WeakSet

from twisted.internet.defer import Deferred, ensureDeferred, succeed
from twisted.logger import Logger
from twisted.python.failure import Failure

from twisted_tcp.chat import texts
from twisted_tcp.chat.build import DEFAULT_CLUSTER, DEFAULT_HEARTBEAT
from twisted_tcp.chat.cluster import events, queries, scripts
from twisted_tcp.chat.cluster.address import RedisAddress
from twisted_tcp.chat.cluster.link import Argument, RedisLink, RedisUnavailableError
from twisted_tcp.chat.cluster.outbox import Outbox
from twisted_tcp.chat.cluster.presence import Presence
from twisted_tcp.chat.cluster.reader import StreamReader, stream_id
from twisted_tcp.chat.cluster.schema import Field, Keys, Kind
from twisted_tcp.chat.cluster.state import RedisState
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
from twisted_tcp.chat.listing import (
    tell_rooms,
    tell_who,
)
from twisted_tcp.chat.passwords import PasswordHasher
from twisted_tcp.chat.room import Room
from twisted_tcp.chat.state import NICK_GRACE, Authority

#: Seconds a stopping node waits for Redis to record its members' departure.
RETIRE_TIMEOUT: Final = 3.0
#: Characters of one member's lines sent to Redis and not yet answered before its
#: further input waits: about what one node broadcasts of a read at once (64 KiB).
#: Counted in characters (the lines are text until txredisapi encodes them).
#: Redis runs one connection's commands in the order they were sent, so lines need
#: not wait for each other to keep their order; this only bounds the backlog. (A
#: bound in lines would cut a sender's burst of short lines into many round trips,
#: each read and written to every member separately.)
MAX_IN_FLIGHT: Final = 64 * 1024

_Entry = TypeVar("_Entry")


def default_node_name() -> str:
    """This machine's host name and this process's id, e.g. C{web1-4242}."""
    return f"{socket.gethostname()}-{os.getpid()}"


def predecessor(entry_id: str) -> str:
    """The stream id just before C{entry_id}: reading after it starts at it."""
    milliseconds, sequence = stream_id(entry_id)
    if sequence:
        return f"{milliseconds}-{sequence - 1}"
    return f"{milliseconds - 1}-{2**64 - 1}"


@dataclass(eq=False)
class _Ticket:
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


class RedisChat(ChatCore):
    """
    The chat service of one node of a cluster sharing rooms through Redis.

    @param address: the Redis server.
    @param cluster: the key prefix: the cluster's name.
    @param node_name: this node's name (logs, Redis).
    @param heartbeat: seconds between two heartbeats; a node silent for
        L{HEARTBEATS_TO_LOSS} heartbeats is declared lost by the others.
    @param reactor: connects, times and schedules (default: the global reactor,
        imported when the service starts).
    @param on_refused: called once with the reason if Redis refuses the node (a
        wrong or missing password, no such database), after it is logged. No retry
        can help, so the refused link stops retrying; what happens next is the
        application's choice (C{twist tcp-chat} ends with exit status 1).
    The other parameters are L{LocalChat}'s.
    """

    log = Logger()

    def __init__(
        self,
        address: RedisAddress,
        settings: ChatSettings | None = None,
        *,
        cluster: str = DEFAULT_CLUSTER,
        node_name: str | None = None,
        heartbeat: float = DEFAULT_HEARTBEAT,
        reactor: Any = None,
        on_refused: Callable[[str], object] = lambda reason: None,
        operators: frozenset[str] = frozenset(),
        hasher: PasswordHasher | None = None,
        nick_grace: float = NICK_GRACE,
    ) -> None:
        #: Accounts, bans, mutes and room operators, in Redis.
        self.records = RedisState(self._execute, Keys(cluster).prefix, heartbeat)
        authority = Authority(self.records, operators, hasher, nick_grace)
        super().__init__(settings or ChatSettings(), reactor, authority)
        self.records.changed = self.moderation.enforce
        if not heartbeat > 0:
            raise ValueError("heartbeat must be > 0")
        if not cluster or any(c.isspace() or c == ":" for c in cluster):
            raise ValueError(f"bad cluster name {cluster!r}: no spaces or colons")
        self.address = address
        self.keys = Keys(cluster)
        self.node_name = node_name or default_node_name()
        #: This run of the node: its name and a random token, so that a node
        #: restarted under the same name is a new node to the others.
        self.node = f"{self.node_name}/{secrets.token_hex(4)}"
        self.heartbeat = heartbeat
        self.default_key = room_key(self.default_room)
        self.on_refused = on_refused
        self.members: dict[str, ChatMember] = {}
        self.rooms: dict[str, Room] = {}
        self.available = False
        self._where: dict[ChatMember, str] = {}
        self._tickets: dict[str, _Ticket] = {}
        #: Members whose connection ended (possibly while Redis was still busy
        #: with their arrival).
        self._gone: WeakSet[ChatMember] = WeakSet()
        self._waiting: list[Deferred[None]] = []
        self._reasserting = False
        #: Whether the node said Redis is away (see L{_unreachable}).
        self._told_unreachable = False
        self._was_available = False
        self._retiring: Deferred[None] | None = None
        #: The former nicks of members renamed at the last re-assertion (their nick
        #: was taken while this node was away).
        self._former: set[str] = set()
        #: Why Redis refused this node, once it did (it is then stopping).
        self.refused: str | None = None
        self._in_flight: dict[ChatMember, int] = {}
        #: Members whose rename or move Redis has yet to answer, and the departure
        #: (room, kind, reason) that waits for that answer, if they left meanwhile.
        self._changing: dict[ChatMember, tuple[str, str, str] | None] = {}

    # Starting and stopping.

    def startService(self) -> None:
        super().startService()
        self.outbox = Outbox(self.clock, self._post_batch, self._ignore_outage)
        self.command = RedisLink(
            self.address,
            reactor=self.clock,
            name=f"{self.node_name} commands",
            on_ready=self._links_changed,
            on_lost=self._links_changed,
            on_refused=self._refused,
            on_unreachable=self._unreachable,
        )
        self._reader_link = RedisLink(
            self.address,
            reactor=self.clock,
            name=f"{self.node_name} reader",
            on_ready=self._reader_ready,
            on_lost=self._links_changed,
            on_refused=self._refused,
            on_unreachable=self._unreachable,
        )
        self.reader = StreamReader(
            self._reader_link,
            self.command,
            self.keys.inbox(self.node),
            self._entry,
            clock=self.clock,
        )
        self.presence = Presence(
            self.node,
            self.heartbeat,
            clock=self.clock,
            run=self._run,
            ready=lambda: self.command.ready and not self.shutting_down,
            judging=lambda: self.available,
            forgotten=self._forgotten,
            default_room=self.default_key,
        )
        self.log.info(
            "cluster {cluster} node {node} on {address}",
            cluster=self.keys.prefix,
            node=self.node,
            address=self.address,
        )
        self.command.start()
        self._reader_link.start()
        self.reader.start()
        self.presence.start()
        self.records.start(self.clock)

    async def _stop(self) -> None:
        self.presence.stop()
        self.records.stop()
        if self._retiring is not None:
            await self._retiring
        self.reader.stop()
        await self._reader_link.stop()
        await self.command.stop()

    def stopService(self) -> Deferred[None]:
        super().stopService()
        return ensureDeferred(self._stop())

    def _refused(self, reason: str) -> None:
        """
        Redis refused a link (wrong or missing password, no such database): no
        retry can help, so the node says so once and tells L{on_refused}.
        """
        if self.refused is not None:
            return
        self.refused = reason
        self.log.critical(
            "Redis at {address} refused this node ({reason}): check --redis",
            address=self.address,
            reason=reason,
        )
        self.on_refused(reason)

    def _run(self, script: str, *args: Argument) -> Deferred[Any]:
        """
        Run one of L{scripts} (its first argument, the prefix, is added here), after
        the lines waiting in the outbox, which were sent before it.
        """
        self.outbox.send()
        return self.command.eval(script, [], [self.keys.prefix, *args])

    def _execute(self, *command: Argument) -> Deferred[Any]:
        """Send a plain command, after the lines waiting in the outbox."""
        self.outbox.send()
        return self.command.execute(*command)

    def _post_batch(self, room: str, postings: list[str]) -> Deferred[Any]:
        """Post to C{room} what its outbox holds for it (see L{scripts.POST})."""
        arguments: list[Argument] = [
            self.keys.prefix, room, self.settings.history, scripts.LOG_KEEP,
            self.node, *postings,
        ]  # fmt: skip
        return self.command.eval(scripts.POST, [], arguments)

    # Availability.

    def _reader_ready(self) -> None:
        self.reader.connected()
        self._links_changed()

    def _links_changed(self) -> None:
        if self.command.ready and self._reader_link.ready:
            if not self.available:
                self._reassert()
        elif self.available:
            self.available = False
            if not self.shutting_down:  # Else the node is closing the links itself.
                self.log.warn("Redis unavailable: members are told")
                self._told_unreachable = True
                self._tell_everyone(texts.UNAVAILABLE)

    def _tell_everyone(self, text: str) -> None:
        for room in self.rooms.values():
            room.post(text)

    def _reassert(self) -> None:
        if self._reasserting or self.shutting_down:
            return
        self._reasserting = True
        done = ensureDeferred(self._reassert_members())

        def finished(result: object) -> None:
            self._reasserting = False
            if isinstance(result, Failure):
                if not result.check(RedisUnavailableError):
                    self.log.failure("re-asserting this node's members failed", result)
                    self.clock.callLater(self.heartbeat, self._links_changed)
                return
            self._now_available()

        done.addBoth(finished)

    async def _reassert_members(self) -> None:
        """Tell Redis this node's truth: its heartbeat, members and room topics."""
        listed: list[Argument] = []
        asserted: dict[str, tuple[ChatMember, str]] = {}
        for member in list(self.members.values()):
            key = self._where.get(member)
            if key is None:
                continue
            room = self.rooms.get(key)
            listed += [member.nick, key, room.name if room else key]
            listed.append(repr(member.connected_since))
            asserted[nick_key(member.nick)] = (member, key)
        topics: list[Argument] = []
        for room in self.rooms.values():
            if room.topic:
                topics += [room.key, room.topic]
        lost, *renamed = await self._run(
            scripts.REASSERT,
            self.node,
            self.presence.lifetime_ms,
            self.default_key,
            self.default_room,
            scripts.LOG_KEEP,
            *listed,
            "",
            *topics,
        )
        self._former = {nick_key(old) for old in renamed[::2]}
        for old, nick in queries.groups(renamed, 2):
            member, key = asserted[nick_key(old)]
            if self.members.get(nick_key(old)) is member:
                del self.members[nick_key(old)]
            member.nick = nick
            self.log.info("{old} is now {new}: nick taken", old=old, new=nick)
            if member in self._gone:
                # Its connection ended meanwhile: let the new nick go too.
                self._leave_redis(member, key, "", "")
                continue
            self.members[nick_key(nick)] = member
            member.send_text(texts.you_were_renamed(old, nick))
        if lost:
            # The others saw every member here leave (the node was declared lost)
            # and now see each come back: none is still to be announced.
            for member, _ in asserted.values():
                self._cancel_arrival(member)

    def _unreachable(self, error: str) -> None:
        """
        An attempt to connect to Redis failed: said once, until Redis is available
        (the links keep trying; each attempt is not logged).
        """
        if not self._told_unreachable and not self.shutting_down:
            self._told_unreachable = True
            self.log.warn(
                "cannot reach Redis at {address}: {error}; trying again until it"
                " answers",
                address=self.address,
                error=error,
            )

    def _now_available(self) -> None:
        if not (self.command.ready and self._reader_link.ready):
            return
        self.available = True
        self.presence.heard()
        self._told_unreachable = False
        if self._was_available:
            self.log.info("Redis available again")
            self._tell_everyone(texts.RESTORED)
        else:
            self.log.info("Redis available: newcomers are let in")
        self._was_available = True
        for ticket in list(self._tickets.values()):
            if ticket.reply is not None:
                self._admit_if_lost(ticket)
        waiting, self._waiting = self._waiting, []
        for waiter in waiting:
            waiter.callback(None)

    def _admit_if_lost(self, ticket: _Ticket) -> None:
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

    def _until_available(self) -> Deferred[None]:
        if self.available:
            return succeed(None)
        waiter: Deferred[None] = Deferred()
        self._waiting.append(waiter)
        return waiter

    def _forgotten(self) -> None:
        """Redis has no heartbeat of this node: it re-asserts its members."""
        if self.available:
            self.log.warn("Redis forgot this node: re-asserting its members")
            self.available = False
            # Until that is done, lines are not delivered: members are told so.
            self._tell_everyone(texts.UNAVAILABLE)
            self._reassert()

    # Rooms here.

    def _local_room(self, key: str, name: str) -> Room:
        room = self.rooms.get(key)
        if room is None:
            room = self.rooms[key] = Room(
                name,
                clock=self.clock,
                encoding=self.settings.encoding,
                announce_limit=self.settings.announce_limit,
                overflowed=self._overflowed,
            )
        return room

    def _leave_local(self, member: ChatMember) -> None:
        room = member.room
        if room is None:
            return
        room.remove(member)
        self._retire_room(room.key)

    def _retire_room(self, key: str) -> None:
        """
        Stop delivering room C{key} here if no member here is in it or on its way
        into it: its L{Room} goes, and its log is no longer read.
        """
        room = self.rooms.get(key)
        if room is None or room.members:
            return
        if any(ticket.room == key for ticket in self._tickets.values()):
            return
        room.close()
        del self.rooms[key]
        self.reader.untrack(self.keys.room_log(key))

    def _entry(self, stream: str, entry_id: str, fields: dict[str, str]) -> None:
        """One event read from Redis: a room's, or a private message."""
        if stream == self.reader.wake_key:
            member = self.members.get(fields.get(Field.NICK, ""))
            if member is not None:
                member.send_text(fields.get(Field.TEXT, ""))
            return
        key = self.keys.room_of_log(stream)
        room = self.rooms.get(key or "")
        if room is None:
            return
        token = fields.get(Field.TOKEN)
        ticket = (
            self._tickets.get(token or "")
            if fields.get(Field.ORIGIN) == self.node
            else None
        )
        if ticket is not None:
            if ticket.reply is None:
                ticket.held = True
                self.reader.hold(stream, (entry_id, fields))
                return
            self._admit(ticket)
            # A newcomer dropped on its way in may have been the room's last member.
            room = self.rooms.get(key or "")
            if room is None:
                return
        events.deliver(
            room, fields, node=self.node, members=self.members, former=self._former
        )

    def _admit(self, ticket: _Ticket) -> None:
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
        ticket = self._tickets[token] = _Ticket(member, token, key, connecting)
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

    # The ChatService interface: membership.

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

    def _ignore_outage(self, failure: Failure) -> None:
        if not failure.check(RedisUnavailableError):
            self.log.failure("a room event was not recorded", failure)

    def disconnect(self, member: ChatMember, reason: str) -> None:
        self._gone.add(member)
        # A newcomer not yet in its room has not been announced either.
        announced = self._cancel_arrival(member) and not any(
            ticket.member is member and ticket.connecting
            for ticket in self._tickets.values()
        )
        key = self._where.pop(member, None)
        if self.members.get(nick_key(member.nick)) is member:
            del self.members[nick_key(member.nick)]
        self._leave_local(member)
        if member.nick:  # Else Redis had yet to name it: it never connected.
            self.log.info("{nick} left ({reason})", nick=member.nick, reason=reason)
        if key is not None and not self.shutting_down:
            kind = Kind.DEPARTURE if announced else ""
            self._leave_redis(member, key, kind, reason)

    def _leave_redis(
        self, member: ChatMember, key: str, kind: str, reason: str
    ) -> None:
        """
        Tell Redis that C{member} left room C{key}: with a departure event (kind
        C{d}), a drop notice (C{n}), or silently (C{""}). While Redis is still
        answering a rename or a move of the member's, that waits for the answer:
        the member then leaves under the nick, and from the room, it ends up with.
        """
        if member in self._changing:
            self._changing[member] = (key, kind, reason)
            return
        text = texts.dropped(member.nick, reason) if kind == Kind.NOTICE else reason
        leaving = self._run(
            scripts.LEAVE,
            self.node,
            member.nick,
            key,
            kind,
            text,
            self.default_key,
            scripts.LOG_KEEP,
        )
        # If Redis is away, the node's re-assertion forgets the member later.
        leaving.addErrback(self._ignore_outage)

    def _overflowed(self, member: Member) -> None:
        local = self.members.get(nick_key(member.nick))
        if local is not None:
            self.drop(local)

    def drop(self, member: ChatMember) -> None:
        if self.members.get(nick_key(member.nick)) is not member:
            return
        self._gone.add(member)
        del self.members[nick_key(member.nick)]
        self._cancel_arrival(member)
        key = self._where.pop(member, None)
        room = member.room
        self._leave_local(member)
        member.evict()
        why = texts.QUEUE_EXCEEDED
        self.log.warn("{nick} dropped: {why}", nick=member.nick, why=why)
        if key is not None and self.available:
            self._leave_redis(member, key, Kind.NOTICE, why)
        elif room is not None and room.members:
            room.post(texts.dropped(member.nick, why))

    def rename(self, member: ChatMember, nick: str) -> Completion:
        if not self._check_rename(member, nick):
            return None
        if not self.available:
            member.send_error(texts.NO_SERVICE)
            return None
        return self._failing(member, texts.NO_SERVICE, self._renamed(member, nick))

    async def _renamed(self, member: ChatMember, nick: str) -> None:
        if await self._rename(member, nick):
            checking = self.accounts.check_nick(member)
            if checking is not None:
                await checking

    # What accounts and operators need of a backend: this node's members, and a
    # room's notices through its log.

    def member_named(self, nick: str) -> ChatMember | None:
        return self.members.get(nick_key(nick))

    def local_members(self) -> Iterable[ChatMember]:
        return self.members.values()

    def notice(self, room: str, line: str) -> None:
        self._run(
            scripts.EVENT, room, scripts.LOG_KEEP, Field.KIND, Kind.MESSAGES,
            Field.TEXT, line,
        ).addErrback(self._ignore_outage)  # fmt: skip

    def guest_nick(self) -> str:
        """A guest nick of random digits: the others are numbered by Redis."""
        return f"guest-{secrets.randbelow(10**9)}"

    async def _rename(self, member: ChatMember, nick: str) -> bool:
        old = member.nick
        # Not announced yet: the others meet the member under the nick it gets. The
        # arrival's timer waits for Redis's answer (but the member still counts as
        # unannounced meanwhile), and then runs on if the nick was taken.
        pending = self._arrivals.get(member)
        due = 0.0
        if pending is not None:
            due = pending.getTime()
            if pending.active():
                pending.cancel()
        notice = "" if pending else texts.renamed(old, nick)
        key = self._where.get(member, self.default_key)
        self._changing[member] = None
        try:
            taken, *holder = await self._run(
                scripts.RENAME,
                self.node,
                old,
                nick,
                key,
                repr(member.connected_since),
                notice,
                scripts.LOG_KEEP,
            )
        except Exception:
            # If Redis did rename it, the node's re-assertion once Redis is back
            # lets the new nick go.
            self._leave_after_change(member)
            raise
        finally:
            if pending is not None and self._arrivals.get(member) is pending:
                self._arrivals[member] = self.clock.callLater(
                    max(0.0, due - self.clock.seconds()), self._arrive, member
                )
        if taken:
            member.nick = nick
        self._leave_after_change(member)
        if not taken:
            member.send_error(texts.nick_taken(nick, holder[0]))
            return False
        if member in self._gone:
            return True
        if self.members.get(nick_key(old)) is member:
            del self.members[nick_key(old)]
        self.members[nick_key(nick)] = member
        self.log.info("{old} is now {new}", old=old, new=nick)
        if pending is not None:
            member.send_text(texts.renamed(old, nick))
            self._arrive(member)
        return True

    def _leave_after_change(self, member: ChatMember, key: str | None = None) -> None:
        """
        A rename or a move is answered: a departure that waited for it goes to
        Redis, from room C{key} if the member is there now.
        """
        departure = self._changing.pop(member, None)
        if departure is not None:
            left, kind, reason = departure
            self._leave_redis(member, key or left, kind, reason)

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

    def _failing(self, member: ChatMember, error: str, work: Any) -> Deferred[None]:
        """Run C{work}; if Redis fails it, tell the member C{error}."""

        def failed(failure: Failure) -> None:
            if not failure.check(RedisUnavailableError):
                self.log.failure("a request to Redis failed", failure)
            member.send_error(error)

        return ensureDeferred(work).addCallbacks(lambda _: None, failed)

    # Messages.

    def _post(self, member: ChatMember, line: str) -> Completion:
        key = self._where.get(member)
        if not self.available or key is None:
            member.send_error(texts.NOT_DELIVERED)
            return None
        self._arrive(member)
        posting: Deferred[None] = Deferred()
        self.outbox.queue(key, Kind.MESSAGES, line, posting)
        size = len(line)
        in_flight = self._in_flight[member] = self._in_flight.get(member, 0) + size

        def answered(result: object) -> object:
            left = self._in_flight.pop(member) - size
            if left:
                self._in_flight[member] = left
            return result

        done = self._failing(member, texts.NOT_DELIVERED, posting.addBoth(answered))
        return done if in_flight >= MAX_IN_FLIGHT else None

    def private(self, member: ChatMember, nick: str, text: str) -> Completion:
        self._arrive(member)
        if not self.available:
            member.send_error(texts.NOT_DELIVERED)
            return None
        stamp = self.timestamp()
        line = texts.private_from(stamp, member.nick, text)

        async def send() -> None:
            holder = await self._run(scripts.PRIVATE, nick, line, scripts.INBOX_KEEP)
            if holder is None:
                member.send_error(texts.no_such_nick(nick))
            else:
                member.send_text(texts.private_to(stamp, holder, text))

        return self._failing(member, texts.NOT_DELIVERED, send())

    def who(self, member: ChatMember) -> Completion:
        self._arrive(member)
        key = self._where.get(member)
        if key is None:
            return None
        if not self.available:
            member.send_error(texts.NO_SERVICE)
            return None

        async def who() -> None:
            listed, total = await queries.members(self._execute, self.keys, key)
            room = member.room
            name = room.name if room else key
            tell_who(member, name, listed, total, self.timestamp)

        return self._failing(member, texts.NO_SERVICE, who())

    def list_rooms(self, member: ChatMember) -> Completion:
        self._arrive(member)
        if not self.available:
            member.send_error(texts.NO_SERVICE)
            return None

        async def rooms() -> None:
            listed, total = await queries.rooms(self._run, self._execute, self.keys)
            tell_rooms(member, listed, total)

        return self._failing(member, texts.NO_SERVICE, rooms())

    def topic(self, member: ChatMember, text: str | None) -> Completion:
        self._arrive(member)
        key = self._where.get(member)
        room = member.room
        if key is None or room is None:
            return None
        if not self.available:
            member.send_error(texts.NO_SERVICE)
            return None
        if text is not None and not self.moderation.may_set_topic(member):
            return None
        if text is None:
            # Asked of Redis, after this member's earlier commands: the node's room
            # learns of a topic only when its reader gets there, maybe later.
            name = room.name

            async def show() -> None:
                topic = await self._execute("GET", self.keys.room_topic(key))
                member.send_text(texts.topic_of(name, topic or ""))

            return self._failing(member, texts.NO_SERVICE, show())
        notice = texts.topic_set(member.nick, room.name, text)
        setting = self._run(
            scripts.EVENT,
            key,
            scripts.LOG_KEEP,
            Field.KIND,
            Kind.TOPIC,
            Field.TEXT,
            notice,
            Field.TOPIC,
            text,
        )
        return self._failing(member, texts.NO_SERVICE, setting)

    def shutdown(self) -> None:
        self.shutting_down = True
        self._cancel_arrivals()
        for waiter in self._waiting:
            waiter.callback(None)
        self._waiting = []
        if self.command.ready:
            retiring = self._run(
                scripts.RETIRE,
                self.node,
                texts.SHUTTING_DOWN,
                self.default_key,
                scripts.LOG_KEEP,
            )
            retiring.addTimeout(RETIRE_TIMEOUT, self.clock)
            self._retiring = retiring.addCallbacks(
                lambda _: None, lambda _: self.log.warn("Redis did not record the stop")
            )
