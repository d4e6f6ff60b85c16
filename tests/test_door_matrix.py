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

import anthropic
import attrs
import cliproxy_claude
import cliproxy_gemini
import cliproxy_openai
import openai
import pytest
from cliproxy import ir
from cliproxy.testing import FakeUpstream, Reply, gateway_app, serve_app
from cliproxy.testing.strategies import decode_in_pieces
from cliproxy.wire.anthropic import Anthropic
from cliproxy.wire.gemini import Gemini
from cliproxy.wire.openai_chat import OpenAIChat
from google import genai
from google.genai import types

KEY = "matrix-key"
PROMPT = "hello matrix"
WEATHER = {
    "name": "get_weather",
    "description": "Weather for a city",
    "schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}

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
DOORS = ["openai-chat", "openai-responses", "anthropic", "gemini"]
SCENARIOS = ["text", "tool", "thinking"]


@attrs.frozen
class View:
    """What a user of the SDK sees: text, tool calls, reasoning."""

    text: str
    tools: tuple[tuple[str, str], ...]
    reasoning: str


def view_of(response: ir.Response) -> View:
    tools = tuple(
        (p.name, json.dumps(json.loads(p.arguments or "{}"), sort_keys=True))
        for p in response.parts
        if isinstance(p, ir.ToolCallPart)
    )
    reasoning = "".join(p.text for p in response.parts if isinstance(p, ir.ReasoningPart))
    return View(response.text, tools, reasoning)


def _args(value: Any) -> str:
    if isinstance(value, str):
        value = json.loads(value or "{}")
    return json.dumps(value or {}, sort_keys=True)


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


def script(upstream: FakeUpstream, recording, wire: str, scenario: str, stream: bool) -> View:
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
    return view_of(folded.build() if stream else translator.decode_response(whole))


def sent_body(upstream: FakeUpstream) -> dict[str, Any]:
    (request,) = upstream.requests
    return request.json


# -- the four clients ------------------------------------------------------------------


def call_openai_chat(url: str, model: str, scenario: str, stream: bool) -> View:
    client = openai.OpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0)
    extra: dict[str, Any] = {}
    if scenario == "tool":
        extra["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": WEATHER["name"],
                    "description": WEATHER["description"],
                    "parameters": WEATHER["schema"],
                },
            }
        ]
    if scenario == "thinking":
        extra["reasoning_effort"] = "high"
    messages = [{"role": "user", "content": PROMPT}]
    if not stream:
        message = client.chat.completions.create(model=model, messages=messages, **extra).choices[0].message
        tools = tuple((c.function.name, _args(c.function.arguments)) for c in message.tool_calls or ())
        return View(message.content or "", tools, (message.model_extra or {}).get("reasoning_content") or "")
    text, reasoning, calls = "", "", {}
    for chunk in client.chat.completions.create(model=model, messages=messages, stream=True, **extra):
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        text += delta.content or ""
        reasoning += (delta.model_extra or {}).get("reasoning_content") or ""
        for call in delta.tool_calls or ():
            name, args = calls.get(call.index, ("", ""))
            calls[call.index] = (name + (call.function.name or ""), args + (call.function.arguments or ""))
    return View(text, tuple((n, _args(a)) for _, (n, a) in sorted(calls.items())), reasoning)


def call_openai_responses(url: str, model: str, scenario: str, stream: bool) -> View:
    client = openai.OpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0)
    extra: dict[str, Any] = {}
    if scenario == "tool":
        extra["tools"] = [
            {
                "type": "function",
                "name": WEATHER["name"],
                "description": WEATHER["description"],
                "parameters": WEATHER["schema"],
            }
        ]
    if scenario == "thinking":
        extra["reasoning"] = {"effort": "high", "summary": "auto"}
    if stream:
        with client.responses.stream(model=model, input=PROMPT, **extra) as events:
            for _ in events:
                pass  # every event must parse
            response = events.get_final_response()
    else:
        response = client.responses.create(model=model, input=PROMPT, **extra)
    text, reasoning, tools = "", "", []
    for item in response.output:
        if item.type == "message":
            text += "".join(c.text for c in item.content if c.type == "output_text")
        elif item.type == "reasoning":
            reasoning += "".join(s.text for s in item.summary)
        elif item.type == "function_call":
            tools.append((item.name, _args(item.arguments)))
    return View(text, tuple(tools), reasoning)


def call_anthropic(url: str, model: str, scenario: str, stream: bool) -> View:
    client = anthropic.Anthropic(base_url=url, api_key=KEY, max_retries=0)
    extra: dict[str, Any] = {}
    if scenario == "tool":
        extra["tools"] = [
            {"name": WEATHER["name"], "description": WEATHER["description"], "input_schema": WEATHER["schema"]}
        ]
    if scenario == "thinking":
        extra["thinking"] = {"type": "enabled", "budget_tokens": 2048}
    params = {"model": model, "max_tokens": 4096, "messages": [{"role": "user", "content": PROMPT}], **extra}
    if stream:
        with client.messages.stream(**params) as events:
            for _ in events:
                pass
            message = events.get_final_message()
    else:
        message = client.messages.create(**params)
    text = "".join(b.text for b in message.content if b.type == "text")
    reasoning = "".join(b.thinking for b in message.content if b.type == "thinking")
    tools = tuple((b.name, _args(b.input)) for b in message.content if b.type == "tool_use")
    return View(text, tools, reasoning)


_genai_clients: list[genai.Client] = []


def call_gemini(url: str, model: str, scenario: str, stream: bool) -> View:
    client = genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=url, api_version="v1beta"))
    _genai_clients.append(client)  # the SDK closes its HTTP client when the Client is collected
    config = types.GenerateContentConfig()
    if scenario == "tool":
        config.tools = [
            types.Tool(
                function_declarations=[
                    types.FunctionDeclaration(
                        name=WEATHER["name"],
                        description=WEATHER["description"],
                        parameters_json_schema=WEATHER["schema"],
                    )
                ]
            )
        ]
    if scenario == "thinking":
        config.thinking_config = types.ThinkingConfig(include_thoughts=True, thinking_budget=2048)
    chunks = (
        list(client.models.generate_content_stream(model=model, contents=PROMPT, config=config))
        if stream
        else [client.models.generate_content(model=model, contents=PROMPT, config=config)]
    )
    text, reasoning, tools = "", "", []
    for chunk in chunks:
        for part in (
            (chunk.candidates[0].content.parts or []) if chunk.candidates and chunk.candidates[0].content else []
        ):
            if part.function_call is not None:
                tools.append((part.function_call.name, _args(part.function_call.args)))
            elif part.thought:
                reasoning += part.text or ""
            elif part.text:
                text += part.text
    return View(text, tuple(tools), reasoning)


CLIENTS = {
    "openai-chat": call_openai_chat,
    "openai-responses": call_openai_responses,
    "anthropic": call_anthropic,
    "gemini": call_gemini,
}


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
@pytest.mark.parametrize("door", DOORS)
def test_door_meets_upstream(door, wire, scenario, stream, upstream, gateway, recording):
    expected = script(upstream, recording, wire, scenario, stream)
    alias = UPSTREAMS[wire][0]
    seen = CLIENTS[door](gateway, alias, scenario, stream)
    check_request(wire, scenario, sent_body(upstream))
    assert seen.text == expected.text
    assert seen.reasoning == expected.reasoning
    if door == "gemini" and wire == "gemini" and stream and scenario == "thinking":
        # Same wire: the stream passes through untouched, and this Vertex recording streams
        # function-call arguments in pieces (partialArgs), which the SDK shows as they came.
        assert [name for name, _ in seen.tools if name] == [name for name, _ in expected.tools]
    else:
        assert seen.tools == expected.tools
    if scenario == "tool":
        assert seen.tools, "the recording's tool call must reach the client"
    if scenario == "thinking":
        assert seen.reasoning, "the recording's reasoning must reach the client"
