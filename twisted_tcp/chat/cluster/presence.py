"""
L{Presence}: a node's heartbeat in Redis, and the judgement of the others' (see
C{docs/cluster.md}, "A node dies"). A node whose heartbeat is gone is declared lost,
its members let go; but heartbeats a node missed while it could not reach Redis
itself, or just after, do not count against the others.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from twisted_tcp.chat import texts
from twisted_tcp.chat.cluster import node_scripts, scripts
from twisted_tcp.chat.cluster.link import RedisUnavailableError

#: A node whose heartbeat is this many periods old is lost.
HEARTBEATS_TO_LOSS: Final = 5


class Presence:
    """
    A node's heartbeat, every C{period} seconds, and the declaration of the nodes
    whose heartbeat is gone.

    @param node: this node's id.
    @param run: runs one of L{scripts} (the prefix is added), after what the node
        sent before.
    @param ready: whether a heartbeat can be sent now.
    @param judging: whether the node may declare others lost now (it is available).
    @param forgotten: called when Redis has no heartbeat of this node (it lost its
        data, or declared the node lost): the node must re-assert its members.
    @param default_room: the key of the room lost members' departures go to, when
        theirs is gone.
    """

    log = Logger()

    def __init__(
        self,
        node: str,
        period: float,
        *,
        clock: IReactorTime,
        run: Callable[..., Deferred[Any] | Awaitable[Any]],
        ready: Callable[[], bool],
        judging: Callable[[], bool],
        forgotten: Callable[[], object],
        default_room: str,
    ) -> None:
        self.node = node
        self.period = period
        self._clock = clock
        self._run = run
        self._ready = ready
        self._judging = judging
        self._forgotten = forgotten
        self._default_room = default_room
        self._beat = LoopingCall(self._heartbeat)
        self._beat.clock = clock
        #: When this node last heard its heartbeat answered, and from when it may
        #: declare other nodes lost: not while its own link to Redis was down or
        #: late, nor just after (see L{_beaten}).
        self._last_beat: float | None = None
        self._judging_from = 0.0

    @property
    def lifetime_ms(self) -> int:
        """How long a heartbeat lasts in Redis, in milliseconds."""
        return int(self.period * HEARTBEATS_TO_LOSS * 1000)

    def start(self) -> None:
        self._beat.start(self.period, now=False)

    def stop(self) -> None:
        if self._beat.running:
            self._beat.stop()

    def heard(self) -> None:
        """Redis answers again: judge nobody for a heartbeat lifetime from now."""
        self._last_beat = self._clock.seconds()
        self._judge_after(self._last_beat)

    def _heartbeat(self) -> None:
        if not self._ready():
            return
        beat: Any = self._run(node_scripts.HEARTBEAT, self.node, self.lifetime_ms)
        beat.addCallbacks(self._beaten, self._failed)

    def _beaten(self, reply: list[Any]) -> None:
        alive, *silent = reply
        now = self._clock.seconds()
        if self._last_beat is not None and now - self._last_beat > 2 * self.period:
            # This node's own heartbeats were late (Redis froze, or its answers
            # were held up): the others' were too, through no fault of theirs.
            self._judge_after(now)
        self._last_beat = now
        if silent and self._judging() and now >= self._judging_from:
            self._declare_lost(silent)
        if not alive:
            self._forgotten()

    def _judge_after(self, now: float) -> None:
        """
        Declare no node lost for a heartbeat lifetime from C{now}: the time the
        others need to beat again once this node can hear them again.
        """
        self._judging_from = now + self.period * HEARTBEATS_TO_LOSS

    def _declare_lost(self, nodes: list[str]) -> None:
        """Retire C{nodes}, whose heartbeat is gone, unless they beat meanwhile."""
        declaring: Any = self._run(
            node_scripts.LOST,
            self._default_room,
            scripts.LOG_KEEP,
            scripts.LOST_MEMORY,
            texts.SERVER_LOST,
            *nodes,
        )

        def declared(lost: list[str]) -> None:
            for node in lost:
                self.log.warn("node {node} lost: its members were let go", node=node)

        declaring.addCallbacks(declared, self._failed)

    def _failed(self, failure: Failure) -> None:
        if not failure.check(RedisUnavailableError):
            self.log.failure("heartbeat failed", failure)
