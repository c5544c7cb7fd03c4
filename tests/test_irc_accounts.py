"""IRC clients log in (PASS, NickServ) and use the operators' commands."""

from __future__ import annotations

from typing import Any

from tests.chat_support import lines, say
from tests.irc_support import IRCHarness
from tests.support import connect
from twisted_tcp.chat import texts
from twisted_tcp.chat.passwords import Cost, PasswordHasher, run_here


def harness() -> IRCHarness:
    """A chat on a test clock with cheap hashes and the server operator root."""
    return IRCHarness(
        hasher=PasswordHasher(cost=Cost(16, 1, 1), run=run_here), operators=["root"]
    )


def notices(messages: list[Any]) -> list[str]:
    """The texts of the NOTICEs among C{messages}."""
    return [m.params[-1] for m in messages if m.command == "NOTICE"]


def test_pass_account_password_logs_in() -> None:
    """PASS ACCOUNT:PASSWORD logs the client in once it is registered."""
    room = harness()
    alice, out = room.line_member()
    say(alice, "/nick alice", "/register password1", "/quit")
    assert texts.registered("alice") in lines(out)
    client = room.client()
    client.send("PASS alice:password1", "NICK alice", "USER u 0 * :A")
    assert texts.identified("alice") in notices(client.read())
    assert client.protocol.account == "alice"


def test_nickserv_runs_the_account_commands() -> None:
    """/msg NickServ REGISTER, LOGOUT, IDENTIFY; NickServ is no member's nick."""
    room = harness()
    client = room.registered("bob")
    client.send("PRIVMSG NickServ :REGISTER password1", "NICK NickServ")
    messages = client.read()
    assert texts.registered("bob") in notices(messages)
    assert messages[-1].command == "432"
    client.send("PRIVMSG NickServ :LOGOUT", "PRIVMSG NickServ :IDENTIFY wrongpass")
    assert notices(client.read())[-1] == f"error: {texts.WRONG_LOGIN}"


def test_operators_commands_from_irc() -> None:
    """An operator bans with BAN, kicks with KICK; a banned address is refused."""
    room = harness()
    root = room.registered("root")
    root.send("PRIVMSG NickServ :REGISTER password1")
    root.read()
    bob = room.registered("bob")
    root.send("KICK #lobby bob :enough", "BAN 192.0.2.0/24 1h :spam")
    messages = root.read()
    text = " ".join(str(m.params) for m in messages)
    assert "kicked bob" in text and "192.0.2.0/24" in text
    assert bob.protocol.transport.connected is False
    _, transport = connect(room.irc, "192.0.2.9", 41999)
    assert b"ERROR" in transport.value()
    assert texts.you_are_banned("#lobby", "spam").encode() in transport.value()
