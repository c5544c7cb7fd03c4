"""
Registered nicks, for every backend and front door: C{/register}, C{/identify},
C{/logout}, C{/password}, and the guard that renames whoever holds a registered nick
without identifying as it (see C{docs/chat-protocol.md}, "Accounts").

An account is a nick's key (L{nick_key}); a member identified as one has it in
C{member.account}. Passwords are checked by L{PasswordHasher} off the reactor thread
and guessed slowly (L{LoginLimiter}); a failed login says the same whether the
account exists or not.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Final

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall
from twisted.logger import Logger

from twisted_tcp.chat import texts
from twisted_tcp.chat.interfaces import ChatMember, Completion
from twisted_tcp.chat.names import nick_key
from twisted_tcp.chat.passwords import (
    BusyError,
    LoginLimiter,
    PasswordHasher,
    password_problem,
)
from twisted_tcp.chat.state import Authority

if TYPE_CHECKING:
    from twisted_tcp.chat.core import ChatCore

#: The nicks the chat gives newcomers: never registered.
GUEST_PREFIX: Final = "guest-"


class Accounts:
    """
    The account commands of one chat, over its L{Authority}.

    @param chat: the chat whose members these are.
    """

    log = Logger()

    def __init__(self, chat: ChatCore, authority: Authority) -> None:
        self.chat = chat
        self.state = authority.state
        self.hasher = authority.hasher or PasswordHasher(chat._reactor)
        self.limiter = LoginLimiter(lambda: chat.clock.seconds())
        self.grace = authority.nick_grace
        #: Members holding a registered nick unidentified, and their deadline.
        self._guards: dict[ChatMember, IDelayedCall] = {}

    def register(self, member: ChatMember, argument: str) -> Completion:
        """C{/register PASSWORD}: the member's nick becomes its account."""
        problem = password_problem(argument) if argument else texts.REGISTER_USAGE
        nick = member.nick
        if nick_key(nick).startswith(GUEST_PREFIX):
            problem = texts.GUEST_NICK
        elif member.account == nick_key(nick):
            problem = texts.already_registered(nick)
        if problem:
            member.send_error(problem)
            return None
        account = nick_key(nick)

        async def register() -> None:
            hashed = await self.hasher.hash(argument)
            if not await self.state.create_account(account, hashed):
                member.send_error(texts.already_registered(nick))
                return
            self._identified(member, account)
            member.send_text(texts.registered(nick))
            self.log.info("{actor} registered", actor=nick, event="register")

        return self._answer(member, register())

    def identify(self, member: ChatMember, argument: str) -> Completion:
        """C{/identify [NICK] PASSWORD}: log in, and take the nick if given."""
        words = argument.split()
        if len(words) not in (1, 2):
            member.send_error(texts.IDENTIFY_USAGE)
            return None
        nick, password = words if len(words) == 2 else (member.nick, words[0])
        account = nick_key(nick)
        if member.account == account:
            member.send_error(texts.already_identified(nick))
            return None

        async def logged_in(right: bool) -> None:
            if not right:
                return
            self._identified(member, account)
            member.send_text(texts.identified(nick))
            self.log.info(
                "{actor} identified as {target}",
                actor=member.nick,
                target=account,
                event="identify",
            )
            if nick_key(member.nick) != account:
                await self._take(member, nick)
            else:
                self.chat.moderation.check_member(member)

        return self._login(member, account, password, logged_in)

    def logout(self, member: ChatMember, argument: str) -> Completion:
        """C{/logout}: no longer identified (the nick guard starts if it applies)."""
        if member.account is None:
            member.send_error(texts.NOT_IDENTIFIED)
            return None
        member.account = None
        member.send_text(texts.LOGGED_OUT)
        return self.check_nick(member)

    def password(self, member: ChatMember, argument: str) -> Completion:
        """C{/password OLD NEW}: change the password of the member's account."""
        words = argument.split()
        account = member.account
        if len(words) != 2:
            member.send_error(texts.PASSWORD_USAGE)
            return None
        if account is None:
            member.send_error(texts.NOT_IDENTIFIED)
            return None
        problem = password_problem(words[1])
        if problem:
            member.send_error(problem)
            return None

        async def change(right: bool) -> None:
            if right:
                hashed = await self.hasher.hash(words[1])
                await self.state.set_hash(account, hashed)
                member.send_text(texts.PASSWORD_CHANGED)

        return self._login(member, account, words[0], change)

    def _login(
        self,
        member: ChatMember,
        account: str,
        password: str,
        then: Callable[[bool], Coroutine[Any, Any, None]],
    ) -> Completion:
        """
        Check C{password} against C{account}, unless the address or the account
        must wait (see L{LoginLimiter}); then call C{then} with whether it was right.
        """
        keys = (f"address:{member.address}", f"account:{account}")
        wait = self.limiter.wait(*keys)
        if wait > 0:
            member.send_error(texts.too_many_attempts(wait))
            return None

        async def login() -> None:
            stored = await self.state.account_hash(account)
            right = await self.hasher.check(password, stored)
            if right:
                self.limiter.succeeded(*keys)
            else:
                self.limiter.failed(*keys)
                member.send_error(texts.WRONG_LOGIN)
                self.log.info(
                    "failed login of {target} from {address}",
                    target=account,
                    address=member.address,
                    event="login-failed",
                )
            await then(right)

        return self._answer(member, login())

    def _answer(
        self, member: ChatMember, work: Coroutine[Any, Any, None]
    ) -> Deferred[None]:
        """Run C{work}; a busy hasher is told to the member."""

        async def answer() -> None:
            try:
                await work
            except BusyError:
                member.send_error(texts.BUSY)

        return Deferred.fromCoroutine(answer())

    def _identified(self, member: ChatMember, account: str) -> None:
        member.account = account
        self._unguard(member)

    async def _take(self, member: ChatMember, nick: str) -> None:
        """Give an identified member its account's nick, from whoever holds it."""
        holder = self.chat.member_named(nick)
        if holder is not None and holder.account != nick_key(nick):
            await self._rename_away(holder)
        await _done(self.chat.rename(member, nick))

    # The guard of registered nicks.

    def check_nick(self, member: ChatMember) -> Completion:
        """
        After C{member} took its nick (or logged out): if the nick is registered to
        another account, it has L{Authority.nick_grace} seconds to identify.
        """
        self._unguard(member)
        account = nick_key(member.nick)
        if member.account == account or account.startswith(GUEST_PREFIX):
            self.chat.moderation.check_member(member)
            return None

        def guard(stored: str | None) -> None:
            if stored is not None and nick_key(member.nick) == account:
                member.send_text(texts.nick_registered(member.nick, self.grace))
                self._guards[member] = self.chat.clock.callLater(
                    self.grace, self._expire, member, account
                )
            self.chat.moderation.check_member(member)

        return self.state.account_hash(account).addCallback(guard)

    def _unguard(self, member: ChatMember) -> None:
        pending = self._guards.pop(member, None)
        if pending is not None and pending.active():
            pending.cancel()

    def _expire(self, member: ChatMember, account: str) -> None:
        """The grace is over: rename C{member} if it still holds C{account}'s nick."""
        self._guards.pop(member, None)
        here = self.chat.member_named(member.nick) is member
        if here and nick_key(member.nick) == account and member.account != account:
            self._rename_away(member)

    def _rename_away(self, member: ChatMember) -> Deferred[None]:
        """Rename a member holding a registered nick without being identified."""
        member.send_text(texts.renamed_unidentified(member.nick))
        self.log.info(
            "{target} renamed: a registered nick", target=member.nick, event="rename"
        )
        return Deferred.fromCoroutine(
            _done(self.chat.rename(member, self.chat.guest_nick()))
        )


async def _done(completion: Completion) -> None:
    """Wait for a chat request that may complete later."""
    if completion is not None:
        await completion
