"""
The terminal side of the interactive clients: lines from standard input, text to
standard output, both through L{twisted.internet.stdio} so neither blocks the reactor.

The protocol is half-closeable on purpose: when standard input ends, StandardIO would
otherwise report the whole connection lost before standard output has drained, and
the tail of the output would be lost when the process exits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol as Interface

from twisted.internet import stdio
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IHalfCloseableProtocol
from twisted.internet.protocol import Protocol, connectionDone
from twisted.python.failure import Failure
from zope.interface import implementer

#: Standard input and output are taken to be UTF-8 (the only encoding Python uses
#: for them on a modern POSIX system); the network side may use another.
CONSOLE_ENCODING = "utf-8"


@implementer(IHalfCloseableProtocol)
class Console(Protocol):
    """
    Calls C{on_line} with each line typed or piped in (without its line end) and
    C{on_end} at the end of input; L{write} prints; L{close} flushes and fires
    L{closed}.
    """

    def __init__(
        self, on_line: Callable[[str], None], on_end: Callable[[], None]
    ) -> None:
        self._on_line = on_line
        self._on_end = on_end
        self._buffer = b""
        self.closed: Deferred[None] = Deferred()

    def dataReceived(self, data: bytes) -> None:
        *lines, self._buffer = (self._buffer + data).split(b"\n")
        for line in lines:
            self._on_line(line.removesuffix(b"\r").decode(CONSOLE_ENCODING, "replace"))

    def readConnectionLost(self) -> None:
        if self._buffer:
            self.dataReceived(b"\n")
        self._on_end()

    def writeConnectionLost(self) -> None:
        """Standard output was closed (say, a pipe whose reader left): stop."""
        self.close()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if not self.closed.called:
            self.closed.callback(None)

    def ignore_input(self) -> None:
        """Do not read standard input (the lines come from elsewhere)."""
        assert self.transport is not None
        self.transport.pauseProducing()  # type: ignore[attr-defined]

    def write(self, text: str) -> None:
        assert self.transport is not None
        self.transport.write(text.encode(CONSOLE_ENCODING, "replace"))

    def close(self) -> Deferred[None]:
        """Flush standard output and stop; C{closed} fires when done."""
        if self.transport is not None and not self.closed.called:
            self.transport.loseConnection()
        return self.closed


class LineConsole(Interface):
    """What a line session needs of its console: L{Console} or a line editor."""

    def write(self, text: str) -> None: ...

    def ignore_input(self) -> None: ...

    def close(self) -> Deferred[None]: ...


class ConsoleOpener(Interface):
    """L{open_console}, or another way to open a L{LineConsole}."""

    def __call__(
        self,
        reactor: object,
        on_line: Callable[[str], None],
        on_end: Callable[[], None],
    ) -> LineConsole: ...


def open_console(
    reactor: object, on_line: Callable[[str], None], on_end: Callable[[], None]
) -> Console:
    """Attach a L{Console} to this process's standard input and output."""
    console = Console(on_line, on_end)
    stdio.StandardIO(console, reactor=reactor)
    return console
