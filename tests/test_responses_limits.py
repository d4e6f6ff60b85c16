"""The Responses store has limits: a record too large to keep is not kept (the answer
still goes out; later requests are told why and what to do), kept answers never add up to
more than ``max-total-mb`` (the oldest go first, on one instance and across instances
sharing Redis), and a conversation is kept as links between turns, not one copy per
turn. The official ``openai`` SDK is the client."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import cliproxy_openai
import openai
import pytest
import redis.asyncio as aioredis
from cliproxy.app import gateway_of
from cliproxy.testing import FakeUpstream, Reply, asgi_client, gateway_app

KEY = "sk-client-0123456789abcdef"
OTHER_KEY = "sk-other-0123456789abcdef"
CHAT = "/v1/chat/completions"
REDIS_URL = "redis://127.0.0.1:6379/0"
MB = 1024 * 1024


def chat_answer(text: str = "ok") -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
    }


def make_app(upstream: FakeUpstream, **core: Any) -> Any:
    config = {
        "api-keys": [KEY, OTHER_KEY],
        "request-retry": 0,
        "openai-compatibility": [
            {"name": "compat", "base-url": upstream.url + "/v1", "models": [{"name": "gpt-4o", "alias": "oa"}]}
        ],
        **core,
    }
    return gateway_app(config, plugins=[cliproxy_openai])


class Instances:
    """Gateway instances with one config: ``client(n)`` calls the n-th (round the list)."""

    def __init__(self, apps: list[Any], http: list[Any]) -> None:
        self.apps = apps
        self.http = http

    def client(self, n: int = 0, key: str = KEY) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(
            api_key=key, base_url="http://gateway/v1", http_client=self.http[n % len(self.http)], max_retries=0
        )

    async def kept(self) -> tuple[int, int]:
        store = gateway_of(self.apps[0]).responses
        assert store is not None
        return await store.usage()


@pytest.fixture
def instances_of(upstream: FakeUpstream, redis_prefix: str):
    """``instances_of(backend, store_config)``: one instance on memory state, or two
    sharing one Redis."""

    async def start(stack: AsyncExitStack, backend: str, store: dict[str, Any]) -> Instances:
        core: dict[str, Any] = {"responses-store": store}
        count = 1
        if backend == "redis":
            core["state"] = {"backend": "redis", "url": REDIS_URL, "key-prefix": redis_prefix, "timeout": 5}
            count = 2
        apps = [make_app(upstream, **core) for _ in range(count)]
        http = [await stack.enter_async_context(asgi_client(app)) for app in apps]
        return Instances(apps, http)

    return start


@pytest.fixture
async def stack() -> AsyncIterator[AsyncExitStack]:
    async with AsyncExitStack() as stack:
        yield stack


# -- a record too large to keep ----------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("backend", ["memory", "redis"])
async def test_an_answer_too_large_to_keep_still_goes_out_and_later_says_why(
    upstream, stack, instances_of, recording, backend, stream
):
    gateways = await instances_of(stack, backend, {"max-record-mb": 0.01})
    if stream:
        upstream.add("POST", CHAT, Reply.sse_file(recording("openai-chat/DERIVED-vercel-openai-text.sse.txt")))
    else:
        upstream.add("POST", CHAT, Reply.json(chat_answer("an answer")))
    client = gateways.client(0)
    big = "x" * 20_000  # the record holds the input: 20 KB, more than 10 KB
    if stream:
        events = [event async for event in await client.responses.create(model="oa", input=big, stream=True)]
        answer = events[-1].response
    else:
        answer = await client.responses.create(model="oa", input=big)
    assert answer.status == "completed" and answer.output_text
    later = gateways.client(1)
    with pytest.raises(openai.BadRequestError) as caught:
        await later.responses.create(model="oa", input="and?", previous_response_id=answer.id)
    error = caught.value.body
    assert (error["code"], error["param"]) == ("previous_response_not_kept", "previous_response_id")
    assert "was not kept" in error["message"] and "responses-store.max-record-mb" in error["message"]
    assert "whole conversation in 'input'" in error["message"]
    assert len(upstream.requests_to(CHAT)) == 1
    for call in (later.responses.retrieve, later.responses.input_items.list, later.responses.delete):
        with pytest.raises(openai.NotFoundError) as caught:
            await call(answer.id)
        assert "was not kept" in caught.value.body["message"] and "max-record-mb" in caught.value.body["message"]
    # another key is told only what it is told for an id nobody kept
    with pytest.raises(openai.NotFoundError) as caught:
        await gateways.client(1, OTHER_KEY).responses.retrieve(answer.id)
    assert caught.value.body["message"] == f"Response with id '{answer.id}' not found."
    count, size = await gateways.kept()
    assert count == 1 and size < 1000  # only the note that it was not kept


# -- the total -------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["memory", "redis"])
async def test_past_the_total_the_oldest_answers_go_first(upstream, stack, instances_of, backend):
    """Records of ~25 KB in a store of 0.11 MB (~115 KB): four fit, a fifth takes the
    oldest out. Continuing an answer makes its whole chain new again."""
    total = 0.11
    gateways = await instances_of(stack, backend, {"max-record-mb": 0.05, "max-total-mb": total})
    upstream.add("POST", CHAT, Reply.json(chat_answer()))
    text = "y" * 25_000
    first = await gateways.client(0).responses.create(model="oa", input=text)
    second = await gateways.client(1).responses.create(model="oa", input=text)
    third = await gateways.client(0).responses.create(model="oa", input=text)
    # continuing the first keeps it (and the chain) as new as the continuation
    fourth = await gateways.client(1).responses.create(model="oa", input=text, previous_response_id=first.id)
    assert (await gateways.kept())[0] == 4
    fifth = await gateways.client(0).responses.create(model="oa", input=text)
    count, size = await gateways.kept()
    assert count == 4 and size <= total * MB
    with pytest.raises(openai.NotFoundError):
        await gateways.client(1).responses.retrieve(second.id)  # the oldest untouched one went
    for kept in (first, third, fourth, fifth):
        assert (await gateways.client(1).responses.retrieve(kept.id)).id == kept.id
    items = await gateways.client(0).responses.input_items.list(fourth.id, order="asc")
    assert [item.role for item in items.data] == ["user", "assistant", "user"]
    sixth = await gateways.client(1).responses.create(model="oa", input=text, previous_response_id=fourth.id)
    assert sixth.previous_response_id == fourth.id
    with pytest.raises(openai.NotFoundError):
        await gateways.client(0).responses.retrieve(third.id)  # now the oldest
    assert (await gateways.kept())[1] <= total * MB


async def test_instances_sharing_redis_hold_the_total_together(upstream, stack, instances_of, redis_prefix):
    gateways = await instances_of(stack, "redis", {"max-record-mb": 0.02, "max-total-mb": 0.1})
    upstream.add("POST", CHAT, Reply.json(chat_answer()))
    ids = []
    for n in range(24):
        ids.append((await gateways.client(n).responses.create(model="oa", input=f"{n}" + "z" * 10_000)).id)
    count, size = await gateways.kept()
    assert 0 < size <= 0.1 * MB and count < 24
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        values = [key async for key in client.scan_iter(match=redis_prefix + "lv:responses:v:*")]
        assert len(values) == count and sum([await client.strlen(key) for key in values]) == size
    finally:
        await client.aclose()
    # the newest are the ones kept
    assert (await gateways.client(1).responses.retrieve(ids[-1])).id == ids[-1]
    with pytest.raises(openai.NotFoundError):
        await gateways.client(1).responses.retrieve(ids[0])


# -- chains ----------------------------------------------------------------------------------


async def redis_bytes(prefix: str) -> int:
    """Bytes of every string value under ``prefix`` in Redis."""
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        total = 0
        async for key in client.scan_iter(match=prefix + "*"):
            if await client.type(key) == b"string":
                total += await client.strlen(key)
        return total
    finally:
        await client.aclose()


@pytest.mark.parametrize("backend", ["memory", "redis"])
async def test_a_long_conversation_is_kept_once_not_once_per_turn(upstream, stack, instances_of, redis_prefix, backend):
    """30 turns of 1 MB each: ~30 MB kept, where a copy of the conversation per turn
    would take 1 + 2 + ... + 30 = 465 MB."""
    gateways = await instances_of(stack, backend, {})
    upstream.add("POST", CHAT, Reply.json(chat_answer("noted")))
    turn = "w" * MB
    previous = None
    for n in range(30):
        answer = await gateways.client(n).responses.create(
            model="oa", input=f"turn {n} " + turn, previous_response_id=previous or openai.NOT_GIVEN
        )
        previous = answer.id
        sent = upstream.requests_to(CHAT)[-1].json["messages"]
        assert len(sent) == 2 * n + 1 and sent[-1]["content"].startswith(f"turn {n} ")
        upstream.requests.clear()  # the fake upstream would hold every (growing) request
    count, size = await gateways.kept()
    assert count == 30 and 30 * MB <= size < 32 * MB
    if backend == "redis":
        assert await redis_bytes(redis_prefix) < 32 * MB
    items = await gateways.client(1).responses.input_items.list(previous, order="asc", limit=100)
    assert len(items.data) == 59  # 30 questions, 29 answers before the last


@pytest.mark.parametrize("backend", ["memory", "redis"])
async def test_a_chain_at_its_longest_starts_over_with_the_whole_conversation(
    upstream, stack, instances_of, monkeypatch, backend
):
    """Chains are followed for at most MAX_LINKS links (3 here): the turn that would make
    one longer is kept with the whole conversation, and the conversation goes on."""
    import cliproxy.response_store
    import cliproxy.responses_door
    import cliproxy.state.memory
    import cliproxy.state.redis

    for module in (cliproxy.response_store, cliproxy.responses_door, cliproxy.state.memory, cliproxy.state.redis):
        monkeypatch.setattr(module, "MAX_LINKS", 3)
    gateways = await instances_of(stack, backend, {})
    upstream.add("POST", CHAT, Reply.json(chat_answer("noted")))
    previous = None
    for n in range(8):
        answer = await gateways.client(n).responses.create(
            model="oa", input=f"turn {n}", previous_response_id=previous or openai.NOT_GIVEN
        )
        previous = answer.id
        sent = upstream.requests_to(CHAT)[-1].json["messages"]
        assert [m["content"] for m in sent if m["role"] == "user"] == [f"turn {i}" for i in range(n + 1)]
    items = await gateways.client(1).responses.input_items.list(previous, order="asc")
    assert [i.content[0].text for i in items.data if i.role == "user"] == [f"turn {i}" for i in range(8)]
    assert (await gateways.kept())[0] == 8
