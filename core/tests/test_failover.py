"""Routing and resilience end to end: a gateway with cliproxy-openai credentials in front
of a scripted fake upstream, driven through the OpenAI door, on a hand-moved clock.

Covers the seed's patterns (prefix isolation by workload, alias map, primary + fallback
provider, multi-key rotation), each row of the cooldown table, request-retry rounds, the
all-resting 429, and streams failing before and after their first byte.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import cliproxy_openai
import httpx
import pytest
from cliproxy.app import gateway_of
from cliproxy.testing import (
    FakeClock,
    FakeUpstream,
    RecordedRequest,
    Reply,
    asgi_client,
    gateway_app,
)

AUTH = {"Authorization": "Bearer client-key"}
SIMPLE = "openai-chat/aibridge-chat_simple.nonstream.json"
STREAM = "openai-chat/DERIVED-vercel-openai-text.sse.txt"
STREAM_ERROR = "openai-chat/aibridge-chat_stream_error.stream.sse.txt"
CHAT = "/v1/chat/completions"


def block(name: str, upstream: FakeUpstream, *keys: str, path: str = "/v1", **fields: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": name,
        "base-url": upstream.url + path,
        "api-key-entries": [{"api-key": k} for k in keys],
        "models": [{"name": "gpt-4.1-nano", "alias": "nano"}, {"name": "gpt-4.1-mini", "alias": "mini"}],
    }
    entry.update(fields)
    return entry


def config(*blocks: dict[str, Any], **core: Any) -> dict[str, Any]:
    return {"api-keys": ["client-key"], "openai-compatibility": list(blocks), **core}


def keys_used(upstream: FakeUpstream, path: str = "/v1/chat/completions") -> list[str]:
    return [r.headers["authorization"].removeprefix("Bearer ") for r in upstream.requests_to(path)]


def by_key(replies: dict[str, Reply | list[Reply]], default: Reply) -> Callable[[RecordedRequest], Reply]:
    """Answer per upstream key; a list is served in turn (its last reply repeats)."""
    queues = {k: (list(v) if isinstance(v, list) else [v]) for k, v in replies.items()}

    def handler(request: RecordedRequest) -> Reply:
        queue = queues.get(request.headers.get("authorization", "").removeprefix("Bearer "))
        if not queue:
            return default
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return handler


@pytest.fixture
def ok(recording) -> Reply:
    return Reply.json(json.loads(recording(SIMPLE).read_text()))


@pytest.fixture
def ok_stream(recording) -> Reply:
    return Reply.sse_file(recording(STREAM))


class Gateway:
    """An in-process gateway app with a fake clock, and an httpx client to it."""

    def __init__(self, cfg: dict[str, Any], clock: FakeClock) -> None:
        self.app = gateway_app(cfg, plugins=[cliproxy_openai])
        self.clock = clock.install(self.app)
        self.client: httpx.AsyncClient | None = None
        self._ctx: Any = None

    async def __aenter__(self) -> Gateway:
        self._ctx = asgi_client(self.app)
        self.client = await self._ctx.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._ctx.__aexit__(*exc)

    async def chat(self, model: str = "nano", **body: Any) -> httpx.Response:
        assert self.client is not None
        payload = {"model": model, "messages": [{"role": "user", "content": "hi"}], **body}
        return await self.client.post(CHAT, json=payload, headers=AUTH)

    async def status(self) -> dict[str, Any]:
        assert self.client is not None
        return (await self.client.get("/v0/status")).json()


# -- the seed's patterns ----------------------------------------------------------------------


async def test_prefix_isolation_by_workload(upstream, ok, clock):
    upstream.add("POST", "/core/v1/chat/completions", ok)
    upstream.add("POST", "/batch/v1/chat/completions", ok)
    upstream.add("GET", "/batch/v1/models", Reply.json({"data": [{"id": "llama-3.3-70b"}]}))
    core = block("core", upstream, "sk-core", path="/core/v1", prefix="agent-core")
    core["models"] = [{"name": "claude-3-5-sonnet-20241022", "alias": "core-sonnet"}]
    batch = block("batch", upstream, "sk-batch", path="/batch/v1", prefix="batch")
    del batch["models"]  # any model under batch/
    async with Gateway(config(core, batch, **{"force-model-prefix": True}), clock) as gw:
        assert (await gw.chat("agent-core/core-sonnet")).status_code == 200
        assert (await gw.chat("batch/some-new-model")).status_code == 200
        refused = await gw.chat("core-sonnet")
        await gateway_of(gw.app).discover_models()  # start-up discovery runs in the background
        models = (await gw.client.get("/v1/models", headers=AUTH)).json()
    assert upstream.requests_to("/core/v1/chat/completions")[0].json["model"] == "claude-3-5-sonnet-20241022"
    assert upstream.requests_to("/batch/v1/chat/completions")[0].json["model"] == "some-new-model"
    assert keys_used(upstream, "/core/v1/chat/completions") == ["sk-core"]
    assert keys_used(upstream, "/batch/v1/chat/completions") == ["sk-batch"]
    assert refused.status_code == 404
    error = refused.json()["error"]
    assert error["code"] == "model_not_found" and error["param"] == "model"
    assert "'agent-core/core-sonnet'" in error["message"]
    ids = {m["id"] for m in models["data"]}
    assert ids == {"agent-core/core-sonnet", "batch/llama-3.3-70b"}  # only prefixed ids


async def test_alias_map_keeps_client_names_stable(upstream, ok, clock):
    upstream.add("POST", CHAT, ok)
    async with Gateway(config(block("local", upstream, "sk-1")), clock) as gw:
        answer = await gw.chat("nano")
        assert (await gw.chat("gpt-4.1-nano")).status_code == 404  # only the alias is exposed
    assert answer.status_code == 200 and answer.json()["model"] == "nano"
    assert upstream.requests_to(CHAT)[0].json["model"] == "gpt-4.1-nano"


async def test_primary_direct_provider_with_secondary_aggregator_fallback(upstream, ok, clock):
    upstream.add("POST", "/primary/v1/chat/completions", [Reply.error(503, "overloaded"), ok])
    upstream.add("POST", "/fallback/v1/chat/completions", ok)
    primary = block("direct", upstream, "sk-direct", path="/primary/v1", priority=10)
    fallback = block("aggregator", upstream, "sk-agg", path="/fallback/v1")
    async with Gateway(config(fallback, primary), clock) as gw:
        first = await gw.chat()
        second = await gw.chat()  # the primary rests: straight to the fallback
        clock.advance(61)
        third = await gw.chat()  # the primary is back
    assert [r.status_code for r in (first, second, third)] == [200, 200, 200]
    assert len(upstream.requests_to("/primary/v1/chat/completions")) == 2
    assert len(upstream.requests_to("/fallback/v1/chat/completions")) == 2
    assert upstream.requests[-1].path == "/primary/v1/chat/completions"


async def test_multi_key_rotation_spreads_load_and_routes_around_a_429(upstream, ok, clock):
    upstream.add("POST", CHAT, by_key({"k2": [Reply.error(429, "slow down", headers={"Retry-After": "300"}), ok]}, ok))
    async with Gateway(config(block("pool", upstream, "k1", "k2", "k3")), clock) as gw:
        answers = [await gw.chat() for _ in range(7)]
        assert all(a.status_code == 200 for a in answers)  # no client saw the 429
        # k2's 429 moved its request on to k3; then k1 and k3 share the load while k2 rests
        assert keys_used(upstream) == ["k1", "k2", "k3", "k1", "k3", "k1", "k3", "k1"]
        clock.advance(301)
        answers = [await gw.chat() for _ in range(3)]
    assert sorted(keys_used(upstream)[-3:]) == ["k1", "k2", "k3"]


async def test_weight_sets_each_keys_share(upstream, ok, clock):
    upstream.add("POST", CHAT, ok)
    pool = block("pool", upstream)
    pool["api-key-entries"] = [{"api-key": "heavy", "weight": 3}, {"api-key": "light"}]
    async with Gateway(config(pool), clock) as gw:
        for _ in range(8):
            await gw.chat()
    used = keys_used(upstream)
    assert used.count("heavy") == 6 and used.count("light") == 2


async def test_fill_first_uses_the_first_key_until_it_rests(upstream, ok, clock):
    upstream.add("POST", CHAT, by_key({"k1": [ok, ok, Reply.error(500), ok]}, ok))
    cfg = config(block("pool", upstream, "k1", "k2"), routing={"strategy": "fill-first"})
    async with Gateway(cfg, clock) as gw:
        for _ in range(4):
            assert (await gw.chat()).status_code == 200
    assert keys_used(upstream) == ["k1", "k1", "k1", "k2", "k2"]


# -- the cooldown table, row by row -------------------------------------------------------------


def gemini_429() -> Reply:
    # Gemini's OpenAI-compatible endpoint: a google.rpc.Status in a list, RetryInfo inside.
    body = [
        {
            "error": {
                "code": 429,
                "message": "You exceeded your current quota, please check your plan.",
                "status": "RESOURCE_EXHAUSTED",
                "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "34.4s"}],
            }
        }
    ]
    return Reply.json(body, status=429)


ROWS = [
    ("401 unauthorized", Reply.error(401, "invalid api key"), 1800.0, True),
    ("402 payment required", Reply.error(402, "insufficient credits"), 1800.0, True),
    ("403 forbidden", Reply.error(403, "key disabled"), 1800.0, True),
    (
        "404 model not found",
        Reply.json({"error": {"message": "The model does not exist", "code": "model_not_found"}}, status=404),
        12 * 3600.0,
        False,
    ),
    (
        "400 model not supported",
        Reply.json(
            {"error": {"message": "The requested model is not supported", "code": "model_not_supported"}}, status=400
        ),
        12 * 3600.0,
        False,
    ),
    ("429 Retry-After", Reply.error(429, "rate limited", headers={"Retry-After": "120"}), 120.0, False),
    ("429 retry-after-ms", Reply.error(429, "rate limited", headers={"retry-after-ms": "2500"}), 2.5, False),
    ("429 Gemini RetryInfo", gemini_429(), 34.4, False),
    ("429 without a hint", Reply.error(429, "rate limited"), 1.0, False),
    ("408 timeout", Reply.error(408, "timeout"), 60.0, False),
    ("500", Reply.error(500, "boom"), 60.0, False),
    ("502", Reply.error(502, "bad gateway"), 60.0, False),
    ("503", Reply.error(503, "unavailable"), 60.0, False),
    ("504", Reply.error(504, "gateway timeout"), 60.0, False),
    ("529 overloaded", Reply.error(529, "overloaded"), 60.0, False),
]


@pytest.mark.parametrize("reply, rest, whole", [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
async def test_cooldown_table(upstream, ok, clock, reply, rest, whole):
    upstream.add("POST", CHAT, by_key({"bad": [reply, ok]}, ok))
    cfg = config(block("pool", upstream, "bad", "good"), routing={"strategy": "fill-first"})
    async with Gateway(cfg, clock) as gw:
        assert (await gw.chat("nano")).status_code == 200  # failed over to the good key
        assert keys_used(upstream) == ["bad", "good"]
        (bad,) = [c for c in (await gw.status())["credentials"] if c["failures"]]
        if whole:
            assert bad["state"] == "unhealthy" and bad["unhealthy"]["seconds_left"] == rest
        else:
            assert bad["state"] == "cooling" and bad["cooldowns"]["gpt-4.1-nano"]["seconds_left"] == pytest.approx(rest)

        clock.advance(rest - 0.25)
        await gw.chat("nano")
        await gw.chat("mini")  # another model on the same key
        assert keys_used(upstream)[2:] == ["good", "good" if whole else "bad"]

        clock.advance(0.5)
        await gw.chat("nano")
        assert keys_used(upstream)[-1] == "bad"  # the rest ended by time alone


async def test_a_model_no_upstream_serves_is_404_not_a_cooldown(upstream, clock):
    gone = Reply.json(
        {"error": {"message": "The model `gpt-4.1-nano` does not exist", "code": "model_not_found"}}, status=404
    )
    upstream.add("POST", CHAT, gone)
    async with Gateway(config(block("pool", upstream, "k1", "k2")), clock) as gw:
        first = await gw.chat()
        again = await gw.chat()
        other = await gw.chat("mini")  # the same keys' other model is unaffected
    for answer in (first, again):
        assert answer.status_code == 404
        error = answer.json()["error"]
        assert error["code"] == "model_not_found" and "does not exist" in error["message"]
        assert "retry-after" not in answer.headers
    assert other.status_code == 404  # this fake upstream 404s it too, but only once asked
    assert keys_used(upstream) == ["k1", "k2", "k1", "k2"]  # the repeat asked nobody


async def test_connection_errors_rest_the_model_one_minute(upstream, ok, clock):
    upstream.add("POST", CHAT, ok)
    dead = {
        "name": "dead",
        "base-url": "http://127.0.0.1:1/v1",
        "api-key-entries": [{"api-key": "dead"}],
        "models": [{"name": "gpt-4.1-nano", "alias": "nano"}],
        "priority": 5,
    }
    async with Gateway(config(dead, block("live", upstream, "live")), clock) as gw:
        assert (await gw.chat()).status_code == 200
        cooling = {c["group"]: c for c in (await gw.status())["credentials"]}["openai-compatibility/dead"]
        assert cooling["state"] == "cooling"
        assert cooling["cooldowns"]["gpt-4.1-nano"]["seconds_left"] == 60
        assert "could not reach" in cooling["last_error"]["message"]


async def test_errors_name_the_provider_not_where_it_lives(upstream, clock, caplog):
    """A client learns which provider failed, never the upstream's internal address (the
    log has it)."""
    caplog.set_level("INFO")
    dead = {
        "name": "dead",
        "base-url": "http://127.0.0.1:1/v1",
        "api-key-entries": [{"api-key": "dead"}],
        "models": [{"name": "gpt-4.1-nano", "alias": "nano"}],
    }
    upstream.add("POST", CHAT, Reply.json({}, delay=2.0))
    async with Gateway(config(dead, **{"request-retry": 0}), clock) as gw:
        unreachable = await gw.chat()
    cfg = config(
        block("slow", upstream, "slow"), **{"request-retry": 0, "upstream-timeouts": {"connect": 1, "read": 0.2}}
    )
    async with Gateway(cfg, clock) as gw:
        timed_out = await gw.chat()
    assert unreachable.status_code == 502 and timed_out.status_code == 504
    for answer in (unreachable, timed_out):
        message = answer.json()["error"]["message"]
        assert "openai-compatibility" in message
        assert "127.0.0.1" not in message
    assert "127.0.0.1:1" in caplog.text


async def test_429_backoff_doubles_per_repeat_and_a_success_clears_it(upstream, ok, clock):
    replies = [Reply.error(429, "slow")] * 4 + [ok, Reply.error(429, "slow"), ok]
    upstream.add("POST", CHAT, replies)
    cfg = config(block("one", upstream, "k1"), **{"request-retry": 0})
    async with Gateway(cfg, clock) as gw:
        waits = []
        for _ in range(4):
            answer = await gw.chat()
            assert answer.status_code == 429
            waits.append(int(answer.headers["retry-after"]))
            clock.advance(waits[-1])
        assert waits == [1, 2, 4, 8]
        assert (await gw.chat()).status_code == 200
        again = await gw.chat()
        assert again.status_code == 429 and again.headers["retry-after"] == "1"  # backoff starts over


async def test_client_errors_return_at_once_without_failover(upstream, recording, ok, clock):
    bad_request = Reply.http_file(recording("openai-chat/aibridge-chat_non_stream_error.nonstream.http.txt"))
    upstream.add("POST", CHAT, by_key({"k1": bad_request}, ok))
    cfg = config(block("pool", upstream, "k1", "k2"), routing={"strategy": "fill-first"})
    async with Gateway(cfg, clock) as gw:
        answer = await gw.chat()
        again = await gw.chat()
        k1 = (await gw.status())["credentials"][0]
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "context_length_exceeded"
    assert keys_used(upstream) == ["k1", "k1"]  # never failed over, never rested
    assert again.status_code == 400
    # the request was at fault, not the key: counted, but not as the key's failure
    assert (k1["state"], k1["requests"], k1["failures"], k1["last_error"]) == ("ok", 2, 0, None)


# -- retry rounds and the all-resting 429 ---------------------------------------------------


async def test_everything_resting_is_429_with_retry_after_until_the_first_frees(upstream, clock):
    upstream.add(
        "POST",
        CHAT,
        by_key(
            {"k1": Reply.error(429, "quota", headers={"Retry-After": "200"})},
            Reply.error(429, "quota", headers={"Retry-After": "100"}),
        ),
    )
    async with Gateway(config(block("pool", upstream, "k1", "k2")), clock) as gw:
        answer = await gw.chat()
        clock.advance(40)
        again = await gw.chat()
    # the request that met the 429s hears the last upstream error as it was
    assert answer.status_code == 429 and answer.headers["retry-after"] == "100"
    assert answer.json()["error"]["message"] == "quota"
    # a request arriving while everything rests hears when the first key frees up
    assert again.status_code == 429 and again.headers["retry-after"] == "60"
    error = again.json()["error"]
    assert error["code"] == "model_cooldown" and "free again in 60s" in error["message"]
    assert len(upstream.requests_to(CHAT)) == 2  # the second request reached no upstream
    assert clock.slept == []  # beyond max-retry-interval (30s): no waiting


async def test_retry_round_waits_for_a_cooldown_within_max_retry_interval(upstream, ok, clock):
    upstream.add("POST", CHAT, [Reply.error(429, "busy", headers={"Retry-After": "5"}), ok])
    async with Gateway(config(block("one", upstream, "k1")), clock) as gw:
        answer = await gw.chat()
    assert answer.status_code == 200
    assert clock.slept == [5.0]
    assert len(upstream.requests_to(CHAT)) == 2


async def test_request_retry_bounds_the_rounds(upstream, clock):
    upstream.add("POST", CHAT, Reply.error(503, "down"))
    cfg = config(block("one", upstream, "k1"), **{"request-retry": 2, "max-retry-interval": 120})
    async with Gateway(cfg, clock) as gw:
        answer = await gw.chat()
    assert answer.status_code == 503 and answer.json()["error"]["message"] == "down"
    assert answer.headers["retry-after"] == "60"  # when the key is back
    assert clock.slept == [60.0, 60.0]
    assert len(upstream.requests_to(CHAT)) == 3


# -- streams ------------------------------------------------------------------------------------


def sse_text(body: str) -> str:
    text = ""
    for line in body.splitlines():
        if line.startswith("data: {"):
            data = json.loads(line[6:])
            for choice in data.get("choices") or ():
                text += (choice.get("delta") or {}).get("content") or ""
    return text


async def test_stream_error_before_the_first_byte_fails_over(upstream, ok_stream, clock):
    overloaded = Reply.sse_events([{"error": {"message": "Overloaded", "type": "overloaded_error", "code": 529}}])
    upstream.add("POST", CHAT, by_key({"k1": overloaded}, ok_stream))
    cfg = config(block("pool", upstream, "k1", "k2"), routing={"strategy": "fill-first"})
    async with Gateway(cfg, clock) as gw:
        answer = await gw.chat(stream=True)
        status = await gw.status()
    assert answer.status_code == 200
    assert keys_used(upstream) == ["k1", "k2"]
    assert sse_text(answer.text) and '"error"' not in answer.text
    assert answer.text.rstrip().endswith("data: [DONE]")
    (k1,) = [c for c in status["credentials"] if c["failures"]]
    assert k1["cooldowns"]["gpt-4.1-nano"]["seconds_left"] == 60


@pytest.mark.parametrize("client_door", ["openai", "anthropic"])
async def test_a_stream_of_nothing_but_invalid_events_is_the_upstreams_failure(upstream, ok_stream, clock, client_door):
    """An upstream answering 200 with events none of which is valid (passed through to an
    OpenAI client, translated for an Anthropic one) failed: the next key answers, the
    first rests; the client never gets an empty 200."""
    garbage = Reply.sse([b'data: {"foo": 1}\n\ndata: [1, 2]\n\ndata: "x"\n\ndata: [DONE]\n\n'])
    upstream.add("POST", CHAT, by_key({"k1": garbage}, ok_stream))
    cfg = config(block("pool", upstream, "k1", "k2"), routing={"strategy": "fill-first"})
    async with Gateway(cfg, clock) as gw:
        if client_door == "openai":
            answer = await gw.chat(stream=True)
            assert sse_text(answer.text) and answer.text.count("data: [DONE]") == 1
        else:
            body = {"model": "nano", "max_tokens": 50, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
            answer = await gw.client.post("/v1/messages", json=body, headers=AUTH)
            assert '"text_delta"' in answer.text
        status = await gw.status()
    assert answer.status_code == 200
    assert keys_used(upstream) == ["k1", "k2"]
    (k1,) = [c for c in status["credentials"] if c["failures"]]
    assert "without a single valid event" in k1["cooldowns"]["gpt-4.1-nano"]["reason"]


async def test_stream_dropped_before_the_first_byte_fails_over(upstream, recording, ok_stream, clock):
    dropped = Reply.sse_file(recording(STREAM), drop_after=1)  # only the role chunk, then gone
    upstream.add("POST", CHAT, by_key({"k1": dropped}, ok_stream))
    cfg = config(block("pool", upstream, "k1", "k2"), routing={"strategy": "fill-first"})
    async with Gateway(cfg, clock) as gw:
        answer = await gw.chat(stream=True)
    assert answer.status_code == 200 and sse_text(answer.text)
    assert keys_used(upstream) == ["k1", "k2"]


async def test_stream_failing_after_the_first_byte_ends_with_an_error_event(upstream, recording, ok_stream, clock):
    upstream.add("POST", CHAT, by_key({"k1": Reply.sse_file(recording(STREAM_ERROR))}, ok_stream))
    cfg = config(block("pool", upstream, "k1", "k2"), routing={"strategy": "fill-first"})
    async with Gateway(cfg, clock) as gw:
        answer = await gw.chat(stream=True)
        status = await gw.status()
    assert answer.status_code == 200
    assert keys_used(upstream) == ["k1"]  # bytes reached the client: no retry
    assert sse_text(answer.text) == 'The question "'
    last = [line for line in answer.text.splitlines() if line.startswith("data: ")][-1]
    assert json.loads(last[6:])["error"]["message"].startswith("The server had an error")
    (k1,) = [c for c in status["credentials"] if c["failures"]]
    assert k1["state"] == "cooling"


async def test_stream_dropped_after_the_first_byte_ends_with_an_error_event(upstream, recording, ok_stream, clock):
    upstream.add("POST", CHAT, by_key({"k1": Reply.sse_file(recording(STREAM), drop_after=3)}, ok_stream))
    cfg = config(block("pool", upstream, "k1", "k2"), routing={"strategy": "fill-first"})
    async with Gateway(cfg, clock) as gw:
        answer = await gw.chat(stream=True)
    assert keys_used(upstream) == ["k1"]
    assert sse_text(answer.text)
    last = [line for line in answer.text.splitlines() if line.startswith("data: ")][-1]
    assert "broke off the stream" in json.loads(last[6:])["error"]["message"]


def sse_events(body: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for block in body.split("\n\n"):
        name, data = "", None
        for line in block.splitlines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: {"):
                data = json.loads(line[6:])
        if data is not None:
            events.append((name or str(data.get("type")), data))
    return events


async def test_translated_stream_fails_over_before_and_ends_in_the_doors_error_after(
    upstream, recording, ok_stream, clock
):
    # A Responses client in front of a Chat Completions upstream: nothing passes through,
    # the door's own encoder speaks -- failover before the first byte, its error event after.
    upstream.add(
        "POST",
        CHAT,
        by_key(
            {"k1": Reply.sse_events([{"error": {"message": "Overloaded", "code": 529}}])},
            Reply.sse_file(recording(STREAM_ERROR)),
        ),
    )
    cfg = config(block("pool", upstream, "k1", "k2"), routing={"strategy": "fill-first"})
    async with Gateway(cfg, clock) as gw:
        assert gw.client is not None
        answer = await gw.client.post(
            "/v1/responses", json={"model": "nano", "input": "hi", "stream": True}, headers=AUTH
        )
    assert answer.status_code == 200
    assert keys_used(upstream) == ["k1", "k2"]  # k1's error came before any byte: failed over
    events = sse_events(answer.text)
    names = [name for name, _ in events]
    assert "response.output_text.delta" in names  # k2's first words reached the client...
    assert names[-1] == "response.failed"  # ...so its failure ends the stream, no retry
    assert "The server had an error" in events[-1][1]["response"]["error"]["message"]


async def test_a_stream_that_never_sends_an_event_is_bounded(upstream, ok_stream, clock):
    """Bytes held while waiting for a stream's first event are capped: an upstream that
    streams megabytes of nothing fails (and the next key answers)."""
    endless = Reply(chunks=[b": " + b"x" * 1048575 + b"\n"] * 6, headers={"content-type": "text/event-stream"})
    upstream.add("POST", CHAT, by_key({"k1": endless}, ok_stream))
    cfg = config(block("pool", upstream, "k1", "k2"), routing={"strategy": "fill-first"})
    async with Gateway(cfg, clock) as gw:
        answer = await gw.chat(stream=True)
        status = await gw.status()
    assert answer.status_code == 200 and sse_text(answer.text)
    assert keys_used(upstream) == ["k1", "k2"]
    (k1,) = [c for c in status["credentials"] if c["failures"]]
    assert "without a single event" in k1["cooldowns"]["gpt-4.1-nano"]["reason"]
