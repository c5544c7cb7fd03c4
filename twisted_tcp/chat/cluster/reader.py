"""
Reading Redis streams as they grow: one blocking C{XREAD} at a time, on a connection of
its own, over a set of streams that changes while it runs (the rooms a node has members
in, and its inbox). Each stream is read from the entry after the last one handed on,
so after a lost connection reading resumes exactly where it stopped: nothing is missed
and nothing is handed on twice.

A blocked C{XREAD} does not see a stream added to the set. Adding one therefore also
appends a wake-up entry to a stream that is always in the set (the node's inbox): that
ends the blocked read at once, or, if the read has not reached Redis yet, is returned
by it straight away, so the next read includes the new stream. Wake-up entries are not
handed on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from twisted_tcp.chat.cluster.link import (
    RedisLink,
    RedisReplyError,
    RedisUnavailableError,
)

#: Milliseconds one XREAD waits for new entries before it is sent again.
BLOCK_MS: Final = 5000
#: Entries read from one stream at most in one XREAD.
READ_COUNT: Final = 1000
#: Seconds to wait before reading again after Redis answered a read with an error.
RETRY_DELAY: Final = 1.0
#: The field of a wake-up entry (see the module docstring).
WAKE_FIELD: Final = "wake"
#: Wake-up entries kept in the wake stream.
WAKE_KEEP: Final = 100

#: Receives each entry read: the stream's key, the entry's id and its fields.
Deliver = Callable[[str, str, dict[str, str]], None]


def stream_id(text: str) -> tuple[int, int]:
    """A stream entry id (C{MILLISECONDS-SEQUENCE}) in a form that sorts correctly."""
    milliseconds, _, sequence = text.partition("-")
    return int(milliseconds), int(sequence or 0)


class StreamReader:
    """
    Hands on the entries of a changing set of streams, in each stream's order.

    @param link: the connection the blocking reads use (its own: a blocked read holds
        it).
    @param command: another connection, used to append wake-up entries.
    @param wake_key: the stream that is always read and that wake-up entries go to.
    @param deliver: called with each entry read (see L{Deliver}); it may L{hold} a
        stream, whose further entries then wait until it is L{release}d.
    """

    log = Logger()

    def __init__(
        self,
        link: RedisLink,
        command: RedisLink,
        wake_key: str,
        deliver: Deliver,
        *,
        clock: IReactorTime,
        block_ms: int = BLOCK_MS,
    ) -> None:
        self.link = link
        self.command = command
        self.wake_key = wake_key
        self.deliver = deliver
        self.positions: dict[str, str] = {wake_key: "$"}
        self._clock = clock
        self._block_ms = block_ms
        self._held: dict[str, list[tuple[str, dict[str, str]]]] = {}
        self._reading = False
        self._running = False
        self._retry: IDelayedCall | None = None

    def start(self, wake_from: str = "0-0") -> None:
        """
        Start reading (now if the link is ready, else once it is).

        @param wake_from: read the wake stream after this id (C{0-0}: all of it).
        """
        self.positions[self.wake_key] = wake_from
        self._running = True
        self._read()

    def stop(self) -> None:
        """Read no more (a read in progress is ignored when it ends)."""
        self._running = False
        if self._retry is not None and self._retry.active():
            self._retry.cancel()

    def connected(self) -> None:
        """The link is ready again: resume reading where it stopped."""
        self._read()

    # The set of streams.

    def track(self, key: str, after: str) -> None:
        """Read the stream C{key} from the entry after C{after} on."""
        self.positions[key] = after
        self._held.pop(key, None)
        if self._reading and self.command.ready:
            self.command.execute(
                "XADD", self.wake_key, "MAXLEN", "~", WAKE_KEEP, "*", WAKE_FIELD, "1"
            ).addErrback(lambda _: None)

    def untrack(self, key: str) -> None:
        """Stop reading the stream C{key}; entries of it still in flight are ignored."""
        if key != self.wake_key:
            self.positions.pop(key, None)
            self._held.pop(key, None)

    def tracking(self, key: str) -> bool:
        """Whether the stream C{key} is being read."""
        return key in self.positions

    def hold(self, key: str, entry: tuple[str, dict[str, str]] | None = None) -> None:
        """
        Keep the entries of C{key} that are read from now on until L{release}.

        @param entry: the entry being handed on, if C{deliver} holds the stream
            because it cannot take that entry yet: it is handed on again first.
        """
        held = self._held.setdefault(key, [])
        if entry is not None:
            held.insert(0, entry)

    def release(self, key: str) -> None:
        """Hand on the entries kept back by L{hold}, and later ones as they come."""
        waiting = self._held.pop(key, [])
        for index, (entry_id, fields) in enumerate(waiting):
            self._hand_on(key, entry_id, fields)
            if key in self._held:
                self._held[key].extend(waiting[index + 1 :])
                return

    # Reading.

    def _read(self) -> None:
        if self._reading or not self._running or not self.link.ready:
            return
        self._reading = True
        keys = list(self.positions)
        ids = [self.positions[key] for key in keys]
        reading = self.link.execute(
            "XREAD", "COUNT", READ_COUNT, "BLOCK", self._block_ms,
            "STREAMS", *keys, *ids,
            timeout=self._block_ms / 1000 + self.link.reply_timeout,
        )  # fmt: skip
        reading.addCallbacks(self._got, self._failed)

    def _got(self, reply: Any) -> None:
        self._reading = False
        if not self._running:
            return
        for key, entries in reply or ():
            for entry_id, flat in entries:
                self._handle(key, entry_id, flat)
        self._read()

    def _handle(self, key: str, entry_id: str, flat: list[str]) -> None:
        position = self.positions.get(key)
        if position is None:
            return
        if position != "$" and stream_id(entry_id) <= stream_id(position):
            return
        self.positions[key] = entry_id
        fields = dict(zip(flat[::2], flat[1::2], strict=True))
        if WAKE_FIELD in fields:
            return
        held = self._held.get(key)
        if held is not None:
            held.append((entry_id, fields))
        else:
            self._hand_on(key, entry_id, fields)

    def _hand_on(self, key: str, entry_id: str, fields: dict[str, str]) -> None:
        """
        Hand on one entry. If that raises, the entry is logged and passed over: one
        entry must not stop the reading of every stream (the rest of the read, and
        every read after it, would never be handed on).
        """
        try:
            self.deliver(key, entry_id, fields)
        except Exception:
            self.log.failure(
                "handing on entry {id} of {key} failed", id=entry_id, key=key
            )

    def _failed(self, failure: Failure) -> None:
        self._reading = False
        if not self._running:
            return
        if failure.check(RedisUnavailableError):
            # The link reconnects by itself and calls connected() once ready.
            self._read()
            return
        if failure.check(RedisReplyError):
            self.log.error(
                "reading {keys} failed: {error}",
                keys=list(self.positions),
                error=failure.getErrorMessage(),
            )
        else:
            self.log.failure("reading the room streams failed", failure)
        self._retry = self._clock.callLater(RETRY_DELAY, self._read)
