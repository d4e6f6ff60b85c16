"""ChatGPT sign-ins served from token files: the account's headers, refresh with rotation
(ahead of expiry, after a 401), one refresh for two instances sharing Redis, and a
refresh token refused for good resting the account with "sign in again" -- never offered
again -- until a new sign-in."""

from __future__ import annotations

import asyncio
import json
import stat
import time
from pathlib import Path
from typing import Any

import cliproxy_codex
from cliproxy import reload_app, write_token_file
from cliproxy.app import gateway_of
from cliproxy.state.redis import RedisStore
from cliproxy.testing import asgi_client, gateway_app
from cliproxy_codex import CODEX_CLIENT_ID
from cliproxy_codex.testing import KEY, RESPONSES, FakeChatGPT, codex_block, jwt, sign_in

AUTH = {"authorization": f"Bearer {KEY}"}


async def ask(http: Any) -> Any:
    return await http.post("/v1/responses", headers=AUTH, json={"model": "gpt-5.5", "input": "hi"})


def expire(path: Path, chatgpt: FakeChatGPT) -> None:
    """The token file's access token has expired (and the service no longer takes it)."""
    data = json.loads(path.read_text())
    chatgpt.access.pop(data["access_token"], None)
    data["access_token"] = jwt({"exp": int(time.time()) - 60})
    data["expired"] = "2020-01-01T00:00:00Z"
    write_token_file(path, data)


def config(chatgpt: FakeChatGPT, auth_dir: Path, **extra: Any) -> dict[str, Any]:
    return {"api-keys": [KEY], "auth-dir": str(auth_dir), "codex": codex_block(chatgpt), **extra}


async def test_a_token_file_serves_with_the_accounts_headers(chatgpt, backend, tmp_path):
    path = sign_in(chatgpt, tmp_path)
    app = gateway_app(config(chatgpt, tmp_path), plugins=[cliproxy_codex])
    (credential,) = gateway_of(app).credentials
    async with asgi_client(app) as http:
        answer = await ask(http)
        status = (await http.get("/v0/status")).json()["credentials"][0]
    assert answer.status_code == 200 and not chatgpt.refreshes
    sent = backend.server.requests_to(RESPONSES)[0].headers
    assert sent["authorization"] == f"Bearer {json.loads(path.read_text())['access_token']}"
    assert sent["chatgpt-account-id"] == "acct-plus-0001"
    assert credential.label == "plus@example.com" and credential.id.startswith("codex:")
    assert status["provider"] == "codex" and status["token_expires"] is not None


async def test_cliproxyapis_codex_files_load_too(chatgpt, backend, tmp_path):
    issued = chatgpt.issue("acct-plus-0001")
    legacy = {
        "type": "codex",
        "id_token": issued["id_token"],
        "access_token": issued["access_token"],
        "refresh_token": issued["refresh_token"],
        "account_id": "acct-plus-0001",
        "email": "plus@example.com",
        "last_refresh": "2026-11-25T10:00:00+08:00",
        "expired": "2099-01-01T00:00:00+08:00",
    }
    (tmp_path / "codex-plus@example.com-plus.json").write_text(json.dumps(legacy))
    app = gateway_app(config(chatgpt, tmp_path), plugins=[cliproxy_codex])
    async with asgi_client(app) as http:
        assert (await ask(http)).status_code == 200


async def test_an_expired_token_is_refreshed_and_the_rotated_one_written_back(chatgpt, backend, tmp_path):
    path = sign_in(chatgpt, tmp_path)
    expire(path, chatgpt)
    app = gateway_app(config(chatgpt, tmp_path), plugins=[cliproxy_codex])
    async with asgi_client(app) as http:
        answer = await ask(http)
    assert answer.status_code == 200
    assert chatgpt.refreshes == [{"client_id": CODEX_CLIENT_ID, "grant_type": "refresh_token", "refresh_token": "rt-1"}]
    data = json.loads(path.read_text())
    assert data["refresh_token"] == "rt-2" and data["access_token"] in chatgpt.access
    assert data["id_token"] and data["account_id"] == "acct-plus-0001"  # kept: the refresh left the id token out
    assert data["expired"] > "2026" and data["last_refresh"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_a_401_from_the_backend_refreshes_once_and_retries(chatgpt, backend, tmp_path):
    path = sign_in(chatgpt, tmp_path)
    chatgpt.access.pop(json.loads(path.read_text())["access_token"])  # revoked upstream, not yet expired
    app = gateway_app(config(chatgpt, tmp_path), plugins=[cliproxy_codex])
    async with asgi_client(app) as http:
        answers = await asyncio.gather(ask(http), ask(http))
    assert [a.status_code for a in answers] == [200, 200]
    assert len(chatgpt.refreshes) == 1


async def test_a_reused_refresh_token_rests_the_account_until_a_new_sign_in(chatgpt, backend, tmp_path):
    path = sign_in(chatgpt, tmp_path)
    chatgpt.spent.add("rt-1")  # Codex itself refreshed this sign-in first
    chatgpt.refresh_tokens.pop("rt-1")
    expire(path, chatgpt)
    app = gateway_app(config(chatgpt, tmp_path), plugins=[cliproxy_codex])
    gateway = gateway_of(app)
    async with asgi_client(app) as http:
        refused = await ask(http)
        for _ in range(3):
            await gateway.tokens.refresh_due()  # the background loop's rounds
        status = (await http.get("/v0/status")).json()["credentials"][0]
        assert refused.status_code in (401, 429)
        assert "sign in again" in refused.json()["error"]["message"]
        assert len(chatgpt.refreshes) == 1  # never offered again
        assert status["state"] == "unhealthy"
        assert (
            "already spent" in status["unhealthy"]["reason"] and "cliproxy login codex" in status["unhealthy"]["reason"]
        )

        sign_in(chatgpt, tmp_path)  # `cliproxy login codex` again: a new file for the same account
        await reload_app(app)
        await gateway.tokens.refresh_due()
        answer = await ask(http)
    assert answer.status_code == 200 and len(chatgpt.refreshes) == 1


async def test_two_instances_sharing_redis_spend_one_refresh(chatgpt, backend, tmp_path, redis_url, redis_prefix):
    chatgpt.refresh_delay = 0.2  # both instances ask while the first refresh is under way
    apps = []
    first = sign_in(chatgpt, tmp_path / "a")
    expire(first, chatgpt)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / first.name).write_text(first.read_text())  # each instance has its own copy
    for name in ("a", "b"):
        store = RedisStore(redis_url, key_prefix=redis_prefix)
        apps.append(gateway_app(config(chatgpt, tmp_path / name), plugins=[cliproxy_codex], state=store))
    async with asgi_client(apps[0]) as a, asgi_client(apps[1]) as b:
        answers = await asyncio.gather(ask(a), ask(b), ask(a), ask(b))
    assert [r.status_code for r in answers] == [200] * 4
    assert [r["refresh_token"] for r in chatgpt.refreshes] == ["rt-1"]
    for name in ("a", "b"):
        assert json.loads((tmp_path / name / first.name).read_text())["refresh_token"] == "rt-2"


async def test_a_token_file_without_an_access_token_is_skipped(chatgpt, tmp_path, caplog):
    (tmp_path / "codex-broken.json").write_text(json.dumps({"type": "codex", "refresh_token": "rt"}))
    app = gateway_app(config(chatgpt, tmp_path), plugins=[cliproxy_codex])
    assert not gateway_of(app).credentials
    assert any("no access_token" in r.getMessage() for r in caplog.records)
