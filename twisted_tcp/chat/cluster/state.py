"""
L{RedisState}: a cluster's accounts, bans, mutes and room operators, in Redis (see
C{docs/cluster.md}, "Accounts and operators").

Accounts are asked of Redis when someone logs in. Bans, mutes, room owners,
operators and topic locks are read on every line, so each node keeps all of them in
memory: a change is written to Redis, where a version number counts changes, and
every node reloads them when it sees that number move (it looks at each heartbeat),
then applies new bans to its own members.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Final

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from twisted_tcp.chat.cluster.schema import Keys
from twisted_tcp.chat.state import MemoryRecords, Restriction, RestrictionKind

#: The kinds of records, which start their field names in the records hash.
BAN: Final = "ban"
MUTE: Final = "mute"
OPERATOR: Final = "op"
OWNER: Final = "owner"
LOCK: Final = "lock"

Execute = Callable[..., "Deferred[Any]"]


class RedisState(MemoryRecords):
    """
    L{ChatState} of a node of the cluster whose keys are C{keys}.

    @param execute: runs one Redis command (the node's command link).
    @param period: seconds between two checks for changes made by other nodes
        (the node's heartbeat).

    @ivar changed: called after a reload with the bans it brought in.
    """

    log = Logger()

    def __init__(self, execute: Execute, keys: Keys, period: float) -> None:
        super().__init__()
        self._execute = execute
        self.accounts_key = keys.accounts
        self.records_key = keys.records
        self.version_key = keys.records_version
        self._version: str | None = None
        self.changed: Callable[[list[Restriction]], object] = lambda bans: None
        self._checking = LoopingCall(lambda: Deferred.fromCoroutine(self.refresh()))
        self._period = period

    def start(self, clock: IReactorTime) -> None:
        """Load the records now, and look for changes every period of C{clock}."""
        self._checking.clock = clock
        self._checking.start(self._period, now=True).addErrback(self._lost)

    def stop(self) -> None:
        if self._checking.running:
            self._checking.stop()

    def _lost(self, failure: Failure) -> None:
        self.log.failure("records not reloaded", failure)

    async def refresh(self) -> None:
        """Reload the records if another node changed them (Redis outages wait)."""
        try:
            version = await self._execute("GET", self.version_key)
            if version == self._version:
                return
            flat = await self._execute("HGETALL", self.records_key)
        except Exception as error:  # Redis away: the next period tries again.
            self.log.debug("records not checked: {error}", error=error)
            return
        before = set(self._all(BAN))
        self._version = version
        self.clear()
        for name, value in zip(flat[::2], flat[1::2], strict=True):
            self._load(name, value)
        self.changed([each for each in self._all(BAN) if each not in before])

    def _load(self, name: str, value: str) -> None:
        kind, _, rest = name.partition(":")
        room, _, item = rest.partition("\0")
        if kind in (BAN, MUTE):
            self.remember(Restriction(**json.loads(value)))
        elif kind == OPERATOR:
            self.remember_operator(room, item, True)
        elif kind == OWNER:
            self.remember_owner(room, value)
        elif kind == LOCK:
            self.remember_lock(room, True)

    def _write(self, *commands: tuple[Any, ...]) -> None:
        """Send changes, then count one more change; failures are logged."""
        for command in (*commands, ("INCR", self.version_key)):
            self._execute(*command).addErrback(self._lost)

    # Accounts.

    def account_hash(self, name: str) -> Deferred[str | None]:
        return self._execute("HGET", self.accounts_key, name)

    def create_account(self, name: str, hashed: str) -> Deferred[bool]:
        creating = self._execute("HSETNX", self.accounts_key, name, hashed)
        return creating.addCallback(lambda created: bool(created))

    def set_hash(self, name: str, hashed: str) -> Deferred[None]:
        setting = self._execute("HSET", self.accounts_key, name, hashed)
        return setting.addCallback(lambda _: None)

    # The records.

    def restrict(self, restriction: Restriction) -> None:
        self.remember(restriction)
        record = json.dumps(restriction.__dict__)
        name = f"{restriction.kind}:{restriction.room}\0{restriction.mask}"
        self._write(("HSET", self.records_key, name, record))

    def lift(self, kind: RestrictionKind, room: str, mask: str) -> bool:
        lifted = self.forget(kind, room, mask)
        if lifted:
            self._write(("HDEL", self.records_key, f"{kind}:{room}\0{mask}"))
        return lifted

    def set_operator(self, room: str, account: str, operator: bool) -> bool:
        if not self.remember_operator(room, account, operator):
            return False
        name = f"{OPERATOR}:{room}\0{account}"
        if operator:
            self._write(("HSET", self.records_key, name, "1"))
        else:
            self._write(("HDEL", self.records_key, name))
        return True

    def claim(self, room: str, account: str) -> bool:
        if self.owner(room) is not None:
            return False
        self.remember_owner(room, account)
        self.remember_operator(room, account, True)
        self._write(
            ("HSETNX", self.records_key, f"{OWNER}:{room}", account),
            ("HSET", self.records_key, f"{OPERATOR}:{room}\0{account}", "1"),
        )
        return True

    def lock_topic(self, room: str, locked: bool) -> None:
        self.remember_lock(room, locked)
        if locked:
            self._write(("HSET", self.records_key, f"{LOCK}:{room}", "1"))
        else:
            self._write(("HDEL", self.records_key, f"{LOCK}:{room}"))

    def close(self) -> None:
        self.stop()
