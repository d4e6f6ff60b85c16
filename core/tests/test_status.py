"""GET /v0/status, POST /v0/status/reset and `cliproxy status`: what an operator sees
and does when 'a provider appears unhealthy'."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import cliproxy_openai
import httpx
import pytest
from cliproxy import mask_secret
from cliproxy.cli import main
from cliproxy.state import MemoryStore
from cliproxy.testing import FakeUpstream, RecordedRequest, Reply, asgi_client, gateway_app, serve_app

AUTH = {"Authorization": "Bearer client-key"}
ALPHA = "sk-test-alpha-0000000000001"
BETA = "sk-test-beta-0000000000002"
SIMPLE = "openai-chat/aibridge-chat_simple.nonstream.json"


def cfg(upstream: FakeUpstream, **core: Any) -> dict[str, Any]:
    return {
        "api-keys": ["client-key"],
        "routing": {"strategy": "fill-first"},
        "openai-compatibility": [
            {
                "name": "team",
                "prefix": "team",
                "base-url": upstream.url + "/v1",
                "api-key-entries": [{"api-key": ALPHA}, {"api-key": BETA}],
                "models": [{"name": "gpt-4.1-nano", "alias": "nano"}],
            }
        ],
        **core,
    }


def alpha_fails(reply: Reply, ok: Reply):  # type: ignore[no-untyped-def]
    def handler(request: RecordedRequest) -> Reply:
        return reply if request.headers["authorization"] == f"Bearer {ALPHA}" else ok

    return handler


@pytest.fixture
def ok(recording) -> Reply:
    return Reply.json(json.loads(recording(SIMPLE).read_text()))


async def chat(client: httpx.AsyncClient, model: str = "nano") -> httpx.Response:
    return await client.post(
        "/v1/chat/completions", json={"model": model, "messages": [{"role": "user", "content": "hi"}]}, headers=AUTH
    )


async def test_status_shows_health_cooldowns_counts_and_last_error(upstream, ok, clock):
    upstream.add("POST", "/v1/chat/completions", alpha_fails(Reply.error(401, "Incorrect API key provided"), ok))
    app = gateway_app(cfg(upstream), plugins=[cliproxy_openai])
    clock.install(app)
    async with asgi_client(app) as client:
        assert (await chat(client)).status_code == 200
        assert (await chat(client)).status_code == 200
        clock.advance(60)
        answer = await client.get("/v0/status")
    assert answer.status_code == 200
    assert ALPHA not in answer.text and BETA not in answer.text  # secrets never shown
    doc = answer.json()
    assert doc["state_store"] == {"backend": "memory", "shared": False, "healthy": True}
    alpha, beta = doc["credentials"]
    assert alpha["label"] == f"team {mask_secret(ALPHA)}" and alpha["prefix"] == "team"
    assert alpha["provider"] == "openai-compatibility" and alpha["group"] == "openai-compatibility/team"
    assert alpha["state"] == "unhealthy"
    assert alpha["unhealthy"]["seconds_left"] == 1800 - 60
    assert alpha["unhealthy"]["reason"] == "Incorrect API key provided (401)"
    assert alpha["unhealthy"]["status"] == 401
    assert alpha["unhealthy"]["until"].endswith("Z")
    assert (alpha["requests"], alpha["failures"]) == (1, 1)
    assert alpha["last_error"]["message"] == "Incorrect API key provided (401)"
    assert beta["state"] == "ok" and beta["unhealthy"] is None and beta["cooldowns"] == {}
    assert (beta["requests"], beta["failures"], beta["last_error"]) == (2, 0, None)


async def test_model_cooldowns_are_listed_per_model(upstream, ok, clock):
    upstream.add(
        "POST", "/v1/chat/completions", alpha_fails(Reply.error(429, "slow", headers={"Retry-After": "90"}), ok)
    )
    app = gateway_app(cfg(upstream), plugins=[cliproxy_openai])
    clock.install(app)
    async with asgi_client(app) as client:
        await chat(client)
        alpha = (await client.get("/v0/status")).json()["credentials"][0]
    assert alpha["state"] == "cooling"
    assert alpha["cooldowns"]["gpt-4.1-nano"]["seconds_left"] == 90
    assert alpha["cooldowns"]["gpt-4.1-nano"]["reason"] == "slow (429)"


async def test_remote_access_needs_the_management_key(upstream):
    app = gateway_app(cfg(upstream), plugins=[cliproxy_openai])
    async with asgi_client(app, host="203.0.113.7") as client:
        refused = await client.get("/v0/status")
        reset = await client.post("/v0/status/reset", json={"credential": "all"})
    assert refused.status_code == 403 and "secret-key" in refused.json()["error"]["message"]
    assert reset.status_code == 403

    app = gateway_app(cfg(upstream, **{"remote-management": {"secret-key": "mgmt-secret"}}), plugins=[cliproxy_openai])
    async with asgi_client(app, host="203.0.113.7") as client:
        missing = await client.get("/v0/status")
        wrong = await client.get("/v0/status", headers={"Authorization": "Bearer not-it"})
        bearer = await client.get("/v0/status", headers={"Authorization": "Bearer mgmt-secret"})
        header = await client.get("/v0/status", headers={"X-Management-Key": "mgmt-secret"})
        client_key = await client.get("/v0/status", headers=AUTH)  # an API key is not the management key
    assert (missing.status_code, wrong.status_code, client_key.status_code) == (401, 401, 401)
    assert "missing management key" in missing.json()["error"]["message"]
    assert bearer.status_code == 200 and header.status_code == 200


async def test_loopback_is_open_unless_the_request_was_forwarded(upstream):
    app = gateway_app(cfg(upstream), plugins=[cliproxy_openai])
    async with asgi_client(app, host="::1") as client:
        assert (await client.get("/v0/status")).status_code == 200
        forwarded = await client.get("/v0/status", headers={"X-Forwarded-For": "198.51.100.4"})
    assert forwarded.status_code == 403  # a reverse proxy on this machine is not "local"


async def test_reset_ends_a_stale_cooldown_on_demand(upstream, ok, clock):
    three_days = str(3 * 86400)
    upstream.add(
        "POST", "/v1/chat/completions", alpha_fails(Reply.error(429, "quota", headers={"Retry-After": three_days}), ok)
    )
    app = gateway_app(cfg(upstream), plugins=[cliproxy_openai])
    clock.install(app)
    async with asgi_client(app) as client:
        await chat(client)
        await chat(client)
        assert [r.headers["authorization"] for r in upstream.requests][-1] == f"Bearer {BETA}"
        upstream.add("POST", "/v1/chat/completions", ok)  # the quota reset early upstream
        label = f"team {mask_secret(ALPHA)}"
        done = await client.post("/v0/status/reset", json={"credential": label})
        after = await chat(client)
        doc = (await client.get("/v0/status")).json()
        unknown = await client.post("/v0/status/reset", json={"credential": "nope"})
        malformed = await client.post("/v0/status/reset", content=b"{", headers={"Content-Type": "application/json"})
        missing = await client.post("/v0/status/reset", json={"model": "nano"})
    assert done.status_code == 200 and done.json()["cleared"] == 1
    assert after.status_code == 200
    assert upstream.requests[-1].headers["authorization"] == f"Bearer {ALPHA}"
    assert doc["credentials"][0]["state"] == "ok"
    assert unknown.status_code == 404 and label in unknown.json()["error"]["message"]
    assert malformed.status_code == 400 and missing.status_code == 400


async def test_reset_one_model_or_everything(upstream, ok, clock):
    upstream.add("POST", "/v1/chat/completions", Reply.error(503, "down"))
    app = gateway_app(cfg(upstream), plugins=[cliproxy_openai])
    clock.install(app)
    async with asgi_client(app) as client:
        await chat(client)
        doc = (await client.get("/v0/status")).json()
        assert [c["state"] for c in doc["credentials"]] == ["cooling", "cooling"]
        alpha_id = doc["credentials"][0]["id"]
        one = await client.post("/v0/status/reset", json={"credential": alpha_id, "model": "gpt-4.1-nano"})
        doc = (await client.get("/v0/status")).json()
        assert [c["state"] for c in doc["credentials"]] == ["ok", "cooling"]
        everything = await client.post("/v0/status/reset", json={"credential": "all"})
        doc = (await client.get("/v0/status")).json()
    assert one.json()["cleared"] == 1 and everything.json()["cleared"] == 1
    assert [c["state"] for c in doc["credentials"]] == ["ok", "ok"]


def test_cli_status_prints_what_the_endpoint_serves(upstream, ok, capsys):
    upstream.add("POST", "/v1/chat/completions", alpha_fails(Reply.error(403, "key disabled"), ok))
    app = gateway_app(cfg(upstream), plugins=[cliproxy_openai])
    with serve_app(app) as url:
        httpx.post(
            url + "/v1/chat/completions",
            json={"model": "nano", "messages": [{"role": "user", "content": "x"}]},
            headers=AUTH,
        )
        assert main(["status", "--url", url, "--json"]) == 0
        printed = json.loads(capsys.readouterr().out)
        served = httpx.get(url + "/v0/status").json()
        assert main(["status", "--url", url]) == 0
        table = capsys.readouterr().out
        assert main(["status", "--url", url, "--reset", "all"]) == 0
        reset = capsys.readouterr().out
        after = httpx.get(url + "/v0/status").json()
    printed.pop("time"), served.pop("time")
    for doc in (printed, served):
        for cred in doc["credentials"]:
            if cred["unhealthy"]:
                cred["unhealthy"].pop("seconds_left")  # real time moved between the two reads
    assert printed == served
    assert f"team {mask_secret(ALPHA)}" in table and "unhealthy" in table and "key disabled (403)" in table
    assert ALPHA not in table
    assert reset.strip() == "cleared 1 cooldown(s) of 2 credential(s)"
    assert [c["state"] for c in after["credentials"]] == ["ok", "ok"]


def test_cli_status_explains_an_unreachable_gateway(capsys):
    assert main(["status", "--url", "http://127.0.0.1:1"]) == 1
    err = capsys.readouterr().err
    assert "could not reach" in err and "cliproxy serve" in err


class SlowStore(MemoryStore):
    """A store whose writes take a network round trip's time."""

    async def set_cooldown(self, *args: Any, **kwargs: Any) -> None:
        await asyncio.sleep(0.02)
        await super().set_cooldown(*args, **kwargs)

    async def add_usage(self, *args: Any, **kwargs: Any) -> None:
        await asyncio.sleep(0.02)
        await super().add_usage(*args, **kwargs)


@pytest.mark.parametrize("stream", [True, False])
async def test_accounting_is_not_cancelled_by_the_end_of_response_disconnect(upstream, recording, stream):
    # ASGI servers report a disconnect as soon as the last byte is out, and the door then
    # cancels its task; the request must still be counted and the failed credential rested.
    if stream:
        reply = Reply.sse_file(recording("openai-chat/aibridge-chat_stream_error.stream.sse.txt"))
    else:
        reply = Reply.json(json.loads(recording(SIMPLE).read_text()))
    upstream.add("POST", "/v1/chat/completions", reply)
    store = SlowStore()
    app = gateway_app(cfg(upstream), plugins=[cliproxy_openai], state=store)
    async with asgi_client(app) as client:
        answer = await client.post(
            "/v1/chat/completions",
            json={"model": "nano", "stream": stream, "messages": [{"role": "user", "content": "x"}]},
            headers=AUTH,
        )
        assert answer.status_code == 200
        for _ in range(100):  # the accounting finishes after the response
            if await store.usage():
                break
            await asyncio.sleep(0.01)
    (alpha,) = (await store.usage()).values()
    assert alpha["gpt-4.1-nano"].requests == 1
    assert alpha["gpt-4.1-nano"].failures == (1 if stream else 0)
    assert bool(await store.cooldowns()) is stream


@pytest.mark.parametrize("backend", ["memory", "redis"])
def test_accounting_survives_the_servers_end_of_response_disconnect(
    upstream, recording, backend, redis_url, redis_prefix
):
    # Servers tell the app the client is gone right after the last byte; counting the
    # request (and resting a failed credential) must still happen, also when the state
    # store answers over the network.
    upstream.add(
        "POST",
        "/v1/chat/completions",
        Reply.sse_file(recording("openai-chat/aibridge-chat_stream_error.stream.sse.txt")),
    )
    state = {"backend": backend, "url": redis_url, "key-prefix": redis_prefix} if backend == "redis" else {}
    app = gateway_app(cfg(upstream, state=state), plugins=[cliproxy_openai])
    with serve_app(app) as url:
        with httpx.stream(
            "POST",
            url + "/v1/chat/completions",
            json={"model": "nano", "stream": True, "messages": [{"role": "user", "content": "x"}]},
            headers=AUTH,
        ) as response:
            body = response.read().decode()
        assert '"error"' in body
        for _ in range(200):
            alpha = httpx.get(url + "/v0/status").json()["credentials"][0]
            if alpha["requests"]:
                break
        assert (alpha["requests"], alpha["failures"], alpha["state"]) == (1, 1, "cooling")


def test_the_text_shows_each_credentials_quota():
    from cliproxy.status import render_text

    credential = {
        "label": "plus@example.com",
        "provider": "codex",
        "state": "ok",
        "requests": 3,
        "failures": 0,
        "quota": {
            "plan": "plus",
            "note": "credits: 5.39",
            "checked_at": "2026-12-06T10:00:00Z",
            "windows": [
                {"name": "5h", "used_percent": 83.0, "resets_at": "2026-12-06T14:20:00Z", "unit": "%"},
                {"name": "premium_interactions", "used": 120, "limit": 300, "unit": "requests"},
                {"name": "balance", "remaining": 4.5, "unit": "USD"},
            ],
        },
    }
    text = render_text({"state_store": {"backend": "memory"}, "credentials": [credential]})
    assert (
        "    quota (plus): 5h: 83% used, resets 2026-12-06 14:20Z; premium_interactions: 120 of 300 requests used; "
        "balance: 4.5 USD left; credits: 5.39"
    ) in text.splitlines()
