"""
The arrival policy of every backend: a newcomer's join is announced at its first
line, or after L{ChatSettings.arrival_grace} seconds, once; so that a client that
names itself with C{/nick} as its first line is announced under that nick.
L{Arrivals} is that part of L{twisted_tcp.chat.core.ChatCore}.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from twisted.internet.interfaces import IDelayedCall, IReactorTime

    from twisted_tcp.chat.interfaces import ChatMember
    from twisted_tcp.chat.settings import ChatSettings


class Arrivals:
    """
    The newcomers whose join is not announced yet. (A mixin: the chat's state it
    reads is declared below; the backend announces, see L{_announce_arrival}.)
    """

    settings: ChatSettings
    #: Newcomers whose join is not announced yet, and the timer that will.
    _arrivals: dict[ChatMember, IDelayedCall]

    if TYPE_CHECKING:

        @property
        def clock(self) -> IReactorTime: ...

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
        """Tell C{member}'s room that it joined (the backend's to do)."""
        raise NotImplementedError
