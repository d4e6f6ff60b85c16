"""What the ``anthropic`` modules share: the wire's name, its own metadata, usage and
stop reasons.

Anthropic counts cache reads and writes *beside* ``input_tokens``; the IR (OpenAI's
convention) counts them inside. Decoding adds them up, encoding takes them out again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cliproxy.ir import Finish, FinishReason, Metadata, Usage

WIRE = "anthropic"


def own(meta: Metadata) -> Mapping[str, Any]:
    """The Anthropic values a part carries (empty when none)."""
    if not meta:
        return {}
    return meta.get(WIRE) or {}


_FINISH_IN = {
    "end_turn": FinishReason.STOP,
    "stop_sequence": FinishReason.STOP,
    "max_tokens": FinishReason.LENGTH,
    "model_context_window_exceeded": FinishReason.LENGTH,
    "tool_use": FinishReason.TOOL_CALLS,
    "refusal": FinishReason.CONTENT_FILTER,
    "pause_turn": FinishReason.OTHER,
}


_FINISH_OUT = {
    FinishReason.STOP: "end_turn",
    FinishReason.LENGTH: "max_tokens",
    FinishReason.TOOL_CALLS: "tool_use",
    FinishReason.CONTENT_FILTER: "refusal",
    FinishReason.ERROR: "end_turn",
    FinishReason.OTHER: "end_turn",
}


def _count(raw: Mapping[str, Any], key: str) -> int | None:
    value = raw.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def usage_from(raw: Any) -> Usage | None:
    """IR usage from an Anthropic ``usage`` object (None when it has no counts)."""
    if not isinstance(raw, dict):
        return None
    plain = _count(raw, "input_tokens")
    read = _count(raw, "cache_read_input_tokens")
    write = _count(raw, "cache_creation_input_tokens")
    known = [n for n in (plain, read, write) if n is not None]
    output = _count(raw, "output_tokens")
    if not known and output is None:
        return None
    return Usage(
        input_tokens=sum(known) if plain is not None else None,
        output_tokens=output,
        cache_read_tokens=read,
        cache_write_tokens=write,
    )


def encode_usage(usage: Usage) -> dict[str, Any]:
    read = usage.cache_read_tokens or 0
    write = usage.cache_write_tokens or 0
    return {
        "input_tokens": max(0, (usage.input_tokens or 0) - read - write),
        "cache_creation_input_tokens": write,
        "cache_read_input_tokens": read,
        "output_tokens": usage.output_tokens or 0,
    }


def finish_from(reason: Any) -> Finish:
    if not isinstance(reason, str):
        return Finish(FinishReason.STOP, None)
    return Finish(_FINISH_IN.get(reason, FinishReason.OTHER), reason)


def stop_reason(finish: Finish) -> str:
    """The client's ``stop_reason``: the upstream's own when it was Anthropic's."""
    if finish.raw in _FINISH_IN and _FINISH_IN[finish.raw] == finish.reason:
        return finish.raw
    return _FINISH_OUT.get(finish.reason, "end_turn")


def extract_usage(obj: Mapping[str, Any]) -> Usage | None:
    """Usage from a whole message, a ``message_start`` or a ``message_delta`` event."""
    if obj.get("type") == "message_start":
        message = obj.get("message")
        return usage_from(message.get("usage")) if isinstance(message, dict) else None
    return usage_from(obj.get("usage"))


def stop_sequence_of(meta: Any) -> str | None:
    value = own(meta).get("stop_sequence")
    return value if isinstance(value, str) else None
