"""
One request of a fetch (a L{Hop}): what the response's head means, a redirect to
follow, a status worth trying again, the end of a resumed file, a failure, or a
body, and where that body goes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from twisted_tcp.http.body import BodyPipeline
from twisted_tcp.http.decoding import check_codings, content_codings
from twisted_tcp.http.errors import (
    FileTooLargeError,
    HTTPStatusError,
    RangeError,
    TransientStatusError,
    server_text,
    shown,
)
from twisted_tcp.http.parser import ResponseHead
from twisted_tcp.http.protocol import ResponseHandler
from twisted_tcp.http.resume import ResumableFile
from twisted_tcp.http.retry import TRANSIENT_STATUSES, retry_after
from twisted_tcp.http.sinks import AtomicFile
from twisted_tcp.http.url import Target

if TYPE_CHECKING:
    from twisted_tcp.http.fetch import FetchRun

REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})


class Hop(ResponseHandler):
    """One request of a fetch: decides what the response head means."""

    def __init__(self, fetch: FetchRun, target: Target) -> None:
        self.fetch = fetch
        self.target = target
        self.response: ResponseHead | None = None
        self.location: str | None = None
        self.pipeline: BodyPipeline | None = None
        #: Bytes of the body already kept from an earlier attempt or run.
        self.offset = 0
        #: A 416 said the kept bytes are the whole file.
        self.complete = False

    def head(self, head: ResponseHead, length: int | None) -> bool:
        self.response = head
        fetch = self.fetch
        options = fetch.options
        location = head.get("Location")
        if options.follow_redirects and head.status in REDIRECT_STATUSES and location:
            self.location = location
            return False
        reason = shown(server_text(head.reason))
        if head.status in TRANSIENT_STATUSES and fetch.may_try_again():
            wait = retry_after(head.get("Retry-After"), fetch.clock.seconds())
            raise TransientStatusError(
                f"the server answered {head.status} {reason}", wait
            )
        resumable = fetch.resumable
        if head.status == 416 and resumable is not None and resumable.size():
            if resumable.complete(head):
                self.complete = True
                return False
            resumable.discard()
            raise RangeError(
                f"the server has no bytes past the {resumable.size()} kept "
                f"(416 {reason})"
            )
        if options.fail and head.status >= 400:
            raise HTTPStatusError(f"the server answered {head.status} {reason}")
        fetch.on_head(head)
        if head.status == 304 or options.head:
            self.pipeline = BodyPipeline(fetch.head_only(head), max_size=None)
            return True
        if options.remote_header_name:
            fetch.name_from(head)
        codings = content_codings(head.get_all("Content-Encoding"))
        decoding = options.compressed and bool(codings)
        if decoding:
            check_codings(codings)  # Before anything is opened.
        destination = fetch.open_destination(head, length, decoding)
        if isinstance(destination, ResumableFile) and head.status == 206:
            self.offset = destination.size()
        limit = options.max_filesize
        if limit is not None:
            limit -= self.offset
        # An encoded body's announced length is not its decoded size: that is
        # checked as it is decoded.
        if limit is not None and length is not None and length > limit and not decoding:
            raise FileTooLargeError(
                f"the body ({length + self.offset} bytes) is over "
                f"{options.max_filesize} bytes"
            )
        self.pipeline = BodyPipeline(
            destination,
            max_size=limit,
            codings=codings if decoding else (),
            sha256=options.sha256 and not isinstance(destination, ResumableFile),
        )
        return True

    def body(self, data: bytes) -> None:
        assert self.pipeline is not None
        self.pipeline.write(data)
        self.fetch.on_progress(self.offset + self.pipeline.size)

    def end(self) -> None:
        if self.pipeline is not None:
            self.pipeline.finish()

    def splice_target(self) -> AtomicFile | None:
        return None if self.pipeline is None else self.pipeline.direct_target()

    def spliced(self, count: int) -> None:
        assert self.pipeline is not None
        self.pipeline.count(count)
        self.fetch.on_progress(self.offset + self.pipeline.size)
