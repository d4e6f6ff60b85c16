"""Make a Messages body acceptable to the model it is sent to.

Applied to every body the Claude provider sends, whether it is an Anthropic client's own
body or one encoded from another door's request, so requests do not fail on rules only
the upstream knows:

* thinking blocks Anthropic did not sign (reasoning from Gemini or an OpenAI-style model,
  echoed back by a client that switched providers) are left out -- Anthropic rejects them
  with "Invalid signature in thinking block";
* tool ids are made to match ``^[a-zA-Z0-9_-]+$``, deterministically, so a ``tool_use``
  and its ``tool_result`` stay paired;
* thinking is expressed the way the model accepts (budget or adaptive + effort), with a
  budget of at least 1024 tokens below ``max_tokens``, and ``max_tokens`` within the
  model's limit;
* sampling parameters follow the thinking rules (temperature 1, top_p >= 0.95, no top_k)
  and the model's own; forced tool use becomes ``auto`` where it is refused;
* structured output falls back to an instruction for models without ``output_config.format``.

Nested structures of the body are never changed in place: a client's body may be needed
again for a failover attempt.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

import orjson
from cliproxy.ir import REASONING_BUDGETS, Reasoning

from cliproxy_claude.models import ALL_EFFORTS, ModelCaps

__all__ = ["COUNT_FIELDS", "sanitize_tool_id", "shape_body"]

MIN_BUDGET = 1024
DEFAULT_MAX_TOKENS = 8192
THINKING_ROOM = 4096

COUNT_FIELDS = frozenset(
    {"model", "messages", "system", "tools", "tool_choice", "thinking", "mcp_servers", "output_config", "output_format"}
)
"""The body fields ``/v1/messages/count_tokens`` accepts."""

_TOOL_ID = re.compile(r"^[a-zA-Z0-9_-]+$")
_NOT_ID = re.compile(r"[^a-zA-Z0-9_-]")
_ID_CHARS = re.compile(r"[a-zA-Z0-9_-]+").fullmatch


def _valid_id(value: Any) -> bool:
    return isinstance(value, str) and _ID_CHARS(value) is not None


def sanitize_tool_id(value: str) -> str:
    """``value`` if Anthropic accepts it as a tool id; otherwise a stable valid id."""
    if _TOOL_ID.match(value):
        return value
    digest = hashlib.sha256(value.encode()).hexdigest()[:10]
    cleaned = _NOT_ID.sub("_", value)[:54]
    return f"{cleaned}_{digest}" if cleaned.strip("_") else f"toolu_{digest}"


# -- messages --------------------------------------------------------------------------------


def _clean_block(block: Any) -> Any:
    """The block as Anthropic accepts it: the same object, a fixed copy, or None (drop)."""
    if not isinstance(block, dict):
        return block
    kind = block.get("type")
    if kind == "thinking":
        signature = block.get("signature")
        return block if isinstance(signature, str) and signature else None
    if kind == "redacted_thinking":
        return block if isinstance(block.get("data"), str) and block["data"] else None
    if kind == "tool_use":
        value = block.get("id")
        if isinstance(value, str) and not _TOOL_ID.match(value):
            return {**block, "id": sanitize_tool_id(value)}
    elif kind == "tool_result":
        value = block.get("tool_use_id")
        if isinstance(value, str) and not _TOOL_ID.match(value):
            return {**block, "tool_use_id": sanitize_tool_id(value)}
    return block


def _fine(block: Any) -> bool:
    """The fast path: most blocks are text, signed thinking, or calls with valid ids."""
    kind = block.get("type") if type(block) is dict else None
    if kind == "text":
        return True
    if kind == "thinking":
        return bool(block.get("signature"))
    if kind == "tool_use":
        return _valid_id(block.get("id"))
    if kind == "tool_result":
        return _valid_id(block.get("tool_use_id"))
    return False


def _as_blocks(content: Any) -> list[Any]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    return list(content) if isinstance(content, list) else []


def _merge_turns(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Join consecutive turns of one role (left behind when a turn lost all its blocks)."""
    out: list[dict[str, Any]] = []
    for msg in messages:
        if out and out[-1].get("role") == msg.get("role"):
            merged = _as_blocks(out[-1].get("content")) + _as_blocks(msg.get("content"))
            if msg.get("role") == "user":
                merged = [b for b in merged if isinstance(b, dict) and b.get("type") == "tool_result"] + [
                    b for b in merged if not (isinstance(b, dict) and b.get("type") == "tool_result")
                ]
            out[-1] = {**out[-1], "content": merged}
        else:
            out.append(msg)
    return out


def clean_messages(messages: Any) -> Any:
    """Messages without unsigned thinking and with valid tool ids (the same list when
    nothing needed fixing)."""
    if not isinstance(messages, list):
        return messages
    out: list[Any] = []
    changed = dropped = False
    for msg in messages:
        content = msg.get("content") if isinstance(msg, dict) else None
        if not isinstance(content, list):
            out.append(msg)
            continue
        fixed: list[Any] | None = None
        for i, block in enumerate(content):
            new = block if _fine(block) else _clean_block(block)
            if new is not block and fixed is None:
                fixed = list(content[:i])
            if fixed is not None and new is not None:
                fixed.append(new)
        if fixed is None:
            out.append(msg)
            continue
        changed = True
        if fixed:
            out.append({**msg, "content": fixed})
        else:
            dropped = True
    if not changed:
        return messages
    return _merge_turns(out) if dropped else out


def _final_tool_turn_lacks_thinking(messages: Any) -> bool:
    """True when the last assistant turn calls tools without opening with thinking, which
    Anthropic refuses while budget thinking is on."""
    if not isinstance(messages, list):
        return False
    for msg in reversed(messages):
        if not isinstance(msg, dict) or msg.get("role") != "assistant":
            continue
        content = msg.get("content")
        if not isinstance(content, list) or not content:
            return False
        calls = any(isinstance(b, dict) and b.get("type") == "tool_use" for b in content)
        first = content[0].get("type") if isinstance(content[0], dict) else None
        return calls and first not in ("thinking", "redacted_thinking")
    return False


# -- thinking and sampling -------------------------------------------------------------------


def _effort_for(level: str | None, caps: ModelCaps) -> str | None:
    """The nearest effort the model accepts, not above ``level``."""
    if level is None or not caps.efforts:
        return None
    level = {"none": "low", "minimal": "low"}.get(level, level)
    if level in caps.efforts:
        return level
    if level not in ALL_EFFORTS:
        return None
    for candidate in reversed(ALL_EFFORTS[: ALL_EFFORTS.index(level)]):
        if candidate in caps.efforts:
            return candidate
    return caps.efforts[0]


def _shape_thinking(body: dict[str, Any], caps: ModelCaps | None, explicit_max: bool) -> bool:
    """Rewrite ``thinking``/``output_config.effort``/``max_tokens``; True when thinking is on."""
    raw = body.get("thinking")
    thinking = dict(raw) if raw is not None and isinstance(raw, Mapping) else None  # (None first: no ABC check)
    raw = body.get("output_config")
    config = dict(raw) if raw is not None and isinstance(raw, Mapping) else {}
    kind = thinking.get("type") if thinking else None
    level = config.get("effort") if isinstance(config.get("effort"), str) else None
    asked_budget = thinking.get("budget_tokens") if thinking else None
    budget: int | None = asked_budget if isinstance(asked_budget, int) else None
    cap = caps.max_output if caps else None
    asked_max = body.get("max_tokens")
    max_tokens: int = asked_max if isinstance(asked_max, int) else DEFAULT_MAX_TOKENS

    mode = kind  # enabled | adaptive | disabled | None
    if caps is not None:
        if caps.thinking == "none":
            mode, level = None, None
        elif mode == "adaptive" and caps.thinking == "budget":
            mode, budget = "enabled", REASONING_BUDGETS.get(level or "high", REASONING_BUDGETS["high"])
        elif mode == "enabled" and caps.thinking in ("adaptive", "always"):
            mode, level = "adaptive", level or Reasoning(budget_tokens=budget).requested_level()
        if mode == "disabled" and caps.thinking == "always":
            mode, level = None, level or "low"  # cannot be turned off: think as little as it can
        level = _effort_for(level, caps)

    if mode == "enabled":
        budget = max(MIN_BUDGET, budget or MIN_BUDGET)
        if cap is not None:
            budget = min(budget, cap - 1)
            max_tokens = min(max_tokens, cap)
        if budget >= max_tokens and not explicit_max:
            max_tokens = budget + THINKING_ROOM if cap is None else min(cap, budget + THINKING_ROOM)
        if budget >= max_tokens:
            budget = max_tokens - 1
        if budget < MIN_BUDGET or _final_tool_turn_lacks_thinking(body.get("messages")):
            mode = None
    elif cap is not None:
        max_tokens = min(max_tokens, cap)

    body["max_tokens"] = max_tokens
    extra = {k: v for k, v in (thinking or {}).items() if k not in ("type", "budget_tokens")}
    if mode == "enabled":
        body["thinking"] = {"type": "enabled", "budget_tokens": budget, **extra}
    elif mode == "adaptive":
        body["thinking"] = {"type": "adaptive", **extra}
    elif mode == "disabled":
        body["thinking"] = {"type": "disabled"}
    else:
        body.pop("thinking", None)
    if level is not None and caps is not None:
        config["effort"] = level
    elif caps is not None:
        config.pop("effort", None)
    if config:
        body["output_config"] = config
    else:
        body.pop("output_config", None)
    return mode in ("enabled", "adaptive") or (caps is not None and caps.thinking == "always")


def _shape_sampling(body: dict[str, Any], caps: ModelCaps | None, thinking: bool) -> None:
    if caps is not None and caps.sampling == "none":
        for key in ("temperature", "top_p", "top_k"):
            body.pop(key, None)
        return
    if thinking:
        if body.get("temperature") not in (None, 1):
            body.pop("temperature")
        top_p = body.get("top_p")
        if isinstance(top_p, int | float) and top_p < 0.95:
            body["top_p"] = 0.95
        body.pop("top_k", None)
    if caps is not None and caps.sampling == "one" and "temperature" in body and "top_p" in body:
        body.pop("top_p")  # the model takes one of the two; temperature is the common one


def _shape_tool_choice(body: dict[str, Any], caps: ModelCaps | None, thinking: bool) -> None:
    choice = body.get("tool_choice")
    if not isinstance(choice, Mapping) or choice.get("type") not in ("any", "tool"):
        return
    if thinking or (caps is not None and not caps.forced_tools):
        body["tool_choice"] = {k: v for k, v in choice.items() if k != "name"} | {"type": "auto"}


def _shape_structured_output(body: dict[str, Any], caps: ModelCaps | None) -> None:
    config = body.get("output_config")
    if caps is None or caps.structured_outputs or not isinstance(config, Mapping):
        return
    fmt = config.get("format")
    if not isinstance(fmt, Mapping):
        return
    rest = {k: v for k, v in config.items() if k != "format"}
    if rest:
        body["output_config"] = rest
    else:
        body.pop("output_config")
    schema = orjson.dumps(fmt.get("schema") or {}).decode()
    note = {
        "type": "text",
        "text": f"Answer with a single JSON value, and nothing else, that matches this JSON Schema: {schema}",
    }
    system = body.get("system")
    if isinstance(system, str):
        body["system"] = [{"type": "text", "text": system}, note] if system else [note]
    elif isinstance(system, list):
        body["system"] = [*system, note]
    else:
        body["system"] = [note]


def shape_body(body: dict[str, Any], caps: ModelCaps | None, *, explicit_max_tokens: bool = True) -> list[str]:
    """Adjust ``body`` (a fresh top-level dict) for its model; returns the body's
    ``betas`` (removed from it: Anthropic takes them as the ``anthropic-beta`` header)."""
    betas = body.pop("betas", None)
    body["messages"] = clean_messages(body.get("messages"))
    thinking = _shape_thinking(body, caps, explicit_max_tokens)
    _shape_sampling(body, caps, thinking)
    _shape_tool_choice(body, caps, thinking)
    _shape_structured_output(body, caps)
    return [b for b in betas if isinstance(b, str) and b] if isinstance(betas, list) else []
