"""Shaping a translated chat body for the Roo Code Cloud proxy, which reads OpenRouter's
``reasoning`` object (``{enabled, effort}``, as Roo Code sends it) and
``reasoning_details``.

A body from an OpenAI-chat client passes through as it is. Other doors' reasoning
settings become ``reasoning`` (off: ``{"enabled": false}``; a level or a thinking budget:
``{"enabled": true, "effort": ...}``; "let the model decide": ``{"enabled": true}``), and
signed reasoning of earlier turns goes back as ``reasoning_details``.
"""

from __future__ import annotations

from typing import Any

from cliproxy import ir

__all__ = ["shape_translated"]

EFFORTS = ("minimal", "low", "medium", "high", "xhigh")
_SIGNED = (
    ("anthropic", "signature", "anthropic-claude-v1"),
    ("gemini", "thoughtSignature", "google-gemini-v1"),
)


def _reasoning(reasoning: ir.Reasoning) -> dict[str, Any] | None:
    if reasoning.disabled:
        return {"enabled": False}
    level = reasoning.requested_level()
    if level is not None:
        return {"enabled": True, "effort": level if level in EFFORTS else "xhigh"}
    if reasoning.budget_tokens is not None:  # -1: the model decides
        return {"enabled": True}
    return None


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
        if reasoning is not None:
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
