"""Fixtures for the core's tests."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from cliproxy.testing import FakeClock

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


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


@pytest.fixture
async def redis_store(redis_prefix: str, clock: FakeClock) -> AsyncIterator[object]:
    from cliproxy.state.redis import RedisStore

    store = RedisStore(REDIS_URL, key_prefix=redis_prefix, clock=clock)
    yield store
    await store.close()
