"""
The names C{twisted_tcp.cli} takes from the HTTP client's parser while it still
imports them from here; the parser is L{twisted_tcp.http.parser}.
"""

from __future__ import annotations

from twisted_tcp.http.errors import HTTPError
from twisted_tcp.http.parser import ResponseHead, parse_content_length

__all__ = ["HTTPError", "ResponseHead", "parse_content_length"]
