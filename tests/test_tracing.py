"""OpenTelemetry traces (``tracing: {enabled: true}``), read back with the SDK's
in-memory exporter: a server span per client request, a client span per upstream attempt
with provider, credential label, status, time to first byte and tokens; the client's W3C
``traceparent`` is honoured, and the attempt's goes upstream only where allowed."""

from __future__ import annotations

from typing import Any

import cliproxy_claude
import cliproxy_echo
import pytest
from cliproxy.app import gateway_of
from cliproxy.config import ConfigError, TracingConfig, load_config
from cliproxy.testing import FakeUpstream, RecordedRequest, Reply, asgi_client, gateway_app
from cliproxy.tracing import Tracing
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"
GOOD_KEY = "sk-ant-tracing-good-51c2"
BAD_KEY = "sk-ant-tracing-bad-9e07"
ANSWER = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5",
    "content": [{"type": "text", "text": "pong"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 11, "output_tokens": 3},
}

_exporter = InMemorySpanExporter()


@pytest.fixture
def spans() -> InMemorySpanExporter:
    """The process's tracer provider (set once: OpenTelemetry allows no second), exporting
    to memory; emptied for each test."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(_exporter))
        trace.set_tracer_provider(provider)
    _exporter.clear()
    return _exporter


def claude_config(upstream: FakeUpstream, **tracing: Any) -> dict[str, Any]:
    entry = {"base-url": upstream.url, "models": [{"name": "claude-sonnet-4-5", "alias": "sonnet"}]}
    return {
        "api-keys": ["client-key"],
        "tracing": {"enabled": True, **tracing},
        "routing": {"strategy": "fill-first"},
        "claude-api-key": [{**entry, "api-key": BAD_KEY, "priority": 2}, {**entry, "api-key": GOOD_KEY}],
    }


def fake_claude() -> FakeUpstream:
    upstream = FakeUpstream()

    def answer(request: RecordedRequest) -> Reply:
        if BAD_KEY in request.headers.get("authorization", "") + request.headers.get("x-api-key", ""):
            return Reply.json({"type": "error", "error": {"type": "api_error", "message": "overloaded"}}, status=529)
        return Reply.json(ANSWER)

    upstream.add("POST", "/v1/messages", answer)
    return upstream


async def ask(app: Any, headers: dict[str, str] | None = None) -> Any:
    async with asgi_client(app) as client:
        return await client.post(
            "/v1/chat/completions",
            json={"model": "sonnet", "messages": [{"role": "user", "content": "ping"}]},
            headers={"authorization": "Bearer client-key", **(headers or {})},
        )


async def test_a_request_and_its_attempts_are_spans_under_the_clients_trace(spans: InMemorySpanExporter):
    with fake_claude() as upstream:
        app = gateway_app(claude_config(upstream), plugins=[cliproxy_claude])
        answer = await ask(app, {"traceparent": f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01", "x-request-id": "req-t1"})
        sent = [r.headers.get("traceparent") for r in upstream.requests]
    assert answer.status_code == 200, answer.text

    finished = spans.get_finished_spans()
    (server,) = [s for s in finished if s.kind == SpanKind.SERVER]
    attempts = sorted((s for s in finished if s.kind == SpanKind.CLIENT), key=lambda s: s.start_time or 0)
    assert server.name == "POST /v1/chat/completions"
    assert server.context is not None and server.parent is not None
    assert f"{server.context.trace_id:032x}" == CLIENT_TRACE and f"{server.parent.span_id:016x}" == CLIENT_SPAN
    attributes = dict(server.attributes or {})
    assert attributes["cliproxy.request_id"] == "req-t1" and attributes["cliproxy.door"] == "openai-chat"
    assert attributes["http.response.status_code"] == 200 and attributes["gen_ai.request.model"] == "sonnet"
    assert attributes["cliproxy.attempts"] == 2

    bad, good = attempts
    for span in attempts:
        assert span.parent is not None and span.parent.span_id == server.context.span_id
        assert span.name == "upstream claude"
        assert dict(span.attributes or {})["gen_ai.request.model"] == "claude-sonnet-4-5"
        ttfb = dict(span.attributes or {})["cliproxy.upstream.ttfb_ms"]
        assert isinstance(ttfb, float) and ttfb >= 0
    bad_attributes, good_attributes = dict(bad.attributes or {}), dict(good.attributes or {})
    assert bad_attributes["http.response.status_code"] == 529 and bad.status.status_code == StatusCode.ERROR
    assert good_attributes["http.response.status_code"] == 200 and good.status.status_code != StatusCode.ERROR
    assert bad_attributes["cliproxy.credential"] != good_attributes["cliproxy.credential"]
    assert good_attributes["gen_ai.usage.input_tokens"] == 11 and good_attributes["gen_ai.usage.output_tokens"] == 3

    # Loopback upstream: each attempt's own traceparent went with it.
    assert sent == [f"00-{CLIENT_TRACE}-{s.context.span_id:016x}-01" for s in attempts if s.context is not None]
    # No secret in any span.
    text = repr([(s.name, dict(s.attributes or {}), s.status.description) for s in finished])
    assert GOOD_KEY not in text and BAD_KEY not in text and "client-key" not in text


async def test_propagation_upstream_can_be_turned_off(spans: InMemorySpanExporter):
    with fake_claude() as upstream:
        app = gateway_app(claude_config(upstream, **{"propagate-upstream": "none"}), plugins=[cliproxy_claude])
        answer = await ask(app)
        sent = [r.headers.get("traceparent") for r in upstream.requests]
    assert answer.status_code == 200
    assert sent == [None, None]
    (server,) = [s for s in spans.get_finished_spans() if s.kind == SpanKind.SERVER]
    assert server.parent is None  # no traceparent from the client: a trace of its own


def test_by_default_only_local_upstreams_get_the_traceparent():
    local = Tracing(trace.get_tracer("t"), TracingConfig(enabled=True))
    assert local.may_propagate("http://127.0.0.1:8000/v1")
    assert local.may_propagate("http://localhost:11434/v1")
    assert local.may_propagate("http://10.1.2.3/v1") and local.may_propagate("http://[::1]:8080/")
    assert not local.may_propagate("https://api.anthropic.com/v1/messages")
    assert not local.may_propagate("https://8.8.8.8/v1")
    assert Tracing(trace.get_tracer("t"), TracingConfig(True, "x", "all")).may_propagate("https://api.openai.com")
    assert not Tracing(trace.get_tracer("t"), TracingConfig(True, "x", "none")).may_propagate("http://127.0.0.1")


async def test_off_by_default_no_trace_is_made(spans: InMemorySpanExporter):
    app = gateway_app({"echo": [{"models": ["echo-1"]}]}, plugins=[cliproxy_echo])
    assert gateway_of(app).tracing is None
    async with asgi_client(app) as client:
        answer = await client.post(
            "/v1/chat/completions",
            json={"model": "echo-1", "messages": [{"role": "user", "content": "hi"}]},
            headers={"traceparent": f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"},
        )
    assert answer.status_code == 200
    assert spans.get_finished_spans() == ()


def test_tracing_config_is_checked(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("tracing: true\n")
    with pytest.raises(ConfigError, match="'tracing' is a mapping"):
        load_config(path)
    path.write_text("tracing:\n  enabled: true\n  propagate-upstream: everywhere\n")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert "config.yaml:3:" in str(error.value) and "local, all, none" in str(error.value)


def test_cliproxy_serve_exports_its_spans_over_otlp(tmp_path):
    """Without a tracer provider of its own, ``cliproxy serve`` sets one up that exports
    over OTLP/HTTP where ``OTEL_EXPORTER_OTLP_ENDPOINT`` says -- here, a fake collector."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time

    import httpx

    with FakeUpstream() as collector:
        collector.add("POST", "/v1/traces", Reply.json({}))
        config = tmp_path / "config.yaml"
        config.write_text(
            "watch-config: false\ntracing: {enabled: true, service-name: gw-test}\necho:\n  - models: [echo-1]\n"
        )
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url, "OTEL_BSP_SCHEDULE_DELAY": "100"}
        process = subprocess.Popen(
            [sys.executable, "-m", "cliproxy", "serve", "--config", str(config), "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline and process.poll() is None, "cliproxy serve did not come up"
                time.sleep(0.1)
            body = {"model": "echo-1", "messages": [{"role": "user", "content": "hi"}]}
            assert httpx.post(url + "/v1/chat/completions", json=body).status_code == 200
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(30)  # the SDK flushes what it holds at exit
        exported = b"".join(r.body for r in collector.requests if r.path == "/v1/traces")
    assert b"POST /v1/chat/completions" in exported and b"upstream echo" in exported
    assert b"gw-test" in exported  # service.name
