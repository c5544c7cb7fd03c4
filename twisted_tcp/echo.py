"""
The TCP echo server: RFC 862 echo and the tutorials' variations on it — upper-casing,
a fixed prefix, a fixed reply.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, Literal, Unpack

from twisted_tcp._framing import Framing
from twisted_tcp._server import (
    CommonServerArguments,
    FramedServerProtocol,
    LimitedServerFactory,
)
from twisted_tcp._text import decode, encode
from twisted_tcp._writethrough import write_through

EchoMode = Literal["echo", "upper", "prefix", "reply"]
ECHO_MODES: Final[tuple[EchoMode, ...]] = ("echo", "upper", "prefix", "reply")

DEFAULT_PREFIX: Final = "server send :"
DEFAULT_REPLY: Final = "ok, 问题正在处理中..."
DEFAULT_MAX_LINE: Final = 65536


class EchoProtocol(FramedServerProtocol):
    """Answers each message with the factory's response to it."""

    factory: EchoFactory
    # An echo client must get back exactly what it sent, nothing else.
    idleNotice = None

    def messageReceived(self, message: bytes) -> None:
        self.send_message(self.factory.respond(message))


class MirrorProtocol(EchoProtocol):
    """
    The C{echo} mode's protocol: the answer is the message itself, so it is sent
    as it came, with no response function to call.
    """

    def messageReceived(self, message: bytes) -> None:
        # send_message, without its call: this runs for every message.
        reply = message + self._terminator
        counters = self.factory.counters
        counters.messages_out += 1
        counters.bytes_out += len(reply)
        write_through(self.transport, reply)


class EchoFactory(LimitedServerFactory):
    """
    Builds L{EchoProtocol}s that answer per C{mode}:

      - C{echo}: the message unchanged (by a L{MirrorProtocol}, which skips the
        response function: echo is the mode run hardest);
      - C{upper}: upper-cased — ASCII letters byte by byte under raw framing, the
        decoded line's C{str.upper()} under line framing;
      - C{prefix}: the message preceded by C{prefix};
      - C{reply}: always C{reply}.

    C{prefix} and C{reply} are encoded with C{encoding}.
    """

    protocol = EchoProtocol

    def __init__(
        self,
        *,
        mode: EchoMode = "echo",
        framing: Framing = "raw",
        prefix: str = DEFAULT_PREFIX,
        reply: str = DEFAULT_REPLY,
        max_line: int = DEFAULT_MAX_LINE,
        idle_timeout: float = 0,
        **common: Unpack[CommonServerArguments],
    ) -> None:
        super().__init__(
            framing=framing, max_line=max_line, idle_timeout=idle_timeout, **common
        )
        self.mode = mode
        self.respond = self._responder(mode, prefix, reply)
        if mode == "echo":
            self.protocol = MirrorProtocol

    def _responder(
        self, mode: EchoMode, prefix: str, reply: str
    ) -> Callable[[bytes], bytes]:
        """The function from a message to its answer, chosen once per server."""
        encoding = self.encoding
        if mode == "echo":
            return bytes
        if mode == "upper":
            if self.framing == "raw":
                return bytes.upper
            return lambda message: encode(decode(message, encoding).upper(), encoding)
        if mode == "prefix":
            prefix_bytes = encode(prefix, encoding)
            return lambda message: prefix_bytes + message
        if mode == "reply":
            reply_bytes = encode(reply, encoding)
            return lambda message: reply_bytes
        raise ValueError(f"unknown mode {mode!r}; expected one of {ECHO_MODES}")
