"""
An epoll reactor without the per-event log context (see C{docs/reactor.md}).

Twisted's epoll reactor hands every ready socket to C{_doReadOrWrite} through
C{log.callWithLogger}: for each event it asks the socket for its C{logPrefix()}, copies
the legacy logging context, pushes it, calls, pops it, and wraps the call in its own
C{try}. That context is read only by the legacy C{twisted.python.log.msg} and
C{log.err} (as their C{system} field); events from C{twisted.logger.Logger}, which
all of twisted-tcp uses, never look at it. On an echo server under load the wrapping
costs more than the protocol's own code.

L{LeanEPollReactor} is Twisted's C{EPollReactor} with C{doPoll} calling
C{_doReadOrWrite} directly, and C{_doReadOrWrite} asking for the socket's log prefix
only when something went wrong. The connections its TCP ports accept are
L{LeanServer}s, Twisted's server transport whose C{doRead} hands the bytes to the
protocol itself rather than through one more method. Everything else is Twisted's. An
exception raised by a protocol is still caught, logged with its traceback and the
connection's log prefix, and the connection dropped; the reactor carries on.

Use it with C{twist --reactor lean-epoll ...}; the twisted-tcp plugins pick it by
themselves when no C{--reactor} is given.
"""

from __future__ import annotations

import errno
import sys
from typing import Any

from twisted.internet import tcp
from twisted.internet.epollreactor import EPollReactor
from twisted.internet.error import ConnectionDone, ConnectionLost
from twisted.internet.interfaces import IProtocolFactory
from twisted.internet.main import CONNECTION_DONE, CONNECTION_LOST, installReactor
from twisted.internet.posixbase import _NO_FILEDESC
from twisted.python import log

__all__ = ["LeanEPollReactor", "LeanServer", "install"]

_DISCONNECTED = EPollReactor._POLL_DISCONNECTED
_IN = EPollReactor._POLL_IN
_OUT = EPollReactor._POLL_OUT


class LeanServer(tcp.Server):
    """
    Twisted's TCP server transport, reading as Twisted's does but handing the bytes
    to the protocol in C{doRead} itself: Twisted's C{doRead} passes them through
    C{_dataReceived}, one more Python call per read that only tests for the end of
    input. The outcomes are Twisted's: no bytes yet, nothing; the peer's clean close,
    C{CONNECTION_DONE}; a failed C{recv}, C{CONNECTION_LOST}; an exception from the
    protocol propagates to the reactor, which logs it and drops the connection.
    What C{dataReceived} returns is ignored, as by Twisted 26.10 (Twisted 25.5 and
    older took a non-C{None} return, deprecated since 11.0, as a reason to
    disconnect). A
    connection switched to TLS (C{startTLS}) has a TLS protocol in front of the
    application's, which receives the bytes here as it would there.
    """

    # Typed as Twisted's Connection.doRead; mypy compares with a mixin's lambda.
    def doRead(self) -> ConnectionLost | ConnectionDone | None:  # type: ignore[override]
        """Read what the socket has (up to C{bufferSize}); give it to the protocol."""
        try:
            data = self.socket.recv(self.bufferSize)
        except OSError as error:
            if error.args[0] == errno.EWOULDBLOCK:
                return None
            return CONNECTION_LOST
        if not data:
            return CONNECTION_DONE
        self.protocol.dataReceived(data)
        return None


class LeanPort(tcp.Port):
    """Twisted's TCP listening port, making a L{LeanServer} of each connection."""

    transport = LeanServer


class LeanEPollReactor(EPollReactor):
    """
    Twisted's epoll reactor, dispatching each ready socket straight to its C{doRead}
    or C{doWrite}, without pushing a legacy log context around the call; its TCP
    ports accept L{LeanServer} connections.
    """

    def listenTCP(
        self,
        port: int,
        factory: IProtocolFactory,
        backlog: int = 50,
        interface: str = "",
    ) -> LeanPort:
        """As Twisted's C{listenTCP} (also under C{listenSSL}), with L{LeanPort}."""
        listening = LeanPort(port, factory, backlog, interface, self)
        listening.startListening()
        return listening

    def doPoll(self, timeout: float | None) -> None:
        """Wait for events (at most C{timeout} seconds) and dispatch them."""
        try:
            events = self._poller.poll(-1 if timeout is None else timeout,
                                       len(self._selectables))  # fmt: skip
        except OSError as error:
            if error.errno == errno.EINTR:
                return
            raise
        selectables = self._selectables
        dispatch = self._doReadOrWrite
        for fd, event in events:
            selectable = selectables.get(fd)
            if selectable is None:
                continue
            try:
                dispatch(selectable, fd, event)
            except KeyboardInterrupt:
                raise
            except BaseException:
                # From the disconnection path (a protocol's connectionLost):
                # Twisted's callWithLogger logs these too and goes on.
                log.err(system=_log_prefix(selectable))

    doIteration = doPoll

    def _doReadOrWrite(self, selectable: Any, fd: int, event: int) -> None:
        """
        Read or write, and disconnect the socket if that says so or raises; as
        Twisted's, with the log prefix looked up only for an exception.
        """
        why: Any = None
        in_read = False
        if event & _DISCONNECTED and not event & _IN:
            # A hang-up with no input left: a clean close if we were reading (it may
            # be a half-close), a lost connection otherwise.
            if fd in self._reads:
                in_read = True
                why = CONNECTION_DONE
            else:
                why = CONNECTION_LOST
        else:
            try:
                if selectable.fileno() == -1:
                    why = _NO_FILEDESC
                else:
                    if event & _IN:
                        why = selectable.doRead()
                        in_read = True
                    if not why and event & _OUT:
                        why = selectable.doWrite()
                        in_read = False
            except BaseException:
                why = sys.exc_info()[1]
                log.err(system=_log_prefix(selectable))
        if why:
            self._disconnectSelectable(selectable, why, in_read)


def _log_prefix(selectable: Any) -> str:
    """What C{log.callWithLogger} would have put in an error's C{system} field."""
    try:
        return str(selectable.logPrefix())
    except Exception:
        return "(buggy logPrefix method)"


def install() -> LeanEPollReactor:
    """Install a L{LeanEPollReactor} as the global reactor."""
    reactor = LeanEPollReactor()
    installReactor(reactor)
    return reactor
