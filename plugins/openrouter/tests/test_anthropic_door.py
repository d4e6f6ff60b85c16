"""cliproxy-openrouter behind the Anthropic door, with the official Anthropic SDK (what
Claude Code speaks): reasoning becomes OpenRouter's, and errors its error events."""

from __future__ import annotations

import json

import anthropic
import cliproxy_openrouter
import pytest
from cliproxy.testing import FakeUpstream, Reply, gateway_app, serve_app

CHAT = "/api/v1/chat/completions"
DETAILS = "openrouter/SYNTHETIC-openrouter-sdk-test-reasoning-details.sse.txt"
MIDSTREAM = "openrouter/CONSTRUCTED-stream-midstream-error.sse.txt"
NONSTREAM = "openrouter/CONSTRUCTED-nonstream-response-reasoning.json"
COMMENTS = "openrouter/CONSTRUCTED-stream-with-processing-comments.sse.txt"


def config(*entries: dict) -> dict:
    return {"api-keys": ["client-key"], "openrouter": list(entries)}


def entry(upstream: FakeUpstream, **extra: object) -> dict:
    return {
        "api-key": "sk-or-v1-upstream",
        "base-url": upstream.url + "/api/v1",
        "prefix": "batch",
        **extra,
    }


def client(url: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="client-key", base_url=url, max_retries=0)


def serve(cfg: dict):
    return serve_app(gateway_app(cfg, plugins=[cliproxy_openrouter]))


def test_thinking_budget_becomes_openrouter_reasoning_and_signatures_come_back(upstream, recording):
    upstream.add("POST", CHAT, Reply.json(json.loads(recording(NONSTREAM).read_text())))
    with serve(config(entry(upstream, provider={"sort": "price"}))) as url:
        message = client(url).messages.create(
            model="batch/anthropic/claude-sonnet-4.5",
            max_tokens=4096,
            thinking={"type": "enabled", "budget_tokens": 2048},
            messages=[{"role": "user", "content": "Hi"}],
        )
    body = upstream.requests_to(CHAT)[0].json
    assert body["reasoning"] == {"max_tokens": 2048}
    assert "reasoning_effort" not in body
    assert body["provider"] == {"sort": "price"}
    thinking = [b for b in message.content if b.type == "thinking"]
    assert thinking and thinking[0].thinking == "The user greets me." and thinking[0].signature == "EqQB..."
    assert [b.text for b in message.content if b.type == "text"] == ["Hello!"]
    assert message.model == "batch/anthropic/claude-sonnet-4.5"


def test_signed_thinking_goes_back_as_reasoning_details(upstream, recording):
    upstream.add("POST", CHAT, Reply.json(json.loads(recording(NONSTREAM).read_text())))
    with serve(config(entry(upstream))) as url:
        client(url).messages.create(
            model="batch/anthropic/claude-sonnet-4.5",
            max_tokens=4096,
            thinking={"type": "enabled", "budget_tokens": 2048},
            tools=[{"name": "weather", "input_schema": {"type": "object"}}],
            messages=[
                {"role": "user", "content": "weather?"},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "Use the tool.", "signature": "sig-1"},
                        {
                            "type": "tool_use",
                            "id": "toolu_1",
                            "name": "weather",
                            "input": {"city": "Paris"},
                        },
                    ],
                },
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"}],
                },
            ],
        )
    assistant = next(m for m in upstream.requests_to(CHAT)[0].json["messages"] if m["role"] == "assistant")
    assert assistant["reasoning_details"][0]["signature"] == "sig-1"
    assert assistant["reasoning_details"][0]["format"] == "anthropic-claude-v1"


def test_streamed_reasoning_details_become_thinking_with_signature(upstream, recording):
    upstream.add("POST", CHAT, Reply.sse_file(recording(DETAILS), chunk_size=37))
    with (
        serve(config(entry(upstream))) as url,
        client(url).messages.stream(
            model="batch/anthropic/claude-opus-4.6",
            max_tokens=1024,
            messages=[{"role": "user", "content": "Hi"}],
        ) as stream,
    ):
        message = stream.get_final_message()
    thinking = [b for b in message.content if b.type == "thinking"]
    assert thinking[0].thinking == "Let me think about this step by step. Done."
    assert thinking[0].signature.startswith("erX9")
    assert [b.text for b in message.content if b.type == "text"] == ["Hello! How can I help?"]
    assert message.usage.input_tokens == 100 and message.usage.output_tokens == 50


def test_processing_comments_and_cost_stream_to_anthropic_clients(upstream, recording):
    upstream.add("POST", CHAT, Reply.sse_file(recording(COMMENTS)))
    with (
        serve(config(entry(upstream))) as url,
        client(url).messages.stream(
            model="batch/openai/gpt-4o-mini",
            max_tokens=64,
            messages=[{"role": "user", "content": "Hi"}],
        ) as stream,
    ):
        text = "".join(stream.text_stream)
    assert text == "Hello!"


def test_error_after_the_first_token_is_an_anthropic_error_event(upstream, recording):
    upstream.add("POST", CHAT, Reply.sse_file(recording(MIDSTREAM)))
    received = []
    with (
        serve(config(entry(upstream))) as url,
        pytest.raises(anthropic.APIError) as caught,
        client(url).messages.stream(
            model="batch/openai/gpt-4o-mini",
            max_tokens=64,
            messages=[{"role": "user", "content": "Hi"}],
        ) as stream,
    ):
        received.extend(stream.text_stream)
    assert received == ["The"]
    assert "Provider disconnected unexpectedly" in str(caught.value)


def test_error_before_any_content_fails_over(recording):
    failing = b'data: {"id":"gen-x","object":"chat.completion.chunk","created":1,"model":"m","error":{"code":502,"message":"Provider returned error"},"choices":[{"index":0,"delta":{"content":""},"finish_reason":"error"}]}\n\n'
    with FakeUpstream() as bad, FakeUpstream() as good:
        bad.add("POST", CHAT, Reply.sse([failing]))
        good.add("POST", CHAT, Reply.sse_file(recording(COMMENTS)))
        cfg = config(entry(bad, **{"api-key": "sk-1", "priority": 5}), entry(good, **{"api-key": "sk-2"}))
        with (
            serve(cfg) as url,
            client(url).messages.stream(
                model="batch/openai/gpt-4o-mini",
                max_tokens=64,
                messages=[{"role": "user", "content": "Hi"}],
            ) as stream,
        ):
            text = "".join(stream.text_stream)
        assert len(bad.requests_to(CHAT)) == 1
    assert text == "Hello!"
