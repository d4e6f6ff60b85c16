"""Every door against every upstream wire, with the official SDKs.

Four client doors (OpenAI Chat, OpenAI Responses, Anthropic Messages, Gemini) times three
upstream wires (OpenAI-compatible, Anthropic, Gemini), streaming and not, for plain text,
a tool call and thinking. Each upstream answers with a recorded response in its own wire;
the SDK must parse what the gateway sends, and what it shows the user must be what the
upstream said (text, tool calls with their arguments, reasoning). The request each
upstream received must carry the client's tool and thinking settings in its own shape.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import cliproxy_claude
import cliproxy_gemini
import cliproxy_openai
import pytest
from cliproxy import ir
from cliproxy.testing import (
    SDK_DOORS,
    FakeUpstream,
    Reply,
    SdkAnswer,
    SdkDoor,
    SdkTool,
    answer_of,
    ask_sdk,
    gateway_app,
    serve_app,
)
from cliproxy.testing.strategies import decode_in_pieces
from cliproxy.wire.anthropic import Anthropic
from cliproxy.wire.gemini import Gemini
from cliproxy.wire.openai_chat import OpenAIChat

KEY = "matrix-key"
PROMPT = "hello matrix"
WEATHER = SdkTool(
    "get_weather",
    "Weather for a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)

# upstream wire -> (alias, translator, path, {scenario: (whole recording, stream recording)})
UPSTREAMS: dict[str, tuple[str, Any, str, dict[str, tuple[str | None, str]]]] = {
    "openai": (
        "oa",
        OpenAIChat(),
        "/v1/chat/completions",
        {
            "text": ("openai-chat/vercel-openai-text.json", "openai-chat/DERIVED-vercel-openai-text.sse.txt"),
            "tool": (
                "openai-chat/openai-sdk-nonstream-single-tool-call-strict.json",
                "openai-chat/openai-sdk-stream-single-tool-call.sse.txt",
            ),
            "thinking": (
                "local-openai-compat/vercel-deepseek-reasoning.json",
                "local-openai-compat/vercel-deepseek-reasoning.chunks.txt",
            ),
        },
    ),
    "anthropic": (
        "an",
        Anthropic(),
        "/v1/messages",
        {
            "text": ("anthropic/vercel-anthropic-text.json", "anthropic/DERIVED-vercel-text.sse.txt"),
            "tool": ("anthropic/vercel-anthropic-json-tool.1.json", "anthropic/DERIVED-vercel-tool-use.sse.txt"),
            "thinking": (
                "anthropic/vercel-anthropic-claude-opus-5-reasoning-high.1.json",
                "anthropic/DERIVED-vercel-thinking-signature.sse.txt",
            ),
        },
    ),
    "gemini": (
        "ge",
        Gemini(),
        "/v1beta/models/gemini-2.5-flash:{method}",
        {
            "text": ("gemini/vercel-google-text.json", "gemini/DERIVED-google-text.sse.txt"),
            "tool": ("gemini/vercel-google-tool-call.json", "gemini/DERIVED-google-tool-call.sse.txt"),
            # No whole recording shows thought parts; the whole body is this stream, folded.
            "thinking": (None, "gemini/DERIVED-vertex-thought-parts-tool-call.sse.txt"),
        },
    ),
}
SCENARIOS = ["text", "tool", "thinking"]


# -- the gateway under test ------------------------------------------------------------


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as server:
        yield server


@pytest.fixture(scope="module")
def gateway(upstream: FakeUpstream) -> Iterator[str]:
    config = {
        "api-keys": [KEY],
        "request-retry": 0,
        "openai-compatibility": [
            {"name": "compat", "base-url": upstream.url + "/v1", "models": [{"name": "deepseek-chat", "alias": "oa"}]}
        ],
        "claude-api-key": [
            {
                "api-key": "sk-ant",
                "base-url": upstream.url,
                "models": [{"name": "claude-sonnet-4-5-20250929", "alias": "an"}],
            }
        ],
        "gemini-api-key": [
            {"api-key": "g-key", "base-url": upstream.url, "models": [{"name": "gemini-2.5-flash", "alias": "ge"}]}
        ],
    }
    app = gateway_app(config, plugins=[cliproxy_openai, cliproxy_claude, cliproxy_gemini])
    with serve_app(app) as url:
        yield url


def _frame(path: str, data: bytes) -> bytes:
    if path.endswith(".chunks.txt"):
        lines = [line for line in data.splitlines() if line.strip()]
        return b"".join(b"data: " + line + b"\n\n" for line in lines) + b"data: [DONE]\n\n"
    return data


def script(upstream: FakeUpstream, recording, wire: str, scenario: str, stream: bool) -> SdkAnswer:
    """Make the upstream answer with the scenario's recording; return what it says."""
    _, translator, path, files = UPSTREAMS[wire]
    whole_file, stream_file = files[scenario]
    upstream.clear()
    streamed = _frame(stream_file, recording(stream_file).read_bytes())
    folded = ir.ResponseBuilder()
    folded.feed(decode_in_pieces(translator.stream_decoder(), [streamed]))
    if whole_file is None:
        from cliproxy.translate import EncodeContext

        asked = {"generationConfig": {"thinkingConfig": {"includeThoughts": True}}}
        whole = translator.encode_response(folded.build(), EncodeContext(model="gemini-2.5-flash", body=asked))
    else:
        whole = recording(whole_file).read_bytes()
    if wire == "gemini":
        upstream.add("POST", path.format(method="generateContent"), Reply(body=whole))
        upstream.add("POST", path.format(method="streamGenerateContent"), Reply.sse([streamed]))
    else:
        upstream.add("POST", path, Reply.sse([streamed]) if stream else Reply(body=whole))
    return answer_of(folded.build() if stream else translator.decode_response(whole))


def sent_body(upstream: FakeUpstream) -> dict[str, Any]:
    (request,) = upstream.requests
    return request.json


# -- the four clients ------------------------------------------------------------------

# what each door's client sends to ask for thinking
THINKING: dict[str, dict[str, Any]] = {
    "chat": {"reasoning_effort": "high"},
    "responses": {"reasoning": {"effort": "high", "summary": "auto"}},
    "messages": {"thinking": {"type": "enabled", "budget_tokens": 2048}},
    "gemini": {"thinking_config": {"include_thoughts": True, "thinking_budget": 2048}},
}


def ask(url: str, door: SdkDoor, model: str, scenario: str, stream: bool) -> SdkAnswer:
    tools = [WEATHER] if scenario == "tool" else []
    extra = THINKING[door] if scenario == "thinking" else None
    return ask_sdk(url, door, model, prompt=PROMPT, stream=stream, tools=tools, key=KEY, max_tokens=4096, extra=extra)


# -- the matrix ------------------------------------------------------------------------


def check_request(wire: str, scenario: str, body: dict[str, Any]) -> None:
    """The upstream got the client's prompt, tool and thinking in its own shape."""
    if wire == "openai":
        assert PROMPT in json.dumps(body["messages"])
        if scenario == "tool":
            assert body["tools"][0]["function"]["name"] == "get_weather"
        if scenario == "thinking":
            assert body.get("reasoning_effort") in ("high", "medium", "low", "xhigh")
    elif wire == "anthropic":
        assert PROMPT in json.dumps(body["messages"]) and body["max_tokens"] > 0
        if scenario == "tool":
            assert body["tools"][0]["name"] == "get_weather"
        if scenario == "thinking":
            assert body["thinking"]["type"] in ("enabled", "adaptive")
    else:
        assert PROMPT in json.dumps(body["contents"])
        if scenario == "tool":
            assert body["tools"][0]["functionDeclarations"][0]["name"] == "get_weather"
        if scenario == "thinking":
            assert body["generationConfig"]["thinkingConfig"]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("wire", list(UPSTREAMS))
@pytest.mark.parametrize("door", SDK_DOORS)
def test_door_meets_upstream(door, wire, scenario, stream, upstream, gateway, recording):
    expected = script(upstream, recording, wire, scenario, stream)
    alias = UPSTREAMS[wire][0]
    seen = ask(gateway, door, alias, scenario, stream)
    check_request(wire, scenario, sent_body(upstream))
    assert seen.text == expected.text
    assert seen.reasoning == expected.reasoning
    if door == "gemini" and wire == "gemini" and stream and scenario == "thinking":
        # Same wire: the stream passes through untouched, and this Vertex recording streams
        # function-call arguments in pieces (partialArgs), which the SDK shows as they came.
        assert [c.name for c in seen.tool_calls if c.name] == [c.name for c in expected.tool_calls]
    else:
        assert seen.tool_calls == expected.tool_calls
    if scenario == "tool":
        assert seen.tool_calls, "the recording's tool call must reach the client"
    if scenario == "thinking":
        assert seen.reasoning, "the recording's reasoning must reach the client"
