"""
The greeting server: a welcome on connect, C{Hello, NAME!} for each name, C{Bye} and
a close for the exit word.
"""

from __future__ import annotations

import string
from typing import Final, Unpack

from twisted_tcp._framing import Framing
from twisted_tcp._server import (
    CommonServerArguments,
    FramedServerProtocol,
    LimitedServerFactory,
)
from twisted_tcp._text import sanitize

DEFAULT_WELCOME: Final = "Welcome"
DEFAULT_GREETING: Final = "Hello, {name}!"
DEFAULT_EXIT_WORD: Final = "exit"
DEFAULT_MAX_LINE: Final = 256
DEFAULT_IDLE_TIMEOUT: Final = 300.0
#: Longest name greeted, in characters (after sanitising).
MAX_NAME: Final = 64


class GreetingProtocol(FramedServerProtocol):
    """Greets each name it is sent until it is sent the exit word."""

    factory: GreetingFactory
    shutdownNotice = "* server shutting down"

    def greet(self) -> None:
        self.send_text(self.factory.welcome)

    def messageReceived(self, message: bytes) -> None:
        name = sanitize(self.decode(message)).strip()
        if name.casefold() == self.factory.exit_word:
            self.send_text("Bye")
            self.close_gracefully()
        elif not name:
            self.send_error("empty name")
        elif len(name) > MAX_NAME:
            self.send_error("name too long")
        else:
            self.send_text(self.factory.greeting.format(name=name))


class GreetingFactory(LimitedServerFactory):
    """
    Builds L{GreetingProtocol}s.

    @param greeting: a C{str.format} template whose only field is C{{name}}.
    @param exit_word: matched ignoring case and surrounding whitespace.
    """

    protocol = GreetingProtocol

    def __init__(
        self,
        *,
        welcome: str = DEFAULT_WELCOME,
        greeting: str = DEFAULT_GREETING,
        exit_word: str = DEFAULT_EXIT_WORD,
        framing: Framing = "line",
        max_line: int = DEFAULT_MAX_LINE,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        **common: Unpack[CommonServerArguments],
    ) -> None:
        super().__init__(
            framing=framing, max_line=max_line, idle_timeout=idle_timeout, **common
        )
        _check_greeting(greeting)
        if not exit_word.strip():
            raise ValueError("the exit word must not be empty")
        self.welcome = welcome
        self.greeting = greeting
        self.exit_word = exit_word.strip().casefold()


def _check_greeting(template: str) -> None:
    """Refuse a greeting template with any field but a plain C{{name}}."""
    try:
        fields = [part[1:] for part in string.Formatter().parse(template)]
    except ValueError as error:
        raise ValueError(f"bad greeting {template!r}: {error}") from None
    for field, format_spec, conversion in fields:
        if field is not None and (field, format_spec, conversion) != ("name", "", None):
            raise ValueError(
                f"bad greeting {template!r}: the only field allowed is {{name}}"
            )
