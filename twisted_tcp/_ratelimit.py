"""
Token buckets: the rate limits of the UDP echo server and of chat flood control.
"""

from __future__ import annotations

from twisted.internet.interfaces import IReactorTime

#: Refills are sums of float products (0.2 s x 5/s may come to 0.9999999999999998):
#: this much short of a whole token counts as a whole token.
_ROUNDING = 1e-9
#: The shortest wait L{TokenBucket.wait} reports, so a retry is never scheduled for the
#: very instant it was computed in (which would retry at that instant forever).
MIN_WAIT = 0.001


class TokenBucket:
    """
    Allows C{rate} events per second on average and bursts of up to C{burst}.

    Time comes from C{clock.seconds()}, so tests drive it with a
    L{twisted.internet.task.Clock}.
    """

    __slots__ = ("_clock", "_stamp", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: float, clock: IReactorTime) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a token bucket needs rate > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._stamp = clock.seconds()

    def _refill(self) -> float:
        now = self._clock.seconds()
        elapsed = max(0.0, now - self._stamp)
        self._stamp = now
        self._tokens = min(self.burst, self._tokens + elapsed * self.rate)
        return self._tokens

    def take(self) -> bool:
        """Spend one token if there is one; whether the event is allowed."""
        if self._refill() >= 1 - _ROUNDING:
            self._tokens = max(0.0, self._tokens - 1)
            return True
        return False

    def wait(self) -> float:
        """Seconds until the next token: 0 if there is one now, else at least 1 ms."""
        missing = 1 - self._refill()
        if missing <= _ROUNDING:
            return 0.0
        return max(MIN_WAIT, missing / self.rate)

    def is_full(self) -> bool:
        """Whether the bucket has refilled, i.e. forgetting it would change nothing."""
        return self._refill() >= self.burst
