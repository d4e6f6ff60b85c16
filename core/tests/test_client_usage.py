"""Usage per client in /v0/status and `cliproxy status`: each client request counted once
(failover included), where it ends, on both state stores."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import cliproxy_openai
import httpx
import pytest
from cliproxy.state import MemoryStore
from cliproxy.state.redis import RedisStore
from cliproxy.status import render_text
from cliproxy.testing import FakeClock, FakeUpstream, RecordedRequest, Reply, gateway_app

ALPHA = "sk-test-alpha-0000000000001"
BETA = "sk-test-beta-0000000000002"
KEY_1 = {"Authorization": "Bearer client-key-one"}
KEY_2 = {"Authorization": "Bearer client-key-two"}
SIMPLE = "openai-chat/aibridge-chat_simple.nonstream.json"  # 19 prompt, 200 completion tokens
STREAM = "openai-chat/DERIVED-vercel-openai-text.sse.txt"  # 16 prompt, 300 completion tokens
CHAT = "/v1/chat/completions"


def cfg(upstream: FakeUpstream, **core: Any) -> dict[str, Any]:
    return {
        "api-keys": ["client-key-one", "client-key-two"],  # key-1, key-2
        "routing": {"strategy": "fill-first"},
        "openai-compatibility": [
            {
                "name": "team",
                "base-url": upstream.url + "/v1",
                "api-key-entries": [{"api-key": ALPHA}, {"api-key": BETA}],
                "models": [{"name": "gpt-4.1-nano", "alias": "nano"}],
            }
        ],
        **core,
    }


def per_key(alpha: Reply, beta: Reply):  # type: ignore[no-untyped-def]
    def handler(request: RecordedRequest) -> Reply:
        return alpha if request.headers["authorization"] == f"Bearer {ALPHA}" else beta

    return handler


def rate_limited() -> Reply:
    return Reply.json({"error": {"message": "slow down", "type": "rate_limit_exceeded"}}, status=429)


@pytest.fixture(params=["memory", "redis"])
async def store(request, redis_url, redis_prefix, clock) -> AsyncIterator[Any]:
    if request.param == "memory":
        made: Any = MemoryStore(clock)
    else:
        made = RedisStore(redis_url, key_prefix=redis_prefix, clock=clock)
    yield made
    await made.close()


@contextlib.asynccontextmanager
async def gateway(
    upstream: FakeUpstream, store: Any, clock: FakeClock, **core: Any
) -> AsyncIterator[httpx.AsyncClient]:
    app = gateway_app(cfg(upstream, **core), plugins=[cliproxy_openai], state=store)
    clock.install(app)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            yield client


async def chat(client: httpx.AsyncClient, headers: dict[str, str], model: str = "nano", **body: Any) -> httpx.Response:
    payload = {"model": model, "messages": [{"role": "user", "content": "hi"}], **body}
    return await client.post(CHAT, json=payload, headers=headers)


async def status(client: httpx.AsyncClient) -> dict[str, Any]:
    return (await client.get("/v0/status")).json()


async def test_each_client_request_counts_once_through_failover(upstream, recording, store, clock):
    ok = Reply.json(json.loads(recording(SIMPLE).read_text()))
    upstream.add("POST", CHAT, per_key(rate_limited(), ok))
    async with gateway(upstream, store, clock) as client:
        assert (await chat(client, KEY_1)).status_code == 200
        clock.advance(3600)  # the first credential's rest is over: the next request fails over too
        assert (await chat(client, KEY_2)).status_code == 200
        clock.advance(3600)
        assert (await chat(client, KEY_1)).status_code == 200
        doc = await status(client)
    assert len(upstream.requests_to(CHAT)) == 6  # two attempts per request
    assert [(c["requests"], c["failures"]) for c in doc["credentials"]] == [(3, 3), (3, 0)]
    assert doc["clients"] == {
        "key-1": {
            "requests": 2,
            "failures": 0,
            "input_tokens": 38,
            "output_tokens": 400,
            "cache_read_tokens": 0,
            "reasoning_tokens": 0,
            "cost_usd_month": pytest.approx(2 * (19 * 0.10 + 200 * 0.40) / 1e6),  # gpt-4.1-nano's list price
            "unpriced_requests_month": 0,
        },
        "key-2": {
            "requests": 1,
            "failures": 0,
            "input_tokens": 19,
            "output_tokens": 200,
            "cache_read_tokens": 0,
            "reasoning_tokens": 0,
            "cost_usd_month": pytest.approx((19 * 0.10 + 200 * 0.40) / 1e6),
            "unpriced_requests_month": 0,
        },
    }


async def test_a_stream_that_failed_over_counts_once_with_its_tokens(upstream, recording, store, clock):
    upstream.add("POST", CHAT, per_key(rate_limited(), Reply.sse_file(recording(STREAM))))
    async with gateway(upstream, store, clock) as client:
        answer = await chat(client, KEY_2, stream=True, stream_options={"include_usage": True})
        assert answer.status_code == 200
        doc = await status(client)
    assert len(upstream.requests_to(CHAT)) == 2
    counted = doc["clients"]["key-2"]
    assert (counted["requests"], counted["failures"]) == (1, 0)
    credential_tokens = sum(t.output_tokens for m in (await store.usage()).values() for t in m.values())
    assert (counted["input_tokens"], counted["output_tokens"]) == (16, 300)  # the answer's, counted once
    assert counted["output_tokens"] == credential_tokens
    assert set(doc["clients"]) == {"key-2"}


async def test_requests_that_get_no_answer_are_their_clients_failures(upstream, store, clock):
    upstream.add("POST", CHAT, per_key(rate_limited(), rate_limited()))
    async with gateway(upstream, store, clock, **{"request-retry": 0, "max-retry-interval": 0}) as client:
        assert (await chat(client, KEY_1)).status_code == 429  # every candidate failed
        assert (await chat(client, KEY_1)).status_code == 429  # every candidate rests
        assert (await chat(client, KEY_2, model="no-such-model")).status_code == 404
        doc = await status(client)
    assert len(upstream.requests_to(CHAT)) == 2
    assert {name: (c["requests"], c["failures"], c["input_tokens"]) for name, c in doc["clients"].items()} == {
        "key-1": (2, 2, 0),
        "key-2": (1, 1, 0),
    }


async def test_requests_refused_by_auth_are_not_counted(upstream, recording, store, clock):
    upstream.add("POST", CHAT, Reply.json(json.loads(recording(SIMPLE).read_text())))
    async with gateway(upstream, store, clock) as client:
        assert (await chat(client, {"Authorization": "Bearer wrong"})).status_code == 401
        assert (await client.post(CHAT, json={"model": "nano", "messages": []})).status_code == 401
        doc = await status(client)
    assert doc["clients"] == {}
    assert upstream.requests_to(CHAT) == []


def test_cliproxy_status_prints_a_table_per_client():
    snapshot = {
        "state_store": {"backend": "memory", "healthy": True},
        "credentials": [],
        "clients": {
            "key-1": {
                "requests": 12,
                "failures": 1,
                "input_tokens": 3400,
                "output_tokens": 560,
                "cache_read_tokens": 7,
                "reasoning_tokens": 0,
                "cost_usd_month": 0.01234,
                "unpriced_requests_month": 0,
            },
            "team": {"requests": 2, "failures": 0, "cost_usd_month": 0.5, "unpriced_requests_month": 1},
            "local": {"requests": 1, "failures": 0, "cost_usd_month": None, "unpriced_requests_month": 1},
            "other": {"requests": 3, "failures": 0},  # a field an older gateway lacks reads as 0
        },
    }
    lines = render_text(snapshot).splitlines()
    start = lines.index(next(line for line in lines if line.startswith("CLIENT")))
    assert [line.split() for line in lines[start:]] == [
        ["CLIENT", "REQUESTS", "FAILURES", "INPUT", "OUTPUT", "CACHE", "READ", "REASONING", "COST", "(MONTH)"],
        ["key-1", "12", "1", "3400", "560", "7", "0", "$0.0123"],
        ["team", "2", "0", "0", "0", "0", "0", "$0.5000+?"],  # some requests had no price
        ["local", "1", "0", "0", "0", "0", "0", "?"],  # none had
        ["other", "3", "0", "0", "0", "0", "0", "-"],  # an older gateway's: not said
    ]
    assert "CLIENT" not in render_text({**snapshot, "clients": {}})  # nothing counted yet: no table


async def test_an_answer_that_fails_midway_is_its_clients_failure(upstream, recording, store, clock):
    broken = Reply.sse_file(recording("openai-chat/aibridge-chat_stream_error.stream.sse.txt"))
    upstream.add("POST", CHAT, broken)
    async with gateway(upstream, store, clock) as client:
        assert (await chat(client, KEY_1, stream=True)).status_code == 200  # the error came after the first byte
        doc = await status(client)
    assert len(upstream.requests_to(CHAT)) == 1
    assert (doc["clients"]["key-1"]["requests"], doc["clients"]["key-1"]["failures"]) == (1, 1)
    assert [(c["requests"], c["failures"]) for c in doc["credentials"]] == [(1, 1), (0, 0)]
