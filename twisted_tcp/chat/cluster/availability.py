"""
Whether a node can serve its members, and what it does when that changes: Redis
refusing it, Redis away (its members are told, newcomers wait) and back (the node
re-asserts what it knows: its heartbeat, its members' nicks and rooms, the rooms'
topics). L{Availability} is that part of L{RedisChat} (see C{docs/cluster.md},
"What each failure does").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred, ensureDeferred, succeed
from twisted.python.failure import Failure

from twisted_tcp.chat import texts
from twisted_tcp.chat.cluster import node_scripts, queries, scripts
from twisted_tcp.chat.cluster.link import Argument, RedisLink, RedisUnavailableError
from twisted_tcp.chat.interfaces import ChatMember
from twisted_tcp.chat.names import nick_key
from twisted_tcp.chat.room import Room

if TYPE_CHECKING:
    from weakref import WeakSet

    from twisted.internet.interfaces import IReactorTime
    from twisted.logger import Logger

    from twisted_tcp.chat.cluster.address import RedisAddress
    from twisted_tcp.chat.cluster.admission import Ticket
    from twisted_tcp.chat.cluster.presence import Presence
    from twisted_tcp.chat.cluster.reader import StreamReader


class Availability:
    """
    A node's availability: what L{RedisChat} does as Redis comes and goes. (A
    mixin: the node's state it reads is declared below.)
    """

    log: Logger
    clock: IReactorTime
    address: RedisAddress
    node: str
    heartbeat: float
    default_key: str
    default_room: str
    command: RedisLink
    _reader_link: RedisLink
    reader: StreamReader
    presence: Presence
    members: dict[str, ChatMember]
    rooms: dict[str, Room]
    shutting_down: bool
    available: bool
    refused: str | None
    on_refused: Callable[[str], object]
    _where: dict[ChatMember, str]
    _gone: WeakSet[ChatMember]
    _tickets: dict[str, Ticket]
    _waiting: list[Deferred[None]]
    _reasserting: bool
    _was_available: bool
    _told_unreachable: bool
    _former: set[str]
    _run: Callable[..., Deferred[Any]]
    _leave_redis: Callable[[ChatMember, str, str, str], None]
    _cancel_arrival: Callable[[ChatMember], bool]
    _admit_if_lost: Callable[[Ticket], None]

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
            node_scripts.REASSERT,
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
