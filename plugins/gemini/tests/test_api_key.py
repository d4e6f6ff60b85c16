"""cliproxy-gemini with API keys, against a fake Gemini API built from the recordings; the
google-genai and openai SDKs as clients."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cliproxy_gemini
import httpx
import openai
import orjson
import pytest
from cliproxy import USER_AGENT, ConfigError
from cliproxy.app import gateway_of
from cliproxy.testing import FakeUpstream, Reply, asgi_client, gateway_app, serve_app
from google import genai
from google.genai import errors, types

RECORDINGS = Path(__file__).parents[3] / "recordings" / "gemini"
FLASH = "/v1beta/models/gemini-2.5-flash"


def recorded(name: str) -> Path:
    return RECORDINGS / name


def config(upstream: FakeUpstream, *keys: str, **entry: Any) -> dict[str, Any]:
    entries = []
    for key in keys or ("AIza-first-key-0001",):
        block = {
            "api-key": key,
            "base-url": upstream.url,
            "models": [{"name": "gemini-2.5-flash", "alias": "flash"}],
        }
        block.update(entry)
        entries.append(block)
    return {"api-keys": ["client-key"], "request-retry": 0, "gemini-api-key": entries}


_clients: list[Any] = []


def gemini_client(url: str, version: str = "v1beta") -> genai.Client:
    sdk = genai.Client(
        api_key="client-key",
        http_options=types.HttpOptions(base_url=url, api_version=version, retry_options=None),
    )
    _clients.append(sdk)  # the SDK closes its HTTP client when the Client is collected
    return sdk


def openai_client(url: str) -> openai.OpenAI:
    return openai.OpenAI(api_key="client-key", base_url=url + "/v1", max_retries=0)


@pytest.fixture
def live(upstream: FakeUpstream) -> Iterator[Any]:
    def start(**options: Any) -> Any:
        keys = options.pop("keys", ())
        return serve_app(gateway_app(config(upstream, *keys, **options), plugins=[cliproxy_gemini]))

    return start


# -- config -------------------------------------------------------------------------------------


def test_config_defaults_and_errors() -> None:
    app = gateway_app(
        {
            "gemini-api-key": [
                {"api-key": "AIza-k1"},
                {"api-key": "AIza-k2", "base-url": "https://proxy.example/v1", "prefix": "g"},
            ]
        },
        plugins=[cliproxy_gemini],
    )
    first, second = gateway_of(app).credentials
    assert first.settings.api_root == "https://generativelanguage.googleapis.com/v1beta"
    assert second.settings.api_root == "https://proxy.example/v1"
    assert "AIza-k1" not in first.label and first.provider == "gemini"
    models = {m.id for m in gateway_of(app).router.models()}
    assert {
        "gemini-2.5-flash",
        "gemini-3.1-pro-preview",
        "g/gemini-2.5-pro",
    } <= models  # the static catalogue
    with pytest.raises(ConfigError, match="api-key"):
        gateway_app({"gemini-api-key": [{"base-url": "https://x"}]}, plugins=[cliproxy_gemini])
    with pytest.raises(ConfigError, match="did you mean 'excluded-models'"):
        gateway_app(
            {"gemini-api-key": [{"api-key": "k", "exclude-models": ["x"]}]},
            plugins=[cliproxy_gemini],
        )


async def test_models_are_discovered_with_the_key(upstream: FakeUpstream, recording) -> None:
    listing = json.loads(recording("gemini/CONSTRUCTED-models-list-response.json").read_text())
    listing.pop("_comment")
    pages = [
        Reply.json({**listing, "nextPageToken": "p2"}),
        Reply.json(
            {
                "models": [
                    {
                        "name": "models/gemini-discovered-9",
                        "supportedGenerationMethods": ["generateContent"],
                    }
                ]
            }
        ),
    ]
    upstream.add("GET", "/v1beta/models", pages)
    app = gateway_app(
        {"api-keys": [], "gemini-api-key": [{"api-key": "AIza-k", "base-url": upstream.url}]},
        plugins=[cliproxy_gemini],
    )
    async with asgi_client(app) as http:
        for _ in range(500):  # discovery runs in the background once the gateway starts
            listed = (await http.get("/v1/models")).json()["data"]
            ids = [m["id"] for m in listed]
            if "gemini-discovered-9" in ids:
                break
            await asyncio.sleep(0.01)
    assert ids == ["gemini-2.5-flash", "gemini-discovered-9", "gemini-embedding-001"]
    assert [m["id"] for m in listed if m.get("capabilities") == ["embeddings"]] == ["gemini-embedding-001"]
    asked = upstream.requests_to("/v1beta/models")
    assert asked[0].headers["x-goog-api-key"] == "AIza-k" and asked[0].query["pageSize"] == "1000"
    assert asked[1].query["pageToken"] == "p2"


# -- Gemini clients: bodies and streams pass through -----------------------------------------------


def test_gemini_client_body_passes_through_and_answer_shows_its_name(upstream: FakeUpstream, live: Any) -> None:
    upstream.add(
        "POST",
        FLASH + ":generateContent",
        Reply.json(json.loads(recorded("vercel-google-reasoning.json").read_text())),
    )
    with live() as url:
        answer = gemini_client(url).models.generate_content(
            model="flash",
            contents="how many r in strawberry",
            config=types.GenerateContentConfig(
                safety_settings=[types.SafetySetting(category="HARM_CATEGORY_HARASSMENT", threshold="BLOCK_NONE")],
                response_modalities=["TEXT"],
                thinking_config=types.ThinkingConfig(thinking_budget=512),
            ),
        )
    sent = upstream.requests_to(FLASH + ":generateContent")[0]
    assert sent.headers["x-goog-api-key"] == "AIza-first-key-0001"
    assert sent.json["safetySettings"] == [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]
    assert sent.json["generationConfig"]["responseModalities"] == ["TEXT"]
    assert answer.model_version == "flash"
    assert answer.text.startswith('There are **3** "r"s')
    assert answer.candidates[0].content.parts[0].thought_signature  # signature intact


def test_gemini_stream_passes_through_with_signatures(upstream: FakeUpstream, live: Any) -> None:
    upstream.add(
        "POST",
        FLASH + ":streamGenerateContent",
        Reply.sse_file(recorded("DERIVED-vertex-thought-parts-tool-call.sse.txt")),
    )
    config = types.GenerateContentConfig(thinking_config=types.ThinkingConfig(include_thoughts=True))
    with live() as url:
        chunks = list(
            gemini_client(url).models.generate_content_stream(model="flash", contents="read it", config=config)
        )
    assert upstream.requests_to(FLASH + ":streamGenerateContent")[0].query == {"alt": "sse"}
    parts = [p for c in chunks for p in c.candidates[0].content.parts]
    assert parts[0].thought and parts[0].text.startswith("**Processing User Requests**")
    signed = [p for p in parts if p.function_call and p.function_call.name == "read_theme"]
    assert signed[0].thought_signature
    assert all(c.model_version == "flash" for c in chunks)


async def test_json_array_clients_get_a_json_array_from_an_sse_upstream(
    upstream: FakeUpstream,
) -> None:
    upstream.add(
        "POST",
        FLASH + ":streamGenerateContent",
        Reply.sse_file(recorded("DERIVED-google-text.sse.txt")),
    )
    app = gateway_app({**config(upstream), "api-keys": []}, plugins=[cliproxy_gemini])
    async with asgi_client(app) as http:
        answer = await http.post(
            "/v1beta/models/flash:streamGenerateContent",
            json={"contents": [{"parts": [{"text": "hi"}]}]},
        )
    assert upstream.requests[-1].query == {"alt": "sse"}
    chunks = orjson.loads(answer.content)
    assert answer.headers["content-type"] == "application/json" and isinstance(chunks, list)
    assert "".join(p.get("text", "") for c in chunks for p in c["candidates"][0]["content"]["parts"]).startswith(
        "There are **3**"
    )
    assert chunks[-1]["modelVersion"] == "flash"


def test_count_tokens_asks_gemini(upstream: FakeUpstream, live: Any) -> None:
    upstream.add(
        "POST",
        FLASH + ":countTokens",
        Reply.json({"totalTokens": 31, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 31}]}),
    )
    with live() as url:
        counted = gemini_client(url).models.count_tokens(model="flash", contents="how long is this")
    assert counted.total_tokens == 31
    sent = upstream.requests_to(FLASH + ":countTokens")[0].json
    assert sent["contents"][0]["parts"] == [{"text": "how long is this"}]


# -- other clients: the IR in between ----------------------------------------------------------------


def test_openai_client_tool_call_and_signature_round_trip(upstream: FakeUpstream, live: Any) -> None:
    """A thought signature Gemini puts on a function call reaches an OpenAI client (in
    ``extra_content``) and goes back to Gemini on that call, next turn."""
    upstream.add(
        "POST",
        FLASH + ":streamGenerateContent",
        Reply.sse_file(recorded("DERIVED-google-tool-call.sse.txt")),
    )
    tools = [
        {
            "type": "function",
            "function": {
                "name": "weather",
                "parameters": {
                    "$schema": "http://json-schema.org/draft-07/schema#",
                    "type": "object",
                    "properties": {
                        "location": {"type": "string", "format": "city"},
                        "unit": {"enum": ["c", "f"], "default": "c"},
                    },
                    "required": ["location"],
                    "additionalProperties": False,
                },
            },
        }
    ]
    with live() as url:
        sdk = openai_client(url)
        chunks = list(
            sdk.chat.completions.create(
                model="flash",
                messages=[{"role": "user", "content": "weather in SF?"}],
                tools=tools,
                stream=True,
                reasoning_effort="low",
            )
        )
        calls = [c for ch in chunks if ch.choices for c in (ch.choices[0].delta.tool_calls or [])]
        signature = calls[0].model_extra["extra_content"]["google"]["thought_signature"]
        assert calls[0].function.name == "weather" and signature.startswith("EqUCCqIC")
        assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == [
            "tool_calls"
        ]
        first = upstream.requests_to(FLASH + ":streamGenerateContent")[0].json
        assert first["tools"][0]["functionDeclarations"][0]["parameters"] == {
            "type": "OBJECT",
            "properties": {
                "location": {"type": "STRING", "description": "(format: city)"},
                "unit": {"type": "STRING", "enum": ["c", "f"], "description": '(default: "c")'},
            },
            "required": ["location"],
        }
        assert first["generationConfig"]["thinkingConfig"] == {
            "thinkingBudget": 1024,
            "includeThoughts": True,
        }

        upstream.add(
            "POST",
            FLASH + ":generateContent",
            Reply.json(json.loads(recorded("vercel-google-text.json").read_text())),
        )
        call = {
            "id": calls[0].id,
            "type": "function",
            "function": {"name": "weather", "arguments": '{"location": "San Francisco"}'},
            "extra_content": {"google": {"thought_signature": signature}},
        }
        answer = sdk.chat.completions.create(
            model="flash",
            messages=[
                {"role": "user", "content": "weather in SF?"},
                {"role": "assistant", "content": None, "tool_calls": [call]},
                {"role": "tool", "tool_call_id": calls[0].id, "content": "foggy, 14C"},
            ],
            tools=tools,
        )
    assert answer.choices[0].message.content.startswith("There are **3**")
    second = upstream.requests_to(FLASH + ":generateContent")[0].json
    model_turn, results = second["contents"][1:]
    assert model_turn["parts"] == [
        {
            "functionCall": {"name": "weather", "args": {"location": "San Francisco"}},
            "thoughtSignature": signature,
        }
    ]
    assert results["parts"] == [{"functionResponse": {"name": "weather", "response": {"output": "foggy, 14C"}}}]
    assert answer.usage.completion_tokens_details.reasoning_tokens == 244


def test_openai_client_gets_thoughts_as_reasoning(upstream: FakeUpstream, live: Any) -> None:
    upstream.add(
        "POST",
        FLASH + ":generateContent",
        Reply.json(
            {
                "candidates": [
                    {
                        "content": {
                            "role": "model",
                            "parts": [
                                {"text": "thinking hard", "thought": True},
                                {"text": "4", "thoughtSignature": "c2ln"},
                            ],
                        },
                        "finishReason": "STOP",
                    }
                ],
                "usageMetadata": {
                    "promptTokenCount": 5,
                    "candidatesTokenCount": 1,
                    "thoughtsTokenCount": 9,
                },
                "modelVersion": "gemini-2.5-flash",
            }
        ),
    )
    with live() as url:
        answer = openai_client(url).chat.completions.create(
            model="flash", messages=[{"role": "user", "content": "2+2"}], reasoning_effort="high"
        )
    message = answer.choices[0].message
    assert message.content == "4" and message.model_extra["reasoning_content"] == "thinking hard"
    assert answer.usage.completion_tokens == 10
    sent = upstream.requests_to(FLASH + ":generateContent")[0].json
    assert sent["generationConfig"]["thinkingConfig"] == {
        "thinkingBudget": 24576,
        "includeThoughts": True,
    }


# -- errors, cooldowns, failover -----------------------------------------------------------------------


def test_429_with_retry_info_rests_the_key_and_the_next_one_answers(upstream: FakeUpstream, live: Any) -> None:
    def by_key(request: Any) -> Reply:
        if request.headers["x-goog-api-key"] == "AIza-first-key-0001":
            return Reply(status=429, body=recorded("vercel-google-429-retry-info.json").read_bytes())
        return Reply.json(json.loads(recorded("vercel-google-text.json").read_text()))

    upstream.add("POST", FLASH + ":generateContent", by_key)
    with live(keys=("AIza-first-key-0001", "AIza-second-key-0002"), priority=0) as url:
        answers = [
            openai_client(url).chat.completions.create(model="flash", messages=[{"role": "user", "content": "hi"}])
            for _ in range(3)
        ]
    assert all(a.choices[0].message.content.startswith("There are") for a in answers)
    keys = [r.headers["x-goog-api-key"] for r in upstream.requests_to(FLASH + ":generateContent")]
    assert keys.count("AIza-first-key-0001") == 1, "a key Gemini told to wait 34.4s is not asked again"


def test_invalid_key_rests_the_key(upstream: FakeUpstream, live: Any) -> None:
    def by_key(request: Any) -> Reply:
        if request.headers["x-goog-api-key"] == "AIza-first-key-0001":
            return Reply(status=400, body=recorded("OBSERVED-error-400-api-key-invalid.json").read_bytes())
        return Reply.json(json.loads(recorded("vercel-google-text.json").read_text()))

    upstream.add("POST", FLASH + ":generateContent", by_key)
    with live(keys=("AIza-first-key-0001", "AIza-second-key-0002")) as url:
        for _ in range(3):
            gemini_client(url).models.generate_content(model="flash", contents="hi")
    keys = [r.headers["x-goog-api-key"] for r in upstream.requests_to(FLASH + ":generateContent")]
    assert keys.count("AIza-first-key-0001") == 1


def test_errors_reach_clients_in_their_own_shape(upstream: FakeUpstream, live: Any) -> None:
    upstream.add(
        "POST",
        FLASH + ":generateContent",
        Reply(status=429, body=recorded("vercel-google-429-retry-info.json").read_bytes()),
    )
    with live() as url:
        with pytest.raises(errors.ClientError) as google_error:
            gemini_client(url).models.generate_content(model="flash", contents="hi")
        with pytest.raises(openai.RateLimitError):
            openai_client(url).chat.completions.create(model="flash", messages=[{"role": "user", "content": "hi"}])
    assert google_error.value.code == 429 and google_error.value.status == "RESOURCE_EXHAUSTED"
    retry = [d for d in google_error.value.details["error"]["details"] if d["@type"].endswith("RetryInfo")]
    assert retry == [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "34.4s"}]


def test_a_stream_that_fails_midway_raises_in_the_sdk(upstream: FakeUpstream, live: Any) -> None:
    first = recorded("DERIVED-google-text.sse.txt").read_bytes().split(b"\r\n\r\n")[0] + b"\r\n\r\n"
    failure = (
        b'data: {"error": {"code": 500, "message": "An internal error has occurred.", "status": "INTERNAL"}}\r\n\r\n'
    )
    upstream.add("POST", FLASH + ":streamGenerateContent", Reply.sse([first, failure]))
    with live() as url, pytest.raises(errors.ServerError) as failed:
        for _ in gemini_client(url).models.generate_content_stream(model="flash", contents="hi"):
            pass
    assert failed.value.code == 500
    with live() as url, httpx.Client() as http:
        streamed = http.post(
            url + "/v1/chat/completions",
            headers={"authorization": "Bearer client-key"},
            json={
                "model": "flash",
                "stream": True,
                "messages": [{"role": "user", "content": "hi"}],
            },
        )
    assert b"An internal error has occurred." in streamed.content


def test_a_model_gemini_cannot_count_keeps_generating(upstream: FakeUpstream, live: Any) -> None:
    """Real Gemini answers countTokens 404 for some models it serves: the client gets an
    estimate, and generation for the model is not rested (it was, for 12 hours); the
    upstream is not asked to count that model again for a while."""
    upstream.add("POST", FLASH + ":countTokens", Reply.json({"error": {"code": 404, "message": "no"}}, status=404))
    upstream.add(
        "POST", FLASH + ":generateContent", Reply.json(json.loads(recorded("vercel-google-text.json").read_text()))
    )
    with live() as url:
        sdk = gemini_client(url)
        first = sdk.models.count_tokens(model="flash", contents="how long is this")
        second = sdk.models.count_tokens(model="flash", contents="and this one")
        answer = sdk.models.generate_content(model="flash", contents="hello")
        status = httpx.get(url + "/v0/status").json()
    assert first.total_tokens > 0 and second.total_tokens > 0  # estimates
    assert len(upstream.requests_to(FLASH + ":countTokens")) == 1  # remembered: not asked again
    assert answer.text
    assert all(not cred.get("cooldowns") for cred in status["credentials"])


def test_upstream_requests_name_cliproxy_as_their_user_agent(upstream: FakeUpstream, live: Any) -> None:
    upstream.add(
        "POST",
        FLASH + ":generateContent",
        Reply.json(json.loads(recorded("vercel-google-reasoning.json").read_text())),
    )
    with live() as url:
        gemini_client(url).models.generate_content(model="flash", contents="hi")
    assert upstream.requests_to(FLASH + ":generateContent")[0].headers["user-agent"] == USER_AGENT
