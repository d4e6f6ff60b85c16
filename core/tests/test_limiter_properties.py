"""Properties of the client limiter: whatever the timing, the bursts of concurrent
requests and the order of releases, no sliding 60-second window admits more than ``rpm``
requests or more than ``tpm`` tokens, and never more than ``max-parallel`` requests are
in flight -- in memory, and on Redis with two store instances (two gateways) sharing the
limits."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from cliproxy.state import MemoryStore
from cliproxy.state.limiter import WINDOW, RateLimits
from cliproxy.state.redis import RedisStore
from cliproxy.testing import FakeClock
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

LIMITS = RateLimits(rpm=8, tpm=1_000, parallel=4)

steps = st.lists(
    st.tuples(
        st.floats(min_value=0, max_value=40, allow_nan=False),  # seconds before the burst
        st.lists(st.integers(min_value=1, max_value=400), min_size=1, max_size=12),  # tokens of each request
        st.integers(min_value=0, max_value=6),  # requests in flight that end after the burst
    ),
    min_size=1,
    max_size=25,
)


async def _run(stores: list[Any], clock: FakeClock, plan: list[tuple[float, list[int], int]]) -> None:
    admitted: list[tuple[float, int]] = []
    in_flight: list[tuple[Any, str, Any, int]] = []
    most_in_flight = 0
    number = 0
    for wait, burst, ending in plan:
        clock.advance(wait)
        tickets = [f"t{number + i}" for i in range(len(burst))]
        number += len(burst)
        answers = await asyncio.gather(
            *(
                stores[i % len(stores)].acquire("team", ticket, LIMITS, tokens=tokens, cost=0, lease=3600)
                for i, (ticket, tokens) in enumerate(zip(tickets, burst, strict=True))
            )
        )
        for i, (ticket, tokens, answer) in enumerate(zip(tickets, burst, answers, strict=True)):
            if answer.admitted:
                admitted.append((clock(), tokens))
                in_flight.append((stores[i % len(stores)], ticket, answer, tokens))
        most_in_flight = max(most_in_flight, len(in_flight))
        for store, ticket, answer, tokens in in_flight[:ending]:
            await store.release("team", ticket, LIMITS, answer, charged=(tokens, 0), used=(tokens, 0))
        del in_flight[:ending]
    assert most_in_flight <= 4
    for end, _ in admitted:
        window = [tokens for when, tokens in admitted if end - WINDOW < when <= end]
        assert len(window) <= 8
        # tokens charged in the window: estimates of requests admitted in it (a release
        # with used == charged moves a request's tokens to its release time, which only
        # delays them, so the admissions' sum is what the limiter held at each admission)
        assert sum(window) <= 1_000


@settings(max_examples=60, deadline=None)
@given(steps)
def test_memory_limiter_never_admits_more_than_the_limits(plan: list[tuple[float, list[int], int]]) -> None:
    clock = FakeClock()
    asyncio.run(_run([MemoryStore(clock)], clock, plan))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=steps)
def test_two_redis_instances_never_admit_more_than_the_limits(
    redis_url: str, redis_prefix: str, plan: list[tuple[float, list[int], int]]
) -> None:
    async def run() -> None:
        clock = FakeClock()
        prefix = f"{redis_prefix}{uuid.uuid4().hex[:8]}:"
        stores = [RedisStore(redis_url, key_prefix=prefix, clock=clock) for _ in range(2)]
        try:
            await _run(stores, clock, plan)
            assert not any(store.degraded for store in stores)
        finally:
            for store in stores:
                await store.close()

    asyncio.run(run())


def test_body_estimates_count_text_and_images_without_decoding() -> None:
    from cliproxy.estimate import IMAGE_TOKENS, estimate_body_tokens

    text = {"model": "m", "messages": [{"role": "user", "content": "a" * 400}]}
    assert 100 <= estimate_body_tokens(text) <= 110
    image = "data:image/png;base64," + "A" * 100_000
    with_image = {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": image}}]}]}
    assert IMAGE_TOKENS <= estimate_body_tokens(with_image) < IMAGE_TOKENS + 20
    assert estimate_body_tokens({"contents": [{"parts": [{"text": "日本語のテキスト"}]}]}) >= 8


def test_the_memory_limiter_forgets_idle_clients_past_its_cap(monkeypatch) -> None:
    from cliproxy.state import limiter

    monkeypatch.setattr(limiter, "MAX_CLIENTS", 3)
    clock = FakeClock()
    memory = limiter.MemoryLimiter(clock)
    limits = RateLimits(rpm=1)
    for name in ("a", "b", "c"):
        assert memory.acquire(name, "t", limits, 1, 0, 60).admitted
    clock.advance(61)  # their windows are empty now
    assert memory.acquire("d", "t", limits, 1, 0, 60).admitted
    assert set(memory._clients) == {"d"}
    assert not memory.acquire("d", "t2", limits, 1, 0, 60).admitted  # a live client is never forgotten
