"""
Tests for L{twisted_tcp.chat.room}: coalesced delivery, exclusion, eviction on
overflow, announcements and summaries, without sockets or protocols.
"""

from __future__ import annotations

import tracemalloc

import pytest
from twisted.internet.task import Clock

from twisted_tcp.chat.interfaces import Member
from twisted_tcp.chat.room import MAX_BATCH, SUMMARY_PERIOD, Room


class FakeMember:
    """A member that records each delivery and can be told to overflow."""

    def __init__(self, nick: str, room_limit: int | None = None) -> None:
        self.nick = nick
        self.room: Room | None = None
        self.connected_since = 0.0
        self.writes: list[bytes] = []
        self.limit = room_limit
        self.evicted = False

    def deliver(self, data: bytes) -> bool:
        self.writes.append(data)
        return self.limit is None or sum(map(len, self.writes)) <= self.limit

    def evict(self) -> None:
        self.evicted = True

    def lines(self) -> list[str]:
        return b"".join(self.writes).decode().split("\r\n")[:-1]


class RoomHarness:
    """A room on a test clock, with members that record what they get."""

    def __init__(self, announce_limit: int = 200) -> None:
        self.clock = Clock()
        self.overflowed: list[Member] = []
        self.room = Room(
            "#Test",
            clock=self.clock,
            encoding="utf-8",
            announce_limit=announce_limit,
            overflowed=self._overflowed,
        )

    def _overflowed(self, member: Member) -> None:
        self.overflowed.append(member)
        self.room.remove(member)
        member.evict()
        self.room.post(f"* {member.nick} dropped")

    def add(self, count: int, limit: int | None = None) -> list[FakeMember]:
        members = [FakeMember(f"m{n}", limit) for n in range(count)]
        for member in members:
            self.room.add(member)
        return members

    def turn(self) -> None:
        """End the reactor turn: what was posted is delivered."""
        self.clock.advance(0)


@pytest.fixture
def harness() -> RoomHarness:
    return RoomHarness()


def test_posts_wait_for_the_end_of_the_turn(harness: RoomHarness) -> None:
    """Lines posted in one turn reach each member in one write, in order."""
    alice, bob = harness.add(2)
    for text in ("one", "two", "three"):
        harness.room.post(text)
    assert alice.writes == []
    harness.turn()
    assert alice.writes == bob.writes == [b"one\r\ntwo\r\nthree\r\n"]
    assert harness.clock.getDelayedCalls() == []


def test_excluded_member_misses_only_its_line(harness: RoomHarness) -> None:
    """A line posted with an exclusion skips that member; the rest is one write."""
    alice, bob = harness.add(2)
    harness.room.post("before")
    harness.room.post("alice arrived", exclude=alice)
    harness.room.post("after")
    harness.turn()
    assert alice.writes == [b"before\r\nafter\r\n"]
    assert bob.writes == [b"before\r\nalice arrived\r\nafter\r\n"]


def test_large_batch_goes_out_at_once(harness: RoomHarness) -> None:
    """Once MAX_BATCH bytes are pending they are delivered without waiting."""
    (alice,) = harness.add(1)
    line = "x" * 1000
    for _ in range(MAX_BATCH // 1002 + 1):
        harness.room.post(line)
    assert len(alice.writes) == 1
    assert len(alice.writes[0]) >= MAX_BATCH


def test_overflowing_member_is_handed_over_and_others_hear(
    harness: RoomHarness,
) -> None:
    """A member whose queue overflows is handed to the room's owner, and the drop
    notice it posts reaches the others in the same delivery."""
    (slow,) = harness.add(1, limit=10)
    (fast,) = harness.add(1)
    harness.room.post("a line longer than ten bytes")
    harness.turn()
    assert harness.overflowed == [slow]
    assert slow.evicted and slow not in harness.room.members
    assert fast.lines() == ["a line longer than ten bytes", "* m0 dropped"]


def test_newcomer_does_not_get_lines_posted_before_it_joined(
    harness: RoomHarness,
) -> None:
    """Lines pending when a member joins go to the earlier members only."""
    (alice,) = harness.add(1)
    harness.room.post("before")
    bob = FakeMember("bob")
    harness.room.add(bob)
    harness.room.post("after")
    harness.turn()
    assert alice.lines() == ["before", "after"]
    assert bob.lines() == ["after"]


def test_member_that_leaves_gets_what_was_posted_before(harness: RoomHarness) -> None:
    """A member that leaves still gets the lines posted before it left."""
    alice, bob = harness.add(2)
    harness.room.post("goodbye soon")
    harness.room.remove(alice)
    harness.room.post("after")
    harness.turn()
    assert alice.lines() == ["goodbye soon"]
    assert bob.lines() == ["goodbye soon", "after"]
    assert alice.room is None


def test_arrivals_announced_below_the_limit(harness: RoomHarness) -> None:
    """In a small room each join and leave is announced, the newcomer excluded."""
    (alice,) = harness.add(1)
    bob = FakeMember("bob")
    harness.room.add(bob)
    harness.room.announce_arrival(bob)
    harness.room.remove(bob)
    harness.room.announce_departure("bob", "quit")
    harness.turn()
    assert alice.lines() == ["* bob joined #Test", "* bob left #Test (quit)"]
    assert bob.lines() == []


def test_large_room_sums_up_joins_and_leaves() -> None:
    """Above the announce limit, joins and leaves become one summary per period."""
    harness = RoomHarness(announce_limit=3)
    watcher, *_ = harness.add(3)
    newcomers = [FakeMember(f"new{n}") for n in range(5)]
    for newcomer in newcomers:
        harness.room.add(newcomer)
        harness.room.announce_arrival(newcomer)
    for leaver in newcomers[:2]:
        harness.room.remove(leaver)
        harness.room.announce_departure(leaver.nick, "quit")
    harness.turn()
    assert watcher.lines() == []
    harness.clock.advance(SUMMARY_PERIOD)
    assert watcher.lines() == ["* 5 joined, 2 left #Test in the last 10 s; 6 here"]
    harness.clock.advance(SUMMARY_PERIOD * 3)
    assert len(watcher.writes) == 1  # Nothing happened since: no more summaries.


def test_announce_limit_zero_always_announces() -> None:
    """With an announce limit of 0, every join is announced, whatever the size."""
    harness = RoomHarness(announce_limit=0)
    watcher, *_ = harness.add(500)
    newcomer = FakeMember("late")
    harness.room.add(newcomer)
    harness.room.announce_arrival(newcomer)
    harness.turn()
    assert watcher.lines() == ["* late joined #Test"]


def test_close_stops_the_summary_timer() -> None:
    """A closed room leaves no timer behind."""
    harness = RoomHarness(announce_limit=1)
    harness.add(2)
    harness.room.announce_departure("someone", "quit")
    harness.room.close()
    assert harness.clock.getDelayedCalls() == []


def join_storm(harness: RoomHarness, count: int, turns: bool) -> list[FakeMember]:
    """C{count} members join, announced, all in one turn or each in its own."""
    members = []
    for n in range(count):
        member = FakeMember(f"m{n}")
        harness.room.add(member)
        harness.room.announce_arrival(member)
        members.append(member)
        if turns:
            harness.turn()
    return members


@pytest.mark.parametrize("count", [1000, 2000])
def test_join_storm_writes_are_bounded(count: int) -> None:
    """
    Past the announce limit a join costs no write at all: writes stop growing with
    the square of the members.
    """
    harness = RoomHarness()
    members = join_storm(harness, count, turns=False)
    harness.turn()
    harness.clock.advance(SUMMARY_PERIOD)
    writes = sum(len(member.writes) for member in members)
    # Up to 200 members, each join is announced (in one write per member per turn,
    # since add() delivers pending lines first); then one summary for everyone.
    assert writes <= 200 * 200 + count


def test_join_storm_bytes_grow_linearly() -> None:
    """Doubling the members of a join storm doubles the bytes sent, not more."""

    def storm_bytes(count: int) -> int:
        harness = RoomHarness()
        members = join_storm(harness, count, turns=True)
        harness.clock.advance(SUMMARY_PERIOD)
        for member in members:
            harness.room.remove(member)
            harness.room.announce_departure(member.nick, "quit")
            harness.turn()
        harness.clock.advance(SUMMARY_PERIOD)
        return sum(len(write) for member in members for write in member.writes)

    small, large = storm_bytes(2000), storm_bytes(4000)
    assert large < 2.2 * small


class CountingMember(FakeMember):
    """A member that keeps only how many bytes it was sent."""

    received = 0

    def deliver(self, data: bytes) -> bool:
        self.received += len(data)
        return True


def test_many_exclusions_in_one_turn_copy_nothing_at_once() -> None:
    """
    When many members join in one turn, each one's copy of the batch without its own
    join notice is made as it is delivered: never all of them at once (1,000 copies
    of a 20 kB batch would be 20 MB).
    """
    harness = RoomHarness(announce_limit=0)
    members = [CountingMember(f"m{n:03}") for n in range(1000)]
    for member in members:
        harness.room.add(member)
    for member in members:
        harness.room.announce_arrival(member)
    tracemalloc.start()
    try:
        harness.turn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    line = len(b"* m000 joined #Test\r\n")
    assert [member.received for member in members] == [999 * line] * 1000
    assert peak < 1_000_000


class FailingMember(FakeMember):
    """A member whose first delivery raises, as a broken transport might."""

    failed = False

    def deliver(self, data: bytes) -> bool:
        if not self.failed:
            self.failed = True
            raise RuntimeError("broken transport")
        return super().deliver(data)


def test_a_failing_delivery_does_not_stop_the_room(harness: RoomHarness) -> None:
    """An exception from one member's delivery (logged by the reactor) loses that
    turn's lines at most: later turns are delivered as usual."""
    (broken,) = [FailingMember("broken")]
    harness.room.add(broken)
    (alice,) = harness.add(1)
    harness.room.post("lost")
    with pytest.raises(RuntimeError):
        harness.turn()
    harness.room.post("delivered")
    harness.turn()
    assert alice.lines()[-1] == "delivered"
    assert broken.lines() == ["delivered"]
    assert harness.clock.getDelayedCalls() == []
