"""
Registration of an IRC client: C{PASS}, C{NICK}, C{USER} and C{CAP} in any order,
then the welcome burst, once it has the nick it asked for in the chat.
"""

from __future__ import annotations

from functools import partial

from twisted.internet.defer import succeed

from twisted_tcp.chat.interfaces import Completion
from twisted_tcp.chat.irc import numerics, reading
from twisted_tcp.chat.irc.message import Message
from twisted_tcp.chat.irc.output import CAPABILITIES, mask
from twisted_tcp.chat.irc.protocol import IRCConnection
from twisted_tcp.chat.irc.welcome import welcome_burst
from twisted_tcp.chat.names import nick_key, nick_problem


class Registration(IRCConnection):
    """An IRC connection's registration (see the module's docstring)."""

    def greet(self) -> None:
        self._registration = self.callLater(
            self.factory.registration_timeout, self._registration_timed_out
        )
        self._pinger = self.callLater(self.factory.ping_interval, self._ping)

    # Registration.

    def irc_PASS(self, params: tuple[str, ...]) -> None:
        if self._registered:
            self.reply(numerics.ERR_ALREADYREGISTRED, numerics.ALREADY_REGISTERED)
        elif self.need(params, 1, "PASS"):
            self._password = params[0]

    def irc_USER(self, params: tuple[str, ...]) -> Completion:
        if self._registered or self._user:
            self.reply(numerics.ERR_ALREADYREGISTRED, numerics.ALREADY_REGISTERED)
            return None
        if not self.need(params, 4, "USER"):
            return None
        self._user = params[0]
        return self._try_registering()

    def irc_CAP(self, params: tuple[str, ...]) -> Completion:
        if not self.need(params, 1, "CAP"):
            return None
        sub = params[0].upper()
        if sub == "LS":
            self._negotiating = not self._registered
            self.write(self._cap("LS", " ".join(CAPABILITIES)))
        elif sub == "LIST":
            self.write(self._cap("LIST", " ".join(sorted(self.shown.caps))))
        elif sub == "REQ" and self.need(params, 2, "CAP"):
            self._negotiating = not self._registered
            asked = params[1].split()
            wanted = {cap.lstrip("-") for cap in asked}
            if wanted <= set(CAPABILITIES):
                for cap in asked:
                    if cap.startswith("-"):
                        self.shown.caps.discard(cap[1:])
                    else:
                        self.shown.caps.add(cap)
                self.write(self._cap("ACK", params[1]))
            else:
                self.write(self._cap("NAK", params[1]))
        elif sub == "END":
            self._negotiating = False
            return self._try_registering()
        elif sub != "REQ":
            self.reply(numerics.ERR_INVALIDCAPCMD, sub, numerics.INVALID_CAP)
        return None

    def _cap(self, sub: str, text: str) -> Message:
        return Message("CAP", (self.shown.nick, sub, text), self.factory.server_name)

    def irc_NICK(self, params: tuple[str, ...]) -> Completion:
        if not params or not params[0]:
            self.reply(numerics.ERR_NONICKNAMEGIVEN, numerics.NO_NICK_GIVEN)
            return None
        nick = params[0]
        problem = nick_problem(nick)
        if problem:
            self.reply(numerics.ERR_ERRONEUSNICKNAME, nick, problem)
            return None
        if self._registered:
            was = nick_key(self.nick)
            renaming = self.chat.rename(self, nick) or succeed(None)
            return renaming.addCallback(lambda _: self._away_as(was))
        self._wanted = nick
        if self._connected:
            return self._claim()
        return self._try_registering()

    def _away_as(self, was: str) -> None:
        """An away message follows its member's renames."""
        away = self.factory.away.pop(was, None)
        if away is not None:
            self.factory.away[nick_key(self.nick)] = away

    def _try_registering(self) -> Completion:
        """Join the chat once NICK, USER and any CAP negotiation are done."""
        if not (self._wanted and self._user) or self._negotiating or self._connected:
            return None
        password = self.factory.password
        if password is not None and self._password != password:
            self.reply(numerics.ERR_PASSWDMISMATCH, numerics.PASSWORD_MISMATCH)
            self.quit("Bad password")
            return None
        self._connected = True
        connecting = self.chat.connect(self) or succeed(None)
        return connecting.addCallback(lambda _: self._claim())

    def _claim(self) -> Completion:
        """Take the nick asked for; welcome the client once it has it."""
        wanted = self._wanted
        renaming = self.chat.rename(self, wanted) if self.nick != wanted else None

        def renamed(_: object) -> Completion:
            if self.nick == wanted and not self._registered:
                self._welcome()
                return self._log_in()
            return None

        return (renaming or succeed(None)).addCallback(renamed)

    def _log_in(self) -> Completion:
        """
        C{PASS ACCOUNT:PASSWORD} on a server without a password of its own logs in
        to that account, as C{IDENTIFY ACCOUNT PASSWORD} would.
        """
        account, colon, password = self._password.partition(":")
        if self.factory.password is not None or not colon:
            return None
        return self.chat.perform(self, "identify", f"{account} {password}")

    def _welcome(self) -> None:
        """The welcome burst, then what the chat said while the client registered."""
        self._registered = True
        if self._registration is not None and self._registration.active():
            self._registration.cancel()
        self.shown.nick = self.nick
        self.write(
            *welcome_burst(
                self.nick,
                mask(self.nick, self.shown.host),
                self.factory.server_name,
                self.factory.network,
                self.factory.started,
                self.chat.settings.motd,
            )
        )
        if self.room is not None:
            self.chat.flush(self)  # What it is owed is part of its arrival.
            self.write(*self.shown.render(reading.NowIn(self.room.name), False))
        early, self._early = self._early or [], None
        greeting = set(self.chat.settings.motd)
        for text, live in early:
            event = reading.read(text)
            own = isinstance(event, reading.Renamed) and event.new == self.nick
            if own or text in greeting:
                continue  # Its own arrival under its guest nick, and the greeting.
            self.write(*self.shown.render(event, live))
        if self.shown.channel is not None:
            # At the end of the turn: a client that joins another channel at once
            # (in the same read) has no use for the default room's names.
            arrival = partial(self._names_on_arrival, self.shown.channel)
            self._arrival_names = self.callLater(0, arrival)

    def _names_on_arrival(self, channel: str) -> None:
        if self.shown.channel == channel and not self._closing:
            self._wait_for(self.names(channel))

    def _registration_timed_out(self) -> None:
        if not self._registered:
            self.quit(numerics.REGISTRATION_TIMEOUT)
