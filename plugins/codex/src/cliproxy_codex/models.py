"""Which models an account may use: the backend's models endpoint, asked per account
(its plan decides the list) with the Codex version the list is for.

``GET {base-url}/models?client_version=<version>`` answers ``{"models": [{"slug",
"visibility", "minimal_client_version", "supported_in_api", ...}]}``. A model is served
when its ``visibility`` is ``list`` or ``hide`` (Codex's picker hides the latter, but the
backend takes it) and the version asked for is at least its ``minimal_client_version``;
``none`` is not served.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from cliproxy import ModelEntry

__all__ = ["CATALOGUE", "catalogue", "served_slugs", "version_tuple"]

CATALOGUE = ("gpt-5.5", "gpt-5.4", "gpt-5.4-mini", "gpt-5.3-codex", "gpt-5.2-codex", "gpt-5.2")
"""Served while an account's list cannot be read (CLIProxyAPI's cached Codex slugs and
Roo's list of 2026, less those only some plans have)."""
MAX_MODELS = 200


def catalogue() -> tuple[ModelEntry, ...]:
    return tuple(ModelEntry(name) for name in CATALOGUE)


def version_tuple(value: Any) -> tuple[int, ...] | None:
    """``"0.99.0"`` or ``[0, 99, 0]`` as a comparable tuple; None when neither."""
    if isinstance(value, list) and value and all(isinstance(p, int) and not isinstance(p, bool) for p in value):
        return tuple(value)
    if isinstance(value, str):
        parts = re.findall(r"\d+", value.split("-", 1)[0])
        return tuple(int(p) for p in parts) if parts else None
    return None


def served_slugs(payload: Any, client_version: str) -> Sequence[str] | None:
    """The slugs of a models answer that an account may use with ``client_version``;
    None when the answer is not a model list."""
    models = payload.get("models") if isinstance(payload, dict) else None
    if not isinstance(models, list):
        return None
    ours = version_tuple(client_version) or ()
    found: list[str] = []
    for model in models[:MAX_MODELS]:
        if not isinstance(model, dict) or not isinstance(model.get("slug"), str) or not model["slug"]:
            continue
        if model.get("visibility", "list") not in ("list", "hide"):
            continue
        needed = version_tuple(model.get("minimal_client_version"))
        if needed is not None and ours and ours < needed:
            continue
        if model["slug"] not in found:
            found.append(model["slug"])
    return found
