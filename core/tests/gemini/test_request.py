"""Gemini requests <-> IR: what a Gemini client sends, what a Gemini upstream receives."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from cliproxy.errors import GatewayError
from cliproxy.ir import (
    FilePart,
    Message,
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
from cliproxy.wire.gemini import Gemini
from cliproxy.wire.gemini.request_encode import SKIP_SIGNATURE
from hypothesis import given, settings
from hypothesis import strategies as st

GEMINI = Gemini()


def constructed(recording) -> dict[str, Any]:
    body = json.loads(recording("gemini/CONSTRUCTED-request-generateContent-tools-thinking.json").read_text())
    body.pop("_comment")
    return body


# -- decoding what Gemini clients send -----------------------------------------------------------


def test_decodes_the_constructed_request(recording) -> None:
    request = GEMINI.decode_request(constructed(recording), model="gemini-2.5-flash", stream=False)
    system, user, assistant, tool = request.messages
    assert system == Message("system", [TextPart("You are a helpful assistant.")])
    assert user.role == "user" and isinstance(user.parts[1], FilePart) and user.parts[1].media_type == "image/png"
    (call,) = assistant.parts
    assert (
        isinstance(call, ToolCallPart)
        and call.name == "get_weather"
        and json.loads(call.arguments) == {"city": "Paris"}
    )
    assert call.provider_metadata["gemini"]["thoughtSignature"].startswith("<opaque base64")
    (result,) = tool.parts
    assert isinstance(result, ToolResultPart) and result.call_id == call.id and result.name == "get_weather"
    assert json.loads(result.text) == {"temp_c": 18, "sky": "cloudy"}
    (tool_def,) = request.tools
    assert tool_def.name == "get_weather"
    assert tool_def.parameters == {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    }
    assert request.tool_choice == ToolChoice("auto")
    assert (request.temperature, request.max_tokens, request.stop) == (0.7, 2048, ("\n\nUser:",))
    assert request.reasoning == Reasoning(budget_tokens=1024, include_thoughts=True)
    assert request.extras["gemini"]["safetySettings"] == [
        {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "threshold": "BLOCK_NONE"}
    ]
    assert request.extras["gemini"]["generationConfig"] == {"responseMimeType": "text/plain"}


def test_function_calls_without_ids_get_stable_ids_and_results_find_their_call() -> None:
    body = {
        "contents": [
            {"role": "user", "parts": [{"text": "weather in two cities, then the time"}]},
            {
                "role": "model",
                "parts": [
                    {"functionCall": {"name": "weather", "args": {"city": "Paris"}}},
                    {"functionCall": {"name": "weather", "args": {"city": "Rome"}}},
                    {"functionCall": {"name": "clock", "args": {}}},
                ],
            },
            {
                "role": "user",
                "parts": [
                    {"functionResponse": {"name": "clock", "response": {"output": "noon"}}},
                    {"functionResponse": {"name": "weather", "response": {"output": "sunny"}}},
                    {"functionResponse": {"name": "weather", "response": {"error": "no data"}}},
                    {"text": "thanks"},
                ],
            },
        ]
    }
    first = GEMINI.decode_request(body, model="m")
    again = GEMINI.decode_request(body, model="m")
    calls = first.messages[1].parts
    results = first.messages[2].parts
    assert [c.id for c in calls] == [c.id for c in again.messages[1].parts]  # deterministic
    assert len({c.id for c in calls}) == 3
    paris, rome, clock = (c.id for c in calls)
    assert [(r.call_id, r.text, r.is_error) for r in results] == [
        (clock, "noon", False),
        (paris, "sunny", False),
        (rome, "no data", True),
    ]
    assert first.messages[3] == Message("user", [TextPart("thanks")])


def test_explicit_ids_are_used_and_kept_for_gemini() -> None:
    body = {
        "contents": [
            {
                "role": "model",
                "parts": [{"functionCall": {"id": "call_9", "name": "f", "args": {}}}],
            },
            {
                "role": "user",
                "parts": [
                    {
                        "functionResponse": {
                            "id": "call_9",
                            "name": "f",
                            "response": {"result": "ok"},
                        }
                    }
                ],
            },
        ]
    }
    request = GEMINI.decode_request(body, model="m")
    assert request.messages[0].parts[0].id == "call_9" and request.messages[1].parts[0].call_id == "call_9"
    encoded = GEMINI.encode_request(request, "gemini-2.5-flash")
    assert encoded["contents"][0]["parts"][0]["functionCall"]["id"] == "call_9"
    assert encoded["contents"][1]["parts"][0]["functionResponse"]["id"] == "call_9"


def test_gemini_only_tools_and_tool_config() -> None:
    body = {
        "contents": [{"role": "user", "parts": [{"text": "search"}]}],
        "tools": [
            {
                "functionDeclarations": [
                    {
                        "name": "f",
                        "parametersJsonSchema": {"type": "object", "additionalProperties": True},
                    }
                ]
            },
            {"googleSearch": {}},
            {"codeExecution": {}},
        ],
        "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["f", "g"]}},
    }
    request = GEMINI.decode_request(body, model="m")
    assert request.tools[1:] == (
        ProviderTool("gemini", {"googleSearch": {}}),
        ProviderTool("gemini", {"codeExecution": {}}),
    )
    assert request.tool_choice == ToolChoice("required")
    assert request.extras["gemini"]["toolConfig"] == body["toolConfig"]  # two names: only Gemini can say it
    single = GEMINI.decode_request(
        {
            **body,
            "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["f"]}},
        },
        model="m",
    )
    assert single.tool_choice == ToolChoice("tool", "f") and "toolConfig" not in single.extras.get("gemini", {})
    validated = GEMINI.decode_request(
        {**body, "toolConfig": {"functionCallingConfig": {"mode": "VALIDATED"}}}, model="m"
    )
    assert validated.tool_choice == ToolChoice("auto") and validated.extras["gemini"]["toolConfig"]


def test_response_schemas_and_thinking_levels() -> None:
    body = {
        "contents": [{"parts": [{"text": "json please"}]}],
        "generationConfig": {
            "responseMimeType": "application/json",
            "responseSchema": {"type": "OBJECT", "properties": {"n": {"type": "INTEGER"}}},
            "thinkingConfig": {"thinkingLevel": "LOW"},
            "candidateCount": 1,
        },
    }
    request = GEMINI.decode_request(body, model="m")
    assert request.response_format == ResponseFormat(
        "json_schema", schema={"type": "object", "properties": {"n": {"type": "integer"}}}
    )
    assert request.reasoning == Reasoning(effort="low", include_thoughts=False)
    assert request.extras["gemini"]["generationConfig"]["candidateCount"] == 1


def test_count_tokens_bodies_decode_too() -> None:
    inner = {
        "model": "models/gemini-2.5-flash",
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
    }
    request = GEMINI.decode_request({"generateContentRequest": inner}, model="gemini-2.5-flash")
    assert request.messages == (Message("user", [TextPart("hi")]),)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "contents"),
        ({"contents": "hi"}, "contents"),
        ({"contents": [{"role": "system", "parts": []}]}, "contents[0].role"),
        ({"contents": [{"parts": [{"text": 3}]}]}, "contents[0].parts[0].text"),
        ({"contents": [{"parts": [{"functionCall": {"name": "f"}}]}]}, "contents[0].parts[0]"),
        (
            {"contents": [{"role": "model", "parts": [{"functionCall": {"args": {}}}]}]},
            "contents[0].parts[0].functionCall.name",
        ),
        (
            {"contents": [], "generationConfig": {"temperature": "hot"}},
            "generationConfig.temperature",
        ),
        (
            {"contents": [], "generationConfig": {"thinkingConfig": {"thinkingLevel": "MAXIMUM"}}},
            "generationConfig.thinkingConfig.thinkingLevel",
        ),
        (
            {"contents": [], "toolConfig": {"functionCallingConfig": {"mode": "SOMETIMES"}}},
            "toolConfig.functionCallingConfig.mode",
        ),
    ],
)
def test_bad_bodies_are_400_naming_the_field(body: dict[str, Any], param: str) -> None:
    with pytest.raises(GatewayError) as raised:
        GEMINI.decode_request(body, model="m")
    assert raised.value.status == 400 and raised.value.param == param


# -- encoding for Gemini upstreams -----------------------------------------------------------------


def _conversation(signature_meta: dict[str, Any] | None) -> Request:
    return Request(
        model="x",
        messages=[
            Message("system", [TextPart("be brief")]),
            Message("user", [TextPart("weather?"), FilePart("image/png", data="iVBOR")]),
            Message(
                "assistant",
                [
                    ReasoningPart("thinking...", signature_meta),
                    ToolCallPart("toolu_1", "weather", '{"city":"Paris"}', signature_meta),
                    ToolCallPart("toolu_2", "weather", '{"city":"Rome"}'),
                ],
            ),
            Message(
                "tool",
                [
                    ToolResultPart("toolu_1", [TextPart("sunny")]),
                    ToolResultPart("toolu_2", [TextPart('{"t": 20}')], is_error=False),
                ],
            ),
            Message("user", [TextPart("and tomorrow?")]),
        ],
        tools=[
            Tool(
                "weather",
                "Get weather",
                {
                    "type": "object",
                    "properties": {"city": {"type": "string", "format": "city"}},
                    "additionalProperties": False,
                    "$schema": "x",
                },
            )
        ],
        tool_choice=ToolChoice("tool", "weather"),
        max_tokens=100,
        stop=("a", "b", "c", "d", "e", "f"),
    )


def test_encoding_another_doors_conversation() -> None:
    body = GEMINI.encode_request(_conversation({"anthropic": {"signature": "claude-sig"}}), "gemini-2.5-flash")
    assert body["systemInstruction"] == {"parts": [{"text": "be brief"}]}
    user, model, results = body["contents"]
    assert user == {
        "role": "user",
        "parts": [{"text": "weather?"}, {"inlineData": {"mimeType": "image/png", "data": "iVBOR"}}],
    }
    # foreign reasoning and signatures never reach Gemini; nor do the client's ids
    assert model == {
        "role": "model",
        "parts": [
            {"functionCall": {"name": "weather", "args": {"city": "Paris"}}},
            {"functionCall": {"name": "weather", "args": {"city": "Rome"}}},
        ],
    }
    assert results == {
        "role": "user",
        "parts": [
            {"functionResponse": {"name": "weather", "response": {"output": "sunny"}}},
            {"functionResponse": {"name": "weather", "response": {"t": 20}}},
            {"text": "and tomorrow?"},
        ],
    }
    (tools,) = body["tools"]
    assert tools == {
        "functionDeclarations": [
            {
                "name": "weather",
                "description": "Get weather",
                "parameters": {
                    "type": "OBJECT",
                    "properties": {"city": {"type": "STRING", "description": "(format: city)"}},
                },
            }
        ]
    }
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["weather"]}}
    assert body["generationConfig"] == {
        "maxOutputTokens": 100,
        "stopSequences": ["a", "b", "c", "d", "e"],
    }


def test_gemini_signatures_go_back_on_their_own_parts() -> None:
    meta = {"gemini": {"thoughtSignature": "c2ln"}, "anthropic": {"signature": "other"}}
    body = GEMINI.encode_request(_conversation(meta), "gemini-2.5-pro")
    parts = body["contents"][1]["parts"]
    assert parts[0] == {"text": "thinking...", "thought": True, "thoughtSignature": "c2ln"}
    assert parts[1]["thoughtSignature"] == "c2ln" and "thoughtSignature" not in parts[2]


def test_gemini_3_gets_the_documented_skip_value_for_unsigned_calls() -> None:
    unsigned = GEMINI.encode_request(_conversation(None), "gemini-3-flash-preview")
    calls = unsigned["contents"][1]["parts"]
    assert calls[0]["thoughtSignature"] == SKIP_SIGNATURE and "thoughtSignature" not in calls[1]
    signed = GEMINI.encode_request(_conversation({"gemini": {"thoughtSignature": "real"}}), "gemini-3-flash-preview")
    assert [p.get("thoughtSignature") for p in signed["contents"][1]["parts"]] == [
        "real",
        "real",
        None,
    ]
    older = GEMINI.encode_request(_conversation(None), "gemini-2.5-flash")
    assert all("thoughtSignature" not in p for p in older["contents"][1]["parts"])


def test_files_in_tool_results() -> None:
    request = Request(
        model="x",
        messages=[
            Message("assistant", [ToolCallPart("c1", "shot", "{}")]),
            Message(
                "tool",
                [ToolResultPart("c1", [TextPart("here"), FilePart("image/png", data="AAAA")])],
            ),
        ],
    )
    modern = GEMINI.encode_request(request, "gemini-3-pro-preview")["contents"][1]["parts"]
    assert modern == [
        {
            "functionResponse": {
                "name": "shot",
                "response": {"output": "here"},
                "parts": [{"inlineData": {"mimeType": "image/png", "data": "AAAA"}}],
            }
        }
    ]
    older = GEMINI.encode_request(request, "gemini-2.5-flash")["contents"][1]["parts"]
    assert older[1] == {"inlineData": {"mimeType": "image/png", "data": "AAAA"}}


@pytest.mark.parametrize(
    ("model", "reasoning", "expected"),
    [
        (
            "gemini-2.5-flash",
            Reasoning(effort="high"),
            {"thinkingBudget": 24576, "includeThoughts": True},
        ),
        ("gemini-2.5-flash", Reasoning(effort="none"), {"thinkingBudget": 0}),
        (
            "gemini-2.5-flash",
            Reasoning(effort="max"),
            {"thinkingBudget": 24576, "includeThoughts": True},
        ),
        ("gemini-2.5-pro", Reasoning(effort="none"), {"thinkingBudget": 128}),
        (
            "gemini-2.5-pro",
            Reasoning(budget_tokens=100000),
            {"thinkingBudget": 32768, "includeThoughts": True},
        ),
        (
            "gemini-2.5-flash-lite",
            Reasoning(budget_tokens=100),
            {"thinkingBudget": 512, "includeThoughts": True},
        ),
        (
            "gemini-2.5-flash",
            Reasoning(budget_tokens=-1),
            {"thinkingBudget": -1, "includeThoughts": True},
        ),
        ("gemini-3-flash-preview", Reasoning(effort="none"), {"thinkingLevel": "minimal"}),
        (
            "gemini-3-flash-preview",
            Reasoning(budget_tokens=8000, include_thoughts=False),
            {"thinkingLevel": "medium"},
        ),
        (
            "gemini-3-pro-preview",
            Reasoning(effort="medium"),
            {"thinkingLevel": "high", "includeThoughts": True},
        ),
        (
            "gemini-3-pro-preview",
            Reasoning(effort="minimal"),
            {"thinkingLevel": "low", "includeThoughts": True},
        ),
        (
            "gemini-3.1-pro-preview",
            Reasoning(effort="medium"),
            {"thinkingLevel": "medium", "includeThoughts": True},
        ),
        (
            "gemini-3.5-flash",
            Reasoning(effort="xhigh"),
            {"thinkingLevel": "high", "includeThoughts": True},
        ),
        ("gemini-3.5-flash", Reasoning(budget_tokens=-1), {"includeThoughts": True}),
        ("gemini-2.0-flash", Reasoning(effort="high"), None),
        (
            "custom-model",
            Reasoning(effort="low"),
            {"thinkingLevel": "low", "includeThoughts": True},
        ),
        (
            "custom-model",
            Reasoning(budget_tokens=999),
            {"thinkingBudget": 999, "includeThoughts": True},
        ),
    ],
)
def test_thinking_follows_the_model(model: str, reasoning: Reasoning, expected: dict[str, Any] | None) -> None:
    request = Request(model="x", messages=[Message("user", [TextPart("hi")])], reasoning=reasoning)
    config = GEMINI.encode_request(request, model).get("generationConfig", {})
    assert config.get("thinkingConfig") == expected


def test_response_format_becomes_a_cleaned_response_schema() -> None:
    schema = {
        "type": "object",
        "properties": {"n": {"type": "integer", "exclusiveMinimum": 0}},
        "required": ["n"],
        "additionalProperties": False,
    }
    request = Request(
        model="x",
        messages=[Message("user", [TextPart("hi")])],
        response_format=ResponseFormat("json_schema", schema=schema),
    )
    config = GEMINI.encode_request(request, "gemini-2.5-flash")["generationConfig"]
    assert config == {
        "responseMimeType": "application/json",
        "responseSchema": {
            "type": "OBJECT",
            "properties": {"n": {"type": "INTEGER", "minimum": 0, "description": "(must be greater than 0)"}},
            "required": ["n"],
        },
    }


# -- a Gemini client's body survives the trip through the IR -------------------------------------

_text = st.text(alphabet="abc xyz", min_size=1, max_size=8)
_sig = st.text(alphabet="ABCDEF0123456789", min_size=4, max_size=8)


def _with_sig(part: dict[str, Any], draw: Any) -> dict[str, Any]:
    if draw(st.booleans()):
        part["thoughtSignature"] = draw(_sig)
    return part


@st.composite
def gemini_bodies(draw: Any) -> dict[str, Any]:
    contents: list[dict[str, Any]] = []
    pending: list[tuple[str, str | None]] = []
    for turn in range(draw(st.integers(1, 6))):
        if turn % 2 == 0:
            parts: list[dict[str, Any]] = []
            for name, call_id in pending:
                response: dict[str, Any] = {
                    "name": name,
                    "response": draw(st.sampled_from([{"output": "ok"}, {"v": 1}, {"error": "no"}])),
                }
                if call_id:
                    response["id"] = call_id
                parts.append({"functionResponse": response})
            pending = []
            for _ in range(draw(st.integers(0 if parts else 1, 2))):
                kind = draw(st.sampled_from(["text", "image", "file"]))
                if kind == "text":
                    parts.append({"text": draw(_text)})
                elif kind == "image":
                    parts.append(
                        {
                            "inlineData": {"mimeType": "image/png", "data": "iVBORw0K"},
                            "mediaResolution": {"level": "MEDIA_RESOLUTION_LOW"},
                        }
                    )
                else:
                    parts.append(
                        {
                            "fileData": {
                                "mimeType": "application/pdf",
                                "fileUri": "https://example.com/a.pdf",
                            }
                        }
                    )
            contents.append({"role": "user", "parts": parts})
        else:
            parts = []
            for _ in range(draw(st.integers(1, 3))):
                kind = draw(st.sampled_from(["text", "thought", "call"]))
                if kind == "text":
                    parts.append(_with_sig({"text": draw(_text)}, draw))
                elif kind == "thought":
                    parts.append({"text": draw(_text), "thought": True, "thoughtSignature": draw(_sig)})
                else:
                    name = draw(st.sampled_from(["f", "g"]))
                    call: dict[str, Any] = {"name": name, "args": {"x": draw(st.integers(0, 3))}}
                    call_id = draw(st.one_of(st.none(), st.sampled_from([f"id{turn}a", f"id{turn}b"])))
                    if call_id and call_id not in {c for _, c in pending}:
                        call["id"] = call_id
                    else:
                        call_id = None
                    pending.append((name, call_id))
                    parts.append(_with_sig({"functionCall": call}, draw))
            contents.append({"role": "model", "parts": parts})
    body: dict[str, Any] = {"contents": contents}
    if draw(st.booleans()):
        body["systemInstruction"] = {"parts": [{"text": draw(_text)}]}
    if draw(st.booleans()):
        body["tools"] = [
            {
                "functionDeclarations": [
                    {
                        "name": "f",
                        "parameters": {"type": "OBJECT", "properties": {"x": {"type": "INTEGER"}}},
                    },
                    {
                        "name": "g",
                        "parametersJsonSchema": {"type": "object"},
                        "behavior": "NON_BLOCKING",
                    },
                ]
            },
            {"googleSearch": {}},
        ]
        body["toolConfig"] = draw(
            st.sampled_from(
                [
                    {"functionCallingConfig": {"mode": "AUTO"}},
                    {"functionCallingConfig": {"mode": "NONE"}},
                    {"functionCallingConfig": {"mode": "ANY"}},
                    {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["g"]}},
                    {"functionCallingConfig": {"mode": "VALIDATED"}},
                ]
            )
        )
    config: dict[str, Any] = {}
    for key, value in (
        ("temperature", st.floats(0, 2)),
        ("topP", st.floats(0, 1)),
        ("topK", st.integers(1, 40)),
        ("maxOutputTokens", st.integers(1, 9999)),
        ("seed", st.integers(0, 9)),
        ("candidateCount", st.just(1)),
    ):
        if draw(st.booleans()):
            config[key] = draw(value)
    if draw(st.booleans()):
        config["stopSequences"] = draw(st.lists(_text, min_size=1, max_size=5))
    if draw(st.booleans()):
        config["responseMimeType"] = "application/json"
        if draw(st.booleans()):
            config["responseSchema"] = {"type": "OBJECT", "properties": {"a": {"type": "STRING"}}}
    if draw(st.booleans()):
        thinking: dict[str, Any] = draw(
            st.sampled_from([{"thinkingBudget": 512}, {"thinkingBudget": -1}, {"thinkingLevel": "high"}])
        )
        if draw(st.booleans()):
            thinking["includeThoughts"] = True
        config["thinkingConfig"] = thinking
    if config:
        body["generationConfig"] = config
    if draw(st.booleans()):
        body["safetySettings"] = [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]
        body["cachedContent"] = "cachedContents/abc"
    return body


@settings(max_examples=100, deadline=None)
@given(gemini_bodies())
def test_gemini_body_through_the_ir_comes_back_unchanged(body: dict[str, Any]) -> None:
    """The IR holds everything a Gemini client says (a model name without a generation
    keeps thinking settings verbatim)."""
    request = GEMINI.decode_request(body, model="custom-model")
    assert GEMINI.encode_request(request, "custom-model") == body


@settings(max_examples=60, deadline=None)
@given(gemini_bodies())
def test_ir_through_gemini_comes_back_unchanged(body: dict[str, Any]) -> None:
    request = GEMINI.decode_request(body, model="custom-model")
    again = GEMINI.decode_request(GEMINI.encode_request(request, "custom-model"), model="custom-model")
    assert again == request


def test_tool_arguments_that_are_not_an_object_are_kept() -> None:
    request = Request(
        model="x",
        messages=[Message("assistant", [ToolCallPart("c", "f", "[1,2]"), ToolCallPart("d", "g", "not json")])],
    )
    parts = GEMINI.encode_request(request, "gemini-2.5-flash")["contents"][0]["parts"]
    assert [p["functionCall"]["args"] for p in parts] == [
        {"value": [1, 2]},
        {"arguments": "not json"},
    ]
    assert orjson.loads(orjson.dumps(parts))  # plain JSON
