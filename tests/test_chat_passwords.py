"""Password hashes, the bound on hashing at once, and the login limiter."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest_twisted
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from twisted_tcp.chat.passwords import (
    FREE_FAILURES,
    MAX_HASHING,
    MAX_WAIT,
    MAX_WAITING,
    PASSWORD_RULE,
    BusyError,
    Cost,
    LoginLimiter,
    PasswordHasher,
    password_problem,
    run_here,
)

#: A cheap cost, so that the tests hash quickly.
CHEAP = Cost(n=16, r=1, p=1)


def result(deferred: Deferred[Any]) -> object:
    """The result of a Deferred that has fired."""
    results: list[object] = []
    deferred.addBoth(results.append)
    assert results
    return results[0]


def test_hash_and_check() -> None:
    """A hash holds its parameters and a fresh salt; only its password checks."""
    hasher = PasswordHasher(cost=CHEAP, run=run_here)
    hashed = result(hasher.hash("correct horse"))
    assert isinstance(hashed, str)
    assert hashed.startswith("scrypt$16$1$1$") and "correct" not in hashed
    assert result(hasher.hash("correct horse")) != hashed
    assert result(hasher.check("correct horse", hashed)) is True
    assert result(hasher.check("wrong horse", hashed)) is False
    assert result(hasher.check("correct horse", None)) is False


def test_hashing_bounded() -> None:
    """At most MAX_HASHING run at once, MAX_WAITING wait; past that: busy."""
    running: list[Deferred[bytes]] = []

    def held(work: Callable[[], bytes]) -> Deferred[bytes]:
        running.append(Deferred())
        return running[-1]

    hasher = PasswordHasher(cost=CHEAP, run=held)
    outcomes: list[object] = []
    for _ in range(100):
        hasher.check("password", None).addBoth(outcomes.append)
    assert len(running) == MAX_HASHING
    assert len(outcomes) == 100 - MAX_HASHING - MAX_WAITING
    assert {getattr(each, "type", None) for each in outcomes} == {BusyError}
    while running:
        running.pop(0).callback(b"")
    assert outcomes[100 - MAX_HASHING - MAX_WAITING :] == [False] * (
        MAX_HASHING + MAX_WAITING
    )


@pytest_twisted.ensureDeferred
async def test_hashing_in_a_thread(reactor: object) -> None:
    """By default a hash runs in the reactor's threads and checks as it should."""
    hasher = PasswordHasher(reactor, cost=CHEAP)
    hashed = await hasher.hash("password")
    assert await hasher.check("password", hashed)


def test_password_rule() -> None:
    """A password is one word of 8 to 128 characters."""
    assert password_problem("12345678") is None
    for bad in ("1234567", "x" * 129, "two words", " padded1234"):
        assert password_problem(bad) == PASSWORD_RULE


def test_limiter_doubles_the_wait_after_free_failures() -> None:
    """Free failures, then 1 s, 2 s, 4 s ... up to MAX_WAIT; success forgets."""
    clock = Clock()
    limiter = LoginLimiter(clock.seconds)
    for _ in range(FREE_FAILURES):
        assert limiter.wait("address:a") == 0
        limiter.failed("address:a", "account:x")
    assert limiter.wait("address:a") == 1
    assert limiter.wait("address:b", "account:x") == 1
    clock.advance(1)
    assert limiter.wait("address:a") == 0
    limiter.failed("address:a")
    assert limiter.wait("address:a") == 2
    for _ in range(20):
        limiter.failed("address:a")
    assert limiter.wait("address:a") == MAX_WAIT
    limiter.succeeded("address:a")
    assert limiter.wait("address:a") == 0


def test_limiter_remembers_a_bounded_number() -> None:
    """Past max_tracked keys, the least recently failed are forgotten."""
    limiter = LoginLimiter(Clock().seconds, max_tracked=3)
    for key in "abcd":
        for _ in range(FREE_FAILURES):
            limiter.failed(key)
    assert [limiter.wait(key) > 0 for key in "abcd"] == [False, True, True, True]
