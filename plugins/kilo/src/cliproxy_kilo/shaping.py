"""Shaping a translated chat body for the Kilo gateway, which reads OpenRouter's fields.

A body from an OpenAI-chat client is the client's own and passes through as it is.
Requests from other doors (Anthropic, Gemini, Responses) get their reasoning settings as
OpenRouter's ``reasoning`` object, and signed reasoning from earlier turns as
``reasoning_details`` on the assistant messages, so a Claude thinking tool loop can go on
through Kilo.
"""

from __future__ import annotations

from typing import Any

from cliproxy import ir

__all__ = ["shape_translated"]

EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")
_SIGNED = (
    ("anthropic", "signature", "anthropic-claude-v1"),
    ("gemini", "thoughtSignature", "google-gemini-v1"),
)


def _reasoning(reasoning: ir.Reasoning) -> dict[str, Any]:
    if reasoning.disabled:
        return {"enabled": False}
    out: dict[str, Any] = {}
    if reasoning.budget_tokens is not None and reasoning.budget_tokens > 0:
        out["max_tokens"] = reasoning.budget_tokens
    elif reasoning.effort is not None:
        out["effort"] = reasoning.effort if reasoning.effort in EFFORTS else "xhigh"
    elif reasoning.budget_tokens is not None:  # -1: the model decides
        out["enabled"] = True
    if reasoning.include_thoughts is False:
        out["exclude"] = True
    return out


def _details(part: ir.ReasoningPart, index: int) -> list[dict[str, Any]]:
    meta = part.provider_metadata or {}
    kept = (meta.get("openai-chat") or {}).get("reasoning_details")
    if kept:
        return list(kept)
    out: list[dict[str, Any]] = []
    for wire, key, fmt in _SIGNED:
        values = meta.get(wire) or {}
        if values.get("redacted_data"):
            out.append({"type": "reasoning.encrypted", "data": values["redacted_data"], "format": fmt, "index": index})
        elif values.get(key):
            out.append(
                {"type": "reasoning.text", "text": part.text, "signature": values[key], "format": fmt, "index": index}
            )
    return out


def shape_translated(body: dict[str, Any], request: ir.Request) -> None:
    """Reshape ``body`` (encoded from ``request`` by the chat translator) in place."""
    body.pop("reasoning_effort", None)
    if request.reasoning is not None:
        reasoning = _reasoning(request.reasoning)
        if reasoning:
            body["reasoning"] = reasoning
    messages = body.get("messages")
    if not isinstance(messages, list):
        return
    encoded = iter(m for m in messages if isinstance(m, dict) and m.get("role") == "assistant")
    for message in request.messages:  # one encoded assistant message per IR one, in order
        if message.role != "assistant":
            continue
        target = next(encoded, None)
        if target is None:
            return
        if target.get("reasoning_details"):
            continue
        parts = [p for p in message.parts if isinstance(p, ir.ReasoningPart)]
        details = [d for i, part in enumerate(parts) for d in _details(part, i)]
        if details:
            target["reasoning_details"] = details
