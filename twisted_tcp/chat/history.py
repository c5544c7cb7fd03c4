"""
Where each room's recent messages are kept for newcomers (C{--history N}).

A room holds its last N messages in memory while it exists, for replay without a
query. A L{HistoryStore} is what keeps them beyond that: L{MemoryHistory} for rooms
that emptied and came back, L{SQLiteHistory} in an SQLite file, so they also survive
a restart (C{--history-db FILE}).
"""

from __future__ import annotations

import sqlite3
import time
from collections import OrderedDict, deque
from pathlib import Path
from typing import Final, Protocol

from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

#: Rooms whose history L{MemoryHistory} keeps.
MAX_MEMORY_ROOMS: Final = 1000
#: Seconds between two writes of new messages to the database: messages are written
#: in one transaction per period, never one per message on the reactor thread.
WRITE_PERIOD: Final = 0.2
_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    room TEXT NOT NULL,
    line TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS history_room ON history (room, id);
"""


class HistoryStore(Protocol):
    """Keeps rooms' messages beyond the life of the L{Room} objects."""

    def load(self, room: str, limit: int) -> list[str]:
        """The last C{limit} messages of room C{room} (a room key), oldest first."""

    def append(self, room: str, line: str) -> None:
        """Keep one more message of C{room}."""

    def close(self) -> None:
        """Write what is pending and let go of the storage."""


class MemoryHistory:
    """
    History in this process's memory, kept for rooms that emptied too (a room that
    comes back finds its messages), for at most C{max_rooms} rooms: the rooms
    written to least recently are forgotten first, so creating rooms cannot grow
    the server's memory without bound.
    """

    def __init__(self, limit: int, max_rooms: int = MAX_MEMORY_ROOMS) -> None:
        self.limit = limit
        self.max_rooms = max_rooms
        self._rooms: OrderedDict[str, deque[str]] = OrderedDict()

    def load(self, room: str, limit: int) -> list[str]:
        return list(self._rooms.get(room, ()))[-limit:] if limit else []

    def append(self, room: str, line: str) -> None:
        lines = self._rooms.pop(room, None)
        if lines is None:
            lines = deque(maxlen=self.limit)
            if len(self._rooms) >= self.max_rooms:
                self._rooms.popitem(last=False)
        lines.append(line)
        self._rooms[room] = lines

    def close(self) -> None:
        self._rooms.clear()


class HistoryFileError(OSError):
    """The history database cannot be opened or is not one of ours."""


class SQLiteHistory:
    """
    Rooms' messages in an SQLite file (WAL mode), at most C{limit} per room.

    New messages are collected and written in one transaction every L{WRITE_PERIOD}
    seconds, so the reactor never waits on the disk per message; a crash loses at
    most that period's messages. C{synchronous=NORMAL} is the WAL setting that keeps
    the file consistent across a crash without a sync per transaction.

    The file is opened in exclusive locking mode and without memory mapping: the
    store holds the file's lock from start-up to shutdown, so no other program can
    write to it meanwhile (nor read it), the WAL index lives in this process's
    memory rather than in a shared C{-shm} file, and every access is a plain read
    or write. What another program does to the files (truncate, delete, replace)
    can then fail a query, never stop the process with a signal: such a failure
    is logged and costs history only, never a member's connection.

    @param clock: schedules the writes; the global reactor unless given.
    @raise HistoryFileError: when the file cannot be created, opened, locked or
        written, or is not an SQLite database: a start-up error, not a failure later.
    """

    log = Logger()

    def __init__(
        self, path: str | Path, limit: int, clock: IReactorTime | None = None
    ) -> None:
        self.path = Path(path)
        self.limit = limit
        self.clock = clock
        self._pending: list[tuple[str, str]] = []
        self._write: IDelayedCall | None = None
        #: Transactions written, and the seconds they took (for C{--metrics}).
        self.writes = 0
        self.write_seconds = 0.0
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None)
        except sqlite3.Error as error:
            raise HistoryFileError(
                f"cannot open the history database {self.path}: {error}"
            ) from None
        try:
            # Both before the first access: the WAL index then never goes to -shm.
            self._db.execute("PRAGMA locking_mode=EXCLUSIVE")
            self._db.execute("PRAGMA mmap_size=0")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            # Take the lock for good now, and fail now if the file cannot be written.
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("COMMIT")
        except sqlite3.Error as error:
            self._db.close()
            raise HistoryFileError(
                f"{self.path} is not a usable history database ({error})"
            ) from None

    def load(self, room: str, limit: int) -> list[str]:
        try:
            rows = self._db.execute(
                "SELECT line FROM history WHERE room = ? ORDER BY id DESC LIMIT ?",
                (room, limit),
            ).fetchall()
        except sqlite3.Error as error:
            self.log.error(
                "history: cannot read {room} from {path}: {error}",
                room=room,
                path=str(self.path),
                error=str(error),
            )
            rows = []
        lines = [line for (line,) in reversed(rows)]
        lines += [line for key, line in self._pending if key == room]
        return lines[-limit:] if limit else []

    def append(self, room: str, line: str) -> None:
        self._pending.append((room, line))
        self._schedule_write()

    def _schedule_write(self) -> None:
        if self._write is None:
            if self.clock is None:
                from twisted.internet import reactor

                self.clock = reactor
            assert self.clock is not None
            self._write = self.clock.callLater(WRITE_PERIOD, self._write_pending)

    def _write_pending(self) -> None:
        """Write the collected messages in one transaction and trim each room."""
        if self._write is not None and self._write.active():
            self._write.cancel()
        self._write = None
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        rooms = {room for room, _ in pending}
        started = time.perf_counter()
        try:
            with self._db:
                self._db.execute("BEGIN")
                self._db.executemany(
                    "INSERT INTO history (room, line) VALUES (?, ?)", pending
                )
                for room in rooms:
                    self._db.execute(
                        "DELETE FROM history WHERE room = ? AND id <= ("
                        " SELECT id FROM history WHERE room = ?"
                        " ORDER BY id DESC LIMIT 1 OFFSET ?)",
                        (room, room, self.limit),
                    )
        except sqlite3.Error as error:
            self._not_saved(len(pending), error)
        self.writes += 1
        self.write_seconds += time.perf_counter() - started

    def _not_saved(self, count: int, error: object) -> None:
        self.log.error(
            "history: {count} messages not saved to {path}: {error}",
            count=count,
            path=str(self.path),
            error=str(error),
        )

    def close(self) -> None:
        self._write_pending()
        self._db.close()
