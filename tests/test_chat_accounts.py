"""
Registered nicks: /register, /identify, /logout, /password, the guard of a
registered nick, and the slowing of guessed passwords. Written as the contract
suite's tests are, on the one-process backend.
"""

from __future__ import annotations

from typing import Any

import pytest_twisted

from tests.support import until
from twisted_tcp.chat import texts
from twisted_tcp.chat.passwords import (
    FREE_FAILURES,
    PASSWORD_RULE,
    Cost,
)

#: A cheap cost, so that the tests hash quickly.
CHEAP = Cost(n=16, r=1, p=1)


@pytest_twisted.ensureDeferred
async def test_register_then_identify(moderated_chat: Any) -> None:
    """
    A guest cannot register; a chosen nick can, once; whoever takes it later is
    asked to identify, and a wrong password and an unknown account read the same.
    """
    room = await moderated_chat()
    guest = await room.connect()
    first = guest.nick
    await guest.lines_until(texts.welcome(first))
    guest.say("/register password1", "/nick alice", "/register", "/register short")
    assert await guest.lines_until(f"error: {PASSWORD_RULE}") == [
        f"error: {texts.GUEST_NICK}",
        texts.renamed(first, "alice"),
        f"error: {texts.REGISTER_USAGE}",
        f"error: {PASSWORD_RULE}",
    ]
    guest.say("/register password1", "/register password1")
    assert await guest.lines_until(f"error: {texts.already_registered('alice')}") == [
        texts.registered("alice"),
        f"error: {texts.already_registered('alice')}",
    ]
    guest.say("/quit")
    await guest.lines_until(texts.BYE)
    again = await room.connect()
    again.say("/nick Alice")
    assert (await again.lines_until(texts.nick_registered("Alice", 30)))[-1:] == [
        texts.nick_registered("Alice", 30)
    ]
    again.say("/identify wrongpass", "/identify nobody password1")
    again.say("/identify password1", "/identify password1")
    assert await again.lines_until(f"error: {texts.already_identified('Alice')}") == [
        f"error: {texts.WRONG_LOGIN}",
        f"error: {texts.WRONG_LOGIN}",
        texts.identified("Alice"),
        f"error: {texts.already_identified('Alice')}",
    ]


@pytest_twisted.ensureDeferred
async def test_unidentified_holder_renamed_after_the_grace(moderated_chat: Any) -> None:
    """Whoever holds a registered nick without identifying is renamed, told why."""
    room = await moderated_chat(nick_grace=0.2)
    alice = await room.join("alice")
    alice.say("/register password1", "/logout")
    assert await alice.lines_until(texts.nick_registered("alice", 0.2)) == [
        texts.registered("alice"),
        texts.LOGGED_OUT,
        texts.nick_registered("alice", 0.2),
    ]
    assert (await alice.lines_until(texts.renamed_unidentified("alice")))[-1:] == [
        texts.renamed_unidentified("alice")
    ]
    await until(room.reactor, lambda: alice.nick.startswith("guest-"))
    await alice.has(texts.renamed("alice", alice.nick))


@pytest_twisted.ensureDeferred
async def test_identify_with_a_nick_takes_it(moderated_chat: Any) -> None:
    """/identify NICK PASSWORD: the nick comes back from whoever holds it."""
    room = await moderated_chat()
    alice = await room.join("alice")
    alice.say("/register password1", "/quit")
    await alice.lines_until(texts.BYE)
    squatter = await room.join("alice")
    owner = await room.join("owner")
    owner.say("/identify ALICE password1")
    await owner.lines_until(texts.renamed("owner", "ALICE"))
    assert owner.nick == "ALICE"
    assert squatter.nick.startswith("guest-")
    await squatter.has(texts.renamed_unidentified("alice"))


@pytest_twisted.ensureDeferred
async def test_logout_and_password(moderated_chat: Any) -> None:
    """/logout and /password need an identified member; a new password works."""
    room = await moderated_chat()
    alice = await room.join("alice")
    alice.say("/logout", "/password a b", "/password x")
    assert await alice.lines_until(f"error: {texts.PASSWORD_USAGE}") == [
        f"error: {texts.NOT_IDENTIFIED}",
        f"error: {texts.NOT_IDENTIFIED}",
        f"error: {texts.PASSWORD_USAGE}",
    ]
    alice.say("/register password1", "/password wrongpass password2")
    alice.say("/password password1 password2", "/logout", "/identify password1")
    alice.say("/identify password2")
    assert await alice.lines_until(texts.identified("alice")) == [
        texts.registered("alice"),
        f"error: {texts.WRONG_LOGIN}",
        texts.PASSWORD_CHANGED,
        texts.LOGGED_OUT,
        texts.nick_registered("alice", 30),
        f"error: {texts.WRONG_LOGIN}",
        texts.identified("alice"),
    ]


@pytest_twisted.ensureDeferred
async def test_a_thousand_guesses_are_slowed(moderated_chat: Any) -> None:
    """
    1,000 wrong passwords from one address: after FREE_FAILURES, each must wait
    twice as long as the last, so nearly all are refused without hashing.
    """
    room = await moderated_chat()
    alice = await room.join("alice")
    alice.say("/register password1", "/quit")
    await alice.lines_until(texts.BYE)
    guesser = await room.connect()
    guesser.say(*(f"/identify alice guess{n:05}" for n in range(1000)))

    def errors() -> list[str]:
        return [line for line in guesser.all_lines() if line.startswith("error: ")]

    await until(room.reactor, lambda: len(errors()) >= 1000)
    wrong = errors().count(f"error: {texts.WRONG_LOGIN}")
    # Another FREE_FAILURES + n guesses take 2 ** n - 1 seconds.
    assert FREE_FAILURES <= wrong <= FREE_FAILURES + 10
    slowed = [line for line in errors() if line.startswith("error: too many")]
    assert len(slowed) == 1000 - wrong


@pytest_twisted.ensureDeferred
async def test_hashing_never_blocks_the_reactor(moderated_chat: Any) -> None:
    """
    While guesses from 30 addresses are hashed (at full cost), another member's
    lines are all served: the hashes run off the reactor thread.
    """
    room = await moderated_chat(hasher=None)
    alice = await room.join("alice")
    guessers = [await room.connect(f"192.0.2.{n}") for n in range(30)]
    for guesser in guessers:
        guesser.say("/identify alice password1")
    alice.say(*(f"line {n}" for n in range(50)))
    await alice.has(texts.said("T", "alice", "line 49"))
    answered = [g for g in guessers if f"error: {texts.WRONG_LOGIN}" in g.all_lines()]
    assert len(answered) < len(guessers)
    for guesser in guessers:
        await guesser.has(f"error: {texts.WRONG_LOGIN}")
