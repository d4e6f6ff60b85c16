"""cliproxy-mlx behind the Anthropic door, with the official Anthropic SDK: a local model
for Claude Code-style clients, thinking tags and all."""

from __future__ import annotations

import json

import anthropic
import cliproxy_mlx
import pytest
from cliproxy.testing import Reply, gateway_app, serve_app

CHAT = "/v1/chat/completions"
MODELS = {"object": "list", "data": [{"id": "local-text-model", "object": "model"}]}


def chunk(delta: dict, finish: str | None = None) -> bytes:
    body = {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "local-text-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(body).encode() + b"\n\n"


def test_think_tags_become_thinking_blocks_and_usage_is_estimated(upstream):
    pieces = ["<thi", "nk>Plan: greet.</th", "ink>\n", "Hello ", "from MLX"]
    data = b"".join(chunk({"content": p}) for p in pieces) + chunk({}, "stop") + b"data: [DONE]\n\n"
    upstream.add("GET", "/v1/models", Reply.json(MODELS))
    upstream.add("POST", CHAT, Reply.sse([data[i : i + 9] for i in range(0, len(data), 9)]))
    app = gateway_app(
        {"api-keys": ["client-key"], "mlx": [{"base-url": upstream.url + "/v1"}]},
        plugins=[cliproxy_mlx],
    )
    with serve_app(app) as url:
        c = anthropic.Anthropic(api_key="client-key", base_url=url, max_retries=0)
        with c.messages.stream(
            model="mlx/local-text-model",
            max_tokens=256,
            messages=[{"role": "user", "content": "hello there"}],
        ) as stream:
            message = stream.get_final_message()
    assert [b.type for b in message.content] == ["thinking", "text"]
    assert message.content[0].thinking == "Plan: greet."
    assert message.content[1].text == "Hello from MLX"
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    assert upstream.requests_to(CHAT)[0].json["model"] == "local-text-model"


def test_a_model_that_rejects_tools_is_a_clear_anthropic_400(upstream):
    upstream.add("GET", "/v1/models", Reply.json(MODELS))
    upstream.add(
        "POST",
        CHAT,
        Reply.json({"error": {"message": "llama3 does not support tools", "type": "api_error"}}, status=400),
    )
    app = gateway_app(
        {"api-keys": ["client-key"], "mlx": [{"base-url": upstream.url + "/v1"}]},
        plugins=[cliproxy_mlx],
    )
    with serve_app(app) as url:
        c = anthropic.Anthropic(api_key="client-key", base_url=url, max_retries=0)
        with pytest.raises(anthropic.BadRequestError) as caught:
            c.messages.create(
                model="mlx/llama3",
                max_tokens=64,
                messages=[{"role": "user", "content": "hi"}],
                tools=[{"name": "f", "input_schema": {"type": "object"}}],
            )
    assert "does not accept tools" in caught.value.message and "mlx/llama3" in caught.value.message
