"""Fixtures shared by every test suite in the workspace."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cliproxy.testing import FakeUpstream

RECORDINGS = Path(__file__).parent / "recordings"
REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="session")
def recording() -> Callable[[str], Path]:
    """``recording("anthropic/aibridge-anthropic_simple.stream.sse.txt")`` -> its path."""

    def find(name: str) -> Path:
        path = RECORDINGS / name
        if not path.exists():
            raise FileNotFoundError(f"no recording {name!r} under {RECORDINGS}")
        return path

    return find


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    """A fresh fake upstream server on loopback."""
    with FakeUpstream() as server:
        yield server


@pytest.fixture
def redis_url() -> str:
    """The Redis the tests share (127.0.0.1:6379); each test uses its own key prefix."""
    return REDIS_URL


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    import redis

    prefix = f"cliproxy-test:{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=prefix.replace("[", "\\[") + "*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--fuzz",
        action="store",
        type=int,
        default=None,
        metavar="N",
        help="run the fuzzing tests with N examples each (CI runs a small fixed budget)",
    )


@pytest.fixture(scope="session")
def fuzz_examples(request: pytest.FixtureRequest) -> int:
    """How many examples each fuzzing test draws: 40 by default, ``--fuzz N`` for more."""
    chosen = request.config.getoption("--fuzz")
    return 40 if chosen is None else chosen
