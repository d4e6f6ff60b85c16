"""A refresh token that can never work again (``SIGN_IN_AGAIN``): it is offered once, on
one instance; the credential rests until a new sign-in replaces it, and then at once."""

from __future__ import annotations

import importlib.util
import json
import threading
import time
from pathlib import Path
from typing import Any

import aiohttp
from cliproxy import SIGN_IN_AGAIN, GatewayError, TokenSet, reload_app
from cliproxy.state import MemoryStore
from cliproxy.state.redis import RedisStore
from cliproxy.testing import FakeUpstream, RecordedRequest, Reply, asgi_client, gateway_app

HELPER = Path(__file__).parent / "helpers" / "oauth_gateway.py"
AUTH = {"Authorization": "Bearer client-key"}


def _helper() -> Any:
    spec = importlib.util.spec_from_file_location("cliproxy_test_oauth_gateway_signout", HELPER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


oauth = _helper()


class SigningOutAuth(oauth.TestOAuth):
    """Says a refused refresh token is dead for good, as Codex's ``refresh_token_reused``."""

    async def refresh(self, tokens: TokenSet, http: aiohttp.ClientSession, proxy: str | None) -> TokenSet:
        try:
            return await super().refresh(tokens, http, proxy)
        except GatewayError as error:
            raise GatewayError.from_status(401, error.message + "; sign in again", code=SIGN_IN_AGAIN) from None


class Plugin(oauth.Plugin):
    @oauth.hookimpl
    def register_auth_types(self, register: Any) -> None:
        register(SigningOutAuth())


class TokenEndpoint:
    """Knows one live refresh token; every other is refused."""

    def __init__(self, upstream: FakeUpstream, ok: Reply) -> None:
        self.live = "refresh-live"
        self.offered: list[str] = []
        self._lock = threading.Lock()
        self.ok = ok
        upstream.add("POST", "/oauth/token", self.token)
        upstream.add("POST", "/v1/chat/completions", self.chat)

    def token(self, request: RecordedRequest) -> Reply:
        offered = request.json["refresh_token"]
        with self._lock:
            self.offered.append(offered)
            if offered != self.live:
                return Reply.json({"error": "invalid_grant", "error_description": "refresh token reused"}, status=400)
            self.live = "refresh-next"
        return Reply.json({"access_token": "access-fresh", "refresh_token": "refresh-next", "expires_in": 3600})

    def chat(self, request: RecordedRequest) -> Reply:
        if request.headers.get("authorization") in ("Bearer access-fresh", "Bearer access-new-login"):
            return self.ok
        return Reply.error(401, "invalid or expired token")


def write_token(directory: Path, upstream: FakeUpstream, *, access: str, refresh: str, expires_at: float) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    content = {
        "type": "test-oauth",
        "account": "me@example.com",
        "access_token": access,
        "refresh_token": refresh,
        "expires_at": expires_at,
        "base_url": upstream.url + "/v1",
        "token_url": upstream.url + "/oauth/token",
    }
    (directory / "test-oauth-me.json").write_text(json.dumps(content))


def app_for(directory: Path, state: Any) -> Any:
    config = {"api-keys": ["client-key"], "auth-dir": str(directory), "watch-config": False}
    return gateway_app(config, plugins=[Plugin()], state=state)


async def chat(client: Any) -> Any:
    body = {"model": oauth.MODEL, "messages": [{"role": "user", "content": "hi"}]}
    return await client.post("/v1/chat/completions", json=body, headers=AUTH)


async def test_a_dead_refresh_token_is_offered_once_and_rests_the_credential_until_a_new_sign_in(
    upstream, tmp_path, recording
):
    ok = Reply.json(json.loads(recording("openai-chat/aibridge-chat_simple.nonstream.json").read_text()))
    endpoint = TokenEndpoint(upstream, ok)
    write_token(tmp_path, upstream, access="access-old", refresh="refresh-dead", expires_at=time.time() - 10)
    app = app_for(tmp_path, MemoryStore())
    gateway = app.state.gateway
    async with asgi_client(app) as client:
        first = await chat(client)
        for _ in range(3):  # the background loop's rounds: none offers the token again
            await gateway.tokens.refresh_due()
        second = await chat(client)
        status = (await client.get("/v0/status")).json()["credentials"][0]
        assert endpoint.offered == ["refresh-dead"]
        assert first.status_code in (401, 429) and second.status_code in (401, 429)
        assert status["state"] == "unhealthy" and "sign in again" in status["unhealthy"]["reason"]
        assert status["unhealthy"]["seconds_left"] > 6 * 86400

        # a new sign-in writes the token file afresh: the rest ends, requests are served
        write_token(
            tmp_path, upstream, access="access-new-login", refresh="refresh-live", expires_at=time.time() + 3600
        )
        await reload_app(app)
        await gateway.tokens.refresh_due()
        third = await chat(client)
        status = (await client.get("/v0/status")).json()["credentials"][0]
    assert third.status_code == 200 and status["state"] == "ok"
    assert endpoint.offered == ["refresh-dead"]


async def test_another_instance_never_offers_a_token_found_dead(upstream, tmp_path, recording, redis_url, redis_prefix):
    ok = Reply.json(json.loads(recording("openai-chat/aibridge-chat_simple.nonstream.json").read_text()))
    endpoint = TokenEndpoint(upstream, ok)
    apps = []
    for name in ("a", "b"):
        write_token(tmp_path / name, upstream, access="access-old", refresh="refresh-dead", expires_at=time.time() - 10)
        apps.append(app_for(tmp_path / name, RedisStore(redis_url, key_prefix=redis_prefix)))
    async with asgi_client(apps[0]) as first, asgi_client(apps[1]) as second:
        await chat(first)
        await apps[1].state.gateway.tokens.refresh_due()
        answer = await chat(second)
        for app in apps:
            await app.state.gateway.tokens.refresh_due()
    assert endpoint.offered == ["refresh-dead"]
    assert answer.status_code in (401, 429)
