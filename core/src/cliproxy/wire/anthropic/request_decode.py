"""Anthropic Messages requests from clients, decoded into the IR.

Decoding reads what a client sends to ``/v1/messages`` (and ``count_tokens``), including
the ``role: "system"`` messages Claude Code puts inside ``messages`` (beta
``mid-conversation-system-2026-04-07``), which stay where they are in the IR.

Thinking blocks whose signature the gateway sealed (:mod:`cliproxy.wire.sealed`) decode
to the Gemini values they carry: on their reasoning part, on the tool call they name, or
on the text part just before them.
:func:`forwarded_body` takes them out of a body passed through to Anthropic unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cliproxy.errors import GatewayError
from cliproxy.ir import (
    Message,
    Metadata,
    Part,
    ProviderTool,
    Reasoning,
    Request,
    ResponseFormat,
    TextPart,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
)
from cliproxy.wire import common as c
from cliproxy.wire import sealed
from cliproxy.wire.anthropic import parts as b
from cliproxy.wire.anthropic.common import WIRE

__all__ = ["decode_request", "forwarded_body"]


_MODELLED = frozenset(
    {
        "model",
        "messages",
        "system",
        "tools",
        "tool_choice",
        "thinking",
        "stop_sequences",
        "temperature",
        "top_p",
        "top_k",
        "max_tokens",
        "metadata",
        "stream",
        "output_format",
        "output_config",
    }
)
_TOOL_KEYS = frozenset({"name", "description", "input_schema", "strict", "type"})


# ---------------------------------------------------------------------------------------
# decode (client -> IR)
# ---------------------------------------------------------------------------------------


def _system(raw: Any, where: str = "system") -> Message | None:
    """The top-level ``system`` field, or the content of a ``role: "system"`` message."""
    if raw is None:
        return None
    if isinstance(raw, str):
        return Message("system", [TextPart(raw)]) if raw else None
    if not isinstance(raw, list):
        raise GatewayError.invalid(
            f"'{where}' must be a string or an array of text blocks, not {c.kind_of(raw)}", param=where
        )
    parts: list[Part] = []
    for i, block in enumerate(raw):
        at = f"{where}[{i}]"
        block = c.expect_map(block, at)
        if block.get("type") != "text":
            raise GatewayError.invalid(f"'{at}.type' must be 'text'", param=f"{at}.type")
        parts.append(TextPart(c.get_str(block, "text", at + ".", required=True) or "", b.extra(block, b.TEXT_KEYS)))
    return Message("system", parts) if parts else None


def _user(content: Any, at: str, names: Mapping[str, str], out: list[Message]) -> None:
    if isinstance(content, str):
        out.append(Message("user", [TextPart(content)]))
        return
    results: list[ToolResultPart] = []
    parts: list[Part] = []
    for i, block in enumerate(content):
        where = f"{at}[{i}]"
        block = c.expect_map(block, where)
        if block.get("type") == "tool_result":
            results.append(b.tool_result(block, where, names))
            continue
        part = b.content_part(block, where)
        if part is not None:
            parts.append(part)
    if results:
        out.append(Message("tool", results))
    if parts or not results:
        out.append(Message("user", parts))


def _assistant(content: Any, at: str, names: dict[str, str], carriers: dict[str, Metadata]) -> Message:
    if isinstance(content, str):
        return Message("assistant", [TextPart(content)] if content else [])
    parts: list[Part] = []
    for i, block in enumerate(content):
        carrier = b.carrier_of(block)
        if carrier is not None:  # a tool call's or a text part's Gemini values, sealed by the gateway
            if carrier.text:
                sealed.attach_text(parts, carrier.metadata)
            else:
                carriers[carrier.call_id or ""] = carrier.metadata
            continue
        part = b.assistant_part(block, f"{at}[{i}]")
        if part is None:
            continue
        if isinstance(part, ToolCallPart):
            names[part.id] = part.name
        parts.append(part)
    return Message("assistant", parts)


def _messages(raw: list[Any]) -> list[Message]:
    out: list[Message] = []
    names: dict[str, str] = {}
    carriers: dict[str, Metadata] = {}
    for i, msg in enumerate(raw):
        at = f"messages[{i}]"
        msg = c.expect_map(msg, at)
        role = msg.get("role")
        content = msg.get("content")
        if not isinstance(content, str | list):
            raise GatewayError.invalid(
                f"'{at}.content' must be a string or an array of content blocks, not {c.kind_of(content)}",
                param=f"{at}.content",
            )
        if role == "user":
            _user(content, at + ".content", names, out)
        elif role == "assistant":
            out.append(_assistant(content, at + ".content", names, carriers))
        elif role == "system":  # a mid-conversation instruction (beta mid-conversation-system-2026-04-07)
            message = _system(content, at + ".content")
            if message is not None:
                out.append(message)
        else:
            raise GatewayError.invalid(
                f"'{at}.role' must be 'user', 'assistant' or 'system'; got {role!r}", param=f"{at}.role"
            )
    return sealed.restore_calls(out, carriers)


def _tools(raw: list[Any]) -> list[Tool | ProviderTool]:
    tools: list[Tool | ProviderTool] = []
    for i, item in enumerate(raw):
        at = f"tools[{i}]"
        item = c.expect_map(item, at)
        kind = item.get("type")
        if kind not in (None, "custom"):
            tools.append(ProviderTool(WIRE, item))  # server tools and Anthropic-defined client tools
            continue
        schema = item.get("input_schema")
        if not isinstance(schema, dict):
            raise GatewayError.invalid(f"'{at}.input_schema' must be a JSON Schema object", param=f"{at}.input_schema")
        tools.append(
            Tool(
                name=c.get_str(item, "name", at + ".", required=True) or "",
                description=c.get_str(item, "description", at + "."),
                parameters=schema,
                strict=c.get_bool(item, "strict", at + "."),
                provider_metadata=b.extra(item, _TOOL_KEYS),
            )
        )
    return tools


def _tool_choice(raw: Any) -> tuple[ToolChoice | None, bool | None]:
    if raw is None:
        return None, None
    raw = c.expect_map(raw, "tool_choice")
    kind = raw.get("type")
    parallel = c.get_bool(raw, "disable_parallel_tool_use", "tool_choice.")
    allowed = None if parallel is None else not parallel
    if kind == "auto":
        return ToolChoice("auto"), allowed
    if kind == "any":
        return ToolChoice("required"), allowed
    if kind == "none":
        return ToolChoice("none"), allowed
    if kind == "tool":
        return ToolChoice("tool", c.get_str(raw, "name", "tool_choice.", required=True)), allowed
    raise GatewayError.invalid(
        f"'tool_choice.type' must be auto, any, tool or none; got {kind!r}", param="tool_choice.type"
    )


def _reasoning(raw: Any, effort: str | None) -> Reasoning | None:
    if raw is None:
        return Reasoning(effort=effort) if effort else None
    raw = c.expect_map(raw, "thinking")
    kind = raw.get("type")
    if kind == "enabled":
        budget = c.get_int(raw, "budget_tokens", "thinking.")
        if budget is None:
            raise GatewayError.invalid(
                "'thinking.budget_tokens' is required when thinking is enabled", param="thinking.budget_tokens"
            )
        return Reasoning(effort=effort, budget_tokens=budget)
    if kind == "disabled":
        return Reasoning(effort="none")
    if kind == "adaptive":
        return Reasoning(effort=effort, budget_tokens=-1)
    raise GatewayError.invalid(
        f"'thinking.type' must be enabled, disabled or adaptive; got {kind!r}", param="thinking.type"
    )


def _response_format(raw: Any, where: str) -> ResponseFormat | None:
    if raw is None:
        return None
    raw = c.expect_map(raw, where)
    if raw.get("type") != "json_schema":
        raise GatewayError.invalid(f"'{where}.type' must be 'json_schema'", param=f"{where}.type")
    schema = raw.get("schema")
    if not isinstance(schema, dict):
        raise GatewayError.invalid(f"'{where}.schema' must be a JSON Schema object", param=f"{where}.schema")
    return ResponseFormat("json_schema", schema=schema)


def decode_request(body: Mapping[str, Any], *, model: str | None = None, stream: bool | None = None) -> Request:
    messages = _messages(c.get_list(body, "messages", "", required=True))
    system = _system(body.get("system"))
    if system is not None:
        messages.insert(0, system)
    choice, parallel = _tool_choice(body.get("tool_choice"))
    extras = {k: v for k, v in body.items() if k not in _MODELLED}
    config = c.get_map(body, "output_config", "") or {}
    effort = c.get_str(config, "effort", "output_config.")
    fmt = _response_format(config.get("format"), "output_config.format") or _response_format(
        body.get("output_format"), "output_format"
    )
    rest = {k: v for k, v in config.items() if k not in ("effort", "format")}
    if rest:
        extras["output_config"] = rest
    stops = c.get_list(body, "stop_sequences", "")
    if not all(isinstance(s, str) for s in stops):
        raise GatewayError.invalid("'stop_sequences' must be an array of strings", param="stop_sequences")
    metadata = c.get_map(body, "metadata", "")
    return Request(
        model=model or c.get_str(body, "model", "", required=True) or "",
        messages=messages,
        tools=_tools(c.get_list(body, "tools", "")),
        tool_choice=choice,
        parallel_tool_calls=parallel,
        max_tokens=c.get_int(body, "max_tokens"),
        temperature=c.get_number(body, "temperature"),
        top_p=c.get_number(body, "top_p"),
        top_k=c.get_int(body, "top_k"),
        stop=stops,
        reasoning=_reasoning(body.get("thinking"), effort),
        response_format=fmt,
        stream=bool(c.get_bool(body, "stream")) if stream is None else stream,
        metadata=dict(metadata) if metadata else None,
        extras={WIRE: extras} if extras else {},
    )


# ---------------------------------------------------------------------------------------
# encode (IR -> upstream body)
# ---------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------
# pass-through (client body -> Anthropic upstream)
# ---------------------------------------------------------------------------------------


def _sealed_block(block: Any) -> bool:
    return isinstance(block, dict) and block.get("type") == "thinking" and sealed.is_sealed(block.get("signature"))


def _has_sealed(message: Any) -> bool:
    if not isinstance(message, dict) or message.get("role") != "assistant":
        return False
    content = message.get("content")
    return isinstance(content, list) and any(_sealed_block(x) for x in content)


def forwarded_body(body: Mapping[str, Any]) -> Mapping[str, Any]:
    """A client's body as passed through to Anthropic: without the thinking blocks the
    gateway sealed (Anthropic did not sign them, and would reject the request); ``body``
    itself when it has none. A turn left empty goes too (Anthropic joins the turns around
    it)."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not any(_has_sealed(m) for m in messages):
        return body
    kept: list[Any] = []
    for message in messages:
        if _has_sealed(message):
            content = [x for x in message["content"] if not _sealed_block(x)]
            if not content:
                continue
            message = {**message, "content": content}
        kept.append(message)
    return {**body, "messages": kept}
