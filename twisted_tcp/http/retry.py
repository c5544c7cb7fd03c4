"""
When and how soon the HTTP client tries a transfer again (docs/http-client.md,
"Retries"): curl's C{--retry} rules, with exponential backoff and jitter, and the
server's C{Retry-After} honoured on 429 and 503.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Final

from twisted_tcp.http.errors import (
    CouldNotConnectError,
    EmptyReplyError,
    HTTPError,
    OperationTimeoutError,
    ReceiveError,
    ShortBodyError,
    TransientStatusError,
)

#: Statuses a server answers when trying again later may work (curl's list).
TRANSIENT_STATUSES: Final = frozenset({408, 429, 500, 502, 503, 504})
#: Failures of the connection that a second attempt may not meet: timeouts, and a
#: connection cut (reset, closed early) while the response was coming.
TRANSIENT_ERRORS: Final = (
    OperationTimeoutError,
    ReceiveError,
    ShortBodyError,
    EmptyReplyError,
)
#: The first backoff delay, doubled after each attempt up to L{MAX_BACKOFF}
#: (curl's numbers).
FIRST_BACKOFF: Final = 1.0
MAX_BACKOFF: Final = 600.0
#: The longest C{Retry-After} taken; a server asking for more is waited for this long.
MAX_RETRY_AFTER: Final = 3600.0


@dataclass(frozen=True)
class RetryPolicy:
    """
    The C{--retry} options: C{retries} more attempts at most; a fixed C{delay}, or
    backoff from L{FIRST_BACKOFF} if C{None}; no attempt started more than
    C{max_time} seconds after the first (unlimited if C{None}).
    """

    retries: int = 0
    delay: float | None = None
    max_time: float | None = None
    connection_refused: bool = False
    all_errors: bool = False

    def is_transient(self, error: HTTPError) -> bool:
        """Whether C{error} may go away if the transfer is tried again."""
        if isinstance(error, (TransientStatusError, *TRANSIENT_ERRORS)):
            return True
        if isinstance(error, CouldNotConnectError):
            return self.connection_refused or not error.refused
        return self.all_errors

    def pause(self, attempt: int, error: HTTPError, jitter: random.Random) -> float:
        """
        Seconds to wait before attempt C{attempt + 1}: the server's C{Retry-After}
        if it gave one, else C{delay}, else backoff (C{1, 2, 4, ...} s, each drawn
        between half and all of it, so clients cut off together come back apart).
        """
        if isinstance(error, TransientStatusError) and error.retry_after is not None:
            return error.retry_after
        if self.delay is not None:
            return self.delay
        ceiling = min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** (attempt - 1))
        return jitter.uniform(ceiling / 2, ceiling)


def retry_after(value: str | None, now: float) -> float | None:
    """
    The seconds a C{Retry-After} value asks for (a number of seconds, or an
    HTTP-date), capped at L{MAX_RETRY_AFTER}; C{None} if it says nothing usable.
    """
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return min(float(int(value[:9])), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return min(max(when - now, 0.0), MAX_RETRY_AFTER)
