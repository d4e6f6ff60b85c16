"""``wire: responses``: entries whose server speaks the OpenAI Responses API."""

from __future__ import annotations

import json

import cliproxy_openai
import openai
import pytest
from cliproxy.config import ConfigError
from cliproxy.testing import FakeUpstream, Reply, gateway_app, serve_app

SIMPLE = "openai-responses/aibridge-responses_blocking_simple.nonstream.json"


def entry(upstream: FakeUpstream, **extra: object) -> dict:
    return {
        "name": "vllm",
        "base-url": upstream.url + "/v1",
        "models": [{"name": "gpt-oss-20b", "alias": "oss"}],
        **extra,
    }


def client(url: str) -> openai.OpenAI:
    return openai.OpenAI(api_key="unused", base_url=url + "/v1", max_retries=0)


@pytest.mark.parametrize(
    ("wire", "path"), [(None, "/v1/chat/completions"), ("chat", "/v1/chat/completions"), ("responses", "/v1/responses")]
)
def test_the_entry_wire_picks_the_endpoint(upstream, recording, wire, path):
    upstream.add("POST", "/v1/responses", Reply.json(json.loads(recording(SIMPLE).read_text())))
    upstream.add(
        "POST",
        "/v1/chat/completions",
        Reply.json(json.loads(recording("openai-chat/aibridge-chat_simple.nonstream.json").read_text())),
    )
    extra = {"wire": wire} if wire else {}
    app = gateway_app({"openai-compatibility": [entry(upstream, **extra)]}, plugins=[cliproxy_openai])
    with serve_app(app) as url:
        answer = client(url).chat.completions.create(model="oss", messages=[{"role": "user", "content": "a joke"}])
    assert answer.choices[0].message.content
    assert [r.path for r in upstream.requests] == [path]
    assert upstream.requests[0].json["model"] == "gpt-oss-20b"


def test_presets_take_the_wire_too(upstream, recording):
    upstream.add("POST", "/v1/responses", Reply.json(json.loads(recording(SIMPLE).read_text())))
    config = {
        "openai-api-key": [
            {
                "api-key": "sk-openai",
                "base-url": upstream.url + "/v1",
                "wire": "responses",
                "models": [{"name": "gpt-4.1"}],
            }
        ]
    }
    with serve_app(gateway_app(config, plugins=[cliproxy_openai])) as url:
        answer = client(url).responses.create(model="gpt-4.1", input="a joke")
    assert answer.output_text.startswith("Why did the scarecrow")
    sent = upstream.requests_to("/v1/responses")[0]
    assert sent.headers["authorization"] == "Bearer sk-openai"
    assert sent.json == {"model": "gpt-4.1", "input": "a joke"}  # the client's own body, untouched


def test_an_unknown_wire_is_a_located_config_error(upstream):
    with pytest.raises(ConfigError) as caught:
        gateway_app({"openai-compatibility": [entry(upstream, wire="grpc")]}, plugins=[cliproxy_openai])
    assert "wire" in str(caught.value) and "responses" in str(caught.value)
