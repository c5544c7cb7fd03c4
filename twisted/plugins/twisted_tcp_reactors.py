"""
The lean epoll reactor as a Twisted reactor plugin: C{twist --reactor lean-epoll ...}.
The description names its module lazily, so listing reactors imports none of
twisted_tcp.
"""

from twisted.application.reactors import Reactor

lean_epoll = Reactor(
    "lean-epoll",
    "twisted_tcp.leanreactor",
    "epoll without the per-event legacy log context (Linux)",
)
