"""Whole Anthropic messages <-> IR responses (usage and stop reasons: :mod:`.common`)."""

from __future__ import annotations

from typing import Any

import orjson
from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.ir import (
    FilePart,
    Part,
    ReasoningPart,
    Response,
    TextPart,
    ToolCallPart,
    Usage,
)
from cliproxy.translate import EncodeContext
from cliproxy.wire import common as c
from cliproxy.wire.anthropic import parts as b
from cliproxy.wire.anthropic.common import (
    WIRE,
    encode_usage,
    finish_from,
    own,
    stop_reason,
    stop_sequence_of,
    usage_from,
)
from cliproxy.wire.anthropic.errors import error_from_body

__all__ = ["decode_response", "encode_response"]


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
            citations = own(part.provider_metadata).get("citations")
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
            caller = own(part.provider_metadata).get("caller")
            if caller:
                block["caller"] = caller
            out.append(block)
        elif isinstance(part, FilePart):
            continue  # Anthropic's messages carry no generated files
    return out


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
