"""
SIGHUP reloads what a server reads from files (docs/operating.md, "Reload"): the
certificate and key of each C{ssl:} listener, and the chat's message of the day.

Each thing reloaded is read whole and checked before it replaces the one in use; one
that cannot be read or is not valid is logged in one line and the old one kept.
Connections stay open either way.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterable
from types import FrameType
from typing import Any

from twisted.application.service import IServiceCollection, Service
from twisted.logger import Logger

from twisted_tcp._listen import ReloadableTLS

#: Reads a file again and puts it in use, or raises L{ValueError} saying why not.
Reload = Callable[[], None]


class Reloader(Service):
    """Calls each of its reloads on SIGHUP, while it runs."""

    log = Logger()

    def __init__(self, reactor: Any) -> None:
        self.reactor = reactor
        self.reloads: list[tuple[str, Reload]] = []
        self._previous: Any = None

    def add(self, what: str, reload: Reload) -> None:
        """Reload C{what} (named so in the log) on SIGHUP by calling C{reload}."""
        self.reloads.append((what, reload))

    def startService(self) -> None:
        super().startService()
        self._previous = signal.signal(signal.SIGHUP, self._hangup)

    def stopService(self) -> None:
        super().stopService()
        signal.signal(signal.SIGHUP, self._previous)

    def _hangup(self, number: int, frame: FrameType | None) -> None:
        self.reactor.callFromThread(self.reload)

    def reload(self) -> None:
        """Reload everything; what fails is logged and the old one kept."""
        for what, reload in self.reloads:
            try:
                reload()
            except ValueError as error:
                self.log.error(
                    "cannot reload {what}: {error}; keeping the one in use",
                    what=what,
                    error=error,
                )
            else:
                self.log.info("reloaded {what}", what=what)


def tls_listeners(services: IServiceCollection) -> Iterable[ReloadableTLS]:
    """The TLS settings of the C{ssl:} endpoints the services listen on."""
    for service in services:
        endpoint = getattr(service, "endpoint", None)
        tls = getattr(endpoint, "_sslContextFactory", None)
        if isinstance(tls, ReloadableTLS):
            yield tls
