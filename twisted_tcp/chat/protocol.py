"""
One chat member's connection: line framing, commands, flood control and its output
queue. Everything shared with other members goes through the L{ChatService} handed to
it by its factory (see C{docs/chat-protocol.md} for the line protocol).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Final

from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IDelayedCall, IPushProducer
from twisted.internet.protocol import connectionDone
from twisted.python.failure import Failure
from zope.interface import implementer

from twisted_tcp._ratelimit import TokenBucket
from twisted_tcp._server import (
    FramedServerProtocol,
    LimitedServerFactory,
    ServerCounters,
)
from twisted_tcp._text import CRLF, sanitize, strip_formatting
from twisted_tcp._writethrough import write_through
from twisted_tcp.chat import texts
from twisted_tcp.chat.interfaces import (
    ACCOUNT_COMMANDS,
    OPERATOR_COMMANDS,
    ChatService,
    Completion,
)
from twisted_tcp.chat.names import tidy
from twisted_tcp.chat.room import Room

DEFAULT_MAX_LINE: Final = 1024
DEFAULT_MAX_SEND_QUEUE: Final = 1 << 20
DEFAULT_FLOOD_RATE: Final = 5.0
DEFAULT_FLOOD_BURST: Final = 10
#: The commands a member may use (see L{ChatProtocol.messageReceived}), besides
#: those of accounts and operators, which the chat's core reads.
COMMANDS: Final = frozenset(
    {"nick", "join", "part", "rooms", "topic", "who", "me", "msg", "help", "quit"}
)
CORE_COMMANDS: Final = ACCOUNT_COMMANDS | OPERATOR_COMMANDS
#: Longest /quit reason relayed to others, in characters.
MAX_REASON: Final = 100


@dataclass(slots=True)
class ChatCounters(ServerCounters):
    """A chat server's counts: those of every server, and the lines posted."""

    lines_posted: int = 0


class ChatServerFactory(LimitedServerFactory):
    """What a L{ChatProtocol} needs of its factory: the service and its limits."""

    counters: ChatCounters
    service: ChatService
    max_send_queue: int
    flood_rate: float
    flood_burst: int


@implementer(IPushProducer)
class ChatProtocol(FramedServerProtocol):
    """
    One chat member. It is its own output producer: while its transport's buffer is
    full (the client is not reading), lines for it queue here, and past
    C{max_send_queue} queued bytes the chat drops it.

    @ivar chat: the chat service, handed over by the factory in C{buildProtocol}.
    """

    factory: ChatServerFactory
    chat: ChatService
    shutdownNotice = texts.SHUTDOWN_NOTICE

    nick = ""
    room: Room | None = None
    connected_since = 0.0
    account: str | None = None
    _stalled = False
    _queued_bytes = 0
    _departed = False
    _leave_reason = ""
    _told_paced = False
    _bucket: TokenBucket | None = None
    _unpause: IDelayedCall | None = None
    _waiting: Deferred[None] | None = None
    _lost = False

    def connectionMade(self) -> None:
        self._queue: deque[bytes] = deque()
        if self.factory.flood_rate:
            self._bucket = TokenBucket(
                self.factory.flood_rate, self.factory.flood_burst, self.factory.clock
            )
        super().connectionMade()

    def greet(self) -> None:
        self._wait_for(self.chat.connect(self))

    def too_long(self) -> str:
        """
        The limit is in bytes; people typing in scripts whose characters take several
        bytes are told how many of those fit.
        """
        wide = len("中".encode(self.factory.encoding, "replace"))
        limit = self.factory.max_line
        if wide < 2:
            return super().too_long()
        return (
            f"line too long (max {limit} bytes: about {limit // wide} CJK characters)"
        )

    def output_producer(self) -> IPushProducer:
        return self

    # IPushProducer: the transport says when the client stops and starts reading.

    def pauseProducing(self) -> None:
        self._stalled = True

    def resumeProducing(self) -> None:
        self._stalled = False
        while self._queue and not self._stalled:
            line = self._queue.popleft()
            self._queued_bytes -= len(line)
            write_through(self.transport, line)

    def stopProducing(self) -> None:
        """Nothing to stop: output is only produced by the chat."""

    # The member interface (see twisted_tcp.chat.room.Member).

    def deliver(self, data: bytes) -> bool:
        """
        Send encoded lines, or queue them while the client is not reading.

        @return: C{False} once the queue has passed C{max_send_queue}: the caller
            must drop this client.
        """
        if self._departed:
            return True
        counters = self.factory.counters
        counters.messages_out += data.count(b"\n")
        counters.bytes_out += len(data)
        if not self._stalled:
            write_through(self.transport, data)
            return True
        self._queue.append(data)
        self._queued_bytes += len(data)
        return self._queued_bytes <= self.factory.max_send_queue

    def send_message(self, message: bytes) -> None:
        """A line for this member alone, after what its room has sent it so far."""
        self.chat.flush(self)
        if not self.deliver(message + CRLF):
            self.chat.drop(self)

    @property
    def address(self) -> str:
        """The IP address of the client (C{""} over a UNIX socket)."""
        return self._host

    def dismiss(self, reason: str) -> None:
        """The chat sends this member out: close, and tell its room C{reason}."""
        self._leave_reason = reason
        self.close_gracefully()

    def send_text(self, text: str) -> None:
        """A line for this member alone, without IRC formatting codes."""
        super().send_text(strip_formatting(text))

    def evict(self) -> None:
        """Throw the client out at once, unsent output and all (it does not read)."""
        self.factory.counters.slow_dropped += 1
        self._departed = True
        self._queue.clear()
        self._queued_bytes = 0
        self.abort()

    def flush_output(self) -> None:
        self.chat.flush(self)
        queued, self._queue = self._queue, deque()
        self._queued_bytes = 0
        self.transport.writeSequence(queued)

    # Holding input back: for flood control, and while the chat is still busy with
    # an earlier line of this member's.

    def admit(self) -> bool:
        if self._waiting is not None:
            return False
        if self._bucket is None:
            return True
        if self._bucket.is_full():
            self._told_paced = False
        if self._bucket.take():
            return True
        self.factory.counters.flood_pauses += 1
        if not self._told_paced:
            self._told_paced = True
            self.send_text(texts.paced(self.factory.flood_rate))
        self._unpause = self.callLater(self._bucket.wait(), self.resume_input)
        return False

    def _wait_for(self, completion: Completion) -> None:
        """Hold this member's input until the chat has finished C{completion}."""
        if completion is None or completion.called:
            return
        self._waiting = completion

        def finished(_: object) -> None:
            self._waiting = None
            self.resume_input()

        completion.addBoth(finished)

    # Input.

    def messageReceived(self, message: bytes) -> None:
        line = tidy(sanitize(self.decode(message)))
        if not line:
            return
        if line.casefold() == "quit":
            self.do_quit("")
        elif line.startswith("//"):
            self.factory.counters.lines_posted += 1
            self._wait_for(self.chat.say(self, line[1:]))
        elif line.startswith("/"):
            name, _, argument = line[1:].partition(" ")
            if name.casefold() in COMMANDS:
                command = getattr(self, f"do_{name.casefold()}")
                self._wait_for(command(argument.strip()))
            elif name.casefold() in CORE_COMMANDS:
                core = self.chat.perform(self, name.casefold(), argument.strip())
                self._wait_for(core)
            else:
                self.send_error(texts.unknown_command(name))
        else:
            self.factory.counters.lines_posted += 1
            self._wait_for(self.chat.say(self, line))

    # Commands: /NAME ARGUMENT calls do_NAME(ARGUMENT) for each NAME in COMMANDS.

    def do_nick(self, name: str) -> Completion:
        return self.chat.rename(self, name)

    def do_join(self, name: str) -> Completion:
        return self.chat.join(self, name)

    def do_part(self, _: str) -> Completion:
        return self.chat.part(self)

    def do_rooms(self, _: str) -> Completion:
        return self.chat.list_rooms(self)

    def do_topic(self, text: str) -> Completion:
        return self.chat.topic(self, text or None)

    def do_who(self, _: str) -> Completion:
        return self.chat.who(self)

    def do_me(self, action: str) -> Completion:
        if not action:
            self.send_error(texts.ME_USAGE)
            return None
        self.factory.counters.lines_posted += 1
        return self.chat.emote(self, action)

    def do_msg(self, argument: str) -> Completion:
        target, _, text = argument.partition(" ")
        text = text.strip()
        if not target or not text:
            self.send_error(texts.MSG_USAGE)
            return None
        self.factory.counters.lines_posted += 1
        return self.chat.private(self, target, text)

    def do_help(self, _: str) -> None:
        self.chat.help(self)

    def do_quit(self, reason: str) -> None:
        self._leave_reason = reason[:MAX_REASON] or "quit"
        self.send_text(texts.BYE)
        self.close_gracefully()

    def timeoutConnection(self) -> None:
        self._leave_reason = "idle timeout"
        super().timeoutConnection()

    def close_gracefully(self, shutdown: bool = False) -> Deferred[None]:
        """
        Leave the chat as soon as the goodbye is handed to the transport: nothing is
        sent after it, and the room hears of the departure now, not once the client
        has read everything (while a closing connection drains, no one tells us it
        stopped reading, so room traffic would pile up unbounded).
        """
        closing = super().close_gracefully(shutdown)
        self._leave("connection closed")
        return closing

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        super().connectionLost(reason)
        if self._held is not None and not self._departed and not self._closing:
            # Lines read before the connection ended, held back by the flood rate
            # or by the chat, still go to the room at that pace, however it ended
            # (a client that closes with unread data resets the connection): the
            # member leaves once they are out.
            self._lost = True
            self._leave_reason = self._leave_reason or _describe(reason)
            return
        if self._unpause is not None and self._unpause.active():
            self._unpause.cancel()
        self._leave(_describe(reason))

    def resume_input(self) -> None:
        if not self._lost:
            super().resume_input()
            return
        held, self._held = self._held, None
        if held is None or self._departed:
            return
        for frame in held:
            self._offer(frame)
        if self._held is None:
            self._leave("")

    def _leave(self, reason: str) -> None:
        """Leave the chat, once: for the reason given earlier, or C{reason}."""
        if not self._departed:
            self._departed = True
            self.chat.disconnect(self, self._leave_reason or reason)


def _describe(reason: Failure) -> str:
    """Why a connection ended, in the words of a leave notice."""
    return "connection closed" if reason.check(ConnectionDone) else "connection lost"
