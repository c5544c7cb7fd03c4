"""
Operators and what they do, for every backend and front door (see
C{docs/chat-protocol.md}, "Operators").

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
from twisted_tcp.chat.interfaces import ChatMember, Completion
from twisted_tcp.chat.masks import Mask, describe_duration, parse_duration, parse_mask
from twisted_tcp.chat.names import nick_key, room_key
from twisted_tcp.chat.state import Authority, Restriction, RestrictionKind

if TYPE_CHECKING:
    from twisted_tcp.chat.core import ChatCore
    from twisted_tcp.chat.room import Room

_mask = lru_cache(maxsize=4096)(parse_mask)


class Moderation:
    """The operators' commands and the checks they set up, over an L{Authority}."""

    log = Logger()

    def __init__(self, chat: ChatCore, authority: Authority) -> None:
        self.chat = chat
        self.state = authority.state
        self.server_operators = authority.operators

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
                if _mask(each.mask).matches(
                    member.nick, member.account, member.address
                ):
                    return each
        return None

    def refusal(self, address: str) -> str | None:
        """Why a connection from C{address} is refused (a ban), or C{None}."""
        everywhere = self._everywhere()
        for each in self._active("ban", everywhere):
            mask = _mask(each.mask)
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

    # The commands.

    def claim(self, member: ChatMember, argument: str) -> Completion:
        """C{/claim}: a registered member runs its room, if no one does yet."""
        room = member.room
        if room is None:
            return None
        if member.account is None:
            member.send_error(texts.NOT_IDENTIFIED)
        elif room.key == self._everywhere():
            member.send_error(texts.CLAIM_DEFAULT)
        elif not self.state.claim(room.key, member.account):
            owner = self.state.owner(room.key) or ""
            member.send_error(texts.already_claimed(room.name, owner))
        else:
            line = texts.claimed(member.nick, room.name)
            self._act(member, room, line, "claimed", room.name)
        return None

    def kick(self, member: ChatMember, argument: str) -> Completion:
        """C{/kick NICK [REASON]}: send NICK out of the room."""
        nick, _, reason = argument.partition(" ")
        if not nick:
            member.send_error(texts.KICK_USAGE)
            return None
        room = self._operator_room(member)
        target = None if room is None else self._target(member, nick, room)
        if room is None or target is None:
            return None
        reason = reason.strip() or texts.NO_REASON
        target.send_text(texts.you_were_kicked(member.nick, room.name, reason))
        self._send_out(target, room.key, f"kicked by {member.nick}: {reason}")
        line = texts.kicked(member.nick, target.nick, room.name, reason)
        self._act(member, room, line, "kicked", target.nick, reason)
        return None

    def _send_out(self, target: ChatMember, room: str, why: str) -> None:
        """
        Out of room C{room} (a key): to the default room, or out of the chat. It
        goes before its room is told why, so that every backend tells it once.
        """
        if room == self._everywhere():
            target.dismiss(why)
        else:
            self.chat.move(target, self.chat.default_room)

    def ban(self, member: ChatMember, argument: str) -> Completion:
        """C{/ban MASK [DURATION] [REASON]}: keep MASK out of the room."""
        words = argument.split(" ", 2)
        if not words[0]:
            member.send_error(texts.BAN_USAGE)
            return None
        room = self._operator_room(member)
        if room is None:
            return None
        mask = self._parse(member, words[0])
        seconds = parse_duration(words[1]) if len(words) > 1 else None
        reason = " ".join(words[1 if seconds is None else 2 :]).strip()
        reason = reason or texts.NO_REASON
        if mask is None:
            return None
        expires = None if seconds is None else self.chat.clock.seconds() + seconds
        ban = Restriction("ban", room.key, mask.text, expires, reason, member.nick)
        self.state.restrict(ban)
        self.enforce([ban])
        duration = None if seconds is None else describe_duration(seconds)
        line = texts.banned(member.nick, mask.text, room.name, duration, reason)
        self._act(member, room, line, "banned", mask.text, reason, expires)
        return None

    def enforce(self, bans: list[Restriction]) -> None:
        """Send out this node's members that new C{bans} match."""
        everywhere = self._everywhere()
        for ban in bans:
            mask = _mask(ban.mask)
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

    def _parse(self, member: ChatMember, text: str) -> Mask | None:
        try:
            return _mask(text)
        except ValueError as error:
            member.send_error(str(error))
            return None

    def unban(self, member: ChatMember, argument: str) -> Completion:
        """C{/unban MASK}: lift a ban of the room."""
        room = self._operator_room(member) if argument else None
        if not argument:
            member.send_error(texts.UNBAN_USAGE)
        mask = None if room is None else self._parse(member, argument)
        if room is None or mask is None:
            return None
        if self.state.lift("ban", room.key, mask.text):
            line = texts.unbanned(member.nick, mask.text, room.name)
            self._act(member, room, line, "unbanned", mask.text)
        else:
            member.send_error(texts.no_such_restriction(mask.text, room.name))
        return None

    def bans(self, member: ChatMember, argument: str) -> Completion:
        """C{/bans}: the room's bans in force."""
        room = self._operator_room(member)
        if room is None:
            return None
        active = sorted(self._active("ban", room.key), key=lambda each: each.mask)
        member.send_text(texts.bans_header(room.name, len(active)))
        for each in active:
            until = "for good"
            if each.expires is not None:
                until = f"until {self.chat.timestamp(each.expires)}"
            member.send_text(
                texts.bans_entry(each.mask, each.actor, until, each.reason)
            )
        return None

    def mute(self, member: ChatMember, argument: str) -> Completion:
        """
        C{/mute NICK [DURATION]}: NICK may read but not post in the room (its
        account if it is identified, else its address).
        """
        words = argument.split()
        seconds = parse_duration(words[1]) if len(words) == 2 else None
        if len(words) not in (1, 2) or (len(words) == 2 and seconds is None):
            member.send_error(texts.MUTE_USAGE)
            return None
        room = self._operator_room(member)
        target = None if room is None else self._target(member, words[0], room)
        if room is None or target is None:
            return None
        if target.account is not None:
            mask = f"account:{target.account}"
        else:
            mask = target.address or nick_key(target.nick)
        expires = None if seconds is None else self.chat.clock.seconds() + seconds
        self.state.restrict(
            Restriction("mute", room.key, mask, expires, "", member.nick)
        )
        duration = None if seconds is None else describe_duration(seconds)
        line = texts.muted(member.nick, target.nick, room.name, duration)
        self._act(member, room, line, "muted", target.nick, expiry=expires)
        return None

    def unmute(self, member: ChatMember, argument: str) -> Completion:
        """C{/unmute NICK}: lift the mutes that hold NICK in the room."""
        if not argument:
            member.send_error(texts.UNMUTE_USAGE)
            return None
        room = self._operator_room(member)
        target = None if room is None else self._target(member, argument, room)
        if room is None or target is None:
            return None
        lifted = [
            self.state.lift("mute", room.key, each.mask)
            for each in self.state.restrictions("mute", room.key)
            if _mask(each.mask).matches(target.nick, target.account, target.address)
        ]
        if lifted:
            line = texts.unmuted(member.nick, target.nick, room.name)
            self._act(member, room, line, "unmuted", target.nick)
        else:
            member.send_error(texts.no_such_restriction(target.nick, room.name))
        return None

    def op(self, member: ChatMember, argument: str) -> Completion:
        """C{/op NICK}: an identified member becomes an operator of the room."""
        return self._set_operator(member, argument, True)

    def deop(self, member: ChatMember, argument: str) -> Completion:
        """C{/deop NICK}: an operator of the room no longer is."""
        return self._set_operator(member, argument, False)

    def _set_operator(
        self, member: ChatMember, nick: str, operator: bool
    ) -> Completion:
        if not nick:
            member.send_error(texts.OP_USAGE if operator else texts.DEOP_USAGE)
            return None
        room = self._operator_room(member)
        target = None if room is None else self._target(member, nick, room)
        if room is None or target is None:
            return None
        if target.account is None:
            member.send_error(texts.not_identified_as_operator(target.nick))
            return None
        if self.state.set_operator(room.key, target.account, operator):
            change = texts.opped if operator else texts.deopped
            line = change(member.nick, target.nick, room.name)
            self._act(member, room, line, "op" if operator else "deop", target.nick)
        return None

    def lock(self, member: ChatMember, argument: str) -> Completion:
        """C{/lock}: only the room's operators may set its topic."""
        return self._lock(member, True)

    def unlock(self, member: ChatMember, argument: str) -> Completion:
        """C{/unlock}: anyone in the room may set its topic."""
        return self._lock(member, False)

    def _lock(self, member: ChatMember, locked: bool) -> Completion:
        room = self._operator_room(member)
        if room is None:
            return None
        self.state.lock_topic(room.key, locked)
        line = texts.topic_lock(member.nick, room.name, locked)
        self._act(member, room, line, "locked" if locked else "unlocked", room.name)
        return None
