"""Prometheus metrics at /metrics: what a scraper sees after failover, tokens, streams,
cooldowns; who may read them; and that each app keeps its own."""

from __future__ import annotations

import json
import socket
import sys
import time
from collections.abc import Callable
from typing import Any

import cliproxy_openai
import httpx
import openai
import pytest
from cliproxy import ClientIdentity, hookimpl, mask_secret
from cliproxy.app import gateway_of
from cliproxy.config import ConfigError
from cliproxy.metrics import MAX_CLIENTS, MAX_MODELS, Metrics
from cliproxy.testing import FakeUpstream, RecordedRequest, Reply, asgi_client, gateway_app, serve_app
from prometheus_client.parser import text_string_to_metric_families

AUTH = {"Authorization": "Bearer client-key"}
ALPHA = "sk-test-alpha-0000000000001"
BETA = "sk-test-beta-0000000000002"
CHAT = "/v1/chat/completions"
SIMPLE = "openai-chat/aibridge-chat_simple.nonstream.json"
STREAM = "openai-chat/DERIVED-vercel-openai-text.sse.txt"
STREAM_ERROR = "openai-chat/aibridge-chat_stream_error.stream.sse.txt"
MODEL = "gpt-4.1-nano"


def cfg(upstream: FakeUpstream, **core: Any) -> dict[str, Any]:
    return {
        "api-keys": ["client-key"],
        "routing": {"strategy": "fill-first"},
        "metrics": {"enabled": True},
        "openai-compatibility": [
            {
                "name": "team",
                "base-url": upstream.url + "/v1",
                "api-key-entries": [{"api-key": ALPHA}, {"api-key": BETA}],
                "models": [{"name": MODEL, "alias": "nano"}],
            }
        ],
        **core,
    }


def alpha_gets(reply: Reply, other: Reply) -> Callable[[RecordedRequest], Reply]:
    def handler(request: RecordedRequest) -> Reply:
        return reply if request.headers["authorization"] == f"Bearer {ALPHA}" else other

    return handler


@pytest.fixture
def ok(recording) -> Reply:
    return Reply.json(json.loads(recording(SIMPLE).read_text()))


async def chat(client: httpx.AsyncClient, **body: Any) -> httpx.Response:
    payload = {"model": "nano", "messages": [{"role": "user", "content": "hi"}], **body}
    return await client.post(CHAT, json=payload, headers=AUTH)


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """Every sample of a scrape: ``(name, labels) -> value``."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` whose labels include ``labels`` (0 if none)."""
    wanted = set(labels.items())
    return sum(v for (n, have), v in samples.items() if n == name and wanted <= have)


async def scrape(client: httpx.AsyncClient) -> Samples:
    answer = await client.get("/metrics")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return parse(answer.text)


ALPHA_LABEL = f"team {mask_secret(ALPHA)}"
BETA_LABEL = f"team {mask_secret(BETA)}"


async def test_a_429_then_failover_is_one_429_attempt_one_success_and_one_200_request(upstream, ok, clock):
    upstream.add("POST", CHAT, alpha_gets(Reply.error(429, "Rate limit reached"), ok))
    app = gateway_app(cfg(upstream), plugins=[cliproxy_openai])
    clock.install(app)
    async with asgi_client(app) as client:
        assert (await chat(client)).status_code == 200
        samples = await scrape(client)
    attempts = "cliproxy_upstream_attempts_total"
    assert value(samples, attempts, credential=ALPHA_LABEL, model=MODEL, status="429") == 1
    assert value(samples, attempts, credential=ALPHA_LABEL) == 1
    assert value(samples, attempts, credential=BETA_LABEL, model=MODEL, status="200") == 1
    assert value(samples, attempts, credential=BETA_LABEL) == 1
    provider = gateway_of(app).credentials[0].provider
    requests = "cliproxy_requests_total"
    assert value(samples, requests, door="openai-chat", provider=provider, model=MODEL, status="200") == 1
    assert value(samples, requests) == 1
    assert (
        value(
            samples,
            "cliproxy_request_duration_seconds_count",
            door="openai-chat",
            provider=provider,
        )
        == 1
    )
    assert value(samples, "cliproxy_stream_first_byte_seconds_count") == 0  # not a stream
    assert value(samples, "cliproxy_requests_in_flight") == 0
    # the 429 rests alpha's model: the scrape shows it from the state store
    assert value(samples, "cliproxy_credentials", provider=provider, state="cooling") == 1
    assert value(samples, "cliproxy_credentials", provider=provider, state="ok") == 1
    assert value(samples, "cliproxy_credentials", provider=provider, state="unhealthy") == 0
    assert value(samples, "cliproxy_cooldown_remaining_seconds", credential=ALPHA_LABEL, model=MODEL) > 0
    assert value(samples, "cliproxy_cooldown_remaining_seconds", credential=BETA_LABEL) == 0


def answer_with_usage() -> Reply:
    """A chat completion reporting 120 input (100 cached) and 45 output (30 reasoning) tokens."""
    usage = {
        "prompt_tokens": 120,
        "completion_tokens": 45,
        "total_tokens": 165,
        "prompt_tokens_details": {"cached_tokens": 100},
        "completion_tokens_details": {"reasoning_tokens": 30},
    }
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "hello"},
                "finish_reason": "stop",
            }
        ],
        "usage": usage,
    }
    return Reply.json(body)


async def test_token_counters_match_the_upstreams_usage(upstream, clock):
    upstream.add("POST", CHAT, answer_with_usage())
    app = gateway_app(cfg(upstream), plugins=[cliproxy_openai])
    clock.install(app)
    async with asgi_client(app) as client:
        assert (await chat(client)).status_code == 200
        assert (await chat(client)).status_code == 200
        samples = await scrape(client)
    tokens = "cliproxy_tokens_total"
    assert value(samples, tokens, model=MODEL, kind="input") == 240
    assert value(samples, tokens, model=MODEL, kind="output") == 90
    assert value(samples, tokens, model=MODEL, kind="cache_read") == 200
    assert value(samples, tokens, model=MODEL, kind="reasoning") == 60


TEAM_A = "sk-team-a-1111111111111111"
TEAM_B = "sk-team-b-2222222222222222"


async def test_each_client_key_is_a_client_label_with_its_own_requests_and_tokens(upstream, clock):
    upstream.add("POST", CHAT, answer_with_usage())
    app = gateway_app(cfg(upstream, **{"api-keys": [TEAM_A, TEAM_B]}), plugins=[cliproxy_openai])
    clock.install(app)
    payload = {"model": "nano", "messages": [{"role": "user", "content": "hi"}]}
    async with asgi_client(app) as client:
        for key in (TEAM_A, TEAM_A, TEAM_B):
            answer = await client.post(CHAT, json=payload, headers={"Authorization": f"Bearer {key}"})
            assert answer.status_code == 200
        text = (await client.get("/metrics")).text
    samples = parse(text)
    requests, tokens = "cliproxy_requests_total", "cliproxy_tokens_total"
    assert value(samples, requests, client="key-1", door="openai-chat", model=MODEL, status="200") == 2
    assert value(samples, requests, client="key-2", door="openai-chat", model=MODEL, status="200") == 1
    assert value(samples, requests) == 3
    assert value(samples, tokens, client="key-1", model=MODEL, kind="input") == 240
    assert value(samples, tokens, client="key-1", model=MODEL, kind="output") == 90
    assert value(samples, tokens, client="key-2", model=MODEL, kind="input") == 120
    assert value(samples, tokens, client="key-2", model=MODEL, kind="reasoning") == 30
    clients = {dict(labels).get("client") for name, labels in samples if name in (requests, tokens)}
    assert clients == {"key-1", "key-2"}
    for key in (TEAM_A, TEAM_B):  # neither the key nor its masked form
        assert key not in text and mask_secret(key) not in text and key[:8] not in text


async def test_without_api_keys_every_caller_is_the_anonymous_client(upstream, clock):
    upstream.add("POST", CHAT, answer_with_usage())
    app = gateway_app(cfg(upstream, **{"api-keys": []}), plugins=[cliproxy_openai])
    clock.install(app)
    async with asgi_client(app) as client:
        assert (await chat(client)).status_code == 200
        assert (await client.post(CHAT, json={"model": "nano", "messages": []})).status_code == 200
        samples = await scrape(client)
    assert value(samples, "cliproxy_requests_total", client="anonymous", status="200") == 2
    assert value(samples, "cliproxy_requests_total") == 2
    assert value(samples, "cliproxy_tokens_total", client="anonymous", kind="input") == 240
    assert value(samples, "cliproxy_tokens_total") == value(samples, "cliproxy_tokens_total", client="anonymous")


class NamesCallers:
    """An authenticator naming each caller as it likes (here: the x-user header)."""

    @hookimpl
    def authenticate_client(self, request, config):
        user = request.headers.get("x-user")
        return ClientIdentity(user) if user else None


async def test_client_labels_from_a_plugin_are_capped(upstream, ok, clock, monkeypatch):
    monkeypatch.setattr("cliproxy.metrics.MAX_CLIENTS", 2)
    upstream.add("POST", CHAT, ok)
    app = gateway_app(cfg(upstream), plugins=[cliproxy_openai, NamesCallers()])
    clock.install(app)
    payload = {"model": "nano", "messages": [{"role": "user", "content": "hi"}]}
    async with asgi_client(app) as client:
        for user in ("ann", "bob", "cat", "dan", "ann"):
            answer = await client.post(CHAT, json=payload, headers={"x-user": user})
            assert answer.status_code == 200
        samples = await scrape(client)
    requests = "cliproxy_requests_total"
    assert value(samples, requests, client="ann") == 2
    assert value(samples, requests, client="bob") == 1
    assert value(samples, requests, client="other") == 2  # cat and dan
    assert {dict(labels)["client"] for name, labels in samples if name == requests} == {"ann", "bob", "other"}
    assert value(samples, "cliproxy_tokens_total", client="other", kind="input") > 0
    assert len(gateway_of(app).metrics._clients) == 2  # names past the cap are not kept


async def test_a_stream_records_time_to_first_byte(upstream, recording, clock):
    upstream.add("POST", CHAT, Reply.sse_file(recording(STREAM)))
    app = gateway_app(cfg(upstream), plugins=[cliproxy_openai])
    clock.install(app)
    async with asgi_client(app) as client:
        answer = await chat(client, stream=True)
        assert answer.status_code == 200 and "data: [DONE]" in answer.text
        samples = await scrape(client)
    provider = gateway_of(app).credentials[0].provider
    first_byte = "cliproxy_stream_first_byte_seconds_count"
    assert value(samples, first_byte, door="openai-chat", provider=provider) == 1
    assert value(samples, "cliproxy_request_duration_seconds_count", door="openai-chat") == 1
    assert value(samples, "cliproxy_requests_total", status="200") == 1
    assert value(samples, "cliproxy_upstream_attempts_total", credential=ALPHA_LABEL, status="200") == 1


async def test_a_stream_failing_after_its_first_byte_counts_as_the_error_it_ended_with(upstream, recording, clock):
    upstream.add("POST", CHAT, Reply.sse_file(recording(STREAM_ERROR)))
    app = gateway_app(cfg(upstream), plugins=[cliproxy_openai])
    clock.install(app)
    async with asgi_client(app) as client:
        answer = await chat(client, stream=True)
        samples = await scrape(client)
    assert answer.status_code == 200 and '"error"' in answer.text
    (failure,) = [k for k in samples if k[0] == "cliproxy_upstream_attempts_total" and samples[k]]
    status = dict(failure[1])["status"]
    assert status != "200" and dict(failure[1])["credential"] == ALPHA_LABEL
    assert value(samples, "cliproxy_requests_total", status=status) == 1
    assert value(samples, "cliproxy_stream_first_byte_seconds_count") == 1


async def test_requests_refused_at_the_door_are_counted_without_a_provider(upstream, ok, clock):
    upstream.add("POST", CHAT, ok)
    app = gateway_app(cfg(upstream), plugins=[cliproxy_openai])
    clock.install(app)
    async with asgi_client(app) as client:
        denied = await client.post(
            CHAT, json={"model": "nano", "messages": []}, headers={"Authorization": "Bearer nope"}
        )
        unknown = await chat(client, model="no-such-model")
        samples = await scrape(client)
    assert denied.status_code == 401 and unknown.status_code == 404
    requests = "cliproxy_requests_total"
    refused = {"door": "openai-chat", "provider": "none", "model": "none"}
    assert value(samples, requests, client="none", status="401", **refused) == 1  # no caller known
    assert value(samples, requests, client="key-1", status="404", **refused) == 1
    assert not any(n == requests and ("model", "no-such-model") in labels for n, labels in samples)


async def test_the_endpoint_speaks_prometheus_text_and_shows_no_secret(upstream, ok, clock):
    upstream.add("POST", CHAT, alpha_gets(Reply.error(401, "Incorrect API key provided"), ok))
    app = gateway_app(cfg(upstream), plugins=[cliproxy_openai])
    clock.install(app)
    async with asgi_client(app) as client:
        await chat(client)
        answer = await client.get("/metrics")
    assert answer.status_code == 200
    names = {family.name for family in text_string_to_metric_families(answer.text)}
    assert {
        "cliproxy_requests",
        "cliproxy_upstream_attempts",
        "cliproxy_tokens",
        "cliproxy_request_duration_seconds",
        "cliproxy_stream_first_byte_seconds",
        "cliproxy_requests_in_flight",
        "cliproxy_credentials",
        "cliproxy_cooldown_remaining_seconds",
    } <= names
    assert ALPHA not in answer.text and BETA not in answer.text and "client-key" not in answer.text
    samples = parse(answer.text)
    provider = gateway_of(app).credentials[0].provider
    assert value(samples, "cliproxy_credentials", provider=provider, state="unhealthy") == 1
    assert value(samples, "cliproxy_cooldown_remaining_seconds", credential=ALPHA_LABEL, model="*") > 0


async def test_metrics_are_for_this_machine_or_the_management_key(upstream):
    app = gateway_app(cfg(upstream), plugins=[cliproxy_openai])
    async with asgi_client(app, host="203.0.113.9") as client:
        remote = await client.get("/metrics")
    async with asgi_client(app, headers={"X-Forwarded-For": "203.0.113.9"}) as client:
        forwarded = await client.get("/metrics")
    assert remote.status_code == 403 and "remote-management.secret-key" in remote.json()["error"]["message"]
    assert forwarded.status_code == 403

    app = gateway_app(
        cfg(upstream, **{"remote-management": {"secret-key": "mgmt-secret"}}),
        plugins=[cliproxy_openai],
    )
    async with asgi_client(app, host="203.0.113.9") as client:
        missing = await client.get("/metrics")
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
        right = await client.get("/metrics", headers={"Authorization": "Bearer mgmt-secret"})
    assert (missing.status_code, wrong.status_code, right.status_code) == (401, 401, 200)
    assert "mgmt-secret" not in right.text


async def test_public_metrics_are_open_to_any_host(upstream):
    config = cfg(upstream, metrics={"enabled": True, "path": "/internal/metrics", "public": True})
    app = gateway_app(config, plugins=[cliproxy_openai])
    async with asgi_client(app, host="203.0.113.9") as client:
        answer = await client.get("/internal/metrics")
        old = await client.get("/metrics")
    assert answer.status_code == 200 and "cliproxy_requests_in_flight" in answer.text
    assert old.status_code == 404


async def test_metrics_off_by_default_is_404_and_no_recorder(upstream, ok):
    upstream.add("POST", CHAT, ok)
    config = cfg(upstream)
    del config["metrics"]
    app = gateway_app(config, plugins=[cliproxy_openai])
    assert gateway_of(app).metrics is None
    async with asgi_client(app) as client:
        assert (await chat(client)).status_code == 200
        assert (await client.get("/metrics")).status_code == 404
    disabled = gateway_app(cfg(upstream, metrics={"enabled": False}), plugins=[cliproxy_openai])
    assert gateway_of(disabled).metrics is None


async def test_two_apps_in_one_process_keep_their_own_counters(upstream, ok, clock):
    upstream.add("POST", CHAT, ok)
    first = gateway_app(cfg(upstream), plugins=[cliproxy_openai])
    second = gateway_app(cfg(upstream), plugins=[cliproxy_openai])
    assert gateway_of(first).metrics is not gateway_of(second).metrics
    async with asgi_client(first) as client:
        await chat(client)
        await chat(client)
        one = await scrape(client)
    async with asgi_client(second) as client:
        await chat(client)
        two = await scrape(client)
    assert value(one, "cliproxy_requests_total", status="200") == 2
    assert value(two, "cliproxy_requests_total", status="200") == 1


def test_enabled_metrics_without_prometheus_client_is_a_config_error(upstream, monkeypatch):
    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # import fails
    with pytest.raises(ConfigError) as caught:
        gateway_app(cfg(upstream), plugins=[cliproxy_openai])
    assert "prometheus-client" in str(caught.value) and "cliproxy[metrics]" in str(caught.value)
    assert caught.value.key == "metrics"


def test_model_labels_are_capped():
    metrics = Metrics()
    names = [f"model-{i}" for i in range(MAX_MODELS + 5)]
    labels = [metrics.model_label(name) for name in names]
    assert labels[:MAX_MODELS] == names[:MAX_MODELS]
    assert set(labels[MAX_MODELS:]) == {"other"}
    assert metrics.model_label(names[0]) == names[0]


def test_client_labels_are_capped():
    metrics = Metrics()
    names = [f"user-{i}" for i in range(MAX_CLIENTS + 5)]
    labels = [metrics.client_label(name) for name in names]
    assert labels[:MAX_CLIENTS] == names[:MAX_CLIENTS]
    assert set(labels[MAX_CLIENTS:]) == {"other"}
    assert metrics.client_label(names[0]) == names[0]
    assert len(metrics._clients) == MAX_CLIENTS


def test_the_openai_sdk_streams_through_a_served_gateway_and_the_scrape_counts_it(upstream, recording):
    upstream.add("POST", CHAT, Reply.sse_file(recording(STREAM)))
    app = gateway_app(cfg(upstream), plugins=[cliproxy_openai])
    with serve_app(app) as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key="client-key")
        stream = client.chat.completions.create(model="nano", messages=[{"role": "user", "content": "hi"}], stream=True)
        text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
        for _ in range(200):  # the server counts the request just after its last byte
            samples = parse(httpx.get(url + "/metrics").text)
            if value(samples, "cliproxy_requests_total"):
                break
            time.sleep(0.01)
    assert text
    assert value(samples, "cliproxy_requests_total", door="openai-chat", status="200") == 1
    assert value(samples, "cliproxy_stream_first_byte_seconds_count", door="openai-chat") == 1
    assert value(samples, "cliproxy_requests_in_flight", door="openai-chat") == 0


def settled_scrape(url: str) -> Samples:
    """A scrape once the server has finished the request it was serving (it counts it
    just after the client's side is over)."""
    for _ in range(500):
        samples = parse(httpx.get(url + "/metrics").text)
        if value(samples, "cliproxy_requests_total") and not value(samples, "cliproxy_requests_in_flight"):
            return samples
        time.sleep(0.01)
    raise AssertionError("the request was never counted as finished")


def test_a_client_leaving_before_the_answer_is_a_499_and_not_in_flight(upstream):
    upstream.add("POST", CHAT, Reply.json({"id": "x"}, delay=3))
    app = gateway_app(cfg(upstream), plugins=[cliproxy_openai])
    with serve_app(app) as url:
        payload = {"model": "nano", "messages": [{"role": "user", "content": "hi"}]}
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(url + CHAT, json=payload, headers=AUTH, timeout=0.3)
        assert upstream.wait_for_disconnect(timeout=5)
        samples = settled_scrape(url)
    assert value(samples, "cliproxy_requests_total", door="openai-chat", status="499") == 1
    assert value(samples, "cliproxy_upstream_attempts_total") == 0  # abandoned, as in /v0/status


def test_a_client_leaving_mid_stream_is_not_left_in_flight(upstream):
    chunk = b'data: {"id":"1","model":"m","choices":[{"index":0,"delta":{"content":"w"}}]}\n\n'
    upstream.add("POST", CHAT, Reply.sse([chunk] * 200, chunk_delay=0.05))
    app = gateway_app(cfg(upstream), plugins=[cliproxy_openai])
    with serve_app(app) as url:
        host, port = url.removeprefix("http://").split(":")
        body = json.dumps({"model": "nano", "stream": True, "messages": [{"role": "user", "content": "x"}]}).encode()
        sock = socket.create_connection((host, int(port)))
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer client-key\r\n"
            + f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n".encode()
            + body
        )
        assert b"200" in sock.recv(4096)
        sock.close()
        assert upstream.wait_for_disconnect(timeout=5)
        samples = settled_scrape(url)
    assert value(samples, "cliproxy_requests_total", door="openai-chat", status="200") == 1
    assert value(samples, "cliproxy_stream_first_byte_seconds_count") == 1
