"""openai-chat whole responses: decoding upstream bodies, encoding client bodies."""

from __future__ import annotations

import time
from collections.abc import Mapping
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
from cliproxy.wire.openai_chat.common import FINISH_OUT, WIRE, decode_finish, decode_usage, encode_usage
from cliproxy.wire.openai_chat.errors import error_from_body, error_status
from cliproxy.wire.openai_chat.parts import content_parts, decode_tool_call, encode_tool_call
from cliproxy.wire.reasoning_details import details_for, metadata_from_details


def _message_parts(message: Mapping[str, Any]) -> list[Part]:
    parts: list[Part] = []
    details = message.get("reasoning_details")
    plain = message.get("reasoning_content") or message.get("reasoning")
    if isinstance(details, list) and details:
        text, meta = metadata_from_details(details)
        parts.append(ReasoningPart(plain if isinstance(plain, str) and plain else text, meta))
    elif isinstance(plain, str) and plain:
        field = "reasoning_content" if message.get("reasoning_content") else "reasoning"
        parts.append(ReasoningPart(plain, {WIRE: {"field": field}}))
    content = message.get("content")
    if isinstance(content, str) and content:
        parts.append(TextPart(content))
    elif isinstance(content, list):
        parts.extend(p for p in content_parts(content, "content") if isinstance(p, TextPart))
    refusal = message.get("refusal")
    if isinstance(refusal, str) and refusal and not content:
        parts.append(TextPart(refusal))
    for i, call in enumerate(message.get("tool_calls") or ()):
        parts.append(decode_tool_call(call, f"choices[0].message.tool_calls[{i}]"))
    for image in message.get("images") or ():
        url = (image.get("image_url") or {}).get("url") if isinstance(image, dict) else None
        if isinstance(url, str):
            parts.append(c.file_from_url(url))
    return parts


def decode_response(body: bytes) -> Response:
    try:
        obj = c.loads(body)
    except ValueError:
        raise GatewayError(
            status=502, kind=ErrorKind.UPSTREAM, message="the upstream answered with a body that is not JSON"
        ) from None
    _raise_for_failure(obj)
    choices = obj.get("choices") or [{}]
    choice = choices[0] if isinstance(choices[0], dict) else {}
    message = choice.get("message") or {}
    if choice.get("error"):  # OpenRouter: HTTP 200 with the provider's error in the choice
        raise error_from_body(error_status(choice["error"]), {"error": choice["error"]})
    return Response(
        id=str(obj.get("id") or c.new_id("chatcmpl-")),
        model=str(obj.get("model") or ""),
        parts=_message_parts(message if isinstance(message, dict) else {}),
        finish=decode_finish(choice.get("finish_reason")),
        usage=decode_usage(obj.get("usage")) or Usage(),
        created=obj.get("created") if isinstance(obj.get("created"), int) else None,
    )


def _raise_for_failure(obj: Any) -> None:
    if not isinstance(obj, dict):
        raise GatewayError(
            status=502, kind=ErrorKind.UPSTREAM, message="the upstream answered with JSON that is not an object"
        )
    if obj.get("error") and not obj.get("choices"):
        raise error_from_body(error_status(obj["error"]), obj)


def check_response(obj: Any) -> Usage:
    """``decode_response``'s failure checks on a parsed body that passes through as it is;
    returns its usage."""
    _raise_for_failure(obj)
    choices = obj.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict) and choices[0].get("error"):
        raise error_from_body(error_status(choices[0]["error"]), {"error": choices[0]["error"]})
    return decode_usage(obj.get("usage")) or Usage()


def encode_response(response: Response, ctx: EncodeContext) -> bytes:
    message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
    texts = [p.text for p in response.parts if isinstance(p, TextPart)]
    if texts:
        message["content"] = "".join(texts)
    reasoning = [p for p in response.parts if isinstance(p, ReasoningPart)]
    if reasoning:
        message["reasoning_content"] = "".join(p.text for p in reasoning)
        details = [d for i, p in enumerate(reasoning) for d in details_for(p, i)]
        if details:
            message["reasoning_details"] = details
    calls = [encode_tool_call(p) for p in response.parts if isinstance(p, ToolCallPart)]
    if calls:
        message["tool_calls"] = calls
    images = [p for p in response.parts if isinstance(p, FilePart) and p.is_image]
    if images:
        message["images"] = [{"type": "image_url", "image_url": {"url": c.to_data_url(p)}} for p in images]
    return orjson.dumps(
        {
            "id": response.id or c.new_id("chatcmpl-"),
            "object": "chat.completion",
            "created": response.created or ctx.created or int(time.time()),
            "model": ctx.model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": FINISH_OUT.get(response.finish.reason, "stop"),
                }
            ],
            "usage": encode_usage(response.usage),
        }
    )
