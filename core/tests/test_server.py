"""The server end to end: the OpenAI door in-process and behind Hypercorn, bad input,
disconnects, upstream failures."""

from __future__ import annotations

import asyncio
import json
import socket
import time

import cliproxy_echo
import cliproxy_openai
import httpx
import openai
import pytest
from cliproxy import DirectResponse, Provider, hookimpl, ir
from cliproxy.servers import SERVERS
from cliproxy.testing import FakeUpstream, Reply, asgi_client, gateway_app, serve_app

KEY = {"authorization": "Bearer k1"}
CHAT = {"model": "echo-1", "messages": [{"role": "user", "content": "hello big world"}]}


def echo_app(**config):
    return gateway_app({"api-keys": ["k1"], "echo": [{"models": ["echo-1"]}], **config}, plugins=[cliproxy_echo])


def upstream_app(upstream: FakeUpstream, **config):
    block = {
        "name": "up",
        "base-url": upstream.url + "/v1",
        "models": ["m1"],
        "api-key-entries": [{"api-key": "sk-up"}],
    }
    return gateway_app({"api-keys": ["k1"], "openai-compatibility": [block], **config}, plugins=[cliproxy_openai])


COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "m1",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
}


# -- through a real server with the official SDK -------------------------------------------


def test_openai_sdk_through_hypercorn_stream_and_whole():
    with serve_app(echo_app()) as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key="k1", max_retries=0)
        whole = client.chat.completions.create(
            model="echo-1", messages=[{"role": "user", "content": "hello big world"}]
        )
        chunks = list(
            client.chat.completions.create(
                model="echo-1", messages=[{"role": "user", "content": "hello big world"}], stream=True
            )
        )
        models = [m.id for m in client.models.list()]
    assert whole.choices[0].message.content == "hello big world" and whole.model == "echo-1"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "hello big world"
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) == 3  # word by word
    assert models == ["echo-1"]


async def test_async_openai_sdk_in_process_with_tools():
    app = echo_app()
    async with asgi_client(app) as http:
        client = openai.AsyncOpenAI(base_url="http://gateway/v1", api_key="k1", http_client=http, max_retries=0)
        reply = await client.chat.completions.create(
            model="echo-1",
            messages=[{"role": "user", "content": 'call get_weather {"city": "Paris"}'}],
            tools=[{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}],
        )
    call = reply.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"city": "Paris"}
    assert reply.choices[0].finish_reason == "tool_calls"


# -- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "needle", "param"),
    [
        (b"{not json", 400, "not valid JSON", None),
        (b"", 400, "body is empty", None),
        (b"[1, 2]", 400, "must be a JSON object", None),
        (json.dumps({"messages": []}).encode(), 400, "'model' is required", "model"),
        (json.dumps({"model": 7, "messages": []}).encode(), 400, "'model' must be a string", "model"),
        (
            json.dumps({"model": "echo-1", "stream": "yes", "messages": []}).encode(),
            400,
            "'stream' must be true or false",
            "stream",
        ),
        (json.dumps({"model": "echo-1", "messages": "hi"}).encode(), 400, "'messages' must be an array", "messages"),
        (
            json.dumps({"model": "echo-1", "messages": [{"role": "user", "content": 1}]}).encode(),
            400,
            "messages[0].content",
            "messages[0].content",
        ),
        (json.dumps({"model": "echo-2", "messages": []}).encode(), 404, "did you mean 'echo-1'", "model"),
    ],
)
async def test_bad_requests_get_openai_errors(body, status, needle, param):
    async with asgi_client(echo_app()) as client:
        reply = await client.post("/v1/chat/completions", content=body, headers=KEY)
    assert reply.status_code == status
    error = reply.json()["error"]
    assert needle in error["message"] and error["param"] == param
    assert error["type"] == "invalid_request_error"


async def test_missing_and_wrong_keys():
    async with asgi_client(echo_app()) as client:
        missing = await client.post("/v1/chat/completions", json=CHAT)
        wrong = await client.post("/v1/chat/completions", json=CHAT, headers={"authorization": "Bearer nope"})
        by_header = await client.post("/v1/chat/completions", json=CHAT, headers={"x-api-key": "k1"})
        by_query = await client.post("/v1/chat/completions?key=k1", json=CHAT)
        models = await client.get("/v1/models")
        health = await client.get("/healthz")
    assert missing.status_code == 401 and "missing API key" in missing.json()["error"]["message"]
    assert wrong.status_code == 401 and wrong.json()["error"]["message"] == "invalid API key"
    assert wrong.json()["error"]["type"] == "authentication_error"
    assert by_header.status_code == 200 and by_query.status_code == 200
    assert models.status_code == 401 and health.status_code == 200


async def test_oversized_body_is_413_in_openai_shape():
    app = echo_app(**{"max-body-size-mb": 0.001})
    async with asgi_client(app) as client:
        reply = await client.post("/v1/chat/completions", json={**CHAT, "pad": "x" * 5000}, headers=KEY)
    assert reply.status_code == 413 and "limit" in reply.json()["error"]["message"]


async def test_unknown_paths_and_methods():
    async with asgi_client(echo_app()) as client:
        missing = await client.get("/v2/nothing")
        wrong_method = await client.get("/v1/chat/completions")
        index = await client.get("/")
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found_error"
    assert wrong_method.status_code == 405
    assert "/v1/chat/completions" in index.json()["endpoints"]


async def test_models_in_anthropic_shape_when_asked():
    async with asgi_client(echo_app()) as client:
        reply = await client.get("/v1/models", headers={**KEY, "anthropic-version": "2023-06-01"})
    assert reply.json()["data"][0] == {
        "type": "model",
        "id": "echo-1",
        "display_name": "echo-1",
        "created_at": "1970-01-01T00:00:00Z",
    }
    assert reply.json()["has_more"] is False


class ExplodingProvider(Provider):
    name = "explodes"
    config_keys = ("explodes",)

    def load_config(self, key, node, host):
        from cliproxy import Credential, ModelEntry

        node.nodes(key)
        return [Credential("boom", self.name, "boom", models=(ModelEntry("boom-1"),))]

    async def send(self, call):
        raise KeyError("a plugin bug")


class ExplodingPlugin:
    @hookimpl
    def register_providers(self, register):
        register(ExplodingProvider())


async def test_a_provider_bug_is_the_gateways_500_without_a_traceback(caplog):
    """A provider that raises is the gateway's failure (500), not the upstream's (502):
    it rests no credential (see test_local_errors.py)."""
    app = gateway_app({"explodes": [{}]}, plugins=[ExplodingPlugin()])
    async with asgi_client(app) as client:
        reply = await client.post(
            "/v1/chat/completions", json={"model": "boom-1", "messages": [{"role": "user", "content": "x"}]}
        )
    assert reply.status_code == 500
    assert "failed unexpectedly (KeyError)" in reply.json()["error"]["message"]
    assert "Traceback" not in reply.text and "a plugin bug" in caplog.text


async def test_app_used_without_its_lifespan_says_so():
    app = echo_app()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        reply = await client.post("/v1/chat/completions", json=CHAT, headers=KEY)
    assert reply.status_code == 503 and "lifespan" in reply.json()["error"]["message"]


# -- upstream behaviour --------------------------------------------------------------------


async def test_upstream_error_before_first_byte_keeps_its_status(upstream):
    upstream.add("POST", "/v1/chat/completions", Reply.error(429, "slow down", headers={"retry-after": "30"}))
    async with asgi_client(upstream_app(upstream, **{"request-retry": 0})) as client:
        reply = await client.post(
            "/v1/chat/completions", json={"model": "m1", "messages": [{"role": "user", "content": "x"}]}, headers=KEY
        )
    assert reply.status_code == 429 and reply.headers["retry-after"] == "30"
    assert reply.json()["error"]["message"] == "slow down"


async def test_stream_error_event_before_content_fails_over(upstream):
    bad = Reply.sse([b'data: {"error": {"message": "overloaded", "type": "server_error"}}\n\n'])
    good = Reply.sse_events(
        [
            {"id": "1", "model": "m1", "choices": [{"index": 0, "delta": {"content": "fine"}}]},
            {"id": "1", "model": "m1", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        ],
        done=True,
    )
    upstream.add("POST", "/v1/chat/completions", [bad, good])
    block = {
        "name": "up",
        "base-url": upstream.url + "/v1",
        "models": ["m1"],
        "api-key-entries": [{"api-key": "a"}, {"api-key": "b"}],
    }
    app = gateway_app(
        {"openai-compatibility": [block], "routing": {"strategy": "fill-first"}}, plugins=[cliproxy_openai]
    )
    async with asgi_client(app) as client:
        reply = await client.post(
            "/v1/chat/completions", json={"model": "m1", "stream": True, "messages": [{"role": "user", "content": "x"}]}
        )
    assert reply.status_code == 200 and '"content":"fine"' in reply.text
    keys = [r.headers["authorization"] for r in upstream.requests_to("/v1/chat/completions")]
    assert keys == ["Bearer a", "Bearer b"]


async def test_stream_broken_after_content_ends_with_an_error_event(upstream):
    chunks = [
        b'data: {"id":"1","model":"m1","choices":[{"index":0,"delta":{"content":"par"}}]}\n\n',
        b'data: {"id":"1","model":"m1","choices":[{"index":0,"delta":{"content":"tial"}}]}\n\n',
    ]
    upstream.add("POST", "/v1/chat/completions", Reply.sse(chunks, drop_after=1))
    async with asgi_client(upstream_app(upstream)) as client:
        reply = await client.post(
            "/v1/chat/completions",
            json={"model": "m1", "stream": True, "messages": [{"role": "user", "content": "x"}]},
            headers=KEY,
        )
    assert reply.status_code == 200
    assert '"content":"par"' in reply.text
    last = [line for line in reply.text.splitlines() if line.startswith("data:")][-1]
    assert "error" in json.loads(last[5:]) and "[DONE]" not in reply.text


async def test_translated_stream_with_usage_is_valid_json(upstream):
    """Anthropic-style clients aside, an IR-encoded OpenAI stream must carry valid usage."""
    app = echo_app()
    async with asgi_client(app) as client:
        reply = await client.post(
            "/v1/chat/completions",
            json={**CHAT, "stream": True, "stream_options": {"include_usage": True}},
            headers=KEY,
        )
    payloads = [
        json.loads(line[5:]) for line in reply.text.splitlines() if line.startswith("data:") and "[DONE]" not in line
    ]
    assert payloads[-1]["choices"] == [] and payloads[-1]["usage"]["completion_tokens"] == 3


@pytest.mark.parametrize("server", SERVERS)
def test_client_disconnect_cancels_the_upstream_call(upstream, server):
    slow = Reply.sse(
        [b'data: {"id":"1","model":"m1","choices":[{"index":0,"delta":{"content":"w"}}]}\n\n'] * 200, chunk_delay=0.05
    )
    upstream.add("POST", "/v1/chat/completions", slow)
    with serve_app(upstream_app(upstream), server=server) as url:
        host, port = url.removeprefix("http://").split(":")
        body = json.dumps({"model": "m1", "stream": True, "messages": [{"role": "user", "content": "x"}]}).encode()
        sock = socket.create_connection((host, int(port)))
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer k1\r\ncontent-type: application/json\r\n"
            + f"content-length: {len(body)}\r\n\r\n".encode()
            + body
        )
        assert b"200" in sock.recv(4096)
        sock.close()  # the client walks away mid-stream
        assert upstream.wait_for_disconnect(timeout=5), "the gateway kept the upstream stream open"


@pytest.mark.parametrize("server", SERVERS)
def test_client_disconnect_cancels_a_slow_whole_response(upstream, server):
    upstream.add("POST", "/v1/chat/completions", Reply.json(COMPLETION, delay=3))
    with serve_app(upstream_app(upstream), server=server) as url:
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(
                url + "/v1/chat/completions",
                json={"model": "m1", "messages": [{"role": "user", "content": "x"}]},
                headers=KEY,
                timeout=0.3,
            )
        assert upstream.wait_for_disconnect(timeout=2), "the gateway kept waiting on the upstream"


class SlowStreamProvider(Provider):
    name = "slow"
    config_keys = ("slow",)

    def load_config(self, key, node, host):
        from cliproxy import Credential, ModelEntry

        node.nodes(key)
        self.finished = False
        return [Credential("slow", self.name, "slow", models=(ModelEntry("slow-1"),))]

    async def send(self, call):
        async def events():
            yield ir.StreamStart("s", "slow-1")
            yield ir.TextStart(0)
            for i in range(3):
                await asyncio.sleep(0.2)
                yield ir.TextDelta(0, f"{i} ")
            yield ir.TextEnd(0)
            yield ir.StreamFinish(ir.Finish())
            self.finished = True

        return DirectResponse(events=events())


def test_sigterm_style_shutdown_lets_streams_finish():
    provider = SlowStreamProvider()

    class Plugin:
        @hookimpl
        def register_providers(self, register):
            register(provider)

    from cliproxy.testing import LiveServer

    server = LiveServer(gateway_app({"slow": [{}]}, plugins=[Plugin()]), graceful_timeout=5).start()
    chunks: list[str] = []

    def read() -> None:
        with httpx.stream(
            "POST",
            server.url + "/v1/chat/completions",
            json={"model": "slow-1", "stream": True, "messages": [{"role": "user", "content": "x"}]},
        ) as reply:
            chunks.extend(reply.iter_text())

    import threading

    reader = threading.Thread(target=read)
    reader.start()
    time.sleep(0.3)
    server.stop()  # like SIGTERM: stop accepting, let running streams end
    reader.join(10)
    assert provider.finished and "[DONE]" in "".join(chunks)
