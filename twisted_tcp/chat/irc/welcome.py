"""
What a client is sent once registered: C{001}-C{005} (with an C{ISUPPORT} that says
what this server is, truthfully) and the message of the day, or C{422}.
"""

from __future__ import annotations

from typing import Final

from twisted_tcp._version import __version__
from twisted_tcp.chat.irc import numerics
from twisted_tcp.chat.irc.message import Message

#: Characters of a topic kept (longer topics are cut), as C{TOPICLEN} says.
TOPICLEN: Final = 300


def isupport(network: str) -> list[str]:
    """The C{005} tokens: what a client may rely on (see C{docs/irc.md})."""
    return [
        "CASEMAPPING=ascii",  # Nicks and channels are ASCII; case is ignored.
        "CHANTYPES=#",
        "CHANLIMIT=#:1",  # A member is in one room at a time.
        "CHANMODES=,,,n",  # No modes to set; no outside messages (+n) always.
        "PREFIX=",  # Nobody is an operator.
        "NICKLEN=30",
        "CHANNELLEN=31",
        f"TOPICLEN={TOPICLEN}",
        f"NETWORK={network}",
    ]


def welcome_burst(
    nick: str, source: str, server: str, network: str, started: str, motd: list[str]
) -> list[Message]:
    """C{001}-C{005} and the message of the day, for C{nick} (known as C{source})."""

    def reply(numeric: str, *params: str) -> Message:
        return Message(numeric, (nick, *params), server)

    burst = [
        reply(
            numerics.RPL_WELCOME, numerics.WELCOME.format(network=network, mask=source)
        ),
        reply(
            numerics.RPL_YOURHOST,
            numerics.YOUR_HOST.format(server=server, version=__version__),
        ),
        reply(numerics.RPL_CREATED, numerics.CREATED.format(started=started)),
        reply(numerics.RPL_MYINFO, server, __version__),
        reply(numerics.RPL_ISUPPORT, *isupport(network), numerics.ISUPPORT),
    ]
    if not motd:
        return [*burst, reply(numerics.ERR_NOMOTD, numerics.NO_MOTD)]
    burst.append(
        reply(numerics.RPL_MOTDSTART, numerics.MOTD_START.format(server=server))
    )
    burst.extend(
        reply(numerics.RPL_MOTD, "- " + line.removeprefix("* ")) for line in motd
    )
    burst.append(reply(numerics.RPL_ENDOFMOTD, numerics.END_OF_MOTD))
    return burst
