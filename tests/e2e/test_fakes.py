"""The suite's scripted fake upstreams speak their wires: the official SDKs, talking to them
directly, read their text and tool calls, streamed and whole."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import anthropic
import openai
import pytest
from google import genai
from google.genai import types

from .upstreams import Answer, Ask, ToolCall, WireFake, anthropic_fake, gemini_fake, openai_chat_fake

TOOL = {
    "name": "lookup",
    "description": "Look a word up",
    "schema": {"type": "object", "properties": {"word": {"type": "string"}}},
}


def script(ask: Ask) -> Answer:
    """A tool call while the tool is offered and no result came back, else text in pieces."""
    if "lookup" in ask.tools and not ask.tool_results:
        return Answer(tool_call=ToolCall("lookup", {"word": "gateway"}, signature=base64.b64encode(b"sig-1").decode()))
    return Answer.text("Hello ", "from ", ask.wire)


@pytest.fixture
def fake(request: pytest.FixtureRequest) -> Iterator[WireFake]:
    made = {
        "anthropic": lambda: anthropic_fake(script),
        "openai-chat": lambda: openai_chat_fake(script),
        "gemini": lambda: gemini_fake(script, ("gemini-2.5-flash",)),
    }[request.param]()
    with made.server:
        yield made


@pytest.mark.parametrize("fake", ["anthropic"], indirect=True)
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_anthropic_fake(fake: WireFake, stream: bool):
    client = anthropic.Anthropic(base_url=fake.url, api_key="k", max_retries=0)
    tools = [{"name": TOOL["name"], "description": TOOL["description"], "input_schema": TOOL["schema"]}]
    ask = {"model": "claude-fake", "max_tokens": 100, "tools": tools}

    def create(messages):
        if not stream:
            return client.messages.create(messages=messages, **ask)
        with client.messages.stream(messages=messages, **ask) as events:
            return events.get_final_message()

    first = create([{"role": "user", "content": "hi"}])
    call = next(block for block in first.content if block.type == "tool_use")
    assert (call.name, call.input, first.stop_reason) == ("lookup", {"word": "gateway"}, "tool_use")
    result = {"type": "tool_result", "tool_use_id": call.id, "content": "a word"}
    history = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [block.model_dump() for block in first.content]},
        {"role": "user", "content": [result]},
    ]
    second = create(history)
    assert second.content[0].text == "Hello from anthropic"
    assert fake.asks[-1].last_is_tool_result and fake.asks[-1].tool_results == ("a word",)
    assert [a.stream for a in fake.asks] == [stream, stream]


@pytest.mark.parametrize("fake", ["openai-chat"], indirect=True)
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_openai_chat_fake(fake: WireFake, stream: bool):
    client = openai.OpenAI(base_url=fake.url + "/v1", api_key="k", max_retries=0)
    tools = [{"type": "function", "function": {"name": TOOL["name"], "parameters": TOOL["schema"]}}]

    def create(messages) -> tuple[str, list[tuple[str, str, str]]]:
        if not stream:
            message = client.chat.completions.create(model="gpt-4o", messages=messages, tools=tools).choices[0].message
            return message.content or "", [
                (c.id, c.function.name, c.function.arguments) for c in message.tool_calls or []
            ]
        text, calls = "", {}
        for chunk in client.chat.completions.create(model="gpt-4o", messages=messages, tools=tools, stream=True):
            for choice in chunk.choices:
                text += choice.delta.content or ""
                for call in choice.delta.tool_calls or []:
                    calls[call.index] = (call.id, call.function.name, call.function.arguments)
        return text, list(calls.values())

    _, calls = create([{"role": "user", "content": "hi"}])
    assert [(name, json.loads(arguments)) for _, name, arguments in calls] == [("lookup", {"word": "gateway"})]
    call_id, name, arguments = calls[0]
    history = [
        {"role": "user", "content": "hi"},
        {
            "role": "assistant",
            "tool_calls": [{"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}],
        },
        {"role": "tool", "tool_call_id": call_id, "content": "a word"},
    ]
    text, calls = create(history)
    assert (text, calls) == ("Hello from openai-chat", [])
    assert fake.asks[-1].last_is_tool_result and fake.asks[-1].tool_results == ("a word",)


@pytest.mark.parametrize("fake", ["gemini"], indirect=True)
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_gemini_fake(fake: WireFake, stream: bool):
    client = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=fake.url, api_version="v1beta"))
    declaration = types.FunctionDeclaration(name=TOOL["name"], parameters_json_schema=TOOL["schema"])
    config = types.GenerateContentConfig(
        tools=[types.Tool(function_declarations=[declaration])],
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
    )

    def create(contents) -> list[types.Part]:
        if not stream:
            return (
                client.models.generate_content(model="gemini-2.5-flash", contents=contents, config=config)
                .candidates[0]
                .content.parts
            )
        parts = []
        for chunk in client.models.generate_content_stream(model="gemini-2.5-flash", contents=contents, config=config):
            parts += chunk.candidates[0].content.parts or []
        return parts

    first = create("hi")
    assert [(p.function_call.name, p.function_call.args) for p in first] == [("lookup", {"word": "gateway"})]
    assert first[0].thought_signature == b"sig-1"
    history = [
        types.Content(role="user", parts=[types.Part(text="hi")]),
        types.Content(role="model", parts=first),
        types.Content(
            role="user", parts=[types.Part.from_function_response(name="lookup", response={"output": "a word"})]
        ),
    ]
    second = create(history)
    assert "".join(part.text or "" for part in second) == "Hello from gemini"
    assert fake.asks[-1].last_is_tool_result and "a word" in fake.asks[-1].tool_results[0]
