"""
The twisted-tcp servers as C{twist} plugins. Each entry names its module lazily, so
listing plugins imports none of twisted_tcp.
"""

from twisted.application.service import ServiceMaker

tcp_echo = ServiceMaker(
    "tcp-echo",
    "twisted_tcp.tap.tcp_echo",
    "TCP echo server (RFC 862 and variants)",
    "tcp-echo",
)
tcp_greet = ServiceMaker(
    "tcp-greet", "twisted_tcp.tap.tcp_greet", "TCP greeting server", "tcp-greet"
)
tcp_chat = ServiceMaker(
    "tcp-chat", "twisted_tcp.tap.tcp_chat", "TCP chat server", "tcp-chat"
)
http_get = ServiceMaker(
    "http-get", "twisted_tcp.tap.http_get", "Fetch a URL once and save it", "http-get"
)
udp_echo = ServiceMaker(
    "udp-echo", "twisted_tcp.tap.udp_echo", "UDP echo server", "udp-echo"
)
