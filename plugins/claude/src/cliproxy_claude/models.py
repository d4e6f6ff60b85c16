"""What each Claude model accepts: the static catalogue and per-model request limits.

Claude generations differ in what a request may say about thinking and sampling, and a
request that breaks the rules is a 400 (Anthropic's model pages and migration guides):

* Claude 3.5 and older cannot think; 3.7 to 4.5 think with a token budget
  (``thinking.type: enabled``); 4.6 takes a budget or adaptive thinking; Opus 4.7 and later
  think adaptively, steered by ``output_config.effort``; Fable, Mythos, Opus 4.7/4.8 and
  the 5.5 generation cannot turn thinking off.
* Claude 5 rejects non-default ``temperature``/``top_p``/``top_k``; Opus 4.1 to 4.x take
  ``temperature`` or ``top_p``, not both.
* Fable 5.1 and the 5.5 generation refuse forced tool use (``tool_choice`` any/tool).

Names are parsed (``claude-opus-4-6``, ``claude-3-7-sonnet-20250219``,
``claude-sonnet-4-5-20250929``), so dated snapshots and new minor versions get their
family's rules. Names that are not Claude models (an Anthropic-compatible server's own)
get no per-model rules.
"""

from __future__ import annotations

import functools
import re
from typing import Literal

import attrs

__all__ = ["CATALOGUE", "ModelCaps", "caps_for"]

Thinking = Literal["none", "budget", "both", "adaptive", "always"]
Sampling = Literal["free", "one", "none"]

ALL_EFFORTS = ("low", "medium", "high", "xhigh", "max")


@attrs.frozen
class ModelCaps:
    """Limits of one model.

    Attributes:
        max_output: Largest ``max_tokens`` it accepts.
        thinking: ``none`` (cannot think), ``budget`` (``enabled`` + ``budget_tokens``),
            ``both`` (budget or adaptive), ``adaptive`` (adaptive or off), ``always``
            (adaptive, cannot be turned off).
        efforts: The ``output_config.effort`` values it accepts (empty: no effort knob).
        sampling: ``free``; ``one`` (temperature or top_p, not both); ``none`` (defaults only).
        forced_tools: Whether ``tool_choice`` any/tool is accepted.
        structured_outputs: Whether ``output_config.format`` is accepted.
    """

    max_output: int
    thinking: Thinking
    efforts: tuple[str, ...] = ()
    sampling: Sampling = "one"
    forced_tools: bool = True
    structured_outputs: bool = True


CATALOGUE: tuple[str, ...] = (
    "claude-fable-5-1",
    "claude-opus-5-5",
    "claude-sonnet-5-5",
    "claude-haiku-5-5",
    "claude-opus-5",
    "claude-sonnet-5",
    "claude-fable-5",
    "claude-opus-4-8",
    "claude-opus-4-7",
    "claude-opus-4-6",
    "claude-sonnet-4-6",
    "claude-opus-4-5",
    "claude-sonnet-4-5",
    "claude-haiku-4-5",
)
"""Model ids listed for a credential whose config names none (current and recent models)."""

_FAMILIES = ("opus", "sonnet", "haiku", "fable", "mythos")
_NUMBER = re.compile(r"^\d{1,2}$")


def _version(name: str) -> tuple[str, int, int] | None:
    """(family, major, minor) of a Claude model name, or None for other names."""
    tokens = name.lower().removeprefix("anthropic/").split("-")
    if not tokens or tokens[0] != "claude":
        return None
    family = next((t for t in tokens if t in _FAMILIES), None)
    numbers = [int(t) for t in tokens[1:] if _NUMBER.match(t)]
    if family is None or not numbers:
        return None
    return family, numbers[0], numbers[1] if len(numbers) > 1 else 0


@functools.lru_cache(maxsize=256)
def caps_for(model: str) -> ModelCaps | None:
    """The limits of ``model``; None when it is not a Claude model name (worked out once
    per name: requests name the same few models over and over)."""
    parsed = _version(model)
    if parsed is None:
        return None
    family, major, minor = parsed
    version = (major, minor)
    if version < (3, 7):
        return ModelCaps(8192 if version >= (3, 5) else 4096, "none", sampling="free", structured_outputs=False)
    if version < (4, 5):
        max_output = 32000 if family == "opus" else 64000
        sampling: Sampling = "one" if version >= (4, 1) else "free"
        return ModelCaps(max_output, "budget", sampling=sampling, structured_outputs=False)
    if version < (4, 6):
        return ModelCaps(64000, "budget", ("low", "medium", "high") if family == "opus" else ())
    if version < (4, 7):
        return ModelCaps(128000 if family == "opus" else 64000, "both", ("low", "medium", "high", "max"))
    if major == 4:  # Opus 4.7, 4.8
        return ModelCaps(128000, "always", ALL_EFFORTS)
    fixed = family in ("fable", "mythos") or (version >= (5, 5) and family != "haiku")
    return ModelCaps(
        128000,
        "always" if fixed else "adaptive",
        ALL_EFFORTS,
        sampling="none",
        forced_tools=version < (5, 1),
    )
