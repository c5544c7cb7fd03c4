"""
The multi-client chat server (SPEC §3.3): every line is broadcast to everyone, sender
included, as C{[TIMESTAMP] <NICK> TEXT}; commands start with C{/}.

Shared state (the nick registry, history, broadcasting) lives on L{ChatFactory}; each
L{ChatProtocol} holds its own connection's nick, flood bucket and output queue.
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Final, Unpack

from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IDelayedCall, IPushProducer
from twisted.internet.protocol import connectionDone
from twisted.python.failure import Failure
from zope.interface import implementer

from twisted_tcp._ratelimit import TokenBucket
from twisted_tcp._server import (
    CommonServerArguments,
    FramedServerProtocol,
    LimitedServerFactory,
)
from twisted_tcp._text import CRLF, encode, sanitize
from twisted_tcp._writethrough import write_through

DEFAULT_MAX_LINE: Final = 1024
DEFAULT_MAX_SEND_QUEUE: Final = 1 << 20
DEFAULT_FLOOD_RATE: Final = 5.0
DEFAULT_FLOOD_BURST: Final = 10
DEFAULT_TIMESTAMP_FORMAT: Final = "%Y/%m/%d %H:%M:%S"
#: Nicks: an ASCII letter, then up to 29 ASCII letters, digits, C{_} or C{-}. ASCII
#: only, so that no two nicks look alike on screen.
NICK_PATTERN: Final = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,29}\Z")
RESERVED_NICKS: Final = frozenset({"server", "system", "admin"})
#: Longest /quit reason relayed to others, in characters.
MAX_REASON: Final = 100
#: Bytes of batched room messages (see L{ChatFactory.batched}) that are sent without
#: waiting for the rest of the read: one batch is what a member's transport may take
#: past its own buffer before it says that member stopped reading.
MAX_BATCH: Final = 64 * 1024

HELP: Final = (
    "* Commands:",
    "*   /nick NAME       change your nick",
    "*   /who             list who is here",
    "*   /me ACTION       say what you are doing",
    "*   /msg NICK TEXT   send TEXT to NICK alone",
    "*   /quit [REASON]   leave (a bare 'quit' works too)",
    "*   /help            this list",
    "* Any other line is sent to everyone; start it with // to send a leading /.",
)


@implementer(IPushProducer)
class ChatProtocol(FramedServerProtocol):
    """
    One chat member. It is its own output producer: while its transport's buffer is
    full (the client is not reading), broadcasts queue here, and past
    C{max_send_queue} queued bytes the client is dropped.
    """

    factory: ChatFactory
    shutdownNotice = "* server shutting down"

    nick = ""
    connected_since = 0.0
    _stalled = False
    _queued_bytes = 0
    _departed = False
    _leave_reason = ""
    _bucket: TokenBucket | None = None
    _unpause: IDelayedCall | None = None

    def connectionMade(self) -> None:
        self._queue: deque[bytes] = deque()
        self._commands: dict[str, Callable[[str], None]] = {
            "nick": self.do_nick,
            "who": self.do_who,
            "me": self.do_me,
            "msg": self.do_msg,
            "help": self.do_help,
            "quit": self.do_quit,
        }
        if self.factory.flood_rate:
            self._bucket = TokenBucket(
                self.factory.flood_rate, self.factory.flood_burst, self.factory.clock
            )
        super().connectionMade()

    def greet(self) -> None:
        self.factory.join(self)

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
        """Nothing to stop: output is only produced by broadcasts."""

    def dataReceived(self, data: bytes) -> None:
        with self.factory.batched():
            super().dataReceived(data)

    def resume_input(self) -> None:
        with self.factory.batched():
            super().resume_input()

    def deliver(self, line: bytes) -> bool:
        """
        Send one encoded line, or queue it while the client is not reading.

        @return: C{False} once the queue has passed C{max_send_queue}: the caller
            must drop this client.
        """
        if self._departed:
            return True
        if not self._stalled:
            write_through(self.transport, line)
            return True
        self._queue.append(line)
        self._queued_bytes += len(line)
        return self._queued_bytes <= self.factory.max_send_queue

    def flush_output(self) -> None:
        queued, self._queue = self._queue, deque()
        self._queued_bytes = 0
        self.transport.writeSequence(queued)

    def send_message(self, message: bytes) -> None:
        self.factory.send_batch()
        if not self.deliver(message + CRLF):
            self.factory.drop(self)

    def evict(self) -> None:
        """Throw the client out at once, unsent output and all (it does not read)."""
        self._departed = True
        self._queue.clear()
        self._queued_bytes = 0
        self.abort()

    # Flood control: hold input back instead of dropping lines.

    def admit(self) -> bool:
        if self._bucket is None or self._bucket.take():
            return True
        self._unpause = self.callLater(self._bucket.wait(), self.resume_input)
        return False

    # Input.

    def messageReceived(self, message: bytes) -> None:
        line = sanitize(self.decode(message)).strip()
        if not line:
            return
        if line.casefold() == "quit":
            self.do_quit("")
        elif line.startswith("//"):
            self.factory.say(self, line[1:])
        elif line.startswith("/"):
            name, _, argument = line[1:].partition(" ")
            command = self._commands.get(name.casefold())
            if command is None:
                self.send_error(f"unknown command /{name} (try /help)")
            else:
                command(argument.strip())
        else:
            self.factory.say(self, line)

    def do_nick(self, name: str) -> None:
        problem = self.factory.rename(self, name)
        if problem:
            self.send_error(problem)

    def do_who(self, _: str) -> None:
        members = sorted(self.factory.members.values(), key=lambda m: m.nick.casefold())
        self.send_text(f"* {len(members)} connected:")
        for member in members:
            since = self.factory.timestamp(member.connected_since)
            self.send_text(f"*   {member.nick} (since {since})")

    def do_me(self, action: str) -> None:
        if not action:
            self.send_error("usage: /me ACTION")
        else:
            self.factory.emote(self, action)

    def do_msg(self, argument: str) -> None:
        target, _, text = argument.partition(" ")
        text = text.strip()
        if not target or not text:
            self.send_error("usage: /msg NICK TEXT")
            return
        recipient = self.factory.members.get(target.casefold())
        if recipient is None:
            self.send_error(f"no such nick: {target}")
            return
        stamp = self.factory.timestamp()
        recipient.send_text(f"[{stamp}] *{self.nick}* {text}")
        if recipient is not self:
            self.send_text(f"[{stamp}] -> *{recipient.nick}* {text}")

    def do_help(self, _: str) -> None:
        for line in HELP:
            self.send_text(line)

    def do_quit(self, reason: str) -> None:
        self._leave_reason = reason[:MAX_REASON] or "quit"
        self.send_text("* Bye")
        self.close_gracefully()

    def timeoutConnection(self) -> None:
        self._leave_reason = "idle timeout"
        super().timeoutConnection()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if self._unpause is not None and self._unpause.active():
            self._unpause.cancel()
        if not self._departed:
            self._departed = True
            self.factory.leave(self, self._leave_reason or _describe(reason))
        super().connectionLost(reason)


def _describe(reason: Failure) -> str:
    """Why a connection ended, in the words of a leave notice."""
    return "connection closed" if reason.check(ConnectionDone) else "connection lost"


class ChatFactory(LimitedServerFactory):
    """
    The chat room: members by nick, the message history, and broadcasting.

    @param history: how many past messages a newcomer is shown.
    @param max_send_queue: bytes queued for a client that does not read before it is
        dropped.
    @param flood_rate: lines per second a client may send on average (0 = no limit);
        faster input is not dropped but read later.
    @param flood_burst: lines a client may send at once before the rate applies.
    @param motd: text shown to each newcomer, line by line, or C{None}.
    @param timestamp_format: L{time.strftime} format of message timestamps.
    """

    protocol = ChatProtocol

    def __init__(
        self,
        *,
        history: int = 0,
        max_send_queue: int = DEFAULT_MAX_SEND_QUEUE,
        flood_rate: float = DEFAULT_FLOOD_RATE,
        flood_burst: int = DEFAULT_FLOOD_BURST,
        motd: str | None = None,
        timestamp_format: str = DEFAULT_TIMESTAMP_FORMAT,
        max_line: int = DEFAULT_MAX_LINE,
        idle_timeout: float = 0,
        **common: Unpack[CommonServerArguments],
    ) -> None:
        super().__init__(
            framing="line", max_line=max_line, idle_timeout=idle_timeout, **common
        )
        if history < 0 or max_send_queue < 1 or flood_rate < 0 or flood_burst < 1:
            raise ValueError(
                "history must be >= 0, max_send_queue >= 1, flood_rate >= 0 "
                "and flood_burst >= 1"
            )
        self.max_send_queue = max_send_queue
        self.flood_rate = flood_rate
        self.flood_burst = flood_burst
        self.motd = [f"* {sanitize(line)}" for line in (motd or "").splitlines()]
        self.timestamp_format = timestamp_format
        self.members: dict[str, ChatProtocol] = {}
        self.history: deque[bytes] = deque(maxlen=history)
        self._guests = 0
        self._batch: list[bytes] | None = None
        self._batch_bytes = 0

    def timestamp(self, when: float | None = None) -> str:
        """A time (default: now) in the configured format, in local time."""
        seconds = self.clock.seconds() if when is None else when
        return time.strftime(self.timestamp_format, time.localtime(seconds))

    # Membership.

    def join(self, member: ChatProtocol) -> None:
        """Name a newcomer, show it the welcome, MOTD and history; tell the others."""
        member.nick = self._guest_nick()
        member.connected_since = self.clock.seconds()
        self.members[member.nick.casefold()] = member
        self.log.info("{peer} joined as {nick}", peer=member.peer, nick=member.nick)
        member.send_text(
            f"* Welcome, {member.nick}! Change your nick with /nick NAME;"
            " /help lists the commands."
        )
        for line in self.motd:
            member.send_text(line)
        for past in self.history:
            if not member.deliver(past):
                self.drop(member)
                return
        self.broadcast(f"* {member.nick} joined", exclude=member)

    def _guest_nick(self) -> str:
        while True:
            self._guests += 1
            nick = f"guest-{self._guests}"
            if nick.casefold() not in self.members:
                return nick

    def rename(self, member: ChatProtocol, nick: str) -> str | None:
        """Give C{member} a new nick; return what is wrong with it, if anything."""
        if not NICK_PATTERN.match(nick):
            return "a nick is 1-30 letters, digits, _ or -, starting with a letter"
        key = nick.casefold()
        if key in RESERVED_NICKS:
            return f"the nick {nick} is reserved"
        holder = self.members.get(key)
        if holder is not None and holder is not member:
            return f"the nick {nick} is taken by {holder.nick}"
        old = member.nick
        del self.members[old.casefold()]
        self.members[key] = member
        member.nick = nick
        self.log.info("{old} is now {new}", old=old, new=nick)
        self.broadcast(f"* {old} is now known as {nick}")
        return None

    def leave(self, member: ChatProtocol, reason: str) -> None:
        """Forget a member whose connection ended; tell the others why."""
        if self.members.get(member.nick.casefold()) is member:
            del self.members[member.nick.casefold()]
            self.log.info("{nick} left ({reason})", nick=member.nick, reason=reason)
            if not self.shutting_down:
                self.broadcast(f"* {member.nick} left ({reason})")

    def drop(self, member: ChatProtocol) -> None:
        """Throw out a member whose unsent output passed the bound."""
        self._broadcast_encoded(self._evict(member))

    def _evict(self, member: ChatProtocol) -> list[bytes]:
        """Throw a member out; return the notice to tell the others (none if gone)."""
        if member._departed:
            return []
        del self.members[member.nick.casefold()]
        member.evict()
        self.log.warn(
            "{nick} ({peer}) dropped: send queue over {limit} bytes",
            nick=member.nick,
            peer=member.peer,
            limit=self.max_send_queue,
        )
        return [self._encode_line(f"* {member.nick} dropped (send queue exceeded)")]

    # Messages.

    def say(self, member: ChatProtocol, text: str) -> None:
        """Relay a message from C{member} to everyone, sender included."""
        self._post(f"[{self.timestamp()}] <{member.nick}> {text}")

    def emote(self, member: ChatProtocol, action: str) -> None:
        """Relay a /me action to everyone."""
        self._post(f"[{self.timestamp()}] * {member.nick} {action}")

    def _encode_line(self, text: str) -> bytes:
        """A line as it goes on the wire: encoded once, ended with CRLF."""
        return encode(text, self.encoding) + CRLF

    def _post(self, text: str) -> None:
        line = self._encode_line(text)
        self.history.append(line)
        if self._batch is None:
            self._broadcast_encoded([line])
            return
        self._batch.append(line)
        self._batch_bytes += len(line)
        if self._batch_bytes >= MAX_BATCH:
            self.send_batch()

    @contextmanager
    def batched(self) -> Iterator[None]:
        """
        Within this block, room messages are collected and then delivered together:
        lines that arrived in one read reach each member in one write per
        L{MAX_BATCH} bytes, not one write per line. Anything else sent meanwhile (a
        reply, a notice) first sends the batch, so every member still sees everything
        in order.
        """
        if self._batch is not None:
            yield
            return
        self._batch = []
        try:
            yield
        finally:
            try:
                self.send_batch()
            finally:
                self._batch = None

    def send_batch(self) -> None:
        """Deliver the room messages batched so far (see L{batched})."""
        if self._batch:
            lines = b"".join(self._batch)
            self._batch.clear()
            self._batch_bytes = 0
            self._broadcast_encoded([lines])

    def broadcast(self, text: str, exclude: ChatProtocol | None = None) -> None:
        """Send a line to every member but C{exclude}, encoded once for all."""
        self._broadcast_encoded([self._encode_line(text)], exclude)

    def _broadcast_encoded(
        self, lines: list[bytes], exclude: ChatProtocol | None = None
    ) -> None:
        """
        Deliver each line to every member. Members whose queue overflows are evicted,
        and their eviction notices join the lines still to deliver, so a cascade of
        drops never recurses. Batched messages go first: they were posted earlier.
        """
        self.send_batch()
        pending = deque(lines)
        while pending:
            line = pending.popleft()
            for member in list(self.members.values()):
                if member is not exclude and not member.deliver(line):
                    pending.extend(self._evict(member))
            exclude = None
