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

from twisted_tcp._checks import non_negative_int, positive_seconds
from twisted_tcp._defaults import DEFAULT_MAX_REDIRECTS, DEFAULT_USER_AGENT
from twisted_tcp._logging import readable_logs
from twisted_tcp.http import FetchOptions, HTTPError, fetch
from twisted_tcp.http.errors import server_text, shown
from twisted_tcp.http.url import guess_scheme
from twisted_tcp.tap._common import (
    prefer_lean_reactor,
)


class Options(usage.Options):
    """Options of C{twist http-get}, named like C{twisted-tcp get}'s long options."""

    synopsis = "URL --output FILE [options]"
    longdesc = "Fetch URL once with the raw HTTP/1.1 client, save it, and stop."
    optFlags = [
        ["location", "L", "Follow redirects."],
        ["fail", "f", "Fail on HTTP status 400 or more."],
        ["compressed", None, "Ask for gzip or deflate and decode every coding."],
        ["insecure", "k", "Do not verify the server's certificate."],
    ]
    optParameters = [
        ["output", "o", None, "Save the body to FILE (required)."],
        ["max-redirs", None, DEFAULT_MAX_REDIRECTS, "Most redirects to follow",
         non_negative_int],
        ["connect-timeout", None, 30.0, "Seconds allowed to connect",
         positive_seconds],
        ["max-time", "m", None, "Seconds allowed for the whole transfer",
         positive_seconds],
        ["max-filesize", None, None, "Largest body accepted, in bytes",
         non_negative_int],
        ["user-agent", "A", DEFAULT_USER_AGENT, "User-Agent header."],
        ["cacert", None, None, "Trust the CA certificate(s) in this PEM file."],
    ]  # fmt: skip

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
            chosen = FetchOptions(
                follow_redirects=bool(options["location"]),
                max_redirects=options["max-redirs"],
                connect_timeout=options["connect-timeout"],
                max_time=options["max-time"], max_filesize=options["max-filesize"],
                compressed=bool(options["compressed"]),
                user_agent=options["user-agent"], cacert=options["cacert"],
                insecure=bool(options["insecure"]), fail=bool(options["fail"]),
            )  # fmt: skip
            result = await fetch(
                self.reactor, options["url"], options["output"], chosen
            )
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


def makeService(options: Options) -> FetchOnce:
    from twisted.internet import reactor

    readable_logs()
    return FetchOnce(reactor, options)
