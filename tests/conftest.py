"""
Fixtures shared by the test modules: the reactor pytest-twisted runs, a real
redis-server for the cluster tests, C{twist} subprocesses that never outlive their
test, and a hypothesis profile without deadlines (these machines are noisy; no test
asserts on time).

C{pytest --twisted-reactor lean-epoll} runs the suite on another Twisted reactor
plugin; C{--reactor-tests-only} keeps only the tests that run on the reactor (those
asking for the C{reactor} fixture or run by pytest-twisted), for the second pass of
C{make test}.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from hypothesis import HealthCheck, settings
from twisted.internet.defer import maybeDeferred

from tests.cluster_support import Client, Node
from tests.redis_support import RedisServer
from tests.twist_support import Twist

settings.register_profile(
    "twisted-tcp",
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
settings.load_profile("twisted-tcp")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("twisted-tcp")
    group.addoption(
        "--twisted-reactor",
        metavar="NAME",
        help="install this Twisted reactor plugin (epoll, lean-epoll) before "
        "pytest-twisted installs its default",
    )
    group.addoption(
        "--reactor-tests-only",
        action="store_true",
        help="run only the tests that use the reactor fixture",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """
    Install the reactor named by C{--twisted-reactor} before pytest-twisted's own
    C{pytest_configure} installs the platform default: pytest-twisted then adopts
    it, provided it is an instance of the default's class (as both epoll reactors
    are).
    """
    name = config.getoption("twisted_reactor")
    if name:
        from twisted.application.reactors import installReactor

        installReactor(name)


def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    if not config.getoption("reactor_tests_only"):
        return
    kept = [item for item in items if _runs_on_reactor(item)]
    dropped = set(items) - set(kept)
    config.hook.pytest_deselected(items=[item for item in items if item in dropped])
    items[:] = kept


def _runs_on_reactor(item: pytest.Item) -> bool:
    """A test that asks for the reactor fixture, or that pytest-twisted runs on it."""
    if "reactor" in getattr(item, "fixturenames", ()):
        return True
    return hasattr(getattr(item, "obj", None), "_pytest_twisted_mark")


def pytest_report_header(config: pytest.Config) -> str:
    from twisted.internet import reactor

    return f"twisted reactor: {type(reactor).__module__}.{type(reactor).__name__}"


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


@pytest.fixture
def make_node(tmp_path: Path, redis_server: RedisServer) -> Iterator[Any]:
    """
    Make chat nodes on the test's Redis (or on another URL: C{redis_url=}); every
    one still running is killed after the test.
    """
    made: list[Node] = []

    def make(name: str, *extra: str, redis_url: str | None = None) -> Node:
        node = Node(tmp_path, name, redis_url or redis_server.url, *extra)
        made.append(node)
        return node

    yield make
    for node in made:
        node.kill()


@pytest.fixture
def clients() -> Iterator[list[Client]]:
    """Chat clients a test opens; closed after it."""
    opened: list[Client] = []
    yield opened
    for client in opened:
        client.close()


@pytest.fixture(params=["local", "redis"])
def chat_backend(request: pytest.FixtureRequest) -> str | None:
    """The Redis URL of a real redis-server for the cluster backend, or C{None}."""
    if request.param == "local":
        return None
    url: str = request.getfixturevalue("redis_server").url
    return url


@pytest_twisted.async_yield_fixture
async def chat(
    reactor: Any, chat_backend: str | None
) -> AsyncIterator[Callable[..., Any]]:
    """
    Make started chats of either backend, as the contract suite's C{Chat}; each is
    stopped after the test.
    """
    from tests.support import until
    from tests.test_chat_contract import Chat

    made: list[Chat] = []

    async def make(**options: Any) -> Chat:
        made_chat = Chat(reactor, chat_backend, **options)
        made.append(made_chat)
        made_chat.chat.startService()
        service = made_chat.chat
        await until(reactor, lambda: getattr(service, "available", True))
        return made_chat

    yield make
    for each in made:
        for member in each.members:
            member.transport.loseConnection()
        each.chat.shutdown()
        await maybeDeferred(each.chat.stopService)


@pytest.fixture
def moderated_chat(
    reactor: Any, chat_backend: str | None, chat: Callable[..., Any]
) -> Callable[..., Any]:
    """
    Make chats as L{chat} does, with cheap password hashes (and, on Redis, which
    keeps the state, no state file).
    """
    from twisted_tcp.chat.passwords import Cost, PasswordHasher

    def make(**options: Any) -> Any:
        options.setdefault("hasher", PasswordHasher(reactor, cost=Cost(16, 1, 1)))
        if chat_backend is not None:
            options.pop("state_db", None)
        return chat(**options)

    return make
