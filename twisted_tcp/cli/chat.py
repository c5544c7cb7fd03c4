"""
The session of C{twisted-tcp chat}: a L{LineClient} that leaves with C{/quit} and,
given a nick, asks for it before anything else.

The nick is the connection's first line, so a server that applies C{/nick} on
arrival can announce the member under that name. Every other line waits until the
server has confirmed the nick; a refusal ends the session with an error, so nothing
is ever posted under a name (such as C{guest-N}) the user did not choose.
"""

from __future__ import annotations

import argparse
import re
from typing import Any, Final

from twisted.internet.interfaces import IDelayedCall
from twisted.internet.protocol import connectionDone
from twisted.python.failure import Failure

from twisted_tcp._text import encode
from twisted_tcp.cli.console import ConsoleOpener, open_console
from twisted_tcp.cli.errors import ClientError
from twisted_tcp.cli.exitcodes import EXIT_FAILURE
from twisted_tcp.cli.lineclient import LineClient
from twisted_tcp.cli.send import line_session

#: Seconds the server has to confirm or refuse the nick before we give up.
NICK_TIMEOUT: Final = 10.0

#: Past this many bytes without a line end, what the server sends is no answer (nor
#: a goodbye).
MAX_ANSWER_LINE: Final = 64 * 1024

#: The server's welcome, which names the member: C{* Welcome, NICK! ...}.
WELCOME: Final = re.compile(r"\* Welcome, (?P<nick>[^\s!]+)!")

#: How the server reports a rename: C{* OLD is now known as NEW}.
RENAMED: Final = re.compile(r"\* (?P<old>\S+) is now known as (?P<new>\S+)$")

#: The prefix of the lines in which the server refuses something.
ERROR_PREFIX: Final = "error: "

#: The lines after which the server closes the connection (docs/chat-protocol.md):
#: the answer to /quit, the shutdown notice, the idle notice. A close after any
#: other line means the server died or was cut off.
GOODBYE: Final = re.compile(r"\* (Bye|server shutting down|idle for \S+ s; closing)$")


class ChatClient(LineClient):
    """
    A chat session that asks for C{nick} as its first line and holds everything
    else back until the server names the member C{nick}, either in its welcome or in
    a rename notice for the member's own current nick. An C{error:} line before that
    (a taken, reserved or malformed nick, a full server), or no answer within
    L{NICK_TIMEOUT} seconds, ends the session with exit code 1.

    The server closing the connection ends the session well only after one of its
    L{GOODBYE} lines; after an C{error:} line (a full server) it ends it with that
    error, and after any other line the connection was lost, as when the server's
    process dies: both exit code 56.

    @param nick: the nick to ask for, or C{None} to keep the one the server gives.
    """

    def __init__(self, *, nick: str | None = None, **options: Any) -> None:
        super().__init__(quit_line="/quit", **options)
        self.nick = nick.strip() if nick is not None else None
        self.holding = self.nick is not None
        self._nick_timer: IDelayedCall | None = None
        self._current_nick: str | None = None
        self._partial = b""
        self._last_line = ""

    def connectionMade(self) -> None:
        if self.nick is not None:
            request = encode(f"/nick {self.nick}", self.encoding) + self.newline
            self.transport.write(request)
            self._nick_timer = self._clock.callLater(NICK_TIMEOUT, self._no_answer)
        super().connectionMade()

    def dataReceived(self, data: bytes) -> None:
        super().dataReceived(data)
        self._read_lines(data)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._stop_waiting()
        super().connectionLost(reason)

    def complaint_about_close(self) -> str | None:
        """
        Nothing if the server said goodbye in its last line before closing; the
        reason if that was an error (a full server); else the connection was lost.
        """
        if GOODBYE.match(self._last_line):
            return None
        if self._last_line.startswith(ERROR_PREFIX):
            reason = self._last_line.removeprefix(ERROR_PREFIX)
            return f"the server closed the connection: {reason}"
        return "connection lost: the server closed it mid-session"

    def _read_lines(self, data: bytes) -> None:
        *lines, self._partial = (self._partial + data).split(b"\n")
        if len(self._partial) > MAX_ANSWER_LINE:
            self._partial = b""
        for line in lines:
            self._last_line = line.removesuffix(b"\r").decode(self.encoding, "replace")
            if self.holding:
                self._answer(self._last_line)

    # Waiting for the server's answer to the nick.

    def _answer(self, line: str) -> None:
        assert self.nick is not None
        wanted = self.nick.casefold()
        if line.startswith(ERROR_PREFIX):
            self._refused(line.removeprefix(ERROR_PREFIX))
        elif welcome := WELCOME.match(line):
            self._current_nick = welcome["nick"]
            if self._current_nick.casefold() == wanted:
                self._accepted()
        elif (
            (renamed := RENAMED.match(line))
            and renamed["old"] == self._current_nick
            and renamed["new"].casefold() == wanted
        ):
            self._accepted()

    def _accepted(self) -> None:
        self._stop_waiting()
        self.release()

    def _refused(self, reason: str) -> None:
        self._stop_waiting()
        self.abandon(ClientError(EXIT_FAILURE, f"cannot chat as {self.nick}: {reason}"))

    def _no_answer(self) -> None:
        self._nick_timer = None
        self.abandon(
            ClientError(
                EXIT_FAILURE,
                f"cannot chat as {self.nick}: the server did not answer "
                f"/nick within {NICK_TIMEOUT:g} s",
            )
        )

    def _stop_waiting(self) -> None:
        if self._nick_timer is not None and self._nick_timer.active():
            self._nick_timer.cancel()
        self._nick_timer = None


async def run(reactor: Any, arguments: argparse.Namespace) -> int:
    """C{twisted-tcp chat}: the interactive chat client."""
    options = {"nick": arguments.nick, "wait": arguments.wait}
    opener: ConsoleOpener = open_console
    if arguments.line_editor:
        from twisted_tcp.cli.terminal import open_terminal as opener
    return await line_session(reactor, arguments, options, [], ChatClient, opener)
