"""
The servers' C{--metrics ENDPOINT} (docs/operating.md): C{GET /metrics} answers in
Prometheus' text format, C{GET /healthz} with C{200 ok} while the server is ready
and C{503} and the reason while it is not.

The servers count in plain integers as they go (L{ServerCounters}, the UDP echo's own
counts); the collectors here read them only when scraped, so serving messages costs
no lock and no call. Imported only when C{--metrics} is given.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Final

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from twisted.application.internet import StreamServerEndpointService
from twisted.internet.error import CannotListenError
from twisted.web import http, pages
from twisted.web.resource import IResource, Resource
from twisted.web.server import Request, Site

from twisted_tcp._listen import cannot_listen, server_endpoint
from twisted_tcp._server import LimitedServerFactory
from twisted_tcp.udp_echo import UDPEchoProtocol

#: The prefix of every metric of this package's own.
PREFIX: Final = "twisted_tcp_"

#: What C{/healthz} is told: C{None} when ready, else why not.
Health = Callable[[], str | None]


def counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    """A counter without labels (its exposed name gains C{_total})."""
    return CounterMetricFamily(PREFIX + name, documentation, value=value)


def gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    """A gauge without labels."""
    return GaugeMetricFamily(PREFIX + name, documentation, value=value)


class ReadingCollector(Collector):
    """A collector whose metrics a function reads, fresh at each scrape."""

    def __init__(self, read: Callable[[], Iterable[Metric]]) -> None:
        self._read = read

    def collect(self) -> Iterable[Metric]:
        return self._read()


def tcp_server_metrics(factory: LimitedServerFactory) -> Iterator[Metric]:
    """The metrics every TCP server has, read from its factory."""
    counts = factory.counters
    yield gauge("connections_open", "Connections open now.", len(factory.connections))
    yield counter("connections_accepted", "Connections accepted.", counts.accepted)
    refused = CounterMetricFamily(
        PREFIX + "connections_refused",
        "Connections refused with an error line, by the limit they were over.",
        labels=["reason"],
    )
    refused.add_metric(["limit"], counts.refused_limit)
    refused.add_metric(["per_ip"], counts.refused_per_ip)
    yield refused
    yield counter("received_bytes", "Bytes read from clients.", counts.bytes_in)
    yield counter(
        "sent_bytes", "Bytes handed to clients' connections.", counts.bytes_out
    )
    yield counter(
        "received_messages", "Messages (lines or chunks) handled.", counts.messages_in
    )
    yield counter(
        "sent_messages", "Messages (lines or replies) sent.", counts.messages_out
    )
    yield counter(
        "idle_closes", "Connections closed by --idle-timeout.", counts.idle_closes
    )
    yield counter(
        "slow_readers_dropped",
        "Clients dropped for not reading what they were sent.",
        counts.slow_dropped,
    )
    yield counter(
        "flood_pauses",
        "Times a client's input was paused for sending faster than allowed.",
        counts.flood_pauses,
    )


def udp_echo_metrics(protocol: UDPEchoProtocol) -> Iterator[Metric]:
    """The metrics of the UDP echo server."""
    yield counter("udp_received_datagrams", "Datagrams received.", protocol.received)
    yield counter("udp_answered_datagrams", "Datagrams echoed.", protocol.answered)
    yield counter(
        "udp_rate_limited_datagrams",
        "Datagrams dropped over a source's --rate.",
        protocol.rate_limited,
    )
    yield counter(
        "udp_refused_datagrams",
        "Datagrams dropped from sources that could start a loop.",
        protocol.refused,
    )
    yield counter("udp_received_bytes", "Payload bytes received.", protocol.bytes_in)
    yield counter("udp_sent_bytes", "Payload bytes echoed.", protocol.bytes_out)


def server_health(factory: LimitedServerFactory) -> Health:
    """A TCP server is ready once it listens, until it starts shutting down."""
    return lambda: "shutting down" if factory.shutting_down else None


class _Metrics(Resource):
    isLeaf = True

    def __init__(self, registry: CollectorRegistry) -> None:
        super().__init__()
        self._registry = registry

    def render_GET(self, request: Request) -> bytes:
        request.setHeader(b"content-type", CONTENT_TYPE_PLAIN_0_0_4.encode())
        return generate_latest(self._registry)


class _Health(Resource):
    isLeaf = True

    def __init__(self, health: Health) -> None:
        super().__init__()
        self._health = health

    def render_GET(self, request: Request) -> bytes:
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        reason = self._health()
        if reason is None:
            return b"ok\n"
        request.setResponseCode(503)
        return f"not ready: {reason}\n".encode()


class _Root(Resource):
    def getChild(self, path: bytes, request: Request) -> IResource:
        return pages.notFound()


class _QuietSite(Site):
    """A site that does not log every scrape."""

    noisy = False

    def logPrefix(self) -> str:
        return "metrics"

    def log(self, request: http.Request) -> None:
        """Scrapes come every few seconds: they are not worth a log line each."""


def metrics_site(collectors: Sequence[Collector], health: Health) -> Site:
    """
    The web site of C{--metrics}: C{/metrics} with C{collectors} and the process's
    own metrics (CPU, memory, file descriptors, Python's garbage collector), and
    C{/healthz}.
    """
    registry = CollectorRegistry()
    for collector in (*collectors, PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
        registry.register(collector)
    root = _Root()
    root.putChild(b"metrics", _Metrics(registry))
    root.putChild(b"healthz", _Health(health))
    return _QuietSite(root)


class _MetricsService(StreamServerEndpointService):
    """
    Serves L{metrics_site}; an endpoint that cannot be listened on ends C{twist}
    with one line, as the servers' own do.
    """

    _raiseSynchronously = True

    def startService(self) -> None:
        try:
            super().startService()
        except (CannotListenError, OSError) as error:
            raise SystemExit(f"twist: --metrics: {cannot_listen(error)}") from None


def metrics_service(
    reactor: Any, description: str, collectors: Sequence[Collector], health: Health
) -> StreamServerEndpointService:
    """A service serving L{metrics_site} on the endpoint C{description}."""
    return _MetricsService(
        server_endpoint(reactor, description), metrics_site(collectors, health)
    )
