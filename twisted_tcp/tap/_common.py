"""
Options and service shared by every TCP server plugin (docs/servers.md, "Common
options of the TCP servers").

Each plugin's C{Options} subclasses L{ServerOptions}, lists the common parameters with
its own defaults through L{server_parameters}, and builds its factory in
L{ServerOptions.build_factory}; the factory validates its arguments, so a bad value is
reported as a usage error before anything listens.
"""

from __future__ import annotations

import select
import signal
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from twisted.application.internet import StreamServerEndpointService
from twisted.application.service import MultiService
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import quoteStringArgument
from twisted.internet.error import CannotListenError
from twisted.internet.protocol import Factory
from twisted.logger import Logger
from twisted.python import usage
from twisted.python.reflect import fullyQualifiedName

from twisted_tcp._checks import non_negative_int, port_number, positive_int, seconds
from twisted_tcp._listen import (
    all_interfaces,
    cannot_listen,
    connection_capacity,
    listen_backlog,
    server_endpoint,
    with_backlog,
)
from twisted_tcp._logging import readable_logs
from twisted_tcp._reload import Reloader, tls_listeners
from twisted_tcp._server import LimitedServerFactory
from twisted_tcp._version import __version__
from twisted_tcp._workers import Answers, WorkerChannel, worker_number

if TYPE_CHECKING:
    from prometheus_client.registry import Collector

    from twisted_tcp._metrics import Health

_log = Logger()
#: What Twisted's option parser puts before a checker's message.
_ENFORCEMENT_PREFIX = "Parameter type enforcement failed: "


class StartError(Exception):
    """
    What keeps a server from starting that is not a mistake in its options (a
    package that is not installed): C{twist} says it in one line, without the usage.
    A file that cannot be used (an C{OSError}) is reported the same way.
    """


class PluginOptions(usage.Options):
    """
    What the options of every plugin share: errors that read as one plain sentence
    (a refused value without Twisted's "Parameter type enforcement failed:"
    prefix), and a C{--version} that names this project's version.
    """

    def opt_version(self) -> None:
        """Print the version of twisted-tcp (and of Twisted) and exit."""
        from twisted.copyright import version

        print(f"twisted-tcp {__version__} (Twisted {version})")
        sys.exit(0)

    def parseOptions(self, options: Sequence[str] | None = None) -> None:
        try:
            super().parseOptions(options)
        except usage.UsageError as error:
            message = str(error).removeprefix(_ENFORCEMENT_PREFIX)
            raise usage.UsageError(message) from None


def prefer_lean_reactor() -> None:
    """
    Install the lean epoll reactor (L{twisted_tcp.leanreactor}) unless a reactor is
    installed already or the platform has no epoll, and log which one will run.

    C{twist} parses a plugin's options after its own, so a C{--reactor NAME} is
    installed by then, and installs its default reactor only afterwards: called from
    a plugin's C{postOptions}, this makes the lean reactor the plugin's default while
    C{--reactor} still wins. (The log event waits in Twisted's buffer until C{twist}
    starts logging.)
    """
    reactor: object = sys.modules.get("twisted.internet.reactor")
    if reactor is None and hasattr(select, "epoll"):
        from twisted_tcp.leanreactor import install

        reactor = install()
    if reactor is not None:
        _log.info("Reactor: {reactor}", reactor=fullyQualifiedName(type(reactor)))


def server_parameters(
    *, port: int, idle_timeout: float, max_line: int, text: str
) -> list[list[Any]]:
    """
    The common options of a TCP server plugin, with that plugin's defaults.

    @param text: what the server reads or writes as text, for C{--encoding}'s help.
    """
    return [
        [
            "port",
            "p",
            None,
            f"Listen on TCP port N [default: {port} unless --listen]",
            port_number,
        ],
        [
            "interface",
            None,
            None,
            "Address for --port [default: every address, IPv6 and IPv4].",
        ],
        [
            "max-connections",
            None,
            10000,
            "Simultaneous connections; one more gets an error line. 0 = no limit.",
            non_negative_int,
        ],
        [
            "max-per-ip",
            None,
            0,
            "Simultaneous connections per client address. 0 = no limit.",
            non_negative_int,
        ],
        [
            "idle-timeout",
            None,
            idle_timeout,
            "Close a connection that completed no message for S seconds.",
            seconds,
        ],
        ["encoding", None, "utf-8", f"Text encoding of {text}."],
        ["max-line", None, max_line, "Longest accepted line, in bytes.", positive_int],
        METRICS_PARAMETER,
        [
            "workers",
            None,
            1,
            "Processes serving the same sockets, restarted if they end.",
            positive_int,
        ],
    ]


#: The C{--metrics} option of every server plugin (docs/operating.md).
METRICS_PARAMETER: list[Any] = [
    "metrics",
    None,
    None,
    "Serve GET /metrics (Prometheus) and GET /healthz on this endpoint"
    " (tcp:9100:interface=127.0.0.1).",
]


def checked_metrics_endpoint(options: usage.Options) -> None:
    """Check the C{--metrics} endpoint as the servers' own (L{checked_endpoints})."""
    if options["metrics"] is not None:
        options["metrics"] = checked_endpoints([options["metrics"]])[0]


class ServerOptions(PluginOptions):
    """Command-line options common to the TCP server plugins."""

    default_port: ClassVar[int]

    def __init__(self) -> None:
        super().__init__()
        self["listen"] = []

    def opt_listen(self, description: str) -> None:
        """
        Listen on a Twisted endpoint (tcp:, tcp6:, ssl:, unix: ...); repeatable.
        """
        self["listen"].append(description)

    def postOptions(self) -> None:
        prefer_lean_reactor()
        self["endpoints"] = checked_endpoints(self.endpoint_descriptions())
        checked_metrics_endpoint(self)
        try:
            self["factory"] = self.build_factory()
        except (StartError, OSError) as error:
            raise SystemExit(f"twist: {error}") from None
        except ValueError as error:
            raise usage.UsageError(str(error)) from None

    def endpoint_descriptions(self) -> list[str]:
        """Endpoint strings for C{--listen} and C{--port}/C{--interface}."""
        descriptions: list[str] = list(self["listen"])
        port = self["port"]
        if port is None and not descriptions:
            port = self.default_port
        if port is not None:
            if self["interface"]:
                interface = quoteStringArgument(self["interface"])
                descriptions.append(f"tcp:{port}:interface={interface}")
            else:
                descriptions.append(all_interfaces(port))
        return descriptions

    def common_factory_arguments(self) -> dict[str, Any]:
        """The factory keyword arguments named by the common options."""
        return {
            "max_connections": self["max-connections"],
            "max_per_ip": self["max-per-ip"],
            "idle_timeout": self["idle-timeout"],
            "encoding": self["encoding"],
            "max_line": self["max-line"],
        }

    def build_factory(self) -> LimitedServerFactory:
        """The server's factory, configured from these options."""
        raise NotImplementedError


def checked_endpoints(descriptions: Sequence[str]) -> list[str]:
    """
    Make each endpoint now, so a mistake in one (an unknown type, a key file that
    is not there) is a usage error before anything listens; return the endpoint
    strings with the servers' accept backlog.
    """
    # twist installs the reactor it was asked for before the plugin's options are
    # parsed, or the default one right after: importing it here installs the same.
    from twisted.internet import reactor

    for description in descriptions:
        try:
            server_endpoint(reactor, description)
        except ValueError as error:
            raise usage.UsageError(f"bad endpoint {description!r}: {error}") from None
    backlog = listen_backlog()
    return [with_backlog(each, backlog) for each in descriptions]


class ServerService(MultiService):
    """
    Serves one factory on several endpoints; on stop, it stops listening first and
    then shuts the factory's connections down (docs/servers.md, "Closing and
    shutdown").
    """

    def __init__(
        self,
        reactor: Any,
        factory: LimitedServerFactory,
        descriptions: Sequence[str],
    ) -> None:
        super().__init__()
        self.reactor = reactor
        self.factory = factory
        self.listen(factory, descriptions)

    def listen(self, factory: Factory[Any], descriptions: Sequence[str]) -> None:
        """
        Serve C{factory} on more endpoints, stopped with the others. (A web site whose
        WebSockets are the server factory's connections is served this way, so
        shutdown closes those too.)
        """
        for description in descriptions:
            listener = StreamServerEndpointService(
                server_endpoint(self.reactor, description), factory
            )
            # Fail at start-up when the address is taken, as strports.service does.
            listener._raiseSynchronously = True
            listener.setServiceParent(self)

    def startService(self) -> None:
        """
        Listen on every endpoint. One that cannot be listened on (the port is taken,
        the address is not this machine's) ends C{twist} with one line saying so,
        not a traceback.
        """
        fit_to_descriptors(self.factory)
        try:
            super().startService()
        except (CannotListenError, OSError) as error:
            raise SystemExit(f"twist: {cannot_listen(error)}") from None

    def stopService(self) -> Deferred[None]:
        stopped: Deferred[Any] = super().stopService()
        stopped.addCallback(lambda _: self.factory.shutdown())
        return stopped


def fit_to_descriptors(factory: LimitedServerFactory) -> None:
    """
    Lower C{--max-connections} to what this process's open files allow (after
    raising their limit as far as it goes), so that a client past it gets the
    C{error: too many connections} line rather than a connection closed unanswered
    for want of a descriptor.
    """
    capacity = connection_capacity()
    if capacity is None:
        return
    connections, files = capacity
    if 0 < factory.max_connections <= connections:
        return
    _log.warn(
        "at most {connections} connections (--max-connections {asked}): this process "
        "may have {files} open files (ulimit -n)",
        connections=connections,
        asked=factory.max_connections,
        files=files,
    )
    factory.max_connections = connections


def make_service(options: ServerOptions) -> MultiService:
    """
    The C{makeService} of the TCP server plugins but the chat: the workers'
    supervisor (C{--workers}), or L{make_server_service}.
    """
    return supervised(options, options["endpoints"]) or make_server_service(options)


def make_server_service(
    options: ServerOptions,
    collectors: Sequence[Collector] = (),
    health: Health | None = None,
) -> ServerService:
    """
    The C{makeService} of every TCP server plugin. With C{--metrics}, the metrics of
    every TCP server are served with those of C{collectors}, and C{/healthz} asks
    C{health} (by default: ready unless shutting down). SIGHUP reloads the
    certificates of C{ssl:} listeners, and whatever else is added to the
    L{Reloader} named C{reload}.
    """
    from twisted.internet import reactor

    readable_logs()
    factory = options["factory"]
    server = ServerService(reactor, factory, options["endpoints"])
    answers: Answers = {}
    if options["metrics"] is not None:
        from twisted_tcp._metrics import (
            ReadingCollector,
            metrics_service,
            server_health,
            tcp_server_metrics,
            worker_answers,
        )

        metrics = [ReadingCollector(lambda: tcp_server_metrics(factory)), *collectors]
        ready = health or server_health(factory)
        if worker_number():
            # The parent serves --metrics; it asks this worker for its own.
            answers = worker_answers(metrics, ready)
        else:
            service = metrics_service(reactor, options["metrics"], metrics, ready)
            service.setServiceParent(server)
    if worker_number():
        WorkerChannel(reactor, answers).setServiceParent(server)
    reloader = Reloader(reactor)
    for tls in tls_listeners(server):
        reloader.add(f"the certificate and key of {tls.description}", tls.reload)
    reloader.setName("reload")
    reloader.setServiceParent(server)
    return server


def supervised(
    options: ServerOptions, descriptions: Sequence[str]
) -> MultiService | None:
    """
    With C{--workers N}, in the process C{twist} started: the service that listens
    on C{descriptions} and runs N workers on them, passes SIGHUP on to them and
    serves their C{--metrics}. C{None} otherwise (in a worker, or without
    C{--workers}): the plugin serves in this process.
    """
    if options["workers"] < 2 or worker_number():
        return None
    from twisted.internet import reactor

    from twisted_tcp._workers import WorkerSupervisor

    readable_logs()
    parent = MultiService()
    supervisor = WorkerSupervisor(reactor, options["workers"], descriptions)
    supervisor.setServiceParent(parent)
    reloader = Reloader(reactor)
    reloader.add("the workers", lambda: supervisor.signal_all(signal.SIGHUP))
    reloader.setServiceParent(parent)
    if options["metrics"] is not None:
        from twisted_tcp._metrics import workers_metrics_service

        metrics = workers_metrics_service(reactor, options["metrics"], supervisor)
        metrics.setServiceParent(parent)
    return parent
