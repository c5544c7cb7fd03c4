"""
The argument tables of the C{twisted-tcp} command: one sub-parser per subcommand,
naming the module of L{twisted_tcp.cli} that runs it.

Only the standard library and our option checks are imported here, so that
C{twisted-tcp --help} imports no network code.
"""

from __future__ import annotations

import argparse
from typing import Any

from twisted_tcp._checks import (
    encoding,
    positive_int,
    positive_seconds,
    remote_port,
    seconds,
)
from twisted_tcp._version import __version__
from twisted_tcp.cli.get_options import REMOTE, add_arguments


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


def _add_tls(parser: argparse.ArgumentParser) -> None:
    """The TLS options of the line clients."""
    parser.add_argument(
        "--tls", action="store_true",
        help="connect over TLS, verifying the server's certificate and name as get "
        "does",
    )  # fmt: skip
    parser.add_argument(
        "--cacert", metavar="FILE",
        help="with --tls: trust the CA certificate(s) in this PEM file instead of "
        "the system's",
    )  # fmt: skip
    parser.add_argument(
        "--cert", metavar="FILE",
        help="with --tls: present this client certificate (PEM, with its key unless "
        "--key is given)",
    )  # fmt: skip
    parser.add_argument("--key", metavar="FILE", help="the private key of --cert (PEM)")


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
    sender.set_defaults(command="send")

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
    chatter.set_defaults(command="chat")

    for sub in (sender, chatter):
        sub.add_argument(
            "--encoding", type=encoding, default="utf-8",
            help="text encoding on the wire (default: utf-8)",
        )  # fmt: skip
        _add_tls(sub)

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
    datagram.set_defaults(command="udp")

    pinger = commands.add_parser(
        "ping",
        help="measure an echo server's round trips",
        description="Send COUNT payloads of SIZE random bytes to an echo server, one "
        "every INTERVAL seconds whatever the answers do, check each comes back "
        "exactly, and print round trips and a summary (late and lost answers "
        "counted). Exits 1 unless every payload comes back exactly within --timeout.",
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
    pinger.set_defaults(command="ping")
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
        "url", metavar="URL", nargs="+",
        help="http:// or https:// URL (http:// if none is given); several are "
        "fetched in turn over connections kept open, or at once with -Z",
    )  # fmt: skip
    getter.add_argument(
        "-o", "--output", metavar="FILE", action="append", dest="outputs",
        help="save the next URL's body here (- for standard output)",
    )  # fmt: skip
    getter.add_argument(
        "-O", "--remote-name", action="append_const", const=REMOTE, dest="outputs",
        help="save the next URL's body under the last part of its path",
    )  # fmt: skip
    getter.add_argument(
        "--remote-name-all", action="store_true",
        help="-O for every URL without -o",
    )  # fmt: skip
    getter.add_argument(
        "-Z", "--parallel", action="store_true",
        help="fetch the URLs at once rather than in turn",
    )  # fmt: skip
    getter.add_argument(
        "--parallel-max", type=positive_int, default=50, metavar="N",
        help="with -Z, at most N transfers at a time (default: %(default)s)",
    )  # fmt: skip
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
        "-s", "--silent", action="store_true", help="no head, no progress bar"
    )
    add_arguments(getter)
    getter.add_argument(
        "--json",
        action="store_true",
        help="print a one-line JSON summary, on failure too (needs -o FILE or -O)",
    )
    getter.set_defaults(command="get")
