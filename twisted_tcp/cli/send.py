"""
C{twisted-tcp send} (docs/clients.md): a netcat-like line client, and the session
between a server and the console that C{chat} runs too.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from twisted_tcp.cli.connect import connect_tcp
from twisted_tcp.cli.console import ConsoleOpener, open_console
from twisted_tcp.cli.lineclient import LineClient
from twisted_tcp.cli.printer import Printer
from twisted_tcp.cli.tls import tls_for


async def line_session(
    reactor: Any, arguments: argparse.Namespace, client_options: dict[str, Any],
    lines: Sequence[str], client_class: type[LineClient] = LineClient,
    opener: ConsoleOpener = open_console,
) -> int:  # fmt: skip
    """
    Run a C{client_class} between the server and the console that C{opener} opens;
    with C{lines}, send those instead of what is typed. With C{--tls}, over TLS.
    """
    tls = tls_for(arguments)
    console = opener(
        reactor,
        on_line=lambda line: client.send(line),
        on_end=lambda: client.end_of_input(),
    )
    client = client_class(
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
        await connect_tcp(reactor, arguments.host, arguments.port, client, tls)
        return await client.finished
    finally:
        await console.close()


async def run(reactor: Any, arguments: argparse.Namespace) -> int:
    """C{twisted-tcp send}: send the lines given (or typed), print what comes back."""
    options = {
        "newline": b"\r\n" if arguments.crlf else b"\n",
        "raw": arguments.raw,
        "wait": arguments.wait,
    }
    return await line_session(reactor, arguments, options, arguments.lines)
