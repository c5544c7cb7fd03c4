"""
The raw HTTP/1.1 GET client: a Twisted protocol that speaks HTTP itself, and
L{fetch}, which follows redirects and saves the body safely. What it sends, accepts
and refuses, and every exit code: docs/http-client.md.

Each failure is an exception class whose C{exit_code} is curl's number for it.
"""

from __future__ import annotations

import builtins
import re
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO, Final
from urllib.parse import SplitResult, urljoin, urlsplit

from twisted.internet.defer import Deferred
from twisted.internet.defer import TimeoutError as DeferredTimeoutError
from twisted.internet.endpoints import HostnameEndpoint, connectProtocol, wrapClientTLS
from twisted.internet.error import ConnectError, ConnectionDone, DNSLookupError
from twisted.internet.error import TimeoutError as ConnectTimeoutError
from twisted.internet.protocol import Protocol, connectionDone
from twisted.internet.tcp import Connection
from twisted.python.failure import Failure

from twisted_tcp._defaults import DEFAULT_MAX_REDIRECTS, DEFAULT_USER_AGENT
from twisted_tcp._http_body import (
    ACCEPT_ENCODING,
    AtomicFile,
    BodyPipeline,
    Destination,
    Discard,
    FileTarget,
    FileTooLargeError,
    StreamDestination,
    WriteError,
    check_codings,
    content_codings,
)
from twisted_tcp._http_parser import (
    BadTransferEncodingError,
    Body,
    EmptyReplyError,
    End,
    Event,
    Head,
    HTTPError,
    MalformedResponseError,
    ResponseHead,
    ResponseParser,
    ShortBodyError,
)
from twisted_tcp._http_tls import (
    CACertError,
    CertificateError,
    client_tls,
    load_ca,
    verification_error,
)
from twisted_tcp._splice import BodySplicer, can_splice
from twisted_tcp.cli.connect import connection_error_reason

REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})
#: Bytes read from the server at a time (Twisted reads 64 KiB): a quarter of the
#: reads, and of the Python work per read, on a large body that cannot be spliced.
READ_SIZE: Final = 256 * 1024
_UNSAFE_IN_URL = re.compile(r"[\x00-\x20\x7f]")

__all__ = [
    "BadTransferEncodingError",
    "BadURLError",
    "CACertError",
    "CertificateError",
    "CouldNotConnectError",
    "CouldNotResolveError",
    "EmptyReplyError",
    "FetchResult",
    "FileTooLargeError",
    "HTTPError",
    "HTTPStatusError",
    "MalformedResponseError",
    "OperationTimeoutError",
    "ReceiveError",
    "ShortBodyError",
    "TooManyRedirectsError",
    "UnsupportedSchemeError",
    "WriteError",
    "fetch",
]


class UnsupportedSchemeError(HTTPError):
    """The URL's scheme is not http or https."""

    exit_code = 1


class BadURLError(HTTPError):
    """The URL is malformed or holds characters that could forge a request."""

    exit_code = 3


class CouldNotResolveError(HTTPError):
    exit_code = 6


class CouldNotConnectError(HTTPError):
    exit_code = 7


class HTTPStatusError(HTTPError):
    """With C{fail}: the server answered 400 or more."""

    exit_code = 22


class OperationTimeoutError(HTTPError):
    """
    The connection or the whole transfer took too long. (It was called
    C{TimeoutError}, which hid Python's own: that name is deprecated.)
    """

    exit_code = 28


class TooManyRedirectsError(HTTPError):
    exit_code = 47


class ReceiveError(HTTPError):
    """The connection broke while the response was arriving."""

    exit_code = 56


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


@dataclass(frozen=True)
class Target:
    """A checked http(s) URL, split into what a request needs."""

    url: str
    tls: bool
    host: str
    port: int
    request_target: str
    host_header: str


def guess_scheme(url: str) -> str:
    """
    A URL typed without a scheme (C{localhost:8080/x}) is taken as http, as curl
    does; the library's L{fetch} itself wants absolute URLs.
    """
    return url if "://" in url else f"http://{url}"


def parse_url(url: str) -> Target:
    """
    Check and split a URL; refuse anything that could forge a request line.

    @raise UnsupportedSchemeError: for schemes other than http and https.
    @raise BadURLError: for malformed URLs, or CR, LF, spaces or controls in them.
    """
    if _UNSAFE_IN_URL.search(url):
        raise BadURLError(f"the URL holds spaces or control characters: {url!r}")
    try:
        parts: SplitResult = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise BadURLError(f"bad URL {url!r}: {error}") from None
    scheme = parts.scheme.lower()
    if not scheme or "//" not in url:
        raise BadURLError(f"not an absolute URL: {url!r}")
    if scheme not in ("http", "https"):
        raise UnsupportedSchemeError(f"unsupported scheme {scheme!r} (http or https)")
    if not parts.hostname:
        raise BadURLError(f"no host in {url!r}")
    try:
        host = parts.hostname.encode("idna").decode("ascii")
    except UnicodeError:
        raise BadURLError(f"bad host name in {url!r}") from None
    tls = scheme == "https"
    default_port = 443 if tls else 80
    port = default_port if port is None else port
    request_target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    shown_host = f"[{host}]" if ":" in host else host
    host_header = shown_host if port == default_port else f"{shown_host}:{port}"
    return Target(url, tls, host, port, request_target, host_header)


def build_request(target: Target, user_agent: str, compressed: bool) -> bytes:
    """The GET request for C{target}, with Connection: close."""
    fields = [
        f"GET {target.request_target} HTTP/1.1",
        f"Host: {target.host_header}",
        f"User-Agent: {user_agent}",
        "Accept: */*",
    ]
    if compressed:
        fields.append(f"Accept-Encoding: {ACCEPT_ENCODING}")
    fields.append("Connection: close")
    return ("\r\n".join(fields) + "\r\n\r\n").encode("ascii")


class ResponseHandler:
    """What a L{GetProtocol} tells about the response it receives."""

    def head(self, head: ResponseHead, length: int | None) -> bool:
        """The final head arrived; return False to stop receiving (no body wanted)."""
        raise NotImplementedError

    def body(self, data: bytes) -> None:
        raise NotImplementedError

    def end(self) -> None:
        raise NotImplementedError

    def splice_target(self) -> AtomicFile | None:
        """
        After the head: the file the rest of an identity body may be spliced into
        (see L{twisted_tcp._splice}), or C{None} to receive it through L{body}.
        """
        return None

    def spliced(self, count: int) -> None:
        """C{count} more body bytes went straight into the L{splice_target}."""


class GetProtocol(Protocol):
    """
    Sends one GET request and parses the response into a L{ResponseHandler}.

    @ivar finished: fires when the response is complete, or fails with an
        L{HTTPError}; cancelling it aborts the connection.
    """

    def __init__(self, request: bytes, handler: ResponseHandler) -> None:
        self._request = request
        self._handler = handler
        self._parser = ResponseParser()
        self._outcome: Failure | None = None
        self._done = False
        self._head_just_seen = False
        self._splicer: BodySplicer | None = None
        self.finished: Deferred[None] = Deferred(self._cancel)

    def connectionMade(self) -> None:
        assert self.transport is not None
        if isinstance(self.transport, Connection):
            # Fewer, larger reads: a body is read in READ_SIZE pieces, not 64 KiB.
            self.transport.bufferSize = READ_SIZE
        self.transport.write(self._request)

    def dataReceived(self, data: bytes) -> None:
        if self._done:
            return
        try:
            self._handle(self._parser.feed(data))
            if self._head_just_seen and not self._done:
                self._head_just_seen = False
                self._splice_rest()
        except HTTPError:
            self._stop(Failure())

    def _splice_rest(self) -> None:
        """
        Right after the head, with the body bytes read so far delivered: splice the
        rest of an identity body straight into its file, where that can be done.
        """
        if not can_splice(self.transport):
            return
        target = self._handler.splice_target()
        if target is None:
            return
        body = self._parser.hand_over_body()
        if body is None:
            return
        self._splicer = BodySplicer(
            self.transport.reactor, self.transport, target, body.remaining,  # type: ignore[union-attr]
            on_bytes=self._handler.spliced, on_end=self._spliced,
        )  # fmt: skip

    def _spliced(self, outcome: Failure | None) -> None:
        """The splicer is done: the body is in its file, or failed."""
        self._splicer = None
        if outcome is None:
            try:
                self._handler.end()
            except HTTPError:
                outcome = Failure()
        elif not outcome.check(HTTPError):
            outcome = Failure(_receive_error(outcome))
        self._stop(outcome)

    def _handle(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, Head):
                if not self._handler.head(event.head, event.length):
                    self._stop(None)
                    return
                self._head_just_seen = True
            elif isinstance(event, Body):
                self._handler.body(event.data)
            elif isinstance(event, End):
                self._handler.end()
                self._stop(None)
                return

    def _stop(self, outcome: Failure | None) -> None:
        """Settle the outcome now and drop the connection."""
        self._done = True
        self._outcome = outcome
        assert self.transport is not None
        self.transport.abortConnection()  # type: ignore[attr-defined]

    def _cancel(self, _: Deferred[None]) -> None:
        self._done = True
        if self._splicer is not None:
            self._splicer.stop()
            self._splicer = None
        if self.transport is not None:
            self.transport.abortConnection()  # type: ignore[attr-defined]

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if self.finished.called:
            return
        if self._splicer is not None:
            # Not expected (the transport is not reading while the splicer works),
            # but a body cut short must never look complete.
            self._splicer.stop()
            self._splicer = None
            self._outcome = Failure(_receive_error(reason))
            self._done = True
        if not self._done:
            try:
                if reason.check(ConnectionDone):
                    self._handle(self._parser.finish())
                else:
                    raise _receive_error(reason)
            except HTTPError:
                self._outcome = Failure()
            self._done = True
        if self._outcome is None:
            self.finished.callback(None)
        else:
            self.finished.errback(self._outcome)


def _receive_error(reason: Failure) -> HTTPError:
    """The error for a connection that broke: a TLS failure, or a lost connection."""
    if isinstance(reason.value, HTTPError):
        return reason.value  # A certificate refused by the identity check.
    return verification_error(reason) or ReceiveError(
        f"connection lost while receiving: {reason.getErrorMessage()}"
    )


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
        options = self.fetch
        location = head.get("Location")
        if options.follow and head.status in REDIRECT_STATUSES and location:
            self.location = location
            return False
        if options.fail and head.status >= 400:
            raise HTTPStatusError(f"the server answered {head.status} {head.reason}")
        options.on_head(head)
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
            options.open_destination(head),
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
    """The options of one L{fetch} call and its state across redirects."""

    reactor: Any
    path: str | None
    output: BinaryIO | None
    follow: bool
    max_redirects: int
    connect_timeout: float
    max_filesize: int | None
    compressed: bool
    user_agent: str
    trust: Any
    fail: bool
    include_headers: bool
    sha256: bool
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
        if self.include_headers:
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
            if self.redirects > self.max_redirects:
                raise TooManyRedirectsError(
                    f"more than {self.max_redirects} redirects (last to {hop.location})"
                )
            target = parse_url(urljoin(target.url, hop.location))
        response, pipeline = hop.response, hop.pipeline
        assert response is not None and pipeline is not None
        return FetchResult(
            url=target.url, status=response.status, reason=response.reason,
            headers=response.headers, bytes=pipeline.size, sha256=pipeline.sha256,
            redirects=self.redirects, seconds=time.monotonic() - started,
            path=self.path, head=response.raw,
        )  # fmt: skip

    async def _exchange(self, hop: _Hop) -> None:
        target = hop.target
        endpoint: Any = HostnameEndpoint(
            self.reactor, target.host, target.port, timeout=self.connect_timeout
        )
        if target.tls:
            endpoint = wrapClientTLS(client_tls(target.host, self.trust), endpoint)
        request = build_request(target, self.user_agent, self.compressed)
        protocol = GetProtocol(request, hop)
        try:
            await connectProtocol(endpoint, protocol)
        except DNSLookupError:
            raise CouldNotResolveError(f"cannot resolve {target.host}") from None
        except ConnectTimeoutError:
            raise OperationTimeoutError(
                f"no connection to {target.host} port {target.port} within "
                f"{self.connect_timeout:g} s"
            ) from None
        except ConnectError as error:
            raise CouldNotConnectError(
                f"cannot connect to {target.host} port {target.port}: "
                f"{connection_error_reason(error)}"
            ) from None
        await protocol.finished


async def fetch(
    reactor: Any,
    url: str,
    path: str | None = None,
    *,
    output: BinaryIO | None = None,
    follow_redirects: bool = False,
    max_redirects: int = DEFAULT_MAX_REDIRECTS,
    connect_timeout: float = 30.0,
    max_time: float | None = None,
    max_filesize: int | None = None,
    compressed: bool = False,
    user_agent: str = DEFAULT_USER_AGENT,
    cacert: str | None = None,
    insecure: bool = False,
    fail: bool = False,
    include_headers: bool = False,
    sha256: bool = True,
    on_head: Callable[[ResponseHead], None] = lambda head: None,
    on_progress: Callable[[int], None] = lambda size: None,
) -> FetchResult:
    """
    GET C{url} and save its body to C{path} atomically (or write it to C{output}, or,
    with neither, only count and hash it). C{sha256=False} skips hashing the body
    (the result's C{sha256} is then C{None}): on a fast link the hash costs more
    than receiving and writing the body together.

    @raise HTTPError: a subclass per curl exit code; C{path} is then left as it was.
    """
    if _UNSAFE_IN_URL.search(user_agent):
        raise BadURLError("the User-Agent holds control characters")
    trust: Any = None
    if insecure:
        trust = False
    elif cacert is not None:
        trust = load_ca(cacert)
    job = _Fetch(
        reactor=reactor, path=path, output=output, follow=follow_redirects,
        max_redirects=max_redirects, connect_timeout=connect_timeout,
        max_filesize=max_filesize, compressed=compressed, user_agent=user_agent,
        trust=trust, fail=fail, include_headers=include_headers, sha256=sha256,
        on_head=on_head, on_progress=on_progress,
    )  # fmt: skip
    running = Deferred.fromCoroutine(job.run(url))
    if max_time is not None:
        running.addTimeout(max_time, reactor)
    try:
        return await running
    except BaseException as error:
        # Whatever ended it, an error, a timeout or a cancellation (Ctrl-C), no
        # temporary file outlives the transfer.
        if job.destination is not None:
            job.destination.abort()
        if isinstance(error, DeferredTimeoutError):
            late = OperationTimeoutError(f"the transfer took over {max_time:g} s")
            raise job.place(late) from None
        if isinstance(error, HTTPError):
            job.place(error)
        raise


if TYPE_CHECKING:
    #: Deprecated name of L{OperationTimeoutError}.
    TimeoutError = OperationTimeoutError
else:

    def __getattr__(name: str) -> Any:
        """The deprecated C{TimeoutError}, with a warning."""
        if name == "TimeoutError":
            warnings.warn(
                "twisted_tcp.httpget.TimeoutError is deprecated (it hid Python's own "
                "TimeoutError): use OperationTimeoutError",
                DeprecationWarning,
                stacklevel=2,
            )
            return OperationTimeoutError
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
