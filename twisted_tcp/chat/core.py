"""
The chat's core: what every backend shares, so that each rule is written once.

L{ChatCore}: the rules every backend applies before it touches shared state
(validation, the arrival policy, the answers built from what the backend knows),
over the few operations a backend implements (see L{ChatCore}). What a member's
protocol is to the chat, and the chat to it, is L{twisted_tcp.chat.interfaces}.

Every line members are sent is built by L{twisted_tcp.chat.texts}; the names and lines
members write are checked by L{twisted_tcp.chat.names}; what a chat is told to be is a
L{twisted_tcp.chat.settings.ChatSettings}.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

from twisted.application.service import Service
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from twisted_tcp.chat import texts
from twisted_tcp.chat.arrivals import Arrivals
from twisted_tcp.chat.interfaces import (
    ACCOUNT_COMMANDS,
    ChatMember,
    Completion,
    Member,
)
from twisted_tcp.chat.listing import RoomEntry, tell_rooms, tell_who
from twisted_tcp.chat.names import nick_key, nick_problem, room_key, room_name_problem
from twisted_tcp.chat.settings import ChatSettings

if TYPE_CHECKING:
    from twisted_tcp.chat.room import Room
    from twisted_tcp.chat.state import Authority

_Found = TypeVar("_Found")
#: What a backend answers: at once, or later.
Answer: TypeAlias = "Deferred[_Found] | _Found"


class ChatCore(Arrivals, Service):
    """
    What both backends share: the settings, the clock, the members and rooms here,
    the arrival policy (L{Arrivals}), and every command: its checks, and the lines
    it answers with, built from what the backend knows.

    A backend implements where shared state lives and who orders events: the
    operations below "What differs between backends" (a nick claimed, a private
    line delivered, a room's members, the rooms, a room's topic read and set), and
    L{_move} (into another room), L{_post} (a line to the member's room),
    L{_announce_arrival}, membership (C{connect}, C{disconnect}, C{drop}) and
    C{shutdown}. Adding a command is a change here.

    @param reactor: times and schedules (default: the global reactor, imported on
        first use, as library code must not import it earlier).
    """

    log = Logger()
    #: The failures of the backend's shared state that are outages, told to the
    #: member and logged elsewhere (any other is logged as a bug).
    outages: tuple[type[Exception], ...] = ()

    def __init__(
        self,
        settings: ChatSettings,
        reactor: Any = None,
        authority: Authority | None = None,
    ) -> None:
        # Imported here: they build on this module.
        from twisted_tcp.chat.accounts import Accounts
        from twisted_tcp.chat.operators import Operators
        from twisted_tcp.chat.state import Authority

        self.settings = settings
        self._reactor = reactor
        self.shutting_down = False
        #: The members here (of this process, or of this node), by nick key.
        self.members: dict[str, ChatMember] = {}
        #: The rooms here, by key: those of this node's members, on a node.
        self.rooms: dict[str, Room] = {}
        #: Whether the backend's shared state can be reached.
        self.available = True
        self._arrivals: dict[ChatMember, IDelayedCall] = {}  # See Arrivals.
        self.authority = authority or Authority()
        self.accounts = Accounts(self, self.authority)
        self.moderation = Operators(self, self.authority)

    @property
    def clock(self) -> IReactorTime:
        """The reactor (as a clock)."""
        if self._reactor is None:
            from twisted.internet import reactor

            self._reactor = reactor
        clock: IReactorTime = self._reactor
        return clock

    @property
    def default_room(self) -> str:
        return self.settings.default_room

    def timestamp(self, when: float | None = None) -> str:
        """A time (default: now) in the configured format, in local time."""
        seconds = self.clock.seconds() if when is None else when
        return texts.timestamp(self.settings.timestamp_format, seconds)

    def _new_room(self, name: str) -> Room:
        """A room of this chat's members here, called C{name}."""
        from twisted_tcp.chat.room import Room

        return Room(
            name,
            clock=self.clock,
            encoding=self.settings.encoding,
            announce_limit=self.settings.announce_limit,
            overflowed=self._overflowed,
        )

    def drop(self, member: ChatMember) -> None:
        """Throw out a member whose unsent output passed its bound."""
        raise NotImplementedError

    def _overflowed(self, member: Member) -> None:
        """A room could not deliver to C{member}: it is dropped."""
        here = self.members.get(nick_key(member.nick))
        if here is not None:
            self.drop(here)

    def greeting(self, member: ChatMember) -> list[str]:
        """What a newcomer is shown first: the welcome and the message of the day."""
        return [texts.welcome(member.nick), *self.settings.motd]

    # What accounts and operators need of a backend.

    def member_named(self, nick: str) -> ChatMember | None:
        """The member of this node (or process) called C{nick}, or C{None}."""
        return self.members.get(nick_key(nick))

    def local_members(self) -> Iterable[ChatMember]:
        """The members of this node (or process)."""
        return self.members.values()

    def notice(self, room: str, line: str) -> None:
        """Send C{line} to the room with key C{room} (not kept in its history)."""
        raise NotImplementedError

    def guest_nick(self) -> str:
        """A free nick of the kind newcomers are given."""
        raise NotImplementedError

    def move(self, member: ChatMember, name: str) -> Completion:
        """Move C{member} to room C{name}, as C{/join} does once it is checked."""
        return self._move(member, name)

    # The requests whose rules are the same everywhere.

    def perform(self, member: ChatMember, name: str, argument: str) -> Completion:
        self._arrive(member)
        handler = self.accounts if name in ACCOUNT_COMMANDS else self.moderation
        run: Callable[[ChatMember, str], Completion] = getattr(handler, name)
        return run(member, argument)

    def flush(self, member: ChatMember) -> None:
        if member.room is not None:
            member.room.flush()

    def help(self, member: ChatMember) -> None:
        *commands, last = texts.HELP
        lines = [*commands, *texts.HELP_ACCOUNTS]
        if self.moderation.operates_anywhere(member):
            lines.extend(texts.HELP_OPERATORS)
        lines.append(last)
        for line in lines:
            member.send_text(line)

    def refusal(self, address: str) -> str | None:
        return self.moderation.refusal(address)

    def join(self, member: ChatMember, name: str) -> Completion:
        self._arrive(member)
        problem = room_name_problem(name)
        if problem:
            member.send_error(problem)
            return None
        if not self.moderation.may_enter(member, name):
            return None
        return self._move(member, name)

    def part(self, member: ChatMember) -> Completion:
        self._arrive(member)
        room = member.room
        if room is not None and room.key == room_key(self.default_room):
            member.send_error(texts.in_default_room(room.name))
            return None
        return self._move(member, self.default_room)

    def _move(self, member: ChatMember, name: str) -> Completion:
        raise NotImplementedError

    def say(self, member: ChatMember, text: str) -> Completion:
        if not self.moderation.may_post(member):
            return None
        return self._post(member, texts.said(self.timestamp(), member.nick, text))

    def emote(self, member: ChatMember, action: str) -> Completion:
        if not self.moderation.may_post(member):
            return None
        return self._post(member, texts.emote(self.timestamp(), member.nick, action))

    def _post(self, member: ChatMember, line: str) -> Completion:
        raise NotImplementedError

    def rename(self, member: ChatMember, nick: str) -> Completion:
        """C{/nick NICK}, and a member renamed by the chat."""
        problem = nick_problem(nick)
        if problem:
            member.send_error(problem)
            return None
        if member.nick == nick:
            member.send_text(texts.already_nick(nick))
            return None
        if not self._serving(member, texts.NO_SERVICE):
            return None
        old = member.nick
        # Not announced yet: the others meet the member under the nick it gets.
        pending = member in self._arrivals
        notice = "" if pending else texts.renamed(old, nick)

        def claimed(holder: str | None) -> Completion:
            if holder is not None:
                member.send_error(texts.nick_taken(nick, holder))
                return None
            if self.member_named(nick) is member:  # Else its connection ended.
                self.log.info("{old} is now {new}", old=old, new=nick)
                if pending:
                    member.send_text(texts.renamed(old, nick))
                    self._arrive(member)
            return self.accounts.check_nick(member)

        claiming = self._claim_nick(member, nick, notice)
        return self._then(member, texts.NO_SERVICE, claiming, claimed)

    def private(self, member: ChatMember, nick: str, text: str) -> Completion:
        self._arrive(member)
        if not self._serving(member, texts.NOT_DELIVERED):
            return None
        stamp = self.timestamp()

        def delivered(holder: str | None) -> None:
            if holder is None:
                member.send_error(texts.no_such_nick(nick))
            else:
                member.send_text(texts.private_to(stamp, holder, text))

        line = texts.private_from(stamp, member.nick, text)
        delivering = self._deliver_private(nick, line)
        return self._then(member, texts.NOT_DELIVERED, delivering, delivered)

    def who(self, member: ChatMember) -> Completion:
        self._arrive(member)
        key = self._room_key_of(member)
        if key is None or not self._serving(member, texts.NO_SERVICE):
            return None

        def found(listing: tuple[list[tuple[str, float]], int]) -> None:
            room = member.room
            listed, total = listing
            name = room.name if room else key
            tell_who(member, name, listed, total, self.timestamp)

        return self._then(member, texts.NO_SERVICE, self._members_of(key), found)

    def list_rooms(self, member: ChatMember) -> Completion:
        self._arrive(member)
        if not self._serving(member, texts.NO_SERVICE):
            return None

        def found(listing: tuple[list[RoomEntry], int]) -> None:
            tell_rooms(member, *listing)

        return self._then(member, texts.NO_SERVICE, self._rooms(), found)

    def topic(self, member: ChatMember, text: str | None) -> Completion:
        self._arrive(member)
        key = self._room_key_of(member)
        room = member.room
        if key is None or room is None or not self._serving(member, texts.NO_SERVICE):
            return None
        name = room.name
        if text is None:

            def found(topic: str) -> None:
                member.send_text(texts.topic_of(name, topic))

            return self._then(member, texts.NO_SERVICE, self._read_topic(key), found)
        if not self.moderation.may_set_topic(member):
            return None
        notice = texts.topic_set(member.nick, name, text)
        setting = self._set_topic(key, text, notice)
        return self._then(member, texts.NO_SERVICE, setting, lambda _: None)

    # How an answer that may come later reaches the member.

    def _serving(self, member: ChatMember, error: str) -> bool:
        """Whether the chat's shared state can be reached; the member is told if not."""
        if not self.available:
            member.send_error(error)
        return self.available

    def _then(
        self,
        member: ChatMember,
        error: str,
        result: Answer[_Found],
        then: Callable[[_Found], Completion],
    ) -> Completion:
        """
        Answer C{member} with C{then} once the backend has C{result}; if the backend
        fails, the member is told C{error}.
        """
        if not isinstance(result, Deferred):
            return then(result)
        return self._failing(member, error, result.addCallback(then))

    def _failing(
        self,
        member: ChatMember,
        error: str,
        work: Coroutine[Any, Any, Any] | Deferred[Any],
    ) -> Deferred[None]:
        """Run C{work}; if it fails, tell the member C{error}."""

        def failed(failure: Failure) -> None:
            if not failure.check(*self.outages):
                self.log.failure("a request to the chat's state failed", failure)
            member.send_error(error)

        return ensureDeferred(work).addCallbacks(lambda _: None, failed)

    # What differs between backends: where shared state lives, and who orders
    # events. Each may answer at once, or with a Deferred.

    def _room_key_of(self, member: ChatMember) -> str | None:
        """The key of the room C{member} is in (as the chat's shared state knows)."""
        raise NotImplementedError

    def _claim_nick(
        self, member: ChatMember, nick: str, notice: str
    ) -> Answer[str | None]:
        """
        Give C{member} the nick C{nick} if it is free, and post C{notice} (if any)
        to its room; else answer the nick of who holds it.
        """
        raise NotImplementedError

    def _deliver_private(self, nick: str, line: str) -> Answer[str | None]:
        """Send C{line} to the member called C{nick}: answer its nick, or C{None}."""
        raise NotImplementedError

    def _members_of(self, key: str) -> Answer[tuple[list[tuple[str, float]], int]]:
        """The first members of room C{key} by nick (see L{first_by_nick}), and how
        many it has."""
        raise NotImplementedError

    def _rooms(self) -> Answer[tuple[list[RoomEntry], int]]:
        """The most crowded rooms (see L{most_crowded}), and how many there are."""
        raise NotImplementedError

    def _read_topic(self, key: str) -> Answer[str]:
        """The topic of room C{key} (C{""} for none)."""
        raise NotImplementedError

    def _set_topic(self, key: str, topic: str, notice: str) -> Answer[object]:
        """Set the topic of room C{key}, and post C{notice} there."""
        raise NotImplementedError
