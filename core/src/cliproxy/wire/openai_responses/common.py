"""What the Responses request, response and stream code share: usage, finish, reasoning
items and custom-tool arguments.

Reasoning items keep their opaque values in ``provider_metadata["openai"]`` (``id``,
``encrypted_content``), the key ``reasoning_details`` also uses, so they round-trip to
Responses upstreams and to OpenAI Chat clients. Reasoning from other providers (Claude
thinking signatures, Gemini thought signatures) reaches a Responses client sealed in
``encrypted_content`` (:mod:`cliproxy.wire.sealed`); the client sends it back next turn
and it is unsealed into the original metadata, so a stateless Codex conversation with
Claude keeps its thinking signatures. A ``function_call`` item has no such field: a tool
call with a Gemini signature is preceded by a carrier, a reasoning item with no summary
whose sealed ``encrypted_content`` names the call (:func:`call_carrier`), and decoding
puts the signature back on that call. Nor does an ``output_text`` part: a text part with a
Gemini signature ends its message item, and a carrier follows the item
(:func:`text_carrier`); decoding puts the signature back on the message's last text part.

Custom (free-form) tools have no JSON arguments; in the IR their input travels as the
JSON object ``{"input": "<text>"}``, the shape of the function tool other upstreams are
given in their place.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from cliproxy.ir import Finish, FinishReason, Metadata, ReasoningPart, Usage
from cliproxy.wire import common as c
from cliproxy.wire import sealed

__all__ = [
    "CUSTOM_INPUT_SCHEMA",
    "SEALED",
    "WIRE",
    "call_carrier",
    "custom_arguments",
    "custom_input",
    "decode_usage",
    "encode_usage",
    "extract_usage",
    "finish_from_status",
    "reasoning_item",
    "reasoning_metadata",
    "status_for",
    "text_carrier",
]

WIRE = "openai-responses"
SEALED = sealed.PREFIX
"""Prefix of an ``encrypted_content`` the gateway sealed (other providers' signatures)."""
DOOR_WIRES = ("openai", WIRE)
"""The metadata a Responses client holds itself."""

CUSTOM_INPUT_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "properties": {"input": {"type": "string", "description": "The tool's free-form input."}},
    "required": ["input"],
}


# -- usage ---------------------------------------------------------------------------------


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def decode_usage(raw: Any) -> Usage | None:
    """A Responses ``usage`` object as IR usage (None when absent)."""
    if not isinstance(raw, Mapping):
        return None
    inp = raw.get("input_tokens_details")
    out = raw.get("output_tokens_details")
    inp = inp if isinstance(inp, Mapping) else {}
    out = out if isinstance(out, Mapping) else {}
    return Usage(
        input_tokens=_int(raw.get("input_tokens")),
        output_tokens=_int(raw.get("output_tokens")),
        cache_read_tokens=_int(inp.get("cached_tokens")),
        cache_write_tokens=_int(inp.get("cache_write_tokens")) or None,
        reasoning_tokens=_int(out.get("reasoning_tokens")),
    )


def encode_usage(usage: Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.input_tokens or 0,
        "input_tokens_details": {
            "cached_tokens": usage.cache_read_tokens or 0,
            "cache_write_tokens": usage.cache_write_tokens or 0,
        },
        "output_tokens": usage.output_tokens or 0,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens or 0},
        "total_tokens": usage.total_tokens or 0,
    }


def extract_usage(obj: Mapping[str, Any]) -> Usage | None:
    """Usage from a response object or a stream event carrying one."""
    response = obj.get("response")
    if isinstance(response, Mapping):
        return decode_usage(response.get("usage"))
    return decode_usage(obj.get("usage"))


# -- finish and status ---------------------------------------------------------------------

_INCOMPLETE = {"max_output_tokens": FinishReason.LENGTH, "content_filter": FinishReason.CONTENT_FILTER}


def finish_from_status(status: Any, incomplete: Any, has_tool_calls: bool) -> Finish:
    """The IR finish for a response's ``status`` and ``incomplete_details``."""
    if status == "incomplete":
        reason = incomplete.get("reason") if isinstance(incomplete, Mapping) else None
        if not isinstance(reason, str):
            return Finish(FinishReason.OTHER, "incomplete")
        return Finish(_INCOMPLETE.get(reason, FinishReason.OTHER), reason)
    if has_tool_calls:
        return Finish(FinishReason.TOOL_CALLS, status if isinstance(status, str) else None)
    if status in (None, "completed"):
        return Finish(FinishReason.STOP, status)
    return Finish(FinishReason.OTHER, str(status))


def status_for(finish: Finish) -> tuple[str, dict[str, Any] | None]:
    """``(status, incomplete_details)`` for an IR finish."""
    if finish.reason is FinishReason.LENGTH:
        return "incomplete", {"reason": "max_output_tokens"}
    if finish.reason is FinishReason.CONTENT_FILTER:
        return "incomplete", {"reason": "content_filter"}
    if finish.reason is FinishReason.ERROR:
        return "failed", None
    return "completed", None


# -- reasoning items -----------------------------------------------------------------------


def reasoning_metadata(item_id: Any, encrypted: Any) -> Metadata:
    """The metadata of a reasoning item a client or an upstream sent."""
    if sealed.is_sealed(encrypted):
        return sealed.part_metadata(encrypted)  # a carrier: the request decoder reads it
    values: dict[str, Any] = {}
    if isinstance(item_id, str) and item_id:
        values["id"] = item_id
    if isinstance(encrypted, str) and encrypted:
        values["encrypted_content"] = encrypted
    return {"openai": values} if values else None


def reasoning_item(part: ReasoningPart, item_id: str) -> dict[str, Any]:
    """A reasoning output item for a Responses client: the summary is the reasoning text,
    ``encrypted_content`` carries OpenAI's own or the other providers' sealed values."""
    meta = part.provider_metadata or {}
    own = meta.get("openai") or {}
    item: dict[str, Any] = {
        "id": item_id,
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": part.text}] if part.text else [],
    }
    if own.get("encrypted_content"):
        item["encrypted_content"] = own["encrypted_content"]
    else:
        foreign = {wire: dict(values) for wire, values in meta.items() if wire != "openai" and values}
        if foreign:
            item["encrypted_content"] = sealed.seal(foreign)
    return item


def call_carrier(metadata: Metadata, call_id: str) -> dict[str, Any] | None:
    """The reasoning item that carries a tool call's Gemini values to a Responses client
    (None when it has none): no summary, the values sealed with the call's id."""
    values = sealed.carried(metadata, DOOR_WIRES)
    if values is None:
        return None
    return {
        "id": c.new_id("rs_"),
        "type": "reasoning",
        "summary": [],
        "encrypted_content": sealed.seal(values, call_id),
    }


def text_carrier(metadata: Metadata) -> dict[str, Any] | None:
    """The reasoning item that carries a text part's Gemini values to a Responses client,
    right after the message item the part ends (None when it has none)."""
    values = sealed.carried(metadata, DOOR_WIRES)
    if values is None:
        return None
    return {
        "id": c.new_id("rs_"),
        "type": "reasoning",
        "summary": [],
        "encrypted_content": sealed.seal(values, text=True),
    }


# -- custom tools --------------------------------------------------------------------------


def custom_arguments(text: str) -> str:
    """The IR arguments (JSON text) for a custom tool's free-form input."""
    return orjson.dumps({"input": text}).decode()


def custom_input(arguments: str) -> str:
    """A custom tool's free-form input back from IR arguments (any upstream's)."""
    try:
        value = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return arguments
    if isinstance(value, dict) and isinstance(value.get("input"), str):
        return value["input"]
    if isinstance(value, str):
        return value
    return arguments
