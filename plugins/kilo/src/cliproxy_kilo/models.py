"""Kilo's model list: which ids it serves, and which of them it answers only on the
Responses API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["MAX_LEARNED", "parse_models", "responses_only"]

MAX_LEARNED = 1024
"""Models remembered per credential as Responses-only (beyond the id rule below)."""


def responses_only(model: str) -> bool:
    """OpenAI's GPT-5 and o-series models, which the gateway refuses on Chat Completions
    ("please use any of: responses"): ``gpt-5``, ``gpt-5.x``, ``gpt-5-...``, ``o1``,
    ``o3``, ``o4`` ids, with or without their ``openai/`` vendor part."""
    short = model.lower().rsplit("/", 1)[-1]
    return short == "gpt-5" or short.startswith(("gpt-5.", "gpt-5-", "o1", "o3", "o4"))


def _text_out(item: Mapping[str, Any]) -> bool:
    architecture = item.get("architecture")
    outputs = architecture.get("output_modalities") if isinstance(architecture, Mapping) else None
    return not isinstance(outputs, list) or not outputs or "text" in outputs


def parse_models(data: Any) -> tuple[list[str], set[str]]:
    """``(ids, ids that want the Responses API)`` from Kilo's OpenRouter-shaped model list
    (``{"data": [{"id", "architecture", "opencode": {"ai_sdk_provider"}}...]}``); models
    that only make images are left out, as the chat doors cannot ask for them."""
    items = data.get("data") if isinstance(data, Mapping) else None
    if not isinstance(items, list):
        raise ValueError("the model list has no 'data' array")
    names: list[str] = []
    responses: set[str] = set()
    for item in items:
        if not isinstance(item, Mapping) or not isinstance(item.get("id"), str) or not item["id"]:
            continue
        if not _text_out(item):
            continue
        names.append(item["id"])
        hints = item.get("opencode")
        if isinstance(hints, Mapping) and hints.get("ai_sdk_provider") == "openai":
            responses.add(item["id"])
    return names, responses
