"""
Sending on a TCP transport at once when nothing is waiting to be sent.

Twisted's TCP transport never sends inside C{write()}: it buffers the bytes, asks the
reactor to watch the socket for writability, and sends on a later loop iteration
(Twisted issue #5303, open since 2011). For a server answering small messages that is
two C{epoll_ctl} calls and one more reactor event per reply: on the echo benchmark it
halves the round trips per second (see C{bench/README.md}). asyncio and uvloop try the
send first and buffer only what the kernel does not take; L{write_through} does the
same for Twisted's own TCP transports.

Anything else (TLS, whether from an C{ssl:} endpoint or C{startTLS}; test transports; a
transport with bytes already queued, or one that is closing) goes through
C{transport.write} unchanged, so ordering, producers and pushback behave exactly as
Twisted defines them: bytes are only sent directly when the transport's buffer is
empty, and what the kernel does not take is handed to C{write()}.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.interfaces import ITransport
from twisted.internet.tcp import Connection


def write_through(transport: ITransport, data: bytes) -> None:
    """Send C{data} now if the transport is idle; buffer what remains as usual."""
    if data and _idle(transport):
        sent = transport.writeSomeData(data)  # type: ignore[attr-defined]
        if isinstance(sent, int):
            if sent == len(data):
                return
            data = data[sent:]
        # A lost connection comes back as an exception instance: write() buffers the
        # bytes and the reactor reports the loss from its next write attempt.
    transport.write(data)


def _idle(transport: Any) -> bool:
    """
    A connected Twisted TCP (or UNIX) transport, not switched to TLS, that may send
    and has nothing queued.
    """
    if not isinstance(transport, Connection):
        return False
    try:
        return bool(
            transport.connected
            and not transport.TLS
            and not transport.disconnecting
            and not transport._writeDisconnecting
            and not transport.dataBuffer
            and not transport._tempDataBuffer
        )
    except AttributeError:  # pragma: no cover - a Twisted whose internals moved.
        return False
