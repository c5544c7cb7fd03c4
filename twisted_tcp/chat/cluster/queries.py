"""
What C{/who} and C{/rooms} ask of Redis: the entries of a room's members or of the
rooms, read a page at a time (C{HSCAN}), keeping only those the answer lists (see
L{twisted_tcp.chat.listing}), however many there are.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Final, TypeVar

from twisted_tcp.chat.cluster import scripts
from twisted_tcp.chat.cluster.schema import Keys
from twisted_tcp.chat.listing import RoomEntry, first_by_nick, most_crowded
from twisted_tcp.chat.names import nick_key

#: Entries asked of Redis at a time: however many there are, no answer from Redis
#: is larger.
SCAN_COUNT: Final = 1000

_Entry = TypeVar("_Entry")
#: Sends a command (or runs a script, with its arguments) to Redis after what the
#: node sent before.
Command = Callable[..., Awaitable[Any]]


async def members(
    execute: Command, keys: Keys, room: str
) -> tuple[list[tuple[str, float]], int]:
    """The listed members of C{room} (nick, connected since), and how many it has."""
    listed_in = keys.room_members(room)

    async def page(cursor: str) -> tuple[str, list[tuple[str, float]]]:
        cursor, flat = await execute("HSCAN", listed_in, cursor, "COUNT", SCAN_COUNT)
        records = (record.split("\t") for record in flat[1::2])
        return cursor, [(nick, float(since)) for nick, _, since in records]

    total = await execute("HLEN", listed_in)
    listed = await _scan(page, first_by_nick, lambda entry: nick_key(entry[0]))
    return listed, max(int(total), len(listed))


async def rooms(
    run: Command, execute: Command, keys: Keys
) -> tuple[list[RoomEntry], int]:
    """The listed rooms, with their topics, and how many rooms there are."""
    total = 0

    async def page(cursor: str) -> tuple[str, list[RoomEntry]]:
        nonlocal total
        cursor, total, *flat = await run(scripts.ROOMS, cursor, SCAN_COUNT)
        return cursor, [
            RoomEntry(room, name, int(count), "")
            for room, name, count in groups(flat, 3)
        ]

    listed = await _scan(page, most_crowded, lambda room: room.key)
    if listed:
        topics = await execute("MGET", *(keys.room_topic(room.key) for room in listed))
        listed = [
            room._replace(topic=topic or "")
            for room, topic in zip(listed, topics, strict=True)
        ]
    return listed, max(int(total), len(listed))


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


def groups(flat: Sequence[Any], size: int) -> list[tuple[Any, ...]]:
    """A flat reply of Redis cut into tuples of C{size}."""
    return [tuple(flat[index : index + size]) for index in range(0, len(flat), size)]
