"""Pieces of the openai-chat wire shared by requests, responses and streams: content
parts, tool calls, usage, finish reasons and errors."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.ir import (
    FilePart,
    Finish,
    FinishReason,
    Part,
    TextPart,
    ToolCallPart,
    Usage,
)
from cliproxy.wire import common as c

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


ERROR_TYPE = {
    ErrorKind.INVALID_REQUEST: "invalid_request_error",
    ErrorKind.MODEL_NOT_FOUND: "invalid_request_error",
    ErrorKind.REQUEST_TOO_LARGE: "invalid_request_error",
    ErrorKind.UNPROCESSABLE: "invalid_request_error",
    ErrorKind.AUTHENTICATION: "authentication_error",
    ErrorKind.BILLING: "insufficient_quota",
    ErrorKind.PERMISSION: "permission_error",
    ErrorKind.NOT_FOUND: "not_found_error",
    ErrorKind.RATE_LIMITED: "rate_limit_error",
    ErrorKind.OVERLOADED: "server_error",
    ErrorKind.TIMEOUT: "timeout_error",
    ErrorKind.UPSTREAM: "server_error",
    ErrorKind.UNAVAILABLE: "server_error",
    ErrorKind.INTERNAL: "server_error",
}


EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")


def content_parts(content: Any, where: str, *, allow_files: bool = True) -> list[TextPart | FilePart]:
    if content is None:
        return []
    if isinstance(content, str):
        return [TextPart(content)] if content else []
    if not isinstance(content, list):
        raise GatewayError.invalid(
            f"'{where}' must be a string or an array of content parts, not {c.kind_of(content)}", param=where
        )
    parts: list[TextPart | FilePart] = []
    for i, item in enumerate(content):
        at = f"{where}[{i}]"
        if isinstance(item, str):
            parts.append(TextPart(item))
            continue
        item = c.expect_map(item, at)
        kind = item.get("type")
        if kind in ("text", "input_text", "output_text"):
            parts.append(TextPart(c.get_str(item, "text", at + ".", required=True) or ""))
        elif kind == "refusal":
            parts.append(TextPart(c.get_str(item, "refusal", at + ".") or ""))
        elif kind == "image_url" and allow_files:
            image = item.get("image_url")
            url = image if isinstance(image, str) else (image or {}).get("url") if isinstance(image, dict) else None
            if not isinstance(url, str):
                raise GatewayError.invalid(f"'{at}.image_url.url' must be a string", param=f"{at}.image_url.url")
            part = c.file_from_url(url)
            detail = image.get("detail") if isinstance(image, dict) else None
            if detail:
                part = FilePart(part.media_type, part.data, part.url, part.filename, {WIRE: {"detail": detail}})
            parts.append(part)
        elif kind == "input_audio" and allow_files:
            audio = c.expect_map(item.get("input_audio"), at + ".input_audio")
            fmt = c.get_str(audio, "format", at + ".input_audio.") or "wav"
            parts.append(
                FilePart(media_type=f"audio/{fmt}", data=c.get_str(audio, "data", at + ".input_audio.", required=True))
            )
        elif kind == "file" and allow_files:
            file = c.expect_map(item.get("file"), at + ".file")
            data = c.get_str(file, "file_data", at + ".file.")
            name = c.get_str(file, "filename", at + ".file.")
            if data:
                part = c.file_from_url(data, default_type="application/octet-stream", filename=name)
                if part.url and not part.data:  # bare base64 without a data: header
                    part = FilePart("application/pdf", data=data, filename=name)
                parts.append(part)
            elif file.get("file_id"):
                raise GatewayError.invalid(
                    "file_id references are not supported by the gateway; send the file inline as file_data",
                    param=f"{at}.file.file_id",
                )
        else:
            raise GatewayError.invalid(f"'{at}.type' {kind!r} is not a supported content part type", param=f"{at}.type")
    return parts


def decode_tool_call(item: Any, at: str) -> ToolCallPart:
    item = c.expect_map(item, at)
    function = c.expect_map(item.get("function"), at + ".function")
    name = c.get_str(function, "name", at + ".function.", required=True) or ""
    arguments = function.get("arguments")
    if arguments is None:
        arguments = "{}"
    elif not isinstance(arguments, str):
        arguments = orjson.dumps(arguments).decode()
    meta = None
    extra = item.get("extra_content")
    if isinstance(extra, dict):
        signature = (extra.get("google") or {}).get("thought_signature")
        if signature:
            meta = {"gemini": {"thoughtSignature": signature}}
    return ToolCallPart(c.get_str(item, "id", at + ".") or c.new_id("call_"), name, arguments, meta)


def encode_content(parts: Iterable[Part]) -> str | list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    only_text = True
    for part in parts:
        if isinstance(part, TextPart):
            items.append({"type": "text", "text": part.text})
        elif isinstance(part, FilePart):
            only_text = False
            if part.is_image:
                image: dict[str, Any] = {"url": c.to_data_url(part)}
                detail = ((part.provider_metadata or {}).get(WIRE) or {}).get("detail")
                if detail:
                    image["detail"] = detail
                items.append({"type": "image_url", "image_url": image})
            elif part.media_type.startswith("audio/") and part.data:
                items.append({"type": "input_audio", "input_audio": {"data": part.data, "format": part.media_type[6:]}})
            else:
                file: dict[str, Any] = {"file_data": c.to_data_url(part)}
                if part.filename:
                    file["filename"] = part.filename
                items.append({"type": "file", "file": file})
    if only_text:
        return "".join(item["text"] for item in items)
    return items


def encode_tool_call(part: ToolCallPart) -> dict[str, Any]:
    call: dict[str, Any] = {
        "id": part.id,
        "type": "function",
        "function": {"name": part.name, "arguments": part.arguments or "{}"},
    }
    signature = ((part.provider_metadata or {}).get("gemini") or {}).get("thoughtSignature")
    if signature:
        call["extra_content"] = {"google": {"thought_signature": signature}}
    return call


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


def decode_finish(raw: Any) -> Finish:
    if not isinstance(raw, str):
        return Finish(FinishReason.STOP, None)
    return Finish(FINISH_IN.get(raw, FinishReason.OTHER), raw)


def error_from_body(status: int, obj: Any, headers: Mapping[str, str] | None = None) -> GatewayError:
    message = "upstream error"
    err_type = code = param = None
    retry_info = None
    if isinstance(obj, list) and len(obj) == 1:  # Gemini's OpenAI endpoint wraps errors in a list
        obj = obj[0]
    if isinstance(obj, dict):
        err = obj.get("error", obj)
        retry_info = c.retry_info_seconds(err)
        if isinstance(err, str):
            message = err
        elif isinstance(err, dict):
            message = str(err.get("message") or err.get("detail") or message)
            err_type = err.get("type")
            code = err.get("code")
            param = err.get("param")
            metadata = err.get("metadata")
            if isinstance(metadata, dict) and isinstance(metadata.get("raw"), str):
                message = f"{message}: {metadata['raw'][:500]}"
        if isinstance(obj.get("detail"), str):
            message = obj["detail"]
    retry_after = c.retry_after_seconds(headers) if headers else None
    error = GatewayError.from_status(
        status,
        message,
        retry_after=retry_info if retry_after is None else retry_after,
        param=param if isinstance(param, str) else None,
        code=str(code) if code is not None and not isinstance(code, int) else None,
        upstream_type=err_type if isinstance(err_type, str) else None,
    )
    if status == 404 and (code == "model_not_found" or "model" in message.lower()):
        error.code = "model_not_found"
    return error


def error_status(err: Any) -> int:
    """The HTTP status an error that arrived inside a 200 answer stands for: its numeric
    ``code`` when that is one (OpenRouter), else 502."""
    code = err.get("code") if isinstance(err, dict) else None
    if isinstance(code, int) and not isinstance(code, bool) and 400 <= code <= 599:
        return code
    return 502


def decode_error(status: int, headers: Mapping[str, str], body: bytes) -> GatewayError:
    try:
        obj = c.loads(body) if body else None
    except ValueError:
        obj = {"error": {"message": body[:500].decode("utf-8", "replace").strip() or f"HTTP {status}"}}
    return error_from_body(status, obj, headers)


def encode_error(error: GatewayError) -> bytes:
    body: dict[str, Any] = {
        "message": error.message,
        "type": ERROR_TYPE.get(error.kind, "server_error"),
        "param": error.param,
        "code": error.code or (str(error.kind) if error.kind in (ErrorKind.RATE_LIMITED,) else None),
    }
    return orjson.dumps({"error": body})


def decode_stop(raw: Any) -> tuple[str, ...]:
    """OpenAI's ``stop``: a string or an array of strings."""
    if raw is None:
        return ()
    if isinstance(raw, str):
        return (raw,)
    if isinstance(raw, list) and all(isinstance(s, str) for s in raw):
        return tuple(raw)
    raise GatewayError.invalid("'stop' must be a string or an array of strings", param="stop")
