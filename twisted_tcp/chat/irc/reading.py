"""
What a line of the chat's catalogue (L{twisted_tcp.chat.texts}) says, as an event an
IRC member can show in its own terms: C{[T] <ann> hi} is a L{Said} by C{ann}.

Each pattern is made from the catalogue's own formatter, called with markers where
its fields go, so that a text is still written in one place. Only the chat writes the
start of a line: what a member says comes after a stamp and a nick, and a stamp
holds no C{]} (see L{stamp_problem}), so no member's text can be read as another
nick's line or as the server's.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final, NamedTuple

from twisted_tcp.chat import texts

_NICK: Final = r"[A-Za-z][A-Za-z0-9_-]{0,29}"
_ROOM: Final = r"#[A-Za-z0-9_-]{1,30}"
_NUMBER: Final = r"\d+"
#: What each field of a line may be, by its name (a name starting with C{_} is a
#: field the event leaves out).
_FIELDS: Final = {
    "stamp": r"[^\]]*",
    "nick": _NICK,
    "target": r".*",
    "old": _NICK,
    "new": _NICK,
    "room": _ROOM,
    "population": _NUMBER,
    "more": _NUMBER,
    "_count": _NUMBER,
    "text": r".*",
    "reason": r".*",
    "topic": r".*",
    "_since": r".*",
    "_holder": _NICK,
    "_what": r"(?: rooms)?",
}
#: The fields that are numbers.
_INTEGERS: Final = frozenset({"population", "more"})


def _pattern(formatter: Callable[..., str], *names: str) -> tuple[str, list[str]]:
    """A regular expression of the lines C{formatter} makes, and its fields' names."""
    markers = [f"\0{index}\0" for index in range(len(names))]
    pattern = re.escape(formatter(*markers))
    for name, marker in zip(names, markers, strict=True):
        pattern = pattern.replace(re.escape(marker), f"(?P<{name}>{_FIELDS[name]})")
    return pattern + r"\Z", list(names)


class _Table:
    """
    Several kinds of line, read with one regular expression: each kind is one of its
    alternatives, so that a line is matched once, not once per kind.
    """

    def __init__(self, kinds: list[tuple[tuple[str, list[str]], type]]) -> None:
        alternatives = []
        self._kinds = []
        for index, ((pattern, names), kind) in enumerate(kinds):
            for name in names:
                pattern = pattern.replace(f"(?P<{name}>", f"(?P<f{index}_{name}>")
            alternatives.append(f"(?P<k{index}>{pattern})")
            fields = [(f"f{index}_{name}", name) for name in names if name[0] != "_"]
            self._kinds.append((kind, fields))
        self._pattern = re.compile("|".join(alternatives))

    def read(self, line: str) -> tuple[type, dict[str, object]] | None:
        """The kind of C{line} and its fields, or C{None} if it is none of them."""
        match = self._pattern.match(line)
        if match is None or match.lastgroup is None:
            return None
        kind, fields = self._kinds[int(match.lastgroup[1:])]
        return kind, {
            name: int(match[group]) if name in _INTEGERS else match[group]
            for group, name in fields
        }


class Said(NamedTuple):
    stamp: str
    nick: str
    text: str


class Emote(NamedTuple):
    stamp: str
    nick: str
    text: str


class PrivateFrom(NamedTuple):
    stamp: str
    nick: str
    text: str


class PrivateTo(NamedTuple):
    stamp: str
    nick: str
    text: str


class Joined(NamedTuple):
    nick: str
    room: str


class Left(NamedTuple):
    nick: str
    room: str
    reason: str


class Dropped(NamedTuple):
    nick: str
    reason: str


class Renamed(NamedTuple):
    old: str
    new: str


class TopicSet(NamedTuple):
    nick: str
    room: str
    topic: str


class TopicOf(NamedTuple):
    room: str
    topic: str = ""


class NowIn(NamedTuple):
    room: str


class WhoHeader(NamedTuple):
    room: str


class WhoEntry(NamedTuple):
    nick: str


class RoomsHeader(NamedTuple):
    pass


class RoomsEntry(NamedTuple):
    room: str
    population: int
    topic: str = ""


class Unlisted(NamedTuple):
    more: int


class Greeting(NamedTuple):
    """The line protocol's welcome: an IRC member has its own."""

    nick: str


class Notice(NamedTuple):
    """Any other line: shown as the server's notice."""

    text: str


Event = (
    Said | Emote | PrivateFrom | PrivateTo | Joined | Left | Dropped | Renamed
    | TopicSet | TopicOf | NowIn | WhoHeader | WhoEntry | RoomsHeader | RoomsEntry
    | Unlisted | Greeting | Notice
)  # fmt: skip

_STAMPED: Final = _Table(
    [
        (_pattern(texts.said, "stamp", "nick", "text"), Said),
        (_pattern(texts.emote, "stamp", "nick", "text"), Emote),
        (_pattern(texts.private_from, "stamp", "nick", "text"), PrivateFrom),
        (_pattern(texts.private_to, "stamp", "nick", "text"), PrivateTo),
    ]
)
_NOTICES: Final = _Table([
    (_pattern(texts.joined, "nick", "room"), Joined),
    (_pattern(texts.left, "nick", "room", "reason"), Left),
    (_pattern(texts.dropped, "nick", "reason"), Dropped),
    (_pattern(texts.renamed, "old", "new"), Renamed),
    (_pattern(texts.topic_set, "nick", "room", "topic"), TopicSet),
    (_pattern(texts.topic_of, "room", "topic"), TopicOf),
    (_pattern(lambda room: texts.topic_of(room, ""), "room"), TopicOf),
    (_pattern(texts.now_in, "room", "_count"), NowIn),
    (_pattern(texts.who_header, "room", "_count"), WhoHeader),
    (_pattern(texts.who_entry, "nick", "_since"), WhoEntry),
    (_pattern(texts.rooms_header, "_count"), RoomsHeader),
    (_pattern(texts.rooms_entry, "room", "population", "topic"), RoomsEntry),
    (_pattern(lambda r, n: texts.rooms_entry(r, n, ""), "room", "population"),
     RoomsEntry),
    (_pattern(texts.unlisted, "more", "_what"), Unlisted),
    (_pattern(texts.welcome, "nick"), Greeting),
])  # fmt: skip


def read(line: str) -> Event:
    """What one line of the catalogue says."""
    found = (_STAMPED if line.startswith("[") else _NOTICES).read(line)
    if found is None:
        return Notice(line)
    kind, fields = found
    event: Event = kind(**fields)
    return event


class NickTaken(NamedTuple):
    nick: str


class NoSuchNick(NamedTuple):
    target: str


class AlreadyIn(NamedTuple):
    room: str


Problem = NickTaken | NoSuchNick | AlreadyIn | Notice

_ERRORS: Final = _Table(
    [
        (_pattern(texts.nick_taken, "nick", "_holder"), NickTaken),
        (_pattern(texts.no_such_nick, "target"), NoSuchNick),
        (_pattern(texts.already_in, "room"), AlreadyIn),
    ]
)


def read_error(text: str) -> Problem:
    """What an error of the catalogue (without its C{error: }) is about."""
    found = _ERRORS.read(text)
    if found is None:
        return Notice(text)
    kind, fields = found
    problem: Problem = kind(**fields)
    return problem


def stamp_problem(timestamp_format: str) -> str | None:
    """Why IRC members cannot be served with stamps of this format, or C{None}."""
    if "]" in timestamp_format:
        return "--irc needs a --timestamp-format without ]"
    return None
