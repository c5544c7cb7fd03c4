"""
What a member's protocol is to the chat (L{Member}, L{ChatMember}) and the chat to
it (L{ChatService}), whichever backend runs it and whichever protocol the member
speaks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, Protocol

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime

from twisted_tcp.chat.settings import ChatSettings

if TYPE_CHECKING:
    from twisted_tcp.chat.room import Room

#: The commands of accounts (L{twisted_tcp.chat.accounts}) and of operators
#: (L{twisted_tcp.chat.moderation}), which L{ChatService.perform} runs.
ACCOUNT_COMMANDS: Final = frozenset({"register", "identify", "logout", "password"})
OPERATOR_COMMANDS: Final = frozenset(
    {"claim", "kick", "ban", "unban", "bans", "mute", "unmute", "op", "deop"}
    | {"lock", "unlock"}
)

Completion = Deferred[None] | None


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
    C{Deferred} if it completes later: while it is pending, the member's further
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

    def flush(self, member: ChatMember) -> None:
        """
        Deliver now what the chat holds for C{member} (its room coalesces lines
        within a reactor turn), so that a line for it alone comes after them.
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
