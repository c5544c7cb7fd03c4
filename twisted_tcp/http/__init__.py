"""
The HTTP/1.1 client behind C{twisted-tcp get} and C{twist http-get}, written on
Twisted's protocols (docs/http-client.md)::

    url        checking and splitting a URL
    request    the request sent
    parser     the response parser: the head, then a reader for the body
    readers    the received bytes, and one reader per body framing
    body       a body on its way: decoding, the size limit, hashing
    decoding   content codings (gzip, deflate) undone in capped steps
    sinks      where a body's bytes go: a stream, a device in place, an atomic file
    targets    what C{-o PATH} names, and the C{-J} file name
    splice     an identity body moved from socket to file in the kernel
    tls        the CA file and the server identity check
    protocol   one request and its response on one connection (kept alive if asked)
    pool       connections kept open between the fetches of a run
    proxy      choosing a proxy as curl does; the CONNECT tunnel
    connections  carrying a request: a pooled or new connection, straight or proxied
    resume     resuming from kept bytes without splicing two versions
    retry      when and how soon a transfer is tried again
    options    what L{fetch} is asked (L{FetchOptions}) and answers (L{FetchResult})
    hop        one request of a fetch: what the response head means
    fetch      L{fetch}: redirects, retries, the place of a failure
    errors     every failure, one class per curl exit code
"""

from __future__ import annotations

from twisted_tcp.http.errors import (
    BadTransferEncodingError,
    BadURLError,
    CACertError,
    CertificateError,
    ChecksumError,
    CouldNotConnectError,
    CouldNotResolveError,
    EmptyReplyError,
    FileTooLargeError,
    HTTPError,
    HTTPStatusError,
    MalformedResponseError,
    OperationTimeoutError,
    RangeError,
    ReceiveError,
    ShortBodyError,
    TooManyRedirectsError,
    UnsupportedSchemeError,
    WriteError,
)
from twisted_tcp.http.fetch import fetch
from twisted_tcp.http.options import FetchOptions, FetchResult
from twisted_tcp.http.protocol import GetProtocol

__all__ = [
    "BadTransferEncodingError",
    "BadURLError",
    "CACertError",
    "CertificateError",
    "ChecksumError",
    "CouldNotConnectError",
    "CouldNotResolveError",
    "EmptyReplyError",
    "FetchOptions",
    "FetchResult",
    "FileTooLargeError",
    "GetProtocol",
    "HTTPError",
    "HTTPStatusError",
    "MalformedResponseError",
    "OperationTimeoutError",
    "RangeError",
    "ReceiveError",
    "ShortBodyError",
    "TooManyRedirectsError",
    "UnsupportedSchemeError",
    "WriteError",
    "fetch",
]
