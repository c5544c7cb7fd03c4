"""
L{fetch}: GET a URL with the HTTP client, following redirects, trying again after
transient failures, resuming where it can, and saving the body safely. What it
sends, accepts and refuses, and every exit code: docs/http-client.md.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urljoin

from twisted.internet.defer import Deferred
from twisted.internet.defer import TimeoutError as DeferredTimeoutError
from twisted.internet.task import deferLater

from twisted_tcp.http.connections import Connections
from twisted_tcp.http.errors import (
    BadURLError,
    HTTPError,
    OperationTimeoutError,
    TooManyRedirectsError,
    WriteError,
    server_text,
    shown,
)
from twisted_tcp.http.hop import Hop
from twisted_tcp.http.options import FetchOptions, FetchResult
from twisted_tcp.http.parser import ResponseHead
from twisted_tcp.http.pool import Pool
from twisted_tcp.http.proxy import choose_proxy
from twisted_tcp.http.request import (
    CREDENTIAL_FIELDS,
    Field,
    basic_credentials,
    build_request,
    http_date,
)
from twisted_tcp.http.resume import ResumableFile, full_length
from twisted_tcp.http.sinks import AtomicFile, Destination, Discard, StreamDestination
from twisted_tcp.http.targets import FileTarget, disposition_name
from twisted_tcp.http.tls import load_ca
from twisted_tcp.http.url import UNSAFE_IN_URL, Target, parse_url


def _ignore(*values: object) -> None:
    """The default hook: nothing to do."""


class FetchRun:
    """One L{fetch} call: its options, hooks and state across redirects and tries."""

    def __init__(
        self,
        reactor: Any,
        options: FetchOptions,
        path: str | None,
        output: BinaryIO | None,
        hooks: _Hooks,
    ) -> None:
        self.reactor = reactor
        self.clock: Any = hooks.clock or reactor
        self.options = options
        self.path = path
        self.output = output
        self.on_head = hooks.on_head
        self.on_progress = hooks.on_progress
        self.on_retry = hooks.on_retry
        self.jitter = hooks.jitter or random.Random()
        trust: Any = None
        if options.insecure:
            trust = False
        elif options.cacert is not None:
            trust = load_ca(options.cacert)
        self.connections = Connections(
            reactor,
            self.clock,
            trust,
            options.connect_timeout,
            options.limit_rate,
            hooks.pool,
        )
        self.destination: Destination | None = None
        self.resumable: ResumableFile | None = None
        self.file: FileTarget | None = None
        self.hop: Hop | None = None
        self.redirects = 0
        self.attempts = 1
        self.started = 0.0
        self.written = False
        #: C{-I -o}: the head was saved where a body would be.
        self.head_saved = False
        self.url = ""
        self.origin: tuple[bool, str, int] | None = None
        self.authorization: str | None = None

    def place(self, error: HTTPError) -> HTTPError:
        """Tell C{error} where the fetch was: its URL, status, redirects, attempts."""
        if self.hop is not None:
            error.url = self.hop.target.url
            if self.hop.response is not None:
                error.status = self.hop.response.status
        error.redirects = self.redirects
        error.attempts = self.attempts
        return error

    def may_try_again(self) -> bool:
        """Whether an attempt is left, in number and in time."""
        policy = self.options.retry
        if self.attempts > policy.retries:
            return False
        if policy.max_time is None:
            return True
        return bool(self.clock.seconds() - self.started < policy.max_time)

    def head_only(self, head: ResponseHead) -> Destination:
        """
        Where a response without a body to save goes: its head, with C{-i}, to the
        output or, for a C{HEAD} (C{-I}), to the file, as curl does (a 304 to a GET
        leaves the file as it was).
        """
        destination: Destination = Discard()
        options = self.options
        if options.include_headers:
            if self.output is not None:
                destination = StreamDestination(self.output)
            elif self.file is not None and options.head:
                destination = self.destination = self.file.open()
                self.head_saved = True
            destination.write(head.raw)
        return destination

    def name_from(self, head: ResponseHead) -> None:
        """
        C{-J}: save under the name the server's C{Content-Disposition} gives, in the
        target's directory; a file already there is never replaced (as curl).
        """
        value = head.get("Content-Disposition")
        if value is None or self.file is None or self.path is None:
            return
        name = disposition_name(value)
        if name is None:
            return
        path = str(Path(self.path).parent / name)
        if os.path.lexists(path):
            raise WriteError(f"-J: {path} exists: it is not replaced")
        self.path = path
        self.file = FileTarget.of(path)

    def open_destination(
        self, head: ResponseHead, length: int | None, decoding: bool
    ) -> Destination:
        destination: Destination
        options = self.options
        file = self.file
        if (
            self.resumable is None
            and file
            and not file.in_place
            and options.retry.retries
        ):
            self.resumable = ResumableFile(file.final, self.url, keep=False)
        if self.resumable is not None:
            destination = self.resumable
            total = length if head.status != 206 else full_length(head)
            self.resumable.begin(head, None if decoding else total)
        elif self.file is not None:
            destination = self.file.open()
        elif self.output is not None:
            destination = StreamDestination(self.output)
        else:
            destination = Discard()
        if isinstance(destination, AtomicFile):
            destination.expected_sha256 = options.expect_sha256
            destination.hash_on_commit = (
                destination is self.resumable and options.sha256
            )
        self.destination = destination
        if options.include_headers:
            destination.write(head.raw)
        return destination

    async def run(self, url: str) -> FetchResult:
        self.started = self.clock.seconds()
        first = parse_url(url)
        self.url = first.url
        self.origin = first.origin
        user = self.options.user or first.credentials
        self.authorization = None if user is None else basic_credentials(user)
        if self.path is not None:
            # Before connecting: a directory or a block device is refused at once.
            self.file = FileTarget.of(self.path, self.options.create_dirs)
            if self.options.resume and not self.file.in_place:
                self.resumable = ResumableFile(self.file.final, self.url, keep=True)
        while True:
            try:
                hop = await self._attempt(first)
                break
            except HTTPError as error:
                if not self._retrying(error):
                    raise
                policy = self.options.retry
                pause = policy.pause(self.attempts, error, self.jitter)
                if policy.max_time is not None:
                    left = policy.max_time - (self.clock.seconds() - self.started)
                    pause = max(0.0, min(pause, left))
                self.on_retry(self.attempts, pause, self.place(error))
                await deferLater(self.clock, pause)
                self.attempts += 1
        return self._result(hop)

    def _retrying(self, error: HTTPError) -> bool:
        """After a failed attempt: whether to try again (keeping what was saved)."""
        if not self.options.retry.is_transient(error) or not self.may_try_again():
            return False
        if self.destination is not None and self.destination is not self.resumable:
            if self.written:
                return False  # Bytes given to a stream or a device stay given.
            self.destination.abort()
            self.destination = None
        if self.resumable is not None:
            self.resumable.suspend()
        return True

    async def _attempt(self, first: Target) -> Hop:
        """One attempt: the request and the redirects it leads to, in C{max_time}."""
        self.redirects = 0
        running = Deferred.fromCoroutine(self._follow(first))
        limit = self.options.max_time
        if limit is not None:
            running.addTimeout(limit, self.clock)
        try:
            return await running
        except DeferredTimeoutError:
            raise self.place(
                OperationTimeoutError(f"the transfer took over {limit:g} s")
            ) from None

    async def _follow(self, target: Target) -> Hop:
        while True:
            hop = self.hop = Hop(self, target)
            await self._exchange(hop)
            if hop.location is None:
                return hop
            self.redirects += 1
            limit = self.options.max_redirects
            if self.redirects > limit:
                raise TooManyRedirectsError(
                    f"more than {limit} redirects "
                    f"(last to {shown(server_text(hop.location))})"
                )
            target = parse_url(urljoin(target.url, server_text(hop.location)))

    def _result(self, hop: Hop) -> FetchResult:
        response, pipeline = hop.response, hop.pipeline
        assert response is not None
        size = hop.offset + (pipeline.size if pipeline is not None else 0)
        digest = None if pipeline is None else pipeline.sha256
        resumable = self.resumable
        if hop.complete:
            # A 416 for the kept bytes: they are the whole file.
            assert resumable is not None
            size = resumable.size()
            resumable.hash_on_commit = self.options.sha256
            resumable.commit()
        if resumable is not None and (hop.complete or self.destination is resumable):
            digest = resumable.digest
        path = self.path
        if (response.status == 304 or self.options.head) and not self.head_saved:
            path = None  # Nothing was saved.
        elif path is not None and self.options.remote_time:
            _set_remote_time(path, response)
        return FetchResult(
            url=hop.target.url, status=response.status, reason=response.reason,
            headers=response.headers, bytes=size, sha256=digest,
            redirects=self.redirects, seconds=self.clock.seconds() - self.started,
            path=path, head=response.raw, attempts=self.attempts,
        )  # fmt: skip

    def _fields(self, target: Target) -> tuple[list[tuple[str, str]], list[Field]]:
        """
        The fields of a request to C{target} besides the client's own: conditions,
        a range, credentials (to the first URL's origin only) and the user's.
        """
        options = self.options
        fields: list[tuple[str, str]] = []
        if options.referer is not None:
            fields.append(("Referer", options.referer))
        if options.if_modified_since is not None:
            fields.append(("If-Modified-Since", http_date(options.if_modified_since)))
        if options.if_unmodified_since is not None:
            since = http_date(options.if_unmodified_since)
            fields.append(("If-Unmodified-Since", since))
        if options.if_none_match is not None:
            fields.append(("If-None-Match", options.if_none_match))
        if self.resumable is not None and not options.head:
            fields += self.resumable.range_fields()
        user_fields = list(options.headers)
        if target.origin == self.origin:
            if self.authorization is not None:
                fields.append(("Authorization", self.authorization))
        else:
            user_fields = [
                field
                for field in user_fields
                if field.name.lower() not in CREDENTIAL_FIELDS
            ]
        return fields, user_fields

    async def _exchange(self, hop: Hop) -> None:
        target, options = hop.target, self.options
        proxy = choose_proxy(
            target, options.proxy, options.noproxy, options.environment or {},
            options.proxy_user,
        )  # fmt: skip
        fields, user_fields = self._fields(target)
        if proxy is not None and not target.tls and proxy.authorization is not None:
            fields.append(("Proxy-Authorization", proxy.authorization))
        request = build_request(
            target, method="HEAD" if options.head else "GET",
            user_agent=options.user_agent, compressed=options.compressed,
            fields=fields, user_fields=user_fields,
            absolute=proxy is not None and not target.tls,
            keep_alive=self.connections.pool is not None,
        )  # fmt: skip
        try:
            await self.connections.send(hop, target, proxy, request, options.head)
        finally:
            if hop.pipeline is not None and hop.pipeline.size:
                self.written = True


def _set_remote_time(path: str, head: ResponseHead) -> None:
    """C{-R}: give the saved file the time the server's C{Last-Modified} says."""
    try:
        when = parsedate_to_datetime(head.get("Last-Modified") or "").timestamp()
        os.utime(path, (when, when))
    except (TypeError, ValueError, IndexError, OverflowError, OSError):
        pass


@dataclass(frozen=True)
class _Hooks:
    """What L{fetch} tells its caller as it goes, and what it runs on."""

    on_head: Callable[[ResponseHead], None]
    on_progress: Callable[[int], None]
    on_retry: Callable[[int, float, HTTPError], None]
    clock: Any
    jitter: random.Random | None
    pool: Pool | None


async def fetch(
    reactor: Any,
    url: str,
    path: str | None = None,
    options: FetchOptions = FetchOptions(),  # Frozen: never changed.
    *,
    output: BinaryIO | None = None,
    on_head: Callable[[ResponseHead], None] = _ignore,
    on_progress: Callable[[int], None] = _ignore,
    on_retry: Callable[[int, float, HTTPError], None] = _ignore,
    clock: Any = None,
    jitter: random.Random | None = None,
    pool: Pool | None = None,
) -> FetchResult:
    """
    GET C{url} and save its body to C{path} atomically (or write it to C{output}, or,
    with neither, only count and hash it), as C{options} say. C{on_head} sees the
    final response's head before its body; C{on_progress} the body's size so far;
    C{on_retry} each failed attempt that will be tried again (its number, the
    seconds until the next, the error). C{clock} (the reactor by default) times the
    pauses between attempts, and C{jitter} draws their randomness. With a C{pool},
    connections are kept open for the next fetch given the same pool (which a
    body spliced to its file could not be: pooled bodies go through Python).

    @raise HTTPError: a subclass per curl exit code; C{path} is then left as it was.
    """
    if UNSAFE_IN_URL.search(options.user_agent):
        raise BadURLError("the User-Agent holds control characters")
    hooks = _Hooks(on_head, on_progress, on_retry, clock, jitter, pool)
    job = FetchRun(reactor, options, path, output, hooks)
    try:
        return await job.run(url)
    except BaseException as error:
        # Whatever ended it, an error, a timeout or a cancellation (Ctrl-C), no
        # temporary file outlives the transfer (resumable bytes are kept, -C -).
        for destination in (job.destination, job.resumable):
            if destination is not None:
                destination.abort()
        if isinstance(error, HTTPError):
            job.place(error)
        raise
