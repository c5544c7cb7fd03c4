"""
C{twisted-tcp get} (docs/http-client.md): the raw HTTP/1.1 client, saving what it
fetches and printing the head and a progress bar as curl does, for one URL or many.
"""

from __future__ import annotations

import argparse
import json
import os
import stat
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from twisted.internet.defer import Deferred, DeferredSemaphore, gatherResults

from twisted_tcp._checks import BadValueError
from twisted_tcp._text import neutralise_c1
from twisted_tcp.cli import complain, say
from twisted_tcp.cli.errors import ClientError
from twisted_tcp.cli.exitcodes import EXIT_OK
from twisted_tcp.cli.get_options import REMOTE, fetch_options, save_etag
from twisted_tcp.cli.progress import Overall, Progress
from twisted_tcp.http import FetchOptions, FetchResult, HTTPError, WriteError, fetch
from twisted_tcp.http.parser import ResponseHead, parse_content_length
from twisted_tcp.http.pool import Pool
from twisted_tcp.http.url import guess_scheme


@dataclass(frozen=True)
class Transfer:
    """
    One URL of the run, where its body goes (C{None}: standard output), and how it
    is fetched.
    """

    url: str
    path: str | None
    options: FetchOptions


def plan(arguments: argparse.Namespace) -> list[Transfer]:
    """
    Pair each URL with its C{-o FILE} or C{-O}, in order, as curl does; a URL
    without one goes to standard output, or with C{--remote-name-all} to the file
    its path names.

    @raise ClientError: for more -o/-O than URLs, or what --json or -Z cannot do.
    """
    urls = [guess_scheme(url) for url in arguments.url]
    outputs = arguments.outputs or []
    if len(outputs) > len(urls):
        raise ClientError(2, f"{len(outputs)} -o/-O for {len(urls)} URL(s)")
    transfers = []
    # The same for every URL of a host (they differ in netrc credentials only).
    by_host: dict[str, FetchOptions] = {}
    for number, url in enumerate(urls):
        host = urlsplit(url).hostname or ""
        if host not in by_host:
            by_host[host] = _fetch_options(arguments, url)
        output = outputs[number] if number < len(outputs) else None
        if output == REMOTE or (output is None and arguments.remote_name_all):
            path: str | None = remote_name(url)
        else:
            path = None if output in (None, "-") else output
        transfers.append(Transfer(url, path, by_host[host]))
    to_stdout = [transfer for transfer in transfers if transfer.path is None]
    if arguments.json and to_stdout:
        raise ClientError(
            2, "--json prints its summary on standard output: save the body with "
            "-o FILE or -O (-o /dev/null to drop it)",
        )  # fmt: skip
    if arguments.parallel and len(to_stdout) > 1:
        raise ClientError(
            2, "-Z would mix several bodies on standard output: give each -o or -O"
        )
    if arguments.remote_header_name and all(
        transfer.path is None for transfer in transfers
    ):
        raise ClientError(2, "-J names the file -O saves to: give -O too")
    return transfers


def _fetch_options(arguments: argparse.Namespace, url: str) -> FetchOptions:
    """What the options say for C{url}; a value found wrong only now is exit 2."""
    try:
        return fetch_options(
            vars(arguments), url, sha256=arguments.json,
            include_headers=arguments.include or arguments.head,
        )  # fmt: skip
    except BadValueError as error:
        raise ClientError(2, str(error)) from None


async def run(reactor: Any, arguments: argparse.Namespace) -> int:
    """
    C{twisted-tcp get}: the raw HTTP/1.1 client, for one URL or many (in turn, or
    with C{-Z} several at once), over connections kept open between them. Each
    failure is one line on standard error; with C{--json}, each URL has a summary
    line on standard output, a failure's with its exit code and message. The exit
    code is the last failure's, as curl's.
    """
    transfers = plan(arguments)
    several = len(transfers) > 1
    total = Overall(sys.stderr, len(transfers)) if several else None
    if total is not None and arguments.silent:
        total = None
    pool = Pool()
    codes: list[int] = [EXIT_OK] * len(transfers)

    async def one(number: int) -> None:
        codes[number] = await _transfer(
            reactor, arguments, transfers[number], pool, total, several
        )

    try:
        if arguments.parallel:
            limit = DeferredSemaphore(arguments.parallel_max)
            await gatherResults(
                [limit.run(Deferred.fromCoroutine, one(number))
                 for number in range(len(transfers))],
                consumeErrors=True,
            )  # fmt: skip
        else:
            for number in range(len(transfers)):
                await one(number)
    finally:
        pool.close()
        if total is not None:
            total.finish()
    failed = [code for code in codes if code != EXIT_OK]
    return failed[-1] if failed else EXIT_OK


async def _transfer(
    reactor: Any, arguments: argparse.Namespace, transfer: Transfer, pool: Pool,
    total: Overall | None, several: bool,
) -> int:  # fmt: skip
    """
    Fetch one URL; its exit code. Alone, a failure propagates (one line, by the
    command); among several, it is told here and the run goes on.
    """
    started = time.monotonic()
    received = 0

    def count(size: int) -> None:
        nonlocal received
        if total is not None:
            total.add(size - received)
        received = size

    try:
        result = await _download(reactor, arguments, transfer, count, pool, several)
    except (ClientError, HTTPError) as error:
        if arguments.json:
            summary = {
                "url": getattr(error, "url", None) or transfer.url,
                "redirects": getattr(error, "redirects", 0),
                "status": getattr(error, "status", None), "bytes": received,
                "seconds": round(time.monotonic() - started, 6), "sha256": None,
                "saved": None, "exit_code": error.exit_code, "error": str(error),
                "attempts": getattr(error, "attempts", 1),
            }  # fmt: skip
            say(json.dumps(summary))
        if not several:
            raise
        complain(str(error))
        if total is not None:
            total.done()
        return error.exit_code
    if total is not None:
        total.done()
    if arguments.json:
        summary = {
            "url": result.url, "redirects": result.redirects, "status": result.status,
            "bytes": result.bytes, "seconds": round(result.seconds, 6),
            "sha256": result.sha256, "saved": result.path, "exit_code": EXIT_OK,
            "error": None, "attempts": result.attempts,
        }  # fmt: skip
        say(json.dumps(summary))
    return EXIT_OK


async def _download(
    reactor: Any, arguments: argparse.Namespace, transfer: Transfer,
    count: Callable[[int], None], pool: Pool, several: bool,
) -> FetchResult:  # fmt: skip
    """
    Fetch C{transfer} as C{get}'s options say; C{count} hears the bytes so far.
    A lone transfer has its own progress bar; several share the run's line.
    """
    url, path, options = transfer.url, transfer.path, transfer.options
    dump = arguments.dump_header
    if path is not None and dump not in (None, "-") and _same_file(path, dump):
        raise ClientError(
            2, f"-D {dump} is the file the body is saved to: the one would overwrite "
            "the other (-i puts the head in the body's file)",
        )  # fmt: skip
    saving = path is not None
    # With -I, the head is what is saved: it is not printed as well.
    print_head = (
        saving and not arguments.silent and not arguments.json and not arguments.head
    )
    progress = None
    if saving and not arguments.silent and not several:
        progress = Progress(sys.stderr)

    def on_head(head: ResponseHead) -> None:
        if print_head:
            # Shown, not replayed: the server's C1 controls must not drive the
            # terminal (the parser refuses C0 ones, ESC among them). -D - asks
            # for the same head on the same output: it is printed once.
            sys.stdout.buffer.write(neutralise_c1(head.raw))
            sys.stdout.flush()
        elif dump == "-":
            sys.stdout.buffer.write(head.raw)
            sys.stdout.flush()
        if dump not in (None, "-"):
            try:
                Path(dump).write_bytes(head.raw)
            except OSError as error:
                raise WriteError(f"cannot write {dump}: {error.strerror}") from None
        if progress is not None:
            lengths = head.get_all("Content-Length")
            progress.start(parse_content_length(lengths) if lengths else None)

    def on_progress(size: int) -> None:
        count(size)
        if progress is not None:
            progress.update(size)

    def on_retry(attempt: int, pause: float, error: HTTPError) -> None:
        left = options.retry.retries - attempt
        complain(f"{error}; trying again in {pause:.3g} s ({left} more tries left)")

    try:
        result = await fetch(
            reactor, url, path, options,
            output=None if saving else sys.stdout.buffer,
            on_head=on_head, on_progress=on_progress, on_retry=on_retry,
            pool=pool if several else None,
        )  # fmt: skip
    finally:
        if progress is not None:
            progress.finish()
    save_etag(arguments.etag_save, result)
    return result


def _same_file(first: str, second: str) -> bool:
    """
    Whether two names reach the same regular file (or would, once created),
    whatever their spelling or the symbolic links on the way. Two names for one
    character device or FIFO (C{/dev/null}) may well be both written to.
    """
    try:
        same = os.path.samefile(first, second)
        mode = os.stat(first).st_mode
    except OSError:
        # One of them does not exist yet: the same if they resolve to one name.
        return os.path.realpath(first) == os.path.realpath(second)
    return same and not (stat.S_ISCHR(mode) or stat.S_ISFIFO(mode))


def remote_name(url: str) -> str:
    """C{-O}: the file name is the last segment of the URL's path."""
    name = urlsplit(url).path.rsplit("/", 1)[-1]
    if name in ("", ".", ".."):
        raise WriteError(f"no file name in the URL's path: {url}")
    return name
