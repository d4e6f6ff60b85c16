"""``GET``/``DELETE /v1/responses/{id}`` and ``GET /v1/responses/{id}/input_items`` on the
gateway's response store, with the official ``openai`` SDK as client, in front of a fake
Claude upstream and a fake OpenAI Chat upstream, and across two instances sharing Redis."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import cliproxy_claude
import cliproxy_openai
import openai
import pytest
from cliproxy.testing import FakeUpstream, Reply, asgi_client, gateway_app, serve_app
from cliproxy.wire.openai_responses.stored import input_items_page, listed_items

KEY = "client-key"
CHAT = "/v1/chat/completions"
MESSAGES = "/v1/messages"
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


def config(upstream: FakeUpstream, **core: Any) -> dict[str, Any]:
    return {
        "api-keys": [KEY],
        "request-retry": 0,
        "claude-api-key": [
            {
                "api-key": "sk-ant",
                "base-url": upstream.url,
                "models": [{"name": "claude-sonnet-4-5", "alias": "an"}],
            }
        ],
        "openai-compatibility": [
            {
                "name": "compat",
                "base-url": upstream.url + "/v1",
                "models": [{"name": "gpt-4o", "alias": "oa"}],
            }
        ],
        **core,
    }


def make_app(upstream: FakeUpstream, **core: Any) -> Any:
    return gateway_app(config(upstream, **core), plugins=[cliproxy_openai, cliproxy_claude])


@pytest.fixture
def live(upstream: FakeUpstream) -> Iterator[openai.OpenAI]:
    with serve_app(make_app(upstream)) as url:
        yield openai.OpenAI(api_key=KEY, base_url=url + "/v1", max_retries=0)


def not_found_body(response_id: str) -> dict[str, Any]:
    return {
        "message": f"Response with id '{response_id}' not found.",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }


def test_a_response_is_retrieved_as_first_received(upstream, live):
    upstream.add("POST", CHAT, Reply.json(chat_answer("Hello there")))
    raw = live.responses.with_raw_response.create(model="oa", input="hi", instructions="Be kind.")
    created = json.loads(raw.http_response.content)
    fetched = live.responses.with_raw_response.retrieve(created["id"])
    assert fetched.http_response.status_code == 200
    assert json.loads(fetched.http_response.content) == created
    retrieved = live.responses.retrieve(created["id"])
    assert retrieved.output_text == "Hello there" and retrieved.instructions == "Be kind."
    assert len(upstream.requests_to(CHAT)) == 1  # retrieving never reaches an upstream


def test_an_upstream_that_repeats_its_ids_still_gets_distinct_responses(upstream, live):
    # Local servers may answer every request with the same id; kept answers must not collide.
    same = {**chat_answer("first"), "id": "chatcmpl-1"}
    upstream.add(
        "POST",
        CHAT,
        [
            Reply.json(same),
            Reply.json(
                {
                    **same,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": "second"},
                            "finish_reason": "stop",
                        }
                    ],
                }
            ),
        ],
    )
    first = live.responses.create(model="oa", input="one")
    second = live.responses.create(model="oa", input="two")
    assert first.id != second.id and first.id.startswith("resp_")
    assert live.responses.retrieve(first.id).output_text == "first"
    assert live.responses.retrieve(second.id).output_text == "second"


def test_a_streamed_response_is_retrieved_as_its_final_event_carried_it(upstream, live, recording):
    upstream.add("POST", MESSAGES, Reply.sse_file(recording("anthropic/DERIVED-vercel-text.sse.txt")))
    events = list(live.responses.create(model="an", input="hi", stream=True))
    final = events[-1]
    assert final.type == "response.completed"
    retrieved = live.responses.retrieve(final.response.id)
    assert retrieved.model_dump() == final.response.model_dump()
    assert retrieved.status == "completed" and retrieved.output_text


def test_input_items_list_the_conversation_with_ids(upstream, live):
    upstream.add("POST", CHAT, [Reply.json(chat_answer("answer 1")), Reply.json(chat_answer("answer 2"))])
    first = live.responses.create(model="oa", input="question 1")
    second = live.responses.create(
        model="oa",
        previous_response_id=first.id,
        input=[{"role": "user", "content": [{"type": "input_text", "text": "question 2"}]}],
    )
    page = live.responses.input_items.list(second.id, order="asc")
    items = page.data
    assert [(i.type, i.role) for i in items] == [
        ("message", "user"),
        ("message", "assistant"),
        ("message", "user"),
    ]
    assert [i.content[0].text for i in items] == ["question 1", "answer 1", "question 2"]
    assert items[0].content[0].type == "input_text"
    assert items[1].id == first.output[0].id  # the answer's own item keeps its id
    assert all(i.id for i in items) and len({i.id for i in items}) == 3
    assert not page.has_more
    # the default order is newest first, and the ids are the same on every listing
    newest_first = live.responses.input_items.list(second.id)
    assert [i.id for i in newest_first.data] == [i.id for i in reversed(items)]
    assert [i.id for i in live.responses.input_items.list(first.id).data] == [items[0].id]


def test_input_items_page_with_limit_and_after(upstream, live):
    upstream.add("POST", CHAT, Reply.json(chat_answer("ok")))
    texts = [f"line {n}" for n in range(5)]
    items = [{"role": "user", "content": text} for text in texts]
    response = live.responses.create(model="oa", input=items)
    raw = live.responses.input_items.with_raw_response.list(response.id, limit=2, order="asc")
    body = json.loads(raw.http_response.content)
    assert body["object"] == "list" and body["has_more"] is True
    assert [d["content"][0]["text"] for d in body["data"]] == texts[:2]
    assert (body["first_id"], body["last_id"]) == (body["data"][0]["id"], body["data"][1]["id"])
    # the SDK follows the cursor through every page
    pages = live.responses.input_items.list(response.id, limit=2, order="asc")
    assert [i.content[0].text for i in pages] == texts
    after = live.responses.input_items.list(response.id, limit=2, after=body["last_id"])
    assert [i.content[0].text for i in after.data] == ["line 0"]  # newest first from there
    assert not after.has_more


def test_bad_list_parameters_get_a_400(upstream, live):
    upstream.add("POST", CHAT, Reply.json(chat_answer("ok")))
    response = live.responses.create(model="oa", input="hi")
    for query, param in (
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"order": "sideways"}, "order"),
        ({"after": "msg_nobody"}, "after"),
    ):
        with pytest.raises(openai.BadRequestError) as caught:
            live.responses.input_items.list(response.id, extra_query=query)
        assert caught.value.body["param"] == param


def test_a_deleted_response_is_gone(upstream, live):
    upstream.add("POST", CHAT, Reply.json(chat_answer("ok")))
    response = live.responses.create(model="oa", input="hi")
    raw = live.responses.with_raw_response.delete(response.id)
    assert raw.http_response.status_code == 200
    assert raw.http_response.json() == {
        "id": response.id,
        "object": "response.deleted",
        "deleted": True,
    }
    with pytest.raises(openai.NotFoundError) as caught:
        live.responses.retrieve(response.id)
    assert caught.value.body == not_found_body(response.id)
    with pytest.raises(openai.NotFoundError):
        live.responses.delete(response.id)
    with pytest.raises(openai.NotFoundError) as caught:
        live.responses.create(model="oa", input="and?", previous_response_id=response.id)
    assert caught.value.body["code"] == "previous_response_not_found"


def test_sdk_delete_returns_none(upstream, live):
    upstream.add("POST", CHAT, Reply.json(chat_answer("ok")))
    response = live.responses.create(model="oa", input="hi")
    assert live.responses.delete(response.id) is None


def test_unknown_ids_are_openais_404(live):
    for call in (
        live.responses.retrieve,
        live.responses.delete,
        live.responses.input_items.list,
    ):
        with pytest.raises(openai.NotFoundError) as caught:
            call("resp_nobody")
        assert caught.value.status_code == 404
        assert caught.value.body == not_found_body("resp_nobody")


def test_store_false_answers_cannot_be_retrieved(upstream, live):
    upstream.add("POST", CHAT, Reply.json(chat_answer("ok")))
    response = live.responses.create(model="oa", input="hi", store=False)
    with pytest.raises(openai.NotFoundError):
        live.responses.retrieve(response.id)


def test_a_stream_of_a_kept_response_is_refused(upstream, live):
    upstream.add("POST", CHAT, Reply.json(chat_answer("ok")))
    response = live.responses.create(model="oa", input="hi")
    with pytest.raises(openai.BadRequestError) as caught:
        live.responses.retrieve(response.id, stream=True)
    assert caught.value.body["param"] == "stream"


async def test_a_missing_or_wrong_key_is_401(upstream):
    app = make_app(upstream)
    async with asgi_client(app) as http:
        for key in (None, "wrong-key"):
            headers = {} if key is None else {"authorization": f"Bearer {key}"}
            for method, path in (
                ("GET", "/v1/responses/resp_1"),
                ("DELETE", "/v1/responses/resp_1"),
                ("GET", "/v1/responses/resp_1/input_items"),
            ):
                reply = await http.request(method, path, headers=headers)
                assert reply.status_code == 401, (key, method, path)
                error = reply.json()["error"]
                assert error["type"] == "authentication_error" and error["code"] == "invalid_api_key"
        client = openai.AsyncOpenAI(api_key="wrong-key", base_url="http://gateway/v1", http_client=http)
        with pytest.raises(openai.AuthenticationError):
            await client.responses.retrieve("resp_1")


async def test_a_disabled_store_says_so(upstream):
    app = make_app(upstream, **{"responses-store": {"enabled": False}})
    upstream.add("POST", CHAT, Reply.json(chat_answer("ok")))
    async with asgi_client(app) as http:
        client = openai.AsyncOpenAI(api_key=KEY, base_url="http://gateway/v1", http_client=http)
        response = await client.responses.create(model="oa", input="hi")
        for call in (
            client.responses.retrieve,
            client.responses.delete,
            client.responses.input_items.list,
        ):
            with pytest.raises(openai.NotFoundError) as caught:
                await call(response.id)
            message = caught.value.body["message"]
            assert "disabled" in message and "responses-store: {enabled: true}" in message
        reply = await http.get(f"/v1/responses/{response.id}")
        assert reply.status_code == 401  # the key is still checked first


async def test_input_tokens_still_counts_through_the_router(upstream):
    """With middleware every request takes Starlette's routing: ``POST
    /v1/responses/input_tokens`` still reaches its door, not the kept-response route."""
    app = make_app(upstream)
    seen: list[str] = []

    class Noting:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                seen.append(scope["path"])
            await self.inner(scope, receive, send)

    app.add_middleware(Noting)
    async with asgi_client(app) as http:
        headers = {"authorization": f"Bearer {KEY}"}
        reply = await http.post("/v1/responses/input_tokens", headers=headers, json={"model": "oa", "input": "hello"})
        assert reply.status_code == 200 and reply.json()["object"] == "response.input_tokens"
        reply = await http.post("/v1/responses/resp_1", headers=headers, json={})
        assert reply.status_code == 405
    assert seen == ["/v1/responses/input_tokens", "/v1/responses/resp_1"]


async def test_one_instance_keeps_another_retrieves_and_deletes(upstream, redis_prefix):
    state = {"backend": "redis", "url": REDIS_URL, "key-prefix": redis_prefix, "timeout": 5}
    first_app, second_app = make_app(upstream, state=state), make_app(upstream, state=state)
    upstream.add("POST", CHAT, Reply.json(chat_answer("kept in redis")))
    async with asgi_client(first_app) as one, asgi_client(second_app) as two:
        a = openai.AsyncOpenAI(api_key=KEY, base_url="http://gateway/v1", http_client=one)
        b = openai.AsyncOpenAI(api_key=KEY, base_url="http://gateway/v1", http_client=two)
        created = await a.responses.create(model="oa", input="hi")
        retrieved = await b.responses.retrieve(created.id)
        assert retrieved.model_dump() == created.model_dump()
        items = await b.responses.input_items.list(created.id)
        assert [i.content[0].text for i in items.data] == ["hi"]
        await b.responses.delete(created.id)
        with pytest.raises(openai.NotFoundError):
            await a.responses.retrieve(created.id)
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        assert not list(client.scan_iter(match=redis_prefix + "lv:responses:v:*"))
    finally:
        client.close()


# -- the pure parts ----------------------------------------------------------------------------


def test_listed_items_get_stable_ids_and_content_parts():
    call = {"type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{}"}
    output = {"type": "function_call_output", "call_id": "call_1", "output": "42"}
    said = {"role": "assistant", "content": "done"}
    listed = listed_items([call, output, said])
    assert listed[0]["id"].startswith("fc_") and listed[1]["id"].startswith("fco_")
    assert listed[2] == {
        "id": listed[2]["id"],
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "done", "annotations": []}],
        "status": "completed",
    }
    assert len({item["id"] for item in listed}) == 3
    # the same conversation gives the same ids; a different one before an item, others
    assert listed_items([call, output]) == listed[:2]
    assert listed_items([output, call])[1]["id"] != listed[0]["id"]
    assert listed_items([{**call, "id": "fc_kept"}])[0]["id"] == "fc_kept"
    assert call == {"type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{}"}


def test_an_empty_page():
    page = input_items_page("resp_a", [], {})
    assert page == {
        "object": "list",
        "data": [],
        "first_id": None,
        "last_id": None,
        "has_more": False,
    }
