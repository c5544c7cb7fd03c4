"""
C{twisted-tcp get} (docs/http-client.md): the raw HTTP/1.1 client, saving what it
fetches and printing the head and a progress bar as curl does.
"""

from __future__ import annotations

import argparse
import json
import os
import stat
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from twisted_tcp._http_parser import HTTPError, ResponseHead, parse_content_length
from twisted_tcp._text import neutralise_c1
from twisted_tcp.cli import say
from twisted_tcp.cli.errors import ClientError
from twisted_tcp.cli.exitcodes import EXIT_OK
from twisted_tcp.cli.progress import Progress
from twisted_tcp.httpget import FetchResult, WriteError, fetch, guess_scheme


async def run(reactor: Any, arguments: argparse.Namespace) -> int:
    """
    C{twisted-tcp get}: the raw HTTP/1.1 client. With C{--json}, one summary line
    on standard output whatever the outcome: a failure's has its exit code and
    message too (and the usual line on standard error).
    """
    url = guess_scheme(arguments.url)
    if arguments.json and not arguments.remote_name and arguments.output in {None, "-"}:
        raise ClientError(
            2, "--json prints its summary on standard output: save the body with "
            "-o FILE or -O (-o /dev/null to drop it)",
        )  # fmt: skip
    started = time.monotonic()
    received = 0

    def count(size: int) -> None:
        nonlocal received
        received = size

    try:
        result = await _download(reactor, arguments, url, count)
    except (ClientError, HTTPError) as error:
        if arguments.json:
            summary = {
                "url": getattr(error, "url", None) or url,
                "redirects": getattr(error, "redirects", 0),
                "status": getattr(error, "status", None), "bytes": received,
                "seconds": round(time.monotonic() - started, 6), "sha256": None,
                "saved": None, "exit_code": error.exit_code, "error": str(error),
            }  # fmt: skip
            say(json.dumps(summary))
        raise
    if arguments.json:
        summary = {
            "url": result.url, "redirects": result.redirects, "status": result.status,
            "bytes": result.bytes, "seconds": round(result.seconds, 6),
            "sha256": result.sha256, "saved": result.path, "exit_code": EXIT_OK,
            "error": None,
        }  # fmt: skip
        say(json.dumps(summary))
    return EXIT_OK


async def _download(
    reactor: Any, arguments: argparse.Namespace, url: str, count: Callable[[int], None]
) -> FetchResult:
    """Fetch C{url} as C{get}'s options say; C{count} hears the bytes so far."""
    path = None if arguments.output == "-" else arguments.output
    if arguments.remote_name:
        path = remote_name(url)
    dump = arguments.dump_header
    if path is not None and dump not in (None, "-") and _same_file(path, dump):
        raise ClientError(
            2, f"-D {dump} is the file the body is saved to: the one would overwrite "
            "the other (-i puts the head in the body's file)",
        )  # fmt: skip
    saving = path is not None
    print_head = saving and not arguments.silent and not arguments.json
    progress = Progress(sys.stderr) if saving and not arguments.silent else None

    def on_head(head: ResponseHead) -> None:
        if print_head:
            # Shown, not replayed: the server's C1 controls must not drive the
            # terminal (the parser refuses C0 ones, ESC among them).
            sys.stdout.buffer.write(neutralise_c1(head.raw))
            sys.stdout.flush()
        if dump == "-":
            sys.stdout.buffer.write(head.raw)
            sys.stdout.flush()
        elif dump is not None:
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

    try:
        return await fetch(
            reactor, url, path,
            output=None if saving else sys.stdout.buffer,
            follow_redirects=arguments.location, max_redirects=arguments.max_redirs,
            connect_timeout=arguments.connect_timeout, max_time=arguments.max_time,
            max_filesize=arguments.max_filesize, compressed=arguments.compressed,
            user_agent=arguments.user_agent, cacert=arguments.cacert,
            insecure=arguments.insecure, fail=arguments.fail,
            include_headers=arguments.include, sha256=arguments.json,
            on_head=on_head, on_progress=on_progress,
        )  # fmt: skip
    finally:
        if progress is not None:
            progress.finish()


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
