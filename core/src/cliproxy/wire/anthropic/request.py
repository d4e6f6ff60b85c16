"""Anthropic Messages requests <-> the IR request.

Decoding reads what a client sends to ``/v1/messages`` (and ``count_tokens``), including
the ``role: "system"`` messages Claude Code puts inside ``messages`` (beta
``mid-conversation-system-2026-04-07``), which stay where they are in the IR. Encoding
builds the body an Anthropic upstream accepts: the leading system text at the top level,
later system messages in place (right after a user turn, under that beta; elsewhere as a
marked note on the user side), strict user/assistant alternation, tool results first in
their user turn, thinking blocks only where Anthropic signed them, a ``max_tokens`` that
leaves room for the thinking budget.

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
    BLOCK_SEPARATOR,
    FilePart,
    Message,
    Metadata,
    Part,
    ProviderTool,
    Reasoning,
    ReasoningPart,
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
from cliproxy.wire.anthropic import blocks as b
from cliproxy.wire.anthropic.blocks import WIRE

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "MID_CONVERSATION_SYSTEM_BETA",
    "MIN_THINKING_BUDGET",
    "decode_request",
    "encode_request",
    "forwarded_body",
]

DEFAULT_MAX_TOKENS = 8192
"""``max_tokens`` sent when the client gave none (Anthropic requires one)."""
MIN_THINKING_BUDGET = 1024
"""The smallest ``budget_tokens`` Anthropic accepts."""
THINKING_ROOM = 4096
"""Tokens left for the answer above a thinking budget when ``max_tokens`` is ours to pick."""
MID_CONVERSATION_SYSTEM_BETA = "mid-conversation-system-2026-04-07"
"""The beta under which Anthropic takes ``role: "system"`` messages inside ``messages``."""

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
_EFFORTS = ("low", "medium", "high", "xhigh", "max")


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


def _blocks(msg: Message, at: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i, part in enumerate(msg.parts):
        where = f"{at}[{i}]"
        if isinstance(part, TextPart):
            if part.text or b.own(part.provider_metadata).get("document") is not None:
                out.append(b.encode_text(part))
        elif isinstance(part, FilePart):
            out.append(b.encode_file(part, where))
        elif isinstance(part, ToolCallPart):
            out.append(b.encode_tool_call(part))
        elif isinstance(part, ToolResultPart):
            out.append(b.encode_tool_result(part, where))
        elif isinstance(part, ReasoningPart) and msg.role == "assistant":
            block = b.encode_reasoning(part)
            if block is not None:
                out.append(block)
    return out


def _system_turn(msg: Message, turns: list[dict[str, Any]]) -> None:
    """Place a mid-conversation system message: Anthropic takes ``role: "system"`` right
    after a user turn (or another system turn); anywhere else its nearest form is a marked
    note on the user side, joined to the user turn that follows (Anthropic wants user and
    assistant turns to alternate)."""
    blocks = [b.encode_text(p) for p in msg.parts if isinstance(p, TextPart) and p.text]
    if not blocks:
        return
    last = turns[-1]["role"] if turns else None
    if last == "system":
        turns[-1]["content"].extend(blocks)
    elif last == "user":
        turns.append({"role": "system", "content": blocks})
    else:
        turns.append({"role": "user", "content": [_note(blocks)]})


def _note(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    text = BLOCK_SEPARATOR.join(x["text"] for x in blocks if isinstance(x.get("text"), str) and x["text"])
    return {"type": "text", "text": c.system_note(text)}


def _between_user_turns(turns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A system turn between two user turns becomes a note joining them into one: the
    user side is one turn between two assistant turns."""
    out: list[dict[str, Any]] = []
    for turn in turns:
        if turn["role"] == "user" and len(out) >= 2 and out[-1]["role"] == "system" and out[-2]["role"] == "user":
            note = _note(out.pop()["content"])
            out[-1]["content"].extend([note, *turn["content"]])
        else:
            out.append(turn)
    return out


def _conversation(messages: tuple[Message, ...]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], bool]:
    """(system blocks, alternating messages, whether a system message stays in place)."""
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    leading = c.leading_system(messages)
    for i, msg in enumerate(messages):
        if msg.role == "system":
            if i < leading:
                system.extend(b.encode_text(p) for p in msg.parts if isinstance(p, TextPart) and p.text)
            else:
                _system_turn(msg, turns)
            continue
        blocks = _blocks(msg, f"messages[{i}].content")
        if not blocks:
            continue
        role = "assistant" if msg.role == "assistant" else "user"
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    turns = _between_user_turns(turns)
    for turn in turns:
        content = turn["content"]
        if turn["role"] == "user" and any(x["type"] == "tool_result" for x in content):
            turn["content"] = [x for x in content if x["type"] == "tool_result"] + [
                x for x in content if x["type"] != "tool_result"
            ]
    if turns and turns[-1]["role"] == "assistant":
        _strip_trailing_space(turns[-1]["content"])
    if not turns:  # only system text (OpenAI clients do this): Anthropic needs a user turn
        turns.append({"role": "user", "content": [{"type": "text", "text": "Continue."}]})
    return system, turns, any(turn["role"] == "system" for turn in turns)


def _strip_trailing_space(content: list[dict[str, Any]]) -> None:
    """Anthropic rejects a final assistant turn (a prefill) that ends in whitespace."""
    last = content[-1]
    if last.get("type") == "text":
        text = last["text"].rstrip()
        if text:
            last["text"] = text
        else:
            content.pop()


def _encode_tool(tool: Tool) -> dict[str, Any]:
    schema = dict(tool.parameters)
    schema.setdefault("type", "object")
    out: dict[str, Any] = {"name": tool.name}
    if tool.description:
        out["description"] = tool.description
    out["input_schema"] = schema
    if tool.strict:
        out["strict"] = True
    for key, value in b.own(tool.provider_metadata).items():
        out.setdefault(key, value)
    return out


def _encode_tool_choice(choice: ToolChoice | None, parallel: bool | None) -> dict[str, Any] | None:
    if choice is None and parallel is not False:
        return None
    kind = choice.type if choice is not None else "auto"
    out: dict[str, Any] = {"type": {"required": "any"}.get(kind, kind)}
    if choice is not None and kind == "tool":
        out["name"] = choice.name
    if parallel is False and kind != "none":
        out["disable_parallel_tool_use"] = True
    return out


def _thinking(request: Request, max_tokens: int | None) -> tuple[dict[str, Any] | None, str | None, int | None]:
    """(thinking block, output effort, max_tokens to send)."""
    reasoning = request.reasoning
    if reasoning is None:
        return None, None, max_tokens
    if reasoning.disabled:
        return {"type": "disabled"}, None, max_tokens
    requested = reasoning.requested_budget()
    if requested is None:  # only a summary or thoughts asked for: no amount of thinking to invent
        return None, None, max_tokens
    effort = reasoning.effort if reasoning.effort in _EFFORTS else None
    if requested < 0:
        return {"type": "adaptive"}, effort, max_tokens
    budget = max(MIN_THINKING_BUDGET, requested)
    if max_tokens is None:
        max_tokens = max(DEFAULT_MAX_TOKENS, budget + THINKING_ROOM)
    elif budget >= max_tokens:
        budget = max_tokens - 1
        if budget < MIN_THINKING_BUDGET:  # no room to think within the client's limit
            return None, None, max_tokens
    return {"type": "enabled", "budget_tokens": budget}, None, max_tokens


def encode_request(request: Request, model: str) -> dict[str, Any]:
    system, messages, system_in_place = _conversation(request.messages)
    thinking, effort, max_tokens = _thinking(request, request.max_tokens)
    body: dict[str, Any] = {"model": model, "max_tokens": max_tokens or DEFAULT_MAX_TOKENS}
    if system:
        plain = len(system) == 1 and system[0].keys() == {"type", "text"}
        body["system"] = system[0]["text"] if plain else system
    body["messages"] = messages
    tools = [
        _encode_tool(t) if isinstance(t, Tool) else dict(t.spec)
        for t in request.tools
        if isinstance(t, Tool) or t.wire == WIRE
    ]
    thinking_on = thinking is not None and thinking["type"] != "disabled"
    if tools:
        body["tools"] = tools
        choice = _encode_tool_choice(request.tool_choice, request.parallel_tool_calls)
        if choice is not None and thinking_on and choice["type"] in ("any", "tool"):
            choice["type"] = "auto"  # Anthropic refuses forced tool use while thinking
            choice.pop("name", None)
        if choice is not None:
            body["tool_choice"] = choice
    if thinking is not None:
        body["thinking"] = thinking
    if request.stop:
        body["stop_sequences"] = list(request.stop)
    if thinking_on:
        # With thinking on, Anthropic accepts temperature 1 only, top_p of at least 0.95, no top_k.
        if request.temperature == 1:
            body["temperature"] = 1
        if request.top_p is not None:
            body["top_p"] = max(0.95, request.top_p)
    else:
        for key, value in (("temperature", request.temperature), ("top_p", request.top_p), ("top_k", request.top_k)):
            if value is not None:
                body[key] = value
    user = (request.metadata or {}).get("user_id") or (request.metadata or {}).get("user")
    if isinstance(user, str) and user:
        body["metadata"] = {"user_id": user}
    config: dict[str, Any] = {}
    if effort is not None:
        config["effort"] = effort
    fmt = request.response_format
    if fmt is not None and fmt.type == "json_schema" and fmt.schema is not None:
        config["format"] = {"type": "json_schema", "schema": dict(fmt.schema)}
    if request.stream:
        body["stream"] = True
    for key, value in request.extras_for(WIRE).items():
        if key == "output_config" and isinstance(value, Mapping):
            config = {**value, **config}
        else:
            body.setdefault(key, value)
    if config:
        body["output_config"] = config
    if system_in_place:
        betas = body.get("betas")
        betas = [x for x in betas if isinstance(x, str)] if isinstance(betas, list) else []
        if MID_CONVERSATION_SYSTEM_BETA not in betas:
            betas.append(MID_CONVERSATION_SYSTEM_BETA)
        body["betas"] = betas  # the Claude provider sends them as the anthropic-beta header
    return body


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
