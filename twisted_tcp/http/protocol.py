"""
The HTTP client's protocol: sends one request, parses the response into a
L{ResponseHandler}, and splices an identity body straight into its file where it
can (L{twisted_tcp.http.splice}).
"""

from __future__ import annotations

from typing import Final

from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionDone
from twisted.internet.protocol import Protocol, connectionDone
from twisted.internet.tcp import Connection
from twisted.python.failure import Failure

from twisted_tcp.http.body import AtomicFile
from twisted_tcp.http.errors import CertificateError, HTTPError, ReceiveError
from twisted_tcp.http.parser import Body, End, Event, Head, ResponseHead, ResponseParser
from twisted_tcp.http.splice import BodySplicer, can_splice
from twisted_tcp.http.tls import is_tls_error, tls_message

#: Bytes read from the server at a time (Twisted reads 64 KiB): a quarter of the
#: reads, and of the Python work per read, on a large body that cannot be spliced.
READ_SIZE: Final = 256 * 1024


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
        (see L{twisted_tcp.http.splice}), or C{None} to receive it through L{body}.
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
    if is_tls_error(reason):
        return CertificateError(f"TLS failure: {tls_message(reason)}")
    return ReceiveError(f"connection lost while receiving: {reason.getErrorMessage()}")
