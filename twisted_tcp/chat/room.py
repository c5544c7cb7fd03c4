"""
A chat room as this process sees it: its members here, its topic, and the delivery of
its lines to those members; and a member's entry into one (L{enter_room}).

Delivery is coalesced: every line posted to a room during one reactor turn reaches each
member in one write, however many senders and notices there were. Joins and leaves of
a large room (over C{announce_limit} members) are not announced one by one but summed
up in one line every L{SUMMARY_PERIOD} seconds, so a join storm of M members costs M
lines to each member at most, not M for every one of them (see
C{docs/chat-protocol.md}, "Large rooms").

A line holding IRC formatting codes (said by an IRC member) is delivered with them to
members whose C{formatting} attribute is true, and without them to the others.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Final

from twisted.internet.interfaces import IDelayedCall, IReactorTime

from twisted_tcp._text import CRLF, encode, has_formatting, strip_formatting
from twisted_tcp.chat import texts
from twisted_tcp.chat.interfaces import ChatMember, Member
from twisted_tcp.chat.names import room_key

#: Seconds between two summary lines of a room above its announce limit.
SUMMARY_PERIOD: Final = 10.0
#: Bytes of posted lines that are delivered without waiting for the end of the reactor
#: turn: one delivery is what a member's transport may take past its own buffer before
#: it says that member stopped reading.
MAX_BATCH: Final = 64 * 1024


class Room:
    """
    One room's members in this process, with coalesced delivery to them.

    @param name: the room's name as first used (C{#Rust}); see L{room_key}.
    @param clock: schedules the end-of-turn delivery and the summary lines.
    @param encoding: how lines are encoded on the wire (once for all members).
    @param announce_limit: above this many members, joins and leaves are summed up
        instead of announced; 0 announces always.
    @param overflowed: called with a member whose queue passed its bound during a
        delivery; it must remove that member from the room (and evict it).
    """

    def __init__(
        self,
        name: str,
        *,
        clock: IReactorTime,
        encoding: str,
        announce_limit: int,
        overflowed: Callable[[Member], None],
    ) -> None:
        self.name = name
        self.key = room_key(name)
        self.topic = ""
        self.members: dict[Member, None] = {}
        self._clock = clock
        self._encoding = encoding
        self._announce_limit = announce_limit
        self._overflowed = overflowed
        self._pending: list[tuple[bytes, bytes | None, Member | None]] = []
        self._pending_bytes = 0
        self._flushing = False
        self._delivery: IDelayedCall | None = None
        self._joined = 0
        self._left = 0
        self._summary: IDelayedCall | None = None
        #: How many members the room has in all, when it spans several processes
        #: (a cluster); C{None}: just the members here.
        self.population: int | None = None

    def __len__(self) -> int:
        return len(self.members)

    def add(self, member: Member) -> None:
        """
        Make C{member} a member here. Lines posted before it joined are delivered
        first, without it: it sees them in the history instead.
        """
        self.flush()
        self.members[member] = None
        member.room = self

    def remove(self, member: Member) -> None:
        """
        Stop delivering to C{member}. Lines posted before it left still reach it,
        except while a delivery is under way (it is being thrown out).
        """
        if not self._flushing:
            self.flush()
        if member not in self.members:
            return  # Not a member, or thrown out by that very delivery.
        del self.members[member]
        member.room = None

    # Delivery.

    def encode(self, text: str) -> bytes:
        """A line as it goes on the wire: encoded once, ended with CRLF."""
        return encode(text, self._encoding) + CRLF

    def post(self, text: str, exclude: Member | None = None) -> None:
        """
        Send a line to every member but C{exclude}, by the end of this reactor turn.
        """
        if has_formatting(text):
            plain = self.encode(strip_formatting(text))
            self.post_encoded(plain, exclude, rich=self.encode(text))
        else:
            self.post_encoded(self.encode(text), exclude)

    def post_encoded(
        self, line: bytes, exclude: Member | None = None, rich: bytes | None = None
    ) -> None:
        """
        Send an encoded line to every member but C{exclude} (see L{post}); C{rich}
        is the line with its formatting codes, for the members that show them.
        """
        self._pending.append((line, rich, exclude))
        self._pending_bytes += len(line)
        if self._pending_bytes >= MAX_BATCH:
            self.flush()
        elif self._delivery is None:
            self._delivery = self._clock.callLater(0, self.flush)

    def flush(self) -> None:
        """
        Deliver the lines posted so far to every member, in one write each. Members
        whose queue overflows are handed to C{overflowed}, which may post more lines
        (a drop notice): those are delivered in the same loop, so a cascade of drops
        never recurses.
        """
        if self._flushing:
            return
        self._flushing = True
        try:
            while self._pending:
                pending = self._pending
                self._pending = []
                self._pending_bytes = 0
                for member in self._deliver(pending):
                    self._overflowed(member)
        finally:
            # Even if a member's delivery raised: a delivery still marked as
            # scheduled would never be scheduled again, and the room fall silent.
            self._flushing = False
            if self._delivery is not None:
                if self._delivery.active():
                    self._delivery.cancel()
                self._delivery = None

    def _deliver(
        self, pending: list[tuple[bytes, bytes | None, Member | None]]
    ) -> list[Member]:
        """
        Write C{pending} to every member, each line joined into one write, leaving out
        each line's excluded member. Returns the members whose queue overflowed.
        """
        plain = _Batch([(line, excluded) for line, _, excluded in pending])
        rich = plain
        if any(formatted is not None for _, formatted, _ in pending):
            rich = _Batch([(f or line, excluded) for line, f, excluded in pending])
        overflowing = []
        for member in self.members:
            batch = rich if getattr(member, "formatting", False) else plain
            data = batch.for_member(member)
            if data and not member.deliver(data):
                overflowing.append(member)
        return overflowing

    # Announcements.

    def size(self) -> int:
        """How many members the room has (see L{population})."""
        return len(self.members) if self.population is None else self.population

    def _summing_up(self) -> bool:
        return 0 < self._announce_limit < self.size()

    def announce_arrival(self, member: Member) -> None:
        """
        Tell the other members that C{member} joined; or, in a large room, count it
        for the next summary.
        """
        self.announce_join(member.nick, exclude=member)

    def announce_join(self, nick: str, exclude: Member | None = None) -> None:
        """
        Tell the members but C{exclude} that C{nick} joined (it may be a member of
        another process), or count it for the next summary.
        """
        if self._summing_up():
            self._joined += 1
            self._schedule_summary()
        else:
            self.post(texts.joined(nick, self.name), exclude=exclude)

    def announce_departure(
        self, nick: str, reason: str, exclude: Member | None = None
    ) -> None:
        """
        Tell the members but C{exclude} that C{nick} left, or count it for the
        summary.
        """
        if self._summing_up():
            self._left += 1
            self._schedule_summary()
        else:
            self.post(texts.left(nick, self.name, reason), exclude=exclude)

    def _schedule_summary(self) -> None:
        if self._summary is None:
            self._summary = self._clock.callLater(SUMMARY_PERIOD, self._send_summary)

    def _send_summary(self) -> None:
        self._summary = None
        joined, left, self._joined, self._left = self._joined, self._left, 0, 0
        if joined or left:
            self.post(
                texts.summary(joined, left, self.name, SUMMARY_PERIOD, self.size())
            )

    def close(self) -> None:
        """The room is gone: deliver what is pending and stop every timer."""
        self.flush()
        if self._summary is not None and self._summary.active():
            self._summary.cancel()
        self._summary = None


class _Batch:
    """
    Lines joined into one write. An excluded member's bytes are cut out as it is
    served: a join storm excludes a member per line, and a copy of the batch for
    each of them at once would cost their number times its size.
    """

    def __init__(self, lines: list[tuple[bytes, Member | None]]) -> None:
        self.everything = b"".join(line for line, _ in lines)
        self.spans: dict[Member, list[tuple[int, int]]] = {}
        end = 0
        for line, excluded in lines:
            start, end = end, end + len(line)
            if excluded is not None:
                self.spans.setdefault(excluded, []).append((start, end))

    def for_member(self, member: Member) -> bytes:
        cut = self.spans.get(member)
        if cut is None:
            return self.everything
        return _without(memoryview(self.everything), cut)


def _without(batch: memoryview, cut: list[tuple[int, int]]) -> bytes:
    """C{batch} with the (ascending, disjoint) C{[start, end)} spans C{cut} left out."""
    kept = []
    position = 0
    for start, end in cut:
        kept.append(batch[position:start])
        position = end
    kept.append(batch[position:])
    return b"".join(kept)


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
    topic = [texts.topic_of(room.name, room.topic)] if room.topic else []
    for line in (*greeting, *topic, *history):
        if member.room is not room:
            return False
        member.send_text(line)
    return member.room is room
