"""
Connections kept open between the transfers of one run (docs/http-client.md,
"Many URLs"): after a response whose framing said where it ended, an HTTP/1.1 one
without C{Connection: close}, the connection waits here for the next request to
the same server (through the same proxy). One the server closes while it waits
is forgotten; one found closed when a request is sent on it is replaced by a new
connection, once.
"""

from __future__ import annotations

from collections.abc import Hashable

from twisted_tcp.http.protocol import GetProtocol


class Pool:
    """Idle connections by where they lead; L{close} ends them all."""

    def __init__(self) -> None:
        self._idle: dict[Hashable, list[GetProtocol]] = {}
        #: Connections opened, and requests sent on a connection already used.
        self.opened = 0
        self.reused = 0

    def take(self, key: Hashable) -> GetProtocol | None:
        """An idle connection to C{key}, if one is still open."""
        waiting = self._idle.get(key, [])
        while waiting:
            protocol = waiting.pop()
            if protocol.idle and not protocol.closed:
                self.reused += 1
                return protocol
        return None

    def give(self, key: Hashable, protocol: GetProtocol) -> None:
        """C{protocol}'s response is complete; keep it if it can carry another."""
        if protocol.idle and not protocol.closed:
            self._idle.setdefault(key, []).append(protocol)

    def close(self) -> None:
        """Close every idle connection (the run is over)."""
        for waiting in self._idle.values():
            for protocol in waiting:
                if protocol.transport is not None and not protocol.closed:
                    protocol.transport.loseConnection()
        self._idle.clear()
