"""
C{twisted-tcp udp} (docs/clients.md): send each message as a datagram and print the
answer.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable
from typing import Any

from twisted.internet.defer import Deferred

from twisted_tcp._text import decode, encode
from twisted_tcp.cli import complain, say
from twisted_tcp.cli.datagram import (
    ConnectedDatagramProtocol,
    answer_within,
    give_answer,
)
from twisted_tcp.cli.exitcodes import EXIT_CONNECT, EXIT_FAILURE, EXIT_OK


class _Exchange(ConnectedDatagramProtocol):
    """Hands each datagram from the peer to whoever waits for one."""

    waiting: Deferred[bytes | None] | None = None

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        self._answer(datagram)

    def refusal(self) -> None:
        self._answer(None)

    def _answer(self, datagram: bytes | None) -> None:
        if self.waiting is not None:
            give_answer(self.waiting, datagram)


async def exchange(
    reactor: Any,
    host: str,
    port: int,
    messages: Iterable[str],
    *,
    timeout: float = 2.0,
    encoding: str = "utf-8",
    write: Callable[[str], None],
    complain: Callable[[str], None],
) -> int:
    """
    Send each message and print its answer; return the exit code: 0 if every message
    was answered, 1 if one was not, 7 if nothing listens on that port.
    """
    protocol = _Exchange()
    await protocol.open(reactor, host, port)
    try:
        code = EXIT_OK
        for message in messages:
            protocol.waiting = answer_within(reactor, timeout)
            protocol.transport.write(encode(message, encoding), None)
            datagram = await protocol.waiting
            if protocol.refused:
                complain(f"connection refused: nothing listens on {host} port {port}")
                return EXIT_CONNECT
            if datagram is None:
                complain(f"no answer to {message!r} within {timeout:g} s")
                code = EXIT_FAILURE
            else:
                write(decode(datagram, encoding))
        return code
    finally:
        await protocol.close()


async def run(reactor: Any, arguments: argparse.Namespace) -> int:
    """C{twisted-tcp udp}: send datagrams, print the answers."""
    messages = arguments.messages or sys.stdin.read().splitlines()
    return await exchange(
        reactor, arguments.host, arguments.port, messages,
        timeout=arguments.timeout, encoding=arguments.encoding,
        write=say, complain=complain,
    )  # fmt: skip
