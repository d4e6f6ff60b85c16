"""Anthropic content blocks <-> IR parts, shared by requests and responses.

Values only Anthropic understands ride in ``provider_metadata["anthropic"]``: a block's
keys beyond the ones the IR models (``cache_control``, ``citations``, a document's
``title``...), a thinking block's ``signature`` and a redacted block's ``redacted_data``.
Encoding for Anthropic puts them back; other wires never see them.

Gemini's signatures reach Anthropic clients sealed (:mod:`cliproxy.wire.sealed`): a
reasoning part's in its thinking block's ``signature``, a tool call's in a carrier just
before its ``tool_use`` -- a thinking block with no text whose sealed signature names the
call -- and a text part's in a carrier just after its text block. Decoding the client's
next request puts them back; encoding for Anthropic drops them, as it drops every thinking
block Anthropic did not sign.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from cliproxy.errors import GatewayError
from cliproxy.ir import (
    FilePart,
    Metadata,
    Part,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)
from cliproxy.wire import common as c
from cliproxy.wire import sealed
from cliproxy.wire.anthropic.common import WIRE, own

TEXT_KEYS = frozenset({"type", "text"})
_SOURCE_KEYS = frozenset({"type", "source"})
_TOOL_USE_KEYS = frozenset({"type", "id", "name", "input"})
_TOOL_RESULT_KEYS = frozenset({"type", "tool_use_id", "content", "is_error"})


def extra(block: Mapping[str, Any], known: frozenset[str]) -> Metadata:
    """A block's keys beyond ``known``, as provider metadata (None when there are none).

    Keys whose value is null are dropped: Anthropic's own responses carry ``citations:
    null`` and the like, which mean nothing.
    """
    rest = {k: v for k, v in block.items() if k not in known and v is not None}
    return {WIRE: rest} if rest else None


def picked(block: Mapping[str, Any], keys: tuple[str, ...]) -> Metadata:
    """Only ``keys`` of a block, as provider metadata: what is worth keeping from an
    upstream's answer (some Anthropic-compatible servers pad blocks with empty fields)."""
    rest = {k: block[k] for k in keys if block.get(k)}
    return {WIRE: rest} if rest else None


RESPONSE_TEXT_KEYS = ("citations",)
RESPONSE_TOOL_KEYS = ("caller",)


def signature_of(meta: Metadata) -> str | None:
    value = own(meta).get("signature")
    return value if isinstance(value, str) and value else None


def redacted_of(meta: Metadata) -> str | None:
    value = own(meta).get("redacted_data")
    return value if isinstance(value, str) and value else None


# -- decoding --------------------------------------------------------------------------


def _thinking_metadata(signature: Any) -> Metadata:
    """A thinking block's metadata: Anthropic's signature, or the values sealed in it."""
    if not isinstance(signature, str) or not signature:
        return None
    if sealed.is_sealed(signature):
        return sealed.part_metadata(signature)
    return {WIRE: {"signature": signature}}


def carrier_of(block: Any) -> sealed.Sealed | None:
    """The sealed record of a thinking block that carries a tool call's or a text part's
    values (None for any other block)."""
    if not isinstance(block, Mapping) or block.get("type") != "thinking":
        return None
    record = sealed.unseal(block.get("signature"))
    return record if record is not None and record.carrier else None


def _source_file(block: Mapping[str, Any], at: str, *, document: bool) -> Part:
    source = c.expect_map(block.get("source"), at + ".source")
    kind = source.get("type")
    meta = extra(block, _SOURCE_KEYS)
    if document:
        meta = {WIRE: {"document": dict(own(meta))}}
    if kind == "base64":
        data = c.get_str(source, "data", at + ".source.", required=True) or ""
        media = c.get_str(source, "media_type", at + ".source.") or ("application/pdf" if document else None)
        if not media:
            raise GatewayError.invalid(f"'{at}.source.media_type' is required", param=f"{at}.source.media_type")
        return FilePart(media_type=media, data=data, provider_metadata=meta)
    if kind == "url":
        url = c.get_str(source, "url", at + ".source.", required=True) or ""
        part = c.file_from_url(url, default_type="application/pdf" if document else "image/*")
        return FilePart(media_type=part.media_type, url=url, provider_metadata=meta)
    if document and kind == "text":
        text = c.get_str(source, "data", at + ".source.", required=True) or ""
        return TextPart(text, meta)
    if document and kind == "content":
        content = source.get("content")
        blocks = [content] if isinstance(content, str) else c.get_list(source, "content", at + ".source.")
        texts = [b if isinstance(b, str) else str(b.get("text") or "") for b in blocks if isinstance(b, str | dict)]
        return TextPart("\n".join(texts), meta)
    if kind == "file":
        raise GatewayError.invalid(
            f"'{at}.source' refers to an uploaded file (file_id), which only Anthropic itself can read; "
            "send the file inline (base64) or by url",
            param=f"{at}.source",
        )
    raise GatewayError.invalid(f"'{at}.source.type' {kind!r} is not supported", param=f"{at}.source.type")


def content_part(block: Any, at: str) -> TextPart | FilePart | None:
    """A user-side block (text, image, document) as a part; None for block types the IR
    has no place for (they only matter to Anthropic, which receives the client's own
    body)."""
    block = c.expect_map(block, at)
    kind = block.get("type")
    if kind == "text":
        return TextPart(c.get_str(block, "text", at + ".", required=True) or "", extra(block, TEXT_KEYS))
    if kind == "image":
        part = _source_file(block, at, document=False)
        return part if isinstance(part, FilePart) else None
    if kind == "document":
        return _source_file(block, at, document=True)  # type: ignore[return-value]
    if kind == "search_result":
        texts = [b.get("text", "") for b in block.get("content") or () if isinstance(b, dict)]
        title = block.get("title")
        head = f"{title}\n" if isinstance(title, str) and title else ""
        return TextPart(head + "\n".join(t for t in texts if isinstance(t, str)))
    if not isinstance(kind, str):
        raise GatewayError.invalid(f"'{at}.type' must be a string", param=f"{at}.type")
    return None


def tool_result(block: Mapping[str, Any], at: str, names: Mapping[str, str]) -> ToolResultPart:
    call_id = c.get_str(block, "tool_use_id", at + ".", required=True) or ""
    raw = block.get("content")
    parts: list[TextPart | FilePart] = []
    if isinstance(raw, str):
        if raw:
            parts.append(TextPart(raw))
    elif isinstance(raw, list):
        for i, item in enumerate(raw):
            part = content_part(item, f"{at}.content[{i}]")
            if part is not None:
                parts.append(part)
    elif raw is not None:
        raise GatewayError.invalid(
            f"'{at}.content' must be a string or an array of content blocks, not {c.kind_of(raw)}",
            param=f"{at}.content",
        )
    return ToolResultPart(
        call_id,
        parts,
        is_error=bool(c.get_bool(block, "is_error", at + ".")),
        name=names.get(call_id),
        provider_metadata=extra(block, _TOOL_RESULT_KEYS),
    )


def tool_call(block: Mapping[str, Any], at: str) -> ToolCallPart:
    raw = block.get("input")
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise GatewayError.invalid(f"'{at}.input' must be an object, not {c.kind_of(raw)}", param=f"{at}.input")
    return ToolCallPart(
        c.get_str(block, "id", at + ".", required=True) or "",
        c.get_str(block, "name", at + ".", required=True) or "",
        orjson.dumps(raw).decode(),
        extra(block, _TOOL_USE_KEYS),
    )


def assistant_part(block: Any, at: str, *, strict: bool = True) -> Part | None:
    """An assistant-side block as a part; None for server-tool blocks and the like.

    ``strict`` validates field types (client requests); responses from the upstream are
    read leniently.
    """
    block = c.expect_map(block, at)
    kind = block.get("type")
    if kind == "text":
        text = block.get("text")
        if not isinstance(text, str):
            if strict:
                raise GatewayError.invalid(f"'{at}.text' must be a string", param=f"{at}.text")
            text = ""
        return TextPart(text, extra(block, TEXT_KEYS) if strict else picked(block, RESPONSE_TEXT_KEYS))
    if kind == "thinking":
        text = block.get("thinking")
        if not isinstance(text, str):
            if strict:
                raise GatewayError.invalid(f"'{at}.thinking' must be a string", param=f"{at}.thinking")
            text = ""
        return ReasoningPart(text, _thinking_metadata(block.get("signature")))
    if kind == "redacted_thinking":
        data = block.get("data")
        if not isinstance(data, str) or not data:
            if strict:
                raise GatewayError.invalid(f"'{at}.data' must be a non-empty string", param=f"{at}.data")
            return None
        return ReasoningPart("", {WIRE: {"redacted_data": data}})
    if kind == "tool_use":
        if strict:
            return tool_call(block, at)
        raw = block.get("input")
        return ToolCallPart(
            str(block.get("id") or ""),
            str(block.get("name") or ""),
            orjson.dumps(raw if isinstance(raw, dict) else {}).decode(),
            picked(block, RESPONSE_TOOL_KEYS),
        )
    if strict and not isinstance(kind, str):
        raise GatewayError.invalid(f"'{at}.type' must be a string", param=f"{at}.type")
    return None


# -- encoding --------------------------------------------------------------------------


def _with_meta(block: dict[str, Any], meta: Metadata, *, skip: Iterable[str] = ()) -> dict[str, Any]:
    values = own(meta)
    if values:
        skipped = set(skip)
        for key, value in values.items():
            if key not in skipped and key not in block:
                block[key] = value
    return block


def _decoded_text(data: str) -> str:
    try:
        return base64.b64decode(data, validate=False).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return data


def encode_file(part: FilePart, at: str = "file") -> dict[str, Any]:
    """An image or document block for a file part."""
    doc = own(part.provider_metadata).get("document")
    if part.is_image and doc is None:
        if part.data:
            source: dict[str, Any] = {"type": "base64", "media_type": part.media_type, "data": part.data}
        else:
            source = {"type": "url", "url": part.url or ""}
        return _with_meta({"type": "image", "source": source}, part.provider_metadata, skip=("document",))
    block: dict[str, Any] = {"type": "document"}
    if part.media_type.startswith("text/") and part.data:
        block["source"] = {"type": "text", "media_type": "text/plain", "data": _decoded_text(part.data)}
    elif part.media_type == "application/pdf" or part.url:
        if part.data:
            block["source"] = {"type": "base64", "media_type": part.media_type, "data": part.data}
        else:
            block["source"] = {"type": "url", "url": part.url or ""}
    else:
        raise GatewayError.invalid(
            f"Anthropic cannot read {part.media_type} input ({at}); it accepts images, PDFs and plain text",
            param=at,
        )
    if part.filename and "title" not in (doc or {}):
        block["title"] = part.filename
    if isinstance(doc, Mapping):
        for key, value in doc.items():
            block.setdefault(key, value)
    return block


def encode_text(part: TextPart) -> dict[str, Any]:
    doc = own(part.provider_metadata).get("document")
    if doc is not None and isinstance(doc, Mapping):  # (None first: an ABC check costs a Python call)
        block = {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": part.text}}
        for key, value in doc.items():
            block.setdefault(key, value)
        return block
    return _with_meta({"type": "text", "text": part.text}, part.provider_metadata, skip=("document",))


def tool_input(arguments: str) -> dict[str, Any]:
    """Tool arguments (JSON text) as the object Anthropic wants; ``{}`` when they are not
    a JSON object (a call cut off by ``max_tokens``)."""
    if not arguments:
        return {}
    try:
        value = c.loads(arguments)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def encode_tool_call(part: ToolCallPart) -> dict[str, Any]:
    block = {"type": "tool_use", "id": part.id, "name": part.name, "input": tool_input(part.arguments)}
    return _with_meta(block, part.provider_metadata)


def encode_tool_result(part: ToolResultPart, at: str) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": part.call_id}
    content = [
        encode_text(p) if isinstance(p, TextPart) else encode_file(p, f"{at}.content[{i}]")
        for i, p in enumerate(part.content)
        if not (isinstance(p, TextPart) and not p.text)
    ]
    if content:
        block["content"] = content
    if part.is_error:
        block["is_error"] = True
    return _with_meta(block, part.provider_metadata)


def client_signature(meta: Metadata) -> str:
    """The ``signature`` a client gets for a thinking block: Anthropic's own, else the
    values of :data:`~cliproxy.wire.sealed.REASONING_WIRES` sealed (Gemini's signature,
    the Responses API's encrypted reasoning), else empty."""
    signature = signature_of(meta)
    if signature is not None:
        return signature
    values = sealed.carried(meta, (WIRE,), sealed.REASONING_WIRES)
    return sealed.seal(values) if values else ""


def call_carrier(meta: Metadata, call_id: str) -> dict[str, Any] | None:
    """The thinking block carrying a tool call's Gemini values to a client (None when the
    call has none)."""
    values = sealed.carried(meta, (WIRE,))
    if values is None:
        return None
    return {"type": "thinking", "thinking": "", "signature": sealed.seal(values, call_id)}


def text_carrier(meta: Metadata) -> dict[str, Any] | None:
    """The thinking block carrying a text part's Gemini values to a client, placed right
    after its text block (None when the part has none)."""
    values = sealed.carried(meta, (WIRE,))
    if values is None:
        return None
    return {"type": "thinking", "thinking": "", "signature": sealed.seal(values, text=True)}


def encode_reasoning(part: ReasoningPart, *, foreign: str | None = None) -> dict[str, Any] | None:
    """A thinking block for a reasoning part.

    Upstream (``foreign`` None): only parts Anthropic signed, since a missing or foreign
    signature makes Anthropic reject the whole request. For clients (``foreign=""``):
    every part; one Anthropic did not sign gets :func:`client_signature`.
    """
    redacted = redacted_of(part.provider_metadata)
    if redacted:
        return {"type": "redacted_thinking", "data": redacted}
    signature = signature_of(part.provider_metadata)
    if signature is None:
        if foreign is None:
            return None
        signature = client_signature(part.provider_metadata) or foreign
    return {"type": "thinking", "thinking": part.text, "signature": signature}
