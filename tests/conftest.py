"""
Fixtures shared by the test modules: the reactor pytest-twisted runs, and a hypothesis
profile without deadlines (these machines are noisy; no test asserts on time).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, settings

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
