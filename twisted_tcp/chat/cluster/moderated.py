"""
What accounts and operators (L{twisted_tcp.chat.accounts},
L{twisted_tcp.chat.moderation}) need of a node beyond the core's: a room's notices
through the room's log, and guest nicks. L{Moderated} is that part of L{RedisChat}.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from twisted_tcp.chat.cluster import scripts
from twisted_tcp.chat.cluster.schema import Field, Kind


class Moderated:
    """
    The node's side of accounts and operators. (A mixin: the node's state it
    reads is declared below.)
    """

    _run: Callable[..., Deferred[Any]]
    _ignore_outage: Callable[[Failure], None]

    def notice(self, room: str, line: str) -> None:
        """A line for every member of the room, on every node (not in its history)."""
        self._run(
            scripts.EVENT, room, scripts.LOG_KEEP, Field.KIND, Kind.MESSAGES,
            Field.TEXT, line,
        ).addErrback(self._ignore_outage)  # fmt: skip

    def guest_nick(self) -> str:
        """A guest nick of random digits (Redis numbers those of newcomers)."""
        return f"guest-{secrets.randbelow(10**9)}"
