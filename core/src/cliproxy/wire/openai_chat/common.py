"""Pieces of the openai-chat wire shared by requests, responses and streams: the wire's
name, usage, finish reasons, reasoning efforts and ``stop``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cliproxy.errors import GatewayError
from cliproxy.ir import (
    Finish,
    FinishReason,
    Usage,
)

WIRE = "openai-chat"


FINISH_IN = {
    "stop": FinishReason.STOP,
    "length": FinishReason.LENGTH,
    "tool_calls": FinishReason.TOOL_CALLS,
    "function_call": FinishReason.TOOL_CALLS,
    "content_filter": FinishReason.CONTENT_FILTER,
    "error": FinishReason.ERROR,
}


FINISH_OUT = {
    FinishReason.STOP: "stop",
    FinishReason.LENGTH: "length",
    FinishReason.TOOL_CALLS: "tool_calls",
    FinishReason.CONTENT_FILTER: "content_filter",
    FinishReason.ERROR: "stop",
    FinishReason.OTHER: "stop",
}


EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")


def decode_usage(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    prompt = raw.get("prompt_tokens_details") or {}
    completion = raw.get("completion_tokens_details") or {}
    cost = raw.get("cost")
    return Usage(
        input_tokens=raw.get("prompt_tokens"),
        output_tokens=raw.get("completion_tokens"),
        cache_read_tokens=prompt.get("cached_tokens") if isinstance(prompt, dict) else None,
        cache_write_tokens=prompt.get("cache_write_tokens") if isinstance(prompt, dict) else None,
        reasoning_tokens=completion.get("reasoning_tokens") if isinstance(completion, dict) else None,
        cost=float(cost) if isinstance(cost, int | float) and not isinstance(cost, bool) else None,
    )


def encode_usage(usage: Usage) -> dict[str, Any]:
    out: dict[str, Any] = {
        "prompt_tokens": usage.input_tokens or 0,
        "completion_tokens": usage.output_tokens or 0,
        "total_tokens": usage.total_tokens or 0,
    }
    if usage.cache_read_tokens is not None or usage.cache_write_tokens is not None:
        details: dict[str, Any] = {"cached_tokens": usage.cache_read_tokens or 0}
        if usage.cache_write_tokens:
            details["cache_write_tokens"] = usage.cache_write_tokens
        out["prompt_tokens_details"] = details
    if usage.reasoning_tokens is not None:
        out["completion_tokens_details"] = {"reasoning_tokens": usage.reasoning_tokens}
    if usage.cost is not None:
        out["cost"] = usage.cost
    return out


def extract_usage(obj: Mapping[str, Any]) -> Usage | None:
    """Usage from a whole response or a stream chunk, if it carries any."""
    return decode_usage(obj.get("usage"))


def decode_finish(raw: Any) -> Finish:
    if not isinstance(raw, str):
        return Finish(FinishReason.STOP, None)
    return Finish(FINISH_IN.get(raw, FinishReason.OTHER), raw)


def decode_stop(raw: Any) -> tuple[str, ...]:
    """OpenAI's ``stop``: a string or an array of strings."""
    if raw is None:
        return ()
    if isinstance(raw, str):
        return (raw,)
    if isinstance(raw, list) and all(isinstance(s, str) for s in raw):
        return tuple(raw)
    raise GatewayError.invalid("'stop' must be a string or an array of strings", param="stop")
