"""IR -> a Gemini ``generateContent`` request body (what a provider sends upstream).

* The system messages that open the conversation become ``systemInstruction`` (one part,
  their blocks a blank line apart); a later
  one (an instruction given mid-conversation) becomes, in place, a user-side text part
  marked as a system instruction. Assistant turns become ``model`` turns; tool results
  become ``functionResponse`` parts of a ``user`` turn, named after their call, ahead of
  any text in that turn. Consecutive turns of the same role are merged (Gemini wants them
  alternating).
* Tool schemas are cleaned to the subset Gemini accepts (:mod:`.schema`).
* Signatures: a part carries back only the Gemini ``thoughtSignature`` it came with;
  reasoning from other providers is dropped (Gemini cannot use it). Gemini 3 rejects a
  history whose function calls have no signature, which happens when the conversation
  began with another provider: such a turn gets the validator-skip value Google documents
  for that case. (Clients whose format has no field for a signature -- Anthropic,
  Responses -- bring Gemini's own back sealed, see :mod:`cliproxy.wire.sealed`.)
* Function-call ids go back only where Gemini issued them.
* Thinking follows :mod:`.thinking`; extras from a Gemini client are merged in last.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from cliproxy.ir import (
    BLOCK_SEPARATOR,
    FilePart,
    Message,
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
from cliproxy.wire.common import leading_system, system_note
from cliproxy.wire.gemini.common import WIRE, gemini_meta, model_generation, signature_of
from cliproxy.wire.gemini.parts import encode_call, encode_file, encode_text, with_fields
from cliproxy.wire.gemini.schema import clean_schema, function_parameters
from cliproxy.wire.gemini.thinking import thinking_config

__all__ = ["SKIP_SIGNATURE", "encode_request", "tool_response_object"]

SKIP_SIGNATURE = "skip_thought_signature_validator"
"""The ``thoughtSignature`` Google documents for function calls that Gemini did not make."""

MAX_STOP_SEQUENCES = 5


def tool_response_object(part: ToolResultPart) -> dict[str, Any]:
    """The ``functionResponse.response`` object for a tool result: the client's own object
    when a Gemini client sent it, else the text as ``{"output": ...}`` (a JSON object text
    is sent as that object), or ``{"error": ...}`` for a failed call."""
    original = gemini_meta(part.provider_metadata).get("response")
    if isinstance(original, Mapping):
        return dict(original)
    text = part.text
    if part.is_error:
        return {"error": text}
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            value = orjson.loads(stripped)
        except orjson.JSONDecodeError:
            value = None
        if isinstance(value, dict):
            return value
    return {"output": text}


class _Turns:
    """Builds ``contents``, merging consecutive turns of one role."""

    def __init__(self) -> None:
        self.contents: list[dict[str, Any]] = []

    def add(self, role: str, parts: list[dict[str, Any]]) -> None:
        if not parts:
            return  # Gemini rejects a turn without parts
        if self.contents and self.contents[-1]["role"] == role:
            self.contents[-1]["parts"].extend(parts)
        else:
            self.contents.append({"role": role, "parts": parts})


def _user_parts(parts: Iterable[Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, TextPart):
            encoded = encode_text(part)
            if encoded is not None:
                out.append(encoded)
        elif isinstance(part, FilePart):
            out.append(encode_file(part))
    return out


def _model_parts(parts: Iterable[Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, ReasoningPart):
            if signature_of(part.provider_metadata) is None:
                continue  # unsigned or foreign reasoning means nothing to Gemini
            encoded = encode_text(part)
        elif isinstance(part, TextPart):
            encoded = encode_text(part)
        elif isinstance(part, ToolCallPart):
            encoded = encode_call(part, with_id=False)
        elif isinstance(part, FilePart):
            encoded = encode_file(part)
        else:
            encoded = None
        if encoded is not None:
            out.append(encoded)
    return out


def _result_parts(
    parts: Iterable[Any],
    names: Mapping[str, str],
    gemini_ids: Mapping[str, str],
    inline_files: bool,
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    trailing: list[dict[str, Any]] = []
    for part in parts:
        if not isinstance(part, ToolResultPart):
            continue
        meta = gemini_meta(part.provider_metadata)
        response: dict[str, Any] = {
            "name": part.name or names.get(part.call_id) or part.call_id,
            "response": tool_response_object(part),
        }
        given = meta.get("id") or gemini_ids.get(part.call_id)
        if isinstance(given, str) and given:
            response["id"] = given
        extra = meta.get("responseFields")
        if isinstance(extra, Mapping):
            for key, value in extra.items():
                response.setdefault(key, value)
        files = [encode_file(p) for p in part.content if isinstance(p, FilePart)]
        if files and inline_files:
            response["parts"] = files  # Gemini 3 takes files inside the function response
        else:
            trailing.extend(files)  # older models take them beside it
        out.append(with_fields({"functionResponse": response}, part.provider_metadata))
    return out + trailing


def _sign_calls(contents: list[dict[str, Any]]) -> None:
    for content in contents:
        if content["role"] != "model":
            continue
        calls = [p for p in content["parts"] if "functionCall" in p]
        if calls and not any("thoughtSignature" in p for p in calls):
            calls[0]["thoughtSignature"] = SKIP_SIGNATURE


def _responses_first(contents: list[dict[str, Any]]) -> None:
    """Function responses open their user turn (a note or text merged in goes after them):
    Gemini wants the responses right after the turn of function calls."""
    for content in contents:
        parts = content["parts"]
        if content["role"] == "user" and any("functionResponse" in p for p in parts):
            content["parts"] = [p for p in parts if "functionResponse" in p] + [
                p for p in parts if "functionResponse" not in p
            ]


def _contents(messages: tuple[Message, ...], generation: float | None) -> list[dict[str, Any]]:
    turns = _Turns()
    names: dict[str, str] = {}
    gemini_ids: dict[str, str] = {}
    modern = generation is not None and generation >= 3
    leading = leading_system(messages)
    for i, message in enumerate(messages):
        if message.role == "system":
            text = message.joined_text
            if i >= leading and text:  # mid-conversation: a marked note on the user side, in place
                turns.add("user", [{"text": system_note(text)}])
        elif message.role == "user":
            turns.add("user", _user_parts(message.parts))
        elif message.role == "assistant":
            for part in message.parts:
                if isinstance(part, ToolCallPart):
                    names[part.id] = part.name
                    given = gemini_meta(part.provider_metadata).get("id")
                    if isinstance(given, str) and given:
                        gemini_ids[part.id] = given
            turns.add("model", _model_parts(message.parts))
        elif message.role == "tool":
            turns.add("user", _result_parts(message.parts, names, gemini_ids, modern))
    _responses_first(turns.contents)
    if modern:
        _sign_calls(turns.contents)
    return turns.contents


def _declaration(tool: Tool) -> dict[str, Any]:
    meta = gemini_meta(tool.provider_metadata)
    decl: dict[str, Any] = {"name": tool.name}
    if tool.description:
        decl["description"] = tool.description
    original = meta.get("parameters")
    if meta.get("field") == "parametersJsonSchema":
        decl["parametersJsonSchema"] = dict(tool.parameters)
    elif isinstance(original, Mapping):
        decl["parameters"] = dict(original)  # a Gemini client's own schema, already Gemini's
    else:
        params = function_parameters(tool.parameters)
        if params is not None:
            decl["parameters"] = params
    extra = meta.get("declarationFields")
    if isinstance(extra, Mapping):
        for key, value in extra.items():
            decl.setdefault(key, value)
    return decl


def _tools(tools: Iterable[Tool | ProviderTool]) -> list[dict[str, Any]]:
    declarations: list[dict[str, Any]] = []
    native: list[dict[str, Any]] = []
    for tool in tools:
        if isinstance(tool, Tool):
            declarations.append(_declaration(tool))
        elif tool.wire == WIRE:
            native.append(dict(tool.spec))
    out: list[dict[str, Any]] = [{"functionDeclarations": declarations}] if declarations else []
    return out + native


def _tool_config(choice: ToolChoice | None) -> dict[str, Any] | None:
    if choice is None:
        return None
    if choice.type == "tool":
        calling: dict[str, Any] = {"mode": "ANY", "allowedFunctionNames": [choice.name]}
    else:
        calling = {"mode": {"auto": "AUTO", "none": "NONE", "required": "ANY"}[choice.type]}
    return {"functionCallingConfig": calling}


def _response_format(fmt: ResponseFormat, config: dict[str, Any], given: Mapping[str, Any]) -> None:
    if fmt.type == "text":
        return
    config["responseMimeType"] = "application/json"
    if fmt.type == "json_schema" and fmt.schema and "responseSchema" not in given and "responseJsonSchema" not in given:
        config["responseSchema"] = clean_schema(fmt.schema)


def _generation_config(request: Request, model: str, given: Mapping[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for key, value in (
        ("temperature", request.temperature),
        ("topP", request.top_p),
        ("topK", request.top_k),
        ("maxOutputTokens", request.max_tokens),
        ("seed", request.seed),
        ("presencePenalty", request.presence_penalty),
        ("frequencyPenalty", request.frequency_penalty),
    ):
        if value is not None:
            config[key] = value
    if request.stop:
        config["stopSequences"] = list(request.stop[:MAX_STOP_SEQUENCES])
    if request.response_format is not None:
        _response_format(request.response_format, config, given)
    thinking = thinking_config(request.reasoning, model)
    if thinking is not None:
        config["thinkingConfig"] = thinking
    for key, value in given.items():
        config.setdefault(key, value)
    return config


def encode_request(request: Request, model: str) -> dict[str, Any]:
    extras = dict(request.extras_for(WIRE))
    body: dict[str, Any] = {"contents": _contents(request.messages, model_generation(model))}
    # One part, the blocks a blank line apart: Gemini runs the text of adjacent parts together.
    system = BLOCK_SEPARATOR.join(
        part.text
        for message in request.messages[: leading_system(request.messages)]
        for part in message.parts
        if isinstance(part, TextPart) and part.text
    )
    if system:
        body["systemInstruction"] = {"parts": [{"text": system}]}
    tools = _tools(request.tools)
    if tools:
        body["tools"] = tools
    given_tool_config = extras.pop("toolConfig", None)
    has_functions = any(isinstance(t, Tool) for t in request.tools)
    if given_tool_config is not None:
        body["toolConfig"] = given_tool_config
    elif has_functions:
        tool_config = _tool_config(request.tool_choice)
        if tool_config is not None:
            body["toolConfig"] = tool_config
    given_config = extras.pop("generationConfig", None)
    config = _generation_config(request, model, given_config if isinstance(given_config, Mapping) else {})
    if config:
        body["generationConfig"] = config
    for key, value in extras.items():
        body.setdefault(key, value)
    return body
