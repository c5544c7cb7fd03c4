"""
Tests for L{twisted_tcp._ratelimit.TokenBucket}.
"""

from __future__ import annotations

import pytest
from twisted.internet.task import Clock

from twisted_tcp._ratelimit import MIN_WAIT, TokenBucket


def test_burst_then_rate() -> None:
    """A full bucket allows a burst, then one event per 1/rate seconds."""
    clock = Clock()
    bucket = TokenBucket(rate=2, burst=3, clock=clock)
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    clock.advance(0.5)
    assert [bucket.take(), bucket.take()] == [True, False]


def test_refill_capped_at_burst() -> None:
    """However long it waits, a bucket holds at most burst tokens."""
    clock = Clock()
    bucket = TokenBucket(rate=10, burst=2, clock=clock)
    bucket.take()
    assert not bucket.is_full()
    clock.advance(1000)
    assert bucket.is_full()
    assert [bucket.take() for _ in range(3)] == [True, True, False]


def test_clock_going_backwards_adds_nothing() -> None:
    """A clock that steps back gives no tokens rather than negative ones."""
    clock = Clock()
    clock.advance(10)
    bucket = TokenBucket(rate=1, burst=1, clock=clock)
    bucket.take()
    clock.rightNow = 5
    assert not bucket.take()


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 5), (1, 0.5)])
def test_invalid(rate: float, burst: float) -> None:
    """A bucket that could never allow anything is refused."""
    with pytest.raises(ValueError):
        TokenBucket(rate, burst, Clock())


def test_wait_until_next_token() -> None:
    """wait() says how long until the next event is allowed."""
    clock = Clock()
    bucket = TokenBucket(rate=4, burst=1, clock=clock)
    assert bucket.wait() == 0
    bucket.take()
    assert bucket.wait() == 0.25
    clock.advance(0.1)
    assert abs(bucket.wait() - 0.15) < 1e-9


def test_float_rounding_does_not_starve() -> None:
    """Refills that add up to a token but for float rounding give that token."""
    clock = Clock()
    bucket = TokenBucket(rate=5, burst=1, clock=clock)
    bucket.take()
    for _ in range(1000):
        clock.advance(0.2)
        assert bucket.take()
        assert not bucket.take()
        assert bucket.wait() >= MIN_WAIT


def test_wait_never_below_minimum() -> None:
    """A nearly full token still means a wait of at least MIN_WAIT, never ~0."""
    clock = Clock()
    bucket = TokenBucket(rate=1e12, burst=1, clock=clock)
    bucket.take()
    assert bucket.wait() == MIN_WAIT
