"""The hot path's shortcuts behave exactly like the plain versions they replace.

Each optimisation made for the benchmarks (benchmarks/) is pinned here: the pass-through
relay against a straightforward regex-and-split reference, the head check that decodes only
up to the first content event, and the single-task disconnect watcher.
"""

from __future__ import annotations

import asyncio
import http.client
import itertools
import re
import socket
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import cliproxy_openai
import openai
import orjson
import pytest
from cliproxy.asgi import client_disconnect_cancels
from cliproxy.ir import Usage
from cliproxy.passthrough import PassthroughStream, rewrite_field
from cliproxy.testing import FakeUpstream, Reply, asgi_client, gateway_app, serve_app
from cliproxy.wire.openai_chat import OpenAIChat
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette

TEXT_STREAM = "openai-chat/DERIVED-vercel-openai-text.sse.txt"
ERROR_STREAM = "openai-chat/aibridge-chat_stream_error.stream.sse.txt"

# -- the reference: what the relay did before it was made fast -------------------------------

_MARKERS = (b'sage"', b"usageMetadata")
_EVENT_END = re.compile(rb"(?<=\n\n)|(?<=\n\r\n)")


def reference_rewrite(data: bytes, field: str, client: str) -> bytes:
    pattern = re.compile(rb'("' + re.escape(field.encode()) + rb'"\s*:\s*)"(?:[^"\\]|\\.)*"')
    replacement = orjson.dumps(client)
    return pattern.sub(lambda m: m.group(1) + replacement, data)


def reference_scan(
    data: bytes, translator: Any, drop: Callable[[Mapping[str, Any]], bool] | None
) -> tuple[bytes, Usage, str | None]:
    usage = Usage()
    error: str | None = None
    has_usage = any(m in data for m in _MARKERS)
    if not has_usage and b'"error"' not in data:
        return data, usage, error
    kept = []
    for event in _EVENT_END.split(data):
        if not event:
            continue
        mentions_usage = has_usage and any(m in event for m in _MARKERS)
        mentions_error = b'"error"' in event
        obj = None
        if mentions_usage or mentions_error:
            for line in event.splitlines():
                if line.startswith(b"data:"):
                    try:
                        parsed = orjson.loads(line[5:])
                    except orjson.JSONDecodeError:
                        parsed = None
                    obj = parsed if isinstance(parsed, Mapping) else None
                    break
        if obj is not None:
            if mentions_error and error is None:
                err = obj.get("error")
                if isinstance(err, Mapping) and not obj.get("choices"):
                    error = translator.decode_error(502, {}, orjson.dumps(obj)).message
            if mentions_usage:
                found = translator.extract_usage(obj)
                if found:
                    usage = usage.merge(found)
                if drop is not None and drop(obj):
                    continue
        kept.append(event)
    return b"".join(kept), usage, error


def reference_relay(data: bytes, client: str, translator: Any, drop: Any) -> tuple[bytes, Usage, str | None]:
    scanned, usage, error = reference_scan(data, translator, drop)
    return reference_rewrite(scanned, "model", client), usage, error


def relay(pieces: list[bytes], client: str, translator: Any, drop: Any) -> tuple[bytes, Usage, str | None]:
    stream = PassthroughStream(client, translator, drop)
    out = [stream.feed(piece) for piece in pieces]
    out.append(stream.close())
    return b"".join(out), stream.usage, stream.error.message if stream.error else None


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(max(c, 0), len(data)) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


# -- events the property tests are built from ----------------------------------------------

_names = st.sampled_from(["gpt-4o", "gpt-4o-2024-08-06", "model", 'we"ird\\name', "ünï"])


@st.composite
def events(draw: Any) -> bytes:
    kind = draw(st.sampled_from(["delta", "usage", "tool", "comment", "done", "spaced", "message", "error"]))
    model = draw(_names)
    text = draw(st.text(max_size=20))
    if kind == "delta":
        obj: Any = {"id": "c1", "model": model, "choices": [{"index": 0, "delta": {"content": text}}]}
    elif kind == "usage":
        obj = {"id": "c1", "model": model, "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": len(text)}}
    elif kind == "tool":
        args = orjson.dumps({"model": text, "usage": 1}).decode()
        obj = {
            "model": model,
            "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": args}}]}}],
        }
    elif kind == "message":
        obj = {"model": model, "choices": [{"index": 0, "delta": {"content": "a message"}}], "message": text}
    elif kind == "error":
        obj = {"error": {"message": text or "boom", "type": "server_error"}}
    elif kind == "comment":
        return b": keep-alive\n\n"
    elif kind == "done":
        return b"data: [DONE]\n\n"
    else:
        return b'data: {"model" :  ' + orjson.dumps(model) + b', "usage": {"prompt_tokens": 1}}\n\n'
    line = b"data: " + orjson.dumps(obj) + b"\n\n"
    return line.replace(b"\n", b"\r\n") if draw(st.booleans()) and kind == "delta" else line


# -- the relay ----------------------------------------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(st.lists(events(), min_size=1, max_size=12), _names, st.lists(st.integers(0, 4000), max_size=6), st.booleans())
def test_relay_matches_the_reference_however_the_bytes_are_split(evs, client, cuts, drop_usage):
    translator = OpenAIChat()
    drop = translator.passthrough_filter({}) if drop_usage else None
    data = b"".join(evs)
    assert relay(split_at(data, cuts), client, translator, drop) == reference_relay(data, client, translator, drop)


@pytest.mark.parametrize("newline", [b"\n", b"\r\n"])
def test_a_dropped_usage_event_takes_exactly_its_own_bytes(newline):
    translator = OpenAIChat()
    delta = b'data: {"model":"m","choices":[{"index":0,"delta":{"content":"a"}}]}' + newline * 2
    usage = b'data: {"model":"m","choices":[],"usage":{"prompt_tokens":2,"completion_tokens":1}}' + newline * 2
    data = delta + usage + delta + usage + b"data: [DONE]" + newline * 2
    got, found, _ = relay([data], "m", translator, translator.passthrough_filter({}))
    assert got == delta + delta + b"data: [DONE]" + newline * 2
    assert found.input_tokens == 2
    assert (got, found, None) == reference_relay(data, "m", translator, translator.passthrough_filter({}))


@settings(max_examples=80, deadline=None)
@given(st.lists(events(), min_size=1, max_size=8), _names)
def test_rewrite_field_matches_the_regex(evs, client):
    data = b"".join(evs)
    assert rewrite_field(data, b'"model"', orjson.dumps(client)) == reference_rewrite(data, "model", client)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.tuples(st.lists(events(), min_size=1, max_size=3), st.integers(1, 4)), min_size=1, max_size=8), _names
)
def test_relay_of_reads_that_repeat_matches_the_reference(runs, client):
    """A stream repeats its ``"model":"name"`` read after read (the relay remembers it),
    until another name, or a read holding two names, or a lookalike (a longer name, a
    spaced key) comes."""
    translator = OpenAIChat()
    pieces = [b"".join(evs) for evs, times in runs for _ in range(times)]
    data = b"".join(pieces)
    assert relay(pieces, client, translator, None) == reference_relay(data, client, translator, None)


def test_rewrite_field_leaves_a_buffer_alone_when_the_name_is_already_right():
    data = b'data: {"model":"gpt-4o","x":1}\n\ndata: {"model":"gpt-4o","x":2}\n\n'
    assert rewrite_field(data, b'"model"', b'"gpt-4o"') is data


def test_relay_of_a_recorded_stream_matches_the_reference(recording):
    data = Path(recording(TEXT_STREAM)).read_bytes()
    translator = OpenAIChat()
    drop = translator.passthrough_filter({})
    assert relay([data], "nano", translator, drop) == reference_relay(data, "nano", translator, drop)
    got, usage, _ = relay([data], "nano", translator, None)
    assert usage.input_tokens and usage.output_tokens
    assert b'"model":"nano"' in got and b"gpt-4.1-nano-2025-04-14" not in got


# -- through the gateway: the stream arrives in one network read -------------------------------


def _config(upstream: FakeUpstream, keys: int = 1) -> dict[str, Any]:
    return {
        "api-keys": ["client-key"],
        "request-retry": 0,
        "openai-compatibility": [
            {
                "name": "local",
                "base-url": upstream.url + "/v1",
                "api-key-entries": [{"api-key": f"sk-upstream-{i}"} for i in range(keys)],
                "models": [{"name": "gpt-4.1-nano", "alias": "nano"}],
            }
        ],
    }


def _client(url: str) -> openai.OpenAI:
    return openai.OpenAI(api_key="client-key", base_url=url + "/v1", max_retries=0)


def test_a_stream_read_in_one_piece_passes_through_whole(upstream, recording):
    data = Path(recording(TEXT_STREAM)).read_bytes()
    upstream.add("POST", "/v1/chat/completions", Reply.sse([data]))  # one write: one read
    with serve_app(gateway_app(_config(upstream), plugins=[cliproxy_openai])) as url:
        chunks = list(
            _client(url).chat.completions.create(
                model="nano",
                messages=[{"role": "user", "content": "hi"}],
                stream=True,
                stream_options={"include_usage": True},
            )
        )
    want = "".join(
        (choice["delta"].get("content") or "")
        for line in data.splitlines()
        if line.startswith(b"data: {")
        for choice in orjson.loads(line[6:])["choices"]
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == want
    assert {c.model for c in chunks} == {"nano"}
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens


def test_an_error_before_any_content_still_fails_over_when_read_in_one_piece(upstream):
    error_first = b'data: {"error": {"message": "overloaded", "type": "server_error", "code": 529}}\n\n'
    good = (
        b'data: {"id":"c","model":"gpt-4.1-nano","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\n\n'
        b'data: {"id":"c","model":"gpt-4.1-nano","choices":[{"index":0,"delta":{"content":"fine"}}]}\n\n'
        b'data: {"id":"c","model":"gpt-4.1-nano","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
        b"data: [DONE]\n\n"
    )
    upstream.add("POST", "/v1/chat/completions", [Reply.sse([error_first + good]), Reply.sse([good])])
    with serve_app(gateway_app(_config(upstream, keys=2), plugins=[cliproxy_openai])) as url:
        chunks = list(
            _client(url).chat.completions.create(
                model="nano", messages=[{"role": "user", "content": "hi"}], stream=True
            )
        )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "fine"
    assert len(upstream.requests_to("/v1/chat/completions")) == 2


def test_an_error_after_content_in_the_same_read_reaches_the_client(upstream, recording):
    data = Path(recording(ERROR_STREAM)).read_bytes()
    upstream.add("POST", "/v1/chat/completions", Reply.sse([data]))
    with serve_app(gateway_app(_config(upstream), plugins=[cliproxy_openai])) as url:
        stream = _client(url).chat.completions.create(
            model="nano", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        with pytest.raises(openai.APIError, match="error while processing"):
            list(stream)


# -- the disconnect watcher ---------------------------------------------------------------------


def _receive_from(queue: asyncio.Queue[dict[str, Any]]) -> Callable[[], Any]:
    return queue.get


async def test_work_finishes_normally_and_the_watcher_goes_away():
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    done = []

    async def work() -> None:
        await asyncio.sleep(0)
        done.append(True)

    before = len(asyncio.all_tasks())
    await client_disconnect_cancels(work(), _receive_from(queue))
    await asyncio.sleep(0)
    assert done == [True]
    assert len(asyncio.all_tasks()) == before
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


async def test_a_disconnect_cancels_the_work_and_returns_quietly():
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    cancelled = []

    async def work() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    asyncio.get_running_loop().call_later(0.01, queue.put_nowait, {"type": "http.disconnect"})
    await client_disconnect_cancels(work(), _receive_from(queue))
    assert cancelled == [True]
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]
    await asyncio.sleep(0)  # the task is usable afterwards: not left cancelled


async def test_a_disconnect_after_the_last_message_lets_the_work_finish():
    from cliproxy.exchange import Exchange

    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    sent: list[dict[str, Any]] = []
    finished = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    noting = Exchange(send, "openai-chat", "req-1")

    async def work() -> None:
        await noting({"type": "http.response.start", "status": 200, "headers": []})
        await noting({"type": "http.response.body", "body": b"done", "more_body": False})
        queue.put_nowait({"type": "http.disconnect"})  # what in-process servers do next
        await asyncio.sleep(0.02)  # accounting after the answer
        finished.append(True)

    await client_disconnect_cancels(work(), _receive_from(queue), noting.done)
    assert finished == [True] and len(sent) == 2


async def test_after_the_last_message_the_watcher_ends_on_the_servers_disconnect():
    from cliproxy.exchange import Exchange

    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def send(message: dict[str, Any]) -> None:
        return None

    noting = Exchange(send, "openai-chat", "req-1")

    async def work() -> None:
        await noting({"type": "http.response.start", "status": 200, "headers": []})
        await noting({"type": "http.response.body", "body": b"done", "more_body": False})

    before = asyncio.all_tasks()
    await client_disconnect_cancels(work(), _receive_from(queue), noting.done)
    (watcher,) = asyncio.all_tasks() - before  # not cancelled: it waits for the disconnect
    queue.put_nowait({"type": "http.disconnect"})  # ASGI: receive() after the response
    await asyncio.wait_for(watcher, 5)
    assert not watcher.cancelled() and asyncio.all_tasks() == before


def test_closing_a_streamed_upstream_answer_does_not_wait_for_the_event_loop():
    from aiohttp.helpers import noop
    from cliproxy.answers import UpstreamResponse
    from cliproxy.upstream import _releaser

    class Response:  # aiohttp's: releases at once, returns an awaitable that yields once
        released = 0

        def release(self) -> noop:
            self.released += 1
            return noop()

    response = Response()
    closing = UpstreamResponse(wire="openai-chat", status=200, chunks=iter(()), release=_releaser(response)).aclose()  # type: ignore[arg-type]
    with pytest.raises(StopIteration):
        closing.send(None)  # finished without yielding
    assert response.released == 1


async def test_cancelling_the_request_itself_still_propagates():
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def work() -> None:
        await asyncio.sleep(30)

    task = asyncio.ensure_future(client_disconnect_cancels(work(), _receive_from(queue)))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_a_client_leaving_mid_stream_hangs_up_upstream_and_the_gateway_serves_on(upstream):
    slow = [b'data: {"id":"c","model":"m","choices":[{"index":0,"delta":{"content":"tick"}}]}\n\n'] * 50
    upstream.add("POST", "/v1/chat/completions", Reply.sse(slow, chunk_delay=0.1))
    with serve_app(gateway_app(_config(upstream), plugins=[cliproxy_openai])) as url:
        port = int(url.rsplit(":", 1)[1])
        body = orjson.dumps({"model": "nano", "messages": [{"role": "user", "content": "hi"}], "stream": True})
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(
                b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer client-key\r\n"
                b"Content-Type: application/json\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
            )
            assert b"tick" in sock.recv(65536) or b"tick" in sock.recv(65536)
        assert upstream.wait_for_disconnect(5)
        upstream.add("POST", "/v1/chat/completions", Reply.sse([*slow[:2], b"data: [DONE]\n\n"]))
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("POST", "/v1/chat/completions", body=body, headers={"Authorization": "Bearer client-key"})
        response = conn.getresponse()
        assert response.status == 200 and response.read().count(b"tick") == 2


# -- whole responses passed through: parsed once, checked without the IR -----------------------

COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-4.1-nano",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
    "usage": {
        "prompt_tokens": 5,
        "completion_tokens": 1,
        "total_tokens": 6,
        "prompt_tokens_details": {"cached_tokens": 2},
    },
}
FAILURES = [
    {"error": {"message": "overloaded", "type": "server_error", "code": 529}},
    {"error": "plain text"},
    {"choices": [{"index": 0, "error": {"message": "provider died", "code": 502}}]},
    ["not", "an", "object"],
]


@pytest.mark.parametrize("body", [COMPLETION, {**COMPLETION, "usage": None}, *FAILURES])
def test_check_response_fails_exactly_where_decode_response_does(body):
    from cliproxy import GatewayError
    from cliproxy.wire.openai_chat import check_response, decode_response

    raw = orjson.dumps(body)
    try:
        decoded = decode_response(raw)
    except GatewayError as expected:
        with pytest.raises(GatewayError) as raised:
            check_response(orjson.loads(raw))
        assert (raised.value.status, raised.value.message) == (expected.status, expected.message)
    else:
        assert check_response(orjson.loads(raw)) == decoded.usage


def _config_named(upstream: FakeUpstream, alias: str | None) -> dict[str, Any]:
    config = _config(upstream, keys=2)
    model = {"name": "gpt-4.1-nano", "alias": alias} if alias else {"name": "gpt-4.1-nano"}
    config["openai-compatibility"][0]["models"] = [model]
    config["routing"] = {"strategy": "fill-first"}
    return config


async def test_a_whole_response_under_its_own_name_passes_byte_for_byte(upstream):
    raw = orjson.dumps(COMPLETION, option=orjson.OPT_INDENT_2)  # formatting survives: no re-encoding
    upstream.add("POST", "/v1/chat/completions", Reply(body=raw))
    async with asgi_client(gateway_app(_config_named(upstream, None), plugins=[cliproxy_openai])) as client:
        reply = await client.post(
            "/v1/chat/completions",
            json={"model": "gpt-4.1-nano", "messages": [{"role": "user", "content": "x"}]},
            headers={"authorization": "Bearer client-key"},
        )
    assert reply.status_code == 200 and reply.content == raw


async def test_a_whole_response_under_an_alias_is_renamed_and_counted(upstream):
    from cliproxy.app import gateway_of

    upstream.add("POST", "/v1/chat/completions", Reply.json(COMPLETION))
    app = gateway_app(_config_named(upstream, "nano"), plugins=[cliproxy_openai])
    async with asgi_client(app) as client:
        reply = await client.post(
            "/v1/chat/completions",
            json={"model": "nano", "messages": [{"role": "user", "content": "x"}]},
            headers={"authorization": "Bearer client-key"},
        )
        usage = await gateway_of(app).state.usage()
    assert reply.status_code == 200 and reply.json() == {**COMPLETION, "model": "nano"}
    (totals,) = [t for per_model in usage.values() for t in per_model.values()]
    assert (totals.requests, totals.input_tokens, totals.output_tokens, totals.cache_read_tokens) == (1, 5, 1, 2)


@pytest.mark.parametrize("failure", FAILURES[:3])
async def test_a_whole_response_reporting_a_failure_fails_over(upstream, failure):
    upstream.add("POST", "/v1/chat/completions", [Reply.json(failure), Reply.json(COMPLETION)])
    async with asgi_client(gateway_app(_config_named(upstream, None), plugins=[cliproxy_openai])) as client:
        reply = await client.post(
            "/v1/chat/completions",
            json={"model": "gpt-4.1-nano", "messages": [{"role": "user", "content": "x"}]},
            headers={"authorization": "Bearer client-key"},
        )
    assert reply.status_code == 200 and reply.json()["choices"][0]["message"]["content"] == "hi"
    keys = [r.headers["authorization"] for r in upstream.requests_to("/v1/chat/completions")]
    assert keys == ["Bearer sk-upstream-0", "Bearer sk-upstream-1"]


async def test_a_whole_response_that_is_not_json_is_a_502(upstream):
    upstream.add("POST", "/v1/chat/completions", Reply(body=b"<html>gateway timeout</html>"))
    config = _config_named(upstream, None)
    config["openai-compatibility"][0]["api-key-entries"] = [{"api-key": "sk-upstream-0"}]
    async with asgi_client(gateway_app(config, plugins=[cliproxy_openai])) as client:
        reply = await client.post(
            "/v1/chat/completions",
            json={"model": "gpt-4.1-nano", "messages": [{"role": "user", "content": "x"}]},
            headers={"authorization": "Bearer client-key"},
        )
    assert reply.status_code == 502 and "not JSON" in reply.json()["error"]["message"]


# -- inbound keys -------------------------------------------------------------------------------


def test_api_keys_are_checked_with_one_digest_and_identities_are_reused():
    from cliproxy.auth import ANONYMOUS, check_api_key
    from cliproxy.client import InboundRequest

    def request(key: str | None) -> InboundRequest:
        headers = {"authorization": f"Bearer {key}"} if key else {}
        return InboundRequest(method="POST", path="/v1/chat/completions", headers=headers, query={})

    keys = ("first-key", "second-key")
    assert check_api_key(request("second-key"), keys).name == "key-2"  # type: ignore[union-attr]
    assert check_api_key(request("first-key"), keys) is check_api_key(request("first-key"), keys)
    assert check_api_key(request("second-ke"), keys) is None
    assert check_api_key(request(None), keys) is None
    assert check_api_key(request(None), ()) is ANONYMOUS


def test_a_request_does_not_rebuild_or_rehash_the_key_table(monkeypatch):
    """Many configured keys cost a request nothing: the table is found by the identity of
    the config's key tuple, not rebuilt or looked up by hashing every key again."""
    from cliproxy import auth
    from cliproxy.client import InboundRequest

    keys = tuple(f"key-number-{i}" for i in range(5000))
    request = InboundRequest(
        method="POST", path="/v1/chat/completions", headers={"authorization": "Bearer key-number-42"}, query={}
    )
    assert auth.check_api_key(request, keys).name == "key-43"  # type: ignore[union-attr]
    built: list[int] = []
    monkeypatch.setattr(auth, "_known", lambda keys: built.append(len(keys)))
    for _ in range(100):
        assert auth.check_api_key(request, keys).name == "key-43"  # type: ignore[union-attr]
    assert built == []


# -- doors answered ahead of Starlette's stack ----------------------------------------------------


async def test_doors_are_answered_directly_and_everything_else_by_starlette(upstream):
    upstream.add("POST", "/v1/chat/completions", Reply.json(COMPLETION))
    app = gateway_app(_config_named(upstream, None), plugins=[cliproxy_openai])
    seen: list[str] = []
    original = Starlette.__call__

    async def spy(self: Any, scope: Any, receive: Any, send: Any) -> None:
        seen.append(f"{scope['type']} {scope.get('method', '')} {scope.get('path', '')}".strip())
        await original(self, scope, receive, send)

    Starlette.__call__ = spy  # type: ignore[method-assign]
    try:
        async with asgi_client(app) as client:
            door = await client.post(
                "/v1/chat/completions",
                json={"model": "gpt-4.1-nano", "messages": [{"role": "user", "content": "x"}]},
                headers={"authorization": "Bearer client-key"},
            )
            wrong_method = await client.get("/v1/chat/completions")
            health = await client.get("/healthz")
    finally:
        Starlette.__call__ = original  # type: ignore[method-assign]
    assert door.status_code == 200 and door.json()["choices"][0]["message"]["content"] == "hi"
    assert wrong_method.status_code == 405 and "error" in wrong_method.json()
    assert health.status_code == 200
    assert "http POST /v1/chat/completions" not in seen
    assert {"http GET /v1/chat/completions", "http GET /healthz"} <= set(seen)


async def test_user_middleware_still_sees_door_requests(upstream):
    upstream.add("POST", "/v1/chat/completions", Reply.json(COMPLETION))
    app = gateway_app(_config_named(upstream, None), plugins=[cliproxy_openai])
    seen: list[str] = []

    class Tag:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                seen.append(scope["path"])
            await self.inner(scope, receive, send)

    app.add_middleware(Tag)
    async with asgi_client(app) as client:
        reply = await client.post(
            "/v1/chat/completions",
            json={"model": "gpt-4.1-nano", "messages": [{"role": "user", "content": "x"}]},
            headers={"authorization": "Bearer client-key"},
        )
    assert reply.status_code == 200 and seen == ["/v1/chat/completions"]
