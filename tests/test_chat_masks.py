"""Ban and mute masks, and durations: read, written back, and matched."""

from __future__ import annotations

import re
from ipaddress import IPv4Network

import pytest
from hypothesis import given
from hypothesis import strategies as st

from twisted_tcp.chat.masks import (
    MASK_RULE,
    MAX_DURATION,
    Mask,
    describe_duration,
    parse_duration,
    parse_mask,
)


@pytest.mark.parametrize(
    ("text", "mask"),
    [
        ("Alice", Mask("nick", "alice")),
        ("account:Bob", Mask("account", "account:bob")),
        ("192.0.2.7", Mask("address", "192.0.2.7")),
        ("192.0.2.7/24", Mask("address", "192.0.2.0/24")),
        ("2001:DB8::1", Mask("address", "2001:db8::1")),
        ("2001:db8::/32", Mask("address", "2001:db8::/32")),
        ("::ffff:192.0.2.7", Mask("address", "192.0.2.7")),
        ("::ffff:192.0.2.0/120", Mask("address", "192.0.2.0/24")),
    ],
)
def test_masks_read(text: str, mask: Mask) -> None:
    """Each kind of mask is read into its canonical text, mapped IPv6 as IPv4."""
    assert parse_mask(text) == mask


@pytest.mark.parametrize(
    "text",
    ["", "1x", "account:", "account:1x", "#room", "a b", "192.0.2.999", "::g", "é"],
)
def test_bad_masks_refused(text: str) -> None:
    """What names nothing is refused with the rule of masks."""
    with pytest.raises(ValueError, match=re.escape(MASK_RULE)):
        parse_mask(text)


def test_masks_match_nick_account_and_address() -> None:
    """Nicks ignoring case, accounts exactly, addresses by network, mapped or not."""
    assert parse_mask("alice").matches("ALICE", None, "")
    assert not parse_mask("alice").matches("bob", "alice", "")
    assert parse_mask("account:alice").matches("x", "alice", "")
    assert not parse_mask("account:alice").matches("alice", None, "")
    network = parse_mask("198.51.100.0/24")
    assert network.matches("x", None, "198.51.100.9")
    assert network.matches("x", None, "::ffff:198.51.100.9")
    assert not network.matches("x", None, "198.51.101.9")
    assert not network.matches("x", None, "2001:db8::1")
    assert not network.matches("x", None, "")


@given(st.ip_addresses(v=4), st.integers(0, 32))
def test_network_masks_read_back(address: object, prefix: int) -> None:
    """A network mask's text reads back to the same mask."""
    network = IPv4Network(f"{address}/{prefix}", strict=False)
    mask = parse_mask(str(network))
    assert parse_mask(mask.text) == mask
    assert mask.matches("x", None, str(network.network_address))


@given(st.text(max_size=40))
def test_any_text_is_a_mask_or_the_rule(text: str) -> None:
    """Whatever is typed is a mask, or refused with the rule, never another error."""
    try:
        parse_mask(text)
    except ValueError as error:
        assert str(error) == MASK_RULE


def test_durations() -> None:
    """A number and a unit; anything else is not a duration; a year at most."""
    assert parse_duration("90s") == 90
    assert parse_duration("10m") == 600
    assert parse_duration("2h") == 7200
    assert parse_duration("1w") == 604800
    assert parse_duration("9999999w") == MAX_DURATION
    for text in ("", "10", "m", "0m", "1.5h", "-1h", "10M", "10 m", "spam"):
        assert parse_duration(text) is None
    assert [describe_duration(s) for s in (90, 600, 7200, 86400 * 14)] == [
        "90s",
        "10m",
        "2h",
        "2w",
    ]
