"""The models a credential serves when its config lists none.

API keys start from this list and then ask ``GET /v1beta/models`` for the real one (see
:meth:`GeminiProvider.discover_models`); Code Assist serves the models Gemini CLI offers.
"""

from __future__ import annotations

import re

from cliproxy import ModelEntry

__all__ = ["API_MODELS", "CODE_ASSIST_MODELS"]

API_MODELS = tuple(
    ModelEntry(name)
    for name in (
        "gemini-3.8-flash",
        "gemini-3.7-flash",
        "gemini-3.6-flash",
        "gemini-3.5-flash",
        "gemini-3.5-flash-lite",
        "gemini-3.1-pro-preview",
        "gemini-3.1-flash-lite",
        "gemini-3-flash-preview",
        "gemini-2.5-pro",
        "gemini-2.5-flash",
        "gemini-2.5-flash-lite",
    )
)

CODE_ASSIST_MODELS = tuple(
    ModelEntry(name)
    for name in (
        "gemini-3.1-pro-preview",
        "gemini-3-pro-preview",
        "gemini-3.5-flash",
        "gemini-3-flash-preview",
        "gemini-3.1-flash-lite",
        "gemini-2.5-pro",
        "gemini-2.5-flash",
    )
)


_GENERATION = re.compile(r"gemini-(\d+)(?:\.(\d+))?")


def can_reason(model: str) -> bool | None:
    """Gemini 2.5 and later think; earlier generations cannot; other names: unknown."""
    match = _GENERATION.search(model.lower())
    if match is None:
        return None
    return (int(match.group(1)), int(match.group(2) or 0)) >= (2, 5)
