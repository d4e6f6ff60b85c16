"""What every part of the ``gemini`` translator shares: names, finish reasons, usage, ids.

Facts: ``reference/wire/FACTS.md`` section 4 and the recordings in ``recordings/gemini``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from cliproxy.ir import Finish, FinishReason, Metadata, Usage

__all__ = [
    "GENERATED_ID_PREFIX",
    "WIRE",
    "decode_usage",
    "encode_finish",
    "encode_usage",
    "finish_from",
    "gemini_meta",
    "generated_id",
    "id_seed",
    "model_generation",
    "signature_of",
]

WIRE = "gemini"

GENERATED_ID_PREFIX = "gcall_"
"""Tool-call ids the translator made up because Gemini sent none; never sent to Gemini."""

_FINISH_IN = {
    "STOP": FinishReason.STOP,
    "MAX_TOKENS": FinishReason.LENGTH,
    "SAFETY": FinishReason.CONTENT_FILTER,
    "RECITATION": FinishReason.CONTENT_FILTER,
    "BLOCKLIST": FinishReason.CONTENT_FILTER,
    "PROHIBITED_CONTENT": FinishReason.CONTENT_FILTER,
    "SPII": FinishReason.CONTENT_FILTER,
    "IMAGE_SAFETY": FinishReason.CONTENT_FILTER,
    "IMAGE_PROHIBITED_CONTENT": FinishReason.CONTENT_FILTER,
    "IMAGE_RECITATION": FinishReason.CONTENT_FILTER,
    "LANGUAGE": FinishReason.OTHER,
    "OTHER": FinishReason.OTHER,
    "IMAGE_OTHER": FinishReason.OTHER,
    "NO_IMAGE": FinishReason.OTHER,
    "MALFORMED_FUNCTION_CALL": FinishReason.ERROR,
    "UNEXPECTED_TOOL_CALL": FinishReason.ERROR,
    "TOO_MANY_TOOL_CALLS": FinishReason.ERROR,
    "MISSING_THOUGHT_SIGNATURE": FinishReason.ERROR,
    "FINISH_REASON_UNSPECIFIED": FinishReason.OTHER,
}
_FINISH_OUT = {
    FinishReason.STOP: "STOP",
    FinishReason.TOOL_CALLS: "STOP",  # Gemini ends a turn of function calls with STOP
    FinishReason.LENGTH: "MAX_TOKENS",
    FinishReason.CONTENT_FILTER: "SAFETY",
    FinishReason.ERROR: "OTHER",
    FinishReason.OTHER: "OTHER",
}


def finish_from(raw: str | None, *, tool_calls: bool) -> Finish:
    """The IR finish for Gemini's ``finishReason`` (STOP after function calls is a tool turn)."""
    if raw is None:
        return Finish(FinishReason.TOOL_CALLS if tool_calls else FinishReason.STOP, None)
    reason = _FINISH_IN.get(raw, FinishReason.OTHER)
    if reason is FinishReason.STOP and tool_calls:
        reason = FinishReason.TOOL_CALLS
    return Finish(reason, raw)


def encode_finish(finish: Finish) -> str:
    """Gemini's ``finishReason``: the raw value when it came from Gemini, else the mapping."""
    if finish.raw in _FINISH_IN and _FINISH_IN[finish.raw] in (finish.reason, FinishReason.STOP):
        return finish.raw
    return _FINISH_OUT.get(finish.reason, "STOP")


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():  # int64 fields may arrive as strings
        return int(value)
    return None


def decode_usage(raw: Any) -> Usage | None:
    """IR usage from ``usageMetadata``: output counts thoughts too (IR semantics)."""
    if not isinstance(raw, Mapping):
        return None
    prompt = _int(raw.get("promptTokenCount"))
    tool_prompt = _int(raw.get("toolUsePromptTokenCount"))
    candidates = _int(raw.get("candidatesTokenCount"))
    thoughts = _int(raw.get("thoughtsTokenCount"))
    cached = _int(raw.get("cachedContentTokenCount"))
    if prompt is None and candidates is None and thoughts is None:
        return None
    input_tokens = None if prompt is None else prompt + (tool_prompt or 0)
    output = None
    if candidates is not None or thoughts is not None:
        output = (candidates or 0) + (thoughts or 0)
    return Usage(
        input_tokens=input_tokens,
        output_tokens=output,
        cache_read_tokens=cached,
        reasoning_tokens=thoughts,
    )


def encode_usage(usage: Usage) -> dict[str, Any]:
    """``usageMetadata`` for a Gemini client (candidates exclude thoughts, as Gemini counts)."""
    prompt = usage.input_tokens or 0
    output = usage.output_tokens or 0
    thoughts = usage.reasoning_tokens or 0
    out: dict[str, Any] = {
        "promptTokenCount": prompt,
        "candidatesTokenCount": max(0, output - thoughts),
        "totalTokenCount": prompt + output,
    }
    if thoughts:
        out["thoughtsTokenCount"] = thoughts
    if usage.cache_read_tokens:
        out["cachedContentTokenCount"] = usage.cache_read_tokens
    return out


def gemini_meta(metadata: Metadata) -> Mapping[str, Any]:
    """The ``gemini`` entry of a part's provider metadata (empty when none)."""
    if not metadata:
        return {}
    return metadata.get(WIRE) or {}


def signature_of(metadata: Metadata) -> str | None:
    """The Gemini ``thoughtSignature`` a part carries; other providers' signatures never count."""
    value = gemini_meta(metadata).get("thoughtSignature")
    return value if isinstance(value, str) and value else None


_UNSAFE_ID = re.compile(r"[^A-Za-z0-9_-]")


def id_seed(response_id: Any) -> str:
    """The stable part of the ids generated for one response: its ``responseId`` (only the
    characters every tool-call id format accepts), or random hex when it has none."""
    if isinstance(response_id, str) and response_id:
        cleaned = _UNSAFE_ID.sub("", response_id)[:40]
        if cleaned:
            return cleaned
    return os.urandom(8).hex()


def generated_id(seed: str, index: int) -> str:
    """The id of the ``index``-th function call of a response (or request turn)."""
    return f"{GENERATED_ID_PREFIX}{seed}_{index}"


_GENERATION = re.compile(r"gemini-(\d+)(?:\.(\d+))?")


def model_generation(model: str) -> float | None:
    """The Gemini generation a model name belongs to (``gemini-2.5-pro`` -> 2.5), if any."""
    match = _GENERATION.search(model.lower())
    if match is None:
        return None
    major, minor = match.group(1), match.group(2)
    return float(f"{major}.{minor or 0}")
