"""
C{twist udp-echo}: the UDP echo server.

UDP is not a stream endpoint, so this plugin takes C{--port} and C{--interface} only.
"""

from __future__ import annotations

from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred, succeed
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IListeningPort
from twisted.python import usage

from twisted_tcp._checks import ip_address, non_negative_int, port_number
from twisted_tcp._listen import cannot_listen, listen_udp
from twisted_tcp._logging import readable_logs
from twisted_tcp.tap._common import PluginOptions, prefer_lean_reactor
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
    ]
    compData = usage.Completions(optActions={"mode": usage.CompleteList(UDP_MODES)})

    def postOptions(self) -> None:
        prefer_lean_reactor()
        try:
            self["protocol"] = UDPEchoProtocol(mode=self["mode"], rate=self["rate"])
        except ValueError as error:
            raise usage.UsageError(str(error)) from None


class UDPEchoService(Service):
    """Listens for datagrams while running; a port that is taken ends C{twist}."""

    def __init__(
        self, reactor: Any, port: int, protocol: UDPEchoProtocol, interface: str
    ) -> None:
        self.reactor = reactor
        self.port = port
        self.protocol = protocol
        self.interface = interface
        self.listening: IListeningPort | None = None

    def startService(self) -> None:
        super().startService()
        try:
            self.listening = listen_udp(
                self.reactor, self.port, self.protocol, self.interface,
                # listenUDP reads 8192 bytes by default and would truncate the rest.
                max_packet_size=MAX_DATAGRAM + 28,
            )  # fmt: skip
        except CannotListenError as error:
            raise SystemExit(f"twist: {cannot_listen(error)}") from None

    def stopService(self) -> Deferred[None]:
        super().stopService()
        listening, self.listening = self.listening, None
        stopped = None if listening is None else listening.stopListening()
        return succeed(None) if stopped is None else stopped


def makeService(options: Options) -> UDPEchoService:
    from twisted.internet import reactor

    readable_logs()
    return UDPEchoService(
        reactor, options["port"], options["protocol"], options["interface"] or ""
    )
