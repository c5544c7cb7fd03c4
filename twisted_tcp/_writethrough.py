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

from twisted.internet.interfaces import ITransport
from twisted.internet.tcp import Connection
from twisted.internet.unix import _SendmsgMixin


def write_through(transport: ITransport, data: bytes) -> None:
    """Send C{data} now if the transport is idle; buffer what remains as usual."""
    # Called for every reply, so the test is inline and the common case decided
    # first: a connected TCP (or UNIX) transport, not switched to TLS, that may send
    # and has nothing queued (no bytes, and no file descriptors to pass on a UNIX
    # socket).
    if (
        data
        and isinstance(transport, Connection)
        and transport.connected
        and not (
            transport.dataBuffer
            or transport._tempDataBuffer
            or transport.TLS
            or transport.disconnecting
            or transport._writeDisconnecting
        )
        and not (isinstance(transport, _SendmsgMixin) and transport._sendmsgQueue)
    ):
        # The socket's own send, not writeSomeData: that one wraps the bytes in a
        # memoryview and retries EINTR, which Python's send already does (PEP 475).
        try:
            sent = transport.socket.send(data)
        except OSError:
            # Not ready (EAGAIN, ENOBUFS), or the connection is lost: write() buffers
            # the bytes and the reactor's next write attempt reports any loss.
            sent = 0
        if sent == len(data):
            return
        data = data[sent:]
    transport.write(data)
