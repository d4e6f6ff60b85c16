"""The official openai, anthropic and google-genai SDKs, through all four doors, reaching a
Claude model (served at ``/v1/messages``), a Responses-only model (``gpt-5.3-codex``) and a
chat model (``gpt-4.1``) on the fake Copilot, streaming and not, with a tool.

What each SDK shows (text, tool calls, reasoning) must be what the fake answered (decoded from the recorded reply by the
core's translators), and the fake must have been asked at the endpoint the model is
offered at, on the API host the token exchange named, with Copilot's headers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from cliproxy import ir
from cliproxy.testing import (
    SDK_DOORS,
    RecordedRequest,
    Reply,
    SdkAnswer,
    SdkDoor,
    SdkTool,
    answer_of,
    ask_sdk,
    serve_app,
)
from cliproxy.testing.strategies import decode_in_pieces
from cliproxy.wire.anthropic import Anthropic
from cliproxy.wire.openai_chat import OpenAIChat
from cliproxy.wire.openai_responses import OpenAIResponses
from cliproxy_copilot.testing import API, CLAUDE, CODEX, GPT, FakeCopilot

KEY = "client-key"
PROMPT = "add 2 and 3"
ADD = SdkTool(
    "add", "Add two numbers.", {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}}
)
TRANSLATORS = {"/chat/completions": OpenAIChat(), "/responses": OpenAIResponses(), "/v1/messages": Anthropic()}


def answered(fake: FakeCopilot, request: RecordedRequest) -> SdkAnswer:
    """What the fake answered ``request``, decoded by the core's translator."""
    endpoint = request.path[len(API) :]
    handler = {"/chat/completions": fake.chat, "/responses": fake.responses, "/v1/messages": fake.messages}[endpoint]
    reply: Reply = handler(request)
    translator = TRANSLATORS[endpoint]
    if reply.chunks is None:
        return answer_of(translator.decode_response(reply.body))
    folded = ir.ResponseBuilder()
    folded.feed(decode_in_pieces(translator.stream_decoder(), reply.chunks))
    return answer_of(folded.build())


def call(url: str, door: SdkDoor, model: str, stream: bool, tools: bool = True) -> SdkAnswer:
    """What ``door``'s SDK shows; a Gemini client asks to see thoughts (the others see them unasked)."""
    extra = {"thinking_config": {"include_thoughts": True}} if door == "gemini" else None
    return ask_sdk(url, door, model, prompt=PROMPT, stream=stream, tools=[ADD] if tools else (), key=KEY, extra=extra)


# (door, model) -> the endpoint Copilot must be asked at
EXPECTED = {
    CLAUDE: dict.fromkeys(SDK_DOORS, "/v1/messages"),
    CODEX: dict.fromkeys(SDK_DOORS, "/responses"),
    GPT: {
        "chat": "/chat/completions",
        "responses": "/responses",
        "messages": "/chat/completions",
        "gemini": "/chat/completions",
    },
}


@pytest.fixture
def gateway(copilot: FakeCopilot, copilot_app) -> Iterator[str]:
    with serve_app(copilot_app()) as url:
        yield url


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("model", [CLAUDE, CODEX, GPT])
@pytest.mark.parametrize("door", SDK_DOORS)
def test_every_door_reaches_every_kind_of_copilot_model(copilot, gateway, door, model, stream):
    seen = call(gateway, door, model, stream)
    (request,) = copilot.api_requests()
    assert request.path == API + EXPECTED[model][door]
    assert request.json["model"] == model and bool(request.json.get("stream")) == stream
    assert seen == answered(copilot, request)
    assert seen.tool_calls, "every recorded answer here calls a tool"
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


@pytest.mark.parametrize("door", SDK_DOORS)
def test_responses_item_ids_rotating_per_event_reach_every_client_as_one_item(copilot, gateway, door):
    """The recorded Copilot stream (gpt-5.3-codex, no tool) gives every event new ids."""
    seen = call(gateway, door, CODEX, True, tools=False)
    (request,) = copilot.api_requests()
    assert seen.text.startswith("There are **3** letter") and seen == answered(copilot, request)


@pytest.mark.parametrize("tools", [False, True], ids=["text", "tool"])
def test_a_responses_client_gets_one_id_per_item_and_per_response(copilot, gateway, tools):
    """Passed through to a Responses client, the stream keeps Copilot's fields but names
    each item (and the response) by one id, as OpenAI's own stream does."""
    body = {"model": CODEX, "input": PROMPT, "stream": True}
    if tools:
        body["tools"] = [{"type": "function", "name": "add", "parameters": ADD.parameters}]
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
