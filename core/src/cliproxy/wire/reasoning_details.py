"""Carrying reasoning signatures through OpenAI-style ``reasoning_details``.

OpenAI Chat has no field for a reasoning signature. OpenRouter's ``reasoning_details``
array is the de-facto carrier (``{"type": "reasoning.text", "text", "signature",
"format": "anthropic-claude-v1"}``, ``{"type": "reasoning.encrypted", "data", "format"}``),
and clients that know it send it back unchanged. The OpenAI Chat door uses it so a
conversation with Claude or Gemini thinking keeps its signatures across turns.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from cliproxy.ir import ReasoningPart, Request

__all__ = ["SIGNATURE_WIRES", "add_reasoning_details", "details_for", "metadata_from_details"]

FORMAT_BY_WIRE = {
    "anthropic": "anthropic-claude-v1",
    "gemini": "google-gemini-v1",
    "openai": "openai-responses-v1",
}
WIRE_BY_FORMAT = {fmt: wire for wire, fmt in FORMAT_BY_WIRE.items()}
SIGNATURE_KEY = {"anthropic": "signature", "gemini": "thoughtSignature", "openai": "encrypted_content"}
SIGNATURE_WIRES = ("anthropic", "gemini")
"""The wires whose reasoning signatures OpenRouter-style upstreams (OpenRouter, Kilo, Roo
Code Cloud) take back in ``reasoning_details``."""


def details_for(
    part: ReasoningPart, index: int = 0, wires: Collection[str] = tuple(FORMAT_BY_WIRE)
) -> list[dict[str, Any]]:
    """The ``reasoning_details`` entries that carry ``part``'s opaque values of ``wires``
    (default: every wire that has a format; may be [])."""
    meta = part.provider_metadata or {}
    raw = (meta.get("openai-chat") or {}).get("reasoning_details")
    if raw:
        return list(raw)
    out: list[dict[str, Any]] = []
    for wire, fmt in FORMAT_BY_WIRE.items():
        values = meta.get(wire) if wire in wires else None
        if not values:
            continue
        if values.get("redacted_data"):
            out.append({"type": "reasoning.encrypted", "data": values["redacted_data"], "format": fmt, "index": index})
        elif wire == "openai" and values.get("encrypted_content"):
            entry = {"type": "reasoning.encrypted", "data": values["encrypted_content"], "format": fmt, "index": index}
            if values.get("id"):
                entry["id"] = values["id"]
            out.append(entry)
        elif values.get(SIGNATURE_KEY[wire]):
            out.append(
                {
                    "type": "reasoning.text",
                    "text": part.text,
                    "signature": values[SIGNATURE_KEY[wire]],
                    "format": fmt,
                    "index": index,
                }
            )
    return out


def add_reasoning_details(body: dict[str, Any], request: Request, wires: Collection[str] = SIGNATURE_WIRES) -> None:
    """Give the assistant messages of ``body`` (OpenAI chat, encoded from ``request``: one
    entry per IR assistant message, in order) the ``reasoning_details`` that carry their
    reasoning signatures of ``wires``, so an upstream that reads them (OpenRouter and the
    gateways built like it) can continue a signed reasoning turn -- Claude thinking in a
    tool loop. Messages that already carry ``reasoning_details`` keep theirs."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        return
    encoded = iter(m for m in messages if isinstance(m, dict) and m.get("role") == "assistant")
    for message in request.messages:
        if message.role != "assistant":
            continue
        target = next(encoded, None)
        if target is None:
            return
        if target.get("reasoning_details"):
            continue
        parts = [p for p in message.parts if isinstance(p, ReasoningPart)]
        details = [d for i, part in enumerate(parts) for d in details_for(part, i, wires)]
        if details:
            target["reasoning_details"] = details


def metadata_from_details(details: Sequence[Any]) -> tuple[str, dict[str, dict[str, Any]]]:
    """Text and provider metadata from received ``reasoning_details`` entries.

    Known formats become metadata under their wire's key; the raw entries are kept under
    ``openai-chat`` so an OpenAI-style upstream gets them back verbatim.
    """
    text_parts: list[str] = []
    meta: dict[str, dict[str, Any]] = {}
    for item in details:
        if not isinstance(item, Mapping):
            continue
        kind = item.get("type")
        wire = WIRE_BY_FORMAT.get(str(item.get("format")))
        if kind == "reasoning.text":
            if isinstance(item.get("text"), str):
                text_parts.append(item["text"])
            if wire and item.get("signature"):
                meta.setdefault(wire, {})[SIGNATURE_KEY[wire]] = item["signature"]
        elif kind == "reasoning.summary" and isinstance(item.get("summary"), str):
            text_parts.append(item["summary"])
        elif kind == "reasoning.encrypted" and wire and item.get("data"):
            if wire == "openai":
                meta.setdefault(wire, {})["encrypted_content"] = item["data"]
                if item.get("id"):
                    meta[wire]["id"] = item["id"]
            else:
                meta.setdefault(wire, {})["redacted_data"] = item["data"]
    meta["openai-chat"] = {"reasoning_details": list(details)}
    return "".join(text_parts), meta
