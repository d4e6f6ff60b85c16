"""Gemini client requests -> IR (``generateContent``, ``streamGenerateContent``, ``countTokens``).

* ``contents`` with roles ``user``/``model``; ``functionResponse`` parts of a user turn
  become a ``tool`` message placed before the rest of that turn.
* Function calls that have no ``id`` get ids from their position in the conversation, and
  each ``functionResponse`` is matched to its call by id, else by name in call order, so a
  tool result reaches providers that pair results with calls by id.
* ``thoughtSignature`` (on any part), ``thought`` parts, unmodelled part fields and
  code-execution parts are kept in ``provider_metadata["gemini"]``.
* Everything Gemini-only -- ``safetySettings``, ``cachedContent``, ``labels``, unmodelled
  ``generationConfig`` keys, a ``toolConfig`` the IR cannot express exactly -- rides in
  ``extras["gemini"]`` so it reaches a Gemini upstream unchanged.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Mapping
from typing import Any

import orjson
from cliproxy.errors import GatewayError
from cliproxy.ir import (
    FilePart,
    Message,
    Part,
    ProviderTool,
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
from cliproxy.wire.gemini.common import WIRE, generated_id
from cliproxy.wire.gemini.parts import render_code_part
from cliproxy.wire.gemini.schema import to_json_schema
from cliproxy.wire.gemini.thinking import decode_thinking

__all__ = ["decode_request", "normalize_keys", "tool_result_text"]

# Keys a part may carry beside its data; the rest of a part's keys are its data.
_PART_DATA = (
    "text",
    "inlineData",
    "fileData",
    "functionCall",
    "functionResponse",
    "executableCode",
    "codeExecutionResult",
)
_PART_KNOWN = frozenset({*_PART_DATA, "thought", "thoughtSignature"})
_GENERATION_MODELLED = frozenset(
    {
        "temperature",
        "topP",
        "topK",
        "maxOutputTokens",
        "stopSequences",
        "seed",
        "presencePenalty",
        "frequencyPenalty",
        "responseSchema",
        "responseJsonSchema",
        "thinkingConfig",
    }
)
_TOP_MODELLED = frozenset({"model", "contents", "systemInstruction", "tools", "toolConfig", "generationConfig"})
_RESULT_KEYS = ("output", "result", "content")


def _part_metadata(part: Mapping[str, Any], **known: Any) -> dict[str, dict[str, Any]] | None:
    meta: dict[str, Any] = {k: v for k, v in known.items() if v is not None}
    signature = part.get("thoughtSignature")
    if isinstance(signature, str) and signature:
        meta["thoughtSignature"] = signature
    extra = {k: v for k, v in part.items() if k not in _PART_KNOWN}
    if extra:
        meta["partFields"] = extra
    return {WIRE: meta} if meta else None


def _file(part: Mapping[str, Any], at: str) -> FilePart | None:
    inline = part.get("inlineData")
    if inline is not None:
        inline = c.expect_map(inline, at + ".inlineData")
        return FilePart(
            media_type=c.get_str(inline, "mimeType", at + ".inlineData.", required=True) or "",
            data=c.get_str(inline, "data", at + ".inlineData.", required=True),
            provider_metadata=_part_metadata(part),
        )
    linked = part.get("fileData")
    if linked is not None:
        linked = c.expect_map(linked, at + ".fileData")
        uri = c.get_str(linked, "fileUri", at + ".fileData.", required=True) or ""
        guessed = c.file_from_url(uri, default_type="application/octet-stream").media_type
        return FilePart(
            media_type=c.get_str(linked, "mimeType", at + ".fileData.") or guessed,
            url=uri,
            provider_metadata=_part_metadata(part),
        )
    return None


def tool_result_text(response: Any) -> tuple[str, bool]:
    """The text a ``functionResponse.response`` object stands for, and whether it is an
    error: ``{"output": "..."}`` -> its string, ``{"error": ...}`` -> an error, anything
    else -> its JSON."""
    if isinstance(response, Mapping) and len(response) == 1:
        ((key, value),) = response.items()
        if key in _RESULT_KEYS and isinstance(value, str):
            return value, False
        if key == "error":
            return (value if isinstance(value, str) else orjson.dumps(value).decode()), True
    return orjson.dumps(response if response is not None else {}).decode(), False


class _Calls:
    """Matches function responses to function calls across the conversation."""

    def __init__(self) -> None:
        self.by_id: dict[str, str] = {}  # call id -> name
        self.pending: dict[str, deque[str]] = defaultdict(deque)  # name -> unanswered ids
        self.answered: set[str] = set()

    def add(self, call_id: str, name: str) -> None:
        self.by_id[call_id] = name
        self.pending[name].append(call_id)

    def match(self, given: str | None, name: str, fallback: str) -> str:
        if given and given in self.by_id:
            self._answer(given, self.by_id[given])
            return given
        queue = self.pending.get(name)
        while queue:
            call_id = queue.popleft()
            if call_id not in self.answered:
                self.answered.add(call_id)
                return call_id
        return given or fallback

    def _answer(self, call_id: str, name: str) -> None:
        self.answered.add(call_id)
        queue = self.pending.get(name)
        if queue and call_id in queue:
            queue.remove(call_id)


def _model_parts(parts: list[Any], at: str, turn: int, calls: _Calls) -> list[Part]:
    out: list[Part] = []
    for i, raw in enumerate(parts):
        where = f"{at}[{i}]"
        part = c.expect_map(raw, where)
        call = part.get("functionCall")
        if call is not None:
            call = c.expect_map(call, where + ".functionCall")
            name = c.get_str(call, "name", where + ".functionCall.", required=True) or ""
            given = c.get_str(call, "id", where + ".functionCall.")
            args = call.get("args")
            if args is not None and not isinstance(args, dict):
                raise GatewayError.invalid(
                    f"'{where}.functionCall.args' must be an object",
                    param=where + ".functionCall.args",
                )
            call_id = given or generated_id(f"t{turn}", i)
            calls.add(call_id, name)
            out.append(ToolCallPart(call_id, name, orjson.dumps(args or {}).decode(), _part_metadata(part, id=given)))
            continue
        if part.get("functionResponse") is not None:
            raise GatewayError.invalid(
                f"'{where}.functionResponse' belongs in a turn with role 'user'",
                param=where + ".functionResponse",
            )
        text = part.get("text")
        if text is not None:
            if not isinstance(text, str):
                raise GatewayError.invalid(f"'{where}.text' must be a string", param=where + ".text")
            if part.get("thought") is True:
                out.append(ReasoningPart(text, _part_metadata(part)))
            else:
                out.append(TextPart(text, _part_metadata(part)))
            continue
        file = _file(part, where)
        if file is not None:
            out.append(file)
            continue
        rendered = render_code_part(part)
        if rendered is not None:
            out.append(TextPart(rendered, {WIRE: {"part": dict(part)}}))
        # Parts of unknown kinds carry nothing another provider could use.
    return out


def _user_parts(parts: list[Any], at: str, turn: int, calls: _Calls) -> tuple[list[ToolResultPart], list[Part]]:
    results: list[ToolResultPart] = []
    rest: list[Part] = []
    for i, raw in enumerate(parts):
        where = f"{at}[{i}]"
        part = c.expect_map(raw, where)
        response = part.get("functionResponse")
        if response is not None:
            results.append(
                _function_response(part, c.expect_map(response, where + ".functionResponse"), where, turn, i, calls)
            )
            continue
        if part.get("functionCall") is not None:
            raise GatewayError.invalid(
                f"'{where}.functionCall' is only allowed in turns with role 'model'", param=where
            )
        text = part.get("text")
        if text is not None:
            if not isinstance(text, str):
                raise GatewayError.invalid(f"'{where}.text' must be a string", param=where + ".text")
            if part.get("thought") is True:
                continue  # thoughts are the model's; a user turn has none to give
            rest.append(TextPart(text, _part_metadata(part)))
            continue
        file = _file(part, where)
        if file is not None:
            rest.append(file)
            continue
        rendered = render_code_part(part)
        if rendered is not None:
            rest.append(TextPart(rendered, {WIRE: {"part": dict(part)}}))
    return results, rest


def _function_response(
    part: Mapping[str, Any],
    response: Mapping[str, Any],
    where: str,
    turn: int,
    index: int,
    calls: _Calls,
) -> ToolResultPart:
    name = c.get_str(response, "name", where + ".functionResponse.", required=True) or ""
    given = c.get_str(response, "id", where + ".functionResponse.")
    body = response.get("response")
    if body is not None and not isinstance(body, dict):
        raise GatewayError.invalid(
            f"'{where}.functionResponse.response' must be an object",
            param=where + ".functionResponse.response",
        )
    text, is_error = tool_result_text(body)
    content: list[TextPart | FilePart] = [TextPart(text)]
    for j, sub in enumerate(c.get_list(response, "parts", where + ".functionResponse.")):
        file = _file(
            c.expect_map(sub, f"{where}.functionResponse.parts[{j}]"),
            f"{where}.functionResponse.parts[{j}]",
        )
        if file is not None:
            content.append(file)
    call_id = calls.match(given, name, generated_id(f"r{turn}", index))
    extra = {k: v for k, v in response.items() if k not in ("name", "id", "response", "parts")}
    meta: dict[str, Any] = {"response": body if body is not None else {}}
    if given:
        meta["id"] = given
    if extra:
        meta["responseFields"] = extra
    base = _part_metadata(part)
    if base:
        meta.update(base[WIRE])
    return ToolResultPart(call_id, content, is_error=is_error, name=name, provider_metadata={WIRE: meta})


def _system(raw: Any) -> Message | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        return Message("system", [TextPart(raw)]) if raw else None
    content = c.expect_map(raw, "systemInstruction")
    parts: list[TextPart] = []
    for i, item in enumerate(c.get_list(content, "parts", "systemInstruction.")):
        part = c.expect_map(item, f"systemInstruction.parts[{i}]")
        text = c.get_str(part, "text", f"systemInstruction.parts[{i}].")
        if text:
            parts.append(TextPart(text))
    return Message("system", parts) if parts else None


def _contents(raw: list[Any]) -> list[Message]:
    messages: list[Message] = []
    calls = _Calls()
    for turn, item in enumerate(raw):
        at = f"contents[{turn}]"
        content = c.expect_map(item, at)
        role = content.get("role") or "user"
        parts = c.get_list(content, "parts", at + ".")
        if role == "model":
            out = _model_parts(parts, at + ".parts", turn, calls)
            if out:
                messages.append(Message("assistant", out))
        elif role in ("user", "function", "tool"):
            results, rest = _user_parts(parts, at + ".parts", turn, calls)
            if results:
                if messages and messages[-1].role == "tool":
                    messages[-1] = Message("tool", [*messages[-1].parts, *results])
                else:
                    messages.append(Message("tool", results))
            if rest:
                messages.append(Message("user", rest))
        else:
            raise GatewayError.invalid(f"'{at}.role' must be 'user' or 'model', not {role!r}", param=at + ".role")
    return messages


def _declaration(raw: Any, where: str) -> Tool:
    decl = c.expect_map(raw, where)
    name = c.get_str(decl, "name", where + ".", required=True) or ""
    meta: dict[str, Any] = {}
    if decl.get("parametersJsonSchema") is not None:
        params = c.expect_map(decl["parametersJsonSchema"], where + ".parametersJsonSchema")
        meta["field"] = "parametersJsonSchema"
    elif decl.get("parameters") is not None:
        original = c.expect_map(decl["parameters"], where + ".parameters")
        params = to_json_schema(original)
        meta["parameters"] = original
    else:
        params = {"type": "object", "properties": {}}
    extra = {k: v for k, v in decl.items() if k not in ("name", "description", "parameters", "parametersJsonSchema")}
    if extra:
        meta["declarationFields"] = extra
    return Tool(
        name=name,
        description=c.get_str(decl, "description", where + "."),
        parameters=dict(params),
        provider_metadata={WIRE: meta} if meta else None,
    )


def _tools(raw: list[Any]) -> list[Tool | ProviderTool]:
    tools: list[Tool | ProviderTool] = []
    for i, item in enumerate(raw):
        where = f"tools[{i}]"
        entry = c.expect_map(item, where)
        for key, value in entry.items():
            if key in ("functionDeclarations", "function_declarations"):
                for j, decl in enumerate(c.get_list(entry, key, where + ".")):
                    tools.append(_declaration(decl, f"{where}.{key}[{j}]"))
            else:
                # googleSearch, codeExecution, urlContext, ...: only Gemini can run them.
                tools.append(ProviderTool(WIRE, {key: value}))
    return tools


def _tool_choice(raw: Any) -> tuple[ToolChoice | None, bool]:
    """The IR choice, and whether it says everything the client's ``toolConfig`` says."""
    if raw is None:
        return None, True
    config = c.expect_map(raw, "toolConfig")
    calling = config.get("functionCallingConfig")
    if calling is None:
        return None, not config
    calling = c.expect_map(calling, "toolConfig.functionCallingConfig")
    mode = (c.get_str(calling, "mode", "toolConfig.functionCallingConfig.") or "AUTO").upper()
    names = c.get_list(calling, "allowedFunctionNames", "toolConfig.functionCallingConfig.")
    exact = len(config) == 1 and set(calling) <= {"mode", "allowedFunctionNames"}
    if mode == "NONE":
        return ToolChoice("none"), exact and not names
    if mode == "ANY":
        if len(names) == 1 and isinstance(names[0], str):
            return ToolChoice("tool", names[0]), exact
        return ToolChoice("required"), exact and not names
    if mode in ("AUTO", "MODE_UNSPECIFIED"):
        return ToolChoice("auto"), exact and not names
    if mode == "VALIDATED":
        return ToolChoice("auto"), False
    raise GatewayError.invalid(
        f"'toolConfig.functionCallingConfig.mode' must be AUTO, ANY, NONE or VALIDATED; got {mode!r}",
        param="toolConfig.functionCallingConfig.mode",
    )


def _response_format(config: Mapping[str, Any]) -> ResponseFormat | None:
    mime = c.get_str(config, "responseMimeType", "generationConfig.")
    json_schema = config.get("responseJsonSchema")
    schema = config.get("responseSchema")
    if json_schema is not None:
        return ResponseFormat(
            "json_schema",
            schema=dict(c.expect_map(json_schema, "generationConfig.responseJsonSchema")),
        )
    if schema is not None:
        return ResponseFormat(
            "json_schema",
            schema=to_json_schema(c.expect_map(schema, "generationConfig.responseSchema")),
        )
    if mime == "application/json":
        return ResponseFormat("json_object")
    return None


def _stop(config: Mapping[str, Any]) -> tuple[str, ...]:
    values = c.get_list(config, "stopSequences", "generationConfig.")
    if not all(isinstance(v, str) for v in values):
        raise GatewayError.invalid(
            "'generationConfig.stopSequences' must be an array of strings",
            param="generationConfig.stopSequences",
        )
    return tuple(values)


# -- snake_case spellings -------------------------------------------------------------------------
# Gemini reads proto field names in either spelling, and clients use both: google-genai
# sends ``thinkingConfig`` as ``{"thinking_budget": ..., "include_thoughts": ...}``. Keys
# are normalised to camelCase where the request's structure is fixed, never inside
# free-form values (schemas, arguments, responses).


def _camel(key: str) -> str:
    if "_" not in key or key[0] in "_$":
        return key
    head, *rest = key.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def _keys(obj: Any) -> Any:
    if not isinstance(obj, Mapping):
        return obj
    return {_camel(k) if isinstance(k, str) else k: v for k, v in obj.items()}


_PART_OBJECTS = (
    "inlineData",
    "fileData",
    "functionCall",
    "functionResponse",
    "executableCode",
    "codeExecutionResult",
)


def _content(obj: Any) -> Any:
    content = _keys(obj)
    if isinstance(content, dict) and isinstance(content.get("parts"), list):
        parts = []
        for raw in content["parts"]:
            part = _keys(raw)
            if isinstance(part, dict):
                for key in _PART_OBJECTS:
                    if key in part:
                        part[key] = _keys(part[key])
            parts.append(part)
        content["parts"] = parts
    return content


def normalize_keys(body: Mapping[str, Any]) -> dict[str, Any]:
    """``body`` with its structural keys in camelCase (see above)."""
    out: dict[str, Any] = _keys(body)
    if isinstance(out.get("contents"), list):
        out["contents"] = [_content(item) for item in out["contents"]]
    if "systemInstruction" in out:
        out["systemInstruction"] = _content(out["systemInstruction"])
    if isinstance(out.get("tools"), list):
        tools = []
        for raw in out["tools"]:
            tool = _keys(raw)
            if isinstance(tool, dict) and isinstance(tool.get("functionDeclarations"), list):
                tool["functionDeclarations"] = [_keys(d) for d in tool["functionDeclarations"]]
            tools.append(tool)
        out["tools"] = tools
    if isinstance(out.get("toolConfig"), Mapping):
        config = out["toolConfig"] = _keys(out["toolConfig"])
        if "functionCallingConfig" in config:
            config["functionCallingConfig"] = _keys(config["functionCallingConfig"])
    if isinstance(out.get("generationConfig"), Mapping):
        config = out["generationConfig"] = _keys(out["generationConfig"])
        if "thinkingConfig" in config:
            config["thinkingConfig"] = _keys(config["thinkingConfig"])
    if isinstance(out.get("generateContentRequest"), Mapping):
        out["generateContentRequest"] = normalize_keys(out["generateContentRequest"])
    return out


def decode_request(body: Mapping[str, Any], *, model: str | None = None, stream: bool | None = None) -> Request:
    body = normalize_keys(body)
    inner = body.get("generateContentRequest")
    if isinstance(inner, dict) and "contents" not in body:
        body = inner  # countTokens with a whole request inside
    contents = c.get_list(body, "contents", "", required=True)
    messages = _contents(contents)
    system = _system(body.get("systemInstruction"))
    if system is not None:
        messages.insert(0, system)
    config = c.get_map(body, "generationConfig", "") or {}
    choice, exact = _tool_choice(body.get("toolConfig"))
    extras: dict[str, Any] = {k: v for k, v in body.items() if k not in _TOP_MODELLED}
    leftover = {k: v for k, v in config.items() if k not in _GENERATION_MODELLED}
    if leftover.get("responseMimeType") == "application/json":
        del leftover["responseMimeType"]  # the IR's response format says it
    # Gemini-dialect schemas round-trip verbatim (the IR holds them as JSON Schema).
    for key in ("responseSchema", "responseJsonSchema"):
        if key in config:
            leftover[key] = config[key]
    if leftover:
        extras["generationConfig"] = leftover
    if not exact:
        extras["toolConfig"] = body["toolConfig"]
    name = model or c.get_str(body, "model", "", required=True) or ""
    return Request(
        model=name.removeprefix("models/"),
        messages=messages,
        tools=_tools(c.get_list(body, "tools", "")),
        tool_choice=choice,
        max_tokens=c.get_int(config, "maxOutputTokens", "generationConfig."),
        temperature=c.get_number(config, "temperature", "generationConfig."),
        top_p=c.get_number(config, "topP", "generationConfig."),
        top_k=c.get_int(config, "topK", "generationConfig."),
        stop=_stop(config),
        seed=c.get_int(config, "seed", "generationConfig."),
        frequency_penalty=c.get_number(config, "frequencyPenalty", "generationConfig."),
        presence_penalty=c.get_number(config, "presencePenalty", "generationConfig."),
        reasoning=decode_thinking(config.get("thinkingConfig"), "generationConfig.thinkingConfig"),
        response_format=_response_format(config),
        stream=bool(stream),
        extras={WIRE: extras} if extras else {},
    )
