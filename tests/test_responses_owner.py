"""A kept Responses answer belongs to the caller that created it: another client key --
on the same instance or another one sharing Redis, before or after ``api-keys`` is
reordered -- cannot read, list, continue or delete it, and is told exactly what it would
be told for an id nobody kept. The official ``openai`` SDK is the client."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import cliproxy_openai
import openai
import pytest
from cliproxy import ClientIdentity, hookimpl
from cliproxy.app import gateway_of
from cliproxy.auth import ANONYMOUS, key_owner
from cliproxy.response_store import ResponseStore, StoredResponse
from cliproxy.state import MemoryStore
from cliproxy.testing import FakeUpstream, Reply, asgi_client, gateway_app

KEY_A = "sk-client-a-0123456789abcdef"
KEY_B = "sk-client-b-0123456789abcdef"
CHAT = "/v1/chat/completions"
REDIS_URL = "redis://127.0.0.1:6379/0"


def chat_answer(text: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
    }


def make_app(upstream: FakeUpstream, keys: list[str], **core: Any) -> Any:
    config = {
        "api-keys": keys,
        "request-retry": 0,
        "openai-compatibility": [
            {"name": "compat", "base-url": upstream.url + "/v1", "models": [{"name": "gpt-4o", "alias": "oa"}]}
        ],
        **core,
    }
    return gateway_app(config, plugins=[cliproxy_openai])


class Gateways:
    """Clients on gateway instances: ``client(key, instance)``."""

    def __init__(self, stack: AsyncExitStack, apps: list[Any]) -> None:
        self.stack = stack
        self.apps = apps
        self.http: list[Any] = []

    async def start(self) -> Gateways:
        for app in self.apps:
            self.http.append(await self.stack.enter_async_context(asgi_client(app)))
        return self

    def client(self, key: str, instance: int = 0) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(
            api_key=key, base_url="http://gateway/v1", http_client=self.http[instance], max_retries=0
        )


@pytest.fixture(params=["memory", "redis"])
async def gateways(request, upstream: FakeUpstream, redis_prefix: str) -> AsyncIterator[Gateways]:
    """One instance on memory state; two sharing Redis (key A uses the first, B the second)."""
    if request.param == "memory":
        apps = [make_app(upstream, [KEY_A, KEY_B])] * 2
    else:
        state = {"backend": "redis", "url": REDIS_URL, "key-prefix": redis_prefix, "timeout": 5}
        apps = [make_app(upstream, [KEY_A, KEY_B], state=state) for _ in range(2)]
    async with AsyncExitStack() as stack:
        yield await Gateways(stack, apps).start()


async def refusal(call: Any, *args: Any, **kwargs: Any) -> tuple[int, Any]:
    """The status and error body a failing SDK call got."""
    with pytest.raises(openai.APIStatusError) as caught:
        await call(*args, **kwargs)
    return caught.value.status_code, caught.value.body


async def test_another_key_cannot_read_list_continue_or_delete_a_response(upstream, gateways):
    upstream.add("POST", CHAT, Reply.json(chat_answer("for A only")))
    a, b = gateways.client(KEY_A, 0), gateways.client(KEY_B, 1)
    kept = await a.responses.create(model="oa", input="A's secret question")
    nobody = "resp_" + uuid.uuid4().hex
    for call in (b.responses.retrieve, b.responses.delete, b.responses.input_items.list):
        theirs = await refusal(call, kept.id)
        unknown = await refusal(call, nobody)
        assert theirs == (404, {**unknown[1], "message": unknown[1]["message"].replace(nobody, kept.id)})
        assert theirs[0] == 404
    continued = await refusal(b.responses.create, model="oa", input="and?", previous_response_id=kept.id)
    unknown = await refusal(b.responses.create, model="oa", input="and?", previous_response_id=nobody)
    assert continued == (404, {**unknown[1], "message": unknown[1]["message"].replace(nobody, kept.id)})
    assert continued[1]["code"] == "previous_response_not_found"
    assert len(upstream.requests_to(CHAT)) == 1  # B's continuation never reached an upstream
    # ... and B's attempts changed nothing for A, on either instance
    for instance in (0, 1):
        mine = gateways.client(KEY_A, instance)
        assert (await mine.responses.retrieve(kept.id)).output_text == "for A only"
        items = await mine.responses.input_items.list(kept.id)
        assert [i.content[0].text for i in items.data] == ["A's secret question"]
    follow_up = await a.responses.create(model="oa", input="and?", previous_response_id=kept.id)
    assert follow_up.previous_response_id == kept.id
    await a.responses.delete(kept.id)


async def test_a_response_stays_its_creators_when_api_keys_are_reordered(upstream, redis_prefix):
    state = {"backend": "redis", "url": REDIS_URL, "key-prefix": redis_prefix, "timeout": 5}
    before = make_app(upstream, [KEY_A, KEY_B], state=state)
    after = make_app(upstream, [KEY_B, KEY_A], state=state)  # B is key-1 now
    upstream.add("POST", CHAT, Reply.json(chat_answer("kept for A")))
    async with AsyncExitStack() as stack:
        gateways = await Gateways(stack, [before, after]).start()
        kept = await gateways.client(KEY_A, 0).responses.create(model="oa", input="hi")
        assert (await gateways.client(KEY_A, 1).responses.retrieve(kept.id)).output_text == "kept for A"
        status, _ = await refusal(gateways.client(KEY_B, 1).responses.retrieve, kept.id)
        assert status == 404


class TeamAuth:
    """Names callers by the ``x-team`` header, as a plugin's own inbound auth would."""

    @hookimpl
    def authenticate_client(self, request, config):
        team = request.headers.get("x-team")
        return ClientIdentity(team) if team else None


async def test_identities_from_a_plugin_keep_their_responses_apart(upstream):
    config = {
        "api-keys": ["unused-key-0123456789abcdef"],
        "openai-compatibility": [
            {"name": "compat", "base-url": upstream.url + "/v1", "models": [{"name": "gpt-4o", "alias": "oa"}]}
        ],
    }
    app = gateway_app(config, plugins=[cliproxy_openai, TeamAuth()])
    upstream.add("POST", CHAT, Reply.json(chat_answer("red's answer")))
    async with asgi_client(app) as http:

        def team(name: str) -> openai.AsyncOpenAI:
            return openai.AsyncOpenAI(
                api_key="-",
                base_url="http://gateway/v1",
                http_client=http,
                default_headers={"x-team": name},
                max_retries=0,
            )

        kept = await team("red").responses.create(model="oa", input="hi")
        assert (await team("red").responses.retrieve(kept.id)).output_text == "red's answer"
        status, _ = await refusal(team("blue").responses.retrieve, kept.id)
        assert status == 404
    assert gateway_of(app).responses is not None


def test_owners_are_stable_fingerprints_that_hold_no_key():
    assert key_owner(KEY_A) == key_owner(KEY_A) != key_owner(KEY_B)
    assert KEY_A not in key_owner(KEY_A) and len(key_owner(KEY_A)) == len("key:") + 32
    assert ClientIdentity("red").owner == ClientIdentity("red").owner != ClientIdentity("blue").owner
    assert ClientIdentity("key-1").owner not in (key_owner(KEY_A), ANONYMOUS.owner)
    assert ANONYMOUS.owner == "anonymous" and ClientIdentity("anonymous").owner != "anonymous"
    assert ClientIdentity("x", owner="chosen").owner == "chosen"


async def test_a_chain_through_another_owners_answer_is_not_found():
    store = ResponseStore(MemoryStore(), ttl=60)

    async def keep(response_id: str, owner: str, previous: str | None) -> None:
        record = StoredResponse({"id": response_id, "output": []}, [{"role": "user", "content": "x"}], owner, previous)
        store.hold(record)
        await store.save(record)

    await keep("resp_1", "owner-b", None)
    await keep("resp_2", "owner-a", "resp_1")  # a link into someone else's answer
    await keep("resp_3", "owner-a", None)
    assert await store.conversation("resp_2", "owner-a") is None
    assert await store.conversation("resp_2", "owner-b") is None
    assert await store.load("resp_2", "owner-a") is not None  # the answer itself is A's
    assert (await store.conversation("resp_3", "owner-a")).latest.id == "resp_3"  # type: ignore[union-attr]
    assert await store.conversation("resp_3", "owner-b") is None
    assert not await store.delete("resp_3", "owner-b")
    assert await store.delete("resp_3", "owner-a")
