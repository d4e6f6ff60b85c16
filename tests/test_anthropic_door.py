"""The ``/v1/messages`` door end to end: the official ``anthropic`` SDK as the client, an
OpenAI-compatible upstream (cliproxy-openai + FakeUpstream) behind it."""

from __future__ import annotations

import json

import anthropic
import cliproxy_openai
import httpx
import orjson
import pytest
from cliproxy.sse import SSEParser
from cliproxy.testing import FakeUpstream, Reply, asgi_client, gateway_app, serve_app

CHAT = "/v1/chat/completions"
WEATHER_TOOL = {
    "name": "GetWeatherArgs",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}, "country": {"type": "string"}}},
}

STOCK_TOOL = {
    "name": "get_stock_price",
    "input_schema": {"type": "object", "properties": {"ticker": {"type": "string"}}},
}


def config_for(upstream: FakeUpstream) -> dict:
    return {
        "api-keys": ["client-key"],
        "openai-compatibility": [
            {
                "name": "local",
                "base-url": upstream.url + "/v1",
                "api-key-entries": [{"api-key": "sk-upstream"}],
                "models": [{"name": "gpt-4.1-nano", "alias": "sonnet"}],
            }
        ],
    }


@pytest.fixture
def live(upstream: FakeUpstream):
    return lambda: serve_app(gateway_app(config_for(upstream), plugins=[cliproxy_openai]))


def client(url: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="client-key", base_url=url, max_retries=0)


def async_client(url: str) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(api_key="client-key", base_url=url, max_retries=0)


def test_non_stream_text(upstream, live, recording):
    upstream.add(
        "POST", CHAT, Reply.json(json.loads(recording("openai-chat/aibridge-chat_simple.nonstream.json").read_text()))
    )
    with live() as url:
        message = client(url).messages.create(
            model="sonnet",
            max_tokens=300,
            system=[{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
            messages=[{"role": "user", "content": "how many angels can dance on the head of a pin"}],
        )
    sent = upstream.requests_to(CHAT)[0].json
    assert sent["model"] == "gpt-4.1-nano" and sent["max_tokens"] == 300
    assert sent["messages"][0] == {"role": "system", "content": "Be brief."}
    assert message.model == "sonnet" and message.role == "assistant" and message.stop_reason == "end_turn"
    assert message.content[0].type == "text" and "angels" in message.content[0].text
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0


def test_stream_tool_arguments_arrive_fragment_by_fragment(upstream, live, recording):
    upstream.add("POST", CHAT, Reply.sse_file(recording("openai-chat/openai-sdk-stream-parallel-tool-calls.sse.txt")))
    with live() as url:
        fragments: list[tuple[int, str]] = []
        with client(url).messages.stream(
            model="sonnet",
            max_tokens=500,
            tools=[WEATHER_TOOL, STOCK_TOOL],
            tool_choice={"type": "any"},
            messages=[{"role": "user", "content": "weather in Edinburgh, and Apple's share price?"}],
        ) as stream:
            for event in stream:
                if event.type == "content_block_delta" and event.delta.type == "input_json_delta":
                    fragments.append((event.index, event.delta.partial_json))
            final = stream.get_final_message()
    sent = upstream.requests_to(CHAT)[0].json
    assert sent["stream"] is True and sent["tool_choice"] == "required"
    assert sent["tools"][0]["function"]["name"] == "GetWeatherArgs"
    calls = [b for b in final.content if b.type == "tool_use"]
    assert [c.name for c in calls] == ["GetWeatherArgs", "get_stock_price"]
    assert calls[0].input == {"city": "Edinburgh", "country": "GB", "units": "c"}
    assert final.stop_reason == "tool_use"
    assert len([f for i, f in fragments if i == 0]) > 3, "arguments must stream, not arrive whole at the block's end"
    assert json.loads("".join(f for i, f in fragments if i == 1)) == {"ticker": "AAPL", "exchange": "NASDAQ"}


async def test_async_stream_reasoning_becomes_thinking_with_an_empty_signature(upstream, live, recording):
    upstream.add(
        "POST",
        CHAT,
        Reply.chunks_file(recording("local-openai-compat/vercel-deepseek-reasoning.chunks.txt"), done=True),
    )
    with live() as url:
        async with async_client(url).messages.stream(
            model="sonnet",
            max_tokens=16000,
            thinking={"type": "enabled", "budget_tokens": 4000},
            messages=[{"role": "user", "content": "think, then answer"}],
        ) as stream:
            final = await stream.get_final_message()
    sent = upstream.requests_to(CHAT)[0].json
    assert sent["reasoning_effort"] == "medium"  # a 4000-token budget is a medium effort
    thinking, text = final.content[0], final.content[-1]
    assert thinking.type == "thinking" and thinking.thinking.startswith("We need to")
    assert thinking.signature == ""  # not Anthropic's reasoning: nothing to sign, and Claude Code accepts ""
    assert text.type == "text" and text.text
    assert final.usage.output_tokens == 219


async def test_async_non_stream_with_tool_history(upstream, live):
    upstream.add(
        "POST",
        CHAT,
        Reply.json(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 1,
                "model": "gpt-4.1-nano",
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": "It is sunny."}, "finish_reason": "stop"}
                ],
                "usage": {"prompt_tokens": 40, "completion_tokens": 4, "prompt_tokens_details": {"cached_tokens": 30}},
            }
        ),
    )
    with live() as url:
        message = await async_client(url).messages.create(
            model="sonnet",
            max_tokens=200,
            tools=[WEATHER_TOOL],
            messages=[
                {"role": "user", "content": "weather in Paris?"},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "use the tool", "signature": "c2ln"},
                        {"type": "tool_use", "id": "toolu_1", "name": "GetWeatherArgs", "input": {"city": "Paris"}},
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny, 21C"},
                        {"type": "text", "text": "summarise"},
                    ],
                },
            ],
        )
    sent = upstream.requests_to(CHAT)[0].json["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool", "user"]
    assert sent[1]["tool_calls"][0]["function"] == {"name": "GetWeatherArgs", "arguments": '{"city":"Paris"}'}
    assert sent[2] == {"role": "tool", "tool_call_id": "toolu_1", "content": "sunny, 21C"}
    assert message.content[0].text == "It is sunny."
    # cached tokens reported the Anthropic way: beside input_tokens, not inside
    assert (message.usage.input_tokens, message.usage.cache_read_input_tokens) == (10, 30)


def test_count_tokens_is_estimated_when_the_upstream_cannot_count(upstream, live):
    with live() as url:
        count = client(url).messages.count_tokens(
            model="sonnet", messages=[{"role": "user", "content": "Hello, Claude " * 20}]
        )
    assert count.input_tokens > 20
    assert not upstream.requests


def test_upstream_errors_reach_the_client_in_anthropic_shape(upstream, live, recording):
    upstream.add(
        "POST", CHAT, Reply.http_file(recording("openai-chat/aibridge-chat_non_stream_error.nonstream.http.txt"))
    )
    with live() as url, pytest.raises(anthropic.BadRequestError) as caught:
        client(url).messages.create(model="sonnet", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    body = caught.value.body
    assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    assert "Input tokens exceed" in body["error"]["message"]


def test_rate_limits_keep_their_retry_hint(upstream, live):
    upstream.add("POST", CHAT, Reply.error(429, "slow down", headers={"retry-after": "120"}))
    with live() as url, pytest.raises(anthropic.RateLimitError) as caught:
        client(url).messages.create(model="sonnet", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    assert caught.value.body["error"]["type"] == "rate_limit_error"
    assert caught.value.response.headers["retry-after"] == "120"


def test_bad_requests_and_missing_keys_are_anthropic_errors(upstream, live):
    with live() as url:
        with pytest.raises(anthropic.BadRequestError) as caught:
            client(url).messages.create(
                model="sonnet",
                max_tokens=10,
                messages=[
                    {"role": "user", "content": "a"},
                    {"role": "assistant", "content": "b"},
                    {
                        "role": "user",
                        "content": [
                            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": 5}}
                        ],
                    },
                ],
            )
        assert "messages[2].content[0].source.data" in caught.value.body["error"]["message"]
        with pytest.raises(anthropic.AuthenticationError) as denied:
            anthropic.Anthropic(api_key="wrong", base_url=url, max_retries=0).messages.create(
                model="sonnet", max_tokens=10, messages=[{"role": "user", "content": "x"}]
            )
        assert denied.value.body["error"]["type"] == "authentication_error"
    assert not upstream.requests


async def test_in_process_stream_bytes_follow_the_anthropic_sequence(upstream, recording):
    upstream.add("POST", CHAT, Reply.sse_file(recording("openai-chat/openai-sdk-stream-single-tool-call.sse.txt")))
    app = gateway_app(config_for(upstream), plugins=[cliproxy_openai])
    async with asgi_client(app) as http:
        response = await http.post(
            "/v1/messages",
            headers={"x-api-key": "client-key", "anthropic-version": "2023-06-01"},
            json={
                "model": "sonnet",
                "max_tokens": 100,
                "stream": True,
                "tools": [WEATHER_TOOL],
                "messages": [{"role": "user", "content": "weather?"}],
            },
        )
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    parser = SSEParser()
    events = [(e.event, orjson.loads(e.data)) for e in parser.feed(response.content) + parser.close()]
    names = [name for name, _ in events]
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"]
    assert all(name == data["type"] for name, data in events)
    starts = [data for name, data in events if name == "content_block_start"]
    stops = [data["index"] for name, data in events if name == "content_block_stop"]
    assert [s["index"] for s in starts] == stops == list(range(len(starts)))
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"


async def test_in_process_bad_json_is_an_anthropic_400(upstream):
    app = gateway_app(config_for(upstream), plugins=[cliproxy_openai])
    async with asgi_client(app) as http:
        response = await http.post(
            "/v1/messages", headers={"x-api-key": "client-key"}, content=b"{not json", timeout=httpx.Timeout(10)
        )
    assert response.status_code == 400
    assert response.json()["type"] == "error" and response.json()["error"]["type"] == "invalid_request_error"
