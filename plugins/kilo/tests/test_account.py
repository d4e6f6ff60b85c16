"""The Kilo balance as the credential's quota in ``/v0/status``; no balance rests the
credential with "top up your Kilo balance", and a top-up ends the rest."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from cliproxy import gateway_of
from cliproxy.testing import asgi_client

CHAT = "/api/gateway/chat/completions"
BODY = {"model": "kilo/anthropic/claude-sonnet-4.5", "messages": [{"role": "user", "content": "hi"}]}
AUTH = {"authorization": "Bearer client-key"}


async def status_of(client: httpx.AsyncClient, *, until: str = "quota") -> dict[str, Any]:
    for _ in range(200):
        entry = (await client.get("/v0/status")).json()["credentials"][0]
        if until in entry:
            return entry
        await asyncio.sleep(0.02)
    raise AssertionError(f"no {until} in {entry}")


async def test_the_balance_shows_in_status(kilo, kilo_app):
    entry = {"api-key": kilo.token, "base-url": kilo.url, "prefix": "kilo", "organization-id": "org-acme"}
    async with asgi_client(kilo_app([entry])) as client:
        status = await status_of(client)
    assert status["state"] == "ok"
    assert status["quota"]["windows"] == [{"name": "balance", "remaining": 12.5, "unit": "USD"}]
    assert status["quota"]["plan"] == "organization org-acme"
    balance = kilo.server.requests_to("/api/profile/balance")[0]
    assert balance.headers["x-kilocode-organizationid"] == "org-acme"


async def test_no_balance_rests_the_credential_until_a_top_up(kilo, kilo_app):
    kilo.balance = 0
    app = kilo_app()
    async with asgi_client(app) as client:
        status = await status_of(client)
        for _ in range(100):
            if status["state"] == "unhealthy":
                break
            await asyncio.sleep(0.02)
            status = await status_of(client)
        assert status["state"] == "unhealthy" and status["unhealthy"]["status"] == 402
        assert "top up your Kilo balance" in status["unhealthy"]["reason"]
        refused = await client.post("/v1/chat/completions", json=BODY, headers=AUTH)
        assert refused.status_code == 429 and not kilo.server.requests_to(CHAT)  # resting: Kilo is not asked

        kilo.balance = 3.25
        await gateway_of(app).read_quotas()
        status = await status_of(client)
        assert status["state"] == "ok" and status["quota"]["windows"][0]["remaining"] == 3.25
        answered = await client.post("/v1/chat/completions", json=BODY, headers=AUTH)
    assert answered.status_code == 200


async def test_kilo_refusing_for_want_of_balance_is_a_402_that_says_top_up(kilo, kilo_app):
    app = kilo_app()
    async with asgi_client(app) as client:
        await status_of(client)  # the quota was read with a positive balance
        kilo.balance = 0  # spent meanwhile: Kilo's balance check refuses the request
        refused = await client.post("/v1/chat/completions", json=BODY, headers=AUTH)
        status = await status_of(client)
    assert refused.status_code == 402
    assert "top up your Kilo balance" in refused.json()["error"]["message"]
    assert status["state"] == "unhealthy" and "top up your Kilo balance" in status["unhealthy"]["reason"]
