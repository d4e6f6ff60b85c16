"""Model names: what clients send, what Kiro calls the same model.

Kiro names Claude models with dotted versions (``claude-sonnet-4.5``); clients use
Anthropic's names (``claude-sonnet-4-5-20250929``), sometimes with a ``kiro-`` or
``amazonq-`` prefix. :func:`kiro_model_id` maps the latter to the former; a name it does
not recognise goes to Kiro unchanged (Kiro's legacy ``CLAUDE_SONNET_4_5_20250929_V1_0``
ids included), so a model Kiro adds later works without a release of this plugin.
"""

from __future__ import annotations

import re

from cliproxy import ModelEntry

__all__ = ["DEFAULT_MODELS", "kiro_model_id", "wants_thinking"]

_PREFIXES = ("kiro-", "amazonq-", "amazon-q-")
_DATE = re.compile(r"-(?:20\d{6}|latest)$")
_THINKING = re.compile(r"-thinking$")
# claude-<family>-<major>-<minor> and the older claude-<major>-<minor>-<family>
_FAMILY_FIRST = re.compile(r"^claude-(opus|sonnet|haiku)-(\d+)(?:[-.](\d))?$")
_VERSION_FIRST = re.compile(r"^claude-(\d+)(?:[-.](\d))?-(opus|sonnet|haiku)$")

DEFAULT_MODELS: tuple[ModelEntry, ...] = (
    ModelEntry("auto"),
    ModelEntry("claude-sonnet-4.5"),
    ModelEntry("claude-sonnet-4.5", "claude-sonnet-4-5"),
    ModelEntry("claude-sonnet-4.5", "claude-sonnet-4-5-20250929"),
    ModelEntry("claude-sonnet-4"),
    ModelEntry("claude-sonnet-4", "claude-sonnet-4-20250514"),
    ModelEntry("claude-haiku-4.5"),
    ModelEntry("claude-haiku-4.5", "claude-haiku-4-5"),
    ModelEntry("claude-haiku-4.5", "claude-haiku-4-5-20251001"),
    ModelEntry("claude-opus-4.5"),
    ModelEntry("claude-opus-4.5", "claude-opus-4-5"),
    ModelEntry("claude-opus-4.5", "claude-opus-4-5-20251101"),
)
"""What a Kiro credential serves when its entry lists no ``models``: Kiro's ids and the
Anthropic names Claude Code sends for them."""


def wants_thinking(model: str) -> bool:
    """True for ``...-thinking`` names, which ask for reasoning whatever the request says."""
    return bool(_THINKING.search(model.strip().lower()))


def kiro_model_id(model: str) -> str:
    """The Kiro model id for a client's model name.

    >>> kiro_model_id("claude-sonnet-4-5-20250929")
    'claude-sonnet-4.5'
    >>> kiro_model_id("kiro-claude-haiku-4-5")
    'claude-haiku-4.5'
    >>> kiro_model_id("claude-3-7-sonnet-latest")
    'claude-3.7-sonnet'
    >>> kiro_model_id("CLAUDE_SONNET_4_5_20250929_V1_0")
    'CLAUDE_SONNET_4_5_20250929_V1_0'
    """
    name = model.strip()
    lowered = name.lower()
    for prefix in _PREFIXES:
        if lowered.startswith(prefix):
            name, lowered = name[len(prefix) :], lowered[len(prefix) :]
            break
    if not lowered.startswith("claude-"):
        return name
    lowered = _THINKING.sub("", _DATE.sub("", lowered))
    match = _FAMILY_FIRST.match(lowered)
    if match:
        family, major, minor = match.groups()
        return f"claude-{family}-{major}" + (f".{minor}" if minor else "")
    match = _VERSION_FIRST.match(lowered)
    if match:
        major, minor, family = match.groups()
        return f"claude-{major}" + (f".{minor}" if minor else "") + f"-{family}"
    return name
