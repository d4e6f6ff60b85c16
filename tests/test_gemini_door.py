"""The Gemini door end to end: the google-genai SDK against the gateway (a real Hypercorn
server), with an OpenAI-compatible upstream behind it (cliproxy-openai + FakeUpstream)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import cliproxy_openai
import httpx
import orjson
import pytest
from cliproxy.testing import FakeUpstream, Reply, asgi_client, gateway_app, serve_app
from cliproxy.wire.gemini import Gemini
from google import genai
from google.genai import errors, types
from starlette.routing import Match, Route

CHAT = "/v1/chat/completions"


def chat_config(upstream: FakeUpstream) -> dict[str, Any]:
    return {
        "api-keys": ["client-key"],
        "request-retry": 0,
        "openai-compatibility": [
            {
                "name": "local",
                "prefix": "team",
                "base-url": upstream.url + "/v1",
                "api-key-entries": [{"api-key": "sk-up"}],
                "models": [{"name": "gpt-4.1", "alias": "gm"}],
            }
        ],
    }


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as server:
        yield server


@pytest.fixture(scope="module")
def url(upstream: FakeUpstream) -> Iterator[str]:
    with serve_app(gateway_app(chat_config(upstream), plugins=[cliproxy_openai])) as base:
        yield base


@pytest.fixture(autouse=True)
def fresh(upstream: FakeUpstream) -> None:
    upstream.clear()


_clients: list[genai.Client] = []


def client(url: str, version: str = "v1beta", key: str = "client-key") -> genai.Client:
    """An SDK client, kept alive for the module (the SDK closes its HTTP client when the
    ``Client`` is garbage-collected, even while its ``models`` is still in use)."""
    sdk = genai.Client(
        api_key=key,
        http_options=types.HttpOptions(base_url=url, api_version=version, retry_options=None),
    )
    _clients.append(sdk)
    return sdk


def chat(
    content: str | None = None,
    *,
    tool_calls: list[dict[str, Any]] | None = None,
    reasoning: str | None = None,
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    if reasoning:
        message["reasoning_content"] = reasoning
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4.1",
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if tool_calls else "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 11,
            "completion_tokens": 7,
            "total_tokens": 18,
            "completion_tokens_details": {"reasoning_tokens": 3},
        },
    }


# -- routes --------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["v1beta", "v1"])
@pytest.mark.parametrize(
    ("method", "action"),
    [
        ("generateContent", "generate"),
        ("streamGenerateContent", "generate"),
        ("countTokens", "count_tokens"),
    ],
)
def test_starlette_routes_capture_model_names_with_slashes(version: str, method: str, action: str) -> None:
    (door,) = [d for d in Gemini.doors if d.path == f"/{version}/models/{{model:path}}:{method}"]
    assert door.action == action
    route = Route(door.path, lambda request: None, methods=["POST"])
    scope = {
        "type": "http",
        "method": "POST",
        "path": f"/{version}/models/team/gemini-2.5-pro:{method}",
    }
    match, child = route.matches(scope)
    assert match is Match.FULL and child["path_params"] == {"model": "team/gemini-2.5-pro"}
    other = "countTokens" if method != "countTokens" else "generateContent"
    assert route.matches({**scope, "path": f"/{version}/models/team/x:{other}"})[0] is Match.NONE


# -- the SDK against an OpenAI-compatible upstream --------------------------------------------------


@pytest.mark.parametrize("version", ["v1beta", "v1"])
def test_generate_content(upstream: FakeUpstream, url: str, version: str) -> None:
    upstream.add("POST", CHAT, Reply.json(chat("Hello from upstream")))
    answer = client(url, version).models.generate_content(
        model="team/gm",
        contents="hi",
        config=types.GenerateContentConfig(system_instruction="be brief", temperature=0.2, max_output_tokens=50),
    )
    assert answer.text == "Hello from upstream"
    assert answer.model_version == "team/gm"
    assert answer.usage_metadata.prompt_token_count == 11 and answer.usage_metadata.candidates_token_count == 4
    assert answer.usage_metadata.thoughts_token_count == 3
    sent = upstream.requests_to(CHAT)[0].json
    assert sent["model"] == "gpt-4.1" and sent["temperature"] == 0.2 and sent["max_tokens"] == 50
    assert sent["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi"},
    ]
    assert upstream.requests_to(CHAT)[0].headers["authorization"] == "Bearer sk-up"


def test_stream_generate_content(upstream: FakeUpstream, url: str, recording) -> None:
    upstream.add("POST", CHAT, Reply.sse_file(recording("openai-chat/DERIVED-vercel-openai-text.sse.txt")))
    chunks = list(client(url).models.generate_content_stream(model="team/gm", contents="hi"))
    text = "".join(c.text or "" for c in chunks)
    expected = "".join(
        (choice.get("delta") or {}).get("content") or ""
        for line in recording("openai-chat/vercel-openai-text.chunks.txt").read_text().splitlines()
        if line.strip()
        for choice in json.loads(line).get("choices", [])
    )
    assert text == expected
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
    assert chunks[-1].usage_metadata is not None and chunks[-1].usage_metadata.total_token_count > 0
    assert upstream.requests_to(CHAT)[0].json["stream"] is True


def test_function_calling_round_trip(upstream: FakeUpstream, url: str, recording) -> None:
    """The SDK declares a tool, the upstream calls it, the SDK answers: the result reaches
    the upstream paired with the call's id."""
    upstream.add(
        "POST",
        CHAT,
        Reply.sse_file(recording("openai-chat/openai-sdk-stream-single-tool-call.sse.txt")),
    )
    weather = types.FunctionDeclaration(
        name="get_weather",
        description="Weather for a city",
        parameters_json_schema={
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    )
    config = types.GenerateContentConfig(
        tools=[types.Tool(function_declarations=[weather])],
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
        tool_config=types.ToolConfig(function_calling_config=types.FunctionCallingConfig(mode="ANY")),
    )
    chunks = list(
        client(url).models.generate_content_stream(model="team/gm", contents="weather in Paris?", config=config)
    )
    calls = [fc for c in chunks for fc in (c.function_calls or [])]
    assert len(calls) == 1 and calls[0].name == "get_weather" and calls[0].args == {"city": "New York City"}
    assert calls[0].id == "call_4XzlGBLtUe9dy3GVNV4jhq7h"
    first = upstream.requests_to(CHAT)[0].json
    assert first["tools"][0]["function"]["name"] == "get_weather" and first["tool_choice"] == "required"

    upstream.add("POST", CHAT, Reply.json(chat("It is sunny in Paris.")))
    history = [
        types.Content(role="user", parts=[types.Part(text="weather in Paris?")]),
        types.Content(role="model", parts=[types.Part(function_call=calls[0])]),
        types.Content(
            role="user",
            parts=[
                types.Part(
                    function_response=types.FunctionResponse(
                        name="get_weather", id=calls[0].id, response={"output": "sunny"}
                    )
                )
            ],
        ),
    ]
    answer = client(url).models.generate_content(model="team/gm", contents=history, config=config)
    assert answer.text == "It is sunny in Paris."
    messages = upstream.requests_to(CHAT)[1].json["messages"]
    assert messages[1]["tool_calls"][0]["id"] == calls[0].id
    assert messages[2] == {"role": "tool", "tool_call_id": calls[0].id, "content": "sunny"}


def test_function_results_without_ids_find_their_calls(upstream: FakeUpstream, url: str) -> None:
    upstream.add("POST", CHAT, Reply.json(chat("done")))
    history = [
        {"role": "user", "parts": [{"text": "two cities"}]},
        {
            "role": "model",
            "parts": [
                {"functionCall": {"name": "w", "args": {"c": "A"}}},
                {"functionCall": {"name": "w", "args": {"c": "B"}}},
            ],
        },
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"name": "w", "response": {"output": "a"}}},
                {"functionResponse": {"name": "w", "response": {"output": "b"}}},
            ],
        },
    ]
    client(url).models.generate_content(model="team/gm", contents=history)
    messages = upstream.requests_to(CHAT)[0].json["messages"]
    ids = [call["id"] for call in messages[1]["tool_calls"]]
    assert len(set(ids)) == 2
    assert [(m["tool_call_id"], m["content"]) for m in messages[2:]] == [
        (ids[0], "a"),
        (ids[1], "b"),
    ]


def test_thinking_settings_and_thoughts(upstream: FakeUpstream, url: str) -> None:
    upstream.add("POST", CHAT, Reply.json(chat("42", reasoning="Let me think.")))
    config = types.GenerateContentConfig(
        thinking_config=types.ThinkingConfig(thinking_budget=24576, include_thoughts=True)
    )
    answer = client(url).models.generate_content(model="team/gm", contents="meaning of life?", config=config)
    parts = answer.candidates[0].content.parts
    assert [(p.text, bool(p.thought)) for p in parts] == [("Let me think.", True), ("42", False)]
    assert answer.text == "42"
    assert upstream.requests_to(CHAT)[0].json["reasoning_effort"] == "high"

    upstream.add("POST", CHAT, Reply.json(chat("42", reasoning="hidden")))
    quiet = client(url).models.generate_content(
        model="team/gm",
        contents="again",
        config=types.GenerateContentConfig(thinking_config=types.ThinkingConfig(thinking_budget=1024)),
    )
    assert [p.text for p in quiet.candidates[0].content.parts] == ["42"]  # thoughts only when asked


@pytest.mark.parametrize("version", ["v1beta", "v1"])
def test_count_tokens_and_models(url: str, version: str) -> None:
    sdk = client(url, version)
    counted = sdk.models.count_tokens(model="team/gm", contents="hello there, general kenobi")
    assert counted.total_tokens > 0
    names = [m.name for m in sdk.models.list()]
    assert names == ["models/gm", "models/team/gm"]


def test_v1_models_keeps_the_openai_shape_for_other_clients(url: str) -> None:
    body = httpx.get(url + "/v1/models", headers={"authorization": "Bearer client-key"}).json()
    assert body["object"] == "list" and {m["id"] for m in body["data"]} == {"gm", "team/gm"}


# -- errors ----------------------------------------------------------------------------------------


def test_errors_reach_the_sdk_in_googles_shape(upstream: FakeUpstream, url: str) -> None:
    with pytest.raises(errors.ClientError) as missing:
        client(url).models.generate_content(model="team/nope", contents="hi")
    assert missing.value.code == 404 and missing.value.status == "NOT_FOUND"
    with pytest.raises(errors.ClientError) as denied:
        client(url, key="wrong").models.generate_content(model="team/gm", contents="hi")
    assert denied.value.code == 401 and denied.value.status == "UNAUTHENTICATED"


def test_upstream_rate_limits_reach_the_sdk_with_retry_info(upstream: FakeUpstream) -> None:
    upstream.add("POST", CHAT, Reply.error(429, "slow down", headers={"retry-after": "30"}))
    # A gateway of its own: the 429 rests the credential for 30 seconds.
    app = gateway_app(chat_config(upstream), plugins=[cliproxy_openai])
    with serve_app(app) as own, pytest.raises(errors.ClientError) as limited:
        client(own).models.generate_content(model="team/gm", contents="hi")
    assert limited.value.code == 429 and limited.value.status == "RESOURCE_EXHAUSTED"
    retry = [d for d in limited.value.details["error"]["details"] if d["@type"].endswith("RetryInfo")]
    assert retry and float(retry[0]["retryDelay"].rstrip("s")) > 0


def test_a_failure_mid_stream_reaches_the_sdk_as_an_error(upstream: FakeUpstream, url: str, recording) -> None:
    upstream.add(
        "POST",
        CHAT,
        Reply.sse_file(recording("openai-chat/aibridge-chat_stream_error.stream.sse.txt")),
    )
    seen: list[str] = []
    with pytest.raises(errors.APIError) as failed:
        for chunk in client(url).models.generate_content_stream(model="team/gm", contents="hi"):
            seen.append(chunk.text or "")
    assert "".join(seen)  # the text before the failure arrived
    assert failed.value.code == 502


async def test_bad_bodies_and_json_array_streams(upstream: FakeUpstream, recording) -> None:
    upstream.add("POST", CHAT, Reply.sse_file(recording("openai-chat/DERIVED-vercel-openai-text.sse.txt")))
    app = gateway_app({**chat_config(upstream), "api-keys": []}, plugins=[cliproxy_openai])
    async with asgi_client(app) as http:
        bad = await http.post("/v1beta/models/team/gm:generateContent", json={"contents": "hi"})
        assert bad.status_code == 400 and bad.json()["error"]["status"] == "INVALID_ARGUMENT"
        body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
        array = await http.post("/v1beta/models/team/gm:streamGenerateContent", json=body)
        assert array.status_code == 200 and array.headers["content-type"] == "application/json"
        chunks = orjson.loads(array.content)
        assert isinstance(chunks, list) and chunks[-1]["candidates"][0]["finishReason"] == "STOP"
        sse = await http.post("/v1beta/models/team/gm:streamGenerateContent?alt=sse", json=body)
        assert sse.headers["content-type"] == "text/event-stream"
        frames = [orjson.loads(f[6:]) for f in sse.content.split(b"\r\n\r\n") if f]
        assert "".join(p.get("text", "") for f in frames for p in f["candidates"][0]["content"]["parts"]) == "".join(
            p.get("text", "") for c in chunks for p in c["candidates"][0]["content"]["parts"]
        )
