"""
Passwords: kept only as a memory-hard hash, checked off the reactor thread, and
guessed slowly.

    - L{PasswordHasher} hashes with the standard library's C{hashlib.scrypt} (no
      extra dependency; each hash takes about 16 MiB and tens of milliseconds), in
      the reactor's thread pool, at most L{MAX_HASHING} at a time and
      L{MAX_WAITING} waiting: past that a login is told the server is busy, so a
      flood of attempts costs bounded memory and threads, and the reactor keeps
      serving lines while a hash runs.
    - L{LoginLimiter} counts failed logins per address and per account: after
      L{FREE_FAILURES} failures, each further attempt must wait twice as long as the
      one before (1 s, 2 s, 4 s ... up to L{MAX_WAIT}), and an attempt made sooner
      is refused without hashing anything.

The numbers are in C{docs/chat-protocol.md}.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from twisted.internet.defer import Deferred, DeferredSemaphore, succeed
from twisted.internet.threads import deferToThreadPool
from twisted.python.failure import Failure

from twisted_tcp.chat import texts

#: scrypt's cost: 2**14 blocks of 128 * 8 bytes, 16 MiB per hash.
SCRYPT_N: Final = 1 << 14
SCRYPT_R: Final = 8
SCRYPT_P: Final = 1
#: Hashes computed at once, and hashes waiting for a thread.
MAX_HASHING: Final = 2
MAX_WAITING: Final = 32
MIN_PASSWORD: Final = 8
MAX_PASSWORD: Final = 128
PASSWORD_RULE: Final = texts.password_rule(MIN_PASSWORD, MAX_PASSWORD)
FREE_FAILURES: Final = 5
MAX_WAIT: Final = 300.0
#: Addresses and accounts whose failures L{LoginLimiter} remembers (the least
#: recently failed are forgotten first).
MAX_TRACKED: Final = 10000

Runner = Callable[[Callable[[], bytes]], "Deferred[bytes]"]


class BusyError(Exception):
    """More hashes are waiting than L{MAX_WAITING}: try again later."""


@dataclass(frozen=True)
class Cost:
    """scrypt's parameters, stored with each hash so that they can change."""

    n: int = SCRYPT_N
    r: int = SCRYPT_R
    p: int = SCRYPT_P


class PasswordHasher:
    """
    Hashes and checks passwords off the reactor thread, a few at a time.

    @param reactor: whose thread pool runs the hashes (default: the global reactor).
    @param cost: scrypt's parameters for new hashes.
    @param run: runs a function off the reactor thread (default: the reactor's pool).
    """

    def __init__(
        self, reactor: Any = None, cost: Cost = Cost(), run: Runner | None = None
    ) -> None:
        self.cost = cost
        self._reactor = reactor
        self._run = run
        self._slots = DeferredSemaphore(MAX_HASHING)
        #: Hashes running or waiting for a thread.
        self._pending = 0
        #: The stored hash a check of an unknown account is compared with, so that
        #: it takes as long as a check of a known one.
        self._decoy = _encode(os.urandom(16), cost, b"\0" * 32)

    def hash(self, password: str) -> Deferred[str]:
        """A new stored hash of C{password} (a fresh salt)."""
        salt = os.urandom(16)
        cost = self.cost
        return self._compute(password, salt, cost).addCallback(
            lambda digest: _encode(salt, cost, digest)
        )

    def check(self, password: str, stored: str | None) -> Deferred[bool]:
        """Whether C{password} is the one hashed in C{stored} (C{None}: no account)."""
        salt, cost, digest = _decode(stored or self._decoy)
        computed = self._compute(password, salt, cost)
        return computed.addCallback(
            lambda mine: stored is not None and hmac.compare_digest(mine, digest)
        )

    def _compute(self, password: str, salt: bytes, cost: Cost) -> Deferred[bytes]:
        if self._pending >= MAX_HASHING + MAX_WAITING:
            failed: Deferred[bytes] = Deferred()
            failed.errback(BusyError())
            return failed

        def scrypt() -> bytes:
            return hashlib.scrypt(
                password.encode(),
                salt=salt,
                n=cost.n,
                r=cost.r,
                p=cost.p,
                maxmem=256 * cost.n * cost.r,
                dklen=32,
            )

        self._pending += 1

        def done(result: bytes | Failure) -> bytes | Failure:
            self._pending -= 1
            return result

        return self._slots.run(self._runner, scrypt).addBoth(done)

    def _runner(self, work: Callable[[], bytes]) -> Deferred[bytes]:
        if self._run is not None:
            return self._run(work)
        if self._reactor is None:
            from twisted.internet import reactor

            self._reactor = reactor
        return deferToThreadPool(self._reactor, self._reactor.getThreadPool(), work)


def run_here(work: Callable[[], bytes]) -> Deferred[bytes]:
    """Run C{work} on this thread: for clocks without threads (tests)."""
    return succeed(work())


def _encode(salt: bytes, cost: Cost, digest: bytes) -> str:
    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    return f"scrypt${cost.n}${cost.r}${cost.p}${b64(salt)}${b64(digest)}"


def _decode(stored: str) -> tuple[bytes, Cost, bytes]:
    _, n, r, p, salt, digest = stored.split("$")
    cost = Cost(int(n), int(r), int(p))
    return base64.b64decode(salt), cost, base64.b64decode(digest)


def password_problem(password: str) -> str | None:
    """What is wrong with a new password, or C{None}."""
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD or password.split() != [
        password
    ]:
        return PASSWORD_RULE
    return None


class LoginLimiter:
    """
    Failed logins per key (C{"address:..."}, C{"account:..."}), and how long the
    next attempt must wait.
    """

    def __init__(
        self, now: Callable[[], float], max_tracked: int = MAX_TRACKED
    ) -> None:
        self.now = now
        self.max_tracked = max_tracked
        #: Key: (failures, when the last one was), least recently failed first.
        self._failures: OrderedDict[str, tuple[int, float]] = OrderedDict()

    def wait(self, *keys: str) -> float:
        """Seconds before any of C{keys} may try again (0: now)."""
        now = self.now()
        longest = 0.0
        for key in keys:
            failures, last = self._failures.get(key, (0, now))
            if failures >= FREE_FAILURES:
                delay = min(MAX_WAIT, 2.0 ** (failures - FREE_FAILURES))
                longest = max(longest, last + delay - now)
        return longest

    def failed(self, *keys: str) -> None:
        """Count one failed attempt against each of C{keys}."""
        now = self.now()
        for key in keys:
            failures, _ = self._failures.pop(key, (0, now))
            self._failures[key] = (failures + 1, now)
            if len(self._failures) > self.max_tracked:
                self._failures.popitem(last=False)

    def succeeded(self, *keys: str) -> None:
        """Forget the failures of C{keys}: a login succeeded."""
        for key in keys:
            self._failures.pop(key, None)
