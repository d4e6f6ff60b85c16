"""A Roo token's life: shown in status, warned about a day before it expires, never sent
once expired ("sign in again"), and -- for the Roo CLI's own file -- followed when the CLI
signs in again."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from cliproxy import gateway_of
from cliproxy.testing import asgi_client

CHAT = "/proxy/v1/chat/completions"
AUTH = {"authorization": "Bearer client-key"}
BODY = {"model": "roo/xai/grok-code-fast-1", "messages": [{"role": "user", "content": "hi"}]}


async def status_of(client, until: str = "quota") -> dict:
    for _ in range(200):
        entry = (await client.get("/v0/status")).json()["credentials"][0]
        if until in entry:
            return entry
        await asyncio.sleep(0.02)
    raise AssertionError(f"no {until} in {entry}")


def entry(roo, token: str) -> dict:
    return {"token": token, "base-url": roo.url + "/proxy", "prefix": "roo"}


async def test_a_valid_token_shows_its_expiry(roo, roo_app):
    async with asgi_client(roo_app()) as client:
        status = await status_of(client)
    assert status["state"] == "ok" and status["token_expires"].endswith("Z")
    assert status["quota"]["note"] == f"the Roo Code Cloud token is valid until {status['token_expires']}"


async def test_status_warns_a_day_before_the_token_expires(roo, roo_app, make_jwt):
    token = make_jwt(expires_in=5 * 3600 + 120)
    roo.tokens.add(token)
    async with asgi_client(roo_app([entry(roo, token)])) as client:
        status = await status_of(client)
        answer = await client.post("/v1/chat/completions", json=BODY, headers=AUTH)
    note = status["quota"]["note"]
    assert (
        f"expires at {status['token_expires']} (in 5 h)" in note and "sign in again with `cliproxy login roo`" in note
    )
    assert status["state"] == "ok" and answer.status_code == 200  # still good until then


async def test_an_expired_token_is_unhealthy_and_never_sent(roo, roo_app, make_jwt):
    token = make_jwt(expires_in=-60)
    roo.tokens.add(token)  # even if the proxy still took it
    async with asgi_client(roo_app([entry(roo, token)])) as client:
        status = await status_of(client)
        answer = await client.post("/v1/chat/completions", json=BODY, headers=AUTH)
        status = await status_of(client)
    assert status["state"] == "unhealthy"
    assert (
        "expired at" in status["unhealthy"]["reason"]
        and "sign in again with `cliproxy login roo`" in status["unhealthy"]["reason"]
    )
    assert "sign in again" in status["quota"]["note"]
    assert answer.status_code in (401, 429) and not roo.server.requests_to(CHAT)


async def test_the_roo_clis_file_is_followed_when_the_cli_signs_in_again(roo, roo_app, make_jwt, tmp_path):
    expired, fresh = make_jwt(expires_in=-60), make_jwt(expires_in=86400 * 7)
    roo.tokens.add(fresh)
    cli_file = tmp_path / ".roo" / "cli-credentials.json"
    cli_file.parent.mkdir()
    cli_file.write_text(json.dumps({"token": expired, "createdAt": "2026-01-01T00:00:00Z", "userId": "user_2abc"}))
    app = roo_app([{"token-file": str(cli_file), "base-url": roo.url + "/proxy", "prefix": "roo"}])
    async with asgi_client(app) as client:
        status = await status_of(client)
        assert status["state"] == "unhealthy" and "roo auth login" in status["unhealthy"]["reason"]
        assert str(cli_file) in status["unhealthy"]["reason"]

        cli_file.write_text(json.dumps({"token": fresh, "createdAt": "2026-02-01T00:00:00Z"}))  # `roo auth login`
        await gateway_of(app).read_quotas()
        status = await status_of(client)
        assert status["state"] == "ok" and "valid until" in status["quota"]["note"]
        answer = await client.post("/v1/chat/completions", json=BODY, headers=AUTH)
    assert answer.status_code == 200
    assert roo.server.requests_to(CHAT)[0].headers["authorization"] == f"Bearer {fresh}"  # the token, not the file
    assert json.loads(cli_file.read_text())["token"] == fresh  # the CLI's file is never written


def test_a_token_file_without_a_token_is_a_config_error(roo_app, tmp_path: Path):
    import pytest
    from cliproxy import ConfigError

    broken = tmp_path / "cli-credentials.json"
    broken.write_text(json.dumps({"createdAt": "2026-01-01T00:00:00Z"}))
    with pytest.raises(ConfigError, match=r"holds no Roo Code Cloud token.*roo auth login"):
        roo_app([{"token-file": str(broken)}])
