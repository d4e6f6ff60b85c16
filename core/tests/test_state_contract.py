"""Both state backends pass the same contract (cliproxy.testing.state_contract)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from cliproxy.state import MemoryStore
from cliproxy.state.redis import RedisStore
from cliproxy.testing import FakeClock
from cliproxy.testing.state_contract import StateStoreContract


class TestMemoryStore(StateStoreContract):
    @pytest.fixture
    async def store(self, clock: FakeClock) -> AsyncIterator[MemoryStore]:
        store = MemoryStore(clock)
        yield store
        await store.close()


class TestRedisStore(StateStoreContract):
    @pytest.fixture
    async def store(self, clock: FakeClock, redis_url: str, redis_prefix: str) -> AsyncIterator[RedisStore]:
        store = RedisStore(redis_url, key_prefix=redis_prefix, clock=clock)
        yield store
        await store.close()
