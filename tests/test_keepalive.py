"""Keepalives while the upstream is silent: streams get their door's keepalive (an SSE
comment, Anthropic's ping), JSON answers leading blank lines -- through a real server,
read by the official SDKs, with failover still working behind the keepalives."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import anthropic
import cliproxy_claude
import cliproxy_gemini
import cliproxy_openai
import httpx
import openai
import orjson
import pytest
from cliproxy.config import ConfigError, load_config
from cliproxy.testing import FakeUpstream, Reply, asgi_client, gateway_app, serve_app, wire_answer
from google import genai
from google.genai import types

KEY = "keepalive-key"
SILENCE = 0.6  # the fake upstream's silence, several keepalive intervals long
INTERVAL = 0.1

chat_answer = wire_answer("openai-chat", "Hello through the silence.")
claude_answer = wire_answer("anthropic", "Hello through the silence.")
gemini_answer = wire_answer("gemini", "Hello through the silence.")


def slow(answer: Any, delay: float = SILENCE) -> Any:
    def handler(request: Any) -> Reply:
        reply: Reply = answer(request)
        return Reply(
            status=reply.status,
            body=reply.body,
            chunks=reply.chunks,
            content_type=reply.content_type,
            delay=delay,
            chunk_delay=delay if reply.chunks else 0.0,
        )

    return handler


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as server:
        server.add("POST", "/ok/chat/completions", slow(chat_answer))
        server.add("POST", "/v1/messages", slow(claude_answer))
        server.add("POST", "/v1beta/models/gemini-2.5-flash:streamGenerateContent", slow(gemini_answer))
        server.add("POST", "/v1beta/models/gemini-2.5-flash:generateContent", slow(gemini_answer))
        server.add("POST", "/down/chat/completions", Reply.error(503, "overloaded", delay=SILENCE))
        yield server


FLAKY = ["flaky-stream", "flaky-json"]  # 'down' fails them, 'ok' answers
BROKEN = [
    "broken-stream",
    "broken-sdk",
    "broken-json",
    "broken-quiet",
    "broken-log-stream",
    "broken-log-json",
]  # only 'down' serves them


def config(upstream: FakeUpstream, **extra: Any) -> dict[str, Any]:
    return {
        "api-keys": [KEY],
        "request-retry": 0,
        "openai-compatibility": [
            # each test fails its own model: a failure rests the model on 'down'
            {"name": "down", "base-url": upstream.url + "/down", "models": [*FLAKY, *BROKEN], "priority": 10},
            {"name": "ok", "base-url": upstream.url + "/ok", "models": ["gpt-4o", *FLAKY]},
        ],
        "claude-api-key": [{"api-key": "sk-ant", "base-url": upstream.url, "models": ["claude-sonnet-4-5"]}],
        "gemini-api-key": [{"api-key": "g-key", "base-url": upstream.url, "models": ["gemini-2.5-flash"]}],
        **extra,
    }


@pytest.fixture(scope="module")
def gateway(upstream: FakeUpstream) -> Iterator[str]:
    settings = config(upstream, streaming={"keepalive-seconds": INTERVAL}, **{"nonstream-keepalive-interval": INTERVAL})
    app = gateway_app(settings, plugins=[cliproxy_openai, cliproxy_claude, cliproxy_gemini])
    with serve_app(app) as url:
        yield url


@pytest.fixture(scope="module")
def quiet_gateway(upstream: FakeUpstream) -> Iterator[str]:
    app = gateway_app(config(upstream), plugins=[cliproxy_openai, cliproxy_claude, cliproxy_gemini])
    with serve_app(app) as url:
        yield url


def raw(url: str, path: str, body: dict[str, Any]) -> tuple[int, bytes]:
    with (
        httpx.Client(timeout=10) as client,
        client.stream("POST", url + path, json=body, headers={"authorization": f"Bearer {KEY}"}) as response,
    ):
        return response.status_code, response.read()


def chat_text(body: bytes) -> str:
    """The text of a chat completions event stream."""
    text = ""
    for line in body.splitlines():
        if line.startswith(b"data: {"):
            for choice in orjson.loads(line[6:]).get("choices", ()):
                text += choice["delta"].get("content") or ""
    return text


CHAT = {"messages": [{"role": "user", "content": "hi"}]}


# -- streams -------------------------------------------------------------------------------


def test_a_silent_stream_gets_sse_comments_before_and_between_events(gateway: str) -> None:
    status, body = raw(gateway, "/v1/chat/completions", {**CHAT, "model": "gpt-4o", "stream": True})
    assert status == 200
    assert body.startswith(b": keepalive\n\n")  # before the first byte: the upstream was silent
    first_event = body.index(b"data: ")
    assert b": keepalive\n\n" in body[first_event:]  # and between events (the upstream paused between chunks)
    assert body.rstrip().endswith(b"data: [DONE]")


def test_the_openai_sdk_reads_through_the_keepalives(gateway: str) -> None:
    client = openai.OpenAI(base_url=gateway + "/v1", api_key=KEY, max_retries=0)
    stream = client.chat.completions.create(model="gpt-4o", stream=True, **CHAT)  # type: ignore[call-overload]
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text == "Hello through the silence."


def test_the_responses_door_reads_through_the_keepalives(gateway: str) -> None:
    status, body = raw(gateway, "/v1/responses", {"model": "gpt-4o", "input": "hi", "stream": True})
    assert status == 200 and body.startswith(b": keepalive\n\n")
    client = openai.OpenAI(base_url=gateway + "/v1", api_key=KEY, max_retries=0)
    events = list(client.responses.create(model="gpt-4o", input="hi", stream=True))
    assert events[-1].response.output_text == "Hello through the silence."  # type: ignore[union-attr]


def test_the_anthropic_door_sends_ping_events_the_sdk_skips(gateway: str) -> None:
    status, body = raw(
        gateway, "/v1/messages", {**CHAT, "model": "claude-sonnet-4-5", "max_tokens": 10, "stream": True}
    )
    assert status == 200 and body.startswith(b'event: ping\ndata: {"type": "ping"}\n\n')
    client = anthropic.Anthropic(base_url=gateway, api_key=KEY, max_retries=0)
    with client.messages.stream(model="claude-sonnet-4-5", max_tokens=10, **CHAT) as stream:  # type: ignore[arg-type]
        assert stream.get_final_text() == "Hello through the silence."


def test_an_anthropic_client_on_a_chat_upstream_gets_pings_too(gateway: str) -> None:
    client = anthropic.Anthropic(base_url=gateway, api_key=KEY, max_retries=0)
    with client.messages.stream(model="gpt-4o", max_tokens=10, **CHAT) as stream:  # type: ignore[arg-type]
        assert stream.get_final_text() == "Hello through the silence."


@pytest.mark.parametrize("query", ["?alt=sse", ""])
def test_gemini_streams_get_blank_lines_and_google_genai_reads_through(gateway: str, query: str) -> None:
    with httpx.Client(timeout=10) as http:
        response = http.post(
            gateway + "/v1beta/models/gemini-2.5-flash:streamGenerateContent" + query,
            json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
            headers={"x-goog-api-key": KEY},
        )
    assert response.status_code == 200 and response.content.startswith(b"\n\n")
    if not query:  # the JSON-array stream: whitespace between values, one JSON document
        assert response.headers["content-type"] == "application/json"
        assert orjson.loads(response.content)[0]["candidates"]
    client = genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=gateway, api_version="v1beta"))
    chunks = client.models.generate_content_stream(model="gemini-2.5-flash", contents="hi")
    assert "".join(c.text or "" for c in chunks) == "Hello through the silence."


def test_failover_still_runs_behind_the_keepalives(gateway: str, upstream: FakeUpstream) -> None:
    before = len(upstream.requests_to("/down/chat/completions"))
    status, body = raw(gateway, "/v1/chat/completions", {**CHAT, "model": "flaky-stream", "stream": True})
    assert len(upstream.requests_to("/down/chat/completions")) == before + 1  # the first candidate failed...
    assert status == 200 and body.startswith(b": keepalive\n\n")
    assert chat_text(body) == "Hello through the silence."  # ...and the next one answered


def test_a_stream_that_fails_after_a_keepalive_ends_with_its_error_event(gateway: str) -> None:
    status, body = raw(gateway, "/v1/chat/completions", {**CHAT, "model": "broken-stream", "stream": True})
    assert status == 200  # committed by the first keepalive
    assert body.startswith(b": keepalive\n\n")
    assert b'"error"' in body and b"overloaded" in body
    client = openai.OpenAI(base_url=gateway + "/v1", api_key=KEY, max_retries=0)
    with pytest.raises(openai.APIError, match="overloaded"):
        for _ in client.chat.completions.create(model="broken-sdk", stream=True, **CHAT):  # type: ignore[call-overload]
            pass


@pytest.mark.parametrize("stream", [True, False])
async def test_the_access_log_has_the_status_a_committed_failure_could_not_send(
    upstream: FakeUpstream, caplog: pytest.LogCaptureFixture, stream: bool
) -> None:
    settings = config(upstream, streaming={"keepalive-seconds": INTERVAL}, **{"nonstream-keepalive-interval": INTERVAL})
    app = gateway_app(settings, plugins=[cliproxy_openai, cliproxy_claude, cliproxy_gemini])
    caplog.set_level(logging.INFO, logger="cliproxy.access")
    async with asgi_client(app, headers={"authorization": f"Bearer {KEY}"}) as http:
        model = "broken-log-stream" if stream else "broken-log-json"
        response = await http.post("/v1/chat/completions", json={**CHAT, "model": model, "stream": stream})
    assert response.status_code == 200 and b"overloaded" in response.content
    # (this request's line: a server of another test may log its own meanwhile)
    (line,) = [r.getMessage() for r in caplog.records if r.name == "cliproxy.access" and model in r.getMessage()]
    assert " 503 " in line and "overloaded" in line


def test_without_the_setting_a_silent_stream_sends_nothing_until_it_answers(quiet_gateway: str) -> None:
    status, body = raw(quiet_gateway, "/v1/chat/completions", {**CHAT, "model": "gpt-4o", "stream": True})
    assert status == 200 and body.startswith(b"data: ") and b"keepalive" not in body
    status, body = raw(quiet_gateway, "/v1/chat/completions", {**CHAT, "model": "broken-quiet", "stream": True})
    assert status == 503  # nothing was committed: the error keeps its status


# -- whole answers -------------------------------------------------------------------------


def test_a_waiting_json_answer_gets_leading_blank_lines(gateway: str) -> None:
    status, body = raw(gateway, "/v1/chat/completions", {**CHAT, "model": "gpt-4o"})
    assert status == 200 and body.startswith(b"\n\n")
    assert orjson.loads(body)["choices"][0]["message"]["content"] == "Hello through the silence."


def test_the_sdks_parse_json_answers_after_blank_lines(gateway: str) -> None:
    chat = openai.OpenAI(base_url=gateway + "/v1", api_key=KEY, max_retries=0)
    answer = chat.chat.completions.create(model="gpt-4o", **CHAT)  # type: ignore[call-overload]
    assert answer.choices[0].message.content == "Hello through the silence."
    claude = anthropic.Anthropic(base_url=gateway, api_key=KEY, max_retries=0)
    message = claude.messages.create(model="claude-sonnet-4-5", max_tokens=10, **CHAT)  # type: ignore[call-overload]
    assert message.content[0].text == "Hello through the silence."
    client = genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=gateway, api_version="v1beta"))
    assert client.models.generate_content(model="gemini-2.5-flash", contents="hi").text == "Hello through the silence."


def test_a_json_answer_that_fails_after_a_blank_line_gets_its_error_body_with_200(gateway: str) -> None:
    status, body = raw(gateway, "/v1/chat/completions", {**CHAT, "model": "broken-json"})
    assert status == 200 and body.startswith(b"\n")
    assert "overloaded" in orjson.loads(body)["error"]["message"]
    status, body = raw(gateway, "/v1/chat/completions", {**CHAT, "model": "flaky-json"})  # failover behind the lines
    assert status == 200 and orjson.loads(body)["choices"][0]["message"]["content"] == "Hello through the silence."


def test_without_the_setting_json_answers_have_no_leading_whitespace(quiet_gateway: str) -> None:
    status, body = raw(quiet_gateway, "/v1/chat/completions", {**CHAT, "model": "gpt-4o"})
    assert status == 200 and body.startswith(b"{")


# -- config --------------------------------------------------------------------------------


def test_keepalive_settings_are_read_and_checked(tmp_path: Any) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("streaming:\n  keepalive-seconds: 15\nnonstream-keepalive-interval: 20\n")
    loaded = load_config(path)
    assert loaded.stream_keepalive == 15 and loaded.nonstream_keepalive == 20
    path.write_text("streaming:\n  keepalive-seconds: 0\n")
    assert load_config(path).stream_keepalive is None  # 0 is off
    path.write_text("streaming:\n  keepalive-secs: 15\n")
    with pytest.raises(ConfigError, match="did you mean 'keepalive-seconds'") as error:
        load_config(path)
    assert error.value.line == 2
    path.write_text("nonstream-keepalive-interval: -3\n")
    with pytest.raises(ConfigError, match="positive number of seconds"):
        load_config(path)
