"""A fake MiniMax on loopback -- its Anthropic- and OpenAI-compatible endpoints, the
Coding Plan sign-in and quota -- and gateways in front of it.

MiniMax publishes no captured traffic; the answers are built here in each wire's real
shape with MiniMax's own parts: thinking blocks with signatures on the Anthropic wire,
``reasoning_details`` (``reasoning_split``) or inline ``<think>`` text on the OpenAI wire,
and the ``base_resp`` envelope, which MiniMax also sends with HTTP 200.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import cliproxy_minimax
import pytest
from cliproxy.testing import FakeUpstream, RecordedRequest, Reply, SdkAnswer, gateway_app

MESSAGES = "/anthropic/v1/messages"
CHAT = "/v1/chat/completions"
REMAINS = "/v1/api/openplatform/coding_plan/remains"
KEY = "mm-api-key-0123456789abcdef"
THOUGHT = "The user wants the weather; call the tool."
SIGNATURE = "mm-sig-6f1e2d"
TOOL_ARGS = {"city": "Shanghai"}


# -- answers in the Anthropic wire ------------------------------------------------------------


def anthropic_message(model: str, *, tool: bool, thinking: bool = True, text: str = "It is sunny.") -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if thinking:
        content.append({"type": "thinking", "thinking": THOUGHT, "signature": SIGNATURE})
    if tool:
        content.append({"type": "tool_use", "id": "call_function_1", "name": "get_weather", "input": TOOL_ARGS})
    else:
        content.append({"type": "text", "text": text})
    return {
        "id": "0601a2b3c4d5",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": "tool_use" if tool else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 52, "output_tokens": 31},
    }


def anthropic_events(
    model: str, *, tool: bool, thinking: bool = True, text: str = "It is sunny."
) -> list[dict[str, Any]]:
    start = {"id": "0601a2b3c4d5", "type": "message", "role": "assistant", "model": model, "content": []}
    start |= {"stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 52, "output_tokens": 0}}
    events: list[dict[str, Any]] = [{"type": "message_start", "message": start}]
    index = 0
    if thinking:
        events += [
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "thinking", "thinking": "", "signature": ""},
            },
            {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": THOUGHT[:20]}},
            {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": THOUGHT[20:]}},
            {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": SIGNATURE}},
            {"type": "content_block_stop", "index": 0},
        ]
        index = 1
    if tool:
        block = {"type": "tool_use", "id": "call_function_1", "name": "get_weather", "input": {}}
        arguments = json.dumps(TOOL_ARGS)
        events += [
            {"type": "content_block_start", "index": index, "content_block": block},
            {
                "type": "content_block_delta",
                "index": index,
                "delta": {"type": "input_json_delta", "partial_json": arguments[:8]},
            },
            {
                "type": "content_block_delta",
                "index": index,
                "delta": {"type": "input_json_delta", "partial_json": arguments[8:]},
            },
            {"type": "content_block_stop", "index": index},
        ]
    else:
        events += [
            {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}},
            {"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": text}},
            {"type": "content_block_stop", "index": index},
        ]
    events += [
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use" if tool else "end_turn"},
            "usage": {"output_tokens": 31},
        },
        {"type": "message_stop"},
    ]
    return events


# -- answers in the OpenAI wire ---------------------------------------------------------------

DETAILS = [
    {"type": "reasoning.text", "id": "reasoning-text-1", "format": "MiniMax-response-v1", "index": 0, "text": THOUGHT}
]
BASE_OK = {"status_code": 0, "status_msg": ""}


def chat_completion(model: str, *, tool: bool, inline: bool = False, text: str = "It is sunny.") -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": None}
    if inline:
        message["content"] = f"<think>\n{THOUGHT}\n</think>\n\n{text}"
    else:
        message["reasoning_details"] = DETAILS
        if not tool:
            message["content"] = text
    finish = "stop"
    if tool:
        call = {
            "id": "call_function_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": json.dumps(TOOL_ARGS)},
        }
        message["tool_calls"] = [call]
        finish = "tool_calls"
    return {
        "id": "0601f1e2",
        "object": "chat.completion",
        "created": 1767000000,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": 52, "completion_tokens": 31, "total_tokens": 83},
        "base_resp": BASE_OK,
    }


def chat_chunks(model: str, *, tool: bool, inline: bool = False, text: str = "It is sunny.") -> list[dict[str, Any]]:
    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return {
            "id": "0601f1e2",
            "object": "chat.completion.chunk",
            "created": 1767000000,
            "model": model,
            "choices": [choice],
            **extra,
        }

    out = [chunk({"role": "assistant", "content": ""})]
    if inline:
        for piece in ("<thi", "nk>\n", THOUGHT[:15], THOUGHT[15:], "\n</th", "ink>\n\n", text):
            out.append(chunk({"content": piece}))
    else:
        out.append(chunk({"reasoning_details": [{**DETAILS[0], "text": THOUGHT[:15]}]}))
        out.append(chunk({"reasoning_details": [{**DETAILS[0], "text": THOUGHT[15:]}]}))
        if not tool:
            out.append(chunk({"content": text}))
    if tool:
        arguments = json.dumps(TOOL_ARGS)
        first = {
            "index": 0,
            "id": "call_function_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": ""},
        }
        out.append(chunk({"tool_calls": [first]}))
        out.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": arguments[:6]}}]}))
        out.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": arguments[6:]}}]}))
    out.append(chunk({}, "tool_calls" if tool else "stop"))
    usage = {"prompt_tokens": 52, "completion_tokens": 31, "total_tokens": 83}
    out.append(
        {
            "id": "0601f1e2",
            "object": "chat.completion.chunk",
            "model": model,
            "choices": [],
            "usage": usage,
            "base_resp": BASE_OK,
        }
    )
    return out


def envelope(code: int, message: str) -> dict[str, Any]:
    return {"id": "", "choices": None, "base_resp": {"status_code": code, "status_msg": message}}


class FakeMiniMax:
    """MiniMax as its clients see it. ``inline`` makes the OpenAI wire write thinking into
    the text; ``failure`` (a ``base_resp`` body) makes the next answers fail with HTTP 200."""

    def __init__(self, server: FakeUpstream) -> None:
        self.server = server
        self.tokens = {KEY}
        self.inline = False
        self.failure: dict[str, Any] | None = None
        self.remains: dict[str, Any] = {
            "base_resp": BASE_OK,
            "model_remains": [
                {
                    "model_name": "MiniMax-M2.5",
                    "start_time": int(time.time() * 1000) - 3600_000,
                    "end_time": int(time.time() * 1000) + 4 * 3600_000,
                    "remains_time": 8_000_000,
                    "current_interval_total_count": 1500,
                    "current_interval_usage_count": 1263,
                },
                {"model_name": "speech-2.8-hd", "current_interval_total_count": 10, "current_interval_usage_count": 0},
            ],
        }
        server.add("POST", MESSAGES, self.checked(self.messages))
        server.add("POST", CHAT, self.checked(self.chat))
        server.add("GET", REMAINS, self.checked(lambda r: Reply.json(self.remains)))

    @property
    def url(self) -> str:
        return self.server.url

    def checked(self, answer: Callable[[RecordedRequest], Reply]) -> Callable[[RecordedRequest], Reply]:
        def check(request: RecordedRequest) -> Reply:
            auth = request.headers.get("authorization", "")
            if auth.removeprefix("Bearer ") not in self.tokens:
                return Reply.json(
                    envelope(1004, "login fail: Please carry the API secret key in the 'Authorization' field")
                )
            if self.failure is not None and request.path != REMAINS:
                return Reply.json(self.failure)
            return answer(request)

        return check

    def messages(self, request: RecordedRequest) -> Reply:
        body = request.json
        tool = bool(body.get("tools"))
        if body.get("stream"):
            return Reply.sse_events(anthropic_events(body["model"], tool=tool), named=True)
        return Reply.json(anthropic_message(body["model"], tool=tool))

    def chat(self, request: RecordedRequest) -> Reply:
        body = request.json
        tool = bool(body.get("tools"))
        if body.get("stream"):
            return Reply.sse_events(chat_chunks(body["model"], tool=tool, inline=self.inline), done=True)
        return Reply.json(chat_completion(body["model"], tool=tool, inline=self.inline))


@pytest.fixture
def minimax(upstream: FakeUpstream) -> FakeMiniMax:
    return FakeMiniMax(upstream)


@pytest.fixture
def minimax_app(minimax: FakeMiniMax) -> Callable[..., Any]:
    """``minimax_app(entries=None, **config)``: a gateway with only this plugin; by default
    one ``minimax:`` entry on the Anthropic wire."""

    def make(entries: list[dict[str, Any]] | None = None, **config: Any) -> Any:
        block = entries if entries is not None else [{"api-key": KEY, "base-url": minimax.url}]
        full: dict[str, Any] = {"api-keys": ["client-key"], "minimax": block, **config}
        if not block:
            del full["minimax"]
        return gateway_app(full, plugins=[cliproxy_minimax])

    return make


# -- the official SDKs through the four doors ----------------------------------------------

PROMPT = "What is the weather in Shanghai?"
# what each door's client sends to see reasoning (the chat and messages doors show it unasked)
SHOW_REASONING: dict[str, dict[str, Any]] = {
    "responses": {"reasoning": {"effort": "medium", "summary": "auto"}},
    "gemini": {"thinking_config": {"include_thoughts": True}},
}


@pytest.fixture
def sdk(sdk: Callable[..., SdkAnswer]) -> Callable[..., SdkAnswer]:
    """The workspace's ``sdk`` asking about Shanghai, with each door's reasoning shown."""

    def ask(url: str, door: str, model: str, *, stream: bool, tools: bool = True) -> SdkAnswer:
        return sdk(url, door, model, stream=stream, tools=tools, prompt=PROMPT, extra=SHOW_REASONING.get(door))

    return ask
