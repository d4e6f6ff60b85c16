"""MiniMax's text models (no listing endpoint is known: a static catalogue)."""

from __future__ import annotations

from cliproxy import ModelEntry

__all__ = ["MODELS", "canonical", "default_entries"]

MODELS = (
    "MiniMax-M3",
    "MiniMax-M2.7",
    "MiniMax-M2.7-highspeed",
    "MiniMax-M2.5",
    "MiniMax-M2.5-highspeed",
    "MiniMax-M2.1",
    "MiniMax-M2.1-highspeed",
    "MiniMax-M2",
    "MiniMax-M2-Stable",
)
_BY_LOWER = {name.lower(): name for name in MODELS}
_RENAMED = {"-lightning": "-highspeed"}


def canonical(model: str) -> str:
    """MiniMax's spelling of ``model`` (its ids are case-sensitive: ``minimax-m2.5`` is
    sent as ``MiniMax-M2.5``; the former ``-lightning`` names as ``-highspeed``); other
    names as they are."""
    lowered = model.lower()
    for old, new in _RENAMED.items():
        if lowered.endswith(old):
            lowered = lowered[: -len(old)] + new
    return _BY_LOWER.get(lowered, model)


def default_entries() -> tuple[ModelEntry, ...]:
    return tuple(ModelEntry(name) for name in MODELS)
