"""
C{twist http-get URL --output FILE}: the raw HTTP client (docs/http-client.md) as a
one-shot service. It fetches once, saves atomically, logs the result (a failure at
error level), and stops the reactor.
"""

from __future__ import annotations

import getopt
import sys
from collections.abc import Sequence
from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python import usage

from twisted_tcp._checks import BadValueError
from twisted_tcp._logging import readable_logs
from twisted_tcp.cli.get_options import add_to_usage, fetch_options, save_etag
from twisted_tcp.http import HTTPError, fetch
from twisted_tcp.http.errors import server_text, shown
from twisted_tcp.http.url import guess_scheme
from twisted_tcp.tap._common import (
    prefer_lean_reactor,
)


class Options(usage.Options):
    """
    Options of C{twist http-get}: C{--output} and those of C{twisted-tcp get} that
    make sense for a one-shot service (L{twisted_tcp.cli.get_options}).
    """

    synopsis = "URL --output FILE [options]"
    longdesc = "Fetch URL once with the raw HTTP/1.1 client, save it, and stop."
    optFlags: list[list[str | None]] = []
    optParameters: list[list[Any]] = [
        ["output", "o", None, "Save the body to FILE (required)."],
    ]

    def parseOptions(self, options: Sequence[str] | None = None) -> None:
        """
        Accept the URL anywhere among the options (C{URL -o F}, C{-L URL -o F},
        C{-o F URL}), as GNU-style commands do: the arguments are put in the order
        Twisted's parser (plain getopt, which stops at the first argument) needs,
        options first.
        """
        argv = list(sys.argv[1:] if options is None else options)
        if "--_shell-completion" in argv:
            super().parseOptions(argv)
            return
        try:
            found, arguments = getopt.gnu_getopt(argv, self.shortOpt, self.longOpt)
        except getopt.GetoptError as error:
            raise usage.UsageError(str(error)) from None
        ordered: list[str] = []
        for option, value in found:
            if f"{option[2:]}=" in self.longOpt:
                ordered.append(f"{option}={value}")
            elif option[1:2] + ":" in self.shortOpt:
                ordered += [option, value]
            else:
                ordered.append(option)
        super().parseOptions([*ordered, "--", *arguments])

    def parseArgs(self, *urls: str) -> None:
        if not urls:
            raise usage.UsageError("the URL to fetch is missing")
        if len(urls) > 1:
            raise usage.UsageError(f"one URL at a time (got {len(urls)})")
        self["url"] = guess_scheme(urls[0])

    def postOptions(self) -> None:
        prefer_lean_reactor()
        if not self["output"]:
            raise usage.UsageError("--output FILE is required")
        try:
            self["fetch"] = fetch_options(self, self["url"], sha256=True)
        except BadValueError as error:
            raise usage.UsageError(str(error)) from None


add_to_usage(Options)


class FetchOnce(Service):
    """Fetches when started, logs the outcome, then stops the reactor."""

    log = Logger()

    def __init__(self, reactor: Any, options: Options) -> None:
        self.reactor = reactor
        self.options = options
        self.done: Deferred[None] | None = None

    def startService(self) -> None:
        super().startService()
        self.done = Deferred.fromCoroutine(self._fetch())

    async def _fetch(self) -> None:
        options = self.options
        try:
            result = await fetch(
                self.reactor, options["url"], options["output"], options["fetch"],
                on_retry=self._retrying,
            )  # fmt: skip
            save_etag(options["etag-save"], result)
        except HTTPError as error:
            self.log.error(
                "http-get {url} failed (exit code {code}): {error}",
                url=options["url"], code=error.exit_code, error=str(error),
            )  # fmt: skip
        else:
            self.log.info(
                "http-get {url}: {status} {reason}, {size} bytes saved to {path} "
                "(sha256 {sha256}, {redirects} redirects, {seconds:.3f} s)",
                url=result.url, status=result.status,
                reason=shown(server_text(result.reason)), size=result.bytes,
                path=result.path, sha256=result.sha256,
                redirects=result.redirects, seconds=result.seconds,
            )  # fmt: skip
        finally:
            if self.reactor.running:
                self.reactor.stop()

    def _retrying(self, attempt: int, pause: float, error: HTTPError) -> None:
        self.log.warn(
            "http-get {url}: {error}; trying again in {pause:.3g} s "
            "({left} more tries left)",
            url=self.options["url"], error=str(error), pause=pause,
            left=self.options["fetch"].retry.retries - attempt,
        )  # fmt: skip


def makeService(options: Options) -> FetchOnce:
    from twisted.internet import reactor

    readable_logs()
    return FetchOnce(reactor, options)
