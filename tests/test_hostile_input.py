"""Hostile and malformed client input: never a 5xx, never a rested model, never another
tenant's problem.

A gateway in front of three upstream wires (OpenAI-compatible, Anthropic, Gemini) gets
bodies built to break it -- nesting past what JSON encoders take, numbers past 64 bits,
every known field given the wrong type -- through every door. Each must be answered by
the gateway (a 4xx in the door's own shape, or a 200 where the input is merely odd), and
afterwards no credential may rest: the next well-formed request, from another client key,
is served. Hypothesis then mutates valid bodies at random (a bounded budget here; ``pytest
--fuzz`` runs a longer campaign).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import cliproxy_claude
import cliproxy_gemini
import cliproxy_openai
import httpx
import pytest
from cliproxy.testing import FakeUpstream, RecordedRequest, Reply, gateway_app, serve_app
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ATTACKER = "attacker-key"
VICTIM = "victim-key"

CHAT_OK = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "deepseek-chat",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
}
CHAT_STREAM = [
    {"id": "c", "object": "chat.completion.chunk", "model": "m", "choices": [{"index": 0, "delta": {"content": "ok"}}]},
    {
        "id": "c",
        "object": "chat.completion.chunk",
        "model": "m",
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
    },
]
CLAUDE_OK = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5",
    "content": [{"type": "text", "text": "ok"}],
    "stop_reason": "end_turn",
    "usage": {"input_tokens": 3, "output_tokens": 1},
}
CLAUDE_STREAM = [
    ("message_start", {"type": "message_start", "message": {**CLAUDE_OK, "content": [], "stop_reason": None}}),
    ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "ok"}}),
    ("content_block_stop", {"type": "content_block_stop", "index": 0}),
    ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 1}}),
    ("message_stop", {"type": "message_stop"}),
]
GEMINI_OK = {
    "candidates": [{"content": {"role": "model", "parts": [{"text": "ok"}]}, "finishReason": "STOP", "index": 0}],
    "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 1, "totalTokenCount": 4},
    "modelVersion": "gemini-2.5-flash",
}


def _sse(events: list[tuple[str | None, Any]], done: bool = False) -> bytes:
    out = b""
    for name, data in events:
        if name is not None:
            out += b"event: " + name.encode() + b"\n"
        out += b"data: " + json.dumps(data).encode() + b"\n\n"
    return out + (b"data: [DONE]\n\n" if done else b"")


def answer(request: RecordedRequest) -> Reply:
    """A well-formed answer in the wire the request was sent in, streamed if asked."""
    path = request.path
    body = request.json if isinstance(request.json, dict) else {}
    if path.endswith("/chat/completions"):
        if body.get("stream"):
            return Reply.sse([_sse([(None, e) for e in CHAT_STREAM], done=True)])
        return Reply.json(CHAT_OK)
    if path.endswith("/messages/count_tokens"):
        return Reply.json({"input_tokens": 7})
    if path.endswith("/messages"):
        if body.get("stream"):
            return Reply.sse([_sse(CLAUDE_STREAM)])
        return Reply.json(CLAUDE_OK)
    if path.endswith(":countTokens"):
        return Reply.json({"totalTokens": 7})
    if path.endswith(":streamGenerateContent"):
        return Reply.sse([_sse([(None, GEMINI_OK)])])
    if path.endswith(":generateContent"):
        return Reply.json(GEMINI_OK)
    return Reply.json({"error": {"message": f"no such path {path}"}}, status=404)


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as server:
        server.add("POST", "/v1/chat/completions", answer)
        server.add("POST", "/v1/messages", answer)
        server.add("POST", "/v1/messages/count_tokens", answer)
        for method in ("generateContent", "streamGenerateContent", "countTokens"):
            server.add("POST", f"/v1beta/models/gemini-2.5-flash:{method}", answer)
        yield server


@pytest.fixture(scope="module")
def gateway(upstream: FakeUpstream) -> Iterator[str]:
    config = {
        "api-keys": [ATTACKER, VICTIM],
        "openai-compatibility": [
            {
                "name": "compat",
                "base-url": upstream.url + "/v1",
                "api-key-entries": [{"api-key": "sk-compat"}],
                "models": [{"name": "deepseek-chat", "alias": "oa"}],
            }
        ],
        "claude-api-key": [
            {"api-key": "sk-ant", "base-url": upstream.url, "models": [{"name": "claude-sonnet-4-5", "alias": "an"}]}
        ],
        "gemini-api-key": [
            {"api-key": "g-key", "base-url": upstream.url, "models": [{"name": "gemini-2.5-flash", "alias": "ge"}]}
        ],
    }
    app = gateway_app(config, plugins=[cliproxy_openai, cliproxy_claude, cliproxy_gemini])
    with serve_app(app) as url:
        yield url


@pytest.fixture(scope="module")
def http(gateway: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway, timeout=30) as client:
        yield client


MODELS = ("oa", "an", "ge")

# door -> (path for a model, a valid body for it)
DOORS: dict[str, tuple[str, Any]] = {
    "chat": ("/v1/chat/completions", lambda m: {"model": m, "messages": [{"role": "user", "content": "hi"}]}),
    "responses": ("/v1/responses", lambda m: {"model": m, "input": "hi"}),
    "messages": (
        "/v1/messages",
        lambda m: {"model": m, "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]},
    ),
    "count": (
        "/v1/messages/count_tokens",
        lambda m: {"model": m, "messages": [{"role": "user", "content": "hi"}]},
    ),
    "gemini": (
        "/v1beta/models/{m}:generateContent",
        lambda m: {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
    ),
    "gemini-stream": (
        "/v1beta/models/{m}:streamGenerateContent?alt=sse",
        lambda m: {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
    ),
    "completions": ("/v1/completions", lambda m: {"model": m, "prompt": "hi"}),
}


def post(http: httpx.Client, door: str, model: str, body: Any, key: str = ATTACKER) -> httpx.Response:
    path, _ = DOORS[door]
    raw = body if isinstance(body, bytes) else _expand_nesting(json.dumps(body).encode())
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    return http.post(path.format(m=model), content=raw, headers=headers)


def valid(door: str, model: str) -> dict[str, Any]:
    return DOORS[door][1](model)


def assert_answered_by_gateway(response: httpx.Response, door: str) -> None:
    """A 2xx/4xx (never a 5xx), in the door's own error shape when it is an error."""
    assert response.status_code < 500, (response.status_code, response.text[:500])
    if response.status_code < 400:
        return
    error = response.json()
    if door.startswith("gemini"):
        assert isinstance(error, dict) and error["error"]["code"] == response.status_code
    elif door in ("messages", "count"):
        assert error["type"] == "error" and error["error"]["message"]
    else:
        assert error["error"]["message"]


def assert_nothing_rests(http: httpx.Client) -> None:
    status = http.get("/v0/status").json()
    resting = [(c["label"], c.get("cooldowns")) for c in status["credentials"] if c.get("cooldowns")]
    assert resting == [], resting
    for door in ("chat", "messages"):
        for model in MODELS:
            served = post(http, door, model, valid(door, model), key=VICTIM)
            assert served.status_code == 200, (door, model, served.text[:300])


def nested(depth: int) -> str:
    """A placeholder that :func:`post` replaces with objects nested ``depth`` deep
    (deeper than Python's own JSON encoder could write)."""
    return f"<nested {depth}>"


def _expand_nesting(raw: bytes) -> bytes:
    for depth in (300, 2000):
        raw = raw.replace(f'"<nested {depth}>"'.encode(), b'{"a":' * depth + b'"deep"' + b"}" * depth)
    return raw


HUGE = 10**30  # json.dumps writes it as an integer; parsers read it as a float


def hostile_bodies(door: str, model: str) -> list[tuple[str, Any]]:
    base = valid(door, model)
    cases: list[tuple[str, Any]] = [
        ("metadata nested 300 deep", {**base, "metadata": nested(300)}),
        ("metadata nested 2000 deep", {**base, "metadata": nested(2000)}),
        ("huge max_tokens", {**base, "max_tokens": HUGE}),
        ("huge temperature", {**base, "temperature": HUGE}),
        ("stream_options not an object", {**base, "stream": True, "stream_options": "yes"}),
        ("tools not a list", {**base, "tools": 5}),
        (
            "tool schema nested 300 deep",
            {**base, "tools": [{"type": "function", "function": {"name": "f", "parameters": nested(300)}}]},
        ),
        ("anthropic tool schema nested 300 deep", {**base, "tools": [{"name": "f", "input_schema": nested(300)}]}),
        ("huge n", {**base, "n": HUGE}),
        ("seed beyond 64 bits", {**base, "seed": 2**70}),
        ("top_k huge", {**base, "top_k": HUGE}),
        ("not an object", [base]),
        ("garbage bytes", b"\xff\xfe{"),
    ]
    if door.startswith("gemini"):
        cases += [
            ("generationConfig huge", {**base, "generationConfig": {"maxOutputTokens": HUGE, "topK": HUGE}}),
            ("generationConfig a string", {**base, "generationConfig": "x"}),
            (
                "schema nested",
                {**base, "tools": [{"functionDeclarations": [{"name": "f", "parameters": nested(300)}]}]},
            ),
        ]
    if door == "responses":
        cases += [
            ("reasoning a string", {**base, "reasoning": "high"}),
            ("max_output_tokens huge", {**base, "max_output_tokens": HUGE}),
            (
                "text.format nested",
                {**base, "text": {"format": {"type": "json_schema", "name": "x", "schema": nested(300)}}},
            ),
        ]
    return cases


@pytest.mark.parametrize("door", sorted(DOORS))
def test_hostile_bodies_never_rest_a_model_for_other_tenants(http: httpx.Client, door: str) -> None:
    for model in MODELS:
        for name, body in hostile_bodies(door, model):
            response = post(http, door, model, body)
            assert response.status_code < 500, (door, model, name, response.status_code, response.text[:300])
            assert_answered_by_gateway(response, door)
    assert_nothing_rests(http)


# -- fuzzing ---------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path into ``value`` (the root excluded)."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield (*prefix, key)
            yield from paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield (*prefix, index)
            yield from paths(child, (*prefix, index))


def replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: replaced(value[head], rest, new)}
    copy = list(value)
    copy[head] = replaced(value[head], rest, new)
    return copy


# Fields clients commonly send, so mutations reach the code that reads them.
RICH: dict[str, dict[str, Any]] = {
    "chat": {
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "hi"}]},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "42"},
        ],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}],
        "tool_choice": "auto",
        "max_tokens": 10,
        "temperature": 0.5,
        "stop": ["x"],
        "reasoning_effort": "low",
        "response_format": {"type": "json_object"},
        "stream_options": {"include_usage": True},
    },
    "responses": {
        "input": [
            {"role": "user", "content": [{"type": "input_text", "text": "hi"}]},
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "42"},
        ],
        "instructions": "be brief",
        "tools": [{"type": "function", "name": "f", "parameters": {"type": "object", "properties": {}}}],
        "reasoning": {"effort": "low", "summary": "auto"},
        "max_output_tokens": 10,
        "text": {"format": {"type": "text"}},
    },
    "messages": {
        "system": [{"type": "text", "text": "be brief"}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "hi"}]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "42"}]},
        ],
        "tools": [{"name": "f", "input_schema": {"type": "object", "properties": {}}}],
        "tool_choice": {"type": "auto"},
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "max_tokens": 2048,
        "metadata": {"user_id": "u"},
    },
    "gemini": {
        "contents": [
            {"role": "user", "parts": [{"text": "hi"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {"r": 42}}}]},
        ],
        "systemInstruction": {"parts": [{"text": "be brief"}]},
        "tools": [{"functionDeclarations": [{"name": "f", "parameters": {"type": "object", "properties": {}}}]}],
        "generationConfig": {"maxOutputTokens": 10, "temperature": 0.5, "thinkingConfig": {"thinkingBudget": 128}},
    },
}


def rich(door: str, model: str) -> dict[str, Any]:
    family = "gemini" if door.startswith("gemini") else "messages" if door == "count" else door
    body = {**valid(door, model), **RICH.get(family, {})}
    if door == "count":
        body.pop("max_tokens", None)
    return body


@pytest.mark.parametrize("door", sorted(DOORS))
def test_fuzzed_bodies_are_answered_by_the_gateway(http: httpx.Client, door: str, fuzz_examples: int) -> None:
    @settings(
        max_examples=fuzz_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        database=None,
    )
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        model = data.draw(st.sampled_from(MODELS))
        body = rich(door, model)
        for _ in range(data.draw(st.integers(1, 3))):
            targets = [p for p in paths(body) if not (p == ("model",) and not door.startswith("gemini"))]
            path = data.draw(st.sampled_from(targets))
            body = replaced(body, path, data.draw(json_values))
        if data.draw(st.booleans()) and isinstance(body, dict) and not door.startswith("gemini"):
            body["stream"] = True
        response = post(http, door, model, body)
        assert_answered_by_gateway(response, door)

    check()
    assert_nothing_rests(http)


# -- errors outside the doors --------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "headers", "shape"),
    [
        ("GET", "/v1/chat/completions", {}, "openai"),
        ("POST", "/v1/nothing-here", {}, "openai"),
        ("GET", "/v1/messages", {}, "anthropic"),
        ("POST", "/v1/messages/batches", {"anthropic-version": "2023-06-01"}, "anthropic"),
        ("GET", "/v1beta/models/gemini-2.5-flash:generateContent", {}, "gemini"),
        ("POST", "/v1beta/files", {"x-goog-api-key": ATTACKER}, "gemini"),
        ("POST", "/v1/unknown", {"x-goog-api-client": "genai-py"}, "gemini"),
    ],
)
def test_unknown_paths_and_methods_answer_in_the_clients_shape(
    http: httpx.Client, method: str, path: str, headers: dict[str, str], shape: str
) -> None:
    response = http.request(method, path, headers=headers)
    assert response.status_code in (404, 405)
    error = response.json()
    if shape == "anthropic":
        assert error["type"] == "error" and error["error"]["message"]
    elif shape == "gemini":
        assert error["error"]["code"] == response.status_code and error["error"]["status"]
    else:
        assert error["error"]["message"] and "type" in error["error"] and "code" not in error


@pytest.mark.parametrize(("door", "shape"), [("chat", "openai"), ("messages", "anthropic"), ("gemini", "gemini")])
def test_oversized_headers_get_431_in_the_clients_shape(http: httpx.Client, door: str, shape: str) -> None:
    path, _ = DOORS[door]
    headers = {"Authorization": f"Bearer {ATTACKER}", "Content-Type": "application/json"}
    headers.update({f"x-filler-{i}": "v" * 4000 for i in range(10)})  # 40 KB: past the 32 KB default
    response = http.post(path.format(m="oa"), content=json.dumps(valid(door, "oa")).encode(), headers=headers)
    assert response.status_code == 431
    assert "max-header-size-kb" in response.text and response.headers["x-request-id"]
    assert_answered_by_gateway(response, door)
