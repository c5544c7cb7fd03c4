"""
Fixtures shared by the test modules: the reactor pytest-twisted runs, a real
redis-server for the cluster tests, C{twist} subprocesses that never outlive their
test, and a hypothesis profile without deadlines (these machines are noisy; no test
asserts on time).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from tests.redis_support import RedisServer
from tests.twist_support import Twist

settings.register_profile(
    "twisted-tcp",
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
settings.load_profile("twisted-tcp")


@pytest.fixture
def reactor() -> Any:
    """The global reactor, installed and run by pytest-twisted."""
    from twisted.internet import reactor

    return reactor


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A real redis-server of its own, running until the test ends."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def twist_runs() -> Iterator[list[Twist]]:
    """Twist processes started by a test; killed if the test leaves them running."""
    started: list[Twist] = []
    yield started
    for twist in started:
        twist.kill()
