"""Gemini credentials behind the Anthropic and Responses doors (anthropic and openai SDKs),
against a fake Gemini API replaying the recordings."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import anthropic
import cliproxy_gemini
import openai
import pytest
from cliproxy.testing import FakeUpstream, Reply, gateway_app, serve_app
from cliproxy.wire.gemini.encode import SKIP_SIGNATURE

RECORDINGS = Path(__file__).parents[1] / "recordings" / "gemini"
PRO = "/v1beta/models/gemini-3-pro-preview"
TOOLS = [
    {
        "name": "weather",
        "description": "Weather for a place",
        "input_schema": {
            "type": "object",
            "properties": {"location": {"type": "string", "minLength": 2}},
            "required": ["location"],
            "additionalProperties": False,
        },
    }
]


@pytest.fixture
def url(upstream: FakeUpstream) -> Iterator[str]:
    config = {
        "api-keys": ["client-key"],
        "gemini-api-key": [{"api-key": "AIza-k", "base-url": upstream.url, "models": ["gemini-3-pro-preview"]}],
    }
    with serve_app(gateway_app(config, plugins=[cliproxy_gemini])) as base:
        yield base


def test_anthropic_client_tool_loop_with_thinking(upstream: FakeUpstream, url: str) -> None:
    upstream.add(
        "POST",
        PRO + ":streamGenerateContent",
        Reply.sse_file(RECORDINGS / "DERIVED-google-tool-call.sse.txt"),
    )
    upstream.add(
        "POST",
        PRO + ":generateContent",
        Reply.json(json.loads((RECORDINGS / "vercel-google-reasoning.json").read_text())),
    )
    client = anthropic.Anthropic(api_key="client-key", base_url=url, max_retries=0)
    thinking = {"type": "enabled", "budget_tokens": 2000}
    with client.messages.stream(
        model="gemini-3-pro-preview",
        max_tokens=1000,
        tools=TOOLS,
        thinking=thinking,
        messages=[{"role": "user", "content": "SF?"}],
    ) as stream:
        first = stream.get_final_message()
    carrier, call = first.content
    assert carrier.type == "thinking" and carrier.thinking == "" and carrier.signature.startswith("cliproxy.v1:")
    assert call.type == "tool_use" and call.name == "weather" and call.input == {"location": "San Francisco"}
    assert first.stop_reason == "tool_use"
    sent = upstream.requests_to(PRO + ":streamGenerateContent")[0].json
    assert sent["tools"][0]["functionDeclarations"][0]["parameters"] == {
        "type": "OBJECT",
        "properties": {"location": {"type": "STRING", "minLength": 2}},
        "required": ["location"],
    }
    assert sent["generationConfig"] == {
        "maxOutputTokens": 1000,
        "thinkingConfig": {"thinkingLevel": "high", "includeThoughts": True},
    }

    history = [
        {"role": "user", "content": "SF?"},
        {"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in first.content]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "foggy"}],
        },
    ]
    second = client.messages.create(
        model="gemini-3-pro-preview",
        max_tokens=1000,
        tools=TOOLS,
        thinking=thinking,
        messages=history,
    )
    assert second.content[-1].type == "text" and second.content[-1].text.startswith("There are **3**")
    assert second.usage.output_tokens == 29 + 282
    contents = upstream.requests_to(PRO + ":generateContent")[0].json["contents"]
    # Gemini's signature came back through the carrier block, onto its functionCall part.
    signature = json.loads((RECORDINGS / "DERIVED-google-tool-call.sse.txt").read_text().split("data: ")[1])
    assert contents[1] == {
        "role": "model",
        "parts": [
            {
                "functionCall": {"name": "weather", "args": {"location": "San Francisco"}},
                "thoughtSignature": signature["candidates"][0]["content"]["parts"][0]["thoughtSignature"],
            }
        ],
    }
    assert SKIP_SIGNATURE not in json.dumps(contents)
    assert contents[2] == {
        "role": "user",
        "parts": [{"functionResponse": {"name": "weather", "response": {"output": "foggy"}}}],
    }


def test_responses_client(upstream: FakeUpstream, url: str) -> None:
    upstream.add(
        "POST",
        PRO + ":generateContent",
        Reply.json(json.loads((RECORDINGS / "vercel-google-reasoning.json").read_text())),
    )
    client = openai.OpenAI(api_key="client-key", base_url=url + "/v1", max_retries=0)
    answer = client.responses.create(
        model="gemini-3-pro-preview",
        input="how many r in strawberry?",
        reasoning={"effort": "low"},
        max_output_tokens=500,
    )
    assert answer.output_text.startswith("There are **3**")
    assert answer.usage.output_tokens_details.reasoning_tokens == 282
    sent = upstream.requests_to(PRO + ":generateContent")[0].json
    assert sent["generationConfig"] == {
        "maxOutputTokens": 500,
        "thinkingConfig": {"thinkingLevel": "low", "includeThoughts": True},
    }
