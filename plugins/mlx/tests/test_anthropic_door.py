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


COMPLETION = {
    "id": "c",
    "object": "chat.completion",
    "created": 1,
    "model": "local-text-model",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Done."}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11},
}


def test_claude_code_system_messages_reach_the_local_server_in_place(upstream):
    """Claude Code 2.1's role: system messages (issue 14), and no effort it did not ask for."""
    upstream.add("GET", "/v1/models", Reply.json(MODELS))
    upstream.add("POST", CHAT, Reply.json(COMPLETION))
    app = gateway_app({"api-keys": ["client-key"], "mlx": [{"base-url": upstream.url + "/v1"}]}, plugins=[cliproxy_mlx])
    with serve_app(app) as url:
        c = anthropic.Anthropic(api_key="client-key", base_url=url, max_retries=0)
        message = c.messages.create(
            model="mlx/local-text-model",
            max_tokens=64,
            system=[{"type": "text", "text": "cc_entrypoint=sdk-cli;"}, {"type": "text", "text": "You are Claude."}],
            messages=[
                {"role": "user", "content": "hi"},
                {"role": "system", "content": "Reply in one word."},  # type: ignore[misc,list-item]
            ],
            extra_headers={"anthropic-beta": "mid-conversation-system-2026-04-07"},
        )
    assert message.content[0].text == "Done."
    sent = upstream.requests_to(CHAT)[0].json
    assert sent["messages"] == [
        {"role": "system", "content": "cc_entrypoint=sdk-cli;\n\nYou are Claude."},
        {"role": "user", "content": "hi"},
        {"role": "system", "content": "Reply in one word."},
    ]
    assert "reasoning_effort" not in sent


def test_a_codex_summary_request_gets_no_invented_effort(upstream):
    """Codex asks only for a reasoning summary (issue 14): the local server gets no effort."""
    import openai

    upstream.add("GET", "/v1/models", Reply.json(MODELS))
    upstream.add("POST", CHAT, Reply.json(COMPLETION))
    app = gateway_app({"api-keys": ["client-key"], "mlx": [{"base-url": upstream.url + "/v1"}]}, plugins=[cliproxy_mlx])
    with serve_app(app) as url:
        c = openai.OpenAI(api_key="client-key", base_url=url + "/v1", max_retries=0)
        response = c.responses.create(model="mlx/local-text-model", input="hi", reasoning={"summary": "auto"})
    assert response.output_text == "Done."
    assert "reasoning_effort" not in upstream.requests_to(CHAT)[0].json
