"""
The names C{twisted_tcp.cli} takes from the HTTP client while it still imports
them from here; the client itself is L{twisted_tcp.http}.
"""

from __future__ import annotations

from typing import Any

from twisted_tcp.http import FetchOptions, FetchResult, WriteError
from twisted_tcp.http import fetch as _fetch
from twisted_tcp.http.url import guess_scheme

__all__ = ["FetchResult", "WriteError", "fetch", "guess_scheme"]


async def fetch(
    reactor: Any, url: str, path: str | None, *, output: Any, on_head: Any,
    on_progress: Any, follow_redirects: bool, max_redirects: int, **options: Any,
) -> FetchResult:  # fmt: skip
    """L{twisted_tcp.http.fetch} with its options as keyword arguments."""
    chosen = FetchOptions(
        follow_redirects=follow_redirects, max_redirects=max_redirects, **options
    )
    return await _fetch(
        reactor, url, path, chosen, output=output, on_head=on_head,
        on_progress=on_progress,
    )  # fmt: skip
