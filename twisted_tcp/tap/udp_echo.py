"""
C{twist udp-echo}: the UDP echo server.

UDP is not a stream endpoint, so this plugin takes C{--port} and C{--interface} only.
"""

from __future__ import annotations

from typing import Any

from twisted.application.service import MultiService, Service
from twisted.internet.defer import Deferred, gatherResults, succeed
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IListeningPort
from twisted.python import usage

from twisted_tcp._checks import ip_address, non_negative_int, port_number
from twisted_tcp._listen import cannot_listen, listen_udp
from twisted_tcp._logging import readable_logs
from twisted_tcp.tap._common import (
    METRICS_PARAMETER,
    PluginOptions,
    checked_metrics_endpoint,
    prefer_lean_reactor,
)
from twisted_tcp.udp_echo import DEFAULT_RATE, MAX_DATAGRAM, UDP_MODES, UDPEchoProtocol


class Options(PluginOptions):
    """Options of C{twist udp-echo}."""

    synopsis = "[options]"
    longdesc = "Send each datagram back to its source, whole."
    optParameters = [
        ["port", "p", 8081, "UDP port to listen on.", port_number],
        [
            "interface",
            None,
            None,
            "Address to listen on [default: every address, IPv6 and IPv4].",
            ip_address,
        ],
        ["mode", "m", "echo", f"One of {', '.join(UDP_MODES)}."],
        [
            "rate",
            None,
            DEFAULT_RATE,
            "Datagrams per second accepted per source address; 0 = no limit.",
            non_negative_int,
        ],
        METRICS_PARAMETER,
    ]
    compData = usage.Completions(optActions={"mode": usage.CompleteList(UDP_MODES)})

    def postOptions(self) -> None:
        prefer_lean_reactor()
        checked_metrics_endpoint(self)
        try:
            self["protocol"] = UDPEchoProtocol(mode=self["mode"], rate=self["rate"])
        except ValueError as error:
            raise usage.UsageError(str(error)) from None


class UDPEchoService(MultiService):
    """
    Listens for datagrams while running, and starts its children (C{--metrics})
    once it does; a port that is taken ends C{twist}.
    """

    def __init__(
        self, reactor: Any, port: int, protocol: UDPEchoProtocol, interface: str
    ) -> None:
        super().__init__()
        self.reactor = reactor
        self.port = port
        self.protocol = protocol
        self.interface = interface
        self.listening: IListeningPort | None = None

    def startService(self) -> None:
        Service.startService(self)
        try:
            self.listening = listen_udp(
                self.reactor, self.port, self.protocol, self.interface,
                # listenUDP reads 8192 bytes by default and would truncate the rest.
                max_packet_size=MAX_DATAGRAM + 28,
            )  # fmt: skip
        except CannotListenError as error:
            raise SystemExit(f"twist: {cannot_listen(error)}") from None
        for service in self:
            service.startService()

    def stopService(self) -> Deferred[None]:
        children = super().stopService()
        listening, self.listening = self.listening, None
        stopped = None if listening is None else listening.stopListening()
        both = gatherResults([children, succeed(None) if stopped is None else stopped])
        return both.addCallback(lambda _: None)


def makeService(options: Options) -> UDPEchoService:
    """The UDP echo service, with C{--metrics} in it when asked for."""
    from twisted.internet import reactor

    readable_logs()
    protocol = options["protocol"]
    echo = UDPEchoService(
        reactor, options["port"], protocol, options["interface"] or ""
    )
    if options["metrics"] is not None:
        from twisted_tcp._metrics import (
            ReadingCollector,
            metrics_service,
            udp_echo_metrics,
        )

        metrics = metrics_service(
            reactor,
            options["metrics"],
            [ReadingCollector(lambda: udp_echo_metrics(protocol))],
            lambda: None if echo.listening is not None else "not listening",
        )
        metrics.setServiceParent(echo)
    return echo
