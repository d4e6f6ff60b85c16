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
        # patient: 50 connections opened at once on a loaded machine can take longer than the
        # default half second, and the store would (rightly) fall back to local state
        store = RedisStore(redis_url, key_prefix=redis_prefix, clock=clock, timeout=5.0)
        yield store
        await store.close()


async def test_memory_store_forgets_expired_values_nobody_reads(clock: FakeClock) -> None:
    store = MemoryStore(clock)
    for i in range(600):
        await store.set_value(f"old-{i}", b"x", ttl=10)
    clock.advance(11)
    for i in range(600):
        await store.set_value(f"new-{i}", b"y", ttl=10)
    assert not any(key.startswith("old-") for key in store._values)
    assert await store.get_value("new-599") == b"y"
