"""
Who may do what, for every backend and front door (see C{docs/chat-protocol.md},
"Operators"): the checks every line and connection meets, and how operators'
actions are announced and logged (their commands are in
L{twisted_tcp.chat.operators}).

Server operators are accounts named in the configuration: operators of every room.
A room's operators are the registered member who first C{/claim}s it and whoever an
operator of it gives C{/op}. An operator acts on the room it is in; bans and mutes
set in the default room hold everywhere (a ban there keeps its match off the
server, an address refused as it connects). Each action is announced to the room,
naming who did it, and logged as an event with C{actor}, C{target}, C{room},
C{reason} and C{expiry} fields.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from twisted.logger import Logger

from twisted_tcp.chat import texts
from twisted_tcp.chat.interfaces import ChatMember
from twisted_tcp.chat.masks import parse_mask
from twisted_tcp.chat.names import room_key
from twisted_tcp.chat.state import Authority, Restriction, RestrictionKind

if TYPE_CHECKING:
    from twisted_tcp.chat.core import ChatCore
    from twisted_tcp.chat.room import Room

#: A mask from its text, as read before (every line is checked against masks).
mask_of = lru_cache(maxsize=4096)(parse_mask)


class Moderation:
    """The checks that bans, mutes and operators set up, over an L{Authority}."""

    log = Logger()

    def __init__(self, chat: ChatCore, authority: Authority) -> None:
        self.chat = chat
        self.state = authority.state
        self.authority = authority

    @property
    def server_operators(self) -> frozenset[str]:
        """The server operators' accounts, as last read (SIGHUP reads them again)."""
        return self.authority.operators

    # Who may do what.

    def is_operator(self, member: ChatMember, room: str) -> bool:
        """Whether C{member} is an operator of the room with key C{room}."""
        account = member.account
        if account is None:
            return False
        return account in self.server_operators or account in self.state.operators(room)

    def operates_anywhere(self, member: ChatMember) -> bool:
        """Whether C{member} is an operator of its room (for C{/help})."""
        return member.room is not None and self.is_operator(member, member.room.key)

    def _everywhere(self) -> str:
        return room_key(self.chat.default_room)

    def _active(self, kind: RestrictionKind, room: str) -> list[Restriction]:
        now = self.chat.clock.seconds()
        return [
            each
            for each in self.state.restrictions(kind, room)
            if each.expires is None or each.expires > now
        ]

    def _matching(
        self, kind: RestrictionKind, member: ChatMember, *rooms: str
    ) -> Restriction | None:
        for room in rooms:
            for each in self._active(kind, room):
                if mask_of(each.mask).matches(
                    member.nick, member.account, member.address
                ):
                    return each
        return None

    def refusal(self, address: str) -> str | None:
        """Why a connection from C{address} is refused (a ban), or C{None}."""
        everywhere = self._everywhere()
        for each in self._active("ban", everywhere):
            mask = mask_of(each.mask)
            if mask.kind == "address" and mask.matches("", None, address):
                return texts.you_are_banned(self.chat.default_room, each.reason)
        return None

    def check_member(self, member: ChatMember) -> None:
        """Send out a member that a ban everywhere matches under its nick or account."""
        ban = self._matching("ban", member, self._everywhere())
        if ban is not None:
            member.send_error(texts.you_are_banned(self.chat.default_room, ban.reason))
            member.dismiss(f"banned: {ban.reason}")

    def may_enter(self, member: ChatMember, name: str) -> bool:
        """Whether C{member} may join room C{name} (it is told if not)."""
        ban = self._matching("ban", member, room_key(name))
        if ban is not None:
            member.send_error(texts.you_are_banned(name, ban.reason))
        return ban is None

    def may_post(self, member: ChatMember) -> bool:
        """
        Whether C{member} may post to its room (it is told if not): a mute holds
        everyone but the room's operators.
        """
        room = member.room
        if room is None or self.is_operator(member, room.key):
            return True
        muted = self._matching("mute", member, room.key, self._everywhere())
        if muted is not None:
            member.send_error(texts.you_are_muted(room.name))
        return muted is None

    def may_set_topic(self, member: ChatMember) -> bool:
        """Whether C{member} may set its room's topic (it is told if not)."""
        room = member.room
        if room is None or not self.state.topic_locked(room.key):
            return True
        if self.is_operator(member, room.key):
            return True
        member.send_error(texts.TOPIC_LOCKED)
        return False

    def _operator_room(self, member: ChatMember) -> Room | None:
        """The room C{member} operates in, or C{None} (it is told why)."""
        room = member.room
        if room is not None and self.is_operator(member, room.key):
            return room
        member.send_error(texts.NOT_OPERATOR)
        return None

    def _target(self, member: ChatMember, nick: str, room: Room) -> ChatMember | None:
        """The member C{nick} in C{room}, if the actor may act on it, or C{None}."""
        target = self.chat.member_named(nick)
        if target is None or target.room is not room:
            member.send_error(texts.no_such_nick(nick))
            return None
        if (
            target.account in self.server_operators
            and member.account not in self.server_operators
        ):
            member.send_error(texts.server_operator(target.nick))
            return None
        return target

    def _act(
        self,
        member: ChatMember,
        room: Room,
        line: str,
        action: str,
        target: str,
        reason: str = "",
        expiry: float | None = None,
    ) -> None:
        """Announce an operator's action to its room and log it."""
        self.chat.notice(room.key, line)
        self.log.info(
            "{actor} {action} {target} in {room}",
            actor=member.nick,
            action=action,
            target=target,
            room=room.name,
            reason=reason,
            expiry=expiry,
            event="moderation",
        )

    def _send_out(self, target: ChatMember, room: str, why: str) -> None:
        """
        Out of room C{room} (a key): to the default room, or out of the chat. It
        goes before its room is told why, so that every backend tells it once.
        """
        if room == self._everywhere():
            target.dismiss(why)
        else:
            self.chat.move(target, self.chat.default_room)

    def enforce(self, bans: list[Restriction]) -> None:
        """Send out this node's members that new C{bans} match."""
        everywhere = self._everywhere()
        for ban in bans:
            mask = mask_of(ban.mask)
            for other in list(self.chat.local_members()):
                room = other.room
                if room is None or ban.room not in (everywhere, room.key):
                    continue
                if mask.matches(other.nick, other.account, other.address):
                    name = (
                        self.chat.default_room if ban.room == everywhere else room.name
                    )
                    other.send_error(texts.you_are_banned(name, ban.reason))
                    self._send_out(
                        other, ban.room, f"banned by {ban.actor}: {ban.reason}"
                    )
