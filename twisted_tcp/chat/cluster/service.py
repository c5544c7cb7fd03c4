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
from collections.abc import Callable
from typing import Any, Final, TypeVar
from weakref import WeakSet

from twisted.internet.defer import Deferred, ensureDeferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from twisted_tcp.chat import texts
from twisted_tcp.chat.build import DEFAULT_CLUSTER, DEFAULT_HEARTBEAT
from twisted_tcp.chat.cluster import events, node_scripts, queries, scripts
from twisted_tcp.chat.cluster.address import RedisAddress
from twisted_tcp.chat.cluster.admission import Admission, Ticket
from twisted_tcp.chat.cluster.availability import Availability
from twisted_tcp.chat.cluster.link import Argument, RedisLink, RedisUnavailableError
from twisted_tcp.chat.cluster.membership import Membership
from twisted_tcp.chat.cluster.moderated import Moderated
from twisted_tcp.chat.cluster.outbox import Outbox
from twisted_tcp.chat.cluster.presence import Presence
from twisted_tcp.chat.cluster.reader import StreamReader
from twisted_tcp.chat.cluster.schema import Field, Keys, Kind
from twisted_tcp.chat.cluster.state import RedisState
from twisted_tcp.chat.core import ChatCore
from twisted_tcp.chat.interfaces import ChatMember, Completion
from twisted_tcp.chat.listing import RoomEntry
from twisted_tcp.chat.names import room_key
from twisted_tcp.chat.passwords import PasswordHasher
from twisted_tcp.chat.room import Room
from twisted_tcp.chat.settings import ChatSettings
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


class RedisChat(Availability, Admission, Moderated, Membership, ChatCore):
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
    @param operators: the accounts that are server operators.
    @param hasher: hashes passwords (default: scrypt in the reactor's threads).
    @param nick_grace: seconds whoever takes a registered nick has to identify.
    """

    log = Logger()
    outages = (RedisUnavailableError,)

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
        self.records = RedisState(self._execute, Keys(cluster), heartbeat)
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
        self.available = False
        #: The nodes whose events this node has read (for C{--metrics}).
        self.nodes_seen: set[str] = set()
        self._where: dict[ChatMember, str] = {}
        self._tickets: dict[str, Ticket] = {}
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

    # Rooms here.

    def _local_room(self, key: str, name: str) -> Room:
        room = self.rooms.get(key)
        if room is None:
            room = self.rooms[key] = self._new_room(name)
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
        if Field.ORIGIN in fields:
            self.nodes_seen.add(fields[Field.ORIGIN])
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

    def _ignore_outage(self, failure: Failure) -> None:
        if not failure.check(RedisUnavailableError):
            self.log.failure("a room event was not recorded", failure)

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

    def _deliver_private(self, nick: str, line: str) -> Deferred[str | None]:
        return self._run(scripts.PRIVATE, nick, line, scripts.INBOX_KEEP)

    # What the core asks of the rooms: asked of Redis, after this node's earlier
    # commands (a node's room learns of a change only when its reader gets there).

    def _room_key_of(self, member: ChatMember) -> str | None:
        return self._where.get(member)

    def _members_of(self, key: str) -> Deferred[tuple[list[tuple[str, float]], int]]:
        return ensureDeferred(queries.members(self._execute, self.keys, key))

    def _rooms(self) -> Deferred[tuple[list[RoomEntry], int]]:
        return ensureDeferred(queries.rooms(self._run, self._execute, self.keys))

    def _read_topic(self, key: str) -> Deferred[str]:
        topic = self._execute("GET", self.keys.room_topic(key))
        return topic.addCallback(lambda topic: topic or "")

    def _set_topic(self, key: str, topic: str, notice: str) -> Deferred[Any]:
        return self._run(
            scripts.EVENT, key, scripts.LOG_KEEP, Field.KIND, Kind.TOPIC,
            Field.TEXT, notice, Field.TOPIC, topic,
        )  # fmt: skip

    def shutdown(self) -> None:
        self.shutting_down = True
        self._cancel_arrivals()
        for waiter in self._waiting:
            waiter.callback(None)
        self._waiting = []
        if self.command.ready:
            retiring = self._run(
                node_scripts.RETIRE,
                self.node,
                texts.SHUTTING_DOWN,
                self.default_key,
                scripts.LOG_KEEP,
            )
            retiring.addTimeout(RETIRE_TIMEOUT, self.clock)
            self._retiring = retiring.addCallbacks(
                lambda _: None, lambda _: self.log.warn("Redis did not record the stop")
            )
