"""
The answers to C{/who} and C{/rooms}, whichever backend gathers their entries:
capped at L{MAX_LISTED} entries, so that they stay small whatever the size of the
chat.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Final, NamedTuple

from twisted_tcp.chat import texts
from twisted_tcp.chat.names import nick_key

if TYPE_CHECKING:
    from twisted_tcp.chat.interfaces import ChatMember

#: Most entries C{/who} and C{/rooms} list; a notice after the listing says how many
#: more there are. Their answers thus stay small whatever the size of the chat: an
#: asker is never dropped for its send queue by the answer to its own question.
#: The number in a listing's first line is how many lines follow, always.
MAX_LISTED: Final = 1000
#: Characters of a room's topic that C{/rooms} shows.
LISTED_TOPIC: Final = 80


def first_by_nick(members: Iterable[tuple[str, float]]) -> list[tuple[str, float]]:
    """
    The L{MAX_LISTED} first of C{members} (nick, connected since) in the order
    C{/who} lists them: by nick, ignoring case.
    """
    return heapq.nsmallest(MAX_LISTED, members, key=lambda entry: nick_key(entry[0]))


def tell_who(
    member: ChatMember,
    room: str,
    listed: list[tuple[str, float]],
    total: int,
    timestamp: Callable[[float], str],
) -> None:
    """
    Answer C{/who}: a count of the lines that follow, the C{listed} members (see
    L{first_by_nick}) of C{room}, and how many of its C{total} are not listed.
    """
    member.send_text(texts.who_header(room, len(listed)))
    for nick, since in listed:
        member.send_text(texts.who_entry(nick, timestamp(since)))
    _tell_unlisted(member, total - len(listed), "")


class RoomEntry(NamedTuple):
    """A room as C{/rooms} sees it."""

    key: str
    name: str
    population: int
    topic: str


def most_crowded(rooms: Iterable[RoomEntry]) -> list[RoomEntry]:
    """The L{MAX_LISTED} most crowded of C{rooms} (of equal ones, the first by key)."""
    return heapq.nsmallest(
        MAX_LISTED, rooms, key=lambda room: (-room.population, room.key)
    )


def tell_rooms(member: ChatMember, listed: list[RoomEntry], total: int) -> None:
    """
    Answer C{/rooms}: a count of the lines that follow, the C{listed} rooms (see
    L{most_crowded}) by name, and how many of C{total} rooms are not listed.
    """
    member.send_text(texts.rooms_header(len(listed)))
    for room in sorted(listed, key=lambda room: room.key):
        member.send_text(
            texts.rooms_entry(room.name, room.population, _excerpt(room.topic))
        )
    _tell_unlisted(member, total - len(listed), " rooms")


def _tell_unlisted(member: ChatMember, count: int, what: str) -> None:
    """After a listing cut at L{MAX_LISTED}: how many entries it left out."""
    if count > 0:
        member.send_text(texts.unlisted(count, what))


def _excerpt(topic: str) -> str:
    """A topic as C{/rooms} shows it: at most L{LISTED_TOPIC} characters."""
    if len(topic) <= LISTED_TOPIC:
        return topic
    return topic[: LISTED_TOPIC - 3] + "..."
