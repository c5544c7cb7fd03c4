"""
The commands of a registered IRC client, each mapped onto the chat's requests (see
C{docs/irc.md} for the table): C{irc_NAME} answers C{NAME}.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.words.protocols.irc import ctcpExtract

from twisted_tcp._text import sanitize_keeping_formatting
from twisted_tcp.chat.interfaces import ACCOUNT_COMMANDS, Completion
from twisted_tcp.chat.irc import numerics
from twisted_tcp.chat.irc.registration import Registration
from twisted_tcp.chat.irc.welcome import TOPICLEN
from twisted_tcp.chat.names import (
    NICKSERV,
    ROOM_PATTERN,
    nick_key,
    room_key,
    room_name_problem,
)
from twisted_tcp.chat.protocol import MAX_REASON


def _free_text(text: str) -> str:
    """A client's text as the chat takes it: formatting kept, other controls not."""
    return sanitize_keeping_formatting(text).strip()


def _then(_: object, do: Callable[[str], Completion], item: str) -> Completion:
    return do(item)


class IRCProtocol(Registration):
    """An IRC client in the chat: its commands (see the module's docstring)."""

    def _in_channel(self, channel: str, command: str) -> bool:
        """Whether the member is in C{channel} (403 or 442 if not)."""
        current = self.shown.channel
        if current is not None and room_key(channel) == room_key(current):
            return True
        if not ROOM_PATTERN.match(channel):
            self.reply(numerics.ERR_NOSUCHCHANNEL, channel, numerics.NO_SUCH_CHANNEL)
        else:
            self.reply(numerics.ERR_NOTONCHANNEL, channel, numerics.NOT_ON_CHANNEL)
        return False

    # Channels.

    def irc_JOIN(self, params: tuple[str, ...]) -> Completion:
        if not self.need(params, 1, "JOIN"):
            return None
        if params[0] == "0":
            return self.chat.part(self)
        return self._each(params[0].split(","), self._join)

    def _join(self, channel: str) -> Completion:
        if room_name_problem(channel):
            self.reply(numerics.ERR_NOSUCHCHANNEL, channel, numerics.NO_SUCH_CHANNEL)
            return None
        current = self.shown.channel
        if current is not None and room_key(current) == room_key(channel):
            return None
        joining = self.chat.join(self, channel) or succeed(None)

        def joined(_: object) -> Completion:
            now = self.shown.channel
            if now is not None and room_key(now) == room_key(channel):
                return self.names(now)
            return None

        return joining.addCallback(joined)

    def _each(self, items: list[str], do: Callable[[str], Completion]) -> Completion:
        """Run C{do} on each item in turn, each once the one before has finished."""
        done: Deferred[Any] = succeed(None)
        for item in items:
            done = done.addCallback(_then, do, item)
        return done

    def irc_PART(self, params: tuple[str, ...]) -> Completion:
        if not self.need(params, 1, "PART"):
            return None
        channel = params[0].split(",")[0]
        if not self._in_channel(channel, "PART"):
            return None
        return self.chat.part(self)

    def irc_TOPIC(self, params: tuple[str, ...]) -> Completion:
        if not self.need(params, 1, "TOPIC") or not self._in_channel(params[0], ""):
            return None
        if len(params) < 2:
            self.shown.asking_topic = True
            return self.chat.topic(self, None)
        return self.chat.topic(self, _free_text(params[1])[:TOPICLEN])

    def irc_NAMES(self, params: tuple[str, ...]) -> Completion:
        channel = params[0].split(",")[0] if params else self.shown.channel or "*"
        current = self.shown.channel
        if current is not None and room_key(channel) == room_key(current):
            return self.names(current)
        self.reply(numerics.RPL_ENDOFNAMES, channel, numerics.END_OF_NAMES)
        return None

    def irc_LIST(self, params: tuple[str, ...]) -> Completion:
        return self.listing(lambda: self.chat.list_rooms(self), self.shown.rooms)

    def irc_WHO(self, params: tuple[str, ...]) -> Completion:
        target = params[0] if params else "*"
        current = self.shown.channel
        if current is not None and room_key(target) == room_key(current):
            return self.listing(
                lambda: self.chat.who(self), lambda e: self.shown.who(current, e)
            )
        known = self.shown.present.get(nick_key(target))
        if known is not None:
            self.reply(
                numerics.RPL_WHOREPLY, current or "*", known, self.shown.host,
                self.shown.server, known, "H", f"0 {known}",
            )  # fmt: skip
        self.reply(numerics.RPL_ENDOFWHO, target, numerics.END_OF_WHO)
        return None

    def irc_WHOIS(self, params: tuple[str, ...]) -> None:
        if not params:
            self.reply(numerics.ERR_NONICKNAMEGIVEN, numerics.NO_NICK_GIVEN)
            return
        nick = params[-1].split(",")[0]
        known = self.shown.present.get(nick_key(nick))
        if known is None:
            self.reply(numerics.ERR_NOSUCHNICK, nick, numerics.NO_SUCH_NICK)
        else:
            host, server = self.shown.host, self.shown.server
            self.reply(numerics.RPL_WHOISUSER, known, known, host, "*", known)
            if self.shown.channel is not None:
                self.reply(numerics.RPL_WHOISCHANNELS, known, self.shown.channel)
            self.reply(numerics.RPL_WHOISSERVER, known, server, numerics.SERVER_INFO)
            away = self.factory.away.get(nick_key(known))
            if away is not None:
                self.reply(numerics.RPL_AWAY, known, away)
        self.reply(numerics.RPL_ENDOFWHOIS, nick, numerics.END_OF_WHOIS)

    # Messages.

    def irc_KICK(self, params: tuple[str, ...]) -> Completion:
        """C{KICK #CHANNEL NICK [:REASON]}: the chat's C{/kick}, in the channel."""
        if not self.need(params, 2, "KICK"):
            return None
        return self.chat.perform(self, "kick", " ".join(params[1:3]))

    def irc_PRIVMSG(self, params: tuple[str, ...]) -> Completion:
        return self._message(params, "PRIVMSG")

    def irc_NOTICE(self, params: tuple[str, ...]) -> Completion:
        """As PRIVMSG, but nothing ever answers it, not even an error."""
        self._quiet = True
        try:
            sending = self._message(params, "NOTICE")
        finally:
            self._quiet = False
        if isinstance(sending, Deferred):
            self._quiet = True

            def sent(result: object) -> object:
                self._quiet = False
                return result

            sending.addBoth(sent)
        return sending

    def _message(self, params: tuple[str, ...], command: str) -> Completion:
        quiet = command == "NOTICE"
        if not params or not params[0]:
            if not quiet:
                self.reply(
                    numerics.ERR_NORECIPIENT,
                    numerics.NO_RECIPIENT.format(command=command),
                )
            return None
        if len(params) < 2 or not params[1]:
            if not quiet:
                self.reply(numerics.ERR_NOTEXTTOSEND, numerics.NO_TEXT)
            return None
        extracted = ctcpExtract(params[1])
        actions = [data for tag, data in extracted["extended"] if tag == "ACTION"]
        text = _free_text(" ".join(extracted["normal"]))
        action = _free_text(actions[0] or "") if actions else ""
        if not text and not action:
            return None  # A CTCP request other than ACTION: nothing to relay.
        return self._each(
            params[0].split(",")[:4], lambda target: self._send(target, text, action)
        )

    def _send(self, target: str, text: str, action: str) -> Completion:
        if target.startswith("#"):
            current = self.shown.channel
            if current is None or room_key(target) != room_key(current):
                if not self._quiet:
                    self.reply(
                        numerics.ERR_CANNOTSENDTOCHAN, target, numerics.CANNOT_SEND
                    )
                return None
            if action:
                return self.chat.emote(self, action)
            return self.chat.say(self, text)
        if nick_key(target) == NICKSERV:
            # /msg NickServ IDENTIFY PASSWORD, as IRC clients log in.
            word, _, rest = text.partition(" ")
            if word.lower() in ACCOUNT_COMMANDS:
                return self.chat.perform(self, word.lower(), rest.strip())
        away = self.factory.away.get(nick_key(target))
        if away is not None and not self._quiet:
            self.reply(numerics.RPL_AWAY, target, away)
        return self.chat.private(self, target, f"* {action}" if action else text)

    # The member itself.

    def irc_AWAY(self, params: tuple[str, ...]) -> None:
        message = _free_text(params[0]) if params else ""
        if message:
            self.factory.away[nick_key(self.nick)] = message
            self.reply(numerics.RPL_NOWAWAY, numerics.NOW_AWAY)
        else:
            self.factory.away.pop(nick_key(self.nick), None)
            self.reply(numerics.RPL_UNAWAY, numerics.UN_AWAY)

    def irc_MODE(self, params: tuple[str, ...]) -> None:
        if not self.need(params, 1, "MODE"):
            return
        target, changes = params[0], params[1:]
        if not target.startswith("#"):
            if nick_key(target) != nick_key(self.nick):
                self.reply(numerics.ERR_USERSDONTMATCH, numerics.USERS_DONT_MATCH)
            elif changes:
                self.reply(numerics.ERR_UMODEUNKNOWNFLAG, numerics.UNKNOWN_USER_MODE)
            else:
                self.reply(numerics.RPL_UMODEIS, "+")
            return
        if not self._in_channel(target, "MODE"):
            return
        if not changes:
            self.reply(numerics.RPL_CHANNELMODEIS, target, "+n")
        elif changes[0].lstrip("+") == "b" and len(changes) == 1:
            self.reply(numerics.RPL_ENDOFBANLIST, target, numerics.END_OF_BANS)
        else:
            for char in changes[0].lstrip("+-")[:1]:
                self.reply(numerics.ERR_UNKNOWNMODE, char, numerics.UNKNOWN_MODE)

    def irc_USERHOST(self, params: tuple[str, ...]) -> None:
        if not self.need(params, 1, "USERHOST"):
            return
        found = [self.shown.present.get(nick_key(nick)) for nick in params[:5]]
        away = self.factory.away
        answer = " ".join(
            f"{nick}={'-' if nick_key(nick) in away else '+'}{nick}@{self.shown.host}"
            for nick in found
            if nick is not None
        )
        self.reply(numerics.RPL_USERHOST, answer)

    def irc_ISON(self, params: tuple[str, ...]) -> None:
        if not self.need(params, 1, "ISON"):
            return
        asked = " ".join(params).split()
        online = [
            self.shown.present[key]
            for key in map(nick_key, asked)
            if key in self.shown.present
        ]
        self.reply(numerics.RPL_ISON, " ".join(online))

    def irc_QUIT(self, params: tuple[str, ...]) -> None:
        reason = _free_text(params[0])[:MAX_REASON] if params else ""
        self._leave_reason = f"Quit: {reason}" if reason else "Quit"
        self.quit(self._leave_reason)
