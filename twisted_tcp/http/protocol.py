"""
The HTTP client's protocol: sends one request, parses the response into a
L{ResponseHandler}, and splices an identity body straight into its file where it
can (L{twisted_tcp.http.splice}).
"""

from __future__ import annotations

from typing import Any, Final

from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.protocol import Protocol, connectionDone
from twisted.internet.tcp import Connection
from twisted.python.failure import Failure

from twisted_tcp.http.errors import HTTPError, ReceiveError
from twisted_tcp.http.parser import Body, End, Event, Head, ResponseHead, ResponseParser
from twisted_tcp.http.sinks import AtomicFile
from twisted_tcp.http.splice import BodySplicer, can_splice
from twisted_tcp.http.tls import verification_error

#: Bytes read from the server at a time (Twisted reads 64 KiB): a quarter of the
#: reads, and of the Python work per read, on a large body that cannot be spliced.
READ_SIZE: Final = 256 * 1024


class RateLimit:
    """
    Keeps a transfer at C{rate} bytes a second at most, on average since its
    start: after each read that puts it ahead, the transport stops reading until
    the pace has caught up (C{--limit-rate}).
    """

    def __init__(self, clock: IReactorTime, rate: int) -> None:
        self._clock = clock
        self._rate = rate
        self._started = clock.seconds()
        self._count = 0
        self._resume: IDelayedCall | None = None

    def received(self, count: int, transport: Any) -> None:
        """C{count} more bytes were read from C{transport}."""
        self._count += count
        ahead = self._count / self._rate - (self._clock.seconds() - self._started)
        if ahead > 0 and self._resume is None:
            transport.pauseProducing()
            self._resume = self._clock.callLater(ahead, self._go_on, transport)

    def _go_on(self, transport: Any) -> None:
        self._resume = None
        transport.resumeProducing()

    def stop(self) -> None:
        """The transfer ended: no more resuming."""
        if self._resume is not None and self._resume.active():
            self._resume.cancel()
        self._resume = None


class ResponseHandler:
    """What a L{GetProtocol} tells about the response it receives."""

    #: The final response's head, once it came (set by L{head}'s implementations).
    response: ResponseHead | None = None

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
        (see L{twisted_tcp.http.splice}), or C{None} to receive it through L{body}.
        """
        return None

    def spliced(self, count: int) -> None:
        """C{count} more body bytes went straight into the L{splice_target}."""


class GetProtocol(Protocol):
    """
    Sends one request and parses the response into a L{ResponseHandler}; with
    C{keep_alive}, the connection may then carry more (L{send}), one at a time.

    @param bodiless: the request is a HEAD: the response has no body.
    @param limit_rate: the most bytes a second to read, or C{None}; reading pauses
        whenever the transfer is ahead of that pace (see L{RateLimit}).
    @ivar finished: fires when the response is complete, or fails with an
        L{HTTPError}; cancelling it aborts the connection.
    """

    def __init__(
        self,
        request: bytes,
        handler: ResponseHandler,
        *,
        bodiless: bool = False,
        limit_rate: RateLimit | None = None,
        keep_alive: bool = False,
    ) -> None:
        self._keep_alive = keep_alive
        #: The last response left the connection fit for another request.
        self.idle = False
        #: The connection is gone (an idle one may be closed by the server).
        self.closed = False
        self._prepare(request, handler, bodiless, limit_rate)

    def _prepare(
        self, request: bytes, handler: ResponseHandler, bodiless: bool,
        limit_rate: RateLimit | None,
    ) -> None:  # fmt: skip
        self._request = request
        self._handler = handler
        self._parser = ResponseParser(bodiless)
        self._limit = limit_rate
        self._outcome: Failure | None = None
        self._done = False
        self._head: ResponseHead | None = None
        self._head_just_seen = False
        self._splicer: BodySplicer | None = None
        self.finished: Deferred[None] = Deferred(self._cancel)

    def send(
        self, request: bytes, handler: ResponseHandler, *, bodiless: bool = False,
        limit_rate: RateLimit | None = None,
    ) -> Deferred[None]:  # fmt: skip
        """Send another request on this L{idle} connection; its C{finished}."""
        assert self.idle and self.transport is not None
        self.idle = False
        self._prepare(request, handler, bodiless, limit_rate)
        self.transport.write(request)
        return self.finished

    def connectionMade(self) -> None:
        assert self.transport is not None
        if isinstance(self.transport, Connection):
            # Fewer, larger reads: a body is read in READ_SIZE pieces, not 64 KiB.
            self.transport.bufferSize = READ_SIZE
        self.transport.write(self._request)

    def dataReceived(self, data: bytes) -> None:
        if self._done:
            if self.idle:
                # Bytes nobody asked for: the connection cannot be trusted.
                self.idle = False
                self.transport.abortConnection()  # type: ignore[union-attr]
            return
        try:
            self._handle(self._parser.feed(data))
            if self._head_just_seen and not self._done:
                self._head_just_seen = False
                self._splice_rest()
        except HTTPError:
            self._stop(Failure())
            return
        if self._limit is not None and not self._done:
            self._limit.received(len(data), self.transport)

    def _splice_rest(self) -> None:
        """
        Right after the head, with the body bytes read so far delivered: splice the
        rest of an identity body straight into its file, where that can be done.
        """
        if self._keep_alive or self._limit is not None:
            return
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
                self._head = event.head
                if not self._handler.head(event.head, event.length):
                    self._stop(None)
                    return
                self._head_just_seen = True
            elif isinstance(event, Body):
                self._handler.body(event.data)
            elif isinstance(event, End):
                self._handler.end()
                if self._reusable():
                    self._done = self.idle = True
                    if self._limit is not None:
                        self._limit.stop()
                    self.finished.callback(None)
                else:
                    self._stop(None)
                return

    def _reusable(self) -> bool:
        """
        Whether the response just completed (during a read: its framing said where
        it ended) leaves the connection fit for another request: kept alive, an
        HTTP/1.1 answer, no C{Connection: close}.
        """
        head = self._head
        if not self._keep_alive or head is None or head.version != "HTTP/1.1":
            return False
        tokens = {
            token.strip(" \t").lower()
            for value in head.get_all("Connection")
            for token in value.split(",")
        }
        return "close" not in tokens

    def _stop(self, outcome: Failure | None) -> None:
        """Settle the outcome now and drop the connection."""
        self._done = True
        self._outcome = outcome
        assert self.transport is not None
        self.transport.abortConnection()  # type: ignore[attr-defined]

    def _cancel(self, _: Deferred[None]) -> None:
        self._done = True
        if self._limit is not None:
            self._limit.stop()
        if self._splicer is not None:
            self._splicer.stop()
            self._splicer = None
        if self.transport is not None:
            self.transport.abortConnection()  # type: ignore[attr-defined]

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.closed = True
        self.idle = False
        if self._limit is not None:
            self._limit.stop()
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
