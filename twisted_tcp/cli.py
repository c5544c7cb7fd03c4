"""
The C{twisted-tcp} command (README, "Clients"; C{get}: docs/http-client.md): one
subcommand per client, each run under L{twisted.internet.task.react}, exiting with
curl's codes for network failures.

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
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn

from twisted_tcp._checks import (
    encoding,
    non_negative_int,
    positive_int,
    positive_seconds,
    remote_port,
    seconds,
)
from twisted_tcp._defaults import DEFAULT_MAX_REDIRECTS, DEFAULT_USER_AGENT
from twisted_tcp._exitcodes import EXIT_INTERRUPTED
from twisted_tcp._version import __version__

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred

    from twisted_tcp._console import ConsoleOpener
    from twisted_tcp._http_parser import ResponseHead
    from twisted_tcp.httpget import FetchResult
    from twisted_tcp.lineclient import LineClient

# Each subcommand imports the modules it needs when it runs: `twisted-tcp --help`
# imports no Twisted at all, and `get` none of the line, UDP or ping clients.

Command = Callable[[Any, argparse.Namespace], Coroutine[Any, Any, int]]


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Entry point of the C{twisted-tcp} console script."""
    try:
        arguments = build_parser().parse_args(argv)
        arguments.line_editor = arguments.command is chat and _on_terminal()
        if arguments.line_editor:
            from twisted_tcp._terminal import install_reactor

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

    command: Command = arguments.command
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
    from twisted_tcp._errors import ClientError
    from twisted_tcp._http_parser import HTTPError

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
        _complain(str(error))
        code = error.exit_code
    if interruption.interrupted:
        code = EXIT_INTERRUPTED
    if code:
        raise SystemExit(code)


def _complain(message: str) -> None:
    sys.stderr.write(f"twisted-tcp: {message}\n")
    sys.stderr.flush()


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


# Subcommands.


async def _line_session(
    reactor: Any, arguments: argparse.Namespace, client_options: dict[str, Any],
    lines: Sequence[str], client_class: type[LineClient] | None = None,
    opener: ConsoleOpener | None = None,
) -> int:  # fmt: skip
    """
    Run a L{LineClient} (or C{client_class}) between the server and the console that
    C{opener} opens (by default L{twisted_tcp._console.open_console}).
    """
    from twisted_tcp._connect import connect_tcp
    from twisted_tcp._console import open_console
    from twisted_tcp._printer import Printer
    from twisted_tcp.lineclient import LineClient

    console = (opener or open_console)(
        reactor,
        on_line=lambda line: client.send(line),
        on_end=lambda: client.end_of_input(),
    )
    client = (client_class or LineClient)(
        printer=Printer(console.write, arguments.encoding),
        clock=reactor,
        encoding=arguments.encoding,
        **client_options,
    )
    if lines:
        console.ignore_input()
        for line in lines:
            client.send(line)
        client.end_of_input()
    try:
        await connect_tcp(reactor, arguments.host, arguments.port, client)
        return await client.finished
    finally:
        await console.close()


async def send(reactor: Any, arguments: argparse.Namespace) -> int:
    """C{twisted-tcp send}: a netcat-like line client."""
    options = {
        "newline": b"\r\n" if arguments.crlf else b"\n",
        "raw": arguments.raw,
        "wait": arguments.wait,
    }
    return await _line_session(reactor, arguments, options, arguments.lines)


async def chat(reactor: Any, arguments: argparse.Namespace) -> int:
    """C{twisted-tcp chat}: the interactive chat client."""
    from twisted_tcp.chatclient import ChatClient

    options = {"nick": arguments.nick, "wait": arguments.wait}
    opener: ConsoleOpener | None = None
    if arguments.line_editor:
        from twisted_tcp._terminal import open_terminal as opener
    return await _line_session(reactor, arguments, options, [], ChatClient, opener)


async def udp(reactor: Any, arguments: argparse.Namespace) -> int:
    """C{twisted-tcp udp}: send datagrams, print the answers."""
    from twisted_tcp.udp_client import exchange

    messages = arguments.messages or sys.stdin.read().splitlines()
    return await exchange(
        reactor, arguments.host, arguments.port, messages,
        timeout=arguments.timeout, encoding=arguments.encoding,
        write=_say, complain=_complain,
    )  # fmt: skip


async def ping_command(reactor: Any, arguments: argparse.Namespace) -> int:
    """C{twisted-tcp ping}: round trips to an echo server, payloads verified."""
    from twisted_tcp._errors import ClientError
    from twisted_tcp._exitcodes import EXIT_CONNECT, EXIT_FAILURE, EXIT_OK
    from twisted_tcp.ping import MIN_UDP_SIZE, ping
    from twisted_tcp.udp_echo import MAX_DATAGRAM

    if arguments.udp and not MIN_UDP_SIZE <= arguments.size <= MAX_DATAGRAM:
        raise ClientError(2, f"--size must be {MIN_UDP_SIZE}-{MAX_DATAGRAM} with --udp")
    report = await ping(
        reactor, arguments.host, arguments.port, udp=arguments.udp,
        count=arguments.count, size=arguments.size, interval=arguments.interval,
        timeout=arguments.timeout, write=_say,
    )  # fmt: skip
    if report.refused:
        return EXIT_CONNECT
    return EXIT_OK if report.ok else EXIT_FAILURE


async def get(reactor: Any, arguments: argparse.Namespace) -> int:
    """
    C{twisted-tcp get}: the raw HTTP/1.1 client. With C{--json}, one summary line
    on standard output whatever the outcome: a failure's has its exit code and
    message too (and the usual line on standard error).
    """
    import json
    import time

    from twisted_tcp._errors import ClientError
    from twisted_tcp._exitcodes import EXIT_OK
    from twisted_tcp._http_parser import HTTPError
    from twisted_tcp.httpget import guess_scheme

    url = guess_scheme(arguments.url)
    if arguments.json and not arguments.remote_name and arguments.output in {None, "-"}:
        raise ClientError(
            2, "--json prints its summary on standard output: save the body with "
            "-o FILE or -O (-o /dev/null to drop it)",
        )  # fmt: skip
    started = time.monotonic()
    received = 0

    def count(size: int) -> None:
        nonlocal received
        received = size

    try:
        result = await _download(reactor, arguments, url, count)
    except (ClientError, HTTPError) as error:
        if arguments.json:
            summary = {
                "url": getattr(error, "url", None) or url,
                "redirects": getattr(error, "redirects", 0),
                "status": getattr(error, "status", None), "bytes": received,
                "seconds": round(time.monotonic() - started, 6), "sha256": None,
                "saved": None, "exit_code": error.exit_code, "error": str(error),
            }  # fmt: skip
            _say(json.dumps(summary))
        raise
    if arguments.json:
        summary = {
            "url": result.url, "redirects": result.redirects, "status": result.status,
            "bytes": result.bytes, "seconds": round(result.seconds, 6),
            "sha256": result.sha256, "saved": result.path, "exit_code": EXIT_OK,
            "error": None,
        }  # fmt: skip
        _say(json.dumps(summary))
    return EXIT_OK


async def _download(
    reactor: Any, arguments: argparse.Namespace, url: str, count: Callable[[int], None]
) -> FetchResult:
    """Fetch C{url} as C{get}'s options say; C{count} hears the bytes so far."""
    from twisted_tcp._errors import ClientError
    from twisted_tcp._http_parser import parse_content_length
    from twisted_tcp._progress import Progress
    from twisted_tcp._text import neutralise_c1
    from twisted_tcp.httpget import WriteError, fetch

    path = None if arguments.output == "-" else arguments.output
    if arguments.remote_name:
        path = remote_name(url)
    dump = arguments.dump_header
    if path is not None and dump not in (None, "-") and _same_file(path, dump):
        raise ClientError(
            2, f"-D {dump} is the file the body is saved to: the one would overwrite "
            "the other (-i puts the head in the body's file)",
        )  # fmt: skip
    saving = path is not None
    print_head = saving and not arguments.silent and not arguments.json
    progress = Progress(sys.stderr) if saving and not arguments.silent else None

    def on_head(head: ResponseHead) -> None:
        if print_head:
            # Shown, not replayed: the server's C1 controls must not drive the
            # terminal (the parser refuses C0 ones, ESC among them).
            sys.stdout.buffer.write(neutralise_c1(head.raw))
            sys.stdout.flush()
        if dump == "-":
            sys.stdout.buffer.write(head.raw)
            sys.stdout.flush()
        elif dump is not None:
            from pathlib import Path

            try:
                Path(dump).write_bytes(head.raw)
            except OSError as error:
                raise WriteError(f"cannot write {dump}: {error.strerror}") from None
        if progress is not None:
            lengths = head.get_all("Content-Length")
            progress.start(parse_content_length(lengths) if lengths else None)

    def on_progress(size: int) -> None:
        count(size)
        if progress is not None:
            progress.update(size)

    try:
        return await fetch(
            reactor, url, path,
            output=None if saving else sys.stdout.buffer,
            follow_redirects=arguments.location, max_redirects=arguments.max_redirs,
            connect_timeout=arguments.connect_timeout, max_time=arguments.max_time,
            max_filesize=arguments.max_filesize, compressed=arguments.compressed,
            user_agent=arguments.user_agent, cacert=arguments.cacert,
            insecure=arguments.insecure, fail=arguments.fail,
            include_headers=arguments.include, sha256=arguments.json,
            on_head=on_head, on_progress=on_progress,
        )  # fmt: skip
    finally:
        if progress is not None:
            progress.finish()


def _same_file(first: str, second: str) -> bool:
    """
    Whether two names reach the same regular file (or would, once created),
    whatever their spelling or the symbolic links on the way. Two names for one
    character device or FIFO (C{/dev/null}) may well be both written to.
    """
    import os
    import stat

    try:
        same = os.path.samefile(first, second)
        mode = os.stat(first).st_mode
    except OSError:
        # One of them does not exist yet: the same if they resolve to one name.
        return os.path.realpath(first) == os.path.realpath(second)
    return same and not (stat.S_ISCHR(mode) or stat.S_ISFIFO(mode))


def remote_name(url: str) -> str:
    """C{-O}: the file name is the last segment of the URL's path."""
    from urllib.parse import urlsplit

    from twisted_tcp.httpget import WriteError

    name = urlsplit(url).path.rsplit("/", 1)[-1]
    if name in ("", ".", ".."):
        raise WriteError(f"no file name in the URL's path: {url}")
    return name


# The parser.


def _nick(value: str) -> str:
    """A nick to ask for: one word (the server judges the rest)."""
    nick = value.strip()
    if not nick or len(nick.split()) > 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not one word")
    return nick


def _add_target(parser: argparse.ArgumentParser) -> None:
    """The HOST and PORT arguments every client takes."""
    parser.add_argument("host", help="name or address of the server")
    parser.add_argument("port", type=remote_port, help="its port")


def build_parser() -> argparse.ArgumentParser:
    """The C{twisted-tcp} argument parser, one sub-parser per subcommand."""
    parser = argparse.ArgumentParser(
        prog="twisted-tcp",
        description="Clients for the twisted-tcp servers and any TCP/UDP peer.",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}"
    )
    commands = parser.add_subparsers(title="commands", required=True)

    sender = commands.add_parser(
        "send",
        help="send lines, print what the server sends",
        description="Send each LINE (or, with none, the lines of standard input) and "
        "print everything the server sends. Exits when the server closes, or once "
        "the input is done and the server has been quiet for --wait seconds.",
    )
    _add_target(sender)
    sender.add_argument("lines", nargs="*", metavar="LINE")
    sender.add_argument(
        "--raw", action="store_true",
        help="send each LINE without a line end, waiting for the answer to the "
        "previous one (the tutorials' clients)",
    )  # fmt: skip
    sender.add_argument(
        "--wait", type=seconds, default=1.0, metavar="S",
        help="seconds of quiet after the input before closing (default: 1)",
    )  # fmt: skip
    sender.add_argument("--crlf", action="store_true", help="end lines with CRLF")
    sender.set_defaults(command=send)

    chatter = commands.add_parser(
        "chat",
        help="interactive chat client",
        description="Lines typed (or piped in) are sent; lines received are printed. "
        "/quit or the end of input leaves. On a terminal, lines are typed in a line "
        "editor (arrow keys, history) above which the room's lines are printed.",
    )
    chatter.add_argument("host", help="name or address of the chat server")
    chatter.add_argument(
        "port", type=remote_port, nargs="?", default=6666,
        help="its port (default: 6666, the chat server's)",
    )  # fmt: skip
    chatter.add_argument(
        "--nick", type=_nick, metavar="NAME",
        help="choose a nick on arrival; exit 1 if the server refuses it",
    )  # fmt: skip
    chatter.add_argument(
        "--wait", type=seconds, default=5.0, metavar="S",
        help="after /quit, seconds to wait for the server to close (default: 5)",
    )  # fmt: skip
    chatter.set_defaults(command=chat)

    for sub in (sender, chatter):
        sub.add_argument(
            "--encoding", type=encoding, default="utf-8",
            help="text encoding on the wire (default: utf-8)",
        )  # fmt: skip

    datagram = commands.add_parser(
        "udp",
        help="send datagrams, print the answers",
        description="Send each MESSAGE (or each line of standard input) as one "
        "datagram and print the answer to it.",
    )
    _add_target(datagram)
    datagram.add_argument("messages", nargs="*", metavar="MESSAGE")
    datagram.add_argument(
        "--timeout", type=positive_seconds, default=2.0, metavar="S",
        help="seconds to wait for each answer (default: 2)",
    )  # fmt: skip
    datagram.add_argument(
        "--encoding", type=encoding, default="utf-8",
        help="text encoding of the datagrams (default: utf-8)",
    )  # fmt: skip
    datagram.set_defaults(command=udp)

    pinger = commands.add_parser(
        "ping",
        help="measure an echo server's round trips",
        description="Send COUNT payloads of SIZE random bytes to an echo server, one "
        "every INTERVAL seconds, check each comes back exactly, and print round "
        "trips and a summary. Exits 1 on any loss or mismatch.",
    )
    _add_target(pinger)
    pinger.add_argument("--udp", action="store_true", help="probe over UDP")
    pinger.add_argument(
        "--count", "-c", type=positive_int, default=4, metavar="N",
        help="payloads to send (default: 4)",
    )  # fmt: skip
    pinger.add_argument(
        "--size", "-s", type=positive_int, default=56, metavar="BYTES",
        help="bytes in each payload (default: 56)",
    )  # fmt: skip
    pinger.add_argument(
        "--interval", "-i", type=seconds, default=1.0, metavar="S",
        help="seconds between payloads (default: 1)",
    )  # fmt: skip
    pinger.add_argument(
        "--timeout", "-W", type=positive_seconds, default=2.0, metavar="S",
        help="seconds to wait for each answer (default: 2)",
    )  # fmt: skip
    pinger.set_defaults(command=ping_command)
    _add_get(commands)
    return parser


def _add_get(commands: Any) -> None:
    """The C{get} subcommand, with curl's option names."""
    getter = commands.add_parser(
        "get",
        help="fetch a URL over HTTP/1.1 and save it",
        description="GET a URL with a raw HTTP/1.1 client. Without -o/-O the body "
        "goes to standard output; with them it is saved atomically and the status "
        "line and headers are printed.",
    )
    getter.add_argument(
        "url", metavar="URL", help="http:// or https:// URL (http:// if none is given)"
    )
    target = getter.add_mutually_exclusive_group()
    target.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="save the body here (- for standard output)",
    )
    target.add_argument(
        "-O",
        "--remote-name",
        action="store_true",
        help="save under the last part of the URL's path",
    )
    getter.add_argument(
        "-L", "--location", action="store_true", help="follow redirects"
    )
    getter.add_argument(
        "--max-redirs",
        type=non_negative_int,
        default=DEFAULT_MAX_REDIRECTS,
        metavar="N",
        help=f"most redirects to follow (default: {DEFAULT_MAX_REDIRECTS})",
    )
    getter.add_argument(
        "-i",
        "--include",
        action="store_true",
        help="put the response head in the output",
    )
    getter.add_argument(
        "-D",
        "--dump-header",
        metavar="FILE",
        help="write the response head to FILE (- for standard output)",
    )
    getter.add_argument(
        "-f",
        "--fail",
        action="store_true",
        help="fail (exit 22) on HTTP status 400 or more",
    )
    getter.add_argument(
        "--connect-timeout",
        type=positive_seconds,
        default=30.0,
        metavar="S",
        help="seconds allowed to connect (default: 30)",
    )
    getter.add_argument(
        "-m",
        "--max-time",
        type=positive_seconds,
        metavar="S",
        help="seconds allowed for the whole transfer",
    )
    getter.add_argument(
        "--max-filesize",
        type=non_negative_int,
        metavar="BYTES",
        help="largest body accepted (after decoding)",
    )
    getter.add_argument(
        "--compressed",
        action="store_true",
        help="ask for gzip or deflate and decode every content coding listed",
    )
    getter.add_argument(
        "-s", "--silent", action="store_true", help="no head, no progress bar"
    )
    getter.add_argument("-A", "--user-agent", default=DEFAULT_USER_AGENT, metavar="UA")
    getter.add_argument(
        "--cacert", metavar="FILE", help="trust the CA certificate(s) in this PEM file"
    )
    getter.add_argument(
        "-k",
        "--insecure",
        action="store_true",
        help="do not verify the server's certificate",
    )
    getter.add_argument(
        "--json",
        action="store_true",
        help="print a one-line JSON summary, on failure too (needs -o FILE or -O)",
    )
    getter.set_defaults(command=get)
