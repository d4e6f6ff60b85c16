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

from cliproxy import add_reasoning_details, ir

__all__ = ["shape_translated"]

EFFORTS = ("minimal", "low", "medium", "high", "xhigh")


def _reasoning(reasoning: ir.Reasoning) -> dict[str, Any] | None:
    if reasoning.disabled:
        return {"enabled": False}
    level = reasoning.requested_level()
    if level is not None:
        return {"enabled": True, "effort": level if level in EFFORTS else "xhigh"}
    if reasoning.budget_tokens is not None:  # -1: the model decides
        return {"enabled": True}
    return None


def shape_translated(body: dict[str, Any], request: ir.Request) -> None:
    """Reshape ``body`` (encoded from ``request`` by the chat translator) in place."""
    body.pop("reasoning_effort", None)
    if request.reasoning is not None:
        reasoning = _reasoning(request.reasoning)
        if reasoning is not None:
            body["reasoning"] = reasoning
    add_reasoning_details(body, request)
