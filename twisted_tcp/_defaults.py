"""
Defaults the C{twisted-tcp} command shows in its help, apart from the code that uses
them, so that C{twisted-tcp --help} imports no network code.
"""

from __future__ import annotations

from typing import Final

from twisted_tcp._version import __version__

DEFAULT_USER_AGENT: Final = f"twisted-tcp/{__version__}"
DEFAULT_MAX_REDIRECTS: Final = 20
