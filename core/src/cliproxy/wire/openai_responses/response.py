"""The ``response`` object, both ways: IR responses encoded for Responses clients, and
Responses upstreams' answers decoded into the IR.

Output items map to IR parts one to one: a message's ``output_text`` parts to text
parts (the message id and ``phase`` kept in metadata so items regroup the same way), a
``reasoning`` item to a reasoning part (its summaries joined by blank lines), a
``function_call`` or ``custom_tool_call`` to a tool call (after the reasoning item that
carries its Gemini signature, if it has one; a call to a namespace member under its flat
name, see :mod:`.namespaces`), an ``image_generation_call`` to an image. Items of built-in tools the upstream ran itself (``web_search_call``...)
have no IR counterpart and are dropped when translating.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import orjson
from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.ir import (
    FilePart,
    Metadata,
    Part,
    ReasoningPart,
    Response,
    TextPart,
    ToolCallPart,
    Usage,
    metadata_for,
)
from cliproxy.translate import EncodeContext
from cliproxy.wire import common as c
from cliproxy.wire.openai_chat import decode_error as _chat_error
from cliproxy.wire.openai_responses import namespaces as ns
from cliproxy.wire.openai_responses.common import (
    WIRE,
    call_carrier,
    custom_arguments,
    custom_input,
    decode_usage,
    encode_usage,
    finish_from_status,
    reasoning_item,
    reasoning_metadata,
    status_for,
    text_carrier,
)
from cliproxy.wire.openai_responses.errors import error_from_event

__all__ = [
    "ResponseShell",
    "call_name",
    "custom_names",
    "decode_response",
    "encode_response",
    "function_call_item",
    "is_custom_call",
    "output_items",
    "text_content",
]


# -- encoding ---------------------------------------------------------------------------------


class ResponseShell:
    """The fields of a response object that echo the client's request, built once per
    response; :meth:`render` adds what the answer decided."""

    __slots__ = ("created_at", "fields", "id")

    def __init__(self, response_id: str | None, ctx: EncodeContext, created: int | None = None) -> None:
        body = ctx.body
        # Another wire's id (a local server may repeat one) is not used: a response id
        # must be unique, since the gateway keeps answers under it for previous_response_id.
        self.id = response_id if response_id and response_id.startswith("resp_") else c.new_id("resp_")
        self.created_at = created or ctx.created or int(time.time())
        reasoning = found if isinstance(found := body.get("reasoning"), dict) else {}
        text = found if isinstance(found := body.get("text"), dict) else {}
        self.fields: dict[str, Any] = {
            "instructions": body.get("instructions") if isinstance(body.get("instructions"), str) else None,
            "max_output_tokens": body.get("max_output_tokens"),
            "model": ctx.model,
            "parallel_tool_calls": body.get("parallel_tool_calls", True) is not False,
            "previous_response_id": previous if isinstance(previous := body.get("previous_response_id"), str) else None,
            "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
            "store": body.get("store") is True,
            "temperature": body.get("temperature"),
            "text": {"format": {"type": "text"}, **text},
            "tool_choice": body.get("tool_choice") or "auto",
            "tools": body.get("tools") if isinstance(body.get("tools"), list) else [],
            "top_p": body.get("top_p"),
            "truncation": body.get("truncation") or "disabled",
            "user": body.get("user") if isinstance(body.get("user"), str) else None,
            "metadata": body.get("metadata") if isinstance(body.get("metadata"), dict) else {},
        }

    def render(
        self,
        status: str,
        output: list[dict[str, Any]],
        usage: Usage | None = None,
        *,
        incomplete: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "background": False,
            "error": error,
            "incomplete_details": incomplete,
            "output": output,
            "usage": encode_usage(usage) if usage is not None else None,
        }
        obj.update(self.fields)
        return obj


def custom_names(body: Mapping[str, Any]) -> frozenset[str]:
    """Names of the custom (free-form) tools a client declared."""
    tools = body.get("tools")
    if not isinstance(tools, list):
        return frozenset()
    return frozenset(
        t["name"] for t in tools if isinstance(t, dict) and t.get("type") == "custom" and isinstance(t.get("name"), str)
    )


def is_custom_call(name: str, metadata: Any, custom: frozenset[str]) -> bool:
    return name in custom or bool(metadata_for(metadata, WIRE).get("custom"))


def text_content(part: TextPart) -> dict[str, Any]:
    if metadata_for(part.provider_metadata, WIRE).get("refusal"):
        return {"type": "refusal", "refusal": part.text}
    return {"type": "output_text", "text": part.text, "annotations": [], "logprobs": []}


def _message_id(part: TextPart) -> str | None:
    value = metadata_for(part.provider_metadata, WIRE).get("id")
    return value if isinstance(value, str) and value else None


def function_call_item(
    name: str, metadata: Any, members: Mapping[str, tuple[str, str]], call_id: str, status: str
) -> dict[str, Any]:
    """A ``function_call`` item (arguments empty) for a call named ``name`` in the IR: a
    call to a namespace member names its namespace, as Codex dispatches it."""
    namespace, name = ns.member_of(name, metadata, members)
    item: dict[str, Any] = {"id": c.new_id("fc_"), "type": "function_call", "status": status, "arguments": ""}
    item["call_id"] = call_id
    item["name"] = name
    if namespace is not None:
        item["namespace"] = namespace
    return item


def output_items(
    parts: tuple[Part, ...], custom: frozenset[str], members: Mapping[str, tuple[str, str]] | None = None
) -> list[dict[str, Any]]:
    """The ``output`` array for IR parts; consecutive text parts of one message share an
    item. ``members`` maps the flat names of the client's namespace tools back
    (:func:`.namespaces.members`)."""
    members = members or {}
    items: list[dict[str, Any]] = []
    message: dict[str, Any] | None = None
    for part in parts:
        if isinstance(part, TextPart):
            msg_id = _message_id(part)
            if message is None or (msg_id is not None and msg_id != message["id"]):
                message = {
                    "id": msg_id or c.new_id("msg_"),
                    "type": "message",
                    "status": "completed",
                    "role": "assistant",
                    "content": [],
                }
                phase = metadata_for(part.provider_metadata, WIRE).get("phase")
                if phase:
                    message["phase"] = phase
                items.append(message)
            message["content"].append(text_content(part))
            carrier = text_carrier(part.provider_metadata)
            if carrier is not None:  # the signed part ends its message; its values follow it
                items.append(carrier)
                message = None
            continue
        message = None
        if isinstance(part, ReasoningPart):
            rs_id = metadata_for(part.provider_metadata, "openai").get("id") or c.new_id("rs_")
            items.append(reasoning_item(part, rs_id))
        elif isinstance(part, ToolCallPart):
            carrier = call_carrier(part.provider_metadata, part.id)
            if carrier is not None:
                items.append(carrier)
            if is_custom_call(part.name, part.provider_metadata, custom):
                items.append(
                    {
                        "id": c.new_id("ctc_"),
                        "type": "custom_tool_call",
                        "status": "completed",
                        "call_id": part.id,
                        "name": part.name,
                        "input": custom_input(part.arguments),
                    }
                )
            else:
                items.append(function_call_item(part.name, part.provider_metadata, members, part.id, "completed"))
                items[-1]["arguments"] = part.arguments or "{}"
        elif isinstance(part, FilePart) and part.is_image and part.data:
            items.append(
                {"id": c.new_id("ig_"), "type": "image_generation_call", "status": "completed", "result": part.data}
            )
    return items


def encode_response(response: Response, ctx: EncodeContext) -> bytes:
    shell = ResponseShell(response.id, ctx, response.created)
    status, incomplete = status_for(response.finish)
    error = (
        {"code": "server_error", "message": "the upstream ended the response with an error"}
        if status == "failed"
        else None
    )
    output = output_items(response.parts, custom_names(ctx.body), ns.members(ctx.body.get("tools")))
    return orjson.dumps(shell.render(status, output, response.usage, incomplete=incomplete, error=error))


# -- decoding ---------------------------------------------------------------------------------


def _text_meta(item: Mapping[str, Any], refusal: bool = False) -> dict[str, Any] | None:
    values: dict[str, Any] = {}
    if isinstance(item.get("id"), str) and item["id"]:
        values["id"] = item["id"]
    if isinstance(item.get("phase"), str):
        values["phase"] = item["phase"]
    if refusal:
        values["refusal"] = True
    return {WIRE: values} if values else None


def reasoning_text(item: Mapping[str, Any]) -> str:
    """A reasoning item's text: its summaries joined by blank lines, else its raw content."""
    summary = item.get("summary")
    texts = [s["text"] for s in summary or () if isinstance(s, dict) and isinstance(s.get("text"), str)]
    if not texts:
        content = item.get("content")
        texts = [p["text"] for p in content or () if isinstance(p, dict) and isinstance(p.get("text"), str)]
    return "\n\n".join(texts)


def call_name(item: Mapping[str, Any]) -> tuple[str, Metadata]:
    """The IR name of a ``function_call`` item an upstream sent (a namespace member's flat
    name), and the metadata that keeps its namespace."""
    name = str(item.get("name") or "")
    namespace = item.get("namespace")
    if isinstance(namespace, str) and namespace:
        return ns.flat_name(namespace, name), ns.call_metadata(namespace, name)
    return name, None


def item_parts(item: Mapping[str, Any]) -> list[Part]:
    """The IR parts for one output item (none for items the IR cannot express)."""
    kind = item.get("type")
    if kind == "message":
        parts: list[Part] = []
        for content in item.get("content") or ():
            if not isinstance(content, dict):
                continue
            if content.get("type") == "output_text" and isinstance(content.get("text"), str):
                parts.append(TextPart(content["text"], _text_meta(item)))
            elif content.get("type") == "refusal" and isinstance(content.get("refusal"), str):
                parts.append(TextPart(content["refusal"], _text_meta(item, refusal=True)))
        return parts
    if kind == "reasoning":
        return [ReasoningPart(reasoning_text(item), reasoning_metadata(item.get("id"), item.get("encrypted_content")))]
    if kind == "function_call":
        arguments = item.get("arguments")
        name, meta = call_name(item)
        return [
            ToolCallPart(
                str(item.get("call_id") or ""),
                name,
                arguments if isinstance(arguments, str) and arguments else "{}",
                meta,
            )
        ]
    if kind == "custom_tool_call":
        text = found if isinstance(found := item.get("input"), str) else ""
        return [
            ToolCallPart(
                str(item.get("call_id") or ""),
                str(item.get("name") or ""),
                custom_arguments(text),
                {WIRE: {"custom": True}},
            )
        ]
    if kind == "image_generation_call" and isinstance(item.get("result"), str) and item["result"]:
        fmt = item.get("output_format") if isinstance(item.get("output_format"), str) else "png"
        return [FilePart(f"image/{fmt}", data=item["result"])]
    return []


def _not_json(what: str) -> GatewayError:
    return GatewayError(status=502, kind=ErrorKind.UPSTREAM, message=f"the upstream answered with {what}")


def decode_response(body: bytes) -> Response:
    try:
        obj = c.loads(body)
    except ValueError:
        raise _not_json("a body that is not JSON") from None
    if not isinstance(obj, dict):
        raise _not_json("JSON that is not an object")
    if obj.get("status") == "failed" or (obj.get("error") and not obj.get("output")):
        error = obj.get("error")
        if isinstance(error, dict) and "object" not in obj:  # a plain {"error": {...}} body
            raise _chat_error(502, {}, body)
        raise error_from_event(error if isinstance(error, dict) else {"message": "the response failed"})
    parts: list[Part] = []
    for item in obj.get("output") or ():
        if isinstance(item, dict):
            parts.extend(item_parts(item))
    has_calls = any(isinstance(p, ToolCallPart) for p in parts)
    created = obj.get("created_at")
    return Response(
        id=str(obj.get("id") or c.new_id("resp_")),
        model=str(obj.get("model") or ""),
        parts=parts,
        finish=finish_from_status(obj.get("status"), obj.get("incomplete_details"), has_calls),
        usage=decode_usage(obj.get("usage")) or Usage(),
        created=int(created) if isinstance(created, int | float) and not isinstance(created, bool) else None,
    )
