"""
Operators: /claim, /kick, /ban, /unban, /bans, /mute, /unmute, /op, /deop,
/lock and /unlock, each refusal, and what outlives a restart. Written as the
contract suite's tests are, on the one-process backend.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest_twisted
from twisted.internet.defer import maybeDeferred
from twisted.internet.task import deferLater
from twisted.logger import capturedLogs

from tests.support import until
from tests.test_chat_contract import Chat, Member
from twisted_tcp.chat import texts
from twisted_tcp.chat.masks import MASK_RULE


async def room_of(room: Chat, owner: str, name: str) -> Member:
    """A registered member, the owner of room C{name}, in it."""
    member = await room.join(owner)
    member.say("/register password1", f"/join {name}", "/claim")
    await member.lines_until(texts.claimed(owner, name))
    return member


async def enter(member: Member, name: str, population: int, *others: Member) -> None:
    """C{member} joins room C{name}; it and C{others} there read of it."""
    member.say(f"/join {name}")
    await member.lines_until(texts.now_in(name, population))
    for other in others:
        await other.lines_until(texts.joined(member.nick, name))


@pytest_twisted.ensureDeferred
async def test_claim_then_kick(moderated_chat: Any) -> None:
    """
    Only a registered member claims a room, once, never the default room; only its
    operators kick, a member of it; the kicked member is back in the default room.
    """
    room = await moderated_chat()
    bob = await room.join("bob")
    bob.say("/claim", "/kick alice", "/register password1", "/claim")
    assert await bob.lines_until(f"error: {texts.CLAIM_DEFAULT}") == [
        f"error: {texts.NOT_IDENTIFIED}",
        f"error: {texts.NOT_OPERATOR}",
        texts.registered("bob"),
        f"error: {texts.CLAIM_DEFAULT}",
    ]
    await room.join("root")
    alice = await room_of(room, "alice", "#x")
    await enter(bob, "#x", 2, alice)
    bob.say("/claim", "/kick alice")
    assert await bob.lines_until(f"error: {texts.NOT_OPERATOR}") == [
        f"error: {texts.already_claimed('#x', 'alice')}",
        f"error: {texts.NOT_OPERATOR}",
    ]
    alice.say("/kick", "/kick root", "/kick BOB flooding")
    kicked = texts.kicked("alice", "bob", "#x", "flooding")
    assert await alice.lines_until(kicked) == [
        f"error: {texts.KICK_USAGE}",
        f"error: {texts.no_such_nick('root')}",
        texts.left("bob", "#x", "joined #lobby"),
        kicked,
    ]
    assert (await bob.lines_until(texts.now_in("#lobby", 2)))[-2:] == [
        texts.you_were_kicked("alice", "#x", "flooding"),
        texts.now_in("#lobby", 2),
    ]


@pytest_twisted.ensureDeferred
async def test_kick_from_the_default_room_closes(moderated_chat: Any) -> None:
    """A server operator's kick in the default room ends the connection."""
    room = await moderated_chat(operators=["root"])
    root = await room.join("root")
    root.say("/register password1")
    await root.lines_until(texts.registered("root"))
    bob = await room.join("bob")
    root.say("/kick bob")
    gone = texts.left("bob", "#lobby", "kicked by root: no reason given")
    kicked = texts.kicked("root", "bob", "#lobby", texts.NO_REASON)
    assert (await root.lines_until(kicked))[-2:] == [gone, kicked]
    assert await bob.lines_until(
        texts.you_were_kicked("root", "#lobby", texts.NO_REASON)
    )
    assert bob.transport.connected is False


@pytest_twisted.ensureDeferred
async def test_ban_in_a_room_until_it_expires(moderated_chat: Any) -> None:
    """
    /ban sends the match out of the room and keeps it out until it expires;
    /bans lists it; /unban lifts a ban, and says when there is none.
    """
    room = await moderated_chat()
    alice = await room_of(room, "alice", "#x")
    bob = await room.join("bob")
    await enter(bob, "#x", 2, alice)
    alice.say("/ban", "/ban #x", "/ban Bob 1s flooding")
    banned = texts.banned("alice", "bob", "#x", "1s", "flooding")
    assert await alice.lines_until(banned) == [
        f"error: {texts.BAN_USAGE}",
        f"error: {MASK_RULE}",
        texts.left("bob", "#x", "joined #lobby"),
        banned,
    ]
    assert (await bob.lines_until(texts.now_in("#lobby", 1)))[-2:] == [
        f"error: {texts.you_are_banned('#x', 'flooding')}",
        texts.now_in("#lobby", 1),
    ]
    bob.say("/join #x")
    await bob.lines_until(f"error: {texts.you_are_banned('#x', 'flooding')}")
    carol = texts.banned("alice", "account:carol", "#x", None, texts.NO_REASON)
    alice.say("/ban account:carol")
    await alice.lines_until(carol)
    alice.say("/bans")
    lines = await alice.lines_until(texts.bans_header("#x", 2))
    lines += [await alice.next_line(), await alice.next_line()]
    assert lines[2].startswith("*   bob by alice, until ")
    assert lines[:2] == [
        texts.bans_header("#x", 2),
        texts.bans_entry("account:carol", "alice", "for good", texts.NO_REASON),
    ]
    alice.say("/unban account:carol")
    await alice.lines_until(texts.unbanned("alice", "account:carol", "#x"))
    alice.say("/unban account:carol")
    await alice.lines_until(
        f"error: {texts.no_such_restriction('account:carol', '#x')}"
    )
    await deferLater(room.reactor, 1.1, lambda: None)
    await enter(bob, "#x", 2)


@pytest_twisted.ensureDeferred
async def test_address_ban_everywhere_refuses_connections(moderated_chat: Any) -> None:
    """
    A server operator's ban of a network in the default room closes whoever
    matches and refuses new connections from it with one line, mapped or not, each
    counted for --metrics.
    """
    room = await moderated_chat(operators=["ROOT"])
    root = await room.join("root")
    root.say("/register password1")
    await root.lines_until(texts.registered("root"))
    inside = await room.connect("192.0.2.7")
    outside = await room.connect("198.51.100.1")
    root.say("/ban 192.0.2.0/24 1h abuse")
    await root.lines_until(
        texts.banned("root", "192.0.2.0/24", "#lobby", "1h", "abuse")
    )
    await inside.has(f"error: {texts.you_are_banned('#lobby', 'abuse')}")
    assert inside.transport.connected is False
    assert outside.transport.connected
    refused = f"error: {texts.you_are_banned('#lobby', 'abuse')}"
    for host in ("192.0.2.9", "::ffff:192.0.2.10"):
        member = Member(room.reactor, room.factory, host)
        assert member.all_lines() == [refused]
        assert member.transport.connected is False
    assert room.factory.counters.refused_ban == 2
    assert await room.connect("198.51.100.2")


@pytest_twisted.ensureDeferred
async def test_account_ban_everywhere_closes_on_identify(moderated_chat: Any) -> None:
    """A banned account is sent out as soon as it identifies."""
    room = await moderated_chat(operators=["root"])
    mallory = await room.join("mallory")
    mallory.say("/register password1", "/logout", "/nick someone")
    await mallory.lines_until(texts.renamed("mallory", "someone"))
    root = await room.join("root")
    root.say("/register password1", "/ban account:mallory spam")
    await root.lines_until(
        texts.banned("root", "account:mallory", "#lobby", None, "spam")
    )
    mallory.say("/identify mallory password1")
    await mallory.has(f"error: {texts.you_are_banned('#lobby', 'spam')}")
    assert mallory.transport.connected is False


@pytest_twisted.ensureDeferred
async def test_mute_and_unmute(moderated_chat: Any) -> None:
    """A muted member reads but cannot post; /unmute lets it post again."""
    room = await moderated_chat()
    alice = await room_of(room, "alice", "#x")
    bob = await room.join("bob", "192.0.2.1")
    await enter(bob, "#x", 2, alice)
    alice.say("/mute bob forever", "/mute bob 10m")
    assert (await alice.lines_until(texts.muted("alice", "bob", "#x", "10m")))[-2:] == [
        f"error: {texts.MUTE_USAGE}",
        texts.muted("alice", "bob", "#x", "10m"),
    ]
    bob.say("hello", "/me waves")
    alice.say("can you hear me")
    assert (await bob.lines_until(texts.said("T", "alice", "can you hear me")))[
        -3:
    ] == [
        f"error: {texts.you_are_muted('#x')}",
        f"error: {texts.you_are_muted('#x')}",
        texts.said("T", "alice", "can you hear me"),
    ]
    alice.say("/unmute bob")
    await bob.lines_until(texts.unmuted("alice", "bob", "#x"))
    alice.say("/unmute bob")
    await alice.lines_until(f"error: {texts.no_such_restriction('bob', '#x')}")
    bob.say("thanks")
    await alice.lines_until(texts.said("T", "bob", "thanks"))


@pytest_twisted.ensureDeferred
async def test_op_deop_and_the_topic_lock(moderated_chat: Any) -> None:
    """
    Only identified members are made operators; a locked topic is set by
    operators only; /deop takes it back.
    """
    room = await moderated_chat()
    alice = await room_of(room, "alice", "#x")
    bob = await room.join("bob")
    await enter(bob, "#x", 2, alice)
    alice.say("/op", "/op bob", "/lock")
    assert (await alice.lines_until(texts.topic_lock("alice", "#x", True)))[-3:] == [
        f"error: {texts.OP_USAGE}",
        f"error: {texts.not_identified_as_operator('bob')}",
        texts.topic_lock("alice", "#x", True),
    ]
    bob.say("/topic mine", "/register password1")
    assert (await bob.lines_until(texts.registered("bob")))[-2:] == [
        f"error: {texts.TOPIC_LOCKED}",
        texts.registered("bob"),
    ]
    alice.say("/op bob")
    await bob.lines_until(texts.opped("alice", "bob", "#x"))
    bob.say("/topic mine", "/deop alice")
    assert (await bob.lines_until(texts.deopped("bob", "alice", "#x")))[-2:] == [
        texts.topic_set("bob", "#x", "mine"),
        texts.deopped("bob", "alice", "#x"),
    ]
    alice.say("/unlock")
    await alice.lines_until(f"error: {texts.NOT_OPERATOR}")


@pytest_twisted.ensureDeferred
async def test_server_operators_outrank_room_operators(moderated_chat: Any) -> None:
    """A room operator cannot act on a server operator, who operates everywhere."""
    room = await moderated_chat(operators=["root"])
    alice = await room_of(room, "alice", "#x")
    root = await room.join("root")
    root.say("/register password1", "/join #x")
    await root.lines_until(texts.now_in("#x", 2))
    alice.say("/kick root", "/mute root")
    assert (await alice.lines_until(f"error: {texts.server_operator('root')}"))[
        -1:
    ] == [f"error: {texts.server_operator('root')}"]
    root.say("/kick alice")
    await root.lines_until(texts.kicked("root", "alice", "#x", texts.NO_REASON))


@pytest_twisted.ensureDeferred
async def test_help_shows_operators_their_commands(moderated_chat: Any) -> None:
    """/help lists the operators' commands to operators of the room only."""
    room = await moderated_chat()
    alice = await room_of(room, "alice", "#x")
    bob = await room.join("bob")
    bob.say("/help")
    assert texts.HELP_OPERATORS[0] not in await bob.lines_until(texts.HELP_ACCOUNTS[-1])
    alice.say("/help")
    assert (await alice.lines_until(texts.HELP_OPERATORS[-1]))[
        -len(texts.HELP_OPERATORS) :
    ] == list(texts.HELP_OPERATORS)


@pytest_twisted.ensureDeferred
async def test_actions_logged_as_events(moderated_chat: Any) -> None:
    """Each action is logged with its actor, target, room, reason and expiry."""
    room = await moderated_chat()
    alice = await room_of(room, "alice", "#x")
    with capturedLogs() as events:
        alice.say("/ban account:eve 2h spam")
        await alice.lines_until(
            texts.banned("alice", "account:eve", "#x", "2h", "spam")
        )
    [event] = [e for e in events if e.get("event") == "moderation"]
    assert {key: event[key] for key in ("actor", "target", "room", "reason")} == {
        "actor": "alice",
        "target": "account:eve",
        "room": "#x",
        "reason": "spam",
    }
    assert 7000 < event["expiry"] - room.reactor.seconds() <= 7200


@pytest_twisted.ensureDeferred
async def test_accounts_and_bans_survive_a_restart(
    moderated_chat: Any, tmp_path: Path
) -> None:
    """With a state file, a chat started anew knows its accounts and bans."""
    state = tmp_path / "state.db"
    first = await moderated_chat(state_db=state, operators=["root"])
    root = await first.join("root")
    root.say("/register password1", "/ban 203.0.113.0/24 spam")
    await root.lines_until(
        texts.banned("root", "203.0.113.0/24", "#lobby", None, "spam")
    )
    first.chat.shutdown()
    again = await moderated_chat(state_db=state, operators=["root"])
    # A node loads them from Redis as it starts.
    await until(again.reactor, lambda: again.chat.refusal("203.0.113.5") is not None)
    member = Member(again.reactor, again.factory, "203.0.113.5")
    assert member.all_lines() == [f"error: {texts.you_are_banned('#lobby', 'spam')}"]
    root = await again.join("root")
    root.say("/identify password1", "/bans")
    assert (await root.lines_until(texts.bans_header("#lobby", 1)))[-2:] == [
        texts.identified("root"),
        texts.bans_header("#lobby", 1),
    ]


@pytest_twisted.ensureDeferred
async def test_a_ban_on_one_node_holds_on_another(
    reactor: Any, redis_server: Any
) -> None:
    """
    On a cluster, an account registered on node A logs in on node B, and a ban
    set on A sends out B's matching members and refuses B's connections.
    """
    from twisted_tcp.chat.passwords import Cost, PasswordHasher

    nodes = []
    for name in "ab":
        node = Chat(
            reactor,
            redis_server.url,
            node_name=name,
            operators=["root"],
            hasher=PasswordHasher(reactor, cost=Cost(16, 1, 1)),
        )
        node.chat.startService()
        nodes.append(node)
    a, b = nodes
    try:
        await until(
            reactor, lambda: all(getattr(n.chat, "available", 0) for n in nodes)
        )
        root = await a.join("root")
        root.say("/register password1")
        await root.lines_until(texts.registered("root"))
        again = await b.join("rooted")
        again.say("/identify root password1")
        await again.lines_until(texts.identified("root"))
        victim = await b.connect("192.0.2.44")
        root.say("/ban 192.0.2.0/24 spam")
        await victim.has(f"error: {texts.you_are_banned('#lobby', 'spam')}")
        await until(reactor, lambda: victim.transport.connected is False)
        refused = Member(reactor, b.factory, "192.0.2.45")
        assert refused.all_lines() == [
            f"error: {texts.you_are_banned('#lobby', 'spam')}"
        ]
    finally:
        for node in nodes:
            for member in node.members:
                member.transport.loseConnection()
            node.chat.shutdown()
            await maybeDeferred(node.chat.stopService)
