"""
Where accounts, bans, mutes and room operators live: the L{ChatState} interface,
and L{SQLiteState}, its one-process implementation in an SQLite file
(C{--state-db FILE}; in memory without one).

Bans, mutes, room operators and room settings are read on every line a member
sends, so a state keeps them all in memory, in step with where they are stored,
and answers those questions without waiting; accounts are looked up only to log
in, and may answer later (a C{Deferred}).
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal, Protocol

from twisted.internet.defer import Deferred, succeed

from twisted_tcp.chat.passwords import PasswordHasher

#: Seconds whoever takes a registered nick has to identify before being renamed.
NICK_GRACE: Final = 30.0
#: The version of the schema below, in the database's C{user_version}.
SCHEMA_VERSION: Final = 1
_SCHEMA: Final = """
CREATE TABLE accounts (
    name TEXT PRIMARY KEY,
    hash TEXT NOT NULL
);
CREATE TABLE restrictions (
    kind TEXT NOT NULL,
    room TEXT NOT NULL,
    mask TEXT NOT NULL,
    expires REAL,
    reason TEXT NOT NULL,
    actor TEXT NOT NULL,
    PRIMARY KEY (kind, room, mask)
);
CREATE TABLE operators (
    room TEXT NOT NULL,
    account TEXT NOT NULL,
    PRIMARY KEY (room, account)
);
CREATE TABLE rooms (
    room TEXT PRIMARY KEY,
    owner TEXT,
    topic_locked INTEGER NOT NULL DEFAULT 0
);
"""

RestrictionKind = Literal["ban", "mute"]


@dataclass(frozen=True)
class Restriction:
    """
    A ban or a mute.

    @ivar room: the key of the room it holds in (the default room's: everywhere).
    @ivar mask: the canonical text of its L{twisted_tcp.chat.masks.Mask}.
    @ivar expires: when it ends (seconds since the epoch), or C{None}: never.
    @ivar actor: the nick of the operator who set it.
    """

    kind: RestrictionKind
    room: str
    mask: str
    expires: float | None
    reason: str
    actor: str


class ChatState(Protocol):
    """What the chat keeps of who is who and who may do what, beyond restarts."""

    def account_hash(self, name: str) -> Deferred[str | None]:
        """The stored password hash of account C{name} (a nick key), or C{None}."""

    def create_account(self, name: str, hashed: str) -> Deferred[bool]:
        """Register C{name}; C{False} if it already is."""

    def set_hash(self, name: str, hashed: str) -> Deferred[None]:
        """Change the password hash of account C{name}."""

    def restrictions(self, kind: RestrictionKind, room: str) -> list[Restriction]:
        """The bans or mutes of C{room}, expired ones included."""

    def restrict(self, restriction: Restriction) -> None:
        """Add a ban or mute (replacing one of the same mask in that room)."""

    def lift(self, kind: RestrictionKind, room: str, mask: str) -> bool:
        """Remove a ban or mute; C{False} if there was none."""

    def operators(self, room: str) -> frozenset[str]:
        """The accounts that are operators of C{room}."""

    def set_operator(self, room: str, account: str, operator: bool) -> bool:
        """Make C{account} an operator of C{room} or not; C{False} if it was so."""

    def claim(self, room: str, account: str) -> bool:
        """Make C{account} the owner and an operator of C{room}, if it has none."""

    def owner(self, room: str) -> str | None:
        """Who claimed C{room}, or C{None}."""

    def topic_locked(self, room: str) -> bool:
        """Whether only operators may set C{room}'s topic."""

    def lock_topic(self, room: str, locked: bool) -> None:
        """Lock or unlock C{room}'s topic."""

    def close(self) -> None:
        """Let go of the storage."""


class MemoryRecords:
    """
    The bans, mutes, room owners, operators and topic locks a state keeps in
    memory, and the questions about them it answers from there.
    """

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        """Forget every record (before loading them anew)."""
        self._restrictions: dict[tuple[str, str], dict[str, Restriction]] = defaultdict(
            dict
        )
        self._operators: dict[str, set[str]] = defaultdict(set)
        self._owners: dict[str, str] = {}
        self._locked: set[str] = set()

    def _all(self, kind: RestrictionKind) -> list[Restriction]:
        return [
            each
            for (each_kind, _), masks in self._restrictions.items()
            if each_kind == kind
            for each in masks.values()
        ]

    def remember(self, restriction: Restriction) -> None:
        key = (restriction.kind, restriction.room)
        self._restrictions[key][restriction.mask] = restriction

    def forget(self, kind: RestrictionKind, room: str, mask: str) -> bool:
        return self._restrictions[kind, room].pop(mask, None) is not None

    def remember_operator(self, room: str, account: str, operator: bool) -> bool:
        """Record that C{account} is an operator of C{room} or not; if it changed."""
        current = self._operators[room]
        if (account in current) == operator:
            return False
        if operator:
            current.add(account)
        else:
            current.discard(account)
        return True

    def remember_owner(self, room: str, account: str) -> None:
        self._owners[room] = account

    def remember_lock(self, room: str, locked: bool) -> None:
        if locked:
            self._locked.add(room)
        else:
            self._locked.discard(room)

    def restrictions(self, kind: RestrictionKind, room: str) -> list[Restriction]:
        return list(self._restrictions.get((kind, room), {}).values())

    def operators(self, room: str) -> frozenset[str]:
        return frozenset(self._operators.get(room, ()))

    def owner(self, room: str) -> str | None:
        return self._owners.get(room)

    def topic_locked(self, room: str) -> bool:
        return room in self._locked


class SQLiteState(MemoryRecords):
    """
    L{ChatState} in an SQLite file, which keeps it across restarts (one process:
    a cluster keeps it in Redis), or in memory (C{path} C{None}).

    @raise ValueError: if the file cannot be opened or is of a newer schema.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        super().__init__()
        try:
            self._db = sqlite3.connect(":memory:" if path is None else str(path))
            self._migrate()
        except sqlite3.Error as error:
            raise ValueError(f"cannot open state database {path}: {error}") from None
        self._load()

    def _migrate(self) -> None:
        (version,) = self._db.execute("PRAGMA user_version").fetchone()
        if version > SCHEMA_VERSION:
            raise sqlite3.DatabaseError(
                f"schema {version} is newer than this version's {SCHEMA_VERSION}"
            )
        if version == 0:
            with self._db:
                self._db.executescript(_SCHEMA)
                self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _load(self) -> None:
        for row in self._db.execute(
            "SELECT kind, room, mask, expires, reason, actor FROM restrictions"
        ):
            self.remember(Restriction(*row))
        for room, account in self._db.execute("SELECT room, account FROM operators"):
            self.remember_operator(room, account, True)
        for room, owner, locked in self._db.execute("SELECT * FROM rooms"):
            if owner is not None:
                self.remember_owner(room, owner)
            self.remember_lock(room, bool(locked))

    def account_hash(self, name: str) -> Deferred[str | None]:
        row = self._db.execute(
            "SELECT hash FROM accounts WHERE name = ?", (name,)
        ).fetchone()
        return succeed(None if row is None else row[0])

    def create_account(self, name: str, hashed: str) -> Deferred[bool]:
        with self._db:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO accounts VALUES (?, ?)", (name, hashed)
            )
        return succeed(cursor.rowcount == 1)

    def set_hash(self, name: str, hashed: str) -> Deferred[None]:
        with self._db:
            self._db.execute(
                "UPDATE accounts SET hash = ? WHERE name = ?", (hashed, name)
            )
        return succeed(None)

    def restrict(self, restriction: Restriction) -> None:
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO restrictions VALUES (?, ?, ?, ?, ?, ?)",
                (
                    restriction.kind,
                    restriction.room,
                    restriction.mask,
                    restriction.expires,
                    restriction.reason,
                    restriction.actor,
                ),
            )
        self.remember(restriction)

    def lift(self, kind: RestrictionKind, room: str, mask: str) -> bool:
        with self._db:
            self._db.execute(
                "DELETE FROM restrictions WHERE kind = ? AND room = ? AND mask = ?",
                (kind, room, mask),
            )
        return self.forget(kind, room, mask)

    def set_operator(self, room: str, account: str, operator: bool) -> bool:
        if not self.remember_operator(room, account, operator):
            return False
        with self._db:
            if operator:
                self._db.execute("INSERT INTO operators VALUES (?, ?)", (room, account))
            else:
                self._db.execute(
                    "DELETE FROM operators WHERE room = ? AND account = ?",
                    (room, account),
                )
        return True

    def claim(self, room: str, account: str) -> bool:
        if self.owner(room) is not None:
            return False
        with self._db:
            self._db.execute(
                "INSERT INTO rooms (room, owner) VALUES (?, ?) ON CONFLICT (room)"
                " DO UPDATE SET owner = excluded.owner",
                (room, account),
            )
        self.remember_owner(room, account)
        self.set_operator(room, account, True)
        return True

    def lock_topic(self, room: str, locked: bool) -> None:
        with self._db:
            self._db.execute(
                "INSERT INTO rooms (room, topic_locked) VALUES (?, ?) ON CONFLICT"
                " (room) DO UPDATE SET topic_locked = excluded.topic_locked",
                (room, int(locked)),
            )
        self.remember_lock(room, locked)

    def close(self) -> None:
        self._db.close()


@dataclass
class Authority:
    """
    Who is who and who may do what, as a chat is told at its start.

    @ivar state: where accounts, bans, mutes and room operators are kept.
    @ivar operators: the accounts (nick keys) that are server operators: operators
        of every room, and the only ones of the default room unless they make more.
    @ivar hasher: hashes passwords (default: scrypt in the chat reactor's threads).
    @ivar nick_grace: seconds whoever takes a registered nick has to identify.
    """

    state: ChatState = field(default_factory=SQLiteState)
    operators: frozenset[str] = frozenset()
    hasher: PasswordHasher | None = None
    nick_grace: float = NICK_GRACE
