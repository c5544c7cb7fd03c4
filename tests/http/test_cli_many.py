"""
Tests for C{twisted-tcp get} with many URLs: -o/-O paired with URLs in order,
connections kept open between transfers (nginx's log: one connection, its request
count rising), -Z at most --parallel-max at once, one --json line per URL, and the
run's exit code as curl gives it: the last failure's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted

from ..support import run_get_against
from .peers import Nginx, nginx_serving

NAMES = [f"n{number}" for number in range(8)]


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[Nginx]:
    """nginx serving NAMES, each holding its own name."""
    with nginx_serving(
        tmp_path, {name: name.encode() * 100 for name in NAMES}
    ) as server:
        yield server


@pytest_twisted.ensureDeferred
async def test_in_turn_over_one_connection(
    reactor: Any, nginx: Nginx, tmp_path: Path
) -> None:
    """-o, -O and --remote-name-all in order; one kept-alive connection for all."""
    out = tmp_path / "out"
    out.mkdir()
    urls = [f"{nginx.url}/{name}" for name in NAMES[:4]]
    result = await run_get_against(
        "-s", "--json", "-o", str(out / "first"), "-O", "--remote-name-all", *urls,
        cwd=out,
    )  # fmt: skip
    assert result.returncode == 0
    assert sorted(path.name for path in out.iterdir()) == ["first", "n1", "n2", "n3"]
    assert (out / "n2").read_text() == "n2" * 100
    summaries = [json.loads(line) for line in result.stdout.splitlines()]
    assert [summary["url"] for summary in summaries] == urls
    used = nginx.connections(4)
    assert len({connection for connection, _ in used}) == 1
    assert [count for _, count in used] == [1, 2, 3, 4]


@pytest_twisted.ensureDeferred
async def test_parallel_at_most_max(reactor: Any, nginx: Nginx, tmp_path: Path) -> None:
    """-Z --parallel-max 2: every file saved, over two connections at most."""
    urls = [f"{nginx.url}/{name}" for name in NAMES]
    out = tmp_path / "out"
    out.mkdir()
    result = await run_get_against(
        "-s", "-Z", "--parallel-max", "2", "--remote-name-all", *urls, cwd=out
    )
    assert result.returncode == 0
    for name in NAMES:
        assert (out / name).read_text() == name * 100
    used = nginx.connections(len(NAMES))
    assert len(used) == len(NAMES)
    assert len({connection for connection, _ in used}) <= 2


@pytest_twisted.ensureDeferred
async def test_run_goes_on_and_exits_with_last_failure(
    reactor: Any, nginx: Nginx, tmp_path: Path
) -> None:
    """
    A failure is one line and the run goes on; the exit code is the last
    failure's (22 after a 7).
    """
    urls = [
        "http://127.0.0.1:9/refused", f"{nginx.url}/n0", f"{nginx.url}/missing",
        f"{nginx.url}/n1",
    ]  # fmt: skip
    out = tmp_path / "out"
    out.mkdir()
    result = await run_get_against("-f", "-s", "--remote-name-all", *urls, cwd=out)
    assert result.returncode == 22
    assert sorted(path.name for path in out.iterdir()) == ["n0", "n1"]
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("twisted-tcp: cannot connect to 127.0.0.1 port 9")
    assert lines[1] == "twisted-tcp: the server answered 404 Not Found"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-o", "a", "-o", "b", "http://h/x"], "2 -o/-O for 1 URL(s)"),
        (["-Z", "http://h/a", "http://h/b"], "-Z would mix several bodies"),
        (["--json", "-o", "a", "http://h/a", "http://h/b"], "--json prints"),
    ],
)
@pytest_twisted.ensureDeferred
async def test_plans_refused(reactor: Any, argv: list[str], message: str) -> None:
    """What cannot be paired or shown is a usage error, before connecting."""
    result = await run_get_against(*argv)
    assert result.returncode == 2
    assert message in result.stderr.decode()
