"""
Moving a body from a TCP socket into a file without copying it through Python.

On Linux, C{splice(2)} moves bytes from a socket into a pipe and from the pipe into a
file inside the kernel: the body never becomes a Python C{bytes} object, and there is
no per-read Python work beyond one loop turn per pipe-full. L{BodySplicer} does that
for an identity body (no transfer or content coding to undo, nothing to hash) once
the response head has been parsed; everywhere else, and for any body it cannot take,
the client reads as usual.

The transport stops reading while the splicer works on a duplicate of its socket's
descriptor, registered with the reactor in its own right; when the body is complete
(or fails) the splicer unregisters and closes what it opened, and its owner drops the
connection, as it does after any response.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable
from typing import Any, Final

from twisted.internet.error import ConnectionDone, ConnectionLost
from twisted.internet.interfaces import IReadDescriptor
from twisted.python.failure import Failure
from zope.interface import implementer

from twisted_tcp.http.errors import HTTPError, ShortBodyError
from twisted_tcp.http.sinks import AtomicFile

#: The pipe's size asked for (Linux allows up to /proc/sys/fs/pipe-max-size, 1 MiB by
#: default); one splice moves at most this much.
PIPE_SIZE: Final = 1 << 20
#: The most bytes moved per readable event before the reactor gets control back, so
#: timers (--max-time) and signals are not held up by a fast sender.
BUDGET: Final = 16 << 20

_HAS_SPLICE: Final = hasattr(os, "splice")
_F_SETPIPE_SZ: Final = getattr(fcntl, "F_SETPIPE_SZ", 1031)


def can_splice(transport: Any) -> bool:
    """Whether C{transport} is a plain TCP connection on a system with splice."""
    from twisted.internet.tcp import Connection

    return (
        _HAS_SPLICE
        and isinstance(transport, Connection)
        and not transport.TLS
        and not transport.disconnecting
    )


@implementer(IReadDescriptor)
class BodySplicer:
    """
    Splices the rest of a body from C{transport}'s socket into C{target}, the
    file being saved (at the position where the body goes on).

    @param remaining: the body bytes still to come, or C{None} for a body that ends
        when the server closes the connection.
    @param on_bytes: called with the count of each batch moved (after it is in the
        file); it may raise an L{HTTPError} (a size limit) to stop.
    @param on_end: called once with C{None} when the whole body is in the file, or
        with the failure (an L{HTTPError}) that ended it.
    """

    def __init__(
        self,
        reactor: Any,
        transport: Any,
        target: AtomicFile,
        remaining: int | None,
        on_bytes: Callable[[int], None],
        on_end: Callable[[Failure | None], None],
    ) -> None:
        self._reactor = reactor
        self._target = target
        self._descriptor = target.descriptor()
        self._remaining = remaining
        self._on_bytes = on_bytes
        self._on_end = on_end
        self._pipe_read, self._pipe_write = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        try:
            self._chunk = fcntl.fcntl(self._pipe_write, _F_SETPIPE_SZ, PIPE_SIZE)
        except OSError:
            self._chunk = 1 << 16  # The default pipe size.
        self._socket = os.dup(transport.fileno())
        self._transport = transport
        transport.stopReading()
        self._running = True
        reactor.addReader(self)

    def fileno(self) -> int:
        return self._socket

    def logPrefix(self) -> str:
        return "BodySplicer"

    def doRead(self) -> None:
        """
        Move what the socket has (up to L{BUDGET}) into the file. A broken
        connection ends the body with C{ConnectionLost}, a failed write with the
        target's L{WriteError}.
        """
        moved = 0
        try:
            while moved < BUDGET:
                count = self._splice_in()
                if count is None:  # Nothing more to read now.
                    break
                if count == 0:
                    self._at_end_of_input()
                    return
                self._splice_out(count)
                moved += count
                if self._remaining is not None:
                    self._remaining -= count
                self._on_bytes(count)
                if self._remaining == 0:
                    self._finish(None)
                    return
        except HTTPError:
            self._finish(Failure())
        except OSError as error:
            self._finish(Failure(ConnectionLost(error.strerror)))

    def _splice_in(self) -> int | None:
        """Socket to pipe: the bytes moved, 0 at the end of input, None if none yet."""
        want = self._chunk
        if self._remaining is not None:
            want = min(want, self._remaining)
        try:
            return os.splice(self._socket, self._pipe_write, want)
        except BlockingIOError:
            return None

    def _splice_out(self, count: int) -> None:
        """Pipe to file: all C{count} bytes the pipe holds."""
        while count:
            try:
                count -= os.splice(self._pipe_read, self._descriptor, count)
            except OSError as error:
                raise self._target.write_failed(error) from None

    def _at_end_of_input(self) -> None:
        if self._remaining is None:
            self._finish(None)
        else:
            self._finish(
                Failure(ShortBodyError("the connection ended before the body did"))
            )

    def connectionLost(self, reason: Failure) -> None:
        """The reactor saw the socket hang up, or doRead failed unexpectedly."""
        if reason.check(ConnectionDone):
            self._at_end_of_input()
        else:
            self._finish(reason)

    def stop(self) -> None:
        """Stop without reporting (the fetch was cancelled); close what was opened."""
        if not self._running:
            return
        self._running = False
        self._reactor.removeReader(self)
        for descriptor in (self._socket, self._pipe_read, self._pipe_write):
            os.close(descriptor)

    def _finish(self, outcome: Failure | None) -> None:
        if self._running:
            self.stop()
            self._on_end(outcome)
