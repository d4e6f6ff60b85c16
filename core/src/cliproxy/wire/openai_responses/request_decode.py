"""Client side: a ``POST /v1/responses`` body decoded into the IR.

Decoding is stateless. Whatever refers to state an OpenAI account keeps --
``previous_response_id``, ``conversation``, ``prompt`` templates, ``item_reference``
input items, ``file_id`` attachments, ``background`` runs -- cannot be decoded; decoding
raises a 400 that says so. The Responses door resolves a ``previous_response_id`` the
gateway kept before decoding (:mod:`cliproxy.responses_door`), so the id only gets here
when the store is turned off. A Responses client talking to a Responses upstream never
gets here (its body passes through untouched, model renamed), so those fields still work
when the model is served by a Responses upstream.

A reasoning item whose sealed ``encrypted_content`` names a call id is a carrier the
gateway sent (:mod:`cliproxy.wire.sealed`): its values go back on that tool call; one
sealed for a text part puts them back on the text part just before it.
:func:`forwarded_body` takes sealed items out of a body passed through to a Responses
upstream.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from cliproxy.errors import GatewayError
from cliproxy.ir import (
    FilePart,
    Message,
    Metadata,
    Part,
    ProviderTool,
    Reasoning,
    ReasoningPart,
    Request,
    ResponseFormat,
    TextPart,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
)
from cliproxy.wire import common as c
from cliproxy.wire import sealed
from cliproxy.wire.openai_responses import namespaces as ns
from cliproxy.wire.openai_responses.common import (
    CUSTOM_INPUT_SCHEMA,
    WIRE,
    custom_arguments,
    reasoning_metadata,
)

__all__ = ["decode_request", "forwarded_body"]

# Request keys decoded into IR fields; every other key rides in extras["openai-responses"].
_MODELLED = frozenset(
    {
        "model",
        "instructions",
        "input",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "max_output_tokens",
        "temperature",
        "top_p",
        "reasoning",
        "text",
        "stream",
        "metadata",
    }
)
_STATEFUL = {
    "previous_response_id": "continues a response stored by OpenAI",
    "conversation": "continues a conversation stored by OpenAI",
    "prompt": "names a prompt template stored by OpenAI",
}
# Records of tools the upstream ran itself; their results are in the messages around them.
_SERVER_RECORDS = frozenset(
    {
        "web_search_call",
        "file_search_call",
        "code_interpreter_call",
        "image_generation_call",
        "mcp_call",
        "mcp_list_tools",
        "tool_search_call",
        "tool_search_output",
    }
)
_HOW_TO_FIX = (
    "The gateway is stateless and this model is not served by an OpenAI Responses upstream; "
    "send the whole conversation in 'input' instead (with store: false)"
)


def _stateful(what: str, param: str) -> GatewayError:
    return GatewayError.invalid(f"'{param}' {what}. {_HOW_TO_FIX}.", param=param)


# -- content --------------------------------------------------------------------------------


def _detail(part: FilePart, detail: Any) -> FilePart:
    if not isinstance(detail, str) or not detail:
        return part
    # "detail" means the same to both OpenAI wires; the Chat encoder reads its own key.
    meta = {WIRE: {"detail": detail}, "openai-chat": {"detail": detail}}
    return FilePart(part.media_type, part.data, part.url, part.filename, meta)


def _file_part(item: Mapping[str, Any], at: str) -> FilePart:
    if item.get("file_id"):
        raise _stateful("refers to a file stored by OpenAI", f"{at}.file_id")
    name = c.get_str(item, "filename", at + ".")
    data = c.get_str(item, "file_data", at + ".")
    if data:
        part = c.file_from_url(data, default_type="application/octet-stream", filename=name)
        if part.url and not part.data:  # bare base64 without a data: header
            part = FilePart("application/pdf", data=data, filename=name)
        return part
    url = c.get_str(item, "file_url", at + ".")
    if url:
        return c.file_from_url(url, default_type="application/pdf", filename=name)
    raise GatewayError.invalid(f"'{at}' needs 'file_data' (a data: URL) or 'file_url'", param=at)


def _content(content: Any, where: str) -> list[TextPart | FilePart]:
    """Input content: a string, or a list of input_text / input_image / input_file parts."""
    if content is None:
        return []
    if isinstance(content, str):
        return [TextPart(content)]
    if not isinstance(content, list):
        raise GatewayError.invalid(
            f"'{where}' must be a string or an array of content parts, not {c.kind_of(content)}", param=where
        )
    parts: list[TextPart | FilePart] = []
    for i, item in enumerate(content):
        at = f"{where}[{i}]"
        item = c.expect_map(item, at)
        kind = item.get("type")
        if kind in ("input_text", "output_text", "text", "summary_text", "reasoning_text"):
            parts.append(TextPart(c.get_str(item, "text", at + ".", required=True) or ""))
        elif kind == "refusal":
            parts.append(TextPart(c.get_str(item, "refusal", at + ".") or "", {WIRE: {"refusal": True}}))
        elif kind == "input_image":
            if item.get("file_id") and not item.get("image_url"):
                raise _stateful("refers to a file stored by OpenAI", f"{at}.file_id")
            url = c.get_str(item, "image_url", at + ".", required=True) or ""
            parts.append(_detail(c.file_from_url(url), item.get("detail")))
        elif kind == "input_file":
            parts.append(_file_part(item, at))
        else:
            raise GatewayError.invalid(
                f"'{at}.type' {kind!r} is not a supported content part type "
                "(input_text, input_image, input_file, output_text, refusal)",
                param=f"{at}.type",
            )
    return parts


def _assistant_content(content: Any, where: str, meta: dict[str, Any] | None) -> list[Part]:
    parts: list[Part] = []
    for part in _content(content, where):
        if isinstance(part, TextPart):
            merged = dict(meta or {})
            merged.update((part.provider_metadata or {}).get(WIRE) or {})
            parts.append(TextPart(part.text, {WIRE: merged} if merged else None))
    return parts


def _tool_output(output: Any, where: str) -> list[TextPart | FilePart]:
    if isinstance(output, str):
        return [TextPart(output)] if output else []
    return _content(output, where)


# -- input items ----------------------------------------------------------------------------


class _Conversation:
    """Builds IR messages from input items: consecutive assistant-side items (reasoning,
    messages, calls) form one assistant turn, consecutive outputs one tool turn."""

    def __init__(self, namespaced: Mapping[tuple[str, str], str]) -> None:
        self.namespaced = namespaced  # (namespace, name) -> the flat name of a namespace tool
        self.messages: list[Message] = []
        self._pending: list[Part] = []
        self._pending_role: str | None = None
        self.names: dict[str, str] = {}
        self.custom_calls: set[str] = set()
        self.carriers: dict[str, Metadata] = {}  # call id -> metadata a carrier item sealed for it

    def add(self, role: str, parts: list[Part]) -> None:
        if role in ("assistant", "tool"):
            if self._pending_role != role:
                self.flush()
                self._pending_role = role
            self._pending.extend(parts)
            return
        self.flush()
        self.messages.append(Message(role, parts))  # type: ignore[arg-type]

    def text_carrier(self, metadata: Metadata) -> None:
        """A text carrier's values, on the assistant text part just before it."""
        if self._pending_role != "assistant":
            self.add("assistant", [])
        sealed.attach_text(self._pending, metadata)

    def flush(self) -> None:
        if self._pending_role is not None:
            self.messages.append(Message(self._pending_role, self._pending))  # type: ignore[arg-type]
        self._pending = []
        self._pending_role = None


def _message_item(item: Mapping[str, Any], at: str, conv: _Conversation) -> None:
    role = item.get("role")
    if role in ("system", "developer"):
        conv.add("system", [p for p in _content(item.get("content"), at + ".content") if isinstance(p, TextPart)])
    elif role == "user":
        conv.add("user", list(_content(item.get("content"), at + ".content")))
    elif role == "assistant":
        meta: dict[str, Any] = {}
        if isinstance(item.get("id"), str) and item["id"]:
            meta["id"] = item["id"]
        if isinstance(item.get("phase"), str):
            meta["phase"] = item["phase"]
        conv.add("assistant", _assistant_content(item.get("content"), at + ".content", meta or None))
    else:
        raise GatewayError.invalid(
            f"'{at}.role' must be one of user, assistant, system, developer; got {role!r}", param=f"{at}.role"
        )


def _arguments(item: Mapping[str, Any], at: str) -> str:
    arguments = item.get("arguments")
    if arguments is None or arguments == "":
        return "{}"
    if isinstance(arguments, str):
        return arguments
    if isinstance(arguments, dict):
        return orjson.dumps(arguments).decode()
    raise GatewayError.invalid(f"'{at}.arguments' must be a JSON string", param=f"{at}.arguments")


def _call_id(item: Mapping[str, Any], at: str) -> str:
    call_id = c.get_str(item, "call_id", at + ".")
    if not call_id:
        raise GatewayError.invalid(f"'{at}.call_id' is required", param=f"{at}.call_id")
    return call_id


def _item(item: Mapping[str, Any], at: str, conv: _Conversation) -> None:
    kind = item.get("type", "message")
    if kind == "message":
        _message_item(item, at, conv)
    elif kind == "function_call":
        call_id = _call_id(item, at)
        name = c.get_str(item, "name", at + ".", required=True) or ""
        namespace = c.get_str(item, "namespace", at + ".")
        meta = None
        if namespace:  # a call to a namespace member: flattened as its tool was
            meta = ns.call_metadata(namespace, name)
            name = conv.namespaced.get((namespace, name)) or ns.flat_name(namespace, name)
        conv.names[call_id] = name
        conv.add("assistant", [ToolCallPart(call_id, name, _arguments(item, at), meta)])
    elif kind == "custom_tool_call":
        call_id = _call_id(item, at)
        name = c.get_str(item, "name", at + ".", required=True) or ""
        conv.names[call_id] = name
        conv.custom_calls.add(call_id)
        text = c.get_str(item, "input", at + ".") or ""
        conv.add("assistant", [ToolCallPart(call_id, name, custom_arguments(text), {WIRE: {"custom": True}})])
    elif kind in ("function_call_output", "custom_tool_call_output"):
        call_id = _call_id(item, at)
        content = _tool_output(item.get("output"), at + ".output")
        meta = {WIRE: {"custom": True}} if kind == "custom_tool_call_output" else None
        conv.add("tool", [ToolResultPart(call_id, content, name=conv.names.get(call_id), provider_metadata=meta)])
    elif kind == "reasoning":
        carrier = sealed.unseal(item.get("encrypted_content"))
        if carrier is not None and carrier.call_id is not None:
            conv.carriers[carrier.call_id] = carrier.metadata  # a tool call's, not reasoning
            return
        if carrier is not None and carrier.text:
            conv.text_carrier(carrier.metadata)  # the text part's before it
            return
        summary = c.get_list(item, "summary", at + ".")
        texts = [s["text"] for s in summary if isinstance(s, dict) and isinstance(s.get("text"), str)]
        if not texts:
            raw = item.get("content")
            texts = [p["text"] for p in raw or () if isinstance(p, dict) and isinstance(p.get("text"), str)]
        meta = reasoning_metadata(item.get("id"), item.get("encrypted_content"))
        conv.add("assistant", [ReasoningPart("\n\n".join(texts), meta)])
    elif kind == "item_reference":
        raise _stateful("refers to an item stored by OpenAI", f"{at}.id")
    elif kind in _SERVER_RECORDS:
        return  # the upstream ran it; nothing another upstream can replay
    else:
        raise GatewayError.invalid(
            f"'{at}.type' {kind!r} is not an input item type the gateway can translate "
            "(message, function_call, function_call_output, custom_tool_call, custom_tool_call_output, "
            f"reasoning). {_HOW_TO_FIX.split(';')[0]}.",
            param=f"{at}.type",
        )


def _messages(body: Mapping[str, Any], namespaced: Mapping[tuple[str, str], str]) -> list[Message]:
    conv = _Conversation(namespaced)
    instructions = body.get("instructions")
    if instructions is not None and not isinstance(instructions, str):
        raise GatewayError.invalid(
            f"'instructions' must be a string, not {c.kind_of(instructions)}", param="instructions"
        )
    if instructions:
        conv.add("system", [TextPart(instructions)])
    raw = body.get("input")
    if isinstance(raw, str):
        conv.add("user", [TextPart(raw)])
    elif isinstance(raw, list):
        for i, item in enumerate(raw):
            _item(c.expect_map(item, f"input[{i}]"), f"input[{i}]", conv)
    elif raw is not None:
        raise GatewayError.invalid(
            f"'input' must be a string or an array of items, not {c.kind_of(raw)}", param="input"
        )
    conv.flush()
    if not conv.messages:
        raise GatewayError.invalid(
            "'input' is required: send the conversation as a string or an array of items", param="input"
        )
    return sealed.restore_calls(conv.messages, conv.carriers)


# -- tools and options ------------------------------------------------------------------------


def _function(item: Mapping[str, Any], at: str) -> Tool:
    params = item.get("parameters")
    if params is not None and not isinstance(params, dict):
        raise GatewayError.invalid(f"'{at}.parameters' must be a JSON Schema object", param=f"{at}.parameters")
    return Tool(
        name=c.get_str(item, "name", at + ".", required=True) or "",
        description=c.get_str(item, "description", at + "."),
        parameters=params or {"type": "object", "properties": {}},
        strict=c.get_bool(item, "strict", at + "."),
    )


def _namespace(item: Mapping[str, Any], at: str, names: Mapping[tuple[str, str], str]) -> list[Tool]:
    """A namespace's function tools, each under its flat name (:mod:`.namespaces`)."""
    namespace = c.get_str(item, "name", at + ".", required=True) or ""
    out: list[Tool] = []
    for j, member in enumerate(c.get_list(item, "tools", at + ".")):
        where = f"{at}.tools[{j}]"
        member = c.expect_map(member, where)
        if member.get("type", "function") != "function":
            raise GatewayError.invalid(
                f"'{where}.type' must be 'function' (a namespace holds function tools); got {member.get('type')!r}",
                param=f"{where}.type",
            )
        tool = _function(member, where)
        flat = names.get((namespace, tool.name)) or ns.flat_name(namespace, tool.name)
        out.append(ns.member_tool(item, member, tool, flat))
    return out


def _tools(raw: list[Any], names: Mapping[tuple[str, str], str]) -> list[Tool | ProviderTool]:
    tools: list[Tool | ProviderTool] = []
    for i, item in enumerate(raw):
        at = f"tools[{i}]"
        item = c.expect_map(item, at)
        kind = item.get("type")
        if kind == "function":
            tools.append(_function(item, at))
        elif kind == "namespace":
            tools.extend(_namespace(item, at, names))
        elif kind == "custom":
            # Other upstreams get a function taking {"input": "..."}; Responses ones the spec.
            schema: dict[str, Any] = orjson.loads(orjson.dumps(CUSTOM_INPUT_SCHEMA))
            fmt = item.get("format")
            if isinstance(fmt, dict) and isinstance(fmt.get("definition"), str):
                schema["properties"]["input"]["description"] = (
                    f"The tool's free-form input, in this {fmt.get('syntax', '')} grammar:\n{fmt['definition']}"
                )
            tools.append(
                Tool(
                    name=c.get_str(item, "name", at + ".", required=True) or "",
                    description=c.get_str(item, "description", at + "."),
                    parameters=schema,
                    provider_metadata={WIRE: {"custom": dict(item)}},
                )
            )
        else:
            tools.append(ProviderTool(WIRE, item))
    return tools


def _tool_choice(raw: Any, namespaced: Mapping[tuple[str, str], str]) -> ToolChoice | None:
    if raw is None:
        return None
    if raw in ("auto", "none", "required"):
        return ToolChoice(raw)
    if isinstance(raw, dict):
        kind = raw.get("type")
        if kind in ("function", "custom") and isinstance(raw.get("name"), str) and raw["name"]:
            namespace = raw.get("namespace")
            if isinstance(namespace, str) and namespace:
                pair = (namespace, raw["name"])
                return ToolChoice("tool", namespaced.get(pair) or ns.flat_name(*pair))
            return ToolChoice("tool", raw["name"])
        if kind == "allowed_tools":
            return ToolChoice("required" if raw.get("mode") == "required" else "auto")
        if isinstance(kind, str):
            return ToolChoice("required")  # a built-in tool: the nearest thing other wires know
    raise GatewayError.invalid(
        "'tool_choice' must be 'auto', 'none', 'required' or {\"type\": \"function\", \"name\": ...}",
        param="tool_choice",
    )


def _reasoning(raw: Any) -> Reasoning | None:
    if raw is None:
        return None
    raw = c.expect_map(raw, "reasoning")
    effort = c.get_str(raw, "effort", "reasoning.")
    summary = c.get_str(raw, "summary", "reasoning.") or c.get_str(raw, "generate_summary", "reasoning.")
    if effort is None and summary is None:
        return None
    return Reasoning(effort=effort, summary=summary)


def _response_format(text: Mapping[str, Any] | None) -> ResponseFormat | None:
    fmt = c.get_map(text or {}, "format", "text.")
    if fmt is None:
        return None
    kind = fmt.get("type")
    if kind == "json_schema":
        schema = fmt.get("schema")
        if schema is not None and not isinstance(schema, dict):
            raise GatewayError.invalid("'text.format.schema' must be a JSON Schema object", param="text.format.schema")
        return ResponseFormat(
            "json_schema",
            schema=schema,
            name=c.get_str(fmt, "name", "text.format."),
            strict=c.get_bool(fmt, "strict", "text.format."),
            description=c.get_str(fmt, "description", "text.format."),
        )
    if kind in ("json_object", "text"):
        return ResponseFormat(kind)
    raise GatewayError.invalid(
        f"'text.format.type' {kind!r} must be text, json_object or json_schema", param="text.format.type"
    )


def decode_request(body: Mapping[str, Any], *, model: str | None = None, stream: bool | None = None) -> Request:
    for key, what in _STATEFUL.items():
        if body.get(key):
            raise _stateful(what, key)
    if body.get("background") is True:
        raise GatewayError.invalid(
            "'background' responses are stored and polled on OpenAI's side; the gateway serves them only "
            "from a Responses upstream. Stream the response instead (stream: true)",
            param="background",
        )
    text = c.get_map(body, "text", "")
    extras: dict[str, Any] = {k: v for k, v in body.items() if k not in _MODELLED}
    if text is not None and any(k != "format" for k in text):
        extras["text"] = {k: v for k, v in text.items() if k != "format"}
    reasoning = c.get_map(body, "reasoning", "")
    if reasoning is not None and any(k not in ("effort", "summary", "generate_summary") for k in reasoning):
        extras["reasoning"] = {k: v for k, v in reasoning.items() if k not in ("effort", "summary", "generate_summary")}
    metadata = c.get_map(body, "metadata", "")
    raw_tools = c.get_list(body, "tools", "")
    namespaced = ns.flat_names(raw_tools)
    return Request(
        model=model or c.get_str(body, "model", "", required=True) or "",
        messages=_messages(body, namespaced),
        tools=_tools(raw_tools, namespaced),
        tool_choice=_tool_choice(body.get("tool_choice"), namespaced),
        parallel_tool_calls=c.get_bool(body, "parallel_tool_calls"),
        max_tokens=c.get_int(body, "max_output_tokens"),
        temperature=c.get_number(body, "temperature"),
        top_p=c.get_number(body, "top_p"),
        reasoning=_reasoning(reasoning),
        response_format=_response_format(text),
        stream=bool(c.get_bool(body, "stream")) if stream is None else stream,
        metadata=dict(metadata) if metadata else None,
        extras={WIRE: extras} if extras else {},
    )


def _sealed_item(item: Any) -> bool:
    return (
        isinstance(item, dict) and item.get("type") == "reasoning" and sealed.is_sealed(item.get("encrypted_content"))
    )


def forwarded_body(body: Mapping[str, Any]) -> Mapping[str, Any]:
    """A client's body as passed through to a Responses upstream: without the reasoning
    items the gateway sealed (other providers' values, which OpenAI cannot decrypt);
    ``body`` itself when it has none."""
    items = body.get("input")
    if not isinstance(items, list) or not any(_sealed_item(x) for x in items):
        return body
    return {**body, "input": [x for x in items if not _sealed_item(x)]}
