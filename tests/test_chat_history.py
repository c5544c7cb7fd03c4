"""
Tests for L{twisted_tcp.chat.history}: the memory store's bound on rooms, the SQLite
store's batching, trimming and start-up errors, and history across a real restart of
C{twist tcp-chat --history-db}.
"""

from __future__ import annotations

import os
import resource
import socket
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from twisted.internet.task import Clock
from twisted.logger import LogLevel, capturedLogs, formatEvent

from twisted_tcp.chat.history import (
    WRITE_PERIOD,
    HistoryFileError,
    MemoryHistory,
    SQLiteHistory,
)

from .chat_support import ChatHarness, lines, say
from .support import PATIENCE, wait_until
from .twist_support import Twist


def test_memory_history_keeps_rooms_that_emptied() -> None:
    """A room that comes back finds its last messages."""
    store = MemoryHistory(limit=2)
    for line in ("one", "two", "three"):
        store.append("#a", line)
    assert store.load("#a", 2) == ["two", "three"]
    assert store.load("#a", 1) == ["three"]
    assert store.load("#b", 2) == []


def test_memory_history_forgets_the_least_recent_rooms() -> None:
    """Past max_rooms rooms, the one written to least recently is forgotten."""
    store = MemoryHistory(limit=5, max_rooms=2)
    store.append("#a", "a")
    store.append("#b", "b")
    store.append("#a", "a again")
    store.append("#c", "c")
    assert store.load("#b", 5) == []
    assert store.load("#a", 5) == ["a", "a again"]
    assert store.load("#c", 5) == ["c"]


def test_sqlite_history_batches_writes(tmp_path: Path) -> None:
    """Messages are written in one transaction per period, not one per message."""
    clock = Clock()
    store = SQLiteHistory(tmp_path / "h.db", limit=100, clock=clock)
    statements: list[str] = []
    store._db.set_trace_callback(statements.append)
    for n in range(50):
        store.append("#a", f"line {n}")
    assert statements == []
    clock.advance(WRITE_PERIOD)
    assert statements.count("BEGIN") == 1
    assert [s for s in statements if s.startswith("INSERT")] != []
    assert sum(s.startswith("INSERT") for s in statements) == 50  # executemany
    store.close()


def test_sqlite_history_trims_each_room(tmp_path: Path) -> None:
    """The file keeps at most the last N messages of each room."""
    clock = Clock()
    store = SQLiteHistory(tmp_path / "h.db", limit=3, clock=clock)
    for n in range(10):
        store.append("#a", f"a{n}")
        store.append("#b", f"b{n}")
    clock.advance(WRITE_PERIOD)
    assert store.load("#a", 3) == ["a7", "a8", "a9"]
    store.close()
    with sqlite3.connect(tmp_path / "h.db") as db:
        rows = db.execute("SELECT room, COUNT(*) FROM history GROUP BY room")
        assert sorted(rows) == [("#a", 3), ("#b", 3)]


def test_sqlite_history_reads_what_is_not_written_yet(tmp_path: Path) -> None:
    """A load sees messages still waiting for their write."""
    store = SQLiteHistory(tmp_path / "h.db", limit=5, clock=Clock())
    store.append("#a", "pending")
    assert store.load("#a", 5) == ["pending"]
    store.close()


def test_sqlite_history_survives_reopening(tmp_path: Path) -> None:
    """What was closed is there when the file is opened again."""
    store = SQLiteHistory(tmp_path / "h.db", limit=5, clock=Clock())
    store.append("#a", "kept")
    store.close()
    reopened = SQLiteHistory(tmp_path / "h.db", limit=5, clock=Clock())
    assert reopened.load("#a", 5) == ["kept"]
    assert reopened._db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    reopened.close()


def test_corrupt_or_unreachable_file_is_refused(tmp_path: Path) -> None:
    """A file that is not a database, or cannot be made, is an error at once."""
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"\x00garbage" * 1000)
    with pytest.raises(HistoryFileError, match="not a usable history database"):
        SQLiteHistory(garbage, limit=5)
    with pytest.raises(HistoryFileError, match="cannot open"):
        SQLiteHistory(tmp_path / "missing" / "h.db", limit=5)


def test_file_is_locked_for_other_programs_and_has_no_shared_index(
    tmp_path: Path,
) -> None:
    """While the store is open it holds the file's lock, so another program can
    neither write nor read it, and the WAL index is in memory, not in a -shm file."""
    clock = Clock()
    store = SQLiteHistory(tmp_path / "h.db", limit=5, clock=clock)
    store.append("#a", "one")
    clock.advance(WRITE_PERIOD)
    assert not (tmp_path / "h.db-shm").exists()
    other = sqlite3.connect(tmp_path / "h.db", timeout=0)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        other.execute("SELECT line FROM history").fetchall()
    store.close()
    assert other.execute("SELECT line FROM history").fetchall() == [("one",)]
    other.close()


def test_broken_file_is_logged_and_the_chat_goes_on(tmp_path: Path) -> None:
    """A history file that breaks while the server runs costs history, not the
    connection of whoever joins a room: the error is logged, the join completes."""
    database = tmp_path / "h.db"
    chat = ChatHarness(history=5, history_db=database)
    alice, alice_out = chat.join()
    say(alice, "kept")
    chat.clock.advance(WRITE_PERIOD)
    with capturedLogs() as events, disk_full_past(database.with_name("h.db-wal")):
        say(alice, "/join #new", "lost", "/part")
        chat.clock.advance(WRITE_PERIOD)
    assert lines(alice_out)[-4:] == [
        "* you are now in #new; 1 here",
        f"[{chat.stamp()}] <guest-1> lost",
        "* you are now in #lobby; 1 here",
        f"[{chat.stamp()}] <guest-1> kept",
    ]
    assert not alice.transport.disconnected  # type: ignore[attr-defined]
    errors = [
        formatEvent(event) for event in events if event["log_level"] == LogLevel.error
    ]
    assert len(errors) == 1
    assert "1 messages not saved" in errors[0]


@contextmanager
def disk_full_past(path: Path) -> Iterator[None]:
    """Within the block, writes of this process past C{path}'s size fail (EFBIG),
    as they would on a full disk."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (path.stat().st_size, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def chat_lines(sock: socket.socket, until: bytes) -> list[str]:
    """Read from a chat connection until C{until} has arrived; return the lines."""
    received = b""
    while until not in received:
        chunk = sock.recv(4096)
        assert chunk, f"closed before {until!r}: {received!r}"
        received += chunk
    return received.decode().split("\r\n")


def test_history_survives_a_restart(tmp_path: Path, twist_runs: list[Twist]) -> None:
    """With --history-db, a room's history is replayed after the server restarts."""
    database = tmp_path / "history.db"
    argv = ["tcp-chat", "--listen", "tcp:0:interface=127.0.0.1", "--history", "2",
            "--history-db", str(database), "--flood-rate", "0"]  # fmt: skip
    first = Twist(*argv, cwd=tmp_path)
    twist_runs.append(first)
    port = int(first.wait_for_log(r"starting on (\d+)")[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"/join #keep\none\ntwo\nthree\n")
        chat_lines(sock, b"> three\r\n")
    first.terminate()
    second = Twist(*argv, cwd=tmp_path)
    twist_runs.append(second)
    port = int(second.wait_for_log(r"starting on (\d+)")[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"/join #KEEP\n")
        received = chat_lines(sock, b"> three\r\n")
    replayed = [line.split("> ", 1)[1] for line in received if "> " in line]
    assert replayed == ["two", "three"]
    assert "* you are now in #KEEP; 1 here" in received  # Named as first used.
    second.terminate()


def test_files_cut_short_by_another_program_cost_no_connection(
    tmp_path: Path, twist_runs: list[Twist]
) -> None:
    """A running server whose history files are all truncated by another program
    (as C{truncate -s 0 h.db*} does) goes on: no signal ends it, members stay
    connected and their messages still arrive."""
    database = tmp_path / "h.db"
    files = [database, *(database.with_name(f"h.db-{end}") for end in ("wal", "shm"))]
    server = Twist("tcp-chat", "--listen", "tcp:0:interface=127.0.0.1", "--history",
                   "10", "--history-db", str(database), cwd=tmp_path)  # fmt: skip
    twist_runs.append(server)
    port = int(server.wait_for_log(r"starting on (\d+)")[1])
    with (
        socket.create_connection(("127.0.0.1", port), timeout=PATIENCE) as alice,
        socket.create_connection(("127.0.0.1", port), timeout=PATIENCE) as bob,
    ):
        chat_lines(bob, b"Welcome")
        alice.sendall(b"before\n")
        chat_lines(bob, b"> before\r\n")
        wal = database.with_name("h.db-wal")
        wait_until(lambda: wal.exists() and wal.stat().st_size > 0, "the first write")
        for path in files:
            if path.exists():
                os.truncate(path, 0)
        alice.sendall(b"after\n")
        chat_lines(bob, b"> after\r\n")
        wait_until(
            lambda: wal.stat().st_size > 0 or server.process.poll() is not None,
            "the next write",
        )
        alice.sendall(b"still here\n")
        assert "> still here" in "".join(chat_lines(bob, b"> still here\r\n"))
    assert server.process.poll() is None
