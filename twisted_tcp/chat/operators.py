"""
The operators' commands (see C{docs/chat-protocol.md}, "Operators"): C{/claim},
C{/kick}, C{/ban}, C{/unban}, C{/bans}, C{/mute}, C{/unmute}, C{/op}, C{/deop},
C{/lock} and C{/unlock}, over the checks of L{Moderation}.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from twisted_tcp.chat import texts
from twisted_tcp.chat.interfaces import ChatMember, Completion
from twisted_tcp.chat.masks import Mask, describe_duration, parse_duration
from twisted_tcp.chat.moderation import Moderation, mask_of
from twisted_tcp.chat.names import nick_key
from twisted_tcp.chat.state import Restriction

if TYPE_CHECKING:
    from twisted_tcp.chat.room import Room


class Operators(Moderation):
    """What operators do, each answered, announced and logged."""

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
        found = self._acting_on(member, nick, texts.KICK_USAGE)
        if found is None:
            return None
        room, target = found
        reason = reason.strip() or texts.NO_REASON
        target.send_text(texts.you_were_kicked(member.nick, room.name, reason))
        self._send_out(target, room.key, f"kicked by {member.nick}: {reason}")
        line = texts.kicked(member.nick, target.nick, room.name, reason)
        self._act(member, room, line, "kicked", target.nick, reason)
        return None

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

    def _parse(self, member: ChatMember, text: str) -> Mask | None:
        try:
            return mask_of(text)
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
        lifted = self.state.lift("ban", room.key, mask.text)
        line = texts.unbanned(member.nick, mask.text, room.name)
        self._lifted(member, room, lifted, line, "unbanned", mask.text)
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
            words = [""]
        found = self._acting_on(member, words[0], texts.MUTE_USAGE)
        if found is None:
            return None
        room, target = found
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
        found = self._acting_on(member, argument, texts.UNMUTE_USAGE)
        if found is None:
            return None
        room, target = found
        lifted = [
            self.state.lift("mute", room.key, each.mask)
            for each in self.state.restrictions("mute", room.key)
            if mask_of(each.mask).matches(target.nick, target.account, target.address)
        ]
        line = texts.unmuted(member.nick, target.nick, room.name)
        self._lifted(member, room, any(lifted), line, "unmuted", target.nick)
        return None

    def _lifted(
        self,
        member: ChatMember,
        room: Room,
        lifted: bool,
        line: str,
        action: str,
        what: str,
    ) -> None:
        """Announce a lifted ban or mute, or tell the operator there was none."""
        if lifted:
            self._act(member, room, line, action, what)
        else:
            member.send_error(texts.no_such_restriction(what, room.name))

    def op(self, member: ChatMember, argument: str) -> Completion:
        """C{/op NICK}: an identified member becomes an operator of the room."""
        return self._set_operator(member, argument, True)

    def deop(self, member: ChatMember, argument: str) -> Completion:
        """C{/deop NICK}: an operator of the room no longer is."""
        return self._set_operator(member, argument, False)

    def _set_operator(
        self, member: ChatMember, nick: str, operator: bool
    ) -> Completion:
        usage = texts.OP_USAGE if operator else texts.DEOP_USAGE
        found = self._acting_on(member, nick, usage)
        if found is None:
            return None
        room, target = found
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

    def _acting_on(
        self, member: ChatMember, nick: str, usage: str
    ) -> tuple[Room, ChatMember] | None:
        """
        The room an operator acts in and the member C{nick} in it, or C{None}
        (told why: C{usage} without a nick, not an operator, no such member).
        """
        if not nick:
            member.send_error(usage)
            return None
        room = self._operator_room(member)
        target = None if room is None else self._target(member, nick, room)
        return None if room is None or target is None else (room, target)
