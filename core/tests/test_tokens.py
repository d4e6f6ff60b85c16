"""OAuth credentials under the router: a 401 refreshes once and retries, refresh is
single-flight across instances sharing a state store (rotating refresh tokens are spent
once), and a refreshed credential is usable again at once."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import stat
import threading
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from cliproxy.state import Cooldown, MemoryStore
from cliproxy.state.redis import RedisStore
from cliproxy.testing import FakeUpstream, RecordedRequest, Reply, asgi_client, gateway_app
from cliproxy.tokens import write_token_file

HELPER = Path(__file__).parent / "helpers" / "oauth_gateway.py"
SIMPLE = "openai-chat/aibridge-chat_simple.nonstream.json"
AUTH = {"Authorization": "Bearer client-key"}


def load_helper() -> Any:
    spec = importlib.util.spec_from_file_location("cliproxy_test_oauth_gateway", HELPER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


oauth = load_helper()


class TokenServer:
    """An OAuth token endpoint with rotating refresh tokens (a reused one is rejected),
    and an upstream that accepts only the current access token."""

    def __init__(self, upstream: FakeUpstream, ok: Reply, delay: float = 0.0) -> None:
        self.access = "access-0"
        self.refresh = "refresh-0"
        self.spent: list[str] = []
        self.rejected: list[str] = []
        self.delay = delay
        self.ok = ok
        self._lock = threading.Lock()
        upstream.add("POST", "/oauth/token", self.token)
        upstream.add("POST", "/v1/chat/completions", self.chat)

    def token(self, request: RecordedRequest) -> Reply:
        offered = request.json["refresh_token"]
        with self._lock:
            if offered != self.refresh:
                self.rejected.append(offered)
                return Reply.json({"error": "invalid_grant", "error_description": "refresh token reused"}, status=400)
            self.spent.append(offered)
            n = len(self.spent)
            self.access, self.refresh = f"access-{n}", f"refresh-{n}"
            return Reply.json(
                {"access_token": self.access, "refresh_token": self.refresh, "expires_in": 3600}, delay=self.delay
            )

    def chat(self, request: RecordedRequest) -> Reply:
        if request.headers.get("authorization") != f"Bearer {self.access}":
            return Reply.error(401, "invalid or expired token")
        return self.ok


def token_file(directory: Path, upstream: FakeUpstream | str, *, access: str, refresh: str, expires_at: float) -> Path:
    url = upstream if isinstance(upstream, str) else upstream.url
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "test-oauth-me.json"
    path.write_text(
        json.dumps(
            {
                "type": "test-oauth",
                "account": "me@example.com",
                "access_token": access,
                "refresh_token": refresh,
                "expires_at": expires_at,
                "base_url": url + "/v1",
                "token_url": url + "/oauth/token",
            }
        )
    )
    return path


def config(auth_dir: Path, **core: Any) -> dict[str, Any]:
    return {"api-keys": ["client-key"], "auth-dir": str(auth_dir), **core}


@pytest.fixture
def ok(recording) -> Reply:
    return Reply.json(json.loads(recording(SIMPLE).read_text()))


async def chat(client: Any) -> Any:
    body = {"model": oauth.MODEL, "messages": [{"role": "user", "content": "hi"}]}
    return await client.post("/v1/chat/completions", json=body, headers=AUTH)


async def test_a_401_refreshes_the_token_once_and_retries(upstream, ok, tmp_path):
    server = TokenServer(upstream, ok)
    server.access = "access-rotated-elsewhere"  # the upstream no longer takes our token
    path = token_file(tmp_path, upstream, access="access-0", refresh="refresh-0", expires_at=time.time() + 3600)
    app = gateway_app(config(tmp_path), plugins=[oauth.Plugin()])
    async with asgi_client(app) as client:
        answer = await chat(client)
        status = (await client.get("/v0/status")).json()["credentials"][0]
    assert answer.status_code == 200
    assert server.spent == ["refresh-0"] and server.rejected == []
    assert [r.headers["authorization"] for r in upstream.requests_to("/v1/chat/completions")] == [
        "Bearer access-0",
        "Bearer access-1",
    ]
    assert status["state"] == "ok" and status["token_expires"] is not None
    saved = json.loads(path.read_text())
    assert (saved["access_token"], saved["refresh_token"]) == ("access-1", "refresh-1")
    assert path.stat().st_mode & 0o777 == 0o600


async def test_a_refresh_that_fails_rests_the_credential_with_the_reason(upstream, ok, tmp_path):
    server = TokenServer(upstream, ok)
    server.access = server.refresh = "revoked"
    token_file(tmp_path, upstream, access="access-0", refresh="refresh-0", expires_at=time.time() + 3600)
    app = gateway_app(config(tmp_path), plugins=[oauth.Plugin()])
    async with asgi_client(app) as client:
        answer = await chat(client)
        status = (await client.get("/v0/status")).json()["credentials"][0]
    assert answer.status_code == 401
    assert "could not be refreshed" in answer.json()["error"]["message"]
    assert status["state"] == "unhealthy"
    assert "refresh token reused" in status["unhealthy"]["reason"]


async def test_a_successful_refresh_ends_the_credentials_rest(upstream, ok, tmp_path):
    TokenServer(upstream, ok)
    token_file(tmp_path, upstream, access="stale", refresh="refresh-0", expires_at=time.time() - 10)
    store = MemoryStore()
    app = gateway_app(config(tmp_path), plugins=[oauth.Plugin()], state=store)
    gateway = app.state.gateway
    (cred,) = gateway.credentials
    await store.set_cooldown(cred.id, None, Cooldown(until=time.time() + 1800, reason="unauthorized (401)", status=401))
    async with asgi_client(app) as client:
        await gateway.tokens.refresh(cred)
        answer = await chat(client)
    assert answer.status_code == 200  # not auth_unavailable: the refresh cleared the rest


def two_gateways(tmp_path: Path, upstream: FakeUpstream, state_of: Any) -> list[Any]:
    apps = []
    for name in ("a", "b"):
        directory = tmp_path / name  # each instance has its own copy of the token file
        token_file(directory, upstream, access="access-0", refresh="refresh-0", expires_at=time.time() - 10)
        apps.append(gateway_app(config(directory), plugins=[oauth.Plugin()], state=state_of(name)))
    return apps


async def test_instances_sharing_redis_spend_a_rotating_refresh_token_once(
    upstream, ok, tmp_path, redis_url, redis_prefix
):
    server = TokenServer(upstream, ok, delay=0.2)  # a slow endpoint: both instances ask at once
    apps = two_gateways(tmp_path, upstream, lambda name: RedisStore(redis_url, key_prefix=redis_prefix))
    async with asgi_client(apps[0]) as first, asgi_client(apps[1]) as second:
        answers = await asyncio.gather(chat(first), chat(second), chat(first), chat(second))
    assert [a.status_code for a in answers] == [200] * 4
    assert server.spent == ["refresh-0"] and server.rejected == []
    tokens = [app.state.gateway.tokens.tokens(app.state.gateway.credentials[0]) for app in apps]
    assert {t.access_token for t in tokens} == {"access-1"}
    assert {t.refresh_token for t in tokens} == {"refresh-1"}


async def test_without_a_shared_store_both_instances_would_spend_it(upstream, ok, tmp_path):
    # The counterfactual: separate memory stores cannot coordinate, and the second refresh
    # is rejected -- what the shared lock and published tokens prevent.
    server = TokenServer(upstream, ok, delay=0.2)
    apps = two_gateways(tmp_path, upstream, lambda name: MemoryStore())
    async with asgi_client(apps[0]) as first, asgi_client(apps[1]) as second:
        await asyncio.gather(chat(first), chat(second))
    assert server.spent == ["refresh-0"]
    assert server.rejected and set(server.rejected) == {"refresh-0"}


async def test_an_instance_adopts_newer_shared_tokens_before_refreshing(
    upstream, ok, tmp_path, redis_url, redis_prefix
):
    server = TokenServer(upstream, ok)
    apps = two_gateways(tmp_path, upstream, lambda name: RedisStore(redis_url, key_prefix=redis_prefix))
    a, b = (app.state.gateway for app in apps)
    async with aiohttp.ClientSession() as http:  # no lifespan: no background refresh loop
        a.tokens.session_for = b.tokens.session_for = lambda proxy: (http, proxy)
        cred = a.credentials[0]
        await a.tokens.refresh(cred)  # a spends refresh-0 and publishes access-1/refresh-1
        key = f"tokens:{cred.id}"
        published = oauth.TokenSet.from_bytes(await a.state.get_value(key))
        published.expires_at = time.time() - 1  # ...and time passes: that token is due too
        await a.state.set_value(key, published.to_bytes())
        # b still holds refresh-0, rotated away: it must adopt refresh-1 and spend that
        await b.tokens.refresh(b.credentials[0])
        await a.state.close()
        await b.state.close()
    assert server.spent == ["refresh-0", "refresh-1"] and server.rejected == []
    assert b.tokens.tokens(b.credentials[0]).access_token == "access-2"


class SelfRefreshingProvider(oauth.TestOAuthProvider):
    """A provider that, like cliproxy-claude, refreshes and retries a 401 on its own."""

    async def send(self, call: Any) -> Any:
        try:
            return await super().send(call)
        except oauth.GatewayError as error:
            if error.status != 401:
                raise
        await call.host.tokens.refresh(call.credential, force=True)
        return await super().send(call)


class SelfRefreshingPlugin(oauth.Plugin):
    @oauth.hookimpl
    def register_providers(self, register: Any) -> None:
        register(SelfRefreshingProvider())


async def test_a_provider_that_refreshes_on_its_own_is_not_refreshed_twice(upstream, ok, tmp_path):
    server = TokenServer(upstream, ok)
    upstream.add("POST", "/v1/chat/completions", Reply.error(401, "account suspended"))  # no token helps
    token_file(tmp_path, upstream, access="access-0", refresh="refresh-0", expires_at=time.time() + 3600)
    app = gateway_app(config(tmp_path), plugins=[SelfRefreshingPlugin()])
    async with asgi_client(app) as client:
        answer = await chat(client)
    assert answer.status_code == 401 and "account suspended" in answer.json()["error"]["message"]
    assert server.spent == ["refresh-0"]  # the provider's refresh; the gateway saw the token change
    assert len(upstream.requests_to("/v1/chat/completions")) == 2


class RotatedUnderLoad:
    """An upstream on this loop whose access token was rotated elsewhere: ``requests``
    stale requests arrive together; the first is refused at once, the others only once a
    request with a fresh token came in -- so by then the gateway holds that token, and
    they were sent before it did. The token endpoint issues rotating tokens."""

    def __init__(self, ok: bytes, requests: int) -> None:
        self.ok = ok
        self.access = "access-rotated-elsewhere"
        self.refresh = "refresh-0"
        self.spent: list[str] = []
        self.sent: list[str] = []
        self.stale_count = requests
        self.stale: list[asyncio.Event] = []
        self.all_stale = asyncio.Event()
        self.fresh_seen = asyncio.Event()
        self.url = ""
        self._runner: Any = None

    async def token(self, request: web.Request) -> web.Response:
        offered = (await request.json())["refresh_token"]
        if offered != self.refresh:
            return web.json_response({"error": "invalid_grant"}, status=400)
        self.spent.append(offered)
        n = len(self.spent)
        self.access, self.refresh = f"access-{n}", f"refresh-{n}"
        return web.json_response({"access_token": self.access, "refresh_token": self.refresh, "expires_in": 3600})

    async def chat(self, request: web.Request) -> web.Response:
        await request.read()
        sent = request.headers.get("authorization", "").removeprefix("Bearer ")
        self.sent.append(sent)
        if sent == self.access:
            self.fresh_seen.set()
            return web.Response(body=self.ok, content_type="application/json")
        first = not self.stale
        self.stale.append(asyncio.Event())
        if len(self.stale) == self.stale_count:
            self.all_stale.set()
        await asyncio.wait_for(self.all_stale.wait(), 10)
        if not first:
            await asyncio.wait_for(self.fresh_seen.wait(), 10)
        return web.json_response({"error": {"message": "invalid or expired token"}}, status=401)

    async def __aenter__(self) -> RotatedUnderLoad:
        app = web.Application()
        app.router.add_post("/oauth/token", self.token)
        app.router.add_post("/v1/chat/completions", self.chat)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._runner.cleanup()


async def test_requests_refused_while_another_refreshed_retry_with_the_new_token(recording, tmp_path):
    """Several requests meet a 401 at once; one refreshes the token. The others, whose
    token changed during their attempt, try once more with the new one -- no second
    refresh -- instead of resting the credential for every client."""
    requests = 4
    async with RotatedUnderLoad(recording(SIMPLE).read_bytes(), requests) as server:
        token_file(tmp_path, server.url, access="access-0", refresh="refresh-0", expires_at=time.time() + 3600)
        app = gateway_app(config(tmp_path), plugins=[oauth.Plugin()])
        async with asgi_client(app) as client:
            answers = await asyncio.gather(*(chat(client) for _ in range(requests)))
            status = (await client.get("/v0/status")).json()["credentials"][0]
    assert [a.status_code for a in answers] == [200] * requests, [a.text for a in answers]
    assert server.spent == ["refresh-0"]  # one refresh: the others used the token it brought
    assert sorted(server.sent) == ["access-0"] * requests + ["access-1"] * requests
    assert status["state"] == "ok" and not status["cooldowns"], status


# -- write_token_file --------------------------------------------------------------------------


def test_a_token_file_in_a_shared_directory_leaves_its_mode_alone(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)  # like /tmp: world-writable, sticky
    write_token_file(shared / "me.json", {"type": "demo"})
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777
    assert stat.S_IMODE((shared / "me.json").stat().st_mode) == 0o600


def test_directories_the_gateway_creates_are_private(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    old = os.umask(0o022)
    try:
        write_token_file(shared / "a" / "b" / "me.json", {"type": "demo"})
    finally:
        os.umask(old)
    assert stat.S_IMODE((shared / "a").stat().st_mode) == 0o700
    assert stat.S_IMODE((shared / "a" / "b").stat().st_mode) == 0o700
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777
    assert json.loads((shared / "a" / "b" / "me.json").read_text()) == {"type": "demo"}
