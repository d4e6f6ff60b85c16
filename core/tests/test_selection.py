"""The cooldown table, row by row, and the selector's ordering (strategy, priority,
weight), on the memory store with a clock tests move by hand."""

from __future__ import annotations

from collections import Counter

import pytest
from cliproxy import Credential, GatewayError, ModelEntry, credential_id
from cliproxy.errors import ErrorKind
from cliproxy.routing import Router
from cliproxy.selection import (
    BACKOFF_MAX,
    MODEL_MISSING_REST,
    TRANSIENT_REST,
    UNAUTHORIZED_REST,
    Selector,
    cooldown_for,
)
from cliproxy.state import MemoryStore
from cliproxy.testing import FakeClock

NOW = 1_800_000_000.0


def error(status: int, **fields: object) -> GatewayError:
    return GatewayError.from_status(status, f"upstream said {status}", **fields)


@pytest.mark.parametrize("status", [401, 402, 403])
def test_auth_and_billing_failures_rest_the_whole_credential_30_minutes(status):
    whole, cooldown = cooldown_for(error(status), NOW, None)
    assert whole is True
    assert cooldown.until == NOW + UNAUTHORIZED_REST == NOW + 1800
    assert cooldown.reason == f"upstream said {status} ({status})" and cooldown.status == status


def test_404_rests_that_model_12_hours():
    whole, cooldown = cooldown_for(error(404), NOW, None)
    assert whole is False and cooldown.until == NOW + MODEL_MISSING_REST == NOW + 12 * 3600


@pytest.mark.parametrize(
    "status, code", [(400, "model_not_supported"), (400, "model_not_found"), (422, "model_not_found")]
)
def test_model_unsupported_rests_that_model_12_hours_whatever_the_status(status, code):
    whole, cooldown = cooldown_for(error(status, code=code), NOW, None)
    assert whole is False and cooldown.until == NOW + 12 * 3600


@pytest.mark.parametrize("retry_after", [120.0, 1.5, 34.4])
def test_429_honours_the_upstream_retry_hint(retry_after):
    whole, cooldown = cooldown_for(error(429, retry_after=retry_after), NOW, None)
    assert whole is False and cooldown.until == NOW + retry_after


def test_429_without_a_hint_backs_off_exponentially_up_to_30_minutes():
    previous = None
    waits = []
    for _ in range(14):
        _, previous = cooldown_for(error(429), NOW, previous)
        waits.append(previous.until - NOW)
    assert waits[:6] == [1, 2, 4, 8, 16, 32]
    assert waits[10] == 1024 and waits[11:] == [BACKOFF_MAX] * 3 == [1800.0] * 3


def test_429_backoff_restarts_after_another_kind_of_rest():
    _, transient = cooldown_for(error(503), NOW, None)
    _, cooldown = cooldown_for(error(429), NOW, transient)
    assert cooldown.until == NOW + 1 and cooldown.level == 0


@pytest.mark.parametrize("status", [408, 500, 502, 503, 504, 529])
def test_timeouts_server_errors_and_connection_errors_rest_the_model_1_minute(status):
    whole, cooldown = cooldown_for(error(status), NOW, None)
    assert whole is False and cooldown.until == NOW + TRANSIENT_REST == NOW + 60


@pytest.mark.parametrize("status", [400, 413, 422])
def test_client_errors_rest_nothing(status):
    assert cooldown_for(error(status), NOW, None) is None


# -- the selector ---------------------------------------------------------------------------


def key(name: str, priority: int = 0, weight: int = 1, kind: str = "openai-compatibility/pool") -> Credential:
    return Credential(
        id=credential_id(kind, name),
        provider="openai-compatibility",
        label=name,
        models=(ModelEntry("m"),),
        priority=priority,
        weight=weight,
    )


async def firsts(selector: Selector, router: Router, n: int, model: str = "m") -> list[str]:
    return [(await selector.select(router.resolve(model))).ordered[0].credential.label for _ in range(n)]


async def test_round_robin_rotates_the_first_choice():
    router = Router([key("a"), key("b"), key("c")])
    selector = Selector(MemoryStore(), "round-robin")
    assert await firsts(selector, router, 6) == ["a", "b", "c", "a", "b", "c"]
    order = (await selector.select(router.resolve("m"))).ordered
    assert [c.credential.label for c in order] == ["a", "b", "c"]  # the rest follow as fallbacks


async def test_fill_first_always_starts_with_the_first():
    router = Router([key("a"), key("b")])
    selector = Selector(MemoryStore(), "fill-first")
    assert await firsts(selector, router, 3) == ["a", "a", "a"]


async def test_weight_shares_the_rotation():
    router = Router([key("a", weight=2), key("b", weight=1)])
    selector = Selector(MemoryStore(), "round-robin")
    assert Counter(await firsts(selector, router, 30)) == {"a": 20, "b": 10}


async def test_highest_priority_with_an_available_credential_is_used_first():
    clock = FakeClock(NOW)
    store = MemoryStore(clock)
    router = Router([key("p1", 10), key("p2", 10), key("fallback", 0, kind="groq")])
    selector = Selector(store, "round-robin", clock)
    assert sorted(await firsts(selector, router, 4)) == ["p1", "p1", "p2", "p2"]
    p1 = router.resolve("m").candidates[0]
    await selector.record_failure(p1, error(503))
    assert await firsts(selector, router, 3) == ["p2", "p2", "p2"]  # not the fallback
    p2 = router.resolve("m").candidates[1]
    await selector.record_failure(p2, error(503))
    assert await firsts(selector, router, 2) == ["fallback", "fallback"]
    clock.advance(61)
    assert set(await firsts(selector, router, 2)) == {"p1", "p2"}


async def test_all_resting_is_429_model_cooldown_with_seconds_until_the_first_frees():
    clock = FakeClock(NOW)
    router = Router([key("a"), key("b")])
    selector = Selector(MemoryStore(clock), "round-robin", clock)
    a, b = router.resolve("m").candidates
    await selector.record_failure(a, error(429, retry_after=100))
    await selector.record_failure(b, error(429, retry_after=40))
    with pytest.raises(GatewayError) as caught:
        await selector.select(router.resolve("m"), "m")
    assert (caught.value.status, caught.value.code, caught.value.kind) == (
        429,
        "model_cooldown",
        ErrorKind.RATE_LIMITED,
    )
    assert caught.value.retry_after == 40
    clock.advance(40)
    assert [c.credential.label for c in (await selector.select(router.resolve("m"))).ordered] == ["b"]


async def test_success_ends_the_backoff():
    clock = FakeClock(NOW)
    router = Router([key("a")])
    selector = Selector(MemoryStore(clock), "round-robin", clock)
    (a,) = router.resolve("m").candidates
    for expected in (1, 2, 4):
        selection = await selector.select(router.resolve("m"))
        _, cooldown = await selector.record_failure(a, error(429), selection)
        assert cooldown.until - clock() == expected
        clock.advance(expected)
    selection = await selector.select(router.resolve("m"))
    await selector.record_success(a, selection)
    _, cooldown = await selector.record_failure(a, error(429), await selector.select(router.resolve("m")))
    assert cooldown.until - clock() == 1


async def test_a_404_rests_one_model_and_a_401_the_whole_credential():
    clock = FakeClock(NOW)
    cred = Credential(id="k:1", provider="p", label="k", models=(ModelEntry("m1"), ModelEntry("m2")))
    router = Router([cred, key("other")])
    selector = Selector(MemoryStore(clock), "fill-first", clock)
    (m1,) = [c for c in router.resolve("m1").candidates]
    await selector.record_failure(m1, error(404))
    with pytest.raises(GatewayError):
        await selector.select(router.resolve("m1"))
    assert (await selector.select(router.resolve("m2"))).ordered[0].credential is cred
    clock.advance(12 * 3600 - 1)
    with pytest.raises(GatewayError):
        await selector.select(router.resolve("m1"))
    clock.advance(2)
    assert (await selector.select(router.resolve("m1"))).ordered[0].credential is cred

    await selector.record_failure(m1, error(401))
    for model in ("m1", "m2"):
        with pytest.raises(GatewayError):
            await selector.select(router.resolve(model))
    clock.advance(1800 - 1)
    with pytest.raises(GatewayError):
        await selector.select(router.resolve("m2"))
    clock.advance(2)
    assert (await selector.select(router.resolve("m2"))).ordered[0].credential is cred
