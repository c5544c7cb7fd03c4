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
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar
from weakref import WeakSet

from twisted.internet.defer import Deferred, ensureDeferred, succeed
from twisted.internet.interfaces import IDelayedCall
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from twisted_tcp.chat import texts
from twisted_tcp.chat.build import DEFAULT_CLUSTER, DEFAULT_HEARTBEAT
from twisted_tcp.chat.cluster import scripts
from twisted_tcp.chat.cluster.address import RedisAddress
from twisted_tcp.chat.cluster.link import Argument, RedisLink, RedisUnavailableError
from twisted_tcp.chat.cluster.reader import StreamReader, stream_id
from twisted_tcp.chat.core import (
    ChatCore,
    ChatMember,
    ChatSettings,
    Completion,
    Member,
    RoomEntry,
    enter_room,
    first_by_nick,
    most_crowded,
    nick_key,
    room_key,
    tell_rooms,
    tell_who,
)
from twisted_tcp.chat.room import Room

#: A node whose heartbeat is this many periods old is lost.
HEARTBEATS_TO_LOSS: Final = 5
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
#: Lines and arrivals sent to Redis in one script at most (see
#: L{RedisChat._send_outbox}).
MAX_POST_BATCH: Final = 500
#: Entries asked of Redis at a time when C{/who} and C{/rooms} go through a room's
#: members or the rooms: however many there are, no answer from Redis is larger.
SCAN_COUNT: Final = 1000

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
    The chat service of one node of a cluster sharing rooms through Redis. The
    parameters not described here are L{LocalChat}'s.

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
    ) -> None:
        super().__init__(settings or ChatSettings(), reactor)
        if not heartbeat > 0:
            raise ValueError("heartbeat must be > 0")
        if not cluster or any(c.isspace() or c == ":" for c in cluster):
            raise ValueError(f"bad cluster name {cluster!r}: no spaces or colons")
        self.address = address
        self.keys = scripts.Keys(cluster)
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
        #: What waits for the end of the reactor turn to go to Redis: per room, a
        #: message ('m', its line) or an arrival ('a', the newcomer's nick), and
        #: what to tell once Redis has it (nobody, for an arrival).
        self._outbox: list[tuple[str, str, str, Deferred[None] | None]] = []
        #: The nodes whose events this node has read (for C{--metrics}).
        self.nodes_seen: set[str] = set()
        self._outbox_call: IDelayedCall | None = None

    # Starting and stopping.

    def startService(self) -> None:
        super().startService()
        self.command = RedisLink(
            self.address,
            reactor=self.clock,
            name=f"{self.node_name} commands",
            on_ready=self._links_changed,
            on_lost=self._links_changed,
            on_refused=self._refused,
        )
        self._reader_link = RedisLink(
            self.address,
            reactor=self.clock,
            name=f"{self.node_name} reader",
            on_ready=self._reader_ready,
            on_lost=self._links_changed,
            on_refused=self._refused,
        )
        self.reader = StreamReader(
            self._reader_link,
            self.command,
            self.keys.inbox(self.node),
            self._entry,
            clock=self.clock,
        )
        self._beat = LoopingCall(self._heartbeat)
        self._beat.clock = self.clock
        self.log.info(
            "cluster {cluster} node {node} on {address}",
            cluster=self.keys.prefix,
            node=self.node,
            address=self.address,
        )
        self.command.start()
        self._reader_link.start()
        self.reader.start()
        self._beat.start(self.heartbeat, now=False)

    async def _stop(self) -> None:
        if self._beat.running:
            self._beat.stop()
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
        self._send_outbox()
        return self.command.eval(script, [], [self.keys.prefix, *args])

    def _execute(self, *command: Argument) -> Deferred[Any]:
        """Send a plain command, after the lines waiting in the outbox."""
        self._send_outbox()
        return self.command.execute(*command)

    def _queue(
        self, key: str, kind: str, text: str, waiter: Deferred[None] | None
    ) -> None:
        """Put a message or an arrival in the outbox (see L{_send_outbox})."""
        self._outbox.append((key, kind, text, waiter))
        if len(self._outbox) >= MAX_POST_BATCH:
            self._send_outbox()
        elif self._outbox_call is None:
            self._outbox_call = self.clock.callLater(0, self._send_outbox)

    @property
    def outbox_depth(self) -> int:
        """How many messages and arrivals wait in the outbox (for C{--metrics})."""
        return len(self._outbox)

    def _send_outbox(self) -> None:
        """
        Send the messages and arrivals queued so far, one script per run of them to
        the same room: the lines of one read of a sender's reach Redis together, and
        so reach every node's reader together, which then writes them to each member
        at once; the arrivals of a join storm cost one script per turn, not each one.
        """
        if self._outbox_call is not None:
            if self._outbox_call.active():
                self._outbox_call.cancel()
            self._outbox_call = None
        outbox, self._outbox = self._outbox, []
        while outbox:
            room = outbox[0][0]
            run = 1
            while run < min(len(outbox), MAX_POST_BATCH) and outbox[run][0] == room:
                run += 1
            batch, outbox = outbox[:run], outbox[run:]
            arguments: list[Argument] = [
                self.keys.prefix, room, self.settings.history, scripts.LOG_KEEP,
                self.node,
            ]  # fmt: skip
            waiters = []
            for _, kind, text, waiter in batch:
                arguments += (kind, text)
                if waiter is not None:
                    waiters.append(waiter)
            posting = self.command.eval(scripts.POST, [], arguments)
            if waiters:
                posting.addCallbacks(
                    _settle, _fail, callbackArgs=(waiters,), errbackArgs=(waiters,)
                )
            else:
                posting.addErrback(self._ignore_outage)

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
            self._lifetime_ms(),
            self.default_key,
            self.default_room,
            scripts.LOG_KEEP,
            *listed,
            "",
            *topics,
        )
        self._former = {nick_key(old) for old in renamed[::2]}
        for old, nick in _groups(renamed, 2):
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

    def _now_available(self) -> None:
        if not (self.command.ready and self._reader_link.ready):
            return
        self.available = True
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

    def _lifetime_ms(self) -> int:
        return int(self.heartbeat * HEARTBEATS_TO_LOSS * 1000)

    def _heartbeat(self) -> None:
        if not self.command.ready or self.shutting_down:
            return
        beat = self._run(
            scripts.HEARTBEAT,
            self.node,
            self._lifetime_ms(),
            self.default_key,
            scripts.LOG_KEEP,
            scripts.LOST_MEMORY,
        )
        beat.addCallbacks(self._beaten, self._beat_failed)

    def _beaten(self, reply: list[Any]) -> None:
        alive, *lost = reply
        for node in lost:
            self.log.warn("node {node} lost: its members were let go", node=node)
        if not alive and self.available:
            self.log.warn("Redis forgot this node: re-asserting its members")
            self.available = False
            # Until that is done, lines are not delivered: members are told so.
            self._tell_everyone(texts.UNAVAILABLE)
            self._reassert()

    def _beat_failed(self, failure: Failure) -> None:
        if not failure.check(RedisUnavailableError):
            self.log.failure("heartbeat failed", failure)

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
            member = self.members.get(fields.get("u", ""))
            if member is not None:
                member.send_text(fields.get("t", ""))
            return
        if "o" in fields:
            self.nodes_seen.add(fields["o"])
        key = self.keys.room_of_log(stream)
        room = self.rooms.get(key or "")
        if room is None:
            return
        token = fields.get("c")
        ticket = (
            self._tickets.get(token or "") if fields.get("o") == self.node else None
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
        if "p" in fields:
            room.population = int(fields["p"])
        kind, text = fields.get("k"), fields.get("t", "")
        if kind == "m":
            # The messages posted together: one line each (see scripts.POST).
            for line in text.split("\n"):
                room.post(line)
        elif kind == "n":
            room.post(text)
        elif kind == "t":
            room.topic = fields.get("v", "")
            room.post(text)
        elif kind == "a":
            nick = fields.get("u", "")
            here = (
                self.members.get(nick_key(nick))
                if fields.get("o") == self.node
                else None
            )
            room.announce_join(nick, exclude=here)
        elif kind == "b":
            self._back(room, fields)
        elif kind == "d":
            nick = fields.get("u", "")
            # This node retired (declared lost, or stopping): its members who are
            # still here did not go anywhere, as far as the others here know.
            here = self.members.get(nick_key(nick))
            mine = here is not None or nick_key(nick) in self._former
            if fields.get("o") != self.node or not mine:
                # A member of this node moving to another room is still in this
                # one until its node admits it there: its departure is the others'.
                room.announce_departure(nick, text, exclude=here)

    def _back(self, room: Room, fields: dict[str, str]) -> None:
        """
        A node's member re-asserted after the node was away (see L{scripts.REASSERT}):
        the others saw it leave (the node was lost), or its nick was taken and it
        has a new one. Its own node's members saw neither: only the rename.
        """
        nick, was = fields.get("u", ""), fields.get("w", "")
        renamed = texts.renamed_while_away(was, nick)
        if fields.get("o") == self.node:
            if nick != was:
                member = self.members.get(nick_key(nick)) or self.members.get(
                    nick_key(was)
                )
                room.post(renamed, exclude=member)
        elif fields.get("l"):
            room.announce_join(nick)
        elif nick != was:
            room.post(renamed)

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
        self._queue(key, "a", member.nick, None)

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
        self.log.info("{nick} left ({reason})", nick=member.nick, reason=reason)
        if key is not None and not self.shutting_down:
            self._leave_redis(member, key, "d" if announced else "", reason)

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
        text = texts.dropped(member.nick, reason) if kind == "n" else reason
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
            self._leave_redis(member, key, "n", why)
        elif room is not None and room.members:
            room.post(texts.dropped(member.nick, why))

    def rename(self, member: ChatMember, nick: str) -> Completion:
        if not self._check_rename(member, nick):
            return None
        if not self.available:
            member.send_error(texts.NO_SERVICE)
            return None
        return self._failing(member, texts.NO_SERVICE, self._rename(member, nick))

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
        self._queue(key, "m", line, posting)
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

        members = self.keys.room_members(key)

        async def page(cursor: str) -> tuple[str, list[tuple[str, float]]]:
            cursor, flat = await self._execute(
                "HSCAN", members, cursor, "COUNT", SCAN_COUNT
            )
            records = (record.split("\t") for record in flat[1::2])
            return cursor, [(nick, float(since)) for nick, _, since in records]

        async def who() -> None:
            total = await self._execute("HLEN", members)
            listed = await _scan(page, first_by_nick, lambda entry: nick_key(entry[0]))
            room = member.room
            name = room.name if room else key
            tell_who(member, name, listed, max(int(total), len(listed)), self.timestamp)

        return self._failing(member, texts.NO_SERVICE, who())

    def list_rooms(self, member: ChatMember) -> Completion:
        self._arrive(member)
        if not self.available:
            member.send_error(texts.NO_SERVICE)
            return None

        total = 0

        async def page(cursor: str) -> tuple[str, list[RoomEntry]]:
            nonlocal total
            cursor, total, *flat = await self._run(scripts.ROOMS, cursor, SCAN_COUNT)
            return cursor, [
                RoomEntry(room, name, int(count), "")
                for room, name, count in _groups(flat, 3)
            ]

        async def rooms() -> None:
            listed = await _scan(page, most_crowded, lambda room: room.key)
            if listed:
                topics = await self._execute(
                    "MGET", *(self.keys.room_topic(room.key) for room in listed)
                )
                listed = [
                    room._replace(topic=topic or "")
                    for room, topic in zip(listed, topics, strict=True)
                ]
            tell_rooms(member, listed, max(int(total), len(listed)))

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
            scripts.EVENT, key, scripts.LOG_KEEP, "k", "t", "t", notice, "v", text
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


def _settle(_: object, waiters: list[Deferred[None]]) -> None:
    for waiter in waiters:
        waiter.callback(None)


def _fail(failure: Failure, waiters: list[Deferred[None]]) -> None:
    for waiter in waiters:
        waiter.errback(failure)


async def _scan(
    page: Callable[[str], Awaitable[tuple[str, list[_Entry]]]],
    best: Callable[[Iterable[_Entry]], list[_Entry]],
    identity: Callable[[_Entry], str],
) -> list[_Entry]:
    """
    The C{best} entries of a Redis scan, read a page at a time from cursor 0 until
    Redis says it is done: only those are kept between pages, however many there
    are. A scan may return an entry twice; it is kept once (see C{identity}).
    """
    kept: list[_Entry] = []
    cursor = "0"
    while True:
        cursor, entries = await page(cursor)
        found = {identity(entry): entry for entry in kept}
        found.update((identity(entry), entry) for entry in entries)
        kept = best(found.values())
        if cursor == "0":
            return kept


def _groups(flat: Sequence[Any], size: int) -> list[tuple[Any, ...]]:
    return [tuple(flat[index : index + size]) for index in range(0, len(flat), size)]
