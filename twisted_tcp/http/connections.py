"""
Carrying one request to its server (docs/http-client.md, "Proxies", "Many URLs"):
on a connection kept in the L{Pool} if one is idle, else on a new one, straight,
through a proxy, or through a proxy's C{CONNECT} tunnel with TLS inside; a failure
to connect becomes curl's error for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from twisted.internet.endpoints import HostnameEndpoint, connectProtocol, wrapClientTLS
from twisted.internet.error import ConnectError, ConnectionRefusedError, DNSLookupError
from twisted.internet.error import TimeoutError as ConnectTimeoutError

from twisted_tcp._text import connection_error_reason
from twisted_tcp.http.errors import (
    CouldNotConnectError,
    CouldNotResolveError,
    CouldNotResolveProxyError,
    EmptyReplyError,
    OperationTimeoutError,
    ReceiveError,
)
from twisted_tcp.http.pool import Pool
from twisted_tcp.http.protocol import GetProtocol, RateLimit, ResponseHandler
from twisted_tcp.http.proxy import Proxy, TunnelProtocol, connect_request
from twisted_tcp.http.tls import client_tls
from twisted_tcp.http.url import Target


@dataclass
class Connections:
    """
    How a fetch reaches servers: C{trust} for TLS (L{client_tls}), the connect
    timeout, C{limit_rate} bytes a second for each response if set, and the
    C{pool} of kept-alive connections, if the fetch shares one.
    """

    reactor: Any
    clock: Any
    trust: Any
    connect_timeout: float
    limit_rate: int | None
    pool: Pool | None

    async def send(
        self, handler: ResponseHandler, target: Target, proxy: Proxy | None,
        request: bytes, bodiless: bool,
    ) -> None:  # fmt: skip
        """
        Send C{request} to C{target} (through C{proxy}) and have C{handler} hear the
        response: on an idle connection of the pool, or, if none is there (or the
        one taken turns out closed before answering), on a new one.
        """
        key = (target.tls, target.host, target.port, proxy)
        if self.pool is not None:
            idle = self.pool.take(key)
            if idle is not None:
                try:
                    await idle.send(
                        request, handler, bodiless=bodiless,
                        limit_rate=self._rate_limit(),
                    )  # fmt: skip
                except (EmptyReplyError, ReceiveError):
                    if handler.response is not None:
                        raise
                else:
                    self.pool.give(key, idle)
                    return
        protocol = GetProtocol(
            request, handler, bodiless=bodiless, limit_rate=self._rate_limit(),
            keep_alive=self.pool is not None,
        )  # fmt: skip
        connection: GetProtocol | TunnelProtocol = protocol
        host, port = (target.host, target.port) if proxy is None else (
            proxy.host, proxy.port,
        )  # fmt: skip
        endpoint: Any = HostnameEndpoint(
            self.reactor, host, port, timeout=self.connect_timeout
        )
        if target.tls and proxy is None:
            endpoint = wrapClientTLS(client_tls(target.host, self.trust), endpoint)
        elif target.tls and proxy is not None:
            connection = TunnelProtocol(
                connect_request(target, proxy),
                client_tls(target.host, self.trust), protocol, proxy,
            )  # fmt: skip
        await self._connect(endpoint, connection, target, proxy)
        await connection.finished
        if self.pool is not None:
            self.pool.opened += 1
            self.pool.give(key, protocol)

    def _rate_limit(self) -> RateLimit | None:
        """A fresh C{--limit-rate} pace for one response, if asked for."""
        if self.limit_rate is None:
            return None
        return RateLimit(self.clock, self.limit_rate)

    async def _connect(
        self, endpoint: Any, protocol: Any, target: Target, proxy: Proxy | None
    ) -> None:
        """Connect C{protocol}, to the server or its proxy, or raise curl's error."""
        if proxy is None:
            where = f"{target.host} port {target.port}"
        else:
            where = f"the proxy {proxy.name}"
        try:
            await connectProtocol(endpoint, protocol)
        except DNSLookupError:
            if proxy is not None:
                raise CouldNotResolveProxyError(
                    f"cannot resolve the proxy {proxy.host}"
                ) from None
            raise CouldNotResolveError(f"cannot resolve {target.host}") from None
        except ConnectTimeoutError:
            raise OperationTimeoutError(
                f"no connection to {where} within {self.connect_timeout:g} s"
            ) from None
        except ConnectError as error:
            failure = CouldNotConnectError(
                f"cannot connect to {where}: {connection_error_reason(error)}"
            )
            failure.refused = isinstance(error, ConnectionRefusedError)
            raise failure from None
