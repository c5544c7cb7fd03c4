"""
L{fetch}: GET a URL with the HTTP client, following redirects, and save the body
safely. What it sends, accepts and refuses, and every exit code:
docs/http-client.md.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Final
from urllib.parse import urljoin

from twisted.internet.defer import Deferred
from twisted.internet.defer import TimeoutError as DeferredTimeoutError
from twisted.internet.endpoints import HostnameEndpoint, connectProtocol, wrapClientTLS
from twisted.internet.error import ConnectError, DNSLookupError
from twisted.internet.error import TimeoutError as ConnectTimeoutError

from twisted_tcp._defaults import DEFAULT_MAX_REDIRECTS, DEFAULT_USER_AGENT
from twisted_tcp.cli.connect import connection_error_reason
from twisted_tcp.http.body import (
    AtomicFile,
    BodyPipeline,
    Destination,
    Discard,
    FileTarget,
    StreamDestination,
    check_codings,
    content_codings,
)
from twisted_tcp.http.errors import (
    BadURLError,
    CouldNotConnectError,
    CouldNotResolveError,
    FileTooLargeError,
    HTTPError,
    HTTPStatusError,
    OperationTimeoutError,
    TooManyRedirectsError,
    server_text,
    shown,
)
from twisted_tcp.http.parser import ResponseHead
from twisted_tcp.http.protocol import GetProtocol, ResponseHandler
from twisted_tcp.http.request import build_request
from twisted_tcp.http.tls import client_tls, load_ca
from twisted_tcp.http.url import UNSAFE_IN_URL, Target, parse_url

REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class FetchOptions:
    """
    How L{fetch} fetches; each field is named like the C{twisted-tcp get} option
    that sets it (docs/http-client.md).

    @ivar sha256: hash the body (the result's C{sha256}); off, it is C{None}: on a
        fast link the hash costs more than receiving and writing the body together.
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


class _Hop(ResponseHandler):
    """One request of a fetch: decides what the response head means."""

    def __init__(self, fetch: _Fetch, target: Target) -> None:
        self.fetch = fetch
        self.target = target
        self.response: ResponseHead | None = None
        self.location: str | None = None
        self.pipeline: BodyPipeline | None = None

    def head(self, head: ResponseHead, length: int | None) -> bool:
        self.response = head
        options = self.fetch.options
        location = head.get("Location")
        if options.follow_redirects and head.status in REDIRECT_STATUSES and location:
            self.location = location
            return False
        if options.fail and head.status >= 400:
            raise HTTPStatusError(
                f"the server answered {head.status} {shown(server_text(head.reason))}"
            )
        self.fetch.on_head(head)
        codings = content_codings(head.get_all("Content-Encoding"))
        decoding = options.compressed and bool(codings)
        if decoding:
            check_codings(codings)  # Before anything is opened.
        limit = options.max_filesize
        # An encoded body's announced length is not its decoded size: that is
        # checked as it is decoded.
        if limit is not None and length is not None and length > limit and not decoding:
            raise FileTooLargeError(f"the body ({length} bytes) is over {limit} bytes")
        self.pipeline = BodyPipeline(
            self.fetch.open_destination(head),
            max_size=limit,
            codings=codings if decoding else (),
            sha256=options.sha256,
        )
        return True

    def body(self, data: bytes) -> None:
        assert self.pipeline is not None
        self.pipeline.write(data)
        self.fetch.on_progress(self.pipeline.size)

    def end(self) -> None:
        assert self.pipeline is not None
        self.pipeline.finish()

    def splice_target(self) -> AtomicFile | None:
        return None if self.pipeline is None else self.pipeline.direct_target()

    def spliced(self, count: int) -> None:
        assert self.pipeline is not None
        self.pipeline.count(count)
        self.fetch.on_progress(self.pipeline.size)


@dataclass
class _Fetch:
    """One L{fetch} call: its options, hooks and state across redirects."""

    reactor: Any
    options: FetchOptions
    trust: Any
    path: str | None
    output: BinaryIO | None
    on_head: Callable[[ResponseHead], None]
    on_progress: Callable[[int], None]
    destination: Destination | None = None
    file: FileTarget | None = None
    hop: _Hop | None = None
    redirects: int = 0

    def place(self, error: HTTPError) -> HTTPError:
        """Tell C{error} where the fetch was: its URL, status and redirects."""
        if self.hop is not None:
            error.url = self.hop.target.url
            if self.hop.response is not None:
                error.status = self.hop.response.status
        error.redirects = self.redirects
        return error

    def open_destination(self, head: ResponseHead) -> Destination:
        destination: Destination
        if self.file is not None:
            destination = self.file.open()
        elif self.output is not None:
            destination = StreamDestination(self.output)
        else:
            destination = Discard()
        self.destination = destination
        if self.options.include_headers:
            destination.write(head.raw)
        return destination

    async def run(self, url: str) -> FetchResult:
        started = time.monotonic()
        target = parse_url(url)
        if self.path is not None:
            # Before connecting: a directory or a block device is refused at once.
            self.file = FileTarget.of(self.path)
        while True:
            hop = self.hop = _Hop(self, target)
            await self._exchange(hop)
            if hop.location is None:
                break
            self.redirects += 1
            limit = self.options.max_redirects
            if self.redirects > limit:
                raise TooManyRedirectsError(
                    f"more than {limit} redirects "
                    f"(last to {shown(server_text(hop.location))})"
                )
            target = parse_url(urljoin(target.url, server_text(hop.location)))
        response, pipeline = hop.response, hop.pipeline
        assert response is not None and pipeline is not None
        return FetchResult(
            url=target.url, status=response.status, reason=response.reason,
            headers=response.headers, bytes=pipeline.size, sha256=pipeline.sha256,
            redirects=self.redirects, seconds=time.monotonic() - started,
            path=self.path, head=response.raw,
        )  # fmt: skip

    async def _exchange(self, hop: _Hop) -> None:
        target, options = hop.target, self.options
        timeout = options.connect_timeout
        endpoint: Any = HostnameEndpoint(
            self.reactor, target.host, target.port, timeout=timeout
        )
        if target.tls:
            endpoint = wrapClientTLS(client_tls(target.host, self.trust), endpoint)
        request = build_request(target, options.user_agent, options.compressed)
        protocol = GetProtocol(request, hop)
        try:
            await connectProtocol(endpoint, protocol)
        except DNSLookupError:
            raise CouldNotResolveError(f"cannot resolve {target.host}") from None
        except ConnectTimeoutError:
            raise OperationTimeoutError(
                f"no connection to {target.host} port {target.port} within "
                f"{timeout:g} s"
            ) from None
        except ConnectError as error:
            raise CouldNotConnectError(
                f"cannot connect to {target.host} port {target.port}: "
                f"{connection_error_reason(error)}"
            ) from None
        await protocol.finished


def _ignore(value: object) -> None:
    """The default hook: nothing to do."""


async def fetch(
    reactor: Any,
    url: str,
    path: str | None = None,
    options: FetchOptions = FetchOptions(),  # Frozen: never changed.
    *,
    output: BinaryIO | None = None,
    on_head: Callable[[ResponseHead], None] = _ignore,
    on_progress: Callable[[int], None] = _ignore,
) -> FetchResult:
    """
    GET C{url} and save its body to C{path} atomically (or write it to C{output}, or,
    with neither, only count and hash it), as C{options} say. C{on_head} sees the
    final response's head before its body; C{on_progress} the body's size so far.

    @raise HTTPError: a subclass per curl exit code; C{path} is then left as it was.
    """
    if UNSAFE_IN_URL.search(options.user_agent):
        raise BadURLError("the User-Agent holds control characters")
    trust: Any = None
    if options.insecure:
        trust = False
    elif options.cacert is not None:
        trust = load_ca(options.cacert)
    job = _Fetch(reactor, options, trust, path, output, on_head, on_progress)
    running = Deferred.fromCoroutine(job.run(url))
    if options.max_time is not None:
        running.addTimeout(options.max_time, reactor)
    try:
        return await running
    except BaseException as error:
        # Whatever ended it, an error, a timeout or a cancellation (Ctrl-C), no
        # temporary file outlives the transfer.
        if job.destination is not None:
            job.destination.abort()
        if isinstance(error, DeferredTimeoutError):
            late = OperationTimeoutError(
                f"the transfer took over {options.max_time:g} s"
            )
            raise job.place(late) from None
        if isinstance(error, HTTPError):
            job.place(error)
        raise
