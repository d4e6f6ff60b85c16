"""Thinking suffixes: ``model(high)``, ``model(8192)``, ``model(none)``, ``model(auto)``.

Clients that pick models only by name (Claude Code, Gemini CLI and many others) cannot set
a reasoning effort or budget; a suffix on the name sets it. The gateway routes by the name
without the suffix, answers under the name as asked, and sends the reasoning on in the
upstream wire's own form (Anthropic ``thinking.budget_tokens``, OpenAI ``reasoning.effort``
or ``reasoning_effort``, Gemini ``thinkingConfig``), clamped to the model's limits by its
provider. The suffix wins over what the body says about the amount.

A level (``none``, ``auto``, ``minimal``, ``low``, ``medium``, ``high``, ``xhigh``,
``max``) or a token budget (``0`` is none, ``-1`` is auto).
"""

from __future__ import annotations

import attrs

from cliproxy.errors import GatewayError
from cliproxy.ir import REASONING_BUDGETS, Reasoning

__all__ = ["LEVELS", "apply_suffix", "split_suffix"]

LEVELS = ("none", "auto", *REASONING_BUDGETS)


def split_suffix(model: str) -> tuple[str, Reasoning | None]:
    """``(name without the suffix, the reasoning it asks for)``; ``(model, None)`` when
    the name has no suffix. A suffix that is neither a level nor a budget is a 400."""
    if not model.endswith(")"):
        return model, None
    start = model.rfind("(")
    if start <= 0:
        return model, None
    base, value = model[:start], model[start + 1 : -1].strip().lower()
    if value.lstrip("-").isdigit():
        budget = int(value)
        if budget < -1:
            raise _bad(model, value)
        if budget == 0:
            return base, Reasoning(effort="none", budget_tokens=0)
        return base, Reasoning(budget_tokens=budget)
    if value == "auto":
        return base, Reasoning(budget_tokens=-1)
    if value == "none":
        return base, Reasoning(effort="none", budget_tokens=0)
    if value in REASONING_BUDGETS:
        return base, Reasoning(effort=value)
    raise _bad(model, value)


def apply_suffix(asked: Reasoning | None, suffix: Reasoning) -> Reasoning:
    """The request's reasoning with the suffix's amount in place of its own (a summary
    or an ``include_thoughts`` the body asked for is kept)."""
    if asked is None:
        return suffix
    return attrs.evolve(asked, effort=suffix.effort, budget_tokens=suffix.budget_tokens)


def _bad(model: str, value: str) -> GatewayError:
    return GatewayError.invalid(
        f"'{model}': '({value})' is not a thinking suffix; use a level ({', '.join(LEVELS)}) or a token budget "
        "such as (8192), or the model name without parentheses",
        param="model",
    ).as_local()
