"""
What a ban or a mute names, and for how long (see C{docs/chat-protocol.md}).

A L{Mask} is one of three kinds, told apart by its text:

    - an address or network (C{192.0.2.7}, C{198.51.100.0/24}, C{2001:db8::/32}):
      everyone whose connection comes from it; an IPv4-mapped IPv6 address
      (C{::ffff:192.0.2.7}) is the IPv4 address it maps;
    - C{account:NAME}: whoever is identified as the account C{NAME};
    - anything else that is a nick: whoever holds that nick (ignoring case).

A duration is a whole number and a unit (C{90s}, C{10m}, C{2h}, C{7d}, C{4w}).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from typing import Final, Literal

from twisted_tcp._listen import unmapped
from twisted_tcp.chat.names import NICK_PATTERN, nick_key

ACCOUNT_PREFIX: Final = "account:"
#: Seconds in each unit of a duration.
UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
#: The longest duration a ban or a mute may be given (a year); longer is forever.
MAX_DURATION: Final = 366 * 86400
_LARGEST_FIRST: Final = sorted(UNITS.items(), key=lambda item: -item[1])
_DURATION: Final = re.compile(r"([1-9][0-9]{0,6})([smhdw])\Z")
MASK_RULE: Final = (
    "a mask is a nick, account:NAME, or an address or network (192.0.2.0/24)"
)

Kind = Literal["address", "account", "nick"]


@dataclass(frozen=True)
class Mask:
    """
    What a ban or a mute names.

    @ivar kind: C{"address"}, C{"account"} or C{"nick"}.
    @ivar text: its canonical text: what L{parse_mask} reads back to the same mask,
        and what stores and notices show.
    """

    kind: Kind
    text: str

    def matches(self, nick: str, account: str | None, address: str) -> bool:
        """Whether it names a member with C{nick}, C{account} and C{address}."""
        if self.kind == "nick":
            return nick_key(nick) == self.text
        if self.kind == "account":
            return account is not None and ACCOUNT_PREFIX + account == self.text
        return address_in(address, self.text)


def parse_mask(text: str) -> Mask:
    """
    The mask C{text} names.

    @raise ValueError: with L{MASK_RULE}, if it names nothing.
    """
    if text.startswith(ACCOUNT_PREFIX):
        name = text[len(ACCOUNT_PREFIX) :]
        if NICK_PATTERN.match(name):
            return Mask("account", ACCOUNT_PREFIX + nick_key(name))
    elif NICK_PATTERN.match(text):
        return Mask("nick", nick_key(text))
    elif "." in text or ":" in text:
        network = _network(text)
        if network is not None:
            return Mask("address", _network_text(network))
    raise ValueError(MASK_RULE)


def _network(text: str) -> IPv4Network | IPv6Network | None:
    """The network C{text} names (an address is a network of one), or C{None}."""
    try:
        network = ip_network(text, strict=False)
    except ValueError:
        return None
    mapped = getattr(network.network_address, "ipv4_mapped", None)
    if mapped is not None and network.prefixlen >= 96:
        # ::ffff:a.b.c.d/N names IPv4 addresses: its last 32 bits.
        return ip_network(f"{mapped}/{network.prefixlen - 96}", strict=False)
    return network


def _network_text(network: IPv4Network | IPv6Network) -> str:
    """A network as masks show it: one address without its prefix length."""
    if network.num_addresses == 1:
        return str(network.network_address)
    return str(network)


def address_in(address: str, mask: str) -> bool:
    """Whether the peer C{address} (maybe IPv4-mapped) is in the network C{mask}."""
    if not address:
        return False
    try:
        peer = ip_address(unmapped(address))
        network = ip_network(mask, strict=False)
    except ValueError:
        return False
    return peer.version == network.version and peer in network


def parse_duration(text: str) -> int | None:
    """
    The seconds C{text} (C{10m}) names, or C{None} if it is not a duration.
    Durations past L{MAX_DURATION} are capped there.
    """
    found = _DURATION.match(text)
    if found is None:
        return None
    return min(int(found[1]) * UNITS[found[2]], MAX_DURATION)


def describe_duration(seconds: float) -> str:
    """A duration as notices show it: in its largest whole unit (C{90m}, C{2h})."""
    whole = max(1, round(seconds))
    unit, size = next(
        (unit, size) for unit, size in _LARGEST_FIRST if whole % size == 0
    )
    return f"{whole // size}{unit}"
