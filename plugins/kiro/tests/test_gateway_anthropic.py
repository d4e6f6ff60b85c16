"""The official anthropic SDK (as Claude Code talks) through a real gateway server to a
fake Kiro speaking the binary event stream."""

from __future__ import annotations

import anthropic
import pytest
from cliproxy.testing import FakeUpstream, Reply, serve_app
from cliproxy_kiro import testing as kt

GENERATE = "/generateAssistantResponse"
TOOLS = [
    {
        "name": "read_file",
        "description": "Read a file",
        "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
    }
]


def client(url: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="client-key", base_url=url, max_retries=0)


def test_messages_non_stream(upstream: FakeUpstream, kiro_app, recording):
    upstream.add("POST", GENERATE, kt.reply([recording("kiro/SYNTHETIC-text.eventstream.bin").read_bytes()]))
    with serve_app(kiro_app()) as url:
        message = client(url).messages.create(
            model="claude-haiku-4-5-20251001",
            max_tokens=256,
            system="You are terse.",
            messages=[{"role": "user", "content": "hello"}],
        )
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].text == "Hello! How can I help?"
    assert message.stop_reason == "end_turn" and message.model == "claude-haiku-4-5-20251001"
    assert message.usage.output_tokens > 0
    body = upstream.requests_to(GENERATE)[0].json
    current = body["conversationState"]["currentMessage"]["userInputMessage"]
    assert current["modelId"] == "claude-haiku-4.5"
    assert current["content"] == "You are terse.\n\nhello"
    assert body["inferenceConfig"]["maxTokens"] == 256


def test_messages_stream_with_thinking_and_a_tool_call(upstream: FakeUpstream, kiro_app):
    frames = [
        *kt.text("<thinking>The user wants foo.txt", "</thinking>\n\nReading it."),
        *kt.tool_use("tooluse_1", "read_file", ['{"path":', ' "foo.txt"}']),
        kt.token_usage(50, 20),
    ]
    upstream.add("POST", GENERATE, kt.reply(frames, chunk_size=33))
    with (
        serve_app(kiro_app()) as url,
        client(url).messages.stream(
            model="claude-haiku-4-5",
            max_tokens=2048,
            thinking={"type": "enabled", "budget_tokens": 1024},
            tools=TOOLS,
            messages=[{"role": "user", "content": "what is in foo.txt?"}],
        ) as stream,
    ):
        events = list(stream)
        final = stream.get_final_message()
    kinds = [block.type for block in final.content]
    assert kinds == ["thinking", "text", "tool_use"]
    assert final.content[0].thinking == "The user wants foo.txt"
    assert final.content[1].text == "Reading it."
    assert final.content[2].name == "read_file" and final.content[2].input == {"path": "foo.txt"}
    assert final.stop_reason == "tool_use"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (50, 20)
    json_deltas = [e for e in events if e.type == "content_block_delta" and e.delta.type == "input_json_delta"]
    assert len(json_deltas) >= 2  # the arguments streamed in pieces
    content = upstream.requests_to(GENERATE)[0].json["conversationState"]["currentMessage"]["userInputMessage"][
        "content"
    ]
    assert "<max_thinking_length>1024</max_thinking_length>" in content


def test_tool_result_round_trip(upstream: FakeUpstream, kiro_app):
    upstream.add("POST", GENERATE, kt.reply(kt.text("foo.txt says hi")))
    with serve_app(kiro_app()) as url:
        message = client(url).messages.create(
            model="claude-haiku-4-5",
            max_tokens=256,
            tools=TOOLS,
            messages=[
                {"role": "user", "content": "read foo.txt"},
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": "tu_1", "name": "read_file", "input": {"path": "foo.txt"}}],
                },
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "tu_1", "content": "hi"}]},
            ],
        )
    assert message.content[0].text == "foo.txt says hi"
    state = upstream.requests_to(GENERATE)[0].json["conversationState"]
    assert state["history"][1]["assistantResponseMessage"]["toolUses"][0]["input"] == {"path": "foo.txt"}
    results = state["currentMessage"]["userInputMessage"]["userInputMessageContext"]["toolResults"]
    assert results == [{"toolUseId": "tu_1", "content": [{"text": "hi"}], "status": "success"}]


def test_quota_exhaustion_reaches_claude_code_as_a_rate_limit(upstream: FakeUpstream, kiro_app):
    upstream.add(
        "POST",
        GENERATE,
        Reply.json({"message": "You have reached the limit.", "reason": "MONTHLY_REQUEST_COUNT"}, status=402),
    )
    with serve_app(kiro_app()) as url, pytest.raises(anthropic.RateLimitError) as caught:
        client(url).messages.create(
            model="claude-haiku-4-5", max_tokens=16, messages=[{"role": "user", "content": "hi"}]
        )
    assert "quota exhausted" in str(caught.value)


def test_truncated_answer_stops_with_max_tokens(upstream: FakeUpstream, kiro_app, recording):
    upstream.add("POST", GENERATE, kt.reply([recording("kiro/SYNTHETIC-exception.eventstream.bin").read_bytes()]))
    with serve_app(kiro_app()) as url:
        message = client(url).messages.create(
            model="claude-haiku-4-5", max_tokens=16, messages=[{"role": "user", "content": "hi"}]
        )
    assert message.content[0].text == "Partial" and message.stop_reason == "max_tokens"
