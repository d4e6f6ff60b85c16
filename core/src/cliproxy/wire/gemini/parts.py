"""IR parts -> Gemini parts (for requests to Gemini and responses to Gemini clients).

A part's Gemini-only fields come back from ``provider_metadata["gemini"]``: the
``thoughtSignature`` on the very part it arrived with, a Gemini-given function-call ``id``,
sibling fields the IR does not model (``videoMetadata``, ``mediaResolution``: kept as
``partFields``) and whole parts it cannot express (code execution: kept as ``part``). No
other provider's metadata is ever written into a Gemini part.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from cliproxy.ir import FilePart, Metadata, ReasoningPart, TextPart, ToolCallPart
from cliproxy.wire.gemini.common import gemini_meta, signature_of

__all__ = ["call_args", "encode_call", "encode_file", "encode_text", "with_fields"]


def with_fields(part: dict[str, Any], metadata: Metadata) -> dict[str, Any]:
    """``part`` plus its signature and unmodelled sibling fields from the metadata."""
    meta = gemini_meta(metadata)
    extra = meta.get("partFields")
    if isinstance(extra, Mapping):
        for key, value in extra.items():
            part.setdefault(key, value)
    signature = signature_of(metadata)
    if signature is not None:
        part["thoughtSignature"] = signature
    return part


def encode_text(part: TextPart | ReasoningPart) -> dict[str, Any] | None:
    """A text or thought part; None for an empty part that carries nothing."""
    raw = gemini_meta(part.provider_metadata).get("part")
    if isinstance(raw, Mapping):
        return dict(raw)  # a code-execution part, as Gemini sent it
    if not part.text and signature_of(part.provider_metadata) is None:
        return None  # Gemini rejects empty text parts
    out: dict[str, Any] = {"text": part.text}
    if isinstance(part, ReasoningPart):
        out["thought"] = True
    return with_fields(out, part.provider_metadata)


def encode_file(part: FilePart) -> dict[str, Any]:
    if part.data is not None or not part.url:
        body: dict[str, Any] = {"inlineData": {"mimeType": part.media_type, "data": part.data or ""}}
    else:
        linked: dict[str, Any] = {"fileUri": part.url}
        if part.media_type and not part.media_type.endswith("/*"):
            linked["mimeType"] = part.media_type
        body = {"fileData": linked}
    return with_fields(body, part.provider_metadata)


def call_args(arguments: str) -> dict[str, Any]:
    """The arguments object of a tool call (Gemini takes an object, never text)."""
    if not arguments or not arguments.strip():
        return {}
    try:
        value = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return {"arguments": arguments}  # keep what the model wrote rather than lose it
    if isinstance(value, dict):
        return value
    return {"value": value}


def encode_call(part: ToolCallPart, *, with_id: bool) -> dict[str, Any]:
    """A ``functionCall`` part; the id goes only where Gemini gave one (``with_id``) or the
    caller asks for the client's ids to be shown."""
    call: dict[str, Any] = {"name": part.name, "args": call_args(part.arguments)}
    given = gemini_meta(part.provider_metadata).get("id")
    if isinstance(given, str) and given:
        call["id"] = given
    elif with_id:
        call["id"] = part.id
    return with_fields({"functionCall": call}, part.provider_metadata)
