"""openai-chat requests from clients: a Chat Completions body decoded into the IR."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cliproxy.errors import GatewayError
from cliproxy.ir import (
    Message,
    Part,
    ProviderTool,
    Reasoning,
    ReasoningPart,
    Request,
    ResponseFormat,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
)
from cliproxy.wire import common as c
from cliproxy.wire.openai_chat.common import WIRE, decode_stop
from cliproxy.wire.openai_chat.parts import content_parts, decode_tool_call
from cliproxy.wire.reasoning_details import metadata_from_details

_MODELLED = frozenset(
    {
        "model",
        "messages",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "max_tokens",
        "max_completion_tokens",
        "temperature",
        "top_p",
        "top_k",
        "stop",
        "seed",
        "frequency_penalty",
        "presence_penalty",
        "reasoning_effort",
        "reasoning",
        "response_format",
        "stream",
        "user",
        "metadata",
        "functions",
        "function_call",
    }
)


def _assistant_parts(msg: Mapping[str, Any], at: str) -> list[Part]:
    parts: list[Part] = []
    details = msg.get("reasoning_details")
    if isinstance(details, list) and details:
        text, meta = metadata_from_details(details)
        parts.append(ReasoningPart(text, meta))
    else:
        for field in ("reasoning_content", "reasoning"):
            value = msg.get(field)
            if isinstance(value, str) and value:
                parts.append(ReasoningPart(value, {WIRE: {"field": field}}))
                break
    parts.extend(content_parts(msg.get("content"), at + ".content", allow_files=False))
    for i, call in enumerate(c.get_list(msg, "tool_calls", at + ".")):
        parts.append(decode_tool_call(call, f"{at}.tool_calls[{i}]"))
    legacy = msg.get("function_call")
    if isinstance(legacy, dict):
        parts.append(decode_tool_call({"id": c.new_id("call_"), "function": legacy}, at + ".function_call"))
    return parts


def _messages(raw: list[Any]) -> list[Message]:
    messages: list[Message] = []
    names: dict[str, str] = {}
    for i, msg in enumerate(raw):
        at = f"messages[{i}]"
        msg = c.expect_map(msg, at)
        role = msg.get("role")
        if role in ("system", "developer"):
            messages.append(Message("system", content_parts(msg.get("content"), at + ".content", allow_files=False)))
        elif role == "user":
            messages.append(Message("user", content_parts(msg.get("content"), at + ".content")))
        elif role == "assistant":
            parts = _assistant_parts(msg, at)
            for part in parts:
                if isinstance(part, ToolCallPart):
                    names[part.id] = part.name
            messages.append(Message("assistant", parts))
        elif role in ("tool", "function"):
            call_id = c.get_str(msg, "tool_call_id", at + ".") or c.get_str(msg, "name", at + ".") or ""
            if not call_id:
                raise GatewayError.invalid(
                    f"'{at}.tool_call_id' is required for tool messages", param=f"{at}.tool_call_id"
                )
            content = content_parts(msg.get("content"), at + ".content")
            result = ToolResultPart(call_id, content, name=names.get(call_id) or msg.get("name"))
            if messages and messages[-1].role == "tool":
                messages[-1] = Message("tool", [*messages[-1].parts, result])
            else:
                messages.append(Message("tool", [result]))
        else:
            raise GatewayError.invalid(
                f"'{at}.role' must be one of system, developer, user, assistant, tool; got {role!r}",
                param=f"{at}.role",
            )
    return messages


def _tools(raw: list[Any]) -> list[Tool | ProviderTool]:
    tools: list[Tool | ProviderTool] = []
    for i, item in enumerate(raw):
        at = f"tools[{i}]"
        item = c.expect_map(item, at)
        if item.get("type", "function") != "function":
            tools.append(ProviderTool(WIRE, item))
            continue
        fn = c.expect_map(item.get("function"), at + ".function")
        params = fn.get("parameters")
        if params is not None and not isinstance(params, dict):
            raise GatewayError.invalid(
                f"'{at}.function.parameters' must be a JSON Schema object", param=f"{at}.function.parameters"
            )
        tools.append(
            Tool(
                name=c.get_str(fn, "name", at + ".function.", required=True) or "",
                description=c.get_str(fn, "description", at + ".function."),
                parameters=params or {"type": "object", "properties": {}},
                strict=c.get_bool(fn, "strict", at + ".function."),
            )
        )
    return tools


def _tool_choice(raw: Any) -> ToolChoice | None:
    if raw is None:
        return None
    if raw in ("auto", "none", "required"):
        return ToolChoice(raw)
    if isinstance(raw, dict):
        if raw.get("type") == "function":
            name = (raw.get("function") or {}).get("name")
            if isinstance(name, str) and name:
                return ToolChoice("tool", name)
        if raw.get("type") == "allowed_tools":
            mode = (raw.get("allowed_tools") or {}).get("mode")
            return ToolChoice("required" if mode == "required" else "auto")
    raise GatewayError.invalid(
        "'tool_choice' must be 'auto', 'none', 'required' or {\"type\": \"function\", \"function\": {\"name\": ...}}",
        param="tool_choice",
    )


def _response_format(raw: Any) -> ResponseFormat | None:
    if raw is None:
        return None
    raw = c.expect_map(raw, "response_format")
    kind = raw.get("type")
    if kind == "json_schema":
        spec = c.expect_map(raw.get("json_schema") or {}, "response_format.json_schema")
        return ResponseFormat(
            "json_schema",
            schema=spec.get("schema"),
            name=spec.get("name"),
            strict=spec.get("strict"),
            description=spec.get("description"),
        )
    if kind in ("json_object", "text"):
        return ResponseFormat(kind)
    raise GatewayError.invalid(
        f"'response_format.type' {kind!r} must be text, json_object or json_schema", param="response_format.type"
    )


def _reasoning(body: Mapping[str, Any]) -> Reasoning | None:
    effort = c.get_str(body, "reasoning_effort", "")
    block = body.get("reasoning")
    if isinstance(block, dict):
        budget = block.get("max_tokens")
        level = found if isinstance(found := block.get("effort"), str) else effort
        if block.get("enabled") is False or (block.get("exclude") is True and level is None and budget is None):
            return Reasoning(effort="none") if block.get("enabled") is False else None
        return Reasoning(
            effort=level,
            budget_tokens=budget if isinstance(budget, int) else None,
            include_thoughts=None if block.get("exclude") is None else not block.get("exclude"),
        )
    if effort:
        return Reasoning(effort=effort)
    return None


def decode_request(body: Mapping[str, Any], *, model: str | None = None, stream: bool | None = None) -> Request:
    messages = _messages(c.get_list(body, "messages", "", required=True))
    tools = _tools(c.get_list(body, "tools", ""))
    if not tools and isinstance(body.get("functions"), list):
        tools = _tools([{"type": "function", "function": f} for f in body["functions"]])
    metadata: dict[str, Any] = {}
    if isinstance(body.get("metadata"), dict):
        metadata.update(body["metadata"])
    if isinstance(body.get("user"), str):
        metadata["user"] = body["user"]
    max_tokens = c.get_int(body, "max_completion_tokens") or c.get_int(body, "max_tokens")
    extras = {k: v for k, v in body.items() if k not in _MODELLED}
    return Request(
        model=model or c.get_str(body, "model", "", required=True) or "",
        messages=messages,
        tools=tools,
        tool_choice=_tool_choice(body.get("tool_choice")),
        parallel_tool_calls=c.get_bool(body, "parallel_tool_calls"),
        max_tokens=max_tokens,
        temperature=c.get_number(body, "temperature"),
        top_p=c.get_number(body, "top_p"),
        top_k=c.get_int(body, "top_k"),
        stop=decode_stop(body.get("stop")),
        seed=c.get_int(body, "seed"),
        frequency_penalty=c.get_number(body, "frequency_penalty"),
        presence_penalty=c.get_number(body, "presence_penalty"),
        reasoning=_reasoning(body),
        response_format=_response_format(body.get("response_format")),
        stream=bool(c.get_bool(body, "stream")) if stream is None else stream,
        metadata=metadata or None,
        extras={WIRE: extras} if extras else {},
    )
