"""``thinkingConfig`` <-> IR :class:`~cliproxy.ir.Reasoning`, per model.

Gemini 2.5 takes a token budget (``thinkingBudget``; ``-1`` lets the model decide, ``0``
turns thinking off where the model allows it); Gemini 3 and later take a level
(``thinkingLevel``) and cannot turn thinking off. A request from another door carries an
effort level or a budget; this module picks the form the target model understands and
clamps it to what that model accepts, so a reasoning setting never causes a 400:

=====================  ==========================================  ===================
model                  accepts                                     "off" becomes
=====================  ==========================================  ===================
gemini-2.5-pro         budget 128..32768 or -1                     128
gemini-2.5-flash       budget 0..24576 or -1                       0
gemini-2.5-flash-lite  budget 0 or 512..24576 or -1                0
gemini-3-pro           level low, high                             low
other gemini-3+ pro    level low, medium, high                     low
other gemini-3+        level minimal, low, medium, high            minimal
gemini < 2.5           no thinking: the setting is left out        --
other names            the form given (budget or level), as given  0 / minimal
=====================  ==========================================  ===================
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cliproxy.errors import GatewayError
from cliproxy.ir import Reasoning
from cliproxy.wire import common as c
from cliproxy.wire.gemini.common import model_generation

__all__ = ["decode_thinking", "thinking_config"]

_LEVEL_ORDER = ("minimal", "low", "medium", "high")


def _levels(model: str, generation: float) -> tuple[str, ...]:
    if "-pro" in model:
        return ("low", "high") if generation < 3.1 else ("low", "medium", "high")
    return _LEVEL_ORDER


def _clamp_level(level: str, allowed: tuple[str, ...]) -> str:
    if level in ("none",):
        return allowed[0]
    if level in ("xhigh", "max"):
        return allowed[-1]
    if level in allowed:
        return level
    rank = _LEVEL_ORDER.index(level) if level in _LEVEL_ORDER else _LEVEL_ORDER.index("medium")
    # The nearest allowed level, preferring the higher one on a tie (more thinking, not less).
    return min(allowed, key=lambda name: (abs(_LEVEL_ORDER.index(name) - rank), -_LEVEL_ORDER.index(name)))


def _clamp_budget(budget: int, model: str) -> int:
    if budget < 0:
        return -1
    if "2.5-pro" in model:
        return min(max(budget, 128), 32768)
    if "2.5-flash-lite" in model:
        return 0 if budget == 0 else min(max(budget, 512), 24576)
    if "2.5-flash" in model:
        return min(budget, 24576)
    return budget


def thinking_config(reasoning: Reasoning | None, model: str) -> dict[str, Any] | None:
    """The ``thinkingConfig`` for ``model``, or None to leave thinking at its default."""
    if reasoning is None:
        return None
    name = model.lower()
    generation = model_generation(name)
    if generation is not None and generation < 2.5:
        return None
    out: dict[str, Any] = {}
    if generation is not None and generation >= 3:
        dynamic = reasoning.effort is None and (reasoning.budget_tokens is None or reasoning.budget_tokens < 0)
        if not dynamic:
            out["thinkingLevel"] = _clamp_level(reasoning.level(), _levels(name, generation))
    elif generation is not None:
        if reasoning.effort is not None or reasoning.budget_tokens is not None:
            out["thinkingBudget"] = _clamp_budget(reasoning.budget(), name)
    elif reasoning.budget_tokens is not None:
        out["thinkingBudget"] = reasoning.budget_tokens
    elif reasoning.effort is not None:
        out["thinkingLevel"] = _clamp_level(reasoning.effort, _LEVEL_ORDER)
    include = reasoning.include_thoughts
    if include is None:
        include = not reasoning.disabled
    if include and out.get("thinkingBudget") != 0:
        out["includeThoughts"] = True
    return out or None


def decode_thinking(raw: Any, where: str) -> Reasoning | None:
    """IR reasoning from a Gemini client's ``thinkingConfig``."""
    if raw is None:
        return None
    config: Mapping[str, Any] = c.expect_map(raw, where)
    budget = c.get_int(config, "thinkingBudget", where + ".")
    level = c.get_str(config, "thinkingLevel", where + ".")
    include = c.get_bool(config, "includeThoughts", where + ".")
    effort = level.lower() if level else None
    if effort is not None and effort not in (*_LEVEL_ORDER, "none"):
        if effort == "thinking_level_unspecified":
            effort = None
        else:
            raise GatewayError.invalid(
                f"'{where}.thinkingLevel' must be one of MINIMAL, LOW, MEDIUM, HIGH; got {level!r}",
                param=f"{where}.thinkingLevel",
            )
    if budget is None and effort is None and include is None:
        return None
    # Gemini returns thoughts only when asked; say so, so other providers do the same.
    return Reasoning(effort=effort, budget_tokens=budget, include_thoughts=bool(include))
