"""Copilot's quirks, each against the fake: what the request must look like (headers,
max_completion_tokens, Claude's assistant turns as strings, no service_tier), answers to
mend (split choices, rotating Responses ids), endpoints learned from
``unsupported_api_for_model``, and plain-text errors reaching every door in its shape."""

from __future__ import annotations

import json
import random

import orjson
import pytest
from cliproxy.app import gateway_of
from cliproxy.testing import RecordedRequest, Reply, asgi_client
from cliproxy_copilot.models import Endpoint, ModelInfo, endpoint_order
from cliproxy_copilot.shaping import merge_choices
from cliproxy_copilot.stream import OneChoice, StableIds, rewrite_events
from cliproxy_copilot.testing import API, CLAUDE, CODEX, GPT, FakeCopilot

AUTH = {"authorization": "Bearer client-key"}
IMAGE = "data:image/png;base64,iVBORw0KGgo="


def chat(model: str, messages: list | None = None, **extra) -> dict:
    return {"model": model, "messages": messages or [{"role": "user", "content": "hi"}], **extra}


def listed(copilot: FakeCopilot, model: str, endpoints: list[str] | None, **extra) -> None:
    """Make the fake list ``model`` at ``endpoints`` (None: without supported_endpoints)."""
    entry = {"id": model, "vendor": extra.pop("vendor", "OpenAI"), "capabilities": {"type": "chat"}, **extra}
    if endpoints is not None:
        entry["supported_endpoints"] = endpoints
    copilot.models = [m for m in copilot.models if m["id"] != model] + [entry]


def sent(copilot: FakeCopilot) -> list[RecordedRequest]:
    return copilot.api_requests()


async def collect(chunks: list[bytes], fix) -> bytes:
    async def source():
        for chunk in chunks:
            yield chunk

    return b"".join([piece async for piece in rewrite_events(source(), fix)])


# -- what requests look like ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "model", "body"),
    [
        (
            "/v1/chat/completions",
            GPT,
            chat(
                GPT,
                [
                    {"role": "user", "content": "q"},
                    {"role": "assistant", "content": "a"},
                    {"role": "user", "content": "q2"},
                ],
            ),
        ),
        (
            "/v1/responses",
            CODEX,
            {
                "model": CODEX,
                "input": [
                    {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
                    {"type": "function_call_output", "call_id": "c1", "output": "4"},
                ],
            },
        ),
        (
            "/v1/messages",
            CLAUDE,
            {
                "model": CLAUDE,
                "max_tokens": 10,
                "messages": [
                    {"role": "user", "content": "q"},
                    {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]},
                    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "4"}]},
                ],
            },
        ),
    ],
    ids=["chat", "responses", "messages"],
)
async def test_a_conversation_with_assistant_or_tool_turns_is_an_agent_turn(copilot, copilot_app, path, model, body):
    async with asgi_client(copilot_app()) as client:
        first = await client.post(
            path,
            json={**body, "messages": body["messages"][:1]} if "messages" in body else {**body, "input": "q"},
            headers=AUTH,
        )
        follow_up = await client.post(path, json=body, headers=AUTH)
    assert first.status_code == follow_up.status_code == 200
    assert [r.headers["x-initiator"] for r in sent(copilot)] == ["user", "agent"]


@pytest.mark.parametrize(
    ("path", "model", "body"),
    [
        (
            "/v1/chat/completions",
            GPT,
            chat(GPT, [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": IMAGE}}]}]),
        ),
        (
            "/v1/responses",
            CODEX,
            {"model": CODEX, "input": [{"role": "user", "content": [{"type": "input_image", "image_url": IMAGE}]}]},
        ),
        (
            "/v1/messages",
            CLAUDE,
            {
                "model": CLAUDE,
                "max_tokens": 10,
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "image",
                                "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
                            }
                        ],
                    }
                ],
            },
        ),
    ],
    ids=["chat", "responses", "messages"],
)
async def test_an_image_sends_the_vision_header(copilot, copilot_app, path, model, body):
    async with asgi_client(copilot_app()) as client:
        answer = await client.post(path, json=body, headers=AUTH)
    assert answer.status_code == 200
    (request,) = sent(copilot)
    assert request.headers["copilot-vision-request"] == "true"


async def test_claude_on_chat_gets_assistant_turns_as_strings(copilot, copilot_app):
    """Where Copilot offers Claude only at /chat/completions (older accounts)."""
    listed(copilot, CLAUDE, ["/chat/completions"], vendor="Anthropic")
    messages = [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": [{"type": "text", "text": "first"}, {"type": "text", "text": "second"}]},
        {"role": "user", "content": "q2"},
    ]
    async with asgi_client(copilot_app()) as client:
        answer = await client.post("/v1/chat/completions", json=chat(CLAUDE, messages), headers=AUTH)
    assert answer.status_code == 200
    (request,) = sent(copilot)
    assert request.path == API + "/chat/completions"
    assert request.json["messages"][1]["content"] == "first\n\nsecond"
    assert request.json["messages"][0]["content"] == "q"


async def test_reasoning_models_get_max_completion_tokens_on_chat(copilot, copilot_app):
    listed(copilot, "gpt-5-mini", ["/chat/completions"])
    async with asgi_client(copilot_app()) as client:
        answer = await client.post("/v1/chat/completions", json=chat("gpt-5-mini", max_tokens=50), headers=AUTH)
    assert answer.status_code == 200
    (request,) = sent(copilot)
    assert request.json["max_completion_tokens"] == 50 and "max_tokens" not in request.json


async def test_a_model_refusing_max_tokens_is_asked_again_and_remembered(copilot, copilot_app):
    listed(copilot, "o5-preview", ["/chat/completions"])  # the fake refuses max_tokens for o-models too
    listed(copilot, "other-model", ["/chat/completions"])
    refusing = copilot.chat

    def chat_refusing_other(request: RecordedRequest) -> Reply:
        if request.json.get("model") == "other-model" and "max_tokens" in request.json:
            message = "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead."
            return Reply.json({"error": {"message": message, "code": "invalid_request_body"}}, status=400)
        return refusing(request)

    copilot.server.add("POST", API + "/chat/completions", chat_refusing_other)
    app = copilot_app()
    async with asgi_client(app) as client:
        await gateway_of(app).discover_models()
        first = await client.post("/v1/chat/completions", json=chat("other-model", max_tokens=5), headers=AUTH)
        second = await client.post("/v1/chat/completions", json=chat("other-model", max_tokens=5), headers=AUTH)
    assert first.status_code == second.status_code == 200
    bodies = [r.json for r in sent(copilot)]
    assert ["max_tokens" in b for b in bodies] == [True, False, False]
    assert [b.get("max_completion_tokens") for b in bodies] == [None, 5, 5]


async def test_responses_requests_leave_out_service_tier(copilot, copilot_app):
    async with asgi_client(copilot_app()) as client:
        answer = await client.post(
            "/v1/responses", json={"model": CODEX, "input": "hi", "service_tier": "priority"}, headers=AUTH
        )
    assert answer.status_code == 200
    (request,) = sent(copilot)
    assert "service_tier" not in request.json and request.json["input"] == "hi"


# -- which endpoint -----------------------------------------------------------------------------------------


def test_the_endpoint_order_follows_supported_endpoints_and_guesses_without_them():
    claude = ModelInfo(CLAUDE, "Anthropic", (Endpoint.CHAT, Endpoint.MESSAGES))
    assert endpoint_order(CLAUDE, claude, "openai-chat") == (Endpoint.MESSAGES, Endpoint.CHAT)
    assert endpoint_order(CODEX, ModelInfo(CODEX, "OpenAI", (Endpoint.RESPONSES,)), "anthropic") == (
        Endpoint.RESPONSES,
    )
    both = ModelInfo(GPT, None, (Endpoint.CHAT, Endpoint.RESPONSES))
    assert endpoint_order(GPT, both, "openai-chat")[0] is Endpoint.CHAT
    assert endpoint_order(GPT, both, "openai-responses")[0] is Endpoint.RESPONSES
    assert endpoint_order(GPT, both, "gemini")[0] is Endpoint.CHAT
    assert endpoint_order("gpt-5.9-codex", None, "openai-chat") == (Endpoint.RESPONSES, Endpoint.CHAT)
    assert endpoint_order("claude-x", None, "anthropic") == (Endpoint.CHAT, Endpoint.MESSAGES)
    assert endpoint_order("gpt-9", None, "openai-chat") == (Endpoint.CHAT, Endpoint.RESPONSES)


async def test_an_unlisted_endpoint_refused_with_unsupported_api_is_replaced_and_remembered(copilot, copilot_app):
    """A model listed without supported_endpoints (older /models answers) that Copilot
    serves only at /responses."""
    listed(copilot, "gpt-5.4", None)
    copilot.models[-1]["supported_endpoints"] = ["/responses"]  # what the fake serves...
    entry = copilot.models[-1]

    def models(request: RecordedRequest) -> Reply:  # ... but not what it lists
        listing = [
            {k: v for k, v in m.items() if not (m is entry and k == "supported_endpoints")} for m in copilot.models
        ]
        return Reply.json({"data": listing, "object": "list"})

    copilot.server.add("GET", API + "/models", models)
    app = copilot_app()
    async with asgi_client(app) as client:
        await gateway_of(app).discover_models()
        first = await client.post("/v1/chat/completions", json=chat("gpt-5.4"), headers=AUTH)
        second = await client.post("/v1/chat/completions", json=chat("gpt-5.4"), headers=AUTH)
    assert first.status_code == second.status_code == 200
    paths = [r.path for r in sent(copilot)]
    assert paths == [API + "/chat/completions", API + "/responses", API + "/responses"]


# -- mending answers ------------------------------------------------------------------------------------------


SPLIT = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": CLAUDE,
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "Let me add them."}, "finish_reason": "stop"},
        {
            "index": 1,
            "message": {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "add", "arguments": '{"a":2,"b":3}'}}
                ],
            },
            "finish_reason": "tool_calls",
        },
    ],
    "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
}


def test_split_choices_merge_into_one():
    merged = orjson.loads(merge_choices(orjson.dumps(SPLIT)))
    (choice,) = merged["choices"]
    assert choice["message"]["content"] == "Let me add them." and choice["finish_reason"] == "tool_calls"
    assert choice["message"]["tool_calls"][0]["function"]["name"] == "add"
    assert merge_choices(orjson.dumps({**SPLIT, "choices": SPLIT["choices"][:1]})) is None


@pytest.mark.parametrize("door", ["chat", "messages"])
async def test_a_claude_answer_split_over_choices_reaches_clients_whole(copilot, copilot_app, door):
    listed(copilot, CLAUDE, ["/chat/completions"], vendor="Anthropic")
    copilot.server.add("POST", API + "/chat/completions", Reply.json(SPLIT))
    async with asgi_client(copilot_app()) as client:
        if door == "chat":
            answer = (await client.post("/v1/chat/completions", json=chat(CLAUDE), headers=AUTH)).json()
            message = answer["choices"][0]["message"]
            assert len(answer["choices"]) == 1 and answer["choices"][0]["finish_reason"] == "tool_calls"
            assert message["content"] == "Let me add them." and message["tool_calls"][0]["function"]["name"] == "add"
        else:
            body = {"model": CLAUDE, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
            answer = (await client.post("/v1/messages", json=body, headers=AUTH)).json()
            assert [b["type"] for b in answer["content"]] == ["text", "tool_use"] and answer[
                "stop_reason"
            ] == "tool_use"


@pytest.mark.parametrize("door", ["chat", "messages"])
async def test_a_streamed_claude_answer_split_over_choices_reaches_clients_whole(copilot, copilot_app, door):
    listed(copilot, CLAUDE, ["/chat/completions"], vendor="Anthropic")
    base = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": CLAUDE}
    call = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "add", "arguments": '{"a":2,"b":3}'}}
    events = [
        {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Adding."}}]},
        {**base, "choices": [{"index": 1, "delta": {"tool_calls": [call]}}]},
        {**base, "choices": [{"index": 1, "delta": {}, "finish_reason": "tool_calls"}]},
    ]
    copilot.server.add("POST", API + "/chat/completions", Reply.sse_events(events, done=True))
    async with asgi_client(copilot_app()) as client:
        if door == "messages":
            body = {"model": CLAUDE, "max_tokens": 10, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
            answer = await client.post("/v1/messages", json=body, headers=AUTH)
            events = [json.loads(line[6:]) for line in answer.text.splitlines() if line.startswith("data: {")]
            blocks = [e["content_block"] for e in events if e["type"] == "content_block_start"]
            assert [b["type"] for b in blocks] == ["text", "tool_use"] and blocks[1]["name"] == "add"
            partial = "".join(e["delta"].get("partial_json", "") for e in events if e["type"] == "content_block_delta")
            assert partial == '{"a":2,"b":3}'
            return
        answer = await client.post("/v1/chat/completions", json=chat(CLAUDE, stream=True), headers=AUTH)
    chunks = [json.loads(line[6:]) for line in answer.text.splitlines() if line.startswith("data: {")]
    assert {c["index"] for chunk in chunks for c in chunk["choices"]} == {0}, "one reply, one choice"
    deltas = [c["choices"][0]["delta"] for c in chunks if c.get("choices")]
    assert "".join(d.get("content") or "" for d in deltas) == "Adding."
    calls = [call for d in deltas for call in d.get("tool_calls") or ()]
    assert calls and calls[0]["function"]["name"] == "add"


async def test_stable_ids_survive_any_split_of_the_recorded_copilot_stream(recording):
    lines = recording("copilot/vercel-github-copilot-responses-id-rotation.chunks.txt").read_bytes().splitlines()
    stream = b"".join(b"event: x\ndata: " + line + b"\n\n" for line in lines if line.strip())
    whole = await collect([stream], StableIds())
    rng = random.Random(7)
    for _ in range(20):
        cuts = sorted(rng.sample(range(1, len(stream)), 12))
        pieces = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
        assert await collect(pieces, StableIds()) == whole
    events = [json.loads(line[6:]) for line in whole.splitlines() if line.startswith(b"data: ")]
    ids = {e["output_index"]: set() for e in events if "output_index" in e}
    for event in events:
        if "output_index" in event:
            ids[event["output_index"]].add(event.get("item_id") or event["item"]["id"])
    assert ids == {0: {"capture-id-3"}, 1: {"capture-id-9"}}
    assert {e["response"]["id"] for e in events if "response" in e} == {"capture-id-1"}
    assert [i["id"] for i in events[-1]["response"]["output"]] == ["capture-id-3", "capture-id-9"]


async def test_rewriting_leaves_untouched_lines_byte_for_byte():
    stream = [b'data: {"choices":[{"index":0, "delta":{}}]}\r\n\r\n', b"data: [DONE]\n\n", b": comment\n"]
    assert await collect(stream, OneChoice()) == b"".join(stream)
    assert (
        await collect([b'data: {"choices":[{"index":1}]}\n\n'], OneChoice()) == b'data: {"choices":[{"index":0}]}\n\n'
    )


# -- errors ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("door", ["chat", "responses", "messages", "gemini"])
async def test_a_plain_text_400_reaches_every_door_in_its_own_shape(copilot, copilot_app, door):
    for endpoint in ("/chat/completions", "/responses", "/v1/messages"):
        copilot.server.add("POST", API + endpoint, Reply(status=400, body=b"Bad Request\n", content_type="text/plain"))
    requests = {
        "chat": ("/v1/chat/completions", chat(GPT)),
        "responses": ("/v1/responses", {"model": CODEX, "input": "hi"}),
        "messages": (
            "/v1/messages",
            {"model": CLAUDE, "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]},
        ),
        "gemini": (
            f"/v1beta/models/{GPT}:generateContent",
            {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
        ),
    }
    path, body = requests[door]
    async with asgi_client(copilot_app()) as client:
        answer = await client.post(path, json=body, headers=AUTH)
        (credential,) = (await client.get("/v0/status")).json()["credentials"]
    assert answer.status_code == 400
    error = answer.json()
    if door == "messages":
        assert error["type"] == "error" and "Bad Request" in error["error"]["message"]
    elif door == "gemini":
        assert error["error"]["code"] == 400 and "Bad Request" in error["error"]["message"]
    else:
        assert "Bad Request" in error["error"]["message"]
    assert credential["state"] == "ok", "the request was at fault, not the account"


async def test_a_model_the_account_may_not_use_rests_only_that_model(copilot, copilot_app):
    refusal = {
        "error": {
            "message": "The requested model is not supported.",
            "code": "model_not_supported",
            "param": "model",
            "type": "invalid_request_error",
        }
    }
    copilot.server.add("POST", API + "/chat/completions", Reply.json(refusal, status=400))
    async with asgi_client(copilot_app()) as client:
        refused = await client.post("/v1/chat/completions", json=chat(GPT), headers=AUTH)
        served = await client.post(
            "/v1/messages",
            json={"model": CLAUDE, "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]},
            headers=AUTH,
        )
        (credential,) = (await client.get("/v0/status")).json()["credentials"]
    assert refused.status_code == 400 and "not supported" in refused.json()["error"]["message"]
    assert served.status_code == 200
    assert credential["unhealthy"] is None and set(credential["cooldowns"]) == {GPT}
