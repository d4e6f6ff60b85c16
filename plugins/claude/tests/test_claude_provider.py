"""cliproxy-claude against a fake Anthropic upstream built from recordings, with the
official ``anthropic`` and ``openai`` SDKs as clients."""

from __future__ import annotations

import json

import anthropic
import cliproxy_claude
import openai
import pytest
from cliproxy import USER_AGENT, ConfigError
from cliproxy.testing import (
    FakeUpstream,
    RecordedRequest,
    Reply,
    asgi_client,
    gateway_app,
    serve_app,
)
from cliproxy_claude.provider import auth_headers
from cliproxy_claude.settings import ClaudeSettings

MESSAGES = "/v1/messages"
SONNET = "claude-sonnet-4-5-20250929"


def config_for(upstream: FakeUpstream, *entries: dict, **extra: object) -> dict:
    base = {
        "api-key": "sk-ant-one",
        "base-url": upstream.url,
        "models": [{"name": SONNET, "alias": "sonnet"}, {"name": "claude-opus-5-5", "alias": "opus"}],
    }
    return {"api-keys": ["client-key"], "claude-api-key": [dict(base, **e) for e in entries or ({},)], **extra}


@pytest.fixture
def live(upstream: FakeUpstream):
    def start(*entries: dict, **extra: object):
        return serve_app(gateway_app(config_for(upstream, *entries, **extra), plugins=[cliproxy_claude]))

    return start


def claude(url: str, **kw) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="client-key", base_url=url, max_retries=0, **kw)


def gpt(url: str) -> openai.OpenAI:
    return openai.OpenAI(api_key="client-key", base_url=url + "/v1", max_retries=0)


def sse(recording, name: str, **kw) -> Reply:
    return Reply.sse_file(recording(f"anthropic/{name}"), **kw)


def whole(recording, name: str) -> Reply:
    return Reply.json(json.loads(recording(f"anthropic/{name}").read_text()))


# -- Anthropic clients: pass-through ---------------------------------------------------------


def test_anthropic_stream_passes_through_with_the_model_renamed(upstream, live, recording):
    upstream.add("POST", MESSAGES, sse(recording, "DERIVED-vercel-thinking-signature.sse.txt"))
    with (
        live() as url,
        claude(url, default_headers={"anthropic-beta": "interleaved-thinking-2025-05-14"}).messages.stream(
            model="sonnet",
            max_tokens=2000,
            thinking={"type": "enabled", "budget_tokens": 1024},
            messages=[{"role": "user", "content": "925 / 5?"}],
            extra_body={"betas": ["context-1m-2025-08-07"], "container": "c-1"},
        ) as stream,
    ):
        final = stream.get_final_message()
    sent = upstream.requests_to(MESSAGES)[0]
    assert sent.json["model"] == SONNET and sent.json["container"] == "c-1" and "betas" not in sent.json
    assert sent.headers["authorization"] == "Bearer sk-ant-one"  # not api.anthropic.com: bearer
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert sent.headers["anthropic-beta"] == "interleaved-thinking-2025-05-14,context-1m-2025-08-07"
    assert final.model == "sonnet"
    assert final.content[0].type == "thinking" and final.content[0].signature.startswith("EvQBCkYICxgC")
    assert final.content[1].text == "925 ÷ 5 = 185"


def test_anthropic_non_stream_and_cache_control_untouched(upstream, live, recording):
    upstream.add("POST", MESSAGES, whole(recording, "aibridge-anthropic_multi_thinking_builtin_tool.nonstream.json"))
    system = [{"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral", "ttl": "1h"}}]
    with live() as url:
        message = claude(url).messages.create(
            model="sonnet", max_tokens=1024, system=system, messages=[{"role": "user", "content": "read the foo file"}]
        )
    assert upstream.requests_to(MESSAGES)[0].json["system"] == system
    assert message.model == "sonnet" and [b.type for b in message.content] == ["thinking", "thinking", "tool_use"]
    assert message.usage.cache_read_input_tokens == 23490


def test_tool_input_streams_through_fragment_by_fragment(upstream, live, recording):
    upstream.add("POST", MESSAGES, sse(recording, "anthropic-sdk-tool_use_response.sse.txt"))
    with (
        live() as url,
        claude(url).messages.stream(
            model="sonnet",
            max_tokens=500,
            tools=[{"name": "get_weather", "input_schema": {"type": "object"}}],
            messages=[{"role": "user", "content": "weather in Paris?"}],
        ) as stream,
    ):
        fragments = [
            e.delta.partial_json
            for e in stream
            if e.type == "content_block_delta" and e.delta.type == "input_json_delta"
        ]
        final = stream.get_final_message()
    assert fragments == ["", '{"locati', 'on": "P', "ar", 'is"}']
    assert final.content[1].input == {"location": "Paris"}


def test_history_from_other_providers_is_made_acceptable(upstream, live, recording):
    upstream.add("POST", MESSAGES, whole(recording, "vercel-anthropic-text.json"))
    with live() as url:
        claude(url).messages.create(
            model="sonnet",
            max_tokens=1000,
            thinking={"type": "enabled", "budget_tokens": 5000},
            extra_body={"temperature": 0.3},
            messages=[
                {"role": "user", "content": "weather?"},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "gemini's thought", "signature": ""},
                        {"type": "tool_use", "id": "call.1:x", "name": "get_weather", "input": {}},
                    ],
                },
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call.1:x", "content": "sunny"}]},
            ],
        )
    sent = upstream.requests_to(MESSAGES)[0].json
    call, result = sent["messages"][1]["content"], sent["messages"][2]["content"][0]
    assert [b["type"] for b in call] == ["tool_use"]  # the unsigned thinking block is gone
    assert call[0]["id"] == result["tool_use_id"] and call[0]["id"].startswith("call_1_x_")
    assert "thinking" not in sent  # the tool turn has no thinking block: Anthropic would refuse thinking
    assert sent["temperature"] == 0.3


def test_mid_stream_error_before_content_fails_over(upstream, live, recording):
    def answer(request: RecordedRequest) -> Reply:
        if request.headers["authorization"] == "Bearer sk-ant-one":
            return sse(recording, "CONSTRUCTED-stream-midstream-overloaded-error.sse.txt")
        return sse(recording, "anthropic-sdk-basic_response.sse.txt")

    upstream.add("POST", MESSAGES, answer)
    with (
        live({"priority": 2}, {"api-key": "sk-ant-two"}) as url,
        claude(url).messages.stream(
            model="sonnet", max_tokens=50, messages=[{"role": "user", "content": "hi"}]
        ) as stream,
    ):
        text = "".join(stream.text_stream)
    assert text == "Hello there!"
    keys = [r.headers["authorization"] for r in upstream.requests_to(MESSAGES)]
    assert keys == ["Bearer sk-ant-one", "Bearer sk-ant-two"]


def test_mid_stream_error_after_content_reaches_the_client(upstream, live):
    upstream.add(
        "POST",
        MESSAGES,
        Reply.sse_events(
            [
                {
                    "type": "message_start",
                    "message": {
                        "id": "msg_1",
                        "type": "message",
                        "role": "assistant",
                        "model": SONNET,
                        "content": [],
                        "usage": {"input_tokens": 3, "output_tokens": 1},
                    },
                },
                {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hel"}},
                {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
            ],
            named=True,
        ),
    )
    with live() as url:
        seen: list[str] = []
        with (
            pytest.raises(anthropic.APIStatusError) as caught,
            claude(url).messages.stream(
                model="sonnet", max_tokens=50, messages=[{"role": "user", "content": "hi"}]
            ) as stream,
        ):
            seen.extend(stream.text_stream)
        assert seen == ["Hel"] and "overloaded_error" in str(caught.value)
        with pytest.raises(openai.APIError):
            list(
                gpt(url).chat.completions.create(
                    model="sonnet", messages=[{"role": "user", "content": "hi"}], stream=True
                )
            )


def test_rate_limit_rests_the_credential_for_its_retry_after(upstream, live, recording):
    limited = Reply.http_file(recording("anthropic/CONSTRUCTED-error-429-rate-limit.http.txt"))

    def answer(request: RecordedRequest) -> Reply:
        if request.headers["authorization"] == "Bearer sk-ant-one":
            return limited
        return whole(recording, "vercel-anthropic-text.json")

    upstream.add("POST", MESSAGES, answer)
    app = gateway_app(config_for(upstream, {"priority": 2}, {"api-key": "sk-ant-two"}), plugins=[cliproxy_claude])
    with serve_app(app) as url:
        for _ in range(3):
            assert (
                claude(url)
                .messages.create(model="sonnet", max_tokens=20, messages=[{"role": "user", "content": "x"}])
                .content
            )
    keys = [r.headers["authorization"] for r in upstream.requests_to(MESSAGES)]
    assert keys == ["Bearer sk-ant-one", "Bearer sk-ant-two", "Bearer sk-ant-two", "Bearer sk-ant-two"]


def test_overloaded_529_with_a_single_credential_is_the_clients_error(upstream, live, recording):
    upstream.add("POST", MESSAGES, Reply.http_file(recording("anthropic/CONSTRUCTED-error-529-overloaded.http.txt")))
    with live() as url, pytest.raises(anthropic.APIStatusError) as caught:
        claude(url).messages.create(model="sonnet", max_tokens=20, messages=[{"role": "user", "content": "x"}])
    assert caught.value.status_code == 529 and caught.value.body["error"]["type"] == "overloaded_error"


def test_count_tokens_is_answered_by_the_upstream(upstream, live, recording):
    upstream.add("POST", MESSAGES + "/count_tokens", whole(recording, "CONSTRUCTED-count_tokens-response.json"))
    request = json.loads(recording("anthropic/CONSTRUCTED-count_tokens-request.json").read_text())
    with live() as url:
        count = claude(url).messages.count_tokens(
            model="sonnet", system=request["system"], messages=request["messages"]
        )
    assert count.input_tokens == 14
    sent = upstream.requests_to(MESSAGES + "/count_tokens")[0].json
    assert sent == {"model": SONNET, "system": "You are terse.", "messages": request["messages"]}


# -- OpenAI clients: translated ------------------------------------------------------------


def test_openai_client_non_stream_with_cache_usage(upstream, live, recording):
    upstream.add("POST", MESSAGES, whole(recording, "aibridge-anthropic_single_builtin_tool.nonstream.json"))
    with live() as url:
        answer = gpt(url).chat.completions.create(
            model="sonnet",
            messages=[{"role": "system", "content": "sys"}, {"role": "user", "content": "read the foo file"}],
            tools=[{"type": "function", "function": {"name": "Read", "parameters": {"type": "object"}}}],
            tool_choice="required",
            temperature=0.5,
            top_p=0.9,
        )
    sent = upstream.requests_to(MESSAGES)[0]
    assert sent.json["system"] == "sys" and sent.json["max_tokens"] == 8192
    assert sent.json["tool_choice"] == {"type": "any"}
    assert sent.json["temperature"] == 0.5 and "top_p" not in sent.json  # Sonnet 4.5: one of the two
    assert sent.headers["anthropic-version"] == "2023-06-01" and "anthropic-beta" not in sent.headers
    message = answer.choices[0].message
    assert message.tool_calls[0].function.name == "Read"
    assert json.loads(message.tool_calls[0].function.arguments) == {"file_path": "/tmp/blah/foo"}
    assert answer.choices[0].finish_reason == "tool_calls"
    assert answer.usage.prompt_tokens == 5 + 23490 and answer.usage.prompt_tokens_details.cached_tokens == 23490


def test_openai_client_stream_gets_tool_arguments_incrementally(upstream, live, recording):
    upstream.add("POST", MESSAGES, sse(recording, "docs-example-tool-use.sse.txt"))
    with live() as url:
        chunks = list(
            gpt(url).chat.completions.create(
                model="sonnet",
                messages=[{"role": "user", "content": "weather in SF?"}],
                tools=[{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}],
                stream=True,
                stream_options={"include_usage": True},
            )
        )
    fragments = [
        call.function.arguments
        for chunk in chunks
        if chunk.choices
        for call in chunk.choices[0].delta.tool_calls or ()
        if call.function and call.function.arguments
    ]
    assert len(fragments) > 5
    assert json.loads("".join(fragments)) == {"location": "San Francisco, CA", "unit": "fahrenheit"}
    assert chunks[-1].usage.prompt_tokens == 472 and chunks[-1].usage.completion_tokens == 89
    assert upstream.requests_to(MESSAGES)[0].json["stream"] is True


def test_openai_reasoning_effort_becomes_a_thinking_budget_the_model_accepts(upstream, live, recording):
    upstream.add("POST", MESSAGES, whole(recording, "vercel-anthropic-claude-opus-5-reasoning-high.1.json"))
    with live() as url:
        client = gpt(url)
        high = client.chat.completions.create(
            model="sonnet", messages=[{"role": "user", "content": "roots?"}], reasoning_effort="high", temperature=0.2
        )
        client.chat.completions.create(
            model="opus", messages=[{"role": "user", "content": "roots?"}], reasoning_effort="low", max_tokens=3000
        )
    to_sonnet, to_opus = (r.json for r in upstream.requests_to(MESSAGES))
    assert to_sonnet["thinking"] == {"type": "enabled", "budget_tokens": 24576}
    assert to_sonnet["max_tokens"] > 24576 and "temperature" not in to_sonnet
    assert to_opus["thinking"] == {"type": "adaptive"} and to_opus["output_config"] == {"effort": "low"}
    assert to_opus["max_tokens"] == 3000
    message = high.choices[0].message
    assert message.content.startswith("## Step 1")
    details = message.model_extra["reasoning_details"]
    assert details[0]["format"] == "anthropic-claude-v1" and details[0]["signature"].startswith("CAIS")


def test_signatures_come_back_to_anthropic_through_openai_clients(upstream, live, recording):
    upstream.add("POST", MESSAGES, whole(recording, "vercel-anthropic-text.json"))
    details = [{"type": "reasoning.text", "text": "think", "signature": "SIG", "format": "anthropic-claude-v1"}]
    with live() as url:
        gpt(url).chat.completions.create(
            model="sonnet",
            reasoning_effort="medium",
            messages=[
                {"role": "user", "content": "q"},
                {
                    "role": "assistant",
                    "content": None,
                    "reasoning_details": details,
                    "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": "r"},
            ],
            tools=[{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        )
    sent = upstream.requests_to(MESSAGES)[0].json
    assert sent["messages"][1]["content"][0] == {"type": "thinking", "thinking": "think", "signature": "SIG"}
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 8192}


def test_models_list_serves_the_catalogue_when_none_are_configured(upstream, live):
    with live({"models": None, "prefix": "cl"}) as url:
        ids = {m.id for m in gpt(url).models.list()}
    assert {"claude-sonnet-4-5", "cl/claude-opus-5-5", "claude-fable-5-1"} <= ids


def test_models_are_discovered_from_the_upstream(upstream):
    upstream.add("GET", "/v1/models", Reply.json({"data": [{"type": "model", "id": "claude-x-1"}], "has_more": False}))
    app = gateway_app(config_for(upstream, {"models": None}), plugins=[cliproxy_claude])
    with serve_app(app) as url:
        client = gpt(url)
        for _ in range(200):
            ids = {m.id for m in client.models.list()}
            if "claude-x-1" in ids:
                break
    assert ids == {"claude-x-1"}
    assert upstream.requests_to("/v1/models")[0].query == {"limit": "1000"}


async def test_in_process_client_sees_an_anthropic_error_for_an_unknown_model(upstream):
    app = gateway_app(config_for(upstream), plugins=[cliproxy_claude])
    async with asgi_client(app) as http:
        response = await http.post(
            MESSAGES,
            headers={"x-api-key": "client-key"},
            json={"model": "nope", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]},
        )
    assert response.status_code in (400, 404)
    assert response.json()["type"] == "error"


def test_api_key_header_depends_on_the_host():
    assert auth_headers(ClaudeSettings(api_key="k"), None)["x-api-key"] == "k"
    other = auth_headers(ClaudeSettings(base_url="https://proxy.example", api_key="k"), None)
    assert other["authorization"] == "Bearer k" and "x-api-key" not in other
    oauth = auth_headers(ClaudeSettings(oauth=True), "tok")
    assert oauth["authorization"] == "Bearer tok"


def test_config_mistakes_are_located(upstream):
    with pytest.raises(ConfigError) as caught:
        gateway_app({"claude-api-key": [{"api-key": "k", "base_url": "x"}]}, plugins=[cliproxy_claude])
    assert "base_url" in str(caught.value) and "base-url" in str(caught.value)
    with pytest.raises(ConfigError) as missing:
        gateway_app({"claude-api-key": [{"prefix": "p"}]}, plugins=[cliproxy_claude])
    assert "api-key" in str(missing.value)
    with pytest.raises(ConfigError) as oauth:
        gateway_app({"claude-oauth": {"client_id": "x"}}, plugins=[cliproxy_claude])
    assert "client-id" in str(oauth.value)


def test_upstream_requests_name_cliproxy_as_their_user_agent(upstream, live, recording):
    upstream.add("POST", MESSAGES, whole(recording, "aibridge-anthropic_multi_thinking_builtin_tool.nonstream.json"))
    with live() as url:
        claude(url).messages.create(model="sonnet", max_tokens=64, messages=[{"role": "user", "content": "hi"}])
    assert upstream.requests_to(MESSAGES)[0].headers["user-agent"] == USER_AGENT
