"""
L{Outbox}: what a node's members post (messages, actions, arrivals), on its way to
Redis, batched: everything posted to a room during one reactor turn goes in one
script, so it reaches every node's reader together and is written to each member
at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.python.failure import Failure

#: Lines and arrivals sent to Redis in one script at most.
MAX_POST_BATCH: Final = 500

#: One posting: the room's key, its kind (L{schema.Kind}), its text, and who waits
#: to hear that Redis has it (nobody, for an arrival).
_Posting = tuple[str, str, str, Deferred[None] | None]


class Outbox:
    """
    Postings waiting for the end of the reactor turn (or for L{MAX_POST_BATCH} of
    them) to go to Redis.

    @param clock: schedules the end-of-turn send.
    @param post: sends one room's postings (the room's key, then kind and text of
        each) in one script; its L{Deferred} fires once Redis has them.
    @param lost: called with the failure of a send nobody waits for.
    """

    def __init__(
        self,
        clock: IReactorTime,
        post: Callable[[str, list[str]], Deferred[Any]],
        lost: Callable[[Failure], object],
    ) -> None:
        self._clock = clock
        self._post = post
        self._lost = lost
        self._waiting: list[_Posting] = []
        self._call: IDelayedCall | None = None

    def __len__(self) -> int:
        """How many postings wait (for C{--metrics})."""
        return len(self._waiting)

    def queue(
        self, room: str, kind: str, text: str, waiter: Deferred[None] | None
    ) -> None:
        """Post C{text} to C{room} by the end of this turn; then fire C{waiter}."""
        self._waiting.append((room, kind, text, waiter))
        if len(self._waiting) >= MAX_POST_BATCH:
            self.send()
        elif self._call is None:
            self._call = self._clock.callLater(0, self.send)

    def send(self) -> None:
        """
        Send what is queued, one script per run of it to the same room: the lines of
        one read of a sender's reach Redis together; the arrivals of a join storm
        cost one script per turn, not each one. (Called too before any other
        command, which must reach Redis after them.)
        """
        if self._call is not None:
            if self._call.active():
                self._call.cancel()
            self._call = None
        waiting, self._waiting = self._waiting, []
        while waiting:
            room = waiting[0][0]
            run = 1
            while run < min(len(waiting), MAX_POST_BATCH) and waiting[run][0] == room:
                run += 1
            batch, waiting = waiting[:run], waiting[run:]
            arguments: list[str] = []
            waiters = []
            for _, kind, text, waiter in batch:
                arguments += (kind, text)
                if waiter is not None:
                    waiters.append(waiter)
            posting = self._post(room, arguments)
            if waiters:
                posting.addCallbacks(
                    _settle, _fail, callbackArgs=(waiters,), errbackArgs=(waiters,)
                )
            else:
                posting.addErrback(self._lost)


def _settle(_: object, waiters: list[Deferred[None]]) -> None:
    for waiter in waiters:
        waiter.callback(None)


def _fail(failure: Failure, waiters: list[Deferred[None]]) -> None:
    for waiter in waiters:
        waiter.errback(failure)
