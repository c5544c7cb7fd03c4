"""
C{twist tcp-chat}: the chat server (docs/chat-protocol.md).
"""

from __future__ import annotations

import atexit
import os
import sys
from dataclasses import replace
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from twisted.application.service import IService, MultiService, Service
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.python import usage

from twisted_tcp._checks import (
    non_negative_int,
    positive_int,
    positive_seconds,
    rate,
)
from twisted_tcp._listen import on_every_address
from twisted_tcp._workers import worker_number
from twisted_tcp.chat import (
    DEFAULT_ANNOUNCE_LIMIT,
    DEFAULT_FLOOD_BURST,
    DEFAULT_FLOOD_RATE,
    DEFAULT_MAX_LINE,
    DEFAULT_MAX_SEND_QUEUE,
    DEFAULT_ROOM,
    DEFAULT_TIMESTAMP_FORMAT,
    ChatFactory,
    make_chat,
    texts,
)
from twisted_tcp.chat.build import operator_accounts, read_operators
from twisted_tcp.chat.irc import IRCFactory
from twisted_tcp.chat.state import NICK_GRACE
from twisted_tcp.chat.web import chat_site, parse_origin
from twisted_tcp.tap._common import (
    ServerOptions,
    StartError,
    checked_endpoints,
    make_server_service,
    server_parameters,
    supervised,
)

#: A message of the day larger than this is surely a mistake.
MAX_MOTD_BYTES = 64 * 1024
#: The exit status of a node that Redis refused (see L{_stop_refused}).
EXIT_REFUSED = 1


class Options(ServerOptions):
    """Options of C{twist tcp-chat}."""

    synopsis = "[options]"
    longdesc = (
        "A chat server with rooms: every line goes to everyone in the sender's room,"
        " with a timestamp and nick. The line protocol is in docs/chat-protocol.md."
    )
    default_port = 6666
    optParameters = [
        *server_parameters(
            port=default_port, idle_timeout=0, max_line=DEFAULT_MAX_LINE,
            text="the chat's lines",
        ),
        ["history", None, 0, "Past messages of a room shown to whoever joins it.",
         non_negative_int],
        ["history-db", None, None,
         "SQLite file that keeps each room's history across restarts."],
        ["default-room", None, DEFAULT_ROOM,
         "The room everyone starts in and returns to with /part."],
        ["announce-limit", None, DEFAULT_ANNOUNCE_LIMIT,
         "Rooms with more members sum up joins and leaves every 10 s; 0 = always"
         " announce each.", non_negative_int],
        ["max-send-queue", None, DEFAULT_MAX_SEND_QUEUE,
         "Bytes queued for a client that does not read before it is dropped.",
         positive_int],
        ["flood-rate", None, DEFAULT_FLOOD_RATE,
         "Lines per second a client may send (faster input waits); 0 = off.",
         rate],
        ["flood-burst", None, DEFAULT_FLOOD_BURST,
         "Lines a client may send at once before --flood-rate applies.",
         positive_int],
        ["motd", None, None, "File whose text each newcomer is shown."],
        ["timestamp-format", None, DEFAULT_TIMESTAMP_FORMAT,
         "strftime format of message timestamps."],
        ["state-db", None, None,
         "SQLite file that keeps accounts, bans, mutes and room operators across"
         " restarts [default: memory]."],
        ["operators", None, None,
         "File of the accounts that are server operators, one a line."],
        ["nick-grace", None, NICK_GRACE,
         "Seconds whoever takes a registered nick has to /identify.",
         positive_seconds],
        ["redis", None, None,
         "Share rooms with other nodes through this Redis server:"
         " redis://[[USER]:PASSWORD@]HOST[:PORT][/DB], rediss://..., or"
         " unix:///path/redis.sock (see docs/cluster.md)."],
        ["cluster", None, "twisted-tcp",
         "With --redis: the cluster's name, the prefix of its Redis keys."],
        ["node-name", None, None,
         "With --redis: this node's name [default: host name and process id]."],
        ["irc-password", None, None,
         "With --irc: the password (PASS) every IRC client must give."],
        ["heartbeat", None, 1.0,
         "With --redis: seconds between heartbeats; a node silent for 5 of them is"
         " lost.", positive_seconds],
    ]  # fmt: skip

    def __init__(self) -> None:
        super().__init__()
        self["web"] = []
        self["web-origin"] = []
        self["irc"] = []

    def opt_irc(self, description: str) -> None:
        """
        Let IRC clients in on an endpoint (tcp:6667, ssl:6697:..., unix:);
        repeatable (see docs/irc.md).
        """
        self["irc"].append(description)

    def opt_web(self, description: str) -> None:
        """Serve the chat page on an endpoint (tcp:8080, ssl:, unix:); repeatable."""
        self["web"].append(description)

    def opt_web_origin(self, origin: str) -> None:
        """Let pages of ORIGIN (https://HOST[:PORT]) in too; repeatable."""
        try:
            self["web-origin"].append(parse_origin(origin))
        except ValueError as error:
            raise usage.UsageError(str(error)) from None

    def postOptions(self) -> None:
        if self["web-origin"] and not self["web"]:
            raise usage.UsageError("--web-origin needs --web")
        if self["history-db"] is not None and not self["history"]:
            raise usage.UsageError(
                "--history-db needs --history N, the messages it keeps of each room"
            )
        if self["irc-password"] is not None and not self["irc"]:
            raise usage.UsageError("--irc-password needs --irc")
        super().postOptions()
        self["web"] = checked_endpoints([on_every_address(w) for w in self["web"]])
        self["irc"] = checked_endpoints([on_every_address(i) for i in self["irc"]])
        if self["workers"] > 1 and self["redis"] is None:
            raise usage.UsageError(
                "--workers needs --redis: each worker is a node of the cluster"
            )

    def build_factory(self) -> ChatFactory:
        if self["redis"] is not None and (
            find_spec("txredisapi") is None or find_spec("hiredis") is None
        ):
            raise StartError(
                "--redis needs the txredisapi and hiredis packages: make chat"
                " installs them, as does pip install '.[redis]' in the checkout"
            )
        common = self.common_factory_arguments()
        self["chat"] = make_chat(
            encoding=common.pop("encoding"),
            history=self["history"],
            history_db=self["history-db"],
            default_room=self["default-room"],
            announce_limit=self["announce-limit"],
            motd=self._read_motd(),
            timestamp_format=self["timestamp-format"],
            redis=self["redis"],
            cluster=self["cluster"],
            node_name=_node_name(self["node-name"]),
            heartbeat=self["heartbeat"],
            on_refused=_stop_refused,
            state_db=self["state-db"],
            operators=read_operators(o) if (o := self["operators"]) else (),
            nick_grace=self["nick-grace"],
        )
        factory = ChatFactory(
            self["chat"],
            max_send_queue=self["max-send-queue"],
            flood_rate=self["flood-rate"],
            flood_burst=self["flood-burst"],
            **common,
        )
        if self["irc"]:
            self["irc-factory"] = IRCFactory(factory, password=self["irc-password"])
        return factory

    def _read_motd(self) -> str | None:
        if self["motd"] is None:
            return None
        try:
            with Path(self["motd"]).open("rb") as motd:
                data = motd.read(MAX_MOTD_BYTES + 1)
        except OSError as error:
            raise StartError(f"cannot read --motd: {error}") from None
        if len(data) > MAX_MOTD_BYTES:
            raise StartError(f"--motd is over {MAX_MOTD_BYTES} bytes")
        return data.decode("utf-8", "replace")


def makeService(options: Options) -> IService:
    """
    Serve the chat on every endpoint, its web page on every C{--web} endpoint and
    its IRC door on every C{--irc} endpoint.
    The chat service starts before the listeners and stops after them (with
    C{--redis}, once its members' departures are recorded).
    """
    listening = [*options["endpoints"], *options["web"], *options["irc"]]
    parent = supervised(options, listening)
    if parent is not None:
        return parent
    collectors: list[Any] = []
    health = None
    if options["metrics"] is not None:
        from twisted_tcp._metrics import chat_collectors

        cluster = options["redis"] is not None
        collectors, health = chat_collectors(options["factory"], cluster)
    server = make_server_service(options, collectors, health)
    reloader = server.getServiceNamed("reload")
    if options["motd"] is not None:
        reloader.add(f"--motd {options['motd']}", lambda: _reload_motd(options))
    if options["operators"] is not None:
        reloader.add(
            f"--operators {options['operators']}", lambda: _reload_operators(options)
        )
    if options["web"]:
        site = chat_site(
            options["factory"], options["web-origin"], reactor=server.reactor
        )
        server.listen(site, options["web"])
    if options["irc"]:
        server.listen(options["irc-factory"], options["irc"])
    both = _StopsInTurn()
    options["chat"].setServiceParent(both)
    server.setServiceParent(both)
    return both


def _node_name(name: str | None) -> str | None:
    """C{--node-name}; in worker N of C{--workers}, with C{-N} after it."""
    number = worker_number()
    return f"{name}-{number}" if name is not None and number else name


def _reload_motd(options: Options) -> None:
    """
    Read the message of the day again: newcomers from now on are shown it.

    @raise ValueError: the file cannot be read or is too large (the one in use
        stays).
    """
    try:
        motd = options._read_motd()
    except StartError as error:
        raise ValueError(str(error)) from None
    chat = options["chat"]
    chat.settings = replace(chat.settings, motd=texts.motd(motd))


def _reload_operators(options: Options) -> None:
    """
    Read the server operators again: who is one counts from now on.

    @raise ValueError: the file cannot be read or names a bad account (the
        operators in use stay).
    """
    accounts = operator_accounts(read_operators(options["operators"]))
    options["chat"].authority.operators = accounts


def _stop_refused(reason: str) -> None:
    """
    Redis refused the node (the service logged why): no retry can help, so the
    process stops, and ends with L{EXIT_REFUSED} once twist is done (twist has no
    way for a service to set its exit status).
    """
    from twisted.internet import reactor

    atexit.register(_exit, EXIT_REFUSED)
    if reactor.running:
        reactor.stop()


def _exit(status: int) -> None:
    """End the process with C{status}, once what was logged is written out."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


class _StopsInTurn(MultiService):
    """
    A L{MultiService} that stops its services one after the other, the last started
    first, each once the one before has stopped (a plain L{MultiService} stops them
    all at once): the cluster's links to Redis must outlast the server, which tells
    Redis its members are leaving as it closes their connections.
    """

    def stopService(self) -> Deferred[None]:
        Service.stopService(self)
        return Deferred.fromCoroutine(self._stop_in_turn())

    async def _stop_in_turn(self) -> None:
        for service in reversed(list(self)):
            await maybeDeferred(service.stopService)
