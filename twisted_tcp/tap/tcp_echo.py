"""
C{twist tcp-echo}: the TCP echo server.
"""

from __future__ import annotations

from twisted.python import usage

from twisted_tcp.echo import (
    DEFAULT_MAX_LINE,
    DEFAULT_PREFIX,
    DEFAULT_REPLY,
    ECHO_MODES,
    EchoFactory,
)
from twisted_tcp.tap._common import (
    ServerOptions,
    make_service,
    server_parameters,
)


class Options(ServerOptions):
    """Options of C{twist tcp-echo}."""

    synopsis = "[options]"
    longdesc = (
        "Echo bytes back (RFC 862), upper-cased, prefixed, or with a fixed reply."
    )
    default_port = 9090
    optParameters = [
        *server_parameters(
            port=default_port,
            idle_timeout=0,
            max_line=DEFAULT_MAX_LINE,
            text="--framing line upper-casing, --prefix and --reply",
        ),
        ["mode", "m", "echo", f"One of {', '.join(ECHO_MODES)}."],
        ["framing", None, "raw", "raw (each chunk is a message) or line (LF-ended)."],
        [
            "prefix",
            None,
            DEFAULT_PREFIX,
            "Text put before each message in prefix mode.",
        ],
        ["reply", None, DEFAULT_REPLY, "Text sent for each message in reply mode."],
    ]
    compData = usage.Completions(
        optActions={
            "mode": usage.CompleteList(ECHO_MODES),
            "framing": usage.CompleteList(["raw", "line"]),
        }
    )

    def build_factory(self) -> EchoFactory:
        return EchoFactory(
            mode=self["mode"],
            framing=self["framing"],
            prefix=self["prefix"],
            reply=self["reply"],
            **self.common_factory_arguments(),
        )


#: The plugin's service maker: serve the factory on every endpoint.
makeService = make_service
