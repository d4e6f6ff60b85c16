"""MiniMax's ``base_resp`` envelope -- in HTTP 200 answers, in 200 streams, in HTTP error
bodies -- mapped onto the cooldown table."""

from __future__ import annotations

import json

import httpx
import pytest
from cliproxy import GatewayError
from cliproxy.testing import FakeUpstream, Reply, asgi_client
from cliproxy_minimax.errors import BaseRespGuard
from hypothesis import given, settings
from hypothesis import strategies as st

MESSAGES = "/anthropic/v1/messages"
CHAT = "/v1/chat/completions"
KEY = "mm-api-key-0123456789abcdef"
AUTH = {"authorization": "Bearer client-key"}


def envelope(code: int, message: str) -> dict:
    return {"id": "", "choices": None, "base_resp": {"status_code": code, "status_msg": message}}


def body(model: str = "MiniMax-M2.5", stream: bool = False) -> dict:
    return {"model": model, "max_tokens": 100, "stream": stream, "messages": [{"role": "user", "content": "hi"}]}


async def status_of(client) -> dict:
    return (await client.get("/v0/status")).json()["credentials"][0]


@pytest.mark.parametrize(
    ("code", "message", "status", "rests"),
    [
        (1002, "rate limit exceeded(RPM)", 429, "model"),
        (1004, "login fail: invalid token", 401, "credential"),
        (2049, "invalid api key", 401, "credential"),
        (1008, "insufficient balance", 402, "credential"),
        (2061, "your current token plan not support model, MiniMax-M3", 404, "model"),
        (1039, "token limit", 400, None),
        (1024, "internal error", 502, "model"),
    ],
)
@pytest.mark.parametrize("wire", ["anthropic", "openai"])
async def test_an_envelope_in_a_200_answer_is_the_error_it_names(
    code, message, status, rests, wire, minimax, minimax_app
):
    minimax.failure = envelope(code, message)
    app = minimax_app([{"api-key": KEY, "base-url": minimax.url, "wire": wire}], **{"request-retry": 0})
    async with asgi_client(app) as client:
        answer = await client.post("/v1/messages", json=body(), headers=AUTH)
        state = await status_of(client)
    assert answer.status_code == status
    assert f"({code})" in answer.json()["error"]["message"] and message in answer.json()["error"]["message"]
    if rests == "credential":
        assert state["state"] == "unhealthy" and f"({code})" in state["unhealthy"]["reason"]
    elif rests == "model":
        assert state["state"] == "cooling" and list(state["cooldowns"]) == ["MiniMax-M2.5"]
    else:
        assert state["state"] == "ok"


async def test_advice_comes_with_the_refusal(minimax, minimax_app):
    minimax.failure = envelope(1008, "insufficient balance")
    async with asgi_client(minimax_app()) as client:
        balance = (await client.post("/v1/messages", json=body(), headers=AUTH)).json()["error"]["message"]
    minimax.failure = envelope(1004, "login fail")
    async with asgi_client(minimax_app()) as client:
        login = (await client.post("/v1/messages", json=body(), headers=AUTH)).json()["error"]["message"]
    assert "top up" in balance
    assert "cliproxy login minimax" in login and "api-key" in login


async def test_a_model_outside_the_plan_rests_only_that_model(minimax, minimax_app):
    minimax.failure = envelope(2061, "your current token plan not support model, MiniMax-M3")
    async with asgi_client(minimax_app()) as client:
        refused = await client.post("/v1/messages", json=body("MiniMax-M3"), headers=AUTH)
        minimax.failure = None
        served = await client.post("/v1/messages", json=body("MiniMax-M2.5"), headers=AUTH)
        again = await client.post("/v1/messages", json=body("MiniMax-M3"), headers=AUTH)
    assert refused.status_code == 404 and served.status_code == 200
    assert again.status_code == 404 and len(minimax.server.requests_to(MESSAGES)) == 2  # M3 rests, unasked


@pytest.mark.parametrize("wire", ["anthropic", "openai"])
async def test_an_envelope_opening_a_200_stream_fails_over(wire, minimax, minimax_app):
    with FakeUpstream() as failing:
        path = MESSAGES if wire == "anthropic" else CHAT
        failing.add(
            "POST",
            path,
            Reply.sse([b"data: " + json.dumps(envelope(1002, "rate limit exceeded(RPM)")).encode() + b"\n\n"]),
        )
        entries = [
            {"api-key": "mm-first-key-0123456789", "base-url": failing.url, "wire": wire, "priority": 1},
            {"api-key": KEY, "base-url": minimax.url, "wire": wire},
        ]
        async with asgi_client(minimax_app(entries)) as client:
            answer = await client.post("/v1/messages", json=body(stream=True), headers=AUTH)
            first = next(c for c in (await client.get("/v0/status")).json()["credentials"] if c["priority"] == 1)
        assert len(failing.requests_to(path)) == 1
    assert answer.status_code == 200 and "It is sunny." in answer.text
    assert (
        first["state"] == "cooling"
        and "rate limit exceeded(RPM) (1002)" in first["cooldowns"]["MiniMax-M2.5"]["reason"]
    )


async def test_a_whole_json_envelope_where_a_stream_was_asked_is_read_too(minimax, minimax_app):
    minimax.server.add(
        "POST", MESSAGES, Reply.json(envelope(1004, "login fail"), headers={"content-type": "application/json"})
    )
    async with asgi_client(minimax_app()) as client:
        answer = await client.post("/v1/messages", json=body(stream=True), headers=AUTH)
    assert answer.status_code == 401 and "login fail (1004)" in answer.text


async def test_an_envelope_after_the_first_words_ends_the_stream_with_the_error(minimax, minimax_app):
    def chunk(delta: dict) -> bytes:
        return (
            b"data: "
            + json.dumps(
                {"id": "1", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta}]}
            ).encode()
            + b"\n\n"
        )

    failure = b"data: " + json.dumps(envelope(1024, "internal error")).encode() + b"\n\n"
    minimax.server.add(
        "POST", CHAT, Reply.sse([chunk({"role": "assistant", "content": "It is"}), failure], chunk_delay=0.1)
    )
    entry = {"api-key": KEY, "base-url": minimax.url, "wire": "openai"}
    async with asgi_client(minimax_app([entry])) as client:
        answer = await client.post("/v1/messages", json=body(stream=True), headers=AUTH)
    assert answer.status_code == 200
    assert "It is" in answer.text and "event: error" in answer.text and "internal error (1024)" in answer.text


@pytest.mark.parametrize("wire", ["anthropic", "openai"])
async def test_an_envelope_in_an_http_error_body_is_read(wire, minimax, minimax_app):
    path = MESSAGES if wire == "anthropic" else CHAT
    minimax.server.add("POST", path, Reply.json(envelope(2061, "plan does not include MiniMax-M3"), status=400))
    async with asgi_client(minimax_app([{"api-key": KEY, "base-url": minimax.url, "wire": wire}])) as client:
        answer = await client.post("/v1/messages", json=body("MiniMax-M3"), headers=AUTH)
        state = await status_of(client)
    assert answer.status_code == 404 and "plan does not include MiniMax-M3 (2061)" in answer.text
    assert list(state["cooldowns"]) == ["MiniMax-M3"]


async def test_other_http_errors_keep_the_wires_reading(minimax, minimax_app):
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}
    minimax.server.add("POST", MESSAGES, Reply.json(error, status=529))
    async with asgi_client(minimax_app(**{"request-retry": 0})) as client:
        answer = await client.post("/v1/messages", json=body(), headers=AUTH)
    assert answer.status_code == 529 and "busy" in answer.text


@settings(max_examples=80, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=8))
def test_the_guard_finds_an_envelope_however_the_stream_is_cut(cuts):
    stream = (
        b'data: {"choices":[{"index":0,"delta":{"content":"hi"}}],"base_resp":{"status_code":0,"status_msg":""}}\n\n'
        + b'data: {"id":"","choices":null,"base_resp":{"status_code":1002,"status_msg":"rate limit"}}\n\n'
    )
    guard = BaseRespGuard()
    pieces, start = [], 0
    for cut in sorted(set(c for c in cuts if c < len(stream))):
        pieces.append(stream[start:cut])
        start = cut
    pieces.append(stream[start:])
    with pytest.raises(GatewayError) as caught:
        for piece in pieces:
            guard.feed(piece)
        guard.close()
    assert caught.value.status == 429 and caught.value.message == "rate limit (1002)"


def test_the_guard_passes_a_stream_without_a_failing_envelope():
    guard = BaseRespGuard()
    guard.feed(b'data: {"choices":[],"base_resp":{"status_code":0,"status_msg":"success"}}\n\ndata: [DONE]\n\n')
    guard.close()
    httpx.Response(200)  # nothing raised
