"""Session affinity: a client session stays on the credential that served it.

Two (or three) keys of one OpenAI-compatible entry form a round-robin pool in front of a
scripted fake upstream; the gateway runs in-process on a hand-moved clock, and which key
the upstream saw tells which credential served each request.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import cliproxy_openai
import httpx
import pytest
from cliproxy.affinity import Affinity, session_value
from cliproxy.app import gateway_of
from cliproxy.client import ClientIdentity, ClientRequest
from cliproxy.credentials import Credential
from cliproxy.routing import Candidate
from cliproxy.selection import _pinned_first
from cliproxy.state import MemoryStore
from cliproxy.status import render_text
from cliproxy.testing import (
    FakeClock,
    FakeUpstream,
    RecordedRequest,
    Reply,
    asgi_client,
    gateway_app,
)

CHAT = "/v1/chat/completions"
SIMPLE = "openai-chat/aibridge-chat_simple.nonstream.json"
KEYS = ("sk-aaaa", "sk-bbbb", "sk-cccc")


def entry(upstream: FakeUpstream, *keys: str, name: str = "pool", **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "base-url": upstream.url + "/v1",
        "api-key-entries": [{"api-key": k} for k in keys],
        "models": [{"name": "gpt-4.1-nano", "alias": "nano"}],
        **fields,
    }


def config(*entries: dict[str, Any], affinity: bool = True, ttl: float = 3600, **core: Any) -> dict[str, Any]:
    routing: dict[str, Any] = {"strategy": "round-robin"}
    if affinity:
        routing.update({"session-affinity": True, "session-ttl": ttl})
    return {
        "api-keys": ["client-key", "other-client-key"],
        "request-retry": 0,
        "routing": routing,
        "openai-compatibility": list(entries),
        **core,
    }


def keys_used(upstream: FakeUpstream) -> list[str]:
    return [r.headers["authorization"].removeprefix("Bearer ") for r in upstream.requests_to(CHAT)]


def by_key(replies: dict[str, list[Reply]], default: Reply) -> Callable[[RecordedRequest], Reply]:
    """Answer per upstream key, each list in turn (its last reply repeats)."""

    def handler(request: RecordedRequest) -> Reply:
        queue = replies.get(request.headers.get("authorization", "").removeprefix("Bearer "))
        if not queue:
            return default
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return handler


@pytest.fixture
def ok(recording) -> Reply:
    return Reply.json(json.loads(recording(SIMPLE).read_text()))


class Gateway:
    """An in-process gateway on a fake clock, and an httpx client to it."""

    def __init__(self, cfg: dict[str, Any], clock: FakeClock) -> None:
        self.app = gateway_app(cfg, plugins=[cliproxy_openai])
        clock.install(self.app)
        self._ctx: Any = None
        self.client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> Gateway:
        self._ctx = asgi_client(self.app)
        self.client = await self._ctx.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._ctx.__aexit__(*exc)

    async def chat(
        self,
        session: str | None = None,
        *,
        key: str = "client-key",
        model: str = "nano",
        **body: Any,
    ) -> httpx.Response:
        assert self.client is not None
        headers = {"Authorization": f"Bearer {key}"}
        if session is not None:
            headers["x-session-id"] = session
        payload = {"model": model, "messages": [{"role": "user", "content": "hi"}], **body}
        return await self.client.post(CHAT, json=payload, headers=headers)


# -- the session key -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        ({"x-session-id": "h1", "session_id": "h2"}, {"prompt_cache_key": "p"}, "h1"),
        ({"session_id": "codex-session"}, {"prompt_cache_key": "p"}, "codex-session"),
        ({"conversation_id": "codex-conv"}, {}, "codex-conv"),
        ({}, {"prompt_cache_key": "p", "metadata": {"user_id": "u"}}, "p"),
        (
            {},
            {"metadata": {"user_id": "user_x_account_y_session_z"}, "session_id": "g"},
            "user_x_account_y_session_z",
        ),
        ({}, {"session_id": "gemini-session"}, "gemini-session"),
        ({}, {"request": {"session_id": "gemini-cli"}}, "gemini-cli"),
        ({"x-session-id": ""}, {"prompt_cache_key": 7, "metadata": {"user_id": None}}, None),
        ({}, {"metadata": "not a mapping", "request": []}, None),
        ({}, {"messages": [{"role": "user", "content": "hi"}]}, None),
    ],
)
def test_session_value_first_found_wins(headers, body, expected):
    assert session_value(headers, body) == expected


def test_session_key_separates_clients_and_models():
    affinity = Affinity(MemoryStore(), ttl=60)

    def key(who: str, model: str, session: str) -> str | None:
        request = ClientRequest(
            wire="openai-chat",
            translator=None,  # type: ignore[arg-type]
            body={"prompt_cache_key": session},
            raw=b"",
            model=model,
            stream=False,
            identity=ClientIdentity(who),
        )
        return affinity.key(request)

    first = key("key-1", "nano", "secret-session")
    assert first is not None and first == key("key-1", "nano", "secret-session")
    assert "secret-session" not in first
    others = {
        key("key-2", "nano", "secret-session"),
        key("key-1", "mini", "secret-session"),
    }
    assert first not in others and len(others) == 2


# -- sticking, spreading, failing over -------------------------------------------------------


async def test_a_session_sticks_while_keyless_requests_alternate(upstream, ok, clock):
    upstream.add("POST", CHAT, ok)
    async with Gateway(config(entry(upstream, *KEYS[:2])), clock) as gw:
        for _ in range(3):
            assert (await gw.chat("session-1")).status_code == 200
            assert (await gw.chat()).status_code == 200
    used = keys_used(upstream)
    session, keyless = used[0::2], used[1::2]
    assert len(set(session)) == 1
    assert keyless in (["sk-aaaa", "sk-bbbb", "sk-aaaa"], ["sk-bbbb", "sk-aaaa", "sk-bbbb"])


async def test_without_affinity_a_session_alternates(upstream, ok, clock):
    upstream.add("POST", CHAT, ok)
    async with Gateway(config(entry(upstream, *KEYS[:2]), affinity=False), clock) as gw:
        assert gateway_of(gw.app).selector.affinity is None
        for _ in range(4):
            assert (await gw.chat("session-1")).status_code == 200
    assert keys_used(upstream) == ["sk-aaaa", "sk-bbbb", "sk-aaaa", "sk-bbbb"]


async def test_sessions_spread_and_each_keeps_its_credential(upstream, ok, clock):
    upstream.add("POST", CHAT, ok)
    async with Gateway(config(entry(upstream, *KEYS)), clock) as gw:
        for session in ("s1", "s2", "s3"):
            await gw.chat(session)
        for session in ("s3", "s1", "s2", "s1"):
            await gw.chat(session)
    used = keys_used(upstream)
    first = dict(zip(("s1", "s2", "s3"), used[:3], strict=True))
    assert sorted(first.values()) == sorted(KEYS)
    assert used[3:] == [first["s3"], first["s1"], first["s2"], first["s1"]]


async def test_the_same_session_id_from_another_client_is_another_session(upstream, ok, clock):
    upstream.add("POST", CHAT, ok)
    async with Gateway(config(entry(upstream, *KEYS[:2])), clock) as gw:
        await gw.chat("shared-id")
        await gw.chat("shared-id", key="other-client-key")
        await gw.chat("shared-id")
        await gw.chat("shared-id", key="other-client-key")
    used = keys_used(upstream)
    assert used[0] != used[1] and used[2] == used[0] and used[3] == used[1]


async def test_a_429_fails_the_session_over_and_it_stays_on_the_new_credential(upstream, ok, clock):
    limited = Reply.json({"error": {"message": "Rate limit reached"}}, status=429, headers={"retry-after": "20"})
    replies = {"sk-aaaa": [ok, limited, ok]}
    upstream.add("POST", CHAT, by_key(replies, ok))
    async with Gateway(config(entry(upstream, *KEYS[:2])), clock) as gw:
        assert (await gw.chat("s")).status_code == 200  # a: the first in rotation
        assert (await gw.chat("s")).status_code == 200  # a answers 429; b answers
        clock.advance(60)  # a's rest is over
        for _ in range(3):
            assert (await gw.chat("s")).status_code == 200
    assert keys_used(upstream) == ["sk-aaaa", "sk-aaaa", "sk-bbbb", "sk-bbbb", "sk-bbbb", "sk-bbbb"]


async def test_priority_beats_a_remembered_credential(upstream, ok, clock):
    limited = Reply.json({"error": {"message": "Rate limit reached"}}, status=429, headers={"retry-after": "20"})
    replies = {"sk-aaaa": [limited, ok], "sk-bbbb": [limited, ok]}
    upstream.add("POST", CHAT, by_key(replies, ok))
    primary = entry(upstream, *KEYS[:2], name="primary", priority=10)
    fallback = entry(upstream, KEYS[2], name="fallback")
    async with Gateway(config(primary, fallback), clock) as gw:
        assert (await gw.chat("s")).status_code == 200  # both primaries 429: the fallback answers
        assert (await gw.chat("s")).status_code == 200  # primaries rest: the fallback again
        clock.advance(60)
        assert (await gw.chat("s")).status_code == 200  # a primary is back: it wins
        assert (await gw.chat("s")).status_code == 200  # ... and keeps the session
    used = keys_used(upstream)
    assert used[:4] == ["sk-aaaa", "sk-bbbb", "sk-cccc", "sk-cccc"]
    assert used[4] in KEYS[:2] and used[5] == used[4]


# -- time to live, writes --------------------------------------------------------------------


async def test_the_session_is_forgotten_after_its_ttl_and_kept_while_used(upstream, ok, clock):
    upstream.add("POST", CHAT, ok)
    async with Gateway(config(entry(upstream, *KEYS[:2]), ttl=100), clock) as gw:
        await gw.chat()  # a; the session starts on b
        await gw.chat("s")
        clock.advance(60)
        await gw.chat("s")  # b again; refreshed (less than half its time left)
        clock.advance(60)  # 120 s after the session started, 60 s after the refresh
        await gw.chat("s")
        clock.advance(101)  # unused for longer than the ttl: forgotten
        await gw.chat("s")  # rotation: a
    assert keys_used(upstream) == ["sk-aaaa", "sk-bbbb", "sk-bbbb", "sk-bbbb", "sk-aaaa"]


async def test_one_read_per_request_and_a_write_only_when_needed(upstream, ok, clock):
    upstream.add("POST", CHAT, ok)
    async with Gateway(config(entry(upstream, *KEYS[:2]), ttl=100), clock) as gw:
        state = gateway_of(gw.app).state
        calls: list[str] = []
        real_get, real_set = state.get_value, state.set_value

        async def get_value(key: str) -> bytes | None:
            calls.append("get")
            return await real_get(key)

        async def set_value(key: str, value: bytes, ttl: float | None = None) -> None:
            calls.append("set")
            await real_set(key, value, ttl)

        state.get_value, state.set_value = get_value, set_value
        await gw.chat("s")  # new: read, write
        await gw.chat("s")  # remembered, fresh: read only
        clock.advance(30)
        await gw.chat("s")  # 70 s left of 100: read only
        clock.advance(30)
        await gw.chat("s")  # 40 s left: read, write
        await gw.chat()  # no session: nothing
    assert calls == ["get", "set", "get", "get", "get", "set"]


async def test_single_credential_pools_skip_affinity(upstream, ok, clock):
    upstream.add("POST", CHAT, ok)
    async with Gateway(config(entry(upstream, KEYS[0])), clock) as gw:
        state = gateway_of(gw.app).state
        touched: list[str] = []
        real_get = state.get_value

        async def get_value(key: str) -> bytes | None:
            touched.append(key)
            return await real_get(key)

        state.get_value = get_value
        assert (await gw.chat("s")).status_code == 200
    assert touched == []


async def test_fill_first_keeps_a_session_where_it_failed_over(upstream, ok, clock):
    limited = Reply.json({"error": {"message": "Rate limit reached"}}, status=429, headers={"retry-after": "20"})
    upstream.add("POST", CHAT, by_key({"sk-aaaa": [limited, ok]}, ok))
    cfg = config(entry(upstream, *KEYS[:2]))
    cfg["routing"]["strategy"] = "fill-first"
    async with Gateway(cfg, clock) as gw:
        await gw.chat("s")  # a 429s: b answers and keeps the session
        clock.advance(60)
        await gw.chat("s")
        await gw.chat()  # keyless requests fill the first credential again
    assert keys_used(upstream) == ["sk-aaaa", "sk-bbbb", "sk-bbbb", "sk-aaaa"]


# -- shared through Redis --------------------------------------------------------------------


async def test_two_instances_sharing_redis_keep_a_session_together(upstream, ok, clock, redis_url, redis_prefix):
    upstream.add("POST", CHAT, ok)
    cfg = config(
        entry(upstream, *KEYS[:2]),
        state={"backend": "redis", "url": redis_url, "key-prefix": redis_prefix, "timeout": 5},
    )
    async with Gateway(cfg, clock) as one, Gateway(cfg, clock) as two:
        assert gateway_of(one.app).state.describe()["shared"]
        for _ in range(2):
            assert (await one.chat("s")).status_code == 200
            assert (await two.chat("s")).status_code == 200
        assert (await two.chat("t")).status_code == 200  # a new session: the next in rotation
        assert (await one.chat("t")).status_code == 200
    used = keys_used(upstream)
    assert len(set(used[:4])) == 1
    assert used[4] == used[5] != used[0]


# -- status ----------------------------------------------------------------------------------


async def test_status_shows_the_routing_setting(upstream, clock):
    async with Gateway(config(entry(upstream, *KEYS[:2]), ttl=600), clock) as gw:
        assert gw.client is not None
        doc = (await gw.client.get("/v0/status")).json()
    assert doc["routing"] == {
        "strategy": "round-robin",
        "session_affinity": True,
        "session_ttl": 600.0,
    }
    assert "routing: round-robin, session affinity for 600s" in render_text(doc)
    async with Gateway(config(entry(upstream, *KEYS[:2]), affinity=False), clock) as gw:
        assert gw.client is not None
        doc = (await gw.client.get("/v0/status")).json()
    assert doc["routing"] == {
        "strategy": "round-robin",
        "session_affinity": False,
        "session_ttl": None,
    }
    assert "routing: round-robin\n" in render_text(doc)


def test_the_fallbacks_behind_a_pin_spread_by_session():
    cands = [Candidate(Credential(id=f"c{i}", provider="p", label=f"c{i}"), "m") for i in range(4)]
    assert [c.credential.id for c in _pinned_first(cands, "c2") or ()] == ["c2", "c0", "c1", "c3"]
    orders = {tuple(c.credential.id for c in _pinned_first(cands, "c2", n) or ()) for n in range(3)}
    assert orders == {("c2", "c0", "c1", "c3"), ("c2", "c1", "c3", "c0"), ("c2", "c3", "c0", "c1")}
    lower = Candidate(Credential(id="low", provider="p", label="low", priority=-1), "m")
    assert _pinned_first([*cands[:2], lower], "low") is None  # never above a higher priority
