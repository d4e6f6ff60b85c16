"""Shaping a chat body for OpenRouter: its ``reasoning`` object, reasoning signatures,
default provider preferences.

Pure functions of the IR request and the body; the provider applies them in
``build_body``. A body that came from an OpenAI-chat client is the client's own and keeps
every OpenRouter field it sent (``provider``, ``models``, ``transforms``, ``reasoning``);
only requests from other doors (Anthropic, Gemini...) are reshaped here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cliproxy import ir

__all__ = ["apply_provider_defaults", "reasoning_object"]

# OpenRouter's effort levels; the IR's "max" has no equivalent and becomes the highest.
EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")


def reasoning_object(reasoning: ir.Reasoning) -> dict[str, Any]:
    """OpenRouter's ``reasoning`` object for the IR's reasoning settings (empty when they
    ask for nothing OpenRouter has a field for).

    A token budget (Anthropic ``thinking.budget_tokens``, Gemini ``thinkingBudget``)
    becomes ``max_tokens``; a level becomes ``effort``; "off" becomes ``enabled: false``;
    "let the model decide" (budget -1) becomes ``enabled: true``. Settings without an
    amount (a Responses summary, Gemini's ``includeThoughts``) ask for no effort, and
    none is sent: ``enabled: true`` alone would mean OpenRouter's default effort.
    """
    out: dict[str, Any]
    if reasoning.disabled:
        out = {"enabled": False}
    elif reasoning.budget_tokens is not None and reasoning.budget_tokens > 0:
        out = {"max_tokens": reasoning.budget_tokens}
    elif reasoning.effort is not None:
        out = {"effort": reasoning.effort if reasoning.effort in EFFORTS else "xhigh"}
    elif reasoning.budget_tokens is not None:
        out = {"enabled": True}
    else:
        out = {}
    if reasoning.include_thoughts is False and out.get("enabled") is not False:
        out["exclude"] = True
    return out


def apply_provider_defaults(body: dict[str, Any], defaults: Mapping[str, Any]) -> None:
    """Merge configured provider-routing preferences under the client's own: keys the
    client sent in ``provider`` win."""
    if not defaults:
        return
    own = body.get("provider")
    merged = dict(defaults)
    if isinstance(own, Mapping):
        merged.update(own)
    body["provider"] = merged
