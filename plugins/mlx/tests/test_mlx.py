"""cliproxy-mlx against fake local servers built from the recordings, with the official
OpenAI SDK as the client, through a real Hypercorn server: the ``mlx/<model-id>`` pattern."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time

import cliproxy_mlx
import openai
import pytest
from cliproxy.testing import FakeUpstream, Reply, gateway_app, serve_app

CHAT = "/v1/chat/completions"
MODELS = "/v1/models"
LLAMACPP = "local-openai-compat/CONSTRUCTED-llamacpp-server-stream-reasoning-usage-timings.sse.txt"
OLLAMA_TOOLS = "local-openai-compat/CONSTRUCTED-ollama-v1-stream-tool-call.sse.txt"
OLLAMA_MODELS = "local-openai-compat/CONSTRUCTED-ollama-models.json"
VLLM_MODELS = "local-openai-compat/CONSTRUCTED-vllm-models.json"
DEEPSEEK = "local-openai-compat/vercel-deepseek-reasoning.json"
LEGACY_ERROR = "local-openai-compat/CONSTRUCTED-vllm-error-legacy.json"
MLX_MODELS = {
    "object": "list",
    "data": [{"id": "local-text-model", "object": "model", "created": 1, "owned_by": "mlx"}],
}


def config(*entries: dict, **top: object) -> dict:
    return {"api-keys": ["client-key"], "mlx": list(entries), **top}


def serve(cfg: dict):
    return serve_app(gateway_app(cfg, plugins=[cliproxy_mlx]))


def client(url: str) -> openai.OpenAI:
    return openai.OpenAI(api_key="client-key", base_url=url + "/v1", max_retries=0)


def wait_for(predicate, what: str):
    for _ in range(300):
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


def listed(c: openai.OpenAI) -> set[str]:
    return {m.id for m in c.models.list()}


def chunk(delta: dict, finish: str | None = None) -> dict:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "local-text-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def think_stream(size: int) -> Reply:
    """mlx-openai-server without a reasoning parser: <think> inline, no usage, cut into
    ``size``-byte network reads so tags and JSON split anywhere."""
    pieces = ["<think>", "\nThe user", " says hi.\n</", "think>\n\n", "Hello", " there!"]
    events = [chunk({"role": "assistant", "content": ""})] + [chunk({"content": p}) for p in pieces]
    events.append(chunk({}, "stop"))
    data = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events) + b"data: [DONE]\n\n"
    return Reply.sse([data[i : i + size] for i in range(0, len(data), size)])


def test_discovered_models_are_listed_and_served_under_the_prefix(upstream, recording):
    upstream.add("GET", MODELS, Reply.json(json.loads(recording(VLLM_MODELS).read_text())))
    upstream.add("POST", CHAT, Reply.json(json.loads(recording(DEEPSEEK).read_text())))
    with serve(config({"base-url": upstream.url + "/v1"})) as url:
        c = client(url)
        ids = wait_for(lambda: (s := listed(c)) and "mlx/Qwen/Qwen3-8B" in s and s, "the discovered model")
        assert "mlx/Qwen/Qwen3-8B" in ids
        answer = c.chat.completions.create(model="mlx/Qwen/Qwen3-8B", messages=[{"role": "user", "content": "r's?"}])
    sent = upstream.requests_to(CHAT)[0]
    assert sent.json["model"] == "Qwen/Qwen3-8B"
    assert "authorization" not in sent.headers  # no api-key configured: none sent
    assert answer.model == "mlx/Qwen/Qwen3-8B"
    assert "three" in answer.choices[0].message.content
    assert (answer.choices[0].message.model_extra or {})["reasoning_content"].startswith("We are asked")
    assert answer.usage.prompt_tokens == 18 and answer.usage.completion_tokens == 345


def test_think_tags_in_a_non_stream_answer_become_reasoning_and_usage_is_estimated(upstream):
    upstream.add("GET", MODELS, Reply.json(MLX_MODELS))
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "local-text-model",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "<think>\nGreeting.\n</think>\n\nHello!",
                },
                "finish_reason": "stop",
            }
        ],
    }
    upstream.add("POST", CHAT, Reply.json(body))
    with serve(config({"base-url": upstream.url + "/v1", "api-key": "local-key"})) as url:
        answer = client(url).chat.completions.create(
            model="mlx/local-text-model",
            messages=[{"role": "user", "content": "Say hello to the whole wide world"}],
        )
    assert upstream.requests_to(CHAT)[0].headers["authorization"] == "Bearer local-key"
    assert answer.choices[0].message.content == "Hello!"
    assert (answer.choices[0].message.model_extra or {})["reasoning_content"] == "Greeting."
    assert answer.usage.prompt_tokens > 0 and answer.usage.completion_tokens > 0  # estimated


@pytest.mark.parametrize("size", [7, 23, 4096])
def test_think_tags_split_across_network_reads_stream_as_reasoning(upstream, size):
    upstream.add("GET", MODELS, Reply.json(MLX_MODELS))
    upstream.add("POST", CHAT, think_stream(size))
    with serve(config({"base-url": upstream.url + "/v1"})) as url:
        chunks = list(
            client(url).chat.completions.create(
                model="mlx/local-text-model",
                messages=[{"role": "user", "content": "hi"}],
                stream=True,
                stream_options={"include_usage": True},
            )
        )
    reasoning = "".join(
        (c.choices[0].delta.model_extra or {}).get("reasoning_content") or "" for c in chunks if c.choices
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert reasoning == "The user says hi."
    assert text == "Hello there!"
    assert "<think>" not in text and "</think>" not in text
    usage = chunks[-1].usage
    assert usage is not None and usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert upstream.requests_to(CHAT)[0].json["stream_options"] == {"include_usage": True}


def test_server_usage_and_reasoning_content_are_kept(upstream, recording):
    upstream.add("GET", MODELS, Reply.json(MLX_MODELS))
    upstream.add("POST", CHAT, Reply.sse_file(recording(LLAMACPP)))
    with serve(config({"base-url": upstream.url + "/v1"})) as url:
        chunks = list(
            client(url).chat.completions.create(
                model="mlx/gpt-oss-20b",
                messages=[{"role": "user", "content": "hi"}],
                stream=True,
                stream_options={"include_usage": True},
            )
        )
    assert chunks[-1].usage.prompt_tokens == 20 and chunks[-1].usage.completion_tokens == 12
    reasoning = "".join(
        (c.choices[0].delta.model_extra or {}).get("reasoning_content") or "" for c in chunks if c.choices
    )
    assert reasoning == "Thinking..."


def test_ollama_tool_call_arrives_whole(upstream, recording):
    upstream.add("GET", MODELS, Reply.json(json.loads(recording(OLLAMA_MODELS).read_text())))
    upstream.add("POST", CHAT, Reply.sse_file(recording(OLLAMA_TOOLS)))
    with serve(config({"name": "ollama", "base-url": upstream.url + "/v1", "prefix": "ollama"})) as url:
        c = client(url)
        wait_for(lambda: "ollama/qwen3:8b" in listed(c), "ollama's models")
        chunks = list(
            c.chat.completions.create(
                model="ollama/qwen3:8b",
                messages=[{"role": "user", "content": "weather in Paris?"}],
                tools=[
                    {
                        "type": "function",
                        "function": {"name": "get_weather", "parameters": {"type": "object"}},
                    }
                ],
                stream=True,
            )
        )
    calls = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert calls[0].function.name == "get_weather"
    assert json.loads("".join(tc.function.arguments or "" for tc in calls)) == {"city": "Paris"}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


OLLAMA_NO_TOOLS = {
    "error": {
        "message": "registry.ollama.ai/library/gemma:2b does not support tools",
        "type": "api_error",
        "param": None,
        "code": None,
    }
}
VLLM_NO_TOOLS = {
    "object": "error",
    "message": '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set',
    "type": "BadRequestError",
    "param": None,
    "code": 400,
}


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, OLLAMA_NO_TOOLS),
        (400, VLLM_NO_TOOLS),
        (500, {"error": "tools param requires --jinja flag"}),
    ],
)
def test_a_model_that_rejects_tools_gets_a_clear_400(upstream, status, body):
    upstream.add("GET", MODELS, Reply.json(MLX_MODELS))
    upstream.add("POST", CHAT, Reply.json(body, status=status))
    with (
        serve(config({"base-url": upstream.url + "/v1"})) as url,
        pytest.raises(openai.BadRequestError) as caught,
    ):
        client(url).chat.completions.create(
            model="mlx/gemma:2b",
            messages=[{"role": "user", "content": "hi"}],
            tools=[{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        )
    message = caught.value.message
    assert "mlx/gemma:2b" in message and "does not accept tools" in message and "without 'tools'" in message
    assert caught.value.body["param"] == "tools" and caught.value.body["code"] == "tools_not_supported"


def test_errors_without_tools_keep_their_meaning(upstream, recording):
    upstream.add("GET", MODELS, Reply.json(MLX_MODELS))
    upstream.add("POST", CHAT, Reply(status=400, body=recording(LEGACY_ERROR).read_bytes()))
    with (
        serve(config({"base-url": upstream.url + "/v1"})) as url,
        pytest.raises(openai.BadRequestError) as caught,
    ):
        client(url).chat.completions.create(model="mlx/local-text-model", messages=[{"role": "user", "content": "hi"}])
    assert "maximum context length" in caught.value.message


def test_a_slow_first_token_times_out_with_a_hint(upstream):
    upstream.add("GET", MODELS, Reply.json(MLX_MODELS))
    upstream.add("POST", CHAT, Reply.json({"choices": []}, delay=3))
    cfg = config({"base-url": upstream.url + "/v1", "timeout": 0.3}, **{"request-retry": 0})
    with serve(cfg) as url, pytest.raises(openai.APIStatusError) as caught:
        client(url).chat.completions.create(model="mlx/local-text-model", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 504
    assert "raise 'timeout'" in caught.value.message


def test_a_patient_timeout_waits_for_a_slow_first_token(upstream):
    upstream.add("GET", MODELS, Reply.json(MLX_MODELS))
    upstream.add(
        "POST",
        CHAT,
        Reply.sse(
            [b"data: " + json.dumps(chunk({"content": "late"}, "stop")).encode() + b"\n\ndata: [DONE]\n\n"],
            delay=0.5,
        ),
    )
    cfg = config({"base-url": upstream.url + "/v1", "timeout": 30})
    with serve(cfg) as url:
        chunks = list(
            client(url).chat.completions.create(
                model="mlx/local-text-model",
                messages=[{"role": "user", "content": "hi"}],
                stream=True,
            )
        )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "late"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_server_that_is_down_does_not_block_start_up_and_rests_with_a_reason():
    port = free_port()  # nothing listens here
    cfg = config({"base-url": f"http://127.0.0.1:{port}/v1", "retry-interval": 60}, **{"request-retry": 0})
    app = gateway_app(cfg, plugins=[cliproxy_mlx])
    gateway = app.state.gateway
    with serve_app(app) as url:
        c = client(url)
        assert listed(c) == set()  # the gateway serves while the server is away
        resting = wait_for(lambda: gateway_cooldowns(gateway, url), "the credential to rest")
        (cooldown,) = resting.values()
        assert "server unreachable" in cooldown.reason and f"127.0.0.1:{port}" in cooldown.reason
        with pytest.raises(openai.APIStatusError) as caught:
            c.chat.completions.create(model="mlx/local-text-model", messages=[{"role": "user", "content": "hi"}])
        assert caught.value.status_code in (429, 503)


def gateway_cooldowns(gateway, url: str):
    """The credential's running cooldowns (the memory store's coroutines touch no loop)."""
    cred = gateway.credentials[0]
    return dict(asyncio.run(gateway.state.cooldowns()).get(cred.id) or {}) or None


def test_a_server_that_comes_back_is_used_and_its_models_listed(upstream):
    upstream.add("GET", MODELS, [Reply.json({"error": "loading model"}, status=503), Reply.json(MLX_MODELS)])
    upstream.add(
        "POST",
        CHAT,
        Reply.sse([b"data: " + json.dumps(chunk({"content": "back"}, "stop")).encode() + b"\n\ndata: [DONE]\n\n"]),
    )
    cfg = config({"base-url": upstream.url + "/v1", "retry-interval": 0.1})
    app = gateway_app(cfg, plugins=[cliproxy_mlx])
    with serve_app(app) as url:
        c = client(url)
        wait_for(lambda: "mlx/local-text-model" in listed(c), "the model after the server came back")
        assert len(upstream.requests_to(MODELS)) >= 2
        assert not gateway_cooldowns(app.state.gateway, url)
        chunks = list(
            c.chat.completions.create(
                model="mlx/local-text-model",
                messages=[{"role": "user", "content": "hi"}],
                stream=True,
            )
        )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "back"


def test_asking_for_an_unlisted_model_looks_again(upstream):
    upstream.add(
        "GET",
        MODELS,
        [Reply.json(MLX_MODELS), Reply.json({"data": [*MLX_MODELS["data"], {"id": "qwen3-4b"}]})],
    )
    upstream.add(
        "POST",
        CHAT,
        Reply.json(
            {
                "id": "x",
                "model": "qwen3-4b",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "ok"},
                        "finish_reason": "stop",
                    }
                ],
            }
        ),
    )
    with serve(config({"base-url": upstream.url + "/v1", "models-refresh-interval": 0})) as url:
        c = client(url)
        wait_for(lambda: "mlx/local-text-model" in listed(c), "the first list")
        assert c.chat.completions.create(model="mlx/qwen3-4b", messages=[{"role": "user", "content": "hi"}])
        wait_for(lambda: "mlx/qwen3-4b" in listed(c), "the model the client asked for")


def test_configured_models_skip_discovery_but_are_health_checked(upstream):
    upstream.add("GET", MODELS, Reply.json(MLX_MODELS))
    upstream.add(
        "POST",
        CHAT,
        Reply.json(
            {
                "id": "x",
                "model": "m",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "ok"},
                        "finish_reason": "stop",
                    }
                ],
            }
        ),
    )
    cfg = config(
        {
            "base-url": upstream.url + "/v1",
            "prefix": "",
            "models": [{"name": "mlx-community/Qwen3-4B-4bit", "alias": "qwen"}],
        }
    )
    with serve(cfg) as url:
        c = client(url)
        assert listed(c) == {"qwen"}
        wait_for(lambda: upstream.requests_to(MODELS), "the health check")
        c.chat.completions.create(model="qwen", messages=[{"role": "user", "content": "hi"}])
    assert upstream.requests_to(CHAT)[0].json["model"] == "mlx-community/Qwen3-4B-4bit"


def test_gateway_proxy_url_does_not_apply_to_local_servers(upstream):
    upstream.add("GET", MODELS, Reply.json(MLX_MODELS))
    upstream.add(
        "POST",
        CHAT,
        Reply.json(
            {
                "id": "x",
                "model": "m",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "direct"},
                        "finish_reason": "stop",
                    }
                ],
            }
        ),
    )
    cfg = config({"base-url": upstream.url + "/v1"}, **{"proxy-url": f"http://127.0.0.1:{free_port()}"})
    with serve(cfg) as url:
        answer = client(url).chat.completions.create(model="mlx/m", messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content == "direct"


def test_nothing_mlx_specific_is_imported():
    code = "import sys, cliproxy_mlx; bad = sorted(m for m in sys.modules if m.split('.')[0] in {'mlx', 'mlx_lm', 'mlx_vlm', 'torch', 'transformers'}); print(bad)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_config_defaults_and_errors():
    from cliproxy import ConfigError

    app = gateway_app(config({}), plugins=[cliproxy_mlx])
    (cred,) = app.state.gateway.credentials
    assert cred.prefix == "mlx" and cred.settings.base_url == "http://127.0.0.1:8000/v1" and cred.any_model
    assert cred.settings.api_key is None and cred.settings.timeout is None
    with pytest.raises(ConfigError) as caught:
        gateway_app(config({"timout": 30}), plugins=[cliproxy_mlx])
    assert "timeout" in str(caught.value)
    with pytest.raises(ConfigError):
        gateway_app(config({"timeout": "soon"}), plugins=[cliproxy_mlx])


def test_a_stream_that_fails_before_its_first_token_fails_over():
    error_first = b'data: {"error": {"message": "model failed to load", "type": "server_error"}}\n\n'
    with FakeUpstream() as broken, FakeUpstream() as working:
        for server in (broken, working):
            server.add("GET", MODELS, Reply.json(MLX_MODELS))
        broken.add("POST", CHAT, Reply.sse([error_first]))
        working.add("POST", CHAT, think_stream(11))
        cfg = config(
            {"name": "a", "base-url": broken.url + "/v1", "priority": 1},
            {"name": "b", "base-url": working.url + "/v1"},
        )
        with serve(cfg) as url:
            chunks = list(
                client(url).chat.completions.create(
                    model="mlx/local-text-model",
                    messages=[{"role": "user", "content": "hi"}],
                    stream=True,
                )
            )
        assert len(broken.requests_to(CHAT)) == 1 and len(working.requests_to(CHAT)) == 1
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello there!"


def test_a_stream_cut_off_mid_answer_ends_with_an_error(upstream):
    upstream.add("GET", MODELS, Reply.json(MLX_MODELS))
    events = [chunk({"content": "partial"}), chunk({"content": " answer"})]
    upstream.add(
        "POST",
        CHAT,
        Reply.sse(
            [b"data: " + json.dumps(e).encode() + b"\n\n" for e in events] + [b"never sent"],
            drop_after=2,
        ),
    )
    received = []
    with serve(config({"base-url": upstream.url + "/v1"})) as url, pytest.raises(openai.APIError):
        for c in client(url).chat.completions.create(
            model="mlx/local-text-model", messages=[{"role": "user", "content": "hi"}], stream=True
        ):
            received.append(c.choices[0].delta.content if c.choices else None)
    assert "partial" in received


def test_loopback_servers_are_distinct_per_machine_but_stable(monkeypatch):
    import socket as socket_module

    def ids(host: str) -> tuple[str, str]:
        monkeypatch.setattr(socket_module, "gethostname", lambda: host)
        local = gateway_app(config({}), plugins=[cliproxy_mlx]).state.gateway.credentials[0].id
        remote = (
            gateway_app(config({"base-url": "http://mac-studio.lan:8000/v1"}), plugins=[cliproxy_mlx])
            .state.gateway.credentials[0]
            .id
        )
        return local, remote

    first, second = ids("machine-a"), ids("machine-b")
    assert first == ids("machine-a")  # stable across restarts
    assert first[0] != second[0]  # each machine's own 127.0.0.1 server rests on its own
    assert first[1] == second[1]  # a shared server is one credential everywhere


def test_the_seeds_openai_compatibility_pattern_still_serves_mlx_model_ids(upstream):
    """The user guide's block for MLX servers, verbatim, with cliproxy-openai."""
    import cliproxy_openai

    upstream.add("GET", MODELS, Reply.json(MLX_MODELS))
    upstream.add(
        "POST",
        CHAT,
        Reply.json(
            {
                "id": "x",
                "model": "local-text-model",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "seeded"},
                        "finish_reason": "stop",
                    }
                ],
            }
        ),
    )
    cfg = {
        "api-keys": ["client-key"],
        "openai-compatibility": [
            {
                "name": "mlx-local",
                "prefix": "mlx",
                "base-url": upstream.url + "/v1",
                "api-key-entries": [{"api-key": "dummy-or-local-key"}],
            }
        ],
    }
    with serve_app(gateway_app(cfg, plugins=[cliproxy_openai])) as url:
        c = client(url)
        wait_for(lambda: "mlx/local-text-model" in listed(c), "the discovered model")
        answer = c.chat.completions.create(model="mlx/local-text-model", messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content == "seeded"
    sent = upstream.requests_to(CHAT)[0]
    assert sent.json["model"] == "local-text-model" and sent.headers["authorization"] == "Bearer dummy-or-local-key"


def test_a_server_without_a_model_list_is_up_and_serves_prefixed_names(upstream):
    # no GET /v1/models route: the fake answers 404, as servers without the endpoint do
    upstream.add(
        "POST",
        CHAT,
        Reply.json(
            {
                "id": "x",
                "model": "m",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "fine"},
                        "finish_reason": "stop",
                    }
                ],
            }
        ),
    )
    app = gateway_app(config({"base-url": upstream.url + "/v1"}), plugins=[cliproxy_mlx])
    with serve_app(app) as url:
        c = client(url)
        wait_for(lambda: upstream.requests_to(MODELS), "the model-list request")
        answer = c.chat.completions.create(model="mlx/whatever-is-loaded", messages=[{"role": "user", "content": "hi"}])
        assert answer.choices[0].message.content == "fine"
        assert not gateway_cooldowns(app.state.gateway, url)
