"""
The exit codes of the C{twisted-tcp} command, numbered as curl numbers them (the
HTTP client's own are on its exception classes, in L{twisted_tcp.http.errors}).
"""

from __future__ import annotations

import signal
from typing import Final

EXIT_OK: Final = 0
EXIT_FAILURE: Final = 1
EXIT_USAGE: Final = 2
EXIT_RESOLVE: Final = 6
EXIT_CONNECT: Final = 7
EXIT_CONNECTION_LOST: Final = 56
#: The client certificate (C{--cert}, C{--key}) cannot be used.
EXIT_CLIENT_CERTIFICATE: Final = 58
#: After Ctrl-C: 128 + SIGINT, as shells report an interrupted program.
EXIT_INTERRUPTED: Final = 128 + signal.SIGINT
