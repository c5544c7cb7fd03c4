"""
The line clients of C{twisted-tcp send} and C{twisted-tcp chat} (docs/clients.md):
send lines, print everything the server sends, end when the server closes or when
the input is done and the server has gone quiet.
"""

from __future__ import annotations

from collections import deque
from typing import Final

from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IDelayedCall, IReactorTime, ITCPTransport
from twisted.internet.protocol import Protocol, connectionDone
from twisted.python.failure import Failure

from twisted_tcp._text import encode
from twisted_tcp.cli.errors import ClientError
from twisted_tcp.cli.exitcodes import EXIT_CONNECTION_LOST, EXIT_OK
from twisted_tcp.cli.printer import Printer
from twisted_tcp.http.tls import verification_error

#: In raw mode, how long the server must stay quiet after it answered (or after we
#: connected) before the next message goes out.
REPLY_QUIET: Final = 0.1


class LineClient(Protocol):
    """
    Sends lines and prints replies.

    @param printer: where what the server sends goes.
    @param encoding: how lines are encoded on the wire.
    @param newline: what ends each line sent (C{b""} in raw mode).
    @param raw: send each line without a line end, and only once the server has
        answered the previous one (or stayed silent for C{wait} seconds), as the
        tutorials' clients do with C{send} then C{recv}.
    @param wait: once input is done, close after this many seconds without data.
    @param quit_line: sent when input ends (the chat client's C{/quit}), or C{None}.
    @ivar finished: fires with the exit code when the session is over, or fails with
        a L{ClientError} when the connection broke or the session was abandoned (a
        L{twisted_tcp.http.errors.CertificateError} when TLS failed).
        Cancelling it (Ctrl-C) aborts the connection.
    @ivar holding: while true, queued lines wait instead of going out (a subclass
        holds them until the server has answered its opening request).
    """

    transport: ITCPTransport

    def __init__(
        self,
        *,
        printer: Printer,
        clock: IReactorTime,
        encoding: str = "utf-8",
        newline: bytes = b"\n",
        raw: bool = False,
        wait: float = 1.0,
        quit_line: str | None = None,
    ) -> None:
        self.printer = printer
        self.encoding = encoding
        self.newline = b"" if raw else newline
        self.raw = raw
        self.wait = wait
        self.quit_line = quit_line
        self.finished: Deferred[int] = Deferred(lambda _: self._abandon())
        self._clock = clock
        self._pending: deque[bytes] = deque()
        self._input_done = False
        self._awaiting_reply = False
        self._closing = False
        self._timer: IDelayedCall | None = None
        self._error: ClientError | None = None
        self.holding = False

    # Input, from the command line or the console.

    def send(self, line: str) -> None:
        """Queue one line to send."""
        self._pending.append(encode(line, self.encoding) + self.newline)
        if self.connected:
            self._advance()

    def end_of_input(self) -> None:
        """No more lines will come; end the session once the server is quiet."""
        if self._input_done:
            return
        if self.quit_line is not None:
            self.send(self.quit_line)
        self._input_done = True
        if self.connected:
            self._advance()

    def release(self) -> None:
        """Stop holding: the queued lines go out."""
        self.holding = False
        if self.connected:
            self._advance()

    def abandon(self, error: ClientError) -> None:
        """Hang up now, sending nothing more; the session fails with C{error}."""
        self._error = error
        self._cancel_timer()
        self._hang_up()

    # The connection.

    def connectionMade(self) -> None:
        self._advance()

    def dataReceived(self, data: bytes) -> None:
        self.printer.feed(data)
        self._awaiting_reply = False
        self._advance()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._cancel_timer()
        self.printer.close()
        if self.finished.called:
            return
        error: Exception | None = self._error
        if error is None and not self._closing:
            complaint: str | None = f"connection lost: {reason.getErrorMessage()}"
            if reason.check(ConnectionDone):
                complaint = self.complaint_about_close()
            if complaint is not None:
                error = verification_error(reason) or ClientError(
                    EXIT_CONNECTION_LOST, complaint
                )
        if error is None:
            self.finished.callback(EXIT_OK)
        else:
            self.finished.errback(error)

    def complaint_about_close(self) -> str | None:
        """
        Why the server closing the connection now is a lost connection, or C{None}
        if it is the session's normal end (for a plain line client, always).
        """
        return None

    # Pacing.

    def _advance(self) -> None:
        """Send what may go now, and set the timer for what comes next."""
        self._cancel_timer()
        if self._closing or self.holding:
            return
        if not self.raw:
            if self._pending:
                self.transport.writeSequence(list(self._pending))
                self._pending.clear()
        elif self._pending:
            delay = self.wait if self._awaiting_reply else REPLY_QUIET
            self._timer = self._clock.callLater(delay, self._send_one)
            return
        if self._input_done:
            self._timer = self._clock.callLater(self.wait, self._hang_up)

    def _send_one(self) -> None:
        self._timer = None
        self.transport.write(self._pending.popleft())
        self._awaiting_reply = True
        self._advance()

    def _hang_up(self) -> None:
        self._timer = None
        self._closing = True
        self.transport.loseConnection()

    def _abandon(self) -> None:
        """The session was cancelled (Ctrl-C): drop the connection, say nothing."""
        self._cancel_timer()
        self._closing = True
        if self.transport is not None:
            self.transport.abortConnection()

    def _cancel_timer(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
