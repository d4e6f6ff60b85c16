"""Scriptable fake upstreams for the real-client suite: Anthropic, OpenAI Chat, Gemini, and
the Codex backend of a ChatGPT plan (reached through the cliproxy-codex plugin).

Each fake is a :class:`cliproxy.testing.FakeUpstream` whose replies come from a *script*:
a function that reads what the upstream was asked -- an :class:`Ask`, the same view for
every wire (tools offered, tool results sent back, streamed or not) -- and returns an
:class:`Answer` (text, possibly in pieces, or a tool call). The wire modules here turn the
answer into that upstream's own format, streamed when the request asked for a stream.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import attrs
import orjson
from cliproxy.testing import FakeUpstream, RecordedRequest, Reply

__all__ = [
    "Answer",
    "Ask",
    "Script",
    "ToolCall",
    "WireFake",
    "anthropic_fake",
    "codex_fake",
    "gemini_fake",
    "openai_chat_fake",
]


@attrs.frozen
class ToolCall:
    """The model asks the client to run one of the client's tools (``signature``: a Gemini
    ``thoughtSignature`` on the call, which the upstream wants back next turn)."""

    name: str
    arguments: Mapping[str, Any]
    signature: str | None = None


@attrs.frozen
class Answer:
    """What the fake model says: text (sent as one delta per piece) or a tool call."""

    pieces: tuple[str, ...] = ()
    tool_call: ToolCall | None = None
    piece_delay: float = 0.0

    @classmethod
    def text(cls, *pieces: str, piece_delay: float = 0.0) -> Answer:
        return cls(pieces=pieces, piece_delay=piece_delay)

    @property
    def full_text(self) -> str:
        return "".join(self.pieces)


@attrs.frozen
class Ask:
    """What one upstream request asked, the same for every wire.

    Attributes:
        wire: ``"anthropic"``, ``"openai-chat"`` or ``"gemini"``.
        model: The model the gateway asked for.
        stream: Whether the gateway asked for a stream.
        tools: The function tools offered, by name: their JSON parameter schema.
        tool_results: The text of every tool result in the conversation, oldest first.
        last_is_tool_result: The newest turn hands back tool results.
        conversation: All the text of the request (system, messages, tool results).
        record: The raw request.
    """

    wire: str
    model: str
    stream: bool
    tools: Mapping[str, Mapping[str, Any]]
    tool_results: tuple[str, ...]
    last_is_tool_result: bool
    conversation: str
    record: RecordedRequest


Script = Callable[[Ask], Answer]


def _text_of(content: Any) -> str:
    """Every string under ``content`` (a string, a list of blocks, nested results), joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(_text_of(item) for item in content)
    if isinstance(content, dict):
        if isinstance(content.get("text"), str):
            return content["text"]
        return "\n".join(_text_of(value) for value in content.values())
    return ""


_ids = itertools.count(1)


def _next_id(prefix: str) -> str:
    return f"{prefix}{next(_ids):06d}"


class WireFake:
    """One fake upstream speaking one wire, answering by a script.

    ``asks`` keeps every parsed request (the raw ones are in ``server.requests``).
    """

    def __init__(self, wire: str, server: FakeUpstream, script: Script) -> None:
        self.wire = wire
        self.server = server
        self.script = script
        self.asks: list[Ask] = []

    @property
    def url(self) -> str:
        return self.server.url

    def answer(self, ask: Ask) -> Answer:
        self.asks.append(ask)
        try:
            return self.script(ask)
        except Exception as exc:  # a 500 would rest the credential and spoil other cases
            return Answer.text(f"The fake upstream's script failed: {exc!r}")


# -- Anthropic Messages ------------------------------------------------------------------


def _anthropic_ask(record: RecordedRequest) -> Ask:
    body = record.json or {}
    tools = {
        tool["name"]: tool.get("input_schema") or {}
        for tool in body.get("tools") or []
        if isinstance(tool, dict) and "name" in tool
    }
    results: list[str] = []
    last_is_result = False
    for message in body.get("messages") or []:
        blocks = message.get("content") if isinstance(message.get("content"), list) else []
        found = [_text_of(block.get("content")) for block in blocks if block.get("type") == "tool_result"]
        results.extend(found)
        last_is_result = message.get("role") == "user" and bool(found)
    conversation = _text_of(body.get("system")) + "\n" + _text_of(body.get("messages"))
    return Ask(
        "anthropic", body.get("model", ""), bool(body.get("stream")), tools, tuple(results), last_is_result,
        conversation, record,
    )  # fmt: skip


def _anthropic_reply(ask: Ask, answer: Answer) -> Reply:
    message_id = _next_id("msg_e2e")
    usage = {"input_tokens": 42, "output_tokens": 7}
    stop = "tool_use" if answer.tool_call else "end_turn"
    if not ask.stream:
        content: list[dict[str, Any]] = []
        if answer.pieces:
            content.append({"type": "text", "text": answer.full_text})
        if answer.tool_call:
            content.append(
                {
                    "type": "tool_use",
                    "id": _next_id("toolu_e2e"),
                    "name": answer.tool_call.name,
                    "input": dict(answer.tool_call.arguments),
                }
            )
        return Reply.json(
            {
                "id": message_id,
                "type": "message",
                "role": "assistant",
                "model": ask.model,
                "content": content,
                "stop_reason": stop,
                "stop_sequence": None,
                "usage": usage,
            }
        )
    events: list[dict[str, Any]] = [
        {
            "type": "message_start",
            "message": {
                "id": message_id,
                "type": "message",
                "role": "assistant",
                "model": ask.model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": 42, "output_tokens": 1},
            },
        }
    ]
    index = 0
    if answer.pieces:
        events.append({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
        events.extend(
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}}
            for piece in answer.pieces
        )
        events.append({"type": "content_block_stop", "index": 0})
        index = 1
    if answer.tool_call:
        block = {"type": "tool_use", "id": _next_id("toolu_e2e"), "name": answer.tool_call.name, "input": {}}
        events.append({"type": "content_block_start", "index": index, "content_block": block})
        arguments = orjson.dumps(dict(answer.tool_call.arguments)).decode()
        events.append(
            {
                "type": "content_block_delta",
                "index": index,
                "delta": {"type": "input_json_delta", "partial_json": arguments},
            }
        )
        events.append({"type": "content_block_stop", "index": index})
    events.append({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None}, "usage": usage})
    events.append({"type": "message_stop"})
    return Reply.sse_events(events, named=True, chunk_delay=answer.piece_delay)


def anthropic_fake(script: Script) -> WireFake:
    """An Anthropic Messages upstream (``/v1/messages`` and ``count_tokens``)."""
    fake = WireFake("anthropic", FakeUpstream(), script)

    def messages(record: RecordedRequest) -> Reply:
        ask = _anthropic_ask(record)
        return _anthropic_reply(ask, fake.answer(ask))

    def count_tokens(record: RecordedRequest) -> Reply:
        return Reply.json({"input_tokens": max(1, len(record.body) // 4)})

    fake.server.add("POST", "/v1/messages", messages)
    fake.server.add("POST", "/v1/messages/count_tokens", count_tokens)
    return fake


# -- OpenAI Chat Completions -------------------------------------------------------------


def _openai_ask(record: RecordedRequest) -> Ask:
    body = record.json or {}
    tools = {
        tool["function"]["name"]: tool["function"].get("parameters") or {}
        for tool in body.get("tools") or []
        if isinstance(tool, dict) and tool.get("type") == "function"
    }
    messages = body.get("messages") or []
    results = [_text_of(m.get("content")) for m in messages if m.get("role") == "tool"]
    last_is_result = bool(messages) and messages[-1].get("role") == "tool"
    return Ask(
        "openai-chat", body.get("model", ""), bool(body.get("stream")), tools, tuple(results), last_is_result,
        _text_of(messages), record,
    )  # fmt: skip


def _openai_reply(ask: Ask, answer: Answer) -> Reply:
    completion_id = _next_id("chatcmpl-e2e")
    usage = {"prompt_tokens": 42, "completion_tokens": 7, "total_tokens": 49}
    finish = "tool_calls" if answer.tool_call else "stop"
    calls = []
    if answer.tool_call:
        calls.append(
            {
                "id": _next_id("call_e2e"),
                "type": "function",
                "function": {
                    "name": answer.tool_call.name,
                    "arguments": orjson.dumps(dict(answer.tool_call.arguments)).decode(),
                },
            }
        )
    if not ask.stream:
        message: dict[str, Any] = {"role": "assistant", "content": answer.full_text or None}
        if calls:
            message["tool_calls"] = calls
        return Reply.json(
            {
                "id": completion_id,
                "object": "chat.completion",
                "created": 1_700_000_000,
                "model": ask.model,
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": usage,
            }
        )

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        return {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": 1_700_000_000,
            "model": ask.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        }

    chunks = [chunk({"role": "assistant", "content": ""})]
    chunks.extend(chunk({"content": piece}) for piece in answer.pieces)
    chunks.extend(chunk({"tool_calls": [{"index": i, **call}]}) for i, call in enumerate(calls))
    chunks.append(chunk({}, finish))
    if (ask.record.json or {}).get("stream_options", {}).get("include_usage"):
        chunks.append({**chunk({}), "choices": [], "usage": usage})
    return Reply.sse_events(chunks, done=True, chunk_delay=answer.piece_delay)


def openai_chat_fake(script: Script) -> WireFake:
    """An OpenAI Chat Completions upstream (``/v1/chat/completions``)."""
    fake = WireFake("openai-chat", FakeUpstream(), script)

    def completions(record: RecordedRequest) -> Reply:
        ask = _openai_ask(record)
        return _openai_reply(ask, fake.answer(ask))

    fake.server.add("POST", "/v1/chat/completions", completions)
    return fake


# -- Gemini ------------------------------------------------------------------------------

_GEMINI_PATH = re.compile(r"^/v1(?:beta)?/models/(?P<model>[^:]+):(?P<method>\w+)$")


def _gemini_ask(record: RecordedRequest, model: str, stream: bool) -> Ask:
    body = record.json or {}
    tools: dict[str, Mapping[str, Any]] = {}
    for group in body.get("tools") or []:
        for declaration in group.get("functionDeclarations") or group.get("function_declarations") or []:
            schema = declaration.get("parametersJsonSchema") or declaration.get("parameters") or {}
            tools[declaration["name"]] = schema
    contents = body.get("contents") or []
    results: list[str] = []
    last_is_result = False
    for content in contents:
        found = [
            orjson.dumps(part["functionResponse"].get("response")).decode()
            for part in content.get("parts") or []
            if "functionResponse" in part
        ]
        results.extend(found)
        last_is_result = bool(found)
    conversation = _text_of(body.get("systemInstruction")) + "\n" + _text_of(contents)
    return Ask("gemini", model, stream, tools, tuple(results), last_is_result, conversation, record)


def _gemini_reply(ask: Ask, answer: Answer) -> Reply:
    usage = {"promptTokenCount": 42, "candidatesTokenCount": 7, "totalTokenCount": 49}

    def candidate(parts: list[dict[str, Any]], finish: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
        if finish:
            body["finishReason"] = finish
        return body

    call_parts: list[dict[str, Any]] = []
    if answer.tool_call:
        call = answer.tool_call
        call_parts.append({"functionCall": {"name": call.name, "args": dict(call.arguments)}})
        if call.signature is not None:
            call_parts[-1]["thoughtSignature"] = call.signature
    if not ask.stream:
        parts = ([{"text": answer.full_text}] if answer.pieces else []) + call_parts
        return Reply.json({"candidates": [candidate(parts, "STOP")], "usageMetadata": usage, "modelVersion": ask.model})
    events: list[dict[str, Any]] = [
        {"candidates": [candidate([{"text": piece}], None)], "modelVersion": ask.model} for piece in answer.pieces
    ]
    events.append({"candidates": [candidate(call_parts, "STOP")], "usageMetadata": usage, "modelVersion": ask.model})
    if not call_parts:  # the last text piece carries the finish reason
        events.pop()
        events[-1] = {**events[-1], "usageMetadata": usage}
        events[-1]["candidates"][0]["finishReason"] = "STOP"
    return Reply.sse_events(events, chunk_delay=answer.piece_delay)


def gemini_fake(script: Script, models: tuple[str, ...]) -> WireFake:
    """A Gemini API upstream serving ``models`` (generate, stream, countTokens)."""
    fake = WireFake("gemini", FakeUpstream(), script)

    def generate(record: RecordedRequest) -> Reply:
        match = _GEMINI_PATH.match(record.path)
        assert match is not None
        if match["method"] == "countTokens":
            return Reply.json({"totalTokens": max(1, len(record.body) // 4)})
        ask = _gemini_ask(record, match["model"], match["method"] == "streamGenerateContent")
        return _gemini_reply(ask, fake.answer(ask))

    for model, version, method in itertools.product(
        models, ("v1beta", "v1"), ("generateContent", "streamGenerateContent", "countTokens")
    ):
        fake.server.add("POST", f"/{version}/models/{model}:{method}", generate)
    return fake


# -- the Codex backend (Responses over SSE, as a ChatGPT plan serves it) --------------------

CODEX_BACKEND = "/backend-api/codex"
_CODEX_REFUSED = ("max_output_tokens", "temperature", "top_p", "metadata", "previous_response_id")


def _codex_ask(record: RecordedRequest) -> Ask:
    body = record.json or {}
    tools: dict[str, Mapping[str, Any]] = {}
    for tool in body.get("tools") or []:
        if not isinstance(tool, dict):
            continue
        if tool.get("type") == "namespace":  # Codex's grouped tools: members named inside their namespace
            for member in tool.get("tools") or []:
                tools[f"{tool.get('name')}.{member.get('name')}"] = member.get("parameters") or {}
        elif "name" in tool:
            tools[tool["name"]] = tool.get("parameters") or {}
    items = [item for item in body.get("input") or [] if isinstance(item, dict)]
    results = [_text_of(item.get("output")) for item in items if str(item.get("type", "")).endswith("call_output")]
    last_is_result = bool(items) and str(items[-1].get("type", "")).endswith("call_output")
    conversation = _text_of(body.get("instructions")) + "\n" + _text_of(items)
    return Ask(
        "codex", body.get("model", ""), bool(body.get("stream")), tools, tuple(results), last_is_result,
        conversation, record,
    )  # fmt: skip


def _codex_refusal(body: Mapping[str, Any]) -> str | None:
    """What the real backend refuses with a 400 (its ``detail``), if anything."""
    for field in _CODEX_REFUSED:
        if field in body:
            return f"Unsupported parameter: {field}"
    if body.get("store") is not False:
        return "Store must be set to false"
    if body.get("stream") is not True:
        return "Stream must be set to true"
    if not isinstance(body.get("instructions"), str):
        return "Instructions are required"
    return None


def _codex_reply(ask: Ask, answer: Answer) -> Reply:
    response_id = _next_id("resp_e2e")
    head = {"id": response_id, "object": "response", "status": "in_progress", "model": ask.model, "output": []}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": head},
        {"type": "response.in_progress", "response": head},
    ]
    if answer.pieces:
        item_id = _next_id("msg_e2e")
        opened = {"id": item_id, "type": "message", "role": "assistant", "status": "in_progress", "content": []}
        events.append({"type": "response.output_item.added", "output_index": 0, "item": opened})
        events.append(
            {
                "type": "response.content_part.added",
                "output_index": 0,
                "item_id": item_id,
                "content_index": 0,
                "part": {"type": "output_text", "text": ""},
            }
        )
        events.extend(
            {
                "type": "response.output_text.delta",
                "output_index": 0,
                "item_id": item_id,
                "content_index": 0,
                "delta": piece,
            }
            for piece in answer.pieces
        )
        part = {"type": "output_text", "text": answer.full_text, "annotations": []}
        events.append(
            {
                "type": "response.output_text.done",
                "output_index": 0,
                "item_id": item_id,
                "content_index": 0,
                "text": answer.full_text,
            }
        )
        events.append(
            {
                "type": "response.content_part.done",
                "output_index": 0,
                "item_id": item_id,
                "content_index": 0,
                "part": part,
            }
        )
        done = {**opened, "status": "completed", "content": [part]}
        events.append({"type": "response.output_item.done", "output_index": 0, "item": done})
    if answer.tool_call:
        index = 1 if answer.pieces else 0
        arguments = orjson.dumps(dict(answer.tool_call.arguments)).decode()
        call = {
            "id": _next_id("fc_e2e"),
            "type": "function_call",
            "call_id": _next_id("call_e2e"),
            "name": answer.tool_call.name,
        }
        events.append(
            {
                "type": "response.output_item.added",
                "output_index": index,
                "item": {**call, "status": "in_progress", "arguments": ""},
            }
        )
        events.append(
            {
                "type": "response.function_call_arguments.delta",
                "output_index": index,
                "item_id": call["id"],
                "delta": arguments,
            }
        )
        events.append(
            {
                "type": "response.output_item.done",
                "output_index": index,
                "item": {**call, "status": "completed", "arguments": arguments},
            }
        )
    usage = {"input_tokens": 42, "output_tokens": 7, "total_tokens": 49}
    # as the backend may: the final event without its output (the gateway rebuilds it)
    events.append({"type": "response.completed", "response": {**head, "status": "completed", "usage": usage}})
    headers = {
        "x-codex-primary-used-percent": "12",
        "x-codex-primary-window-minutes": "300",
        "x-codex-plan-type": "plus",
    }
    return Reply.sse_events(events, named=True, chunk_delay=answer.piece_delay, headers=headers)


def codex_fake(script: Script, models: tuple[str, ...]) -> WireFake:
    """The Codex backend (``/backend-api/codex/responses``, its models list and the usage
    endpoint), as strict as the real one about ``store``, ``stream``, ``instructions`` and
    the fields it refuses."""
    fake = WireFake("codex", FakeUpstream(), script)

    def responses(record: RecordedRequest) -> Reply:
        refusal = _codex_refusal(record.json or {})
        if refusal is not None:
            return Reply.json({"detail": refusal}, status=400)
        ask = _codex_ask(record)
        return _codex_reply(ask, fake.answer(ask))

    listed = {"models": [{"slug": model, "visibility": "list"} for model in models]}
    usage = {"plan_type": "plus", "rate_limit": {"primary_window": {"used_percent": 12, "limit_window_seconds": 18000}}}
    fake.server.add("POST", CODEX_BACKEND + "/responses", responses)
    fake.server.add("GET", CODEX_BACKEND + "/models", Reply.json(listed))
    fake.server.add("GET", "/backend-api/wham/usage", Reply.json(usage))
    return fake


def every(fakes: Mapping[str, WireFake]) -> Iterator[Ask]:
    """Every ask any of ``fakes`` received."""
    for fake in fakes.values():
        yield from list(fake.asks)
