"""
What an IRC member is shown: the chat's lines (from its room, or for it alone) read
as events (L{twisted_tcp.chat.irc.reading}) and shown as IRC messages from the nick
that caused them, the server's replies, and the IRCv3 tags its client asked for.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from functools import lru_cache

from twisted_tcp.chat import texts
from twisted_tcp.chat.irc import numerics, reading
from twisted_tcp.chat.irc.message import Message
from twisted_tcp.chat.names import nick_key, room_key

#: The capabilities a client may ask for (see C{docs/irc.md}).
CAPABILITIES = ("echo-message", "message-tags", "server-time")


def mask(nick: str, host: str) -> str:
    """How a nick is shown as a message's source, whatever door it came by."""
    return f"{nick}!{nick}@{host}"


@lru_cache(maxsize=256)
def stamp_time(stamp: str, timestamp_format: str) -> str | None:
    """
    A chat stamp as an IRCv3 C{time} tag (UTC, milliseconds), or C{None} if the
    stamp's format does not say the date and time.
    """
    try:
        parsed = time.strptime(stamp, timestamp_format)
    except ValueError:
        return None
    if parsed.tm_year == 1900:
        return None
    return utc_time(time.mktime(parsed))


def utc_time(seconds: float) -> str:
    """A time as an IRCv3 C{time} tag: ISO 8601 in UTC, with milliseconds."""
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class Batch:
    """
    The last batch of lines a room delivered, read once for all the IRC members it
    is delivered to, and the bytes shown for it to members who see it alike: a
    batch of messages only (no joins, renames or listings that change what a
    member knows), of which the member said none or echoes its own, looks the same
    to every member of one channel with the same capabilities.
    """

    def __init__(self) -> None:
        self.data: bytes | None = None
        self.lines: list[str] = []
        self.events: list[reading.Event] = []
        self.authors: set[str] = set()
        self.plain = False
        self.shown: dict[tuple[str | None, bool], bytes] = {}

    def read(self, data: bytes, encoding: str) -> None:
        """Read C{data}, unless it is the batch read last."""
        if data is self.data:
            return
        self.data = data
        self.lines = data.decode(encoding, "replace").split("\r\n")[:-1]
        self.events = [reading.read(line) for line in self.lines]
        messages = [
            e for e in self.events if isinstance(e, reading.Said | reading.Emote)
        ]
        self.plain = len(messages) == len(self.events)
        self.authors = {nick_key(event.nick) for event in messages}
        self.shown = {}


class Shown:
    """
    The state an IRC member's view needs: its nick as its client knows it, its
    channel, who it knows is there, the listing being collected, its capabilities.
    """

    def __init__(self, host: str, server: str, timestamp_format: str) -> None:
        self.host = host
        self.server = server
        self.timestamp_format = timestamp_format
        self.nick = "*"
        self.channel: str | None = None
        self.present: dict[str, str] = {}
        self.caps: set[str] = set()
        #: While a listing is asked for: its entries as they arrive.
        self.listing: list[reading.Event] | None = None
        self.asking_topic = False

    def reply(self, numeric: str, *params: str) -> Message:
        """A numeric for this member."""
        return Message(numeric, (self.nick, *params), self.server)

    def notice(self, text: str) -> Message:
        return Message("NOTICE", (self.nick, text), self.server)

    def _from(
        self, nick: str, command: str, *params: str, when: str | None = None
    ) -> Message:
        tags = {}
        if when is not None and "server-time" in self.caps:
            tags["time"] = when
        return Message(command, params, mask(nick, self.host), tags)

    def _mine(self, nick: str) -> bool:
        return nick_key(nick) == nick_key(self.nick)

    def render(self, event: reading.Event, live: bool) -> list[Message]:
        """
        What one event looks like to this member; C{live}: it came from its room
        as it happened (so its own messages are echoed only with C{echo-message}).
        """
        if self.listing is not None and isinstance(
            event,
            reading.WhoHeader
            | reading.WhoEntry
            | reading.RoomsHeader
            | reading.RoomsEntry
            | reading.Unlisted,
        ):
            self.listing.append(event)
            return []
        match event:
            case reading.Said(stamp, nick, text) | reading.Emote(stamp, nick, text):
                if live and self._mine(nick) and "echo-message" not in self.caps:
                    return []
                if isinstance(event, reading.Emote):
                    text = f"\x01ACTION {text}\x01"
                when = stamp_time(stamp, self.timestamp_format)
                target = self.channel or "*"
                return [self._from(nick, "PRIVMSG", target, text, when=when)]
            case reading.PrivateFrom(stamp, nick, text):
                when = stamp_time(stamp, self.timestamp_format)
                return [self._from(nick, "PRIVMSG", self.nick, text, when=when)]
            case reading.PrivateTo(stamp, nick, text):
                if "echo-message" not in self.caps:
                    return []
                when = stamp_time(stamp, self.timestamp_format)
                return [self._from(self.nick, "PRIVMSG", nick, text, when=when)]
            case reading.Joined(nick, room):
                if self._mine(nick):
                    return []
                self.present[nick_key(nick)] = nick
                return [self._from(nick, "JOIN", room)]
            case reading.Left(nick, room, reason):
                self.present.pop(nick_key(nick), None)
                return [self._from(nick, "PART", room, reason)]
            case reading.Dropped(nick, reason):
                self.present.pop(nick_key(nick), None)
                return [self._from(nick, "QUIT", reason)]
            case reading.Renamed(old, new):
                self.present.pop(nick_key(old), None)
                self.present[nick_key(new)] = new
                if self._mine(old):
                    self.nick = new
                return [self._from(old, "NICK", new)]
            case reading.TopicSet(nick, room, topic):
                return [self._from(nick, "TOPIC", room, topic)]
            case reading.TopicOf(room, topic):
                asked, self.asking_topic = self.asking_topic, False
                if topic:
                    return [self.reply(numerics.RPL_TOPIC, room, topic)]
                if asked:
                    return [self.reply(numerics.RPL_NOTOPIC, room, numerics.NO_TOPIC)]
                return []
            case reading.NowIn(room):
                return self._moved(room)
            case reading.Greeting():
                return []
            case reading.Notice(text):
                return [self.notice(text)]
            case _:  # A listing's line when no listing is asked for.
                return []

    def _moved(self, room: str) -> list[Message]:
        """The member is now in C{room}, and out of its channel if another."""
        shown = []
        if self.channel is not None and room_key(self.channel) != room_key(room):
            shown.append(
                self._from(
                    self.nick, "PART", self.channel, texts.MOVED.format(room=room)
                )
            )
        self.channel = room
        self.present = {nick_key(self.nick): self.nick}
        shown.append(self._from(self.nick, "JOIN", room))
        return shown

    # Listings: what the chat answered to /who or /rooms, as numerics.

    def names(self, channel: str, entries: list[reading.Event]) -> list[Message]:
        nicks = [e.nick for e in entries if isinstance(e, reading.WhoEntry)]
        self.present = {nick_key(nick): nick for nick in nicks}
        self.present[nick_key(self.nick)] = self.nick
        shown = []
        for start in range(0, len(nicks), 20):
            chunk = " ".join(nicks[start : start + 20])
            shown.append(self.reply(numerics.RPL_NAMREPLY, "=", channel, chunk))
        shown.append(
            self.reply(numerics.RPL_ENDOFNAMES, channel, numerics.END_OF_NAMES)
        )
        return shown

    def who(self, channel: str, entries: list[reading.Event]) -> list[Message]:
        shown = []
        for entry in entries:
            if isinstance(entry, reading.WhoEntry):
                nick = entry.nick
                shown.append(
                    self.reply(
                        numerics.RPL_WHOREPLY,
                        channel,
                        nick,
                        self.host,
                        self.server,
                        nick,
                        "H",
                        f"0 {nick}",
                    )
                )
        shown.append(self.reply(numerics.RPL_ENDOFWHO, channel, numerics.END_OF_WHO))
        return shown

    def rooms(self, entries: list[reading.Event]) -> list[Message]:
        shown = [self.reply(numerics.RPL_LISTSTART, "Channel", numerics.LIST_START)]
        for entry in entries:
            if isinstance(entry, reading.RoomsEntry):
                shown.append(
                    self.reply(
                        numerics.RPL_LIST,
                        entry.room,
                        str(entry.population),
                        entry.topic,
                    )
                )
        shown.append(self.reply(numerics.RPL_LISTEND, numerics.END_OF_LIST))
        return shown
