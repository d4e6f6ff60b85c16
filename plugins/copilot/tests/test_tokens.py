"""The Copilot token exchange: done ahead of the Copilot token's expiry and after a 401,
once however many requests (and gateway instances on one Redis) want it at the same
moment; a GitHub token GitHub refuses makes the credential unhealthy, saying why and
what to do, without asking GitHub again every 30 seconds."""

from __future__ import annotations

import asyncio
import time

from cliproxy.app import gateway_of
from cliproxy.testing import FakeClock, asgi_client
from cliproxy_copilot.testing import API, GITHUB_TOKEN, GPT, FakeCopilot

AUTH = {"authorization": "Bearer client-key"}
CHAT = {"model": GPT, "messages": [{"role": "user", "content": "hi"}]}


def used_tokens(copilot: FakeCopilot) -> list[str]:
    return [r.headers["authorization"] for r in copilot.requests_to(API + "/chat/completions")]


async def test_the_copilot_token_is_exchanged_once_and_again_ahead_of_its_expiry(copilot, copilot_app):
    app = copilot_app()
    clock = FakeClock(start=time.time()).install(app)
    async with asgi_client(app) as client:
        first = await client.post("/v1/chat/completions", json=CHAT, headers=AUTH)
        second = await client.post("/v1/chat/completions", json=CHAT, headers=AUTH)
        assert copilot.exchanges == 1
        clock.advance(copilot.token_ttl - 200)  # within the five minutes before it expires
        third = await client.post("/v1/chat/completions", json=CHAT, headers=AUTH)
    assert [r.status_code for r in (first, second, third)] == [200, 200, 200]
    assert copilot.exchanges == 2
    tokens = used_tokens(copilot)
    assert tokens[0] == tokens[1] != tokens[2]
    assert all(
        r.headers["authorization"] == f"token {GITHUB_TOKEN}" for r in copilot.requests_to("/copilot_internal/v2/token")
    )


async def test_a_copilot_token_refused_with_401_is_exchanged_once_for_concurrent_requests(copilot, copilot_app):
    app = copilot_app()
    async with asgi_client(app) as client:
        assert (await client.post("/v1/chat/completions", json=CHAT, headers=AUTH)).status_code == 200
        copilot.copilot_tokens.clear()  # Copilot no longer takes the token it issued
        answers = await asyncio.gather(
            *(client.post("/v1/chat/completions", json=CHAT, headers=AUTH) for _ in range(4))
        )
    assert [a.status_code for a in answers] == [200] * 4
    assert copilot.exchanges == 2
    assert len(set(used_tokens(copilot)[-4:])) == 1


async def test_concurrent_first_requests_spend_one_exchange(copilot, copilot_app):
    copilot.exchange_delay = 0.3
    async with asgi_client(copilot_app()) as client:
        answers = await asyncio.gather(
            *(client.post("/v1/chat/completions", json=CHAT, headers=AUTH) for _ in range(6))
        )
    assert [a.status_code for a in answers] == [200] * 6
    assert copilot.exchanges == 1


async def test_two_gateways_on_one_redis_spend_one_exchange(copilot, copilot_app, redis_url, redis_prefix):
    copilot.exchange_delay = 0.5
    state = {"backend": "redis", "url": redis_url, "key-prefix": redis_prefix, "timeout": 5}
    first, second = copilot_app(state=state), copilot_app(state=state)
    async with asgi_client(first) as one, asgi_client(second) as two:
        answers = await asyncio.gather(
            *(client.post("/v1/chat/completions", json=CHAT, headers=AUTH) for client in (one, two) for _ in range(3))
        )
    assert [a.status_code for a in answers] == [200] * 6
    assert copilot.exchanges == 1
    assert len(set(used_tokens(copilot))) == 1, "the second gateway took the first one's Copilot token"


async def status_of(client) -> dict:
    (credential,) = (await client.get("/v0/status")).json()["credentials"]
    return credential


async def test_an_account_without_copilot_is_unhealthy_saying_so(copilot, copilot_app):
    copilot.unentitled.add(GITHUB_TOKEN)
    app = copilot_app()
    async with asgi_client(app) as client:
        answer = await client.post("/v1/chat/completions", json=CHAT, headers=AUTH)
        credential = await status_of(client)
        exchanges = copilot.exchanges
        await gateway_of(app).tokens.refresh_due()  # the background loop's turn
        await gateway_of(app).tokens.refresh_due()
    assert answer.status_code in (401, 429) and "no Copilot subscription" in answer.text
    assert credential["state"] == "unhealthy"
    reason = credential["unhealthy"]["reason"]
    assert "this GitHub account has no Copilot subscription" in reason and "github.com/features/copilot" in reason
    assert GITHUB_TOKEN not in answer.text + reason
    assert copilot.exchanges == exchanges, "GitHub is not asked again while the refusal stands"
    assert not copilot.api_requests()


async def test_a_revoked_github_token_is_unhealthy_with_how_to_sign_in_again(copilot, copilot_app):
    copilot.github_tokens.clear()
    async with asgi_client(copilot_app()) as client:
        answer = await client.post("/v1/chat/completions", json=CHAT, headers=AUTH)
        credential = await status_of(client)
    assert answer.status_code in (401, 429)
    reason = credential["unhealthy"]["reason"]
    assert "revoked or has expired" in reason and "cliproxy login copilot" in reason and "Bad credentials" in reason
    assert credential["state"] == "unhealthy" and GITHUB_TOKEN not in reason
