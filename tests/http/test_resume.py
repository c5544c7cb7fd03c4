"""
Tests for L{twisted_tcp.http.resume} and the retries of L{twisted_tcp.http.fetch}:
a transfer cut off goes on from the bytes kept, with C{Range} and C{If-Range}, and
never splices two versions of a file; against nginx and a scripted server that
resets, changes the file between attempts, or answers the wrong range.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.task import Clock

from twisted_tcp.http import (
    ChecksumError,
    CouldNotConnectError,
    FetchOptions,
    HTTPError,
    HTTPStatusError,
    RangeError,
    fetch,
)
from twisted_tcp.http.resume import Validator
from twisted_tcp.http.retry import RetryPolicy

from ..redis_support import free_port
from .peers import Nginx, nginx_serving
from .scripted import Answer, Request, ScriptedServer

FILE = os.urandom(3 << 20)
CHANGED = os.urandom(3 << 20)
RESUME = FetchOptions(resume=True)
#: Retries without a pause, for the tests that are not about the pause.
AT_ONCE = RetryPolicy(retries=3, delay=0)


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[Nginx]:
    """nginx serving FILE as /file."""
    with nginx_serving(tmp_path, {"file": FILE}) as server:
        yield server


async def cut_off(reactor: Any, url: str, target: Path) -> None:
    """Fetch with C{-C -}, cancelled at the first body bytes (as Ctrl-C does)."""
    options = FetchOptions(resume=True, limit_rate=1 << 20)
    running: Deferred[Any]

    def cancel(size: int) -> None:
        reactor.callLater(0, running.cancel)

    running = Deferred.fromCoroutine(
        fetch(reactor, url, str(target), options, on_progress=cancel)
    )
    with pytest.raises(CancelledError):
        await running


def part(target: Path) -> Path:
    return target.with_name(target.name + ".part")


@pytest_twisted.ensureDeferred
async def test_resume_from_kept_bytes(
    reactor: Any, nginx: Nginx, tmp_path: Path
) -> None:
    """A download cut off is kept beside the target, then resumed with a range."""
    target = tmp_path / "saved"
    await cut_off(reactor, f"{nginx.url}/file", target)
    kept = part(target).stat().st_size
    assert 0 < kept < len(FILE) and not target.exists()
    result = await fetch(reactor, f"{nginx.url}/file", str(target), RESUME)
    assert target.read_bytes() == FILE
    assert (result.status, result.bytes) == (206, len(FILE))
    assert result.sha256 == hashlib.sha256(FILE).hexdigest()
    assert nginx.log(2)[-1].endswith(f'206 "GET /file HTTP/1.1" bytes={kept}-')
    assert not list(tmp_path.glob("saved.part*"))


@pytest_twisted.ensureDeferred
async def test_changed_file_starts_over(
    reactor: Any, nginx: Nginx, tmp_path: Path
) -> None:
    """If the file changed since the kept bytes, If-Range makes nginx send it whole."""
    target = tmp_path / "saved"
    await cut_off(reactor, f"{nginx.url}/file", target)
    kept = part(target).stat().st_size
    changed = nginx.root / "file"
    changed.write_bytes(CHANGED)
    os.utime(changed, (1, 1))  # Another Last-Modified, so another ETag.
    result = await fetch(reactor, f"{nginx.url}/file", str(target), RESUME)
    assert (result.status, target.read_bytes() == CHANGED) == (200, True)
    assert nginx.log(2)[-1].endswith(f'200 "GET /file HTTP/1.1" bytes={kept}-')


@pytest_twisted.ensureDeferred
async def test_kept_whole_file_is_complete_on_416(
    reactor: Any, nginx: Nginx, tmp_path: Path
) -> None:
    """Kept bytes that are the whole file: nginx answers 416 and they are saved."""
    head = await fetch(reactor, f"{nginx.url}/file", None, FetchOptions(head=True))
    etag = dict(head.headers)["ETag"]
    target = tmp_path / "saved"
    part(target).write_bytes(FILE)
    validator = Validator(f"{nginx.url}/file", etag, None, len(FILE))
    part(target).with_suffix(".part.json").write_text(json.dumps(asdict(validator)))
    result = await fetch(reactor, f"{nginx.url}/file", str(target), RESUME)
    assert (result.status, result.bytes, target.read_bytes() == FILE) == (
        416, len(FILE), True,
    )  # fmt: skip
    assert not part(target).exists()


@pytest_twisted.ensureDeferred
async def test_expected_sha256_checked_before_rename(
    reactor: Any, nginx: Nginx, tmp_path: Path
) -> None:
    """A body with another SHA-256 than expected is exit 120; the target stays."""
    target = tmp_path / "saved"
    target.write_bytes(b"old")
    wrong = FetchOptions(expect_sha256="0" * 64)
    with pytest.raises(ChecksumError) as caught:
        await fetch(reactor, f"{nginx.url}/file", str(target), wrong)
    assert caught.value.exit_code == 120
    assert target.read_bytes() == b"old"
    right = FetchOptions(expect_sha256=hashlib.sha256(FILE).hexdigest())
    await fetch(reactor, f"{nginx.url}/file", str(target), right)
    assert target.read_bytes() == FILE


# Faults staged by a scripted server.

ETAG = b'"v1"'


def whole(body: bytes, etag: bytes = ETAG, cut: int | None = None) -> Answer:
    """A 200 for C{body}; only its first C{cut} bytes if asked, then a stall."""
    head = b"HTTP/1.1 200 OK\r\nETag: %s\r\nContent-Length: %d\r\n\r\n" % (
        etag, len(body),
    )  # fmt: skip
    if cut is None:
        return Answer(head + body)
    return Answer(head + body[:cut], end="stall")


def rest(body: bytes, first: int, stated_first: int | None = None) -> Answer:
    """A 206 for C{body} from C{first} on (claiming C{stated_first} if given)."""
    claimed = first if stated_first is None else stated_first
    return Answer(
        b"HTTP/1.1 206 Partial Content\r\nETag: %s\r\nContent-Length: %d\r\n"
        b"Content-Range: bytes %d-%d/%d\r\n\r\n"
        % (ETAG, len(body) - first, claimed, len(body) - 1, len(body))
        + body[first:]
    )


@pytest_twisted.async_yield_fixture
async def scripted(reactor: Any) -> AsyncIterator[Callable[..., ScriptedServer]]:
    """Start a scripted server answering with the given Answers in turn."""
    servers: list[ScriptedServer] = []

    def start(*answers: Answer) -> ScriptedServer:
        queue = list(answers)

        def answer(request: Request) -> Answer:
            return queue.pop(0)

        servers.append(ScriptedServer(reactor, answer))
        return servers[-1]

    yield start
    for server in servers:
        await server.stop()


SMALL = os.urandom(200_000)


@pytest_twisted.ensureDeferred
async def test_reset_mid_body_resumed_by_retry(
    reactor: Any, scripted: Callable[..., ScriptedServer], tmp_path: Path
) -> None:
    """
    A connection reset mid-body (once the client has read 70,000 bytes) is retried
    from where it broke, with Range and If-Range.
    """
    server = scripted(whole(SMALL, cut=70_000), rest(SMALL, 70_000))
    target = tmp_path / "saved"
    retried: list[tuple[int, float, int]] = []

    result = await fetch(
        reactor, server.url + "/f", str(target), FetchOptions(retry=AT_ONCE),
        on_progress=server.reset_at(70_000),
        on_retry=lambda n, pause, error: retried.append((n, pause, error.exit_code)),
    )  # fmt: skip
    assert target.read_bytes() == SMALL
    assert (result.attempts, retried) == (2, [(1, 0, 56)])
    again = server.requests[1].fields
    assert (again["range"], again["if-range"]) == ("bytes=70000-", '"v1"')
    assert list(tmp_path.iterdir()) == [target]


@pytest_twisted.ensureDeferred
async def test_file_changed_between_attempts(
    reactor: Any, scripted: Callable[..., ScriptedServer], tmp_path: Path
) -> None:
    """A retry that gets a 200 (the file changed) starts over: one version saved."""
    other = os.urandom(150_000)
    server = scripted(whole(SMALL, cut=70_000), whole(other, etag=b'"v2"'))
    target = tmp_path / "saved"
    await fetch(
        reactor, server.url, str(target), FetchOptions(retry=AT_ONCE),
        on_progress=server.reset_at(70_000),
    )  # fmt: skip
    assert target.read_bytes() == other


@pytest_twisted.ensureDeferred
async def test_wrong_content_range_refused(
    reactor: Any, scripted: Callable[..., ScriptedServer], tmp_path: Path
) -> None:
    """A 206 for another range than asked is exit 33; nothing is saved."""
    server = scripted(whole(SMALL, cut=70_000), rest(SMALL, 70_000, stated_first=0))
    target = tmp_path / "saved"
    with pytest.raises(RangeError) as caught:
        await fetch(
            reactor, server.url, str(target), FetchOptions(retry=AT_ONCE),
            on_progress=server.reset_at(70_000),
        )  # fmt: skip
    assert (caught.value.exit_code, caught.value.attempts) == (33, 2)
    assert list(tmp_path.iterdir()) == []


@pytest_twisted.ensureDeferred
async def test_retry_after_honoured(
    reactor: Any, scripted: Callable[..., ScriptedServer], tmp_path: Path
) -> None:
    """A 503 with Retry-After: 7 is tried again 7 s later (on a test clock)."""
    busy = Answer(b"HTTP/1.1 503 Busy\r\nRetry-After: 7\r\nContent-Length: 0\r\n\r\n")
    server = scripted(busy, whole(SMALL))
    clock = Clock()
    pauses: list[float] = []

    def on_retry(attempt: int, pause: float, error: HTTPError) -> None:
        pauses.append(pause)
        reactor.callLater(0, clock.advance, pause)

    options = FetchOptions(retry=RetryPolicy(retries=1), fail=True)
    result = await fetch(
        reactor, server.url, str(tmp_path / "x"), options, on_retry=on_retry,
        clock=clock,
    )  # fmt: skip
    assert (pauses, result.status, result.attempts) == ([7.0], 200, 2)


@pytest_twisted.ensureDeferred
async def test_last_transient_status_is_the_answer(
    reactor: Any, scripted: Callable[..., ScriptedServer]
) -> None:
    """When no attempt is left, a 503 is the answer: with -f, exit 22."""
    busy = Answer(b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n")
    server = scripted(busy, busy)
    options = FetchOptions(retry=RetryPolicy(retries=1, delay=0), fail=True)
    with pytest.raises(HTTPStatusError) as caught:
        await fetch(reactor, server.url, None, options)
    assert (caught.value.status, caught.value.attempts) == (503, 2)


@pytest_twisted.ensureDeferred
async def test_not_found_not_retried(
    reactor: Any, scripted: Callable[..., ScriptedServer]
) -> None:
    """A 404 is no transient failure: one attempt."""
    server = scripted(Answer(b"HTTP/1.1 404 No\r\nContent-Length: 0\r\n\r\n"))
    options = FetchOptions(retry=AT_ONCE, fail=True)
    with pytest.raises(HTTPStatusError) as caught:
        await fetch(reactor, server.url, None, options)
    assert caught.value.attempts == 1


@pytest.mark.parametrize("refused_is_transient", [False, True])
@pytest_twisted.ensureDeferred
async def test_backoff_doubles_with_jitter(
    reactor: Any, refused_is_transient: bool
) -> None:
    """
    A refused connection is retried only with retry_connrefused, after pauses
    drawn from [0.5, 1], [1, 2], [2, 4] s.
    """
    clock = Clock()
    pauses: list[float] = []

    def on_retry(attempt: int, pause: float, error: HTTPError) -> None:
        pauses.append(pause)
        reactor.callLater(0, clock.advance, pause)

    policy = RetryPolicy(retries=3, connection_refused=refused_is_transient)
    with pytest.raises(CouldNotConnectError) as caught:
        await fetch(
            reactor, f"http://127.0.0.1:{free_port()}/", None,
            FetchOptions(retry=policy), on_retry=on_retry, clock=clock,
            jitter=random.Random(4),
        )  # fmt: skip
    if not refused_is_transient:
        assert (pauses, caught.value.attempts) == ([], 1)
        return
    assert caught.value.attempts == 4
    for pause, ceiling in zip(pauses, [1, 2, 4], strict=True):
        assert ceiling / 2 <= pause <= ceiling
