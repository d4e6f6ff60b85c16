"""OpenAI Chat Completions (``/v1/chat/completions``): the ``openai-chat`` wire format.

Serves the OpenAI door and every OpenAI-compatible upstream (OpenAI, OpenRouter, vLLM,
llama.cpp, Ollama, MLX servers...). Facts: ``reference/wire/FACTS.md`` section 1.

Reasoning arrives as ``reasoning_content`` (DeepSeek, vLLM, llama.cpp), ``reasoning``
(OpenRouter, newer vLLM, Ollama) or ``reasoning_details`` (OpenRouter, with signatures);
all become IR reasoning. Signatures travel to clients in ``reasoning_details`` and, for
Gemini tool calls, in ``extra_content.google.thought_signature`` (as Google's own
OpenAI-compatible endpoint does).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import orjson
from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.ir import (
    FileOutput,
    FilePart,
    Finish,
    FinishReason,
    Message,
    Part,
    ProviderTool,
    Reasoning,
    ReasoningDelta,
    ReasoningEnd,
    ReasoningPart,
    ReasoningStart,
    Request,
    Response,
    ResponseFormat,
    StreamError,
    StreamEvent,
    StreamFinish,
    StreamStart,
    TextDelta,
    TextEnd,
    TextPart,
    TextStart,
    Tool,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallPart,
    ToolCallStart,
    ToolChoice,
    ToolResultPart,
    Usage,
    merge_metadata,
)
from cliproxy.sse import SSEParser, frame
from cliproxy.translate import Door, EncodeContext
from cliproxy.wire import common as c
from cliproxy.wire.reasoning_details import details_for, metadata_from_details

__all__ = ["OpenAIChat"]

WIRE = "openai-chat"

_FINISH_IN = {
    "stop": FinishReason.STOP,
    "length": FinishReason.LENGTH,
    "tool_calls": FinishReason.TOOL_CALLS,
    "function_call": FinishReason.TOOL_CALLS,
    "content_filter": FinishReason.CONTENT_FILTER,
    "error": FinishReason.ERROR,
}
_FINISH_OUT = {
    FinishReason.STOP: "stop",
    FinishReason.LENGTH: "length",
    FinishReason.TOOL_CALLS: "tool_calls",
    FinishReason.CONTENT_FILTER: "content_filter",
    FinishReason.ERROR: "stop",
    FinishReason.OTHER: "stop",
}
_ERROR_TYPE = {
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
_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")

# Request keys this translator models; any other key rides in extras["openai-chat"].
_MODELLED = frozenset(
    {
        "model",
        "messages",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "max_tokens",
        "max_completion_tokens",
        "temperature",
        "top_p",
        "top_k",
        "stop",
        "seed",
        "frequency_penalty",
        "presence_penalty",
        "reasoning_effort",
        "reasoning",
        "response_format",
        "stream",
        "user",
        "metadata",
        "functions",
        "function_call",
    }
)


# ---------------------------------------------------------------------------------------
# Client side: decode requests
# ---------------------------------------------------------------------------------------


def _content_parts(content: Any, where: str, *, allow_files: bool = True) -> list[TextPart | FilePart]:
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
            parts.append(FilePart(media_type=f"audio/{fmt}", data=c.get_str(audio, "data", at + ".input_audio.", required=True)))
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


def _tool_call(item: Any, at: str) -> ToolCallPart:
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


def _assistant_parts(msg: Mapping[str, Any], at: str) -> list[Part]:
    parts: list[Part] = []
    details = msg.get("reasoning_details")
    if isinstance(details, list) and details:
        text, meta = metadata_from_details(details)
        parts.append(ReasoningPart(text, meta))
    else:
        for field in ("reasoning_content", "reasoning"):
            value = msg.get(field)
            if isinstance(value, str) and value:
                parts.append(ReasoningPart(value, {WIRE: {"field": field}}))
                break
    parts.extend(_content_parts(msg.get("content"), at + ".content", allow_files=False))
    for i, call in enumerate(c.get_list(msg, "tool_calls", at + ".")):
        parts.append(_tool_call(call, f"{at}.tool_calls[{i}]"))
    legacy = msg.get("function_call")
    if isinstance(legacy, dict):
        parts.append(_tool_call({"id": c.new_id("call_"), "function": legacy}, at + ".function_call"))
    return parts


def _messages(raw: list[Any]) -> list[Message]:
    messages: list[Message] = []
    names: dict[str, str] = {}
    for i, msg in enumerate(raw):
        at = f"messages[{i}]"
        msg = c.expect_map(msg, at)
        role = msg.get("role")
        if role in ("system", "developer"):
            messages.append(Message("system", _content_parts(msg.get("content"), at + ".content", allow_files=False)))
        elif role == "user":
            messages.append(Message("user", _content_parts(msg.get("content"), at + ".content")))
        elif role == "assistant":
            parts = _assistant_parts(msg, at)
            for part in parts:
                if isinstance(part, ToolCallPart):
                    names[part.id] = part.name
            messages.append(Message("assistant", parts))
        elif role in ("tool", "function"):
            call_id = c.get_str(msg, "tool_call_id", at + ".") or c.get_str(msg, "name", at + ".") or ""
            if not call_id:
                raise GatewayError.invalid(f"'{at}.tool_call_id' is required for tool messages", param=f"{at}.tool_call_id")
            content = _content_parts(msg.get("content"), at + ".content")
            result = ToolResultPart(call_id, content, name=names.get(call_id) or msg.get("name"))
            if messages and messages[-1].role == "tool":
                messages[-1] = Message("tool", [*messages[-1].parts, result])
            else:
                messages.append(Message("tool", [result]))
        else:
            raise GatewayError.invalid(
                f"'{at}.role' must be one of system, developer, user, assistant, tool; got {role!r}",
                param=f"{at}.role",
            )
    return messages


def _tools(raw: list[Any]) -> list[Tool | ProviderTool]:
    tools: list[Tool | ProviderTool] = []
    for i, item in enumerate(raw):
        at = f"tools[{i}]"
        item = c.expect_map(item, at)
        if item.get("type", "function") != "function":
            tools.append(ProviderTool(WIRE, item))
            continue
        fn = c.expect_map(item.get("function"), at + ".function")
        params = fn.get("parameters")
        if params is not None and not isinstance(params, dict):
            raise GatewayError.invalid(f"'{at}.function.parameters' must be a JSON Schema object", param=f"{at}.function.parameters")
        tools.append(
            Tool(
                name=c.get_str(fn, "name", at + ".function.", required=True) or "",
                description=c.get_str(fn, "description", at + ".function."),
                parameters=params or {"type": "object", "properties": {}},
                strict=c.get_bool(fn, "strict", at + ".function."),
            )
        )
    return tools


def _tool_choice(raw: Any) -> ToolChoice | None:
    if raw is None:
        return None
    if raw in ("auto", "none", "required"):
        return ToolChoice(raw)
    if isinstance(raw, dict):
        if raw.get("type") == "function":
            name = (raw.get("function") or {}).get("name")
            if isinstance(name, str) and name:
                return ToolChoice("tool", name)
        if raw.get("type") == "allowed_tools":
            mode = (raw.get("allowed_tools") or {}).get("mode")
            return ToolChoice("required" if mode == "required" else "auto")
    raise GatewayError.invalid(
        "'tool_choice' must be 'auto', 'none', 'required' or {\"type\": \"function\", \"function\": {\"name\": ...}}",
        param="tool_choice",
    )


def _response_format(raw: Any) -> ResponseFormat | None:
    if raw is None:
        return None
    raw = c.expect_map(raw, "response_format")
    kind = raw.get("type")
    if kind == "json_schema":
        spec = c.expect_map(raw.get("json_schema") or {}, "response_format.json_schema")
        return ResponseFormat(
            "json_schema",
            schema=spec.get("schema"),
            name=spec.get("name"),
            strict=spec.get("strict"),
            description=spec.get("description"),
        )
    if kind in ("json_object", "text"):
        return ResponseFormat(kind)
    raise GatewayError.invalid(f"'response_format.type' {kind!r} must be text, json_object or json_schema", param="response_format.type")


def _reasoning(body: Mapping[str, Any]) -> Reasoning | None:
    effort = c.get_str(body, "reasoning_effort", "")
    block = body.get("reasoning")
    if isinstance(block, dict):
        budget = block.get("max_tokens")
        level = block.get("effort") if isinstance(block.get("effort"), str) else effort
        if block.get("enabled") is False or (block.get("exclude") is True and level is None and budget is None):
            return Reasoning(effort="none") if block.get("enabled") is False else None
        return Reasoning(
            effort=level,
            budget_tokens=budget if isinstance(budget, int) else None,
            include_thoughts=None if block.get("exclude") is None else not block.get("exclude"),
        )
    if effort:
        return Reasoning(effort=effort)
    return None


def _stop(raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    if isinstance(raw, str):
        return (raw,)
    if isinstance(raw, list) and all(isinstance(s, str) for s in raw):
        return tuple(raw)
    raise GatewayError.invalid("'stop' must be a string or an array of strings", param="stop")


def decode_request(body: Mapping[str, Any], *, model: str | None = None, stream: bool | None = None) -> Request:
    messages = _messages(c.get_list(body, "messages", "", required=True))
    tools = _tools(c.get_list(body, "tools", ""))
    if not tools and isinstance(body.get("functions"), list):
        tools = _tools([{"type": "function", "function": f} for f in body["functions"]])
    metadata: dict[str, Any] = {}
    if isinstance(body.get("metadata"), dict):
        metadata.update(body["metadata"])
    if isinstance(body.get("user"), str):
        metadata["user"] = body["user"]
    max_tokens = c.get_int(body, "max_completion_tokens") or c.get_int(body, "max_tokens")
    extras = {k: v for k, v in body.items() if k not in _MODELLED}
    return Request(
        model=model or c.get_str(body, "model", "", required=True) or "",
        messages=messages,
        tools=tools,
        tool_choice=_tool_choice(body.get("tool_choice")),
        parallel_tool_calls=c.get_bool(body, "parallel_tool_calls"),
        max_tokens=max_tokens,
        temperature=c.get_number(body, "temperature"),
        top_p=c.get_number(body, "top_p"),
        top_k=c.get_int(body, "top_k"),
        stop=_stop(body.get("stop")),
        seed=c.get_int(body, "seed"),
        frequency_penalty=c.get_number(body, "frequency_penalty"),
        presence_penalty=c.get_number(body, "presence_penalty"),
        reasoning=_reasoning(body),
        response_format=_response_format(body.get("response_format")),
        stream=bool(c.get_bool(body, "stream")) if stream is None else stream,
        metadata=metadata or None,
        extras={WIRE: extras} if extras else {},
    )


# ---------------------------------------------------------------------------------------
# Upstream side: encode requests
# ---------------------------------------------------------------------------------------


def _encode_content(parts: Iterable[Part]) -> str | list[dict[str, Any]]:
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


def _encode_tool_call(part: ToolCallPart) -> dict[str, Any]:
    call: dict[str, Any] = {
        "id": part.id,
        "type": "function",
        "function": {"name": part.name, "arguments": part.arguments or "{}"},
    }
    signature = ((part.provider_metadata or {}).get("gemini") or {}).get("thoughtSignature")
    if signature:
        call["extra_content"] = {"google": {"thought_signature": signature}}
    return call


def _encode_assistant(msg: Message) -> dict[str, Any]:
    out: dict[str, Any] = {"role": "assistant"}
    texts = [p for p in msg.parts if isinstance(p, TextPart)]
    out["content"] = "".join(p.text for p in texts) if texts else None
    calls = [_encode_tool_call(p) for p in msg.parts if isinstance(p, ToolCallPart)]
    if calls:
        out["tool_calls"] = calls
    for part in msg.parts:
        if not isinstance(part, ReasoningPart):
            continue
        own = (part.provider_metadata or {}).get(WIRE) or {}
        if own.get("reasoning_details"):
            out.setdefault("reasoning_details", []).extend(own["reasoning_details"])
        elif own.get("field"):
            out[own["field"]] = out.get(own["field"], "") + part.text
    return out


def _encode_messages(messages: Iterable[Message]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for msg in messages:
        if msg.role == "system":
            out.append({"role": "system", "content": msg.text})
        elif msg.role == "user":
            out.append({"role": "user", "content": _encode_content(msg.parts)})
        elif msg.role == "assistant":
            out.append(_encode_assistant(msg))
        elif msg.role == "tool":
            for part in msg.parts:
                if isinstance(part, ToolResultPart):
                    content = _encode_content(part.content)
                    out.append({"role": "tool", "tool_call_id": part.call_id, "content": content})
    return out


def _encode_tool(tool: Tool) -> dict[str, Any]:
    fn: dict[str, Any] = {"name": tool.name, "parameters": dict(tool.parameters)}
    if tool.description:
        fn["description"] = tool.description
    if tool.strict is not None:
        fn["strict"] = tool.strict
    return {"type": "function", "function": fn}


def _encode_tool_choice(choice: ToolChoice) -> Any:
    if choice.type == "tool":
        return {"type": "function", "function": {"name": choice.name}}
    return choice.type


def encode_request(request: Request, model: str) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": _encode_messages(request.messages)}
    tools = [
        _encode_tool(t) if isinstance(t, Tool) else dict(t.spec)
        for t in request.tools
        if isinstance(t, Tool) or t.wire == WIRE
    ]
    if tools:
        body["tools"] = tools
        if request.tool_choice is not None:
            body["tool_choice"] = _encode_tool_choice(request.tool_choice)
        if request.parallel_tool_calls is not None:
            body["parallel_tool_calls"] = request.parallel_tool_calls
    elif request.tool_choice is not None and request.tool_choice.type == "none":
        pass  # no tools, nothing to forbid
    if request.max_tokens is not None:
        body["max_tokens"] = request.max_tokens
    for key, value in (
        ("temperature", request.temperature),
        ("top_p", request.top_p),
        ("seed", request.seed),
        ("frequency_penalty", request.frequency_penalty),
        ("presence_penalty", request.presence_penalty),
    ):
        if value is not None:
            body[key] = value
    if request.stop:
        body["stop"] = list(request.stop)
    if request.reasoning is not None:
        level = request.reasoning.level()
        body["reasoning_effort"] = level if level in _EFFORTS else "xhigh"
    fmt = request.response_format
    if fmt is not None:
        if fmt.type == "json_schema":
            spec: dict[str, Any] = {"name": fmt.name or "response", "schema": dict(fmt.schema or {})}
            if fmt.strict is not None:
                spec["strict"] = fmt.strict
            if fmt.description:
                spec["description"] = fmt.description
            body["response_format"] = {"type": "json_schema", "json_schema": spec}
        else:
            body["response_format"] = {"type": fmt.type}
    if request.stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    for key, value in request.extras_for(WIRE).items():
        body.setdefault(key, value)
    return body


# ---------------------------------------------------------------------------------------
# Upstream side: decode responses, streams, errors
# ---------------------------------------------------------------------------------------


def _usage(raw: Any) -> Usage | None:
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


def _finish(raw: Any) -> Finish:
    if not isinstance(raw, str):
        return Finish(FinishReason.STOP, None)
    return Finish(_FINISH_IN.get(raw, FinishReason.OTHER), raw)


def _error_from_body(status: int, obj: Any, headers: Mapping[str, str] | None = None) -> GatewayError:
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


def _error_status(err: Any) -> int:
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
    return _error_from_body(status, obj, headers)


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
        parts.extend(p for p in _content_parts(content, "content") if isinstance(p, TextPart))
    refusal = message.get("refusal")
    if isinstance(refusal, str) and refusal and not content:
        parts.append(TextPart(refusal))
    for i, call in enumerate(message.get("tool_calls") or ()):
        parts.append(_tool_call(call, f"choices[0].message.tool_calls[{i}]"))
    for image in message.get("images") or ():
        url = (image.get("image_url") or {}).get("url") if isinstance(image, dict) else None
        if isinstance(url, str):
            parts.append(c.file_from_url(url))
    return parts


def decode_response(body: bytes) -> Response:
    try:
        obj = c.loads(body)
    except ValueError:
        raise GatewayError(status=502, kind=ErrorKind.UPSTREAM, message="the upstream answered with a body that is not JSON") from None
    _raise_for_failure(obj)
    choices = obj.get("choices") or [{}]
    choice = choices[0] if isinstance(choices[0], dict) else {}
    message = choice.get("message") or {}
    if choice.get("error"):  # OpenRouter: HTTP 200 with the provider's error in the choice
        raise _error_from_body(_error_status(choice["error"]), {"error": choice["error"]})
    return Response(
        id=str(obj.get("id") or c.new_id("chatcmpl-")),
        model=str(obj.get("model") or ""),
        parts=_message_parts(message if isinstance(message, dict) else {}),
        finish=_finish(choice.get("finish_reason")),
        usage=_usage(obj.get("usage")) or Usage(),
        created=obj.get("created") if isinstance(obj.get("created"), int) else None,
    )


def _raise_for_failure(obj: Any) -> None:
    if not isinstance(obj, dict):
        raise GatewayError(status=502, kind=ErrorKind.UPSTREAM, message="the upstream answered with JSON that is not an object")
    if obj.get("error") and not obj.get("choices"):
        raise _error_from_body(_error_status(obj["error"]), obj)


def check_response(obj: Any) -> Usage:
    """``decode_response``'s failure checks on a parsed body that passes through as it is;
    returns its usage."""
    _raise_for_failure(obj)
    choices = obj.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict) and choices[0].get("error"):
        raise _error_from_body(_error_status(choices[0]["error"]), {"error": choices[0]["error"]})
    return _usage(obj.get("usage")) or Usage()


class ChatStreamDecoder:
    """SSE ``chat.completion.chunk`` s -> IR events (see :class:`cliproxy.StreamDecoder`)."""

    def __init__(self) -> None:
        self._sse = SSEParser()
        self._started = False
        self._done = False
        self._next_index = 0
        self._open: tuple[str, int] | None = None  # (kind, index) of the open block
        self._open_meta: dict[str, Any] | None = None
        self._tools: dict[int, int] = {}  # upstream tool index -> IR index
        self._current_tool: int | None = None
        self._finish: Finish | None = None
        self._usage = Usage()

    def feed(self, data: bytes) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        for event in self._sse.feed(data):
            if not self._done:
                self._event(event.data, out)
        return out

    def close(self) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        for event in self._sse.close():
            if not self._done:
                self._event(event.data, out)
        if not self._done:
            self._close_block(out)
            if self._finish is not None:
                self._end(out)
            else:
                self._done = True
                out.append(
                    StreamError(
                        GatewayError(status=502, kind=ErrorKind.UPSTREAM, message="the upstream stream ended before the response was complete")
                    )
                )
        return out

    # -- helpers -------------------------------------------------------------------------

    def _close_block(self, out: list[StreamEvent]) -> None:
        if self._open is None:
            return
        kind, index = self._open
        meta = self._open_meta
        if kind == "text":
            out.append(TextEnd(index, meta))
        elif kind == "reasoning":
            out.append(ReasoningEnd(index, meta))
        else:
            out.append(ToolCallEnd(index, meta))
        self._open = None
        self._open_meta = None
        self._current_tool = None

    def _open_block(self, kind: str, out: list[StreamEvent]) -> int:
        if self._open is not None and self._open[0] == kind and kind != "tool":
            return self._open[1]
        self._close_block(out)
        index = self._next_index
        self._next_index += 1
        self._open = (kind, index)
        if kind == "text":
            out.append(TextStart(index))
        elif kind == "reasoning":
            out.append(ReasoningStart(index))
        return index

    def _end(self, out: list[StreamEvent]) -> None:
        self._done = True
        out.append(StreamFinish(self._finish or Finish(FinishReason.STOP), self._usage))

    def _event(self, data: bytes, out: list[StreamEvent]) -> None:
        if data == b"[DONE]":
            self._close_block(out)
            self._end(out)
            return
        try:
            chunk = orjson.loads(data)
        except ValueError:
            return  # not JSON: a proxy's keep-alive or noise
        if not isinstance(chunk, dict):
            return
        if chunk.get("error") and not chunk.get("choices"):
            self._close_block(out)
            self._done = True
            out.append(StreamError(_error_from_body(_error_status(chunk["error"]), chunk)))
            return
        if not self._started and (chunk.get("id") or chunk.get("choices")):
            self._started = True  # Azure opens with an id-less prompt-filter chunk: wait for a real one
            out.append(
                StreamStart(
                    id=chunk.get("id") or None,
                    model=chunk.get("model") or None,
                    created=chunk.get("created") if isinstance(chunk.get("created"), int) else None,
                )
            )
        raw_usage = chunk.get("usage")
        if raw_usage:  # most chunks carry none, or null
            usage = _usage(raw_usage)
            if usage:
                self._usage = self._usage.merge(usage)
        choices = chunk.get("choices")
        if not choices or not isinstance(choices, list):
            return
        choice = choices[0]
        if not isinstance(choice, dict) or choice.get("index", 0) != 0:
            return
        delta = choice.get("delta") or {}
        if isinstance(delta, dict):
            content = delta.get("content")
            if len(delta) == 1 and isinstance(content, str):  # the common chunk: text only
                if content:
                    opened = self._open
                    index = opened[1] if opened is not None and opened[0] == "text" else self._open_block("text", out)
                    out.append(TextDelta(index, content))
            else:
                self._delta(delta, out)
        # OpenRouter reports a failure after the first token as a chunk with a top-level
        # (or per-choice) ``error`` and ``finish_reason: "error"``.
        err = choice.get("error") or chunk.get("error")
        if err:
            self._close_block(out)
            self._done = True
            out.append(StreamError(_error_from_body(_error_status(err), {"error": err})))
            return
        reason = choice.get("finish_reason")
        if reason:
            self._close_block(out)
            self._finish = _finish(reason)
            if reason == "error":
                self._done = True
                out.append(StreamError(GatewayError(status=502, kind=ErrorKind.UPSTREAM, message="the upstream ended the response with an error")))

    def _delta(self, delta: Mapping[str, Any], out: list[StreamEvent]) -> None:
        details = delta.get("reasoning_details")
        details = details if isinstance(details, list) and details else None
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        reasoning = reasoning if isinstance(reasoning, str) and reasoning else None
        if reasoning or details:
            index = self._open_block("reasoning", out)
            if reasoning:
                out.append(ReasoningDelta(index, reasoning))
                if self._open_meta is None:
                    field = "reasoning_content" if delta.get("reasoning_content") else "reasoning"
                    self._open_meta = {WIRE: {"field": field}}
            if details:
                text, meta = metadata_from_details(details)
                if not reasoning and text:
                    out.append(ReasoningDelta(index, text))
                self._open_meta = _merge_details(self._open_meta, meta)
        content = delta.get("content")
        if isinstance(content, str) and content:
            index = self._open_block("text", out)
            out.append(TextDelta(index, content))
        for call in delta.get("tool_calls") or ():
            if isinstance(call, dict):
                self._tool_delta(call, out)
        for image in delta.get("images") or ():
            url = (image.get("image_url") or {}).get("url") if isinstance(image, dict) else None
            if isinstance(url, str):
                self._close_block(out)
                index = self._next_index
                self._next_index += 1
                out.append(FileOutput(index, c.file_from_url(url)))

    def _tool_delta(self, call: Mapping[str, Any], out: list[StreamEvent]) -> None:
        key = call.get("index")
        if not isinstance(key, int):
            key = len(self._tools) if call.get("id") and call.get("id") not in self._tools.values() else (self._current_tool or 0)
        function = call.get("function") or {}
        arguments = function.get("arguments") if isinstance(function, dict) else None
        if isinstance(arguments, dict):
            arguments = orjson.dumps(arguments).decode()
        if key not in self._tools:
            self._close_block(out)
            index = self._next_index
            self._next_index += 1
            self._tools[key] = index
            self._open = ("tool", index)
            self._current_tool = key
            meta = None
            extra = call.get("extra_content")
            if isinstance(extra, dict) and (extra.get("google") or {}).get("thought_signature"):
                meta = {"gemini": {"thoughtSignature": extra["google"]["thought_signature"]}}
            name = function.get("name") if isinstance(function, dict) else None
            out.append(ToolCallStart(index, call.get("id") or c.new_id("call_"), name or "", meta))
        elif self._current_tool != key:
            return  # a fragment for a call that already ended: the IR keeps blocks sequential
        index = self._tools[key]
        if isinstance(arguments, str) and arguments:
            out.append(ToolCallDelta(index, arguments))


def _merge_details(current: Any, new: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(merge_metadata(current, {k: v for k, v in new.items() if k != WIRE}) or {})
    old_raw = ((current or {}).get(WIRE) or {}).get("reasoning_details") or []
    merged[WIRE] = {"reasoning_details": [*old_raw, *new[WIRE]["reasoning_details"]]}
    return merged


def extract_usage(obj: Mapping[str, Any]) -> Usage | None:
    return _usage(obj.get("usage"))


def _usage_only_chunk(obj: Mapping[str, Any]) -> bool:
    return obj.get("choices") == [] and obj.get("usage") is not None


# ---------------------------------------------------------------------------------------
# Client side: encode responses, streams, errors
# ---------------------------------------------------------------------------------------


def _encode_usage(usage: Usage) -> dict[str, Any]:
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
    calls = [_encode_tool_call(p) for p in response.parts if isinstance(p, ToolCallPart)]
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
                    "finish_reason": _FINISH_OUT.get(response.finish.reason, "stop"),
                }
            ],
            "usage": _encode_usage(response.usage),
        }
    )


class ChatStreamEncoder:
    """IR events -> ``chat.completion.chunk`` SSE (see :class:`cliproxy.StreamEncoder`)."""

    media_type = "text/event-stream"

    def __init__(self, ctx: EncodeContext) -> None:
        self._ctx = ctx
        options = ctx.body.get("stream_options")
        self._include_usage = isinstance(options, dict) and options.get("include_usage") is True
        self._prefix = b""
        self._tool_slots: dict[int, int] = {}
        self._reasoning_text: dict[int, list[str]] = {}
        self._started = False
        self._finished = False

    def _begin(self, response_id: str | None, created: int | None) -> bytes:
        self._started = True
        rid = orjson.dumps(response_id or c.new_id("chatcmpl-"))
        model = orjson.dumps(self._ctx.model)
        when = str(created or self._ctx.created or int(time.time())).encode()
        self._prefix = b'data: {"id":' + rid + b',"object":"chat.completion.chunk","created":' + when + b',"model":' + model + b',"choices":['
        return self._chunk(b'{"role":"assistant","content":""}')

    def _chunk(self, delta: bytes, finish: bytes = b"null") -> bytes:
        return self._prefix + b'{"index":0,"delta":' + delta + b',"logprobs":null,"finish_reason":' + finish + b"}]}\n\n"

    def encode(self, events: Iterable[StreamEvent]) -> bytes:
        out: list[bytes] = []
        for event in events:
            if not self._started and not isinstance(event, StreamError):
                start = event if isinstance(event, StreamStart) else None
                out.append(self._begin(start.id if start else None, start.created if start else None))
                if start is not None:
                    continue
            if isinstance(event, TextDelta):
                out.append(self._chunk(b'{"content":' + orjson.dumps(event.text) + b"}"))
            elif isinstance(event, ReasoningDelta):
                self._reasoning_text.setdefault(event.index, []).append(event.text)
                out.append(self._chunk(b'{"reasoning_content":' + orjson.dumps(event.text) + b"}"))
            elif isinstance(event, ToolCallStart):
                slot = self._tool_slots[event.index] = len(self._tool_slots)
                call = {
                    "index": slot,
                    "id": event.id,
                    "type": "function",
                    "function": {"name": event.name, "arguments": ""},
                }
                signature = ((event.provider_metadata or {}).get("gemini") or {}).get("thoughtSignature")
                if signature:
                    call["extra_content"] = {"google": {"thought_signature": signature}}
                out.append(self._chunk(orjson.dumps({"tool_calls": [call]})))
            elif isinstance(event, ToolCallDelta):
                slot = self._tool_slots.get(event.index, 0)
                out.append(
                    self._chunk(
                        b'{"tool_calls":[{"index":'
                        + str(slot).encode()
                        + b',"function":{"arguments":'
                        + orjson.dumps(event.arguments)
                        + b"}}]}"
                    )
                )
            elif isinstance(event, ReasoningEnd) and event.provider_metadata:
                text = "".join(self._reasoning_text.pop(event.index, ()))
                details = details_for(ReasoningPart(text, event.provider_metadata), event.index)
                if details:
                    out.append(self._chunk(orjson.dumps({"reasoning_details": details})))
            elif isinstance(event, FileOutput) and event.part.is_image:
                image = {"type": "image_url", "image_url": {"url": c.to_data_url(event.part)}}
                out.append(self._chunk(orjson.dumps({"images": [image]})))
            elif isinstance(event, StreamFinish):
                self._finished = True
                reason = _FINISH_OUT.get(event.finish.reason, "stop")
                out.append(self._chunk(b"{}", orjson.dumps(reason)))
                if self._include_usage:
                    out.append(self._prefix + b'],"usage":' + orjson.dumps(_encode_usage(event.usage)) + b"}\n\n")
                out.append(b"data: [DONE]\n\n")
            elif isinstance(event, StreamError):
                self._finished = True
                out.append(frame(encode_error(event.error)))
        return b"".join(out)

    def close(self) -> bytes:
        return b""


def encode_error(error: GatewayError) -> bytes:
    body: dict[str, Any] = {
        "message": error.message,
        "type": _ERROR_TYPE.get(error.kind, "server_error"),
        "param": error.param,
        "code": error.code or (str(error.kind) if error.kind in (ErrorKind.RATE_LIMITED,) else None),
    }
    return orjson.dumps({"error": body})


class OpenAIChat:
    """The ``openai-chat`` translator (client and upstream side)."""

    name = WIRE
    doors = (Door("/v1/chat/completions"),)

    def decode_request(self, body: Mapping[str, Any], *, model: str | None = None, stream: bool | None = None) -> Request:
        return decode_request(body, model=model, stream=stream)

    def encode_response(self, response: Response, ctx: EncodeContext) -> bytes:
        return encode_response(response, ctx)

    def stream_encoder(self, ctx: EncodeContext) -> ChatStreamEncoder:
        return ChatStreamEncoder(ctx)

    def encode_error(self, error: GatewayError) -> bytes:
        return encode_error(error)

    def encode_request(self, request: Request, model: str) -> dict[str, Any]:
        return encode_request(request, model)

    def decode_response(self, body: bytes) -> Response:
        return decode_response(body)

    def check_response(self, obj: Any) -> Usage:
        return check_response(obj)

    def stream_decoder(self) -> ChatStreamDecoder:
        return ChatStreamDecoder()

    def decode_error(self, status: int, headers: Mapping[str, str], body: bytes) -> GatewayError:
        return decode_error(status, headers, body)

    def extract_usage(self, obj: Mapping[str, Any]) -> Usage | None:
        return extract_usage(obj)

    def passthrough_filter(self, body: Mapping[str, Any]) -> Callable[[Mapping[str, Any]], bool] | None:
        """Drop the usage-only chunk when the client did not ask for usage (the gateway
        always asks the upstream for it, to count tokens)."""
        options = body.get("stream_options")
        if isinstance(options, dict) and options.get("include_usage") is True:
            return None
        return _usage_only_chunk
