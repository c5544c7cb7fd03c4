"""
One connection to Redis that stays up: it connects, reconnects with exponential backoff
after any loss, and tells its owner when it is ready and when it is lost. Commands
fail at once with L{RedisUnavailableError} while it is down, instead of waiting for
Redis to come back: the chat tells its members right away that a line was not
delivered.

The client is txredisapi (Twisted-native; it logs in, selects the database, runs
scripts by hash), with hiredis parsing the replies. It imports the reactor, so it is
imported here only when a link starts, never at module level.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any, Final

from twisted.internet.defer import Deferred, fail, maybeDeferred, succeed
from twisted.internet.interfaces import (
    IProtocol,
    IProtocolFactory,
    IReactorTime,
    IStreamClientEndpoint,
)
from twisted.logger import Logger, LogPublisher
from twisted.python.failure import Failure
from zope.interface import implementer

from twisted_tcp.chat.cluster.address import RedisAddress

#: Seconds before the first reconnection attempt; each failed attempt doubles it...
INITIAL_DELAY: Final = 0.1
#: ... up to this many seconds between attempts.
MAX_DELAY: Final = 2.0
#: Seconds Redis may take to answer a command before the connection is deemed dead
#: (it is then dropped and made again).
REPLY_TIMEOUT: Final = 5.0

#: One argument of a Redis command.
Argument = str | bytes | int | float


class RedisUnavailableError(Exception):
    """Redis cannot be reached now: not connected, connection lost, or no answer."""


class RedisReplyError(Exception):
    """Redis answered a command with an error."""


class RedisLink:
    """
    A connection to Redis kept up for as long as the link runs.

    @param address: the server.
    @param reactor: connects and times out.
    @param name: what the logs call this link.
    @param on_ready: called each time a connection is ready for commands (logged in,
        database selected).
    @param on_lost: called each time a ready connection is lost.
    @param on_refused: called once with the reason when Redis refuses the login (a
        wrong password, or none where one is needed) or the database; the link
        then stops.
    @param on_unreachable: called with the error each time an attempt to connect
        fails (the link tries again later; it does not log each attempt).
    """

    log = Logger()

    def __init__(
        self,
        address: RedisAddress,
        *,
        reactor: IReactorTime,
        name: str,
        on_ready: Callable[[], object] = lambda: None,
        on_lost: Callable[[], object] = lambda: None,
        on_refused: Callable[[str], object] = lambda reason: None,
        on_unreachable: Callable[[str], object] = lambda error: None,
        reply_timeout: float = REPLY_TIMEOUT,
    ) -> None:
        self.address = address
        self.name = name
        self.on_ready = on_ready
        self.on_lost = on_lost
        self.on_refused = on_refused
        self.on_unreachable = on_unreachable
        self.reply_timeout = reply_timeout
        self._reactor = reactor
        self._factory: Any = None
        self._connection: Any = None

    @property
    def ready(self) -> bool:
        """Whether commands can be sent now."""
        return self._connection is not None

    def start(self) -> None:
        """Connect, and keep connecting whenever the connection is lost."""
        factory = _factory_type()(
            str(self.address),
            self.address.db or None,
            1,
            # Not lazy: so txredisapi does not log refusals itself (on_refused does).
            isLazy=False,
            charset="utf-8",
            password=self.address.password,
            convertNumbers=False,
            username=self.address.username,
        )
        factory.link = self
        # Refusals reach on_refused; the factory's own Deferred must not report them
        # again as an unhandled error.
        factory.deferred.addErrback(lambda _: None)
        self._factory = factory
        factory.startConnecting(
            _Reporting(self.address.endpoint(self._reactor), self._unreachable)
        )

    def stop(self) -> Deferred[None]:
        """Stop reconnecting and close the connection."""
        factory, self._factory = self._factory, None
        if factory is None:
            return succeed(None)
        done: Deferred[Any] = factory.disconnect()
        return done.addCallback(lambda _: None)

    def abort(self) -> None:
        """Drop the connection now (it stopped answering); it will be made again."""
        if self._connection is not None:
            self._connection.transport.abortConnection()

    def execute(
        self, *command: Argument, timeout: float | None = None
    ) -> Deferred[Any]:
        """
        Send one command.

        @param timeout: seconds to wait for the answer (default: the link's reply
            timeout); past it the connection is dropped.
        @return: a L{Deferred} firing with the reply, or failing with
            L{RedisUnavailableError} or L{RedisReplyError}.
        """
        connection = self._connection
        if connection is None:
            return fail(RedisUnavailableError(f"not connected to {self.address}"))
        return self._timed(
            maybeDeferred(connection.execute_command, *command, apply_timeout=False),
            timeout,
        )

    def eval(
        self, script: str, keys: Sequence[Argument], args: Sequence[Argument]
    ) -> Deferred[Any]:
        """Run a Lua script (by its hash once Redis knows it); see L{execute}."""
        connection = self._connection
        if connection is None:
            return fail(RedisUnavailableError(f"not connected to {self.address}"))
        return self._timed(
            maybeDeferred(connection.eval, script, list(keys), list(args)), None
        )

    def _timed(self, result: Deferred[Any], timeout: float | None) -> Deferred[Any]:
        connection = self._connection
        seconds = self.reply_timeout if timeout is None else timeout

        def expired() -> None:
            if connection is self._connection:
                self.log.warn(
                    "{link}: no answer from Redis in {seconds} s; reconnecting",
                    link=self.name,
                    seconds=seconds,
                )
                self.abort()

        timer = self._reactor.callLater(seconds, expired)

        def settled(outcome: object) -> object:
            if timer.active():
                timer.cancel()
            return outcome

        result.addBoth(settled)
        return result.addErrback(self._translate)

    def _translate(self, failure: Failure) -> Failure:
        """Turn the client library's errors into this module's two kinds."""
        import txredisapi

        if failure.check(txredisapi.ConnectionError):
            raise RedisUnavailableError(failure.getErrorMessage())
        if failure.check(txredisapi.ResponseError):
            message = failure.getErrorMessage()
            if message.startswith("NOAUTH"):
                # Redis wants a password the URL does not give: as hopeless as a
                # wrong one, and no command will ever get through.
                self._refused(f"Redis error: {message}")
                raise RedisUnavailableError(message)
            raise RedisReplyError(message)
        return failure

    # Called by the factory.

    def _connected(self, connection: Any) -> None:
        self._connection = connection
        self.log.info(
            "{link}: connected to {address}", link=self.name, address=self.address
        )
        self.on_ready()

    def _disconnected(self, connection: Any) -> None:
        if connection is self._connection:
            self._connection = None
            self.log.info(
                "{link}: connection to {address} lost",
                link=self.name,
                address=self.address,
            )
            self.on_lost()

    def _unreachable(self, failure: Failure) -> Failure:
        if self._factory is not None:
            self.on_unreachable(failure.getErrorMessage())
        return failure

    def _refused(self, reason: str) -> None:
        """Redis refused this link: stop trying, and tell the owner (who logs it)."""
        if self._factory is None:
            return
        self.stop().addErrback(lambda _: None)
        self.on_refused(reason)


@implementer(IStreamClientEndpoint)
class _Reporting:
    """An endpoint whose failures to connect are reported, then passed on."""

    def __init__(
        self,
        endpoint: IStreamClientEndpoint,
        failed: Callable[[Failure], Failure],
    ) -> None:
        self._endpoint = endpoint
        self._failed = failed

    def connect(self, factory: IProtocolFactory) -> Deferred[IProtocol]:
        return self._endpoint.connect(factory).addErrback(self._failed)


@cache
def _factory_type() -> type:
    """txredisapi's connection factory, with our backoff and our notifications."""
    import txredisapi
    from twisted.application.internet import ClientService

    class QuietService(ClientService):
        # Twisted's ClientService logs every retry (to a publisher with no
        # observer here); the link reports failures to its owner instead, which
        # says when the state changes (docs/cluster.md).
        _log = Logger(observer=LogPublisher())

    class LinkFactory(txredisapi.RedisFactory):  # type: ignore[misc]
        # hiredis parses each read as it arrives. txredisapi's pure-Python parser
        # (its choice when hiredis is missing) pauses the connection and waits for
        # the next reactor turn after every string of a reply: a read of a room's
        # log cost a turn and two epoll calls per field of every entry.
        protocol = txredisapi.HiredisProtocol
        initialDelay = INITIAL_DELAY
        maxDelay = MAX_DELAY
        factor = 2.0
        link: RedisLink

        def startConnecting(self, endpoint: IStreamClientEndpoint) -> None:
            # As txredisapi's own, with slots whose service does not log retries.
            for _ in range(self.poolsize):
                slot = txredisapi._PoolSlot(self, endpoint, self.reconnect)
                slot.service = QuietService(
                    endpoint,
                    txredisapi._SlotFactory(self, slot),
                    retryPolicy=slot._retryDelay,
                    prepareConnection=slot._prepareConnection,
                )
                self.slots.append(slot)
                slot.start()

        def addConnection(self, connection: Any) -> None:
            super().addConnection(connection)
            if connection in self.pool:
                self.link._connected(connection)

        def delConnection(self, connection: Any) -> None:
            super().delConnection(connection)
            self.link._disconnected(connection)

        def connectionError(self, why: str) -> None:
            super().connectionError(why)
            self.link._refused(why)

    return LinkFactory
