"""
The chat's core: what every backend shares, so that each rule is written once.

    - the names: nick and room rules, and their one normalisation (L{nick_key},
      L{room_key}: case-folded);
    - L{ChatSettings}: the options of a chat, checked once;
    - L{ChatMember} and L{ChatService}: what a member's protocol is to the chat, and
      the chat to it;
    - L{ChatCore}: the rules every backend applies before it touches shared state
      (validation, the arrival policy, the answers built from what the backend
      knows), over the few operations a backend implements (see L{ChatCore});

Every line members are sent is built by L{twisted_tcp.chat.texts}.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Protocol

from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

from twisted_tcp.chat import texts

if TYPE_CHECKING:
    from twisted_tcp.chat.room import Room
    from twisted_tcp.chat.state import Authority

#: Nicks: an ASCII letter, then up to 29 ASCII letters, digits, C{_} or C{-}. ASCII
#: only, so that no two nicks look alike on screen.
NICK_PATTERN: Final = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,29}\Z")
#: Room names: C{#} then 1-30 ASCII letters, digits, C{_} or C{-}.
ROOM_PATTERN: Final = re.compile(r"#[A-Za-z0-9_-]{1,30}\Z")
#: Where IRC clients send their logins (C{/msg NickServ IDENTIFY PASSWORD}): no
#: member may be called so and read them.
NICKSERV: Final = "nickserv"
RESERVED_NICKS: Final = frozenset({"server", "system", "admin", NICKSERV})
DEFAULT_ROOM: Final = "#lobby"
DEFAULT_ANNOUNCE_LIMIT: Final = 200
DEFAULT_TIMESTAMP_FORMAT: Final = "%Y/%m/%d %H:%M:%S"
#: Seconds a newcomer's join waits to be announced, so that a client that names
#: itself with C{/nick} as its first line is announced under that nick.
ARRIVAL_GRACE: Final = 1.0
#: The commands of accounts (L{twisted_tcp.chat.accounts}) and of operators
#: (L{twisted_tcp.chat.operators}), which L{ChatService.perform} runs.
ACCOUNT_COMMANDS: Final = frozenset({"register", "identify", "logout", "password"})
OPERATOR_COMMANDS: Final = frozenset(
    {"claim", "kick", "ban", "unban", "bans", "mute", "unmute", "op", "deop"}
    | {"lock", "unlock"}
)

Completion = Deferred[None] | None
#: White-space characters in a row that a line keeps; a longer run is cut to this
#: many spaces (see L{tidy}).
MAX_SPACES: Final = 4
_LONG_SPACE: Final = re.compile(rf"\s{{{MAX_SPACES + 1},}}")


def tidy(text: str) -> str:
    """
    A member's line as the chat takes it: stripped, and no run of white space in it
    longer than L{MAX_SPACES}. Padding would otherwise push the rest of a message to
    the start of the next row of a terminal or the page, where it would look like a
    line of its own (another member's).
    """
    return _LONG_SPACE.sub(" " * MAX_SPACES, text.strip())


def nick_key(nick: str) -> str:
    """The identity of a nick: two nicks that differ only in case are one."""
    return nick.casefold()


def room_key(name: str) -> str:
    """The identity of a room name: two names that differ only in case are one."""
    return name.casefold()


def nick_problem(nick: str) -> str | None:
    """What is wrong with a nick asked for with C{/nick}, or C{None}."""
    if not nick:
        return texts.NICK_USAGE
    if not NICK_PATTERN.match(nick):
        return texts.NICK_RULE
    if nick_key(nick) in RESERVED_NICKS:
        return texts.nick_reserved(nick)
    return None


def room_name_problem(name: str) -> str | None:
    """What is wrong with a room name asked for with C{/join}, or C{None}."""
    if not name:
        return texts.JOIN_USAGE
    if not ROOM_PATTERN.match(name):
        return texts.ROOM_RULE
    return None


def check_room_name(name: str) -> str:
    """
    Return C{name} if it is a valid room name.

    @raise ValueError: otherwise, with a message fit for a usage error.
    """
    if not ROOM_PATTERN.match(name):
        raise ValueError(f"bad room name {name!r}: {texts.ROOM_RULE}")
    return name


@dataclass(frozen=True)
class ChatSettings:
    """
    What a chat is told to be, whichever backend runs it (checked here, once).

    @ivar encoding: the wire encoding of every line.
    @ivar history: messages per room replayed to whoever joins it.
    @ivar default_room: where members start, and return with C{/part}.
    @ivar announce_limit: above this many members, a room sums up joins and leaves
        instead of announcing each; 0 announces always.
    @ivar motd: lines shown to each newcomer after the welcome (see L{texts.motd}).
    @ivar timestamp_format: L{time.strftime} format of message timestamps.
    @ivar arrival_grace: seconds a newcomer's join waits to be announced (see
        L{ARRIVAL_GRACE}); 0 announces it at once.
    """

    encoding: str = "utf-8"
    history: int = 0
    default_room: str = DEFAULT_ROOM
    announce_limit: int = DEFAULT_ANNOUNCE_LIMIT
    motd: list[str] = field(default_factory=list)
    timestamp_format: str = DEFAULT_TIMESTAMP_FORMAT
    arrival_grace: float = ARRIVAL_GRACE

    def __post_init__(self) -> None:
        check_room_name(self.default_room)
        if self.history < 0 or self.announce_limit < 0 or self.arrival_grace < 0:
            raise ValueError("history, announce_limit and arrival_grace must be >= 0")


class Member(Protocol):
    """
    What a room knows of a member: a name, a way to send it bytes, a way to throw it
    out. L{twisted_tcp.chat.protocol.ChatProtocol} is one; a test double is another.
    """

    nick: str
    room: Room | None
    connected_since: float

    def deliver(self, data: bytes) -> bool:
        """
        Send already-encoded lines, or queue them while the member is not reading.

        @return: C{False} once the member's queue is over its bound: the caller must
            evict it.
        """

    def evict(self) -> None:
        """Throw the member out at once: it does not read what it is sent."""


class ChatMember(Member, Protocol):
    """What the chat service knows of a member, beyond what its room knows."""

    #: The account the member is identified as (a nick key), or C{None}.
    account: str | None

    @property
    def address(self) -> str:
        """The IP address it connects from (C{""} for none: a UNIX socket)."""

    def send_text(self, text: str) -> None:
        """A line for this member alone, after anything its room sent it before."""

    def send_error(self, text: str) -> None:
        """An C{error:} line for this member alone."""

    def dismiss(self, reason: str) -> None:
        """Close the member's connection (a kick or a ban): its room hears C{reason}."""


class ChatService(Protocol):
    """
    What a member's protocol asks of the chat. Each call answers through the member
    (C{send_text}, C{send_error}) rather than by return value, and returns a
    L{Deferred} if it completes later: while it is pending, the member's further
    input waits, so its lines keep their order.
    """

    settings: ChatSettings

    @property
    def clock(self) -> IReactorTime:
        """Times the chat's events."""

    def connect(self, member: ChatMember) -> Completion:
        """Name a newcomer, put it in the default room, welcome it."""

    def disconnect(self, member: ChatMember, reason: str) -> None:
        """Forget a member whose connection ended; tell its room why."""

    def drop(self, member: ChatMember) -> None:
        """Throw out a member whose unsent output passed its bound."""

    def rename(self, member: ChatMember, nick: str) -> Completion:
        """C{/nick NICK}."""

    def join(self, member: ChatMember, name: str) -> Completion:
        """C{/join #ROOM}: leave the current room for C{name}, created if absent."""

    def part(self, member: ChatMember) -> Completion:
        """C{/part}: back to the default room."""

    def say(self, member: ChatMember, text: str) -> Completion:
        """A message to the member's room."""

    def emote(self, member: ChatMember, action: str) -> Completion:
        """C{/me ACTION} to the member's room."""

    def private(self, member: ChatMember, nick: str, text: str) -> Completion:
        """C{/msg NICK TEXT}, to a member in any room."""

    def who(self, member: ChatMember) -> Completion:
        """C{/who}: the members of the member's room."""

    def list_rooms(self, member: ChatMember) -> Completion:
        """C{/rooms}: the rooms and how many are in each."""

    def topic(self, member: ChatMember, text: str | None) -> Completion:
        """C{/topic [TEXT]}: show, or set, the topic of the member's room."""

    def perform(self, member: ChatMember, name: str, argument: str) -> Completion:
        """
        One of L{ACCOUNT_COMMANDS} or L{OPERATOR_COMMANDS}, with the rest of its
        line as C{argument}.
        """

    def help(self, member: ChatMember) -> None:
        """C{/help}: the commands the member may use."""

    def refusal(self, address: str) -> str | None:
        """Why a connection from C{address} is refused (it is banned), or C{None}."""

    def shutdown(self) -> None:
        """The server is stopping: announce no more departures, save history."""

    # The service's life (both backends are Twisted services).

    def setServiceParent(self, parent: Any) -> Any: ...

    def startService(self) -> None: ...

    def stopService(self) -> Deferred[None] | None: ...


class ChatCore(Service):
    """
    What both backends share: the settings, the clock, the rules applied before a
    request reaches shared state, and the arrival policy (a newcomer is announced
    at its first line, or after L{ChatSettings.arrival_grace}, once).

    A backend implements L{_move} (into another room), L{_post} (a line to the
    member's room), L{_announce_arrival} and the rest of L{ChatService}.

    @param reactor: times and schedules (default: the global reactor, imported on
        first use, as library code must not import it earlier).
    """

    log = Logger()

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
        #: Newcomers whose join is not announced yet, and the timer that will.
        self._arrivals: dict[ChatMember, IDelayedCall] = {}
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

    def _overflowed(self, member: Member) -> None:
        """A room could not deliver to C{member}: it is dropped."""
        raise NotImplementedError

    def greeting(self, member: ChatMember) -> list[str]:
        """What a newcomer is shown first: the welcome and the message of the day."""
        return [texts.welcome(member.nick), *self.settings.motd]

    # The arrival policy.

    def _expect_arrival(self, member: ChatMember, delay: float | None = None) -> None:
        """Announce C{member}'s join after C{delay} (default: the grace), or now."""
        delay = self.settings.arrival_grace if delay is None else delay
        if delay:
            self._arrivals[member] = self.clock.callLater(delay, self._arrive, member)
        else:
            self._announce_arrival(member)

    def _arrive(self, member: ChatMember) -> None:
        """Announce a newcomer's join, once: at its first line, or after the grace."""
        if member in self._arrivals:
            self._cancel_arrival(member)
            self._announce_arrival(member)

    def _cancel_arrival(self, member: ChatMember) -> bool:
        """
        Forget C{member}'s pending arrival (its timer is cancelled); return whether
        its join had been announced.
        """
        pending = self._arrivals.pop(member, None)
        if pending is None:
            return True
        if pending.active():
            pending.cancel()
        return False

    def _cancel_arrivals(self) -> None:
        """The chat is stopping: no more arrivals are announced."""
        for pending in self._arrivals.values():
            if pending.active():
                pending.cancel()
        self._arrivals.clear()

    def _announce_arrival(self, member: ChatMember) -> None:
        raise NotImplementedError

    # What accounts and operators need of a backend.

    def member_named(self, nick: str) -> ChatMember | None:
        """The member of this node (or process) called C{nick}, or C{None}."""
        raise NotImplementedError

    def local_members(self) -> Iterable[ChatMember]:
        """The members of this node."""
        raise NotImplementedError

    def notice(self, room: str, line: str) -> None:
        """Send C{line} to the room with key C{room} (not kept in its history)."""
        raise NotImplementedError

    def guest_nick(self) -> str:
        """A free nick of the kind newcomers are given."""
        raise NotImplementedError

    def rename(self, member: ChatMember, nick: str) -> Completion:
        """C{/nick NICK}, and a member renamed by the chat."""
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

    def _check_rename(self, member: ChatMember, nick: str) -> bool:
        """Whether C{/nick NICK} asks for a change (the member is told if not)."""
        problem = nick_problem(nick)
        if problem:
            member.send_error(problem)
            return False
        if member.nick == nick:
            member.send_text(texts.already_nick(nick))
            return False
        return True


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
