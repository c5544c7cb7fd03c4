"""
Tests for L{twisted_tcp.cli.terminal}: C{twisted-tcp chat} run in a real pseudo-terminal
against a real chat server, its screen read through a VT100 emulator (pyte) that
answers the terminal queries a terminal answers. A relay between the client and the
server records every byte the client sends.
"""

from __future__ import annotations

import fcntl
import os
import select
import socket
import struct
import subprocess
import sys
import termios
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pyte
import pytest_twisted
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.threads import deferToThread
from twisted.protocols import portforward

from twisted_tcp import ChatFactory

from ..support import port_of, stop

COMMAND = str(Path(sys.executable).with_name("twisted-tcp"))
ROWS, COLUMNS = 24, 80
#: Rows kept after they scroll off the screen, as a terminal's scrollback.
SCROLLBACK = 5000
#: Not a timed assertion: how long to wait for the screen before calling it a hang.
PATIENCE = 30.0

UP, LEFT = b"\x1b[A", b"\x1b[D"
PASTE_START, PASTE_END = b"\x1b[200~", b"\x1b[201~"
ENTER, CTRL_C, CTRL_D, CTRL_Q = b"\r", b"\x03", b"\x04", b"\x11"


class RecordingRelay(portforward.ProxyServer):
    """Relays a client to the server, keeping what the client sent."""

    factory: RecordingRelayFactory

    def dataReceived(self, data: bytes) -> None:
        self.factory.received += data
        super().dataReceived(data)


class RecordingRelayFactory(portforward.ProxyFactory):
    protocol = RecordingRelay

    def __init__(self, host: str, port: int) -> None:
        super().__init__(host, port)
        self.received = bytearray()


class AnsweringScreen(pyte.HistoryScreen):
    """
    A terminal's screen that answers the queries a terminal answers (the line
    editor asks where the cursor is) by typing the answer, as a terminal does.
    """

    def __init__(self, type_keys: Callable[[bytes], None]) -> None:
        super().__init__(COLUMNS, ROWS, history=SCROLLBACK)
        self._type_keys = type_keys

    def write_process_input(self, data: str) -> None:
        self._type_keys(data.encode())


class Terminal:
    """A command running in a pseudo-terminal, as a VT100 terminal shows it."""

    def __init__(self, *argv: str) -> None:
        self.screen = AnsweringScreen(self.type)
        self.output = bytearray()
        self._stream = pyte.ByteStream(self.screen)
        self._master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
        self.process = subprocess.Popen(
            [COMMAND, *argv],
            stdin=slave,
            stdout=slave,
            stderr=subprocess.PIPE,
            env={**os.environ, "TERM": "xterm"},
            start_new_session=True,
        )
        os.close(slave)

    def type(self, keys: bytes) -> None:
        os.write(self._master, keys)

    def rows(self) -> list[str]:
        """The screen's non-empty rows, top to bottom."""
        return [row.rstrip() for row in self.screen.display if row.strip()]

    def scrolled_off(self) -> list[str]:
        """The non-empty rows that scrolled off the top of the screen."""
        rows = (
            "".join(line[column].data for column in range(COLUMNS)).rstrip()
            for line in self.screen.history.top
        )
        return [row for row in rows if row]

    def above_prompt(self) -> str:
        """The last row printed above the prompt's row."""
        rows = self.rows()
        return rows[-2] if len(rows) > 1 else ""

    def cursor_row(self) -> str:
        return self.screen.display[self.screen.cursor.y].rstrip()

    def welcomed(self) -> bool:
        """The server's welcome is shown, and the prompt below it."""
        rows = self.rows()
        return (
            rows[:1] != []
            and rows[0].startswith("* Welcome, ")
            and (self.cursor_row() == ">")
        )

    def wait_for(self, condition: Callable[[], bool]) -> None:
        """Show what the command prints until C{condition} holds."""
        deadline = time.monotonic() + PATIENCE
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"stuck; the screen shows {self.rows()}; the last bytes "
                    f"from the command were {bytes(self.output[-800:])!r}"
                )
            self._read(wait=0.05)

    def read_now(self) -> None:
        """Show what the command has printed so far."""
        while self._read(wait=0):
            pass

    def _read(self, wait: float) -> bool:
        """Show what the command printed, if anything comes within C{wait} s."""
        ready, _, _ = select.select([self._master], [], [], wait)
        if not ready:
            return False
        try:
            data = os.read(self._master, 65536)
        except OSError:  # EIO: the command has exited and its terminal is gone
            return False
        self.output += data
        self._stream.feed(data)
        return True

    def cooked(self) -> bool:
        """Whether the terminal is back in line mode with echo, as a shell needs."""
        local_modes = termios.tcgetattr(self._master)[3]
        return bool(local_modes & termios.ICANON and local_modes & termios.ECHO)

    def wait_for_exit(self) -> tuple[int, bytes]:
        self.wait_for(lambda: self.process.poll() is not None)
        while self._read(wait=0):
            pass
        assert self.process.stderr is not None
        return self.process.wait(), self.process.stderr.read()

    def ends_with(self, last_row: str) -> None:
        """The command exits 0, quietly, last printing C{last_row}, and gives the
        terminal back in line mode."""
        assert self.wait_for_exit() == (0, b"")
        assert self.rows()[-1] == last_row
        assert self.cooked()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        assert self.process.stderr is not None
        self.process.stderr.close()
        os.close(self._master)


@asynccontextmanager
async def serving(reactor: Any, factory: Factory[Any]) -> AsyncIterator[int]:
    """Serve C{factory} on a free port of 127.0.0.1 meanwhile; give the port."""
    listening = reactor.listenTCP(0, factory, interface="127.0.0.1")
    try:
        yield port_of(listening)
    finally:
        await stop(listening)


def sent_lines(relay: RecordingRelayFactory) -> list[bytes]:
    return bytes(relay.received).split(b"\n")[:-1]


def chat_in_a_room(relay: RecordingRelayFactory, relay_port: int, port: int) -> None:
    """Type, edit, recall, get interrupted by another member, and leave."""
    terminal = Terminal("chat", "127.0.0.1", str(relay_port))
    try:
        terminal.wait_for(terminal.welcomed)
        with socket.create_connection(("127.0.0.1", port)) as other:
            terminal.type(b"hello wor")
            terminal.wait_for(lambda: terminal.cursor_row() == "> hello wor")
            other.sendall(b"ping from the other\n")
            # The line arrives above the prompt; what was typed stays as it was.
            terminal.wait_for(
                lambda: (
                    terminal.above_prompt().endswith("<guest-2> ping from the other")
                    and terminal.cursor_row() == "> hello wor"
                )
            )
            terminal.type(b"ld" + ENTER)
            terminal.wait_for(lambda: len(sent_lines(relay)) == 1)
            terminal.type(b"abc" + LEFT + LEFT + b"X" + ENTER)
            terminal.wait_for(lambda: len(sent_lines(relay)) == 2)
            terminal.type(UP)
            terminal.wait_for(lambda: terminal.cursor_row() == "> aXbc")
            terminal.type(ENTER)
            terminal.wait_for(lambda: len(sent_lines(relay)) == 3)
            # Ctrl-Q makes the next key literal: even so no ESC reaches the room.
            terminal.type(b"a" + CTRL_Q + LEFT + b"b" + ENTER)
            terminal.wait_for(lambda: len(sent_lines(relay)) == 4)
            # A pasted block (bracketed paste) goes out as its lines.
            terminal.type(PASTE_START + b"one\ntwo" + PASTE_END + ENTER)
            terminal.wait_for(lambda: len(sent_lines(relay)) == 6)
            terminal.type(b"/quit" + ENTER)
            terminal.ends_with("* Bye")
        assert sent_lines(relay) == [
            b"hello world",
            b"aXbc",
            b"aXbc",
            b"a[Db",
            b"one",
            b"two",
            b"/quit",
        ]
    finally:
        terminal.close()


@pytest_twisted.ensureDeferred
async def test_line_editor(reactor: Any) -> None:
    """
    On a terminal: a line arriving mid-typing is printed above the prompt and the
    typed line goes out whole; arrow keys edit and recall history instead of sending
    escape sequences; /quit exits 0.
    """
    async with serving(reactor, ChatFactory()) as port:
        relay = RecordingRelayFactory("127.0.0.1", port)
        async with serving(reactor, relay) as relay_port:
            await deferToThread(chat_in_a_room, relay, relay_port, port)
    assert b"\x1b" not in relay.received


def leave_with_ctrl_d(port: int) -> None:
    terminal = Terminal("chat", "127.0.0.1", str(port))
    try:
        terminal.wait_for(terminal.welcomed)
        terminal.type(CTRL_D)
        terminal.ends_with("* Bye")
    finally:
        terminal.close()


@pytest_twisted.ensureDeferred
async def test_ctrl_d_leaves(reactor: Any) -> None:
    """Ctrl-D at an empty prompt is the end of input: /quit, then exit 0."""
    async with serving(reactor, ChatFactory()) as port:
        await deferToThread(leave_with_ctrl_d, port)


def typing_when_the_server_stops(reactor: Any, factory: ChatFactory, port: int) -> None:
    terminal = Terminal("chat", "127.0.0.1", str(port))
    try:
        terminal.wait_for(terminal.welcomed)
        terminal.type(b"unfinished")
        terminal.wait_for(lambda: terminal.cursor_row() == "> unfinished")
        reactor.callFromThread(factory.shutdown)
        terminal.ends_with("* server shutting down")
    finally:
        terminal.close()


@pytest_twisted.ensureDeferred
async def test_server_ends_the_session_while_typing(reactor: Any) -> None:
    """The server closing mid-typing ends the editor cleanly: exit 0, its last line
    shown, no traceback."""
    factory = ChatFactory()
    async with serving(reactor, factory) as port:
        await deferToThread(typing_when_the_server_stops, reactor, factory, port)


class Hostile(Protocol):
    """
    A server that tries to clear its client's screen, with ESC and with CSI, then
    says goodbye.
    """

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.write(
            "* Welcome, guest-1!\r\nkeep me\r\n\x1b[2J\x9b2J\x07\bbye\r\n"
            "* Bye\r\n".encode()
        )
        self.transport.loseConnection()


def watch_a_hostile_server(port: int) -> None:
    terminal = Terminal("chat", "127.0.0.1", str(port))
    try:
        code, errors = terminal.wait_for_exit()
        assert (code, errors) == (0, b"")
        assert terminal.rows() == [
            "* Welcome, guest-1!", "keep me", "[2J2Jbye", "* Bye"
        ]  # fmt: skip
    finally:
        terminal.close()


@pytest_twisted.ensureDeferred
async def test_control_characters_not_printed(reactor: Any) -> None:
    """Control characters from the server (ESC, C1 CSI, BEL, BS) are not printed."""
    async with serving(reactor, Factory.forProtocol(Hostile)) as port:
        await deferToThread(watch_a_hostile_server, port)


def interrupt_while_typing(port: int) -> None:
    terminal = Terminal("chat", "127.0.0.1", str(port))
    try:
        terminal.wait_for(terminal.welcomed)
        terminal.type(b"never sent")
        terminal.wait_for(lambda: terminal.cursor_row() == "> never sent")
        assert not terminal.cooked()  # the editor reads key by key, without echo
        terminal.type(CTRL_C)
        code, errors = terminal.wait_for_exit()
        assert (code, errors) == (130, b"")
        assert terminal.cooked()
    finally:
        terminal.close()


@pytest_twisted.ensureDeferred
async def test_ctrl_c_interrupts(reactor: Any) -> None:
    """
    Ctrl-C at the prompt is a key, not a signal, yet it interrupts the client as
    Ctrl-C does anywhere: exit 130, quietly, the typed line not sent, the terminal
    given back in line mode.
    """
    async with serving(reactor, ChatFactory()) as port:
        relay = RecordingRelayFactory("127.0.0.1", port)
        async with serving(reactor, relay) as relay_port:
            await deferToThread(interrupt_while_typing, relay_port)
    assert relay.received == b""


def type_while_lines_arrive(port: int) -> None:
    terminal = Terminal("chat", "127.0.0.1", str(port))
    try:
        terminal.wait_for(terminal.welcomed)
        keys = [b"%"] * KEYS

        def type_a_key_until_all_printed() -> bool:
            if keys:
                terminal.type(keys.pop())
            return terminal.above_prompt().endswith(f"<guest-2> line {LINES - 1}")

        with socket.create_connection(("127.0.0.1", port)) as other:
            other.sendall(b"".join(b"line %d\n" % number for number in range(LINES)))
            terminal.wait_for(type_a_key_until_all_printed)
            terminal.type(b"".join(keys))
            terminal.wait_for(lambda: terminal.cursor_row() == "> " + "%" * KEYS)
        printed = terminal.scrolled_off() + terminal.rows()[:-1]
        assert len(printed) > LINES
        # The keys typed went to the prompt only, none echoed among the lines.
        assert [row for row in printed if "%" in row] == []
    finally:
        terminal.close()


#: Lines another member sends at once, and keys typed while they are printed.
LINES, KEYS = 2000, 70


@pytest_twisted.ensureDeferred
async def test_typing_while_lines_arrive(reactor: Any) -> None:
    """
    Keys typed while lines from the room are being printed go to the prompt only:
    the terminal never returns to line mode, where it would echo them itself.
    """
    async with serving(reactor, ChatFactory(flood_rate=0)) as port:
        await deferToThread(type_while_lines_arrive, port)
