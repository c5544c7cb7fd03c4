"""
L{make_chat}: a chat service from its options, whichever backend they name. The
C{tcp-chat} tap and library users build a chat here, and hand it to L{ChatFactory}
(and, as it is a Twisted service, to the application that starts and stops it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from twisted_tcp.chat import texts
from twisted_tcp.chat.history import SQLiteHistory
from twisted_tcp.chat.interfaces import ChatService
from twisted_tcp.chat.names import NICK_PATTERN, nick_key
from twisted_tcp.chat.passwords import PasswordHasher
from twisted_tcp.chat.service import LocalChat
from twisted_tcp.chat.settings import (
    ARRIVAL_GRACE,
    DEFAULT_ANNOUNCE_LIMIT,
    DEFAULT_ROOM,
    DEFAULT_TIMESTAMP_FORMAT,
    ChatSettings,
)
from twisted_tcp.chat.state import NICK_GRACE, Authority, SQLiteState

DEFAULT_CLUSTER = "twisted-tcp"
#: Seconds between two heartbeats of a cluster's node.
DEFAULT_HEARTBEAT = 1.0


def make_chat(
    *,
    encoding: str = "utf-8",
    history: int = 0,
    history_db: str | Path | None = None,
    default_room: str = DEFAULT_ROOM,
    announce_limit: int = DEFAULT_ANNOUNCE_LIMIT,
    motd: str | None = None,
    timestamp_format: str = DEFAULT_TIMESTAMP_FORMAT,
    arrival_grace: float = ARRIVAL_GRACE,
    redis: str | None = None,
    cluster: str = DEFAULT_CLUSTER,
    node_name: str | None = None,
    heartbeat: float = DEFAULT_HEARTBEAT,
    on_refused: Callable[[str], object] = lambda reason: None,
    state_db: str | Path | None = None,
    operators: Iterable[str] = (),
    nick_grace: float = NICK_GRACE,
    hasher: PasswordHasher | None = None,
    reactor: Any = None,
) -> ChatService:
    """
    A chat service: this process's own rooms, or with C{redis} (a C{redis://},
    C{rediss://} or C{unix://} URL) a node of the cluster sharing rooms there.

    @param encoding: the wire encoding of every line.
    @param history: past messages of a room shown to whoever joins it.
    @param history_db: an SQLite file that keeps history across restarts (one
        process only: a cluster keeps history in Redis).
    @param default_room: the room everyone starts in, and returns to with C{/part}.
    @param announce_limit: rooms larger than this sum up joins and leaves instead of
        announcing each; 0 announces always.
    @param motd: text shown to each newcomer, line by line, or C{None}.
    @param timestamp_format: C{time.strftime} format of message timestamps.
    @param arrival_grace: seconds a newcomer's join waits to be announced, so that a
        client naming itself at once is announced under its nick.
    @param cluster: with C{redis}: the cluster's name, the prefix of its keys.
    @param node_name: with C{redis}: this node's name (default: host and pid).
    @param heartbeat: with C{redis}: seconds between two heartbeats of this node.
    @param on_refused: with C{redis}: called with the reason if Redis refuses the
        node (see L{twisted_tcp.chat.cluster.service.RedisChat}).
    @param state_db: an SQLite file that keeps accounts, bans, mutes and room
        operators across restarts (default: memory).
    @param operators: the accounts that are server operators.
    @param nick_grace: seconds whoever takes a registered nick has to identify.
    @param hasher: hashes passwords (default: scrypt in the reactor's threads).
    @param reactor: times, schedules and connects (default: the global reactor,
        imported when first needed).
    @raise ValueError: for options that cannot go together or a bad value, with a
        message fit for a usage error.
    """
    settings = ChatSettings(
        encoding=encoding,
        history=history,
        default_room=default_room,
        announce_limit=announce_limit,
        motd=texts.motd(motd),
        timestamp_format=timestamp_format,
        arrival_grace=arrival_grace,
    )
    accounts = operator_accounts(operators)
    if nick_grace < 0:
        raise ValueError("nick_grace must be >= 0")
    if redis is None:
        store = None
        if history_db is not None:
            # Opened now, so a bad file is a start-up error, not a later failure.
            store = SQLiteHistory(history_db, history, reactor)
        authority = Authority(SQLiteState(state_db), accounts, hasher, nick_grace)
        return LocalChat(
            settings, history_store=store, reactor=reactor, authority=authority
        )
    if history_db is not None:
        raise ValueError("--history-db does not go with --redis: Redis keeps history")
    if state_db is not None:
        raise ValueError("--state-db does not go with --redis")
    from twisted_tcp.chat.cluster.address import parse_redis_url
    from twisted_tcp.chat.cluster.service import RedisChat

    return RedisChat(
        parse_redis_url(redis),
        settings,
        cluster=cluster,
        node_name=node_name,
        heartbeat=heartbeat,
        reactor=reactor,
        on_refused=on_refused,
        operators=accounts,
        hasher=hasher,
        nick_grace=nick_grace,
    )


def operator_accounts(names: Iterable[str]) -> frozenset[str]:
    """
    The accounts (nick keys) of the server operators C{names}.

    @raise ValueError: if one is not a nick, with a message for a usage error.
    """
    return frozenset(map(check_account, names))


def check_account(name: str) -> str:
    """
    The account (a nick key) C{name} names.

    @raise ValueError: if C{name} is not a nick, with a message for a usage error.
    """
    if not NICK_PATTERN.match(name):
        raise ValueError(f"bad account name {name!r}: {texts.NICK_RULE}")
    return nick_key(name)


def read_operators(path: str | Path) -> list[str]:
    """
    The account names in an operators file: one a line; blank lines and lines
    starting with C{#} are skipped.

    @raise ValueError: if it cannot be read, with a message for a usage error.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"cannot read --operators: {error}") from None
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]
