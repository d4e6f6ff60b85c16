"""Whole Anthropic messages <-> IR responses, with usage and stop reasons.

Anthropic counts cache reads and writes *beside* ``input_tokens``; the IR (OpenAI's
convention) counts them inside. Decoding adds them up, encoding takes them out again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.ir import (
    FilePart,
    Finish,
    FinishReason,
    Part,
    ReasoningPart,
    Response,
    TextPart,
    ToolCallPart,
    Usage,
)
from cliproxy.translate import EncodeContext
from cliproxy.wire import common as c
from cliproxy.wire.anthropic import blocks as b
from cliproxy.wire.anthropic.blocks import WIRE

__all__ = [
    "decode_response",
    "encode_response",
    "encode_usage",
    "extract_usage",
    "finish_from",
    "stop_reason",
    "usage_from",
]

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


# -- decode (upstream -> IR) ---------------------------------------------------------------


def decode_response(body: bytes) -> Response:
    try:
        obj = c.loads(body)
    except ValueError:
        raise GatewayError(
            status=502, kind=ErrorKind.UPSTREAM, message="the upstream answered with a body that is not JSON"
        ) from None
    if not isinstance(obj, dict):
        raise GatewayError(
            status=502, kind=ErrorKind.UPSTREAM, message="the upstream answered with JSON that is not an object"
        )
    if obj.get("type") == "error":
        from cliproxy.wire.anthropic.errors import error_from_body

        raise error_from_body(None, obj)
    parts: list[Part] = []
    content = obj.get("content")
    for i, block in enumerate(content if isinstance(content, list) else ()):
        if isinstance(block, dict):
            part = b.assistant_part(block, f"content[{i}]", strict=False)
            if part is not None:
                parts.append(part)
    stop_sequence = obj.get("stop_sequence")
    meta = {WIRE: {"stop_sequence": stop_sequence}} if isinstance(stop_sequence, str) and stop_sequence else None
    return Response(
        id=str(obj.get("id") or c.new_id("msg_")),
        model=str(obj.get("model") or ""),
        parts=parts,
        finish=finish_from(obj.get("stop_reason")),
        usage=usage_from(obj.get("usage")) or Usage(),
        provider_metadata=meta,
    )


# -- encode (IR -> client) -----------------------------------------------------------------


def content_blocks(parts: tuple[Part, ...] | list[Part]) -> list[dict[str, Any]]:
    """A response's parts as the content blocks a client reads."""
    out: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, TextPart):
            block: dict[str, Any] = {"type": "text", "text": part.text}
            citations = b.own(part.provider_metadata).get("citations")
            if citations:
                block["citations"] = citations
            out.append(block)
            carrier = b.text_carrier(part.provider_metadata)
            if carrier is not None:
                out.append(carrier)
        elif isinstance(part, ReasoningPart):
            thinking = b.encode_reasoning(part, foreign="")
            if thinking is not None and (part.text or thinking.get("signature") or thinking.get("data")):
                out.append(thinking)
        elif isinstance(part, ToolCallPart):
            call_id = part.id or c.new_id("toolu_")
            carrier = b.call_carrier(part.provider_metadata, call_id)
            if carrier is not None:
                out.append(carrier)
            block = {
                "type": "tool_use",
                "id": call_id,
                "name": part.name,
                "input": b.tool_input(part.arguments),
            }
            caller = b.own(part.provider_metadata).get("caller")
            if caller:
                block["caller"] = caller
            out.append(block)
        elif isinstance(part, FilePart):
            continue  # Anthropic's messages carry no generated files
    return out


def stop_sequence_of(meta: Any) -> str | None:
    value = b.own(meta).get("stop_sequence")
    return value if isinstance(value, str) else None


def encode_response(response: Response, ctx: EncodeContext) -> bytes:
    return orjson.dumps(
        {
            "id": response.id or c.new_id("msg_"),
            "type": "message",
            "role": "assistant",
            "model": ctx.model,
            "content": content_blocks(response.parts),
            "stop_reason": stop_reason(response.finish),
            "stop_sequence": stop_sequence_of(response.provider_metadata),
            "usage": encode_usage(response.usage),
        }
    )
