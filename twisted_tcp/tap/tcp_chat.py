"""
C{twist tcp-chat}: the chat server of SPEC §3.3.
"""

from __future__ import annotations

from pathlib import Path

from twisted_tcp.chat import (
    DEFAULT_ANNOUNCE_LIMIT,
    DEFAULT_FLOOD_BURST,
    DEFAULT_FLOOD_RATE,
    DEFAULT_MAX_LINE,
    DEFAULT_MAX_SEND_QUEUE,
    DEFAULT_ROOM,
    DEFAULT_TIMESTAMP_FORMAT,
    ChatFactory,
)
from twisted_tcp.tap._common import (
    ServerOptions,
    make_server_service,
    non_negative_int,
    positive_int,
    seconds,
    server_parameters,
)

#: A message of the day larger than this is surely a mistake.
MAX_MOTD_BYTES = 64 * 1024


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
            port=default_port, idle_timeout=0, max_line=DEFAULT_MAX_LINE
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
         seconds],
        ["flood-burst", None, DEFAULT_FLOOD_BURST,
         "Lines a client may send at once before --flood-rate applies.",
         positive_int],
        ["motd", None, None, "File whose text each newcomer is shown."],
        ["timestamp-format", None, DEFAULT_TIMESTAMP_FORMAT,
         "strftime format of message timestamps."],
    ]  # fmt: skip

    def build_factory(self) -> ChatFactory:
        return ChatFactory(
            history=self["history"],
            history_db=self["history-db"],
            default_room=self["default-room"],
            announce_limit=self["announce-limit"],
            max_send_queue=self["max-send-queue"],
            flood_rate=self["flood-rate"],
            flood_burst=self["flood-burst"],
            motd=self._read_motd(),
            timestamp_format=self["timestamp-format"],
            **self.common_factory_arguments(),
        )

    def _read_motd(self) -> str | None:
        if self["motd"] is None:
            return None
        try:
            with Path(self["motd"]).open("rb") as motd:
                data = motd.read(MAX_MOTD_BYTES + 1)
        except OSError as error:
            raise ValueError(f"cannot read --motd: {error}") from None
        if len(data) > MAX_MOTD_BYTES:
            raise ValueError(f"--motd is over {MAX_MOTD_BYTES} bytes")
        return data.decode("utf-8", "replace")


#: The plugin's service maker: serve the factory on every endpoint.
makeService = make_server_service
