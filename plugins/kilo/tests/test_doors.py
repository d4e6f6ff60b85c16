"""The official OpenAI, Anthropic and Google SDKs through every client door, streaming and
not, with a tool: Kilo's chat gateway answers, and each SDK shows the tool call."""

from __future__ import annotations

import pytest
from cliproxy.testing import serve_app

CHAT = "/api/gateway/chat/completions"


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("door", ["chat", "responses", "messages", "gemini"])
def test_every_door_gets_kilos_tool_call(door, stream, kilo, kilo_app, sdk):
    entry = {"api-key": kilo.token, "base-url": kilo.url, "organization-id": "org-acme", "prefix": "kilo"}
    with serve_app(kilo_app([entry])) as url:
        answer = sdk(url, door, "kilo/anthropic/claude-sonnet-4.5", stream=stream)
    city = "New York City" if stream else "San Francisco"
    assert [(call.name, call.arguments["city"]) for call in answer.tool_calls] == [("get_weather", city)]
    assert answer.text == ""
    (sent,) = kilo.server.requests_to(CHAT)
    assert sent.headers["authorization"] == f"Bearer {kilo.token}"
    assert sent.headers["x-kilocode-organizationid"] == "org-acme"
    assert sent.headers["x-kilocode-editorname"] == "cliproxy"
    body = sent.json
    assert body["model"] == "anthropic/claude-sonnet-4.5"
    assert body["tools"][0]["function"]["name"] == "get_weather"
    assert "What is the weather" in str(body["messages"])
    if stream:
        assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize("door", ["chat", "messages"])
def test_text_answers_reach_the_client(door, kilo, kilo_app, sdk):
    with serve_app(kilo_app()) as url:
        answer = sdk(url, door, "kilo/anthropic/claude-sonnet-4.5", stream=True, tools=False)
    assert answer.text.startswith('The question "How many angels can dance') and answer.tool_calls == ()
