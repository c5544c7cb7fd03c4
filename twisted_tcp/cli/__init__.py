"""
The C{twisted-tcp} command (docs/clients.md; C{get}: docs/http-client.md): one
subcommand per client, each in its own module of this package and run under
L{twisted.internet.task.react}, exiting with curl's codes for network failures.

Ctrl-C (SIGINT) cancels the running subcommand: its coroutine gets
L{twisted.internet.defer.CancelledError} at the C{await} where it waits, runs its
clean-up (C{finally} blocks: a temporary file removed, a connection aborted), and the
command exits 130 without a message, as an interrupted program does. A second Ctrl-C
kills it at once.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable, Coroutine, Sequence
from importlib import import_module
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn

from twisted_tcp.cli.arguments import build_parser
from twisted_tcp.cli.exitcodes import EXIT_INTERRUPTED

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred

#: What each subcommand's module (C{twisted_tcp.cli.send}, ...) calls C{run}. The
#: module is imported when its subcommand runs: C{twisted-tcp --help} imports no
#: Twisted at all, and C{get} none of the line, UDP or ping clients.
Command = Callable[[Any, argparse.Namespace], Coroutine[Any, Any, int]]


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Entry point of the C{twisted-tcp} console script."""
    try:
        arguments = build_parser().parse_args(argv)
        arguments.line_editor = arguments.command == "chat" and _on_terminal()
        if arguments.line_editor:
            from twisted_tcp.cli.terminal import install_reactor

            install_reactor()
        from twisted.internet.task import react

        react(_run, (arguments,))
    except KeyboardInterrupt:
        # Ctrl-C before the command started: nothing to clean up.
        raise SystemExit(EXIT_INTERRUPTED) from None


def _on_terminal() -> bool:
    """Whether a person is typing: standard input and output are both a terminal."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def _run(reactor: Any, arguments: argparse.Namespace) -> Deferred[None]:
    from twisted.internet.defer import Deferred

    command: Command = import_module(f"{__name__}.{arguments.command}").run
    running = Deferred.fromCoroutine(command(reactor, arguments))
    interruption = Interruption(reactor, running)
    return Deferred.fromCoroutine(_exit_with_code(running, interruption))


class Interruption:
    """
    Turns the first SIGINT into the cancellation of C{running}, and lets the second
    one kill the process (the default action) in case clean-up hangs.

    Installed before the reactor runs, so the reactor leaves SIGINT to it.
    """

    def __init__(self, reactor: Any, running: Deferred[int]) -> None:
        self.interrupted = False
        self._reactor = reactor
        self._running = running
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, number: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        self._reactor.callFromThread(self._interrupt)

    def _interrupt(self) -> None:
        self.interrupted = True
        self._running.cancel()


async def _exit_with_code(running: Deferred[int], interruption: Interruption) -> None:
    """Wait for the command; exit with its code, after its one-line complaint."""
    from twisted_tcp.cli.errors import ClientError
    from twisted_tcp.http.errors import HTTPError

    try:
        code = await running
    except Exception as error:
        if interruption.interrupted:
            # However the command failed on being cancelled (CancelledError, a
            # cancelled connection attempt, a connection it aborted), the user asked
            # it to stop: that is all there is to say.
            raise SystemExit(EXIT_INTERRUPTED) from None
        if not isinstance(error, ClientError | HTTPError):
            raise
        complain(str(error))
        code = error.exit_code
    if interruption.interrupted:
        code = EXIT_INTERRUPTED
    if code:
        raise SystemExit(code)


def complain(message: str) -> None:
    """Print one line of complaint on standard error, named after the command."""
    sys.stderr.write(f"twisted-tcp: {message}\n")
    sys.stderr.flush()


def say(line: str) -> None:
    """Print one line of output."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
