"""Every client door reaches the Codex backend: Claude Code's Anthropic Messages (the
``anthropic`` SDK), Chat Completions (the ``openai`` SDK) and Gemini (``google-genai``),
streaming and not, with tools and reasoning, over a tool-calling turn and the next -- in
which the backend gets its encrypted reasoning back, also from Claude Code."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import openai
import pytest
from cliproxy.testing import serve_app
from cliproxy.wire.sealed import PREFIX as SEALED
from cliproxy_codex.testing import KEY, RESPONSES
from google import genai
from google.genai import types

WEATHER = {
    "name": "get_weather",
    "description": "Weather for a city",
    "schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
_genai_clients: list[genai.Client] = []


def backend_body(backend: Any, index: int = -1) -> dict[str, Any]:
    return backend.server.requests_to(RESPONSES)[index].json


def check_body(body: dict[str, Any]) -> None:
    """What every door's request looks like on the backend."""
    assert body["store"] is False and body["stream"] is True and isinstance(body["instructions"], str)
    assert "reasoning.encrypted_content" in body["include"]
    assert not {"max_output_tokens", "temperature", "top_p", "metadata"} & set(body)


@pytest.mark.parametrize("stream", [False, True])
def test_claude_code_on_the_anthropic_door_with_thinking_and_tools(codex_app, backend, stream):
    backend.script = ["tool"]
    params: dict[str, Any] = {
        "model": "gpt-5.5",
        "max_tokens": 4096,
        "system": "You are a coding agent.",
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "tools": [{"name": WEATHER["name"], "description": WEATHER["description"], "input_schema": WEATHER["schema"]}],
        "messages": [{"role": "user", "content": "weather in Paris?"}],
        "metadata": {"user_id": "user_abc_account__session_7d1f3c2a"},
        "extra_body": {"temperature": 1},
    }
    with serve_app(codex_app()) as url:
        api = anthropic.Anthropic(api_key=KEY, base_url=url, max_retries=0)
        if stream:
            with api.messages.stream(**params) as events:
                message = events.get_final_message()
        else:
            message = api.messages.create(**params)
        blocks = {block.type: block for block in message.content}
        assert blocks["thinking"].thinking == "Thinking it over."
        assert blocks["tool_use"].name == "get_weather" and blocks["tool_use"].input == {"city": "Paris"}
        assert message.stop_reason == "tool_use"
        first = backend_body(backend)
        check_body(first)
        assert first["instructions"] == "You are a coding agent." and first["tools"][0]["name"] == "get_weather"
        session = backend.server.requests_to(RESPONSES)[-1].headers["session_id"]

        # the client holds the encrypted reasoning sealed in the thinking block's signature
        assert blocks["thinking"].signature.startswith(SEALED) and "enc-reasoning-1" not in blocks["thinking"].signature

        # the next turn: Claude Code sends the thinking block back; the backend gets its own reasoning
        result = {"type": "tool_result", "tool_use_id": blocks["tool_use"].id, "content": "sunny"}
        params["messages"] = [
            params["messages"][0],
            {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in message.content]},
            {"role": "user", "content": [result]},
        ]
        answer = api.messages.create(**params)
    assert "You said" in "".join(b.text for b in answer.content if b.type == "text")
    second = backend_body(backend)
    check_body(second)
    assert [item.get("type", "message") for item in second["input"]] == [
        "message",
        "reasoning",
        "function_call",
        "function_call_output",
    ]
    assert second["input"][1] == {  # the first answer's reasoning, as the backend issued it
        "type": "reasoning",
        "id": "rs_1",
        "summary": [{"type": "summary_text", "text": "Thinking it over."}],
        "encrypted_content": "enc-reasoning-1",
    }
    assert SEALED not in json.dumps(second)
    assert backend.server.requests_to(RESPONSES)[-1].headers["session_id"] == session  # the cache key holds


@pytest.mark.parametrize("stream", [False, True])
def test_chat_completions_with_tools(codex_app, backend, stream):
    backend.script = ["tool"]
    with serve_app(codex_app()) as url:
        api = openai.OpenAI(api_key=KEY, base_url=url + "/v1", max_retries=0)
        params: dict[str, Any] = {
            "model": "gpt-5.5",
            "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "weather in Paris?"}],
            "tools": [{"type": "function", "function": {"name": WEATHER["name"], "parameters": WEATHER["schema"]}}],
            "max_tokens": 100,
            "reasoning_effort": "low",
        }
        if stream:
            calls: dict[int, dict[str, str]] = {}
            for chunk in api.chat.completions.create(stream=True, **params):
                for call in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
                    entry = calls.setdefault(call.index, {"name": "", "arguments": ""})
                    entry["name"] += call.function.name or ""
                    entry["arguments"] += call.function.arguments or ""
            (call,) = calls.values()
        else:
            message = api.chat.completions.create(**params).choices[0].message
            call = {"name": message.tool_calls[0].function.name, "arguments": message.tool_calls[0].function.arguments}
    assert call["name"] == "get_weather" and json.loads(call["arguments"]) == {"city": "Paris"}
    body = backend_body(backend)
    check_body(body)
    assert body["instructions"] == "be brief" and body["reasoning"]["effort"] == "low"


@pytest.mark.parametrize("stream", [False, True])
def test_gemini_cli_on_the_gemini_door(codex_app, backend, stream):
    with serve_app(codex_app()) as url:
        client = genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=url, api_version="v1beta"))
        _genai_clients.append(client)
        config = types.GenerateContentConfig(thinking_config=types.ThinkingConfig(include_thoughts=True))
        if stream:
            chunks = list(client.models.generate_content_stream(model="gpt-5.5", contents="hi gemini", config=config))
        else:
            chunks = [client.models.generate_content(model="gpt-5.5", contents="hi gemini", config=config)]
    parts = [part for chunk in chunks if chunk.candidates for part in (chunk.candidates[0].content.parts or [])]
    assert "".join(p.text for p in parts if p.text and not p.thought) == "You said: hi gemini"
    assert "".join(p.text for p in parts if p.thought) == "Thinking it over."
    check_body(backend_body(backend))
