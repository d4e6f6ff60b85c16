"""openai-chat requests to upstreams: the IR request encoded as a Chat Completions body."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cliproxy.ir import (
    Message,
    ReasoningPart,
    Request,
    TextPart,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
)
from cliproxy.wire.openai_chat.common import EFFORTS, WIRE
from cliproxy.wire.openai_chat.parts import encode_content, encode_tool_call


def _encode_assistant(msg: Message) -> dict[str, Any]:
    out: dict[str, Any] = {"role": "assistant"}
    texts = [p for p in msg.parts if isinstance(p, TextPart)]
    out["content"] = "".join(p.text for p in texts) if texts else None
    calls = [encode_tool_call(p) for p in msg.parts if isinstance(p, ToolCallPart)]
    if calls:
        out["tool_calls"] = calls
    for part in msg.parts:
        if not isinstance(part, ReasoningPart):
            continue
        own = (part.provider_metadata or {}).get(WIRE) or {}
        if own.get("reasoning_details"):
            out.setdefault("reasoning_details", []).extend(own["reasoning_details"])
        elif own.get("field"):
            out[own["field"]] = out.get(own["field"], "") + part.text
    return out


def _encode_messages(messages: Iterable[Message]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for msg in messages:
        if msg.role == "system":  # in place, wherever it stands (chat takes system messages anywhere)
            out.append({"role": "system", "content": msg.joined_text})
        elif msg.role == "user":
            out.append({"role": "user", "content": encode_content(msg.parts)})
        elif msg.role == "assistant":
            out.append(_encode_assistant(msg))
        elif msg.role == "tool":
            for part in msg.parts:
                if isinstance(part, ToolResultPart):
                    content = encode_content(part.content)
                    out.append({"role": "tool", "tool_call_id": part.call_id, "content": content})
    return out


def _encode_tool(tool: Tool) -> dict[str, Any]:
    fn: dict[str, Any] = {"name": tool.name, "parameters": dict(tool.parameters)}
    if tool.description:
        fn["description"] = tool.description
    if tool.strict is not None:
        fn["strict"] = tool.strict
    return {"type": "function", "function": fn}


def _encode_tool_choice(choice: ToolChoice) -> Any:
    if choice.type == "tool":
        return {"type": "function", "function": {"name": choice.name}}
    return choice.type


def encode_request(request: Request, model: str) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": _encode_messages(request.messages)}
    tools = [
        _encode_tool(t) if isinstance(t, Tool) else dict(t.spec)
        for t in request.tools
        if isinstance(t, Tool) or t.wire == WIRE
    ]
    if tools:
        body["tools"] = tools
        if request.tool_choice is not None:
            body["tool_choice"] = _encode_tool_choice(request.tool_choice)
        if request.parallel_tool_calls is not None:
            body["parallel_tool_calls"] = request.parallel_tool_calls
    elif request.tool_choice is not None and request.tool_choice.type == "none":
        pass  # no tools, nothing to forbid
    if request.max_tokens is not None:
        body["max_tokens"] = request.max_tokens
    for key, value in (
        ("temperature", request.temperature),
        ("top_p", request.top_p),
        ("seed", request.seed),
        ("frequency_penalty", request.frequency_penalty),
        ("presence_penalty", request.presence_penalty),
    ):
        if value is not None:
            body[key] = value
    if request.stop:
        body["stop"] = list(request.stop)
    level = request.reasoning.requested_level() if request.reasoning is not None else None
    if level is not None:  # only an effort the client asked for (a summary alone asks for none)
        body["reasoning_effort"] = level if level in EFFORTS else "xhigh"
    fmt = request.response_format
    if fmt is not None:
        if fmt.type == "json_schema":
            spec: dict[str, Any] = {"name": fmt.name or "response", "schema": dict(fmt.schema or {})}
            if fmt.strict is not None:
                spec["strict"] = fmt.strict
            if fmt.description:
                spec["description"] = fmt.description
            body["response_format"] = {"type": "json_schema", "json_schema": spec}
        else:
            body["response_format"] = {"type": fmt.type}
    if request.stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    for key, value in request.extras_for(WIRE).items():
        body.setdefault(key, value)
    return body
