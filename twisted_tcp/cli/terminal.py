"""
The chat client's console on a terminal: a line editor (prompt_toolkit) with a
prompt, arrow keys and history, above which what arrives from the server is printed
without disturbing the line being typed.

prompt_toolkit runs on asyncio, so the command runs Twisted's asyncio reactor when
it uses this console (see L{install_reactor}): one thread, one loop, and lines go
between the editor and the connection by plain calls. Without a terminal the chat
client keeps the plain L{twisted_tcp.cli.console.Console}.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from typing import Final

from prompt_toolkit import PromptSession
from prompt_toolkit.buffer import Buffer
from twisted.internet.defer import Deferred

from twisted_tcp._text import sanitize

#: What the line editor shows before the text being typed.
PROMPT: Final = "> "

#: C0 and C1 controls but TAB and LF, DEL: removed from what is printed, so that
#: nothing a server sends can move the cursor, clear the screen or redraw the prompt.
_CONTROLS: Final = dict.fromkeys([*range(0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0)])


def install_reactor() -> None:
    """Run Twisted on asyncio's loop, where prompt_toolkit runs; call it first."""
    from twisted.internet import asyncioreactor

    asyncioreactor.install()


class TerminalConsole:
    """
    Reads lines with a line editor and prints text above its prompt.

    Calls C{on_line} with each line entered (a pasted block is several lines),
    without control characters, which only a quoted insert could put there; and
    C{on_end} on Ctrl-D at an empty prompt. Ctrl-C is a key press while the editor
    owns the terminal, not a signal: it is turned back into SIGINT, so the command
    ends as it does on Ctrl-C at any other time. An accepted line is cleared from the
    screen: the chat server echoes each message to its sender, in the room's order.

    Text to print is held until its line is complete (a partial line would be
    painted over by the prompt) and painted in batches: one redraw of the prompt
    for whatever arrived meanwhile. Control characters are not
    printed, so a server cannot drive the terminal.
    """

    def __init__(
        self, on_line: Callable[[str], None], on_end: Callable[[], None]
    ) -> None:
        self._on_line = on_line
        self._on_end = on_end
        self._session: PromptSession[str] = PromptSession(PROMPT, erase_when_done=True)
        # One editing session for the whole chat, never a prompt per line: between
        # two prompts the terminal would be back in line mode, echoing keys typed
        # then as ^[[A and the like.
        self._session.default_buffer.accept_handler = self._accept
        self._output = self._session.output
        self._unpainted: list[str] = []
        self._painter: asyncio.Future[None] | None = None
        self._reader = asyncio.ensure_future(self._read())
        self.closed: Deferred[None] = Deferred()

    async def _read(self) -> None:
        try:
            await self._session.prompt_async(
                handle_sigint=False, set_exception_handler=False
            )
        except EOFError:
            self._on_end()
        except KeyboardInterrupt:
            os.kill(os.getpid(), signal.SIGINT)

    def _accept(self, buffer: Buffer) -> bool:
        """Enter: send the line (or the lines of a paste), then edit a new one."""
        for line in buffer.text.splitlines():
            self._on_line(sanitize(line))
        # The buffer is about to go to the history and start afresh, which makes it
        # reload the history in a task at its next redraw: a redraw that waits while
        # lines from the room are painted, and an Up pressed meanwhile finds no
        # history. Start the reload right after instead.
        asyncio.get_running_loop().call_soon(buffer.load_history_if_not_yet_loaded)
        return False

    def ignore_input(self) -> None:
        """Stop reading: the lines come from elsewhere."""
        self._reader.cancel()

    def write(self, text: str) -> None:
        """Print C{text} above the prompt, once its line is complete."""
        self._unpainted.append(text)
        if "\n" in text and self._painter is None:
            self._painter = asyncio.ensure_future(self._paint())

    async def _paint(self) -> None:
        """
        Print the complete lines received meanwhile: erase the prompt, print, and
        let the editor draw it again below.

        Not through prompt_toolkit's C{run_in_terminal}, which gives the terminal
        back its line mode while it prints, so that keys typed at that moment were
        echoed into the output. Like it, though, this first waits for the answers
        to the editor's cursor position queries: an answer given before the lines
        were printed, read after, would make the editor take the whole screen below
        a position the prompt has left, scrolling the lines just printed away.
        """
        app = self._session.app
        if app.is_running:
            await app.renderer.wait_for_cpr_responses()
        self._painter = None
        text = "".join(self._unpainted)
        complete, newline, partial = text.rpartition("\n")
        self._unpainted = [partial] if partial else []
        editing = app.is_running and not app.is_done
        if editing:
            app.renderer.erase()
        self._print(complete + newline)
        if editing:
            app.invalidate()

    def _print(self, text: str) -> None:
        self._output.write(text.translate(_CONTROLS))
        self._output.flush()

    def close(self) -> Deferred[None]:
        """Stop the editor, give the terminal back, print what is left."""
        if not self.closed.called:
            self._reader.cancel()
            Deferred.fromFuture(self._reader).addBoth(self._finish)
        return self.closed

    def _finish(self, _: object) -> None:
        if self._painter is not None:
            self._painter.cancel()
        self._print("".join(self._unpainted))
        self._unpainted = []
        self.closed.callback(None)


def open_terminal(
    reactor: object, on_line: Callable[[str], None], on_end: Callable[[], None]
) -> TerminalConsole:
    """A L{TerminalConsole} on this process's terminal (the reactor is asyncio's)."""
    return TerminalConsole(on_line, on_end)
