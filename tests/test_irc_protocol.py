"""
The IRC front door without sockets: registration in every order, each command's
success and error numerics, and what IRC, line-protocol and browser members see of
each other.
"""

from __future__ import annotations

from itertools import permutations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.testing import StringTransportWithDisconnection

from tests.chat_support import lines, say
from tests.irc_support import Client, IRCHarness
from twisted_tcp.chat import ChatProtocol
from twisted_tcp.chat.irc.protocol import PING_INTERVAL, REGISTRATION_TIMEOUT

REGISTRATION = [
    "NICK ann",
    "USER u 0 * :Ann",
    "CAP LS 302",
    "CAP REQ :server-time",
    "CAP END",
]


@pytest.mark.parametrize("order", list(permutations(range(3))))
def test_registration_in_any_order(order: tuple[int, ...]) -> None:
    """NICK, USER and a CAP negotiation in any order register the client once, as
    soon as NICK and USER are in and no CAP negotiation is open."""
    harness = IRCHarness()
    client = harness.client()
    steps = [["NICK ann"], ["USER u 0 * :Ann"], ["CAP LS 302", "CAP REQ :server-time"]]
    cap_last = order[-1] == 2
    welcomed_at = []
    for step, index in enumerate(order):
        client.send(*steps[index])
        if "001" in [c[0] for c in client.commands()]:
            welcomed_at.append(step)
    client.send("CAP END")
    if "001" in [c[0] for c in client.commands()]:
        welcomed_at.append(3)
    assert welcomed_at == ([1] if cap_last else [3])


def test_welcome_burst() -> None:
    """The welcome names the client's mask, ISUPPORT says the nick and channel
    rules, the MOTD is 375/372/376, and the client is shown in the default room."""
    harness = IRCHarness(motd="Be kind")
    client = harness.client()
    client.send("NICK ann", "USER u 0 * :Ann")
    got = client.commands()
    assert got[0] == (
        "001",
        "ann",
        "Welcome to the twisted-tcp chat, ann!ann@chat.twisted-tcp",
    )
    isupport = next(c for c in got if c[0] == "005")
    assert {"CASEMAPPING=ascii", "CHANTYPES=#", "NICKLEN=30", "CHANNELLEN=31",
            "TOPICLEN=300", "NETWORK=twisted-tcp"} <= set(isupport)  # fmt: skip
    assert ("372", "ann", "- Be kind") in got
    assert ("JOIN", "#lobby") in got
    assert ("366", "ann", "#lobby", "End of /NAMES list") in got


def test_not_registered() -> None:
    """Commands other than registration's are answered 451 until registered."""
    client = IRCHarness().client()
    client.send("JOIN #a", "PRIVMSG #lobby :hi")
    assert [c[0] for c in client.commands()] == ["451", "451"]


def test_password() -> None:
    """With a server password, a wrong PASS is 464 and the link closes; the right
    one registers."""
    harness = IRCHarness(irc={"password": "s3cret"})
    wrong = harness.client()
    wrong.send("PASS nope", "NICK ann", "USER u 0 * :Ann")
    got = wrong.commands()
    assert got[0][0] == "464" and got[-1][0] == "ERROR"
    right = harness.client()
    right.send("PASS s3cret", "NICK ann", "USER u 0 * :Ann")
    assert right.commands()[0][0] == "001"


def test_registration_timeout() -> None:
    """A client that does not register in time is told why and disconnected."""
    harness = IRCHarness()
    client = harness.client()
    client.send("NICK ann")
    harness.clock.advance(REGISTRATION_TIMEOUT)
    assert client.commands()[-1] == (
        "ERROR",
        "Closing Link: 127.0.0.1 (Registration timed out)",
    )


def test_ping_both_ways() -> None:
    """The client's PING is answered; a silent client is pinged, and dropped if it
    does not answer."""
    harness = IRCHarness()
    client = harness.registered("ann")
    client.send("PING :x1")
    assert client.commands() == [("PONG", "twisted-tcp", "x1")]
    harness.clock.advance(PING_INTERVAL)
    harness.clock.advance(PING_INTERVAL)
    assert client.commands() == [("PING", "twisted-tcp")]
    client.send("PONG :twisted-tcp")
    harness.clock.advance(PING_INTERVAL)
    harness.clock.advance(PING_INTERVAL)
    harness.clock.advance(PING_INTERVAL)
    got = client.commands()
    assert got[0] == ("PING", "twisted-tcp")
    assert got[-1][0] == "ERROR" and "Ping timeout" in got[-1][1]


@pytest.mark.parametrize(
    ("line", "reply"),
    [
        ("NICK", ("431", "ann", "No nickname given")),
        ("NICK 9lives", ("432", "ann", "9lives")),
        ("NICK server", ("432", "ann", "server")),
        ("NICK bob", ("433", "ann", "bob", "Nickname is already in use")),
        ("USER a 0 * :b", ("462", "ann", "You may not reregister")),
        ("JOIN", ("461", "ann", "JOIN", "Not enough parameters")),
        ("JOIN nochan", ("403", "ann", "nochan", "No such channel")),
        ("PART #elsewhere", ("442", "ann", "#elsewhere", "You're not on that channel")),
        ("PART bad", ("403", "ann", "bad", "No such channel")),
        (
            "TOPIC #elsewhere",
            ("442", "ann", "#elsewhere", "You're not on that channel"),
        ),
        ("PRIVMSG", ("411", "ann", "No recipient given (PRIVMSG)")),
        ("PRIVMSG #lobby", ("412", "ann", "No text to send")),
        ("PRIVMSG zed :hi", ("401", "ann", "zed", "No such nick/channel")),
        (
            "PRIVMSG #elsewhere :hi",
            ("404", "ann", "#elsewhere", "Cannot send to channel"),
        ),
        ("WHOIS zed", ("401", "ann", "zed", "No such nick/channel")),
        ("FROB x", ("421", "ann", "FROB", "Unknown command")),
        ("MODE bob", ("502", "ann", "Cant change mode for other users")),
        ("MODE ann +i", ("501", "ann", "Unknown MODE flag")),
        ("MODE #lobby +k key", ("472", "ann", "k", "is unknown mode char to me")),
    ],
)
def test_errors(line: str, reply: tuple[str, ...]) -> None:
    """Each mistake is answered by its numeric."""
    harness = IRCHarness()
    harness.registered("bob")
    client = harness.registered("ann")
    client.send(line)
    got = client.commands()
    assert got[0][: len(reply)] == reply


def test_notice_is_never_answered() -> None:
    """A NOTICE to nobody, or a channel the client is not in, gets no reply."""
    harness = IRCHarness()
    client = harness.registered("ann")
    client.send("NOTICE zed :hi", "NOTICE #elsewhere :hi", "NOTICE", "NOTICE zed")
    assert client.commands() == []


def test_over_long_and_non_utf8_lines() -> None:
    """A line over 512 bytes is 417; bytes that are not UTF-8 become U+FFFD."""
    harness = IRCHarness()
    _nc, nc_transport = harness.line_member()
    client = harness.registered("ann")
    lines(nc_transport)
    client.send("PRIVMSG #lobby :" + "x" * 600)
    assert client.commands() == [("417", "ann", "Input line was too long")]
    client.protocol.dataReceived(b"PRIVMSG #lobby :caf\xe9\r\n")
    assert lines(nc_transport)[-1].endswith("<ann> caf\ufffd")


def _room() -> tuple[
    IRCHarness, ChatProtocol, StringTransportWithDisconnection, Client
]:
    """A chat with an nc member bob and an IRC member ann (server-time, echo)."""
    harness = IRCHarness(history=5)
    nc, nc_transport = harness.line_member()
    say(nc, "/nick bob")
    client = harness.registered("ann", caps="server-time echo-message")
    lines(nc_transport)
    return harness, nc, nc_transport, client


def test_line_member_and_irc_member_talk() -> None:
    """An nc member's line, /me and /msg reach an IRC member as PRIVMSG from its
    mask; the IRC member's PRIVMSG and ACTION reach nc in today's format."""
    _harness, nc, nc_transport, client = _room()
    say(nc, "hello", "/me waves", "/msg ann psst")
    got = client.read()
    assert [(m.prefix, m.command, *m.params) for m in got] == [
        ("bob!bob@chat.twisted-tcp", "PRIVMSG", "#lobby", "hello"),
        ("bob!bob@chat.twisted-tcp", "PRIVMSG", "#lobby", "\x01ACTION waves\x01"),
        ("bob!bob@chat.twisted-tcp", "PRIVMSG", "ann", "psst"),
    ]
    assert all("time" in m.tags for m in got)
    client.send("PRIVMSG #lobby :hi bob", "PRIVMSG #lobby :\x01ACTION nods\x01")
    stamp = "1970/01/01 00:00:00"
    assert lines(nc_transport)[-2:] == [
        f"[{stamp}] <ann> hi bob",
        f"[{stamp}] * ann nods",
    ]


def test_formatting_reaches_irc_only() -> None:
    """Bold and colour codes reach IRC members and are removed for nc members, in
    the room, in history and in private."""
    harness, _nc, nc_transport, client = _room()
    other = harness.registered("cid")
    lines(nc_transport)
    client.send(
        "PRIVMSG #lobby :\x02bold\x02 \x0304,12red\x03", "PRIVMSG bob :\x1fu\x1f"
    )
    assert other.read()[-1].params[-1] == "\x02bold\x02 \x0304,12red\x03"
    assert [line.split("> ")[-1].split("* ")[-1] for line in lines(nc_transport)] == [
        "bold red",
        "u",
    ]


def test_no_forged_lines() -> None:
    """What a member says never reads as another nick's line or as the server's."""
    _harness, nc, nc_transport, client = _room()
    say(nc, "] <ann> I owe bob money", "* ann joined #lobby")
    client.send("PRIVMSG #lobby :\r\n* bob left", "PRIVMSG #lobby :x\x00y")
    got = client.read()
    assert {m.prefix.split("!")[0] for m in got if m.command == "PRIVMSG"} <= {
        "bob",
        "ann",
    }
    assert [m.prefix for m in got if m.params[-1] == "* ann joined #lobby"] == [
        "bob!bob@chat.twisted-tcp"
    ]
    assert all(not line.startswith("*") for line in lines(nc_transport))


def test_history_carries_server_time() -> None:
    """History replayed on JOIN carries the time each line was said."""
    harness = IRCHarness(history=5)
    nc, _nc_transport = harness.line_member()
    say(nc, "/nick bob", "/join #x")
    harness.clock.advance(3600)
    say(nc, "an hour in")
    harness.clock.advance(60)
    client = harness.registered("ann", caps="server-time")
    client.send("JOIN #x")
    said = [m for m in client.read() if m.command == "PRIVMSG"]
    assert [(m.tags["time"], m.params[-1]) for m in said] == [
        ("1970-01-01T01:00:00.000Z", "an hour in")
    ]


def test_echo_message() -> None:
    """Own messages come back only with echo-message."""
    harness = IRCHarness()
    plain = harness.registered("ann")
    echoed = harness.registered("cid", caps="echo-message")
    plain.send("PRIVMSG #lobby :one")
    echoed.send("PRIVMSG #lobby :two")
    assert [m.params[-1] for m in plain.read() if m.command == "PRIVMSG"] == ["two"]
    assert [m.params[-1] for m in echoed.read() if m.command == "PRIVMSG"] == [
        "one",
        "two",
    ]


def test_nick_topic_part_quit_seen_across_doors() -> None:
    """Renames, topics, moves and quits of either door are seen by the other."""
    _harness, nc, nc_transport, client = _room()
    say(nc, "/nick bobby", "/topic Rust night")
    lines(nc_transport)
    got = [(m.command, *m.params) for m in client.read()]
    assert got == [("NICK", "bobby"), ("TOPIC", "#lobby", "Rust night")]
    client.send("TOPIC #lobby", "JOIN #rust")
    got = [(m.command, *m.params) for m in client.read()]
    assert got[0] == ("332", "ann", "#lobby", "Rust night")
    assert ("PART", "#lobby", "joined #rust") in got and ("JOIN", "#rust") in got
    assert lines(nc_transport) == ["* ann left #lobby (joined #rust)"]
    say(nc, "/join #rust")
    client.read()
    client.send("QUIT :gone fishing")
    assert lines(nc_transport)[-1] == "* ann left #rust (Quit: gone fishing)"


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(1, 40), max_size=10))
def test_registration_at_random_splits(cuts: list[int]) -> None:
    """Registration read at any split points welcomes the client the same way."""
    harness = IRCHarness()
    client = harness.client()
    data = "".join(f"{line}\r\n" for line in REGISTRATION).encode()
    start = 0
    for cut in [*sorted(c * 2 for c in cuts), len(data)]:
        client.protocol.dataReceived(data[start:cut])
        start = max(start, cut)
    got = client.commands()
    assert [c[0] for c in got].count("001") == 1
    assert ("CAP", "ann", "ACK", "server-time") in got


def test_flood_pacing_delays_never_drops() -> None:
    """Lines past the flood burst wait for the rate and all reach the room."""
    harness = IRCHarness(flood_rate=1, flood_burst=2)
    _nc, nc_transport = harness.line_member()
    client = harness.registered("ann")
    harness.clock.advance(10)
    lines(nc_transport)
    client.send(*(f"PRIVMSG #lobby :line {n}" for n in range(5)))
    said = [line for line in lines(nc_transport) if "<ann>" in line]
    assert len(said) < 5
    for _ in range(5):
        harness.clock.advance(1)
    said += [line for line in lines(nc_transport) if "<ann>" in line]
    assert [line.split("> ")[1] for line in said] == [f"line {n}" for n in range(5)]


def test_slow_reader_dropped() -> None:
    """An IRC member that does not read is dropped past its queue; the room is told."""
    harness = IRCHarness(max_send_queue=500)
    nc, nc_transport = harness.line_member()
    client = harness.registered("ann")
    client.protocol.pauseProducing()
    say(nc, *(f"line {n} " + "x" * 50 for n in range(20)))
    assert any(
        "ann dropped (send queue exceeded)" in line for line in lines(nc_transport)
    )
    assert client.transport.disconnecting or not client.transport.connected


def test_connection_limits_shared_with_the_line_door() -> None:
    """--max-connections counts line and IRC members together; one over is told."""
    harness = IRCHarness(max_connections=2)
    harness.line_member()
    harness.registered("ann")
    refused = harness.client()
    assert refused.commands() == [("ERROR", "too many connections (max 2)")]


def test_idle_timeout() -> None:
    """An IRC member idle past --idle-timeout is told why and disconnected."""
    harness = IRCHarness(idle_timeout=30)
    client = harness.registered("ann")
    harness.clock.advance(30)
    assert client.commands()[-1] == (
        "ERROR",
        "Closing Link: 127.0.0.1 (Idle for 30 seconds)",
    )


def test_capabilities() -> None:
    """CAP LS lists the capabilities, REQ of known ones is ACKed and of unknown ones
    NAKed, LIST says which are on, and an unknown subcommand is 410."""
    client = IRCHarness().client()
    client.send("CAP LS 302", "CAP REQ :server-time bogus", "CAP REQ :echo-message")
    client.send("CAP LIST", "CAP FROB")
    assert client.commands() == [
        ("CAP", "*", "LS", "echo-message message-tags server-time"),
        ("CAP", "*", "NAK", "server-time bogus"),
        ("CAP", "*", "ACK", "echo-message"),
        ("CAP", "*", "LIST", "echo-message"),
        ("410", "*", "FROB", "Invalid CAP command"),
    ]


def test_names_once_per_channel_arrived_in() -> None:
    """A client that joins a channel as it registers gets that channel's names, and
    none of the default room it left in the same read."""
    harness = IRCHarness()
    client = harness.client()
    client.send("NICK ann", "USER u 0 * :Ann", "JOIN #rust")
    ends = [c[2] for c in client.commands() if c[0] == "366"]
    assert ends == ["#rust"]


def test_away() -> None:
    """AWAY marks a member away (301 to whoever messages or looks it up, under any
    later nick); a bare AWAY takes it back."""
    harness = IRCHarness()
    ann = harness.registered("ann")
    bob = harness.registered("bob")
    ann.read()
    ann.send("AWAY :lunch", "NICK annie")
    assert ann.commands()[0] == ("306", "ann", "You have been marked as being away")
    bob.read()
    bob.send("PRIVMSG annie :hi", "WHOIS annie")
    assert [c for c in bob.commands() if c[0] == "301"] == [
        ("301", "bob", "annie", "lunch"),
        ("301", "bob", "annie", "lunch"),
    ]
    ann.send("AWAY")
    assert ann.commands()[-1][0] == "305"
    bob.send("PRIVMSG annie :back?")
    assert [c for c in bob.commands() if c[0] == "301"] == []
