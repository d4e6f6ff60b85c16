"""The official OpenAI, Anthropic and Google SDKs through every client door, streaming and
not, with a tool, against both of MiniMax's wires: each SDK shows MiniMax's tool call and
its reasoning."""

from __future__ import annotations

import pytest
from cliproxy.testing import ToolCall, serve_app

MESSAGES = "/anthropic/v1/messages"
CHAT = "/v1/chat/completions"
THOUGHT = "The user wants the weather; call the tool."


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("door", ["chat", "responses", "messages", "gemini"])
@pytest.mark.parametrize("wire", ["anthropic", "openai"])
def test_every_door_gets_minimaxs_tool_call_and_reasoning(wire, door, stream, minimax, minimax_app, sdk):
    entry = {"api-key": "mm-api-key-0123456789abcdef", "base-url": minimax.url, "wire": wire}
    with serve_app(minimax_app([entry])) as url:
        answer = sdk(url, door, "MiniMax-M2.5", stream=stream)
    assert answer.tool_calls == (ToolCall("get_weather", {"city": "Shanghai"}),)
    assert answer.text == ""
    assert answer.reasoning == THOUGHT
    path = MESSAGES if wire == "anthropic" else CHAT
    (sent,) = minimax.server.requests_to(path)
    assert sent.headers["authorization"] == "Bearer mm-api-key-0123456789abcdef"
    body = sent.json
    assert body["model"] == "MiniMax-M2.5" and "Shanghai" in str(body["messages"])
    tool = body["tools"][0]
    assert (tool.get("name") or tool["function"]["name"]) == "get_weather"
    if wire == "openai":
        assert body["reasoning_split"] is True
    else:
        assert sent.headers["anthropic-version"] == "2023-06-01"
