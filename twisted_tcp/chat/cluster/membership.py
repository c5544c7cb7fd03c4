"""
A member of a node leaving (its connection ended, or it was dropped) and claiming a
nick (for the core's C{/nick}): each is a script in Redis, and a departure waits for
the answer to a rename or a move still under way, so that the member leaves under
the nick, and from the room, it ends up with. L{Membership} is that part of
L{RedisChat}.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred, ensureDeferred

from twisted_tcp.chat import texts
from twisted_tcp.chat.cluster import scripts
from twisted_tcp.chat.cluster.schema import Kind
from twisted_tcp.chat.interfaces import ChatMember
from twisted_tcp.chat.names import nick_key

if TYPE_CHECKING:
    from weakref import WeakSet

    from twisted.internet.interfaces import IDelayedCall, IReactorTime
    from twisted.logger import Logger
    from twisted.python.failure import Failure

    from twisted_tcp.chat.cluster.admission import Ticket


class Membership:
    """
    Departures and nick claims of a node's members. (A mixin: the node's state it
    reads is declared below.)
    """

    log: Logger
    clock: IReactorTime
    node: str
    default_key: str
    available: bool
    shutting_down: bool
    members: dict[str, ChatMember]
    _arrivals: dict[ChatMember, IDelayedCall]
    _where: dict[ChatMember, str]
    _gone: WeakSet[ChatMember]
    _tickets: dict[str, Ticket]
    _changing: dict[ChatMember, tuple[str, str, str] | None]
    _run: Callable[..., Deferred[Any]]
    _arrive: Callable[[ChatMember], None]
    _cancel_arrival: Callable[[ChatMember], bool]
    _leave_local: Callable[[ChatMember], None]
    _ignore_outage: Callable[[Failure], None]

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

    def _claim_nick(
        self, member: ChatMember, nick: str, notice: str
    ) -> Deferred[str | None]:
        return ensureDeferred(self._rename(member, nick, notice))

    async def _rename(self, member: ChatMember, nick: str, notice: str) -> str | None:
        old = member.nick
        # The arrival's timer of a member not announced yet waits for Redis's
        # answer (but the member still counts as unannounced meanwhile), and then
        # runs on if the nick was taken.
        pending = self._arrivals.get(member)
        due = 0.0
        if pending is not None:
            due = pending.getTime()
            if pending.active():
                pending.cancel()
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
            holder_nick: str = holder[0]
            return holder_nick
        if member not in self._gone:
            if self.members.get(nick_key(old)) is member:
                del self.members[nick_key(old)]
            self.members[nick_key(nick)] = member
        return None

    def _leave_after_change(self, member: ChatMember, key: str | None = None) -> None:
        """
        A rename or a move is answered: a departure that waited for it goes to
        Redis, from room C{key} if the member is there now.
        """
        departure = self._changing.pop(member, None)
        if departure is not None:
            left, kind, reason = departure
            self._leave_redis(member, key or left, kind, reason)
