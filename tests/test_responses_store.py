"""``previous_response_id`` on models the gateway answers itself: the official ``openai``
SDK continues a function-calling conversation through the gateway's response store, in
front of a fake Claude upstream and a fake OpenAI Chat upstream, streaming and not, and
across two gateway instances sharing Redis."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import cliproxy_claude
import cliproxy_openai
import openai
import pytest
from cliproxy.app import gateway_of
from cliproxy.auth import key_owner
from cliproxy.testing import FakeUpstream, Reply, asgi_client, gateway_app, serve_app

KEY = "client-key"
MESSAGES = "/v1/messages"
CHAT = "/v1/chat/completions"
RESPONSES = "/v1/responses"
REDIS_URL = "redis://127.0.0.1:6379/0"
TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}
PROMPT = "weather in Paris?"
ANSWER = "Sunny in Paris."

# model alias -> (upstream path, {stream: tool-call recording}, final answer, streamed)
UPSTREAMS: dict[str, tuple[str, dict[bool, str], dict[str, Any], str]] = {
    "an": (
        MESSAGES,
        {
            False: "anthropic/vercel-anthropic-json-tool.1.json",
            True: "anthropic/DERIVED-vercel-tool-use.sse.txt",
        },
        {
            "id": "msg_2",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5",
            "content": [{"type": "text", "text": ANSWER}],
            "stop_reason": "end_turn",
            "usage": {"input_tokens": 20, "output_tokens": 4},
        },
        "anthropic/DERIVED-vercel-text.sse.txt",
    ),
    "oa": (
        CHAT,
        {
            False: "openai-chat/openai-sdk-nonstream-single-tool-call-strict.json",
            True: "openai-chat/openai-sdk-stream-single-tool-call.sse.txt",
        },
        {
            "id": "chatcmpl-2",
            "object": "chat.completion",
            "created": 1,
            "model": "gpt-4o",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": ANSWER},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 20, "completion_tokens": 4, "total_tokens": 24},
        },
        "openai-chat/DERIVED-vercel-openai-text.sse.txt",
    ),
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
            },
            {
                "name": "responses",
                "wire": "responses",
                "base-url": upstream.url + "/v1",
                "models": [{"name": "gpt-5", "alias": "rs"}],
            },
        ],
        **core,
    }


def make_app(upstream: FakeUpstream, **core: Any) -> Any:
    return gateway_app(config(upstream, **core), plugins=[cliproxy_openai, cliproxy_claude])


@pytest.fixture
def live(upstream: FakeUpstream) -> Iterator[openai.OpenAI]:
    with serve_app(make_app(upstream)) as url:
        yield openai.OpenAI(api_key=KEY, base_url=url + "/v1", max_retries=0)


def script(upstream: FakeUpstream, recording, model: str, stream: bool) -> str:
    """Turn one answers with a tool call, turn two with text; returns the upstream path."""
    path, calls, answer, streamed = UPSTREAMS[model]
    data = recording(calls[stream]).read_bytes()
    if stream:
        replies = [Reply.sse([data]), Reply.sse_file(recording(streamed))]
    else:
        replies = [Reply(body=data), Reply.json(answer)]
    upstream.add("POST", path, replies)
    return path


def create(client: openai.OpenAI, stream: bool, **request: Any) -> Any:
    """``responses.create``; for a stream, the response its final event carries."""
    if not stream:
        return client.responses.create(**request)
    events = list(client.responses.create(stream=True, **request))
    assert events[-1].type == "response.completed"
    return events[-1].response


def history_sent(body: dict[str, Any], model: str) -> tuple[str, list[str], list[str], str]:
    """(system prompt, user texts, tool call ids, tool result) from an upstream body."""
    if model == "an":
        blocks = [b for m in body["messages"] for b in m["content"] if isinstance(m["content"], list)]
        texts = [m["content"] for m in body["messages"] if isinstance(m["content"], str)]
        texts += [b["text"] for b in blocks if b["type"] == "text"]
        calls = [b["id"] for b in blocks if b["type"] == "tool_use"]
        (result,) = [b for b in blocks if b["type"] == "tool_result"]
        content = result["content"]
        output = content if isinstance(content, str) else "".join(c["text"] for c in content)
        system = body.get("system")
        if isinstance(system, list):
            system = "".join(s["text"] for s in system)
        return system or "", texts, calls, output
    messages = body["messages"]
    system = "".join(m["content"] for m in messages if m["role"] == "system")
    texts = [m["content"] for m in messages if m["role"] == "user"]
    calls = [c["id"] for m in messages if m["role"] == "assistant" for c in m.get("tool_calls", [])]
    (result,) = [m["content"] for m in messages if m["role"] == "tool"]
    return system, texts, calls, result


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("model", ["an", "oa"])
def test_a_function_call_continues_with_previous_response_id(upstream, live, recording, model, stream):
    path = script(upstream, recording, model, stream)
    first = create(live, stream, model=model, input=PROMPT, tools=[TOOL], instructions="Old rules.")
    (call,) = [item for item in first.output if item.type == "function_call"]
    output = {"type": "function_call_output", "call_id": call.call_id, "output": "sunny, 21C"}
    second = create(
        live,
        stream,
        model=model,
        previous_response_id=first.id,
        input=[output],
        tools=[TOOL],
        instructions="Be brief.",
    )
    assert second.output_text == ANSWER or (stream and second.output_text)
    assert second.previous_response_id == first.id and second.model == model
    sent = upstream.requests_to(path)[1].json
    system, texts, calls, result = history_sent(sent, model)
    assert system == "Be brief."  # the new instructions; turn one's are not inherited
    assert texts == [PROMPT] and calls == [call.call_id] and result == "sunny, 21C"


def test_a_conversation_continues_over_three_turns(upstream, live):
    answers = [
        UPSTREAMS["oa"][2]
        | {
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": f"answer {i}"},
                    "finish_reason": "stop",
                }
            ]
        }
        for i in (1, 2, 3)
    ]
    upstream.add("POST", CHAT, [Reply.json(a) for a in answers])
    previous = None
    for turn in (1, 2, 3):
        response = live.responses.create(
            model="oa", input=f"question {turn}", previous_response_id=previous or openai.NOT_GIVEN
        )
        previous = response.id
    sent = upstream.requests_to(CHAT)[2].json["messages"]
    assert [(m["role"], m["content"]) for m in sent] == [
        ("user", "question 1"),
        ("assistant", "answer 1"),
        ("user", "question 2"),
        ("assistant", "answer 2"),
        ("user", "question 3"),
    ]


def test_store_false_is_not_kept(upstream, live):
    upstream.add("POST", CHAT, Reply.json(UPSTREAMS["oa"][2]))
    first = live.responses.create(model="oa", input="hi", store=False)
    with pytest.raises(openai.NotFoundError) as caught:
        live.responses.create(model="oa", input="and?", previous_response_id=first.id)
    assert caught.value.body["code"] == "previous_response_not_found"
    assert len(upstream.requests_to(CHAT)) == 1


def test_an_unknown_id_is_openais_404(upstream, live):
    with pytest.raises(openai.NotFoundError) as caught:
        live.responses.create(model="an", input="and?", previous_response_id="resp_nobody")
    assert caught.value.status_code == 404
    assert caught.value.body == {
        "message": "Previous response with id 'resp_nobody' not found.",
        "type": "invalid_request_error",
        "param": "previous_response_id",
        "code": "previous_response_not_found",
    }
    assert not upstream.requests


def test_failed_answers_are_not_kept(upstream, live, recording):
    error = recording("openai-chat/aibridge-chat_stream_error.stream.sse.txt")
    upstream.add("POST", CHAT, Reply.sse_file(error))
    events = list(live.responses.create(model="oa", input="hi", stream=True))
    assert events[-1].type == "response.failed"
    with pytest.raises(openai.NotFoundError):
        live.responses.create(model="oa", input="and?", previous_response_id=events[-1].response.id)


async def test_answers_passed_through_from_a_responses_upstream_are_not_kept(upstream, recording):
    body = json.loads(
        recording("openai-responses/aibridge-responses_blocking_single_builtin_tool.nonstream.json").read_text()
    )
    upstream.add("POST", RESPONSES, Reply.json(body))
    app = make_app(upstream)
    async with asgi_client(app) as http:
        client = openai.AsyncOpenAI(api_key=KEY, base_url="http://gateway/v1", http_client=http)
        answer = await client.responses.create(model="rs", input="hi")
        store = gateway_of(app).responses
        assert store is not None and await store.load(answer.id, key_owner(KEY)) is None
        # ... and an id the gateway does not know reaches that upstream as sent
        await client.responses.create(model="rs", input="and?", previous_response_id=answer.id)
    assert upstream.requests_to(RESPONSES)[1].json["previous_response_id"] == answer.id


async def test_the_store_can_be_turned_off(upstream):
    app = make_app(upstream, **{"responses-store": {"enabled": False}})
    upstream.add("POST", CHAT, Reply.json(UPSTREAMS["oa"][2]))
    async with asgi_client(app) as http:
        client = openai.AsyncOpenAI(api_key=KEY, base_url="http://gateway/v1", http_client=http)
        first = await client.responses.create(model="oa", input="hi")
        with pytest.raises(openai.BadRequestError) as caught:
            await client.responses.create(model="oa", input="and?", previous_response_id=first.id)
    assert caught.value.body["param"] == "previous_response_id"
    assert gateway_of(app).responses is None


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_response_kept_by_one_instance_is_continued_by_another(upstream, recording, redis_prefix, stream):
    state = {"backend": "redis", "url": REDIS_URL, "key-prefix": redis_prefix, "timeout": 5}
    first_app, second_app = make_app(upstream, state=state), make_app(upstream, state=state)
    path = script(upstream, recording, "an", stream)
    async with asgi_client(first_app) as one, asgi_client(second_app) as two:
        a = openai.AsyncOpenAI(api_key=KEY, base_url="http://gateway/v1", http_client=one)
        b = openai.AsyncOpenAI(api_key=KEY, base_url="http://gateway/v1", http_client=two)
        if stream:
            events = [e async for e in await a.responses.create(model="an", input=PROMPT, tools=[TOOL], stream=True)]
            first = events[-1].response
        else:
            first = await a.responses.create(model="an", input=PROMPT, tools=[TOOL])
        (call,) = [item for item in first.output if item.type == "function_call"]
        output = {"type": "function_call_output", "call_id": call.call_id, "output": "sunny, 21C"}
        request = {
            "model": "an",
            "previous_response_id": first.id,
            "input": [output],
            "tools": [TOOL],
        }
        if stream:
            second = [e async for e in await b.responses.create(stream=True, **request)][-1].response
        else:
            second = await b.responses.create(**request)
    assert second.status == "completed" and second.previous_response_id == first.id
    _, texts, calls, result = history_sent(upstream.requests_to(path)[1].json, "an")
    assert texts == [PROMPT] and calls == [call.call_id] and result == "sunny, 21C"
