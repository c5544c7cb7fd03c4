"""
What L{twisted_tcp.http.fetch.fetch} is asked to do (L{FetchOptions}) and what it
answers (L{FetchResult}).
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from dataclasses import dataclass, field

from twisted_tcp._defaults import DEFAULT_MAX_REDIRECTS, DEFAULT_USER_AGENT
from twisted_tcp.http.request import Field
from twisted_tcp.http.retry import RetryPolicy


@dataclass(frozen=True)
class FetchOptions:
    """
    How L{fetch} fetches; each field is named like the C{twisted-tcp get} option
    that sets it (docs/http-client.md).

    @ivar sha256: hash the body (the result's C{sha256}); off, it is C{None}: on a
        fast link the hash costs more than receiving and writing the body together.
    @ivar headers: the C{-H} lines, parsed by L{twisted_tcp.http.request.parse_field}.
    @ivar user: C{user:password} for Basic authentication, sent to the URL's
        origin only (never after a redirect elsewhere).
    @ivar resume: keep the bytes of a failed transfer beside the target and resume
        from them (C{-C -}); see L{twisted_tcp.http.resume}.
    @ivar if_modified_since: a time (seconds since the epoch): a 304 answer leaves
        the target as it is. C{if_unmodified_since} is its opposite (C{-z -DATE}).
    @ivar if_none_match: an ETag: the same, for a file whose ETag has not changed.
    @ivar proxy: the proxy's URL (C{-x}; empty for none); C{noproxy} the hosts
        reached without one; C{proxy_user} its credentials; C{environment} where
        C{http_proxy} and the other variables are read (C{os.environ} for the
        command), by L{twisted_tcp.http.proxy.choose_proxy}'s rules.
    """

    follow_redirects: bool = False
    max_redirects: int = DEFAULT_MAX_REDIRECTS
    connect_timeout: float = 30.0
    max_time: float | None = None
    max_filesize: int | None = None
    compressed: bool = False
    user_agent: str = DEFAULT_USER_AGENT
    cacert: str | None = None
    insecure: bool = False
    fail: bool = False
    include_headers: bool = False
    sha256: bool = True
    headers: tuple[Field, ...] = ()
    user: str | None = None
    referer: str | None = None
    head: bool = False
    limit_rate: int | None = None
    create_dirs: bool = False
    remote_header_name: bool = False
    remote_time: bool = False
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    resume: bool = False
    expect_sha256: str | None = None
    if_modified_since: float | None = None
    if_unmodified_since: float | None = None
    if_none_match: str | None = None
    proxy: str | None = None
    noproxy: str | None = None
    proxy_user: str | None = None
    environment: Mapping[str, str] | None = None


@dataclass
class FetchResult:
    """What L{fetch} got: the final response and what became of its body."""

    url: str
    status: int
    reason: str
    headers: list[tuple[str, str]]
    bytes: int
    sha256: str | None
    redirects: int
    seconds: float
    path: str | None = None
    head: builtins.bytes = field(default=b"", repr=False)
    attempts: int = 1
