"""
C{twist udp-echo}: the UDP echo server of SPEC §3.4.

UDP is not a stream endpoint, so this plugin takes C{--port} and C{--interface} only.
"""

from __future__ import annotations

from twisted.application.internet import UDPServer
from twisted.python import usage

from twisted_tcp.tap._common import non_negative_int, port_number
from twisted_tcp.udp_echo import DEFAULT_RATE, MAX_DATAGRAM, UDP_MODES, UDPEchoProtocol


class Options(usage.Options):
    """Options of C{twist udp-echo}."""

    synopsis = "[options]"
    longdesc = "Send each datagram back to its source, whole."
    optParameters = [
        ["port", "p", 8081, "UDP port to listen on.", port_number],
        ["interface", None, "", "Address to listen on [default: all IPv4]."],
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
        try:
            self["protocol"] = UDPEchoProtocol(mode=self["mode"], rate=self["rate"])
        except ValueError as error:
            raise usage.UsageError(str(error)) from None


def makeService(options: Options) -> UDPServer:
    return UDPServer(
        options["port"],
        options["protocol"],
        interface=options["interface"],
        # listenUDP reads 8192 bytes by default and would truncate larger datagrams.
        maxPacketSize=MAX_DATAGRAM + 28,
    )
