"""The SQLite state store: accounts, bans, mutes, room operators, its schema."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.defer import Deferred

from twisted_tcp.chat.state import SCHEMA_VERSION, Restriction, SQLiteState


def result(deferred: Deferred[Any]) -> object:
    """The result of a Deferred that has fired."""
    results: list[object] = []
    deferred.addBoth(results.append)
    assert results
    return results[0]


def test_accounts() -> None:
    """An account is created once; its hash is read and changed."""
    state = SQLiteState()
    assert result(state.account_hash("alice")) is None
    assert result(state.create_account("alice", "h1")) is True
    assert result(state.create_account("alice", "h2")) is False
    result(state.set_hash("alice", "h3"))
    assert result(state.account_hash("alice")) == "h3"


def test_restrictions_operators_and_rooms() -> None:
    """Bans and mutes per room and mask (a new one replaces); ops; claims; locks."""
    state = SQLiteState()
    ban = Restriction("ban", "#x", "bob", None, "spam", "alice")
    state.restrict(ban)
    state.restrict(Restriction("ban", "#x", "bob", 10.0, "again", "alice"))
    assert state.restrictions("ban", "#x") == [
        Restriction("ban", "#x", "bob", 10.0, "again", "alice")
    ]
    assert state.restrictions("mute", "#x") == []
    assert state.lift("ban", "#x", "bob") and not state.lift("ban", "#x", "bob")
    assert state.claim("#x", "alice") and not state.claim("#x", "bob")
    assert state.owner("#x") == "alice"
    assert state.operators("#x") == {"alice"}
    assert state.set_operator("#x", "bob", True)
    assert not state.set_operator("#x", "bob", True)
    assert state.set_operator("#x", "alice", False)
    assert state.operators("#x") == {"bob"}
    state.lock_topic("#x", True)
    assert state.topic_locked("#x") and not state.topic_locked("#y")


def test_everything_survives_a_restart(tmp_path: Path) -> None:
    """What a state file holds is there again when it is opened anew."""
    path = tmp_path / "state.db"
    state = SQLiteState(path)
    result(state.create_account("alice", "hash"))
    state.restrict(Restriction("mute", "#lobby", "192.0.2.0/24", None, "", "alice"))
    state.claim("#x", "alice")
    state.lock_topic("#x", True)
    state.close()
    again = SQLiteState(path)
    assert result(again.account_hash("alice")) == "hash"
    assert again.restrictions("mute", "#lobby")[0].mask == "192.0.2.0/24"
    assert again.owner("#x") == "alice" and again.operators("#x") == {"alice"}
    assert again.topic_locked("#x")


def test_schema_versioned(tmp_path: Path) -> None:
    """A file is stamped with its schema; one of a newer schema is refused."""
    path = tmp_path / "state.db"
    SQLiteState(path).close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(ValueError, match="newer"):
        SQLiteState(path)


def test_unopenable_file_refused(tmp_path: Path) -> None:
    """A file that cannot be a database is a one-line error."""
    (tmp_path / "junk").write_bytes(b"not a database" * 100)
    with pytest.raises(ValueError, match="cannot open state database"):
        SQLiteState(tmp_path / "junk")
