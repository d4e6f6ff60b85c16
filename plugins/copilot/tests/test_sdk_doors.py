"""The official openai, anthropic and google-genai SDKs, through all four doors, reaching a
Claude model (served at ``/v1/messages``), a Responses-only model (``gpt-5.3-codex``) and a
chat model (``gpt-4.1``) on the fake Copilot, streaming and not, with a tool.

What each SDK shows must be what the fake answered (decoded from the recorded reply by the
core's translators), and the fake must have been asked at the endpoint the model is
offered at, on the API host the token exchange named, with Copilot's headers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import attrs
import httpx
import openai
import pytest
from cliproxy import ir
from cliproxy.testing import RecordedRequest, Reply, serve_app
from cliproxy.testing.strategies import decode_in_pieces
from cliproxy.wire.anthropic import Anthropic
from cliproxy.wire.openai_chat import OpenAIChat
from cliproxy.wire.openai_responses import OpenAIResponses
from cliproxy_copilot.testing import API, CLAUDE, CODEX, GPT, FakeCopilot
from google import genai
from google.genai import types

KEY = "client-key"
PROMPT = "add 2 and 3"
ADD = {
    "name": "add",
    "description": "Add two numbers.",
    "schema": {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}},
}
TRANSLATORS = {"/chat/completions": OpenAIChat(), "/responses": OpenAIResponses(), "/v1/messages": Anthropic()}


@attrs.frozen
class View:
    """What a user of the SDK sees: the text and the tool calls."""

    text: str
    tools: tuple[tuple[str, str], ...]


def _args(value: Any) -> str:
    if isinstance(value, str):
        value = json.loads(value or "{}")
    return json.dumps(value or {}, sort_keys=True)


def view_of(response: ir.Response) -> View:
    calls = tuple((p.name, _args(p.arguments)) for p in response.parts if isinstance(p, ir.ToolCallPart))
    return View(response.text, calls)


def answered(fake: FakeCopilot, request: RecordedRequest) -> View:
    """What the fake answered ``request``, decoded by the core's translator."""
    endpoint = request.path[len(API) :]
    handler = {"/chat/completions": fake.chat, "/responses": fake.responses, "/v1/messages": fake.messages}[endpoint]
    reply: Reply = handler(request)
    translator = TRANSLATORS[endpoint]
    if reply.chunks is None:
        return view_of(translator.decode_response(reply.body))
    folded = ir.ResponseBuilder()
    folded.feed(decode_in_pieces(translator.stream_decoder(), reply.chunks))
    return view_of(folded.build())


# -- the four clients ---------------------------------------------------------------------


def call_chat(url: str, model: str, stream: bool, tools: bool = True) -> View:
    client = openai.OpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0)
    function = {"name": ADD["name"], "description": ADD["description"], "parameters": ADD["schema"]}
    tools = [{"type": "function", "function": function}] if tools else openai.NOT_GIVEN
    messages = [{"role": "user", "content": PROMPT}]
    if not stream:
        message = client.chat.completions.create(model=model, messages=messages, tools=tools).choices[0].message
        return View(
            message.content or "",
            tuple((c.function.name, _args(c.function.arguments)) for c in message.tool_calls or ()),
        )
    text, calls = "", {}
    for chunk in client.chat.completions.create(model=model, messages=messages, tools=tools, stream=True):
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        text += delta.content or ""
        for call in delta.tool_calls or ():
            name, args = calls.get(call.index, ("", ""))
            calls[call.index] = (name + (call.function.name or ""), args + (call.function.arguments or ""))
    return View(text, tuple((n, _args(a)) for _, (n, a) in sorted(calls.items())))


def call_responses(url: str, model: str, stream: bool, tools: bool = True) -> View:
    client = openai.OpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0)
    function = {"type": "function", "name": ADD["name"], "description": ADD["description"], "parameters": ADD["schema"]}
    tools = [function] if tools else openai.NOT_GIVEN
    if stream:
        with client.responses.stream(model=model, input=PROMPT, tools=tools) as events:
            for _ in events:
                pass  # every event must parse
            response = events.get_final_response()
    else:
        response = client.responses.create(model=model, input=PROMPT, tools=tools)
    text, calls = "", []
    for item in response.output:
        if item.type == "message":
            text += "".join(c.text for c in item.content if c.type == "output_text")
        elif item.type == "function_call":
            calls.append((item.name, _args(item.arguments)))
    return View(text, tuple(calls))


def call_anthropic(url: str, model: str, stream: bool, tools: bool = True) -> View:
    client = anthropic.Anthropic(base_url=url, api_key=KEY, max_retries=0)
    params: dict[str, Any] = {"model": model, "max_tokens": 1024, "messages": [{"role": "user", "content": PROMPT}]}
    if tools:
        params["tools"] = [{"name": ADD["name"], "description": ADD["description"], "input_schema": ADD["schema"]}]
    if stream:
        with client.messages.stream(**params) as events:
            for _ in events:
                pass
            message = events.get_final_message()
    else:
        message = client.messages.create(**params)
    text = "".join(b.text for b in message.content if b.type == "text")
    return View(text, tuple((b.name, _args(b.input)) for b in message.content if b.type == "tool_use"))


_genai_clients: list[genai.Client] = []


def call_gemini(url: str, model: str, stream: bool, tools: bool = True) -> View:
    client = genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=url, api_version="v1beta"))
    _genai_clients.append(client)  # the SDK closes its HTTP client when the Client is collected
    declaration = types.FunctionDeclaration(
        name=ADD["name"], description=ADD["description"], parameters_json_schema=ADD["schema"]
    )
    config = types.GenerateContentConfig(tools=[types.Tool(function_declarations=[declaration])] if tools else None)
    chunks = (
        list(client.models.generate_content_stream(model=model, contents=PROMPT, config=config))
        if stream
        else [client.models.generate_content(model=model, contents=PROMPT, config=config)]
    )
    text, calls = "", []
    for chunk in chunks:
        parts = chunk.candidates[0].content.parts or [] if chunk.candidates and chunk.candidates[0].content else []
        for part in parts:
            if part.function_call is not None:
                calls.append((part.function_call.name, _args(part.function_call.args)))
            elif part.text and not part.thought:
                text += part.text
    return View(text, tuple(calls))


CLIENTS = {"chat": call_chat, "responses": call_responses, "anthropic": call_anthropic, "gemini": call_gemini}
# (door, model) -> the endpoint Copilot must be asked at
EXPECTED = {
    CLAUDE: dict.fromkeys(CLIENTS, "/v1/messages"),
    CODEX: dict.fromkeys(CLIENTS, "/responses"),
    GPT: {
        "chat": "/chat/completions",
        "responses": "/responses",
        "anthropic": "/chat/completions",
        "gemini": "/chat/completions",
    },
}


@pytest.fixture
def gateway(copilot: FakeCopilot, copilot_app) -> Iterator[str]:
    with serve_app(copilot_app()) as url:
        yield url


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("model", [CLAUDE, CODEX, GPT])
@pytest.mark.parametrize("door", list(CLIENTS))
def test_every_door_reaches_every_kind_of_copilot_model(copilot, gateway, door, model, stream):
    seen = CLIENTS[door](gateway, model, stream)
    (request,) = copilot.api_requests()
    assert request.path == API + EXPECTED[model][door]
    assert request.json["model"] == model and bool(request.json.get("stream")) == stream
    assert seen == answered(copilot, request)
    assert seen.tools, "every recorded answer here calls a tool"
    headers = request.headers
    assert headers["authorization"].startswith("Bearer tid=fake")
    assert headers["copilot-integration-id"] == "vscode-chat"
    assert headers["editor-version"].startswith("vscode/") and headers["editor-plugin-version"].startswith(
        "copilot-chat/"
    )
    assert headers["user-agent"].startswith("GitHubCopilotChat/") and headers["x-request-id"]
    assert headers["x-initiator"] == "user"
    assert "copilot-vision-request" not in headers
    if request.path.endswith("/v1/messages"):
        assert headers["openai-intent"] == "messages-proxy" and headers["anthropic-version"] == "2023-06-01"
    else:
        assert headers["openai-intent"] == "conversation-panel" and headers["x-github-api-version"] == "2025-04-01"


@pytest.mark.parametrize("door", list(CLIENTS))
def test_responses_item_ids_rotating_per_event_reach_every_client_as_one_item(copilot, gateway, door):
    """The recorded Copilot stream (gpt-5.3-codex, no tool) gives every event new ids."""
    seen = CLIENTS[door](gateway, CODEX, True, tools=False)
    (request,) = copilot.api_requests()
    assert seen.text.startswith("There are **3** letter") and seen == answered(copilot, request)


@pytest.mark.parametrize("tools", [False, True], ids=["text", "tool"])
def test_a_responses_client_gets_one_id_per_item_and_per_response(copilot, gateway, tools):
    """Passed through to a Responses client, the stream keeps Copilot's fields but names
    each item (and the response) by one id, as OpenAI's own stream does."""
    body = {"model": CODEX, "input": PROMPT, "stream": True}
    if tools:
        body["tools"] = [{"type": "function", "name": "add", "parameters": ADD["schema"]}]
    with httpx.stream(
        "POST", gateway + "/v1/responses", json=body, headers={"authorization": f"Bearer {KEY}"}, timeout=30
    ) as response:
        raw = b"".join(response.iter_bytes())
    events = [json.loads(line[5:]) for line in raw.splitlines() if line.startswith(b"data:")]
    added = {e["output_index"]: e["item"]["id"] for e in events if e["type"] == "response.output_item.added"}
    assert added and len(set(added.values())) == len(added)
    for event in events:
        if "item_id" in event:
            assert event["item_id"] == added[event["output_index"]], event["type"]
        if "item" in event:
            assert event["item"]["id"] == added[event["output_index"]], event["type"]
    responses = [e["response"] for e in events if "response" in e]
    assert len({r["id"] for r in responses}) == 1
    assert [item["id"] for item in responses[-1]["output"]] == [added[i] for i in sorted(added)]
    if not tools:
        assert "copilot_usage" in events[-1], "fields nobody modelled pass through"
