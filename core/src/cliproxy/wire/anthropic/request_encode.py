"""Anthropic Messages requests to upstreams: the IR request encoded as a body an
Anthropic upstream accepts.

The leading system text goes to the top level, later system messages stay in place (right
after a user turn, under the ``mid-conversation-system-2026-04-07`` beta; elsewhere as a
marked note on the user side); user/assistant turns alternate strictly, tool results come
first in their user turn, thinking blocks only where Anthropic signed them, and
``max_tokens`` leaves room for the thinking budget.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cliproxy.ir import (
    BLOCK_SEPARATOR,
    FilePart,
    Message,
    ReasoningPart,
    Request,
    TextPart,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
)
from cliproxy.wire import common as c
from cliproxy.wire.anthropic import parts as b
from cliproxy.wire.anthropic.common import WIRE, own

__all__ = ["DEFAULT_MAX_TOKENS", "MID_CONVERSATION_SYSTEM_BETA", "MIN_THINKING_BUDGET", "encode_request"]


DEFAULT_MAX_TOKENS = 8192
"""``max_tokens`` sent when the client gave none (Anthropic requires one)."""


MIN_THINKING_BUDGET = 1024
"""The smallest ``budget_tokens`` Anthropic accepts."""


THINKING_ROOM = 4096
"""Tokens left for the answer above a thinking budget when ``max_tokens`` is ours to pick."""


MID_CONVERSATION_SYSTEM_BETA = "mid-conversation-system-2026-04-07"
"""The beta under which Anthropic takes ``role: "system"`` messages inside ``messages``."""


_EFFORTS = ("low", "medium", "high", "xhigh", "max")


def _blocks(msg: Message, at: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i, part in enumerate(msg.parts):
        where = f"{at}[{i}]"
        if isinstance(part, TextPart):
            if part.text or own(part.provider_metadata).get("document") is not None:
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
    for key, value in own(tool.provider_metadata).items():
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
