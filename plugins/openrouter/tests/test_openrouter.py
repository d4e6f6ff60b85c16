"""cliproxy-openrouter against a fake OpenRouter built from the recordings, with the
official OpenAI SDK as the client, through a real Hypercorn server."""

from __future__ import annotations

import json
import time

import cliproxy_openrouter
import httpx
import openai
import pytest
from cliproxy.testing import FakeUpstream, Reply, gateway_app, serve_app

COMMENTS = "openrouter/CONSTRUCTED-stream-with-processing-comments.sse.txt"
MIDSTREAM = "openrouter/CONSTRUCTED-stream-midstream-error.sse.txt"
NONSTREAM = "openrouter/CONSTRUCTED-nonstream-response-reasoning.json"
EXTRAS = "openrouter/CONSTRUCTED-request-openrouter-extras.json"
ERROR = "openrouter/CONSTRUCTED-error-response.json"
CHAT = "/api/v1/chat/completions"


def entry(upstream: FakeUpstream, **extra: object) -> dict:
    block: dict = {
        "api-key": "sk-or-v1-upstream",
        "base-url": upstream.url + "/api/v1",
        "prefix": "batch",
        "models": [{"name": "anthropic/claude-sonnet-4.5", "alias": "sonnet"}],
        "http-referer": "https://my.app",
        "x-title": "My App",
    }
    block.update(extra)
    return {k: v for k, v in block.items() if v is not None}


def config(*entries: dict, **top: object) -> dict:
    return {"api-keys": ["client-key"], "openrouter": list(entries), **top}


def client(url: str) -> openai.OpenAI:
    return openai.OpenAI(api_key="client-key", base_url=url + "/v1", max_retries=0)


def serve(cfg: dict):
    return serve_app(gateway_app(cfg, plugins=[cliproxy_openrouter]))


def test_non_stream_sends_key_attribution_and_openrouter_fields_untouched(upstream, recording):
    upstream.add("POST", CHAT, Reply.json(json.loads(recording(NONSTREAM).read_text())))
    extras = json.loads(recording(EXTRAS).read_text())
    with serve(config(entry(upstream))) as url:
        answer = client(url).chat.completions.create(
            model="batch/sonnet",
            messages=[{"role": "user", "content": "Hi"}],
            extra_body={k: extras[k] for k in ("provider", "models", "reasoning")} | {"transforms": ["middle-out"]},
        )
    sent = upstream.requests_to(CHAT)[0]
    assert sent.headers["authorization"] == "Bearer sk-or-v1-upstream"
    assert sent.headers["http-referer"] == "https://my.app"
    assert sent.headers["x-title"] == "My App"
    body = sent.json
    assert body["model"] == "anthropic/claude-sonnet-4.5"
    assert body["provider"] == extras["provider"]
    assert body["models"] == extras["models"]
    assert body["reasoning"] == extras["reasoning"]
    assert body["transforms"] == ["middle-out"]
    assert answer.model == "batch/sonnet"
    assert answer.choices[0].message.content == "Hello!"
    message_extra = answer.choices[0].message.model_extra or {}
    assert message_extra["reasoning"] == "The user greets me."
    assert message_extra["reasoning_details"][0]["signature"] == "EqQB..."
    assert (answer.usage.model_extra or {})["cost"] == pytest.approx(0.000492)


def test_configured_provider_preferences_sit_under_the_clients(upstream, recording):
    upstream.add("POST", CHAT, Reply.json(json.loads(recording(NONSTREAM).read_text())))
    prefs = {"sort": "price", "data_collection": "deny", "order": ["anthropic"]}
    with serve(config(entry(upstream, provider=prefs))) as url:
        c = client(url)
        c.chat.completions.create(model="batch/sonnet", messages=[{"role": "user", "content": "a"}])
        c.chat.completions.create(
            model="batch/sonnet",
            messages=[{"role": "user", "content": "b"}],
            extra_body={"provider": {"sort": "latency"}},
        )
    first, second = (r.json["provider"] for r in upstream.requests_to(CHAT))
    assert first == prefs
    assert second == {"sort": "latency", "data_collection": "deny", "order": ["anthropic"]}


def test_stream_drops_processing_comments_and_reports_cost(upstream, recording):
    upstream.add("POST", CHAT, Reply.sse_file(recording(COMMENTS)))
    with serve(config(entry(upstream))) as url:
        chunks = list(
            client(url).chat.completions.create(
                model="batch/sonnet",
                messages=[{"role": "user", "content": "Hi"}],
                stream=True,
                stream_options={"include_usage": True},
            )
        )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello!"
    assert all(c.model == "batch/sonnet" for c in chunks)
    assert (chunks[-1].usage.model_extra or {})["cost"] == pytest.approx(4.35e-06)


def test_processing_comments_never_reach_the_client_as_data(upstream, recording):
    upstream.add("POST", CHAT, Reply.sse_file(recording(COMMENTS)))
    with serve(config(entry(upstream))) as url:
        raw = httpx.post(
            url + "/v1/chat/completions",
            headers={"authorization": "Bearer client-key"},
            json={
                "model": "batch/sonnet",
                "messages": [{"role": "user", "content": "Hi"}],
                "stream": True,
            },
            timeout=30,
        ).text
    data_lines = [line for line in raw.splitlines() if line.startswith("data:")]
    assert data_lines and data_lines[-1] == "data: [DONE]"
    assert not any("OPENROUTER PROCESSING" in line for line in data_lines)
    for line in data_lines[:-1]:
        json.loads(line[5:])  # every data line is a JSON chunk


def test_error_after_the_first_token_ends_the_clients_stream_with_an_error(upstream, recording):
    upstream.add("POST", CHAT, Reply.sse_file(recording(MIDSTREAM)))
    received = []
    with serve(config(entry(upstream))) as url, pytest.raises(openai.APIError) as caught:
        for chunk in client(url).chat.completions.create(
            model="batch/sonnet", messages=[{"role": "user", "content": "Hi"}], stream=True
        ):
            received.append(chunk.choices[0].delta.content if chunk.choices else None)
    assert "The" in received
    assert "Provider disconnected unexpectedly" in str(caught.value)


def test_error_before_any_content_fails_over_to_the_next_credential(recording):
    failing = b'data: {"id":"gen-x","object":"chat.completion.chunk","created":1,"model":"m","error":{"code":502,"message":"Provider returned error"},"choices":[{"index":0,"delta":{"content":""},"finish_reason":"error"}]}\n\n'
    with FakeUpstream() as bad, FakeUpstream() as good:
        bad.add("POST", CHAT, Reply.sse([b": OPENROUTER PROCESSING\n\n", failing]))
        good.add("POST", CHAT, Reply.sse_file(recording(COMMENTS)))
        cfg = config(
            entry(bad, **{"api-key": "sk-or-v1-first", "priority": 10}),
            entry(good, **{"api-key": "sk-or-v1-second", "priority": 0}),
        )
        with serve(cfg) as url:
            chunks = list(
                client(url).chat.completions.create(
                    model="batch/sonnet", messages=[{"role": "user", "content": "Hi"}], stream=True
                )
            )
        assert len(bad.requests_to(CHAT)) == 1 and len(good.requests_to(CHAT)) == 1
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello!"


def test_http_error_reaches_the_client_with_its_status(upstream, recording):
    upstream.add("POST", CHAT, Reply(status=402, body=recording(ERROR).read_bytes()))
    with (
        serve(config(entry(upstream), **{"request-retry": 0})) as url,
        pytest.raises(openai.APIStatusError) as caught,
    ):
        client(url).chat.completions.create(model="batch/sonnet", messages=[{"role": "user", "content": "Hi"}])
    assert caught.value.status_code == 402
    assert "more credits" in caught.value.message


def test_flagged_input_is_a_400_and_does_not_rest_the_key(upstream, recording):
    flagged = {
        "error": {
            "code": 403,
            "message": "Your chosen model requires moderation and your input was flagged",
            "metadata": {
                "reasons": ["violence"],
                "flagged_input": "...",
                "provider_name": "OpenAI",
                "model_slug": "openai/gpt-4o",
            },
        }
    }
    upstream.add(
        "POST",
        CHAT,
        [Reply.json(flagged, status=403), Reply.json(json.loads(recording(NONSTREAM).read_text()))],
    )
    with serve(config(entry(upstream))) as url:
        c = client(url)
        with pytest.raises(openai.BadRequestError) as caught:
            c.chat.completions.create(model="batch/sonnet", messages=[{"role": "user", "content": "bad"}])
        assert "moderation" in caught.value.message
        assert c.chat.completions.create(model="batch/sonnet", messages=[{"role": "user", "content": "fine"}])


def wait_for(predicate, what: str):
    for _ in range(200):
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


def test_model_list_is_discovered_cached_and_refreshed(upstream):
    def models(*ids: str) -> Reply:
        return Reply.json({"data": [{"id": i, "name": i, "context_length": 200000} for i in ids]})

    upstream.add(
        "GET",
        "/api/v1/models",
        [
            models("anthropic/claude-sonnet-4.5", "openai/gpt-4.1"),
            models("openai/gpt-4.1", "x-ai/grok-4"),
        ],
    )
    upstream.add(
        "POST",
        CHAT,
        Reply.json(
            {
                "id": "gen-1",
                "model": "x-ai/grok-4",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "hi"},
                        "finish_reason": "stop",
                    }
                ],
            }
        ),
    )
    cfg = config(entry(upstream, models=None, **{"models-refresh-interval": 0.2}))
    with serve(cfg) as url:
        c = client(url)

        def listed_with(model: str):
            ids = {m.id for m in c.models.list()}
            return ids if model in ids else None

        ids = wait_for(lambda: listed_with("batch/anthropic/claude-sonnet-4.5"), "the first list")
        assert {"batch/anthropic/claude-sonnet-4.5", "batch/openai/gpt-4.1"} <= ids
        ids = wait_for(lambda: listed_with("batch/x-ai/grok-4"), "the refreshed list")
        assert "batch/anthropic/claude-sonnet-4.5" not in ids
        assert c.chat.completions.create(model="batch/x-ai/grok-4", messages=[{"role": "user", "content": "x"}])
        # not listed, still served: OpenRouter knows models the list may not show yet
        assert c.chat.completions.create(model="batch/some/new-model", messages=[{"role": "user", "content": "x"}])
    sent = [r.json["model"] for r in upstream.requests_to(CHAT)]
    assert sent == ["x-ai/grok-4", "some/new-model"]
    assert upstream.requests_to("/api/v1/models")[0].headers["authorization"] == "Bearer sk-or-v1-upstream"


def test_config_errors_are_located(upstream):
    from cliproxy import ConfigError

    with pytest.raises(ConfigError) as caught:
        gateway_app(config({"api-key": "k", "provider": ["anthropic"]}), plugins=[cliproxy_openrouter])
    assert "provider" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        gateway_app(config({"api-key": "k", "x-titel": "oops"}), plugins=[cliproxy_openrouter])
    assert "x-title" in str(caught.value)
    with pytest.raises(ConfigError):
        gateway_app(config({"prefix": "p"}), plugins=[cliproxy_openrouter])


def test_responses_clients_reasoning_effort_becomes_openrouters(upstream, recording):
    """The OpenAI Responses door (Codex) is another door: its reasoning is reshaped."""
    upstream.add("POST", CHAT, Reply.json(json.loads(recording(NONSTREAM).read_text())))
    with serve(config(entry(upstream))) as url:
        answer = client(url).responses.create(model="batch/sonnet", input="Hi", reasoning={"effort": "high"})
    body = upstream.requests_to(CHAT)[0].json
    assert body["reasoning"] == {"effort": "high"} and "reasoning_effort" not in body
    assert answer.output_text == "Hello!"
