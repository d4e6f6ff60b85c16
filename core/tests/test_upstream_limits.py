"""A hostile upstream cannot make the gateway hold its answers: at most
``upstream-limits.error-body-kb`` of an error body is read, at most
``upstream-limits.response-body-mb`` of a whole answer (decompressed, as it arrives, so a
compression bomb never inflates past it), and memory returns to where it was after such
answers -- with the collector tuned as for serving, no collection forced."""

from __future__ import annotations

import gc
import tracemalloc
import zlib
from collections.abc import Iterator
from typing import Any

import cliproxy_openai
import httpx
import pytest
from cliproxy.app import gateway_of
from cliproxy.config import ConfigError, parse_config
from cliproxy.gctune import GEN0_THRESHOLD, GEN1_THRESHOLD, GEN2_THRESHOLD
from cliproxy.testing import FakeUpstream, Reply, asgi_client, gateway_app

MB = 1024 * 1024
AUTH = {"Authorization": "Bearer client-key"}
CHAT = "/v1/chat/completions"
MESSAGES = "/v1/messages"
RESPONSE_LIMIT_MB = 8


def gzip_bomb(size: int) -> bytes:
    """``size`` zero bytes, gzip-compressed, built a megabyte at a time."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(MB)
    parts = [packer.compress(zeros) for _ in range(size // MB)]
    parts.append(packer.flush())
    return b"".join(parts)


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return gzip_bomb(256 * MB)  # about 250 KB on the wire


@pytest.fixture
def serving_gc() -> Iterator[None]:
    """The collector as ``cliproxy serve`` sets it (young collections 14x rarer, full ones
    far rarer still): memory held only through reference cycles would stay."""
    before = gc.get_threshold()
    gc.set_threshold(GEN0_THRESHOLD, GEN1_THRESHOLD, GEN2_THRESHOLD)
    yield
    gc.set_threshold(*before)


def huge_error(status: int = 500) -> Reply:
    """64 MB of HTML, sent a megabyte at a time."""
    return Reply(status=status, chunks=[b"<html>" + b"x" * (MB - 6)] * 64, content_type="text/html")


def gateway(upstream: FakeUpstream, **core: Any) -> Any:
    config = {
        "api-keys": ["client-key"],
        "request-retry": 0,
        "upstream-limits": {"response-body-mb": RESPONSE_LIMIT_MB},
        "openai-compatibility": [
            {
                "name": "hostile",
                "base-url": upstream.url + "/v1",
                "api-key-entries": [{"api-key": "sk-hostile-0001"}],
                "models": ["gpt-4.1-nano"],
            }
        ],
        **core,
    }
    return gateway_app(config, plugins=[cliproxy_openai])


async def chat(client: httpx.AsyncClient, app: Any, door: str = CHAT) -> httpx.Response:
    body: dict[str, Any] = {"model": "gpt-4.1-nano", "messages": [{"role": "user", "content": "hi"}]}
    if door == MESSAGES:
        body["max_tokens"] = 16
    answer = await client.post(door, json=body, headers=AUTH)
    await gateway_of(app).state.clear_cooldowns()  # the next request tries the credential again
    return answer


@pytest.mark.parametrize("door", [CHAT, MESSAGES], ids=["passed-through", "translated"])
async def test_error_bodies_and_bombs_leave_no_memory_behind(upstream, bomb, serving_gc, door):
    replies = [
        huge_error(500),  # 64 MB that is not JSON
        Reply(status=502, body=bomb, headers={"Content-Encoding": "gzip"}, content_type="text/plain"),
        Reply(status=200, body=bomb, headers={"Content-Encoding": "gzip"}),  # a "success" that never ends
        Reply(status=200, chunks=[b'{"id": ' + b"y" * (MB - 7)] * 6),  # 6 MB that only starts like JSON
        Reply(status=200, chunks=[b'{"id": "chatcmpl-1", "choices": [{"mess', b'age": {}}]}'], drop_after=1),
    ]
    upstream.add("POST", CHAT, replies * 20)  # served in turn
    app = gateway(upstream)
    tracemalloc.start()
    try:
        async with asgi_client(app) as client:
            for _ in replies:  # once each: imports, caches and pools settle
                await chat(client, app, door)
            gc.collect()
            baseline = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            answers = [await chat(client, app, door) for _ in range(5 * len(replies))]
            held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [a.status_code for a in answers[: len(replies)]] == [500, 502, 502, 502, 502]
    assert held - baseline < 4 * MB, f"{(held - baseline) / MB:.1f} MB still held after the hostile answers"
    # never a bomb's 256 MB; a body that fails to parse costs the JSON parser ~12 times its size
    assert peak - baseline < 12 * 6 * MB + 16 * MB, f"peak {(peak - baseline) / MB:.1f} MB"


async def test_an_over_size_answer_is_a_502_naming_the_limit_and_its_key(upstream, bomb):
    upstream.add("POST", CHAT, Reply(status=200, body=bomb, headers={"Content-Encoding": "gzip"}))
    app = gateway(upstream)
    async with asgi_client(app) as client:
        answer = await chat(client, app)
    assert answer.status_code == 502
    error = answer.json()["error"]
    assert "more than 8 MB" in error["message"] and "upstream-limits.response-body-mb" in error["message"]
    assert error["code"] == "upstream_response_too_large"


async def test_an_answer_within_the_limit_is_read_whole(upstream, recording):
    import json

    answer = json.loads(recording("openai-chat/aibridge-chat_simple.nonstream.json").read_text())
    answer["choices"][0]["message"]["content"] = "y" * (2 * MB)  # bigger than one network read
    packer = zlib.compressobj(6, zlib.DEFLATED, 31)
    body = packer.compress(json.dumps(answer).encode()) + packer.flush()
    upstream.add("POST", CHAT, Reply(status=200, body=body, headers={"Content-Encoding": "gzip"}))
    app = gateway(upstream)
    async with asgi_client(app) as client:
        reply = await chat(client, app)
    assert reply.status_code == 200
    assert reply.json()["choices"][0]["message"]["content"] == "y" * (2 * MB)


async def test_only_the_head_of_an_error_body_is_read(upstream):
    upstream.add("POST", CHAT, [Reply.error(503, "m" * 8000), huge_error(503)])
    app = gateway(upstream, **{"upstream-limits": {"error-body-kb": 4}})
    async with asgi_client(app) as client:
        cut_json = await chat(client, app)
        html = await chat(client, app)
        status = (await client.get("/v0/status")).json()
    # 4 KB of an 8 KB JSON error is no JSON: its text is shown as it came
    assert cut_json.status_code == 503 and cut_json.json()["error"]["message"].startswith('{"error":{"message":"mmm')
    message = html.json()["error"]["message"]
    assert html.status_code == 503 and message.startswith("<html>xxx") and len(message) <= 4096 + 16
    [credential] = status["credentials"]
    assert credential["last_error"]["message"].startswith("<html>xxx")


async def test_a_long_upstream_error_message_is_cut_and_kept_on_one_line(upstream):
    upstream.add("POST", CHAT, Reply.error(400, "bad request:\n\x00forged log line " + "z" * 100_000))
    app = gateway(upstream)
    async with asgi_client(app) as client:
        answer = await chat(client, app)
    message = answer.json()["error"]["message"]
    assert answer.status_code == 400 and message.startswith("bad request: forged log line zzz")
    assert message.endswith("z... (cut)") and len(message) <= 4096 + len("... (cut)")


@pytest.mark.parametrize(
    ("block", "problem"),
    [
        ({"error-body-kb": 0}, "must be at least 1"),
        ({"response-body-mb": ".inf"}, "must be a number of megabytes"),
        ({"response-body": 64}, "unknown key"),
    ],
)
def test_upstream_limits_are_checked(block, problem):
    data = {"upstream-limits": {k: (float("inf") if v == ".inf" else v) for k, v in block.items()}}
    with pytest.raises(ConfigError) as caught:
        parse_config(data, file="config.yaml")
    assert problem in str(caught.value) and "upstream-limits" in str(caught.value)


def test_upstream_limits_default_to_1_mb_of_error_and_64_mb_of_answer():
    limits = parse_config({}).upstream_limits
    assert (limits.error_body_bytes, limits.response_body_bytes) == (MB, 64 * MB)
