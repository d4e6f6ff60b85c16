"""Fixtures for the core's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from cliproxy.testing import FakeClock

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def redis_store(redis_prefix: str, clock: FakeClock) -> AsyncIterator[object]:
    from cliproxy.state.redis import RedisStore

    # A patient timeout: on a loaded machine, 50 connections opened at once can take longer
    # than the default half second, and the store would (rightly) fall back to local state.
    store = RedisStore(REDIS_URL, key_prefix=redis_prefix, clock=clock, timeout=5.0)
    yield store
    await store.close()
