"""Upstream side: an IR request encoded as a ``POST /responses`` body.

For OpenAI, Codex, Copilot and the local servers that serve ``/v1/responses`` (vLLM,
Ollama). The gateway is stateless, so requests ask for ``store: false`` (unless the
client's own Responses fields say otherwise) and, when reasoning is on, for
``reasoning.encrypted_content``: the reasoning then comes back to the gateway's clients
and with them to the next turn, instead of living on OpenAI's side.

Not expressible in the Responses API and left out: ``stop``, ``seed``, ``top_k`` and the
frequency/presence penalties. A ``max_tokens`` below OpenAI's minimum of 16 is raised to 16
(clients such as Claude Code probe with ``max_tokens: 1``). Reasoning from other providers is left out of the input
(it means nothing to OpenAI); item ids are left out too (with ``store: false`` OpenAI
rejects ids it did not store), except a reasoning item's, which travels with its
encrypted content.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cliproxy.ir import (
    FilePart,
    Message,
    ReasoningPart,
    Request,
    TextPart,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
    metadata_for,
)
from cliproxy.wire import common as c
from cliproxy.wire.openai_responses import namespaces as ns
from cliproxy.wire.openai_responses.common import WIRE, custom_input

__all__ = ["encode_request"]

_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")
MIN_OUTPUT_TOKENS = 16  # OpenAI rejects a smaller max_output_tokens


def _detail(part: FilePart) -> str | None:
    meta = part.provider_metadata
    return metadata_for(meta, WIRE).get("detail") or metadata_for(meta, "openai-chat").get("detail")


def _input_part(part: TextPart | FilePart) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return {"type": "input_text", "text": part.text}
    if part.is_image:
        image: dict[str, Any] = {"type": "input_image", "image_url": c.to_data_url(part)}
        detail = _detail(part)
        if detail:
            image["detail"] = detail
        return image
    file: dict[str, Any] = {"type": "input_file"}
    if part.url and not part.data:
        file["file_url"] = part.url
    else:
        file["file_data"] = c.to_data_url(part)
    if part.filename:
        file["filename"] = part.filename
    return file


def _output_content(part: TextPart) -> dict[str, Any]:
    if metadata_for(part.provider_metadata, WIRE).get("refusal"):
        return {"type": "refusal", "refusal": part.text}
    return {"type": "output_text", "text": part.text, "annotations": []}


def _assistant_items(msg: Message, custom_tools: set[str], custom_calls: set[str]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    message: dict[str, Any] | None = None
    for part in msg.parts:
        if isinstance(part, TextPart):
            phase = metadata_for(part.provider_metadata, WIRE).get("phase")
            if message is None or message.get("phase") != phase:
                message = {"type": "message", "role": "assistant", "content": []}
                if phase:
                    message["phase"] = phase
                items.append(message)
            message["content"].append(_output_content(part))
            continue
        message = None
        if isinstance(part, ReasoningPart):
            own = metadata_for(part.provider_metadata, "openai")
            if not own.get("encrypted_content") and not own.get("id"):
                continue  # another provider's reasoning: meaningless to OpenAI
            item: dict[str, Any] = {
                "type": "reasoning",
                "summary": [{"type": "summary_text", "text": part.text}] if part.text else [],
            }
            if own.get("id"):
                item["id"] = own["id"]
            if own.get("encrypted_content"):
                item["encrypted_content"] = own["encrypted_content"]
            items.append(item)
        elif isinstance(part, ToolCallPart):
            if metadata_for(part.provider_metadata, WIRE).get("custom") or part.name in custom_tools:
                custom_calls.add(part.id)
                items.append(
                    {
                        "type": "custom_tool_call",
                        "call_id": part.id,
                        "name": part.name,
                        "input": custom_input(part.arguments),
                    }
                )
            else:
                namespace, name = ns.member_of(part.name, part.provider_metadata, {})
                call: dict[str, Any] = {"type": "function_call", "call_id": part.id, "name": name}
                if namespace is not None:
                    call["namespace"] = namespace
                call["arguments"] = part.arguments or "{}"
                items.append(call)
    return items


def _tool_output(part: ToolResultPart, custom_calls: set[str]) -> dict[str, Any]:
    output: str | list[dict[str, Any]]
    if all(isinstance(p, TextPart) for p in part.content):
        output = part.text
    else:
        output = [_input_part(p) for p in part.content]
    is_custom = part.call_id in custom_calls or metadata_for(part.provider_metadata, WIRE).get("custom")
    kind = "custom_tool_call_output" if is_custom else "function_call_output"
    return {"type": kind, "call_id": part.call_id, "output": output}


def _input(messages: Iterable[Message], custom_tools: set[str]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    custom_calls: set[str] = set()
    for msg in messages:
        if msg.role == "system":  # in place: a developer message wherever it stands
            items.append({"role": "developer", "content": msg.joined_text})
        elif msg.role == "user":
            items.append(
                {"role": "user", "content": [_input_part(p) for p in msg.parts if isinstance(p, TextPart | FilePart)]}
            )
        elif msg.role == "assistant":
            items.extend(_assistant_items(msg, custom_tools, custom_calls))
        elif msg.role == "tool":
            items.extend(_tool_output(p, custom_calls) for p in msg.parts if isinstance(p, ToolResultPart))
    return items


def _tool(tool: Tool) -> dict[str, Any] | tuple[Mapping[str, Any], Mapping[str, Any]]:
    """A tool's spec; a namespace member's (group, spec), to be grouped again."""
    custom = metadata_for(tool.provider_metadata, WIRE).get("custom")
    if isinstance(custom, Mapping):
        return dict(custom)
    member = ns.namespace_of(tool)
    if member is not None:
        return member
    out: dict[str, Any] = {"type": "function", "name": tool.name, "parameters": dict(tool.parameters)}
    if tool.description:
        out["description"] = tool.description
    if tool.strict is not None:
        out["strict"] = tool.strict
    return out


def _tool_choice(choice: ToolChoice, custom_tools: set[str]) -> Any:
    if choice.type == "tool":
        return {"type": "custom" if choice.name in custom_tools else "function", "name": choice.name}
    return choice.type


def _system_first(messages: tuple[Message, ...]) -> tuple[str | None, tuple[Message, ...]]:
    if messages and messages[0].role == "system":
        return messages[0].joined_text, messages[1:]
    return None, messages


def _merge(body: dict[str, Any], key: str, extra: Any) -> None:
    if isinstance(extra, Mapping):
        body[key] = {**extra, **body.get(key, {})}


def encode_request(request: Request, model: str) -> dict[str, Any]:
    custom_tools = {
        t.name
        for t in request.function_tools
        if isinstance(metadata_for(t.provider_metadata, WIRE).get("custom"), Mapping)
    }
    instructions, messages = _system_first(request.messages)
    body: dict[str, Any] = {"model": model}
    if instructions:
        body["instructions"] = instructions
    body["input"] = _input(messages, custom_tools)
    tools = ns.grouped_tools(
        _tool(t) if isinstance(t, Tool) else dict(t.spec)
        for t in request.tools
        if isinstance(t, Tool) or t.wire == WIRE
    )
    if tools:
        body["tools"] = tools
        if request.tool_choice is not None:
            body["tool_choice"] = _tool_choice(request.tool_choice, custom_tools)
        if request.parallel_tool_calls is not None:
            body["parallel_tool_calls"] = request.parallel_tool_calls
    if request.max_tokens is not None:
        body["max_output_tokens"] = max(request.max_tokens, MIN_OUTPUT_TOKENS)
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.top_p is not None:
        body["top_p"] = request.top_p
    reasoning = request.reasoning
    if reasoning is not None:
        block: dict[str, Any] = {}
        level = reasoning.requested_level()
        if level is not None:  # only an effort the client asked for
            block["effort"] = level if level in _EFFORTS else "xhigh"
        if reasoning.summary:
            block["summary"] = reasoning.summary
        elif reasoning.include_thoughts:
            block["summary"] = "auto"
        if block:
            body["reasoning"] = block
    fmt = request.response_format
    if fmt is not None:
        if fmt.type == "json_schema":
            spec: dict[str, Any] = {
                "type": "json_schema",
                "name": fmt.name or "response",
                "schema": dict(fmt.schema or {}),
            }
            if fmt.strict is not None:
                spec["strict"] = fmt.strict
            if fmt.description:
                spec["description"] = fmt.description
            body["text"] = {"format": spec}
        else:
            body["text"] = {"format": {"type": fmt.type}}
    if request.stream:
        body["stream"] = True
    if request.metadata:
        strings = {k: v for k, v in request.metadata.items() if isinstance(v, str)}
        if strings:
            body["metadata"] = strings
    extras = request.extras_for(WIRE)
    _merge(body, "text", extras.get("text"))
    _merge(body, "reasoning", extras.get("reasoning") if reasoning is not None else None)
    for key, value in extras.items():
        if key not in ("text", "reasoning"):
            body.setdefault(key, value)
    body.setdefault("store", False)
    if body["store"] is False and reasoning is not None and not reasoning.disabled:
        include = list(body.get("include") or ())
        if "reasoning.encrypted_content" not in include:
            include.append("reasoning.encrypted_content")
        body["include"] = include
    return body
