"""
C{twist tcp-greet}: the greeting server.
"""

from __future__ import annotations

from twisted.python import usage

from twisted_tcp.greet import (
    DEFAULT_EXIT_WORD,
    DEFAULT_GREETING,
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_LINE,
    DEFAULT_WELCOME,
    GreetingFactory,
)
from twisted_tcp.tap._common import (
    ServerOptions,
    make_service,
    server_parameters,
)


class Options(ServerOptions):
    """Options of C{twist tcp-greet}."""

    synopsis = "[options]"
    longdesc = (
        "Send a welcome, answer each name with a greeting, close on the exit word."
    )
    default_port = 9999
    optParameters = [
        *server_parameters(
            port=default_port,
            idle_timeout=DEFAULT_IDLE_TIMEOUT,
            max_line=DEFAULT_MAX_LINE,
            text="names and replies",
        ),
        ["welcome", None, DEFAULT_WELCOME, "Sent on connect."],
        ["greeting", None, DEFAULT_GREETING, "Reply to a name; {name} is replaced."],
        ["exit-word", None, DEFAULT_EXIT_WORD, "Ends the session (any case)."],
        ["framing", None, "line", "line (LF-ended) or raw (each chunk is a message)."],
    ]
    compData = usage.Completions(
        optActions={"framing": usage.CompleteList(["line", "raw"])}
    )

    def build_factory(self) -> GreetingFactory:
        return GreetingFactory(
            welcome=self["welcome"],
            greeting=self["greeting"],
            exit_word=self["exit-word"],
            framing=self["framing"],
            **self.common_factory_arguments(),
        )


#: The plugin's service maker: serve the factory on every endpoint.
makeService = make_service
