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
from typing import TYPE_CHECKING, Any, Final

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
    SummaryMetricFamily,
)
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector
from twisted.application.internet import StreamServerEndpointService
from twisted.internet.defer import Deferred, succeed
from twisted.internet.error import CannotListenError
from twisted.web import http, pages
from twisted.web.resource import IResource, Resource
from twisted.web.server import NOT_DONE_YET, Request, Site

from twisted_tcp._listen import cannot_listen, server_endpoint
from twisted_tcp._server import LimitedServerFactory
from twisted_tcp._workers import Answers, WorkerSupervisor
from twisted_tcp.chat.factory import ChatFactory
from twisted_tcp.chat.history import SQLiteHistory
from twisted_tcp.udp_echo import UDPEchoProtocol

if TYPE_CHECKING:
    from twisted_tcp.chat.cluster.service import RedisChat

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
        "Connections refused with an error line: over a limit, or banned.",
        labels=["reason"],
    )
    refused.add_metric(["limit"], counts.refused_limit)
    refused.add_metric(["per_ip"], counts.refused_per_ip)
    refused.add_metric(["ban"], counts.refused_ban)
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
    counts = protocol.counters
    yield counter("udp_received_datagrams", "Datagrams received.", counts.received)
    yield counter("udp_answered_datagrams", "Datagrams echoed.", counts.answered)
    yield counter(
        "udp_rate_limited_datagrams",
        "Datagrams dropped over a source's --rate.",
        counts.rate_limited,
    )
    yield counter(
        "udp_refused_datagrams",
        "Datagrams dropped from sources that could start a loop.",
        counts.refused,
    )
    yield counter("udp_received_bytes", "Payload bytes received.", counts.bytes_in)
    yield counter("udp_sent_bytes", "Payload bytes echoed.", counts.bytes_out)


def chat_metrics(factory: ChatFactory) -> Iterator[Metric]:
    """The chat's own metrics, whichever backend runs it."""
    chat: Any = factory.service
    yield gauge("chat_members", "Chat members connected here.", len(chat.members))
    yield gauge("chat_rooms", "Rooms with members connected here.", len(chat.rooms))
    yield counter(
        "chat_lines_posted",
        "Lines members posted: to a room, as /me, or as /msg.",
        factory.counters.lines_posted,
    )
    yield counter(
        "chat_lines_delivered",
        "Lines handed to members' connections (the same as sent_messages).",
        factory.counters.messages_out,
    )
    store = getattr(chat, "history_store", None)
    if isinstance(store, SQLiteHistory):
        yield SummaryMetricFamily(
            PREFIX + "chat_history_write_seconds",
            "Time spent writing batches of messages to --history-db.",
            count_value=store.writes,
            sum_value=store.write_seconds,
        )


def cluster_metrics(chat: RedisChat) -> Iterator[Metric]:
    """The metrics of a chat node's link to Redis."""
    yield gauge(
        "chat_redis_up",
        "1 while both links to Redis are up and this node is known there, else 0.",
        chat.available,
    )
    yield gauge(
        "chat_redis_outbox",
        "Messages and arrivals waiting to be sent to Redis.",
        len(chat.outbox),
    )
    yield gauge(
        "chat_nodes_seen",
        "Nodes whose events this node has read since it started (itself included).",
        len(chat.nodes_seen),
    )


def chat_collectors(
    factory: ChatFactory, cluster: bool
) -> tuple[list[Collector], Health]:
    """
    The chat's collectors, and what tells C{/healthz} it is ready.

    @param cluster: whether the chat is a node of a cluster (C{--redis}).
    """
    chat: Any = factory.service
    collectors: list[Collector] = [ReadingCollector(lambda: chat_metrics(factory))]
    if not cluster:
        return collectors, server_health(factory)
    collectors.append(ReadingCollector(lambda: cluster_metrics(chat)))

    def health() -> str | None:
        if chat.refused is not None:
            return f"Redis refused this node: {chat.refused}"
        if not chat.available:
            return "the link to Redis is down"
        return server_health(factory)()

    return collectors, health


def server_health(factory: LimitedServerFactory) -> Health:
    """A TCP server is ready once it listens, until it starts shutting down."""
    return lambda: "shutting down" if factory.shutting_down else None


class _Page(Resource):
    """
    A plain-text page whose status and body a function gives, now or later: the
    parent of C{--workers} asks its workers first.
    """

    isLeaf = True

    def __init__(
        self, content_type: str, page: Callable[[], Deferred[tuple[int, bytes]]]
    ) -> None:
        super().__init__()
        self._content_type = content_type.encode()
        self._page = page

    def render_GET(self, request: Request) -> int:
        def send(page: tuple[int, bytes]) -> None:
            status, body = page
            request.setResponseCode(status)
            request.setHeader(b"content-type", self._content_type)
            request.write(body)
            request.finish()

        self._page().addCallback(send)
        return NOT_DONE_YET


def health_page(reason: str | None) -> tuple[int, bytes]:
    """What C{/healthz} answers: 200 when ready, 503 and the reason when not."""
    if reason is None:
        return 200, b"ok\n"
    return 503, f"not ready: {reason}\n".encode()


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


def metrics_registry(collectors: Sequence[Collector]) -> CollectorRegistry:
    """
    C{collectors} and the process's own metrics (CPU, memory, file descriptors,
    Python's garbage collector).
    """
    registry = CollectorRegistry()
    for collector in (*collectors, PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
        registry.register(collector)
    return registry


def metrics_site(
    metrics: Callable[[], Deferred[bytes]], health: Callable[[], Deferred[str | None]]
) -> Site:
    """The web site of C{--metrics}: C{/metrics} and C{/healthz}."""
    root = _Root()
    root.putChild(
        b"metrics",
        _Page(
            CONTENT_TYPE_PLAIN_0_0_4,
            lambda: metrics().addCallback(lambda body: (200, body)),
        ),
    )
    root.putChild(
        b"healthz",
        _Page("text/plain; charset=utf-8", lambda: health().addCallback(health_page)),
    )
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
    """A service serving C{collectors} and C{health} on the endpoint C{description}."""
    registry = metrics_registry(collectors)
    site = metrics_site(
        lambda: succeed(generate_latest(registry)), lambda: succeed(health())
    )
    return _MetricsService(server_endpoint(reactor, description), site)


def worker_answers(collectors: Sequence[Collector], health: Health) -> Answers:
    """What a worker answers its parent's C{metrics} and C{health} questions with."""
    registry = metrics_registry(collectors)
    return {
        b"metrics": lambda: generate_latest(registry),
        b"health": lambda: (health() or "").encode(),
    }


def workers_metrics_service(
    reactor: Any, description: str, supervisor: WorkerSupervisor
) -> StreamServerEndpointService:
    """
    The parent's C{--metrics}: each worker's metrics, labelled with its number; it
    is ready while every worker runs and is ready.
    """

    async def metrics() -> bytes:
        answers = await supervisor.ask_all(b"metrics")
        return generate_latest(_Labelled(answers))

    async def health() -> str | None:
        answers = await supervisor.ask_all(b"health")
        if len(answers) < supervisor.count:
            return f"{len(answers)} of {supervisor.count} workers running"
        for number, answer in answers:
            if answer:
                return f"worker {number}: {answer.decode()}"
        return None

    site = metrics_site(
        lambda: Deferred.fromCoroutine(metrics()),
        lambda: Deferred.fromCoroutine(health()),
    )
    return _MetricsService(server_endpoint(reactor, description), site)


class _Labelled(Collector):
    """The metrics of several workers' expositions, each sample labelled C{worker}."""

    def __init__(self, expositions: Sequence[tuple[int, bytes]]) -> None:
        self._expositions = expositions

    def collect(self) -> Iterable[Metric]:
        families: dict[str, Metric] = {}
        for number, exposition in self._expositions:
            for family in text_string_to_metric_families(exposition.decode()):
                merged = families.setdefault(
                    family.name,
                    Metric(family.name, family.documentation, family.type, family.unit),
                )
                for sample in family.samples:
                    labels = {**sample.labels, "worker": str(number)}
                    merged.add_sample(sample.name, labels, sample.value)
        return families.values()
