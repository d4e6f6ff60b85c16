"""cliproxy-openai against a fake OpenAI-compatible upstream, with the official SDK as client."""

from __future__ import annotations

import json
import types

import cliproxy_openai
import openai
import pytest
from cliproxy import USER_AGENT
from cliproxy.testing import FakeUpstream, Reply, gateway_app, serve_app

SIMPLE = "openai-chat/aibridge-chat_simple.nonstream.json"


def config_for(upstream: FakeUpstream, **entry: object) -> dict:
    block = {
        "name": "local",
        "base-url": upstream.url + "/v1",
        "api-key-entries": [{"api-key": "sk-upstream-1"}],
        "models": [{"name": "gpt-4.1-nano", "alias": "nano"}],
    }
    block.update(entry)
    return {"api-keys": ["client-key"], "openai-compatibility": [block]}


@pytest.fixture
def live(upstream: FakeUpstream):
    def start(**entry: object):
        app = gateway_app(config_for(upstream, **entry), plugins=[cliproxy_openai])
        return serve_app(app)

    return start


def client(url: str) -> openai.OpenAI:
    return openai.OpenAI(api_key="client-key", base_url=url + "/v1", max_retries=0)


def test_non_stream_reaches_upstream_with_real_name_and_key(upstream, live, recording):
    upstream.add("POST", "/v1/chat/completions", Reply.json(json.loads(recording(SIMPLE).read_text())))
    with live() as url:
        answer = client(url).chat.completions.create(model="nano", messages=[{"role": "user", "content": "hi"}])
    sent = upstream.requests_to("/v1/chat/completions")[0]
    assert sent.json["model"] == "gpt-4.1-nano"
    assert sent.headers["authorization"] == "Bearer sk-upstream-1"
    assert answer.model == "nano"  # the client sees the name it asked for
    assert answer.choices[0].message.content
    assert answer.usage is not None and answer.usage.prompt_tokens > 0


def test_stream_passes_through_and_asks_for_usage(upstream, live, recording):
    upstream.add(
        "POST", "/v1/chat/completions", Reply.sse_file(recording("openai-chat/DERIVED-vercel-openai-text.sse.txt"))
    )
    with live() as url:
        stream = client(url).chat.completions.create(
            model="nano",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = list(stream)
    sent = upstream.requests_to("/v1/chat/completions")[0].json
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text
    assert all(c.model == "nano" for c in chunks)
    assert chunks[-1].usage is not None


def test_stream_without_include_usage_gets_no_usage_chunk(upstream, live, recording):
    upstream.add(
        "POST", "/v1/chat/completions", Reply.sse_file(recording("openai-chat/DERIVED-vercel-openai-text.sse.txt"))
    )
    with live() as url:
        chunks = list(
            client(url).chat.completions.create(model="nano", messages=[{"role": "user", "content": "hi"}], stream=True)
        )
    assert upstream.requests_to("/v1/chat/completions")[0].json["stream_options"] == {"include_usage": True}
    assert all(c.choices for c in chunks), "a client that did not ask for usage must not get a usage-only chunk"


def test_parallel_tool_calls_stream_fragment_by_fragment(upstream, live, recording):
    upstream.add(
        "POST",
        "/v1/chat/completions",
        Reply.sse_file(recording("openai-chat/openai-sdk-stream-parallel-tool-calls.sse.txt")),
    )
    with live() as url:
        chunks = list(
            client(url).chat.completions.create(
                model="nano",
                messages=[{"role": "user", "content": "weather in Edinburgh and New York?"}],
                tools=[{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}],
                stream=True,
            )
        )
    calls: dict[int, str] = {}
    fragments = 0
    for chunk in chunks:
        for call in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            calls[call.index] = calls.get(call.index, "") + (call.function.arguments or "")
            fragments += 1
    assert len(calls) == 2
    assert all(json.loads(args) for args in calls.values())
    assert fragments > 4  # arguments arrived in pieces, not buffered


def test_upstream_errors_reach_the_client_with_status(upstream, live, recording):
    upstream.add(
        "POST",
        "/v1/chat/completions",
        Reply.http_file(recording("openai-chat/aibridge-chat_non_stream_error.nonstream.http.txt")),
    )
    with live() as url, pytest.raises(openai.APIStatusError) as caught:
        client(url).chat.completions.create(model="nano", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 400


def test_images_and_tools_translate_from_ir(upstream, live):
    """A request that is not pass-through (the echo-free path) still carries images."""
    upstream.add(
        "POST",
        "/v1/chat/completions",
        Reply.json(
            {
                "id": "x",
                "object": "chat.completion",
                "created": 1,
                "model": "gpt-4.1-nano",
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": "a cat"}, "finish_reason": "stop"}
                ],
            }
        ),
    )
    with live() as url:
        answer = client(url).chat.completions.create(
            model="nano",
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "what is this?"},
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                    ],
                }
            ],
        )
    assert answer.choices[0].message.content == "a cat"
    sent = upstream.requests_to("/v1/chat/completions")[0].json
    assert sent["messages"][0]["content"][1]["image_url"]["url"].startswith("data:image/png;base64,")


def test_discovers_models_when_none_are_listed(upstream, live):
    upstream.add("GET", "/v1/models", Reply.json({"object": "list", "data": [{"id": "m-1"}, {"id": "m-2"}]}))
    upstream.add(
        "POST",
        "/v1/chat/completions",
        Reply.json(
            {
                "id": "x",
                "model": "m-2",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
            }
        ),
    )
    with live(models=None, prefix="loc") as url:
        c = client(url)
        for _ in range(100):
            ids = {m.id for m in c.models.list()}
            if "m-2" in ids:
                break
        assert {"m-1", "m-2", "loc/m-1", "loc/m-2"} <= ids
        assert c.chat.completions.create(model="loc/anything-else", messages=[{"role": "user", "content": "x"}])
    assert upstream.requests_to("/v1/chat/completions")[0].json["model"] == "anything-else"


def test_settings_timeout_bounds_the_wait_for_the_first_byte(upstream):
    """``OpenAISettings.timeout`` is the public knob subclasses use for slow upstreams."""
    from cliproxy import Credential, credential_id, hookimpl

    class Slow(cliproxy_openai.OpenAIChatProvider):
        name = "slow"
        config_keys = ("slow",)

        def load_config(self, key, node, host):
            for entry in node.nodes(key):
                entry.done()
            settings = cliproxy_openai.OpenAISettings(base_url=upstream.url + "/v1", timeout=0.2)
            return [
                Credential(
                    id=credential_id("slow"),
                    provider=self.name,
                    label="slow",
                    models=(),
                    any_model=True,
                    prefix="s",
                    settings=settings,
                )
            ]

    @hookimpl
    def register_providers(register):
        register(Slow())

    Plugin = types.SimpleNamespace(register_providers=register_providers)

    upstream.add("POST", "/v1/chat/completions", Reply.json({"choices": []}, delay=3))
    app = gateway_app({"api-keys": ["client-key"], "request-retry": 0, "slow": [{}]}, plugins=[Plugin])
    with serve_app(app) as url, pytest.raises(openai.APIStatusError) as caught:
        client(url).chat.completions.create(model="s/m", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 504


def test_model_lists_refresh_on_request(upstream, live):
    upstream.add(
        "GET", "/v1/models", [Reply.json({"data": [{"id": "old-model"}]}), Reply.json({"data": [{"id": "new-model"}]})]
    )
    with live(models=None, prefix="loc") as url:
        c = client(url)
        for _ in range(100):
            if "old-model" in {m.id for m in c.models.list()}:
                break
        import httpx

        refreshed = httpx.post(url + "/v0/models/refresh", timeout=10).json()
        assert "new-model" in refreshed["models"] and "old-model" not in refreshed["models"]
        assert "loc/new-model" in {m.id for m in c.models.list()}


def test_upstream_requests_name_cliproxy_as_their_user_agent(upstream, live, recording):
    upstream.add("POST", "/v1/chat/completions", Reply.json(json.loads(recording(SIMPLE).read_text())))
    with live() as url:
        client(url).chat.completions.create(model="nano", messages=[{"role": "user", "content": "hi"}])
    assert upstream.requests_to("/v1/chat/completions")[0].headers["user-agent"] == USER_AGENT
