"""Shaping a translated chat body for the Kilo gateway, which reads OpenRouter's fields.

A body from an OpenAI-chat client is the client's own and passes through as it is.
Requests from other doors (Anthropic, Gemini, Responses) get their reasoning settings as
OpenRouter's ``reasoning`` object, and signed reasoning from earlier turns as
``reasoning_details`` on the assistant messages, so a Claude thinking tool loop can go on
through Kilo.
"""

from __future__ import annotations

from typing import Any

from cliproxy import add_reasoning_details, ir

__all__ = ["shape_translated"]

EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")


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


def shape_translated(body: dict[str, Any], request: ir.Request) -> None:
    """Reshape ``body`` (encoded from ``request`` by the chat translator) in place."""
    body.pop("reasoning_effort", None)
    if request.reasoning is not None:
        reasoning = _reasoning(request.reasoning)
        if reasoning:
            body["reasoning"] = reasoning
    add_reasoning_details(body, request)
