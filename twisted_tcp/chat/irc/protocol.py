"""
One IRC client's connection: a chat member like a line-protocol one (the same
flood pacing, send queue and slow-reader drop, idle timeout and limits, see
L{ChatProtocol}), that reads IRC messages instead of lines and shows the chat's
lines as IRC messages (see C{docs/irc.md}).

L{IRCConnection} reads messages, pings the client and writes to it; registration is
L{twisted_tcp.chat.irc.registration}'s, and the commands of a registered client are
L{twisted_tcp.chat.irc.commands.IRCProtocol}'s.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from twisted.internet.defer import succeed
from twisted.internet.interfaces import IDelayedCall
from twisted.internet.protocol import connectionDone
from twisted.python.failure import Failure

from twisted_tcp._text import CRLF, decode, encode
from twisted_tcp.chat.interfaces import Completion
from twisted_tcp.chat.irc import numerics, reading
from twisted_tcp.chat.irc.message import (
    MAX_LINE,
    MAX_TAGS,
    MalformedMessageError,
    Message,
    parse,
    split_line,
)
from twisted_tcp.chat.irc.output import Batch, Shown
from twisted_tcp.chat.names import nick_key
from twisted_tcp.chat.protocol import CORE_COMMANDS, ChatProtocol, ChatServerFactory

#: Seconds a client has to register before it is disconnected.
REGISTRATION_TIMEOUT: Final = 60.0
#: Seconds of silence before the server pings a client, and then waits for it.
PING_INTERVAL: Final = 120.0
#: The commands a client may send before it is registered.
BEFORE_REGISTRATION: Final = frozenset(
    {"PASS", "NICK", "USER", "CAP", "PING", "PONG", "QUIT"}
)


class IRCServerFactory(ChatServerFactory):
    """What an L{IRCProtocol} needs of its factory, beyond a chat member's."""

    password: str | None
    server_name: str
    network: str
    started: str
    registration_timeout: float
    ping_interval: float
    away: dict[str, str]
    batch: Batch


class IRCConnection(ChatProtocol):
    """One IRC client in the chat (see the module's docstring)."""

    factory: IRCServerFactory
    idleNotice = None
    #: Lines said with IRC formatting codes reach this member with them.
    formatting = True

    _registered = False
    _connected = False
    _negotiating = False
    _wanted = ""
    _user = ""
    _password = ""
    _registration: IDelayedCall | None = None
    _pinger: IDelayedCall | None = None
    _arrival_names: IDelayedCall | None = None
    _heard = False
    _awaiting_pong = False
    _quiet = False

    def connectionMade(self) -> None:
        self.shown = Shown(
            "chat." + self.factory.network,
            self.factory.server_name,
            self.chat.settings.timestamp_format,
        )
        #: What the chat sent while the client was registering (see C{_welcome}).
        self._early: list[tuple[str, bool]] | None = []
        super().connectionMade()

    def too_long(self) -> str:
        return numerics.INPUT_TOO_LONG

    # Input.

    def messageReceived(self, message: bytes) -> None:
        self._heard = True
        tags, rest = split_line(message)
        if len(rest) > MAX_LINE - 2 or len(tags) > MAX_TAGS:
            self.send_error(numerics.INPUT_TOO_LONG)
            return
        try:
            parsed = parse(decode(message, self.factory.encoding))
        except MalformedMessageError:
            return  # As other servers do: a line that is no message is ignored.
        command = parsed.command
        if not self._registered and command not in BEFORE_REGISTRATION:
            self.reply(numerics.ERR_NOTREGISTERED, numerics.NOT_REGISTERED)
            return
        handler: Callable[[tuple[str, ...]], Completion] | None = getattr(
            self, f"irc_{command}", None
        )
        if handler is None and command.lower() in CORE_COMMANDS:
            # The chat's account and operator commands: BAN MASK 1h :REASON.
            argument = " ".join(parsed.params)
            self._wait_for(self.chat.perform(self, command.lower(), argument))
            return
        if handler is None:
            self.reply(numerics.ERR_UNKNOWNCOMMAND, command, numerics.UNKNOWN_COMMAND)
            return
        self._wait_for(handler(parsed.params))

    def need(self, params: tuple[str, ...], count: int, command: str) -> bool:
        """Whether C{params} has C{count} parameters (461 if not)."""
        if len(params) >= count and all(params[:count]):
            return True
        self.reply(numerics.ERR_NEEDMOREPARAMS, command, numerics.NEED_MORE_PARAMS)
        return False

    # Pings: a client silent for an interval is pinged, and dropped if it is still
    # silent after another.

    def _ping(self) -> None:
        self._pinger = self.callLater(self.factory.ping_interval, self._ping)
        if self._heard or self._held is not None:
            self._heard = self._awaiting_pong = False
        elif self._awaiting_pong:
            self._leave_reason = numerics.PING_TIMEOUT.format(
                seconds=self.factory.ping_interval
            )
            self.quit(self._leave_reason)
        elif self._held is None:  # Held input (flood pacing) may hold its answer.
            self._awaiting_pong = True
            self.write(Message("PING", (self.factory.server_name,)))

    def irc_PING(self, params: tuple[str, ...]) -> None:
        if self.need(params, 1, "PING"):
            server = self.factory.server_name
            self.write(Message("PONG", (server, params[0]), server))

    def irc_PONG(self, params: tuple[str, ...]) -> None:
        """Any input answers a ping (see L{_ping})."""

    # Output.

    def write(self, *messages: Message) -> None:
        """Send IRC messages to this client, after what its room sent it before."""
        if not messages:
            return
        self.chat.flush(self)
        if not ChatProtocol.deliver(self, self._encode(list(messages))):
            self.chat.drop(self)

    def reply(self, numeric: str, *params: str) -> None:
        self.write(self.shown.reply(numeric, *params))

    def deliver(self, data: bytes) -> bool:
        """Lines from the member's room, shown as IRC messages."""
        if self._departed:
            return True
        batch = self.factory.batch
        batch.read(data, self.factory.encoding)
        if self._early is not None:
            self._early.extend((line, True) for line in batch.lines)
            return True
        shown = self.shown
        alike = batch.plain and (
            "echo-message" in shown.caps or nick_key(self.nick) not in batch.authors
        )
        key = (shown.channel, "server-time" in shown.caps)
        out = batch.shown.get(key) if alike else None
        if out is None:
            messages = [m for e in batch.events for m in shown.render(e, True)]
            out = self._encode(messages)
            if alike:
                batch.shown[key] = out
        return ChatProtocol.deliver(self, out) if out else True

    def _encode(self, messages: list[Message]) -> bytes:
        """Messages as they go on the wire, each ended with CRLF."""
        encoding = self.factory.encoding
        return b"".join(encode(m.serialise(), encoding) + CRLF for m in messages)

    def send_text(self, text: str) -> None:
        """A line of the chat's for this member alone (a reply, a private message)."""
        if self._early is not None:
            self._early.append((text, False))
            return
        self.write(*self.shown.render(reading.read(text), False))

    def send_error(self, text: str) -> None:
        """An error of the chat's (or the framer's), as the numeric that says it."""
        if self._quiet:
            return
        match reading.read_error(text):
            case reading.NickTaken(nick):
                self.reply(numerics.ERR_NICKNAMEINUSE, nick, numerics.NICK_IN_USE)
            case reading.NoSuchNick(nick):
                self.reply(numerics.ERR_NOSUCHNICK, nick, numerics.NO_SUCH_NICK)
            case reading.AlreadyIn():
                pass
            case _ if text == numerics.INPUT_TOO_LONG:
                self.reply(numerics.ERR_INPUTTOOLONG, text)
            case _:
                self.write(self.shown.notice(f"error: {text}"))

    # Leaving.

    def quit(self, reason: str) -> None:
        """Say why the link closes (C{ERROR}), and close it."""
        self._leave_reason = self._leave_reason or reason
        host = self.peer.rsplit(":", 1)[0]
        text = numerics.CLOSING_LINK.format(host=host, reason=reason)
        self.write(Message("ERROR", (text,)))
        self.close_gracefully()

    def timeoutConnection(self) -> None:
        self._leave_reason = "idle timeout"
        self.quit(f"Idle for {self.factory.idle_timeout:g} seconds")

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        for timer in (self._registration, self._pinger, self._arrival_names):
            if timer is not None and timer.active():
                timer.cancel()
        self.factory.away.pop(nick_key(self.nick), None)
        super().connectionLost(reason)

    # Listings.

    def listing(
        self,
        ask: Callable[[], Completion],
        show: Callable[[list[reading.Event]], list[Message]],
    ) -> Completion:
        """
        Ask the chat for a listing (C{/who}, C{/rooms}) and show what it answered
        with C{show}, once it is all there.
        """
        entries: list[reading.Event] = []
        self.shown.listing = entries
        asking = ask() or succeed(None)

        def answered(_: object) -> None:
            self.shown.listing = None
            self.write(*show(entries))

        return asking.addCallback(answered)

    def names(self, channel: str) -> Completion:
        """C{353} and C{366} for the member's channel."""
        return self.listing(
            lambda: self.chat.who(self), lambda e: self.shown.names(channel, e)
        )
