"""
Tests for C{twisted-tcp get} and C{twist http-get} as scripts use them: the options
declared once for both (L{twisted_tcp.cli.get_options}), the head printed once,
retries told on standard error and counted in C{--json}, conditional runs that
leave an unchanged file alone, credentials from a netrc file.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.python import usage

from twisted_tcp.cli.arguments import build_parser
from twisted_tcp.cli.get_options import OPTIONS, fetch_options
from twisted_tcp.http.request import Field
from twisted_tcp.tap import http_get

from ..support import GET_COMMAND, run_get, run_get_against
from .peers import Nginx, nginx_serving
from .scripted import Answer, Request, ScriptedServer

OK = b'HTTP/1.1 200 OK\r\nETag: "e1"\r\nContent-Length: 2\r\n\r\nok'


def test_options_declared_once() -> None:
    """twist http-get takes each service option of the table, as get does."""
    service = http_get.Options()
    taken = {flag[0] for flag in service.optFlags} | {
        parameter[0] for parameter in service.optParameters
    }
    shared = {option.long for option in OPTIONS if option.service}
    repeated = {option.long for option in OPTIONS if option.repeat}
    assert shared - repeated <= taken
    assert all(hasattr(service, f"opt_{name}") for name in repeated)
    argv = ["-o", "f", "-H", "X-A: 1", "--header=X-B: 2", "--retry", "3", "h/p"]
    service.parseOptions(argv)
    made = service["fetch"]
    assert made.headers == (Field("X-A", "1"), Field("X-B", "2"))
    assert (made.retry.retries, made.retry.delay) == (3, None)
    parser = build_parser()
    arguments = parser.parse_args(["get", "-H", "X-A: 1", "--retry", "3", "h"])
    assert fetch_options(vars(arguments), "http://h/") == fetch_options(
        {"header": [Field("X-A", "1")], "retry": 3}, "http://h/"
    )


def test_every_option_has_help() -> None:
    """Each get option, -A among them, says what it does in --help."""
    helps = run_get("--help").stdout.decode()
    assert (
        "-A UA, --user-agent UA\n                        the User-Agent field" in helps
    )
    for option in OPTIONS:
        assert option.help.split()[0] in helps


@pytest.mark.parametrize(
    "line", ["X: a\r\nInjected: 1", "X: a\x1b[2J", "Content-Length: 0", "No Colon"]
)
def test_forging_header_is_a_usage_error(line: str) -> None:
    """get -H with a line that could forge the request: exit 2, one line."""
    result = run_get("-H", line, "http://127.0.0.1:9/")
    assert result.returncode == 2
    assert b"Injected" not in result.stdout
    with pytest.raises(usage.UsageError):
        http_get.Options().parseOptions(["-o", "x", "-H", line, "h/p"])


@pytest_twisted.async_yield_fixture
async def server(reactor: Any) -> AsyncIterator[ScriptedServer]:
    """/busy answers 503 (Retry-After: 0) the first time; anything else ok."""
    seen: list[str] = []

    def answer(request: Request) -> Answer:
        seen.append(request.target)
        if request.target == "/busy" and seen.count("/busy") == 1:
            return Answer(b"HTTP/1.1 503 Busy\r\nRetry-After: 0\r\n\r\n")
        return Answer(OK)

    scripted = ScriptedServer(reactor, answer)
    yield scripted
    await scripted.stop()


@pytest_twisted.ensureDeferred
async def test_dump_header_to_stdout_once(
    server: ScriptedServer, reactor: Any, tmp_path: Path
) -> None:
    """-D - with -o prints the head once, as curl does."""
    result = await run_get_against("-D", "-", "-o", str(tmp_path / "x"), server.url)
    assert result.stdout.count(b"HTTP/1.1 200 OK") == 1


@pytest_twisted.ensureDeferred
async def test_retry_told_and_counted(
    server: ScriptedServer, reactor: Any, tmp_path: Path
) -> None:
    """Each retry is one line on stderr; --json counts the attempts."""
    result = await run_get_against(
        "--retry", "2", "--json", "-o", str(tmp_path / "x"), f"{server.url}/busy"
    )
    assert result.returncode == 0
    assert result.stderr == (
        b"twisted-tcp: the server answered 503 Busy; trying again in 0 s "
        b"(1 more tries left)\n"
    )
    assert json.loads(result.stdout)["attempts"] == 2


@pytest_twisted.ensureDeferred
async def test_netrc_file_credentials(
    server: ScriptedServer, reactor: Any, tmp_path: Path
) -> None:
    """--netrc-file gives the credentials for the URL's host."""
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login ann password s3cret\n")
    netrc.chmod(0o600)
    result = await run_get_against("--netrc-file", str(netrc), "-s", server.url)
    assert result.returncode == 0
    assert server.requests[0].fields["authorization"] == "Basic YW5uOnMzY3JldA=="


def test_missing_netrc_is_one_line(tmp_path: Path) -> None:
    """--netrc with no netrc file: exit 2, one line naming it."""
    result = run_get_in(tmp_path, "--netrc", "http://127.0.0.1:9/")
    assert result.returncode == 2
    assert result.stderr.startswith(b"twisted-tcp: cannot read the netrc file ")
    assert result.stderr.count(b"\n") == 1


def run_get_in(home: Path, *argv: str) -> subprocess.CompletedProcess[bytes]:
    """Run get with HOME set to C{home}."""
    return subprocess.run(
        [*GET_COMMAND, *argv], capture_output=True, timeout=60,
        env={**os.environ, "HOME": str(home)},
    )  # fmt: skip


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[Nginx]:
    """nginx serving /page."""
    with nginx_serving(tmp_path, {"page": b"page\n"}) as server:
        yield server


@pytest_twisted.ensureDeferred
async def test_nightly_run_fetches_only_changes(
    nginx: Nginx, reactor: Any, tmp_path: Path
) -> None:
    """
    A cron line, -z FILE or --etag-compare/--etag-save, run twice: the second run
    gets a 304, exits 0 and leaves the file (even edited here) as it is.
    """
    target, etag = tmp_path / "page", tmp_path / "etag"
    for condition in (["-z", str(target)], ["--etag-compare", str(etag)]):
        argv = [*condition, "--etag-save", str(etag), "-R", "-s", "-o", str(target)]
        first = await run_get_against(*argv, f"{nginx.url}/page")
        assert (first.returncode, target.read_bytes()) == (0, b"page\n")
        assert etag.read_text().startswith('"')
        server_time = target.stat().st_mtime  # -R gave it the server's.
        target.write_bytes(b"edited")
        os.utime(target, (server_time, server_time))
        second = await run_get_against(*argv, f"{nginx.url}/page")
        assert (second.returncode, target.read_bytes()) == (0, b"edited")
        runs = 2 if condition[0] == "-z" else 4
        assert nginx.log(runs)[-1].split()[2] == "304"
        target.unlink()
        etag.unlink()


@pytest_twisted.ensureDeferred
async def test_head_only_saved_to_the_output_file(nginx: Nginx, tmp_path: Path) -> None:
    """get -I -o FILE saves the head in FILE, as curl does, and prints none of it."""
    target = tmp_path / "head"
    result = await run_get_against("-I", "-o", str(target), f"{nginx.url}/page")
    assert result.returncode == 0, result.stderr
    saved = target.read_bytes()
    assert saved.startswith(b"HTTP/1.1 200 OK\r\n")
    assert saved.endswith(b"\r\n\r\n")
    assert b"\r\nContent-Length: 5\r\n" in saved
    assert result.stdout == b""
    assert nginx.log(1)[-1].endswith('200 "HEAD /page HTTP/1.1" -')
