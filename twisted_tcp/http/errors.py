"""
Every failure of the HTTP client, one class per curl exit code (the table is in
docs/http-client.md, "Exit codes"). A message built from what the server sent shows
it through L{shown}, so the server's controls never reach a terminal or a log raw.
"""

from __future__ import annotations

import re


class HTTPError(Exception):
    """
    A failure of the HTTP client; C{exit_code} is curl's number for it.

    L{twisted_tcp.http.fetch} tells where it happened: C{url}, the request that
    failed (after any redirects); C{status}, that of the response head received,
    if one was; C{redirects}, how many were followed before; C{attempts}, how many
    times the transfer was tried.
    """

    exit_code = 1
    url: str | None = None
    status: int | None = None
    redirects: int = 0
    attempts: int = 1


class UnsupportedSchemeError(HTTPError):
    """The URL's scheme is not http or https."""

    exit_code = 1


class BadURLError(HTTPError):
    """The URL is malformed or holds characters that could forge a request."""

    exit_code = 3


class CouldNotResolveProxyError(HTTPError):
    """The proxy's host name does not resolve."""

    exit_code = 5


class CouldNotResolveError(HTTPError):
    """The host name does not resolve."""

    exit_code = 6


class CouldNotConnectError(HTTPError):
    """
    The server could not be reached; C{refused} if it answered that nothing
    listens there (a reset to the connection attempt).
    """

    exit_code = 7
    refused = False


class MalformedResponseError(HTTPError):
    """The response breaks HTTP/1.1 syntax or our limits."""

    exit_code = 8


class ShortBodyError(HTTPError):
    """The connection ended before the announced body did."""

    exit_code = 18


class HTTPStatusError(HTTPError):
    """With C{fail}: the server answered 400 or more."""

    exit_code = 22


class WriteError(HTTPError):
    """The body could not be written to its destination."""

    exit_code = 23


class OperationTimeoutError(HTTPError):
    """The connection or the whole transfer took too long."""

    exit_code = 28


class TooManyRedirectsError(HTTPError):
    """More redirects than allowed."""

    exit_code = 47


class EmptyReplyError(HTTPError):
    """The server closed the connection without a byte of response."""

    exit_code = 52


class ReceiveError(HTTPError):
    """The connection broke while the response was arriving."""

    exit_code = 56


class TransientStatusError(HTTPError):
    """
    The server answered a status worth trying again for (503, ...) and an attempt
    is left: the response is dropped and the transfer retried. It never leaves
    L{twisted_tcp.http.fetch}; its C{retry_after} is what the server asked for.
    """

    def __init__(self, message: str, retry_after: float | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RangeError(HTTPError):
    """A resumed transfer got a range other than the one asked for, or none."""

    exit_code = 33


class ChecksumError(HTTPError):
    """
    The body's SHA-256 is not the one C{expect_sha256} named. curl has no number
    for it: 120 lies past all of curl's.
    """

    exit_code = 120


class ProxyTunnelError(HTTPError):
    """The proxy answered C{CONNECT} with another status than 2xx (407, 403, ...)."""

    exit_code = 56


class ProxyHandshakeError(HTTPError):
    """The proxy's answer to C{CONNECT} was not HTTP, or never came."""

    exit_code = 97


class CertificateError(HTTPError):
    """The server's TLS certificate could not be verified."""

    exit_code = 60


class BadTransferEncodingError(HTTPError):
    """An unknown transfer coding, or a broken chunked body or gzip stream."""

    exit_code = 61


class FileTooLargeError(HTTPError):
    """The body is over C{max_filesize}."""

    exit_code = 63


class CACertError(HTTPError):
    """The C{cacert} file cannot be read or holds no PEM certificate."""

    exit_code = 77


#: C0 controls, DEL and C1 controls (CSI U+009B among them), and the surrogate
#: escapes standing for bytes that were not text.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\udc80-\udcff]")


def server_text(value: str) -> str:
    """
    A reason phrase or field value (which the parser decodes as Latin-1, byte for
    byte) as the text the server most likely meant: its bytes read as UTF-8, any
    that are not kept as surrogate escapes. A C{Location} read so is percent-encoded
    byte for byte by L{twisted_tcp.http.url.parse_url}, whatever its charset.
    """
    return value.encode("latin-1").decode("utf-8", "surrogateescape")


def shown(text: str) -> str:
    """
    Server text fit for a message: every C0 and C1 control, DEL and stray byte
    written as C{\\xNN}, so a reason phrase or a Location can neither drive the
    terminal nor split a log line.
    """
    return _CONTROLS.sub(lambda match: f"\\x{ord(match[0]) & 0xFF:02x}", text)
